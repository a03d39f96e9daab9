"""The selected image up close: enlarged under its why heat map, its labels and verdict, tags,
confidence, loss, what the label-issue report suggests (and whose probability that is: the
auditor's, out-of-fold, on the training split), its place in the report ("#12 of 3,528 flagged"),
and the deployed model's ten probabilities.

The why view comes first, right under the title: its canvas is the enlarged image (its checkbox
takes the map off), so at 1280 x 800 the map is in sight without scrolling."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QPixmap
from PySide6.QtWidgets import QFormLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from gui.palette import CONFIRMED, CORRECT_BAR, CORRECTED, EXCLUDED, FLAGGED, MISTAKE, OTHER_BAR, TRACK, coloured
from gui.review import Review
from gui.tile_roles import (
    CLASS_NAMES_ROLE,
    CONFIDENCE_ROLE,
    DATASET_INDEX_ROLE,
    IS_CORRECTED_ROLE,
    IS_FLAGGED_ROLE,
    LOSS_ROLE,
    ORIGINAL_LABEL_ROLE,
    PIXELS_ROLE,
    PREDICTED_LABEL_ROLE,
    PROBABILITIES_ROLE,
    REPORT_RANK_ROLE,
    SUGGESTED_LABEL_ROLE,
    SUGGESTED_PROBABILITY_ROLE,
    TAGS_ROLE,
    TRUE_LABEL_ROLE,
    VERDICT_ROLE,
)
from gui.why_view import WhyView, runner_up

ENLARGE = 7  # 28 px -> 196 px: the panel still fits beside the grid in a 1024-wide window
MIN_BAR = 16  # px: the narrowest bar still reads as a length
VERDICT_TEXT = {
    None: ("none yet", ""),
    "relabel": ("relabelled", CORRECTED.name()),
    "confirmed": ("label confirmed", CONFIRMED.name()),
    "exclude": ("excluded", EXCLUDED.name()),
}


class ProbabilityBars(QWidget):
    """Ten horizontal bars, each named with the digit key that relabels to it; the predicted class
    green (red if wrong), the true class's name bold."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.class_names: list[str] = []
        self.probabilities: list[float] = []
        self.true_label: int | None = None
        self.predicted: int | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(self.sizeHint().height())

    def sizeHint(self) -> QSize:
        return QSize(260, 10 * (self.fontMetrics().height() + 4) + 4)

    def minimumSizeHint(self) -> QSize:
        """Room for the numbers, a short bar and the digit keys: narrower panes elide the class names."""
        width = (
            self.fontMetrics().horizontalAdvance("100.0%") + 6 + MIN_BAR + self.fontMetrics().horizontalAdvance("0  T…")
        )
        return QSize(width, self.sizeHint().height())

    def numbers_fit(self) -> bool:
        """Whether every percentage is drawn whole at the bars' width (what a narrow pane must keep)."""
        return self.width() >= self.fontMetrics().horizontalAdvance("100.0%") + 6 + MIN_BAR

    def set_values(self, class_names, probabilities, true_label, predicted) -> None:
        self.class_names, self.probabilities = list(class_names), list(probabilities)
        self.true_label, self.predicted = true_label, predicted
        self.update()

    def paintEvent(self, event) -> None:
        if not self.probabilities:
            return
        p = QPainter(self)
        row = self.fontMetrics().height() + 4
        names = [f"{k}  {name}" for k, name in enumerate(self.class_names)]
        bold = QFont(self.font())
        bold.setBold(True)
        value_w = self.fontMetrics().horizontalAdvance("100.0%") + 6
        # A narrow pane takes width from the bars first, then from the names (elided), never from
        # the numbers: "99.9'" cut at 1024 x 700 was what a reviewer could not read.
        name_w = max(QFontMetrics(bold).horizontalAdvance(n) for n in names) + 8  # bold: the true class
        name_w = max(min(name_w, self.width() - value_w - MIN_BAR), 0)
        bar_w = max(self.width() - name_w - value_w, 1)
        for k, (name, prob) in enumerate(zip(names, self.probabilities, strict=False)):
            y = 2 + k * row
            font = bold if k == self.true_label else self.font()
            p.setFont(font)
            p.setPen(self.palette().text().color())
            p.drawText(
                QRect(0, y, name_w, row),
                Qt.AlignmentFlag.AlignVCenter,
                QFontMetrics(font).elidedText(name, Qt.TextElideMode.ElideRight, name_w - 4),
            )
            colour = OTHER_BAR
            if k == self.predicted:
                colour = CORRECT_BAR if k == self.true_label else MISTAKE
            p.fillRect(QRect(name_w, y + 2, bar_w, row - 4), TRACK)
            p.fillRect(QRect(name_w, y + 2, max(int(bar_w * prob), 1), row - 4), colour)
            p.drawText(
                QRect(name_w + bar_w, y, value_w, row),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                f"{prob:.1%}",
            )
        p.end()


class DetailPanel(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = QLabel("no image selected")
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.title.setFont(font)
        self.image = QLabel()
        self.image.setFixedSize(28 * ENLARGE, 28 * ENLARGE)
        self.image.setStyleSheet(f"background: {TRACK.name()}")
        self.true_label = QLabel()
        self.predicted = QLabel()
        self.confidence = QLabel()
        self.loss = QLabel()
        self.verdict = QLabel()
        self.suggestion = QLabel()
        self.suggestion.setToolTip(
            "the label-issue report's most probable class and its probability "
            "(out-of-fold on the train split, the final model's on the test split)"
        )
        self.source = QLabel()  # its own row: beside the suggestion it wrapped to 3 lines and overlapped the next rows
        self.source.setToolTip(
            "whose probabilities the report's suggestion is: on the train split an auditor's, "
            "out-of-fold (a model that never trained on the image); on the test split the exported model's"
        )
        self.quality = QLabel()
        self.quality.setToolTip(
            "the image's place in the label-issue report, most suspect first "
            "(cleanlab's label quality, lower: more likely wrong)"
        )
        self.bars_title = QLabel("Class probabilities (key, class):")
        self.bars_title.setWordWrap(True)  # "Deployed model's probabilities (version 12; ...)" in a narrow pane
        self.review: Review | None = None
        self.tags = QLabel()
        self.tags.setToolTip("T adds tags to the selected images; right-click a tile to remove one")
        self.bars = ProbabilityBars()
        for label in self._fields:  # "Shirt (6), was T-shirt/top (0)" wraps in a narrow pane instead of clipping
            label.setWordWrap(True)

        form = QFormLayout()
        form.addRow("True label:", self.true_label)
        form.addRow("Predicted:", self.predicted)
        form.addRow("Confidence:", self.confidence)
        form.addRow("Loss −log p(true):", self.loss)
        form.addRow("Verdict:", self.verdict)
        form.addRow("Report suggests:", self.suggestion)
        form.addRow("Suggested by:", self.source)
        form.addRow("Report rank:", self.quality)
        form.addRow("Tags:", self.tags)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        self.why = WhyView()  # exactly why this class and not the true (or runner-up) one
        layout.addWidget(self.why)
        self.image.hide()  # the why view's canvas shows the image (its checkbox takes the map off)
        layout.addLayout(form)
        layout.addWidget(self.bars_title)
        layout.addWidget(self.bars)
        layout.addStretch(1)

    def set_sources(self, model_name: str, review: Review | None) -> None:
        """Name whose probabilities are shown: the deployed model's bars (`model_name`, e.g.
        "version 2") and the report's suggestion (the auditor's, out-of-fold, on the train split)."""
        self.review = review
        self.bars_title.setText(f"Deployed model's probabilities ({model_name}; key, class):")
        source = (review.source or "unknown") if review is not None else ""
        self.suggestion.setToolTip(
            "no label-issue report for this model"
            if review is None
            else f"the report's most probable class and its probability: {source}"
        )

    def show_index(self, index) -> None:
        """Fill the panel from a model index of the grid (invalid: clear it)."""
        if not index.isValid() or index.data(TRUE_LABEL_ROLE) is None:
            self.title.setText("no image selected")
            self.image.clear()
            for label in self._fields:
                label.clear()
            self.bars.set_values([], [], None, None)
            self.why.clear()
            return
        names = index.data(CLASS_NAMES_ROLE)
        true, predicted = index.data(TRUE_LABEL_ROLE), index.data(PREDICTED_LABEL_ROLE)
        self.title.setText(f"Image #{index.data(DATASET_INDEX_ROLE)}")
        if self.image.isVisibleTo(self):  # hidden: the why view's canvas shows the image
            image = index.data(Qt.ItemDataRole.DecorationRole)
            self.image.setPixmap(
                QPixmap.fromImage(image).scaled(
                    28 * ENLARGE,
                    28 * ENLARGE,
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.FastTransformation,
                )
            )
        text = f"{names[true]} ({true})"
        if index.data(IS_CORRECTED_ROLE):
            original = index.data(ORIGINAL_LABEL_ROLE)
            text += f", was {names[original]} ({original})"
            self.true_label.setStyleSheet(f"color: {CORRECTED.name()}; font-weight: bold")
        else:
            self.true_label.setStyleSheet("")
        self.true_label.setText(text)
        self.predicted.setText(f"{names[predicted]} ({predicted})" + ("" if predicted == true else " ✗"))
        self.predicted.setStyleSheet("" if predicted == true else f"color: {MISTAKE.name()}; font-weight: bold")
        self.confidence.setText(f"{index.data(CONFIDENCE_ROLE):.1%}")
        self.loss.setText(f"{index.data(LOSS_ROLE):.3f}")
        probabilities = index.data(PROBABILITIES_ROLE)
        self.bars.set_values(names, probabilities, true, predicted)
        # Against the label in force: a relabel re-explains the image against its new label.
        self.why.show_image(index.data(PIXELS_ROLE), predicted, true, runner_up(probabilities), names)
        self._show_review(index, names)

    @property
    def _fields(self) -> tuple[QLabel, ...]:
        return (
            self.true_label,
            self.predicted,
            self.confidence,
            self.loss,
            self.verdict,
            self.suggestion,
            self.source,
            self.quality,
            self.tags,
        )

    def _show_review(self, index, names) -> None:
        text, colour = VERDICT_TEXT[index.data(VERDICT_ROLE)]
        self.verdict.setText(text)
        self.verdict.setStyleSheet(f"color: {colour}; font-weight: bold" if colour else "")
        self.tags.setText(", ".join(index.data(TAGS_ROLE)) or "none (T adds one)")
        suggested = index.data(SUGGESTED_LABEL_ROLE)
        if suggested is None:
            self.suggestion.setText("no label-issue report")
            self.suggestion.setStyleSheet("")
            self.quality.clear()
            self.source.clear()
            return
        flagged = index.data(IS_FLAGGED_ROLE)
        self.suggestion.setText(f"{names[suggested]} ({suggested}), p {index.data(SUGGESTED_PROBABILITY_ROLE):.1%}")
        self.source.setText(self.review.source if self.review is not None and self.review.source else "the report")
        self.suggestion.setStyleSheet(f"color: {FLAGGED.name()}; font-weight: bold" if flagged else "")
        self.quality.setText(self._rank_text(index.data(DATASET_INDEX_ROLE), index.data(REPORT_RANK_ROLE)))
        if flagged:
            self.title.setText(f"{self.title.text()} · {coloured('flagged', FLAGGED)}")

    def _rank_text(self, row: int, rank: int) -> str:
        """ "#12 of 3,528 flagged", or "not flagged: #4,100 of 59,999 ranked": a place, not a score
        like 4.03e-09 that says nothing without the others."""
        review = self.review
        if review is None or review.flag_rank is None:
            return f"#{rank + 1:,}"
        if review.flag_rank[row] >= 0:
            return f"#{review.flag_rank[row] + 1:,} of {review.flagged_count:,} flagged"
        return f"not flagged: #{rank + 1:,} of {review.ranked:,} ranked"
