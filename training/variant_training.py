"""One variant trained and measured: its history, test accuracy and calibration, and the model.

Both variants go through `train_variant` with the same seed, so their numbers compare like for
like; `fit` is a parameter so that a test can spy on the final model's training.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from training import softmax_concise, softmax_scratch
from training.calibration import Calibration, calibrate
from training.config import TrainConfig
from training.data import Data
from training.errors import TrainingError
from training.loop import History, LossFn, Model, Optimizer, Splits, evaluate, fit
from training.softmax_scratch import SoftmaxRegressionScratch

VariantModel = SoftmaxRegressionScratch | nn.Sequential
Builder = Callable[[TrainConfig, torch.device], tuple[VariantModel, LossFn, Optimizer]]
BUILDERS: dict[str, Builder] = {"scratch": softmax_scratch.build, "concise": softmax_concise.build}


class FitModel(Protocol):
    """`fit`'s signature, for a spy or a stand-in that trains the same way."""

    def __call__(
        self, model: Model, loss_fn: LossFn, optimizer: Optimizer, data: Splits, cfg: TrainConfig, desc: str = ""
    ) -> History: ...


@dataclass
class Result:
    variant: str
    history: History
    test_loss: float
    test_acc: float
    seconds: float  # training time alone, without data loading or export
    model: VariantModel
    calibration: Calibration  # the test ECE, and T with --calibrate
    test_acc_corrected: float | None = None  # against the corrected test labels (--corrections)


def resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("--device cuda was asked for, but torch sees no CUDA GPU; use --device cpu")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def train_variant(
    variant: str, cfg: TrainConfig, data: Data, device: torch.device, fit_model: FitModel = fit
) -> Result:
    torch.manual_seed(cfg.seed)  # same seed -> same init and same batches for either variant
    model, loss_fn, optimizer = BUILDERS[variant](cfg, device)
    start = time.perf_counter()
    try:
        history = fit_model(model, loss_fn, optimizer, data, cfg, desc=variant)  # the bar, on stderr, names it
    except TrainingError as e:
        raise TrainingError(f"{variant}: {e}; nothing was exported") from None
    seconds = time.perf_counter() - start
    test_loss, test_acc = evaluate(model, loss_fn, data.test_images, data.test_labels)
    corrected = evaluate(model, loss_fn, *data.corrected_test)[1] if data.corrected_test else None
    try:
        calibration = calibrate(model, data, fit=cfg.calibrate)
    except TrainingError as e:
        raise TrainingError(f"{variant}: {e}; nothing was exported") from None
    return Result(variant, history, test_loss, test_acc, seconds, model, calibration, corrected)
