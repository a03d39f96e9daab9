"""The one reader: real files load right; broken files fail with a message naming the file."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest

from inference.core import fashion_mnist as fm
from inference.core.errors import DatasetError

TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def test_copy(fashion_dir, tmp_path):
    """An uncompressed copy of the real test split in a folder of our own, to damage at will."""
    for name in TEST_FILES:
        src = fm.find_file(fashion_dir, name)
        (tmp_path / name).write_bytes(fm.read_bytes(src))
    return tmp_path


def test_real_splits_have_the_documented_shape(fashion_dir):
    train, test = fm.load_split("train", fashion_dir), fm.load_split("test", fashion_dir)
    assert train.images.shape == (60_000, 28, 28) and train.images.dtype == np.uint8
    assert test.images.shape == (10_000, 28, 28) and test.labels.dtype == np.int64
    # Fashion-MNIST is balanced: 6,000 / 1,000 images per class.
    assert np.bincount(train.labels).tolist() == [6000] * 10
    assert np.bincount(test.labels).tolist() == [1000] * 10
    assert train.digest == test.digest == fm.dataset_digest()
    assert train.images.flags.writeable


def test_uncompressed_and_gzipped_files_read_the_same(test_copy, test_split, tmp_path_factory):
    gz_dir = tmp_path_factory.mktemp("gz")
    for name in TEST_FILES:
        # Level 1: the reader must inflate any level, and level 9 over the 7.8 MB images took 3 s.
        (gz_dir / f"{name}.gz").write_bytes(gzip.compress((test_copy / name).read_bytes(), compresslevel=1))
    plain, zipped = fm.load_split("test", test_copy), fm.load_split("test", gz_dir)
    np.testing.assert_array_equal(plain.images, test_split.images)
    np.testing.assert_array_equal(zipped.images, test_split.images)
    np.testing.assert_array_equal(zipped.labels, test_split.labels)


def test_truncated_file_names_the_file(test_copy):
    path = test_copy / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte is truncated"):
        fm.load_split("test", test_copy)


def test_damaged_gzip_names_the_file(test_copy):
    data = gzip.compress((test_copy / "t10k-labels-idx1-ubyte").read_bytes())
    (test_copy / "t10k-labels-idx1-ubyte").unlink()
    (test_copy / "t10k-labels-idx1-ubyte.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte.gz is a damaged gzip"):
        fm.load_split("test", test_copy)


def test_wrong_magic_is_not_an_idx_file(test_copy):
    path = test_copy / "t10k-images-idx3-ubyte"
    path.write_bytes(b"PK\x03\x04" + path.read_bytes()[4:])
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte is not an IDX file"):
        fm.load_split("test", test_copy)


def test_mislabeled_file_fails_the_digest(test_copy):
    path = test_copy / "t10k-labels-idx1-ubyte"
    data = bytearray(path.read_bytes())
    data[8] = (data[8] + 1) % 10  # one label changed: structure intact, content wrong
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte is not the Fashion-MNIST file"):
        fm.load_split("test", test_copy)


def test_label_out_of_range_is_reported(test_copy):
    path = test_copy / "t10k-labels-idx1-ubyte"
    data = bytearray(path.read_bytes())
    data[8] = 10
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=r"has label 10, expected 0..9"):
        fm.load_split("test", test_copy)


def test_wrong_shape_is_reported(tmp_path):
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((10, 28, 28))))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(10)))
    with pytest.raises(DatasetError, match=r"shape \(10, 28, 28\), expected \(10000, 28, 28\)"):
        fm.load_split("test", tmp_path)


def test_parse_idx_round_trips_any_shape():
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(fm.parse_idx(idx_bytes(a)), a)
    with pytest.raises(DatasetError, match="longer than its header says"):
        fm.parse_idx(idx_bytes(a) + b"\0")


def test_missing_data_lists_the_three_ways(tmp_path, monkeypatch):
    monkeypatch.delenv(fm.ENV_VAR, raising=False)
    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(DatasetError) as err:
        fm.find_data_dir()
    message = str(err.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert "--download" in message and "--data-dir" in message


def test_explicit_folder_is_never_silently_replaced(tmp_path, fashion_dir):
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"lacks t10k-labels-idx1-ubyte\[.gz\]"):
        fm.find_data_dir(tmp_path, split="test")
    with pytest.raises(DatasetError, match="does not exist"):
        fm.find_data_dir(tmp_path / "nowhere")


def test_environment_variable_names_the_folder(test_copy, monkeypatch):
    monkeypatch.setenv(fm.ENV_VAR, str(test_copy))
    assert fm.find_data_dir(split="test") == test_copy


def test_debian_folder_comes_before_the_cache(tmp_path_factory, test_copy, monkeypatch):
    monkeypatch.delenv(fm.ENV_VAR, raising=False)
    monkeypatch.setattr(fm, "DEBIAN_DIR", test_copy)
    cache_home = tmp_path_factory.mktemp("cache")
    cache = shutil.copytree(test_copy, cache_home / "fashion-mnist")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
    assert fm.find_data_dir(split="test") == test_copy
    monkeypatch.setattr(fm, "DEBIAN_DIR", cache_home / "no-debian")
    assert fm.find_data_dir(split="test") == cache
