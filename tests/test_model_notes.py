"""Warnings a command's run raises are collected and shown once each, in words, instead of
Python's raw "file:line: RuntimeWarning" lines (jdl.core.notes)."""

from __future__ import annotations

import warnings

from jdl.core.notes import collected_warnings, warning_lines


def test_each_warning_once_with_its_count_most_frequent_first():
    with collected_warnings() as seen:
        for _ in range(3):
            warnings.warn("fitted probabilities numerically 0 or 1 occurred", RuntimeWarning,
                          stacklevel=1)
        warnings.warn("another note", UserWarning, stacklevel=1)
    assert warning_lines(seen) == [
        "Model note (lab-internal): fitted probabilities numerically 0 or 1 occurred (3 times)",
        "Model note (lab-internal): another note",
    ]


def test_nothing_raised_gives_no_lines():
    with collected_warnings() as seen:
        pass
    assert warning_lines(seen) == []


def test_a_runs_warnings_are_shown_as_notes_not_raised(monkeypatch, capsys, tmp_path):
    """``jdl evaluate``/``jdl demo``'s run: a warning raised inside the evaluation (here by a
    stand-in for it) is collected and printed once as a note; none escapes (with warnings as
    errors, an escaped one would fail the run)."""
    import jdl.run
    from jdl import pipeline_cli

    def fake_run(*args, **kwargs):
        for _ in range(2):
            warnings.warn("fitted probabilities numerically 0 or 1 occurred (perfect "
                          "separation?)", RuntimeWarning, stacklevel=1)
        return "done"

    monkeypatch.setattr(jdl.run, "run_evaluation", fake_run)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pipeline_cli.run_evaluation(tmp_path / "up.csv", tmp_path / "p.yaml", tmp_path,
                                           tmp_path / "out", 1) == "done"
    out = capsys.readouterr().out
    assert "Model note (lab-internal): fitted probabilities numerically 0 or 1 occurred" in out
    assert "(2 times)" in out
