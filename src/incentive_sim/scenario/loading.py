"""Read YAML input files keeping the file and line of every key, and resolve `extends:`.

Every problem with user input becomes a `Problem` (file, line, field path, message) collected
into an `InputError`, which the command line prints as `file:line: field.path: message` with
exit code 2. Nothing in here raises a bare exception for bad input.

Limits, so that no input can make the reader fail or run without bound (each exceeded limit is
a located problem): a file is at most `MAX_FILE_BYTES`; it must be UTF-8 (the first bad byte is
reported with its offset, line and column) without the characters YAML forbids (control
characters other than tab and line breaks); mappings and lists nest at most `MAX_DEPTH`
levels; and, with aliases (`*name`) expanded, a document holds at most `MAX_NODES` values and
nests at most `MAX_DEPTH` levels. NaN and infinity are no numbers of the language.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]
"""A key path inside a document: mapping keys and sequence indices."""

MAX_FILE_BYTES = 10 * 1024 * 1024
"""The largest input file read (10 MiB; the national scenario is about 10 KiB)."""
MAX_DEPTH = 64
"""The deepest nesting of mappings and lists, the top-level mapping being the first level, also
with aliases expanded (scenarios nest 6 levels)."""
MAX_NODES = 100_000
"""The most values (keys' values, list items, scalars) a document may hold once its aliases
are expanded: aliases may share a value, not multiply a small file into a huge one."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, located as precisely as the input allows."""

    file: str
    line: int | None
    field: str
    message: str
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None and self.field and (
                self.field == self.file or self.field.startswith(self.file + " ")):
            # A command-line option (`--set key`) is its own place: say it once.
            return f"{self.field}: {self.message}"
        where = self.file
        if self.line is not None:
            where += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
        return f"{where}: {self.field or '(document)'}: {self.message}"


class InputError(Exception):
    """Bad user input: one or more problems, all reported together."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled with its problems (it may be raised in a worker process)."""
        return (type(self), (self.problems,))


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
    elif isinstance(node, yaml.ScalarNode) and node.tag == FLOAT_TAG:
        problem = _not_finite(node.value)
        if problem:
            mark = node.start_mark
            problems.append(Problem(file, mark.line + 1, dotted(path), problem, mark.column + 1))


FLOAT_TAG = "tag:yaml.org,2002:float"


def _not_finite(text: str) -> str | None:
    """Why a float scalar is no number of the language (NaN, infinity, out of range), or None."""
    plain = text.replace("_", "").lower().lstrip("+-")
    if plain in (".nan", "nan"):
        return "NaN (.nan) is not a number here: give a number"
    if plain in (".inf", "inf"):
        return "infinity (.inf) is not a number here: give a number"
    try:
        value = float(text.replace("_", "")) if ":" not in text else 0.0
    except ValueError:
        return None   # the constructor reports it
    if not math.isfinite(value):
        return f"{text} is too large to be a number (the largest is about 1.8e308)"
    return None


def _position(text: str, index: int) -> tuple[int, int]:
    """(line, column), both from 1, of `text[index]`, counting line breaks as YAML does."""
    line, start = 1, 0
    for match in _LINE_BREAK.finditer(text, 0, index):
        line += 1
        start = match.end()
    return line, index - start + 1


_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
# What YAML 1.1 (and the reader of PyYAML) accepts: tab, line breaks and printable characters.
_FORBIDDEN = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd"
                        "\U00010000-\U0010ffff]")


def _describe(ch: str) -> str:
    code = ord(ch)
    if code < 0x20 or code == 0x7f or 0x80 <= code < 0xa0:
        kind = "a control character"
    elif 0xd800 <= code < 0xe000:
        kind = "a lone surrogate"
    else:
        kind = "a non-character"
    return f"U+{code:04X} ({kind})"


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 \
        else f"\\U{code:08x}"


def decode_utf8(raw: bytes, name: str) -> str:
    """The text of a file's bytes; a located problem if they are not UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start
        before = raw[:offset].decode("utf-8", errors="replace")
        line, column = _position(before + "?", len(before))
        bad = raw[offset:exc.end].hex(" ")
        raise InputError([Problem(
            name, line, "",
            f"not valid UTF-8: byte 0x{bad} at byte offset {offset} (line {line}, column "
            f"{column}) {exc.reason}; save the file as UTF-8", column)]) from None


def read_yaml(path: Path | str, *, display: str | None = None) -> Located:
    """Parse one YAML file, recording the line of every key; raise InputError on any problem."""
    path = Path(path)
    name = display or str(path)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise InputError([Problem(name, None, "", "file not found")]) from None
    except IsADirectoryError:
        raise InputError([Problem(name, None, "", "is a directory, not a YAML file")]) from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError([Problem(name, None, "", f"cannot read file: {reason}")]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise InputError([Problem(name, None, "", f"the file is larger than "
                                  f"{MAX_FILE_BYTES // (1024 * 1024)} MiB")])
    return parse_yaml(decode_utf8(raw, name), name)


class _Limit(yaml.MarkedYAMLError):
    """A limit of the reader exceeded at a place in the file."""


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false are booleans, so keys such as the
    bonus's `on:` and values such as `no` or `off` stay strings; and YAML 1.2 floats, so that
    `1e5` is a number. Nesting deeper than MAX_DEPTH stops the reader (the composer recurses)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        nested = self.check_event(
            yaml.SequenceStartEvent, yaml.MappingStartEvent)
        self._depth += nested
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise _Limit(None, None, f"mappings and lists nest more than {MAX_DEPTH} levels "
                             f"deep here; {MAX_DEPTH} is the most the reader takes", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= nested

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """Any failure to build a value (`!!int x`, `!!bool maybe`) is a located YAML error."""
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError) as exc:
            tag = str(node.tag).rsplit(":", 1)[-1]
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {str(node.value)[:40]!r} as {tag} ({exc})",
                node.start_mark) from None

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        """A date-like scalar that is no real date (2025-13-01) stays a string, so that the
        schema reports it at its key instead of the YAML parser failing without one."""
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, TypeError, AttributeError, OverflowError):
            return self.construct_scalar(node)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in ("tag:yaml.org,2002:bool", FLOAT_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))
_Loader.add_implicit_resolver(
    FLOAT_TAG, re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                          |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
                          |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
                          |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
                          |[-+]?\.(?:inf|Inf|INF)
                          |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))
# the float resolver must come before the int one for the same first character
for _first in "-+0123456789.":
    _Loader.yaml_implicit_resolvers[_first].sort(key=lambda r: r[0] != FLOAT_TAG)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


_CParser: Any = getattr(getattr(yaml, "cyaml", None), "CParser", None) \
    if yaml.__with_libyaml__ else None

if _CParser is not None:
    class _FastLoader(_CParser, _Loader):  # type: ignore[misc]
        """_Loader's composer, constructors and resolvers over libyaml's parser events:
        reading the YAML text is some 6 times faster (a national scenario's 140 kB in 0.13 s
        against 0.85). Only its events come from libyaml (its parser keeps its own stack, so
        no nesting overflows it); nodes are built by _Loader's composer, which keeps the
        nesting limit. A document it cannot read is read again by _Loader, whose messages
        are the ones reported."""

        get_single_node = yaml.composer.Composer.get_single_node
        compose_document = yaml.composer.Composer.compose_document

        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            self._depth = 0


def _expanded_size(root: yaml.Node) -> tuple[yaml.Node, str] | None:
    """The first node (in post-order) that, with its aliases expanded, holds more than
    MAX_NODES values or nests deeper than MAX_DEPTH; None if none does. Aliases share nodes,
    so this visits each node once (a graph walk without recursion); an alias inside its own
    anchor counts as nothing here (it is reported as a recursive alias)."""
    done: dict[int, tuple[int, int]] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        if not finished:
            if key in done or key in on_path:
                continue
            on_path.add(key)
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in done)
            continue
        on_path.discard(key)
        size, depth = 1, 0
        for c in children:
            c_size, c_depth = done.get(id(c), (0, 0))   # (0, 0): a recursive alias
            size = min(size + c_size, MAX_NODES + 1)
            depth = max(depth, c_depth)
        depth += 1 if children or isinstance(node, yaml.CollectionNode) else 0
        done[key] = (size, depth)
        if size > MAX_NODES:
            return node, (f"with its aliases (*name) expanded, this value holds more than "
                          f"{MAX_NODES:,} values; the limit is {MAX_NODES:,}")
        if depth > MAX_DEPTH:
            return node, (f"with its aliases (*name) expanded, this value nests more than "
                          f"{MAX_DEPTH} levels deep; the limit is {MAX_DEPTH}")
    return None


def _read(loader_class: Any, text: str) -> tuple[yaml.Node | None, Any]:
    """The document's root node and its data."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        too_big = _expanded_size(node) if node is not None else None
        if too_big is not None:
            raise _Limit(None, None, too_big[1], too_big[0].start_mark)
        return node, loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()


def parse_yaml(text: str, name: str) -> Located:
    """Parse YAML text (named `name` in messages), recording the line of every key."""
    bad = _FORBIDDEN.search(text)
    if bad is not None:
        line, column = _position(text, bad.start())
        raise InputError([Problem(
            name, line, "", f"character {_describe(bad.group())} at line {line}, column "
            f"{column} is not allowed in YAML; remove it (inside double quotes it may be "
            f"written as the escape {_escape(bad.group())})", column)])
    try:
        try:
            node, data = _read(_FastLoader, text) if _CParser is not None else _read(_Loader, text)
        except yaml.YAMLError:
            if _CParser is None:
                raise
            node, data = _read(_Loader, text)     # its messages, or a document it can read
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at_line = mark.line + 1 if mark is not None else None
        at_column = mark.column + 1 if mark is not None else None
        what = " ".join(x for x in (exc.context, exc.problem) if x)
        if exc.problem and exc.context and exc.context.startswith("while "):
            at = exc.context_mark  # where the construct that failed began
            since = f" started on line {at.line + 1}" if at is not None and at is not mark else ""
            what = f"{exc.problem} ({exc.context}{since})"
        prefix = "" if isinstance(exc, _Limit) else "invalid YAML: "
        raise InputError([Problem(name, at_line, "", f"{prefix}{what}", at_column)]) from None
    except yaml.reader.ReaderError as exc:   # pragma: no cover - _FORBIDDEN finds these first
        at_line, at_column = _position(text, exc.position)
        raise InputError([Problem(name, at_line, "", f"invalid YAML: {exc}", at_column)]
                         ) from None
    except yaml.YAMLError as exc:   # pragma: no cover - PyYAML marks its errors
        raise InputError([Problem(name, 1, "", f"invalid YAML: {exc}")]) from None
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
    base_path = _base_file(doc, path, base_name, _chain)
    try:
        base = read_with_extends(base_path, (*_chain, path.resolve()))
    except InputError as exc:
        # a base that cannot be read at all is reported at the `extends:` that names it
        if all(p.file == str(base_path) and p.line is None for p in exc.problems):
            raise InputError([doc.problem(("extends",), f"base file {base_name!r}: {p.message}")
                              for p in exc.problems]) from None
        raise
    own = Located({k: v for k, v in doc.data.items() if k != "extends"},
                  {p: v for p, v in doc.lines.items() if p[:1] != ("extends",)}, doc.file)
    return merge_located(base, own)


MAX_NAME = 4096


def _base_file(doc: Located, path: Path, base_name: Any, chain: tuple[Path, ...]) -> Path:
    """The file an `extends:` names, relative to the extending file; problems at its key."""
    def bad(message: str) -> InputError:
        return InputError([doc.problem(("extends",), message)])

    if not isinstance(base_name, str):
        raise bad("must be a file name")
    if not base_name.strip():
        raise bad("must be a file name (got an empty name)")
    if "\0" in base_name or len(base_name) > MAX_NAME:
        raise bad(f"is not a usable file name ({base_name[:40]!r}...)" if len(base_name) > 40
                  else f"is not a usable file name ({base_name!r})")
    try:
        base_path = (path.parent / base_name).resolve()
        if base_path in chain or base_path == path.resolve():
            raise bad(f"circular extends: {base_name}")
        if base_path.is_dir():
            raise bad(f"names a folder, not a YAML file: {base_path}")
        if not base_path.exists():
            raise bad(f"base file not found: {base_path}")
    except (OSError, ValueError, RuntimeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise bad(f"cannot use base file {base_name[:80]!r}: {reason}") from None
    return base_path
