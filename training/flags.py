"""Flag types that refuse a bad value at parse time, and a parser whose errors fit on one line.

A value that slips through argparse fails much later and much worse: `--sigma nan` trains a
model of NaNs, a seed past 2**64 overflows inside torch after the data has loaded, and
`--batch-size 0` loops forever. Each type says what arrived and what it expects.
"""

from __future__ import annotations

import argparse
import math

SHOWN_CHARS = 40  # a 5,000-digit value is quoted by its start, so the message stays readable


def _quoted(text: str) -> str:
    return repr(text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "...")


def finite_float(low: float, high: float = math.inf, *, low_open: bool = False, high_open: bool = False):
    """A float type for argparse: finite, and within low..high (each end open or closed)."""
    expected = f"a finite number {'>' if low_open else '>='} {low:g}"
    if high != math.inf:
        expected += f" and {'<' if high_open else '<='} {high:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        too_low = value <= low if low_open else value < low
        too_high = value >= high if high_open else value > high
        if not math.isfinite(value) or too_low or too_high:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {_quoted(text)}")
        return value

    return parse


def int_in(low: int, high: int):
    """An int type for argparse: a whole number from low to high, both included."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:  # also Python's limit on digits: int('1' * 5000) is a ValueError
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected a whole number from {low} to {high}, got {_quoted(text)}")
        return value

    return parse


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag prints one line instead of the usage block above it."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")
