"""CSV files Hark hands to people, who open them in spreadsheets.

Every CSV Hark writes carries values that callers supplied (answers from a public survey link,
user ids and traits from the client API, the rows of an uploaded file). A spreadsheet runs a
cell that starts with `=`, `+`, `-` or `@` as a formula (and a leading tab or carriage return
can hide such a start), which can fetch URLs with the sheet's data or run commands: the
"CSV injection" of OWASP. Such a cell is written with a leading `'`, which spreadsheets read as
"this is text" and do not show.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """`value` safe for a spreadsheet cell (None as an empty cell)."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class CsvLines:
    """Renders rows as CSV lines one at a time (for streamed responses), every cell through
    `cell`."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer)

    def line(self, values: Iterable[Any]) -> str:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerow([cell(v) for v in values])
        return self._buffer.getvalue()
