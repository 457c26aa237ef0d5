"""Rounding money to cents, as a bill does: half a cent rounds away from zero.

Amounts are float64 until they are reported (see pricing.py). A computed 6,716.405 may be
stored as 6,716.404999...; rounding it with `round(x, 2)` would give 6,716.40 where a bill
says 6,716.41. The float is first rounded to 1e-6 cents, which removes that representation
error without touching any real amount, then to cents half away from zero.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext

CENT = Decimal("0.01")


def cents(x: float) -> float:
    """`x` rounded to cents, half a cent away from zero (never -0.0); NaN and infinity, which
    have no cents, stay as they are."""
    x = float(x)
    if x != x or x in (float("inf"), float("-inf")):
        return x
    exact = Decimal(f"{x:.8f}")
    with localcontext() as context:
        context.prec = 340          # every digit of the largest float, and its cents
        return float(exact.quantize(CENT, rounding=ROUND_HALF_UP)) + 0.0
