"""The corrections store's SQL schema, and refusing a database whose schema is not exactly it.

A file with our marks (application_id, user_version) can still hold another schema: a trigger
that deletes verdicts, a `verdicts` table without its CHECKs, a view in its place. So the whole
schema is compared with what `SCHEMA` creates, built afresh in an in-memory database: a table,
index or trigger added to `SCHEMA` is covered without another line here.
(`file.py` looks at the file itself before SQLite opens it.)
"""

from __future__ import annotations

import functools
import sqlite3
from pathlib import Path

from inference.core.corrections.tags import TAG_MAX_CHARS
from inference.core.corrections.values import SPLIT_SIZES
from inference.core.errors import CorrectionsError

FILE_NAME = "corrections.sqlite"
# PRAGMA application_id marks the file as ours ("FMLC"); user_version is the schema's version.
APPLICATION_ID = 0x464D4C43
SCHEMA_VERSION = 2  # 2 added the tags (inference/core/corrections/migration.py upgrades a version 1 file)

# CHECK constraints spell out types with typeof(): STRICT tables would do it too, but a file
# with a STRICT table cannot be opened at all by SQLite < 3.37 (Debian 11, Ubuntu 20.04).
VERDICT_SQL = "('relabel', 'confirmed', 'exclude')"


def append_only(table: str, what: str) -> tuple[str, str]:
    """The two triggers that refuse an UPDATE or DELETE on `table`, saying `what` is append-only."""
    update, delete = (
        f"""CREATE TRIGGER {table}_no_{change.lower()} BEFORE {change} ON {table}
    BEGIN SELECT RAISE(ABORT, '{what} is append-only'); END"""
        for change in ("UPDATE", "DELETE")
    )
    return update, delete


# The verdicts table's last CHECK (new_label <> given_label) is the last guard for the rule in
# verdicts.effective_verdict: every caller turns such a relabel into "confirmed" before writing,
# so only a row written some other way can trip it. The statements below must stay as they are
# (a file's schema is compared with them), so this comment stays outside them.
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
    *append_only("history", "the corrections history"),
)
# Version 2: tags on images (inference/core/corrections/tags.py), with their own append-only history.
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
    *append_only("tag_history", "the tag history"),
)
SCHEMA = SCHEMA_V1 + TAGS_SCHEMA
UPGRADABLE_VERSIONS = (1,)  # older schema versions that opening upgrades in place, every row kept

# The statements a file of each version this program opens was made with: its schema is checked
# against them before anything else (an older version's before it is upgraded).
SCHEMAS = {1: SCHEMA_V1, SCHEMA_VERSION: SCHEMA}


def schema_marks(db: sqlite3.Connection) -> tuple[int, int]:
    return db.execute("PRAGMA application_id").fetchone()[0], db.execute("PRAGMA user_version").fetchone()[0]


def table_names(db: sqlite3.Connection) -> list[str]:
    return [row[0] for row in db.execute("SELECT name FROM sqlite_master")]


def move_away(path: Path) -> str:
    """Advice that keeps the committed changes: SQLite keeps them in the -wal until a checkpoint."""
    return f"move {path.name} together with its {path.name}-wal and {path.name}-shm files"


def check_schema_marks(path: Path, app_id: int, version: int) -> None:
    if app_id != APPLICATION_ID:
        raise CorrectionsError(
            f"{path} is an SQLite database of another program, not a fashion-labeler corrections store; "
            f"it was left untouched — name another file, or {move_away(path)} away"
        )
    if version != SCHEMA_VERSION and version not in UPGRADABLE_VERSIONS:
        raise CorrectionsError(
            f"{path} is a corrections store of schema version {version}, this program reads version "
            f"{SCHEMA_VERSION}; it was left untouched — use the fashion-labeler version that wrote it"
        )


SchemaRows = dict[tuple[str, str], tuple[str, str | None]]  # (type, name) -> (table, normalised SQL)


def schema_rows(db: sqlite3.Connection) -> SchemaRows:
    """Every table, index, trigger and view of the database, with its SQL on one line."""
    return {
        (kind, name): (table, None if sql is None else " ".join(sql.split()))
        for kind, name, table, sql in db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master")
    }


@functools.cache
def reference_rows(statements: tuple[str, ...] = SCHEMA) -> SchemaRows:
    """What `statements` create, read back from a database in memory: SQLite's own spelling."""
    db = sqlite3.connect(":memory:")
    try:
        for statement in statements:
            db.execute(statement)
        return schema_rows(db)
    finally:
        db.close()


def schema_differences(db: sqlite3.Connection, statements: tuple[str, ...] = SCHEMA) -> list[str]:
    """'unexpected trigger x', 'missing index y', 'changed table z': empty when the schema is ours."""
    have, want = schema_rows(db), reference_rows(statements)
    return (
        [f"unexpected {kind} {name}" for kind, name in sorted(have.keys() - want.keys())]
        + [f"missing {kind} {name}" for kind, name in sorted(want.keys() - have.keys())]
        + [
            f"changed {kind} {name}"
            for kind, name in sorted(have.keys() & want.keys())
            if have[kind, name] != want[kind, name]
        ]
    )


def check_schema(db: sqlite3.Connection, path: Path, version: int = SCHEMA_VERSION) -> None:
    """CorrectionsError unless the database's schema is exactly what SCHEMAS[version] creates."""
    differences = schema_differences(db, SCHEMAS[version])
    if differences:
        shown = ", ".join(differences[:4]) + (f" and {len(differences) - 4} more" if len(differences) > 4 else "")
        raise CorrectionsError(
            f"{path} has the marks of a corrections store but not its schema ({shown}): another program "
            f"or a hand edit changed it, so its verdicts cannot be trusted; it was left untouched — "
            f"{move_away(path)} away to start a new store"
        )
