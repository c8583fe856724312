"""Exact draws of a client's second moment ``S`` without drawing its samples (Section 3.2, Readings 6).

Every linear objective of Section 3.3 sees a client only through ``S = (1/n_total) sum_j x_j x_j^T``.
The samples reading of reading 6 needs ``n = d, d^1.5, d^2`` (up to ~10^6 samples at
``d = 1024``), where drawing the ``n_total x d`` data matrix is wasteful. This module draws
``S`` from its exact distribution at a cost independent of ``n`` (apart from the rare large-``N``
case below).

Derivation (the data model of the paper's Section 3.2, Section 3.2, conventions of
`sim.data.model.sample_clients`). Client ``i`` holds ``n/2`` samples of class ``2i`` (sign ``s = +1``),
``n/2`` of class ``2i+1`` (``s = -1``) and ``n_rare`` rare samples, ``n_total = n + n_rare``.
Every sample is ``x_j = P f_j + mu xi_j`` with ``xi_j ~ N(0, I_d)`` independent of ``f_j``, where
``f_j`` lives on the ``m = N + 1`` structured coordinates (the ``N`` class coordinates, then the
rare one) and ``P = [e_0, ..., e_{N-1}, e_h]`` (``d x m``, ``h = rare_class[i]``; ``P`` may repeat a
column when ``h < N``, which the scatter-add below handles):

    main sample:  f[i] = s,  f[k] = -tau q_k (k < N, k != i),  f[N] = 0,   q_k ~ Bernoulli(1/2)
    rare sample:  f = e_N.

With ``F`` (``n_total x m``) the rows ``f_j`` and ``Xi`` (``n_total x d``) the noise,

    sum_j x_j x_j^T = P F^T F P^T + mu (P F^T Xi + Xi^T F P^T) + mu^2 Xi^T Xi.

1. ``G = F^T F`` depends on the ``q``'s only through ``n_main``, ``sum_j s_j q_j``,
   ``sum_j q_j q_j^T``. The ``q``-pattern of a sample (a uniform point of ``{0,1}^{N-1}``) has
   multinomial counts per class, drawn exactly by ``N - 1`` rounds of halving: a node holding
   ``c`` samples sends ``Binomial(c, 1/2)`` of them to its ``q_l = 1`` child. Cost
   ``O(2^{N-1} N^2)``, independent of ``n``. When ``2^{N-1}`` exceeds ``n/2`` or 4096 the ``q``'s
   are drawn directly in chunks instead (``O(n N^2)`` time, ``O(N^2)`` memory) — same
   distribution.
2. Let ``r0 = min(m, n_total)`` and ``R`` (``r0 x m``) any factor with ``R^T R = G`` (the top-``r0``
   rows of ``Lambda^{1/2} V^T`` from ``G = V Lambda V^T``; ``rank G <= r0``, so rank deficiency is
   harmless). There is an ``n_total x r0`` matrix ``Q`` with orthonormal columns and ``F = Q R``
   (all such factors differ by an ``r0 x r0`` rotation, which leaves the law of ``Q^T Xi``
   unchanged). Given ``F``, ``Z1 = Q^T Xi`` (``r0 x d``) is iid ``N(0, 1)``, and
   ``W2 = Xi^T (I - Q Q^T) Xi ~ Wishart(n_total - r0, I_d)`` is independent of ``Z1``. So

       sum_j x_j x_j^T = P G P^T + mu (P R^T Z1 + Z1^T R P^T) + mu^2 (Z1^T Z1 + W2).

3. ``W2`` by the Bartlett decomposition: ``W2 = T^T T`` with ``T`` upper trapezoidal
   (``min(k, d) x d``, ``k = n_total - r0``), ``T_aa = sqrt(chi2(k - a))`` (0-based ``a``),
   ``T_ab ~ N(0, 1)`` for ``b > a``, all independent; this is the ``R`` factor of the QR of a
   ``k x d`` Gaussian matrix, so it covers the singular case ``k < d`` too. Cost ``O(d^3)``.

Public surface:
    sample_second_moments(cfg, *, key)   one exact draw of every client's ``S``: ``(N, d, d)``
    sample_moments_at(cfg, n, *, key)    the same at ``n`` main samples (``n`` may be traced)
    sampled_augmentation(S, n, H, *, key) the CL client matrices of one augmentation pair per sample
    population_second_moments(cfg)       ``E[S]`` of every client: ``(N, d, d)``

The sample count comes from ``cfg`` (``n``, ``n_rare``); for the samples reading use
``dataclasses.replace(cfg, n=d**2)``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from sim.data import draws
from sim.data.config import DataConfig
from sim.data.model import expected_second_moment

# Above this many q-patterns the halving tree costs more than drawing the q's.
_MAX_PATTERNS = 4096
_CHUNK = 4096


def _pattern_bits(width: int, dtype) -> jax.Array:
    """Row ``p`` holds the bits of leaf ``p`` of the halving tree, first split most significant."""
    leaves = np.arange(2**width)[:, None]
    shifts = np.arange(width - 1, -1, -1)[None, :]
    return jnp.asarray((leaves >> shifts) & 1, dtype)


def _binomial_half(key, counts, max_count: int, dtype):
    """Exact ``Binomial(counts, 1/2)`` draws: the number of ones among ``counts`` fair random
    bits, counted 32 at a time by popcount (``counts <= max_count``, static, may be traced).
    ``jax.random.binomial``'s rejection sampler costs about 2 s of XLA compilation per call site
    on a 2-core CPU; this costs a few milliseconds and draws the same law."""
    words = max(1, -(-int(max_count) // 32))
    c = jnp.asarray(counts).astype(jnp.int32)[..., None]
    bits = draws.bits(key, (*jnp.shape(counts), words), jnp.uint32)
    index = jnp.arange(words, dtype=jnp.int32).reshape((1,) * jnp.ndim(counts) + (words,))
    partial = jnp.left_shift(jnp.uint32(1), (c % 32).astype(jnp.uint32)) - jnp.uint32(1)
    mask = jnp.where(index < c // 32, jnp.uint32(0xFFFFFFFF), jnp.where(index == c // 32, partial, jnp.uint32(0)))
    return jnp.sum(jax.lax.population_count(bits & mask).astype(jnp.int32), axis=-1).astype(dtype)


def _q_sums_tree(key, count: int, width: int, dtype, max_count: int | None = None):
    """``(sum_j q_j, sum_j q_j q_j^T)`` per class (leading axis 2) from the multinomial pattern counts.

    Leaf ``p`` of the halving tree is stored at index ``p`` of a fixed-size array; at level ``l``
    the occupied nodes sit at multiples of ``2^(width - l)`` and send their ``q = 1`` half
    ``2^(width - l - 1)`` places on, so one loop body (one binomial) serves every level.
    ``max_count`` (static) bounds a traced ``count``.
    """
    max_count = int(count) if max_count is None else max_count
    leaves = 2**width
    counts = jnp.zeros((2, leaves), dtype).at[:, 0].set(count)

    def level(l, counts):
        ones = _binomial_half(jax.random.fold_in(key, l), counts, max_count, dtype)
        return counts - ones + jnp.roll(ones, jnp.right_shift(leaves, l + 1), axis=1)

    counts = jax.lax.fori_loop(0, width, level, counts)
    bits = _pattern_bits(width, dtype)
    return counts @ bits, jnp.einsum("cp,pk,pl->ckl", counts, bits, bits)


def _q_sums_direct(key, count: int, width: int, dtype):
    """Same statistics from the ``q``'s, drawn in chunks (memory ``O(chunk N)``, time ``O(count N^2)``)."""
    chunk = min(count, _CHUNK)
    n_chunks = -(-count // chunk)

    def body(carry, inputs):
        chunk_key, start = inputs
        q = draws.bernoulli(chunk_key, 0.5, (2, chunk, width)).astype(dtype)
        real = (start + jnp.arange(chunk) < count).astype(dtype)
        q = q * real[None, :, None]
        return (carry[0] + jnp.sum(q, axis=1), carry[1] + jnp.einsum("cjk,cjl->ckl", q, q)), None

    init = (jnp.zeros((2, width), dtype), jnp.zeros((2, width, width), dtype))
    starts = jnp.arange(n_chunks) * chunk
    return jax.lax.scan(body, init, (jax.random.split(key, n_chunks), starts))[0]


def structured_gram(cfg: DataConfig, client, key, dtype, n=None, n_max: int | None = None) -> jax.Array:
    """``G = F^T F`` on the ``m = N + 1`` structured coordinates (class coordinates, then rare).

    ``n`` (main samples, even; may be traced, then at most the static ``n_max``) overrides
    ``cfg.n``; the halving tree serves any count, the direct draw only ``cfg.n`` (its loop
    length is static)."""
    N, width = cfg.N, cfg.N - 1
    n = cfg.n if n is None else n
    tree = 2**width <= min(cfg.n // 2, _MAX_PATTERNS)
    if not tree and not (isinstance(n, int) and n == cfg.n):
        raise ValueError(f"n: a sample count other than cfg.n = {cfg.n} needs 2^(N-1) <= min(n/2, {_MAX_PATTERNS})")
    half = n // 2
    # Axis 0: class 2i (s = +1), class 2i+1 (s = -1).
    if tree:
        sums, grams = _q_sums_tree(key, half, width, dtype, (int(n) if n_max is None else n_max) // 2)
    else:
        sums, grams = _q_sums_direct(key, half, width, dtype)
    # Class coordinates of the N - 1 other clients, in increasing order.
    others = jnp.arange(width, dtype=jnp.int32) + (jnp.arange(width, dtype=jnp.int32) >= client).astype(jnp.int32)
    G = jnp.zeros((N + 1, N + 1), dtype)
    G = G.at[client, client].set(n)
    cross = -cfg.tau * (sums[0] - sums[1])  # sum_j s_j (-tau q_jk)
    G = G.at[client, others].set(cross).at[others, client].set(cross)
    G = G.at[others[:, None], others[None, :]].set(cfg.tau**2 * (grams[0] + grams[1]))
    return G.at[N, N].set(cfg.n_rare)


_GAMMA_ROUNDS = 12


def _chi2(key, df, dtype) -> jax.Array:
    """``chi2(df)`` draws (``df >= 1/2``, may be traced) by Marsaglia-Tsang's gamma method with a
    fixed number of proposal rounds instead of a rejection loop (jax.random.chisquare's loop
    costs tens of seconds of XLA compilation per call site). Each round accepts with probability
    >= 0.95, so all ``_GAMMA_ROUNDS`` fail with probability < 1e-15 (the last proposal is then
    kept); otherwise the draw is exact. ``alpha < 1`` uses the boost ``G(alpha + 1) U^(1/alpha)``."""
    alpha = jnp.asarray(df, dtype) / 2
    boost = alpha < 1
    a = jnp.where(boost, alpha + 1, alpha)
    d3 = a - 1 / 3
    c = 1 / jnp.sqrt(9 * d3)
    k_x, k_u, k_b = jax.random.split(key, 3)
    x = draws.normal(k_x, (_GAMMA_ROUNDS, *alpha.shape), dtype)
    u = draws.uniform(k_u, (_GAMMA_ROUNDS, *alpha.shape), dtype, minval=jnp.finfo(dtype).tiny)
    c, d3r = c[None], d3[None]  # one row per proposal round
    v = (1 + c * x) ** 3
    ok = (v > 0) & (jnp.log(u) < x**2 / 2 + d3r - d3r * v + d3r * jnp.log(jnp.where(v > 0, v, 1)))
    first = jnp.argmax(ok.at[-1].set(True), axis=0)
    g = d3 * jnp.take_along_axis(jnp.where(v > 0, v, 1), first[None], axis=0)[0]
    ub = draws.uniform(k_b, alpha.shape, dtype, minval=jnp.finfo(dtype).tiny)
    return 2 * jnp.where(boost, g * ub ** (1 / alpha), g)


def _wishart(key, normals, dof, dtype) -> jax.Array:
    """``Wishart(dof, I_d)`` by the Bartlett decomposition (``dof < d`` gives the singular law).

    ``normals`` (``rows x d``, ``rows >= min(dof, d)``) are iid ``N(0, 1)``; only their strict
    upper triangle is used, and rows ``a >= dof`` are zero (``dof`` may be traced, so the shape
    does not depend on it).
    """
    rows, d = normals.shape
    if rows == 0:
        return jnp.zeros((d, d), dtype)
    a = jnp.arange(rows, dtype=dtype)
    live = a < dof
    chi = jnp.where(live, jnp.sqrt(_chi2(key, jnp.maximum(dof - a, 1), dtype)), 0)
    upper = (jnp.arange(d)[None, :] > jnp.arange(rows)[:, None]) & live[:, None]
    T = jnp.where(upper, normals, jnp.zeros((), dtype))
    T = T.at[jnp.arange(rows), jnp.arange(rows)].set(chi)
    return T.T @ T


def _client_second_moment(cfg: DataConfig, client, key, n=None, n_max: int | None = None) -> jax.Array:
    """One client's ``S``; ``n`` (may be traced, ``cfg.n <= n <= n_max``) overrides ``cfg.n`` at
    the shapes of ``cfg``."""
    d, m, dtype = cfg.d, cfg.N + 1, jnp.result_type(float)
    n = cfg.n if n is None else n
    n_total = n + cfg.n_rare
    r0 = min(m, cfg.n_total)
    key_gram, key_normal, key_chi = jax.random.split(key, 3)
    G = structured_gram(cfg, client, key_gram, dtype, n, n_max)
    dof = n_total - r0
    # One normal draw for Z1 and the Bartlett factor's upper triangle (fewer random ops to compile).
    normals = draws.normal(key_normal, (r0 + min(cfg.n_total - r0, d), d), dtype)
    Z1 = normals[:r0]
    values, vectors = jnp.linalg.eigh(G)
    # Top r0 rows of Lambda^{1/2} V^T; eigenvalues below 0 are rounding (G is a Gram matrix).
    R = (jnp.sqrt(jnp.clip(values, 0.0, None))[:, None] * vectors.T)[m - r0:]
    coords = jnp.concatenate(
        [jnp.arange(cfg.N, dtype=jnp.int32), jnp.asarray(cfg.rare_class, jnp.int32)[client][None]]
    )
    cross = R.T @ Z1  # (m, d): F^T Xi
    # Scatter-add: P may repeat a column (h < N), and its contributions must accumulate.
    PcrossT = jnp.zeros((d, d), dtype).at[coords].add(cross)
    total = (
        jnp.zeros((d, d), dtype).at[coords[:, None], coords[None, :]].add(G)
        + cfg.mu * (PcrossT + PcrossT.T)
        + cfg.mu**2 * (Z1.T @ Z1 + _wishart(key_chi, normals[r0:], dof, dtype))
    )
    return total / n_total


def _all_clients(cfg: DataConfig, key, n=None, n_max: int | None = None):
    keys = jax.random.split(key, cfg.N)
    clients = jnp.arange(cfg.N, dtype=jnp.int32)
    # lax.map, not vmap: a batched halving tree and Bartlett factor cost XLA seconds more to compile.
    return jax.lax.map(lambda a: _client_second_moment(cfg, a[0], a[1], n, n_max), (clients, keys))


_sample_second_moments = jax.jit(_all_clients, static_argnums=0)


def sample_moments_at(cfg: DataConfig, n, *, key: jax.Array, n_max: int | None = None) -> jax.Array:
    """`sample_second_moments` with ``n`` main samples per client instead of ``cfg.n``; ``n``
    may be traced (one compiled program serves every sample count of the samples reading), and
    then ``n_max`` (static) bounds it.

    Shapes come from ``cfg``, so ``cfg`` must have at least ``d`` Bartlett rows
    (``cfg.n_total - N - 1 >= d``) and ``n >= cfg.n``, even (checked when ``n`` is concrete).
    Traceable; not jitted itself (call it inside the caller's program).
    """
    _check_cfg(cfg)
    if cfg.n_total - cfg.N - 1 < cfg.d:
        raise ValueError(f"cfg: n_total - N - 1 = {cfg.n_total - cfg.N - 1} < d = {cfg.d}; "
                         "a traced n needs cfg.n_total - N - 1 >= d")
    if isinstance(n, jax.core.Tracer):
        if isinstance(n_max, bool) or not isinstance(n_max, int) or n_max < cfg.n:
            raise ValueError(f"n_max = {n_max!r}: a traced n needs a static bound n_max >= cfg.n = {cfg.n}")
    else:
        if int(n) < cfg.n or int(n) % 2:
            raise ValueError(f"n = {n!r} is out of range: need an even n >= cfg.n = {cfg.n}")
        n_max = int(n) if n_max is None else n_max
        if int(n) > n_max:
            raise ValueError(f"n = {n!r} is out of range: need n <= n_max = {n_max}")
    return _all_clients(cfg, key, n, n_max)


def sampled_augmentation(S, n_total, H, *, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Exact draws of the CL client matrices one finite batch sees (reading 7, ``sampled``).

    The minibatch CL losses (Theorem 4.3, Lemma A.11) draw one augmentation pair per sample:
    similar views ``x + xi``, ``x + xi'``; dissimilar views ``x + xi`` and ``H x``, with
    ``xi, xi' ~ N(0, I_d)`` independent of the data. Their client matrices are

        X_sim = sym( (1/n) sum_j (x_j + xi_j)(x_j + xi'_j)^T ),
        X_dis = sym( H (1/n) sum_j x_j (x_j + xi_j)^T ),

    with expectations ``S`` and ``sym(H S)`` (the ``expectation`` reading). Given the data matrix
    ``X`` (``n x d``, ``n >= d``), write ``X^T X = n S = R^T R`` (Cholesky) and ``X = Q R``. With
    ``eta = (xi + xi') / sqrt 2`` and ``eta' = (xi - xi') / sqrt 2`` (independent standard normals),
    ``(x + xi)(x + xi')^T`` has symmetric part ``a a^T - eta' eta'^T / 2``, ``a = x + eta / sqrt 2``.
    ``E^T X = Z R`` with ``Z = E^T Q`` iid ``N(0, 1)`` (``d x d``) and
    ``E^T E = Z Z^T + Wishart(n - d)`` independent of ``Z``, so

        n X_sim = n S + (Z R + R^T Z^T) / sqrt 2 + (Z Z^T + W_{n-d}) / 2 - W'_n / 2,
        n X_dis = sym( H (n S + R^T Z''^T) ),

    ``W_{n-d}``, ``W'_n`` independent Wisharts and ``Z''`` an independent normal matrix: cost
    ``O(d^3)`` whatever ``n`` is. ``S`` is one client's second moment over ``n_total`` samples
    (may be traced, ``>= d``); ``H`` the transform. Returns ``(X_sim, X_dis)``.
    """
    d, dtype = S.shape[0], S.dtype
    k_w, k_n = jax.random.split(key)
    R = jnp.linalg.cholesky(n_total * (S + S.T) / 2).T  # upper: R^T R = n S
    # One normal draw and one Wishart program for both Wisharts (fewer ops for XLA to compile).
    Z, Z2, *bartlett = draws.normal(k_n, (4, d, d), dtype)
    W, W_prime = jax.lax.map(lambda a: _wishart(a[0], a[1], a[2], dtype),
                             (jax.random.split(k_w), jnp.stack(bartlett), jnp.stack([n_total - d, n_total + 0 * d])))
    ZR = Z @ R
    sim_ = (n_total * S + (ZR + ZR.T) / jnp.sqrt(2.0).astype(dtype) + (Z @ Z.T + W) / 2 - W_prime / 2) / n_total
    HM = H @ (n_total * S + R.T @ Z2.T) / n_total
    return (sim_ + sim_.T) / 2, (HM + HM.T) / 2


def _check_cfg(cfg) -> None:
    if not isinstance(cfg, DataConfig):
        raise ValueError(f"cfg = {cfg!r}: need a sim.DataConfig")


def sample_second_moments(cfg: DataConfig, *, key: jax.Array) -> jax.Array:
    """One exact draw of every client's ``S = (1/n_total) sum_j x_j x_j^T``: shape ``(N, d, d)``.

    Same law as ``second_moment(sample_clients(cfg, key=...)[0])`` (clients independent), at a
    cost of ``O(N d^3)`` whatever ``n`` is (module docstring). Jitted with ``cfg`` static: a new
    ``key`` does not recompile; vmap over keys for seeds.

    >>> import dataclasses
    >>> cfg = dataclasses.replace(DataConfig(d=32), n=32**2)
    >>> sample_second_moments(cfg, key=jax.random.key(0)).shape
    (2, 32, 32)
    """
    _check_cfg(cfg)
    if not isinstance(key, jax.core.Tracer):
        if jnp.issubdtype(jnp.asarray(key).dtype, jax.dtypes.prng_key):
            ok = jnp.ndim(key) == 0
        else:
            ok = jnp.shape(key) == (2,) and jnp.asarray(key).dtype == jnp.uint32
        if not ok:
            raise ValueError(
                f"key: got shape {jnp.shape(key)}, dtype {jnp.asarray(key).dtype}; need one PRNG key "
                "(jax.random.key(seed)); vmap for several"
            )
    return _sample_second_moments(cfg, key)


def population_second_moments(cfg: DataConfig) -> jax.Array:
    """``E[S]`` of every client, ``(N, d, d)`` — the population reading of reading 6.

    Per client (`sim.data.model.expected_second_moment`): ``mu^2 I + (n/n_total)(e_i e_i^T +
    tau^2/4 (1_K 1_K^T + diag 1_K)) + (n_rare/n_total) e_h e_h^T`` with ``K = [N] \\ {i}``,
    i.e. ``E[x_k^2] = tau^2/2 + mu^2`` and ``E[x_k x_l] = tau^2/4`` over main samples (Section 3.2).

    >>> population_second_moments(DataConfig(d=16)).shape
    (2, 16, 16)
    """
    _check_cfg(cfg)
    return jax.vmap(functools.partial(expected_second_moment, cfg))(jnp.arange(cfg.N, dtype=jnp.int32))
