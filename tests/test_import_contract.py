"""The layers point one way, checked on the source of every module (not on what one run imports).

`inference/` is numpy + onnxruntime and never imports torch, torchvision, cleanlab, `training` or
`gui`; `gui/` never imports torch, torchvision, cleanlab or `training`; nothing imports `gui`.
An import inside a function counts too: a lazy `import torch` would still cost a user 3 s.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("inference", "training", "gui")
FORBIDDEN = {
    "inference": {"torch", "torchvision", "cleanlab", "training", "gui"},
    "gui": {"torch", "torchvision", "cleanlab", "training"},
    "training": {"gui"},
}


def imported_roots(path: Path, root: Path = ROOT) -> set[str]:
    """The top-level package of every import statement in a file, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = path.relative_to(root).parts[0]
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            roots.add(package if node.level else (node.module or "").split(".")[0])
    return roots


def modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def test_every_package_is_checked():
    found = {p.relative_to(ROOT).parts[0] for p in modules()}
    assert found == set(PACKAGES)


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_respects_the_layers(path):
    package = path.relative_to(ROOT).parts[0]
    bad = imported_roots(path) & FORBIDDEN[package]
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}, which {package}/ must never import"


def test_the_checker_sees_lazy_and_relative_imports(tmp_path):
    """A checker that missed imports inside functions would pass everything: prove it does not."""
    source = "def later():\n    import torch.nn\n    from training.loop import fit\nfrom . import palette\n"
    path = tmp_path / "gui" / "probe.py"
    path.parent.mkdir()
    path.write_text(source)
    assert imported_roots(path, root=tmp_path) == {"torch", "training", "gui"}
