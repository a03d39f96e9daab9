"""Shared fixtures. Real-data tests skip on a user's machine without Fashion-MNIST, but under
CI=true a missing dataset fails: CI installs Debian's dataset-fashion-mnist and must test with it."""

from __future__ import annotations

import os

# Before anything imports Qt: the GUI tests run without a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from inference.core.errors import DatasetError  # noqa: E402
from inference.core.fashion_mnist import find_data_dir, load_split  # noqa: E402


def _need_data(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must run the real-data tests, but {reason}")
    pytest.skip(f"needs the real Fashion-MNIST: {reason}")


@pytest.fixture(scope="session")
def fashion_dir():
    try:
        return find_data_dir()
    except DatasetError as e:
        _need_data(str(e))


@pytest.fixture(scope="session")
def test_split(fashion_dir):
    return load_split("test", fashion_dir)


@pytest.fixture(scope="session")
def trained(fashion_dir, tmp_path_factory):
    """Both variants trained with the seed's recipe and exported, once per test session."""
    from training.train_command import run
    from training.config import TrainConfig

    out = tmp_path_factory.mktemp("models")
    cfg = TrainConfig(out=str(out), data_dir=str(fashion_dir))
    results = {r.variant: r for r in run(cfg)}
    return cfg, results, out


@pytest.fixture(scope="session")
def model_repo(trained):
    """The Triton model repository the session's training run wrote (holds fashion_mnist/1/model.onnx)."""
    return trained[2]


@pytest.fixture(scope="session")
def model_path(model_repo):
    """The exported ONNX model of the session's training run."""
    from inference.core.model_repository import onnx_path

    return onnx_path(model_repo)
