"""The producer and figure registries: Python entry points, read when asked, never cached.

An installed package adds a producer or a figure by declaring an entry point (the toolkit's own
are declared the same way, in its ``pyproject.toml``)::

    [project.entry-points."dssl_bounds.producers"]
    my_claims = "my_package.producer"          # a module, or "module:object"

    [project.entry-points."dssl_bounds.figures"]
    my_figure = "my_package.figure"

A **producer** is any object of the `Producer` shape (a module with these names will do). Its
sizes: a producer of the toolkit reads its own field of `bounds.Suite`; an extension's producer
reads ``suite.extra[name]`` (the mapping `bounds.Suite.extra` carries sizes for producers that
the suite's fields do not name) and falls back to its own defaults when the suite has none.

A **figure** is any object of the `Figure` shape: ``PRODUCER`` names the producer whose
measurement it draws, ``make(measurement, records, out_dir)`` draws it from that measurement and
that producer's records (verdicts, bounds and intervals are read from the records, never judged
again) and returns the files written.

The ledger lists the toolkit's producers in `BUILTIN_ORDER`, then any others by name.
"""

from __future__ import annotations

import pathlib
import types
from importlib import metadata
from typing import TYPE_CHECKING, Any, Protocol, Sequence, runtime_checkable

if TYPE_CHECKING:  # only named in annotations: ``--help`` reads the registry without loading sympy
    from bounds.judging.records import Record

PRODUCER_GROUP = "dssl_bounds.producers"
FIGURE_GROUP = "dssl_bounds.figures"
#: The toolkit's producers in ledger order (registered in pyproject.toml like any other).
BUILTIN_ORDER: tuple[str, ...] = ("formula", "linear", "distributed", "downstream", "mar", "heterogeneity_map")


@runtime_checkable
class Producer(Protocol):
    """What `bounds.run_suite` runs: ``name`` (the key of its records' stream and of its
    figures), ``measure(suite, *, key)`` (a study: arrays, no verdicts) and ``judge(measurement,
    suite) -> list[Record]``. ``records = judge(measure(suite, key=key), suite)``."""

    name: str

    def measure(self, suite: Any, *, key: Any) -> Any: ...

    def judge(self, measurement: Any, suite: Any) -> list[Record]: ...


@runtime_checkable
class Figure(Protocol):
    """A figure or table analogue: ``PRODUCER`` and ``make(measurement, records, out_dir)``."""

    PRODUCER: str

    def make(self, measurement: Any, records: Sequence[Record], out_dir: pathlib.Path) -> list[pathlib.Path]: ...


class Named:
    """A producer module under its registered name (a module has no ``name`` attribute of its own)."""

    def __init__(self, name: str, target: Any) -> None:
        self.name, self.target = name, target

    def measure(self, suite: Any, *, key: Any) -> Any:
        return self.target.measure(suite, key=key)

    def judge(self, measurement: Any, suite: Any) -> list[Record]:
        return self.target.judge(measurement, suite)

    def __reduce__(self):  # to a worker process: by name, loaded there from the registry
        return (load_producer, (self.name,))

    def __repr__(self) -> str:
        return f"Named({self.name!r}, {getattr(self.target, '__name__', self.target)!r})"


def entry_points(group: str) -> dict[str, metadata.EntryPoint]:
    """The entry points of ``group`` by name (the installed distributions' metadata, read now)."""
    return {ep.name: ep for ep in metadata.entry_points(group=group)}


def load_entry(group: str, name: str, what: str) -> Any:
    """The object entry point ``name`` of ``group`` names; ValueError naming ``what`` (the
    field) and the registered names otherwise."""
    points = entry_points(group)
    if name not in points:
        raise ValueError(f"{what}={name!r} must be one of {ordered(points)} (entry points {group!r})")
    return points[name].load()


def ordered(names) -> list[str]:
    """``names`` in ledger order: the toolkit's in `BUILTIN_ORDER`, then the others sorted.

    >>> ordered(["mar", "zeta", "formula", "alpha"])
    ['formula', 'mar', 'alpha', 'zeta']
    """
    names = set(names)
    return [n for n in BUILTIN_ORDER if n in names] + sorted(names - set(BUILTIN_ORDER))


def producer_names() -> list[str]:
    """The registered producers' names, in ledger order."""
    return ordered(entry_points(PRODUCER_GROUP))


def load_producer(name: str) -> Producer:
    """The registered producer ``name``; ValueError listing the registered names otherwise."""
    target = load_entry(PRODUCER_GROUP, name, "producer")
    # A module goes to a worker process by name (`Named`): modules cannot be pickled.
    if isinstance(target, types.ModuleType) or not isinstance(getattr(target, "name", None), str):
        return Named(name, target)
    return target


def producers(only: Sequence[str] | None = None) -> list[Producer]:
    """The registered producers (those named in ``only``), in ledger order."""
    names = producer_names()
    if only is not None:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise ValueError(f"only={unknown} must be among {names}")
        names = [n for n in names if n in only]
    return [load_producer(n) for n in names]


def figure_names() -> list[str]:
    """The registered figures' names, sorted."""
    return sorted(entry_points(FIGURE_GROUP))


def load_figure(name: str) -> Figure:
    """The registered figure ``name``; ValueError listing the registered names otherwise."""
    return load_entry(FIGURE_GROUP, name, "figure")


def figures(only: Sequence[str] | None = None) -> dict[str, Figure]:
    """The registered figures (those named in ``only``) by name, sorted."""
    names = figure_names()
    if only:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise ValueError(f"figure names {unknown} must be among {names}")
        names = [n for n in names if n in only]
    return {n: load_figure(n) for n in names}


def figure_producers(only: Sequence[str] | None = None) -> list[str]:
    """The producers whose measurements the named figures (all by default) need, in ledger order."""
    return ordered({f.PRODUCER for f in figures(only).values()})
