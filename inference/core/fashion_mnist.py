"""The one Fashion-MNIST reader: IDX files (gzipped or not) -> validated numpy arrays.

Training, inference and the GUI all read the data through `load_split`, so the checks below
(dimensions, label range, SHA-256 of the content) happen in one place; the IDX format itself
(magic, sizes, gzip) is decoded by `inference.core.decoders`, and its InputErrors become DatasetErrors
here. numpy only: importing this must stay cheap for the GUI and the inference API.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.core import decoders
from inference.core.classes import IMAGE_SHAPE, NUM_CLASSES
from inference.core.errors import DatasetError, InputError

# Debian's package `dataset-fashion-mnist` installs the four .gz files here.
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
ENV_VAR = "FASHION_MNIST_DIR"

# split -> (images file, labels file, number of examples)
SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60_000),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10_000),
}

# SHA-256 of the *uncompressed* files: gzip headers differ between mirrors (Debian's carry no
# file name, the original ones do), the content does not.
SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

HOW_TO_GET_DATA = (
    "get Fashion-MNIST one of three ways: "
    "(1) `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), "
    "(2) `train-and-export --download` (or `make run`) fetches it with torchvision, "
    f"(3) pass --data-dir DIR (or set {ENV_VAR}) to a folder holding the four IDX files"
)


@dataclass(frozen=True)
class Split:
    """One split of Fashion-MNIST as it came off disk."""

    name: str
    images: np.ndarray  # (N, 28, 28) uint8, raw pixels 0..255
    labels: np.ndarray  # (N,) int64, 0..9
    digest: str  # SHA-256 over the whole dataset's file digests; ties models and corrections to it
    source: Path  # the folder the files came from


def cache_dir() -> Path:
    """The project's own cache folder; `--download` puts the files here."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fashion-mnist"


def _has_files(folder: Path, split: str | None = None) -> bool:
    names = SPLITS[split][:2] if split else [n for s in SPLITS.values() for n in s[:2]]
    return all(find_file(folder, n) is not None for n in names)


def find_file(folder: Path, name: str) -> Path | None:
    """`folder/name` or, failing that, `folder/name.gz`; None when neither is a file."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _required_file(folder: Path, name: str) -> Path:
    """`find_file`, for a folder `find_data_dir` chose: the file may have gone since it looked."""
    path = find_file(folder, name)
    if path is None:
        raise DatasetError(f"Fashion-MNIST folder {folder} lacks {name}[.gz]; {HOW_TO_GET_DATA}")
    return path


def search_dirs() -> list[Path]:
    """Where the files are looked for when no folder is given, in order."""
    cache = cache_dir()
    # torchvision's FashionMNIST(root=cache) keeps the files in cache/FashionMNIST/raw.
    return [DEBIAN_DIR, cache, cache / "FashionMNIST" / "raw"]


def find_data_dir(data_dir: str | os.PathLike | None = None, split: str | None = None) -> Path:
    """The folder holding the IDX files: `data_dir`, else $FASHION_MNIST_DIR, else `search_dirs()`.

    A folder the user named explicitly is never silently replaced by another one.
    """
    explicit = data_dir if data_dir is not None else os.environ.get(ENV_VAR) or None
    if explicit is not None:
        folder = Path(explicit).expanduser()
        if not folder.is_dir():
            raise DatasetError(f"Fashion-MNIST folder {folder} does not exist; {HOW_TO_GET_DATA}")
        if not _has_files(folder, split):
            raise DatasetError(
                f"Fashion-MNIST folder {folder} lacks {', '.join(_missing(folder, split))}; {HOW_TO_GET_DATA}"
            )
        return folder
    for folder in search_dirs():
        if _has_files(folder, split):
            return folder
    looked = ", ".join(str(d) for d in search_dirs())
    raise DatasetError(f"Fashion-MNIST not found (looked in {looked}); {HOW_TO_GET_DATA}")


def _missing(folder: Path, split: str | None) -> list[str]:
    names = SPLITS[split][:2] if split else [n for s in SPLITS.values() for n in s[:2]]
    return [f"{n}[.gz]" for n in names if find_file(folder, n) is None]


def gunzip(raw: bytes, path: Path | str = "<bytes>", limit: int = decoders.MAX_DECODED_BYTES) -> bytes:
    """The content of a gzip stream (recognised by its magic, whatever the file is called), else `raw`.

    Decompressed as a stream that stops past `limit` bytes, so a gzip bomb never fills memory.
    """
    if raw[:2] != decoders.GZIP_MAGIC:
        return raw
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
            data = stream.read(limit + 1)
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetError(f"{path} is a damaged gzip file ({e}); download it again") from e
    if len(data) > limit:
        raise DatasetError(f"{path} decompresses to more than {limit} bytes; it is not a Fashion-MNIST file")
    return data


def read_bytes(path: Path) -> bytes:
    """The uncompressed content of one dataset file, gzipped or not (at most MAX_DECODED_BYTES)."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DatasetError(f"cannot read {path}: {e.strerror}") from e
    return gunzip(raw, path)


@contextmanager
def _as_dataset_error() -> Iterator[None]:
    """The decoders speak of inputs; about the dataset's own files the same message is a DatasetError."""
    try:
        yield
    except InputError as e:
        raise DatasetError(str(e)) from e


def parse_idx(data: bytes, path: Path | str = "<bytes>") -> np.ndarray:
    """Parse one IDX file's bytes (gzipped or not) into a uint8 array, checking its header and size."""
    with _as_dataset_error():
        return decoders.read_idx(data, str(path))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read any IDX file of unsigned bytes (gzipped or not); no dataset digest check."""
    with _as_dataset_error():
        return decoders.read_idx(path, str(path))


def _read_hashed(path: Path) -> tuple[np.ndarray, str]:
    """One dataset file and the SHA-256 of its uncompressed content, taken as it streams in."""
    hasher = hashlib.sha256()
    with _as_dataset_error():
        array = decoders.read_idx(path, str(path), hasher=hasher)
    return array, hasher.hexdigest()


def _check_digest(path: Path, digest: str, name: str) -> None:
    if digest != SHA256[name]:
        raise DatasetError(
            f"{path} is not the Fashion-MNIST file {name}: its content has SHA-256 {digest[:16]}…, "
            f"expected {SHA256[name][:16]}… (a corrupt download, or another dataset such as MNIST); "
            f"delete it and get a fresh copy — {HOW_TO_GET_DATA}"
        )


def dataset_digest() -> str:
    """One digest for the whole dataset, from the four files' known digests."""
    joined = "".join(SHA256[name] for name in sorted(SHA256))
    return hashlib.sha256(joined.encode()).hexdigest()


def load_split(split: str = "test", data_dir: str | os.PathLike | None = None) -> Split:
    """Read and fully validate one split: images (N, 28, 28) uint8 and labels (N,) int64."""
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; expected one of {sorted(SPLITS)}")
    folder = find_data_dir(data_dir, split)
    image_name, label_name, count = SPLITS[split]

    image_path = _required_file(folder, image_name)
    label_path = _required_file(folder, label_name)
    images, image_digest = _read_hashed(image_path)
    labels, label_digest = _read_hashed(label_path)
    # Structure first: "holds shape (10, 28, 28)" is a clearer message than a digest mismatch.
    if images.shape != (count, *IMAGE_SHAPE):
        raise DatasetError(f"{image_path} holds images of shape {images.shape}, expected {(count, *IMAGE_SHAPE)}")
    if labels.shape != (count,):
        raise DatasetError(f"{label_path} holds labels of shape {labels.shape}, expected {(count,)}")
    if labels.max(initial=0) >= NUM_CLASSES:
        raise DatasetError(f"{label_path} has label {labels.max()}, expected 0..{NUM_CLASSES - 1}")
    _check_digest(image_path, image_digest, image_name)
    _check_digest(label_path, label_digest, label_name)
    return Split(split, images, labels.astype(np.int64), dataset_digest(), folder)
