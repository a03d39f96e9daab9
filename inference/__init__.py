"""The torch-free Fashion-MNIST classifier: score images with the exported ONNX model.

    from inference import Predictor, load, load_split, InferenceError

    predictor = Predictor()                  # the newest version in models/, or a .onnx path
    prediction = predictor.predict(load("shirt.png").images)
    test = load_split("test")                # the Fashion-MNIST test split, digest-checked

Every error it raises about the caller's input, files or model is an `InferenceError`.

The errors are imported at once (standard library only); the rest on first use (PEP 562), so that
`import inference.core.errors` and a command's `--help` never pay for numpy and onnxruntime
(onnxruntime alone takes a quarter of a second to import).
"""

from __future__ import annotations

import importlib

from inference.core.errors import (
    ArgumentError,
    CorrectionsError,
    DatasetError,
    InferenceError,
    InputError,
    InputTypeError,
    ModelError,
    NonFiniteScores,
    RayEngineError,
    ReportError,
)

# typing.TYPE_CHECKING without importing typing, which took 8 of the 13 ms `import inference.core.errors`
# cost under -X importtime; mypy takes any name TYPE_CHECKING as that flag.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from inference.core.fashion_mnist import Split, load_split
    from inference.core.input_files import LoadedImages, load
    from inference.core.predictor import Prediction, Predictor

# name -> the module that defines it, imported when the name is first asked for
_LAZY = {
    "Predictor": "inference.core.predictor",
    "Prediction": "inference.core.predictor",
    "load": "inference.core.input_files",
    "LoadedImages": "inference.core.input_files",
    "load_split": "inference.core.fashion_mnist",
    "Split": "inference.core.fashion_mnist",
}

__all__ = [
    "ArgumentError",
    "CorrectionsError",
    "DatasetError",
    "InferenceError",
    "InputError",
    "InputTypeError",
    "LoadedImages",
    "ModelError",
    "NonFiniteScores",
    "Prediction",
    "Predictor",
    "RayEngineError",
    "ReportError",
    "Split",
    "load",
    "load_split",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'inference' has no attribute {name!r}; it has {', '.join(__all__)}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # asked once: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
