"""Learning-rate sweeps and the learning-rate range test.

A `Sweep` is a `Trainer` over N runs that differ only in α: the same initial weights, the same
data order, in lockstep, stacked along a leading axis and trained as one batched network (so
each batch of X is read once for all of them). A run that diverges or collapses stops with its
failure; the others go on. Any run continues on its own, exactly: `sweep.to_trainer(i)`.
"""

from __future__ import annotations

import math
import time
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


@dataclass(frozen=True)
class RangeResult:
    """What a range test has measured so far: α and the batch loss at each step, training time."""

    lrs: tuple[float, ...]
    losses: tuple[float, ...]
    seconds: float


class RangeTest:
    """The range test as an engine that is advanced from outside, like a Trainer: one step per α, each α a
    constant factor above the last, from lr_min towards lr_max, until the loss blows up."""

    def __init__(self, config: TrainConfig, X: np.ndarray, y: np.ndarray, lr_min: float = 1e-4,
                 lr_max: float = 10.0, steps: int = 100):
        self.trainer = Trainer(config.with_(lr=lr_min, iterations=steps, eval_every=steps + 1), X, y)
        self.schedule = np.geomspace(lr_min, lr_max, steps)
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.blown_up = False

    @property
    def iteration(self) -> int:
        return self.trainer.iteration

    @property
    def seconds(self) -> float:
        return self.trainer.seconds

    @property
    def done(self) -> bool:
        """Every α tried, or the loss blew up."""
        return self.blown_up or self.iteration >= self.schedule.size

    def step(self, n: int | None = None, deadline: float | None = None) -> int:
        """Take up to `n` steps of the schedule (None: all), stopping at `time.perf_counter() >= deadline`."""
        made = 0
        while not self.done and (n is None or made < n) and (deadline is None or time.perf_counter() < deadline):
            lr = float(self.schedule[self.iteration])
            self.trainer.set_lr(lr)
            self.trainer.step(1)
            made += 1
            loss = self.trainer.last_loss
            if loss is None or not math.isfinite(loss):
                self.blown_up = True
                break
            self.lrs.append(lr)
            self.losses.append(loss)
            self.blown_up = self.trainer.failure is not None
        return made

    def result(self) -> RangeResult:
        """What it measured so far (a value: later steps do not change it)."""
        return RangeResult(tuple(self.lrs), tuple(self.losses), self.seconds)


def lr_range_test(config: TrainConfig, X: np.ndarray, y: np.ndarray, lr_min: float = 1e-4,
                  lr_max: float = 10.0, steps: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """One run whose α grows exponentially from lr_min to lr_max, one step each, until it blows up.

    Returns (learning rates, batch loss at each) for the steps taken.
    """
    test = RangeTest(config, X, y, lr_min, lr_max, steps)
    test.step()
    return np.array(test.lrs), np.array(test.losses)


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
