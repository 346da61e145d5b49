#!/usr/bin/env python3
"""A seeded mutation fuzzer for pkgbooks' inputs (SPEC 3.3, 7).

    python tools/fuzz.py --inputs 100000 [--seed S] [--build-every N] [--crashes DIR]

Each input is a mutated valid input (random byte flips, deletions,
truncation, inserted quotes / commas / newlines / byte-order marks, values
replaced by huge numbers, "NaN", "1e3", "(12.50)", "$12.50", "1,234.50",
ambiguous or impossible dates, lone surrogates, deep nesting, UTF-16, CRLF...)
or arbitrary bytes, fed to one of:

  jsonl    `pkgbooks.readers.read_events` over one `events/*.jsonl` file
  csv      `read_events` over one `events/<type>.csv` file (every type)
  toml     `pkgbooks.config.load_config` over `pkgbooks.toml`

The property: no exception escapes; every problem is one line in the SPEC 7
form (`FILE:LINE: event ID: what is wrong`, `FILE: what is wrong`, or for the
configuration `FILE: key: value: what is wrong`). Every `--build-every`-th
input also goes through a whole `pkgbooks.build.build()` of a small books
directory (config + valid events + the input), which must not raise either,
and a build that succeeds must give a ledger Beancount loads without error.

Crashes are grouped by signature (exception type, innermost pkgbooks frame);
signatures of engine bugs already reported are listed in KNOWN_BUGS and
counted apart, so a run shows at once whether anything *new* broke. The
first input of each signature is saved under --crashes.
tests/test_fuzz.py drives the same mutations with hypothesis.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import re
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import simulate as sim  # tools/simulate.py, beside this script (a script's folder is on the path)

from pkgbooks.build import build
from pkgbooks.config import load_config
from pkgbooks.errors import Error, Failed
from pkgbooks.readers import read_events

ROOT = Path(__file__).resolve().parent.parent
EVENT_KINDS = ("sale", "payment", "redemption", "refund", "expiry", "void")

# --- the values and fragments mutations insert -------------------------------------------

AMOUNTS = ["NaN", "nan", "Infinity", "-Infinity", "1e3", "1E-2", "(12.50)", "$12.50",
           "1,234.50", "12,50", "-12.50", "+12.50", "12.505", "12.", ".5", "0.00", "-0.00",
           " 12.50", "12.50 ", "１２.５０", "١٢", "²", "0x10", "1_000", "", "9" * 26 + ".99",
           "9" * 27 + ".99", "9" * 40, "1" + "0" * 30 + ".00", "0.0000000001"]
DATES = ["01/02/2026", "02/01/2026", "2026-02-30", "2026-1-2", "2026-13-01", "20260102",
         "2026-01-02T10:00:00", "2026-01-02 ", "9999-12-31", "9999-12-01", "0001-01-01",
         "1970-01-01", "2026-W01", "", "２０２６-０１-０２"]
TEXTS = ["", " ", "\u2028", "a\u2028b", "a\u0085b", "a\nb", "a\rb", "\t", "\x00", "\\", '"',
         "'", ",", "expiry:x", "*", "^x", "x" * 5000, "\ud800", "\udc80x", "é", "\ufeff",
         "loc-11", "haircut", "cuts-3", "card", "cash"]
JSON_VALUES = ["null", "true", "false", "0", "-1", "1.5", "1e999", "-1e999", "NaN", "Infinity",
               "[]", "{}", "[1]", '{"a":1}', "9" * 30, "9" * 5000, '"' + "x" * 200 + '"',
               "[" * 3000 + "]" * 3000, '"\\ud800"', '"\\u0000"', '"\\u2028"']
TOML_VALUES = ['"a\\nb"', '"a\\rb"', '"\\u0000"', '"\\u2028"', '"varies"', '"5%"', '"150%"',
               '"-5%"', '"0.333"', '"-1.00"', "1e999", "nan", "inf", "-inf", "9" * 30,
               "99999999", "-1", "0", "1.5", "true", "[]", "{}", "2026-02-28", "9999-12-31",
               "0001-01-01", "2026-01-01T10:00:00", '"loc-99"', '"*"', '""', '"Loc11"',
               '"USD"', '"proportional"', '"liability"']
FRAGMENTS = [b'"', b",", b"\n", b"\r", b"\r\n", b"\xef\xbb\xbf", b"\xff\xfe", b"\x00", b"\\",
             b"{", b"}", b"[", b"]", b":", b"=", b"#", b"'", b'"""', b"\t", b" ",
             "\u2028".encode(), b"\xc3", b"\xe9", b"\x85", b"\x1a"]

OPS = ("flip", "delete", "insert", "value", "truncate", "dup_line", "swap_lines",
       "drop_line", "bom", "utf16", "crlf", "cr_only")


@dataclass(frozen=True)
class Mutation:
    """One edit: `op` at position `at` (taken modulo the input's size), using `pick`."""

    op: str
    at: int
    pick: int


def _values_for(kind: str) -> list[str]:
    """Replacement values for one field, written as the file format needs them."""
    if kind == "toml":
        return TOML_VALUES
    if kind == "jsonl":
        return ([json.dumps(v) for v in AMOUNTS + DATES] + [json.dumps(t) for t in TEXTS]
                + [json.dumps(t, ensure_ascii=False) for t in TEXTS] + JSON_VALUES)
    # CSV cells: plain, or quoted when they hold a comma, quote or newline
    cells = AMOUNTS + DATES + TEXTS + ["1", "0", "-1", "9" * 30, "true"]
    out = []
    for cell in cells:
        if any(c in cell for c in ',"\n\r'):
            cell = '"' + cell.replace('"', '""') + '"'
        out.append(cell)
    return out


_STRING_JSON = re.compile(rb'"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null')
_TOML_VALUE = re.compile(rb'(?<== )(?:"(?:[^"\\\n]|\\.)*"|[^\s,\]}]+)')
_CSV_CELL = re.compile(rb"(?<=[,\n])[^,\n]*|^[^,\n]*")


def mutate(data: bytes, mutations: Sequence[Mutation], kind: str) -> bytes:
    """Apply each mutation in turn; `kind` (jsonl, csv, toml) picks the value syntax."""
    values = _values_for(kind)
    for m in mutations:
        size = len(data)
        if m.op == "flip" and size:
            i = m.at % size
            data = data[:i] + bytes([data[i] ^ (1 << (m.pick % 8))]) + data[i + 1:]
        elif m.op == "delete" and size:
            i = m.at % size
            data = data[:i] + data[i + 1 + m.pick % 8:]
        elif m.op == "insert":
            i = m.at % (size + 1)
            data = data[:i] + FRAGMENTS[m.pick % len(FRAGMENTS)] + data[i:]
        elif m.op == "value":
            pattern = {"jsonl": _STRING_JSON, "toml": _TOML_VALUE}.get(kind, _CSV_CELL)
            spans = [x.span() for x in pattern.finditer(data)]
            if spans:
                a, b = spans[m.at % len(spans)]
                value = values[m.pick % len(values)].encode("utf-8", "surrogatepass")
                data = data[:a] + value + data[b:]
        elif m.op == "truncate":
            data = data[: m.at % (size + 1)]
        elif m.op in ("dup_line", "swap_lines", "drop_line"):
            lines = data.split(b"\n")
            i, j = m.at % len(lines), m.pick % len(lines)
            if m.op == "dup_line":
                lines.insert(j, lines[i])
            elif m.op == "swap_lines":
                lines[i], lines[j] = lines[j], lines[i]
            elif len(lines) > 1:
                del lines[i]
            data = b"\n".join(lines)
        elif m.op == "bom":
            i = 0 if m.pick % 2 else m.at % (size + 1)
            data = data[:i] + b"\xef\xbb\xbf" + data[i:]
        elif m.op == "utf16":
            with contextlib.suppress(UnicodeError):
                data = data.decode("utf-8-sig").encode("utf-16-le" if m.pick % 3 == 0
                                                       else "utf-16")
        elif m.op == "crlf":
            data = data.replace(b"\n", b"\r\n")
        elif m.op == "cr_only":
            data = data.replace(b"\n", b"\r")
    return data


def random_mutations(rng: random.Random, count: int) -> list[Mutation]:
    weights = [3, 2, 4, 8, 1, 2, 2, 1, 1, 1, 1, 1]
    return [Mutation(rng.choices(OPS, weights)[0], rng.getrandbits(24), rng.getrandbits(16))
            for _ in range(count)]


# --- the valid inputs mutations start from -------------------------------------------------


@dataclass
class Corpus:
    """Valid inputs; each event file comes with the rest of its history (`rest`).

    A whole build holds the rest of the history and the (mutated) file, so the
    mutated events are the only copy of theirs and go through the rules.
    """

    config: str  # a valid pkgbooks.toml for the events
    configs: list[str]  # valid configurations
    jsonl: list[tuple[bytes, bytes]]  # (a valid JSONL file, the rest of the history)
    csv: dict[str, tuple[bytes, bytes]]  # per type: (a valid <type>.csv, the rest)
    events_jsonl: bytes  # the whole valid history


def corpus(seed: int = 3, events: int = 60) -> Corpus:
    """A small valid history (tools/simulate.py's generator) as JSONL and CSV files."""
    history = sim.generate(seed, events)
    lines = [json.dumps(e, ensure_ascii=False) for e in history.events]

    def rest(taken: set[int]) -> bytes:
        return "".join(x + "\n" for i, x in enumerate(lines) if i not in taken).encode()

    jsonl = []
    for start in range(0, len(lines), 8):
        chunk = range(start, min(start + 8, len(lines)))
        jsonl.append(("".join(lines[i] + "\n" for i in chunk).encode(), rest(set(chunk))))
    csv_files: dict[str, tuple[bytes, bytes]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in EVENT_KINDS:
            # a header-only file when the history has none of this type
            members = [i for i, e in enumerate(history.events) if e["type"] == kind][:8]
            layout = sim.Layout(files={f"{kind}.csv": [(i, None) for i in members]})
            sim.write_layout(Path(tmp), layout, history.events)
            data = (Path(tmp) / "events" / f"{kind}.csv").read_bytes()
            csv_files[kind] = (data, rest(set(members)))
    demo = (ROOT / "ledgers" / "demo" / "pkgbooks.toml").read_text(encoding="utf-8")
    return Corpus(history.config_text, [history.config_text, demo], jsonl, csv_files,
                  "".join(x + "\n" for x in lines).encode())


# --- running one input -------------------------------------------------------------------

PROBLEM_LINE = re.compile(r"^(?P<file>[^\n]+?):(?P<line>\d+): event (?P<id>[^\n]*?): \S[^\n]*$")
FILE_PROBLEM = re.compile(r"^(?P<file>[^\n]+?): \S[^\n]*$")
LINE_BREAKS = re.compile("[\n\r]")  # what ends a line in a terminal, a log or grep


def problem_form(text: str, file: str) -> str | None:
    """None if `text` is one problem line in the SPEC 7 form about `file`, else what is off."""
    if LINE_BREAKS.search(text):
        return "a line break inside one problem"
    if not text.startswith(file + ":"):
        return "does not start with the file name"
    if not (PROBLEM_LINE.match(text) or FILE_PROBLEM.match(text)):
        return "not FILE:LINE: event ID: message"
    if "<class '" in text or "Traceback" in text:
        return "a Python repr in the message"
    return None


@dataclass(frozen=True)
class Known:
    name: str
    exception: str  # exception type name
    frame: str  # innermost pkgbooks module.function
    text: str = ""  # part of the message


# Signatures of engine bugs that are reported but not fixed yet: an input that hits one is
# counted apart (not as a new failure), so a long run shows at once whether anything new
# broke. Each entry must have a strict xfail test in tests/test_fuzz.py. Empty: the bugs
# this fuzzer found (5000-digit integers and deep nesting in JSON, csv.Error, non-ASCII
# digits in a CSV quantity, lone surrogates, dates in December 9999, validity beyond the
# calendar, control characters in the title and in problem lines, amounts beyond
# Decimal's precision, a CSV type column) were fixed in c7acf3f and 8275ffe.
KNOWN_BUGS: list[Known] = []


def signature(exc: BaseException) -> tuple[str, str, str]:
    """(exception type, innermost pkgbooks frame, message) of a crash."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/pkgbooks/" in f.filename]
    where = "?"
    if frames:
        f = frames[-1]
        where = f"{Path(f.filename).stem}.{f.name}"
    return type(exc).__name__, where, str(exc)[:200]


def known_bug(sig: tuple[str, str, str]) -> str | None:
    for k in KNOWN_BUGS:
        if sig[0] == k.exception and sig[1] == k.frame and k.text in sig[2]:
            return k.name
    return None


@dataclass
class Outcome:
    """What one input did: accepted, refused, crashed (with a signature), or bad form."""

    status: str  # accepted | refused | crash | form
    detail: str = ""
    signature: tuple[str, str, str] | None = None


def form_outcome(wrong: str, text: str) -> Outcome:
    """A problem not in the SPEC 7 form; the signature says what and where."""
    return Outcome("form", f"{wrong}: {text[:300]!r}", ("Form", wrong, text[-300:]))


def run_reader(path: Path) -> Outcome:
    problems: list[Error] = []
    try:
        reads = list(read_events([path], problems))
    except Exception as exc:  # the property under test: nothing escapes
        sig = signature(exc)
        return Outcome("crash", traceback.format_exc(), sig)
    for p in problems:
        wrong = problem_form(str(p), str(path))
        if wrong:
            return form_outcome(wrong, str(p))
    return Outcome("refused" if problems else "accepted", str(len(reads)))


def run_config(path: Path) -> Outcome:
    try:
        load_config(path)
    except Failed as exc:
        for line in map(str, exc.errors):
            wrong = problem_form(line, str(path))
            if wrong:
                return form_outcome(wrong, line)
        return Outcome("refused", str(len(exc.errors)))
    except Exception as exc:
        return Outcome("crash", traceback.format_exc(), signature(exc))
    return Outcome("accepted")


def run_build(books: Path, check_ledger: bool) -> Outcome:
    """A whole build: no exception; problems in the SPEC 7 form; a success loads cleanly."""
    try:
        result = build(books)
    except Failed as exc:
        for line in map(str, exc.errors):
            wrong = problem_form(line, str(books / "pkgbooks.toml"))
            if wrong:
                return form_outcome(wrong, line)
        return Outcome("refused")
    except Exception as exc:
        return Outcome("crash", traceback.format_exc(), signature(exc))
    for p in result.problems:
        wrong = problem_form(str(p), p.source.file or "")
        if wrong:
            return form_outcome(wrong, str(p))
    if result.problems:
        return Outcome("refused")
    if check_ledger:
        from beancount import loader

        _entries, errors, _ = loader.load_file(str(books / "main.beancount"))
        if errors:
            return Outcome("ledger", f"{errors[0].source}: {errors[0].message}",
                           ("LedgerError", "ledger", errors[0].message[:100]))
    return Outcome("accepted")


def books_dir(root: Path, corpus_: Corpus, target: str, data: bytes, csv_kind: str = "payment",
              rest: bytes | None = None) -> Path:
    """A books directory holding the input (as its config, or as an event file) and `rest`."""
    if root.exists():
        shutil.rmtree(root)
    (root / "events").mkdir(parents=True)
    if target == "toml":
        (root / "pkgbooks.toml").write_bytes(data)
    else:
        (root / "pkgbooks.toml").write_text(corpus_.config, encoding="utf-8")
    (root / "events" / "history.jsonl").write_bytes(
        corpus_.events_jsonl if rest is None else rest)
    if target == "jsonl":
        (root / "events" / "input.jsonl").write_bytes(data)
    elif target == "csv":
        (root / "events" / f"{csv_kind}.csv").write_bytes(data)
    return root


# --- the loop ------------------------------------------------------------------------------


@dataclass
class Tally:
    inputs: int = 0
    builds: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    known: Counter[str] = field(default_factory=Counter)
    new: dict[str, str] = field(default_factory=dict)  # signature -> saved example


def fuzz(inputs: int, seed: int, build_every: int, crashes: Path | None,
         report: Callable[[str], None] = print) -> Tally:
    rng = random.Random(seed)
    base = corpus()
    tally = Tally()
    work = Path(tempfile.mkdtemp(prefix="pkgbooks-fuzz-"))
    started = time.monotonic()
    try:
        for n in range(inputs):
            target = rng.choices(["jsonl", "csv", "toml"], [4, 4, 2])[0]
            kind = rng.choice(EVENT_KINDS)
            rest = None
            if target == "jsonl":
                original, rest = rng.choice(base.jsonl)
            elif target == "csv":
                original, rest = base.csv[kind]
            else:
                original = rng.choice(base.configs).encode()
            r = rng.random()
            if r < 0.05:  # arbitrary bytes
                data = rng.randbytes(rng.randint(0, 300))
            elif r < 0.10:  # arbitrary text
                data = "".join(chr(rng.choice([rng.randint(0, 127), rng.randint(0, 0x10FFFF)]))
                               for _ in range(rng.randint(0, 200))).encode("utf-8",
                                                                          "surrogatepass")
            else:
                data = mutate(original, random_mutations(rng, rng.randint(1, 5)), target)
            if target == "toml":
                path = work / "pkgbooks.toml"
                path.write_bytes(data)
                outcome = run_config(path)
            else:
                name = "input.jsonl" if target == "jsonl" else f"{kind}.csv"
                path = work / name
                path.write_bytes(data)
                outcome = run_reader(path)
                path.unlink()
            _record(tally, outcome, target, data, crashes, report)
            tally.inputs += 1
            if build_every and n % build_every == 0:
                books = books_dir(work / "books", base, target, data, kind, rest)
                outcome = run_build(books, check_ledger=n % (build_every * 5) == 0)
                _record(tally, outcome, f"build/{target}", data, crashes, report)
                tally.builds += 1
            if (n + 1) % 10000 == 0:
                report(f"  {n + 1} inputs, {tally.builds} builds, "
                       f"{time.monotonic() - started:.0f}s: {dict(tally.outcomes)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tally


def _record(tally: Tally, outcome: Outcome, target: str, data: bytes, crashes: Path | None,
            report: Callable[[str], None]) -> None:
    tally.outcomes[f"{target}: {outcome.status}"] += 1
    if outcome.status in ("accepted", "refused"):
        return
    sig = outcome.signature
    name = known_bug(sig) if sig else None
    if name is not None:
        tally.known[name] += 1
        return
    key = f"{target}: {outcome.status}: {sig[:2] if sig else outcome.detail[:80]}"
    if outcome.status == "form" and sig:
        key = f"{target}: form: {sig[1]}"
    if key in tally.new:
        return
    saved = ""
    if crashes is not None:
        crashes.mkdir(parents=True, exist_ok=True)
        saved = str(crashes / f"crash-{len(tally.new):03d}.bin")
        Path(saved).write_bytes(data)
        Path(saved + ".txt").write_text(f"{key}\n\n{outcome.detail}", encoding="utf-8")
    tally.new[key] = saved
    report(f"NEW {key} {saved}\n{outcome.detail[-1500:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--build-every", type=int, default=10,
                        help="also run a whole build for every N-th input (0: never)")
    parser.add_argument("--crashes", type=Path, default=None,
                        help="save the first input of every new crash signature here")
    args = parser.parse_args(argv)
    started = time.monotonic()
    tally = fuzz(args.inputs, args.seed, args.build_every, args.crashes)
    print()
    print(f"inputs fuzzed: {tally.inputs} (+ {tally.builds} whole builds) in "
          f"{time.monotonic() - started:.0f}s, seed {args.seed}")
    for key, count in sorted(tally.outcomes.items()):
        print(f"  {key}: {count}")
    print(f"known engine bugs hit: {dict(tally.known) or 'none'}")
    print(f"new failures: {len(tally.new)}")
    for key, saved in tally.new.items():
        print(f"  {key} {saved}")
    return 1 if tally.new else 0


if __name__ == "__main__":
    sys.exit(main())
