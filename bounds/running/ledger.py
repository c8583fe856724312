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
import hashlib
import importlib
import json
import os
import pathlib
import pickle
import shutil
import tempfile
import time
import zlib
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence

import jax

from bounds import toolkit_version
from bounds.producers import PRODUCER_NAMES, PRODUCERS, SCHEDULE, default_jobs  # noqa: F401 (re-exported)
from bounds.judging.records import Record
from bounds.running.suite import Suite, get_suite

if TYPE_CHECKING:
    from bounds.running.workers import Workers

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


def source_digest() -> str:
    """A digest of the toolkit's source (``theory``, ``sim``, ``bounds``): a checkpoint made by
    other code is never resumed, even at the same version number."""
    h = hashlib.sha256()
    root = pathlib.Path(__file__).resolve().parents[2]
    for package in ("theory", "sim", "bounds"):
        for path in sorted((root / package).rglob("*.py")):
            h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def checkpoint_path(folder: pathlib.Path, suite: Suite, seed: int, name: str) -> pathlib.Path:
    """Where producer ``name``'s finished work of a run is saved: keyed by the suite's sizes,
    the seed, the producer, the toolkit version and its source."""
    key = json.dumps([repr(suite), seed, name, toolkit_version(), source_digest()])
    return pathlib.Path(folder) / f"{suite.name}-seed{seed}-{name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.pkl"


def _load_checkpoint(path: pathlib.Path) -> tuple[list[Record], Any, float] | None:
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh)
    except FileNotFoundError:
        return None
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError):  # from other code: recompute
        return None


def _produce(name: str, sizes: Suite, seed: int, path: pathlib.Path | None,
             say: Progress) -> tuple[list[Record], Any, float]:
    """Run producer ``name`` (or resume it from ``path``): its records, measurement and seconds."""
    saved = _load_checkpoint(path) if path is not None else None
    if saved is not None:
        say(f"{name}: {len(saved[0])} records resumed from {path}")
        return saved
    start = time.perf_counter()
    say(f"{name}: running")
    module = producer(name)
    measurement = module.measure(sizes, key=producer_key(seed, name))
    produced = module.judge(measurement, sizes)
    seconds = time.perf_counter() - start
    say(f"{name}: {len(produced)} records in {seconds:.1f}s")
    if path is not None:
        try:
            saved_bytes = pickle.dumps((produced, measurement, seconds))
        except (pickle.PicklingError, TypeError, AttributeError) as err:  # e.g. a closure in a measurement
            say(f"{name}: not checkpointed ({err}); an interrupted run recomputes it")
        else:
            write_atomic(path, saved_bytes)
    return produced, measurement, seconds


def draw_figures(name: str, measurement: Any, folder: pathlib.Path, say: Progress | None = None) -> list[str]:
    """Producer ``name``'s figures drawn from ``measurement`` into ``folder``: the file names."""
    from figures import make_figures

    return [p.name for p in make_figures({name: measurement}, pathlib.Path(folder), progress=say)]


def _run_parallel(names: Sequence[str], sizes: Suite, seed: int, paths: dict, jobs: int,
                  say: Progress, on_result, started: "Workers | None" = None,
                  figures: pathlib.Path | None = None
                  ) -> dict[str, tuple[list[Record], Any, float]]:
    """Each producer in its own process (spawned: JAX does not survive a fork; the ``started``
    workers if given, else ``min(jobs, len(names))`` new ones), longest first
    (`bounds.producers.SCHEDULE`), each drawing its figures into ``figures`` (a folder, or None)
    as soon as it is done; their progress lines come back through a queue. The workers are shut
    down at the end."""
    import concurrent.futures as cf
    import queue as queue_module

    from bounds.running import workers

    order = sorted(names, key=lambda n: SCHEDULE.index(n) if n in SCHEDULE else len(SCHEDULE))
    pool = started if started is not None else workers.start(min(jobs, len(order)))
    results: dict[str, tuple[list[Record], Any, float]] = {}

    def drain() -> None:
        while True:
            try:
                say(pool.messages.get_nowait())
            except queue_module.Empty:
                return

    try:
        futures = {pool.pool.submit(workers.produce, n, sizes, seed, paths[n], figures): n for n in order}
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


def run_suite(suite: "str | Suite" = "default", *, seed: int = 0, only: Sequence[str] | None = None,
              progress: Progress | None = None, checkpoints: str | os.PathLike | None = None,
              jobs: int = 1, on_result: Callable[[str, Any], None] | None = None,
              workers: "Workers | None" = None, figures: str | os.PathLike | None = None
              ) -> tuple[Ledger, dict[str, Any]]:
    """Run every producer (or those named in ``only``) at ``suite`` size (a name or a `Suite`):
    the ledger and each producer's measurement (by name), from which the figures are drawn.

    With ``checkpoints`` (a folder), each finished producer is saved there atomically and a
    later call with the same suite, seed and toolkit resumes from it instead of recomputing;
    the records and measurements are the same either way. With ``jobs > 1`` up to ``jobs``
    producers run at once, each in its own process; every producer has its own key, so the
    ledger is the same as with ``jobs = 1`` (records in ledger order). ``on_result(name,
    measurement)`` is called in this process as each producer finishes. With ``figures`` (a
    folder), each producer's figures are drawn there (`draw_figures`) as soon as it finishes, by
    the process that ran it: with ``jobs > 1`` a worker, while the others still run, so that the
    run does not end on one process drawing on one core. ``workers`` (`bounds.running.workers.start`): processes
    already started for the parallel run, used and shut down here (the CLI starts them before
    importing the toolkit, so that their start-up overlaps its own).
    """
    sizes = _as_suite(suite)
    root_key(seed)  # validates the seed before any computation
    if only is not None:
        unknown = sorted(set(only) - set(PRODUCER_NAMES))
        if unknown:
            raise ValueError(f"only={unknown} must be among {PRODUCER_NAMES}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs={jobs!r} must be an integer >= 1")
    require_x64()
    say = progress or (lambda message: None)
    names = [n for n in PRODUCER_NAMES if only is None or n in only]
    paths = {n: checkpoint_path(pathlib.Path(checkpoints), sizes, seed, n) if checkpoints is not None else None
             for n in names}
    done = on_result or (lambda name, measurement: None)
    if jobs > 1 and len(names) > 1:
        results = _run_parallel(names, sizes, seed, paths, jobs, say, done, workers, figures)
    else:
        if workers is not None:
            workers.close()
        results = {}
        for n in names:
            results[n] = _produce(n, sizes, seed, paths[n], say)
            if figures is not None:
                draw_figures(n, results[n][1], pathlib.Path(figures), say)
            done(n, results[n][1])
    records = [r for n in names for r in results[n][0]]
    measurements = {n: results[n][1] for n in names}
    seconds = {n: results[n][2] for n in names}
    created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return Ledger(sizes.name, seed, tuple(records), created, seconds), measurements


def write_atomic(path: pathlib.Path, content: str | bytes) -> None:
    """Write ``content`` to ``path`` so that a reader never sees a half-written file (mode 0644
    under the usual umask, as an ordinary file would be; ``tempfile`` alone would give 0600)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content.encode("utf-8") if isinstance(content, str) else content)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


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
           only: Sequence[str] | None = None, figures: bool = True, resume: bool = True,
           progress: Progress | None = None, jobs: int = 1,
           workers: "Workers | None" = None) -> tuple[Ledger, list[pathlib.Path]]:
    """``dssl-bounds verify``: run the suite into ``out_dir`` as one unit — ``ledger.json``,
    ``report.md`` and ``figures/`` (drawn from this run's measurements) — under the run marker
    (`read_run`). Finished producers are checkpointed in ``out_dir/.checkpoints``; a rerun after
    an interruption resumes from them (``resume=False`` recomputes) and writes the same output.
    ``jobs``, ``workers``: producers run at once (`run_suite`). Returns the ledger and the figure paths."""
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
    ledger, measurements = run_suite(sizes, seed=seed, only=only, progress=progress, checkpoints=checkpoints,
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
