"""report.columns_csv: the CSV text laid out in byte matrices is, byte for byte, what Python's
formatting and csv.writer give, for any values (ties of the rounding, negative zero, huge and
tiny numbers, names that need quoting)."""

from __future__ import annotations

import gzip
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incentive_sim.funding.money import cents
from incentive_sim.report.columns_csv import (
    CentsColumn,
    CountColumn,
    FixedColumn,
    FlagColumn,
    IntColumn,
    NameColumn,
    csv_chunks,
    csv_lines,
    format_count,
    slow_csv_lines,
)

# as large as a column laid out in bytes takes (scaled by 10 ** 6 below 2 ** 52)
finite = st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False, width=64)
# values near the roundings that matter: ties of the last decimal, whole days, cents
near_ties = st.builds(lambda k, d, e: (k + 0.5) / 10 ** d + e,
                      st.integers(-10 ** 7, 10 ** 7), st.integers(0, 6),
                      st.sampled_from([0.0, 1e-12, -1e-12, 5e-17]))
numbers = st.one_of(finite, near_ties, st.sampled_from([0.0, -0.0, 18.605, 37.21, 576.755,
                                                        1461.0, 0.00005, 1e-300, 4.4e9]))
# money and mean counts as the tables hold them: up to 4e7 (scaled by 10 ** 8 below 2 ** 52),
# with half cents and their neighbours one representation error away, and tiny negatives
money = st.one_of(
    st.floats(-4e7, 4e7, allow_nan=False, allow_infinity=False, width=64),
    st.builds(lambda k, e: (k + 0.5) / 100 + e, st.integers(-10 ** 9, 10 ** 9),
              st.sampled_from([0.0, 1e-9, -1e-9, 2e-10, -2e-10])),
    st.builds(lambda k, d: k / 10 ** d, st.integers(-4 * 10 ** 7, 4 * 10 ** 7),
              st.integers(0, 5)),
    st.sampled_from([0.0, -0.0, -0.004, -0.005, 0.005, 6716.405, 1.00005, -1.00005, 2.5,
                     -1e-12, 0.00004999, 3.99995]))
names = st.lists(st.text(min_size=0, max_size=12), min_size=1, max_size=5)


@settings(max_examples=120, deadline=None)
@given(data=st.data(), n=st.integers(1, 60))
def test_the_byte_layout_writes_what_python_writes(data: st.DataObject, n: int) -> None:
    table = data.draw(names)
    columns = [
        IntColumn(np.array(data.draw(st.lists(st.integers(-2 ** 62, 2 ** 62), min_size=n,
                                              max_size=n)), np.int64)),
        NameColumn(np.array(data.draw(st.lists(st.integers(-1, len(table) - 1), min_size=n,
                                               max_size=n)), np.int32), table),
        FixedColumn(np.array(data.draw(st.lists(numbers, min_size=n, max_size=n))), 4),
        FlagColumn(np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))),
        FixedColumn(np.array(data.draw(st.lists(numbers, min_size=n, max_size=n))),
                    data.draw(st.integers(0, 6))),
    ]
    rows = np.array(data.draw(st.permutations(range(n))), np.int64)
    assert all(c.fits(rows) for c in columns if isinstance(c, FixedColumn))   # laid out
    assert csv_lines(columns, rows) == slow_csv_lines(columns, rows)


@settings(max_examples=150, deadline=None)
@given(values=st.lists(money, min_size=1, max_size=60))
def test_cents_and_counts_are_written_as_cents_and_format_count_write_them(
        values: list[float]) -> None:
    """CentsColumn is `f"{cents(x):.2f}"` (8 decimals, then half a cent away from zero, never
    -0.00), CountColumn is tables.format_count (no trailing zeros, never -0)."""
    x = np.array(values)
    rows = np.arange(x.size)
    columns = [CentsColumn(x), CountColumn(x), FixedColumn(x, 4)]
    assert all(c.fits(rows) for c in columns)
    text = csv_lines(columns, rows)
    assert text == slow_csv_lines(columns, rows)
    assert text.decode().splitlines() == [
        f"{cents(v):.2f},{format_count(v)},{v:.4f}" for v in values]


def test_cents_and_counts_in_known_cases() -> None:
    x = np.array([6716.405, -0.004, -0.005, 2.0, 0.5, -12.34567, 1e-9])
    text = csv_lines([CentsColumn(x), CountColumn(x)], np.arange(x.size)).decode()
    assert text.splitlines() == ["6716.41,6716.405", "0.00,-0.004", "-0.01,-0.005",
                                 "2.00,2", "0.50,0.5", "-12.35,-12.3457", "0.00,0"]


@pytest.mark.parametrize("values", [[1.5, np.nan, -np.inf], [1.5, 2.0 ** 53, -1e300]])
def test_a_value_not_finite_or_too_large_is_written_as_python_writes_it(
        values: list[float]) -> None:
    columns = [FixedColumn(np.array(values), 2), IntColumn(np.array([1, -2, 3]))]
    rows = np.arange(3)
    assert not columns[0].fits(rows)
    assert csv_lines(columns, rows) == slow_csv_lines(columns, rows)
    assert csv_lines(columns, rows).startswith(b"1.50,1\n")
    money = [CentsColumn(np.array([*values[:2], 5e7])), IntColumn(np.array([1, -2, 3]))]
    assert not money[0].fits(rows)                  # 5e7 euros: not exact at 8 decimals
    assert csv_lines(money, rows) == slow_csv_lines(money, rows)


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("chunk_rows", [1, 7, 1000])
def test_chunks_add_up_to_the_whole_table_with_its_header(chunk_rows: int,
                                                          workers: int) -> None:
    """In one thread or laid out ahead by several, the chunks are the table's lines in
    order."""
    rng = np.random.default_rng(5)
    n = 50
    columns = [IntColumn(rng.integers(0, 10 ** 6, n)),
               NameColumn(rng.integers(-1, 3, n), ["Alajärvi", "a,b", 'say "x"']),
               FixedColumn(rng.uniform(0, 1461, n), 4)]
    order = rng.permutation(n)
    text = b"".join(csv_chunks(["id", "place", "day"], columns, order, chunk_rows,
                               workers=workers))
    assert text == b"id,place,day\n" + slow_csv_lines(columns, order)
    assert text.decode("utf-8").splitlines()[1:] == [
        line.rstrip("\r\n") for line in io.StringIO(slow_csv_lines(columns, order).decode())]
    assert gzip.decompress(gzip.compress(text)) == text
