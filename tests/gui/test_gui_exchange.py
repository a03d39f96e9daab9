"""File ▸ Export and Import in the labeler: each export names its file and adds its suffix; the
CSV carries the report's columns and the tags, and File ▸ Import verdicts from CSV brings it all
back as one undo step, or refuses a file with a bad row and changes nothing; a CSV given as the
corrections store is refused in words about files; file dialogs start where the open files are."""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest

from gui.file_exchange import with_suffix
from testkit.gui_helpers import open_window


def review_some(window) -> None:
    """Verdicts of every kind and tags, on images spread over the split."""
    tiles, labels = window.tiles, window.tiles.original_labels
    tiles.set_verdict([3], "relabel", int((labels[3] + 1) % 10))
    tiles.set_verdict([9], "relabel", int((labels[9] + 2) % 10))
    tiles.set_verdict([20, 21], "confirmed")
    tiles.set_verdict([400], "exclude")
    tiles.set_tags(
        {3: frozenset({"camisole"}), 21: frozenset({"bag with strap", "camisole"}), 555: frozenset({"whole person"})}
    )


def state(window) -> tuple:
    tiles = window.tiles
    return tiles.verdict.copy(), tiles.new_label.copy(), dict(tiles.tags.by_image)


def test_exports_name_their_file_and_add_the_suffix(window, tmp_path):
    review_some(window)
    assert window.files.export_corrections(str(tmp_path / "mine"), "csv") == 6
    assert (tmp_path / "mine.csv").is_file() and not (tmp_path / "mine").exists()
    assert f"to {tmp_path / 'mine.csv'}" in window.status_line.currentMessage()
    assert window.files.export_corrections(str(tmp_path / "mine"), "json") == 5
    assert f"to {tmp_path / 'mine.json'}" in window.status_line.currentMessage()
    window.view_model.set_filter("reviewed")  # its 5 reviewed tiles: the name is what is checked here
    assert window.files.export_png(str(tmp_path / "view")) == 5
    assert f"to {tmp_path / 'view.png'}" in window.status_line.currentMessage()
    assert with_suffix("a.CSV", ".csv") == "a.CSV"


def test_the_csv_carries_the_report_tags_and_model_version(window, tmp_path):
    review_some(window)
    window.files.export_corrections(str(tmp_path / "c.csv"))
    rows = {int(r["index"]): r for r in csv.DictReader(open(tmp_path / "c.csv", encoding="utf-8"))}
    review = window.tiles.review
    assert rows[3]["suggested_label"] == str(review.suggested[3])
    assert float(rows[3]["label_quality"]) == pytest.approx(review.quality[3], rel=1e-5)
    assert {r["model_version"] for r in rows.values()} == {"1"}  # models/fashion_mnist/1/model.onnx
    assert rows[21]["tags"] == "bag with strap; camisole" and rows[555]["verdict"] == ""


def test_export_clear_import_gives_the_same_store_as_one_undo_step(qtbot, window, repo, fashion_dir, tmp_path):
    review_some(window)
    before = state(window)
    path = tmp_path / "round.csv"
    window.files.export_corrections(str(path))
    fresh = open_window(qtbot, repo[0], fashion_dir, tmp_path / "empty.sqlite")
    assert fresh.files.import_csv(str(path)) == 6
    assert fresh.status_line.currentMessage() == f"imported 6, skipped 0 from {path}"
    after = state(fresh)
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[1], before[1])
    assert after[2] == before[2]
    assert sorted(fresh.selected_rows().tolist()) == [3, 9, 20, 21, 400, 555]
    assert fresh.undo_stack.count() == 1
    fresh.undo_stack.undo()
    assert not fresh.tiles.verdict.any() and fresh.tiles.tags.by_image == {}


def test_import_skips_the_other_splits_rows_and_says_so(window, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("split,index,verdict,new_label,tags\ntrain,5,confirmed,,\ntest,5,confirmed,,camisole\n")
    assert window.files.import_csv(str(path)) == 1
    assert window.status_line.currentMessage() == (
        f"imported 1, skipped 1 (first: line 2 is for the train split, this one is test) from {path}"
    )


def test_import_with_a_bad_row_refuses_and_changes_nothing(window, tmp_path):
    review_some(window)
    before = state(window)
    path = tmp_path / "bad.csv"
    path.write_text("split,index,verdict,new_label,tags\ntest,1,confirmed,,\ntest,2,exclude,,\ntest,3,maybe,,\n")
    assert window.files.import_csv(str(path)) == 0
    assert window.message_box.isVisible() and window.message_box.windowTitle() == "Not imported"
    assert "line 4: verdict 'maybe'" in window.message_box.text()
    after = state(window)
    np.testing.assert_array_equal(after[0], before[0])
    assert after[2] == before[2] and window.undo_stack.count() == 0


def test_a_csv_given_as_the_store_is_refused_in_words_about_files(window, tmp_path):
    path = tmp_path / "c.csv"
    window.files.export_corrections(str(path))
    assert not window.open_corrections(str(path))
    text = window.message_box.text()
    assert "is a CSV file, not a corrections store" in text and "Import verdicts from CSV" in text
    assert "b'" not in text and "import_json" not in text


def test_file_dialogs_start_in_the_folder_of_what_is_open(window, repo, fashion_dir, tmp_path):
    menus = window.menus
    assert menus.open_folder("model") == str(repo[0] / "fashion_mnist" / "1")
    assert os.path.samefile(menus.open_folder("data"), fashion_dir)
    assert menus.open_folder("corrections") == str(tmp_path) == menus.open_folder("export")
