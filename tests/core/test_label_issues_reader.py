"""Reading the label-issue report back without cleanlab: what a good report gives, and every way a
report is refused (missing, damaged, changed after its sidecar, other data, other model, indices
outside the split, a wrong header) with one line that says how to make a new one."""

from __future__ import annotations

import json

import numpy as np
import pytest

from inference.core.errors import ReportError
from inference.core.label_issues import COLUMNS, HOW_TO_MAKE, SIDECAR, csv_name, read_report
from testkit.label_issue_files import csv_text, write_report, write_sidecar

DATA, MODEL = "d" * 64, "e" * 64
SIZE = 12


@pytest.fixture
def report(tmp_path):
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(10), SIZE).astype(np.float32)
    labels = rng.integers(0, 10, SIZE)
    return write_report(tmp_path, "test", labels, probabilities, dataset_sha256=DATA, model_sha256=MODEL, flag=4)


def test_a_matching_report_reads_back_in_file_order(tmp_path, report):
    read = read_report(tmp_path, "test", DATA, MODEL, SIZE)
    np.testing.assert_array_equal(read.index, report.index)
    np.testing.assert_array_equal(read.given_label, report.given)
    np.testing.assert_array_equal(read.suggested_label, report.suggested)
    np.testing.assert_allclose(read.label_quality, report.quality, rtol=1e-5)
    np.testing.assert_array_equal(read.is_issue, report.flagged)
    np.testing.assert_allclose(read.probabilities, report.probabilities, rtol=1e-5)
    assert read.method == "self_confidence" and read.split == "test"


def test_by_image_puts_each_column_at_its_image(tmp_path, report):
    columns = read_report(tmp_path, "test", DATA, MODEL, SIZE).by_image(SIZE + 3)  # 3 images without a row
    np.testing.assert_array_equal(columns["rank"][report.index], np.arange(SIZE))
    np.testing.assert_array_equal(columns["flagged"][report.index], report.flagged)
    np.testing.assert_array_equal(columns["suggested"][report.index], report.suggested)
    np.testing.assert_allclose(
        columns["p_suggested"][report.index], report.probabilities[np.arange(SIZE), report.suggested], rtol=1e-5
    )
    assert (columns["rank"][SIZE:] == -1).all() and (columns["suggested"][SIZE:] == -1).all()
    assert not columns["flagged"][SIZE:].any() and np.isnan(columns["quality"][SIZE:]).all()


def refused(tmp_path, split="test", data=DATA, model=MODEL, size=SIZE) -> str:
    with pytest.raises(ReportError) as caught:
        read_report(tmp_path, split, data, model, size)
    message = str(caught.value)
    assert "\n" not in message and HOW_TO_MAKE in message
    return message


def test_missing_report(tmp_path):
    assert "no label-issue report" in refused(tmp_path)


def test_missing_csv_beside_its_sidecar(tmp_path, report):
    (tmp_path / csv_name("test")).unlink()
    assert "no label-issue report" in refused(tmp_path) and csv_name("test") in refused(tmp_path)


def test_split_the_report_lacks(tmp_path, report):
    assert "has no train split" in refused(tmp_path, split="train", size=60_000)


@pytest.mark.parametrize("content", ["{ damaged", "[1, 2]", "x" * 10], ids=["truncated", "not-an-object", "garbage"])
def test_damaged_sidecar(tmp_path, report, content):
    (tmp_path / SIDECAR).write_text(content)
    assert str(tmp_path / SIDECAR) in refused(tmp_path)


def test_csv_changed_after_its_sidecar(tmp_path, report):
    path = tmp_path / csv_name("test")
    path.write_bytes(path.read_bytes().replace(b",false,", b",true,", 1))
    assert "was changed after" in refused(tmp_path)


def test_report_of_other_data(tmp_path, report):
    assert "made from other data" in refused(tmp_path, data="f" * 64)


def test_report_of_another_model(tmp_path, report):
    assert "another model than the one shown" in refused(tmp_path, model="f" * 64)


def write_raw(tmp_path, text: str) -> None:
    """A CSV with a sidecar that matches it: only the content itself can be wrong."""
    data = text.encode()
    (tmp_path / csv_name("test")).write_bytes(data)
    write_sidecar(tmp_path, {"test": data}, DATA, MODEL)


ROW = dict(index=[3], given=[1], suggested=[2], quality=[0.01], flagged=[True], probabilities=[[0.1] * 10])


@pytest.mark.parametrize(
    "change, says",
    [
        ({"index": [SIZE]}, "outside the test split"),
        ({"index": [-1]}, "outside the test split"),
        ({"given": [10]}, "outside the test split"),
        ({"suggested": [-2]}, "outside the test split"),
        ({"probabilities": [[1.5] + [0.1] * 9]}, "probabilities 0..1"),
        ({"quality": [float("nan")]}, "outside the test split"),
    ],
    ids=["index-past-the-end", "negative-index", "label-10", "negative-suggestion", "probability-over-1", "nan"],
)
def test_values_outside_the_split(tmp_path, change, says):
    write_raw(tmp_path, csv_text(*{**ROW, **change}.values()))
    assert says in refused(tmp_path)


def test_an_index_twice(tmp_path):
    row = csv_text(*ROW.values()).splitlines()[1]
    write_raw(tmp_path, ",".join(COLUMNS) + f"\n{row}\n{row}\n")
    assert "outside the test split" in refused(tmp_path)


@pytest.mark.parametrize(
    "header",
    [
        ",".join(COLUMNS[:-1]),
        ",".join(reversed(COLUMNS)),
        "# made by cleanlab\n" + ",".join(COLUMNS),
        "",
    ],
    ids=["column-missing", "reordered", "comment-line-first", "empty-file"],
)
def test_wrong_header(tmp_path, header):
    body = "\n".join(csv_text(*ROW.values()).splitlines()[1:])
    write_raw(tmp_path, f"{header}\n{body}\n" if header else "")
    assert "does not start with the header" in refused(tmp_path)


@pytest.mark.parametrize(
    "row",
    [
        "3,1,2,0.01,yes," + ",".join(["0.1"] * 10),
        "3,1,2,0.01,true," + ",".join(["0.1"] * 9),
        "3,1,2,0.01,true," + ",".join(["0.1"] * 11),
        "3,1,two,0.01,true," + ",".join(["0.1"] * 10),
        '"3",1,2,0.01,true,' + ",".join(["0.1"] * 10),
    ],
    ids=["flag-not-true-or-false", "field-short", "field-extra", "not-a-number", "quoted"],
)
def test_damaged_rows(tmp_path, row):
    write_raw(tmp_path, ",".join(COLUMNS) + f"\n{row}\n")
    assert "is damaged" in refused(tmp_path)


def test_a_report_with_no_rows_is_empty_not_an_error(tmp_path):
    write_raw(tmp_path, ",".join(COLUMNS) + "\n")
    read = read_report(tmp_path, "test", DATA, MODEL, SIZE)
    assert len(read.index) == 0 and read.is_issue.dtype == bool and read.probabilities.shape == (0, 10)


def test_sidecar_without_the_split(tmp_path, report):
    (tmp_path / SIDECAR).write_text(json.dumps({"dataset_sha256": DATA, "model_sha256": MODEL, "splits": {}}))
    assert "has no test split" in refused(tmp_path)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"splits": []}, "'splits'"),
        ({"splits": {"test": "label_issues-test.csv"}}, "'splits.test'"),
        ({"splits": {"test": {"sha256": 7}}}, "'splits.test.sha256'"),
        ({"dataset_sha256": ["d"]}, "'dataset_sha256'"),
        ({"model_sha256": None}, "'model_sha256'"),
        ({"method": 3}, "'method'"),
        ({"cross_val_folds": "5"}, "'cross_val_folds'"),
        ({"cross_val_folds": True}, "'cross_val_folds'"),
        ({"auditor": "cnn"}, "'auditor'"),
        ({"auditor": {"name": 1}}, "'auditor.name'"),
        ({"auditor": {"name": "cnn", "accuracy": "high"}}, "'auditor.accuracy'"),
        ({"probabilities": {"test": 1}}, "'probabilities.test'"),
    ],
    ids=[
        "splits-a-list",
        "split-not-an-object",
        "sha256-a-number",
        "digest-a-list",
        "model-null",
        "method-a-number",
        "folds-text",
        "folds-a-bool",
        "auditor-text",
        "auditor-name-a-number",
        "accuracy-text",
        "source-a-number",
    ],
)
def test_sidecar_of_the_wrong_shape_is_no_usable_report(tmp_path, report, change, field):
    """A field of the wrong type is a ReportError naming it, never an AttributeError."""
    sidecar = json.loads((tmp_path / SIDECAR).read_text())
    (tmp_path / SIDECAR).write_text(json.dumps({**sidecar, **change}))
    message = refused(tmp_path)
    assert "is not a usable label-issue report" in message and field in message


def test_the_auditor_and_the_source_of_each_split_read_back(tmp_path, report):
    sidecar = json.loads((tmp_path / SIDECAR).read_text())
    sidecar |= {
        "auditor": {"name": "cnn", "recipe": {"epochs": 3}, "accuracy": 0.91, "seconds": 12.5},
        "probabilities": {"train": "out-of-fold, 5 folds, cnn auditor", "test": "the exported model"},
    }
    (tmp_path / SIDECAR).write_text(json.dumps(sidecar))
    read = read_report(tmp_path, "test", DATA, MODEL, SIZE)
    assert (read.auditor, read.source) == ("cnn", "the exported model")


def test_a_report_naming_no_auditor_was_made_by_the_linear_one(tmp_path, report):
    read = read_report(tmp_path, "test", DATA, MODEL, SIZE)
    assert (read.auditor, read.source) == ("linear", "")
