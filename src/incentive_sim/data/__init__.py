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


@cache
def finland_2025() -> tuple[MunicipalityRecord, ...]:
    """The 292 mainland municipalities (Åland is outside Kela's scheme), in code order."""
    rows = _rows("paavo_2018_age_groups_by_municipality.csv")
    # by code; the two municipalities merged away since 2018 have no 2025 code: by name
    paavo = {r["municipality_code"] or r["paavo_area_name"]: r for r in rows}
    rates: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in _rows("municipal_unemployment_rate_monthly.csv"):
        value = r["unemployed_share_of_labour_force_pct"]
        if value:
            rates[r["municipality_code"]][r["month"][:4]].append(float(value))
    areas = {r["municipality_code"]: r for r in _rows("employment_areas.csv")}
    out = []
    for r in _rows("municipalities.csv"):
        if r["is_aland"] != "0":
            continue
        members = (r["municipality_code"], *PAAVO_MERGED.get(r["municipality"], ()))
        total = sum(float(paavo[m]["Inhabitants, total"]) for m in members)
        working = sum(float(paavo[m][g]) for m in members for g in PAAVO_WORKING_AGE)
        population = int(r["population_2024_12_prelim"])
        by_year = rates[r["municipality_code"]]
        area = areas.get(r["municipality_code"])
        out.append(MunicipalityRecord(
            code=r["municipality_code"], name=r["municipality"], name_sv=r["municipality_sv"],
            region=r["region"], population=population,
            working_age_population=round(population * working / total),
            unemployment_rate=round(sum(by_year["2024"]) / len(by_year["2024"]), 4),
            unemployment_rate_2023=round(sum(by_year["2023"]) / len(by_year["2023"]), 4),
            unemployment_rate_2024_12=float(r["unemployment_rate_2024_12"]),
            employment_area=area["employment_area"] if area else
            f"{r['region']} (area not known)",
            employment_area_known=area is not None,
            employment_area_status=area["membership_status"] if area else "not known"))
    return tuple(sorted(out, key=lambda m: m.code))


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
