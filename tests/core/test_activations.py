"""Activations: g' matches a central difference of g for each, sigmoid never overflows, names are checked."""

import numpy as np
import pytest

from core.activations import ACTIVATIONS, apply, check, derivative, passes_gradient


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_derivative_matches_central_differences(name):
    """g'(z) equals (g(z + ε) − g(z − ε)) / 2ε away from ReLU's kink."""
    z = np.linspace(-4, 4, 81) + 0.013  # never exactly 0, where ReLU has no derivative
    eps = 1e-6
    numeric = (apply(name, z + eps) - apply(name, z - eps)) / (2 * eps)
    np.testing.assert_allclose(derivative(name, z, apply(name, z)), numeric, rtol=1e-6, atol=1e-8)


def test_sigmoid_is_finite_and_keeps_float32():
    """σ(±1000) is 1 and 0, without overflow warnings, and float32 stays float32."""
    z = np.array([-1000, 0, 1000], np.float32)
    with np.errstate(over="raise"):
        a = apply("sigmoid", z)
    assert a.dtype == np.float32 and a.tolist() == [0.0, 0.5, 1.0]


def test_only_relu_blocks_gradient():
    """A ReLU unit with z <= 0 passes no gradient; the other activations always pass some."""
    z = np.array([-1.0, 0.0, 2.0])
    assert passes_gradient("relu", z).tolist() == [False, False, True]
    assert all(passes_gradient(name, z).all() for name in ACTIVATIONS if name != "relu")


def test_unknown_name_is_refused():
    """An unknown activation is a ValueError listing the choices."""
    with pytest.raises(ValueError, match="relu, identity, sigmoid, tanh"):
        check("softplus")


# ----- the network with each activation ----------------------------------------------------------
import data  # noqa: E402
from core import TrainConfig, Trainer  # noqa: E402
from core.inspect import gradient_check  # noqa: E402
from core.model import Params, forward, init_params  # noqa: E402
from core.run import RunState  # noqa: E402


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_backprop_matches_finite_differences_for_each_activation(name):
    """The gradient check passes (relative error < 1e-6) with every activation."""
    rng = np.random.default_rng(3)
    params = init_params(6, rng, np.float64)
    params = Params(params.W1, rng.normal(0, 0.1, (6, 1)), params.W2, rng.normal(0, 0.1, (10, 1)))
    X, y = rng.random((784, 20)), rng.integers(0, 10, 20)
    errors = gradient_check(params, X, y, activation=name)
    assert max(errors.values()) < 1e-6, errors


def sample_split():
    return data.split(data.load_sample(), dev_size=1000, train_size=3000, seed=0)


def test_without_an_activation_the_network_is_one_affine_map():
    """With g = identity, the trained network's logits are (W2·W1)·x + (W2·b1 + b2) for every image."""
    parts = sample_split()
    t = Trainer(TrainConfig(activation="identity", lr=0.1, iterations=20), parts.X_train, parts.y_train)
    t.step(20)
    p = t.params
    W, b = p.W2 @ p.W1, p.W2 @ p.b1 + p.b2  # (10, 784), (10, 1): one linear layer
    X = parts.X_dev[:, :200]
    np.testing.assert_allclose(forward(p, X, activation="identity").Z2, W @ X + b, rtol=1e-4, atol=1e-4)


def softmax_regression_dev_accuracy(parts, iterations: int, lr: float) -> float:
    """Plain softmax regression (784 -> 10, no hidden layer) trained with Adam like the network."""
    X, y = parts.X_train, parts.y_train
    W, b = np.zeros((10, 784), np.float32), np.zeros((10, 1), np.float32)
    first, second = [np.zeros_like(W), np.zeros_like(b)], [np.zeros_like(W), np.zeros_like(b)]
    Y = np.eye(10, dtype=np.float32)[:, y]
    for t in range(1, iterations + 1):
        Z = W @ X + b
        A = np.exp(Z - Z.max(axis=0))
        dZ = (A / A.sum(axis=0) - Y) / y.size
        for i, (p, g) in enumerate(zip((W, b), (dZ @ X.T, dZ.sum(axis=1, keepdims=True)))):
            first[i] = 0.9 * first[i] + 0.1 * g
            second[i] = 0.999 * second[i] + 0.001 * g * g
            p -= lr * (first[i] / (1 - 0.9**t)) / (np.sqrt(second[i] / (1 - 0.999**t)) + 1e-8)
    return float(((W @ parts.X_dev + b).argmax(axis=0) == parts.y_dev).mean())


def test_identity_network_learns_what_softmax_regression_learns():
    """"Just a fancy linear equation": without ReLU, dev accuracy is within 2 points of softmax regression."""
    parts = sample_split()
    config = TrainConfig(activation="identity", optimizer="adam", lr=0.01, iterations=150)
    t = Trainer(config, parts.X_train, parts.y_train, parts.X_dev, parts.y_dev)
    t.step(150)
    network = t.final_metrics()["dev_accuracy"]
    assert abs(network - softmax_regression_dev_accuracy(parts, 150, 0.01)) <= 0.02


def test_activation_is_part_of_the_run():
    """The activation is a setting: recorded in the run state, restored, and never 'dead' unless ReLU."""
    parts = sample_split()
    t = Trainer(TrainConfig(activation="tanh", lr=0.5, iterations=None), parts.X_train, parts.y_train)
    t.step(5)
    state = RunState.from_arrays(*t.state().to_arrays())
    assert state.config.activation == "tanh"
    restored = Trainer.from_state(state, parts.X_train, parts.y_train)
    restored.step(3)
    t.step(3)
    np.testing.assert_array_equal(restored.params.W1, t.params.W1)
    assert not t.dead_units().any()
    with pytest.raises(ValueError, match="activation must be one of"):
        TrainConfig(activation="softplus")
