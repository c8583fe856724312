"""Throughput of one FedAvg round and one DecL (D-PSGD) round: the engine vs a per-client loop.

Setting (workload W1's sizes): 100 clients, 10 local steps, batch 64, d = 128, c = 16, the CL-similar
minibatch loss on Gaussian client data (256 samples each). For each algorithm:

- ``vmapped``: the engine's single jitted program (``vmap`` over clients, ``lax.scan`` over
  rounds); compile time reported separately (first call minus a warm call), throughput from
  warm calls.
- ``sequential``: a Python loop over clients calling the SAME per-client step
  (``sim.engine.train.local_training``, jitted once), then the aggregation (mean for FedAvg, mixing
  matrix for DecL) — what a straightforward per-client implementation does.

Throughput is client-steps per second (clients x local steps x rounds / wall time), best of
``--repeats`` timings. Not a test: timings depend on the machine and its load.

    python benchmarks/bench_rounds.py [--rounds 5] [--repeats 3] [--clients 100]
"""

from __future__ import annotations

import argparse
import functools
import time

import jax

jax.config.update("jax_enable_x64", True)  # the toolkit's precision (the CLI enables it too)

import jax.numpy as jnp  # noqa: E402

from sim.engine.mixing import mix, mixing_matrix  # noqa: E402
from sim.linear.losses import init_linear_params, linear_objective  # noqa: E402
from sim.engine.topology import make_topology  # noqa: E402
from sim.data.model import ClientData  # noqa: E402
from sim.engine.train import TrainConfig, decl_program, fedavg_program, local_training, optimizer  # noqa: E402


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--local-steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--d", type=int, default=128)
    ap.add_argument("--c", type=int, default=16)
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)

    n, E = args.clients, args.local_steps
    data = ClientData.from_arrays(jax.random.normal(jax.random.key(0), (n, args.samples, args.d)))
    loss = linear_objective("cl-similar")
    params = init_linear_params("cl-similar", args.d, args.c, key=jax.random.key(1))
    cfg = TrainConfig(rounds=args.rounds, local_steps=E, batch_size=args.batch, learning_rate=1e-3)
    W = jnp.asarray(mixing_matrix(make_topology("regular", n, avg_connectivity=5, key=0), "metropolis-hastings").weights)
    key = jax.random.key(2)
    steps = n * E * args.rounds

    fed = jax.jit(functools.partial(fedavg_program, loss_fn=loss, cfg=cfg))
    dec = jax.jit(functools.partial(decl_program, loss_fn=loss, cfg=cfg))
    vmapped = {
        "fedavg": lambda: fed(params, data.x, data.mask, key).global_params,
        "decl": lambda: dec(params, data.x, data.mask, W, key).global_params,
    }

    local = jax.jit(functools.partial(local_training, loss_fn=loss, cfg=cfg))
    opt = optimizer(cfg)
    client_keys = jax.random.split(key, n)

    def sequential_fedavg():
        g = params
        for _ in range(args.rounds):
            new = [local(g, opt.init(g), data.x[i], data.mask[i], client_keys[i])[0] for i in range(n)]
            g = jax.tree_util.tree_map(lambda *leaves: sum(leaves) / n, *new)
        return g

    def sequential_decl():
        clients = [params] * n
        states = [opt.init(params)] * n
        for _ in range(args.rounds):
            out = [local(clients[i], states[i], data.x[i], data.mask[i], client_keys[i]) for i in range(n)]
            stacked = jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *[o[0] for o in out])
            mixed = mix(W, stacked)
            clients = [jax.tree_util.tree_map(lambda p, i=i: p[i], mixed) for i in range(n)]
            states = [o[1] for o in out]
        return clients[0]

    sequential = {"fedavg": sequential_fedavg, "decl": sequential_decl}

    results = {}
    print(f"backend={jax.default_backend()} devices={jax.device_count()} clients={n} local_steps={E} batch={args.batch} "
          f"d={args.d} c={args.c} rounds/timing={args.rounds} float64")
    print(f"{'algorithm':8s} {'mode':10s} {'compile s':>10s} {'run s':>8s} {'client-steps/s':>15s}")
    for name in ("fedavg", "decl"):
        row = {}
        for mode, fn in (("vmapped", vmapped[name]), ("sequential", sequential[name])):
            t = time.perf_counter()
            jax.block_until_ready(fn())
            first = time.perf_counter() - t
            run = _best(fn, args.repeats)
            row[mode] = {"compile_s": max(first - run, 0.0), "run_s": run, "client_steps_per_s": steps / run}
            print(f"{name:8s} {mode:10s} {row[mode]['compile_s']:10.2f} {run:8.3f} {steps / run:15.0f}")
        row["ratio"] = row["vmapped"]["client_steps_per_s"] / row["sequential"]["client_steps_per_s"]
        print(f"{name:8s} vmapped / sequential throughput ratio: {row['ratio']:.1f}x")
        results[name] = row
    return results


if __name__ == "__main__":
    main()
