"""The model the service serves, Triton's way: its name is its folder's (`fashion_mnist`), every
version folder holding a model.onnx is served, and a request that names no version gets the
default that `config.pbtxt`'s `version_policy` picks, as Triton does (latest: the newest;
specific: the highest listed). The default version is opened at start; the others on their first
request (each open is ~0.1 s and a session's memory), then kept.

`--model` naming one .onnx file serves that file alone, under its folder's name and version
(models/fashion_mnist/3/model.onnx: fashion_mnist, version 3; elsewhere: the folder, version 1).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from inference.adapters.model_config_text import parse_config
from inference.core.classes import IMAGE_SHAPE, NUM_CLASSES
from inference.core.errors import ModelError, ServiceError
from inference.core.model_contract import INPUT, OUTPUTS, PROBABILITIES
from inference.core.model_repository import MODEL_FILE, MODEL_NAME, triton_config, versions
from inference.core.predictor import Predictor

PLATFORM = "onnxruntime_onnx"
INPUT_DATATYPE = "UINT8"
OUTPUT_DATATYPE = "FP32"


class ServedModel:
    """One model's versions, each opened once by `open_predictor(path)` and shared by all requests."""

    def __init__(
        self,
        name: str,
        folder: Path | None,
        files: dict[str, Path],
        default: str,
        open_predictor: Callable[[Path], Predictor],
        config: dict,
    ):
        self.name, self.folder, self.files, self.default = name, folder, files, default
        self.config = config
        self.max_batch = int(config.get("max_batch_size", 0)) or None
        self._open = open_predictor
        self._predictors: dict[str, Predictor] = {}
        self._lock = threading.Lock()
        self.labels = {out["name"]: self._labels(out) for out in config.get("output", [])}

    @classmethod
    def from_predictor(
        cls, predictor: Predictor, open_predictor: Callable[[Path], Predictor] | None = None, whole_folder: bool = True
    ) -> ServedModel:
        """The model around an open Predictor: the version it scores is the default, and (with
        `whole_folder`) its sibling version folders are served too."""
        path = Path(predictor.path)
        version_dir = path.parent
        numbered = version_dir.name.isascii() and version_dir.name.isdigit()
        if numbered:
            name, folder, version = version_dir.parent.name, version_dir.parent, str(int(version_dir.name))
        else:
            name, folder, version = version_dir.name or MODEL_NAME, None, "1"
        files = {version: path}
        if folder is not None and whole_folder:  # a numbered version folder: its siblings too
            files |= {str(v): p / MODEL_FILE for v, p in versions(folder) if (p / MODEL_FILE).is_file()}
        config = read_config(folder, name)
        opener = open_predictor or (lambda p: Predictor(p, device=predictor.device, threads=predictor.threads))
        model = cls(name, folder, dict(sorted(files.items(), key=lambda kv: int(kv[0]))), version, opener, config)
        model._predictors[version] = predictor
        return model

    def _labels(self, output: dict) -> list[str] | None:
        """The class labels of an output, from its label_filename as Triton reads them; None when it has none."""
        filename = output.get("label_filename")
        if not filename:
            return None
        if self.folder is not None and (self.folder / filename).is_file():
            return (self.folder / filename).read_text(encoding="utf-8").splitlines()
        return None  # resolved from the model's own class names once it is open (see label_list)

    def label_list(self, output: str, predictor: Predictor) -> list[str] | None:
        labels = self.labels.get(output)
        if labels is None and output == PROBABILITIES and self.folder is None:
            return predictor.class_names  # a lone .onnx: its metadata names the classes
        return labels

    def version_of(self, requested: str | None) -> str:
        """The version a request means; 404 for one that is not served."""
        if requested is None or requested == "":
            return self.default
        key = str(int(requested)) if requested.isascii() and requested.isdigit() else requested
        if key not in self.files:
            raise ServiceError(
                404,
                f"Request for unknown model: '{self.name}' version {requested} is not found; "
                f"served versions are {', '.join(self.files)}",
            )
        return key

    def predictor(self, version: str) -> Predictor:
        """The version's Predictor, opened on first use (call from a worker thread: it may take ~0.1 s)."""
        found = self._predictors.get(version)
        if found is not None:
            return found
        with self._lock:
            if version not in self._predictors:
                try:
                    self._predictors[version] = self._open(self.files[version])
                except ModelError as e:
                    raise ServiceError(
                        500, f"version {version} of '{self.name}' cannot be loaded: {e}", "BACKEND"
                    ) from e
            return self._predictors[version]

    def loaded(self, version: str) -> Predictor | None:
        return self._predictors.get(version)

    def metadata(self) -> dict:
        """The Open Inference Protocol's model metadata, shapes with the batch dimension as -1."""
        return {
            "name": self.name,
            "versions": list(self.files),
            "platform": PLATFORM,
            "inputs": [{"name": INPUT, "datatype": INPUT_DATATYPE, "shape": [-1, *IMAGE_SHAPE]}],
            "outputs": [{"name": o, "datatype": OUTPUT_DATATYPE, "shape": [-1, NUM_CLASSES]} for o in OUTPUTS],
        }

    def index(self) -> list[dict]:
        """Triton's repository index: every version, READY once it is open."""
        return [
            {
                "name": self.name,
                "version": v,
                "state": "READY" if v in self._predictors else "UNAVAILABLE",
                **({} if v in self._predictors else {"reason": "not loaded yet: loaded on its first request"}),
            }
            for v in self.files
        ]


def read_config(folder: Path | None, name: str) -> dict:
    """config.pbtxt of the model folder, or the one the project writes when there is none."""
    path = folder / "config.pbtxt" if folder is not None else None
    if path is not None and path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ModelError(f"cannot read {path}: {e}; re-export the model with train-and-export") from e
        return parse_config(text, str(path))
    config = parse_config(triton_config())
    config["name"] = name
    for output in config["output"]:
        output.pop("label_filename", None)  # no labels.txt beside a lone file: labels come from its metadata
    return config


def default_version(config: dict, available: list[str]) -> str | None:
    """The version Triton would serve by default under the config's version_policy."""
    policy = config.get("version_policy") or {"latest": {"num_versions": 1}}
    numbers = sorted(int(v) for v in available)
    if "specific" in policy:
        listed = [int(v) for v in policy["specific"].get("versions", []) if int(v) in numbers]
        return str(max(listed)) if listed else None
    return str(numbers[-1]) if numbers else None
