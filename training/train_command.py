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
from dataclasses import dataclass, fields
from pathlib import Path

import onnx
import torch
from torch import nn

from inference.core.command_line import OneLineParser, finite_float, int_in, os_error_text, run_command
from inference.core.corrections_store import CorrectionsStore, default_path
from inference.core.fashion_mnist import SPLITS
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
from training.config import DEVICES, SCHEDULES, VARIANTS, TrainConfig
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
from training.variant_training import FitModel, Result, resolve_device, train_variant

TRAIN_IMAGES = SPLITS["train"][2]
MAX_EPOCHS = 10_000  # an epoch takes 1-2 s on a CPU; 10,000 is hours, more is a typo
MAX_SEED = 2**64 - 1  # the largest seed torch.manual_seed takes
MAX_FOLDS = 100  # each fold is one more training run: 100 is already 100 runs, more is a typo


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


def parse_args(argv: list[str] | None) -> TrainConfig:
    d = TrainConfig()
    p = OneLineParser(prog="train-and-export", description=__doc__.split("\n")[0])
    p.add_argument("--variant", choices=(*VARIANTS, "both"), default=d.variant)
    p.add_argument("--epochs", type=int_in(1, MAX_EPOCHS), default=d.epochs)
    # Larger than the training set is the whole set anyway.
    p.add_argument("--batch-size", type=int_in(1, TRAIN_IMAGES), default=d.batch_size)
    p.add_argument("--lr", type=finite_float(0, low_open=True), default=d.lr, help="learning rate (peak for one-cycle)")
    # At 1 the velocity never decays and SGD does not settle.
    p.add_argument("--momentum", type=finite_float(0, 1, high_open=True), default=d.momentum)
    p.add_argument("--weight-decay", type=finite_float(0), default=d.weight_decay)
    p.add_argument("--schedule", choices=SCHEDULES, default=d.schedule)
    p.add_argument(
        "--val-split",
        type=int_in(0, TRAIN_IMAGES - 1),
        default=d.val_split,
        help="hold out N training images for validation (0: validate on the test set)",
    )
    p.add_argument(
        "--sigma", type=finite_float(0, low_open=True), default=d.sigma, help="std of the scratch model's init"
    )
    # Negative seeds would wrap around to the same generator states as large ones.
    p.add_argument("--seed", type=int_in(0, MAX_SEED), default=d.seed)
    p.add_argument("--device", choices=DEVICES, default=d.device)
    p.add_argument("--out", default=d.out, help="model repository to write (default: models)")
    p.add_argument("--data-dir", default=d.data_dir, help="folder with the four Fashion-MNIST IDX files")
    p.add_argument("--download", action="store_true", help="download with torchvision if not found locally")
    p.add_argument(
        "--cross-val",
        type=int_in(0, MAX_FOLDS),
        default=d.cross_val,
        metavar="K",
        help="also rank suspected label errors from K-fold out-of-fold probabilities (needs cleanlab)",
    )
    p.add_argument(
        "--auditor",
        choices=auditor_names(),
        default=d.auditor,
        help="the model --cross-val trains K times to rank label issues (default: "
        f"{default_auditor()}); it is never exported",
    )
    p.add_argument(
        "--pred-probs",
        default=d.pred_probs,
        metavar="FILE.npy",
        help="rank label issues with your own (60000, 10) training-split probabilities instead of "
        "--cross-val's K training runs (needs cleanlab)",
    )
    p.add_argument(
        "--corrections",
        nargs="?",
        const=str(default_path()),
        default=d.corrections,
        metavar="PATH",
        help=f"train with the labeler's verdicts applied (PATH left out: {default_path()})",
    )
    p.add_argument(
        "--calibrate",
        action="store_true",
        help="fit a temperature T on the validation split (needs --val-split N > 0); "
        "exported probabilities = softmax(logits / T)",
    )
    args = p.parse_args(argv)
    if args.calibrate and args.val_split == 0:
        p.error(
            "argument --calibrate: needs --val-split N > 0 (with 0 the validation split is the test set, "
            "and a T fitted on it would flatter the test ECE); e.g. --val-split 10000"
        )
    if args.cross_val == 1:
        p.error(
            "argument --cross-val: expected 0 (off) or 2 to 100 folds, got 1 "
            "(each fold model must train on the other folds)"
        )
    if args.pred_probs is not None and args.cross_val:
        p.error(
            "argument --pred-probs: replaces --cross-val's out-of-fold step, so give one of them, not both "
            f"(--pred-probs {args.pred_probs} or --cross-val {args.cross_val})"
        )
    if args.auditor is not None and args.pred_probs is not None:
        p.error(
            f"argument --auditor: --pred-probs {args.pred_probs} brings its own probabilities, so no auditor "
            f"is trained; drop --auditor {args.auditor}"
        )
    if args.auditor is not None and not args.cross_val:
        p.error(
            f"argument --auditor: the auditor is what --cross-val K trains; add --cross-val 5 to use "
            f"--auditor {args.auditor}"
        )
    return TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})


def auditor_names() -> list[str]:
    from training.auditors import AUDITORS

    return sorted(AUDITORS)


def default_auditor() -> str:
    from training.auditors import DEFAULT_AUDITOR

    return DEFAULT_AUDITOR


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
