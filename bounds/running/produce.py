"""One producer's run: its key, its checkpoint, its records and measurement, and its figures.

Used by `bounds.running.ledger` (in this process) and `bounds.running.workers` (in a worker
process), so that both run a producer the same way. One root key per run; each producer's key
is derived from the root and the producer's *name*, so a producer's records do not depend on
which other producers ran.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import tempfile
import time
import zlib
from typing import Any, Callable

import jax

from bounds import toolkit_version
from bounds.judging.records import Record
from bounds.running.registry import Producer, figures
from bounds.running.suite import Suite

Progress = Callable[[str], None]


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
    """Where producer ``name``'s finished work of a run is saved (`bounds.running.checkpoint`).
    The name says what it is for; what it holds is checked against `checkpoint_key` when read."""
    return pathlib.Path(folder) / f"{suite.name}-seed{seed}-{name}.npz"


def checkpoint_key(suite: Suite, seed: int, name: str) -> dict[str, Any]:
    """The full key a checkpoint of producer ``name`` must carry to be resumed: the suite's
    sizes, the seed, the producer, the toolkit's version and its source."""
    return {"suite": repr(suite), "seed": seed, "producer": name, "toolkit_version": toolkit_version(),
            "source": source_digest()}


def _packages(producer: Producer) -> tuple[str, ...]:
    """The producer's own top-level package (an installed extension's dataclasses may be in its measurement)."""
    names = (type(producer).__module__, getattr(producer, "__name__", None) or "")
    return tuple(n.split(".")[0] for n in names if n and n.split(".")[0] != "builtins")


def load_checkpoint(path: pathlib.Path, key: dict[str, Any], producer: Producer | None = None,
                    say: Progress | None = None) -> tuple[list[Record], Any, float] | None:
    """A finished producer's (records, measurement, seconds) saved at ``path`` under ``key``, or
    None when there is none, or when it is unreadable, of another key or altered (then ``say``
    gets one line saying why, and the producer is recomputed). Only data is read: nothing in
    the file is executed (`bounds.running.checkpoint`)."""
    from bounds.running import checkpoint

    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as err:
        why = f"unreadable ({err.strerror})"
    else:
        packages = _packages(producer) if producer is not None else ()
        saved, why = checkpoint.decode(blob, key, packages=packages)
        if why is None:
            shape_ok = (isinstance(saved, tuple) and len(saved) == 3 and isinstance(saved[0], list)
                        and all(isinstance(r, Record) for r in saved[0]) and isinstance(saved[2], float))
            if shape_ok:
                return saved
            why = "it does not hold (records, measurement, seconds)"
    if say is not None:
        say(f"{key['producer']}: checkpoint {path} not used ({why}); recomputing")
    return None


def save_checkpoint(path: pathlib.Path, key: dict[str, Any], result: tuple[list[Record], Any, float],
                    producer: Producer, say: Progress) -> None:
    """Save a finished producer's result at ``path`` (atomically). A result that is not data, or
    a file that cannot be written (a full disk, a read-only folder), costs only the checkpoint:
    one line names the file and the run goes on."""
    from bounds.running import checkpoint

    name = key["producer"]
    try:
        blob = checkpoint.encode(result, key, packages=_packages(producer))
    except checkpoint.NotData as err:  # e.g. a closure in a measurement
        say(f"{name}: not checkpointed (its measurement holds {err}); an interrupted run recomputes it")
        return
    try:
        write_atomic(path, blob)
    except OSError as err:
        say(f"{name}: checkpoint {path} not written ({err.strerror or err}); an interrupted run recomputes it")


def produce(producer: Producer, sizes: Suite, seed: int, path: pathlib.Path | None,
            say: Progress) -> tuple[list[Record], Any, float]:
    """Run ``producer`` with its key of the run ``seed`` (or resume it from the checkpoint
    ``path``): its records, measurement and seconds."""
    name = producer.name
    key = checkpoint_key(sizes, seed, name) if path is not None else None
    saved = load_checkpoint(path, key, producer, say) if path is not None else None
    if saved is not None:
        say(f"{name}: {len(saved[0])} records resumed from {path}")
        return saved
    start = time.perf_counter()
    say(f"{name}: running")
    measurement = producer.measure(sizes, key=producer_key(seed, name))
    produced = producer.judge(measurement, sizes)
    seconds = time.perf_counter() - start
    say(f"{name}: {len(produced)} records in {seconds:.1f}s")
    if path is not None:
        save_checkpoint(path, key, (list(produced), measurement, seconds), producer, say)
    return produced, measurement, seconds


def draw_figures(name: str, measurement: Any, records: list[Record], folder: pathlib.Path,
                 say: Progress | None = None, *, only=None) -> list[pathlib.Path]:
    """The registered figures (those named in ``only``) of producer ``name``, drawn from its
    ``measurement`` and ``records`` into ``folder``: the files written. The matplotlib backend
    is the caller's (the CLI and the workers use Agg)."""
    say = say or (lambda message: None)
    written: list[pathlib.Path] = []
    for figure_name, figure in figures(only).items():
        if figure.PRODUCER == name:
            say(f"figure {figure_name}")
            written.extend(figure.make(measurement, records, pathlib.Path(folder)))
    return written
