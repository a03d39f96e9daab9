"""The split's tags as the Qt models use them: each image's tags, and each tag's images as an
array, so a tag filter or count is one numpy operation. Read from the store, never written here.
No Qt here."""

from __future__ import annotations

import numpy as np

NO_TAGS: tuple[str, ...] = ()


class ImageTags:
    def __init__(self, size: int = 0):
        self.size = size
        self.by_image: dict[int, frozenset[str]] = {}
        self.rows_by_tag: dict[str, np.ndarray] = {}  # tag -> sorted dataset indices

    def replace(self, by_image: dict[int, frozenset[str]]) -> np.ndarray:
        """Take the store's tags; returns the dataset indices whose tags changed."""
        changed = [i for i in set(self.by_image) | set(by_image) if self.by_image.get(i) != by_image.get(i)]
        self.by_image = dict(by_image)
        rows: dict[str, list[int]] = {}
        for index, tags in by_image.items():
            for tag in tags:
                rows.setdefault(tag, []).append(index)
        self.rows_by_tag = {tag: np.array(sorted(r), np.int64) for tag, r in sorted(rows.items())}
        return np.array(sorted(changed), np.int64)

    def of(self, row: int) -> tuple[str, ...]:
        tags = self.by_image.get(row)
        return tuple(sorted(tags)) if tags else NO_TAGS

    def names(self) -> list[str]:
        """Every tag in use, alphabetically."""
        return list(self.rows_by_tag)

    def mask(self, tag: str) -> np.ndarray:
        """(N,) bool: the images that carry `tag` (none for a tag not in use)."""
        mask = np.zeros(self.size, bool)
        rows = self.rows_by_tag.get(tag)
        if rows is not None:
            mask[rows] = True
        return mask

    def count_in(self, shown: np.ndarray) -> dict[str, int]:
        """Per tag, how many of its images the (N,) bool mask `shown` keeps."""
        return {tag: int(np.count_nonzero(shown[rows])) for tag, rows in self.rows_by_tag.items()}

    def in_rows(self, rows: np.ndarray) -> dict[str, int]:
        """Per tag, how many of the dataset indices `rows` carry it (tags with none left out)."""
        counts: dict[str, int] = {}
        for row in rows.tolist():
            for tag in self.by_image.get(row, ()):
                counts[tag] = counts.get(tag, 0) + 1
        return dict(sorted(counts.items()))
