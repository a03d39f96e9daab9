"""Load a split, score every image with the Predictor and open its corrections — off the GUI thread.

`score_split` is the plain function; `ScoringWorker` runs it in a QThread and reports progress.
Everything slow (gunzip + SHA-256 of the split, the onnxruntime session, the tiles' QImages)
happens here, so the window stays responsive meanwhile.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QImage

from gui.corrections import CorrectionsError, CorrectionStore, default_path
from inference.errors import InferenceError
from inference.fashion_mnist import Split, load_split
from inference.predictor import Predictor

CHUNK = 2000  # images per onnxruntime call: ~2 ms each, small enough for a moving progress bar


@dataclass(frozen=True)
class ScoringRequest:
    model: str | None = None  # .onnx file or model repository; None: the models/ repository
    data_dir: str | None = None  # None: $FASHION_MNIST_DIR, Debian's package, the cache
    split: str = "test"
    corrections: str | None = None  # None: corrections.default_path(split, digest)


@dataclass
class ScoredSplit:
    split: Split
    model_path: Path
    class_names: list[str]
    probabilities: np.ndarray  # (N, 10) float32
    predicted: np.ndarray  # (N,) int64
    images: list  # N QImages (Grayscale8) sharing the split's uint8 memory: built once, never converted
    corrections_path: Path
    store: CorrectionStore | None  # None when the corrections file was refused
    refusal: str | None  # why it was refused
    timings: dict = field(default_factory=dict)


def tile_images(images: np.ndarray) -> list:
    """One QImage per (28, 28) uint8 image, wrapping the array's memory (PySide6 keeps it alive)."""
    images = np.ascontiguousarray(images)
    h, w = images.shape[1:]
    fmt = QImage.Format.Format_Grayscale8
    return [QImage(images[i].data, w, h, w, fmt) for i in range(len(images))]


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
    images = tile_images(split.images)
    timings["tiles_s"] = time.perf_counter() - t0

    path = Path(request.corrections) if request.corrections else default_path(split.name, split.digest)
    store, refusal = None, None
    try:
        store = CorrectionStore.load(path, split.name, split.digest, split.labels)
    except CorrectionsError as e:
        refusal = str(e)
    progress(100, "scored")
    return ScoredSplit(split, predictor.path, predictor.class_names, probabilities, predicted, images,
                       path, store, refusal, timings)


class ScoringWorker(QObject):
    """Runs `score_split` once; moved to a QThread by the window."""

    progress = Signal(int, str)  # percent, what is happening
    finished = Signal(object)  # ScoredSplit
    failed = Signal(str)  # one clear line

    def __init__(self, request: ScoringRequest):
        super().__init__()
        self.request = request

    @Slot()
    def run(self) -> None:
        try:
            result = score_split(self.request, self.progress.emit)
        except InferenceError as e:
            self.failed.emit(str(e))
        except (OSError, MemoryError) as e:
            self.failed.emit(f"cannot load: {e}")
        except Exception as e:  # a bug, not the user's doing: keep its traceback, but never hang the window
            traceback.print_exc()
            self.failed.emit(f"unexpected error while scoring: {e!r}")
        else:
            self.finished.emit(result)

