"""Does confidence mean what it says? Expected calibration error and reliability-diagram bins.

Confidence is the top probability. Images are binned by it into equal-width bins (lower, upper]
(Guo et al. 2017, "On Calibration of Modern Neural Networks"); in each bin the mean confidence
is set against the accuracy, and ECE is their gap weighted by the share of images in the bin.
numpy only: training, fashion-predict and the labeler all measure it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inference.core.errors import ArgumentError

__all__ = ["BINS", "ReliabilityBins", "expected_calibration_error", "reliability_bins"]

BINS = 15  # Guo et al.'s choice, so figures compare with the literature


@dataclass(frozen=True)
class ReliabilityBins:
    """Per-bin sums, so that parts of a run add up (`a + b`) to the bins of the whole run."""

    count: np.ndarray  # (bins,) int64 images per bin
    confidence_sum: np.ndarray  # (bins,) float64 sum of top probabilities
    correct: np.ndarray  # (bins,) int64 images whose top class is the label

    @property
    def edges(self) -> np.ndarray:
        """(bins + 1,) bin edges from 0 to 1; bin k holds confidences in (edges[k], edges[k + 1]]."""
        return np.linspace(0.0, 1.0, len(self.count) + 1)

    @property
    def confidence(self) -> np.ndarray:
        """(bins,) mean confidence per bin; 0 in an empty bin (its count says it is empty)."""
        return np.divide(self.confidence_sum, self.count, out=np.zeros(len(self.count)), where=self.count > 0)

    @property
    def accuracy(self) -> np.ndarray:
        """(bins,) accuracy per bin; 0 in an empty bin."""
        return np.divide(self.correct, self.count, out=np.zeros(len(self.count)), where=self.count > 0)

    @property
    def ece(self) -> float:
        """Expected calibration error: sum over bins of |correct - confidence_sum| / images."""
        total = int(self.count.sum())
        return float(np.abs(self.correct - self.confidence_sum).sum() / total) if total else 0.0

    @property
    def mean_confidence(self) -> float:
        total = int(self.count.sum())
        return float(self.confidence_sum.sum() / total) if total else 0.0

    def __add__(self, other: ReliabilityBins) -> ReliabilityBins:
        if len(other.count) != len(self.count):
            raise ArgumentError(f"cannot add reliability bins of {len(self.count)} and {len(other.count)} bins")
        return ReliabilityBins(
            self.count + other.count, self.confidence_sum + other.confidence_sum, self.correct + other.correct
        )


def reliability_bins(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS) -> ReliabilityBins:
    """Bin (N, C) probabilities by their top probability against the (N,) true labels."""
    probabilities, labels = _checked(probabilities, labels, bins)
    confidence = probabilities.max(axis=1).astype(np.float64)
    hit = probabilities.argmax(axis=1) == labels
    # The inner edges, compared exactly as Guo et al.'s `lower < c <= upper` loop compares them:
    # searchsorted 'left' counts the edges strictly below c, which is c's bin.
    index = np.searchsorted(np.linspace(0.0, 1.0, bins + 1)[1:-1], confidence, side="left")
    return ReliabilityBins(
        np.bincount(index, minlength=bins).astype(np.int64),
        np.bincount(index, weights=confidence, minlength=bins),
        np.bincount(index, weights=hit, minlength=bins).astype(np.int64),
    )


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS) -> float:
    """ECE of (N, C) probabilities against (N,) labels with `bins` equal-width bins."""
    return reliability_bins(probabilities, labels, bins).ece


def _checked(probabilities: object, labels: object, bins: object) -> tuple[np.ndarray, np.ndarray]:
    if not (isinstance(bins, (int, np.integer)) and not isinstance(bins, bool) and bins >= 1):
        raise ArgumentError(f"bins must be a whole number >= 1, got {bins!r}")
    probabilities, labels = np.asarray(probabilities), np.asarray(labels)
    if probabilities.ndim != 2 or probabilities.shape[1] == 0 or probabilities.dtype.kind != "f":
        raise ArgumentError(
            f"probabilities must be a float array of shape (N, classes), got {probabilities.dtype} {probabilities.shape}"
        )
    if labels.shape != (len(probabilities),) or labels.dtype.kind not in "iu":
        raise ArgumentError(
            f"labels must be an integer array of shape ({len(probabilities)},), one per row of probabilities, "
            f"got {labels.dtype} {labels.shape}"
        )
    if not np.isfinite(probabilities).all():
        raise ArgumentError("probabilities contain NaN or infinity; expected values in [0, 1]")
    # float32 softmax can round a sure prediction to a hair over 1.
    if probabilities.size and (probabilities.min() < 0 or probabilities.max() > 1 + 1e-6):
        raise ArgumentError(
            f"probabilities hold values in [{probabilities.min():g}, {probabilities.max():g}]; expected [0, 1] "
            "(logits? apply a softmax first)"
        )
    return probabilities, labels
