"""Redraw time of the labeler's "why" view, and the pictures of the explanation views in docs/.

    python benchmarks/explain_views.py [--model models/] [--data-dir DIR] [--calls 200] [--screenshots docs/]

Times `WhyView.show_image` plus the posted events and a synchronous repaint, and plus a `grab()` (a full render into
a pixmap), over consecutive test images, as when the selection moves through the grid; prints
the median and the 95th percentile. Target: ≤ 16 ms, one frame at 60 Hz.
With --screenshots DIR it writes DIR/templates.png (the model's ten class templates) and
DIR/why.png (the most confident shirt the model calls a T-shirt/top), offscreen.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6.QtWidgets import QApplication

from gui.templates_view import TemplatesView
from gui.why_view import WhyView, runner_up
from inference.core.attributions import linear_weights
from inference.core.fashion_mnist import load_split
from inference.core.predictor import Predictor

SHIRT, T_SHIRT = 6, 0


def milliseconds(samples: list[float]) -> str:
    ordered = sorted(samples)
    return f"median {1000 * statistics.median(ordered):.2f} ms, p95 {1000 * ordered[int(0.95 * len(ordered))]:.2f} ms"


def time_redraws(view: WhyView, images, probabilities, labels, names, calls: int, finish) -> list[float]:
    times = []
    for i in range(calls):
        predicted = int(probabilities[i].argmax())
        start = time.perf_counter()
        view.show_image(images[i], predicted, int(labels[i]), runner_up(probabilities[i]), names)
        finish()
        times.append(time.perf_counter() - start)
    return times


def screenshots(out: Path, weights, predictor, split, probabilities) -> None:
    out.mkdir(parents=True, exist_ok=True)
    templates = TemplatesView()
    templates.set_weights(weights, predictor.class_names)
    templates.grab().save(str(out / "templates.png"))
    predicted = probabilities.argmax(axis=1)
    candidates = np.flatnonzero((split.labels == SHIRT) & (predicted == T_SHIRT))
    i = int(candidates[np.argmax(probabilities[candidates, T_SHIRT])])
    why = WhyView()
    why.set_weights(weights)
    why.show_image(split.images[i], T_SHIRT, SHIRT, runner_up(probabilities[i]), predictor.class_names)
    why.resize(330, why.heightForWidth(330))  # after the text is in: the wrapped lines set the height
    why.grab().save(str(out / "why.png"))
    print(
        f"wrote {out / 'templates.png'} and {out / 'why.png'} (test image #{i}, "
        f"p(T-shirt/top) = {probabilities[i, T_SHIRT]:.1%})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models")
    parser.add_argument("--data-dir")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--screenshots", type=Path)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    predictor = Predictor(args.model, device="cpu")
    weights = linear_weights(predictor.logits, str(predictor.path))
    split = load_split("test", args.data_dir)
    probabilities = predictor.predict_proba(split.images)
    if args.screenshots:
        screenshots(args.screenshots, weights, predictor, split, probabilities)
    view = WhyView()
    view.set_weights(weights)
    view.show()
    app.processEvents()
    names = predictor.class_names
    calls = min(args.calls, len(split.images))

    def relayout_and_repaint() -> None:
        app.processEvents()  # the posted relayout a changed caption asks for, then the paint itself
        view.repaint()

    finishes = (("show_image + events + repaint()", relayout_and_repaint), ("show_image + grab()", view.grab))
    for label, finish in finishes:
        time_redraws(view, split.images, probabilities, split.labels, names, 20, finish)  # warm-up
        times = time_redraws(view, split.images, probabilities, split.labels, names, calls, finish)
        print(f"why view, {label}, {calls} consecutive test images: {milliseconds(times)} (target ≤ 16 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
