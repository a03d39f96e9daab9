"""The labeler's window: filter bar and grid in the middle; confusion matrix, legend and the
selected image in dock widgets around it.

It wires the pieces together and holds what belongs to none of them: the undo stack, the
grid's current tile across re-filters and its move to the next image after each verdict, going
to an image by index, the messages. The pieces each have their module: the panes
(`gui.window_layout`), the filter bar (`gui.filter_bar`), the background scoring
(`gui.scoring_thread`), the menus and their file dialogs (`gui.menus`), the right-click menu
(`gui.tile_menu`), the status bar (`gui.status_line`), what is remembered between launches
(`gui.window_settings`), the verdicts and the report in the tile model (`gui.tile_model`),
export and import (`gui.file_exchange`), tags (`gui.tagging`), the first launch's size
(`gui.screen_fit`). Undo and redo hand the window the rows they changed (`show_rows`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import (
    QEvent,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPoint,
    QRect,
    QSettings,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QMainWindow, QMessageBox

from gui.cell_filter import narrow_to_cell
from gui.confusion import ConfusionModel, make_confusion_view
from gui.detail_panel import DetailPanel
from gui.file_exchange import FileExchange
from gui.filter_bar import FilterBar
from gui.go_to_image import go_to_image
from gui.menus import WindowMenus
from gui.report_banner import make_report_command
from gui.review import model_name
from gui.scoring import ScoredSplit, Scorer, ScoringRequest, score_split
from gui.scoring_thread import BackgroundScoring
from gui.screen_fit import first_geometry
from gui.status_line import StatusLine
from gui.tagging import Tagging
from gui.tile_delegate import TileDelegate, TileGridView
from gui.tile_filter import TileFilterModel
from gui.tile_menu import tile_menu
from gui.tile_model import TileModel
from gui.verdict_undo import VerdictCommand
from gui.window_layout import KeysStayHere, build_panes
from gui.window_settings import restore_window, save_window
from inference.core.label_issues import HOW_TO_MAKE


class MainWindow(QMainWindow):
    scored = Signal()  # a split is scored and shown
    load_failed = Signal(str)  # model or data could not be loaded: one clear line

    def __init__(
        self,
        request: ScoringRequest | None = None,
        parent=None,
        settings: QSettings | None = None,
        available: QRect | None = None,
        score: Scorer = score_split,
    ):
        """`available`: the screen area a first launch fits in (default: this screen's available geometry);
        `score`: what loads and scores a request off the GUI thread (tests pass one that remembers)."""
        super().__init__(parent)
        self.request = request or ScoringRequest()
        self.settings = settings  # None: remember nothing (tests, embedding)
        self.setWindowTitle("Fashion-MNIST labeler")
        self.message_box: QMessageBox | None = None
        self._current_row = -1  # dataset index of the grid's current tile across a re-filter
        self._detail_stale = False  # the current image's data changed since the detail panel showed it
        self.current_by_split: dict[str, int] = {}  # dataset index of the current tile, per split

        self.tiles = TileModel(self)
        self.view_model = TileFilterModel(self.tiles, self)
        self.filter_bar = FilterBar(self.view_model)
        self.grid = TileGridView(TileDelegate(parent=self, show_index=True))
        self.grid.setModel(self.view_model)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.confusion_model = ConfusionModel(self)
        self.confusion_view = make_confusion_view(self.confusion_model)
        self.confusion_view.installEventFilter(KeysStayHere(self))
        self.detail = DetailPanel()
        self.undo_stack = QUndoStack(self)
        self.scoring = BackgroundScoring(self, score)
        self.status_line = StatusLine(self.tiles)
        self.setStatusBar(self.status_line)

        build_panes(self)
        self.files = FileExchange(self)  # File ▸ Export / Import, after the dialogs
        self.tagging = Tagging(self)
        self.menus = WindowMenus(self)

        self.grid.selectionModel().currentChanged.connect(self._on_current_changed)
        self.grid.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.grid.customContextMenuRequested.connect(self._on_context_menu)
        self.filter_bar.zoom_changed.connect(self.grid.set_zoom)
        self.filter_bar.choice_changed.connect(self.go_to_top)
        self.view_model.about_to_change.connect(self._remember_current)
        self.view_model.dataChanged.connect(self._on_view_data_changed)
        self.view_model.view_changed.connect(self._on_view_changed)
        self.tiles.labels_changed.connect(self._on_labels_changed)
        self.tiles.save_failed.connect(self._on_save_failed)
        self.confusion_view.clicked.connect(self._on_confusion_clicked)
        self.scoring.progress.connect(self.status_line.show_progress)
        self.scoring.finished.connect(self._on_scored)
        self.scoring.failed.connect(self._on_failed)
        if not restore_window(settings, self):
            self.setGeometry(first_geometry(available or self.screen().availableGeometry()))

    # --- loading -------------------------------------------------------------------------------
    def start(self, request: ScoringRequest | None = None) -> bool:
        """Load and score in the background; `scored` or `load_failed` follows. False if busy."""
        if not self.scoring.start(request or self.request):
            self.status_line.showMessage("still scoring — try again in a moment", 4000)
            return False
        self.status_line.start_progress()
        return True

    def open_model(self, path: str) -> bool:
        return self.start(replace(self.request, model=str(path)))

    def open_data_dir(self, path: str) -> bool:
        return self.start(replace(self.request, data_dir=str(path)))

    def set_split(self, split: str) -> bool:
        self.status_line.forget_message()
        # One corrections store holds both splits' verdicts (keyed by split), so it stays.
        return self.start(replace(self.request, split=split))

    def open_corrections(self, path: str) -> bool:
        """Use another corrections store for the split shown; a refused one leaves everything as is."""
        refusal = self.tiles.open_store(Path(path))
        if refusal is not None:
            self.show_message(QMessageBox.Icon.Warning, "Corrections store refused", refusal)
            return False
        self.request = replace(self.request, corrections=str(path))
        self.undo_stack.clear()
        self._show_writable()
        return True

    @Slot(object, object)
    def _on_scored(self, scored: ScoredSplit, request: ScoringRequest) -> None:
        remembered = self.current_by_split.get(scored.split.name)  # before the new rows move the cursor
        self.request = request
        self.undo_stack.clear()
        self.filter_bar.set_class_names(scored.class_names)
        self.detail.why.set_weights(scored.weights, scored.weights_note)  # before the rows: they select one
        self.detail.set_sources(model_name(scored.model_path), scored.review)
        self.tiles.set_scored(scored)
        self.menus.show_split(scored.split.name, scored.class_names)
        self._show_writable()
        self.status_line.end_progress()
        self.setWindowTitle(f"Fashion-MNIST labeler — {scored.split.name} split, {scored.model_path}")
        if self.view_model.rowCount():
            self.go_to_top()
        if remembered is not None and self.view_model.row_of(remembered) is not None:
            self.go_to_index(remembered)
        if self.tiles.refusal:
            self.show_message(
                QMessageBox.Icon.Warning,
                "Corrections store refused",
                f"{self.tiles.refusal}\n\nVerdicts are off until you open a usable corrections "
                "store (File ▸ Open corrections store…).",
            )
        self.scored.emit()

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.status_line.end_progress("could not load: " + message)
        self.show_message(QMessageBox.Icon.Critical, "Cannot open", message)
        self.load_failed.emit(message)

    def _show_writable(self) -> None:
        """Verdict actions on or off, and the banner that says why they are off."""
        writable = self.tiles.writable
        self.menus.set_writable(writable)
        reason = self.tiles.refusal or "no corrections store is open"
        self.banner.setText(
            f"Read-only: relabelling is off because {reason}. Open a usable store with File ▸ Open corrections store…"
        )
        self.banner.setVisible(not writable and self.tiles.rowCount() > 0)

    def closeEvent(self, event) -> None:
        save_window(self.settings, self)
        self.scoring.stop()
        self.tiles.close_store()
        super().closeEvent(event)

    def changeEvent(self, event) -> None:
        # Back in this window: show what another labeler window wrote to the store meanwhile.
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            self.tiles.reload_verdicts()
        super().changeEvent(event)

    # --- the view: filters, current tile, confusion matrix -------------------------------------
    def filter_to_pair(self, true_class: int | None, predicted_class: int | None, keep_show: bool = False) -> None:
        """Only the images of one confusion-matrix cell: all, or (`keep_show`) as gui.cell_filter says."""
        if keep_show:
            narrow_to_cell(self, true_class, predicted_class)
        else:
            self.filter_bar.show_pair(true_class, predicted_class)

    @Slot()
    def _remember_current(self) -> None:
        self._current_row = self.view_model.mapToSource(self.grid.currentIndex()).row()

    @Slot()
    def _on_view_changed(self) -> None:
        """Keep the current tile if it is still shown, else take the first; follow the class filters."""
        index = self.view_model.mapFromSource(self.tiles.index(self._current_row))
        if not index.isValid() and self.view_model.rowCount():
            index = self.view_model.index(0)
        if index.isValid():
            self.grid.setCurrentIndex(index)
            self.grid.scrollTo(index)
        else:
            self.detail.show_index(QModelIndex())
        self._show_pair_in_confusion()

    def _show_pair_in_confusion(self) -> None:
        t, p = self.view_model.true_class, self.view_model.predicted_class
        selection = self.confusion_view.selectionModel()
        if t is not None and p is not None and self.confusion_model.rowCount():
            self.confusion_view.setCurrentIndex(self.confusion_model.index(t, p))
        elif selection is not None:
            selection.clearSelection()

    @Slot(QModelIndex)
    def _on_confusion_clicked(self, index: QModelIndex) -> None:
        self.filter_to_pair(index.row(), index.column(), keep_show=True)
        self.grid.setFocus()  # the cell chosen, keys go back to reviewing the grid

    @Slot(QModelIndex, QModelIndex)
    def _on_current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        self._detail_stale = False
        self.detail.show_index(current)
        if current.isValid() and self.tiles.scored is not None:
            self.current_by_split[self.tiles.split_name] = self.view_model.mapToSource(current).row()

    @Slot()
    def _on_selection_changed(self) -> None:
        self.status_line.show_selection(len(self.grid.selectionModel().selectedIndexes()))

    @Slot(QPoint)
    def _on_context_menu(self, position: QPoint) -> None:
        menu = tile_menu(self, self.grid.indexAt(position))
        if menu is not None:
            menu.popup(self.grid.viewport().mapToGlobal(position))

    @Slot()
    def go_to_top(self) -> None:
        """First tile of the view, current and scrolled into sight: where a new filter or sort starts."""
        if self.view_model.rowCount():
            first = self.view_model.index(0)
            self.grid.selectionModel().setCurrentIndex(first, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.grid.scrollToTop()

    def go_to_index(self, dataset_index: int, show_all: bool = False) -> bool:
        """Make image `dataset_index` current (gui.go_to_image); False if it is not shown now."""
        return go_to_image(self, dataset_index, show_all)

    def open_in_detail(self, index: QModelIndex) -> None:
        self.grid.setCurrentIndex(index)
        self.docks["detail"].show()
        self.docks["detail"].raise_()

    def set_tile_indexes_shown(self, shown: bool) -> None:
        self.grid.set_show_index(shown)
        self.menus.tile_index_action.setChecked(shown)

    @Slot(QModelIndex, QModelIndex, "QList<int>")
    def _on_view_data_changed(self, top_left, bottom_right, roles=()) -> None:
        """The current image changed: refresh the detail panel once control returns to the loop,
        unless the cursor moves on first (a review key does: showing both cost ~12 ms a key)."""
        current = self.grid.currentIndex()
        if current.isValid() and top_left.row() <= current.row() <= bottom_right.row():
            self._detail_stale = True
            QTimer.singleShot(0, self._refresh_detail)

    @Slot()
    def _refresh_detail(self) -> None:
        if self._detail_stale:
            self._detail_stale = False
            self.detail.show_index(self.grid.currentIndex())

    # --- relabelling and navigation ------------------------------------------------------------
    def selected_rows(self) -> np.ndarray:
        """Dataset indices of the selected tiles (the current one if none is selected)."""
        indexes = self.grid.selectionModel().selectedIndexes() or [self.grid.currentIndex()]
        rows = [self.view_model.mapToSource(i).row() for i in indexes if i.isValid()]
        return np.unique(np.array(rows, np.int64))

    def give_verdict(self, verdict: str | None, label: int | None = None) -> bool:
        """What the review keys do: give the selected images `verdict` ("relabel" with `label`,
        "confirmed", "exclude", or None to clear) as one undo step, committed before this returns,
        then move the cursor to the next image in the view."""
        return self._push_verdict(self.selected_rows(), verdict, label)

    def accept_suggestion(self) -> bool:
        """Enter: relabel the selected images to the report's suggestion (confirmed where it is the given label)."""
        if self.tiles.review is None:
            command = (
                make_report_command(
                    self.tiles.scored.model_path, self.tiles.corrections_path, bool(self.tiles.verdict.any())
                )
                if self.tiles.scored
                else HOW_TO_MAKE
            )
            self.status_line.showMessage(f"no label-issue report to take suggestions from; make one: {command}", 6000)
            return False
        rows = self.selected_rows()
        rows = rows[self.tiles.review.suggested[rows] >= 0]
        return self._push_verdict(rows, "relabel", self.tiles.review.suggested[rows])

    def _push_verdict(self, rows: np.ndarray, verdict: str | None, label) -> bool:
        if not self.tiles.writable:
            self.status_line.showMessage(f"verdicts are off: {self.tiles.refusal}", 5000)
            return False
        if not len(rows):
            return False
        command = VerdictCommand(self.tiles, rows, verdict, label, show=self.show_rows)
        self.undo_stack.push(command)
        if command.done:  # a Python attribute: readable even if the stack dropped the refused command
            self._advance()
        return command.done

    def _advance(self) -> None:
        """Cursor to the image after the selection, so a review costs one key per image."""
        selected = [i.row() for i in self.grid.selectionModel().selectedIndexes()] or [self.grid.currentIndex().row()]
        row = self.view_model.next_row(selected)
        if row is None:
            return
        index = self.view_model.index(row)
        self.grid.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.grid.scrollTo(index)

    def show_rows(self, rows: np.ndarray) -> None:
        """Select the images `rows` (dataset indices) that the view shows, the first current and in sight:
        where undo and redo leave the cursor, on the images they changed."""
        view_rows = sorted(r for r in (self.view_model.row_of(int(i)) for i in rows) if r is not None)
        if not view_rows:
            return
        selection = QItemSelection()
        for r in view_rows:
            selection.select(self.view_model.index(r), self.view_model.index(r))
        first = self.view_model.index(view_rows[0])
        self.grid.selectionModel().setCurrentIndex(first, QItemSelectionModel.SelectionFlag.NoUpdate)
        self.grid.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.grid.scrollTo(first)

    def jump_to_mistake(self, step: int) -> bool:
        current = self.grid.currentIndex()
        row = self.view_model.next_mistake(current.row() if current.isValid() else -1, step)
        if row is None:
            self.status_line.showMessage(f"no {'next' if step > 0 else 'previous'} mistake in this view", 3000)
            return False
        self.grid.setCurrentIndex(self.view_model.index(row))
        self.grid.scrollTo(self.view_model.index(row))
        return True

    @Slot()
    def _on_labels_changed(self) -> None:
        if not self.tiles.rowCount():
            return
        self.confusion_model.set_counts(self.tiles.confusion(), self.tiles.class_names)
        self._show_pair_in_confusion()

    @Slot(str)
    def _on_save_failed(self, message: str) -> None:
        self.show_message(QMessageBox.Icon.Critical, "Not saved", message)

    def show_message(self, icon, title: str, text: str, buttons=QMessageBox.StandardButton.Ok) -> None:
        """A window-modal message that does not block the event loop; the latest is `message_box`."""
        if self.message_box is not None:
            self.message_box.deleteLater()
        self.message_box = QMessageBox(icon, title, text, buttons, self)
        self.message_box.open()
