"""IDX files, gzipped or not, streamed: sizes from the header in Python integers, caps before memory."""

from __future__ import annotations

import gzip
import io
import math
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from inference.core.arrays import as_uint8_batch
from inference.core.decoders.common import MAX_DECODED_BYTES, READ_CHUNK, naming
from inference.core.errors import InputError

# Deflate expands one input byte into at most 1032 (a 258-byte match per 2-bit code): a gzipped
# IDX header claiming more than that cannot be telling the truth.
DEFLATE_MAX_RATIO = 1032
GZIP_MAGIC = b"\x1f\x8b"
_IDX_UBYTE = 0x08  # IDX magic: two zero bytes, a type code (0x08 = unsigned byte), the number of dims


class Hasher(Protocol):
    """What `read_idx` feeds the file's bytes to: hashlib.sha256() or any hashlib-style hasher."""

    def update(self, data: bytes | memoryview, /) -> None: ...


@dataclass(frozen=True)
class IdxHeader:
    dims: tuple[int, ...]

    @property
    def size(self) -> int:
        """Bytes of the header itself: magic and one 4-byte dimension each."""
        return 4 + 4 * len(self.dims)

    @property
    def body(self) -> int:
        """Bytes of data the header promises (a Python int: cannot wrap around)."""
        return math.prod(self.dims)

    def claim(self) -> str:
        return f"header says {self.dims} -> {self.size + self.body} bytes"


def read_idx(
    source: str | os.PathLike | bytes,
    name: str | None = None,
    limit: int = MAX_DECODED_BYTES,
    hasher: Hasher | None = None,
) -> np.ndarray:
    """A whole IDX file of unsigned bytes (path or bytes, gzipped or not) as an owned uint8 array.

    Refused from the header when it claims more than `limit` bytes, or more than the file can
    hold. `hasher` (hashlib-style) sees the uncompressed file as it streams by.
    """
    name = _name_of(source, name)
    with open_idx(source, name) as (header, head, stream):
        if header.size + header.body > limit:
            raise InputError(
                f"{name}: {header.claim()}, more than the {limit} bytes read whole; "
                "score it with fashion-predict or inference.core.input_files.load_in_parts, which read it in parts"
            )
        if hasher is not None:
            hasher.update(head)
        data = np.empty(header.body, np.uint8)
        _read_into(stream, data, header, 0, name, hasher)
        _check_end(stream, header, name)
    return data.reshape(header.dims)


def decode_idx(data: bytes, name: str) -> np.ndarray:
    """IDX bytes (gzipped or not) as images uint8 (N, 28, 28)."""
    images = read_idx(data, name)
    with naming(name):
        return as_uint8_batch(images)


def idx_header(path: str | os.PathLike, name: str | None = None) -> IdxHeader:
    """The header of an IDX file, after every check that needs no more than the header and file size."""
    with open_idx(path, _name_of(path, name)) as (header, _, _):
        return header


def idx_parts(path: str | os.PathLike, rows: int, name: str | None = None) -> Iterator[np.ndarray]:
    """Consecutive uint8 arrays of at most `rows` rows: memory bounded by one part, any file size."""
    name = _name_of(path, name)
    with open_idx(path, name) as (header, _, stream):
        row = math.prod(header.dims[1:])
        done = 0
        while done < header.dims[0]:
            count = min(rows, header.dims[0] - done)
            part = np.empty(count * row, np.uint8)
            _read_into(stream, part, header, done * row, name)
            done += count
            yield part.reshape(count, *header.dims[1:])
        _check_end(stream, header, name)


@contextmanager
def open_idx(source: str | os.PathLike | bytes, name: str) -> Iterator[tuple[IdxHeader, bytes, io.BufferedIOBase]]:
    """(header, its raw bytes, stream at the first data byte); damaged files become InputErrors.

    A plain file must be exactly as long as its header says; a gzipped one no shorter than its
    header could possibly be compressed to. Both are checked before any data is read.
    """
    try:
        with _open_raw(source) as raw:
            stored = raw.seek(0, io.SEEK_END)
            raw.seek(0)
            gzipped = raw.read(2) == GZIP_MAGIC
            raw.seek(0)
            with gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw as stream:
                header, head = _read_idx_header(stream, name)
                _check_claim(header, stored, gzipped, name)
                yield header, head, stream
    except FileNotFoundError as e:
        raise InputError(f"{name}: no such file") from e
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:  # EOFError: the gzip stream stops mid-way
        raise InputError(f"{name} is a damaged gzip file ({e}); download or copy it again") from e
    except OSError as e:
        raise InputError(f"{name}: cannot read ({e.strerror or e})") from e


def _open_raw(source: str | os.PathLike | bytes) -> io.BufferedIOBase:
    return io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else open(source, "rb")


def _read_idx_header(stream: io.BufferedIOBase, name: str) -> tuple[IdxHeader, bytes]:
    magic = stream.read(4)
    if len(magic) < 4:
        raise InputError(f"{name} is truncated: {len(magic)} bytes, not even an IDX header")
    if magic[:3] != bytes([0, 0, _IDX_UBYTE]) or not 1 <= magic[3] <= 4:
        raise InputError(
            f"{name} is not an IDX file of unsigned bytes: magic {magic.hex()} "
            "(expected 0000080N with N the number of dimensions, 1 to 4)"
        )
    rest = stream.read(4 * magic[3])
    if len(rest) < 4 * magic[3]:
        raise InputError(f"{name} is truncated inside its header ({4 + len(rest)} bytes)")
    dims = tuple(int.from_bytes(rest[i : i + 4], "big") for i in range(0, len(rest), 4))
    return IdxHeader(dims), magic + rest


def _check_claim(header: IdxHeader, stored: int, gzipped: bool, name: str) -> None:
    if gzipped:
        if header.size + header.body > stored * DEFLATE_MAX_RATIO:
            raise InputError(f"{name} is truncated: {header.claim()}, more than {stored} gzipped bytes can hold")
    elif stored != header.size + header.body:
        state = "truncated" if stored < header.size + header.body else "longer than its header says"
        raise InputError(f"{name} is {state}: {header.claim()}, file has {stored}")


def _read_into(
    stream: io.BufferedIOBase, out: np.ndarray, header: IdxHeader, before: int, name: str, hasher: Hasher | None = None
) -> None:
    """Fill the flat uint8 `out` from `stream`; `before` data bytes were read earlier (for messages)."""
    view = out.data  # a memoryview of its bytes
    filled = 0
    while filled < len(out):
        got = stream.readinto(view[filled : filled + READ_CHUNK])
        if not got:
            raise InputError(f"{name} is truncated: {header.claim()}, data ends after {header.size + before + filled}")
        if hasher is not None:
            hasher.update(view[filled : filled + got])
        filled += got


def _check_end(stream: io.BufferedIOBase, header: IdxHeader, name: str) -> None:
    # One byte past the promised data: a gzip bomb behind a small header ends here, not in memory.
    if stream.read(1):
        raise InputError(f"{name} is longer than its header says: {header.claim()}, file has more")


def _name_of(source: str | os.PathLike | bytes, name: str | None) -> str:
    if name is not None:
        return name
    return "<bytes>" if isinstance(source, (bytes, bytearray, memoryview)) else str(source)
