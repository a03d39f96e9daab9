"""train-and-export against bad flags, unwritable outputs, runaway training, a full disk and
SIGTERM: one line on stderr and exit 2 (130 when interrupted), and an earlier model untouched."""

from __future__ import annotations

import errno
import os
import signal
import sys

import pytest
from onnx import TensorProto, helper

from inference.core import model_repository
from inference.core.model_repository import model_dir, onnx_path
from training import train_command as cli
from training.errors import TrainingError
from training.loop import DIVERGED_FACTOR, DivergenceGuard
from training.onnx_export import recorded_accuracy
from training.run_summary import accuracy_change
from training.train_flags import parse_args

PREFIX = "train-and-export: error: "
ONE_EPOCH = ["--variant", "concise", "--epochs", "1"]


def one_line_error(err: str, *fragments: str) -> str:
    assert err.startswith(PREFIX) and err.count("\n") == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err
    return err


def files_under(folder) -> list:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture
def nothing_may_train() -> cli.Steps:
    """Loading the data is the first step of training: steps (for main) that fail the test there."""

    def refuse(*args, **kwargs):
        raise AssertionError("train-and-export went on to load data and train")

    return cli.Steps(prepare=refuse)


def write_earlier_model(out, accuracy: str) -> bytes:
    """A small ONNX file as version 1, whose metadata records `accuracy`; returns its bytes."""
    x = helper.make_tensor_value_info("images", TensorProto.UINT8, [None, 28, 28])
    y = helper.make_tensor_value_info("out", TensorProto.UINT8, [None, 28, 28])
    graph = helper.make_graph([helper.make_node("Identity", ["images"], ["out"])], "earlier", [x], [y])
    model = helper.make_model(graph)
    model.metadata_props.add(key="test_accuracy", value=accuracy)
    data = model.SerializeToString()
    path = onnx_path(out, 1)
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    return data


# --- flags: refused while parsing, before anything is read or trained ---------------------


@pytest.mark.parametrize(
    "flag, value",
    [
        ("--sigma", "nan"),
        ("--sigma", "inf"),
        ("--sigma", "0"),
        ("--lr", "nan"),
        ("--lr", "-1"),
        ("--lr", "inf"),
        ("--lr", "1e400"),
        ("--lr", "fast"),
        ("--seed", str(2**70)),
        ("--seed", "-1"),
        ("--seed", "9" * 5000),
        ("--momentum", "1"),
        ("--momentum", "-0.5"),
        ("--weight-decay", "nan"),
        ("--weight-decay", "-1e-4"),
        ("--batch-size", "0"),
        ("--batch-size", str(10**9)),
        ("--epochs", "0"),
        ("--epochs", "2.5"),
        ("--epochs", str(10**12)),
        ("--val-split", "60000"),
        ("--val-split", "-1"),
        ("--cross-val", "1"),
        ("--cross-val", "101"),
        ("--cross-val", "-2"),
        ("--cross-val", "two"),
    ],
)
def test_bad_number_is_one_line_and_nothing_runs(flag, value, tmp_path, capsys, nothing_may_train):
    out = tmp_path / "models"
    assert cli.main([f"{flag}={value}", "--out", str(out)], nothing_may_train) == 2  # one token: "-1" is no option
    one_line_error(capsys.readouterr().err, f"argument {flag}: expected", value[:20])
    assert not out.exists()


def test_range_ends_are_accepted():
    cfg = parse_args(
        [
            "--momentum",
            "0",
            "--val-split",
            "59999",
            "--seed",
            str(2**64 - 1),
            "--batch-size",
            "60000",
            "--epochs",
            "1",
            "--lr",
            "1e-12",
            "--weight-decay",
            "0",
        ]
    )
    assert (cfg.momentum, cfg.val_split, cfg.seed, cfg.batch_size) == (0.0, 59_999, 2**64 - 1, 60_000)
    assert (cfg.epochs, cfg.lr, cfg.weight_decay) == (1, 1e-12, 0.0)


# --- --out: checked by writing there before training ------------------------------------------


def test_out_pointing_at_a_file(tmp_path, capsys, nothing_may_train):
    target = tmp_path / "models"
    target.write_bytes(b"not a folder")
    assert cli.main(["--out", str(target)], nothing_may_train) == 2
    one_line_error(
        capsys.readouterr().err, f"--out '{target}' cannot be written", "Not a directory", "point --out at a folder"
    )
    assert target.read_bytes() == b"not a folder"


def test_out_below_a_file(tmp_path, capsys, nothing_may_train):
    (tmp_path / "file").write_bytes(b"")
    assert cli.main(["--out", str(tmp_path / "file" / "models")], nothing_may_train) == 2
    one_line_error(capsys.readouterr().err, "cannot be written", "Not a directory")


def test_out_on_a_read_only_file_system(tmp_path, capsys, monkeypatch, nothing_may_train):
    # Tests run as root, which chmod does not stop; a read-only mount refuses creating files.
    def read_only(*args, dir=None, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), dir)

    monkeypatch.setattr(model_repository.tempfile, "mkstemp", read_only)
    assert cli.main(["--out", str(tmp_path / "models")], nothing_may_train) == 2
    one_line_error(capsys.readouterr().err, "cannot be written", "Read-only file system")


@pytest.mark.parametrize("name", ["x" * 300, "nul\0byte"], ids=["name-too-long", "nul-byte"])
def test_out_with_an_impossible_name(name, tmp_path, capsys, nothing_may_train):
    assert cli.main(["--out", str(tmp_path / name)], nothing_may_train) == 2
    one_line_error(capsys.readouterr().err, "cannot be written")


# --- --cross-val and --corrections: what they need is checked before the data is read ----------


def test_cross_val_without_cleanlab_fails_before_anything_runs(tmp_path, capsys, monkeypatch, nothing_may_train):
    for name in ("cleanlab", "cleanlab.filter", "cleanlab.rank"):
        monkeypatch.setitem(sys.modules, name, None)  # makes `import cleanlab...` raise ImportError
    out = tmp_path / "models"
    assert cli.main(["--cross-val", "5", "--out", str(out)], nothing_may_train) == 2
    one_line_error(capsys.readouterr().err, "cleanlab", "pip install", "leave out --cross-val")
    assert not out.exists()


def test_a_missing_corrections_store_says_how_to_make_one(tmp_path, capsys, labeler_dir, nothing_may_train):
    for flags, store in (
        (["--corrections", str(tmp_path / "nowhere.sqlite")], tmp_path / "nowhere.sqlite"),
        (["--corrections"], labeler_dir),  # the bare flag: the labeler's own store
    ):
        assert cli.main([*flags, "--out", str(tmp_path / "models")], nothing_may_train) == 2
        err = one_line_error(capsys.readouterr().err, "no corrections store at", "fashion-labeler")
        assert str(store) in err


def test_a_store_without_verdicts_for_this_dataset_is_refused(fashion_dir, tmp_path, capsys, monkeypatch):
    from inference.core.corrections import CorrectionsStore

    CorrectionsStore.open(tmp_path / "empty.sqlite").close()

    def refuse(*args, **kwargs):
        raise AssertionError("train-and-export trained without a single verdict")

    code = cli.main(
        [
            "--corrections",
            str(tmp_path / "empty.sqlite"),
            "--data-dir",
            str(fashion_dir),
            "--out",
            str(tmp_path / "models"),
        ],
        cli.Steps(train_variant=refuse),
    )
    assert code == 2
    one_line_error(capsys.readouterr().err, "holds no verdicts for this dataset", "fashion-labeler")


def run_in_a_thread(argv: list[str], steps: cli.Steps) -> int:
    """cli.main on another thread: a store that hangs the open fails the test instead of hanging it."""
    import threading

    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(code=cli.main(argv, steps)), daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "train-and-export hung on the corrections store"
    return outcome["code"]


def test_a_fifo_as_the_corrections_store_is_one_line_at_once(tmp_path, capsys, nothing_may_train):
    os.mkfifo(tmp_path / "corrections.sqlite")
    code = run_in_a_thread(
        ["--corrections", str(tmp_path / "corrections.sqlite"), "--out", str(tmp_path / "models")], nothing_may_train
    )
    assert code == 2
    one_line_error(capsys.readouterr().err, "FIFO", "not a regular file")


def test_a_store_with_a_hostile_schema_is_refused_before_the_data(tmp_path, capsys, nothing_may_train):
    from testkit.hostile import store_with_statements

    path = store_with_statements(
        tmp_path / "corrections.sqlite",
        ["CREATE TRIGGER eat AFTER INSERT ON verdicts BEGIN DELETE FROM verdicts WHERE idx = NEW.idx; END"],
    )
    assert cli.main(["--corrections", str(path), "--out", str(tmp_path / "models")], nothing_may_train) == 2
    one_line_error(capsys.readouterr().err, "not its schema", "unexpected trigger eat", "-wal")


@pytest.mark.parametrize(
    "row",
    [(-1, "relabel", 0, 9), (59_999, "relabel", 42, 9), (1, "confirmed", 3, 0)],
    ids=["index-minus-1", "label-42", "label-with-confirmed"],
)
def test_a_store_row_past_its_checks_never_reaches_training(fashion_dir, tmp_path, capsys, monkeypatch, row):
    """Index -1 would relabel the last image (numpy's negative indexing), 42 would enter the labels."""
    from inference.core.fashion_mnist import load_split
    from testkit.hostile import store_with_rows

    train = load_split("train", fashion_dir)
    path = store_with_rows(tmp_path / "corrections.sqlite", [row], digest=train.digest, split="train")

    def refuse(*args, **kwargs):
        raise AssertionError("train-and-export trained on a row the store should have refused")

    flags = ["--corrections", str(path), "--data-dir", str(fashion_dir), "--out", str(tmp_path / "models")]
    code = cli.main(flags, cli.Steps(train_variant=refuse))
    assert code == 2
    one_line_error(capsys.readouterr().err, "not valid", str(path), repr(row[1]))


# --- data and the errors below: one line whatever the layer -------------------------------------


def test_data_file_with_an_impossible_header(tmp_path, capsys):
    header = bytes([0, 0, 8, 3]) + (2**32 - 1).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    for name in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        (tmp_path / name).write_bytes(header)
    assert cli.main(["--data-dir", str(tmp_path), "--out", str(tmp_path / "models")]) == 2
    err = one_line_error(capsys.readouterr().err)
    assert any(name in err for name in ("train-images", "train-labels", "t10k-images", "t10k-labels")), err
    assert files_under(tmp_path / "models") == []


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.EIO, "Input/output error", "/data/train-images-idx3-ubyte"),
        OverflowError("Python int too large to convert to C long"),
        TrainingError("onnx.checker says:\n  line one\n  line two"),
    ],
    ids=["OSError", "OverflowError", "multi-line message"],
)
def test_any_error_below_the_cli_is_one_line(error, tmp_path, capsys, monkeypatch):
    def fail(*args, **kwargs):
        raise error

    assert cli.main(["--out", str(tmp_path / "models")], cli.Steps(prepare=fail)) == 2
    one_line_error(capsys.readouterr().err)


# --- runaway training and the model it would replace -----------------------------------------


@pytest.mark.slow
def test_finite_divergence_stops_and_leaves_the_earlier_model(fashion_dir, tmp_path, capsys):
    out = tmp_path / "models"
    earlier = write_earlier_model(out, "0.845500")
    code = cli.main([*ONE_EPOCH, "--lr", "1e6", "--data-dir", str(fashion_dir), "--out", str(out)])
    assert code == 2
    one_line_error(capsys.readouterr().err, "running average", "lower --lr", "nothing was exported")
    assert onnx_path(out, 1).read_bytes() == earlier
    assert files_under(out) == [onnx_path(out, 1)]


def test_guard_stops_a_finite_climb_but_not_one_noisy_batch():
    guard = DivergenceGuard()
    for loss in (2.3, 1.9, 2.3 * DIVERGED_FACTOR * 1.2, 1.5, 1.2):  # one spike past 10x the start
        guard.check(loss, 1.0, "step")
    with pytest.raises(TrainingError, match="running average.*lower --lr"):
        for _ in range(100):
            guard.check(2.3 * DIVERGED_FACTOR * 2, 1.0, "step")
    with pytest.raises(TrainingError, match="loss became nan"):
        DivergenceGuard().check(float("nan"), 1.0, "step")


def test_accuracy_line_without_or_with_a_worse_earlier_model():
    assert "the first version" in accuracy_change(0.83, None, None)
    assert "version 4 before it records no accuracy" in accuracy_change(0.83, None, 4)
    better = accuracy_change(0.83, 0.80, 2)
    assert "version 2 before it: 0.8000" in better and "0.8300" in better and "+0.0300" in better
    assert "was better" not in better


@pytest.mark.parametrize(
    "content, expected",
    [
        (None, None),
        (b"", None),
        (b"\xff\xfe garbage", None),
        ("0.8325", 0.8325),
        ("high", None),
        ("1.5", None),
        ("nan", None),
    ],
    ids=["missing", "empty", "garbage", "recorded", "not-a-number", "out-of-range", "nan"],
)
def test_recorded_accuracy_of_an_earlier_model(content, expected, tmp_path):
    path = onnx_path(tmp_path, 1)
    if isinstance(content, str):
        write_earlier_model(tmp_path, content)
    elif content is not None:
        path.parent.mkdir(parents=True)
        path.write_bytes(content)
    assert recorded_accuracy(path) == expected


def test_earlier_model_that_is_a_folder_reads_as_none(tmp_path):
    onnx_path(tmp_path, 1).mkdir(parents=True)
    assert recorded_accuracy(onnx_path(tmp_path, 1)) is None


# --- full disk and SIGTERM: after training, and nothing half-written -----------------------------


@pytest.mark.slow
def test_full_disk_at_export_is_one_line_and_keeps_the_earlier_model(fashion_dir, tmp_path, capsys, monkeypatch):
    """Also the summary: it names the newest earlier version's accuracy beside the new one (one
    run, one export, to keep the suite fast)."""
    out = tmp_path / "models"
    earlier = write_earlier_model(out, "0.991234")

    real_write = model_repository.atomic_write

    def disk_full(path, data):  # the disk fills up while the new version is staged
        if os.path.basename(path) == model_repository.MODEL_FILE:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real_write(path, data)

    monkeypatch.setattr(model_repository, "atomic_write", disk_full)
    assert cli.main([*ONE_EPOCH, "--data-dir", str(fashion_dir), "--out", str(out)]) == 2
    stdout, err = capsys.readouterr()
    one_line_error(err, "No space left on device", "are unchanged")
    assert onnx_path(out, 1).read_bytes() == earlier
    # Neither a version 2 nor its staging folder is left: only the config written before it.
    assert sorted(p.name for p in model_dir(out).iterdir()) == ["1", "config.pbtxt", "labels.txt"]
    assert files_under(model_dir(out) / "1") == [onnx_path(out, 1)]

    table_row = next(line for line in stdout.splitlines() if line.startswith("concise "))
    new = float(table_row.split()[5])  # the summary table's test accuracy
    (line,) = [line for line in stdout.splitlines() if "version 1 before it" in line]
    assert f"{new:.4f}" in line and "0.9912" in line and f"{new - 0.991234:+.4f}" in line
    assert "version 1 was better" in line  # one epoch is far from 0.99


@pytest.mark.slow
def test_sigterm_while_writing_leaves_no_temporary_or_torn_file(fashion_dir, tmp_path, capsys, monkeypatch):
    out = tmp_path / "models"
    weights = model_dir(out) / "scratch.pt"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"earlier weights")
    real_fsync = os.fsync

    def terminated_while_syncing(fd):
        os.kill(os.getpid(), signal.SIGTERM)
        real_fsync(fd)

    killed_outright = []

    def outright(signum, frame):  # runs only if train-and-export installed no handler of its own
        killed_outright.append(signum)

    before = signal.signal(signal.SIGTERM, outright)
    try:
        monkeypatch.setattr(os, "fsync", terminated_while_syncing)
        code = cli.main(["--variant", "scratch", "--epochs", "1", "--data-dir", str(fashion_dir), "--out", str(out)])
        monkeypatch.undo()
        assert signal.getsignal(signal.SIGTERM) is outright  # handed back on the way out
    finally:
        signal.signal(signal.SIGTERM, before)
    assert not killed_outright
    assert code == 128 + signal.SIGTERM  # 143, as fashion-predict
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "terminated (SIGTERM)" in err and "Traceback" not in err
    assert weights.read_bytes() == b"earlier weights"
    assert files_under(out) == [weights]  # no .tmp beside it, nothing else written
    assert [p.name for p in model_dir(out).iterdir()] == ["scratch.pt"]  # not even the run's empty folder
