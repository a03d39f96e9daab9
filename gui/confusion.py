"""The 10 x 10 confusion matrix: rows the true label (in force), columns the prediction.

Cells are shaded by count (blue on the diagonal, red off it); clicking a cell is how the window
filters the grid to that (true, predicted) pair.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from gui.palette import DARK_TEXT, DIAGONAL, EMPTY_CELL, LIGHT_TEXT, MISTAKE, SELECTED_CELL


class ConfusionModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.class_names: list[str] = []
        self.counts = np.zeros((0, 0), np.int64)

    def set_counts(self, counts: np.ndarray, class_names) -> None:
        if counts.shape != self.counts.shape or list(class_names) != self.class_names:
            self.beginResetModel()
            self.counts, self.class_names = counts, list(class_names)
            self.endResetModel()
        else:
            self.counts = counts
            self.dataChanged.emit(self.index(0, 0), self.index(len(counts) - 1, len(counts) - 1))

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else self.counts.shape[0]

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else self.counts.shape[1]

    def flags(self, index):
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.model() is not self:
            return None
        t, p = index.row(), index.column()
        count = int(self.counts[t, p])
        if role == Qt.ItemDataRole.DisplayRole:
            return str(count) if count else ""
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.BackgroundRole:
            return self._shade(t, p)
        if role == Qt.ItemDataRole.ForegroundRole:
            return LIGHT_TEXT if self._strength(t, p) > 0.55 else DARK_TEXT
        if role == Qt.ItemDataRole.ToolTipRole:
            return (f"true {self.class_names[t]}, predicted {self.class_names[p]}: {count:,}\n"
                    "click to show these images")
        return None

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if not 0 <= section < len(self.class_names):
            return None
        name = self.class_names[section]
        if role == Qt.ItemDataRole.DisplayRole:
            # Columns are narrow: the key number; rows: number and name.
            return str(section) if orientation == Qt.Orientation.Horizontal else f"{section} {name}"
        if role == Qt.ItemDataRole.ToolTipRole:
            kind = "predicted" if orientation == Qt.Orientation.Horizontal else "true"
            return f"{kind}: {name} (key {section})"
        return None

    def _strength(self, t: int, p: int) -> float:
        """0..1: diagonal cells against the largest diagonal, others against the largest mistake."""
        if t == p:
            top = max(int(np.diag(self.counts).max()), 1)
        else:
            off = self.counts - np.diag(np.diag(self.counts))
            top = max(int(off.max()), 1)
        return np.sqrt(self.counts[t, p] / top)  # sqrt: small counts still visible

    def _shade(self, t: int, p: int) -> QColor:
        s = self._strength(t, p)
        if self.counts[t, p] == 0:
            return EMPTY_CELL
        full = DIAGONAL if t == p else MISTAKE
        # From near-white (12% of the colour) at the smallest counts to the full colour.
        return QColor(*(int(255 - (255 - c) * (0.12 + 0.88 * s)) for c in (full.red(), full.green(), full.blue())))


def make_confusion_view(model: ConfusionModel, parent=None) -> QTableView:
    view = QTableView(parent)
    view.setModel(model)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    view.horizontalHeader().setMinimumSectionSize(28)
    view.setCornerButtonEnabled(False)
    font = view.font()
    font.setPointSizeF(8)
    view.setFont(font)  # four-digit counts in ten columns
    view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    palette = view.palette()
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        palette.setColor(group, QPalette.ColorRole.Highlight, SELECTED_CELL)
        palette.setColor(group, QPalette.ColorRole.HighlightedText, LIGHT_TEXT)
    view.setPalette(palette)
    view.setToolTip("rows: true label, columns: predicted label — click a cell to filter the grid")
    return view
