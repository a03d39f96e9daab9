"""The labeler on small screens: a first launch fits the screen's available area, the status
line's facts stay whole at 1280 px, the why map is in sight without scrolling at 1280 x 800, and
at 1024 x 700 the probability bars shrink before their numbers are cut."""

from __future__ import annotations

import re

import pytest
from PySide6.QtCore import QPoint, QRect, QSettings

from gui.main_window import MainWindow
from gui.scoring import ScoringRequest
from gui.screen_fit import first_geometry
from testkit.gui_helpers import open_window
from testkit.label_issue_files import make_repo

LAPTOP = QRect(0, 0, 1280, 800)  # the reviewer's screen


@pytest.fixture(scope="module")
def repo(tmp_path_factory, test_split):
    return make_repo(tmp_path_factory.mktemp("fit-repo"), test_split)


def plain(text: str) -> str:
    return re.sub(r"<[^>]+>", "", text)


@pytest.mark.parametrize(
    "screen, size",
    [(LAPTOP, (1152, 720)), (QRect(0, 0, 1920, 1080), (1280, 800)), (QRect(100, 30, 1024, 700), (921, 630))],
)
def test_a_first_launch_fits_the_available_area(screen, size):
    got = first_geometry(screen)
    assert (got.width(), got.height()) == size
    assert screen.contains(got) and got.center() == screen.center()


def test_the_window_opens_within_a_1280_by_800_screen_until_it_has_a_remembered_size(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    first = MainWindow(ScoringRequest(), settings=settings, available=LAPTOP)
    qtbot.addWidget(first)
    assert LAPTOP.contains(first.geometry()) and first.width() <= 1152 and first.height() <= 720
    first.resize(790, 590)  # within the offscreen screen (800 x 600): restoreGeometry keeps windows on screen
    first.close()
    again = MainWindow(ScoringRequest(), settings=settings, available=LAPTOP)
    qtbot.addWidget(again)
    assert (again.width(), again.height()) == (790, 590)  # remembered, not refitted


def test_status_facts_are_whole_at_1280_px(qtbot, repo, fashion_dir, tmp_path):
    window = open_window(qtbot, repo[0], fashion_dir, tmp_path / "c.sqlite")
    window.resize(1280, 800)
    flagged = int(window.tiles.review.flagged.nonzero()[0][0])
    window.tiles.set_verdict([flagged], "confirmed")  # a save time in the store's fact, one flagged reviewed
    qtbot.waitUntil(lambda: window.width() == 1280)
    line = window.status_line
    for label in (line.accuracy_label, line.review_label, line.corrections_label):
        assert label.isVisible() and label.fits(), (label.text(), label.width())
        assert not plain(label.text()).endswith("…")
    shown = plain(line.accuracy_label.text())
    assert f"{window.tiles.accuracy():.2%}" in shown and "corrected" in shown and "ECE" in shown
    assert "39 of 40 flagged left to review" in plain(line.review_label.text())
    assert "c.sqlite" in line.corrections_label.text()
    # Narrower, the shorter words come, never a cut number; the whole sentence stays in the tooltip.
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.width() == 1024)
    assert line.accuracy_label.fits() and "ECE" in line.accuracy_label.text()
    assert "against corrected labels" in line.accuracy_label.toolTip()


def in_viewport(area, widget) -> bool:
    top_left = widget.mapTo(area.viewport(), QPoint(0, 0))
    return area.viewport().rect().contains(QRect(top_left, widget.size()))


def test_the_why_map_is_in_sight_at_1280_by_800_and_numbers_whole_at_1024_by_700(qtbot, repo, fashion_dir, tmp_path):
    window = open_window(qtbot, repo[0], fashion_dir, tmp_path / "c.sqlite")
    window.resize(1280, 800)
    qtbot.waitUntil(lambda: window.height() == 800)
    window.grid.setCurrentIndex(window.view_model.index(0))
    area = window.docks["detail"].widget()
    assert area.verticalScrollBar().value() == 0
    assert in_viewport(area, window.detail.why.canvas)
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.width() == 1024)
    qtbot.wait(50)
    assert not area.horizontalScrollBar().isVisible()
    assert window.detail.bars.numbers_fit()
    assert window.detail.bars.width() <= area.viewport().width()
