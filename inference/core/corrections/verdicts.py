"""The three verdicts a person gives a label, their codes in the labeler's arrays, and the one
rule that turns a relabel to the label an image already has into a confirmation.

Every way a verdict comes in (the labeler's tiles, the store's set_verdict, a JSON or CSV import)
passes through `effective_verdict`, so "relabel 3 to 3" means the same everywhere: the given
label is right. The schema's CHECK (new_label <> given_label) stays as the last guard, for rows
that reach the file some other way.
"""

from __future__ import annotations

VERDICTS = ("relabel", "confirmed", "exclude")

# Codes in the (N,) int8 arrays the labeler's models hold: 0 is "no verdict", then VERDICTS in order.
NO_VERDICT = 0
CODES = {verdict: code for code, verdict in enumerate(VERDICTS, start=1)}
RELABEL, CONFIRMED, EXCLUDE = CODES["relabel"], CODES["confirmed"], CODES["exclude"]


def effective_verdict(given_label: int, verdict: str, new_label: int | None) -> tuple[str, int | None]:
    """(verdict, new_label) as stored: a relabel to `given_label` is ("confirmed", None); any other
    pair is returned as it came (its values are checked elsewhere, by values.py)."""
    if verdict == "relabel" and new_label == given_label:
        return "confirmed", None
    return verdict, new_label
