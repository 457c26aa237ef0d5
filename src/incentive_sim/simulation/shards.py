"""A large country simulated in parts ("shards") of whole service pools, on two cores.

Nothing in the model couples two municipalities that share no service pool: a person never
moves, reviews and referrals are per person, and a pool's places, queue and place buying are
its own. The municipalities joined by shared pools (of any service: a cooperation area) can
so be simulated apart from the rest, by the same model, provided every draw is a person's own
or a shard's own. People's draws are keyed by their id in the whole population
(PersonStreams), so they are the same whatever shard they are in (someone no service touches
lives the same life, but for the last bit of a time that a shard's other decision days round
differently); the services' four streams (waiting exits, durations, exits in service,
outcomes) are drawn in call order, and are a shard's own.

The shards are a function of the scenario and the population only (never of the machine):
a scenario of at least SHARD_MIN_PEOPLE people is cut into SHARDS parts, its groups of
municipalities joined by pools dealt out, largest first, to the part with the fewest people
so far. Smaller scenarios are one part with the services' streams as they always were. The
parts run at once, all but the first in new processes (processes.spawned), where this process
may start them (not in a worker of a pool of processes or a Dask worker, which are the
parallelism already), and one after the other otherwise, with the same results: their
histories are joined in shard order.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..funding.spells import COLUMNS, SpellTable
from ..processes import Started, started
from ..scenario.schema import Scenario
from .policy import CompiledService
from .population import People, expected_people

IntArray = npt.NDArray[np.int64]
T = TypeVar("T")

SHARDS = 2                   # model choice: the parts of a large scenario (2-core machines)
SHARD_MIN_PEOPLE = 500_000   # model choice: below this, one part (the national scenario is
                             # 1.97 million people, the largest regional one 142,000)


@dataclass(frozen=True)
class Shard:
    """One part of the country: its municipalities (codes), the people of those (ids in the
    whole population, increasing) and, by service, which pools are its own."""

    index: int
    count: int
    municipalities: IntArray
    people: IntArray
    pools: tuple[npt.NDArray[np.bool_], ...]

    def stream_name(self, name: str) -> str:
        """A service stream's name in this shard (the name itself when there is one shard)."""
        return name if self.count == 1 else f"{name}/shard {self.index} of {self.count}"


def pool_groups(s: Scenario, services: list[CompiledService] | None = None) -> IntArray:
    """By municipality code: the label of its group of municipalities joined by shared pools
    (of any service; `services`: the scenario's, compiled, if the caller has them), labels
    numbered in order of each group's first municipality."""
    n = len(s.municipalities)
    rows, cols, offset = [], [], n
    for svc in CompiledService.all_of(s) if services is None else services:
        inside = np.flatnonzero(svc.pool_of >= 0)
        rows.append(inside)
        cols.append(offset + svc.pool_of[inside])
        offset += len(svc.pool_capacity)
    r = np.concatenate([np.zeros(0, np.int64), *rows])
    c = np.concatenate([np.zeros(0, np.int64), *cols])
    graph = coo_matrix((np.ones(r.size), (r, c)), shape=(offset, offset))
    _, labels = connected_components(graph, directed=False)
    # renumbered by first appearance among the municipalities
    _, first, inverse = np.unique(labels[:n], return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first, kind="stable"), kind="stable")
    return np.asarray(rank[inverse], np.int64)


def shards_of(s: Scenario, people: People, count: int | None = None) -> list[Shard]:
    """The scenario's shards (`count`: how many to aim at; by default SHARDS for a scenario of
    at least SHARD_MIN_PEOPLE people, else 1). Fewer when there are fewer groups with people."""
    n = len(people)
    if count is None:
        count = SHARDS if n >= SHARD_MIN_PEOPLE else 1
    services = CompiledService.all_of(s)
    group = pool_groups(s, services) if count > 1 else np.zeros(len(s.municipalities),
                                                                 np.int64)
    size = np.bincount(group[people.municipality], minlength=int(group.max()) + 1)
    # largest group first (ties: the first), each to the part with the fewest people so far
    part_of_group = np.zeros(size.size, np.int64)
    load = np.zeros(min(count, int((size > 0).sum()) or 1), np.int64)
    for g in np.argsort(-size, kind="stable").tolist():
        k = int(np.argmin(load))
        part_of_group[g] = k
        load[k] += size[g]
    part = part_of_group[group]                         # by municipality
    person_part = part[people.municipality]
    out = []
    for k in range(load.size):
        mine = np.flatnonzero(part == k)
        pools = []
        for svc in services:
            own = np.zeros(len(svc.pool_capacity), bool)
            own[svc.pool_of[mine][svc.pool_of[mine] >= 0]] = True
            if k == 0:              # a pool that serves no municipality: the first part's
                served = np.zeros(len(svc.pool_capacity), bool)
                served[svc.pool_of[svc.pool_of >= 0]] = True
                own |= ~served
            pools.append(own)
        out.append(Shard(k, int(load.size), mine, np.flatnonzero(person_part == k),
                         tuple(pools)))
    return out


def subset(people: People, ids: IntArray) -> People:
    """The rows of `people` at `ids`."""
    return People(**{f.name: getattr(people, f.name)[ids] for f in fields(People)})


def may_start_processes() -> bool:
    """Whether shards may run in a process of their own: on a machine of more than one core,
    from a process that is not itself a worker started for parallel work, with a Python
    interpreter to start (an embedding application may have none)."""
    return ((os.cpu_count() or 1) > 1 and multiprocessing.parent_process() is None
            and bool(sys.executable))


def run_parallel(job: Callable[..., T], args: Iterable[tuple[Any, ...]],
                 first: tuple[Any, ...], ready: Sequence[Started] = ()) -> list[T]:
    """`job(*first)` here while `job(*a)` for every `a` in `args` runs in another process:
    the processes `ready` (started already, in order), then new ones (one each, each `a`
    dropped once sent); the results in the order first, then `args`."""
    with contextlib.ExitStack() as stack:
        processes = iter(ready)

        def sent(a: tuple[Any, ...]) -> Callable[[], T]:
            process = next(processes, None) or stack.enter_context(started())
            return process.call(job, *a)

        # a comprehension: no name holds the last call's arguments (a shard's people, some
        # 90 MB of a national one) while this process simulates its own shard
        waits = [sent(a) for a in args]
        here = job(*first)
        return [here, *(wait() for wait in waits)]


def likely_shards(s: Scenario, count: int | None = None) -> int:
    """The shards shards_of will likely make (`count` as there), by the population's
    expected size (population.expected_people): how many processes are worth starting
    before the population is drawn."""
    if count is not None:
        return count
    return SHARDS if expected_people(s) >= SHARD_MIN_PEOPLE else 1


def join_tables(tables: list[SpellTable]) -> SpellTable:
    """The shards' histories one after the other (person ids already the population's), each
    a part of the joined table (SpellTable.parts), taken out of `tables` (emptied): each
    column is joined and the shards' copies dropped before the next, so the history is held
    about once, not twice."""
    first = tables[0]
    meta: dict[str, Any] = {"municipalities": first.municipalities, "groups": first.groups,
                            "services": first.services,
                            "paid_days_per_week": first.paid_days_per_week}
    rules = list(first.counter_at_start)
    sizes = [len(t) for t in tables]
    parts = [t.columns() | {f"counter:{r}": t.counter_at_start[r] for r in rules}
             for t in tables]
    del first
    tables.clear()
    joined = {key: np.concatenate([p.pop(key) for p in parts])
              for key in [*COLUMNS, *(f"counter:{r}" for r in rules)]}
    columns: dict[str, Any] = {k: joined[k] for k in COLUMNS}
    bounds = np.cumsum([0, *sizes]).tolist()
    return SpellTable(**columns, **meta,
                      counter_at_start={r: joined[f"counter:{r}"] for r in rules},
                      parts=tuple(bounds))


def with_ids(table: SpellTable, ids: IntArray) -> SpellTable:
    """A shard's history with its people's ids in the whole population."""
    return replace(table, person_id=ids[table.person_id])
