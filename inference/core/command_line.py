"""What every command (train-and-export, fashion-predict, fashion-serve, fashion-labeler) shares:
flag types that refuse a bad value at parse time, a parser whose errors fit on one line, and
SIGTERM unwinding like Ctrl-C.

A value that slips through argparse fails much later and much worse: `--sigma nan` trains a
model of NaNs, a seed past 2**64 overflows inside torch after the data has loaded, and
`--batch-size 0` loops forever. Each type says what arrived and what it expects.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import NoReturn

from inference.core.errors import InferenceError

SHOWN_CHARS = 40  # a 5,000-digit value is quoted by its start, so the message stays readable


def _quoted(text: str) -> str:
    return repr(text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "...")


def finite_float(
    low: float, high: float = math.inf, *, low_open: bool = False, high_open: bool = False
) -> Callable[[str], float]:
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


def int_in(low: int, high: int) -> Callable[[str], int]:
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

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def one_line(message: object) -> str:
    """A message folded onto one line (onnx.checker's and SQLite's span several)."""
    return " ".join(str(message).split())


def os_error_text(e: BaseException) -> str:
    """`path: reason` for an OSError (its strerror, not Python's `[Errno 28] ...`), else str(e)."""
    if isinstance(e, OSError) and e.strerror:
        return f"{e.filename}: {e.strerror}" if e.filename else e.strerror
    return str(e)


# --- signals -----------------------------------------------------------------------------------

# Signals that end a command like Ctrl-C does, so the same cleanup runs; exit code 128 + signal.
TERMINATING = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C's KeyboardInterrupt so that the same cleanup runs."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _terminate(signum: int, frame: FrameType | None) -> None:
    signal.signal(signum, signal.SIG_IGN)  # a second signal must not cut the cleanup short
    raise Terminated(signum)


@contextmanager
def terminating_signals_raise() -> Iterator[None]:
    """SIGTERM and SIGHUP raise Terminated for the duration. Python's default would end the
    process at once, skipping every `finally`, and leave temporary files behind."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = {signum: signal.signal(signum, _terminate) for signum in TERMINATING}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def silence_stdout() -> None:
    """Point stdout at /dev/null, so that Python's final flush at exit cannot fail a second time
    (the recipe in the docs of `signal`, for SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no file descriptor behind stdout (a test's capture): nothing to flush later
        pass


def run_command(prog: str, body: Callable[[], int], errors: tuple[type[Exception], ...] = (), cleanup: str = "") -> int:
    """Run a command's body and turn every error a user can cause into one line and an exit code.

    2 for the project's own errors, `errors`, OSError and OverflowError; 0 when the reader of a
    pipe left (`... | head`); 130 for Ctrl-C and 128 + signal for SIGTERM/SIGHUP, which unwind
    like Ctrl-C so temporary files are removed. `cleanup` is appended to those two lines.
    """
    reported: tuple[type[Exception], ...] = (InferenceError, OSError, OverflowError, *errors)
    try:
        with terminating_signals_raise():
            return body()
    except BrokenPipeError:
        silence_stdout()
        return 0
    except reported as e:
        print(f"{prog}: error: {one_line(os_error_text(e))}", file=sys.stderr)
        return 2
    except Terminated as e:
        print(f"{prog}: terminated ({e}){cleanup}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted{cleanup}", file=sys.stderr)
        return 130
