"""`report.html`: one self-contained page (images embedded as data URIs, no network needed)
with the scenario's description, the headline tables, the plots, the assumptions (each rule
with its legal reference and confidence note) and the provenance.

A small inline script marks, once the page has loaded, how many of its images decoded
(`<body data-images="loaded/total">`); the rendering test reads it from a headless browser.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..accounting.money import LABELS
from ..scenario import scenario_rules
from ..scenario.schema import Scenario
from .tables import horizon_end, percent, period_label

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; }
h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
th { background: #f3f3f3; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; } img { max-width: 100%; border: 1px solid #eee; }
.wide { overflow-x: auto; }
.scroll { overflow: auto; max-height: 32em; border: 1px solid #ddd; }
.scroll table { margin: 0; font-size: 0.85em; }
.scroll th { position: sticky; top: 0; z-index: 1; box-shadow: 0 1px 0 #ccc; }
.scroll td:first-child { white-space: nowrap; }
th { white-space: normal; }
.note { color: #555; font-size: 0.9em; } code { background: #f5f5f5; padding: 0 0.2em; }
"""
SCRIPT = """
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const loaded = images.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.images = loaded + "/" + images.length;
});
"""


def e(text: Any) -> str:
    return html.escape(str(text))


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], numeric_from: int = 1,
          box: str = "wide") -> str:
    """An HTML table; cells from column `numeric_from` on are right-aligned. In a `box` of
    class `wide` it scrolls sideways inside its box; `scroll` also scrolls down under a
    header that stays in view."""
    head = "".join(f"<th>{e(h.replace('_', ' '))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td class='n'>{e(c)}</td>" if j >= numeric_from else f"<td>{e(c)}</td>"
                         for j, c in enumerate(row)) + "</tr>" for row in rows)
    return (f"<div class='{box}'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
            f"</table></div>")


def figure(path: Path, caption: str) -> str:
    """A plot with its caption: one sentence on what to look at."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f"<figure><img alt='{e(caption)}' src='data:image/png;base64,{data}'>"
            f"<figcaption class='note'>{e(caption)}</figcaption></figure>")


def _csv_rows(text: str) -> list[list[str]]:
    """Rows of a CSV output (names with commas are quoted there)."""
    return list(csv.reader(io.StringIO(text)))


def money(x: float | None) -> str:
    return "" if x is None else f"{round(x / 1e6, 2) + 0.0:,.2f}"     # + 0.0: no "-0.00"


def assumptions(scenario: Scenario, rules: Sequence[str]) -> str:
    catalogue = scenario_rules(scenario)
    parts = []
    for name in dict.fromkeys(rules):
        rule = catalogue[name]
        valid = " to ".join(str(d) for d in (rule.valid_from, rule.valid_to) if d) or "-"
        parts.append(
            f"<h3>{e(name)}: {e(rule.title)}</h3>"
            f"<p class='note'>Reference: {e(rule.reference or '-')}. Valid: {e(valid)}. "
            f"Currency of its own amounts: {e(rule.currency)}.</p>"
            f"<p>{e(rule.confidence or 'No confidence note.')}</p>")
    return "".join(parts)


def provenance_table(provenance: dict[str, Any]) -> str:
    """Where the figures come from; the wall time is left out, so that the same scenario and
    seed give the same page byte for byte."""
    rows = [(k, " ".join(v) if isinstance(v, list) else v) for k, v in provenance.items()
            if k != "wall_time_s"]
    return table(("item", "value"), rows, numeric_from=9)


def page(title: str, sections: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<h2>{e(heading)}</h2>{content}" for heading, content in sections)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{e(title)}</title><style>{STYLE}</style></head>"
            f"<body><h1>{e(title)}</h1>{body}<script>{SCRIPT}</script></body></html>\n")


CAPTIONS = {
    "costs_monthly.png": "Look at the red line: the municipalities' monthly cost under each "
                         "rule, on one scale with the state's (blue) and the funds' (green), "
                         "before transfers; a grey band marks a partial month.",
    "staircase.png": "Look at where the grey bars (the caseload's benefit days) stand under "
                     "the red steps: that is the municipal share most of the money is paid "
                     "at.",
    "stock_by_duration.png": "Look at the darker bands: the jobseekers unemployed for a year "
                             "or more, month by month.",
    "services.png": "Look at the gap between the clients in each service (teal) and its "
                    "places (dashed), and at the queue (orange) it leaves.",
    "transitions.png": "Look at the darkest cells: the commonest moves from a state or a "
                       "service (with its provider) to the next state.",
    "comparison_by_municipality.png": "Look at the coloured bars: the municipalities whose "
                                      "net cost clearly falls (purple) or rises (orange) "
                                      "under each rule, with its 95 % interval.",
    "referrals.png": "Look at where each rule's bars step up: the paid-day counters at which "
                     "municipalities refer people (a step where the rule's share rises is the "
                     "rule steering referrals), and at the dots: what the municipality expects "
                     "a referral there to save it.",
    "behaviour.png": "Look at how far apart the rules' colours run: the activation rate, the "
                     "queue for each service (one line style each) and the places each "
                     "service had in each year.",
}
"""One sentence per plot on what to look at in it."""


def caption(plot: Path) -> str:
    """What to look at in a plot (`plots/NAME.png`)."""
    return CAPTIONS.get(plot.name, f"{plot.stem.replace('_', ' ').capitalize()}.")


INDICATOR_SHARES = ("activation_rate", "long_term_share")
"""Indicator columns that are shares, shown as percentages."""


def indicator_rows(scenario: Scenario, indicators_csv: str
                   ) -> tuple[list[str], list[list[str]]]:
    """The header and the rows for all municipalities of indicators_monthly.csv, first month
    then one a year: shares as percentages, a partial month labelled as partial."""
    header, *lines = _csv_rows(indicators_csv)
    all_rows = [row for row in lines if len(row) > 1 and row[1] == "ALL"]
    picked = [all_rows[0], *all_rows[12::12]] if all_rows else []
    start = scenario.start_date
    end = horizon_end(start, scenario.horizon_days)
    shares = {header.index(c) for c in INDICATOR_SHARES if c in header}
    rows = [[period_label(row[0], start, end),
             *(percent(v) if j in shares else v for j, v in enumerate(row) if j >= 2)]
            for row in picked]
    names = [h.replace("_", " ") for j, h in enumerate(header) if j != 1]
    return names, rows


def warning_notes(headline: dict[str, Any]) -> str:
    """The warnings of summary.json or comparison.json, one paragraph each."""
    return "".join(f"<p class='warning'>Warning: {e(w)}</p>"
                   for w in headline.get("warnings", []))


def run_report(scenario: Scenario, summary: dict[str, Any], plots: Sequence[Path],
               indicators_csv: str) -> str:
    """The page of a run (`summary` as in summary.json)."""
    currency = summary["currency"]
    reps = summary["provenance"]["replications"]
    measures = ("gross_benefits", "fund", "state_share", "municipal_share",
                "municipal_services", "transfer", "bonus", "net")
    headline = [(f"{rule}{' (in force)' if entry['in_force'] else ''}",
                 *(money(entry["money"][m]) for m in measures))
                for rule, entry in summary["rules"].items()]
    transfers = summary["provenance"].get("transfers", "on")
    outcomes = summary["outcomes"]
    outcome_rows = [(k.replace("_", " "), f"{v:,.1f}") for k, v in outcomes.items()]
    services = [(name, *(f"{row[k]:,.2f}" for k in ("starts", "completions", "mean_wait_days",
                                                      "mean_queue_length")),
                 percent(row["utilisation"]))
                for name, row in summary["services"].items()]
    header, picked = indicator_rows(scenario, indicators_csv)
    warnings = warning_notes(summary)
    sections = [
        ("Scenario", f"{warnings}<p>{e(scenario.description or scenario.name)}</p>"
                     "<p class='note'>"
                     f"{len(scenario.municipalities)} municipalities, horizon "
                     f"{scenario.horizon_days} days from {scenario.start_date}, rule in force "
                     f"<code>{e(scenario.funding.in_force)}</code>; figures are means of "
                     f"{reps} replications.</p>"),
        (f"Who pays (millions {currency} over the horizon; transfers {transfers})", table(
            ("rule", *(LABELS[m] for m in measures)), headline)
         + "<p class='note'>gross benefits = fund part + state share + municipal benefit "
           "share; net municipal cost = municipal benefit share + municipal service costs "
           "- state transfer - bonuses (see the glossary).</p>"),
        ("Outcomes", table(("outcome", "mean"), outcome_rows)),
        ("Monitoring indicators, all municipalities (first month, then yearly)",
         table(header, picked, box="scroll")
         + "<p class='note'>Stocks on the first day of the month; exits during it. A month "
           "the horizon covers only in part is marked partial.</p>"),
    ]
    if services:
        sections.append(("Services", table(("service", "starts", "completions",
                                            "mean wait (days)", "mean queue",
                                            "utilisation"), services)
                         + "<p class='note'>Utilisation: place-days in use over place-days "
                           "available over the horizon (the same figure as the services "
                           "plot and summary.json).</p>"))
    sections.append(("Pictures", "".join(figure(p, caption(p)) for p in plots)))
    sections.append(("Assumptions: the funding rules", assumptions(
        scenario, list(summary["rules"]))))
    sections.append(("Provenance", provenance_table(summary["provenance"])))
    return page(f"{scenario.name}: who pays for unemployment", sections)


def compare_report(scenario: Scenario, headline: dict[str, Any], winners_csv: str,
                   plots: Sequence[Path]) -> str:
    """The page of a comparison (`headline` as in comparison.json)."""
    currency = headline["currency"]
    rows = []
    for rule, measures in headline["rules"].items():
        for measure, v in measures.items():
            interval = ("" if v["diff_ci_low"] is None else
                        f"[{money(v['diff_ci_low'])}, {money(v['diff_ci_high'])}]")
            rows.append((rule, LABELS.get(measure, measure), money(v["mean"]),
                         money(v["diff_mean"]), interval))
    lines = _csv_rows(winners_csv)
    winners = [(r[0], r[2], money(float(r[5])) if r[5] else "",
                f"[{money(float(r[6]))}, {money(float(r[7]))}]" if r[6] else "", r[8])
               for r in lines[1:]]
    sections = [
        ("Comparison", f"{warning_notes(headline)}"
                       f"<p>{e(scenario.description or scenario.name)}</p><p class='note'>"
                       f"{e(headline['mode'])} comparison of "
                       f"{', '.join(map(e, headline['rules']))}; differences against "
                       f"<code>{e(headline['reference'])}</code>, 95 % intervals across "
                       f"{headline['replications']} replications. Transfers "
                       f"{e(headline['transfers'])}: "
                       + ("each rule gets its own transfer as the scenario defines it."
                          if headline["transfers"] == "on" else "no rule gets a transfer.")
                       + "</p>"),
        (f"Totals (millions {currency} over the horizon)", table(
            ("rule", "payer", "mean", "difference", "95 % interval"), rows, numeric_from=2)),
        (f"Winners and losers: net municipal cost (millions {currency})",
         table(("rule", "municipality", "difference", "95 % interval", "verdict"), winners,
               numeric_from=2)),
        ("Pictures", "".join(figure(p, caption(p)) for p in plots)),
        ("Assumptions: the funding rules", assumptions(scenario, list(headline["rules"]))),
        ("Provenance", provenance_table(headline["provenance"])),
    ]
    return page(f"{scenario.name}: comparing funding rules", sections)
