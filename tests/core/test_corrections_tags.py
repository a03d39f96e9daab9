"""Tags in the corrections store, the schema upgrade from version 1 that added them, and the
corrections CSV that carries verdicts and tags out and back in."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from inference.core.corrections import (
    CorrectionsStore,
    check_tag,
    join_tags,
    migration,
    parse_tags,
    read_csv,
    schema,
    write_csv,
)
from inference.core.errors import CorrectionsError

DIGEST = "ab" * 32
TEST_LABELS = (np.arange(10_000) % 10).astype(np.int64)  # index i has given label i % 10


@pytest.fixture
def store(tmp_path):
    with CorrectionsStore.open(tmp_path / "c.sqlite", session="window-1") as s:
        yield s


# --- the tag rule ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, tag",
    [
        ("Camisole", "camisole"),
        ("  bag   with strap ", "bag with strap"),
        ("t-shirt/top (long)", "t-shirt/top (long)"),
        ("ärmel", "ärmel"),
    ],
)
def test_a_tag_is_normalised(text, tag):
    assert check_tag(text) == tag


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "a" * 41,
        "=cmd()",
        "-minus",
        "@at",
        "with,comma",
        "semi;colon",
        "tab\tinside\x00",
        "new\nline\x07",
        12,
    ],
)
def test_a_bad_tag_is_refused_with_the_rule(text):
    with pytest.raises(CorrectionsError, match="a tag is 1 to 40 characters"):
        check_tag(text)


def test_a_field_of_several_tags_splits_on_commas_and_semicolons_and_joins_back():
    tags = parse_tags("camisole, Bag with strap; camisole;")
    assert tags == ("bag with strap", "camisole")
    assert parse_tags(join_tags(tags)) == tags


# --- the store --------------------------------------------------------------------------------


def test_tags_round_trip_with_their_history(store):
    assert store.set_tags(DIGEST, "test", {3: ["camisole", "bag with strap"], 4: ["camisole"]}) == 3
    assert store.set_tags(DIGEST, "test", {3: ["camisole"]}) == 1  # "bag with strap" removed
    assert store.tags(DIGEST, "test") == {3: frozenset({"camisole"}), 4: frozenset({"camisole"})}
    changes = [(c.index, c.tag, c.change, c.session) for c in store.tag_history(DIGEST, "test", 3)]
    assert changes == [
        (3, "bag with strap", "added", "window-1"),
        (3, "camisole", "added", "window-1"),
        (3, "bag with strap", "removed", "window-1"),
    ]
    assert store.tags(DIGEST, "train") == {}


def test_one_bad_tag_writes_nothing(store):
    with pytest.raises(CorrectionsError, match="a tag is"):
        store.set_tags(DIGEST, "test", {1: ["fine"], 2: ["not,fine"]})
    with pytest.raises(CorrectionsError, match="outside the test split"):
        store.set_tags(DIGEST, "test", {1: ["fine"], 10_000: ["fine"]})
    assert store.tags(DIGEST, "test") == {}


def test_the_tag_history_is_append_only(store, tmp_path):
    store.set_tags(DIGEST, "test", {1: ["x"]})
    db = sqlite3.connect(tmp_path / "c.sqlite")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM tag_history")
    db.close()


# --- the upgrade from version 1 -----------------------------------------------------------------


def make_v1_store(path):
    """A store as the version before tags wrote it: its SCHEMA statements, marks and some rows."""
    db = sqlite3.connect(path, isolation_level=None)
    for statement in schema.SCHEMA_V1:
        db.execute(statement)
    db.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO meta VALUES ('created', '2026-01-01T00:00:00.000+00:00')")
    db.execute(
        "INSERT INTO verdicts VALUES (?, 'test', 7, 'relabel', 3, 7, '2026-01-01T00:00:01.000+00:00')", (DIGEST,)
    )
    db.execute(
        "INSERT INTO verdicts VALUES (?, 'train', 8, 'exclude', NULL, 8, '2026-01-01T00:00:02.000+00:00')", (DIGEST,)
    )
    db.execute(
        "INSERT INTO history (dataset_digest, split, idx, old_verdict, old_label, new_verdict, new_label,"
        " given_label, time, pid, session) VALUES (?, 'test', 7, NULL, NULL, 'relabel', 3, 7, 't', 1, 'old')",
        (DIGEST,),
    )
    db.close()


def dump(path, tables):
    db = sqlite3.connect(path)
    try:
        return {t: db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in tables}
    finally:
        db.close()


def test_a_version_1_store_is_upgraded_in_place_keeping_every_row(tmp_path):
    path = tmp_path / "old.sqlite"
    make_v1_store(path)
    before = dump(path, ("meta", "verdicts", "history"))
    with CorrectionsStore.open(path) as store:
        assert store.verdicts(DIGEST, "test")[7].new_label == 3
        store.set_tags(DIGEST, "test", {7: ["camisole"]})
    after = dump(path, ("meta", "verdicts", "history", "tags"))
    assert {t: after[t] for t in before} == before
    assert [row[3] for row in after["tags"]] == ["camisole"]
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION == 2
    # The upgraded file's schema is the one a new file gets, statement for statement.
    got = {
        row[0] for row in db.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'")
    }
    db.close()
    assert got == set(schema.SCHEMA)


def test_a_version_1_file_with_a_foreign_table_is_refused_before_any_upgrade(tmp_path):
    path = tmp_path / "old.sqlite"
    make_v1_store(path)
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE tags (x)")  # not version 1's schema: checked before the upgrade
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(CorrectionsError, match=r"not its schema \(unexpected table tags\)"):
        CorrectionsStore.open(path)
    assert path.read_bytes() == before


def test_an_upgrade_that_fails_leaves_the_version_1_file_as_it_was(tmp_path, monkeypatch):
    def fails_halfway(db):  # the first new table made, then an error before the rest
        db.execute(migration.TAGS_SCHEMA[0])
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setitem(migration.UPGRADES, 1, fails_halfway)
    path = tmp_path / "old.sqlite"
    make_v1_store(path)
    before = dump(path, ("meta", "verdicts", "history"))
    with pytest.raises(CorrectionsError, match="disk I/O error"):
        CorrectionsStore.open(path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    assert not db.execute("SELECT name FROM sqlite_master WHERE name IN ('tags', 'tag_history')").fetchall()
    db.close()
    assert dump(path, ("meta", "verdicts", "history")) == before


# --- the CSV ----------------------------------------------------------------------------------


def test_the_csv_round_trips_verdicts_and_tags_with_the_report_columns(store, tmp_path):
    store.set_verdict(DIGEST, "test", [13], "relabel", label=0, given_labels=TEST_LABELS)
    store.set_verdict(DIGEST, "test", [20, 21], "exclude", given_labels=TEST_LABELS)
    store.set_tags(DIGEST, "test", {13: ["camisole", "bag with strap"], 40: ["whole person"]})
    suggested, quality = np.full(10_000, -1), np.full(10_000, np.nan)
    suggested[13], quality[13] = 0, 0.0123456789
    path = tmp_path / "out.csv"
    assert (
        write_csv(
            path,
            "test",
            store.verdicts(DIGEST, "test"),
            store.tags(DIGEST, "test"),
            TEST_LABELS,
            suggested,
            quality,
            "3",
        )
        == 4
    )
    lines = path.read_text().splitlines()
    assert (
        lines[0]
        == "split,index,verdict,given_label,given_class,new_label,new_class,tags,suggested_label,label_quality,model_version,time"
    )
    assert lines[1].startswith("test,13,relabel,3,Dress,0,T-shirt/top,bag with strap; camisole,0,0.0123457,3,")
    assert lines[4].startswith("test,40,,0,T-shirt/top,,,whole person,,,3,")
    got = read_csv(path, "test", TEST_LABELS)
    assert got.skipped == []
    assert [(r.index, r.verdict, r.new_label, r.tags) for r in got.rows] == [
        (13, "relabel", 0, ("bag with strap", "camisole")),
        (20, "exclude", None, ()),
        (21, "exclude", None, ()),
        (40, None, None, ("whole person",)),
    ]


def test_rows_for_the_other_split_or_other_labels_are_skipped_with_a_reason(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(
        "split,index,verdict,given_label,new_label,tags\n"
        "train,5,confirmed,5,,\n"
        "test,6,confirmed,2,,\n"
        "test,7,confirmed,7,,camisole\n"
    )
    got = read_csv(path, "test", TEST_LABELS)
    assert [r.index for r in got.rows] == [7]
    assert got.skipped == [
        "line 2 is for the train split, this one is test",
        "line 3 was made on given label 2 for image 6, this dataset's is 6",
    ]


@pytest.mark.parametrize(
    "row, why",
    [
        ("test,10000,confirmed,,,", "index '10000', expected a whole number 0 to 9,999"),
        ("test,-1,confirmed,,,", "index '-1'"),
        ("test,5,wrong,,,", "verdict 'wrong'"),
        ("valid,5,confirmed,,,", "split 'valid'"),
        ("test,5,relabel,,,", "new_label goes with verdict relabel"),
        ("test,5,confirmed,,3,", "new_label goes with verdict relabel"),
        ("test,5,relabel,,12,", "new_label '12'"),
        ("test,5,confirmed,,,=HYPERLINK(1)", "a tag is"),
        ("test,1,confirmed,,,", "listed twice"),
    ],
)
def test_a_bad_row_refuses_the_whole_file_naming_its_line(tmp_path, row, why):
    path = tmp_path / "in.csv"
    path.write_text(f"split,index,verdict,given_label,new_label,tags\ntest,1,confirmed,,,\n{row}\n")
    with pytest.raises(CorrectionsError, match="line 3: .*nothing was imported") as caught:
        read_csv(path, "test", TEST_LABELS)
    assert why in str(caught.value)


def test_a_relabel_to_the_given_label_is_read_as_a_confirmation(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("split,index,verdict,given_label,new_label,tags\ntest,5,relabel,5,5,\ntest,6,relabel,6,1,\n")
    got = read_csv(path, "test", TEST_LABELS)
    assert [(r.index, r.verdict, r.new_label) for r in got.rows] == [(5, "confirmed", None), (6, "relabel", 1)]


@pytest.mark.parametrize(
    "content, why", [(b"\xff\xfe\x00binary", "not UTF-8 text"), (b'{"format": 1}\n', "expected a corrections CSV")]
)
def test_a_file_that_is_not_a_corrections_csv_is_refused_in_plain_words(tmp_path, content, why):
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(CorrectionsError, match=why) as caught:
        read_csv(path, "test", TEST_LABELS)
    assert "b'" not in str(caught.value)


@pytest.mark.parametrize(
    "name, content, says",
    [
        ("c.csv", b"split,index,verdict\ntest,1,confirmed\n", "is a CSV file, not a corrections store"),
        ("c.json", b'{"format": "fashion-labeler-corrections/2"}', "is a JSON file, not a corrections store"),
        ("c.sqlite", b"\x00\x01 random bytes here", "is not a database file, not a corrections store"),
    ],
)
def test_a_file_given_as_a_store_is_refused_in_words_about_files(tmp_path, name, content, says):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CorrectionsError, match=says) as caught:
        CorrectionsStore.open(path)
    text = str(caught.value)
    assert "b'" not in text and "import_json" not in text and "starts with" not in text
    assert path.read_bytes() == content
