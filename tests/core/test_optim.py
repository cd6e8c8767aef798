"""The update rules: what they compute, and that they leave the arrays they are given alone."""

import numpy as np
import pytest

from core.model import init_params
from core.optim import init_optimizer, update


@pytest.mark.parametrize("optimizer", ["plain", "momentum"])
def test_descent_is_W_minus_lr_dW_bit_for_bit_in_new_arrays(optimizer):
    """Plain and momentum steps equal W - α·v exactly, in float32, as new arrays; the inputs are unchanged."""
    rng = np.random.default_rng(0)
    params = init_params(10, rng)
    grads = params.map(lambda a: rng.standard_normal(a.shape).astype(a.dtype))
    before = params.map(np.copy), grads.map(np.copy)
    state = init_optimizer(optimizer, params)
    new, _ = update(params, grads, state, 0.3)
    # momentum's first velocity is the gradient itself (v = β·0 + dW)
    expected = params.map(lambda W, dW: W - 0.3 * dW, grads)
    for got, want, W, old_W, dW, old_dW in zip(new.to_arrays().values(), expected.to_arrays().values(),
                                                params.to_arrays().values(), before[0].to_arrays().values(),
                                                grads.to_arrays().values(), before[1].to_arrays().values()):
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want)
        assert got is not W and not np.shares_memory(got, W) and not np.shares_memory(got, dW)
        np.testing.assert_array_equal(W, old_W)
        np.testing.assert_array_equal(dW, old_dW)
