"""Handing freed memory back to the system.

The C library keeps freed heap for reuse instead of returning it, so a process that builds and
drops large intermediate arrays (a national simulation's batches, its interval lists) holds
their memory on top of what it allocates next: 1.75 GB after a national simulation, 0.45 GB
before its history is joined. glibc's malloc_trim returns it; elsewhere this does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import sys
from typing import Any


@functools.cache
def _libc() -> Any:
    return ctypes.CDLL(None)


def release_freed_memory() -> None:
    """Hand the memory freed so far back to the system (glibc's malloc_trim)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(AttributeError, OSError):
            _libc().malloc_trim(0)
