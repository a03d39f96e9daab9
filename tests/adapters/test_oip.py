"""`fashion-serve` through Triton's own client, tritonclient.http, the way Triton's
simple_http_infer_client.py drives a server: health, metadata, config, JSON and binary infer,
classification, versions, errors, statistics and metrics, on the real server in a subprocess.

The repository holds two versions of the tiny model (different weights), so a request for a
version is seen to reach that version; probabilities are compared with the Predictor's on the
10,000 test images in binary, on the first 4,000 in JSON.
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest
import tritonclient.http as httpclient
from google.protobuf import json_format, text_format
from prometheus_client.parser import text_string_to_metric_families
from tritonclient.grpc import model_config_pb2
from tritonclient.utils import InferenceServerException

from inference.core.classes import CLASS_NAMES
from inference.core.model_repository import MODEL_NAME, onnx_path, write_model
from inference.core.predictor import Predictor
from testkit.serve_process import serving, triton_numbers
from testkit.tiny_models import tiny_model, tiny_weights

BATCH = 2000  # images per request: 10,000 in five, each JSON body ~5.5 MB (parsed in the JSON worker)
# JSON differs from binary only in how each number is written, the same for every image: two bodies
# cover it, and JSON over all 10,000 images took 7 s of a quiet run.
JSON_IMAGES = 2 * BATCH


@pytest.fixture(scope="module")
def repository(tmp_path_factory):
    out = tmp_path_factory.mktemp("oip")
    for seed in (0, 1):
        write_model(out, tiny_model(weights=tiny_weights(seed=seed)).SerializeToString())
    return out


@pytest.fixture(scope="module")
def server(repository):
    with serving(repository, "--threads", "1") as (base, port):
        yield base, port


@pytest.fixture(scope="module")
def client(server):
    with httpclient.InferenceServerClient(f"127.0.0.1:{server[1]}", network_timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
def predictors(repository):
    return {v: Predictor(onnx_path(repository, int(v)), device="cpu", threads=1) for v in ("1", "2")}


def images_input(images: np.ndarray, binary: bool = True) -> httpclient.InferInput:
    tensor = httpclient.InferInput("images", list(images.shape), "UINT8")
    tensor.set_data_from_numpy(images, binary_data=binary)
    return tensor


def metric(base: str, name: str, **labels) -> float:
    for family in text_string_to_metric_families(httpx.get(f"{base}/metrics").text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    raise AssertionError(f"{name} {labels} is not in /metrics")


def test_health_and_readiness(client):
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready(MODEL_NAME)
    assert client.is_model_ready(MODEL_NAME, "1") and client.is_model_ready(MODEL_NAME, "2")
    assert not client.is_model_ready(MODEL_NAME, "3")
    assert not client.is_model_ready("no_such_model")


def test_metadata_as_triton_reports_it(client):
    server = client.get_server_metadata()
    assert {"binary_tensor_data", "classification", "statistics", "model_configuration"} <= set(server["extensions"])
    assert client.get_model_metadata(MODEL_NAME) == {
        "name": MODEL_NAME,
        "versions": ["1", "2"],
        "platform": "onnxruntime_onnx",
        "inputs": [{"name": "images", "datatype": "UINT8", "shape": [-1, 28, 28]}],
        "outputs": [
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, 10]},
            {"name": "logits", "datatype": "FP32", "shape": [-1, 10]},
        ],
    }
    assert client.get_model_metadata(MODEL_NAME, "1")["name"] == MODEL_NAME


def test_config_is_config_pbtxt_as_protobuf_reads_it(client, repository):
    text = (repository / MODEL_NAME / "config.pbtxt").read_text()
    parsed = text_format.Parse(text, model_config_pb2.ModelConfig())
    expected = triton_numbers(json_format.MessageToDict(parsed, preserving_proto_field_name=True))
    assert client.get_model_config(MODEL_NAME) == expected
    assert client.get_model_config(MODEL_NAME)["max_batch_size"] == 4096


# JSON: 4,000 images written and parsed as text, seconds.
@pytest.mark.parametrize("binary", [True, pytest.param(False, marks=pytest.mark.slow)], ids=["binary", "json"])
def test_every_test_image_scores_as_the_predictor_does(client, predictors, test_split, binary):
    images = test_split.images if binary else test_split.images[:JSON_IMAGES]
    reference = predictors["2"]  # the default: config.pbtxt serves the latest version
    for start in range(0, len(images), BATCH):
        part = images[start : start + BATCH]
        outputs = [httpclient.InferRequestedOutput(name, binary_data=binary) for name in ("probabilities", "logits")]
        result = client.infer(MODEL_NAME, [images_input(part, binary)], outputs=outputs)
        np.testing.assert_allclose(result.as_numpy("probabilities"), reference.predict_proba(part), rtol=0, atol=1e-6)
        np.testing.assert_allclose(result.as_numpy("logits"), reference.logits(part), rtol=0, atol=1e-5)
        assert result.get_response()["model_version"] == "2"


def test_only_the_requested_outputs_come_back_with_the_id(client, test_split):
    result = client.infer(
        MODEL_NAME,
        [images_input(test_split.images[:3])],
        request_id="req-42",
        outputs=[httpclient.InferRequestedOutput("logits")],
    )
    answer = result.get_response()
    assert answer["id"] == "req-42"
    assert [o["name"] for o in answer["outputs"]] == ["logits"]
    assert result.as_numpy("probabilities") is None and result.as_numpy("logits").shape == (3, 10)


def test_no_outputs_named_means_all_in_binary(client, test_split):
    answer = client.infer(MODEL_NAME, [images_input(test_split.images[:2])]).get_response()
    assert [o["name"] for o in answer["outputs"]] == ["probabilities", "logits"]
    assert all(o["parameters"]["binary_data_size"] == 2 * 10 * 4 for o in answer["outputs"])


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_classification_strings_are_tritons(client, predictors, test_split, binary):
    images = test_split.images[:20]
    outputs = [
        httpclient.InferRequestedOutput("probabilities", binary_data=binary, class_count=3),
        httpclient.InferRequestedOutput("logits", binary_data=binary, class_count=2),
    ]
    result = client.infer(MODEL_NAME, [images_input(images)], outputs=outputs)
    probs, logits = predictors["2"].predict_proba(images), predictors["2"].logits(images)
    got = result.as_numpy("probabilities")
    assert got.shape == (20, 3)
    for row, p in zip(got, probs, strict=False):
        top = np.argsort(-p, kind="stable")[:3]
        # labels.txt names the probabilities' classes; std::to_string prints the value as %f
        assert [s.decode() if isinstance(s, bytes) else s for s in row] == [
            f"{float(p[i]):f}:{i}:{CLASS_NAMES[i]}" for i in top
        ]
    first = result.as_numpy("logits")[0]
    top = np.argsort(-logits[0], kind="stable")[:2]
    assert [s.decode() if isinstance(s, bytes) else s for s in first] == [f"{float(logits[0][i]):f}:{i}" for i in top]


def test_a_version_is_served_as_asked(client, predictors, test_split):
    images = test_split.images[:50]
    outputs = [httpclient.InferRequestedOutput("probabilities")]
    v1 = client.infer(MODEL_NAME, [images_input(images)], model_version="1", outputs=outputs)
    np.testing.assert_allclose(v1.as_numpy("probabilities"), predictors["1"].predict_proba(images), rtol=0, atol=1e-6)
    assert v1.get_response()["model_version"] == "1"
    assert not np.allclose(v1.as_numpy("probabilities"), predictors["2"].predict_proba(images), atol=1e-3)


def _refused(call) -> InferenceServerException:
    with pytest.raises(InferenceServerException) as caught:
        call()
    return caught.value


def test_errors_say_what_is_wrong(client, test_split):
    images = test_split.images[:2]
    e = _refused(lambda: client.get_model_metadata("no_such_model"))
    assert e.status() == "404" and "no_such_model" in e.message()
    e = _refused(lambda: client.infer(MODEL_NAME, [images_input(images)], model_version="7"))
    assert e.status() == "404" and "version 7" in e.message()
    wrong_type = httpclient.InferInput("images", [2, 28, 28], "FP32")
    wrong_type.set_data_from_numpy(images.astype(np.float32))
    e = _refused(lambda: client.infer(MODEL_NAME, [wrong_type]))
    assert e.status() == "400" and "FP32" in e.message() and "UINT8" in e.message()
    e = _refused(lambda: client.infer(MODEL_NAME, [images_input(images[:, :, :27].copy())]))
    assert e.status() == "400" and "[2, 28, 27]" in e.message()
    e = _refused(
        lambda: client.infer(MODEL_NAME, [images_input(images)], outputs=[httpclient.InferRequestedOutput("features")])
    )
    assert e.status() == "400" and "features" in e.message()
    stranger = httpclient.InferInput("pixels", [2, 28, 28], "UINT8")
    stranger.set_data_from_numpy(images)
    e = _refused(lambda: client.infer(MODEL_NAME, [stranger]))
    assert e.status() == "400" and "pixels" in e.message()


def test_sizes_that_do_not_add_up_are_400_and_too_large_413(server):
    base = server[0]
    header = (
        b'{"inputs":[{"name":"images","shape":[1,28,28],"datatype":"UINT8","parameters":{"binary_data_size":784}}]}'
    )
    short = httpx.post(
        f"{base}/v2/models/{MODEL_NAME}/infer",
        content=header + b"\0" * 700,
        headers={"Inference-Header-Content-Length": str(len(header))},
    )
    assert short.status_code == 400 and "784" in short.json()["error"]
    json_count = httpx.post(
        f"{base}/v2/models/{MODEL_NAME}/infer",
        json={"inputs": [{"name": "images", "shape": [1, 28, 28], "datatype": "UINT8", "data": [1, 2]}]},
    )
    assert json_count.status_code == 400 and "784" in json_count.json()["error"]
    pixel = httpx.post(
        f"{base}/v2/models/{MODEL_NAME}/infer",
        json={"inputs": [{"name": "images", "shape": [1, 28, 28], "datatype": "UINT8", "data": [256] * 784}]},
    )
    assert pixel.status_code == 400 and "0..255" in pixel.json()["error"]
    huge = httpx.post(f"{base}/v2/models/{MODEL_NAME}/infer", content=b"\0" * (9 * 1024 * 1024))
    assert huge.status_code == 413 and "limit" in huge.json()["error"]
    assert httpx.delete(f"{base}/v2/models/{MODEL_NAME}").status_code == 405
    assert httpx.get(f"{base}/v2/nothing/here").status_code == 404


def test_statistics_count_what_was_served(client, test_split):
    before = client.get_inference_statistics(MODEL_NAME, "1")["model_stats"][0]
    for _ in range(3):
        client.infer(MODEL_NAME, [images_input(test_split.images[:5])], model_version="1")
    after = client.get_inference_statistics(MODEL_NAME, "1")["model_stats"][0]
    assert after["name"] == MODEL_NAME and after["version"] == "1"
    assert after["inference_count"] - before["inference_count"] == 15
    assert after["execution_count"] - before["execution_count"] == 3
    success = after["inference_stats"]["success"]
    assert success["count"] - before["inference_stats"]["success"]["count"] == 3
    assert success["ns"] > before["inference_stats"]["success"]["ns"]
    assert any(b["batch_size"] == 5 and b["compute_infer"]["count"] >= 3 for b in after["batch_stats"])
    every = client.get_inference_statistics()["model_stats"]
    assert [(s["name"], s["version"]) for s in every] == [(MODEL_NAME, "1"), (MODEL_NAME, "2")]


def test_metrics_move_as_requests_are_served(server, client, test_split):
    base = server[0]
    labels = {"model": MODEL_NAME, "version": "2"}
    names = (
        "nv_inference_request_success",
        "nv_inference_count",
        "nv_inference_exec_count",
        "nv_inference_request_duration_us",
        "nv_inference_compute_infer_duration_us",
    )
    before = {n: metric(base, n, **labels) for n in names}
    failed_before = metric(base, "nv_inference_request_failure", reason="OTHER", **labels)
    for _ in range(4):
        client.infer(MODEL_NAME, [images_input(test_split.images[:8])])
    _refused(lambda: client.infer(MODEL_NAME, [images_input(test_split.images[:1, :, :27].copy())]))
    after = {n: metric(base, n, **labels) for n in names}
    assert after["nv_inference_request_success"] - before["nv_inference_request_success"] == 4
    assert after["nv_inference_count"] - before["nv_inference_count"] == 32
    assert after["nv_inference_exec_count"] - before["nv_inference_exec_count"] == 4
    assert after["nv_inference_request_duration_us"] > before["nv_inference_request_duration_us"]
    assert after["nv_inference_compute_infer_duration_us"] > before["nv_inference_compute_infer_duration_us"]
    assert metric(base, "nv_inference_request_failure", reason="OTHER", **labels) == failed_before + 1
    assert metric(base, "nv_inference_pending_request_count", **labels) == 0


def test_repository_index_lists_every_version(client):
    index = client.get_model_repository_index()
    assert [(m["name"], m["version"]) for m in index] == [(MODEL_NAME, "1"), (MODEL_NAME, "2")]
    assert all(m["state"] == "READY" for m in index)  # both were asked for above, so both are open


def test_predict_still_answers_beside_v2(server, predictors, test_split):
    images = test_split.images[:4]
    answer = httpx.post(
        f"{server[0]}/predict", content=images.tobytes(), headers={"content-type": "application/octet-stream"}
    ).json()
    np.testing.assert_allclose(
        [p["probabilities"] for p in answer["predictions"]], predictors["2"].predict_proba(images), atol=1e-7
    )
