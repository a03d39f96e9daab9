"""The corrections store's file: its SQL schema, and refusing a file that is not one of ours.

A file that is not ours (a JSON sidecar, another program's database, a newer schema) is looked at
without writing to it and refused, so opening the wrong path never damages anything.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from inference.core.corrections_tags import TAG_MAX_CHARS
from inference.core.corrections_values import SPLIT_SIZES
from inference.core.errors import CorrectionsError

FILE_NAME = "corrections.sqlite"
# PRAGMA application_id marks the file as ours ("FMLC"); user_version is the schema's version.
APPLICATION_ID = 0x464D4C43
SCHEMA_VERSION = 2  # 2 added the tags (inference/core/corrections_migration.py upgrades a version 1 file)
_SQLITE_MAGIC = b"SQLite format 3\x00"

# CHECK constraints spell out types with typeof(): STRICT tables would do it too, but a file
# with a STRICT table cannot be opened at all by SQLite < 3.37 (Debian 11, Ubuntu 20.04).
VERDICT_SQL = "('relabel', 'confirmed', 'exclude')"
SCHEMA_V1 = (
    """CREATE TABLE meta (
    key TEXT PRIMARY KEY NOT NULL CHECK (typeof(key) = 'text'),
    value TEXT NOT NULL
)""",
    f"""CREATE TABLE verdicts (
    dataset_digest TEXT NOT NULL CHECK (length(dataset_digest) = 64 AND dataset_digest NOT GLOB '*[^0-9a-f]*'),
    split TEXT NOT NULL CHECK (split IN ('train', 'test')),
    idx INTEGER NOT NULL CHECK (typeof(idx) = 'integer'
        AND idx >= 0 AND idx < CASE split WHEN 'train' THEN {SPLIT_SIZES['train']} ELSE {SPLIT_SIZES['test']} END),
    verdict TEXT NOT NULL CHECK (verdict IN {VERDICT_SQL}),
    new_label INTEGER,
    given_label INTEGER NOT NULL CHECK (typeof(given_label) = 'integer' AND given_label BETWEEN 0 AND 9),
    time TEXT NOT NULL CHECK (typeof(time) = 'text'),
    PRIMARY KEY (dataset_digest, split, idx),
    CHECK ((verdict = 'relabel' AND typeof(new_label) = 'integer' AND new_label BETWEEN 0 AND 9
            AND new_label <> given_label)
        OR (verdict <> 'relabel' AND new_label IS NULL))
)""",
    f"""CREATE TABLE history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset_digest TEXT NOT NULL,
    split TEXT NOT NULL,
    idx INTEGER NOT NULL,
    old_verdict TEXT CHECK (old_verdict IS NULL OR old_verdict IN {VERDICT_SQL}),
    old_label INTEGER,
    new_verdict TEXT CHECK (new_verdict IS NULL OR new_verdict IN {VERDICT_SQL}),
    new_label INTEGER,
    given_label INTEGER NOT NULL,
    time TEXT NOT NULL,
    pid INTEGER NOT NULL,
    session TEXT NOT NULL
)""",
    "CREATE INDEX history_by_image ON history (dataset_digest, split, idx)",
    """CREATE TRIGGER history_no_update BEFORE UPDATE ON history
    BEGIN SELECT RAISE(ABORT, 'the corrections history is append-only'); END""",
    """CREATE TRIGGER history_no_delete BEFORE DELETE ON history
    BEGIN SELECT RAISE(ABORT, 'the corrections history is append-only'); END""",
)
# Version 2: tags on images (inference/core/corrections_tags.py), with their own append-only history.
TAGS_SCHEMA = (
    f"""CREATE TABLE tags (
    dataset_digest TEXT NOT NULL CHECK (length(dataset_digest) = 64 AND dataset_digest NOT GLOB '*[^0-9a-f]*'),
    split TEXT NOT NULL CHECK (split IN ('train', 'test')),
    idx INTEGER NOT NULL CHECK (typeof(idx) = 'integer'
        AND idx >= 0 AND idx < CASE split WHEN 'train' THEN {SPLIT_SIZES['train']} ELSE {SPLIT_SIZES['test']} END),
    tag TEXT NOT NULL CHECK (typeof(tag) = 'text' AND length(tag) BETWEEN 1 AND {TAG_MAX_CHARS}
        AND tag NOT GLOB '*[,;]*'),
    time TEXT NOT NULL CHECK (typeof(time) = 'text'),
    PRIMARY KEY (dataset_digest, split, idx, tag)
)""",
    """CREATE TABLE tag_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset_digest TEXT NOT NULL,
    split TEXT NOT NULL,
    idx INTEGER NOT NULL,
    tag TEXT NOT NULL,
    change TEXT NOT NULL CHECK (change IN ('added', 'removed')),
    time TEXT NOT NULL,
    pid INTEGER NOT NULL,
    session TEXT NOT NULL
)""",
    "CREATE INDEX tag_history_by_image ON tag_history (dataset_digest, split, idx)",
    """CREATE TRIGGER tag_history_no_update BEFORE UPDATE ON tag_history
    BEGIN SELECT RAISE(ABORT, 'the tag history is append-only'); END""",
    """CREATE TRIGGER tag_history_no_delete BEFORE DELETE ON tag_history
    BEGIN SELECT RAISE(ABORT, 'the tag history is append-only'); END""",
)
SCHEMA = SCHEMA_V1 + TAGS_SCHEMA
UPGRADABLE_VERSIONS = (1,)  # older schema versions that opening upgrades in place, every row kept


def schema_marks(db: sqlite3.Connection) -> tuple[int, int]:
    return db.execute("PRAGMA application_id").fetchone()[0], db.execute("PRAGMA user_version").fetchone()[0]


def table_names(db: sqlite3.Connection) -> list[str]:
    return [row[0] for row in db.execute("SELECT name FROM sqlite_master")]


def check_schema_marks(path: Path, app_id: int, version: int) -> None:
    if app_id != APPLICATION_ID:
        raise CorrectionsError(
            f"{path} is an SQLite database of another program, not a fashion-labeler corrections store; "
            "it was left untouched — name another file, or move it away"
        )
    if version != SCHEMA_VERSION and version not in UPGRADABLE_VERSIONS:
        raise CorrectionsError(
            f"{path} is a corrections store of schema version {version}, this program reads version "
            f"{SCHEMA_VERSION}; it was left untouched — use the fashion-labeler version that wrote it"
        )


def _looks_like(path: Path, head: bytes) -> str:
    """What a file that is not SQLite seems to be, in a reader's words (never its bytes)."""
    start = head.lstrip()[:1]
    if path.suffix.lower() == ".json" or start in (b"{", b"["):
        return "a JSON file"
    if path.suffix.lower() == ".csv" or head.startswith(b"split,"):
        return "a CSV file"
    return "not a database file"


def _how_to_use(path: Path, head: bytes) -> str:
    kind = _looks_like(path, head)
    if kind == "a JSON file":
        return "bring its verdicts in with the labeler's File ▸ Import corrections JSON, and open a .sqlite file here"
    if kind == "a CSV file":
        return "bring its verdicts in with the labeler's File ▸ Import verdicts from CSV, and open a .sqlite file here"
    return f"name another file, such as {path.with_name(FILE_NAME)}"


def refuse_foreign_file(path: Path, create: bool) -> None:
    """Look at an existing file without writing to it; raise CorrectionsError unless it is ours."""
    try:
        is_dir, exists = path.is_dir(), path.exists()
    except OSError as e:  # a name too long, a folder we may not enter
        raise CorrectionsError(f"corrections store {path} cannot be used ({e.strerror}); name another file") from e
    if is_dir:
        raise CorrectionsError(f"corrections store {path} is a folder; name a file such as {path / FILE_NAME}")
    if not exists:
        if not create:
            raise CorrectionsError(
                f"corrections store {path} does not exist; label some images first, or check the path"
            )
        return
    try:
        with open(path, "rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
    except OSError as e:
        raise CorrectionsError(f"corrections store {path}: cannot read it ({e}); check its permissions") from e
    if not head:
        return  # an empty file is an empty database to SQLite: nothing to lose
    if head != _SQLITE_MAGIC:
        raise CorrectionsError(f"{path} is {_looks_like(path, head)}, not a corrections store; it was left "
                               f"untouched — {_how_to_use(path, head)}")
    # Immutable and read-only: the probe takes no lock, creates no -wal or -shm file beside another
    # program's database, and cannot checkpoint its WAL into it on close.
    try:
        probe = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            app_id, version = schema_marks(probe)
            tables = table_names(probe)
        finally:
            probe.close()
    except sqlite3.Error as e:
        raise CorrectionsError(
            f"{path} is a damaged SQLite file ({e}); it was left untouched — move it away"
        ) from e
    if app_id or version or tables:
        check_schema_marks(path, app_id, version)
