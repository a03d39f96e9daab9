"""The service's own readers, checked against the references: config.pbtxt against protobuf's
text-format parser with Triton's ModelConfig schema, classification strings against C's %f, the
version policy against Triton's rule, and the protocol's tensor checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from google.protobuf import json_format, text_format
from tritonclient.grpc import model_config_pb2

from inference.adapters.model_config_text import parse_config
from inference.adapters.oip_tensors import classify, infer_request, parse_header, split_body
from inference.adapters.serve_command import default_model_file
from inference.adapters.served_models import default_version
from inference.core.errors import ModelError, ServiceError
from inference.core.model_repository import MODEL_NAME, triton_config, write_model
from testkit.serve_process import triton_numbers
from testkit.tiny_models import tiny_model

HAND_EDITED = """
# a config as people write them by hand
name: 'fashion_mnist'   # single quotes
platform: "onnxruntime_onnx"
max_batch_size: 64
input { name: "images" data_type: TYPE_UINT8 dims: [ 28, 28 ] }
output {
  name: "probabilities"
  data_type: TYPE_FP32
  dims: 10
  label_filename: "labels.txt"
}
output { name: "logits", data_type: TYPE_FP32, dims: [10] }
instance_group [ { kind: KIND_CPU count: 2 } ]
version_policy { specific { versions: [1, 3] } }
dynamic_batching { preferred_batch_size: [ 8, 16 ] max_queue_delay_microseconds: 50 }
parameters { key: "note" value: { string_value: "a \\"quoted\\" word" } }
"""


def reference(text: str) -> dict:
    parsed = text_format.Parse(text, model_config_pb2.ModelConfig())
    return triton_numbers(json_format.MessageToDict(parsed, preserving_proto_field_name=True))


@pytest.mark.parametrize("text", [triton_config(), HAND_EDITED], ids=["written-by-training", "hand-edited"])
def test_config_reads_as_protobuf_reads_it(text):
    ours = parse_config(text)
    if "parameters" in ours:  # a map: protobuf's JSON shape is {key: value}, text format spells entries
        entry = ours.pop("parameters")
        ours["parameters"] = {entry["key"]: entry["value"]}
    assert ours == reference(text)


@pytest.mark.parametrize(
    "text, where",
    [
        ('name: "x"\ninput [ { name: "images" ', "expected"),
        ('name "x"', "':' or '{'"),
        ("max_batch_size: 4\n@", "line 2"),
    ],
)
def test_a_broken_config_is_one_line_naming_the_place(text, where):
    with pytest.raises(ModelError) as caught:
        parse_config(text, "models/fashion_mnist/config.pbtxt")
    message = str(caught.value)
    assert "config.pbtxt" in message and where in message and "\n" not in message


@pytest.mark.parametrize(
    "policy, expected",
    [
        (None, "3"),
        ({"latest": {"num_versions": 1}}, "3"),
        ({"all": {}}, "3"),
        ({"specific": {"versions": [1, 2]}}, "2"),
        ({"specific": {"versions": [9]}}, None),
    ],
)
def test_the_default_version_follows_tritons_version_policy(policy, expected):
    config = {} if policy is None else {"version_policy": policy}
    assert default_version(config, ["1", "2", "3"]) == expected


def test_classification_prints_values_as_cpp_to_string_does():
    scores = np.array([[0.1, 0.7, 0.2], [1e-9, 0.5, 0.5]], np.float32)
    assert classify(scores, 2, ["a", "b", "c"]) == [
        [f"{float(np.float32(0.7)):f}:1:b", f"{float(np.float32(0.2)):f}:2:c"],
        ["0.500000:1:b", "0.500000:2:c"],  # a tie keeps index order
    ]
    assert classify(scores, 5, None)[0] == ["0.700000:1", "0.200000:2", "0.100000:0"]  # at most the classes there are


def _header(**tensor) -> dict:
    return {"inputs": [{"name": "images", "shape": [1, 28, 28], "datatype": "UINT8", **tensor}]}


def test_json_data_may_be_flat_or_nested():
    flat = parse_header(json.dumps(_header(data=list(range(256)) * 3 + list(range(16)))).encode())
    nested = parse_header(json.dumps(_header(data=np.arange(784).reshape(1, 28, 28).__mod__(256).tolist())).encode())
    a = infer_request(flat, memoryview(b""), "m", 4096).images
    b = infer_request(nested, memoryview(b""), "m", 4096).images
    assert a.shape == b.shape == (1, 28, 28) and a.dtype == np.uint8
    np.testing.assert_array_equal(a.ravel(), np.arange(784) % 256)
    np.testing.assert_array_equal(b.ravel(), np.arange(784) % 256)


@pytest.mark.parametrize(
    "body, words",
    [
        (b"[1, 2]", "JSON object"),
        (b"{", "parse"),
        (b"[" * 100_000, "parse"),
        (json.dumps(_header(data=[0.5] * 784)).encode(), "fraction"),
        (json.dumps(_header(data=["a"] * 784)).encode(), "strings"),
        (json.dumps(_header(data=[-1] * 784)).encode(), "0..255"),
    ],
)
def test_bad_json_tensors_are_400(body, words):
    with pytest.raises(ServiceError) as caught:
        infer_request(parse_header(body), memoryview(b""), "m", 4096)
    assert caught.value.status == 400 and words in caught.value.message


def test_batch_over_max_batch_size_is_400():
    header = {
        "inputs": [
            {"name": "images", "shape": [5, 28, 28], "datatype": "UINT8", "parameters": {"binary_data_size": 5 * 784}}
        ]
    }
    with pytest.raises(ServiceError) as caught:
        infer_request(header, memoryview(bytes(5 * 784)), "fashion_mnist", 4)
    assert caught.value.status == 400 and "<= 4" in caught.value.message


def test_the_binary_part_is_split_off_where_the_header_says():
    head, rest = split_body(b'{"a": 1}XYZ', b"8")
    assert head == b'{"a": 1}' and bytes(rest) == b"XYZ"
    with pytest.raises(ServiceError):
        split_body(b"{}", b"99")
    with pytest.raises(ServiceError):
        split_body(b"{}", b"-1")


def test_the_served_default_is_the_version_the_policy_names(tmp_path):
    for _ in range(3):
        write_model(tmp_path, tiny_model().SerializeToString())
    config = tmp_path / MODEL_NAME / "config.pbtxt"
    assert default_model_file(str(tmp_path)) == tmp_path / MODEL_NAME / "3" / "model.onnx"
    config.write_text(config.read_text().replace("latest: { num_versions: 1 }", "specific: { versions: [1, 2] }"))
    assert default_model_file(str(tmp_path)) == tmp_path / MODEL_NAME / "2" / "model.onnx"
    assert default_model_file(str(tmp_path / MODEL_NAME)) == tmp_path / MODEL_NAME / "2" / "model.onnx"
    config.write_text(config.read_text().replace("versions: [1, 2]", "versions: [7]"))
    with pytest.raises(ModelError, match="names no version"):
        default_model_file(str(tmp_path))
    lone = tmp_path / MODEL_NAME / "1" / "model.onnx"
    assert default_model_file(str(lone)) == lone  # a file is served as given
