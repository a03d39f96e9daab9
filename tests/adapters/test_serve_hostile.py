"""Hostile requests against the real `fashion-serve`: each ends in a 4xx that says why (naming the
file where there is one), good files beside bad ones are still scored, and /health answers within
a second the whole time. Then the command's refusals: bad flags and addresses exit 2 with one line.

The hostile files come from testkit/hostile.py, built at test time (an EPS and four foreign formats
named .png, PNG bombs, a truncated PNG); the hostile bodies are built here (JSON nested 100,000
deep, bodies over the limit, a body trickled byte by byte).
"""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import anyio
import httpx
import numpy as np
import pytest
from PIL import Image

from inference.adapters.http_app import create_app
from inference.adapters.serve_command import main
from inference.core.predictor import Predictor
from testkit.hostile import hostile_images
from testkit.serve_process import HOST, free_port, serving
from testkit.tiny_models import write_tiny_model

LIMIT = 1024 * 1024
READ_TIMEOUT = 1.0  # seconds: short, so the trickled body is cut off quickly
HEALTH_BOUND = 1.0  # seconds /health may take while the hostile requests are in flight
RAW = {"content-type": "application/octet-stream"}
JSON = {"content-type": "application/json"}


# --- the server ------------------------------------------------------------------------------


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return write_tiny_model(tmp_path_factory.mktemp("hostile") / "model.onnx")


@pytest.fixture(scope="module")
def reference(model):
    return Predictor(model, device="cpu", threads=1)


@pytest.fixture(scope="module")
def server(model):
    with serving(model, "--threads", "1", "--max-body-bytes", str(LIMIT), "--read-timeout", str(READ_TIMEOUT)) as up:
        yield up


class HealthWatch(threading.Thread):
    """GET /health every 50 ms until stopped, keeping each answer's status and time."""

    def __init__(self, base: str):
        super().__init__(daemon=True)
        self.base, self.stop, self.answers = base, threading.Event(), []

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=HEALTH_BOUND) as client:
            while not self.stop.is_set():
                start = time.perf_counter()
                try:
                    status = client.get("/health").status_code
                except httpx.HTTPError as e:
                    status = type(e).__name__
                self.answers.append((status, time.perf_counter() - start))
                self.stop.wait(0.05)


def trickle(port: int) -> tuple[int, dict]:
    """POST a 7,840-byte body one byte every 100 ms; (status, JSON body) of the server's answer."""
    head = (
        b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Length: 7840\r\n\r\n"
    )
    answer = b""
    with socket.create_connection((HOST, port), timeout=5) as s:
        s.sendall(head)
        s.settimeout(0.1)
        deadline = time.monotonic() + READ_TIMEOUT + 10
        while time.monotonic() < deadline:
            try:
                part = s.recv(65536)
            except TimeoutError:
                if not answer:
                    s.sendall(b"\0")
                continue
            if not part:
                break
            answer += part
    assert answer, f"no answer {READ_TIMEOUT + 10:g} s into a trickled body"
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


def post(client: httpx.Client, request: dict) -> tuple[int | str, str]:
    """(status, body) of POST /predict, or (exception name, message): one reset must not hide the rest."""
    try:
        reply = client.post("/predict", **request)
    except httpx.HTTPError as e:
        return type(e).__name__, str(e)
    return reply.status_code, reply.text


def upload(*files: tuple[str, bytes]) -> dict:
    return {"files": [("file", (name, data, "image/png")) for name, data in files]}


@pytest.fixture(scope="module")
def good_images():
    return np.random.default_rng(8).integers(0, 256, (2, 28, 28), dtype=np.uint8)


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    return {path.name: path.read_bytes() for path in hostile_images(tmp_path_factory.mktemp("hostile_files"))}


@pytest.mark.slow  # a real server, every hostile file against it
def test_hostile_requests_get_4xx_while_health_answers(server, good_images, bad_files, reference):
    base, port = server
    too_big = b'{"images": [' + b"0," * LIMIT + b"0]}"
    cases = {  # name: (request, status, words the detail must hold)
        **{f"upload {name}": (upload((name, data)), 422, [name]) for name, data in bad_files.items()},
        "json nested 100,000 deep": (
            {"content": b'{"images": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "headers": JSON},
            422,
            ["nested"],
        ),
        "json over the limit": ({"content": too_big, "headers": JSON}, 413, ["limit"]),
        "json over the limit, chunked": (
            {"content": iter([too_big[:LIMIT], too_big[LIMIT:]]), "headers": JSON},
            413,
            ["limit"],
        ),
        "not json": ({"content": b"images: all of them", "headers": JSON}, 400, ["not valid JSON"]),
        "text/plain": ({"content": b"hello", "headers": {"content-type": "text/plain"}}, 415, ["text/plain"]),
        "a bare png body": (
            {"content": png(good_images[0]), "headers": {"content-type": "image/png"}},
            415,
            ["image/png"],
        ),
        "no content type": ({"content": b"\0" * 784, "headers": {"content-type": ""}}, 415, ["(none)"]),
        "multipart without boundary": (
            {"content": b"--x\r\n", "headers": {"content-type": "multipart/form-data"}},
            400,
            ["multipart"],
        ),
    }
    good = [(f"good{i}.png", png(image)) for i, image in enumerate(good_images)]
    mixed = upload(good[0], *bad_files.items(), ("empty.png", b""), good[1])
    watch = HealthWatch(base)
    watch.start()
    try:
        with httpx.Client(base_url=base, timeout=10) as client, ThreadPoolExecutor(4) as pool:
            sent = {name: pool.submit(post, client, request) for name, (request, _, _) in cases.items()}
            mixed_reply = pool.submit(client.post, "/predict", **mixed)
            trickled = pool.submit(trickle, port)
            replies = {name: future.result() for name, future in sent.items()}
            mixed_reply, trickled = mixed_reply.result(), trickled.result()
    finally:
        watch.stop.set()
        watch.join()

    wrong = [
        (name, status, text[:300])
        for name, (status, text) in replies.items()
        if status != cases[name][1] or not all(word in text for word in cases[name][2])
    ]
    assert not wrong
    assert trickled[0] == 408 and "not complete" in trickled[1]["detail"]

    assert mixed_reply.status_code == 200, mixed_reply.text[:300]
    body = mixed_reply.json()
    assert [p["name"] for p in body["predictions"]] == ["good0.png", "good1.png"]
    assert [p["label"] for p in body["predictions"]] == reference.predict(good_images).labels.tolist()
    assert [e["name"] for e in body["errors"]] == [*bad_files, "empty.png"]
    assert all(e["error"] for e in body["errors"])

    assert len(watch.answers) >= 5  # it kept asking the whole time
    slow = [(status, round(took, 3)) for status, took in watch.answers if status != 200 or took > HEALTH_BOUND]
    assert not slow


@pytest.mark.parametrize(
    "pixels, reason",
    [
        ("0.5", "fraction"),
        ("NaN", "NaN"),
        ("1e999", "fraction or exponent"),
        ("true", "true"),
        ('"7"', "strings"),
        ("null", "null"),
        ("9" * 5000, "5000 digits"),
        ("18446744073709551616", "20 digits"),
        ("256", "0..255"),
        ("-1", "0..255"),
    ],
)
def test_json_pixels_that_are_not_0_to_255_are_422_with_a_reason(server, pixels, reason):
    base, _ = server
    body = f'{{"images": [[{pixels}{", 0" * 783}]]}}'.encode()
    response = httpx.post(f"{base}/predict", content=body, headers=JSON, timeout=10)
    assert response.status_code == 422, response.text[:300]
    assert reason in response.json()["detail"]


# --- scoring happens off the event loop, a bounded number at a time -------------------------


class GatedPredictor(Predictor):
    """A Predictor whose predict() waits until released, counting how many are inside at once."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.inside = self.most_inside = self.entered = 0

    def predict(self, images):
        with self.lock:
            self.inside += 1
            self.entered += 1
            self.most_inside = max(self.most_inside, self.inside)
        try:
            self.release.wait(10)
            return super().predict(images)
        finally:
            with self.lock:
                self.inside -= 1


def test_busy_decode_slots_never_hold_up_health(model):
    predictor = GatedPredictor(model, device="cpu", threads=1)
    app = create_app(predictor, decode_slots=2)
    statuses, health = [], []

    async def score_one(client: httpx.AsyncClient) -> None:
        statuses.append((await client.post("/predict", content=b"\0" * 784, headers=RAW)).status_code)

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            async with anyio.create_task_group() as group:
                for _ in range(3):
                    group.start_soon(score_one, client)
                with anyio.fail_after(5):
                    while predictor.inside < 2:
                        await anyio.sleep(0.01)
                    health.append((await client.get("/health")).status_code)  # both slots are stuck
                await anyio.sleep(0.3)  # time enough for a third request to enter, were it let in
                predictor.release.set()

    anyio.run(scenario)
    assert health == [200]
    assert predictor.most_inside == 2 and predictor.entered == 3
    assert statuses == [200, 200, 200]


# --- the command -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flags",
    [
        ["--port", "70000"],
        ["--port", "-1"],
        ["--port", "0"],
        ["--port", "http"],
        ["--threads", "0"],
        ["--max-body-bytes", "0"],
        ["--read-timeout", "0"],
        ["--read-timeout", "nan"],
        ["--read-timeout", "inf"],
        ["--read-timeout", "-1"],
        ["--host", ""],
        ["--host", "local host"],
    ],
)
def test_bad_flags_exit_2_with_one_line(flags, capsys):
    with pytest.raises(SystemExit) as exited:
        main(flags)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fashion-serve: error: ") and flags[0] in err


def test_an_address_not_on_this_machine_exits_2_with_one_line(model, capsys):
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): never a local address, and binding sends nothing.
    assert main(["--model", str(model), "--host", "192.0.2.1", "--port", str(free_port())]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fashion-serve: error: cannot listen on 192.0.2.1:")


def test_the_command_refuses_port_70000_without_a_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "inference.adapters.serve_command", "--port", "70000"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--port" in result.stderr and "Traceback" not in result.stderr


def test_help_works_without_the_serve_extra():
    hide = "import sys; sys.modules.update(fastapi=None, uvicorn=None, starlette=None, python_multipart=None);"
    code = hide + " from inference.adapters.serve_command import main; main(['--help'])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--read-timeout" in result.stdout and "--max-body-bytes" in result.stdout


def test_serving_without_the_serve_extra_says_what_to_install(model, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    assert main(["--model", str(model)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "uvicorn is missing" in err and "[serve]" in err
