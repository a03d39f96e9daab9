"""A file handed to an import (corrections JSON or CSV), read whole but never past a ceiling: a
file of gigabytes is refused after reading one byte over it, not read into memory first."""

from __future__ import annotations

from pathlib import Path

from inference.core.errors import CorrectionsError


def read_bounded(path: Path, limit: int, what: str, bound: str) -> bytes:
    """The bytes of `path`, at most `limit` of them; `what` names the file in an error ("corrections
    CSV"), and `bound` says what fits well within the limit ("60,000 verdicts take")."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        reason = e.strerror or str(e)
        raise CorrectionsError(f"{what} {path}: cannot read it ({reason}); check the name and its permissions") from e
    if len(data) > limit:
        raise CorrectionsError(
            f"{what} {path} is over {limit // 2**20} MiB, far more than {bound}; nothing was imported"
        )
    return data
