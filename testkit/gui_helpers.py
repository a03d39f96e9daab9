"""Shared by the labeler's window tests: open a window on the test split and wait until it is scored."""

from __future__ import annotations

from PySide6.QtCore import QRect

from gui.main_window import MainWindow
from gui.scoring import ScoringRequest

# A screen with room for the 1280 x 800 the tests were written for (the offscreen one is 800 x 600).
ROOMY_SCREEN = QRect(0, 0, 1600, 1000)

SCORE_TIMEOUT_MS = 30_000


def open_window(qtbot, model, fashion_dir, store_path, settings=None, available=ROOMY_SCREEN) -> MainWindow:
    """`model`: a .onnx file or a model repository; `settings`: None remembers nothing; `available`:
    the screen area a first launch fits in."""
    window = MainWindow(
        ScoringRequest(str(model), str(fashion_dir), "test", str(store_path)), settings=settings, available=available
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
