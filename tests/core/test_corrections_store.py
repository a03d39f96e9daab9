"""The SQLite corrections store: verdicts round trip, bad values and foreign files are refused
untouched, the history is append-only, and concurrent or killed writers lose nothing committed."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from inference.core.corrections import EXPORT_FORMAT, VERDICTS, CorrectionsStore, Verdict, json_file, schema, values
from inference.core.errors import CorrectionsError, InferenceError

ROOT = Path(__file__).resolve().parents[2]
DIGEST = "ab" * 32
OTHER_DIGEST = "cd" * 32
TEST_LABELS = (np.arange(10_000) % 10).astype(np.int64)  # index i has given label i % 10
TRAIN_LABELS = (np.arange(60_000) % 10).astype(np.int64)


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "corrections.sqlite"


@pytest.fixture
def store(db_path):
    with CorrectionsStore.open(db_path, session="window-1") as s:
        yield s


def relabel(store, indices, label, split="test", digest=DIGEST):
    labels = TEST_LABELS if split == "test" else TRAIN_LABELS
    return store.set_verdict(digest, split, indices, "relabel", label=label, given_labels=labels)


# --- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "verdict, label, expected_label",
    [("relabel", 0, 0), ("confirmed", None, None), ("exclude", None, None)],
)
def test_each_verdict_round_trips_through_the_file(db_path, verdict, label, expected_label):
    with CorrectionsStore.open(db_path) as s:
        assert s.set_verdict(DIGEST, "test", [13, 27], verdict, label=label, given_labels=TEST_LABELS) == 2
    with CorrectionsStore.open(db_path) as again:
        got = again.verdicts(DIGEST, "test")
        assert sorted(got) == [13, 27]
        assert (got[13].verdict, got[13].new_label, got[13].given_label) == (verdict, expected_label, 3)
        assert again.counts(DIGEST, "test") == {v: (2 if v == verdict else 0) for v in VERDICTS}
        assert again.verdicts(DIGEST, "train") == {} and again.verdicts(OTHER_DIGEST, "test") == {}


def test_changing_and_clearing_a_verdict_is_recorded_in_the_history(store):
    relabel(store, np.array([5]), 3)
    assert relabel(store, 5, 3) == 0  # the same verdict again changes nothing
    store.set_verdict(DIGEST, "test", 5, "exclude", given_labels=TEST_LABELS)
    assert store.clear(DIGEST, "test", [5, 6]) == 1  # 6 had no verdict
    assert store.verdicts(DIGEST, "test") == {}
    steps = [(h.old_verdict, h.old_label, h.new_verdict, h.new_label) for h in store.history(DIGEST, "test", 5)]
    assert steps == [(None, None, "relabel", 3), ("relabel", 3, "exclude", None), ("exclude", None, None, None)]
    assert {(h.pid, h.session, h.given_label) for h in store.history(DIGEST, "test")} == {(os.getpid(), "window-1", 5)}


def test_two_windows_on_one_file_keep_each_others_verdicts(db_path):
    with CorrectionsStore.open(db_path, session="a") as a, CorrectionsStore.open(db_path, session="b") as b:
        relabel(a, 1, 0)
        relabel(b, 2, 0)
        assert sorted(a.verdicts(DIGEST, "test")) == sorted(b.verdicts(DIGEST, "test")) == [1, 2]


# --- refused values --------------------------------------------------------------------------

BAD_CALLS = {
    "label-10": dict(verdict="relabel", label=10),
    "label-minus-1": dict(verdict="relabel", label=-1),
    "label-float": dict(verdict="relabel", label=3.5),
    "label-bool": dict(verdict="relabel", label=True),
    "label-string": dict(verdict="relabel", label="3"),
    "relabel-without-label": dict(verdict="relabel", label=None),
    "label-with-confirmed": dict(verdict="confirmed", label=4),
    "label-with-exclude": dict(verdict="exclude", label=np.int64(4)),
    "unknown-verdict": dict(verdict="maybe"),
    "split-val": dict(split="val"),
    "index-60000-in-test": dict(indices=[3, 60_000]),
    "index-60000-in-train": dict(split="train", indices=60_000),
    "index-minus-1": dict(indices=-1),
    "index-bool": dict(indices=[True]),
    "index-float": dict(indices=[2.0]),
    "index-string": dict(indices="7"),
    "index-huge": dict(indices=[2**70]),
    "index-float-array": dict(indices=np.array([1.0, 2.0])),
    "index-2d-array": dict(indices=np.array([[1, 2]])),
    "digest-x": dict(digest="x"),
    "digest-uppercase": dict(digest="AB" * 32),
    "given-labels-of-other-split": dict(given_labels=TRAIN_LABELS),
    "given-labels-out-of-range": dict(given_labels=TEST_LABELS + 1),
    "given-labels-list": dict(given_labels=TEST_LABELS.tolist()),
}


@pytest.mark.parametrize("bad", BAD_CALLS.values(), ids=BAD_CALLS.keys())
def test_bad_values_are_refused_and_nothing_is_written(store, bad):
    call = dict(digest=DIGEST, split="test", indices=[4], verdict="confirmed", label=None, given_labels=TEST_LABELS)
    call.update(bad)
    with pytest.raises(CorrectionsError) as caught:
        store.set_verdict(
            call["digest"],
            call["split"],
            call["indices"],
            call["verdict"],
            label=call["label"],
            given_labels=call["given_labels"],
        )
    assert isinstance(caught.value, InferenceError) and "\n" not in str(caught.value)
    assert store._db.execute("SELECT count(*) FROM verdicts").fetchone()[0] == 0
    assert store._db.execute("SELECT count(*) FROM history").fetchone()[0] == 0


def test_a_relabel_to_the_given_label_is_recorded_as_a_confirmation(store):
    assert relabel(store, [0, 1, 11], 1) == 3  # given labels 0, 1 and 1
    got = {i: (v.verdict, v.new_label) for i, v in store.verdicts(DIGEST, "test").items()}
    assert got == {0: ("relabel", 1), 1: ("confirmed", None), 11: ("confirmed", None)}
    assert [(h.new_verdict, h.new_label) for h in store.history(DIGEST, "test", 11)] == [("confirmed", None)]
    assert relabel(store, 11, 1) == 0  # the same confirmation again changes nothing


def test_check_constraints_refuse_what_slips_past_the_api(store):
    insert = (
        "INSERT INTO verdicts (dataset_digest, split, idx, verdict, new_label, given_label, time)"
        " VALUES (?, ?, ?, ?, ?, ?, 't')"
    )
    for row in [
        (DIGEST, "test", 1, "relabel", 12, 1),
        (DIGEST, "test", 1, "relabel", 1, 1),
        (DIGEST, "test", 1, "confirmed", 3, 1),
        (DIGEST, "test", 10_000, "exclude", None, 0),
        (DIGEST, "val", 1, "exclude", None, 1),
        (DIGEST, "test", "1.5", "exclude", None, 1),
        (DIGEST, "test", 1.5, "exclude", None, 1),
        ("x" * 64, "test", 1, "exclude", None, 1),
    ]:
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            store._db.execute(insert, row)


@pytest.mark.parametrize("statement", ["UPDATE history SET new_label = 9", "DELETE FROM history"])
def test_history_is_append_only(db_path, statement):
    with CorrectionsStore.open(db_path) as s:
        relabel(s, [1, 2], 0)
    raw = sqlite3.connect(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute(statement)
        assert raw.execute("SELECT count(*) FROM history").fetchone()[0] == 2
    finally:
        raw.close()


# --- several processes -----------------------------------------------------------------------

# A writer in its own process: waits for the go file, then one transaction per batch of indices,
# printing each batch's first index after its commit returned.
WRITER = """
import os, sys, time
from pathlib import Path
import numpy as np
from inference.core.corrections import CorrectionsStore
db, go, start, count, batch = sys.argv[1], Path(sys.argv[2]), *map(int, sys.argv[3:6])
labels = (np.arange(10_000) % 10).astype(np.int64)
with CorrectionsStore.open(db, session=f"writer-{start}") as store:
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.005)
    for first in range(start, start + count, batch):
        store.set_verdict("ab" * 32, "test", range(first, first + batch), "exclude", given_labels=labels)
        print(first, flush=True)
"""


def start_writer(db_path, go, start, count, batch=1):
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db_path), str(go), str(start), str(count), str(batch)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline() == "ready\n"
    return proc


def test_two_processes_writing_at_once_keep_all_writes(db_path, tmp_path):
    CorrectionsStore.open(db_path).close()
    go = tmp_path / "go"
    writers = [start_writer(db_path, go, start, 300) for start in (0, 5000)]
    go.touch()
    for proc in writers:
        proc.communicate(timeout=120)
        assert proc.returncode == 0
    with CorrectionsStore.open(db_path) as s:
        assert sorted(s.verdicts(DIGEST, "test")) == list(range(300)) + list(range(5000, 5300))
        pids = [h.pid for h in s.history(DIGEST, "test")]
    # Both were running when the go file appeared; SQLite's busy handler need not alternate them,
    # so only the count of changes and of writers is asserted, not their order.
    assert len(pids) == 600 and len(set(pids)) == 2


def test_a_killed_writer_loses_nothing_it_committed(db_path, tmp_path):
    CorrectionsStore.open(db_path).close()
    go = tmp_path / "go"
    proc = start_writer(db_path, go, 0, 5000)
    go.touch()
    committed = [int(proc.stdout.readline()) for _ in range(40)]
    os.kill(proc.pid, signal.SIGKILL)
    rest, _ = proc.communicate(timeout=10)
    committed += [int(line) for line in rest.split()]
    assert proc.returncode == -signal.SIGKILL and len(committed) < 5000
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        raw.close()
    with CorrectionsStore.open(db_path) as s:
        stored = set(s.verdicts(DIGEST, "test"))
    assert set(committed) <= stored
    assert stored <= set(range(max(committed) + 2))  # at most the one transaction under way besides


def test_a_reader_sees_only_whole_transactions(db_path, tmp_path):
    CorrectionsStore.open(db_path).close()
    go = tmp_path / "go"
    proc = start_writer(db_path, go, 0, 1000, batch=10)
    seen = set()
    with CorrectionsStore.open(db_path) as reader:
        go.touch()
        while proc.poll() is None:
            indices = sorted(reader.verdicts(DIGEST, "test"))
            assert indices == list(range(len(indices))) and len(indices) % 10 == 0
            seen.add(len(indices))
        proc.communicate(timeout=120)
        assert len(reader.verdicts(DIGEST, "test")) == 1000
    assert proc.returncode == 0
    assert any(0 < n < 1000 for n in seen)  # it did read while the writer was half-way


# --- files that are not ours -----------------------------------------------------------------


def make_foreign_sqlite(path):
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE songs (title TEXT)")
    db.commit()
    db.close()


def make_future_store(path):
    CorrectionsStore.open(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    db.close()


FOREIGN_FILES = {
    "random-bytes": lambda p: p.write_bytes(np.random.default_rng(0).bytes(4096)),
    "json-export": lambda p: p.write_text(json.dumps(export_doc([]))),
    "sqlite-header-then-garbage": lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000),
    "other-programs-sqlite": make_foreign_sqlite,
    "newer-schema": make_future_store,
}


@pytest.mark.parametrize("make", FOREIGN_FILES.values(), ids=FOREIGN_FILES.keys())
def test_a_file_that_is_not_ours_is_refused_and_left_byte_identical(tmp_path, make):
    path = tmp_path / "corrections.sqlite"
    make(path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(CorrectionsError, match="untouched") as caught:
        CorrectionsStore.open(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_folder_or_a_missing_file_without_create_is_refused(tmp_path):
    with pytest.raises(CorrectionsError, match="folder"):
        CorrectionsStore.open(tmp_path)
    with pytest.raises(CorrectionsError, match="does not exist"):
        CorrectionsStore.open(tmp_path / "none.sqlite", create=False)
    assert list(tmp_path.iterdir()) == []


def test_the_default_file_is_per_user(monkeypatch, tmp_path):
    monkeypatch.delenv("FASHION_LABELER_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    with CorrectionsStore.open() as s:
        assert s.path == tmp_path / "xdg" / "fashion-labeler" / "corrections.sqlite"
    monkeypatch.setenv("FASHION_LABELER_DIR", str(tmp_path / "mine"))
    with CorrectionsStore.open() as s:
        assert s.path == tmp_path / "mine" / "corrections.sqlite" and s.path.is_file()


# --- what training reads -----------------------------------------------------------------------


def test_apply_relabels_and_masks_out_excluded_images(store):
    relabel(store, [1, 2], 7)
    store.set_verdict(DIGEST, "test", [3], "confirmed", given_labels=TEST_LABELS)
    store.set_verdict(DIGEST, "test", [4, 9999], "exclude", given_labels=TEST_LABELS)
    applied = store.apply(DIGEST, "test", TEST_LABELS)
    expected = TEST_LABELS.copy()
    expected[[1, 2]] = 7
    np.testing.assert_array_equal(applied.labels, expected)
    np.testing.assert_array_equal(np.flatnonzero(~applied.keep), [4, 9999])
    assert applied.labels.dtype == np.int64 and applied.keep.dtype == bool
    assert applied.counts == {"relabel": 2, "confirmed": 1, "exclude": 2}
    assert applied.digest == store.digest_of(DIGEST, "test")
    np.testing.assert_array_equal(TEST_LABELS, np.arange(10_000) % 10)  # the caller's array is not changed


def test_apply_refuses_labels_the_verdicts_were_not_made_on(store):
    relabel(store, 1, 7)
    shifted = (TEST_LABELS + 1) % 10
    with pytest.raises(CorrectionsError, match="index 1 was made on given label 1"):
        store.apply(DIGEST, "test", shifted)


def test_digest_of_follows_the_verdicts_not_their_times(store):
    empty = store.digest_of(DIGEST, "test")
    relabel(store, 1, 7)
    one = store.digest_of(DIGEST, "test")
    relabel(store, 1, 8)
    assert len({empty, one, store.digest_of(DIGEST, "test")}) == 3
    relabel(store, 1, 7)  # the same content again, at a later time
    assert store.digest_of(DIGEST, "test") == one
    assert store.digest_of(DIGEST, "train") != one


# --- interchange -------------------------------------------------------------------------------


def export_entry(index, given, verdict, new, time="2025-01-02T03:04:05+00:00"):
    return {"index": index, "verdict": verdict, "given_label": given, "new_label": new, "time": time}


def export_doc(entries, split="test"):
    """An export_json file's content, its corrections_digest made over the entries as written
    (a later entry for the same index wins, as on import)."""
    in_file = {}
    for e in sorted(entries, key=lambda e: e["index"]):
        in_file[e["index"]] = Verdict(e["index"], e["verdict"], e["new_label"], e["given_label"], e["time"])
    return {
        "format": EXPORT_FORMAT,
        "dataset_digest": DIGEST,
        "split": split,
        "corrections_digest": values.verdicts_digest(DIGEST, split, in_file),
        "verdicts": entries,
    }


def test_a_json_export_is_imported_once_and_left_untouched(store, tmp_path):
    path = tmp_path / "corrections-test.json"
    entries = [
        export_entry(3, 3, "relabel", 0),
        export_entry(14, 4, "relabel", 6),
        export_entry(15, 5, "exclude", None),
    ]
    path.write_text(json.dumps(export_doc(entries), indent=1))
    before = path.read_bytes()
    relabel(store, 14, 2)  # already decided in the store: the store's verdict wins
    assert store.import_json(path) == 2
    assert store.import_json(path) == 0
    got = store.verdicts(DIGEST, "test")
    assert (got[3].verdict, got[3].new_label, got[3].given_label, got[3].time) == (
        "relabel",
        0,
        3,
        "2025-01-02T03:04:05+00:00",
    )
    assert got[14].new_label == 2 and got[15].verdict == "exclude"
    assert [h.session for h in store.history(DIGEST, "test", 3)] == [f"import:{hashlib.sha256(before).hexdigest()}"]
    assert path.read_bytes() == before


def test_a_json_relabel_to_the_given_label_is_imported_as_a_confirmation(store, tmp_path):
    path = tmp_path / "hand-made.json"
    path.write_text(json.dumps(export_doc([export_entry(3, 3, "relabel", 3), export_entry(4, 4, "relabel", 0)])))
    assert store.import_json(path) == 2
    got = {i: (v.verdict, v.new_label) for i, v in store.verdicts(DIGEST, "test").items()}
    assert got == {3: ("confirmed", None), 4: ("relabel", 0)}


def damaged(entries, old, new):
    """An export of `entries` with `old` replaced by `new` in its text, after the digest was made."""
    text = json.dumps(export_doc(entries))
    assert old in text
    return text.replace(old, new, 1).encode()


ONE = [export_entry(3, 3, "relabel", 0)]
DAMAGED_JSON = {  # the file, and why it is refused
    "not-json": (b"\x00\xffnot json at all", "utf-8"),
    "truncated": (json.dumps(export_doc(ONE)).encode()[:-10], "damaged"),
    "overflow-1e999": (damaged(ONE, '"index": 3', '"index": 1e999'), "not an integer"),
    "nan": (damaged(ONE, '"new_label": 0', '"new_label": NaN'), "NaN is not a JSON number"),
    "float-index": (damaged(ONE, '"index": 3', '"index": 3.0'), "not an integer"),
    "bool-label": (json.dumps(export_doc([export_entry(3, 3, "relabel", True)])).encode(), "label True"),
    "long-integer": (damaged(ONE, '"index": 3', '"index": ' + "9" * 5000), "integer of 5000 digits"),
    "deep-nesting": (b'{"format": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", "nested deeper"),
    "label-12": (json.dumps(export_doc([export_entry(3, 3, "relabel", 12)])).encode(), "label 12"),
    "label-with-exclude": (json.dumps(export_doc([export_entry(3, 3, "exclude", 1)])).encode(), "label 1 with"),
    "index-outside-split": (
        json.dumps(export_doc([export_entry(10_000, 0, "relabel", 1)])).encode(),
        "outside the test split",
    ),
    "index-twice": (
        json.dumps(export_doc([export_entry(3, 3, "relabel", 0), export_entry(3, 3, "relabel", 1)])).encode(),
        "an index appears twice",
    ),
    "key-twice": (damaged(ONE, '"split": "test"', '"split": "test", "split": "train"'), "duplicate key"),
    "bad-digest": (json.dumps(export_doc([]) | {"dataset_digest": "x"}).encode(), "dataset digest 'x'"),
    "other-format": (json.dumps({"format": "something/1", "verdicts": []}).encode(), "not a fashion-labeler"),
    "wrong-corrections-digest": (
        json.dumps(export_doc(ONE) | {"corrections_digest": "0" * 64}).encode(),
        "do not match its corrections_digest",
    ),
    "bad-time": (
        json.dumps(export_doc([export_entry(3, 3, "relabel", 0, time="yesterday")])).encode(),
        "time 'yesterday'",
    ),
}


@pytest.mark.parametrize("content, why", DAMAGED_JSON.values(), ids=DAMAGED_JSON.keys())
def test_a_damaged_json_file_is_refused_imports_nothing_and_stays_untouched(store, tmp_path, content, why):
    path = tmp_path / "corrections-test.json"
    path.write_bytes(content)
    with pytest.raises(CorrectionsError, match="untouched") as caught:
        store.import_json(path)
    assert why in str(caught.value) and "\n" not in str(caught.value)
    assert path.read_bytes() == content
    assert store._db.execute("SELECT count(*) FROM verdicts").fetchone()[0] == 0
    assert store._db.execute("SELECT count(*) FROM meta WHERE key LIKE 'imported:%'").fetchone()[0] == 0


def test_a_json_file_over_the_size_limit_is_refused(store, tmp_path, monkeypatch):
    monkeypatch.setattr(json_file, "MAX_JSON_BYTES", 100)
    path = tmp_path / "big.json"
    path.write_text(json.dumps(export_doc([export_entry(i, i % 10, "relabel", (i + 1) % 10) for i in range(10)])))
    with pytest.raises(CorrectionsError, match="over"):
        store.import_json(path)
    assert store.verdicts(DIGEST, "test") == {}


def test_export_json_imports_into_another_store_with_the_same_digest(store, tmp_path):
    relabel(store, [5, 8], 1)
    store.set_verdict(DIGEST, "test", 9, "confirmed", given_labels=TEST_LABELS)
    store.set_verdict(DIGEST, "test", 10, "exclude", given_labels=TEST_LABELS)
    assert store.export_json(tmp_path / "out.json", DIGEST, "test") == 4
    with CorrectionsStore.open(tmp_path / "other.sqlite") as other:
        assert other.import_json(tmp_path / "out.json") == 4
        assert other.verdicts(DIGEST, "test") == store.verdicts(DIGEST, "test")
        assert other.digest_of(DIGEST, "test") == store.digest_of(DIGEST, "test")


def test_export_csv_names_the_classes(store, tmp_path):
    relabel(store, 6, 0)
    store.set_verdict(DIGEST, "test", 7, "exclude", given_labels=TEST_LABELS)
    assert store.export_csv(tmp_path / "out.csv", DIGEST, "test") == 2
    with open(tmp_path / "out.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["index"], r["verdict"], r["given_class"], r["new_class"]) for r in rows] == [
        ("6", "relabel", "Shirt", "T-shirt/top"),
        ("7", "exclude", "Sneaker", ""),
    ]
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".csv") == ["out.csv"]  # no temporary left


def test_export_csv_quotes_and_neutralises_text_another_program_put_in_the_store(db_path, tmp_path):
    """A time is any text to the schema: a formula or a carriage return in it must stay one inert cell."""
    CorrectionsStore.open(db_path).close()
    raw = sqlite3.connect(db_path, isolation_level=None)
    raw.executemany(
        "INSERT INTO verdicts VALUES (?, 'test', ?, 'exclude', NULL, ?, ?)",
        [(DIGEST, 1, 1, "=HYPERLINK(\"http://x\")"), (DIGEST, 2, 2, "two\rlines"), (DIGEST, 3, 3, "@x")],
    )
    raw.close()
    with CorrectionsStore.open(db_path) as store:
        assert store.export_csv(tmp_path / "out.csv", DIGEST, "test") == 3
    with open(tmp_path / "out.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["time"] for r in rows] == ["'=HYPERLINK(\"http://x\")", "two\rlines", "'@x"]


@pytest.mark.parametrize("export", ["export_csv", "export_json"])
def test_an_export_that_cannot_be_written_is_one_error_line(store, tmp_path, export):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(CorrectionsError, match="could not write"):
        getattr(store, export)(tmp_path / "a-file" / "out", DIGEST, "test")


def test_verdict_is_frozen(store):
    relabel(store, 1, 2)
    v = store.verdicts(DIGEST, "test")[1]
    assert isinstance(v, Verdict)
    with pytest.raises(AttributeError):
        v.new_label = 3
