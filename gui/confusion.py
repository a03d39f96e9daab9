"""The 10 x 10 confusion matrix: rows the true label (in force), columns the prediction.

Cells are shaded by count (blue on the diagonal, red off it); clicking a cell is how the window
filters the grid to that (true, predicted) pair. Cells scale with the pane; counts of 1,000 and
more are abbreviated (4.8k) so they fit a narrow cell, the exact count is in the tooltip.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPalette
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from gui.palette import DARK_TEXT, DIAGONAL, EMPTY_CELL, LIGHT_TEXT, MISTAKE, SELECTED_CELL

CELL_POINTS = 8.0
SMALLEST_POINTS = 6.0
WIDEST = "4.8k"  # the widest text a cell holds (abbreviate keeps every count to four characters)
WIDE_ENOUGH = 400  # pixels: room for "0 T-shirt/top" row headers and ten readable columns


def abbreviate(count: int) -> str:
    """A count in at most four characters: 987, 4.8k, 12k, 1.2M ("" for 0, as an empty cell)."""
    if count == 0:
        return ""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if count >= size:
            value = count / size
            return f"{value:.1f}{suffix}" if value < 9.95 else f"{round(value)}{suffix}"
    return str(count)


class ConfusionModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.class_names: list[str] = []
        self.counts = np.zeros((0, 0), np.int64)
        self.short_headers = False  # row headers: the class key only (a narrow pane)
        self._strengths: list[list[float]] = []  # [true][predicted], 0..1, from set_counts
        self._backgrounds: list[list[QColor]] = []

    def set_short_headers(self, short: bool) -> None:
        if short != self.short_headers:
            self.short_headers = short
            if self.class_names:
                self.headerDataChanged.emit(Qt.Orientation.Vertical, 0, len(self.class_names) - 1)

    def set_counts(self, counts: np.ndarray, class_names) -> None:
        """New counts; unchanged ones (a confirm, an exclude, a tag) repaint nothing. The cells'
        shades are computed here once: per cell and role in data() they were ~1.5 ms of every
        verdict key (700 data() calls, each re-deriving the matrix's maxima)."""
        if counts.shape != self.counts.shape or list(class_names) != self.class_names:
            self.beginResetModel()
            self.counts, self.class_names = counts, list(class_names)
            self._shades()
            self.endResetModel()
        elif not np.array_equal(counts, self.counts):
            self.counts = counts
            self._shades()
            self.dataChanged.emit(self.index(0, 0), self.index(len(counts) - 1, len(counts) - 1))

    def _shades(self) -> None:
        n = len(self.counts)
        self._strengths = [[self._strength(t, p) for p in range(n)] for t in range(n)]
        self._backgrounds = [[self._shade(t, p) for p in range(n)] for t in range(n)]

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
            return abbreviate(count)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.BackgroundRole:
            return self._backgrounds[t][p]
        if role == Qt.ItemDataRole.ForegroundRole:
            return LIGHT_TEXT if self._strengths[t][p] > 0.55 else DARK_TEXT
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"true {self.class_names[t]}, predicted {self.class_names[p]}: {count:,}\nclick to show these images"
        return None

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if not 0 <= section < len(self.class_names):
            return None
        name = self.class_names[section]
        if role == Qt.ItemDataRole.DisplayRole:
            # Columns are narrow: the key number; rows: number and name, where there is room.
            short = orientation == Qt.Orientation.Horizontal or self.short_headers
            return str(section) if short else f"{section} {name}"
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


class ConfusionView(QTableView):
    """The matrix's view: its font shrinks with its cells (down to SMALLEST_POINTS) so "4.8k" fits
    whole, and below WIDE_ENOUGH the row headers keep only the class key (the name in the tooltip)."""

    def minimumSizeHint(self):
        """Every column at its narrowest, so the pane's dock never cuts the last columns off
        (the detail pane keeps its width now; at 1024 x 700 the matrix lost columns 8 and 9)."""
        hint = super().minimumSizeHint()
        model = self.model()
        columns = model.columnCount() if model is not None else 0
        if columns:
            hint.setWidth(
                columns * self.horizontalHeader().minimumSectionSize()
                + self.verticalHeader().sizeHint().width()
                + 2 * self.frameWidth()
            )
        return hint

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        model = self.model()
        if isinstance(model, ConfusionModel):
            model.set_short_headers(self.width() < WIDE_ENOUGH)
        cell = (
            self.horizontalHeader().defaultSectionSize()
            if not model or not model.columnCount()
            else min(self.columnWidth(c) for c in range(model.columnCount()))
        )
        font = self.font()
        points = CELL_POINTS
        while points > SMALLEST_POINTS and QFontMetrics(_sized(font, points)).horizontalAdvance(WIDEST) + 6 > cell:
            points -= 0.5
        if font.pointSizeF() != points:
            self.setFont(_sized(font, points))


def _sized(font: QFont, points: float) -> QFont:
    font = QFont(font)
    font.setPointSizeF(points)
    return font


def make_confusion_view(model: ConfusionModel, parent=None) -> QTableView:
    view = ConfusionView(parent)
    view.setModel(model)
    view.setTextElideMode(Qt.TextElideMode.ElideNone)  # the font shrinks instead: "8…" says nothing
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    view.horizontalHeader().setMinimumSectionSize(24)
    view.verticalHeader().setMinimumSectionSize(14)
    view.setCornerButtonEnabled(False)
    view.setFont(_sized(view.font(), CELL_POINTS))
    view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    palette = view.palette()
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        palette.setColor(group, QPalette.ColorRole.Highlight, SELECTED_CELL)
        palette.setColor(group, QPalette.ColorRole.HighlightedText, LIGHT_TEXT)
    view.setPalette(palette)
    view.setToolTip("rows: true label, columns: predicted label — click a cell to filter the grid")
    return view
