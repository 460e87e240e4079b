"""Errors raised by the disclosure stage."""

from __future__ import annotations

from jdl.core.errors import JDLError


class DisclosureError(JDLError):
    """Results cannot be released as they are (individual-level rows, undeclared fields, a
    released value breaking a rule, a cohort too close to an earlier one).

    ``problems`` lists every problem found, so one run shows them all.
    """

    def __init__(self, message: str, *, problems: list[str] | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.problems = list(problems or [])

    def __str__(self) -> str:
        lines = [self.message, *(f"  - {p}" for p in self.problems)]
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)
