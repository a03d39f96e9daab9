"""Run a command's main() in-process as a user would, for tests that need its printed output."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout

from training import train_command as cli
from training.train_command import REAL_STEPS, Steps


def train_and_export(flags: list[str], steps: Steps = REAL_STEPS) -> str:
    """train-and-export as a user runs it (with `steps`, a test's stand-ins for some of its steps);
    returns what it printed, and fails on a non-zero exit."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(flags, steps)
    assert code == 0, err.getvalue()
    return out.getvalue()
