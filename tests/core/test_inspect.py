"""Looking inside: one digit's explanation, its pixel map and the tensors of one step."""

import numpy as np
import pytest

from core.activations import ACTIVATIONS
from core.inspect import explain, gradient_check, score_gradient, step_tensors
from core.model import NOTEBOOK_QUIRKS, Params, Quirks, backward, forward, init_params, one_hot


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


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_score_gradient_equals_finite_differences(activation):
    """The pixel map is dZ2[k]/dx: central differences on a few pixels agree, for the predicted and another digit."""
    params = net(h=8, seed=4)
    x = np.random.default_rng(5).random(784)
    predicted = explain(params, x, activation).prediction
    for k in (None, (predicted + 3) % 10):
        grid = score_gradient(params, x, k, activation)
        digit = predicted if k is None else k
        assert grid.shape == (28, 28)
        for pixel in np.random.default_rng(6).choice(784, 6, replace=False):
            nudge = np.zeros(784)
            nudge[pixel] = 1e-6
            up, down = (explain(params, x + nudge, activation).Z2[digit],
                        explain(params, x - nudge, activation).Z2[digit])
            np.testing.assert_allclose(grid.flat[pixel], (up - down) / 2e-6, rtol=1e-6, atol=1e-9)


def test_score_gradient_is_exact_for_the_piecewise_linear_network():
    """Z2[k] is linear in x while no ReLU flips: a small step changes the score by exactly grad · step."""
    params = net(h=8, seed=7)
    x = np.random.default_rng(8).random(784)
    step = np.random.default_rng(9).standard_normal(784) * 1e-4
    grid = score_gradient(params, x, 2)
    change = explain(params, x + step).Z2[2] - explain(params, x).Z2[2]
    np.testing.assert_allclose(change, grid.ravel() @ step, rtol=1e-9)
    assert np.abs(grid).max() > 0


def test_score_gradient_rejects_a_digit_out_of_range():
    """k = 10 is not a digit: one clear ValueError."""
    with pytest.raises(ValueError, match="0..9"):
        score_gradient(net(), np.zeros(784), 10)


def test_score_gradient_without_activation_is_a_row_of_W2_W1():
    """With the identity the network is one affine map, so digit k's pixel map is row k of W2·W1 for any image."""
    params = net(h=8, seed=10)
    for seed in (11, 12):
        x = np.random.default_rng(seed).random(784)
        np.testing.assert_allclose(score_gradient(params, x, 7, "identity").ravel(), (params.W2 @ params.W1)[7])


def test_score_gradient_takes_raw_uint8_pixels():
    """A raw uint8 image (as data.split(raw=True) keeps the training set) gives the map of its pixels / 255."""
    base = net(h=8, seed=13)
    params = Params(base.W1, np.random.default_rng(15).standard_normal((8, 1)), base.W2, base.b2)  # biases decide
    raw = np.random.default_rng(14).integers(0, 256, 784).astype(np.uint8)  # which units fire at 0..1 vs 0..255
    expected = score_gradient(params, raw / 255.0, 4)
    np.testing.assert_allclose(score_gradient(params, raw, 4), expected)
    assert not np.allclose(score_gradient(params, raw.astype(np.float64), 4), expected)  # 0..255 would differ


def test_gradient_check_reads_raw_pixels_as_pixels():
    """Raw uint8 columns (as the app holds its training set) give the same check as pixels / 255, not 0..255."""
    rng = np.random.default_rng(3)
    raw = rng.integers(0, 256, (784, 6), dtype=np.uint8)
    y = rng.integers(0, 10, 6)
    params = init_params(5, np.random.default_rng(0), np.float64)
    assert gradient_check(params, raw, y) == gradient_check(params, raw / 255.0, y)
