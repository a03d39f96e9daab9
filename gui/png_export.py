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


def with_png_suffix(path: str) -> str:
    """`path`, with ".png" added when it has no suffix of that name (Qt would pick the format by suffix)."""
    return str(path) if str(path).lower().endswith(".png") else f"{path}.png"


def render_tiles(indexes: list, palette: QPalette, columns: int = COLUMNS, show_index: bool = False) -> QImage:
    """Paint the items at `indexes` (in order, the caller caps how many) as a grid, unselected,
    with their dataset indexes if `show_index` (as the grid shows them or not)."""
    delegate = TileDelegate(ZOOM, show_index=show_index)
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
