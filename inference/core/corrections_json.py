"""Reading a corrections JSON file to import, with limits: damage is refused before it can hurt.

Two formats: the labeler's old sidecar (/1) and the store's own export (/2). Size, nesting and
integer length are bounded before or while parsing, so a hostile file (1e999, deep nesting, a
5,000-digit number) is one CorrectionsError instead of a crash at start.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from inference.core.classes import NUM_CLASSES
from inference.core.corrections_values import (
    EXPORT_FORMAT,
    Verdict,
    check_digest,
    check_indices,
    check_label,
    check_split,
    check_verdict,
    is_int,
    verdicts_digest,
)
from inference.core.errors import CorrectionsError
from inference.core.json_limits import json_depth

LEGACY_FORMAT = "fashion-labeler-corrections/1"  # the JSON sidecar the labeler wrote before this store
# A sidecar of all 60,000 training images is about 8 MB and 3 levels deep, so anything far
# beyond is damage, refused before it can exhaust memory or stack.
MAX_JSON_BYTES = 32 * 1024 * 1024
MAX_JSON_DEPTH = 8
MAX_JSON_INT_DIGITS = 20
MAX_TIME_CHARS = 64


def read_limited(path: Path) -> bytes:
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


def parse_json_file(path: Path, data: bytes) -> tuple[str, str, list[tuple]]:
    """(dataset digest, split, [(index, verdict, new_label, given_label, time)]) or CorrectionsError."""

    def damaged(why) -> CorrectionsError:
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
    if not isinstance(doc, dict) or doc.get("format") not in (LEGACY_FORMAT, EXPORT_FORMAT):
        raise CorrectionsError(
            f"{path} is not a fashion-labeler corrections file (expected format {LEGACY_FORMAT!r} or "
            f"{EXPORT_FORMAT!r}); it was left untouched and nothing imported"
        )
    try:
        digest, split = doc["dataset_digest"], doc["split"]
        check_digest(digest)
        size = check_split(split)
        if doc["format"] == LEGACY_FORMAT:
            rows = [_legacy_row(item, split, size) for item in doc["corrections"]]
        else:
            rows = [_export_row(item, split, size) for item in doc["verdicts"]]
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
    return digest, split, rows


def _entry(item, keys: set[str]) -> dict:
    if not isinstance(item, dict) or set(item) != keys:
        raise ValueError(f"entry {str(item)[:120]}: expected an object with the keys {sorted(keys)}")
    return item


def _json_index(value, size: int, split: str) -> int:
    if not is_int(value):
        raise ValueError(f"index {value!r:.40} is not an integer")
    return int(check_indices(value, size, split)[0])


def _json_label(value, what: str) -> int:
    if not is_int(value) or not 0 <= value < NUM_CLASSES:
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
    verdict = check_verdict(item["verdict"])
    given, new = _json_label(item["given_label"], "given_label"), check_label(verdict, item["new_label"])
    if new == given:
        raise ValueError(f"index {item['index']} relabelled to its own label {new}")
    return (_json_index(item["index"], size, split), verdict, new, given, _json_time(item["time"]))
