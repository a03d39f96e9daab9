"""The label-issue report's format, and reading it back without cleanlab or torch.

`train-and-export --cross-val K` (or `--pred-probs FILE`) writes it (training/label_report.py
ranks with cleanlab) into the folder of the version it exported; the labeler reads it here, so
the format has one owner:

    models/fashion_mnist/2/label_issues-train.csv   training split, the auditor's out-of-fold probabilities
    models/fashion_mnist/2/label_issues-test.csv    test split, the exported model's probabilities
    models/fashion_mnist/2/label_issues.json        what made them: dataset and model digests, method,
                                                    the auditor (name, recipe, accuracy, seconds) or
                                                    the user's file (its SHA-256)

Each CSV has one header row (COLUMNS) and one row per image, most suspect first. The sidecar
holds each CSV's SHA-256 and is written last, so a report is used only when it is complete,
unchanged, and made from the same dataset and model the reader has. A sidecar whose fields have
the wrong types is no usable report either (ReportError), as a damaged CSV is.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from inference.core.classes import NUM_CLASSES
from inference.core.errors import ReportError
from inference.core.model_repository import DEFAULT_REPOSITORY, MODEL_FILE, MODEL_NAME, repository_of
from inference.core.next_steps import report_command

SIDECAR = "label_issues.json"
COLUMNS = ("index", "given_label", "suggested_label", "label_quality", "is_issue") + tuple(
    f"p_{c}" for c in range(NUM_CLASSES)
)
NUMERIC_COLUMNS = [k for k, name in enumerate(COLUMNS) if name != "is_issue"]
HOW_TO_MAKE = report_command(DEFAULT_REPOSITORY)  # for the default repository; how_to_make(folder) for others
USER_SUPPLIED = "user-supplied"  # the auditor's name when the probabilities came from --pred-probs
LINEAR = "linear"  # the auditor of reports that name none: the exported variant's own recipe
# The sidecar's fields and the types the reader accepts; a field that is absent is not checked
# here (the ones the reader needs are asked for by name below). NoneType: "not used in this run".
SIDECAR_TYPES = {
    "dataset_sha256": str,
    "model_sha256": str,
    "model": str,
    "method": str,
    "filter_by": str,
    "cleanlab": str,
    "cross_val_folds": (int, type(None)),
    "fold_seed": int,
    "splits": dict,
    "probabilities": dict,
    "auditor": dict,
    "corrections_digest": (dict, type(None)),
}
SPLIT_TYPES = {"file": str, "sha256": str, "rows": int, "issues": int}
AUDITOR_TYPES = {
    "name": str,
    "recipe": dict,
    "accuracy": (int, float),
    "fold_accuracy": list,
    "seconds": (int, float),
    "folds": int,
    "file": str,
    "sha256": str,
}
# The training split's CSV is about 8 MB; anything far larger is not one of ours.
MAX_CSV_BYTES = 64 * 2**20
MAX_SIDECAR_BYTES = 2**20


def how_to_make(folder: str | Path) -> str:
    """The command that makes a report for the repository `folder` (a version's, or the model
    folder) belongs to: a new version, ranked with its own report."""
    folder = Path(folder)
    repository = repository_of(folder / MODEL_FILE) or (folder.parent if folder.name == MODEL_NAME else None)
    return report_command(repository or DEFAULT_REPOSITORY)


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
    auditor: str = LINEAR  # whose probabilities ranked the training split: an auditor's name, or USER_SUPPLIED
    source: str = ""  # where this split's probabilities came from, as the sidecar says it

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
        return {
            "rank": rank,
            "quality": quality,
            "flagged": flagged,
            "suggested": suggested,
            "p_suggested": p_suggested,
        }


def read_report(folder: str | Path, split: str, dataset_sha256: str, model_sha256: str, size: int) -> LabelIssueReport:
    """The report for `split` in `folder` if it was made from this dataset and this model.

    Raises ReportError (one line, saying how to make a fresh report) otherwise. `size` is the
    split's number of images: every index and label is checked against it.
    """
    folder = Path(folder)
    sidecar = _read_sidecar(folder / SIDECAR)
    if sidecar.get("dataset_sha256") != dataset_sha256:
        raise ReportError(
            f"the label-issue report in {folder} was made from other data; make a new one: {how_to_make(folder)}"
        )
    if sidecar.get("model_sha256") != model_sha256:
        raise ReportError(
            f"the label-issue report in {folder} was made with another model than the one shown; "
            f"make a new one with this model: {how_to_make(folder)}"
        )
    entry = sidecar.get("splits", {}).get(split)
    if entry is None:
        raise ReportError(
            f"the label-issue report in {folder} has no {split} split; make a new one: {how_to_make(folder)}"
        )
    path = folder / csv_name(split)
    data = _read_limited(path, MAX_CSV_BYTES)
    if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        raise ReportError(
            f"{path} was changed after {SIDECAR} was written; make a new report: {how_to_make(path.parent)}"
        )
    report = _parse_csv(path, data, split, size, sidecar.get("method", "unknown"))
    auditor = sidecar.get("auditor", {}).get("name", LINEAR)
    return replace(report, auditor=auditor, source=str(sidecar.get("probabilities", {}).get(split, "")))


def has_report(folder: str | Path) -> bool:
    """Whether `folder` holds a report's sidecar at all (usable or not): where a reader stops looking."""
    return os.path.lexists(Path(folder) / SIDECAR)


def _read_limited(path: Path, limit: int) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise ReportError(
            f"no label-issue report ({path.name} is missing); make one: {how_to_make(path.parent)}"
        ) from None
    except OSError as e:
        raise ReportError(f"cannot read {path}: {e.strerror}") from e
    if len(data) > limit:
        raise ReportError(
            f"{path} is over {limit // 2**20} MiB, not a label-issue report; make a new one: {how_to_make(path.parent)}"
        )
    return data


def _read_sidecar(path: Path) -> dict:
    data = _read_limited(path, MAX_SIDECAR_BYTES)
    try:
        sidecar = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise ReportError(f"{path} is damaged ({e}); make a new report: {how_to_make(path.parent)}") from e
    if not isinstance(sidecar, dict):
        raise ReportError(
            f"{path} is not a label-issue report's sidecar; make a new report: {how_to_make(path.parent)}"
        )
    _check_types(path, "", sidecar, SIDECAR_TYPES)
    for split, entry in sidecar.get("splits", {}).items():
        if not isinstance(entry, dict):
            _wrong_type(path, f"splits.{split}", "an object", entry)
        _check_types(path, f"splits.{split}.", entry, SPLIT_TYPES)
    _check_types(path, "auditor.", sidecar.get("auditor", {}), AUDITOR_TYPES)
    for split, text in sidecar.get("probabilities", {}).items():
        if not isinstance(text, str):
            _wrong_type(path, f"probabilities.{split}", "text", text)
    return sidecar


def _check_types(path: Path, prefix: str, fields: dict, types: dict) -> None:
    """Every field of `types` that `fields` holds has its type; bool is no number here."""
    for name, expected in types.items():
        if name not in fields:
            continue
        value = fields[name]
        allowed = expected if isinstance(expected, tuple) else (expected,)
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            words = " or ".join(TYPE_WORDS[t] for t in allowed)
            _wrong_type(path, prefix + name, words, value)


TYPE_WORDS = {
    str: "text",
    int: "a whole number",
    float: "a number",
    dict: "an object",
    list: "a list",
    type(None): "null",
}


def _wrong_type(path: Path, field: str, expected: str, value: object) -> None:
    got = "null" if value is None else type(value).__name__
    raise ReportError(
        f"{path} is not a usable label-issue report: its field {field!r} should be {expected}, "
        f"got {got}; make a new report: {how_to_make(path.parent)}"
    )


def _parse_csv(path: Path, data: bytes, split: str, size: int, method: str) -> LabelIssueReport:
    lines = data.decode("utf-8", errors="replace").splitlines()
    if not lines or tuple(lines[0].split(",")) != COLUMNS:
        raise ReportError(
            f"{path} does not start with the header {','.join(COLUMNS)}; make a new report: {how_to_make(path.parent)}"
        )
    rows = [line for line in lines[1:] if line]
    try:
        if any(line.count(",") != len(COLUMNS) - 1 for line in rows):
            raise ValueError(f"a row has not {len(COLUMNS)} fields")
        flags = [line.split(",", 5)[4] for line in rows]
        if any(flag not in ("true", "false") for flag in flags):
            raise ValueError("is_issue must be true or false")
        # numpy's C parser: the training split's 60,000 rows took 0.52 s split by Python, 0.2 s here.
        table = (
            np.loadtxt(rows, delimiter=",", usecols=NUMERIC_COLUMNS, comments=None, ndmin=2)
            if rows
            else np.empty((0, len(NUMERIC_COLUMNS)))
        )
    except ValueError as e:
        raise ReportError(f"{path} is damaged ({e}); make a new report: {how_to_make(path.parent)}") from e
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
            f"probabilities 0..1); make a new report: {how_to_make(path.parent)}"
        )
    return LabelIssueReport(
        split,
        index.astype(np.int64),
        given.astype(np.int64),
        suggested.astype(np.int64),
        table[:, 3],
        np.array([flag == "true" for flag in flags], dtype=bool),
        probabilities,
        method,
    )
