"""Exact, vectorised sampling of competing risks with piecewise-constant hazards.

Each destination d has a hazard per calendar day that is constant within bands of spell
duration; every person i multiplies destination d's hazard by m[i, d] (frailty, group, service
lock-in or after-effect). With the bands of all destinations merged into one grid, person i's
total hazard in band b is h[i, b] = sum_d rate[b, d] * m[i, d] and the cumulative hazard at
band edges is a running sum. Drawing E ~ Exp(1), the exit duration is where the cumulative
hazard since the start passes E (found with a row-wise search over band edges, then inverted
linearly inside the band); the destination is drawn with probabilities proportional to the
destination hazards of that band. No daily coin flips.

Sampling is Markov in the spell duration, so a spell can be sampled piece by piece: sampling
over [a, b), and if no exit occurred, again from b with other multipliers, is exact. That is
how time-limited multipliers (a service's lock-in, an after-effect) and the horizon are handled.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from ..scenario.schema import Hazard, Scenario

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class CompetingRisks:
    """Destinations' hazards on a common grid of duration bands."""

    destinations: tuple[str, ...]
    edges: FloatArray                    # band starts, edges[0] == 0, strictly increasing
    rates: FloatArray                    # (bands, destinations), per calendar day
    group_multiplier: FloatArray         # (groups, destinations)

    @classmethod
    def from_hazards(cls, hazards: Mapping[str, Hazard | None], groups: Sequence[str]
                     ) -> CompetingRisks:
        """Merge the band grids of the given destinations (a None hazard is rate 0)."""
        present = {d: h for d, h in hazards.items() if h is not None}
        edges = np.unique(np.concatenate(
            [[0.0], *[np.asarray(h.band_rates()[0], float) for h in present.values()]]))
        rates = np.zeros((edges.size, len(hazards)))
        group_mult = np.ones((len(groups), len(hazards)))
        for j, h in enumerate(hazards.values()):
            if h is None:
                continue
            starts, values = h.band_rates()
            band = np.searchsorted(np.asarray(starts), edges, side="right") - 1
            rates[:, j] = np.asarray(values)[band]
            for g, mult in h.group_multiplier.items():
                group_mult[list(groups).index(g), j] = mult
        return cls(tuple(hazards), edges, rates, group_mult)

    def cumulative(self, multiplier: FloatArray, total: FloatArray | None = None
                   ) -> FloatArray:
        """Cumulative total hazard at every band edge, per person: shape (n, bands)
        (`total`: `total_hazard(multiplier)`, when the caller has it)."""
        if total is None:
            total = self.total_hazard(multiplier)                # (n, bands)
        widths = np.diff(self.edges)
        cum = np.zeros_like(total)
        np.cumsum(total[:, :-1] * widths, axis=1, out=cum[:, 1:])
        return cum

    def total_hazard(self, multiplier: FloatArray) -> FloatArray:
        return np.asarray(multiplier @ self.rates.T)

    def sample(self, d_from: FloatArray, d_until: FloatArray, multiplier: FloatArray,
               rng: np.random.Generator) -> tuple[FloatArray, IntArray]:
        """For people at spell duration `d_from`, the duration at which they exit if before
        `d_until` (else +inf), and the destination index (else -1).

        `multiplier` is (n, destinations). Draws: one exponential and one uniform per person,
        always, so the stream of draws does not depend on the outcome.
        """
        n = d_from.size
        return self.sample_with(d_from, d_until, multiplier, rng.exponential(size=n),
                                rng.random(size=n))

    def sample_with(self, d_from: FloatArray, d_until: FloatArray, multiplier: FloatArray,
                    e: FloatArray, u: FloatArray) -> tuple[FloatArray, IntArray]:
        """`sample` with the draws given: `e` standard exponential, `u` uniform, per person."""
        n = d_from.size
        if n == 0:
            return np.zeros(0), np.zeros(0, np.int64)
        total = self.total_hazard(multiplier)                    # (n, bands)
        cum = self.cumulative(multiplier, total)                        # (n, bands)
        b0 = np.searchsorted(self.edges, d_from, side="right") - 1
        rows = np.arange(n)
        h_from = cum[rows, b0] + total[rows, b0] * (d_from - self.edges[b0])
        target = h_from + e
        band = (cum <= target[:, None]).sum(axis=1) - 1         # last edge not past target
        band = np.maximum(band, b0)
        h_band = total[rows, band]
        with np.errstate(divide="ignore", invalid="ignore"):
            inside = (target - cum[rows, band]) / h_band
        exit_at = np.where(h_band > 0, self.edges[band] + inside, np.inf)
        # rounding may put the exit a hair before d_from when the hazard jumps
        exit_at = np.maximum(exit_at, d_from)
        exits = exit_at < d_until
        dest_rates = self.rates[band] * multiplier               # (n, destinations)
        cum_dest = np.cumsum(dest_rates, axis=1)
        pick = (cum_dest < (u * cum_dest[:, -1])[:, None]).sum(axis=1)
        pick = np.minimum(pick, len(self.destinations) - 1)
        return np.where(exits, exit_at, np.inf), np.where(exits, pick, -1).astype(np.int64)

    def sample_one(self, d_from: float, d_until: float, multiplier: Sequence[float],
                   rng: np.random.Generator) -> tuple[float, int]:
        """`sample` for one person, in plain floats (a client of the event layer): the same
        exact inversion and the same draws from the stream, without array overheads."""
        e = float(rng.exponential(size=1)[0])
        u = float(rng.random(size=1)[0])
        edges = self._edge_list
        rates = self._rate_rows
        mult = [float(m) for m in multiplier]
        band = bisect.bisect_right(edges, d_from) - 1
        t = d_from
        exit_at = math.inf
        while True:
            h = sum(r * m for r, m in zip(rates[band], mult, strict=True))
            upper = edges[band + 1] if band + 1 < len(edges) else math.inf
            if h > 0 and (upper == math.inf or e < (upper - t) * h):
                exit_at = t + e / h
                break
            if upper == math.inf:
                break
            e -= (upper - t) * h
            t = upper
            band += 1
        if exit_at >= d_until:
            return math.inf, -1
        weights = [r * m for r, m in zip(rates[band], mult, strict=True)]
        target = u * sum(weights)
        running = 0.0
        for j, w in enumerate(weights):
            running += w
            if target < running:
                return exit_at, j
        return exit_at, len(weights) - 1

    @cached_property
    def _edge_list(self) -> list[float]:
        return [float(x) for x in self.edges]

    @cached_property
    def _rate_rows(self) -> list[list[float]]:
        return [[float(x) for x in row] for row in self.rates]

    def cumulative_at(self, d: FloatArray, multiplier: FloatArray) -> FloatArray:
        """The cumulative total hazard H(d) from duration 0 to d, per person."""
        total = self.total_hazard(multiplier)
        cum = self.cumulative(multiplier, total)
        b = np.searchsorted(self.edges, d, side="right") - 1
        rows = np.arange(d.size)
        return np.asarray(cum[rows, b] + total[rows, b] * (d - self.edges[b]))

    def survival(self, d: FloatArray, multiplier: FloatArray) -> FloatArray:
        """P(no exit by duration d | at risk from 0), per person: exp(-H(d))."""
        return np.asarray(np.exp(-self.cumulative_at(d, multiplier)))


@dataclass(frozen=True, eq=False)
class Risks:
    exits: CompetingRisks       # from unemployment: employment, education, inactivity
    job_loss: CompetingRisks    # from employment

    @classmethod
    def of(cls, s: Scenario) -> Risks:
        t = s.transitions
        groups = list(s.groups)
        return cls(
            CompetingRisks.from_hazards({"employment": t.employment, "education": t.education,
                                         "inactivity": t.inactivity}, groups),
            CompetingRisks.from_hazards({"job_loss": t.job_loss}, groups),
        )
