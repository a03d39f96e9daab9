"""The current view as one PNG for reports: the lecture's `visualize` — each image with its
true label on the first line and the predicted label on the second (red when wrong)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter

from gui.tile_delegate import CORRECTED, MISTAKE_FRAME
from gui.tile_model import TileModel

MAX_TILES = 1000  # a 10 x 100 grid; more makes a PNG nobody can read
COLUMNS = 10
SCALE = 3


def render_grid(model: TileModel, rows: np.ndarray, columns: int = COLUMNS) -> QImage:
    """Paint the given dataset rows (in order) as a grid; the caller caps how many."""
    font = QFont()
    font.setPointSizeF(8)
    line = QFontMetrics(font).height()
    side = 28 * SCALE
    cell_w, cell_h = max(side, 96) + 8, side + 2 * line + 10
    columns = max(1, min(columns, len(rows)))
    n_rows = max(1, -(-len(rows) // columns))
    image = QImage(columns * cell_w, n_rows * cell_h, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    p = QPainter(image)
    p.setFont(font)
    names = model.class_names
    for k, row in enumerate(int(r) for r in rows):
        x, y = (k % columns) * cell_w, (k // columns) * cell_h
        p.drawImage(QRect(x + (cell_w - side) // 2, y + 4, side, side), model.data(model.index(row), Qt.ItemDataRole.DecorationRole))
        true, predicted = int(model.labels[row]), int(model.predicted[row])
        text = QRect(x + 2, y + side + 6, cell_w - 4, line)
        p.setPen(CORRECTED if model.labels[row] != model.original_labels[row] else QColor("black"))
        p.drawText(text, Qt.AlignmentFlag.AlignHCenter, names[true])
        p.setPen(MISTAKE_FRAME if true != predicted else QColor("black"))
        p.drawText(text.translated(0, line), Qt.AlignmentFlag.AlignHCenter, names[predicted])
    p.end()
    return image
