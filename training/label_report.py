"""Suspected label errors, ranked by cleanlab, written into the version's folder for the labeler to review.

The format (file names, columns, sidecar) is owned by inference/core/label_issues.py, which
also reads it back for the labeler without cleanlab or torch; the folder by
inference/core/model_repository.py (each version keeps its own report; no later run touches it).

    models/fashion_mnist/2/label_issues-train.csv   training split, the auditor's out-of-fold probabilities
    models/fashion_mnist/2/label_issues-test.csv    test split, the exported model's probabilities
    models/fashion_mnist/2/label_issues.json        what made them: dataset and model digests, method,
                                                    the auditor (or the --pred-probs file), K

Each CSV has one header row and one row per image, most suspect first (label_quality ascending):
index (the image's position in its split's IDX file), given_label, suggested_label (the most
probable class), label_quality (lower: more likely wrong), is_issue (true/false: cleanlab's
flag), p_0 ... p_9. Provenance lives in the JSON sidecar, not in `#` comment lines inside the
CSVs: comment lines trip plain CSV readers (csv.DictReader, spreadsheets, pandas without
comment="#"), and the sidecar holds nested data and each CSV's SHA-256, so a CSV swapped in
without its sidecar is detected. The sidecar is written last: when it is there, the set is complete.

cleanlab is an optional dependency, imported only when a report is asked for (--cross-val, --pred-probs).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from inference.core.atomic_write import atomic_write
from inference.core.classes import CLASS_NAMES
from inference.core.label_issues import COLUMNS, SIDECAR, csv_name
from inference.core.model_repository import model_dir
from training.config import TrainConfig
from training.cross_val import predict_probabilities
from training.data import Data
from training.errors import TrainingError
from training.loop import Model
from training.report_inputs import UserProbabilities, from_auditor, from_user

# Chosen on benchmarks/label_issues.py, not by taste: 5% of the training labels (3000) flipped at
# random, 5-fold out-of-fold probabilities from the seed recipe, then each option against the flips.
# Ranking, AUROC / precision at K = 3000:
#   self_confidence 0.9855 / 0.802   confidence_weighted_entropy 0.9822 / 0.785   normalized_margin 0.9754 / 0.653
# and self_confidence stays first at 20% noise (0.9817 / 0.882, against 0.9789 / 0.874 and 0.9711 / 0.813).
# is_issue, precision / recall (flagged): low_self_confidence 0.490 / 0.942 (5762),
#   low_normalized_margin 0.460 / 0.883, both 0.404 / 0.894, confident_learning 0.370 / 0.711,
#   prune_by_class 0.357 / 0.957, prune_by_noise_rate (cleanlab's default) 0.353 / 0.901 (7656),
#   predicted_neq_given 0.244 / 0.982 (12085); at 20% noise low_self_confidence leads too (0.817 / 0.928).
# low_self_confidence is the most precise filter at a recall only prune_by_class and predicted_neq_given
# beat, and it flags exactly the lowest-ranked rows, so the flagged images are the top of each CSV.
# Half of what it flags are not flips but Fashion-MNIST's own ambiguous images (shirts, pullovers,
# coats): a person must review them. Relabelling every flagged image to the suggestion
# lost accuracy (test 0.8279 against 0.8307 noisy, 0.8332 clean; mean of 3 seeds), while restoring
# only the flips among them, what a reviewer does, recovered 107% of the noise's cost.
METHOD = "self_confidence"
FILTER_BY = "low_self_confidence"
HOW_TO_INSTALL = "pip install 'fashion-softmax[label-issues]' (or pip install cleanlab)"


def require_cleanlab() -> ModuleType:
    """The cleanlab package with the two modules used here, or a one-line error saying how to get it."""
    try:
        import cleanlab.filter
        import cleanlab.rank
    except ImportError as e:  # absent, or present without a dependency of its own
        raise TrainingError(
            f"--cross-val ranks label issues with cleanlab, which could not be imported ({e}); "
            f"install it with {HOW_TO_INSTALL}, or leave out --cross-val"
        ) from None
    return cleanlab


@dataclass
class LabelIssues:
    """One split's ranking, rows sorted by label_quality ascending (ties by index)."""

    split: str
    index: np.ndarray  # (N,) int64, position in the split's IDX file
    given_label: np.ndarray  # (N,) int64
    suggested_label: np.ndarray  # (N,) int64, argmax of the probabilities
    label_quality: np.ndarray  # (N,) in [0, 1]
    is_issue: np.ndarray  # (N,) bool
    probabilities: np.ndarray  # (N, 10) float32


def find_issues(
    split: str, labels: np.ndarray, probabilities: np.ndarray, index: np.ndarray | None = None
) -> LabelIssues:
    """cleanlab's label quality (METHOD) and issue flags (FILTER_BY) for (N,) labels and (N, 10) probabilities.

    `index` names each row's image (default 0..N-1, the file order); pass it when rows were dropped.
    """
    cleanlab = require_cleanlab()
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float32)
    index = np.arange(len(labels)) if index is None else np.asarray(index, dtype=np.int64)
    quality = cleanlab.rank.get_label_quality_scores(labels, probabilities, method=METHOD)
    # n_jobs=1: cleanlab's default pool forks a process holding torch's threads, which can hang;
    # one process ranks 60,000 images in well under a second.
    flagged = cleanlab.filter.find_label_issues(labels, probabilities, filter_by=FILTER_BY, n_jobs=1)
    order = np.lexsort((index, quality))
    return LabelIssues(
        split,
        index[order],
        labels[order],
        probabilities.argmax(axis=1)[order],
        quality[order],
        flagged[order],
        probabilities[order],
    )


def to_csv(issues: LabelIssues) -> bytes:
    """The CSV described in the module docstring; %.6g keeps tiny quality scores distinguishable."""
    out = io.StringIO()
    out.write(",".join(COLUMNS) + "\n")
    for i in range(len(issues.index)):
        probs = ",".join(f"{p:.6g}" for p in issues.probabilities[i])
        out.write(
            f"{issues.index[i]},{issues.given_label[i]},{issues.suggested_label[i]},"
            f"{issues.label_quality[i]:.6g},{'true' if issues.is_issue[i] else 'false'},{probs}\n"
        )
    return out.getvalue().encode()


def write_report(folder: Path, reports: list[LabelIssues], provenance: dict) -> list[Path]:
    """Each split's CSV, then the sidecar that ties them to `provenance` (digests, method, K)."""
    cleanlab = require_cleanlab()
    paths, splits = [], {}
    for issues in reports:
        data = to_csv(issues)
        path = Path(folder) / csv_name(issues.split)
        atomic_write(path, data)
        paths.append(path)
        splits[issues.split] = {
            "file": path.name,
            "sha256": hashlib.sha256(data).hexdigest(),
            "rows": len(issues.index),
            "issues": int(issues.is_issue.sum()),
        }
    sidecar = {
        **provenance,
        "method": METHOD,
        "filter_by": FILTER_BY,
        "cleanlab": cleanlab.__version__,
        "splits": splits,
    }
    path = Path(folder) / SIDECAR
    atomic_write(path, json.dumps(sidecar, indent=2).encode())
    return [*paths, path]


def summary(reports: list[LabelIssues], top: int = 10) -> str:
    """What train-and-export prints: issues flagged per split and the most frequent class pairs."""
    counts = ", ".join(f"{r.split} {int(r.is_issue.sum())} of {len(r.index)}" for r in reports)
    lines = [f"label issues flagged by cleanlab ({METHOD}, {FILTER_BY}): {counts}"]
    pairs = {
        r.split: Counter(zip(r.given_label[r.is_issue].tolist(), r.suggested_label[r.is_issue].tolist(), strict=False))
        for r in reports
    }
    total = sum(pairs.values(), Counter())
    if total:
        lines.append(f"{'top class pairs (given -> suggested)':<40}" + "".join(f"{s:>8}" for s in pairs))
        for given, suggested in (pair for pair, _ in total.most_common(top)):
            name = f"{CLASS_NAMES[given]} -> {CLASS_NAMES[suggested]}"
            lines.append(f"  {name:<38}" + "".join(f"{pairs[s][given, suggested]:>8}" for s in pairs))
    return "\n".join(lines)


def training_split(data: Data, val_split: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(images, labels, index) of every training image in IDX-file order on data's device, the
    validation hold-out included: every training image gets a score, and `index` is the position
    the labeler shows it at. With --corrections: the corrected labels, and no row for an excluded image."""
    if not val_split or data.val_index is None:  # prepare kept the file order
        return data.train_images, data.train_labels, data.train_index
    index = torch.cat([data.train_index, data.val_index])
    order = torch.argsort(index)
    images = torch.cat([data.train_images, data.val_images]).index_select(0, order)
    labels = torch.cat([data.train_labels, data.val_labels]).index_select(0, order)
    return images, labels, index.index_select(0, order)


def report_test_set(data: Data) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """(images, labels, index) of the test set: with --corrections its verdicts applied, as for training."""
    if data.corrected_test is None or data.corrections is None:  # set together, by --corrections
        return data.test_images, data.test_labels, np.arange(len(data.test_labels))
    return *data.corrected_test, np.flatnonzero(data.corrections.test.keep)


def report_label_issues(
    cfg: TrainConfig,
    data: Data,
    final_model: Model,
    folder: Path,
    model_file: Path,
    user: UserProbabilities | None = None,
    progress: bool | None = None,
) -> str:
    """train-and-export --cross-val K (or --pred-probs), after the export: the auditor's out-of-fold
    probabilities (or the user's) for the training split, the exported model's for the test split
    (it never trained on it), ranked against the labels trained on (with --corrections: the
    corrected ones, excluded images left out) and written into `folder`, the version's own.
    `model_file` is the file `final_model` was saved as (its path and SHA-256 tie the report to
    it). Returns the lines to print."""
    require_cleanlab()
    images, labels, index = training_split(data, cfg.val_split)
    train = (
        from_user(user, index)
        if user is not None
        else from_auditor(cfg.auditor, cfg, images, labels, cfg.cross_val, progress)
    )
    test_images, test_labels, test_index = report_test_set(data)
    reports = [
        find_issues("train", labels.cpu().numpy(), train.probabilities, index.cpu().numpy()),
        find_issues("test", test_labels.cpu().numpy(), predict_probabilities(final_model, test_images), test_index),
    ]
    provenance = {
        "dataset_sha256": data.digest,
        "model": Path(model_file).relative_to(model_dir(cfg.out)).as_posix(),
        "model_sha256": hashlib.sha256(Path(model_file).read_bytes()).hexdigest(),
        "cross_val_folds": cfg.cross_val or None,
        "fold_seed": cfg.seed,
        "auditor": train.auditor,
        "probabilities": {"train": train.source, "test": "the exported model"},
        # given_label is the corrected label, and excluded images have no row, when these are set.
        "corrections_digest": data.corrections
        and {"train": data.corrections.train.digest, "test": data.corrections.test.digest},
    }
    write_report(folder, reports, provenance)
    return "\n".join(
        [
            train.line,
            summary(reports),
            f"label issues: {folder}/{csv_name('train')}, {csv_name('test')}, {SIDECAR}",
        ]
    )
