"""The project's own exceptions.

Every error a user can cause is a :class:`JDLError`: it carries a plain-English message and,
where useful, a hint on how to fix it. The CLI and the service print these without a traceback;
anything else escaping is a bug.
"""

from __future__ import annotations


class JDLError(Exception):
    """Base class for errors that are reported to users as a message, not a traceback."""

    exit_code: int = 1

    def __init__(
        self, message: str, *, hint: str | None = None, problems: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.problems = list(problems or [])  # every problem found, so one run shows them all

    def __str__(self) -> str:
        lines = [self.message, *(f"  - {p}" for p in self.problems)]
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)


class UsageError(JDLError):
    """A command was called with arguments that cannot work (missing file, bad option...)."""

    exit_code = 2


class ContractError(JDLError):
    """Administrative data does not follow the data contract (docs/data-contract.md)."""


class SubmissionRefused(JDLError):
    """A submission cannot be processed at all (wrong file type, missing columns, too small)."""


class EngineError(JDLError):
    """The analytics engine failed to run a query; carries the SQL for diagnosis."""

    def __init__(self, message: str, *, sql: str | None = None):
        super().__init__(message)
        self.sql = sql
