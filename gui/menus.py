"""The window's File, Edit and View menus, their shortcuts, and the file dialogs behind them.

Every action ends in one of the window's public methods (open_model, relabel_selection,
export_png, ...), so whatever a menu does, a test or a script can do without a dialog.
"""

from __future__ import annotations

from PySide6.QtCore import QKeyCombination, QObject, Qt, Slot
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow


class WindowMenus(QObject):
    def __init__(self, window: QMainWindow):
        super().__init__(window)
        self.window = window
        self._build_file_menu(window.menuBar().addMenu("&File"))
        self._build_edit_menu(window.menuBar().addMenu("&Edit"))
        self._build_view_menu(window.menuBar().addMenu("&View"))
        # Shortcuts that work wherever the focus is, menus open or not.
        window.addActions(self.relabel_actions + [self.undo_action, self.redo_action, self.next_action,
                                                  self.previous_action])
        self.set_writable(False)

    def _build_file_menu(self, menu) -> None:
        menu.addAction("Open &model…", self._ask_model)
        menu.addAction("Open &data folder…", self._ask_data_dir)
        menu.addAction("Open &corrections file…", self._ask_corrections)
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
        menu.addAction("Export corrections as C&SV…", self._ask_export_csv)
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
        self.relabel_actions: list[QAction] = []
        for k in range(10):
            action = QAction(f"Relabel selection as {k}", self)
            keypad = QKeyCombination(Qt.KeyboardModifier.KeypadModifier, Qt.Key(Qt.Key.Key_0.value + k))
            action.setShortcuts([QKeySequence(str(k)), QKeySequence(keypad)])
            action.triggered.connect(lambda checked=False, k=k: self.window.relabel_selection(k))
            menu.addAction(action)
            self.relabel_actions.append(action)

    def _build_view_menu(self, menu) -> None:
        window = self.window
        self.next_action = menu.addAction("&Next mistake", QKeySequence("N"), lambda: window.jump_to_mistake(+1))
        self.previous_action = menu.addAction("&Previous mistake", QKeySequence("P"), lambda: window.jump_to_mistake(-1))
        menu.addAction("&Refresh filter (drop relabelled tiles that no longer match)", QKeySequence("F5"),
                       window.view_model.refresh)
        menu.addAction("Zoom &in", QKeySequence(QKeySequence.StandardKey.ZoomIn),
                       lambda: window.filter_bar.step_zoom(+1))
        menu.addAction("Zoom &out", QKeySequence(QKeySequence.StandardKey.ZoomOut),
                       lambda: window.filter_bar.step_zoom(-1))

    # --- what the window tells the menus -------------------------------------------------------
    def show_split(self, split: str, class_names) -> None:
        for action in self.split_actions.actions():
            action.setChecked(action.text() == split)
        for k, action in enumerate(self.relabel_actions):
            action.setText(f"Relabel selection as {k} {class_names[k]}")

    def set_writable(self, writable: bool) -> None:
        for action in self.relabel_actions:
            action.setEnabled(writable)

    # --- file dialogs (thin: each hands a path to a public method of the window) ---------------
    @Slot()
    def _ask_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open model", "", "ONNX models (*.onnx);;All files (*)")
        if path:
            self.window.open_model(path)

    @Slot()
    def _ask_data_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(self.window, "Open Fashion-MNIST folder")
        if path:
            self.window.open_data_dir(path)

    @Slot()
    def _ask_corrections(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Open or create a corrections file", "",
                                              "Corrections (*.json)", options=QFileDialog.Option.DontConfirmOverwrite)
        if path:
            self.window.open_corrections(path)

    @Slot()
    def _ask_export_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Export view as PNG", "view.png", "PNG (*.png)")
        if path:
            n = self.window.export_png(path)
            shown = self.window.view_model.rowCount()
            extra = f" (the first {n:,} of {shown:,})" if n < shown else ""
            self.window.status_line.showMessage(f"exported {n:,} tiles{extra} to {path}", 6000)

    @Slot()
    def _ask_export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Export corrections as CSV", "corrections.csv", "CSV (*.csv)")
        if path:
            n = self.window.export_csv(path)
            self.window.status_line.showMessage(f"exported {n:,} corrections to {path}", 6000)
