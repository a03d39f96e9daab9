"""The signed colour scale of the explanation views: pixel contributions and class templates.

Red is positive and blue negative, as in every attribution map a reader has seen, and the scale
is symmetric around 0, so equal colour strength is equal size of effect. A value is painted as
its colour blended over the pixel beneath with opacity |value| / scale: 0 leaves the pixel as
it is (white in a template, the garment in the "why" view), so the colours never hide the image.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QLinearGradient, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

# ColorBrewer RdBu's ends: colour-blind safe, and dark enough to read as a blend over grey.
POSITIVE = QColor("#b2182b")
NEGATIVE = QColor("#2166ac")
# The strongest blend still lets 15 % of the pixel beneath through, so the garment's outline
# stays readable under its largest contributions.
MAX_OPACITY = 0.85
_POSITIVE_RGB = np.array(POSITIVE.getRgb()[:3], np.float32)
_NEGATIVE_RGB = np.array(NEGATIVE.getRgb()[:3], np.float32)


# The scale ends at this percentile of the non-zero |values|, not at the largest: on the exported
# model a handful of pixels are 2-3x the rest, and scaling to them left every other pixel pale.
SATURATE_PERCENTILE = 98


def symmetric_scale(values: np.ndarray) -> float:
    """±scale for `values`: the SATURATE_PERCENTILE of the non-zero |values| (1 if all are 0)."""
    magnitude = np.abs(values[values != 0])
    scale = float(np.percentile(magnitude, SATURATE_PERCENTILE)) if magnitude.size else 0.0
    return scale if scale > 0 else 1.0


def diverging_rgb(values: np.ndarray, scale: float, base: np.ndarray | None = None) -> np.ndarray:
    """(H, W) float values -> (H, W, 3) uint8: the colour of each value blended over `base`.

    base: (H, W) uint8 grey levels beneath (None: white). Values beyond ±scale saturate.
    """
    strength = np.clip(values / np.float32(scale), -1.0, 1.0).astype(np.float32)  # (H, W) in [-1, 1]
    opacity = (np.abs(strength) * MAX_OPACITY)[..., None]  # (H, W, 1)
    colour = np.where((strength >= 0)[..., None], _POSITIVE_RGB, _NEGATIVE_RGB)  # (H, W, 3)
    under = np.float32(255) if base is None else base.astype(np.float32)[..., None]
    return np.rint(under + opacity * (colour - under)).astype(np.uint8)


def rgb_image(rgb: np.ndarray) -> QImage:
    """An (H, W, 3) uint8 array as a QImage that owns a copy of the pixels."""
    rgb = np.ascontiguousarray(rgb)
    height, width = rgb.shape[:2]
    return QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def scaled_up(image: QImage, factor: int) -> QImage:
    """Nearest neighbour: each pixel a visible square, as the model sees it."""
    return image.scaled(
        image.width() * factor,
        image.height() * factor,
        Qt.AspectRatioMode.IgnoreAspectRatio,
        Qt.TransformationMode.FastTransformation,
    )


def colour_at(fraction: float) -> QColor:
    """The scale's colour over white at `fraction` of the way from -scale (0) to +scale (1)."""
    strength = 2 * fraction - 1
    end = POSITIVE if strength >= 0 else NEGATIVE
    opacity = abs(strength) * MAX_OPACITY
    return QColor.fromRgbF(*(1 + opacity * (c - 1) for c in end.getRgbF()[:3]))


class ColourLegend(QWidget):
    """The scale as a bar from -scale to +scale, its numbers and unit, and what each end means."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.scale = 1.0
        self.saturated = False
        self.unit = ""
        self.negative_meaning = ""
        self.positive_meaning = ""
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(self.sizeHint().height())

    def sizeHint(self) -> QSize:
        return QSize(224, 3 * self.fontMetrics().height() + 14)

    def set_scale(
        self, scale: float, unit: str, negative_meaning: str, positive_meaning: str, saturated: bool = False
    ) -> None:
        """saturated: some values lie beyond ±scale (the ends then read ≤ and ≥)."""
        self.scale, self.unit, self.saturated = scale, unit, saturated
        self.negative_meaning, self.positive_meaning = negative_meaning, positive_meaning
        self.setToolTip(
            f"{unit}: blue {negative_meaning}, red {positive_meaning}; the colour saturates at ±{scale:.3g}"
        )
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        line = self.fontMetrics().height()
        width = self.width() - 1
        bar = QRect(0, 0, width, 12)
        gradient = QLinearGradient(bar.topLeft(), bar.topRight())
        for stop in (0.0, 0.25, 0.5, 0.75, 1.0):  # the blend is linear in each half; 5 stops draw it exactly
            gradient.setColorAt(stop, colour_at(stop))
        p.fillRect(bar, gradient)
        p.setPen(self.palette().mid().color())
        p.drawRect(bar)
        p.setPen(self.palette().text().color())
        numbers = QRectF(0, 14, width, line)
        low, high = ("≤ ", "≥ ") if self.saturated else ("", "")
        p.drawText(numbers, Qt.AlignmentFlag.AlignLeft, f"{low}−{self.scale:.3g}")
        p.drawText(numbers, Qt.AlignmentFlag.AlignHCenter, f"0 {self.unit}")
        p.drawText(numbers, Qt.AlignmentFlag.AlignRight, f"{high}+{self.scale:.3g}")
        meanings = QRectF(0, 14 + line, width, 2 * line)
        wrap = Qt.TextFlag.TextWordWrap
        half = QRectF(meanings.left(), meanings.top(), width / 2 - 4, meanings.height())
        p.setPen(NEGATIVE)
        p.drawText(half, Qt.AlignmentFlag.AlignLeft | wrap, f"◀ {self.negative_meaning}")
        p.setPen(POSITIVE)
        right_half = half.translated(width / 2 + 4, 0)
        p.drawText(right_half, Qt.AlignmentFlag.AlignRight | wrap, f"{self.positive_meaning} ▶")
        p.end()
