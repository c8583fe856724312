"""Representabilities at large ``d`` (to ``2^15``) from an exact draw of ``S`` that is never formed.

A client's sample second moment of the Section 3.2 data model is, exactly in law
(derivation in `sim.linear.suffstats`),

    n_total S = P G P^T + mu (P R^T Z1 + Z1^T R P^T) + mu^2 (Z1^T Z1 + T^T T),

with ``G = R^T R`` the structured Gram matrix on the ``m = N + 1`` structured coordinates
(``P`` puts them at ``coords``), ``Z1`` (``r0 x d``) iid ``N(0, 1)`` and ``T`` the Bartlett factor
of ``Wishart(n_total - r0, I_d)``: upper trapezoidal, ``T_aa = sqrt(chi2(n_total - r0 - a))``,
``T_ab ~ N(0, 1)`` above the diagonal. `sim.linear.suffstats.sample_second_moments` forms the ``d x d``
matrix (8.6 GB in float64 at ``d = 2^15``); here the factors are kept and ``S V`` is applied to a
block ``V (d, b)`` piece by piece, so one evaluation costs ``O(d^2 b)`` time per product and the
memory of ``T`` alone.

``T`` is stored as square ``block x block`` tiles, only those on or above the block diagonal
(tile ``(i, j)``, ``j >= i``, holds rows ``i block ..`` and columns ``j block ..``, zero past row
``rows`` and column ``d``), stacked in one array, in both layouts (`SecondMomentFactors`):
``d^2`` entries in all plus the diagonal tiles' lower halves, 4.6 GB in float32 at
``d = 2^15``. Every tile has one shape, so one compiled program draws them all, one transposes
them all, and a product with ``T`` or ``T^T`` is one batched matrix product, at any ``d`` (row
blocks of ``d - s`` columns needed a program per block width: 32 at ``d = 2^15``). Its precision is
``wishart_dtype`` (float32 by default, to fit a 24 GB machine with room for the solver); the
rest is float64. A float32 ``T`` perturbs ``S`` by about ``1e-7 mu^2 ||T||^2 / n_total`` in norm, far
below the eigen-gaps that decide a representability verdict; the solver's tolerance is set
to that level (`top_eigenspace_factors`), and its Davis–Kahan ``distance_bound`` states the
subspace error that remains.

Operators (Section 3.3): ``"mim-alignment"``, the Eq. 4 alignment matrix ``p(1-p)(S - diag S)``
(``diag S`` from the factors), and ``"cl-similar"``, ``S`` itself. Their top-``c`` eigenspace is
``row(W)`` at a stationary point; Definition 4.1's ``r_k`` are the squared row norms of its basis.

Public surface: `SecondMomentFactors`, `draw_second_moment_factors`, `second_moment_matvec`,
`second_moment_diagonal`, `dense_second_moment`, `top_eigenspace_factors`, `OPERATORS`.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from sim.data import draws
from sim.data.config import DataConfig
from sim.linear.metrics import representability
from sim.linear.suffstats import structured_gram
from sim.linear.topc import TopEigenspace, top_eigenspace_matvec

OPERATORS: tuple[str, ...] = ("mim-alignment", "cl-similar")


@functools.partial(jax.tree_util.register_dataclass,
                   data_fields=("coords", "gram", "root", "z1", "tiles", "tiles_t"),
                   meta_fields=("n_total", "mu", "tile_rows", "tile_cols"))
@dataclasses.dataclass(frozen=True)
class SecondMomentFactors:
    """The factors of one client's ``S`` (module docstring); a pytree, jit- and vmap-able.

    ``coords`` (m,) int32, ``gram`` ``G`` (m, m), ``root`` ``R`` (r0, m), ``z1`` ``Z1`` (r0, d),
    ``tiles`` (t, block, block): tile ``k`` of ``T`` is rows ``tile_rows[k] * block ..`` and columns
    ``tile_cols[k] * block ..`` (``tile_cols[k] >= tile_rows[k]``; static tuples); ``tiles_t`` the
    same tiles transposed. ``n_total`` and ``mu`` are the data model's (static).
    """

    coords: jax.Array
    gram: jax.Array
    root: jax.Array
    z1: jax.Array
    tiles: jax.Array
    tiles_t: jax.Array
    n_total: int
    mu: float
    tile_rows: tuple
    tile_cols: tuple

    @property
    def d(self) -> int:
        return self.z1.shape[1]

    @property
    def block(self) -> int:
        return self.tiles.shape[1]


def _check_client(cfg, client) -> int:
    if not isinstance(cfg, DataConfig):
        raise ValueError(f"cfg = {cfg!r}: need a sim.DataConfig")
    if isinstance(client, bool) or not isinstance(client, (int, np.integer)) or not 0 <= client < cfg.N:
        raise ValueError(f"client = {client!r} is out of range: need an integer in [0, N = {cfg.N})")
    return int(client)


def draw_second_moment_factors(cfg: DataConfig, client: int, *, key: jax.Array, block: int = 2048,
                               wishart_dtype=jnp.float32) -> SecondMomentFactors:
    """One exact draw of client ``client``'s factors (same law as its ``S`` in
    `sim.linear.suffstats.sample_second_moments`, another random stream). ``T`` in ``block x block``
    tiles (at most ``d``: a larger block is cut to ``d``); ``wishart_dtype`` its precision (module
    docstring). Cost ``O(d^2)`` time, about ``d^2`` entries of ``wishart_dtype`` memory (``T`` in
    two layouts), independent of ``n``.

    >>> f = draw_second_moment_factors(DataConfig(d=16), 0, key=jax.random.key(0), block=8)
    >>> f.d, f.tiles.shape, list(zip(f.tile_rows, f.tile_cols))
    (16, (3, 8, 8), [(0, 0), (0, 1), (1, 1)])
    """
    client = _check_client(cfg, client)
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or block < 1:
        raise ValueError(f"block = {block!r} is out of range: need an integer >= 1")
    wishart_dtype = jnp.dtype(wishart_dtype)
    if not jnp.issubdtype(wishart_dtype, jnp.floating):
        raise ValueError(f"wishart_dtype = {wishart_dtype}: need a floating dtype")
    d, m = cfg.d, cfg.N + 1
    rows = min(cfg.n_total - min(m, cfg.n_total), d)  # rows of T: min(dof, d)
    block = min(int(block), d)
    tiles_rc = [(i, j) for i in range(-(-rows // block)) for j in range(i, -(-d // block))]
    tile_rows, tile_cols = (tuple(int(v) for v in ix) for ix in zip(*tiles_rc)) if tiles_rc else ((), ())
    key_factors, key_tiles = jax.random.split(key)
    coords, gram, root, z1, chi = _draw(cfg, client, key_factors, rows=rows)
    if tiles_rc:
        tiles = _bartlett_tiles(key_tiles, chi, jnp.asarray(tile_rows, jnp.int32), jnp.asarray(tile_cols, jnp.int32),
                                block=block, d=d, dtype=wishart_dtype)
    else:  # no degrees of freedom left for T (n_total <= N + 1)
        tiles = jnp.zeros((0, block, block), wishart_dtype)
    # Both layouts are kept: XLA:CPU computes T^T y (y with b << d columns) by transposing T
    # first, or, written as (y^T T)^T behind an optimisation barrier, at half the memory rate of
    # T @ V (jax 0.9.2, 2 cores, 136 tiles of 2048^2: 182 against 87 ms; 10 s more per d = 2^15
    # Eq. 4 evaluation). One transpose program over the whole stack runs at ~2 ns per entry;
    # transposing inside the draw loop ran at ~30.
    return SecondMomentFactors(coords, gram, root, z1, tiles, _transposed(tiles), cfg.n_total, float(cfg.mu),
                               tile_rows, tile_cols)


@functools.partial(jax.jit, static_argnums=(0, 1), static_argnames=("rows",))
def _draw(cfg, client, key, *, rows):
    d, m, dtype = cfg.d, cfg.N + 1, jnp.result_type(float)
    r0 = min(m, cfg.n_total)
    key_gram, key_normal, key_chi = jax.random.split(key, 3)
    G = structured_gram(cfg, client, key_gram, dtype)
    values, vectors = jnp.linalg.eigh(G)
    # Top r0 rows of Lambda^{1/2} V^T (R^T R = G; eigenvalues below 0 are rounding of a Gram matrix).
    R = (jnp.sqrt(jnp.clip(values, 0.0, None))[:, None] * vectors.T)[m - r0:]
    coords = jnp.concatenate([jnp.arange(cfg.N, dtype=jnp.int32), jnp.asarray(cfg.rare_class, jnp.int32)[client][None]])
    z1 = draws.normal(key_normal, (r0, d), dtype)
    chi = jnp.sqrt(jax.random.chisquare(key_chi, cfg.n_total - r0 - jnp.arange(rows, dtype=dtype), dtype=dtype))
    return coords, G, R, z1, chi


@functools.partial(jax.jit, static_argnames=("block", "d", "dtype"))
def _bartlett_tiles(key, chi, tile_rows, tile_cols, *, block, d, dtype):
    """The tiles of ``T`` (module docstring), one tile per loop step, tile
    ``k`` from ``fold_in(key, k)``: ``chi`` (rows,) on the diagonal, normals above it, zeros below
    it, past row ``rows`` and past column ``d``."""
    rows = chi.shape[0]
    chi = jnp.pad(chi, (0, -(-rows // block) * block - rows))  # whole row blocks

    def tile(args):
        k, i, j = args
        # Global row and column of every entry: traced (i, j), so XLA cannot fold the
        # (block x block) index pattern into a constant at compile time.
        row = i * block + jnp.arange(block, dtype=jnp.int32)[:, None]
        col = j * block + jnp.arange(block, dtype=jnp.int32)[None, :]
        normals = draws.normal(jax.random.fold_in(key, k), (block, block), dtype)
        diag = jax.lax.dynamic_slice_in_dim(chi, i * block, block)[:, None].astype(dtype)
        return jnp.where((row < rows) & (col < d), jnp.where(col > row, normals, jnp.where(col == row, diag, 0)),
                         0).astype(dtype)

    # A loop, not a vmap: the tiles are written into the output one at a time, so peak memory
    # is T's own.
    index = jnp.arange(tile_rows.shape[0], dtype=jnp.int32)
    return jax.lax.map(tile, (index, tile_rows, tile_cols))


_transposed = jax.jit(lambda tiles: jnp.swapaxes(tiles, 1, 2))


def _wishart_apply(f: SecondMomentFactors, V):
    """``T^T T V`` as two batched products over the tiles, in ``T``'s precision, returned in ``V``'s."""
    d, b, B = f.d, V.shape[1], f.block
    if not f.tile_rows:
        return jnp.zeros_like(V)
    n_cols = -(-d // B)
    rows, cols = np.asarray(f.tile_rows), np.asarray(f.tile_cols)
    Vb = jnp.zeros((n_cols * B, b), f.tiles.dtype).at[:d].set(V.astype(f.tiles.dtype)).reshape(n_cols, B, b)
    TV = jax.ops.segment_sum(jnp.einsum("tij,tjk->tik", f.tiles, Vb[cols]), rows, num_segments=int(rows.max()) + 1,
                             indices_are_sorted=True)
    out = jax.ops.segment_sum(jnp.einsum("tij,tjk->tik", f.tiles_t, TV[rows]), cols, num_segments=n_cols)
    return out.reshape(n_cols * B, b)[:d].astype(V.dtype)


def second_moment_matvec(f: SecondMomentFactors, V) -> jax.Array:
    """``S V`` for a block ``V (d, b)`` without forming ``S`` (module docstring)."""
    G, R, Z1, c = f.gram, f.root, f.z1, f.coords
    Vc = V[c]  # P^T V
    out = jnp.zeros_like(V).at[c].add(G @ Vc + f.mu * (R.T @ (Z1 @ V)))  # P G P^T V + mu P R^T Z1 V
    out = out + f.mu * (Z1.T @ (R @ Vc)) + f.mu**2 * (Z1.T @ (Z1 @ V) + _wishart_apply(f, V))
    return out / f.n_total


def second_moment_diagonal(f: SecondMomentFactors) -> jax.Array:
    """``diag S`` (d,) from the factors (``coords`` may repeat a coordinate: its blocks of ``G``
    and of the cross term add up)."""
    d, c = f.d, f.coords
    same = c[:, None] == c[None, :]
    structured = jnp.zeros((d,), f.gram.dtype).at[c].add(jnp.sum(jnp.where(same, f.gram, 0.0), axis=1))
    cross = f.root.T @ f.z1  # (m, d): F^T Xi
    structured = structured.at[c].add(2 * f.mu * cross[jnp.arange(c.shape[0]), c])
    wishart = jnp.zeros((d,), f.gram.dtype)
    if f.tile_rows:  # column sums of T * T, tile by tile
        n_cols = -(-d // f.block)
        sums = jax.ops.segment_sum(jnp.sum(f.tiles * f.tiles, axis=1), np.asarray(f.tile_cols), num_segments=n_cols)
        wishart = sums.reshape(-1)[:d].astype(wishart.dtype)
    return (structured + f.mu**2 * (jnp.sum(f.z1 * f.z1, axis=0) + wishart)) / f.n_total


def dense_second_moment(f: SecondMomentFactors) -> jax.Array:
    """``S`` (d, d) formed from the factors (small ``d`` only: the check of the matrix-free path)."""
    return second_moment_matvec(f, jnp.eye(f.d, dtype=f.gram.dtype))


def _operator(f: SecondMomentFactors, objective: str, p):
    if objective == "cl-similar":
        return lambda V: second_moment_matvec(f, V)
    diag = second_moment_diagonal(f)
    return lambda V: p * (1 - p) * (second_moment_matvec(f, V) - diag[:, None] * V)


@functools.partial(jax.jit, static_argnames=("objective", "p", "c", "tol", "oversample", "blocks", "iters"))
def _top(f, key, *, objective, p, c, tol, oversample, blocks, iters):
    res = top_eigenspace_matvec(_operator(f, objective, p), f.d, c, key=key, tol=tol, dtype=f.gram.dtype,
                                oversample=oversample, blocks=blocks, iters=iters)
    return res, representability(res.vectors)


def top_eigenspace_factors(f: SecondMomentFactors, objective: str, c: int, *, key: jax.Array, p: float | None = None,
                           tol: float | None = None, oversample: int = 6, blocks: int = 20,
                           iters: int = 200) -> tuple[TopEigenspace, jax.Array]:
    """Top-``c`` eigenspace of ``objective``'s operator (`OPERATORS`) of ``S`` and its
    representabilities ``r (d,)`` (Definition 4.1), by `sim.linear.topc.top_eigenspace_matvec`.

    A product with ``S`` streams both layouts of ``T`` from memory (``T V``, then ``T^T`` of it) whatever
    the block width, so the defaults keep the block narrow and the Krylov space deep: at ``d = 2^15``, Eq. 4's
    operator (relative gap 1e-4) took 4 restarts of 20 blocks (29 s) against 11 of 10 with
    ``oversample = 4`` (41 s) and 7 of 10 with 14 (31–33 s); CL-similar (gap 1) one restart either
    way (8 s against 5 s).

    ``p`` is the mask ratio (``"mim-alignment"``, in (0, 1)). ``tol`` (relative residual) defaults
    to ``1e-5`` when ``T`` is below float64 (its rounding floor, module docstring), else the
    solver's default. Check the result's ``gap`` and ``distance_bound`` before reading ``r``: a
    near-zero gap is an inconclusive measurement.
    """
    if objective not in OPERATORS:
        raise ValueError(f"objective = {objective!r}: need one of {OPERATORS}")
    if objective == "mim-alignment":
        if p is None or not 0 < float(p) < 1:
            raise ValueError(f"p = {p!r} is out of range: 'mim-alignment' needs the mask ratio p in (0, 1)")
        p = float(p)
    else:
        p = None
    if tol is None and f.tiles.dtype != f.gram.dtype:
        tol = 1e-5
    return _top(f, key, objective=objective, p=p, c=int(c), tol=None if tol is None else float(tol),
                oversample=int(oversample), blocks=int(blocks), iters=int(iters))


__all__ = [
    "OPERATORS", "SecondMomentFactors", "dense_second_moment", "draw_second_moment_factors", "second_moment_diagonal",
    "second_moment_matvec", "top_eigenspace_factors",
]
