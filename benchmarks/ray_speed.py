"""Ray Data against the single-process Predictor on the 60,000 training images: a local Ray, and a
two-node cluster (head and worker node on this machine, one CPU each, started as docs/scaling-out.md shows).

All read the same IDX file and score every image; Ray also writes Parquet shards. Ray's own
start-up (ray.init, or joining the cluster) is reported apart from the scoring. The first job
pays for starting the actors' worker processes; a second job shows what each further job costs.

    python benchmarks/ray_speed.py [--model models] [--num-cpus 2] [--no-cluster]
    python benchmarks/ray_speed.py --ray-address HOST:PORT     # a cluster of your own instead
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from inference.adapters.ray_engine import run, start_ray
from inference.core import fashion_mnist as fm
from inference.core.input_files import load
from inference.core.model_repository import resolve_model_path
from inference.core.predictor import Predictor

# The two-node cluster is the one the test suite starts (testkit/ray_cluster.py): one way to do it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def single_process(source: Path, model: str) -> float:
    """Images/s of read + score in this process; prints the figure."""
    start = time.perf_counter()
    loaded = load(source)
    read_s = time.perf_counter() - start
    with Predictor(model, device="cpu") as predictor:
        start = time.perf_counter()
        predictor.predict(loaded.images)
        score_s = time.perf_counter() - start
    n = len(loaded.images)
    rate = n / (read_s + score_s)
    print(
        f"single-process Predictor ({predictor.threads} threads): read {read_s:.2f} s + score "
        f"{score_s * 1000:.0f} ms = {rate:,.0f} images/s ({n / score_s:,.0f} images/s scoring alone)"
    )
    return rate


def on_ray(label: str, source: Path, model: str, address: str | None, num_cpus: int | None, single: float) -> None:
    """Two jobs on a local Ray (address None) or on the cluster at `address`; prints each."""
    start = time.perf_counter()
    ray = start_ray(address, num_cpus)
    startup = time.perf_counter() - start
    nodes = [n for n in ray.nodes() if n["Alive"]]
    cpus = sum(n["Resources"].get("CPU", 0) for n in nodes)
    for job in ("first job", "second job"):
        with tempfile.TemporaryDirectory() as out:
            result = run([source], out, model=model, address=address)
        assert not result.errors
        rate = result.scored / result.scoring_s
        print(
            f"{label} ({len(nodes)} node(s), {cpus:g} CPUs), {job:<10}: read + decode + score + write "
            f"{result.scoring_s:.2f} s = {rate:,.0f} images/s; ratio to the single process {rate / single:.2f}x"
        )
    print(f"{label} start-up ({'joining it' if address else 'ray.init'}, apart from the above): {startup:.1f} s")
    ray.shutdown()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="models")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs for the local Ray (default: all)")
    p.add_argument("--ray-address", default=None, help="measure this cluster instead of starting any")
    p.add_argument("--no-cluster", action="store_true", help="skip the two-node cluster")
    p.add_argument("--single-rate", type=float, default=None, help=argparse.SUPPRESS)  # set for the child run
    args = p.parse_args()
    source = fm.find_file(fm.find_data_dir(split="train"), "train-images-idx3-ubyte")
    model = str(resolve_model_path(args.model).resolve())
    single = args.single_rate or single_process(source, model)
    if args.ray_address:
        on_ray(f"Ray cluster at {args.ray_address}", source, model, args.ray_address, None, single)
        return
    on_ray("local Ray", source, model, None, args.num_cpus, single)
    if args.no_cluster:
        return
    from testkit.ray_cluster import two_node_cluster

    # The driver runs in a child process with the cluster's environment: Ray reads the token
    # settings once per process, and this one has already run a local Ray with its own.
    with tempfile.TemporaryDirectory(prefix="ray-") as folder:
        start = time.perf_counter()
        with two_node_cluster(Path(folder)) as cluster:
            print(f"two-node cluster: head and worker node started in {time.perf_counter() - start:.1f} s")
            start = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--model",
                    model,
                    "--ray-address",
                    cluster.address,
                    "--single-rate",
                    str(single),
                ],
                env=cluster.env,
                check=True,
                timeout=600,
            )
            print(
                f"two-node cluster: the whole driver process, Python start included: "
                f"{time.perf_counter() - start:.1f} s"
            )


if __name__ == "__main__":
    main()
