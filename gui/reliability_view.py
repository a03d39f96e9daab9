"""Does the model's confidence mean what it says? A reliability diagram, painted with QPainter.

Per confidence bin (gui reads the bins from inference.core.calibration, the one place that
bins): a bar as tall as the accuracy, the gap to the bin's mean confidence shaded, and the
diagonal a calibrated model's bars would touch. A strip beneath shows how many images each bin
holds, since a bin of 12 images can be far off the diagonal by chance. The title gives the ECE.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from gui.palette import DIAGONAL, MISTAKE, OTHER_BAR, TRACK
from inference.core.calibration import ReliabilityBins

ACCURACY_BAR = QColor(DIAGONAL.red(), DIAGONAL.green(), DIAGONAL.blue(), 150)
GAP = QColor(MISTAKE.red(), MISTAKE.green(), MISTAKE.blue(), 70)  # see-through: the bar stays visible under it
COUNT_STRIP = 56  # px: room for a rotated "10,000"
MARGIN = 8


class ReliabilityView(QWidget):
    """`set_bins(bins, what)` draws them; `title` is the line painted on top."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.bins: ReliabilityBins | None = None
        self.title = "no predictions yet"
        self.subtitle = ""
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(300, 320)

    def sizeHint(self) -> QSize:
        return QSize(420, 460)

    def set_bins(self, bins: ReliabilityBins, what: str = "") -> None:
        """Show `bins`; `what` names the images, e.g. "test split"."""
        self.bins = bins
        total = int(bins.count.sum())
        self.title = f"Reliability{', ' + what if what else ''}: ECE {bins.ece:.2%}"
        self.subtitle = f"{total:,} images, {len(bins.count)} bins · bars: accuracy · shaded: the gap"
        self.setToolTip(
            f"expected calibration error {bins.ece:.4f}; mean confidence {bins.mean_confidence:.1%}, "
            f"accuracy {bins.correct.sum() / max(total, 1):.1%}; the strip beneath: images per bin"
        )
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        text = self.palette().text().color()
        metrics = self.fontMetrics()
        line = metrics.height()
        bold = QFont(self.font())
        bold.setBold(True)
        p.setFont(bold)
        p.setPen(text)
        heading = QRectF(MARGIN, MARGIN, self.width() - 2 * MARGIN, line)
        p.drawText(heading, Qt.AlignmentFlag.AlignHCenter, self.title)
        p.setFont(self.font())
        p.drawText(
            heading.translated(0, line),
            Qt.AlignmentFlag.AlignHCenter,
            metrics.elidedText(self.subtitle, Qt.TextElideMode.ElideRight, int(heading.width())),
        )
        left = MARGIN + line + metrics.horizontalAdvance("100%") + 6  # rotated axis name, then the numbers
        top = MARGIN + 2 * line + 8
        width = self.width() - left - MARGIN - metrics.horizontalAdvance("0.0") // 2
        height = self.height() - top - COUNT_STRIP - 2 * line - MARGIN - 6
        if self.bins is None or width < 50 or height < 50:
            p.end()
            return
        plot = QRectF(left, top, width, height)
        strip = QRectF(left, plot.bottom() + 6, width, COUNT_STRIP)
        self._paint_axes(p, plot, strip, line, text)
        self._paint_bars(p, plot)
        self._paint_counts(p, strip, text)
        p.end()

    def _paint_axes(self, p: QPainter, plot: QRectF, strip: QRectF, line: int, text: QColor) -> None:
        p.fillRect(plot, TRACK)
        p.setPen(QPen(DIAGONAL, 1.5, Qt.PenStyle.DashLine))
        p.drawLine(plot.bottomLeft(), plot.topRight())
        p.setPen(text)
        p.drawRect(plot)
        for fraction in (0.0, 0.5, 1.0):
            y = plot.bottom() - fraction * plot.height()
            p.drawText(
                QRectF(0, y - line / 2, plot.left() - 4, line),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                f"{fraction:.0%}",
            )
            x = plot.left() + fraction * plot.width()
            p.drawText(QRectF(x - 30, strip.bottom() + 2, 60, line), Qt.AlignmentFlag.AlignHCenter, f"{fraction:.1f}")
        p.drawText(
            QRectF(plot.left(), strip.bottom() + 2 + line, plot.width(), line),
            Qt.AlignmentFlag.AlignHCenter,
            "confidence (top probability)",
        )
        p.save()
        p.translate(MARGIN, plot.center().y())
        p.rotate(-90)
        p.drawText(QRectF(-plot.height() / 2, 0, plot.height(), line), Qt.AlignmentFlag.AlignHCenter, "accuracy")
        p.restore()

    def _paint_bars(self, p: QPainter, plot: QRectF) -> None:
        bins = self.bins
        edges, accuracy, confidence = bins.edges, bins.accuracy, bins.confidence

        def point(x: float, y: float) -> QPointF:
            return QPointF(plot.left() + x * plot.width(), plot.bottom() - y * plot.height())

        for k in range(len(bins.count)):
            if not bins.count[k]:
                continue
            bar = QRectF(point(edges[k], accuracy[k]), point(edges[k + 1], 0)).adjusted(1, 0, -1, 0)
            p.fillRect(bar, ACCURACY_BAR)
            gap = QRectF(
                point(edges[k], max(accuracy[k], confidence[k])), point(edges[k + 1], min(accuracy[k], confidence[k]))
            ).adjusted(1, 0, -1, 0)
            p.fillRect(gap, GAP)
            # The bin's point at its own mean confidence: a bin's images need not sit in its middle.
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(MISTAKE)
            p.drawEllipse(point(confidence[k], accuracy[k]), 2.5, 2.5)

    def _paint_counts(self, p: QPainter, strip: QRectF, text: QColor) -> None:
        bins = self.bins
        most = max(int(bins.count.max()), 1)
        small = QFont(self.font())
        small.setPointSizeF(max(self.font().pointSizeF() * 0.8, 6))
        p.setFont(small)
        column = strip.width() / len(bins.count)
        for k, count in enumerate(bins.count):
            x = strip.left() + k * column
            height = strip.height() * count / most
            p.fillRect(QRectF(x + 1, strip.bottom() - height, column - 2, height), OTHER_BAR)
            if count:
                p.save()
                p.translate(x + column / 2, strip.bottom() - 2)
                p.rotate(-90)
                p.setPen(text)
                p.drawText(QRectF(0, -column / 2, strip.height(), column), Qt.AlignmentFlag.AlignVCenter, f"{count:,}")
                p.restore()
        p.setFont(self.font())
