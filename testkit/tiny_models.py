"""Small runnable ONNX models built with onnx.helper (no torch): a linear softmax classifier with
the project's signature by default, and every way of breaking that signature by keyword.

    images uint8 [N, 28, 28] -> Cast -> Reshape (N, 784) -> x/255 -> Gemm (N, 10) = logits
                                                                    -> Softmax  = probabilities

`write_tiny_model(tmp_path / "model.onnx")` is a valid model for the Predictor in milliseconds,
so inference tests need neither training nor the dataset.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from inference.core.classes import CLASS_NAMES

PIXELS = 784
OPSET = 18
IR_VERSION = 8  # what every onnxruntime since 1.14 loads
KEEP = object()  # the default: class_names are the ten Fashion-MNIST names; declared_classes is n_classes


def tiny_weights(n_classes: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(784, n) weights and (n,) bias, seeded: different images get different scores."""
    rng = np.random.default_rng(seed)
    return rng.normal(0, 0.5, (PIXELS, n_classes)).astype(np.float32), rng.normal(0, 0.1, n_classes).astype(np.float32)


def tiny_model(
    *,
    n_classes: int = 10,
    input_dtype=np.uint8,
    input_shape: Sequence = ("N", 28, 28),
    output_names: Sequence[str] = ("probabilities", "logits"),
    output_dtype=np.float32,
    declared_classes=KEEP,
    second_input: bool = False,
    hide_class_count: bool = False,
    class_names=KEEP,
    metadata: dict[str, str] | None = None,
    weights: tuple[np.ndarray, np.ndarray] | None = None,
) -> onnx.ModelProto:
    """The model as a ModelProto. Keywords break one part of the contract each:

    n_classes: columns the graph really computes; declared_classes: what the outputs declare
    (default n_classes; a string makes it symbolic, None leaves it unknown). hide_class_count:
    reshape the scores through a runtime-computed shape, so that no shape inference can tell the
    number of classes and only running the model shows it. output_names: the
    outputs in order, taken from (probabilities, logits) and renamed; fewer names drop outputs.
    class_names: a list is stored as JSON, a str is stored as it is, None stores no class_names.
    metadata: more key/value pairs, overriding the defaults.
    """
    w, b = weights if weights is not None else tiny_weights(n_classes)
    elem_in = helper.np_dtype_to_tensor_dtype(np.dtype(input_dtype))
    elem_out = helper.np_dtype_to_tensor_dtype(np.dtype(output_dtype))
    computed = ["_probabilities", "_logits"][: len(output_names)]
    nodes = [
        helper.make_node("Cast", ["images"], ["pixels"], to=TensorProto.FLOAT),
        helper.make_node("Reshape", ["pixels", "flat_shape"], ["flat"]),  # (N, 28, 28) -> (N, 784)
        helper.make_node("Mul", ["flat", "inv255"], ["scaled"]),
        helper.make_node("Gemm", ["scaled", "W", "b"], ["z0" if hide_class_count else "z"]),  # (N, 784) -> (N, n)
        helper.make_node("Softmax", ["z"], ["p"], axis=1),
        helper.make_node("Cast", ["p"], ["_probabilities"], to=elem_out),
        helper.make_node("Cast", ["z"], ["_logits"], to=elem_out),
    ]
    if hide_class_count:  # z = z0.reshape(len(z0), -1)
        nodes[4:4] = [
            helper.make_node("Shape", ["z0"], ["batch"], start=0, end=1),
            helper.make_node("Concat", ["batch", "minus_one"], ["z_shape"], axis=0),
            helper.make_node("Reshape", ["z0", "z_shape"], ["z"]),
        ]
    nodes += [helper.make_node("Identity", [src], [name]) for src, name in zip(computed, output_names, strict=False)]
    initializers = [
        numpy_helper.from_array(np.array([-1, PIXELS], np.int64), "flat_shape"),
        numpy_helper.from_array(np.array(1 / 255, np.float32), "inv255"),
        numpy_helper.from_array(np.array([-1], np.int64), "minus_one"),
        numpy_helper.from_array(w, "W"),
        numpy_helper.from_array(b, "b"),
    ]
    inputs = [helper.make_tensor_value_info("images", elem_in, list(input_shape))]
    if second_input:
        inputs.append(helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["N"]))
    classes = n_classes if declared_classes is KEEP else declared_classes
    outputs = [helper.make_tensor_value_info(name, elem_out, [input_shape[0], classes]) for name in output_names]
    graph = helper.make_graph(nodes, "tiny_softmax_regression", inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    meta = (
        {}
        if class_names is None
        else {
            "class_names": class_names
            if isinstance(class_names, str)
            else json.dumps(list(CLASS_NAMES) if class_names is KEEP else list(class_names))
        }
    )
    meta.update(metadata or {})
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    return model


def write_tiny_model(path: str | Path, **kwargs) -> Path:
    """`tiny_model(**kwargs)` saved at `path` (folders created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tiny_model(**kwargs).SerializeToString())
    return path


def reference_scores(images: np.ndarray, n_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, logits) of the default tiny model, in numpy float64, for comparisons."""
    w, b = tiny_weights(n_classes)
    logits = images.reshape(len(images), PIXELS).astype(np.float64) / 255 @ w.astype(np.float64) + b
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True), logits
