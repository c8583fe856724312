"""Run a suite: every record producer, one ledger; write ``ledger.json`` and ``report.md``."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import importlib
import json
import os
import pathlib
import tempfile
import time
from typing import Any, Callable, Sequence

import jax

from bounds.records import Record
from bounds.suites import check_suite

SCHEMA = 1

#: (name, module) of every record producer, in ledger order. Each module exposes
#: ``records(suite, *, seed, progress) -> list[Record]``; imported lazily so that
#: ``dssl-bounds --help`` does not pay for JAX compilation imports.
PRODUCERS: tuple[tuple[str, str], ...] = (
    ("formula", "bounds.formula"),
    ("linear", "bounds.compare"),
    ("distributed", "bounds.distributed"),
    ("downstream", "bounds.downstream"),
)

Progress = Callable[[str], None]


def toolkit_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("dssl-bounds")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


@dataclasses.dataclass(frozen=True)
class Ledger:
    suite: str
    seed: int
    records: tuple[Record, ...]
    created: str
    seconds: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "toolkit_version": toolkit_version(),
            "suite": self.suite,
            "seed": self.seed,
            "created": self.created,
            "environment": {
                "jax": jax.__version__,
                "backend": jax.default_backend(),
                "devices": jax.device_count(),
            },
            "records": [r.to_json() for r in self.records],
        }


def run_suite(
    suite: str = "default",
    *,
    seed: int = 0,
    only: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> Ledger:
    """Run every producer (or those named in ``only``) at ``suite`` size and collect the records."""
    check_suite(suite)
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative integer")
    names = [name for name, _ in PRODUCERS]
    if only is not None:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise ValueError(f"only={unknown} must be among {names}")
    say = progress or (lambda message: None)
    records: list[Record] = []
    seconds: dict[str, float] = {}
    for name, module in PRODUCERS:
        if only is not None and name not in only:
            continue
        start = time.perf_counter()
        say(f"{name}: running")
        produced = importlib.import_module(module).records(suite, seed=seed, progress=say)
        seconds[name] = time.perf_counter() - start
        say(f"{name}: {len(produced)} records in {seconds[name]:.1f}s")
        records.extend(produced)
    created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return Ledger(suite, seed, tuple(records), created, seconds)


def write_atomic(path: pathlib.Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def write_ledger(ledger: Ledger, out_dir: str | os.PathLike) -> tuple[pathlib.Path, pathlib.Path]:
    """Write ``ledger.json`` and ``report.md`` into ``out_dir``; return both paths."""
    from bounds.report import render_report

    out = pathlib.Path(out_dir)
    json_path, report_path = out / "ledger.json", out / "report.md"
    write_atomic(json_path, json.dumps(ledger.to_json(), indent=1, allow_nan=False) + "\n")
    write_atomic(report_path, render_report(ledger, out))
    return json_path, report_path
