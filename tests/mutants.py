"""A seeded mutator of scenario and case files, and the judge of what the product did with them.

Each mutant is a shipped scenario, a case file or a test fixture with one kind of damage: byte
flips, deleted, duplicated or truncated lines, two values swapped, a value of another type,
deep nesting, YAML aliases (up to the "billion laughs" pattern), control characters, invalid
UTF-8, odd `extends:` names, and numbers pushed to zero or to their extremes. The same seed
gives the same mutants. Used by tests/test_fuzz.py (a few hundred on every run; thousands with
FUZZ_MUTANTS, see the README).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SCENARIOS = sorted([*REPO.glob("scenarios/*.yaml"),
                    REPO / "src/incentive_sim/scenarios/default.yaml",
                    REPO / "tests/fixtures/small_run.yaml",
                    REPO / "tests/fixtures/bad/valid/scenario.yaml"])
CASES = sorted([*REPO.glob("scenarios/cases/*.yaml"),
                REPO / "tests/fixtures/bad/valid/cases.yaml"])

# `key: value` on one line (block style), the value not a comment or a nested block
VALUE = re.compile(rb"^(?P<head>\s*(?:- )?[^#\s][^:#]*:\s+)(?P<value>[^#\s][^#\n]*?)\s*(?:#.*)?$",
                   re.MULTILINE)
NUMBER = re.compile(rb"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
REPLACEMENTS = [b"true", b"false", b"null", b"~", b'"60"', b"'12'", b".nan", b".inf", b"-.inf",
                b"[]", b"{}", b"[1, 2]", b"x", b"0", b"-1", b"0.0", b"1e309", b"1.0e+400",
                b"99999999999999999999999", b"''", b"1.5", b"2025-13-01", b"2025-02-30",
                b"{dist: fixed, value: 1}", b"[[[]]]", b"!!binary aGVsbG8=", b"!!python/none ''",
                b"&a 1", b"*a", b"<<: {}", b"? x", b"|", b">-", b"- 1", b"'", b'"', b"{", b"[",
                b"@", b"`", b"%YAML 1.2", b"2147483648", b"-9223372036854775809", b"1e-320",
                b"0x10", b"0o17", b"1_000", b"+.5", b"1:30", b"NaN", b"Infinity"]
EXTREMES = [b"0", b"1", b"0.0", b"1e-300", b"1e300", b"1.0e+300", b"100000000", b"36525",
            b"36526", b"1000000000000", b"-0", b"0.5", b"2"]
CONTROL = [bytes([c]) for c in (*range(0, 9), 11, 12, *range(14, 32), 127)] + [
    "\u0085".encode(), "\u2028".encode(), "\ufeff".encode(), "\ufffe".encode(),
    "\U0001f4af".encode(), b"\xc2\x80", b"\xc2\x9f"]
BAD_UTF8 = [b"\xff", b"\xfe", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80",
            b"\xc0\xaf", b"\x80", b"\xf4\x90\x80\x80"]


@dataclass(frozen=True)
class Mutant:
    source: Path        # the file it was made from
    kind: str
    data: bytes
    note: str


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _join(lines: list[bytes]) -> bytes:
    return b"\n".join(lines)


def byte_flip(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    out = bytearray(data)
    n = rng.randint(1, 3)
    for _ in range(n):
        i = rng.randrange(len(out))
        out[i] = rng.randrange(256) if rng.random() < 0.5 else out[i] ^ (1 << rng.randrange(8))
    return bytes(out), f"{n} byte(s)"


def delete_lines(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    lines = _lines(data)
    n = rng.randint(1, 3)
    for _ in range(n):
        if len(lines) > 1:
            del lines[rng.randrange(len(lines))]
    return _join(lines), f"{n} line(s)"


def duplicate_line(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    lines = _lines(data)
    i = rng.randrange(len(lines))
    lines.insert(rng.randrange(len(lines) + 1), lines[i])
    return _join(lines), f"line {i + 1}"


def truncate(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    cut = rng.randrange(len(data) + 1)
    return data[:cut], f"at byte {cut}"


def _values(data: bytes) -> list[re.Match[bytes]]:
    return list(VALUE.finditer(data))


def _replace(data: bytes, match: re.Match[bytes], new: bytes) -> bytes:
    return data[:match.start("value")] + new + data[match.end("value"):]


def swap_values(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    values = _values(data)
    if len(values) < 2:
        return byte_flip(rng, data)
    a, b = sorted(rng.sample(values, 2), key=lambda m: m.start())
    out = (data[:a.start("value")] + b.group("value") + data[a.end("value"):b.start("value")]
           + a.group("value") + data[b.end("value"):])
    return out, f"{a.group('value')[:20]!r} <-> {b.group('value')[:20]!r}"


def type_change(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    values = _values(data)
    if not values:
        return byte_flip(rng, data)
    match = rng.choice(values)
    new = rng.choice(REPLACEMENTS)
    return _replace(data, match, new), f"{match.group('value')[:20]!r} -> {new!r}"


def number_extreme(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    numbers = list(NUMBER.finditer(data))
    if not numbers:
        return type_change(rng, data)
    out = data
    picked = sorted(rng.sample(numbers, min(len(numbers), rng.randint(1, 3))),
                    key=lambda m: -m.start())
    new = rng.choice(EXTREMES)
    for m in picked:   # from the end, so earlier offsets hold
        out = out[:m.start()] + new + out[m.end():]
    return out, f"{len(picked)} number(s) -> {new!r}"


def deep_nesting(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    values = _values(data)
    depth = rng.choice([10, 60, 65, 100, 200, 450, 1000, 3000])
    if rng.random() < 0.5:
        new = b"[" * depth + b"1" + b"]" * depth
    else:
        new = b"{a: " * depth + b"1" + b"}" * depth
    if not values:
        return data + b"\nx: " + new + b"\n", f"depth {depth}"
    match = rng.choice(values)
    return _replace(data, match, new), f"depth {depth}"


def aliases(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    choice = rng.randrange(4)
    if choice == 0:    # billion laughs, in a key of its own or in place of a value
        levels, width = rng.choice([(3, 3), (5, 5), (9, 9), (12, 6), (20, 2)])
        parts = [b'lol0: &l0 ["lol"]']
        for i in range(1, levels + 1):
            refs = b", ".join([b"*l%d" % (i - 1)] * width)
            parts.append(b"lol%d: &l%d [%s]" % (i, i, refs))
        return data + b"\n" + b"\n".join(parts) + b"\n", f"{levels}x{width} laughs"
    values = _values(data)
    if len(values) < 2:
        return byte_flip(rng, data)
    a, b = sorted(rng.sample(values, 2), key=lambda m: m.start())
    if choice == 1:    # a later value is an alias of an earlier one
        out = (data[:a.start("value")] + b"&x " + a.group("value")
               + data[a.end("value"):b.start("value")] + b"*x" + data[b.end("value"):])
        return out, "alias of a value"
    if choice == 2:    # an alias to an anchor that is never defined, or used before it is
        out = (data[:a.start("value")] + b"*x" + data[a.end("value"):b.start("value")]
               + b"&x " + b.group("value") + data[b.end("value"):])
        return out, "alias before anchor"
    out = data[:a.start("value")] + b"&x [" + a.group("value") + b", *x]" + data[a.end("value"):]
    return out, "recursive alias"


def control_char(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    i = rng.randrange(len(data) + 1)
    c = rng.choice(CONTROL)
    return data[:i] + c + data[i:], f"{c!r} at byte {i}"


def invalid_utf8(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    i = rng.randrange(len(data) + 1)
    c = rng.choice(BAD_UTF8)
    return data[:i] + c + data[i:], f"{c!r} at byte {i}"


def odd_extends(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    name = rng.choice([b"''", b"a" * 300 + b".yaml", b"/", b".", b"..", b"nowhere.yaml",
                       b"/dev/null", b"/proc/self/mem", b"'\\0'", b"[a.yaml]", b"{}", b"1",
                       b"x/" * 200 + b"y.yaml", b"~", b"fi_2025_graduated", b"'a\\tb'",
                       b"'" + b"\xc3\xa9" * 150 + b".yaml'"])
    lines = _lines(data)
    existing = [i for i, ln in enumerate(lines) if ln.startswith(b"extends:")]
    if existing:
        lines[existing[0]] = b"extends: " + name
    else:
        lines.insert(0, b"extends: " + name)
    return _join(lines), f"extends: {name[:30]!r}"


KINDS: dict[str, Callable[[random.Random, bytes], tuple[bytes, str]]] = {
    "byte_flip": byte_flip,
    "delete_lines": delete_lines,
    "duplicate_line": duplicate_line,
    "truncate": truncate,
    "swap_values": swap_values,
    "type_change": type_change,
    "number_extreme": number_extreme,
    "deep_nesting": deep_nesting,
    "aliases": aliases,
    "control_char": control_char,
    "invalid_utf8": invalid_utf8,
    "extends": odd_extends,
}


def mutants(seed: int, count: int, sources: list[Path]) -> list[Mutant]:
    """`count` mutants of `sources`, the kinds taken in turn, the rest drawn from `seed`."""
    rng = random.Random(seed)
    texts = {p: p.read_bytes() for p in sources}
    kinds = list(KINDS)
    out = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        source = rng.choice(sources)
        data, note = KINDS[kind](rng, texts[source])
        out.append(Mutant(source, kind, data, note))
    return out


LOCATED = re.compile(r"^[^\n]*?:\d+(?::\d+)?: ")


def unlocated(stderr: str) -> list[str]:
    """The lines of an exit-2 report that do not start with `file:line:`."""
    return [ln for ln in stderr.splitlines() if ln.strip() and not LOCATED.match(ln)]
