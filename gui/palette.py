"""The labeler's colours: the grid, the detail panel, the confusion matrix and the legend agree
because they all take them from here.

Red always means "the model got it wrong", purple "a person relabelled it", teal "a person
confirmed the label", grey "a person excluded the image", and orange "the label-issue report
suspects this label".
"""

from __future__ import annotations

from PySide6.QtGui import QColor

MISTAKE = QColor("#d50000")  # frame and predicted label of a wrong tile, its bar, off-diagonal cells
MISTAKE_FILL = QColor("#ffd5d5")  # a wrong tile's background: visible at a glance in a grid of 60,000
CORRECTED = QColor("#7b1fa2")  # frame, corner badge and true label of a relabelled image
CONFIRMED = QColor("#00897b")  # corner badge of an image whose label a person confirmed
EXCLUDED = QColor("#616161")  # corner badge and cross of an image left out of training and evaluation
FLAGGED = QColor("#ef6c00")  # corner mark of an image the label-issue report flags
TAG = QColor("#1565c0")  # a tag's pill on the tile and its name in the detail panel
PLAIN_FRAME = QColor("#c8c8c8")
CORRECT_BAR = QColor("#2e7d32")  # the predicted class's bar when the prediction is right
OTHER_BAR = QColor("#90a4ae")
TRACK = QColor("#eceff1")  # behind the bars and the enlarged image
DIAGONAL = QColor("#1565c0")  # confusion-matrix diagonal at full strength
EMPTY_CELL = QColor("white")
DARK_TEXT = QColor("black")
LIGHT_TEXT = QColor("white")  # on dark shades
SELECTED_CELL = QColor("black")  # unlike the usual selection blue, no cell shade looks like it


def coloured(text: str, colour: QColor) -> str:
    """`text` in bold and `colour`, for rich-text labels."""
    return f"<b style='color:{colour.name()}'>{text}</b>"
