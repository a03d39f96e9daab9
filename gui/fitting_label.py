"""A status-bar label that shows the longest of its texts that fits its width: the whole sentence
where there is room, shorter words where there is less. The longest text is always its tooltip,
so nothing is lost, and no text is ever cut off mid-word ("against corrected la…")."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QLabel, QSizePolicy


class FittingLabel(QLabel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.texts: list[str] = []  # longest first; rich text allowed
        self._widths: list[int] = []
        self._measured: dict[tuple[str, str], int] = {}
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    def set_texts(self, *texts: str, tooltip: str | None = None) -> None:
        """Texts from the fullest to the shortest; `tooltip` (default: the fullest) says it all."""
        self.texts = [t for t in texts if t] or [""]
        font = self.font().key()  # once: building the key per text cost more than the cache saved
        self._widths = [self.text_width(t, font) for t in self.texts]
        self.setToolTip(tooltip if tooltip is not None else self.texts[0])
        self.updateGeometry()
        self._fit()

    def full_text(self) -> str:
        return self.texts[0] if self.texts else ""

    def text_width(self, text: str, font_key: str | None = None) -> int:
        """The width `text` takes in this label's font (rich text laid out as QLabel does).
        Remembered per text: laying out a QTextDocument is ~0.5 ms, and every verdict re-sets the texts."""
        key = (text, font_key or self.font().key())
        if key not in self._measured:
            if len(self._measured) > 256:
                self._measured.clear()
            self._measured[key] = self._measure(text)
        return self._measured[key]

    def _measure(self, text: str) -> int:
        doc = QTextDocument()
        doc.setDefaultFont(self.font())
        doc.setDocumentMargin(0)
        doc.setHtml(text)
        return int(doc.idealWidth()) + 2 * self.margin() + 4

    def fits(self) -> bool:
        """Whether the text shown is whole at the label's width."""
        return not self.texts or self.text_width(self.text()) <= self.width()

    def _fit(self) -> None:
        if not self.texts:
            return
        chosen = next((t for t, w in zip(self.texts, self._widths, strict=False) if w <= self.width()), self.texts[-1])
        if chosen != self.text():
            self.setText(chosen)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def sizeHint(self) -> QSize:
        return QSize(self._widths[0] if self._widths else 0, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        return QSize(self._widths[-1] if self._widths else 0, super().minimumSizeHint().height())
