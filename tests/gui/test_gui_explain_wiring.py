"""The explanation views inside the labeler: the detail panel's why view follows the selection,
and the View menu opens the class templates and the reliability diagram."""

from __future__ import annotations

import numpy as np
import pytest

from gui.main_window import MainWindow
from gui.scoring import ScoringRequest
from gui.tile_roles import DATASET_INDEX_ROLE, PREDICTED_LABEL_ROLE, TRUE_LABEL_ROLE
from inference.core.attributions import linear_weights
from inference.core.predictor import Predictor


@pytest.fixture
def window(qtbot, tiny_model_path, fashion_dir, tmp_path, monkeypatch):
    w = MainWindow(ScoringRequest(str(tiny_model_path), str(fashion_dir), "test", str(tmp_path / "c.sqlite")))
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.scored, timeout=60_000):
        w.start()
    return w


def test_the_why_view_explains_the_selected_image(window, tiny_model_path, test_split):
    index = window.view_model.index(5, 0)
    window.grid.setCurrentIndex(index)
    why = window.detail.why
    i = index.data(DATASET_INDEX_ROLE)
    predicted, true = index.data(PREDICTED_LABEL_ROLE), index.data(TRUE_LABEL_ROLE)
    a, b = why.compared
    assert a == predicted and (b == true if predicted != true else b != predicted)
    weights = linear_weights(Predictor(tiny_model_path, device="cpu", threads=1).logits, "tiny")
    expected = weights.contributions(test_split.images[i][None], a, b)[0]
    np.testing.assert_array_equal(why.contributions, expected)


def test_view_menu_opens_templates_and_reliability(window):
    templates = window.menus.show_templates()
    assert len(templates.layout().itemAt(0).widget().captions) == 10
    reliability = window.menus.show_reliability()
    assert "ECE" in reliability.layout().itemAt(0).widget().title
    assert "ECE" in window.status_line.accuracy_label.full_text()
    window.menus.why_action.setChecked(False)
    assert not window.detail.why.overlay_shown
