"""What every decoder shares: the caps on what one file may cost, and errors that name the file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from inference.core.errors import InputError

# Whole-file decodes (IDX through load() or the Ray engine, Parquet, label files) stop here: 2.7x
# the real training images (47 MB). fashion-predict reads IDX and .npy in parts: no limit there.
MAX_DECODED_BYTES = 128 * 2**20
READ_CHUNK = 4 * 2**20  # bytes per read: bounded working memory, few enough calls to stay fast


@contextmanager
def naming(name: str) -> Iterator[None]:
    """Prefix the array checks' InputErrors (which know no file) with the file's name."""
    try:
        yield
    except InputError as e:
        raise type(e)(f"{name}: {e}") from e
