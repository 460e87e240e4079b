"""A per-client request limit (fixed one-minute windows, in memory, per process).

Enough to stop one client from flooding the service from a single process; a deployment behind
several processes or a proxy should limit at the proxy as well (and pass the real client address).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


class RequestLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.time) -> None:
        self.per_minute, self.clock = per_minute, clock
        self._counts: dict[str, int] = {}
        self._window = 0
        self._lock = threading.Lock()

    def allow(self, client: str) -> tuple[bool, int]:
        """(allowed, seconds until the window resets)."""
        now = self.clock()
        window = int(now // 60)
        with self._lock:
            if window != self._window:
                self._window, self._counts = window, {}
            self._counts[client] = self._counts.get(client, 0) + 1
            return self._counts[client] <= self.per_minute, 60 - int(now % 60)


def rate_limit_middleware(limiter: RequestLimiter):
    """HTTP middleware answering 429 (with Retry-After) once a client passes its limit."""

    async def middleware(request: Request, call_next) -> Response:
        client = request.client.host if request.client else "unknown"
        allowed, retry = limiter.allow(client)
        if not allowed:
            return JSONResponse(status_code=429, headers={"Retry-After": str(retry)},
                                content={"detail": "Too many requests; try again shortly."})
        return await call_next(request)

    return middleware
