"""Large JSON bodies are parsed in worker processes, small ones where they are.

json.loads is one C call that holds the GIL from start to end: an 8 MiB body takes ~0.2 s, and
four of them side by side on worker threads kept the event loop (and /health) from running for
seconds. In another process it holds that process's GIL instead; this one only copies the bytes
over a pipe and gets back the uint8 pixels (N x 784 bytes). A small body parses in well under a
millisecond, less than the round trip to a worker costs, so it stays in this process.

Call `parse` from a worker thread (it blocks until the answer is back), never on the event loop.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
# Bodies from this size go to a worker process: ~200 images as JSON pixels, which parse in ~10 ms.
OFFLOAD_FROM = 256 * 1024


class JsonOffload:
    def __init__(self, workers: int):
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def parse(self, parse: Callable[[bytes | bytearray], T], body: bytes | bytearray) -> T:
        """`parse(body)` here or in a worker process (`parse` must be a module-level function,
        and what it returns or raises must pickle)."""
        if self.workers == 0 or len(body) < OFFLOAD_FROM:
            return parse(body)
        return self._started().submit(parse, bytes(body)).result()

    def _started(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # spawn, not fork: this process runs threads (uvicorn's loop, onnxruntime's), and a
                # forked copy of a process with threads can deadlock on a lock held at the fork.
                self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
            return self._pool

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
