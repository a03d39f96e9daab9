"""Exact explanations of a linear model: class templates and per-pixel contributions.

The logit of class c is sum_i W[c, i] * x_i + b[c] over the 784 raw pixel values x_i (0..255),
so W[c] * x is the whole reason for that logit, and (W[a] - W[b]) * x plus b[a] - b[b] is the
whole of logit a minus logit b. Nothing here estimates anything: the test suite checks that the
pixel sums reproduce the model's own `logits` output.

The weights are read by running the model, not by parsing its graph (see `linear_weights`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from inference.core.arrays import PIXELS, as_uint8_batch
from inference.core.classes import IMAGE_SHAPE
from inference.core.errors import ArgumentError, ModelError

__all__ = ["LinearWeights", "contributions", "linear_weights"]

# The brightest pixel: the largest probe gives the largest 255 * W term next to the bias, so
# the rounding of (255 * W + b) to float32 costs W the fewest bits (pixel value 1 loses ~100x more).
PROBE_VALUE = 255
# Random images the reconstruction must reproduce before it is trusted: an MLP or anything else
# non-linear has the project's signature too, and its "templates" would explain nothing.
CHECK_IMAGES = 16
# A linear model reproduces its own logits up to float32 summation error, measured at under 1e-6
# of sum |W * x| + |b| on the exported model; a ReLU layer is off by a large fraction of it.
LINEAR_TOLERANCE = 1e-4


@dataclass(frozen=True)
class LinearWeights:
    """The model as logits = images.reshape(N, 784) @ weights.T + bias, on raw pixel values."""

    weights: np.ndarray  # (10, 784) float32: logit units per raw pixel value (the 1/255 folded in)
    bias: np.ndarray  # (10,) float32

    def templates(self) -> np.ndarray:
        """(10, 28, 28) float32: each class's weights drawn as an image (a view, read-only when the
        weights came from `linear_weights`)."""
        return self.weights.reshape(len(self.weights), *IMAGE_SHAPE)

    def contributions(self, images: object, cls: object, versus: object = None) -> np.ndarray:
        """(N, 28, 28) float32 per-pixel logit contributions; see `contributions`."""
        return contributions(self.weights, images, cls, versus)


def linear_weights(logits_of: Callable[[np.ndarray], np.ndarray], name: str = "the model") -> LinearWeights:
    """Read W and b by scoring a black image and 784 one-pixel images through `logits_of`.

    `logits_of` maps uint8 (N, 28, 28) to the model's raw (N, 10) logits (`Predictor.logits`, or
    `lambda x: session.run(["logits"], {"images": x})[0]`). Raises ModelError, naming `name`,
    when the logits are not a linear function of the pixels.

    Why probing and not `onnx.numpy_helper` on the graph's initializers: the probe holds for any
    graph from raw pixels to the `logits` output (the exporter's folded Gemm, a Mul by 1/255, a
    MatMul + Add, whatever a future exporter emits), needs no onnx package in the torch-free
    layer, and checks linearity on the way. Measured on the seed-recipe export (2-core VM): onnx
    would add 0.13-0.16 s of import to onnxruntime's 0.26-0.35 s and is bit-exact; the probe
    takes 7-27 ms on a session's first call (onnxruntime sizes its buffers), then ~1 ms, gives the
    bias bit-exactly and every weight within 5.2e-10 of PyTorch's W / 255 (2.4e-7 of the largest
    weight): 1.3e-7 per pixel at value 255, below one float32 step of a logit of 16 (1.9e-6).
    """
    probes = np.zeros((1 + PIXELS, PIXELS), np.uint8)
    probes[np.arange(1, 1 + PIXELS), np.arange(PIXELS)] = PROBE_VALUE  # row 0 black, row 1 + i: pixel i lit
    logits = _run(logits_of, probes.reshape(-1, *IMAGE_SHAPE), name).astype(np.float64)  # (785, C)
    bias = logits[0]
    weights = ((logits[1:] - bias) / PROBE_VALUE).T  # (784, C) -> (C, 784)
    _check_linear(logits_of, weights, bias, name)
    weights, bias = np.ascontiguousarray(weights, np.float32), bias.astype(np.float32)
    # Read-only: a Predictor keeps one copy for every later explanation, which a caller must not edit.
    weights.flags.writeable = bias.flags.writeable = False
    return LinearWeights(weights, bias)


def _run(logits_of: Callable[[np.ndarray], np.ndarray], images: np.ndarray, name: str) -> np.ndarray:
    logits = np.asarray(logits_of(images))
    if logits.ndim != 2 or len(logits) != len(images) or not np.isfinite(logits).all():
        raise ModelError(
            f"{name} gave logits of shape {logits.shape} (finite: {bool(np.isfinite(logits).all())}) "
            f"for {len(images)} images; expected finite (N, classes) logits"
        )
    return logits


def _check_linear(
    logits_of: Callable[[np.ndarray], np.ndarray], weights: np.ndarray, bias: np.ndarray, name: str
) -> None:
    """Refuse a model whose logits on random images are not weights @ x + bias."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (CHECK_IMAGES, PIXELS), dtype=np.uint8)
    x = images.astype(np.float64)
    got = _run(logits_of, images.reshape(-1, *IMAGE_SHAPE), name).astype(np.float64)  # (16, C)
    scale = x @ np.abs(weights).T + np.abs(bias)  # the size of the terms each logit sums
    error = np.abs(got - (x @ weights.T + bias)) / scale
    if error.max() > LINEAR_TOLERANCE:
        raise ModelError(
            f"{name} is not a linear model: on random images its logits differ from the best linear "
            f"reading by {error.max():.2g} of their size (a linear model: under {LINEAR_TOLERANCE:g}); "
            "exact attributions need the softmax regression train-and-export writes"
        )


def contributions(weights: np.ndarray, images: object, cls: object, versus: object = None) -> np.ndarray:
    """(N, 28, 28) float32: how much each raw pixel adds to a logit, or to a logit difference.

    weights: (C, 784) from `linear_weights`. images: anything `as_uint8_batch` takes.
    versus=None: weights[cls] * x, which sums to logit[cls] - bias[cls]. With versus:
    (weights[cls] - weights[versus]) * x, which sums to the logit difference minus the bias
    difference: exactly why the model ranks cls above (or below) versus. cls and versus are each
    a class index or an (N,) integer array, one per image.
    """
    batch = as_uint8_batch(images).reshape(-1, PIXELS)  # (N, 28, 28) -> (N, 784)
    count, classes = len(batch), len(weights)
    rows = _class_indices(cls, "cls", count, classes)
    table = weights
    if versus is not None:
        other = _class_indices(versus, "versus", count, classes)
        if isinstance(rows, int) and isinstance(other, int):
            table, rows = (weights[rows] - weights[other])[None], 0
        else:  # every (cls, versus) difference once: (C, C, 784), 100 rows, then one gather
            table = (weights[:, None, :] - weights[None, :, :]).reshape(classes * classes, PIXELS)
            rows = np.asarray(rows) * classes + np.asarray(other)
    out = np.empty((count, PIXELS), np.float32)
    if isinstance(rows, int):
        np.multiply(batch, table[rows], out=out)
    else:
        # Gather, then scale in place: two passes over the output and no (N, 784) temporary.
        np.take(table, rows, axis=0, out=out, mode="clip")  # "raise" would buffer out; rows are checked
        np.multiply(out, batch, out=out)
    return out.reshape(count, *IMAGE_SHAPE)


def _class_indices(value: object, what: str, count: int, classes: int) -> int | np.ndarray:
    """A class index as an int, or an (N,) int64 array; ArgumentError for anything else."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        if not 0 <= value < classes:
            raise ArgumentError(f"{what} must be a class index from 0 to {classes - 1}, got {value}")
        return int(value)
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "iu":
        shown = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
        raise ArgumentError(
            f"{what} must be a class index (int) or an (N,) integer numpy array, got {shown}; "
            "for a list, pass np.asarray(...)"
        )
    if value.shape != (count,):
        raise ArgumentError(
            f"{what} has shape {value.shape} for {count} images; expected ({count},), one class per image"
        )
    if count and (value.min() < 0 or value.max() >= classes):
        raise ArgumentError(
            f"{what} holds classes from {value.min()} to {value.max()}; expected each from 0 to {classes - 1}"
        )
    return value.astype(np.int64, copy=False)
