"""Learning-rate sweeps and the learning-rate range test.

A `Sweep` trains N runs that differ only in α: the same initial weights, the same data order,
in lockstep. The runs are stacked along a leading axis and trained as one batched network, so
each batch of X is read once for all of them (see core.model). A run that diverges or collapses
is marked and frozen; the others go on.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from core.config import TrainConfig
from core.model import Params, evaluate, gradients
from core.optim import OptimizerState, init_optimizer, update
from core.train import (TRAIN_EVAL_ROWS, BatchOrder, History, Trainer, collapsed, dev_as_measured, diagnose,
                        initial_params, nan_message)


def log_spaced(low: float = 0.01, high: float = 3.0, count: int = 7) -> list[float]:
    """`count` learning rates evenly spaced on a log scale, rounded to 2 significant digits."""
    return [float(f"{lr:.2g}") for lr in np.geomspace(low, high, count)]


class Sweep:
    """N runs of one config at different learning rates, advanced together.

    Shapes: stacked parameters W1 (N, h, 784), b1 (N, h, 1), W2 (N, 10, h), b2 (N, 10, 1).
    """

    def __init__(self, config: TrainConfig, lrs: list[float], X_train: np.ndarray, y_train: np.ndarray,
                 X_dev: np.ndarray | None = None, y_dev: np.ndarray | None = None):
        if not lrs or any(not (math.isfinite(lr) and lr > 0) for lr in lrs):
            raise ValueError(f"learning rates must be positive numbers, got {lrs}")
        self.config, self.quirks, self.lrs = config, config.effective_quirks, [float(lr) for lr in lrs]
        start = initial_params(config)
        self.params = start.map(lambda a: np.repeat(a[None], len(lrs), axis=0))  # (N, ...)
        self.opt_state = init_optimizer(config.optimizer, self.params)
        self.X_train, self.y_train = X_train, y_train
        self.X_dev, self.y_dev = dev_as_measured(X_dev, self.quirks), y_dev
        self._order = BatchOrder(y_train.size, config.batch_size, config.seed)
        self.iteration, self.seconds = 0, 0.0
        self.failures: list[str | None] = [None] * len(lrs)
        self.failed_at: list[int | None] = [None] * len(lrs)  # iteration at which each run stopped
        self.histories = [History() for _ in lrs]
        self._start_loss: np.ndarray | None = None
        self.record()

    @property
    def size(self) -> int:
        """Number of runs N."""
        return len(self.lrs)

    @property
    def done(self) -> bool:
        """Every run failed, or the configured iterations are reached."""
        return all(self.failures) or self.iteration >= self.config.iterations

    def step(self, n: int = 1, deadline: float | None = None) -> int:
        """Advance all live runs by up to `n` updates; returns the updates made."""
        done = 0
        while done < n and not all(self.failures) and (deadline is None or time.perf_counter() < deadline):
            start, before = time.perf_counter(), self.iteration
            self._update()
            self.seconds += time.perf_counter() - start
            if self.iteration == before:  # every run stopped before this update
                break
            done += 1
            if self.iteration % self.config.eval_every == 0:
                self.record()
        return done

    def _lr_column(self) -> np.ndarray:
        """This step's α per run after decay, shaped (N, 1, 1) to scale stacked arrays."""
        decay = 1 + self.config.lr_decay * self.iteration
        return (np.array(self.lrs) / decay).reshape(-1, 1, 1)

    def _update(self) -> None:
        X, y = self._order.next(self.X_train, self.y_train)
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # failing runs are diagnosed below
                result = gradients(self.params, X, y, self.quirks)
        except ValueError as error:  # the one-hot quirk on a batch without 9s stops every run
            self._fail(self._live(), f"iteration {self.iteration}: {error}")
            return
        if self._start_loss is None:
            self._start_loss = result.loss
        grads = result.grads.to_arrays().values()
        finite = np.logical_and.reduce([np.isfinite(g).all(axis=(1, 2)) for g in grads])
        lr = self._lr_column()
        for i in self._live():
            self._fail([i], diagnose(result.loss[i], finite[i], result.active[i], lr[i, 0, 0],
                                     self.iteration, self._start_loss[i], self.quirks))
        with np.errstate(over="ignore", invalid="ignore"):
            new, state = update(self.params, result.grads, self.opt_state, lr, beta1=self.config.momentum)
        ok = np.logical_and.reduce([np.isfinite(a).all(axis=(1, 2)) for a in new.to_arrays().values()])
        for i in self._live():
            if not ok[i]:
                self._fail([i], nan_message(self.lrs[i], self.iteration, self.quirks))
        keep = np.array([f is None for f in self.failures]).reshape(-1, 1, 1)
        # failed runs keep their last good weights; live runs move on
        self.params = new.map(lambda n, o: np.where(keep, n, o), self.params)
        self.opt_state = OptimizerState(state.kind, state.step, *(
            None if s is None else s.map(lambda n, o: np.where(keep, n, o), old)
            for s, old in ((state.velocity, self.opt_state.velocity), (state.second, self.opt_state.second))))
        self.iteration += 1

    def _fail(self, runs: list[int], reason: str | None) -> None:
        """Mark these runs failed (when there is a reason) at the current iteration."""
        for i in runs if reason else ():
            self.failures[i], self.failed_at[i] = reason, self.iteration

    def _live(self) -> list[int]:
        return [i for i, f in enumerate(self.failures) if f is None]

    def record(self) -> None:
        """Evaluate every live run on train (up to TRAIN_EVAL_ROWS rows) and dev into its history."""
        rows = min(self.y_train.size, TRAIN_EVAL_ROWS)
        shift = not self.quirks.unshifted_softmax
        train_loss, train_acc, _, active = evaluate(self.params, self.X_train[:, :rows], self.y_train[:rows], shift)
        dev_loss = dev_acc = np.full(self.size, np.nan)
        if self.X_dev is not None and not self.quirks.train_accuracy_only:
            dev_loss, dev_acc, _, _ = evaluate(self.params, self.X_dev, self.y_dev, shift)
        epoch = self.iteration * self._order.batch_size / self.y_train.size
        for i in self._live():
            self.histories[i].append(dict(
                iteration=self.iteration, epoch=epoch, lr=float(self._lr_column()[i, 0, 0]),
                train_loss=float(train_loss[i]), train_acc=float(train_acc[i]), dev_loss=float(dev_loss[i]),
                dev_acc=float(dev_acc[i]), dead_fraction=float(1 - active[i].mean()), seconds=self.seconds))
            self._fail([i], collapsed(self.histories[i].rows, self.config.hidden, self.lrs[i]))

    def final_metrics(self) -> list[dict]:
        """Per run: loss and accuracy on the whole training and dev sets, iterations and seconds."""
        shift = not self.quirks.unshifted_softmax
        train_loss, train_acc, _, _ = evaluate(self.params, self.X_train, self.y_train, shift)
        dev_loss = dev_acc = np.full(self.size, np.nan)
        if self.X_dev is not None:
            dev_loss, dev_acc, _, _ = evaluate(self.params, self.X_dev, self.y_dev, shift)
        return [dict(train_loss=float(train_loss[i]), train_accuracy=float(train_acc[i]),
                     dev_loss=float(dev_loss[i]), dev_accuracy=float(dev_acc[i]),
                     iterations=self.iteration if self.failed_at[i] is None else self.failed_at[i],
                     seconds=self.seconds) for i in range(self.size)]

    def best(self, metric: str = "dev_acc") -> int | None:
        """Index of the best run by `metric` (dev_acc: highest; dev_loss/train_loss: lowest), failed runs last."""
        sign = 1 if metric.endswith("acc") else -1
        scores = [sign * h.last[metric] if h.last and self.failures[i] is None and not math.isnan(h.last[metric])
                  else -math.inf for i, h in enumerate(self.histories)]
        return int(np.argmax(scores)) if max(scores) > -math.inf else None

    def run_params(self, i: int) -> Params:
        """Run i's current weights as an ordinary (unstacked) network."""
        return self.params.map(lambda a: a[i])

    def to_trainer(self, i: int) -> Trainer:
        """Run i as a Trainer that continues where the sweep left it (weights, history, α)."""
        config = self.config.with_(lr=self.lrs[i])
        trainer = Trainer(config, self.X_train, self.y_train, self.X_dev, self.y_dev, params=self.run_params(i))
        trainer.history.rows = list(self.histories[i].rows)
        trainer.iteration, trainer.seconds = self.iteration, self.seconds
        trainer.failure = self.failures[i]
        if self.opt_state.velocity is not None:
            trainer.opt_state = OptimizerState(self.opt_state.kind, self.opt_state.step,
                                               *(None if s is None else s.map(lambda a: a[i])
                                                 for s in (self.opt_state.velocity, self.opt_state.second)))
        return trainer


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
