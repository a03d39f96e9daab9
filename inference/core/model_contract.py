"""The ONNX model contract, owned here: what the exporter writes and every reader checks.

    input    images         uint8   [N, 28, 28]  raw pixels 0..255, N free
    outputs  probabilities  float32 [N, 10]      softmax (of logits / T when calibrated)
             logits         float32 [N, 10]      raw, as trained
    metadata class_names (required: a JSON list of 10 strings) and the optional keys in `Key`

`training/onnx_export.py` takes the names and keys from here; the Predictor and the exporter's
`verify()` run the same checks (`check_signature`, `class_names`, `check_scores`), so a model the
exporter writes is one the Predictor opens. `ModelMetadata.parse` reads the optional keys: a
value that does not parse reads as None, since only the contract is a reason to refuse a model.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final, Protocol

import numpy as np

from inference.core.classes import IMAGE_SHAPE, NUM_CLASSES
from inference.core.errors import ModelError

INPUT: Final = "images"
PROBABILITIES: Final = "probabilities"
LOGITS: Final = "logits"
OUTPUTS: Final = (PROBABILITIES, LOGITS)  # in the graph's order
INPUT_DTYPE: Final = np.dtype(np.uint8)
OUTPUT_DTYPE: Final = np.dtype(np.float32)
# onnxruntime's names for those dtypes, as NodeArg.type gives them
INPUT_TYPE: Final = "tensor(uint8)"
OUTPUT_TYPE: Final = "tensor(float)"
CONTRACT: Final = (
    f"one input {INPUT}: uint8 [N, 28, 28] with N free, outputs {PROBABILITIES} and {LOGITS}: "
    f"float32 [N, {NUM_CLASSES}], and class_names in the metadata: a JSON list of {NUM_CLASSES} strings"
)
# The advice for a model that breaks the contract when a user brought it: make one that keeps it.
EXPORT_ONE: Final = "export one with train-and-export"


class Key:
    """Every metadata key the exporter writes. Only CLASS_NAMES is required."""

    CLASS_NAMES: Final = "class_names"  # JSON list of the 10 names, in label order
    INPUT: Final = "input"  # prose: what the input is (for a person reading the file)
    OUTPUTS: Final = "outputs"  # prose: what the outputs are
    VARIANT: Final = "variant"  # which training variant was exported ("concise")
    TEST_ACCURACY: Final = "test_accuracy"  # on the 10,000 test images, 0..1
    DATASET: Final = "dataset"  # "Fashion-MNIST"
    DATASET_SHA256: Final = "dataset_sha256"  # digest of the IDX files trained on
    RECIPE: Final = "recipe"  # JSON: the training settings
    VERSIONS: Final = "versions"  # JSON: python, torch, onnx, onnxruntime, numpy
    CREATED: Final = "created"  # ISO 8601, UTC
    # With calibration (train-and-export --calibrate):
    TEMPERATURE: Final = "temperature"  # the T of softmax(logits / T)
    ECE_TEST_BEFORE: Final = "ece_test_before"
    ECE_TEST_AFTER: Final = "ece_test_after"
    # With --corrections: the verdicts the model was trained and scored with.
    CORRECTIONS_TRAIN: Final = "corrections_train"  # JSON: verdict -> images, training split
    CORRECTIONS_TEST: Final = "corrections_test"  # JSON: verdict -> images, test split
    CORRECTIONS_DIGEST: Final = "corrections_digest"  # digest of the training verdicts
    CORRECTIONS_TEST_DIGEST: Final = "corrections_test_digest"
    TEST_ACCURACY_CORRECTED: Final = "test_accuracy_corrected"  # on the corrected test labels

    @classmethod
    def all(cls) -> frozenset[str]:
        return frozenset(v for k, v in vars(cls).items() if k.isupper())


INPUT_TEXT: Final = f"{INPUT}: uint8 [N, 28, 28], raw Fashion-MNIST pixels 0..255 (0 = background); scaling to [0, 1] is inside the graph"
OUTPUTS_TEXT: Final = f"{PROBABILITIES}: float32 [N, 10] (softmax); {LOGITS}: float32 [N, 10]"
SHA256 = re.compile(r"[0-9a-f]{64}")


class Declared(Protocol):
    """What onnxruntime says of one input or output (its NodeArg), before anything runs."""

    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def shape(self) -> Sequence[int | str | None] | None: ...


class ModelMeta(Protocol):
    @property
    def custom_metadata_map(self) -> Mapping[str, str]: ...


class Session(Protocol):
    """The part of an onnxruntime InferenceSession the checks read."""

    def get_inputs(self) -> Sequence[Declared]: ...
    def get_outputs(self) -> Sequence[Declared]: ...
    def get_modelmeta(self) -> ModelMeta: ...


def refusal(source: str | Path, what: str, fix: str = EXPORT_ONE) -> ModelError:
    """The one-line ModelError for a model that breaks the contract: what it has, what is expected."""
    return ModelError(f"{source} is not a Fashion-MNIST model of this project: {what}; expected {CONTRACT} ({fix})")


def describe(arg: Declared) -> str:
    """`uint8 [N, 28, 28]` for an onnxruntime NodeArg; symbolic dimensions by name, unknown as ?."""
    kind = arg.type.removeprefix("tensor(").removesuffix(")")
    kind = {"float": "float32", "double": "float64"}.get(kind, kind)
    dims = ", ".join("?" if d is None else str(d) for d in (arg.shape or []))
    return f"{kind} [{dims}]"


def check_signature(
    inputs: Sequence[Declared], outputs: Sequence[Declared], source: str | Path, fix: str = EXPORT_ONE
) -> None:
    """The declared signature (`session.get_inputs()`, `get_outputs()`): what onnxruntime infers
    from the graph. Symbolic dimensions pass here; `check_scores` sees what a run really gives."""
    if len(inputs) != 1:
        raise refusal(source, f"it has {len(inputs)} inputs {[i.name for i in inputs]}", fix)
    (given,) = inputs
    shape = list(given.shape or [])
    if (
        given.name != INPUT
        or given.type != INPUT_TYPE
        or len(shape) != 3
        or isinstance(shape[0], int)  # a fixed batch size could not score other batch sizes
        or any(isinstance(d, int) and d != side for d, side in zip(shape[1:], IMAGE_SHAPE, strict=True))
    ):
        raise refusal(source, f"its input is {given.name}: {describe(given)}", fix)
    declared = {o.name: o for o in outputs}
    missing = [name for name in OUTPUTS if name not in declared]
    if missing:
        raise refusal(source, f"it has outputs {list(declared)}, without {' and '.join(missing)}", fix)
    for name in OUTPUTS:
        out = declared[name]
        shape = list(out.shape or [])
        classes = shape[1] if len(shape) == 2 else None
        if out.type != OUTPUT_TYPE or len(shape) != 2 or (isinstance(classes, int) and classes != NUM_CLASSES):
            raise refusal(source, f"its output {name} is {describe(out)}", fix)


def probe_images() -> np.ndarray:
    """(2, 28, 28) uint8: a black and a white image. Two rather than one, to catch a graph that
    hard-codes a batch of one."""
    return np.stack([np.zeros(IMAGE_SHAPE, INPUT_DTYPE), np.full(IMAGE_SHAPE, 255, INPUT_DTYPE)])


def check_scores(
    probabilities: np.ndarray, logits: np.ndarray, batch: int, source: str | Path, fix: str = EXPORT_ONE
) -> None:
    """What a run on `batch` images really gave: the declared shapes may leave the number of
    classes symbolic ([N, "C"]) or be narrower than what the graph computes."""
    for name, out in zip(OUTPUTS, (probabilities, logits), strict=True):
        if out.dtype != OUTPUT_DTYPE or out.shape != (batch, NUM_CLASSES):
            raise refusal(
                source, f"on a batch of {batch} images its output {name} is {out.dtype} {list(out.shape)}", fix
            )
    if not (np.isfinite(probabilities).all() and np.isfinite(logits).all()):
        raise refusal(source, f"on a batch of {batch} images it outputs NaN or infinity", fix)
    rows = probabilities.sum(axis=1)  # (N, 10) -> (N,)
    if probabilities.min() < 0 or probabilities.max() > 1 or not np.allclose(rows, 1.0, atol=1e-3):
        raise refusal(
            source, f"its {PROBABILITIES} are not probabilities (each row must be in [0, 1] and sum to 1)", fix
        )


def class_names(metadata: Mapping[str, str], source: str | Path, fix: str = EXPORT_ONE) -> list[str]:
    """The required metadata: the ten class names, in label order."""
    raw = metadata.get(Key.CLASS_NAMES)
    if raw is None:
        raise ModelError(f"{source} has no {Key.CLASS_NAMES} in its metadata; {fix}")
    try:
        names = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested beyond Python's stack
        names = None
    if not (isinstance(names, list) and len(names) == NUM_CLASSES and all(isinstance(n, str) for n in names)):
        shown = raw if len(raw) <= 80 else raw[:77] + "..."
        raise ModelError(
            f"{source} has {Key.CLASS_NAMES} {shown!r}, expected a JSON list of {NUM_CLASSES} strings ({fix})"
        )
    return names


@dataclass(frozen=True)
class CorrectionsUsed:
    """The verdicts a model was trained with (--corrections), as its metadata records them."""

    train: dict[str, int] | None  # verdict -> images in the training split
    test: dict[str, int] | None  # verdict -> images in the test split
    digest: str | None  # names the training verdicts, the ones the model learned from
    test_digest: str | None
    test_accuracy_corrected: float | None  # on the test labels with the verdicts applied


@dataclass(frozen=True)
class ModelMetadata:
    """The optional metadata, parsed: each value that is missing or does not parse is None."""

    test_accuracy: float | None
    temperature: float | None  # the T of softmax(logits / T), when the export was calibrated
    dataset_sha256: str | None
    created: str | None
    variant: str | None
    corrections: CorrectionsUsed | None  # None: trained without --corrections (no corrections_* key)

    @classmethod
    def parse(cls, metadata: Mapping[str, str]) -> ModelMetadata:
        return cls(
            test_accuracy=_number(metadata.get(Key.TEST_ACCURACY), _fraction),
            temperature=_number(metadata.get(Key.TEMPERATURE), lambda v: v > 0),
            dataset_sha256=_hex_digest(metadata.get(Key.DATASET_SHA256)),
            created=_timestamp(metadata.get(Key.CREATED)),
            variant=(metadata.get(Key.VARIANT) or "").strip() or None,
            corrections=_corrections(metadata),
        )


def _corrections(metadata: Mapping[str, str]) -> CorrectionsUsed | None:
    if not any(key.startswith("corrections_") for key in metadata):
        return None
    return CorrectionsUsed(
        train=_counts(metadata.get(Key.CORRECTIONS_TRAIN)),
        test=_counts(metadata.get(Key.CORRECTIONS_TEST)),
        digest=_hex_digest(metadata.get(Key.CORRECTIONS_DIGEST)),
        test_digest=_hex_digest(metadata.get(Key.CORRECTIONS_TEST_DIGEST)),
        test_accuracy_corrected=_number(metadata.get(Key.TEST_ACCURACY_CORRECTED), _fraction),
    )


def _fraction(value: float) -> bool:
    return 0 <= value <= 1


def _number(text: str | None, plausible: Callable[[float], bool]) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and plausible(value) else None


def _hex_digest(text: str | None) -> str | None:
    return text if text is not None and SHA256.fullmatch(text) else None


def _timestamp(text: str | None) -> str | None:
    """The ISO 8601 time as written, when it is one."""
    if text is None:
        return None
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return None
    return text


def _counts(text: str | None) -> dict[str, int] | None:
    """{"relabel": 3, ...}: a JSON object of whole counts >= 0, else None."""
    try:
        counts = json.loads(text) if text is not None else None
    except (ValueError, RecursionError):
        return None
    if not isinstance(counts, dict):
        return None
    if not all(type(n) is int and n >= 0 for n in counts.values()):  # type(): a bool is no count
        return None
    return counts


@dataclass(frozen=True)
class CheckedModel:
    """What `check_session` read from a model that keeps the declared contract."""

    class_names: list[str]
    metadata: dict[str, str]  # every key, as written
    parsed: ModelMetadata


def check_session(session: Session, source: str | Path, fix: str = EXPORT_ONE) -> CheckedModel:
    """The contract a model declares: its signature, then its metadata (class_names required).
    A ModelError naming `source` and `fix` when it breaks it; a run (`check_scores`) comes next."""
    check_signature(session.get_inputs(), session.get_outputs(), source, fix)
    try:
        metadata = dict(session.get_modelmeta().custom_metadata_map)
    except UnicodeDecodeError as e:  # protobuf never writes such bytes: a file changed after export
        raise ModelError(f"{source} has metadata that is not UTF-8 text; {fix}") from e
    return CheckedModel(class_names(metadata, source, fix), metadata, ModelMetadata.parse(metadata))
