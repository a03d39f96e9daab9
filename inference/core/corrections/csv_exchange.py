"""The corrections CSV: one row per image with a verdict or a tag, written for people and
spreadsheets, and read back by the labeler's File ▸ Import verdicts from CSV.

Reading checks every row before anything is changed: a row that cannot be right (an unknown
split or verdict, an index outside the split, a label outside 0..9, a tag that breaks the tag
rule, an image listed twice) refuses the whole file with its line number. A well-formed row that
does not apply here (the other split; made on a given label this dataset does not have) is
skipped, and the reader says why. A relabel to the image's given label is read as a confirmation
(verdicts.effective_verdict), as the store would record it.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inference.core.atomic_write import atomic_write
from inference.core.classes import CLASS_NAMES, NUM_CLASSES
from inference.core.corrections.import_file import read_bounded
from inference.core.corrections.tags import join_tags, parse_tags
from inference.core.corrections.values import SPLIT_SIZES, Verdict
from inference.core.corrections.verdicts import VERDICTS, effective_verdict
from inference.core.csv_safe import csv_text
from inference.core.errors import CorrectionsError

COLUMNS = (
    "split",
    "index",
    "verdict",
    "given_label",
    "given_class",
    "new_label",
    "new_class",
    "tags",
    "suggested_label",
    "label_quality",
    "model_version",
    "time",
)
REQUIRED = ("split", "index", "verdict")  # the rest may be missing (an older export) or empty
MAX_CSV_BYTES = 32 * 1024 * 1024  # all 60,000 training images with tags is ~6 MB


@dataclass(frozen=True)
class CsvRow:
    """What one row asks for: the image's verdict (None: no verdict) and its tags."""

    line: int
    index: int
    verdict: str | None
    new_label: int | None
    tags: tuple[str, ...]


@dataclass
class CsvImport:
    rows: list[CsvRow] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # one reason per skipped row, in file order


def write_csv(
    path: str | os.PathLike[str],
    split: str,
    verdicts: dict[int, Verdict],
    tags: dict[int, frozenset[str]],
    given_labels: np.ndarray | None = None,
    suggested: np.ndarray | None = None,
    quality: np.ndarray | None = None,
    model_version: str = "",
) -> int:
    """Write one row per image with a verdict or tags, atomically; returns how many rows.

    `given_labels` (N,) fills given_label for tagged images without a verdict; `suggested` (N,)
    (-1: none) and `quality` (N,) (nan: none) are the label-issue report's; empty where unknown."""
    rows = []
    for i in sorted(set(verdicts) | set(tags)):
        v = verdicts.get(i)
        given = v.given_label if v is not None else None if given_labels is None else int(given_labels[i])
        new = v.new_label if v is not None else None
        hint = int(suggested[i]) if suggested is not None and suggested[i] >= 0 else None
        score = float(quality[i]) if quality is not None and math.isfinite(quality[i]) else None
        rows.append(
            [
                split,
                i,
                v.verdict if v else "",
                _blank(given),
                _name(given),
                _blank(new),
                _name(new),
                join_tags(tags.get(i, ())),
                _blank(hint),
                "" if score is None else f"{score:.6g}",
                model_version,
                v.time if v else "",
            ]
        )
    try:  # through csv_safe like every CSV the project writes: quoted where needed, no formulas
        atomic_write(path, csv_text([COLUMNS, *rows]).encode("utf-8"))
    except OSError as e:
        raise CorrectionsError(f"could not write {path} ({e}); choose a folder you can write to") from e
    return len(rows)


def read_csv(path: str | os.PathLike[str], split: str, given_labels: np.ndarray) -> CsvImport:
    """The rows of a corrections CSV that apply to `split` (whose labels are `given_labels`), all
    checked; CorrectionsError naming the first bad line, and nothing returned, if any row is bad."""
    path = Path(path)
    reader = csv.reader(io.StringIO(_read_text(path), newline=""))
    header = next(reader, None)
    columns = {name.strip(): k for k, name in enumerate(header or [])}
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise CorrectionsError(
            f"{path}: its first line names the columns {', '.join(header or ['(none)'])[:120]}; expected a "
            f"corrections CSV with at least {', '.join(REQUIRED)} (File ▸ Export corrections as CSV writes one)"
        )
    result, seen = CsvImport(), set[int]()
    for line, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue

        def get(name: str, cells: list[str] = cells) -> str:
            return cells[columns[name]].strip() if name in columns and columns[name] < len(cells) else ""

        try:
            row = _check_row(line, get, split, given_labels, result.skipped)
        except CorrectionsError as e:
            raise CorrectionsError(
                f"{path} line {line}: {e}; nothing was imported — fix that row and import again"
            ) from None
        if row is None:
            continue
        if row.index in seen:
            raise CorrectionsError(
                f"{path} line {line}: image {row.index} is listed twice; nothing was imported — keep one row per image"
            )
        seen.add(row.index)
        result.rows.append(row)
    return result


def _check_row(
    line: int, get: Callable[[str], str], split: str, given_labels: np.ndarray, skipped: list[str]
) -> CsvRow | None:
    row_split = get("split")
    if row_split not in SPLIT_SIZES:
        raise CorrectionsError(f"split {row_split!r:.40}, expected one of {', '.join(sorted(SPLIT_SIZES))}")
    size = SPLIT_SIZES[row_split]
    index = _int(get("index"), "index", 0, size - 1)
    verdict = get("verdict") or None
    if verdict is not None and verdict not in VERDICTS:
        raise CorrectionsError(f"verdict {verdict!r:.40}, expected one of {', '.join(VERDICTS)} or empty")
    new_label = _int(get("new_label"), "new_label", 0, NUM_CLASSES - 1) if get("new_label") else None
    if (verdict == "relabel") != (new_label is not None):
        raise CorrectionsError("new_label goes with verdict relabel, and only with it")
    given = _int(get("given_label"), "given_label", 0, NUM_CLASSES - 1) if get("given_label") else None
    tags = parse_tags(get("tags"))
    if row_split != split:
        skipped.append(f"line {line} is for the {row_split} split, this one is {split}")
        return None
    if given is not None and given != given_labels[index]:
        skipped.append(
            f"line {line} was made on given label {given} for image {index}, this dataset's is {given_labels[index]}"
        )
        return None
    if verdict is not None:
        verdict, new_label = effective_verdict(int(given_labels[index]), verdict, new_label)
    return CsvRow(line, index, verdict, new_label, tags)


def _read_text(path: Path) -> str:
    data = read_bounded(
        path, MAX_CSV_BYTES, "corrections CSV", "the CSV of all 60,000 training images with tags (~6 MB)"
    )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CorrectionsError(
            f"{path} is not UTF-8 text, so not a corrections CSV; nothing was imported — "
            "export one with File ▸ Export corrections as CSV"
        ) from None


def _int(text: str, column: str, low: int, high: int) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 6 or not low <= int(text) <= high:
        raise CorrectionsError(f"{column} {text!r:.40}, expected a whole number {low} to {high:,}")
    return int(text)


def _blank(value: int | None) -> str:
    return "" if value is None else str(value)


def _name(label: int | None) -> str:
    return "" if label is None else CLASS_NAMES[label]
