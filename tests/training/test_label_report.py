"""The cleanlab label-quality report: CSV columns and order, agreement with cleanlab itself, a
planted wrong label found, the sidecar that ties the files to their data and model, and cleanlab
imported only when asked for."""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from training import label_report, softmax_concise
from training.config import TrainConfig
from training.cross_val import out_of_fold
from training.data import Data
from training.errors import TrainingError
from training.label_report import FILTER_BY, METHOD, LabelIssues, find_issues, summary, to_csv, write_report


@pytest.fixture(autouse=True, scope="module")
def cleanlab_api():
    """cleanlab's own functions, imported when this module's tests run rather than when the suite is
    collected: importing it costs each pytest-xdist worker 2 s, and only one runs these."""
    try:
        from cleanlab.filter import find_label_issues
        from cleanlab.rank import get_label_quality_scores
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            raise  # CI installs the label-issues extra and must run these
        pytest.skip("the label report needs the optional cleanlab: pip install cleanlab")
    return SimpleNamespace(find_label_issues=find_label_issues, get_label_quality_scores=get_label_quality_scores)


EXPECTED_COLUMNS = ["index", "given_label", "suggested_label", "label_quality", "is_issue"] + [
    f"p_{c}" for c in range(10)
]
TROUSER, SNEAKER = 1, 7
N = 3000


# These models are tiny: see the fixture for why one thread.
pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def planted(fashion_dir):
    """3000 real training images, one trouser relabelled 'Sneaker', 3-fold out-of-fold probabilities."""
    from inference.core.fashion_mnist import load_split

    split = load_split("train", fashion_dir)
    labels = split.labels[:N].copy()
    victim = int(np.flatnonzero(labels == TROUSER)[0])
    labels[victim] = SNEAKER
    images = torch.from_numpy(split.images[:N])
    cfg = TrainConfig(epochs=3, batch_size=32, lr=0.05)
    oof = out_of_fold(softmax_concise.build, cfg, images, torch.from_numpy(labels), 3, progress=False)
    return labels, oof.probabilities, victim


def read_rows(data: bytes) -> tuple[list[str], list[dict]]:
    reader = csv.DictReader(io.StringIO(data.decode()))
    return reader.fieldnames, list(reader)


@pytest.mark.slow
def test_csv_columns_and_order(planted):
    labels, probs, _ = planted
    header, rows = read_rows(to_csv(find_issues("train", labels, probs)))
    assert header == EXPECTED_COLUMNS
    quality = [float(r["label_quality"]) for r in rows]
    assert quality == sorted(quality)
    index = np.array([int(r["index"]) for r in rows])
    assert sorted(index) == list(range(N))
    np.testing.assert_array_equal([int(r["given_label"]) for r in rows], labels[index])
    np.testing.assert_array_equal([int(r["suggested_label"]) for r in rows], probs[index].argmax(axis=1))
    row_probs = np.array([[float(r[f"p_{c}"]) for c in range(10)] for r in rows])
    np.testing.assert_allclose(row_probs, probs[index], rtol=1e-5, atol=1e-9)
    assert {r["is_issue"] for r in rows} == {"true", "false"}


@pytest.mark.slow
def test_scores_and_flags_are_cleanlabs_own(planted, cleanlab_api):
    labels, probs, _ = planted
    issues = find_issues("train", labels, probs)
    expected_flags = cleanlab_api.find_label_issues(labels, probs, filter_by=FILTER_BY)
    expected_quality = cleanlab_api.get_label_quality_scores(labels, probs, method=METHOD)
    np.testing.assert_array_equal(issues.is_issue, expected_flags[issues.index])
    np.testing.assert_allclose(issues.label_quality, expected_quality[issues.index])
    assert 0 < issues.is_issue.sum() < N
    # FILTER_BY flags the lowest-quality rows, so the flagged rows are the top of the file.
    np.testing.assert_array_equal(issues.is_issue, np.arange(N) < issues.is_issue.sum())


@pytest.mark.slow
def test_a_planted_wrong_label_on_an_easy_class_ranks_at_the_top(planted):
    labels, probs, victim = planted
    issues = find_issues("train", labels, probs)
    rank = int(np.flatnonzero(issues.index == victim)[0])
    assert rank < N // 100, f"the trouser labelled 'Sneaker' ranks {rank} of {N}"
    assert issues.is_issue[rank]
    assert issues.suggested_label[rank] == TROUSER


@pytest.mark.slow
def test_dropped_rows_keep_their_own_index(planted):
    labels, probs, _ = planted
    keep = np.arange(1, N, 2)  # as if the even images had been excluded
    issues = find_issues("train", labels[keep], probs[keep], index=keep)
    assert set(issues.index) == set(keep)
    np.testing.assert_array_equal(issues.given_label, labels[issues.index])


def hand_made(split: str, pairs: list[tuple[int, int]], clean: int) -> LabelIssues:
    """A report with one flagged row per (given, suggested) pair and `clean` unflagged rows."""
    n = len(pairs) + clean
    given = np.array([g for g, _ in pairs] + [0] * clean)
    suggested = np.array([s for _, s in pairs] + [0] * clean)
    return LabelIssues(
        split,
        np.arange(n),
        given,
        suggested,
        np.linspace(0, 1, n),
        np.arange(n) < len(pairs),
        np.full((n, 10), 0.1, dtype=np.float32),
    )


def test_summary_counts_issues_per_split_and_ranks_class_pairs():
    train = hand_made("train", [(6, 0)] * 5 + [(2, 4)] * 3 + [(c, 9) for c in range(9)], clean=20)
    test = hand_made("test", [(6, 0)] * 2 + [(2, 4)] * 5, clean=10)
    lines = summary([train, test]).splitlines()
    assert "train 17 of 37" in lines[0] and "test 7 of 17" in lines[0]
    pair_lines = lines[2:]
    assert len(pair_lines) == 10  # the top 10 of the 11 pairs
    assert "Pullover -> Coat" in pair_lines[0] and pair_lines[0].split()[-2:] == ["3", "5"]  # 8 in all
    assert "Shirt -> T-shirt/top" in pair_lines[1] and pair_lines[1].split()[-2:] == ["5", "2"]


def test_summary_without_issues_says_so():
    assert summary([hand_made("test", [], clean=5)]).splitlines() == [
        f"label issues flagged by cleanlab ({METHOD}, {FILTER_BY}): test 0 of 5"
    ]


@pytest.mark.slow
def test_report_files_are_tied_to_each_other_and_to_their_inputs(planted, tmp_path):
    labels, probs, _ = planted
    reports = [find_issues("train", labels, probs), find_issues("test", labels[:500], probs[:500])]
    provenance = {"dataset_sha256": "d" * 64, "model_sha256": "m" * 64, "cross_val_folds": 3}
    written = write_report(tmp_path, reports, provenance)
    assert (
        sorted(p.name for p in tmp_path.iterdir())
        == sorted(p.name for p in written)
        == ["label_issues-test.csv", "label_issues-train.csv", "label_issues.json"]
    )
    sidecar = json.loads((tmp_path / "label_issues.json").read_text())
    assert sidecar.items() >= provenance.items()
    assert (sidecar["method"], sidecar["filter_by"]) == (METHOD, FILTER_BY)
    for r in reports:
        entry = sidecar["splits"][r.split]
        data = (tmp_path / entry["file"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["rows"] == len(read_rows(data)[1]) == len(r.index)
        assert entry["issues"] == int(r.is_issue.sum())


@pytest.mark.slow
def test_end_to_end_report_in_the_versions_folder(fashion_dir, tmp_path):
    """report_label_issues as train-and-export --cross-val will call it, on a small real subset."""
    from inference.core.fashion_mnist import load_split
    from inference.core.model_repository import onnx_path

    train, test = load_split("train", fashion_dir), load_split("test", fashion_dir)
    t = lambda a: torch.from_numpy(a)  # noqa: E731
    data = Data(
        t(train.images[:1000]),
        t(train.labels[:1000]),
        t(test.images[:300]),
        t(test.labels[:300]),
        t(test.images[:300]),
        t(test.labels[:300]),
        train.digest,
        fashion_dir,
        torch.arange(1000),
        None,
    )
    cfg = TrainConfig(epochs=2, out=str(tmp_path), cross_val=2, auditor="linear")
    torch.manual_seed(0)
    final, _, _ = softmax_concise.build(cfg, torch.device("cpu"))
    model_file = onnx_path(tmp_path, 1)
    model_file.parent.mkdir(parents=True)
    model_file.write_bytes(b"stand-in model bytes")

    text = label_report.report_label_issues(cfg, data, final, model_file.parent, model_file, progress=False)
    sidecar = json.loads((model_file.parent / "label_issues.json").read_text())
    assert sidecar["dataset_sha256"] == train.digest
    assert sidecar["model"] == "1/model.onnx"
    assert sidecar["model_sha256"] == hashlib.sha256(b"stand-in model bytes").hexdigest()
    assert sidecar["cross_val_folds"] == 2 and sidecar["auditor"]["name"] == "linear"
    assert (sidecar["splits"]["train"]["rows"], sidecar["splits"]["test"]["rows"]) == (1000, 300)
    assert "2-fold out-of-fold probabilities" in text and "train " in text and " of 1000" in text


def test_missing_cleanlab_is_one_line_saying_how_to_install(monkeypatch):
    for name in ("cleanlab", "cleanlab.filter", "cleanlab.rank"):
        monkeypatch.setitem(sys.modules, name, None)  # makes `import cleanlab...` raise ImportError
    with pytest.raises(TrainingError) as e:
        label_report.require_cleanlab()
    message = str(e.value)
    assert "\n" not in message and "cleanlab" in message and "pip install" in message and "--cross-val" in message


def test_cleanlab_is_imported_only_inside_functions():
    """Importing training/ must not import cleanlab: it is needed only with --cross-val."""
    root = Path(__file__).resolve().parents[2] / "training"
    for path in root.rglob("*.py"):
        eager = list(load_time_imports(ast.parse(path.read_text(encoding="utf-8"))))
        assert "cleanlab" not in eager, f"{path.name} imports cleanlab when it is loaded"
    probe = "import cleanlab.rank\ntry:\n    import numpy\nexcept ImportError:\n    from cleanlab import filter\n"
    assert list(load_time_imports(ast.parse(probe))) == ["cleanlab", "numpy", "cleanlab"]


def load_time_imports(node: ast.AST):
    """Top-level package of every import that runs when the module loads: all but those in functions."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(child, ast.Import):
            yield from (a.name.split(".")[0] for a in child.names)
        elif isinstance(child, ast.ImportFrom) and not child.level:
            yield (child.module or "").split(".")[0]
        yield from load_time_imports(child)


def test_the_training_split_keeps_file_order_and_its_hold_out(fashion_dir):
    """With --val-split the final model trains on a shuffled subset; the report still scores every
    training image, at its index in the IDX file."""
    from inference.core.fashion_mnist import load_split
    from training.data import prepare

    data = prepare(str(fashion_dir), False, 500, 1, torch.device("cpu"))
    images, labels, index = label_report.training_split(data, val_split=500)
    train = load_split("train", fashion_dir)
    assert len(data.train_labels) == len(train.labels) - 500
    np.testing.assert_array_equal(index.numpy(), np.arange(len(train.labels)))
    np.testing.assert_array_equal(labels.numpy(), train.labels)
    np.testing.assert_array_equal(images[::997].numpy(), train.images[::997])


def test_the_training_split_skips_excluded_images_and_restores_file_order():
    """--corrections with --val-split: images 1 and 4 excluded, the rest shuffled between training
    and validation; the report gets the kept images in file order, each at its own index."""
    file_images = torch.arange(6, dtype=torch.uint8).reshape(6, 1, 1).expand(6, 28, 28)  # pixel value = index
    file_labels = torch.tensor([3, 9, 7, 3, 0, 5])
    train_index, val_index = torch.tensor([5, 0, 3]), torch.tensor([2])
    data = Data(
        file_images[train_index],
        file_labels[train_index],
        file_images[val_index],
        file_labels[val_index],
        file_images[:0],
        file_labels[:0],
        "d" * 64,
        Path("."),
        train_index,
        val_index,
    )
    images, labels, index = label_report.training_split(data, val_split=1)
    assert index.tolist() == [0, 2, 3, 5]
    assert images[:, 0, 0].tolist() == [0, 2, 3, 5]
    assert labels.tolist() == [3, 7, 3, 5]
