"""Write a file so that a crash leaves either the old file or the new one, never a torn one.

Shared by the model export (training/), the labeler's corrections (gui/) and fashion-predict's
result files, which is why it lives in the base layer.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from types import TracebackType
from typing import Any


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Temporary file in the same folder, flush, fsync, rename over `path`, fsync the folder."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    # 0o644 whatever the umask: a model hidden by 0o600 breaks a server running as another user.
    with AtomicFile(path, binary=True, permissions=0o644) as f:
        f.write(data)


class AtomicFile:
    """A file that appears at `path` only when `commit()` is called, and then complete.

    `stream` writes to a hidden temporary file in the same folder (a rename is atomic only
    within one file system); `commit()` flushes, fsyncs and renames it over `path`; `discard()`
    (or any exception in a `with` block, KeyboardInterrupt included) removes it and leaves `path`
    as it was. The folder must exist. A symlink's target is replaced, not the link.

    Written in place instead, never replaced: a `path` that is not a regular file (/dev/null, a
    FIFO), since a regular file renamed over a device breaks it for everyone; and any name in
    /dev or /proc (/dev/stdout, /dev/fd/3), which stands for a file the shell opened, perhaps
    with `>>` to keep what it holds.
    permissions: mode bits of the new file (None: 0o666 less the umask, as open() gives).
    """

    def __init__(self, path: str | os.PathLike, *, binary: bool = False, permissions: int | None = None):
        mode = "wb" if binary else "w"
        encoding, newline = (None, None) if binary else ("utf-8", "")
        # TextIO or BinaryIO as `binary` says: Any, so that each caller uses the one it asked for.
        self.stream: Any
        self._tmp: Path | None = None
        given = Path(path)
        if _handle(given):
            # As given, not resolved: /dev/stdout resolves to /proc/<pid>/fd/pipe:[...], which
            # cannot be opened by name. Appending: reopening /dev/stdout with O_TRUNC would empty
            # the file behind `>> out.csv`. A folder raises IsADirectoryError here.
            self.path = given
            self.stream = open(given, mode.replace("w", "a"), encoding=encoding, newline=newline)
            return
        # realpath, not Path.resolve: Python 3.11's resolve raises RuntimeError on a symlink loop.
        self.path = Path(os.path.realpath(given))
        tmp = self.path.with_name(f".{self.path.name[:100]}.{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 if permissions is None else permissions)
        self._tmp = tmp
        try:
            if permissions is not None:
                os.fchmod(fd, permissions)  # the umask must not narrow what the caller asked for
            self.stream = os.fdopen(fd, mode, encoding=encoding, newline=newline)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise

    def commit(self) -> None:
        """Make the file appear under its name, complete; on any failure nothing is left behind."""
        try:
            self.stream.flush()
            if self._tmp is not None:
                os.fsync(self.stream.fileno())
            self.stream.close()
            if self._tmp is not None:
                os.replace(self._tmp, self.path)
        except BaseException:
            self.discard()
            raise
        if self._tmp is not None:
            # The rename itself must reach the disk too, or a power cut could bring back the old file.
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            self._tmp = None

    def discard(self) -> None:
        """Throw the unfinished file away; `path` keeps whatever it held before."""
        try:
            self.stream.close()
        except OSError:
            pass  # a full disk fails the final flush too; the file is being thrown away anyway
        finally:
            if self._tmp is not None:
                self._tmp.unlink(missing_ok=True)
                self._tmp = None

    def __enter__(self) -> Any:  # the stream: see above
        return self.stream

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()


def _handle(path: Path) -> bool:
    """Something to write into as it is, never to replace: a device, a FIFO, /dev/stdout."""
    if not path.exists():
        return False
    return not path.is_file() or path.absolute().parts[1:2] in (("dev",), ("proc",))
