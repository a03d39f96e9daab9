"""Going to an image by its dataset index (Go ▸ Go to image…, the detail panel's links): make it
current and scroll it into sight; one hidden by the filters is shown after asking, or at once
with `show_all`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel
from PySide6.QtWidgets import QMessageBox

from gui.tile_delegate import TileGridView

if TYPE_CHECKING:
    from gui.main_window import MainWindow


def go_to_image(window: MainWindow, dataset_index: int, show_all: bool = False) -> bool:
    """Make image `dataset_index` current. Hidden by the filters: with `show_all`, show all images
    first; without, ask (a dialog whose Yes does that). False if it is not shown now."""
    n = window.tiles.rowCount()
    if not 0 <= dataset_index < n:
        window.status_line.showMessage(
            f"no image #{dataset_index}: the {window.tiles.split_name} split has images 0 to {n - 1:,}", 6000
        )
        return False
    if window.view_model.row_of(dataset_index) is None:
        if not show_all:
            window.show_message(
                QMessageBox.Icon.Question,
                "Not in this view",
                f"Image #{dataset_index} is hidden by the filters. Show all images and go to it?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            )
            box = window.message_box
            box.buttonClicked.connect(
                lambda button: (
                    box.standardButton(button) == QMessageBox.StandardButton.Yes
                    and go_to_image(window, dataset_index, show_all=True)
                )
            )
            return False
        window.filter_bar.show_all()
    index = window.view_model.index(window.view_model.row_of(dataset_index))
    window.grid.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    window.grid.scrollTo(index, TileGridView.ScrollHint.PositionAtCenter)
    return True
