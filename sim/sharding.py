"""Spread the client axis over every available device (DESIGN: one code path for one CPU, a
GPU, or many devices).

Arrays are placed with a `NamedSharding` over a 1-D mesh of all devices along their leading
(client) axis; jitted programs then run SPMD-partitioned, and the client mean / mixing-matrix
contraction become cross-device reductions inserted by XLA. With one device, or a leading axis
that the device count does not divide, arrays are left as they are (replicated), so results
never depend on the device count beyond floating-point summation order.
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
