"""Batch scoring on Ray Data, for inputs larger than one process or one machine.

Each file is read and decoded in a Ray task by `inference.core.decoders` (the same hardened decoders
as every other entry point), and scored by a pool of actors that each open one onnxruntime
session (`RayScorer`). A file that cannot be decoded, a bomb included,
becomes one error row carrying its name, so it costs nothing but itself. Result shards are
written to a temporary folder beside --output and renamed into place when complete. Ray is
imported only here, and only when this module is used: `pip install 'fashion-softmax[ray]'`.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from inference.core.classes import IMAGE_SHAPE
from inference.core.csv_safe import neutralised
from inference.core.decoders import IMAGE_SUFFIXES, decode_bytes
from inference.core.errors import InferenceError, InputError, ModelError, RayEngineError
from inference.core.model_repository import resolve_model_path
from inference.core.predictor import Predictor

if TYPE_CHECKING:  # Ray is imported only when this module is used, so only its types here
    from ray.data import Dataset

__all__ = ["RayRun", "RayScorer", "decode_bytes", "list_inputs", "run", "score_dataset", "start_ray"]

SUFFIXES = (*IMAGE_SUFFIXES, ".npy", ".parquet")
CHUNK = 8192  # decoded images per output block: lets Ray spread one big file over actors


# --- decoding (Ray tasks) -------------------------------------------------------------------


def decode_files(batch: dict[str, np.ndarray]) -> Iterator[dict[str, np.ndarray]]:
    """Ray map_batches UDF: rows of paths -> rows of (name, image, error), in chunks."""
    for path in batch["path"]:
        name = Path(str(path)).name
        try:
            images, one = decode_bytes(_read_file(Path(str(path)), name), name)
        except InferenceError as e:
            message = str(e).removeprefix(f"{name}: ")
            yield {
                "name": np.array([name], dtype=object),
                "image": np.zeros((1, *IMAGE_SHAPE), np.uint8),
                "error": np.array([message], dtype=object),
            }
            continue
        for start in range(0, len(images), CHUNK):
            part = images[start : start + CHUNK]
            names = [name] if one else [f"{name}:{i}" for i in range(start, start + len(part))]
            yield {
                "name": np.array(names, dtype=object),
                "image": part,
                "error": np.full(len(part), "", dtype=object),
            }


def _read_file(path: Path, name: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise InputError(f"{name}: cannot read ({e.strerror or e})") from e


# --- scoring (Ray actors) -------------------------------------------------------------------


class RayScorer:
    """Callable class for `Dataset.map_batches(batch_format="numpy")`: one session per actor.

    Input columns: image (B, 28, 28) uint8 (or (B, 784)); optional name and error. Output adds
    label, class_name, confidence and p_0..p_9; rows with an error get label -1 and NaNs.
    threads=1 because Ray runs one actor per CPU: more threads per actor would fight each other.
    """

    def __init__(self, model: str, device: str = "cpu", threads: int = 1):
        self.predictor = Predictor(model, device=device, threads=threads)
        self.names = np.array(self.predictor.class_names, dtype=object)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        images = np.asarray(batch["image"])
        n = len(images)
        errors = batch.get("error")
        ok = np.ones(n, bool) if errors is None else np.array([not e for e in errors], bool)
        probs = np.full((n, len(self.names)), np.nan, np.float32)
        out = {k: v for k, v in batch.items() if k != "image"}
        if ok.any():
            try:
                probs[ok] = self.predictor.predict_proba(images[ok])
            except ModelError as e:
                # A model that fails or gives NaN on these images: error rows for this batch, as a
                # bad file gets, instead of a failed actor that Ray retries and then ends the run on.
                reason = str(e)
                earlier = np.full(n, "", dtype=object) if errors is None else errors
                out["error"] = np.array([reason if good else earlier[i] for i, good in enumerate(ok)], dtype=object)
                ok = np.zeros(n, bool)
        labels = np.where(ok, np.nan_to_num(probs, nan=-1.0).argmax(axis=1), -1)
        out["label"] = labels.astype(np.int64)
        out["class_name"] = np.where(ok, self.names[np.maximum(labels, 0)], "")
        out["confidence"] = np.where(ok, probs.max(axis=1, initial=-1.0), np.nan).astype(np.float32)
        for i in range(probs.shape[1]):
            out[f"p_{i}"] = probs[:, i]
        return out


# --- the whole run ---------------------------------------------------------------------------


@dataclass
class RayRun:
    scored: int
    errors: list[tuple[str, str]] = field(default_factory=list)  # (file name, why)
    startup_s: float = 0.0  # ray.init, reported apart from the scoring itself
    scoring_s: float = 0.0
    output: Path | None = None


def list_inputs(sources: Iterable[str | os.PathLike]) -> list[str]:
    """Files to score: the given files, and the files with known suffixes (or IDX names) in folders."""
    files: list[str] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            found = sorted(
                p
                for p in path.iterdir()
                if p.is_file() and (p.suffix.lower() in SUFFIXES or "ubyte" in p.name or "idx" in p.name)
            )
            if not found:
                raise RayEngineError(f"{path} holds no images, .npy, .parquet or IDX files")
            files.extend(str(p.resolve()) for p in found)
        elif path.is_file():
            files.append(str(path.resolve()))
        else:
            raise RayEngineError(f"{path} does not exist")
    return files


def start_ray(address: str | None, num_cpus: int | None = None) -> ModuleType:
    """Connect to `address` (or $RAY_ADDRESS); without either, start a local Ray for this run."""
    try:
        import ray
    except ImportError as e:
        raise RayEngineError("Ray is not installed: pip install 'fashion-softmax[ray]'") from e
    address = address or os.environ.get("RAY_ADDRESS") or None
    if ray.is_initialized():
        return ray
    try:
        if address:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    except Exception as e:  # ConnectionError, TimeoutError, RuntimeError, depending on what failed
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise RayEngineError(f"could not start or reach {where}: {str(e).splitlines()[0]}") from e
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # per-dataset INFO lines are Ray's, not ours
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # one line per stage per second drowns the command's own output
    context.print_on_execution_start = False
    return ray


def score_dataset(
    ds: Dataset,
    model: str,
    device: str = "cpu",
    concurrency: int | None = None,
    batch_size: int = 1024,
    num_cpus: float = 1,
    num_gpus: float = 0,
) -> Dataset:
    """The scoring stage on any Ray Dataset with an `image` column (uint8 (28, 28) per row)."""
    import ray

    if concurrency is None:
        concurrency = max(1, int(ray.cluster_resources().get("CPU", 1) // max(num_cpus, 1)))
    return ds.map_batches(
        RayScorer,
        fn_constructor_kwargs={"model": model, "device": "cuda" if num_gpus else device, "threads": 1},
        batch_size=batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=concurrency),
        num_cpus=num_cpus,
        num_gpus=num_gpus,
    )


def _split_errors(batch: dict[str, np.ndarray], want_errors: bool) -> dict[str, np.ndarray]:
    keep = np.array([bool(e) == want_errors for e in batch["error"]], bool)
    return {k: v[keep] for k, v in batch.items()}


def run(
    sources: Iterable[str | os.PathLike],
    output: str | os.PathLike,
    model: str | os.PathLike | None = None,
    fmt: str = "parquet",
    address: str | None = None,
    concurrency: int | None = None,
    batch_size: int = 1024,
    num_cpus: float = 1,
    num_gpus: float = 0,
    device: str = "cpu",
    overwrite: bool = False,
) -> RayRun:
    """Score every file in `sources` on Ray and write result shards (Parquet or CSV) to `output`.

    `output` must be a new or empty folder unless overwrite=True, which replaces it whole: shards
    of an earlier run (rows for files since deleted among them) never mix with this run's.
    """
    if fmt not in ("parquet", "csv"):
        raise RayEngineError(f"format must be parquet or csv, got {fmt!r}")
    files = list_inputs(sources)
    out = _check_output(Path(output), overwrite)
    model_path = str(resolve_model_path(model).resolve())
    Predictor(model_path, device="cpu", threads=1)  # fail here, clearly, not inside an actor
    start = time.perf_counter()
    ray = start_ray(address)
    startup = time.perf_counter() - start
    start = time.perf_counter()
    # Paths, not read_binary_files: Ray inflates every .gz it reads before any check could run
    # (a 1 MB gzip bomb became 1 GB in a read task); the decoders stream it with their caps.
    decoded = ray.data.from_items([{"path": f} for f in files]).map_batches(
        decode_files, batch_size=1, batch_format="numpy"
    )
    scored = score_dataset(decoded, model_path, device, concurrency, batch_size, num_cpus, num_gpus).materialize()
    failed = scored.map_batches(_split_errors, fn_kwargs={"want_errors": True}, batch_format="numpy")
    errors = [(r["name"], r["error"]) for r in failed.select_columns(["name", "error"]).take_all()]
    good = scored.map_batches(_split_errors, fn_kwargs={"want_errors": False}, batch_format="numpy")
    good = good.drop_columns(["error"])
    _write_whole(good, fmt, out)
    return RayRun(scored.count() - len(errors), errors, startup, time.perf_counter() - start, Path(output))


def _neutralise_text(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The CSV shards' text columns with csv_safe's formula defence (pyarrow quotes them itself)."""
    for column in ("name", "class_name"):
        if column in batch:
            batch[column] = np.array([neutralised(v) for v in batch[column]], dtype=object)
    return batch


def _check_output(out: Path, overwrite: bool) -> Path:
    """The absolute output folder, refused before any work when it would mix with older results."""
    out = out.resolve()
    if out.exists() and not out.is_dir():
        raise RayEngineError(f"{out} is a file; --output must name a folder for the result shards")
    if not overwrite and out.is_dir() and any(out.iterdir()):
        raise RayEngineError(
            f"{out} is not empty; choose a new folder, or pass --overwrite to replace it and everything in it"
        )
    return out


def _write_whole(ds: Dataset, fmt: str, out: Path) -> None:
    """Write the shards into a temporary sibling folder, then swap it in for `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial"))
    try:
        partial.chmod(0o755)  # mkdtemp's 0700 would hide the results from other users of a shared disk
        if fmt == "parquet":
            ds.write_parquet(str(partial))
        else:  # names come from users' files and the model's metadata: no formulas in a spreadsheet
            ds.map_batches(_neutralise_text, batch_format="numpy").write_csv(str(partial))
        _swap_in(partial, out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _swap_in(new: Path, out: Path) -> None:
    """Rename `new` to `out`; an existing `out` is deleted only once `new` has taken its place."""
    if not out.exists():
        new.rename(out)
        return
    old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".old"))
    out.rename(old / out.name)  # into a fresh folder: this rename cannot meet an existing target
    try:
        new.rename(out)
    except BaseException:
        (old / out.name).rename(out)  # the earlier results stay rather than nothing
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)
