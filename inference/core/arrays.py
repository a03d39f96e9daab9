"""Any array a caller can hand the Predictor, turned into uint8 (N, 28, 28) or a clear InputError.

The checks on dtype and shape are separate functions so that the decoders can run them on a
file's header (a .npy shape, an IDX dims) before a single pixel is read.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from inference.core.classes import IMAGE_SHAPE
from inference.core.errors import InputError, InputTypeError

PIXELS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]  # 784
ACCEPTED = (
    "uint8 (or integer 0..255) or float in [0, 1] arrays of shape (N, 28, 28), (N, 784), "
    "(N, 1, 28, 28) or one (28, 28) image"
)


def as_uint8_batch(images: object) -> np.ndarray:
    """C-contiguous uint8 (N, 28, 28) from any accepted array; raises InputError saying why not.

    Floats are taken as ToTensor-style values x = pixel / 255 and mapped back with round(x * 255),
    which is exact for every such value (float16 included).
    """
    # The common case (already what the model takes) costs a few attribute checks and no copy.
    if (
        type(images) is np.ndarray
        and images.dtype == np.uint8
        and images.ndim == 3
        and images.shape[1:] == IMAGE_SHAPE
        and images.flags.c_contiguous
        and images.shape[0] > 0
    ):
        return images
    return to_uint8(as_batch(images))


def as_batch(images: object) -> np.ndarray:
    """A (N, 28, 28) view of any accepted array, dtype unchanged; checks type, shape and dtype kind.

    Converting the values is left to `to_uint8`, chunk by chunk, so a float array larger than
    memory (a .npy opened with mmap) never needs a full-size copy.
    """
    if not isinstance(images, np.ndarray):
        hint = "; wrap it with np.asarray(...)" if isinstance(images, (list, tuple)) else ""
        if hasattr(images, "numpy") and hasattr(images, "detach"):
            hint = "; pass tensor.detach().cpu().numpy()"
        raise InputTypeError(f"images must be a numpy array ({ACCEPTED}), got {type(images).__name__}{hint}")
    check_dtype(images.dtype)
    shape = batch_shape(images.shape)
    return images if images.shape == shape else images.reshape(shape)


def check_dtype(dtype: np.dtype) -> None:
    """Raise InputError unless `dtype` holds numbers the model can take (ints or floats)."""
    if dtype.kind not in "uif":
        raise InputError(f"images must be uint8, another integer type or float, got dtype {dtype}")


def batch_shape(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(N, 28, 28) for an accepted array shape; raises InputError for any other shape or N = 0."""
    if shape == IMAGE_SHAPE:
        count = 1  # one image -> a batch of one
    elif len(shape) == 2 and shape[1] == PIXELS:
        count = shape[0]  # (N, 784) -> (N, 28, 28)
    elif len(shape) == 4 and shape[1:] == (1, *IMAGE_SHAPE):
        count = shape[0]  # (N, 1, 28, 28) -> (N, 28, 28)
    elif len(shape) == 3 and shape[1:] == IMAGE_SHAPE:
        count = shape[0]
    else:
        raise InputError(f"images must have shape (N, 28, 28), (N, 784), (N, 1, 28, 28) or (28, 28), got {shape}")
    if count == 0:
        raise InputError(f"images is an empty batch (shape {shape}); pass at least one image")
    return (count, *IMAGE_SHAPE)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """C-contiguous uint8 copy (or the array itself) of a (N, 28, 28) batch from `as_batch`."""
    kind = images.dtype.kind
    if images.dtype == np.uint8:
        return np.ascontiguousarray(images)
    if kind == "f":
        if not np.isfinite(images).all():
            raise InputError("images contain NaN or infinity; expected finite floats in [0, 1]")
        low, high = float(images.min()), float(images.max())
        if low < 0.0 or high > 1.0:
            raise InputError(
                f"float images must hold values in [0, 1] (ToTensor scale), got values in [{low:g}, {high:g}]; "
                "pass raw 0..255 pixels as uint8 instead"
            )
        # float32 arithmetic is exact enough: |x*255 - k| < 1e-4 for every x = k/255.
        return np.rint(images.astype(np.float32, copy=False) * 255.0).astype(np.uint8)
    if kind in "iu":
        low, high = int(images.min()), int(images.max())
        if low < 0 or high > 255:
            raise InputError(f"integer images must hold pixels 0..255, got values in [{low}, {high}]")
        return images.astype(np.uint8)
    raise InputError(f"images must be uint8, another integer type or float, got dtype {images.dtype}")


def chunks(images: np.ndarray, size: int) -> Iterator[np.ndarray]:
    """Consecutive views of at most `size` images: bounded working memory for any batch."""
    for start in range(0, len(images), size):
        yield images[start : start + size]
