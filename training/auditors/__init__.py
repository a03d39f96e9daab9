"""Auditors: the models that give out-of-fold probabilities for the label-issue ranking.

The auditor is not the deployed model: the softmax regression is what ships, an auditor exists
only to score each training image from a model that never saw its label. See docs/auditors.md.

    AUDITORS: name -> Auditor (.name, .recipe, .build(device), .train(...), .recipe_for(cfg))
    DEFAULT_AUDITOR: the one train-and-export --cross-val uses unless told otherwise
"""

from __future__ import annotations

from training.auditors import cnn, linear
from training.auditors.auditor import Auditor

AUDITORS: dict[str, Auditor] = {a.name: a for a in (linear.AUDITOR, cnn.AUDITOR)}

# On 5 % planted noise the CNN ranks the flips with AUROC and precision@K the linear model does
# not reach, and its top 40 on the clean labels are images a person agrees are wrong or
# ambiguous (figures: docs/auditors.md, benchmarks/label_issues.py).
DEFAULT_AUDITOR: str = "cnn"

__all__ = ["AUDITORS", "DEFAULT_AUDITOR"]
