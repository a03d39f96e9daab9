"""Batch scoring on onnxruntime: `Predictor(model).predict(images)`.

Opens the exported model (a .onnx file or the `models/` repository), reads class names and the
rest of its metadata from the file itself, and scores uint8 images. numpy + onnxruntime only.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from inference.classes import IMAGE_SHAPE, NUM_CLASSES
from inference.errors import InferenceError

DEFAULT_REPOSITORY = Path("models")
MODEL_NAME = "fashion_mnist"  # the folder name inside the Triton repository
DEVICES = ("auto", "cpu", "cuda")


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
                f"(it has {', '.join(available)}); install the GPU build: "
                "pip uninstall onnxruntime && pip install 'fashion-softmax[gpu]'"
            )
        return ["CPUExecutionProvider"]
    return ["CUDAExecutionProvider", "CPUExecutionProvider"]


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
    (None: one per core, right for one process; use 1 when running many worker processes).
    """

    def __init__(self, model: str | os.PathLike | None = None, device: str = "auto", threads: int | None = None):
        if device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
        self.path = resolve_model_path(model)
        options = ort.SessionOptions()
        options.inter_op_num_threads = 1  # one linear layer: nothing to run side by side
        if threads is not None:
            if threads < 1:
                raise ValueError(f"threads must be >= 1, got {threads}")
            options.intra_op_num_threads = threads
        try:
            data = self.path.read_bytes()
            self.session = ort.InferenceSession(data, options, providers=_providers(device))
        except ModelError:
            raise
        except Exception as e:  # onnxruntime raises its own types for corrupt or truncated files
            raise ModelError(f"{self.path} is not a loadable ONNX model: {str(e).splitlines()[0]}") from e
        self.providers = self.session.get_providers()
        if device == "cuda" and "CUDAExecutionProvider" not in self.providers:
            raise ModelError("CUDAExecutionProvider is installed but did not initialise (no GPU or driver?)")
        self.device = "cuda" if "CUDAExecutionProvider" in self.providers else "cpu"
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

    def _run(self, images, output: str) -> np.ndarray:
        batch = as_uint8_batch(images)
        return self.session.run([output], {"images": batch})[0]

    def predict_proba(self, images) -> np.ndarray:
        """(N, 10) float32 class probabilities."""
        return self._run(images, "probabilities")

    def logits(self, images) -> np.ndarray:
        """(N, 10) float32 logits."""
        return self._run(images, "logits")

    def predict(self, images) -> Prediction:
        probs = self.predict_proba(images)
        labels = probs.argmax(axis=1)
        return Prediction(labels, list(self._names[labels]), probs)


def as_uint8_batch(images) -> np.ndarray:
    """uint8 (N, 28, 28) from a uint8 (N, 28, 28) or (28, 28) array."""
    if not isinstance(images, np.ndarray):
        raise TypeError(f"images must be a numpy array, got {type(images).__name__}")
    if images.ndim == 2:
        images = images[None]
    if images.dtype != np.uint8 or images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"images must be uint8 (N, 28, 28), got {images.dtype} {images.shape}")
    if len(images) == 0:
        raise ValueError("images is an empty batch")
    return np.ascontiguousarray(images)
