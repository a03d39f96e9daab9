"""The tile model's custom roles: what a view, the filter, the detail panel or a test asks the
model for, one named constant each (Qt.ItemDataRole.UserRole + n), and which of them a verdict
changes."""

from __future__ import annotations

from PySide6.QtCore import Qt

# Custom roles. Labels are ints 0..9; the image is the DecorationRole (a Grayscale8 QImage).
TRUE_LABEL_ROLE = Qt.ItemDataRole.UserRole + 1  # the label in force: the relabel if any, else the dataset's
ORIGINAL_LABEL_ROLE = Qt.ItemDataRole.UserRole + 2  # the dataset's label
PREDICTED_LABEL_ROLE = Qt.ItemDataRole.UserRole + 3
CONFIDENCE_ROLE = Qt.ItemDataRole.UserRole + 4  # probability of the predicted class
LOSS_ROLE = Qt.ItemDataRole.UserRole + 5  # -log p(true label)
PROBABILITIES_ROLE = Qt.ItemDataRole.UserRole + 6  # list of 10 floats
IS_MISTAKE_ROLE = Qt.ItemDataRole.UserRole + 7  # predicted != label in force
IS_CORRECTED_ROLE = Qt.ItemDataRole.UserRole + 8  # verdict "relabel"
DATASET_INDEX_ROLE = Qt.ItemDataRole.UserRole + 9
TRUE_NAME_ROLE = Qt.ItemDataRole.UserRole + 10  # class name of the label in force
PREDICTED_NAME_ROLE = Qt.ItemDataRole.UserRole + 11
CLASS_NAMES_ROLE = Qt.ItemDataRole.UserRole + 12  # the model's class names, by label (a tuple)
VERDICT_ROLE = Qt.ItemDataRole.UserRole + 13  # "relabel", "confirmed", "exclude", or None; settable
IS_FLAGGED_ROLE = Qt.ItemDataRole.UserRole + 14  # the label-issue report flags this label
SUGGESTED_LABEL_ROLE = Qt.ItemDataRole.UserRole + 15  # the report's suggestion, None without a report row
SUGGESTED_PROBABILITY_ROLE = Qt.ItemDataRole.UserRole + 16  # its probability (out-of-fold on train)
LABEL_QUALITY_ROLE = Qt.ItemDataRole.UserRole + 17  # the report's score, lower: more likely wrong
REPORT_RANK_ROLE = Qt.ItemDataRole.UserRole + 18  # 0 = the report's most suspect image
PIXELS_ROLE = Qt.ItemDataRole.UserRole + 19  # (28, 28) uint8: the raw image, for the why view
TAGS_ROLE = Qt.ItemDataRole.UserRole + 20  # the image's tags, a sorted tuple of str (empty: none)

# Roles whose value follows the verdict; dataChanged names them after a verdict changes.
VERDICT_DEPENDENT_ROLES = [
    TRUE_LABEL_ROLE,
    TRUE_NAME_ROLE,
    LOSS_ROLE,
    IS_MISTAKE_ROLE,
    IS_CORRECTED_ROLE,
    VERDICT_ROLE,
    Qt.ItemDataRole.DisplayRole,
    Qt.ItemDataRole.ToolTipRole,
    TAGS_ROLE,
]

# The names QML and qtmodeltester see (roleNames).
ROLE_NAMES = {
    TRUE_LABEL_ROLE: b"trueLabel",
    ORIGINAL_LABEL_ROLE: b"originalLabel",
    PREDICTED_LABEL_ROLE: b"predictedLabel",
    CONFIDENCE_ROLE: b"confidence",
    LOSS_ROLE: b"loss",
    PROBABILITIES_ROLE: b"probabilities",
    IS_MISTAKE_ROLE: b"isMistake",
    IS_CORRECTED_ROLE: b"isCorrected",
    DATASET_INDEX_ROLE: b"datasetIndex",
    TRUE_NAME_ROLE: b"trueName",
    PREDICTED_NAME_ROLE: b"predictedName",
    CLASS_NAMES_ROLE: b"classNames",
    VERDICT_ROLE: b"verdict",
    IS_FLAGGED_ROLE: b"isFlagged",
    SUGGESTED_LABEL_ROLE: b"suggestedLabel",
    SUGGESTED_PROBABILITY_ROLE: b"suggestedProbability",
    LABEL_QUALITY_ROLE: b"labelQuality",
    REPORT_RANK_ROLE: b"reportRank",
    TAGS_ROLE: b"tags",
}
