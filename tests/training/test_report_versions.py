"""A label-issue report for every version: each run's report, history, curves and weights live in
the folder of the version it exported, and no later run changes them. --pred-probs ranks the
user's probabilities instead of K training runs and records the file's SHA-256; the flags that do
not combine, and an occupied next version name, are dealt with before anything trains; the last
line printed is the labeler command for the version just made.

Three real one-epoch runs of the concise model into one repository, shared by the tests here."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from inference.core.fashion_mnist import load_split
from inference.core.label_issues import SIDECAR, USER_SUPPLIED, csv_name, read_report
from inference.core.model_repository import model_dir, onnx_path, version_dir
from testkit.command_runs import train_and_export
from training import train_command as cli
from training.label_report import find_issues
from training.run_outputs import save_outputs

pytestmark = pytest.mark.usefixtures("torch_one_thread")
ONE_EPOCH = ["--variant", "concise", "--epochs", "1"]
PREFIX = "train-and-export: error: "


def report_files(folder) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in (csv_name("train"), csv_name("test"), SIDECAR)}


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def repository(fashion_dir, tmp_path_factory):
    """Version 1 with a 2-fold linear report; version 2 without one; then, with the names 3 and 4
    taken by a file and a dangling link, a --pred-probs run (version 5) ranking version 1's own
    out-of-fold probabilities from a file."""
    out = tmp_path_factory.mktemp("loop") / "models"
    common = [*ONE_EPOCH, "--data-dir", str(fashion_dir), "--out", str(out)]
    logs = {1: train_and_export([*common, "--cross-val", "2", "--auditor", "linear"])}
    first_report = report_files(version_dir(out, 1))
    logs[2] = train_and_export(common)

    train = load_split("train", fashion_dir)
    v1 = read_report(version_dir(out, 1), "train", train.digest, sha256(onnx_path(out, 1)), len(train.labels))
    probabilities = np.empty((len(train.labels), 10), np.float32)
    probabilities[v1.index] = v1.probabilities
    probabilities /= probabilities.sum(axis=1, keepdims=True)  # the CSV keeps 6 digits
    user_file = out.parent / "oof.npy"
    np.save(user_file, probabilities)
    (model_dir(out) / "3").write_bytes(b"not a version")
    os.symlink(out.parent / "nowhere", model_dir(out) / "4")
    logs[5] = train_and_export([*common, "--pred-probs", str(user_file)])
    return SimpleNamespace(out=out, logs=logs, first_report=first_report, train=train, v1=v1, user_file=user_file)


@pytest.mark.slow
def test_each_version_keeps_its_own_report_after_later_runs(repository):
    r = repository
    assert report_files(version_dir(r.out, 1)) == r.first_report  # two runs later, byte for byte
    assert not (version_dir(r.out, 2) / SIDECAR).exists()  # a run without --cross-val makes no report
    assert not [p for p in model_dir(r.out).iterdir() if p.name.startswith("label_issues")]
    for version in (1, 5):
        sidecar = json.loads((version_dir(r.out, version) / SIDECAR).read_text())
        assert sidecar["model"] == f"{version}/model.onnx"
        assert sidecar["model_sha256"] == sha256(onnx_path(r.out, version))


@pytest.mark.slow
def test_each_version_keeps_its_own_history_curves_and_weights(repository):
    r = repository
    for version in (1, 2, 5):
        folder = version_dir(r.out, version)
        assert sorted(p.name for p in folder.iterdir() if not p.name.startswith("label_issues")) == [
            "concise.pt",
            "curves.png",
            "history.json",
            "model.onnx",
        ]
        assert json.loads((folder / "history.json").read_text())["model"] == f"{version}/model.onnx"
    assert sorted(p.name for p in model_dir(r.out).iterdir()) == ["1", "2", "3", "4", "5", "config.pbtxt", "labels.txt"]


@pytest.mark.slow
def test_the_sidecar_records_the_auditor_its_recipe_accuracy_and_time(repository):
    r = repository
    sidecar = json.loads((version_dir(r.out, 1) / SIDECAR).read_text())
    auditor = sidecar["auditor"]
    assert auditor["name"] == "linear" and auditor["folds"] == sidecar["cross_val_folds"] == 2
    assert auditor["recipe"]["epochs"] == 1 and auditor["seconds"] > 0
    # The out-of-fold accuracy, recomputed from the report's own rows.
    assert auditor["accuracy"] == pytest.approx(
        (r.v1.probabilities.argmax(axis=1) == r.v1.given_label).mean(), abs=1e-3
    )
    assert sidecar["probabilities"]["train"] == "out-of-fold, 2 folds, linear auditor"
    assert r.v1.auditor == "linear"
    assert "2-fold out-of-fold probabilities from the linear auditor" in r.logs[1]


@pytest.mark.slow
def test_pred_probs_ranks_the_users_file_and_records_its_sha256(repository):
    r = repository
    sidecar = json.loads((version_dir(r.out, 5) / SIDECAR).read_text())
    assert sidecar["auditor"] == {"name": USER_SUPPLIED, "file": str(r.user_file), "sha256": sha256(r.user_file)}
    assert sidecar["cross_val_folds"] is None and "user-supplied" in sidecar["probabilities"]["train"]
    v5 = read_report(version_dir(r.out, 5), "train", r.train.digest, sidecar["model_sha256"], len(r.train.labels))
    # The file's rows ranked against the training labels, image for image, as cleanlab ranks them here.
    expected = find_issues("train", r.train.labels, np.load(r.user_file))
    np.testing.assert_array_equal(v5.index, expected.index)
    np.testing.assert_array_equal(v5.is_issue, expected.is_issue)
    # Version 1's out-of-fold probabilities (6 digits in its CSV) give nearly its own flags back.
    assert abs(int(v5.is_issue.sum()) - int(r.v1.is_issue.sum())) <= 0.01 * r.v1.is_issue.sum()
    assert v5.auditor == USER_SUPPLIED and sha256(r.user_file) in r.logs[5]


@pytest.mark.slow
def test_an_occupied_or_dangling_next_version_name_is_skipped(repository):
    r = repository
    assert (model_dir(r.out) / "3").read_bytes() == b"not a version" and os.path.islink(model_dir(r.out) / "4")
    assert f"exported {onnx_path(r.out, 5)} as version 5" in r.logs[5]


@pytest.mark.slow
def test_the_last_line_is_the_labeler_command_for_the_version_just_made(repository):
    r = repository
    last = r.logs[1].strip().splitlines()[-1]
    command = last.split(": ", 1)[1]
    assert shlex.split(command) == [
        "fashion-labeler",
        "--model",
        str(onnx_path(r.out, 1)),
        "--split",
        "train",
        "--show",
        "issues",
        "--sort",
        "quality",
    ]
    # Without a report: the labeler on it, and the run that would make a version with one.
    last = r.logs[2].strip().splitlines()[-1]
    assert f"fashion-labeler --model {onnx_path(r.out, 2)} --split train;" in last
    assert last.endswith(f"train-and-export --out {r.out} --cross-val 5")


# --- flags that do not combine: refused before anything is read or trained ------------------------


@pytest.fixture
def nothing_may_train() -> cli.Steps:
    """Steps whose data loading fails the test outright: pass them to main."""

    def refuse(*args, **kwargs):
        raise AssertionError("train-and-export went on to load data and train")

    return cli.Steps(prepare=refuse)


@pytest.mark.parametrize(
    "flags, says",
    [
        (["--auditor", "cnn"], "add --cross-val 5"),
        (["--pred-probs", "p.npy", "--cross-val", "5"], "give one of them, not both"),
        (["--pred-probs", "p.npy", "--auditor", "linear"], "no auditor is trained"),
        (["--cross-val", "2", "--auditor", "resnet"], "invalid choice"),
    ],
    ids=["auditor-without-cross-val", "pred-probs-and-cross-val", "pred-probs-and-auditor", "unknown-auditor"],
)
def test_flags_that_do_not_combine_are_one_line(flags, says, tmp_path, capsys, nothing_may_train):
    assert cli.main([*flags, "--out", str(tmp_path / "models")], nothing_may_train) == 2
    err = capsys.readouterr().err
    assert err.startswith(PREFIX) and err.count("\n") == 1 and says in err, err
    assert not (tmp_path / "models").exists()


def test_a_bad_pred_probs_file_fails_before_cleanlab_or_the_data(tmp_path, capsys, nothing_may_train):
    np.save(tmp_path / "p.npy", np.full((3, 10), 0.1, np.float32))
    steps = replace(nothing_may_train, require_cleanlab=lambda: pytest.fail("cleanlab was asked for before the file"))
    assert cli.main(["--pred-probs", str(tmp_path / "p.npy"), "--out", str(tmp_path / "models")], steps) == 2
    err = capsys.readouterr().err
    assert err.startswith(PREFIX) and "shape (3, 10)" in err and "(60000, 10)" in err, err
    assert not (tmp_path / "models").exists()


@pytest.mark.slow
def test_a_run_that_exports_nothing_keeps_its_files_in_a_folder_of_its_own(fashion_dir, tmp_path):
    out = tmp_path / "models"
    log = train_and_export(["--variant", "scratch", "--epochs", "1", "--data-dir", str(fashion_dir), "--out", str(out)])
    (run,) = [p for p in model_dir(out).iterdir() if p.is_dir()]
    assert run.name.startswith("unexported-") and not run.name.isdigit()  # not a version Triton would load
    assert sorted(p.name for p in run.iterdir()) == ["curves.png", "history.json", "scratch.pt"]
    assert json.loads((run / "history.json").read_text())["model"] is None
    assert log.strip().splitlines()[-1].endswith(f"train-and-export --out {out} --cross-val 5")


@pytest.mark.slow
def test_two_runs_into_one_repository_at_once_keep_their_files_apart(fashion_dir, tmp_path):
    """Run B starts and finishes while run A is between its export and writing its files."""
    out = tmp_path / "models"
    seen = []

    def b_runs_meanwhile(cfg, data, results, folder, model_file):
        seen.append(model_file)
        if len(seen) == 1:  # run A, just exported: run B now, with another seed
            train_and_export([*ONE_EPOCH, "--data-dir", str(fashion_dir), "--out", str(out), "--seed", "2"], steps)
        save_outputs(cfg, data, results, folder, model_file)

    steps = cli.Steps(save_outputs=b_runs_meanwhile)
    train_and_export([*ONE_EPOCH, "--data-dir", str(fashion_dir), "--out", str(out), "--seed", "1"], steps)
    assert seen == [onnx_path(out, 1), onnx_path(out, 2)]  # A exported version 1, B version 2
    for version, seed in ((1, 1), (2, 2)):
        history = json.loads((version_dir(out, version) / "history.json").read_text())
        assert (history["model"], history["recipe"]["seed"]) == (f"{version}/model.onnx", seed)
