"""Security headers on every answer (a pure ASGI middleware: it never touches the body).

* ``Content-Security-Policy``: scripts only from the service's own files (no inline script:
  the one page script is ``static/progress.js``), no plugins, no ``<base>``, forms post only to
  the service, and ``frame-ancestors 'none'`` (no framing: clickjacking). Styles may be inline:
  the pages' style blocks and the catalogue's SVG charts use them; CSS cannot run code and the
  pages escape everything they show.
* ``X-Frame-Options: DENY`` for browsers without CSP 3, ``X-Content-Type-Options: nosniff``,
  ``Referrer-Policy: same-origin`` (no page address, which holds a submission number, leaves
  the site), ``Permissions-Policy`` switching off what the service never uses.
* ``Strict-Transport-Security`` when the request came over TLS (directly, or through a
  trusted proxy's ``X-Forwarded-Proto``; see ``forwarded_allow_ips``).
* ``Cache-Control: no-store`` on everything private — every page and API answer except the
  public catalogue and the static files — so no shared or browser cache keeps a page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
                   Awaitable[None]]

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
ALWAYS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
PUBLIC_PREFIXES = ("/catalogue", "/static/")


def is_public(path: str) -> bool:
    """Pages anyone may see and cache: the public catalogue and the static files."""
    return path.startswith(PUBLIC_PREFIXES) or path == "/healthz"


class SecurityHeaders:
    """Adds the headers above to every HTTP answer (an app-set header wins)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(ALWAYS)
        if scope.get("scheme") == "https":
            extra.append(HSTS)
        if not is_public(scope.get("path", "")):
            extra.append((b"cache-control", b"no-store"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in extra if k not in present]
                if b"cache-control" in present and not is_public(scope.get("path", "")):
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
