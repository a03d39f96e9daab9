"""The window's panes: the grid in the middle (under the filter bar, the read-only banner and the
banner that says how to make a missing label-issue report),
the confusion matrix, the legend and the selected image in dock widgets a person can move,
hide (View menu) and bring back; their sizes and places are saved with the window's state.

Every pane can shrink: the detail panel and the legend scroll, the confusion matrix's cells
scale, so the window fits a 1024 x 700 screen without one widget painting over another.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QDockWidget, QFrame, QLabel, QMainWindow, QScrollArea, QVBoxLayout, QWidget

from gui.palette import CONFIRMED, CORRECTED, EXCLUDED, FLAGGED, MISTAKE, coloured
from gui.report_banner import ReportBanner

LEGEND = (
    f"Each tile: true label above predicted label, its dataset index in the corner. "
    f"{coloured('Red', MISTAKE)}: mistake. "
    f"Top-right corner: {coloured('purple', CORRECTED)} relabelled (and a purple frame), "
    f"{coloured('teal', CONFIRMED)} label confirmed, {coloured('grey', EXCLUDED)} excluded (crossed out). "
    f"{coloured('Orange', FLAGGED)} top-left corner: the label-issue report suspects the label.<br>"
    "Keys: Help ▸ Keyboard shortcuts (? or F1). Right-click a tile for its verdicts."
)
BANNER_STYLE = "background: #fff3e0; color: #bf360c; padding: 4px; border: 1px solid #ef6c00"
START_WIDTHS = {"confusion": 400, "detail": 270}  # what a 1280-wide window gives the side panes


class KeysStayHere(QObject):
    """On the widget it filters, plain keys (digits, letters, Enter, Backspace) go to that widget
    instead of triggering the window's verdict shortcuts: a digit typed in the confusion matrix
    must not relabel the grid's selection."""

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride:
            plain = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier == Qt.KeyboardModifier.NoModifier
            if plain and event.text():
                event.accept()  # an accepted override: Qt delivers the key to the widget, not to a shortcut
                return True
        return False


class WholeWidthScrollArea(QScrollArea):
    """Scrolls up and down only, and is never narrower than its widget can be: the detail panel
    at 1024 x 700 had a horizontal scroll bar, and the numbers beside its bars cut off. Asked
    each layout, so it follows the fonts the platform's style really uses."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def minimumSizeHint(self):
        hint = super().minimumSizeHint()
        if self.widget() is not None:
            hint.setWidth(
                self.widget().minimumSizeHint().width()
                + self.verticalScrollBar().sizeHint().width()
                + 2 * self.frameWidth()
            )
        return hint


def scrolled(widget: QWidget, whole_width: bool = False) -> QScrollArea:
    """`widget` in a scroll area (`whole_width`: one that scrolls up and down only)."""
    area = WholeWidthScrollArea() if whole_width else QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    return area


def dock(window: QMainWindow, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
    """A dock with an object name, which saveState/restoreState need to find it again."""
    pane = QDockWidget(title, window)
    pane.setObjectName(name)
    pane.setWidget(widget)
    pane.setFeatures(
        QDockWidget.DockWidgetFeature.DockWidgetMovable
        | QDockWidget.DockWidgetFeature.DockWidgetClosable
        | QDockWidget.DockWidgetFeature.DockWidgetFloatable
    )
    window.addDockWidget(area, pane)
    return pane


def read_only_banner() -> QLabel:
    banner = QLabel()
    banner.setWordWrap(True)
    banner.setStyleSheet(BANNER_STYLE)
    banner.setTextFormat(Qt.TextFormat.PlainText)
    banner.hide()
    return banner


def build_panes(window) -> None:
    """Lay out `window`'s widgets; sets window.banner, window.report_banner and window.docks
    (name -> QDockWidget)."""
    centre = QWidget()
    layout = QVBoxLayout(centre)
    layout.setContentsMargins(4, 0, 4, 0)
    window.banner = read_only_banner()
    layout.addWidget(window.banner)
    window.report_banner = ReportBanner(window.view_model)
    layout.addWidget(window.report_banner)
    layout.addWidget(window.filter_bar)
    layout.addWidget(window.grid, 1)
    window.setCentralWidget(centre)

    legend = QLabel(LEGEND)
    legend.setWordWrap(True)
    legend.setAlignment(Qt.AlignmentFlag.AlignTop)
    left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
    window.docks = {
        "confusion": dock(
            window,
            "Confusion matrix — rows: true, columns: predicted; click a cell",
            "confusion",
            window.confusion_view,
            left,
        ),
        "legend": dock(window, "Legend", "legend", scrolled(legend), left),
        "detail": dock(window, "Selected image", "detail", scrolled(window.detail, whole_width=True), right),
    }
    window.resizeDocks(
        [window.docks["confusion"], window.docks["detail"]],
        [START_WIDTHS["confusion"], START_WIDTHS["detail"]],
        Qt.Orientation.Horizontal,
    )
    window.resizeDocks([window.docks["confusion"], window.docks["legend"]], [400, 140], Qt.Orientation.Vertical)
