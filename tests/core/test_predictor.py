"""The Predictor on the session's exported model: results, input forms, chunking, devices,
threads, and damaged copies of it. The model contract itself is in test_model_contract.py."""

from __future__ import annotations

import gc
import subprocess
import sys
import threading
import weakref

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from inference.core import predictor as predictor_module
from inference.core.classes import CLASS_NAMES
from inference.core.errors import ArgumentError, InferenceError, InputError, ModelError
from inference.core.model_repository import resolve_model_path
from inference.core.predictor import SPLIT_FROM, Prediction, Predictor, default_threads
from testkit.examples import examples


@pytest.fixture(scope="module")
def predictor(model_path):
    return Predictor(model_path, device="cpu")


# --- results -------------------------------------------------------------------------------


def test_scores_the_test_set_at_the_exported_accuracy(predictor, test_split):
    result = predictor.predict(test_split.images)
    assert isinstance(result, Prediction)
    accuracy = (result.labels == test_split.labels).mean()
    assert accuracy == pytest.approx(predictor.test_accuracy, abs=1e-6)
    assert result.probabilities.shape == (10_000, 10) and result.probabilities.dtype == np.float32
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert result.class_names[:3] == [CLASS_NAMES[i] for i in result.labels[:3]]
    np.testing.assert_array_equal(result.confidence, result.probabilities.max(axis=1))


def test_metadata_comes_from_the_file(predictor, model_path, test_split):
    assert predictor.class_names == list(CLASS_NAMES)
    assert predictor.path == model_path
    assert len(predictor.sha256) == 64
    assert predictor.dataset_sha256 == predictor.metadata["dataset_sha256"] == test_split.digest
    assert 0.5 < predictor.test_accuracy < 1
    assert predictor.variant == "concise" and predictor.created is not None


def test_logits_give_the_probabilities(predictor, test_split):
    images = test_split.images[:100]
    logits = predictor.logits(images).astype(np.float64)
    softmax = np.exp(logits - logits.max(1, keepdims=True))
    softmax /= softmax.sum(1, keepdims=True)
    np.testing.assert_allclose(predictor.predict_proba(images), softmax, atol=1e-6)


def test_opens_the_repository_folder(model_repo, model_path):
    assert resolve_model_path(model_repo) == model_path
    assert Predictor(model_repo).path == model_path


@given(st.integers(1, 40), st.integers(1, 2600))
@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_chunking_does_not_change_results(predictor, test_split, chunk, n):
    small = Predictor.__new__(Predictor)
    small.__dict__.update(predictor.__dict__, chunk=chunk)
    images = test_split.images[:n]
    np.testing.assert_array_equal(small.predict_proba(images), predictor.predict_proba(images))


@given(hnp.arrays(np.uint8, st.tuples(st.integers(1, 8), st.just(28), st.just(28))))
@settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_input_form_gives_the_same_prediction(predictor, batch):
    expected = predictor.predict_proba(batch)
    n = len(batch)
    for form in (
        batch.reshape(n, 784),
        batch.reshape(n, 1, 28, 28),
        batch.astype(np.float32) / 255,
        batch.astype(np.int64),
        np.asfortranarray(batch),
    ):
        np.testing.assert_array_equal(predictor.predict_proba(form), expected)
    assert np.isfinite(expected).all()
    np.testing.assert_allclose(expected.sum(axis=1), 1.0, atol=1e-5)


def test_a_single_image_is_a_batch_of_one(predictor, test_split):
    result = predictor.predict(test_split.images[0])
    assert result.labels.shape == (1,) and len(result.class_names) == 1


def test_batches_are_scored_lazily(predictor, test_split):
    consumed = []

    def batches():
        for start in range(0, 3000, 1000):
            consumed.append(start)
            yield test_split.images[start : start + 1000]

    stream = predictor.predict_batches(batches())
    first = next(stream)
    assert consumed == [0]  # nothing read ahead: memory stays bounded by one batch
    rest = list(stream)
    labels = np.concatenate([first.labels] + [r.labels for r in rest])
    np.testing.assert_array_equal(labels, predictor.predict(test_split.images[:3000]).labels)


def test_a_bad_batch_in_a_stream_is_an_input_error(predictor):
    stream = predictor.predict_batches([np.zeros((2, 28, 28), np.uint8), np.zeros((2, 5), np.uint8)])
    next(stream)
    with pytest.raises(InputError, match=r"got \(2, 5\)"):
        next(stream)


@pytest.mark.parametrize(
    "images, error",
    [
        (np.zeros((0, 28, 28), np.uint8), ValueError),
        (np.full((1, 28, 28), np.nan, np.float32), ValueError),
        (np.full((1, 28, 28), 2.0), ValueError),
        (np.zeros((1, 27, 28), np.uint8), ValueError),
        (np.zeros((1, 28, 28), object), ValueError),
        ([[0] * 784], TypeError),
        ("img.png", TypeError),
    ],
)
def test_bad_images_are_refused_before_onnxruntime_sees_them(predictor, images, error):
    with pytest.raises(error) as caught:
        predictor.predict(images)
    assert isinstance(caught.value, InferenceError)


# --- devices and threads -------------------------------------------------------------------


def test_auto_says_which_device_it_chose(model_path):
    predictor = Predictor(model_path)  # auto
    assert predictor.device in ("cpu", "cuda")
    assert predictor.providers == predictor.session.get_providers()
    assert predictor.device in predictor.describe() and str(model_path) in predictor.describe()


@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(), reason="this onnxruntime has CUDA")
def test_cuda_without_the_gpu_build_is_a_clear_error(model_path):
    with pytest.raises(ModelError, match="no CUDAExecutionProvider.*onnxruntime-gpu"):
        Predictor(model_path, device="cuda")


@pytest.mark.filterwarnings("ignore:Specified provider 'CUDAExecutionProvider'")
def test_cuda_that_fails_to_initialise_is_an_error_and_auto_falls_back(model_path, monkeypatch):
    # A GPU build on a machine without a usable GPU lists CUDA as available, then onnxruntime
    # quietly drops it while creating the session: only get_providers() tells.
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("a real CUDA provider is present; tested on the GPU machine instead")
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    with pytest.raises(ModelError, match="did not initialise"):
        Predictor(model_path, device="cuda")
    assert Predictor(model_path, device="auto").device == "cpu"


@pytest.mark.parametrize("device", ["gpu", "CUDA", "", None])
def test_unknown_devices_are_refused(model_path, device):
    with pytest.raises(ArgumentError, match="device must be one of"):
        Predictor(model_path, device=device)


@pytest.mark.parametrize("threads", [0, -1, 1.5, "2"])
def test_bad_thread_counts_are_refused(model_path, threads):
    with pytest.raises(ArgumentError, match="threads must be"):
        Predictor(model_path, threads=threads)


def test_thread_counts_are_settable_and_default_sensibly(model_path, monkeypatch):
    assert Predictor(model_path, threads=1).threads == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # what Ray and torchrun set in each worker
    assert default_threads() == 1 and Predictor(model_path).threads == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert default_threads() >= 1


def test_importing_the_predictor_stays_light():
    code = (
        "import sys, inference.core.predictor, inference.core.input_files, inference.adapters.predict_command; "
        "heavy = {'torch', 'fastapi', 'PIL', 'uvicorn', 'tqdm'} & set(sys.modules); "
        "print(','.join(sorted(heavy)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "", f"imported {result.stdout}{result.stderr}"


# --- scoring a batch on several threads ---------------------------------------------------


@pytest.fixture(scope="module")
def sequential(model_path):
    return Predictor(model_path, device="cpu", threads=1)


@pytest.fixture()
def threaded(model_path, monkeypatch):
    """A Predictor with `threads` scoring threads, more than this machine's cores if need be:
    the results must not depend on how many cores there are."""
    monkeypatch.setattr(predictor_module, "thread_limit", lambda: 8)
    made = []

    def make(threads: int) -> Predictor:
        predictor = Predictor(model_path, device="cpu", threads=threads)
        made.append(weakref.ref(predictor))  # weak: a test may let its Predictor go
        return predictor

    yield make
    for ref in made:
        if (predictor := ref()) is not None:
            predictor.close()


def helper_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("predictor")}


@pytest.mark.parametrize("threads", [2, 3])
def test_threads_give_the_same_bits_as_one_thread(threaded, sequential, test_split, threads):
    predictor = threaded(threads)
    images = test_split.images
    np.testing.assert_array_equal(predictor.predict_proba(images), sequential.predict_proba(images))
    np.testing.assert_array_equal(predictor.logits(images), sequential.logits(images))
    floats = images[:3001].astype(np.float32) / 255  # converted piece by piece, on the helpers too
    np.testing.assert_array_equal(predictor.predict_proba(floats), sequential.predict_proba(images[:3001]))


@given(n=st.integers(1, 2600), chunk=st.integers(1, 1100), split_from=st.integers(1, 1100), threads=st.integers(2, 4))
@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_split_gives_the_same_bits(threaded, sequential, test_split, n, chunk, split_from, threads):
    predictor = threaded(threads)
    predictor.chunk, predictor.split_from = chunk, split_from  # pieces at every boundary and size
    images = test_split.images[-n:]
    np.testing.assert_array_equal(predictor.predict_proba(images), sequential.predict_proba(images))


@pytest.mark.parametrize("bad_image", [0, 1500, 2999])  # the first piece, a middle one, the last
def test_an_error_in_any_piece_reaches_the_caller(threaded, test_split, bad_image):
    predictor = threaded(2)
    images = test_split.images[:3000].astype(np.float32) / 255
    images[bad_image, 3, 4] = np.nan
    with pytest.raises(InputError, match="NaN or infinity"):
        predictor.predict_proba(images)
    images[bad_image, 3, 4] = 0.5
    assert predictor.predict(images).labels.shape == (3000,)  # the threads still work afterwards


def test_callers_on_several_threads_share_one_predictor(threaded, sequential, test_split):
    predictor = threaded(2)  # what fashion-serve does: one Predictor, requests on worker threads
    slices = [slice(i * 1300, i * 1300 + 1000 + 97 * i) for i in range(6)]
    results = [None] * len(slices)

    def score(i: int) -> None:
        results[i] = predictor.predict_proba(test_split.images[slices[i]])

    callers = [threading.Thread(target=score, args=(i,)) for i in range(len(slices))]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(timeout=60)
    for part, result in zip(slices, results, strict=False):
        np.testing.assert_array_equal(result, sequential.predict_proba(test_split.images[part]))


def test_helper_threads_are_started_once_and_stopped_with_the_predictor(threaded, test_split):
    before = helper_threads()
    predictor = threaded(3)
    predictor.predict(test_split.images[: SPLIT_FROM - 1])  # too small to split: no helpers
    assert not helper_threads() - before  # (other Predictors' helpers may end meanwhile: compare new ones)
    predictor.predict(test_split.images)
    started = helper_threads() - before
    assert 1 <= len(started) <= 2
    for _ in range(5):
        predictor.predict(test_split.images)
    kept = helper_threads() - before
    assert started <= kept and len(kept) <= 2  # kept and reused, never more than threads - 1
    predictor.close()
    for thread in kept:
        thread.join(timeout=10)
    assert not any(t.is_alive() for t in kept)
    assert predictor.predict(test_split.images).labels.shape == (10_000,)  # starts them again
    again = helper_threads() - before
    del predictor
    gc.collect()
    for thread in again:
        thread.join(timeout=10)
    assert again and not any(t.is_alive() for t in again)


def test_one_thread_starts_no_helpers(sequential, test_split):
    before = helper_threads()
    sequential.predict(test_split.images)
    assert not helper_threads() - before and sequential.split_from is None


# --- damaged model files ---------------------------------------------------------------------


BAD_MODELS = {
    "truncated": lambda good: good[: len(good) // 2],
    "empty": lambda good: b"",
    "text": lambda good: b"this is not a model\n" * 10,
    "one byte flipped in the header": lambda good: bytes([good[0] ^ 0xFF]) + good[1:],
}


@pytest.mark.parametrize("kind", sorted(BAD_MODELS))
def test_bad_model_files_are_a_model_error(model_path, tmp_path, kind):
    path = tmp_path / "model.onnx"
    path.write_bytes(BAD_MODELS[kind](model_path.read_bytes()))
    with pytest.raises(ModelError, match="not a loadable ONNX model") as caught:
        Predictor(path)
    assert str(path) in str(caught.value) and isinstance(caught.value, InferenceError)


def test_a_missing_model_says_how_to_make_one(tmp_path):
    with pytest.raises(ModelError, match="does not exist.*train-and-export"):
        Predictor(tmp_path / "nope.onnx")
    with pytest.raises(ModelError, match="no model in.*fashion_mnist/<version>/model.onnx"):
        Predictor(tmp_path)


def test_a_model_that_is_a_folder_name_for_a_file_is_refused(tmp_path):
    (tmp_path / "fashion_mnist" / "1").mkdir(parents=True)
    with pytest.raises(ModelError, match="no model in"):
        Predictor(tmp_path)


def test_the_real_export_passes_onnx_checker(model_path):
    onnx.checker.check_model(onnx.load(model_path))  # so the bad cases above are bad for their own reason
