"""The corrections store's file, looked at before SQLite opens it for writing: is it ours?

Nothing here writes to the file or its -wal, or creates a file beside it. In order:
  - only a regular file (or a symlink to one), checked with os.stat: a FIFO would hang the open,
    a device or socket is no database; so are a -wal or -shm beside it that is not a regular file;
  - the SQLite magic bytes, read without blocking;
  - SQLite itself, read-only, the write-ahead log included: after a full disk or a crash the
    committed verdicts may live only in the -wal, and the main file alone can read as damaged.
    Then the marks (application_id, user_version) and the whole schema (schema.py).

SQLite reads a WAL database read-only only through a -shm file, and creates one (and an empty
-wal) when it is missing: so with no -wal the main file is the whole database and is read as
immutable; with both it is read in place (SQLite may rebuild the -shm, its index of the -wal, as
every reader does); with a -wal but no -shm (a copy, a crash) a private copy of the two is read
instead, so no -shm is ever left beside another program's database.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import tempfile
from pathlib import Path

from inference.core.corrections.schema import (
    FILE_NAME,
    check_schema,
    check_schema_marks,
    move_away,
    schema_marks,
    table_names,
)
from inference.core.errors import CorrectionsError

SQLITE_MAGIC = b"SQLite format 3\x00"
PROBE_TIMEOUT_S = 5.0  # a reader waits only while another process recovers the WAL: milliseconds

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _stat(path: Path) -> os.stat_result | None:
    """os.stat of the file a symlink points to; None when there is nothing at `path`."""
    try:
        return path.stat()
    except FileNotFoundError:
        if path.is_symlink():  # SQLite would create the file it points to, wherever that is
            raise CorrectionsError(
                f"corrections store {path} is a symlink to {os.readlink(path)}, which does not exist; "
                "name the store itself"
            ) from None
        return None
    except OSError as e:  # a name too long, a folder we may not enter, a symlink loop
        raise CorrectionsError(f"corrections store {path} cannot be used ({e.strerror}); name another file") from e


def _refuse_special(path: Path, st: os.stat_result, what: str, fix: str | None = None) -> None:
    if not stat.S_ISREG(st.st_mode):
        link = f" (a symlink to {os.path.realpath(path)})" if path.is_symlink() else ""
        raise CorrectionsError(
            f"{what} {path}{link} is {_kind(st.st_mode)}, not a regular file; it was left untouched — "
            + (fix or f"name a regular file such as {path.parent / FILE_NAME}")
        )


def _head(path: Path) -> bytes:
    """The first bytes, read without blocking: the file may have been swapped for a FIFO since stat."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise CorrectionsError(f"corrections store {path}: cannot read it ({e.strerror}); check its permissions") from e
    try:
        _refuse_special(path, os.fstat(fd), "corrections store")
        return os.read(fd, len(SQLITE_MAGIC))
    except OSError as e:
        raise CorrectionsError(f"corrections store {path}: cannot read it ({e.strerror}); check its permissions") from e
    finally:
        os.close(fd)


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
    st = _stat(path)
    if st is None:
        if not create:
            raise CorrectionsError(
                f"corrections store {path} does not exist; label some images first, or check the path"
            )
        return
    if stat.S_ISDIR(st.st_mode):
        raise CorrectionsError(f"corrections store {path} is a folder; name a file such as {path / FILE_NAME}")
    _refuse_special(path, st, "corrections store")
    sides: dict[str, os.stat_result | None] = {}
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        sides[suffix] = side_stat = _stat(side)
        if side_stat is not None:
            _refuse_special(
                side,
                side_stat,
                f"the store's {suffix} file",
                f"remove or rename {side.name}: SQLite needs a regular file there",
            )
    head = _head(path)
    if not head:
        wal = sides["-wal"]
        if wal is not None and wal.st_size:
            # SQLite deletes the -wal of an empty database file: the changes in it would be lost.
            raise CorrectionsError(
                f"corrections store {path} is empty but its {path.name}-wal holds changes; it was left "
                f"untouched — copy the store back from where it came from, with its -wal file"
            )
        return  # an empty file is an empty database to SQLite: nothing to lose
    if head != SQLITE_MAGIC:
        raise CorrectionsError(
            f"{path} is {_looks_like(path, head)}, not a corrections store; it was left "
            f"untouched — {_how_to_use(path, head)}"
        )
    _probe(path, has_wal=sides["-wal"] is not None, has_shm=sides["-shm"] is not None)


def _probe(path: Path, has_wal: bool, has_shm: bool) -> None:
    if has_wal and not has_shm:
        with tempfile.TemporaryDirectory(prefix="corrections-probe-") as private:
            copy = Path(private) / FILE_NAME
            try:
                shutil.copyfile(path, copy)
                shutil.copyfile(path.with_name(path.name + "-wal"), copy.with_name(copy.name + "-wal"))
            except OSError as e:
                raise CorrectionsError(
                    f"corrections store {path}: cannot read it ({e.strerror}); check its permissions"
                ) from e
            _probe_at(path, f"{copy.as_uri()}?mode=ro")
    else:
        # No -wal: the main file is the whole database, read as immutable (no -shm, no locks).
        # A -wal and a -shm: SQLite reads both in place, creating nothing.
        _probe_at(path, f"{path.resolve().as_uri()}?mode=ro" + ("" if has_wal else "&immutable=1"))


def _probe_at(path: Path, uri: str) -> None:
    try:
        probe = sqlite3.connect(uri, uri=True, timeout=PROBE_TIMEOUT_S)
        try:
            app_id, version = schema_marks(probe)
            if not (app_id or version or table_names(probe)):
                return  # an empty database: the store creates its schema in it
            check_schema_marks(path, app_id, version)
            check_schema(probe, path, version)
        finally:
            probe.close()
    except sqlite3.Error as e:
        raise CorrectionsError(
            f"{path} cannot be read as an SQLite database ({' '.join(str(e).split())}); it was left untouched — "
            f"if it is a damaged corrections store, {move_away(path)} away, and keep them"
        ) from e
