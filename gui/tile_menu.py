"""The right-click menu on a tile: the verdicts (relabel as …, confirm, exclude, clear), copy the
dataset index, open the image in the detail panel. It acts on the selection, which the click
first moves to the tile under the mouse unless that tile is already selected."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMenu

from gui.tile_model import DATASET_INDEX_ROLE


def tile_menu(window, index: QModelIndex) -> QMenu | None:
    """The menu for the grid tile at `index` (None off the tiles); the caller shows it."""
    if not index.isValid():
        return None
    grid = window.grid
    if not grid.selectionModel().isSelected(index):
        grid.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    names = window.tiles.class_names
    count = len(window.selected_rows())
    menu = QMenu(grid)
    relabel = menu.addMenu(f"&Relabel {'this image' if count == 1 else f'{count:,} images'} as")
    for k, name in enumerate(names):
        relabel.addAction(f"&{k} {name}", lambda k=k: window.give_verdict("relabel", k))
    menu.addAction("&Confirm the given label", lambda: window.give_verdict("confirmed"))
    menu.addAction("E&xclude", lambda: window.give_verdict("exclude"))
    menu.addAction("C&lear the verdict", lambda: window.give_verdict(None))
    for action in menu.actions():
        action.setEnabled(window.tiles.writable)
    menu.addSeparator()
    dataset_index = index.data(DATASET_INDEX_ROLE)
    menu.addAction(f"C&opy index {dataset_index}", lambda: QGuiApplication.clipboard().setText(str(dataset_index)))
    menu.addAction("Open in &detail panel", lambda: window.open_in_detail(index))
    return menu
