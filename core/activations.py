"""The hidden layer's activation g and its derivative g', by name.

The notebook uses ReLU. The others are here to test its sentence "without the activation
function, the neural network ends up being just a fancy linear equation": with `identity`,
A1 = Z1 and the whole network is one affine map of x.

`derivative` takes both Z and A = g(Z) because sigmoid and tanh have their derivative in terms
of A (σ' = A(1 − A), tanh' = 1 − A²) and ReLU's is cheapest from Z (Z > 0).
"""

from __future__ import annotations

import numpy as np

ACTIVATIONS = ("relu", "identity", "sigmoid", "tanh")
FORMULAS = {  # (g, g') as the math view writes them
    "relu": (r"g(z) = \max(z, 0)", r"g'(z) = [z > 0]"),
    "identity": (r"g(z) = z", r"g'(z) = 1"),
    "sigmoid": (r"g(z) = \sigma(z) = \frac{1}{1 + e^{-z}}", r"g'(z) = \sigma(z)\,(1 - \sigma(z))"),
    "tanh": (r"g(z) = \tanh z", r"g'(z) = 1 - \tanh^2 z"),
}


def check(name: str) -> str:
    """`name` if it is an activation. Raises: ValueError listing the names."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {name!r}")
    return name


def apply(name: str, Z: np.ndarray) -> np.ndarray:
    """A = g(Z), element-wise, in Z's float type."""
    if name == "relu":
        return np.maximum(Z, 0)
    if name == "identity":
        return Z
    if name == "sigmoid":
        # 1 / (1 + e^-z) overflows for very negative z; this form is exact and never overflows
        E = np.exp(-np.abs(Z))
        return np.where(Z >= 0, 1 / (1 + E), E / (1 + E)).astype(Z.dtype, copy=False)
    check(name)
    return np.tanh(Z)


def derivative(name: str, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    """g'(Z), element-wise, given A = g(Z)."""
    if name == "relu":
        return (Z > 0).astype(Z.dtype)
    if name == "identity":
        return np.ones_like(Z)
    if name == "sigmoid":
        return A * (1 - A)
    check(name)
    return 1 - A * A


def passes_gradient(name: str, Z: np.ndarray) -> np.ndarray:
    """Where a unit lets gradient through (g'(Z) > 0): for ReLU, Z > 0; the others always do."""
    return Z > 0 if name == "relu" else np.ones(Z.shape, dtype=bool)
