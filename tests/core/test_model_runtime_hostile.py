"""Models that pass every check at open and misbehave when they score: NaN for some inputs, an
onnxruntime failure for some batch sizes, a graph that loops for ever. Each is a ModelError at
every entry point of the Predictor, one line, with onnxruntime's own log kept off stderr, and
in fashion-predict one line and exit 2 (143 when SIGTERM comes first)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import inference.core.predictor as predictor_module
from inference.adapters.predict_command import main
from inference.core.errors import ModelError, NonFiniteScores
from inference.core.predictor import Predictor
from testkit.hostile_models import endless_loop_model, nan_for_grey_model, odd_batch_failure_model

REPO = Path(__file__).resolve().parents[2]

BLACK, GREY, WHITE = (np.full((28, 28), value, np.uint8) for value in (0, 128, 255))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-models")
    return {
        "nan": nan_for_grey_model(folder / "nan.onnx"),
        "odd": odd_batch_failure_model(folder / "odd.onnx"),
        "loop": endless_loop_model(folder / "loop.onnx"),
    }


def entry_points(p: Predictor, images: np.ndarray) -> dict:
    return {
        "predict": lambda: p.predict(images),
        "predict_proba": lambda: p.predict_proba(images),
        "logits": lambda: p.logits(images),
        "predict_batches": lambda: list(p.predict_batches([images])),
        "contributions": lambda: p.contributions(images, 0),  # reads the weights by scoring probes
    }


def one_error_line(err: str) -> str:
    """fashion-predict's error line, after checking it is the only line but the 'scoring ...' notice."""
    lines = [line for line in err.strip().splitlines() if not line.startswith("scoring ")]
    assert len(lines) == 1, err
    assert lines[0].startswith("fashion-predict: error: ") and "Traceback" not in err
    return lines[0]


def no_onnxruntime_log(capfd) -> None:
    captured = capfd.readouterr()
    for log in ("[E:onnxruntime", "[W:onnxruntime", "\x1b["):  # its coloured log lines
        assert log not in captured.err and log not in captured.out, captured.err


# --- NaN for some inputs ------------------------------------------------------------------------


def test_nan_for_some_images_is_a_model_error_naming_the_rows(models, capfd):
    with Predictor(models["nan"], device="cpu", threads=1) as p:
        assert np.isfinite(p.predict_proba(np.stack([BLACK, WHITE]))).all()  # what the probe at open saw
        batch = np.stack([BLACK, GREY, WHITE, GREY])
        for name, call in entry_points(p, batch).items():
            with pytest.raises(ModelError) as caught:
                call()
            message = str(caught.value)
            assert "NaN or infinite" in message and "\n" not in message, (name, message)
            if name != "contributions":  # its own probes are other images
                assert isinstance(caught.value, NonFiniteScores)
                assert caught.value.rows.tolist() == [1, 3] and "2 of 4 image(s) (rows 1, 3)" in message
    no_onnxruntime_log(capfd)


@pytest.mark.parametrize("threads", [1, 2])
def test_nan_rows_in_a_large_batch_are_counted_over_every_chunk_and_piece(models, threads):
    batch = np.zeros((3000, 28, 28), np.uint8)
    grey = [7, 1500, 2999]
    batch[grey] = 128
    with Predictor(models["nan"], device="cpu", threads=threads, chunk=1024) as p:
        with pytest.raises(NonFiniteScores) as caught:
            p.predict_proba(batch)
    assert caught.value.rows.tolist() == grey and caught.value.total == 3000


def test_the_error_can_name_the_images(models):
    with Predictor(models["nan"], device="cpu", threads=1) as p:
        with pytest.raises(NonFiniteScores) as caught:
            p.predict_proba(np.stack([GREY, BLACK]))
    named = caught.value.naming(["shirt.png", "shoe.png"])
    assert isinstance(named, ModelError) and "1 of 2 image(s) (image 'shirt.png')" in str(named)


# --- onnxruntime failing at run time ------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 3, 1025])
def test_a_run_time_failure_is_a_model_error_at_every_entry_point(models, capfd, size):
    with Predictor(models["odd"], device="cpu", threads=1) as p:
        assert p.predict_proba(np.stack([BLACK, WHITE])).shape == (2, 10)  # even batches score
        images = np.zeros((size, 28, 28), np.uint8)
        for name, call in entry_points(p, images).items():
            with pytest.raises(ModelError) as caught:
                call()
            message = str(caught.value)
            assert "failed while scoring" in message and "Reshape" in message and "\n" not in message, name
    no_onnxruntime_log(capfd)


def test_a_run_time_failure_in_a_helper_thread_is_a_model_error(models):
    batch = np.zeros((1025, 28, 28), np.uint8)  # split across two threads: one piece has an odd size
    with Predictor(models["odd"], device="cpu", threads=2, chunk=1024) as p:
        with pytest.raises(ModelError, match="failed while scoring"):
            p.predict_proba(batch)


# --- a graph that loops for ever ----------------------------------------------------------------


def test_a_graph_that_loops_for_ever_is_refused_at_open_and_its_run_stopped(models, monkeypatch, capfd):
    monkeypatch.setattr(predictor_module, "PROBE_TIMEOUT_S", 0.5)
    with pytest.raises(ModelError) as caught:
        Predictor(models["loop"], device="cpu", threads=1)
    message = str(caught.value)
    assert "still scoring a batch of two images after 0.5 s" in message and "\n" not in message
    # The run is not left spinning: the terminate flag ends the Loop at its next iteration.
    for thread in [t for t in threading.enumerate() if t.name == "model-probe"]:
        thread.join(30)
        assert not thread.is_alive()
    no_onnxruntime_log(capfd)


def test_a_model_that_scores_normally_opens_under_the_probe_thread(models, tmp_path):
    from testkit.tiny_models import reference_scores, write_tiny_model

    images = np.stack([BLACK, GREY, WHITE])
    with Predictor(write_tiny_model(tmp_path / "good.onnx"), device="cpu", threads=1) as p:
        np.testing.assert_allclose(p.predict_proba(images), reference_scores(images)[0], atol=1e-6)
    assert not [t for t in threading.enumerate() if t.name == "model-probe" and t.is_alive()]


# --- the same models through fashion-predict: one line and exit 2, never a nan or a traceback -------


def grey_png(path: Path, value: int = 128) -> Path:
    from PIL import Image

    Image.fromarray(np.full((28, 28), value, np.uint8)).save(path, format="PNG")
    return path


@pytest.mark.parametrize("to_stdout", [False, True])
def test_a_model_giving_nan_is_one_line_naming_the_image_and_writes_no_nan(tmp_path, capsys, to_stdout):
    model = nan_for_grey_model(tmp_path / "nan.onnx")
    folder = tmp_path / "images"
    folder.mkdir()
    grey_png(folder / "a-black.png", 0)
    grey_png(folder / "b-grey.png", 128)
    out = tmp_path / "out.csv"
    argv = [str(folder), "--model", str(model)] + ([] if to_stdout else ["-o", str(out)])
    assert main(argv) == 2
    captured = capsys.readouterr()
    line = one_error_line(captured.err)
    assert "NaN or infinite" in line and "'b-grey.png'" in line and "1 of 2" in line
    assert "nan" not in captured.out.lower() and not out.exists()


def test_an_onnxruntime_failure_while_scoring_is_one_line_without_its_log(tmp_path, capfd):
    model = odd_batch_failure_model(tmp_path / "odd.onnx")
    np.save(tmp_path / "three.npy", np.zeros((3, 28, 28), np.uint8))
    assert main([str(tmp_path / "three.npy"), "--model", str(model), "-o", str(tmp_path / "out.csv")]) == 2
    err = capfd.readouterr().err
    line = one_error_line(err)
    assert "failed while scoring" in line and "[E:onnxruntime" not in err and "\x1b[" not in err
    assert not (tmp_path / "out.csv").exists()


def test_a_model_that_loops_for_ever_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(predictor_module, "PROBE_TIMEOUT_S", 0.3)
    model = endless_loop_model(tmp_path / "loop.onnx")
    np.save(tmp_path / "one.npy", np.zeros((1, 28, 28), np.uint8))
    assert main([str(tmp_path / "one.npy"), "--model", str(model)]) == 2
    assert "still scoring a batch of two images" in one_error_line(capsys.readouterr().err)


# The probe announces itself, so that SIGTERM arrives while the endless graph is running.
ANNOUNCED_PROBE = """
import sys
from inference.adapters.predict_command import main
from inference.core.predictor import Predictor
probe = Predictor._bounded_run
def announced(self, images):
    print("probing", flush=True)
    return probe(self, images)
Predictor._bounded_run = announced
sys.exit(main(sys.argv[1:]))
"""


def test_sigterm_stops_fashion_predict_while_an_endless_model_is_probed(tmp_path):
    model = endless_loop_model(tmp_path / "loop.onnx")
    np.save(tmp_path / "one.npy", np.zeros((1, 28, 28), np.uint8))
    process = subprocess.Popen(
        [sys.executable, "-c", ANNOUNCED_PROBE, str(tmp_path / "one.npy"), "--model", str(model)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline() == "probing\n"
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 143, err  # not 2: the signal, not the probe's timeout, ended it
    assert err.strip().splitlines()[-1] == "fashion-predict: terminated (SIGTERM)"
