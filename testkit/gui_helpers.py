"""Shared by the labeler's window tests: open a window on the test split and wait until it is scored."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QRect

from gui.main_window import MainWindow
from gui.scoring import ScoredSplit, ScoringRequest, score_split
from inference.core.errors import InferenceError
from inference.core.fashion_mnist import find_data_dir
from inference.core.model_repository import report_folders, resolve_model_path

# A screen with room for the 1280 x 800 the tests were written for (the offscreen one is 800 x 600).
ROOMY_SCREEN = QRect(0, 0, 1600, 1000)

SCORE_TIMEOUT_MS = 30_000


class RememberedScoring:
    """`score_split`, run once for each request's files as they are on disk. Scoring took ~60 of the
    ~180 ms a window needs to open, and most window tests score the same model and split. A request
    is scored again when any file it reads changes (the model, its report folders, the data
    folder: name, size or mtime) or when it names another split; the corrections store, which the
    window opens itself, is always the request's own. The last `keep` results are kept."""

    def __init__(self, keep: int = 4):
        self.keep = keep
        self.results: OrderedDict[tuple, ScoredSplit] = OrderedDict()

    def __call__(
        self, request: ScoringRequest, progress: Callable[[int, str], None] = lambda p, s: None
    ) -> ScoredSplit:
        key = self.key(request)
        if key is None or key not in self.results:
            result = score_split(request, progress)
            if key is not None:
                self.results[key] = result
                while len(self.results) > self.keep:
                    self.results.popitem(last=False)
        else:
            result = self.results[key]
            progress(100, "scored")
        corrections = Path(request.corrections) if request.corrections else result.corrections_path
        return dataclasses.replace(result, corrections_path=corrections)

    @staticmethod
    def key(request: ScoringRequest) -> tuple | None:
        """What the request reads, as it is now; None where it cannot be told (the scoring then says why)."""
        try:
            model = resolve_model_path(request.model)
            folders = {model.parent, *report_folders(model), find_data_dir(request.data_dir, request.split)}
        except (InferenceError, OSError):
            return None
        files = []
        for folder in sorted(folders):
            for path in sorted(folder.iterdir()) if folder.is_dir() else ():
                if path.is_file():
                    stat = path.stat()
                    files.append((str(path), stat.st_size, stat.st_mtime_ns))
        return (request.model, request.data_dir, request.split, tuple(files))


REMEMBERED = RememberedScoring()


def open_window(
    qtbot, model, fashion_dir, store_path, settings=None, available=ROOMY_SCREEN, score=REMEMBERED
) -> MainWindow:
    """`model`: a .onnx file or a model repository; `settings`: None remembers nothing; `available`:
    the screen area a first launch fits in; `score`: score_split for a window that must score anew."""
    window = MainWindow(
        ScoringRequest(str(model), str(fashion_dir), "test", str(store_path)),
        settings=settings,
        available=available,
        score=score,
    )
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    with qtbot.waitSignal(window.scored, timeout=SCORE_TIMEOUT_MS):
        window.start()
    return window


def screenshot_flags(model: object, data_dir: object, store: object, png: object) -> list[str]:
    """fashion-labeler's flags for a run that opens the window, scores, saves `png` and exits."""
    return ["--model", str(model), "--data-dir", str(data_dir), "--corrections", str(store), "--screenshot", str(png)]
