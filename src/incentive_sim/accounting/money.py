"""The money measures of docs/glossary.md, computed in one place from ledger amounts, so every
table, file and plot says the same thing with the same word; and the yearly table per
municipality (`municipalities_yearly.csv`) that `run` and `compare` both write.

Ledger amounts are costs to a payer (a receipt is negative). The measures turn them into the
words a finance director uses, each with one sign:

- `gross_benefits` = `fund` + `state_share` + `municipal_share` (benefits paid, by who pays);
- `transfer` and `bonus`: what the municipality receives (positive from the state to the
  municipality; a transfer may be negative);
- `net_before_transfer` = `municipal_share` + `municipal_services` - `bonus`;
- `net` (the net municipal cost) = `net_before_transfer` - `transfer`;
- `state_net` = `state_share` + `state_services` + the state's transfers and bonuses paid;
- `gross_outlay` = `gross_benefits` + `municipal_services` + `state_services` (what all payers
  pay together; transfers and bonuses net out).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..funding.money import cents
from ..scenario.vocabulary import ITEMS, PAYERS

FloatArray = npt.NDArray[np.float64]

MEASURES: tuple[str, ...] = (
    "gross_benefits", "fund", "state_share", "municipal_share", "municipal_services",
    "state_services", "bonus", "transfer", "net_before_transfer", "net", "state_net",
    "gross_outlay")
"""The money measures, by their key in summary.json and comparison.json."""
LABELS: dict[str, str] = {
    "gross_benefits": "gross benefits", "fund": "fund part", "state_share": "state share",
    "municipal_share": "municipal benefit share", "municipal_services":
    "municipal service costs", "state_services": "state service costs", "bonus": "bonuses",
    "transfer": "state transfer", "net_before_transfer": "net municipal cost before transfer",
    "net": "net municipal cost", "state_net": "net state cost", "gross_outlay": "gross outlay"}
"""What the terminal, the reports and the plots call each measure."""

_P = {p: i for i, p in enumerate(PAYERS)}
_I = {item: i for i, item in enumerate(ITEMS)}


def measures(amounts: FloatArray) -> FloatArray:
    """Ledger amounts `(..., payer, item)` -> the MEASURES `(..., measure)`."""
    a = np.asarray(amounts, np.float64)
    benefit, service = a[..., _I["benefit"]], a[..., _I["service"]]
    state, muni, fund = _P["state"], _P["municipality"], _P["fund"]
    bonus = -a[..., muni, _I["bonus"]]
    transfer = -a[..., muni, _I["transfer"]]
    share = benefit[..., muni]
    services = service[..., muni]
    before = share + services - bonus
    out = {
        "gross_benefits": benefit.sum(axis=-1),
        "fund": benefit[..., fund] + 0.0,
        "state_share": benefit[..., state] + 0.0,
        "municipal_share": share + 0.0,
        "municipal_services": services + 0.0,
        "state_services": service[..., state] + 0.0,
        "bonus": bonus + 0.0,
        "transfer": transfer + 0.0,
        "net_before_transfer": before,
        "net": before - transfer,
        "state_net": a[..., state, :].sum(axis=-1),
        "gross_outlay": a.sum(axis=(-2, -1)),
    }
    return np.stack([out[m] for m in MEASURES], axis=-1)


def measures_dict(amounts: FloatArray) -> dict[str, float]:
    """The measures of one `(payer, item)` block, to the cent."""
    values = measures(amounts)
    return {m: cents(float(values[i])) for i, m in enumerate(MEASURES)}


def interval(x: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Mean over axis 0 (replications) and its 95 % Student-t interval (NaN for one)."""
    n = x.shape[0]
    mean = x.mean(axis=0)
    if n < 2:
        nan = np.full_like(mean, np.nan)
        return mean, nan, nan
    # imported here: scipy.stats takes most of a second to import, which commands that
    # compute no interval (explain above all) should not pay
    from scipy import stats

    half = stats.t.ppf(0.975, n - 1) * x.std(axis=0, ddof=1) / np.sqrt(n)
    return mean, mean - half, mean + half


# ---------------------------------------------------------------- municipalities_yearly.csv

YEARLY_MEASURES = ("recipients", "benefit_days", "gross_eur", "municipal_share_eur",
                   "state_share_eur", "fund_eur", "municipal_services_eur", "transfer_eur",
                   "bonus_eur", "net_eur")
"""The numeric columns of municipalities_yearly.csv (a contract), in order."""
YEARLY_KEYS = ("rule", "municipality_code", "municipality", "year")
YEARLY_COLUMNS = (*YEARLY_KEYS, *YEARLY_MEASURES)
YEARLY_STATISTICS = ("ci_low", "ci_high", "diff", "diff_ci_low", "diff_ci_high")
_FROM_MONEY = {"municipal_share_eur": "municipal_share", "state_share_eur": "state_share",
               "fund_eur": "fund", "municipal_services_eur": "municipal_services",
               "transfer_eur": "transfer", "bonus_eur": "bonus", "net_eur": "net"}


def yearly_columns(with_intervals: bool) -> tuple[str, ...]:
    """The header of municipalities_yearly.csv: each measure `M`, and with intervals `M`,
    `M_ci_low`, `M_ci_high`, `M_diff`, `M_diff_ci_low`, `M_diff_ci_high`."""
    if not with_intervals:
        return YEARLY_COLUMNS
    return (*YEARLY_KEYS, *(f"{m}{suffix}" for m in YEARLY_MEASURES
                            for suffix in ("", *(f"_{s}" for s in YEARLY_STATISTICS))))


def yearly_values(amounts: FloatArray, people: FloatArray) -> FloatArray:
    """One replication's YEARLY_MEASURES `(rule, year, municipality, measure)` from the
    ledger's yearly view: `amounts (rule, year, municipality, payer, item)` and `people`
    (recipients, benefit days, gross benefits; each `(year, municipality)`, or with a leading
    rule axis where each rule has its own history)."""
    money = measures(amounts)
    people = np.asarray(people, np.float64)
    if people.ndim == 3:
        people = np.broadcast_to(people, (amounts.shape[0], *people.shape))
    columns = [people[:, 0], people[:, 1], people[:, 2],
               *(money[..., MEASURES.index(_FROM_MONEY[c])] for c in YEARLY_MEASURES[3:])]
    return np.stack(columns, axis=-1)


def yearly_summary(per_replication: FloatArray) -> dict[str, FloatArray]:
    """Mean, interval and paired difference from the first rule of `(replication, rule, ...)`
    values, keyed by "" (the mean) and YEARLY_STATISTICS."""
    mean, low, high = interval(per_replication)
    d_mean, d_low, d_high = interval(per_replication - per_replication[:, :1])
    return {"": mean, "ci_low": low, "ci_high": high, "diff": d_mean, "diff_ci_low": d_low,
            "diff_ci_high": d_high}
