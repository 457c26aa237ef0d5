"""The `explain/` folder of a run: replication 0's history by person, with the counters the
run priced, so that `explain` reads one person instead of simulating again.

Rows are in person order (`SpellTable.person_order`); `persons.npy` holds each person's id
(unless the ids are 0, 1, 2, ...) and `offsets.npy` where their rows start (and, last, the
number of rows), so a reader maps the files (`np.load(..., mmap_mode="r")`) and reads one
person's rows only. Codes take the smallest integer type that holds them. Days, amounts and
counters are float64, exact to the bit, and most of them follow from the rows before: a segment
ends where the next one starts (the last at the horizon), an amount is the person's previous
paid amount, a counter is the previous counter plus the paid days it counted. Such a column is
stored as the rows where that prediction fails and their values (`NAME.rows.npy`,
`NAME.values.npy`), or whole (`NAME.npy`) when that is smaller. `index.json` says which, and
holds the name tables."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..funding.counters import counted_mask
from ..funding.rules import CompiledRule
from ..funding.spells import SpellTable

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

EXPLAIN = "explain"
INDEX = "index.json"
FORMAT = 1
CODES = ("municipality", "group", "state", "service", "benefit")
PREDICTED = ("end_day", "daily_amount", "basic_part", "prior_paid_days")
BENEFIT_PAID, CENSORED = 1, 2          # bits of flags.npy


def write_explain_store(folder: Path, spells: SpellTable, counters: Mapping[str, FloatArray],
                        rules: Mapping[str, CompiledRule], horizon_days: float) -> None:
    """Write `spells` (one replication's history) and `counters` (rule name -> the counter at
    every segment start, in the table's row order, as priced) into `folder`. `rules` holds
    the simple rule of each counter (its paid days predict the counter)."""
    # Column by column, each gathered into person order, saved and dropped: at national scale
    # a row-length float64 column is some 60 MB, and the run's history and ledger are alive.
    folder.mkdir(parents=True, exist_ok=True)
    order = spells.person_order()
    n = len(spells)
    pid = spells.person_id[order]
    first = np.ones(n, bool)
    first[1:] = pid[1:] != pid[:-1]
    starts = np.flatnonzero(first)
    persons = pid[starts]
    del pid
    numbered = bool(np.array_equal(persons, np.arange(persons.size)))
    if not numbered:                   # ids 0..P-1 (the engine's) need no table
        _save(folder, "persons", persons.astype(_int_type(persons)))
    offsets = np.append(starts, n)
    _save(folder, "offsets", offsets.astype(_int_type(offsets)))
    del starts, offsets
    for name in CODES:
        codes = np.asarray(getattr(spells, name))[order]
        _save(folder, name, codes.astype(_int_type(codes)))
    paid = spells.benefit_paid[order]
    _save(folder, "flags", (paid * BENEFIT_PAID | spells.censored[order] * CENSORED
                            ).astype(np.uint8))
    start = spells.start_day[order]
    _save(folder, "start_day", start)
    columns: dict[str, str] = {}
    predicted = np.empty(n)
    predicted[:-1] = start[1:]
    last = np.ones(n, bool)                         # each person's last row
    last[:-1] = first[1:]
    predicted[last] = float(horizon_days)
    del last
    end = spells.end_day[order]
    columns["end_day"] = _save_predicted(folder, "end_day", end, predicted)
    length = end - start                            # all the counters need of the two
    del start, end, predicted
    daily = spells.daily_amount[order]
    columns["daily_amount"] = _save_predicted(folder, "daily_amount", daily,
                                              _carried_amounts(daily, paid, first))
    columns["basic_part"] = _save_predicted(folder, "basic_part", spells.basic_part[order],
                                            daily)
    del daily
    prior = spells.prior_paid_days[order]
    predicted = np.empty(n)
    predicted[1:] = prior[:-1]
    predicted[first] = 0.0
    columns["prior_paid_days"] = _save_predicted(folder, "prior_paid_days", prior, predicted)
    prior_first = prior[first]
    del prior
    rate = spells.paid_days_per_week / 7.0
    for k, (name, counter) in enumerate(counters.items()):
        c = np.asarray(counter, np.float64)[order]
        step = _counted(counted_mask(spells, rules[name])[order], length, rate)
        np.add(c[:-1], step[:-1], out=predicted[1:])
        del step
        predicted[first] = prior_first
        columns[f"counter_{k}"] = _save_predicted(folder, f"counter_{k}", c, predicted)
    index = {
        "format": FORMAT, "rows": n, "people": int(persons.size),
        "last_person": int(persons.max()) if n else -1, "persons_numbered": numbered,
        "municipalities": list(spells.municipalities), "groups": list(spells.groups),
        "services": list(spells.services), "paid_days_per_week": spells.paid_days_per_week,
        "horizon_days": float(horizon_days), "counters": list(counters), "columns": columns,
    }
    (folder / INDEX).write_text(json.dumps(index, indent=1, ensure_ascii=False) + "\n",
                                encoding="utf-8")


def read_person(folder: Path, person: int, rules: Mapping[str, CompiledRule]
                ) -> SpellTable | None:
    """The rows of `person` (in person order) with the stored counters in
    `counter_at_start`; None if the history has no such person. `rules` holds the simple
    rule of each stored counter, by name."""
    index = read_index(folder)
    if index["persons_numbered"]:
        i = person
        if not 0 <= i < index["people"]:
            return None
    else:
        persons = _load(folder, "persons")
        i = int(np.searchsorted(persons, person))
        if i >= persons.size or int(persons[i]) != person:
            return None
    offsets = _load(folder, "offsets")
    a, b = int(offsets[i]), int(offsets[i + 1])
    n = b - a
    cols: dict[str, Any] = {name: np.asarray(_load(folder, name)[a:b]) for name in CODES}
    flags = np.asarray(_load(folder, "flags")[a:b])
    paid = (flags & BENEFIT_PAID) > 0
    cols["benefit_paid"] = paid
    cols["censored"] = (flags & CENSORED) > 0
    start = np.array(_load(folder, "start_day")[a:b], np.float64)
    cols["start_day"] = start
    columns = index["columns"]

    def column(name: str, predict: Callable[[int, FloatArray], float]) -> FloatArray:
        return _read_predicted(folder, name, columns[name], a, b, predict)

    horizon = float(index["horizon_days"])
    end = column("end_day", lambda k, v: float(start[k + 1]) if k + 1 < n else horizon)
    cols["end_day"] = end
    daily = column("daily_amount", _carried(paid))
    cols["daily_amount"] = daily
    cols["basic_part"] = column("basic_part", lambda k, v: float(daily[k]))
    prior = column("prior_paid_days", lambda k, v: float(v[k - 1]) if k else 0.0)
    cols["prior_paid_days"] = prior
    table = SpellTable(person_id=np.full(n, person, np.int64), **cols,
                       municipalities=tuple(index["municipalities"]),
                       groups=tuple(index["groups"]), services=tuple(index["services"]),
                       paid_days_per_week=int(index["paid_days_per_week"]))
    rate = table.paid_days_per_week / 7.0
    counters: dict[str, FloatArray] = {}
    for k, name in enumerate(index["counters"]):
        step = _counted_days(counted_mask(table, rules[name]), start, end, rate)
        counters[name] = column(f"counter_{k}", _counted_on(float(prior[0]), step))
    return replace(table, counter_at_start=counters)


def read_index(folder: Path) -> dict[str, Any]:
    index: dict[str, Any] = json.loads((folder / INDEX).read_text(encoding="utf-8"))
    if index.get("format") != FORMAT:
        raise ValueError(f"{folder / INDEX}: format {index.get('format')!r}, this version "
                         f"reads {FORMAT}")
    return index


def has_store(folder: Path) -> bool:
    return (folder / INDEX).is_file()


def _counted_days(counted: npt.NDArray[np.bool_], start: FloatArray, end: FloatArray,
                  rate: float) -> FloatArray:
    """The paid days each row adds to a counter (the same arithmetic writing and reading)."""
    return _counted(counted, end - start, rate)


def _counted(counted: npt.NDArray[np.bool_], length: FloatArray, rate: float) -> FloatArray:
    """_counted_days of rows `length` = end - start long."""
    return np.where(counted, length * rate, 0.0)


def _carried_amounts(daily: FloatArray, paid: npt.NDArray[np.bool_],
                     first: npt.NDArray[np.bool_]) -> FloatArray:
    """Each row's amount as `_carried` predicts it, for all rows at once: the row before it
    that is paid or a person's first (the latest of them, by a running maximum of row
    numbers); its amount if it is paid and of the same person."""
    n = daily.size
    rows = np.arange(n, dtype=_int_type(np.array([n])))
    latest = np.maximum.accumulate(np.where(paid | first, rows, 0))
    before = np.zeros_like(latest)
    before[1:] = latest[:-1]
    del latest, rows
    return np.where(paid & ~first & paid[before], daily[before], 0.0)


def _carried(paid: npt.NDArray[np.bool_]) -> Callable[[int, FloatArray], float]:
    """Predicts a row's amount: the person's last paid amount if the row is paid, else 0."""
    def predict(k: int, v: FloatArray) -> float:
        if not paid[k]:
            return 0.0
        earlier = np.flatnonzero(paid[:k])
        return float(v[earlier[-1]]) if earlier.size else 0.0
    return predict


def _counted_on(initial: float, step: FloatArray) -> Callable[[int, FloatArray], float]:
    """Predicts a row's counter: the previous counter plus the days it counted."""
    def predict(k: int, v: FloatArray) -> float:
        return float(v[k - 1]) + float(step[k - 1]) if k else initial
    return predict


def _int_type(values: npt.NDArray[Any]) -> type[np.signedinteger[Any]]:
    lo, hi = (int(values.min()), int(values.max())) if values.size else (0, 0)
    for kind in (np.int8, np.int16, np.int32):
        info = np.iinfo(kind)
        if info.min <= lo and hi <= info.max:
            return kind
    return np.int64


def _save(folder: Path, name: str, values: npt.NDArray[Any]) -> None:
    np.save(folder / f"{name}.npy", np.ascontiguousarray(values), allow_pickle=False)


def _load(folder: Path, name: str) -> npt.NDArray[Any]:
    values: npt.NDArray[Any] = np.load(folder / f"{name}.npy", mmap_mode="r",
                                       allow_pickle=False)
    return values


def _save_predicted(folder: Path, name: str, values: FloatArray, predicted: FloatArray
                    ) -> str:
    """Save the rows whose value is not the predicted one, bit for bit (-0.0 and NaN
    included), or the whole column if that is smaller; return how it was saved."""
    wrong = np.flatnonzero(values.view(np.int64) != predicted.view(np.int64))
    rows = wrong.astype(_int_type(np.array([values.size])))
    if wrong.size * (rows.itemsize + 8) >= values.size * 8:
        _save(folder, name, values)
        return "whole"
    _save(folder, f"{name}.rows", rows)
    _save(folder, f"{name}.values", values[wrong])
    return "predicted"


def _read_predicted(folder: Path, name: str, how: str, a: int, b: int,
                    predict: Callable[[int, FloatArray], float]) -> FloatArray:
    """Rows a..b-1 of a column saved by `_save_predicted`: row k is its stored value, else
    `predict(k, values)` from the rows before it (k counted from a)."""
    if how == "whole":
        return np.array(_load(folder, name)[a:b], np.float64)
    rows = _load(folder, f"{name}.rows")
    lo, hi = (int(x) for x in np.searchsorted(rows, [a, b]))
    stored = dict(zip((np.asarray(rows[lo:hi]) - a).tolist(),
                      np.asarray(_load(folder, f"{name}.values")[lo:hi]).tolist(),
                      strict=True))
    out = np.empty(b - a)
    for k in range(b - a):
        out[k] = stored[k] if k in stored else predict(k, out)
    return out
