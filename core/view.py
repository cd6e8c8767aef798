"""A run at one moment, read-only: what a training worker publishes and a page draws.

A `RunView` is run i of a `Trainer` frozen at a step boundary: its `RunState` (everything that
decides the rest of the run), the newest batch's gradients and the weights before the newest
update, and the data it trains on (shared, never copied). It answers the questions the Trainer
answers about run i (`params`, `history`, `dead_units()`, `dev_predictions()`, ...) from those
values only, so a reader in another thread never sees a half-made step. Building one copies no
array: the Trainer assigns new arrays at every update and never changes old ones in place.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from core.model import Params, Quirks, evaluate, predict_proba
from core.run import RunState
from core.train import History, Trainer, best_run


@dataclass(frozen=True, eq=False)
class RunView:
    """Run i of a Trainer at one moment.

    Shapes: X_train (784, m) (floats or raw uint8 pixels), y_train (m,), X_dev (784, d) as the run
    measures it, y_dev (d,); params as in core.model.
    """

    run: RunState
    grads: Params | None  # the newest batch's gradients (dW1 in .W1), None before the first step
    previous: Params | None  # the weights before the newest update
    batch_size: int
    X_train: np.ndarray
    y_train: np.ndarray
    X_dev: np.ndarray | None
    y_dev: np.ndarray | None
    rewind_point: RunState | None = None  # after a failure: the last healthy state before it (Trainer.rewind_point)

    @classmethod
    def of(cls, trainer: Trainer, i: int = 0) -> RunView:
        """Run i of `trainer` now (call it between steps, from the thread that steps it)."""
        grads, previous = trainer.newest_step(i)
        run = trainer.state(i)
        run = replace(run, params=run.params.map(_read_only))  # a reader cannot change the run's weights
        return cls(run, grads, previous, trainer.batch_size, trainer.X_train, trainer.y_train, trainer.X_dev,
                   trainer.y_dev, trainer.rewind_point if i == 0 else None)

    # ----- the Trainer's answers, from the values --------------------------------------------------
    def state(self, i: int = 0) -> RunState:
        """Everything that decides the rest of the run (what a run file holds); a view is one run, i = 0."""
        if i != 0:
            raise IndexError(f"a RunView holds one run, not run {i}")
        return self.run

    @property
    def config(self):
        return self.run.config

    @property
    def quirks(self) -> Quirks:
        return self.run.config.effective_quirks

    @property
    def params(self) -> Params:
        return self.run.params

    @property
    def iteration(self) -> int:
        return self.run.iteration

    @property
    def seconds(self) -> float:
        return self.run.seconds

    @property
    def lr(self) -> float:
        """The base α now (before decay)."""
        return self.run.lr

    def current_lr(self) -> float:
        """α for the next update, after decay."""
        return self.lr / (1 + self.config.lr_decay * self.iteration)

    @property
    def lr_changes(self) -> list[tuple[int, float]]:
        return list(self.run.lr_changes)

    @property
    def failure(self):
        return self.run.failure

    @property
    def m(self) -> int:
        return self.run.m

    @property
    def epoch(self) -> float:
        """Passes over the training set so far."""
        return self.iteration * self.batch_size / self.m

    @cached_property
    def history(self) -> History:
        return History.of(self.run.history)

    @property
    def snapshots(self) -> list[tuple[int, np.ndarray]]:
        """(iteration, W1) at log-spaced iterations."""
        return list(self.run.snapshots)

    @property
    def last_grads(self) -> Params | None:
        return self.grads

    @cached_property
    def last_update(self) -> Params | None:
        """The newest step's ΔW (new weights minus old), or None before the first step."""
        return None if self.previous is None else self.params.map(np.subtract, self.previous)

    def dead_units(self) -> np.ndarray:
        """(h,) bool: hidden units that never fired on the training rows at the last evaluation."""
        return ~self.run.active

    def dev_predictions(self) -> tuple[np.ndarray, np.ndarray]:
        """Predicted labels (d,) and probabilities (10, d) on the dev set."""
        if self.X_dev is None:
            raise ValueError("this run has no dev set")
        probs = predict_proba(self.params, self.X_dev, activation=self.config.activation)
        return probs.argmax(axis=0), probs

    def run_metrics(self) -> list[dict]:
        """[final_metrics()]: the Trainer's per-run answer for this one run."""
        return [self.final_metrics()]

    def final_metrics(self) -> dict:
        """Loss and accuracy on the whole training and dev sets, plus iterations and seconds."""
        shift, activation = not self.quirks.unshifted_softmax, self.config.activation
        with np.errstate(all="ignore"):  # a failed run's weights may overflow: NaN is the answer then
            train_loss, train_acc, _, _ = evaluate(self.params, self.X_train, self.y_train, shift, activation=activation)
            dev_loss = dev_acc = float("nan")
            if self.X_dev is not None:
                dev_loss, dev_acc, _, _ = evaluate(self.params, self.X_dev, self.y_dev, shift, activation=activation)
        return dict(train_loss=float(train_loss), train_accuracy=float(train_acc), dev_loss=float(dev_loss),
                    dev_accuracy=float(dev_acc), iterations=self.iteration, seconds=self.seconds)


@dataclass(frozen=True, eq=False)
class StackView:
    """Every run of a stacked Trainer (a learning-rate sweep) at one moment."""

    runs: tuple[RunView, ...]
    iteration: int
    seconds: float

    @classmethod
    def of(cls, trainer: Trainer) -> StackView:
        """All N runs of `trainer` now (from the thread that steps it)."""
        return cls(tuple(RunView.of(trainer, i) for i in range(trainer.size)), trainer.iteration, trainer.seconds)

    @property
    def size(self) -> int:
        return len(self.runs)

    @property
    def lrs(self) -> list[float]:
        """Each run's base α now."""
        return [run.lr for run in self.runs]

    @property
    def histories(self) -> list[History]:
        return [run.history for run in self.runs]

    @property
    def failures(self) -> list:
        return [run.failure for run in self.runs]

    @property
    def y_train(self) -> np.ndarray:
        return self.runs[0].y_train

    def state(self, i: int) -> RunState:
        """Run i as data."""
        return self.runs[i].run

    def best(self, metric: str = "dev_acc") -> int | None:
        """The best live run by `metric` at its last evaluation, or None."""
        return best_run(self.histories, self.failures, metric)

    def run_metrics(self) -> list[dict]:
        """Per run: loss and accuracy on the whole training and dev sets, iterations and seconds."""
        return [run.final_metrics() for run in self.runs]


def _read_only(array: np.ndarray) -> np.ndarray:
    """A view of `array` that cannot be written through (the array itself is untouched)."""
    view = array.view()
    view.flags.writeable = False
    return view
