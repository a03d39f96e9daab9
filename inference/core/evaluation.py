"""Accuracy, calibration (ECE), per-class precision/recall/F1 and the confusion matrix, as numbers and as text."""

from __future__ import annotations

import numpy as np

from inference.core.calibration import ReliabilityBins


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) int64 counts: row = true class, column = predicted class."""
    return np.bincount(truth * num_classes + predicted, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes
    )


def per_class(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """precision, recall, F1 and support per class; 0 where a class never occurs (no NaN)."""
    hits = np.diag(matrix).astype(np.float64)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros_like(hits), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(hits), where=total > 0)
    return precision, recall, f1, support


def matrix_report(matrix: np.ndarray, class_names: list[str], calibration: ReliabilityBins | None = None) -> str:
    """Accuracy, per-class table and confusion matrix from counts (summed over parts of a run);
    with `calibration`, the ECE and mean confidence beside the accuracy."""
    precision, recall, f1, support = per_class(matrix)
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    width = max(len(n) for n in class_names)
    headline = f"accuracy {accuracy:.4f} ({np.trace(matrix)}/{matrix.sum()})"
    if calibration is not None:
        # Mean confidence next to accuracy shows which way a large ECE leans (over- or under-confident).
        headline += (
            f"  ECE ({len(calibration.count)} bins) {calibration.ece:.4f}"
            f"  mean confidence {calibration.mean_confidence:.4f}"
        )
    lines = [headline, ""]
    lines.append(f"{'class':<{width}}  precision  recall     f1  support")
    for i, name in enumerate(class_names):
        lines.append(f"{name:<{width}}  {precision[i]:9.4f}  {recall[i]:6.4f}  {f1[i]:.4f}  {support[i]:7d}")
    lines += ["", "confusion matrix (rows: true class, columns: predicted class)"]
    lines.append(" " * (width + 2) + " ".join(f"{i:>5d}" for i in range(len(class_names))))
    for i, name in enumerate(class_names):
        lines.append(f"{name:<{width}}  " + " ".join(f"{c:>5d}" for c in matrix[i]))
    return "\n".join(lines)
