"""Samples of the Section 3.2 data model and their second moments (the sufficient statistic).

Every linear objective of Section 3.3 depends on a client's data only through its second moment
``S = (1/n_total) sum_j x_j x_j^T``; the functions here draw samples, reduce them to ``S``, and
give the analytic ``E[S]`` that the Monte-Carlo tests check against.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from sim.data import draws
from sim.data.config import DataConfig


def _main_samples(cfg: DataConfig, labels: jax.Array, key: jax.Array) -> jax.Array:
    """Class-conditional main samples: label ``l`` belongs to client ``i = l // 2``, sign ``+`` if even.

    ``x = s e_i - sum_{k<N, k!=i} q_k tau e_k + mu xi`` with ``q_k ~ Bernoulli(1/2)``.
    """
    key_q, key_xi = jax.random.split(key)
    m = labels.shape[0]
    owner = labels // 2
    sign = 1.0 - 2.0 * (labels % 2).astype(jnp.result_type(float))
    q = draws.bernoulli(key_q, 0.5, (m, cfg.N))
    xi = draws.normal(key_xi, (m, cfg.d))
    own = jnp.arange(cfg.N, dtype=owner.dtype)[None, :] == owner[:, None]
    class_block = jnp.where(own, sign[:, None], jnp.where(q, -cfg.tau, 0.0))
    class_block = jnp.pad(class_block.astype(xi.dtype), ((0, 0), (0, cfg.d - cfg.N)))
    return class_block + cfg.mu * xi


@functools.partial(jax.jit, static_argnums=0)
def _sample_labelled(cfg, labels, key):
    return _main_samples(cfg, labels, key)


def sample_labelled(cfg: DataConfig, labels, *, key: jax.Array) -> jax.Array:
    """One main-distribution sample per label: ``x`` of shape ``(len(labels), d)``.

    Label ``l in [0, 2N)`` is drawn from the main formula of its owner client ``l // 2``
    (class ``2i``: ``+e_i``, class ``2i+1``: ``-e_i``). The paper's *rare* samples
    (``e_{h_i} + mu xi``) are not the main distribution of class ``h_i``; `sample_clients`
    draws those.

    >>> x = sample_labelled(DataConfig(d=16), jnp.array([0, 3]), key=jax.random.key(0))
    >>> x.shape
    (2, 16)
    """
    labels = jnp.asarray(labels)
    if labels.ndim != 1 or not jnp.issubdtype(labels.dtype, jnp.integer):
        raise ValueError(f"labels: got shape {labels.shape}, dtype {labels.dtype}; need a 1-D integer array")
    if not isinstance(labels, jax.core.Tracer):
        values = np.asarray(labels)
        bad = values[(values < 0) | (values >= 2 * cfg.N)]
        if bad.size:
            raise ValueError(f"labels: {bad.tolist()} out of range; labels must lie in [0, 2N) = [0, {2 * cfg.N})")
    return _sample_labelled(cfg, labels, key)


def _one_client(cfg: DataConfig, client, key):
    key_main, key_rare = jax.random.split(key)
    half = cfg.n // 2
    labels_main = 2 * client + jnp.concatenate(
        [jnp.zeros((half,), jnp.int32), jnp.ones((half,), jnp.int32)]
    )
    h = jnp.asarray(cfg.rare_class, jnp.int32)[client]
    x_main = _main_samples(cfg, labels_main, key_main)
    xi = draws.normal(key_rare, (cfg.n_rare, cfg.d), x_main.dtype)
    x_rare = jax.nn.one_hot(h, cfg.d, dtype=xi.dtype)[None, :] + cfg.mu * xi
    y = jnp.concatenate([labels_main, jnp.full((cfg.n_rare,), h, jnp.int32)])
    return jnp.concatenate([x_main, x_rare]), y


@functools.partial(jax.jit, static_argnums=0)
def _sample_clients(cfg, key):
    keys = jax.random.split(key, cfg.N)
    return jax.vmap(functools.partial(_one_client, cfg))(jnp.arange(cfg.N, dtype=jnp.int32), keys)


def sample_clients(cfg: DataConfig, *, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The paper's non-IID construction: ``x (N, n_total, d)`` and labels ``y (N, n_total)`` int32.

    Client ``i``'s rows are ``n/2`` samples of class ``2i``, ``n/2`` of class ``2i+1``, then
    ``n_rare`` rare samples ``e_{h_i} + mu xi`` labelled ``h_i``. Clients are independent
    (one key each, lifted with ``jax.vmap``); vmap this function over keys for seeds.

    >>> x, y = sample_clients(DataConfig(d=16), key=jax.random.key(0))
    >>> x.shape, y.shape
    ((2, 20, 16), (2, 20))
    """
    return _sample_clients(cfg, key)


def second_moment(x: jax.Array) -> jax.Array:
    """``S = mean_j x_j x_j^T`` over the sample axis ``-2``: shape ``(..., d, d)``."""
    return jnp.einsum("...nj,...nk->...jk", x, x) / x.shape[-2]


def expected_second_moment(cfg: DataConfig, client) -> jax.Array:
    """Analytic ``E[S]`` of client ``client`` under `sample_clients` (``client`` may be traced).

    With ``K = [N] \\ {i}``, ``h = h_i``, and the exact mixture of ``n`` main samples (half of
    each class, so ``E[s] = 0`` and the ``(i, k)`` cross terms vanish) and ``n_rare`` rare ones:

        E[S] = mu^2 I + (n/n_total) (e_i e_i^T + tau^2/4 (1_K 1_K^T + diag 1_K))
                      + (n_rare/n_total) e_h e_h^T.

    So ``E[x_k^2] = tau^2/2 + mu^2`` for ``k in K`` over main samples (``E[q_k^2] = 1/2``; the
    paper writes ``tau^2``) and ``E[x_k x_l] = tau^2/4`` for distinct ``k, l in K``
    (``E[q_k q_l] = 1/4``; the paper treats the expectation as diagonal).
    """
    d, dtype = cfg.d, jnp.result_type(float)
    e_i = jax.nn.one_hot(client, d, dtype=dtype)
    e_h = jax.nn.one_hot(jnp.asarray(cfg.rare_class)[client], d, dtype=dtype)
    others = (jnp.arange(d) < cfg.N).astype(dtype) - e_i
    main = jnp.outer(e_i, e_i) + cfg.tau**2 / 4 * (jnp.outer(others, others) + jnp.diag(others))
    return (
        cfg.mu**2 * jnp.eye(d, dtype=dtype)
        + (cfg.n / cfg.n_total) * main
        + (cfg.n_rare / cfg.n_total) * jnp.outer(e_h, e_h)
    )


@jax.tree_util.register_pytree_node_class
@dataclasses.dataclass(frozen=True, eq=False)
class ClientData:
    """Padded per-client samples, a pytree: ``x`` (N, n_max, ...), ``mask`` (N, n_max) with
    True where a sample is real, and optional labels ``y`` (N, n_max), ``-1`` on padding.

    Validation runs when a caller builds one; JAX's unflattening (inside ``jit``/``vmap``)
    bypasses it, since traced arrays have no values to check.
    """

    x: jax.Array
    mask: jax.Array
    y: jax.Array | None = None

    def __post_init__(self):
        x = jnp.asarray(self.x)
        mask = jnp.asarray(self.mask)
        if x.ndim < 3:
            raise ValueError(f"ClientData.x must have shape (N, n_max, ...) with ndim >= 3, got {x.shape}")
        if mask.shape != x.shape[:2]:
            raise ValueError(f"ClientData.mask shape {mask.shape} must equal x.shape[:2] = {x.shape[:2]}")
        if mask.dtype != jnp.bool_:
            raise ValueError(f"ClientData.mask must be boolean, got dtype {mask.dtype}")
        counts = np.asarray(mask.sum(axis=1))
        if np.any(counts < 1):
            raise ValueError(f"ClientData.mask: client {int(np.argmin(counts))} has no real sample (mask all False)")
        if self.y is not None:
            y = jnp.asarray(self.y)
            if y.shape != mask.shape or not jnp.issubdtype(y.dtype, jnp.integer):
                raise ValueError(f"ClientData.y must be an integer array of shape {mask.shape}, got {y.dtype} {y.shape}")
            object.__setattr__(self, "y", y)
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "mask", mask)

    def tree_flatten(self):
        return (self.x, self.mask, self.y), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        obj = object.__new__(cls)
        for name, value in zip(("x", "mask", "y"), children):
            object.__setattr__(obj, name, value)
        return obj

    @classmethod
    def from_arrays(cls, x) -> "ClientData":
        """All samples real: ``x`` (N, n, ...)."""
        x = jnp.asarray(x)
        return cls(x, jnp.ones(x.shape[:2], dtype=bool))

    @classmethod
    def from_list(cls, arrays) -> "ClientData":
        """Pad a list of per-client arrays (n_i, ...) with zeros to the largest ``n_i``."""
        arrays = [np.asarray(a) for a in arrays]
        n_max = max(a.shape[0] for a in arrays)
        x = np.zeros((len(arrays), n_max) + arrays[0].shape[1:], dtype=np.result_type(*arrays))
        mask = np.zeros((len(arrays), n_max), dtype=bool)
        for i, a in enumerate(arrays):
            x[i, : a.shape[0]] = a
            mask[i, : a.shape[0]] = True
        return cls(jnp.asarray(x), jnp.asarray(mask))

    @property
    def n_clients(self) -> int:
        return int(self.x.shape[0])

    @property
    def sizes(self) -> jax.Array:
        """Real samples per client ``n_i`` (N,)."""
        return self.mask.sum(axis=1)
