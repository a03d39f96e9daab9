"""`fashion-labeler`: browse a split of Fashion-MNIST as the model sees it, review the labels the
label-issue report suspects, and fix wrong labels.

    fashion-labeler [--model PATH] [--data-dir DIR] [--split test|train] [--corrections FILE]
                    [--show all|mistakes|correct|issues|reviewed|not_reviewed]
                    [--sort index|confidence|loss|quality] [--pair T P] [--zoom N]
                    [--size WIDTHxHEIGHT] [--screenshot PNG]

An interactive window remembers its size, panes, zoom, filter, sort, current image of each split
and the file dialogs' folders (QSettings: ~/.config/fashion-mnist/fashion-labeler.ini); flags
given override what it remembers. A --screenshot run neither reads nor writes those settings, so
the same flags give the same picture.

Errors a user can cause (a bad flag value, no model, no data, a path the system refuses, a
model with the wrong inputs, a corrupt data file) print one line on stderr, open a dialog when
there is a screen to show it on (not for bad flags), and exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys

from gui.scoring import ScoringRequest
from gui.scoring_thread import describe
from gui.tile_delegate import DEFAULT_ZOOM, ZOOMS
from gui.tile_filter import SHOW, SORTS
from gui.window_settings import APPLICATION, ORGANIZATION
from inference.core.classes import NUM_CLASSES
from inference.core.command_line import OneLineParser, int_in
from inference.core.errors import InferenceError

PROG = "fashion-labeler"
# Offscreen, Qt says this on every window resize: there is no window manager to pass size hints to.
OFFSCREEN_NOISE = "This plugin does not support propagateSizeHints()"
SMALLEST = (1024, 700)  # the smallest window the layout is made for


def window_size(text: str) -> tuple[int, int]:
    """An argparse type: "1280x800", each side at least SMALLEST's and at most 16384."""
    width, _, height = text.lower().partition("x")
    try:
        size = (int(width), int(height))
    except ValueError:
        size = None
    if size is None or not all(low <= v <= 16384 for low, v in zip(SMALLEST, size, strict=False)):
        raise argparse.ArgumentTypeError(
            f"expected WIDTHxHEIGHT of at least {SMALLEST[0]}x{SMALLEST[1]}, e.g. 1280x800, got {text[:40]!r}"
        )
    return size


def parse_args(argv):
    p = OneLineParser(prog=PROG, description="Browse Fashion-MNIST with a model's predictions; review and fix labels.")
    p.add_argument("--model", help="a .onnx file or a model repository folder (default: models/)")
    p.add_argument(
        "--data-dir",
        help="folder with the Fashion-MNIST IDX files (default: $FASHION_MNIST_DIR, "
        "Debian's /usr/share/datasets/fashion-mnist, ~/.cache/fashion-mnist)",
    )
    p.add_argument("--split", choices=("test", "train"), default="test")
    p.add_argument(
        "--corrections",
        help="the corrections store, an SQLite file (default: $XDG_DATA_HOME/"
        "fashion-labeler/corrections.sqlite, i.e. ~/.local/share/fashion-labeler/)",
    )
    p.add_argument(
        "--show",
        choices=SHOW,
        help="initial filter (issues: flagged by the label-issue report; reviewed: with a verdict; "
        "corrected: relabelled); default: the last one used, else all",
    )
    p.add_argument(
        "--sort",
        choices=SORTS,
        help="initial order (quality: the report's most suspect labels first); default: the last one used, else index",
    )
    p.add_argument(
        "--pair",
        nargs=2,
        type=int_in(0, NUM_CLASSES - 1),
        metavar=("TRUE", "PREDICTED"),
        help="start filtered to one confusion-matrix cell",
    )
    p.add_argument(
        "--zoom",
        type=int,
        choices=ZOOMS,
        help=f"initial screen pixels per image pixel (default: the last one used, else {DEFAULT_ZOOM})",
    )
    p.add_argument(
        "--size",
        type=window_size,
        metavar="WIDTHxHEIGHT",
        help="window size, e.g. 1280x800 (default: the last one used, else 1280x800 or 90%% of the "
        "screen, whichever is smaller)",
    )
    p.add_argument("--tag", help="start filtered to the images with this tag")
    p.add_argument("--screenshot", metavar="PNG", help="render the window once scored to PNG and exit")
    return p.parse_args(argv)


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def _precheck(args) -> str | None:
    """Cheap checks before any window: a missing model or data folder is a one-line error."""
    from inference.core.fashion_mnist import find_data_dir
    from inference.core.model_repository import resolve_model_path

    try:
        resolve_model_path(args.model)
        find_data_dir(args.data_dir, args.split)
    except InferenceError as e:
        return str(e)
    except (OSError, OverflowError) as e:  # a name too long, a folder we may not enter
        return describe(e)
    return None


def quiet_offscreen_noise():
    """Pass Qt's messages on to stderr, all but OFFSCREEN_NOISE; returns the handler it replaced."""
    from PySide6.QtCore import qInstallMessageHandler

    def handler(mode, context, message: str) -> None:
        if message != OFFSCREEN_NOISE:
            category = context.category if context.category not in (None, "default") else ""
            print(f"{category}: {message}" if category else message, file=sys.stderr)

    return qInstallMessageHandler(handler)


def main(argv=None) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as e:  # --help (0), or a bad flag already reported in one line (2)
        return int(e.code or 0)
    batch = bool(args.screenshot)
    has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or not sys.platform.startswith(
        "linux"
    )
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

    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else PROG])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    offscreen = app.platformName() == "offscreen"
    interactive = not batch and not offscreen  # someone can click a dialog
    previous_handler = quiet_offscreen_noise() if offscreen else None
    try:
        return run_window(app, args, interactive)
    finally:
        if offscreen:
            qInstallMessageHandler(previous_handler)


def run_window(app, args, interactive: bool) -> int:
    """Open the window, score, and run until it closes (or, for --screenshot, until it is saved)."""
    from gui.main_window import MainWindow
    from gui.screen_fit import START_SIZE
    from gui.window_settings import user_settings

    settings = user_settings() if interactive else None
    window = MainWindow(ScoringRequest(args.model, args.data_dir, args.split, args.corrections), settings=settings)
    bar = window.filter_bar
    if args.show:
        bar.show_filter.setCurrentIndex(bar.show_filter.findData(args.show))
    if args.sort:
        bar.sort_choice.setCurrentIndex(bar.sort_choice.findData(args.sort))
    if args.zoom:
        bar.set_zoom(args.zoom)
    if args.size:
        window.resize(*args.size)
    elif args.screenshot:  # no screen to fit (offscreen's is 800 x 600): the size the panes were laid out for
        window.resize(START_SIZE)
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
        if window.tiles.refusal:  # the window says so too, and keeps verdicts off
            print(f"{PROG}: warning: {window.tiles.refusal}", file=sys.stderr)
        if args.pair:
            window.filter_to_pair(*args.pair)
        if args.tag and not window.filter_bar.set_tag(args.tag.strip().lower()):
            print(f"{PROG}: warning: no image has the tag {args.tag!r}; showing every tag", file=sys.stderr)
        if args.screenshot:
            app.processEvents()
            if not window.grab().save(args.screenshot, "PNG"):
                _error(f"could not write the screenshot {args.screenshot}")
                outcome["code"] = 2
            app.exit(outcome["code"])

    window.load_failed.connect(failed)
    window.scored.connect(scored)
    window.show()
    window.start()
    code = app.exec()
    window.close()
    return code or outcome["code"]


if __name__ == "__main__":
    sys.exit(main())
