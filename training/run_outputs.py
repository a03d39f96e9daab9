"""What a run leaves beside its model: each variant's weights, the history and the curves.

They go into the version's own folder (or an unexported run's), which Triton never reads.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from pathlib import Path

import torch

from inference.core.atomic_write import atomic_write
from inference.core.model_repository import CURVES_FILE, HISTORY_FILE, model_dir, weights_file
from training.config import TrainConfig
from training.data import Data
from training.plot import curves_png
from training.variant_training import Result


def weights_bytes(result: Result) -> bytes:
    """The variant's parameters as plain tensors: loads with torch.load(weights_only=True)."""
    state = {k: v.detach().cpu().contiguous() for k, v in result.model.state_dict().items()}
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def history_record(cfg: TrainConfig, data: Data, results: list[Result], model_file: Path | None) -> dict[str, object]:
    """history.json: the data, the recipe and the per-epoch numbers; `model` names the version the
    run exported (relative to the model's folder), None when it exported none."""
    return {
        "dataset_sha256": data.digest,
        "model": model_file and model_file.relative_to(model_dir(cfg.out)).as_posix(),
        "validation": f"{len(data.val_labels)} held-out training images" if cfg.val_split else "test set",
        "recipe": cfg.recipe(),
        "corrections": data.corrections and data.corrections.record(),
        "variants": {
            r.variant: {
                **asdict(r.history),
                "test_loss": r.test_loss,
                "test_acc": r.test_acc,
                "test_acc_corrected": r.test_acc_corrected,
                "seconds": r.seconds,
                "temperature": r.calibration.temperature,
                "ece_test_before": r.calibration.test_before.ece,
                "ece_test_after": r.calibration.test_after.ece,
            }
            for r in results
        },
    }


def save_outputs(cfg: TrainConfig, data: Data, results: list[Result], folder: Path, model_file: Path | None) -> None:
    """Weights, history and plot of this run into its own `folder` (the version's folder; Triton
    reads none of them); history.json names the version the run exported (`model_file`), if any."""
    for r in results:
        atomic_write(weights_file(folder, r.variant), weights_bytes(r))
    history = history_record(cfg, data, results, model_file)
    atomic_write(folder / HISTORY_FILE, json.dumps(history, indent=2).encode())
    atomic_write(
        folder / CURVES_FILE,
        curves_png({r.variant: r.history for r in results}, {r.variant: r.calibration for r in results}),
    )
