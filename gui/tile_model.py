"""The list model behind the grid: one row per image of the split, in dataset order.

It owns the state: the scoring run's result (images, dataset labels, probabilities; never
changed), the labels in force, and the corrections store it saves through, with that file's
path or the reason it was refused. Views, the filter proxy, the confusion matrix, the detail
panel and the PNG export all read from here, through roles.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, Qt, Signal

from gui.corrections import CorrectionStore
from gui.scoring import ScoredSplit
from inference.core.classes import NUM_CLASSES
from inference.core.evaluation import confusion_matrix

# Custom roles. Labels are ints 0..9; the image is the DecorationRole (a Grayscale8 QImage).
TRUE_LABEL_ROLE = Qt.ItemDataRole.UserRole + 1  # the label in force: the correction if any, else the dataset's
ORIGINAL_LABEL_ROLE = Qt.ItemDataRole.UserRole + 2  # the dataset's label
PREDICTED_LABEL_ROLE = Qt.ItemDataRole.UserRole + 3
CONFIDENCE_ROLE = Qt.ItemDataRole.UserRole + 4  # probability of the predicted class
LOSS_ROLE = Qt.ItemDataRole.UserRole + 5  # -log p(true label)
PROBABILITIES_ROLE = Qt.ItemDataRole.UserRole + 6  # list of 10 floats
IS_MISTAKE_ROLE = Qt.ItemDataRole.UserRole + 7  # predicted != label in force
IS_CORRECTED_ROLE = Qt.ItemDataRole.UserRole + 8
DATASET_INDEX_ROLE = Qt.ItemDataRole.UserRole + 9
TRUE_NAME_ROLE = Qt.ItemDataRole.UserRole + 10  # class name of the label in force
PREDICTED_NAME_ROLE = Qt.ItemDataRole.UserRole + 11
CLASS_NAMES_ROLE = Qt.ItemDataRole.UserRole + 12  # the model's class names, by label (a tuple)

# Roles whose value follows the label in force; dataChanged names them after a relabel.
LABEL_DEPENDENT_ROLES = [
    TRUE_LABEL_ROLE, TRUE_NAME_ROLE, LOSS_ROLE, IS_MISTAKE_ROLE, IS_CORRECTED_ROLE,
    Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole,
]


class TileModel(QAbstractListModel):
    """Rows are dataset indices; empty until `set_scored`."""

    labels_changed = Signal()  # labels in force changed (relabel, undo, redo, new corrections file)
    saved = Signal(int)  # a change reached the corrections file; argument: corrections in it
    save_failed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.scored: ScoredSplit | None = None
        self.store: CorrectionStore | None = None
        self.corrections_path: Path | None = None
        self.refusal: str | None = None  # why the corrections file was refused
        self.class_names: tuple[str, ...] = ()
        self.original_labels = np.zeros(0, np.int64)
        self.labels = np.zeros(0, np.int64)
        self.predicted = np.zeros(0, np.int64)
        self.probabilities = np.zeros((0, 10), np.float32)
        self.confidence = np.zeros(0, np.float32)
        self.loss = np.zeros(0, np.float32)
        self._log_p = np.zeros((0, 10), np.float32)
        self._images: tuple = ()
        self._flags = Qt.ItemFlag.NoItemFlags

    # --- loading -------------------------------------------------------------------------------
    def set_scored(self, scored: ScoredSplit) -> None:
        self.beginResetModel()
        self.scored = scored
        self.class_names = tuple(scored.class_names)
        self.original_labels = scored.split.labels
        self.predicted = scored.predicted
        self.probabilities = scored.probabilities
        n = len(scored.predicted)
        self.confidence = scored.probabilities[np.arange(n), scored.predicted]
        # Clipped so a probability of exactly 0 gives a large finite loss, not inf.
        self._log_p = -np.log(np.clip(scored.probabilities, 1e-30, 1.0))
        self._images = scored.images
        self.corrections_path, self.refusal = scored.corrections_path, scored.refusal
        self._set_store(scored.store)
        self.endResetModel()
        self.labels_changed.emit()

    def set_store(self, store: CorrectionStore) -> None:
        """Switch to another corrections file, already opened for this split."""
        self.corrections_path, self.refusal = store.path, None
        self._set_store(store)
        if self.rowCount():
            self.dataChanged.emit(self.index(0), self.index(self.rowCount() - 1), LABEL_DEPENDENT_ROLES)
        self.labels_changed.emit()

    def _set_store(self, store: CorrectionStore | None) -> None:
        self.store = store
        # Computed once: flags() is asked for every painted tile, and enum arithmetic is slow in Python.
        self._flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
        if store is not None:
            self._flags |= Qt.ItemFlag.ItemIsEditable
        self.labels = store.labels() if store is not None else self.original_labels.copy()
        self.loss = self._log_p[np.arange(len(self.labels)), self.labels]

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
        if role == Qt.ItemDataRole.DecorationRole:
            return self._images[row]
        if role in (TRUE_LABEL_ROLE, Qt.ItemDataRole.EditRole):
            return int(self.labels[row])
        if role == PREDICTED_LABEL_ROLE:
            return int(self.predicted[row])
        if role == IS_MISTAKE_ROLE:
            return bool(self.predicted[row] != self.labels[row])
        if role == IS_CORRECTED_ROLE:
            return bool(self.labels[row] != self.original_labels[row])
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
        if role == TRUE_NAME_ROLE:
            return self.class_names[self.labels[row]]
        if role == PREDICTED_NAME_ROLE:
            return self.class_names[self.predicted[row]]
        if role == CLASS_NAMES_ROLE:
            return self.class_names
        if role == Qt.ItemDataRole.DisplayRole:
            return f"#{row} {self.class_names[self.labels[row]]} / {self.class_names[self.predicted[row]]}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row)
        return None

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        if role not in (TRUE_LABEL_ROLE, Qt.ItemDataRole.EditRole) or not index.isValid() or index.model() is not self:
            return False
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < len(self.class_names):
            return False
        return self.set_labels([index.row()], [int(value)])

    def roleNames(self):
        names = super().roleNames()
        for role, name in ((TRUE_LABEL_ROLE, b"trueLabel"), (ORIGINAL_LABEL_ROLE, b"originalLabel"),
                           (PREDICTED_LABEL_ROLE, b"predictedLabel"), (CONFIDENCE_ROLE, b"confidence"),
                           (LOSS_ROLE, b"loss"), (PROBABILITIES_ROLE, b"probabilities"),
                           (IS_MISTAKE_ROLE, b"isMistake"), (IS_CORRECTED_ROLE, b"isCorrected"),
                           (DATASET_INDEX_ROLE, b"datasetIndex"), (TRUE_NAME_ROLE, b"trueName"),
                           (PREDICTED_NAME_ROLE, b"predictedName"), (CLASS_NAMES_ROLE, b"classNames")):
            names[role] = name
        return names

    # --- relabelling ---------------------------------------------------------------------------
    def set_labels(self, rows, labels) -> bool:
        """Give each row its label, save once, then announce; False (nothing changed) if not saved."""
        if self.store is None:
            self.save_failed.emit("corrections are read-only: the corrections file was refused")
            return False
        rows = np.asarray(rows, np.int64).reshape(-1)
        labels = np.broadcast_to(np.asarray(labels, np.int64), rows.shape)
        if len(rows) == 0:
            return True
        if rows.min() < 0 or rows.max() >= len(self.labels) or labels.min() < 0 or labels.max() >= len(self.class_names):
            return False
        try:
            self.store.set_labels(rows, labels)
        except OSError as e:
            self.save_failed.emit(f"could not save {self.store.path}: {e.strerror or e}")
            return False
        self.labels[rows] = labels
        self.loss[rows] = self._log_p[rows, labels]
        # One signal per row for a few rows; one spanning signal for a big selection.
        if len(rows) <= 64:
            for row in rows:
                i = self.index(int(row))
                self.dataChanged.emit(i, i, LABEL_DEPENDENT_ROLES)
        else:
            self.dataChanged.emit(self.index(int(rows.min())), self.index(int(rows.max())), LABEL_DEPENDENT_ROLES)
        self.labels_changed.emit()
        self.saved.emit(len(self.store.records))
        return True

    # --- summaries -----------------------------------------------------------------------------
    def accuracy(self, against_corrections: bool = False) -> float:
        truth = self.labels if against_corrections else self.original_labels
        return float(np.mean(self.predicted == truth)) if len(truth) else float("nan")

    def confusion(self) -> np.ndarray:
        """(10, 10) counts: rows the label in force, columns the prediction."""
        return confusion_matrix(self.labels, self.predicted, len(self.class_names) or NUM_CLASSES)

    def _tooltip(self, row: int) -> str:
        names = self.class_names
        text = (f"#{row}\ntrue: {names[self.labels[row]]}\npredicted: {names[self.predicted[row]]} "
                f"({self.confidence[row]:.1%})\nloss: {self.loss[row]:.3f}")
        if self.labels[row] != self.original_labels[row]:
            text += f"\ncorrected from {names[self.original_labels[row]]}"
        return text
