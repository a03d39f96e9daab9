"""`fashion-predict`: score an IDX file, a .npy array, an image or a folder of images.

Results (one row per image) go to --output or stdout as CSV or JSON Lines; CSV text fields are
quoted and neutralised against spreadsheet formulas (inference/core/csv_safe.py). When the labels are
known (IDX images with their label file beside them, or --labels) a report follows: accuracy,
expected calibration error (15 bins), per-class precision/recall and the confusion matrix; on stderr when the results are on stdout,
so piping the results stays clean.

Result files appear under their name only when complete (written to a temporary file beside
them, then renamed), and never replace a file the run reads: the input, the images of an input
folder, the label file or the model.

Exit codes: 0 all scored; 1 some files in a folder were skipped (named on stderr, the rest
scored); 2 bad input, model (one that fails or gives NaN while scoring too: no row of that part is
written), arguments or output (one line on stderr); 130 interrupted (Ctrl-C),
143 terminated (SIGTERM), leaving no results file behind.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO

import numpy as np

from inference.core.atomic_write import AtomicFile
from inference.core.calibration import ReliabilityBins, reliability_bins
from inference.core.command_line import OneLineParser, finite_float, int_in, run_command, silence_stdout
from inference.core.csv_safe import csv_text
from inference.core.decoders import IMAGE_SUFFIXES
from inference.core.errors import ArgumentError, InferenceError, NonFiniteScores
from inference.core.evaluation import confusion_matrix, matrix_report
from inference.core.input_files import LoadedImages, label_file_for, load_in_parts
from inference.core.model_repository import resolve_model_path
from inference.core.predictor import CHUNK, DEVICES, Predictor, thread_limit

# Fewer items than this finish in about a second: no bar. Files are ~100x slower than rows.
PROGRESS_MIN_ROWS = 20_000
PROGRESS_MIN_FILES = 200
# Images per step. The Predictor runs 1024 at a time whatever the step, so larger steps only
# hold more decoded images in memory (65,536 of them are 51 MB).
MAX_BATCH = 65_536
MAX_CONCURRENCY = 100_000  # far beyond any Ray cluster; keeps absurd values out of Ray's C++ core
MAX_GPUS = 64  # GPUs per actor: more than any one machine holds


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = OneLineParser(
        prog="fashion-predict",
        description="Score Fashion-MNIST images with the exported ONNX model.",
        epilog="exit codes: 0 ok, 1 some files skipped, 2 bad input, model, arguments or output, "
        "130 interrupted, 143 terminated",
    )
    parser.add_argument("input", help="IDX image file, .npy array (N,28,28)/(N,784), PNG/JPEG file or a folder of them")
    parser.add_argument("--model", default=None, help="model.onnx or a Triton repository (default: models/)")
    parser.add_argument("--device", choices=DEVICES, default="auto", help="default: auto (CUDA when it works)")
    parser.add_argument(
        "--threads", type=int_in(1, thread_limit()), default=None, help="onnxruntime threads (default: usable cores)"
    )
    parser.add_argument(
        "--format",
        choices=("csv", "jsonl", "parquet"),
        default=None,
        help="csv (default) or jsonl; with --engine ray: parquet (default) or csv shards",
    )
    parser.add_argument(
        "--output", "-o", default="-", help="results file, replaced only once complete (default: stdout)"
    )
    parser.add_argument("--labels", default=None, help="IDX label file (default: the one beside IDX images)")
    parser.add_argument("--resize", action="store_true", help="scale images that are not 28x28 instead of failing")
    parser.add_argument(
        "--batch-size",
        type=int_in(1, MAX_BATCH),
        default=CHUNK,
        help=f"images per step, up to {MAX_BATCH} (default {CHUNK})",
    )
    parser.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    ray = parser.add_argument_group(
        "scale-out", "--engine ray: score on Ray Data, write shards into the --output folder"
    )
    ray.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process (default); ray: Ray Data actors",
    )
    ray.add_argument(
        "--ray-address",
        default=None,
        help="Ray cluster to use (default: $RAY_ADDRESS, else a local Ray started for the run)",
    )
    ray.add_argument(
        "--concurrency", type=int_in(1, MAX_CONCURRENCY), default=None, help="scoring actors (default: one per CPU)"
    )
    ray.add_argument(
        "--num-gpus", type=finite_float(0, MAX_GPUS), default=0, help="GPUs per actor (needs onnxruntime-gpu)"
    )
    ray.add_argument(
        "--overwrite", action="store_true", help="replace an --output folder that is not empty, and everything in it"
    )
    return parser.parse_args(argv)


def columns(class_names: list[str]) -> list[str]:
    return ["name", "label", "class_name", "confidence"] + [f"p_{i}" for i in range(len(class_names))]


class ResultWriter:
    """CSV or JSON Lines rows: name, label, class name, confidence, the ten probabilities.

    Each part goes out in one write, and a failed write (a full disk, a file system gone
    read-only) is an InferenceError naming the output, `where`.
    """

    def __init__(self, stream: TextIO, fmt: str, class_names: list[str], where: str):
        self.stream, self.fmt, self.class_names, self.where = stream, fmt, class_names, where
        if fmt == "csv":
            self._put(self._csv([columns(class_names)]))

    def write(self, names: list[str], labels: np.ndarray, probs: np.ndarray) -> None:
        confidence = probs[np.arange(len(labels)), labels]
        rows = zip(names, labels.tolist(), confidence.tolist(), probs.tolist(), strict=False)
        if self.fmt == "csv":
            text = self._csv(
                [name, label, self.class_names[label], f"{conf:.6f}", *(f"{p:.6f}" for p in row)]
                for name, label, conf, row in rows
            )
        else:
            text = "".join(
                json.dumps(
                    {
                        "name": name,
                        "label": label,
                        "class_name": self.class_names[label],
                        "confidence": round(conf, 6),
                        "probabilities": [round(p, 6) for p in row],
                    }
                )
                + "\n"
                for name, label, conf, row in rows
            )
        self._put(text)

    @staticmethod
    def _csv(rows: Iterable[list]) -> str:
        return csv_text(rows)  # names and class names are untrusted: quoted and neutralised there

    def _put(self, text: str) -> None:
        try:
            self.stream.write(text)
        except BrokenPipeError:
            raise  # `| head` left: main ends quietly
        except OSError as e:
            if self.stream is sys.stdout:
                silence_stdout()
            raise InferenceError(f"cannot write {self.where}: {e.strerror or e}") from e


class ProgressBar(Protocol):
    """What score() asks of tqdm's bar (tqdm ships no types)."""

    def update(self, n: int) -> object: ...

    def close(self) -> None: ...


def progress(total: int, minimum: int, disabled: bool) -> ProgressBar | None:
    """tqdm on a terminal for long runs; nothing when piped, in CI or for small inputs."""
    if disabled or total < minimum or not sys.stderr.isatty():
        return None
    from tqdm import tqdm  # lazy: most runs never draw a bar

    return tqdm(total=total, unit="img", file=sys.stderr)


@dataclass
class Tally:
    scored: int = 0
    skipped: int = 0
    matrix: np.ndarray | None = None  # (10, 10) confusion counts, when labels are known
    calibration: ReliabilityBins | None = None  # confidence bins for the ECE, when labels are known


def score(predictor: Predictor, parts: Iterable[LoadedImages], writer: ResultWriter, bar: ProgressBar | None) -> Tally:
    """Score part by part, writing rows as they come: memory stays bounded by one part."""
    tally = Tally()
    for part in parts:
        for name, why in part.errors:
            print(f"skipped {name}: {why}", file=sys.stderr)
        tally.skipped += len(part.errors)
        if len(part.names):
            try:
                probs = predictor.predict_proba(part.images)
            except NonFiniteScores as e:  # name the images, not their rows in this part
                raise e.naming(part.names) from e
            labels = probs.argmax(axis=1)
            writer.write(part.names, labels, probs)
            tally.scored += len(labels)
            if part.labels is not None:
                counts = confusion_matrix(part.labels, labels, len(predictor.class_names))
                tally.matrix = counts if tally.matrix is None else tally.matrix + counts
                bins = reliability_bins(probs, part.labels)
                tally.calibration = bins if tally.calibration is None else tally.calibration + bins
        if bar is not None:
            bar.update(len(part.names) + len(part.errors))
    if bar is not None:
        bar.close()
    return tally


def files_read(source: Path, labels: str | None, model: Path) -> list[tuple[Path, str]]:
    """(file, what it is) for every single file the run reads: none of them may become the output."""
    read = [(model, "the model")]
    if labels is not None:
        read.append((Path(labels), "the label file"))
    if source.is_file():
        read.append((source, "the input"))
        beside = label_file_for(source)
        if beside is not None and labels is None:
            read.append((beside, "the label file beside the input"))
    return read


def refuse_to_replace_inputs(output: str, source: Path, read: list[tuple[Path, str]]) -> None:
    """ArgumentError when --output is a file the run reads, or a folder holding one.

    Compared after resolving symlinks, and by inode for hard links. A result file that replaced
    its input would be the only copy left; Ray's output folder is replaced whole (--overwrite),
    so it must not hold the input, its labels or the model either.
    """
    target = Path(os.path.realpath(output))
    if source.is_dir():
        read = [*read, (source, "the input folder")]
        if target.parent == Path(os.path.realpath(source)) and target.suffix.lower() in IMAGE_SUFFIXES:
            read.append((target, "an image in the input folder"))
    for path, role in read:
        real = Path(os.path.realpath(path))
        if not real.exists():
            continue
        same = real == target or (target.exists() and os.path.samefile(target, real))
        if same or target in real.parents:
            raise ArgumentError(
                f"--output {output} {'is' if same else 'holds'} {role} of this run ({path}); "
                "writing the results there would destroy it: choose another --output"
            )


def run_on_ray(args: argparse.Namespace) -> int:
    """--engine ray: the inputs (files or folders) are scored by Ray Data actors into --output/."""
    from inference.adapters.ray_engine import run as ray_run  # lazy: Ray is an optional extra

    fmt = args.format or "parquet"
    if fmt == "jsonl" or args.output == "-":
        raise ArgumentError("--engine ray writes Parquet or CSV shards: give --output DIR and --format parquet|csv")
    source = Path(args.input)
    refuse_to_replace_inputs(args.output, source, files_read(source, None, resolve_model_path(args.model)))
    result = ray_run(
        [args.input],
        args.output,
        model=args.model,
        fmt=fmt,
        address=args.ray_address,
        concurrency=args.concurrency,
        batch_size=args.batch_size,
        num_gpus=args.num_gpus,
        device="cpu" if args.device == "auto" and not args.num_gpus else args.device,
        overwrite=args.overwrite,
    )
    for name, why in result.errors:
        print(f"skipped {name}: {why}", file=sys.stderr)
    print(
        f"scored {result.scored} image(s) into {result.output}/ ({fmt}) in {result.scoring_s:.1f} s; "
        f"Ray start-up {result.startup_s:.1f} s",
        file=sys.stderr,
    )
    if result.scored == 0:
        raise InferenceError(f"none of the images in {args.input} could be read (see the lines above)")
    return 1 if result.errors else 0


def check_output_file(output: str) -> None:
    """Refuse, before any scoring, an --output that could never be written."""
    target = Path(output)
    if target.is_dir():
        raise ArgumentError(f"--output {output} is a folder; name a file in it, e.g. {target / 'predictions.csv'}")
    if not target.parent.is_dir():
        raise ArgumentError(f"--output {output}: the folder {target.parent} does not exist; create it first")


def open_results(output: str) -> AtomicFile:
    """The results file, written beside `output` and renamed over it by `commit_results`."""
    try:
        return AtomicFile(output)
    except OSError as e:
        raise InferenceError(f"cannot write {output}: {e.strerror or e}") from e


def commit_results(results: AtomicFile | None, output: str) -> None:
    """Rename the finished file into place, or push stdout's buffer out while errors can still be reported."""
    try:
        if results is None:
            sys.stdout.flush()
        else:
            results.commit()
    except BrokenPipeError:
        raise
    except OSError as e:
        if results is None:
            silence_stdout()
        raise InferenceError(f"cannot write {'stdout' if results is None else output}: {e.strerror or e}") from e


def run(args: argparse.Namespace) -> int:
    if args.engine == "ray":
        return run_on_ray(args)
    if args.format == "parquet":
        raise ArgumentError("--format parquet needs --engine ray; the local engine writes csv or jsonl")
    predictor = Predictor(args.model, device=args.device, threads=args.threads)
    source = Path(args.input)
    total, parts = load_in_parts(source, args.batch_size, resize=args.resize, labels=args.labels)
    to_stdout = args.output == "-"
    if not to_stdout:
        check_output_file(args.output)
        refuse_to_replace_inputs(args.output, source, files_read(source, args.labels, predictor.path))
    print(f"scoring {total} item(s) with {predictor.describe()}", file=sys.stderr)
    results = None if to_stdout else open_results(args.output)
    try:
        stream, where = (sys.stdout, "stdout") if results is None else (results.stream, args.output)
        writer = ResultWriter(stream, args.format or "csv", predictor.class_names, where)
        minimum = PROGRESS_MIN_FILES if source.is_dir() else PROGRESS_MIN_ROWS
        tally = score(predictor, parts, writer, progress(total, minimum, args.no_progress))
        if tally.scored == 0:
            raise InferenceError(f"none of the {total} images in {args.input} could be read (see the lines above)")
        commit_results(results, args.output)
    except BaseException:
        if results is not None:  # a half-written results file would pass for a complete one
            results.discard()
        raise
    if tally.matrix is not None:
        print(
            matrix_report(tally.matrix, predictor.class_names, tally.calibration),
            file=sys.stderr if to_stdout else sys.stdout,
        )
    if tally.skipped:
        print(f"{tally.skipped} file(s) skipped, {tally.scored} scored", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as e:  # --help (0), or a bad flag already reported in one line (2)
        return int(e.code or 0)
    return run_command("fashion-predict", lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
