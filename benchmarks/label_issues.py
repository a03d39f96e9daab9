"""Label-issue detection per auditor: plant seeded label noise, find it again; then rank the clean labels.

The flips happen in memory (the dataset files are never written). For each auditor
(training/auditors/), on a seeded 5 % of the training labels moved to another class:
K-fold out-of-fold accuracy, then cleanlab's self-confidence ranking (training.label_report's
find_issues, what train-and-export writes) scored against the flips: AUROC and precision at
K = number flipped, and the wall and CPU time of the cross-validation. Then the same auditor on
the CLEAN training labels: the top of its ranking, for a person to judge (benchmarks/contact_sheet.py
draws them), optionally written as a label_issues-train CSV.
Targets (default auditor): AUROC >= 0.98, precision@K >= 0.80, 5-fold cross-validation <= 5 min
wall on a quiet 2-core machine; linear <= 15 s.

    python benchmarks/label_issues.py [--auditor linear cnn] [--noise 0.05] [--noise-seed 0] [--folds 5]
        [--top 40] [--write-csv DIR] [--clean/--no-clean] [--methods] [--retrain --seeds 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

import numpy as np
import torch
from cleanlab.filter import find_label_issues
from cleanlab.rank import get_label_quality_scores

from inference.core.atomic_write import atomic_write
from inference.core.classes import CLASS_NAMES, NUM_CLASSES
from training import softmax_concise
from training.auditors import AUDITORS, DEFAULT_AUDITOR
from training.config import TrainConfig
from training.cross_val import OutOfFold, audit_out_of_fold
from training.data import Data, prepare
from training.label_report import FILTER_BY, METHOD, find_issues, to_csv
from training.loop import evaluate, fit

METHODS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")
FILTERS = (
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
    "low_normalized_margin",
    "low_self_confidence",
)


def flip(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(noisy labels, mask of flipped images): a seeded `fraction` moved to a uniformly drawn other class."""
    rng = np.random.default_rng(seed)
    flipped = np.zeros(len(labels), dtype=bool)
    flipped[rng.choice(len(labels), size=round(fraction * len(labels)), replace=False)] = True
    noisy = labels.copy()
    noisy[flipped] = (labels[flipped] + rng.integers(1, NUM_CLASSES, size=flipped.sum())) % NUM_CLASSES
    return noisy, flipped


def auroc(positive: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve of `score` (higher: more likely positive) for the boolean `positive`,
    by the Mann-Whitney rank statistic; tied scores share their average rank."""
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = positive.sum(), (~positive).sum()
    if not n_pos or not n_neg:
        return float("nan")
    _, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    first_rank = np.cumsum(counts) - counts  # 0-based rank of each distinct value's first occurrence
    ranks = first_rank[inverse] + (counts[inverse] - 1) / 2 + 1  # 1-based average ranks
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def timed_audit(
    name: str, cfg: TrainConfig, images: torch.Tensor, labels: np.ndarray, folds: int, progress: bool | None
) -> tuple[OutOfFold, float]:
    """(out-of-fold result, CPU seconds of this process) for one cross-validation."""
    cpu = time.process_time()
    oof = audit_out_of_fold(name, cfg, images, torch.from_numpy(labels), folds, progress=progress)
    return oof, time.process_time() - cpu


def planted_noise(name, cfg, images, noisy, flipped, folds, progress) -> dict:
    """The auditor on noisy labels: how well its ranking finds the flips."""
    oof, cpu = timed_audit(name, cfg, images, noisy, folds, progress)
    issues = find_issues("train", noisy, oof.probabilities)  # rows most suspect first
    quality = np.empty(len(noisy))
    quality[issues.index] = issues.label_quality
    k = int(flipped.sum())
    flagged = np.zeros(len(noisy), dtype=bool)
    flagged[issues.index[issues.is_issue]] = True
    row = {
        "oof_acc": oof.accuracy,
        "auroc": auroc(flipped, -quality),  # lower quality must mean "flipped"
        "prec_at_k": float(flipped[issues.index[:k]].mean()),
        "flagged": int(flagged.sum()),
        "flag_prec": float(flipped[flagged].mean()) if flagged.any() else float("nan"),
        "flag_recall": float(flagged[flipped].mean()),
        "wall": oof.seconds,
        "cpu": cpu,
        "oof": oof,
    }
    print(
        f"  planted noise ({k} of {len(noisy)} flipped): out-of-fold accuracy {row['oof_acc']:.4f} "
        f"(folds {min(oof.fold_accuracy):.4f}-{max(oof.fold_accuracy):.4f}), AUROC {row['auroc']:.4f}, "
        f"precision@{k} {row['prec_at_k']:.4f}; is_issue ({FILTER_BY}) flags {row['flagged']}: "
        f"precision {row['flag_prec']:.3f}, recall {row['flag_recall']:.3f}"
    )
    print(
        f"  {folds}-fold cross-validation: {oof.seconds:.1f} s wall, {cpu:.1f} s CPU "
        f"({cpu / oof.seconds:.2f} cores busy), load average now {os.getloadavg()[0]:.1f}"
    )
    return row


def clean_ranking(name, cfg, images, clean, folds, top, progress, write_csv: Path | None) -> dict:
    """The auditor on the labels as published: its most suspect images, for a person to judge."""
    oof, cpu = timed_audit(name, cfg, images, clean, folds, progress)
    issues = find_issues("train", clean, oof.probabilities)
    print(
        f"  clean labels: out-of-fold accuracy {oof.accuracy:.4f}, {int(issues.is_issue.sum())} flagged, "
        f"{oof.seconds:.1f} s wall, {cpu:.1f} s CPU; top {top}:"
    )
    print(f"    {'rank':>4} {'index':>6}  {'given':<12} {'suggested':<12} {'quality':>9}")
    for rank in range(min(top, len(issues.index))):
        print(
            f"    {rank + 1:>4} {issues.index[rank]:>6}  {CLASS_NAMES[issues.given_label[rank]]:<12} "
            f"{CLASS_NAMES[issues.suggested_label[rank]]:<12} {issues.label_quality[rank]:>9.3g}"
        )
    if write_csv is not None:
        path = write_csv / f"label_issues-train-{name}.csv"
        atomic_write(path, to_csv(issues))
        print(f"  ranking written to {path} (benchmarks/contact_sheet.py {path})")
    return {"clean_acc": oof.accuracy, "clean_wall": oof.seconds, "clean_cpu": cpu}


def method_table(noisy: np.ndarray, flipped: np.ndarray, probs: np.ndarray) -> None:
    """Every ranking method and is_issue filter against the flips (how METHOD and FILTER_BY were chosen)."""
    k = int(flipped.sum())
    print(f"  {'method':<28} {'AUROC':>7} {'prec@K':>7}")
    for method in METHODS:
        quality = get_label_quality_scores(noisy, probs, method=method)
        precision_at_k = flipped[np.argsort(quality, kind="stable")[:k]].mean()
        mark = "  <- METHOD" if method == METHOD else ""
        print(f"  {method:<28} {auroc(flipped, -quality):>7.4f} {precision_at_k:>7.4f}{mark}")
    print(f"  {'filter_by':<28} {'flagged':>7} {'prec':>6} {'recall':>6}")
    for filter_by in FILTERS:
        mask = find_label_issues(noisy, probs, filter_by=filter_by, n_jobs=1)
        mark = "  <- FILTER_BY" if filter_by == FILTER_BY else ""
        print(f"  {filter_by:<28} {mask.sum():>7} {flipped[mask].mean():>6.3f} {mask[flipped].mean():>6.3f}{mark}")


def accuracy_on_test(cfg: TrainConfig, data: Data, images: torch.Tensor, labels: np.ndarray, seed: int) -> float:
    """The seed recipe (with training seed `seed`) trained on (images, labels), scored on the untouched test set."""
    cfg = dataclasses.replace(cfg, seed=seed)
    torch.manual_seed(seed)
    model, loss_fn, optimizer = softmax_concise.build(cfg, images.device)
    run = dataclasses.replace(data, train_images=images, train_labels=torch.from_numpy(labels).to(images.device))
    fit(model, loss_fn, optimizer, run, cfg, progress=False)
    return evaluate(model, loss_fn, data.test_images, data.test_labels)[1]


def retrain_table(cfg, data, clean, noisy, flipped, probs, seeds: list[int]) -> None:
    """Test accuracy of the deployed model (mean ± std over training seeds) on clean, noisy, and
    noisy labels with the FILTER_BY-flagged images corrected to the suggestion, excluded, or
    reviewed (the flips among them restored, the rest kept: what a person in the labeler does)."""
    images, mask = data.train_images, find_label_issues(noisy, probs, filter_by=FILTER_BY, n_jobs=1)

    def accuracy(imgs, labels) -> np.ndarray:
        return np.array([accuracy_on_test(cfg, data, imgs, labels, s) for s in seeds])

    clean_acc, noisy_acc = accuracy(images, clean), accuracy(images, noisy)
    cost = clean_acc.mean() - noisy_acc.mean()
    print(f"  test accuracy of the linear model, mean ± std over seeds {seeds}:")
    print(f"    {'clean labels':<24} {clean_acc.mean():.4f} ± {clean_acc.std():.4f}")
    print(f"    {'noisy labels':<24} {noisy_acc.mean():.4f} ± {noisy_acc.std():.4f}   cost {100 * cost:.2f} points")
    keep = torch.from_numpy(np.flatnonzero(~mask)).to(images.device)
    rows = {
        "corrected": accuracy(images, np.where(mask, probs.argmax(axis=1), noisy)),
        "excluded": accuracy(images.index_select(0, keep), noisy[~mask]),
        "reviewed": accuracy(images, np.where(mask & flipped, clean, noisy)),
    }
    for how, acc in rows.items():
        recovered = (acc.mean() - noisy_acc.mean()) / cost if cost else float("nan")
        print(f"    {how:<24} {acc.mean():.4f} ± {acc.std():.4f}   recovered {recovered:7.1%}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--auditor", nargs="+", choices=list(AUDITORS), default=list(AUDITORS))
    p.add_argument("--noise", type=float, default=0.05, help="fraction of training labels to flip")
    p.add_argument("--noise-seed", type=int, default=0)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--top", type=int, default=40, help="how many of the clean ranking to print")
    p.add_argument(
        "--planted",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="score the ranking against planted noise (one cross-validation)",
    )
    p.add_argument(
        "--clean",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also rank the clean labels (a second cross-validation)",
    )
    p.add_argument("--write-csv", type=Path, metavar="DIR", help="write each clean ranking as a label_issues-train CSV")
    p.add_argument("--methods", action="store_true", help="every cleanlab ranking method and filter on the noisy run")
    p.add_argument("--retrain", action="store_true", help="retrain the linear model on corrected labels (slow)")
    p.add_argument("--seeds", type=int, default=3, help="training seeds for --retrain")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--progress", action="store_true", help="show the fold x epoch bar")
    p.add_argument(
        "--threads",
        type=int,
        help="torch threads (default: torch's choice). On a 2-core machine "
        "shared with other jobs two threads spin on each other: the CNN's 5 folds took 322 s of CPU "
        "on one thread against 532-1111 s on two",
    )
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    cfg = TrainConfig(variant="concise")  # the seed recipe: the linear auditor's, and the folds' seed
    data = prepare(None, False, 0, cfg.seed, torch.device(args.device))
    images, clean = data.train_images, data.train_labels.cpu().numpy()
    noisy, flipped = flip(clean, args.noise, args.noise_seed)
    if args.write_csv:
        args.write_csv.mkdir(parents=True, exist_ok=True)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, device {args.device}, "
        f"load average {os.getloadavg()[0]:.1f} at start; default auditor: {DEFAULT_AUDITOR}"
    )
    # Warm up first: a cold first run on two cores took 13.3 s against 6.9-7.1 s warm, and in
    # train-and-export the folds run after the final model has trained, warm.
    accuracy_on_test(dataclasses.replace(cfg, epochs=1), data, images, clean, cfg.seed)
    progress = True if args.progress else False
    results = {}
    for name in args.auditor:
        print(
            f"\n{name} auditor: {AUDITORS[name].about}\n  recipe {dataclasses.asdict(AUDITORS[name].recipe_for(cfg))}"
        )
        row = planted_noise(name, cfg, images, noisy, flipped, args.folds, progress) if args.planted else {}
        if args.methods and row:
            method_table(noisy, flipped, row["oof"].probabilities)
        if args.retrain and row:
            retrain_table(
                cfg, data, clean, noisy, flipped, row["oof"].probabilities, list(range(cfg.seed, cfg.seed + args.seeds))
            )
        if args.clean:
            row |= clean_ranking(name, cfg, images, clean, args.folds, args.top, progress, args.write_csv)
        results[name] = row

    print(f"\nsummary ({args.folds} folds, {args.noise:.0%} planted noise, noise seed {args.noise_seed}):")
    print(f"  {'auditor':<8} {'OOF acc':>8} {'AUROC':>7} {'prec@K':>7} {'wall s':>7} {'CPU s':>7} {'clean OOF':>9}")
    for name, r in results.items():
        if "oof_acc" not in r:
            continue
        print(
            f"  {name:<8} {r['oof_acc']:>8.4f} {r['auroc']:>7.4f} {r['prec_at_k']:>7.4f} {r['wall']:>7.1f} "
            f"{r['cpu']:>7.1f} {r.get('clean_acc', float('nan')):>9.4f}"
        )
    print("targets: default auditor AUROC >= 0.98, prec@K >= 0.80, <= 300 s wall (quiet 2 cores); linear <= 15 s")


if __name__ == "__main__":
    main()
