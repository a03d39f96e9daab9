"""The labeler's window: filter bar and grid in the middle, confusion matrix left, detail right.

It wires the pieces together and holds what is not model state: the scoring thread, the undo
stack, the menus and shortcuts, the dialogs.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
from PySide6.QtCore import QKeyCombination, QModelIndex, QThread, Qt, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (QComboBox, QFileDialog, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QMainWindow,
                               QMessageBox, QProgressBar, QSlider, QSplitter, QVBoxLayout, QWidget)

from gui.confusion import ConfusionModel, make_confusion_view
from gui.corrections import CorrectionsError, CorrectionStore
from gui.detail_panel import DetailPanel
from gui.export import MAX_TILES, render_grid
from gui.scoring import ScoredSplit, ScoringRequest, ScoringWorker
from gui.tile_delegate import DEFAULT_ZOOM, ZOOMS, TileDelegate, TileGridView
from gui.tile_filter import TileFilterModel
from gui.tile_model import TileModel

SHOW_CHOICES = (("all", "All"), ("mistakes", "Mistakes only"), ("correct", "Correct only"))
SORT_CHOICES = (("index", "Index"), ("confidence", "Least confident first"),
                ("loss", "Highest loss first"))
LEGEND = ("Each tile: true label above predicted label. <b style='color:#d50000'>Red</b>: mistake. "
          "<b style='color:#7b1fa2'>Purple frame and corner</b>: corrected label.<br>"
          "Keys: arrows/PgUp/PgDn/Home/End move · N/P next/previous mistake · "
          "0–9 relabel selection · Ctrl+Z / Ctrl+Shift+Z undo/redo")


class RelabelCommand(QUndoCommand):
    """Relabel some rows; undo gives each its label from before."""

    def __init__(self, model: TileModel, rows: np.ndarray, label: int):
        super().__init__(f"relabel {len(rows)} image{'s' * (len(rows) != 1)} as {model.class_names[label]}")
        self.model, self.rows, self.label = model, rows, label
        self.before = model.labels[rows].copy()

    def redo(self) -> None:
        if not self.model.set_labels(self.rows, self.label):
            self.setObsolete(True)  # not saved: keep it off the stack

    def undo(self) -> None:
        self.model.set_labels(self.rows, self.before)


class MainWindow(QMainWindow):
    scored = Signal()  # a split is scored and shown
    load_failed = Signal(str)  # model or data could not be loaded: one clear line

    def __init__(self, request: ScoringRequest | None = None, parent=None):
        super().__init__(parent)
        self.request = request or ScoringRequest()
        self.setWindowTitle("Fashion-MNIST labeler")
        self.message_box: QMessageBox | None = None
        self._thread: QThread | None = None
        self._worker: ScoringWorker | None = None
        self._busy = False  # a worker is loading or scoring
        self._last_saved = ""

        self.tiles = TileModel(self)
        self.view_model = TileFilterModel(self.tiles, self)
        self.delegate = TileDelegate(parent=self)
        self.grid = TileGridView(self.delegate)
        self.grid.setModel(self.view_model)
        self.confusion_model = ConfusionModel(self)
        self.confusion_view = make_confusion_view(self.confusion_model)
        self.detail = DetailPanel()
        self.undo_stack = QUndoStack(self)

        self._build_filter_bar()
        self._build_layout()
        self._build_status_bar()
        self._build_menus()

        self.grid.selectionModel().currentChanged.connect(self._on_current_changed)
        self.view_model.dataChanged.connect(self._on_view_data_changed)
        self.view_model.view_changed.connect(self._on_view_changed)
        self.tiles.labels_changed.connect(self._on_labels_changed)
        self.tiles.saved.connect(self._on_saved)
        self.tiles.save_failed.connect(self._on_save_failed)
        self.confusion_view.clicked.connect(self._on_confusion_clicked)
        self.resize(1440, 900)

    # --- construction --------------------------------------------------------------------------
    def _build_filter_bar(self) -> None:
        self.show_filter = QComboBox()
        for key, text in SHOW_CHOICES:
            self.show_filter.addItem(text, key)
        self.true_filter = QComboBox()
        self.predicted_filter = QComboBox()
        self.sort_choice = QComboBox()
        for key, text in SORT_CHOICES:
            self.sort_choice.addItem(text, key)
        self.zoom_slider = QSlider(Qt.Orientation.Horizontal)
        self.zoom_slider.setRange(0, len(ZOOMS) - 1)
        self.zoom_slider.setValue(ZOOMS.index(DEFAULT_ZOOM))
        self.zoom_slider.setFixedWidth(90)
        self.zoom_label = QLabel(f"×{DEFAULT_ZOOM}")
        self.shown_label = QLabel()
        for combo in (self.show_filter, self.true_filter, self.predicted_filter, self.sort_choice):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.show_filter.currentIndexChanged.connect(self._on_filter_widgets_changed)
        self.true_filter.currentIndexChanged.connect(self._on_filter_widgets_changed)
        self.predicted_filter.currentIndexChanged.connect(self._on_filter_widgets_changed)
        self.sort_choice.currentIndexChanged.connect(self._on_sort_changed)
        self.zoom_slider.valueChanged.connect(self._on_zoom_changed)

    def _build_layout(self) -> None:
        bar = QGridLayout()
        bar.addWidget(QLabel("Show"), 0, 0)
        bar.addWidget(self.show_filter, 0, 1)
        bar.addWidget(QLabel("True"), 0, 2)
        bar.addWidget(self.true_filter, 0, 3)
        bar.addWidget(QLabel("Predicted"), 0, 4)
        bar.addWidget(self.predicted_filter, 0, 5)
        bar.addWidget(QLabel("Sort"), 1, 0)
        bar.addWidget(self.sort_choice, 1, 1)
        zoom = QHBoxLayout()
        zoom.addWidget(QLabel("Zoom"))
        zoom.addWidget(self.zoom_slider)
        zoom.addWidget(self.zoom_label)
        bar.addLayout(zoom, 1, 2, 1, 2)
        bar.addWidget(self.shown_label, 1, 4, 1, 2)
        bar.setColumnStretch(6, 1)
        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.addLayout(bar)
        centre_layout.addWidget(self.grid, 1)
        confusion_box = QGroupBox("Confusion matrix — rows: true, columns: predicted; click a cell")
        QVBoxLayout(confusion_box).addWidget(self.confusion_view)
        self.confusion_view.setFixedHeight(330)
        legend = QLabel(LEGEND)
        legend.setWordWrap(True)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(confusion_box)
        left_layout.addWidget(legend)
        left_layout.addStretch(1)
        left.setMinimumWidth(430)
        detail_box = QGroupBox("Selected image")
        QVBoxLayout(detail_box).addWidget(self.detail)
        detail_box.setMinimumWidth(290)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(centre)
        splitter.addWidget(detail_box)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([430, 710, 300])
        self.setCentralWidget(splitter)

    def _build_status_bar(self) -> None:
        self.accuracy_label = QLabel("loading…")
        self.corrections_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setFixedWidth(220)
        self.progress.hide()
        self.statusBar().addWidget(self.accuracy_label, 1)
        self.statusBar().addPermanentWidget(self.corrections_label)
        self.statusBar().addPermanentWidget(self.progress)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction("Open &model…", self._ask_model)
        file_menu.addAction("Open &data folder…", self._ask_data_dir)
        file_menu.addAction("Open &corrections file…", self._ask_corrections)
        split_menu = file_menu.addMenu("&Split")
        self.split_actions = QActionGroup(self)
        for name in ("test", "train"):
            action = split_menu.addAction(name)
            action.setCheckable(True)
            action.setChecked(name == self.request.split)
            action.triggered.connect(lambda checked, n=name: self.set_split(n))
            self.split_actions.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction("Export view as &PNG…", self._ask_export_png)
        file_menu.addAction("Export corrections as C&SV…", self._ask_export_csv)
        file_menu.addSeparator()
        file_menu.addAction("&Quit", QKeySequence(QKeySequence.StandardKey.Quit), self.close)

        edit_menu = self.menuBar().addMenu("&Edit")
        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence("Ctrl+Z"))
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        edit_menu.addSeparator()
        self.relabel_actions: list[QAction] = []
        for k in range(10):
            action = QAction(f"Relabel selection as {k}", self)
            keypad = QKeyCombination(Qt.KeyboardModifier.KeypadModifier, Qt.Key(Qt.Key.Key_0.value + k))
            action.setShortcuts([QKeySequence(str(k)), QKeySequence(keypad)])
            action.triggered.connect(lambda checked=False, k=k: self.relabel_selection(k))
            edit_menu.addAction(action)
            self.relabel_actions.append(action)

        view_menu = self.menuBar().addMenu("&View")
        self.next_action = view_menu.addAction("&Next mistake", QKeySequence("N"), lambda: self.jump_to_mistake(+1))
        self.previous_action = view_menu.addAction("&Previous mistake", QKeySequence("P"), lambda: self.jump_to_mistake(-1))
        view_menu.addAction("&Refresh filter (drop relabelled tiles that no longer match)", QKeySequence("F5"),
                            self.view_model.refresh)
        view_menu.addAction("Zoom &in", QKeySequence(QKeySequence.StandardKey.ZoomIn),
                            lambda: self.zoom_slider.setValue(self.zoom_slider.value() + 1))
        view_menu.addAction("Zoom &out", QKeySequence(QKeySequence.StandardKey.ZoomOut),
                            lambda: self.zoom_slider.setValue(self.zoom_slider.value() - 1))
        self.addActions(self.relabel_actions + [self.undo_action, self.redo_action, self.next_action, self.previous_action])
        self._set_writable(False)

    # --- loading -------------------------------------------------------------------------------
    def start(self, request: ScoringRequest | None = None) -> bool:
        """Load and score in the background; `scored` or `load_failed` follows. False if busy."""
        if self._busy:
            self.statusBar().showMessage("still scoring — try again in a moment", 4000)
            return False
        self._finish_thread()
        pending = request or self.request
        thread = QThread(self)
        worker = ScoringWorker(pending)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.progress.connect(self._on_progress)
        worker.finished.connect(self._on_scored)
        worker.failed.connect(self._on_failed)
        worker.finished.connect(thread.quit)
        worker.failed.connect(thread.quit)
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._worker, self._pending, self._busy = thread, worker, pending, True
        self.progress.setValue(0)
        self.progress.show()
        thread.start()
        return True

    def open_model(self, path: str) -> bool:
        return self.start(replace(self.request, model=str(path)))

    def open_data_dir(self, path: str) -> bool:
        return self.start(replace(self.request, data_dir=str(path)))

    def set_split(self, split: str) -> bool:
        # A new split has its own default corrections file, unless one was named.
        return self.start(replace(self.request, split=split,
                                  corrections=None if split != self.request.split else self.request.corrections))

    def open_corrections(self, path: str) -> bool:
        """Use another corrections file for the split shown; a refused one leaves everything as is."""
        scored = self.tiles.scored
        if scored is None:
            return False
        try:
            store = CorrectionStore.load(path, scored.split.name, scored.split.digest, scored.split.labels)
        except CorrectionsError as e:
            self._message(QMessageBox.Icon.Warning, "Corrections file refused", str(e))
            return False
        self.request = replace(self.request, corrections=str(path))
        scored.corrections_path, scored.store, scored.refusal = Path(path), store, None
        self.undo_stack.clear()
        self.tiles.set_store(store)
        self._set_writable(True)
        return True

    @Slot(int, str)
    def _on_progress(self, percent: int, text: str) -> None:
        self.progress.setValue(percent)
        self.statusBar().showMessage(text)

    @Slot(object)
    def _on_scored(self, scored: ScoredSplit) -> None:
        self._busy = False
        self.request = self._pending
        self.undo_stack.clear()
        self.delegate.class_names = scored.class_names
        self.detail.class_names = scored.class_names
        self._fill_class_filters(scored.class_names)
        self.tiles.set_scored(scored)
        for action in self.split_actions.actions():
            action.setChecked(action.text() == scored.split.name)
        for k, action in enumerate(self.relabel_actions):
            action.setText(f"Relabel selection as {k} {scored.class_names[k]}")
        self._set_writable(scored.store is not None)
        self.progress.hide()
        self.statusBar().clearMessage()
        self.setWindowTitle(f"Fashion-MNIST labeler — {scored.split.name} split, {scored.model_path}")
        if self.view_model.rowCount():
            self.grid.setCurrentIndex(self.view_model.index(0))
        if scored.refusal:
            self._message(QMessageBox.Icon.Warning, "Corrections file refused",
                          f"{scored.refusal}\n\nRelabelling is off until you open a usable corrections "
                          "file (File ▸ Open corrections file…).")
        self.scored.emit()

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._busy = False
        self.progress.hide()
        self.statusBar().showMessage("could not load: " + message)
        self._message(QMessageBox.Icon.Critical, "Cannot open", message)
        self.load_failed.emit(message)

    @Slot()
    def _on_thread_finished(self) -> None:
        if not self._busy:
            self._finish_thread()

    def _finish_thread(self) -> None:
        if self._thread is None:
            return
        self._thread.quit()
        self._thread.wait()  # scoring cannot be interrupted; it finishes within seconds
        self._worker.deleteLater()
        self._thread.deleteLater()
        self._thread = self._worker = None

    def closeEvent(self, event) -> None:
        self._finish_thread()
        super().closeEvent(event)

    # --- filters -------------------------------------------------------------------------------
    def _fill_class_filters(self, class_names) -> None:
        for combo in (self.true_filter, self.predicted_filter):
            combo.blockSignals(True)
            combo.clear()
            combo.addItem("any", None)
            for k, name in enumerate(class_names):
                combo.addItem(f"{k} {name}", k)
            combo.blockSignals(False)
        self.view_model.set_filter(true_class=None, predicted_class=None)

    def filter_to_pair(self, true_class: int, predicted_class: int) -> None:
        """Show only the images of one confusion-matrix cell (all of them, right or wrong)."""
        for combo, value in ((self.show_filter, "all"), (self.true_filter, true_class),
                             (self.predicted_filter, predicted_class)):
            combo.blockSignals(True)
            combo.setCurrentIndex(combo.findData(value))
            combo.blockSignals(False)
        self._apply_filter()

    @Slot()
    def _on_filter_widgets_changed(self) -> None:
        self._apply_filter()

    def _apply_filter(self) -> None:
        current = self.view_model.mapToSource(self.grid.currentIndex())
        self.view_model.set_filter(self.show_filter.currentData(), self.true_filter.currentData(),
                                   self.predicted_filter.currentData())
        self._restore_current(current)

    @Slot()
    def _on_sort_changed(self) -> None:
        current = self.view_model.mapToSource(self.grid.currentIndex())
        self.view_model.set_sort(self.sort_choice.currentData())
        self._restore_current(current)

    def _restore_current(self, source_index: QModelIndex) -> None:
        index = self.view_model.mapFromSource(source_index)
        if not index.isValid() and self.view_model.rowCount():
            index = self.view_model.index(0)
        if index.isValid():
            self.grid.setCurrentIndex(index)
            self.grid.scrollTo(index)
        else:
            self.detail.show_index(QModelIndex())

    @Slot()
    def _on_view_changed(self) -> None:
        self._update_counts()
        t, p = self.view_model.true_class, self.view_model.predicted_class
        selection = self.confusion_view.selectionModel()
        if t is not None and p is not None and self.confusion_model.rowCount():
            self.confusion_view.setCurrentIndex(self.confusion_model.index(t, p))
        elif selection is not None:
            selection.clearSelection()

    def _update_counts(self) -> None:
        if not self.tiles.rowCount():
            return
        counts = self.view_model.counts()
        for i, (key, text) in enumerate(SHOW_CHOICES):
            self.show_filter.setItemText(i, f"{text} ({counts['show'][key]:,})")
        names = self.tiles.class_names
        for combo, key in ((self.true_filter, "true"), (self.predicted_filter, "predicted")):
            for k, name in enumerate(names):
                combo.setItemText(k + 1, f"{k} {name} ({counts[key][k]:,})")
        self.shown_label.setText(f"Showing {counts['shown']:,} of {counts['total']:,} images")

    @Slot(QModelIndex)
    def _on_confusion_clicked(self, index: QModelIndex) -> None:
        self.filter_to_pair(index.row(), index.column())

    @Slot(int)
    def _on_zoom_changed(self, value: int) -> None:
        self.zoom_label.setText(f"×{ZOOMS[value]}")
        self.grid.set_zoom(ZOOMS[value])

    # --- selection, navigation, relabelling ----------------------------------------------------
    @Slot(QModelIndex, QModelIndex)
    def _on_current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        self.detail.show_index(current)

    @Slot(QModelIndex, QModelIndex, "QList<int>")
    def _on_view_data_changed(self, top_left, bottom_right, roles=()) -> None:
        current = self.grid.currentIndex()
        if current.isValid() and top_left.row() <= current.row() <= bottom_right.row():
            self.detail.show_index(current)

    def selected_rows(self) -> np.ndarray:
        """Dataset indices of the selected tiles (the current one if none is selected)."""
        indexes = self.grid.selectionModel().selectedIndexes() or [self.grid.currentIndex()]
        rows = [self.view_model.mapToSource(i).row() for i in indexes if i.isValid()]
        return np.unique(np.array(rows, np.int64))

    def relabel_selection(self, label: int) -> bool:
        """Relabel every selected image as `label` (one undo step); saved before this returns."""
        if not self.tiles.writable:
            self.statusBar().showMessage("relabelling is off: the corrections file was refused", 5000)
            return False
        rows = self.selected_rows()
        rows = rows[self.tiles.labels[rows] != label]
        if not len(rows):
            return False
        self.undo_stack.push(RelabelCommand(self.tiles, rows, label))
        return True

    def jump_to_mistake(self, step: int) -> bool:
        current = self.grid.currentIndex()
        row = self.view_model.next_mistake(current.row() if current.isValid() else -1, step)
        if row is None:
            self.statusBar().showMessage(f"no {'next' if step > 0 else 'previous'} mistake in this view", 3000)
            return False
        self.grid.setCurrentIndex(self.view_model.index(row))
        self.grid.scrollTo(self.view_model.index(row))
        return True

    @Slot()
    def _on_labels_changed(self) -> None:
        if not self.tiles.rowCount():
            return
        self.confusion_model.set_counts(self.tiles.confusion(), self.tiles.class_names)
        self._update_counts()
        self._on_view_changed()
        n = len(self.tiles.store.records) if self.tiles.store is not None else 0
        split = self.tiles.scored.split.name
        self.accuracy_label.setText(
            f"Model accuracy on the {split} split: {self.tiles.accuracy():.2%}   ·   "
            f"against corrected labels: {self.tiles.accuracy(against_corrections=True):.2%} "
            f"({n:,} correction{'s' * (n != 1)})")
        self._show_corrections_state()

    @Slot(int)
    def _on_saved(self, count: int) -> None:
        self._last_saved = datetime.now().strftime("%H:%M:%S")
        self._show_corrections_state()

    @Slot(str)
    def _on_save_failed(self, message: str) -> None:
        self._message(QMessageBox.Icon.Critical, "Not saved", message)

    def _show_corrections_state(self) -> None:
        scored = self.tiles.scored
        if scored is None:
            return
        path = str(scored.corrections_path)
        home = str(Path.home())
        if path.startswith(home + "/"):
            path = "~" + path[len(home):]
        if self.tiles.store is None:
            self.corrections_label.setText(f"<b style='color:#d50000'>corrections refused (read-only)</b>: {path}")
        else:
            saved = f" — saved {self._last_saved}" if self._last_saved else ""
            self.corrections_label.setText(f"corrections: {path}{saved}")

    def _set_writable(self, writable: bool) -> None:
        for action in self.relabel_actions:
            action.setEnabled(writable)

    # --- export --------------------------------------------------------------------------------
    def export_png(self, path: str) -> int:
        """The current view (first MAX_TILES tiles, in view order) as a PNG; returns tiles written."""
        rows = self.view_model.source_rows()[:MAX_TILES]
        if not len(rows):
            return 0
        if not render_grid(self.tiles, rows).save(str(path), "PNG"):
            self._message(QMessageBox.Icon.Critical, "Not exported", f"could not write {path}")
            return 0
        return len(rows)

    def export_csv(self, path: str) -> int:
        if self.tiles.store is None:
            return 0
        try:
            return self.tiles.store.export_csv(path, self.tiles.class_names)
        except OSError as e:
            self._message(QMessageBox.Icon.Critical, "Not exported", f"could not write {path}: {e.strerror}")
            return 0

    # --- file dialogs (thin: each hands a path to a public method) -----------------------------
    @Slot()
    def _ask_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open model", "", "ONNX models (*.onnx);;All files (*)")
        if path:
            self.open_model(path)

    @Slot()
    def _ask_data_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open Fashion-MNIST folder")
        if path:
            self.open_data_dir(path)

    @Slot()
    def _ask_corrections(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Open or create a corrections file", "",
                                              "Corrections (*.json)", options=QFileDialog.Option.DontConfirmOverwrite)
        if path:
            self.open_corrections(path)

    @Slot()
    def _ask_export_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export view as PNG", "view.png", "PNG (*.png)")
        if path:
            n = self.export_png(path)
            shown = self.view_model.rowCount()
            extra = f" (the first {n:,} of {shown:,})" if n < shown else ""
            self.statusBar().showMessage(f"exported {n:,} tiles{extra} to {path}", 6000)

    @Slot()
    def _ask_export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export corrections as CSV", "corrections.csv", "CSV (*.csv)")
        if path:
            n = self.export_csv(path)
            self.statusBar().showMessage(f"exported {n:,} corrections to {path}", 6000)

    def _message(self, icon, title: str, text: str) -> None:
        """A window-modal message that does not block the event loop; the latest is `message_box`."""
        if self.message_box is not None:
            self.message_box.deleteLater()
        self.message_box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self)
        self.message_box.open()
