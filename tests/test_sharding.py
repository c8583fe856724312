"""The client axis is spread over the devices (conftest sets 2 CPU devices), and the result
equals a single-device run of the same program."""

import jax
import numpy as np
import pytest

import sim
from sim.engine.mixing import mixing_matrix
from sim.linear.losses import init_linear_params, linear_objective
from sim.engine.sharding import shard_clients
from sim.engine.topology import make_topology
import sim.engine.train
from sim.engine.train import ClientData, TrainConfig, train_decl, train_fedavg

needs_two = pytest.mark.skipif(jax.device_count() < 2, reason="needs 2 devices (conftest sets jax_num_cpu_devices=2)")


@needs_two
def test_shard_clients_places_the_leading_axis_over_devices():
    x = shard_clients(np.zeros((4, 3)))
    assert len(x.sharding.device_set) == 2
    assert x.addressable_shards[0].data.shape == (2, 3)
    odd = shard_clients(np.zeros((3, 3)))  # 2 does not divide 3: left unsharded
    assert not hasattr(odd, "sharding") or len(odd.sharding.device_set) == 1


@needs_two
@pytest.mark.parametrize("algorithm", ["fedavg", "decl"])
def test_sharded_training_equals_single_device(algorithm, monkeypatch):
    x, _ = sim.sample_clients(sim.DataConfig(d=16, N=4), key=jax.random.key(0))
    loss = linear_objective("cl-similar")
    params = init_linear_params("cl-similar", 16, 8, key=jax.random.key(1))
    cfg = TrainConfig(rounds=3, local_steps=2, batch_size=5, learning_rate=0.02)
    mixing = mixing_matrix(make_topology("ring", 4), "uniform")

    def run():
        data = ClientData.from_arrays(x)
        if algorithm == "fedavg":
            return train_fedavg(params, loss, data, cfg, key=jax.random.key(2))
        return train_decl(params, loss, data, mixing, cfg, key=jax.random.key(2))

    sharded = run()  # the engine spreads the client axis itself
    assert len(sharded.client_params["encoder"].sharding.device_set) == 2
    monkeypatch.setattr(sim.engine.train, "shard_clients", lambda tree: tree)  # same program, one device
    single = run()
    assert len(single.client_params["encoder"].sharding.device_set) == 1
    np.testing.assert_allclose(sharded.global_params["encoder"], single.global_params["encoder"], atol=1e-12)
    np.testing.assert_allclose(sharded.losses, single.losses, atol=1e-12)


@needs_two
@pytest.mark.parametrize("n_seeds", [2, 1])
def test_seed_axis_sharding_equals_single_device(n_seeds):
    """Seeds vmapped over fedavg_program: sharded over seeds (2 seeds) or, with one seed, over
    clients; same result as the unsharded program (1e-12)."""
    import jax.numpy as jnp

    from sim.engine.sharding import shard_seeds

    n, d, c = 4, 8, 2
    keys = jax.random.split(jax.random.key(3), n_seeds)
    x = jax.random.normal(jax.random.key(4), (n_seeds, n, 6, d))
    mask = jnp.ones((n_seeds, n, 6), bool)
    params = jax.vmap(lambda k: init_linear_params("cl-similar", d, c, key=k))(keys)
    cfg = TrainConfig(rounds=2, local_steps=2, batch_size=3, learning_rate=0.02)
    run = jax.jit(jax.vmap(lambda p, x, m, k: sim.engine.train.fedavg_program(p, x, m, k, loss_fn=linear_objective("cl-similar"),
                                                                        cfg=cfg)))
    single = run(params, x, mask, keys)
    placed = shard_seeds((params, x, mask, keys), n_clients=n)
    assert len(placed[1].sharding.device_set) == 2
    sharded = run(*placed)
    np.testing.assert_allclose(sharded.global_params["encoder"], single.global_params["encoder"], atol=1e-12)
    np.testing.assert_allclose(sharded.losses, single.losses, atol=1e-12)
