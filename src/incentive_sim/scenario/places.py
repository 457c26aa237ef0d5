"""Places from the shipped public data, and amounts shared out over them.

A scenario can name its municipalities one by one, or take them from a catalogue of the
shipped data, and share national figures over them instead of listing a number for each:

```yaml
municipalities:
  from: finland_2025                # the 292 mainland municipalities of 1.1.2025
  only: [Pirkanmaa, 091]            # optional: names, codes or regions
  set: {Tampere: {unemployment_rate: 11.0}, 536: {attributes: {pilot: 1}}}   # by name or code
areas: {by: employment_area}        # service pools: one per employment area (or region)
population:
  initial_stock: {total: 334068, allocate_by: [working_age_population, unemployment_rate]}
  inflow_per_year: {total: 730000, allocate_by: [working_age_population, unemployment_rate]}
services:
  coaching:
    capacity: {share_of_initial_stock: 0.025}    # per area (or municipality without areas)
```

These forms are expanded when the scenario is read, before it is validated: the scenario a run
records (`scenario.resolved.yaml`) lists every municipality and number, and every generated
key is located at the line of the key it came from. Shares are rounded by largest remainder,
so counts add up to the total exactly.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..data import CATALOGUES, MunicipalityRecord, finland_2025
from .loading import InputError, Located, Path_, Problem

# Municipality fields a share can be allocated by (besides any of its `attributes`).
FIELDS = ("working_age_population", "population", "unemployment_rate")
AREA_KEYS = ("employment_area", "region")


def catalogue_records(name: str) -> tuple[MunicipalityRecord, ...]:
    if name == "finland_2025":
        return finland_2025()
    raise KeyError(name)  # pragma: no cover - names are checked against CATALOGUES first


def as_municipality(r: MunicipalityRecord) -> dict[str, Any]:
    """A catalogue record as the scenario's municipality mapping."""
    return {"code": r.code, "region": r.region, "employment_area": r.employment_area,
            "population": r.population, "working_age_population": r.working_age_population,
            "unemployment_rate": r.unemployment_rate,
            "attributes": {"unemployment_rate_2023": r.unemployment_rate_2023,
                           "unemployment_rate_2024_12": r.unemployment_rate_2024_12,
                           "employment_area_known": 1.0 if r.employment_area_known else 0.0,
                           "labour_force_participation": r.labour_force_participation,
                           "exit_index": r.exit_index}}


def expand_places(doc: Located) -> Located:
    """The document with its compact place forms expanded (see the module doc); raises
    InputError naming the file, line and key of anything it cannot expand."""
    if not isinstance(doc.data, Mapping):
        return doc
    data = dict(doc.data)
    lines = dict(doc.lines)
    problems: list[Problem] = []
    out = Located(data, lines, doc.file)
    munis = data.get("municipalities")
    if isinstance(munis, Mapping) and "from" in munis:
        expanded = _municipalities(munis, doc, problems)
        if expanded is not None:
            _replace(out, ("municipalities",), expanded)
    if problems:
        raise InputError(problems)
    municipalities = out.data.get("municipalities")
    if not isinstance(municipalities, Mapping):
        return out
    areas = out.data.get("areas")
    if isinstance(areas, Mapping) and "by" in areas:
        grouped = _areas(areas, municipalities, doc, problems)
        if grouped is not None:
            _replace(out, ("areas",), grouped)
    population = out.data.get("population")
    if isinstance(population, Mapping):
        for key, whole in (("initial_stock", True), ("initial_employed", True),
                           ("inflow_per_year", False)):
            spec = population.get(key)
            if isinstance(spec, Mapping) and "total" in spec:
                shared = _allocate(spec, municipalities, doc, ("population", key), whole,
                                   problems)
                if shared is not None:
                    _replace(out, ("population", key), shared)
    services = out.data.get("services")
    if isinstance(services, Mapping):
        for name, svc in services.items():
            capacity = svc.get("capacity") if isinstance(svc, Mapping) else None
            if isinstance(capacity, Mapping) and "share_of_initial_stock" in capacity:
                places = _capacity(capacity, out.data, doc, ("services", name, "capacity"),
                                   problems)
                if places is not None:
                    _replace(out, ("services", name, "capacity"), places)
    if problems:
        raise InputError(problems)
    return out


def _replace(doc: Located, path: Path_, value: Any) -> None:
    """Put `value` at `path` (a key of nested mappings), every new key located at the line of
    the key it replaces."""
    where = doc.where(path)
    parent: Any = doc.data
    for part in path[:-1]:
        parent[part] = dict(parent[part])
        parent = parent[part]
    parent[path[-1]] = value
    for p in [p for p in doc.lines if p[:len(path)] == path and p != path]:
        del doc.lines[p]
    if where[1] is None:
        return
    line = (where[0], where[1])

    def locate(v: Any, prefix: Path_) -> None:
        doc.lines[prefix] = line
        if isinstance(v, Mapping):
            for k, item in v.items():
                locate(item, (*prefix, k))

    locate(value, path)


def _unknown_in(kind: str, given: object, known: Sequence[str]) -> str:
    return f"unknown {kind} {given!r}; known: {', '.join(known[:12])}" + (
        f" ... ({len(known)} in all)" if len(known) > 12 else "")


def _municipalities(spec: Mapping[str, Any], doc: Located, problems: list[Problem]
                    ) -> dict[str, Any] | None:
    base = ("municipalities",)
    allowed = {"from", "only", "set"}
    for key in spec:
        if key not in allowed:
            problems.append(doc.problem((*base, key), f"unknown key {key!r} beside `from:`; "
                                                      f"allowed: {', '.join(sorted(allowed))}"))
    source = spec["from"]
    if source not in CATALOGUES:
        problems.append(doc.problem((*base, "from"), _unknown_in(
            "catalogue of municipalities", source, CATALOGUES)))
        return None
    records = catalogue_records(str(source))
    by_key: dict[str, list[MunicipalityRecord]] = {}
    for r in records:
        by_key.setdefault(r.name, []).append(r)
        by_key.setdefault(r.code, []).append(r)
        by_key.setdefault(r.region, []).append(r)
    chosen = list(records)
    only = spec.get("only")
    if only is not None:
        if not isinstance(only, list) or not only:
            problems.append(doc.problem((*base, "only"), "must be a list of municipality "
                                                         "names, codes or regions"))
            return None
        picked: dict[str, MunicipalityRecord] = {}
        for i, item in enumerate(only):
            key = _key(item)
            if key not in by_key:
                problems.append(doc.problem((*base, "only", i), _unknown_in(
                    "municipality, code or region", item, [r.name for r in records])))
                continue
            picked.update({r.code: r for r in by_key[key]})
        chosen = sorted(picked.values(), key=lambda r: r.code)
    out = {r.name: as_municipality(r) for r in chosen}
    code_to_name = {r.code: r.name for r in chosen}
    overrides = spec.get("set") or {}
    if not isinstance(overrides, Mapping):
        problems.append(doc.problem((*base, "set"), "must be a mapping of municipality names "
                                                    "or codes to the values to set"))
        return None
    for key, values in overrides.items():
        name = code_to_name.get(_key(key), _key(key))
        if name not in out:
            problems.append(doc.problem((*base, "set", key), _unknown_in(
                "municipality or code", key, list(out))))
            continue
        if not isinstance(values, Mapping):
            problems.append(doc.problem((*base, "set", key), "must be a mapping of values"))
            continue
        merged = dict(out[name])
        for field_name, value in values.items():
            if field_name == "attributes" and isinstance(value, Mapping):
                merged["attributes"] = {**merged["attributes"], **value}
            else:
                merged[field_name] = value
        out[name] = merged
    return out


def _key(item: object) -> str:
    """A name or code as given; a code written as a number (91) is the code "091"."""
    if isinstance(item, int) and not isinstance(item, bool):
        return f"{item:03d}"
    return str(item)


def _areas(spec: Mapping[str, Any], municipalities: Mapping[str, Any], doc: Located,
           problems: list[Problem]) -> dict[str, list[str]] | None:
    by = spec.get("by")
    extra = [k for k in spec if k != "by"]
    if extra:
        problems.append(doc.problem(("areas", extra[0]), "only `by:` can stand beside `by:`"))
    if by not in AREA_KEYS:
        problems.append(doc.problem(("areas", "by"), _unknown_in("grouping", by, AREA_KEYS)))
        return None
    out: dict[str, list[str]] = {}
    for name, m in municipalities.items():
        area = m.get(by) if isinstance(m, Mapping) else None
        if not area:
            problems.append(doc.problem(("municipalities", name), f"has no {by} to group by"))
            continue
        out.setdefault(str(area), []).append(name)
    # a municipality that is an area of its own (Helsinki) is its own pool, not an area
    return {a: members for a, members in out.items() if members != [a]}


def _weights(spec: Mapping[str, Any], municipalities: Mapping[str, Any], doc: Located,
             path: Path_, problems: list[Problem]) -> np.ndarray | None:
    by = spec.get("allocate_by", "working_age_population")
    factors = [by] if isinstance(by, str) else by
    if not isinstance(factors, list) or not factors or not all(isinstance(f, str)
                                                               for f in factors):
        problems.append(doc.problem((*path, "allocate_by"), "must be a municipality field or "
                                    "attribute, or a list of them to multiply"))
        return None
    weights = np.ones(len(municipalities))
    for k, (name, m) in enumerate(municipalities.items()):
        for f in factors:
            value = (m.get(f) if f in FIELDS else (m.get("attributes") or {}).get(f)) \
                if isinstance(m, Mapping) else None
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                problems.append(doc.problem((*path, "allocate_by"),
                                            f"municipality {name} has no number {f!r} to "
                                            f"allocate by"))
                return None
            weights[k] *= float(value)
    if weights.sum() <= 0:
        problems.append(doc.problem((*path, "allocate_by"), "the weights are all zero"))
        return None
    return weights


def _allocate(spec: Mapping[str, Any], municipalities: Mapping[str, Any], doc: Located,
              path: Path_, whole: bool, problems: list[Problem]) -> dict[str, Any] | None:
    """`{total: T, allocate_by: ...}` shared over the municipalities by their weights."""
    extra = [k for k in spec if k not in ("total", "allocate_by")]
    if extra:
        problems.append(doc.problem((*path, extra[0]), "only `total` and `allocate_by` can "
                                                       "stand here"))
        return None
    total = spec["total"]
    if not isinstance(total, int | float) or isinstance(total, bool) or total < 0:
        problems.append(doc.problem((*path, "total"), "must be a non-negative number"))
        return None
    weights = _weights(spec, municipalities, doc, path, problems)
    if weights is None:
        return None
    share = total * weights / weights.sum()
    names = list(municipalities)
    if not whole:
        return {n: round(float(v), 4) for n, v in zip(names, share, strict=True)}
    return dict(zip(names, (int(v) for v in largest_remainder(share, round(total))),
                    strict=True))


def largest_remainder(share: npt.NDArray[np.float64], total: int) -> npt.NDArray[np.int64]:
    """Whole numbers near `share` that add up to `total` (the largest remainders round up)."""
    floor: npt.NDArray[np.int64] = np.floor(share).astype(np.int64)
    left = total - int(floor.sum())
    order = np.argsort(-(share - floor), kind="stable")
    floor[order[:max(left, 0)]] += 1
    return floor


def _capacity(spec: Mapping[str, Any], data: Mapping[str, Any], doc: Located, path: Path_,
              problems: list[Problem]) -> dict[str, int] | None:
    """`{share_of_initial_stock: s}`: places in each area and in each municipality in no area,
    for that share of its initial caseload, at least one."""
    share = spec["share_of_initial_stock"]
    if not isinstance(share, int | float) or isinstance(share, bool) or share < 0:
        problems.append(doc.problem((*path, "share_of_initial_stock"),
                                    "must be a non-negative number"))
        return None
    stock = (data.get("population") or {}).get("initial_stock")
    if not isinstance(stock, Mapping):
        problems.append(doc.problem(path, "share_of_initial_stock needs "
                                          "population.initial_stock"))
        return None
    areas = data.get("areas") or {}
    pools: dict[str, list[Any]] = dict(areas) if isinstance(areas, Mapping) else {}
    in_area = {m for members in pools.values() if isinstance(members, list) for m in members}
    pools.update({m: [m] for m in data["municipalities"] if m not in in_area})
    out = {}
    for pool, members in pools.items():
        caseload = sum(float(stock.get(m, 0)) for m in members if isinstance(m, str))
        out[str(pool)] = max(round(share * caseload), 1)
    return out


def municipality_named(municipalities: Mapping[str, Any], given: str,
                       option: str = "--municipality") -> str:
    """The scenario's municipality called `given` (its name, in any case, or its code, with
    or without leading zeros); bad input naming the closest names otherwise."""
    text = given.strip()
    by_name = {name.casefold(): name for name in municipalities}
    if text.casefold() in by_name:
        return by_name[text.casefold()]
    if text.isdigit():
        for name, m in municipalities.items():
            code = getattr(m, "code", None)
            if code is not None and code.isdigit() and int(code) == int(text):
                return name
    close = difflib.get_close_matches(text.casefold(), list(by_name), n=5, cutoff=0.6)
    hint = (f"did you mean {', '.join(repr(by_name[c]) for c in close)}?" if close
            else f"known: {', '.join(list(municipalities)[:12])}" + (
                f" ... ({len(municipalities)} in all)" if len(municipalities) > 12 else ""))
    raise InputError([Problem(option, None, option,
                              f"no municipality {given!r} in the scenario (a name or a "
                              f"three-digit code); {hint}")])
