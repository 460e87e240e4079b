"""How ``jdl serve`` runs uvicorn: connection limits that hold without a reverse proxy.

uvicorn (0.54, h11) bounds an idle keep-alive connection (``timeout_keep_alive``) but not a
connection that is opened and sends nothing, nor one that sends a request's head a byte at a
time and never finishes it (slowloris): each is held for ever. :class:`HeaderTimeoutProtocol`
closes a connection whose request head is not complete within ``header_timeout_seconds`` of the
connection opening (or of the previous answer, on a kept-alive connection), whether or not bytes
trickle in meanwhile, so a slow client costs a connection for seconds, not for ever. The body
has its own timeouts (``_body_limits.py``); a body sent in pieces far smaller than a real
client's (1-byte chunks, chunks carrying kilobytes of extensions) is dropped once its pieces or
its framing cost more than the body is worth (``FREE_BODY_PIECES``...). ``max_connections``
caps the connections served at once (uvicorn's ``limit_concurrency``: past it, a request is
answered 503 at once instead of being queued), so a flood of connections is bounded in memory.

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


_BUSY_BODY = b"Too many connections from one address.\n"
_BUSY_ANSWER = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
                b"content-length: %d\r\nretry-after: 10\r\nconnection: close\r\n\r\n%s"
                % (len(_BUSY_BODY), _BUSY_BODY))
_FRAGMENTED_BODY = b"The request body was sent in pieces too small to read.\n"
_FRAGMENTED_ANSWER = (b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n"
                      b"content-length: %d\r\nconnection: close\r\n\r\n%s"
                      % (len(_FRAGMENTED_BODY), _FRAGMENTED_BODY))
#: A body's pieces (h11 ``Data`` events: chunks of a chunked body, or reads of a sized one) and
#: the bytes on the wire may exceed what the body needs by this much before the connection is
#: dropped: every piece costs the event loop a parse, a copy and a wake-up of the app, so a body
#: in 1-byte chunks (or chunks carrying kilobytes of extensions) costs ~80 times what the same
#: body costs in ordinary chunks (second independent check, session 6: a 65 KB form in 1-byte
#: chunks, 0.82 CPU-s and the whole server stalled). Real clients send pieces of kilobytes.
FREE_BODY_PIECES = 1_000
BYTES_PER_BODY_PIECE = 512
FREE_FRAMING_BYTES = 64 * 1024


class _CountingConnection:
    """An h11 connection that tells its protocol the size of every body piece it parses."""

    def __init__(self, conn: h11.Connection, protocol: HeaderTimeoutProtocol) -> None:
        self._conn, self._protocol = conn, protocol

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def next_event(self) -> Any:
        event = self._conn.next_event()
        if isinstance(event, h11.Data):
            self._protocol.body_pieces += 1
            self._protocol.body_bytes += len(event.data)
            if self._protocol.too_many_body_pieces():
                # stop parsing at once, mid-buffer (uvicorn stops reading on PAUSED); the
                # protocol answers 400 and closes when the parse returns
                self._protocol.fragmented = True
                return h11.PAUSED
        elif isinstance(event, h11.Request):
            self._protocol.reset_body_counts()
        return event


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's head and a bound on what
    parsing a body may cost (see the module)."""

    header_timeout: float = 10.0
    max_per_address: int | None = None
    exempt_addresses: frozenset[str] = frozenset()
    #: open connections per client address, in this process (shared by every connection of
    #: one server: the class is made per server by :func:`protocol_class`)
    open_by_address: dict[str, int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self.conn = _CountingConnection(self.conn, self)  # type: ignore[assignment]
        self.reset_body_counts()

    def reset_body_counts(self) -> None:
        self.body_pieces = self.body_bytes = self.body_wire_bytes = 0
        self.fragmented = False

    def too_many_body_pieces(self) -> bool:
        """Checked as each piece is parsed, so a buffer of thousands of 1-byte chunks stops at
        once."""
        return self.body_pieces > FREE_BODY_PIECES + self.body_bytes // BYTES_PER_BODY_PIECE

    def too_much_framing(self) -> bool:
        """Checked once a read is parsed (its bytes are counted before the parse): chunk
        headers and extensions that outweigh the body."""
        return self.body_wire_bytes > FREE_FRAMING_BYTES + 2 * self.body_bytes

    def _drop_fragmented_body(self) -> None:
        log.info("closed a connection whose request body came in %d pieces (%d bytes, %d on "
                 "the wire)", self.body_pieces, self.body_bytes, self.body_wire_bytes)
        cycle = getattr(self, "cycle", None)
        if cycle is None or not cycle.response_started:
            self.transport.write(_FRAGMENTED_ANSWER)
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        self._address = str(peer[0]) if isinstance(peer, tuple) and peer else None
        if self._address is not None and self._address not in self.exempt_addresses:
            opened = self.open_by_address.get(self._address, 0) + 1
            self.open_by_address[self._address] = opened
            if self.max_per_address is not None and opened > self.max_per_address:
                log.info("refused a connection: its address already holds %d",
                         self.max_per_address)
                transport.write(_BUSY_ANSWER)
                transport.close()
                return
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        if self._head_timer is not None:
            self._head_bytes += len(data)
        if self.conn.their_state is h11.SEND_BODY:
            self.body_wire_bytes += len(data)
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the head is in (or the connection failed)
            self._disarm_head_timer()
        if not self.transport.is_closing() and (self.fragmented or (
                self.conn.their_state is h11.SEND_BODY and self.too_much_framing())):
            self._drop_fragmented_body()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # a kept-alive connection waits for its next request's head: the same deadline
        if (not self.transport.is_closing() and self.conn.their_state is h11.IDLE
                and self._head_timer is None):
            self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        address = getattr(self, "_address", None)
        if address is not None and address in self.open_by_address:
            left = self.open_by_address[address] - 1
            if left > 0:
                self.open_by_address[address] = left
            else:
                del self.open_by_address[address]
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


def protocol_class(header_timeout: float, max_per_address: int | None = None,
                   exempt_addresses: str = "") -> type[HeaderTimeoutProtocol]:
    """The protocol with this deadline and per-address connection cap (uvicorn instantiates
    the class it is given). ``exempt_addresses``: the trusted proxies (comma-separated, as
    ``forwarded_allow_ips``), whose connections carry many clients; "*" exempts everyone."""
    exempt = frozenset(a.strip() for a in exempt_addresses.split(",") if a.strip())
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,),
                {"header_timeout": float(header_timeout),
                 "max_per_address": None if "*" in exempt else max_per_address,
                 "exempt_addresses": exempt, "open_by_address": {}})


def per_address_cap(service: ServiceSettings) -> int:
    """Connections one address may hold: ``max_connections_per_address``, and never more than
    a quarter of ``max_connections``, so one address always leaves most of them to others."""
    return max(1, min(service.max_connections_per_address, service.max_connections // 4))


def uvicorn_options(service: ServiceSettings, host: str | None = None,
                    port: int | None = None) -> dict[str, Any]:
    """``uvicorn.run``'s options for ``jdl serve``: the header deadline, the keep-alive
    timeout, the connection cap and the proxy's client address."""
    return {"host": host or service.host, "port": port or service.port,
            "http": protocol_class(service.header_timeout_seconds,
                                   per_address_cap(service), service.forwarded_allow_ips),
            "timeout_keep_alive": service.keep_alive_seconds,
            "limit_concurrency": service.max_connections,
            "proxy_headers": True, "forwarded_allow_ips": service.forwarded_allow_ips}
