"""The training loop, driven from outside: advance N steps on request, record, explain failures.

A `Trainer` owns one run: its parameters, optimizer state, learning-rate changes, history and,
when training breaks down, a plain-English `failure`. The dashboard, the CLI and the tests
drive it the same way; each parameter update assigns new arrays (nothing is changed in place),
so a caller can keep drawing the previous ones.
"""

from __future__ import annotations

import math
import time

import numpy as np

from core.config import TrainConfig
from core.metrics import confusion_matrix, dead_fraction
from core.model import Params, Quirks, evaluate, gradients, init_params, predict_proba
from core.optim import init_optimizer, update

TRAIN_EVAL_ROWS = 10_000  # train metrics on at most this many (already shuffled) rows
MAX_SNAPSHOTS = 64
EXPLODE_FACTOR = 4.0  # loss above this multiple of max(start loss, ln 10) counts as exploding
COLLAPSE_WINDOW = 100  # iterations at chance accuracy with most neurons dead = collapsed
CHANCE_ACCURACY = 0.25  # "at chance": 10% is guessing, 25% leaves room for noise
HISTORY_FIELDS = ("iteration", "epoch", "lr", "train_loss", "train_acc", "dev_loss", "dev_acc",
                  "dead_fraction", "seconds")


def effective_lr(lr: float, m: int, quirks: Quirks) -> float:
    """The step size the notebook's quirks really take: lr·2·m/global_m on a batch of m rows."""
    scale = 2.0 if quirks.double_dZ2 else 1.0
    return lr * scale * (m / quirks.global_m if quirks.global_m else 1.0)


def initial_params(config: TrainConfig) -> Params:
    """The run's starting weights: the same for every run with the same seed, hidden size and mode."""
    init_rng = np.random.default_rng(config.seed).spawn(2)[0]
    return init_params(config.hidden, init_rng, config.dtype, config.effective_quirks.uniform_init)


class BatchOrder:
    """Which training rows each update uses: all of them, or shuffled mini-batches per epoch."""

    def __init__(self, m: int, batch_size: int | None, seed: int):
        self.m, self.batch_size = m, min(batch_size or m, m)
        self._rng = np.random.default_rng(seed).spawn(2)[1]
        self._perm, self._cursor = np.arange(0), 0

    def next(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The next batch of (X, y); reshuffles at each new epoch."""
        if self.batch_size >= self.m:
            return X, y
        if self._cursor >= self._perm.size:
            self._perm, self._cursor = self._rng.permutation(self.m), 0
        idx = self._perm[self._cursor:self._cursor + self.batch_size]
        self._cursor += idx.size
        # X.T is (m, 784) with examples contiguous: gathering rows copies whole rows at once
        return X.T[idx].T, y[idx]


def diagnose(loss: float, finite: bool, active: np.ndarray, lr: float, iteration: int, start_loss: float,
             quirks: Quirks) -> str | None:
    """Why training must stop after this batch, in plain English, or None when it looks healthy.

    `finite`: all gradients are finite; `active` (h,): hidden units that fired on the batch.
    """
    if not finite or not math.isfinite(loss):
        return nan_message(lr, iteration, quirks)
    if not active.any():
        return (f"all {active.size} hidden neurons died at iteration {iteration} with α = {lr:.3g}: "
                f"every ReLU outputs 0 on every training image, so no gradient can bring them "
                f"back and the loss is stuck near chance (ln 10 ≈ 2.303). Reset and try α ≤ {_suggest(lr)}.")
    if loss > EXPLODE_FACTOR * max(start_loss, math.log(10)):
        return (f"the loss exploded to {loss:.3g} at iteration {iteration} with α = {lr:.3g} "
                f"(it started at {start_loss:.3g}). Reset and try α ≤ {_suggest(lr)}.")
    return None


def nan_message(lr: float, iteration: int, quirks: Quirks) -> str:
    """The explanation for a loss or weights that became NaN/inf."""
    cause = ("the unshifted softmax overflowed (exp of a large logit)" if quirks.unshifted_softmax
             else "the weights blew up")
    return (f"training diverged at iteration {iteration} with α = {lr:.3g}: {cause} and the "
            f"loss became NaN. Reset and try α ≤ {_suggest(lr)}.")


def collapsed(rows: list[dict], hidden: int, lr: float) -> str | None:
    """Most hidden units dead and accuracy at chance for COLLAPSE_WINDOW iterations: a reason, or None."""
    last = rows[-1]
    recent = [r for r in rows if r["iteration"] >= last["iteration"] - COLLAPSE_WINDOW]
    if (last["iteration"] < COLLAPSE_WINDOW or len(recent) < 3 or last["dead_fraction"] < 0.5
            or any(r["train_acc"] > CHANCE_ACCURACY for r in recent)):
        return None
    dead = round(last["dead_fraction"] * hidden)
    return (f"the network collapsed by iteration {last['iteration']} with α = {lr:.3g}: {dead} of "
            f"{hidden} hidden neurons are dead and training accuracy has stayed at chance level "
            f"(≤ {CHANCE_ACCURACY:.0%}) for {COLLAPSE_WINDOW} iterations. Reset and try α ≤ {_suggest(lr)}.")


def dev_as_measured(X_dev: np.ndarray | None, quirks: Quirks) -> np.ndarray | None:
    """The dev set as the run evaluates it: as given, or unscaled (0..255) under that quirk."""
    if X_dev is not None and quirks.unscaled_dev:
        return X_dev * 255  # the notebook forgot to divide the dev set by 255
    return X_dev


class History:
    """Evaluations recorded during training, one row per `eval_every` iterations."""

    def __init__(self):
        self.rows: list[dict] = []

    def __len__(self) -> int:
        return len(self.rows)

    def append(self, row: dict) -> None:
        """Add one evaluation row (keys: HISTORY_FIELDS)."""
        self.rows.append(row)

    def column(self, name: str) -> np.ndarray:
        """One field over time as an array."""
        return np.array([row[name] for row in self.rows], dtype=float)

    @property
    def last(self) -> dict | None:
        """The newest row, or None."""
        return self.rows[-1] if self.rows else None


class Trainer:
    """One training run over fixed data, advanced `step(n)` iterations at a time.

    Shapes: X_train (784, m), y_train (m,), X_dev (784, d), y_dev (d,); X float, pixels / 255.
    """

    def __init__(self, config: TrainConfig, X_train: np.ndarray, y_train: np.ndarray,
                 X_dev: np.ndarray | None = None, y_dev: np.ndarray | None = None,
                 params: Params | None = None):
        if X_train.shape != (784, y_train.size) or y_train.size == 0:
            raise ValueError(f"X_train must be (784, m) with m = len(y_train) >= 1, got {X_train.shape}")
        self.config, self.quirks = config, config.effective_quirks
        if params is None:
            params = initial_params(config)
        elif params.hidden != config.hidden:
            raise ValueError(f"loaded weights have {params.hidden} hidden units, the settings say {config.hidden}")
        self.params = params.map(lambda a: a.astype(config.dtype))
        self.opt_state = init_optimizer(config.optimizer, self.params)
        self.X_train, self.y_train = X_train, y_train
        self.X_dev, self.y_dev = dev_as_measured(X_dev, self.quirks), y_dev
        self.lr = config.lr
        self.iteration = 0
        self.seconds = 0.0
        self.history = History()
        self.lr_changes: list[tuple[int, float]] = [(0, config.lr)]
        self.failure: str | None = None
        self.snapshots: list[tuple[int, np.ndarray]] = []
        self._next_snapshot = 0
        self._order = BatchOrder(self.m, config.batch_size, config.seed)
        self.last_loss: float | None = None  # the loss of the newest batch, before its update
        self._start_loss: float | None = None
        self.record()

    # ----- driving -----------------------------------------------------------------------
    @property
    def m(self) -> int:
        """Number of training examples."""
        return self.y_train.size

    @property
    def batch_size(self) -> int:
        """Examples per update (all of them in full-batch mode)."""
        return self._order.batch_size

    @property
    def epoch(self) -> float:
        """Passes over the training set so far."""
        return self.iteration * self.batch_size / self.m

    @property
    def done(self) -> bool:
        """Failed, or reached the configured number of iterations."""
        return self.failure is not None or self.iteration >= self.config.iterations

    def current_lr(self) -> float:
        """The learning rate for the next update, after decay."""
        return self.lr / (1 + self.config.lr_decay * self.iteration)

    def set_lr(self, lr: float) -> None:
        """Change the learning rate from the next step on; the change is recorded.

        Raises: ValueError for a learning rate that is not a positive finite number.
        """
        if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
            raise ValueError(f"learning rate must be a positive number, got {lr!r}")
        if lr != self.lr:
            self.lr = float(lr)
            if self.lr_changes[-1][0] == self.iteration:
                self.lr_changes[-1] = (self.iteration, self.lr)
            else:
                self.lr_changes.append((self.iteration, self.lr))

    def step(self, n: int = 1, deadline: float | None = None) -> int:
        """Run up to `n` updates (stopping early on failure or at `time.perf_counter() >= deadline`).

        Returns the number of updates made.
        """
        done = 0
        while done < n and self.failure is None and (deadline is None or time.perf_counter() < deadline):
            start = time.perf_counter()
            self._update()
            self.seconds += time.perf_counter() - start
            if self.failure is not None:  # the update was refused: it does not count
                break
            done += 1
            if self.iteration % self.config.eval_every == 0:
                self.record()
        return done

    def _update(self) -> None:
        X, y = self._order.next(self.X_train, self.y_train)
        lr = self.current_lr()
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # NaN/inf are caught below, in words
                result = gradients(self.params, X, y, self.quirks)
        except ValueError as error:  # the one-hot quirk on a batch without 9s
            self.failure = f"iteration {self.iteration}: {error}"
            return
        self.last_loss = result.loss
        self._start_loss = self._start_loss if self._start_loss is not None else result.loss
        self.failure = self._diagnose(result.loss, result.active, result.grads, lr)
        if self.failure is not None:
            return
        with np.errstate(over="ignore", invalid="ignore"):
            params, state = update(self.params, result.grads, self.opt_state, lr, beta1=self.config.momentum)
        if not all(np.isfinite(a).all() for a in params.to_arrays().values()):
            self.failure = self._nan_message(lr)
            return
        self.params, self.opt_state = params, state  # one assignment: readers see old or new
        self.iteration += 1
        self._maybe_snapshot()

    # ----- failure detection -----------------------------------------------------------------
    def _diagnose(self, loss: float, active: np.ndarray, grads: Params, lr: float) -> str | None:
        """A plain-English reason to stop, or None when training looks healthy."""
        finite = all(np.isfinite(g).all() for g in grads.to_arrays().values())
        return diagnose(loss, finite, active, lr, self.iteration, self._start_loss, self.quirks)

    def _nan_message(self, lr: float) -> str:
        return nan_message(lr, self.iteration, self.quirks)

    # ----- recording -----------------------------------------------------------------------------
    def record(self) -> dict:
        """Evaluate train (up to TRAIN_EVAL_ROWS rows) and dev loss/accuracy into the history."""
        rows = min(self.m, TRAIN_EVAL_ROWS)
        shift = not self.quirks.unshifted_softmax
        train_loss, train_acc, _, active = evaluate(self.params, self.X_train[:, :rows], self.y_train[:rows], shift)
        dev_loss = dev_acc = float("nan")
        if self.X_dev is not None and not self.quirks.train_accuracy_only:
            dev_loss, dev_acc, _, _ = evaluate(self.params, self.X_dev, self.y_dev, shift)
        row = dict(iteration=self.iteration, epoch=self.epoch, lr=self.current_lr(),
                   train_loss=train_loss, train_acc=train_acc, dev_loss=dev_loss, dev_acc=dev_acc,
                   dead_fraction=dead_fraction(active), seconds=self.seconds)
        self.history.append(row)
        if self.iteration == 0:
            self._maybe_snapshot()
        self.failure = self.failure or collapsed(self.history.rows, self.params.hidden, self.lr)
        return row

    def _maybe_snapshot(self) -> None:
        """Keep W1 at log-spaced iterations (0, 1, 2, 3, 4, 5, 7, 9, ...), at most MAX_SNAPSHOTS."""
        if self.iteration < self._next_snapshot:
            return
        self.snapshots.append((self.iteration, self.params.W1))  # W1 is never mutated: no copy
        self._next_snapshot = max(self.iteration + 1, math.ceil(self.iteration * 1.25))
        if len(self.snapshots) > MAX_SNAPSHOTS:  # thin out, keeping the first and the newest
            self.snapshots = self.snapshots[:-1:2] + self.snapshots[-1:]

    # ----- looking at the current network --------------------------------------------------------
    def dev_predictions(self) -> tuple[np.ndarray, np.ndarray]:
        """Predicted labels (d,) and probabilities (10, d) on the dev set, for the current weights."""
        if self.X_dev is None:
            raise ValueError("this run has no dev set")
        probs = predict_proba(self.params, self.X_dev)
        return probs.argmax(axis=0), probs

    def misclassified(self) -> np.ndarray:
        """Indices of dev images the current network gets wrong."""
        preds, _ = self.dev_predictions()
        return np.flatnonzero(preds != self.y_dev)

    def confusion(self) -> np.ndarray:
        """Dev confusion matrix C[true, predicted] for the current weights."""
        preds, _ = self.dev_predictions()
        return confusion_matrix(self.y_dev, preds)

    def dead_units(self) -> np.ndarray:
        """(h,) bool: hidden units never active on the training evaluation rows."""
        rows = min(self.m, TRAIN_EVAL_ROWS)
        return ~evaluate(self.params, self.X_train[:, :rows], self.y_train[:rows])[3]

    def final_metrics(self) -> dict:
        """Loss and accuracy on the whole training and dev sets, plus iterations and seconds."""
        shift = not self.quirks.unshifted_softmax
        train_loss, train_acc, _, _ = evaluate(self.params, self.X_train, self.y_train, shift)
        dev_loss = dev_acc = float("nan")
        if self.X_dev is not None:
            dev_loss, dev_acc, _, _ = evaluate(self.params, self.X_dev, self.y_dev, shift)
        return dict(train_loss=train_loss, train_accuracy=train_acc, dev_loss=dev_loss,
                    dev_accuracy=dev_acc, iterations=self.iteration, seconds=self.seconds)


def _suggest(lr: float) -> str:
    """Half of `lr`, rounded down to one significant digit, for failure messages (1 -> 0.5, 3 -> 1)."""
    half = lr / 2
    unit = 10.0 ** math.floor(math.log10(half))
    return f"{float(f'{math.floor(half / unit) * unit:.1g}'):g}"
