"""Softmax regression from scratch: plain tensors, our own softmax, cross-entropy and SGD.

Follows the seed's "Implementation from Scratch", with one change the seed itself warns about:
its softmax `exp(X) / exp(X).sum()` overflows for large logits, so both functions below subtract
the row maximum first (log-sum-exp), which leaves the result unchanged mathematically.
No nn.Module, no torch.optim, no F.cross_entropy in this file.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from training.config import TrainConfig
from training.loop import LossFn

NUM_INPUTS, NUM_OUTPUTS = 28 * 28, 10


def row_max(logits: torch.Tensor) -> torch.Tensor:
    """(N, 10) -> (N, 1) row maxima, detached: softmax ignores a constant shift, so the shift
    needs no gradient of its own (and amax skips the argmax that .max() also computes)."""
    return logits.amax(dim=1, keepdim=True).detach()


def softmax(logits: torch.Tensor) -> torch.Tensor:
    """Row-wise softmax, stable for logits of any size: exp(o - max o) / sum exp(o - max o)."""
    shifted = logits - row_max(logits)  # largest term becomes exp(0) = 1
    exp = torch.exp(shifted)
    return exp / exp.sum(dim=1, keepdim=True)


def log_softmax(logits: torch.Tensor) -> torch.Tensor:
    """log softmax = o - max o - log sum exp(o - max o): no exp of anything positive, no log(0)."""
    shifted = logits - row_max(logits)
    return shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean negative log-probability of the true class, picked by indexing as the seed shows.

    Takes logits rather than probabilities so the log never sees an underflowed 0.
    """
    log_probs = log_softmax(logits)  # (N, 10)
    return -log_probs[torch.arange(len(log_probs), device=log_probs.device), y].mean()


class SoftmaxRegressionScratch:
    """W (784x10, Gaussian sigma) and b (zeros) as plain tensors; forward returns logits."""

    def __init__(self, sigma: float = 0.01, device: str | torch.device = "cpu"):
        # W is (784, 10) as in the seed, but stored as the transpose of a (10, 784) tensor: BLAS
        # then runs X @ W and the gradient X.T @ G on contiguous rows, about 2x faster on CPU.
        self.W = torch.normal(0, sigma, size=(NUM_OUTPUTS, NUM_INPUTS)).to(device).t()
        self.b = torch.zeros(NUM_OUTPUTS, device=device)
        self.W.requires_grad_(True)
        self.b.requires_grad_(True)

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        X = X.reshape(-1, NUM_INPUTS)  # (N, 28, 28) -> (N, 784)
        # X @ W, computed as (W.T @ X.T).T: with 10 outputs MKL runs this operand order about
        # 1.6x faster on CPU, and the result is the same (N, 10) logits.
        return (self.W.T @ X.T).T + self.b

    def parameters(self) -> list[torch.Tensor]:
        return [self.W, self.b]

    # No dropout or batch norm here, so the phases change nothing; they exist so that the one
    # training loop can say model.train() / model.eval() to either variant.
    def train(self) -> SoftmaxRegressionScratch:
        return self

    def eval(self) -> SoftmaxRegressionScratch:
        return self

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"W": self.W.detach().clone(), "b": self.b.detach().clone()}


class SGD:
    """Minibatch SGD with optional momentum and weight decay, the update torch.optim.SGD makes.

    v <- momentum * v + (grad + weight_decay * p);  p <- p - lr * v
    `param_groups` has torch.optim's shape so the shared loop can set the learning rate
    of either variant's optimizer the same way.
    """

    def __init__(self, params: Iterable[torch.Tensor], lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        self.params = list(params)
        self.param_groups: list[dict[str, float]] = [{"lr": lr, "momentum": momentum, "weight_decay": weight_decay}]
        self.velocity: list[torch.Tensor | None] = [None] * len(self.params)

    @torch.no_grad()
    def step(self) -> None:
        group = self.param_groups[0]
        for i, p in enumerate(self.params):
            grad = p.grad
            if grad is None:  # a parameter the loss did not reach: nothing to update
                continue
            if group["weight_decay"]:
                grad = grad + group["weight_decay"] * p
            if group["momentum"]:
                velocity = self.velocity[i]
                if velocity is None:
                    velocity = self.velocity[i] = grad.clone()
                else:
                    velocity.mul_(group["momentum"]).add_(grad)
                grad = velocity
            p.sub_(group["lr"] * grad)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None


def build(cfg: TrainConfig, device: torch.device) -> tuple[SoftmaxRegressionScratch, LossFn, SGD]:
    """(model, loss function, optimizer) for the shared training loop; the caller seeds torch."""
    model = SoftmaxRegressionScratch(cfg.sigma, device)
    optimizer = SGD(model.parameters(), cfg.lr, cfg.momentum, cfg.weight_decay)
    return model, cross_entropy, optimizer
