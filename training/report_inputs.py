"""Where the label-issue report's training-split probabilities come from: an auditor trained K
times out-of-fold (--cross-val K, --auditor NAME), or the user's own file (--pred-probs FILE.npy).

The two replace each other: --pred-probs skips the K training runs, so giving both is refused
(train_command). Either way the result says, for the report's sidecar, what made the numbers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from inference.core.label_issues import USER_SUPPLIED
from training.config import TrainConfig
from training.errors import TrainingError


@dataclass(frozen=True)
class TrainProbabilities:
    """(N, 10) probabilities for the rows `training_split` gives, and what made them."""

    probabilities: np.ndarray  # (N, 10) float32, row i for the training split's row i
    auditor: dict  # the sidecar's "auditor": name and recipe, accuracy, seconds; or the user's file
    source: str  # one phrase for the sidecar's "probabilities"
    line: str  # what train-and-export prints about them


@dataclass(frozen=True)
class UserProbabilities:
    """The --pred-probs file, loaded and checked before anything is trained."""

    path: Path
    sha256: str
    probabilities: np.ndarray  # (60000, 10), row i for image i of the training split's IDX file


def auditor_name(name: str | None) -> str:
    from training.auditors import DEFAULT_AUDITOR

    return name or DEFAULT_AUDITOR


def load_user_probabilities(path: str, n: int) -> UserProbabilities:
    """--pred-probs, read first: a wrong file fails in a second, not after training. The SHA-256 is
    of the bytes read, so the sidecar names exactly the file that was ranked."""
    from training.pred_probs import load_pred_probs  # validation is its job: shape, dtype, rows summing to 1

    probabilities = load_pred_probs(path, n)
    try:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as e:
        raise TrainingError(f"--pred-probs {path}: cannot read it again to record its SHA-256 ({e.strerror})") from None
    return UserProbabilities(Path(path), digest, np.asarray(probabilities, dtype=np.float32))


def from_user(user: UserProbabilities, index: torch.Tensor) -> TrainProbabilities:
    """The user's rows for the images the report ranks: `index` is each row's position in the IDX
    file, so with --corrections an excluded image's row is left out, as its image is."""
    rows = user.probabilities[index.cpu().numpy()]
    record = {"name": USER_SUPPLIED, "file": str(user.path), "sha256": user.sha256}
    return TrainProbabilities(
        rows,
        record,
        f"user-supplied, {user.path.name} (SHA-256 {user.sha256[:12]}…)",
        f"training-split probabilities: user-supplied, {user.path} (SHA-256 {user.sha256})",
    )


def from_auditor(
    name: str | None, cfg: TrainConfig, images: torch.Tensor, labels: torch.Tensor, k: int, progress: bool | None = None
) -> TrainProbabilities:
    """K fold models of the auditor, each scoring the fold it held out."""
    from training.cross_val import audit_out_of_fold

    oof = audit_out_of_fold(auditor_name(name), cfg, images, labels, k, progress)
    record = {
        "name": oof.auditor,
        "recipe": oof.recipe,
        "folds": k,
        "accuracy": float(oof.accuracy),
        "fold_accuracy": [float(a) for a in oof.fold_accuracy],
        "seconds": round(float(oof.seconds), 2),
    }
    spread = f"{min(oof.fold_accuracy):.4f}-{max(oof.fold_accuracy):.4f}"
    line = (
        f"{k}-fold out-of-fold probabilities from the {oof.auditor} auditor: {oof.seconds:.1f} s, "
        f"held-out accuracy {oof.accuracy:.4f} (folds {spread})"
    )
    return TrainProbabilities(oof.probabilities, record, f"out-of-fold, {k} folds, {oof.auditor} auditor", line)
