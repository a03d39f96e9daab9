"""The status bar: the model's accuracy (against the dataset's and the corrected labels), the
review's progress ("reviewed 37 of 512 flagged") or how to get a label-issue report, which
corrections store is in use and when it was last saved, and the scoring progress."""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QLabel, QProgressBar, QSizePolicy, QStatusBar

from gui.palette import MISTAKE, coloured
from gui.tile_model import TileModel


def short_path(path: Path) -> str:
    """`path` with the home folder as ~, so the status bar has room for the rest."""
    text, home = str(path), str(Path.home())
    return "~" + text[len(home):] if text.startswith(home + "/") else text


class StatusLine(QStatusBar):
    def __init__(self, tiles: TileModel, parent=None):
        super().__init__(parent)
        self.tiles = tiles
        self.last_saved = ""
        self.accuracy_label = QLabel("loading…")
        self.review_label = QLabel()
        # Ignored: a long "no report" reason is clipped (whole in the tooltip) instead of widening the window.
        self.review_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.corrections_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setFixedWidth(220)
        self.progress.hide()
        self.addWidget(self.accuracy_label)
        self.addWidget(self.review_label, 1)
        self.addPermanentWidget(self.corrections_label)
        self.addPermanentWidget(self.progress)
        tiles.labels_changed.connect(self._on_labels_changed)
        tiles.saved.connect(self._on_saved)

    def start_progress(self) -> None:
        self.progress.setValue(0)
        self.progress.show()

    @Slot(int, str)
    def show_progress(self, percent: int, text: str) -> None:
        self.progress.setValue(percent)
        self.showMessage(text)

    def end_progress(self, message: str = "") -> None:
        self.progress.hide()
        if message:
            self.showMessage(message)
        else:
            self.clearMessage()

    @Slot()
    def _on_labels_changed(self) -> None:
        tiles = self.tiles
        if not tiles.rowCount():
            return
        counts = tiles.verdict_counts()
        self.accuracy_label.setText(
            f"Model accuracy on the {tiles.split_name} split: {tiles.accuracy():.2%}   ·   "
            f"against corrected labels: {tiles.accuracy(against_corrections=True):.2%} "
            f"({counts['relabel']:,} relabelled, {counts['confirmed']:,} confirmed, {counts['exclude']:,} excluded)")
        self.review_label.setText(self.review_text())
        self.review_label.setToolTip(tiles.scored.review_note)
        self._show_corrections_state()

    def review_text(self) -> str:
        """"reviewed 37 of 512 flagged", or why there is no report and how to make one."""
        tiles = self.tiles
        if tiles.review is None:
            return f"   ·   {coloured('no review', MISTAKE)}: {html.escape(tiles.scored.review_note)}"
        reviewed, flagged = tiles.review_progress()
        return f"   ·   reviewed {reviewed:,} of {flagged:,} flagged"

    @Slot(int)
    def _on_saved(self, count: int) -> None:
        self.last_saved = datetime.now().strftime("%H:%M:%S")
        self._show_corrections_state()

    def _show_corrections_state(self) -> None:
        if self.tiles.corrections_path is None:
            return
        path = short_path(self.tiles.corrections_path)
        if self.tiles.store is None:
            self.corrections_label.setText(f"{coloured('corrections refused (read-only)', MISTAKE)}: {path}")
            self.corrections_label.setToolTip(self.tiles.refusal or "")
        else:
            saved = f" — saved {self.last_saved}" if self.last_saved else ""
            self.corrections_label.setText(f"corrections: {path}{saved}")
