"""incentive-sim: who pays for unemployment, and what the way the cost is shared makes
municipalities do."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("incentive-sim")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+source"
