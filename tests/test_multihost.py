"""The engine as two ``jax.distributed`` processes (multi-controller JAX) on localhost CPUs.

Two subprocesses, one CPU device each, a coordinator on 127.0.0.1 at a free port, gloo CPU
collectives; each runs ``train_decl`` on the same 4 clients (the client axis split over the 2
processes' devices) and writes its result. Both must equal this process's result (1e-12): the
mixing contraction and the final client mean become cross-process collectives, and every
process returns the whole (all-gathered) result. (FedAvg's server mean is the same kind of
reduction; one algorithm keeps the test short.)
"""

import os
import socket
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

WORKER = textwrap.dedent(
    """
    import sys
    import jax
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_num_cpu_devices", 1)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    pid, port, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=pid,
                               initialization_timeout=30)
    import numpy as np
    from tests.test_multihost import run
    assert jax.device_count() == 2 and jax.local_device_count() == 1
    np.savez(out, **run())
    jax.distributed.shutdown()
    """
)


def run() -> dict:
    """DecL on 4 clients (what every process, and the single process, computes)."""
    from sim.engine.mixing import mixing_matrix
    from sim.linear.losses import init_linear_params, linear_objective
    from sim.engine.topology import make_topology
    from sim.engine.train import ClientData, TrainConfig, train_decl

    x = jax.random.normal(jax.random.key(0), (4, 10, 8))
    data = ClientData(x, np.ones((4, 10), bool))
    params = init_linear_params("mim-alignment", 8, 2, key=jax.random.key(1))
    loss = linear_objective("mim-alignment", p=0.75)
    cfg = TrainConfig(rounds=3, local_steps=2, batch_size=4, learning_rate=0.02)
    dec = train_decl(params, loss, data, mixing_matrix(make_topology("ring", 4), "uniform"), cfg, key=jax.random.key(3))
    return {
        "decl_global": np.asarray(dec.global_params["encoder"]), "decl_clients": np.asarray(dec.client_params["encoder"]), "decl_losses": np.asarray(dec.losses),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_equal_one(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, JAX_PLATFORMS="cpu", OPENBLAS_NUM_THREADS="1", PYTHONPATH=root)
    port = str(_free_port())
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(i), port, str(tmp_path / f"p{i}.npz")], cwd=root,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
    logs = []
    try:
        for p in procs:
            logs.append(p.communicate(timeout=120)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, log in zip(procs, logs):
        if p.returncode != 0 and "collectives" in log and "not" in log and "support" in log:
            pytest.skip(f"this jaxlib cannot run CPU multi-process collectives:\n{log[-2000:]}")
        assert p.returncode == 0, log[-4000:]
    single = run()
    for i in range(2):
        got = np.load(tmp_path / f"p{i}.npz")
        for name, value in single.items():
            np.testing.assert_allclose(got[name], value, atol=1e-12, err_msg=f"process {i}: {name}")
