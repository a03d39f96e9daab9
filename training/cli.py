"""`train-and-export`: fit both softmax-regression variants, export the concise one to ONNX.

    train-and-export                      # the seed's recipe, both variants, into models/
    train-and-export --val-split 10000 --epochs 30 --momentum 0.9 --schedule one-cycle
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch

from inference.errors import DatasetError
from training import softmax_concise, softmax_scratch
from training.config import DEVICES, SCHEDULES, VARIANTS, TrainConfig
from training.data import Data, prepare
from training.errors import TrainingError
from training.export import metadata, to_onnx, verify
from training.loop import History, evaluate, fit
from inference.atomic_write import atomic_write
from training.model_repository import model_dir, write_model
from training.plot import curves_png

BUILDERS = {"scratch": softmax_scratch.build, "concise": softmax_concise.build}


@dataclass
class Result:
    variant: str
    history: History
    test_loss: float
    test_acc: float
    seconds: float  # training time alone, without data loading or export
    model: object  # SoftmaxRegressionScratch or nn.Sequential


def positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    return parse


def non_negative(kind):
    def parse(text: str):
        value = kind(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
        return value

    return parse


def parse_args(argv: list[str] | None) -> TrainConfig:
    d = TrainConfig()
    p = argparse.ArgumentParser(prog="train-and-export", description=__doc__.split("\n")[0])
    p.add_argument("--variant", choices=(*VARIANTS, "both"), default=d.variant)
    p.add_argument("--epochs", type=positive(int), default=d.epochs)
    p.add_argument("--batch-size", type=positive(int), default=d.batch_size)
    p.add_argument("--lr", type=positive(float), default=d.lr, help="learning rate (peak for one-cycle)")
    p.add_argument("--momentum", type=non_negative(float), default=d.momentum)
    p.add_argument("--weight-decay", type=non_negative(float), default=d.weight_decay)
    p.add_argument("--schedule", choices=SCHEDULES, default=d.schedule)
    p.add_argument("--val-split", type=non_negative(int), default=d.val_split,
                   help="hold out N training images for validation (0: validate on the test set)")
    p.add_argument("--sigma", type=positive(float), default=d.sigma, help="std of the scratch model's init")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", choices=DEVICES, default=d.device)
    p.add_argument("--out", default=d.out, help="model repository to write (default: models)")
    p.add_argument("--data-dir", default=d.data_dir, help="folder with the four Fashion-MNIST IDX files")
    p.add_argument("--download", action="store_true", help="download with torchvision if not found locally")
    args = p.parse_args(argv)
    if args.momentum >= 1:
        p.error(f"argument --momentum: must be < 1, got {args.momentum}")
    return TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})


def resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("--device cuda was asked for, but torch sees no CUDA GPU; use --device cpu")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def train_variant(variant: str, cfg: TrainConfig, data: Data, device: torch.device) -> Result:
    torch.manual_seed(cfg.seed)  # same seed -> same init and same batches for either variant
    model, loss_fn, optimizer = BUILDERS[variant](cfg, device)
    start = time.perf_counter()
    try:
        history = fit(model, loss_fn, optimizer, data, cfg, desc=variant)
    except TrainingError as e:
        raise TrainingError(f"{variant}: {e}; nothing was exported") from None
    seconds = time.perf_counter() - start
    test_loss, test_acc = evaluate(model, loss_fn, data.test_images, data.test_labels)
    return Result(variant, history, test_loss, test_acc, seconds, model)


def summary_table(results: list[Result]) -> str:
    head = f"{'variant':<8} {'epochs':>6} {'train loss':>10} {'val loss':>9} {'val acc':>8} {'test acc':>8} {'seconds':>8}"
    rows = [head, "-" * len(head)]
    for r in results:
        h = r.history
        rows.append(
            f"{r.variant:<8} {len(h.train_loss):>6} {h.train_loss[-1]:>10.4f} {h.val_loss[-1]:>9.4f} "
            f"{h.val_acc[-1]:>8.4f} {r.test_acc:>8.4f} {r.seconds:>8.2f}"
        )
    return "\n".join(rows)


def save_outputs(cfg: TrainConfig, data: Data, results: list[Result]) -> None:
    """Weights, history and plot beside the Triton config (Triton reads none of them)."""
    folder = model_dir(cfg.out)
    for r in results:
        state = {k: v.detach().cpu().contiguous() for k, v in r.model.state_dict().items()}
        buf = io.BytesIO()
        torch.save(state, buf)  # plain tensors only: loads with torch.load(weights_only=True)
        atomic_write(folder / f"{r.variant}.pt", buf.getvalue())
    history = {
        "dataset_sha256": data.digest,
        "validation": f"{len(data.val_labels)} held-out training images" if cfg.val_split else "test set",
        "recipe": cfg.recipe(),
        "variants": {
            r.variant: {**asdict(r.history), "test_loss": r.test_loss, "test_acc": r.test_acc, "seconds": r.seconds}
            for r in results
        },
    }
    atomic_write(folder / "history.json", json.dumps(history, indent=2).encode())
    atomic_write(folder / "curves.png", curves_png({r.variant: r.history for r in results}))


def export_concise(cfg: TrainConfig, data: Data, result: Result) -> tuple[Path, float]:
    net = result.model
    meta = metadata("concise", result.test_acc, data.digest, cfg.recipe())
    model = to_onnx(net, data.test_images[:2], meta)  # a batch of 2 keeps the batch dim symbolic
    diff = verify(model, net, data.test_images)
    return write_model(cfg.out, model.SerializeToString()), diff


def run(cfg: TrainConfig) -> list[Result]:
    device = resolve_device(cfg.device)
    data = prepare(cfg.data_dir, cfg.download, cfg.val_split, cfg.seed, device)
    val = f"{len(data.val_labels)} held-out training images" if cfg.val_split else "the test set"
    print(f"data: {data.source}  train {len(data.train_labels)}, validation on {val}, "
          f"test {len(data.test_labels)}; device: {device}")
    results = [train_variant(v, cfg, data, device) for v in cfg.variants()]
    print(summary_table(results))
    concise = next((r for r in results if r.variant == "concise"), None)
    if concise is None:
        print("no ONNX export: it exports the concise variant (use --variant concise or both)")
    else:
        path, diff = export_concise(cfg, data, concise)
        print(f"exported {path} (onnxruntime vs PyTorch on the test set: max |Δp| = {diff:.1e}, same predictions)")
    save_outputs(cfg, data, results)
    print(f"history and curves: {model_dir(cfg.out)}/history.json, curves.png")
    return results


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    try:
        run(cfg)
    except (DatasetError, TrainingError) as e:
        print(f"train-and-export: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("train-and-export: interrupted; nothing half-written was left behind", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
