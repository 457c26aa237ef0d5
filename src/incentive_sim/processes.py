"""A call run in a fresh Python process beside this one (a shard of a national simulation).

Not multiprocessing's spawn: that runs the caller's main script again in the new process, so a
plain script that calls `incentive_sim.run` without a main guard would fail. Not a fork
either: a fork copies locks that other threads may hold (a progress bar's). The new
interpreter imports only this module, reads the pickled call on its standard input and writes
the pickled result on its standard output; it dies with its parent (Linux).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from .memory import libc

try:
    import fcntl
except ImportError:                                     # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]

T = TypeVar("T")

PR_SET_PDEATHSIG = 1          # prctl(2): the signal a process gets when its parent dies
PARENT = "INCENTIVE_SIM_PARENT_PID"
PIPE_BYTES = 1 << 20          # Linux's default limit for a pipe an unprivileged process widens


@contextlib.contextmanager
def spawned(fn: Callable[..., T], *args: Any) -> Iterator[Callable[[], T]]:
    """Start `fn(*args)` (a module-level function, picklable arguments) in a new Python
    process, to run on another core beside what the caller does in the block; yields the
    function that waits for it and gives its result, or raises its exception. The block's end
    waits if it was not called; a failing block stops the process."""
    with started() as process:
        yield process.call(fn, *args)


class Started:
    """A new Python process, started before its call is known (`started`): its interpreter
    starts and it imports what it was told to while the caller makes the call's arguments."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.wait: Callable[[], Any] | None = None
        self.waited = False
        self.sender: threading.Thread | None = None

    def call(self, fn: Callable[..., T], *args: Any) -> Callable[[], T]:
        """Send it `fn(*args)` (once); the function that waits for the result, or raises the
        call's exception."""
        assert self.wait is None, "a started process runs one call"
        proc = self.proc
        assert proc.stdin is not None and proc.stdout is not None
        job = [pickle.dumps((fn, args), protocol=pickle.HIGHEST_PROTOCOL)]
        del args
        stdin, stdout = proc.stdin, proc.stdout

        def send() -> None:
            with contextlib.suppress(BrokenPipeError), stdin:
                stdin.write(job.pop())                      # not held once written

        # written by a thread: the call is larger than a pipe holds until the process reads it
        self.sender = threading.Thread(target=send, daemon=True)
        self.sender.start()

        def wait() -> T:
            with stdout:
                try:        # read as it comes: arrays are filled from the pipe, not a copy
                    ok, value = pickle.load(stdout)
                except EOFError:
                    ok, value = False, None
            proc.wait()
            assert self.sender is not None
            self.sender.join()
            self.waited = True
            if not ok:
                raise value if value is not None else RuntimeError(
                    f"the process running {fn.__name__} died (exit status {proc.returncode})")
            return value  # type: ignore[no-any-return]

        self.wait = wait
        return wait

    def stop(self) -> None:
        """Stop the process, whatever it is doing, and let its pipes go."""
        self.proc.kill()
        self.proc.wait()
        if self.sender is not None:
            self.sender.join()
        for pipe in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if pipe is not None:
                    pipe.close()


@contextlib.contextmanager
def started(*preload: str) -> Iterator[Started]:
    """A new Python process that imports the modules `preload` and then waits for one call
    (Started.call). The block's end waits for the call's result if it was not asked for, and
    stops a process that got no call, or that a failing block leaves."""
    env = {**os.environ, PARENT: str(os.getpid()),
           "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.Popen([sys.executable, "-m", __name__, *preload],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    assert proc.stdin is not None and proc.stdout is not None
    for pipe in (proc.stdin, proc.stdout):
        _widen(pipe.fileno())
    process = Started(proc)
    try:
        yield process
    except BaseException:
        if not process.waited:
            process.stop()
        raise
    if process.wait is None:
        process.stop()
    elif not process.waited:
        process.wait()


def _widen(pipe: int) -> None:
    """Let the pipe hold PIPE_BYTES (Linux; elsewhere, or where the system's limit is lower,
    it stays as it is): a shard's 360 MB result crossed a pipe of 64 KiB in 0.8-1.6 s, one of
    1 MiB in 0.45 s."""
    size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if size is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(pipe, size, PIPE_BYTES)


def _child() -> None:
    """The new process: read the call, run it, write its result (or exception)."""
    if sys.platform == "linux":
        with contextlib.suppress(AttributeError, OSError):
            libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != int(os.environ.get(PARENT, os.getppid())):
            os._exit(1)                                 # the parent died before prctl
    out = sys.stdout.buffer
    sys.stdout = sys.stderr                             # prints must not enter the result
    for name in sys.argv[1:]:        # while the caller makes the call's arguments
        importlib.import_module(name)
    data = [sys.stdin.buffer.read()]
    if not data[0]:                  # no call came (started, then not needed)
        return
    result: tuple[bool, Any]
    try:
        fn, args = pickle.loads(data.pop())    # the call's bytes not held while it runs
        result = (True, fn(*args))
    except BaseException as exc:                       # any failure is the caller's to raise
        result = (False, exc)
        try:
            pickle.dumps(exc)
        except Exception:                               # an exception pickle cannot carry
            result = (False, RuntimeError(traceback.format_exc()))
    # written as it is pickled: arrays go to the pipe from where they are, with no copy
    pickle.dump(result, out, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()


if __name__ == "__main__":
    _child()
