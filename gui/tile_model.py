"""The list model behind the grid: one row per image of the split, in dataset order.

It owns the state: the scoring run's result (images, dataset labels, probabilities, the
label-issue report; never changed), the verdicts a person gave and the labels in force that
follow from them, and the corrections store they are saved in, with its path or the reason it was
refused. Views, the filter proxy, the confusion matrix, the detail panel and the PNG export all
read from here, through roles.

The store is the truth: after each write, and whenever the window asks (it regains focus),
the verdicts are read back from it, so a second window's verdicts appear here too and a write
only ever touches the rows it changes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, Qt, Signal

from gui.review import Review
from gui.scoring import ScoredSplit, TileImages
from gui.split_verdicts import SplitVerdicts, open_split_verdicts
from gui.tile_roles import (
    CLASS_NAMES_ROLE,
    CONFIDENCE_ROLE,
    DATASET_INDEX_ROLE,
    IS_CORRECTED_ROLE,
    IS_FLAGGED_ROLE,
    IS_MISTAKE_ROLE,
    LABEL_QUALITY_ROLE,
    LOSS_ROLE,
    ORIGINAL_LABEL_ROLE,
    PIXELS_ROLE,
    PREDICTED_LABEL_ROLE,
    PREDICTED_NAME_ROLE,
    PROBABILITIES_ROLE,
    REPORT_RANK_ROLE,
    ROLE_NAMES,
    SUGGESTED_LABEL_ROLE,
    SUGGESTED_PROBABILITY_ROLE,
    TAGS_ROLE,
    TRUE_LABEL_ROLE,
    TRUE_NAME_ROLE,
    VERDICT_DEPENDENT_ROLES,
    VERDICT_ROLE,
)
from gui.tile_tags import ImageTags
from inference.core.classes import NUM_CLASSES
from inference.core.corrections import CONFIRMED, EXCLUDE, NO_VERDICT, RELABEL, VERDICTS, effective_verdict
from inference.core.errors import CorrectionsError
from inference.core.evaluation import confusion_matrix

VERDICT_WORDS = {RELABEL: "relabelled", CONFIRMED: "label confirmed", EXCLUDE: "excluded"}


class TileModel(QAbstractListModel):
    """Rows are dataset indices; empty until `set_scored`."""

    labels_changed = Signal()  # verdicts (and so labels in force) changed: own write, undo, another window, new store
    saved = Signal(int)  # a change was committed to the store; argument: verdicts of this split in it
    save_failed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.scored: ScoredSplit | None = None
        self.review: Review | None = None
        self.store: SplitVerdicts | None = None
        self.corrections_path: Path | None = None
        self.refusal: str | None = None  # why the corrections store was refused
        self.class_names: tuple[str, ...] = ()
        self.original_labels = np.zeros(0, np.int64)
        self.verdict = np.zeros(0, np.int8)  # (N,) NO_VERDICT or a code from inference.core.corrections
        self.new_label = np.zeros(0, np.int64)  # (N,) the relabel's label, -1 otherwise
        self.labels = np.zeros(0, np.int64)  # (N,) label in force
        self.predicted = np.zeros(0, np.int64)
        self.probabilities = np.zeros((0, 10), np.float32)
        self.confidence = np.zeros(0, np.float32)
        self.loss = np.zeros(0, np.float32)
        self._log_p = np.zeros((0, 10), np.float32)
        self._images: TileImages | tuple = ()
        self._flags = Qt.ItemFlag.NoItemFlags
        self.tags = ImageTags()  # the store's tags of this split (gui.tile_tags)

    # --- loading -------------------------------------------------------------------------------
    def set_scored(self, scored: ScoredSplit) -> None:
        """Show a scoring run, with the verdicts of the store it names (opened here, on this thread)."""
        self.beginResetModel()
        self.scored, self.review = scored, scored.review
        self.class_names = tuple(scored.class_names)
        self.original_labels = scored.split.labels
        self.predicted = scored.predicted
        self.probabilities = scored.probabilities
        n = len(scored.predicted)
        self.confidence = scored.probabilities[np.arange(n), scored.predicted]
        # Clipped so a probability of exactly 0 gives a large finite loss, not inf.
        self._log_p = -np.log(np.clip(scored.probabilities, 1e-30, 1.0))
        self._images = scored.images
        store, refusal = open_split_verdicts(scored.corrections_path, scored.split)
        self._use_store(store, scored.corrections_path, refusal)
        self.endResetModel()
        self.labels_changed.emit()

    def open_store(self, path: Path) -> str | None:
        """Switch to another corrections store for this split; its refusal (everything kept) or None."""
        if self.scored is None:
            return "nothing is shown yet"
        store, refusal = open_split_verdicts(Path(path), self.scored.split)
        if store is None:
            return refusal
        self._use_store(store, store.path, None)
        if self.rowCount():
            self.dataChanged.emit(self.index(0), self.index(self.rowCount() - 1), VERDICT_DEPENDENT_ROLES)
        self.labels_changed.emit()
        return None

    def _use_store(self, store: SplitVerdicts | None, path: Path, refusal: str | None) -> None:
        self.close_store()
        self.store, self.corrections_path, self.refusal = store, path, refusal
        # Computed once: flags() is asked for every painted tile, and enum arithmetic is slow in Python.
        self._flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
        if store is not None:
            self._flags |= Qt.ItemFlag.ItemIsEditable
        n = len(self.original_labels)
        self.verdict, self.new_label = np.zeros(n, np.int8), np.full(n, -1, np.int64)
        self.tags = ImageTags(n)
        if store is not None:
            try:
                self.verdict, self.new_label = store.read()
                self.tags.replace(store.read_tags())
            except CorrectionsError as e:
                self.close_store()
                self.refusal = str(e)
        self._follow_verdicts()

    def close_store(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None

    def _follow_verdicts(self) -> None:
        """Labels in force and losses from the verdicts: whole arrays, ~1 ms for 60,000 images."""
        self.labels = np.where(self.verdict == RELABEL, self.new_label, self.original_labels)
        self.loss = self._log_p[np.arange(len(self.labels)), self.labels]

    def reload_verdicts(self) -> int:
        """Read the store again and show what changed (another window's verdicts too); rows changed."""
        if self.store is None or self.scored is None:
            return 0
        try:
            verdict, new_label = self.store.read()
            tags = self.store.read_tags()
        except CorrectionsError as e:
            self.save_failed.emit(str(e))
            return 0
        rows = np.flatnonzero((verdict != self.verdict) | (new_label != self.new_label))
        rows = np.union1d(rows, self.tags.replace(tags))
        if not len(rows):
            return 0
        self.verdict, self.new_label = verdict, new_label
        self._follow_verdicts()
        # One signal per row for a few rows; one spanning signal for many.
        if len(rows) <= 64:
            for row in rows:
                i = self.index(int(row))
                self.dataChanged.emit(i, i, VERDICT_DEPENDENT_ROLES)
        else:
            self.dataChanged.emit(self.index(int(rows[0])), self.index(int(rows[-1])), VERDICT_DEPENDENT_ROLES)
        self.labels_changed.emit()
        return len(rows)

    @property
    def split_name(self) -> str:
        return self.scored.split.name if self.scored is not None else ""

    @property
    def writable(self) -> bool:
        return self.store is not None

    @property
    def mistakes(self) -> np.ndarray:
        """(N,) bool: predicted label differs from the label in force."""
        return self.predicted != self.labels

    @property
    def flagged(self) -> np.ndarray:
        """(N,) bool: the label-issue report flags the image (none without a report)."""
        return self.review.flagged if self.review is not None else np.zeros(len(self.labels), bool)

    # --- Qt overrides --------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._images)

    def flags(self, index):
        return self._flags if index.isValid() else Qt.ItemFlag.NoItemFlags

    @property
    def tile_flags(self):
        """The flags every tile has (the same for all)."""
        return self._flags

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.model() is not self:
            return None
        return self.row_data(index.row(), role)

    def row_data(self, row: int, role: int):
        """`data()` by row number: the filter proxy calls this directly, saving a Python round trip."""
        if not 0 <= row < len(self._images):
            return None
        if role == PIXELS_ROLE:
            return self.scored.split.images[row]
        if role == Qt.ItemDataRole.DecorationRole:
            return self._images[row]
        if role in (TRUE_LABEL_ROLE, Qt.ItemDataRole.EditRole):
            return int(self.labels[row])
        if role == PREDICTED_LABEL_ROLE:
            return int(self.predicted[row])
        if role == IS_MISTAKE_ROLE:
            return bool(self.predicted[row] != self.labels[row])
        if role == IS_CORRECTED_ROLE:
            return bool(self.verdict[row] == RELABEL)
        if role == VERDICT_ROLE:
            code = self.verdict[row]
            return VERDICTS[code - 1] if code else None
        if role == IS_FLAGGED_ROLE:
            return bool(self.review is not None and self.review.flagged[row])
        if role == ORIGINAL_LABEL_ROLE:
            return int(self.original_labels[row])
        if role == CONFIDENCE_ROLE:
            return float(self.confidence[row])
        if role == LOSS_ROLE:
            return float(self.loss[row])
        if role == PROBABILITIES_ROLE:
            return [float(p) for p in self.probabilities[row]]
        if role == DATASET_INDEX_ROLE:
            return row
        if role == TAGS_ROLE:
            return self.tags.of(row)
        if role == TRUE_NAME_ROLE:
            return self.class_names[self.labels[row]]
        if role == PREDICTED_NAME_ROLE:
            return self.class_names[self.predicted[row]]
        if role == CLASS_NAMES_ROLE:
            return self.class_names
        if role in (SUGGESTED_LABEL_ROLE, SUGGESTED_PROBABILITY_ROLE, LABEL_QUALITY_ROLE, REPORT_RANK_ROLE):
            return self._report_value(row, role)
        if role == Qt.ItemDataRole.DisplayRole:
            return f"#{row} {self.class_names[self.labels[row]]} / {self.class_names[self.predicted[row]]}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row)
        return None

    def _report_value(self, row: int, role: int):
        review = self.review
        if review is None or review.rank[row] < 0:
            return None
        column = {
            SUGGESTED_LABEL_ROLE: review.suggested,
            SUGGESTED_PROBABILITY_ROLE: review.p_suggested,
            LABEL_QUALITY_ROLE: review.quality,
            REPORT_RANK_ROLE: review.rank,
        }[role]
        return column[row].item()  # a Python int or float

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        """A label (TRUE_LABEL_ROLE, EditRole) relabels; a verdict (VERDICT_ROLE) or None sets or clears one."""
        if not index.isValid() or index.model() is not self:
            return False
        if role in (TRUE_LABEL_ROLE, Qt.ItemDataRole.EditRole):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < NUM_CLASSES:
                return False
            return self.set_verdict([index.row()], "relabel", int(value))
        if role == VERDICT_ROLE and value in (None, "confirmed", "exclude"):
            return self.set_verdict([index.row()], value)
        return False

    def roleNames(self):
        names = super().roleNames()
        for role, name in ROLE_NAMES.items():
            names[role] = name
        return names

    # --- verdicts ------------------------------------------------------------------------------
    def set_verdict(self, rows, verdict: str | None, label=None) -> bool:
        """Give `rows` (dataset indices) a verdict and commit it: "relabel" with `label` (one int, or
        one per row), "confirmed", "exclude", or None to clear. A relabel to a row's own dataset
        label is "confirmed" (effective_verdict). False, nothing written, for a bad argument or a read-only store."""
        rows = _ints(rows)
        if rows is None or (verdict is not None and verdict not in VERDICTS):
            return False
        rows = np.unique(rows)
        if len(rows) and not 0 <= rows[0] <= rows[-1] < len(self.labels):
            return False
        if verdict != "relabel":
            return label is None and self._write([(rows, verdict, None)])
        labels = _ints(label)
        if labels is None or labels.size not in (1, len(rows)) or not ((0 <= labels) & (labels < NUM_CLASSES)).all():
            return False
        labels = np.broadcast_to(labels, rows.shape)
        given = self.original_labels[rows]
        # The rule is asked once per (given, new) pair (at most 100), not per row; rows whose
        # verdicts then agree are written together, one transaction per verdict.
        pairs = np.unique(np.stack([given, labels]), axis=1).T
        grouped: dict[tuple[str, int | None], list[np.ndarray]] = {}
        for g, k in pairs.tolist():
            grouped.setdefault(effective_verdict(g, "relabel", k), []).append(rows[(given == g) & (labels == k)])
        return self._write([(np.concatenate(parts), v, new) for (v, new), parts in grouped.items()])

    def verdict_state(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the verdict codes and relabels of `rows`: what `restore_verdicts` puts back."""
        return self.verdict[rows].copy(), self.new_label[rows].copy()

    def restore_verdicts(
        self, rows: np.ndarray, codes: np.ndarray, new_labels: np.ndarray, tags_by_row: dict | None = None
    ) -> bool:
        """Put back a `verdict_state` (and, given, the rows' tags): each row gets its verdict from then, or none."""
        groups = []
        for code, label in sorted(set(zip(codes.tolist(), new_labels.tolist(), strict=False))):
            same = rows[(codes == code) & (new_labels == label)]
            groups.append((same, VERDICTS[code - 1] if code else None, label if code == RELABEL else None))
        return self._write(groups, tags_by_row)

    def set_tags(self, tags_by_row: dict[int, frozenset[str]]) -> bool:
        """Make each listed image's tags exactly these (one transaction, checked first); then show the store."""
        return self._write([], tags_by_row)

    def _write(self, groups: list[tuple], tags_by_row: dict | None = None) -> bool:
        """Commit (rows, verdict or None, label) groups, each one transaction, then the tags of
        `tags_by_row` in one more; then show the store."""
        if self.store is None:
            self.save_failed.emit(f"corrections are read-only: {self.refusal or 'no corrections store is open'}")
            return False
        try:
            if tags_by_row:
                self.store.set_tags(tags_by_row)
            for rows, verdict, label in groups:
                if not len(rows):
                    continue
                if verdict is None:
                    self.store.clear(rows)
                else:
                    self.store.set(rows, verdict, label)
        except CorrectionsError as e:
            self.save_failed.emit(str(e))
            self.reload_verdicts()  # an earlier group may be in
            return False
        self.reload_verdicts()
        self.saved.emit(int(np.count_nonzero(self.verdict)))
        return True

    # --- summaries -----------------------------------------------------------------------------
    def verdict_counts(self) -> dict[str, int]:
        counts = np.bincount(self.verdict, minlength=len(VERDICTS) + 1)
        return {verdict: int(counts[code]) for code, verdict in enumerate(VERDICTS, start=1)}

    def review_progress(self) -> tuple[int, int]:
        """(flagged images with a verdict, flagged images)."""
        flagged = self.flagged
        return int(np.count_nonzero(flagged & (self.verdict != NO_VERDICT))), int(np.count_nonzero(flagged))

    def accuracy(self, against_corrections: bool = False) -> float:
        """Against the dataset's labels, or against the labels in force with excluded images left out."""
        if not against_corrections:
            truth, keep = self.original_labels, slice(None)
        else:
            truth, keep = self.labels, self.verdict != EXCLUDE
        hits = (self.predicted == truth)[keep]
        return float(np.mean(hits)) if len(hits) else float("nan")

    def confusion(self) -> np.ndarray:
        """(10, 10) counts: rows the label in force, columns the prediction."""
        return confusion_matrix(self.labels, self.predicted, len(self.class_names) or NUM_CLASSES)

    def _tooltip(self, row: int) -> str:
        names = self.class_names
        text = (
            f"#{row}\ntrue: {names[self.labels[row]]}\npredicted: {names[self.predicted[row]]} "
            f"({self.confidence[row]:.1%})\nloss: {self.loss[row]:.3f}"
        )
        if self.verdict[row] == RELABEL:
            text += f"\nrelabelled from {names[self.original_labels[row]]}"
        elif self.verdict[row]:
            text += f"\n{VERDICT_WORDS[self.verdict[row]]}"
        suggested = self._report_value(row, SUGGESTED_LABEL_ROLE)
        if suggested is not None and self.review.flagged[row]:
            text += f"\nflagged: the report suggests {names[suggested]}"
        if self.tags.of(row):
            text += "\ntags: " + ", ".join(self.tags.of(row))
        return text


def _ints(values) -> np.ndarray | None:
    """One int or a 1-D sequence of them as an int64 array; None for anything else (floats, bools, text)."""
    array = np.asarray(values) if values is not None else None
    if array is None or array.ndim > 1 or (array.size and array.dtype.kind not in "iu"):
        return None
    return array.reshape(-1).astype(np.int64)
