"""Everything a caller can hand the Predictor, turned into uint8 (N, 28, 28) or a clear InputError.

Arrays of the accepted shapes and dtypes, PNG/JPEG files and folders of them, IDX files and .npy
files. Reading a folder never stops at the first bad file: each failure is kept, by name, beside
the images that did load. Pillow is imported only when an image file is actually read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from inference.classes import IMAGE_SHAPE, NUM_CLASSES
from inference.errors import InferenceError
from inference.fashion_mnist import read_idx

PIXELS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]  # 784
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
ACCEPTED = (
    "uint8 (or integer 0..255) or float in [0, 1] arrays of shape (N, 28, 28), (N, 784), "
    "(N, 1, 28, 28) or one (28, 28) image"
)


class InputError(InferenceError, ValueError):
    """Images the model cannot score: wrong shape, dtype or values, or an unreadable file.

    A ValueError too, so callers that only know the standard library's types still catch it.
    """


class InputTypeError(InputError, TypeError):
    """Something that is not an array (a list, a tensor, a string) was passed as images."""


def as_uint8_batch(images) -> np.ndarray:
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


def as_batch(images) -> np.ndarray:
    """A (N, 28, 28) view of any accepted array, dtype unchanged; checks type, shape and dtype kind.

    Converting the values is left to `to_uint8`, chunk by chunk, so a float array larger than
    memory (a .npy opened with mmap) never needs a full-size copy.
    """
    if not isinstance(images, np.ndarray):
        hint = "; wrap it with np.asarray(...)" if isinstance(images, (list, tuple)) else ""
        if hasattr(images, "numpy") and hasattr(images, "detach"):
            hint = "; pass tensor.detach().cpu().numpy()"
        raise InputTypeError(f"images must be a numpy array ({ACCEPTED}), got {type(images).__name__}{hint}")
    if images.dtype.kind not in "uif":
        raise InputError(f"images must be uint8, another integer type or float, got dtype {images.dtype}")
    shape = images.shape
    if shape == IMAGE_SHAPE:
        images = images[None]  # one image -> a batch of one
    elif images.ndim == 2 and shape[1] == PIXELS:
        images = images.reshape(len(images), *IMAGE_SHAPE)  # (N, 784) -> (N, 28, 28)
    elif images.ndim == 4 and shape[1:] == (1, *IMAGE_SHAPE):
        images = images.reshape(len(images), *IMAGE_SHAPE)  # (N, 1, 28, 28) -> (N, 28, 28)
    elif not (images.ndim == 3 and shape[1:] == IMAGE_SHAPE):
        raise InputError(f"images must have shape (N, 28, 28), (N, 784), (N, 1, 28, 28) or (28, 28), got {shape}")
    if len(images) == 0:
        raise InputError(f"images is an empty batch (shape {shape}); pass at least one image")
    return images


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


# --- files ---------------------------------------------------------------------------------


@dataclass
class LoadedImages:
    """What a file or folder held: the images that loaded, their names, and the files that did not."""

    images: np.ndarray  # (N, 28, 28) uint8
    names: list[str]  # one per image: a file name for images, the row index for IDX/.npy
    errors: list[tuple[str, str]] = field(default_factory=list)  # (file name, why it was skipped)
    labels: np.ndarray | None = None  # (N,) int64 when a label file came with the images


def read_image(source: str | os.PathLike | BinaryIO, resize: bool = False, name: str | None = None) -> np.ndarray:
    """One PNG/JPEG (a path or an open binary file) as uint8 (28, 28) grayscale.

    Other sizes are an error unless resize=True. Errors start with the file's name.
    """
    from PIL import Image, UnidentifiedImageError  # lazy: only callers that read images pay for Pillow

    if name is None:
        name = Path(source).name if isinstance(source, (str, os.PathLike)) else "<upload>"
    try:
        with Image.open(source) as image:
            image.load()
            if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                raise InputError(f"{name}: {image.mode} images are not supported; save it as 8-bit grayscale")
            gray = image.convert("L")  # colour -> luma; 8-bit grayscale stays as it is
    except InputError:
        raise
    except UnidentifiedImageError as e:
        raise InputError(f"{name}: not an image Pillow can read (expected PNG or JPEG)") from e
    except (OSError, ValueError, SyntaxError) as e:  # missing, truncated or corrupt files
        raise InputError(f"{name}: cannot read image ({e})") from e
    if gray.size != IMAGE_SHAPE[::-1]:
        if not resize:
            raise InputError(
                f"{name}: image is {gray.size[0]}x{gray.size[1]}, expected 28x28 "
                "(pass resize=True / --resize to scale it)"
            )
        gray = gray.resize(IMAGE_SHAPE[::-1], Image.Resampling.BILINEAR)
    return np.asarray(gray, dtype=np.uint8)


def image_files(folder: str | os.PathLike) -> list[Path]:
    """The PNG/JPEG files directly inside `folder`, in name order (so results are reproducible)."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def read_images(paths: list[Path], resize: bool = False) -> LoadedImages:
    """Read every file; a bad one becomes an entry in `.errors`, never the end of the batch."""
    images, names, errors = [], [], []
    for path in paths:
        try:
            images.append(read_image(path, resize))
            names.append(path.name)
        except InputError as e:
            errors.append((path.name, str(e).removeprefix(f"{path.name}: ")))
    batch = np.stack(images) if images else np.empty((0, *IMAGE_SHAPE), np.uint8)
    return LoadedImages(batch, names, errors)


def is_idx(path: Path) -> bool:
    """IDX files carry no suffix of their own: recognise them by the magic 00 00 08 0N (or gzip)."""
    name = path.name.lower()
    if "idx" in name or name.endswith("-ubyte") or name.endswith("-ubyte.gz"):
        return True
    try:
        with path.open("rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return len(head) == 4 and head[:3] == b"\x00\x00\x08" and 1 <= head[3] <= 4


def label_file_for(path: Path) -> Path | None:
    """The label file beside an IDX image file: t10k-images-idx3-ubyte -> t10k-labels-idx1-ubyte."""
    name = path.name
    if "images" not in name:
        return None
    stem = name.replace("images", "labels").replace("idx3", "idx1").removesuffix(".gz")
    for candidate in (stem, stem + ".gz"):  # gzipped images may sit beside plain labels and vice versa
        if (path.parent / candidate).is_file():
            return path.parent / candidate
    return None


def read_labels(path: Path, count: int) -> np.ndarray:
    labels = read_idx(path)
    if labels.shape != (count,):
        raise InputError(f"{path.name} holds labels of shape {labels.shape}, expected ({count},) to match the images")
    if labels.size and labels.max() >= NUM_CLASSES:
        raise InputError(f"{path.name} has label {labels.max()}, expected 0..{NUM_CLASSES - 1}")
    return labels.astype(np.int64)


def load(source: str | os.PathLike, resize: bool = False, labels: str | os.PathLike | None = None) -> LoadedImages:
    """A file or folder -> LoadedImages. Folders of PNG/JPEG, one image, an IDX file or a .npy array.

    Labels come from `labels` (an IDX label file) or, for IDX images, from the label file beside them.
    """
    path = Path(source)
    if path.is_dir():
        files = image_files(path)
        if not files:
            raise InputError(f"{path} holds no .png/.jpg/.jpeg files")
        loaded = read_images(files, resize)
        if not loaded.names:
            first = loaded.errors[0]
            raise InputError(f"none of the {len(files)} images in {path} could be read; first: {first[0]}: {first[1]}")
        return loaded
    if not path.is_file():
        raise InputError(f"{path} does not exist; expected an IDX file, a .npy array, an image or a folder of images")
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return LoadedImages(read_image(path, resize)[None], [path.name])
    images, known = _open_array(path, labels)
    return LoadedImages(images, [str(i) for i in range(len(images))], labels=known)


def load_in_parts(
    source: str | os.PathLike, size: int, resize: bool = False, labels: str | os.PathLike | None = None
) -> tuple[int, Iterator[LoadedImages]]:
    """(number of items, LoadedImages parts of at most `size` items) for scoring in bounded memory.

    A folder is read `size` files at a time; a .npy is memory-mapped and IDX files (at most 47 MB
    for Fashion-MNIST's training set) are read whole and sliced. Names are made per part.
    """
    if size < 1:
        raise InputError(f"part size must be >= 1, got {size}")
    path = Path(source)
    if path.is_dir():
        files = image_files(path)
        if not files:
            raise InputError(f"{path} holds no .png/.jpg/.jpeg files")
        return len(files), (read_images(files[i : i + size], resize) for i in range(0, len(files), size))
    suffix = path.suffix.lower()
    if path.is_file() and suffix in IMAGE_SUFFIXES:
        return 1, iter([load(path, resize)])
    if not path.is_file():
        load(path)  # raises the one "does not exist" message
    images, known = _open_array(path, labels)

    def parts() -> Iterator[LoadedImages]:
        for start in range(0, len(images), size):
            stop = min(start + size, len(images))
            yield LoadedImages(
                images[start:stop], [str(i) for i in range(start, stop)],
                labels=None if known is None else known[start:stop],
            )

    return len(images), parts()


def _open_array(path: Path, labels: str | os.PathLike | None) -> tuple[np.ndarray, np.ndarray | None]:
    """An IDX or .npy file as a (N, 28, 28) array (a view for .npy: values checked per chunk later)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            images = as_batch(_read_npy(path))
        elif is_idx(path):
            images = as_uint8_batch(read_idx(path))
            labels = labels if labels is not None else label_file_for(path)
        else:
            raise InputError("unknown input type; expected an IDX file, a .npy array, .png/.jpg or a folder")
    except InputError as e:
        raise InputError(f"{path.name}: {e}") from e
    known = read_labels(Path(labels), len(images)) if labels is not None else None
    return images, known


def _read_npy(path: Path) -> np.ndarray:
    try:
        # mmap: a file larger than memory is read chunk by chunk as the Predictor walks it.
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise InputError(f"not a readable .npy array ({e})") from e
