"""The command line: parses arguments, calls the library, prints. Exit codes: 0 ok, 1 a failed
expectation, 2 bad input (reported as `file:line: field.path: message`, never a traceback)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import __version__
from .report.tables import horizon_end, partial_period
from .scenario import InputError, Scenario, json_schema, load_scenario
from .scenario.places import municipality_named
from .scenario.rules import preset, preset_names, preset_text, unknown_rule
from .scenario.vocabulary import PAYERS

app = typer.Typer(
    name="incentive-sim",
    help="Simulate who pays for unemployment (state, municipality, fund) under Nordic funding "
         "rules, and what the rules make municipalities do.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
rules_app = typer.Typer(help="The funding-rule presets.", invoke_without_command=True)
app.add_typer(rules_app, name="rules")

# Off a terminal (pipes, CI logs) tables keep their rows on one line rather than wrapping at 80,
# unless COLUMNS says how wide to print. No emoji codes: `file.yaml:100:` must not print as a 💯.
out = Console(width=None if sys.stdout.isatty() else 160, emoji=False)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160, emoji=False)
T = TypeVar("T")


def _fit_consoles() -> None:
    """Print as wide as COLUMNS says (read when a command starts, not when imported), else
    the terminal's width, else 160 columns off a terminal."""
    columns = os.environ.get("COLUMNS", "")
    for console in (out, err):
        if columns.isdigit() and int(columns) > 0:
            console.width = int(columns)
        elif not console.file.isatty():
            console.width = 160
        else:
            console.width = shutil.get_terminal_size().columns


def _bad_input(exc: InputError) -> NoReturn:
    for problem in exc.problems:  # one problem per line, never wrapped: tools parse these
        err.print(str(problem), markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _guarded(action: Callable[[], T]) -> T:
    """Run `action`, turning bad input into exit code 2 with located messages."""
    try:
        return action()
    except InputError as exc:
        _bad_input(exc)


def _version(value: bool) -> None:
    if value:
        out.print(f"incentive-sim {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """incentive-sim command line."""
    _fit_consoles()


@app.command()
def validate(scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")]) -> None:
    """Check a scenario; exit 0 if valid, else 2 with one line per problem."""
    s = _guarded(lambda: load_scenario(scenario))
    out.print(f"{scenario}: valid scenario {s.name!r} ({len(s.municipalities)} municipalities, "
              f"rules {', '.join(s.rule_names())})", markup=False, highlight=False)


@app.command()
def schema(
    rules: Annotated[bool, typer.Option(
        "--rules", help="The schema of a file of funding rules (rule names to rules, as the "
                        "shipped presets) instead.")] = False,
) -> None:
    """Print the JSON Schema of the scenario language (for editors)."""
    print(json.dumps(json_schema("rules" if rules else "scenario"), indent=2))


@rules_app.callback()
def rules_list(ctx: typer.Context) -> None:
    """List the funding-rule presets."""
    if ctx.invoked_subcommand is not None:
        return
    table = Table(title="Funding-rule presets")
    names = preset_names()
    table.add_column("name", no_wrap=True, min_width=max(map(len, names), default=4))
    for column in ("title", "valid", "currency", "timeline"):     # these wrap to fit
        table.add_column(column, overflow="fold")
    for name in names:
        rule = preset(name)
        valid = f"{rule.valid_from or ''} - {rule.valid_to or ''}".strip()
        timeline = "\n".join(f"{e.rule} from {e.from_}" for e in rule.timeline or [])
        table.add_row(name, rule.title, valid, rule.currency, timeline)
    out.print(table)


@rules_app.command("show")
def rules_show(name: Annotated[str, typer.Argument(help="Preset name.")]) -> None:
    """Print one preset as YAML, with its legal reference and confidence note."""
    if name not in preset_names():
        err.print(f"{name}: {unknown_rule(name, preset_names())}", markup=False,
                  highlight=False)
        raise typer.Exit(2)
    print(preset_text(name), end="")


@app.command()
def cases(
    file: Annotated[Path, typer.Argument(help="Cases YAML file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """Price scripted example jobseekers; exit 1 if any `expect:` fails."""
    from .funding.cases import run_cases

    results = _guarded(lambda: run_cases(file))
    if as_json:
        print(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        table = Table(title=escape(f"Example jobseekers: {file}"))
        table.add_column("case")
        table.add_column("rule")
        for column in ("municipality", "state", "fund", "total"):
            table.add_column(column, justify="right")
        table.add_column("check")
        for r in results:
            check = ("ok" if r.ok else "FAILED") if r.checked else "-"
            table.add_row(escape(r.name), escape(r.rule), f"{r.municipality:,.2f}",
                          f"{r.state:,.2f}", f"{r.fund:,.2f}", f"{r.total:,.2f}", check)
        out.print(table)
    failed = [r for r in results if not r.ok]
    for r in failed:
        for failure in r.failures:
            err.print(f"FAILED {r.name} [{r.rule}]: {failure}", markup=False, highlight=False,
                      soft_wrap=True)
    if failed:
        raise typer.Exit(1)


# Options shared by run, compare and sweep.
Seed = Annotated[int | None, typer.Option(
    min=0, help="Seed (default: the scenario's).", show_default=False)]
Replications = Annotated[int | None, typer.Option(
    min=1, help="Replications (default: the scenario's).", show_default=False)]
Workers = Annotated[int, typer.Option(
    min=1, help="Local processes running the replications or points (the outputs do not "
                "change).")]
Scheduler = Annotated[str | None, typer.Option(
    help="Address of a Dask distributed scheduler to run on (needs the 'dask' extra).",
    show_default=False)]
class OnOff(str, Enum):
    on = "on"
    off = "off"


TransfersOption = Annotated[OnOff, typer.Option(
    "--transfers", help="on: each rule priced gets its own state transfer as the scenario "
                        "defines it (as the law has it); off: no rule gets any, so the rules' "
                        "own municipal costs can be compared.", case_sensitive=False)]
MunicipalityOption = Annotated[str | None, typer.Option(
    "--municipality", help="Also print this municipality's money by year (its name or "
                           "code).", show_default=False)]
Force = Annotated[bool, typer.Option(
    "--force", help="Replace the content of --out even if it holds another command's output "
                    "or files this command did not write.")]


@app.command()
def run(
    scenario: Annotated[Path | None, typer.Argument(
        help="Scenario YAML file; without one, the default scenario shipped with the package.",
        show_default=False)] = None,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Output folder (default: runs/<scenario file name>).",
        show_default=False)] = None,
    seed: Seed = None,
    replications: Replications = None,
    spells: Annotated[bool, typer.Option(
        "--spells", help="Also write spells.csv.gz (replication 0).")] = False,
    transfers: TransfersOption = OnOff.on,
    municipality: MunicipalityOption = None,
    workers: Workers = 1,
    scheduler: Scheduler = None,
    force: Force = False,
) -> None:
    """Simulate a scenario and price it under every rule; write the outputs to --out."""
    from .experiments.run import MUNICIPALITIES_YEARLY, default_scenario, run_scenario

    with default_scenario() as default:
        path = scenario if scenario is not None else default
        s = _guarded(lambda: load_scenario(path))
    chosen = _guarded(lambda: _municipality(s, municipality))
    target = out_dir if out_dir is not None else Path("runs") / path.stem
    command = ["incentive-sim", "run", *([str(scenario)] if scenario is not None else []),
               "--out", str(target),
               *(["--seed", str(seed)] if seed is not None else []),
               *(["--replications", str(replications)] if replications is not None else []),
               *(["--spells"] if spells else []),
               *(["--transfers", "off"] if transfers is OnOff.off else []),
               *(["--municipality", municipality] if municipality is not None else [])]
    summary = _guarded(lambda: run_scenario(
        s, target, replications=replications, seed=seed, write_spells=spells, progress=True,
        command=command, workers=workers, scheduler=scheduler, force=force,
        transfers=transfers is OnOff.on))
    provenance = summary["provenance"]
    for table in _money_tables(s, summary, transfers.value):
        out.print(table)
    if chosen is not None:
        _yearly_tables(target / MUNICIPALITIES_YEARLY, s, chosen, summary["currency"],
                       intervals=False)
    _print_warnings(summary)
    out.print(f"Outputs in {target} ({provenance['wall_time_s']:.1f} s)", markup=False,
              highlight=False, soft_wrap=False)


def _print_warnings(headline: dict[str, Any]) -> None:
    """The warnings of summary.json or comparison.json, on stderr."""
    for warning in headline.get("warnings", []):
        err.print(f"warning: {warning}", markup=False, highlight=False)


def _money_tables(s: Scenario, summary: dict[str, Any], transfers: str) -> list[Table]:
    """`run`'s money per rule in two narrow tables rather than one too wide for 80 columns:
    who pays the benefits (gross benefits and the three parts it adds up from), then the
    municipality's net cost with the four parts it adds up from."""
    rules = summary["rules"]
    head = (f"{s.name}: over {s.horizon_days} days, millions {summary['currency']}, mean of "
            f"{summary['provenance']['replications']} replications")
    bands = (
        (f"{head}. Benefits, by who pays them",
         ("gross_benefits", "fund", "state_share", "municipal_share"),
         "gross benefits = fund part + state share + benefit share"),
        (f"The net municipal cost (transfers {transfers})",
         ("municipal_share", "municipal_services", "transfer", "bonus", "net"),
         "net (the net municipal cost) = benefit share + services - transfer - bonuses "
         "(docs/glossary.md)"))
    tables = []
    for title, columns, caption in bands:
        table = Table(title=escape(title), caption=caption, box=box.SIMPLE_HEAD,
                      show_edge=False)
        table.add_column("rule", overflow="fold", min_width=min(max(map(len, rules)), 24))
        for column in columns:
            table.add_column("net" if column == "net" else SHORT[column], justify="right")
        for rule, entry in rules.items():
            name = f"{rule}\n(in force)" if entry["in_force"] else rule
            table.add_row(escape(name), *(_millions(entry["money"][c]) for c in columns))
        tables.append(table)
    return tables


SHORT = {"gross_benefits": "gross benefits", "fund": "fund part", "state_share": "state share",
         "municipal_share": "benefit share", "municipal_services": "services",
         "state_services": "state services", "transfer": "transfer", "bonus": "bonuses",
         "net_before_transfer": "net before transfer", "net": "net municipal cost",
         "state_net": "net state cost", "gross_outlay": "gross outlay"}
"""Column heads for the money measures (docs/glossary.md) where space is short."""


def _millions(x: float | None) -> str:
    return "-" if x is None else f"{(x + 0.0) / 1e6:,.2f}"


def _municipality(s: Scenario, given: str | None) -> str | None:
    return None if given is None else municipality_named(s.municipalities, given)


def _thousands(x: str) -> str:
    return "" if x == "" else f"{float(x) / 1e3 + 0.0:,.0f}"


def _plus_minus(row: dict[str, str], column: str) -> str:
    """`mean ±half-width` of the 95 % interval (a Student-t interval is symmetric), in
    thousands."""
    mean, low, high = row[column], row[f"{column}_ci_low"], row[f"{column}_ci_high"]
    if low == "":
        return _thousands(mean)
    return f"{_thousands(mean)} ±{(float(high) - float(low)) / 2e3:,.0f}"


def _yearly_tables(path: Path, s: Scenario, municipality: str, currency: str,
                   intervals: bool) -> None:
    """One municipality's rows of municipalities_yearly.csv, a table per rule, narrow enough
    for 80 columns: thousands; in a comparison each mean ± the half-width of its 95 %
    interval, and for every rule but the first a `diff` row under each year with the paired
    differences from the first, so that every net shows the parts it adds up from. A year
    the horizon covers only in part is marked `*` and said so under the table."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["municipality"] == municipality]
    code = s.municipalities[municipality].code
    where = f"{municipality} ({code})" if code else municipality
    start, end = s.start_date, horizon_end(s.start_date, s.horizon_days)
    partial = {r["year"]: part for r in rows
               if (part := partial_period(r["year"], start, end)) is not None}
    parts = ("municipal_share_eur", "municipal_services_eur", "transfer_eur", "bonus_eur",
             "net_eur")
    rules = list(dict.fromkeys(r["rule"] for r in rows))
    for i, rule in enumerate(rules):
        compared = intervals and i > 0
        note = ("; ± half the 95 % interval" if intervals else "") + (
            f"; diff: paired difference from {rules[0]}" if compared else "")
        caption = ["net = benefit share + services - transfer - bonuses"]
        caption += [f"{year}*: partial year ({part})" for year, part in partial.items()]
        table = Table(title=escape(f"{where} under {rule}, thousands {currency} by year of "
                                   f"payment{note}"),
                      caption=escape("; ".join(caption)), box=box.SIMPLE_HEAD,
                      show_edge=False)

        def cell(column: str, spread: bool = intervals and not compared
                 ) -> Callable[[dict[str, str]], str]:
            return (lambda row: _plus_minus(row, column)) if spread else (
                lambda row: _thousands(row[column]))

        heads: list[tuple[str, Callable[[dict[str, str]], str]]] = []
        if not intervals:
            heads += [("people", lambda row: _count(row["recipients"])),
                      ("gross benefits", cell("gross_eur"))]
        heads += [("benefit share", cell("municipal_share_eur")),
                  ("services", cell("municipal_services_eur")),
                  ("transfer", cell("transfer_eur")), ("bonuses", cell("bonus_eur")),
                  ("net", cell("net_eur"))]
        table.add_column("year")
        for head, _ in heads:
            table.add_column(head, justify="right")
        for r in rows:
            if r["rule"] != rule:
                continue
            year = r["year"] + ("*" if r["year"] in partial else "")
            table.add_row(year, *(f(r) for _, f in heads))
            if compared:   # the means' intervals are in the first rule's table and the file
                table.add_row("diff", *(_plus_minus(r, f"{c}_diff") for c in parts),
                              end_section=True)
        out.print(table)


def _count(x: str) -> str:
    return f"{float(x):,.0f}"


@app.command()
def compare(
    scenario: Annotated[Path | None, typer.Argument(
        help="Scenario YAML file; without one, the default scenario shipped with the package.",
        show_default=False)] = None,
    funding: Annotated[str | None, typer.Option(
        help="Rules to compare, comma-separated; differences are against the first "
             "(default: the scenario's rule in force, then its `compare` list).",
        show_default=False)] = None,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Output folder (default: runs/<scenario file name>-compare).",
        show_default=False)] = None,
    behavioural: Annotated[bool, typer.Option(
        "--behavioural", help="Simulate again with each rule in force (municipalities "
                              "respond); without it every rule prices the same histories.")
                           ] = False,
    transfers: TransfersOption = OnOff.on,
    municipality: MunicipalityOption = None,
    seed: Seed = None,
    replications: Replications = None,
    workers: Workers = 1,
    scheduler: Scheduler = None,
    force: Force = False,
) -> None:
    """Compare funding rules: money measures, differences and 95 % intervals, per
    municipality and year."""
    from .experiments.compare import compare as run_compare
    from .experiments.run import MUNICIPALITIES_YEARLY, default_scenario

    with default_scenario() as default:
        path = scenario if scenario is not None else default
        s = _guarded(lambda: load_scenario(path))
    chosen = _guarded(lambda: _municipality(s, municipality))
    rules = ([r.strip() for r in funding.split(",") if r.strip()] if funding is not None
             else s.rule_names())
    target = out_dir if out_dir is not None else Path("runs") / f"{path.stem}-compare"
    command = ["incentive-sim", "compare", *([str(scenario)] if scenario is not None else []),
               "--funding", ",".join(rules),
               "--out", str(target), *(["--behavioural"] if behavioural else []),
               *(["--transfers", "off"] if transfers is OnOff.off else []),
               *(["--municipality", municipality] if municipality is not None else []),
               *(["--seed", str(seed)] if seed is not None else []),
               *(["--replications", str(replications)] if replications is not None else [])]
    headline = _guarded(lambda: run_compare(
        s, rules, target, behavioural=behavioural, replications=replications, seed=seed,
        workers=workers, scheduler=scheduler, progress=True, command=command, force=force,
        transfers=transfers is OnOff.on))
    table = Table(title=escape(
        f"{s.name}: {headline['mode']} comparison over {s.horizon_days} days, millions "
        f"{headline['currency']} (mean of {headline['replications']} replications; "
        f"transfers {headline['transfers']}; differences against {headline['reference']}, "
        f"95 % intervals)"),
        caption="net before transfer = benefit share + services - bonuses; net municipal "
                "cost = net before transfer - transfer (docs/glossary.md)",
        box=box.SIMPLE_HEAD, show_edge=False)
    for column in ("rule", "measure", "mean", "difference", "interval"):
        table.add_column(column, justify="left" if column in ("rule", "measure") else "right")
    shown = ("municipal_share", "municipal_services", "bonus", "net_before_transfer",
             "transfer", "net", "state_net", "gross_outlay")
    for rule, values in headline["rules"].items():
        for k, measure in enumerate(shown):
            v: dict[str, Any] = values[measure]
            table.add_row(escape(rule) if k == 0 else "", SHORT[measure], _millions(v["mean"]),
                          _millions(v["diff_mean"]),
                          f"[{_millions(v['diff_ci_low'])}, {_millions(v['diff_ci_high'])}]")
        table.add_section()
    out.print(table)
    if chosen is not None:
        _yearly_tables(target / MUNICIPALITIES_YEARLY, s, chosen, headline["currency"],
                       intervals=True)
    _print_warnings(headline)
    wall = headline["provenance"]["wall_time_s"]
    out.print(f"Outputs in {target} (comparison.csv, outcomes.csv, winners_losers.csv, "
              f"municipalities_yearly.csv, referrals.csv; {wall:.1f} s)",
              markup=False, highlight=False, soft_wrap=False)


@app.command()
def sweep(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    sets: Annotated[list[str], typer.Option(
        "--set", help="key.path=v1,v2,... (repeat for a full factorial); values are YAML.")],
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Output folder (default: runs/<scenario file name>-sweep).",
        show_default=False)] = None,
    seed: Seed = None,
    replications: Replications = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Keep the points already finished in --out; run the rest.")] = False,
    transfers: TransfersOption = OnOff.on,
    workers: Workers = 1,
    scheduler: Scheduler = None,
    force: Force = False,
) -> None:
    """Run the full factorial of --set values; one folder per point, sweep.csv for all."""
    from .experiments.sweep import sweep as run_sweep

    s = _guarded(lambda: load_scenario(scenario))
    target = out_dir if out_dir is not None else Path("runs") / f"{scenario.stem}-sweep"
    results = _guarded(lambda: run_sweep(
        s, sets, target, replications=replications, seed=seed, workers=workers,
        scheduler=scheduler, resume=resume, progress=True, force=force,
        transfers=transfers is OnOff.on))
    failed = [i for i, r in enumerate(results) if r["error"] is not None]
    out.print(f"{len(results)} points, {len(failed)} failed; table in {target / 'sweep.csv'}",
              markup=False, highlight=False, soft_wrap=False)
    for i in failed:
        error = results[i]["error"]
        err.print(f"point {i} {results[i]['settings']}: {error['type']}: {error['message']}",
                  markup=False, highlight=False, soft_wrap=True)


@app.command()
def explain(
    out_dir: Annotated[Path, typer.Argument(help="Output folder of a finished run.")],
    person: Annotated[int, typer.Option(min=0, help="Person id (replication 0).")],
    rule: Annotated[str | None, typer.Option(
        help="Only this rule (default: every rule the run priced).", show_default=False)
                    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every cost line of one person, with the rule step behind it and euros per payer."""
    from .experiments.explain import explain as explain_person

    ex = _guarded(lambda: explain_person(
        out_dir, person, rule,
        note=lambda text: err.print(f"note: {text}", markup=False, highlight=False,
                                   soft_wrap=True)))
    if as_json:
        out.print_json(json.dumps(ex.as_dict()))
        return
    for name, lines in ex.rules.items():
        # three columns, each cell stacked on lines of its own, so that the table fits an
        # 80-column terminal without cutting anything off
        table = Table(title=escape(f"person {ex.person} ({ex.municipality}, {ex.group}) "
                                   f"under {name}"), show_lines=True)
        table.add_column("dates")
        table.add_column("what was paid, and why")
        table.add_column("euros by payer", justify="right")
        for line in lines:
            what = [line.what, *line.events]
            if line.rule_in_force:
                what.append(f"rule in force: {line.rule_in_force}")
            if line.paid_days:
                a_day = f"{line.daily_amount:,.2f}"
                if line.basic_part != line.daily_amount:
                    a_day += f" (basic part {line.basic_part:,.2f})"
                what.append(f"{line.paid_days:,.1f} paid days at {a_day} a day")
            if line.segment >= 0:
                what.append(f"paid-day counter {line.counter_from:,.1f} -> "
                            f"{line.counter_to:,.1f}")
            if line.steps:
                what.append(f"share steps: {line.steps}")
            table.add_row(f"{line.start_date}\n{line.end_date}", escape("\n".join(what)),
                          "\n".join(f"{p} {line.amounts[p]:,.2f}" for p in PAYERS))
        totals = ex.totals(name)
        table.add_row("", "total", "\n".join(f"{p} {totals[p]:,.2f}" for p in PAYERS))
        out.print(table)


@app.command()
def calibrate(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    targets: Annotated[Path, typer.Option(
        help="Targets YAML file: the parameters to fit and the figures to fit them to.")],
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Output folder (default: runs/<scenario file name>-calibrate).",
        show_default=False)] = None,
    sample: Annotated[float, typer.Option(
        help="Fit on this share of the population (caseload, inflow and service places "
             "scaled; people and euros scaled back), then confirm at full scale; in (0, "
             "1].")] = 1.0,
    max_evaluations: Annotated[int, typer.Option(
        min=1, help="Simulations the search may run (the full-scale confirmation is one "
                    "more).")] = 60,
    method: Annotated[str, typer.Option(
        help="least_squares (bounded trust region on the residuals) or nelder_mead.")
                      ] = "least_squares",
    seed: Seed = None,
    replications: Annotated[int, typer.Option(
        min=1, help="Replications per evaluation (0..R-1, the same in every evaluation).")
                            ] = 1,
    workers: Workers = 1,
    force: Force = False,
) -> None:
    """Fit scenario parameters to target figures by simulation; write the fitted scenario,
    the fit table and plots to --out."""
    from .calibration import calibrate as run_calibration
    from .calibration.fit import METHODS

    if method not in METHODS:
        err.print(f"--method: must be one of {', '.join(METHODS)} (got {method!r})",
                  markup=False, highlight=False)
        raise typer.Exit(2)
    s = _guarded(lambda: load_scenario(scenario))
    target = out_dir if out_dir is not None else Path("runs") / f"{scenario.stem}-calibrate"
    command = ["incentive-sim", "calibrate", str(scenario), "--targets", str(targets),
               "--out", str(target), "--sample", f"{sample:g}",
               "--max-evaluations", str(max_evaluations), "--method", method,
               *(["--seed", str(seed)] if seed is not None else []),
               "--replications", str(replications)]
    _, record = _guarded(lambda: run_calibration(
        s, targets, target, sample=sample, seed=seed, replications=replications,
        max_evaluations=max_evaluations, method=method,  # type: ignore[arg-type]
        workers=workers, progress=True, command=command, force=force))
    table = Table(title=escape(f"{s.name}: fitted parameters (seed {record['seed']}, "
                               f"sample {sample:g}, {record['evaluations']} evaluations)"))
    for column in ("parameter", "path", "start", "fitted", "bounds"):
        table.add_column(column, justify="right" if column in ("start", "fitted") else "left")
    for name, p in record["parameters"].items():
        table.add_row(escape(name), escape(p["path"] + (" (scaled)" if p["scale"] else "")),
                      f"{p['start']:.6g}", f"{p['fitted']:.6g}",
                      f"[{p['bounds'][0]:g}, {p['bounds'][1]:g}]")
    out.print(table)
    objective = record["objective"]
    full = (f", {objective['best_full']:.5g} at full scale"
            if objective["best_full"] is not None else "")
    out.print(f"Objective {objective['start_sample']:.5g} at the start, "
              f"{objective['best_sample']:.5g} fitted{full}. Outputs in {target} "
              f"(fit.csv, scenario.fitted.yaml; {record['provenance']['wall_time_s']:.1f} s)",
              markup=False, highlight=False, soft_wrap=False)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # pragma: no cover - a defect of ours, never of the input
        if os.environ.get("INCENTIVE_SIM_DEBUG"):
            raise
        err.print(f"incentive-sim: internal error: {type(exc).__name__}: {exc} (this is a bug; "
                  f"set INCENTIVE_SIM_DEBUG=1 for the traceback)", markup=False,
                  highlight=False, soft_wrap=True)
        sys.exit(70)
