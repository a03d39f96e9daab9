"""Scoring speed: this Predictor vs PyTorch eager on the same weights vs a plain numpy floor.

    .venv/bin/python benchmarks/inference_speed.py [--model models/] [--budget 0.3]

Prints one table per thread setting (1 thread, then the default), batch sizes 1, 64, 1024 and
the whole 10,000-image test set, then the targets from issue 3 with PASS/MISS. Each thread
setting runs in its own subprocess, because numpy's BLAS fixes its thread count at import.
Timings are medians of repeated calls on a warm process; a noisy VM moves them by 10-30 %.
torch is used here only as the reference: inference/ itself never imports it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

BATCHES = (1, 64, 1024, 10_000)
TARGET_FULL_MS = 10.0
TARGET_TORCH_RATIO = 2.0
TARGET_SINGLE_US = 50.0
TARGET_RSS_MB = 200.0


def weights_from_onnx(path: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """W (10, 784), b (10,) and the input divisor (1 when the export folded the scaling into W),
    read from the exported graph itself, so every contender computes with the weights the
    Predictor runs."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(path)
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    (gemm,) = [n for n in model.graph.node if n.op_type == "Gemm"]
    divs = [n for n in model.graph.node if n.op_type == "Div"]
    weight, bias = init[gemm.input[1]], init[gemm.input[2]]
    trans_b = next((a.i for a in gemm.attribute if a.name == "transB"), 0)
    return (weight if trans_b else weight.T), bias, float(init[divs[0].input[1]]) if divs else 1.0


def time_calls(fn, budget: float, min_calls: int = 5) -> np.ndarray:
    """Seconds per call for as many calls as fit in `budget` seconds (after two warm-up calls)."""
    fn(), fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_calls or time.perf_counter() - start < budget:
        t0 = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - t0)
    return np.array(times) / 1e9


def worker(model: str, threads: int | None, budget: float) -> dict:
    """Everything measured under one thread setting (runs in its own process)."""
    import torch

    from inference.core.fashion_mnist import load_split
    from inference.core.predictor import Predictor

    if threads is not None:
        torch.set_num_threads(threads)
    predictor = Predictor(model, device="cpu", threads=threads)
    weight, bias, divisor = weights_from_onnx(predictor.path)
    images = load_split("test").images

    # PyTorch eager runs the model as it was trained and as a PyTorch user would run it:
    # pixels / 255 -> nn.Linear -> softmax. The trained weights sit beside the Triton model
    # (concise.pt); without them, W is rebuilt from the graph (the export folds 1/255 into it).
    trained = predictor.path.parent.parent / "concise.pt"
    linear = torch.nn.Linear(784, 10)
    with torch.no_grad():
        if trained.is_file():
            state = torch.load(trained, weights_only=True)
            linear.weight.copy_(state["1.weight"])
            linear.bias.copy_(state["1.bias"])
        else:
            linear.weight.copy_(torch.from_numpy(weight * (255.0 / divisor)))
            linear.bias.copy_(torch.from_numpy(bias))
    linear.eval()

    @torch.inference_mode()
    def torch_eager(batch: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(batch).reshape(len(batch), 784).float() / 255.0  # (N, 784) in [0, 1]
        return torch.softmax(linear(x), dim=1).numpy()

    folded = np.ascontiguousarray((weight / divisor).T)  # (784, 10): the scaling folded into W

    def numpy_floor(batch: np.ndarray) -> np.ndarray:
        logits = batch.reshape(len(batch), 784).astype(np.float32) @ folded + bias  # (N, 784) -> (N, 10)
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        return logits / logits.sum(axis=1, keepdims=True)

    contenders = {
        "predictor.predict": predictor.predict,
        "torch eager": torch_eager,
        "numpy floor": numpy_floor,
    }
    reference = predictor.predict_proba(images)
    agreement = {name: float(np.abs(np.asarray(getattr(fn(images), "probabilities", None) if name ==
                                               "predictor.predict" else fn(images)) - reference).max())
                 for name, fn in contenders.items()}

    rows = {}
    for n in BATCHES:
        batch = np.ascontiguousarray(images[:n])
        for name, fn in contenders.items():
            seconds = time_calls(lambda: fn(batch), budget if n > 1 else max(budget, 1.0))
            rows[f"{name}|{n}"] = {"p50": float(np.median(seconds)), "p99": float(np.percentile(seconds, 99)),
                                   "min": float(seconds.min()), "calls": len(seconds)}
    single = images[:1]
    session_only = time_calls(lambda: predictor.session.run(["probabilities"], {"images": single}), 1.0)
    return {"threads": predictor.threads, "rows": rows, "agreement": agreement,
            "session_run_p50": float(np.median(session_only))}


def peak_rss_mb(model: str) -> float:
    """Peak RSS of a fresh process that imports inference, opens the model and scores the test set."""
    code = (
        "import resource, sys\n"
        "from inference.core.predictor import Predictor\n"
        "from inference.core.fashion_mnist import load_split\n"
        "p = Predictor(sys.argv[1], device='cpu')\n"
        "p.predict(load_split('test').images)\n"
        "assert 'torch' not in sys.modules\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"  # KiB on Linux
    )
    out = subprocess.run([sys.executable, "-c", code, model], capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 1024


def import_seconds() -> float:
    code = "import time; t = time.perf_counter(); import inference.core.predictor; print(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def run_worker(model: str, threads: int | None, budget: float) -> dict:
    env = dict(os.environ)
    if threads is not None:  # BLAS and OpenMP read these once, at import
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
    command = [sys.executable, __file__, "--model", model, "--budget", str(budget), "--worker",
               "--threads", str(threads or 0)]
    out = subprocess.run(command, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"benchmark worker failed:\n{out.stderr}")
    return json.loads(out.stdout.splitlines()[-1])


def fmt_time(seconds: float) -> str:
    return f"{seconds * 1e6:9.1f} us" if seconds < 1e-3 else f"{seconds * 1e3:9.2f} ms"


def print_table(result: dict) -> None:
    rows = result["rows"]
    label = f"{result['threads']} thread(s)"
    print(f"\n== {label} ==")
    print(f"{'batch':>6}  {'contender':<18} {'p50':>12} {'p99':>12} {'images/s':>12}  {'vs predictor':>12}")
    for n in BATCHES:
        ours = rows[f"predictor.predict|{n}"]["p50"]
        for name in ("predictor.predict", "torch eager", "numpy floor"):
            r = rows[f"{name}|{n}"]
            ratio = "" if name == "predictor.predict" else f"{r['p50'] / ours:10.2f}x"
            print(f"{n:>6}  {name:<18} {fmt_time(r['p50'])} {fmt_time(r['p99'])} {n / r['p50']:12,.0f}  {ratio:>12}")
    print(f"   raw session.run, one image: p50 {fmt_time(result['session_run_p50'])} (the floor under predict's wrapper)")
    print("   max |dp| vs predictor on the test set: "
          + ", ".join(f"{k} {v:.1e}" for k, v in result["agreement"].items() if k != "predictor.predict"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models", help="model.onnx or a Triton repository (default models/)")
    parser.add_argument("--budget", type=float, default=0.3, help="seconds of calls per measurement")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.model, args.threads or None, args.budget)))
        return 0

    from inference.core.errors import InferenceError
    from inference.core.model_repository import resolve_model_path

    try:
        model = str(resolve_model_path(args.model))
    except InferenceError as e:
        print(f"inference_speed: error: {e}", file=sys.stderr)
        return 2
    print(f"model {model}; {os.cpu_count()} CPU(s); python {sys.version.split()[0]}")
    single, default = run_worker(model, 1, args.budget), run_worker(model, None, args.budget)
    print_table(single)
    print_table(default)

    full = min(single["rows"][f"predictor.predict|{BATCHES[-1]}"]["p50"],
               default["rows"][f"predictor.predict|{BATCHES[-1]}"]["p50"]) * 1e3
    ratios = [r["rows"]["torch eager|1024"]["p50"] / r["rows"]["predictor.predict|1024"]["p50"] for r in (single, default)]
    one = min(r["rows"]["predictor.predict|1"]["p50"] for r in (single, default)) * 1e6
    rss = peak_rss_mb(model)

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    print("\n== targets (issue 3) ==")
    print(f"full test set (10,000 images)      {full:8.2f} ms   target <= {TARGET_FULL_MS:g} ms "
          f"({10_000 / full * 1e3:,.0f} images/s)  {verdict(full <= TARGET_FULL_MS)}")
    print(f"vs PyTorch eager at batch 1024     {min(ratios):8.2f}x (1 thread {ratios[0]:.2f}x, default {ratios[1]:.2f}x)"
          f"   target >= {TARGET_TORCH_RATIO:g}x  {verdict(min(ratios) >= TARGET_TORCH_RATIO)}")
    print(f"single-image predict p50           {one:8.1f} us   target <= {TARGET_SINGLE_US:g} us  "
          f"{verdict(one <= TARGET_SINGLE_US)}")
    print(f"peak RSS: import, open, score all  {rss:8.1f} MB   target <= {TARGET_RSS_MB:g} MB  {verdict(rss <= TARGET_RSS_MB)}")
    print(f"import inference.core.predictor         {import_seconds() * 1e3:8.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
