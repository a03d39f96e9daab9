"""The Open Inference Protocol (KServe v2) REST API and Triton's extensions to it, as one plain
ASGI handler ahead of FastAPI: `/v2/...` and `/metrics`.

Plain ASGI, not FastAPI routes: at batch 1 the request is ~1 ms end to end, and FastAPI's
dependency and response machinery added a measurable share of it. Small batches are scored
right here on the event loop (onnxruntime takes tens of microseconds for them, less than the
hop to a worker thread); large ones and large JSON bodies go to the worker slots.

Errors are `{"error": "..."}` as in Triton: 400 for a request that does not fit the model,
404 for an unknown model or version, 405 for a wrong method, 408/413 for bodies, 500 for a
model that fails, 503 (+ Retry-After) when the server sheds load.
"""

from __future__ import annotations

import json
import time
from importlib import metadata as package_metadata

import anyio
from starlette.types import Receive, Scope, Send

from inference.adapters.inference_stats import Timing
from inference.adapters.oip_tensors import InferRequest, infer_request, parse_header, response, split_body
from inference.adapters.request_body import problem_headers, read_body, send_bytes, send_json
from inference.adapters.serve_metrics import CONTENT_TYPE as METRICS_TYPE
from inference.adapters.service import Service, scored
from inference.core.errors import ClientLeft, ModelError, ServiceError

# Images scored on the event loop itself when no other request is in flight: up to 256 take
# ~0.1-0.4 ms in onnxruntime, about what the hop to a worker thread and back costs; larger batches
# use the worker slots and other cores.
INLINE_IMAGES = 256
# Images always scored on the event loop, other requests in flight or not: a thread hop costs
# more than scoring them.
INLINE_ALWAYS = 16
# A JSON header parsed on the event loop: up to ~4 images of JSON pixels, ~0.2 ms. Larger ones go
# to a worker slot (and from OFFLOAD_FROM to a JSON worker process), off the loop.
INLINE_JSON_BYTES = 16 * 1024
EXTENSIONS = ["classification", "binary_tensor_data", "model_configuration", "statistics", "model_repository"]
JSON = [(b"content-type", b"application/json")]


def _version() -> str:
    try:
        return package_metadata.version("fashion-softmax")
    except package_metadata.PackageNotFoundError:
        return "0"


class OipRoutes:
    def __init__(self, service: Service):
        self.service = service
        model = service.model
        self.server_metadata = json.dumps(
            {"name": "fashion-serve", "version": _version(), "extensions": EXTENSIONS}
        ).encode()
        self.model_metadata = json.dumps(model.metadata()).encode()
        self.model_config = json.dumps(model.config).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method, parts = scope["method"], scope["path"].rstrip("/").split("/")[1:]
        try:
            await self.route(method, parts, scope, receive, send)
        except ClientLeft:
            return None  # no one to answer
        except ServiceError as e:
            await send_json(
                send, e.status, {"error": e.message}, problem_headers(e, self.service.settings), close=method == "POST"
            )

    async def route(self, method: str, parts: list[str], scope: Scope, receive: Receive, send: Send) -> None:
        if parts == ["metrics"]:
            self.expect(method, "GET")
            return await send_bytes(
                send, 200, self.service.metrics.render(), [(b"content-type", METRICS_TYPE.encode())]
            )
        if parts == ["v2"]:
            self.expect(method, "GET")
            return await send_bytes(send, 200, self.server_metadata, JSON)
        if parts[:2] == ["v2", "health"] and len(parts) == 3 and parts[2] in ("live", "ready"):
            self.expect(method, "GET")
            return await send_bytes(send, 200, b"", [])
        if parts == ["v2", "repository", "index"]:
            self.expect(method, "POST")
            return await self.repository_index(scope, receive, send)
        if parts == ["v2", "models", "stats"]:
            self.expect(method, "GET")
            return await send_json(send, 200, self.service.stats.as_json())
        if len(parts) >= 3 and parts[:2] == ["v2", "models"]:
            return await self.model_route(method, parts[2:], scope, receive, send)
        raise ServiceError(404, f"Not Found: no route {scope['path']!r}; see /v2 and the Open Inference Protocol")

    def expect(self, method: str, allowed: str) -> None:
        if method != allowed:
            raise ServiceError(405, f"method {method} is not allowed here; use {allowed}")

    async def model_route(self, method: str, rest: list[str], scope: Scope, receive: Receive, send: Send) -> None:
        model = self.service.model
        name, rest = rest[0], rest[1:]
        if name != model.name:
            raise ServiceError(
                404, f"Request for unknown model: '{name}' is not found; this server serves '{model.name}'"
            )
        asked = None
        if rest[:1] == ["versions"]:
            if len(rest) < 2:
                raise ServiceError(404, "Not Found: expected /versions/<number>")
            asked, rest = rest[1], rest[2:]
        version = model.version_of(asked)
        action = rest[0] if len(rest) == 1 else None if not rest else "?"
        if action == "infer":
            self.expect(method, "POST")
            return await self.infer(version, scope, receive, send)
        self.expect(method, "GET")
        if action is None:
            return await send_bytes(send, 200, self.model_metadata, JSON)
        if action == "ready":
            if model.loaded(version) is None:
                await anyio.to_thread.run_sync(model.predictor, version)  # 500 with the reason if it cannot load
            return await send_bytes(send, 200, b"", [])
        if action == "config":
            return await send_bytes(send, 200, self.model_config, JSON)
        if action == "stats":
            return await send_json(send, 200, self.service.stats.as_json(None if asked is None else version))
        raise ServiceError(404, f"Not Found: no route {scope['path']!r}")

    async def repository_index(self, scope: Scope, receive: Receive, send: Send) -> None:
        reserved = [0]
        service = self.service
        service.admission.enter()
        try:
            body = await read_body(scope, receive, service.settings, service.admission, reserved)
        finally:
            service.admission.leave(reserved[0])
        try:
            ready_only = bool(body.strip()) and bool(json.loads(body).get("ready", False))
        except (ValueError, AttributeError) as e:
            raise ServiceError(400, f"the index request must be a JSON object such as {{\"ready\": true}}: {e}") from e
        rows = [row for row in service.model.index() if not ready_only or row["state"] == "READY"]
        await send_json(send, 200, rows)

    async def infer(self, version: str, scope: Scope, receive: Receive, send: Send) -> None:
        service = self.service
        stats, timing = service.stats, Timing(time.perf_counter_ns())
        try:
            service.admission.enter()
        except ServiceError:
            stats.failed(version, "REJECTED", timing.start)
            raise
        reserved, waiting = [0], [True]
        stats.pending(version, +1)

        def started() -> None:  # no longer pending: scoring begins
            if waiting[0]:
                waiting[0] = False
                stats.pending(version, -1)

        try:
            body = await read_body(scope, receive, service.settings, service.admission, reserved)
            header_length = next((v for k, v in scope["headers"] if k == b"inference-header-content-length"), None)
            head, binary = split_body(body, header_length)
            predictor = service.model.loaded(version)
            # Alone, a small request is scored right here; beside others, on a worker slot, so that
            # onnxruntime (which releases the GIL) runs while the loop reads the next request.
            alone = service.admission.admitted == 1
            if (
                predictor is not None
                and len(head) <= INLINE_JSON_BYTES
                and len(binary) <= INLINE_IMAGES * 784
                and (alone or len(binary) <= INLINE_ALWAYS * 784)
            ):
                started()
                out, request = self.run(version, head, binary, timing)
            else:
                ready = time.perf_counter_ns()

                def on_worker() -> tuple[tuple[bytes, list[bytes]], InferRequest]:
                    started()
                    timing.queue = time.perf_counter_ns() - ready
                    return self.run(version, head, binary, timing, offload=True)

                out, request = await anyio.to_thread.run_sync(on_worker, limiter=service.slots)
            header, binaries = out
            if binaries:
                headers = [
                    (b"content-type", b"application/octet-stream"),
                    (b"inference-header-content-length", str(len(header)).encode()),
                ]
                await send_bytes(send, 200, b"".join([header, *binaries]), headers)
            else:
                await send_bytes(send, 200, header, JSON)
            stats.succeeded(version, len(request.images), timing)
        except ClientLeft:
            stats.failed(version, "CANCELED", timing.start)
        except ServiceError as e:
            stats.failed(version, e.reason, timing.start)
            raise
        except ModelError as e:
            stats.failed(version, "BACKEND", timing.start)
            raise ServiceError(500, f"model '{service.model.name}' version {version} failed: {e}", "BACKEND") from e
        finally:
            started()
            service.admission.leave(reserved[0])

    def run(
        self, version: str, head: bytes | bytearray, binary: memoryview, timing: Timing, offload: bool = False
    ) -> tuple[tuple[bytes, list[bytes]], InferRequest]:
        """Parse, score and encode one request (on the event loop for small ones, else a worker thread)."""
        service = self.service
        model = service.model
        t0 = time.perf_counter_ns()
        header = service.offload.parse(parse_header, head) if offload else parse_header(head)
        request = infer_request(header, binary, model.name, model.max_batch)
        predictor = model.predictor(version)
        t1 = time.perf_counter_ns()
        timing.compute_input = t1 - t0
        tensors = scored(predictor, request.images, {o.name for o in request.outputs}, timing)
        t2 = time.perf_counter_ns()
        labels = {o.name: model.label_list(o.name, predictor) for o in request.outputs if o.class_count}
        out = response(model.name, version, request, tensors, labels)
        timing.compute_output = time.perf_counter_ns() - t2
        return out, request
