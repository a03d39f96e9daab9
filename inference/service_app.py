"""The FastAPI app behind `fashion-serve`: POST /predict, GET /health, GET /metadata.

The only module that imports FastAPI, so `import inference` stays cheap for everyone else.
Every request a client can get wrong ends in a 4xx with a reason in `detail`, never a 500:
malformed JSON 400, body over the limit 413, unknown content type 415, images of the wrong
shape or values 422.
"""

from __future__ import annotations

import io
import json

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inference.classes import IMAGE_SHAPE, NUM_CLASSES
from inference.inputs import PIXELS, InputError, as_uint8_batch, read_image
from inference.predictor import Predictor

DEFAULT_MAX_BODY = 8 * 1024 * 1024  # 8 MiB: ~10,700 images as raw bytes, ~2,000 as JSON
INLINE_MAX = 256  # images scored on the event loop; bigger batches go to a worker thread


class Scored(BaseModel):
    name: str = Field(description="file name for uploads, the batch index otherwise")
    label: int = Field(ge=0, le=NUM_CLASSES - 1)
    class_name: str
    confidence: float
    probabilities: list[float] = Field(min_length=NUM_CLASSES, max_length=NUM_CLASSES)


class Skipped(BaseModel):
    name: str
    error: str


class PredictResponse(BaseModel):
    model_sha256: str
    predictions: list[Scored]
    errors: list[Skipped] = Field(default_factory=list, description="uploaded files that could not be read")


class Problem(BaseModel):
    detail: str


class Health(BaseModel):
    status: str
    device: str


class Metadata(BaseModel):
    classes: list[str]
    model_sha256: str
    test_accuracy: float | None
    dataset_sha256: str | None
    variant: str | None
    created: str | None
    device: str
    providers: list[str]
    input: str


PROBLEMS = {code: {"model": Problem, "description": why} for code, why in {
    400: "the body is not valid JSON or multipart",
    413: "the body is larger than the server's limit",
    415: "unsupported Content-Type",
    422: "the images have the wrong size, type or values",
}.items()}

# /predict reads its body itself (three content types on one route), so its request body is
# described here for the OpenAPI document rather than derived from parameters.
PREDICT_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["images"],
                "additionalProperties": False,
                "properties": {
                    "images": {
                        "type": "array",
                        "minItems": 1,
                        "description": "uint8 pixels, row-major: each image 784 integers "
                        "(28 rows of 28 are accepted too)",
                        "items": {
                            "type": "array",
                            "minItems": PIXELS,
                            "maxItems": PIXELS,
                            "items": {"type": "integer", "minimum": 0, "maximum": 255},
                        },
                    }
                },
            }
        },
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "array",
                        "items": {"type": "string", "format": "binary"},
                        "description": "one or more 28x28 grayscale PNG/JPEG files",
                    }
                },
            }
        },
        "application/octet-stream": {
            "schema": {"type": "string", "format": "binary", "description": "N*784 bytes: N images, row-major"}
        },
    },
}


class BodyLimit:
    """ASGI middleware: 413 for bodies over `limit` bytes.

    Checks the declared Content-Length up front and also counts the bytes actually streamed, since
    chunked requests declare none and a client may lie. The overflow is raised as HTTPException
    from inside `receive`, so FastAPI turns it into a 413 wherever the body is being read.
    """

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                return await _send_problem(send, 400, "Content-Length is not a number")
            if int(declared) > self.limit:
                return await _send_problem(send, 413, f"body of {int(declared)} bytes exceeds the limit of {self.limit}")
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise HTTPException(413, f"body exceeds the limit of {self.limit} bytes")
            return message

        await self.app(scope, counted, send)


async def _send_problem(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    # Connection: close, because the unread body would otherwise be parsed as the next request.
    headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_app(predictor: Predictor, max_body_bytes: int = DEFAULT_MAX_BODY) -> FastAPI:
    """The service around one Predictor (onnxruntime sessions are safe to share across threads)."""
    app = FastAPI(
        title="Fashion-MNIST softmax regression",
        version="1",
        description="Predictions from the exported ONNX model. For serving at scale use Triton "
        "with the models/ repository.",
    )
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    meta = predictor.metadata

    @app.exception_handler(InputError)
    async def input_error(request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.get("/health", response_model=Health)
    def health() -> Health:
        return Health(status="ok", device=predictor.device)

    @app.get("/metadata", response_model=Metadata)
    def metadata() -> Metadata:
        return Metadata(
            classes=predictor.class_names,
            model_sha256=predictor.sha256,
            test_accuracy=predictor.test_accuracy,
            dataset_sha256=meta.get("dataset_sha256"),
            variant=meta.get("variant"),
            created=meta.get("created"),
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
    async def predict(request: Request) -> PredictResponse:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        errors: list[Skipped] = []
        if kind == "application/json":
            images, names = _from_json(await request.body()), None
        elif kind == "application/octet-stream":
            images, names = _from_bytes(await request.body()), None
        elif kind == "multipart/form-data":
            images, names, errors = await _from_upload(request)
        else:
            raise HTTPException(
                415, f"Content-Type {kind or '(none)'} is not supported; send application/json, "
                "application/octet-stream or multipart/form-data"
            )
        if len(images) <= INLINE_MAX:
            result = predictor.predict(images)
        else:  # a long batch would stall every other request on the event loop
            result = await run_in_threadpool(predictor.predict, images)
        names = names or [str(i) for i in range(len(images))]
        confidence = result.confidence.tolist()
        scored = [
            Scored(name=n, label=lab, class_name=c, confidence=conf, probabilities=p)
            for n, lab, c, conf, p in zip(
                names, result.labels.tolist(), result.class_names, confidence, result.probabilities.tolist()
            )
        ]
        return PredictResponse(model_sha256=predictor.sha256, predictions=scored, errors=errors)

    return app


def _from_json(body: bytes) -> np.ndarray:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise HTTPException(400, f"body is not valid JSON: {e}") from e
    if not isinstance(document, dict) or set(document) != {"images"}:
        raise InputError('expected a JSON object with one key, {"images": [[784 integers 0..255], ...]}')
    try:
        array = np.asarray(document["images"])
    except (ValueError, TypeError, OverflowError) as e:  # ragged lists and the like
        raise InputError(f"images must be a rectangular list of lists of integers: {e}") from e
    if array.size == 0:  # [] parses as float64: say what is wrong, not what dtype it defaulted to
        raise InputError("images is an empty batch; send at least one image of 784 integers 0..255")
    if array.dtype.kind not in "iu":
        raise InputError(f"images must hold integers 0..255, got JSON values of type {array.dtype}")
    if array.ndim == 1 and array.size == PIXELS:
        array = array[None]  # one flat image
    return as_uint8_batch(array)


def _from_bytes(body: bytes) -> np.ndarray:
    if not body or len(body) % PIXELS:
        raise InputError(f"raw body must be N*{PIXELS} bytes (N 28x28 uint8 images), got {len(body)} bytes")
    return np.frombuffer(body, np.uint8).reshape(-1, *IMAGE_SHAPE)


async def _from_upload(request: Request) -> tuple[np.ndarray, list[str], list[Skipped]]:
    """Every uploaded file under any field; a bad one is reported by name, the others scored."""
    from starlette.datastructures import UploadFile

    try:
        form = await request.form()
    except HTTPException:
        raise
    except Exception as e:  # python-multipart's parse errors carry no common base class
        raise HTTPException(400, f"body is not valid multipart/form-data: {e}") from e
    images, names, errors = [], [], []
    for index, (field_name, value) in enumerate(form.multi_items()):
        if not isinstance(value, UploadFile):
            errors.append(Skipped(name=field_name, error="expected a file upload, got a text field"))
            continue
        name = value.filename or f"{field_name}[{index}]"
        try:
            images.append(read_image(io.BytesIO(await value.read()), name=name))
            names.append(name)
        except InputError as e:
            errors.append(Skipped(name=name, error=str(e).removeprefix(f"{name}: ")))
    await form.close()
    if not images and not errors:
        raise InputError("the multipart body holds no files; send PNG/JPEG files in a field named 'file'")
    if not images:
        raise InputError("no uploaded file could be read: " + "; ".join(f"{e.name}: {e.error}" for e in errors))
    return np.stack(images), names, errors
