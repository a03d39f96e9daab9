"""A reliability diagram: accuracy against confidence per bin, one line per model, ECE in the legend.

Drawn on an axes the caller owns, so the training curves' PNG can hold it as one more panel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inference.core.calibration import ReliabilityBins

if TYPE_CHECKING:  # matplotlib itself is imported by plot.py, after it picks the Agg backend
    from matplotlib.axes import Axes


def draw_reliability(ax: Axes, curves: dict[str, ReliabilityBins]) -> None:
    """One line per entry of `curves` (legend label -> bins, e.g. before and after calibration);
    points sit at each non-empty bin's mean confidence, so empty bins draw nothing."""
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfectly calibrated")
    for label, bins in curves.items():
        filled = bins.count > 0
        ax.plot(
            bins.confidence[filled], bins.accuracy[filled], "o-", markersize=3, label=f"{label}: ECE {bins.ece:.4f}"
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (top probability)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"reliability ({len(next(iter(curves.values())).count)} bins)" if curves else "reliability")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="upper left")
    # Bin counts on a second axis: a bin of 12 images says far less than one of 6,000.
    counts = ax.twinx()
    for label, bins in curves.items():
        counts.stairs(bins.count, bins.edges, alpha=0.35, label=f"{label}: images per bin")
    counts.set_ylabel("images per bin")
    counts.set_yscale("symlog")
