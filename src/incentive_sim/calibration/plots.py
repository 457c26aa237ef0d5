"""The calibration's pictures (`DIR/plots/*.png`): the model against the targets.

- `municipal_share_by_month.png`: Kela's monthly municipal share (euros, and recipients where
  the targets have them), a line per benefit: the target, the model on the sample at the best
  vector and the model at full scale;
- `municipal_share_by_class.png`: a year's municipal share by day class, a panel per benefit;
- `municipal_share_by_benefit.png`: a year's municipal share by benefit;
- `relative_differences.png`: every target's relative difference, at the start and fitted.

A plot whose targets the file does not have is not drawn (the last one always is).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from ..report.plots import pyplot, save_figure, suptitle
from ..scenario.vocabulary import BENEFITS
from .fit import Calibration, relative_differences
from .targets import Target

ALL = "all benefits"


def write_calibration_plots(folder: Path, result: Calibration) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    drawn = []
    for name, draw in (("municipal_share_by_month.png", _by_month),
                       ("municipal_share_by_class.png", _by_class),
                       ("municipal_share_by_benefit.png", _by_benefit),
                       ("relative_differences.png", _differences)):
        if draw(folder / name, result):
            drawn.append(folder / name)
    return drawn


def _series(result: Calibration) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    spec = result.setup.spec
    return (spec.values, result.best.figures, result.confirmed.figures,
            result.full is not None)


def _quantity(t: Target) -> str:
    return t.quantity or "euros"


def _scale(quantity: str) -> tuple[float, str]:
    return (1e6, "million EUR") if quantity == "euros" else (1e3, f"thousand {quantity}")


def _by_month(path: Path, result: Calibration) -> bool:
    targets = result.setup.spec.targets
    groups: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, t in enumerate(targets):
        if t.measure == "municipal_share" and t.month is not None and t.day_class is None:
            groups[_quantity(t)][t.benefit or ALL].append(i)
    if not groups:
        return False
    value, sample, full, confirmed = _series(result)
    plt = pyplot()
    fig, axes = plt.subplots(len(groups), 1, figsize=(9, 3.6 * len(groups)), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (quantity, by_benefit) in zip(axes[:, 0], sorted(groups.items()), strict=True):
        divisor, unit = _scale(quantity)
        months = sorted({targets[i].period() for rows in by_benefit.values() for i in rows})
        x = {m: k for k, m in enumerate(months)}
        for c, (benefit, rows) in enumerate(sorted(by_benefit.items())):
            rows = sorted(rows, key=lambda i: targets[i].period())
            xs = [x[targets[i].period()] for i in rows]
            colour = colours[c % len(colours)]
            ax.plot(xs, value[rows] / divisor, "o-", color=colour, label=f"{benefit}: target")
            ax.plot(xs, sample[rows] / divisor, "--", color=colour, alpha=0.7,
                    label=f"{benefit}: model (sample)")
            if confirmed:
                ax.plot(xs, full[rows] / divisor, ":", color=colour, linewidth=2,
                        label=f"{benefit}: model (full scale)")
        ax.set_xticks(range(len(months)))
        ax.set_xticklabels(months, rotation=45, ha="right", fontsize=8)
        ax.set_ylabel(unit)
        ax.set_title(f"municipal share by payment month: {quantity}", fontsize=9)
        ax.legend(fontsize=7, ncol=2)
        ax.grid(alpha=0.3)
    suptitle(fig, "Kela's bill to municipalities: targets against the fitted model")
    save_figure(fig, path)
    return True


def _bars(ax: Any, labels: list[str], rows: list[int], result: Calibration,
          divisor: float) -> None:
    value, sample, full, confirmed = _series(result)
    x = np.arange(len(labels))
    width = 0.27 if confirmed else 0.4
    ax.bar(x - width, value[rows] / divisor, width, label="target", color="#444444")
    ax.bar(x, sample[rows] / divisor, width, label="model (sample)", color="#1f77b4")
    if confirmed:
        ax.bar(x + width, full[rows] / divisor, width, label="model (full scale)",
               color="#d62728")
    ax.set_xticks(x)
    ax.set_xticklabels(labels, fontsize=8)
    ax.grid(alpha=0.3, axis="y")


def _annual(result: Calibration) -> list[int]:
    return [i for i, t in enumerate(result.setup.spec.targets)
            if t.measure == "municipal_share" and t.year is not None]


def _by_class(path: Path, result: Calibration) -> bool:
    targets = result.setup.spec.targets
    panels: dict[tuple[str, str, int], list[int]] = defaultdict(list)
    for i in _annual(result):
        t = targets[i]
        if t.day_class is not None:
            assert t.year is not None
            panels[(_quantity(t), t.benefit or ALL, t.year)].append(i)
    if not panels:
        return False
    plt = pyplot()
    keys = sorted(panels, key=lambda k: (k[0], k[2], (*BENEFITS, ALL).index(k[1])))
    cols = min(len(keys), 2)
    rows_n = -(-len(keys) // cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(5.5 * cols, 3.4 * rows_n), squeeze=False)
    order = list(result.setup.spec.labels)
    for ax, key in zip(axes.ravel(), keys, strict=False):
        quantity, benefit, year = key
        rows = sorted(panels[key], key=lambda i: order.index(targets[i].day_class or ""))
        divisor, unit = _scale(quantity)
        _bars(ax, [targets[i].day_class or "" for i in rows], rows, result, divisor)
        ax.set_title(f"{benefit}, {year}: {quantity} by day class", fontsize=9)
        ax.set_ylabel(unit)
        ax.legend(fontsize=7)
    for ax in axes.ravel()[len(keys):]:
        ax.set_visible(False)
    suptitle(fig, "Municipal share by Kela's day class: targets against the fitted model")
    save_figure(fig, path)
    return True


def _by_benefit(path: Path, result: Calibration) -> bool:
    targets = result.setup.spec.targets
    panels: dict[tuple[str, int], list[int]] = defaultdict(list)
    for i in _annual(result):
        t = targets[i]
        if t.day_class is None and t.benefit is not None:
            assert t.year is not None
            panels[(_quantity(t), t.year)].append(i)
    if not panels:
        return False
    plt = pyplot()
    keys = sorted(panels)
    fig, axes = plt.subplots(1, len(keys), figsize=(5.5 * len(keys), 3.6), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        quantity, year = key
        rows = sorted(panels[key], key=lambda i: BENEFITS.index(targets[i].benefit or ""))
        divisor, unit = _scale(quantity)
        _bars(ax, [(targets[i].benefit or "").replace("_", " ") for i in rows], rows, result,
              divisor)
        ax.set_title(f"{year}: {quantity} by benefit", fontsize=9)
        ax.set_ylabel(unit)
        ax.legend(fontsize=7)
    suptitle(fig, "Municipal share by benefit: targets against the fitted model")
    save_figure(fig, path)
    return True


def _differences(path: Path, result: Calibration) -> bool:
    spec = result.setup.spec
    names = [t.name for t in spec.targets]
    start = relative_differences(result.first.figures, spec.values) * 100
    fitted = relative_differences(result.confirmed.figures, spec.values) * 100
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.22 * len(names)))
    y = np.arange(len(names))
    ax.barh(y + 0.2, start, 0.4, label="start (sample)", color="#bbbbbb")
    ax.barh(y - 0.2, fitted, 0.4, color="#d62728",
            label="fitted (full scale)" if result.full is not None else "fitted")
    for i, t in enumerate(spec.targets):
        if t.tolerance is not None:
            ax.plot([-t.tolerance * 100, t.tolerance * 100], [y[i], y[i]], "|", color="black",
                    markersize=8)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("relative difference, model against target (%); | marks the tolerance")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, axis="x")
    suptitle(fig, "Every target: how far the model is from it")
    save_figure(fig, path)
    return True
