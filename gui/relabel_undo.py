"""One relabel as an undo step: the window pushes it on its QUndoStack."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QUndoCommand

from gui.tile_model import TileModel


class RelabelCommand(QUndoCommand):
    """Relabel some rows; undo gives each its label from before. Each step is saved as it is done."""

    def __init__(self, model: TileModel, rows: np.ndarray, label: int):
        super().__init__(f"relabel {len(rows)} image{'s' * (len(rows) != 1)} as {model.class_names[label]}")
        self.model, self.rows, self.label = model, rows, label
        self.before = model.labels[rows].copy()

    def redo(self) -> None:
        if not self.model.set_labels(self.rows, self.label):
            self.setObsolete(True)  # not saved: keep it off the stack

    def undo(self) -> None:
        self.model.set_labels(self.rows, self.before)
