"""On a machine with a GPU: training on CUDA, and the Predictor on CUDA.

    python benchmarks/gpu_check.py [--model models/] [--data-dir DIR] [--epochs 10]

1. Training: `train-and-export`'s own code (`training.train_command.run`) trains both variants
   for --epochs on CUDA, then on this machine's CPU as the baseline beside it, and prints each
   variant's training seconds. The CUDA run's export is the model step 2 scores, unless --model
   names another.
2. The Predictor: does device="auto" pick CUDA, do CUDA and CPU agree on the 10,000 test images
   (max |dp| <= 1e-5, identical labels), and how many images/s each scores on the 60,000
   training images. This needs onnxruntime-gpu (`[gpu]`, see docs/inference.md, GPU); without it the CPU
   figure is still printed and the message says what is missing.

torch is imported here only for training: it is a benchmark, and inference/ never imports it.
Exit codes: 0 everything ran and agreed, 1 CUDA and CPU disagreed (or auto did not pick CUDA),
2 no usable CUDA for training or for onnxruntime (the message says which and why).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from inference.core.errors import InferenceError
from inference.core.fashion_mnist import load_split
from inference.core.predictor import Predictor

TOLERANCE = 1e-5
REPEATS = 5  # full passes over the 60,000 images per device; the median is printed


def train_seconds(device: str, epochs: int, data_dir: str | None, out: Path) -> dict[str, float]:
    """Seconds of training per variant, as train-and-export measures them (export excluded)."""
    from training.config import TrainConfig
    from training.train_command import run

    results = run(TrainConfig(epochs=epochs, device=device, out=str(out), data_dir=data_dir)).results
    return {r.variant: r.seconds for r in results}


def training_section(epochs: int, data_dir: str | None, out: Path) -> bool:
    import torch

    if not torch.cuda.is_available():
        print(f"training: torch {torch.__version__} sees no CUDA GPU; nothing to time", file=sys.stderr)
        return False
    print(f"training on {torch.cuda.get_device_name(0)} (torch {torch.__version__}), {epochs} epochs per variant")
    # CUDA context and cuBLAS start-up (about a second) belong to no variant: pay them first.
    warm = torch.ones(64, 64, device="cuda")
    (warm @ warm).sum().item()
    cuda = train_seconds("cuda", epochs, data_dir, out)
    with tempfile.TemporaryDirectory() as cpu_out:
        cpu = train_seconds("cpu", epochs, data_dir, Path(cpu_out))
    print(f"\n{'variant':<8} {'cuda s':>8} {'cpu s':>8} {'cpu/cuda':>9}   ({torch.get_num_threads()} CPU threads)")
    for variant in cuda:
        print(f"{variant:<8} {cuda[variant]:8.2f} {cpu[variant]:8.2f} {cpu[variant] / cuda[variant]:8.2f}x")
    return True


def images_per_second(predictor: Predictor, images: np.ndarray) -> float:
    predictor.predict_proba(images)  # warm-up: CUDA allocations, onnxruntime's first-run set-up
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        predictor.predict_proba(images)
        times.append(time.perf_counter() - start)
    return len(images) / float(np.median(times))


def predictor_section(model: str, data_dir: str | None) -> int:
    import onnxruntime as ort

    test = load_split("test", data_dir).images
    train = load_split("train", data_dir).images
    cpu = Predictor(model, device="cpu")
    cpu_rate = images_per_second(cpu, train)
    print(f"\ncpu Predictor ({cpu.threads} threads): {cpu_rate:,.0f} images/s on the 60,000 training images")
    try:
        auto = Predictor(model)
        print(f"auto chose: {auto.describe()}")
        gpu = Predictor(model, device="cuda")
    except InferenceError as e:
        print(f"gpu_check: no usable CUDA for onnxruntime {ort.__version__}: {e}", file=sys.stderr)
        return 2
    p_gpu, p_cpu = gpu.predict_proba(test), cpu.predict_proba(test)
    diff = float(np.abs(p_gpu - p_cpu).max())
    same = bool(np.array_equal(p_gpu.argmax(1), p_cpu.argmax(1)))
    gpu_rate = images_per_second(gpu, train)
    print(
        f"cuda Predictor: {gpu_rate:,.0f} images/s on the 60,000 training images ({gpu_rate / cpu_rate:.2f}x the cpu)"
    )
    print(
        f"auto picked cuda: {auto.device == 'cuda'}; max |dp| cuda vs cpu {diff:.2e} (<= {TOLERANCE:g}); "
        f"same labels: {same}"
    )
    return 0 if auto.device == "cuda" and diff <= TOLERANCE and same else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="training and the Predictor on CUDA, against the CPU")
    parser.add_argument("--model", default=None, help="model to score with (default: the one trained here)")
    parser.add_argument("--data-dir", default=None, help="folder with the four Fashion-MNIST IDX files")
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as out:
        trained = training_section(args.epochs, args.data_dir, Path(out))
        model = args.model or (out if trained else None)
        if model is None:
            print("gpu_check: no --model and no CUDA training to export one", file=sys.stderr)
            return 2
        code = predictor_section(model, args.data_dir)
    return code if trained else 2


if __name__ == "__main__":
    sys.exit(main())
