"""Handing freed memory back to the system.

The C library keeps freed heap for reuse instead of returning it, so a process that builds and
drops large intermediate arrays (a national simulation's batches, its interval lists) holds
their memory on top of what it allocates next: 1.75 GB after a national simulation, 0.45 GB
before its history is joined. glibc's malloc_trim returns it; elsewhere this does nothing.
The C library handle it loads (`libc`) is the process's one, for its other callers too.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import sys
from collections.abc import Iterable, Iterator, Sized
from typing import Any, TypeVar

Sized_T = TypeVar("Sized_T", bound=Sized)


@functools.cache
def libc() -> Any:
    """This process's C library, loaded once (errno kept for the callers that read it: the
    run's atomic exchange of folders; the drawing copy's prctl uses it too)."""
    return ctypes.CDLL(None, use_errno=True)


def release_freed_memory() -> None:
    """Hand the memory freed so far back to the system (glibc's malloc_trim)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(AttributeError, OSError):
            libc().malloc_trim(0)


def handing_back(chunks: Iterable[Sized_T], every_rows: int = 1_000_000) -> Iterator[Sized_T]:
    """Each of `chunks` (row indices, say), the heap freed while working on those before
    handed back first once they add up to `every_rows` rows. A loop over chunks frees arrays
    of many sizes each time round; with two threads at work the next chunks' are placed
    beside that freed heap rather than in it, and a national history's ledger or Kela bill so
    grew by several hundred MB before it ended. Not after every chunk: a trim takes the
    arenas' locks and the pages it returns are faulted in again (4 s more for a national
    ledger in chunks of 100,000 rows)."""
    done = 0
    for chunk in chunks:
        if done >= every_rows:
            release_freed_memory()
            done = 0
        yield chunk
        done += len(chunk)
