"""models/ as Triton loads it: config.pbtxt parses into Triton's own ModelConfig message and
agrees with the ONNX model's inputs and outputs (names, data types, dims); every export is a new
numeric version folder and the newest one is what Triton and every consumer here take."""

from __future__ import annotations

import json

import onnx
import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2  # Triton's own schema for config.pbtxt

from inference.core import model_repository
from inference.core.model_repository import (
    check_writable,
    latest_model,
    model_dir,
    model_folder_of,
    onnx_path,
    resolve_model_path,
    write_model,
)

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
        v.name: (
            ONNX_TO_TRITON[v.type.tensor_type.elem_type],
            [d.dim_value or d.dim_param for d in v.type.tensor_type.shape.dim],
        )
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


def test_version_folder_holds_the_model_and_its_runs_files(model_repo):
    versions = [p for p in (model_repo / "fashion_mnist").iterdir() if p.is_dir()]
    assert [p.name for p in versions] == ["1"]  # Triton reads numeric folders; nothing else is a folder
    # Triton loads model.onnx and ignores the other files; none of them is a folder it could mistake.
    files = sorted(p.name for p in versions[0].iterdir())
    assert files == ["concise.pt", "curves.png", "history.json", "model.onnx", "scratch.pt"]
    assert not [p for p in versions[0].iterdir() if p.is_dir()]
    assert sorted(p.name for p in (model_repo / "fashion_mnist").iterdir() if not p.is_dir()) == [
        "config.pbtxt",
        "labels.txt",
    ]  # nothing of a run lies beside the config


def test_config_serves_the_newest_version(config):
    assert config.version_policy.WhichOneof("policy_choice") == "latest"
    assert config.version_policy.latest.num_versions == 1


# --- versions, written and resolved without training: plain bytes stand in for the model -------


def test_each_write_is_a_new_version_and_leaves_the_earlier_ones(tmp_path):
    assert write_model(tmp_path, b"first") == (onnx_path(tmp_path, 1), 1)
    assert write_model(tmp_path, b"second") == (onnx_path(tmp_path, 2), 2)
    assert onnx_path(tmp_path, 1).read_bytes() == b"first"
    assert latest_model(tmp_path) == (onnx_path(tmp_path, 2), 2)
    assert resolve_model_path(tmp_path) == resolve_model_path(model_dir(tmp_path)) == onnx_path(tmp_path, 2)
    assert sorted(p.name for p in model_dir(tmp_path).iterdir()) == ["1", "2", "config.pbtxt", "labels.txt"]


def test_a_version_taken_by_another_run_meanwhile_is_skipped(tmp_path, monkeypatch):
    write_model(tmp_path, b"first")
    monkeypatch.setattr(model_repository, "next_version", lambda out: 1)  # as if version 1 appeared after the count
    assert write_model(tmp_path, b"second") == (onnx_path(tmp_path, 2), 2)
    assert onnx_path(tmp_path, 1).read_bytes() == b"first"
    assert not [p for p in model_dir(tmp_path).iterdir() if p.name.startswith(".")]  # no staging folder left


def test_resolving_passes_over_folders_that_hold_no_model(tmp_path):
    folder = model_dir(tmp_path)
    write_model(tmp_path, b"first")
    for name in ("5", "1\u00b2", "7x", ".new-version.abc.tmp"):  # empty, a superscript, not a number, staging
        (folder / name).mkdir()
    (folder / "9").write_bytes(b"a file, not a version folder")
    assert latest_model(tmp_path) == (onnx_path(tmp_path, 1), 1)
    assert resolve_model_path(tmp_path) == onnx_path(tmp_path, 1)
    # A number once used is never reused, and one a file holds is skipped: the rename could not take it.
    assert model_repository.next_version(tmp_path) == 10
    assert write_model(tmp_path, b"second")[1] == 10


def test_the_write_check_makes_no_version_folder(tmp_path):
    check_writable(tmp_path)
    assert list(model_dir(tmp_path).iterdir()) == []
    assert latest_model(tmp_path) is None and model_repository.next_version(tmp_path) == 1


def test_model_folder_of_a_version(tmp_path):
    assert model_folder_of(onnx_path(tmp_path, 12)) == model_dir(tmp_path)
    assert model_folder_of(tmp_path / "elsewhere" / "model.onnx") is None
