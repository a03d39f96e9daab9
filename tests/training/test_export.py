"""The exported model: its contract (names, dtypes, dynamic batch, metadata), its agreement
with PyTorch on the whole test set, the Triton files beside it, and the saved weights in its version folder."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from inference.core import model_repository
from inference.core.classes import CLASS_NAMES
from training import onnx_export as export
from training.softmax_concise import make_model
from training.softmax_scratch import SoftmaxRegressionScratch


@pytest.fixture(scope="module")
def exported(trained):
    _, results, out = trained
    path = model_repository.onnx_path(out, 1)
    return onnx.load(path), path, results, out


def test_graph_takes_uint8_images_with_a_dynamic_batch(exported):
    model, *_ = exported
    (inp,) = model.graph.input
    assert inp.name == "images"
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    dims = inp.type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [28, 28]
    assert [o.name for o in model.graph.output] == ["probabilities", "logits"]
    for o in model.graph.output:
        assert o.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert model.opset_import[0].version == export.OPSET
    # The 1/255 scaling is folded into the Gemm's weights: no per-pixel Div in the graph.
    assert [n.op_type for n in model.graph.node if n.op_type in ("Div", "Mul")] == []
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    onnx.checker.check_model(model, full_check=True)


def test_metadata_describes_the_model(exported):
    model, _, results, _ = exported
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["class_names"]) == list(CLASS_NAMES)
    assert meta["variant"] == "concise"
    assert float(meta["test_accuracy"]) == pytest.approx(results["concise"].test_acc, abs=1e-6)
    assert meta["dataset_sha256"] and "uint8" in meta["input"]
    assert json.loads(meta["recipe"])["batch_size"] == 256
    assert {"torch", "onnx", "onnxruntime", "numpy"} <= set(json.loads(meta["versions"]))
    assert meta["created"]


def test_onnxruntime_agrees_with_pytorch_on_the_test_set(exported, test_split):
    _, path, _, out = exported
    net = make_model()
    net.load_state_dict(torch.load(model_repository.version_dir(out, 1) / "concise.pt", weights_only=True))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    probs, logits = session.run(None, {"images": test_split.images})
    ref_probs, ref_logits = export.reference(net, torch.from_numpy(test_split.images))
    np.testing.assert_allclose(probs, ref_probs.numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(logits, ref_logits.numpy(), atol=1e-4, rtol=1e-5)
    assert np.array_equal(probs.argmax(1), ref_probs.numpy().argmax(1))
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    accuracy = (probs.argmax(1) == test_split.labels).mean()
    assert accuracy >= 0.830


@pytest.mark.parametrize("batch", [1, 3, 1000])
def test_any_batch_size_runs(exported, test_split, batch):
    _, path, *_ = exported
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    probs, logits = session.run(None, {"images": test_split.images[:batch]})
    assert probs.shape == logits.shape == (batch, 10)


def test_scratch_weights_load_safely_and_reproduce_accuracy(exported, test_split):
    _, _, results, out = exported
    state = torch.load(model_repository.version_dir(out, 1) / "scratch.pt", weights_only=True)
    model = SoftmaxRegressionScratch()
    model.W, model.b = state["W"], state["b"]
    X = torch.from_numpy(test_split.images).float() / 255
    accuracy = (model(X).argmax(1).numpy() == test_split.labels).mean()
    assert accuracy == pytest.approx(results["scratch"].test_acc, abs=1e-4)


def test_triton_files_match_the_model(exported):
    model, _, _, out = exported
    folder = model_repository.model_dir(out)
    config = (folder / "config.pbtxt").read_text()
    assert 'platform: "onnxruntime_onnx"' in config and "max_batch_size: " in config
    assert 'name: "images"' in config and "TYPE_UINT8" in config and "dims: [ 28, 28 ]" in config
    assert config.count("TYPE_FP32") == 2 and "dynamic_batching" in config
    assert (folder / "labels.txt").read_text().splitlines() == list(CLASS_NAMES)
    run = model_repository.version_dir(out, 1)  # the run's own files live with the version it made
    history = json.loads((run / "history.json").read_text())
    assert set(history["variants"]) == {"scratch", "concise"}
    assert history["model"] == "1/model.onnx"  # the version this run exported
    assert history["corrections"] is None and history["variants"]["concise"]["test_acc_corrected"] is None
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(folder.rglob("*.tmp"))


def test_a_failed_check_writes_no_model(trained, tmp_path, monkeypatch):
    cfg, results, _ = trained

    def disagree(*args):
        raise export.TrainingError("onnxruntime disagrees with PyTorch")

    from training import train_command as cli
    from training.data import prepare

    data = prepare(cfg.data_dir, False, 0, cfg.seed, torch.device("cpu"))
    with pytest.raises(export.TrainingError):
        cli.export_concise(cfg.__class__(out=str(tmp_path)), data, results["concise"], verify_export=disagree)
    assert model_repository.latest_model(tmp_path) is None
    assert not model_repository.model_dir(tmp_path).exists()
