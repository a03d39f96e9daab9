"""The labeler fits a laptop, remembers where you were, teaches its keys: pytest-qt, offscreen, on
the real test set and the tiny model (any model shows these; the screenshot test covers the trained one)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QRect, QSettings, Qt
from PySide6.QtGui import QAction, QGuiApplication, QImage, QPainter
from PySide6.QtWidgets import QApplication, QMessageBox, QStyleOptionViewItem

from gui.confusion import ConfusionModel, abbreviate
from gui.shortcuts_dialog import ShortcutsDialog
from gui.tile_delegate import TileDelegate
from gui.tile_menu import tile_menu
from gui.tile_roles import DATASET_INDEX_ROLE
from testkit.gui_helpers import open_window

LONG_NAME = "x" * 300  # over NAME_MAX: a path the system refuses


@pytest.fixture
def window(qtbot, tiny_model_path, fashion_dir, tmp_path):
    return open_window(qtbot, tiny_model_path, fashion_dir, tmp_path / "c.sqlite")


def choose(combo, key) -> None:
    combo.setCurrentIndex(combo.findData(key))


def current_image(window) -> int:
    return window.view_model.mapToSource(window.grid.currentIndex()).row()


def in_window(window, widget) -> QRect:
    return QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())


def test_fits_1024_by_700_and_no_pane_overlaps_another(window, qtbot):
    hint = window.minimumSizeHint()
    assert hint.width() <= 1024 and hint.height() <= 700, hint
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.width() == 1024 and window.height() == 700)
    panes = [window.centralWidget(), window.statusBar(), window.menuBar()]
    panes += [d for d in window.docks.values() if d.isVisible()]
    inner = [
        window.filter_bar,
        window.grid,
        window.confusion_view,
        window.status_line.corrections_label,
        window.status_line.accuracy_label,
    ]
    rects = [in_window(window, w) for w in panes]
    for i, a in enumerate(rects):
        assert window.rect().contains(a), (panes[i], a)
        for j in range(i + 1, len(rects)):
            assert not a.intersects(rects[j]), (panes[i], panes[j], a, rects[j])
    for widget in inner:  # every part shown, none squeezed to nothing
        assert widget.isVisible() and widget.width() > 20 and widget.height() > 10, widget
    assert not in_window(window, window.filter_bar).intersects(in_window(window, window.grid))


def test_counts_abbreviate_with_the_exact_count_in_the_tooltip(qapp):
    assert [abbreviate(n) for n in (0, 7, 999, 1000, 4812, 9960, 12_345, 2_400_000)] == [
        "",
        "7",
        "999",
        "1.0k",
        "4.8k",
        "10k",
        "12k",
        "2.4M",
    ]
    model = ConfusionModel()
    counts = np.arange(100).reshape(10, 10) * 100
    model.set_counts(counts, [f"c{k}" for k in range(10)])
    cell = model.index(4, 8)  # 4,800
    assert cell.data(Qt.ItemDataRole.DisplayRole) == "4.8k"
    assert "4,800" in cell.data(Qt.ItemDataRole.ToolTipRole)


@pytest.mark.parametrize("change", ["sort", "filter"])
def test_sort_and_filter_changes_go_to_the_top(window, qtbot, change):
    window.go_to_index(2000)
    qtbot.waitUntil(lambda: window.grid.verticalScrollBar().value() > 0)
    if change == "sort":
        choose(window.filter_bar.sort_choice, "loss")
    else:
        choose(window.filter_bar.show_filter, "mistakes")
    assert window.grid.currentIndex().row() == 0
    assert window.grid.verticalScrollBar().value() == 0
    assert current_image(window) == int(window.view_model.source_rows()[0])


def test_go_to_index_jumps_and_offers_to_show_all_when_hidden(window, qtbot):
    assert window.go_to_index(4321)
    assert current_image(window) == 4321 and window.detail.title.text().startswith("Image #4321")
    choose(window.filter_bar.show_filter, "mistakes")
    hidden = int(np.flatnonzero(~window.tiles.mistakes)[5])
    assert not window.go_to_index(hidden)
    box = window.message_box
    assert box.isVisible() and f"#{hidden}" in box.text()
    box.button(QMessageBox.StandardButton.Yes).click()
    assert window.filter_bar.show_filter.currentData() == "all" and current_image(window) == hidden
    assert not window.go_to_index(10_000)  # past the end: a status message, nothing moves
    assert current_image(window) == hidden and "0 to 9,999" in window.status_line.currentMessage()
    assert QAction in {type(a) for a in window.findChildren(QAction) if a.shortcut().toString() == "Ctrl+G"}


def paint_tile(delegate, index) -> QImage:
    image = QImage(delegate.tile_size(), QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.white)
    option = QStyleOptionViewItem()
    option.rect = QRect(QPoint(0, 0), delegate.tile_size())
    painter = QPainter(image)
    delegate.paint(painter, option, index)
    painter.end()
    return image


def test_tile_index_shows_and_the_view_menu_turns_it_off(window):
    index = window.view_model.index(7)
    assert window.grid.delegate.show_index and window.menus.tile_index_action.isChecked()
    shown = paint_tile(window.grid.delegate, index)
    window.menus.tile_index_action.trigger()
    assert not window.grid.delegate.show_index
    hidden = paint_tile(window.grid.delegate, index)
    assert shown != hidden
    assert paint_tile(TileDelegate(window.grid.delegate.zoom, show_index=False), index) == hidden


def test_settings_round_trip(qtbot, tiny_model_path, fashion_dir, tmp_path):
    settings_file = str(tmp_path / "settings.ini")
    first = open_window(
        qtbot, tiny_model_path, fashion_dir, tmp_path / "c.sqlite", QSettings(settings_file, QSettings.Format.IniFormat)
    )
    first.resize(790, 590)  # within the offscreen screen (800 x 600): restoreGeometry keeps windows on screen
    choose(first.filter_bar.show_filter, "mistakes")
    choose(first.filter_bar.sort_choice, "confidence")
    first.filter_bar.set_zoom(5)
    first.menus.tile_index_action.setChecked(False)
    first.docks["legend"].hide()
    target = int(first.view_model.source_rows()[40])
    assert first.go_to_index(target)
    first.close()

    second = open_window(
        qtbot, tiny_model_path, fashion_dir, tmp_path / "c.sqlite", QSettings(settings_file, QSettings.Format.IniFormat)
    )
    # The width stops at the window's minimum once scored (every pane whole): 790 is below it.
    assert (second.width(), second.height()) == (max(790, second.minimumSizeHint().width()), 590)
    assert second.filter_bar.show_filter.currentData() == "mistakes"
    assert second.filter_bar.sort_choice.currentData() == "confidence"
    assert second.grid.delegate.zoom == 5 and second.filter_bar.zoom_label.text() == "×5"
    assert not second.grid.delegate.show_index
    assert not second.docks["legend"].isVisible() and second.docks["detail"].isVisible()
    assert current_image(second) == target


def test_question_mark_lists_every_shortcut_of_the_windows_actions(window, qtbot):
    window.activateWindow()
    window.grid.setFocus()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    qtbot.keyClick(window.grid, Qt.Key.Key_Question)
    dialogs = window.findChildren(ShortcutsDialog)
    assert len(dialogs) == 1 and dialogs[0].isVisible()
    listed = " | ".join(dialogs[0].listed_keys())
    actions = [a for a in window.findChildren(QAction) if a.shortcuts()]
    assert len(actions) >= 20
    for action in actions:
        for key in action.shortcuts():
            assert key.toString(key.SequenceFormat.NativeText) in listed, action.text()
    for key in ("Ctrl+G", "F1", "?", "N", "X", "C", "Ctrl+Z"):
        assert key in listed


def test_right_click_menu_relabels_confirms_and_copies(window):
    index = window.view_model.index(3)
    menu = tile_menu(window, index)
    assert current_image(window) == 3
    relabel = next(a for a in menu.actions() if a.menu() is not None).menu()
    [to_bag] = [a for a in relabel.actions() if a.text().startswith("&8 ")]
    to_bag.trigger()
    assert window.tiles.new_label[3] == 8 and current_image(window) == 4  # on to the next image
    menu = tile_menu(window, window.view_model.index(6))
    next(a for a in menu.actions() if a.text().startswith("&Confirm")).trigger()
    assert window.tiles.verdict_counts()["confirmed"] == 1
    next(a for a in menu.actions() if a.text().startswith("C&opy index")).trigger()
    assert QGuiApplication.clipboard().text() == "6"
    assert tile_menu(window, window.grid.indexAt(QPoint(-5, -5))) is None


def test_read_only_banner_says_why(qtbot, tiny_model_path, fashion_dir, tmp_path):
    window = open_window(qtbot, tiny_model_path, fashion_dir, tmp_path / LONG_NAME / "c.sqlite")
    assert window.banner.isVisible() and not window.tiles.writable
    assert "Read-only" in window.banner.text() and "cannot be used" in window.banner.text()
    assert not window.give_verdict("relabel", 3) and window.tiles.verdict_counts()["relabel"] == 0
    normal = open_window(qtbot, tiny_model_path, fashion_dir, tmp_path / "c.sqlite")
    assert not normal.banner.isVisible()


def test_corrected_labels_filter_and_the_splits_own_save_time(window):
    assert window.filter_bar.show_filter.itemText(2).startswith("Correct predictions")
    for row in (5, 17):
        window.go_to_index(row)
        assert window.give_verdict("relabel", (int(window.tiles.original_labels[row]) + 1) % 10)  # not the given label
    window.go_to_index(30)
    window.give_verdict("confirmed")
    choose(window.filter_bar.show_filter, "corrected")
    assert window.view_model.source_rows().tolist() == [5, 17]
    assert window.filter_bar.show_filter.currentText().startswith("Corrected labels (2)")
    assert set(window.status_line.last_saved) == {"test"}
    assert "test split saved" in window.status_line.corrections_label.text()


def test_selection_count_in_the_status_bar(window):
    window.grid.selectAll()
    assert window.status_line.selection_label.text() == "10,000 selected"


def test_export_adds_png_to_a_bare_name(window, tmp_path):
    window.tiles.set_verdict([7, 8], "confirmed")
    choose(window.filter_bar.show_filter, "reviewed")  # two tiles: the file's name is what is checked
    assert window.files.export_png(str(tmp_path / "view")) == 2
    assert QImage(str(tmp_path / "view.png")).width() > 0 and not (tmp_path / "view").exists()


def test_digit_key_in_the_confusion_matrix_does_not_relabel(window, qtbot):
    window.activateWindow()
    window.confusion_view.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.confusion_view)
    qtbot.keyClick(window.confusion_view, Qt.Key.Key_3)
    qtbot.keyClick(window.confusion_view, Qt.Key.Key_X)
    assert window.tiles.verdict_counts() == {"relabel": 0, "confirmed": 0, "exclude": 0}
    window.grid.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.grid)
    qtbot.keyClick(window.grid, Qt.Key.Key_3)
    assert window.tiles.verdict_counts()["relabel"] + window.tiles.verdict_counts()["confirmed"] == 1
    assert window.grid.currentIndex().data(DATASET_INDEX_ROLE) == 1
