"""Errors raised by the inference stage."""

from __future__ import annotations

from jdl.core.errors import JDLError


class InferenceError(JDLError):
    """Effects cannot be estimated from the data given (missing column, empty group...)."""
