"""Public data shipped with the package: Finland's municipalities of 1.1.2025 with their
population, working-age population, register unemployment rates and employment areas, and
Kela's national 2025 figures on the municipal share of unemployment benefits.

Sources and licences are in `SOURCES.md` beside this file ("Source: Statistics Finland",
CC BY 4.0; Kela's published statistics). Files are read as package resources, so they are found
also when the package is installed zipped.
"""

from __future__ import annotations

import csv
import importlib.resources
import io
from collections import defaultdict
from dataclasses import dataclass
from functools import cache

import numpy as np

from .dynamics import ExitRates, fit_exit_rates

CATALOGUES = ("finland_2025",)

# Kela's Finnish benefit names in its co-financing statistics.
KELA_BENEFITS = {"Ansiopäiväraha": "earnings_related", "Peruspäiväraha": "basic_allowance",
                 "Työmarkkinatuki": "labour_market_subsidy", "Yhteensä": "all"}
KELA_TOTAL = "Yhteensä"

# Municipalities merged into another since Paavo's 2018 division: their 2018 rows add to it.
PAAVO_MERGED = {"Mäntyharju": ("Pertunmaa",), "Kankaanpää": ("Honkajoki",)}
PAAVO_WORKING_AGE = ("16-17 years", "18-19 years", "20-24 years", "25-29 years", "30-34 years",
                     "35-39 years", "40-44 years", "45-49 years", "50-54 years", "55-59 years",
                     "60-64 years")


def _rows(name: str) -> list[dict[str, str]]:
    text = (importlib.resources.files(__name__) / name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@dataclass(frozen=True)
class MunicipalityRecord:
    """One municipality of the 1.1.2025 division, as the shipped data give it."""

    code: str                      # Statistics Finland's three-digit code, e.g. "091"
    name: str
    name_sv: str
    region: str
    population: int                # end of 2024, preliminary
    working_age_population: int    # derived: population x the 16-64 share of Paavo 2018
    unemployment_rate: float       # register share of the labour force, %, mean of 2024
    unemployment_rate_2023: float  # mean of 2023
    unemployment_rate_2024_12: float
    employment_area: str
    employment_area_known: bool    # False: "<region> (area not known)", one area per region
    employment_area_status: str    # how sure the membership is (employment_areas.csv)
    labour_force_participation: float  # the region's labour force / population 15-64 (LFS 2020)
    exit_index: float              # relative speed of exits from unemployment (data.dynamics)


@cache
def monthly_rates() -> tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[float, ...], ...]]:
    """Register unemployment rates (% of the labour force) of the mainland municipalities by
    month: (codes, months "YYYYMmm", rates[code][month]), months where every municipality has
    a value (the months of the shipped file, 2023M01-2025M01)."""
    values: dict[str, dict[str, float]] = defaultdict(dict)
    for r in _rows("municipal_unemployment_rate_monthly.csv"):
        if r["unemployed_share_of_labour_force_pct"]:
            values[r["municipality_code"]][r["month"]] = float(
                r["unemployed_share_of_labour_force_pct"])
    codes = tuple(sorted(r["municipality_code"] for r in _rows("municipalities.csv")
                         if r["is_aland"] == "0"))
    months = tuple(sorted(set.intersection(*(set(values[c]) for c in codes))))
    return codes, months, tuple(tuple(values[c][m] for m in months) for c in codes)


@cache
def participation_by_region() -> dict[str, float]:
    """Labour force / population aged 15-64 by region, Labour Force Survey 2020."""
    return {r["region"]: float(r["labour_force"]) / float(r["population_in_age_group"])
            for r in _rows("regional_unemployment.csv")
            if r["year"] == "2020" and r["age_group"] == "15-64"}


@cache
def working_age_population() -> dict[str, int]:
    """Mainland municipalities' population at the end of 2024 x their share aged 16-64 in
    Paavo 2018, by code (see SOURCES.md)."""
    # by code; the two municipalities merged away since 2018 have no 2025 code: by name
    paavo = {r["municipality_code"] or r["paavo_area_name"]: r
             for r in _rows("paavo_2018_age_groups_by_municipality.csv")}
    out = {}
    for r in _rows("municipalities.csv"):
        if r["is_aland"] != "0":
            continue
        members = (r["municipality_code"], *PAAVO_MERGED.get(r["municipality"], ()))
        total = sum(float(paavo[m]["Inhabitants, total"]) for m in members)
        working = sum(float(paavo[m][g]) for m in members for g in PAAVO_WORKING_AGE)
        out[r["municipality_code"]] = round(int(r["population_2024_12_prelim"]) * working / total)
    return out


@cache
def finland_2025() -> tuple[MunicipalityRecord, ...]:
    """The 292 mainland municipalities (Åland is outside Kela's scheme), in code order."""
    rates: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in _rows("municipal_unemployment_rate_monthly.csv"):
        value = r["unemployed_share_of_labour_force_pct"]
        if value:
            rates[r["municipality_code"]][r["month"][:4]].append(float(value))
    areas = {r["municipality_code"]: r for r in _rows("employment_areas.csv")}
    participation = participation_by_region()
    exits = exit_indices()
    working = working_age_population()
    out = []
    for r in _rows("municipalities.csv"):
        if r["is_aland"] != "0":
            continue
        population = int(r["population_2024_12_prelim"])
        by_year = rates[r["municipality_code"]]
        area = areas.get(r["municipality_code"])
        out.append(MunicipalityRecord(
            code=r["municipality_code"], name=r["municipality"], name_sv=r["municipality_sv"],
            region=r["region"], population=population,
            working_age_population=working[r["municipality_code"]],
            unemployment_rate=round(sum(by_year["2024"]) / len(by_year["2024"]), 4),
            unemployment_rate_2023=round(sum(by_year["2023"]) / len(by_year["2023"]), 4),
            unemployment_rate_2024_12=float(r["unemployment_rate_2024_12"]),
            employment_area=area["employment_area"] if area else
            f"{r['region']} (area not known)",
            employment_area_known=area is not None,
            employment_area_status=area["membership_status"] if area else "not known",
            labour_force_participation=round(participation[r["region"]], 4),
            exit_index=round(exits[r["municipality_code"]], 4)))
    return tuple(sorted(out, key=lambda m: m.code))


@cache
def exit_fit() -> ExitRates:
    """The stock model of `dynamics` fitted to the shipped monthly rates, the municipalities
    weighted by their labour force (working-age population x participation), in code order."""
    codes, _, rates = monthly_rates()
    participation = participation_by_region()
    region = {r["municipality_code"]: r["region"] for r in _rows("municipalities.csv")}
    working = working_age_population()
    weight = [working[c] * participation[region[c]] for c in codes]
    return fit_exit_rates(np.asarray(rates), np.asarray(weight))


def exit_indices() -> dict[str, float]:
    """Each mainland municipality's exit index (`dynamics`), by code."""
    codes = monthly_rates()[0]
    return dict(zip(codes, exit_fit().index.tolist(), strict=True))


@dataclass(frozen=True)
class KelaCell:
    """Kela's municipal share of one benefit (or `all`) and day class (or `all`), for the
    year (month 0) or a month of 2025."""

    month: int
    benefit: str
    day_class: str
    recipients: int
    municipal_share_eur: float


@cache
def kela_2025() -> tuple[KelaCell, ...]:
    """Kela's national 2025 figures: annual by benefit and class, monthly by benefit."""
    out = []
    for r in _rows("kela_municipal_share_national_2025.csv"):
        annual = r["period_type"].startswith("year-to-date")
        day_class = r["accumulation_class_days"]
        out.append(KelaCell(0 if annual else int(r["month"]), KELA_BENEFITS[r["benefit"]],
                            "all" if day_class == KELA_TOTAL else day_class,
                            int(r["recipients"]), float(r["municipal_share_eur"])))
    return tuple(out)
