"""CSV of millions of rows from numpy columns, a chunk of rows at a time, without a Python string
per cell.

Each cell of a chunk is laid out as ASCII (or UTF-8) bytes in a fixed-width slot of a byte
matrix, with a mask of the bytes it uses; the masked bytes in row order are the CSV text. The
text is the same, byte for byte, as Python's formatting and `csv.writer` give (`format(x,
".4f")` of a float, `str` of an integer, names quoted as `csv.writer` quotes them): numbers are
rounded as integers scaled by 10 ** digits, and the few values whose scaled product lies too
close to a rounding tie for the float product to decide it are formatted by Python. A chunk with
a value that is not finite (`format` gives `nan`, `inf`) or too large to scale exactly is
written by Python whole.
"""

from __future__ import annotations

import collections
import csv
import functools
import io
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..funding.money import cents

Bytes = npt.NDArray[np.uint8]
Mask = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

CHUNK_ROWS = 200_000
_ZERO = ord("0")
# "00", "01", ... "99" as two-byte units: two digits per division
_PAIRS = np.frombuffer("".join(f"{i:02d}" for i in range(100)).encode("ascii"), np.uint16)


class Slot:
    """One row's bytes of a chunk (`text`) and which of them a cell uses (`used`), filled
    part by part from the left."""

    def __init__(self, n: int, width: int) -> None:
        # (rows, positions), stored a position at a time: every row's byte at one position
        # is contiguous, so a column is filled in runs as long as the chunk, not in a short
        # run per row (a separator, a sign, a digit: one byte a row). 2 million rows of
        # spells.csv.gz were laid out in 1.5-1.7 s, against 2.7 s stored a row at a time.
        self.text = np.empty((width, n), np.uint8).T
        self.used = np.empty((width, n), bool).T
        self.at = 0

    def put(self, width: int) -> tuple[Bytes, Mask]:
        """The next `width` columns, to fill."""
        a, self.at = self.at, self.at + width
        return self.text[:, a:self.at], self.used[:, a:self.at]

    def constant(self, raw: bytes) -> None:
        text, used = self.put(len(raw))
        text[:] = np.frombuffer(raw, np.uint8)
        used[:] = True

    def lines(self) -> bytes:
        """The used bytes in row order (put in row order first, then flat: a 2-d mask
        would make index arrays)."""
        text: Bytes = np.ascontiguousarray(self.text).reshape(-1)
        used: Mask = np.ascontiguousarray(self.used).reshape(-1)
        return text[used].tobytes()


def format_count(x: float) -> str:
    """A mean count: an integer when it is one, else up to 4 decimals."""
    text = f"{x:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _digits_width(v: npt.NDArray[np.integer]) -> int:
    return len(str(int(v.max()))) if v.size else 1


def _sign(slot: Slot, negative: npt.NDArray[np.bool_]) -> None:
    """A minus sign in the next column of the slot, used where `negative`."""
    text, used = slot.put(1)
    text[:] = ord("-")
    used[:, 0] = negative


def _digits(slot: Slot, v: npt.NDArray[np.integer], width: int, pad: bool = False) -> None:
    """Non-negative integers as right-aligned decimal digits in `width` columns of the slot,
    leading zeros unused (at least one digit: 0 is "0") unless `pad`."""
    text, used = slot.put(width)
    pairs = (width + 1) // 2
    small = np.uint32 if width <= 9 else np.uint64       # unsigned division is faster
    rest = v.astype(small)
    two = np.empty((v.size, pairs), np.uint16)
    for j in range(pairs - 1, -1, -1):
        rest, r = np.divmod(rest, small(100))
        two[:, j] = _PAIRS[r]
    text[:] = two.view(np.uint8)[:, 2 * pairs - width:]
    if pad:
        used[:] = True
        return
    length = np.ones(v.size, np.int8)
    for k in range(1, width):
        length += v >= 10 ** k
    np.greater_equal(np.arange(width, dtype=np.int8)[None, :], (width - length)[:, None],
                     out=used)


@dataclass(frozen=True)
class IntColumn:
    """Integers, as `str` writes them."""

    values: npt.NDArray[np.integer]

    def prepare(self, rows: IntArray) -> tuple[int, Any]:
        v = np.asarray(self.values[rows], np.int64)
        magnitude = np.abs(v)
        return 1 + _digits_width(magnitude), (v < 0, magnitude)

    def fill(self, slot: Slot, width: int, prepared: Any) -> None:
        negative, magnitude = prepared
        _sign(slot, negative)
        _digits(slot, magnitude, width - 1)

    def text(self, rows: IntArray) -> list[str]:
        return [str(x) for x in self.values[rows].tolist()]


def _scaled(x: npt.NDArray[np.float64], digits: int) -> IntArray:
    """|x| rounded to `digits` decimals as `format(x, f".{digits}f")` rounds it, as integers
    scaled by 10 ** digits (|x| * 10 ** digits below 2 ** 52: see FixedColumn.fits)."""
    product = np.abs(x) * 10 ** digits
    scaled = np.rint(product)
    # rint of the float product is the correctly rounded scaled value unless the exact
    # product may lie on the other side of a tie: then Python's exact formatting decides
    tie = np.abs(product - np.floor(product) - 0.5) <= np.maximum(4 * np.spacing(product),
                                                                  1e-9)
    unsure = np.flatnonzero(tie)
    v: IntArray = scaled.astype(np.int64)
    if unsure.size:              # few distinct values, such as a half cent, recur often
        spec = f".{digits}f"
        values, where = np.unique(np.abs(x[unsure]), return_inverse=True)
        exact = [int(format(a, spec).replace(".", "")) for a in values.tolist()]
        v[unsure] = np.asarray(exact, np.int64)[where]
    return v


@dataclass(frozen=True)
class FixedColumn:
    """Floats with `digits` decimals, as `format(x, f".{digits}f")` writes them."""

    values: npt.NDArray[np.floating]
    digits: int

    # decimals the values are first rounded to (more than `digits` where a column rounds twice)
    def _exact_digits(self) -> int:
        return self.digits

    def fits(self, rows: IntArray) -> bool:
        """Whether every value is finite and, scaled, an exact integer of a float."""
        x = np.abs(np.asarray(self.values[rows], np.float64))
        return bool(np.isfinite(x).all()
                    and x.max(initial=0.0) < 2.0 ** 52 / 10 ** self._exact_digits())

    def _rounded(self, x: npt.NDArray[np.float64]) -> tuple[IntArray, npt.NDArray[np.bool_]]:
        """The magnitudes scaled by 10 ** digits, and where a minus sign goes."""
        return _scaled(x, self.digits), np.signbit(x)

    def prepare(self, rows: IntArray) -> tuple[int, Any]:
        v, negative = self._rounded(np.asarray(self.values[rows], np.float64))
        whole, fraction = np.divmod(v, 10 ** self.digits)
        width = 1 + _digits_width(whole) + (1 + self.digits if self.digits else 0)
        return width, (negative, whole, fraction)

    def fill(self, slot: Slot, width: int, prepared: Any) -> None:
        negative, whole, fraction = prepared
        _sign(slot, negative)
        _digits(slot, whole, width - 1 - (1 + self.digits if self.digits else 0))
        if self.digits:
            slot.constant(b".")
            _digits(slot, fraction, self.digits, pad=True)

    def text(self, rows: IntArray) -> list[str]:
        spec = f".{self.digits}f"
        return [format(x, spec) for x in np.asarray(self.values[rows], np.float64).tolist()]


CENT_DIGITS = 8          # money.cents: rounded to 1e-8 first (a representation error gone)


@dataclass(frozen=True)
class CentsColumn(FixedColumn):
    """Money as `f"{money.cents(x):.2f}"` writes it: rounded to 8 decimals, then to cents
    half away from zero, never -0.00."""

    digits: int = 2

    def _exact_digits(self) -> int:
        return CENT_DIGITS

    def _rounded(self, x: npt.NDArray[np.float64]) -> tuple[IntArray, npt.NDArray[np.bool_]]:
        half = 10 ** (CENT_DIGITS - self.digits) // 2
        v = (_scaled(x, CENT_DIGITS) + half) // (2 * half)
        return v, np.signbit(x) & (v > 0)

    def text(self, rows: IntArray) -> list[str]:
        return [f"{cents(x):.{self.digits}f}"
                for x in np.asarray(self.values[rows], np.float64).tolist()]


@dataclass(frozen=True)
class CountColumn(FixedColumn):
    """Mean counts as `tables.format_count` writes them: up to 4 decimals, trailing zeros
    (and a bare point) dropped, never -0."""

    digits: int = 4

    def _rounded(self, x: npt.NDArray[np.float64]) -> tuple[IntArray, npt.NDArray[np.bool_]]:
        v = _scaled(x, self.digits)
        return v, np.signbit(x) & (v > 0)

    def fill(self, slot: Slot, width: int, prepared: Any) -> None:
        negative, whole, fraction = prepared
        _sign(slot, negative)
        _digits(slot, whole, width - 2 - self.digits)
        text, used = slot.put(1)
        text[:] = ord(".")
        used[:, 0] = fraction > 0
        # the fraction's digits up to its last one that is not zero
        kept = np.zeros(fraction.size, np.int8)
        for k in range(self.digits):
            kept = np.where(fraction % 10 ** (self.digits - k) > 0, k + 1, kept)
        _digits(slot, fraction, self.digits, pad=True)
        np.less(np.arange(self.digits, dtype=np.int8)[None, :], kept[:, None],
                out=slot.used[:, slot.at - self.digits:slot.at])

    def text(self, rows: IntArray) -> list[str]:
        return [format_count(x) for x in np.asarray(self.values[rows], np.float64).tolist()]


@dataclass(frozen=True)
class NameColumn:
    """Codes written as the names of `table` (code -1: empty), quoted as `csv.writer` quotes
    them."""

    codes: npt.NDArray[np.integer]
    table: Sequence[str]

    @functools.cached_property
    def _lookup(self) -> tuple[Bytes, npt.NDArray[np.int32]]:
        """The quoted names (the last one empty, for code -1) as rows of bytes, and their
        lengths."""
        names = [_quoted(name).encode("utf-8") for name in (*self.table, "")]
        lookup = np.zeros((len(names), max(1, *(len(b) for b in names))), np.uint8)
        for i, b in enumerate(names):
            lookup[i, :len(b)] = np.frombuffer(b, np.uint8)
        return lookup, np.array([len(b) for b in names], np.int32)

    def prepare(self, rows: IntArray) -> tuple[int, Any]:
        lookup, length = self._lookup
        code = np.asarray(self.codes[rows], np.int64)
        index = np.where(code < 0, len(length) - 1, code)
        return lookup.shape[1], (lookup, length, index)

    def fill(self, slot: Slot, width: int, prepared: Any) -> None:
        lookup, length, index = prepared
        text, used = slot.put(width)
        np.take(lookup, index, axis=0, out=text)
        np.less(np.arange(width, dtype=np.int32)[None, :], length[index][:, None], out=used)

    def text(self, rows: IntArray) -> list[str]:
        lookup = np.asarray([*self.table, ""], dtype=object)
        return list(lookup[np.asarray(self.codes[rows])])


@dataclass(frozen=True)
class FlagColumn:
    """Booleans as 1 and 0."""

    values: npt.NDArray[np.bool_]

    def prepare(self, rows: IntArray) -> tuple[int, Any]:
        return 1, np.asarray(self.values[rows], bool)

    def fill(self, slot: Slot, width: int, prepared: Any) -> None:
        text, used = slot.put(1)
        text[:, 0] = prepared.astype(np.uint8) + _ZERO
        used[:] = True

    def text(self, rows: IntArray) -> list[str]:
        return ["1" if x else "0" for x in self.values[rows].tolist()]


Column = IntColumn | FixedColumn | CentsColumn | CountColumn | NameColumn | FlagColumn


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    """Rows as `csv.writer` writes them, with "\\n" line ends."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def _quoted(name: str) -> str:
    """A cell as `csv.writer` writes it (beside another cell, so that an empty one stays
    empty)."""
    return csv_text([[name, ""]])[:-2]


def header_line(header: Sequence[str]) -> bytes:
    return csv_text([header]).encode("utf-8")


def csv_lines(columns: Sequence[Column], rows: IntArray) -> bytes:
    """The CSV lines (no header) of `rows` of the columns."""
    if rows.size == 0:
        return b""
    if not all(c.fits(rows) for c in columns if isinstance(c, FixedColumn)):
        return slow_csv_lines(columns, rows)
    prepared = [c.prepare(rows) for c in columns]
    slot = Slot(rows.size, sum(width for width, _ in prepared) + len(columns))
    for i, (column, (width, data)) in enumerate(zip(columns, prepared, strict=True)):
        column.fill(slot, width, data)
        slot.constant(b"," if i < len(columns) - 1 else b"\n")
    return slot.lines()


def slow_csv_lines(columns: Sequence[Column], rows: IntArray) -> bytes:
    """csv_lines by Python's formatting and `csv.writer`, a string per cell: the reference."""
    return csv_text(zip(*(c.text(rows) for c in columns), strict=True)).encode("utf-8")


def csv_chunks(header: Sequence[str], columns: Sequence[Column], order: IntArray,
               chunk_rows: int = CHUNK_ROWS, workers: int = 1) -> Iterator[bytes]:
    """The CSV text of the rows `order` of the columns, the header first, then a chunk of
    `chunk_rows` lines at a time. With `workers` > 1, that many threads lay out the next
    chunks while the caller takes one (numpy lets go of the interpreter in the byte
    matrices' work); the chunks are the same, in the same order."""
    return csv_blocks(header, ((columns, order[lo:lo + chunk_rows])
                               for lo in range(0, order.size, chunk_rows)), workers)


def csv_blocks(header: Sequence[str], blocks: Iterable[tuple[Sequence[Column], IntArray]],
               workers: int = 1) -> Iterator[bytes]:
    """csv_chunks of blocks each of columns of its own and its rows of them (a table too
    large to hold, read a block at a time): the header, then each block's lines."""
    yield header_line(header)
    if workers <= 1:
        for columns, rows in blocks:
            yield csv_lines(columns, rows)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        ahead: collections.deque[Future[bytes]] = collections.deque()
        for columns, rows in blocks:
            ahead.append(pool.submit(csv_lines, columns, rows))
            if len(ahead) > workers:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()
