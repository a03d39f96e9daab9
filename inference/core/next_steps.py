"""The next command of the data-cleaning loop, spelled out for one repository and one store.

train-and-export prints it as its last line and the labeler shows it where a report is missing,
so both say the same, runnable thing: one owner, torch-free. Paths are quoted for a POSIX shell.

    train -> rank label issues (a report) -> review them in the labeler -> retrain with the
    verdicts and rank again -> review the new version -> ...
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from inference.core.corrections import default_path

DEFAULT_FOLDS = 5  # what the docs recommend: 5 fold models, each trained on 80% of the images


def report_command(
    repository: str | os.PathLike, corrections: str | os.PathLike | None = None, folds: int = DEFAULT_FOLDS
) -> str:
    """The run that exports a new version of `repository` with its own label-issue report; with
    `corrections` (a store holding verdicts) trained and ranked on the corrected labels."""
    words = ["train-and-export", "--out", str(repository), "--cross-val", str(folds)]
    if corrections is not None:
        words += ["--corrections", str(corrections)]
    return shlex.join(words)


def review_command(
    model_file: str | os.PathLike,
    split: str = "train",
    corrections: str | os.PathLike | None = None,
    report: bool = True,
) -> str:
    """The labeler on one version's model file and a split; with `report`, opened on its label
    issues, most suspect first. `corrections` is named only when it is not the labeler's default."""
    words = ["fashion-labeler", "--model", str(model_file), "--split", split]
    if corrections is not None and Path(corrections).expanduser().resolve() != default_path().resolve():
        words += ["--corrections", str(corrections)]
    if report:
        words += ["--show", "issues", "--sort", "quality"]
    return shlex.join(words)
