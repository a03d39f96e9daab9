"""uvicorn's httptools protocol with two guards uvicorn lacks: a deadline for the request line and
headers, and a connection cap that still lets health checks through.

uvicorn's `timeout_keep_alive` only runs between requests and is cancelled by the first byte of
the next one, and `h11_max_incomplete_event_size` bounds the headers' size, not their time: a
client sending one header byte a second held its socket for ever, and ~1,000 such clients took
every file descriptor. Here every request's headers must be complete within `header_timeout`
seconds of its first byte (or of the connection, for a client that sends nothing); past it the
client gets 408 and the connection is closed.

It also writes each response's status line and headers together with the first piece of its
body: uvicorn writes them apart, two sends per response, and on loopback each send wakes the
client, which on a busy machine took the core away from the server mid-response (~1.6 ms per
send measured under load at batch 256, two per request).

`limit_concurrency`, uvicorn's cap, answers 503 to every request past it, health checks included.
Here a connection past `max_connections` is marked in its ASGI scope (OVER_CAPACITY): the app
answers it 503 unless it asks for a health path, and past HEALTH_RESERVE more it is closed at once.
"""

from __future__ import annotations

import asyncio
from typing import cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from inference.adapters.serve_settings import HEALTH_RESERVE, ServeSettings

OVER_CAPACITY = "fashion_serve.over_capacity"  # ASGI scope key, set on connections past the cap
TIMEOUT_408 = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
)
FULL_503 = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
)


def guarded_protocol(settings: ServeSettings) -> type[asyncio.Protocol]:
    """The protocol class for uvicorn.Config(http=...), bound to these settings."""
    deadline = settings.header_timeout
    cap = settings.max_connections

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None
        _over = False

        # asyncio types the argument BaseTransport; a TCP server always passes a Transport, and
        # uvicorn's own override narrows it the same way (and ignores the same error).
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            count = len(self.connections)
            if count > cap + HEALTH_RESERVE:
                _refuse(transport, FULL_503, f"the server holds {count - 1} connections (at most {cap}); retry later")
                return
            self._over = count > cap
            self._arm()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._over:
                self.scope[OVER_CAPACITY] = True  # type: ignore[literal-required]
            self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()
            if self.cycle is not None:
                # A stand-in, not a subclass: every other Transport method is forwarded by __getattr__.
                self.cycle.transport = cast(asyncio.Transport, _Coalescing(self.transport))

        def on_response_complete(self) -> None:
            transport = getattr(self.cycle, "transport", None)
            if isinstance(transport, _Coalescing):
                transport.flush()  # a response without body bytes (HEAD, 204) still goes out
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(deadline, self._headers_late)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_late(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                _refuse(
                    self.transport,
                    TIMEOUT_408,
                    f"the request line and headers were not complete after {deadline:g} s; send them at once",
                )

    return GuardedHttpToolsProtocol


class _Coalescing:
    """The connection's transport as a response cycle sees it: a status line + headers write is
    held back and goes out with the next write, in one writev. 100 Continue is not held."""

    __slots__ = ("_transport", "_held")

    def __init__(self, transport: asyncio.Transport):
        self._transport = transport
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._held is None:
            if data.startswith(b"HTTP/1.1 ") and not data.startswith(b"HTTP/1.1 100"):
                self._held = data
            else:
                self._transport.write(data)
            return
        held, self._held = self._held, None
        self._transport.writelines([held, data])

    def flush(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> object:
        return getattr(self._transport, name)


def _refuse(transport: asyncio.Transport, template: bytes, message: str) -> None:
    body = b'{"error": "%s", "detail": "%s"}' % (message.encode(), message.encode())
    transport.write(template % (len(body), body))
    transport.close()
