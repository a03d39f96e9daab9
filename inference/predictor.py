"""Batch scoring on onnxruntime: `Predictor(model).predict(images)`.

Opens the exported model (a .onnx file or the `models/` repository), reads class names and the
rest of its metadata from the file itself, and scores uint8 images. numpy + onnxruntime only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

try:
    import onnxruntime as ort
except ImportError as e:  # the runtime is an extra, so a bare install can lack it
    raise ImportError(
        "onnxruntime is not installed: pip install 'fashion-softmax[cpu]' "
        "(or 'fashion-softmax[gpu]' for the CUDA build; never both)"
    ) from e

from inference.classes import IMAGE_SHAPE, NUM_CLASSES
from inference.errors import InferenceError
from inference.inputs import as_batch, as_uint8_batch, chunks, to_uint8

__all__ = ["Prediction", "Predictor", "ModelError", "resolve_model_path", "as_uint8_batch", "default_threads"]

log = logging.getLogger(__name__)

DEFAULT_REPOSITORY = Path("models")
MODEL_NAME = "fashion_mnist"  # the folder name inside the Triton repository
DEVICES = ("auto", "cpu", "cuda")
# Images per onnxruntime call. The graph's float32 copies of a chunk (1024 * 784 * 4 B = 3.2 MB
# each) stay in cache, which scores the 10,000-image test set ~2x faster than one big call
# (benchmarks/inference_speed.py), and working memory no longer grows with N.
CHUNK = 1024
GPU_HOWTO = "pip uninstall -y onnxruntime && pip install 'fashion-softmax[gpu]' (the onnxruntime-gpu build; see README: GPU)"


class ModelError(InferenceError):
    """The model file is missing, unreadable, not ONNX, or not a Fashion-MNIST classifier."""


def resolve_model_path(model: str | os.PathLike | None = None) -> Path:
    """A .onnx file as given, or the newest version inside a Triton repository (or model) folder."""
    path = Path(model) if model is not None else DEFAULT_REPOSITORY
    if path.is_dir():
        for folder in (path / MODEL_NAME, path):
            versions = sorted((int(p.name), p) for p in folder.glob("[0-9]*") if p.name.isdigit())
            if versions and (versions[-1][1] / "model.onnx").is_file():
                return versions[-1][1] / "model.onnx"
        raise ModelError(
            f"no model in {path}: expected {path}/{MODEL_NAME}/<version>/model.onnx "
            "(run `train-and-export` or `make run` to create it)"
        )
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist (run `train-and-export` or `make run` to create it)")
    return path


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


def default_threads() -> int:
    """onnxruntime intra-op threads when the caller names none.

    $OMP_NUM_THREADS wins when set: Ray, torchrun and most process pools set it per worker (often
    to 1), which is what keeps N workers from running N x cores threads. Otherwise one thread per
    core this process may use (its affinity mask, not the machine's total, so taskset and
    container CPU pinning are respected).
    """
    value = os.environ.get("OMP_NUM_THREADS", "")
    if value.isdigit() and int(value) >= 1:
        return int(value)
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


class Predictor:
    """One onnxruntime session over the exported model.

    device: "auto" uses CUDA when the installed onnxruntime has it and it initialises, else CPU;
    "cuda" fails rather than silently running on the CPU. threads: onnxruntime's intra-op threads
    (None: `default_threads()`, one per usable core or $OMP_NUM_THREADS; pass 1 in each of many
    worker processes). chunk: images per onnxruntime call; larger batches are split.
    """

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        device: str = "auto",
        threads: int | None = None,
        chunk: int = CHUNK,
    ):
        if device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise ValueError(f"threads must be a whole number >= 1 or None, got {threads!r}")
        if not isinstance(chunk, int) or chunk < 1:
            raise ValueError(f"chunk must be a whole number >= 1, got {chunk!r}")
        self.path = resolve_model_path(model)
        self.chunk = chunk
        self.threads = threads if threads is not None else default_threads()
        options = ort.SessionOptions()
        options.inter_op_num_threads = 1  # one linear layer: nothing to run side by side
        options.intra_op_num_threads = self.threads
        if self.threads == 1:
            # No pool to keep warm: spinning would only burn a core other workers need.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            data = self.path.read_bytes()
            self.session = ort.InferenceSession(data, options, providers=_providers(device))
        except ModelError:
            raise
        except Exception as e:  # onnxruntime raises its own types for corrupt or truncated files
            first_line = (str(e).splitlines() or [type(e).__name__])[0]
            raise ModelError(f"{self.path} is not a loadable ONNX model: {first_line}") from e
        self.providers = self.session.get_providers()
        if device == "cuda" and "CUDAExecutionProvider" not in self.providers:
            raise ModelError("CUDAExecutionProvider is installed but did not initialise (no GPU or driver?)")
        self.device = "cuda" if "CUDAExecutionProvider" in self.providers else "cpu"
        log.info("scoring on %s (%s)", self.device, ", ".join(self.providers))
        self._check_signature()
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        try:
            self.class_names = list(json.loads(self.metadata["class_names"]))
        except (KeyError, ValueError) as e:
            raise ModelError(f"{self.path} has no class_names in its metadata; export it with train-and-export") from e
        if len(self.class_names) != NUM_CLASSES:
            raise ModelError(f"{self.path} names {len(self.class_names)} classes, expected {NUM_CLASSES}")
        self._names = np.array(self.class_names, dtype=object)

    def _check_signature(self) -> None:
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        got_in = [(i.name, i.type, i.shape[1:]) for i in inputs]
        if got_in != [("images", "tensor(uint8)", list(IMAGE_SHAPE))]:
            raise ModelError(
                f"{self.path} is not a Fashion-MNIST model of this project: inputs {got_in}, "
                "expected one input images: uint8 [N, 28, 28]"
            )
        names = [o.name for o in outputs]
        if names[:2] != ["probabilities", "logits"]:
            raise ModelError(f"{self.path} has outputs {names}, expected probabilities and logits")

    @property
    def test_accuracy(self) -> float | None:
        value = self.metadata.get("test_accuracy")
        return float(value) if value is not None else None

    def describe(self) -> str:
        """One line for logs and command output: which file, which device, how many threads."""
        return f"{self.path} on {self.device} ({', '.join(self.providers)}), {self.threads} thread(s)"

    def _run(self, images, output: str) -> np.ndarray:
        # Hot path: a uint8 C-contiguous (N, 28, 28) batch that fits one chunk goes straight to
        # onnxruntime (single-image latency is dominated by Python overhead, so every check counts).
        if (
            type(images) is np.ndarray
            and images.dtype == np.uint8
            and images.ndim == 3
            and 0 < images.shape[0] <= self.chunk
            and images.shape[1:] == IMAGE_SHAPE
            and images.flags.c_contiguous
        ):
            return self.session.run([output], {"images": images})[0]
        batch = as_batch(images)  # a view: shape checked, values converted chunk by chunk below
        if len(batch) <= self.chunk:
            return self.session.run([output], {"images": to_uint8(batch)})[0]
        out = np.empty((len(batch), NUM_CLASSES), np.float32)
        for start, part in zip(range(0, len(batch), self.chunk), chunks(batch, self.chunk)):
            out[start : start + len(part)] = self.session.run([output], {"images": to_uint8(part)})[0]
        return out

    def predict_proba(self, images) -> np.ndarray:
        """(N, 10) float32 class probabilities."""
        return self._run(images, "probabilities")

    def logits(self, images) -> np.ndarray:
        """(N, 10) float32 logits."""
        return self._run(images, "logits")

    def predict(self, images) -> Prediction:
        """Labels, class names and probabilities for a batch (any shape/dtype `as_uint8_batch` takes)."""
        probs = self.predict_proba(images)
        labels = probs.argmax(axis=1)
        return Prediction(labels, list(self._names[labels]), probs)

    def predict_batches(self, batches: Iterable) -> Iterator[Prediction]:
        """One Prediction per batch, lazily: memory stays bounded by the largest batch, whatever
        the total (a generator over files, a memory-mapped .npy sliced by the caller, ...)."""
        for batch in batches:
            yield self.predict(batch)
