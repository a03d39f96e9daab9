"""How to use a second core for this model: the measurement behind the Predictor's split batches.

    taskset -c 0,1 python benchmarks/split_strategies.py [--model models/] [--threads 2]

onnxruntime does not split the graph's Gemm (N = 10 outputs) over its intra-op threads. The
contenders, all on the same model and images:
  sequential, 1 intra-op     one session, 1024-image calls one after another (threads=1)
  sequential, T intra-op     the same session with T intra-op threads (what the Predictor did before split batches)
  split, one session         pieces run side by side on one session (what the Predictor does)
  split, session per thread  pieces run side by side, each thread on its own session
Prints medians (best of three rounds, interleaved) and each one's speed-up over the first.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
import onnxruntime as ort

from inference.core.fashion_mnist import load_split
from inference.core.model_repository import resolve_model_path
from inference.core.piece_threads import PieceThreads

BATCHES = (128, 256, 512, 1024, 2048, 10_000, 60_000)
CHUNK = 1024


def session(model: bytes, intra_op: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = intra_op
    if intra_op == 1:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def sequential(sess: ort.InferenceSession):
    def score(images: np.ndarray) -> np.ndarray:
        out = np.empty((len(images), 10), np.float32)
        for start in range(0, len(images), CHUNK):
            out[start : start + CHUNK] = sess.run(["probabilities"], {"images": images[start : start + CHUNK]})[0]
        return out

    return score


def split(threads: PieceThreads):
    """Pieces as the Predictor cuts them, scored side by side on `threads`."""

    def score(images: np.ndarray) -> np.ndarray:
        n = len(images)
        size = math.ceil(n / (threads.threads * math.ceil(n / (CHUNK * threads.threads))))
        out = np.empty((n, 10), np.float32)

        def piece(i: int, sess: ort.InferenceSession) -> None:
            part = images[i * size : (i + 1) * size]
            out[i * size : i * size + len(part)] = sess.run(["probabilities"], {"images": part})[0]

        threads.run(math.ceil(n / size), piece)
        return out

    return score


def median_ms(fn, budget: float) -> float:
    fn(), fn()
    times, start = [], time.perf_counter()
    while len(times) < 5 or time.perf_counter() - start < budget:
        t0 = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - t0)
    return float(np.median(times)) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--budget", type=float, default=0.2, help="seconds of calls per measurement")
    args = parser.parse_args()
    model = resolve_model_path(args.model).read_bytes()
    t = args.threads
    shared = session(model, 1)
    pools = [PieceThreads(t, shared, lambda: shared), PieceThreads(t, session(model, 1), lambda: session(model, 1))]
    contenders = {
        "sequential, 1 intra-op": sequential(session(model, 1)),
        f"sequential, {t} intra-op": sequential(session(model, t)),
        "split, one session": split(pools[0]),
        "split, session per thread": split(pools[1]),
    }
    images = load_split("train").images
    best: dict[tuple[str, int], float] = {}
    for _ in range(3):
        for n in BATCHES:
            batch = np.ascontiguousarray(images[:n])
            for name, fn in contenders.items():
                ms = median_ms(lambda fn=fn, batch=batch: fn(batch), args.budget)
                best[name, n] = min(best.get((name, n), math.inf), ms)
    print(f"{t} thread(s), {len(os.sched_getaffinity(0))} usable core(s), onnxruntime {ort.__version__}")
    print(f"{'batch':>6}  " + "  ".join(f"{name:>26}" for name in contenders))
    for n in BATCHES:
        base = best["sequential, 1 intra-op", n]
        cells = (f"{best[name, n]:.3f} ms ({base / best[name, n]:.2f}x)" for name in contenders)
        print(f"{n:>6}  " + "  ".join(f"{cell:>26}" for cell in cells))
    for pool in pools:
        pool.close()


if __name__ == "__main__":
    main()
