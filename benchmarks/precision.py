"""Does float32 training change the numbers a verdict reads? FedAvg and DecL, float32 vs float64.

A small linear study (Section 3.2 data, ``d = 16``, ``N = 4`` clients, ``c = 4``): the MIM
alignment loss (Eq. 4, ``p = 0.75``) trained by minibatch FedAvg and by D-PSGD on a ring, for
``--seeds`` seeds, once with float32 parameters and data and once with float64. The engine's
batches and masks come from integer random bits, so both precisions see the same batches and
masks: the runs differ only by rounding. Reported per algorithm: the largest difference of the
representabilities ``r_k`` (Definition 4.1) of the trained global encoder, of the class
sensitivity ``max r - min r`` over class coordinates, and of the DecL - FedAvg sensitivity gap,
and whether the gap's sign (the comparison Theorem 4.6 / Corollary 4.5 are judged by) agrees
on every seed. Not a test.

    python benchmarks/precision.py [--seeds 8] [--rounds 200]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # OpenBLAS threads oversubscribe small CPUs

import argparse  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402


def _run(dtype, seed, rounds):
    import sim
    from sim.engine.mixing import mixing_matrix
    from sim.linear.losses import encoder_row_space, init_linear_params, linear_objective
    from sim.engine.topology import make_topology
    from sim.engine.train import ClientData, TrainConfig, train_decl, train_fedavg

    cfg = sim.DataConfig(d=16, N=4)
    x, _ = sim.sample_clients(cfg, key=jax.random.key(seed))
    data = ClientData.from_arrays(x.astype(dtype))
    params = jax.tree_util.tree_map(lambda a: a.astype(dtype),
                                    init_linear_params("mim-alignment", 16, 4, key=jax.random.key(seed + 1000)))
    loss = linear_objective("mim-alignment", p=sim.MASK_RATIO)
    tc = TrainConfig(rounds=rounds, local_steps=5, batch_size=16, learning_rate=0.02)
    key = jax.random.key(seed + 2000)
    runs = {"fedavg": train_fedavg(params, loss, data, tc, key=key),
            "decl": train_decl(params, loss, data, mixing_matrix(make_topology("ring", 4), "uniform"), tc, key=key)}
    out = {}
    for name, res in runs.items():
        V = encoder_row_space(jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), res.global_params))
        r = np.asarray(sim.representability(V))
        out[name] = (r, float(r[:4].max() - r[:4].min()))
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=200)
    args = ap.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    dr, ds, dgap, agree = {"fedavg": 0.0, "decl": 0.0}, {"fedavg": 0.0, "decl": 0.0}, 0.0, 0
    for seed in range(args.seeds):
        lo, hi = _run(jnp.float32, seed, args.rounds), _run(jnp.float64, seed, args.rounds)
        for name in dr:
            dr[name] = max(dr[name], float(np.max(np.abs(lo[name][0] - hi[name][0]))))
            ds[name] = max(ds[name], abs(lo[name][1] - hi[name][1]))
        gap32, gap64 = lo["decl"][1] - lo["fedavg"][1], hi["decl"][1] - hi["fedavg"][1]
        dgap = max(dgap, abs(gap32 - gap64))
        agree += int(np.sign(gap32) == np.sign(gap64))
        print(f"seed {seed}: sensitivity gap DecL - FedAvg  f32 {gap32:+.6f}  f64 {gap64:+.6f}", flush=True)
    for name in dr:
        print(f"{name:7s} max |r32 - r64| = {dr[name]:.2e}   max |s32 - s64| = {ds[name]:.2e}")
    print(f"max |gap32 - gap64| = {dgap:.2e}; gap signs agree on {agree}/{args.seeds} seeds")
    return {"r": dr, "s": ds, "gap": dgap, "agree": agree}


if __name__ == "__main__":
    main()
