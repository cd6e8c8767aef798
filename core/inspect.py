"""Looking inside the network: every tensor of one step, one digit's path, its pixel map, a gradient check."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.model import Cache, Params, Quirks, backward, cross_entropy, deltas, forward, one_hot, pixels


@dataclass(frozen=True)
class Explanation:
    """One image's way through the network.

    Shapes: x (784,), Z1/A1 (h,), contributions (10, h) = W2 * A1 (row k: what each hidden
    unit adds to logit k), Z2 (10,) = contributions.sum(1) + b2, probs (10,).
    """

    x: np.ndarray
    Z1: np.ndarray
    A1: np.ndarray
    contributions: np.ndarray
    Z2: np.ndarray
    probs: np.ndarray

    @property
    def prediction(self) -> int:
        """The most probable digit."""
        return int(self.probs.argmax())


def explain(params: Params, x: np.ndarray, activation: str = "relu") -> Explanation:
    """Forward one image and split each logit into its hidden units' contributions.

    Shapes: x (784,) pixels / 255.
    """
    cache = forward(params, x.reshape(784, 1).astype(params.dtype), activation=activation)
    A1 = cache.A1[:, 0]
    return Explanation(x.reshape(784), cache.Z1[:, 0], A1, params.W2 * A1, cache.Z2[:, 0], cache.A2[:, 0])


def score_gradient(params: Params, x: np.ndarray, k: int | None = None, activation: str = "relu") -> np.ndarray:
    """How much each pixel moves digit k's score: the gradient of Z2[k] with respect to x, as 28 x 28.

    k None: the predicted digit. Backprop from dZ2 = e_k instead of A2 - Y: dZ1 = W2ᵀ·dZ2 ∗ g'(Z1),
    then one more step down to the input, dx = W1ᵀ·dZ1. A positive pixel adds ink that raises
    the score. Shapes: x (784,) pixels / 255 (or raw uint8 pixels) -> (28, 28).
    Raises: ValueError for k outside 0..9.
    """
    cache = forward(params, pixels(x.reshape(784, 1), params.dtype), activation=activation)
    k = int(cache.Z2[:, 0].argmax()) if k is None else k
    if not 0 <= k < cache.Z2.shape[0]:
        raise ValueError(f"digit must be 0..{cache.Z2.shape[0] - 1}, got {k}")
    e_k = one_hot(np.array([k]), dtype=params.dtype)  # (10, 1)
    # The network's own backward step: deltas() starts from dZ2 = A2 - Y, so A2 = e_k, Y = 0.
    _, dZ1 = deltas(params, Cache(cache.Z1, cache.A1, cache.Z2, e_k), np.zeros_like(e_k),
                    activation=activation)  # (h, 1)
    return (params.W1.T @ dZ1).reshape(28, 28)  # dx (784, 1): row-major pixels, as the images are stored


def step_tensors(params: Params, X: np.ndarray, y: np.ndarray, quirks: Quirks = Quirks(),
                 activation: str = "relu") -> dict[str, np.ndarray]:
    """Every tensor of one gradient-descent step, by the notebook's names, for a math view.

    Shapes: X (784, m), y (m,) -> Z1, A1 (h, m); Z2, A2, Y, dZ2 (10, m); dW2 (10, h); db2 (10, 1);
    dZ1 (h, m); dW1 (h, 784); db1 (h, 1).
    """
    cache = forward(params, X, not quirks.unshifted_softmax, activation)
    Y = one_hot(y, dtype=params.dtype)
    scale = 2.0 if quirks.double_dZ2 else 1.0
    m = quirks.global_m or X.shape[1]
    grads = backward(params, X, cache, Y, m, scale, activation)
    dZ2, dZ1 = deltas(params, cache, Y, scale, activation)
    return dict(X=X, Z1=cache.Z1, A1=cache.A1, Z2=cache.Z2, A2=cache.A2, Y=Y, dZ2=dZ2, dW2=grads.W2,
                db2=grads.b2, dZ1=dZ1, dW1=grads.W1, db1=grads.b1)


def gradient_check(params: Params, X: np.ndarray, y: np.ndarray, eps: float = 1e-5, samples: int = 12,
                   seed: int = 0, activation: str = "relu") -> dict[str, float]:
    """Largest relative error, per tensor, between backprop and central differences.

    Works in float64 on `samples` randomly chosen entries of each of W1, b1, W2, b2: an error
    around 1e-7 or below means backward computes the true gradient of the mean cross-entropy.
    Shapes: X (784, m), y (m,).
    """
    p64 = params.map(lambda a: a.astype(np.float64))
    X = pixels(X, np.float64)  # raw uint8 columns are read as pixels / 255, like everywhere
    grads = backward(p64, X, forward(p64, X, activation=activation), one_hot(y, dtype=np.float64),
                     activation=activation).to_arrays()
    rng = np.random.default_rng(seed)
    errors = {}
    for name, base in p64.to_arrays().items():
        worst = 0.0
        for flat in rng.choice(base.size, min(samples, base.size), replace=False):
            idx = np.unravel_index(flat, base.shape)
            numeric = (_loss_with(p64, name, idx, eps, X, y, activation)
                       - _loss_with(p64, name, idx, -eps, X, y, activation)) / (2 * eps)
            analytic = grads[name][idx]
            worst = max(worst, abs(numeric - analytic) / max(abs(numeric) + abs(analytic), 1e-8))
        errors[name] = worst
    return errors


def _loss_with(params: Params, name: str, idx: tuple, delta: float, X: np.ndarray, y: np.ndarray,
               activation: str = "relu") -> float:
    """Mean cross-entropy after nudging one entry of one tensor by `delta`."""
    arrays = params.to_arrays()
    nudged = arrays[name].copy()
    nudged[idx] += delta
    return cross_entropy(forward(Params(**{**arrays, name: nudged}), X, activation=activation).Z2, y)
