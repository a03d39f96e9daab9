"""`fashion-predict`: score an IDX file, a .npy array, an image or a folder of images.

Results (one row per image) go to --output or stdout as CSV or JSON Lines. When the labels are
known (IDX images with their label file beside them, or --labels) a report follows: accuracy,
per-class precision/recall and the confusion matrix; on stderr when the results are on stdout,
so piping the results stays clean.

Exit codes: 0 all scored; 1 some files in a folder were skipped (named on stderr, the rest
scored); 2 bad input, model or arguments (one line on stderr).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from inference.errors import InferenceError
from inference.evaluation import confusion_matrix, matrix_report
from inference.inputs import LoadedImages, load_in_parts
from inference.predictor import CHUNK, DEVICES, Predictor

# Fewer items than this finish in about a second: no bar. Files are ~100x slower than rows.
PROGRESS_MIN_ROWS = 20_000
PROGRESS_MIN_FILES = 200


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="fashion-predict",
        description="Score Fashion-MNIST images with the exported ONNX model.",
        epilog="exit codes: 0 ok, 1 some files skipped, 2 bad input, model or arguments",
    )
    parser.add_argument("input", help="IDX image file, .npy array (N,28,28)/(N,784), PNG/JPEG file or a folder of them")
    parser.add_argument("--model", default=None, help="model.onnx or a Triton repository (default: models/)")
    parser.add_argument("--device", choices=DEVICES, default="auto", help="default: auto (CUDA when it works)")
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: usable cores)")
    parser.add_argument("--format", choices=("csv", "jsonl", "parquet"), default=None,
                        help="csv (default) or jsonl; with --engine ray: parquet (default) or csv shards")
    parser.add_argument("--output", "-o", default="-", help="results file (default: stdout)")
    parser.add_argument("--labels", default=None, help="IDX label file (default: the one beside IDX images)")
    parser.add_argument("--resize", action="store_true", help="scale images that are not 28x28 instead of failing")
    parser.add_argument("--batch-size", type=int, default=CHUNK, help=f"images per step (default {CHUNK})")
    parser.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    ray = parser.add_argument_group("scale-out", "--engine ray: score on Ray Data, write shards into the --output folder")
    ray.add_argument("--engine", choices=("local", "ray"), default="local",
                     help="local: this process (default); ray: Ray Data actors")
    ray.add_argument("--ray-address", default=None,
                     help="Ray cluster to use (default: $RAY_ADDRESS, else a local Ray started for the run)")
    ray.add_argument("--concurrency", type=int, default=None, help="scoring actors (default: one per CPU)")
    ray.add_argument("--num-gpus", type=float, default=0, help="GPUs per actor (needs onnxruntime-gpu)")
    return parser.parse_args(argv)


def columns(class_names: list[str]) -> list[str]:
    return ["name", "label", "class_name", "confidence"] + [f"p_{i}" for i in range(len(class_names))]


class ResultWriter:
    """CSV or JSON Lines rows: name, label, class name, confidence, the ten probabilities."""

    def __init__(self, stream: TextIO, fmt: str, class_names: list[str]):
        self.stream, self.fmt, self.class_names = stream, fmt, class_names
        self.csv = csv.writer(stream, lineterminator="\n") if fmt == "csv" else None
        if self.csv:
            self.csv.writerow(columns(class_names))

    def write(self, names: list[str], labels: np.ndarray, probs: np.ndarray) -> None:
        confidence = probs[np.arange(len(labels)), labels]
        for name, label, conf, row in zip(names, labels.tolist(), confidence.tolist(), probs.tolist()):
            if self.csv:
                self.csv.writerow([name, label, self.class_names[label], f"{conf:.6f}", *(f"{p:.6f}" for p in row)])
            else:
                record = {
                    "name": name,
                    "label": label,
                    "class_name": self.class_names[label],
                    "confidence": round(conf, 6),
                    "probabilities": [round(p, 6) for p in row],
                }
                self.stream.write(json.dumps(record) + "\n")


def progress(total: int, minimum: int, disabled: bool):
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


def score(predictor: Predictor, parts: Iterable[LoadedImages], writer: ResultWriter, bar) -> Tally:
    """Score part by part, writing rows as they come: memory stays bounded by one part."""
    tally = Tally()
    for part in parts:
        for name, why in part.errors:
            print(f"skipped {name}: {why}", file=sys.stderr)
        tally.skipped += len(part.errors)
        if len(part.names):
            probs = predictor.predict_proba(part.images)
            labels = probs.argmax(axis=1)
            writer.write(part.names, labels, probs)
            tally.scored += len(labels)
            if part.labels is not None:
                counts = confusion_matrix(part.labels, labels, len(predictor.class_names))
                tally.matrix = counts if tally.matrix is None else tally.matrix + counts
        if bar is not None:
            bar.update(len(part.names) + len(part.errors))
    if bar is not None:
        bar.close()
    return tally


def run_on_ray(args: argparse.Namespace) -> int:
    """--engine ray: the inputs (files or folders) are scored by Ray Data actors into --output/."""
    from inference.ray_engine import run as ray_run  # lazy: Ray is an optional extra

    fmt = args.format or "parquet"
    if fmt == "jsonl" or args.output == "-":
        raise InferenceError("--engine ray writes Parquet or CSV shards: give --output DIR and --format parquet|csv")
    result = ray_run(
        [args.input], args.output, model=args.model, fmt=fmt, address=args.ray_address,
        concurrency=args.concurrency, batch_size=args.batch_size, num_gpus=args.num_gpus,
        device="cpu" if args.device == "auto" and not args.num_gpus else args.device,
    )
    for name, why in result.errors:
        print(f"skipped {name}: {why}", file=sys.stderr)
    print(f"scored {result.scored} image(s) into {result.output}/ ({fmt}) in {result.scoring_s:.1f} s; "
          f"Ray start-up {result.startup_s:.1f} s", file=sys.stderr)
    if result.scored == 0:
        raise InferenceError(f"none of the images in {args.input} could be read (see the lines above)")
    return 1 if result.errors else 0


def run(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise InferenceError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.engine == "ray":
        return run_on_ray(args)
    if args.format == "parquet":
        raise InferenceError("--format parquet needs --engine ray; the local engine writes csv or jsonl")
    args.format = args.format or "csv"
    predictor = Predictor(args.model, device=args.device, threads=args.threads)
    total, parts = load_in_parts(args.input, args.batch_size, resize=args.resize, labels=args.labels)
    to_stdout = args.output == "-"
    info = sys.stderr if to_stdout else sys.stdout
    print(f"scoring {total} item(s) with {predictor.describe()}", file=sys.stderr)
    try:
        stream = sys.stdout if to_stdout else open(args.output, "w", newline="", encoding="utf-8")
    except OSError as e:
        raise InferenceError(f"cannot write {args.output}: {e.strerror}") from e
    try:
        minimum = PROGRESS_MIN_FILES if Path(args.input).is_dir() else PROGRESS_MIN_ROWS
        bar = progress(total, minimum, args.no_progress)
        tally = score(predictor, parts, ResultWriter(stream, args.format, predictor.class_names), bar)
    except BaseException:
        if not to_stdout:  # a half-written results file would pass for a complete one
            stream.close()
            Path(args.output).unlink(missing_ok=True)
        raise
    if not to_stdout:
        stream.close()
    if tally.scored == 0:
        raise InferenceError(f"none of the {total} images in {args.input} could be read (see the lines above)")
    if tally.matrix is not None:
        print(matrix_report(tally.matrix, predictor.class_names), file=info)
    if tally.skipped:
        print(f"{tally.skipped} file(s) skipped, {tally.scored} scored", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except (InferenceError, ValueError) as e:
        # InferenceError covers bad images, files and models; one line, no traceback.
        print(f"fashion-predict: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `fashion-predict ... | head`: the reader left, which is fine
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("fashion-predict: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
