"""The audit log: every access to personal data and every denied access decision.

Entries carry who, what, which submission, allowed/denied and a short reason — never names,
dates of birth or file contents. Denied entries are written in their own transaction so that a
request that then fails still leaves its trace.
"""

from __future__ import annotations

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


def deny(db: Session, request: Request | None, action: str, *, user_id: int | None,
         submission_id: int | None = None, detail: str) -> None:
    """Record a denied access; discards anything the request had not committed."""
    db.rollback()
    record(db, request, action, outcome="denied", user_id=user_id,
           submission_id=submission_id, detail=detail)
