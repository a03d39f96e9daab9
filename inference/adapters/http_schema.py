"""The shapes of `/predict`, `/health` and `/metadata` for FastAPI and the OpenAPI document: the
response models, the problem answers each status means, and /predict's request body (which the
route reads itself, three content types on one route, so the document cannot derive it).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from inference.core.arrays import PIXELS
from inference.core.classes import NUM_CLASSES


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


# FastAPI's `responses` is typed dict[int | str, dict[str, Any]]: its values are OpenAPI fragments.
PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": why}
    for code, why in {
        400: "the body is not valid JSON or multipart",
        408: "the body did not arrive within the server's read timeout",
        413: "the body is larger than the server's limit",
        415: "unsupported Content-Type",
        422: "the images have the wrong size, type or values",
        500: "the model failed while scoring (the reason in detail; never NaN scores)",
        503: "the server is shedding load (queue, body budget or connection cap): retry after Retry-After seconds",
    }.items()
}

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
