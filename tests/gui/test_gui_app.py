"""`fashion-labeler` as a command: clear one-line errors, the screenshot, and no lost corrections
when the process is killed with SIGKILL in the middle of relabelling.

The screenshot is the labeler's smoke test on the session's trained model; the rest need only a
model, the tiny one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage

from gui.labeler_command import main
from inference.core.corrections import CorrectionsStore
from inference.core.fashion_mnist import dataset_digest
from testkit.gui_helpers import screenshot_flags

ROOT = Path(__file__).resolve().parents[2]


def env() -> dict:
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fashion-labeler: error: "), err
    return err[0]


def test_missing_model_is_one_clear_line_and_status_2(capsys, qapp, fashion_dir, tmp_path):
    assert main(["--model", str(tmp_path / "nope.onnx"), "--data-dir", str(fashion_dir)]) == 2
    assert "does not exist" in one_error_line(capsys)


def test_missing_dataset_is_one_clear_line_and_status_2(capsys, qapp, tiny_model_path, tmp_path):
    assert main(["--model", str(tiny_model_path), "--data-dir", str(tmp_path)]) == 2
    assert "lacks t10k-images-idx3-ubyte" in one_error_line(capsys)


def test_model_with_wrong_inputs_is_one_clear_line_and_status_2(capsys, qapp, fashion_dir, tmp_path):
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 784])
    y = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 784])
    graph = helper.make_graph([helper.make_node("Identity", ["images"], ["probabilities"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "float.onnx"))
    code = main(
        [
            *screenshot_flags(
                str(tmp_path / "float.onnx"), str(fashion_dir), str(tmp_path / "c.sqlite"), str(tmp_path / "s.png")
            ),
        ]
    )
    assert code == 2
    assert "not a Fashion-MNIST model" in one_error_line(capsys)
    assert not (tmp_path / "s.png").exists()


@pytest.mark.parametrize(
    "flags, named",
    [
        (["--split", "validation"], "--split"),
        (["--show", "some"], "--show"),
        (["--zoom", "99"], "--zoom"),
        (["--zoom", "huge"], "--zoom"),
        (["--pair", "12", "0"], "--pair"),
        (["--pair", "6"], "--pair"),
        (["--no-such-flag"], "--no-such-flag"),
    ],
    ids=["split", "show", "zoom-out-of-range", "zoom-not-a-number", "pair-not-a-class", "pair-half", "unknown-flag"],
)
def test_bad_flag_value_is_one_line_and_status_2(capsys, flags, named):
    assert main(flags) == 2
    line = one_error_line(capsys)
    assert named in line and "--help" in line


LONG_NAME = "x" * 300  # longer than any Linux filesystem allows in one path component: ENAMETOOLONG


@pytest.mark.parametrize("flag", ["--model", "--data-dir"])
def test_path_the_system_refuses_is_one_line_and_status_2(capsys, qapp, tiny_model_path, fashion_dir, tmp_path, flag):
    paths = {"--model": str(tiny_model_path), "--data-dir": str(fashion_dir), flag: str(tmp_path / LONG_NAME)}
    assert main([arg for pair in paths.items() for arg in pair]) == 2
    line = one_error_line(capsys)
    assert line.startswith("fashion-labeler: error: cannot ") and LONG_NAME in line and "too long" in line


def corrupt_data_dir(tmp_path, fashion_dir, images: bytes) -> Path:
    """A data folder with the real test labels and `images` as the test image file."""
    folder = tmp_path / "corrupt"
    folder.mkdir()
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes((fashion_dir / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (folder / "t10k-images-idx3-ubyte").write_bytes(images)
    return folder


IDX_HEADER = (0x803).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (10_000, 28, 28))


def test_corrupt_idx_header_is_exactly_one_line_on_stderr(tiny_model_path, fashion_dir, tmp_path):
    """Nothing else either: no traceback, and none of Qt's offscreen chatter."""
    folder = corrupt_data_dir(tmp_path, fashion_dir, b"\xde\xad\xbe\xef" + IDX_HEADER[4:] + bytes(784))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gui.labeler_command",
            *screenshot_flags(str(tiny_model_path), str(folder), str(tmp_path / "c.sqlite"), str(tmp_path / "s.png")),
        ],
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("fashion-labeler: error: "), result.stderr
    assert "not an IDX file" in result.stderr
    assert not (tmp_path / "s.png").exists() and not (tmp_path / "c.sqlite").exists()


@pytest.mark.parametrize(
    "images, says",
    [
        ((0x803).to_bytes(4, "big") + (2**31).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2, "truncated"),
        (IDX_HEADER[:7], "truncated inside its header"),
    ],
    ids=["header-claims-2**31-images", "cut-inside-header"],
)
def test_corrupt_data_is_one_line_and_status_2(capsys, qapp, tiny_model_path, fashion_dir, tmp_path, images, says):
    folder = corrupt_data_dir(tmp_path, fashion_dir, images)
    code = main(
        [
            *screenshot_flags(str(tiny_model_path), str(folder), str(tmp_path / "c.sqlite"), str(tmp_path / "s.png")),
        ]
    )
    assert code == 2
    assert says in one_error_line(capsys)
    assert not (tmp_path / "s.png").exists()


def test_corrections_path_the_system_refuses_opens_read_only(capsys, qapp, tiny_model_path, fashion_dir, tmp_path):
    """Not a failure: the images are shown, relabelling is off, and stderr says why."""
    shot = tmp_path / "s.png"
    code = main(
        [
            *screenshot_flags(
                str(tiny_model_path), str(fashion_dir), str(tmp_path / LONG_NAME / "c.sqlite"), str(shot)
            ),
        ]
    )
    assert code == 0 and shot.exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1 and err[0].startswith("fashion-labeler: warning: corrections ") and "cannot be used" in err[0]
    ), err


def test_screenshot_of_the_real_test_set(model_path, fashion_dir, tmp_path):
    shot = tmp_path / "labeler.png"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gui.labeler_command",
            "--model",
            str(model_path),
            "--data-dir",
            str(fashion_dir),
            "--corrections",
            str(tmp_path / "c.sqlite"),
            "--pair",
            "6",
            "0",
            "--screenshot",
            str(shot),
        ],
        env=env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    image = QImage(str(shot))
    assert image.width() >= 1000 and image.height() >= 600
    gray = image.convertToFormat(QImage.Format.Format_Grayscale8)
    pixels = np.frombuffer(gray.constBits(), np.uint8, gray.sizeInBytes())
    assert pixels.std() > 20  # not blank
    # The mistakes' red is there: many strongly red pixels.
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    px = np.frombuffer(rgb.constBits(), np.uint8, rgb.sizeInBytes()).reshape(rgb.height(), rgb.bytesPerLine())
    px = px[:, : 3 * rgb.width()].reshape(rgb.height(), rgb.width(), 3).astype(int)
    assert ((px[..., 0] > 180) & (px[..., 1] < 60) & (px[..., 2] < 60)).sum() > 1000


# Opens the window offscreen, relabels image after image through the public API, and prints
# one line after each change is saved; the test kills it with SIGKILL mid-stream.
DRIVER = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from gui.main_window import MainWindow
from gui.scoring import ScoringRequest

model, data, corrections = sys.argv[1:4]
app = QApplication([])
window = MainWindow(ScoringRequest(model, data, "test", corrections))
state = {"row": 0}

def step():
    row = state["row"]
    window.grid.setCurrentIndex(window.view_model.index(row))
    window.give_verdict("relabel", int(window.tiles.original_labels[row] + 1) % 10)

def saved(count):
    row = state["row"]
    print(f"saved {row} {int(window.tiles.labels[row])}", flush=True)
    state["row"] += 1
    QTimer.singleShot(0, step)

window.tiles.saved.connect(saved)
window.scored.connect(step)
window.show()
window.start()
app.exec()
"""


@pytest.mark.slow  # a labeler process, killed and started again
def test_sigkill_right_after_edits_loses_none_of_them(tiny_model_path, fashion_dir, tmp_path):
    path = tmp_path / "corrections.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(tiny_model_path), str(fashion_dir), str(path)],
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    confirmed = {}
    try:
        for line in proc.stdout:
            _, row, label = line.split()
            confirmed[int(row)] = int(label)
            if len(confirmed) == 40:
                proc.send_signal(signal.SIGKILL)  # while it keeps relabelling
                break
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert len(confirmed) == 40, proc.stderr.read()
    assert proc.returncode == -signal.SIGKILL
    with CorrectionsStore.open(path, create=False) as store:  # the write-ahead log is recovered on opening
        on_disk = {i: v.new_label for i, v in store.verdicts(dataset_digest(), "test").items()}
    assert {row: on_disk.get(row) for row in confirmed} == confirmed


def test_the_labeler_never_imports_torch_or_cleanlab():
    code = (
        "import sys, gui.labeler_command, gui.main_window, gui.scoring; "
        "bad = sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('torch', 'torchvision', 'training', 'cleanlab')); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
