"""K-fold out-of-fold probabilities: every training image scored by a model that never saw its label.

Confident learning (cleanlab) needs probabilities that did not learn the label they judge: a
model scoring its own training images has partly fitted their labels, wrong ones included, and
the wrong labels then look plausible. So K copies of a model, each trained with the same
recipe on K-1 folds, score the fold they did not train on.

`audit_out_of_fold` does this with an auditor (training/auditors/: the linear model with the
run's recipe, or a stronger model that is never exported); `out_of_fold` with any variant's
`build`, the way the deployed model is trained.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch
from tqdm import tqdm

from inference.core.classes import NUM_CLASSES
from training.auditors import AUDITORS
from training.auditors.train import Recipe
from training.config import TrainConfig
from training.errors import TrainingError
from training.loop import EVAL_BATCH, LossFn, Model, Optimizer, fit, scale


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
    auditor: str = ""  # the auditor's name (out_of_fold: the variant's module)
    recipe: dict = field(default_factory=dict)  # what the fold models trained with, JSON-serialisable
    accuracy: float = float("nan")  # out-of-fold accuracy over all N images against the given labels


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
def predict_probabilities(model: Model, images: torch.Tensor) -> np.ndarray:
    """uint8 images (N, 28, 28) -> softmax probabilities (N, 10) float32 on the CPU."""
    model.eval()
    # The model's device, not the images': a caller's data and model need not share one (on a GPU
    # the export once moved the final model to the CPU, and the report failed with "mat1 is on cuda:0").
    device = next(iter(model.parameters())).device
    chunks = [
        model(scale(images[s : s + EVAL_BATCH].to(device)))  # (B, 10) logits
        for s in range(0, len(images), EVAL_BATCH)
    ]
    return torch.softmax(torch.cat(chunks), dim=1).cpu().numpy()


def fold_split(images: torch.Tensor, labels: torch.Tensor, held_out: np.ndarray) -> FoldSplit:
    """Train on everything outside `held_out` (a boolean mask), validate on it."""
    train_idx = torch.from_numpy(np.flatnonzero(~held_out)).to(images.device)
    held_idx = torch.from_numpy(np.flatnonzero(held_out)).to(images.device)
    return FoldSplit(
        images.index_select(0, train_idx),
        labels.index_select(0, train_idx),
        images.index_select(0, held_idx),
        labels.index_select(0, held_idx),
    )


def out_of_fold(
    build: Callable[[TrainConfig, torch.device], tuple[Model, LossFn, Optimizer]],
    cfg: TrainConfig,
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
    return OutOfFold(
        probabilities,
        folds,
        accuracy,
        time.perf_counter() - start,
        auditor=getattr(build, "__module__", "").rsplit(".", 1)[-1],
        recipe=cfg.recipe(),
        accuracy=overall_accuracy(probabilities, label_array),
    )


def overall_accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Share of images whose most probable class is their given label."""
    return float((probabilities.argmax(axis=1) == labels).mean()) if len(labels) else float("nan")


def audit_out_of_fold(
    auditor: str,
    cfg: TrainConfig,
    images: torch.Tensor,
    labels: torch.Tensor,
    k: int,
    progress: bool | None = None,
    recipe: Recipe | None = None,
) -> OutOfFold:
    """Out-of-fold probabilities from the auditor named `auditor` (a key of AUDITORS) for uint8
    (N, 28, 28) `images` and their (N,) `labels`, on images.device.

    Folds are stratified and seeded by cfg.seed. Every fold model starts from the same seed and
    trains on its K-1 folds only, then scores the fold it held out. The recipe is the auditor's
    own seeded by cfg.seed (linear: cfg's recipe, what the run exports), or `recipe` when given.
    progress=None shows one bar over fold x epoch on a terminal only; False: none.
    """
    if auditor not in AUDITORS:
        raise TrainingError(f"unknown auditor {auditor!r}; expected one of {', '.join(AUDITORS)}")
    chosen = AUDITORS[auditor]
    recipe = chosen.recipe_for(cfg) if recipe is None else recipe
    label_array, labels = labels.cpu().numpy(), labels.to(images.device)
    folds = stratified_folds(label_array, k, cfg.seed)
    probabilities = np.empty((len(label_array), NUM_CLASSES), dtype=np.float32)
    accuracy = []
    start = time.perf_counter()
    bar = tqdm(
        total=k * recipe.epochs,
        desc=f"{k}-fold {auditor} auditor",
        unit="epoch",
        disable=None if progress is None else not progress,
    )
    try:
        for fold in range(k):
            held_out = folds == fold
            split = fold_split(images, labels, held_out)

            def on_epoch(epoch: int, loss: float, fold: int = fold) -> None:
                bar.update()
                bar.set_postfix(fold=f"{fold + 1}/{k}", loss=f"{loss:.3f}")

            torch.manual_seed(recipe.seed)  # every fold model starts from the same init
            model = chosen.build(images.device)
            try:
                chosen.train(model, split.train_images, split.train_labels, recipe, on_epoch)  # K-1 folds only
            except TrainingError as e:
                raise TrainingError(f"cross-validation fold {fold + 1} of {k} ({auditor} auditor): {e}") from None
            probabilities[held_out] = predict_probabilities(model, split.val_images)
            accuracy.append(overall_accuracy(probabilities[held_out], label_array[held_out]))
            bar.set_postfix(fold=f"{fold + 1}/{k}", held_out_acc=f"{accuracy[-1]:.3f}")
    finally:
        bar.close()
    return OutOfFold(
        probabilities,
        folds,
        accuracy,
        time.perf_counter() - start,
        auditor=auditor,
        recipe=dataclasses.asdict(recipe),
        accuracy=overall_accuracy(probabilities, label_array),
    )
