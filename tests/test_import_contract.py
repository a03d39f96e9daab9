"""The layers point one way, checked on the source of every module (not on what one run imports).

`inference/` is numpy + onnxruntime and never imports torch, torchvision, cleanlab, `training` or
`gui`; `gui/` never imports torch, torchvision, cleanlab or `training`; nothing imports `gui`.
The shipped packages never import `testkit` (the helpers the tests and benchmarks share), and the
benchmarks never import `tests`. No two modules import each other, directly or round a longer loop.
Inside `inference/`, the core imports no adapter, and an adapter imports the core, not another
adapter (but for the two edges in ADAPTER_EDGES).
An import inside a function counts too: a lazy `import torch` would still cost a user 3 s.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("inference", "training", "gui", "testkit", "benchmarks")
FORBIDDEN = {
    "inference": {"torch", "torchvision", "cleanlab", "training", "gui", "testkit", "tests"},
    "gui": {"torch", "torchvision", "cleanlab", "training", "testkit", "tests"},
    "training": {"gui", "testkit", "tests"},
    "testkit": {"tests"},
    "benchmarks": {"tests"},
}


# Which adapter each adapter module belongs to: fashion-serve is one adapter in several files.
HTTP_MODULES = (
    "serve_command",
    "http_app",
    "http_schema",
    "serve_settings",
    "serve_protocol",
    "admission",
    "request_body",
    "service",
    "served_models",
    "model_config_text",
    "oip_routes",
    "oip_tensors",
    "predict_json",
    "json_offload",
    "inference_stats",
    "serve_metrics",
)
ADAPTERS = {
    "inference.adapters.predict_command": "command line",
    **{f"inference.adapters.{name}": "http" for name in HTTP_MODULES},
    "inference.adapters.ray_engine": "ray",
}
# `fashion-predict --engine ray` is the command line's front door to the Ray engine.
ADAPTER_EDGES = {("command line", "ray")}


@functools.cache
def syntax_tree(path: Path) -> ast.Module:
    """A file parsed once a run: three checks read each module, and parsing was most of their time."""
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported_modules(path: Path, load_time_only: bool = False) -> set[str]:
    """Every absolute module name a file imports (`from a.b import c` gives a.b and a.b.c).
    load_time_only: top-level statements alone (an import inside a function or under
    `if TYPE_CHECKING:` runs later, or never, and cannot close a loop)."""
    tree = syntax_tree(path)
    names = set()
    for node in tree.body if load_time_only else ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def imported_roots(path: Path, root: Path = ROOT) -> set[str]:
    """The top-level package of every import statement in a file, relative imports resolved."""
    tree = syntax_tree(path)
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


# The checks below read every module and name each one that breaks a rule, all in one message (one
# test a check, not one a module: 330 tests cost more in pytest-xdist's bookkeeping than in checking).


def test_every_module_respects_the_layers():
    problems = []
    for path in modules():
        package = path.relative_to(ROOT).parts[0]
        if bad := imported_roots(path) & FORBIDDEN[package]:
            problems.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}, which {package}/ must never import")
    assert not problems, "\n".join(problems)


def test_the_checker_sees_lazy_and_relative_imports(tmp_path):
    """A checker that missed imports inside functions would pass everything: prove it does not."""
    source = "def later():\n    import torch.nn\n    from training.loop import fit\nfrom . import palette\n"
    path = tmp_path / "gui" / "probe.py"
    path.parent.mkdir()
    path.write_text(source)
    assert imported_roots(path, root=tmp_path) == {"torch", "training", "gui"}


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def adapter_of(module: str) -> str | None:
    return next((group for name, group in ADAPTERS.items() if module == name or module.startswith(name + ".")), None)


def test_every_adapter_module_is_assigned():
    found = {module_name(p) for p in (ROOT / "inference" / "adapters").glob("[!_]*.py")}
    assert found == set(ADAPTERS)


def test_core_imports_no_adapter_and_adapters_not_each_other():
    problems = []
    for path in sorted((ROOT / "inference").rglob("*.py")):
        name = module_name(path)
        used = {adapter_of(m) for m in imported_modules(path) if m.startswith("inference.adapters.")} - {None}
        if name.startswith("inference.core") and used:
            problems.append(f"{name} (core) imports the adapters {sorted(used)}")
        elif name in ADAPTERS:
            own = adapter_of(name)
            if stray := {g for g in used if g != own and (own, g) not in ADAPTER_EDGES}:
                problems.append(
                    f"{name} ({own}) imports the adapters {sorted(stray)}; adapters depend on the core only"
                )
    assert not problems, "\n".join(problems)


def import_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One loop in a module graph (a list that starts and ends with the same module), or []."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return []


def test_no_module_imports_itself_round_a_loop():
    shipped = [p for p in modules() if p.relative_to(ROOT).parts[0] in ("inference", "training", "gui")]
    known = {module_name(p) for p in shipped}
    graph = {module_name(p): imported_modules(p, load_time_only=True) & known - {module_name(p)} for p in shipped}
    loop = import_cycle(graph)
    assert not loop, "import loop: " + " -> ".join(loop) + "; move what both need into a module of its own"


def test_the_loop_finder_finds_a_loop():
    assert import_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert import_cycle({"a": {"b"}, "b": set()}) == []


def test_the_corrections_store_is_used_through_its_package():
    """`inference.core.corrections` is one package with one front door: callers import what its
    `__init__` exports, so that its modules can be split or renamed without touching them."""
    package = ROOT / "inference" / "core" / "corrections"
    assert (package / "__init__.py").is_file() and not list((ROOT / "inference" / "core").glob("corrections_*.py"))
    for path in modules():
        if path.is_relative_to(package) or path.relative_to(ROOT).parts[0] == "testkit":
            continue
        inner = {m for m in imported_modules(path) if m.startswith("inference.core.corrections.")}
        inner -= {f"inference.core.corrections.{name}" for name in exported_names(package / "__init__.py")}
        assert not inner, (
            f"{path.relative_to(ROOT)} imports {sorted(inner)}; import them from inference.core.corrections"
        )


def exported_names(init: Path) -> set[str]:
    tree = syntax_tree(init)
    return {
        alias.asname or alias.name for node in tree.body if isinstance(node, ast.ImportFrom) for alias in node.names
    }


def test_the_public_api_loads_only_the_errors_up_front():
    """`import inference` must stay as cheap as `import inference.core.errors`: the rest of the
    public API is loaded when a name is first asked for."""
    assert imported_modules(ROOT / "inference" / "__init__.py", load_time_only=True) - {
        "importlib",
        "__future__",
        "__future__.annotations",
    } <= {"inference.core.errors"} | {
        f"inference.core.errors.{n}" for n in exported_names(ROOT / "inference" / "__init__.py")
    }


# The ONNX model contract's names and metadata keys, spelled only in inference/core/model_contract.py.
# The same words elsewhere that mean something else: the fields of other file formats.
CONTRACT_WORDS = {
    "probabilities",
    "logits",
    "class_names",
    "test_accuracy",
    "test_accuracy_corrected",
    "corrections_train",
    "corrections_test",
    "corrections_test_digest",
    "dataset_sha256",
}
OTHER_FORMATS = {
    "inference/adapters/predict_command.py": {"probabilities"},  # a field of fashion-predict's JSON lines
    "inference/core/label_issues.py": {"probabilities", "dataset_sha256"},  # fields of label_issues.json
    "training/label_report.py": {"probabilities", "dataset_sha256"},  # which writes label_issues.json
    "training/run_outputs.py": {"dataset_sha256"},  # a field of history.json
}


def test_the_model_contract_has_one_owner():
    problems = []
    for path in modules():
        if path.relative_to(ROOT).parts[0] not in ("inference", "training", "gui") or path.name == "model_contract.py":
            continue
        tree = syntax_tree(path)
        words = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        if spelled := words & CONTRACT_WORDS - OTHER_FORMATS.get(path.relative_to(ROOT).as_posix(), set()):
            problems.append(
                f"{path.relative_to(ROOT)} spells the model contract's {sorted(spelled)}; "
                "use the names in inference/core/model_contract.py"
            )
    assert not problems, "\n".join(problems)
