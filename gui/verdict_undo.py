"""The undo steps the window pushes on its QUndoStack: a verdict, a tagging, a CSV import.

Each remembers what its rows had before. After an undo, or a redo from the stack (not the first
one, which the person just did), it hands its rows to `show`, so the cursor goes to the images
that changed instead of staying wherever the review had moved on to.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtGui import QUndoCommand

from gui.tile_model import TileModel
from inference.core.corrections import CODES, NO_VERDICT, CsvRow


class TileCommand(QUndoCommand):
    """Rows' verdicts (and tags) before; `apply` does the step, `undo` puts the before back.
    Each step is committed to the store as it is done; `done` says whether the first one was."""

    def __init__(
        self, model: TileModel, rows: np.ndarray, text: str, show: Callable | None = None, with_tags: bool = False
    ):
        super().__init__(text)
        self.model, self.rows, self.show = model, np.asarray(rows, np.int64), show
        self.before = model.verdict_state(self.rows)
        self.tags_before = (
            {int(r): model.tags.by_image.get(int(r), frozenset()) for r in self.rows} if with_tags else None
        )
        self.done = False
        self._first = True

    def apply(self) -> bool:
        raise NotImplementedError

    def redo(self) -> None:
        self.done = self.apply()
        if not self.done:
            self.setObsolete(True)  # not saved: keep it off the stack
        elif not self._first:
            self._show()
        self._first = False

    def undo(self) -> None:
        self.model.restore_verdicts(self.rows, *self.before, self.tags_before)
        self._show()

    def _show(self) -> None:
        if self.show is not None:
            self.show(self.rows)


class VerdictCommand(TileCommand):
    """Give rows a verdict; undo puts back each row's verdict from before, or none."""

    def __init__(
        self,
        model: TileModel,
        rows: np.ndarray,
        verdict: str | None,
        label=None,
        text: str = "",
        show: Callable | None = None,
    ):
        super().__init__(model, rows, text or f"{verdict or 'clear'} {len(rows)} image{'s' * (len(rows) != 1)}", show)
        self.verdict, self.label = verdict, label

    def apply(self) -> bool:
        return self.model.set_verdict(self.rows, self.verdict, self.label)


class TagCommand(TileCommand):
    """Add and remove tags on rows; undo puts back each row's tags from before."""

    def __init__(self, model: TileModel, rows: np.ndarray, add=(), remove=(), show: Callable | None = None):
        words = ", ".join([*(f"+{t}" for t in add), *(f"−{t}" for t in remove)])
        super().__init__(model, rows, f"tag {len(rows)} image{'s' * (len(rows) != 1)} {words}", show, with_tags=True)
        self.after = {r: (tags | frozenset(add)) - frozenset(remove) for r, tags in self.tags_before.items()}

    def apply(self) -> bool:
        return self.model.set_tags(self.after)


class ImportCommand(TileCommand):
    """The rows of a corrections CSV: each image gets the row's verdict and tags; undo puts back the before."""

    def __init__(self, model: TileModel, rows: list[CsvRow], text: str, show: Callable | None = None):
        super().__init__(model, np.array([r.index for r in rows], np.int64), text, show, with_tags=True)
        self.codes = np.array([CODES[r.verdict] if r.verdict else NO_VERDICT for r in rows], np.int8)
        self.new_labels = np.array([-1 if r.new_label is None else r.new_label for r in rows], np.int64)
        self.tags_after = {r.index: frozenset(r.tags) for r in rows}

    def apply(self) -> bool:
        return self.model.restore_verdicts(self.rows, self.codes, self.new_labels, self.tags_after)
