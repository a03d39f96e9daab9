"""Files and folders a caller can hand the Predictor: PNG/JPEG, folders of them, IDX and .npy files.

Every byte is decoded by `inference.core.decoders`; this module finds the files, pairs IDX images with
their labels, and keeps going past bad files: in a folder each failure is kept, by name, beside
the images that did load. The array coercion (`as_uint8_batch` and friends) lives in
`inference.core.arrays`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inference.core.arrays import as_uint8_batch, batch_shape, chunks
from inference.core.classes import IMAGE_SHAPE, NUM_CLASSES
from inference.core.decoders import IMAGE_SUFFIXES, idx_header, idx_parts, naming, open_npy, read_idx, read_image
from inference.core.errors import InputError


@dataclass
class LoadedImages:
    """What a file or folder held: the images that loaded, their names, and the files that did not."""

    images: np.ndarray  # (N, 28, 28) uint8
    names: list[str]  # one per image: a file name for images, the row index for IDX/.npy
    errors: list[tuple[str, str]] = field(default_factory=list)  # (file name, why it was skipped)
    labels: np.ndarray | None = None  # (N,) int64 when a label file came with the images


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
    """An IDX label file's (count,) labels as int64, checked against the images and the classes."""
    labels = read_idx(path, path.name)
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
        files = _folder_images(path)
        loaded = read_images(files, resize)
        if not loaded.names:
            first = loaded.errors[0]
            raise InputError(f"none of the {len(files)} images in {path} could be read; first: {first[0]}: {first[1]}")
        return loaded
    kind = _file_kind(path)
    if kind == "image":
        return LoadedImages(read_image(path, resize)[None], [path.name])
    if kind == "npy":
        images = open_npy(path, path.name)
    else:
        images = read_idx(path, path.name)
        with naming(path.name):
            images = as_uint8_batch(images)
    known = _labels_for(path, kind, labels, len(images))
    return LoadedImages(images, [str(i) for i in range(len(images))], labels=known)


def load_in_parts(
    source: str | os.PathLike, size: int, resize: bool = False, labels: str | os.PathLike | None = None
) -> tuple[int, Iterator[LoadedImages]]:
    """(number of items, LoadedImages parts of at most `size` items) for scoring in bounded memory.

    A folder is read `size` files at a time, a .npy is memory-mapped, and an IDX file (gzipped or
    not) is read `size` images at a time: memory stays bounded by one part for any file size.
    Names are made per part. Errors found in the header come now; an IDX file cut short ends the
    iteration with an InputError naming it.
    """
    if size < 1:
        raise InputError(f"part size must be >= 1, got {size}")
    path = Path(source)
    if path.is_dir():
        files = _folder_images(path)
        return len(files), (read_images(files[i : i + size], resize) for i in range(0, len(files), size))
    kind = _file_kind(path)
    if kind == "image":
        return 1, iter([load(path, resize)])
    if kind == "npy":
        images = open_npy(path, path.name)
        total, parts = len(images), chunks(images, size)
    else:
        dims = idx_header(path, path.name).dims
        with naming(path.name):
            total = batch_shape(dims)[0]
        parts = (as_uint8_batch(part) for part in idx_parts(path, size, path.name))
    known = _labels_for(path, kind, labels, total)
    return total, _named_parts(parts, known)


def _named_parts(parts: Iterator[np.ndarray], labels: np.ndarray | None) -> Iterator[LoadedImages]:
    start = 0
    for images in parts:
        stop = start + len(images)
        yield LoadedImages(
            images, [str(i) for i in range(start, stop)], labels=None if labels is None else labels[start:stop]
        )
        start = stop


def _folder_images(folder: Path) -> list[Path]:
    files = image_files(folder)
    if not files:
        raise InputError(f"{folder} holds no .png/.jpg/.jpeg files")
    return files


def _file_kind(path: Path) -> str:
    """ "image", "npy" or "idx" for a file `load` can read; InputError for anything else."""
    if not path.is_file():
        raise InputError(f"{path} does not exist; expected an IDX file, a .npy array, an image or a folder of images")
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix == ".npy":
        return "npy"
    if is_idx(path):
        return "idx"
    raise InputError(f"{path.name}: unknown input type; expected an IDX file, a .npy array, .png/.jpg or a folder")


def _labels_for(path: Path, kind: str, labels: str | os.PathLike | None, count: int) -> np.ndarray | None:
    if labels is None and kind == "idx":
        labels = label_file_for(path)
    return None if labels is None else read_labels(Path(labels), count)
