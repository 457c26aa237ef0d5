"""Running independent jobs (replications, sweep points) serially, in local processes or on a
Dask distributed cluster, with results handed back in submission order.

Each job is a picklable call of a module-level function. Every job draws its random numbers
from streams keyed by (seed, replication, process name), never from shared state, and results
are combined in submission order, so the figures do not depend on the executor or on the
number of workers.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from ..memory import libc
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


PR_SET_PDEATHSIG = 1          # prctl(2): the signal a process gets when its parent dies


@contextlib.contextmanager
def run_aside(fn: Callable[..., T], *args: Any) -> Iterator[Callable[[], T]]:
    """Start `fn(*args)` in a forked copy of this process, to run on another core beside
    what the caller does in the block (matplotlib drawing the plots while the tables are
    written); yields the function that waits for it and gives its result, or raises its
    exception (called in the block; the block's end waits if it was not). The copy shares
    this process's memory (nothing is pickled but the result), dies with it, and is stopped
    if the block fails. Where forking is not safe (not Linux, or other threads running: a
    Dask client's, a progress bar's), `fn` runs at once in this process instead."""
    if sys.platform != "linux" or threading.active_count() > 1:
        result = fn(*args)
        yield lambda: result
        return
    parent = os.getpid()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:                                        # the copy
        os.close(read)
        status = 0
        try:
            libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:                  # the caller died before prctl
                os._exit(1)
            data = pickle.dumps((True, fn(*args)))
        except BaseException as exc:                   # any failure is the caller's to raise
            status = 1
            try:
                data = pickle.dumps((False, exc))
            except Exception:                           # an exception pickle cannot carry
                data = pickle.dumps((False, RuntimeError(traceback.format_exc())))
        with os.fdopen(write, "wb") as out:
            out.write(data)
        os._exit(status)
    os.close(write)
    waited = False

    def wait() -> T:
        nonlocal waited
        with os.fdopen(read, "rb") as got:
            data = got.read()
        os.waitpid(pid, 0)
        waited = True
        if not data:
            raise RuntimeError(f"the process running {fn.__name__} died")
        ok, value = pickle.loads(data)
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    try:
        yield wait
    except BaseException:
        if not waited:                                  # the block failed: stop the copy
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            with contextlib.suppress(OSError):
                os.close(read)
        raise
    if not waited:
        wait()
