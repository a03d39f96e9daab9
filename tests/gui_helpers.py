"""Shared by the labeler's window tests: open a window on the test split and wait until it is scored."""

from __future__ import annotations

from gui.main_window import MainWindow
from gui.scoring import ScoringRequest

SCORE_TIMEOUT_MS = 30_000


def open_window(qtbot, model, fashion_dir, store_path, settings=None) -> MainWindow:
    """`model`: a .onnx file or a model repository; `settings`: None remembers nothing."""
    window = MainWindow(ScoringRequest(str(model), str(fashion_dir), "test", str(store_path)), settings=settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    with qtbot.waitSignal(window.scored, timeout=SCORE_TIMEOUT_MS):
        window.start()
    return window
