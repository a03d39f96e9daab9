"""One split's verdicts in the corrections store, as the labeler's window uses them.

A thin layer over `inference.core.corrections.CorrectionsStore`: it knows the split (name,
dataset digest, given labels), so the window passes rows and verdicts only; and it reads the
store into two arrays the Qt models can index, in the verdict codes of inference.core.corrections.
No Qt here. The SQLite connection belongs to the thread that opened it: the GUI thread.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from inference.core.corrections import CODES, CorrectionsStore, CsvImport, read_csv, write_csv
from inference.core.errors import CorrectionsError
from inference.core.fashion_mnist import Split

SESSION = "fashion-labeler"


class SplitVerdicts:
    """The store, opened for one split; every change is its own committed transaction."""

    def __init__(self, store: CorrectionsStore, split: Split):
        self.store = store
        self.split = split

    @classmethod
    def open(cls, path: str | os.PathLike, split: Split) -> SplitVerdicts:
        """Open (or create) the store at `path`; CorrectionsError, file untouched, if it is not usable."""
        return cls(CorrectionsStore.open(path, session=SESSION), split)

    @property
    def path(self) -> Path:
        return self.store.path

    def close(self) -> None:
        self.store.close()

    def read(self) -> tuple[np.ndarray, np.ndarray]:
        """(N,) int8 verdict codes and (N,) int64 new labels (-1 unless relabelled), from one snapshot."""
        n = len(self.split.labels)
        codes, new_labels = np.zeros(n, np.int8), np.full(n, -1, np.int64)
        verdicts = self.store.verdicts(self.split.digest, self.split.name)
        if verdicts:
            rows = np.fromiter(verdicts, np.int64, len(verdicts))
            codes[rows] = [CODES[v.verdict] for v in verdicts.values()]
            new_labels[rows] = [-1 if v.new_label is None else v.new_label for v in verdicts.values()]
        return codes, new_labels

    def read_tags(self) -> dict[int, frozenset[str]]:
        return self.store.tags(self.split.digest, self.split.name)

    def set_tags(self, tags_by_row: dict[int, frozenset[str]]) -> int:
        """Each listed image's tags become exactly these; returns how many tags were added or removed."""
        return self.store.set_tags(self.split.digest, self.split.name, tags_by_row)

    def set(self, rows: np.ndarray, verdict: str, label: int | None = None) -> int:
        """Give `rows` one verdict (label only for "relabel"); returns how many changed."""
        return self.store.set_verdict(
            self.split.digest, self.split.name, rows, verdict, given_labels=self.split.labels, label=label
        )

    def clear(self, rows: np.ndarray) -> int:
        return self.store.clear(self.split.digest, self.split.name, rows)

    def export_csv(
        self,
        path: str | os.PathLike,
        suggested: np.ndarray | None = None,
        quality: np.ndarray | None = None,
        model_version: str = "",
    ) -> int:
        """Verdicts and tags as the corrections CSV, with the label-issue report's columns when given."""
        return write_csv(
            path,
            self.split.name,
            self.store.verdicts(self.split.digest, self.split.name),
            self.read_tags(),
            self.split.labels,
            suggested,
            quality,
            model_version,
        )

    def read_csv(self, path: str | os.PathLike) -> CsvImport:
        """The rows of a corrections CSV for this split, every one checked (CorrectionsError if any is bad)."""
        return read_csv(path, self.split.name, self.split.labels)

    def export_json(self, path: str | os.PathLike) -> int:
        return self.store.export_json(path, self.split.digest, self.split.name)

    def import_json(self, path: str | os.PathLike) -> int:
        return self.store.import_json(path)


def open_split_verdicts(path: Path, split: Split) -> tuple[SplitVerdicts | None, str | None]:
    """The split's verdicts in the store at `path`, or None and the one-line reason it was refused."""
    try:
        return SplitVerdicts.open(path, split), None
    except CorrectionsError as e:
        return None, str(e)
