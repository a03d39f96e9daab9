"""The window's size at a first launch (nothing remembered yet): 1280 x 800 where the screen has
room, else 90 % of the screen's available area (the desktop less its panels), centred in it.

A 1280 x 800 window on a 1280 x 800 screen is taller than the screen once the window manager
adds its title bar, which put the status line below the screen's edge until maximized.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize

START_SIZE = QSize(1280, 800)  # what the panes were laid out for
SCREEN_SHARE = 0.9  # leaves room for a title bar and frame on any window manager


def first_geometry(available: QRect) -> QRect:
    """The window's frame-less geometry for a first launch on a screen whose free area is `available`."""
    width = min(START_SIZE.width(), int(available.width() * SCREEN_SHARE))
    height = min(START_SIZE.height(), int(available.height() * SCREEN_SHARE))
    rect = QRect(0, 0, width, height)
    rect.moveCenter(available.center())
    return rect
