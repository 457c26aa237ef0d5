"""incentive-sim: who pays for unemployment, and what the way the cost is shared makes
municipalities do."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("incentive-sim")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+source"

_API = ("load", "run", "compare", "sweep", "calibrate", "Result")


def __getattr__(name: str) -> object:
    """The Python API (`incentive_sim.run`, ...), imported on first use so that the command
    line does not pay for it."""
    if name in _API:
        from . import api
        return getattr(api, name)
    raise AttributeError(f"module 'incentive_sim' has no attribute {name!r}")
