"""The status bar: the model's accuracy (against the dataset's and the corrected labels), the
review's progress ("475 of 512 flagged left to review") or how to get a label-issue report, how many
tiles are selected, which corrections store is in use and when this split was last saved in it,
and a busy bar while scoring (a percentage would sit at 0 while the file is read, then jump)."""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QLabel, QProgressBar, QSizePolicy, QStatusBar

from gui.palette import MISTAKE, coloured
from gui.tile_model import TileModel
from inference.core.calibration import reliability_bins


def short_path(path: Path) -> str:
    """`path` with the home folder as ~, so the status bar has room for the rest."""
    text, home = str(path), str(Path.home())
    return "~" + text[len(home):] if text.startswith(home + "/") else text


class StatusLine(QStatusBar):
    def __init__(self, tiles: TileModel, parent=None):
        super().__init__(parent)
        self.tiles = tiles
        self.last_saved: dict[str, str] = {}  # split -> time of its last save in this session
        self.accuracy_label = QLabel("loading…")
        self.selection_label = QLabel()
        self.review_label = QLabel()
        # Ignored: a long "no report" reason is clipped (whole in the tooltip) instead of widening the window.
        self.review_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.corrections_label = QLabel()
        for label in (self.accuracy_label, self.corrections_label):  # clipped in a narrow window, whole in the tooltip
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy: reading and scoring take seconds, in steps too uneven for a percentage
        self.progress.setFixedWidth(160)
        self.progress.hide()
        self.addWidget(self.accuracy_label, 3)
        self.addWidget(self.review_label, 2)
        self.addPermanentWidget(self.selection_label)
        self.addPermanentWidget(self.corrections_label, 2)
        self.addPermanentWidget(self.progress)
        tiles.labels_changed.connect(self._on_labels_changed)
        tiles.saved.connect(self._on_saved)

    def start_progress(self) -> None:
        self.progress.show()

    @Slot(int, str)
    def show_progress(self, percent: int, text: str) -> None:
        self.showMessage(text)

    def show_selection(self, count: int) -> None:
        self.selection_label.setText(f"{count:,} selected" if count else "")

    def forget_message(self) -> None:
        self.clearMessage()

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
            f"({counts['relabel']:,} relabelled, {counts['confirmed']:,} confirmed, {counts['exclude']:,} excluded)"
            f"   ·   ECE {reliability_bins(tiles.probabilities, tiles.labels).ece:.1%} (View ▸ Reliability diagram)")
        self.accuracy_label.setToolTip(self.accuracy_label.text())
        self.review_label.setText(self.review_text())
        self.review_label.setToolTip(tiles.scored.review_note)
        self._show_corrections_state()

    def review_text(self) -> str:
        """"475 of 512 flagged left to review", or why there is no report and how to make one."""
        tiles = self.tiles
        if tiles.review is None:
            return f"   ·   {coloured('no review', MISTAKE)}: {html.escape(tiles.scored.review_note)}"
        reviewed, flagged = tiles.review_progress()
        return f"   ·   {flagged - reviewed:,} of {flagged:,} flagged left to review"

    @Slot(int)
    def _on_saved(self, count: int) -> None:
        self.last_saved[self.tiles.split_name] = datetime.now().strftime("%H:%M:%S")
        self._show_corrections_state()

    def _show_corrections_state(self) -> None:
        if self.tiles.corrections_path is None:
            return
        path = short_path(self.tiles.corrections_path)
        if self.tiles.store is None:
            self.corrections_label.setText(f"{coloured('corrections refused (read-only)', MISTAKE)}: {path}")
            self.corrections_label.setToolTip(self.tiles.refusal or "")
        else:
            when = self.last_saved.get(self.tiles.split_name)
            saved = f" — {self.tiles.split_name} split saved {when}" if when else ""
            self.corrections_label.setText(f"corrections: {path}{saved}")
        self.corrections_label.setToolTip(self.corrections_label.text() if self.tiles.store else self.tiles.refusal)
