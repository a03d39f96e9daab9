"""The right-click menu on a tile: the verdicts (accept the suggestion, relabel as …, confirm,
exclude, clear), tags (add, remove one the selection has), copy the dataset index, open the image
in the detail panel. It acts on the selection, which the click
first moves to the tile under the mouse unless that tile is already selected."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMenu

from gui.tile_roles import DATASET_INDEX_ROLE, SUGGESTED_LABEL_ROLE


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
    suggested = index.data(SUGGESTED_LABEL_ROLE)
    accept = menu.addAction(
        "&Accept suggestion (Enter)"
        if suggested is None or count > 1
        else f"&Accept suggestion: {names[suggested]} (Enter)",
        window.accept_suggestion,
    )
    accept.setEnabled(window.tiles.review is not None)
    relabel = menu.addMenu(f"&Relabel {'this image' if count == 1 else f'{count:,} images'} as")
    for k, name in enumerate(names):
        relabel.addAction(f"&{k} {name}", lambda k=k: window.give_verdict("relabel", k))
    menu.addAction("&Confirm the given label", lambda: window.give_verdict("confirmed"))
    menu.addAction("E&xclude", lambda: window.give_verdict("exclude"))
    menu.addAction("C&lear the verdict", lambda: window.give_verdict(None))
    menu.addSeparator()
    menu.addAction("&Tag… (T)", window.tagging.ask)
    have = window.tagging.tags_of_selection()
    if have:
        remove = menu.addMenu("Re&move tag")
        for tag, n in have.items():
            remove.addAction(f"{tag} ({n:,})", lambda t=tag: window.tagging.remove_tag(t))
    for action in menu.actions():
        action.setEnabled(window.tiles.writable and action.isEnabled())
    menu.addSeparator()
    dataset_index = index.data(DATASET_INDEX_ROLE)
    menu.addAction(f"C&opy index {dataset_index}", lambda: QGuiApplication.clipboard().setText(str(dataset_index)))
    menu.addAction("Open in &detail panel", lambda: window.open_in_detail(index))
    return menu
