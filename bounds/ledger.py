"""Run a suite: every producer, one ledger; write ``ledger.json`` (schema 2).

A producer is a module with two functions, so that figures can plot exactly what the records
were judged on:

    measure(suite, *, key) -> measurement   # a sim study: arrays, no verdicts
    judge(measurement, suite) -> list[Record]

and ``records(suite, *, key) = judge(measure(suite, key=key), suite)``. One root key per run;
each producer's key is derived from the root and the producer's *name*, so a producer's
records do not depend on which other producers ran.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import importlib
import json
import os
import pathlib
import tempfile
import time
import zlib
from typing import Any, Callable, Protocol, Sequence

import jax

from bounds.producers import PRODUCER_NAMES, PRODUCERS
from bounds.records import Record
from bounds.suite import Suite, get_suite

SCHEMA = 2


Progress = Callable[[str], None]


class Producer(Protocol):
    """The shape of a producer module (see the module docstring)."""

    def measure(self, suite: Suite, *, key: jax.Array) -> Any: ...

    def judge(self, measurement: Any, suite: Suite) -> list[Record]: ...


def producer(name: str) -> Producer:
    """The producer module called ``name``; ValueError listing the names otherwise."""
    modules = dict(PRODUCERS)
    if name not in modules:
        raise ValueError(f"producer={name!r} must be one of {PRODUCER_NAMES}")
    return importlib.import_module(modules[name])


def root_key(seed: int) -> jax.Array:
    """The run's one root key. ``impl="rbg"``: threefry's bit generator compiles several times
    slower on CPU, and compilation dominates these runs; results reproduce per backend."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ValueError(f"seed={seed!r} must be an integer in [0, 2**32)")
    return jax.random.key(seed, impl="rbg")


def producer_key(seed: int, name: str) -> jax.Array:
    """The key of producer ``name`` in a run with ``seed`` (derived from the name, not the order)."""
    return jax.random.fold_in(root_key(seed), zlib.crc32(name.encode()))


def require_x64() -> None:
    """The measurements compare representabilities at the 1e-6 scale (``r_k`` near 1 for large
    ``d``), which float32 eigensolvers cannot resolve: refuse to run without float64."""
    if not jax.config.jax_enable_x64:
        raise RuntimeError("dssl-bounds needs float64: switch jax_enable_x64 on in jax.config before "
                           "running a suite (the CLI does)")


def measure(name: str, suite: Suite, *, seed: int) -> Any:
    """Producer ``name``'s measurement at ``suite`` sizes for the run ``seed`` (what figures plot)."""
    require_x64()
    return producer(name).measure(suite, key=producer_key(seed, name))


def toolkit_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("dssl-bounds")
    except metadata.PackageNotFoundError:  # a source tree that is not installed
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
            "environment": {"jax": jax.__version__, "backend": jax.default_backend(), "devices": jax.device_count()},
            "records": [r.to_json() for r in self.records],
        }


def run_suite(suite: str = "default", *, seed: int = 0, only: Sequence[str] | None = None,
              progress: Progress | None = None) -> tuple[Ledger, dict[str, Any]]:
    """Run every producer (or those named in ``only``) at ``suite`` size: the ledger and each
    producer's measurement (by name), from which the figures are drawn."""
    sizes = get_suite(suite)
    root_key(seed)  # validates the seed before any computation
    if only is not None:
        unknown = sorted(set(only) - set(PRODUCER_NAMES))
        if unknown:
            raise ValueError(f"only={unknown} must be among {PRODUCER_NAMES}")
    require_x64()
    say = progress or (lambda message: None)
    records: list[Record] = []
    measurements: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    for name in PRODUCER_NAMES:
        if only is not None and name not in only:
            continue
        start = time.perf_counter()
        say(f"{name}: running")
        module = producer(name)
        measurements[name] = module.measure(sizes, key=producer_key(seed, name))
        produced = module.judge(measurements[name], sizes)
        seconds[name] = time.perf_counter() - start
        say(f"{name}: {len(produced)} records in {seconds[name]:.1f}s")
        records.extend(produced)
    created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return Ledger(suite, seed, tuple(records), created, seconds), measurements


def write_atomic(path: pathlib.Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader never sees a half-written file (mode 0644
    under the usual umask, as an ordinary file would be)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


def write_ledger(ledger: Ledger, out_dir: str | os.PathLike) -> pathlib.Path:
    """Write ``out_dir/ledger.json`` and return its path."""
    path = pathlib.Path(out_dir) / "ledger.json"
    write_atomic(path, json.dumps(ledger.to_json(), indent=1, allow_nan=False) + "\n")
    return path
