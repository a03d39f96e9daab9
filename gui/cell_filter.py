"""A click on a confusion-matrix cell: the view narrows to that cell under the Show filter the
person has (Label issues stay label issues). A reviewer found the click silently reset Show to
All; now it keeps it, and where the Show filter keeps none of the cell's images (Mistakes only
on a diagonal cell) it shows the whole cell and the status line says that Show changed."""

from __future__ import annotations

MESSAGE_MS = 8000


def narrow_to_cell(window, true_class: int | None, predicted_class: int | None) -> None:
    bar, view = window.filter_bar, window.view_model
    show = bar.show_filter.currentText().split(" (")[0]  # the choice's words, without its count
    bar.show_pair(true_class, predicted_class, show=None)
    if view.show_mode == "all":
        return
    cell = view.rowCount()
    if cell:
        window.status_line.showMessage(
            f"{cell:,} images of this cell under Show: {show} (choose Show: All for every image of the cell)",
            MESSAGE_MS,
        )
        return
    bar.show_pair(true_class, predicted_class)
    window.status_line.showMessage(
        f"Show changed from {show} to All: {show} has none of this cell's {view.rowCount():,} images", MESSAGE_MS
    )
