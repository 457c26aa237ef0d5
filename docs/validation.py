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

import numpy as np

from incentive_sim.analysis.ledger import Plan
from incentive_sim.calibration.fit import relative_differences
from incentive_sim.calibration.moments import measure
from incentive_sim.calibration.targets import load_targets
from incentive_sim.scenario import load_scenario
from incentive_sim.simulation.engine import simulate

REPO = Path(__file__).resolve().parents[1]

# Where the model misses, and why, by the first words of a target's name.
WHY = {
    "municipal share 2025 subsidy": (
        "The subsidy's middle classes (301-700) are too heavy and 101-200 too light: the "
        "caseload's accrued counters are one lognormal for every subsidy recipient, fitted "
        "mostly to the large 701- class, and few new subsidy recipients arrive to fill the "
        "lower classes."),
    "recipients 2025 subsidy": (
        "Same cause as the subsidy's classes: the counters' spread, not the number of people."),
    "municipal share 2025 basic allowance": (
        "The basic allowance's bill is short: the model's basic-allowance recipients count only "
        "their current spell (the employment condition that opened the allowance restarted the "
        "counter), so few reach the upper classes, and their recipients during 2025 are short "
        "too."),
    "recipients 2025 earnings-related": (
        "More earnings-related recipients pass paid day 100 than Kela counts: spells on the "
        "allowance last longer in the model than in reality, where many are temporary lay-offs "
        "that end early."),
    "municipal share 2025 earnings-related": (
        "Too many earnings-related spells pass paid day 100 and too few reach day 300: spells "
        "on the allowance are too alike in the model, where in reality many are short "
        "temporary lay-offs and some last to the 500-day maximum."),
    "co-financed": (
        "Distinct co-financed recipients are above Kela's: the model's earnings-related spells "
        "are too long (see above)."),
    "municipal share 2025-1": (
        "Kela's bill rises in the autumn (October and November hold a catch-up of transfers "
        "from the earnings-related allowance to the subsidy); the model's falls, as its "
        "caseload does."),
    "recipients 2025-1": (
        "The model's co-financed recipients fall through the year, with its caseload."),
    "recipients 2025-01": (
        "January: with the payment lag every January payee has some 2025 days in the model, "
        "while Kela's January bill leaves out people paid only for 2024 days."),
    "long-term share": (
        "The model's caseload becomes more long-term through 2025: the fit sees only 2025 and "
        "lets the short spells drain; no shipped figure holds the caseload's level after it."),
    "unemployed": (
        "The register's duration classes are of 2023 and of all jobseekers, not only benefit "
        "recipients; the model's stock drifts toward long spells (see the long-term share)."),
    "activation rate": (
        "Weight 0: the national scenario's services have places for about 6 % of the caseload; "
        "the statutory baseline of activation is the work of the municipal behaviour issue."),
    "gross benefits": (
        "The published 4.0 bn EUR is of 2024; the model's 2025 benefits are lower as its "
        "caseload falls during the year."),
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
    figures = measure(spec, plan, simulate(short, 0, short.seed))
    rel = relative_differences(figures, spec.values)
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
    lines += ["", "## Where the model misses, and why", ""]
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


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3f}"


if __name__ == "__main__":
    main()
