"""Export the concise model to ONNX: raw uint8 pixels in, probabilities and logits out.

The graph does its own scaling to [0, 1] and its own softmax, so no client can get the
preprocessing wrong and the file alone is enough to serve. Names, dtypes and metadata keys come
from `inference.core.model_contract`, the contract's one owner. The result is checked (onnx.checker,
the Predictor's own contract checks, then onnxruntime against PyTorch on the whole test set)
before it is written.
"""

from __future__ import annotations

import copy
import json
import os
import platform
import warnings
from datetime import datetime, timezone

import numpy as np
import onnx
import onnxruntime as ort
import torch

# protobuf's stubs (types-protobuf) are not installed; DecodeError is all that is used of it.
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from torch import nn

from inference.core.classes import CLASS_NAMES
from inference.core.errors import ModelError
from inference.core.model_contract import (
    INPUT,
    INPUT_TEXT,
    OUTPUTS,
    OUTPUTS_TEXT,
    Key,
    ModelMetadata,
    check_scores,
    check_session,
    probe_images,
)
from training.calibration import Calibration
from training.errors import TrainingError
from training.loop import scale

# ONNX opset 18 is the oldest the torch.export-based exporter emits natively; every
# onnxruntime since 1.14 runs it, and so do Triton's onnxruntime backends of those years.
OPSET = 18
MAX_PROB_DIFF = 1e-5  # the agreement export promises between onnxruntime and PyTorch
# What a contract check names and advises when the exported model breaks it: the exporter's bug.
EXPORTED = "the exported model"
NOT_WRITTEN = "the exporter and inference/core/model_contract.py disagree; nothing was written to the model repository"


class ExportHead(nn.Module):
    """uint8 images (N, 28, 28) -> (probabilities (N, 10), logits (N, 10)), float32.

    The scaling x / 255 is folded into the weights: (W / 255) @ pixels == W @ (pixels / 255).
    The graph becomes Cast -> Gemm -> Softmax, without a Div over every input pixel that cost
    about a quarter of the inference time; it still takes raw pixels, so no client can get
    the preprocessing wrong. `verify` checks the fold against the model as trained.
    """

    def __init__(self, net: nn.Sequential, temperature: float = 1.0) -> None:
        super().__init__()
        self.temperature = temperature
        trained = net[-1]  # the concise model's nn.Linear(784, 10)
        if not isinstance(trained, nn.Linear):
            raise TrainingError(
                f"the export head takes the concise model, whose last layer is nn.Linear(784, 10); "
                f"got {type(trained).__name__}: export the concise variant"
            )
        self.linear = nn.Linear(trained.in_features, trained.out_features)
        with torch.no_grad():
            self.linear.weight.copy_(trained.weight / 255.0)
            self.linear.bias.copy_(trained.bias)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pixels = images.to(torch.float32).flatten(1)  # (N, 28, 28) uint8 -> (N, 784), 0..255
        logits = self.linear(pixels)  # (N, 784) -> (N, 10)
        # Only the probabilities are calibrated: `logits` stays raw, so attributions see the model
        # as trained. T = 1 keeps the graph Cast -> Gemm -> Softmax, without a Div.
        scaled = logits if self.temperature == 1.0 else logits / self.temperature
        return torch.softmax(scaled, dim=1), logits


@torch.no_grad()
def reference(net: nn.Module, images: torch.Tensor, temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(probabilities, logits) of the model as trained: scaled batch in, softmax over logits / T."""
    logits = net.eval()(scale(images))
    return torch.softmax(logits / temperature, dim=1), logits


def metadata(
    variant: str,
    test_accuracy: float,
    dataset_digest: str,
    recipe: dict[str, object],
    calibration: Calibration | None = None,
) -> dict[str, str]:
    """What every consumer reads from the file instead of hard-coding it."""
    calibrated = (
        {}
        if calibration is None
        else {
            Key.TEMPERATURE: repr(calibration.temperature),
            Key.ECE_TEST_BEFORE: f"{calibration.test_before.ece:.6f}",
            Key.ECE_TEST_AFTER: f"{calibration.test_after.ece:.6f}",
        }
    )
    return calibrated | {
        Key.CLASS_NAMES: json.dumps(list(CLASS_NAMES)),
        Key.INPUT: INPUT_TEXT,
        Key.OUTPUTS: OUTPUTS_TEXT,
        Key.VARIANT: variant,
        Key.TEST_ACCURACY: f"{test_accuracy:.6f}",
        Key.DATASET: "Fashion-MNIST",
        Key.DATASET_SHA256: dataset_digest,
        Key.RECIPE: json.dumps(recipe, sort_keys=True),
        Key.VERSIONS: json.dumps(
            {
                "python": platform.python_version(),
                "torch": torch.__version__,
                "onnx": onnx.__version__,
                "onnxruntime": ort.__version__,
                "numpy": np.__version__,
            }
        ),
        Key.CREATED: datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def recorded_accuracy(path: str | os.PathLike[str]) -> float | None:
    """The test accuracy an exported model's metadata records; None for a missing or unreadable
    file, or one without a usable value (it was then not written by this exporter). Parsed by the
    contract's own parser, as the Predictor reads it."""
    try:
        model = onnx.load(path, load_external_data=False)
    except (OSError, DecodeError):
        return None
    return ModelMetadata.parse({p.key: p.value for p in model.metadata_props}).test_accuracy


def to_onnx(
    net: nn.Sequential, example: torch.Tensor, meta: dict[str, str], temperature: float = 1.0
) -> onnx.ModelProto:
    """Trace `net` behind the export head with a dynamic batch dimension; checked, with metadata."""
    # A CPU copy: Module.to and .eval() act in place, and the caller's model (on CUDA, in training
    # mode) is scored again after the export (the label-issue report's test split).
    head = ExportHead(copy.deepcopy(net).cpu(), temperature).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on its own internals are not ours
        program = torch.onnx.export(
            head,
            (example.cpu(),),
            dynamo=True,
            input_names=[INPUT],
            output_names=list(OUTPUTS),
            dynamic_shapes={INPUT: {0: torch.export.Dim("batch")}},
            opset_version=OPSET,
            external_data=False,
            verbose=False,
        )
    if program is None:  # only the legacy exporter (dynamo=False) may return nothing
        raise TrainingError("torch.onnx.export returned no ONNX program; the model was not written")
    model = program.model_proto
    model.doc_string = "Fashion-MNIST softmax regression (uint8 images -> probabilities, logits)"
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as e:
        raise TrainingError(f"the exported ONNX model does not pass onnx.checker: {e}") from e
    return model


def check_contract(model: onnx.ModelProto) -> ort.InferenceSession:
    """The checks the Predictor runs when it opens a model (model_contract.py: the declared
    signature, class_names, then what a run on two images gives), on the model in memory:
    a TrainingError, one line, when it breaks them. Returns the session, for `verify`."""
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    try:
        check_session(session, EXPORTED, NOT_WRITTEN)
        images = probe_images()
        probs, logits = session.run(list(OUTPUTS), {INPUT: images})
        check_scores(probs, logits, len(images), EXPORTED, NOT_WRITTEN)
    except ModelError as e:
        raise TrainingError(str(e)) from None
    return session


@torch.no_grad()
def verify(model: onnx.ModelProto, net: nn.Module, images: torch.Tensor, temperature: float = 1.0) -> float:
    """The model contract (`check_contract`), then onnxruntime vs PyTorch on `images`: returns the
    max abs difference of probabilities. Runs before the model is written, so a model that fails
    leaves the repository as it was.

    Raises unless the contract holds, every prediction is identical and probabilities agree
    within MAX_PROB_DIFF.
    """
    session = check_contract(model)
    ort_probs, _ = session.run(list(OUTPUTS), {INPUT: images.cpu().numpy()})
    torch_probs = reference(copy.deepcopy(net).cpu(), images.cpu(), temperature)[0].numpy()
    diff = float(np.abs(ort_probs - torch_probs).max())
    same = np.array_equal(ort_probs.argmax(1), torch_probs.argmax(1))
    if diff > MAX_PROB_DIFF or not same:
        raise TrainingError(
            f"onnxruntime disagrees with PyTorch on the test set (max |Δp| = {diff:.2e}, "
            f"same predictions: {same}); the model was not written"
        )
    return diff
