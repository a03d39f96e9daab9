"""The status bar: the model's accuracy (against the dataset's and the corrected labels), the
review's progress ("475 of 512 flagged left to review") or how to get a label-issue report, how many
tiles are selected, which corrections store is in use and when this split was last saved in it,
and a busy bar while scoring (a percentage would sit at 0 while the file is read, then jump).

Each fact has a long and a short wording (gui.fitting_label): a 1280-wide window shows every
number whole, a narrower one the shorter words, and each tooltip the whole sentence.
"""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path

import numpy as np
from PySide6.QtCore import Slot
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar

from gui.fitting_label import FittingLabel
from gui.palette import MISTAKE, coloured
from gui.tile_model import TileModel
from inference.core.calibration import reliability_bins


def short_path(path: Path) -> str:
    """`path` with the home folder as ~, so the status bar has room for the rest."""
    text, home = str(path), str(Path.home())
    return "~" + text[len(home) :] if text.startswith(home + "/") else text


class StatusLine(QStatusBar):
    def __init__(self, tiles: TileModel, parent=None):
        super().__init__(parent)
        self.tiles = tiles
        self.last_saved: dict[str, str] = {}  # split -> time of its last save in this session
        self._ece_of: tuple | None = None  # (probabilities, labels, ECE) last computed
        self.accuracy_label = FittingLabel()
        self.accuracy_label.set_texts("loading…")
        self.selection_label = QLabel()
        self.review_label = FittingLabel()
        self.corrections_label = FittingLabel()
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy: reading and scoring take seconds, in steps too uneven for a percentage
        self.progress.setFixedWidth(160)
        self.progress.hide()
        self.addWidget(self.accuracy_label, 3)
        self.addWidget(self.review_label, 2)
        self.addPermanentWidget(self.selection_label)
        # No stretch: a stretching permanent widget takes the room of the hidden left-hand ones
        # while a message shows, and the message ("exported 3 tiles to …") was drawn in no space.
        self.addPermanentWidget(self.corrections_label)
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
        accuracy, corrected = f"{tiles.accuracy():.2%}", f"{tiles.accuracy(against_corrections=True):.2%}"
        verdicts = (
            f"{counts['relabel']:,} relabelled, {counts['confirmed']:,} confirmed, {counts['exclude']:,} excluded"
        )
        ece = f"ECE {self._ece():.1%}"
        self.accuracy_label.set_texts(
            f"Model accuracy on the {tiles.split_name} split: {accuracy} · against corrected labels: {corrected} "
            f"({verdicts}) · {ece} (View ▸ Reliability diagram)",
            f"Accuracy {accuracy} · corrected {corrected} ({verdicts}) · {ece}",
            f"Accuracy {accuracy} · corrected {corrected} · {ece}",
            f"Acc. {accuracy} · corr. {corrected} · {ece}",
        )
        self.review_label.set_texts(self.review_text(), self.review_text(short=True), tooltip=tiles.scored.review_note)
        self._show_corrections_state()

    def _ece(self) -> float:
        """The ECE against the labels in force, recomputed only when they changed: ~3 ms on the
        train split, and a confirm, an exclude or a tag changes no label."""
        labels = self.tiles.labels
        if (
            self._ece_of is None
            or self._ece_of[0] is not self.tiles.probabilities
            or not np.array_equal(self._ece_of[1], labels)
        ):
            self._ece_of = (
                self.tiles.probabilities,
                labels.copy(),
                reliability_bins(self.tiles.probabilities, labels).ece,
            )
        return self._ece_of[2]

    def review_text(self, short: bool = False) -> str:
        """ "475 of 512 flagged left to review", or why there is no report and how to make one (short: that there is none)."""
        tiles = self.tiles
        if tiles.review is None:
            if short:
                return f"· {coloured('no label-issue report', MISTAKE)} (tooltip: how to make one)"
            return f"· {coloured('no review', MISTAKE)}: {html.escape(tiles.scored.review_note)}"
        reviewed, flagged = tiles.review_progress()
        left = flagged - reviewed
        return f"· {left:,}/{flagged:,} flagged left" if short else f"· {left:,} of {flagged:,} flagged left to review"

    @Slot(int)
    def _on_saved(self, count: int) -> None:
        self.last_saved[self.tiles.split_name] = datetime.now().strftime("%H:%M:%S")
        self._show_corrections_state()

    def _show_corrections_state(self) -> None:
        if self.tiles.corrections_path is None:
            return
        path, name = short_path(self.tiles.corrections_path), html.escape(self.tiles.corrections_path.name)
        if self.tiles.store is None:
            refused = coloured("corrections refused (read-only)", MISTAKE)
            self.corrections_label.set_texts(
                f"{refused}: {html.escape(path)}",
                f"{refused}: {name}",
                coloured("read-only", MISTAKE),
                tooltip=self.tiles.refusal or "",
            )
            return
        when = self.last_saved.get(self.tiles.split_name)
        split = self.tiles.split_name
        self.corrections_label.set_texts(
            f"corrections: {html.escape(path)}" + (f" — {split} split saved {when}" if when else ""),
            f"store: {name}" + (f", {split} split saved {when}" if when else ""),
            f"store: {name}" + (f", saved {when}" if when else ""),
            f"store: {name}",
            tooltip=f"corrections store: {self.tiles.corrections_path}",
        )
