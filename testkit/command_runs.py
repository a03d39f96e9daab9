"""Run a command's main() in-process as a user would, for tests that need its printed output."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout

from training import train_command as cli


def train_and_export(flags: list[str]) -> str:
    """train-and-export as a user runs it; returns what it printed, and fails on a non-zero exit."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(flags)
    assert code == 0, err.getvalue()
    return out.getvalue()
