"""A contact sheet of the top flagged training images of a label-issue ranking, for a person to judge.

Each tile is one training image enlarged (nearest neighbour, so no pixel is invented) and
captioned with its rank, its index in the IDX file, its given label and the suggested label.
The ranking comes from a label_issues-train CSV (train-and-export --cross-val, or
benchmarks/label_issues.py --write-csv), or is computed here for --auditor NAME on the clean
training labels (a full K-fold cross-validation).

    python benchmarks/contact_sheet.py models/fashion_mnist/label_issues-train.csv [--top 40] [--out top40.png]
    python benchmarks/contact_sheet.py --auditor cnn [--folds 5] [--out docs/screenshots/top40-cnn.png]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from inference.core.classes import CLASS_NAMES
from inference.core.fashion_mnist import load_split

CAPTION = 34  # px under each tile: two lines of a 12 px font
GAP = 12  # px between tiles: "Sneaker > Ankle boot" is ~120 px wide at 12 px


def ranking_from_csv(path: Path, top: int) -> list[tuple[int, int, int]]:
    """(index, given, suggested) of the first `top` flagged rows; the file lists the most suspect first."""
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["is_issue"] == "true":
                rows.append((int(row["index"]), int(row["given_label"]), int(row["suggested_label"])))
            if len(rows) == top:
                break
    return rows


def ranking_from_auditor(auditor: str, folds: int, top: int) -> list[tuple[int, int, int]]:
    """The auditor's out-of-fold ranking of the clean training labels, computed now."""
    import torch

    from training.config import TrainConfig
    from training.cross_val import audit_out_of_fold
    from training.label_report import find_issues

    split = load_split("train")
    labels = split.labels.astype(np.int64)
    oof = audit_out_of_fold(auditor, TrainConfig(), torch.from_numpy(split.images), torch.from_numpy(labels), folds)
    issues = find_issues("train", labels, oof.probabilities)
    keep = np.flatnonzero(issues.is_issue)[:top]
    return list(
        zip(
            issues.index[keep].tolist(),
            issues.given_label[keep].tolist(),
            issues.suggested_label[keep].tolist(),
            strict=False,
        )
    )


def contact_sheet(
    images: np.ndarray, rows: list[tuple[int, int, int]], tile: int = 112, columns: int = 8
) -> Image.Image:
    """One PNG-ready image: a grid of (N, 28, 28) `images[index]` tiles, each with its caption."""
    font = ImageFont.load_default(size=12)
    n_rows = max(1, -(-len(rows) // columns))
    sheet = Image.new("L", (columns * (tile + GAP) + GAP, n_rows * (tile + CAPTION + GAP) + GAP), color=255)
    draw = ImageDraw.Draw(sheet)
    for rank, (index, given, suggested) in enumerate(rows):
        x, y = GAP + (rank % columns) * (tile + GAP), GAP + (rank // columns) * (tile + CAPTION + GAP)
        sheet.paste(Image.fromarray(images[index]).resize((tile, tile), Image.Resampling.NEAREST), (x, y))
        draw.text((x, y + tile + 2), f"#{rank + 1}  idx {index}", fill=0, font=font)
        draw.text((x, y + tile + 17), f"{CLASS_NAMES[given]} > {CLASS_NAMES[suggested]}", fill=0, font=font)
    return sheet


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("csv", nargs="?", type=Path, help="a label_issues-train CSV")
    source.add_argument("--auditor", help="compute the ranking with this auditor (training/auditors/)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--tile", type=int, default=112, help="tile size in px (28 px images: 112 is 4x)")
    p.add_argument("--columns", type=int, default=8)
    p.add_argument("--out", type=Path, help="PNG to write; default top<N>-<auditor or csv name>.png here")
    args = p.parse_args()

    rows = (
        ranking_from_csv(args.csv, args.top) if args.csv else ranking_from_auditor(args.auditor, args.folds, args.top)
    )
    out = args.out or Path(f"top{args.top}-{args.auditor or args.csv.stem}.png")
    contact_sheet(load_split("train").images, rows, args.tile, args.columns).save(out)
    print(f"{len(rows)} flagged images (caption: rank, index, given > suggested) -> {out}")


if __name__ == "__main__":
    main()
