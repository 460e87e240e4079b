"""The evaluation runs with one BLAS thread (issue 18): on a shared machine a second OpenBLAS
thread spin-waited for a busy core (a propensity fit at 1M people took 8-12 s instead of 2).
The covariate-adjusted effects run on it too: with the declines for unreliable outcome models
(inference/_adjusted.py) the Spark parity test holds on one thread, and the adjusted fits with
the machine's threads doubled the evaluation's CPU."""

from __future__ import annotations

from threadpoolctl import threadpool_info

import jdl.evaluation._evaluate as ev


def _blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_the_evaluation_runs_with_one_blas_thread_and_restores_the_setting(monkeypatch):
    before = _blas_threads()
    seen: list[set[int]] = []

    def stages(*_args, **_kwargs):
        seen.append(_blas_threads())
        return "done"

    evaluate = ev._on_one_blas_thread(stages)  # what wraps jdl.evaluation.evaluate
    assert evaluate("upload.csv", "programme.yaml", "data", "out") == "done"
    assert seen == [{1}]
    assert _blas_threads() == before
    assert ev.evaluate.__wrapped__.__name__ == "evaluate"  # the evaluation is wrapped so


def test_the_adjusted_effects_run_inside_the_one_thread_evaluation(monkeypatch):
    seen: list[set[int]] = []

    def adjusted_effects(*_args, **_kwargs):
        seen.append(_blas_threads())
        return {}

    from tests.evaluation.test_jdl_measures import _matched

    matched = _matched()  # every reported outcome, re-offender measures among them

    def stages(*_args, **_kwargs):
        return ev._adjusted(matched, ["x"], ev.Settings())

    monkeypatch.setattr("jdl.inference.adjusted_effects", adjusted_effects)
    ev._on_one_blas_thread(stages)("upload.csv", "programme.yaml", "data", "out")
    # one call per population (everyone; the re-offenders), each on one thread
    assert seen == [{1}, {1}]
