"""Softmax regression the concise way: nn.Linear on flattened pixels, F.cross_entropy on logits.

Follows the seed's "Concise Implementation". The model returns logits; F.cross_entropy fuses
softmax and log (log-sum-exp), which is why it stays finite where a naive softmax overflows.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from training.config import TrainConfig
from training.loop import LossFn

NUM_INPUTS, NUM_OUTPUTS = 28 * 28, 10


def make_model() -> nn.Sequential:
    # Linear rather than the seed's LazyLinear: the input size is known, and a materialised
    # layer exports and loads without a dummy forward pass.
    return nn.Sequential(nn.Flatten(), nn.Linear(NUM_INPUTS, NUM_OUTPUTS))  # (N, 28, 28) -> (N, 10)


def build(cfg: TrainConfig, device: torch.device) -> tuple[nn.Sequential, LossFn, torch.optim.SGD]:
    """(model, loss function, optimizer) for the shared training loop; the caller seeds torch."""
    model = make_model().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return model, F.cross_entropy, optimizer
