"""The municipal share in the shape of Kela's bill: by payment month, municipality, benefit
and day class of the rule in force, with the recipients, the paid days and the euros.

Kela bills each municipality monthly for the benefits it paid that month, by the class of the
recipient's paid-day counter (`101-200` ... `701-`). Benefits are paid in arrears, so a day
belongs to the payment month of `day + benefits.payment_lag_days`. A cell holds the paid days
that are co-financed (charged at a share above zero) in that month, class, benefit and
municipality; its recipients are the distinct people with such a day there; its euros are the
municipality's share. Exact, by the counter range of each segment piece: a piece that advances
the counter from c0 to c1 puts into the band [lo, hi) the overlap of the two; a charged piece
that does not count puts all its days at c0. Days whose payment falls after the horizon are
not booked.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..funding.counters import rule_counters, split_by_phase
from ..funding.pricing import co_financeable
from ..funding.rules import CompiledRule
from ..funding.spells import SpellTable, parts_of, person_chunks
from ..memory import handing_back
from ..scenario.vocabulary import BENEFITS
from .ledger import Plan, added_in_order, cells_of_distinct_pairs, month_index

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def band_labels(rule: CompiledRule) -> tuple[str, ...]:
    """The labels of every band with a share above zero, of every rule a timeline names, in
    order of first appearance."""
    labels: dict[str, None] = {}
    for simple in rule.simple_rules():
        for block in simple.blocks:
            for label, share in zip(block.schedule.labels, block.schedule.shares, strict=True):
                if share > 0:
                    labels[label] = None
    return tuple(labels)


@dataclass(frozen=True, eq=False)
class CoFinanced:
    """Co-financed paid days of some whole people: one entry per segment piece and band it
    overlaps (a piece lies within one payment month and one phase of a timeline). `month` is
    the payment month (an index into `Plan.months`), `label` an index into `band_labels`."""

    person: IntArray
    month: IntArray
    municipality: IntArray
    benefit: IntArray
    label: IntArray
    paid_days: FloatArray
    euros: FloatArray


def co_financed(spells: SpellTable, plan: Plan, chunk_rows: int = 100_000,
                ) -> Iterator[list[CoFinanced]]:
    """The co-financed days of the rule in force, by chunks of whole people (so distinct
    people counted within each chunk add up over chunks): each chunk a list of parts, one per
    phase, liability block and band with such days. Days whose payment falls after the horizon
    are not in it."""
    rule = plan.compiled[plan.in_force]
    labels = band_labels(rule)
    label_index = {label: i for i, label in enumerate(labels)}
    lag = float(plan.scenario.benefits.payment_lag_days)
    horizon = float(plan.scenario.horizon_days)
    counters = rule_counters(spells, rule)
    payment_bounds = np.append(plan.month_starts - lag, horizon - lag)
    for rows in handing_back(person_chunks(spells, chunk_rows)):
        rows = rows[spells.benefit_paid[rows]]        # only paid days are billed
        chunk = spells.take(rows)
        pieces, piece_counters, _, by_rule = split_by_phase(
            chunk, rule, {name: c[rows] for name, c in counters.items()},
            more_bounds=payment_bounds)
        paid = pieces.paid_days
        due = (pieces.start_day + lag < horizon) & (paid > 0)
        month = month_index(plan.month_starts, pieces.start_day + lag)
        basic = co_financeable(pieces)
        parts = []
        for simple_rule, in_phase in by_rule:
            here = np.zeros(len(pieces), bool)
            here[in_phase] = True
            here &= due
            c0 = piece_counters[simple_rule]
            for b, block in enumerate(simple_rule.blocks):
                mine = here & (simple_rule.block_of_benefit[pieces.benefit] == b)
                # the pieces the block charges, worked on alone through its bands
                charged = np.flatnonzero(mine & block.charged[pieces.state])
                counts = block.counts[pieces.state[charged]]
                start, days = c0[charged], paid[charged]
                c1 = np.where(counts, start + days, start)
                t, shares = block.schedule.thresholds, block.schedule.shares
                for i, share in enumerate(shares):
                    if share <= 0:
                        continue
                    lo = t[i]
                    hi = t[i + 1] if i + 1 < t.size else np.inf
                    overlap = np.where(counts, np.clip(np.minimum(c1, hi) - np.maximum(
                        start, lo), 0.0, None), np.where((start >= lo) & (start < hi), days,
                                                         0.0))
                    inside = np.flatnonzero(overlap > 0)
                    hit = charged[inside]
                    overlap = overlap[inside]
                    if hit.size == 0:
                        continue
                    parts.append(CoFinanced(
                        pieces.person_id[hit].astype(np.int64), month[hit],
                        pieces.municipality[hit].astype(np.int64),
                        pieces.benefit[hit].astype(np.int64),
                        np.full(hit.size, label_index[block.schedule.labels[i]], np.int64),
                        overlap, basic[hit] * share * overlap))
        yield parts


@dataclass(frozen=True)
class Bill:
    """Cells (payment month, municipality, benefit, day class) of the rule in force."""

    labels: tuple[str, ...]
    recipients: FloatArray          # (months, municipalities, benefits, labels)
    paid_days: FloatArray
    euros: FloatArray

    @classmethod
    def stacked(cls, spells: SpellTable, plan: Plan) -> FloatArray:
        """The bill of `spells`, stacked (see `stack`)."""
        return cls.of(spells, plan).stack()

    def stack(self) -> FloatArray:
        """recipients, paid_days and euros stacked in one array (what a replication sends)."""
        return np.stack([self.recipients, self.paid_days, self.euros])

    @classmethod
    def of(cls, spells: SpellTable, plan: Plan, chunk_rows: int = 100_000) -> Bill:
        """The bill of a history; of a table of parts (SpellTable.parts), the parts' bills
        added, as a national simulation's shards draw them up."""
        if len(spells.parts) > 2:
            return cls.added([cls.of(part, plan, chunk_rows) for _, part in parts_of(spells)])
        labels = band_labels(plan.compiled[plan.in_force])
        shape = (len(plan.months), len(plan.municipalities), len(BENEFITS), len(labels))
        size = int(np.prod(shape))
        recipients = np.zeros(size)
        paid_days = np.zeros(size)
        euros = np.zeros(size)
        people = int(spells.person_id.max()) + 1 if len(spells) else 1
        for parts in co_financed(spells, plan, chunk_rows):
            cells, persons = [], []
            for part in parts:
                cell = ((part.month * shape[1] + part.municipality) * shape[2]
                        + part.benefit) * shape[3] + part.label
                paid_days += np.bincount(cell, part.paid_days, minlength=size)
                euros += np.bincount(cell, part.euros, minlength=size)
                cells.append(cell)
                persons.append(part.person)
            if not cells:
                continue
            # Parts that share no (benefit, band) share no cell: then each part's distinct
            # people are counted on their own, where the pairs come by person, in time order
            # (no sort), rather than all the chunk's pairs sorted together.
            keys = np.zeros((shape[2], shape[3]), np.int64)
            for part in parts:
                keys[:, part.label[0]] += np.bincount(part.benefit, minlength=shape[2]) > 0
            if keys.max() <= 1:
                distinct_cells = [cells_of_distinct_pairs(c, p, people)
                                  for c, p in zip(cells, persons, strict=True)]
            else:
                distinct_cells = [cells_of_distinct_pairs(
                    np.concatenate(cells), np.concatenate(persons), people)]
            recipients += np.bincount(np.concatenate(distinct_cells), minlength=size)
        return cls(labels, recipients.reshape(shape), paid_days.reshape(shape),
                   euros.reshape(shape))

    @classmethod
    def added(cls, parts: list[Bill]) -> Bill:
        """The bills of parts of a history added, in order (parts of different municipalities:
        exact)."""
        return cls(parts[0].labels, *(added_in_order([getattr(p, name) for p in parts])
                                      for name in ("recipients", "paid_days", "euros")))
