"""Scoring off the GUI thread: one job at a time, each on its own QThread.

The window asks `BackgroundScoring.start(request)`; `finished` or `failed` follows, on the GUI
thread. Every error a user can cause (a wrong path, a corrupt file, a full disk) arrives as one
line for a dialog, never as a traceback.
"""

from __future__ import annotations

import traceback

from PySide6.QtCore import QObject, QThread, Signal, Slot

from gui.scoring import ScoredSplit, Scorer, ScoringRequest, score_split
from inference.core.errors import InferenceError


def describe(error: Exception) -> str:
    """One line for an error from the operating system or from running out of room."""
    if isinstance(error, OSError) and error.strerror:
        where = f"{error.filename}: " if error.filename is not None else ""
        return f"cannot load: {where}{error.strerror}"
    if isinstance(error, MemoryError):
        return "cannot load: not enough memory to hold the split and its scores"
    return f"cannot load: {error}"


class ScoringWorker(QObject):
    """Runs the scorer (`score_split`) once; lives on the job's QThread."""

    progress = Signal(int, str)  # percent, what is happening
    finished = Signal(object)  # ScoredSplit
    failed = Signal(str)  # one clear line

    def __init__(self, request: ScoringRequest, score: Scorer = score_split):
        super().__init__()
        self.request = request
        self.score = score

    @Slot()
    def run(self) -> None:
        try:
            result = self.score(self.request, self.progress.emit)
        except InferenceError as e:
            self.failed.emit(str(e))
        except (OSError, OverflowError, MemoryError) as e:
            self.failed.emit(describe(e))
        except Exception as e:  # a bug, not the user's doing: keep its traceback, but never hang the window
            traceback.print_exc()
            self.failed.emit(f"unexpected error while scoring: {e!r}")
        else:
            self.finished.emit(result)


class BackgroundScoring(QObject):
    """Starts scoring jobs, refuses a second one while one runs, and cleans up each thread."""

    progress = Signal(int, str)  # percent, what is happening
    finished = Signal(object, object)  # ScoredSplit, the ScoringRequest it answers
    failed = Signal(str)  # one clear line

    def __init__(self, parent=None, score: Scorer = score_split):
        super().__init__(parent)
        self.score = score
        self._thread: QThread | None = None
        self._worker: ScoringWorker | None = None
        self._request: ScoringRequest | None = None
        self._busy = False

    @property
    def busy(self) -> bool:
        return self._busy

    def start(self, request: ScoringRequest) -> bool:
        """Score `request` in the background; False (nothing started) while a job runs."""
        if self._busy:
            return False
        self.stop()
        thread = QThread(self)
        worker = ScoringWorker(request, self.score)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.progress.connect(self.progress)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.finished.connect(thread.quit)
        worker.failed.connect(thread.quit)
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._worker, self._request, self._busy = thread, worker, request, True
        thread.start()
        return True

    def stop(self) -> None:
        """Wait for the job's thread to end and free it; scoring cannot be interrupted, it ends within seconds."""
        if self._thread is None:
            return
        self._thread.quit()
        self._thread.wait()
        self._worker.deleteLater()
        self._thread.deleteLater()
        self._thread = self._worker = None

    @Slot(object)
    def _on_finished(self, scored: ScoredSplit) -> None:
        self._busy = False
        self.finished.emit(scored, self._request)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._busy = False
        self.failed.emit(message)

    @Slot()
    def _on_thread_finished(self) -> None:
        if not self._busy:
            self.stop()
