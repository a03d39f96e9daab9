"""The banner above the grid when the view asks for a label-issue report the model shown has not:
why there is none, that every image is shown instead, and the exact command that makes one for
this repository (with the store's verdicts, when it holds some), selectable to copy.

It follows the filter model and the tiles itself, so the window only places it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QLabel

from gui.tile_filter import TileFilterModel
from inference.core.model_repository import DEFAULT_REPOSITORY, repository_of
from inference.core.next_steps import report_command

BANNER_STYLE = "background: #e3f2fd; color: #0d47a1; padding: 4px; border: 1px solid #1565c0"


def make_report_command(model_path: Path, corrections: Path | None, has_verdicts: bool) -> str:
    """The run that gives the model's repository a new version with its own report."""
    repository = repository_of(model_path) or DEFAULT_REPOSITORY
    return report_command(repository, corrections if has_verdicts else None)


class ReportBanner(QLabel):
    """Shown while the Show filter is Label issues or the sort is Label quality and there is no report."""

    def __init__(self, view_model: TileFilterModel, parent=None):
        super().__init__(parent)
        self.view_model = view_model
        self.command = ""
        self.setWordWrap(True)
        self.setStyleSheet(BANNER_STYLE)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hide()
        view_model.view_changed.connect(self.refresh)
        view_model.sourceModel().labels_changed.connect(self.refresh)  # verdicts decide --corrections

    @Slot()
    def refresh(self) -> None:
        tiles, view = self.view_model.sourceModel(), self.view_model
        wanted = view.show_mode == "issues" or view.sort_key == "quality"
        if tiles.scored is None or tiles.review is not None or not wanted:
            self.hide()
            return
        has_verdicts = bool(np.any(tiles.verdict != 0))
        self.command = make_report_command(tiles.scored.model_path, tiles.corrections_path, has_verdicts)
        # The reason is the status line's (and the tooltip's); the banner says what to run.
        self.setText(
            f"No label-issue report for this model, so all {tiles.rowCount():,} images are shown. "
            f"Make a new version with its own report, then open it here:\n{self.command}"
        )
        self.setToolTip(tiles.scored.review_note)
        self.show()
