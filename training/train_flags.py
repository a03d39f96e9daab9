"""train-and-export's flags: each maps to one TrainConfig field, and a value or a combination
that cannot work is refused here, in one line, before anything is read or trained."""

from __future__ import annotations

from dataclasses import fields

from inference.core.command_line import OneLineParser, finite_float, int_in
from inference.core.corrections import default_path
from inference.core.fashion_mnist import SPLITS
from training.config import DEVICES, SCHEDULES, VARIANTS, TrainConfig

# --help's first line, the command module's own first line.
DESCRIPTION = "`train-and-export`: fit both softmax-regression variants, export the concise one to ONNX."
TRAIN_IMAGES = SPLITS["train"][2]
MAX_EPOCHS = 10_000  # an epoch takes 1-2 s on a CPU; 10,000 is hours, more is a typo
MAX_SEED = 2**64 - 1  # the largest seed torch.manual_seed takes
MAX_FOLDS = 100  # each fold is one more training run: 100 is already 100 runs, more is a typo


def parse_args(argv: list[str] | None) -> TrainConfig:
    d = TrainConfig()
    p = OneLineParser(prog="train-and-export", description=DESCRIPTION)
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
