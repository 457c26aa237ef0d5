"""The fixed words of the domain: spell states, benefit types, payers, cost items.

Codes are the positions in these tuples; the SpellTable stores codes, never strings.
"""

from __future__ import annotations

from typing import Literal

STATES: tuple[str, ...] = (
    "unemployed",            # open unemployment, benefit paid
    "waiting",               # referred and queued for a service, benefit paid
    "service",               # in an employment service (benefit paid unless the service says not)
    "employed",
    "subsidised_employment",
    "education",
    "inactive",              # out of the labour force
    "exit",                  # left the population for good
)
State = Literal["unemployed", "waiting", "service", "employed", "subsidised_employment",
                "education", "inactive", "exit"]
STATE_CODE: dict[str, int] = {s: i for i, s in enumerate(STATES)}

BENEFITS: tuple[str, ...] = ("labour_market_subsidy", "basic_allowance", "earnings_related")
Benefit = Literal["labour_market_subsidy", "basic_allowance", "earnings_related"]
BENEFIT_CODE: dict[str, int] = {b: i for i, b in enumerate(BENEFITS)}
NO_BENEFIT = -1

# Transitions out of unemployment, named by what happens; each enters one state.
TRANSITIONS: dict[str, str] = {
    "employment": "employed",
    "education": "education",
    "inactivity": "inactive",
    "subsidised_employment": "subsidised_employment",
}
Transition = Literal["employment", "education", "inactivity", "subsidised_employment"]

PAYERS: tuple[str, ...] = ("state", "municipality", "fund")
Payer = Literal["state", "municipality", "fund"]
ITEMS: tuple[str, ...] = ("benefit", "service", "bonus", "transfer")

PROVIDERS: tuple[str, ...] = ("municipal", "private", "ngo", "state")
Provider = Literal["municipal", "private", "ngo", "state"]
