"""onnxruntime runs that a misbehaving model cannot turn into a hang, a traceback or a NaN.

The Predictor's guards, kept out of predictor.py so that it reads as the contract it checks:
  bounded_run     the probe at open on a thread of its own, stopped by onnxruntime's terminate
                  flag when it overruns (a Loop that never ends)
  scoring_failed  onnxruntime's own exception types, raised while scoring, as one ModelError line
  check_finite    every score finite, else NonFiniteScores naming the rows
"""

from __future__ import annotations

import math
import re
import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort

from inference.core.errors import ModelError, NonFiniteScores

# What onnxruntime raises from a run (Fail, RuntimeException, InvalidArgument, EPFail, ...): all
# of its own exception types, whichever this version has.
ORT_ERRORS = tuple(
    value
    for value in vars(ort.capi.onnxruntime_pybind11_state).values()
    if isinstance(value, type) and issubclass(value, Exception)
) or (RuntimeError,)
PROBE_STOP_S = 2.0  # onnxruntime sees the terminate flag at its next node: a Loop within microseconds


def first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def ort_reason(error: BaseException) -> str:
    """onnxruntime's error, without its code prefix and C++ source location: what a user can read.

    "[ONNXRuntimeError] : 1 : FAIL : Non-zero status code returned while running Reshape node.
    Name:'' Status Message: /onnxruntime_src/.../reshape_helper.h:84 onnxruntime::ReshapeHelper::
    ReshapeHelper(...) size != 0 && ... was false. The input tensor cannot be reshaped ..." becomes
    "Reshape node: The input tensor cannot be reshaped ...".
    """
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", first_line(error))
    node, _, status = text.partition(" Status Message: ")
    status = re.sub(r"^/\S+:\d+ .*? was false\. ", "", status)
    node = re.sub(r"^Non-zero status code returned while running (\w+) node\. Name:'[^']*'$", r"\1 node", node)
    return (f"{node}: {status}" if status else node)[:300]


def scoring_failed(path: Path, error: BaseException) -> ModelError:
    """The ModelError for an onnxruntime error raised while scoring (the probe at open passed)."""
    return ModelError(
        f"{path} failed while scoring ({ort_reason(error)}); it passed the checks at open, "
        "so the graph fails only on some inputs or batch sizes — export a model with train-and-export"
    )


def check_finite(out: np.ndarray, path: Path, output: str) -> None:
    """NonFiniteScores unless every score in `out` (N, classes) is finite."""
    # One reduction on the hot path: the sum is NaN or infinite when any score is (and may
    # overflow on finite logits, hence the rows are looked at one by one only then).
    if not math.isfinite(out.sum()):
        bad = np.flatnonzero(~np.isfinite(out).all(axis=1))  # (N, 10) -> the rows with NaN or inf
        if len(bad):
            raise NonFiniteScores(path, output, bad, len(out))


def bounded_run(
    session: ort.InferenceSession, outputs: list[str], feeds: dict, path: Path, timeout: float
) -> list[np.ndarray]:
    """`session.run(outputs, feeds)`, stopped after `timeout` seconds: a graph that loops for ever
    is a ModelError instead of a hang (the Predictor's probe: two images).

    The run goes on a thread of its own while this one waits, so SIGTERM and Ctrl-C still work;
    at the timeout onnxruntime's terminate flag ends the run at its next node (a Loop: its next
    iteration). A child process could also kill a single kernel that never returns, but measured
    on two loaded cores (benchmarks/probe_cost.py, best of 11, two runs) a `python -c` child costs
    380-490 ms and a fork 9-14 ms against 0.2-0.5 ms for the thread, and forking the labeler's or the service's threaded
    process can deadlock the child.
    """
    run_options = ort.RunOptions()
    run_options.log_severity_level = 4
    outcome: dict = {}
    # An Event, not thread.is_alive(): a join cut short by a signal can leave is_alive() False
    # while the thread still runs (CPython 3.11), and the run would never be told to stop.
    done = threading.Event()

    def probe() -> None:
        try:
            outcome["outputs"] = session.run(outputs, feeds, run_options)
        except BaseException as e:
            outcome["error"] = e
        finally:
            done.set()

    try:
        # start() inside: a signal can arrive while it waits for the thread to begin
        threading.Thread(target=probe, name="model-probe", daemon=True).start()
        done.wait(timeout)
    finally:
        if not done.is_set():  # the timeout, or a signal while waiting: stop the run either way
            run_options.terminate = True
            # and let it end before going on: a process that exits while onnxruntime still
            # runs a graph aborts ("terminate called without an active exception").
            done.wait(PROBE_STOP_S)
    if "outputs" in outcome:
        return outcome["outputs"]
    if run_options.terminate:
        raise ModelError(
            f"{path} was still scoring a batch of two images after {timeout:g} s (a graph that "
            "loops or computes far too much) and was stopped; export a model with train-and-export"
        )
    # onnxruntime's own errors: a graph that cannot run at all
    raise ModelError(f"{path} fails on a batch of two images: {first_line(outcome['error'])}") from outcome["error"]
