"""Learning-rate sweeps and the learning-rate range test.

A `Sweep` is a `Trainer` over N runs that differ only in α: the same initial weights, the same
data order, in lockstep, stacked along a leading axis and trained as one batched network (so
each batch of X is read once for all of them). A run that diverges or collapses stops with its
failure; the others go on. Any run continues on its own, exactly: `sweep.to_trainer(i)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.config import TrainConfig
from core.train import Trainer


def log_spaced(low: float = 0.01, high: float = 3.0, count: int = 7) -> list[float]:
    """`count` learning rates evenly spaced on a log scale, rounded to 2 significant digits."""
    return [float(f"{lr:.2g}") for lr in np.geomspace(low, high, count)]


class Sweep(Trainer):
    """N runs of one config at different learning rates, advanced together (a stacked `Trainer`)."""

    def __init__(self, config: TrainConfig, lrs: list[float], X_train: np.ndarray, y_train: np.ndarray,
                 X_dev: np.ndarray | None = None, y_dev: np.ndarray | None = None):
        super().__init__(config, X_train, y_train, X_dev, y_dev, lrs=lrs)

    def to_trainer(self, i: int) -> Trainer:
        """Run i on its own, continuing exactly where the sweep has it (its next step is the sweep's)."""
        return Trainer.from_state(self.state(i), self.X_train, self.y_train, self._X_dev_given, self.y_dev)


@dataclass(frozen=True)
class RangeSuggestion:
    """What the range test suggests: α at the steepest descent, and the steep stretch around it."""

    lr: float
    low: float
    high: float


def lr_range_test(config: TrainConfig, X: np.ndarray, y: np.ndarray, lr_min: float = 1e-4,
                  lr_max: float = 10.0, steps: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """One run whose α grows exponentially from lr_min to lr_max, one step each, until it blows up.

    Returns (learning rates, batch loss at each) for the steps taken.
    """
    trainer = Trainer(config.with_(lr=lr_min, iterations=steps, eval_every=steps + 1), X, y)
    lrs, losses = [], []
    for lr in np.geomspace(lr_min, lr_max, steps):
        trainer.set_lr(float(lr))
        trainer.step(1)
        if trainer.last_loss is None or not math.isfinite(trainer.last_loss):
            break
        lrs.append(float(lr))
        losses.append(trainer.last_loss)
        if trainer.failure:
            break
    return np.array(lrs), np.array(losses)


def suggest_lr(lrs: np.ndarray, losses: np.ndarray, beta: float = 0.8) -> RangeSuggestion | None:
    """The steepest descent of the smoothed loss (per log α) before its minimum, or None if none.

    The steep stretch is where the slope is at least half the steepest, around that point.
    """
    if len(lrs) < 5:
        return None
    smooth = _ema(np.asarray(losses, dtype=float), beta)
    end = int(np.argmin(smooth)) + 1  # past the minimum the loss is blowing up
    if end < 3:
        return None
    slope = np.gradient(smooth[:end], np.log10(lrs[:end]))
    steepest = int(np.argmin(slope))
    if slope[steepest] >= 0:
        return None
    steep = slope <= slope[steepest] / 2
    low = high = steepest
    while low > 0 and steep[low - 1]:
        low -= 1
    while high < end - 1 and steep[high + 1]:
        high += 1
    return RangeSuggestion(float(lrs[steepest]), float(lrs[low]), float(lrs[high]))


def _ema(values: np.ndarray, beta: float) -> np.ndarray:
    """Exponential moving average with bias correction (the first values are not pulled to 0)."""
    out, avg = np.empty_like(values), 0.0
    for i, v in enumerate(values):
        avg = beta * avg + (1 - beta) * v
        out[i] = avg / (1 - beta ** (i + 1))
    return out
