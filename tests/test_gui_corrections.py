"""The corrections sidecar on its own: round trip, refusal of foreign or damaged files, CSV."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from gui.corrections import FORMAT, CorrectionsError, CorrectionStore, default_path

DIGEST = "ab" * 32
LABELS = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], np.int64)


def test_round_trip_and_back_to_original(tmp_path):
    path = tmp_path / "c.json"
    store = CorrectionStore.load(path, "test", DIGEST, LABELS)
    assert not path.exists()  # nothing written until the first change
    store.set_labels([3, 5], [0, 0])
    again = CorrectionStore.load(path, "test", DIGEST, LABELS)
    assert {i: (c.original_label, c.new_label) for i, c in again.records.items()} == {3: (3, 0), 5: (5, 0)}
    assert again.labels().tolist() == [0, 1, 2, 0, 4, 0, 6, 7, 8, 9]
    again.set_labels([3], [3])  # its own label again: the correction goes
    assert sorted(CorrectionStore.load(path, "test", DIGEST, LABELS).records) == [5]
    assert [p.name for p in tmp_path.iterdir()] == ["c.json"]  # no temporary files left behind


@pytest.mark.parametrize(
    "content",
    [
        json.dumps({"format": FORMAT, "dataset_digest": "cd" * 32, "split": "test", "corrections": []}),
        json.dumps({"format": FORMAT, "dataset_digest": DIGEST, "split": "train", "corrections": []}),
        json.dumps({"format": FORMAT, "dataset_digest": DIGEST, "split": "test",
                    "corrections": [{"split": "test", "index": 3, "original_label": 7, "new_label": 0, "time": "t"}]}),
        '{"format": "fashion-labeler-corrections/1", "dataset_dig',
        "[1, 2, 3]",
    ],
    ids=["other-dataset", "other-split", "labels-do-not-match", "truncated", "not-ours"],
)
def test_unusable_file_is_refused_and_untouched(tmp_path, content):
    path = tmp_path / "c.json"
    path.write_text(content)
    before = path.read_bytes()
    with pytest.raises(CorrectionsError, match="untouched"):
        CorrectionStore.load(path, "test", DIGEST, LABELS)
    assert path.read_bytes() == before


def test_default_path_is_per_user_and_per_digest(monkeypatch, tmp_path):
    monkeypatch.delenv("FASHION_LABELER_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_path("test", DIGEST) == tmp_path / "fashion-labeler" / f"corrections-test-{DIGEST[:16]}.json"


def test_csv_export(tmp_path):
    store = CorrectionStore.load(tmp_path / "c.json", "test", DIGEST, LABELS)
    store.set_labels([6], [0])
    assert store.export_csv(tmp_path / "c.csv") == 1
    rows = list(csv.DictReader(open(tmp_path / "c.csv")))
    assert rows[0]["index"] == "6" and rows[0]["original_class"] == "Shirt" and rows[0]["new_class"] == "T-shirt/top"
