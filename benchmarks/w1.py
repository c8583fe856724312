"""Workload W1: one FedAvg round of the linear MIM alignment loss (Eq. 4), engine vs hand-written.

    L(W) = -mean_j (W(x_j*m_j))^T (W(x_j*(1-m_j))) + 1/2 ||W^T W||_F^2,   m_jk ~ Bernoulli(1 - p)

100 clients x 10 local SGD steps x batch 64, d = 128, c = 16, mask ratio p = 0.75 (defaults).
Variants, timed interleaved in one process (so machine load hits them alike):

- ``engine-f32`` / ``engine-f64``: the toolkit's public engine, ``sim.engine.train.fedavg_program`` with
  ``sim.linear.losses.linear_objective("mim-alignment", p=0.75)`` (batches and masks drawn on
  device inside the program), float32 / float64 data and parameters. x64 is enabled for the
  process (the toolkit's setting), so ``engine-f32`` shows what an f32 run costs there.
- ``engine-f32-chunk10``: the same with ``TrainConfig(client_chunk=10)`` (10 clients vmapped at
  a time, the chunks in sequence; same result): a chunk's batches stay in cache.
- ``naive-vmap``: ~20 lines, ``vmap`` over clients of ``lax.scan`` over local steps, batches and
  masks pre-drawn (not timed): the compute floor.
- ``inline-bernoulli``: the same, masks drawn inside the step with ``jax.random.bernoulli``
  (float32 uniforms) — what drawing masks on device costs with the stock sampler.
- ``packed-masks``: the same, masks drawn inside the step by ``sim.data.masks.bernoulli_mask``
  (8 random bits per entry) from per-client keys ``sim.data.masks.client_keys``.
- ``fedjax``: ``fedjax.for_each_client`` (its default backend: one jitted step, a Python loop
  over clients and batches), batches and masks pre-drawn; only if fedjax is importable.
- ``pytorch``: the reference code's structure — one thread, a Python loop over clients and
  steps, autograd per step, batches and masks pre-drawn; only if torch is importable.
  Neither is installed by this script or by the toolkit (optional benchmark peers).

Reported: median ms/round over ``--reps`` interleaved repetitions after warm-up, compile time
(``lower().compile()``), GFLOP/s from the analytic count ``N E (8 B d c + 4 c^2 d)`` (forward
and backward of the two ``B x d x c`` products and the ``c x c`` Gram penalty), and its share of
a measured float32 GEMM rate (1024^3 ``jnp.dot``). ``--json``: the last stdout line is one JSON
object of median ms/round per variant. ``--scaling``: the engine-f32 (one vmap and chunks of 10)
and naive-vmap table for N in (10, 100, 1000) and d in (128 ... 2048), ``--scaling-reps`` each.
Not a test: timings depend on the machine and its load.

    python benchmarks/w1.py [--clients 100] [--d 128] [--reps 10] [--json] [--scaling [--scaling-reps 3]]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # OpenBLAS threads oversubscribe small CPUs

import argparse  # noqa: E402
import functools  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax import lax  # noqa: E402

from sim import MASK_RATIO as P  # noqa: E402  (the paper's mask ratio, 0.75)

LR, SAMPLES = 1e-3, 256


def _sgemm_gflops(reps: int = 10) -> float:
    a = jax.random.normal(jax.random.key(0), (1024, 1024), jnp.float32)
    f = jax.jit(lambda a: a @ a).lower(a).compile()
    jax.block_until_ready(f(a))
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        jax.block_until_ready(f(a))
        times.append(time.perf_counter() - t)
    return 2 * 1024**3 / statistics.median(times) / 1e9


def _alignment_loss(W, x, m):
    # Eq. 4 on one minibatch, m = 1 on visible entries.
    a, b = (x * m) @ W.T, (x * (1 - m)) @ W.T
    g = W @ W.T
    return -jnp.mean(jnp.sum(a * b, axis=1)) + 0.5 * jnp.sum(g * g)


def _hand_round(W, xb, draw_masks, mask_inputs):
    """FedAvg round: every client runs SGD over its E pre-drawn batches, the server averages.

    ``xb`` (N, E, B, d); ``mask_inputs`` (N, E, ...) are per-step masks or per-step keys, turned
    into a float mask by ``draw_masks`` inside the step.
    """

    def client(xs, ms):
        def step(W, inp):
            x, mi = inp
            return W - LR * jax.grad(_alignment_loss)(W, x, draw_masks(mi, x)), None

        return lax.scan(step, W, (xs, ms))[0]

    return jnp.mean(jax.vmap(client)(xb, mask_inputs), axis=0)


def _variants(n: int, d: int, c: int, E: int, B: int, only=None):
    """Name -> (jitted function, args) for every variant available here (or those in ``only``)."""
    from sim.data.masks import bernoulli_mask, client_keys
    from sim.linear.losses import init_linear_params, linear_objective
    from sim.engine.train import TrainConfig, fedavg_program

    kx, kw, kb, km, kr = jax.random.split(jax.random.key(0), 5)
    x64 = jax.random.normal(kx, (n, SAMPLES, d), jnp.float64)
    mask = jnp.ones((n, SAMPLES), bool)
    W64 = init_linear_params("mim-alignment", d, c, key=kw)["encoder"].astype(jnp.float64)
    x32, W32 = x64.astype(jnp.float32), W64.astype(jnp.float32)
    def engine(chunk=None):
        cfg = TrainConfig(rounds=1, local_steps=E, batch_size=B, learning_rate=LR, client_chunk=chunk)
        return jax.jit(functools.partial(fedavg_program, loss_fn=linear_objective("mim-alignment", p=P), cfg=cfg))

    idx = jax.random.randint(kb, (n, E, B), 0, SAMPLES)
    xb = jax.vmap(lambda xi, ii: xi[ii])(x32, idx)  # (N, E, B, d), drawn once, not timed
    masks = jax.random.bernoulli(km, jnp.float32(1 - P), xb.shape).astype(jnp.float32)
    step_keys = jax.vmap(lambda k: jax.random.split(k, E))(client_keys(kr, 0, n))  # (N, E)

    predrawn = lambda m, x: m  # noqa: E731
    inline = lambda k, x: jax.random.bernoulli(k, jnp.float32(1 - P), x.shape).astype(x.dtype)  # noqa: E731
    packed = lambda k, x: bernoulli_mask(k, P, x.shape).astype(x.dtype)  # noqa: E731
    hand = lambda draw: jax.jit(lambda W, xb, mi: _hand_round(W, xb, draw, mi))  # noqa: E731

    out = {
        "engine-f32": (engine(), ({"encoder": W32}, x32, mask, kr)),
        "engine-f32-chunk10": (engine(10), ({"encoder": W32}, x32, mask, kr)),
        "engine-f64": (engine(), ({"encoder": W64}, x64, mask, kr)),
        "naive-vmap": (hand(predrawn), (W32, xb, masks)),
        "inline-bernoulli": (hand(inline), (W32, xb, step_keys)),
        "packed-masks": (hand(packed), (W32, xb, step_keys)),
    }
    if only is not None:
        return {name: out[name] for name in only}
    if importlib.util.find_spec("fedjax") is not None:
        out["fedjax"] = _fedjax_variant(W32, xb, masks)
    if importlib.util.find_spec("torch") is not None:
        out["pytorch"] = _torch_variant(xb, masks, W32)
    return out


def _fedjax_variant(W, xb, masks):  # pragma: no cover - only where fedjax is installed
    """FedJAX's ``for_each_client`` (its default backend: a jitted step, a Python loop over the
    clients and their batches), batches and masks pre-drawn."""
    import fedjax
    import numpy as np

    def client_init(shared, client_input):
        del client_input
        return shared

    def client_step(W, batch):
        return W - LR * jax.grad(_alignment_loss)(W, batch["x"], batch["m"])

    run = fedjax.for_each_client(client_init, client_step, lambda shared, W: W)
    xs, ms = np.asarray(xb), np.asarray(masks)
    clients = [(str(i).encode(), [{"x": xs[i, e], "m": ms[i, e]} for e in range(xs.shape[1])], None)
               for i in range(xs.shape[0])]

    def round_():
        return jnp.mean(jnp.stack([Wi for _, Wi in run(W, clients)]), axis=0)

    return round_, ()


def _torch_variant(xb, masks, W):  # pragma: no cover - only where torch is installed
    """The reference code's structure: one thread, a Python loop over clients, autograd per step."""
    import numpy as np
    import torch

    torch.set_num_threads(1)
    x, m, W0 = (torch.from_numpy(np.array(a)) for a in (xb, masks, W))  # writable copies
    n, E = x.shape[:2]

    def round_():
        total = torch.zeros_like(W0)
        for i in range(n):
            Wi = W0.clone().requires_grad_(True)
            for e in range(E):
                xe, me = x[i, e], m[i, e]
                a, b = (xe * me) @ Wi.T, (xe * (1 - me)) @ Wi.T
                g = Wi @ Wi.T
                loss = -(a * b).sum(-1).mean() + 0.5 * (g * g).sum()
                (grad,) = torch.autograd.grad(loss, Wi)
                Wi = (Wi - LR * grad).detach().requires_grad_(True)
            total += Wi.detach()
        return total / n

    return round_, ()


def _measure(variants: dict, reps: int) -> tuple[dict, dict]:
    compiled, compile_s = {}, {}
    for name, (fn, args) in variants.items():
        t = time.perf_counter()
        compiled[name] = fn.lower(*args).compile() if hasattr(fn, "lower") else fn
        compile_s[name] = time.perf_counter() - t
        jax.block_until_ready(compiled[name](*args))  # warm-up
    times = {name: [] for name in variants}
    for rep in range(reps):
        order = list(variants.items())
        order = order if rep % 2 == 0 else order[::-1]  # alternate the order: no variant always runs first
        for name, (_, args) in order:
            t = time.perf_counter()
            jax.block_until_ready(compiled[name](*args))
            times[name].append(time.perf_counter() - t)
    results = {name: {"ms": 1e3 * statistics.median(ts), "compile_s": compile_s[name],
                      "spread_ms": 1e3 * (max(ts) - min(ts))} for name, ts in times.items()}
    return results, compiled


def _f64_values(compiled) -> int:
    """Number of f64-typed values in an optimised program (an f32 run should have none)."""
    return compiled.as_text().count("f64[")


def _table(results: dict, n, d, c, E, B, sgemm: float) -> None:
    flops = n * E * (8 * B * d * c + 4 * c * c * d)
    base = results["naive-vmap"]["ms"]
    print(f"N={n} E={E} B={B} d={d} c={c} p={P}: {flops / 1e9:.3f} GFLOP/round; sgemm {sgemm:.1f} GFLOP/s")
    print(f"{'variant':18s} {'ms/round':>9s} {'spread':>8s} {'compile s':>9s} {'GFLOP/s':>8s} {'% sgemm':>8s} {'/naive':>7s}")
    for name, r in results.items():
        rate = flops / (r["ms"] / 1e3) / 1e9
        print(f"{name:18s} {r['ms']:9.2f} {r['spread_ms']:8.2f} {r['compile_s']:9.2f} {rate:8.2f} "
              f"{100 * rate / sgemm:7.1f}% {r['ms'] / base:6.2f}x")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--d", type=int, default=128)
    ap.add_argument("--c", type=int, default=16)
    ap.add_argument("--local-steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--scaling", action="store_true", help="also sweep N in (10, 100, 1000) and d in 128..2048")
    ap.add_argument("--scaling-reps", type=int, default=3, help="repetitions per scaling point (bounds its time)")
    ap.add_argument("--json", action="store_true", help="last stdout line: JSON of median ms/round per variant")
    args = ap.parse_args(argv)
    if args.reps < 1 or args.scaling_reps < 1:
        ap.error("--reps and --scaling-reps must be >= 1")
    jax.config.update("jax_enable_x64", True)  # only engine-f64 computes in float64 on purpose

    sgemm = _sgemm_gflops()
    print(f"backend={jax.default_backend()} devices={jax.device_count()} jax={jax.__version__} "
          f"reps={args.reps} (interleaved, median after warm-up)")
    E, B, c = args.local_steps, args.batch, args.c
    variants = _variants(args.clients, args.d, c, E, B)
    results, compiled = _measure(variants, args.reps)
    _table(results, args.clients, args.d, c, E, B, sgemm)
    print(f"engine-f32 program: {_f64_values(compiled['engine-f32'])} f64-typed values (x64 is on; 0 = trains in float32)")

    if args.scaling:
        for n, d in [(10, 128), (1000, 128), (100, 256), (100, 512), (100, 1024), (100, 2048)]:
            scaled = _variants(n, d, c, E, B, only=("engine-f32", "engine-f32-chunk10", "naive-vmap"))
            _table(_measure(scaled, args.scaling_reps)[0], n, d, c, E, B, sgemm)

    summary = {name: round(r["ms"], 3) for name, r in results.items()}
    if args.json:
        print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
