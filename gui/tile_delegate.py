"""The grid: a QListView of fixed-size tiles and the delegate that paints each one.

The delegate only paints, from the model's roles alone: the image (a QImage over the split's
pixels, made as the tile is painted, scaled nearest-neighbour so pixels stay crisp), the true label
above the predicted one as in the lecture's `visualize`, a red frame and background on mistakes, a
purple frame and corner badge on relabelled images, a teal badge on confirmed labels, a grey badge
and cross on excluded images, an orange mark in the other corner on labels the label-issue report
flags, and the first tag (and how many more) in a blue pill at the image's bottom right.
The PNG export paints with it too.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen, QPolygon
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate

from gui.palette import CONFIRMED, CORRECTED, EXCLUDED, FLAGGED, MISTAKE, MISTAKE_FILL, PLAIN_FRAME, TAG
from gui.tile_roles import (
    DATASET_INDEX_ROLE,
    IS_FLAGGED_ROLE,
    IS_MISTAKE_ROLE,
    PREDICTED_NAME_ROLE,
    TAGS_ROLE,
    TRUE_NAME_ROLE,
    VERDICT_ROLE,
)

PAD = 4
ZOOMS = (1, 2, 3, 4, 5, 6, 8)  # pixels per image pixel
DEFAULT_ZOOM = 3
MIN_TILE_WIDTH = 56  # "Trouser"/"Sneaker" whole at 8 pt; longer names elide, so at x1 more columns fit
INDEX_BACK = QColor(255, 255, 255, 190)  # behind the tile's index: readable on black and white pixels
# Enum values looked up once: Python-level enum operations cost microseconds per tile.
SELECTED = QStyle.StateFlag.State_Selected
CENTRE = Qt.AlignmentFlag.AlignHCenter
ELIDE = Qt.TextElideMode.ElideRight
BADGE = {"relabel": CORRECTED, "confirmed": CONFIRMED, "exclude": EXCLUDED}  # top-right corner, by verdict


class TileDelegate(QStyledItemDelegate):
    def __init__(self, zoom: int = DEFAULT_ZOOM, parent=None, show_index: bool = False):
        super().__init__(parent)
        self.zoom = zoom
        self.show_index = show_index  # the dataset index in the image's bottom-left corner
        self.font = QFont()
        self.font.setPointSizeF(8)
        self.small = QFont(self.font)
        self.small.setPointSizeF(7)
        self._small_metrics = QFontMetrics(self.small)
        self.bold = QFont(self.font)
        self.bold.setBold(True)
        self._metrics = QFontMetrics(self.font)
        self._bold_metrics = QFontMetrics(self.bold)
        self._line = self._bold_metrics.height()

    def tile_size(self) -> QSize:
        side = 28 * self.zoom
        return QSize(max(side, MIN_TILE_WIDTH) + 2 * PAD, side + 2 * self._line + 3 * PAD)

    def sizeHint(self, option, index) -> QSize:
        return self.tile_size()

    def paint(self, painter: QPainter, option, index) -> None:
        true = index.data(TRUE_NAME_ROLE)
        if true is None:
            return
        predicted = index.data(PREDICTED_NAME_ROLE)
        mistake = index.data(IS_MISTAKE_ROLE)
        verdict = index.data(VERDICT_ROLE)
        corrected = verdict == "relabel"
        image = index.data(Qt.ItemDataRole.DecorationRole)
        selected = bool(option.state & SELECTED)
        r = option.rect.adjusted(1, 1, -2, -2)
        text_colour = option.palette.text().color()

        painter.save()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)  # crisp pixels
        painter.fillRect(r, MISTAKE_FILL if mistake else option.palette.base())
        if selected:
            fill = QColor(option.palette.highlight().color())
            fill.setAlpha(110)
            painter.fillRect(r, fill)
        frame = MISTAKE if mistake else CORRECTED if corrected else PLAIN_FRAME
        width = 3 if mistake or corrected else 1
        painter.setPen(QPen(frame, width))
        painter.drawRect(r.adjusted(width // 2, width // 2, -(width // 2), -(width // 2)))
        if corrected and mistake:  # a purple frame inside the red one: still wrong, but relabelled
            painter.setPen(QPen(CORRECTED, 2))
            painter.drawRect(r.adjusted(3, 3, -3, -3))
        if selected:
            painter.setPen(QPen(option.palette.highlight().color(), 2, Qt.PenStyle.DashLine))
            painter.drawRect(r.adjusted(4, 4, -4, -4))

        side = 28 * self.zoom
        image_rect = QRect(r.x() + (r.width() - side) // 2, r.y() + PAD, side, side)
        painter.drawImage(image_rect, image)

        if verdict == "exclude":  # greyed out and crossed: not part of training or evaluation
            veil = QColor(option.palette.base().color())
            veil.setAlpha(150)
            painter.fillRect(image_rect, veil)
            painter.setPen(QPen(EXCLUDED, 2))
            painter.drawLine(image_rect.topLeft(), image_rect.bottomRight())
            painter.drawLine(image_rect.bottomLeft(), image_rect.topRight())
        size = max(16, side // 4)
        painter.setPen(Qt.PenStyle.NoPen)
        if verdict is not None:  # the verdict's badge: a triangle in the top-right corner
            c = r.topRight()
            painter.setBrush(BADGE[verdict])
            painter.drawPolygon(QPolygon([c, QPoint(c.x() - size, c.y()), QPoint(c.x(), c.y() + size)]))
        if index.data(IS_FLAGGED_ROLE):  # the report's suspicion: a smaller triangle top-left
            c, size = r.topLeft(), size * 2 // 3
            painter.setBrush(FLAGGED)
            painter.drawPolygon(QPolygon([c, QPoint(c.x() + size, c.y()), QPoint(c.x(), c.y() + size)]))

        index_width = 0
        if self.show_index:
            index_width = self._paint_index(painter, image_rect, str(index.data(DATASET_INDEX_ROLE)))
        tags = index.data(TAGS_ROLE)
        if tags:
            self._paint_tags(painter, image_rect, tags, image_rect.width() - index_width - 2)
        text = QRect(r.x() + 2, image_rect.bottom() + 2, r.width() - 4, self._line)
        font, metrics = (self.bold, self._bold_metrics) if corrected else (self.font, self._metrics)
        painter.setFont(font)
        painter.setPen(CORRECTED if corrected else text_colour)
        painter.drawText(text, CENTRE, metrics.elidedText(true, ELIDE, text.width()))
        text.translate(0, self._line)
        font, metrics = (self.bold, self._bold_metrics) if mistake else (self.font, self._metrics)
        painter.setFont(font)
        painter.setPen(MISTAKE if mistake else text_colour)
        painter.drawText(text, CENTRE, metrics.elidedText(predicted, ELIDE, text.width()))
        painter.restore()

    def _paint_index(self, painter: QPainter, image_rect: QRect, text: str) -> int:
        """The dataset index in the image's bottom-left corner; returns the width it took."""
        box = self._small_metrics.boundingRect(text).adjusted(-2, 0, 2, 0)
        box.moveBottomLeft(image_rect.bottomLeft())
        painter.fillRect(box, INDEX_BACK)
        painter.setFont(self.small)
        painter.setPen(Qt.GlobalColor.black)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        return box.width()

    def _paint_tags(self, painter: QPainter, image_rect: QRect, tags: tuple[str, ...], room: int) -> None:
        """The first tag, and "+n" for the others, white on blue at the image's bottom right, within `room` px."""
        more = f" +{len(tags) - 1}" if len(tags) > 1 else ""
        text = self._small_metrics.elidedText(
            tags[0], ELIDE, max(room - 4 - self._small_metrics.horizontalAdvance(more), 8)
        )
        text += more
        box = self._small_metrics.boundingRect(text).adjusted(-2, 0, 2, 0)
        box.moveBottomRight(image_rect.bottomRight())
        painter.fillRect(box, TAG)
        painter.setFont(self.small)
        painter.setPen(Qt.GlobalColor.white)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)


class TileGridView(QListView):
    """A wrapping grid of uniform tiles: one size for all items keeps 60,000 of them fast."""

    def __init__(self, delegate: TileDelegate, parent=None):
        super().__init__(parent)
        self.delegate = delegate
        self.setItemDelegate(delegate)
        # ListMode + LeftToRight + wrapping lays out a grid like IconMode, but with
        # QListView's batched static layout instead of a stored position per item.
        self.setViewMode(QListView.ViewMode.ListMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setMovement(QListView.Movement.Static)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setMouseTracking(False)
        self._apply_zoom()

    def set_zoom(self, zoom: int) -> None:
        self.delegate.zoom = zoom
        self._apply_zoom()

    def _apply_zoom(self) -> None:
        size = self.delegate.tile_size()
        self.setGridSize(size)
        self.verticalScrollBar().setSingleStep(size.height() // 3)
        self.scheduleDelayedItemsLayout()
        if self.currentIndex().isValid():
            self.scrollTo(self.currentIndex())

    def set_show_index(self, shown: bool) -> None:
        self.delegate.show_index = shown
        self.viewport().update()

    def dataChanged(self, top_left, bottom_right, roles=()) -> None:
        """Repaint what changed, and nothing more. QListView's own handler re-lays out every row in
        wrapping ListMode: one verdict on the 60,000-image train split cost ~100 ms (60,000 calls to
        the proxy's index()), against ~3 ms now. Tiles have no editors, so nothing else needs it."""
        if top_left == bottom_right:
            self.viewport().update(self.visualRect(top_left))
        else:
            self.viewport().update()

    def keyboardSearch(self, search: str) -> None:
        """Letters and digits are commands here (N, P, 0-9), not a search by item text."""
