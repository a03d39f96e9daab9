"""Tags in the labeler: T and the tile menu add them, the filter bar filters and counts them, the
tile and the detail panel show them, undo takes them back; and the flow fixes around them: undo
moves the cursor to the images it changed, a confusion-matrix click keeps the Show filter."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QDialogButtonBox

from gui.palette import TAG
from gui.png_export import render_tiles
from gui.tile_menu import tile_menu
from gui.tile_roles import TAGS_ROLE
from inference.core.corrections import CorrectionsStore


def select(window, view_rows) -> np.ndarray:
    """Select these rows of the view (the first current); their dataset indices."""
    window.show_rows(np.array([window.view_model.mapToSource(window.view_model.index(r)).row() for r in view_rows]))
    return window.selected_rows()


def stored_tags(window, test_split) -> dict:
    with CorrectionsStore.open(window.tiles.corrections_path, create=False) as store:
        return store.tags(test_split.digest, "test")


def choose(combo, key) -> None:
    combo.setCurrentIndex(combo.findData(key))


def current_image(window) -> int:
    return window.view_model.mapToSource(window.grid.currentIndex()).row()


def test_tags_are_saved_shown_filtered_counted_and_undone(window, test_split, qtmodeltester, qtbot):
    rows = select(window, [3, 4, 5])
    assert window.tagging.add_tags("Camisole; bag with strap")
    assert stored_tags(window, test_split) == {int(r): frozenset({"camisole", "bag with strap"}) for r in rows}
    first = window.view_model.index(3)
    assert first.data(TAGS_ROLE) == ("bag with strap", "camisole")
    qtbot.waitUntil(lambda: window.detail.tags.text() == "bag with strap, camisole")  # refreshed from the loop
    assert "tags: bag with strap, camisole" in first.data(Qt.ItemDataRole.ToolTipRole)

    bar = window.filter_bar
    texts = [bar.tag_filter.itemText(i) for i in range(bar.tag_filter.count())]
    assert texts[1:] == ["bag with strap (3)", "camisole (3)"]
    assert bar.set_tag("camisole")
    assert sorted(window.view_model.source_rows()) == sorted(rows.tolist())
    assert "Showing 3 of 10,000" in bar.shown_label.full_text()
    qtmodeltester.check(window.view_model)
    choose(bar.show_filter, "mistakes")  # the tag's count follows the other filters
    mistakes = int(np.count_nonzero(window.tiles.mistakes[rows]))
    assert bar.tag_filter.currentText() == f"camisole ({mistakes})"
    choose(bar.show_filter, "all")

    window.grid.setCurrentIndex(window.view_model.index(0))  # elsewhere: undo must come back
    window.undo_stack.undo()
    assert stored_tags(window, test_split) == {}
    assert sorted(window.selected_rows().tolist()) == sorted(rows.tolist())
    window.undo_stack.redo()
    assert len(stored_tags(window, test_split)) == 3


def test_a_tag_that_breaks_the_rule_writes_nothing_and_says_why(window, test_split):
    select(window, [0])
    assert not window.tagging.add_tags("=HYPERLINK(x)")
    assert "a tag is 1 to 40 characters" in window.status_line.currentMessage()
    assert stored_tags(window, test_split) == {} and window.undo_stack.count() == 0


def test_t_opens_the_tag_field_with_completion_from_the_tags_in_use(window, qtbot, test_split):
    select(window, [1])
    window.tagging.add_tags("camisole")
    rows = select(window, [7, 8])
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_T)
    dialog = window.tagging.dialog
    assert dialog is not None and dialog.isVisible() and dialog.windowTitle() == "Tag 2 images"
    assert dialog.completer.model().stringList() == ["camisole"]
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    qtbot.keyClicks(dialog.field, "bad;=x")
    assert not ok.isEnabled() and "a tag is" in dialog.problem.text()
    dialog.field.clear()
    qtbot.keyClicks(dialog.field, "cami")
    dialog.completer.complete()
    assert dialog.completer.currentCompletion() == "camisole"
    dialog.field.setText(dialog.completer.currentCompletion())
    ok.click()
    tags = stored_tags(window, test_split)
    assert all(tags[int(r)] == frozenset({"camisole"}) for r in rows) and len(tags) == 3


def test_the_tile_menu_accepts_the_suggestion_and_adds_and_removes_tags(window, test_split):
    rows = select(window, [2])
    window.tagging.add_tags("whole person")
    menu = tile_menu(window, window.view_model.index(2))
    texts = [a.text() for a in menu.actions()]
    accept = next(a for a in menu.actions() if a.text().startswith("&Accept suggestion"))
    assert "(Enter)" in accept.text() and accept.isEnabled()
    assert "&Tag… (T)" in texts
    remove = next(a for a in menu.actions() if a.text() == "Re&move tag").menu()
    remove.actions()[0].trigger()
    assert stored_tags(window, test_split) == {}
    accept.trigger()
    suggested = window.tiles.review.suggested[rows[0]]
    assert window.tiles.labels[rows[0]] == suggested


def test_a_tagged_tile_shows_its_tag(window):
    select(window, [0])
    plain = render_tiles([window.view_model.index(0)], window.grid.palette())
    window.tagging.add_tags("camisole")
    tagged = render_tiles([window.view_model.index(0)], window.grid.palette())

    def tag_pixels(image) -> int:
        return sum(image.pixelColor(x, y) == QColor(TAG) for x in range(image.width()) for y in range(image.height()))

    assert tag_pixels(plain) == 0 and tag_pixels(tagged) > 50


def test_undo_of_a_verdict_moves_the_cursor_back_to_the_image_it_changed(window):
    window.grid.setCurrentIndex(window.view_model.index(10))
    changed = current_image(window)
    assert window.give_verdict("confirmed")
    assert current_image(window) != changed  # the review moved on
    window.undo_stack.undo()
    assert current_image(window) == changed and window.tiles.verdict[changed] == 0
    window.grid.setCurrentIndex(window.view_model.index(40))
    window.undo_stack.redo()
    assert current_image(window) == changed and window.tiles.verdict[changed] != 0


def test_a_confusion_matrix_click_keeps_the_show_filter(window, qtbot):
    bar = window.filter_bar
    choose(bar.show_filter, "mistakes")
    cells = window.tiles.confusion()
    cell = window.confusion_model.index(6, 0)
    qtbot.mouseClick(
        window.confusion_view.viewport(), Qt.MouseButton.LeftButton, pos=window.confusion_view.visualRect(cell).center()
    )
    assert bar.show_filter.currentData() == "mistakes"
    assert (bar.true_filter.currentData(), bar.predicted_filter.currentData()) == (6, 0)
    assert window.view_model.rowCount() == cells[6, 0]
    assert "under Show: Mistakes only" in window.status_line.currentMessage()
    # A diagonal cell has no mistakes: the window shows all of it and says it changed Show.
    diagonal = window.confusion_model.index(1, 1)
    qtbot.mouseClick(
        window.confusion_view.viewport(),
        Qt.MouseButton.LeftButton,
        pos=window.confusion_view.visualRect(diagonal).center(),
    )
    assert bar.show_filter.currentData() == "all" and window.view_model.rowCount() == cells[1, 1]
    assert "Show changed from Mistakes only to All" in window.status_line.currentMessage()
