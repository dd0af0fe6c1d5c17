"""The one writer of every CSV the system produces, and the rule it keeps: no cell is a
formula a spreadsheet would run (CSV injection).

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula — a
township named ``=HYPERLINK("http://…"&B3,"金山镇")`` would send the row beside it to
whoever wrote the link, on the desk of every auditor who opens the report. Following OWASP,
such a cell is written with a ``'`` before it (the spreadsheet shows it as text):

- text whose first character is one of ``= + - @``, or whose first character is a tab, a
  carriage return or a line break (a spreadsheet may strip them, leaving the formula), or
  whose first character after leading white space is one of ``= + - @``;
- except text that is exactly a number (``-3``, ``-1500.00``, ``+2``): a spreadsheet reads it
  as that number and runs nothing, and it stays a number in the sheet;
- a number (``int``, ``Decimal``, ``float``; not ``bool``) is written as it is: ``-3`` and a
  negative amount stay numbers. ``None`` is an empty cell.

Every cell is quoted, so that no separator inside it (``,``, or the ``;`` of a locale that
splits on it) starts a new cell with a formula; the quotes themselves are doubled.
"""

import csv
import io
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@")
"""What makes a spreadsheet run a cell."""
STRIPPED_STARTS = ("\t", "\r", "\n")
"""What a spreadsheet may strip from the start of a cell, uncovering what follows."""
PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def starts_like_formula(text: str) -> bool:
    """Whether ``text`` starts as a formula would (what the names of townships and villages may
    not do, even as a number)."""
    return text.startswith(STRIPPED_STARTS) or text.lstrip().startswith(FORMULA_STARTS)


def runs_as_formula(text: str) -> bool:
    """Whether a spreadsheet could run ``text`` as a formula: it starts as one, and is not
    exactly a number."""
    return starts_like_formula(text) and not PLAIN_NUMBER.fullmatch(text)


def cell(value: Any) -> str | int | float | Decimal:
    """What is written for ``value``: a number as it is, text a spreadsheet would run after
    a ``'``."""
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return value
    text = str(value)
    return "'" + text if runs_as_formula(text) else text


def csv_bytes(columns: Iterable[str], rows: Iterable[Mapping[str, Any]]) -> bytes:
    """A header of ``columns`` and a line per row (a column a row lacks is empty), every cell
    through ``cell``: UTF-8 with a BOM, so that Excel reads the Chinese right, and CRLF."""
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=list(columns), lineterminator="\r\n", quoting=csv.QUOTE_ALL
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({column: cell(value) for column, value in row.items()})
    return ("\ufeff" + out.getvalue()).encode()
