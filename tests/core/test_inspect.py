"""Looking inside: one digit's explanation and the tensors of one step."""

import numpy as np

from core.inspect import explain, step_tensors
from core.model import NOTEBOOK_QUIRKS, Quirks, backward, forward, init_params, one_hot


def net(h=6, seed=0):
    """A small random float64 network."""
    return init_params(h, np.random.default_rng(seed), np.float64)


def test_contributions_add_up_to_the_logits():
    """Each logit equals the sum of its hidden contributions plus its bias; probs sum to 1."""
    params = net()
    x = np.random.default_rng(1).random(784)
    e = explain(params, x)
    np.testing.assert_allclose(e.contributions.sum(axis=1) + params.b2[:, 0], e.Z2)
    np.testing.assert_allclose(e.probs.sum(), 1)
    assert e.contributions.shape == (10, 6) and e.prediction == int(np.argmax(e.Z2))
    np.testing.assert_array_equal(e.A1, np.maximum(e.Z1, 0))


def test_step_tensors_match_backward():
    """The math view's tensors are the ones backward uses, with the notebook's names and shapes."""
    params = net()
    rng = np.random.default_rng(2)
    X, y = rng.random((784, 5)), rng.integers(0, 10, 5)
    t = step_tensors(params, X, y)
    grads = backward(params, X, forward(params, X), one_hot(y, dtype=np.float64))
    np.testing.assert_allclose(t["dW1"], grads.W1)
    np.testing.assert_allclose(t["dZ2"], t["A2"] - t["Y"])
    assert t["dZ1"].shape == (6, 5) and t["db1"].shape == (6, 1)


def test_step_tensors_follow_the_quirks():
    """With the notebook's quirks dZ2 is doubled and gradients are divided by 42,000."""
    params = net()
    rng = np.random.default_rng(3)
    X, y = rng.random((784, 5)), rng.integers(0, 10, 5)
    plain, nb = step_tensors(params, X, y, Quirks()), step_tensors(params, X, y, NOTEBOOK_QUIRKS)
    np.testing.assert_allclose(nb["dZ2"], 2 * plain["dZ2"])
    np.testing.assert_allclose(nb["dW2"], plain["dW2"] * 2 * 5 / 42_000)
