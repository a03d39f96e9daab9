"""The one training loop both variants share (the seed reuses one `fit` for both).

Data stays on the device as one uint8 tensor; each step slices a shuffled batch and scales it
to [0, 1] here, in the batch step. That replaces the seed's per-item ToTensor + DataLoader,
which spends most of an epoch converting single images in Python.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from tqdm import tqdm

from training.config import TrainConfig
from training.errors import TrainingError

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (logits (N, 10), labels (N,)) -> scalar loss


class Model(Protocol):
    """What the loop asks of a model: the scratch class and an nn.Module both have it."""

    def __call__(self, X: torch.Tensor) -> torch.Tensor: ...
    def train(self) -> object: ...
    def eval(self) -> object: ...
    def parameters(self) -> Iterable[torch.Tensor]: ...
    def state_dict(self) -> Mapping[str, Any]: ...


class Optimizer(Protocol):
    """What the loop asks of an optimizer: the scratch SGD and torch.optim's both have it."""

    # Read-only here, so that torch's list[dict[str, Any]] and the scratch SGD's floats both fit.
    @property
    def param_groups(self) -> Sequence[MutableMapping[str, Any]]: ...
    def zero_grad(self) -> None: ...
    def step(self) -> object: ...


class Splits(Protocol):
    """The four tensors `fit` reads: `Data` and a cross-validation fold both have them."""

    @property
    def train_images(self) -> torch.Tensor: ...
    @property
    def train_labels(self) -> torch.Tensor: ...
    @property
    def val_images(self) -> torch.Tensor: ...
    @property
    def val_labels(self) -> torch.Tensor: ...


# Evaluation slices: 1024 x 784 floats (3 MB) stay in cache and reuse the allocator's blocks;
# one 10,000-image slice (31 MB) is a fresh mapping each time and was 4x slower (page faults).
EVAL_BATCH = 1024

# A loss can run away and stay finite: a linear model's logits grow with the rate, so at
# --lr 1e6 the loss reaches millions while argmax accuracy (still ~0.77) hides it. Measured
# on Fashion-MNIST (batch 256, two epochs, both variants): at lr 1 the running loss peaks at
# 4x its start and the run still reaches 0.78; at lr 3 it passes 15x and ends at a loss of 5,
# ten times the lr 0.1 run's 0.5. 10x sits between the two. Relative to the start rather than
# an absolute bound near ln 10 = 2.3, because a scratch model with a large --sigma starts high
# (177 at sigma 10) and still comes down.
DIVERGED_FACTOR = 10
# The running loss is an exponential average over about 10 batches: at lr 1 single batches
# reach 10x the start while the run learns; the average keeps one bad batch from stopping it.
SMOOTHING = 0.9


def scale(images: torch.Tensor) -> torch.Tensor:
    """uint8 pixels (N, 28, 28) -> float32 in [0, 1], the only scaling the training path does."""
    return images.div(255.0)  # true division promotes uint8 to float32 in one pass


def lr_at(step: int, total_steps: int, peak_lr: float, schedule: str) -> float:
    """Learning rate for a step. one-cycle: warm up from peak/25 over the first 30% of steps,
    then cosine-anneal to peak/25e4 (OneCycleLR's defaults), which lets a high peak rate with
    momentum settle into a better minimum than a constant rate."""
    if schedule == "constant":
        return peak_lr
    warmup = max(1, int(0.3 * total_steps))
    start, end = peak_lr / 25, peak_lr / 25e4
    if step < warmup:
        t = step / warmup
        return peak_lr + (start - peak_lr) * (1 + math.cos(math.pi * t)) / 2
    t = (step - warmup) / max(1, total_steps - warmup)
    return end + (peak_lr - end) * (1 + math.cos(math.pi * t)) / 2


def set_lr(optimizer: Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


class DivergenceGuard:
    """Stops a run whose batch loss turns NaN or infinite, or whose running loss climbs past
    DIVERGED_FACTOR times the first batch's loss; one guard lives for all epochs of a run."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.running = 0.0

    def check(self, loss: float, lr: float, where: str) -> None:
        if not math.isfinite(loss):
            raise TrainingError(
                f"training loss became {loss} at {where}; the learning rate {lr:g} "
                f"is too high for this setup — lower --lr"
            )
        if self.first is None:
            self.first = self.running = loss
        self.running = SMOOTHING * self.running + (1 - SMOOTHING) * loss
        if self.running > DIVERGED_FACTOR * self.first:
            raise TrainingError(
                f"training loss became {self.running:.3g} (running average) at {where}, over "
                f"{DIVERGED_FACTOR}x the first batch's {self.first:.3g}: it diverges; the learning "
                f"rate {lr:g} is too high for this setup — lower --lr"
            )


def train_epoch(
    model: Model,
    loss_fn: LossFn,
    optimizer: Optimizer,
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
    lrs: Iterator[float],
    guard: DivergenceGuard,
) -> float:
    """One pass over shuffled minibatches; returns the mean training loss.

    `lrs` yields the learning rate for each step, so the schedule lives outside the loop body;
    `guard` (a DivergenceGuard) sees every batch's loss before the step that loss would drive.
    """
    model.train()
    n = len(images)
    order = torch.randperm(n, generator=generator).to(images.device)
    total = 0.0
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        # index_select, not images[idx]: the advanced-indexing path is ~9x slower on CPU.
        X, y = scale(images.index_select(0, idx)), labels.index_select(0, idx)  # (B, 28, 28) -> float
        set_lr(optimizer, next(lrs))
        loss = loss_fn(model(X), y)
        value = loss.item()
        guard.check(value, optimizer.param_groups[0]["lr"], f"example {start} of {n}")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += value * len(idx)
    return total / n


@torch.no_grad()
def evaluate(model: Model, loss_fn: LossFn, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """(mean loss, accuracy) over a whole split."""
    model.eval()
    loss_sum, correct = 0.0, 0
    for start in range(0, len(images), EVAL_BATCH):
        X, y = scale(images[start : start + EVAL_BATCH]), labels[start : start + EVAL_BATCH]
        logits = model(X)  # (B, 10)
        loss_sum += loss_fn(logits, y).item() * len(y)
        correct += int((logits.argmax(dim=1) == y).sum().item())
    return loss_sum / len(images), correct / len(images)


@dataclass
class History:
    """Per epoch: train loss, validation loss, validation accuracy (what the seed's plot shows)."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)


def fit(
    model: Model,
    loss_fn: LossFn,
    optimizer: Optimizer,
    data: Splits,
    cfg: TrainConfig,
    desc: str = "",
    progress: bool | None = None,
) -> History:
    """Train for cfg.epochs, evaluating on the validation split after each epoch.

    progress=None shows the bar on a terminal only, so logs and CI stay clean.
    """
    generator = torch.Generator().manual_seed(cfg.seed)
    steps_per_epoch = math.ceil(len(data.train_images) / cfg.batch_size)
    total_steps = cfg.epochs * steps_per_epoch
    lrs = (lr_at(s, total_steps, cfg.lr, cfg.schedule) for s in range(total_steps))
    history, guard = History(), DivergenceGuard()
    bar = tqdm(range(cfg.epochs), desc=desc, unit="epoch", disable=None if progress is None else not progress)
    for _ in bar:
        train_loss = train_epoch(
            model, loss_fn, optimizer, data.train_images, data.train_labels, cfg.batch_size, generator, lrs, guard
        )
        val_loss, val_acc = evaluate(model, loss_fn, data.val_images, data.val_labels)
        if not math.isfinite(val_loss):
            raise TrainingError(f"validation loss became {val_loss}; lower --lr")
        history.train_loss.append(train_loss)
        history.val_loss.append(val_loss)
        history.val_acc.append(val_acc)
        bar.set_postfix(loss=f"{train_loss:.3f}", val_acc=f"{val_acc:.3f}")
    return history
