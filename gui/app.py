"""`fashion-labeler`: browse a split of Fashion-MNIST as the model sees it, and fix wrong labels.

    fashion-labeler [--model PATH] [--data-dir DIR] [--split test|train] [--corrections FILE]
                    [--show all|mistakes|correct] [--sort index|confidence|loss] [--screenshot PNG]

Errors a user can cause (no model, no data, a model with the wrong inputs) print one line on
stderr, open a dialog when there is a screen to show it on, and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

T_IMPORT = time.perf_counter()  # fallback origin where /proc is missing

from gui.scoring import ScoringRequest  # noqa: E402

PROG = "fashion-labeler"


def parse_args(argv):
    p = argparse.ArgumentParser(prog=PROG, description="Browse Fashion-MNIST with a model's predictions; relabel mistakes.")
    p.add_argument("--model", help="a .onnx file or a model repository folder (default: models/)")
    p.add_argument("--data-dir", help="folder with the Fashion-MNIST IDX files (default: $FASHION_MNIST_DIR, "
                                      "Debian's /usr/share/datasets/fashion-mnist, ~/.cache/fashion-mnist)")
    p.add_argument("--split", choices=("test", "train"), default="test")
    p.add_argument("--corrections", help="corrections sidecar (default: $XDG_DATA_HOME/fashion-labeler/"
                                         "corrections-SPLIT-DIGEST.json, i.e. ~/.local/share/fashion-labeler/)")
    p.add_argument("--show", choices=("all", "mistakes", "correct"), default="all", help="initial filter")
    p.add_argument("--sort", choices=("index", "confidence", "loss"), default="index", help="initial order")
    p.add_argument("--pair", nargs=2, type=int, metavar=("TRUE", "PREDICTED"),
                   help="start filtered to one confusion-matrix cell")
    p.add_argument("--screenshot", metavar="PNG", help="render the window once scored to PNG and exit")
    # For benchmarks/gui_speed.py: print timings as JSON once scored, then exit.
    p.add_argument("--print-timings", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def seconds_since_launch() -> float:
    """Wall time since this process started (Linux /proc), else since this module was imported."""
    try:
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - T_IMPORT


def resident_mb() -> tuple[float, float]:
    """(current, peak) resident memory in MB from /proc; nan where there is none."""
    try:
        status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
        return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024
    except (OSError, KeyError, ValueError):
        return float("nan"), float("nan")


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def _precheck(args) -> str | None:
    """Cheap checks before any window: a missing model or data folder is a one-line error."""
    from inference.errors import InferenceError
    from inference.fashion_mnist import find_data_dir
    from inference.predictor import resolve_model_path

    try:
        resolve_model_path(args.model)
        find_data_dir(args.data_dir, args.split)
    except InferenceError as e:
        return str(e)
    if args.pair and not all(0 <= k < 10 for k in args.pair):
        return f"--pair takes two class numbers 0..9, got {args.pair[0]} {args.pair[1]}"
    return None


def main(argv=None) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as e:  # argparse has printed usage and the error
        return int(e.code or 0)
    batch = bool(args.screenshot or args.print_timings)
    has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or not sys.platform.startswith("linux")
    if batch and not has_display:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # a screenshot needs no screen

    problem = _precheck(args)  # before Qt: a wrong path is one line even where no window can open
    if problem is None and not (has_display or os.environ.get("QT_QPA_PLATFORM")):
        problem = "no display to open the window on (DISPLAY is not set); run it in a desktop session, or use --screenshot PNG"
    if problem:
        _error(problem)
        if has_display and not batch and os.environ.get("QT_QPA_PLATFORM") != "offscreen":
            from PySide6.QtWidgets import QApplication, QMessageBox

            _app = QApplication.instance() or QApplication([PROG])
            QMessageBox.critical(None, "Fashion-MNIST labeler", problem)
        return 2

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else PROG])
    app.setApplicationName(PROG)
    interactive = not batch and app.platformName() != "offscreen"  # someone can click a dialog

    from gui.main_window import MainWindow

    window = MainWindow(ScoringRequest(args.model, args.data_dir, args.split, args.corrections))
    window.show_filter.setCurrentIndex(window.show_filter.findData(args.show))
    window.sort_choice.setCurrentIndex(window.sort_choice.findData(args.sort))
    outcome = {"code": 0}

    def failed(message: str) -> None:
        _error(message)
        outcome["code"] = 2
        if interactive and window.message_box is not None:
            window.message_box.finished.connect(lambda _: app.exit(2))
        else:
            app.exit(2)

    def scored() -> None:
        window.load_failed.disconnect(failed)  # later failures (File menu) only show a dialog
        window.scored.disconnect(scored)
        if window.tiles.scored.refusal:  # the window says so too, and keeps relabelling off
            print(f"{PROG}: warning: {window.tiles.scored.refusal}", file=sys.stderr)
        if args.pair:
            window.filter_to_pair(*args.pair)
        if args.print_timings:
            rss, peak = resident_mb()
            print(json.dumps({"shown_s": shown_at, "scored_s": seconds_since_launch(), "rss_mb": rss,
                              "peak_rss_mb": peak, "images": window.tiles.rowCount(),
                              **window.tiles.scored.timings}), flush=True)
            app.exit(0)
        elif args.screenshot:
            app.processEvents()
            if not window.grab().save(args.screenshot, "PNG"):
                _error(f"could not write the screenshot {args.screenshot}")
                outcome["code"] = 2
            app.exit(outcome["code"])

    window.load_failed.connect(failed)
    window.scored.connect(scored)
    window.show()
    shown_at = seconds_since_launch()
    window.start()
    code = app.exec()
    window.close()
    return code or outcome["code"]


if __name__ == "__main__":
    sys.exit(main())
