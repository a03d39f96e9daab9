"""What both APIs of one app share: the served model, its statistics and metrics, the admission
limits, the worker slots that score, and the JSON worker processes. One per `create_app`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import anyio
import numpy as np

from inference.adapters.admission import Admission
from inference.adapters.inference_stats import InferenceStats, Timing
from inference.adapters.json_offload import JsonOffload
from inference.adapters.serve_metrics import Metrics
from inference.adapters.serve_settings import ServeSettings
from inference.adapters.served_models import ServedModel
from inference.core.errors import ModelError
from inference.core.model_contract import PROBABILITIES
from inference.core.predictor import Predictor


@dataclass
class Service:
    model: ServedModel
    settings: ServeSettings
    stats: InferenceStats = field(init=False)
    metrics: Metrics = field(init=False)
    admission: Admission = field(init=False)
    offload: JsonOffload = field(init=False)
    slots: anyio.CapacityLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.stats = InferenceStats(self.model.name)
        self.stats.track(self.model.files)
        self.metrics = Metrics(self.stats)
        self.admission = Admission(self.settings)
        self.offload = JsonOffload(self.settings.json_workers)
        # Its own limiter, not the default thread pool's: a flood of slow decodes waits here while
        # the default pool's threads stay free for everything else.
        self.slots = anyio.CapacityLimiter(self.settings.decode_slots)


def scored(predictor: Predictor, images: np.ndarray, outputs: Iterable[str], timing: Timing) -> dict[str, np.ndarray]:
    """The asked-for outputs, (N, 10) float32 each; ModelError rather than NaN or infinity, which
    JSON cannot carry and no client should read as a probability."""
    t0 = time.perf_counter_ns()
    tensors = {}
    for name in outputs:
        values = predictor.predict_proba(images) if name == PROBABILITIES else predictor.logits(images)
        if not np.isfinite(values).all():
            raise ModelError(
                f"{predictor.path} gave NaN or infinity in {name} for {int((~np.isfinite(values)).any(axis=1).sum())} "
                "of the images; the model is broken: export it again with train-and-export"
            )
        tensors[name] = values
    timing.compute_infer = time.perf_counter_ns() - t0
    return tensors
