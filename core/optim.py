"""Update rules written from scratch: plain gradient descent, momentum and Adam.

Each is a pure function of (params, grads, state, lr) returning new params and a new state;
no array is changed in place, so a caller may keep holding the old ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.model import Params

OPTIMIZERS = ("plain", "momentum", "adam")


@dataclass(frozen=True)
class OptimizerState:
    """Step count and the running averages an optimizer keeps (None where unused)."""

    kind: str
    step: int = 0
    velocity: Params | None = None  # momentum: v; Adam: first moment
    second: Params | None = None  # Adam: second moment


def init_optimizer(kind: str, params: Params) -> OptimizerState:
    """A fresh state for optimizer `kind` (one of OPTIMIZERS). Raises: ValueError for another name."""
    if kind not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {kind!r}: expected one of {', '.join(OPTIMIZERS)}")
    zeros = params.map(np.zeros_like) if kind != "plain" else None
    return OptimizerState(kind, 0, zeros, zeros if kind == "adam" else None)


def update(params: Params, grads: Params, state: OptimizerState, lr, beta1: float = 0.9,
           beta2: float = 0.999, eps: float = 1e-8) -> tuple[Params, OptimizerState]:
    """One step: W -= lr·dW (plain), heavy-ball momentum with `beta1`, or Adam."""
    # A Python float keeps float32 arrays float32 (NumPy 2 promotion); a sweep passes one α per
    # stacked run as an (N, 1, 1) array, cast to the parameters' dtype where it meets them, so
    # that each run of a stack steps exactly like a single run with that α.
    stacked = np.ndim(lr) != 0
    lr64 = np.asarray(lr, dtype=np.float64) if stacked else float(lr)
    lr = lr64.astype(params.dtype) if stacked else lr64
    if state.kind == "plain":
        return params.map(lambda p, g: p - lr * g, grads), OptimizerState("plain", state.step + 1)
    if state.kind == "momentum":
        v = state.velocity.map(lambda v, g: beta1 * v + g, grads)
        return params.map(lambda p, v: p - lr * v, v), OptimizerState("momentum", state.step + 1, v)
    t = state.step + 1
    m1 = state.velocity.map(lambda m, g: beta1 * m + (1 - beta1) * g, grads)
    m2 = state.second.map(lambda s, g: beta2 * s + (1 - beta2) * g * g, grads)
    step = lr64 * (1 - beta2**t) ** 0.5 / (1 - beta1**t)  # bias corrections folded into the step size
    step = step.astype(params.dtype) if stacked else step  # in float64 first, as for a single run
    new = params.map(lambda p, m, s: p - step * m / (np.sqrt(s) + eps), m1, m2)
    return new, OptimizerState("adam", t, m1, m2)
