"""The evaluation runs with one BLAS thread (issue 18): on a shared machine a second OpenBLAS
thread spin-waited for a busy core (a propensity fit at 1M people took 8-12 s instead of 2).
The covariate-adjusted effects keep the machine's threads (their fits' last digits depend on the
thread count, and the Spark parity test compares them)."""

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


def test_the_adjusted_effects_keep_the_machines_blas_threads(monkeypatch):
    seen: list[set[int]] = []

    def adjusted_effects(*_args, **_kwargs):
        seen.append(_blas_threads())
        return {}

    monkeypatch.setattr("jdl.inference.adjusted_effects", adjusted_effects)
    machine = _blas_threads()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        ev._adjusted(None, [], ev.Settings(), blas_threads=max(machine))
    assert seen == [machine]
