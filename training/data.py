"""Fashion-MNIST as device tensors for training: locate (or download), split, keep as uint8.

Reading and validation are `inference.core.fashion_mnist`'s job; this adds what needs torch:
torchvision's downloader, the corrections (--corrections), the validation split, and the move
to the device.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from inference.core.corrections import CorrectionsStore
from inference.core.errors import DatasetError
from inference.core.fashion_mnist import HOW_TO_GET_DATA, cache_dir, find_data_dir, load_split
from training.corrections import UsedCorrections, apply_corrections


@dataclass
class Data:
    train_images: torch.Tensor  # (N, 28, 28) uint8; with --corrections the excluded images are left out
    train_labels: torch.Tensor  # (N,) int64; with --corrections the relabels are applied
    val_images: torch.Tensor
    val_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor  # as published: test accuracy stays comparable between versions
    digest: str  # dataset SHA-256, goes into the exported model's metadata
    source: Path
    train_index: torch.Tensor  # (N,) int64: each training row's position in the split's IDX file
    val_index: torch.Tensor | None  # the same for a --val-split hold-out; None: the test set validates
    # (images, labels) of the test set with its verdicts applied, excluded images left out: the
    # second test accuracy --corrections reports. None without --corrections.
    corrected_test: tuple[torch.Tensor, torch.Tensor] | None = None
    corrections: UsedCorrections | None = None


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


def prepare(
    data_dir: str | None,
    download_ok: bool,
    val_split: int,
    seed: int,
    device: torch.device,
    corrections: CorrectionsStore | None = None,
) -> Data:
    """Both splits as tensors on `device`; `val_split` training images held out for validation.

    With val_split=0 the test set doubles as the validation set, as in the seed. With a
    corrections store the training labels carry its relabels and its excluded images are left
    out before the hold-out is drawn, so validation is on corrected labels too.
    """
    folder = locate(data_dir, download_ok)
    train, test = load_split("train", folder), load_split("test", folder)
    used = apply_corrections(corrections, train, test) if corrections is not None else None
    kept = np.flatnonzero(used.train.keep) if used else np.arange(len(train.labels))
    if not 0 <= val_split < len(kept):
        excluded = f" (of the {len(kept)} left after the excluded ones)" if used else ""
        raise DatasetError(f"--val-split must be between 0 and {len(kept) - 1}{excluded}, got {val_split}")
    index = torch.from_numpy(kept)
    images = torch.from_numpy(train.images).index_select(0, index)
    labels = torch.from_numpy(used.train.labels if used else train.labels).index_select(0, index)
    test_images = torch.from_numpy(test.images).to(device)
    test_labels = torch.from_numpy(test.labels).to(device)
    val_index = None
    if val_split:
        # A fixed, seeded hold-out: the same seed always validates on the same images.
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
        val_idx, train_idx = order[:val_split], order[val_split:]
        val_images, val_labels, val_index = images[val_idx].to(device), labels[val_idx].to(device), index[val_idx]
        images, labels, index = images[train_idx], labels[train_idx], index[train_idx]
    else:
        val_images, val_labels = test_images, test_labels
    corrected_test = None
    if used:
        keep = torch.from_numpy(np.flatnonzero(used.test.keep)).to(device)
        corrected = torch.from_numpy(used.test.labels).to(device)
        corrected_test = test_images.index_select(0, keep), corrected.index_select(0, keep)
    return Data(
        images.to(device),
        labels.to(device),
        val_images,
        val_labels,
        test_images,
        test_labels,
        train.digest,
        folder,
        index.to(device),
        None if val_index is None else val_index.to(device),
        corrected_test,
        used,
    )
