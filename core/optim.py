"""Update rules written from scratch: plain gradient descent, momentum and Adam.

Each is a pure function of (params, grads, state, lr) returning new params and a new state;
no array is changed in place, so a caller may keep holding the old ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.model import Params

OPTIMIZERS = ("plain", "momentum", "adam")
# Each optimizer's usual starting α. Adam: 0.001, the default of Kingma & Ba (2015), "Adam", Algorithm 1.
# Momentum with β = 0.9 moves about 1/(1 − β) = 10 gradients per step, so it starts at a tenth of
# plain gradient descent's 0.1 (the dashboard's default) for the same step size.
USUAL_LR = {"plain": 0.1, "momentum": 0.01, "adam": 0.001}


@dataclass(frozen=True)
class OptimizerState:
    """Step count and the running averages an optimizer keeps (None where unused)."""

    kind: str
    step: int = 0
    velocity: Params | None = None  # momentum: v; Adam: first moment
    second: Params | None = None  # Adam: second moment


def init_optimizer(kind: str, params: Params | np.ndarray) -> OptimizerState:
    """A fresh state for optimizer `kind` (one of OPTIMIZERS). Raises: ValueError for another name."""
    if kind not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {kind!r}: expected one of {', '.join(OPTIMIZERS)}")
    zeros = _each(np.zeros_like, params) if kind != "plain" else None
    return OptimizerState(kind, 0, zeros, zeros if kind == "adam" else None)


def _each(fn, first, *others):
    """fn array by array over `Params`, or once on plain arrays.

    The Trainer keeps a stack's four parameters side by side in one (N, P) array (see
    core.train), so that each rule below is a handful of NumPy calls per step instead of four
    times as many; the math is the same either way.
    """
    return first.map(fn, *others) if isinstance(first, Params) else fn(first, *others)


def _descend(W: np.ndarray, lr, dW: np.ndarray) -> np.ndarray:
    """W - lr·dW as a new array: -lr·dW, then W added into it (bit for bit the same numbers).

    `W - lr * dW` makes two arrays of W's size, this one: on a small batch each is a
    noticeable share of the step (tests/bench.py).
    """
    new = np.multiply(dW, -lr)
    new += W
    return new


def update(params, grads, state: OptimizerState, lr, beta1: float = 0.9, beta2: float = 0.999,
           eps: float = 1e-8) -> tuple[Params, OptimizerState]:
    """One step: W -= lr·dW (plain), heavy-ball momentum with `beta1`, or Adam.

    `params`, `grads` and the state's moments are all `Params` or all plain arrays of one layout.
    """
    # A Python float keeps float32 arrays float32 (NumPy 2 promotion); a sweep passes one α per
    # stacked run as an array shaped to broadcast over its run axis ((N, 1, 1) for Params, (N, 1)
    # for a Trainer's (N, P) array), cast to the parameters' dtype where it meets them, so that
    # each run of a stack steps exactly like a single run with that α.
    stacked = isinstance(lr, np.ndarray) and lr.ndim != 0  # not np.ndim: it costs a call through Python per step
    lr64 = np.asarray(lr, dtype=np.float64) if stacked else float(lr)
    lr = lr64.astype(params.dtype) if stacked else lr64
    if state.kind == "plain":
        return _each(lambda p, g: _descend(p, lr, g), params, grads), OptimizerState("plain", state.step + 1)
    if state.kind == "momentum":
        v = _each(lambda v, g: beta1 * v + g, state.velocity, grads)
        return _each(lambda p, v: _descend(p, lr, v), params, v), OptimizerState("momentum", state.step + 1, v)
    t = state.step + 1
    m1 = _each(lambda m, g: beta1 * m + (1 - beta1) * g, state.velocity, grads)
    m2 = _each(lambda s, g: beta2 * s + (1 - beta2) * g * g, state.second, grads)
    step = lr64 * (1 - beta2**t) ** 0.5 / (1 - beta1**t)  # bias corrections folded into the step size
    step = step.astype(params.dtype) if stacked else step  # in float64 first, as for a single run
    new = _each(lambda p, m, s: p - step * m / (np.sqrt(s) + eps), params, m1, m2)
    return new, OptimizerState("adam", t, m1, m2)
