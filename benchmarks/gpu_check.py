"""On a machine with a GPU and onnxruntime-gpu: does device selection pick CUDA, and do CUDA and
CPU agree on the whole test set (max |dp| <= 1e-5, identical labels)?

    .venv/bin/python benchmarks/gpu_check.py [--model models/]

Exit codes: 0 agreed, 1 disagreed, 2 no usable CUDA provider (the message says why).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from inference.core.errors import InferenceError
from inference.core.fashion_mnist import load_split
from inference.core.predictor import Predictor

TOLERANCE = 1e-5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="CUDA vs CPU agreement for the exported model")
    parser.add_argument("--model", default="models")
    args = parser.parse_args(argv)
    images = load_split("test").images
    try:
        auto = Predictor(args.model)
        print(f"auto chose: {auto.describe()}")
        gpu = Predictor(args.model, device="cuda")
    except InferenceError as e:
        print(f"gpu_check: no usable CUDA: {e}", file=sys.stderr)
        return 2
    cpu = Predictor(args.model, device="cpu")
    p_gpu, p_cpu = gpu.predict_proba(images), cpu.predict_proba(images)
    diff = float(np.abs(p_gpu - p_cpu).max())
    same = bool(np.array_equal(p_gpu.argmax(1), p_cpu.argmax(1)))
    for name, predictor in (("cuda", gpu), ("cpu", cpu)):
        predictor.predict(images)  # warm-up
        start = time.perf_counter()
        for _ in range(20):
            predictor.predict(images)
        print(f"{name}: full test set {(time.perf_counter() - start) / 20 * 1e3:.2f} ms")
    print(f"auto picked cuda: {auto.device == 'cuda'}; max |dp| cuda vs cpu {diff:.2e} (<= {TOLERANCE:g}); "
          f"same labels: {same}")
    return 0 if auto.device == "cuda" and diff <= TOLERANCE and same else 1


if __name__ == "__main__":
    sys.exit(main())
