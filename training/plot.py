"""The training curves as a PNG: train loss, validation loss and validation accuracy per epoch,
one panel per variant, like the seed's live plot."""

from __future__ import annotations

import io

from training.reliability_plot import draw_reliability


def curves_png(histories: dict, calibrations: dict | None = None) -> bytes:
    """`histories`: variant -> History; `calibrations`: variant -> Calibration, drawn as one more
    panel (reliability on the test set, before and after temperature scaling). PNG bytes."""
    # Imported here, at the end of a run: importing matplotlib takes ~1 s, which every start of
    # train-and-export paid before, --help and a mistyped flag included.
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed, none opened
    import matplotlib.pyplot as plt

    panels = len(histories) + (1 if calibrations else 0)
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.6), squeeze=False)
    for ax, (variant, h) in zip(axes[0], histories.items(), strict=False):
        epochs = range(1, len(h.train_loss) + 1)
        ax.plot(epochs, h.train_loss, label="train loss")
        ax.plot(epochs, h.val_loss, "--", label="val loss")
        ax.plot(epochs, h.val_acc, "-.", label="val acc")
        ax.set_title(variant)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    if calibrations:
        curves = {}
        for variant, c in calibrations.items():
            curves[f"{variant}, T = 1"] = c.test_before
            if c.temperature != 1.0:
                curves[f"{variant}, T = {c.temperature:.3f}"] = c.test_after
        draw_reliability(axes[0][-1], curves)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()
