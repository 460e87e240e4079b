"""Fixtures for the report tests (builders live in ``_factory``)."""

from __future__ import annotations

import pytest

from ._factory import make_released, raw_example


@pytest.fixture(scope="session")
def raw() -> dict:
    """The example evaluation, built from typed results (not a hand-edited JSON)."""
    return raw_example()


SUPPRESSED = ["counts.rejected", "exclusions.Rejected at validation",
              "profile.ethnicity.Other", "profile.ethnicity.Unknown",
              "profile.nationality.Irish", "profile.sex.Female",
              "measures.custodial_reoffending_rate.treatment",
              "sensitivity.specifications.2.comparison_n"]


@pytest.fixture(scope="session")
def released(raw: dict) -> dict:
    """The example with a few small counts suppressed, as the disclosure stage would."""
    return make_released(raw, SUPPRESSED)


@pytest.fixture(scope="session")
def html(released: dict) -> str:
    from jdl.report import render_html

    return render_html(released)
