"""Fixtures the labeler's window tests share: a repository with the tiny model and a report for it
(`repo`, one per test module), and a window open on it, scored (`window`). A module that needs
another window defines its own `window`, which takes precedence."""

from __future__ import annotations

import gzip
import os

import pytest

from testkit.gui_helpers import open_window
from testkit.label_issue_files import make_repo


@pytest.fixture(scope="session")
def fashion_dir(fashion_dir, tmp_path_factory):
    """The real files, the image files stored uncompressed: every window reads its split anew, and
    gunzip took 40 of the ~200 ms a window needs to open and score. The reader takes either (the
    digests are of the uncompressed content); the other tests go on reading the gzipped files."""
    folder = tmp_path_factory.mktemp("fashion-mnist")
    for path in fashion_dir.iterdir():
        if path.name == "t10k-images-idx3-ubyte.gz":
            (folder / path.stem).write_bytes(gzip.decompress(path.read_bytes()))
        else:
            os.symlink(path, folder / path.name)
    return folder


@pytest.fixture(scope="module")
def repo(tmp_path_factory, test_split):
    return make_repo(tmp_path_factory.mktemp("repo"), test_split)


@pytest.fixture
def window(qtbot, repo, fashion_dir, tmp_path):
    return open_window(qtbot, repo[0], fashion_dir, tmp_path / "c.sqlite")
