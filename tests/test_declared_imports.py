"""Every third-party module the code imports comes from a distribution pyproject.toml declares.

A module that only arrives as someone else's dependency (starlette through fastapi, pyarrow
through ray[data]) works until that dependency drops it or a fresh machine resolves another
version; so a module imported directly is declared directly, in the base dependencies or in
an extra that `make test` (or, for benchmarks/, `make bench`) installs.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("inference", "training", "gui", "tests", "testkit", "benchmarks")
OWN = frozenset({"inference", "training", "gui", "testkit", "tests"})


def normalize(name: str) -> str:
    """PEP 503: `PySide6_Essentials` and `pyside6-essentials` are one distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


def make_test_extras(makefile: Path) -> set[str]:
    """The extras the .stamp-test rule installs (`make test` and `make bench` both stand on it),
    with $(ORT) at its default: cpu."""
    rule = makefile.read_text(encoding="utf-8").partition("$(VENV)/.stamp-test:")[2]
    found = re.search(r"-e '\.\[([^\]]*)\]'", rule)
    assert found, (
        f"{makefile.name}: no `$(PIP) -e '.[extras]'` under the $(VENV)/.stamp-test rule; this test reads "
        "there which extras `make test` installs: keep that line's form or update make_test_extras"
    )
    return {extra.strip().replace("$(ORT)", "cpu") for extra in found.group(1).split(",")}


def declared_distributions(pyproject: Path, extras: set[str]) -> set[str]:
    """The distributions named in [project] dependencies and in these optional-dependencies extras."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project.get("dependencies", []))
    optional = project.get("optional-dependencies", {})
    missing = sorted(extras - set(optional))
    assert not missing, f"the Makefile installs the extras {missing}, which pyproject.toml does not define"
    for extra in extras:
        requirements.extend(optional[extra])
    # A requirement starts with its name; extras, versions and markers follow it.
    return {normalize(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", r.strip()).group()) for r in requirements}


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, top-level module) for each absolute import in the file, lazy ones inside functions too."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


def is_sibling(path: Path, module: str) -> bool:
    """A script's own folder is on sys.path (benchmarks/, pytest's rootdir-relative test modules)."""
    return (path.parent / f"{module}.py").exists() or (path.parent / module / "__init__.py").exists()


def undeclared(files: Iterable[Path], declared: set[str], providers: Mapping[str, list[str]], root: Path) -> list[str]:
    """One line per import that is neither stdlib, nor the project's own, nor declared."""
    problems = []
    for path in files:
        name = path.relative_to(root)
        for line, module in imported_modules(path):
            if module in sys.stdlib_module_names or module in OWN or is_sibling(path, module):
                continue
            distributions = sorted({normalize(d) for d in providers.get(module, [])})
            if not distributions:
                problems.append(
                    f"{name}:{line} imports {module!r}, which no installed distribution provides: "
                    "install and declare the distribution that provides it in pyproject.toml, or remove the import"
                )
            elif not set(distributions) & declared:
                problems.append(
                    f"{name}:{line} imports {module!r} (from {' or '.join(distributions)}), which is not declared "
                    "in pyproject.toml's dependencies nor in an extra that `make test` installs: "
                    f"add {distributions[0]!r} to one of them, or import a declared module instead"
                )
    return problems


def project_files() -> list[Path]:
    return sorted(p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py"))


def test_every_imported_module_is_declared():
    problems = undeclared(
        project_files(),
        declared_distributions(ROOT / "pyproject.toml", make_test_extras(ROOT / "Makefile")),
        importlib.metadata.packages_distributions(),
        ROOT,
    )
    assert not problems, "\n".join(problems)


def test_the_check_names_the_file_the_module_and_the_fix(tmp_path):
    (tmp_path / "sibling.py").write_text("")
    script = tmp_path / "script.py"
    script.write_text(
        "import os\nimport numpy\nimport sibling\nfrom inference.core import errors\n"
        "def later():\n    import yaml_like\n    from PIL import Image\n"
    )
    providers = {"numpy": ["numpy"], "PIL": ["Pillow"]}

    problems = undeclared([script], {"numpy"}, providers, tmp_path)

    assert len(problems) == 2, problems
    assert problems[0].startswith("script.py:6 imports 'yaml_like', which no installed distribution")
    assert problems[1].startswith("script.py:7 imports 'PIL' (from pillow), which is not declared")
    assert "add 'pillow'" in problems[1]
    providers["yaml_like"] = ["yaml_like"]
    assert not undeclared([script], {"numpy", "pillow", "yaml-like"}, providers, tmp_path)


def test_declared_names_are_read_from_the_extras_make_test_installs(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\ndependencies = ["numpy>=1.24"]\n'
        "[project.optional-dependencies]\n"
        "gui = [\"PySide6_Essentials>=6.6; python_version < '3.12'\"]\nray = [\"ray[data]>=2.40\"]\n"
        'cpu = ["onnxruntime>=1.17"]\ngpu = ["onnxruntime-gpu>=1.17"]\n'
    )
    makefile = tmp_path / "Makefile"
    makefile.write_text(
        "$(VENV)/.stamp-gui: pyproject.toml\n\t$(PIP) -e '.[$(ORT),gpu]'\n"
        "$(VENV)/.stamp-test: pyproject.toml | $(VENV)/.stamp-base\n\t$(PIP) -e '.[$(ORT),gui]'\n"
    )

    extras = make_test_extras(makefile)

    assert extras == {"cpu", "gui"}
    assert declared_distributions(pyproject, extras) == {"numpy", "onnxruntime", "pyside6-essentials"}
