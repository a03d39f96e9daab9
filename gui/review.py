"""The label-issue report the labeler reviews: found beside the model, checked against the data and
the model shown, and turned into per-image columns the Qt models index by dataset row.

The report is written by `train-and-export --cross-val K` (cleanlab, torch); reading it here needs
neither: `inference.core.label_issues` owns the format.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.core.fashion_mnist import Split
from inference.core.model_repository import model_folder_of
from inference.core.label_issues import ReportError, read_report


@dataclass(frozen=True)
class Review:
    """One split's report by dataset row; arrays read-only. Rows the report lacks: rank -1, not flagged."""

    folder: Path
    rank: np.ndarray  # (N,) int64, 0 = most suspect
    quality: np.ndarray  # (N,) float64, lower: more likely wrong
    flagged: np.ndarray  # (N,) bool
    suggested: np.ndarray  # (N,) int64, -1 where the report has no row
    p_suggested: np.ndarray  # (N,) float32, the suggestion's probability (out-of-fold on the train split)


def load_review(model_path: Path, model_sha256: str, split: Split) -> tuple[Review | None, str]:
    """The report for this split, data and model, or None and one line saying why (and how to make one)."""
    # The report sits beside the version folders: models/fashion_mnist/ for .../<version>/model.onnx.
    folder = model_folder_of(model_path) or Path(model_path).parent
    try:
        report = read_report(folder, split.name, split.digest, model_sha256, len(split.labels))
    except ReportError as e:
        return None, str(e)
    except OSError as e:  # a folder we may not enter
        return None, f"cannot read the label-issue report in {folder}: {e.strerror}"
    columns = report.by_image(len(split.labels))
    for array in columns.values():
        array.flags.writeable = False
    review = Review(folder, columns["rank"], columns["quality"], columns["flagged"], columns["suggested"],
                    columns["p_suggested"])
    return review, f"label-issue report: {folder} ({report.method})"
