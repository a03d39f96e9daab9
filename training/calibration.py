"""Temperature scaling: one T, fitted on held-out data, so that softmax(logits / T) means what it says.

Dividing every logit by the same T > 0 changes no prediction (the argmax stays), only how sure
each one is (Guo et al. 2017). T is the minimiser of the negative log-likelihood on data the
model was not trained on; fitted on the test set it would flatter the test ECE it reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from inference.core.calibration import ReliabilityBins, reliability_bins
from training.data import Data
from training.errors import TrainingError
from training.loop import EVAL_BATCH, Model, scale

# A softmax regression lands near 1 (measured 0.88-1.02 over the seed and tuned recipes). T outside
# these bounds means the held-out split cannot tell: every prediction in it right (NLL falls
# forever as T -> 0) or nearly every one wrong.
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.05, 20.0
# The fit must be a real minimum: NLL higher at T * e^(+-0.05) than at T. Where every held-out
# prediction is right the NLL only flattens as T falls (at T = 0.17 its slope was 5e-11 on 100
# such images) and LBFGS stops on the flat, not at a minimum.
NEIGHBOUR_STEP = 0.05


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """T > 0 minimising the mean NLL of softmax(logits / T) against labels; logits (N, C), labels (N,).

    LBFGS with a strong-Wolfe line search on log T: positive by construction, and the NLL is
    smooth and unimodal in it (convex in 1/T), so it converges in a handful of steps where a
    grid would only get as close as its spacing. Computed in float64 on the CPU: N x C numbers.
    """
    if logits.ndim != 2 or len(logits) == 0 or labels.shape != (len(logits),):
        raise TrainingError(
            f"fit_temperature needs logits (N, classes) and labels (N,) with N >= 1, "
            f"got {tuple(logits.shape)} and {tuple(labels.shape)}"
        )
    z = logits.detach().to("cpu", torch.float64)
    y = labels.detach().to("cpu", torch.int64)
    if not torch.isfinite(z).all():
        raise TrainingError("cannot fit a temperature: the logits contain NaN or infinity")
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)  # start at T = 1, no change
    optimizer = torch.optim.LBFGS(
        [log_t], lr=1.0, max_iter=100, tolerance_grad=1e-10, tolerance_change=1e-14, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(z / log_t.exp(), y)  # (N, C) -> mean NLL
        loss.backward()
        return loss

    optimizer.step(closure)
    temperature = math.exp(log_t.item())
    with torch.no_grad():
        best, below, above = (
            F.cross_entropy(z / (temperature * math.exp(s)), y).item() for s in (0.0, -NEIGHBOUR_STEP, NEIGHBOUR_STEP)
        )
    in_range = MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE  # NaN fails this too
    if not (in_range and best < below and best < above):
        raise TrainingError(
            f"no temperature from {MIN_TEMPERATURE} to {MAX_TEMPERATURE} fits the {len(y)} held-out images "
            f"(the fit stopped at T = {temperature:.3g}, not at a minimum of the NLL): nearly all of them are "
            "predicted right, or wrong; hold out more images with --val-split"
        )
    return temperature


@dataclass(frozen=True)
class Calibration:
    """What temperature scaling did to one trained model, measured on the test set."""

    temperature: float  # 1.0 when none was fitted
    test_before: ReliabilityBins  # softmax(logits)
    test_after: ReliabilityBins  # softmax(logits / temperature)


@torch.no_grad()
def split_logits(model: Model, images: torch.Tensor) -> torch.Tensor:
    """(N, 28, 28) uint8 -> (N, 10) logits, in EVAL_BATCH slices as `evaluate` runs them."""
    model.eval()
    return torch.cat([model(scale(images[start : start + EVAL_BATCH])) for start in range(0, len(images), EVAL_BATCH)])


def calibrate(model: Model, data: Data, fit: bool) -> Calibration:
    """With `fit`, T from the validation split by NLL; without, T = 1. Either way the test ECE
    before and after, so every run reports how far its confidence can be trusted.

    `data` is training's Data. A validation split that is the test set (--val-split 0) is
    refused: T would be fitted on the images its ECE is then reported on.
    """
    if fit and data.val_images is data.test_images:
        raise TrainingError(
            "--calibrate fits the temperature on the validation split, which with --val-split 0 is the "
            "test set it is then judged on; hold out training images instead, e.g. --val-split 10000"
        )
    temperature = fit_temperature(split_logits(model, data.val_images), data.val_labels) if fit else 1.0
    logits = split_logits(model, data.test_images)
    labels = data.test_labels.cpu().numpy()
    before = reliability_bins(torch.softmax(logits, dim=1).cpu().numpy(), labels)
    after = reliability_bins(torch.softmax(logits / temperature, dim=1).cpu().numpy(), labels) if fit else before
    return Calibration(temperature, before, after)
