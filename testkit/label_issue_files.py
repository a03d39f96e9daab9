"""Label-issue reports written the way `train-and-export --cross-val` writes them, without cleanlab or
torch: a CSV per split in inference.core.label_issues's format plus the sidecar tying it to its data
and model. Quality is p(given label) (cleanlab's self_confidence) and the lowest `flag` rows are
flagged, as low_self_confidence flags the top of the ranking.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.core.label_issues import COLUMNS, SIDECAR, csv_name
from inference.core.predictor import Predictor
from testkit.tiny_models import tiny_weights, write_tiny_model

FLAGGED_COUNT = 40  # what make_repo's report flags


@dataclass(frozen=True)
class WrittenReport:
    """What the reader should give back, in the file's order (most suspect first)."""

    index: np.ndarray
    given: np.ndarray
    suggested: np.ndarray
    quality: np.ndarray
    flagged: np.ndarray
    probabilities: np.ndarray


def csv_text(index, given, suggested, quality, flagged, probabilities) -> str:
    # One %-format a row over Python numbers (tolist): the same text as an f-string a value over
    # numpy scalars, in a quarter of the time (a report is 10,000 rows of 14 numbers).
    row = "%d,%d,%d,%.6g,%s," + ",".join(["%.6g"] * np.shape(probabilities)[1])
    columns = (np.asarray(c).tolist() for c in (index, given, suggested, quality, flagged, probabilities))
    lines = [",".join(COLUMNS)]
    lines += [row % (i, g, s, q, "true" if f else "false", *p) for i, g, s, q, f, p in zip(*columns, strict=True)]
    return "\n".join(lines) + "\n"


def write_sidecar(folder: Path, splits: dict[str, bytes], dataset_sha256: str, model_sha256: str) -> None:
    sidecar = {
        "dataset_sha256": dataset_sha256,
        "model": "1/model.onnx",
        "model_sha256": model_sha256,
        "method": "self_confidence",
        "cross_val_folds": 5,
        "splits": {
            split: {"file": csv_name(split), "sha256": hashlib.sha256(data).hexdigest()}
            for split, data in splits.items()
        },
    }
    (folder / SIDECAR).write_text(json.dumps(sidecar, indent=2))


def write_report(
    folder: Path,
    split: str,
    labels: np.ndarray,
    probabilities: np.ndarray,
    *,
    dataset_sha256: str,
    model_sha256: str,
    flag: int,
) -> WrittenReport:
    """One split's report in `folder` (the model's folder, above its version folders)."""
    folder.mkdir(parents=True, exist_ok=True)
    index = np.arange(len(labels))
    quality = probabilities[index, labels].astype(np.float64)
    order = np.lexsort((index, quality))
    report = WrittenReport(
        index[order],
        labels[order],
        probabilities.argmax(axis=1)[order],
        quality[order],
        np.arange(len(order)) < flag,
        probabilities[order],
    )
    data = csv_text(
        report.index, report.given, report.suggested, report.quality, report.flagged, report.probabilities
    ).encode()
    (folder / csv_name(split)).write_bytes(data)
    write_sidecar(folder, {split: data}, dataset_sha256, model_sha256)
    return report


def make_repo(folder: Path, test_split, *, seed: int = 0, report: bool = True) -> tuple[Path, WrittenReport | None]:
    """models/fashion_mnist/1/model.onnx, and (report=True) a report for that very model in its version folder."""
    model = write_tiny_model(
        folder / "fashion_mnist" / "1" / "model.onnx",
        weights=tiny_weights(seed=seed),
        metadata={"dataset_sha256": test_split.digest},
    )
    if not report:
        return folder, None
    probabilities = Predictor(model, device="cpu").predict_proba(test_split.images)
    model_sha256 = hashlib.sha256(model.read_bytes()).hexdigest()
    written = write_report(
        folder / "fashion_mnist" / "1",
        "test",
        test_split.labels,
        probabilities,
        dataset_sha256=test_split.digest,
        model_sha256=model_sha256,
        flag=FLAGGED_COUNT,
    )
    return folder, written
