"""The outcome spec tests run on both engines too (fixtures in tests/cohort/conftest.py)."""

from tests.cohort.conftest import spec_engine, spec_spark_session  # noqa: F401
