"""A corrections store for the screenshots: tags a reviewer would give to flagged training images
(28 "camisole", 12 "bag with strap"), and three confirmed labels.

    python docs/screenshots/tag_store.py MODEL_REPOSITORY STORE.sqlite
"""

import csv
import sys
from pathlib import Path

from inference.core.corrections import CorrectionsStore
from inference.core.fashion_mnist import load_split
from inference.core.label_issues import csv_name
from inference.core.model_repository import report_folders, resolve_model_path

model, path = Path(sys.argv[1]), Path(sys.argv[2])
split = load_split("train")
report = next(
    f / csv_name("train") for f in report_folders(resolve_model_path(model)) if (f / csv_name("train")).is_file()
)
with open(report, encoding="utf-8") as f:
    flagged = [r for r in csv.DictReader(f) if r["is_issue"] == "true"]
camisole = [
    int(r["index"]) for r in flagged if r["given_label"] in ("0", "6") and r["suggested_label"] in ("0", "3", "6")
][:28]
bags = [int(r["index"]) for r in flagged if "8" in (r["given_label"], r["suggested_label"])][:12]
path.unlink(missing_ok=True)
with CorrectionsStore.open(path, session="screenshots") as store:
    store.set_tags(split.digest, "train", {i: ["camisole"] for i in camisole})
    store.set_tags(split.digest, "train", {i: ["bag with strap"] for i in bags})
    store.set_verdict(split.digest, "train", camisole[:3], "confirmed", given_labels=split.labels)
