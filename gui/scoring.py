"""Load a split, score every image with the Predictor and read its label-issue report: a plain function.

`score_split` does everything slow (gunzip + SHA-256 of the split, the onnxruntime session,
parsing the report), so `gui.scoring_thread` runs it off the GUI thread and the
window stays responsive meanwhile. Its result, a `ScoredSplit`, is never changed afterwards: the
TileModel takes it over and keeps the verdicts as its own state. The corrections store is opened
by the window, not here: an SQLite connection must stay on the thread that opened it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage

from gui.review import Review, load_review
from inference.core.attributions import LinearWeights
from inference.core.corrections import default_path
from inference.core.errors import ModelError
from inference.core.fashion_mnist import Split, load_split
from inference.core.predictor import Predictor

# What the window calls to score (score_split; tests hand it one that remembers results).
Scorer = Callable[["ScoringRequest", Callable[[int, str], None]], "ScoredSplit"]

CHUNK = 2000  # images per onnxruntime call: ~2 ms each, small enough for a moving progress bar


@dataclass(frozen=True)
class ScoringRequest:
    model: str | None = None  # .onnx file or model repository; None: the models/ repository
    data_dir: str | None = None  # None: $FASHION_MNIST_DIR, Debian's package, the cache
    split: str = "test"
    corrections: str | None = None  # the SQLite store; None: inference.core.corrections.default_path()


@dataclass(frozen=True)
class ScoredSplit:
    """What one scoring run found; its arrays are read-only."""

    split: Split
    model_path: Path
    class_names: tuple[str, ...]
    probabilities: np.ndarray  # (N, 10) float32
    predicted: np.ndarray  # (N,) int64
    images: TileImages  # a QImage (Grayscale8) per image, sharing the split's uint8 memory
    corrections_path: Path  # the store the window opens for this split
    review: Review | None  # the label-issue report for this data and model, if there is one
    review_note: str  # where the report came from, or why there is none and how to make one
    weights: LinearWeights | None = None  # W and b read from the model, for the why and templates views
    weights_note: str = ""  # why there are none (a model that is not linear)
    timings: dict = field(default_factory=dict)  # seconds since the start, after each stage


class TileImages:
    """A QImage per (28, 28) uint8 image, made when a tile asks for it. Wrapping an image's memory
    takes ~5 us, so painting a screenful costs ~2 ms more; making all of them up front cost every
    window 50 ms on the 10,000 test images and 0.3 s on the 60,000 training images before it showed."""

    def __init__(self, images: np.ndarray):
        self._pixels = np.ascontiguousarray(images)

    def __len__(self) -> int:
        return len(self._pixels)

    def __getitem__(self, row: int) -> QImage:
        pixels = self._pixels[row]
        h, w = pixels.shape
        # The QImage reads the split's memory, which the ScoredSplit holding this keeps alive.
        return QImage(pixels.data, w, h, w, QImage.Format.Format_Grayscale8)


def read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def score_split(request: ScoringRequest, progress: Callable[[int, str], None] = lambda p, s: None) -> ScoredSplit:
    """Raises InferenceError (DatasetError, ModelError) for what a user can get wrong."""
    t0 = time.perf_counter()
    timings = {}
    progress(0, f"reading the {request.split} split")
    split = load_split(request.split, request.data_dir)
    timings["load_s"] = time.perf_counter() - t0
    progress(20, "opening the model")
    # CPU: scoring 60,000 images takes ~60 ms there, less than a CUDA session takes to start.
    predictor = Predictor(request.model, device="cpu")
    timings["model_s"] = time.perf_counter() - t0
    n = len(split.labels)
    probabilities = np.empty((n, len(predictor.class_names)), np.float32)
    for start in range(0, n, CHUNK):
        probabilities[start : start + CHUNK] = predictor.predict_proba(split.images[start : start + CHUNK])
        progress(30 + 60 * min(start + CHUNK, n) // n, f"scoring {min(start + CHUNK, n):,} of {n:,} images")
    timings["score_s"] = time.perf_counter() - t0
    predicted = probabilities.argmax(axis=1).astype(np.int64)
    images = TileImages(split.images)

    progress(95, "reading the label-issue report")
    review, review_note = load_review(predictor.path, predictor.sha256, split)
    timings["review_s"] = time.perf_counter() - t0

    try:  # ~1-27 ms: 785 probe images through the session that is open anyway
        weights, weights_note = predictor.linear, ""
    except ModelError as e:
        weights, weights_note = None, str(e)
    path = Path(request.corrections) if request.corrections else default_path()
    progress(100, "scored")
    return ScoredSplit(
        split,
        predictor.path,
        tuple(predictor.class_names),
        read_only(probabilities),
        read_only(predicted),
        images,
        path,
        review,
        review_note,
        weights,
        weights_note,
        timings,
    )
