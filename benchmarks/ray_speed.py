"""Ray Data against the single-process Predictor on the 60,000 training images.

Both read the same IDX file and score every image; Ray also writes Parquet shards. Ray's own
start-up (ray.init of a local cluster) is reported apart from the scoring.

    python benchmarks/ray_speed.py [--model models] [--num-cpus 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from inference.core import fashion_mnist as fm
from inference.core.input_files import load
from inference.core.predictor import Predictor
from inference.adapters.ray_engine import run, start_ray


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="models")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs for the local Ray (default: all)")
    args = p.parse_args()
    source = fm.find_file(fm.find_data_dir(split="train"), "train-images-idx3-ubyte")

    start = time.perf_counter()
    loaded = load(source)
    read_s = time.perf_counter() - start
    predictor = Predictor(args.model, device="cpu")
    start = time.perf_counter()
    predictor.predict(loaded.images)
    score_s = time.perf_counter() - start
    n = len(loaded.images)
    single = n / (read_s + score_s)
    print(f"single-process Predictor: read {read_s:.2f} s + score {score_s * 1000:.0f} ms "
          f"= {single:,.0f} images/s ({n / score_s:,.0f} images/s scoring alone)")

    start = time.perf_counter()
    start_ray(None, args.num_cpus)
    startup = time.perf_counter() - start
    # The first job pays for starting the actors' worker processes; a second job in the same
    # session shows what each further job costs.
    for label in ("first job", "second job"):
        with tempfile.TemporaryDirectory() as out:
            result = run([source], out, model=args.model)
        assert result.scored == n and not result.errors
        rate = n / result.scoring_s
        print(f"local Ray, {label:<10}: read + decode + score + write {result.scoring_s:.2f} s "
              f"= {rate:,.0f} images/s; ratio to the single process {rate / single:.2f}x")
    print(f"local Ray start-up (ray.init, apart from the above): {startup:.1f} s")

if __name__ == "__main__":
    main()
