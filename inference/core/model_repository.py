"""The `models/` folder, a Triton Inference Server model repository: its layout, written and resolved here.

Training writes it and every consumer (Predictor, labeler, Ray) resolves a model in it through
this module alone, so the folder name and version layout are spelled in one place. Torch-free.

models/
  fashion_mnist/
    config.pbtxt       Triton's model configuration
    labels.txt         class names, one per line, for Triton's classification extension
    1/model.onnx       the exported model (version 1)
    history.json       training curves and summary   } plain files beside the config:
    curves.png         the curves as a plot           } Triton reads only config.pbtxt,
    concise.pt         trained weights (state dicts)  } the label file and numeric
    scratch.pt                                        } version folders
Every file is written atomically, so an interrupted run never leaves a half-written one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from inference.core.atomic_write import atomic_write
from inference.core.classes import CLASS_NAMES, IMAGE_SHAPE, NUM_CLASSES
from inference.core.errors import ModelError

DEFAULT_REPOSITORY = Path("models")
MODEL_NAME = "fashion_mnist"  # the folder name inside the repository
MODEL_FILE = "model.onnx"
MAX_BATCH = 4096  # largest batch Triton may form; 4096 x 784 bytes = 3 MB per request


def triton_config() -> str:
    h, w = IMAGE_SHAPE
    # dims leave out the batch dimension: with max_batch_size > 0 Triton adds it.
    return f"""name: "{MODEL_NAME}"
platform: "onnxruntime_onnx"
max_batch_size: {MAX_BATCH}
input [
  {{
    name: "images"
    data_type: TYPE_UINT8
    dims: [ {h}, {w} ]
  }}
]
output [
  {{
    name: "probabilities"
    data_type: TYPE_FP32
    dims: [ {NUM_CLASSES} ]
    label_filename: "labels.txt"
  }},
  {{
    name: "logits"
    data_type: TYPE_FP32
    dims: [ {NUM_CLASSES} ]
  }}
]
dynamic_batching {{
  max_queue_delay_microseconds: 100
}}
"""


def model_dir(out: str | os.PathLike) -> Path:
    return Path(out) / MODEL_NAME


def onnx_path(out: str | os.PathLike) -> Path:
    return model_dir(out) / "1" / MODEL_FILE


def check_writable(out: str | os.PathLike) -> None:
    """Create the model's folders and write and remove a probe file there, or raise OSError.

    Called before training, so an --out that is a file, lies below one, or is read-only fails
    in a second instead of after the whole run.
    """
    folder = onnx_path(out).parent  # the deepest folder a run writes into
    folder.mkdir(parents=True, exist_ok=True)
    fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-probe.", suffix=".tmp")
    try:
        os.close(fd)
    finally:  # even on Ctrl-C: no probe is left behind
        os.unlink(probe)


def write_model(out: str | os.PathLike, onnx_bytes: bytes) -> Path:
    """The ONNX file, its Triton config and label file; returns the model's path."""
    folder = model_dir(out)
    atomic_write(folder / "config.pbtxt", triton_config().encode())
    atomic_write(folder / "labels.txt", ("\n".join(CLASS_NAMES) + "\n").encode())
    path = onnx_path(out)
    atomic_write(path, onnx_bytes)
    return path


def resolve_model_path(model: str | os.PathLike | None = None) -> Path:
    """A .onnx file as given, or the newest version inside a Triton repository (or model) folder."""
    path = Path(model) if model is not None else DEFAULT_REPOSITORY
    try:
        return _resolve(path)
    except OSError as e:  # a name too long or a folder we may not list: one line, not a traceback
        raise ModelError(f"cannot open the model {path}: {e.strerror}") from e


def _resolve(path: Path) -> Path:
    if path.is_dir():
        for folder in (path / MODEL_NAME, path):
            versions = sorted((int(p.name), p) for p in folder.glob("[0-9]*") if p.name.isdigit())
            if versions and (versions[-1][1] / MODEL_FILE).is_file():
                return versions[-1][1] / MODEL_FILE
        raise ModelError(
            f"no model in {path}: expected {path}/{MODEL_NAME}/<version>/{MODEL_FILE} "
            "(run `train-and-export` or `make run` to create it)"
        )
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist (run `train-and-export` or `make run` to create it)")
    return path
