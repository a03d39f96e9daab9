"""The corrections store: a person's verdicts on Fashion-MNIST labels, one SQLite file per user.

The labeler writes it and `train-and-export --corrections` reads it, which is why it lives in
the torch-free core. Every change is its own transaction, opened with BEGIN IMMEDIATE, so two
labeler windows (or processes) on the same file never lose each other's verdicts, and a reader
only ever sees committed changes. Every change also appends a row to a history that triggers
keep append-only. Values are checked on the way in (CHECK constraints repeat the checks in the
schema), so a bad label is refused with one line instead of poisoning the file; and again on the
way out, with the file's schema before it is opened (file.py), because a file that
another program wrote can hold anything.

Verdicts, per (dataset digest, split, index):
  relabel    the given label is wrong; new_label (0..9, not the given label) is right
  confirmed  the given label is right (a relabel to the given label is stored as this: verdicts.py)
  exclude    ambiguous or not a garment: left out of training and evaluation
No verdict is no row: clearing a verdict deletes it (the history keeps it).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import numpy as np

from inference.core.atomic_write import atomic_write
from inference.core.corrections.csv_exchange import write_csv
from inference.core.corrections.file import refuse_foreign_file
from inference.core.corrections.json_file import export_bytes, parse_json_file, read_limited
from inference.core.corrections.migration import upgrade
from inference.core.corrections.schema import (
    APPLICATION_ID,
    FILE_NAME,
    SCHEMA,
    SCHEMA_VERSION,
    check_schema,
    check_schema_marks,
    schema_marks,
    table_names,
)
from inference.core.corrections.tags import StoreTags
from inference.core.corrections.values import (
    SPLIT_SIZES,
    AppliedCorrections,
    HistoryEntry,
    Indices,
    Verdict,
    VerdictRow,
    check_digest,
    check_indices,
    check_label,
    check_labels,
    check_session,
    check_split,
    check_verdict,
    image_filter,
    now_utc,
    stored_counts,
    stored_history,
    stored_verdict,
    verdicts_digest,
)
from inference.core.corrections.verdicts import VERDICTS, effective_verdict
from inference.core.errors import CorrectionsError

ENV_VAR = "FASHION_LABELER_DIR"
BUSY_TIMEOUT_S = 5.0  # another window's transaction lasts milliseconds; 5 s means it is stuck


def data_dir() -> Path:
    """Per-user folder: $FASHION_LABELER_DIR, else $XDG_DATA_HOME/fashion-labeler (as the labeler's)."""
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "fashion-labeler"


def default_path() -> Path:
    return data_dir() / FILE_NAME


# --- the store --------------------------------------------------------------------------------


class CorrectionsStore(StoreTags):
    """One user's corrections file. Open with `CorrectionsStore.open()`; use as a context manager.
    Its tag methods (tags, set_tags, tag_history) are in inference/core/corrections/tags.py."""

    def __init__(self, path: Path, connection: sqlite3.Connection, session: str):
        self.path = path
        self.session = session
        self._db = connection

    @classmethod
    def open(
        cls, path: str | os.PathLike[str] | None = None, *, create: bool = True, session: str = ""
    ) -> CorrectionsStore:
        """Open (or, with create, make) the store at `path` (default: default_path()).

        `session` names the window or tool in the history. A file that is not ours is refused
        with CorrectionsError and left byte-for-byte as it was.
        """
        session = check_session(session)
        path = Path(default_path() if path is None else path).expanduser()
        refuse_foreign_file(path, create)
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
            # No SQL function with side effects may run from the file's own schema (defence in depth:
            # the schema is also compared with ours below).
            self._db.execute("PRAGMA trusted_schema = OFF")
        with self._write("open"):
            app_id, version = schema_marks(self._db)
            if version == 0 and app_id == 0 and not table_names(self._db):
                # One execute per statement: executescript would COMMIT the transaction first.
                for statement in SCHEMA:
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                self._db.execute("INSERT INTO meta VALUES ('created', ?)", (now_utc(),))
            else:
                check_schema_marks(self.path, app_id, version)
                check_schema(self._db, self.path, version)  # again: the file as it is in this transaction
                if version < SCHEMA_VERSION:
                    upgrade(self._db, version)  # in this transaction: all of it, or the file as it was

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> CorrectionsStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
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

    def set_verdict(
        self,
        digest: str,
        split: str,
        indices: Indices,
        verdict: str,
        *,
        given_labels: np.ndarray,
        label: int | None = None,
    ) -> int:
        """Give one or many images the same verdict, in one transaction; returns how many changed.

        `given_labels` is the split's (N,) label array; `label` the right class for "relabel" and
        None otherwise. An image relabelled to its own given label is recorded as "confirmed".
        """
        digest, size = check_digest(digest), check_split(split)
        verdict = check_verdict(verdict)
        label = check_label(verdict, label)
        checked = check_indices(indices, size, split)
        given = check_labels(given_labels, size, split, "given_labels")[checked]
        stamp = now_utc()
        rows = [
            (int(i), *effective_verdict(int(g), verdict, label), int(g), stamp)
            for i, g in zip(checked, given, strict=True)
        ]
        with self._write("save the verdicts"):
            return self._replace(digest, split, rows, self.session)

    def clear(self, digest: str, split: str, indices: Indices) -> int:
        """Back to "no verdict" for these images, in one transaction; returns how many had one."""
        digest, size = check_digest(digest), check_split(split)
        checked = check_indices(indices, size, split)
        with self._write("clear the verdicts"):
            current = self._current(digest, split, checked)
            self._db.executemany(
                "DELETE FROM verdicts WHERE dataset_digest = ? AND split = ? AND idx = ?",
                [(digest, split, i) for i in current],
            )
            self._append_history(digest, split, [(old, None) for old in current.values()], self.session)
            return len(current)

    def _replace(self, digest: str, split: str, rows: list[VerdictRow], session: str) -> int:
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

    def _append_history(
        self, digest: str, split: str, changes: Sequence[tuple[Verdict | None, Verdict | None]], session: str
    ) -> None:
        """(old, new) Verdict pairs; None on one side is "no verdict" (never on both)."""
        stamp, pid = now_utc(), os.getpid()
        rows = []
        for old, new in changes:
            image = new or old
            assert image is not None, "a change has a verdict before it or after it"
            rows.append(
                (
                    digest,
                    split,
                    image.index,
                    old and old.verdict,
                    old and old.new_label,
                    new and new.verdict,
                    new and new.new_label,
                    image.given_label,
                    stamp,
                    pid,
                    session,
                )
            )
        self._db.executemany(
            "INSERT INTO history (dataset_digest, split, idx, old_verdict, old_label, new_verdict, new_label,"
            " given_label, time, pid, session) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def _current(self, digest: str, split: str, indices: np.ndarray) -> dict[int, Verdict]:
        found: dict[int, Verdict] = {}
        size = SPLIT_SIZES[split]
        chunk = 500  # below SQLite's oldest limit of 999 bound parameters
        for start in range(0, len(indices), chunk):
            part = [int(i) for i in indices[start : start + chunk]]
            marks = ",".join("?" * len(part))
            cursor = self._db.execute(
                "SELECT idx, verdict, new_label, given_label, time FROM verdicts"
                f" WHERE dataset_digest = ? AND split = ? AND idx IN ({marks})",
                (digest, split, *part),
            )
            found.update((row[0], stored_verdict(row, size, split, self.path)) for row in cursor)
        return found

    # --- reading ----------------------------------------------------------------------------

    def verdicts(self, digest: str, split: str) -> dict[int, Verdict]:
        """Every current verdict of the split, by index (committed ones only)."""
        check_digest(digest)
        size = check_split(split)
        with self._sqlite_errors("read the verdicts"):
            rows = self._db.execute(
                "SELECT idx, verdict, new_label, given_label, time FROM verdicts"
                " WHERE dataset_digest = ? AND split = ? ORDER BY idx",
                (digest, split),
            ).fetchall()
        return {row[0]: stored_verdict(row, size, split, self.path) for row in rows}

    def counts(self, digest: str, split: str) -> dict[str, int]:
        """How many images have each verdict (every verdict is a key, zeros included)."""
        check_digest(digest)
        check_split(split)
        with self._sqlite_errors("count the verdicts"):
            rows = self._db.execute(
                "SELECT verdict, count(*) FROM verdicts WHERE dataset_digest = ? AND split = ? GROUP BY verdict",
                (digest, split),
            ).fetchall()
        return stored_counts(rows, self.path)

    def apply(self, digest: str, split: str, labels: np.ndarray) -> AppliedCorrections:
        """The split's labels with the verdicts applied, all from one snapshot of the store.

        Refuses verdicts whose given label is not the label in `labels`: they were made on other data.
        """
        size = check_split(split)
        labels = check_labels(labels, size, split, "labels")
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
        return AppliedCorrections(corrected, keep, verdicts_digest(digest, split, verdicts), counts)

    def digest_of(self, digest: str, split: str) -> str:
        """SHA-256 of the split's current verdicts (not their times): names the corrections a model used."""
        return verdicts_digest(digest, split, self.verdicts(digest, split))

    def history(self, digest: str, split: str, index: int | None = None) -> list[HistoryEntry]:
        """Every change to the split (or to one image), oldest first."""
        where, params = image_filter(digest, split, index)
        with self._sqlite_errors("read the history"):
            rows = self._db.execute(
                "SELECT seq, idx, old_verdict, old_label, new_verdict, new_label, given_label, time, pid, session"
                f" FROM history WHERE {where} ORDER BY seq",
                params,
            ).fetchall()
        return [stored_history(row, check_split(split), split, self.path) for row in rows]

    # --- interchange ------------------------------------------------------------------------

    def import_json(self, path: str | os.PathLike[str]) -> int:
        """Import an export_json file (format /2), once.

        Returns how many verdicts it added; 0 when this exact file was imported before. Verdicts
        already in the store win over the file's. The file is only read. A damaged file is
        refused with CorrectionsError and nothing is imported.
        """
        path = Path(path)
        data = read_limited(path)
        sha = hashlib.sha256(data).hexdigest()
        digest, split, rows = parse_json_file(path, data)
        with self._write("import the corrections"):
            key = f"imported:{sha}"
            if self._db.execute("SELECT 1 FROM meta WHERE key = ?", (key,)).fetchone():
                return 0
            have = self._current(digest, split, np.array([r[0] for r in rows], dtype=np.int64))
            added = self._replace(digest, split, [r for r in rows if r[0] not in have], f"import:{sha}")
            record = {"path": str(path.resolve()), "time": now_utc(), "added": added}
            self._db.execute("INSERT INTO meta VALUES (?, ?)", (key, json.dumps(record)))
            return added

    def export_json(self, path: str | os.PathLike[str], digest: str, split: str) -> int:
        """Write the split's verdicts as a format /2 JSON file, atomically; returns how many."""
        verdicts = self.verdicts(digest, split)
        _write_export(path, export_bytes(digest, split, verdicts))
        return len(verdicts)

    def export_csv(self, path: str | os.PathLike[str], digest: str, split: str) -> int:
        """Write the split's verdicts and tags as CSV (inference/core/corrections/csv_exchange.py), atomically;
        returns how many rows. The labeler adds the label-issue report's columns."""
        return write_csv(path, split, self.verdicts(digest, split), self.tags(digest, split))


def _write_export(path: str | os.PathLike[str], data: bytes) -> None:
    try:
        atomic_write(path, data)
    except OSError as e:
        raise CorrectionsError(f"could not write {path} ({e}); choose a folder you can write to") from e


def _changed(old: Verdict | None, new: Verdict) -> bool:
    if old is None:
        return True
    return (old.verdict, old.new_label, old.given_label) != (new.verdict, new.new_label, new.given_label)
