"""Tags from the window: T opens the tag field (with completion from the tags already used) for
the selected images; the tile menu adds and removes them too. Each change is one undo step.
The rule for a tag's text is the store's (inference.core.corrections), checked here first
so the field can say what is wrong before anything is written."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QCompleter, QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout

from gui.verdict_undo import TagCommand
from inference.core.corrections import TAG_MAX_CHARS, TAG_RULE, parse_tags
from inference.core.errors import CorrectionsError


class TagDialog(QDialog):
    """One line for one or more tags ("camisole; bag with strap"), completed from `known` tags."""

    def __init__(self, parent, count: int, known: list[str], have: dict[str, int]):
        super().__init__(parent)
        self.setWindowTitle(f"Tag {count:,} image{'s' * (count != 1)}")
        self.field = QLineEdit()
        self.field.setPlaceholderText("camisole; bag with strap")
        self.field.setMaxLength(10 * (TAG_MAX_CHARS + 2))
        self.completer = QCompleter(known, self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.field.setCompleter(self.completer)
        now = ", ".join(f"{t} ({n:,})" for t, n in have.items()) or "none"
        self.hint = QLabel(f"Tags these images have now: {now}\nRule: {TAG_RULE}.")
        self.hint.setWordWrap(True)
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #c62828")
        self.problem.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.field.textChanged.connect(self._check)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Add tags (commas or semicolons between them):"))
        layout.addWidget(self.field)
        layout.addWidget(self.problem)
        layout.addWidget(self.hint)
        layout.addWidget(self.buttons)
        self._check("")

    def tags(self) -> tuple[str, ...]:
        """The field's tags, checked; CorrectionsError with the rule if one breaks it."""
        return parse_tags(self.field.text())

    @Slot(str)
    def _check(self, text: str) -> None:
        try:
            ok = bool(parse_tags(text))
            self.problem.clear()
        except CorrectionsError as e:
            ok = False
            self.problem.setText(str(e))
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)


class Tagging:
    def __init__(self, window):
        self.window = window
        self.dialog: TagDialog | None = None

    def _push(self, rows: np.ndarray, add=(), remove=()) -> bool:
        w = self.window
        if not w.tiles.writable:
            w.status_line.showMessage(f"tags are off: {w.tiles.refusal or 'no corrections store is open'}", 5000)
            return False
        if not len(rows):
            return False
        command = TagCommand(w.tiles, rows, add, remove, w.show_rows)
        if command.after == command.tags_before:
            w.status_line.showMessage("no change: the selected images already have those tags", 4000)
            return False
        w.undo_stack.push(command)
        if command.done:
            words = ", ".join([*add, *(f"removed {t}" for t in remove)])
            w.status_line.showMessage(f"tagged {len(rows):,} image{'s' * (len(rows) != 1)}: {words}", 5000)
        return command.done

    def add_tags(self, text: str) -> bool:
        """Add the tags in `text` ("camisole; bag") to the selected images, as one undo step."""
        try:
            tags = parse_tags(text)
        except CorrectionsError as e:
            self.window.status_line.showMessage(str(e), 8000)
            return False
        return bool(tags) and self._push(self.window.selected_rows(), add=tags)

    def remove_tag(self, tag: str) -> bool:
        """Take `tag` off the selected images, as one undo step."""
        return self._push(self.window.selected_rows(), remove=(tag,))

    def tags_of_selection(self) -> dict[str, int]:
        return self.window.tiles.tags.in_rows(self.window.selected_rows())

    def ask(self) -> TagDialog | None:
        """T: the tag field for the selection; its OK adds the tags."""
        w = self.window
        rows = w.selected_rows()
        if not len(rows):
            return None
        if not w.tiles.writable:
            return self._push(rows) and None
        if self.dialog is not None:
            self.dialog.deleteLater()
        self.dialog = TagDialog(w, len(rows), w.tiles.tags.names(), self.tags_of_selection())
        self.dialog.accepted.connect(lambda dialog=self.dialog: self.add_tags(dialog.field.text()))
        self.dialog.open()
        return self.dialog
