"""One paper-scale FedAvg round three (or four) ways in one process: 100 clients x 2 local epochs
(64 samples, batch 32: 4 Adam steps) of the two-layer MAE of ``sim.models.shallow`` (d = 32,
c = 8, 64 hidden units), float32.

    toolkit      sim.engine.train.fedavg_program (vmap over clients, lax.scan over rounds)
    vmap         a hand-written jit(vmap(local_training)) followed by the mean of the client models
    loop         a Python loop over clients, one jitted local_training call each
    fedjax       fedjax.for_each_client (client_init / client_step / client_final), if installed

Prints, per way, the first call (compile + run) and the median of ``--repeats`` steady runs, and
checks that the hand-written vmap, the loop and FedJAX average to the same model. Run:
``python benchmarks/fedavg_side_by_side.py`` (FedJAX needs its own environment beside jax).
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from sim import ShallowConfig, ShallowLoss, TrainConfig, fedavg_program, init_shallow_params, local_training, optimizer


def timed(fn, repeats: int) -> tuple[float, float]:
    t = time.perf_counter()
    jax.block_until_ready(fn())
    first = time.perf_counter() - t
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        runs.append(time.perf_counter() - t)
    return first, statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    K, n, B = args.clients, args.samples, args.batch
    steps = args.epochs * n // B
    sc = ShallowConfig(d=32, c=8, model="two-layer", loss="mae", hidden=64)
    loss = ShallowLoss(sc)
    # Full batches of the client's own permutation: every way sees the same 2 epochs of minibatches.
    cfg = TrainConfig(rounds=1, local_steps=steps, batch_size=None, learning_rate=3e-2, optimizer="adam")
    key = jax.random.key(0)
    params = init_shallow_params(sc, key=key)
    x = jax.random.normal(jax.random.key(1), (K, n, sc.d), jnp.float32)
    perm = jax.vmap(lambda k: jnp.concatenate([jax.random.permutation(k, n) for _ in range(args.epochs)]))(
        jax.random.split(jax.random.key(2), K))
    batches = jnp.take_along_axis(x[:, None], perm.reshape(K, steps, B)[..., None], axis=2)  # (K, steps, B, d)
    bmask = jnp.ones((K, steps, B), bool)
    keys = jax.random.split(jax.random.key(3), K)
    opt = optimizer(cfg)
    one = dict(cfg.__dict__, local_steps=1)

    def client(p, xb, mb, k):
        """``steps`` local steps, each on one fixed batch (as FedJAX's client_step receives them)."""
        s = opt.init(p)
        c1 = TrainConfig(**one)
        for t in range(steps):
            p, s, _ = local_training(p, s, xb[t], mb[t], jax.random.fold_in(k, t), loss_fn=loss, cfg=c1)
        return p

    mean = lambda tree: jax.tree_util.tree_map(lambda a: a.mean(axis=0), tree)  # noqa: E731
    vmapped = jax.jit(lambda p, xb, mb, ks: mean(jax.vmap(client, in_axes=(None, 0, 0, 0))(p, xb, mb, ks)))
    single = jax.jit(client)
    loop = lambda: mean(jax.tree_util.tree_map(lambda *a: jnp.stack(a),  # noqa: E731
                                               *[single(params, batches[i], bmask[i], keys[i]) for i in range(K)]))
    toolkit_cfg = TrainConfig(rounds=1, local_steps=steps, batch_size=B, learning_rate=3e-2, optimizer="adam")
    toolkit = jax.jit(lambda p, xx, m, k: fedavg_program(p, xx, m, k, loss_fn=loss, cfg=toolkit_cfg).global_params)
    ways = {"toolkit fedavg_program": lambda: toolkit(params, x, jnp.ones((K, n), bool), key),
            "hand-written vmap": lambda: vmapped(params, batches, bmask, keys),
            "Python loop over clients": loop}
    try:
        import fedjax

        def client_init(shared, client_input):
            return {"params": shared, "opt": opt.init(shared), "key": client_input, "t": 0}

        def client_step(state, batch):
            c1 = TrainConfig(**one)
            p, s, _ = local_training(state["params"], state["opt"], batch["x"], batch["mask"],
                                     jax.random.fold_in(state["key"], state["t"]), loss_fn=loss, cfg=c1)
            return {"params": p, "opt": s, "key": state["key"], "t": state["t"] + 1}

        fe = fedjax.for_each_client(client_init, client_step, lambda shared, s: s["params"])
        clients = [(str(i).encode(), [{"x": batches[i, t], "mask": bmask[i, t]} for t in range(steps)], keys[i])
                   for i in range(K)]
        ways["fedjax for_each_client"] = lambda: mean(jax.tree_util.tree_map(
            lambda *a: jnp.stack(a), *[p for _, p in fe(params, clients)]))
    except ImportError as err:
        print(f"fedjax not importable here ({err}); comparing the toolkit, the vmap and the loop")
    results = {}
    print(f"{jax.devices()[0].platform}: {K} clients x {args.epochs} epochs ({steps} steps of batch {B}), "
          f"two-layer MAE d={sc.d} c={sc.c} hidden={sc.hidden}")
    for name, fn in ways.items():
        first, steady = timed(fn, args.repeats)
        results[name] = fn()
        print(f"  {name:26s} first call {first:7.3f} s   steady {steady * 1e3:8.2f} ms/round")
    ref = results["hand-written vmap"]
    for name in ("Python loop over clients", "fedjax for_each_client"):
        if name in results:
            gap = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(jax.tree_util.tree_leaves(results[name]),
                                                                     jax.tree_util.tree_leaves(ref)))
            print(f"  max |{name} - vmap| = {gap:.2e}")


if __name__ == "__main__":
    main()
