"""State transfers to municipalities: fixed amounts, or a cost-neutral total shared out by a
municipality attribute (as the 2025 reform compensated the wider liability by working-age
population). A transfer is a cost to the state and a receipt (negative cost) to a municipality,
so it moves money between payers and leaves the gross outlay unchanged."""

from __future__ import annotations

from collections.abc import Mapping

from ..scenario.schema import Municipality, Transfers

DAYS_PER_YEAR = 365.25


def municipality_attribute(municipality: Municipality, attribute: str) -> float:
    if attribute == "working_age_population":
        return float(municipality.working_age_population)
    return float(municipality.attributes[attribute])


def transfer_amounts(
    transfers: Transfers,
    municipalities: Mapping[str, Municipality],
    horizon_days: float,
    liability: Mapping[str, float] | None = None,
    base_liability: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """What the state transfers to each municipality over the horizon.

    Fixed transfers are given per year and pro-rated over `horizon_days`. A cost-neutral
    transfer's total is the municipal liability under the rule in force minus that under the
    base rule, on the same histories (`liability`, `base_liability`: per municipality), so the
    municipal sector as a whole neither gains nor loses; single municipalities do.
    """
    if transfers.kind == "fixed":
        years = horizon_days / DAYS_PER_YEAR
        return {m: transfers.amounts.get(m, 0.0) * years for m in municipalities}
    if liability is None or base_liability is None:
        raise ValueError("a cost-neutral transfer needs the liabilities under both rules")
    total = sum(liability.values()) - sum(base_liability.values())
    weights = {m: municipality_attribute(v, transfers.allocate_by)
               for m, v in municipalities.items()}
    weight_sum = sum(weights.values())
    if weight_sum <= 0:
        raise ValueError(f"every municipality has {transfers.allocate_by} 0; nothing to "
                         f"allocate by")
    return {m: total * w / weight_sum for m, w in weights.items()}
