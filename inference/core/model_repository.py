"""The `models/` folder, a Triton Inference Server model repository: its layout, written and resolved here.

Training writes it and every consumer (Predictor, labeler, Ray) resolves a model in it through
this module alone, so the folder name and version layout are spelled in one place. Torch-free.

models/
  fashion_mnist/
    config.pbtxt       Triton's model configuration (serves the newest version)
    labels.txt         class names, one per line, for Triton's classification extension
    1/model.onnx       the first export
      history.json     the run that made version 1: curves and summary,  } Triton loads only
      curves.png       the curves as a plot,                             } model.onnx from a
      concise.pt       its trained weights (state dicts),                } version folder and
      scratch.pt                                                         } ignores the rest
      label_issues-*.csv, label_issues.json   version 1's label-issue report (--cross-val)
    2/model.onnx       the next one: every export is a new version, none is overwritten
    unexported-*/      the same run files of a run that exported no version (--variant scratch)
A run's files go into the folder of the version it made, never beside the config, so no later
run changes them and two runs into one repository at once never mix their files.
Every file is written atomically, and a version folder appears only once its model is complete,
so an interrupted run never leaves a half-written one.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import time
from pathlib import Path

from inference.core.atomic_write import atomic_write
from inference.core.classes import CLASS_NAMES, IMAGE_SHAPE, NUM_CLASSES
from inference.core.errors import ModelError

DEFAULT_REPOSITORY = Path("models")
MODEL_NAME = "fashion_mnist"  # the folder name inside the repository
MODEL_FILE = "model.onnx"
MAX_BATCH = 4096  # largest batch Triton may form; 4096 x 784 bytes = 3 MB per request
HISTORY_FILE = "history.json"
CURVES_FILE = "curves.png"
UNEXPORTED_PREFIX = "unexported-"


def triton_config() -> str:
    h, w = IMAGE_SHAPE
    # dims leave out the batch dimension: with max_batch_size > 0 Triton adds it.
    # version_policy is Triton's default, spelled out: the newest version is served and the
    # older ones stay on disk, to compare with or to roll back to (`specific { versions: [2] }`).
    # Serving them all would load every past model into memory for requests that never ask for one.
    return f"""name: "{MODEL_NAME}"
platform: "onnxruntime_onnx"
max_batch_size: {MAX_BATCH}
input [
  {{
    name: "images"
    data_type: TYPE_UINT8
    dims: [ {h}, {w} ]
  }}
]
output [
  {{
    name: "probabilities"
    data_type: TYPE_FP32
    dims: [ {NUM_CLASSES} ]
    label_filename: "labels.txt"
  }},
  {{
    name: "logits"
    data_type: TYPE_FP32
    dims: [ {NUM_CLASSES} ]
  }}
]
dynamic_batching {{
  max_queue_delay_microseconds: 100
}}
version_policy: {{ latest: {{ num_versions: 1 }} }}
"""


def model_dir(out: str | os.PathLike) -> Path:
    return Path(out) / MODEL_NAME


def onnx_path(out: str | os.PathLike, version: int) -> Path:
    return model_dir(out) / str(version) / MODEL_FILE


def version_dir(out: str | os.PathLike, version: int) -> Path:
    """Version `version`'s folder: its model and the files of the run that made it."""
    return model_dir(out) / str(version)


def weights_file(folder: str | os.PathLike, variant: str) -> Path:
    """A run's trained weights of one variant (a state dict) in its run folder."""
    return Path(folder) / f"{variant}.pt"


def _is_version_name(name: str) -> bool:
    """ASCII digits only: str.isdigit() also takes superscripts ('1²'), which int() refuses."""
    return name.isascii() and name.isdigit()


def versions(folder: str | os.PathLike) -> list[tuple[int, Path]]:
    """(number, folder) of each version folder in a model folder, oldest first."""
    found = [(int(p.name), p) for p in Path(folder).glob("[0-9]*") if _is_version_name(p.name)]
    return sorted((v, p) for v, p in found if p.is_dir())


def newest_in(folder: str | os.PathLike) -> tuple[Path, int] | None:
    """The model file of the newest version in a model folder that holds one, and its number.

    A version folder without a model is passed over: another tool may have left it behind."""
    for version, path in reversed(versions(folder)):
        if (path / MODEL_FILE).is_file():
            return path / MODEL_FILE, version
    return None


def latest_model(out: str | os.PathLike) -> tuple[Path, int] | None:
    """The repository's newest model file and its version number; None when it has none yet."""
    return newest_in(model_dir(out))


def model_folder_of(model_file: str | os.PathLike) -> Path | None:
    """The model folder holding a version's model file (models/fashion_mnist for
    models/fashion_mnist/3/model.onnx). None for a file that is not inside a version folder."""
    version = Path(model_file).parent
    return version.parent if _is_version_name(version.name) else None


def repository_of(model_file: str | os.PathLike) -> Path | None:
    """The repository (the --out folder) of a version's model file: models for
    models/fashion_mnist/3/model.onnx; None for a file outside that layout."""
    folder = model_folder_of(model_file)
    return folder.parent if folder is not None and folder.name == MODEL_NAME else None


def run_folder_of(model_file: str | os.PathLike) -> Path:
    """Where the files of the run that made `model_file` lie (history, weights, label-issue
    report): its version folder, the folder the file is in. A model file kept anywhere else
    carries its report beside it in the same way."""
    return Path(model_file).parent


def report_folders(model_file: str | os.PathLike) -> list[Path]:
    """Where to look for `model_file`'s label-issue report, in order: its run folder, then the
    model folder, where repositories written before reports were kept per version hold theirs
    (the report names the model file it was made with, so an old one serves only that model)."""
    folders = [run_folder_of(model_file)]
    legacy = model_folder_of(model_file)
    return folders + [legacy] if legacy is not None else folders


def next_version(out: str | os.PathLike) -> int:
    """One past the highest version name taken, by a folder or by anything else (a file, a
    dangling link): a number is never reused, so a version's name always means the same model,
    and a name the rename could not take is never tried."""
    folder = model_dir(out)
    taken = [int(p.name) for p in folder.glob("[0-9]*") if _is_version_name(p.name)] if folder.is_dir() else []
    return max(taken) + 1 if taken else 1


def unexported_run_dir(out: str | os.PathLike) -> Path:
    """A new folder for the files of a run that exports no version (a scratch-only run): its own,
    so it changes no version's files and no other run's."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    folder = Path(tempfile.mkdtemp(dir=model_dir(out), prefix=f"{UNEXPORTED_PREFIX}{stamp}-"))
    os.chmod(folder, 0o755)  # mkdtemp's 0o700 would hide the files from other users
    return folder


def check_writable(out: str | os.PathLike) -> None:
    """Create the model folder and write and remove a probe file there, or raise OSError.

    Called before training, so an --out that is a file, lies below one, or is read-only fails
    in a second instead of after the whole run. No version folder is made: an empty one would
    be the "newest version" Triton tries, and fails, to load.
    """
    folder = model_dir(out)  # where the version folder is staged, then renamed into place
    folder.mkdir(parents=True, exist_ok=True)
    fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-probe.", suffix=".tmp")
    try:
        os.close(fd)
    finally:  # even on Ctrl-C: no probe is left behind
        os.unlink(probe)


def write_model(out: str | os.PathLike, onnx_bytes: bytes) -> tuple[Path, int]:
    """The ONNX file as a new version, with the Triton config and label file; returns its path
    and version number. Earlier versions are left as they are.

    The model is written into a hidden folder that is then renamed to the version number, so the
    version appears complete or not at all. A rename onto a version another run has just taken
    fails (the folder is not empty), and the next number is tried.
    """
    folder = model_dir(out)
    atomic_write(folder / "config.pbtxt", triton_config().encode())
    atomic_write(folder / "labels.txt", ("\n".join(CLASS_NAMES) + "\n").encode())
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=".new-version.", suffix=".tmp"))
    try:
        atomic_write(staging / MODEL_FILE, onnx_bytes)
        os.chmod(staging, 0o755)  # mkdtemp's 0o700 would hide the model from a server run as another user
        version = next_version(out)
        while True:
            try:
                os.rename(staging, folder / str(version))
                break
            except OSError as e:
                # ENOTDIR: the name is a file or a dangling link made since next_version looked.
                if e.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR):
                    raise
                version += 1
        _fsync_folder(folder)  # the rename must reach the disk, or a power cut could undo it
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already after the rename
    return onnx_path(out, version), version


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def resolve_model_path(model: str | os.PathLike | None = None) -> Path:
    """A .onnx file as given, or the newest version inside a Triton repository (or model) folder."""
    path = Path(model) if model is not None else DEFAULT_REPOSITORY
    try:
        return _resolve(path)
    except OSError as e:  # a name too long or a folder we may not list: one line, not a traceback
        raise ModelError(f"cannot open the model {path}: {e.strerror}") from e


def _resolve(path: Path) -> Path:
    if path.is_dir():
        for folder in (path / MODEL_NAME, path):  # a repository, or the model folder inside it
            newest = newest_in(folder)
            if newest is not None:
                return newest[0]
        raise ModelError(
            f"no model in {path}: expected {path}/{MODEL_NAME}/<version>/{MODEL_FILE} "
            "(run `train-and-export` or `make run` to create it)"
        )
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist (run `train-and-export` or `make run` to create it)")
    return path
