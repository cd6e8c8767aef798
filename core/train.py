"""The training loop, driven from outside: advance N steps on request, record, stop on failure.

A `Trainer` drives a stack of N >= 1 runs that share everything but α: the data, the settings,
the initial weights and the batch order. N = 1 is an ordinary run; a learning-rate sweep is N of
them, trained as one batched network so that each batch of X is read once for all (see
core.model). The same update, record and metrics code serves both.

Its state is data: `state(i)` is run i as a `core.run.RunState`, and `Trainer.from_state`
continues that run exactly where it was. A run that breaks down stops with a `Failure` (facts,
no sentences) while the others go on. Each update assigns new arrays (nothing is changed in
place), so a caller can keep drawing the previous ones.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np

from core.config import TrainConfig
from core.metrics import confusion_matrix
from core.model import Params, Quirks, evaluate, init_params, pack, packed_gradients, predict_proba, unpack
from core.optim import OptimizerState, init_optimizer, update
from core.run import HISTORY_FIELDS, Failure, OrderState, RunState, column, data_check, suggested_lr

TRAIN_EVAL_ROWS = 10_000  # train metrics on at most this many (already shuffled) rows
MAX_SNAPSHOTS = 64
SNAPSHOT_BYTES = 16 * 2**20  # W1 snapshots of a whole stack at most; fewer are kept for big stacks
EXPLODE_FACTOR = 4.0  # loss above this multiple of max(start loss, ln 10) counts as exploding
COLLAPSE_WINDOW = 100  # iterations at chance accuracy with most neurons dead = collapsed
CHANCE_ACCURACY = 0.25  # "at chance": 10% is guessing, 25% leaves room for noise
CHECKPOINT_EVERY = 250  # iterations between the run states a single run keeps to rewind to
MAX_CHECKPOINTS = 16  # at most this many (the start, α changes, every CHECKPOINT_EVERY), the oldest dropped first
CHECKPOINT_BYTES = 64 * 2**20  # and at most this many bytes of weights and optimizer moments

__all__ = ["HISTORY_FIELDS", "BatchOrder", "History", "Trainer", "effective_lr", "initial_params"]


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

    def __init__(self, m: int, batch_size: int | None, seed: int, state: OrderState | None = None):
        self.m, self.batch_size = m, min(batch_size or m, m)
        self._rng = np.random.default_rng(seed).spawn(2)[1]
        self._epoch_rng, self._perm, self._cursor = None, np.arange(0), 0
        if state is not None and state.epoch_rng is not None:  # draw the current epoch's shuffle again
            self._rng.bit_generator.state = state.epoch_rng
            self._epoch_rng, self._perm, self._cursor = state.epoch_rng, self._rng.permutation(m), state.cursor

    def state(self) -> OrderState:
        """The position, as data."""
        return OrderState(self._epoch_rng, self._cursor)

    def next(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The next batch of (X, y); reshuffles at each new epoch."""
        if self.batch_size >= self.m:
            return X, y
        if self._cursor >= self._perm.size:
            self._epoch_rng = self._rng.bit_generator.state
            self._perm, self._cursor = self._rng.permutation(self.m), 0
        idx = self._perm[self._cursor:self._cursor + self.batch_size]
        self._cursor += idx.size
        # X.T is (m, 784) with examples contiguous: gathering rows copies whole rows at once
        return X.T[idx].T, y[idx]


# ----- failure detection ---------------------------------------------------------------------------
def diagnose(loss: float, finite: bool, active: np.ndarray, lr: float, iteration: int, start_loss: float,
             quirks: Quirks, optimizer: str = "plain") -> Failure | None:
    """Why training must stop after this batch, or None when it looks healthy.

    `finite`: the weights after the update are finite (NaN or inf in a gradient reaches them
    whatever the optimizer); `active` (h,): hidden units that fired on the batch. The suggested
    α is computed for `optimizer` (core.run.suggested_lr).
    """
    if not finite or not math.isfinite(loss):
        return diverged(lr, iteration, quirks, optimizer)
    if not active.any():  # only ReLU units die: the other activations always pass some gradient
        return Failure("dead", iteration, lr, suggested_lr(lr, optimizer), loss=loss, dead=active.size,
                       hidden=active.size)
    if loss > loss_limit(start_loss):
        return Failure("exploded", iteration, lr, suggested_lr(lr, optimizer), loss=loss, start_loss=start_loss)
    return None


def loss_limit(start_loss):
    """The loss above which a run counts as exploding: EXPLODE_FACTOR·max(start loss, ln 10) (per run for (N,))."""
    return EXPLODE_FACTOR * np.maximum(start_loss, math.log(10))


def healthy(losses: np.ndarray, limits: np.ndarray, new: np.ndarray, active: np.ndarray) -> np.ndarray:
    """(N,) True where a run passes all of `diagnose`'s checks, in a few NumPy calls for the whole stack.

    Every step goes through this; `diagnose` only says why, for a run that fails it. A NaN or inf
    loss fails `losses <= limits` as an exploding one does (comparisons with NaN are False); NaN or
    inf anywhere in a run's weights makes their sum so. A float32 sum of huge finite weights may
    overflow too: a false alarm that `diagnose`, given `_finite_rows`, clears (the step goes on).
    Shapes: losses, limits (N,); new (N, P) weights after the update; active (N, h).
    """
    sums = new @ _ones(new.shape[1], new.dtype)  # a BLAS matrix-vector product: the cheapest sum
    return (losses <= limits) & np.isfinite(sums) & active.any(axis=-1)


def diverged(lr: float, iteration: int, quirks: Quirks, optimizer: str = "plain") -> Failure:
    """A loss or weights that became NaN/inf, and what overflowed."""
    return Failure("diverged", iteration, lr, suggested_lr(lr, optimizer),
                   detail="softmax" if quirks.unshifted_softmax else "weights")


def collapsed(rows: list[dict], hidden: int, lr: float, optimizer: str = "plain") -> Failure | None:
    """Most hidden units dead and accuracy at chance for COLLAPSE_WINDOW iterations, or None."""
    last = rows[-1]
    recent = []  # the rows of the last COLLAPSE_WINDOW iterations, newest first: read from the end, so that
    for row in reversed(rows):  # each evaluation costs the window, not the whole history (called on every one)
        if row["iteration"] < last["iteration"] - COLLAPSE_WINDOW:
            break
        recent.append(row)
    if (last["iteration"] < COLLAPSE_WINDOW or len(recent) < 3 or last["dead_fraction"] < 0.5
            or any(r["train_acc"] > CHANCE_ACCURACY for r in recent)):
        return None
    return Failure("collapsed", last["iteration"], lr, suggested_lr(lr, optimizer), loss=last["train_loss"],
                   dead=round(last["dead_fraction"] * hidden), hidden=hidden)


def dev_as_measured(X_dev: np.ndarray | None, quirks: Quirks) -> np.ndarray | None:
    """The dev set as the run evaluates it: as given, or unscaled (0..255) under that quirk."""
    if X_dev is not None and quirks.unscaled_dev:
        return X_dev * 255  # the notebook forgot to divide the dev set by 255
    return X_dev


class History:
    """Evaluations recorded during training, one row per `eval_every` iterations."""

    def __init__(self, rows: Sequence[dict] = ()):
        self.rows: Sequence[dict] = list(rows)

    @classmethod
    def of(cls, rows: tuple[dict, ...]) -> History:
        """A read-only History of a run's rows as data (`RunState.history`), without copying them."""
        history = cls()
        history.rows = rows
        return history

    def __len__(self) -> int:
        return len(self.rows)

    def append(self, row: dict) -> None:
        """Add one evaluation row (keys: HISTORY_FIELDS)."""
        self.rows.append(row)

    def column(self, name: str) -> np.ndarray:
        """One field over time as a read-only array (shared with later calls: copy it to change it)."""
        return column(self.rows, name)

    @property
    def last(self) -> dict | None:
        """The newest row, or None."""
        return self.rows[-1] if self.rows else None


def _stacked_snapshots(states: Sequence[RunState]) -> list[tuple[int, np.ndarray]]:
    """The runs' W1 snapshots as one stack per iteration (a run that stopped earlier repeats its last one)."""
    longest = max(states, key=lambda s: len(s.snapshots))
    frames = []
    for iteration, _ in longest.snapshots:
        W1s = [[W1 for i, W1 in s.snapshots if i <= iteration] or [s.snapshots[0][1]] for s in states]
        frames.append((iteration, np.stack([w[-1] for w in W1s])))
    return frames


def best_run(histories: Sequence[History], failures: Sequence[Failure | None], metric: str = "dev_acc") -> int | None:
    """The index of the best live run by `metric` at its last evaluation (dev_acc: highest; losses: lowest), or None."""
    sign = 1 if metric.endswith("acc") else -1
    scores = [sign * h.last[metric] if h.last and f is None and not math.isnan(h.last[metric]) else -math.inf
              for h, f in zip(histories, failures)]
    return int(np.argmax(scores)) if max(scores) > -math.inf else None


def _finite_rows(flat: np.ndarray) -> np.ndarray:
    """(N,) True where row i of a packed (N, P) array is all finite.

    One sum per run instead of a boolean array per element: NaN or ±inf anywhere makes the
    row's sum non-finite. Summed in the array's own float type first (the hot path); only when
    that overflows, again in float64, which does not overflow on float32 values.
    """
    finite = np.isfinite(flat @ _ones(flat.shape[1], flat.dtype))  # a BLAS matrix-vector product: the cheapest sum
    return finite if finite.all() else np.isfinite(flat.sum(axis=1, dtype=np.float64))


_ONES: dict[tuple[int, np.dtype], np.ndarray] = {}


def _ones(n: int, dtype) -> np.ndarray:
    """(n,) ones of this dtype, made once (never written to)."""
    key = (n, np.dtype(dtype))
    if key not in _ONES:
        _ONES[key] = np.ones(n, dtype)
    return _ONES[key]


def _norms(arrays: Params) -> tuple[np.ndarray, np.ndarray]:
    """(N,) Frobenius norms of W1 and of W2 for each run of a stack."""
    return tuple(np.sqrt(np.square(a, dtype=np.float64).sum(axis=(-2, -1))) for a in (arrays.W1, arrays.W2))


class Trainer:
    """N >= 1 runs over fixed data that differ only in α, advanced `step(n)` iterations at a time.

    Shapes: X_train (784, m), y_train (m,), X_dev (784, d), y_dev (d,); X float, pixels / 255.
    The stacked parameters are W1 (N, h, 784), b1 (N, h, 1), W2 (N, 10, h), b2 (N, 10, 1).
    `params`, `history`, `failure`, `lr`, ... are run 0's: all there is for a single run.
    """

    def __init__(self, config: TrainConfig, X_train: np.ndarray, y_train: np.ndarray,
                 X_dev: np.ndarray | None = None, y_dev: np.ndarray | None = None,
                 lrs: Sequence[float] | None = None, params: Params | None = None):
        lrs = [config.lr] if lrs is None else [float(lr) for lr in lrs]
        if not lrs or any(not (math.isfinite(lr) and lr > 0) for lr in lrs):
            raise ValueError(f"learning rates must be positive numbers, got {lrs}")
        if params is None:
            params = initial_params(config)
        elif params.hidden != config.hidden:
            raise ValueError(f"loaded weights have {params.hidden} hidden units, the settings say {config.hidden}")
        self._attach(config, X_train, y_train, X_dev, y_dev)
        self._flat = np.repeat(pack(params.map(lambda a: a.astype(config.dtype)[None])), len(lrs), axis=0)  # (N, P)
        self._opt = init_optimizer(config.optimizer, self._flat)  # its moments packed like the weights
        self.lrs = lrs
        self._lr_changes: list[list[tuple[int, float]]] = [[(0, lr)] for lr in lrs]  # per run
        self.iteration, self.seconds = 0, 0.0
        self.histories = [History() for _ in lrs]
        self.failures: list[Failure | None] = [None] * len(lrs)
        self.start_loss: np.ndarray | None = None  # (N,) the first batch's losses
        self.last_losses: np.ndarray | None = None  # (N,) the newest batch's losses, before its update
        self._snapshots: list[tuple[int, np.ndarray]] = []  # (iteration, W1 (N, h, 784))
        self._next_snapshot = 0
        self._order = BatchOrder(self.m, config.batch_size, config.seed)
        self.record()
        self._start_checkpoints()

    @classmethod
    def from_state(cls, state: RunState, X_train: np.ndarray, y_train: np.ndarray,
                   X_dev: np.ndarray | None = None, y_dev: np.ndarray | None = None,
                   rewind_point: RunState | None = None) -> Trainer:
        """The run `state` describes, on its data, ready to continue exactly where it stopped.

        `rewind_point`: a failed run's `rewind_point` as it was kept with it (a saved session), so
        that the run can still go back there.
        Raises: ValueError when the data is not the data the run was trained on, or the rewind point
        is not an earlier moment of this failed run.
        """
        trainer = cls.from_states([state], X_train, y_train, X_dev, y_dev)
        if rewind_point is not None:
            failure = state.failure
            if (failure is None or rewind_point.iteration > failure.iteration
                    or rewind_point.config.with_(lr=1.0) != state.config.with_(lr=1.0)):
                raise ValueError("its rewind point is not an earlier moment of this failed run")
            trainer._rewind_point = rewind_point
        return trainer

    @classmethod
    def from_states(cls, states: Sequence[RunState], X_train: np.ndarray, y_train: np.ndarray,
                    X_dev: np.ndarray | None = None, y_dev: np.ndarray | None = None) -> Trainer:
        """The runs of a stack (`state(i)` for each i: a sweep), on their data, continuing exactly.

        Raises: ValueError when the data is not the data the runs were trained on, or the states
        are not runs of one stack (other settings, batch position or training time).
        """
        first = states[0]
        if first.m != y_train.size:
            raise ValueError(f"this run was trained on {first.m:,} rows, the data here has {y_train.size:,}: "
                             f"choose the data and settings it was trained with")
        if first.data_check != data_check(y_train):
            raise ValueError("this run was trained on other data (its training labels differ): choose the data "
                             "and settings it was trained with")
        if any(s.config.with_(lr=1.0) != first.config.with_(lr=1.0) or s.order != first.order for s in states):
            raise ValueError("these runs are not runs of one stack (their settings or batch positions differ)")
        trainer = cls.__new__(cls)
        trainer._attach(first.config.with_(lr=first.lr), X_train, y_train, X_dev, y_dev)

        def packed(params: Sequence[Params]) -> np.ndarray:  # the runs along a new leading axis, packed (N, P)
            return pack(Params(*(np.stack([getattr(p, k) for p in params]) for k in ("W1", "b1", "W2", "b2"))))

        trainer._flat = packed([s.params for s in states])
        moments = [[getattr(s.opt_state, slot) for s in states] for slot in ("velocity", "second")]
        trainer._opt = OptimizerState(first.opt_state.kind, first.opt_state.step,
                                      *(None if m[0] is None else packed(m) for m in moments))
        trainer.lrs = [s.lr for s in states]
        trainer._lr_changes = [list(s.lr_changes) for s in states]
        trainer.iteration, trainer.seconds = max(s.iteration for s in states), first.seconds
        trainer.histories, trainer.failures = [History(s.history) for s in states], [s.failure for s in states]
        starts, lasts = [s.start_loss for s in states], [s.last_loss for s in states]
        trainer.start_loss = None if None in starts else np.array(starts)
        trainer.last_losses = None if None in lasts else np.array(lasts)
        trainer._snapshots = _stacked_snapshots(states)
        trainer._next_snapshot = first.next_snapshot
        trainer._order = BatchOrder(trainer.m, first.config.batch_size, first.config.seed, first.order)
        trainer._active = np.stack([s.active for s in states])
        trainer._start_checkpoints()
        return trainer

    def _attach(self, config: TrainConfig, X_train, y_train, X_dev, y_dev) -> None:
        """Settings and data (shared by both constructors)."""
        if X_train.shape != (784, y_train.size) or y_train.size == 0:
            raise ValueError(f"X_train must be (784, m) with m = len(y_train) >= 1, got {X_train.shape}")
        if y_train.min() < 0 or y_train.max() > 9:
            raise ValueError(f"labels must be in 0..9, found {y_train.min()}..{y_train.max()}")
        self.config, self.quirks = config, config.effective_quirks
        self.X_train, self.y_train, self.y_dev = X_train, y_train, y_dev
        self._X_dev_given, self.X_dev = X_dev, dev_as_measured(X_dev, self.quirks)
        self._data_check = data_check(y_train)
        self._grads: np.ndarray | None = None  # (N, P) the newest batch's gradients, packed
        self._previous: np.ndarray | None = None  # (N, P) the weights before the newest update, packed
        self._views: dict[str, tuple[np.ndarray, Params]] = {}  # Params views of the current packed arrays
        self._limits_of = self._loss_limits = None  # the start losses the cached loss limits were worked out from

    def state(self, i: int = 0) -> RunState:
        """Run i as data: everything that decides the rest of it."""
        failure, opt, h = self.failures[i], self._opt, self.config.hidden
        end = failure.iteration if failure else self.iteration
        return RunState(
            config=self.config.with_(lr=self._lr_changes[i][0][1]), params=unpack(self._flat[i], h),
            opt_state=OptimizerState(opt.kind, opt.step, *(None if s is None else unpack(s[i], h)
                                                           for s in (opt.velocity, opt.second))),
            iteration=end, lr=self.lrs[i], lr_changes=tuple(self._lr_changes[i]), order=self._order.state(),
            start_loss=None if self.start_loss is None else float(self.start_loss[i]),
            last_loss=None if self.last_losses is None else float(self.last_losses[i]),
            seconds=self.seconds, history=tuple(self.histories[i].rows),
            snapshots=tuple((it, W1[i]) for it, W1 in self._snapshots if it <= end),
            next_snapshot=self._next_snapshot, failure=failure, active=self._active[i], m=self.m,
            data_check=self._data_check)

    # ----- driving -----------------------------------------------------------------------------
    @property
    def size(self) -> int:
        """Number of runs N."""
        return len(self.lrs)

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
        """Every run failed, or the configured number of iterations is reached."""
        stop = self.config.iterations
        return all(self.failures) or (stop is not None and self.iteration >= stop)

    def set_stop(self, iterations: int | None) -> None:
        """Train up to this total number of iterations (None: until told to stop); the run is unchanged."""
        self.config = self.config.with_(iterations=iterations)

    def current_lr(self, i: int = 0) -> float:
        """Run i's learning rate for the next update, after decay."""
        return self.lrs[i] / (1 + self.config.lr_decay * self.iteration)

    def set_lr(self, lr: float, i: int = 0) -> None:
        """Change run i's learning rate from the next step on; the change is recorded.

        Raises: ValueError for a learning rate that is not a positive finite number.
        """
        if isinstance(lr, bool) or not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
            raise ValueError(f"learning rate must be a positive number, got {lr!r}")
        if lr != self.lrs[i]:
            if i == 0 and self.failures[0] is None:
                self._checkpoint()  # the run as it was before this change: where a rewind goes back to
            self.lrs[i] = float(lr)
            changes = self._lr_changes[i]
            if changes[-1][0] == self.iteration:
                changes[-1] = (self.iteration, self.lrs[i])
            else:
                changes.append((self.iteration, self.lrs[i]))

    def step(self, n: int | None = None, deadline: float | None = None) -> int:
        """Run up to `n` updates (None: no limit), stopping when done or at `time.perf_counter() >= deadline`.

        Returns the number of updates made. Raises: ValueError when nothing would ever stop it.
        """
        if n is None and deadline is None and self.config.iterations is None:
            raise ValueError("step() needs n or a deadline: this run has no stop")
        made = 0
        with np.errstate(over="ignore", invalid="ignore"):  # NaN/inf are caught in _update, as failures
            while (n is None or made < n) and not self.done and (deadline is None or time.perf_counter() < deadline):
                start = time.perf_counter()
                advanced = self._update()
                self.seconds += time.perf_counter() - start
                if not advanced:  # every run stopped at this batch: the update does not count
                    break
                made += 1
                if self.iteration % self.config.eval_every == 0:
                    self.record()
                if self.iteration >= self._next_checkpoint:
                    self._checkpoint()
        return made

    def _live(self) -> list[int]:
        return [i for i, f in enumerate(self.failures) if f is None]

    def _lr_now(self) -> list[float]:
        """This step's α per run, after decay."""
        decay = 1 + self.config.lr_decay * self.iteration
        return [lr / decay for lr in self.lrs]

    def _limits(self) -> np.ndarray:
        """(N,) each run's exploding-loss limit (`loss_limit`), worked out once per start loss."""
        if self._limits_of is not self.start_loss:
            self._limits_of, self._loss_limits = self.start_loss, loss_limit(self.start_loss)
        return self._loss_limits

    def _update(self) -> bool:
        """One update of every live run, every run checked (`healthy`); False when no run could make it."""
        X, y = self._order.next(self.X_train, self.y_train)
        lr = self._lr_now()
        if self.quirks.one_hot_from_max and int(y.max()) + 1 != 10:  # the notebook's one_hot on a batch without 9s
            live = self._live()
            for i in live:
                self.failures[i] = Failure("bad_batch", self.iteration, float(lr[i]), detail=str(int(y.max()) + 1))
            self._record_failures(live)
            return False
        grads, losses, active = self._gradients(X, y)
        self.last_losses = losses
        self.start_loss = losses if self.start_loss is None else self.start_loss
        step_lr = lr[0] if self.size == 1 else np.array(lr).reshape(-1, 1)  # one α per row of (N, P)
        new, opt = update(self._flat, grads, self._opt, step_lr, beta1=self.config.momentum)
        if any(self.failures) or not healthy(losses, self._limits(), new, active).all():
            new, opt = self._stop_failing(lr, losses, active, new, opt)
            if new is None:
                return False
        self._previous, self._grads = self._flat, grads
        self._flat, self._opt = new, opt  # readers see the old or the new weights
        self.iteration += 1
        self._maybe_snapshot()
        return True

    def _stop_failing(self, lr: list[float], losses: np.ndarray, active: np.ndarray, new: np.ndarray,
                      opt: OptimizerState) -> tuple[np.ndarray | None, OptimizerState | None]:
        """Stop the live runs that fail this step (`diagnose` says why); hold stopped runs at their last good weights.

        Returns the new weights and optimizer state, or (None, None) when no run is left. Called only
        when a run is not `healthy` or has stopped before: the common step pays nothing for it.
        """
        live = self._live()
        finite = _finite_rows(new)
        for i in live:
            self.failures[i] = diagnose(float(losses[i]), bool(finite[i]), active[i], float(lr[i]),
                                        self.iteration, float(self.start_loss[i]), self.quirks, self.config.optimizer)
        failed = [i for i in live if self.failures[i] is not None]
        if failed:  # a stack with a run stopped earlier gets here on every step: measure only new failures
            self._record_failures(failed)
        keep = np.array([f is None for f in self.failures])
        if not keep.any():
            return None, None
        mask = keep.reshape(-1, 1)  # stopped runs keep their last good weights; live ones move on
        return np.where(mask, new, self._flat), OptimizerState(
            opt.kind, opt.step, *(None if s is None else np.where(mask, s, old)
                                  for s, old in ((opt.velocity, self._opt.velocity), (opt.second, self._opt.second))))

    def _gradients(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Packed (N, P) gradients, (N,) losses and (N, h) active units of one batch."""
        return packed_gradients(self._flat, self.config.hidden, X, y, self.quirks, self.config.activation)

    def _evaluate(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(N,) loss and accuracy and (N, h) active units on (X, y)."""
        shift = not self.quirks.unshifted_softmax
        if self.size == 1:
            loss, acc, _, active = evaluate(self.params, X, y, shift, activation=self.config.activation)
            return np.array([loss]), np.array([acc]), active[None]
        loss, acc, _, active = evaluate(self.stacked, X, y, shift, activation=self.config.activation)
        return loss, acc, active

    # ----- recording -----------------------------------------------------------------------------
    def record(self) -> None:
        """Evaluate every live run on train (up to TRAIN_EVAL_ROWS rows) and dev into its history."""
        train_loss, train_acc, dev_loss, dev_acc, active = self._measure()
        self._active = active  # kept: dead_units() needs no pass of its own
        health = self._health()
        for i in self._live():
            self.histories[i].append(self._row(i, train_loss, train_acc, dev_loss, dev_acc, active, health))
            self.failures[i] = collapsed(self.histories[i].rows, self.config.hidden, self.lrs[i], self.config.optimizer)
            if self.failures[i] is not None and i == 0:
                self._rewind_point = self._choose_checkpoint()
        if self.iteration == 0:
            self._maybe_snapshot()

    def settle(self) -> None:
        """Evaluate the current weights unless the last evaluation was of them: a run that stops between two
        evaluations (a Step of fewer updates than `eval_every`) then shows where it stopped."""
        live = self._live()
        last = self.histories[live[0]].last if live else None
        if live and (last is None or last["iteration"] != self.iteration):
            self.record()

    def _measure(self) -> tuple[np.ndarray, ...]:
        """(N,) train loss and accuracy (up to TRAIN_EVAL_ROWS rows), dev loss and accuracy, and (N, h) active units."""
        rows = min(self.m, TRAIN_EVAL_ROWS)
        train_loss, train_acc, active = self._evaluate(self.X_train[:, :rows], self.y_train[:rows])
        dev_loss = dev_acc = np.full(self.size, np.nan)
        if self.X_dev is not None and not self.quirks.train_accuracy_only:
            dev_loss, dev_acc, _ = self._evaluate(self.X_dev, self.y_dev)
        return train_loss, train_acc, dev_loss, dev_acc, active

    def _row(self, i: int, train_loss, train_acc, dev_loss, dev_acc, active, health) -> dict:
        """Run i's history row now, from the (N,) measurements."""
        return dict(iteration=self.iteration, epoch=self.epoch, lr=self.current_lr(i), train_loss=float(train_loss[i]),
                    train_acc=float(train_acc[i]), dev_loss=float(dev_loss[i]), dev_acc=float(dev_acc[i]),
                    dead_fraction=float(1 - active[i].mean()), **{k: float(v[i]) for k, v in health.items()},
                    seconds=self.seconds)

    def _record_failures(self, runs: list[int]) -> None:
        """End each newly failed run's history with its failing step: the network as it is then.

        The weights measured are the ones whose batch gave the failure away (a NaN stays NaN: the
        curves draw it as a break). Only when runs fail, so the training loop pays nothing for it.
        """
        with np.errstate(all="ignore"):
            train_loss, train_acc, dev_loss, dev_acc, active = self._measure()
        health = self._health()
        self._active = np.where(np.isin(np.arange(self.size), runs)[:, None], active, self._active)  # a new array
        for i in runs:
            rows = self.histories[i].rows
            row = self._row(i, train_loss, train_acc, dev_loss, dev_acc, active, health)
            if rows and rows[-1]["iteration"] == self.iteration:
                rows[-1] = row  # measured at this very iteration already: the same weights, now with the failure
            else:
                rows.append(row)
        if 0 in runs:
            self._rewind_point = self._choose_checkpoint()

    # ----- checkpoints: where a failed run can go back to ------------------------------------------
    def _start_checkpoints(self) -> None:
        """A single run keeps run states to rewind to (the first one now); a stack keeps none."""
        self._checkpoints: list[RunState] = []
        self._rewind_point: RunState | None = None
        self._next_checkpoint = math.inf
        if self.size == 1:
            self._checkpoint()

    def _checkpoint(self) -> None:
        """Keep run 0's state now, within MAX_CHECKPOINTS and CHECKPOINT_BYTES (the first one kept, then the newest)."""
        self._next_checkpoint = self.iteration + CHECKPOINT_EVERY
        if self.size != 1 or (self._checkpoints and self._checkpoints[-1].iteration == self.iteration):
            return  # several α changes at one iteration: the state before the first is the one to go back to
        kept = [*self._checkpoints, self.state()]
        per = self._flat.nbytes * (1 + sum(s is not None for s in (self._opt.velocity, self._opt.second)))
        limit = max(2, min(MAX_CHECKPOINTS, CHECKPOINT_BYTES // max(per, 1)))
        self._checkpoints = kept[:1] + kept[1:][-(limit - 1):]  # a new list: readers keep theirs

    def _choose_checkpoint(self) -> RunState | None:
        """The last healthy moment before run 0's failure: where a rewind goes back to.

        When the failing α was set during the run, the state just before that change (the moment
        the learner raised it); when the run had that α from the start, the newest state before the
        failure (at most CHECKPOINT_EVERY iterations back).
        """
        failure = self.failures[0]
        before = [c for c in self._checkpoints if c.iteration < failure.iteration] or self._checkpoints[:1]
        since = max((i for i, _ in self._lr_changes[0] if i <= failure.iteration), default=0)
        if since > 0:
            return ([c for c in before if c.iteration <= since] or before[:1])[-1]
        return before[-1] if before else None

    @property
    def checkpoints(self) -> list[RunState]:
        """Run 0's kept states, oldest first (a single run only)."""
        return list(self._checkpoints)

    @property
    def rewind_point(self) -> RunState | None:
        """After run 0 failed: its last healthy state before the failure (continue it with
        `Trainer.from_state`); None while it is healthy."""
        return self._rewind_point if self.failures[0] is not None else None

    def _health(self) -> dict[str, np.ndarray]:
        """Per run: the newest gradients' norms and the newest update's size relative to the weights."""
        if self._grads is None or self._previous is None:
            return {k: np.full(self.size, np.nan) for k in ("grad_W1", "grad_W2", "update_W1", "update_W2")}
        h = self.config.hidden
        grad_W1, grad_W2 = _norms(unpack(self._grads, h))
        step_W1, step_W2 = _norms(unpack(self._flat - self._previous, h))
        W1, W2 = _norms(self.stacked)
        return dict(grad_W1=grad_W1, grad_W2=grad_W2, update_W1=step_W1 / np.maximum(W1, 1e-12),
                    update_W2=step_W2 / np.maximum(W2, 1e-12))

    def _maybe_snapshot(self) -> None:
        """Keep W1 at log-spaced iterations (0, 1, 2, 3, 4, 5, 7, 9, ...), within MAX_SNAPSHOTS and SNAPSHOT_BYTES."""
        if self.iteration < self._next_snapshot:
            return
        W1 = self.stacked.W1  # never mutated: no copy
        self._snapshots.append((self.iteration, W1))
        self._next_snapshot = max(self.iteration + 1, math.ceil(self.iteration * 1.25))
        if len(self._snapshots) > max(4, min(MAX_SNAPSHOTS, SNAPSHOT_BYTES // W1.nbytes)):
            self._snapshots = self._snapshots[:-1:2] + self._snapshots[-1:]  # thin out, keeping the first and newest

    # ----- run 0: a single run's view --------------------------------------------------------------
    def _view(self, name: str, packed: np.ndarray, row: bool) -> Params:
        """Params views of `packed` (its row 0 when `row`), made once per new array (readers ask often)."""
        cached = self._views.get(name)
        if cached is None or cached[0] is not packed:
            cached = self._views[name] = (packed, unpack(packed[0] if row else packed, self.config.hidden))
        return cached[1]

    @property
    def stacked(self) -> Params:
        """Every run's current weights: W1 (N, h, 784), b1 (N, h, 1), W2 (N, 10, h), b2 (N, 10, 1) (views)."""
        return self._view("stacked", self._flat, row=False)

    @property
    def opt_state(self) -> OptimizerState:
        """Every run's optimizer state, its moments shaped like `stacked` (views)."""
        opt = self._opt
        return OptimizerState(opt.kind, opt.step, *(None if s is None else unpack(s, self.config.hidden)
                                                    for s in (opt.velocity, opt.second)))

    @property
    def params(self) -> Params:
        """Run 0's current weights."""
        return self._view("params", self._flat, row=True)

    @property
    def history(self) -> History:
        return self.histories[0]

    @property
    def failure(self) -> Failure | None:
        return self.failures[0]

    @property
    def lr(self) -> float:
        """Run 0's base α (before decay)."""
        return self.lrs[0]

    @property
    def lr_changes(self) -> list[tuple[int, float]]:
        """Run 0's α changes: (iteration, α) from the start."""
        return self._lr_changes[0]

    @property
    def last_loss(self) -> float | None:
        return None if self.last_losses is None else float(self.last_losses[0])

    @property
    def snapshots(self) -> list[tuple[int, np.ndarray]]:
        """Run 0's (iteration, W1) snapshots."""
        return [(i, W1[0]) for i, W1 in self._snapshots]

    @property
    def active(self) -> np.ndarray:
        """(h,) bool: run 0's hidden units that fired at the last evaluation."""
        return self._active[0]

    @property
    def last_grads(self) -> Params | None:
        """Run 0's gradients on the newest batch (dW1 in `.W1`), or None before the first step."""
        return None if self._grads is None else unpack(self._grads[0], self.config.hidden)

    @property
    def last_update(self) -> Params | None:
        """Run 0's newest step ΔW (new weights minus old), or None before the first step."""
        if self._previous is None:
            return None
        return unpack(self._flat[0] - self._previous[0], self.config.hidden)

    def newest_step(self, i: int = 0) -> tuple[Params | None, Params | None]:
        """Run i's gradients on the newest batch and its weights before the newest update (None, None before a step)."""
        if self._grads is None or self._previous is None:
            return None, None
        return unpack(self._grads[i], self.config.hidden), unpack(self._previous[i], self.config.hidden)

    def dead_units(self) -> np.ndarray:
        """(h,) bool: run 0's hidden units that never fired on the training rows at the last evaluation."""
        return ~self.active

    # ----- looking at the networks -------------------------------------------------------------------
    def run_metrics(self) -> list[dict]:
        """Per run: loss and accuracy on the whole training and dev sets, iterations and seconds."""
        with np.errstate(all="ignore"):  # a failed run's weights may overflow: NaN is the answer then
            train_loss, train_acc, _ = self._evaluate(self.X_train, self.y_train)
            dev_loss = dev_acc = np.full(self.size, np.nan)
            if self.X_dev is not None:
                dev_loss, dev_acc, _ = self._evaluate(self.X_dev, self.y_dev)
        return [dict(train_loss=float(train_loss[i]), train_accuracy=float(train_acc[i]),
                     dev_loss=float(dev_loss[i]), dev_accuracy=float(dev_acc[i]),
                     iterations=f.iteration if f else self.iteration, seconds=self.seconds)
                for i, f in enumerate(self.failures)]

    def final_metrics(self) -> dict:
        """Run 0's loss and accuracy on the whole training and dev sets, plus iterations and seconds."""
        return self.run_metrics()[0]

    def best(self, metric: str = "dev_acc") -> int | None:
        """The best live run by `metric` at its last evaluation (dev_acc: highest; losses: lowest), or None."""
        return best_run(self.histories, self.failures, metric)

    def dev_predictions(self) -> tuple[np.ndarray, np.ndarray]:
        """Predicted labels (d,) and probabilities (10, d) on the dev set, for run 0's current weights."""
        if self.X_dev is None:
            raise ValueError("this run has no dev set")
        probs = predict_proba(self.params, self.X_dev, activation=self.config.activation)
        return probs.argmax(axis=0), probs

    def misclassified(self) -> np.ndarray:
        """Indices of dev images run 0 gets wrong."""
        preds, _ = self.dev_predictions()
        return np.flatnonzero(preds != self.y_dev)

    def confusion(self) -> np.ndarray:
        """Dev confusion matrix C[true, predicted] for run 0's current weights."""
        preds, _ = self.dev_predictions()
        return confusion_matrix(self.y_dev, preds)
