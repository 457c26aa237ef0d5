"""Read YAML input files keeping the file and line of every key, and resolve `extends:`.

Every problem with user input becomes a `Problem` (file, line, field path, message) collected
into an `InputError`, which the command line prints as `file:line: field.path: message` with
exit code 2. Nothing in here raises a bare exception for bad input.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]
"""A key path inside a document: mapping keys and sequence indices."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, located as precisely as the input allows."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.field or '(document)'}: {self.message}"


class InputError(Exception):
    """Bad user input: one or more problems, all reported together."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def dotted(path: Iterable[str | int]) -> str:
    """`('services', 'coaching', 'capacity')` -> `services.coaching.capacity`; indices as [i]."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


@dataclass
class Located:
    """A parsed document with the (file, line) of every key path in it."""

    data: Any
    lines: dict[Path_, tuple[str, int]] = field(default_factory=dict)
    file: str = ""

    def where(self, path: Iterable[str | int]) -> tuple[str, int | None]:
        """File and line of the longest prefix of `path` that exists in the document."""
        parts = tuple(path)
        for cut in range(len(parts), -1, -1):
            hit = self.lines.get(parts[:cut])
            if hit is not None:
                return hit
        return self.file, None

    def problem(self, path: Iterable[str | int], message: str) -> Problem:
        parts = tuple(path)
        file, line = self.where(parts)
        return Problem(file, line, dotted(parts), message)

    def sub(self, prefix: Path_) -> Located:
        """The part of the document under `prefix`, with its own paths relative to it."""
        data: Any = self.data
        for part in prefix:
            data = data[part]
        n = len(prefix)
        lines = {p[n:]: v for p, v in self.lines.items() if p[:n] == prefix}
        return Located(data, lines, self.where(prefix)[0])


def _walk_nodes(
    node: yaml.Node, path: Path_, file: str, lines: dict[Path_, tuple[str, int]],
    problems: list[Problem], _open: frozenset[int] = frozenset(),
) -> None:
    if id(node) in _open:  # an alias to an anchor that encloses it: `a: &x [*x]`
        problems.append(Problem(file, node.start_mark.line + 1, dotted(path),
                                "recursive alias: an anchor cannot be used inside itself"))
        return
    _open = _open | {id(node)}
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(Problem(file, line, dotted((*path, key)),
                                        f"duplicate key (first given on line {seen[key]})"))
            seen[key] = line
            lines[(*path, key)] = (file, line)
            _walk_nodes(value_node, (*path, key), file, lines, problems, _open)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*path, i)] = (file, item.start_mark.line + 1)
            _walk_nodes(item, (*path, i), file, lines, problems, _open)


def read_yaml(path: Path | str, *, display: str | None = None) -> Located:
    """Parse one YAML file, recording the line of every key; raise InputError on any problem."""
    path = Path(path)
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError([Problem(name, None, "", "file not found")]) from None
    except IsADirectoryError:
        raise InputError([Problem(name, None, "", "is a directory, not a YAML file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError([Problem(name, None, "", f"cannot read file: {exc}")]) from None
    return parse_yaml(text, name)


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false are booleans, so keys such as the
    bonus's `on:` and values such as `no` or `off` stay strings."""

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        """A date-like scalar that is no real date (2025-13-01) stays a string, so that the
        schema reports it at its key instead of the YAML parser failing without one."""
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def parse_yaml(text: str, name: str) -> Located:
    """Parse YAML text (named `name` in messages), recording the line of every key."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = " ".join(x for x in (exc.context, exc.problem) if x)
        if exc.problem and exc.context and exc.context.startswith("while "):
            at = exc.context_mark  # where the construct that failed began
            since = f" started on line {at.line + 1}" if at is not None and at is not mark else ""
            what = f"{exc.problem} ({exc.context}{since})"
        raise InputError([Problem(name, line, "", f"invalid YAML: {what}")]) from None
    except yaml.YAMLError as exc:
        raise InputError([Problem(name, None, "", f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    lines: dict[Path_, tuple[str, int]] = {(): (name, 1)}
    problems: list[Problem] = []
    if node is not None:
        lines[()] = (name, node.start_mark.line + 1)
        _walk_nodes(node, (), name, lines, problems)
    if problems:
        raise InputError(problems)
    return Located(data, lines, name)


def deep_merge(base: Any, override: Any) -> Any:
    """Override's mappings merge into base's key by key; anything else replaces."""
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        merged = dict(copy.deepcopy(base))
        for key, value in override.items():
            merged[key] = deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override)


def _paths(data: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    yield prefix
    if isinstance(data, Mapping):
        for key, value in data.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _paths(value, (*prefix, i))


def merge_located(base: Located, override: Located) -> Located:
    """Deep-merge two documents; each key keeps the location of the file it came from."""
    data = deep_merge(base.data, override.data)
    lines: dict[Path_, tuple[str, int]] = {}
    for p in _paths(data):
        hit = override.lines.get(p) or base.lines.get(p)
        if hit is not None:
            lines[p] = hit
    return Located(data, lines, override.file)


def read_with_extends(path: Path | str, _chain: tuple[Path, ...] = ()) -> Located:
    """Read a YAML mapping and, if it names `extends: base.yaml`, merge it over that base.

    The base path is relative to the extending file; bases may extend further bases.
    """
    path = Path(path)
    doc = read_yaml(path)
    if doc.data is None:
        raise InputError([Problem(doc.file, 1, "", "the file is empty")])
    if not isinstance(doc.data, Mapping):
        raise InputError([doc.problem((), "expected a mapping of keys at the top level")])
    base_name = doc.data.get("extends")
    if base_name is None:
        return doc
    if not isinstance(base_name, str):
        raise InputError([doc.problem(("extends",), "must be a file name")])
    base_path = (path.parent / base_name).resolve()
    if base_path in _chain or base_path == path.resolve():
        raise InputError([doc.problem(("extends",), f"circular extends: {base_name}")])
    if not base_path.exists():
        raise InputError([doc.problem(("extends",), f"base file not found: {base_path}")])
    base = read_with_extends(base_path, (*_chain, path.resolve()))
    own = Located({k: v for k, v in doc.data.items() if k != "extends"},
                  {p: v for p, v in doc.lines.items() if p[:1] != ("extends",)}, doc.file)
    return merge_located(base, own)
