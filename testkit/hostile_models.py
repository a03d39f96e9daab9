"""Models that pass every check at open and misbehave only when they score, built with onnx.helper.

Each keeps the project's signature and scores the probe's black and white images finitely; the
harm comes from one node added to the tiny model of `testkit/tiny_models.py`:

    nan_for_grey_model    logits + 0 * Log((m - 0.25) * (m - 0.75)), m the image's mean pixel in
                          [0, 1]: NaN for images of mean 0.25..0.75, finite for black and white
    odd_batch_failure     logits pass through Reshape [4, -1] and back: a batch of an odd size has
                          N * 10 values, not divisible by 4, so onnxruntime fails at run time
    endless_loop_model    a Loop of 2**63 - 1 iterations whose condition stays true, before the
                          outputs: the probe itself never ends
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from testkit.tiny_models import tiny_model


def _with_logits_through(nodes: list, initializers: list, final: str):
    """The tiny model, with `nodes` turning its logits `z` into `final` before the softmax."""
    model = tiny_model()
    graph = model.graph
    for node in graph.node:  # the softmax and the logits' Cast read z: make them read `final`
        if node.op_type in ("Softmax", "Cast") and list(node.input) == ["z"]:
            node.input[0] = final
    gemm = next(i for i, node in enumerate(graph.node) if node.op_type == "Gemm")
    for offset, node in enumerate(nodes, start=1):
        graph.node.insert(gemm + offset, node)
    graph.initializer.extend(initializers)
    return model


def nan_for_grey_model(path: Path) -> Path:
    nodes = [
        helper.make_node("ReduceMean", ["scaled", "axis1"], ["mean"], keepdims=1),  # (N, 784) -> (N, 1)
        helper.make_node("Sub", ["mean", "quarter"], ["low"]),
        helper.make_node("Sub", ["mean", "three_quarters"], ["high"]),
        helper.make_node("Mul", ["low", "high"], ["u"]),  # < 0 for a mean between 0.25 and 0.75
        helper.make_node("Log", ["u"], ["log_u"]),  # NaN there
        helper.make_node("Mul", ["log_u", "zero"], ["nothing"]),  # 0, or NaN
        helper.make_node("Add", ["z", "nothing"], ["z_nan"]),  # (N, 10) + (N, 1)
    ]
    consts = [
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
        numpy_helper.from_array(np.array(0.25, np.float32), "quarter"),
        numpy_helper.from_array(np.array(0.75, np.float32), "three_quarters"),
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
    ]
    path.write_bytes(_with_logits_through(nodes, consts, "z_nan").SerializeToString())
    return path


def odd_batch_failure_model(path: Path) -> Path:
    nodes = [
        helper.make_node("Reshape", ["z", "by_four"], ["z4"]),  # fails unless N * 10 % 4 == 0
        helper.make_node("Reshape", ["z4", "by_class"], ["z_back"]),
    ]
    consts = [
        numpy_helper.from_array(np.array([4, -1], np.int64), "by_four"),
        numpy_helper.from_array(np.array([-1, 10], np.int64), "by_class"),
    ]
    path.write_bytes(_with_logits_through(nodes, consts, "z_back").SerializeToString())
    return path


def endless_loop_model(path: Path) -> Path:
    # Body: (iteration, cond, v) -> (cond, v): the condition it returns is the one it got, true.
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Identity", ["v_in"], ["v_out"])],
        "forever",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_in", TensorProto.FLOAT, None),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_out", TensorProto.FLOAT, None),
        ],
    )
    nodes = [
        # The loop carries the logits, so no optimiser can fold it away before the first run.
        helper.make_node("Loop", ["trips", "true", "z"], ["z_looped"], body=body),
    ]
    consts = [
        numpy_helper.from_array(np.array(2**63 - 1, np.int64), "trips"),
        numpy_helper.from_array(np.array(True), "true"),
    ]
    path.write_bytes(_with_logits_through(nodes, consts, "z_looped").SerializeToString())
    return path
