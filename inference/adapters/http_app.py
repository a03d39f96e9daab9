"""The app behind `fashion-serve`: the Open Inference Protocol (`/v2/...`, oip_routes.py) and
`/metrics` ahead of the FastAPI app that serves POST /predict, GET /health, GET /metadata.

The only module that builds FastAPI, so `import inference` stays cheap for everyone else.
Every request a client can get wrong ends in a 4xx with a reason in `detail`, never a 500:
malformed JSON or multipart 400, body not complete in time 408, body over the limit 413,
unknown content type 415, images of the wrong shape, type or values 422; 503 + Retry-After when
the server sheds load (admission.py), 500 with the reason when the model itself fails.

Parsing, decoding and scoring of /predict run on worker threads, at most `decode_slots` requests
at a time, and large JSON bodies are parsed in a worker process, so a slow upload never holds up
/health or other clients, and a flood of them waits its turn, up to a bound, instead of taking
every thread.
"""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial

import anyio
import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inference.adapters.http_schema import (
    PREDICT_BODY,
    PROBLEMS,
    Health,
    Metadata,
    PredictResponse,
    Scored,
    Skipped,
)
from inference.adapters.inference_stats import Timing
from inference.adapters.oip_routes import OipRoutes
from inference.adapters.predict_json import images_from_json
from inference.adapters.request_body import problem_headers, read_body, send_json
from inference.adapters.serve_protocol import OVER_CAPACITY
from inference.adapters.serve_settings import HEALTH_PATHS, ServeSettings
from inference.adapters.served_models import ServedModel
from inference.adapters.service import Service
from inference.core.arrays import PIXELS
from inference.core.classes import IMAGE_SHAPE
from inference.core.decoders import read_image
from inference.core.errors import ClientLeft, InputError, ModelError, ServiceError
from inference.core.predictor import Predictor


class ServiceApp(FastAPI):
    """FastAPI, with the Gate in front of all of it: /v2 requests never pass through FastAPI's
    middleware stack and per-request telemetry check (a tenth of a batch-1 request's time)."""

    gate: Gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.gate(scope, receive, send)

    async def fastapi(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)


class Gate:
    """In front of the FastAPI app: the Open Inference Protocol and /metrics go to OipRoutes; a
    /predict body is admitted (admission.py) and read whole, within the size limit, the read
    timeout and the body budget, before FastAPI sees it, so the app never reads a partial one.
    Connections past the server's cap (serve_protocol.py) get 503 unless they ask for health."""

    def __init__(self, app: ASGIApp, service: Service, routes: OipRoutes):
        self.app, self.service, self.routes = app, service, routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        if scope.get(OVER_CAPACITY) and path not in HEALTH_PATHS:
            return await send_json(
                send,
                503,
                {
                    "error": "the server is at its connection limit; retry later",
                    "detail": "the server is at its connection limit; retry later",
                },
                [(b"retry-after", str(self.service.settings.retry_after).encode())],
                close=True,
            )
        if path.startswith("/v2") or path == "/metrics":
            return await self.routes(scope, receive, send)
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        await self.admitted(scope, receive, send)

    async def admitted(self, scope: Scope, receive: Receive, send: Send) -> None:
        service, reserved = self.service, [0]
        try:
            service.admission.enter()
        except ServiceError as e:
            service.stats.failed(service.model.default, e.reason, time.perf_counter_ns())
            return await self.problem(send, e)
        try:
            body = await read_body(scope, receive, service.settings, service.admission, reserved)
            await self.app(scope, _replay(body, receive), send)
        except ClientLeft:
            return None  # the client left: there is no one to answer
        except ServiceError as e:
            if e.status == 503:
                service.stats.failed(service.model.default, e.reason, time.perf_counter_ns())
            await self.problem(send, e)
        finally:
            service.admission.leave(reserved[0])

    async def problem(self, send: Send, error: ServiceError) -> None:
        await send_json(
            send, error.status, {"detail": error.message}, problem_headers(error, self.service.settings), close=True
        )


def _replay(body: bytes | bytearray, receive: Receive) -> Receive:
    """A `receive` that hands the app the buffered body, then the connection's own messages."""
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()  # e.g. http.disconnect, for apps that listen for it
        delivered = True
        return {"type": "http.request", "body": bytes(body), "more_body": False}

    return replayed


def create_app(
    predictor: Predictor,
    settings: ServeSettings | None = None,
    model: ServedModel | None = None,
    **overrides: float,
) -> FastAPI:
    """The service around one Predictor, the default version of `model` (default: the model
    folder around the Predictor's file). onnxruntime sessions are safe to share across threads.
    `overrides` replace single settings (create_app(p, decode_slots=2))."""
    settings = ServeSettings(**{**(settings or ServeSettings()).__dict__, **overrides})
    model = model or ServedModel.from_predictor(predictor)
    service = Service(model, settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        service.offload.close()  # the JSON worker processes go with the app

    app = ServiceApp(
        title="Fashion-MNIST softmax regression",
        version="1",
        description="Predictions from the exported ONNX model. The Open Inference Protocol (the API "
        "Triton and its clients speak) is served under /v2, beside this API; metrics at /metrics.",
        lifespan=lifespan,
    )
    app.gate = Gate(app.fastapi, service, OipRoutes(service))
    app.state.service = service
    version = model.default

    @app.exception_handler(InputError)
    async def input_error(request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse(
            {"detail": exc.message},
            status_code=exc.status,
            headers=dict((k.decode(), v.decode()) for k, v in problem_headers(exc, settings)),
        )

    # async: answered on the event loop itself, so no busy thread pool can delay it.
    @app.get("/health", response_model=Health)
    async def health() -> Health:
        return Health(status="ok", device=predictor.device)

    @app.get("/metadata", response_model=Metadata)
    async def metadata() -> Metadata:
        return Metadata(
            classes=predictor.class_names,
            model_sha256=predictor.sha256,
            test_accuracy=predictor.test_accuracy,
            dataset_sha256=predictor.dataset_sha256,
            variant=predictor.variant,
            created=predictor.created,
            device=predictor.device,
            providers=predictor.providers,
            input="uint8 images [N, 28, 28], raw pixels 0..255 (0 = background)",
        )

    @app.post(
        "/predict",
        response_model=PredictResponse,
        responses=PROBLEMS,
        openapi_extra={"requestBody": PREDICT_BODY},
        summary="Classify images sent as JSON pixels, raw bytes or PNG/JPEG uploads",
    )
    async def predict(request: Request) -> Response:
        start = time.perf_counter_ns()
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/json":
            decode = partial(_from_json, service, await request.body())
        elif kind == "application/octet-stream":
            decode = partial(_from_bytes, await request.body())
        elif kind == "multipart/form-data":
            decode = partial(_from_files, *await _read_form(request))
        else:
            raise HTTPException(
                415,
                f"Content-Type {kind or '(none)'} is not supported; send application/json, "
                "application/octet-stream or multipart/form-data",
            )
        timing, waiting = Timing(start), [True]
        service.stats.pending(version, +1)
        try:
            answer, count = await anyio.to_thread.run_sync(
                _score, service, predictor, decode, timing, waiting, limiter=service.slots
            )
        except ModelError as e:
            service.stats.failed(version, "BACKEND", start)
            return JSONResponse({"detail": f"the model failed: {e}"}, status_code=500)
        except (InputError, ServiceError, HTTPException):
            service.stats.failed(version, "OTHER", start)
            raise
        finally:
            if waiting[0]:  # cancelled before a slot came free
                service.stats.pending(version, -1)
        service.stats.succeeded(version, count, timing)
        return Response(answer, media_type="application/json")

    return app


# (N, 28, 28) uint8 images, one name per image, the uploads that could not be read
Decoded = tuple[np.ndarray, list[str], list[Skipped]]


def _score(
    service: Service, predictor: Predictor, decode: Callable[[], Decoded], timing: Timing, waiting: list[bool]
) -> tuple[str, int]:
    """On a worker thread: decode the request's images, score them, and write the answer's JSON."""
    waiting[0] = False
    service.stats.pending(service.model.default, -1)
    t0 = time.perf_counter_ns()
    timing.queue = t0 - timing.start
    images, names, errors = decode()
    timing.compute_input = time.perf_counter_ns() - t0
    result = predictor.predict(images)
    probs = result.probabilities
    if not np.isfinite(probs).all():  # JSON has no NaN, and no client should read one as a probability
        raise ModelError(f"{predictor.path} gave NaN or infinity for some images; export the model again")
    t1 = time.perf_counter_ns()
    timing.compute_infer = t1 - t0 - timing.compute_input
    scored_rows = [
        Scored(name=n, label=lab, class_name=c, confidence=conf, probabilities=p)
        for n, lab, c, conf, p in zip(
            names, result.labels.tolist(), result.class_names, result.confidence.tolist(), probs.tolist(), strict=False
        )
    ]
    answer = PredictResponse(model_sha256=predictor.sha256, predictions=scored_rows, errors=errors).model_dump_json()
    timing.compute_output = time.perf_counter_ns() - t1
    return answer, len(images)


def _numbered(images: np.ndarray) -> Decoded:
    return images, [str(i) for i in range(len(images))], []


def _from_json(service: Service, body: bytes) -> Decoded:
    return _numbered(service.offload.parse(images_from_json, body))


def _from_bytes(body: bytes) -> Decoded:
    if not body or len(body) % PIXELS:
        raise InputError(f"raw body must be N*{PIXELS} bytes (N 28x28 uint8 images), got {len(body)} bytes")
    return _numbered(np.frombuffer(body, np.uint8).reshape(-1, *IMAGE_SHAPE))


async def _read_form(request: Request) -> tuple[list[tuple[str, bytes]], list[Skipped]]:
    """Every uploaded file under any field, as (name, bytes); text fields are skipped, by name."""
    try:
        form = await request.form()
    except Exception as e:  # starlette's HTTPException for most parse errors; python-multipart's own for the rest
        reason = e.detail if isinstance(e, StarletteHTTPException) else e
        raise HTTPException(400, f"body is not valid multipart/form-data: {reason}") from e
    files, skipped = [], []
    try:
        for index, (field_name, value) in enumerate(form.multi_items()):
            if isinstance(value, UploadFile):
                files.append((value.filename or f"{field_name}[{index}]", await value.read()))
            else:
                skipped.append(Skipped(name=field_name, error="expected a file upload, got a text field"))
    finally:
        await form.close()
    return files, skipped


def _from_files(files: list[tuple[str, bytes]], skipped: list[Skipped]) -> Decoded:
    """Decode each upload; a bad one is reported by name, the others scored."""
    images, names, errors = [], [], list(skipped)
    for name, data in files:
        try:
            images.append(read_image(io.BytesIO(data), name=name))
            names.append(name)
        except InputError as e:
            errors.append(Skipped(name=name, error=str(e).removeprefix(f"{name}: ")))
    if not images and not errors:
        raise InputError("the multipart body holds no files; send PNG/JPEG files in a field named 'file'")
    if not images:
        raise InputError("no uploaded file could be read: " + "; ".join(f"{e.name}: {e.error}" for e in errors))
    return np.stack(images), names, errors
