"""A short, bounded load test of `fashion-serve` on loopback.

    .venv/bin/python benchmarks/serve_load.py [--model models/] [--requests 2000] [--concurrency 4]

Starts the service on a free 127.0.0.1 port, then a second process sends a fixed number of
requests (one image each, as raw bytes, JSON and a PNG upload, plus a 64-image raw batch) over
keep-alive connections and reports requests/s and p50/p99 latency. Stops the server when done
or after --timeout seconds, whichever comes first; nothing leaves this machine.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

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
    bodies = {
        "raw, 1 image": {"content": images[0].tobytes(), "headers": {"content-type": "application/octet-stream"}},
        "json, 1 image": {"content": json.dumps({"images": [images[0].ravel().tolist()]}).encode(),
                          "headers": {"content-type": "application/json"}},
        "png upload, 1 image": {"files": {"file": ("x.png", buffer.getvalue(), "image/png")}},
        "raw, 64 images": {"content": images[:64].tobytes(), "headers": {"content-type": "application/octet-stream"}},
    }
    request = bodies[kind]
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
    return {"kind": kind, "requests": len(lat), "failures": failures[0], "rps": len(lat) / wall,
            "p50_ms": float(np.median(lat) * 1e3), "p99_ms": float(np.percentile(lat, 99) * 1e3)}


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
    parser.add_argument("--timeout", type=float, default=300, help="hard stop, seconds")
    parser.add_argument("--client", nargs=4, help=argparse.SUPPRESS)  # port kind count concurrency
    args = parser.parse_args(argv)
    if args.client:
        port, kind, count, conc = args.client
        print(json.dumps(client(int(port), kind, int(count), int(conc))))
        return 0

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "inference.adapters.serve_command", "--model", args.model, "--host", HOST, "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + args.timeout
    try:
        wait_until_up(port, server, 60)
        print(f"fashion-serve on {HOST}:{port}, {args.requests} requests per kind, "
              f"{args.concurrency} keep-alive connections, client in a second process; {os.cpu_count()} CPU(s)")
        print(f"{'request':<22} {'ok':>6} {'failed':>6} {'req/s':>9} {'p50':>10} {'p99':>10}")
        for kind in ("raw, 1 image", "json, 1 image", "png upload, 1 image", "raw, 64 images"):
            left = deadline - time.monotonic()
            if left <= 0:
                print("stopped: --timeout reached")
                break
            out = subprocess.run(
                [sys.executable, __file__, "--client", str(port), kind, str(args.requests), str(args.concurrency)],
                capture_output=True, text=True, timeout=left,
            )
            if out.returncode != 0:
                print(f"{kind}: client failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(out.stdout)
            print(f"{kind:<22} {r['requests'] - r['failures']:>6} {r['failures']:>6} {r['rps']:>9.0f} "
                  f"{r['p50_ms']:>8.2f}ms {r['p99_ms']:>8.2f}ms")
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
