"""The tile model gives verdicts through the corrections package's one rule: a tile relabelled to
its own given label is saved as a confirmation. A synthetic split and no model: no training, no
data on disk, no window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gui.scoring import ScoredSplit, TileImages
from gui.tile_model import TileModel
from inference.core.classes import CLASS_NAMES
from inference.core.corrections import CONFIRMED, RELABEL, CorrectionsStore
from inference.core.fashion_mnist import Split

DIGEST = "ab" * 32
LABELS = np.arange(10_000, dtype=np.int64) % 10  # image i has given label i % 10


@pytest.fixture
def tiles(qapp, tmp_path):
    split = Split("test", np.zeros((10_000, 28, 28), np.uint8), LABELS, DIGEST, Path("."))
    scored = ScoredSplit(
        split=split,
        model_path=Path("none.onnx"),
        class_names=CLASS_NAMES,
        probabilities=np.full((10_000, 10), 0.1, np.float32),
        predicted=np.zeros(10_000, np.int64),
        images=TileImages(split.images),
        corrections_path=tmp_path / "c.sqlite",
        review=None,
        review_note="",
    )
    model = TileModel()
    model.set_scored(scored)
    yield model
    model.close_store()


def stored(path: Path) -> dict[int, tuple[str, int | None]]:
    with CorrectionsStore.open(path, create=False) as store:
        return {i: (v.verdict, v.new_label) for i, v in store.verdicts(DIGEST, "test").items()}


def test_relabelling_tiles_to_their_own_label_saves_a_confirmation(tiles, tmp_path):
    assert tiles.set_verdict([3, 13, 4], "relabel", 3)  # given labels 3, 3 and 4
    assert stored(tmp_path / "c.sqlite") == {3: ("confirmed", None), 13: ("confirmed", None), 4: ("relabel", 3)}
    assert tiles.verdict[[3, 13, 4]].tolist() == [CONFIRMED, CONFIRMED, RELABEL]


def test_one_label_per_tile_goes_through_the_rule_too(tiles, tmp_path):
    assert tiles.set_verdict([5, 6, 7], "relabel", [5, 0, 0])  # 5 keeps its label, 6 and 7 become 0
    assert stored(tmp_path / "c.sqlite") == {5: ("confirmed", None), 6: ("relabel", 0), 7: ("relabel", 0)}
    np.testing.assert_array_equal(tiles.labels[[5, 6, 7]], [5, 0, 0])
