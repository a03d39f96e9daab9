"""Open Inference Protocol (KServe v2) tensors in and out, with Triton's binary tensor data and
classification extensions. Pure functions over bytes and numpy: no HTTP, no model.

Binary extension: the body is a JSON header of `Inference-Header-Content-Length` bytes followed by
raw tensors, each input's size in its `binary_data_size` parameter, in input order; outputs asked
for with `binary_data` (or the request's `binary_data_output`) come back the same way. Binary
input is used in place (np.frombuffer): no per-pixel work at all.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

import numpy as np

from inference.core.classes import IMAGE_SHAPE, NUM_CLASSES
from inference.core.errors import ServiceError
from inference.core.model_contract import INPUT, OUTPUTS

PIXELS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]


@dataclass(frozen=True)
class Requested:
    name: str
    binary: bool
    class_count: int  # 0: the tensor itself


@dataclass(frozen=True)
class InferRequest:
    id: str | None
    images: np.ndarray  # (N, 28, 28) uint8
    outputs: tuple[Requested, ...]


def split_body(body: bytes | bytearray, header_length: bytes | None) -> tuple[bytes | bytearray, memoryview]:
    """(JSON header, the binary tensors after it)."""
    view = memoryview(body)
    if header_length is None:
        return body, view[len(body) :]
    if not header_length.isdigit() or int(header_length) > len(body):
        raise ServiceError(
            400,
            f"Inference-Header-Content-Length is {header_length[:20].decode('latin-1')!r}, "
            f"expected the JSON header's size in bytes, at most the body's {len(body)}",
        )
    n = int(header_length)
    return view[:n].tobytes() if n < len(body) else body, view[n:]


def parse_header(raw: bytes | bytearray) -> dict:
    """The JSON header, with each JSON `data` list already checked and turned into a flat uint8
    array: this is the part that costs, and it runs in a JSON worker process for large bodies."""
    try:
        header = json.loads(raw)
    # RecursionError: nesting past ~1,000 brackets, which json.loads refuses cleanly.
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError included
        raise ServiceError(400, f"failed to parse the request JSON: {e}") from e
    if not isinstance(header, dict):
        raise ServiceError(400, f"the request must be a JSON object, got {type(header).__name__}")
    for tensor in header.get("inputs") or []:
        if isinstance(tensor, dict) and "data" in tensor:
            tensor["data"] = _uint8_values(tensor.get("name"), tensor["data"])
    return header


def _uint8_values(name: object, data: object) -> np.ndarray:
    try:
        array = np.asarray(data)
    except (ValueError, TypeError) as e:
        raise ServiceError(400, f"input '{name}': data is not a rectangular list of numbers: {e}") from e
    if array.dtype == bool or array.dtype.kind not in "iu":
        got = {"b": "true/false", "f": "numbers with a fraction or exponent"}.get(
            array.dtype.kind, "strings, null, objects or integers past 64 bits"
        )
        raise ServiceError(400, f"input '{name}': datatype UINT8 needs integers 0..255 in data, got {got}")
    if array.size and (array.min() < 0 or array.max() > 255):
        raise ServiceError(400, f"input '{name}': datatype UINT8 needs values 0..255, got {array.min()}..{array.max()}")
    return array.astype(np.uint8, copy=False).ravel()


def infer_request(header: dict, binary: memoryview, model: str, max_batch: int | None) -> InferRequest:
    """Validate a parsed header against the model's signature; 400 naming what is wrong."""
    inputs = header.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1:
        count = len(inputs) if isinstance(inputs, list) else 0
        raise ServiceError(400, f"expected 1 inputs but got {count} inputs for model '{model}'")
    (tensor,) = inputs
    if not isinstance(tensor, dict) or tensor.get("name") != INPUT:
        name = tensor.get("name") if isinstance(tensor, dict) else tensor
        raise ServiceError(400, f"unexpected inference input '{name}' for model '{model}'; expected '{INPUT}'")
    if tensor.get("datatype") != "UINT8":
        raise ServiceError(
            400,
            f"inference input '{INPUT}' data-type is '{tensor.get('datatype')}', but model '{model}' expects 'UINT8'",
        )
    shape = tensor.get("shape")
    if not (
        isinstance(shape, list)
        and all(type(d) is int for d in shape)
        and len(shape) == 3
        and tuple(shape[1:]) == IMAGE_SHAPE
        and shape[0] >= 1
    ):
        raise ServiceError(
            400,
            f"unexpected shape for input '{INPUT}' for model '{model}'. Expected [-1,28,28], got {json.dumps(shape)}",
        )
    n = shape[0]
    if max_batch is not None and n > max_batch:
        raise ServiceError(400, f"inference request batch-size must be <= {max_batch} for '{model}', got {n}")
    parameters = tensor.get("parameters") or {}
    size = parameters.get("binary_data_size")
    expected = n * PIXELS
    if size is not None:
        if type(size) is not int or size != expected:
            raise ServiceError(
                400, f"input '{INPUT}' has binary_data_size {size}, expected {expected} bytes for shape {shape} UINT8"
            )
        if len(binary) != size:
            raise ServiceError(
                400, f"input '{INPUT}' expects {size} bytes of binary data after the JSON header, got {len(binary)}"
            )
        flat = np.frombuffer(binary, np.uint8)
    elif "data" in tensor:
        flat = tensor["data"]
        if not isinstance(flat, np.ndarray):  # parse_header did not run on it
            flat = _uint8_values(INPUT, flat)
        if flat.size != expected:
            raise ServiceError(400, f"input '{INPUT}' holds {flat.size} values, expected {expected} for shape {shape}")
        if len(binary):
            raise ServiceError(
                400, f"{len(binary)} bytes follow the JSON header, but no input declares binary_data_size"
            )
    else:
        raise ServiceError(400, f"input '{INPUT}' has neither data nor a binary_data_size parameter")
    request_id = header.get("id")
    return InferRequest(
        None if request_id is None else str(request_id), flat.reshape(n, *IMAGE_SHAPE), _requested(header, model)
    )


def _requested(header: dict, model: str) -> tuple[Requested, ...]:
    binary_default = bool((header.get("parameters") or {}).get("binary_data_output", False))
    asked = header.get("outputs")
    if asked is None:
        return tuple(Requested(name, binary_default, 0) for name in OUTPUTS)
    if not isinstance(asked, list):
        raise ServiceError(400, f"outputs must be a list of {{\"name\": ...}}, got {type(asked).__name__}")
    out = []
    for item in asked:
        name = item.get("name") if isinstance(item, dict) else None
        if name not in OUTPUTS:
            raise ServiceError(
                400, f"unexpected inference output '{name}' for model '{model}'; it has {', '.join(OUTPUTS)}"
            )
        parameters = item.get("parameters") or {}
        count = parameters.get("classification", 0)
        if type(count) is not int or count < 0:
            raise ServiceError(400, f"output '{name}': classification must be a whole number >= 0, got {count!r}")
        out.append(Requested(name, bool(parameters.get("binary_data", binary_default)), count))
    return tuple(out)


def classify(scores: np.ndarray, count: int, labels: list[str] | None) -> list[list[str]]:
    """Triton's classification strings, "<value>:<index>[:<label>]" for the `count` highest
    scores of each row, the value printed as C++'s std::to_string prints it (%f)."""
    count = min(count, scores.shape[1])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :count]
    rows = []
    for row, idx in zip(scores.tolist(), order.tolist(), strict=False):
        if labels is None:
            rows.append([f"{row[i]:f}:{i}" for i in idx])
        else:
            rows.append([f"{row[i]:f}:{i}:{labels[i]}" if i < len(labels) else f"{row[i]:f}:{i}" for i in idx])
    return rows


def response(
    model: str, version: str, request: InferRequest, tensors: dict[str, np.ndarray], labels: dict[str, list[str] | None]
) -> tuple[bytes, list[bytes]]:
    """(JSON header, binary tensors in output order); the header alone is the body when the
    list is empty, else its length goes in Inference-Header-Content-Length."""
    # JSON documents: the values are strings, shapes, lists of numbers and nested parameters.
    outputs: list[dict[str, object]] = []
    binaries: list[bytes] = []
    for asked in request.outputs:
        values = tensors[asked.name]  # (N, 10) float32
        if asked.class_count:
            strings = classify(values, asked.class_count, labels.get(asked.name))
            entry: dict[str, object] = {
                "name": asked.name,
                "datatype": "BYTES",
                "shape": [len(strings), len(strings[0]) if strings else 0],
            }
            if asked.binary:
                encoded = [s.encode() for row in strings for s in row]
                blob = b"".join(struct.pack("<I", len(s)) + s for s in encoded)
                entry["parameters"] = {"binary_data_size": len(blob)}
                binaries.append(blob)
            else:
                entry["data"] = [s for row in strings for s in row]
        else:
            entry = {"name": asked.name, "datatype": "FP32", "shape": [len(values), NUM_CLASSES]}
            if asked.binary:
                blob = np.ascontiguousarray(values, dtype="<f4").tobytes()
                entry["parameters"] = {"binary_data_size": len(blob)}
                binaries.append(blob)
            else:
                entry["data"] = values.ravel().tolist()
        outputs.append(entry)
    document: dict[str, object] = {"model_name": model, "model_version": version}
    if request.id is not None:
        document["id"] = request.id
    document["outputs"] = outputs
    return json.dumps(document).encode(), binaries
