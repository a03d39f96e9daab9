"""Tags on images in the corrections store: the rule a tag's text follows, and the store's tag methods.

A tag is a reviewer's short name for a kind of case ("camisole", "bag with strap"), beside the
verdicts and independent of them: tagging changes no label, and training ignores tags. Every
change is one transaction that also appends to an append-only tag history, as verdicts do.

The rule for a tag's text lives here alone (the labeler's tag field, the CSV import and the
store all call `check_tag`): see TAG_RULE.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from inference.core.corrections.values import check_digest, check_indices, check_split, image_filter, is_int, now_utc
from inference.core.errors import CorrectionsError

TAG_MAX_CHARS = 40  # "whole person not a garment" is 26; a sentence belongs in a note, not a tag
# Commas and semicolons separate tags (in the tag field and in the CSV's tags cell), so they
# cannot be part of one. A first character that is a letter or digit keeps a tag from reading as
# a spreadsheet formula (=, +, -, @) when the CSV is opened.
_TAG = re.compile(r"[^\W_][\w .'/()+-]*")
TAG_SEPARATORS = re.compile(r"[,;]")
CSV_TAG_SEPARATOR = "; "
TAG_RULE = (
    f"a tag is 1 to {TAG_MAX_CHARS} characters: letters, digits, spaces and - _ . ' / ( ) +, "
    "starting with a letter or digit; commas and semicolons separate tags"
)


@dataclass(frozen=True)
class TagChange:
    seq: int  # order of the changes in this file
    index: int
    tag: str
    change: str  # "added" or "removed"
    time: str  # ISO 8601, UTC
    pid: int
    session: str


def check_tag(text: object) -> str:
    """One tag, normalised (spaces collapsed, lower case) so "Camisole " and "camisole" are one tag."""
    if not isinstance(text, str):
        raise CorrectionsError(f"tag {text!r:.80}: expected text; {TAG_RULE}")
    tag = " ".join(text.split()).lower()
    if not 1 <= len(tag) <= TAG_MAX_CHARS or not _TAG.fullmatch(tag):
        raise CorrectionsError(f"tag {text!r:.60}: {TAG_RULE}")
    return tag


def parse_tags(text: str) -> tuple[str, ...]:
    """The tags in a tag field or a CSV cell ("camisole; bag with strap"), checked, sorted, each once."""
    parts = [part for part in TAG_SEPARATORS.split(text) if part.strip()]
    return tuple(sorted({check_tag(part) for part in parts}))


def join_tags(tags: Iterable[str]) -> str:
    """The CSV cell for a set of tags: `parse_tags` reads it back."""
    return CSV_TAG_SEPARATOR.join(sorted(tags))


class _StoreParts(Protocol):
    """What the tag methods use of the CorrectionsStore that inherits them (the self-type of a mixin)."""

    session: str
    _db: sqlite3.Connection

    def _sqlite_errors(self, action: str) -> AbstractContextManager[None]: ...

    def _write(self, action: str) -> AbstractContextManager[None]: ...


class StoreTags:
    """The corrections store's tag methods; CorrectionsStore inherits them (its `_db`, `_write`,
    `_sqlite_errors` and `session` are used here)."""

    def tags(self: _StoreParts, digest: str, split: str) -> dict[int, frozenset[str]]:
        """Every tagged image of the split: index -> its tags (committed ones only)."""
        check_digest(digest)
        check_split(split)
        with self._sqlite_errors("read the tags"):
            rows = self._db.execute(
                "SELECT idx, tag FROM tags WHERE dataset_digest = ? AND split = ? ORDER BY idx", (digest, split)
            ).fetchall()
        found: dict[int, set[str]] = {}
        for idx, tag in rows:
            found.setdefault(idx, set()).add(tag)
        return {idx: frozenset(tags) for idx, tags in found.items()}

    def set_tags(self: _StoreParts, digest: str, split: str, tags_by_index: Mapping[int, Iterable[str]]) -> int:
        """Make each listed image's tags exactly the ones given (empty: none), in one transaction;
        returns how many tags were added or removed. Every tag is checked before anything is written."""
        digest, size = check_digest(digest), check_split(split)
        wanted: dict[int, frozenset[str]] = {}
        for index, tags in tags_by_index.items():
            if not is_int(index):
                raise CorrectionsError(f"index {index!r:.80}: expected an int (not a bool, float or string)")
            check_indices(index, size, split)
            if isinstance(tags, str):
                raise CorrectionsError(
                    f"tags of index {index}: expected a collection of tags, got the text "
                    f"{tags!r:.60}; use parse_tags for a field's text"
                )
            wanted[int(index)] = frozenset(check_tag(tag) for tag in tags)
        stamp, pid = now_utc(), os.getpid()
        with self._write("save the tags"):
            have = _tags_of(self._db, digest, split, list(wanted))
            added = [(i, t) for i, tags in wanted.items() for t in sorted(tags - have.get(i, frozenset()))]
            removed = [(i, t) for i, tags in wanted.items() for t in sorted(have.get(i, frozenset()) - tags)]
            self._db.executemany(
                "INSERT INTO tags (dataset_digest, split, idx, tag, time) VALUES (?, ?, ?, ?, ?)",
                [(digest, split, i, t, stamp) for i, t in added],
            )
            self._db.executemany(
                "DELETE FROM tags WHERE dataset_digest = ? AND split = ? AND idx = ? AND tag = ?",
                [(digest, split, i, t) for i, t in removed],
            )
            self._db.executemany(
                "INSERT INTO tag_history (dataset_digest, split, idx, tag, change, time, pid, session)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (digest, split, i, t, change, stamp, pid, self.session)
                    for change, pairs in (("added", added), ("removed", removed))
                    for i, t in pairs
                ],
            )
            return len(added) + len(removed)

    def tag_history(self: _StoreParts, digest: str, split: str, index: int | None = None) -> list[TagChange]:
        """Every tag added to or removed from the split (or one image), oldest first."""
        where, params = image_filter(digest, split, index)
        with self._sqlite_errors("read the tag history"):
            rows = self._db.execute(
                f"SELECT seq, idx, tag, change, time, pid, session FROM tag_history WHERE {where} ORDER BY seq", params
            ).fetchall()
        return [TagChange(*row) for row in rows]


def _tags_of(db: sqlite3.Connection, digest: str, split: str, indices: list[int]) -> dict[int, frozenset[str]]:
    """The tags these images have now, read inside the caller's write transaction."""
    found: dict[int, set[str]] = {}
    chunk = 500  # below SQLite's oldest limit of 999 bound parameters
    for start in range(0, len(indices), chunk):
        part = indices[start : start + chunk]
        cursor = db.execute(
            f"SELECT idx, tag FROM tags WHERE dataset_digest = ? AND split = ? AND idx IN ({','.join('?' * len(part))})",
            (digest, split, *part),
        )
        for idx, tag in cursor:
            found.setdefault(idx, set()).add(tag)
    return {idx: frozenset(tags) for idx, tags in found.items()}
