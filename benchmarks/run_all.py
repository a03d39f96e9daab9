"""Every benchmark in this folder, one after another, then one line per script: ran, skipped or failed.

    python benchmarks/run_all.py [--only NAME ...] [--timeout 1200]

`make bench` runs this. Each script gets the settings in PLANS, chosen so that the whole run
finishes on a 2-core machine without a GPU; a script that needs what this machine lacks (a CUDA
GPU, a Triton set up beforehand) is skipped with the reason, and the run goes on. A script found
here but missing from PLANS still runs, with its own defaults, so that a new benchmark is never
silently left out. The exit status is 1 when any script failed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TRITON = Path.home() / ".cache" / "fashion-bench" / "triton" / "pytriton" / "tritonserver" / "bin" / "tritonserver"


def no_gpu() -> str | None:
    """Why gpu_check cannot run here, or None. nvidia-smi is cheap to look for; torch is not."""
    return None if shutil.which("nvidia-smi") else "no NVIDIA GPU (nvidia-smi not found)"


def no_triton() -> str | None:
    if TRITON.is_file():
        return None
    return f"no Triton set up in {TRITON.parents[4]}: run `python benchmarks/serve_vs_triton.py` once (it downloads it)"


@dataclass(frozen=True)
class Plan:
    args: tuple[str, ...] = ()
    why: str = ""  # why these settings and not the script's defaults
    skip_unless: Callable[[], str | None] = field(default=lambda: None)
    skipped_exit: int | None = None  # an exit status the script uses for "this machine cannot run me"


PLANS = {
    "attributions_speed.py": Plan(),
    # A full K-fold ranking with the fastest auditor (<= 15 s); the CSV route needs --cross-val output.
    "contact_sheet.py": Plan(("--auditor", "linear", "--out", "{tmp}/top40-linear.png"), "linear auditor"),
    "explain_views.py": Plan(),
    "gpu_check.py": Plan(skip_unless=no_gpu, skipped_exit=2),
    # The default 3 runs and the full-grid scroll (90 s on the train split) take minutes more.
    "gui_speed.py": Plan(("--runs", "1", "--no-scroll"), "1 run, no scroll"),
    "inference_speed.py": Plan(),
    # cnn's 5-fold cross-validation alone is up to 5 min on 2 cores; linear shows the method.
    "label_issues.py": Plan(("--auditor", "linear"), "linear auditor"),
    "probe_cost.py": Plan(),
    "ray_speed.py": Plan(),
    # 48 bodies of 8 MiB and 2000 requests per kind: a quarter of each still gives p99s.
    "serve_load.py": Plan(("--requests", "500", "--big-requests", "16"), "a quarter of the requests"),
    "serve_vs_triton.py": Plan(skip_unless=no_triton),
    "split_strategies.py": Plan(),
    "train_speed.py": Plan(),
}


def scripts() -> list[str]:
    return sorted(p.name for p in HERE.glob("*.py") if p.name != Path(__file__).name)


def environment() -> dict[str, str]:
    env = dict(os.environ)
    # The scripts import shared helpers as testkit.*, from the repository root.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")  # the Qt benchmarks draw without a screen
    return env


def run_one(name: str, plan: Plan, tmp: str, timeout: float) -> str:
    """The summary line's verdict for one script; its own output goes straight to the terminal."""
    reason = plan.skip_unless()
    if reason:
        print(f"== {name}: skipped ({reason})", flush=True)
        return f"skipped ({reason})"
    args = [a.format(tmp=tmp) for a in plan.args]
    print(f"== {name} {' '.join(args)}", flush=True)
    start = time.monotonic()
    try:
        code = subprocess.run([sys.executable, str(HERE / name), *args], cwd=ROOT, env=environment(), timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"failed (still running after {timeout:g} s)"
    seconds = f"{time.monotonic() - start:.0f} s"
    if code.returncode == 0:
        return f"ran ({seconds}{', ' + plan.why if plan.why else ''})"
    if plan.skipped_exit is not None and code.returncode == plan.skipped_exit:
        return f"skipped (exit {code.returncode}: this machine cannot run it, see its message above)"
    return f"failed (exit {code.returncode} after {seconds})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="run every benchmark in benchmarks/ and summarize")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="these scripts only (e.g. train_speed.py)")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds one script may run")
    args = parser.parse_args(argv)
    names = scripts()
    if args.only:
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            print(f"run_all: no benchmark named {', '.join(unknown)}; expected some of {', '.join(names)}")
            return 2
        names = [n for n in names if n in args.only]
    verdicts = {}
    with tempfile.TemporaryDirectory(prefix="fashion-bench-") as tmp:
        for name in names:
            plan = PLANS.get(name, Plan(why="not in run_all.PLANS: its own defaults"))
            verdicts[name] = run_one(name, plan, tmp, args.timeout)
    print("\n== summary")
    width = max(map(len, verdicts))
    for name, verdict in verdicts.items():
        print(f"{name:<{width}}  {verdict}")
    return 1 if any(v.startswith("failed") for v in verdicts.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
