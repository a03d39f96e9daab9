"""Calibration: ECE and reliability bins (numpy), the temperature fit (torch), the reliability
diagram, and the ECE line of fashion-predict's report."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from inference.core.calibration import expected_calibration_error, reliability_bins
from inference.core.errors import ArgumentError

# Four images, three classes, five bins (0, .2] (.2, .4] (.4, .6] (.6, .8] (.8, 1]:
HAND_PROBS = np.array(
    [
        [0.90, 0.05, 0.05],  # label 0: confidence .9, right  -> bin 4
        [0.70, 0.20, 0.10],  # label 1: confidence .7, wrong  -> bin 3
        [0.10, 0.70, 0.20],  # label 1: confidence .7, right  -> bin 3
        [0.50, 0.30, 0.20],  # label 2: confidence .5, wrong  -> bin 2
    ]
)
HAND_LABELS = np.array([0, 1, 1, 2])


def test_ece_of_a_hand_made_example():
    # bin 4: |1 - .9| = .1 for 1 image; bin 3: |.5 - .7| = .2 for 2; bin 2: |0 - .5| = .5 for 1.
    by_hand = (1 * 0.1 + 2 * 0.2 + 1 * 0.5) / 4
    assert expected_calibration_error(HAND_PROBS, HAND_LABELS, bins=5) == pytest.approx(by_hand, abs=1e-12)
    bins = reliability_bins(HAND_PROBS, HAND_LABELS, bins=5)
    np.testing.assert_array_equal(bins.count, [0, 0, 1, 2, 1])
    np.testing.assert_allclose(bins.confidence, [0, 0, 0.5, 0.7, 0.9])
    np.testing.assert_allclose(bins.accuracy, [0, 0, 0, 0.5, 1])
    np.testing.assert_allclose(bins.edges, [0, 0.2, 0.4, 0.6, 0.8, 1])
    assert bins.mean_confidence == pytest.approx((0.9 + 0.7 + 0.7 + 0.5) / 4)


def reference_ece(probs: np.ndarray, labels: np.ndarray, bins: int) -> float:
    """Guo et al.'s loop: for each bin (lower, upper], |accuracy - confidence| weighted by its share."""
    confidence, predicted = probs.max(axis=1), probs.argmax(axis=1)
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lower, upper in zip(edges[:-1], edges[1:], strict=False):
        inside = (confidence > lower) & (confidence <= upper)
        if inside.any():
            ece += inside.mean() * abs((predicted[inside] == labels[inside]).mean() - confidence[inside].mean())
    return ece


@pytest.mark.parametrize("bins", [1, 10, 15])
def test_ece_matches_the_papers_loop(bins):
    rng = np.random.default_rng(bins)
    logits = rng.normal(0, 3, (2000, 10))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = rng.integers(0, 10, 2000)
    assert expected_calibration_error(probs, labels, bins) == pytest.approx(
        reference_ece(probs, labels, bins), abs=1e-12
    )


def test_bins_of_parts_add_up_to_the_bins_of_the_whole():
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(10) * 0.3, 1000).astype(np.float32)
    labels = rng.integers(0, 10, 1000)
    whole = reliability_bins(probs, labels)
    parts = reliability_bins(probs[:300], labels[:300]) + reliability_bins(probs[300:], labels[300:])
    np.testing.assert_array_equal(parts.count, whole.count)
    np.testing.assert_array_equal(parts.correct, whole.correct)
    assert parts.ece == pytest.approx(whole.ece, abs=1e-12)


def test_a_sure_prediction_lands_in_the_top_bin():
    bins = reliability_bins(np.array([[1.0, 0.0], [0.0, 1.0]], np.float32), np.array([0, 0]))
    assert len(bins.count) == 15 and bins.count[-1] == 2 and bins.accuracy[-1] == 0.5
    assert bins.ece == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("probs", "labels", "bins", "message"),
    [
        (HAND_PROBS * 4, HAND_LABELS, 15, r"logits\? apply a softmax first"),
        (HAND_PROBS, HAND_LABELS[:3], 15, r"labels must be an integer array of shape \(4,\)"),
        (HAND_PROBS, HAND_LABELS.astype(float), 15, "got float64"),
        (HAND_PROBS[0], HAND_LABELS, 15, r"shape \(N, classes\)"),
        (HAND_PROBS, HAND_LABELS, 0, "bins must be a whole number >= 1, got 0"),
        (np.full((1, 3), np.nan), HAND_LABELS[:1], 15, "NaN"),
    ],
)
def test_bad_arguments_are_one_line_errors(probs, labels, bins, message):
    with pytest.raises(ArgumentError, match=message) as caught:
        reliability_bins(probs, labels, bins)
    assert "\n" not in str(caught.value)


# --- the temperature fit -------------------------------------------------------------------------


def synthetic(true_temperature: float, n: int = 4000, seed: int = 0):
    """Logits whose labels are drawn from softmax(z): calibrated at z, so logits z * T are off by T."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 10, generator=generator, dtype=torch.float64) * 2.5
    labels = torch.multinomial(torch.softmax(z, dim=1), 1, generator=generator).squeeze(1)
    return (z * true_temperature).float(), labels


@pytest.mark.parametrize("true_temperature", [3.0, 0.5], ids=["over-confident", "under-confident"])
def test_the_fitted_temperature_lowers_ece_and_nll_and_keeps_every_prediction(torch_one_thread, true_temperature):
    import torch
    from torch.nn import functional as F

    from training.calibration import fit_temperature

    logits, labels = synthetic(true_temperature)
    temperature = fit_temperature(logits, labels)
    assert temperature > 0
    assert temperature == pytest.approx(true_temperature, rel=0.1)  # it finds the distortion it was given
    before, after = torch.softmax(logits, dim=1), torch.softmax(logits / temperature, dim=1)
    ece_before = expected_calibration_error(before.numpy(), labels.numpy())
    ece_after = expected_calibration_error(after.numpy(), labels.numpy())
    assert ece_after < ece_before / 2
    assert F.cross_entropy(logits / temperature, labels) < F.cross_entropy(logits, labels)
    torch.testing.assert_close(after.argmax(dim=1), before.argmax(dim=1))
    # A minimum: NLL rises a little either side of T.
    nll = [F.cross_entropy(logits / (temperature * f), labels).item() for f in (0.97, 1.0, 1.03)]
    assert nll[1] < nll[0] and nll[1] < nll[2]


def test_no_temperature_fits_when_every_held_out_image_is_right(torch_one_thread):
    import torch

    from training.calibration import fit_temperature
    from training.errors import TrainingError

    labels = torch.arange(100) % 10
    logits = torch.nn.functional.one_hot(labels, 10).float() * 5  # every prediction right: NLL falls as T -> 0
    with pytest.raises(TrainingError, match="--val-split"):
        fit_temperature(logits, labels)
    with pytest.raises(TrainingError, match=r"got \(100, 10\) and \(99,\)"):
        fit_temperature(logits, labels[:99])


def test_the_reliability_diagram_draws_each_curve_with_its_ece():
    import matplotlib.pyplot as plt

    from training.reliability_plot import draw_reliability

    before = reliability_bins(HAND_PROBS, HAND_LABELS, bins=5)
    after = reliability_bins(np.array([[0.6, 0.2, 0.2]] * 4), HAND_LABELS, bins=5)
    fig, ax = plt.subplots()
    draw_reliability(ax, {"before": before, "after (T=1.5)": after})
    try:
        labels = [text.get_text() for text in ax.get_legend().get_texts()]
        assert labels == [
            "perfectly calibrated",
            f"before: ECE {before.ece:.4f}",
            f"after (T=1.5): ECE {after.ece:.4f}",
        ]
        xs, ys = ax.lines[1].get_data()  # "before": its three non-empty bins only
        np.testing.assert_allclose(xs, [0.5, 0.7, 0.9])
        np.testing.assert_allclose(ys, [0, 0.5, 1])
    finally:
        plt.close(fig)


# --- fashion-predict ---------------------------------------------------------------------------


def test_fashion_predict_prints_the_ece_beside_the_accuracy(fashion_dir, test_split, tiny_model_path, tmp_path, capsys):
    from inference.adapters.predict_command import main
    from inference.core.predictor import Predictor

    images = Path(fashion_dir) / "t10k-images-idx3-ubyte.gz"
    labels = Path(fashion_dir) / "t10k-labels-idx1-ubyte.gz"
    out = tmp_path / "scores.csv"
    # Ten parts of 1,000: the report's ECE is built from per-part bins, so it must add them right.
    argv = [
        str(images),
        "--labels",
        str(labels),
        "--model",
        str(tiny_model_path),
        "--output",
        str(out),
        "--batch-size",
        "1000",
    ]
    assert main(argv) == 0
    probs = Predictor(tiny_model_path).predict_proba(test_split.images)
    expected = expected_calibration_error(probs, test_split.labels)
    mean_confidence = probs.max(axis=1).mean()
    assert not math.isclose(expected, 0, abs_tol=1e-3)  # a random model: a gap worth printing
    headline = capsys.readouterr().out.splitlines()[0]
    assert headline.startswith("accuracy ")
    assert f"ECE (15 bins) {expected:.4f}" in headline
    assert f"mean confidence {mean_confidence:.4f}" in headline


def test_calibrate_fits_on_the_validation_split_and_reports_the_test_set(torch_one_thread):
    from types import SimpleNamespace

    import torch

    from training.calibration import calibrate, fit_temperature, split_logits
    from training.errors import TrainingError

    generator = torch.Generator().manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    with torch.no_grad():
        model[1].weight.normal_(0, 0.2, generator=generator)

    def split(n):  # labels drawn from softmax(logits / 3): the model is 3x too sure of itself
        images = torch.randint(0, 256, (n, 28, 28), generator=generator, dtype=torch.uint8)
        probs = torch.softmax(split_logits(model, images) / 3, dim=1)
        return images, torch.multinomial(probs, 1, generator=generator).squeeze(1)

    (val_images, val_labels), (test_images, test_labels) = split(2000), split(1000)
    data = SimpleNamespace(
        val_images=val_images, val_labels=val_labels, test_images=test_images, test_labels=test_labels
    )
    result = calibrate(model, data, fit=True)
    assert result.temperature == fit_temperature(split_logits(model, val_images), val_labels)
    assert result.temperature == pytest.approx(3, rel=0.2)  # the over-confidence it was given
    logits = split_logits(model, test_images)
    for bins, t in ((result.test_before, 1.0), (result.test_after, result.temperature)):
        expected = reliability_bins(torch.softmax(logits / t, dim=1).numpy(), test_labels.numpy())
        np.testing.assert_array_equal(bins.count, expected.count)
        assert bins.ece == pytest.approx(expected.ece, abs=1e-6)
    assert result.test_after.ece < result.test_before.ece

    plain = calibrate(model, data, fit=False)
    assert plain.temperature == 1.0 and plain.test_after.ece == plain.test_before.ece == pytest.approx(
        result.test_before.ece
    )
    leak = SimpleNamespace(
        val_images=test_images, val_labels=test_labels, test_images=test_images, test_labels=test_labels
    )
    with pytest.raises(TrainingError, match="--val-split 0"):
        calibrate(model, leak, fit=True)


def test_the_calibration_line_says_when_the_test_set_did_not_improve():
    from training.calibration import Calibration
    from training.run_summary import calibration_line

    sure = reliability_bins(np.array([[0.9, 0.1], [0.9, 0.1]]), np.array([0, 1]))  # ECE 0.4
    fair = reliability_bins(np.array([[0.5, 0.5], [0.5, 0.5]]), np.array([0, 1]))  # ECE 0
    helped = calibration_line(Calibration(2.5, sure, fair), 10_000)
    assert helped == "calibration: T = 2.5000 fitted on 10000 held-out images; test ECE (15 bins) 0.4000 -> 0.0000"
    assert calibration_line(Calibration(0.4, fair, sure), 10_000).endswith(
        "0.0000 -> 0.4000; higher than without T on the test set"
    )
