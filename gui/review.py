"""The label-issue report the labeler reviews: found in the folder of the version shown, checked
against the data and the model shown, and turned into per-image columns the Qt models index by
dataset row.

The report is written by `train-and-export --cross-val K` (cleanlab, torch); reading it here needs
neither: `inference.core.label_issues` owns the format, `inference.core.model_repository` where it lies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.core.errors import ReportError
from inference.core.fashion_mnist import Split
from inference.core.label_issues import has_report, read_report
from inference.core.model_repository import model_folder_of, report_folders


@dataclass(frozen=True)
class Review:
    """One split's report by dataset row; arrays read-only. Rows the report lacks: rank -1, not flagged."""

    folder: Path
    rank: np.ndarray  # (N,) int64, 0 = most suspect
    quality: np.ndarray  # (N,) float64, lower: more likely wrong
    flagged: np.ndarray  # (N,) bool
    suggested: np.ndarray  # (N,) int64, -1 where the report has no row
    p_suggested: np.ndarray  # (N,) float32, the suggestion's probability (out-of-fold on the train split)
    flag_rank: np.ndarray | None = None  # (N,) int64, 0 = the most suspect flagged image; -1 if not flagged
    auditor: str = ""  # whose probabilities ranked the training split (an auditor's name, or user-supplied)
    source: str = ""  # where this split's probabilities came from, as the report says it

    @property
    def ranked(self) -> int:
        """Images the report has a row for."""
        return int(np.count_nonzero(self.rank >= 0))

    @property
    def flagged_count(self) -> int:
        return int(np.count_nonzero(self.flagged))


def flag_ranks(rank: np.ndarray, flagged: np.ndarray) -> np.ndarray:
    """(N,) each flagged image's place among the flagged ones in the report's order; -1 elsewhere."""
    order = np.flatnonzero(flagged)
    order = order[np.argsort(rank[order], kind="stable")]
    places = np.full(len(rank), -1, np.int64)
    places[order] = np.arange(len(order))
    return places


def model_name(model_path: Path) -> str:
    """ "version 2" for a repository's model file, else the file's name."""
    path = Path(model_path)
    return f"version {path.parent.name}" if model_folder_of(path) is not None else path.name


def load_review(model_path: Path, model_sha256: str, split: Split) -> tuple[Review | None, str]:
    """The report for this split, data and model, or None and one line saying why (and how to make one)."""
    folders = report_folders(model_path)
    # The version's own folder first; the model folder only for a repository from before reports
    # were kept per version (the report there names the one model it was made with).
    folder = next((f for f in folders if has_report(f)), folders[0])
    try:
        report = read_report(folder, split.name, split.digest, model_sha256, len(split.labels))
    except ReportError as e:
        return None, str(e)
    except OSError as e:  # a folder we may not enter
        return None, f"cannot read the label-issue report in {folder}: {e.strerror}"
    columns = report.by_image(len(split.labels))
    columns["flag_rank"] = flag_ranks(columns["rank"], columns["flagged"])
    for array in columns.values():
        array.flags.writeable = False
    review = Review(
        folder,
        columns["rank"],
        columns["quality"],
        columns["flagged"],
        columns["suggested"],
        columns["p_suggested"],
        columns["flag_rank"],
        report.auditor,
        report.source,
    )
    return review, f"label-issue report: {folder} ({report.method}; {report.source or report.auditor})"
