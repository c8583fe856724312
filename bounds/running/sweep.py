"""``dssl-bounds sweep CONFIG.toml``: a resumable grid of linear studies.

Config (every list is a grid axis; scalars are fixed; see ``examples/``)::

    [sweep]
    out = "results/sweep"      # one JSON per finished point, plus sweep.json
    seed = 0
    n_seeds = 32
    d = [64, 128, 256]
    mask_ratio = [0.5, 0.75]   # the paper's p; default sim.MASK_RATIO
    # optional, default to the theorem scalings at each d: N, n, n_rare, tau, mu, c (default 2N)
    transform = "subspace-rotation"
    max_memory = 8             # GB one point may use (default: this machine's memory)

Every field and every grid point is checked before the first point runs, with the grid's size
(at most `MAX_POINTS` points) and each point's memory estimated from its sizes (refused beyond
``max_memory`` or the machine's memory) before anything is allocated. Each point is keyed
by its own fully resolved study (data model, ``c``, ``mask_ratio``, transform, seeds) and the sweep's
seed, never by its place in the grid: its random key derives from that key, so extending a
grid or reordering it leaves existing points unchanged, and a new seed never reuses another
seed's points. Each finished point is written atomically (``point-<key>.json``, the key also
covering the toolkit's version and source); a rerun skips points already on disk. A point
whose simulation is not finite becomes an ``inconclusive`` record and the sweep goes on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import pathlib
import sys
from typing import Any, Callable

from sim import MASK_RATIO, checks

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DATA_FIELDS = ("d", "N", "n", "n_rare", "tau", "mu")
STUDY_FIELDS = ("c", "mask_ratio", "transform", "n_seeds")
KNOWN = set(DATA_FIELDS) | set(STUDY_FIELDS) | {"out", "seed", "max_memory"}
#: The largest grid a sweep runs: each point is a full linear study (seconds to minutes), so a
#: larger grid is a mistake in the config rather than a plan.
MAX_POINTS = 1000
INTEGER_FIELDS = ("d", "N", "n", "n_rare", "c", "n_seeds")
#: The field's type check (ranges that depend on other fields are the study's own checks).
_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    **{f: (lambda field, v: checks.integer(field, v, minimum=0)) for f in INTEGER_FIELDS},
    "tau": lambda field, v: checks.real(field, v, low=0, closed=False),
    "mu": lambda field, v: checks.real(field, v, low=0, closed=False),
    "mask_ratio": lambda field, v: checks.real(field, v, low=0, high=1, closed=False),
    "transform": lambda field, v: checks.choice(field, v, ("identity", "orthogonal", "subspace-rotation")),
}


@dataclasses.dataclass(frozen=True)
class SweepPlan:
    """A checked sweep: where it writes, its seed, and every grid point with its study."""

    config: pathlib.Path
    out: pathlib.Path
    seed: int
    points: tuple[tuple[dict[str, Any], Any], ...]


def load_config(path: pathlib.Path) -> dict[str, Any]:
    """Read and check the ``[sweep]`` table: known keys only, each of the right type and
    range, every axis a non-empty list without repeats, ``d`` present. The mask ratio's key is
    ``mask_ratio`` (the name of the field everywhere); ``p`` is refused with a message saying so."""
    path = pathlib.Path(path)
    document = checks.parsed_file("config", path, tomllib.loads, (tomllib.TOMLDecodeError,), "TOML")
    table = document.get("sweep")
    if not isinstance(table, dict):
        raise ValueError(f"config {path}: needs a [sweep] table")
    if "p" in table:
        raise ValueError(f"config {path}: p = {table['p']!r}: the mask ratio's key is mask_ratio "
                         f"(write mask_ratio = {table['p']!r}), a real number in (0, 1)")
    unknown = sorted(set(table) - KNOWN)
    if unknown:
        raise ValueError(f"config {path}: unknown keys {unknown}; allowed: {sorted(KNOWN)}")
    if "d" not in table:
        raise ValueError(f"config {path}: [sweep] needs d (an integer or a list of integers)")
    out = table.get("out", "results/sweep")
    if not isinstance(out, str) or not out:
        raise ValueError(f"config {path}: out = {out!r} must be a non-empty string (a folder)")
    checks.integer(f"config {path}: seed", table.get("seed", 0), minimum=0, maximum=2**32 - 1)
    if "max_memory" in table:
        checks.real(f"config {path}: max_memory", table["max_memory"], low=0, closed=False)
    for name, value in table.items():
        if name in ("out", "seed", "max_memory"):
            continue
        values = value if isinstance(value, list) else [value]
        if not values:
            raise ValueError(f"config {path}: {name} = [] must list at least one value")
        for v in values:
            _CHECKS[name](f"config {path}: {name}", v)
        if len({json.dumps(v) for v in values}) != len(values):
            raise ValueError(f"config {path}: {name} = {value!r} repeats a value (each point would run twice)")
    sizes = {k: len(v) for k, v in table.items() if isinstance(v, list)}
    if math.prod(sizes.values()) > MAX_POINTS:
        axes = " x ".join(f"{k} ({n})" for k, n in sizes.items())
        raise ValueError(f"config {path}: the grid {axes} has {math.prod(sizes.values())} points, more than "
                         f"{MAX_POINTS}: split it into several sweeps")
    return table


def grid_points(table: dict[str, Any]) -> list[dict[str, Any]]:
    axes = {k: (v if isinstance(v, list) else [v]) for k, v in table.items() if k in DATA_FIELDS or k in STUDY_FIELDS}
    names = sorted(axes)
    return [dict(zip(names, values)) for values in itertools.product(*(axes[n] for n in names))]


def study_at(point: dict[str, Any]):
    """Build (and so validate) the study of one grid point, before any computation."""
    from sim.data.config import DataConfig
    from sim.studies import linear

    data = DataConfig(**{k: point[k] for k in DATA_FIELDS if k in point})
    c = checks.integer("c", point.get("c", 2 * data.N), minimum=0)
    return linear.LinearStudy(
        data=data, c=c, mask_ratio=point.get("mask_ratio", MASK_RATIO),
        transform=point.get("transform", "subspace-rotation"), transform_dim=c,
        n_seeds=checks.integer("n_seeds", point.get("n_seeds", 32), minimum=1),
    )


def prepare_sweep(config: pathlib.Path) -> SweepPlan:
    """Read ``config`` and check every field and every grid point (no computation)."""
    table = load_config(config)
    points = grid_points(table)
    limit = table["max_memory"] * 1e9 if "max_memory" in table else None
    plan = []
    for point in points:
        try:
            study = study_at(point)
            study.check_memory(limit=limit)
            plan.append((point, study))
        except ValueError as err:
            raise ValueError(f"config {config}: point {point}: {err}") from None
    return SweepPlan(pathlib.Path(config), pathlib.Path(table.get("out", "results/sweep")),
                     int(table.get("seed", 0)), tuple(plan))


def point_id(study, seed: int) -> str:
    """A point's identity: its resolved study and the seed (what its random key derives from)."""
    return hashlib.sha256(json.dumps({"study": repr(study), "seed": seed}).encode()).hexdigest()


def _claim_params(point: dict[str, Any]) -> dict[str, Any]:
    """A grid point's fields under the claims' symbols (the mask ratio is the claims' ``p``)."""
    return {("p" if name == "mask_ratio" else name): value for name, value in point.items()}


def _diverged(point: dict[str, Any], seed: int, err: Exception):
    """One ``inconclusive`` record per claim a point judges (Theorems 4.2-4.4 at the client and FL
    level, `bounds.producers.linear.point_records`) when its simulation is not finite."""
    import theory
    from bounds.judging.records import Record

    claims = [c for scope in ("local", "fl") for c in theory.CLAIMS.values()
              if c.scope == scope and c.family in ("mim", "cl", "comparison")]
    return [Record(claim=claim.id, source=f"{claim.source} at one sweep point", level="simulation",
                   verdict="inconclusive", params={**_claim_params(point), "seed": seed},
                   statistic="none: the simulation at these parameters is not finite",
                   note=f"the simulation at {point} did not give finite representabilities ({err}); "
                        "nothing at this point is judged")
            for claim in claims]


def run_point(study, point: dict[str, Any], seed: int) -> list:
    """The records of one point (an ``inconclusive`` record if its simulation is not finite)."""
    import jax
    import numpy as np

    from bounds.running.ledger import root_key
    from bounds.producers.linear import point_records
    from sim.studies import linear

    key = jax.random.fold_in(root_key(seed), int(point_id(study, seed)[:8], 16))
    try:
        with np.errstate(all="ignore"):
            return point_records(linear.measure(study, key=key))
    except (FloatingPointError, np.linalg.LinAlgError) as err:
        return _diverged(point, seed, err)


def run_sweep(plan: "SweepPlan | pathlib.Path", *, progress: Callable[[str], None] | None = None) -> pathlib.Path:
    """Run (or resume) the sweep; write ``sweep.json`` (every point's records) and return its path."""
    from bounds.running.ledger import source_digest, toolkit_version, write_atomic

    if not isinstance(plan, SweepPlan):
        plan = prepare_sweep(plan)
    say = progress or (lambda message: None)
    summary = plan.out / "sweep.json"
    summary.unlink(missing_ok=True)  # only a finished sweep has one
    code = f"{toolkit_version()}-{source_digest()}"
    finished = []
    for i, (point, study) in enumerate(plan.points):
        identity = point_id(study, plan.seed)
        path = plan.out / f"point-{hashlib.sha256((identity + code).encode()).hexdigest()[:16]}.json"
        if path.exists():
            say(f"point {i + 1}/{len(plan.points)} {point}: on disk, skipped")
        else:
            recs = run_point(study, point, plan.seed)
            row = {"point": point, "seed": plan.seed, "study": repr(study), "records": [r.to_json() for r in recs]}
            write_atomic(path, json.dumps(row, indent=1, allow_nan=False) + "\n")
            say(f"point {i + 1}/{len(plan.points)} {point}: {len(recs)} records")
        finished.append(json.loads(path.read_text(encoding="utf-8")))
    write_atomic(summary, json.dumps({"schema": 2, "seed": plan.seed, "points": finished}, indent=1,
                                     allow_nan=False) + "\n")
    return summary
