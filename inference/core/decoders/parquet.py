"""Parquet pixel columns: the footer is checked first, then rows are read 1024 at a time."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

from inference.core.arrays import PIXELS, as_uint8_batch
from inference.core.decoders.common import MAX_DECODED_BYTES, naming
from inference.core.errors import InputError

if TYPE_CHECKING:
    # pyarrow ships no type information (and is not in pyproject's list of such packages):
    # its names read as Any to mypy.
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

PIXEL_COLUMNS = ("image", "pixels")  # Parquet: 784 bytes or a list of 784 ints per row


def decode_parquet(data: bytes, name: str) -> np.ndarray:
    """A Parquet file's `image` (784 bytes) or `pixels` (784 ints) column as uint8 (N, 28, 28).

    The footer is checked first: at most MAX_DECODED_BYTES of pixels, and no row group whose
    pixel column holds far more values or bytes than its rows need. Rows are then decoded a
    batch at a time, each row's length checked.
    """
    import pyarrow as pa  # lazy: Ray Data needs pyarrow, the rest of inference/ does not
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


def _pixel_column(parquet: pq.ParquetFile, name: str) -> str:
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


def _check_row_group(group: pq.RowGroupMetaData, index: int, column: str, name: str) -> None:
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


def _pixel_rows(values: pa.Array, first: int, column: str, name: str) -> np.ndarray:
    """(rows, 784) pixels of one batch of a binary or list column; `first` is its first row's index."""
    import pyarrow as pa
    import pyarrow.compute as pc  # type: ignore[import-untyped]  # no type information, as above

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
