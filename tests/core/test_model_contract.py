"""The model contract, checked when the Predictor opens a model: one input uint8 [N, 28, 28],
outputs probabilities and logits float32 [N, 10], class_names a JSON list of 10 strings.
Everything else is a ModelError (one line, saying how to fix it); optional metadata that does
not parse reads as None. Built on tiny ONNX models, so no training is needed."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from inference.core.classes import CLASS_NAMES
from inference.core.errors import ArgumentError, InferenceError, ModelError
from inference.core.model_contract import CorrectionsUsed, ModelMetadata, check_signature
from inference.core.predictor import Predictor, thread_limit
from testkit.tiny_models import reference_scores, tiny_model, write_tiny_model

GOOD_META = {
    "test_accuracy": "0.8312",
    "temperature": "1.25",
    "dataset_sha256": "ab" * 32,
    "created": "2026-05-01T12:00:00+00:00",
    "variant": "concise",
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny_model(tmp_path_factory.mktemp("tiny") / "model.onnx", metadata=GOOD_META)


def test_the_tiny_model_keeps_the_contract_and_scores_like_numpy(tiny):
    # So that each broken model below is refused for the one thing it breaks.
    predictor = Predictor(tiny, device="cpu")
    images = np.random.default_rng(0).integers(0, 256, (50, 28, 28), dtype=np.uint8)
    probs, logits = reference_scores(images)
    np.testing.assert_allclose(predictor.predict_proba(images), probs, atol=1e-5)
    np.testing.assert_allclose(predictor.logits(images), logits, atol=1e-4)
    assert predictor.class_names == list(CLASS_NAMES)


BROKEN = {
    "five classes": (dict(n_classes=5), r"output probabilities is float32 \[N, 5\]"),
    "twelve classes": (dict(n_classes=12), r"output probabilities is float32 \[N, 12\]"),
    "classes only known by running": (
        dict(n_classes=5, declared_classes="C", hide_class_count=True),
        r"on a batch of 2 images its output probabilities is float32 \[2, 5\]",
    ),
    "float input": (dict(input_dtype=np.float32), r"its input is images: float32 \[N, 28, 28\]"),
    "flat input": (dict(input_shape=("N", 784)), r"its input is images: uint8 \[N, 784\]"),
    "fixed batch of one": (dict(input_shape=(1, 28, 28)), r"its input is images: uint8 \[1, 28, 28\]"),
    "two inputs": (dict(second_input=True), r"it has 2 inputs \['images', 'mask'\]"),
    "no logits": (dict(output_names=("probabilities",)), r"it has outputs \['probabilities'\], without logits"),
    "renamed outputs": (dict(output_names=("probs", "scores")), "without probabilities and logits"),
    "float64 outputs": (dict(output_dtype=np.float64), r"output probabilities is float64 \[N, 10\]"),
    "logits where probabilities belong": (
        dict(output_names=("logits", "probabilities")),
        "its probabilities are not probabilities",
    ),
    "no class names": (dict(class_names=None), "has no class_names in its metadata"),
    "integer class names": (dict(class_names=list(range(10))), r"class_names '\[0, 1, 2"),
    "nine class names": (dict(class_names=list(CLASS_NAMES[:9])), "class_names '.*expected a JSON list of 10 strings"),
    "class names not JSON": (dict(class_names="T-shirt, Trouser, ..."), "class_names 'T-shirt, Trouser"),
    "class names an object": (dict(class_names=json.dumps(dict(enumerate(CLASS_NAMES)))), "class_names '{"),
    "class names nested past the stack": (dict(class_names="[" * 100_000), r"class_names '\[\[\[.*\.\.\.'"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_contract_is_a_model_error(tmp_path, case):
    spec, match = BROKEN[case]
    path = write_tiny_model(tmp_path / "model.onnx", **spec)
    with pytest.raises(ModelError, match=match) as caught:
        Predictor(path, device="cpu")
    message = str(caught.value)
    assert message.startswith(str(path)) and "\n" not in message
    assert "train-and-export" in message  # how to fix it


def declared(name, kind, shape):
    return SimpleNamespace(name=name, type=kind, shape=shape)


GOOD_INPUTS = [declared("images", "tensor(uint8)", ["batch", 28, 28])]
GOOD_OUTPUTS = [
    declared("probabilities", "tensor(float)", ["batch", 10]),
    declared("logits", "tensor(float)", ["batch", 10]),
]


def test_the_signature_check_needs_no_session():
    # What training's verify() and the Predictor both call, on what onnxruntime declares.
    check_signature(GOOD_INPUTS, GOOD_OUTPUTS, "m.onnx")  # no error
    check_signature(GOOD_INPUTS, [*reversed(GOOD_OUTPUTS), declared("extra", "tensor(int64)", [])], "m.onnx")
    wrong = [GOOD_OUTPUTS[0], declared("scores", "tensor(float)", ["batch", 10])]
    with pytest.raises(ModelError, match=r"^m\.onnx is not .*without logits; expected .* \(my fix\)$"):
        check_signature(GOOD_INPUTS, wrong, "m.onnx", fix="my fix")
    with pytest.raises(ModelError, match=r"its input is images: uint8 \[N, 28, 27\]"):
        check_signature([declared("images", "tensor(uint8)", ["N", 28, 27])], GOOD_OUTPUTS, "m.onnx")


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "not a loadable ONNX model"),
        (b"\x00\xff garbage \x13\x37" * 500, "not a loadable ONNX model"),
        (b"\x08" + b"\xff" * 40, "not a loadable ONNX model"),
    ],
)
def test_bytes_that_are_no_model_are_a_model_error(tmp_path, content, match):
    path = tmp_path / "model.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=match):
        Predictor(path, device="cpu")


@pytest.mark.parametrize("key", ["variant", "class_names"])
def test_metadata_that_is_not_utf8_is_a_model_error(tmp_path, key):
    # protobuf writes only valid UTF-8 strings: put the bad bytes in after serialising
    spec = dict(metadata={key: "PLACEHOLDER"}) if key != "class_names" else dict(class_names="PLACEHOLDER")
    path = tmp_path / "model.onnx"
    path.write_bytes(tiny_model(**spec).SerializeToString().replace(b"PLACEHOLDER", b"\xff\xfe" * 5 + b"\xff"))
    with pytest.raises(ModelError, match="metadata that is not UTF-8"):
        Predictor(path, device="cpu")


def test_a_file_too_large_to_be_a_model_is_refused_unread(tmp_path, monkeypatch):
    from inference.core import predictor as module

    path = write_tiny_model(tmp_path / "model.onnx")
    monkeypatch.setattr(module, "MAX_MODEL_BYTES", path.stat().st_size - 1)
    monkeypatch.setattr(type(path), "read_bytes", lambda self: pytest.fail("read a file it should refuse"))
    with pytest.raises(ModelError, match="more than any ONNX model can be"):
        Predictor(path, device="cpu")


def test_an_unreadable_model_is_a_model_error(tmp_path, monkeypatch):
    path = write_tiny_model(tmp_path / "model.onnx")

    def denied(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(type(path), "read_bytes", denied)  # tests run as root: chmod 000 would not stop them
    with pytest.raises(ModelError, match="cannot read the model .*: Permission denied"):
        Predictor(path, device="cpu")


def test_optional_metadata_is_read_when_it_parses(tiny):
    predictor = Predictor(tiny, device="cpu")
    assert predictor.test_accuracy == pytest.approx(0.8312)
    assert predictor.temperature == pytest.approx(1.25)
    assert predictor.dataset_sha256 == "ab" * 32
    assert predictor.created == GOOD_META["created"]
    assert predictor.variant == "concise"


@pytest.mark.parametrize(
    "key, value",
    [
        ("test_accuracy", "n/a"),
        ("test_accuracy", "nan"),
        ("test_accuracy", "1.5"),
        ("test_accuracy", "-0.1"),
        ("test_accuracy", ""),
        ("temperature", "0"),
        ("temperature", "-1"),
        ("temperature", "inf"),
        ("temperature", "warm"),
        ("dataset_sha256", "not-a-digest"),
        ("dataset_sha256", "AB" * 32 + "00"),
        ("created", "yesterday"),
        ("created", "2026-13-45"),
        ("variant", "   "),
    ],
)
def test_optional_metadata_that_does_not_parse_is_unknown(tmp_path, key, value):
    path = write_tiny_model(tmp_path / "model.onnx", metadata={**GOOD_META, key: value})
    predictor = Predictor(path, device="cpu")
    assert getattr(predictor, key) is None
    others = {k for k in GOOD_META if k != key}
    assert all(getattr(predictor, k) is not None for k in others)  # one bad value spoils nothing else


def test_missing_optional_metadata_is_unknown(tmp_path):
    predictor = Predictor(write_tiny_model(tmp_path / "model.onnx"), device="cpu")
    assert (
        predictor.test_accuracy,
        predictor.temperature,
        predictor.dataset_sha256,
        predictor.created,
        predictor.variant,
    ) == (None, None, None, None, None)


CORRECTIONS_META = {
    "corrections_train": json.dumps({"relabel": 3, "confirmed": 1, "exclude": 2}),
    "corrections_test": json.dumps({"relabel": 1, "confirmed": 0, "exclude": 0}),
    "corrections_digest": "cd" * 32,
    "corrections_test_digest": "ef" * 32,
    "test_accuracy_corrected": "0.835000",
}


def test_the_corrections_a_model_was_trained_with_are_read(tmp_path):
    path = write_tiny_model(tmp_path / "model.onnx", metadata={**GOOD_META, **CORRECTIONS_META})
    used = Predictor(path, device="cpu").corrections
    assert used == CorrectionsUsed(
        train={"relabel": 3, "confirmed": 1, "exclude": 2},
        test={"relabel": 1, "confirmed": 0, "exclude": 0},
        digest="cd" * 32,
        test_digest="ef" * 32,
        test_accuracy_corrected=pytest.approx(0.835),
    )
    assert Predictor(write_tiny_model(tmp_path / "plain.onnx"), device="cpu").corrections is None


@pytest.mark.parametrize(
    "key, value",
    [
        ("corrections_train", "{not json"),
        ("corrections_train", json.dumps([3, 1, 2])),
        ("corrections_train", json.dumps({"relabel": -1})),
        ("corrections_train", json.dumps({"relabel": True})),
        ("corrections_test", json.dumps({"relabel": 1.5})),
        ("corrections_digest", "short"),
        ("corrections_test_digest", "CD" * 32),
        ("test_accuracy_corrected", "1.2"),
    ],
)
def test_corrections_metadata_that_does_not_parse_is_unknown(key, value):
    field = {
        "corrections_train": "train",
        "corrections_test": "test",
        "corrections_digest": "digest",
        "corrections_test_digest": "test_digest",
        "test_accuracy_corrected": "test_accuracy_corrected",
    }[key]
    used = ModelMetadata.parse({**CORRECTIONS_META, key: value}).corrections
    assert used is not None and getattr(used, field) is None
    assert all(getattr(used, f) is not None for f in vars(used) if f != field)  # the others still read


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(device="gpu"), "device must be one of"),
        (dict(device=None), "device must be one of"),
        (dict(device=["cpu"]), "device must be one of"),
        (dict(threads=0), "threads must be"),
        (dict(threads=True), "threads must be"),
        (dict(threads=2.0), "threads must be"),
        (dict(threads=10**30), "threads must be"),
        (dict(chunk=0), "chunk must be"),
        (dict(chunk=False), "chunk must be"),
        (dict(chunk="64"), "chunk must be"),
    ],
)
def test_bad_arguments_are_argument_errors(tiny, kwargs, match):
    with pytest.raises(ArgumentError, match=match) as caught:
        Predictor(tiny, **kwargs)
    assert isinstance(caught.value, InferenceError) and isinstance(caught.value, ValueError)


def test_more_threads_than_cpus_are_refused_up_to_the_limit(tiny):
    assert Predictor(tiny, device="cpu", threads=thread_limit()).threads == thread_limit()
    with pytest.raises(ArgumentError, match=f"from 1 to {thread_limit()}"):
        Predictor(tiny, threads=thread_limit() + 1)


def test_a_model_that_is_not_a_path_is_an_argument_error():
    with pytest.raises(ArgumentError, match="model must be a path"):
        Predictor(tiny_model())


# --- what the commands make of it ----------------------------------------------------------


CLI_CASES = [
    "twelve classes",
    "classes only known by running",
    "two inputs",
    "integer class names",
    "class names not JSON",
    "float input",
]


@pytest.fixture
def images(tmp_path):
    path = tmp_path / "images.npy"
    np.save(path, np.zeros((3, 28, 28), np.uint8))
    return path


@pytest.mark.parametrize("case", CLI_CASES + ["garbage"])
def test_fashion_predict_says_one_line_and_exits_2(tmp_path, images, capfd, case):
    from inference.adapters.predict_command import main

    model = tmp_path / "model.onnx"
    if case == "garbage":
        model.write_bytes(b"\x00garbage" * 100)
    else:
        write_tiny_model(model, **BROKEN[case][0])
    out = tmp_path / "out.csv"
    assert main([str(images), "--model", str(model), "-o", str(out)]) == 2
    printed = capfd.readouterr()  # capfd, not capsys: onnxruntime's own log lines would come from C++
    lines = printed.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"fashion-predict: error: {model}"), printed.err
    assert printed.out == "" and not out.exists()


@pytest.mark.parametrize("case", ["twelve classes", "integer class names"])
def test_fashion_serve_says_one_line_and_exits_2(tmp_path, capfd, case):
    from inference.adapters.serve_command import main

    model = write_tiny_model(tmp_path / "model.onnx", **BROKEN[case][0])
    assert main(["--model", str(model)]) == 2  # refused before it binds a port
    lines = capfd.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"fashion-serve: error: {model}")
