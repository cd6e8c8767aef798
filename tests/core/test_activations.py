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
