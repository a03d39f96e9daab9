"""A short, bounded load test of `fashion-serve` on loopback.

    .venv/bin/python benchmarks/serve_load.py [--model models/] [--requests 2000] [--concurrency 4]

Starts the service on a free 127.0.0.1 port, then a second process sends a fixed number of
requests (one image each, as raw bytes, JSON and a PNG upload, plus a 64-image raw batch) over
keep-alive connections and reports requests/s and p50/p99 latency. Then the memory case:
--big-clients (16) clients at once each sending --big-requests JSON bodies of just under
8 MiB. Throughout each case a probe in this process asks /health every 0.1 s and reports its
latency, and the server's peak RSS (its JSON worker processes included) is sampled from /proc.
Stops the server when done or after --timeout seconds, whichever comes first; nothing leaves
this machine.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def client(port: int, kind: str, count: int, concurrency: int) -> dict:
    """Runs in its own process: `count` requests of one kind from `concurrency` threads."""
    import threading

    import httpx
    import numpy as np
    from PIL import Image

    from inference.core.fashion_mnist import load_split

    images = load_split("test").images
    buffer = io.BytesIO()
    Image.fromarray(images[0]).save(buffer, format="PNG")
    raw = {"content-type": "application/octet-stream"}
    as_json = {"content-type": "application/json"}
    bodies = {  # built on demand: the 8 MiB one takes a while
        "raw, 1 image": lambda: {"content": images[0].tobytes(), "headers": raw},
        "json, 1 image": lambda: {
            "content": json.dumps({"images": [images[0].ravel().tolist()]}).encode(),
            "headers": as_json,
        },
        "png upload, 1 image": lambda: {"files": {"file": ("x.png", buffer.getvalue(), "image/png")}},
        "raw, 64 images": lambda: {"content": images[:64].tobytes(), "headers": raw},
        "json, 8 MiB body": lambda: {"content": big_json_body(images), "headers": as_json},
    }
    request = bodies[kind]()
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    per_thread = [count // concurrency + (i < count % concurrency) for i in range(concurrency)]

    def run(n: int) -> None:
        # TCP_NODELAY: httpx writes headers and body separately, and Nagle + delayed ACK would
        # otherwise add ~40 ms to every request, measuring the kernel rather than the service.
        transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
        with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=30, transport=transport) as http:
            http.post("/predict", **request)  # warm the connection
            mine = []
            for _ in range(n):
                t0 = time.perf_counter()
                response = http.post("/predict", **request)
                mine.append(time.perf_counter() - t0)
                if response.status_code != 200:
                    failures[0] += 1
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=run, args=(n,)) for n in per_thread]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    lat = np.array(latencies)
    return {
        "kind": kind,
        "requests": len(lat),
        "failures": failures[0],
        "rps": len(lat) / wall,
        "p50_ms": float(np.median(lat) * 1e3),
        "p99_ms": float(np.percentile(lat, 99) * 1e3),
    }


def big_json_body(images, limit: int = 8 * 1024 * 1024) -> bytes:
    """The largest JSON batch of whole test images that fits the server's default body limit."""
    n = 2800
    while True:
        body = json.dumps({"images": images[:n].reshape(n, -1).tolist()}).encode()
        if len(body) <= limit:
            return body
        n = int(n * limit / len(body)) - 1


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and its children (the JSON worker processes)."""
    total = 0
    for p in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def children(pid: int) -> list[int]:
    try:
        found = [int(c) for t in Path(f"/proc/{pid}/task").iterdir() for c in (t / "children").read_text().split()]
    except OSError:
        return []
    return found + [g for c in found for g in children(c)]


class Watch:
    """While a case runs: /health latency every 0.1 s, and the server's peak RSS every 0.05 s."""

    def __init__(self, port: int, pid: int):
        self.port, self.pid = port, pid
        self.latencies: list[float] = []
        self.failed = 0
        self.peak = 0
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self.probe), threading.Thread(target=self.sample)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        for t in self.threads:
            t.join()

    def probe(self) -> None:
        while not self.done.wait(0.1):
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(f"http://{HOST}:{self.port}/health", timeout=10):
                    self.latencies.append(time.perf_counter() - t0)
            except OSError:
                self.failed += 1

    def sample(self) -> None:
        while not self.done.wait(0.05):
            self.peak = max(self.peak, tree_rss(self.pid))

    def summary(self) -> str:
        if not self.latencies:
            return f"/health: no answer ({self.failed} failed)"
        lat = sorted(self.latencies)
        return (
            f"/health p50 {lat[len(lat) // 2] * 1e3:.1f} ms, max {lat[-1] * 1e3:.0f} ms"
            f"{f', {self.failed} failed' if self.failed else ''}; peak RSS {self.peak / 2**20:.0f} MB"
        )


def wait_until_up(port: int, server: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"fashion-serve exited with {server.returncode}:\n{server.stderr.read()}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit("fashion-serve did not come up")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models")
    parser.add_argument("--requests", type=int, default=2000, help="per request kind")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads (keep-alive connections)")
    parser.add_argument("--big-clients", type=int, default=16, help="clients sending 8 MiB JSON bodies at once")
    parser.add_argument("--big-requests", type=int, default=48, help="8 MiB JSON bodies in all")
    parser.add_argument("--timeout", type=float, default=300, help="hard stop, seconds")
    parser.add_argument("--client", nargs=4, help=argparse.SUPPRESS)  # port kind count concurrency
    args = parser.parse_args(argv)
    if args.client:
        port, kind, count, conc = args.client
        print(json.dumps(client(int(port), kind, int(count), int(conc))))
        return 0

    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "inference.adapters.serve_command",
            "--model",
            args.model,
            "--host",
            HOST,
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + args.timeout
    try:
        wait_until_up(port, server, 60)
        print(
            f"fashion-serve on {HOST}:{port}, {args.requests} requests per kind, "
            f"{args.concurrency} keep-alive connections, client in a second process; {os.cpu_count()} CPU(s)"
        )
        print(f"idle: peak RSS {tree_rss(server.pid) / 2**20:.0f} MB")
        print(f"{'request':<22} {'clients':>7} {'ok':>6} {'non-200':>7} {'req/s':>9} {'p50':>10} {'p99':>10}")
        cases = [
            (kind, args.requests, args.concurrency)
            for kind in ("raw, 1 image", "json, 1 image", "png upload, 1 image", "raw, 64 images")
        ]
        cases.append(("json, 8 MiB body", args.big_requests, args.big_clients))
        for kind, count, clients in cases:
            left = deadline - time.monotonic()
            if left <= 0:
                print("stopped: --timeout reached")
                break
            with Watch(port, server.pid) as watch:
                out = subprocess.run(
                    [sys.executable, __file__, "--client", str(port), kind, str(count), str(clients)],
                    capture_output=True,
                    text=True,
                    timeout=left,
                )
            if out.returncode != 0:
                print(f"{kind}: client failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(out.stdout)
            print(
                f"{kind:<22} {clients:>7} {r['requests'] - r['failures']:>6} {r['failures']:>7} {r['rps']:>9.0f} "
                f"{r['p50_ms']:>8.2f}ms {r['p99_ms']:>8.2f}ms"
            )
            print(f"{'':<22} {watch.summary()}")
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
