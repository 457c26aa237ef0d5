"""Writing tables: CSV bytes with one line ending, and counts without trailing zeros."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any


def csv_bytes(header: Sequence[str], rows: Any) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def format_count(x: float) -> str:
    """A mean count: an integer when it is one, else up to 4 decimals."""
    text = f"{x:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
