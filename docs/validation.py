"""Write docs/validation.md: the national scenario's figures beside the published ones.

    python docs/validation.py [--scenario FILE] [--targets FILE] [--out FILE]

Simulates replication 0 of the national scenario at full scale, with its own seed and the
parameters frozen in it, measures every target of the targets file (the calibration's own
measures), and writes the table: published figure, source, model, relative difference,
whether it is within the target's tolerance; then says where the model misses. Nothing is
fitted here: this is what the shipped scenario gives.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from incentive_sim.accounting.kela import Bill
from incentive_sim.accounting.ledger import Plan
from incentive_sim.calibration.fit import relative_differences
from incentive_sim.calibration.moments import measure
from incentive_sim.calibration.targets import load_targets
from incentive_sim.scenario import load_scenario
from incentive_sim.simulation.engine import simulate

REPO = Path(__file__).resolve().parents[1]

# Where the model misses, and why, by the first words of a target's name.
WHY = {
    "municipal share 2025 subsidy 101-200": (
        "The subsidy's lowest class is light and 301-700 heavy: the caseload's accrued "
        "counters are one lognormal for every subsidy recipient, fitted mostly to the large "
        "701- class, and few new subsidy recipients arrive to fill the lower classes."),
    "municipal share 2025 subsidy": (
        "The subsidy's middle classes (301-700) are too heavy and 101-200 too light: see "
        "above."),
    "recipients 2025 subsidy": (
        "Same cause as the subsidy's classes: the counters' spread, not the number of people."),
    "municipal share 2025 basic allowance": (
        "The basic allowance's upper classes are short: its recipients count only their "
        "current spell (the employment condition that opened the allowance restarted the "
        "counter), so few reach day 300 unless the 500-day maximum carries them."),
    "recipients 2025 basic allowance": (
        "Same cause: too few basic-allowance spells reach day 300."),
    "recipients 2025 earnings-related": (
        "More earnings-related recipients pass paid day 100 and fewer reach day 300 than Kela "
        "counts: spells on the allowance are too alike in the model, where in reality many are "
        "short temporary lay-offs and some last to the maximum."),
    "municipal share 2025 earnings-related": (
        "See the earnings-related recipients: too many spells pass day 100, too few day 300."),
    "co-financed": (
        "Distinct co-financed recipients are above Kela's: the earnings-related spells that "
        "pass day 100 (see above)."),
    "municipal share 2025-1": (
        "Kela's bill rises in the autumn (October and November hold a catch-up of transfers "
        "from the earnings-related allowance to the subsidy, which the model has no reason "
        "to reproduce); the model's stays level."),
    "municipal share 2025-0": (
        "The model's spring is above Kela's and its autumn below: its inflow rises smoothly "
        "along a line through mid-year levels, while the bill's path has the catch-up above."),
    "recipients 2025-1": (
        "The model's co-financed recipients stay level in the autumn; Kela's rise with the "
        "catch-up."),
    "recipients 2025-01": (
        "January: with the payment lag every January payee has some 2025 days in the model, "
        "while Kela's January bill leaves out people paid only for 2024 days."),
    "January 2025": (
        "The caseload's counters at the start are one lognormal: too many subsidy recipients "
        "start above day 700, so that the year's 701- class is reached."),
    "caseload 2026": (
        "The caseload first falls from its December peak and then grows with the inflow; it "
        "reaches TEM's forecast level a year late (the fitted inflow of 2028 is high for the "
        "same reason)."),
    "long-term share": (
        "The long-term share is a register figure of 2023 for all jobseekers; the model's "
        "caseload of benefit recipients is more long-term."),
    "unemployed": (
        "The register's duration classes are of 2023 and of all jobseekers, not only benefit "
        "recipients; the model's stock has fewer short spells."),
    "activation rate": (
        "Weight 0: the national scenario's services have places for about 6 % of the caseload; "
        "the statutory baseline of activation is the work of the municipal behaviour issue."),
    "gross benefits": (
        "The published 4.0 bn EUR is of 2024, when the earnings-related caseload was larger; "
        "the model's earnings-related spells are shorter (see above)."),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", type=Path,
                    default=REPO / "scenarios" / "finland_national_2025.yaml")
    ap.add_argument("--targets", type=Path,
                    default=REPO / "scenarios" / "targets" / "finland_2025.yaml")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "validation.md")
    args = ap.parse_args()
    started = time.perf_counter()
    scenario = load_scenario(args.scenario)
    spec = load_targets(args.targets, scenario)
    short = scenario.model_copy(update={"horizon_days": spec.horizon_days})
    plan = Plan.of(short, [short.funding.in_force])
    result = simulate(short, 0, short.seed)
    figures = measure(spec, plan, result)
    rel = relative_differences(figures, spec.values)
    bill = Bill.of(result.spells, plan)
    seconds = time.perf_counter() - started
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                            capture_output=True, text=True, check=False).stdout.strip()
    lines = [
        "# Validation: the national scenario beside the published figures",
        "",
        f"Produced by `python docs/validation.py` (commit {commit or 'unknown'}, "
        f"{dt.date.today().isoformat()}, {seconds:.0f} s): replication 0 of "
        f"`{args.scenario.relative_to(REPO)}` at full scale with its seed {scenario.seed}, "
        f"measured on every target of `{args.targets.relative_to(REPO)}`. The parameters "
        "marked \"fitted\" in the scenario were fitted to these targets with "
        "`incentive-sim calibrate`; nothing is fitted here.",
        "",
        f"{int(np.sum(np.abs(rel) <= np.array([t.tolerance for t in spec.targets])))} of "
        f"{len(rel)} figures are within their tolerance.",
        "",
        "| target | published | model | difference | tolerance | within | weight |",
        "|---|---|---|---|---|---|---|",
    ]
    for t, model, r in zip(spec.targets, figures, rel, strict=True):
        within = "yes" if abs(r) <= t.tolerance else "**no**"
        lines.append(f"| {t.name} | {_fmt(t.value)} | {_fmt(model)} | {r:+.1%} | "
                     f"{t.tolerance:.0%} | {within} | {t.weight:g} |")
    lines += ["", *_in_the_issues_terms(spec.targets, figures), "",
              *_the_split(scenario, plan, bill), "", "## Where the model misses, and why", ""]
    said: set[str] = set()
    for t, r in zip(spec.targets, rel, strict=True):
        if abs(r) <= t.tolerance:
            continue
        key = next((k for k in WHY if t.name.startswith(k)), None)
        if key is None or key in said:
            continue
        said.add(key)
        lines.append(f"- **{t.name}** ({r:+.1%}): {WHY[key]}")
    lines += ["", "## Sources", ""]
    for source in dict.fromkeys(t.source for t in spec.targets if t.source):
        lines.append(f"- {source}")
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({seconds:.0f} s)")


def _in_the_issues_terms(targets: Any, figures: np.ndarray) -> list[str]:
    """Kela's 2025 bill by class over the benefits and the February-September mean."""
    by_class: dict[str, list[float]] = {}
    months: list[tuple[float, float]] = []
    for t, model in zip(targets, figures, strict=True):
        if t.measure != "municipal_share" or t.quantity is not None:
            continue
        if t.year == 2025 and t.day_class is not None:
            pair = by_class.setdefault(t.day_class, [0.0, 0.0])
            pair[0] += t.value
            pair[1] += model
        if t.month is not None and t.benefit is None and 2 <= int(t.month[5:]) <= 9:
            months.append((t.value, model))
    lines = ["## Kela's 2025 bill by class and over the spring and summer", "",
             "| figure | published, M EUR | model, M EUR | difference |", "|---|---|---|---|"]
    for label, (value, model) in by_class.items():
        lines.append(f"| class {label}, all benefits | {value / 1e6:.1f} | {model / 1e6:.1f} | "
                     f"{model / value - 1:+.1%} |")
    value = float(np.mean([v for v, _ in months]))
    model = float(np.mean([m for _, m in months]))
    lines.append(f"| February-September, mean a month | {value / 1e6:.1f} | {model / 1e6:.1f} "
                 f"| {model / value - 1:+.1%} |")
    return lines


def _the_split(scenario: Any, plan: Plan, bill: Bill) -> list[str]:
    """How the model's 2025 bill splits over the municipalities, beside the simple split by
    working-age population times the mean register unemployment rate of 2024."""
    year = [i for i, m in enumerate(plan.months) if m.startswith("2025")]
    euros = bill.euros[year].sum(axis=(0, 2, 3))
    share = euros / euros.sum()
    munis = scenario.municipalities
    simple = np.array([m.working_age_population * (m.unemployment_rate or 0.0)
                       for m in munis.values()])
    simple = simple / simple.sum()
    ratio = share / simple
    q = np.percentile(ratio, [5, 25, 50, 75, 95])
    order = np.argsort(-euros)[:10]
    lines = [
        "## How the bill splits over the municipalities", "",
        "Not a calibration target: the split comes out of the structure. Each municipality's "
        "caseload follows its working-age population, its region's labour-force participation "
        "(Labour Force Survey 2020) and its register unemployment rate of 2024; its "
        "unemployed leave unemployment at a pace of their own (`exit_index`, fitted to the "
        "monthly register rates of 2023-2025 by `incentive_sim.data.dynamics`: exits slow "
        "where unemployment is high), so its spells, counters and day classes differ; and its "
        "inflow is what keeps its caseload at that level. The simple split to beat shares the "
        "bill by working-age population x the mean register rate of 2024.", "",
        f"Model share / simple share over the {len(munis)} municipalities: 5 % {q[0]:.2f}, "
        f"25 % {q[1]:.2f}, median {q[2]:.2f}, 75 % {q[3]:.2f}, 95 % {q[4]:.2f}.", "",
        "| municipality | model 2025, M EUR | model share | simple share | ratio |",
        "|---|---|---|---|---|"]
    names = list(munis)
    for k in order:
        lines.append(f"| {names[k]} | {euros[k] / 1e6:.1f} | {share[k]:.2%} | "
                     f"{simple[k]:.2%} | {ratio[k]:.2f} |")
    return lines


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3f}"


if __name__ == "__main__":
    main()
