"""The one place where untrusted bytes become pixels: one hardened decoder per format.

PNG/JPEG (Pillow, restricted to those two formats), IDX (gzipped or not, streamed), .npy
(header checked before anything is allocated) and Parquet pixel columns. The Python API,
fashion-predict, fashion-serve, the Ray engine and the dataset reader all decode through here.

Every failure is an InputError whose message starts with the file's name. Sizes are checked
against a header before memory is spent on them, with Python integers (numpy's int64 wraps a
hostile IDX header to 0), and no file grows memory past the caps below whatever it claims.
Pillow and pyarrow are imported only when a file of theirs is decoded.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from inference.core.decoders.common import MAX_DECODED_BYTES, READ_CHUNK, naming
from inference.core.decoders.idx import GZIP_MAGIC, IdxHeader, decode_idx, idx_header, idx_parts, open_idx, read_idx
from inference.core.decoders.image import IMAGE_SUFFIXES, MAX_IMAGE_SIDE, read_image
from inference.core.decoders.npy import decode_npy, open_npy
from inference.core.decoders.parquet import PIXEL_COLUMNS, decode_parquet

__all__ = [
    "GZIP_MAGIC",
    "MAX_DECODED_BYTES",
    "READ_CHUNK",
    "IMAGE_SUFFIXES",
    "MAX_IMAGE_SIDE",
    "PIXEL_COLUMNS",
    "IdxHeader",
    "decode_bytes",
    "decode_idx",
    "decode_npy",
    "decode_parquet",
    "idx_header",
    "idx_parts",
    "naming",
    "open_idx",
    "open_npy",
    "read_idx",
    "read_image",
]


def decode_bytes(data: bytes, name: str) -> tuple[np.ndarray, bool]:
    """(images uint8 (N, 28, 28), one_image) from one file's bytes, by its suffix; InputError if not.

    Anything not named .png/.jpg/.jpeg, .npy or .parquet is taken for IDX (gzipped or not).
    """
    suffix = Path(name).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return read_image(io.BytesIO(data), name=name)[None], True
    if suffix == ".npy":
        return decode_npy(data, name), False
    if suffix == ".parquet":
        return decode_parquet(data, name), False
    return decode_idx(data, name), False
