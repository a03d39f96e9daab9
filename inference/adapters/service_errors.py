"""The answers the service gives to requests it cannot serve, as exceptions: a status, a one-line
message and the failure reason the metrics count. No dependencies, so the command line can
import what uses them before it knows the serve extra is installed.
"""

from __future__ import annotations


class ServiceError(Exception):
    """A request the service answers with `status` and a one-line `message` (never a traceback).

    `reason` is the failure reason the metrics count it under (Triton's: REJECTED for load
    shedding, BACKEND for the model, OTHER for the request itself)."""

    def __init__(self, status: int, message: str, reason: str = "OTHER"):
        super().__init__(status, message, reason)  # picklable: it may come back from a JSON worker process
        self.status, self.message, self.reason = status, message, reason

    def __str__(self) -> str:
        return self.message


class Overloaded(ServiceError):
    def __init__(self, message: str):
        super().__init__(503, message, "REJECTED")

    def __reduce__(self) -> tuple[type[Overloaded], tuple[str]]:
        return (Overloaded, (self.message,))
