"""PNG and JPEG, and nothing else: Pillow restricted to those formats, sizes checked on the header."""

from __future__ import annotations

import os
import struct
import threading
import warnings
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from inference.core.classes import IMAGE_SHAPE
from inference.core.errors import InputError

if TYPE_CHECKING:
    from PIL.ImageFile import ImageFile

ImageSource = str | os.PathLike[str] | BinaryIO  # a path or an open binary file

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
# Pillow tries only these plugins, whatever the file is called: EPS would run Ghostscript,
# and TIFF, BMP, WebP and GIF are no format anyone scores Fashion-MNIST from.
IMAGE_FORMATS = ("PNG", "JPEG")
# resize=True accepts at most this per side: 4096x4096 RGBA decodes to 64 MiB.
MAX_IMAGE_SIDE = 4096
_WARNINGS_LOCK = threading.Lock()
# Magic numbers of what arrives named .png most often, to say what it was instead.
_FOREIGN_IMAGES = (
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
    (b"GIF8", "GIF"),
    (b"%!PS", "PostScript"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),
    (b"%PDF", "PDF"),
)


def read_image(source: ImageSource, resize: bool = False, name: str | None = None) -> np.ndarray:
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


def _open_image(source: ImageSource, name: str) -> ImageFile:
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


def _check_header(image: ImageFile, name: str, resize: bool) -> None:
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
        raise InputError(f"{name}: image is {width}x{height}, expected 28x28 (pass resize=True / --resize to scale it)")


def _foreign_format(source: ImageSource) -> str | None:
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
