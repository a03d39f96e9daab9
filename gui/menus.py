"""The window's File, Edit, View and Help menus, their shortcuts, and the file dialogs behind them
(each opens in the folder it last used, remembered between launches).

Every action ends in one of the window's public methods (open_model, give_verdict, export_png,
...), so whatever a menu does, a test or a script can do without a dialog.

Review keys, one per image: Enter accepts the report's suggestion, 0-9 relabel, C confirms the
given label, X excludes the image, Backspace/Delete clears the verdict; T tags the selection.

A file dialog opens in the folder of what is open now (the model, the data, the corrections
store), else in the folder it last used.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QKeyCombination, QObject, Qt, Slot
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QDialog, QFileDialog, QInputDialog, QMainWindow, QVBoxLayout

from gui.png_export import MAX_TILES
from gui.reliability_view import ReliabilityView
from gui.shortcuts_dialog import ShortcutsDialog
from gui.templates_view import TemplatesView
from gui.window_settings import last_folder, remember_folder
from inference.core.calibration import reliability_bins


class WindowMenus(QObject):
    def __init__(self, window: QMainWindow):
        super().__init__(window)
        self.window = window
        self._build_file_menu(window.menuBar().addMenu("&File"))
        self._build_edit_menu(window.menuBar().addMenu("&Edit"))
        self._build_view_menu(window.menuBar().addMenu("&View"))
        self._build_help_menu(window.menuBar().addMenu("&Help"))
        # Shortcuts that work wherever the focus is, menus open or not (but see KeysStayHere).
        window.addActions(
            self.verdict_actions
            + [
                self.tag_action,
                self.undo_action,
                self.redo_action,
                self.next_action,
                self.previous_action,
                self.go_to_action,
                self.help_action,
            ]
        )
        self.set_writable(False)

    def _build_file_menu(self, menu) -> None:
        menu.addAction("Open &model…", self._ask_model)
        menu.addAction("Open &data folder…", self._ask_data_dir)
        menu.addAction("Open &corrections store…", self._ask_corrections)
        self.import_csv_action = menu.addAction("Import &verdicts from CSV…", self._ask_import_csv)
        self.import_action = menu.addAction("&Import corrections JSON…", self._ask_import_json)
        split_menu = menu.addMenu("&Split")
        self.split_actions = QActionGroup(self)
        for name in ("test", "train"):
            action = split_menu.addAction(name)
            action.setCheckable(True)
            action.setChecked(name == self.window.request.split)
            action.triggered.connect(lambda checked, n=name: self.window.set_split(n))
            self.split_actions.addAction(action)
        menu.addSeparator()
        menu.addAction("Export view as &PNG…", self._ask_export_png)
        menu.addAction("Export corrections as C&SV…", lambda: self._ask_export("CSV", "csv"))
        menu.addAction("Export corrections as &JSON…", lambda: self._ask_export("JSON", "json"))
        menu.addSeparator()
        menu.addAction("&Quit", QKeySequence(QKeySequence.StandardKey.Quit), self.window.close)

    def _build_edit_menu(self, menu) -> None:
        self.undo_action = self.window.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence("Ctrl+Z"))
        self.redo_action = self.window.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        menu.addAction(self.undo_action)
        menu.addAction(self.redo_action)
        menu.addSeparator()
        window = self.window
        keypad = Qt.KeyboardModifier.KeypadModifier
        self.relabel_actions = [
            self._verdict_action(
                menu,
                f"Relabel selection as {k}",
                lambda k=k: window.give_verdict("relabel", k),
                [str(k), QKeyCombination(keypad, Qt.Key(Qt.Key.Key_0.value + k))],
            )
            for k in range(10)
        ]
        menu.addSeparator()
        self.accept_action = self._verdict_action(
            menu,
            "&Accept the suggested label",
            window.accept_suggestion,
            ["Return", "Enter", QKeyCombination(keypad, Qt.Key.Key_Enter)],
        )
        self.confirm_action = self._verdict_action(
            menu, "&Confirm the given label", lambda: window.give_verdict("confirmed"), ["C"]
        )
        self.exclude_action = self._verdict_action(
            menu, "E&xclude (ambiguous, not a garment)", lambda: window.give_verdict("exclude"), ["X"]
        )
        self.clear_action = self._verdict_action(
            menu, "C&lear the verdict", lambda: window.give_verdict(None), ["Backspace", "Delete"]
        )
        self.verdict_actions = self.relabel_actions + [
            self.accept_action,
            self.confirm_action,
            self.exclude_action,
            self.clear_action,
        ]
        menu.addSeparator()
        self.tag_action = self._verdict_action(menu, "&Tag the selection…", window.tagging.ask, ["T"])

    def _verdict_action(self, menu, text: str, slot, keys) -> QAction:
        action = QAction(text, self)
        action.setShortcuts([QKeySequence(key) for key in keys])
        action.triggered.connect(lambda checked=False: slot())
        menu.addAction(action)
        return action

    def _build_view_menu(self, menu) -> None:
        window = self.window
        self.next_action = menu.addAction("&Next mistake", QKeySequence("N"), lambda: window.jump_to_mistake(+1))
        self.previous_action = menu.addAction(
            "&Previous mistake", QKeySequence("P"), lambda: window.jump_to_mistake(-1)
        )
        menu.addAction(
            "&Refresh filter (drop relabelled tiles that no longer match)",
            QKeySequence("F5"),
            window.view_model.refresh,
        )
        menu.addAction(
            "Zoom &in", QKeySequence(QKeySequence.StandardKey.ZoomIn), lambda: window.filter_bar.step_zoom(+1)
        )
        menu.addAction(
            "Zoom &out", QKeySequence(QKeySequence.StandardKey.ZoomOut), lambda: window.filter_bar.step_zoom(-1)
        )
        self.go_to_action = menu.addAction("&Go to image…", QKeySequence("Ctrl+G"), self._ask_go_to_index)
        menu.addSeparator()
        self.tile_index_action = menu.addAction("Show tile &indexes")
        self.tile_index_action.setCheckable(True)
        self.tile_index_action.setChecked(window.grid.delegate.show_index)
        self.tile_index_action.toggled.connect(window.grid.set_show_index)
        self.why_action = menu.addAction("&Why heat map in the detail panel")
        self.why_action.setCheckable(True)
        self.why_action.setChecked(True)
        self.why_action.toggled.connect(window.detail.why.set_overlay)
        window.detail.why.overlay_toggled.connect(self.why_action.setChecked)
        menu.addAction("Class &templates…", self.show_templates)
        menu.addAction("&Reliability diagram…", self.show_reliability)
        panes = menu.addMenu("&Panes")
        for pane in window.docks.values():
            panes.addAction(pane.toggleViewAction())

    def show_templates(self) -> QDialog | None:
        """The ten rows of W as 28x28 images on one colour scale: what each class looks for."""
        scored = self.window.tiles.scored
        if scored is None or scored.weights is None:
            self.window.status_line.showMessage(scored.weights_note if scored else "no model loaded yet", 8000)
            return None
        view = TemplatesView()
        view.set_weights(scored.weights, scored.class_names)
        return self._show_dialog("Class templates", view)

    def show_reliability(self) -> QDialog | None:
        """Accuracy against confidence per bin on the split shown, against the labels in force."""
        tiles = self.window.tiles
        if tiles.scored is None:
            return None
        view = ReliabilityView()
        view.set_bins(reliability_bins(tiles.probabilities, tiles.labels), f"{tiles.split_name} split, labels in force")
        return self._show_dialog("Reliability diagram", view)

    def _show_dialog(self, title: str, view) -> QDialog:
        dialog = QDialog(self.window)
        dialog.setWindowTitle(title)
        QVBoxLayout(dialog).addWidget(view)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def _build_help_menu(self, menu) -> None:
        self.help_action = menu.addAction("&Keyboard shortcuts", self.show_shortcuts)
        self.help_action.setShortcuts([QKeySequence("?"), QKeySequence("F1")])

    @Slot()
    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    # --- what the window tells the menus -------------------------------------------------------
    def show_split(self, split: str, class_names) -> None:
        for action in self.split_actions.actions():
            action.setChecked(action.text() == split)
        for k, action in enumerate(self.relabel_actions):
            action.setText(f"Relabel selection as {k} {class_names[k]}")

    def set_writable(self, writable: bool) -> None:
        for action in self.verdict_actions + [self.tag_action, self.import_action, self.import_csv_action]:
            action.setEnabled(writable)

    # --- file dialogs (thin: each hands a path to a public method of the window) ---------------
    def _start(self, dialog: str, name: str = "") -> str:
        """Where `dialog` opens: the folder of what is open now, else the one it last used."""
        return os.path.join(self.open_folder(dialog) or last_folder(self.window.settings, dialog), name)

    def open_folder(self, dialog: str) -> str:
        """The folder of the model, data or corrections store in use ("" if none): where a
        "model", "data" or "corrections" dialog starts; export and import start at the store's."""
        tiles, request = self.window.tiles, self.window.request
        if dialog == "model":
            path = tiles.scored.model_path if tiles.scored is not None else request.model
            return os.path.dirname(os.path.abspath(path)) if path and os.path.isfile(path) else (path or "")
        if dialog == "data":
            return str(tiles.scored.split.source) if tiles.scored is not None else (request.data_dir or "")
        store = tiles.corrections_path
        return os.path.dirname(os.path.abspath(store)) if store is not None else ""

    def _remember(self, dialog: str, path: str, is_folder: bool = False) -> None:
        remember_folder(self.window.settings, dialog, path if is_folder else os.path.dirname(path))

    @Slot()
    def _ask_go_to_index(self) -> None:
        n = self.window.tiles.rowCount()
        if not n:
            return
        current = self.window.current_by_split.get(self.window.tiles.split_name, 0)
        index, ok = QInputDialog.getInt(
            self.window, "Go to image", f"Dataset index (0 to {n - 1:,}):", current, 0, n - 1
        )
        if ok:
            self.window.go_to_index(index)

    @Slot()
    def _ask_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Open model", self._start("model"), "ONNX models (*.onnx);;All files (*)"
        )
        if path:
            self._remember("model", path)
            self.window.open_model(path)

    @Slot()
    def _ask_data_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(self.window, "Open Fashion-MNIST folder", self._start("data"))
        if path:
            self._remember("data", path, is_folder=True)
            self.window.open_data_dir(path)

    @Slot()
    def _ask_corrections(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self.window,
            "Open or create a corrections store",
            self._start("corrections"),
            "Corrections store (*.sqlite);;All files (*)",
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if path:
            self._remember("corrections", path)
            self.window.open_corrections(path)

    @Slot()
    def _ask_import_json(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Import corrections JSON", self._start("import"), "JSON (*.json)"
        )
        if path:
            self._remember("import", path)
            self.window.files.import_json(path)

    @Slot()
    def _ask_import_csv(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.window,
            "Import verdicts and tags from a corrections CSV",
            self._start("import"),
            "CSV (*.csv);;All files (*)",
        )
        if path:
            self._remember("import", path)
            self.window.files.import_csv(path)

    @Slot()
    def _ask_export_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self.window,
            f"Export view as PNG (its first {MAX_TILES:,} tiles)",
            self._start("export", "view.png"),
            "PNG (*.png)",
        )
        if path:
            self._remember("export", path)
            self.window.files.export_png(path)

    def _ask_export(self, kind: str, suffix: str) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self.window,
            f"Export corrections as {kind}",
            self._start("export", f"corrections.{suffix}"),
            f"{kind} (*.{suffix})",
        )
        if path:
            self._remember("export", path)
            self.window.files.export_corrections(path, suffix)
