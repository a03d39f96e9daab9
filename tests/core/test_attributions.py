"""Exact linear attributions: the weights read back from the exported model are PyTorch's, and the
per-pixel contributions add up to the model's own logits."""

from __future__ import annotations

import numpy as np
import pytest

from inference.core.attributions import contributions, linear_weights
from inference.core.errors import ArgumentError, InputError, ModelError
from inference.core.model_repository import weights_file
from inference.core.predictor import Predictor

# The identity holds up to float32 arithmetic: logits reach |17|, where one float32 step is 2e-6,
# and the model sums 784 products per logit.
LOGIT_TOLERANCE = 3e-5


@pytest.fixture(scope="module")
def exported(tiny_model_path):
    """Any linear model shows the identities below; only the first test needs the trained one."""
    predictor = Predictor(tiny_model_path)
    return predictor, linear_weights(predictor.logits, str(tiny_model_path))


def probe_tolerance(weights: np.ndarray, bias: np.ndarray) -> float:
    """One float32 step of the largest probed logit (255 * w + b), taken back to one weight."""
    return float(np.spacing(np.float32(np.abs(255 * weights).max() + np.abs(bias).max())) / 255)


def test_templates_are_the_trained_weights_with_the_scaling_folded_in(model_path):
    import torch  # here: the other attribution tests run without it

    # The concise variant's nn.Linear, as the training run saved it beside the model it exported.
    state = torch.load(weights_file(model_path.parent, "concise"), weights_only=True)
    torch_weights = (state["1.weight"] / 255.0).numpy()  # per raw pixel value 0..255
    torch_bias = state["1.bias"].numpy()
    weights = linear_weights(Predictor(model_path).logits, str(model_path))
    templates = weights.templates()
    assert templates.shape == (10, 28, 28) and templates.dtype == np.float32
    np.testing.assert_allclose(
        templates.reshape(10, 784), torch_weights, rtol=0, atol=probe_tolerance(torch_weights, torch_bias)
    )
    np.testing.assert_array_equal(weights.bias, torch_bias)  # a black image's logits are the bias itself


def test_a_graph_that_scales_before_its_gemm_reads_the_same(tiny_model_path):
    """The tiny model multiplies by 1/255 before an unscaled Gemm: other graph, same reading."""
    from testkit.tiny_models import tiny_weights

    w, b = tiny_weights()
    read = linear_weights(Predictor(tiny_model_path).logits)
    np.testing.assert_allclose(read.weights, w.T / 255, rtol=0, atol=probe_tolerance(w.T / 255, b))
    np.testing.assert_array_equal(read.bias, b)


def test_contributions_sum_to_the_models_logits(exported, test_split):
    predictor, weights = exported
    images = test_split.images
    logits = predictor.logits(images).astype(np.float64)  # (N, 10), from the graph, not from W
    rows = np.arange(len(images))
    cls = np.random.default_rng(0).integers(0, 10, len(images))
    explained = contributions(weights.weights, images, cls)
    assert explained.shape == (len(images), 28, 28) and explained.dtype == np.float32
    total = explained.astype(np.float64).sum(axis=(1, 2)) + weights.bias[cls]
    np.testing.assert_allclose(total, logits[rows, cls], rtol=0, atol=LOGIT_TOLERANCE)


def test_contributions_versus_another_class_sum_to_the_logit_difference(exported, test_split):
    predictor, weights = exported
    images = test_split.images[:2000]
    logits = predictor.logits(images).astype(np.float64)
    rows = np.arange(len(images))
    chosen = logits.argmax(axis=1)
    versus = test_split.labels[:2000].astype(np.int64)
    versus = np.where(versus == chosen, (chosen + 1) % 10, versus)  # the true class, or a neighbour when right
    gap = contributions(weights.weights, images, chosen, versus).astype(np.float64).sum(axis=(1, 2))
    gap += weights.bias[chosen].astype(np.float64) - weights.bias[versus]
    np.testing.assert_allclose(gap, logits[rows, chosen] - logits[rows, versus], rtol=0, atol=LOGIT_TOLERANCE)
    assert (gap > -LOGIT_TOLERANCE).all()  # the chosen class wins every comparison it made


def test_per_image_classes_match_one_class_at_a_time(exported, test_split):
    _, weights = exported
    images = test_split.images[:20]
    cls = np.arange(20) % 10
    versus = (np.arange(20) * 3) % 10
    together = weights.contributions(images, cls, versus)
    mixed = weights.contributions(images, 2, versus)  # one class against a class per image
    for i in range(20):
        alone = weights.contributions(images[i], int(cls[i]), int(versus[i]))[0]
        np.testing.assert_array_equal(together[i], alone)
        np.testing.assert_array_equal(mixed[i], weights.contributions(images[i], 2, int(versus[i]))[0])
        np.testing.assert_array_equal(
            weights.contributions(images[i], int(cls[i]))[0], weights.templates()[cls[i]] * images[i]
        )
    same = weights.contributions(images, 4, 4)
    assert not same.any()  # a class against itself: no reason either way


def test_float_images_give_the_same_contributions_as_raw_pixels(exported, test_split):
    _, weights = exported
    images = test_split.images[:50]
    np.testing.assert_array_equal(weights.contributions(images / 255.0, 3), weights.contributions(images, 3))


def test_the_weights_cannot_be_edited_through_templates(exported):
    _, weights = exported
    with pytest.raises(ValueError):
        weights.templates()[0, 0, 0] = 1.0


def test_a_model_that_is_not_linear_is_refused():
    rng = np.random.default_rng(0)
    hidden, out = rng.normal(0, 0.01, (784, 32)), rng.normal(0, 1, (32, 10))

    def mlp_logits(images):  # (N, 28, 28) -> ReLU layer -> (N, 10)
        return (np.maximum(images.reshape(len(images), 784) / 255 @ hidden, 0) @ out).astype(np.float32)

    with pytest.raises(ModelError, match="my-mlp is not a linear model") as caught:
        linear_weights(mlp_logits, "my-mlp")
    assert "\n" not in str(caught.value)


def test_logits_of_the_wrong_shape_are_refused():
    with pytest.raises(ModelError, match=r"shape \(785,\)"):
        linear_weights(lambda images: np.zeros(len(images), np.float32))


@pytest.mark.parametrize(
    ("cls", "versus", "message"),
    [
        (10, None, "cls must be a class index from 0 to 9, got 10"),
        (-1, None, "cls must be a class index from 0 to 9, got -1"),
        (True, None, "cls must be a class index .* got bool"),
        (2.0, None, "got float"),
        ([1, 2, 3], None, "got list; for a list, pass np.asarray"),
        (np.array([1.0, 2.0, 3.0]), None, "got float64"),
        (np.array([1, 2]), None, r"cls has shape \(2,\) for 3 images"),
        (np.array([1, 2, 12]), None, "cls holds classes from 1 to 12"),
        (1, 10, "versus must be a class index from 0 to 9, got 10"),
        (1, np.array([0, 1, -3]), "versus holds classes from -3 to 1"),
    ],
)
def test_bad_classes_are_argument_errors(exported, test_split, cls, versus, message):
    _, weights = exported
    with pytest.raises(ArgumentError, match=message) as caught:
        weights.contributions(test_split.images[:3], cls, versus)
    assert "\n" not in str(caught.value)


def test_bad_images_are_input_errors(exported):
    _, weights = exported
    with pytest.raises(InputError, match="shape"):
        weights.contributions(np.zeros((3, 27, 28), np.uint8), 0)
    with pytest.raises(InputError, match="0..255"):
        weights.contributions(np.full((1, 28, 28), 300, np.int32), 0)


def test_the_predictor_exposes_the_same_explanations(tiny_model_path):
    from inference.core.attributions import linear_weights
    from inference.core.predictor import Predictor

    predictor = Predictor(tiny_model_path, device="cpu", threads=1)
    weights = linear_weights(predictor.logits, str(predictor.path))
    images = np.random.default_rng(3).integers(0, 256, (100, 28, 28), dtype=np.uint8)
    versus = np.arange(100) % 10
    np.testing.assert_array_equal(predictor.templates(), weights.templates())
    np.testing.assert_array_equal(predictor.contributions(images, 3, versus), weights.contributions(images, 3, versus))
    # The identity the explanation rests on, through the Predictor's own outputs.
    logits = predictor.logits(images).astype(np.float64)
    gap = predictor.contributions(images, 3, versus).sum(axis=(1, 2), dtype=np.float64)
    gap += predictor.linear.bias[3] - predictor.linear.bias[versus]
    np.testing.assert_allclose(gap, logits[:, 3] - logits[np.arange(100), versus], atol=1e-4)
