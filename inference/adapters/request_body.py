"""Read one request body for both APIs: within the size limit, the read timeout and the memory
budget, the budget reserved before the first byte is buffered.

413 for a declared Content-Length over the limit before reading a byte, and for streamed bytes
past it (chunked requests declare none, and a client may lie); 408 for a body still incomplete
after `read_timeout` seconds, so a client trickling bytes holds its connection no longer; 503 when
the body does not fit the budget. uvicorn itself holds at most 64 KiB of a body before it stops
reading the socket, so the bytes in memory are the ones counted here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import anyio
from starlette.types import Receive, Scope, Send

from inference.adapters.admission import Admission
from inference.adapters.serve_settings import ServeSettings
from inference.core.errors import ClientLeft, ServiceError


def declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            if not value.isdigit():
                raise ServiceError(400, f"Content-Length is not a number: {value[:40]!r}")
            return int(value)
    return None


async def read_body(
    scope: Scope, receive: Receive, settings: ServeSettings, admission: Admission, reserved: list[int]
) -> bytes | bytearray:
    """The whole body. Bytes reserved against the budget are added to `reserved[0]`; the caller
    releases them (Admission.leave) once the answer is sent."""
    limit = settings.max_body_bytes
    declared = declared_length(scope)
    if declared is not None and declared > limit:
        raise ServiceError(413, f"body of {declared} bytes exceeds the limit of {limit}; send fewer images per request")
    if declared:
        await admission.reserve(declared, wait=True)
        reserved[0] += declared
    first = await receive()  # usually the whole body: it came in with the headers
    if first["type"] == "http.disconnect":
        raise ClientLeft()
    if not first.get("more_body", False) and len(first.get("body", b"")) == (declared or 0) <= limit:
        return first.get("body", b"")
    body = bytearray()
    pending = [first]
    with anyio.move_on_after(settings.read_timeout) as clock:
        while True:
            message = pending.pop() if pending else await receive()
            if message["type"] == "http.disconnect":
                raise ClientLeft()
            chunk = message.get("body", b"")
            if len(body) + len(chunk) > limit:
                raise ServiceError(413, f"body exceeds the limit of {limit} bytes; send fewer images per request")
            grown = len(body) + len(chunk) - reserved[0]
            if grown > 0:  # chunked, or more than declared: counted as it comes, no waiting
                await admission.reserve(grown, wait=False)
                reserved[0] += grown
            body += chunk
            if not message.get("more_body", False):
                break
    if clock.cancelled_caught:
        raise ServiceError(
            408,
            f"the body was not complete after {settings.read_timeout:g} s "
            f"({len(body)} bytes arrived); send the whole body without pauses",
        )
    return body


async def send_json(
    send: Send,
    status: int,
    document: dict | list,
    headers: Sequence[tuple[bytes, bytes]] = (),
    close: bool = False,
) -> None:
    body = json.dumps(document).encode()
    await send_bytes(send, status, body, [(b"content-type", b"application/json"), *headers], close)


async def send_bytes(
    send: Send, status: int, body: bytes, headers: Sequence[tuple[bytes, bytes]], close: bool = False
) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    if close:  # an unread body would otherwise be parsed as the next request
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def problem_headers(error: ServiceError, settings: ServeSettings) -> list[tuple[bytes, bytes]]:
    return [(b"retry-after", str(settings.retry_after).encode())] if error.status == 503 else []
