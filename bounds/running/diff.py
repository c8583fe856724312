"""``dssl-bounds diff A B``: which verdicts and numbers changed between two ledgers.

Records are matched by (claim, level, source, reading) — the n-th record with the same key in
A is matched with the n-th in B — and compared on their verdict and their numbers (bound,
empirical, margin, p-value, CI, power, trials, successes, seeds). Works on the JSON rows
themselves, so ledgers of other toolkit versions (other verdict words or reading axes)
compare too.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import math
import pathlib
from typing import Any, Mapping

from sim import checks

NUMBERS = ("bound", "empirical", "margin", "p_value", "ci", "power", "trials", "successes", "n_seeds")
Key = tuple[str, str, str, str, int]


#: The ledger schemas `diff` reads (DESIGN: field names and verdict words are stable within one).
SCHEMAS = (2, 3)
_TEXT = ("claim", "level", "source", "verdict")


def _number(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _row_error(row: Any) -> str | None:
    """What is wrong with one record row (as ``field = value: why``), or None."""
    if not isinstance(row, dict):
        return f"{row!r} is not an object"
    for field in _TEXT:
        if not isinstance(row.get(field), str):
            return f"{field} = {row.get(field)!r}: must be a string"
    reading = row.get("reading")
    if reading is not None and not (isinstance(reading, dict)
                                    and all(isinstance(v, (str, int, float)) for v in reading.values())):
        return f"reading = {reading!r}: must be an object of axis: value"
    for field in NUMBERS:
        value = row.get(field)
        if field == "ci" and value is not None:
            if not (isinstance(value, list) and len(value) == 2 and all(_number(v) for v in value)):
                return f"ci = {value!r}: must be [low, high] or null"
        elif not _number(value):
            return f"{field} = {value!r}: must be a number or null"
    return None


def check_ledger(data: Any, name: str) -> dict[str, Any]:
    """``data`` if it is a ledger `diff` can read (an object with a ``records`` list of rows
    with string ``claim``, ``level``, ``source``, ``verdict``, an object ``reading`` and numbers
    or null for `NUMBERS`); ValueError naming ``name``, the row and the field otherwise.

    >>> check_ledger({"records": [{"claim": "c", "level": "formula", "source": "s", "verdict": 1}]}, "a.json")
    Traceback (most recent call last):
    ...
    ValueError: ledger 'a.json': records[0].verdict = 1: must be a string
    """
    if not isinstance(data, dict) or not isinstance(data.get("records"), list):
        raise ValueError(f"ledger {name!r} has no 'records' list: not a dssl-bounds ledger")
    for i, row in enumerate(data["records"]):
        error = _row_error(row)
        if error:
            raise ValueError(f"ledger {name!r}: records[{i}]" + ("." if isinstance(row, dict) else " = ") + error)
    return data


def load_ledger(path: str | pathlib.Path) -> dict[str, Any]:
    """A ledger (the parsed ``ledger.json``, schema 2 or 3) from a file, or from a ``verify``
    output folder whose run is complete; ValueError naming the path (and the field) otherwise."""
    path = pathlib.Path(path)
    if path.is_dir():
        from bounds.running.ledger import read_run

        read_run(path)  # refuses interrupted or mixed output
        path = path / "ledger.json"
    data = checks.parsed_file("ledger", path, json.loads, (json.JSONDecodeError,), "JSON")
    if isinstance(data, dict) and "schema" in data and data["schema"] not in SCHEMAS:
        raise ValueError(f"ledger {str(path)!r}: schema = {data['schema']!r} is not one diff reads {SCHEMAS}")
    if isinstance(data, dict) and "schema" not in data:
        raise ValueError(f"ledger {str(path)!r} has no 'schema' field: not a dssl-bounds ledger")
    return check_ledger(data, str(path))


def record_key(row: Mapping[str, Any]) -> tuple[str, str, str, str]:
    reading = ", ".join(f"{k}={v}" for k, v in sorted((row.get("reading") or {}).items())) or "—"
    return (str(row.get("claim")), str(row.get("level")), str(row.get("source")), reading)


def _keyed(rows) -> dict[Key, Mapping[str, Any]]:
    seen: collections.Counter = collections.Counter()
    out = {}
    for row in rows:
        base = record_key(row)
        out[(*base, seen[base])] = row
        seen[base] += 1
    return out


def _differs(a: Any, b: Any, rel_tol: float) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) != len(b) or any(_differs(x, y, rel_tol) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return not math.isclose(a, b, rel_tol=rel_tol, abs_tol=1e-300)
    return a != b


@dataclasses.dataclass(frozen=True)
class Change:
    key: Key
    verdict: tuple[str, str]
    numbers: dict[str, tuple[Any, Any]]


@dataclasses.dataclass(frozen=True)
class LedgerDiff:
    a: Mapping[str, Any]
    b: Mapping[str, Any]
    transitions: dict[tuple[str, str], int]
    changes: list[Change]
    only_a: list[Key]
    only_b: list[Key]
    rel_tol: float

    @property
    def changed(self) -> bool:
        return bool(self.changes or self.only_a or self.only_b)


def diff_ledgers(a: Mapping[str, Any], b: Mapping[str, Any], *, rel_tol: float = 1e-9) -> LedgerDiff:
    """Compare ledger ``a`` (old) with ``b`` (new); numbers within ``rel_tol`` count as equal.

    >>> row = {"claim": "thm4.2-local", "level": "simulation", "source": "Theorem 4.2 (local)",
    ...        "reading": {"mim": "alignment-exact"}, "verdict": "holds", "margin": 0.1}
    >>> d = diff_ledgers({"records": [row]}, {"records": [{**row, "verdict": "fails", "margin": -0.2}]})
    >>> d.transitions, d.changes[0].numbers
    ({('holds', 'fails'): 1}, {'margin': (0.1, -0.2)})
    """
    if not (isinstance(rel_tol, (int, float)) and math.isfinite(rel_tol) and rel_tol >= 0):
        raise ValueError(f"rel_tol={rel_tol!r} must be a finite number >= 0")
    check_ledger(a, "a")
    check_ledger(b, "b")
    ka, kb = _keyed(a["records"]), _keyed(b["records"])
    transitions: collections.Counter = collections.Counter()
    changes = []
    for key in ka.keys() & kb.keys():
        ra, rb = ka[key], kb[key]
        verdict = (str(ra.get("verdict")), str(rb.get("verdict")))
        transitions[verdict] += 1
        numbers = {f: (ra.get(f), rb.get(f)) for f in NUMBERS if _differs(ra.get(f), rb.get(f), rel_tol)}
        if verdict[0] != verdict[1] or numbers:
            changes.append(Change(key, verdict, numbers))
    order = {k: i for i, k in enumerate(kb)}
    changes.sort(key=lambda c: (c.verdict[0] == c.verdict[1], order[c.key]))  # verdict changes first
    return LedgerDiff(a, b, dict(sorted(transitions.items(), key=lambda kv: (kv[0][0] == kv[0][1], -kv[1]))),
                      changes, [k for k in ka if k not in kb], [k for k in kb if k not in ka], rel_tol)


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.6g}"
    if isinstance(x, list):
        return "[" + ", ".join(_fmt(v) for v in x) + "]"
    return "—" if x is None else str(x)


def _about(ledger: Mapping[str, Any]) -> str:
    return (f"suite {ledger.get('suite')}, seed {ledger.get('seed')}, toolkit {ledger.get('toolkit_version')}, "
            f"created {ledger.get('created')}, {len(ledger['records'])} records")


def _label(key: Key) -> str:
    claim, level, source, reading, n = key
    return f"{claim} [{level}; {source}; {reading}" + (f"; #{n + 1}" if n else "") + "]"


def render_diff(d: LedgerDiff, *, full: bool = False, limit: int = 40) -> str:
    """The diff for the terminal: what each ledger is, the verdict transitions with counts,
    then the changed rows (verdict changes first; ``limit`` rows unless ``full``)."""
    lines = [f"A: {_about(d.a)}", f"B: {_about(d.b)}", ""]
    if not d.changed:
        return "\n".join(lines + [f"no verdict or number changed (relative tolerance {d.rel_tol:g})"])
    lines.append("verdict transitions (A -> B):")
    lines += [f"  {n:5d}  {va} -> {vb}" + ("  (unchanged)" if va == vb else "") for (va, vb), n in d.transitions.items()]
    moved = sum(1 for c in d.changes if c.numbers)
    lines += [f"numbers changed in {moved} matched records (relative tolerance {d.rel_tol:g}); "
              f"{len(d.only_a)} records only in A, {len(d.only_b)} only in B", ""]
    shown = d.changes if full else d.changes[:limit]
    for c in shown:
        verdict = c.verdict[0] if c.verdict[0] == c.verdict[1] else f"{c.verdict[0]} -> {c.verdict[1]}"
        numbers = "; ".join(f"{f} {_fmt(x)} -> {_fmt(y)}" for f, (x, y) in c.numbers.items())
        lines.append(f"{_label(c.key)}: {verdict}" + (f"; {numbers}" if numbers else ""))
    for tag, keys in (("only in A", d.only_a), ("only in B", d.only_b)):
        lines += [f"{_label(k)}: {tag}" for k in (keys if full else keys[:limit])]
    hidden = len(d.changes) - len(shown) + sum(max(0, len(k) - limit) for k in (d.only_a, d.only_b))
    if hidden and not full:
        lines.append(f"... {hidden} more rows (--full lists them)")
    return "\n".join(lines)


__all__ = ["SCHEMAS", "check_ledger", "load_ledger", "diff_ledgers", "render_diff", "record_key", "LedgerDiff", "Change"]
