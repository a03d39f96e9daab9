"""The real app in a real X11 window: `fashion-labeler` on Qt's xcb platform under Xvfb scores the
test split and saves a screenshot. Catches what offscreen cannot: a missing xcb library (CI
installs the set `.ci/run` lists), a window that will not fit a 1280 x 800 screen."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage

pytestmark = pytest.mark.x11

ROOT = Path(__file__).resolve().parents[2]
SCREEN = (1280, 800)
START_TIMEOUT_S = 20


@pytest.fixture
def x_display():
    """A private Xvfb; -displayfd makes it choose a free display number and tell us which."""
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", "1", "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        ready, _, _ = select.select([server.stdout], [], [], START_TIMEOUT_S)
        assert ready, f"Xvfb did not start within {START_TIMEOUT_S} s"
        number = server.stdout.readline().decode().strip()
        assert number.isdigit(), f"Xvfb said {number!r} instead of a display number"
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_real_window_scores_and_screenshots_under_xvfb(x_display, tiny_model_path, fashion_dir, tmp_path):
    shot = tmp_path / "x11.png"
    env = {
        **os.environ,
        "DISPLAY": x_display,
        "QT_QPA_PLATFORM": "xcb",
        "PYTHONPATH": str(ROOT),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "FASHION_LABELER_DIR": str(tmp_path / "labeler"),
    }
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "gui.labeler_command",
            "--model",
            str(tiny_model_path),
            "--data-dir",
            str(fashion_dir),
            "--corrections",
            str(tmp_path / "c.sqlite"),
            "--size",
            f"{SCREEN[0]}x{SCREEN[1]}",
            "--screenshot",
            str(shot),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    image = QImage(str(shot))
    assert (image.width(), image.height()) == SCREEN
    gray = image.convertToFormat(QImage.Format.Format_Grayscale8)
    pixels = np.frombuffer(gray.constBits(), np.uint8, gray.sizeInBytes()).reshape(gray.height(), gray.bytesPerLine())
    assert pixels.std() > 20 and len(np.unique(pixels)) > 50  # tiles, text and the matrix: not a blank window
