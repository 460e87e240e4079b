"""Shared fixtures: synthetic national records, generated once and cached across test runs
and pytest-xdist workers (a file lock stops two workers generating the same data)."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path

import pytest

CACHE = Path(__file__).parent / ".cache"


def synthetic_data(people: int, seed: int, *, linkage: bool = True) -> Path:
    """A generated data directory for (people, seed), made once and reused; with ``linkage``
    prepared as ``jdl synth`` prepares one (the linkage model and its calibrated threshold:
    an evaluation never calibrates)."""
    from jdl.admin.synth import SynthConfig, generate
    from jdl.linkage import prepare_linkage

    CACHE.mkdir(exist_ok=True)
    target = CACHE / f"synth-{people}-{seed}"
    version = SynthConfig(people=people, seed=seed).data_version()
    with open(CACHE / f"synth-{people}-{seed}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        manifest = target / "manifest.json"
        if not (manifest.exists() and json.loads(manifest.read_text())["data_version"] == version):
            generate(target, people=people, seed=seed)
        if linkage:
            prepare_linkage(target)  # nothing to do once prepared
    return target


@pytest.fixture(scope="session")
def synthetic_data_dir() -> Path:
    """A small register (30,000 people) with the default planted programmes."""
    return synthetic_data(30_000, 7)


@pytest.fixture(scope="session")
def calibration_data_dir() -> Path:
    """The 200,000-person register the calibration tests use (as the issue specifies)."""
    return synthetic_data(200_000, 11, linkage=False)  # the generator's tests: no linkage
