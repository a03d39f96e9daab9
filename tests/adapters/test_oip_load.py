"""Load shedding: past the bound on waiting requests a 503 with Retry-After (counted as REJECTED),
never a hang; bodies over the memory budget get 503 before a byte of them is read; health keeps
answering while the slots are stuck; a ModelError while scoring is a JSON 500, never NaN.
Then on the real server: a trickled header is cut off, the connection cap answers 503 but
still lets health through, and SIGTERM lets the request in flight finish.

Client timeouts are generous (seconds); nothing asserts on speed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time

import anyio
import httpx
import numpy as np
import pytest

from inference.adapters.http_app import create_app
from inference.core.errors import ModelError
from inference.core.predictor import Predictor
from testkit.serve_process import HOST, server, serving
from testkit.tiny_models import write_tiny_model

IMAGES = 300  # past the batch scored on the event loop, so scoring runs on a worker slot


def infer_body(n: int) -> tuple[bytes, dict]:
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "images",
                    "shape": [n, 28, 28],
                    "datatype": "UINT8",
                    "parameters": {"binary_data_size": n * 784},
                }
            ],
            "outputs": [{"name": "probabilities", "parameters": {"binary_data": False}}],
        }
    ).encode()
    return header + bytes(n * 784), {"Inference-Header-Content-Length": str(len(header))}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return write_tiny_model(tmp_path_factory.mktemp("load") / "fashion_mnist" / "1" / "model.onnx")


class GatedPredictor(Predictor):
    """Scoring waits for `release`: the worker slots stay busy as long as a test wants."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.release = threading.Event()
        self.inside = 0

    def predict_proba(self, images):
        self.inside += 1
        self.release.wait(10)
        return super().predict_proba(images)


def asgi_client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=10)


def test_past_the_queue_bound_503_with_retry_after_and_health_answers(model):
    predictor = GatedPredictor(model, device="cpu", threads=1)
    app = create_app(predictor, decode_slots=1, max_queue=1)
    body, headers = infer_body(IMAGES)
    statuses, extra = [], {}

    async def infer(client):
        statuses.append(
            (await client.post("/v2/models/fashion_mnist/infer", content=body, headers=headers)).status_code
        )

    async def scenario():
        async with asgi_client(app) as client, anyio.create_task_group() as group:
            group.start_soon(infer, client)
            group.start_soon(infer, client)  # waits for the one slot
            with anyio.fail_after(5):
                while predictor.inside < 1:
                    await anyio.sleep(0.01)
            shed = await client.post("/v2/models/fashion_mnist/infer", content=body, headers=headers)
            extra["shed"] = shed
            extra["ready"] = (await client.get("/v2/health/ready")).status_code
            extra["health"] = (await client.get("/health")).status_code
            extra["metrics"] = (await client.get("/metrics")).text
            predictor.release.set()

    anyio.run(scenario)
    shed = extra["shed"]
    assert shed.status_code == 503 and shed.headers["retry-after"] == "1"
    assert "busy" in shed.json()["error"]
    assert extra["ready"] == 200 and extra["health"] == 200
    assert 'nv_inference_request_failure{model="fashion_mnist",reason="REJECTED",version="1"} 1.0' in extra["metrics"]
    assert 'nv_inference_pending_request_count{model="fashion_mnist",version="1"} 1.0' in extra["metrics"]
    assert sorted(statuses) == [200, 200]


def test_predict_is_bounded_the_same_way(model):
    predictor = GatedPredictor(model, device="cpu", threads=1)
    app = create_app(predictor, decode_slots=1, max_queue=0)
    raw = {"content-type": "application/octet-stream"}
    result = {}

    async def scenario():
        async with asgi_client(app) as client, anyio.create_task_group() as group:

            async def first():
                result["first"] = (await client.post("/predict", content=bytes(784), headers=raw)).status_code

            group.start_soon(first)
            with anyio.fail_after(5):
                while predictor.inside < 1:
                    await anyio.sleep(0.01)
            result["shed"] = await client.post("/predict", content=bytes(784), headers=raw)
            predictor.release.set()

    anyio.run(scenario)
    assert result["first"] == 200
    assert result["shed"].status_code == 503 and "detail" in result["shed"].json()
    assert result["shed"].headers["retry-after"] == "1"


def test_a_body_over_the_budget_is_refused_before_it_is_read(model):
    predictor = Predictor(model, device="cpu", threads=1)
    app = create_app(predictor, body_budget_bytes=100_000, budget_wait=0.2)
    body, headers = infer_body(200)  # ~157 kB: under the size limit, over the budget
    reads = []

    async def receive():
        reads.append(1)
        return {"type": "http.request", "body": body, "more_body": False}

    sent = []

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v2/models/fashion_mnist/infer",
        "raw_path": b"",
        "query_string": b"",
        "root_path": "",
        "http_version": "1.1",
        "scheme": "http",
        "server": ("test", 80),
        "client": ("test", 1),
        "asgi": {"version": "3.0"},
        "headers": [
            (b"content-length", str(len(body)).encode()),
            *((k.lower().encode(), v.encode()) for k, v in headers.items()),
        ],
    }
    anyio.run(app, scope, receive, send)
    assert sent[0]["status"] == 503 and reads == []
    assert "budget" in json.loads(sent[1]["body"])["error"]


def test_a_body_waits_briefly_for_room_then_gets_503(model):
    predictor = GatedPredictor(model, device="cpu", threads=1)
    body, headers = infer_body(IMAGES)  # ~235 kB each; two do not fit
    app = create_app(predictor, body_budget_bytes=len(body) + 1000, budget_wait=0.3)
    out = {}

    async def scenario():
        async with asgi_client(app) as client, anyio.create_task_group() as group:

            async def first():
                out["first"] = (
                    await client.post("/v2/models/fashion_mnist/infer", content=body, headers=headers)
                ).status_code

            group.start_soon(first)
            with anyio.fail_after(5):
                while predictor.inside < 1:
                    await anyio.sleep(0.01)
            out["second"] = await client.post("/v2/models/fashion_mnist/infer", content=body, headers=headers)
            predictor.release.set()
        # the budget is free again once the first answer is out
        async with asgi_client(app) as client:
            out["third"] = (
                await client.post("/v2/models/fashion_mnist/infer", content=body, headers=headers)
            ).status_code

    anyio.run(scenario)
    assert out["first"] == 200 and out["third"] == 200
    assert out["second"].status_code == 503 and "bytes of request bodies" in out["second"].json()["error"]


class BrokenPredictor(Predictor):
    def __init__(self, *args, fault: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fault = fault

    def predict_proba(self, images):
        if self.fault == "raise":
            raise ModelError("onnxruntime failed: the Gemm node hit an error (simulated)")
        return np.full((len(images), 10), np.nan, np.float32)


@pytest.mark.parametrize("fault", ["raise", "nan"])
def test_a_failing_model_is_a_json_500_without_nan(model, fault):
    app = create_app(BrokenPredictor(model, device="cpu", threads=1, fault=fault))
    body, headers = infer_body(2)

    async def scenario():
        async with asgi_client(app) as client:
            return (
                await client.post("/v2/models/fashion_mnist/infer", content=body, headers=headers),
                await client.post("/predict", content=bytes(784), headers={"content-type": "application/octet-stream"}),
                (await client.get("/metrics")).text,
            )

    v2, predict, metrics = anyio.run(scenario)
    assert v2.status_code == 500 and set(v2.json()) == {"error"}
    assert predict.status_code == 500 and set(predict.json()) == {"detail"}
    for answer in (v2, predict):
        (message,) = answer.json().values()  # one line that says why: no scores, no traceback
        assert isinstance(message, str) and "\n" not in message and "Traceback" not in message
    assert 'reason="BACKEND",version="1"} 2.0' in metrics


# --- the real server --------------------------------------------------------------------------


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.slow  # waits out the server's header timeout
def test_a_trickled_header_is_cut_off(model):
    with serving(model, "--threads", "1", "--header-timeout", "1") as (base, port):
        with socket.create_connection((HOST, port), timeout=15) as sock:
            sock.sendall(b"POST /v2/models/fashion_mnist/infer HTTP/1.1\r\nHost: x\r\n")
            try:
                for byte in b"X-Slow: " + b"a" * 40:
                    sock.sendall(bytes([byte]))
                    time.sleep(0.2)
            except (BrokenPipeError, ConnectionResetError):
                pass  # closed by the server, as it should be
            answer = read_all(sock)
        assert answer.startswith(b"HTTP/1.1 408")
        with socket.create_connection((HOST, port), timeout=15) as idle:  # a client that sends nothing
            assert read_all(idle).startswith(b"HTTP/1.1 408")
        assert httpx.get(f"{base}/v2/health/ready", timeout=10).status_code == 200


@pytest.mark.slow  # a real server held at its connection cap
def test_past_the_connection_cap_503_but_health_still_answers(model):
    with serving(model, "--threads", "1", "--max-connections", "4", "--header-timeout", "30") as (base, port):
        held = [socket.create_connection((HOST, port), timeout=15) for _ in range(4)]
        try:
            time.sleep(0.3)  # the server has accepted them
            with httpx.Client(base_url=base, timeout=10) as client:
                refused = client.get("/v2")
                assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
            with httpx.Client(base_url=base, timeout=10) as client:
                assert client.get("/v2/health/ready").status_code == 200
                assert client.get("/health").status_code == 200
        finally:
            for sock in held:
                sock.close()


@pytest.mark.slow  # a real server, stopped mid-request
def test_sigterm_lets_the_request_in_flight_finish(model):
    with server(model, "--threads", "1") as running:
        process, port = running.process, running.port
        body, headers = infer_body(3)
        head = (
            f"POST /v2/models/fashion_mnist/infer HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
            f"Inference-Header-Content-Length: {headers['Inference-Header-Content-Length']}\r\n\r\n"
        ).encode()
        with socket.create_connection((HOST, port), timeout=20) as sock:
            sock.sendall(head + body[:100])
            time.sleep(0.5)  # the request is in flight: headers read, body incomplete
            os.killpg(process.pid, signal.SIGTERM)
            time.sleep(0.5)
            sock.sendall(body[100:])
            answer = read_all(sock)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        assert b'"probabilities"' in answer
        # stopped by the signal itself, not by stop()'s SIGKILL: uvicorn re-raises the signal it
        # caught once it has finished the requests in flight and shut down, and run_command ends
        # the command as every other one ends on SIGTERM: one line and 128 + 15
        assert process.wait(20) == 128 + signal.SIGTERM
        assert "fashion-serve: terminated (SIGTERM)" in process.stdout.read()


@pytest.mark.slow  # a real server flooded for a second with 5 MB bodies
def test_health_answers_while_large_json_bodies_are_parsed(model):
    pixels = np.random.default_rng(1).integers(0, 256, (1500, 784)).tolist()
    body = json.dumps({"images": pixels}).encode()  # ~5 MB: parsed in the JSON worker process
    with serving(model, "--threads", "1") as (base, _):
        statuses, stop_flag = [], threading.Event()

        def flood():
            with httpx.Client(base_url=base, timeout=60) as client:
                while not stop_flag.is_set():
                    statuses.append(
                        client.post("/predict", content=body, headers={"content-type": "application/json"}).status_code
                    )

        threads = [threading.Thread(target=flood) for _ in range(6)]
        for t in threads:
            t.start()
        try:
            time.sleep(1.0)
            with httpx.Client(base_url=base, timeout=5) as client:  # generous: an answer, not a speed
                answers = [client.get(path).status_code for _ in range(5) for path in ("/v2/health/ready", "/health")]
        finally:
            stop_flag.set()
            for t in threads:
                t.join(90)
        assert answers == [200] * 10
        assert statuses and set(statuses) <= {200, 503}
        assert 200 in statuses
