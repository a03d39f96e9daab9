"""Batch scoring on a real local Ray (num_cpus=2): same answers as the single-process Predictor,
a corrupt or hostile file reported by name without costing the other results, and an output
folder that holds one run's shards, never a mix.

The tiny model serves every test but the command's smoke test, which scores with the trained one."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from inference.adapters.ray_engine import RayScorer, decode_bytes, list_inputs, run, score_dataset
from inference.core.classes import CLASS_NAMES
from inference.core.errors import InputError, RayEngineError
from inference.core.predictor import Predictor
from testkit import hostile

pytestmark = pytest.mark.ray

# One scoring actor, which leaves the second CPU to the decode tasks: with the default (one actor
# per CPU) the decoders wait for a free CPU, and 300 images took 7-12 s a run instead of 1.5 s.
ONE_ACTOR = 1


@pytest.fixture(scope="module")
def local_ray():
    # Here, not at the top: `make test-fast` collects this module but starts no Ray.
    import ray
    import ray.data

    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, fashion_dir, test_split):
    """The real test IDX file, two .npy shards, a Parquet file, three PNGs and one corrupt PNG."""
    folder = tmp_path_factory.mktemp("ray-inputs")
    images = test_split.images
    shutil.copy(fashion_dir / "t10k-images-idx3-ubyte.gz", folder / "t10k-images-idx3-ubyte.gz")
    np.save(folder / "shard-0.npy", images[:300])
    np.save(folder / "shard-1.npy", images[300:500].reshape(200, 784))
    pq.write_table(pa.table({"image": [row.tobytes() for row in images[500:600]]}), folder / "pixels.parquet")
    for i in range(3):
        Image.fromarray(images[600 + i]).save(folder / f"img-{i}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return folder


def results_by_name(output):
    table = pq.read_table(sorted(output.glob("*.parquet"))).to_pandas()
    return table.set_index("name").sort_index()


def test_ray_matches_the_single_process_predictor(local_ray, inputs, tiny_model_path, test_split, tmp_path):
    out = tmp_path / "scores"
    result = run([inputs], out, model=tiny_model_path, concurrency=ONE_ACTOR)
    assert result.errors == [("broken.png", "not an image Pillow can read (expected PNG or JPEG)")]
    table = results_by_name(out)
    assert result.scored == len(table) == 10_000 + 300 + 200 + 100 + 3

    expected = Predictor(tiny_model_path, device="cpu").predict_proba(test_split.images)
    probs_cols = [f"p_{i}" for i in range(10)]
    idx = table.loc[[f"t10k-images-idx3-ubyte.gz:{i}" for i in range(10_000)]]
    np.testing.assert_array_equal(idx["label"].to_numpy(), expected.argmax(1))
    np.testing.assert_allclose(idx[probs_cols].to_numpy(), expected, atol=1e-6, rtol=0)
    assert idx["class_name"].tolist() == [CLASS_NAMES[label] for label in expected.argmax(1)]

    for names, rows in (
        ([f"shard-0.npy:{i}" for i in range(300)], slice(0, 300)),
        ([f"shard-1.npy:{i}" for i in range(200)], slice(300, 500)),
        ([f"pixels.parquet:{i}" for i in range(100)], slice(500, 600)),
        ([f"img-{i}.png" for i in range(3)], slice(600, 603)),
    ):
        part = table.loc[names]
        np.testing.assert_array_equal(part["label"].to_numpy(), expected[rows].argmax(1))
        np.testing.assert_allclose(part[probs_cols].to_numpy(), expected[rows], atol=1e-6, rtol=0)
        np.testing.assert_allclose(part["confidence"].to_numpy(), expected[rows].max(1), atol=1e-6, rtol=0)


def test_csv_output(local_ray, inputs, tiny_model_path, tmp_path):
    out = tmp_path / "csv"
    result = run([inputs / "shard-0.npy"], out, model=tiny_model_path, fmt="csv", concurrency=ONE_ACTOR)
    rows = [row for p in sorted(out.glob("*.csv")) for row in csv.reader(p.open())]
    assert result.scored == 300 and not result.errors
    assert rows[0][:4] == ["name", "label", "class_name", "confidence"]
    assert len([row for row in rows if row[0].startswith("shard-0.npy:")]) == 300


def test_scorer_is_a_map_batches_callable(local_ray, tiny_model_path, test_split, monkeypatch):
    # Ray Data may hand blocks back in any order (seen once on a loaded machine): ask for the input's.
    monkeypatch.setattr(local_ray.data.DataContext.get_current().execution_options, "preserve_order", True)
    ds = local_ray.data.from_items([{"image": img} for img in test_split.images[:64]])
    rows = score_dataset(ds, str(tiny_model_path), concurrency=1, batch_size=16).take_all()
    expected = Predictor(tiny_model_path, device="cpu").predict(test_split.images[:64])
    assert [r["label"] for r in rows] == expected.labels.tolist()
    assert [r["class_name"] for r in rows] == expected.class_names


def test_scorer_without_ray_marks_error_rows(tiny_model_path, test_split):
    scorer = RayScorer(str(tiny_model_path))
    out = scorer({"image": test_split.images[:3], "error": np.array(["", "bad file", ""], dtype=object)})
    assert out["label"].tolist()[1] == -1 and np.isnan(out["p_0"][1])
    assert out["label"][0] >= 0 and out["class_name"][1] == ""


def test_a_model_that_gives_nan_makes_error_rows_not_a_failed_run(tmp_path):
    from testkit.hostile_models import nan_for_grey_model

    scorer = RayScorer(str(nan_for_grey_model(tmp_path / "nan.onnx")))
    grey = np.full((3, 28, 28), 128, np.uint8)  # mean 0.5: NaN from this model
    out = scorer({"image": grey, "error": np.array(["", "bad file", ""], dtype=object)})
    assert out["label"].tolist() == [-1, -1, -1]
    assert "NaN or infinite" in out["error"][0] and out["error"][1] == "bad file"


def test_csv_names_cannot_become_formulas(local_ray, inputs, tiny_model_path, tmp_path):
    hostile = tmp_path / "in" / "=HYPERLINK(1).npy"
    hostile.parent.mkdir()
    shutil.copy(inputs / "shard-0.npy", hostile)
    out = tmp_path / "csv"
    run([hostile], out, model=tiny_model_path, fmt="csv", concurrency=ONE_ACTOR)
    names = {row["name"] for p in out.glob("*.csv") for row in csv.DictReader(p.open())}
    assert names and all(name.startswith("'=HYPERLINK(1).npy:") for name in names)


@pytest.mark.parametrize(
    "name,data,message",
    [
        ("x.npy", b"\x93NUMPY garbage", "not a readable .npy array"),
        ("x.parquet", b"PAR1 nope", "not a readable Parquet file"),
        ("x-ubyte", b"\x00\x00\x08\x03\x00\x00\x00\x01", "truncated"),
        ("x.png", b"GIF89a", "not an image"),
    ],
)
def test_decode_errors_say_what_is_wrong(name, data, message):
    with pytest.raises(ValueError, match=message):
        decode_bytes(data, name)


def test_missing_input_is_a_clear_error(tmp_path):
    with pytest.raises(RayEngineError, match="does not exist"):
        list_inputs([tmp_path / "nope"])
    with pytest.raises(RayEngineError, match="holds no images"):
        list_inputs([tmp_path])


def test_fashion_predict_engine_ray(local_ray, inputs, model_path, tmp_path, capsys):
    from inference.adapters.predict_command import main

    out = tmp_path / "cli"
    flags = ["--engine", "ray", "--concurrency", str(ONE_ACTOR)]
    code = main([str(inputs), *flags, "--model", str(model_path), "--output", str(out)])
    err = capsys.readouterr().err
    assert code == 1  # one file skipped, the rest scored
    assert "skipped broken.png: not an image" in err and "scored 10603 image(s)" in err
    assert len(results_by_name(out)) == 10_603


def test_fashion_predict_engine_ray_needs_an_output_folder(inputs, tiny_model_path, capsys):
    from inference.adapters.predict_command import main

    assert main([str(inputs), "--engine", "ray", "--model", str(tiny_model_path)]) == 2
    assert "give --output DIR" in capsys.readouterr().err


@pytest.fixture(scope="module")
def hostile_inputs(tmp_path_factory, test_split):
    """Two good PNGs and a good .npy among hostile files, one or two per decoder (Ray costs seconds per file)."""
    folder = tmp_path_factory.mktemp("ray-hostile")
    for i in range(2):
        Image.fromarray(test_split.images[i]).save(folder / f"good-{i}.png")
    np.save(folder / "good.npy", test_split.images[:5])
    bad = [
        hostile.eps_as_png(folder / "eps.png"),
        hostile.png_bomb(folder / "bomb.png", 20_000),
        hostile.gzip_bomb_idx(folder / "bomb-images-idx3-ubyte.gz"),
        hostile.idx_overflow(folder / "overflow-images-idx3-ubyte"),
        hostile.npy_overclaim(folder / "huge.npy"),
        hostile.parquet_rows(folder / "rows.parquet", [784, 783, 785]),
    ]
    return folder, [p.name for p in bad]


def test_hostile_files_cost_only_themselves(local_ray, hostile_inputs, tiny_model_path, tmp_path):
    folder, bad = hostile_inputs
    result = run([folder], tmp_path / "scores", model=tiny_model_path, concurrency=ONE_ACTOR)
    errors = dict(result.errors)
    assert sorted(errors) == sorted(bad)
    for name in bad:  # Ray hands the decoders the file as it is on disk (it would inflate a .gz first)
        with pytest.raises(InputError) as local:
            decode_bytes((folder / name).read_bytes(), name)
        assert errors[name] == str(local.value).removeprefix(f"{name}: ")
    assert "row 1 of column 'image' holds 783 bytes" in errors["rows.parquet"]
    table = results_by_name(tmp_path / "scores")
    good = ["good-0.png", "good-1.png"] + [f"good.npy:{i}" for i in range(5)]
    assert result.scored == 7 and sorted(table.index) == good


def test_output_folder_is_refused_when_not_empty_and_replaced_whole(local_ray, inputs, tiny_model_path, tmp_path):
    out = tmp_path / "scores"
    out.mkdir()
    stale = out / "earlier-run.parquet"  # a shard from an earlier run, with a row for a file since deleted
    pq.write_table(pa.table({"name": ["deleted.png"], "label": [3]}), stale)
    with pytest.raises(RayEngineError, match="scores is not empty; .*--overwrite"):
        run([inputs / "shard-1.npy"], out, model=tiny_model_path, concurrency=ONE_ACTOR)
    assert [p.name for p in out.iterdir()] == ["earlier-run.parquet"]  # refused before anything was written
    result = run([inputs / "shard-1.npy"], out, model=tiny_model_path, overwrite=True, concurrency=ONE_ACTOR)
    assert result.scored == 200 and not stale.exists()
    assert set(results_by_name(out).index) == {f"shard-1.npy:{i}" for i in range(200)}
    assert [p.name for p in tmp_path.iterdir()] == ["scores"]  # no partial or old folder left beside it
    (tmp_path / "file").write_text("x")
    with pytest.raises(RayEngineError, match="is a file"):
        run([inputs / "shard-1.npy"], tmp_path / "file", model=tiny_model_path, overwrite=True, concurrency=ONE_ACTOR)
