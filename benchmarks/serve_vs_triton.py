"""fashion-serve against a real Triton, through the same tritonclient.http calls, in one run.

    .venv/bin/python benchmarks/serve_vs_triton.py [--model models/] [--seconds 8]

Sets Triton up in a cache folder (~/.cache/fashion-bench/ by default), once: downloads the
`nvidia-pytriton==0.7.0` wheel with pip (it carries the `tritonserver` 2.51 binary and its python
backend; PyPI ships no Triton onnxruntime backend), extracts them, and makes a separate venv with
numpy<2 and onnxruntime for the python backend's stub, never touching this project's venv. Then it
writes a python-backend model (`model.py` running the same model.onnx on onnxruntime) into a temp
repository, starts tritonserver and fashion-serve on free 127.0.0.1 ports, and times binary-tensor
`infer` calls at batch 1 and 256, one client after another and 8 clients at once, the two servers
taking turns in short rounds so that a busy machine slows both alike. Prints images/s, the
ratios, and each server's CPU time per request (all its processes: Triton's python-backend stub
included), which depends less on what else the machine runs. Bounded: --rounds x --seconds per
case and server, --timeout for the whole run; both servers are stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # testkit/, shared with the tests
from testkit.serve_process import serve_command

HOST = "127.0.0.1"
WHEEL = "nvidia-pytriton==0.7.0"
MODEL = "fashion_mnist"
PY = f"{sys.version_info.major}.{sys.version_info.minor}"
MODEL_PY = '''\
import os
import sys

# The stub's embedded interpreter ignores PYTHONPATH: the venv's packages are put on the path here.
sys.path.insert(0, SITE)

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        path = os.path.join(args["model_repository"], args["model_version"], "model.onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])

    def execute(self, requests):
        responses = []
        for request in requests:
            images = pb_utils.get_input_tensor_by_name(request, "images").as_numpy()
            probabilities, logits = self.session.run(["probabilities", "logits"], {"images": images})
            responses.append(pb_utils.InferenceResponse(
                [pb_utils.Tensor("probabilities", probabilities), pb_utils.Tensor("logits", logits)]))
        return responses
'''
CONFIG = '''name: "fashion_mnist"
backend: "python"
max_batch_size: 4096
input [ { name: "images" data_type: TYPE_UINT8 dims: [ 28, 28 ] } ]
output [
  { name: "probabilities" data_type: TYPE_FP32 dims: [ 10 ] },
  { name: "logits" data_type: TYPE_FP32 dims: [ 10 ] }
]
instance_group [ { kind: KIND_CPU count: 1 } ]
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def setup_triton(cache: Path) -> tuple[Path, Path, Path]:
    """(tritonserver binary, backend folder, stub venv site-packages), made once under `cache`."""
    root = cache / "triton"
    server = root / "pytriton" / "tritonserver" / "bin" / "tritonserver"
    backends = root / "pytriton" / "tritonserver" / "backends"
    if not server.is_file():
        wheels = cache / "wheel"
        if not list(wheels.glob("nvidia_pytriton-0.7.0-*.whl")):
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", WHEEL, "-d", str(wheels)],
                check=True,
            )
        (wheel,) = wheels.glob("nvidia_pytriton-0.7.0-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            members = [
                m for m in archive.namelist() if m.startswith(("pytriton/tritonserver/", "nvidia_pytriton.libs/"))
            ]
            archive.extractall(root, members)
        server.chmod(0o755)
    stub = backends / "python" / "triton_python_backend_stub"
    if not stub.is_file():
        source = root / "pytriton" / "tritonserver" / "python_backend_stubs" / PY / "triton_python_backend_stub"
        shutil.copy(source, stub)
        stub.chmod(0o755)
    venv = cache / "stub-venv"
    site = venv / "lib" / f"python{PY}" / "site-packages"
    if not (site / "onnxruntime").is_dir():
        # The stub embeds the system's libpython; its packages come from this venv (numpy<2: the
        # python backend 2.51 was built against numpy 1).
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "numpy<2", "onnxruntime"], check=True
        )
    return server, backends, site


def start_triton(
    server: Path, backends: Path, site: Path, model_file: Path, workdir: Path
) -> tuple[subprocess.Popen, int]:
    repo = workdir / "repository"
    (repo / MODEL / "1").mkdir(parents=True)
    (repo / MODEL / "config.pbtxt").write_text(CONFIG)
    (repo / MODEL / "1" / "model.py").write_text(MODEL_PY.replace("SITE", repr(str(site))))
    shutil.copy(model_file, repo / MODEL / "1" / "model.onnx")
    port = free_port()
    libs = server.parents[3] / "nvidia_pytriton.libs"
    env = {**os.environ, "LD_LIBRARY_PATH": f"{libs}:{os.environ.get('LD_LIBRARY_PATH', '')}"}
    command = [
        str(server),
        "--model-repository",
        str(repo),
        "--backend-directory",
        str(backends),
        "--http-address",
        HOST,
        "--http-port",
        str(port),
        "--allow-grpc",
        "false",
        "--allow-metrics",
        "false",
        "--log-verbose",
        "0",
    ]
    log = open(workdir / "triton.log", "w")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return process, port


def start_fashion_serve(model: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    command = serve_command(model, port, "--max-queue", "1024")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True), port


def wait_ready(port: int, process: subprocess.Popen, name: str, timeout: float) -> None:
    import tritonclient.http as httpclient

    deadline = time.monotonic() + timeout
    client = httpclient.InferenceServerClient(f"{HOST}:{port}")
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{name} exited with {process.returncode} before it was ready")
        try:
            if client.is_server_ready() and client.is_model_ready(MODEL):
                return
        except Exception:  # not listening yet
            pass
        time.sleep(0.2)
    sys.exit(f"{name} was not ready after {timeout:g} s")


def stop(process: subprocess.Popen) -> None:
    for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
            process.wait(grace)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def one_client(port: int, images: np.ndarray, until: float, most: int, counts: list, index: int) -> None:
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(f"{HOST}:{port}")
    request = httpclient.InferInput("images", list(images.shape), "UINT8")
    request.set_data_from_numpy(images, binary_data=True)
    outputs = [httpclient.InferRequestedOutput("probabilities", binary_data=True)]
    client.infer(MODEL, [request], outputs=outputs)  # warm the connection (not counted)
    done = 0
    while done < most and time.perf_counter() < until:
        client.infer(MODEL, [request], outputs=outputs).as_numpy("probabilities")
        done += 1
    counts[index] = done
    client.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its descendants (Triton's python-backend stub is one)."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            stack += [int(c) for t in Path(f"/proc/{p}/task").iterdir() for c in (t / "children").read_text().split()]
        except OSError:
            continue
    return total


def measure(port: int, pid: int, images: np.ndarray, clients: int, seconds: float) -> tuple[int, float, float]:
    """(requests, wall seconds, server CPU seconds) over `clients` threads, each with its own
    tritonclient.http client."""
    counts = [0] * clients
    cpu0, start = cpu_seconds(pid), time.perf_counter()
    until = start + seconds
    threads = [
        threading.Thread(target=one_client, args=(port, images, until, 10**9, counts, i)) for i in range(clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts), time.perf_counter() - start, cpu_seconds(pid) - cpu0


def same_answers(ports: dict[str, int], images: np.ndarray) -> float:
    import tritonclient.http as httpclient

    results = []
    for port in ports.values():
        client = httpclient.InferenceServerClient(f"{HOST}:{port}")
        request = httpclient.InferInput("images", list(images.shape), "UINT8")
        request.set_data_from_numpy(images)
        results.append(client.infer(MODEL, [request]).as_numpy("probabilities"))
    return float(np.abs(results[0] - results[1]).max())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models", help="model.onnx or the repository (default models/)")
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "fashion-bench"))
    parser.add_argument("--seconds", type=float, default=2.0, help="per case, server and round")
    parser.add_argument("--rounds", type=int, default=4, help="turns each server takes per case")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=900, help="hard stop for the whole run, seconds")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGALRM, lambda *_: sys.exit("stopped: --timeout reached"))
    signal.alarm(int(args.timeout))

    from inference.core.fashion_mnist import load_split
    from inference.core.model_repository import resolve_model_path, write_model

    model_file = resolve_model_path(args.model)
    server, backends, site = setup_triton(Path(args.cache).expanduser())
    images = load_split("test").images
    processes = []
    with tempfile.TemporaryDirectory(prefix="fashion-bench.") as tmp:
        try:
            triton, triton_port = start_triton(server, backends, site, model_file, Path(tmp))
            processes.append(triton)
            # The same bytes in a repository of the project's own layout, so both serve "fashion_mnist".
            write_model(Path(tmp) / "serve", model_file.read_bytes())
            serve, serve_port = start_fashion_serve(Path(tmp) / "serve")
            processes.append(serve)
            wait_ready(triton_port, triton, "tritonserver", 120)
            wait_ready(serve_port, serve, "fashion-serve", 60)
            servers = {"fashion-serve": (serve_port, serve.pid), "triton": (triton_port, triton.pid)}
            print(
                f"model {model_file}; tritonserver 2.51 (python backend + onnxruntime) vs fashion-serve; "
                f"client tritonclient.http, binary tensors; {os.cpu_count()} CPU(s), shared with whatever else runs"
            )
            print(
                f"largest difference in probabilities between the two servers: "
                f"{same_answers({n: p for n, (p, _) in servers.items()}, images[:256]):.2e}"
            )
            print(
                f"{args.rounds} rounds of {args.seconds:g} s per server and case, the servers taking turns; "
                "images/s over all rounds, and the server's CPU (all its processes) per request"
            )
            print(f"{'case':<30} {'fashion-serve':>13} {'triton':>10} {'ratio':>6}   {'CPU ms/request':>22}")
            for batch in (1, 256):
                for clients in (1, args.clients):
                    totals = {name: [0, 0.0, 0.0] for name in servers}
                    for round_ in range(args.rounds):
                        order = list(servers) if round_ % 2 == 0 else list(servers)[::-1]
                        for name in order:
                            port, pid = servers[name]
                            for i, value in enumerate(measure(port, pid, images[:batch], clients, args.seconds)):
                                totals[name][i] += value
                    rate = {n: t[0] * batch / t[1] for n, t in totals.items()}
                    cpu = {n: t[2] / max(t[0], 1) * 1e3 for n, t in totals.items()}
                    case = f"batch {batch}, {'sequential' if clients == 1 else f'{clients} clients at once'}"
                    print(
                        f"{case:<30} {rate['fashion-serve']:>9.0f} i/s {rate['triton']:>6.0f} i/s "
                        f"{rate['fashion-serve'] / rate['triton']:>5.2f}x   "
                        f"{cpu['fashion-serve']:>6.2f} vs {cpu['triton']:>5.2f} (triton)",
                        flush=True,
                    )
        finally:
            for process in processes:
                stop(process)
    return 0


if __name__ == "__main__":
    sys.exit(main())
