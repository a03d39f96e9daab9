"""What bounding the Predictor's open-time probe in time costs: the measurement behind its thread.

    python benchmarks/probe_cost.py [--model models/] [--rounds 15]

A graph that loops for ever must not hang the Predictor at open, so the probe (two images) has to
run where it can be stopped. The contenders, each opening a session on the same model bytes and
running the probe:
  in process, unbounded      what the Predictor did before (the floor)
  thread + terminate flag    the run on a thread, onnxruntime's RunOptions.terminate set at the
                             timeout (what the Predictor does)
  fork                       a forked child opens the session and probes; killable with SIGKILL
  python -c subprocess       a fresh interpreter imports numpy + onnxruntime, opens and probes
and, for scale, the whole Predictor open. Prints the best and median wall time and the CPU time
of this process (a child's CPU is not in it: read wall time for the child processes).
"""

from __future__ import annotations

import argparse
import os
import select
import statistics
import subprocess
import sys
import threading
import time

import numpy as np
import onnxruntime as ort

from inference.core.model_repository import resolve_model_path
from inference.core.predictor import Predictor

IMAGES = np.stack([np.zeros((28, 28), np.uint8), np.full((28, 28), 255, np.uint8)])
CHILD = """
import sys, numpy as np, onnxruntime as ort
options = ort.SessionOptions(); options.log_severity_level = 4
session = ort.InferenceSession(sys.stdin.buffer.read(), options, providers=["CPUExecutionProvider"])
session.run(None, {"images": np.stack([np.zeros((28, 28), np.uint8), np.full((28, 28), 255, np.uint8)])})
"""


def options() -> ort.SessionOptions:
    o = ort.SessionOptions()
    o.log_severity_level = 4
    o.intra_op_num_threads = o.inter_op_num_threads = 1
    return o


def in_process(data: bytes) -> None:
    ort.InferenceSession(data, options(), providers=["CPUExecutionProvider"]).run(None, {"images": IMAGES})


def thread_and_terminate(data: bytes) -> None:
    session = ort.InferenceSession(data, options(), providers=["CPUExecutionProvider"])
    run_options = ort.RunOptions()
    thread = threading.Thread(target=session.run, args=(None, {"images": IMAGES}, run_options), daemon=True)
    thread.start()
    thread.join(5.0)
    if thread.is_alive():
        run_options.terminate = True


def forked(data: bytes) -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: open, probe, report, leave without running the parent's cleanup
        try:
            in_process(data)
            os.write(write, b"ok")
        finally:
            os._exit(0)
    os.close(write)
    ready, _, _ = select.select([read], [], [], 5.0)
    if not ready:
        os.kill(pid, 9)
    os.close(read)
    os.waitpid(pid, 0)


def python_c(data: bytes) -> None:
    subprocess.run([sys.executable, "-I", "-c", CHILD], input=data, check=True, timeout=30)


def measure(step, rounds: int) -> tuple[float, float, float]:
    """(best wall, median wall, best CPU of this process), milliseconds."""
    walls, cpus = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        step()
        walls.append((time.perf_counter() - wall) * 1e3)
        cpus.append((time.process_time() - cpu) * 1e3)
    return min(walls), statistics.median(walls), min(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    path = resolve_model_path(args.model)
    data = path.read_bytes()
    contenders = {
        "in process, unbounded": lambda: in_process(data),
        "thread + terminate flag": lambda: thread_and_terminate(data),
        "fork": lambda: forked(data),
        "python -c subprocess": lambda: python_c(data),
        "Predictor(...) open, whole": lambda: Predictor(path, device="cpu", threads=1),
    }
    print(f"{path}, {args.rounds} rounds, {os.cpu_count()} CPUs")
    floor = None
    for name, step in contenders.items():
        step()  # warm: first-time imports and page faults
        best, median, cpu = measure(step, args.rounds)
        floor = floor or best
        print(
            f"  {name:28s} best {best:7.2f} ms  median {median:7.2f} ms  this process's CPU {cpu:6.2f} ms"
            f"  ({best / floor:5.1f}x the floor)"
        )


if __name__ == "__main__":
    main()
