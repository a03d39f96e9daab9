"""The optional metadata of an exported model, parsed so that a value that does not parse is unknown.

A model whose `test_accuracy` reads "n/a" is still a model: only the contract (inputs, outputs,
class names) is a reason to refuse one; everything here reads as None when it is not usable.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class OptionalMetadata:
    test_accuracy: float | None
    temperature: float | None  # the T of softmax(logits / T), when the export was calibrated
    dataset_sha256: str | None
    created: str | None
    variant: str | None

    @classmethod
    def parse(cls, metadata: dict[str, str]) -> OptionalMetadata:
        return cls(
            test_accuracy=_number(metadata.get("test_accuracy"), lambda v: 0 <= v <= 1),
            temperature=_number(metadata.get("temperature"), lambda v: v > 0),
            dataset_sha256=_hex_digest(metadata.get("dataset_sha256")),
            created=_timestamp(metadata.get("created")),
            variant=(metadata.get("variant") or "").strip() or None,
        )


def _number(text: str | None, plausible: Callable[[float], bool]) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and plausible(value) else None


def _hex_digest(text: str | None) -> str | None:
    return text if text is not None and SHA256.fullmatch(text) else None


def _timestamp(text: str | None) -> str | None:
    """The ISO 8601 time as written, when it is one."""
    try:
        datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return text
