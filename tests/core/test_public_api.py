"""`from inference import ...`: every public name imports, the heavy ones only on first use, and
every exception class of `inference/` lives in inference/core/errors.py."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import inference
from inference.core import errors, fashion_mnist, input_files, predictor

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", inference.__all__)
def test_every_public_name_imports(name):
    namespace: dict[str, object] = {}
    exec(f"from inference import {name}", namespace)  # the statement a user writes, not getattr
    assert namespace[name] is getattr(inference, name)


def test_the_public_names_are_the_core_ones():
    assert inference.Predictor is predictor.Predictor and inference.Prediction is predictor.Prediction
    assert inference.load is input_files.load and inference.load_split is fashion_mnist.load_split
    public_errors = {n for n in inference.__all__ if isinstance(getattr(inference, n), type)} & set(vars(errors))
    inference_errors = {
        n for n, v in vars(errors).items() if isinstance(v, type) and issubclass(v, errors.InferenceError)
    }
    assert public_errors == inference_errors  # every error a caller can catch, none left out


def test_an_unknown_name_says_what_there_is():
    with pytest.raises(AttributeError, match="no attribute 'Predicter'; it has .*Predictor"):
        inference.Predicter  # noqa: B018


def test_importing_the_errors_imports_neither_numpy_nor_onnxruntime():
    # A fresh interpreter: this one has long imported both.
    code = "import sys, inference.core.errors, inference; print(sorted({'numpy', 'onnxruntime'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr


def exception_classes(path: Path) -> list[str]:
    """Classes in a file whose name or a base's name says it is an exception."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            bases = [ast.unparse(b) for b in node.bases]
            if any(b.endswith(("Error", "Exception", "Overloaded", "NonFiniteScores")) for b in bases):
                found.append(node.name)
    return found


def test_every_inference_exception_class_is_in_the_errors_module():
    elsewhere = {
        str(path.relative_to(REPO)): names
        for path in sorted((REPO / "inference").rglob("*.py"))
        if path != REPO / "inference" / "core" / "errors.py" and (names := exception_classes(path))
    }
    assert elsewhere == {}
    assert {"ReportError", "NonFiniteScores", "RayEngineError", "ServiceError", "Overloaded", "ClientLeft"} <= set(
        exception_classes(REPO / "inference" / "core" / "errors.py")
    )
