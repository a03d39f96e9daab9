"""Pieces of one batch scored side by side: the calling thread and `threads - 1` helper threads.

The Predictor's threads live here. onnxruntime does not split this model's Gemm (N = 10 outputs)
over its own intra-op threads, so the Predictor splits the batch instead: `InferenceSession.run`
releases the GIL. Each thread of a run scores with a session of its own: on two pinned cores,
1024 images took 0.24 ms that way against 0.28 ms with both threads on one session (and 0.38 ms
on one thread), 10,000 images 2.05 ms against 2.30 ms (benchmarks/split_strategies.py).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

__all__ = ["PieceThreads"]


class PieceThreads:
    """`threads - 1` helper threads and a session for each thread, started by the first `run`
    that needs them and kept for the next ones.

    first_session: the caller's session; open_session() makes another one like it.
    """

    def __init__(self, threads: int, first_session: Any, open_session: Callable[[], Any]):
        self.threads = threads
        self._sessions = [first_session]
        self._open_session = open_session
        self._pool: ThreadPoolExecutor | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def run(self, pieces: int, score_piece: Callable[[int, Any], None]) -> None:
        """Call `score_piece(i, session)` once for every i in range(pieces), on up to `threads`
        threads, each of which passes its own session.

        Pieces are handed out one at a time rather than as fixed shares, so a core that another
        process is busy on does less of the work instead of holding the others up. Returns when
        every thread has stopped, so nothing writes into the caller's arrays afterwards; the
        first error raised in any piece is raised here, and stops the handing out.
        """
        claimed = 0
        claim_lock = threading.Lock()
        failed = threading.Event()

        def work(session: Any) -> None:
            nonlocal claimed
            while not failed.is_set():
                with claim_lock:
                    piece, claimed = claimed, claimed + 1
                if piece >= pieces:
                    return
                try:
                    score_piece(piece, session)
                except BaseException:
                    failed.set()
                    raise

        count = min(self.threads, pieces) - 1
        helpers: list[Future[None]] = []
        sessions = self._sessions
        if count > 0:
            pool, sessions = self._helpers(count + 1)
            helpers = [pool.submit(work, session) for session in sessions[1 : count + 1]]
        try:
            work(sessions[0])  # the caller takes pieces too: it would only wait otherwise
        finally:
            # A helper still queued (the pool busy with another caller's batch) has taken nothing
            # and is dropped; a running one is waited for, even after our own error.
            errors = [f.exception() for f in helpers if not f.cancel()]
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first

    def _helpers(self, sessions: int) -> tuple[ThreadPoolExecutor, list[Any]]:
        with self._lock:
            # A forked child inherits the pool but none of its threads: it needs its own.
            if self._pool is None or self._pid != os.getpid():
                self._pool = ThreadPoolExecutor(self.threads - 1, thread_name_prefix="predictor")
                self._pid = os.getpid()
                # Idle helpers end with their owner; concurrent.futures also joins them at exit.
                weakref.finalize(self, self._pool.shutdown, wait=False)
            while len(self._sessions) < sessions:
                self._sessions.append(self._open_session())
            return self._pool, self._sessions

    def close(self) -> None:
        """Stop the helper threads now (a later `run` starts new ones)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
