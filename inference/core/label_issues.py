"""The label-issue report's format, and reading it back without cleanlab or torch.

`train-and-export --cross-val K` writes it (training/label_report.py ranks with cleanlab); the
labeler reads it here, so the format has one owner:

    models/fashion_mnist/label_issues-train.csv   training split, out-of-fold probabilities
    models/fashion_mnist/label_issues-test.csv    test split, the final model's probabilities
    models/fashion_mnist/label_issues.json        what made them: dataset and model digests, method, K

Each CSV has one header row (COLUMNS) and one row per image, most suspect first. The sidecar
holds each CSV's SHA-256 and is written last, so a report is used only when it is complete,
unchanged, and made from the same dataset and model the reader has.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.core.classes import NUM_CLASSES
from inference.core.errors import InferenceError

SIDECAR = "label_issues.json"
COLUMNS = ("index", "given_label", "suggested_label", "label_quality", "is_issue") + tuple(
    f"p_{c}" for c in range(NUM_CLASSES)
)
NUMERIC_COLUMNS = [k for k, name in enumerate(COLUMNS) if name != "is_issue"]
HOW_TO_MAKE = "train-and-export --cross-val 5"
# The training split's CSV is about 8 MB; anything far larger is not one of ours.
MAX_CSV_BYTES = 64 * 2**20
MAX_SIDECAR_BYTES = 2**20


class ReportError(InferenceError):
    """There is no usable label-issue report: missing, damaged, or made from other data or another model."""


def csv_name(split: str) -> str:
    return f"label_issues-{split}.csv"


@dataclass(frozen=True)
class LabelIssueReport:
    """One split's report, rows in the file's order (most suspect first)."""

    split: str
    index: np.ndarray  # (N,) int64, position in the split's IDX file
    given_label: np.ndarray  # (N,) int64
    suggested_label: np.ndarray  # (N,) int64
    label_quality: np.ndarray  # (N,) float64, lower: more likely wrong
    is_issue: np.ndarray  # (N,) bool, cleanlab's flag
    probabilities: np.ndarray  # (N, 10) float32: out-of-fold on the training split
    method: str  # how label_quality was computed, from the sidecar

    def by_image(self, size: int) -> dict[str, np.ndarray]:
        """Columns re-ordered by image index: rank (0 = most suspect), quality, flag, suggestion and
        its probability, for a split of `size` images; -1 / NaN where an image has no row."""
        rank = np.full(size, -1, np.int64)
        rank[self.index] = np.arange(len(self.index))
        quality = np.full(size, np.nan)
        quality[self.index] = self.label_quality
        flagged = np.zeros(size, bool)
        flagged[self.index] = self.is_issue
        suggested = np.full(size, -1, np.int64)
        suggested[self.index] = self.suggested_label
        p_suggested = np.full(size, np.nan, np.float32)
        p_suggested[self.index] = self.probabilities[np.arange(len(self.index)), self.suggested_label]
        return {"rank": rank, "quality": quality, "flagged": flagged, "suggested": suggested,
                "p_suggested": p_suggested}


def read_report(folder: str | Path, split: str, dataset_sha256: str, model_sha256: str,
                size: int) -> LabelIssueReport:
    """The report for `split` in `folder` if it was made from this dataset and this model.

    Raises ReportError (one line, saying how to make a fresh report) otherwise. `size` is the
    split's number of images: every index and label is checked against it.
    """
    folder = Path(folder)
    sidecar = _read_sidecar(folder / SIDECAR)
    if sidecar.get("dataset_sha256") != dataset_sha256:
        raise ReportError(f"the label-issue report in {folder} was made from other data; make a new one: {HOW_TO_MAKE}")
    if sidecar.get("model_sha256") != model_sha256:
        raise ReportError(
            f"the label-issue report in {folder} was made with another model than the one shown; "
            f"make a new one with this model: {HOW_TO_MAKE}"
        )
    entry = (sidecar.get("splits") or {}).get(split)
    if not isinstance(entry, dict):
        raise ReportError(f"the label-issue report in {folder} has no {split} split; make a new one: {HOW_TO_MAKE}")
    path = folder / csv_name(split)
    data = _read_limited(path, MAX_CSV_BYTES)
    if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        raise ReportError(f"{path} was changed after {SIDECAR} was written; make a new report: {HOW_TO_MAKE}")
    return _parse_csv(path, data, split, size, str(sidecar.get("method", "unknown")))


def _read_limited(path: Path, limit: int) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise ReportError(f"no label-issue report ({path.name} is missing); make one: {HOW_TO_MAKE}") from None
    except OSError as e:
        raise ReportError(f"cannot read {path}: {e.strerror}") from e
    if len(data) > limit:
        raise ReportError(f"{path} is over {limit // 2**20} MiB, not a label-issue report; make a new one: {HOW_TO_MAKE}")
    return data


def _read_sidecar(path: Path) -> dict:
    data = _read_limited(path, MAX_SIDECAR_BYTES)
    try:
        sidecar = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise ReportError(f"{path} is damaged ({e}); make a new report: {HOW_TO_MAKE}") from e
    if not isinstance(sidecar, dict):
        raise ReportError(f"{path} is not a label-issue report's sidecar; make a new report: {HOW_TO_MAKE}")
    return sidecar


def _parse_csv(path: Path, data: bytes, split: str, size: int, method: str) -> LabelIssueReport:
    lines = data.decode("utf-8", errors="replace").splitlines()
    if not lines or tuple(lines[0].split(",")) != COLUMNS:
        raise ReportError(f"{path} does not start with the header {','.join(COLUMNS)}; make a new report: {HOW_TO_MAKE}")
    rows = [line for line in lines[1:] if line]
    try:
        if any(line.count(",") != len(COLUMNS) - 1 for line in rows):
            raise ValueError(f"a row has not {len(COLUMNS)} fields")
        flags = [line.split(",", 5)[4] for line in rows]
        if any(flag not in ("true", "false") for flag in flags):
            raise ValueError("is_issue must be true or false")
        # numpy's C parser: the training split's 60,000 rows took 0.52 s split by Python, 0.2 s here.
        table = (np.loadtxt(rows, delimiter=",", usecols=NUMERIC_COLUMNS, comments=None, ndmin=2)
                 if rows else np.empty((0, len(NUMERIC_COLUMNS))))
    except ValueError as e:
        raise ReportError(f"{path} is damaged ({e}); make a new report: {HOW_TO_MAKE}") from e
    index, given, suggested = (table[:, i] for i in range(3))
    probabilities = table[:, 4:].astype(np.float32)
    ints = np.stack([index, given, suggested])
    if (
        not np.isfinite(table).all()
        or (ints != np.round(ints)).any()
        or ((index < 0) | (index >= size)).any()
        or len(np.unique(index)) != len(index)
        or ((given < 0) | (given >= NUM_CLASSES) | (suggested < 0) | (suggested >= NUM_CLASSES)).any()
        or ((probabilities < 0) | (probabilities > 1)).any()
    ):
        raise ReportError(
            f"{path} holds values outside the {split} split ({size} images, labels 0..{NUM_CLASSES - 1}, "
            f"probabilities 0..1); make a new report: {HOW_TO_MAKE}"
        )
    return LabelIssueReport(
        split, index.astype(np.int64), given.astype(np.int64), suggested.astype(np.int64), table[:, 3],
        np.array([flag == "true" for flag in flags], dtype=bool), probabilities, method,
    )
