"""K-fold out-of-fold probabilities: every training image scored by a model that never saw its label.

Confident learning (cleanlab) needs probabilities that did not learn the label they judge: a
model scoring its own training images has partly fitted their labels, wrong ones included, and
the wrong labels then look plausible. So K copies of a variant, each trained with the same
recipe on K-1 folds, score the fold they did not train on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np
import torch
from tqdm import tqdm

from inference.core.classes import NUM_CLASSES
from training.errors import TrainingError
from training.loop import EVAL_BATCH, fit, scale


class FoldSplit(NamedTuple):
    """The four tensors `fit` reads: K-1 folds to train on, the held-out fold to validate on."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    val_images: torch.Tensor
    val_labels: torch.Tensor


@dataclass
class OutOfFold:
    probabilities: np.ndarray  # (N, 10) float32; row i comes from the model that held out fold folds[i]
    folds: np.ndarray  # (N,) int64: the fold image i was held out in (its model never trained on it)
    fold_accuracy: list[float]  # each fold model's accuracy on the fold it held out
    seconds: float  # training and scoring of all folds, without data loading


def stratified_folds(labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """(N,) labels -> (N,) fold ids in 0..k-1: seeded, and each class split as evenly as it divides.

    Images are shuffled, grouped by class, then dealt out to the folds in turn; a class of n
    images puts n // k or n // k + 1 of them in every fold, and fold sizes differ by at most one.
    """
    labels = np.asarray(labels)
    counts = np.bincount(labels, minlength=NUM_CLASSES)
    smallest = counts[counts > 0].min() if len(labels) else 0
    if not 2 <= k <= smallest:
        raise TrainingError(
            f"--cross-val {k} cannot stratify {len(labels)} labels whose smallest class has {smallest} "
            f"images; use 2 <= K <= {smallest}"
        )
    order = np.random.default_rng(seed).permutation(len(labels))
    order = order[np.argsort(labels[order], kind="stable")]  # grouped by class, shuffled within
    folds = np.empty(len(labels), dtype=np.int64)
    folds[order] = np.arange(len(labels)) % k
    return folds


@torch.no_grad()
def predict_probabilities(model, images: torch.Tensor) -> np.ndarray:
    """uint8 images (N, 28, 28) -> softmax probabilities (N, 10) float32 on the CPU."""
    model.eval()
    chunks = [model(scale(images[s : s + EVAL_BATCH])) for s in range(0, len(images), EVAL_BATCH)]  # (B, 10) logits
    return torch.softmax(torch.cat(chunks), dim=1).cpu().numpy()


def fold_split(images: torch.Tensor, labels: torch.Tensor, held_out: np.ndarray) -> FoldSplit:
    """Train on everything outside `held_out` (a boolean mask), validate on it."""
    train_idx = torch.from_numpy(np.flatnonzero(~held_out)).to(images.device)
    held_idx = torch.from_numpy(np.flatnonzero(held_out)).to(images.device)
    return FoldSplit(
        images.index_select(0, train_idx), labels.index_select(0, train_idx),
        images.index_select(0, held_idx), labels.index_select(0, held_idx),
    )


def out_of_fold(
    build: Callable,
    cfg,
    images: torch.Tensor,
    labels: torch.Tensor,
    k: int,
    progress: bool | None = None,
) -> OutOfFold:
    """Out-of-fold probabilities for (N, 28, 28) uint8 `images` and their (N,) `labels`.

    `build(cfg, device)` makes (model, loss, optimizer) as the variants' `build` does; each fold
    model is seeded with cfg.seed and trained with cfg's recipe, like the final model. Folds are
    stratified and seeded by cfg.seed. progress=None shows a bar over the folds on a terminal only.
    """
    label_array, labels = labels.cpu().numpy(), labels.to(images.device)
    folds = stratified_folds(label_array, k, cfg.seed)
    probabilities = np.empty((len(label_array), NUM_CLASSES), dtype=np.float32)
    accuracy = []
    start = time.perf_counter()
    bar = tqdm(range(k), desc=f"{k}-fold", unit="fold", disable=None if progress is None else not progress)
    for fold in bar:
        held_out = folds == fold
        split = fold_split(images, labels, held_out)
        torch.manual_seed(cfg.seed)  # every fold starts from the final model's init
        model, loss_fn, optimizer = build(cfg, images.device)
        try:
            history = fit(model, loss_fn, optimizer, split, cfg, progress=False)
        except TrainingError as e:
            raise TrainingError(f"cross-validation fold {fold + 1} of {k}: {e}") from None
        probabilities[held_out] = predict_probabilities(model, split.val_images)
        accuracy.append(history.val_acc[-1])  # fit validates on the held-out fold
        bar.set_postfix(held_out_acc=f"{accuracy[-1]:.3f}")
    return OutOfFold(probabilities, folds, accuracy, time.perf_counter() - start)
