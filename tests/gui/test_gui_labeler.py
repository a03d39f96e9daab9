"""The labeler's window on the real test set and the tiny model (pytest-qt, offscreen): any model shows
the window's behaviour, and the screenshot test in test_gui_app.py covers the trained one."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from gui.palette import CORRECTED
from gui.png_export import ZOOM as EXPORT_ZOOM
from gui.tile_roles import CLASS_NAMES_ROLE, IS_CORRECTED_ROLE, PREDICTED_NAME_ROLE, TRUE_LABEL_ROLE, TRUE_NAME_ROLE
from inference.core.corrections import CorrectionsStore
from inference.core.fashion_mnist import dataset_digest
from inference.core.predictor import Predictor
from testkit.gui_helpers import SCORE_TIMEOUT_MS, open_window

DIGEST = dataset_digest()


@pytest.fixture(scope="module")
def expected(tiny_model_path, test_split):
    """What the grid should agree with: the Predictor's own view of the test set."""
    probabilities = Predictor(tiny_model_path, device="cpu").predict_proba(test_split.images)
    predicted = probabilities.argmax(axis=1)
    return probabilities, predicted, test_split.labels


@pytest.fixture
def window(qtbot, tiny_model_path, fashion_dir, tmp_path):
    return open_window(qtbot, tiny_model_path, fashion_dir, tmp_path / "corrections.sqlite")


def shown_rows(window) -> np.ndarray:
    return window.view_model.source_rows()


def test_every_custom_model_passes_the_model_tester(window, qtmodeltester):
    qtmodeltester.check(window.tiles)
    qtmodeltester.check(window.confusion_model)
    qtmodeltester.check(window.view_model)
    window.filter_bar.show_filter.setCurrentIndex(window.filter_bar.show_filter.findData("mistakes"))
    window.filter_bar.sort_choice.setCurrentIndex(window.filter_bar.sort_choice.findData("loss"))
    qtmodeltester.check(window.view_model)


def test_scores_agree_with_the_predictor(window, expected):
    probabilities, predicted, labels = expected
    np.testing.assert_allclose(window.tiles.probabilities, probabilities, rtol=1e-5, atol=1e-6)
    assert window.view_model.rowCount() == len(labels) == 10_000
    assert f"{np.mean(predicted == labels):.2%}" in window.status_line.accuracy_label.full_text()


@pytest.mark.parametrize("show", ["all", "mistakes", "correct"])
def test_show_filter(window, expected, show):
    _, predicted, labels = expected
    window.filter_bar.show_filter.setCurrentIndex(window.filter_bar.show_filter.findData(show))
    want = {"all": np.ones(len(labels), bool), "mistakes": predicted != labels, "correct": predicted == labels}[show]
    np.testing.assert_array_equal(shown_rows(window), np.flatnonzero(want))
    assert f"({want.sum():,})" in window.filter_bar.show_filter.currentText()  # live count


def test_class_filters_combine(window, expected):
    _, predicted, labels = expected
    window.filter_bar.true_filter.setCurrentIndex(window.filter_bar.true_filter.findData(6))
    np.testing.assert_array_equal(shown_rows(window), np.flatnonzero(labels == 6))
    window.filter_bar.predicted_filter.setCurrentIndex(window.filter_bar.predicted_filter.findData(0))
    np.testing.assert_array_equal(shown_rows(window), np.flatnonzero((labels == 6) & (predicted == 0)))
    window.filter_bar.show_filter.setCurrentIndex(window.filter_bar.show_filter.findData("correct"))
    assert window.view_model.rowCount() == 0  # Shirt predicted as T-shirt is never correct
    window.filter_bar.true_filter.setCurrentIndex(window.filter_bar.true_filter.findData(None))
    np.testing.assert_array_equal(shown_rows(window), np.flatnonzero((labels == 0) & (predicted == 0)))


@pytest.mark.parametrize("sort", ["index", "confidence", "loss"])
def test_sort(window, expected, sort):
    probabilities, predicted, labels = expected
    window.filter_bar.sort_choice.setCurrentIndex(window.filter_bar.sort_choice.findData(sort))
    rows = shown_rows(window)
    assert sorted(rows) == list(range(len(labels)))
    if sort == "index":
        np.testing.assert_array_equal(rows, np.arange(len(labels)))
    elif sort == "confidence":  # least sure first
        assert np.all(np.diff(probabilities.max(axis=1)[rows]) >= 0)
    else:  # most confident mistakes first
        loss = -np.log(np.clip(probabilities[np.arange(len(labels)), labels], 1e-30, 1))
        assert np.all(np.diff(loss[rows]) <= 1e-6)
        assert np.all(predicted[rows[:100]] != labels[rows[:100]])  # the top of the list is all mistakes


def test_confusion_matrix_click_filters_to_the_pair(window, qtbot, expected):
    _, predicted, labels = expected
    counts = np.bincount(labels * 10 + predicted, minlength=100).reshape(10, 10)
    np.testing.assert_array_equal(window.tiles.confusion(), counts)
    cell = window.confusion_model.index(6, 0)
    assert window.confusion_model.data(cell) == str(counts[6, 0])
    rect = window.confusion_view.visualRect(cell)
    qtbot.mouseClick(window.confusion_view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    np.testing.assert_array_equal(shown_rows(window), np.flatnonzero((labels == 6) & (predicted == 0)))
    assert window.filter_bar.true_filter.currentData() == 6 and window.filter_bar.predicted_filter.currentData() == 0
    assert f"Showing {counts[6, 0]:,} of 10,000" in window.filter_bar.shown_label.full_text()


def activate(qtbot, window):
    window.activateWindow()
    window.grid.setFocus()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)


def test_keys_move_and_jump_between_mistakes(window, qtbot, expected):
    _, predicted, labels = expected
    activate(qtbot, window)
    # The next mistakes after image 0, where the cursor starts (image 0 may be one itself).
    mistakes = np.flatnonzero(predicted != labels)
    mistakes = mistakes[mistakes > 0]
    qtbot.keyClick(window.grid, Qt.Key.Key_N)
    assert window.grid.currentIndex().row() == mistakes[0]
    qtbot.keyClick(window.grid, Qt.Key.Key_N)
    assert window.grid.currentIndex().row() == mistakes[1]
    qtbot.keyClick(window.grid, Qt.Key.Key_P)
    assert window.grid.currentIndex().row() == mistakes[0]
    qtbot.keyClick(window.grid, Qt.Key.Key_End)
    assert window.grid.currentIndex().row() == 9_999
    qtbot.keyClick(window.grid, Qt.Key.Key_Home)
    assert window.grid.currentIndex().row() == 0
    qtbot.keyClick(window.grid, Qt.Key.Key_Right)
    assert window.grid.currentIndex().row() == 1
    qtbot.keyClick(window.grid, Qt.Key.Key_PageDown)
    assert window.grid.currentIndex().row() > 1
    assert window.detail.title.text() == f"Image #{window.grid.currentIndex().row()}"


def test_detail_panel_shows_the_selected_image(window, expected):
    probabilities, predicted, labels = expected
    window.grid.setCurrentIndex(window.view_model.index(40))
    names = window.tiles.class_names
    assert window.detail.title.text() == "Image #40"
    assert window.detail.true_label.text().startswith(names[labels[40]])
    assert window.detail.predicted.text().startswith(names[predicted[40]])
    assert window.detail.confidence.text() == f"{probabilities[40].max():.1%}"
    np.testing.assert_allclose(window.detail.bars.probabilities, probabilities[40], rtol=1e-6)


def saved_corrections(path) -> dict:
    """index: new label of every relabel in the store, None for the other verdicts."""
    with CorrectionsStore.open(path, create=False) as store:
        verdicts = store.verdicts(DIGEST, "test")
    return {i: v.new_label for i, v in verdicts.items()}


def test_relabel_with_keys_saves_and_a_reopened_window_shows_it(
    qtbot, tiny_model_path, fashion_dir, tmp_path, expected
):
    _, _, labels = expected
    path = tmp_path / "corrections.sqlite"
    window = open_window(qtbot, tiny_model_path, fashion_dir, path)
    activate(qtbot, window)
    window.grid.setCurrentIndex(window.view_model.index(7))
    new = (int(labels[7]) + 3) % 10
    with qtbot.waitSignal(window.tiles.saved):
        qtbot.keyClick(window.grid, Qt.Key(Qt.Key.Key_0.value + new))
    assert saved_corrections(path) == {7: new}
    assert "1 relabelled" in window.status_line.accuracy_label.full_text()
    with CorrectionsStore.open(path, create=False) as store:
        verdict = store.verdicts(DIGEST, "test")[7]
    assert verdict.verdict == "relabel" and verdict.given_label == labels[7] and verdict.time
    window.close()

    reopened = open_window(qtbot, tiny_model_path, fashion_dir, path)
    index = reopened.view_model.index(7)
    assert index.data(TRUE_LABEL_ROLE) == new and index.data(IS_CORRECTED_ROLE) is True
    assert reopened.tiles.confusion().sum() == 10_000


def test_relabel_selection_undo_redo(window, qtbot, tmp_path, expected):
    _, _, labels = expected
    path = tmp_path / "corrections.sqlite"
    activate(qtbot, window)
    window.grid.setCurrentIndex(window.view_model.index(0))
    qtbot.keyClick(window.grid, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(window.grid, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    np.testing.assert_array_equal(window.selected_rows(), [0, 1, 2])
    qtbot.keyClick(window.grid, Qt.Key.Key_4)
    # An image whose own label is 4 is confirmed, not relabelled.
    want = {i: 4 if labels[i] != 4 else None for i in (0, 1, 2)}
    assert saved_corrections(path) == want
    assert window.grid.currentIndex().row() == 3  # on to the image after the selection
    qtbot.keyClick(window.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert saved_corrections(path) == {}
    np.testing.assert_array_equal(window.tiles.labels[:3], labels[:3])
    qtbot.keyClick(window.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert saved_corrections(path) == want
    assert window.view_model.index(0).data(TRUE_LABEL_ROLE) == 4


def test_model_setdata_validates_and_announces(window, qtbot, tmp_path, expected):
    _, _, labels = expected
    new = (int(labels[5]) + 1) % 10  # another label than the dataset's, so it must be saved
    index = window.tiles.index(5)
    assert not window.tiles.setData(index, 10, TRUE_LABEL_ROLE)
    assert not window.tiles.setData(index, str(new), TRUE_LABEL_ROLE)
    assert not window.tiles.setData(index, new, Qt.ItemDataRole.DisplayRole)
    assert saved_corrections(tmp_path / "corrections.sqlite") == {}  # nothing refused was saved
    with qtbot.waitSignal(window.tiles.dataChanged) as blocker:
        assert window.tiles.setData(index, new, TRUE_LABEL_ROLE)
    assert blocker.args[0].row() == 5 and {TRUE_LABEL_ROLE, TRUE_NAME_ROLE} <= set(blocker.args[2])
    assert saved_corrections(tmp_path / "corrections.sqlite") == {5: new}
    assert index.data(TRUE_NAME_ROLE) == window.tiles.class_names[new]


@pytest.mark.parametrize(
    "content",
    [
        b'{"format": "fashion-labeler-corrections/1", "dataset_digest": "' + b"0" * 64 + b'", "split": "test"}',
        b"SQLite format 3\x00" + bytes(200),
    ],
    ids=["old-json-sidecar", "damaged-sqlite"],
)
def test_unusable_corrections_store_is_refused_and_never_written(
    qtbot, tiny_model_path, fashion_dir, tmp_path, content
):
    path = tmp_path / "corrections.sqlite"
    path.write_bytes(content)
    window = open_window(qtbot, tiny_model_path, fashion_dir, path)
    box = window.message_box
    assert box is not None and box.isVisible() and "left untouched" in box.text()
    assert "refused" in window.status_line.corrections_label.text()
    window.grid.setCurrentIndex(window.view_model.index(0))
    assert not window.give_verdict("relabel", 3)
    assert not window.tiles.setData(window.tiles.index(0), 3, TRUE_LABEL_ROLE)
    assert path.read_bytes() == content
    # A usable store can then be opened from the File menu's action.
    assert window.open_corrections(str(tmp_path / "other.sqlite"))
    window.grid.setCurrentIndex(window.view_model.index(0))
    assert window.give_verdict("relabel", 3)
    assert saved_corrections(tmp_path / "other.sqlite") == {0: 3 if window.tiles.original_labels[0] != 3 else None}
    assert path.read_bytes() == content


def test_missing_and_wrong_models_open_a_dialog(window, qtbot, tmp_path):
    with qtbot.waitSignal(window.load_failed, timeout=SCORE_TIMEOUT_MS) as blocker:
        window.open_model(str(tmp_path / "nope.onnx"))
    assert "does not exist" in blocker.args[0]
    assert window.message_box.isVisible() and "does not exist" in window.message_box.text()
    not_onnx = tmp_path / "model.onnx"
    not_onnx.write_bytes(b"not a model")
    with qtbot.waitSignal(window.load_failed, timeout=SCORE_TIMEOUT_MS) as blocker:
        window.open_model(str(not_onnx))
    assert "not a loadable ONNX model" in window.message_box.text()
    assert window.tiles.rowCount() == 10_000  # what was shown stays


def test_missing_dataset_opens_a_dialog(window, qtbot, tmp_path):
    with qtbot.waitSignal(window.load_failed, timeout=SCORE_TIMEOUT_MS):
        window.open_data_dir(str(tmp_path))
    assert "lacks" in window.message_box.text() and window.message_box.isVisible()


@pytest.mark.parametrize("folder", ["corrupt-header", "name-too-long"])
def test_data_that_cannot_be_read_opens_a_one_line_dialog(window, qtbot, fashion_dir, tmp_path, folder):
    data = tmp_path / ("x" * 300 if folder == "name-too-long" else "corrupt")  # 300: ENAMETOOLONG
    if folder == "corrupt-header":
        data.mkdir()
        (data / "t10k-images-idx3-ubyte").write_bytes(b"\xde\xad\xbe\xef" + bytes(12))
        (data / "t10k-labels-idx1-ubyte.gz").write_bytes((fashion_dir / "t10k-labels-idx1-ubyte.gz").read_bytes())
    with qtbot.waitSignal(window.load_failed, timeout=SCORE_TIMEOUT_MS) as blocker:
        window.open_data_dir(str(data))
    text = window.message_box.text()
    assert window.message_box.isVisible() and text == blocker.args[0]
    assert "\n" not in text and "Traceback" not in text
    assert ("not an IDX file" if folder == "corrupt-header" else "cannot load") in text
    assert window.tiles.rowCount() == 10_000  # what was shown stays


def test_the_scoring_result_stays_fixed_and_the_model_owns_what_changes(window, tmp_path, expected):
    _, _, labels = expected
    scored = window.tiles.scored
    with pytest.raises(FrozenInstanceError):
        scored.review = None
    with pytest.raises(ValueError, match="read-only"):
        scored.probabilities[0, 0] = 1.0
    window.grid.setCurrentIndex(window.view_model.index(0))
    new = (int(labels[0]) + 1) % 10
    assert window.give_verdict("relabel", new)
    assert window.tiles.labels[0] == new and scored.split.labels[0] == labels[0]
    assert window.open_corrections(str(tmp_path / "other.sqlite"))
    assert window.tiles.corrections_path == tmp_path / "other.sqlite" and not window.tiles.verdict.any()
    assert scored.corrections_path == tmp_path / "corrections.sqlite"
    assert window.tiles.labels[0] == labels[0]  # the other store has no verdicts


def test_tiles_carry_their_class_names_as_roles(window, expected):
    _, predicted, labels = expected
    names = window.tiles.class_names
    assert len(names) == 10 and names[6] == "Shirt"
    for row in (0, 40, 9_999):
        index = window.view_model.index(row)
        assert index.data(TRUE_NAME_ROLE) == names[labels[row]]
        assert index.data(PREDICTED_NAME_ROLE) == names[predicted[row]]
        assert index.data(CLASS_NAMES_ROLE) == names
        assert index.data(Qt.ItemDataRole.UserRole + 99) is None


def pixels(image: QImage) -> np.ndarray:
    """(H, W, 3) uint8 copy of a QImage."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    flat = np.frombuffer(rgb.constBits(), np.uint8, rgb.sizeInBytes()).reshape(rgb.height(), rgb.bytesPerLine())
    return flat[:, : 3 * rgb.width()].reshape(rgb.height(), rgb.width(), 3).copy()


def test_png_export_is_the_grids_own_tiles_and_follows_relabels(window, tmp_path):
    window.filter_to_pair(6, 0)  # Shirts predicted as T-shirt/top: every tile a mistake
    window.grid.setCurrentIndex(window.view_model.index(0))
    assert window.files.export_png(str(tmp_path / "before.png")) == window.view_model.rowCount()
    before = pixels(QImage(str(tmp_path / "before.png")))
    # The second tile (not selected) as the grid paints it, at the export's zoom:
    window.filter_bar.set_zoom(EXPORT_ZOOM)
    window.grid.clearSelection()
    rect = window.grid.visualRect(window.view_model.index(1))
    on_screen = pixels(window.grid.viewport().grab(rect).toImage())
    h, w = on_screen.shape[:2]
    np.testing.assert_array_equal(before[:h, w : 2 * w], on_screen)

    window.grid.setCurrentIndex(window.view_model.index(0))
    assert window.give_verdict("relabel", 0)  # tile 0 is now a T-shirt, corrected and right
    window.files.export_png(str(tmp_path / "after.png"))
    after = pixels(QImage(str(tmp_path / "after.png")))
    corrected = (CORRECTED.red(), CORRECTED.green(), CORRECTED.blue())
    purple = lambda px: np.all(px == corrected, axis=-1).sum()  # noqa: E731
    assert purple(before[:h, :w]) == 0 and purple(after[:h, :w]) > 100  # the corrected frame and badge
    np.testing.assert_array_equal(before[:h, w:], after[:h, w:])  # the other tiles are as they were


def test_zoom_changes_the_tile_size(window):
    before = window.grid.gridSize()
    window.filter_bar.zoom_slider.setValue(window.filter_bar.zoom_slider.maximum())
    assert window.grid.gridSize().height() > before.height()
    assert window.filter_bar.zoom_label.text() == "×8"


def test_window_renders_something(window, tmp_path):
    window.filter_to_pair(6, 0)
    image = window.grab().toImage()
    path = tmp_path / "window.png"
    assert image.save(str(path)) and path.stat().st_size > 10_000
    gray = image.convertToFormat(image.Format.Format_Grayscale8)
    pixels = np.frombuffer(gray.constBits(), np.uint8, gray.sizeInBytes()).reshape(gray.height(), gray.bytesPerLine())
    assert image.width() >= 1000 and pixels.std() > 20  # images, text and shading, not a blank window


def test_export_view_png_and_corrections_csv(window, tmp_path):
    window.filter_to_pair(6, 0)
    n = window.files.export_png(str(tmp_path / "view.png"))
    assert n == window.view_model.rowCount() and (tmp_path / "view.png").stat().st_size > 5_000
    window.grid.setCurrentIndex(window.view_model.index(0))
    window.give_verdict("relabel", 0)
    assert window.files.export_corrections(str(tmp_path / "c.csv"), "csv") == 1
    assert "relabel,6,Shirt,0,T-shirt/top" in (tmp_path / "c.csv").read_text()
    assert window.files.export_corrections(str(tmp_path / "c.json"), "json") == 1
    assert '"verdict": "relabel"' in (tmp_path / "c.json").read_text()
