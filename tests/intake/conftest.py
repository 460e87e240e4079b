"""Fixtures for the intake tests (builders live in ``_factory``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from jdl.core.config import IntakeSettings

from ._factory import people, write_csv


@pytest.fixture
def settings() -> IntakeSettings:
    return IntakeSettings()


@pytest.fixture
def good_rows() -> list[dict[str, str]]:
    return people(80)


@pytest.fixture
def csv_file(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(10_000))

    def make(rows, header=None, **kwargs) -> Path:
        return write_csv(tmp_path / f"sub{next(counter)}.csv", rows, header, **kwargs)

    return make
