"""What the labeler remembers between launches, in QSettings: the window's geometry and dock
layout, zoom, tile indexes on or off, filter, sort, the current image of each split, and the
folder each file dialog last used.

A window built without a QSettings object remembers nothing, so tests and embedders never
touch the user's settings; `fashion-labeler` passes `user_settings()`.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings

ORGANIZATION = "fashion-mnist"
APPLICATION = "fashion-labeler"


def user_settings() -> QSettings:
    """The user's settings file (an INI file, so `QSettings.setPath(IniFormat, UserScope, dir)` can move it)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def read_int(settings: QSettings | None, key: str, default: int | None = None) -> int | None:
    """An integer setting; `default` when absent or not a number (a hand-edited file)."""
    if settings is None:
        return default
    value = settings.value(key)
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def read_text(settings: QSettings | None, key: str, default: str | None = None) -> str | None:
    if settings is None:
        return default
    value = settings.value(key)
    return str(value) if value not in (None, "") else default


def save_window(settings: QSettings | None, window) -> None:
    """Write the window's layout and view; called when it closes."""
    if settings is None:
        return
    bar = window.filter_bar
    settings.setValue("window/geometry", window.saveGeometry())
    settings.setValue("window/state", window.saveState())
    settings.setValue("view/zoom", window.grid.delegate.zoom)
    settings.setValue("view/show", bar.show_filter.currentData())
    settings.setValue("view/sort", bar.sort_choice.currentData())
    settings.setValue("view/tile_indexes", int(window.grid.delegate.show_index))
    for split, row in window.current_by_split.items():
        settings.setValue(f"current/{split}", row)
    settings.sync()


def restore_window(settings: QSettings | None, window) -> bool:
    """Read back what `save_window` wrote; what is absent or unusable stays at its default.
    True if it gave the window its remembered geometry (False: a first launch, size it)."""
    if settings is None:
        return False
    geometry, state = settings.value("window/geometry"), settings.value("window/state")
    restored = geometry is not None and window.restoreGeometry(geometry)
    if state is not None:
        window.restoreState(state)
    bar = window.filter_bar
    zoom = read_int(settings, "view/zoom")
    if zoom is not None:
        bar.set_zoom_if_valid(zoom)
    for combo, key in ((bar.show_filter, "view/show"), (bar.sort_choice, "view/sort")):
        row = combo.findData(read_text(settings, key))
        if row >= 0:
            combo.setCurrentIndex(row)
    window.set_tile_indexes_shown(bool(read_int(settings, "view/tile_indexes", 1)))
    for split in ("test", "train"):
        row = read_int(settings, f"current/{split}")
        if row is not None:
            window.current_by_split[split] = row
    return restored


def last_folder(settings: QSettings | None, dialog: str) -> str:
    """The folder the `dialog` file dialog last used ("" the first time: the working folder)."""
    return read_text(settings, f"dialogs/{dialog}", "") or ""


def remember_folder(settings: QSettings | None, dialog: str, folder: str) -> None:
    if settings is not None:
        settings.setValue(f"dialogs/{dialog}", folder)
