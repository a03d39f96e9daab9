"""`POST /predict`'s JSON body, `{"images": [[784 integers 0..255], ...]}`, to uint8 images.

A module of its own, numpy and the core only, because large bodies are parsed in a worker
process (json_offload.py) that should not import FastAPI to do it. What it raises pickles:
ServiceError (400, malformed JSON) and InputError (422, wrong images).
"""

from __future__ import annotations

import json
import re

import numpy as np

from inference.core.arrays import PIXELS, as_uint8_batch
from inference.core.errors import InputError, ServiceError
from inference.core.json_limits import json_depth

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


def images_from_json(body: bytes | bytearray) -> np.ndarray:
    """(N, 28, 28) uint8 images from the body's bytes."""
    _refuse_what_json_mishandles(body)
    try:
        # UTF-8 only (RFC 8259), which json.loads would not insist on: in UTF-16 the checks above
        # would not see the digits and words they look for.
        document = json.loads(body.decode("utf-8"))
    except ValueError as e:  # UnicodeDecodeError included
        raise ServiceError(400, f"body is not valid JSON in UTF-8: {e}; expected {JSON_EXPECTED}") from e
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
    return as_uint8_batch(array)


def _refuse_what_json_mishandles(body: bytes | bytearray) -> None:
    """422 for what json.loads or numpy would turn into a 500 or a silent 1 (see JSON_MAX_DEPTH)."""
    if json_depth(body.decode("utf-8", errors="replace")) > JSON_MAX_DEPTH:
        raise InputError(f"JSON nested more than {JSON_MAX_DEPTH} levels deep; expected {JSON_EXPECTED}")
    if number := LONG_NUMBER.search(body):
        raise InputError(f"images hold a number of {len(number[0])} digits; pixels are integers 0..255")
    if word := BOOLEAN.search(body):
        raise InputError(f"images must hold integers 0..255, got {word[0].decode()}")
