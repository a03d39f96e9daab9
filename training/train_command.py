"""`train-and-export`: fit both softmax-regression variants, export the concise one to ONNX.

    train-and-export                      # the seed's recipe, both variants, into models/
    train-and-export --val-split 10000 --epochs 30 --momentum 0.9 --schedule one-cycle
    train-and-export --cross-val 5        # also rank suspected label errors for the labeler
    train-and-export --cross-val 5 --auditor linear        # ... with another auditor
    train-and-export --pred-probs probs.npy                # ... with your own probabilities
    train-and-export --corrections --cross-val 5           # train with the labeler's verdicts, rank again

Each export is a new version of the model (models/fashion_mnist/1/, 2/, ...); none is overwritten.
The run's weights, history, curves and label-issue report go into that version's folder; the
last line printed is the next step (the labeler command for the version just made).
Exit codes: 0 trained and exported; 2 a bad flag, missing or corrupt data, an --out that
cannot be written, a missing corrections store or cleanlab, or a run that diverged (one line on
stderr, nothing exported); 130 interrupted (Ctrl-C), 143 terminated (SIGTERM), with no
half-written file left behind.
"""

from __future__ import annotations

import contextlib
import errno
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import onnx
import torch
from torch import nn

from inference.core.command_line import os_error_text, run_command
from inference.core.corrections import CorrectionsStore
from inference.core.model_repository import (
    check_writable,
    latest_model,
    model_dir,
    repository_of,
    run_folder_of,
    unexported_run_dir,
    weights_file,
    write_model,
)
from inference.core.next_steps import report_command, review_command
from training.config import TrainConfig
from training.corrections import open_store
from training.data import Data, prepare
from training.errors import TrainingError
from training.label_report import report_label_issues, require_cleanlab
from training.loop import fit
from training.onnx_export import metadata, recorded_accuracy, to_onnx, verify
from training.report_inputs import UserProbabilities, load_user_probabilities
from training.run_outputs import save_outputs
from training.run_report import Earlier, Export, RunReport
from training.run_summary import data_line, report_lines
from training.train_flags import TRAIN_IMAGES, parse_args
from training.variant_training import FitModel, Result, resolve_device, train_variant

PrepareData = Callable[[str | None, bool, int, int, torch.device, CorrectionsStore | None], Data]
TrainVariant = Callable[[str, TrainConfig, Data, torch.device, FitModel], Result]
VerifyExport = Callable[[onnx.ModelProto, nn.Module, torch.Tensor, float], float]  # -> max |Δp|
SaveOutputs = Callable[[TrainConfig, Data, list[Result], Path, Path | None], None]


@dataclass(frozen=True)
class Steps:
    """The steps of a run a test replaces (with a spy, or with one that fails), handed to `run`
    instead of patched into this module's names; the defaults are the real ones."""

    prepare: PrepareData = prepare
    train_variant: TrainVariant = train_variant
    fit: FitModel = fit  # what train_variant trains with
    verify: VerifyExport = verify
    save_outputs: SaveOutputs = save_outputs
    require_cleanlab: Callable[[], object] = require_cleanlab


REAL_STEPS = Steps()


def require_writable_out(out: str) -> None:
    """Fail before loading data or training when the model repository cannot be written."""
    try:
        check_writable(out)
    except (OSError, ValueError) as e:  # ValueError: a path with a NUL byte in it
        raise TrainingError(
            f"--out {out!r} cannot be written ({os_error_text(e)}); point --out at a folder you can write to"
        ) from None


def export_concise(cfg: TrainConfig, data: Data, result: Result, verify_export: VerifyExport = verify) -> Export:
    """The concise model as a new version, checked by `verify_export` against PyTorch first."""
    net = result.model
    if not isinstance(net, nn.Module):  # only the concise variant exports, and it is an nn.Module
        raise TrainingError(f"the {result.variant} variant cannot be exported; the concise one is exported")
    c = result.calibration
    meta = metadata("concise", result.test_acc, data.digest, cfg.recipe(), calibration=c)
    if data.corrections and result.test_acc_corrected is not None:  # both come with --corrections
        meta |= data.corrections.metadata(result.test_acc_corrected)
    model = to_onnx(net, data.test_images[:2], meta, c.temperature)  # a batch of 2 keeps the batch dim symbolic
    diff = verify_export(model, net, data.test_images, c.temperature)
    try:
        return Export(*write_model(cfg.out, model.SerializeToString()), diff)
    except OSError as e:  # a full disk, or a folder that changed since the check before training
        advice = (
            "free some space or choose another --out"
            if e.errno in (errno.ENOSPC, errno.EDQUOT)
            else f"check what is in {model_dir(cfg.out)} (another program may have changed it) or choose another --out"
        )
        raise TrainingError(
            f"could not write the model ({os_error_text(e)}); the earlier versions in {model_dir(cfg.out)} "
            f"are unchanged — {advice}"
        ) from None


def rank_label_issues(
    cfg: TrainConfig, data: Data, chosen: Result, folder: Path, model_file: Path, user: UserProbabilities | None
) -> str:
    """--cross-val K or --pred-probs for the exported variant (or the only one trained), tied to
    `model_file` and written into the run's `folder`."""
    try:
        return report_label_issues(cfg, data, chosen.model, folder, model_file, user)
    except OSError as e:
        raise TrainingError(
            f"could not write the label-issue report ({os_error_text(e)}); the model was saved as {model_file}"
        ) from None
    except TrainingError as e:
        raise TrainingError(
            f"{e}; the model was saved as {model_file}, its label-issue report was not written"
        ) from None


def next_step(cfg: TrainConfig, model_file: Path | None, reported: bool) -> str:
    """The last line: the labeler on the version just made, at its label issues when it has a
    report; else also how to make one."""
    store = cfg.corrections
    if model_file is None:
        return f"next, export a version to review (--variant concise or both): {report_command(cfg.out, store)}"
    review = review_command(model_file, "train", store, report=reported)
    if reported:
        return f"next, review version {model_file.parent.name}'s label issues: {review}"
    return (
        f"next, browse it with {review}; to rank its label issues too, export a version with a report: "
        f"{report_command(repository_of(model_file) or cfg.out, store)}"
    )


def describe_data(cfg: TrainConfig, data: Data, device: torch.device) -> str:
    """The data line, and the corrections applied to it (if any)."""
    val = f"{len(data.val_labels)} held-out training images" if cfg.val_split else "the test set"
    line = data_line(data.source, len(data.train_labels), val, len(data.test_labels), str(device))
    return f"{line}\n{data.corrections.describe()}" if data.corrections else line


def ignore(_: object) -> None:
    """The default for run's callbacks: a caller that does not print needs neither."""


def run(
    cfg: TrainConfig,
    steps: Steps = REAL_STEPS,
    on_data: Callable[[str], object] = ignore,
    on_failure: Callable[[RunReport], object] = ignore,
) -> RunReport:
    """Train, export, save and rank as `cfg` says; prints nothing. `on_data` gets the data line
    before the long training, so a person sees at once what trains; `on_failure` gets what the
    run completed before an error (or Ctrl-C), just before it propagates."""
    # First of all: a wrong --pred-probs file must fail in a second, before any training.
    user = load_user_probabilities(cfg.pred_probs, TRAIN_IMAGES) if cfg.pred_probs else None
    if cfg.cross_val or user:
        steps.require_cleanlab()  # next: a missing package must not cost a training run
    require_writable_out(cfg.out)
    previous = latest_model(cfg.out)  # the newest version before this run, to compare with
    device = resolve_device(cfg.device)
    store = open_store(cfg.corrections) if cfg.corrections else None  # before the data: a missing one costs nothing
    with store or contextlib.nullcontext():
        data = steps.prepare(cfg.data_dir, cfg.download, cfg.val_split, cfg.seed, device, store)
    report = RunReport(describe_data(cfg, data, device))
    on_data(report.data)
    try:
        train_export_and_save(cfg, steps, data, device, previous, user, report)
    except BaseException:
        on_failure(report)
        raise
    return report


def train_export_and_save(
    cfg: TrainConfig,
    steps: Steps,
    data: Data,
    device: torch.device,
    previous: tuple[Path, int] | None,
    user: UserProbabilities | None,
    report: RunReport,
) -> None:
    """The steps after the data has loaded, each recorded in `report` as it completes."""
    report.results = results = [steps.train_variant(v, cfg, data, device, steps.fit) for v in cfg.variants()]
    if cfg.calibrate:
        report.calibration_held_out = len(data.val_labels)
    concise = report.by_variant().get("concise")
    model_file = None
    if concise is not None:
        earlier = recorded_accuracy(previous[0]) if previous else None
        report.earlier = Earlier(previous and previous[1], earlier)
        report.export = export_concise(cfg, data, concise, steps.verify)
        model_file = report.export.model_file
    try:
        folder = run_folder_of(model_file) if model_file else unexported_run_dir(cfg.out)
    except OSError as e:
        raise TrainingError(
            f"could not make a folder for the run's weights, history and curves ({os_error_text(e)})"
        ) from None
    try:
        steps.save_outputs(cfg, data, results, folder, model_file)
    except BaseException as e:  # Ctrl-C and SIGTERM too: an unexported run leaves no empty folder behind
        if model_file is None:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if empty: whatever was completed stays
        if isinstance(e, OSError):
            raise TrainingError(f"could not write the weights, history and curves ({os_error_text(e)})") from None
        raise
    report.folder = folder
    if cfg.cross_val or user:
        chosen = concise or results[-1]
        report.label_issues = rank_label_issues(
            cfg, data, chosen, folder, model_file or weights_file(folder, chosen.variant), user
        )
    report.next_step = next_step(cfg, model_file, reported=bool(cfg.cross_val or user) and model_file is not None)


def main(argv: list[str] | None = None, steps: Steps = REAL_STEPS) -> int:
    """The command: `steps` are the real ones unless a test passes its own."""
    try:
        cfg = parse_args(argv)
    except SystemExit as e:  # argparse exits: 0 after --help, 2 after printing a bad flag's line
        return int(e.code or 0)

    def show(report: RunReport) -> None:
        for line in report_lines(report):
            print(line)

    def body() -> int:
        show(run(cfg, steps, on_data=print, on_failure=show))
        return 0

    return run_command(
        "train-and-export", body, errors=(TrainingError,), cleanup="; nothing half-written was left behind"
    )


if __name__ == "__main__":
    sys.exit(main())
