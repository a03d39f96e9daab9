"""What each class looks for: the ten rows of W drawn as 28 x 28 images on one colour scale.

A bright pixel where a template is red raises that class's logit, where it is blue lowers it;
the templates of a softmax regression are the whole model, so this is all it has learned.
One scale for all ten, so a stronger colour in one template is a larger weight than in another.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from gui.diverging import ColourLegend, diverging_rgb, rgb_image, scaled_up, symmetric_scale
from inference.core.attributions import LinearWeights
from inference.core.classes import IMAGE_SHAPE
from inference.core.errors import ArgumentError

ENLARGE = 4  # 112 px per template: five to a row fit a 600 px dialog
COLUMNS = 5
FULL_BRIGHTNESS = 255  # weights are per raw pixel value; a white pixel is the unit a reader pictures
UNIT = "logit / white pixel"


class TemplatesView(QWidget):
    """`set_weights(weights, class_names)` fills the grid; captions carry the relabel keys 0-9."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._captions: list[QLabel] = []
        self._images: list[QLabel] = []
        self.title = QLabel("no model loaded")
        self.title.setWordWrap(True)
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        for k in range(10):
            image, caption = QLabel(), QLabel()
            image.setFixedSize(IMAGE_SHAPE[1] * ENLARGE, IMAGE_SHAPE[0] * ENLARGE)
            caption.setAlignment(Qt.AlignmentFlag.AlignHCenter)
            row, column = divmod(k, COLUMNS)
            grid.addWidget(image, 2 * row, column, alignment=Qt.AlignmentFlag.AlignHCenter)
            grid.addWidget(caption, 2 * row + 1, column)
            self._images.append(image)
            self._captions.append(caption)
        self.legend = ColourLegend()
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(grid)
        layout.addWidget(self.legend)

    @property
    def captions(self) -> list[str]:
        """The shown captions, by class: "key · name"."""
        return [caption.text() for caption in self._captions]

    def set_weights(self, weights: LinearWeights, class_names) -> None:
        templates = weights.templates() * np.float32(FULL_BRIGHTNESS)  # (10, 28, 28) logit per white pixel
        if len(templates) != len(self._images) or len(class_names) != len(templates):
            raise ArgumentError(
                f"{len(templates)} templates and {len(class_names)} class names arrived; "
                "the view shows 10 of each, from a Fashion-MNIST model"
            )
        scale = symmetric_scale(templates)
        for k, (template, name) in enumerate(zip(templates, class_names, strict=False)):
            self._images[k].setPixmap(QPixmap.fromImage(scaled_up(rgb_image(diverging_rgb(template, scale)), ENLARGE)))
            self._captions[k].setText(f"{k} · {name}")
            self._images[k].setToolTip(
                f"{name}: weights from {template.min():+.3f} to {template.max():+.3f} {UNIT}; "
                f"press {k} in the grid to relabel as {name}"
            )
        self.title.setText(
            "Class templates: each class's weight on each pixel. A bright pixel on red raises the "
            "class's logit, on blue lowers it; one colour scale for all ten."
        )
        self.legend.set_scale(
            scale,
            UNIT,
            "a bright pixel here argues against the class",
            "a bright pixel here argues for the class",
            saturated=bool(np.abs(templates).max() > scale),
        )
