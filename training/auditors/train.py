"""The one training loop every auditor shares: seeded minibatch SGD over a recipe.

The epoch itself is `training.loop.train_epoch`, the deployed model's, so the linear auditor
trained with the run's recipe is the concise variant step for step (same init, same batch order,
same learning rates) and gives the same probabilities `out_of_fold` gave. A recipe is any object
with the fields below (each auditor's file defines its own dataclass).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import Field
from typing import Any, ClassVar, Protocol

import torch
from torch import nn
from torch.nn import functional as F

from training.loop import DivergenceGuard, lr_at, train_epoch


class Recipe(Protocol):
    """The fields the loop reads. Every recipe is a (mutable) dataclass, so that the report can
    record its fields as they are (dataclasses.asdict)."""

    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]
    epochs: int
    batch_size: int
    lr: float
    momentum: float
    nesterov: bool
    weight_decay: float
    schedule: str
    seed: int


def make_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """SGD as the recipe says; nesterov needs momentum, so the linear recipe (momentum 0) has it off."""
    return torch.optim.SGD(
        model.parameters(),
        lr=recipe.lr,
        momentum=recipe.momentum,
        weight_decay=recipe.weight_decay,
        nesterov=recipe.nesterov,
    )


def train(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    recipe: Recipe,
    on_epoch: Callable[[int, float], None] | None = None,
) -> list[float]:
    """recipe.epochs passes over uint8 (N, 28, 28) `images` and their (N,) `labels`; calls
    on_epoch(epoch, mean loss) after each. The caller seeded torch before building `model`
    (as `fit` expects too); the batch order is seeded by recipe.seed, as in `fit`."""
    optimizer = make_optimizer(model, recipe)
    generator = torch.Generator().manual_seed(recipe.seed)
    total_steps = recipe.epochs * math.ceil(len(images) / recipe.batch_size)
    lrs = (lr_at(s, total_steps, recipe.lr, recipe.schedule) for s in range(total_steps))
    guard, losses = DivergenceGuard(), list[float]()
    for epoch in range(recipe.epochs):
        loss = train_epoch(model, F.cross_entropy, optimizer, images, labels, recipe.batch_size, generator, lrs, guard)
        losses.append(loss)
        if on_epoch is not None:
            on_epoch(epoch, loss)
    return losses
