"""`fashion-serve` as users meet it: the real server in a subprocess on a free loopback port,
spoken to over HTTP, then fuzzed by schemathesis from its own OpenAPI document."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys

import httpx
import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from PIL import Image
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from inference.adapters.serve_command import bind, main, parse_args
from inference.core.classes import CLASS_NAMES
from inference.core.predictor import Predictor
from testkit.examples import examples
from testkit.serve_process import serving

LIMIT = 64 * 1024  # small, so the 413 tests stay quick; 83 raw images fit


@pytest.fixture(scope="module")
def server(tiny_model_path):
    with serving(tiny_model_path, "--max-body-bytes", str(LIMIT), "--threads", "1") as (base, _):
        yield base


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def reference(tiny_model_path):
    return Predictor(tiny_model_path, device="cpu")


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


# --- the happy paths ------------------------------------------------------------------------


def test_health_and_metadata(client, reference):
    assert client.get("/health").json() == {"status": "ok", "device": reference.device}
    meta = client.get("/metadata").json()
    assert meta["classes"] == list(CLASS_NAMES)
    assert meta["model_sha256"] == reference.sha256
    assert meta["test_accuracy"] == pytest.approx(reference.test_accuracy)
    assert meta["dataset_sha256"] == reference.metadata["dataset_sha256"]


def test_json_batch_matches_the_predictor(client, reference, test_split):
    images = test_split.images[:5]
    response = client.post("/predict", json={"images": images.reshape(5, 784).tolist()})
    assert response.status_code == 200, response.text
    body = response.json()
    expected = reference.predict(images)
    assert [p["label"] for p in body["predictions"]] == expected.labels.tolist()
    assert [p["class_name"] for p in body["predictions"]] == expected.class_names
    np.testing.assert_allclose([p["probabilities"] for p in body["predictions"]], expected.probabilities, atol=1e-7)
    assert body["model_sha256"] == reference.sha256 and body["errors"] == []


def test_json_accepts_28_rows_of_28(client, reference, test_split):
    response = client.post("/predict", json={"images": test_split.images[:2].tolist()})
    assert response.status_code == 200
    assert [p["label"] for p in response.json()["predictions"]] == reference.predict(
        test_split.images[:2]
    ).labels.tolist()


def test_raw_bytes_batch(client, reference, test_split):
    images = test_split.images[:40]
    response = client.post("/predict", content=images.tobytes(), headers={"content-type": "application/octet-stream"})
    assert response.status_code == 200
    assert [p["label"] for p in response.json()["predictions"]] == reference.predict(images).labels.tolist()


def test_png_uploads_keep_good_files_and_name_the_bad_one(client, reference, test_split):
    files = [
        ("file", ("a.png", png(test_split.images[0]), "image/png")),
        ("file", ("broken.png", b"\x89PNG not really", "image/png")),
        ("file", ("b.png", png(test_split.images[1]), "image/png")),
    ]
    response = client.post("/predict", files=files)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [p["name"] for p in body["predictions"]] == ["a.png", "b.png"]
    assert [p["label"] for p in body["predictions"]] == reference.predict(test_split.images[:2]).labels.tolist()
    assert [e["name"] for e in body["errors"]] == ["broken.png"]


# --- what clients get wrong -----------------------------------------------------------------


@pytest.mark.parametrize(
    "content, content_type, status, reason",
    [
        (b'{"images": [[1, 2', "application/json", 400, "not valid JSON"),
        (b"\xff\xfe", "application/json", 400, "not valid JSON"),
        (b'{"images": [[1, 2]]}', "application/json", 422, r"got (1, 2)"),
        (b'{"images": []}', "application/json", 422, "empty batch"),
        (b'{"images": [[0.5]]}', "application/json", 422, "integers 0..255"),
        (json.dumps({"images": [[300] * 784]}).encode(), "application/json", 422, "0..255"),
        (json.dumps({"images": [[0] * 784, [0] * 3]}).encode(), "application/json", 422, "rectangular"),
        (b'{"images": "abc"}', "application/json", 422, "integers"),
        (b"[1, 2, 3]", "application/json", 422, "JSON object"),
        (b'{"images": [[0]], "extra": 1}', "application/json", 422, "one key"),
        (b"", "application/octet-stream", 422, "N*784 bytes"),
        (b"\x00" * 785, "application/octet-stream", 422, "got 785 bytes"),
        (b"hello", "text/plain", 415, "not supported"),
        (b"--x\r\nbroken", "multipart/form-data", 400, "multipart"),  # no boundary
        (b"--x--\r\n", "multipart/form-data; boundary=x", 422, "no files"),
    ],
)
def test_malformed_requests_get_4xx_with_a_reason(client, content, content_type, status, reason):
    response = client.post("/predict", content=content, headers={"content-type": content_type})
    assert response.status_code == status, response.text
    assert reason in response.json()["detail"]


def test_a_request_without_content_type_is_415(client):
    response = client.post("/predict", content=b"\x00" * 784, headers={"content-type": ""})
    assert response.status_code == 415


def test_uploads_that_are_all_bad_are_422_naming_each(client):
    response = client.post(
        "/predict", files=[("file", ("x.png", b"nope", "image/png")), ("file", ("y.jpg", b"", "image/jpeg"))]
    )
    assert response.status_code == 422
    assert "x.png" in response.json()["detail"] and "y.jpg" in response.json()["detail"]


def test_bodies_over_the_limit_are_413_by_content_length(client):
    response = client.post(
        "/predict", content=b"\x00" * (LIMIT + 784), headers={"content-type": "application/octet-stream"}
    )
    assert response.status_code == 413 and "limit" in response.json()["detail"]


def test_bodies_over_the_limit_are_413_when_streamed(client):
    def chunks():  # no Content-Length: the server must count what actually arrives
        for _ in range(LIMIT // 4096 + 4):
            yield b"\x00" * 4096

    response = client.post("/predict", content=chunks(), headers={"content-type": "application/octet-stream"})
    assert response.status_code == 413 and "limit" in response.json()["detail"]
    assert client.get("/health").status_code == 200  # and the server is fine afterwards


def test_unknown_routes_and_methods_are_4xx(client):
    assert client.get("/predict").status_code == 405
    assert client.get("/nope").status_code == 404


def test_the_trained_model_serves_what_the_predictor_says(model_repo, model_path, test_split):
    """The smoke test on the session's trained model, served from its repository as users do;
    the tests above need only a model and use the tiny one."""
    images = test_split.images[:80]
    reference = Predictor(model_path, device="cpu")
    with serving(model_repo) as (base, _), httpx.Client(base_url=base, timeout=30) as client:
        meta = client.get("/metadata").json()
        response = client.post(
            "/predict", content=images.tobytes(), headers={"content-type": "application/octet-stream"}
        )
    assert meta["model_sha256"] == reference.sha256 and meta["test_accuracy"] == pytest.approx(reference.test_accuracy)
    assert response.status_code == 200, response.text
    expected = reference.predict(images)
    predictions = response.json()["predictions"]
    assert [p["label"] for p in predictions] == expected.labels.tolist()
    np.testing.assert_allclose([p["probabilities"] for p in predictions], expected.probabilities, atol=1e-7)


# --- the command ----------------------------------------------------------------------------


def test_binds_loopback_by_default():
    assert parse_args([]).host == "127.0.0.1"


def test_the_listener_says_it_is_tcp():
    # asyncio turns Nagle off only for sockets whose proto is TCP; a proto-0 socket made every
    # response wait ~40 ms for a delayed ACK (benchmarks/serve_load.py found it).
    listener = bind("127.0.0.1", 0)
    try:
        assert listener.proto == socket.IPPROTO_TCP
    finally:
        listener.close()


def test_a_bad_model_exits_2_with_one_line(tmp_path, capsys):
    (tmp_path / "m.onnx").write_bytes(b"junk")
    assert main(["--model", str(tmp_path / "m.onnx")]) == 2
    assert capsys.readouterr().err.strip().startswith("fashion-serve: error: ")


def test_a_port_in_use_exits_2(tiny_model_path, server):
    port = server.rsplit(":", 1)[1]
    result = subprocess.run(
        [sys.executable, "-m", "inference.adapters.serve_command", "--model", str(tiny_model_path), "--port", port],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2


# --- schemathesis against the served OpenAPI document ---------------------------------------
# Driven through its Python API with hypothesis' @given: schemathesis' own pytest plugin
# (`from_fixture`) does not run on pytest 9 yet.

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
OPERATIONS = [
    ("/health", "GET", None),
    ("/metadata", "GET", None),
    ("/predict", "POST", "application/json"),
    ("/predict", "POST", "application/octet-stream"),
    ("/predict", "POST", "multipart/form-data"),
]


@pytest.fixture(scope="module")
def api_schema(server):
    return schemathesis.openapi.from_url(f"{server}/openapi.json")


# A GET without parameters has nothing to send wrong, so it gets positive cases only.
# Valid bodies are all alike (the happy-path tests above check their answers), so 10 of them cover
# the schema; wrong ones vary, and keep 25. One valid example is hundreds of drawn values (784
# pixels an image), and 25 of them took 12-28 s for one media type.
EXAMPLES = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 25}
CASES = [
    pytest.param(path, method, media_type, mode, id=f"{method} {path} {media_type or ''} {mode}")
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    for path, method, media_type in OPERATIONS
    if media_type is not None or mode == GenerationMode.POSITIVE
]


def httpx_request(client, case, base_url):
    """The case as an httpx request. schemathesis serializes a case for requests, whose rules differ:
    raw bytes go as `content=` in httpx, multipart values must be str or bytes (requests writes
    str(value) and drops None), cookies go as a header (httpx deprecates them per request)."""
    kwargs = case.as_transport_kwargs(base_url=base_url)
    if isinstance(kwargs.get("data"), bytes | str):
        kwargs["content"] = kwargs.pop("data")
    if kwargs.get("files"):
        kwargs["files"] = [
            (name, (part[0], part[1] if isinstance(part[1], bytes | str) else str(part[1]), *part[2:]))
            for name, part in kwargs["files"]
            if part[1] is not None
        ]
    cookies = kwargs.pop("cookies", None) or {}
    if cookies:
        kwargs["headers"]["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    request = client.build_request(**kwargs)
    request.read()  # schemathesis reads the body back when it validates; a multipart stream is not kept
    return request


@pytest.mark.parametrize("path, method, media_type, mode", CASES)
def test_the_openapi_document_holds(api_schema, server, path, method, media_type, mode):
    operation = api_schema[path][method]
    # One keep-alive client for all the examples, as a caller with many requests would hold.
    with httpx.Client(timeout=30) as client:

        @given(case=operation.as_strategy(mode, media_type=media_type))
        @settings(
            max_examples=examples(EXAMPLES[mode]), deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def holds(case):
            response = client.send(httpx_request(client, case, server))
            case.validate_response(response, checks=CHECKS)
            if mode == GenerationMode.NEGATIVE:
                # schemathesis' negative_data_rejection does not count 413 as a rejection; any 4xx is one.
                assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])

        holds()
