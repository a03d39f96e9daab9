""".npy arrays: the header is checked (dtype, shape, exact length) before anything is allocated."""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from tokenize import TokenError
from typing import BinaryIO

import numpy as np

from inference.core.arrays import as_batch, as_uint8_batch, batch_shape, check_dtype
from inference.core.decoders.common import naming
from inference.core.errors import InputError


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
        array = np.memmap(path, header.dtype, "r", header.offset, header.shape, "F" if header.fortran_order else "C")
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
