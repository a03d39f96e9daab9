"""The corrections JSON file: the store's export (EXPORT_FORMAT), written here and read back with
limits, so that damage is refused before it can hurt. Size, nesting and integer length are
bounded before or while parsing, so a hostile file (1e999, deep nesting, a 5,000-digit number)
is one CorrectionsError instead of a crash at start. A relabel to the given
label is imported as a confirmation (verdicts.effective_verdict), as the store records one.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from inference.core.classes import NUM_CLASSES
from inference.core.corrections.import_file import read_bounded
from inference.core.corrections.values import (
    EXPORT_FORMAT,
    Verdict,
    VerdictRow,
    check_digest,
    check_indices,
    check_label,
    check_split,
    check_verdict,
    is_int,
    verdicts_digest,
)
from inference.core.corrections.verdicts import effective_verdict
from inference.core.errors import CorrectionsError
from inference.core.json_limits import json_depth

# An export of all 60,000 training images is about 8 MB and 3 levels deep, so anything far
# beyond is damage, refused before it can exhaust memory or stack.
MAX_JSON_BYTES = 32 * 1024 * 1024
MAX_JSON_DEPTH = 8
MAX_JSON_INT_DIGITS = 20
MAX_TIME_CHARS = 64


def export_bytes(digest: str, split: str, verdicts: dict[int, Verdict]) -> bytes:
    """The split's verdicts as an EXPORT_FORMAT document (what CorrectionsStore.export_json writes)."""
    doc = {
        "format": EXPORT_FORMAT,
        "dataset_digest": digest,
        "split": split,
        "corrections_digest": verdicts_digest(digest, split, verdicts),
        "verdicts": [
            {
                "index": v.index,
                "verdict": v.verdict,
                "given_label": v.given_label,
                "new_label": v.new_label,
                "time": v.time,
            }
            for v in verdicts.values()
        ],
    }
    return (json.dumps(doc, indent=1) + "\n").encode("utf-8")


def read_limited(path: Path) -> bytes:
    return read_bounded(path, MAX_JSON_BYTES, "corrections file", "60,000 verdicts take")


def _refuse_float(text: str) -> NoReturn:
    raise ValueError(f"number {text[:40]} is not an integer (this format has only integers)")


def _refuse_constant(text: str) -> NoReturn:
    raise ValueError(f"{text} is not a JSON number")


def _limited_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_JSON_INT_DIGITS:
        raise ValueError(f"integer of {len(text)} digits")
    return int(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate key in object with keys {keys[:10]}")
    return dict(pairs)


def parse_json_file(path: Path, data: bytes) -> tuple[str, str, list[VerdictRow]]:
    """(dataset digest, split, [(index, verdict, new_label, given_label, time)]) or CorrectionsError."""

    def damaged(why: object) -> CorrectionsError:
        return CorrectionsError(
            f"corrections file {path} is damaged ({why}); it was left untouched and nothing imported"
        )

    try:
        text = data.decode("utf-8")
        if json_depth(text) > MAX_JSON_DEPTH:
            raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
        doc = json.loads(
            text,
            parse_float=_refuse_float,
            parse_int=_limited_int,
            parse_constant=_refuse_constant,
            object_pairs_hook=_unique_keys,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise damaged(e) from e
    if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT:
        raise CorrectionsError(
            f"{path} is not a fashion-labeler corrections file (expected format {EXPORT_FORMAT!r}, as "
            "File ▸ Export corrections as JSON writes); it was left untouched and nothing imported"
        )
    try:
        digest, split = check_digest(doc["dataset_digest"]), doc["split"]
        size = check_split(split)
        rows = [_export_row(item, split, size) for item in doc["verdicts"]]
        # The digest covers the verdicts as the file spells them; the rule is applied after.
        in_file = {row[0]: Verdict(*row) for row in sorted(rows, key=lambda row: row[0])}
        if doc["corrections_digest"] != verdicts_digest(digest, split, in_file):
            raise ValueError("its verdicts do not match its corrections_digest")
    except KeyError as e:
        raise damaged(f"no {e} key") from e
    except (CorrectionsError, TypeError, ValueError) as e:
        raise damaged(e) from e
    indices = [r[0] for r in rows]
    if len(set(indices)) != len(indices):
        raise damaged("an index appears twice")
    return (
        digest,
        split,
        [(index, *effective_verdict(given, verdict, new), given, time) for index, verdict, new, given, time in rows],
    )


def _entry(item: object, keys: set[str]) -> dict[str, Any]:
    if not isinstance(item, dict) or set(item) != keys:
        raise ValueError(f"entry {str(item)[:120]}: expected an object with the keys {sorted(keys)}")
    return item


def _json_index(value: object, size: int, split: str) -> int:
    if not is_int(value):
        raise ValueError(f"index {value!r:.40} is not an integer")
    return int(check_indices(value, size, split)[0])


def _json_label(value: object, what: str) -> int:
    if not is_int(value) or not 0 <= value < NUM_CLASSES:
        raise ValueError(f"{what} {value!r:.40}: expected an int 0..{NUM_CLASSES - 1}")
    return int(value)


def _json_time(value: object) -> str:
    expected = f"time {value!r:.40}: expected an ISO 8601 string"
    if not isinstance(value, str) or len(value) > MAX_TIME_CHARS:
        raise ValueError(expected)
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(expected) from None
    return value


def _export_row(item: object, split: str, size: int) -> VerdictRow:
    """One verdict as the file spells it, every value checked (a relabel to its given label included)."""
    entry = _entry(item, {"index", "verdict", "given_label", "new_label", "time"})
    verdict = check_verdict(entry["verdict"])
    given, new = _json_label(entry["given_label"], "given_label"), check_label(verdict, entry["new_label"])
    return (_json_index(entry["index"], size, split), verdict, new, given, _json_time(entry["time"]))
