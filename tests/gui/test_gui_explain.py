"""The explanation views (why, templates, reliability) on the tiny linear model: no training, no dataset."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLabel

from gui.diverging import MAX_OPACITY, NEGATIVE, POSITIVE, diverging_rgb
from gui.reliability_view import ReliabilityView
from gui.templates_view import TemplatesView
from gui.why_view import ENLARGE, WhyView, runner_up
from inference.core.attributions import linear_weights
from inference.core.calibration import reliability_bins
from inference.core.classes import CLASS_NAMES
from inference.core.errors import ArgumentError
from inference.core.predictor import Predictor


@pytest.fixture(scope="module")
def predictor(tiny_model_path):
    return Predictor(tiny_model_path, device="cpu")


@pytest.fixture(scope="module")
def weights(predictor):
    return linear_weights(predictor.logits, str(predictor.path))


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(3).integers(0, 256, (2, 28, 28), dtype=np.uint8)


def pixels(widget) -> np.ndarray:
    """(H, W, 3) uint8: what the widget paints."""
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : 3 * image.width()].reshape(image.height(), image.width(), 3).copy()


def distinct_colours(rgb: np.ndarray) -> int:
    return len(np.unique(rgb.reshape(-1, 3), axis=0))


def why_view(qtbot, weights) -> WhyView:
    view = WhyView()
    qtbot.addWidget(view)
    view.set_weights(weights)
    view.resize(320, 460)
    return view


def test_a_wrong_prediction_is_explained_against_the_true_label(qtbot, weights, predictor, images):
    view = why_view(qtbot, weights)
    view.show_image(images[0], 3, 5, 1, CLASS_NAMES)
    assert view.compared == (3, 5)
    np.testing.assert_array_equal(view.contributions, weights.contributions(images[:1], 3, 5)[0])
    # The map is the whole reason: its sum plus the bias gap is the model's own logit gap.
    logits = predictor.logits(images[:1])[0].astype(np.float64)
    gap = view.contributions.sum(dtype=np.float64) + weights.bias[3] - weights.bias[5]
    np.testing.assert_allclose(gap, logits[3] - logits[5], rtol=1e-4, atol=1e-3)
    assert "T-shirt" not in view.heading.text() and "Dress" in view.heading.text() and "Sandal" in view.heading.text()


def test_a_right_prediction_is_explained_against_the_runner_up(qtbot, weights, images):
    view = why_view(qtbot, weights)
    view.show_image(images[0], 3, 3, 7, CLASS_NAMES)
    assert view.compared == (3, 7)
    np.testing.assert_array_equal(view.contributions, weights.contributions(images[:1], 3, 7)[0])
    with pytest.raises(ValueError):
        view.contributions[0, 0] = 1.0  # the map the view coloured stays what it coloured
    with pytest.raises(ArgumentError, match="runner-up"):
        view.show_image(images[0], 3, 3, 3, CLASS_NAMES)


def test_runner_up_is_the_second_most_probable_class():
    assert runner_up([0.1, 0.5, 0.05, 0.3, 0.05]) == 3
    assert runner_up(np.array([0.9, 0.01, 0.09], np.float32)) == 2


def test_the_heat_map_is_painted_red_for_the_prediction_and_blue_against_it(qtbot, weights, images):
    view = why_view(qtbot, weights)
    view.show_image(images[0], 2, 6, 0, CLASS_NAMES)
    canvas = pixels(view.canvas)
    assert distinct_colours(canvas) > 50
    for pick, colour in ((np.argmax, POSITIVE), (np.argmin, NEGATIVE)):
        row, column = np.unravel_index(pick(view.contributions), view.contributions.shape)
        painted = canvas[row * ENLARGE + ENLARGE // 2, column * ENLARGE + ENLARGE // 2].astype(int)
        # The strongest pixel is blended at full opacity over the image's grey level.
        grey = int(images[0][row, column])
        expected = np.rint(grey + MAX_OPACITY * (np.array(colour.getRgb()[:3]) - grey))
        np.testing.assert_allclose(painted, expected, atol=1)


def test_the_heat_map_follows_the_image(qtbot, weights, images):
    view = why_view(qtbot, weights)
    view.show_image(images[0], 2, 6, 0, CLASS_NAMES)
    first = pixels(view.canvas)
    view.show_image(images[1], 2, 6, 0, CLASS_NAMES)
    assert (pixels(view.canvas) != first).any(axis=2).mean() > 0.5


def test_the_toggle_hides_and_shows_the_overlay_but_never_the_image(qtbot, weights, images):
    view = why_view(qtbot, weights)
    view.show_image(images[0], 2, 6, 0, CLASS_NAMES)
    with qtbot.waitSignal(view.overlay_toggled) as toggled:
        view.overlay_box.click()
    assert toggled.args == [False] and not view.overlay_shown
    plain = pixels(view.canvas)
    # Off: the image itself, grey, each pixel an 8 x 8 square of its value.
    np.testing.assert_array_equal(plain[::ENLARGE, ::ENLARGE], np.repeat(images[0][..., None], 3, axis=2))
    view.overlay_box.click()
    coloured = pixels(view.canvas)
    assert view.overlay_shown and distinct_colours(coloured) > 50
    # On: the colour is a blend, so a pixel's brightness still follows the image beneath.
    brightness = coloured[::ENLARGE, ::ENLARGE].astype(float).mean(axis=2).ravel()
    assert np.corrcoef(brightness, images[0].ravel())[0, 1] > 0.5


def test_without_weights_the_view_shows_the_plain_image_and_says_why(qtbot, images):
    view = WhyView()
    qtbot.addWidget(view)
    view.set_weights(None, "the model is not linear")
    view.show_image(images[0], 2, 6, 0, CLASS_NAMES)
    assert view.contributions is None and "not linear" in view.heading.text()
    np.testing.assert_array_equal(pixels(view.canvas)[::ENLARGE, ::ENLARGE, 0], images[0])


def test_diverging_colours_leave_zero_alone_and_saturate_symmetrically():
    base = np.array([[0, 128, 255, 255]], np.uint8)
    rgb = diverging_rgb(np.array([[0.0, 0.0, 2.0, -5.0]], np.float32), 2.0, base)
    np.testing.assert_array_equal(rgb[0, :2], [[0, 0, 0], [128, 128, 128]])
    for got, colour in ((rgb[0, 2], POSITIVE), (rgb[0, 3], NEGATIVE)):
        np.testing.assert_allclose(got, np.rint(255 + MAX_OPACITY * (np.array(colour.getRgb()[:3]) - 255)), atol=1)


def test_the_templates_view_shows_ten_captioned_templates_on_one_scale(qtbot, weights):
    view = TemplatesView()
    qtbot.addWidget(view)
    view.set_weights(weights, CLASS_NAMES)
    assert view.captions == [f"{k} · {name}" for k, name in enumerate(CLASS_NAMES)]
    painted = pixels(view)
    assert distinct_colours(painted) > 100
    # The largest weight of all is the scale's strongest red; its class's template shows it.
    cls, pixel = np.unravel_index(np.argmax(weights.weights), weights.weights.shape)
    images = [label for label in view.findChildren(QLabel) if not label.pixmap().isNull()]
    assert len(images) == 10
    row, column = divmod(int(pixel), 28)
    enlarge = images[cls].width() // 28
    strongest = pixels(images[cls])[row * enlarge + enlarge // 2, column * enlarge + enlarge // 2].astype(int)
    np.testing.assert_allclose(strongest, np.rint(255 + MAX_OPACITY * (np.array(POSITIVE.getRgb()[:3]) - 255)), atol=1)


def test_the_reliability_plot_titles_its_ece_and_draws_the_bins(qtbot, predictor, images):
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 256, (500, 28, 28), dtype=np.uint8)
    probabilities = predictor.predict_proba(batch)
    labels = rng.integers(0, 10, 500)
    bins = reliability_bins(probabilities, labels)
    view = ReliabilityView()
    qtbot.addWidget(view)
    view.resize(420, 460)
    empty = pixels(view)
    view.set_bins(bins, "test split")
    assert f"ECE {bins.ece:.2%}" in view.title and "test split" in view.title
    drawn = pixels(view)
    assert distinct_colours(drawn) > 20 and (drawn != empty).any(axis=2).mean() > 0.1
    # Other bins, another picture.
    view.set_bins(reliability_bins(probabilities, probabilities.argmax(axis=1)))
    assert (pixels(view) != drawn).any(axis=2).mean() > 0.01
