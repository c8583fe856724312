"""Spread the client axis over every available device (DESIGN: one code path for one CPU, a
GPU, or many devices).

Arrays are placed with a `NamedSharding` over a 1-D mesh of all devices along their leading
(client) axis; jitted programs then run SPMD-partitioned, and the client mean / mixing-matrix
contraction become cross-device reductions inserted by XLA. With one device, or a leading axis
that the device count does not divide, arrays are left as they are (replicated), so results
never depend on the device count beyond floating-point summation order. The engine pads a
client count the device count does not divide (``sim.engine.train``), so its arrays always shard.

Runs vmapped over seeds (a leading seed axis) shard over a 2-D ``("seeds", "clients")`` mesh
(`shard_seeds`): seeds are independent, so that axis needs no communication at all.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "clients"


def client_mesh() -> Mesh:
    """A 1-D mesh over every device, axis named ``"clients"``."""
    return Mesh(np.asarray(jax.devices()), (AXIS,))


def shard_clients(tree):
    """Place each array's leading axis across devices when the device count divides it.

    >>> x = shard_clients(jax.numpy.zeros((4, 3)))
    >>> x.shape
    (4, 3)
    """
    n = jax.device_count()
    if n == 1:
        return tree
    mesh = client_mesh()

    def place(x):
        if getattr(x, "ndim", 0) >= 1 and x.shape[0] % n == 0:
            return jax.device_put(x, NamedSharding(mesh, PartitionSpec(AXIS)))
        return x

    return jax.tree.map(place, tree)


SEED_AXIS = "seeds"


def seed_client_mesh(n_seeds: int, n_clients: int) -> Mesh:
    """A 2-D mesh ``("seeds", "clients")`` over every device for runs vmapped over seeds.

    The seed axis gets ``gcd(devices, n_seeds)`` devices (independent runs need no
    communication), the client axis the rest; ``n_clients`` must be divisible by the client
    axis' size for the client axis to be split (`shard_seeds` replicates it otherwise).
    """
    for name, value in (("n_seeds", n_seeds), ("n_clients", n_clients)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}={value!r} must be an integer >= 1")
    devices = np.asarray(jax.devices())
    s = int(np.gcd(devices.size, int(n_seeds)))
    return Mesh(devices.reshape(s, devices.size // s), (SEED_AXIS, AXIS))


def shard_seeds(tree, *, n_clients: int | None = None):
    """Place arrays with a leading seed axis over `seed_client_mesh`; with ``n_clients`` given,
    axis 1 of every array whose axis 1 has that size is the client axis and is split too (when
    the client axis' device count divides it). Other axes are replicated.

    >>> x = shard_seeds(jax.numpy.zeros((2, 4, 3)), n_clients=4)
    >>> x.shape
    (2, 4, 3)
    """
    leaves = [leaf for leaf in jax.tree.leaves(tree) if getattr(leaf, "ndim", 0) >= 1]
    if jax.device_count() == 1 or not leaves:
        return tree
    n_seeds = leaves[0].shape[0]
    mesh = seed_client_mesh(n_seeds, n_clients or 1)
    split_clients = n_clients is not None and n_clients % mesh.shape[AXIS] == 0

    def place(x):
        if getattr(x, "ndim", 0) < 1 or x.shape[0] != n_seeds:
            return x
        clients = AXIS if split_clients and x.ndim >= 2 and x.shape[1] == n_clients else None
        spec = (SEED_AXIS,) if x.ndim == 1 else (SEED_AXIS, clients)
        return jax.device_put(x, NamedSharding(mesh, PartitionSpec(*spec)))

    return jax.tree.map(place, tree)
