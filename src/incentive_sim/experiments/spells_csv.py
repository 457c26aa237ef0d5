"""`spells.csv.gz` (`run --spells`): replication 0's segments, one row each, in person order,
names instead of codes.

A history in one part is written from the table. A national simulation's shards each write
their part's columns where they ran (`write_spells_part`, as `.npy` files, in the part's person
order), and the run writes the file from those a block of rows at a time
(`write_spells_csv_of_parts`), so that it never holds the joined history: each person is in one
part, so the file's person order takes each part's rows in their order, merged by person.
Either way, the same bytes.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..funding.spells import SpellTable
from ..report.columns_csv import (
    CHUNK_ROWS,
    Column,
    FixedColumn,
    FlagColumn,
    IntColumn,
    NameColumn,
    csv_blocks,
    csv_chunks,
)
from ..scenario.vocabulary import BENEFITS, STATES

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

SPELLS_GZIP_LEVEL = 1        # model choice: 4 x faster than the default 6, files some 15 % larger
HEADER = ("person_id", "municipality", "group", "state", "service", "benefit", "start_day",
          "end_day", "censored", "counter_at_start", "daily_amount")
FROM_TABLE = tuple(name for name in HEADER if name != "counter_at_start")


def write_spells_csv(path: Path, spells: SpellTable, counter: FloatArray) -> None:
    """The file of a history in one table; `counter`: the counter each row shows
    (Plan.counter_shown's)."""
    values = _values(spells, counter)
    _write(path, csv_chunks(HEADER, _columns(values, spells), spells.person_order(),
                            workers=2))


def write_spells_part(folder: Path, spells: SpellTable, counter: FloatArray) -> None:
    """The columns the file shows of one part of a history (whole people), in person order:
    one `.npy` file each in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    order = spells.person_order()
    inorder = bool(np.array_equal(order, np.arange(order.size)))
    for name, column in _values(spells, counter).items():
        np.save(folder / f"{name}.npy", column if inorder else column[order],
                allow_pickle=False)


def write_spells_csv_of_parts(path: Path, folders: Sequence[Path], names: SpellTable,
                              block_rows: int = CHUNK_ROWS) -> None:
    """The file of a history whose parts' columns are in `folders` (write_spells_part, in
    part order); `names`: a table with the history's name tables. A block of `block_rows`
    rows is read at a time."""
    _write(path, csv_blocks(HEADER, _blocks(folders, names, block_rows), workers=2))


def _values(spells: SpellTable, counter: FloatArray) -> dict[str, npt.NDArray[Any]]:
    values = {name: np.asarray(getattr(spells, name)) for name in FROM_TABLE}
    values["counter_at_start"] = np.asarray(counter, np.float64)
    return values


def _columns(values: Mapping[str, npt.NDArray[Any]], names: SpellTable) -> list[Column]:
    return [
        IntColumn(values["person_id"]),
        NameColumn(values["municipality"], names.municipalities),
        NameColumn(values["group"], names.groups),
        NameColumn(values["state"], STATES),
        NameColumn(values["service"], names.services),
        NameColumn(values["benefit"], BENEFITS),
        FixedColumn(values["start_day"], 4),
        FixedColumn(values["end_day"], 4),
        FlagColumn(values["censored"]),
        FixedColumn(values["counter_at_start"], 4),
        FixedColumn(values["daily_amount"], 2),
    ]


def _blocks(folders: Sequence[Path], names: SpellTable, block_rows: int
            ) -> Iterator[tuple[list[Column], IntArray]]:
    """Each block of the merged person order: its columns (each part's rows in it, which
    follow on from the last block's, read from the files) and the order of its rows."""
    ids = [np.load(f / "person_id.npy", allow_pickle=False) for f in folders]
    first = np.cumsum([0, *(i.size for i in ids)])
    order = np.argsort(np.concatenate(ids), kind="stable")    # sorted runs: merged
    del ids
    done = first[:-1].copy()                 # by part: the next row to read (in the order)
    for lo in range(0, order.size, block_rows):
        rows = order[lo:lo + block_rows]
        part = np.searchsorted(first, rows, side="right") - 1
        counts = np.bincount(part, minlength=len(folders))
        values: dict[str, list[npt.NDArray[Any]]] = {}
        for k, folder in enumerate(folders):
            a, b = int(done[k]) - int(first[k]), int(done[k]) - int(first[k]) + int(counts[k])
            for name in HEADER:
                # mapped for this block only: pages of a mapping kept open would stay
                # resident, and the whole file would end up counted in this process
                column = np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)
                values.setdefault(name, []).append(np.array(column[a:b]))
                del column
        # a part's rows come in order, so row r of part k is at r - done[k] among its own,
        # after the earlier parts' rows of the block
        before = np.cumsum(np.r_[0, counts[:-1]])
        local = rows - done[part] + before[part]
        done += counts
        yield _columns({name: np.concatenate(v) for name, v in values.items()}, names), local


def _write(path: Path, chunks: Iterable[bytes]) -> None:
    """gzip without a time stamp, so the same history gives the same bytes; each chunk
    compressed in a second thread while the next is laid out, at gzip's fastest level (at
    national scale, 1 GB of text, the default level took longer than the formatting)."""
    try:
        with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                                  mtime=0, compresslevel=SPELLS_GZIP_LEVEL
                                                  ) as gz, \
                ThreadPoolExecutor(max_workers=1) as pool:
            pending = None
            for chunk in chunks:
                if pending is not None:
                    pending.result()
                pending = pool.submit(gz.write, chunk)      # zlib lets go of the interpreter
            if pending is not None:
                pending.result()
    except OSError as exc:
        if exc.filename is None:
            exc.filename = str(path)
        raise
