"""What File ▸ Export and Import do, once the dialog has a path: the PNG of the view, the
corrections as CSV or JSON, and verdicts and tags brought back from a CSV or JSON file.

Every one ends with a status-bar message naming the file (or a message box saying why not), and
a name without the format's suffix gets it (".csv", ".json", ".png"), as a file dialog would.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QMessageBox

from gui.png_export import MAX_TILES, render_tiles
from gui.verdict_undo import ImportCommand
from inference.core.errors import CorrectionsError

MESSAGE_MS = 10_000  # long enough to read a path


def with_suffix(path: str, suffix: str) -> str:
    """`path`, with `suffix` (".csv") added unless it already ends so, in any case."""
    return str(path) if str(path).lower().endswith(suffix) else f"{path}{suffix}"


def model_version(model_path: Path | None) -> str:
    """The version folder's name (models/fashion_mnist/3/model.onnx: "3"); "" for a loose file."""
    name = Path(model_path).parent.name if model_path else ""
    return name if name.isdigit() else ""


class FileExchange:
    def __init__(self, window):
        self.window = window

    def _say(self, text: str) -> None:
        self.window.status_line.showMessage(text, MESSAGE_MS)

    def _refuse(self, title: str, text: str) -> None:
        self.window.show_message(QMessageBox.Icon.Critical, title, text)

    def export_png(self, path: str) -> int:
        """The current view (first MAX_TILES tiles, in view order) as a PNG; returns tiles written."""
        w = self.window
        path = with_suffix(path, ".png")
        shown = w.view_model.rowCount()
        indexes = [w.view_model.index(row) for row in range(min(shown, MAX_TILES))]
        if not indexes:
            self._say(f"nothing exported: this view shows no images ({path} not written)")
            return 0
        if not render_tiles(indexes, w.grid.palette(), show_index=w.grid.delegate.show_index).save(path, "PNG"):
            self._refuse("Not exported", f"could not write {path}; choose a folder you can write to")
            return 0
        extra = f" (the first {len(indexes):,} of {shown:,})" if len(indexes) < shown else ""
        self._say(f"exported {len(indexes):,} tiles{extra} to {path}")
        return len(indexes)

    def export_corrections(self, path: str, kind: str = "csv") -> int:
        """The split's verdicts and tags as CSV (with the report's columns) or its verdicts as JSON
        (format /2); returns how many rows."""
        w, store = self.window, self.window.tiles.store
        path = with_suffix(path, f".{kind}")
        if store is None:
            self._say(f"nothing exported: no corrections store is open ({path} not written)")
            return 0
        try:
            if kind == "csv":
                review, scored = w.tiles.review, w.tiles.scored
                n = store.export_csv(
                    path,
                    review.suggested if review else None,
                    review.quality if review else None,
                    model_version(scored.model_path if scored else None),
                )
            else:
                n = store.export_json(path)
        except CorrectionsError as e:
            self._refuse("Not exported", str(e))
            return 0
        what = "images with a verdict or tag" if kind == "csv" else "verdicts"
        self._say(f"exported {n:,} {what} of the {w.tiles.split_name} split to {path}")
        return n

    def import_csv(self, path: str) -> int:
        """Verdicts and tags from a corrections CSV, every row checked before anything changes, as
        one undo step; returns how many rows were applied."""
        w, store = self.window, self.window.tiles.store
        if store is None:
            self._say(f"nothing imported from {path}: verdicts are off ({w.tiles.refusal or 'no store is open'})")
            return 0
        try:
            found = store.read_csv(path)
        except CorrectionsError as e:
            self._refuse("Not imported", str(e))
            return 0
        skipped = f", skipped {len(found.skipped):,} (first: {found.skipped[0]})" if found.skipped else ", skipped 0"
        if found.rows:
            command = ImportCommand(
                w.tiles, found.rows, f"import {len(found.rows):,} rows from {Path(path).name}", w.show_rows
            )
            w.undo_stack.push(command)
            if not command.done:
                return 0  # the store said why (save_failed)
            w.show_rows(np.array([r.index for r in found.rows]))
        self._say(f"imported {len(found.rows):,}{skipped} from {path}")
        return len(found.rows)

    def import_json(self, path: str) -> int:
        """Add the verdicts of a corrections JSON file (an export); returns how many were new."""
        store = self.window.tiles.store
        if store is None:
            self._say(f"nothing imported from {path}: no corrections store is open")
            return 0
        try:
            added = store.import_json(path)
        except CorrectionsError as e:
            self._refuse("Not imported", str(e))
            return 0
        self.window.tiles.reload_verdicts()
        self._say(f"imported {added:,} new verdicts from {path}")
        return added
