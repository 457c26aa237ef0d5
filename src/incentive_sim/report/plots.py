"""The run's pictures (`DIR/plots/*.png`), drawn with matplotlib without a display.

- `costs_monthly.png`: each rule's monthly cost by payer (millions).
- `staircase.png`: each rule's municipal share against accrued paid days, with the benefit
  days of the benefits the rule covers shaded under it by the rule's counter when they were
  paid: where the money falls on the staircase.
- `stock_by_duration.png`: jobseekers by how long they have been unemployed, month by month.
- `services.png`: each service's clients in it and waiting, month by month, against its
  places.
- `transitions.png`: where people go: moves from each state, and from waiting for and being
  in each service (with its provider), to the next state, per replication.
- `referrals.png` (also in `compare`): per rule, the accepted referrals by the in-force
  counter at referral (20-day bins, as referrals.csv) and the municipality's mean expected
  saving per referral in each bin.
- `behaviour.png` (also in `compare`): per rule, the monthly activation rate, the queues and
  the places each service had in each year.
"""

from __future__ import annotations

import datetime as dt
import textwrap
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..accounting.behaviour import Behaviour
from ..accounting.ledger import COUNTER_DAY_BINS, Plan
from ..accounting.outcomes import DURATION_CLASSES, INDICATORS, REFERRAL_BIN_DAYS
from ..funding.rules import NO_RULE, CompiledRule
from ..scenario.vocabulary import ITEMS, PAYERS
from .tables import horizon_end, partial_period, percent

PAYER_COLOURS = {"state": "#1f77b4", "municipality": "#d62728", "fund": "#2ca02c"}
"""Each payer's colour in every plot; no other series uses these three."""
PAYS_LESS, PAYS_MORE = "#5e3c99", "#e66101"
RULE_COLOURS = ("#8c564b", "#e377c2", "#bcbd22", "#7f7f7f", "#17becf", "#9467bd")
"""Each rule's colour where rules share a plot, by its place among the scenario's rules
(the rule in force first) then the others asked for; no payer colour among them."""
SERVICE_STYLES = ("-", "--", ":", "-.")
"""Each service's line style where services share a plot, in the scenario's order."""
DPI = 110


def pyplot() -> Any:
    """matplotlib's pyplot, drawing to files only (the Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def load_matplotlib() -> None:
    """Import matplotlib (and read its font list) in this process now: a forked copy that
    draws then starts with it loaded, and a process that runs many runs (a sweep, the tests)
    loads it once instead of once per copy (about 1.5 s each)."""
    pyplot()


def write_run_plots(folder: Path, plan: Plan, acc: Any, behaviour: bool = True) -> list[Path]:
    """Draw every run plot into `folder` (created); returns the files written. Matplotlib's
    warnings are its own business: what is worth saying is said in the pictures. Without
    `behaviour`, all but the behaviour plots (write_behaviour_plots draws those)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _write_run_plots(folder, plan, acc, behaviour)


def _write_run_plots(folder: Path, plan: Plan, acc: Any, behaviour: bool) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    drawn = []
    makers: list[tuple[str, Callable[..., None]]] = [
        ("costs_monthly.png", _costs), ("staircase.png", _staircase),
        ("stock_by_duration.png", _stock_by_duration), ("services.png", _services),
        ("transitions.png", _transitions)]
    for name, draw in makers:
        if draw is _services and not plan.scenario.services:
            continue
        path = folder / name
        draw(path, plan, acc)
        drawn.append(path)
    if not behaviour:
        return drawn
    return drawn + _write_behaviour_plots(folder, plan, {plan.in_force: acc.behaviour})


def write_behaviour_plots(folder: Path, plan: Plan, behaviours: Mapping[str, Behaviour]
                          ) -> list[Path]:
    """Draw `referrals.png` and `behaviour.png` into `folder` for the histories simulated
    under each rule (sums over replications); none without services. Returns the files."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _write_behaviour_plots(folder, plan, behaviours)


def _write_behaviour_plots(folder: Path, plan: Plan, behaviours: Mapping[str, Behaviour]
                           ) -> list[Path]:
    if not plan.scenario.services:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    colours = rule_colours(plan.scenario.rule_names(), list(behaviours))
    drawn = [folder / "referrals.png", folder / "behaviour.png"]
    _referrals(drawn[0], plan, behaviours, colours)
    _behaviour(drawn[1], plan, behaviours, colours)
    return drawn


def rule_colours(scenario_rules: Sequence[str], rules: Sequence[str]) -> dict[str, str]:
    """One colour per rule (RULE_COLOURS), the same for a rule in every plot of a scenario."""
    order = list(dict.fromkeys([*scenario_rules, *rules]))
    return {rule: RULE_COLOURS[order.index(rule) % len(RULE_COLOURS)] for rule in rules}


def _referrals(path: Path, plan: Plan, behaviours: Mapping[str, Behaviour],
               colours: Mapping[str, str]) -> None:
    """Per rule: referrals per replication by the counter at referral (bars), and the mean
    expected saving per referral in each bin (dots, on the right-hand scale)."""
    plt = pyplot()
    currency = plan.scenario.benefits.currency
    n = len(behaviours)
    fig, axes = plt.subplots(n, 1, figsize=(8, 2.6 * n + 0.8), sharex=True, sharey=True,
                             squeeze=False)
    counts = {rule: b.referrals.sum(axis=(0, 1)) / b.count for rule, b in behaviours.items()}
    used = [int(np.flatnonzero(c).max()) for c in counts.values() if c.any()]
    bins = min(max(max(used, default=0) + 2, 20), len(next(iter(counts.values()))))
    edges = np.arange(bins) * REFERRAL_BIN_DAYS
    savings = {rule: b.mean_saving(axis=(0, 1))[:bins] for rule, b in behaviours.items()}
    found = [v for v in savings.values() if np.isfinite(v).any()]
    low = min((float(np.nanmin(v)) for v in found), default=-1.0)
    high = max((float(np.nanmax(v)) for v in found), default=1.0)
    pad = 0.08 * max(high - low, abs(high), abs(low), 1.0)
    for r, (rule, b) in enumerate(behaviours.items()):
        ax = axes[r, 0]
        ax.stairs(counts[rule][:bins], np.arange(bins + 1) * REFERRAL_BIN_DAYS, fill=True,
                  color=colours[rule], alpha=0.8, label="referrals")
        ax.set_ylabel("referrals per\nreplication", fontsize=8)
        ax.grid(alpha=0.3)
        total = float(counts[rule].sum())
        mean = float(b.mean_saving())
        twin = ax.twinx()
        twin.plot(edges + REFERRAL_BIN_DAYS / 2, savings[rule], "o", color="0.15",
                  markersize=3, label=f"mean expected saving ({currency})")
        twin.axhline(0, color="0.5", linewidth=0.6)
        twin.set_ylim(min(low, 0.0) - pad, max(high, 0.0) + pad)     # one scale for all
        twin.set_ylabel(f"saving per referral,\n{currency}", fontsize=8, color="0.3")
        twin.tick_params(labelsize=8, colors="0.3")
        if total > 0:
            title = (f"{rule}: {total:,.0f} referrals per replication, expected saving "
                     f"{mean:,.0f} {currency} each on average")
        else:
            title = f"{rule}: nobody referred"
        ax.set_title(title, fontsize=9)
        handles = [h for a in (ax, twin) for h in a.get_legend_handles_labels()[0]]
        labels = [t for a in (ax, twin) for t in a.get_legend_handles_labels()[1]]
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.12, 1.0),
                  borderaxespad=0.0, fontsize=8)
    axes[-1, 0].set_xlabel("paid days on the counter of the rule in force at referral "
                           f"({REFERRAL_BIN_DAYS:.0f}-day bins; the last open)")
    axes[-1, 0].set_xlim(0, bins * REFERRAL_BIN_DAYS)
    suptitle(fig, f"{plan.scenario.name}: referrals by the counter at referral, with what "
                   f"the municipality expects each to save (net of the service's cost to it, "
                   f"under the rule in force; mean of {_replications(behaviours)})")
    save_figure(fig, path)


def _behaviour(path: Path, plan: Plan, behaviours: Mapping[str, Behaviour],
               colours: Mapping[str, str]) -> None:
    """The activation rate and the queues month by month, and the places year by year:
    one colour per rule, one line style per service."""
    plt = pyplot()
    services = list(plan.scenario.services)
    fig, axes = plt.subplots(3, 1, figsize=(8, 8.4), squeeze=False)
    rate, queue, places = axes[:, 0]
    months = range(len(plan.months))
    for rule, b in behaviours.items():
        colour = colours[rule]
        rate.plot(months, b.activation_rate() * 100, color=colour, label=rule)
        for s, name in enumerate(services):
            style = SERVICE_STYLES[s % len(SERVICE_STYLES)]
            queue.plot(months, b.waiting[:, s] / b.count, color=colour, linestyle=style,
                       label=f"{rule}: {name}")
            years = np.arange(b.places.shape[0])
            places.plot(years, b.places[:, s] / b.count, color=colour, linestyle=style,
                        marker="o", label=f"{rule}: {name}")
    rate.set_ylabel("activation rate %")
    rate.set_title("in a service / jobseekers (unemployed, waiting or in a service),\n"
                   "all municipalities, first day of each month", fontsize=9)
    queue.set_ylabel("waiting")
    queue.set_title("the queue for each service, first day of each month", fontsize=9)
    for ax in (rate, queue):
        ax.set_ylim(bottom=0)
        _month_axis(ax, plan.months)
    start = plan.scenario.start_date
    n_years = max(b.places.shape[0] for b in behaviours.values())
    places.set_xticks(range(n_years))
    places.set_xticklabels([(start + dt.timedelta(days=365 * k)).isoformat()
                            for k in range(n_years)], fontsize=8)
    places.set_xlabel("year from")
    places.set_ylabel("places")
    places.set_ylim(bottom=0)
    places.set_title("places each service had in each year\n(they change once a year with a "
                     "response_strength above 0)", fontsize=9)
    for ax in (rate, queue, places):
        ax.grid(alpha=0.3)
        _legend(ax, fontsize=7)
    suptitle(fig, f"{plan.scenario.name}: what the municipalities did "
                   f"(mean of {_replications(behaviours)})")
    save_figure(fig, path)


def _replications(behaviours: Mapping[str, Behaviour]) -> str:
    counts = sorted({b.count for b in behaviours.values()})
    return f"{'/'.join(map(str, counts))} replication{'s' if counts != [1] else ''}"


def suptitle(fig: Any, text: str) -> None:
    """A figure title wrapped to the figure's width, so that no word is cut off."""
    fig.suptitle(textwrap.fill(text, width=max(int(fig.get_figwidth() * 11), 30)), fontsize=10)


def save_figure(fig: Any, path: Path) -> None:
    """Lay the figure out, write it to `path` as PNG (the same bytes for the same figure)
    and close it; a file that cannot be written is named in the error."""
    try:
        fig.set_layout_engine("constrained")      # room for the legends outside the axes
        fig.savefig(path, dpi=DPI, metadata={"Software": None})   # no version stamp: same bytes
    except OSError as exc:
        if exc.filename is None:          # say which file could not be written
            exc.filename = str(path)
        raise
    finally:
        pyplot().close(fig)


def _legend(ax: Any, right_of: float = 1.01, **options: Any) -> None:
    """A legend, if anything on the axes has a label: outside the axes on their right, never
    over the data."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(right_of, 1.0), borderaxespad=0.0,
                  **options)


def _month_axis(ax: Any, months: tuple[str, ...]) -> None:
    step = max(1, len(months) // 8)
    ax.set_xticks(range(0, len(months), step))
    ax.set_xticklabels(months[::step], rotation=45, ha="right", fontsize=8)
    ax.set_xlabel("month")


def _costs(path: Path, plan: Plan, acc: Any) -> None:
    plt = pyplot()
    mean = acc.amounts / acc.count               # (rule, month, municipality, payer, item)
    currency = plan.scenario.benefits.currency
    n = len(plan.priced)
    # One scale for every rule, so the same height is the same money in each panel.
    fig, axes = plt.subplots(n, 1, figsize=(8, 2.6 * n + 0.6), sharex=True, sharey=True,
                             squeeze=False)
    partial = _partial_months(plan)
    without_transfers = [i for i, item in enumerate(ITEMS) if item != "transfer"]
    top = 0.0
    for r, rule in enumerate(plan.priced):
        ax = axes[r, 0]
        for p, payer in enumerate(PAYERS):
            monthly = mean[r][:, :, p][:, :, without_transfers].sum(axis=(1, 2)) / 1e6
            top = max(top, float(np.max(monthly, initial=0.0)))
            ax.plot(range(len(plan.months)), monthly, label=payer, color=PAYER_COLOURS[payer])
        ax.set_title(f"{rule}{' (in force)' if rule == plan.in_force else ''}", fontsize=10)
        for day, simple in _switches(plan, rule)[1:]:
            k = int(np.searchsorted(plan.month_starts, day, side="right")) - 1
            ax.axvline(k, color="0.3", linestyle="--", linewidth=0.8)
            ax.annotate(f"{simple.name} from here", (k, 1), xycoords=("data", "axes fraction"),
                        xytext=(3, -10), textcoords="offset points", fontsize=7, color="0.3")
        for k, part in partial:
            ax.axvspan(k - 0.5, k + 0.5, color="0.92", zorder=0)
            if r == 0:
                ax.annotate(f"partial month ({part})", (k, 0.02), xycoords=("data",
                            "axes fraction"), fontsize=7, color="0.4", rotation=90,
                            ha="center", va="bottom")
        ax.set_ylabel(f"million {currency} a month")
        ax.grid(alpha=0.3)
        _legend(ax, fontsize=8, title="payer", title_fontsize=8)
    axes[0, 0].set_ylim(0, top * 1.05 if top > 0 else 1.0)
    _month_axis(axes[-1, 0], plan.months)
    suptitle(fig, f"{plan.scenario.name}: monthly cost by payer, before transfers "
                   f"(mean of {acc.count} replications)")
    save_figure(fig, path)


def _staircase(path: Path, plan: Plan, acc: Any) -> None:
    plt = pyplot()
    n = len(plan.priced)
    fig, axes = plt.subplots(n, 1, figsize=(8, 2.6 * n + 0.6), sharex=True, squeeze=False)
    edges = COUNTER_DAY_BINS
    x = np.linspace(0.0, edges[-1], 2001)
    shares = {rule: days / days.sum() * 100 for rule in plan.priced
              if (days := acc.paid_days_by_counter.get(rule)) is not None and days.sum() > 0}
    highest = max((float(v.max()) for v in shares.values()), default=1.0) * 1.05
    for r, rule in enumerate(plan.priced):
        ax = axes[r, 0]
        twin = ax.twinx()
        if rule in shares:
            twin.stairs(shares[rule], edges, fill=True, color="0.8",   # one artist, not a
                        label="benefit days paid")                      # bar per bin
            twin.set_ylabel("% of the covered paid days", fontsize=8, color="0.4")
        twin.set_ylim(0, highest)          # one scale for every rule
        twin.tick_params(labelsize=8, colors="0.4")
        ax.set_zorder(twin.get_zorder() + 1)
        ax.patch.set_visible(False)
        phases = _switches(plan, rule)
        for f, (day, simple) in enumerate(phases):
            when = ""
            if len(phases) > 1:
                date = plan.scenario.start_date + dt.timedelta(days=max(day, 0.0))
                when = f" ({simple.name} from {date.isoformat()})"
            for b, block in enumerate(simple.blocks):
                share = block.schedule.share_at(x) * 100
                colour = STEP_COLOURS[(f + b) % len(STEP_COLOURS)]
                label = "municipal share" if b == 0 else f"municipal share, block {b + 1}"
                ax.step(x, share, where="post", color=colour, label=label + when)
        if not any(simple.blocks for _, simple in phases):
            ax.text(0.5, 0.5, "no municipal share under this rule", ha="center", va="center",
                    transform=ax.transAxes, fontsize=9, color="0.3")
        ax.set_ylabel("municipal share %")
        ax.set_ylim(0, 100)
        ax.set_title(rule, fontsize=10)
        ax.grid(alpha=0.3)
        _legend(ax, right_of=1.12, fontsize=8)
    axes[-1, 0].set_xlabel("paid days accrued on the rule's counter")
    suptitle(fig, f"{plan.scenario.name}: the municipal share by accrued paid days, and "
                   f"where the caseload's benefit days fall")
    save_figure(fig, path)


STEP_COLOURS = (PAYER_COLOURS["municipality"], "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")


def _switches(plan: Plan, rule: str) -> list[tuple[float, CompiledRule]]:
    """(first day, simple rule) of each rule in force within the horizon: the rule itself,
    or the phases of a timeline that overlap [0, horizon)."""
    compiled = plan.compiled[rule]
    if not compiled.is_timeline:
        return [(0.0, compiled)]
    horizon = float(plan.scenario.horizon_days)
    ends = [*[p.start_day for p in compiled.phases[1:]], np.inf]
    return [(max(p.start_day, 0.0), p.rule) for p, end in zip(compiled.phases, ends, strict=True)
            if p.start_day < horizon and end > 0 and p.rule is not NO_RULE]


def _stock_by_duration(path: Path, plan: Plan, acc: Any) -> None:
    plt = pyplot()
    first = INDICATORS.index(DURATION_CLASSES[0][2])
    values = acc.indicators[:, :, first:first + len(DURATION_CLASSES)].sum(axis=1) / acc.count
    fig, ax = plt.subplots(figsize=(8, 4))
    labels = [name.replace("_", " ") for _, _, name in DURATION_CLASSES]
    ax.stackplot(range(len(plan.months)), values.T / 1000, labels=labels,
                 colors=["#c6dbef", "#6baed6", "#2171b5", "#08306b"])
    ax.set_ylabel("jobseekers, thousands")
    _month_axis(ax, plan.months)
    _legend(ax, fontsize=8, title="unemployed for", title_fontsize=8)
    ax.grid(alpha=0.3)
    suptitle(fig, f"{plan.scenario.name}: jobseekers by duration of unemployment "
                   f"(first day of each month)")
    save_figure(fig, path)


def _services(path: Path, plan: Plan, acc: Any) -> None:
    plt = pyplot()
    names = list(plan.scenario.services)
    values = acc.services_by_month / acc.count            # (month, service, waiting/in)
    fig, axes = plt.subplots(len(names), 1, figsize=(8, 2.4 * len(names) + 0.6), sharex=True,
                             squeeze=False)
    months = range(len(plan.months))
    places_by_month = acc.behaviour.places_by_month(plan.month_starts)   # (month, service)
    for i, name in enumerate(names):
        ax = axes[i, 0]
        places = sum(plan.scenario.services[name].capacity.values())
        ax.plot(months, values[:, i, 1], label="in the service", color="#17becf")
        ax.plot(months, values[:, i, 0], label="waiting", color="#ff7f0e")
        changes = bool(np.ptp(places_by_month[:, i]) > 0)
        ax.step(months, places_by_month[:, i], where="post", color="0.3", linestyle="--",
                linewidth=1,
                label="places (each year's mean)" if changes else "places")
        ax.set_ylabel("clients")
        ax.set_ylim(bottom=0)
        at_start = " at the start" if changes else ""
        ax.set_title(f"{name}: {places:,} places{at_start}, utilisation "
                     f"{utilisation(acc, name)}", fontsize=10)
        ax.grid(alpha=0.3)
        _legend(ax, fontsize=8)
    _month_axis(axes[-1, 0], plan.months)
    suptitle(fig, f"{plan.scenario.name}: service clients on the first day of each month")
    save_figure(fig, path)


def utilisation(acc: Any, service: str) -> str:
    """A service's utilisation as the report and summary.json have it (place-days in use over
    place-days available over the horizon), as a percentage."""
    row = acc.services.get(service, {})
    return percent(row.get("utilisation", 0.0) / max(acc.count, 1))


def _partial_months(plan: Plan) -> list[tuple[int, str]]:
    """(index, the part covered) of each month the horizon covers only in part."""
    start = plan.scenario.start_date
    end = horizon_end(start, plan.scenario.horizon_days)
    return [(k, part) for k, month in enumerate(plan.months)
            if (part := partial_period(month, start, end)) is not None]


def write_comparison_plot(path: Path, rules: tuple[str, ...], municipalities: tuple[str, ...],
                          summary: dict[str, Any], currency: str, title: str) -> None:
    """Winners and losers: each municipality's change in net municipal cost (with the
    transfers when they are on) under each rule against the first, with its 95 % interval.
    `summary` holds the arrays `diff_mean`, `diff_ci_low`, `diff_ci_high` indexed (rule,
    municipality)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _comparison_plot(path, rules, municipalities, summary, currency, title)


def _comparison_plot(path: Path, rules: tuple[str, ...], municipalities: tuple[str, ...],
                     summary: dict[str, Any], currency: str, title: str) -> None:
    plt = pyplot()
    others = list(range(1, len(rules)))
    height = 0.35 * len(municipalities) + 1.2
    fig, axes = plt.subplots(1, max(len(others), 1), figsize=(5.5 * max(len(others), 1),
                                                             height), squeeze=False, sharey=True)
    y = np.arange(len(municipalities))[::-1]
    for col, r in enumerate(others):
        ax = axes[0, col]
        mean = summary["diff_mean"][r] / 1e6
        low, high = summary["diff_ci_low"][r] / 1e6, summary["diff_ci_high"][r] / 1e6
        known = ~np.isnan(low)
        colour = np.where(~known, "0.5", np.where(high < 0, PAYS_LESS,
                                                  np.where(low > 0, PAYS_MORE, "0.5")))
        ax.barh(y, mean, color=colour, alpha=0.7)
        err = np.vstack([np.where(known, mean - low, 0), np.where(known, high - mean, 0)])
        ax.errorbar(mean, y, xerr=err, fmt="none", ecolor="0.2", capsize=3, linewidth=1)
        ax.axvline(0, color="0.2", linewidth=0.8)
        if col == 0:          # the names once, on the left: each label is measured often
            ax.set_yticks(y)
            ax.set_yticklabels(municipalities)
        else:
            ax.tick_params(labelleft=False)
        ax.yaxis.set_label_coords(-0.01, 0.5)    # no y label to place by the names' extents
        ax.set_ylim(-0.6, len(municipalities) - 0.4)        # no margin of empty rows
        ax.set_xlabel(f"change in net municipal cost, million {currency} "
                      + ("(95 % interval)" if known.any() else "(one replication: no interval)"))
        ax.set_title(f"{rules[r]} against {rules[0]}\npurple: pays less, orange: pays "
                     f"more, grey: no clear change", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    if not others:
        axes[0, 0].set_axis_off()
        axes[0, 0].text(0.5, 0.5, "one rule: nothing to compare", ha="center")
    suptitle(fig, title)
    save_figure(fig, path)


def _transitions(path: Path, plan: Plan, acc: Any) -> None:
    """A flow table as a picture: rows are where people come from (a state, or a service
    with its provider), columns where they go; cells are moves per replication."""
    from ..scenario.vocabulary import STATES

    plt = pyplot()
    mean = acc.transitions / acc.count                    # (from, to, service slot)
    services = plan.scenario.services
    rows, values = [], []
    for a, state in enumerate(STATES):
        if state in ("waiting", "service"):
            for slot, name in enumerate(acc.services_names, start=1):
                if mean[a, :, slot].sum() > 0:
                    provider = services[name].provider if name in services else ""
                    verb = "waiting for" if state == "waiting" else "in"
                    rows.append(f"{verb} {name} ({provider})")
                    values.append(mean[a, :, slot])
        elif mean[a].sum() > 0:
            rows.append(state)
            values.append(mean[a].sum(axis=1))
    to_states = [b for b in range(len(STATES)) if any(v[b] > 0 for v in values)]
    matrix = np.array([[v[b] for b in to_states] for v in values]) if values else np.zeros((1, 1))
    fig, ax = plt.subplots(figsize=(1.3 * max(len(to_states), 3) + 3, 0.45 * len(rows) + 1.8))
    shown = np.log10(matrix + 1.0)
    ax.imshow(shown, cmap="Blues", aspect="auto")
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            if matrix[i, j] > 0:
                ax.text(j, i, f"{matrix[i, j]:,.0f}", ha="center", va="center", fontsize=7,
                        color="white" if shown[i, j] > shown.max() * 0.6 else "black")
    ax.set_xticks(range(len(to_states)))
    ax.set_xticklabels([STATES[b] for b in to_states], rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows, fontsize=8)
    ax.set_xlabel("to")
    ax.set_ylabel("from")
    suptitle(fig, f"{plan.scenario.name}: moves over the horizon, per replication "
                   f"(mean of {acc.count})")
    save_figure(fig, path)
