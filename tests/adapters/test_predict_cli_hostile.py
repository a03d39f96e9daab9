"""fashion-predict against hostile invocations: outputs that would destroy an input, outputs that
cannot be written, signals mid-run, bad flag values and files the decoders refuse. Nothing may be
lost, every failure is one line and exit 2, and a results file appears only when complete."""

from __future__ import annotations

import csv as csv_module
import errno
import hashlib
import io
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from inference.adapters.predict_command import main
from inference.core.classes import CLASS_NAMES
from testkit.hostile import good_png, hostile_images, idx_bytes
from testkit.tiny_models import write_tiny_model

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return write_tiny_model(tmp_path_factory.mktemp("model") / "model.onnx")


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` (hidden ones included) by its SHA-256: what must not change."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def one_error_line(err: str) -> str:
    """The error line, after checking it is the only line that is not the 'scoring ...' notice."""
    lines = [line for line in err.strip().splitlines() if not line.startswith("scoring ")]
    assert len(lines) == 1, err
    assert lines[0].startswith("fashion-predict: error: ") and "Traceback" not in err
    return lines[0]


# --- the output must never replace something the run reads ---------------------------------


def npy_input(folder: Path) -> list[str]:
    np.save(folder / "x.npy", np.arange(5 * 784, dtype=np.uint32).reshape(5, 28, 28) % 256)
    return [str(folder / "x.npy")]


def idx_input(folder: Path) -> list[str]:
    images = np.random.default_rng(0).integers(0, 256, (6, 28, 28), dtype=np.uint8)
    (folder / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(images))
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.arange(6) % 10))
    return [str(folder / "t10k-images-idx3-ubyte")]


def folder_input(folder: Path) -> list[str]:
    (folder / "images").mkdir()
    for i in range(3):
        good_png(folder / "images" / f"{i}.png", seed=i)
    return [str(folder / "images")]


def labels_flag(folder: Path) -> list[str]:
    (folder / "mine-idx1-ubyte").write_bytes(idx_bytes(np.arange(5) % 10))
    return npy_input(folder) + ["--labels", str(folder / "mine-idx1-ubyte")]


def symlinked_input(folder: Path) -> list[str]:
    argv = npy_input(folder)
    (folder / "link.csv").symlink_to(folder / "x.npy")
    return argv


def hard_linked_input(folder: Path) -> list[str]:
    argv = npy_input(folder)
    os.link(folder / "x.npy", folder / "hard.csv")
    return argv


CLOBBER = {  # case: (input builder, --output relative to the folder, what the message calls it)
    "the .npy itself": (npy_input, "x.npy", "is the input"),
    "the .npy by another spelling": (npy_input, "sub/../x.npy", "is the input"),
    "the .npy through a symlink": (symlinked_input, "link.csv", "is the input"),
    "the .npy through a hard link": (hard_linked_input, "hard.csv", "is the input"),
    "the IDX file": (idx_input, "t10k-images-idx3-ubyte", "is the input"),
    "the label file beside the IDX file": (idx_input, "t10k-labels-idx1-ubyte", "is the label file beside the input"),
    "the --labels file": (labels_flag, "mine-idx1-ubyte", "is the label file"),
    "an image in the input folder": (folder_input, "images/1.png", "is an image in the input folder"),
}


@pytest.mark.parametrize("case", sorted(CLOBBER))
def test_an_output_onto_an_input_is_refused_and_the_input_is_untouched(tmp_path, model, capsys, case):
    build, output, role = CLOBBER[case]
    work = tmp_path / "work"
    work.mkdir()
    (work / "sub").mkdir()
    argv = build(work)
    before = snapshot(work)
    assert main([*argv, "--model", str(model), "-o", str(work / output)]) == 2
    assert f"{role} of this run" in one_error_line(capsys.readouterr().err)
    assert snapshot(work) == before  # byte for byte, and no temporary file left either


def test_the_model_is_never_the_output(tmp_path, capsys):
    model = write_tiny_model(tmp_path / "model.onnx")
    argv = npy_input(tmp_path)
    before = snapshot(tmp_path)
    assert main([*argv, "--model", str(model), "-o", str(model)]) == 2
    assert "is the model of this run" in one_error_line(capsys.readouterr().err)
    assert snapshot(tmp_path) == before


def test_a_new_file_inside_the_input_folder_is_fine(tmp_path, model, capsys):
    (image_folder,) = folder_input(tmp_path)
    out = Path(image_folder) / "predictions.csv"
    assert main([image_folder, "--model", str(model), "-o", str(out)]) == 0
    assert out.read_text().count("\n") == 4  # header + three images


# --- outputs that cannot be written ---------------------------------------------------------


def test_a_full_device_is_one_line_and_stays_a_device(tmp_path, model, capsys):
    argv = npy_input(tmp_path)
    assert main([*argv, "--model", str(model), "-o", "/dev/full"]) == 2
    assert "cannot write /dev/full: No space left on device" in one_error_line(capsys.readouterr().err)
    # Written in place, not renamed over: a regular file in its stead would break /dev/full for everyone.
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    assert not [p for p in Path("/dev").iterdir() if p.name.startswith(".full.")]


def test_stdout_on_a_full_device_is_one_line(tmp_path, model):
    argv = npy_input(tmp_path)
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "inference.adapters.predict_command", *argv, "--model", str(model)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            cwd=REPO,
        )
    assert result.returncode == 2
    assert "cannot write stdout: No space left on device" in one_error_line(result.stderr)
    assert "Exception ignored" not in result.stderr  # Python's own flush at exit did not fail again


def test_a_full_disk_at_the_end_keeps_the_old_results(tmp_path, model, capsys, monkeypatch):
    argv = npy_input(tmp_path)
    out = tmp_path / "out.csv"
    out.write_text("old results\n")

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    assert main([*argv, "--model", str(model), "-o", str(out)]) == 2
    assert "cannot write" in one_error_line(capsys.readouterr().err)
    assert out.read_text() == "old results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "x.npy"]


def test_a_read_only_folder_is_one_line(tmp_path, model, capsys, monkeypatch):
    argv = npy_input(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    real_open = os.open

    def read_only(path, flags, *args, **kwargs):  # tests run as root, whom chmod does not stop
        if Path(path).parent == locked and flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    assert main([*argv, "--model", str(model), "-o", str(locked / "out.csv")]) == 2
    assert "Read-only file system" in one_error_line(capsys.readouterr().err)
    assert list(locked.iterdir()) == []


@pytest.mark.parametrize("output, says", [("missing/out.csv", "does not exist"), (".", "is a folder")])
def test_an_output_that_cannot_be_a_file_is_refused_before_scoring(tmp_path, model, capsys, output, says):
    argv = npy_input(tmp_path)
    assert main([*argv, "--model", str(model), "-o", str(tmp_path / output)]) == 2
    err = capsys.readouterr().err
    assert says in one_error_line(err) and "scoring" not in err


# --- inputs that cannot be read -------------------------------------------------------------


def test_an_unreadable_input_folder_is_one_line(tmp_path, model, capsys, monkeypatch):
    (image_folder,) = folder_input(tmp_path)

    def denied(self):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "iterdir", denied)  # as root, chmod 000 would not stop the listing
    assert main([image_folder, "--model", str(model)]) == 2
    assert "Permission denied" in one_error_line(capsys.readouterr().err)


def test_a_file_used_as_a_folder_is_one_line(tmp_path, model, capsys):
    (npy,) = npy_input(tmp_path)
    assert main([f"{npy}/inner.png", "--model", str(model)]) == 2
    one_error_line(capsys.readouterr().err)


def test_a_folder_of_hostile_files_scores_the_good_ones(tmp_path, model, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    good = [good_png(folder / f"good{i}.png", seed=i).name for i in range(3)]
    bad = [p.name for p in hostile_images(folder)]
    out = tmp_path / "out.csv"
    assert main([str(folder), "--model", str(model), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert [line.split(",")[0] for line in out.read_text().splitlines()[1:]] == sorted(good)
    for name in bad:
        assert f"skipped {name}: " in err
    assert f"{len(bad)} file(s) skipped, {len(good)} scored" in err and "Traceback" not in err


def test_a_folder_of_only_hostile_files_leaves_no_results_file(tmp_path, model, capsys):
    folder = tmp_path / "bad"
    folder.mkdir()
    hostile_images(folder)
    out = tmp_path / "out.csv"
    assert main([str(folder), "--model", str(model), "-o", str(out)]) == 2
    assert not out.exists() and not list(tmp_path.glob(".out.csv.*"))


# --- flags ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flag, value",
    [
        ("--threads", "0"),
        ("--threads", "-3"),
        ("--threads", "1" * 5000),
        ("--threads", "two"),
        ("--batch-size", "0"),
        ("--batch-size", str(2**63)),
        ("--batch-size", "1e3"),
        ("--concurrency", "0"),
        ("--concurrency", "-1"),
        ("--num-gpus", "-1"),
        ("--num-gpus", "nan"),
        ("--num-gpus", "inf"),
        ("--num-gpus", "1e400"),
        ("--format", "xml"),
        ("--device", "tpu"),
    ],
)
def test_a_bad_flag_value_is_one_line_and_exit_2(tmp_path, capsys, flag, value):
    assert main(["x.npy", flag, value]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"fashion-predict: error: argument {flag}")


def test_more_threads_than_cpus_are_refused(capsys):
    assert main(["x.npy", "--threads", str((os.cpu_count() or 1) + 1)]) == 2
    assert "expected a whole number from 1 to" in capsys.readouterr().err


def test_overwrite_reaches_the_ray_engine(tmp_path, model, monkeypatch):
    import inference.adapters.ray_engine

    (image_folder,) = folder_input(tmp_path)
    calls = []

    def fake_run(sources, output, **kwargs):
        calls.append(kwargs["overwrite"])
        return inference.adapters.ray_engine.RayRun(scored=3, output=Path(output))

    monkeypatch.setattr(inference.adapters.ray_engine, "run", fake_run)
    argv = ["--engine", "ray", image_folder, "--model", str(model), "-o", str(tmp_path / "scores")]
    assert main(argv) == 0 and main([*argv, "--overwrite"]) == 0
    assert calls == [False, True]


@pytest.mark.parametrize("output", ["images", "."])
def test_a_ray_output_folder_holding_the_input_is_refused(tmp_path, model, capsys, monkeypatch, output):
    import inference.adapters.ray_engine

    (image_folder,) = folder_input(tmp_path)
    monkeypatch.setattr(inference.adapters.ray_engine, "run", lambda *a, **k: pytest.fail("Ray was started"))
    argv = ["--engine", "ray", image_folder, "--model", str(model), "-o", str(tmp_path / output), "--overwrite"]
    assert main(argv) == 2
    assert "the input folder of this run" in one_error_line(capsys.readouterr().err)


# --- signals --------------------------------------------------------------------------------

SLOW_MAIN = """
import sys, time
from inference.core.predictor import Predictor
from inference.adapters.predict_command import main
score = Predictor.predict_proba
def slowly(self, images):  # a long run, without a large file on disk
    time.sleep(0.05)
    return score(self, images)
Predictor.predict_proba = slowly
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize(
    "signum, code, says", [(signal.SIGTERM, 143, "terminated (SIGTERM)"), (signal.SIGINT, 130, "interrupted")]
)
def test_a_signal_mid_run_leaves_the_old_results_and_no_temporary_file(tmp_path, model, signum, code, says):
    np.save(tmp_path / "many.npy", np.zeros((400, 28, 28), np.uint8))
    out = tmp_path / "out.csv"
    out.write_text("old results\n")
    argv = [str(tmp_path / "many.npy"), "--model", str(model), "--batch-size", "1", "-o", str(out)]
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_MAIN, *argv], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while not list(tmp_path.glob(".out.csv.*.tmp")):  # scoring has begun: rows are being written
            assert process.poll() is None and time.monotonic() < deadline, process.stderr
            time.sleep(0.02)
        time.sleep(0.2)
        process.send_signal(signum)
        _, err = process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == code, err
    assert err.strip().splitlines()[-1] == f"fashion-predict: {says}"
    assert out.read_text() == "old results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["many.npy", "out.csv"]


def test_main_puts_the_signal_handlers_back(tmp_path, model, capsys):
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    argv = npy_input(tmp_path)
    assert main([*argv, "--model", str(model), "-o", str(tmp_path / "out.csv")]) == 0
    assert {s: signal.getsignal(s) for s in before} == before


def test_a_complete_run_leaves_only_the_results_with_the_usual_mode(tmp_path, model, capsys):
    argv = npy_input(tmp_path)
    out = tmp_path / "out.csv"
    out.write_text("old results\n")
    assert main([*argv, "--model", str(model), "-o", str(out)]) == 0
    assert out.read_text().count("\n") == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "x.npy"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


# --- CSV that a spreadsheet opens safely ---------------------------------------------------------

CSV_NAMES = [
    "carriage\rreturn.png",
    "line\nfeed.png",
    'quote".png',
    "comma,name.png",
    "=1+2.png",
    "+SUM(A1).png",
    "-2+3.png",
    "@cmd.png",
    "\tTAB.png",
    "plain.png",
]


def test_names_that_would_break_or_run_in_a_spreadsheet_are_quoted_and_neutralised(tmp_path, model, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    for i, name in enumerate(CSV_NAMES):
        good_png(folder / name, seed=i)
    out = tmp_path / "out.csv"
    assert main([str(folder), "--model", str(model), "-o", str(out)]) == 0
    text = out.read_bytes().decode("utf-8")
    rows = list(csv_module.reader(io.StringIO(text, newline="")))
    assert len(rows) == 1 + len(CSV_NAMES)  # no name split a row in two
    assert all(len(row) == 14 for row in rows)
    written = {row[0] for row in rows[1:]}
    expected = {("'" + n if n[0] in "=+-@\t" else n) for n in CSV_NAMES}
    assert written == expected
    assert '"carriage\rreturn.png"' in text  # the lone carriage return is inside quotes


def test_class_names_from_the_model_are_neutralised_too(tmp_path, capsys):
    names = ['=HYPERLINK("http://x")', *CLASS_NAMES[1:9], "@Ankle boot"]
    model = write_tiny_model(tmp_path / "m.onnx", class_names=names)
    argv = npy_input(tmp_path)
    out = tmp_path / "out.csv"
    assert main([*argv, "--model", str(model), "-o", str(out)]) == 0
    rows = list(csv_module.reader(io.StringIO(out.read_text(), newline="")))
    assert {row[2] for row in rows[1:]} <= {("'" + n if n[0] in "=@" else n) for n in names}
    assert not any(row[2].startswith(("=", "@")) for row in rows[1:])
