"""Errors raised by the disclosure stage."""

from __future__ import annotations

from jdl.core.errors import JDLError


class DisclosureError(JDLError):
    """Results cannot be released as they are (individual-level rows, undeclared fields, a
    released value breaking a rule, a cohort too close to an earlier one).

    ``problems`` lists every problem found, so one run shows them all.
    """
