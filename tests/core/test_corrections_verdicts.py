"""The verdicts, their codes, and the one rule: a relabel to the given label is a confirmation.
That every caller goes through the rule is tested where each caller is: the store and the JSON
import in test_corrections_store.py, the CSV in test_corrections_tags.py, the labeler's tiles in
tests/gui/test_tile_model_verdicts.py."""

from __future__ import annotations

import numpy as np
import pytest

from inference.core.corrections import CODES, CONFIRMED, EXCLUDE, NO_VERDICT, RELABEL, VERDICTS, effective_verdict


@pytest.mark.parametrize("given", range(10))
def test_a_relabel_to_the_given_label_becomes_a_confirmation(given):
    assert effective_verdict(given, "relabel", given) == ("confirmed", None)


def test_the_rule_holds_for_numpy_labels_too():
    """The tiles and the store pass labels read from numpy arrays."""
    assert effective_verdict(np.int64(3), "relabel", np.int64(3)) == ("confirmed", None)


@pytest.mark.parametrize(
    "given, verdict, new_label",
    [(3, "relabel", 4), (0, "relabel", 9), (3, "confirmed", None), (3, "exclude", None)],
)
def test_every_other_verdict_is_left_as_it_came(given, verdict, new_label):
    assert effective_verdict(given, verdict, new_label) == (verdict, new_label)


def test_codes_follow_the_verdicts_in_order_after_no_verdict():
    assert NO_VERDICT == 0 and [CODES[v] for v in VERDICTS] == [RELABEL, CONFIRMED, EXCLUDE] == [1, 2, 3]
