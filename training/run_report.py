"""What one train-and-export run did, as data: `run` fills it in, `main` prints it.

Filled in step by step, so that a run that fails part-way (a full disk at the export) still
shows the steps it completed before its one-line error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from training.variant_training import Result


@dataclass(frozen=True)
class Earlier:
    """The newest version before this run, so a worse new model never becomes the one served silently."""

    version: int | None  # None: this run makes the first version
    accuracy: float | None  # None: that version's metadata records no accuracy


@dataclass(frozen=True)
class Export:
    """The concise model as the new version."""

    model_file: Path
    version: int
    max_diff: float  # max |Δp| of onnxruntime against PyTorch on the test set


@dataclass
class RunReport:
    data: str  # the data line (and the corrections used): what trains, before the long training
    results: list[Result] = field(default_factory=list)  # one per variant, once all have trained
    calibration_held_out: int | None = None  # with --calibrate: the held-out images T was fitted on
    earlier: Earlier | None = None  # set once the concise variant has trained, before its export
    export: Export | None = None
    folder: Path | None = None  # where the weights, history and curves went, once written
    label_issues: str | None = None  # with --cross-val or --pred-probs: the report's summary
    next_step: str | None = None  # the last line: what to run next

    def by_variant(self) -> dict[str, Result]:
        return {r.variant: r for r in self.results}
