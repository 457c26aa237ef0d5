"""Running independent jobs (replications, sweep points) serially, in local processes or on a
Dask distributed cluster, with results handed back in submission order.

Each job is a picklable call of a module-level function. Every job draws its random numbers
from streams keyed by (seed, replication, process name), never from shared state, and results
are combined in submission order, so the figures do not depend on the executor or on the
number of workers.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from ..scenario import InputError, Problem

T = TypeVar("T")

CONNECT_TIMEOUT_S = 20.0     # to reach a Dask scheduler


def run_jobs(fn: Callable[..., T], jobs: Sequence[tuple[Any, ...]], *, workers: int = 1,
             scheduler: str | None = None,
             done: Callable[[], None] | None = None) -> Iterator[T]:
    """`fn(*job)` for every job, yielded in the order of `jobs`; `done()` after each job ends
    (in completion order, for progress bars). `workers` > 1 runs local processes (spawned, so
    the same on every platform); `scheduler` is the address of a Dask distributed scheduler.
    A job's exception is raised when its turn to be yielded comes."""
    tick = done or (lambda: None)
    if scheduler is not None:
        yield from _dask(fn, jobs, scheduler, tick)
    elif workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            result = fn(*job)
            tick()
            yield result
    else:
        context = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(max_workers=min(workers, len(jobs)),
                                    mp_context=context) as pool:
            futures = [pool.submit(fn, *job) for job in jobs]
            for future in futures:
                future.add_done_callback(lambda _: tick())
            for future in futures:
                yield future.result()


def _dask(fn: Callable[..., T], jobs: Sequence[tuple[Any, ...]], scheduler: str,
          tick: Callable[[], None]) -> Iterator[T]:
    try:
        from distributed import Client
    except ImportError as exc:   # pragma: no cover - depends on the optional extra
        raise InputError([Problem("--scheduler", None, "--scheduler",
                                  "needs Dask's distributed package: "
                                  "pip install 'incentive-sim[dask]'")]) from exc
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError([Problem("--scheduler", None, "--scheduler",
                                  f"cannot reach the Dask scheduler at {scheduler!r}: "
                                  f"{exc}")]) from exc
    with client:
        futures = [client.submit(fn, *job, pure=False) for job in jobs]
        for future in futures:
            future.add_done_callback(lambda _: tick())
        for future in futures:
            yield future.result()
