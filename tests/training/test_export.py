"""The exported model: its contract (names, dtypes, dynamic batch, metadata), its agreement
with PyTorch on the whole test set, the Triton files beside it, and the saved weights in its version folder."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from inference.core import model_repository
from inference.core.classes import CLASS_NAMES
from inference.core.model_contract import Key, ModelMetadata
from inference.core.predictor import Predictor
from testkit.tiny_models import tiny_model, write_tiny_model
from training import onnx_export as export
from training.config import TrainConfig
from training.loop import History
from training.softmax_concise import make_model
from training.softmax_scratch import SoftmaxRegressionScratch


@pytest.fixture(scope="module")
def exported(model_repo):
    """The session's export, and each variant's test accuracy as the run recorded it."""
    path = model_repository.onnx_path(model_repo, 1)
    history = json.loads((model_repository.version_dir(model_repo, 1) / model_repository.HISTORY_FILE).read_text())
    accuracy = {variant: record["test_acc"] for variant, record in history["variants"].items()}
    return onnx.load(path), path, accuracy, model_repo


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
    model, _, accuracy, _ = exported
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["class_names"]) == list(CLASS_NAMES)
    assert meta["variant"] == "concise"
    assert float(meta["test_accuracy"]) == pytest.approx(accuracy["concise"], abs=1e-6)
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
    _, _, recorded, out = exported
    state = torch.load(model_repository.version_dir(out, 1) / "scratch.pt", weights_only=True)
    model = SoftmaxRegressionScratch()
    model.W, model.b = state["W"], state["b"]
    X = torch.from_numpy(test_split.images).float() / 255
    accuracy = (model(X).argmax(1).numpy() == test_split.labels).mean()
    assert accuracy == pytest.approx(recorded["scratch"], abs=1e-4)


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


@pytest.mark.slow  # torch's ONNX exporter: seconds a call
def test_a_failed_check_writes_no_model(fashion_dir, tmp_path):
    """Any concise model will do (the check is made to fail): an untrained one, no training run."""

    def disagree(*args):
        raise export.TrainingError("onnxruntime disagrees with PyTorch")

    from training import train_command as cli
    from training.data import prepare
    from training.variant_training import train_variant

    cfg = TrainConfig(out=str(tmp_path), data_dir=str(fashion_dir), epochs=1)
    data = prepare(cfg.data_dir, False, 0, cfg.seed, torch.device("cpu"))
    untrained = train_variant("concise", cfg, data, torch.device("cpu"), fit_model=lambda *args, **kwargs: History())
    with pytest.raises(export.TrainingError):
        cli.export_concise(cfg, data, untrained, verify_export=disagree)
    assert model_repository.latest_model(tmp_path) is None
    assert not model_repository.model_dir(tmp_path).exists()


# --- the contract check before anything is written (tiny models: no training, no export) -------

BROKEN_EXPORTS = {
    "renamed output": (dict(output_names=("probs", "logits")), "without probabilities"),
    "float input": (dict(input_dtype=np.float32), r"its input is images: float32 \[N, 28, 28\]"),
    "no class names": (dict(class_names=None), "has no class_names in its metadata"),
    "classes only known by running": (
        dict(n_classes=5, declared_classes="C", hide_class_count=True),
        r"on a batch of 2 images its output probabilities is float32 \[2, 5\]",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_EXPORTS))
def test_verify_refuses_a_model_that_breaks_the_contract_before_comparing(case):
    spec, match = BROKEN_EXPORTS[case]
    net = make_model()
    images = torch.zeros((4, 28, 28), dtype=torch.uint8)
    with pytest.raises(export.TrainingError, match=match) as caught:
        export.verify(tiny_model(**spec), net, images)
    message = str(caught.value)
    assert message.startswith(export.EXPORTED) and "\n" not in message
    assert "nothing was written to the model repository" in message and "disagrees" not in message


def test_the_exporters_check_passes_what_the_predictor_opens(tmp_path):
    model = tiny_model()
    export.check_contract(model)  # no error
    assert Predictor(write_tiny_model(tmp_path / "model.onnx"), device="cpu").class_names == list(CLASS_NAMES)


def test_every_metadata_key_the_exporter_writes_is_the_contracts():
    calibration = SimpleNamespace(
        temperature=1.5, test_before=SimpleNamespace(ece=0.04), test_after=SimpleNamespace(ece=0.01)
    )
    meta = export.metadata("concise", 0.8312, "ab" * 32, {"batch_size": 256}, calibration=calibration)
    assert set(meta) <= Key.all() and Key.CLASS_NAMES in meta
    parsed = ModelMetadata.parse(meta)
    assert parsed.test_accuracy == pytest.approx(0.8312) and parsed.temperature == pytest.approx(1.5)
    assert (parsed.variant, parsed.dataset_sha256, parsed.corrections) == ("concise", "ab" * 32, None)
    assert parsed.created is not None


@pytest.mark.parametrize("value, expected", [("0.831200", 0.8312), ("n/a", None), ("1.5", None), (None, None)])
def test_recorded_accuracy_reads_the_contracts_parse(tmp_path, value, expected):
    path = write_tiny_model(tmp_path / "model.onnx", metadata={} if value is None else {Key.TEST_ACCURACY: value})
    assert export.recorded_accuracy(path) == (None if expected is None else pytest.approx(expected))
    assert export.recorded_accuracy(path) == ModelMetadata.parse({Key.TEST_ACCURACY: value or ""}).test_accuracy


@pytest.mark.slow  # no training or data, but the torch exporter itself takes 7 to 18 s here
def test_export_and_verify_leave_the_callers_model_as_it_was():
    """The run scores its model again after the export (the report's test split): exporting must
    not move it to the CPU or switch it to eval mode behind the caller's back."""
    net = make_model().train()
    before = [p.data_ptr() for p in net.parameters()]
    meta = export.metadata("concise", 0.5, "ab" * 32, {"batch_size": 256})
    model = export.to_onnx(net, torch.zeros((2, 28, 28), dtype=torch.uint8), meta)
    assert net.training and [p.data_ptr() for p in net.parameters()] == before
    export.verify(model, net, torch.randint(0, 256, (8, 28, 28), dtype=torch.uint8))
    assert net.training and [p.data_ptr() for p in net.parameters()] == before


@pytest.mark.slow  # torch's ONNX exporter: seconds a call
def test_an_export_of_an_untrained_model_keeps_the_contract(tmp_path):
    net = make_model()
    meta = export.metadata("concise", 0.5, "ab" * 32, {"batch_size": 256})
    model = export.to_onnx(net, torch.zeros((2, 28, 28), dtype=torch.uint8), meta)
    images = torch.randint(0, 256, (64, 28, 28), dtype=torch.uint8)
    assert export.verify(model, net, images) <= export.MAX_PROB_DIFF
    path = tmp_path / "model.onnx"
    path.write_bytes(model.SerializeToString())
    opened = Predictor(path, device="cpu")
    assert opened.class_names == list(CLASS_NAMES) and set(opened.metadata) == set(meta)
    assert (opened.variant, opened.test_accuracy, opened.corrections) == ("concise", 0.5, None)
