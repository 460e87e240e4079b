"""Request body limits enforced before any work is done (a pure ASGI middleware).

A body is refused with 413 at once when its ``Content-Length`` is over the route's limit
(nothing of it is read), and otherwise counted as it streams in, the request being cut off
with 413 at the first chunk past the limit (chunked bodies, lying lengths). Limits by route:

- uploads (``POST /api/submissions``, ``POST /upload``): the intake's file limit plus room for
  the form's other fields (the file part itself is limited again by the upload parser);
- JSON bodies (the API's actions): ``max_json_bytes``;
- everything else (sign-in and other forms): ``max_form_bytes``.

Whenever an answer goes out before the request's body has been read to the end (a 413 here, or
a 401/403/429 the app gave without reading it), it carries ``Connection: close`` so the server
drops the connection instead of reading and discarding the rest of a huge body.

A body that stops arriving is cut off too (slowloris): a form or JSON body must arrive whole
within ``body_seconds``, and an upload may pause at most ``upload_idle_seconds`` between
chunks; past that the answer is 408 with ``Connection: close``. (uvicorn itself has no timeout
for a body in progress; a connection that never finishes its headers is the proxy's to drop.)

It is pure ASGI rather than Starlette's ``BaseHTTPMiddleware`` so that it sees the body's
chunks as they arrive and adds nothing to memory.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Refused = Callable[[Scope, int, str], Awaitable[None]]

UPLOAD_ROUTES = frozenset({("POST", "/api/submissions"), ("POST", "/upload")})


class _TooLarge(Exception):
    """Raised into the app from ``receive`` when the body passes its limit."""


class _TooSlow(Exception):
    """Raised into the app from ``receive`` when the body stops arriving."""


#: seconds a form or JSON body (at most ``max_json_bytes``) has to arrive in full
BODY_SECONDS = 10.0
#: seconds an upload may pause between two chunks (a slow link still gets through)
UPLOAD_IDLE_SECONDS = 30.0


class BodyLimits:
    """The middleware; the limits are in bytes."""

    def __init__(self, app: ASGIApp, *, upload_bytes: int, form_bytes: int,
                 json_bytes: int, body_seconds: float = BODY_SECONDS,
                 upload_idle_seconds: float = UPLOAD_IDLE_SECONDS,
                 refused: Refused | None = None) -> None:
        self.app, self.refused = app, refused
        self.upload_bytes, self.form_bytes, self.json_bytes = upload_bytes, form_bytes, json_bytes
        self.body_seconds, self.upload_idle_seconds = body_seconds, upload_idle_seconds

    def limit_for(self, method: str, path: str, content_type: str) -> int:
        if (method, path.rstrip("/") or "/") in UPLOAD_ROUTES:
            return self.upload_bytes
        if content_type.split(";")[0].strip().lower() == "application/json":
            return self.json_bytes
        return self.form_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = self.limit_for(scope["method"], scope["path"], headers.get("content-type", ""))
        declared = headers.get("content-length")
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if declared is not None and not declared.strip().isdigit():
            await self._refuse(scope, send, 400, "The Content-Length header is not a number.",
                               "Content-Length not a number")
            return
        if declared is not None and int(declared) > limit:
            await self._refuse(scope, send, 413, _too_large(limit),
                               f"declared body over the {_size(limit)} limit")
            return
        state = {"received": 0, "done": not chunked and int(declared or 0) == 0,
                 "exceeded": False, "started": False, "slow": False}
        upload = limit == self.upload_bytes
        deadline = time.monotonic() + self.body_seconds

        async def limited_receive() -> Message:
            if state["done"]:  # after the body: waiting for a disconnect is not limited
                return await receive()
            wait = (self.upload_idle_seconds if upload
                    else max(0.0, deadline - time.monotonic()))
            try:
                message = await asyncio.wait_for(receive(), wait)
            except TimeoutError:
                state["slow"] = True
                raise _TooSlow from None
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if not message.get("more_body", False):
                    state["done"] = True
                if state["received"] > limit:
                    state["exceeded"] = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            if state["exceeded"] or state["slow"]:
                return  # the app's answer to a body it could not finish: ours goes instead
            if message["type"] == "http.response.start":
                state["started"] = True
                if not state["done"]:
                    message = {**message, "headers": [*message.get("headers", []),
                                                      (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except (_TooLarge, _TooSlow):
            pass
        except Exception:
            if not (state["exceeded"] or state["slow"]):
                raise
        if state["exceeded"] and not state["started"]:
            await self._refuse(scope, send, 413, _too_large(limit),
                               f"body cut off past the {_size(limit)} limit")
        elif state["slow"] and not state["started"]:
            await self._refuse(scope, send, 408, "The request's body stopped arriving; send "
                                                 "it again.", "body stopped arriving")

    async def _refuse(self, scope: Scope, send: Send, status: int, detail: str,
                      reason: str) -> None:
        """Audit the refusal (its reason, never the body), then answer: the audit row exists
        once the client has its answer."""
        if self.refused is not None:
            await self.refused(scope, status, reason)
        await _answer(scope, send, status, detail)


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"


def _too_large(limit: int) -> str:
    return f"The request is larger than the limit of {_size(limit)} for this address."


async def _answer(scope: Scope, send: Send, status: int, detail: str,
                  headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """A short answer that closes the connection (the unread body is not wanted)."""
    accept = Headers(scope=scope).get("accept", "")
    if "text/html" in accept and not scope["path"].startswith("/api/"):
        from jdl.service._web_errors import refusal_html  # the portal's styled error page

        body = refusal_html(status, detail)
        content_type = b"text/html; charset=utf-8"
    else:
        body, content_type = json.dumps({"detail": detail}).encode(), b"application/json"
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})
