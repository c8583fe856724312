"""``jax.jit`` with XLA compiler options chosen per program, and a fallback where XLA lacks them.

XLA's CPU backend has two code generators for fused elementwise work: its newer "fusion
emitters" (the default in jaxlib 0.9.x) and the older loop emitters
(``xla_cpu_use_fusion_emitters = False``). Which compiles faster depends on the program, and on
a 2-core CPU compilation is about half of a default ``verify`` (benchmarks/README.md). Measured on
jax 0.9.2, one process, 2 cores, same results:

- the linear study's per-seed program (`sim.studies.linear`, ``d = 64``, every reading):
  compile 9.5 s -> 6.2 s with the loop emitters, run 0.143 -> 0.153 s per 8 seeds;
  at ``d = 256``: 7.0 s -> 5.3 s, run 0.99 -> 1.14 s (used once);
- the DecL closed-form and training programs (`sim.studies.connectivity`): the producer's
  compile time 27 s -> 21 s, its wall time 78 s -> 75 s;
- the FedMAR / DecMAR programs (`sim.studies.mar`): compile 18 s -> 14 s, wall 42 s -> 36 s;
- but the two-layer training program of `sim.studies.downstream` compiles in 25 s instead of
  14 s, so it keeps the default.

`jit` takes the options as data and applies them where the running XLA accepts them: the first
call probes, once per process and option set, whether a trivial program compiles with them (an
unknown option is an error at compile time, not at ``jax.jit``), and compiles without them if
not. The options change how XLA emits code, not what it computes; results can differ in the
last bits of floating-point rounding (fused operations in a different order), which
``dssl-bounds diff`` shows at the ``1e-9`` level it compares. Nothing global is set: other
programs, and other libraries in the process, compile as before.

Public surface: ``jit(fun, *, options=LOOP_EMITTERS, **jit_kwargs)`` (also as a decorator via
``functools.partial``), ``LOOP_EMITTERS``, ``accepted(options)``.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import numpy as np

#: XLA:CPU's loop emitters instead of its fusion emitters (see the module docstring).
LOOP_EMITTERS: tuple[tuple[str, Any], ...] = (("xla_cpu_use_fusion_emitters", False),)


def _check_options(options) -> tuple[tuple[str, Any], ...]:
    items = tuple(dict(options).items()) if options is not None else ()
    for name, _ in items:
        if not isinstance(name, str) or not name.startswith("xla_"):
            raise ValueError(f"options: {name!r} is not an XLA option name (a string starting with 'xla_')")
    return items


@functools.cache
def accepted(options: tuple[tuple[str, Any], ...]) -> bool:
    """Whether this process's XLA compiles a trivial program with ``options`` (pairs)."""
    try:
        jax.jit(lambda x: x + 1, compiler_options=dict(options)).lower(np.float32(0)).compile()
    except RuntimeError:  # jax.errors.JaxRuntimeError (XlaRuntimeError on older jaxlibs): unknown option
        return False
    return True


class _Jit:
    """A ``jax.jit`` built on first use, with ``options`` if XLA accepts them."""

    def __init__(self, fun: Callable, options, jit_kwargs: dict):
        if "compiler_options" in jit_kwargs:
            raise ValueError("compiler_options: pass them as options= (they are merged and probed)")
        self._fun, self._options, self._kwargs = fun, options, jit_kwargs
        self._jitted = None
        functools.update_wrapper(self, fun)

    def _get(self):
        if self._jitted is None:
            options = dict(self._options) if self._options and accepted(self._options) else None
            self._jitted = jax.jit(self._fun, compiler_options=options, **self._kwargs)
        return self._jitted

    def __call__(self, *args, **kwargs):
        return self._get()(*args, **kwargs)

    def lower(self, *args, **kwargs):
        return self._get().lower(*args, **kwargs)

    def clear_cache(self) -> None:
        if self._jitted is not None:
            self._jitted.clear_cache()

    def _cache_size(self) -> int:
        return 0 if self._jitted is None else self._jitted._cache_size()


def jit(fun: Callable, *, options=LOOP_EMITTERS, **jit_kwargs) -> Callable:
    """``jax.jit(fun, **jit_kwargs)`` compiled with the XLA ``options`` (a dict or pairs) where
    this XLA accepts them, without them otherwise (`accepted`)."""
    return _Jit(fun, _check_options(options), jit_kwargs)


__all__ = ["LOOP_EMITTERS", "accepted", "jit"]
