"""Training speed: the seed's input pipeline against ours, on the same epochs, in one run.

Seed: torchvision FashionMNIST + ToTensor per item + DataLoader(batch_size=256, shuffle=True,
num_workers=4). Ours: the whole training set as one uint8 tensor, shuffled batches sliced from it.
Both train the concise model with the seed's recipe. Then each variant's full 10-epoch run.
Targets (2-core machine): >= 20x per epoch; <= 2 s for 10 epochs per variant.

    python benchmarks/train_speed.py [--epochs 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from inference.core import fashion_mnist as fm
from training import softmax_concise, softmax_scratch
from training.config import TrainConfig
from training.data import prepare
from training.loop import fit


def seed_pipeline_epochs(root: Path, epochs: int) -> float:
    """Seconds per epoch for the seed's pipeline, model update included."""
    data = datasets.FashionMNIST(root=str(root), train=True, transform=transforms.ToTensor(), download=False)
    loader = DataLoader(data, batch_size=256, shuffle=True, num_workers=4)
    torch.manual_seed(0)
    model = softmax_concise.make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        for X, y in loader:
            loss = F.cross_entropy(model(X), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return (time.perf_counter() - start) / epochs


def our_epochs(module, data, epochs: int) -> float:
    """Seconds per epoch for our loop (validation pass after each epoch included)."""
    cfg = TrainConfig(epochs=epochs)
    torch.manual_seed(cfg.seed)
    model, loss_fn, opt = module.build(cfg, torch.device("cpu"))
    start = time.perf_counter()
    fit(model, loss_fn, opt, data, cfg, progress=False)
    return (time.perf_counter() - start) / epochs


def torchvision_root(tmp: Path) -> Path:
    """torchvision's FashionMNIST wants uncompressed files in root/FashionMNIST/raw."""
    raw = tmp / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    source = fm.find_data_dir()
    for name in fm.SHA256:
        (raw / name).write_bytes(fm.read_bytes(fm.find_file(source, name)))
    return tmp


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=2, help="epochs timed for the seed-vs-ours comparison")
    p.add_argument("--repeats", type=int, default=3, help="repeats of each 10-epoch run (median and best shown)")
    args = p.parse_args()

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    data = prepare(None, False, 0, 1, torch.device("cpu"))

    # Ours first: the seed pipeline's worker processes leave the machine noisy for a while.
    print(f"\n10 epochs, seed recipe, {args.repeats} runs each:")
    for name, module in (("scratch", softmax_scratch), ("concise", softmax_concise)):
        times = [10 * our_epochs(module, data, 10) for _ in range(args.repeats)]
        med, best = statistics.median(times), min(times)
        print(
            f"  {name:8s} median {med:5.2f} s, best {best:5.2f} s  (target <= 2 s: {'met' if med <= 2 else 'NOT met'})"
        )

    ours = our_epochs(softmax_concise, data, args.epochs)
    with tempfile.TemporaryDirectory() as tmp:
        seed = seed_pipeline_epochs(torchvision_root(Path(tmp)), args.epochs)
    print(f"\nper epoch over {args.epochs} epochs (concise model, batch 256, lr 0.1):")
    print(f"  seed pipeline (ToTensor + DataLoader, 4 workers): {seed:7.3f} s")
    print(f"  ours (uint8 tensor, sliced batches):              {ours:7.3f} s")
    print(f"  speed-up: {seed / ours:.1f}x  (target >= 20x: {'met' if seed / ours >= 20 else 'NOT met'})")


if __name__ == "__main__":
    main()
