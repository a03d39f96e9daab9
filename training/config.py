"""Every training setting in one typed place; each `train-and-export` flag maps to one field."""

from __future__ import annotations

from dataclasses import asdict, dataclass

VARIANTS = ("scratch", "concise")
SCHEDULES = ("constant", "one-cycle")
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class TrainConfig:
    variant: str = "both"  # scratch | concise | both: the seed trains both and compares them
    epochs: int = 10  # the seed's max_epochs; accuracy is flat after ~10 at lr 0.1
    batch_size: int = 256  # the seed's batch; small enough for noise that helps SGD, large enough to be fast
    lr: float = 0.1  # the seed's rate; the peak rate when the schedule is one-cycle
    momentum: float = 0.0  # plain minibatch SGD, as in the seed
    weight_decay: float = 0.0  # the seed has none; the linear model barely overfits
    schedule: str = "constant"  # constant (the seed) or one-cycle (warm up, then cosine down)
    val_split: int = 0  # 0: the test set doubles as validation set, as in the seed
    sigma: float = 0.01  # std of the scratch model's Gaussian init, as in the seed
    seed: int = 1  # same seed, same machine -> same numbers; docs/training.md, Accuracy: spread over seeds
    device: str = "auto"  # auto picks CUDA when torch sees a GPU
    out: str = "models"  # a Triton model repository; see models/README.md
    data_dir: str | None = None  # else $FASHION_MNIST_DIR, Debian's package, the cache
    download: bool = False  # fetch with torchvision when no local copy is found
    cross_val: int = 0  # K > 1: rank label issues with K-fold out-of-fold probabilities; 0: off (K copies cost K runs)
    auditor: str | None = None  # the model trained K times for --cross-val; None: training.auditors.DEFAULT_AUDITOR
    pred_probs: str | None = None  # a .npy of (60000, 10) training-split probabilities: ranks them instead of K runs
    corrections: str | None = None  # a corrections store to train with; None: the labels as published
    calibrate: bool = False  # fit one temperature on the validation split (needs val_split > 0)

    def variants(self) -> tuple[str, ...]:
        return VARIANTS if self.variant == "both" else (self.variant,)

    def recipe(self) -> dict:
        """The settings that decide the numbers (what goes into the model's metadata)."""
        keep = ("epochs", "batch_size", "lr", "momentum", "weight_decay", "schedule", "val_split", "seed", "calibrate")
        return {k: v for k, v in asdict(self).items() if k in keep}
