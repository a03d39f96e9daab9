"""models/ as Triton loads it: config.pbtxt parses into Triton's own ModelConfig message and
agrees with the ONNX model's inputs and outputs (names, data types, dims)."""

from __future__ import annotations

import json

import onnx
import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2  # Triton's own schema for config.pbtxt

# ONNX element types -> Triton data types, for the ones this model uses.
ONNX_TO_TRITON = {
    onnx.TensorProto.UINT8: model_config_pb2.TYPE_UINT8,
    onnx.TensorProto.FLOAT: model_config_pb2.TYPE_FP32,
}


@pytest.fixture(scope="module")
def config(model_repo):
    text = (model_repo / "fashion_mnist" / "config.pbtxt").read_text()
    return text_format.Parse(text, model_config_pb2.ModelConfig())


def tensors(values):
    return {
        v.name: (ONNX_TO_TRITON[v.type.tensor_type.elem_type], [d.dim_value or d.dim_param for d in v.type.tensor_type.shape.dim])
        for v in values
    }


def test_config_is_a_valid_triton_model_config(config):
    assert config.name == "fashion_mnist"  # Triton requires it to match the folder
    assert config.platform == "onnxruntime_onnx"
    assert config.max_batch_size > 0
    assert config.HasField("dynamic_batching")


def test_config_matches_the_onnx_model(config, model_path):
    graph = onnx.load(model_path).graph
    inputs, outputs = tensors(graph.input), tensors(graph.output)
    assert {i.name for i in config.input} == set(inputs)
    assert {o.name for o in config.output} == set(outputs)
    for entry, onnx_tensors in ((config.input, inputs), (config.output, outputs)):
        for tensor in entry:
            dtype, shape = onnx_tensors[tensor.name]
            assert tensor.data_type == dtype
            # With max_batch_size > 0, Triton's dims leave out the (dynamic) batch dimension.
            assert isinstance(shape[0], str), "the ONNX batch dimension must be symbolic"
            assert list(tensor.dims) == shape[1:]


def test_label_file_lists_one_class_per_output(config, model_repo, model_path):
    (probabilities,) = [o for o in config.output if o.label_filename]
    labels = (model_repo / "fashion_mnist" / probabilities.label_filename).read_text().splitlines()
    meta = {p.key: p.value for p in onnx.load(model_path).metadata_props}
    assert len(labels) == probabilities.dims[0] == 10
    assert labels == json.loads(meta["class_names"])


def test_version_folder_holds_the_model(model_repo):
    versions = [p for p in (model_repo / "fashion_mnist").iterdir() if p.is_dir()]
    assert [p.name for p in versions] == ["1"]  # Triton reads numeric folders; nothing else is a folder
    assert (versions[0] / "model.onnx").is_file()
