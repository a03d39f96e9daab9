"""Start the real `fashion-serve` on a free loopback port for a test, and always stop it.

Shared by the service tests and the hostile-request tests, so both start it the same way: in its
own process group (whatever it might start ends with it), polled on /health until it answers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

HOST = "127.0.0.1"
START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def serve_command(model: object, port: int, *flags: str) -> list[str]:
    """The command line of fashion-serve on `model`, loopback `port`, with extra `flags`."""
    return [sys.executable, "-m", "inference.adapters.serve_command", "--model", str(model), "--host", HOST,
            "--port", str(port), *flags]  # fmt: skip


@dataclass
class Server:
    process: subprocess.Popen
    base: str  # http://127.0.0.1:PORT
    port: int


@contextlib.contextmanager
def server(model, *flags: str) -> Iterator[Server]:
    """A running fashion-serve on `model` with extra `flags`, its process included (for a test that
    signals it); stopped on exit."""
    port = free_port()
    process = subprocess.Popen(
        serve_command(model, port, *flags),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        base = f"http://{HOST}:{port}"
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"fashion-serve did not start: {stop(process)}")
            time.sleep(0.1)
        yield Server(process, base, port)
    finally:
        stop(process)


@contextlib.contextmanager
def serving(model, *flags: str) -> Iterator[tuple[str, int]]:
    """(base URL, port) of a running fashion-serve on `model` with extra `flags`."""
    with server(model, *flags) as running:
        yield running.base, running.port


def stop(process: subprocess.Popen) -> str:
    """Terminate the server's whole process group, kill it if it lingers; returns its output."""
    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            continue
    return process.stdout.read() if process.poll() is not None else ""


def triton_numbers(value):
    """protobuf's JSON mapping writes 64-bit integers as strings; Triton writes numbers."""
    if isinstance(value, dict):
        return {k: triton_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [triton_numbers(v) for v in value]
    return int(value) if isinstance(value, str) and value.isdigit() else value
