"""The evaluation runs with one BLAS thread (issue 18): the propensity and outcome fits sum long
columns that OpenBLAS splits between its threads, so with one per core their last bits depended
on the machine; and on a shared machine a second thread spin-waited for a busy core (a fit at
1M people took 8-12 s instead of 2)."""

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

    monkeypatch.setattr(ev, "_evaluate", stages)
    assert ev.evaluate("upload.csv", "programme.yaml", "data", "out") == "done"
    assert seen == [{1}]
    assert _blas_threads() == before
