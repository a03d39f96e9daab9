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

import gzip
import io
import math
import os
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from tokenize import TokenError
from typing import BinaryIO

import numpy as np

from inference.arrays import PIXELS, as_batch, as_uint8_batch, batch_shape, check_dtype
from inference.classes import IMAGE_SHAPE
from inference.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
# Pillow tries only these plugins, whatever the file is called: EPS would run Ghostscript,
# and TIFF, BMP, WebP and GIF are no format anyone scores Fashion-MNIST from.
IMAGE_FORMATS = ("PNG", "JPEG")
# resize=True accepts at most this per side: 4096x4096 RGBA decodes to 64 MiB.
MAX_IMAGE_SIDE = 4096
# Whole-file decodes (IDX through load() or the Ray engine, Parquet, label files) stop here: 2.7x
# the real training images (47 MB). fashion-predict reads IDX and .npy in parts: no limit there.
MAX_DECODED_BYTES = 128 * 2**20
# Deflate expands one input byte into at most 1032 (a 258-byte match per 2-bit code): a gzipped
# IDX header claiming more than that cannot be telling the truth.
DEFLATE_MAX_RATIO = 1032
READ_CHUNK = 4 * 2**20  # bytes per read: bounded working memory, few enough calls to stay fast
GZIP_MAGIC = b"\x1f\x8b"
PIXEL_COLUMNS = ("image", "pixels")  # Parquet: 784 bytes or a list of 784 ints per row

_WARNINGS_LOCK = threading.Lock()
_IDX_UBYTE = 0x08  # IDX magic: two zero bytes, a type code (0x08 = unsigned byte), the number of dims
# Magic numbers of what arrives named .png most often, to say what it was instead.
_FOREIGN_IMAGES = (
    (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"BM", "BMP"), (b"GIF8", "GIF"),
    (b"%!PS", "PostScript"), (b"\xc5\xd0\xd3\xc6", "EPS"), (b"%PDF", "PDF"),
)


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


@contextmanager
def naming(name: str) -> Iterator[None]:
    """Prefix the array checks' InputErrors (which know no file) with the file's name."""
    try:
        yield
    except InputError as e:
        raise type(e)(f"{name}: {e}") from e


# --- PNG / JPEG ------------------------------------------------------------------------------


def read_image(source: str | os.PathLike | BinaryIO, resize: bool = False, name: str | None = None) -> np.ndarray:
    """One PNG/JPEG (a path or an open binary file) as uint8 (28, 28) grayscale.

    Other sizes are an error unless resize=True, and even then at most MAX_IMAGE_SIDE per side;
    both are checked on the header, before any pixel is decoded. Errors start with the file's name.
    """
    from PIL import Image  # lazy: only callers that read images pay for Pillow

    if name is None:
        name = Path(source).name if isinstance(source, (str, os.PathLike)) else "<upload>"
    with _open_image(source, name) as image:
        _check_header(image, name, resize)
        try:
            image.load()
            gray = image.convert("L")  # colour -> luma; 8-bit grayscale stays as it is
            if gray.size != IMAGE_SHAPE[::-1]:
                gray = gray.resize(IMAGE_SHAPE[::-1], Image.Resampling.BILINEAR)
        except (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error, zlib.error) as e:
            raise InputError(f"{name}: cannot read image ({e})") from e  # truncated or corrupt data
    return np.asarray(gray, dtype=np.uint8)


def _open_image(source, name: str):
    from PIL import Image, UnidentifiedImageError

    try:
        # Pillow only warns between 89 and 179 Mpixel; as an error it ends like the larger bombs.
        # catch_warnings swaps process-wide state, so the service's decoding threads take turns
        # (opening reads only the header: microseconds).
        with _WARNINGS_LOCK, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(source, formats=IMAGE_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise InputError(
            f"{name}: refused before decoding, a possible decompression bomb ({str(e).rstrip('.')}); "
            f"expected 28x28, or at most {MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE} with resize"
        ) from e
    except UnidentifiedImageError as e:
        found = _foreign_format(source)
        got = f", got {found}; convert it to PNG" if found else ""
        raise InputError(f"{name}: not an image Pillow can read (expected PNG or JPEG{got})") from e
    except FileNotFoundError as e:
        raise InputError(f"{name}: no such file") from e
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error, zlib.error) as e:
        raise InputError(f"{name}: cannot read image ({e})") from e


def _check_header(image, name: str, resize: bool) -> None:
    """Mode and size, as the header states them, before `load()` decodes anything."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        raise InputError(f"{name}: {image.mode} images are not supported; save it as 8-bit grayscale")
    width, height = image.size
    if (height, width) == IMAGE_SHAPE:
        return
    if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE:
        raise InputError(
            f"{name}: image is {width}x{height}, expected 28x28 (or at most {MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE} "
            "with resize); scale it down first"
        )
    if not resize:
        raise InputError(
            f"{name}: image is {width}x{height}, expected 28x28 (pass resize=True / --resize to scale it)"
        )


def _foreign_format(source) -> str | None:
    """The format a non-PNG/JPEG file really is, from its magic, when it is a common one."""
    try:
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as f:
                head = f.read(16)
        else:
            source.seek(0)
            head = source.read(16)
    except (OSError, ValueError):
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return next((kind for magic, kind in _FOREIGN_IMAGES if head.startswith(magic)), None)


# --- IDX -------------------------------------------------------------------------------------


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
    source: str | os.PathLike | bytes, name: str | None = None, limit: int = MAX_DECODED_BYTES, hasher=None
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
                "score it with fashion-predict or inference.inputs.load_in_parts, which read it in parts"
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
def open_idx(source: str | os.PathLike | bytes, name: str) -> Iterator[tuple[IdxHeader, bytes, BinaryIO]]:
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


def _open_raw(source: str | os.PathLike | bytes) -> BinaryIO:
    return io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else open(source, "rb")


def _read_idx_header(stream: BinaryIO, name: str) -> tuple[IdxHeader, bytes]:
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
            raise InputError(
                f"{name} is truncated: {header.claim()}, more than {stored} gzipped bytes can hold"
            )
    elif stored != header.size + header.body:
        state = "truncated" if stored < header.size + header.body else "longer than its header says"
        raise InputError(f"{name} is {state}: {header.claim()}, file has {stored}")


def _read_into(stream: BinaryIO, out: np.ndarray, header: IdxHeader, before: int, name: str, hasher=None) -> None:
    """Fill the flat uint8 `out` from `stream`; `before` data bytes were read earlier (for messages)."""
    view = memoryview(out)
    filled = 0
    while filled < len(out):
        got = stream.readinto(view[filled : filled + READ_CHUNK])
        if not got:
            raise InputError(
                f"{name} is truncated: {header.claim()}, data ends after {header.size + before + filled}"
            )
        if hasher is not None:
            hasher.update(view[filled : filled + got])
        filled += got


def _check_end(stream: BinaryIO, header: IdxHeader, name: str) -> None:
    # One byte past the promised data: a gzip bomb behind a small header ends here, not in memory.
    if stream.read(1):
        raise InputError(f"{name} is longer than its header says: {header.claim()}, file has more")


def _name_of(source, name: str | None) -> str:
    if name is not None:
        return name
    return "<bytes>" if isinstance(source, (bytes, bytearray, memoryview)) else str(source)


# --- .npy ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NpyHeader:
    shape: tuple[int, ...]
    fortran_order: bool
    dtype: np.dtype
    offset: int  # where the data starts

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize  # Python ints: no wrap-around


def decode_npy(data: bytes, name: str) -> np.ndarray:
    """.npy bytes as images uint8 (N, 28, 28); the header is checked against the data first."""
    header = _npy_header(io.BytesIO(data), len(data), name)
    array = np.frombuffer(data, header.dtype, count=math.prod(header.shape), offset=header.offset)
    with naming(name):
        return as_uint8_batch(array.reshape(header.shape, order="F" if header.fortran_order else "C"))


def open_npy(path: str | os.PathLike, name: str | None = None) -> np.ndarray:
    """A .npy file memory-mapped as a (N, 28, 28) view, dtype unchanged: values are checked per chunk later."""
    name = name or str(path)
    try:
        with open(path, "rb") as f:
            header = _npy_header(f, os.fstat(f.fileno()).st_size, name)
        array = np.memmap(
            path, header.dtype, "r", header.offset, header.shape, "F" if header.fortran_order else "C"
        )
    except OSError as e:
        raise InputError(f"{name}: cannot read ({e.strerror or e})") from e
    with naming(name):
        return as_batch(array)


def _npy_header(stream: BinaryIO, stored: int, name: str) -> NpyHeader:
    """Shape and dtype from the header, checked (objects refused, size matches) before any allocation."""
    from numpy.lib import format as npy  # the .npy format's own parser, with its header-size limit

    try:
        version = npy.read_magic(stream)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"format version {version}; expected 1.0 or 2.0, as np.save writes")
        read = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
        shape, fortran_order, dtype = read(stream)
    # TokenError: numpy runs the tokenizer over headers it takes for Python 2 ones.
    except (ValueError, TypeError, SyntaxError, EOFError, OverflowError, RecursionError, TokenError) as e:
        raise InputError(f"{name}: not a readable .npy array ({e})") from e
    header = NpyHeader(shape, fortran_order, dtype, stream.tell())
    with naming(name):
        check_dtype(dtype)  # object arrays end here, never unpickled
        batch_shape(shape)
    if stored - header.offset != header.nbytes:
        state = "truncated" if stored - header.offset < header.nbytes else "longer than its header says"
        raise InputError(
            f"{name}: .npy is {state}: header says {shape} {dtype} -> {header.nbytes} bytes of data, "
            f"file has {stored - header.offset}"
        )
    return header


# --- Parquet ---------------------------------------------------------------------------------


def decode_parquet(data: bytes, name: str) -> np.ndarray:
    """A Parquet file's `image` (784 bytes) or `pixels` (784 ints) column as uint8 (N, 28, 28).

    The footer is checked first: at most MAX_DECODED_BYTES of pixels, and no row group whose
    pixel column holds far more values or bytes than its rows need. Rows are then decoded a
    batch at a time, each row's length checked.
    """
    import pyarrow as pa  # lazy: Ray Data depends on pyarrow, the rest of inference/ does not
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(io.BytesIO(data))
        column = _pixel_column(parquet, name)
        rows = parquet.metadata.num_rows
        images = np.empty((rows, PIXELS), np.uint8)
        done = 0
        # 1024 rows: a batch of 784 int64 per row is 6 MB; 8192-row batches peaked 130 MB higher.
        for batch in parquet.iter_batches(batch_size=1024, columns=[column]):
            if done + batch.num_rows > rows:
                raise InputError(f"{name}: holds more rows than its footer's {rows}")
            images[done : done + batch.num_rows] = _pixel_rows(batch.column(0), done, column, name)
            done += batch.num_rows
    except InputError:
        raise
    except (pa.ArrowException, OSError, ValueError, TypeError, IndexError, KeyError) as e:
        raise InputError(f"{name}: not a readable Parquet file ({str(e).splitlines()[0] if str(e) else e!r})") from e
    if done != rows:
        raise InputError(f"{name}: footer says {rows} rows, the file holds {done}")
    with naming(name):
        return as_uint8_batch(images)


def _pixel_column(parquet, name: str) -> str:
    """The pixel column's name, once the footer shows that decoding it stays within bounds."""
    columns = parquet.schema_arrow.names
    column = next((c for c in PIXEL_COLUMNS if c in columns), None)
    if column is None:
        raise InputError(f"{name}: has no pixel column: expected one of {PIXEL_COLUMNS}, found {columns}")
    footer = parquet.metadata
    if not 0 < footer.num_rows <= MAX_DECODED_BYTES // PIXELS:
        raise InputError(
            f"{name}: footer says {footer.num_rows} rows, expected 1 to {MAX_DECODED_BYTES // PIXELS} per file; "
            "split it into smaller files"
        )
    for g in range(footer.num_row_groups):
        _check_row_group(footer.row_group(g), g, column, name)
    return column


def _check_row_group(group, index: int, column: str, name: str) -> None:
    """Refuse a row group whose pixel column holds far more values or bytes than its rows need.

    A row needs 784 bytes (+ a 4-byte length) or 784 values of at most 8 bytes; twice that leaves
    room for any encoding, while a row of a billion zeros (a few KB compressed) is refused unread.
    """
    chunk = next(
        group.column(i) for i in range(group.num_columns) if group.column(i).path_in_schema.split(".")[0] == column
    )
    binary = chunk.physical_type in ("BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY")
    values_per_row, bytes_per_row = (1, PIXELS + 4) if binary else (PIXELS, 8 * PIXELS)
    rows = group.num_rows
    if chunk.num_values > 2 * rows * values_per_row or chunk.total_uncompressed_size > 2 * rows * bytes_per_row + 2**20:
        raise InputError(
            f"{name}: row group {index} of column {column!r} holds {chunk.num_values} values in "
            f"{chunk.total_uncompressed_size} bytes for {rows} rows, far more than {rows} images need; "
            f"expected {PIXELS} pixels per row"
        )


def _pixel_rows(values, first: int, column: str, name: str) -> np.ndarray:
    """(rows, 784) pixels of one batch of a binary or list column; `first` is its first row's index."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = values.type
    binary = pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind)
    listed = pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)
    if not (binary or (listed and pa.types.is_integer(kind.value_type))):
        raise InputError(f"{name}: column {column!r} is {kind}, expected 784 bytes or a list of 784 integers per row")
    lengths = (pc.binary_length(values) if binary else pc.list_value_length(values)).to_numpy(zero_copy_only=False)
    bad = np.flatnonzero(~(lengths == PIXELS))  # a null row's length is NaN: bad too
    if len(bad):
        row = int(bad[0])
        unit = "bytes" if binary else "integers"
        holds = "nothing (null)" if values[row].as_py() is None else f"{int(lengths[row])} {unit}"
        raise InputError(
            f"{name}: row {first + row} of column {column!r} holds {holds}, expected {PIXELS} (one 28x28 image)"
        )
    if binary:
        return np.frombuffer(b"".join(values.to_pylist()), np.uint8).reshape(-1, PIXELS)
    pixels = values.flatten()
    if pixels.null_count:
        raise InputError(f"{name}: column {column!r} holds null pixels in rows {first} to {first + len(values) - 1}")
    pixels = pixels.to_numpy()
    if pixels.size and (pixels.min() < 0 or pixels.max() > 255):
        raise InputError(
            f"{name}: column {column!r} holds pixels in [{pixels.min()}, {pixels.max()}] in rows "
            f"{first} to {first + len(values) - 1}, expected 0..255"
        )
    return pixels.reshape(-1, PIXELS)
