"""The ledger: a simulated history priced under every rule of a scenario, booked by rule,
calendar month, municipality, payer and item.

Pure and deterministic (no randomness). Segments are first split at calendar-month boundaries
(`split_by_month`), each piece entering with the counter the rule had reached at that moment, so
every benefit and service day lands in its own month. Pricing is additive over such splits: the
share-weighted integral telescopes over the pieces of a counted segment, and a reset never
happens inside a counted segment (a state may not both count and qualify for a reset), so the
split table prices to the same totals as the unsplit one.

Items: `benefit`, `service`, `bonus` (a cost to its payer, a receipt to its payee, both booked
in the month of the payment day and the municipality of the segment that earned it) and
`transfer` (the state's transfer to a municipality that goes with the rule: +amount to the
state, -amount to the municipality, spread evenly over the horizon by days; see Plan.of).
Bonuses and transfers net out per month and municipality, so the payers of every (rule, month,
municipality) add up to the gross outlay: benefits paid plus the cost of service days.

A history is priced in chunks of whole people (bonuses look at a person's consecutive
segments), which bounds memory at national scale; amounts are summed in a fixed order, so the
same history always gives the same bits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import numpy.typing as npt

from ..funding.counters import (
    counted_mask,
    counter_in_force,
    rule_counters,
    split_at,
    split_by_phase,
)
from ..funding.pricing import Pricing, ServiceCosts, price, service_costs_of
from ..funding.rules import CompiledRule, compile_rule
from ..funding.spells import (
    SpellTable,
    distinct,
    parts_of,
    person_chunks,
    searchsorted_days,
)
from ..funding.transfers import transfer_amounts
from ..memory import handing_back
from ..scenario import scenario_rules
from ..scenario.schema import Scenario, Transfers
from ..scenario.vocabulary import ITEMS, PAYERS, STATE_CODE
from ..simulation.population import month_starts as calendar_month_starts

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

SERVICE = STATE_CODE["service"]
PAYER_INDEX = {p: i for i, p in enumerate(PAYERS)}
ITEM_INDEX = {item: i for i, item in enumerate(ITEMS)}
CHUNK_ROWS = 100_000        # segments priced at a time (before splitting into months)
STAIRCASE_ROWS = 2_000_000  # segments put on the staircase of paid days at a time


# ---------------------------------------------------------------- months

def month_index(month_starts: FloatArray, day: npt.ArrayLike) -> IntArray:
    """The month (index into `month_starts`) holding each day; days before the first month
    start belong to month 0."""
    i = searchsorted_days(month_starts, day) - 1
    return np.asarray(np.clip(i, 0, len(month_starts) - 1), np.int64)


def month_labels(start: dt.date, month_starts: FloatArray) -> tuple[str, ...]:
    """`YYYY-MM` of every month start (the first one is the start date's month)."""
    labels = []
    for offset in month_starts:
        d = start + dt.timedelta(days=float(offset))
        labels.append(f"{d.year:04d}-{d.month:02d}")
    return tuple(labels)


def month_days(month_starts: FloatArray, horizon_days: float) -> FloatArray:
    """Days of each month that fall inside the horizon."""
    return np.diff(np.append(month_starts, float(horizon_days)))


def year_starts(month_starts: FloatArray, months: Sequence[str]) -> tuple[tuple[int, ...],
                                                                           FloatArray]:
    """The calendar years the months touch, and the day offset each begins at (0 for the
    first, even mid-year)."""
    years = tuple(sorted({int(m[:4]) for m in months}))
    starts = [0.0] + [float(d) for d, m in zip(month_starts, months, strict=True)
                      if m.endswith("-01") and d > 0]
    return years, np.asarray(starts)


def paid_days_by_counter(spells: SpellTable, rule: CompiledRule,
                         counters: Mapping[str, FloatArray] | FloatArray) -> FloatArray:
    """Benefit days paid of the benefits the rule covers, by the rule's counter at the moment
    each was paid, summed in the bins COUNTER_DAY_BINS (the last bin takes everything from
    its start on): where the caseload's days fall on the rule's staircase. A segment whose
    days advance the counter spreads them evenly over [c, c + paid days); one whose days do
    not (a service day under the two-step rule) puts them all at its counter c. Exact, in
    one pass: a ramp's days in its first and last bins, and the whole bins in between.
    Under a timeline each day is placed on the staircase of the rule in force on its date."""
    if not isinstance(counters, Mapping):
        counters = {rule.name: counters}
    if rule.is_timeline:
        pieces, piece_counters, _, parts = split_by_phase(spells, rule, counters,
                                                          only=spells.benefit_paid)
        total = np.zeros(COUNTER_DAY_BINS.size - 1)
        for simple, here in parts:
            total += paid_days_by_counter(pieces.take(here), simple,
                                          piece_counters[simple][here])
        return total
    counter = np.asarray(counters[rule.name], np.float64)
    covered = spells.benefit_paid & (rule.block_of_benefit[spells.benefit] >= 0)
    paid = np.where(covered, spells.paid_days, 0.0)
    moving = counted_mask(spells, rule) & (paid > 0)     # a ramp of no days adds nothing
    edges = COUNTER_DAY_BINS
    bins = edges.size - 1
    total = np.zeros(bins)

    def bin_of(x: FloatArray) -> IntArray:            # the last bin takes all from its start
        return np.asarray(np.clip(searchsorted_days(edges, x) - 1, 0, bins - 1))

    # a ramp [c, c + days): its part in its first bin, in its last, and the bins in between
    # whole (counted by a difference array); days below the first edge are on no bin
    c = np.maximum(counter[moving], edges[0])
    e = np.maximum(counter[moving] + paid[moving], edges[0])
    lo, hi = bin_of(c), bin_of(e)
    one = lo == hi
    total += np.bincount(lo[one], weights=(e - c)[one], minlength=bins)
    lo, hi, c, e = lo[~one], hi[~one], c[~one], e[~one]
    total += np.bincount(lo, weights=edges[lo + 1] - c, minlength=bins)
    total += np.bincount(hi, weights=e - edges[hi], minlength=bins)
    whole = np.cumsum(np.bincount(lo + 1, minlength=bins + 1)
                      - np.bincount(hi, minlength=bins + 1))[:bins]
    total += whole * np.diff(edges)
    # a point: all its days at its counter
    point = ~moving & (paid > 0) & (counter >= edges[0])
    total += np.bincount(bin_of(counter[point]), weights=paid[point], minlength=bins)
    return np.asarray(np.maximum(total, 0.0))


def split_by_month(spells: SpellTable, month_starts: npt.ArrayLike,
                   counters: Mapping[CompiledRule, FloatArray],
                   only: npt.NDArray[np.bool_] | None = None,
                   ) -> tuple[SpellTable, dict[CompiledRule, FloatArray]]:
    """Split every segment (or the segments where `only` is true) at calendar-month
    boundaries, each piece entering with the counter of every simple rule in `counters`
    (see `split_at`)."""
    table, out, _ = split_at(spells, month_starts, counters, only)
    return table, out


# ---------------------------------------------------------------- what pricing needs

def service_costs(scenario: Scenario, names: tuple[str, ...]) -> ServiceCosts:
    """ServiceCosts indexed by the service codes of a SpellTable whose services are `names`."""
    services = [scenario.services[n] for n in names]
    return ServiceCosts(
        cost_per_day=np.array([s.cost_per_day for s in services], np.float64),
        paid_by_state=np.array([s.paid_by == "state" for s in services], bool),
        state_compensation_per_day=np.array([s.state_compensation_per_day for s in services],
                                            np.float64),
    )


COUNTER_DAY_BINS = np.arange(0.0, 2000.0 + 25.0, 25.0)


@dataclass(frozen=True, eq=False)
class Plan:
    """Everything about a scenario that pricing needs, compiled once for all replications:
    the rules it reports (in force first), the base rules its transfers need, the months."""

    scenario: Scenario
    priced: tuple[str, ...]
    compiled: dict[str, CompiledRule]          # priced rules and transfer bases
    transfers: dict[str, tuple[Transfers, ...]]  # rule -> the transfers applied to it
    month_starts: FloatArray
    months: tuple[str, ...]
    municipalities: tuple[str, ...]

    @classmethod
    def of(cls, scenario: Scenario, rules_priced: Sequence[str] | None = None,
           transfers: bool = True) -> Plan:
        """The scenario's rules (in force first, then compared), or `rules_priced`. With
        `transfers` (as the law has it) every priced rule gets its own transfers: the
        scenario's and the rule's own, each worked out for that rule (a cost-neutral transfer
        against a base is zero for the base itself); without, no rule gets any, so the
        rules' own municipal costs can be compared."""
        rules = scenario_rules(scenario)
        priced = tuple(dict.fromkeys(rules_priced or scenario.rule_names()))
        given = {name: tuple(t for t in (scenario.funding.transfers, rules[name].transfers)
                             if t is not None) for name in (priced if transfers else ())}
        given = {name: ts for name, ts in given.items() if ts}
        names = list(priced) + [t.base for ts in given.values() for t in ts
                                if t.kind == "cost_neutral"]
        ppw = scenario.benefits.paid_days_per_week
        cache: dict[str, CompiledRule] = {}
        compiled = {n: compile_rule(n, rules, ppw, scenario.start_date, cache)
                    for n in dict.fromkeys(names)}
        starts = calendar_month_starts(scenario.start_date, scenario.horizon_days)
        return cls(scenario, priced, compiled, given, starts,
                   month_labels(scenario.start_date, starts), tuple(scenario.municipalities))

    @property
    def in_force(self) -> str:
        return self.scenario.funding.in_force

    @property
    def counter_shown(self) -> CompiledRule:
        """The rule whose counter a history's segments show (Ledger.counter_in_force, the
        counter_at_start of spells.csv.gz): the rule in force, or the first priced."""
        return self.compiled[self.in_force if self.in_force in self.priced else self.priced[0]]

    def simple_rules(self) -> dict[str, CompiledRule]:
        """Every simple rule whose counter pricing needs (the rules of timelines), by name."""
        return {r.name: r for rule in self.compiled.values() for r in rule.simple_rules()}

    def explained_rules(self) -> tuple[str, ...]:
        """The simple rules whose counters explaining a person under the priced rules needs
        (transfer bases not among them)."""
        return tuple(dict.fromkeys(r.name for name in self.priced
                                   for r in self.compiled[name].simple_rules()))


# ---------------------------------------------------------------- the ledger

@dataclass(frozen=True, eq=False)
class Ledger:
    """Amounts of one simulated history: `amounts[rule, month, municipality, payer, item]`
    (rules in `rules` order, payers and items in vocabulary order), and the gross outlay per
    month and municipality, which every rule's payers add up to."""

    rules: tuple[str, ...]
    months: tuple[str, ...]
    municipalities: tuple[str, ...]
    amounts: FloatArray
    gross: FloatArray                           # (month, municipality)
    transfers: dict[str, FloatArray]            # rule -> per municipality, over the horizon
    counter_in_force: FloatArray                # the in-force rule's counter per segment
    # rule -> benefit days paid, by the rule's counter when they were paid, in the bins
    # COUNTER_DAY_BINS (see paid_days_by_counter)
    paid_days_by_counter: dict[str, FloatArray]
    yearly: Yearly | None = None

    @classmethod
    def build(cls, scenario: Scenario, spells: SpellTable, plan: Plan | None = None,
              chunk_rows: int = CHUNK_ROWS,
              counters_given: Mapping[str, FloatArray] | None = None,
              bookings: Sequence[Booking] | None = None) -> Ledger:
        """Price `spells` under every rule the scenario reports (and the base rules of its
        transfers). The history is priced in chunks of whole people of about `chunk_rows`
        segments, so memory stays bounded however large the history; a table of parts
        (SpellTable.parts) part by part, the parts' amounts then added. `bookings`: the
        parts' amounts booked already (Booking.of of each part, as a national simulation's
        shards book them), in the table's part order."""
        plan = plan or Plan.of(scenario)
        if spells.municipalities != plan.municipalities:
            raise ValueError("the history's municipalities are not the scenario's")
        simple = plan.simple_rules()
        counters = {name: rule_counter(spells, rule, counters_given)
                    for name, rule in simple.items()}
        if bookings is None:
            bookings = [Booking.of(scenario, part, plan, chunk_rows,
                                   {name: c[rows] for name, c in counters.items()})
                        for rows, part in parts_of(spells)]
        booking = Booking.added(bookings)
        booked, yearly = booking.booked, booking.yearly
        n_munis = len(plan.municipalities)
        _, first_days = year_starts(plan.month_starts, plan.months)
        transfers: dict[str, FloatArray] = {}
        share = month_days(plan.month_starts, scenario.horizon_days) / scenario.horizon_days
        for name, rule_transfers in plan.transfers.items():
            total = np.zeros(n_munis)
            for t in rule_transfers:
                total += _transfer(t, name, plan, booked)
            transfers[name] = total
        year_share = np.diff(np.append(first_days, float(scenario.horizon_days))) / (
            scenario.horizon_days)
        for name, total in transfers.items():   # after all: a base may itself receive some
            spread = share[:, None] * total[None, :]
            booked[name][:, :, PAYER_INDEX["state"], ITEM_INDEX["transfer"]] += spread
            booked[name][:, :, PAYER_INDEX["municipality"], ITEM_INDEX["transfer"]] -= spread
            if name in plan.priced:
                spread = year_share[:, None] * total[None, :]
                r = plan.priced.index(name)
                yearly.amounts[r, :, :, PAYER_INDEX["state"], ITEM_INDEX["transfer"]] += spread
                yearly.amounts[r, :, :, PAYER_INDEX["municipality"],
                               ITEM_INDEX["transfer"]] -= spread
        amounts = np.stack([booked[name] for name in plan.priced])
        return cls(plan.priced, plan.months, plan.municipalities, amounts, booking.gross,
                   transfers, counter_in_force(spells, plan.counter_shown, counters),
                   booking.by_counter, yearly)

    # ------------------------------------------------------------ views

    def rule_index(self, rule: str) -> int:
        return self.rules.index(rule)

    def totals(self, rule: str) -> dict[str, float]:
        """payer -> total over months, municipalities and items; plus `gross`."""
        a = self.amounts[self.rule_index(rule)].sum(axis=(0, 1, 3))
        out = {p: float(a[i]) for i, p in enumerate(PAYERS)}
        out["gross"] = float(a.sum())
        return out

    def by_item(self, rule: str) -> dict[str, dict[str, float]]:
        """payer (and `gross`) -> item -> total."""
        a = self.amounts[self.rule_index(rule)].sum(axis=(0, 1))      # (payer, item)
        out = {p: {item: float(a[i, j]) for j, item in enumerate(ITEMS)}
               for i, p in enumerate(PAYERS)}
        out["gross"] = {item: float(a[:, j].sum()) for j, item in enumerate(ITEMS)}
        return out

    def by_municipality(self, rule: str) -> dict[str, dict[str, float]]:
        """municipality -> payer (and `gross`) -> total."""
        a = self.amounts[self.rule_index(rule)].sum(axis=(0, 3))      # (municipality, payer)
        return {m: {**{p: float(a[k, i]) for i, p in enumerate(PAYERS)},
                    "gross": float(a[k].sum())}
                for k, m in enumerate(self.municipalities)}

    def municipal_liability(self, rule: str) -> FloatArray:
        """Per municipality: what the municipality pays under the rule before transfers."""
        a = self.amounts[self.rule_index(rule)][:, :, PAYER_INDEX["municipality"]]
        return np.asarray(a.sum(axis=0)[:, :ITEM_INDEX["transfer"]].sum(axis=1))


@dataclass(frozen=True, eq=False)
class Booking:
    """A history's amounts before transfers (of one part of a table, or of a whole one): by
    rule (month, municipality, payer, item), the gross outlay (month, municipality), the
    yearly view, and the paid days on each priced rule's staircase."""

    booked: dict[str, FloatArray]
    gross: FloatArray
    yearly: Yearly
    by_counter: dict[str, FloatArray]

    @classmethod
    def of(cls, scenario: Scenario, spells: SpellTable, plan: Plan,
           chunk_rows: int = CHUNK_ROWS,
           counters: Mapping[str, FloatArray] | None = None) -> Booking:
        """The amounts of `spells` (one part), with the counters of the plan's simple rules
        (by name; those missing are taken from the table or worked out)."""
        simple = plan.simple_rules()
        if counters is None or any(name not in counters for name in simple):
            counters = {name: rule_counter(spells, rule, counters)
                        for name, rule in simple.items()}
        costs = service_costs(scenario, spells.services)
        n_months, n_munis = len(plan.months), len(plan.municipalities)
        booked = {name: np.zeros((n_months, n_munis, len(PAYERS), len(ITEMS)))
                  for name in plan.compiled}
        gross = np.zeros((n_months, n_munis))
        # the yearly view: benefits by the year they are paid in (day + payment lag; payments
        # after the horizon are not booked, as in Kela's bill), the rest by the year they fall in
        lag = float(scenario.benefits.payment_lag_days)
        years, first_days = year_starts(plan.month_starts, plan.months)
        n_years = len(years)
        yearly = Yearly.empty(plan, years)
        bounds = np.union1d(plan.month_starts, np.append(first_days[1:] - lag,
                                                         scenario.horizon_days - lag))
        bounds = bounds[bounds >= 0]
        people = int(spells.person_id.max()) + 1 if len(spells) else 1   # (cell, person) keys
        for rows in handing_back(person_chunks(spells, chunk_rows)):
            chunk = spells.take(rows)
            # Only segments that cost something need splitting (jobs, education ... stay whole).
            costly = chunk.benefit_paid | ((chunk.state == SERVICE) & (chunk.service >= 0))
            pieces, piece_counters = split_by_month(
                chunk, bounds, {rule: counters[name][rows] for name, rule in simple.items()},
                only=costly)
            by_name = {rule.name: c for rule, c in piece_counters.items()}
            cell = month_index(plan.month_starts, pieces.start_day) * n_munis + pieces.municipality
            due = pieces.start_day + lag < scenario.horizon_days
            paid_in = np.where(due, month_index(first_days, pieces.start_day + lag), n_years)
            year_cell = (paid_in * n_munis + pieces.municipality).astype(np.int64)
            fell_in = (month_index(first_days, pieces.start_day) * n_munis
                       + pieces.municipality).astype(np.int64)

            def book(weights: FloatArray, where: IntArray = cell) -> FloatArray:
                summed = np.bincount(where, weights=weights, minlength=n_months * n_munis)
                return np.asarray(summed, np.float64).reshape(n_months, n_munis)

            def book_year(weights: FloatArray, where: IntArray) -> FloatArray:
                summed = np.bincount(where, weights=weights, minlength=(n_years + 1) * n_munis)
                return np.asarray(summed, np.float64)[:n_years * n_munis].reshape(n_years,
                                                                                  n_munis)

            by_payment = partial(book_year, where=year_cell)
            by_day = partial(book_year, where=fell_in)
            services = service_costs_of(pieces, costs)
            # what is the same under every rule is worked out and booked once
            same: dict[tuple[int, int], FloatArray] = {}
            same_yearly: dict[tuple[int, int], FloatArray] = {}
            for name, rule in plan.compiled.items():
                pricing = price(pieces, rule, costs, by_name, services)
                if not same:
                    same = _rule_free(pricing, book, book)
                    same_yearly = _rule_free(pricing, by_payment, by_day)
                booked[name] += _book_pricing(pricing, pieces, plan, book, same)
                if name in plan.priced:
                    yearly.book(plan.priced.index(name), pricing, pieces, first_days,
                                by_payment, same_yearly)
            paid = pieces.benefit_paid & (pieces.paid_days > 0) & due
            yearly.benefit_days[:] += book_year(np.where(paid, pieces.paid_days, 0.0),
                                                year_cell)
            yearly.gross_benefits[:] += book_year(
                np.where(paid, pieces.daily_amount * pieces.paid_days, 0.0), year_cell)
            cells = cells_of_distinct_pairs(year_cell[paid], pieces.person_id[paid], people)
            yearly.recipients[:] += np.bincount(cells, minlength=(n_years + 1) * n_munis)[
                :n_years * n_munis].reshape(n_years, n_munis)
            in_service = (pieces.state == SERVICE) & (pieces.service >= 0)
            service_cost = np.zeros(len(pieces))
            if len(costs.cost_per_day):
                code = np.where(in_service, pieces.service, 0)
                service_cost = np.where(in_service, costs.cost_per_day[code] * pieces.duration,
                                        0.0)
            gross += book(pieces.daily_amount * pieces.paid_days + service_cost)

        # the staircase of paid days: sums over segments, so taken a few million at a time
        # (views of the history's columns: slices copy nothing)
        by_counter = {name: np.zeros(COUNTER_DAY_BINS.size - 1) for name in plan.priced}
        for lo in range(0, len(spells), STAIRCASE_ROWS):
            span = slice(lo, min(lo + STAIRCASE_ROWS, len(spells)))
            part = spells.take(span)
            here = {name: c[span] for name, c in counters.items()}
            for name in plan.priced:
                by_counter[name] += paid_days_by_counter(part, plan.compiled[name], here)
        return cls(booked, gross, yearly, by_counter)

    @classmethod
    def added(cls, parts: Sequence[Booking]) -> Booking:
        """The parts' amounts added, in order (parts of different municipalities: exact)."""
        first = parts[0]
        if len(parts) == 1:
            return first
        years = [p.yearly for p in parts]
        yearly = Yearly(first.yearly.years,
                        *(added_in_order([getattr(y, name) for y in years])
                          for name in ("amounts", "recipients", "benefit_days",
                                       "gross_benefits")))
        return cls({name: added_in_order([p.booked[name] for p in parts])
                    for name in first.booked},
                   added_in_order([p.gross for p in parts]), yearly,
                   {name: added_in_order([p.by_counter[name] for p in parts])
                    for name in first.by_counter})


def added_in_order(arrays: Sequence[FloatArray]) -> FloatArray:
    """The arrays added, the first's copy first, then each in order: what the parts of a
    history (a national simulation's shards) add up to, the same bits however they came."""
    out = arrays[0].copy()
    for a in arrays[1:]:
        out += a
    return out


@dataclass(frozen=True, eq=False)
class Yearly:
    """Per calendar year and municipality: `amounts[rule, year, municipality, payer, item]`
    of the priced rules, with benefits in the year they are paid (day + payment lag, as
    Kela's monthly bills add up to a year; payments after the horizon are not booked),
    services and bonuses in the year they fall in, transfers spread over the horizon's days;
    and the distinct people paid a benefit in the year, the paid days and the gross benefits."""

    years: tuple[int, ...]
    amounts: FloatArray
    recipients: FloatArray          # (year, municipality)
    benefit_days: FloatArray
    gross_benefits: FloatArray

    @classmethod
    def empty(cls, plan: Plan, years: tuple[int, ...]) -> Yearly:
        shape = (len(years), len(plan.municipalities))
        return cls(years, np.zeros((len(plan.priced), *shape, len(PAYERS), len(ITEMS))),
                   np.zeros(shape), np.zeros(shape), np.zeros(shape))

    def book(self, r: int, pricing: Pricing, pieces: SpellTable, first_days: FloatArray,
             by_payment: Callable[[FloatArray], FloatArray],
             same: Mapping[tuple[int, int], FloatArray]) -> None:
        """Book one priced rule's pricing of the pieces: benefits by the year they are paid
        in (`by_payment`), the amounts `same` under every rule (_rule_free) as they are."""
        out = self.amounts[r]
        benefit, service = ITEM_INDEX["benefit"], ITEM_INDEX["service"]
        for p, payer in enumerate(PAYERS):
            out[:, :, p, benefit] += (same[p, benefit] if (p, benefit) in same
                                      else by_payment(pricing.benefit[payer]))
            out[:, :, p, service] += same[p, service]
        bonuses = pricing.bonuses
        if bonuses.segment.size:
            n_munis = out.shape[1]
            where = (month_index(first_days, bonuses.day) * n_munis
                     + pieces.municipality[bonuses.segment])
            for p, payer in enumerate(PAYERS):
                out[:, :, p, ITEM_INDEX["bonus"]] += np.bincount(
                    where, pricing.bonus_net(payer), minlength=out.shape[0] * n_munis
                ).reshape(out.shape[0], n_munis)

    def stacked_people(self) -> FloatArray:
        return np.stack([self.recipients, self.benefit_days, self.gross_benefits])


def cells_of_distinct_pairs(cell: IntArray, person: npt.NDArray[np.integer], people: int
                            ) -> IntArray:
    """The cell of each distinct (cell, person) pair (in no particular order): a cell's
    count of them is its distinct people. The pieces of a ledger chunk come by person, each
    person's in time order, so their cells (year of payment, then municipality) usually do
    not decrease within a person: the pairs are then sorted already and distinct where either
    changes. Otherwise (Kela's bill, whose parts come band by band) they are sorted."""
    if cell.size > 1:
        step = person[1:] != person[:-1]
        if bool(((person[1:] > person[:-1]) | (~step & (cell[1:] >= cell[:-1]))).all()):
            return np.asarray(cell[np.r_[True, step | (cell[1:] != cell[:-1])]])
    return np.asarray(distinct(cell * people + person) // people)


def rule_counter(spells: SpellTable, rule: CompiledRule,
                 given: Mapping[str, FloatArray] | None = None) -> FloatArray:
    """The rule's counter at every segment start (for a timeline: the counter of the rule in
    force on the segment's first day): from `given`, recorded by the engine, else computed."""
    return counter_in_force(spells, rule, rule_counters(spells, rule, given))


def _rule_free(pricing: Pricing, by_payment: Callable[[FloatArray], FloatArray],
               by_day: Callable[[FloatArray], FloatArray]) -> dict[tuple[int, int], FloatArray]:
    """(payer, item) -> booked amounts that are the same under every rule: the fund's part of
    the benefits (what is not public), booked `by_payment`, and the service days' costs,
    `by_day` (service_costs_of)."""
    out = {(PAYER_INDEX["fund"], ITEM_INDEX["benefit"]): by_payment(pricing.benefit["fund"])}
    for p, payer in enumerate(PAYERS):
        out[p, ITEM_INDEX["service"]] = by_day(pricing.service[payer])
    return out


def _book_pricing(pricing: Pricing, pieces: SpellTable, plan: Plan,
                  book: Callable[..., FloatArray],
                  same: Mapping[tuple[int, int], FloatArray]) -> FloatArray:
    """(month, municipality, payer, item) amounts of one rule's pricing of the pieces (those
    `same` under every rule as they are)."""
    n_months, n_munis = len(plan.months), len(plan.municipalities)
    out = np.zeros((n_months, n_munis, len(PAYERS), len(ITEMS)))
    benefit, service = ITEM_INDEX["benefit"], ITEM_INDEX["service"]
    for p, payer in enumerate(PAYERS):
        out[:, :, p, benefit] = (same[p, benefit] if (p, benefit) in same
                                 else book(pricing.benefit[payer]))
        out[:, :, p, service] = same[p, service]
    bonuses = pricing.bonuses
    if bonuses.segment.size:
        where = (month_index(plan.month_starts, bonuses.day) * n_munis
                 + pieces.municipality[bonuses.segment])
        for p, payer in enumerate(PAYERS):
            out[:, :, p, ITEM_INDEX["bonus"]] = book(pricing.bonus_net(payer), where)
    return out


def _transfer(t: Transfers, rule: str, plan: Plan, booked: Mapping[str, FloatArray]
              ) -> FloatArray:
    """Per municipality, over the horizon: what the state transfers under `t` to go with
    `rule` (before any transfer is booked)."""
    munis = plan.scenario.municipalities
    if t.kind == "fixed":
        got = transfer_amounts(t, munis, plan.scenario.horizon_days)
    else:
        def liability(rule: str) -> dict[str, float]:
            a = booked[rule][:, :, PAYER_INDEX["municipality"], :ITEM_INDEX["transfer"]]
            per = a.sum(axis=(0, 2))
            return {m: float(per[k]) for k, m in enumerate(plan.municipalities)}
        got = transfer_amounts(t, munis, plan.scenario.horizon_days,
                               liability(rule), liability(t.base))
    return np.array([got[m] for m in plan.municipalities])
