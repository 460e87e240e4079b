"""The audit log: every access to personal data and every denied access decision.

Entries carry who, what, which submission, allowed/denied and a short reason — never names,
dates of birth or file contents. Denied entries are written in their own transaction so that a
request that then fails still leaves its trace.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Request
from sqlalchemy.orm import Session

from jdl.service._models import AuditEntry


def record(db: Session, request: Request | None, action: str, *, outcome: str = "allowed",
           user_id: int | None = None, submission_id: int | None = None,
           detail: str | None = None, commit: bool = True) -> None:
    """Add one audit entry (committed immediately unless ``commit=False``)."""
    client = request.client.host if request is not None and request.client else None
    db.add(AuditEntry(user_id=user_id, action=action, outcome=outcome,
                      submission_id=submission_id, detail=detail, client=client))
    if commit:
        db.commit()


@contextmanager
def refused_upload(db: Session, request: Request | None, user_id: int | None) -> Iterator[None]:
    """Audit an upload refused by an exception (bad type, too large, invalid programme,
    unreadable file...) as denied, then let the exception answer. The reason is its kind and
    status only: a message may quote the file. A role refusal is audited where it is made."""
    from fastapi import HTTPException

    from jdl.core.errors import JDLError

    try:
        yield
    except HTTPException as exc:
        if exc.status_code != 403:
            deny(db, request, "submission.upload", user_id=user_id,
                 detail=f"refused: HTTP {exc.status_code}")
        raise
    except JDLError as exc:
        deny(db, request, "submission.upload", user_id=user_id,
             detail=f"refused: {type(exc).__name__}")
        raise


def deny(db: Session, request: Request | None, action: str, *, user_id: int | None,
         submission_id: int | None = None, detail: str) -> None:
    """Record a denied access; discards anything the request had not committed."""
    db.rollback()
    record(db, request, action, outcome="denied", user_id=user_id,
           submission_id=submission_id, detail=detail)
