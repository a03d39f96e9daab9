"""The values of the corrections store, checked on the way in: verdicts, indices, labels, digests.

Shared by the store (inference/core/corrections/store.py) and the JSON import
(inference/core/corrections/json_file.py), so a value is refused by the same rule wherever it comes from.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeAlias, TypeGuard

import numpy as np

from inference.core.classes import NUM_CLASSES
from inference.core.corrections.verdicts import VERDICTS
from inference.core.errors import CorrectionsError
from inference.core.fashion_mnist import SPLITS

SPLIT_SIZES = {name: size for name, (_, _, size) in SPLITS.items()}
EXPORT_FORMAT = "fashion-labeler-corrections/2"  # export_json's interchange file; import_json reads it too
MAX_SESSION_CHARS = 200
HEX64 = re.compile(r"[0-9a-f]{64}")

# What callers pass as indices: one int, or a 1-D sequence or array of them (checked all the same).
Indices: TypeAlias = "int | np.integer | Iterable[int] | np.ndarray"
# A verdict as it is written: (index, verdict, new_label, given_label, time), Verdict's fields in order.
VerdictRow: TypeAlias = tuple[int, str, "int | None", int, str]
# A row as sqlite3 returns it: Any to its stubs, and anything at all from a file another program
# wrote, which is why stored_verdict and stored_history check every field before use.
SqlRow: TypeAlias = tuple[Any, ...]


@dataclass(frozen=True)
class Verdict:
    index: int
    verdict: str  # one of VERDICTS
    new_label: int | None  # the right label for "relabel", else None
    given_label: int  # the dataset's label
    time: str  # ISO 8601, UTC, of the decision


@dataclass(frozen=True)
class AppliedCorrections:
    """What training uses: labels, mask and the digest that names them, from one snapshot."""

    labels: np.ndarray  # (N,) int64: given labels, relabels applied
    keep: np.ndarray  # (N,) bool: False for excluded images
    digest: str  # digest_of() of the verdicts applied: goes into the model's metadata
    counts: dict[str, int]  # verdict -> how many images


@dataclass(frozen=True)
class HistoryEntry:
    seq: int  # order of the changes in this file
    index: int
    old_verdict: str | None  # None: there was no verdict
    old_label: int | None
    new_verdict: str | None  # None: the verdict was cleared
    new_label: int | None
    given_label: int
    time: str  # ISO 8601, UTC, of the change
    pid: int
    session: str  # the window or tool that made the change


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def is_int(value: object) -> TypeGuard[int | np.integer]:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_digest(digest: object) -> str:
    if not isinstance(digest, str) or not HEX64.fullmatch(digest):
        raise CorrectionsError(
            f"dataset digest {digest!r:.80}: expected 64 lowercase hex digits; pass Split.digest from load_split"
        )
    return digest


def check_split(split: object) -> int:
    """The split's number of images."""
    if not isinstance(split, str) or split not in SPLIT_SIZES:
        raise CorrectionsError(f"split {split!r:.80}: expected one of {sorted(SPLIT_SIZES)}")
    return SPLIT_SIZES[split]


def check_verdict(verdict: object) -> str:
    if not isinstance(verdict, str) or verdict not in VERDICTS:
        raise CorrectionsError(f"verdict {verdict!r:.80}: expected one of {list(VERDICTS)}")
    return verdict


def check_label(verdict: str, label: object) -> int | None:
    if verdict != "relabel":
        if label is not None:
            raise CorrectionsError(
                f"label {label!r:.80} with verdict {verdict!r}: a label goes only with 'relabel'; pass None"
            )
        return None
    if not is_int(label) or not 0 <= label < NUM_CLASSES:
        raise CorrectionsError(
            f"label {label!r:.80} for 'relabel': expected an int 0..{NUM_CLASSES - 1} (the right class)"
        )
    return int(label)


def check_indices(indices: object, size: int, split: str) -> np.ndarray:
    """Sorted unique int64 indices; one int or a 1-D sequence/array of ints, each in 0..size-1."""
    values: list[int] | np.ndarray
    if is_int(indices):
        values = [int(indices)]
    elif isinstance(indices, np.ndarray):
        if indices.ndim != 1 or indices.dtype.kind not in "iu":
            raise CorrectionsError(
                f"indices: got a {indices.ndim}-D {indices.dtype} array; expected a 1-D integer array"
            )
        values = indices
    elif isinstance(indices, (str, bytes)) or not isinstance(indices, Iterable):
        raise CorrectionsError(f"indices {indices!r:.80}: expected an int or a sequence of ints")
    else:
        items = list(indices)
        bad = next((v for v in items if not is_int(v)), None)
        if bad is not None:
            raise CorrectionsError(f"index {bad!r:.80}: expected an int (not a bool, float or string)")
        values = [int(v) for v in items if is_int(v)]
    # Python ints compare exactly, so a huge value is refused here instead of wrapping in int64.
    out = [int(v) for v in values]
    bad = next((v for v in out if not 0 <= v < size), None)
    if bad is not None:
        raise CorrectionsError(f"index {bad} is outside the {split} split: expected 0..{size - 1}")
    return np.unique(np.array(out, dtype=np.int64))


def check_labels(labels: object, size: int, split: str, what: str) -> np.ndarray:
    if not isinstance(labels, np.ndarray) or labels.shape != (size,) or labels.dtype.kind not in "iu":
        got = f"{labels.dtype} {labels.shape}" if isinstance(labels, np.ndarray) else type(labels).__name__
        raise CorrectionsError(
            f"{what}: got {got}; expected the {split} split's labels, an integer array of shape ({size},)"
        )
    if size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise CorrectionsError(f"{what}: values outside 0..{NUM_CLASSES - 1}; pass Split.labels from load_split")
    return labels.astype(np.int64, copy=False)


def check_session(session: object) -> str:
    if not isinstance(session, str) or len(session) > MAX_SESSION_CHARS:
        raise CorrectionsError(f"session {session!r:.80}: expected a string of at most {MAX_SESSION_CHARS} characters")
    return session


def image_filter(digest: object, split: object, index: object) -> tuple[str, list[str | int]]:
    """The WHERE clause and parameters that pick a split's rows, or one image's (index not None),
    all three checked: what the verdict history and the tag history are read by."""
    checked_digest, size = check_digest(digest), check_split(split)
    name = str(split)  # it is a str already: check_split refused anything else
    where = "dataset_digest = ? AND split = ?"
    params: list[str | int] = [checked_digest, name]
    if index is not None:
        if not is_int(index):
            raise CorrectionsError(f"index {index!r:.80}: expected an int or None")
        where, params = where + " AND idx = ?", params + [int(check_indices(index, size, name)[0])]
    return where, params


def verdicts_digest(digest: str, split: str, verdicts: dict[int, Verdict]) -> str:
    h = hashlib.sha256(f"{EXPORT_FORMAT}\n{digest}\n{split}\n".encode())
    for v in verdicts.values():
        h.update(f"{v.index},{v.verdict},{'' if v.new_label is None else v.new_label},{v.given_label}\n".encode())
    return h.hexdigest()


# --- rows read back from the file --------------------------------------------------------------
# The schema's CHECKs keep bad rows out of a file this program wrote, but not out of one another
# program wrote (PRAGMA ignore_check_constraints, a hand edit): every row is checked again here,
# before an index reaches numpy (where -1 is the last image) or a label reaches training.

_LABELS = range(NUM_CLASSES)


def _label_or_none(value: object) -> bool:
    return value is None or (type(value) is int and value in _LABELS)


def _bad_row(store: Path, what: str, row: SqlRow, expected: str) -> CorrectionsError:
    shown = str(tuple(row))
    shown = shown if len(shown) <= 160 else shown[:157] + "..."
    return CorrectionsError(
        f"corrections store {store}: {what} {shown} is not valid ({expected}); something other than "
        "fashion-labeler wrote it, so nothing from the store was used — fix or remove that row with sqlite3, "
        "or move the store (with its -wal and -shm files) away"
    )


def stored_verdict(row: SqlRow, size: int, split: str, store: Path) -> Verdict:
    """A (idx, verdict, new_label, given_label, time) row of the file as a Verdict, or CorrectionsError."""
    index, verdict, new, given, time = row
    ok = (
        type(index) is int
        and 0 <= index < size
        and type(given) is int
        and given in _LABELS
        and type(time) is str
        and (
            new is None
            if verdict in ("confirmed", "exclude")
            else verdict == "relabel" and type(new) is int and new in _LABELS and new != given
        )
    )
    if not ok:
        raise _bad_row(
            store,
            f"the {split} verdict row",
            row,
            f"index 0..{size - 1}, verdict one of {list(VERDICTS)}, labels 0..{NUM_CLASSES - 1}, "
            "a relabel's label not the given one",
        )
    return Verdict(*row)


def stored_history(row: SqlRow, size: int, split: str, store: Path) -> HistoryEntry:
    """A history row of the file as a HistoryEntry, or CorrectionsError."""
    seq, index, old_verdict, old_label, new_verdict, new_label, given, time, pid, session = row
    ok = (
        type(seq) is int
        and type(index) is int
        and 0 <= index < size
        and (old_verdict is None or old_verdict in VERDICTS)
        and (new_verdict is None or new_verdict in VERDICTS)
        and _label_or_none(old_label)
        and _label_or_none(new_label)
        and type(given) is int
        and given in _LABELS
        and type(time) is str
        and type(pid) is int
        and type(session) is str
    )
    if not ok:
        raise _bad_row(
            store,
            f"the {split} history row",
            row,
            f"index 0..{size - 1}, verdicts one of {list(VERDICTS)} or none, labels 0..{NUM_CLASSES - 1}",
        )
    return HistoryEntry(*row)


def stored_counts(rows: list[SqlRow], store: Path) -> dict[str, int]:
    """(verdict, count) rows as {verdict: count} for every verdict, or CorrectionsError."""
    counts = {verdict: 0 for verdict in VERDICTS}
    for row in rows:
        if row[0] not in counts or type(row[1]) is not int:
            raise _bad_row(store, "the verdict count", row, f"verdicts one of {list(VERDICTS)}")
        counts[row[0]] = row[1]
    return counts
