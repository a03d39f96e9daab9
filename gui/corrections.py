"""The corrections sidecar: relabelled images of one split, tied to the dataset's digest.

The dataset files are never written. Each change rewrites the whole (small) JSON file
atomically — temporary file in the same folder, flush, fsync, rename, fsync of the folder —
so a crash at any moment leaves either the previous or the new file, never a torn one.
A file that belongs to another dataset or split, or that does not parse, is refused and left
byte-for-byte as it is. No Qt here: the store is plain Python, testable on its own.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from inference.core.atomic_write import atomic_write
from inference.core.corrections_store import legacy_json_path
from inference.core.classes import CLASS_NAMES, NUM_CLASSES

FORMAT = "fashion-labeler-corrections/1"


class CorrectionsError(Exception):
    """A corrections file that cannot be used: damaged, or for another dataset or split."""


@dataclass(frozen=True)
class Correction:
    split: str
    index: int
    original_label: int
    new_label: int
    time: str  # ISO 8601, UTC, of the change that set new_label


def default_path(split: str, digest: str) -> Path:
    """The sidecar for one split of one dataset: the digest in the name keeps datasets apart."""
    return legacy_json_path(split, digest)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class CorrectionStore:
    """The corrections of one split; `set_labels` changes them and saves before returning."""

    def __init__(self, path: Path, split: str, digest: str, original_labels: np.ndarray):
        self.path = Path(path)
        self.split = split
        self.digest = digest
        self.original_labels = original_labels
        self.records: dict[int, Correction] = {}

    @classmethod
    def load(cls, path: str | os.PathLike, split: str, digest: str, original_labels: np.ndarray) -> "CorrectionStore":
        """Open `path` (a missing file is an empty store); raise CorrectionsError, touching nothing, if unusable."""
        store = cls(Path(path), split, digest, original_labels)
        try:
            is_dir, exists = store.path.is_dir(), store.path.exists()
        except OSError as e:  # a name too long, a folder we may not enter
            raise CorrectionsError(
                f"corrections path {store.path} cannot be used ({e.strerror}); name another file"
            ) from e
        if is_dir:
            raise CorrectionsError(f"corrections path {store.path} is a folder; name a .json file")
        if not exists:
            return store
        try:
            doc = json.loads(store.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise CorrectionsError(
                f"corrections file {store.path} is damaged ({e}); it was left untouched — "
                "fix or move it, or open another one"
            ) from e
        store.records = store._parse(doc)
        return store

    def _parse(self, doc) -> dict[int, Correction]:
        where = f"corrections file {self.path}"
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise CorrectionsError(f"{where} is not a fashion-labeler file (expected format {FORMAT!r}); left untouched")
        if doc.get("dataset_digest") != self.digest:
            raise CorrectionsError(
                f"{where} belongs to another dataset (digest {str(doc.get('dataset_digest'))[:16]}…, "
                f"this one is {self.digest[:16]}…); left untouched — open the matching data or another file"
            )
        if doc.get("split") != self.split:
            raise CorrectionsError(
                f"{where} is for the {doc.get('split')!r} split, not {self.split!r}; left untouched"
            )
        records = {}
        try:
            for item in doc["corrections"]:
                c = Correction(
                    str(item["split"]), int(item["index"]), int(item["original_label"]),
                    int(item["new_label"]), str(item["time"]),
                )
                ok = (
                    c.split == self.split
                    and 0 <= c.index < len(self.original_labels)
                    and c.original_label == int(self.original_labels[c.index])
                    and 0 <= c.new_label < NUM_CLASSES
                )
                if not ok:
                    raise ValueError(f"entry {item} does not fit this split")
                records[c.index] = c
        except (KeyError, TypeError, ValueError) as e:
            raise CorrectionsError(f"{where} is damaged ({e}); left untouched") from e
        return records

    def labels(self) -> np.ndarray:
        """(N,) int64: the dataset's labels with the corrections applied."""
        labels = self.original_labels.astype(np.int64, copy=True)
        for c in self.records.values():
            labels[c.index] = c.new_label
        return labels

    def set_labels(self, indices, labels) -> None:
        """Set the label of each index (its original label removes the correction), then save."""
        before = dict(self.records)
        stamp = _now()
        for index, label in zip(indices, labels):
            index, label = int(index), int(label)
            if label == int(self.original_labels[index]):
                self.records.pop(index, None)
            else:
                self.records[index] = Correction(self.split, index, int(self.original_labels[index]), label, stamp)
        try:
            self.save()
        except OSError:
            self.records = before
            raise

    def to_json(self) -> str:
        doc = {
            "format": FORMAT,
            "dataset_digest": self.digest,
            "split": self.split,
            "corrections": [asdict(self.records[i]) for i in sorted(self.records)],
        }
        return json.dumps(doc, indent=1) + "\n"

    def save(self) -> None:
        """Atomic replace; the file is complete on disk (data and rename) when this returns."""
        atomic_write(self.path, self.to_json().encode("utf-8"))

    def export_csv(self, path: str | os.PathLike, class_names=CLASS_NAMES) -> int:
        """Write the corrections as CSV (class names from the model); returns how many rows."""
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["split", "index", "original_label", "original_class", "new_label", "new_class", "time"])
            for i in sorted(self.records):
                c = self.records[i]
                w.writerow([c.split, c.index, c.original_label, class_names[c.original_label],
                            c.new_label, class_names[c.new_label], c.time])
        return len(self.records)
