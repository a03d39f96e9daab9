"""Reviewing label issues in the labeler (pytest-qt, offscreen): a small ONNX model in a model
repository beside a label-issue report written for it, so neither training nor cleanlab is needed.

The review keys write the SQLite store and move on; the Label issues / Reviewed / Not reviewed
filters and the label-quality sort; the progress line; no report or another model's report; two
windows on one store; undo; a refused store."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from gui.palette import CONFIRMED, EXCLUDED, FLAGGED
from gui.png_export import render_tiles
from gui.scoring import ScoringRequest, score_split
from gui.tile_model import TileModel
from gui.tile_roles import IS_FLAGGED_ROLE, SUGGESTED_LABEL_ROLE, VERDICT_ROLE
from inference.core.corrections import CorrectionsStore
from inference.core.next_steps import report_command
from testkit.gui_helpers import open_window
from testkit.label_issue_files import FLAGGED_COUNT, make_repo


def choose(combo, key) -> None:
    combo.setCurrentIndex(combo.findData(key))


def review_view(window) -> None:
    """Flagged images only, most suspect first: how a review starts."""
    choose(window.filter_bar.show_filter, "issues")
    choose(window.filter_bar.sort_choice, "quality")


def store_verdicts(path, test_split) -> dict[int, tuple]:
    with CorrectionsStore.open(path, create=False) as store:
        return {i: (v.verdict, v.new_label) for i, v in store.verdicts(test_split.digest, "test").items()}


def press(qtbot, window, key) -> None:
    window.activateWindow()
    window.grid.setFocus()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    qtbot.keyClick(window.grid, key)


def current_image(window) -> int:
    return window.view_model.mapToSource(window.grid.currentIndex()).row()


def test_every_custom_model_passes_the_model_tester(window, qtmodeltester):
    review_view(window)
    window.grid.setCurrentIndex(window.view_model.index(0))
    window.give_verdict("exclude")
    qtmodeltester.check(window.tiles)
    qtmodeltester.check(window.view_model)
    qtmodeltester.check(window.confusion_model)
    choose(window.filter_bar.show_filter, "reviewed")
    qtmodeltester.check(window.view_model)


def test_review_keys_write_the_store_and_move_to_the_next_image(window, qtbot, repo, tmp_path, test_split):
    _, report = repo
    review_view(window)
    order = report.index[:FLAGGED_COUNT]  # the view: flagged images, most suspect first
    np.testing.assert_array_equal(window.view_model.source_rows(), order)
    window.grid.setCurrentIndex(window.view_model.index(0))
    given, suggested = test_split.labels, report.suggested
    digit = (int(given[order[1]]) + 1) % 10
    expected = {}
    for step, (key, verdict) in enumerate(
        [
            (
                Qt.Key.Key_Return,
                ("relabel", int(suggested[0])) if suggested[0] != given[order[0]] else ("confirmed", None),
            ),
            (Qt.Key(Qt.Key.Key_0.value + digit), ("relabel", digit)),
            (Qt.Key.Key_C, ("confirmed", None)),
            (Qt.Key.Key_X, ("exclude", None)),
        ]
    ):
        assert current_image(window) == order[step]
        press(qtbot, window, key)
        expected[int(order[step])] = verdict
        assert store_verdicts(tmp_path / "c.sqlite", test_split) == expected
        assert current_image(window) == order[step + 1]  # one key per image
        assert window.grid.selectionModel().selectedIndexes() == [window.grid.currentIndex()]
    assert window.view_model.index(3).data(VERDICT_ROLE) == "exclude"
    press(qtbot, window, Qt.Key.Key_Backspace)  # clears image order[4], which had none: still moves on
    assert current_image(window) == order[5] and len(store_verdicts(tmp_path / "c.sqlite", test_split)) == 4


def test_enter_confirms_where_the_suggestion_is_the_given_label(window, qtbot, repo, test_split):
    _, report = repo
    choose(window.filter_bar.sort_choice, "quality")
    row = int(np.flatnonzero(report.suggested == report.given)[0])  # the view's row: the report's order
    window.grid.setCurrentIndex(window.view_model.index(row))
    press(qtbot, window, Qt.Key.Key_Enter)
    assert store_verdicts(window.tiles.corrections_path, test_split) == {int(report.index[row]): ("confirmed", None)}
    assert window.grid.currentIndex().row() == row + 1


def test_digit_of_the_given_label_confirms_it(window, test_split):
    window.grid.setCurrentIndex(window.view_model.index(7))
    assert window.give_verdict("relabel", int(test_split.labels[7]))
    assert window.tiles.verdict[7] and window.view_model.index(7).data(VERDICT_ROLE) == "confirmed"


def test_show_filters_follow_the_report_and_the_verdicts(window, repo):
    _, report = repo
    flagged = np.sort(report.index[report.flagged])
    choose(window.filter_bar.show_filter, "issues")
    np.testing.assert_array_equal(window.view_model.source_rows(), flagged)
    assert f"Label issues ({FLAGGED_COUNT})" == window.filter_bar.show_filter.currentText()
    assert window.tiles.set_verdict(flagged[:3], "exclude") and window.tiles.set_verdict([5000], "confirmed")
    reviewed = np.sort(np.r_[flagged[:3], 5000])
    choose(window.filter_bar.show_filter, "reviewed")
    np.testing.assert_array_equal(window.view_model.source_rows(), reviewed)
    assert window.filter_bar.show_filter.currentText() == "Reviewed (4)"
    choose(window.filter_bar.show_filter, "not_reviewed")
    np.testing.assert_array_equal(window.view_model.source_rows(), np.setdiff1d(np.arange(10_000), reviewed))
    choose(window.filter_bar.true_filter, 3)  # the filters still combine
    shown = window.view_model.source_rows()
    assert (window.tiles.labels[shown] == 3).all() and not window.tiles.verdict[shown].any()


def test_label_quality_sort_is_the_reports_order(window, repo):
    _, report = repo
    choose(window.filter_bar.sort_choice, "quality")
    np.testing.assert_array_equal(window.view_model.source_rows(), report.index)
    assert np.all(np.diff(report.quality) >= 0)
    choose(window.filter_bar.show_filter, "mistakes")  # a filtered view keeps the report's order
    rows = window.view_model.source_rows()
    np.testing.assert_array_equal(rows, [i for i in report.index if window.tiles.mistakes[i]])


def test_progress_line_counts_reviewed_flagged_images(window, repo):
    _, report = repo
    assert "40 of 40 flagged left to review" in window.status_line.review_label.full_text()
    flagged, unflagged = report.index[report.flagged], report.index[~report.flagged]
    window.tiles.set_verdict(flagged[:2], "confirmed")
    window.tiles.set_verdict(unflagged[:5], "exclude")  # reviewed, but not flagged: not counted
    assert "38 of 40 flagged left to review" in window.status_line.review_label.full_text()
    assert "5 excluded" in window.status_line.accuracy_label.full_text()


def test_detail_panel_shows_the_suggestion_and_its_probability(window, repo):
    _, report = repo
    choose(window.filter_bar.sort_choice, "quality")
    window.grid.setCurrentIndex(window.view_model.index(0))
    name = window.tiles.class_names[report.suggested[0]]
    p = report.probabilities[0, report.suggested[0]]
    assert window.detail.suggestion.text().startswith(f"{name} ({report.suggested[0]}), p {p:.1%}")
    assert window.detail.quality.text() == "#1 of 40 flagged" and "flagged" in window.detail.title.text()
    window.grid.setCurrentIndex(window.view_model.index(FLAGGED_COUNT))  # the first image not flagged
    assert window.detail.quality.text() == f"not flagged: #{FLAGGED_COUNT + 1} of 10,000 ranked"
    window.grid.setCurrentIndex(window.view_model.index(0))
    assert window.detail.verdict.text() == "none yet"
    window.give_verdict("exclude")
    window.grid.setCurrentIndex(window.view_model.index(0))
    assert window.detail.verdict.text() == "excluded"


def test_without_a_report_the_status_line_says_how_to_make_one(qtbot, fashion_dir, tmp_path, test_split):
    repo_dir, _ = make_repo(tmp_path / "models", test_split, report=False)
    window = open_window(qtbot, repo_dir, fashion_dir, tmp_path / "c.sqlite")
    assert window.tiles.review is None
    assert report_command(repo_dir) in window.status_line.review_label.full_text()
    # Label issues stays on offer (its count reads "no report"): chosen, it shows every image under
    # the banner with the command, never an empty grid.
    show = window.filter_bar.show_filter
    assert show.model().item(show.findData("issues")).isEnabled() and "no report" in show.itemText(
        show.findData("issues")
    )
    show.setCurrentIndex(show.findData("issues"))
    assert window.view_model.rowCount() == 10_000 and report_command(repo_dir) in window.report_banner.text()
    show.setCurrentIndex(show.findData("all"))
    assert not window.accept_suggestion()  # Enter has nothing to accept
    assert report_command(repo_dir) in window.status_line.currentMessage()  # this repository, no verdicts yet
    window.grid.setCurrentIndex(window.view_model.index(0))
    assert window.give_verdict("exclude")  # the rest works as without a review
    assert store_verdicts(tmp_path / "c.sqlite", test_split) == {0: ("exclude", None)}


def test_a_report_for_another_model_is_not_used_and_says_why(qtbot, fashion_dir, tmp_path, test_split):
    repo_dir, _ = make_repo(tmp_path / "models", test_split)
    make_repo(tmp_path / "models", test_split, seed=1, report=False)  # a new model; the report stays the old one's
    window = open_window(qtbot, repo_dir, fashion_dir, tmp_path / "c.sqlite")
    assert window.tiles.review is None
    text = window.status_line.review_label.full_text()
    assert "another model than the one shown" in text and report_command(repo_dir) in text
    assert window.view_model.index(0).data(SUGGESTED_LABEL_ROLE) is None
    assert window.view_model.index(0).data(IS_FLAGGED_ROLE) is False


def test_two_windows_on_one_store_keep_both_windows_verdicts(qtbot, repo, fashion_dir, tmp_path, test_split):
    path = tmp_path / "c.sqlite"
    scored = score_split(ScoringRequest(str(repo[0]), str(fashion_dir), "test", str(path)))
    first, second = TileModel(), TileModel()
    first.set_scored(scored)
    second.set_scored(replace(scored))
    assert first.set_verdict([1], "relabel", (int(test_split.labels[1]) + 1) % 10)
    assert second.set_verdict([2], "exclude")  # second's write reads the store back: it shows both
    assert second.verdict[1] and second.verdict[2]
    assert first.verdict[2] == 0
    with qtbot.waitSignal(first.labels_changed):
        assert first.reload_verdicts() == 1  # what a window does when it regains focus
    assert first.verdict[2] and first.set_verdict([3], "confirmed")
    assert set(store_verdicts(path, test_split)) == {1, 2, 3}
    for tiles in (first, second):
        tiles.close_store()


def test_a_window_regaining_focus_shows_the_other_windows_verdicts(qtbot, repo, fashion_dir, tmp_path):
    one = open_window(qtbot, repo[0], fashion_dir, tmp_path / "c.sqlite")
    two = open_window(qtbot, repo[0], fashion_dir, tmp_path / "c.sqlite")
    one.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is one)
    one.grid.setCurrentIndex(one.view_model.index(9))
    assert one.give_verdict("exclude")
    assert two.view_model.index(9).data(VERDICT_ROLE) is None
    two.activateWindow()
    qtbot.waitUntil(lambda: two.view_model.index(9).data(VERDICT_ROLE) == "exclude")
    assert "1 excluded" in two.status_line.accuracy_label.full_text()


def test_undo_restores_the_previous_verdict_or_clears_it(window, qtbot, test_split):
    path = window.tiles.corrections_path
    window.grid.setCurrentIndex(window.view_model.index(4))
    window.give_verdict("confirmed")
    window.grid.setCurrentIndex(window.view_model.index(4))
    window.give_verdict("exclude")
    assert store_verdicts(path, test_split) == {4: ("exclude", None)}
    window.undo_stack.undo()
    assert store_verdicts(path, test_split) == {4: ("confirmed", None)}
    assert window.view_model.index(4).data(VERDICT_ROLE) == "confirmed"
    window.undo_stack.undo()
    assert store_verdicts(path, test_split) == {} and window.tiles.verdict[4] == 0
    window.undo_stack.redo()
    assert store_verdicts(path, test_split) == {4: ("confirmed", None)}


def test_a_refused_store_is_read_only_and_untouched(qtbot, repo, fashion_dir, tmp_path, test_split):
    path = tmp_path / "old.json"
    path.write_text('{"format": "fashion-labeler-corrections/1"}')
    before = path.read_bytes()
    window = open_window(qtbot, repo[0], fashion_dir, path)
    assert not window.tiles.writable and "is a JSON file, not a corrections store" in window.tiles.refusal
    assert "refused" in window.status_line.corrections_label.text() and window.message_box.isVisible()
    assert not window.menus.confirm_action.isEnabled() and not window.menus.accept_action.isEnabled()
    window.grid.setCurrentIndex(window.view_model.index(0))
    assert not window.give_verdict("exclude") and not window.accept_suggestion()
    assert not window.tiles.set_verdict([0], "confirmed")
    assert path.read_bytes() == before and window.undo_stack.count() == 0
    assert window.open_corrections(str(tmp_path / "new.sqlite"))  # a usable store turns verdicts on
    assert window.give_verdict("exclude")
    assert store_verdicts(tmp_path / "new.sqlite", test_split) == {0: ("exclude", None)}


def colour_pixels(image, colour) -> int:
    rgb = image.convertToFormat(image.Format.Format_RGB888)
    px = np.frombuffer(rgb.constBits(), np.uint8, rgb.sizeInBytes()).reshape(rgb.height(), rgb.bytesPerLine())
    px = px[:, : 3 * rgb.width()].reshape(rgb.height(), rgb.width(), 3)
    return int(np.all(px == (colour.red(), colour.green(), colour.blue()), axis=-1).sum())


def test_tiles_mark_confirmed_excluded_and_flagged_images(window, repo):
    _, report = repo
    flagged, plain = int(report.index[0]), int(report.index[-1])
    tile = lambda row: render_tiles([window.view_model.index(row)], window.grid.palette())  # noqa: E731
    assert colour_pixels(tile(flagged), FLAGGED) > 30 and colour_pixels(tile(plain), FLAGGED) == 0
    assert colour_pixels(tile(plain), CONFIRMED) == colour_pixels(tile(plain), EXCLUDED) == 0
    window.tiles.set_verdict([plain], "confirmed")
    assert colour_pixels(tile(plain), CONFIRMED) > 100
    window.tiles.set_verdict([plain], "exclude")
    assert colour_pixels(tile(plain), CONFIRMED) == 0 and colour_pixels(tile(plain), EXCLUDED) > 100


def test_set_verdict_refuses_bad_arguments_and_writes_nothing(window, test_split):
    tiles = window.tiles
    for rows, verdict, label in [
        ([1], "maybe", None),
        ([1], "relabel", 2.5),
        ([1], "relabel", 10),
        ([1], "relabel", None),
        ([1], "exclude", 3),
        ([10_000], "exclude", None),
        ([-1], "confirmed", None),
        (["1"], "exclude", None),
        ([1, 2], "relabel", [3, 4, 5]),
    ]:
        assert not tiles.set_verdict(rows, verdict, label), (rows, verdict, label)
    assert not tiles.setData(tiles.index(1), "relabel", VERDICT_ROLE)  # relabel needs a label: the label roles
    assert store_verdicts(tiles.corrections_path, test_split) == {}
    assert tiles.setData(tiles.index(1), "exclude", VERDICT_ROLE)
    assert tiles.set_verdict([2, 3], "relabel", [(int(test_split.labels[2]) + 1) % 10, int(test_split.labels[3])])
    assert store_verdicts(tiles.corrections_path, test_split) == {
        1: ("exclude", None),
        2: ("relabel", (int(test_split.labels[2]) + 1) % 10),
        3: ("confirmed", None),
    }
    assert tiles.setData(tiles.index(1), None, VERDICT_ROLE)
    assert 1 not in store_verdicts(tiles.corrections_path, test_split)
