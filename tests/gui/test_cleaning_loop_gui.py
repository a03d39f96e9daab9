"""The whole data-cleaning loop on the real data, with the verdicts given through the labeler:
cross-validate, open the training split in the labeler, relabel 3 images and exclude 1 through
the GUI's model, retrain with --corrections, and check the new version counts them and was
trained on the corrected labels."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import onnx
import pytest

from gui.main_window import MainWindow
from gui.scoring import ScoringRequest
from inference.core.fashion_mnist import load_split
from inference.core.model_repository import onnx_path
from testkit.gui_helpers import SCORE_TIMEOUT_MS
from training import train_command as cli
from training.loop import fit

pytestmark = pytest.mark.usefixtures("torch_one_thread")
ONE_EPOCH = ["--variant", "concise", "--epochs", "1"]


def train_and_export(flags: list[str], steps: cli.Steps = cli.REAL_STEPS) -> None:
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        assert cli.main(flags, steps) == 0, err.getvalue()


@pytest.mark.slow
def test_review_in_the_labeler_then_retrain(qtbot, fashion_dir, tmp_path, monkeypatch):
    out, store = tmp_path / "models", tmp_path / "corrections.sqlite"
    common = [*ONE_EPOCH, "--data-dir", str(fashion_dir), "--out", str(out)]
    train_and_export([*common, "--cross-val", "2", "--auditor", "linear"])  # 1. out-of-fold ranking for version 1

    # 2. The labeler on the training split reads that report, and a person gives verdicts.
    window = MainWindow(ScoringRequest(str(out), str(fashion_dir), "train", str(store)))
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.scored, timeout=SCORE_TIMEOUT_MS):
        window.start()
    assert window.tiles.review is not None, window.tiles.scored.review_note
    train = load_split("train", fashion_dir)
    relabelled = np.flatnonzero(train.labels == 0)[:3]  # three T-shirts the person calls shirts
    excluded = int(np.flatnonzero(train.labels == 1)[0])
    assert window.tiles.set_verdict(relabelled, "relabel", 6)
    assert window.tiles.set_verdict([excluded], "exclude")
    window.close()

    # 3. Retrain with those verdicts; spy on the labels the final model trains on.
    seen = {}

    def spy_fit(model, loss_fn, optimizer, data, cfg, **kw):
        seen.update(labels=data.train_labels.numpy().copy(), index=data.train_index.numpy().copy())
        return fit(model, loss_fn, optimizer, data, cfg, **kw)

    train_and_export([*common, "--corrections", str(store)], cli.Steps(fit=spy_fit))

    # 4. The new version's metadata counts the verdicts.
    meta = {p.key: p.value for p in onnx.load(onnx_path(out, 2)).metadata_props}
    counts = json.loads(meta["corrections_train"])
    assert (counts["relabel"], counts["exclude"], counts["confirmed"]) == (3, 1, 0)
    assert meta["corrections_digest"]

    # 5. The labels it trained on were the corrected ones, without the excluded image.
    by_index = dict(zip(seen["index"].tolist(), seen["labels"].tolist(), strict=False))
    assert excluded not in by_index
    assert all(by_index[int(i)] == 6 for i in relabelled)
    untouched = np.setdiff1d(np.arange(len(train.labels)), np.r_[relabelled, excluded])[:1000]
    assert all(by_index[int(i)] == train.labels[i] for i in untouched)
