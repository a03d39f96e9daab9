"""One verdict as an undo step: the window pushes it on its QUndoStack."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QUndoCommand

from gui.tile_model import TileModel


class VerdictCommand(QUndoCommand):
    """Give rows a verdict; undo puts back each row's verdict from before, or none. Each step is
    committed to the store as it is done; `done` says whether the first one was."""

    def __init__(self, model: TileModel, rows: np.ndarray, verdict: str | None, label=None, text: str = ""):
        super().__init__(text or f"{verdict or 'clear'} {len(rows)} image{'s' * (len(rows) != 1)}")
        self.model, self.rows, self.verdict, self.label = model, rows, verdict, label
        self.before = model.verdict_state(rows)
        self.done = False

    def redo(self) -> None:
        self.done = self.model.set_verdict(self.rows, self.verdict, self.label)
        if not self.done:
            self.setObsolete(True)  # not saved: keep it off the stack

    def undo(self) -> None:
        self.model.restore_verdicts(self.rows, *self.before)
