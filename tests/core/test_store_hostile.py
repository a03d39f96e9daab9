"""The corrections store's own files, hostile: a full disk, a -wal without its -shm, a schema with
our marks but not our tables, rows past the CHECKs, and paths that are not regular files.

Whatever arrives, nothing committed is lost, nothing is written to a file that is not ours, and
what is refused is one CorrectionsError line that says what to do without losing the -wal.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import threading
from pathlib import Path

import pytest

from inference.core.corrections import CorrectionsStore
from inference.core.errors import CorrectionsError
from testkit.hostile import (
    STORE_DIGEST,
    STORE_LABELS,
    fill_store,
    store_with_rows,
    store_with_statements,
    unclosed_wal_database,
)

ROOT = Path(__file__).resolve().parents[2]


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every file's bytes, but a -shm's: SQLite's index of the -wal, which any reader may rebuild
    (the database and its -wal are what must not change, and no file may appear)."""
    return {
        p.name: None if p.name.endswith("-shm") else p.read_bytes()
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.is_symlink()
    }


def refused(path, **kwargs) -> str:
    with pytest.raises(CorrectionsError) as caught:
        CorrectionsStore.open(path, **kwargs)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message, message
    return message


# --- a full disk --------------------------------------------------------------------------------


def test_a_store_filled_to_a_full_disk_keeps_every_committed_verdict_when_copied_with_its_wal(tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    committed, said = fill_store(full / "corrections.sqlite", ROOT)
    assert "full" in said and len(committed) >= 2  # some verdicts went in, then the disk was full
    # The copy a user makes onto a disk with room: the store and its -wal, the -shm left behind.
    room = tmp_path / "room"
    room.mkdir()
    for name in ("corrections.sqlite", "corrections.sqlite-wal"):
        shutil.copy2(full / name, room / name)
    for where in (room, full):  # the copy, and the original once its limit is gone
        with CorrectionsStore.open(where / "corrections.sqlite", create=False) as store:
            assert sorted(store.verdicts(STORE_DIGEST, "test")) == committed
            assert len(store.history(STORE_DIGEST, "test")) == len(committed)


def test_a_store_whose_changes_live_only_in_its_wal_opens_and_keeps_them(tmp_path):
    path = tmp_path / "corrections.sqlite"
    committed, _ = fill_store(path, ROOT, wal_limit=10**7, close_limit=0, count=50)  # no room on close
    assert committed == list(range(50))
    (tmp_path / "corrections.sqlite-shm").unlink()
    with CorrectionsStore.open(path, create=False) as store:
        assert sorted(store.verdicts(STORE_DIGEST, "test")) == committed


def test_a_damaged_store_is_refused_with_advice_that_keeps_its_wal(tmp_path):
    path = tmp_path / "corrections.sqlite"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    (tmp_path / "corrections.sqlite-wal").write_bytes(b"not a wal")
    (tmp_path / "corrections.sqlite-shm").write_bytes(bytes(100))
    before = snapshot(tmp_path)
    message = refused(path)
    assert "together with its corrections.sqlite-wal and corrections.sqlite-shm files" in message
    assert snapshot(tmp_path) == before


def test_an_empty_store_beside_a_wal_with_changes_is_refused_and_the_wal_kept(tmp_path):
    path = tmp_path / "corrections.sqlite"
    fill_store(path, ROOT, wal_limit=10**7, close_limit=0, count=5)
    path.write_bytes(b"")  # SQLite would delete the -wal of an empty database file
    (tmp_path / "corrections.sqlite-shm").unlink()
    before = snapshot(tmp_path)
    assert "-wal holds changes" in refused(path)
    assert snapshot(tmp_path) == before and len(before["corrections.sqlite-wal"]) > 0


# --- another program's WAL database: looked at, never written ----------------------------------


@pytest.mark.parametrize("sides", ["wal-and-shm", "wal-without-shm", "closed"])
def test_a_foreign_wal_database_is_refused_and_nothing_is_created_beside_it(tmp_path, sides):
    path = unclosed_wal_database(tmp_path / "songs.sqlite")
    if sides == "wal-without-shm":
        (tmp_path / "songs.sqlite-shm").unlink()
    elif sides == "closed":
        db = sqlite3.connect(path)  # the last connection to close checkpoints and removes both
        db.execute("SELECT count(*) FROM songs").fetchone()
        db.close()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["songs.sqlite"]
    before = snapshot(tmp_path)
    assert "another program" in refused(path)
    assert snapshot(tmp_path) == before


# --- our marks, not our schema -------------------------------------------------------------------

HOSTILE_SCHEMAS = {
    "trigger-eats-verdicts": (
        ["CREATE TRIGGER eat AFTER INSERT ON verdicts BEGIN DELETE FROM verdicts WHERE idx = NEW.idx; END"],
        "unexpected trigger eat",
    ),
    "verdicts-without-checks": (
        [
            "DROP TABLE verdicts",
            "CREATE TABLE verdicts (dataset_digest TEXT, split TEXT, idx INTEGER, verdict TEXT, new_label INTEGER,"
            " given_label INTEGER, time TEXT, PRIMARY KEY (dataset_digest, split, idx))",
            f"INSERT INTO verdicts VALUES ('{STORE_DIGEST}', 'test', -1, 'relabel', 42, 3, 't')",
        ],
        "changed table verdicts",
    ),
    "a-view-instead-of-verdicts": (
        [
            "ALTER TABLE verdicts RENAME TO kept",
            "CREATE VIEW verdicts AS SELECT dataset_digest, split, idx + 20000 AS idx, verdict, new_label,"
            " given_label, time FROM kept",
        ],
        "unexpected view verdicts",
    ),
    "history-triggers-dropped": (
        ["DROP TRIGGER history_no_delete"],
        "missing trigger history_no_delete",
    ),
    "an-extra-index": (
        ["CREATE INDEX by_verdict ON verdicts (verdict)"],
        "unexpected index by_verdict",
    ),
}


@pytest.mark.parametrize("statements, says", HOSTILE_SCHEMAS.values(), ids=HOSTILE_SCHEMAS.keys())
def test_a_store_with_our_marks_but_another_schema_is_refused_untouched(tmp_path, statements, says):
    path = store_with_statements(tmp_path / "corrections.sqlite", statements)
    before = snapshot(tmp_path)
    for create in (True, False):
        message = refused(path, create=create)
        assert "not its schema" in message and says in message and "-wal" in message
    assert snapshot(tmp_path) == before


def test_the_schema_check_runs_again_on_the_open_connection(tmp_path, monkeypatch):
    """A file changed between the look before opening and the open itself is refused as well."""
    from inference.core.corrections import store as cs

    path = store_with_statements(tmp_path / "corrections.sqlite", HOSTILE_SCHEMAS["trigger-eats-verdicts"][0])
    monkeypatch.setattr(cs, "refuse_foreign_file", lambda path, create: None)
    assert "unexpected trigger eat" in refused(path)


def test_the_store_itself_passes_its_own_schema_check(tmp_path):
    path = tmp_path / "corrections.sqlite"
    with CorrectionsStore.open(path) as store:
        store.set_verdict(STORE_DIGEST, "test", [4], "relabel", label=0, given_labels=STORE_LABELS)
    with CorrectionsStore.open(path, create=False) as store:  # reopened: the file as the store made it
        assert store.counts(STORE_DIGEST, "test")["relabel"] == 1


# --- rows past the CHECKs: refused before anything uses them -------------------------------------

BAD_ROWS = {
    "index-minus-1": (-1, "exclude", None, 9),
    "index-past-the-split": (10_000, "exclude", None, 0),
    "index-as-text": ("seven", "exclude", None, 7),
    "index-real": (2.5, "exclude", None, 2),
    "given-label-42": (3, "relabel", 1, 42),
    "new-label-42": (3, "relabel", 42, 3),
    "relabel-to-the-given-label": (3, "relabel", 3, 3),
    "unknown-verdict": (3, "maybe", None, 3),
    "label-with-exclude": (3, "exclude", 5, 3),
    "relabel-without-label": (3, "relabel", None, 3),
}


@pytest.mark.parametrize("row", BAD_ROWS.values(), ids=BAD_ROWS.keys())
def test_a_row_past_the_checks_is_refused_by_every_reader(tmp_path, row):
    path = store_with_rows(tmp_path / "corrections.sqlite", [(5, "exclude", None, 5), row])
    with CorrectionsStore.open(path, create=False) as store:
        readers = {
            "verdicts": lambda: store.verdicts(STORE_DIGEST, "test"),
            "apply": lambda: store.apply(STORE_DIGEST, "test", STORE_LABELS),
            "digest_of": lambda: store.digest_of(STORE_DIGEST, "test"),
            "export_csv": lambda: store.export_csv(tmp_path / "out.csv", STORE_DIGEST, "test"),
        }
        if isinstance(row[0], int) and 0 <= row[0] < 10_000:  # a change reads the row it replaces
            readers["set_verdict"] = lambda: store.set_verdict(
                STORE_DIGEST, "test", row[0], "confirmed", given_labels=STORE_LABELS
            )
        if row[1] not in ("relabel", "exclude", "confirmed"):
            readers["counts"] = lambda: store.counts(STORE_DIGEST, "test")
        for name, read in readers.items():
            with pytest.raises(CorrectionsError) as caught:
                read()
            message = str(caught.value)
            assert str(path) in message and "not valid" in message and "\n" not in message, (name, message)
            assert repr(row[1]) in message, (name, message)  # the row is named
    assert not (tmp_path / "out.csv").exists()


def test_a_history_row_past_the_checks_is_refused(tmp_path):
    path = store_with_statements(tmp_path / "corrections.sqlite", [])
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(
        "INSERT INTO history (dataset_digest, split, idx, old_verdict, old_label, new_verdict, new_label,"
        f" given_label, time, pid, session) VALUES ('{STORE_DIGEST}', 'test', -5, NULL, NULL, 'exclude',"
        " NULL, 12, 't', 1, 's')"
    )
    db.close()
    with CorrectionsStore.open(path, create=False) as store:
        with pytest.raises(CorrectionsError, match="history row"):
            store.history(STORE_DIGEST, "test")
        assert len(store.history(STORE_DIGEST, "test", 1)) == 1  # the good rows still read one by one


# --- paths that are not regular files ------------------------------------------------------------


def make_fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def make_socket(path: Path) -> Path:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()  # the socket file stays
    return path


def store_beside_a_fifo(path: Path, suffix: str, folder: bool = False) -> Path:
    CorrectionsStore.open(path).close()
    side = path.with_name(path.name + suffix)
    side.mkdir() if folder else make_fifo(side)
    return path


def symlink_to(target: Path, path: Path) -> Path:
    path.symlink_to(target)
    return path


SPECIAL = {
    "fifo": (make_fifo, "FIFO"),
    "symlink-to-fifo": (lambda p: symlink_to(make_fifo(p.with_name("pipe")), p), "FIFO"),
    "symlink-to-dev-null": (lambda p: symlink_to(Path(os.devnull), p), "character device"),
    "socket": (make_socket, "socket"),
    "wal-is-a-fifo": (lambda p: store_beside_a_fifo(p, "-wal"), "FIFO"),
    "shm-is-a-folder": (lambda p: store_beside_a_fifo(p, "-shm", folder=True), "not a regular file"),
    "dangling-symlink": (lambda p: symlink_to(p.with_name("nowhere.sqlite"), p), "does not exist"),
}


def open_in_a_thread(path: Path) -> BaseException | None:
    """CorrectionsStore.open on another thread; a hang fails the test instead of hanging it."""
    outcome = {}

    def attempt():
        try:
            CorrectionsStore.open(path).close()
        except BaseException as e:
            outcome["error"] = e

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), f"CorrectionsStore.open({path}) hung"
    return outcome.get("error")


@pytest.mark.parametrize("make, says", SPECIAL.values(), ids=SPECIAL.keys())
def test_a_path_that_is_not_a_regular_file_is_refused_at_once(tmp_path, make, says):
    path = make(tmp_path / "corrections.sqlite")
    error = open_in_a_thread(path)
    assert isinstance(error, CorrectionsError), error
    assert says in str(error) and "\n" not in str(error)
    assert not (tmp_path / "nowhere.sqlite").exists()  # a dangling symlink's target is not created


def test_a_symlink_to_a_store_is_a_store(tmp_path):
    real = tmp_path / "real.sqlite"
    with CorrectionsStore.open(real) as store:
        store.set_verdict(STORE_DIGEST, "test", [8], "exclude", given_labels=STORE_LABELS)
    with CorrectionsStore.open(symlink_to(real, tmp_path / "link.sqlite"), create=False) as store:
        assert list(store.verdicts(STORE_DIGEST, "test")) == [8]
