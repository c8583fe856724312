"""Run a suite: every producer, one ledger; write ``ledger.json`` (schema 3); ``verify``.

A producer is any object of the `bounds.Producer` shape (`bounds.running.registry`): a
``name``, ``measure(suite, *, key)`` (a sim study: arrays, no verdicts) and
``judge(measurement, suite) -> list[Record]``, so that figures draw exactly what the records
were judged on. The registered producers (entry points ``dssl_bounds.producers``: the toolkit's
and any installed extension's) run by default; `run_suite` takes any others. One root key per
run; each producer's key is derived from the root and the producer's *name*
(`bounds.running.produce.producer_key`), so a producer's records do not depend on which other
producers ran.

The ledger's statistically judged records form one family whose ``fails`` survive a
multiplicity correction (`bounds.judging.family.control`), and the records are joined into one
conclusion per claim (`bounds.judging.conclusions.conclude`). `run_seeds` runs several master
seeds and records each record's verdict in every seed (``by_seed``), so that each conclusion
says in how many seeds it replicates.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import hashlib
import json
import os
import pathlib
import shutil
from typing import TYPE_CHECKING, Any, Callable, Sequence

import jax

from bounds import toolkit_version
from bounds.judging.conclusions import Conclusion, conclude
from bounds.judging.family import Family, control
from bounds.judging.records import Record
from bounds.producers import SCHEDULE
from bounds.running import registry, rundir
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

SCHEMA = 3


def measure(name: str, suite: "str | Suite", *, seed: int) -> Any:
    """Registered producer ``name``'s measurement at ``suite`` sizes for the run ``seed`` (what figures plot)."""
    require_x64()
    return registry.load_producer(name).measure(_as_suite(suite), key=producer_key(seed, name))


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what `platform` reports)."""
    import platform

    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def environment() -> dict[str, Any]:
    """What the run ran on, for the ledger: JAX's version, backend and device count, the CPU
    model, `jax.print_environment_info` (jax, jaxlib, numpy, python, platform, devices) and the
    digest of the toolkit's source (the one checkpoints are keyed by)."""
    return {"jax": jax.__version__, "backend": jax.default_backend(), "devices": jax.device_count(),
            "cpu": cpu_model(), "info": jax.print_environment_info(return_string=True) or "",
            "source": source_digest()}


@dataclasses.dataclass(frozen=True)
class Ledger:
    """A run's records (``by_seed`` filled in a run of several master ``seeds``, the first of
    which is ``seed`` and gave every other field), the ``family`` of statistically judged
    records and its control, one `Conclusion` per claim, the ``environment`` (`environment`),
    and per record the name of the producer that made it (``origins``, empty if not known)."""

    suite: str
    seed: int
    records: tuple[Record, ...]
    created: str
    seconds: dict[str, float]
    seeds: tuple[int, ...] = ()
    family: Family | None = None
    conclusions: tuple[Conclusion, ...] = ()
    environment: dict[str, Any] = dataclasses.field(default_factory=dict)
    origins: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "records", tuple(self.records))
        object.__setattr__(self, "seeds", tuple(self.seeds) or (self.seed,))
        object.__setattr__(self, "conclusions", tuple(self.conclusions))
        object.__setattr__(self, "origins", tuple(self.origins))
        if self.origins and len(self.origins) != len(self.records):
            raise ValueError(f"origins: {len(self.origins)} names for {len(self.records)} records")

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "toolkit_version": toolkit_version(),
            "suite": self.suite,
            "seed": self.seed,
            "seeds": list(self.seeds),
            "created": self.created,
            "environment": dict(self.environment) or environment(),
            "family": self.family.to_json() if self.family is not None else None,
            "conclusions": [c.to_json() for c in self.conclusions],
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
    size (a name or a `Suite`): the ledger (records in the producers' order, their family
    controlled by `bounds.judging.family.control`, one conclusion per claim by
    `bounds.judging.conclusions.conclude`, the `environment`) and each producer's measurement
    (by name), from which the figures are drawn.

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
    records, family = control([r for n in names for r in results[n][0]])
    origins = tuple(n for n in names for _ in results[n][0])
    measurements = {n: results[n][1] for n in names}
    seconds = {n: results[n][2] for n in names}
    created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return Ledger(sizes.name, seed, tuple(records), created, seconds, family=family, conclusions=conclude(records),
                  environment=environment(), origins=origins), measurements


def replicate(ledgers: Sequence[Ledger]) -> Ledger:
    """One ledger of several master seeds: the first ledger's records, each with its verdict in
    every ledger (``by_seed``, matched by claim, level, source and reading, the n-th such record
    with the n-th), its family, and conclusions that say in how many seeds they replicate. A
    record that some seed did not produce keeps ``by_seed = None`` and says so in its note.

    >>> r = Record(claim="thm4.6", source="T", level="simulation", verdict="fails", p_value=1e-3)
    >>> one = Ledger("smoke", 0, (r,), "2026-01-01T00:00:00+00:00", {})
    >>> two = dataclasses.replace(one, seed=1, records=(dataclasses.replace(r, verdict="inconclusive"),))
    >>> both = replicate([one, two])
    >>> both.seeds, both.records[0].by_seed, both.conclusions[0].replicated
    ((0, 1), ('fails', 'inconclusive'), (1, 2))
    """
    if not ledgers:
        raise ValueError("ledgers=[] must hold at least one ledger")
    first = ledgers[0]

    def keyed(records):
        seen: dict[tuple, int] = {}
        out = {}
        for r in records:
            base = (r.claim, r.level, r.source, tuple(sorted(r.reading.items())))
            out[(*base, seen.get(base, 0))] = r
            seen[base] = seen.get(base, 0) + 1
        return list(out), out

    keys, _ = keyed(first.records)
    others = [keyed(ledger.records)[1] for ledger in ledgers]
    merged = []
    for key, record in zip(keys, first.records):
        verdicts = [other.get(key) for other in others]
        if all(v is not None for v in verdicts):
            merged.append(dataclasses.replace(record, by_seed=tuple(v.verdict for v in verdicts)))
        else:
            missing = [ledger.seed for ledger, v in zip(ledgers, verdicts) if v is None]
            merged.append(dataclasses.replace(record, note=f"{record.note} Not produced at seed(s) {missing}: "
                                                           "no verdict per seed.".strip()))
    seconds = {name: sum(ledger.seconds.get(name, 0.0) for ledger in ledgers) for name in first.seconds}
    return dataclasses.replace(first, records=tuple(merged), seconds=seconds, seeds=tuple(l.seed for l in ledgers),
                               conclusions=conclude(merged))


def master_seeds(seed: int, count: int) -> list[int]:
    """The ``count`` master seeds ``seed, seed + 1, ...`` of a replicated run; ValueError naming
    the value for a count that is not an integer >= 1 or a last seed beyond ``2**32 - 1``.

    >>> master_seeds(3, 2)
    [3, 4]
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"seeds={count!r} must be an integer >= 1 (the number of master seeds)")
    root_key(seed)
    if seed + count > 2**32:
        raise ValueError(f"seeds={count!r}: the last master seed {seed + count - 1} must be < 2**32")
    return list(range(seed, seed + count))


def run_seeds(suite: "str | Suite" = "default", *, seeds: Sequence[int], progress: Progress | None = None,
              figures: str | os.PathLike | None = None, workers: "Workers | None" = None,
              **options) -> tuple[Ledger, dict[str, Any]]:
    """`run_suite` at each master seed of ``seeds`` (distinct), merged by `replicate`: the
    ledger of the first seed with every record's verdict per seed, and the first seed's
    measurements (``figures`` are drawn from them only). ``options`` are `run_suite`'s
    (``only``, ``producers``, ``checkpoints``: each seed's producers are checkpointed under
    their own seed, so an interrupted replication resumes seed by seed, ``jobs``, ...). With
    ``jobs = 1`` every seed runs in this process and reuses the programs the first compiled
    (the sizes, hence the programs, are the same; only the keys differ); with ``jobs > 1``
    each seed starts its workers anew and reads the programs from the persistent compilation
    cache where the caller enabled it (the CLI does)."""
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds=[] must hold at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds={seeds!r} must be distinct")
    for s in seeds:
        root_key(s)  # every seed validated before any computation
    say = progress or (lambda message: None)
    ledgers, first = [], None
    for i, s in enumerate(seeds):
        if len(seeds) > 1:
            say(f"master seed {s} ({i + 1} of {len(seeds)})")
        ledger, measurements = run_suite(suite, seed=s, progress=progress, figures=figures if i == 0 else None,
                                         workers=workers if i == 0 else None, **options)
        ledgers.append(ledger)
        first = measurements if i == 0 else first
    return (replicate(ledgers) if len(ledgers) > 1 else ledgers[0]), first


def write_ledger(ledger: Ledger, out_dir: str | os.PathLike) -> pathlib.Path:
    """Write ``out_dir/ledger.json`` and return its path."""
    path = pathlib.Path(out_dir) / "ledger.json"
    write_atomic(path, json.dumps(ledger.to_json(), indent=1, allow_nan=False) + "\n")
    return path


#: The run marker in an output folder: ``state`` is ``"running"`` from the start of a run until
#: its ledger, report and figures are all written, then ``"complete"`` with their digests, so a
#: folder left by an interrupted run, or with files from different runs, is never taken for a
#: complete one (`read_run`).
RUN_MARKER = rundir.MARKER
CHECKPOINTS = ".checkpoints"


def _in_owned_folder(run: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``verify`` in a folder the toolkit owns (`bounds.running.rundir`: new, empty or marked
    by an earlier run; refused before any computation otherwise), holding its lock; a run that
    ends by an exception (an interrupt, a fault) leaves its marker ``interrupted`` or ``failed``."""
    @functools.wraps(run)
    def wrapped(out_dir, *args, **kwargs):
        out = rundir.check_owned(pathlib.Path(out_dir), "out")
        with rundir.lock(out, "out"):
            try:
                return run(out, *args, **kwargs)
            except BaseException as err:
                rundir.mark_ended(out, err)
                raise
    return wrapped


def read_run(out_dir: str | os.PathLike) -> dict[str, Any]:
    """The marker of the complete run in ``out_dir``; ValueError if the folder holds no run, an
    interrupted one, or files that are not the ones the run wrote (stale or mixed output)."""
    out = pathlib.Path(out_dir)
    if not (out / RUN_MARKER).is_file():
        raise ValueError(f"out={str(out)!r} holds no run marker {RUN_MARKER}: not the output of a verify run")
    marker = rundir.read_marker(out)
    if marker is None:
        raise ValueError(f"out={str(out)!r}: {RUN_MARKER} is not a {rundir.TOOL} run marker (unreadable, "
                         "truncated or another program's file)")
    if marker.get("state") != "complete":
        raise ValueError(f"out={str(out)!r}: the run started {marker.get('started')} did not finish "
                         f"(state {marker.get('state')!r}); rerun verify to resume it")
    files = marker.get("files")
    if not isinstance(files, dict) or "ledger.json" not in files:
        raise ValueError(f"out={str(out)!r}: {RUN_MARKER} lists no files of the run")
    for name, digest in files.items():
        path = out / name
        if not path.is_file() or rundir.digest(path) != digest:
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


@_in_owned_folder
def verify(out_dir: str | os.PathLike, suite: "str | Suite" = "default", *, seed: int = 0,
           only: Sequence[str] | None = None, producers: Sequence[Producer] | None = None, figures: bool = True, resume: bool = True,
           progress: Progress | None = None, jobs: int = 1,
           workers: "Workers | None" = None, seeds: int = 1) -> tuple[Ledger, list[pathlib.Path]]:
    """``dssl-bounds verify``: run the suite into ``out_dir`` as one unit — ``ledger.json``,
    ``report.md`` and ``figures/`` (drawn from this run's measurements) — under the run marker
    (`read_run`). ``out_dir`` must be new, empty or an earlier run's (ValueError before any
    computation otherwise), and one run at a time writes there (`bounds.running.rundir`).
    Finished producers are checkpointed in ``out_dir/.checkpoints``; a rerun after an interruption resumes from them (``resume=False`` recomputes) and writes the same output.
    ``producers``, ``jobs``, ``workers``: as `run_suite`. ``seeds``: how many master seeds,
    ``seed, seed + 1, ...`` (`run_seeds`; each seed's producers checkpointed under their seed).
    Returns the ledger and the figure paths."""
    from bounds.running.report import render_report

    out = pathlib.Path(out_dir)
    sizes = _as_suite(suite)
    root_key(seed)
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    meta = {"suite": sizes.name, "seed": seed, "only": list(only) if only else None,
            "toolkit_version": toolkit_version(), "source": source_digest(), "started": started}
    earlier = rundir.read_marker(out)  # the files an earlier run wrote here stay the toolkit's
    rundir.write_marker(out, state="running", files=(earlier or {}).get("files") or {}, **meta)
    checkpoints = out / CHECKPOINTS
    if not resume:
        shutil.rmtree(checkpoints, ignore_errors=True)
    staged = out / ".figures-new"  # this run's figures only: emptied now, drawn by the producers' processes
    shutil.rmtree(staged, ignore_errors=True)
    ledger, measurements = run_seeds(sizes, seeds=master_seeds(seed, seeds), only=only, producers=producers, progress=progress,
                                     checkpoints=checkpoints, jobs=jobs, workers=workers, figures=staged if figures else None)
    drawn: list[pathlib.Path] = []
    if figures:
        staged.mkdir(exist_ok=True)
        names = sorted(p.name for p in staged.iterdir())  # the same order whichever finished first
        _replace_folder(staged, out / "figures")
        drawn = [out / "figures" / n for n in names]
    write_ledger(ledger, out)
    write_atomic(out / "report.md", render_report(ledger, out, drawn))
    files = ["ledger.json", "report.md", *(str(p.relative_to(out)) for p in drawn)]
    rundir.write_marker(out, state="complete", finished=ledger.created, files={f: rundir.digest(out / f) for f in files},
                        **meta)
    shutil.rmtree(checkpoints, ignore_errors=True)
    return ledger, drawn
