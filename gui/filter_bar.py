"""The bar above the grid: Show / True / Predicted / Tag filters, sort order, zoom, "Showing n of m".

It sets the TileFilterModel's filters and order as its widgets change, and keeps each choice's
live count (under the other filters as they stand) in its text.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QSizePolicy, QSlider, QWidget

from gui.fitting_label import FittingLabel
from gui.tile_delegate import DEFAULT_ZOOM, ZOOMS
from gui.tile_filter import TileFilterModel

SHOW_CHOICES = (
    ("all", "All"),
    ("mistakes", "Mistakes only"),
    ("correct", "Correct predictions"),
    ("issues", "Label issues"),
    ("reviewed", "Reviewed"),
    ("not_reviewed", "Not reviewed"),
    ("corrected", "Corrected labels"),
)
SORT_CHOICES = (
    ("index", "Index"),
    ("confidence", "Least confident first"),
    ("loss", "Highest loss first"),
    ("quality", "Label quality (most suspect first)"),
)


class FilterBar(QWidget):
    zoom_changed = Signal(int)  # pixels per image pixel, one of ZOOMS
    choice_changed = Signal()  # a person changed a filter or the sort: the view starts again at the top

    def __init__(self, view_model: TileFilterModel, parent=None):
        super().__init__(parent)
        self.view_model = view_model
        self.show_filter = self._combo(SHOW_CHOICES)
        self.true_filter = self._combo(())
        self.predicted_filter = self._combo(())
        self.sort_choice = self._combo(SORT_CHOICES)
        self.tag_filter = self._combo(())
        self.tag_filter.addItem("any", None)
        self.zoom_slider = QSlider(Qt.Orientation.Horizontal)
        self.zoom_slider.setRange(0, len(ZOOMS) - 1)
        self.zoom_slider.setValue(ZOOMS.index(DEFAULT_ZOOM))
        self.zoom_slider.setFixedWidth(90)
        self.zoom_label = QLabel(f"×{DEFAULT_ZOOM}")
        self.shown_label = FittingLabel()  # "Showing 28 of 60,000 images", or "28 of 60,000" where narrow
        self._lay_out()

        for combo in (self.show_filter, self.true_filter, self.predicted_filter, self.tag_filter):
            combo.currentIndexChanged.connect(self._on_filter_changed)
        self.sort_choice.currentIndexChanged.connect(self._on_sort_changed)
        self.zoom_slider.valueChanged.connect(self._on_zoom_changed)
        view_model.view_changed.connect(self.update_counts)
        view_model.sourceModel().labels_changed.connect(self.update_counts)

    @staticmethod
    def _combo(choices) -> QComboBox:
        combo = QComboBox()
        for key, text in choices:
            combo.addItem(text, key)
        # Shrinks to 12 characters in a narrow window; the open list shows whole texts.
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(12)
        combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        return combo

    def _lay_out(self) -> None:
        # Two pairs a row: fits the centre of a 1024-wide window with both side panes open.
        bar = QGridLayout(self)
        bar.setContentsMargins(0, 0, 0, 0)
        pairs = (
            ("Show", self.show_filter),
            ("Sort", self.sort_choice),
            ("True", self.true_filter),
            ("Predicted", self.predicted_filter),
        )
        for k, (text, widget) in enumerate(pairs):
            bar.addWidget(QLabel(text), k // 2, 2 * (k % 2))
            bar.addWidget(widget, k // 2, 2 * (k % 2) + 1)
        bar.addWidget(QLabel("Tag"), 2, 0)
        bar.addWidget(self.tag_filter, 2, 1)
        zoom = QHBoxLayout()
        zoom.addWidget(QLabel("Zoom"))
        zoom.addWidget(self.zoom_slider)
        zoom.addWidget(self.zoom_label)
        zoom.addWidget(self.shown_label, 1)
        bar.addLayout(zoom, 2, 2, 1, 2)
        bar.setColumnStretch(1, 1)
        bar.setColumnStretch(3, 1)

    # --- what the window asks ------------------------------------------------------------------
    def set_class_names(self, class_names) -> None:
        """Offer the model's classes in the True and Predicted filters, both back to "any"."""
        for combo in (self.true_filter, self.predicted_filter):
            combo.blockSignals(True)
            combo.clear()
            combo.addItem("any", None)
            for k, name in enumerate(class_names):
                combo.addItem(f"{k} {name}", k)
            combo.blockSignals(False)
        self.view_model.set_filter(true_class=None, predicted_class=None)

    def show_pair(self, true_class: int | None, predicted_class: int | None, show: str | None = "all") -> None:
        """The images of one (true, predicted) pair; None is any class. `show` sets the Show filter
        too ("all": right or wrong), None keeps it as it is."""
        choices = [(self.true_filter, true_class), (self.predicted_filter, predicted_class)]
        if show is not None:
            choices.append((self.show_filter, show))
        for combo, value in choices:
            combo.blockSignals(True)
            combo.setCurrentIndex(combo.findData(value))
            combo.blockSignals(False)
        self._on_filter_changed()

    def set_zoom(self, zoom: int) -> None:
        self.zoom_slider.setValue(ZOOMS.index(zoom))

    def set_zoom_if_valid(self, zoom: int) -> None:
        """A remembered zoom: one that is not in ZOOMS (a hand-edited settings file) is ignored."""
        if zoom in ZOOMS:
            self.set_zoom(zoom)

    def show_all(self) -> None:
        """No filter at all: every image of the split."""
        self.tag_filter.blockSignals(True)
        self.tag_filter.setCurrentIndex(0)
        self.tag_filter.blockSignals(False)
        self.show_pair(None, None)

    def set_tag(self, tag: str | None) -> bool:
        """Show only the images with `tag` (None: any); False for a tag no image has."""
        row = self.tag_filter.findData(tag)
        if row < 0:
            return False
        self.tag_filter.setCurrentIndex(row)
        return True

    def step_zoom(self, steps: int) -> None:
        self.zoom_slider.setValue(self.zoom_slider.value() + steps)

    # --- following the widgets and the model ---------------------------------------------------
    @Slot()
    def _on_filter_changed(self) -> None:
        self.view_model.set_filter(
            self.show_filter.currentData(),
            self.true_filter.currentData(),
            self.predicted_filter.currentData(),
            self.tag_filter.currentData(),
        )
        self.choice_changed.emit()

    @Slot()
    def _on_sort_changed(self) -> None:
        self.view_model.set_sort(self.sort_choice.currentData())
        self.choice_changed.emit()

    @Slot(int)
    def _on_zoom_changed(self, value: int) -> None:
        self.zoom_label.setText(f"×{ZOOMS[value]}")
        self.zoom_changed.emit(ZOOMS[value])

    @Slot()
    def update_counts(self) -> None:
        tiles = self.view_model.sourceModel()
        if not tiles.rowCount():
            return
        counts = self.view_model.counts()
        for i, (key, text) in enumerate(SHOW_CHOICES):
            count = "no report" if key == "issues" and tiles.review is None else f"{counts['show'][key]:,}"
            self.show_filter.setItemText(i, f"{text} ({count})")
        for combo, key in ((self.true_filter, "true"), (self.predicted_filter, "predicted")):
            for k, name in enumerate(tiles.class_names):
                combo.setItemText(k + 1, f"{k} {name} ({counts[key][k]:,})")
        self._show_tags(counts["tags"])
        self.shown_label.set_texts(
            f"Showing {counts['shown']:,} of {counts['total']:,} images", f"{counts['shown']:,} of {counts['total']:,}"
        )

    def _show_tags(self, counts: dict[str, int]) -> None:
        """One choice per tag in use (and the chosen one, even if no image has it any more)."""
        chosen = self.view_model.tag
        tags = sorted(set(counts) | ({chosen} if chosen else set()))
        combo = self.tag_filter
        if [combo.itemData(i) for i in range(1, combo.count())] != tags:
            combo.blockSignals(True)
            while combo.count() > 1:
                combo.removeItem(1)
            for tag in tags:
                combo.addItem(tag, tag)
            combo.setCurrentIndex(max(combo.findData(chosen), 0))
            combo.blockSignals(False)
        combo.setItemText(0, f"any ({sum(counts.values()):,} tags)" if counts else "any (no tags yet: T tags)")
        for i, tag in enumerate(tags, start=1):
            combo.setItemText(i, f"{tag} ({counts.get(tag, 0):,})")
