"""Run a suite: every producer, one ledger; write ``ledger.json`` (schema 2); ``verify``.

A producer is any object of the `bounds.Producer` shape (`bounds.running.registry`): a
``name``, ``measure(suite, *, key)`` (a sim study: arrays, no verdicts) and
``judge(measurement, suite) -> list[Record]``, so that figures draw exactly what the records
were judged on. The registered producers (entry points ``dssl_bounds.producers``: the toolkit's
and any installed extension's) run by default; `run_suite` takes any others. One root key per
run; each producer's key is derived from the root and the producer's *name*
(`bounds.running.produce.producer_key`), so a producer's records do not depend on which other
producers ran.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import os
import pathlib
import shutil
from typing import TYPE_CHECKING, Any, Callable, Sequence

import jax

from bounds import toolkit_version
from bounds.judging.records import Record
from bounds.producers import SCHEDULE
from bounds.running import registry
from bounds.running.produce import (
    Progress,
    checkpoint_path,
    draw_figures,
    produce,
    producer_key,
    require_x64,
    root_key,
    source_digest,
    write_atomic,
)
from bounds.running.registry import Producer
from bounds.running.suite import Suite, get_suite

if TYPE_CHECKING:
    from bounds.running.workers import Workers

SCHEMA = 2


def measure(name: str, suite: "str | Suite", *, seed: int) -> Any:
    """Registered producer ``name``'s measurement at ``suite`` sizes for the run ``seed`` (what figures plot)."""
    require_x64()
    return registry.load_producer(name).measure(_as_suite(suite), key=producer_key(seed, name))


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


def _as_suite(suite: "str | Suite") -> Suite:
    return suite if isinstance(suite, Suite) else get_suite(suite)


def _run_parallel(chosen: Sequence[Producer], sizes: Suite, seed: int, paths: dict, jobs: int,
                  say: Progress, on_result, started: "Workers | None" = None,
                  figures: pathlib.Path | None = None
                  ) -> dict[str, tuple[list[Record], Any, float]]:
    """Each producer in its own process (spawned: JAX does not survive a fork; the ``started``
    workers if given, else ``min(jobs, len(chosen))`` new ones), longest first
    (`bounds.producers.SCHEDULE`, then the others), each drawing its figures into ``figures`` (a
    folder, or None) as soon as it is done; their progress lines come back through a queue. The
    workers are shut down at the end. A producer that is not registered must be picklable."""
    import concurrent.futures as cf
    import queue as queue_module

    from bounds.running import workers

    order = sorted(chosen, key=lambda p: SCHEDULE.index(p.name) if p.name in SCHEDULE else len(SCHEDULE))
    pool = started if started is not None else workers.start(min(jobs, len(order)))
    results: dict[str, tuple[list[Record], Any, float]] = {}

    def drain() -> None:
        while True:
            try:
                say(pool.messages.get_nowait())
            except queue_module.Empty:
                return

    try:
        futures = {pool.pool.submit(workers.produce, p, sizes, seed, paths[p.name], figures): p.name for p in order}
        pending = set(futures)
        while pending:
            done, pending = cf.wait(pending, timeout=0.2, return_when=cf.FIRST_COMPLETED)
            drain()
            for future in done:
                name = futures[future]
                results[name] = future.result()  # a producer's error surfaces here
                on_result(name, results[name][1])
    finally:
        pool.close()  # cancels what has not started
    drain()
    return results


def _chosen(producers: Sequence[Producer] | None, only: Sequence[str] | None) -> list[Producer]:
    """The producers to run: ``producers`` (default: the registered ones, in ledger order),
    those named in ``only``; ValueError for an unknown name, a duplicate or a non-producer."""
    if producers is None:
        return registry.producers(only)
    chosen = list(producers)
    for p in chosen:
        if not isinstance(p, Producer):
            raise ValueError(f"producers: {p!r} must have a name, measure(suite, *, key) and judge(measurement, suite)")
    names = [p.name for p in chosen]
    if len(set(names)) != len(names):
        raise ValueError(f"producers: names {names} must be distinct (each names its key and records)")
    if only is not None:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise ValueError(f"only={unknown} must be among {names}")
        chosen = [p for p in chosen if p.name in only]
    return chosen


def run_suite(suite: "str | Suite" = "default", *, seed: int = 0, only: Sequence[str] | None = None,
              producers: Sequence[Producer] | None = None,
              progress: Progress | None = None, checkpoints: str | os.PathLike | None = None,
              jobs: int = 1, on_result: Callable[[str, Any], None] | None = None,
              workers: "Workers | None" = None, figures: str | os.PathLike | None = None
              ) -> tuple[Ledger, dict[str, Any]]:
    """Run ``producers`` (any objects of the `bounds.Producer` shape; default: the registered
    ones, the toolkit's and installed extensions'), or those named in ``only``, at ``suite``
    size (a name or a `Suite`): the ledger (records in the producers' order) and each
    producer's measurement (by name), from which the figures are drawn.

    Producer ``p`` runs with the key ``producer_key(seed, p.name)``. With ``checkpoints`` (a
    folder), each finished producer is saved there atomically and a later call with the same
    suite, seed and toolkit resumes from it instead of recomputing; the records and
    measurements are the same either way. With ``jobs > 1`` up to ``jobs`` producers run at
    once, each in its own process; every producer has its own key, so the ledger is the same as
    with ``jobs = 1``. ``on_result(name, measurement)`` is called in this process as each
    producer finishes. With ``figures`` (a folder), each producer's registered figures are drawn
    there (`bounds.running.produce.draw_figures`) as soon as it finishes, by the process that
    ran it: with ``jobs > 1`` a worker, while the others still run, so that the run does not
    end on one process drawing on one core. ``workers`` (`bounds.running.workers.start`):
    processes already started for the parallel run, used and shut down here (the CLI starts
    them before importing the toolkit, so that their start-up overlaps its own).
    """
    sizes = _as_suite(suite)
    root_key(seed)  # validates the seed before any computation
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs={jobs!r} must be an integer >= 1")
    chosen = _chosen(producers, only)
    require_x64()
    say = progress or (lambda message: None)
    names = [p.name for p in chosen]
    paths = {n: checkpoint_path(pathlib.Path(checkpoints), sizes, seed, n) if checkpoints is not None else None
             for n in names}
    done = on_result or (lambda name, measurement: None)
    if jobs > 1 and len(chosen) > 1:
        results = _run_parallel(chosen, sizes, seed, paths, jobs, say, done, workers, figures)
    else:
        if workers is not None:
            workers.close()
        results = {}
        for p in chosen:
            results[p.name] = produce(p, sizes, seed, paths[p.name], say)
            if figures is not None:
                draw_figures(p.name, results[p.name][1], results[p.name][0], pathlib.Path(figures), say)
            done(p.name, results[p.name][1])
    records = [r for n in names for r in results[n][0]]
    measurements = {n: results[n][1] for n in names}
    seconds = {n: results[n][2] for n in names}
    created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return Ledger(sizes.name, seed, tuple(records), created, seconds), measurements


def write_ledger(ledger: Ledger, out_dir: str | os.PathLike) -> pathlib.Path:
    """Write ``out_dir/ledger.json`` and return its path."""
    path = pathlib.Path(out_dir) / "ledger.json"
    write_atomic(path, json.dumps(ledger.to_json(), indent=1, allow_nan=False) + "\n")
    return path


#: The run marker in an output folder: ``state`` is ``"running"`` from the start of a run until
#: its ledger, report and figures are all written, then ``"complete"`` with their digests, so a
#: folder left by an interrupted run, or with files from different runs, is never taken for a
#: complete one (`read_run`).
RUN_MARKER = "run.json"
CHECKPOINTS = ".checkpoints"


def _digest(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _marker(out: pathlib.Path, **fields) -> None:
    write_atomic(out / RUN_MARKER, json.dumps(fields, indent=1, sort_keys=True) + "\n")


def read_run(out_dir: str | os.PathLike) -> dict[str, Any]:
    """The marker of the complete run in ``out_dir``; ValueError if the folder holds no run, an
    interrupted one, or files that are not the ones the run wrote (stale or mixed output)."""
    out = pathlib.Path(out_dir)
    try:
        marker = json.loads((out / RUN_MARKER).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"out={str(out)!r} holds no run marker {RUN_MARKER}: not the output of a verify run") from None
    if marker.get("state") != "complete":
        raise ValueError(f"out={str(out)!r}: the run started {marker.get('started')} did not finish "
                         f"(state {marker.get('state')!r}); rerun verify to resume it")
    for name, digest in marker["files"].items():
        path = out / name
        if not path.is_file() or _digest(path) != digest:
            raise ValueError(f"out={str(out)!r}: {name} is not the file the run wrote (stale or mixed output)")
    return marker


def _replace_folder(staged: pathlib.Path, target: pathlib.Path) -> None:
    """Put ``staged`` in place of ``target`` (two renames), so the folder never mixes runs."""
    old = target.with_name(f".{target.name}-old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(staged, target)
    shutil.rmtree(old, ignore_errors=True)


def verify(out_dir: str | os.PathLike, suite: "str | Suite" = "default", *, seed: int = 0,
           only: Sequence[str] | None = None, producers: Sequence[Producer] | None = None, figures: bool = True, resume: bool = True,
           progress: Progress | None = None, jobs: int = 1,
           workers: "Workers | None" = None) -> tuple[Ledger, list[pathlib.Path]]:
    """``dssl-bounds verify``: run the suite into ``out_dir`` as one unit — ``ledger.json``,
    ``report.md`` and ``figures/`` (drawn from this run's measurements) — under the run marker
    (`read_run`). Finished producers are checkpointed in ``out_dir/.checkpoints``; a rerun after
    an interruption resumes from them (``resume=False`` recomputes) and writes the same output.
    ``producers``, ``jobs``, ``workers``: as `run_suite`. Returns the ledger and the figure paths."""
    from bounds.running.report import render_report

    out = pathlib.Path(out_dir)
    sizes = _as_suite(suite)
    root_key(seed)
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    meta = {"suite": sizes.name, "seed": seed, "only": list(only) if only else None,
            "toolkit_version": toolkit_version(), "source": source_digest(), "started": started}
    out.mkdir(parents=True, exist_ok=True)
    _marker(out, state="running", **meta)
    checkpoints = out / CHECKPOINTS
    if not resume:
        shutil.rmtree(checkpoints, ignore_errors=True)
    staged = out / ".figures-new"  # this run's figures only: emptied now, drawn by the producers' processes
    shutil.rmtree(staged, ignore_errors=True)
    ledger, measurements = run_suite(sizes, seed=seed, only=only, producers=producers, progress=progress, checkpoints=checkpoints,
                                     jobs=jobs, workers=workers, figures=staged if figures else None)
    drawn: list[pathlib.Path] = []
    if figures:
        staged.mkdir(exist_ok=True)
        names = sorted(p.name for p in staged.iterdir())  # the same order whichever finished first
        _replace_folder(staged, out / "figures")
        drawn = [out / "figures" / n for n in names]
    write_ledger(ledger, out)
    write_atomic(out / "report.md", render_report(ledger, out, drawn))
    files = ["ledger.json", "report.md", *(str(p.relative_to(out)) for p in drawn)]
    _marker(out, state="complete", finished=ledger.created, files={f: _digest(out / f) for f in files}, **meta)
    shutil.rmtree(checkpoints, ignore_errors=True)
    return ledger, drawn
