"""--corrections: a person's verdicts from the labeler's store, applied to the labels training uses.

A relabel changes an image's label, an exclude leaves the image out (of training, and of the
corrected test accuracy), a confirmation changes nothing and is only counted. Each split's
verdicts are read once, as one snapshot, and what was applied (how many of each verdict, and
the digest naming the verdicts) goes into the model's metadata and history.json, so an exported
model says which corrections made it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from inference.core.corrections import AppliedCorrections, CorrectionsStore
from inference.core.fashion_mnist import Split
from inference.core.model_contract import Key
from training.errors import TrainingError

HOW_TO_MAKE = "make some with fashion-labeler (relabel, confirm or exclude images; it saves them there)"


@dataclass(frozen=True)
class UsedCorrections:
    """The verdicts one run trained (train) and was scored (test) with."""

    path: Path
    train: AppliedCorrections
    test: AppliedCorrections

    def metadata(self, test_accuracy_corrected: float) -> dict[str, str]:
        """The exported model's keys: counts per verdict, the verdicts' digests, corrected accuracy.
        corrections_digest names the training verdicts, the ones the model learned from."""
        return {
            Key.CORRECTIONS_TRAIN: json.dumps(self.train.counts),
            Key.CORRECTIONS_TEST: json.dumps(self.test.counts),
            Key.CORRECTIONS_DIGEST: self.train.digest,
            Key.CORRECTIONS_TEST_DIGEST: self.test.digest,
            Key.TEST_ACCURACY_CORRECTED: f"{test_accuracy_corrected:.6f}",
        }

    def record(self) -> dict:
        """What history.json keeps of them."""
        return {
            "store": str(self.path),
            "train": self.train.counts,
            "test": self.test.counts,
            "digest": self.train.digest,
            "test_digest": self.test.digest,
        }

    def describe(self) -> str:
        """One line for the run's log."""

        def counts(c: dict[str, int]) -> str:
            return f"{c['relabel']} relabelled, {c['exclude']} excluded, {c['confirmed']} confirmed"

        return f"corrections from {self.path}: train {counts(self.train.counts)}; test {counts(self.test.counts)}"


def open_store(path: str) -> CorrectionsStore:
    """The store at `path`, opened without creating it: a missing one is an error naming the fix."""
    if not Path(path).expanduser().exists():
        raise TrainingError(
            f"--corrections: there is no corrections store at {path}; {HOW_TO_MAKE}, "
            "or name another store with --corrections PATH"
        )
    return CorrectionsStore.open(path, create=False, session="train-and-export")


def apply_corrections(store: CorrectionsStore, train: Split, test: Split) -> UsedCorrections:
    """Both splits' labels with the store's verdicts applied; refuses a store with none for this dataset."""
    used = UsedCorrections(
        store.path, store.apply(train.digest, "train", train.labels), store.apply(test.digest, "test", test.labels)
    )
    if not any(used.train.counts.values()) and not any(used.test.counts.values()):
        raise TrainingError(
            f"--corrections: {store.path} holds no verdicts for this dataset (SHA-256 {train.digest[:16]}…); "
            f"{HOW_TO_MAKE}, or leave out --corrections"
        )
    return used
