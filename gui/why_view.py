"""Why the model chose its class: the image with the exact per-pixel reason laid over it.

For the softmax regression logit[c] = W[c] · x + b[c], so (W[a] − W[b]) ⊙ x, summed, is logit a
minus logit b less the bias difference: nothing is estimated. A wrong prediction is compared with
the true label (why this and not the right class), a right one with the runner-up (what nearly
changed its mind). The numbers come from `LinearWeights.contributions`, the core's one owner of
the arithmetic; this module only colours them (see gui.diverging).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QCheckBox, QLabel, QVBoxLayout, QWidget

from gui.diverging import ColourLegend, diverging_rgb, rgb_image, scaled_up, symmetric_scale
from gui.palette import TRACK
from inference.core.attributions import LinearWeights
from inference.core.classes import IMAGE_SHAPE
from inference.core.errors import ArgumentError

ENLARGE = 8  # 28 px -> 224 px, the detail panel's image size
UNIT = "logit / pixel"


def runner_up(probabilities) -> int:
    """The class with the second highest probability: what a right prediction is compared with."""
    return int(np.argsort(np.asarray(probabilities), kind="stable")[-2])


def compared_class(predicted: int, true: int, second: int) -> int:
    """The class the prediction is explained against: the true label if wrong, else the runner-up."""
    return true if predicted != true else second


class WhyView(QWidget):
    """`set_weights` once per model, then `show_image` per selection; `set_overlay` toggles the map."""

    overlay_toggled = Signal(bool)  # for a window that remembers the choice

    def __init__(self, parent=None):
        super().__init__(parent)
        self._weights: LinearWeights | None = None
        self._unavailable = "no model loaded"
        self._map: np.ndarray | None = None  # (28, 28) float32, the last contributions shown
        self._pair: tuple[int, int] | None = None
        self._base: np.ndarray | None = None  # (28, 28) uint8, the image under the map
        self._scale = 1.0
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.canvas = QLabel()
        self.canvas.setFixedSize(IMAGE_SHAPE[1] * ENLARGE, IMAGE_SHAPE[0] * ENLARGE)
        self.canvas.setStyleSheet(f"background: {TRACK.name()}")
        self.overlay_box = QCheckBox("Heat map over the image")
        self.overlay_box.setChecked(True)
        self.overlay_box.toggled.connect(self._on_overlay_toggled)
        self.legend = ColourLegend()
        self.sum_line = QLabel()
        self.sum_line.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.heading)
        layout.addWidget(self.canvas, alignment=Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.overlay_box)
        layout.addWidget(self.legend)
        layout.addWidget(self.sum_line)
        self.clear()

    # --- what the tests and the window read ----------------------------------------------------
    @property
    def contributions(self) -> np.ndarray | None:
        """(28, 28) float32 read-only: the per-pixel numbers the map colours, or None."""
        return self._map

    @property
    def compared(self) -> tuple[int, int] | None:
        """(predicted, other): the pair of classes the shown map explains, or None."""
        return self._pair

    @property
    def overlay_shown(self) -> bool:
        return self.overlay_box.isChecked()

    # --- input ---------------------------------------------------------------------------------
    def set_weights(self, weights: LinearWeights | None, reason: str = "") -> None:
        """The model's W and b (None: no explanation possible, and `reason` says why)."""
        self._weights = weights
        self._unavailable = reason or "no model loaded"
        self.clear()

    @Slot(bool)
    def set_overlay(self, shown: bool) -> None:
        self.overlay_box.setChecked(shown)

    def clear(self) -> None:
        self._map = self._pair = self._base = None
        waiting = "no image selected" if self._weights is not None else f"no explanation: {self._unavailable}"
        self.heading.setText(waiting)
        self.canvas.clear()
        self.sum_line.clear()
        self.legend.set_scale(1.0, UNIT, "favours the other class", "favours the prediction")

    def show_image(self, image, predicted: int, true: int, second: int, class_names) -> None:
        """Explain `predicted` against the true label (if wrong) or `second` (if right).

        image: (28, 28) uint8. predicted, true, second: class indices; second != predicted.
        """
        other = compared_class(predicted, true, second)
        if other == predicted:
            raise ArgumentError(
                f"second is {second}, the predicted class itself; pass the runner-up "
                "(gui.why_view.runner_up(probabilities))"
            )
        base = np.ascontiguousarray(image)
        if base.shape != IMAGE_SHAPE or base.dtype != np.uint8:
            raise ArgumentError(f"image is {base.dtype} {base.shape}; expected uint8 {IMAGE_SHAPE}, one raw image")
        self._base, self._pair = base, (predicted, other)
        if self._weights is None:
            self._map = None
            self.heading.setText(f"no explanation: {self._unavailable}")
            self._paint()
            return
        self._map = self._weights.contributions(base[None], predicted, other)[0]  # (1, 28, 28) -> (28, 28)
        self._map.flags.writeable = False
        self._scale = symmetric_scale(self._map)
        why_not = "the true label" if predicted != true else "the runner-up"
        self.heading.setText(
            f"Why <b>{class_names[predicted]}</b> ({predicted}) and not "
            f"<b>{class_names[other]}</b> ({other}), {why_not}"
        )
        self.legend.set_scale(
            self._scale,
            UNIT,
            f"favours {class_names[other]}",
            f"favours {class_names[predicted]}",
            saturated=bool(np.abs(self._map).max() > self._scale),
        )
        pixels = float(self._map.sum(dtype=np.float64))
        bias = float(self._weights.bias[predicted]) - float(self._weights.bias[other])
        self.sum_line.setText(
            f"Σ pixels {pixels:+.3f} + bias gap {bias:+.3f} = logit gap {pixels + bias:+.3f} "
            f"(logit {class_names[predicted]} − logit {class_names[other]})"
        )
        self._paint()

    # --- drawing -------------------------------------------------------------------------------
    @Slot(bool)
    def _on_overlay_toggled(self, shown: bool) -> None:
        self.legend.setEnabled(shown)
        self._paint()
        self.overlay_toggled.emit(shown)

    def _paint(self) -> None:
        if self._base is None:
            return
        if self._map is not None and self.overlay_shown:
            image = rgb_image(diverging_rgb(self._map, self._scale, self._base))
        else:
            height, width = self._base.shape
            image = QImage(self._base.data, width, height, width, QImage.Format.Format_Grayscale8).copy()
        self.canvas.setPixmap(QPixmap.fromImage(scaled_up(image, ENLARGE)))
