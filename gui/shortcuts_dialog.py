"""Help ▸ Keyboard shortcuts: every key the window answers, read from its actions, so the list
cannot drift from what the keys do."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout

# Keys the grid itself answers (QListView's own navigation), not actions of the window.
GRID_KEYS = (
    ("Arrows, PgUp, PgDn, Home, End", "Move in the grid"),
    ("Shift+arrows, Shift+click, Ctrl+click", "Select several tiles"),
)


def shortcut_rows(window) -> list[tuple[str, str]]:
    """(keys, what they do) for each action of `window` that has a shortcut, in menu order, plus the grid's keys."""
    rows, seen = [], set()
    for action in window.findChildren(QAction):
        keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts()]
        keys = [k for k in keys if k]
        if not keys or id(action) in seen:
            continue
        seen.add(id(action))
        rows.append((", ".join(dict.fromkeys(keys)), action.text().replace("&", "")))
    return rows + list(GRID_KEYS)


class ShortcutsDialog(QDialog):
    def __init__(self, window):
        super().__init__(window)
        self.setWindowTitle("Keyboard shortcuts")
        rows = shortcut_rows(window)
        self.table = QTableWidget(len(rows), 2)
        self.table.setHorizontalHeaderLabels(["Keys", "Does"])
        for r, (keys, text) in enumerate(rows):
            self.table.setItem(r, 0, QTableWidgetItem(keys))
            self.table.setItem(r, 1, QTableWidgetItem(text))
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(620, 520)

    def listed_keys(self) -> list[str]:
        return [self.table.item(r, 0).text() for r in range(self.table.rowCount())]
