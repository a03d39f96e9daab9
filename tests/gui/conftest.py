"""Fixtures the labeler's window tests share: a repository with the tiny model and a report for it
(`repo`, one per test module), and a window open on it, scored (`window`). A module that needs
another window defines its own `window`, which takes precedence."""

from __future__ import annotations

import pytest

from testkit.gui_helpers import open_window
from testkit.label_issue_files import make_repo


@pytest.fixture(scope="module")
def repo(tmp_path_factory, test_split):
    return make_repo(tmp_path_factory.mktemp("repo"), test_split)


@pytest.fixture
def window(qtbot, repo, fashion_dir, tmp_path):
    return open_window(qtbot, repo[0], fashion_dir, tmp_path / "c.sqlite")
