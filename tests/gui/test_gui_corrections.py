"""The labeler's side of the corrections store (gui/split_verdicts.py), without Qt: verdicts as
arrays, refused stores left untouched, and two openers of one file keeping each other's verdicts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from gui.split_verdicts import SplitVerdicts, open_split_verdicts
from inference.core.corrections import CONFIRMED, EXCLUDE, NO_VERDICT, RELABEL
from inference.core.fashion_mnist import Split

DIGEST = "ab" * 32
LABELS = np.arange(10_000, dtype=np.int64) % 10  # image i has label i % 10


@pytest.fixture
def split() -> Split:
    return Split("test", np.zeros((0, 28, 28), np.uint8), LABELS, DIGEST, Path("."))


def test_verdicts_read_back_as_arrays(tmp_path, split):
    store = SplitVerdicts.open(tmp_path / "c.sqlite", split)
    assert store.set(np.array([3, 5]), "relabel", 0) == 2
    assert store.set(np.array([7]), "confirmed") == 1
    assert store.set(np.array([8, 9]), "exclude") == 2
    assert store.clear(np.array([9, 4])) == 1  # 4 had none
    store.close()
    codes, new_labels = SplitVerdicts.open(tmp_path / "c.sqlite", split).read()
    assert {int(i): int(codes[i]) for i in np.flatnonzero(codes)} == {3: RELABEL, 5: RELABEL, 7: CONFIRMED, 8: EXCLUDE}
    assert codes[9] == NO_VERDICT and new_labels[3] == new_labels[5] == 0 and new_labels[7] == -1
    assert codes.shape == new_labels.shape == (10_000,)


@pytest.mark.parametrize(
    "content",
    [b'{"format": "fashion-labeler-corrections/1"}', b"SQLite format 3\x00" + bytes(100)],
    ids=["json-file", "damaged-sqlite"],
)
def test_unusable_store_is_refused_and_untouched(tmp_path, split, content):
    path = tmp_path / "c.sqlite"
    path.write_bytes(content)
    store, refusal = open_split_verdicts(path, split)
    assert store is None and "untouched" in refusal and "\n" not in refusal
    assert path.read_bytes() == content


def test_another_programs_database_is_refused(tmp_path, split):
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x)")
    before = path.read_bytes()
    store, refusal = open_split_verdicts(path, split)
    assert store is None and "another program" in refusal
    assert path.read_bytes() == before


def test_a_path_the_system_refuses_is_a_refusal_not_a_crash(tmp_path, split):
    store, refusal = open_split_verdicts(tmp_path / ("x" * 300) / "c.sqlite", split)
    assert store is None and refusal.startswith("corrections ") and "too long" in refusal


def test_two_openers_of_one_file_keep_each_others_verdicts(tmp_path, split):
    first = SplitVerdicts.open(tmp_path / "c.sqlite", split)
    second = SplitVerdicts.open(tmp_path / "c.sqlite", split)
    first.set(np.array([1]), "relabel", 5)
    second.set(np.array([2]), "exclude")  # second never read row 1: it must not write it back
    first.set(np.array([3]), "confirmed")
    for store in (first, second):
        codes, new_labels = store.read()
        assert {int(i): int(codes[i]) for i in np.flatnonzero(codes)} == {1: RELABEL, 2: EXCLUDE, 3: CONFIRMED}
        assert new_labels[1] == 5


def test_exports_for_interchange(tmp_path, split):
    store = SplitVerdicts.open(tmp_path / "c.sqlite", split)
    store.set(np.array([6]), "relabel", 0)
    store.set(np.array([7]), "exclude")
    assert store.export_csv(tmp_path / "c.csv") == 2
    lines = (tmp_path / "c.csv").read_text().splitlines()
    assert lines[1].startswith("test,6,relabel,6,Shirt,0,T-shirt/top,")
    assert lines[2].startswith("test,7,exclude,7,Sneaker,,,")
    assert store.export_json(tmp_path / "c.json") == 2
    other = SplitVerdicts.open(tmp_path / "other.sqlite", split)
    assert other.import_json(tmp_path / "c.json") == 2
    assert np.array_equal(other.read()[0], store.read()[0])
