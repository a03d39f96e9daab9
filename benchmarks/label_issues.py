"""Label-issue detection on planted noise: flip a seeded 5% of the training labels, find them again.

The flips happen in memory (the dataset files are never written). The real pipeline runs on the
noisy labels: 5-fold out-of-fold probabilities from the seed recipe (concise, batch 256, lr 0.1,
10 epochs), then cleanlab. Prints, for every ranking method and every find_label_issues filter:
AUROC of the ranking against the flips, precision at K = number flipped, precision and recall
of is_issue; then test accuracy (mean ± std over training seeds) trained on clean labels, on
noisy labels, and on noisy labels with the flagged images corrected to the suggestion, excluded,
or reviewed (flips among them restored, the rest kept), with the fraction of the noise's
accuracy cost each recovers; and the wall time of the cross-validation.
Targets: AUROC >= 0.98; precision@K >= 0.80; corrected labels recover >= 90% of the cost;
--cross-val 5 on the seed recipe <= 10 s of training on a 2-core machine.

    python benchmarks/label_issues.py [--noise 0.05] [--noise-seed 0] [--folds 5] [--seeds 3] [--all-filters]
"""

from __future__ import annotations

import argparse
import dataclasses
import os

import numpy as np
import torch
from cleanlab.filter import find_label_issues
from cleanlab.rank import get_label_quality_scores
from sklearn.metrics import roc_auc_score

from inference.core.classes import NUM_CLASSES
from training import softmax_concise
from training.config import TrainConfig
from training.cross_val import out_of_fold
from training.data import Data, prepare
from training.label_report import FILTER_BY, METHOD
from training.loop import evaluate, fit

METHODS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")
FILTERS = (
    "prune_by_noise_rate", "prune_by_class", "both", "confident_learning",
    "predicted_neq_given", "low_normalized_margin", "low_self_confidence",
)


def flip(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(noisy labels, mask of flipped images): a seeded `fraction` moved to a uniformly drawn other class."""
    rng = np.random.default_rng(seed)
    flipped = np.zeros(len(labels), dtype=bool)
    flipped[rng.choice(len(labels), size=round(fraction * len(labels)), replace=False)] = True
    noisy = labels.copy()
    noisy[flipped] = (labels[flipped] + rng.integers(1, NUM_CLASSES, size=flipped.sum())) % NUM_CLASSES
    return noisy, flipped


def accuracy_on_test(cfg: TrainConfig, data: Data, images: torch.Tensor, labels: np.ndarray, seed: int) -> float:
    """The seed recipe (with training seed `seed`) trained on (images, labels), scored on the untouched test set."""
    cfg = dataclasses.replace(cfg, seed=seed)
    torch.manual_seed(seed)
    model, loss_fn, optimizer = softmax_concise.build(cfg, images.device)
    run = dataclasses.replace(data, train_images=images, train_labels=torch.from_numpy(labels).to(images.device))
    fit(model, loss_fn, optimizer, run, cfg, progress=False)
    return evaluate(model, loss_fn, data.test_images, data.test_labels)[1]


def ranking_table(noisy: np.ndarray, flipped: np.ndarray, probs: np.ndarray) -> None:
    k = int(flipped.sum())
    print(f"\nranking (label_quality ascending), {k} flipped of {len(noisy)}:")
    print(f"  {'method':<28} {'AUROC':>7} {'prec@K':>7}")
    for method in METHODS:
        quality = get_label_quality_scores(noisy, probs, method=method)
        auroc = roc_auc_score(flipped, -quality)  # lower quality must mean "flipped"
        precision_at_k = flipped[np.argsort(quality, kind="stable")[:k]].mean()
        mark = "  <- METHOD" if method == METHOD else ""
        print(f"  {method:<28} {auroc:>7.4f} {precision_at_k:>7.4f}{mark}")


def filter_table(clean: np.ndarray, noisy: np.ndarray, flipped: np.ndarray, probs: np.ndarray) -> dict:
    """Precision and recall of each filter's is_issue against the flips; returns the masks."""
    print("\nis_issue (find_label_issues filter_by):")
    print(f"  {'filter_by':<22} {'flagged':>7} {'prec':>6} {'recall':>6} {'fixed':>6}")
    suggested, masks = probs.argmax(axis=1), {}
    for filter_by in FILTERS:
        mask = masks[filter_by] = find_label_issues(noisy, probs, filter_by=filter_by, n_jobs=1)
        fixed = (suggested[mask & flipped] == clean[mask & flipped]).mean()  # flips the suggestion undoes
        mark = "  <- FILTER_BY" if filter_by == FILTER_BY else ""
        print(f"  {filter_by:<22} {mask.sum():>7} {flipped[mask].mean():>6.3f} {mask[flipped].mean():>6.3f} "
              f"{fixed:>6.3f}{mark}")
    print("  fixed: share of the flagged flips whose suggested label is the original one")
    return masks


def accuracy_table(cfg, data, clean, noisy, flipped, probs, masks: dict, seeds: list[int]) -> None:
    """Test accuracy (mean and spread over training seeds) for clean, noisy, corrected, excluded
    and reviewed labels. Reviewed is the labeler's flow: a person looks at the flagged images,
    restores the flips among them and confirms the rest."""
    images = data.train_images

    def accuracy(imgs, labels) -> np.ndarray:
        return np.array([accuracy_on_test(cfg, data, imgs, labels, s) for s in seeds])

    clean_acc, noisy_acc = accuracy(images, clean), accuracy(images, noisy)
    cost = clean_acc.mean() - noisy_acc.mean()
    print(f"\ntest accuracy, mean ± std over training seeds {seeds} (recovered: (acc - noisy) / (clean - noisy)):")
    print(f"  {'clean labels':<44} {clean_acc.mean():.4f} ± {clean_acc.std():.4f}")
    print(f"  {'noisy labels':<44} {noisy_acc.mean():.4f} ± {noisy_acc.std():.4f}   cost {100 * cost:.2f} points")
    suggested = probs.argmax(axis=1)
    for filter_by, mask in masks.items():
        corrected = np.where(mask, suggested, noisy)
        keep = torch.from_numpy(np.flatnonzero(~mask)).to(images.device)
        rows = {
            "corrected": accuracy(images, corrected),
            "excluded": accuracy(images.index_select(0, keep), noisy[~mask]),
            "reviewed": accuracy(images, np.where(mask & flipped, clean, noisy)),
        }
        for how, acc in rows.items():
            recovered = (acc.mean() - noisy_acc.mean()) / cost if cost else float("nan")
            print(f"  {f'{how} ({filter_by})':<44} {acc.mean():.4f} ± {acc.std():.4f}   recovered {recovered:7.1%}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--noise", type=float, default=0.05, help="fraction of training labels to flip")
    p.add_argument("--noise-seed", type=int, default=0)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seeds", type=int, default=3, help="training seeds each test accuracy is averaged over")
    p.add_argument("--all-filters", action="store_true", help="retrain for every filter_by, not only FILTER_BY")
    args = p.parse_args()

    cfg = TrainConfig(variant="concise")  # the seed recipe
    device = torch.device("cpu")
    data = prepare(None, False, 0, cfg.seed, device)
    clean = data.train_labels.numpy()
    noisy, flipped = flip(clean, args.noise, args.noise_seed)
    load = os.getloadavg()[0]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"load average {load:.1f} at start")

    # Warm up first: a cold first run on two cores took 13.3 s against 6.9-7.1 s warm, and in
    # train-and-export the folds run after the final model has trained, warm.
    accuracy_on_test(dataclasses.replace(cfg, epochs=1), data, data.train_images, clean, cfg.seed)
    oof = out_of_fold(softmax_concise.build, cfg, data.train_images, torch.from_numpy(noisy), args.folds,
                      progress=False)
    print(f"--cross-val {args.folds} (seed recipe, {len(noisy)} images): {oof.seconds:.2f} s wall "
          f"(target <= 10 s: {'met' if oof.seconds <= 10 else 'NOT met'}; load average now "
          f"{os.getloadavg()[0]:.1f}), held-out accuracy {min(oof.fold_accuracy):.4f}-{max(oof.fold_accuracy):.4f}")

    ranking_table(noisy, flipped, oof.probabilities)
    masks = filter_table(clean, noisy, flipped, oof.probabilities)
    if not args.all_filters:
        masks = {FILTER_BY: masks[FILTER_BY]}
    seeds = list(range(cfg.seed, cfg.seed + args.seeds))
    accuracy_table(cfg, data, clean, noisy, flipped, oof.probabilities, masks, seeds)
    print("\ntargets: AUROC >= 0.98, prec@K >= 0.80, corrected labels recover >= 90% of the cost")


if __name__ == "__main__":
    main()
