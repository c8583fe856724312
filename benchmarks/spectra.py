"""Top-c eigenspaces at growing d: dense eigh vs the matrix-free solver vs scipy's eigsh (ARPACK).

The stationary row space of an alignment-type loss is the top-c eigenspace of the client matrix
(Section 3.3, Assumption A.5); Definition 4.1's representabilities are read from it. Two
operators per d, c = 4:

- ``spiked``: population type, ``X = diag(u) + U diag(s) U^T``, ``u ~ U(-1, 1)``, 8 spikes
  ``s = 3.0 .. 1.6`` along random orthonormal ``U`` — indefinite, a resolved gap.
- ``mim-sample``: the Eq. 4 alignment matrix of a sample, ``p(1-p)(G G^T/n - diag(G G^T/n))``,
  ``p = 0.75``, given by its factor ``G (d x n)``, ``n = min(d, 1024)``, rows of ``G`` with 6
  stronger coordinates — zero diagonal, indefinite, the gap of a sample-covariance edge.

Methods: ``dense`` = ``sim.top_eigenspace`` on the formed matrix (only for ``d <= --dense-max``),
``matfree`` = ``sim.linear.topc.top_eigenspace_matvec`` on the operator (jitted; compile time reported
apart), ``eigsh`` = ``scipy.sparse.linalg.eigsh(k=c+1, which="LA")`` on a NumPy
``LinearOperator``. Each row: seconds (warm) and the gap ``lam_c - lam_{c+1}`` the method found
(``matfree`` also its ``distance_bound`` and restarts). float64. Not a test.

``--exact-sampler``: instead, one representability evaluation per d on the Section 3.2 data
model with ``n = d^2`` samples: an exact draw of client 0's second-moment factors
(``sim.linear.bigd.draw_second_moment_factors``, the Wishart factor in ``--wishart-dtype``; no
``n x d`` data, no ``d x d`` matrix) and the top-``c`` eigenspace of the Eq. 4 alignment operator
``p(1-p)(S - diag S)`` and of ``S`` (CL-similar) by the matrix-free solver. ``c`` defaults to 2
there: the structured directions (``N = 2`` at every simulable d; beyond them lies the Wishart
bulk, whose gap is near zero: inconclusive by construction). Columns: draw seconds and top-c
seconds of each of ``--reps`` evaluations (the first compiles; the others draw with new keys),
the gap, ``distance_bound``, restarts (of the last evaluation).

    python benchmarks/spectra.py [--max-d 32768] [--dense-max 4096] [--c 4]
    python benchmarks/spectra.py --exact-sampler [--min-d 256] [--max-d 32768 | --sizes D ...] [--reps 2]
                                 [--c 2] [--wishart-dtype float32]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # OpenBLAS threads oversubscribe small CPUs

import argparse  # noqa: E402
import time  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import scipy.sparse.linalg as spla  # noqa: E402

from sim import MASK_RATIO as P  # noqa: E402  (the paper's mask ratio, 0.75)


def _spiked(d, key):
    k1, k2 = jax.random.split(key)
    u = jax.random.uniform(k1, (d,), jnp.float64, -1.0, 1.0)
    U = jnp.linalg.qr(jax.random.normal(k2, (d, 8), jnp.float64))[0]
    s = jnp.linspace(3.0, 1.6, 8)
    data = (u, U, s)
    matvec = lambda data, V: data[0][:, None] * V + data[1] @ (data[2][:, None] * (data[1].T @ V))  # noqa: E731
    dense = lambda data: jnp.diag(data[0]) + (data[1] * data[2][None, :]) @ data[1].T  # noqa: E731
    return data, matvec, dense


def _mim_sample(d, key):
    n = min(d, 1024)
    scale = jnp.where(jnp.arange(d) < 6, 3.0, 1.0)
    G = jax.random.normal(key, (d, n), jnp.float64) * scale[:, None]
    diag = jnp.sum(G * G, axis=1) / n
    q = P * (1 - P)
    data = (G, diag)
    matvec = lambda data, V: q * (data[0] @ (data[0].T @ V) / n - data[1][:, None] * V)  # noqa: E731
    dense = lambda data: q * (data[0] @ data[0].T / n - jnp.diag(data[1]))  # noqa: E731
    return data, matvec, dense


def _exact_sampler_rows(sizes: list[int], c: int, wishart_dtype: str, reps: int) -> list[dict]:
    import dataclasses

    from sim import BIGD_OPERATORS as OPERATORS
    from sim import DataConfig, draw_second_moment_factors, top_eigenspace_factors

    print(f"backend={jax.default_backend()} jax={jax.__version__} exact sampler, n = d^2, client 0, c={c}, "
          f"Wishart factor {wishart_dtype}, rest float64; seconds of each evaluation (the first compiles)")
    print(f"{'operator':14s} {'d':>6s} {'draw s':>16s} {'top-c s':>16s} {'gap':>10s} {'bound':>9s} {'restarts':>8s}")
    rows = []
    for d in sizes:
        cfg = dataclasses.replace(DataConfig(d=d), n=d**2)
        times = {}
        for rep in range(reps):  # the first compiles; later ones draw with fresh keys
            f, draw_s = _timed(lambda k: draw_second_moment_factors(cfg, 0, key=k, wishart_dtype=wishart_dtype),
                               jax.random.key(2 * rep))
            times.setdefault("draw", []).append(draw_s)
            for name in OPERATORS:
                (res, _), top_s = _timed(lambda f: top_eigenspace_factors(f, name, c, key=jax.random.key(1), p=P), f)
                times.setdefault(name, []).append(top_s)
                if rep == reps - 1:
                    row = dict(operator=name, d=d, draw_s=times["draw"], top_s=times[name], gap=float(res.gap),
                               bound=float(res.distance_bound), restarts=int(res.iterations))
                    rows.append(row)
                    secs = lambda ts: "/".join(f"{t:.1f}" for t in ts)  # noqa: E731
                    print(f"{name:14s} {d:6d} {secs(times['draw']):>16s} {secs(times[name]):>16s} {row['gap']:10.3e} "
                          f"{row['bound']:9.1e} {row['restarts']:8d}", flush=True)
            del f
    return rows


def _timed(fn, *args):
    t = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - t


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-d", type=int, default=2**15)
    ap.add_argument("--min-d", type=int, default=2**8)
    ap.add_argument("--dense-max", type=int, default=4096)
    ap.add_argument("--eigsh-max", type=int, default=2**15)
    ap.add_argument("--c", type=int, default=None, help="eigenspace width (default 4; 2 with --exact-sampler)")
    ap.add_argument("--exact-sampler", action="store_true", help="representabilities of exact draws of S (sim.linear.bigd)")
    ap.add_argument("--wishart-dtype", default="float32", choices=("float32", "float64"))
    ap.add_argument("--sizes", type=int, nargs="+", help="--exact-sampler: these d instead of min-d, 2 min-d, ... max-d")
    ap.add_argument("--reps", type=int, default=2, help="--exact-sampler: evaluations per d (the first compiles)")
    args = ap.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    if args.exact_sampler:
        sizes = args.sizes or [args.min_d * 2**k for k in range(64) if args.min_d * 2**k <= args.max_d]
        if any(d < 8 for d in sizes) or args.reps < 1:
            ap.error(f"--sizes {sizes}, --reps {args.reps}: every d must be >= 8 and reps >= 1")
        return _exact_sampler_rows(sizes, 2 if args.c is None else args.c, args.wishart_dtype, args.reps)

    import sim
    from sim.linear.topc import top_eigenspace_matvec

    c = 4 if args.c is None else args.c
    rows = []
    print(f"backend={jax.default_backend()} jax={jax.__version__} float64 c={c}")
    print(f"{'operator':11s} {'d':>6s} {'method':8s} {'seconds':>8s} {'compile s':>9s} {'gap':>10s} {'bound':>9s} {'restarts':>8s}")
    d = args.min_d
    while d <= args.max_d:
        for name, build in (("spiked", _spiked), ("mim-sample", _mim_sample)):
            data, matvec, dense = build(d, jax.random.key(d))

            def report(method, seconds, gap, compile_s=float("nan"), bound=float("nan"), restarts=""):
                rows.append(dict(operator=name, d=d, method=method, seconds=seconds, gap=gap, compile_s=compile_s))
                print(f"{name:11s} {d:6d} {method:8s} {seconds:8.3f} {compile_s:9.2f} {gap:10.3e} {bound:9.1e} {restarts!s:>8s}",
                      flush=True)

            if d <= args.dense_max:
                X = jax.block_until_ready(jax.jit(dense)(data))
                t = time.perf_counter()
                solve = jax.jit(lambda X: sim.top_eigenspace(X, c)).lower(X).compile()
                compile_s = time.perf_counter() - t
                (_, lam), seconds = _timed(solve, X)
                report("dense", seconds, float(lam[c - 1] - lam[c]), compile_s)
                del X

            fn = jax.jit(lambda data, key: top_eigenspace_matvec(lambda V: matvec(data, V), d, c, key=key))
            t = time.perf_counter()
            solve = fn.lower(data, jax.random.key(0)).compile()
            compile_s = time.perf_counter() - t
            res, seconds = _timed(solve, data, jax.random.key(1))
            report("matfree", seconds, float(res.gap), compile_s, float(res.distance_bound), int(res.iterations))

            if d <= args.eigsh_max:
                np_data = tuple(np.asarray(a) for a in data)
                op = spla.LinearOperator((d, d), matvec=lambda v: np.asarray(matvec(np_data, v.reshape(d, 1))).ravel(),
                                         dtype=np.float64)
                t = time.perf_counter()
                vals = np.sort(spla.eigsh(op, k=c + 1, which="LA", return_eigenvectors=False))[::-1]
                report("eigsh", time.perf_counter() - t, float(vals[c - 1] - vals[c]))
        d *= 2
    return rows


if __name__ == "__main__":
    main()
