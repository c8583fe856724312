"""Heterogeneity: split the labelled global distribution of Section 3.2 over clients, with the
heterogeneity conventions of federated SSL experiments (Dirichlet label skew, pathological
splits, quantity and feature skew).

The global distribution has ``C = 2N`` classes (class ``l`` is drawn from the main formula of
its owner client ``l // 2``, ``sim.data.model.sample_labelled``). A partitioner decides how many
samples of each class every client holds — a ``(K, C)`` count matrix — and, for feature
skew, a fixed per-client transform of the features. ``client_data`` then draws the samples
and pads the clients to a common length with a mask, so unequal clients still stack along a
leading client axis for ``jax.vmap``.

Partitioners are host-side NumPy functions (they decide array shapes, so they cannot be
traced); their randomness comes only from the explicit ``key`` (a NumPy generator seeded with
the key's bits, so a split costs no device compilation). Names follow the reference experiments:

- ``iid``: every client holds every class in equal amounts (stratified split).
- ``dirichlet``: class-wise Dirichlet label skew, for each class client shares
  ``~ Dir(alpha 1_K)``; ``balanced=True`` runs the reference code's 100 rounds of
  row/column normalisation so that all clients end up with about the same size. ``alpha=1e5``
  is the reference code's IID.
- ``pathological``: each client holds exactly ``classes_per_client`` classes.
- ``quantity_skew``: log-normal client sizes, IID labels within each client.
- ``feature_skew``: an IID split plus a fixed per-client transform of the features
  (``scaling``, ``noise`` or ``rotation``) with a ``strength``; strength 0 is the identity.
- ``paper``: the paper's construction (two classes per client plus a rare class), drawn by
  ``sim.data.model.sample_clients``.

Example::

    >>> import jax
    >>> from sim.data.partition import dirichlet, heterogeneity
    >>> part = dirichlet(8, 4, 64, alpha=0.1, balanced=True, key=jax.random.key(0))
    >>> part.counts.shape
    (4, 8)
    >>> round(float(heterogeneity(part.counts).tv_distance.mean()), 2) > 0.3
    True
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from sim.data.model import ClientData, sample_clients, sample_labelled
from sim.data.latent import DATA_MODELS, LatentModel

PARTITIONS: tuple[str, ...] = ("iid", "dirichlet", "pathological", "quantity", "feature", "paper")
FEATURE_TRANSFORMS: tuple[str, ...] = ("scaling", "noise", "rotation")
#: The reference code's number of alternating normalisation rounds of the balanced Dirichlet split.
BALANCE_ROUNDS = 100


@dataclasses.dataclass(frozen=True, eq=False)
class FeatureTransform:
    """A fixed affine map per client, ``x -> A_k x + b_k`` (feature skew).

    ``matrix`` is ``(K, d, d)``, ``offset`` is ``(K, d)`` (NumPy, float64). Kinds:
    ``scaling`` ``A_k = diag(exp(strength z_k))``, ``z_k ~ N(0, I_d)``, ``b_k = 0``;
    ``noise`` ``A_k = I``, ``b_k = strength xi_k``, ``xi_k ~ N(0, I_d)`` drawn once per client
    (a client-specific additive noise vector);
    ``rotation`` ``A_k = expm(strength S_k)``, ``S_k = (G - G^T)/sqrt(2d)`` skew-symmetric, so
    ``A_k`` is orthogonal and moves further from ``I`` as the strength grows.
    """

    kind: str
    strength: float
    matrix: np.ndarray
    offset: np.ndarray

    def apply(self, x: jax.Array) -> jax.Array:
        """Transform stacked client data ``x (K, n, d)`` client by client."""
        return self.affine(x, jnp.asarray(self.matrix), jnp.asarray(self.offset))

    @staticmethod
    def affine(x: jax.Array, matrix: jax.Array, offset: jax.Array) -> jax.Array:
        """``x_k -> A_k x_k + b_k`` for ``x (K, n, d)``, ``A (K, d, d)``, ``b (K, d)``."""
        return jnp.einsum("knd,ked->kne", x, matrix) + offset[:, None, :]


@dataclasses.dataclass(frozen=True, eq=False)
class Partition:
    """How the ``C`` classes are split over ``K`` clients.

    ``counts[k, c]`` is the number of samples of class ``c`` on client ``k``. ``shares`` holds
    the drawn Dirichlet client shares (``(K, C)``, each column sums to 1) before balancing and
    rounding, ``None`` for the other partitioners; ``balanced`` the balanced matrix (total 1)
    that the counts of the balanced Dirichlet split are rounded from. ``transform`` is the
    feature-skew map or ``None``. ``params`` records the partitioner's scalar arguments.
    """

    kind: str
    counts: np.ndarray
    shares: np.ndarray | None = None
    balanced: np.ndarray | None = None
    transform: FeatureTransform | None = None
    params: dict = dataclasses.field(default_factory=dict)

    @property
    def n_clients(self) -> int:
        return int(self.counts.shape[0])

    @property
    def n_classes(self) -> int:
        return int(self.counts.shape[1])

    @property
    def sizes(self) -> np.ndarray:
        """Samples per client, ``(K,)``."""
        return self.counts.sum(axis=1)


@dataclasses.dataclass(frozen=True, eq=False)
class Heterogeneity:
    """Measured heterogeneity of a split, one value per client.

    ``classes_per_client``: number of classes with at least one sample;
    ``top2_mass``: fraction of the client's samples in its two largest classes;
    ``tv_distance``: total-variation distance ``1/2 sum_c |p_k(c) - p(c)|`` between the
    client's label distribution and the global one (the pooled labels of all clients).
    """

    classes_per_client: np.ndarray
    top2_mass: np.ndarray
    tv_distance: np.ndarray

    def summary(self) -> dict[str, float]:
        """Means over clients."""
        return {name: float(np.mean(getattr(self, name))) for name in
                ("classes_per_client", "top2_mass", "tv_distance")}


# ----------------------------------------------------------------------------- validation

def _integer(name: str, value, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]``: Python, NumPy and JAX integer scalars are accepted;
    bools and floats (even integral ones: a float count is a bug upstream) are rejected."""
    allowed = f"an integer in [{low}, {'inf' if high is None else high}]"
    is_int = isinstance(value, numbers.Integral) or (
        np.ndim(value) == 0 and np.issubdtype(getattr(value, "dtype", np.dtype(float)), np.integer))
    if isinstance(value, (bool, np.bool_)) or not is_int:
        raise ValueError(f"{name}={value!r} must be {allowed}")
    value = int(value)
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name}={value} must be {allowed}")
    return value


def _check_sizes(n_classes: int, n_clients: int, samples_per_client: int) -> None:
    _integer("n_classes", n_classes, 2)
    _integer("n_clients", n_clients, 1)
    _integer("samples_per_client", samples_per_client, 1)


def _check_nonempty(counts: np.ndarray, what: str, fix: str) -> np.ndarray:
    sizes = counts.sum(axis=1)
    empty = np.flatnonzero(sizes == 0)
    if empty.size:
        which = ", ".join(str(int(k)) for k in empty[:10])
        raise ValueError(f"{what} leaves client(s) {which} with no samples "
                         f"({empty.size} of {counts.shape[0]} clients); {fix}")
    return counts


def _largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    """Integers proportional to ``weights`` (1-D, non-negative) summing exactly to ``total``."""
    w = np.asarray(weights, dtype=float)
    raw = w / w.sum() * total
    out = np.floor(raw).astype(np.int64)
    short = int(total - out.sum())
    if short:
        order = np.argsort(-(raw - out), kind="stable")
        out[order[:short]] += 1
    return out


def _host_rng(key: jax.Array) -> np.random.Generator:
    """A NumPy generator seeded by a JAX key: host-side shuffles without one device call each."""
    return np.random.default_rng(np.asarray(jax.random.key_data(key), dtype=np.uint32).ravel().tolist())


def _stratified(sizes: np.ndarray, n_classes: int, key: jax.Array) -> np.ndarray:
    """IID labels within each client: ``size_k`` split as evenly as possible over the classes,
    the leftover samples going to randomly chosen classes (so no class is favoured)."""
    rng = _host_rng(key)
    rows = []
    for size in sizes:
        row = np.full(n_classes, int(size) // n_classes, dtype=np.int64)
        row[rng.permutation(n_classes)[: int(size) % n_classes]] += 1
        rows.append(row)
    return np.stack(rows)


# ----------------------------------------------------------------------------- partitioners

def iid(n_classes: int, n_clients: int, samples_per_client: int, *, key: jax.Array) -> Partition:
    """Every client holds ``samples_per_client`` samples spread evenly over all classes."""
    _check_sizes(n_classes, n_clients, samples_per_client)
    counts = _stratified(np.full(n_clients, samples_per_client), n_classes, key)
    return Partition("iid", counts, params={"samples_per_client": int(samples_per_client)})


def dirichlet(n_classes: int, n_clients: int, samples_per_client: int, alpha: float, *,
              balanced: bool = False, key: jax.Array) -> Partition:
    """Class-wise Dirichlet label skew (the paper's experiments).

    The pool holds ``K * samples_per_client`` samples, equally many per class. For each class
    ``c`` the client shares ``s[:, c] ~ Dir(alpha 1_K)``.
    ``balanced=False`` (exact): client ``k`` gets ``s[k, c]`` of class ``c``'s samples
    (largest-remainder rounding, so each class total is exact); client sizes vary, and a
    client may get nothing (``ValueError``).
    ``balanced=True`` (the reference code): the share matrix, normalised to total 1, goes
    through 100 rounds of "divide by the column sums and by the row sums of the same
    iterate", then the counts are ``M * pool size`` rounded so that every sample is kept
    (each client's size from its row sum, then its classes, by largest remainders; the
    reference code's ``floor`` drops up to ``K * C`` samples). Row and column sums end close to
    ``1/K`` and ``1/C``, so every client gets about ``samples_per_client`` samples; the
    result is no longer an exact Dirichlet draw — measure it with ``heterogeneity``.
    """
    _check_sizes(n_classes, n_clients, samples_per_client)
    alpha = float(alpha)
    if not np.isfinite(alpha) or alpha <= 0:
        raise ValueError(f"alpha={alpha} must be > 0 (use 1e5 for an IID-like split)")
    total = int(n_clients) * int(samples_per_client)
    shares = _host_rng(key).dirichlet(np.full(n_clients, alpha), size=n_classes).T  # (K, C): column c = class c
    params = {"alpha": alpha, "balanced": bool(balanced), "samples_per_client": int(samples_per_client)}
    fix = (f"raise alpha (now {alpha:g}), raise samples_per_client (now {samples_per_client}), "
           "or use balanced=True")
    if not balanced:
        class_totals = _largest_remainder(np.ones(n_classes), total)
        counts = np.stack([_largest_remainder(shares[:, c], class_totals[c]) for c in range(n_classes)], axis=1)
        counts = _check_nonempty(counts, f"dirichlet(alpha={alpha:g}, exact)", fix)
        return Partition("dirichlet", counts, shares=shares, params=params)
    # A client whose shares all underflowed to 0 cannot be rescaled (0/0).
    _check_nonempty((shares > 0).astype(np.int64), f"dirichlet(alpha={alpha:g}, balanced)",
                    f"raise alpha (now {alpha:g}): all its shares underflowed to 0")
    m = shares / shares.sum()
    for _ in range(BALANCE_ROUNDS):
        col = m.sum(axis=0, keepdims=True)
        row = m.sum(axis=1, keepdims=True)
        m = m / col / row
    # Every sample is kept (flooring each cell would drop up to K*C of them, and empty every
    # client once a cell expects under one sample): each client's size is its row sum of the
    # pool, then its classes split that size, both by largest remainders.
    sizes = _largest_remainder(m.sum(axis=1), total)
    counts = np.stack([_largest_remainder(m[k], sizes[k]) for k in range(int(n_clients))])
    counts = _check_nonempty(counts, f"dirichlet(alpha={alpha:g}, balanced)",
                             f"the balancing left those clients almost no mass: raise alpha (now {alpha:g})")
    return Partition("dirichlet", counts, shares=shares, balanced=m, params=params)


def pathological(n_classes: int, n_clients: int, samples_per_client: int, classes_per_client: int, *,
                 key: jax.Array) -> Partition:
    """Each client holds exactly ``classes_per_client`` distinct classes, equally many samples
    of each. Classes are dealt round-robin from a random permutation, so every class is held by
    ``floor`` or ``ceil`` of ``K * classes_per_client / C`` clients."""
    _check_sizes(n_classes, n_clients, samples_per_client)
    m = _integer("classes_per_client", classes_per_client, 1, int(n_classes))
    if samples_per_client < m:
        raise ValueError(f"samples_per_client={samples_per_client} must be >= classes_per_client={m} "
                         "so that each of a client's classes gets a sample")
    perm = _host_rng(key).permutation(n_classes)
    counts = np.zeros((n_clients, n_classes), dtype=np.int64)
    per_class = _largest_remainder(np.ones(m), samples_per_client)
    for k in range(n_clients):
        counts[k, perm[(k * m + np.arange(m)) % n_classes]] = per_class
    return Partition("pathological", counts, params={"classes_per_client": m,
                                                     "samples_per_client": int(samples_per_client)})


def quantity_skew(n_classes: int, n_clients: int, samples_per_client: int, sigma: float, *,
                  key: jax.Array) -> Partition:
    """Log-normal client sizes: weights ``w_k ~ LogNormal(0, sigma^2)``, sizes proportional to
    ``w`` with total ``K * samples_per_client``; labels IID (stratified) within each client."""
    _check_sizes(n_classes, n_clients, samples_per_client)
    sigma = float(sigma)
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma={sigma} must be >= 0 (0 gives equal sizes)")
    k_size, k_label = jax.random.split(key)
    weights = np.exp(sigma * _host_rng(k_size).standard_normal(n_clients))
    sizes = _largest_remainder(weights, int(n_clients) * int(samples_per_client))
    counts = _stratified(sizes, n_classes, k_label)
    counts = _check_nonempty(counts, f"quantity_skew(sigma={sigma:g})",
                             f"lower sigma (now {sigma:g}) or raise samples_per_client (now {samples_per_client})")
    return Partition("quantity", counts, params={"sigma": sigma, "samples_per_client": int(samples_per_client)})


def feature_transform(kind: str, d: int, n_clients: int, strength: float, *, key: jax.Array) -> FeatureTransform:
    """Draw the fixed per-client maps of feature skew (see ``FeatureTransform``)."""
    if kind not in FEATURE_TRANSFORMS:
        raise ValueError(f"feature-skew kind={kind!r} must be one of {FEATURE_TRANSFORMS}")
    strength = float(strength)
    if not np.isfinite(strength) or strength < 0:
        raise ValueError(f"strength={strength} must be >= 0 (0 is the identity transform)")
    d = _integer("d", d, 1)
    rng = _host_rng(key)
    eye = np.broadcast_to(np.eye(d), (n_clients, d, d))
    zeros = np.zeros((n_clients, d))
    if kind == "scaling":
        matrix, offset = eye * np.exp(strength * rng.standard_normal((n_clients, 1, d))), zeros
    elif kind == "noise":
        matrix, offset = eye, strength * rng.standard_normal((n_clients, d))
    else:
        g = rng.standard_normal((n_clients, d, d))
        skew = (g - np.swapaxes(g, -1, -2)) / np.sqrt(2.0 * d)
        matrix, offset = np.stack([scipy.linalg.expm(strength * s_k) for s_k in skew]), zeros
    return FeatureTransform(kind, strength, matrix, offset)


def feature_skew(n_classes: int, n_clients: int, samples_per_client: int, d: int, kind: str,
                 strength: float, *, key: jax.Array) -> Partition:
    """An IID split whose clients see their features through a fixed per-client transform."""
    k_split, k_map = jax.random.split(key)
    transform = feature_transform(kind, d, n_clients, strength, key=k_map)
    base = iid(n_classes, n_clients, samples_per_client, key=k_split)
    return Partition("feature", base.counts, transform=transform,
                     params={"transform": kind, "strength": float(strength),
                             "samples_per_client": int(samples_per_client)})


def paper(cfg) -> Partition:
    """The paper's construction (Section 3.2) as a count matrix: client ``i`` holds ``n/2``
    samples of classes ``2i`` and ``2i+1`` and ``n_rare`` of its rare class ``h_i``. The rare
    samples are ``e_{h_i} + mu xi``, not class ``h_i``'s main distribution; ``client_data``
    draws them with ``sim.data.model.sample_clients``."""
    counts = np.zeros((cfg.N, 2 * cfg.N), dtype=np.int64)
    for i in range(cfg.N):
        counts[i, 2 * i] += cfg.n - cfg.n // 2
        counts[i, 2 * i + 1] += cfg.n // 2
        counts[i, int(cfg.rare_class[i])] += cfg.n_rare
    return Partition("paper", counts, params={"n": int(cfg.n), "n_rare": int(cfg.n_rare)})


# ----------------------------------------------------------------------------- measurement

def heterogeneity(counts: np.ndarray) -> Heterogeneity:
    """Measured heterogeneity of a ``(K, C)`` count matrix (see ``Heterogeneity``)."""
    counts = np.asarray(counts, dtype=float)
    if counts.ndim != 2 or np.any(counts < 0):
        raise ValueError(f"counts must be a non-negative (K, C) matrix, got shape {counts.shape}")
    sizes = counts.sum(axis=1)
    _check_nonempty(counts, "the split", "every client needs at least one sample")
    local = counts / sizes[:, None]
    pooled = counts.sum(axis=0) / counts.sum()
    top2 = np.sort(local, axis=1)[:, -2:].sum(axis=1)
    tv = 0.5 * np.abs(local - pooled[None, :]).sum(axis=1)
    return Heterogeneity((counts > 0).sum(axis=1), top2, tv)


# ----------------------------------------------------------------------------- sampling

def client_labels(counts: np.ndarray, *, key: jax.Array, n_max: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Labels ``(K, n_max)`` (``-1`` on padding, real samples in random order first) and the
    mask ``(K, n_max)`` of real samples. ``n_max`` defaults to the largest client."""
    counts = np.asarray(counts, dtype=np.int64)
    sizes = counts.sum(axis=1)
    width = int(sizes.max()) if n_max is None else _integer("n_max", n_max, 1)
    if width < sizes.max():
        raise ValueError(f"n_max={n_max} must be >= the largest client size {int(sizes.max())}")
    labels = np.full((counts.shape[0], width), -1, dtype=np.int32)
    rng = _host_rng(key)
    for k, row in enumerate(counts):
        labels[k, : row.sum()] = rng.permutation(np.repeat(np.arange(counts.shape[1], dtype=np.int32), row))
    return labels, labels >= 0


def _paper_clients(cfg, key: jax.Array, width: int) -> ClientData:
    x, y = sample_clients(cfg, key=key)
    if width < x.shape[1]:
        raise ValueError(f"n_max={width} must be >= the client size {x.shape[1]}")
    pad = width - x.shape[1]
    mask = jnp.pad(jnp.ones(y.shape, dtype=bool), ((0, 0), (0, pad)))
    return ClientData(jnp.pad(x, ((0, 0), (0, pad), (0, 0))), mask,
                      jnp.pad(y.astype(jnp.int32), ((0, 0), (0, pad)), constant_values=-1))


def class_count(cfg) -> int:
    """The number of classes of a data model: ``2N`` for the paper's (a ``sim.data.config.DataConfig``,
    Section 3.2), ``cfg.n_classes`` for a :class:`sim.data.latent.LatentModel`."""
    return cfg.n_classes if isinstance(cfg, LatentModel) else 2 * cfg.N


def _sampler(cfg):
    return DATA_MODELS["latent" if isinstance(cfg, LatentModel) else "paper"]


def client_data(cfg, partition: Partition | Sequence[Partition], *, key: jax.Array,
                n_max: int | None = None) -> ClientData:
    """Draw the clients' samples for ``partition`` from the data model ``cfg`` (the paper's, a
    ``sim.data.config.DataConfig``, or the latent model, a :class:`sim.data.latent.LatentModel`; its
    number of classes :func:`class_count` must equal ``partition.n_classes``), pad to ``n_max``
    (default: the largest client) and apply the feature-skew transform if there is one. The
    ``paper`` partition needs the paper's data model.

    Given a sequence of partitions (same number of clients), returns them stacked along a new
    leading axis ``(R, K, n_max, d)`` — drawn with one call of the sampler, which is how
    experiments over many splits and seeds stay cheap. The result is a
    :class:`sim.data.model.ClientData` with labels ``y`` (``-1`` on padding).
    """
    single = isinstance(partition, Partition)
    parts = [partition] if single else list(partition)
    if not parts:
        raise ValueError("partition: need at least one Partition")
    C = class_count(cfg)
    for p in parts:
        if p.n_classes != C:
            raise ValueError(f"partition has {p.n_classes} classes but the data model has {C}; "
                             f"build the partition with n_classes={C}")
        if p.kind == "paper" and isinstance(cfg, LatentModel):
            raise ValueError("partition kind 'paper' (Section 3.2's construction) needs the paper's data model, "
                             "not the latent model")
        if p.n_clients != parts[0].n_clients:
            raise ValueError(f"partitions must have the same number of clients, got {p.n_clients} and {parts[0].n_clients}")
    sizes = [cfg.n_total if p.kind == "paper" else int(p.sizes.max()) for p in parts]
    width = max(sizes) if n_max is None else _integer("n_max", n_max, 1)
    if width < max(sizes):
        raise ValueError(f"n_max={n_max} must be >= the largest client size {max(sizes)}")
    k_order, k_x, k_paper = jax.random.split(key, 3)
    drawn = [p for p in parts if p.kind != "paper"]
    batch = None
    if drawn:
        labels, mask = zip(*(client_labels(p.counts, key=k, n_max=width)
                             for p, k in zip(drawn, jax.random.split(k_order, len(drawn)))))
        labels, mask = np.stack(labels), np.stack(mask)
        x = _sampler(cfg)(cfg, jnp.asarray(np.where(mask, labels, 0).reshape(-1)), key=k_x)
        eye = np.broadcast_to(np.eye(cfg.d), (parts[0].n_clients, cfg.d, cfg.d))
        matrix = np.stack([eye if p.transform is None else p.transform.matrix for p in drawn])
        offset = np.stack([np.zeros((parts[0].n_clients, cfg.d)) if p.transform is None else p.transform.offset
                           for p in drawn])
        x = _transform_and_pad(x.reshape(labels.shape + (cfg.d,)), jnp.asarray(matrix), jnp.asarray(offset),
                               jnp.asarray(mask))
        batch = _stacked(x, jnp.asarray(mask), jnp.asarray(labels))
    if len(drawn) == len(parts):
        return _index(batch, 0) if single else batch
    drawn_out = iter(_index(batch, i) for i in range(len(drawn)))
    paper_keys = iter(jax.random.split(k_paper, len(parts)))
    out = [_paper_clients(cfg, next(paper_keys), width) if p.kind == "paper" else next(drawn_out) for p in parts]
    return out[0] if single else jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *out)


def _stacked(x, mask, y) -> ClientData:
    """Several splits' ClientData stacked on a leading axis (R, K, n_max, ...): a pytree
    built without ClientData's single-split shape checks."""
    return ClientData.tree_unflatten(None, (x, mask, y))


def _index(batch: ClientData, i: int) -> ClientData:
    return ClientData(batch.x[i], batch.mask[i], batch.y[i])


@jax.jit
def _transform_and_pad(x, matrix, offset, mask):
    x = jax.vmap(FeatureTransform.affine)(x, matrix, offset)
    return jnp.where(mask[..., None], x, 0.0)


def global_sample(cfg, n: int, *, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``n`` labelled samples of the global distribution (classes as equal as possible, in
    random order): the held-out IID set the linear probe is trained and tested on."""
    n = _integer("n", n, 1)
    k_label, k_x = jax.random.split(key)
    labels = _host_rng(k_label).permutation(np.arange(n, dtype=np.int32) % class_count(cfg))
    labels = jnp.asarray(labels)
    return _sampler(cfg)(cfg, labels, key=k_x), labels
