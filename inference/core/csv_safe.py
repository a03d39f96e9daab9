"""CSV from untrusted text (file names, class names from a model's metadata), safe to open.

Every CSV the project writes goes through `csv_text`, so two defences hold everywhere:

  - Quoting (RFC 4180): a field holding a comma, a quote, a line feed or a carriage return is
    quoted. csv's QUOTE_MINIMAL quotes only the characters of its line terminator, so with "\\n"
    a lone "\\r" went out bare and split the row in two for most readers (CPython 3.11,
    measured): a row holding one is written with QUOTE_ALL instead.
  - Formula injection (OWASP, "CSV Injection"): a text field that starts with = + - @, a tab
    or a carriage return is taken for a formula by Excel, LibreOffice and Google Sheets; it is
    written with a single quote in front, which spreadsheets show as text and hide.

Numbers stay numbers: only `str` fields are neutralised, so pass numbers as int or float (or
as text that cannot start with those characters, such as a formatted probability).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(value: object) -> object:
    """`value`, with a leading ' when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(rows: Iterable[Iterable[object]]) -> str:
    """The rows as CSV text, one "\\n"-terminated line per row, every text field neutralised."""
    buffer = io.StringIO()
    minimal = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    every = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
    for row in rows:
        row = [neutralised(value) for value in row]
        carriage_return = any(isinstance(value, str) and "\r" in value for value in row)
        (every if carriage_return else minimal).writerow(row)
    return buffer.getvalue()
