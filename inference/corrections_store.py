"""The corrections store: a person's verdicts on Fashion-MNIST labels, one SQLite file per user.

The labeler writes it and `train-and-export --corrections` reads it, which is why it lives in
the torch-free core. Every change is its own transaction, opened with BEGIN IMMEDIATE, so two
labeler windows (or processes) on the same file never lose each other's verdicts, and a reader
only ever sees committed changes. Every change also appends a row to a history that triggers
keep append-only. Values are checked on the way in (CHECK constraints repeat the checks in the
schema), so a bad label is refused with one line instead of poisoning the file.

Verdicts, per (dataset digest, split, index):
  relabel    the given label is wrong; new_label (0..9, not the given label) is right
  confirmed  the given label is right
  exclude    ambiguous or not a garment: left out of training and evaluation
No verdict is no row: clearing a verdict deletes it (the history keeps it).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from inference.atomic_write import atomic_write
from inference.classes import CLASS_NAMES, NUM_CLASSES
from inference.errors import CorrectionsError
from inference.fashion_mnist import SPLITS

VERDICTS = ("relabel", "confirmed", "exclude")
SPLIT_SIZES = {name: size for name, (_, _, size) in SPLITS.items()}
ENV_VAR = "FASHION_LABELER_DIR"
FILE_NAME = "corrections.sqlite"
LEGACY_FORMAT = "fashion-labeler-corrections/1"  # the JSON sidecar the labeler wrote before this store
EXPORT_FORMAT = "fashion-labeler-corrections/2"  # export_json's interchange file; import_json reads it too

# PRAGMA application_id marks the file as ours ("FMLC"); user_version is the schema's version.
APPLICATION_ID = 0x464D4C43
SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 5.0  # another window's transaction lasts milliseconds; 5 s means it is stuck
_SQLITE_MAGIC = b"SQLite format 3\x00"

# Limits for JSON files to import: a sidecar of all 60,000 training images is about 8 MB and
# 3 levels deep, so anything far beyond is damage, refused before it can exhaust memory or stack.
MAX_JSON_BYTES = 32 * 1024 * 1024
MAX_JSON_DEPTH = 8
MAX_JSON_INT_DIGITS = 20
MAX_TIME_CHARS = 64
MAX_SESSION_CHARS = 200

_HEX64 = re.compile(r"[0-9a-f]{64}")
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)  # unrolled: linear time
# CHECK constraints spell out types with typeof(): STRICT tables would do it too, but a file
# with a STRICT table cannot be opened at all by SQLite < 3.37 (Debian 11, Ubuntu 20.04).
_VERDICT_SQL = "('relabel', 'confirmed', 'exclude')"
_SCHEMA = (
    """CREATE TABLE meta (
    key TEXT PRIMARY KEY NOT NULL CHECK (typeof(key) = 'text'),
    value TEXT NOT NULL
)""",
    f"""CREATE TABLE verdicts (
    dataset_digest TEXT NOT NULL CHECK (length(dataset_digest) = 64 AND dataset_digest NOT GLOB '*[^0-9a-f]*'),
    split TEXT NOT NULL CHECK (split IN ('train', 'test')),
    idx INTEGER NOT NULL CHECK (typeof(idx) = 'integer'
        AND idx >= 0 AND idx < CASE split WHEN 'train' THEN {SPLIT_SIZES['train']} ELSE {SPLIT_SIZES['test']} END),
    verdict TEXT NOT NULL CHECK (verdict IN {_VERDICT_SQL}),
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
    old_verdict TEXT CHECK (old_verdict IS NULL OR old_verdict IN {_VERDICT_SQL}),
    old_label INTEGER,
    new_verdict TEXT CHECK (new_verdict IS NULL OR new_verdict IN {_VERDICT_SQL}),
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


@dataclass(frozen=True)
class Verdict:
    index: int
    verdict: str  # one of VERDICTS
    new_label: int | None  # the right label for "relabel", else None
    given_label: int  # the dataset's label
    time: str  # ISO 8601, UTC, of the decision


@dataclass(frozen=True)
class AppliedCorrections:
    """What training uses: labels, mask and the digest that names them, from one snapshot."""

    labels: np.ndarray  # (N,) int64: given labels, relabels applied
    keep: np.ndarray  # (N,) bool: False for excluded images
    digest: str  # digest_of() of the verdicts applied: goes into the model's metadata
    counts: dict[str, int]  # verdict -> how many images


@dataclass(frozen=True)
class HistoryEntry:
    seq: int  # order of the changes in this file
    index: int
    old_verdict: str | None  # None: there was no verdict
    old_label: int | None
    new_verdict: str | None  # None: the verdict was cleared
    new_label: int | None
    given_label: int
    time: str  # ISO 8601, UTC, of the change
    pid: int
    session: str  # the window or tool that made the change


def data_dir() -> Path:
    """Per-user folder: $FASHION_LABELER_DIR, else $XDG_DATA_HOME/fashion-labeler (as the labeler's)."""
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "fashion-labeler"


def default_path() -> Path:
    return data_dir() / FILE_NAME


def legacy_json_path(split: str, digest: str) -> Path:
    """Where the labeler's JSON sidecar for this split used to live (import it with import_json)."""
    return data_dir() / f"corrections-{split}-{digest[:16]}.json"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


# --- checks on the way in -------------------------------------------------------------------


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_digest(digest) -> str:
    if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
        raise CorrectionsError(
            f"dataset digest {digest!r:.80}: expected 64 lowercase hex digits; pass Split.digest from load_split"
        )
    return digest


def _check_split(split) -> int:
    """The split's number of images."""
    if not isinstance(split, str) or split not in SPLIT_SIZES:
        raise CorrectionsError(f"split {split!r:.80}: expected one of {sorted(SPLIT_SIZES)}")
    return SPLIT_SIZES[split]


def _check_verdict(verdict) -> str:
    if not isinstance(verdict, str) or verdict not in VERDICTS:
        raise CorrectionsError(f"verdict {verdict!r:.80}: expected one of {list(VERDICTS)}")
    return verdict


def _check_label(verdict: str, label) -> int | None:
    if verdict != "relabel":
        if label is not None:
            raise CorrectionsError(
                f"label {label!r:.80} with verdict {verdict!r}: a label goes only with 'relabel'; pass None"
            )
        return None
    if not _is_int(label) or not 0 <= label < NUM_CLASSES:
        raise CorrectionsError(
            f"label {label!r:.80} for 'relabel': expected an int 0..{NUM_CLASSES - 1} (the right class)"
        )
    return int(label)


def _check_indices(indices, size: int, split: str) -> np.ndarray:
    """Sorted unique int64 indices; one int or a 1-D sequence/array of ints, each in 0..size-1."""
    if _is_int(indices):
        values = [indices]
    elif isinstance(indices, np.ndarray):
        if indices.ndim != 1 or indices.dtype.kind not in "iu":
            raise CorrectionsError(
                f"indices: got a {indices.ndim}-D {indices.dtype} array; expected a 1-D integer array"
            )
        values = indices
    elif isinstance(indices, (str, bytes)) or not hasattr(indices, "__iter__"):
        raise CorrectionsError(f"indices {indices!r:.80}: expected an int or a sequence of ints")
    else:
        values = list(indices)
        bad = next((v for v in values if not _is_int(v)), None)
        if bad is not None:
            raise CorrectionsError(f"index {bad!r:.80}: expected an int (not a bool, float or string)")
    # Python ints compare exactly, so a huge value is refused here instead of wrapping in int64.
    out = [int(v) for v in values]
    bad = next((v for v in out if not 0 <= v < size), None)
    if bad is not None:
        raise CorrectionsError(f"index {bad} is outside the {split} split: expected 0..{size - 1}")
    return np.unique(np.array(out, dtype=np.int64))


def _check_labels(labels, size: int, split: str, what: str) -> np.ndarray:
    if not isinstance(labels, np.ndarray) or labels.shape != (size,) or labels.dtype.kind not in "iu":
        got = f"{labels.dtype} {labels.shape}" if isinstance(labels, np.ndarray) else type(labels).__name__
        raise CorrectionsError(
            f"{what}: got {got}; expected the {split} split's labels, an integer array of shape ({size},)"
        )
    if size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise CorrectionsError(f"{what}: values outside 0..{NUM_CLASSES - 1}; pass Split.labels from load_split")
    return labels.astype(np.int64, copy=False)


def _check_session(session) -> str:
    if not isinstance(session, str) or len(session) > MAX_SESSION_CHARS:
        raise CorrectionsError(
            f"session {session!r:.80}: expected a string of at most {MAX_SESSION_CHARS} characters"
        )
    return session


# --- the store --------------------------------------------------------------------------------


class CorrectionsStore:
    """One user's corrections file. Open with `CorrectionsStore.open()`; use as a context manager."""

    def __init__(self, path: Path, connection: sqlite3.Connection, session: str):
        self.path = path
        self.session = session
        self._db = connection

    @classmethod
    def open(cls, path: str | os.PathLike | None = None, *, create: bool = True,
             session: str = "") -> "CorrectionsStore":
        """Open (or, with create, make) the store at `path` (default: default_path()).

        `session` names the window or tool in the history. A file that is not ours is refused
        with CorrectionsError and left byte-for-byte as it was.
        """
        session = _check_session(session)
        path = Path(default_path() if path is None else path).expanduser()
        _refuse_foreign_file(path, create)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except (OSError, sqlite3.Error) as e:
            raise CorrectionsError(
                f"corrections store {path}: cannot open it ({e}); check the folder's permissions"
            ) from e
        store = cls(path, db, session)
        try:
            store._prepare()
        except BaseException:
            db.close()
            raise
        return store

    def _prepare(self) -> None:
        with self._sqlite_errors("open"):
            # WAL: readers never block the writer and see only committed transactions.
            self._db.execute("PRAGMA journal_mode = WAL")
            # FULL fsyncs the WAL at every commit. NORMAL would survive a kill -9 too, but a power
            # cut could take back the last verdicts; each fsync costs ~5 ms, far below a click.
            self._db.execute("PRAGMA synchronous = FULL")
        with self._write("open"):
            app_id, version = _schema_marks(self._db)
            if version == 0 and app_id == 0 and not _table_names(self._db):
                # One execute per statement: executescript would COMMIT the transaction first.
                for statement in _SCHEMA:
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                self._db.execute("INSERT INTO meta VALUES ('created', ?)", (_now(),))
            else:
                _check_schema_marks(self.path, app_id, version)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "CorrectionsStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _sqlite_errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as e:
            why = " ".join(str(e).split())  # a failed CHECK quotes its multi-line constraint
            if isinstance(e, sqlite3.OperationalError) and ("locked" in why or "busy" in why):
                raise CorrectionsError(
                    f"corrections store {self.path}: could not {action}, another process held it for "
                    f"{BUSY_TIMEOUT_S:g} s; nothing was written — try again, or close the other labeler"
                ) from e
            raise CorrectionsError(
                f"corrections store {self.path}: could not {action} ({why}); nothing was written"
            ) from e

    @contextmanager
    def _write(self, action: str) -> Iterator[None]:
        """One transaction that takes the write lock at its start, so nothing it read goes stale."""
        with self._sqlite_errors(action):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # a failed COMMIT may have ended it already
                    self._db.execute("ROLLBACK")
                raise

    # --- changes ----------------------------------------------------------------------------

    def set_verdict(self, digest: str, split: str, indices, verdict: str, *, given_labels: np.ndarray,
                    label: int | None = None) -> int:
        """Give one or many images the same verdict, in one transaction; returns how many changed.

        `given_labels` is the split's (N,) label array; `label` the right class for "relabel" and
        None otherwise. A relabel to an image's own given label is refused: that is "confirmed".
        """
        digest, size = _check_digest(digest), _check_split(split)
        verdict = _check_verdict(verdict)
        label = _check_label(verdict, label)
        indices = _check_indices(indices, size, split)
        given = _check_labels(given_labels, size, split, "given_labels")[indices]
        if verdict == "relabel" and (given == label).any():
            first = int(indices[given == label][0])
            raise CorrectionsError(
                f"relabel of index {first} to {label}: that is its given label; use verdict 'confirmed'"
            )
        stamp = _now()
        rows = [(int(i), verdict, label, int(g), stamp) for i, g in zip(indices, given)]
        with self._write("save the verdicts"):
            return self._replace(digest, split, rows, self.session)

    def clear(self, digest: str, split: str, indices) -> int:
        """Back to "no verdict" for these images, in one transaction; returns how many had one."""
        digest, size = _check_digest(digest), _check_split(split)
        indices = _check_indices(indices, size, split)
        with self._write("clear the verdicts"):
            current = self._current(digest, split, indices)
            self._db.executemany(
                "DELETE FROM verdicts WHERE dataset_digest = ? AND split = ? AND idx = ?",
                [(digest, split, i) for i in current],
            )
            self._append_history(digest, split, [(old, None) for old in current.values()], self.session)
            return len(current)

    def _replace(self, digest: str, split: str, rows: list[tuple], session: str) -> int:
        """Write (index, verdict, new_label, given_label, time) rows that differ from the current ones."""
        current = self._current(digest, split, np.array([r[0] for r in rows], dtype=np.int64))
        new = [Verdict(*row) for row in rows]
        changes = [(current.get(v.index), v) for v in new if _changed(current.get(v.index), v)]
        self._db.executemany(
            "INSERT OR REPLACE INTO verdicts (dataset_digest, split, idx, verdict, new_label, given_label, time)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(digest, split, v.index, v.verdict, v.new_label, v.given_label, v.time) for _, v in changes],
        )
        self._append_history(digest, split, changes, session)
        return len(changes)

    def _append_history(self, digest: str, split: str, changes: list[tuple], session: str) -> None:
        """(old, new) Verdict pairs; None on either side is "no verdict"."""
        stamp, pid = _now(), os.getpid()
        self._db.executemany(
            "INSERT INTO history (dataset_digest, split, idx, old_verdict, old_label, new_verdict, new_label,"
            " given_label, time, pid, session) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (digest, split, (new or old).index,
                 old and old.verdict, old and old.new_label, new and new.verdict, new and new.new_label,
                 (new or old).given_label, stamp, pid, session)
                for old, new in changes
            ],
        )

    def _current(self, digest: str, split: str, indices: np.ndarray) -> dict[int, Verdict]:
        found: dict[int, Verdict] = {}
        chunk = 500  # below SQLite's oldest limit of 999 bound parameters
        for start in range(0, len(indices), chunk):
            part = [int(i) for i in indices[start:start + chunk]]
            marks = ",".join("?" * len(part))
            cursor = self._db.execute(
                "SELECT idx, verdict, new_label, given_label, time FROM verdicts"
                f" WHERE dataset_digest = ? AND split = ? AND idx IN ({marks})",
                (digest, split, *part),
            )
            found.update((row[0], Verdict(*row)) for row in cursor)
        return found

    # --- reading ----------------------------------------------------------------------------

    def verdicts(self, digest: str, split: str) -> dict[int, Verdict]:
        """Every current verdict of the split, by index (committed ones only)."""
        _check_digest(digest)
        _check_split(split)
        with self._sqlite_errors("read the verdicts"):
            rows = self._db.execute(
                "SELECT idx, verdict, new_label, given_label, time FROM verdicts"
                " WHERE dataset_digest = ? AND split = ? ORDER BY idx",
                (digest, split),
            ).fetchall()
        return {row[0]: Verdict(*row) for row in rows}

    def counts(self, digest: str, split: str) -> dict[str, int]:
        """How many images have each verdict (every verdict is a key, zeros included)."""
        _check_digest(digest)
        _check_split(split)
        with self._sqlite_errors("count the verdicts"):
            rows = self._db.execute(
                "SELECT verdict, count(*) FROM verdicts WHERE dataset_digest = ? AND split = ? GROUP BY verdict",
                (digest, split),
            ).fetchall()
        return {verdict: 0 for verdict in VERDICTS} | dict(rows)

    def apply(self, digest: str, split: str, labels: np.ndarray) -> "AppliedCorrections":
        """The split's labels with the verdicts applied, all from one snapshot of the store.

        Refuses verdicts whose given label is not the label in `labels`: they were made on other data.
        """
        size = _check_split(split)
        labels = _check_labels(labels, size, split, "labels")
        verdicts = self.verdicts(digest, split)
        corrected, keep = labels.copy(), np.ones(size, dtype=bool)
        for v in verdicts.values():
            if v.given_label != labels[v.index]:
                raise CorrectionsError(
                    f"verdict on {split} index {v.index} was made on given label {v.given_label}, but the "
                    f"labels passed say {labels[v.index]}; pass this split's labels, or clear that verdict"
                )
            if v.verdict == "relabel":
                corrected[v.index] = v.new_label
            elif v.verdict == "exclude":
                keep[v.index] = False
        counts = {verdict: sum(v.verdict == verdict for v in verdicts.values()) for verdict in VERDICTS}
        return AppliedCorrections(corrected, keep, _digest_of(digest, split, verdicts), counts)

    def digest_of(self, digest: str, split: str) -> str:
        """SHA-256 of the split's current verdicts (not their times): names the corrections a model used."""
        return _digest_of(digest, split, self.verdicts(digest, split))

    def history(self, digest: str, split: str, index: int | None = None) -> list[HistoryEntry]:
        """Every change to the split (or to one image), oldest first."""
        _check_digest(digest)
        size = _check_split(split)
        where, params = "dataset_digest = ? AND split = ?", [digest, split]
        if index is not None:
            if not _is_int(index):
                raise CorrectionsError(f"index {index!r:.80}: expected an int or None")
            where, params = where + " AND idx = ?", params + [int(_check_indices(index, size, split)[0])]
        with self._sqlite_errors("read the history"):
            rows = self._db.execute(
                "SELECT seq, idx, old_verdict, old_label, new_verdict, new_label, given_label, time, pid, session"
                f" FROM history WHERE {where} ORDER BY seq",
                params,
            ).fetchall()
        return [HistoryEntry(*row) for row in rows]

    # --- interchange ------------------------------------------------------------------------

    def import_json(self, path: str | os.PathLike) -> int:
        """Import a labeler JSON sidecar (format /1) or an export_json file (/2), once.

        Returns how many verdicts it added; 0 when this exact file was imported before. Verdicts
        already in the store win over the file's. The file is only read. A damaged file is
        refused with CorrectionsError and nothing is imported.
        """
        path = Path(path)
        data = _read_limited(path)
        sha = hashlib.sha256(data).hexdigest()
        digest, split, rows = _parse_json(path, data)
        with self._write("import the corrections"):
            key = f"imported:{sha}"
            if self._db.execute("SELECT 1 FROM meta WHERE key = ?", (key,)).fetchone():
                return 0
            have = self._current(digest, split, np.array([r[0] for r in rows], dtype=np.int64))
            added = self._replace(digest, split, [r for r in rows if r[0] not in have], f"import:{sha}")
            record = {"path": str(path.resolve()), "time": _now(), "added": added}
            self._db.execute("INSERT INTO meta VALUES (?, ?)", (key, json.dumps(record)))
            return added

    def export_json(self, path: str | os.PathLike, digest: str, split: str) -> int:
        """Write the split's verdicts as a format /2 JSON file, atomically; returns how many."""
        verdicts = self.verdicts(digest, split)
        doc = {
            "format": EXPORT_FORMAT,
            "dataset_digest": digest,
            "split": split,
            "corrections_digest": _digest_of(digest, split, verdicts),
            "verdicts": [
                {"index": v.index, "verdict": v.verdict, "given_label": v.given_label,
                 "new_label": v.new_label, "time": v.time}
                for v in verdicts.values()
            ],
        }
        _write_export(path, (json.dumps(doc, indent=1) + "\n").encode("utf-8"))
        return len(verdicts)

    def export_csv(self, path: str | os.PathLike, digest: str, split: str) -> int:
        """Write the split's verdicts as CSV with class names, atomically; returns how many rows."""
        verdicts = self.verdicts(digest, split)
        text = io.StringIO()
        w = csv.writer(text, lineterminator="\n")
        w.writerow(["split", "index", "verdict", "given_label", "given_class", "new_label", "new_class", "time"])
        for v in verdicts.values():
            new = ("", "") if v.new_label is None else (v.new_label, CLASS_NAMES[v.new_label])
            w.writerow([split, v.index, v.verdict, v.given_label, CLASS_NAMES[v.given_label], *new, v.time])
        _write_export(path, text.getvalue().encode("utf-8"))
        return len(verdicts)


def _write_export(path: str | os.PathLike, data: bytes) -> None:
    try:
        atomic_write(path, data)
    except OSError as e:
        raise CorrectionsError(f"could not write {path} ({e}); choose a folder you can write to") from e


def _digest_of(digest: str, split: str, verdicts: dict[int, Verdict]) -> str:
    h = hashlib.sha256(f"{EXPORT_FORMAT}\n{digest}\n{split}\n".encode())
    for v in verdicts.values():
        h.update(f"{v.index},{v.verdict},{'' if v.new_label is None else v.new_label},{v.given_label}\n".encode())
    return h.hexdigest()


def _changed(old: Verdict | None, new: Verdict) -> bool:
    if old is None:
        return True
    return (old.verdict, old.new_label, old.given_label) != (new.verdict, new.new_label, new.given_label)


# --- refusing files that are not ours ---------------------------------------------------------


def _schema_marks(db: sqlite3.Connection) -> tuple[int, int]:
    return db.execute("PRAGMA application_id").fetchone()[0], db.execute("PRAGMA user_version").fetchone()[0]


def _table_names(db: sqlite3.Connection) -> list[str]:
    return [row[0] for row in db.execute("SELECT name FROM sqlite_master")]


def _check_schema_marks(path: Path, app_id: int, version: int) -> None:
    if app_id != APPLICATION_ID:
        raise CorrectionsError(
            f"{path} is an SQLite database of another program, not a fashion-labeler corrections store; "
            "it was left untouched — name another file, or move it away"
        )
    if version != SCHEMA_VERSION:
        raise CorrectionsError(
            f"{path} is a corrections store of schema version {version}, this program reads version "
            f"{SCHEMA_VERSION}; it was left untouched — use the fashion-labeler version that wrote it"
        )


def _refuse_foreign_file(path: Path, create: bool) -> None:
    """Look at an existing file without writing to it; raise CorrectionsError unless it is ours."""
    if path.is_dir():
        raise CorrectionsError(f"corrections store {path} is a folder; name a file such as {path / FILE_NAME}")
    if not path.exists():
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
        raise CorrectionsError(
            f"{path} is not an SQLite file (it starts with {head[:8]!r}); it was left untouched — "
            "a JSON sidecar is imported with import_json, not opened; name another file"
        )
    # Immutable and read-only: the probe takes no lock, creates no -wal or -shm file beside another
    # program's database, and cannot checkpoint its WAL into it on close.
    try:
        probe = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            app_id, version = _schema_marks(probe)
            tables = _table_names(probe)
        finally:
            probe.close()
    except sqlite3.Error as e:
        raise CorrectionsError(
            f"{path} is a damaged SQLite file ({e}); it was left untouched — move it away"
        ) from e
    if app_id or version or tables:
        _check_schema_marks(path, app_id, version)


# --- reading JSON files to import, with limits ------------------------------------------------


def _read_limited(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_JSON_BYTES + 1)
    except OSError as e:
        raise CorrectionsError(f"corrections file {path}: cannot read it ({e})") from e
    if len(data) > MAX_JSON_BYTES:
        raise CorrectionsError(
            f"corrections file {path} is over {MAX_JSON_BYTES // 2**20} MiB, far more than 60,000 verdicts take; "
            "nothing imported"
        )
    return data


def _json_depth(text: str) -> int:
    """Deepest nesting of [ and { outside strings; linear, so hostile nesting cannot hit the stack."""
    bare = _JSON_STRING.sub("", text).encode("utf-8")
    codes = np.frombuffer(bare, dtype=np.uint8)
    opens = (codes == ord("[")) | (codes == ord("{"))
    closes = (codes == ord("]")) | (codes == ord("}"))
    return int(np.cumsum(opens.astype(np.int64) - closes).max(initial=0))


def _refuse_float(text: str):
    raise ValueError(f"number {text[:40]} is not an integer (this format has only integers)")


def _refuse_constant(text: str):
    raise ValueError(f"{text} is not a JSON number")


def _limited_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_JSON_INT_DIGITS:
        raise ValueError(f"integer of {len(text)} digits")
    return int(text)


def _unique_keys(pairs: list[tuple]) -> dict:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate key in object with keys {keys[:10]}")
    return dict(pairs)


def _parse_json(path: Path, data: bytes) -> tuple[str, str, list[tuple]]:
    """(dataset digest, split, [(index, verdict, new_label, given_label, time)]) or CorrectionsError."""
    def damaged(why) -> CorrectionsError:
        return CorrectionsError(
            f"corrections file {path} is damaged ({why}); it was left untouched and nothing imported"
        )

    try:
        text = data.decode("utf-8")
        if _json_depth(text) > MAX_JSON_DEPTH:
            raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
        doc = json.loads(text, parse_float=_refuse_float, parse_int=_limited_int,
                         parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise damaged(e) from e
    if not isinstance(doc, dict) or doc.get("format") not in (LEGACY_FORMAT, EXPORT_FORMAT):
        raise CorrectionsError(
            f"{path} is not a fashion-labeler corrections file (expected format {LEGACY_FORMAT!r} or "
            f"{EXPORT_FORMAT!r}); it was left untouched and nothing imported"
        )
    try:
        digest, split = doc["dataset_digest"], doc["split"]
        _check_digest(digest)
        size = _check_split(split)
        if doc["format"] == LEGACY_FORMAT:
            rows = [_legacy_row(item, split, size) for item in doc["corrections"]]
        else:
            rows = [_export_row(item, split, size) for item in doc["verdicts"]]
            in_file = {row[0]: Verdict(*row) for row in sorted(rows, key=lambda row: row[0])}
            if doc["corrections_digest"] != _digest_of(digest, split, in_file):
                raise ValueError("its verdicts do not match its corrections_digest")
    except KeyError as e:
        raise damaged(f"no {e} key") from e
    except (CorrectionsError, TypeError, ValueError) as e:
        raise damaged(e) from e
    indices = [r[0] for r in rows]
    if len(set(indices)) != len(indices):
        raise damaged("an index appears twice")
    return digest, split, rows


def _entry(item, keys: set[str]) -> dict:
    if not isinstance(item, dict) or set(item) != keys:
        raise ValueError(f"entry {str(item)[:120]}: expected an object with the keys {sorted(keys)}")
    return item


def _json_index(value, size: int, split: str) -> int:
    if not _is_int(value):
        raise ValueError(f"index {value!r:.40} is not an integer")
    return int(_check_indices(value, size, split)[0])


def _json_label(value, what: str) -> int:
    if not _is_int(value) or not 0 <= value < NUM_CLASSES:
        raise ValueError(f"{what} {value!r:.40}: expected an int 0..{NUM_CLASSES - 1}")
    return value


def _json_time(value) -> str:
    if not isinstance(value, str) or len(value) > MAX_TIME_CHARS:
        raise ValueError(f"time {value!r:.40}: expected an ISO 8601 string")
    datetime.fromisoformat(value)  # ValueError if it is not one
    return value


def _legacy_row(item, split: str, size: int) -> tuple:
    item = _entry(item, {"split", "index", "original_label", "new_label", "time"})
    if item["split"] != split:
        raise ValueError(f"entry for split {item['split']!r:.20} in a {split} file")
    given, new = _json_label(item["original_label"], "original_label"), _json_label(item["new_label"], "new_label")
    if given == new:
        raise ValueError(f"index {item['index']} relabelled to its own label {new}")
    return (_json_index(item["index"], size, split), "relabel", new, given, _json_time(item["time"]))


def _export_row(item, split: str, size: int) -> tuple:
    item = _entry(item, {"index", "verdict", "given_label", "new_label", "time"})
    verdict = _check_verdict(item["verdict"])
    given, new = _json_label(item["given_label"], "given_label"), _check_label(verdict, item["new_label"])
    if new == given:
        raise ValueError(f"index {item['index']} relabelled to its own label {new}")
    return (_json_index(item["index"], size, split), verdict, new, given, _json_time(item["time"]))
