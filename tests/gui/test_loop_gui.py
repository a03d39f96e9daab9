"""The cleaning loop keeps going in the labeler: a version without a report never shows an empty
grid (every image, under a banner with this repository's command), and after
`--corrections --cross-val` the new version's report puts the images nobody has reviewed first.

The first tests use a tiny ONNX model (no training); the last one runs the loop for real: two
one-epoch exports with a 2-fold linear auditor, verdicts given through the window between them."""

from __future__ import annotations

import hashlib
import io
import json
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pytest
from PySide6.QtCore import QSettings

from gui.main_window import MainWindow
from gui.review import load_review
from gui.scoring import ScoringRequest
from inference.core.label_issues import SIDECAR, read_report
from inference.core.model_repository import model_dir, onnx_path, version_dir
from inference.core.next_steps import report_command
from testkit.gui_helpers import SCORE_TIMEOUT_MS, open_window
from testkit.label_issue_files import write_report
from testkit.tiny_models import write_tiny_model
from training import train_command as cli

ONE_EPOCH = ["--variant", "concise", "--epochs", "1"]


def choose(combo, key) -> None:
    combo.setCurrentIndex(combo.findData(key))


@pytest.fixture
def bare_repo(tmp_path, test_split):
    """models/fashion_mnist/1/model.onnx without any report."""
    write_tiny_model(onnx_path(tmp_path / "models", 1), metadata={"dataset_sha256": test_split.digest})
    return tmp_path / "models"


def test_label_issues_without_a_report_shows_every_image_and_the_command(qtbot, bare_repo, fashion_dir, tmp_path):
    store = tmp_path / "c.sqlite"
    window = open_window(qtbot, bare_repo, fashion_dir, store)
    assert window.tiles.review is None and not window.report_banner.isVisible()  # not asked for: no banner
    choose(window.filter_bar.show_filter, "issues")
    assert window.view_model.rowCount() == 10_000  # never an empty grid
    assert window.filter_bar.show_filter.currentText() == "Label issues (no report)"
    assert window.report_banner.isVisible()
    assert window.report_banner.command == report_command(bare_repo)  # no verdicts yet: no --corrections
    assert window.report_banner.command in window.report_banner.text()

    window.grid.setCurrentIndex(window.view_model.index(0))
    assert window.give_verdict("exclude")  # the store now holds a verdict: retrain with it
    assert window.report_banner.command == report_command(bare_repo, store)
    assert f"--corrections {store}" in window.report_banner.text()

    choose(window.filter_bar.show_filter, "all")
    assert not window.report_banner.isVisible()
    choose(window.filter_bar.sort_choice, "quality")  # the report's order, asked for without a report
    assert window.report_banner.isVisible() and window.view_model.rowCount() == 10_000


def test_a_remembered_label_issues_filter_opens_on_every_image(qtbot, bare_repo, fashion_dir, tmp_path):
    """What a person saw: the last session reviewed label issues, the new version has no report."""
    settings = QSettings(str(tmp_path / "settings" / "labeler.ini"), QSettings.Format.IniFormat)
    settings.setValue("view/show", "issues")
    settings.setValue("view/sort", "quality")
    window = open_window(qtbot, bare_repo, fashion_dir, tmp_path / "c.sqlite", settings=settings)
    assert window.filter_bar.show_filter.currentData() == "issues"
    assert window.view_model.rowCount() == 10_000 and window.report_banner.isVisible()
    assert "Showing 10,000 of 10,000 images" == window.filter_bar.shown_label.full_text()


def test_a_sidecar_of_the_wrong_shape_is_no_report_and_the_status_line_says_why(
    qtbot, bare_repo, fashion_dir, tmp_path, test_split
):
    model = onnx_path(bare_repo, 1)
    model_sha256 = hashlib.sha256(model.read_bytes()).hexdigest()
    write_report(
        version_dir(bare_repo, 1),
        "test",
        test_split.labels,
        np.full((10_000, 10), 0.1, np.float32),
        dataset_sha256=test_split.digest,
        model_sha256=model_sha256,
        flag=5,
    )
    sidecar = version_dir(bare_repo, 1) / SIDECAR
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "splits": ["test"]}))
    window = open_window(qtbot, bare_repo, fashion_dir, tmp_path / "c.sqlite")
    assert window.tiles.review is None
    assert "is not a usable label-issue report" in window.status_line.review_label.full_text()
    assert "its field 'splits' should be an object, got list" in window.status_line.review_label.toolTip()
    choose(window.filter_bar.show_filter, "issues")
    assert window.view_model.rowCount() == 10_000 and window.report_banner.isVisible()


def test_a_report_beside_the_config_from_an_older_repository_is_still_read(bare_repo, test_split):
    model = onnx_path(bare_repo, 1)
    model_sha256 = hashlib.sha256(model.read_bytes()).hexdigest()
    uniform = np.full((10_000, 10), 0.1, np.float32)
    write_report(
        model_dir(bare_repo),
        "test",
        test_split.labels,
        uniform,
        dataset_sha256=test_split.digest,
        model_sha256=model_sha256,
        flag=5,
    )
    review, _ = load_review(model, model_sha256, test_split)
    assert review.folder == model_dir(bare_repo) and review.flagged_count == 5
    write_report(
        version_dir(bare_repo, 1),
        "test",
        test_split.labels,
        uniform,
        dataset_sha256=test_split.digest,
        model_sha256=model_sha256,
        flag=7,
    )
    review, _ = load_review(model, model_sha256, test_split)  # the version's own report comes first
    assert review.folder == version_dir(bare_repo, 1) and review.flagged_count == 7


# --- the loop, for real ---------------------------------------------------------------------------


def train_and_export(flags: list[str]) -> str:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        assert cli.main(flags) == 0, err.getvalue()
    return out.getvalue()


def open_train_split(qtbot, model, fashion_dir, store) -> MainWindow:
    window = MainWindow(ScoringRequest(str(model), str(fashion_dir), "train", str(store)))
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.scored, timeout=SCORE_TIMEOUT_MS):
        window.start()
    return window


def review_view(window) -> np.ndarray:
    choose(window.filter_bar.show_filter, "issues")
    choose(window.filter_bar.sort_choice, "quality")
    return window.view_model.source_rows()


@pytest.mark.slow
@pytest.mark.usefixtures("torch_one_thread")
def test_after_corrections_and_cross_val_the_reviewed_images_are_not_on_top(qtbot, fashion_dir, tmp_path):
    out, store = tmp_path / "models", tmp_path / "corrections.sqlite"
    common = [*ONE_EPOCH, "--data-dir", str(fashion_dir), "--out", str(out)]
    train_and_export([*common, "--cross-val", "2", "--auditor", "linear"])

    # Version 1's report: confirm the 3 most suspect labels, relabel the next 2 to the suggestion.
    window = open_train_split(qtbot, out, fashion_dir, store)
    rows = review_view(window)
    confirmed, relabelled = rows[:3], rows[3:5]
    suggested = window.tiles.review.suggested[relabelled]
    assert window.tiles.set_verdict(confirmed, "confirmed")
    assert window.tiles.set_verdict(relabelled, "relabel", suggested)
    flagged = window.tiles.review.flagged_count
    assert f"{flagged - 5:,} of {flagged:,} flagged left to review" in window.status_line.review_label.text()
    window.view_model.refresh()  # a verdict moves its tile at the next refresh, not under the cursor
    shown = window.view_model.source_rows()
    assert not window.tiles.verdict[shown[: flagged - 5]].any()
    assert set(shown[flagged - 5 :]) == set(np.r_[confirmed, relabelled])
    window.close()

    log = train_and_export([*common, "--corrections", str(store), "--cross-val", "2", "--auditor", "linear"])
    assert f"fashion-labeler --model {onnx_path(out, 2)} --split train --corrections {store}" in log

    # Version 2 has its own report, ranked against the corrected labels.
    window = open_train_split(qtbot, out, fashion_dir, store)
    assert window.tiles.review is not None and window.tiles.review.folder == version_dir(out, 2)
    model_sha256 = hashlib.sha256(onnx_path(out, 2).read_bytes()).hexdigest()
    report = read_report(version_dir(out, 2), "train", window.tiles.scored.split.digest, model_sha256, 60_000)
    given = dict(zip(report.index.tolist(), report.given_label.tolist(), strict=False))
    assert [given[int(i)] for i in relabelled] == suggested.tolist()  # judged by the new label
    rows = review_view(window)
    flagged = window.tiles.review.flagged
    still_flagged = [int(i) for i in np.r_[confirmed, relabelled] if flagged[i]]
    unreviewed = int(np.count_nonzero(flagged & (window.tiles.verdict == 0)))
    assert not window.tiles.verdict[rows[:unreviewed]].any()  # what is left to review comes first
    assert sorted(rows[unreviewed:].tolist()) == sorted(still_flagged)
    assert f"{unreviewed:,} of {int(flagged.sum()):,} flagged left to review" in window.status_line.review_label.text()
    # Whose probabilities are which: the deployed version's bars, the auditor's suggestion.
    window.grid.setCurrentIndex(window.view_model.index(0))
    assert window.detail.bars_title.text().startswith("Deployed model's probabilities (version 2")
    assert window.detail.source.text() == "out-of-fold, 2 folds, linear auditor"
    # Its place among all flagged images: behind the reviewed images that rank above it.
    place = 1 + int(np.count_nonzero(window.tiles.review.rank[still_flagged] < window.tiles.review.rank[rows[0]]))
    assert window.detail.quality.text() == f"#{place} of {int(flagged.sum()):,} flagged"
    window.close()

    # Version 1 can still be reviewed, with its own report.
    window = open_train_split(qtbot, onnx_path(out, 1), fashion_dir, store)
    assert window.tiles.review is not None and window.tiles.review.folder == version_dir(out, 1)
    window.close()
