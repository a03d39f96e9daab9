"""The shared loop, the seed recipe's accuracy, the CLI's errors, and the download path."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import json
import threading

import numpy as np
import pytest
import torch

from inference.core import fashion_mnist as fm
from inference.core.model_repository import HISTORY_FILE, model_dir
from training import data as data_mod
from training import train_command as cli
from training.config import TrainConfig
from training.errors import TrainingError
from training.loop import lr_at
from training.train_flags import parse_args
from training.variant_training import resolve_device, train_variant


def test_seed_recipe_reaches_the_seed_accuracy(model_repo):
    history = json.loads((model_dir(model_repo) / "1" / HISTORY_FILE).read_text())
    recipe = history["recipe"]
    assert (recipe["epochs"], recipe["batch_size"], recipe["lr"]) == (10, 256, 0.1)
    assert history["variants"]["concise"]["test_acc"] >= 0.830
    assert history["variants"]["scratch"]["test_acc"] >= 0.820
    for h in history["variants"].values():
        assert len(h["train_loss"]) == len(h["val_loss"]) == len(h["val_acc"]) == 10
        assert h["train_loss"][-1] < h["train_loss"][0]  # it learned


@pytest.mark.slow
def test_same_seed_gives_the_same_numbers(fashion_dir, tmp_path):
    cfg = TrainConfig(epochs=1, val_split=5000, data_dir=str(fashion_dir), out=str(tmp_path))
    device = torch.device("cpu")
    data = data_mod.prepare(cfg.data_dir, False, cfg.val_split, cfg.seed, device)
    runs = [train_variant("scratch", cfg, data, device) for _ in range(2)]
    assert runs[0].history == runs[1].history
    assert runs[0].test_acc == runs[1].test_acc


def test_validation_split_comes_from_training_images(fashion_dir):
    data = data_mod.prepare(str(fashion_dir), False, 5000, 0, torch.device("cpu"))
    assert len(data.val_labels) == 5000 and len(data.train_labels) == 55_000
    assert len(data.test_labels) == 10_000
    train = fm.load_split("train", fashion_dir).images.reshape(60_000, -1)
    rows = {r.tobytes() for r in train}
    assert all(v.numpy().tobytes() in rows for v in data.val_images[:200].reshape(200, -1))
    assert data.val_images.data_ptr() != data.test_images.data_ptr()


@pytest.mark.slow
def test_diverging_loss_stops_and_exports_nothing(fashion_dir, tmp_path, capsys):
    out = tmp_path / "models"
    code = cli.main(
        ["--variant", "concise", "--epochs", "2", "--lr", "1e38", "--data-dir", str(fashion_dir), "--out", str(out)]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "loss became" in err and "lower --lr" in err
    assert not [p for p in out.rglob("*") if p.is_file()]  # the write check made folders, no more


def test_one_cycle_schedule_shape():
    total = 1000
    lrs = [lr_at(s, total, 0.5, "one-cycle") for s in range(total)]
    assert lrs[0] == pytest.approx(0.5 / 25)
    assert max(lrs) == pytest.approx(0.5, rel=1e-3) and np.argmax(lrs) == pytest.approx(300, abs=1)
    assert lrs[-1] < 0.5 / 1000
    assert all(lr_at(s, total, 0.1, "constant") == 0.1 for s in (0, 500, 999))


def test_missing_data_is_one_clear_line(tmp_path, capsys):
    code = cli.main(["--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "apt-get install dataset-fashion-mnist" in err


@pytest.mark.parametrize("flags", [["--epochs", "0"], ["--lr", "-1"], ["--momentum", "1.5"], ["--variant", "cnn"]])
def test_bad_flags_exit_2(flags, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(flags)
    assert exc.value.code == 2


def test_flags_map_to_config_fields():
    cfg = parse_args(
        [
            "--epochs",
            "3",
            "--batch-size",
            "64",
            "--momentum",
            "0.9",
            "--schedule",
            "one-cycle",
            "--val-split",
            "100",
            "--weight-decay",
            "1e-4",
            "--seed",
            "7",
            "--device",
            "cpu",
        ]
    )
    assert (cfg.epochs, cfg.batch_size, cfg.momentum, cfg.schedule) == (3, 64, 0.9, "one-cycle")
    assert (cfg.val_split, cfg.weight_decay, cfg.seed, cfg.device) == (100, 1e-4, 7, "cpu")


def test_corrections_flag_names_the_default_store_or_a_given_one(tmp_path, monkeypatch):
    from inference.core.corrections import default_path

    monkeypatch.setenv("FASHION_LABELER_DIR", str(tmp_path))
    assert parse_args([]).corrections is None
    assert default_path().parent == tmp_path
    assert parse_args(["--corrections", "--epochs", "2"]).corrections == str(default_path())
    assert parse_args(["--corrections", "mine.sqlite"]).corrections == "mine.sqlite"
    assert (parse_args([]).cross_val, parse_args(["--cross-val", "5"]).cross_val) == (0, 5)


def test_asking_for_cuda_without_one_is_an_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the error path is for machines without")
    with pytest.raises(TrainingError, match="no CUDA GPU"):
        resolve_device("cuda")


@pytest.mark.slow  # importing torchvision alone takes seconds
def test_download_uses_torchvision_and_lands_where_the_reader_looks(fashion_dir, tmp_path, monkeypatch):
    """torchvision's real downloader against a mirror on loopback serving the real files."""
    from torchvision.datasets import FashionMNIST

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    resources = []
    for name in fm.SHA256:
        source = fm.find_file(fashion_dir, name)
        # The published .gz files as they are: gzip -9 over the 47 MB training images took 15 s.
        gz = source.read_bytes() if source.suffix == ".gz" else gzip.compress(fm.read_bytes(source), compresslevel=1)
        (mirror / f"{name}.gz").write_bytes(gz)
        resources.append((f"{name}.gz", hashlib.md5(gz).hexdigest()))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mirror))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(FashionMNIST, "mirrors", [f"http://127.0.0.1:{server.server_port}/"])
        monkeypatch.setattr(FashionMNIST, "resources", resources)
        monkeypatch.delenv(fm.ENV_VAR, raising=False)
        monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "no-debian")
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
        folder = data_mod.locate(None, allow_download=True)
    finally:
        server.shutdown()
    assert folder == tmp_path / "cache" / "fashion-mnist"
    assert fm.load_split("test", folder).images.shape == (10_000, 28, 28)


@pytest.mark.slow  # importing torchvision alone takes seconds
def test_failed_download_says_how_else_to_get_the_data(tmp_path, monkeypatch):
    from torchvision.datasets import FashionMNIST

    monkeypatch.setattr(FashionMNIST, "mirrors", ["http://127.0.0.1:9/"])  # discard port: refused
    with pytest.raises(fm.DatasetError, match="could not download .*apt-get install"):
        data_mod.download(tmp_path)


def test_calibrate_refuses_the_test_set_as_validation(capsys):
    assert cli.main(["--calibrate", "--val-split", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--val-split" in err and "Traceback" not in err


@pytest.mark.slow
def test_calibrate_exports_softmax_of_logits_over_t(fashion_dir, tmp_path, capsys):
    from inference.core.calibration import expected_calibration_error
    from inference.core.model_repository import onnx_path
    from inference.core.predictor import Predictor

    out = tmp_path / "models"
    flags = ["--variant", "concise", "--epochs", "2", "--val-split", "5000", "--calibrate"]
    assert cli.main([*flags, "--data-dir", str(fashion_dir), "--out", str(out)]) == 0
    assert "calibration: T = " in capsys.readouterr().out
    predictor = Predictor(onnx_path(out, 1), device="cpu")
    t = predictor.temperature
    assert t is not None and t > 0 and t != 1.0
    split = fm.load_split("test", fashion_dir)
    logits = predictor.logits(split.images).astype(np.float64)
    z = logits / t
    expected = np.exp(z - z.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(predictor.predict_proba(split.images), expected, atol=2e-6)
    # T changes confidence, never the prediction; the metadata's ECE is the one of these probabilities.
    assert np.array_equal(expected.argmax(1), logits.argmax(1))
    after = expected_calibration_error(predictor.predict_proba(split.images), split.labels)
    assert float(predictor.metadata["ece_test_after"]) == pytest.approx(after, abs=1e-4)
    assert "ece_test_before" in predictor.metadata
