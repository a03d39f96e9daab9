"""The desktop labeler (PySide6) on top of `inference/`; never imports torch."""
