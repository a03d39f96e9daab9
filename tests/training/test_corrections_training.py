"""The data-cleaning loop's retraining step, end to end: an earlier export, a person's verdicts in
the corrections store, then `train-and-export --corrections --cross-val 2`. The second export is a
new version beside the first, trained on the corrected labels without the excluded image, scored
against both label sets, and ranked for label issues tied to exactly that version.

Two real one-epoch runs of the concise model, shared by every test here (one torch thread)."""

from __future__ import annotations

import hashlib
import json
from types import SimpleNamespace

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from inference.core.corrections import CorrectionsStore
from inference.core.fashion_mnist import load_split
from inference.core.label_issues import read_report
from inference.core.model_repository import latest_model, model_dir, onnx_path, resolve_model_path, version_dir
from testkit.command_runs import train_and_export
from training import train_command as cli
from training.loop import fit
from training.onnx_export import recorded_accuracy

# Every test here reads the module's real training runs.
pytestmark = pytest.mark.slow
ONE_EPOCH = ["--variant", "concise", "--epochs", "1"]
SHIRT = 6


def make_store(path, train, test) -> SimpleNamespace:
    """3 T-shirts relabelled Shirt, one image confirmed and one excluded on train; one test relabel
    and one test exclusion. Returns what was decided."""
    tshirts = np.flatnonzero(train.labels == 0)[:3]
    confirmed, excluded = np.flatnonzero(train.labels == 1)[:2]
    test_relabel, test_excluded = np.flatnonzero(test.labels == 0)[:2]
    with CorrectionsStore.open(path) as store:
        store.set_verdict(train.digest, "train", tshirts, "relabel", given_labels=train.labels, label=SHIRT)
        store.set_verdict(train.digest, "train", int(confirmed), "confirmed", given_labels=train.labels)
        store.set_verdict(train.digest, "train", int(excluded), "exclude", given_labels=train.labels)
        store.set_verdict(test.digest, "test", int(test_relabel), "relabel", given_labels=test.labels, label=SHIRT)
        store.set_verdict(test.digest, "test", int(test_excluded), "exclude", given_labels=test.labels)
        digests = store.digest_of(train.digest, "train"), store.digest_of(test.digest, "test")
    return SimpleNamespace(
        relabelled=tshirts,
        confirmed=int(confirmed),
        excluded=int(excluded),
        test_relabel=int(test_relabel),
        test_excluded=int(test_excluded),
        digests=digests,
    )


@pytest.fixture(scope="module")
def retrained(fashion_dir, tmp_path_factory, torch_one_thread):
    out = tmp_path_factory.mktemp("models")
    common = [*ONE_EPOCH, "--data-dir", str(fashion_dir), "--out", str(out)]
    first_log = train_and_export(common)
    first = onnx_path(out, 1).read_bytes()

    train, test = load_split("train", fashion_dir), load_split("test", fashion_dir)
    store_path = out.parent / "corrections.sqlite"
    decided = make_store(store_path, train, test)
    seen = {}

    def spy_fit(model, loss_fn, optimizer, data, cfg, **kw):  # the final model's training only
        seen.update(
            labels=data.train_labels.numpy().copy(),
            index=data.train_index.numpy().copy(),
            images=len(data.train_images),
            val_labels=data.val_labels.numpy().copy(),
        )
        return fit(model, loss_fn, optimizer, data, cfg, **kw)

    log = train_and_export(
        [*common, "--cross-val", "2", "--auditor", "linear", "--corrections", str(store_path)], cli.Steps(fit=spy_fit)
    )
    return SimpleNamespace(
        out=out,
        folder=model_dir(out),
        first=first,
        first_log=first_log,
        log=log,
        seen=seen,
        train=train,
        test=test,
        decided=decided,
    )


def metadata(path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(path).metadata_props}


# --- versions -----------------------------------------------------------------------------------


def test_the_second_export_is_version_2_and_version_1_is_untouched(retrained):
    r = retrained
    assert sorted(p.name for p in r.folder.iterdir() if p.is_dir()) == ["1", "2"]
    assert not (version_dir(r.out, 1) / "label_issues.json").exists()  # version 1 was trained without a report
    assert onnx_path(r.out, 1).read_bytes() == r.first
    assert resolve_model_path(r.out) == onnx_path(r.out, 2) == latest_model(r.out)[0]
    assert "as version 1" in r.first_log and "the first version" in r.first_log
    assert f"exported {onnx_path(r.out, 2)} as version 2" in r.log
    history = json.loads((version_dir(r.out, 2) / "history.json").read_text())
    assert history["model"] == "2/model.onnx"  # each run's files live with the version it made


def test_the_summary_shows_version_1s_accuracy_beside_the_new_one(retrained):
    r = retrained
    earlier, new = recorded_accuracy(onnx_path(r.out, 1)), recorded_accuracy(onnx_path(r.out, 2))
    (line,) = [line for line in r.log.splitlines() if line.startswith("exported model's test accuracy")]
    assert f"{new:.4f}, version 1 before it: {earlier:.4f} ({new - earlier:+.4f})" in line


# --- corrections --------------------------------------------------------------------------------


def test_training_used_the_corrected_labels_without_the_excluded_image(retrained):
    r, d = retrained, retrained.decided
    expected = r.train.labels.copy()
    expected[d.relabelled] = SHIRT
    kept = np.delete(np.arange(len(expected)), d.excluded)
    # --val-split 0: the test set validates, so every kept training image is trained on, in file order.
    np.testing.assert_array_equal(r.seen["index"], kept)
    np.testing.assert_array_equal(r.seen["labels"], expected[kept])
    assert r.seen["images"] == len(expected) - 1
    assert (r.seen["labels"] != r.train.labels[kept]).sum() == 3  # the relabels and nothing else
    np.testing.assert_array_equal(r.seen["val_labels"], r.test.labels)


def test_the_model_records_which_corrections_made_it(retrained):
    r, d = retrained, retrained.decided
    meta = metadata(onnx_path(r.out, 2))
    assert json.loads(meta["corrections_train"]) == {"relabel": 3, "confirmed": 1, "exclude": 1}
    assert json.loads(meta["corrections_test"]) == {"relabel": 1, "confirmed": 0, "exclude": 1}
    assert (meta["corrections_digest"], meta["corrections_test_digest"]) == d.digests
    assert not {k for k in metadata(onnx_path(r.out, 1)) if k.startswith("corrections")}
    history = json.loads((version_dir(r.out, 2) / "history.json").read_text())
    assert history["corrections"]["train"] == json.loads(meta["corrections_train"])
    assert history["corrections"]["digest"] == d.digests[0]
    assert "train 3 relabelled, 1 excluded, 1 confirmed; test 1 relabelled, 1 excluded" in r.log


def test_test_accuracy_is_reported_against_both_label_sets(retrained):
    """Recomputed here from the exported model's own predictions, with the test verdicts applied by hand."""
    r, d = retrained, retrained.decided
    path = onnx_path(r.out, 2)
    probabilities, _ = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"images": r.test.images}
    )
    predicted = probabilities.argmax(axis=1)
    corrected = r.test.labels.copy()
    corrected[d.test_relabel] = SHIRT
    kept = np.delete(np.arange(len(corrected)), d.test_excluded)
    original_acc = (predicted == r.test.labels).mean()
    corrected_acc = (predicted[kept] == corrected[kept]).mean()
    assert original_acc != corrected_acc  # the two numbers measure different things

    meta = metadata(path)
    assert float(meta["test_accuracy"]) == pytest.approx(original_acc, abs=1e-6)
    assert float(meta["test_accuracy_corrected"]) == pytest.approx(corrected_acc, abs=1e-6)
    concise = json.loads((version_dir(r.out, 2) / "history.json").read_text())["variants"]["concise"]
    assert (concise["test_acc"], concise["test_acc_corrected"]) == pytest.approx((original_acc, corrected_acc))
    table = r.log.splitlines()
    (head,) = [line for line in table if line.startswith("variant")]
    (row,) = [line for line in table if line.startswith("concise ")]
    assert head.split()[-6:] == ["test", "acc", "corrected", "test", "ECE", "seconds"]
    assert row.split()[5:7] == [f"{original_acc:.4f}", f"{corrected_acc:.4f}"]


# --- the label-issue report ---------------------------------------------------------------------


def test_the_report_is_tied_to_version_2_and_reads_back_without_cleanlab(retrained):
    r = retrained
    sidecar = json.loads((version_dir(r.out, 2) / "label_issues.json").read_text())
    model = onnx_path(r.out, 2)
    assert sidecar["model"] == "2/model.onnx"
    assert sidecar["model_sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert sidecar["cross_val_folds"] == 2 and sidecar["dataset_sha256"] == r.train.digest
    assert sidecar["corrections_digest"] == dict(zip(("train", "test"), r.decided.digests, strict=False))
    # The torch-free reader the labeler uses accepts it for version 2's model.
    train = read_report(version_dir(r.out, 2), "train", r.train.digest, sidecar["model_sha256"], len(r.train.labels))
    test = read_report(version_dir(r.out, 2), "test", r.test.digest, sidecar["model_sha256"], len(r.test.labels))
    assert (len(train.index), len(test.index)) == (len(r.train.labels) - 1, len(r.test.labels) - 1)
    assert "label issues flagged by cleanlab" in r.log and "top class pairs" in r.log
    assert "2-fold out-of-fold probabilities" in r.log


def test_the_report_ranks_the_corrected_labels_at_their_file_positions(retrained):
    r, d = retrained, retrained.decided
    sha = json.loads((version_dir(r.out, 2) / "label_issues.json").read_text())["model_sha256"]
    train = read_report(version_dir(r.out, 2), "train", r.train.digest, sha, len(r.train.labels))
    assert d.excluded not in set(train.index.tolist())  # an excluded image has no row
    given = dict(zip(train.index.tolist(), train.given_label.tolist(), strict=False))
    assert [given[i] for i in d.relabelled] == [SHIRT] * 3
    others = np.setdiff1d(train.index, d.relabelled)
    np.testing.assert_array_equal([given[i] for i in others], r.train.labels[others])
    test = read_report(version_dir(r.out, 2), "test", r.test.digest, sha, len(r.test.labels))
    assert d.test_excluded not in set(test.index.tolist())
    assert dict(zip(test.index.tolist(), test.given_label.tolist(), strict=False))[d.test_relabel] == SHIRT
