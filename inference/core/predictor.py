"""Batch scoring on onnxruntime: `Predictor(model).predict(images)`.

Opens the exported model (a .onnx file or the `models/` repository), reads class names and the
rest of its metadata from the file itself, and scores uint8 images. numpy + onnxruntime only.
A model is checked against the whole contract when it is opened, so that a wrong one fails there,
in one line, and not later as a traceback, a 500 or a CSV whose columns do not match its header.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

import numpy as np

try:
    import onnxruntime as ort
except ImportError as e:  # the runtime is an extra, so a bare install can lack it
    raise ImportError(
        "onnxruntime is not installed: pip install 'fashion-softmax[cpu]' "
        "(or 'fashion-softmax[gpu]' for the CUDA build; never both)"
    ) from e

from inference.core.arrays import as_batch, chunks, to_uint8
from inference.core.attributions import LinearWeights, linear_weights
from inference.core.classes import IMAGE_SHAPE, NUM_CLASSES
from inference.core.errors import ArgumentError, ModelError
from inference.core.guarded_runs import ORT_ERRORS, bounded_run, check_finite, first_line, scoring_failed
from inference.core.model_contract import (
    INPUT,
    LOGITS,
    OUTPUTS,
    PROBABILITIES,
    check_scores,
    check_session,
    probe_images,
)
from inference.core.model_repository import resolve_model_path
from inference.core.piece_threads import PieceThreads

__all__ = ["Prediction", "Predictor", "default_threads", "thread_limit"]

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")
# Images per onnxruntime call. The graph's float32 copies of a chunk (1024 * 784 * 4 B = 3.2 MB
# each) stay in cache, which scores the 10,000-image test set ~2x faster than one big call
# (benchmarks/inference_speed.py), and working memory no longer grows with N.
CHUNK = 1024
# Images from which a batch is split across the Predictor's threads (piece_threads.py). Handing
# pieces to a helper costs tens of microseconds: on two pinned cores 512 images scored 1.24x
# faster split, 256 images 0.83x (benchmarks/split_strategies.py).
SPLIT_FROM = 512
GPU_HOWTO = "pip uninstall -y onnxruntime && pip install 'fashion-softmax[gpu]' (the onnxruntime-gpu build; see docs/inference.md, GPU)"
# Protobuf cannot parse a larger ONNX file (without external data), so nothing bigger can be a
# model: refusing it by its size spares reading gigabytes of something else into memory.
MAX_MODEL_BYTES = 2**31 - 1
# How long the probe at open may run. Two images score in well under a millisecond on the CPU;
# a first run on CUDA also initialises the CUDA libraries, which can take a second or more (not
# measured here), hence 5 s and not less. A graph still running then loops (a Loop whose
# condition never turns false) or computes far beyond two 28x28 images: left alone it would
# hang the labeler, the CLI or the service at start.
PROBE_TIMEOUT_S = 5.0


def _providers(device: str) -> list[str]:
    available = ort.get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" not in available:
        if device == "cuda":
            raise ModelError(
                "device='cuda' was asked for, but this onnxruntime has no CUDAExecutionProvider "
                f"(it has {', '.join(available)}); install the GPU build instead of the CPU one: {GPU_HOWTO}"
            )
        return ["CPUExecutionProvider"]
    return ["CUDAExecutionProvider", "CPUExecutionProvider"]


def thread_limit() -> int:
    """The most intra-op threads worth asking for: one per logical CPU of the machine.

    More only fight over the same cores: 1024 threads on a 2-core machine took 35 s to open
    the model and score one batch, against milliseconds for 2.
    """
    return os.cpu_count() or 1


def default_threads() -> int:
    """onnxruntime intra-op threads when the caller names none.

    $OMP_NUM_THREADS wins when set: Ray, torchrun and most process pools set it per worker (often
    to 1), which is what keeps N workers from running N x cores threads. Otherwise one thread per
    core this process may use (its affinity mask, not the machine's total, so taskset and
    container CPU pinning are respected).
    """
    value = os.environ.get("OMP_NUM_THREADS", "")
    if value.isdigit() and int(value) >= 1:
        return min(int(value), thread_limit())
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity masks
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Prediction:
    labels: np.ndarray  # (N,) int64
    class_names: list[str]  # N names
    probabilities: np.ndarray  # (N, 10) float32

    @property
    def confidence(self) -> np.ndarray:
        """(N,) probability of the predicted class."""
        return self.probabilities[np.arange(len(self.labels)), self.labels]


def _check_arguments(model: object, device: object, threads: object, chunk: object) -> None:
    if model is not None and not isinstance(model, (str, os.PathLike)):
        raise ArgumentError(f"model must be a path (str or os.PathLike) or None, got {type(model).__name__}")
    if not isinstance(device, str) or device not in DEVICES:
        raise ArgumentError(f"device must be one of {DEVICES}, got {device!r}")
    limit = thread_limit()
    if threads is not None and not (_whole(threads) and 1 <= threads <= limit):
        raise ArgumentError(
            f"threads must be a whole number from 1 to {limit} (this machine's CPUs) or None, got {threads!r}"
        )
    if not (_whole(chunk) and chunk >= 1):
        raise ArgumentError(f"chunk must be a whole number >= 1, got {chunk!r}")


def _whole(value: object) -> TypeGuard[int]:
    """An int and not a bool (True is an int to Python, never a thread count)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _read_model(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_MODEL_BYTES:
            raise ModelError(
                f"{path} is {size:,} bytes, more than any ONNX model can be ({MAX_MODEL_BYTES:,}); "
                "pass --model the model.onnx that train-and-export wrote"
            )
        return path.read_bytes()
    except OSError as e:
        raise ModelError(f"cannot read the model {path}: {e.strerror}") from e


class Predictor:
    """One onnxruntime session over the exported model.

    device: "auto" uses CUDA when the installed onnxruntime has it and it initialises, else CPU;
    "cuda" fails rather than silently running on the CPU. threads: the threads that score a large
    batch side by side on the CPU, the caller's included (None: `default_threads()`, one per
    usable core or $OMP_NUM_THREADS; pass 1 in each of many worker processes). chunk: images per
    onnxruntime call; larger batches are split. `close()` (or `with Predictor(...)`) stops the
    helper threads at once; otherwise they go with the Predictor.

    Opening checks the whole model contract (model_contract.py: `check_session`, then `_probe`);
    a model that breaks it is a ModelError, bad arguments an ArgumentError.
    """

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        device: str = "auto",
        threads: int | None = None,
        chunk: int = CHUNK,
    ):
        _check_arguments(model, device, threads, chunk)
        self.path = resolve_model_path(model)
        self.chunk = chunk
        self.threads = threads if threads is not None else default_threads()
        options = ort.SessionOptions()
        options.inter_op_num_threads = 1  # one linear layer: nothing to run side by side
        # One intra-op thread whatever `threads` is: onnxruntime leaves this graph's Gemm on one
        # thread anyway (2 intra-op threads scored 10,000 images 1.05x faster on two cores), and
        # the Predictor's own threads run whole pieces of a batch side by side instead (1.8x).
        options.intra_op_num_threads = 1
        # onnxruntime's own warnings and errors (a broken graph, a run that failed) would land on
        # stderr in colour before our one-line ModelError, which quotes the same error.
        options.log_severity_level = 4
        # No intra-op pool to keep warm: spinning would only burn a core other threads need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        data = _read_model(self.path)
        try:
            self.session = ort.InferenceSession(data, options, providers=_providers(device))
        except ModelError:
            raise
        except Exception as e:  # onnxruntime raises its own types for corrupt or truncated files
            raise ModelError(f"{self.path} is not a loadable ONNX model: {first_line(e)}") from e
        self.providers = self.session.get_providers()
        if device == "cuda" and "CUDAExecutionProvider" not in self.providers:
            raise ModelError("CUDAExecutionProvider is installed but did not initialise (no GPU or driver?)")
        self.device = "cuda" if "CUDAExecutionProvider" in self.providers else "cpu"
        # On CUDA the GPU is the parallelism; concurrent runs would only queue on its stream.
        self.split_from = SPLIT_FROM if self.threads > 1 and self.device == "cpu" else None
        # The helpers' sessions come from the same bytes, checked above, whatever the file holds now.
        open_session = functools.partial(ort.InferenceSession, data, options, providers=["CPUExecutionProvider"])
        self._pieces = PieceThreads(self.threads, self.session, open_session)
        log.info("scoring on %s (%s)", self.device, ", ".join(self.providers))
        checked = check_session(self.session, self.path)
        self._probe()
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.metadata = checked.metadata
        self.class_names = checked.class_names
        self._names = np.array(self.class_names, dtype=object)
        parsed = checked.parsed
        self.test_accuracy, self.temperature = parsed.test_accuracy, parsed.temperature
        self.dataset_sha256, self.created, self.variant = parsed.dataset_sha256, parsed.created, parsed.variant
        self.corrections = parsed.corrections

    def _probe(self) -> None:
        """Score two images (black, white) and check what really comes out (`check_scores`).

        Only a run shows what the graph computes; one run of two images costs well under a
        millisecond next to the session's creation."""
        images = probe_images()
        probs, logits = self._bounded_run(images)
        check_scores(probs, logits, len(images), self.path)

    def _bounded_run(self, images: np.ndarray) -> list[np.ndarray]:
        """The probe's run, stopped after PROBE_TIMEOUT_S (guarded_runs.bounded_run)."""
        return bounded_run(self.session, list(OUTPUTS), {INPUT: images}, self.path, PROBE_TIMEOUT_S)

    def describe(self) -> str:
        """One line for logs and command output: which file, which device, how many threads."""
        return f"{self.path} on {self.device} ({', '.join(self.providers)}), {self.threads} thread(s)"

    def _run(self, images: object, output: str) -> np.ndarray:
        """(N, 10) float32 scores, every one finite; ModelError when onnxruntime fails or a row is not."""
        try:
            out = self._run_unchecked(images, output)
        except ORT_ERRORS as e:  # the probe passed, but these images make the graph fail
            raise scoring_failed(self.path, e) from e
        check_finite(out, self.path, output)
        return out

    def _run_unchecked(self, images: object, output: str) -> np.ndarray:
        # Hot path: a uint8 C-contiguous (N, 28, 28) batch that fits one call goes straight to
        # onnxruntime (single-image latency is dominated by Python overhead, so every check counts).
        if (
            type(images) is np.ndarray
            and images.dtype == np.uint8
            and images.ndim == 3
            and 0 < images.shape[0] <= self.chunk
            and (self.split_from is None or images.shape[0] < self.split_from)
            and images.shape[1:] == IMAGE_SHAPE
            and images.flags.c_contiguous
        ):
            return self.session.run([output], {INPUT: images})[0]
        batch = as_batch(images)  # a view: shape checked, values converted chunk by chunk below
        if self.split_from is not None and len(batch) >= self.split_from:
            return self._run_split(batch, output)
        if len(batch) <= self.chunk:
            return self.session.run([output], {INPUT: to_uint8(batch)})[0]
        out = np.empty((len(batch), NUM_CLASSES), np.float32)
        for start, part in zip(range(0, len(batch), self.chunk), chunks(batch, self.chunk), strict=False):
            out[start : start + len(part)] = self.session.run([output], {INPUT: to_uint8(part)})[0]
        return out

    def _run_split(self, batch: np.ndarray, output: str) -> np.ndarray:
        """Pieces of `batch` scored side by side on the Predictor's threads (see PieceThreads).
        Each row's result depends on that row alone: the same bits as the sequential path."""
        n = len(batch)
        # A multiple of `threads` pieces of at most `chunk` images: equal shares, each in cache.
        size = math.ceil(n / (self.threads * math.ceil(n / (self.chunk * self.threads))))
        out = np.empty((n, NUM_CLASSES), np.float32)

        def score_piece(piece: int, session: ort.InferenceSession) -> None:
            start = piece * size
            part = to_uint8(batch[start : start + size])  # (<= size, 28, 28) uint8
            out[start : start + len(part)] = session.run([output], {INPUT: part})[0]

        self._pieces.run(math.ceil(n / size), score_piece)
        return out

    def close(self) -> None:
        """Stop the Predictor's helper threads now; they also stop when it is garbage-collected
        or the interpreter exits, and a later large batch starts them again."""
        self._pieces.close()

    def __enter__(self) -> Predictor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def predict_proba(self, images: object) -> np.ndarray:
        """(N, 10) float32 class probabilities."""
        return self._run(images, PROBABILITIES)

    def logits(self, images: object) -> np.ndarray:
        """(N, 10) float32 logits."""
        return self._run(images, LOGITS)

    @functools.cached_property
    def linear(self) -> LinearWeights:
        """W (10, 784) and b (10,) per raw pixel value, read once by probing the model's logits;
        ModelError when the model is not linear."""
        return linear_weights(self.logits, str(self.path))

    def templates(self) -> np.ndarray:
        """(10, 28, 28) float32: each class's weights, in logit units per raw pixel value."""
        return self.linear.templates()

    def contributions(self, images: object, cls: object, versus: object = None) -> np.ndarray:
        """(N, 28, 28) float32: W[cls] * x, or (W[cls] - W[versus]) * x; summed over the pixels plus
        the bias (difference), exactly the logit (difference) `logits(images)` gives."""
        return self.linear.contributions(images, cls, versus)

    def predict(self, images: object) -> Prediction:
        """Labels, class names and probabilities for a batch (any shape/dtype `as_uint8_batch` takes)."""
        probs = self.predict_proba(images)
        labels = probs.argmax(axis=1)
        return Prediction(labels, list(self._names[labels]), probs)

    def predict_batches(self, batches: Iterable[object]) -> Iterator[Prediction]:
        """One Prediction per batch, lazily: memory stays bounded by the largest batch, whatever
        the total (a generator over files, a memory-mapped .npy sliced by the caller, ...)."""
        for batch in batches:
            yield self.predict(batch)
