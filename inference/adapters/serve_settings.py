"""The service's settings, one typed owner: `fashion-serve`'s flags map onto these fields, and
`create_app` takes them, so neither imports its defaults from the other.

Each default says why it is what it is. Measured figures are from a 2-core machine.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_HOST = "127.0.0.1"  # no authentication: reaching it from elsewhere must be a choice
DEFAULT_PORT = 8000  # Triton's HTTP port too, so a client written for one needs no change


@dataclass(frozen=True)
class ServeSettings:
    # 8 MiB: ~10,700 images as raw bytes, ~2,000 as JSON pixels.
    max_body_bytes: int = 8 * 1024 * 1024
    # 8 MiB at 10 Mbit/s takes ~7 s, so a real client fits; a client trickling its body holds
    # its connection no longer than this.
    read_timeout: float = 10.0
    # Request line and headers are a few hundred bytes that every client sends at once; a client
    # trickling them held a socket without limit, and ~1,000 of those took the last file
    # descriptor so /health stopped answering.
    header_timeout: float = 5.0
    # Requests parsed, decoded and scored at once on worker threads. Pillow and onnxruntime
    # release the GIL, so a few use a few cores; more would only hold more bodies in memory
    # while they wait for the same cores.
    decode_slots: int = 4
    # Requests admitted beyond those being scored. Past it a request gets 503 + Retry-After at
    # once, instead of an unbounded queue whose tail waits seconds for an answer it no longer wants.
    max_queue: int = 64
    # Request bodies held in memory at once, counted before they are read. 16-48 concurrent 8 MiB
    # JSON bodies took the unbounded server to 1.0-1.6 GB; 64 MiB is eight full-size bodies.
    body_budget_bytes: int = 64 * 1024 * 1024
    # How long a body that does not fit the budget waits for others to finish before its 503.
    budget_wait: float = 1.0
    # Open connections. Beyond it a connection gets 503 (a health check is still answered, up to
    # HEALTH_RESERVE more), well below the usual 1024 file limit that the server itself needs.
    max_connections: int = 512
    # Processes that parse large JSON bodies. json.loads holds the GIL for its whole run (~0.2 s
    # for 8 MiB), which stalled the event loop and /health with it; in another process it cannot.
    json_workers: int = 1
    # SIGTERM: stop accepting, let in-flight requests finish for up to this long, then stop.
    graceful_timeout: float = 30.0
    # Seconds a 503 tells the client to wait (Retry-After).
    retry_after: int = 1


# Connections past max_connections that may still ask for /health, /v2/health/*: a probe must
# get its answer while the service is saturated, or an orchestrator restarts a healthy server.
HEALTH_RESERVE = 32
HEALTH_PATHS = frozenset({"/health", "/v2/health/live", "/v2/health/ready"})
