"""Communication graphs of decentralised learning (Section 3.1), built with networkx and seeded.

A :class:`Topology` is a connected undirected graph on the ``N`` clients. The quantity the
paper's DecL bounds depend on is the *closed* neighbourhood ``A_i`` (neighbours plus the client
itself) and the average connectivity ``|Ā| = (1/N) Σ_i |A_i|``; the reference code's "degree"
excludes the client itself, so its degree ``k`` is ``|A_i| = k + 1`` here.

Families (:data:`FAMILIES`):

- ``"complete"``: every client talks to every other, ``|A_i| = N`` (this is FL).
- ``"ring"``: ring lattice, each client linked to its ``k/2`` nearest clients on each side,
  ``|Ā| = k + 1`` odd.
- ``"regular"`` (alias ``"uniform"``): random ``k``-regular graph, every ``|A_i|`` equal.
- ``"erdos-renyi"``: connected Erdős–Rényi ``G(N, M)`` with ``M`` edges (redrawn until connected).
- ``"torus"``: 2-D periodic grid ``r × s`` (``r, s >= 3``), ``|A_i| = 5``.
- ``"exponential"``: client ``i`` linked to ``i ± 2^j (mod N)``, ``j = 0, 1, ...``.
- ``"reference"`` (alias ``"general"``): the reference code's generator — random recursive
  spanning tree (node ``i`` attached to a uniform earlier node), then uniformly random extra
  edges until the edge count reaches ``N (|Ā| - 1) / 2``; ``|A_i|`` varies.

Directed graphs (``Topology(..., directed=True)``, built by :func:`directed_exponential` or
:func:`from_adjacency` with ``directed=True``): ``adjacency[i, j]`` marks that client ``i`` hears
client ``j``, so row ``i`` of :attr:`Topology.closed_adjacency` is the closed in-neighbourhood
``A_i`` and column ``j`` the closed out-neighbourhood; the graph must be strongly connected.

A requested ``avg_connectivity`` is hit exactly where the family allows it; inside the family's
range but between two realisable values, the nearest realisable value is built and reported by
:attr:`Topology.avg_connectivity` (the request stays in :attr:`Topology.target`). A request
outside the family's range raises ``ValueError``.

>>> import jax
>>> top = make_topology("regular", 20, avg_connectivity=5, key=jax.random.key(0))
>>> top.avg_connectivity, top.is_regular
(5.0, True)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import networkx as nx
import numpy as np

from sim import checks

FAMILIES: tuple[str, ...] = ("complete", "ring", "regular", "erdos-renyi", "torus", "exponential", "reference")
ALIASES: dict[str, str] = {"uniform": "regular", "general": "reference", "fl": "complete"}

#: Draws of a random family before giving up on a connected graph.
_MAX_DRAWS = 2000


@dataclasses.dataclass(frozen=True, eq=False)
class Topology:
    """A connected client graph, undirected unless ``directed``.

    ``adjacency`` is the (N, N) boolean adjacency matrix without self-loops; the closed
    neighbourhood ``A_i`` is row ``i`` of :attr:`closed_adjacency` (on a directed graph: the
    clients ``i`` hears, ``adjacency[i, j]`` for ``j -> i``).
    """

    family: str
    adjacency: np.ndarray
    target: float | None = None
    directed: bool = False

    def __post_init__(self):
        adj = np.asarray(self.adjacency)
        if adj.ndim != 2 or adj.shape[0] != adj.shape[1]:
            raise ValueError(f"adjacency must be a square (N, N) matrix, got shape {adj.shape}")
        n = adj.shape[0]
        if n < 2:
            raise ValueError(f"N={n} clients: a network needs N >= 2")
        if not np.all((adj == 0) | (adj == 1)):
            raise ValueError("adjacency must be a 0/1 (boolean) matrix")
        adj = adj.astype(bool)
        if not isinstance(self.directed, (bool, np.bool_)):
            raise ValueError(f"Topology.directed = {self.directed!r} is out of range: must be True or False")
        if not self.directed and not np.array_equal(adj, adj.T):
            raise ValueError("adjacency must be symmetric (undirected graph); pass directed=True for a directed one")
        if np.any(np.diag(adj)):
            raise ValueError("adjacency must have an empty diagonal (|A_i| counts the client itself already)")
        sizes = adj.sum(axis=1) + 1
        if np.any(sizes < 2):
            i = int(np.argmin(sizes))
            raise ValueError(f"|A_{i}| = {int(sizes[i])}: every closed neighbourhood needs |A_i| >= 2 (an isolated client)")
        if self.directed:
            if not nx.is_strongly_connected(nx.from_numpy_array(adj.T.astype(int), create_using=nx.DiGraph)):
                raise ValueError("the directed graph is not strongly connected: DecL needs every client to reach "
                                 "every other")
        elif not nx.is_connected(nx.from_numpy_array(adj.astype(int))):
            n_comp = nx.number_connected_components(nx.from_numpy_array(adj.astype(int)))
            raise ValueError(f"the graph is disconnected ({n_comp} components): DecL needs a connected graph")
        adj.setflags(write=False)
        object.__setattr__(self, "adjacency", adj)

    @property
    def n_clients(self) -> int:
        """``N``."""
        return int(self.adjacency.shape[0])

    @property
    def closed_adjacency(self) -> np.ndarray:
        """(N, N) boolean, row ``i`` marks ``A_i`` (self included)."""
        return self.adjacency | np.eye(self.n_clients, dtype=bool)

    @property
    def neighbourhood_sizes(self) -> np.ndarray:
        """``|A_i|`` for every client (self included), int array (N,)."""
        return self.adjacency.sum(axis=1).astype(int) + 1

    @property
    def out_neighbourhood_sizes(self) -> np.ndarray:
        """Closed out-neighbourhood sizes (the clients that hear client ``j``, ``j`` included);
        equal to :attr:`neighbourhood_sizes` on an undirected graph."""
        return self.adjacency.sum(axis=0).astype(int) + 1

    @property
    def avg_connectivity(self) -> float:
        """Realised ``|Ā| = (1/N) Σ_i |A_i|``."""
        return float(np.mean(self.neighbourhood_sizes))

    @property
    def is_regular(self) -> bool:
        """Every ``|A_i|`` equal ("uniform" topology in the paper's terms)."""
        sizes = self.neighbourhood_sizes
        return bool(np.all(sizes == sizes[0]))

    def to_networkx(self) -> nx.Graph:
        """A ``networkx`` graph; directed: a ``DiGraph`` with an edge ``j -> i`` where ``i`` hears ``j``."""
        if self.directed:
            return nx.from_numpy_array(self.adjacency.T.astype(int), create_using=nx.DiGraph)
        return nx.from_numpy_array(self.adjacency.astype(int))

    def describe(self) -> dict[str, Any]:
        """JSON-friendly summary (used in ledger params)."""
        return {
            "family": self.family,
            "N": self.n_clients,
            "target_avg_connectivity": self.target,
            "avg_connectivity": self.avg_connectivity,
            "min_A": int(self.neighbourhood_sizes.min()),
            "max_A": int(self.neighbourhood_sizes.max()),
            "regular": self.is_regular,
            **({"directed": True} if self.directed else {}),
        }


def from_adjacency(adjacency, *, family: str = "custom", directed: bool = False) -> Topology:
    """Wrap a user adjacency matrix (validated: symmetric and connected, or with ``directed``
    strongly connected with ``adjacency[i, j]`` for ``j -> i``; every ``|A_i| >= 2``)."""
    return Topology(family, np.asarray(adjacency), directed=directed)


def _exponential_offsets(n: int) -> list[int]:
    """``2^j mod N`` for ``j = 0 .. ceil(log2 N) - 1`` (Ying et al. 2021), without 0."""
    return sorted({(2**j) % n for j in range(max(1, math.ceil(math.log2(n))))} - {0})


def directed_exponential(n_clients: int) -> Topology:
    """Ying et al.'s (2021) static exponential graph: client ``i`` sends to ``i + 2^j (mod N)``,
    ``j = 0 .. ceil(log2 N) - 1``, so it hears ``i - 2^j``. With ``"uniform"`` mixing every
    weight is ``1 / (ceil(log2 N) + 1)`` (doubly stochastic) and, for even ``N``,
    ``‖W - 11ᵀ/N‖_2 = 1 - 2 / (1 + ceil(log2 N))`` (their Proposition 1).

    >>> top = directed_exponential(16)
    >>> top.directed, int(top.neighbourhood_sizes[0]), int(top.out_neighbourhood_sizes[0])
    (True, 5, 5)
    """
    n = checks.integer("directed_exponential.n_clients", n_clients, minimum=2)
    adj = np.zeros((n, n), dtype=bool)
    for offset in _exponential_offsets(n):
        adj[(np.arange(n) + offset) % n, np.arange(n)] = True
    return Topology("directed-exponential", adj, directed=True)


def _rng(key) -> np.random.Generator:
    """A NumPy generator seeded from a JAX key (typed or raw) or an int."""
    if key is None:
        raise ValueError("key=None: random topology families need an explicit key (a jax.random key or an int)")
    if isinstance(key, (int, np.integer)):
        return np.random.default_rng(int(key))
    import jax

    arr = key
    if hasattr(arr, "dtype") and jax.dtypes.issubdtype(arr.dtype, jax.dtypes.prng_key):
        arr = jax.random.key_data(arr)
    return np.random.default_rng(np.asarray(arr, dtype=np.uint32).ravel().tolist())


def _nearest(target: float, choices: list[int]) -> int:
    """Realisable value closest to ``target`` (ties go to the smaller one)."""
    return min(choices, key=lambda v: (abs(v - target), v))


def _edge_range_check(family: str, n: int, target: float) -> int:
    """Edge count for a target ``|Ā|`` on a connected graph (tree .. complete)."""
    lo = 1 + 2 * (n - 1) / n
    if not lo - 1e-12 <= target <= n + 1e-12:
        raise ValueError(
            f"avg_connectivity={target} is unreachable for family {family!r} with N={n}: "
            f"a connected graph has |Ā| in [{lo:.4g}, {n}]"
        )
    edges = n * (target - 1) / 2
    return int(min(max(round(edges), n - 1), n * (n - 1) // 2))


def _fixed(family: str, graph_sizes: float, target: float | None) -> None:
    if target is not None and not math.isclose(target, graph_sizes):
        raise ValueError(
            f"avg_connectivity={target} is unreachable for family {family!r}: it has |Ā| = {graph_sizes:g} fixed"
        )


def _torus_shape(n: int) -> tuple[int, int]:
    best = None
    for r in range(3, int(math.isqrt(n)) + 1):
        if n % r == 0 and n // r >= 3:
            best = (r, n // r)
    if best is None:
        raise ValueError(f"N={n} clients cannot form an r x s torus with r, s >= 3 (N must factor that way)")
    return best


def make_topology(family: str, n_clients: int, *, avg_connectivity: float | None = None, key=None) -> Topology:
    """Build a connected client graph of the given family (see the module docstring).

    Args:
        family: one of :data:`FAMILIES` or an alias (``"uniform"``, ``"general"``, ``"fl"``).
        n_clients: ``N >= 2``.
        avg_connectivity: target ``|Ā|`` (self included). ``None`` takes the family's default
            (complete: ``N``; ring: 3; regular / erdos-renyi / reference: 3).
        key: ``jax.random`` key or int; needed by the random families (regular, erdos-renyi,
            reference).

    Raises:
        ValueError: unknown family, ``N < 2``, a target the family cannot reach, or no connected
            draw found.
    """
    family = ALIASES.get(family, family)
    if family not in FAMILIES:
        raise ValueError(f"family={family!r} must be one of {FAMILIES} (aliases {sorted(ALIASES)})")
    n = int(n_clients)
    if n < 2:
        raise ValueError(f"n_clients={n_clients} must be >= 2")
    target = None if avg_connectivity is None else float(avg_connectivity)
    if target is not None and not math.isfinite(target):
        raise ValueError(f"avg_connectivity={avg_connectivity} must be finite")

    if family == "complete":
        _fixed(family, n, target)
        g = nx.complete_graph(n)
    elif family == "ring":
        want = 3.0 if target is None else target
        if n == 2:
            _fixed(family, 2, target)
            g = nx.complete_graph(2)
        else:
            choices = sorted({min(k + 1, n) for k in range(2, n + 1, 2)})
            if not 3 - 1e-12 <= want <= n + 1e-12:
                raise ValueError(
                    f"avg_connectivity={target} is unreachable for family 'ring' with N={n}: ring lattices have "
                    f"|Ā| in {choices}"
                )
            size = _nearest(want, choices)
            g = nx.complete_graph(n) if size == n else nx.circulant_graph(n, range(1, (size - 1) // 2 + 1))
    elif family == "torus":
        r, s = _torus_shape(n)
        _fixed(family, 5, target)
        g = nx.convert_node_labels_to_integers(nx.grid_2d_graph(r, s, periodic=True), ordering="sorted")
    elif family == "exponential":
        g = nx.circulant_graph(n, _exponential_offsets(n))
        _fixed(family, 1 + 2 * g.number_of_edges() / n, target)
    else:
        rng = _rng(key)
        want = 3.0 if target is None else target
        if family == "regular":
            if not 2 - 1e-12 <= want <= n + 1e-12:
                raise ValueError(
                    f"avg_connectivity={target} is unreachable for family 'regular' with N={n}: |A_i| = k + 1 "
                    f"must be in [2, {n}]"
                )
            choices = [k + 1 for k in range(1, n) if (n * k) % 2 == 0 and (k >= 2 or n == 2)]
            if not choices:
                raise ValueError(f"no connected regular graph on N={n} clients")
            size = _nearest(want, choices)
            if size == 2 and n > 2:
                raise ValueError(f"avg_connectivity={target}: a connected regular graph on N={n} > 2 needs |A_i| >= 3")
            g = _draw_connected(lambda: nx.random_regular_graph(size - 1, n, seed=_seed(rng)), family, target)
        elif family == "erdos-renyi":
            m = _edge_range_check(family, n, want)
            g = _draw_connected(lambda: nx.gnm_random_graph(n, m, seed=_seed(rng)), family, target)
        else:  # reference
            m = _edge_range_check(family, n, want)
            g = _reference_graph(n, m, rng)
    adj = nx.to_numpy_array(g, nodelist=range(n), dtype=int).astype(bool)
    return Topology(family, adj, target)


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))


def _draw_connected(draw, family: str, target) -> nx.Graph:
    for _ in range(_MAX_DRAWS):
        g = draw()
        if nx.is_connected(g):
            return g
    raise ValueError(
        f"family {family!r}: no connected graph at avg_connectivity={target} in {_MAX_DRAWS} draws "
        f"(too sparse for this family; use 'reference', which is connected by construction)"
    )


def _reference_graph(n: int, m: int, rng: np.random.Generator) -> nx.Graph:
    """Random recursive spanning tree, then uniformly random extra edges up to ``m`` edges."""
    g = nx.Graph()
    g.add_nodes_from(range(n))
    for i in range(1, n):
        g.add_edge(int(rng.integers(0, i)), i)
    missing = [(a, b) for a in range(n) for b in range(a + 1, n) if not g.has_edge(a, b)]
    extra = m - g.number_of_edges()
    if extra > 0:
        chosen = rng.choice(len(missing), size=extra, replace=False)
        g.add_edges_from(missing[int(j)] for j in chosen)
    return g
