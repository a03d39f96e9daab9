"""The FastAPI app behind `fashion-serve`: POST /predict, GET /health, GET /metadata.

The only module that imports FastAPI, so `import inference` stays cheap for everyone else.
Every request a client can get wrong ends in a 4xx with a reason in `detail`, never a 500:
malformed JSON or multipart 400, body not complete in time 408, body over the limit 413,
unknown content type 415, images of the wrong shape, type or values 422.

The event loop only moves bytes. Parsing, decoding and scoring run on worker threads, at most
`decode_slots` requests at a time, so a slow upload never holds up /health or other clients, and
a flood of them waits its turn instead of taking every thread.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from functools import partial

import anyio
import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inference.core.classes import IMAGE_SHAPE, NUM_CLASSES
from inference.core.errors import InputError
from inference.core.json_limits import json_depth
from inference.core.arrays import PIXELS, as_uint8_batch
from inference.core.decoders import read_image
from inference.core.predictor import Predictor
from inference.adapters.serve_command import DEFAULT_MAX_BODY, DEFAULT_READ_TIMEOUT

# Requests parsed, decoded and scored at once. Pillow and onnxruntime release the GIL, so a few
# use a few cores; more would only hold more bodies in memory while they wait for the same cores.
DECODE_SLOTS = 4
JSON_EXPECTED = '{"images": [[784 integers 0..255], ...]}'
# JSON bodies are first checked on their (UTF-8) bytes for what json.loads and numpy mishandle.
# A valid body holds one string, "images", so nothing below can hide inside a string.
# json.loads recurses once per bracket: RecursionError, a 500, at ~1,000 levels. The deepest valid
# body is 28 rows of 28, {"images": [[[28 ints] x 28], ...]}: 4 levels.
JSON_MAX_DEPTH = 4
# json.loads refuses integers over 4,300 digits with what reads like a syntax error, and numpy
# keeps those past 2**64 as Python objects; pixels need 3 digits, so 11 or more are refused outright.
LONG_NUMBER = re.compile(rb"\d{11,}")
# numpy turns true/false among integers into 1/0 without a word.
BOOLEAN = re.compile(rb"true|false")
JSON_KINDS = {  # what a non-integer array of JSON values held, by numpy dtype kind
    "f": "numbers with a fraction or exponent (or NaN/Infinity)",
    "b": "true/false",
    "U": "strings",
    "O": "null or objects",
}


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
    408: "the body did not arrive within the server's read timeout",
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


class BodyGuard:
    """ASGI middleware: the whole body, within `limit` bytes and `read_timeout` seconds, or no app.

    413 for a declared Content-Length over the limit before reading a byte, and for streamed bytes
    past it (chunked requests declare none, and a client may lie); 408 for a body still incomplete
    after `read_timeout` seconds, so a client trickling bytes holds its connection no longer. The
    app then reads the buffered body as usual and never sees a partial one.
    """

    def __init__(self, app: ASGIApp, limit: int, read_timeout: float):
        self.app, self.limit, self.read_timeout = app, limit, read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                return await _send_problem(send, 400, "Content-Length is not a number")
            if int(declared) > self.limit:
                return await _send_problem(
                    send, 413, f"body of {int(declared)} bytes exceeds the limit of {self.limit}; "
                    "send fewer images per request",
                )
        body = bytearray()
        with anyio.move_on_after(self.read_timeout) as clock:
            connected = await _read_body(receive, body, self.limit)
        if clock.cancelled_caught:
            return await _send_problem(
                send, 408, f"the body was not complete after {self.read_timeout:g} s ({len(body)} bytes arrived); "
                "send the whole body without pauses",
            )
        if not connected:
            return None  # the client left: there is no one to answer
        if len(body) > self.limit:
            return await _send_problem(
                send, 413, f"body exceeds the limit of {self.limit} bytes; send fewer images per request"
            )
        await self.app(scope, _replay(bytes(body), receive), send)


async def _read_body(receive: Receive, body: bytearray, limit: int) -> bool:
    """Append the request body to `body` until it ends or passes `limit`; False if the client left."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return False
        body += message.get("body", b"")
        if len(body) > limit or not message.get("more_body", False):
            return True


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the buffered body, then the connection's own messages."""
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()  # e.g. http.disconnect, for apps that listen for it
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


async def _send_problem(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    # Connection: close, because an unread body would otherwise be parsed as the next request.
    headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_app(
    predictor: Predictor,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    decode_slots: int = DECODE_SLOTS,
) -> FastAPI:
    """The service around one Predictor (onnxruntime sessions are safe to share across threads)."""
    app = FastAPI(
        title="Fashion-MNIST softmax regression",
        version="1",
        description="Predictions from the exported ONNX model. For serving at scale use Triton "
        "with the models/ repository.",
    )
    app.add_middleware(BodyGuard, limit=max_body_bytes, read_timeout=read_timeout)
    # Its own limiter, not the default thread pool's: a flood of slow decodes waits here while
    # the default pool's threads stay free for everything else.
    slots = anyio.CapacityLimiter(decode_slots)
    meta = predictor.metadata

    @app.exception_handler(InputError)
    async def input_error(request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

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
    async def predict(request: Request) -> Response:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/json":
            decode = partial(_from_json, await request.body())
        elif kind == "application/octet-stream":
            decode = partial(_from_bytes, await request.body())
        elif kind == "multipart/form-data":
            decode = partial(_from_files, *await _read_form(request))
        else:
            raise HTTPException(
                415, f"Content-Type {kind or '(none)'} is not supported; send application/json, "
                "application/octet-stream or multipart/form-data"
            )
        answer = await anyio.to_thread.run_sync(_score, predictor, decode, limiter=slots)
        return Response(answer, media_type="application/json")

    return app


# (N, 28, 28) uint8 images, one name per image, the uploads that could not be read
Decoded = tuple[np.ndarray, list[str], list[Skipped]]


def _score(predictor: Predictor, decode: Callable[[], Decoded]) -> str:
    """On a worker thread: decode the request's images, score them, and write the answer's JSON."""
    images, names, errors = decode()
    result = predictor.predict(images)
    scored = [
        Scored(name=n, label=lab, class_name=c, confidence=conf, probabilities=p)
        for n, lab, c, conf, p in zip(
            names, result.labels.tolist(), result.class_names, result.confidence.tolist(),
            result.probabilities.tolist(),
        )
    ]
    return PredictResponse(model_sha256=predictor.sha256, predictions=scored, errors=errors).model_dump_json()


def _numbered(images: np.ndarray) -> Decoded:
    return images, [str(i) for i in range(len(images))], []


def _from_json(body: bytes) -> Decoded:
    _refuse_what_json_mishandles(body)
    try:
        # UTF-8 only (RFC 8259), which json.loads would not insist on: in UTF-16 the checks above
        # would not see the digits and words they look for.
        document = json.loads(body.decode("utf-8"))
    except ValueError as e:  # UnicodeDecodeError included
        raise HTTPException(400, f"body is not valid JSON in UTF-8: {e}; expected {JSON_EXPECTED}") from e
    if not isinstance(document, dict) or set(document) != {"images"}:
        raise InputError(f"expected a JSON object with one key, {JSON_EXPECTED}")
    try:
        array = np.asarray(document["images"])
    except (ValueError, TypeError) as e:  # ragged lists and the like
        raise InputError(f"images must be a rectangular list of lists of integers: {e}") from e
    if array.size == 0:  # [] parses as float64: say what is wrong, not what dtype it defaulted to
        raise InputError(f"images is an empty batch; expected {JSON_EXPECTED}")
    if array.dtype.kind not in "iu":
        raise InputError(f"images must hold integers 0..255, got {JSON_KINDS.get(array.dtype.kind, array.dtype)}")
    if array.ndim == 1 and array.size == PIXELS:
        array = array[None]  # one flat image
    return _numbered(as_uint8_batch(array))


def _refuse_what_json_mishandles(body: bytes) -> None:
    """422 for what json.loads or numpy would turn into a 500 or a silent 1 (see JSON_MAX_DEPTH)."""
    if json_depth(body.decode("utf-8", errors="replace")) > JSON_MAX_DEPTH:
        raise InputError(f"JSON nested more than {JSON_MAX_DEPTH} levels deep; expected {JSON_EXPECTED}")
    if number := LONG_NUMBER.search(body):
        raise InputError(f"images hold a number of {len(number[0])} digits; pixels are integers 0..255")
    if word := BOOLEAN.search(body):
        raise InputError(f"images must hold integers 0..255, got {word[0].decode()}")


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
