"""The audit of requests refused before they reach the app: a body over its limit (413), a
``Content-Length`` that is not a number (400), a body that stopped arriving (408), an address
over the request limit (429).

Each refusal is recorded with the client address, the method and path, the status and a short
reason, never anything of the body. So that an attacker cannot flood the audit log, one address
gets one row a minute: its first refusal of the minute is written at once, and the rest of that
minute's refusals from the address are added to that row's detail as a count by status when
the minute is over (at the next refusal after it, or when the server stops). At most
``max_rows_per_minute`` addresses get their own row a minute in each process; the refusals of
any further addresses that minute are counted in one row without an address.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import Scope

from jdl.service._models import AuditEntry

ACTION = "request.refused"


@dataclass
class _Entry:
    client: str | None
    first: str  # "HTTP 413 POST /login: body cut off past the 64 KB limit"
    statuses: Counter[int] = field(default_factory=Counter)
    row_id: int | None = None


class RefusalAudit:
    """Writes the refusal rows (see the module); ``note`` is the middlewares' callback."""

    def __init__(self, sessions: sessionmaker[Session], max_rows_per_minute: int = 100,
                 clock: Callable[[], float] = time.time) -> None:
        self.sessions, self.max_rows, self.clock = sessions, max_rows_per_minute, clock
        self._minute: int | None = None
        self._entries: dict[str | None, _Entry] = {}
        self._lock = threading.Lock()

    async def note(self, scope: Scope, status: int, reason: str) -> None:
        """Count one refusal; writes (in a worker thread) only a minute's first per address
        and the closing counts of the minute before."""
        from anyio import to_thread

        client = scope["client"][0] if scope.get("client") else "unknown"
        route = f"{scope.get('method', '?')} {_printable(scope.get('path', ''))}"
        text = f"HTTP {status} {route}: {reason}"
        first, finished = self._count(client, status, text)
        if finished:
            await to_thread.run_sync(self._close, finished)
        if first is not None:
            await to_thread.run_sync(self._write, first)

    def _count(self, client: str, status: int, text: str,
               ) -> tuple[_Entry | None, list[_Entry]]:
        minute = int(self.clock() // 60)
        finished: list[_Entry] = []
        with self._lock:
            if minute != self._minute:
                finished, self._entries, self._minute = list(self._entries.values()), {}, minute
            key: str | None = client
            if client not in self._entries and len(self._entries) >= self.max_rows:
                key = None  # the further addresses of a busy minute share one row
            entry = self._entries.get(key)
            new = entry is None
            if entry is None:
                entry = self._entries[key] = _Entry(
                    key, text if key is not None else
                    f"refusals from addresses past the first {self.max_rows} this minute; "
                    f"first: {text}")
            entry.statuses[status] += 1
        return (entry if new else None), finished

    def _write(self, entry: _Entry) -> None:
        with self.sessions() as db:
            row = AuditEntry(action=ACTION, outcome="denied", detail=entry.first,
                             client=entry.client)
            db.add(row)
            db.commit()
            entry.row_id = row.id

    def _close(self, entries: list[_Entry]) -> None:
        """The minute's counts, on the rows of the addresses refused more than once."""
        repeated = [e for e in entries if sum(e.statuses.values()) > 1]
        if not repeated:
            return
        with self.sessions() as db:
            for entry in repeated:
                detail = f"{entry.first}; {_counts(entry.statuses)} in that minute"
                if entry.row_id is not None:
                    db.execute(update(AuditEntry).where(AuditEntry.id == entry.row_id)
                               .values(detail=detail))
                else:
                    db.add(AuditEntry(action=ACTION, outcome="denied", detail=detail,
                                      client=entry.client))
            db.commit()

    def flush(self) -> None:
        """Write the current minute's counts now (the server is stopping; tests)."""
        with self._lock:
            entries, self._entries, self._minute = list(self._entries.values()), {}, None
        self._close(entries)


def _counts(statuses: Counter[int]) -> str:
    total = sum(statuses.values())
    parts = ", ".join(f"HTTP {status} x{n}" for status, n in sorted(statuses.items()))
    return f"{total} refusals ({parts})"


def _printable(path: str, limit: int = 80) -> str:
    """The path as the audit log shows it: printable characters only, cut short."""
    text = "".join(c if c.isprintable() else "?" for c in path[:limit])
    return text + ("..." if len(path) > limit else "")
