"""``dssl-bounds sweep CONFIG.toml``: a resumable grid of linear studies.

Config (every list is a grid axis; scalars are fixed)::

    [sweep]
    out = "results/sweep"      # one JSON per finished point, plus sweep.json
    seed = 0
    n_seeds = 32
    d = [64, 128, 256]
    p = [0.5, 0.75]
    # optional, default to the theorem scalings at each d: N, n, n_rare, tau, mu, c (default 2N)
    transform = "subspace-rotation"

Each finished point is written atomically (``point-<hash>.json``, the hash of the point's own
parameters and the seed); a rerun skips points that are already on disk, so an interrupted
sweep resumes where it stopped, and a point's numbers do not depend on its place in the grid.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import pathlib
import sys
from typing import Any, Callable

import jax

from bounds.ledger import root_key, write_atomic
from bounds.linear import point_records
from sim.config import DataConfig
from sim.studies import linear

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DATA_FIELDS = ("d", "N", "n", "n_rare", "tau", "mu")
STUDY_FIELDS = ("c", "p", "transform", "n_seeds")
KNOWN = set(DATA_FIELDS) | set(STUDY_FIELDS) | {"out", "seed"}


def load_config(path: pathlib.Path) -> dict[str, Any]:
    """Read and check the ``[sweep]`` table: known keys only, ``d`` present."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"config={str(path)!r} is not a file")
    table = tomllib.loads(path.read_text(encoding="utf-8")).get("sweep")
    if not isinstance(table, dict):
        raise ValueError(f"config {path}: needs a [sweep] table")
    unknown = sorted(set(table) - KNOWN)
    if unknown:
        raise ValueError(f"config {path}: unknown keys {unknown}; allowed: {sorted(KNOWN)}")
    if "d" not in table:
        raise ValueError(f"config {path}: [sweep] needs d (an integer or a list of integers)")
    return table


def grid_points(table: dict[str, Any]) -> list[dict[str, Any]]:
    axes = {k: (v if isinstance(v, list) else [v]) for k, v in table.items() if k in DATA_FIELDS or k in STUDY_FIELDS}
    names = sorted(axes)
    return [dict(zip(names, values)) for values in itertools.product(*(axes[n] for n in names))]


def study_at(point: dict[str, Any]) -> linear.LinearStudy:
    """Build (and so validate) the study of one grid point, before any computation."""
    data = DataConfig(**{k: point[k] for k in DATA_FIELDS if k in point})
    return linear.LinearStudy(
        data=data, c=point.get("c", 2 * data.N), p=point.get("p", 0.75),
        transform=point.get("transform", "subspace-rotation"), transform_dim=point.get("c", 2 * data.N),
        n_seeds=point.get("n_seeds", 32),
    )


def run_sweep(config: pathlib.Path, *, progress: Callable[[str], None] | None = None) -> pathlib.Path:
    table = load_config(config)
    say = progress or (lambda message: None)
    out = pathlib.Path(table.get("out", "results/sweep"))
    seed = table.get("seed", 0)
    root_key(seed)  # validates the seed
    points = grid_points(table)
    studies = [study_at(p) for p in points]  # validate the whole grid first
    finished = []
    for i, (point, study) in enumerate(zip(points, studies)):
        digest = hashlib.sha1(json.dumps({"point": point, "seed": seed}, sort_keys=True).encode()).hexdigest()
        path = out / f"point-{digest[:12]}.json"
        if path.exists():
            say(f"point {i + 1}/{len(points)} {point}: on disk, skipped")
        else:
            m = linear.measure(study, key=jax.random.fold_in(root_key(seed), int(digest[:7], 16)))
            recs = point_records(m)
            write_atomic(path, json.dumps({"point": point, "records": [r.to_json() for r in recs]}, indent=1) + "\n")
            say(f"point {i + 1}/{len(points)} {point}: {len(recs)} records")
        finished.append(json.loads(path.read_text(encoding="utf-8")))
    summary = out / "sweep.json"
    write_atomic(summary, json.dumps({"schema": 2, "seed": seed, "points": finished}, indent=1) + "\n")
    return summary
