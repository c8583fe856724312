"""Linear probe: downstream accuracy of frozen features.

Default method ``"logistic"``: multinomial logistic regression (softmax cross-entropy with an
L2 penalty ``l2/2 |W|_F^2`` on the weights, bias unpenalised), full batch, optimised by optax
Adam for a fixed number of steps under ``lax.scan``. Alternative ``"ridge"``: closed-form
ridge regression on one-hot targets (least squares, prediction = argmax of the fitted
scores). Both standardise every feature with the training set's mean and standard
deviation first, so the probe does not depend on the scale of the encoder.

The fitted functions are pure and jit-compiled; leading batch axes of the features (e.g.
runs x seeds) are mapped with ``vmap``, so one compiled program probes many encoders.

Example::

    >>> import jax, jax.numpy as jnp
    >>> f = jnp.array([[-2.0], [-1.0], [1.0], [2.0]]); y = jnp.array([0, 0, 1, 1])
    >>> float(linear_probe(f, y, f, y, n_classes=2))
    1.0
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

PROBES: tuple[str, ...] = ("logistic", "ridge")


def _standardise(train: jax.Array, test: jax.Array) -> tuple[jax.Array, jax.Array]:
    mean = jnp.mean(train, axis=0, keepdims=True)
    std = jnp.std(train, axis=0, keepdims=True) + 1e-8
    return (train - mean) / std, (test - mean) / std


def _with_bias(f: jax.Array) -> jax.Array:
    return jnp.concatenate([f, jnp.ones((f.shape[0], 1), f.dtype)], axis=1)


def _fit_logistic(f, y, *, n_classes, l2, steps, learning_rate):
    fb = _with_bias(f)
    onehot = jax.nn.one_hot(y, n_classes, dtype=f.dtype)
    penalty = jnp.concatenate([jnp.ones((f.shape[1], 1), f.dtype), jnp.zeros((1, 1), f.dtype)], axis=0)

    def loss(w):
        ce = optax.softmax_cross_entropy(fb @ w, onehot).mean()
        return ce + 0.5 * l2 * jnp.sum(penalty * w**2)

    opt = optax.adam(learning_rate)
    w0 = jnp.zeros((fb.shape[1], n_classes), f.dtype)

    def step(carry, _):
        w, state = carry
        grads = jax.grad(loss)(w)
        with jax.numpy_dtype_promotion("standard"):  # optax mixes float hyperparameters with its int32 step count
            updates, state = opt.update(grads, state, w)
        return (optax.apply_updates(w, updates), state), None

    (w, _), _ = jax.lax.scan(step, (w0, opt.init(w0)), None, length=steps)
    return w


def _fit_ridge(f, y, *, n_classes, l2):
    fb = _with_bias(f)
    onehot = jax.nn.one_hot(y, n_classes, dtype=f.dtype)
    reg = l2 * f.shape[0] * jnp.diag(jnp.concatenate([jnp.ones(f.shape[1], f.dtype), jnp.zeros(1, f.dtype)]))
    return jnp.linalg.solve(fb.T @ fb + reg, fb.T @ onehot)


@functools.partial(jax.jit, static_argnames=("n_classes", "method", "steps"))
def _probe(train_f, train_y, test_f, test_y, *, n_classes, method, l2, steps, learning_rate):
    def one(train_f, train_y, test_f, test_y):
        tr, te = _standardise(train_f, test_f)
        if method == "logistic":
            w = _fit_logistic(tr, train_y, n_classes=n_classes, l2=l2, steps=steps, learning_rate=learning_rate)
        else:
            w = _fit_ridge(tr, train_y, n_classes=n_classes, l2=l2)
        pred = jnp.argmax(_with_bias(te) @ w, axis=1).astype(test_y.dtype)
        return jnp.mean((pred == test_y).astype(train_f.dtype))

    fn = one
    for _ in range(train_f.ndim - 2):
        fn = jax.vmap(fn)
    return fn(train_f, train_y, test_f, test_y)


def linear_probe(train_features, train_labels, test_features, test_labels, *, n_classes: int,
                 method: str = "logistic", l2: float = 1e-3, steps: int = 300,
                 learning_rate: float = 0.1) -> jax.Array:
    """Test accuracy of a linear classifier fitted on frozen features.

    Shapes: features ``(..., n, f)``, labels ``(..., n)`` integers in ``[0, n_classes)``; the
    leading axes (the same for all four) are batched. Returns accuracies of shape ``(...)``.
    ``l2`` is the weight penalty (logistic) or ridge strength per sample (ridge); ``steps`` and
    ``learning_rate`` only apply to ``"logistic"``.

    Raises ``ValueError`` for an unknown method, mismatched shapes, labels out of range, or
    features with non-finite values (a diverged encoder: report it, do not probe it).
    """
    if method not in PROBES:
        raise ValueError(f"probe method={method!r} must be one of {PROBES}")
    if int(n_classes) < 2:
        raise ValueError(f"n_classes={n_classes} must be >= 2")
    if not l2 >= 0:
        raise ValueError(f"l2={l2} must be >= 0")
    if int(steps) < 1:
        raise ValueError(f"steps={steps} must be >= 1")
    arrays = [jnp.asarray(a) for a in (train_features, train_labels, test_features, test_labels)]
    train_f, train_y, test_f, test_y = arrays
    if train_f.ndim < 2 or train_f.shape[:-1] != train_y.shape or test_f.shape[:-1] != test_y.shape \
            or train_f.shape[:-2] != test_f.shape[:-2] or train_f.shape[-1] != test_f.shape[-1]:
        raise ValueError(f"shapes do not match: train features {train_f.shape}, labels {train_y.shape}; "
                         f"test features {test_f.shape}, labels {test_y.shape}")
    for name, f in (("train", train_f), ("test", test_f)):
        bad = int(np.size(f) - np.count_nonzero(np.isfinite(np.asarray(f))))
        if bad:
            raise ValueError(f"{name} features contain {bad} non-finite values (of {np.size(f)}); "
                             "the encoder diverged — lower the learning rate or report the run as diverged")
    for name, y in (("train", train_y), ("test", test_y)):
        y = np.asarray(y)
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= n_classes:
            raise ValueError(f"{name} labels must be integers in [0, {n_classes})")
    return _probe(train_f, train_y, test_f, test_y, n_classes=int(n_classes), method=method,
                  l2=float(l2), steps=int(steps), learning_rate=float(learning_rate))
