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
holds the name tables.

A history in parts (a national simulation's shards, each of whole people) is stored a part
at a time, each where it was simulated: a store of the above form per part (`part-K/`), and
an `index.json` of format PARTS_FORMAT that names them, with what they share and their
rows and people added up. A person is in one part."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..funding.counters import counted_mask
from ..funding.rules import CompiledRule
from ..funding.spells import SpellTable, person_chunks

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

EXPLAIN = "explain"
INDEX = "index.json"
FORMAT = 1
PARTS_FORMAT = 2                       # an index of stores of parts (PARTS_FORMAT's folders)
SHARED = ("municipalities", "groups", "services", "paid_days_per_week", "horizon_days",
          "counters")                  # what the parts' indexes have in common
CODES = ("municipality", "group", "state", "service", "benefit")
PREDICTED = ("end_day", "daily_amount", "basic_part", "prior_paid_days")
BENEFIT_PAID, CENSORED = 1, 2          # bits of flags.npy
CHUNK_ROWS = 1_000_000                 # rows put into person order at a time (whole people)


def write_explain_store(folder: Path, spells: SpellTable, counters: Mapping[str, FloatArray],
                        rules: Mapping[str, CompiledRule], horizon_days: float,
                        chunk_rows: int = CHUNK_ROWS) -> None:
    """Write `spells` (one replication's history) and `counters` (rule name -> the counter at
    every segment start, in the table's row order, as priced) into `folder`. `rules` holds
    the simple rule of each counter (its paid days predict the counter).

    Some whole people at a time (about `chunk_rows` rows): every prediction looks only at a
    person's own rows, so each chunk is gathered into person order, predicted, appended to
    the files and dropped. At national scale the run's history and ledger are alive beside
    this, and whole gathered columns took some 470 MiB."""
    folder.mkdir(parents=True, exist_ok=True)
    n = len(spells)
    rate = spells.paid_days_per_week / 7.0
    row_type = _int_type(np.array([n]))
    names = list(counters)
    codes = {name: _int_type(np.asarray(getattr(spells, name))) for name in CODES}
    chunks = person_chunks(spells, chunk_rows)       # views of the person order
    starts = spells.person_starts()                  # where each person begins in it
    person_ids = spells.person_id[spells.person_order()[starts]]
    with contextlib.ExitStack() as files:
        def whole(name: str, dtype: Any) -> _ColumnFile:
            return files.enter_context(_ColumnFile(folder / f"{name}.npy", dtype, n))

        code_files = {name: whole(name, kind) for name, kind in codes.items()}
        flags_file = whole("flags", np.uint8)
        start_file = whole("start_day", np.float64)
        predicted = {name: _Predicted(name, row_type)
                     for name in (*PREDICTED, *(f"counter_{k}" for k in range(len(names))))}
        at = 0
        for rows in chunks:
            m = rows.size
            first = np.zeros(m, bool)                  # each person's first row
            first[starts[np.searchsorted(starts, at):np.searchsorted(starts, at + m)] - at] = True
            for name, out in code_files.items():
                out.put(np.asarray(getattr(spells, name))[rows].astype(codes[name]))
            paid = spells.benefit_paid[rows]
            flags_file.put((paid * BENEFIT_PAID | spells.censored[rows] * CENSORED
                            ).astype(np.uint8))
            start = spells.start_day[rows]
            start_file.put(start)
            guess = np.empty(m)
            guess[:-1] = start[1:]
            last = np.ones(m, bool)                     # each person's last row
            last[:-1] = first[1:]
            guess[last] = float(horizon_days)
            end = spells.end_day[rows]
            predicted["end_day"].add(at, end, guess)
            length = end - start                        # all the counters need of the two
            del start, end, last
            daily = spells.daily_amount[rows]
            predicted["daily_amount"].add(at, daily, _carried_amounts(daily, paid, first))
            predicted["basic_part"].add(at, spells.basic_part[rows], daily)
            del daily
            prior = spells.prior_paid_days[rows]
            guess[1:] = prior[:-1]
            guess[first] = 0.0
            predicted["prior_paid_days"].add(at, prior, guess)
            prior_first = prior[first]
            del prior
            part = spells.take(rows)
            for k, name in enumerate(names):
                c = np.asarray(counters[name], np.float64)[rows]
                step = _counted(counted_mask(part, rules[name]), length, rate)
                np.add(c[:-1], step[:-1], out=guess[1:])
                guess[first] = prior_first
                predicted[f"counter_{k}"].add(at, c, guess)
            del part
            at += m
    numbered = bool(np.array_equal(person_ids, np.arange(person_ids.size)))
    if not numbered:                   # ids 0..P-1 (the engine's) need no table
        _save(folder, "persons", person_ids.astype(_int_type(person_ids)))
    offsets = np.append(starts, n)
    _save(folder, "offsets", offsets.astype(_int_type(offsets)))
    columns: dict[str, str] = {}
    whole_columns = {name: getattr(spells, name) for name in PREDICTED}
    for k, name in enumerate(names):
        whole_columns[f"counter_{k}"] = np.asarray(counters[name], np.float64)
    for name, column in predicted.items():
        columns[name] = column.save(folder, whole_columns[name], chunks)
    index = {
        "format": FORMAT, "rows": n, "people": int(person_ids.size),
        "last_person": int(person_ids.max()) if n else -1, "persons_numbered": numbered,
        "municipalities": list(spells.municipalities), "groups": list(spells.groups),
        "services": list(spells.services), "paid_days_per_week": spells.paid_days_per_week,
        "horizon_days": float(horizon_days), "counters": names, "columns": columns,
    }
    (folder / INDEX).write_text(json.dumps(index, indent=1, ensure_ascii=False) + "\n",
                                encoding="utf-8")


class _ColumnFile:
    """A `.npy` file of `n` values written a chunk at a time, in order: the bytes `np.save`
    writes for the whole column."""

    def __init__(self, path: Path, dtype: Any, n: int) -> None:
        self.path, self.dtype, self.n = path, np.dtype(dtype), n
        self.written = 0

    def __enter__(self) -> _ColumnFile:
        self.file = self.path.open("wb")
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                  "shape": (self.n,)}
        np.lib.format.write_array_header_1_0(self.file, header)
        return self

    def put(self, values: npt.NDArray[Any]) -> None:
        values = np.ascontiguousarray(values, self.dtype)
        self.file.write(values.data)
        self.written += values.size

    def __exit__(self, *exc: object) -> None:
        self.file.close()
        if exc[0] is None and self.written != self.n:
            raise RuntimeError(f"{self.path}: {self.written} values written of {self.n}")


class _Predicted:
    """A column saved as the rows where a prediction fails and their values, gathered a chunk
    at a time (`_save_predicted` for a whole column, in parts)."""

    def __init__(self, name: str, row_type: Any) -> None:
        self.name, self.row_type = name, row_type
        self.rows: list[npt.NDArray[Any]] = []
        self.values: list[FloatArray] = []
        self.count = 0

    def add(self, at: int, values: FloatArray, predicted: FloatArray) -> None:
        """Rows at, at + 1, ... of the column, with what was predicted for them."""
        wrong = np.flatnonzero(values.view(np.int64) != predicted.view(np.int64))
        self.rows.append((wrong + at).astype(self.row_type))
        self.values.append(values[wrong])
        self.count += wrong.size

    def save(self, folder: Path, values: FloatArray, chunks: list[IntArray]) -> str:
        """Save the failed predictions, or the whole column (`values`, in table order, put
        into person order a chunk at a time) if that is smaller; return how it was saved."""
        n = values.size
        if self.count * (np.dtype(self.row_type).itemsize + 8) >= n * 8:
            with _ColumnFile(folder / f"{self.name}.npy", np.float64, n) as out:
                for rows in chunks:
                    out.put(values[rows])
            return "whole"
        _save(folder, f"{self.name}.rows", _joined(self.rows, self.row_type))
        _save(folder, f"{self.name}.values", _joined(self.values, np.float64))
        return "predicted"


def _joined(parts: list[npt.NDArray[Any]], dtype: Any) -> npt.NDArray[Any]:
    return np.concatenate(parts) if parts else np.zeros(0, dtype)


def part_folder(folder: Path, part: int) -> Path:
    """Where the store of a history's part `part` goes."""
    return folder / f"part-{part}"


def write_parts_index(folder: Path, parts: int) -> None:
    """The index of a store written a part at a time (into `part_folder(folder, k)` for k in
    range(parts), by write_explain_store)."""
    names = [part_folder(folder, k).name for k in range(parts)]
    indexes = [read_index(folder / name) for name in names]
    first = indexes[0]
    for name, index in zip(names[1:], indexes[1:], strict=True):
        differs = [key for key in SHARED if index[key] != first[key]]
        if differs:
            raise ValueError(f"{folder / name}: {', '.join(differs)} not as in {names[0]}")
    index = {"format": PARTS_FORMAT, "parts": names,
             "rows": sum(int(i["rows"]) for i in indexes),
             "people": sum(int(i["people"]) for i in indexes),
             "last_person": max(int(i["last_person"]) for i in indexes),
             **{key: first[key] for key in SHARED}}
    (folder / INDEX).write_text(json.dumps(index, indent=1, ensure_ascii=False) + "\n",
                                encoding="utf-8")


def read_person(folder: Path, person: int, rules: Mapping[str, CompiledRule]
                ) -> SpellTable | None:
    """The rows of `person` (in person order) with the stored counters in
    `counter_at_start`; None if the history has no such person. `rules` holds the simple
    rule of each stored counter, by name."""
    index = read_index(folder)
    if index["format"] == PARTS_FORMAT:
        for name in index["parts"]:
            mine = read_person(folder / name, person, rules)
            if mine is not None:
                return mine
        return None
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
    if index.get("format") not in (FORMAT, PARTS_FORMAT):
        raise ValueError(f"{folder / INDEX}: format {index.get('format')!r}, this version "
                         f"reads {FORMAT} and {PARTS_FORMAT}")
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
