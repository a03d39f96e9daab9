"""--pred-probs: bring your own out-of-fold probabilities (cleanlab's convention), checked before use.

An (N, 10) `.npy` file, row i the probabilities for training image i in the IDX file's order,
from a model that did not train on image i. The file is checked before anything else runs: it
must be a `.npy` (read with allow_pickle=False: a file from elsewhere never runs code), of a
float dtype, exactly (n, 10), finite, non-negative, each row summing to 1 within ROW_SUM_TOLERANCE.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import numpy as np

from inference.core.classes import NUM_CLASSES
from training.errors import TrainingError

# float32 softmax rows sum to 1 within ~1e-6; 1e-3 also admits probabilities saved with 4 decimals.
ROW_SUM_TOLERANCE = 1e-3
ORDER = "one row per training image in the IDX file's order"


def load_pred_probs(path: str | os.PathLike[str], n: int) -> np.ndarray:
    """(n, 10) float32 probabilities from the `.npy` at `path`, or a one-line TrainingError naming what arrived."""
    where = f"--pred-probs {path}"
    expected = f"expected a float array of shape ({n}, {NUM_CLASSES}) — {ORDER}"
    try:
        with open(Path(path), "rb") as f:
            shape, dtype = _read_header(f, where, expected)
            if dtype.kind != "f":  # object arrays included: their data is a pickle, never read
                raise TrainingError(f"{where}: dtype {dtype}, {expected}")
            if shape != (n, NUM_CLASSES):
                raise TrainingError(f"{where}: shape {shape}, expected ({n}, {NUM_CLASSES}) — {ORDER}")
            f.seek(0)  # read_array reads the header again
            try:
                array = np.lib.format.read_array(f, allow_pickle=False)
            except ValueError as e:  # a header that promises more data than the file holds
                raise TrainingError(f"{where}: unreadable array data ({e}); {expected}") from None
    except OSError as e:
        raise TrainingError(f"{where}: cannot read it ({e.strerror or e}); {expected}") from None
    rows = array.astype(np.float64)
    bad = ~np.isfinite(rows).all(axis=1)
    if bad.any():
        raise TrainingError(
            f"{where}: {bad.sum()} of {n} rows hold NaN or infinity (first: row {np.flatnonzero(bad)[0]}); "
            f"probabilities must be finite"
        )
    bad = (rows < 0).any(axis=1)
    if bad.any():
        raise TrainingError(
            f"{where}: {bad.sum()} of {n} rows hold negative values (first: row {np.flatnonzero(bad)[0]}); "
            f"probabilities must be >= 0 (softmax the logits first)"
        )
    sums = rows.sum(axis=1)
    bad = np.abs(sums - 1) > ROW_SUM_TOLERANCE
    if bad.any():
        first = np.flatnonzero(bad)[0]
        raise TrainingError(
            f"{where}: {bad.sum()} of {n} rows do not sum to 1 (first: row {first} sums to {sums[first]:.6g}); "
            f"each row must sum to 1 ± {ROW_SUM_TOLERANCE:g} (softmax the logits first)"
        )
    return array.astype(np.float32)


def _read_header(f: BinaryIO, where: str, expected: str) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from a .npy header, without reading the data."""
    try:
        version = np.lib.format.read_magic(f)
    except ValueError:
        f.seek(0)
        raise TrainingError(
            f"{where}: not a .npy file (it starts with {f.read(8)!r}); {expected}, saved with numpy.save"
        ) from None
    # Format 3.0 differs from 2.0 only in allowing UTF-8 field names, which no float array has.
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    try:
        shape, _, dtype = read_header(f)
    except ValueError as e:
        raise TrainingError(f"{where}: a .npy file with an unreadable header ({e}); {expected}") from None
    return shape, dtype
