"""The current view as one PNG for reports: the grid's own tiles, painted by the grid's delegate
from the model's roles, ten to a row, at a fixed zoom so the file reads the same whatever the
window's zoom."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QImage, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyleOptionViewItem

from gui.tile_delegate import TileDelegate

MAX_TILES = 1000  # a 10 x 100 grid; more makes a PNG nobody can read
COLUMNS = 10
ZOOM = 3  # 84 px per image: pixels visible, ten tiles fit a page


def render_tiles(indexes: list, palette: QPalette, columns: int = COLUMNS) -> QImage:
    """Paint the items at `indexes` (in order, the caller caps how many) as a grid, unselected."""
    delegate = TileDelegate(ZOOM)
    size = delegate.tile_size()
    columns = max(1, min(columns, len(indexes)))
    rows = max(1, -(-len(indexes) // columns))
    image = QImage(columns * size.width(), rows * size.height(), QImage.Format.Format_RGB32)
    image.fill(palette.base().color())
    option = QStyleOptionViewItem()
    option.palette = palette
    option.state = QStyle.StateFlag.State_Enabled
    painter = QPainter(image)
    for k, index in enumerate(indexes):
        option.rect = QRect(QPoint((k % columns) * size.width(), (k // columns) * size.height()), size)
        delegate.paint(painter, option, index)
    painter.end()
    return image
