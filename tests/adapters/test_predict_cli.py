"""`fashion-predict` end to end: every input kind, both formats, the report, and exit codes.

The report's smoke test scores with the session's trained model; the rest need only a model, the tiny one."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from inference.adapters.predict_command import main
from inference.core.classes import CLASS_NAMES


@pytest.fixture(scope="module")
def idx_copy(fashion_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("idx")
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(Path(fashion_dir) / name, folder / name)
    return folder / "t10k-images-idx3-ubyte.gz"


@pytest.fixture
def folder(tmp_path, test_split):
    for i in range(5):
        Image.fromarray(test_split.images[i]).save(tmp_path / f"img{i}.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return tmp_path


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_idx_with_labels_writes_csv_and_prints_the_report(idx_copy, model_path, test_split, tmp_path, capsys):
    out = tmp_path / "pred.csv"
    assert main([str(idx_copy), "--model", str(model_path), "--output", str(out)]) == 0
    table = rows(out.read_text())
    assert len(table) == 10_000
    assert list(table[0]) == ["name", "label", "class_name", "confidence"] + [f"p_{i}" for i in range(10)]
    labels = np.array([int(r["label"]) for r in table])
    accuracy = (labels == test_split.labels).mean()
    first = table[0]
    assert first["name"] == "0" and first["class_name"] == CLASS_NAMES[int(first["label"])]
    probs = [float(first[f"p_{i}"]) for i in range(10)]
    assert sum(probs) == pytest.approx(1, abs=1e-4) and float(first["confidence"]) == max(probs)
    printed = capsys.readouterr()
    # Results went to a file, so the report is on stdout.
    assert f"accuracy {accuracy:.4f}" in printed.out
    assert "confusion matrix" in printed.out and "Ankle boot" in printed.out
    assert "precision" in printed.out and "recall" in printed.out


def test_results_on_stdout_put_the_report_on_stderr(idx_copy, tiny_model_path, capsys):
    assert main([str(idx_copy), "--model", str(tiny_model_path), "--format", "jsonl"]) == 0
    printed = capsys.readouterr()
    lines = printed.out.splitlines()
    assert len(lines) == 10_000
    record = json.loads(lines[0])
    assert set(record) == {"name", "label", "class_name", "confidence", "probabilities"}
    assert len(record["probabilities"]) == 10
    assert "accuracy" in printed.err and "accuracy" not in printed.out


def test_a_folder_scores_the_good_files_and_names_the_bad_one(folder, tiny_model_path, test_split, capsys):
    assert main([str(folder), "--model", str(tiny_model_path)]) == 1
    printed = capsys.readouterr()
    table = rows(printed.out)
    assert [r["name"] for r in table] == [f"img{i}.png" for i in range(5)]
    assert "skipped broken.png" in printed.err and "1 file(s) skipped, 5 scored" in printed.err


def test_a_folder_of_only_bad_files_exits_2(tmp_path, tiny_model_path, capsys):
    (tmp_path / "a.png").write_text("no")
    (tmp_path / "b.jpg").write_bytes(b"")
    assert main([str(tmp_path), "--model", str(tiny_model_path)]) == 2
    err = capsys.readouterr().err
    assert "skipped a.png" in err and "skipped b.jpg" in err
    assert err.strip().splitlines()[-1].startswith("fashion-predict: error: none of the 2 images")


def test_single_image_and_npy(folder, tiny_model_path, tmp_path, test_split, capsys):
    assert main([str(folder / "img0.png"), "--model", str(tiny_model_path)]) == 0
    single = rows(capsys.readouterr().out)
    np.save(tmp_path / "x.npy", test_split.images[:7].reshape(7, 784).astype(np.float32) / 255)
    assert main([str(tmp_path / "x.npy"), "--model", str(tiny_model_path), "--batch-size", "3"]) == 0
    table = rows(capsys.readouterr().out)
    assert len(table) == 7 and [r["name"] for r in table] == [str(i) for i in range(7)]
    assert single[0]["label"] == table[0]["label"]


def bad_invocations(tmp_path: Path, model: Path) -> dict[str, list[str]]:
    (tmp_path / "cut.npy").write_bytes(b"\x93NUMPY")
    np.save(tmp_path / "wrong.npy", np.zeros((3, 10)))
    np.save(tmp_path / "nan.npy", np.full((3, 784), np.nan, np.float32))
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.onnx").write_bytes(b"not onnx")
    Image.fromarray(np.zeros((30, 30), np.uint8)).save(tmp_path / "big.png")
    ok = str(tmp_path / "wrong.npy")
    return {
        "missing file": [str(tmp_path / "nope.npy"), "--model", str(model)],
        "truncated npy": [str(tmp_path / "cut.npy"), "--model", str(model)],
        "wrong shape": [ok, "--model", str(model)],
        "nan": [str(tmp_path / "nan.npy"), "--model", str(model)],
        "empty folder": [str(tmp_path / "empty"), "--model", str(model)],
        "wrong size image": [str(tmp_path / "big.png"), "--model", str(model)],
        "bad model": [ok, "--model", str(tmp_path / "bad.onnx")],
        "missing model": [ok, "--model", str(tmp_path / "none")],
        "bad threads": [ok, "--model", str(model), "--threads", "0"],
        "bad batch size": [ok, "--model", str(model), "--batch-size", "0"],
        "unwritable output": [
            str(tmp_path / "big.png"),
            "--model",
            str(model),
            "--resize",
            "-o",
            str(tmp_path / "no" / "x.csv"),
        ],
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing file",
        "truncated npy",
        "wrong shape",
        "nan",
        "empty folder",
        "wrong size image",
        "bad model",
        "missing model",
        "bad threads",
        "bad batch size",
        "unwritable output",
    ],
)
def test_bad_input_is_one_line_and_exit_2(case, tiny_model_path, tmp_path, capsys):
    argv = bad_invocations(tmp_path, tiny_model_path)[case]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("fashion-predict: error: ")
    assert "Traceback" not in "\n".join(err)


@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(), reason="this onnxruntime has CUDA")
def test_asking_for_cuda_without_it_exits_2(tiny_model_path, folder, capsys):
    assert main([str(folder / "img0.png"), "--model", str(tiny_model_path), "--device", "cuda"]) == 2
    assert "onnxruntime-gpu" in capsys.readouterr().err


def test_argument_errors_exit_2_in_one_line(capsys):
    assert main(["x.npy", "--format", "xml"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fashion-predict: error: argument --format: invalid choice")


def test_help_exits_0(capsys):
    assert main(["--help"]) == 0
    assert "--overwrite" in capsys.readouterr().out


def test_the_installed_command_runs(folder, tiny_model_path):
    command = Path(sys.executable).parent / "fashion-predict"
    result = subprocess.run(
        [str(command), str(folder / "img1.png"), "--model", str(tiny_model_path), "--format", "jsonl"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["name"] == "img1.png"
    assert "on cpu" in result.stderr or "on cuda" in result.stderr  # says which device it chose


def test_a_failure_midway_leaves_no_results_file(tiny_model_path, tmp_path, capsys):
    images = np.zeros((5, 784), np.float32)
    images[4, 0] = np.nan  # in the last part: the first parts are already written when it fails
    np.save(tmp_path / "late.npy", images)
    out = tmp_path / "out.csv"
    assert main([str(tmp_path / "late.npy"), "--model", str(tiny_model_path), "--batch-size", "2", "-o", str(out)]) == 2
    assert "NaN" in capsys.readouterr().err and not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["late.npy"]  # no temporary file either


def test_a_failure_midway_keeps_the_previous_results(tiny_model_path, tmp_path, capsys):
    images = np.zeros((5, 784), np.float32)
    images[4, 0] = np.nan
    np.save(tmp_path / "late.npy", images)
    out = tmp_path / "out.csv"
    out.write_text("yesterday's results\n")
    assert main([str(tmp_path / "late.npy"), "--model", str(tiny_model_path), "--batch-size", "2", "-o", str(out)]) == 2
    assert out.read_text() == "yesterday's results\n"


def test_the_progress_bar_only_on_a_terminal_for_long_runs(monkeypatch):
    from inference.adapters import predict_command as predict_cli

    assert predict_cli.progress(10**6, 10, disabled=False) is None  # pytest's stderr is no terminal
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert predict_cli.progress(5, 10, disabled=False) is None
    assert predict_cli.progress(10**6, 10, disabled=True) is None
    bar = predict_cli.progress(10**6, 10, disabled=False)
    assert bar is not None
    bar.close()
