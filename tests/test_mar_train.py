"""FedMAR and DecMAR (the paper's Section 5) on the engine of sim.engine.train: exact reductions to
FedAvg and to each other, the schedule wiring, divergence and bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sim.data.model import ClientData
from sim.models.mar_train import MixedMARLoss, decmar_program, fedmar_program, metric_weights, train_decmar, train_fedmar
from sim.engine.mixing import Mixing
from sim.models.shallow import ShallowConfig, ShallowLoss, init_params
from sim.engine.train import DivergenceError, TrainConfig, train_decl, train_fedavg

KEY = jax.random.key(0)
N, n, d = 4, 12, 6


def _data(key=KEY, scale=1.0):
    x = scale * jax.random.normal(key, (N, n, d))
    return ClientData(x, jnp.ones((N, n), bool), jnp.zeros((N, n), jnp.int32))


def _close(a, b, **kw):
    for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), **kw)


@pytest.mark.parametrize("model, optimizer, per_round", [("linear", "sgd", None), ("two-layer", "adam", 2)])
def test_fedmar_at_gamma_zero_is_fedavg_step_for_step(model, optimizer, per_round):
    """Exact identity: at gamma_max = gamma_min = 0 the MAR loss is the MAE loss and the keys
    are FedAvg's, so every round's participants, global and client models coincide."""
    cfg = ShallowConfig(d=d, c=3, model=model, loss="mae", hidden=8)
    tcfg = TrainConfig(rounds=3, local_steps=2, batch_size=5, learning_rate=0.05, optimizer=optimizer,
                       clients_per_round=per_round)
    p0 = init_params(cfg, key=jax.random.key(1))
    data = _data()
    mar = train_fedmar(p0, MixedMARLoss(cfg), data, tcfg, key=KEY, gamma_max=0.0, gamma_min=0.0)
    avg = train_fedavg(p0, ShallowLoss(cfg), data, tcfg, key=KEY)
    np.testing.assert_array_equal(mar.participation, avg.participation)
    _close(mar.global_params, avg.global_params, rtol=1e-10, atol=1e-12)
    _close(mar.client_params, avg.client_params, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mar.losses, avg.losses, rtol=1e-10)


def test_gamma_changes_training_after_round_zero_only():
    """Round 0 is plain MIM (Section 5): with gamma > 0 the round-0 losses equal the gamma = 0
    run's, later rounds differ."""
    cfg = ShallowConfig(d=d, c=3, model="linear", loss="mae")
    tcfg = TrainConfig(rounds=3, local_steps=2, batch_size=5, learning_rate=0.05)
    p0 = init_params(cfg, key=jax.random.key(1))
    runs = [train_fedmar(p0, MixedMARLoss(cfg), _data(), tcfg, key=KEY, gamma_max=g, gamma_min=g) for g in (0.0, 1.0)]
    np.testing.assert_allclose(runs[0].losses[0], runs[1].losses[0], rtol=1e-12)
    assert np.all(np.abs(np.asarray(runs[0].losses[1:] - runs[1].losses[1:])) > 1e-9)


@pytest.mark.parametrize("metric", ["a-mmd-mean", "cosine"])
def test_decmar_on_the_complete_graph_is_full_participation_fedmar(metric):
    """Exact identity (SGD): uniform mixing on the complete graph gives every client the server's
    model and z_bar, so DecMAR reproduces full-participation FedMAR with uniform weights."""
    cfg = ShallowConfig(d=d, c=3, model="two-layer", loss="mae", hidden=8)
    tcfg = TrainConfig(rounds=3, local_steps=2, batch_size=5, learning_rate=0.05)
    p0 = init_params(cfg, key=jax.random.key(2))
    data = _data()
    complete = Mixing(np.full((N, N), 1.0 / N), "uniform", False)
    fed = train_fedmar(p0, MixedMARLoss(cfg), data, tcfg, key=KEY, metric=metric)
    dec = train_decmar(p0, MixedMARLoss(cfg), data, complete, tcfg, key=KEY, metric=metric)
    _close(fed.global_params, dec.global_params, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fed.losses, dec.losses, rtol=1e-9)
    assert np.all(np.abs(np.asarray(fed.losses[1:])) > 0)


def test_decmar_at_gamma_zero_is_decl():
    cfg = ShallowConfig(d=d, c=3, model="linear", loss="mae")
    tcfg = TrainConfig(rounds=2, local_steps=2, batch_size=None, learning_rate=0.05, optimizer="adam")
    p0 = init_params(cfg, key=jax.random.key(3))
    ring = np.eye(N) / 2 + np.roll(np.eye(N), 1, axis=1) / 2
    mixing = Mixing(ring, "custom", False)
    mar = train_decmar(p0, MixedMARLoss(cfg), _data(), mixing, tcfg, key=KEY, gamma_max=0.0, gamma_min=0.0)
    ref = train_decl(p0, ShallowLoss(cfg), _data(), mixing, tcfg, key=KEY)
    _close(mar.client_params, ref.client_params, rtol=1e-10, atol=1e-12)


def test_programs_vmap_over_runs_without_recompiling():
    """The settings (gamma schedule, metric) are data: one compiled program serves them all."""
    cfg = ShallowConfig(d=d, c=3, model="linear", loss="mae")
    tcfg = TrainConfig(rounds=2, local_steps=1, batch_size=4, learning_rate=0.05)
    loss = MixedMARLoss(cfg)
    p0 = init_params(cfg, key=jax.random.key(1))
    data = _data()
    fn = jax.jit(jax.vmap(lambda g, m: fedmar_program(p0, data.x, data.mask, KEY, g, g, m, loss_fn=loss, cfg=tcfg)))
    metrics = jnp.stack([metric_weights(m) for m in ("a-mmd-mean", "cosine", "mmd-sigma1")])
    out = fn(jnp.array([0.0, 0.1, 0.1]), metrics)
    fn(jnp.array([0.5, 0.2, 0.0]), metrics)
    assert fn._cache_size() == 1
    assert np.isfinite(np.asarray(out.losses)).all() and out.losses.shape == (3, 2, N)
    w = jnp.full((N, N), 1.0 / N)
    dec = jax.vmap(lambda g: decmar_program(p0, data.x, data.mask, w, KEY, g, g, metrics[0], loss_fn=loss,
                                            cfg=tcfg))(jnp.array([0.0, 0.1]))
    assert np.isfinite(np.asarray(dec.losses)).all()


def test_divergence_is_reported():
    cfg = ShallowConfig(d=d, c=3, model="linear", loss="mae")
    tcfg = TrainConfig(rounds=3, local_steps=3, batch_size=None, learning_rate=1e3)
    p0 = init_params(cfg, key=jax.random.key(1))
    with pytest.raises(DivergenceError):
        train_fedmar(p0, MixedMARLoss(cfg), _data(scale=1e3), tcfg, key=KEY)


BAD = [
    ("gamma_max", dict(gamma_max=-0.1, gamma_min=0.0)),
    ("gamma_max", dict(gamma_max=float("nan"))),
    ("gamma_min", dict(gamma_max=0.01, gamma_min=0.1)),
    ("metric", dict(metric="mmd")),
]


@pytest.mark.parametrize("field, kwargs", BAD, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD)])
def test_bad_input_names_the_field(field, kwargs):
    cfg = ShallowConfig(d=d, c=3, model="linear", loss="mae")
    tcfg = TrainConfig(rounds=1, local_steps=1, batch_size=None, learning_rate=0.05)
    with pytest.raises(ValueError, match=rf"^{field} = "):
        train_fedmar(init_params(cfg, key=KEY), MixedMARLoss(cfg), _data(), tcfg, key=KEY, **kwargs)


def test_bad_loss_mixing_and_participation():
    cfg = ShallowConfig(d=d, c=3, model="linear", loss="mae")
    p0 = init_params(cfg, key=KEY)
    with pytest.raises(ValueError, match="cfg.loss"):
        MixedMARLoss(ShallowConfig(d=d, c=3, loss="simsiam"))
    with pytest.raises(ValueError, match="clients_per_round"):
        train_fedmar(p0, MixedMARLoss(cfg), _data(), TrainConfig(1, 1, None, 0.1, clients_per_round=N + 1), key=KEY)
    with pytest.raises(ValueError, match="clients_per_round"):
        train_decmar(p0, MixedMARLoss(cfg), _data(), Mixing(np.eye(N), "custom", False),
                     TrainConfig(1, 1, None, 0.1, clients_per_round=2), key=KEY)
    with pytest.raises(ValueError, match="mixing"):
        train_decmar(p0, MixedMARLoss(cfg), _data(), Mixing(np.eye(N), "push-sum", True), TrainConfig(1, 1, None, 0.1),
                     key=KEY)


# ----------------------------------------------------------------------------- the MAR producer (smoke)

import dataclasses  # noqa: E402
import importlib  # noqa: E402

from bounds.running import ledger, suite  # noqa: E402
from bounds.producers import mar as mar_records  # noqa: E402

SMOKE = suite.get_suite("smoke")


@pytest.fixture(scope="module")
def smoke_mar():
    return mar_records.measure(SMOKE, key=ledger.producer_key(0, "mar"))


def test_mar_records_cover_both_levels(smoke_mar):
    records = mar_records.judge(smoke_mar, SMOKE)
    by = {}
    for r in records:
        by.setdefault((r.claim, r.level), []).append(r)
    st = SMOKE.mar
    assert len(by[(mar_records.FIG2B, "simulation")]) == 2 * len(st.alphas)
    assert len(by[(mar_records.TABLE7, "simulation")]) == len(st.table7_gammas)
    assert len(by[(mar_records.TABLE8, "simulation")]) == 1
    assert len(by[(mar_records.TABLE5, "simulation")]) == 2
    # the paper's own numbers: A-MMD (mean) best in both Table 7 columns, cosine best in Table 8,
    # MAR below MAE in every Table 5 column
    for claim, n in ((mar_records.TABLE7, 2), (mar_records.TABLE8, 1), (mar_records.TABLE5, 3)):
        assert [r.verdict for r in by[(claim, "reported")]] == ["holds"] * n
    for r in records:
        assert "nan" not in r.note.lower()
        if r.level == "simulation":
            assert "untrained_accuracy" in r.params and r.params["suite"] == "smoke"


def test_reported_margins_by_hand():
    recs = {r.source: r for r in mar_records.reported_records()}
    assert recs["Table 7 (constant gamma = 0.1)"].margin == pytest.approx(54.09 - 52.42)
    assert recs["Table 7 (constant gamma = 0.01)"].margin == pytest.approx(54.39 - 54.13)
    assert recs["Table 8 (cosine 0.1 -> 0.001 vs constant gamma)"].margin == pytest.approx(54.91 - 54.39)
    assert recs["Table 5 (column 3, MAR vs MAE)"].margin == pytest.approx(31.77 - 31.25)


def test_mar_diverged_runs_are_inconclusive_and_figures_mark_them(smoke_mar, tmp_path):
    s = mar_records.mar("FL", SMOKE.mar.table_alpha)
    nan_first = lambda a: np.where(np.arange(len(a)).reshape((-1,) + (1,) * (np.ndim(a) - 1)) == 0, np.nan, a)  # noqa: E731
    broken = dataclasses.replace(
        smoke_mar, accuracy={k: nan_first(v) if k == s else v for k, v in smoke_mar.accuracy.items()},
        distances={k: nan_first(v) if k == s else v for k, v in smoke_mar.distances.items()},
        diverged={k: int(k == s) for k in smoke_mar.diverged},
        models={k: jax.tree_util.tree_map(lambda a: np.full(np.shape(a), np.nan), v) if k == s else v
                for k, v in smoke_mar.models.items()})
    records = mar_records.judge(broken, SMOKE)
    hit = [r for r in records if r.level == "simulation" and r.params.get("diverged_runs")]
    assert hit and all(r.verdict == "inconclusive" and "diverged" in r.note for r in hit)
    assert not any("nan" in r.note.lower() for r in records)
    for name in ("fig2b_mar", "fig3_mar", "table7", "table8"):
        module = importlib.import_module(f"figures.{name}")
        assert module.PRODUCER == "mar"
        for p in module.make(broken, records, tmp_path):
            assert p.stat().st_size > 0
            if p.suffix == ".md":
                text = p.read_text()
                assert "nan" not in text.lower() and "| simulation |" in text
                assert "| reported |" in text or p.stem == "fig2b_mar"  # Fig. 2b ships no reported numbers
