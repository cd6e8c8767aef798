"""A run as data: everything that decides the rest of a training run, in one frozen value.

`RunState` is what a `Trainer` hands out (`trainer.state()`) and is built from
(`Trainer.from_state`): restored on the same data, a run continues bit for bit as if it had
never stopped. `to_arrays` / `from_arrays` turn it into named arrays plus a JSON-ready dict
(what data.save_weights writes into an .npz) and back, checking every part, so that a damaged,
foreign or inconsistent file is refused with one sentence.

`Failure` says why a run stopped, as facts (kind, iteration, α, loss, dead units); the front
ends write the sentences.
"""

from __future__ import annotations

import math
import threading
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np

from core.config import TrainConfig
from core.model import N_PIXELS, Params
from core.optim import USUAL_LR, OptimizerState

FORMAT = "digit-lab run"
VERSION = 2  # version 1 files held weights only (W1, b1, W2, b2 and their settings)
HISTORY_FIELDS = ("iteration", "epoch", "lr", "train_loss", "train_acc", "dev_loss", "dev_acc",
                  "dead_fraction", "grad_W1", "grad_W2", "update_W1", "update_W2", "seconds")
FAILURE_KINDS = ("diverged", "exploded", "dead", "collapsed", "bad_batch")


# ----- history columns ---------------------------------------------------------------------------
class _Columns:
    """The columns of histories built so far (`column`): a longer copy of a history costs only its new rows.

    A run's history grows at its end: each snapshot of a training run holds the rows of the last one
    (the same dicts) and a few more, and its curves are drawn several times a second. Converting all
    of it every time cost 35 ms per column at 300,000 rows (batch 128 for 25 minutes). A history is
    known by its first row (the same dict in every copy); its column is reused when the row it ended
    with is still in place, else built anew (a rewound run, a replaced last row). The newest `size`
    histories are kept.
    """

    def __init__(self, size: int = 32):
        self.size = size
        self._known: dict[int, tuple[dict, dict[str, tuple[dict, np.ndarray]]]] = {}  # id(first row) -> columns
        self._lock = threading.Lock()

    def column(self, rows: Sequence[dict], name: str) -> np.ndarray:
        n = len(rows)
        if n == 0:
            return _read_only(np.array([], dtype=float))
        with self._lock:
            key = id(rows[0])
            known = self._known.pop(key, None)
            if known is None or known[0] is not rows[0]:
                known = (rows[0], {})
            self._known[key] = known  # the newest last
            while len(self._known) > self.size:
                del self._known[next(iter(self._known))]
            last, values = known[1].get(name, (None, None))
        k = 0 if values is None else len(values)
        if k and k <= n and rows[k - 1] is last:
            if k == n:
                return values
            values = np.concatenate((values, [row[name] for row in rows[k:]]))
        else:
            values = np.array([row[name] for row in rows], dtype=float)
        with self._lock:
            known[1][name] = (rows[n - 1], _read_only(values))
        return values


def _read_only(values: np.ndarray) -> np.ndarray:
    values.flags.writeable = False
    return values


_COLUMNS = _Columns()


def column(rows: Sequence[dict], name: str) -> np.ndarray:
    """One field of a history's rows as a read-only float array, shared with later calls (copy it to change it).

    Only the rows added since the last call for the same history are converted (see `_Columns`).
    """
    return _COLUMNS.column(rows, name)


def history_table(rows: Sequence[dict]) -> np.ndarray:
    """A history as a (rows, len(HISTORY_FIELDS)) float64 table, built from its columns (`column`)."""
    if not rows:
        return np.zeros((0, len(HISTORY_FIELDS)))
    return np.column_stack([column(rows, name) for name in HISTORY_FIELDS])


@dataclass(frozen=True)
class Failure:
    """Why a run stopped: what happened, when, at which α, and the facts behind it."""

    kind: str  # one of FAILURE_KINDS
    iteration: int
    lr: float  # α of the failing step (after decay)
    suggested_lr: float | None = None  # a smaller α worth trying, when α is to blame
    loss: float | None = None  # the batch loss that gave it away (exploded), or NaN (diverged)
    start_loss: float | None = None  # the first batch's loss, for comparison
    dead: int | None = None  # hidden units that never fire (dead, collapsed)
    hidden: int | None = None  # hidden units in all
    detail: str = ""  # diverged: "softmax" (unshifted softmax overflowed) or "weights"; bad_batch: what the batch lacks

    def __post_init__(self):
        if self.kind not in FAILURE_KINDS:
            raise ValueError(f"failure kind must be one of {', '.join(FAILURE_KINDS)}, got {self.kind!r}")

    def to_dict(self) -> dict:
        """Plain JSON-ready values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Failure:
        """Inverse of `to_dict`, checking every field (the sentences about a failure format them).

        Raises: ValueError naming an unknown key, a bad kind or a field with a wrong value.
        """
        if not isinstance(values, dict):
            raise ValueError(f"its failure must be a JSON object or null, found {values!r}")
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown failure field(s) {', '.join(sorted(unknown))}")
        failure = cls(**values)
        _whole(failure.iteration, "failure's iteration")
        _rate(failure.lr, "failure's α")
        if failure.suggested_lr is not None:
            _rate(failure.suggested_lr, "failure's suggested α")
        needed = {"exploded": ("loss", "start_loss"), "dead": ("dead", "hidden"), "collapsed": ("dead", "hidden")}
        for name in ("loss", "start_loss"):
            value = getattr(failure, name)
            if value is not None or name in needed.get(failure.kind, ()):
                _number(value, f"failure's {name.replace('_', ' ')}")
        for name in ("dead", "hidden"):
            if getattr(failure, name) is not None or name in needed.get(failure.kind, ()):
                _whole(getattr(failure, name), f"failure's {name} units")
        if not isinstance(failure.detail, str):
            raise ValueError(f"its failure's detail must be text, found {failure.detail!r}")
        return failure


def smaller_lr(lr: float) -> float:
    """Half of `lr`, rounded down to one significant digit (1 -> 0.5, 3 -> 1, 0.7 -> 0.3)."""
    half = lr / 2
    unit = 10.0 ** math.floor(math.log10(half))
    return float(f"{math.floor(half / unit) * unit:.1g}")


def suggested_lr(lr: float, optimizer: str = "plain") -> float:
    """A smaller α worth trying after a failure at `lr` with this optimizer.

    Half of it (`smaller_lr`), but for momentum and Adam never above ten times the optimizer's
    usual start (USUAL_LR): halving 0.17 gives 0.08, which is still far too large for Adam.
    """
    half = smaller_lr(lr)
    return half if optimizer == "plain" else min(half, 10 * USUAL_LR[optimizer])


def last_healthy(failure: Failure | None, rows, rewind_point: RunState | None) -> dict | None:
    """A failed run's last healthy evaluation: the newest row of its rewind point (the state before
    the failing α took over), else the row before its failing step; None for a healthy run."""
    if failure is None:
        return None
    if rewind_point is not None and rewind_point.history:
        return rewind_point.history[-1]
    return rows[-2] if len(rows) > 1 else None


@dataclass(frozen=True)
class OrderState:
    """Where the batch order is: the RNG state the current epoch's shuffle was drawn from, and the cursor.

    The permutation itself is not stored: drawing it again from `epoch_rng` gives the same one.
    `epoch_rng` is None before the first mini-batch (and always in full-batch mode).
    """

    epoch_rng: dict | None
    cursor: int


@dataclass(frozen=True)
class RunState:
    """Everything that decides the rest of one run. Arrays are never changed in place.

    Shapes: params as in core.model; snapshots hold W1 (h, 784) each; active (h,) bool.
    """

    config: TrainConfig  # the settings; config.lr is the α the run started with
    params: Params
    opt_state: OptimizerState
    iteration: int  # updates made
    lr: float  # the base α now (before decay); set_lr changes it
    lr_changes: tuple[tuple[int, float], ...]  # (iteration, α) from the start, one entry per change
    order: OrderState
    start_loss: float | None  # the first batch's loss: the yardstick for "exploded"
    last_loss: float | None  # the newest batch's loss, before its update
    seconds: float  # training time so far
    history: tuple[dict, ...]  # evaluations, HISTORY_FIELDS each
    snapshots: tuple[tuple[int, np.ndarray], ...]  # (iteration, W1) at log-spaced iterations
    next_snapshot: int  # the iteration of the next snapshot
    failure: Failure | None
    active: np.ndarray  # (h,) bool: hidden units that fired at the last evaluation
    m: int  # training rows the run trains on
    data_check: int  # crc32 of the training labels: the same data, in the same order

    def to_arrays(self, bulk: bool = True) -> tuple[dict[str, np.ndarray], dict]:
        """Named arrays and a JSON-ready dict that `from_arrays` turns back into this state.

        `bulk=False` leaves out the two arrays that grow with the run, "history" (`history_table`) and
        "snapshots" (the W1 snapshots stacked), for a caller that stores them its own way.
        """
        arrays = dict(self.params.to_arrays())
        for slot in ("velocity", "second"):
            moments = getattr(self.opt_state, slot)
            if moments is not None:
                arrays.update({f"opt.{slot}.{k}": a for k, a in moments.to_arrays().items()})
        if bulk:
            h = self.params.hidden
            arrays["snapshots"] = (np.stack([W1 for _, W1 in self.snapshots]) if self.snapshots
                                   else np.zeros((0, h, N_PIXELS), self.params.dtype))
            arrays["history"] = history_table(self.history)
        meta = {
            "format": FORMAT, "version": VERSION, "config": self.config.to_dict(), "iteration": self.iteration,
            "lr": self.lr, "lr_changes": [list(change) for change in self.lr_changes],
            "order": {"epoch_rng": self.order.epoch_rng, "cursor": self.order.cursor},
            "optimizer": {"kind": self.opt_state.kind, "step": self.opt_state.step},
            "start_loss": self.start_loss, "last_loss": self.last_loss, "seconds": self.seconds,
            "history_fields": list(HISTORY_FIELDS), "snapshot_iterations": [i for i, _ in self.snapshots],
            "next_snapshot": self.next_snapshot, "failure": self.failure.to_dict() if self.failure else None,
            "active": [bool(a) for a in self.active], "m": self.m, "data_check": self.data_check,
        }
        return arrays, json_ready(meta)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict) -> RunState:
        """Check and rebuild a state written by `to_arrays`.

        Raises: ValueError with one sentence naming what is damaged, foreign or inconsistent.
        """
        if meta.get("format") != FORMAT:
            raise ValueError("it is not a digit-lab run (no run state inside)")
        if meta.get("version") != VERSION:
            raise ValueError(f"it is a run file of version {meta.get('version')!r}; this digit-lab reads "
                             f"version {VERSION}")
        try:
            return _state_from(arrays, meta)
        except KeyError as error:
            raise ValueError(f"its run state is damaged (no {error} in it)") from None
        except ValueError as error:
            raise ValueError(" ".join(str(error).split())) from None  # one line, whatever raised it
        except (TypeError, IndexError, AttributeError, OverflowError) as error:
            raise ValueError(f"its run state is damaged ({type(error).__name__}: {' '.join(str(error).split())})") \
                from None


# What only a run holds: weights-only files (version 1: W1..b2 with their settings under "config" or,
# from the dashboard, at the top level, "iteration", "data") have none of these keys or arrays
RUN_META = frozenset({"format", "version", "lr_changes", "order", "start_loss", "last_loss", "seconds",
                      "history_fields", "snapshot_iterations", "next_snapshot", "failure", "active", "m",
                      "data_check"})
RUN_ARRAYS = ("history", "snapshots", "opt.")


def read(arrays: dict[str, np.ndarray], meta: dict) -> RunState | Params:
    """What a saved file holds: a whole run, or (older files) weights only.

    A file is weights-only only when it holds no run metadata at all: no key or array that only a
    run writes (a run's "optimizer" is its state, a JSON object; in older files it is a setting's
    name). With any of it, the run must read whole: damaged run metadata is refused, never taken
    for weights and trained from iteration 0 with other settings.
    Raises: ValueError with one sentence when neither can be read.
    """
    run_meta = sorted(set(meta) & RUN_META | ({"optimizer"} if isinstance(meta.get("optimizer"), dict) else set()))
    run_arrays = sorted(name for name in arrays if name.startswith(RUN_ARRAYS))
    if run_meta or run_arrays:
        if meta.get("format") != FORMAT:
            found = ", ".join(run_meta + run_arrays)
            raise ValueError(f"it holds run data ({found}) without the run format mark: a damaged run file")
        return RunState.from_arrays(arrays, meta)
    return Params.from_arrays(arrays)


def data_check(y: np.ndarray) -> int:
    """A checksum of the training labels in order: a restored run must see the same rows."""
    return zlib.crc32(np.ascontiguousarray(y, dtype=np.int64).tobytes())


# ----- checking a loaded state -------------------------------------------------------------------
def _state_from(arrays: dict, meta: dict) -> RunState:
    config = TrainConfig.from_dict(meta["config"])
    params = Params.from_arrays(arrays)
    if params.hidden != config.hidden:
        raise ValueError(f"its weights have {params.hidden} hidden units but its settings say {config.hidden}")
    params = params.map(lambda a: a.astype(config.dtype))
    iteration = _whole(meta["iteration"], "iteration")
    m = _whole(meta["m"], "m", low=1)
    opt = meta["optimizer"]
    if opt["kind"] != config.optimizer:
        raise ValueError(f"its optimizer state is {opt['kind']!r} but its settings say {config.optimizer!r}")
    moments = {slot: _moments(arrays, slot, params) for slot in ("velocity", "second")}
    needed = {"plain": (), "momentum": ("velocity",), "adam": ("velocity", "second")}[config.optimizer]
    if any((moments[slot] is None) == (slot in needed) for slot in ("velocity", "second")):
        raise ValueError(f"its optimizer state does not fit {config.optimizer!r}")
    opt_state = OptimizerState(config.optimizer, _whole(opt["step"], "optimizer step"), moments["velocity"],
                               moments["second"])
    lr = _rate(meta["lr"], "α")
    if not isinstance(meta["lr_changes"], list) or any(not isinstance(c, list) or len(c) != 2
                                                       for c in meta["lr_changes"]):
        raise ValueError(f"its α changes must be a list of [iteration, α] pairs, found {meta['lr_changes']!r}")
    changes = tuple((_whole(i, "α change iteration"), _rate(v, "α")) for i, v in meta["lr_changes"])
    if not changes or changes[0][0] != 0 or any(a[0] >= b[0] for a, b in zip(changes, changes[1:])) \
            or changes[-1][0] > iteration or changes[-1][1] != lr:
        raise ValueError("its α changes are out of order or do not end at its α")
    order = meta["order"]
    cursor = _whole(order["cursor"], "batch cursor")
    if cursor > m:
        raise ValueError(f"its batch cursor {cursor:,} is past its {m:,} training rows")
    epoch_rng = order["epoch_rng"]
    if epoch_rng is not None:
        try:
            np.random.default_rng().bit_generator.state = epoch_rng
        except (ValueError, TypeError, KeyError) as error:
            raise ValueError(f"its batch order's random state is damaged ({' '.join(str(error).split())})") from None
    elif cursor:
        raise ValueError(f"its batch cursor is {cursor:,} before any batch was drawn (no shuffle recorded)")
    history = _history(arrays, meta, iteration)
    if iteration - history[-1]["iteration"] >= config.eval_every:  # a run records every eval_every iterations
        raise ValueError(f"its iteration {iteration:,} is past its history, whose last evaluation is at iteration "
                         f"{history[-1]['iteration']:,} with one every {config.eval_every:,}")
    snapshots = _snapshots(arrays, meta, params, iteration)
    active = meta["active"]
    if not isinstance(active, list) or len(active) != params.hidden or not all(isinstance(a, bool) for a in active):
        raise ValueError(f"its active-unit mask must be {params.hidden} true/false values, found {active!r}")
    failure = Failure.from_dict(meta["failure"]) if meta["failure"] is not None else None
    if failure is not None and failure.iteration > iteration:
        raise ValueError(f"its failure at iteration {failure.iteration:,} is past the run's iteration {iteration:,}")
    data_check = _whole(meta["data_check"], "data check")
    if data_check >= 2**32:
        raise ValueError(f"its data check {data_check} is not a CRC-32 (below 2**32)")
    return RunState(config, params, opt_state, iteration, lr, changes, OrderState(epoch_rng, cursor),
                    _loss(meta["start_loss"], "start loss"), _loss(meta["last_loss"], "last loss"),
                    _number(meta["seconds"], "training time in seconds"), history, snapshots,
                    _whole(meta["next_snapshot"], "next snapshot"), failure, np.array(active, dtype=bool), m,
                    data_check)


def _moments(arrays: dict, slot: str, params: Params) -> Params | None:
    """The optimizer's running averages in `slot`, checked against the weights' shapes, or None."""
    names = [f"opt.{slot}.{k}" for k in ("W1", "b1", "W2", "b2")]
    if not any(n in arrays for n in names):
        return None
    moments = Params.from_arrays({n.rsplit(".", 1)[1]: arrays[n] for n in names})
    if moments.hidden != params.hidden:
        raise ValueError(f"its optimizer state has {moments.hidden} hidden units, expected {params.hidden}")
    return moments.map(lambda a: a.astype(params.dtype))


def _history(arrays: dict, meta: dict, iteration: int) -> tuple[dict, ...]:
    if list(meta["history_fields"]) != list(HISTORY_FIELDS):
        raise ValueError("its history has other columns than this digit-lab records")
    table = np.asarray(arrays["history"], dtype=np.float64)
    if table.ndim != 2 or table.shape[1] != len(HISTORY_FIELDS) or not table.size:
        raise ValueError(f"its history has shape {table.shape}, expected (rows >= 1, {len(HISTORY_FIELDS)})")
    its = table[:, 0]
    if np.isnan(its).any() or (np.diff(its) <= 0).any() or its[-1] > iteration:
        raise ValueError("its history's iterations are out of order or past the run's iteration")
    rows = []
    for values in table.tolist():
        row = dict(zip(HISTORY_FIELDS, values))
        row["iteration"] = int(row["iteration"])
        rows.append(row)
    return tuple(rows)


def _snapshots(arrays: dict, meta: dict, params: Params, iteration: int) -> tuple[tuple[int, np.ndarray], ...]:
    stack = np.asarray(arrays["snapshots"])
    its = [_whole(i, "snapshot iteration") for i in meta["snapshot_iterations"]]
    if stack.shape != (len(its), params.hidden, N_PIXELS) or not np.isfinite(stack).all():
        raise ValueError(f"its weight snapshots have shape {stack.shape}, expected ({len(its)}, {params.hidden}, "
                         f"{N_PIXELS}) of finite numbers")
    if its != sorted(set(its)) or (its and its[-1] > iteration):
        raise ValueError("its weight snapshots are out of order or past the run's iteration")
    return tuple((i, W1.astype(params.dtype)) for i, W1 in zip(its, stack))


def _whole(value, what: str, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"its {what} must be a whole number >= {low}, found {value!r}")
    return value


def _rate(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"its {what} must be a positive number, found {value!r}")
    return float(value)


def _number(value, what: str) -> float:
    """A finite number >= 0 (losses, seconds). Raises: ValueError naming `what`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value >= 0):
        raise ValueError(f"its {what} must be a finite number >= 0, found {value!r}")
    return float(value)


def _loss(value, what: str) -> float | None:
    """None (no batch yet), or a cross-entropy: finite and >= 0. Raises: ValueError naming `what`."""
    return None if value is None else _number(value, what)


def json_ready(value):
    """NumPy scalars as Python numbers, NaN as None, recursively (JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value
