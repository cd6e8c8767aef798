"""The notebook's network, 784 -> h -> 10, with ReLU, softmax and backpropagation.

Columns are examples, as in the notebook:

| name           | shape     | meaning                                   |
| -------------- | --------- | ----------------------------------------- |
| X              | (784, m)  | pixels / 255, one column per image        |
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
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from core import activations

N_PIXELS = 784
N_CLASSES = 10
CHUNK = 1024  # columns per cache-blocked pass: the chunk of X (3.2 MB float32) stays in cache between
# the forward product and dW1 (measured with tests/bench.py: 1024 beat 512, 2048 and no blocking)


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
        return Params(*(fn(*(getattr(p, f.name) for p in (self, *others))) for f in fields(self)))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The arrays by name, for saving."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

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


def forward(params: Params, X: np.ndarray, shift: bool = True, activation: str = "relu") -> Cache:
    """Z1 = W1·X + b1, A1 = g(Z1) (ReLU in the notebook), Z2 = W2·A1 + b2, A2 = softmax(Z2).

    Shapes: X (784, m) -> Z1, A1 (h, m); Z2, A2 (10, m).
    """
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


def predict_proba(params: Params, X: np.ndarray, chunk: int = CHUNK, activation: str = "relu") -> np.ndarray:
    """Class probabilities, computed in column chunks to bound memory.

    Shapes: X (784, m) -> A2 (10, m).
    """
    out = np.empty((N_CLASSES, X.shape[1]), dtype=params.dtype)  # (10, m)
    for s in range(0, X.shape[1], chunk):
        out[:, s:s + chunk] = forward(params, X[:, s:s + chunk].astype(params.dtype, copy=False),
                                      activation=activation).A2
    return out


def evaluate(params: Params, X: np.ndarray, y: np.ndarray, shift: bool = True, chunk: int = CHUNK,
             activation: str = "relu"):
    """Loss, accuracy, predictions and active hidden units on (X, y).

    Shapes: X (784, m), y (m,) -> loss, accuracy, predictions (m,), active (h,); for N stacked
    runs the loss and accuracy are (N,), predictions (N, m), active (N, h).
    """
    runs = params.b1.shape[:-2]  # () for one network, (N,) for a stack
    loss_sum, preds = np.zeros(runs), np.empty(runs + (y.size,), dtype=np.int64)
    active = np.zeros(params.b1.shape[:-1], dtype=bool)
    for s in range(0, y.size, chunk):
        cache = forward(params, X[:, s:s + chunk].astype(params.dtype, copy=False), shift, activation)
        loss_sum += cross_entropy(cache.Z2, y[s:s + chunk]) * cache.Z2.shape[-1]
        preds[..., s:s + chunk] = cache.Z2.argmax(axis=-2)
        active |= activations.passes_gradient(activation, cache.Z1).any(axis=-1)
    loss, acc = loss_sum / max(y.size, 1), (preds == y).mean(axis=-1) if y.size else np.zeros(runs)
    return (float(loss), float(acc), preds, active) if not runs else (loss, acc, preds, active)


@dataclass(frozen=True)
class BatchResult:
    """One pass over a batch: gradients, and what it learned about the batch on the way."""

    grads: Params
    loss: float | np.ndarray  # mean cross-entropy at the parameters before the update ((N,) stacked)
    hits: int | np.ndarray  # correctly classified examples ((N,) stacked)
    active: np.ndarray  # (h,) or (N, h) bool: hidden unit passed gradient (ReLU: was > 0) on at least one example


def gradients(params: Params, X: np.ndarray, y: np.ndarray, quirks: Quirks = Quirks(),
              chunk: int = CHUNK, activation: str = "relu") -> BatchResult:
    """Mean-loss gradients over the batch in one cache-blocked pass over X.

    Summing `backward` over column chunks, each divided by the whole batch's m, gives exactly
    the full-batch gradient while each chunk of X is read once and stays in cache.
    Shapes: X (784, m), y (m,). Raises: ValueError if the one-hot quirk meets a batch without 9s.
    """
    m = X.shape[1]
    k = int(y.max()) + 1 if quirks.one_hot_from_max else N_CLASSES
    if k != N_CLASSES:
        raise ValueError(f"one_hot(y) made {k} rows because this batch has no label {k}..9; "
                         f"the notebook's code crashes here (shapes (10, m) vs ({k}, m))")
    divisor = quirks.global_m or m
    total, loss_sum, hits = None, 0.0, 0
    active = np.zeros(params.b1.shape[:-1], dtype=bool)  # (h,) or (N, h)
    for s in range(0, m, chunk):
        Xc, yc = X[:, s:s + chunk].astype(params.dtype, copy=False), y[s:s + chunk]
        cache = forward(params, Xc, not quirks.unshifted_softmax, activation)
        g = backward(params, Xc, cache, one_hot(yc, dtype=params.dtype), divisor,
                     2.0 if quirks.double_dZ2 else 1.0, activation)
        total = g if total is None else total.map(np.add, g)
        loss_sum += cross_entropy(cache.Z2, yc) * yc.size
        hits = hits + (cache.Z2.argmax(axis=-2) == yc).sum(axis=-1)
        active |= activations.passes_gradient(activation, cache.Z1).any(axis=-1)
    return BatchResult(total, loss_sum / m, hits, active)
