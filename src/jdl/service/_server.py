"""How ``jdl serve`` runs uvicorn: connection limits that hold without a reverse proxy.

uvicorn (0.54, h11) bounds an idle keep-alive connection (``timeout_keep_alive``) but not a
connection that is opened and sends nothing, nor one that sends a request's head a byte at a
time and never finishes it (slowloris): each is held for ever. :class:`HeaderTimeoutProtocol`
closes a connection whose request head is not complete within ``header_timeout_seconds`` of the
connection opening (or of the previous answer, on a kept-alive connection), whether or not bytes
trickle in meanwhile, so a slow client costs a connection for seconds, not for ever. The body
has its own timeouts (``_body_limits.py``). ``max_connections`` caps the connections served at
once (uvicorn's ``limit_concurrency``: past it, a request is answered 503 at once instead of
being queued), so a flood of connections is bounded in memory.

nginx's equivalents are ``client_header_timeout``, ``client_body_timeout`` and
``keepalive_timeout`` (docs/deployment.md).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from jdl.core.config import ServiceSettings

log = logging.getLogger(__name__)

_TIMEOUT_BODY = b"The request's head did not arrive in time.\n"
_TIMEOUT_ANSWER = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                   b"content-length: %d\r\nconnection: close\r\n\r\n%s"
                   % (len(_TIMEOUT_BODY), _TIMEOUT_BODY))


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's head (see the module)."""

    header_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        if self._head_timer is not None:
            self._head_bytes += len(data)
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the head is in (or the connection failed)
            self._disarm_head_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # a kept-alive connection waits for its next request's head: the same deadline
        if (not self.transport.is_closing() and self.conn.their_state is h11.IDLE
                and self._head_timer is None):
            self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_bytes = 0
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self._head_bytes:  # a half-sent head gets an answer; a silent connection none
            log.info("closed a connection whose request head did not arrive in %.0f s",
                     self.header_timeout)
            self.transport.write(_TIMEOUT_ANSWER)
        self.transport.close()


def protocol_class(header_timeout: float) -> type[HeaderTimeoutProtocol]:
    """The protocol with this deadline (uvicorn instantiates the class it is given)."""
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,),
                {"header_timeout": float(header_timeout)})


def uvicorn_options(service: ServiceSettings, host: str | None = None,
                    port: int | None = None) -> dict[str, Any]:
    """``uvicorn.run``'s options for ``jdl serve``: the header deadline, the keep-alive
    timeout, the connection cap and the proxy's client address."""
    return {"host": host or service.host, "port": port or service.port,
            "http": protocol_class(service.header_timeout_seconds),
            "timeout_keep_alive": service.keep_alive_seconds,
            "limit_concurrency": service.max_connections,
            "proxy_headers": True, "forwarded_allow_ips": service.forwarded_allow_ips}
