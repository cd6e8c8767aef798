"""The notebook's network, 784 -> h -> 10, with ReLU, softmax and backpropagation.

Columns are examples, as in the notebook:

| name           | shape     | meaning                                   |
| -------------- | --------- | ----------------------------------------- |
| X              | (784, m)  | pixels / 255, one column per image (or    |
|                |           | raw uint8 pixels, divided by 255 on use)  |
| y              | (m,)      | labels 0..9                               |
| Y              | (10, m)   | one-hot labels                            |
| W1, b1         | (h, 784), (h, 1) | hidden layer                       |
| Z1, A1         | (h, m)    | hidden pre-activation, ReLU(Z1)           |
| W2, b2         | (10, h), (10, 1) | output layer                       |
| Z2, A2         | (10, m)   | logits, softmax(Z2) = probabilities       |

`Quirks` switches on, one by one, what the original notebook did differently; with all of
them off this is plain gradient descent on mean cross-entropy.

Every function also takes a stack of N networks that share the batch X: give the parameters
a leading run axis (W1 (N, h, 784), Z1 (N, h, m), ...) and results get it too. A learning-rate
sweep trains all its runs this way, in one pass over the data.

`forward`, `backward` and `cross_entropy` are the math as written; `gradients`, `evaluate` and
`predict_proba` compute the same in one cache-blocked pass whose column chunks run on the
process-wide compute pool (core.pool).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, fields, replace

import numpy as np

from core import activations, pool

N_PIXELS = 784
N_CLASSES = 10
CHUNK = 2016  # columns at most per cache-blocked pass and per pool task: 18 pieces of 112 rows at h = 10.
# Chunks of 4,032 (12.6 MB of float32 each, two at a time; this machine's L3 holds 32 MB) were slower:
# the bundled sample's full batch trained at 189-223 it/s with them, 246-293 with 1,125-2,016 columns
TASKS = 8  # a pass over TASKS * 512 columns or more goes in a multiple of TASKS equal chunks, which
# balance 1, 2, 4 or 8 workers: the sample's 4,032 + 4,032 + 936 kept one worker waiting a fifth of
# each step, and all of it whenever the other one's big chunk lost its core to the browser for a while
SMALL_PRODUCT = 900_000  # OpenBLAS multiplies matrices with M·N·K below about 1e6 without packing them
# first; for h <= 16 that is 1.3-1.9x faster, so the two products with X go in row pieces this small


PARAM_NAMES = ("W1", "b1", "W2", "b2")


@dataclass(frozen=True)
class Params:
    """The four parameter arrays; gradients use the same shape (dW1 lives in `.W1`)."""

    W1: np.ndarray  # (h, 784)
    b1: np.ndarray  # (h, 1)
    W2: np.ndarray  # (10, h)
    b2: np.ndarray  # (10, 1)

    @property
    def hidden(self) -> int:
        """Number of hidden units h."""
        return self.W1.shape[-2]

    @property
    def dtype(self) -> np.dtype:
        """The parameters' float type."""
        return self.W1.dtype

    def map(self, fn, *others: Params) -> Params:
        """Apply `fn` array-wise to this and `others` (all with the same layout)."""
        if not others:  # the common case, on the training hot path: no generator per array
            return Params(fn(self.W1), fn(self.b1), fn(self.W2), fn(self.b2))
        groups = (self, *others)
        return Params(*(fn(*(getattr(p, name) for p in groups)) for name in PARAM_NAMES))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The arrays by name, for saving."""
        return {name: getattr(self, name) for name in PARAM_NAMES}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Params:
        """Check names, shapes and values of loaded arrays and build `Params`.

        Raises: ValueError naming the array and the expected vs found shape or value.
        """
        missing = [f.name for f in fields(cls) if f.name not in arrays]
        if missing:
            raise ValueError(f"missing array(s) {', '.join(missing)}: expected W1, b1, W2, b2")
        W1, b1, W2, b2 = (np.asarray(arrays[f.name]) for f in fields(cls))
        h = W1.shape[0] if W1.ndim == 2 else -1
        expected = {"W1": (h, N_PIXELS), "b1": (h, 1), "W2": (N_CLASSES, h), "b2": (N_CLASSES, 1)}
        for name, a in zip(expected, (W1, b1, W2, b2)):
            if h < 1 or a.shape != expected[name]:
                raise ValueError(f"{name} has shape {a.shape}, expected {expected[name]}")
            if a.dtype.kind != "f" or not np.isfinite(a).all():
                raise ValueError(f"{name} must hold finite floats (found {a.dtype} with NaN/inf or non-floats)")
        dtype = np.result_type(W1, b1, W2, b2)
        return cls(*(a.astype(dtype) for a in (W1, b1, W2, b2)))


def packed_size(hidden: int) -> int:
    """P, the numbers of one network packed in a row: h·784 + h + 10·h + 10."""
    return hidden * (N_PIXELS + 1 + N_CLASSES) + N_CLASSES


def pack(stacked: Params) -> np.ndarray:
    """A stack's four parameters side by side in one (N, P) array: W1, b1, W2, b2 of run i in row i.

    The Trainer keeps its weights, gradients and optimizer moments this way: an update, the
    finiteness check and the masking of a stopped run are then one NumPy call each on (N, P)
    instead of one per parameter, which is much of a small batch's fixed cost.
    """
    n = stacked.W1.shape[0]
    return np.concatenate([a.reshape(n, -1) for a in (stacked.W1, stacked.b1, stacked.W2, stacked.b2)], axis=1)


def unpack(flat: np.ndarray, hidden: int) -> Params:
    """Views of W1, b1, W2, b2 in a packed array: (N, P) gives (N, h, 784) ..., one row (P,) gives (h, 784) ...."""
    lead, h = flat.shape[:-1], hidden
    a = h * N_PIXELS
    b, c = a + h, a + h + N_CLASSES * h
    return Params(flat[..., :a].reshape(*lead, h, N_PIXELS), flat[..., a:b].reshape(*lead, h, 1),
                  flat[..., b:c].reshape(*lead, N_CLASSES, h), flat[..., c:].reshape(*lead, N_CLASSES, 1))


@dataclass(frozen=True)
class Cache:
    """What `forward` computes, kept for `backward` and for looking inside."""

    Z1: np.ndarray  # (h, m)
    A1: np.ndarray  # (h, m)
    Z2: np.ndarray  # (10, m)
    A2: np.ndarray  # (10, m)


@dataclass(frozen=True)
class Quirks:
    """What the notebook did differently from textbook gradient descent; all off = corrected."""

    double_dZ2: bool = False  # dZ2 = 2*(A2 - Y): the squared-error derivative pasted onto softmax
    global_m: int | None = None  # divide gradients by the whole table's rows, not the batch's m
    uniform_init: bool = False  # W ~ U[0,1)*0.01 and b ~ U[0,1) instead of He and zeros
    unshifted_softmax: bool = False  # exp(Z2) without subtracting the column max: overflows
    unscaled_dev: bool = False  # dev pixels left at 0..255 while training saw 0..1
    train_accuracy_only: bool = False  # report accuracy on the training set only
    one_hot_from_max: bool = False  # one_hot sized by y.max()+1: breaks on a batch without 9s

    @property
    def any(self) -> bool:
        """True when at least one quirk is on."""
        return self != Quirks()

    def with_(self, **changes) -> Quirks:
        """A copy with some switches changed."""
        return replace(self, **changes)


# The notebook as written: what its training code does (issue "notebook mode").
NOTEBOOK_QUIRKS = Quirks(double_dZ2=True, global_m=42_000, uniform_init=True, unshifted_softmax=True)


def init_params(hidden: int, rng: np.random.Generator, dtype=np.float32, uniform: bool = False) -> Params:
    """He-scaled normal weights and zero biases, or the notebook's uniform draws.

    Shapes: W1 (h, 784), b1 (h, 1), W2 (10, h), b2 (10, 1).
    """
    if uniform:  # the notebook: np.random.rand(...) * 0.01 for W, np.random.rand(...) for b
        W1 = rng.random((hidden, N_PIXELS)) * 0.01  # (h, 784)
        b1 = rng.random((hidden, 1))  # (h, 1)
        W2 = rng.random((N_CLASSES, hidden)) * 0.01  # (10, h)
        b2 = rng.random((N_CLASSES, 1))  # (10, 1)
    else:
        W1 = rng.standard_normal((hidden, N_PIXELS)) * np.sqrt(2 / N_PIXELS)  # (h, 784)
        b1 = np.zeros((hidden, 1))  # (h, 1)
        W2 = rng.standard_normal((N_CLASSES, hidden)) * np.sqrt(2 / hidden)  # (10, h)
        b2 = np.zeros((N_CLASSES, 1))  # (10, 1)
    return Params(W1, b1, W2, b2).map(lambda a: a.astype(dtype))


def relu(Z: np.ndarray) -> np.ndarray:
    """max(Z, 0) element-wise."""
    return np.maximum(Z, 0)


def softmax(Z: np.ndarray, shift: bool = True) -> np.ndarray:
    """Column-wise softmax; `shift=False` is the notebook's overflow-prone form.

    Shapes: Z (10, m) -> (10, m). Unshifted, a large logit gives inf/inf = NaN (no exception);
    the trainer reports that as divergence.
    """
    if shift:
        E = np.exp(Z - Z.max(axis=-2, keepdims=True))
        return E / E.sum(axis=-2, keepdims=True)
    with np.errstate(over="ignore", invalid="ignore"):
        E = np.exp(Z)
        return E / E.sum(axis=-2, keepdims=True)


def one_hot(y: np.ndarray, k: int = N_CLASSES, dtype=np.float32) -> np.ndarray:
    """Labels as columns of a k x m identity.

    Shapes: y (m,) -> Y (k, m). Raises: ValueError when a label is outside 0..k-1.
    """
    if y.size and (y.min() < 0 or y.max() >= k):
        raise ValueError(f"labels must be in 0..{k - 1}, found {y.min()}..{y.max()}")
    Y = np.zeros((k, y.size), dtype=dtype)  # (k, m)
    Y[y, np.arange(y.size)] = 1
    return Y


def pixels(X: np.ndarray, dtype=np.float32) -> np.ndarray:
    """X as float pixels in 0..1: raw uint8 pixels divided by 255 (as data.split does), floats cast.

    Shapes: X (784, m) -> (784, m), no copy when X already has that float type.
    """
    if X.dtype == np.uint8:
        return np.divide(X, np.array(255, dtype))
    return X.astype(dtype, copy=False)


def forward(params: Params, X: np.ndarray, shift: bool = True, activation: str = "relu") -> Cache:
    """Z1 = W1·X + b1, A1 = g(Z1) (ReLU in the notebook), Z2 = W2·A1 + b2, A2 = softmax(Z2).

    Shapes: X (784, m) -> Z1, A1 (h, m); Z2, A2 (10, m).
    """
    X = pixels(X, params.dtype) if X.dtype == np.uint8 else X
    # (Xᵀ·W1ᵀ)ᵀ is W1·X; in this order BLAS reads X, whose examples are contiguous, fastest.
    # A stack of N runs is flattened to (N·h, 784) so that one product reads X once for all.
    W1 = params.W1.reshape(-1, N_PIXELS)  # (h, 784) or (N·h, 784)
    Z1 = (X.T @ W1.T).T.reshape(*params.W1.shape[:-1], X.shape[1]) + params.b1
    A1 = activations.apply(activation, Z1)
    Z2 = params.W2 @ A1 + params.b2
    return Cache(Z1, A1, Z2, softmax(Z2, shift))


def deltas(params: Params, cache: Cache, Y: np.ndarray, dZ2_scale: float = 1.0,
           activation: str = "relu") -> tuple[np.ndarray, np.ndarray]:
    """dZ2 = A2 - Y (times 2 in the notebook) and dZ1 = W2ᵀ·dZ2 ∗ g'(Z1) (ReLU'(Z1) in the notebook).

    Shapes: Y (10, m) -> dZ2 (10, m), dZ1 (h, m).
    """
    dZ2 = (cache.A2 - Y) * dZ2_scale if dZ2_scale != 1 else cache.A2 - Y  # (10, m)
    dA1 = params.W2.mT @ dZ2  # (h, m); .mT transposes the last two axes
    if activation == "relu":
        dZ1 = dA1 * (cache.Z1 > 0)  # ReLU'(Z1) is 0 or 1
    else:
        dZ1 = dA1 * activations.derivative(activation, cache.Z1, cache.A1)
    return dZ2, dZ1


def backward(params: Params, X: np.ndarray, cache: Cache, Y: np.ndarray, m: int | None = None,
             dZ2_scale: float = 1.0, activation: str = "relu") -> Params:
    """Gradients of the summed loss divided by `m` (default: the batch's own size).

    The notebook divides by the whole table's row count instead (`m`), and scales dZ2 by 2
    (`dZ2_scale`). Shapes: X (784, m), Y (10, m) -> dW1 (h, 784), db1 (h, 1), dW2 (10, h),
    db2 (10, 1).
    """
    m = X.shape[1] if m is None else m
    X = pixels(X, params.dtype) if X.dtype == np.uint8 else X
    dZ2, dZ1 = deltas(params, cache, Y, dZ2_scale, activation)
    dW2 = dZ2 @ cache.A1.mT / m
    db2 = dZ2.sum(axis=-1, keepdims=True) / m
    dW1 = (dZ1.reshape(-1, X.shape[1]) @ X.T).reshape(params.W1.shape) / m  # one product for a stack
    db1 = dZ1.sum(axis=-1, keepdims=True) / m
    return Params(dW1, db1, dW2, db2)


def cross_entropy(Z2: np.ndarray, y: np.ndarray):
    """Mean over examples of -log softmax(Z2)[y], computed stably from the logits.

    Shapes: Z2 (10, m), y (m,) -> float; Z2 (N, 10, m) -> (N,) one loss per run.
    """
    Z = Z2.astype(np.float64)
    top = Z.max(axis=-2)
    log_sum = top + np.log(np.exp(Z - top[..., None, :]).sum(axis=-2))
    loss = np.mean(log_sum - Z[..., y, np.arange(y.size)], axis=-1)
    return float(loss) if loss.ndim == 0 else loss


# ---- the hot path: one cache-blocked pass over X, its column chunks spread over core.pool -------
#
# `gradients`, `evaluate` and `predict_proba` compute what `forward`, `backward` and
# `cross_entropy` define, chunk by chunk, with the examples as rows: a chunk of X is X[:, s:e].T,
# a (c, 784) block that is contiguous in memory. Each chunk is one task for the pool; the
# per-chunk results are summed in chunk order, so the numbers do not depend on how many
# workers there are. Within a chunk the kernel works in place in per-thread scratch arrays,
# builds no one-hot matrix and takes the loss and the hits from the softmax's own pieces.
# Raw uint8 pixels are only cast to floats; their 1/255 goes where there are fewer numbers to
# divide: onto W1 and dW1 (h·784 numbers, not 784·m) for a batch of 784 rows or more, onto each
# chunk's Z1 and dZ1 (m·h) for a smaller mini-batch. Either changes the result by float32 rounding only.


class _Net:
    """The parameters as the chunk kernel uses them, prepared once per call (read-only views).

    Shapes: W1T (784, N·h); b1 (N·h,); W2 (N, 10, h); b2 (N, 10, 1); N = 1 for one network.
    For raw pixels W1T is divided by 255 (`raw_on_W1`), or, for fewer than 784 rows, Z1 and dZ1
    are (`raw_on_rows`).
    """

    __slots__ = ("W1T", "b1", "W2", "b2", "runs", "hidden", "dtype", "raw_on_W1", "raw_on_rows")  # built every step

    def __init__(self, params: Params, X: np.ndarray):
        h = params.hidden
        runs = params.W1.size // (h * N_PIXELS)
        self._set(params.W1.reshape(runs * h, N_PIXELS), params.b1.reshape(runs * h),
                  params.W2.reshape(runs, N_CLASSES, h), params.b2.reshape(runs, N_CLASSES, 1), X)

    @classmethod
    def packed(cls, flat: np.ndarray, hidden: int, X: np.ndarray) -> _Net:
        """The same from a packed (N, P) stack (see `pack`), without building `Params` first."""
        net, runs, h = cls.__new__(cls), flat.shape[0], hidden
        a = h * N_PIXELS
        b, c = a + h, a + h + N_CLASSES * h
        net._set(flat[:, :a].reshape(runs * h, N_PIXELS), flat[:, a:b].reshape(runs * h),
                 flat[:, b:c].reshape(runs, N_CLASSES, h), flat[:, c:].reshape(runs, N_CLASSES, 1), X)
        return net

    def _set(self, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray, X: np.ndarray) -> None:
        W1T = W1.T  # a view: BLAS reads it transposed
        raw = X.dtype == np.uint8
        self.raw_on_rows = raw and X.shape[1] < N_PIXELS
        self.raw_on_W1 = raw and not self.raw_on_rows
        if self.raw_on_W1:
            W1T = W1T / np.array(255, W1.dtype)
        self.W1T, self.b1, self.W2, self.b2 = W1T, b1, W2, b2
        self.runs, self.hidden, self.dtype = W2.shape[0], W2.shape[2], W1T.dtype


_scratch = threading.local()  # per-thread arrays the kernel overwrites on every chunk


def _buffer(name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """A scratch array of this thread, reused across chunks (never handed out of a task)."""
    size = math.prod(shape)
    key = (name, np.dtype(dtype))
    flat = _scratch.__dict__.get(key)
    if flat is None or flat.size < size:
        flat = _scratch.__dict__[key] = np.empty(size, dtype)
        _scratch.__dict__.get("plans", {}).clear()  # their views hold the smaller array: let it go
    return flat[:size].reshape(shape)


class _Plan:
    """A thread's scratch arrays for chunks of c rows through N stacked networks of h units, and
    every view the kernel takes of them, made once.

    A mini-batch step asks for the same shapes every time; getting each buffer and view again
    took some sixty small Python calls a step, about a fifth of a batch-128 step (tests/bench.py).
    Shapes: X (c, 784) for cast pixels; Z1 = A1 (ReLU, in place) and dZ1 (c, N·h); alive (c, N·h) bool.
    Its arrays are views of the thread's `_buffer`s: plans of other sizes share them.
    """

    __slots__ = ("c", "size", "k", "rest", "X", "X_pieces", "Z1", "Z1_pieces", "A1_T", "A1_by_run", "dZ1",
                 "dZ1_by_run", "dZ1_pieces_T", "alive", "dW1_pieces", "ones", "columns")

    def __init__(self, c: int, runs: int, hidden: int, dtype):
        H = runs * hidden
        self.c, (self.size, self.k) = c, _pieces(c, H)
        self.rest = self.k * self.size < c  # rows after the last whole piece
        self.X = self.X_pieces = None  # made on the first cast: float32 X is used as it is
        self.Z1, self.dZ1 = _buffer("Z1", (c, H), dtype), _buffer("dZ1", (c, H), dtype)
        self.alive = _buffer("alive", (c, H), bool)
        self.dW1_pieces = _buffer("dW1", (self.k, H, N_PIXELS), dtype)
        self.Z1_pieces = _rows_by_pieces(self.Z1, self.size, self.k)
        self.dZ1_pieces_T = _rows_by_pieces(self.dZ1, self.size, self.k).mT  # (k, N·h, size)
        self.A1_T = self.Z1.reshape(c, runs, hidden).transpose(1, 2, 0)  # (N, h, c)
        self.A1_by_run, self.dZ1_by_run = (A.reshape(c, runs, hidden).transpose(1, 0, 2) for A in (self.Z1, self.dZ1))
        self.ones = np.ones(c, dtype)  # a column sum as a BLAS matrix-vector product: faster than .sum(axis=0)
        self.columns = np.arange(runs)[:, None] * N_CLASSES * c + np.arange(c)  # (N, c): where run n's example i
        # starts in Z2 (N, 10, c) read flat; its label's logit is y_i·c further on


def _plan(c: int, net: _Net) -> _Plan:
    """This thread's plan for chunks of c rows through `net` (made on first use)."""
    plans = _scratch.__dict__.setdefault("plans", {})
    key = (c, net.runs, net.hidden, net.dtype)
    plan = plans.get(key)
    if plan is None:
        plan = _Plan(c, net.runs, net.hidden, net.dtype)
        plans[key] = plan  # after building: a buffer that grew while building it cleared the others
    return plan


def _rows(X: np.ndarray, s: int, e: int, plan: _Plan) -> np.ndarray:
    """Examples s..e-1 as float rows (c, 784); raw uint8 pixels are cast into the plan's X, still 0..255."""
    rows = X[:, s:e].T  # (c, 784), contiguous when X is the transpose of a C-contiguous array
    if rows.dtype == plan.Z1.dtype:
        return rows
    if plan.X is None:
        plan.X = _buffer("X", rows.shape, plan.Z1.dtype)
        plan.X_pieces = _rows_by_pieces(plan.X, plan.size, plan.k)
    np.copyto(plan.X, rows, casting="unsafe")
    return plan.X


def _pieces(c: int, H: int) -> tuple[int, int]:
    """(size, k): the products with X go in k pieces of `size` rows (and the c - k·size rows left).

    A piece has at most SMALL_PRODUCT / (784·H) rows, as even as possible (128 -> 64 + 64, not
    114 + 14); wider layers (fewer than 64 rows a piece) get one piece of all c rows.
    """
    rows = SMALL_PRODUCT // (N_PIXELS * H)
    if rows < 64 or c <= rows:  # wider layers: the packed product is as fast
        return c, 1
    size = -(-c // -(-c // rows))
    return size, c // size


def _rows_by_pieces(A: np.ndarray, size: int, k: int) -> np.ndarray:
    """The first k·size rows of A (c, n) as k pieces (k, size, n): a view, A's rows are contiguous."""
    return A[:k * size].reshape(k, size, A.shape[1])


def _forward_rows(net: _Net, Xc: np.ndarray, activation: str, p: _Plan) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Z1 and A1 (c, N·h), in the plan's arrays (the same one for ReLU), and Z2 (N, 10, c) of one chunk of rows."""
    X_pieces = p.X_pieces if Xc is p.X else _rows_by_pieces(Xc, p.size, p.k)
    np.matmul(X_pieces, net.W1T, out=p.Z1_pieces)  # all pieces in one batched call: it releases the GIL once
    if p.rest:
        np.matmul(Xc[p.k * p.size:], net.W1T, out=p.Z1[p.k * p.size:])
    Z1 = p.Z1  # (c, N·h)
    if net.raw_on_rows:
        Z1 /= 255  # the raw pixels' 1/255 (see _Net)
    Z1 += net.b1
    if activation == "relu":
        A1, A1_T = np.maximum(Z1, 0, out=Z1), p.A1_T  # in place: nobody else holds Z1, and Z1 > 0 iff A1 > 0
    else:
        A1 = activations.apply(activation, Z1)
        A1_T = A1.reshape(p.c, net.runs, net.hidden).transpose(1, 2, 0)
    Z2 = np.matmul(net.W2, A1_T)  # (N, 10, c)
    Z2 += net.b2
    return Z1, A1, Z2


def _check_labels(y: np.ndarray) -> None:
    """Raises: ValueError when a label is outside 0..9 (as one_hot does)."""
    if y.size and (y.min() < 0 or y.max() >= N_CLASSES):
        raise ValueError(f"labels must be in 0..{N_CLASSES - 1}, found {y.min()}..{y.max()}")


def _softmax_pieces(Z2: np.ndarray, yc: np.ndarray, shift: bool, columns: np.ndarray, count_hits: bool = True):
    """Turn Z2 (N, 10, c) into A2 in place; return the summed loss (N,) float64, hits (N,) and label positions.

    The label positions `at` (N, c) index Z2 (and A2, dZ2) read flat: `columns` (_Plan) plus y_i·c.

    The loss of example i is log Σ_k exp(Z2[k,i] - top_i) - (Z2[y_i,i] - top_i), the stable
    form `cross_entropy` computes, from the same sums the softmax needs. A hit is argmax = label;
    when no column has a tie for its top, that is "the label's logit is the top", else (ties,
    NaN) argmax decides. `count_hits=False` skips them (hits None): a training step does not need them.
    """
    top = Z2.max(axis=-2, keepdims=True)  # (N, 1, c)
    hits = unique_top = None
    if count_hits:
        unique_top = np.count_nonzero(Z2 == top) == top.size  # no ties, no NaN: argmax is where Z2 == top
        hits = None if unique_top else (Z2.argmax(axis=-2) == yc).sum(axis=-1)
    Zs = np.subtract(Z2, top, out=Z2) if shift else Z2 - top
    at = yc * yc.size + columns  # (N, c); one flat index array: fancy indexing is cheapest on one axis
    picked = Zs.reshape(-1)[at]  # (N, c): the label's shifted logit, taken before exp overwrites it
    if unique_top:
        hits = (picked == 0).sum(axis=-1)  # x - top == 0 exactly iff x == top
    if shift:
        E = np.exp(Zs, out=Z2)
        S = E.sum(axis=-2, keepdims=True)  # (N, 1, c)
        log_S = np.log(S)
        np.divide(E, S, out=E)
    else:  # the notebook's exp(Z2) / Σ exp(Z2), NaN on overflow; the loss is still the stable one
        log_S = np.log(np.exp(Zs, out=Zs).sum(axis=-2, keepdims=True))
        with np.errstate(over="ignore", invalid="ignore"):
            E = np.exp(Z2, out=Z2)
            np.divide(E, E.sum(axis=-2, keepdims=True), out=E)
    loss = np.subtract(log_S[:, 0], picked, out=picked).sum(axis=-1, dtype=np.float64)  # picked is a copy: reused
    return loss, hits, at


def _active(Z1: np.ndarray, A1: np.ndarray, activation: str, ones: np.ndarray) -> np.ndarray:
    """(N·h,) bool: the unit passed gradient on some example of the chunk."""
    if activation == "relu":
        return ones @ A1 > 0  # A1 >= 0, so a unit's column sums to > 0 iff it fired
    return activations.passes_gradient(activation, Z1).any(axis=0)


def _gradient_chunk(net: _Net, X: np.ndarray, y: np.ndarray, s: int, e: int, shift: bool, scale: float,
                    activation: str, count_hits: bool = True):
    """Summed gradients (each already divided by the batch's m), loss, hits and active units of one chunk."""
    p = _plan(e - s, net)
    Xc, yc = _rows(X, s, e, p), y[s:e]
    Z1, A1, Z2 = _forward_rows(net, Xc, activation, p)
    active = _active(Z1, A1, activation, p.ones)
    loss, hits, at = _softmax_pieces(Z2, yc, shift, p.columns, count_hits)
    dZ2 = Z2  # (N, 10, c): A2 - Y in place, times 2 in notebook mode and / m
    dZ2.reshape(-1)[at] -= 1  # a view; one flat index array, much cheaper than [:, yc, cols]
    dZ2 *= scale
    A1_by_run = p.A1_by_run if A1 is p.Z1 else A1.reshape(p.c, net.runs, net.hidden).transpose(1, 0, 2)
    dW2 = np.matmul(dZ2, A1_by_run)  # (N, 10, h)
    db2 = dZ2.sum(axis=-1, keepdims=True)  # (N, 10, 1)
    np.matmul(dZ2.mT, net.W2, out=p.dZ1_by_run)
    dZ1 = p.dZ1  # (c, N·h), the layout of A1
    if activation == "relu":
        np.multiply(dZ1, np.greater(A1, 0, out=p.alive), out=dZ1)  # ∗ ReLU'(Z1)
    else:
        dZ1 *= activations.derivative(activation, Z1, A1)
    db1 = p.ones @ dZ1
    if net.raw_on_rows:
        dZ1 /= 255  # dW1 = dZ1ᵀ·(X/255) for raw X (see _Net); db1 has no pixels in it
    size, k = p.size, p.k  # (N·h, 784): products for all runs at once, X still in cache
    if k == 1:  # np.dot: matmul leaves BLAS for a slow loop of its own when c = 1 (9 µs instead of 2)
        dW1 = np.dot(dZ1[:size].T, Xc[:size])
    else:
        X_pieces = p.X_pieces if Xc is p.X else _rows_by_pieces(Xc, size, k)
        dW1 = np.matmul(p.dZ1_pieces_T, X_pieces, out=p.dW1_pieces).sum(axis=0)
    if p.rest:
        dW1 += np.matmul(dZ1[k * size:].T, Xc[k * size:], out=_buffer("dW1 rest", dW1.shape, net.dtype))
    return dW1, db1, dW2, db2, loss, hits, active


def _chunks(m: int, chunk: int) -> list[tuple[int, int]]:
    """(start, end) of the column chunks of a pass over m columns: at most `chunk` wide, as equal as
    possible (sizes differ by one at most), their number a multiple of TASKS from TASKS * 512 columns on.

    The chunks depend on m and `chunk` only, never on the pool's size: the sums stay the same numbers.
    """
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1 columns, got {chunk}")
    n = -(-m // chunk)
    if m >= TASKS * 512:
        n = -(-n // TASKS) * TASKS
    ends = [m * (i + 1) // n for i in range(n)]
    return list(zip([0, *ends[:-1]], ends))


def _spread(fn, chunks: list[tuple[int, int]]):
    """fn(s, e) for each chunk, on the compute pool; results in chunk order."""
    if len(chunks) == 1:  # a mini-batch: no hand-over to another thread
        return iter([fn(*chunks[0])])
    errors = np.geterr()  # NumPy's error state is per thread: the workers take the caller's

    def task(bounds):
        with np.errstate(**errors):
            return fn(*bounds)

    return pool.map(task, chunks)


def gradients(params: Params, X: np.ndarray, y: np.ndarray, quirks: Quirks = Quirks(),
              chunk: int = CHUNK, activation: str = "relu", check_labels: bool = True,
              count_hits: bool = True) -> BatchResult:
    """Mean-loss gradients over the batch in one cache-blocked pass over X, on the compute pool.

    Summing the gradients of column chunks, each divided by the whole batch's m, gives exactly
    the full-batch gradient while each chunk of X is read once and stays in cache; chunks are
    summed in order, whatever the number of workers. X may hold raw uint8 pixels.
    Shapes: X (784, m), y (m,).
    Raises: ValueError if the batch is empty, the one-hot quirk meets a batch without 9s, or a
    label is not 0..9 (`check_labels=False`: the caller has checked the labels it batches from).
    `count_hits=False` leaves `hits` None (a training step does not need them).
    """
    m = X.shape[1]
    if m == 0:
        raise ValueError("the batch is empty: gradients need at least one example")
    k = int(y.max()) + 1 if quirks.one_hot_from_max else N_CLASSES
    if k != N_CLASSES:
        raise ValueError(f"one_hot(y) made {k} rows because this batch has no label {k}..9; "
                         f"the notebook's code crashes here (shapes (10, m) vs ({k}, m))")
    if check_labels:
        _check_labels(y)
    activations.check(activation)
    net = _Net(params, X)
    dW1, db1, dW2, db2, loss, hits, active = _summed(net, X, y, quirks, chunk, activation, count_hits)
    if net.raw_on_W1:
        dW1 /= np.array(255, params.dtype)  # the 1/255 of the pixels, applied once
    grads = Params(dW1.reshape(params.W1.shape), db1.reshape(params.b1.shape), dW2.reshape(params.W2.shape),
                   db2.reshape(params.b2.shape))
    if not params.b1.shape[:-2]:
        return BatchResult(grads, float(loss[0]) / m, None if hits is None else int(hits[0]), active)
    return BatchResult(grads, loss / m, hits, active.reshape(params.b1.shape[:-1]))


def packed_gradients(flat: np.ndarray, hidden: int, X: np.ndarray, y: np.ndarray, quirks: Quirks = Quirks(),
                     activation: str = "relu") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What `gradients` computes, for a packed stack (see `pack`): gradients packed alike, losses, active units.

    The training step's form: no `Params` is built on the way in or out, no hits are counted and
    the labels are not checked (the Trainer checked the rows it batches from). The caller checks
    the one-hot quirk. Shapes: flat (N, P), X (784, m), y (m,) -> (N, P), (N,), (N, h).
    """
    runs, m, h = flat.shape[0], X.shape[1], hidden
    net = _Net.packed(flat, h, X)
    dW1, db1, dW2, db2, loss, _, active = _summed(net, X, y, quirks, CHUNK, activation, False)
    if net.raw_on_W1:
        dW1 /= np.array(255, flat.dtype)  # the 1/255 of the pixels, applied once (dW1 is a new array)
    # (N, P), a new array each step: readers may hold the last one
    grads = np.concatenate([dW1.reshape(runs, -1), db1.reshape(runs, h), dW2.reshape(runs, -1), db2.reshape(runs, -1)],
                           axis=1)
    return grads, loss / m, active.reshape(runs, h)


def _summed(net: _Net, X: np.ndarray, y: np.ndarray, quirks: Quirks, chunk: int, activation: str, count_hits: bool):
    """dW1 (N·h, 784) still for raw pixels, db1, dW2, db2, summed loss, hits and active units over all chunks."""
    m = X.shape[1]
    scale = (2.0 if quirks.double_dZ2 else 1.0) / (quirks.global_m or m)
    shift = not quirks.unshifted_softmax
    if m <= chunk:  # a mini-batch: one chunk, here, with nothing to sum
        return _gradient_chunk(net, X, y, 0, m, shift, scale, activation, count_hits)
    parts = _spread(lambda s, e: _gradient_chunk(net, X, y, s, e, shift, scale, activation, count_hits),
                    _chunks(m, chunk))
    dW1, db1, dW2, db2, loss, hits, active = next(parts)  # fresh arrays: summed into in place
    for more_dW1, more_db1, more_dW2, more_db2, more_loss, more_hits, more_active in parts:
        dW1 += more_dW1
        db1 += more_db1
        dW2 += more_dW2
        db2 += more_db2
        loss, active = loss + more_loss, active | more_active
        hits = None if hits is None else hits + more_hits
    return dW1, db1, dW2, db2, loss, hits, active


def _evaluate_chunk(net: _Net, X: np.ndarray, y: np.ndarray, preds: np.ndarray, s: int, e: int, shift: bool,
                    activation: str):
    """Summed loss (N,) and active units (N·h,) of one chunk; its predictions go into preds[:, s:e]."""
    p = _plan(e - s, net)
    Z1, A1, Z2 = _forward_rows(net, _rows(X, s, e, p), activation, p)
    preds[:, s:e] = Z2.argmax(axis=-2)
    loss, _, _ = _softmax_pieces(Z2, y[s:e], shift, p.columns)
    return loss, _active(Z1, A1, activation, p.ones)


def evaluate(params: Params, X: np.ndarray, y: np.ndarray, shift: bool = True, chunk: int = CHUNK,
             activation: str = "relu"):
    """Loss, accuracy, predictions and active hidden units on (X, y), on the compute pool.

    Shapes: X (784, m) (floats, or raw uint8 pixels), y (m,) -> loss, accuracy, predictions (m,),
    active (h,); for N stacked runs the loss and accuracy are (N,), predictions (N, m), active (N, h).
    Raises: ValueError when a label is outside 0..9.
    """
    _check_labels(y)
    activations.check(activation)
    net = _Net(params, X)
    preds = np.empty((net.runs, y.size), dtype=np.int64)
    loss_sum, active = np.zeros(net.runs), np.zeros(net.runs * net.hidden, dtype=bool)
    if y.size:
        for loss, alive in _spread(lambda s, e: _evaluate_chunk(net, X, y, preds, s, e, shift, activation),
                                   _chunks(y.size, chunk)):
            loss_sum, active = loss_sum + loss, active | alive
    loss, acc = loss_sum / max(y.size, 1), (preds == y).mean(axis=-1) if y.size else np.zeros(net.runs)
    active = active.reshape(params.b1.shape[:-1])
    if not params.b1.shape[:-2]:
        return float(loss[0]), float(acc[0]), preds[0], active
    return loss, acc, preds, active


def _proba_chunk(net: _Net, X: np.ndarray, out: np.ndarray, s: int, e: int, activation: str) -> None:
    p = _plan(e - s, net)
    _, _, Z2 = _forward_rows(net, _rows(X, s, e, p), activation, p)
    Z2 -= Z2.max(axis=-2, keepdims=True)
    E = np.exp(Z2, out=Z2)
    np.divide(E, E.sum(axis=-2, keepdims=True), out=out[:, :, s:e])


def predict_proba(params: Params, X: np.ndarray, chunk: int = CHUNK, activation: str = "relu") -> np.ndarray:
    """Class probabilities, computed in column chunks on the compute pool to bound memory.

    Shapes: X (784, m) (floats, or raw uint8 pixels) -> A2 (10, m); (N, 10, m) for N stacked runs.
    """
    activations.check(activation)
    net = _Net(params, X)
    out = np.empty((net.runs, N_CLASSES, X.shape[1]), dtype=params.dtype)  # (N, 10, m)
    if X.shape[1]:
        for _ in _spread(lambda s, e: _proba_chunk(net, X, out, s, e, activation), _chunks(X.shape[1], chunk)):
            pass
    return out.reshape(params.b1.shape[:-2] + out.shape[1:])


@dataclass(frozen=True)
class BatchResult:
    """One pass over a batch: gradients, and what it learned about the batch on the way."""

    grads: Params
    loss: float | np.ndarray  # mean cross-entropy at the parameters before the update ((N,) stacked)
    hits: int | np.ndarray | None  # correctly classified examples ((N,) stacked); None when not counted
    active: np.ndarray  # (h,) or (N, h) bool: hidden unit passed gradient (ReLU: was > 0) on at least one example
