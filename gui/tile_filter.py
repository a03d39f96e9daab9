"""The grid's view of the TileModel: which rows are shown, in what order, computed with numpy.

A QSortFilterProxyModel would call back into Python once per row and comparison (60,000 rows:
seconds); here a filter or sort change is a few vectorised numpy operations and one reset.

It is a QStringListModel of empty strings, for its C++ index() and rowCount(): QListView's layout
asks for index(row) of every row after each reset (60,000 on the train split), and as a Python
QAbstractProxyModel that was 60,000 Python calls, ~170 ms of CPU per filter or sort change; now
the layout takes ~7 ms. Only data() and flags() are Python, and the view asks them only for the
tiles it paints. mapToSource / mapFromSource keep their proxy names, as plain methods.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QModelIndex, QStringListModel, Qt, Signal, Slot

from gui.tile_model import TileModel

# correct: the prediction is right; issues: flagged by the label-issue report, those without a
# verdict first (every image when there is no report: an empty grid would hide the split, and the
# report banner says how to make one); reviewed / not_reviewed: with any verdict / none;
# corrected: relabelled by a person.
SHOW = ("all", "mistakes", "correct", "issues", "reviewed", "not_reviewed", "corrected")
# confidence: least sure first; loss: most confident mistakes first; quality: the report's order,
# most suspect label first, images the report lacks last.
SORTS = ("index", "confidence", "loss", "quality")
KEEP = object()  # set_filter: leave this filter as it is


class TileFilterModel(QStringListModel):
    """Filters combine: show (one of SHOW) AND true class AND predicted class AND tag."""

    about_to_change = Signal()  # the rows are about to change: a view's current row still means the old one
    view_changed = Signal()  # rows or order changed (after a filter or sort change)

    def __init__(self, source: TileModel, parent=None):
        super().__init__(parent)
        self.show_mode = "all"
        self.true_class: int | None = None
        self.predicted_class: int | None = None
        self.tag: str | None = None  # None: tagged or not
        self.sort_key = "index"
        self._order = np.zeros(0, np.int64)  # proxy row -> source row
        self._position = np.zeros(0, np.int64)  # source row -> proxy row, -1 when hidden
        self._blanks: list[str] = []  # the string list's rows: only their number matters
        self._source = source
        source.modelAboutToBeReset.connect(self.about_to_change)
        source.modelReset.connect(self._on_source_reset)
        source.dataChanged.connect(self._on_source_data_changed)
        self._compute()
        self._show_rows()

    def sourceModel(self) -> TileModel:
        return self._source

    # --- the view's settings -------------------------------------------------------------------
    def set_filter(self, show: str | None = None, true_class=KEEP, predicted_class=KEEP, tag=KEEP) -> None:
        """Change any of the filters; a class or tag of None means any."""
        if show is not None:
            if show not in SHOW:
                raise ValueError(f"show must be one of {SHOW}, got {show!r}")
            self.show_mode = show
        if true_class is not KEEP:
            self.true_class = true_class
        if predicted_class is not KEEP:
            self.predicted_class = predicted_class
        if tag is not KEEP:
            self.tag = tag
        self.refresh()

    def set_sort(self, sort: str) -> None:
        if sort not in SORTS:
            raise ValueError(f"sort must be one of {SORTS}, got {sort!r}")
        self.sort_key = sort
        self.refresh()

    def refresh(self) -> None:
        """Recompute rows and order from the current labels (a relabelled tile stays until then)."""
        self.about_to_change.emit()
        self._compute()
        self._show_rows()
        self.view_changed.emit()

    def _show_rows(self) -> None:
        """One reset of the string list to as many rows as are shown (setStringList resets too)."""
        if len(self._blanks) == len(self._order):
            self.beginResetModel()
            self.endResetModel()
        else:
            self._blanks = [""] * len(self._order)
            self.setStringList(self._blanks)

    def _mask(self, show: str, true_class, predicted_class, tag=None) -> np.ndarray:
        m = self.sourceModel()
        mask = np.ones(len(m.labels), bool)
        if show == "mistakes":
            mask &= m.mistakes
        elif show == "correct":
            mask &= ~m.mistakes
        elif show == "issues" and m.review is not None:
            mask &= m.flagged
        elif show == "reviewed":
            mask &= m.verdict != 0
        elif show == "not_reviewed":
            mask &= m.verdict == 0
        elif show == "corrected":
            mask &= m.new_label >= 0
        if true_class is not None:
            mask &= m.labels == true_class
        if predicted_class is not None:
            mask &= m.predicted == predicted_class
        if tag is not None:
            mask &= m.tags.mask(tag)
        return mask

    def _compute(self) -> None:
        m = self.sourceModel()
        rows = np.flatnonzero(self._mask(self.show_mode, self.true_class, self.predicted_class, self.tag))
        if self.sort_key == "confidence":
            rows = rows[np.argsort(m.confidence[rows], kind="stable")]
        elif self.sort_key == "loss":
            rows = rows[np.argsort(-m.loss[rows], kind="stable")]
        elif self.sort_key == "quality" and m.review is not None:
            rank = m.review.rank[rows]
            rows = rows[np.argsort(np.where(rank < 0, len(m.labels), rank), kind="stable")]
        if self.show_mode == "issues":  # what is left to review first; a verdict moves its tile at the next refresh
            rows = rows[np.argsort(m.verdict[rows] != 0, kind="stable")]
        self._order = rows
        self._position = np.full(len(m.labels), -1, np.int64)
        self._position[rows] = np.arange(len(rows))

    def counts(self) -> dict:
        """Live counts for the filter choices, each under the other filters as they stand."""
        m = self.sourceModel()
        classes = len(m.class_names)
        show, t, p, tag = self.show_mode, self.true_class, self.predicted_class, self.tag
        by_show = {s: int(np.count_nonzero(self._mask(s, t, p, tag))) for s in SHOW}
        true_base = self._mask(show, None, p, tag)
        pred_base = self._mask(show, t, None, tag)
        return {
            "show": by_show,
            "true": np.bincount(m.labels[true_base], minlength=classes).tolist() if len(m.labels) else [],
            "predicted": np.bincount(m.predicted[pred_base], minlength=classes).tolist() if len(m.labels) else [],
            "tags": m.tags.count_in(self._mask(show, t, p)),
            "shown": len(self._order),
            "total": len(m.labels),
        }

    def source_rows(self) -> np.ndarray:
        """Dataset indices of the shown rows, in display order."""
        return self._order.copy()

    def next_row(self, rows) -> int | None:
        """The shown row after the last of `rows` (view rows), None at the end: where a review goes next."""
        after = max(rows, default=-1) + 1
        return after if after < len(self._order) else None

    def row_of(self, dataset_index: int) -> int | None:
        """The view row showing dataset image `dataset_index`, None if this view hides it."""
        if not 0 <= dataset_index < len(self._position) or self._position[dataset_index] < 0:
            return None
        return int(self._position[dataset_index])

    def next_mistake(self, row: int, step: int) -> int | None:
        """The next shown row after `row` (step +1) or before it (step -1) that is a mistake."""
        hits = np.flatnonzero(self.sourceModel().mistakes[self._order])
        if step > 0:
            after = hits[hits > row]
            return int(after[0]) if len(after) else None
        before = hits[hits < row]
        return int(before[-1]) if len(before) else None

    # --- the proxy's mapping, and the Qt overrides ------------------------------------------------
    def mapToSource(self, proxy_index):
        if not proxy_index.isValid() or not 0 <= proxy_index.row() < len(self._order):
            return QModelIndex()
        return self.sourceModel().index(int(self._order[proxy_index.row()]), 0)

    def mapFromSource(self, source_index):
        if not source_index.isValid() or not 0 <= source_index.row() < len(self._position):
            return QModelIndex()
        row = int(self._position[source_index.row()])
        return self.index(row) if row >= 0 else QModelIndex()

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        # Straight to the source's row_data: one Python call per role instead of three.
        if not index.isValid() or index.model() is not self or index.row() >= len(self._order):
            return None
        return self._source.row_data(int(self._order[index.row()]), role)

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        """A verdict or label set on a shown tile is the source's to write (never the blank string's)."""
        source = self.mapToSource(index)
        return source.isValid() and self._source.setData(source, value, role)

    def flags(self, index):
        return self._source.tile_flags if index.isValid() else Qt.ItemFlag.NoItemFlags

    # --- following the source ------------------------------------------------------------------
    @Slot()
    def _on_source_reset(self) -> None:
        self._compute()
        self._show_rows()
        self.view_changed.emit()

    @Slot(QModelIndex, QModelIndex, "QList<int>")
    def _on_source_data_changed(self, top_left, bottom_right, roles=()) -> None:
        if not len(self._order):
            return
        if top_left.row() == bottom_right.row():
            i = self.mapFromSource(top_left)
            if i.isValid():
                self.dataChanged.emit(i, i, roles)
        else:  # a spanning change: shown rows are scattered, so announce them all
            self.dataChanged.emit(self.index(0), self.index(len(self._order) - 1), roles)
