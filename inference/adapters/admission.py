"""Who may be served now: a bound on waiting requests, and a memory budget that bodies are counted
against BEFORE they are read. Both answer 503 + Retry-After when full, instead of queueing without
limit or buffering bodies the server has no memory for.

All state lives on the event loop's thread (ASGI handlers only), so no lock is needed.
"""

from __future__ import annotations

import anyio

from inference.adapters.serve_settings import ServeSettings
from inference.core.errors import Overloaded


class Admission:
    """Requests admitted (reading, waiting or being scored) and body bytes reserved."""

    def __init__(self, settings: ServeSettings):
        self.settings = settings
        self.most = settings.decode_slots + settings.max_queue
        self.admitted = 0
        self.reserved = 0
        self._waiters: list[anyio.Event] = []

    def enter(self) -> None:
        if self.admitted >= self.most:
            raise Overloaded(
                f"the server is busy: {self.admitted} requests are being served or waiting "
                f"(at most {self.most}); retry after {self.settings.retry_after} s"
            )
        self.admitted += 1

    def leave(self, reserved: int) -> None:
        self.admitted -= 1
        self.release(reserved)

    async def reserve(self, size: int, wait: bool) -> None:
        """Count `size` body bytes against the budget, waiting up to budget_wait for room."""
        budget = self.settings.body_budget_bytes
        if self.reserved + size <= budget:  # the usual case, without a cancel scope
            self.reserved += size
            return
        if size > budget:
            raise Overloaded(
                f"a body of {size} bytes is larger than the server's body budget "
                f"({budget} bytes); send fewer images per request"
            )
        if self.reserved + size > budget and wait:
            with anyio.move_on_after(self.settings.budget_wait):
                while self.reserved + size > budget:
                    event = anyio.Event()
                    self._waiters.append(event)
                    await event.wait()
        if self.reserved + size > budget:
            raise Overloaded(
                f"the server holds {self.reserved} bytes of request bodies (budget {budget}); "
                f"a body of {size} more does not fit; retry after {self.settings.retry_after} s"
            )
        self.reserved += size

    def release(self, size: int) -> None:
        if size:
            self.reserved -= size
            waiters, self._waiters = self._waiters, []
            for event in waiters:
                event.set()
