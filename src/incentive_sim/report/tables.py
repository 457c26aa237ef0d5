"""Writing tables: CSV bytes with one line ending, counts without trailing zeros, shares as
percentages, and months and years the horizon covers only in part labelled as partial."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..accounting.money import YEARLY_MEASURES, YEARLY_STATISTICS, yearly_columns, yearly_summary
from ..funding.money import cents
from .columns_csv import csv_text, format_count


def csv_bytes(header: Sequence[str], rows: Any) -> bytes:
    return csv_text(itertools.chain([header], rows)).encode("utf-8")


def horizon_end(start: dt.date, horizon_days: int) -> dt.date:
    """The last day the horizon covers (day `horizon_days - 1` counted from `start`)."""
    return start + dt.timedelta(days=max(horizon_days, 1) - 1)


def partial_period(period: str, start: dt.date, end: dt.date) -> str | None:
    """What part of a calendar month (`YYYY-MM`) or year (`YYYY`) the horizon from `start` to
    `end` (both included) covers, when it is not the whole period: `from 10 Mar`, `to 9 Mar`,
    `10 Mar-20 Mar`; None for a whole period."""
    if len(period) == 4:
        first, last = dt.date(int(period), 1, 1), dt.date(int(period), 12, 31)
    else:
        year, month = int(period[:4]), int(period[5:7])
        first = dt.date(year, month, 1)
        last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1))
    cut_start, cut_end = start > first, end < last
    if not (cut_start or cut_end):
        return None
    if cut_start and cut_end:
        return f"{_day(start)}-{_day(end)}"
    return f"from {_day(start)}" if cut_start else f"to {_day(end)}"


def _day(d: dt.date) -> str:
    return f"{d.day} {d.strftime('%b')}"


def period_label(period: str, start: dt.date, end: dt.date) -> str:
    """A month or year as a reader should see it: `2025 (partial: from 10 Mar)` when the
    horizon covers only part of it, never as if it were whole."""
    part = partial_period(period, start, end)
    return period if part is None else f"{period} (partial: {part})"


def percent(fraction: float | str | None, decimals: int = 1) -> str:
    """A share as a percentage (`0.1234` -> `12.3 %`); empty for a missing value."""
    if fraction is None or fraction == "":
        return ""
    return f"{float(fraction) * 100 + 0.0:.{decimals}f} %"


def _cell(measure: str, x: float) -> str:
    if np.isnan(x):
        return ""
    if measure == "recipients":
        return format_count(x)
    if measure == "benefit_days":
        return f"{x + 0.0:.4f}"
    return f"{cents(x):.2f}"


def yearly_csv(rules: Sequence[str], municipalities: Sequence[str], codes: Mapping[str, str],
               years: Sequence[int], per_replication: npt.NDArray[np.float64],
               with_intervals: bool) -> bytes:
    """municipalities_yearly.csv from `(replication, rule, year, municipality, measure)`
    values: means over replications, and with `with_intervals` the 95 % interval of each and
    the paired difference from the first rule with its interval. `run` and `compare` both
    write it here, so their means are the same to the bit for the same histories."""
    s = yearly_summary(per_replication)
    shown = ("", *YEARLY_STATISTICS) if with_intervals else ("",)
    rows = []
    for r, rule in enumerate(rules):
        for k, name in enumerate(municipalities):
            for y, year in enumerate(years):
                cells = [_cell(m, s[stat][r, y, k, j]) for j, m in enumerate(YEARLY_MEASURES)
                         for stat in shown]
                rows.append((rule, codes.get(name) or name, name, year, *cells))
    return csv_bytes(yearly_columns(with_intervals), rows)
