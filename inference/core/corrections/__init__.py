"""The corrections store: a person's verdicts (and tags) on Fashion-MNIST labels, one SQLite file
per user, written by the labeler and read by `train-and-export --corrections`.

Callers import from here, not from the modules, which are:
  verdicts.py      the three verdicts, their codes, and the rule for a relabel to the given label
  values.py        every value checked on the way in and on the way out
  store.py         CorrectionsStore: transactions, history, apply() for training, JSON export
  tags.py          the tag rule and the store's tag methods
  schema.py        the SQL schema, and refusing a file whose schema is not exactly it
  migration.py     upgrading a file of an older schema version in place
  file.py          looking at a file before SQLite opens it for writing
  json_file.py     the JSON export: written, and read back with limits
  csv_exchange.py  the corrections CSV, written for people and read back
"""

from inference.core.corrections.csv_exchange import CsvImport, CsvRow, read_csv, write_csv
from inference.core.corrections.store import CorrectionsStore, data_dir, default_path
from inference.core.corrections.tags import TAG_MAX_CHARS, TAG_RULE, TagChange, check_tag, join_tags, parse_tags
from inference.core.corrections.values import (
    EXPORT_FORMAT,
    SPLIT_SIZES,
    AppliedCorrections,
    HistoryEntry,
    Indices,
    Verdict,
)
from inference.core.corrections.verdicts import (
    CODES,
    CONFIRMED,
    EXCLUDE,
    NO_VERDICT,
    RELABEL,
    VERDICTS,
    effective_verdict,
)

__all__ = [
    "CODES",
    "CONFIRMED",
    "EXCLUDE",
    "EXPORT_FORMAT",
    "NO_VERDICT",
    "RELABEL",
    "SPLIT_SIZES",
    "TAG_MAX_CHARS",
    "TAG_RULE",
    "VERDICTS",
    "AppliedCorrections",
    "CorrectionsStore",
    "CsvImport",
    "CsvRow",
    "HistoryEntry",
    "Indices",
    "TagChange",
    "Verdict",
    "check_tag",
    "data_dir",
    "default_path",
    "effective_verdict",
    "join_tags",
    "parse_tags",
    "read_csv",
    "write_csv",
]
