"""`fashion-predict --engine ray --ray-address` against a real two-node Ray cluster (head and worker
node on this machine, one CPU each, token authentication as current Ray requires): the same
labels as the single-process Predictor on the 10,000 test images. See testkit/ray_cluster.py."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from inference.core.predictor import Predictor
from testkit.ray_cluster import two_node_cluster

pytestmark = pytest.mark.ray

RUN_TIMEOUT_S = 300  # about 10 s on a quiet 2-core machine


def test_fashion_predict_scores_on_a_two_node_cluster(request, fashion_dir, model_path, test_split):
    # A short folder: Ray's socket paths inside it must stay under the 107 bytes Unix allows, and
    # pytest's own (/tmp/pytest-of-root/pytest-N/popen-gw0/ray0 under pytest-xdist) leaves too few.
    folder = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    request.addfinalizer(lambda: shutil.rmtree(folder, ignore_errors=True))
    output = folder / "scores"
    source = fashion_dir / "t10k-images-idx3-ubyte.gz"
    with two_node_cluster(folder) as cluster:
        command = [
            str(Path(sys.executable).parent / "fashion-predict"),
            str(source),
            "--engine",
            "ray",
            "--ray-address",
            cluster.address,
            "--model",
            str(model_path),
            "--output",
            str(output),
        ]
        scoring = subprocess.Popen(command, env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            nodes = cluster.alive_nodes()  # asked while the job runs: both nodes are there for it
            out, err = scoring.communicate(timeout=RUN_TIMEOUT_S)
        finally:
            scoring.kill()
            scoring.wait()
    assert len(nodes) == 2 and all(n["cpus"] == 1 for n in nodes), nodes
    assert scoring.returncode == 0, err[-3000:]
    assert "scored 10000 image(s)" in out + err

    table = pq.read_table(sorted(output.glob("*.parquet")))
    order = np.argsort([int(name.rsplit(":", 1)[1]) for name in table["name"].to_pylist()])
    labels = table["label"].to_numpy()[order]
    probabilities = np.stack([table[f"p_{i}"].to_numpy() for i in range(10)], axis=1)[order]
    expected = Predictor(model_path, device="cpu").predict(test_split.images)
    assert len(labels) == 10_000
    np.testing.assert_array_equal(labels, expected.labels)
    np.testing.assert_allclose(probabilities, expected.probabilities, atol=1e-6)
