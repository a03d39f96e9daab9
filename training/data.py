"""Fashion-MNIST as device tensors for training: locate (or download), split, keep as uint8.

Reading and validation are `inference.core.fashion_mnist`'s job; this adds what needs torch:
torchvision's downloader, the validation split, and the move to the device.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from inference.core.errors import DatasetError
from inference.core.fashion_mnist import HOW_TO_GET_DATA, cache_dir, find_data_dir, load_split


@dataclass
class Data:
    train_images: torch.Tensor  # (N, 28, 28) uint8
    train_labels: torch.Tensor  # (N,) int64
    val_images: torch.Tensor
    val_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    digest: str  # dataset SHA-256, goes into the exported model's metadata
    source: Path


def download(target: Path) -> None:
    """Fetch the four files with torchvision's own downloader (mirrors and MD5s included)."""
    from urllib.error import URLError

    from torchvision.datasets import FashionMNIST
    from torchvision.datasets.utils import download_and_extract_archive

    target.mkdir(parents=True, exist_ok=True)
    for filename, md5 in FashionMNIST.resources:
        errors = []
        for mirror in FashionMNIST.mirrors:
            try:
                # Leaves both the .gz and the unpacked file in `target`; the reader takes either.
                download_and_extract_archive(f"{mirror}{filename}", str(target), filename=filename, md5=md5)
                break
            except (URLError, OSError, RuntimeError) as e:  # RuntimeError: torchvision's MD5 check
                errors.append(f"{mirror}: {e}")
        else:
            raise DatasetError(f"could not download {filename} ({'; '.join(errors)}); {HOW_TO_GET_DATA}")


def locate(data_dir: str | None, allow_download: bool) -> Path:
    """The folder with the data; downloads into `data_dir` (or the cache) only if asked to."""
    try:
        return find_data_dir(data_dir)
    except DatasetError:
        if not allow_download:
            raise
    target = Path(data_dir) if data_dir else cache_dir()
    print(f"Fashion-MNIST not found locally; downloading with torchvision into {target}")
    download(target)
    return find_data_dir(target)


def prepare(data_dir: str | None, download_ok: bool, val_split: int, seed: int, device) -> Data:
    """Both splits as tensors on `device`; `val_split` training images held out for validation.

    With val_split=0 the test set doubles as the validation set, as in the seed.
    """
    folder = locate(data_dir, download_ok)
    train, test = load_split("train", folder), load_split("test", folder)
    images, labels = torch.from_numpy(train.images), torch.from_numpy(train.labels)
    if not 0 <= val_split < len(images):
        raise DatasetError(f"--val-split must be between 0 and {len(images) - 1}, got {val_split}")
    test_images = torch.from_numpy(test.images).to(device)
    test_labels = torch.from_numpy(test.labels).to(device)
    if val_split:
        # A fixed, seeded hold-out: the same seed always validates on the same images.
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
        val_idx, train_idx = order[:val_split], order[val_split:]
        val_images, val_labels = images[val_idx].to(device), labels[val_idx].to(device)
        images, labels = images[train_idx], labels[train_idx]
    else:
        val_images, val_labels = test_images, test_labels
    return Data(
        images.to(device), labels.to(device), val_images, val_labels, test_images, test_labels,
        train.digest, folder,
    )
