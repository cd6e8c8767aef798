"""Speed and memory figures of the engine on full MNIST, measured side by side in one run.

Run: `python -m tests.bench [--mnist DIR] [--quick]`. Prints figures; asserts nothing.
Needs the MNIST IDX files (default: ../shared/data/mnist beside the repo); skips with a message
when they are absent. BLAS runs single-threaded, as in the CLI and the app (see README).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads, as the CLI does

import numpy as np  # noqa: E402

import data  # noqa: E402
from core import PRESETS, TrainConfig, Trainer  # noqa: E402
from core.model import backward, forward, one_hot  # noqa: E402
from core.model import evaluate  # noqa: E402

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


# ---- the notebook's code, as written (float64, global m, unshifted softmax) ---------------------
def nb_init_params(rng):
    W1 = rng.random((10, 784)) * 0.01
    b1 = rng.random((10, 1))
    W2 = rng.random((10, 10)) * 0.01
    b2 = rng.random((10, 1))
    return W1, b1, W2, b2


def nb_ReLU(Z):
    return np.maximum(Z, 0)


def nb_softmax(Z):
    A = np.exp(Z) / sum(np.exp(Z))
    return A


def nb_forward_prop(W1, b1, W2, b2, X):
    Z1 = W1.dot(X) + b1
    A1 = nb_ReLU(Z1)
    Z2 = W2.dot(A1) + b2
    A2 = nb_softmax(Z2)
    return Z1, A1, Z2, A2


def nb_ReLU_deriv(Z):
    return Z > 0


def nb_one_hot(Y):
    one_hot_Y = np.zeros((Y.size, Y.max() + 1))
    one_hot_Y[np.arange(Y.size), Y] = 1
    return one_hot_Y.T


def nb_backward_prop(Z1, A1, Z2, A2, W1, W2, X, Y, m=42000):
    one_hot_Y = nb_one_hot(Y)
    dZ2 = 2 * (A2 - one_hot_Y)
    dW2 = 1 / m * dZ2.dot(A1.T)
    db2 = 1 / m * np.sum(dZ2)  # sic: one scalar for all ten biases
    dZ1 = W2.T.dot(dZ2) * nb_ReLU_deriv(Z1)
    dW1 = 1 / m * dZ1.dot(X.T)
    db1 = 1 / m * np.sum(dZ1)
    return dW1, db1, dW2, db2


def nb_update_params(W1, b1, W2, b2, dW1, db1, dW2, db2, alpha):
    return W1 - alpha * dW1, b1 - alpha * db1, W2 - alpha * dW2, b2 - alpha * db2


def nb_step(params, X, Y, alpha=0.1):
    Z1, A1, Z2, A2 = nb_forward_prop(*params, X)
    grads = nb_backward_prop(Z1, A1, Z2, A2, params[0], params[2], X, Y)
    return nb_update_params(*params, *grads, alpha)


# ---- measurements ---------------------------------------------------------------------------------
def timed(fn, repeat):
    """Median seconds of `repeat` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def full_batch(parts, repeat):
    """Seconds per full-batch iteration: ours (float32, blocked) vs the notebook's float64 code."""
    # the notebook's X_train = data[1000:m].T[1:n] / 255.: float64, (784, m), Fortran order
    X64 = np.asfortranarray(parts.X_train, dtype=np.float64)
    y = parts.y_train
    nb_params = nb_init_params(np.random.default_rng(0))
    ours = Trainer(TrainConfig(lr=0.1, eval_every=10**9), parts.X_train, y)
    nb_step(nb_params, X64, y), ours.step(1)  # warm up
    nb, us = [], []
    for _ in range(repeat):  # interleaved, so drift hits both alike
        nb.append(timed(lambda: nb_step(nb_params, X64, y), 1))
        us.append(timed(lambda: ours.step(1), 1))
    return statistics.median(nb), statistics.median(us)


def minibatch_epoch(parts, batch=128):
    """Seconds per epoch of batch-128 plain SGD, and the share of it that is not the math."""
    t = Trainer(TrainConfig(lr=0.1, batch_size=batch, eval_every=10**9), parts.X_train, parts.y_train)
    steps = parts.y_train.size // batch
    t.step(50)
    start = time.perf_counter()
    t.step(steps)
    epoch = time.perf_counter() - start
    Xb = np.ascontiguousarray(parts.X_train.T[:batch]).T
    Yb = one_hot(parts.y_train[:batch])

    def bare():  # forward, backward and the plain update, nothing else
        cache = forward(t.params, Xb)
        g = backward(t.params, Xb, cache, Yb)
        t.params.map(lambda p, d: p - 0.1 * d, g)

    math_only = timed(lambda: [bare() for _ in range(200)], 5) / 200 * steps
    return epoch, 1 - math_only / epoch


def time_to_accuracy(parts, test, name, target, budget, every):
    """Training seconds (evaluation excluded) until test accuracy reaches `target`."""
    config = PRESETS[name].with_(eval_every=10**9, iterations=10**9)
    t = Trainer(config, parts.X_train, parts.y_train, parts.X_dev, parts.y_dev)
    X_test = data.to_columns(test.images)
    acc = 0.0
    while t.seconds < budget:
        t.step(every)
        acc = evaluate(t.params, X_test, test.labels)[1]
        if acc >= target:
            return t.seconds, t.iteration, acc
    return None, t.iteration, acc


def peak_rss(mnist: Path) -> float:
    """Peak RSS in MB of `digit-lab train` on full MNIST (load, split, 200 mini-batch steps)."""
    code = ("from dashboard.cli import main; "
            f"rc = main(['train', '--data', {str(mnist)!r}, '--preset', 'fast-10', '--iterations', '200']); "
            "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1]) / 1024  # VmHWM is in kB; unlike ru_maxrss it starts afresh at exec


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, default=SHARED_MNIST, help="folder with the MNIST IDX files")
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if not (args.mnist / "train-images-idx3-ubyte.gz").exists():
        print(f"skipped: no MNIST IDX files in {args.mnist} (pass --mnist DIR)")
        return 0
    train = data.load_idx_dir(args.mnist, "train")
    test = data.load_idx_dir(args.mnist, "test")
    parts = data.split(train, dev_size=1000, seed=0)
    del train
    figures = {"numpy": np.__version__, "cpu_count": os.cpu_count(),
               "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS")}
    print(f"MNIST: {parts.y_train.size:,} training rows, {parts.y_dev.size:,} dev, {len(test):,} test; "
          f"NumPy {np.__version__}, OPENBLAS_NUM_THREADS={figures['blas_threads']}")

    nb, us = full_batch(parts, 5 if args.quick else 15)
    figures.update(full_batch_notebook_ms=nb * 1e3, full_batch_ours_ms=us * 1e3, full_batch_speedup=nb / us)
    print(f"full-batch iteration (m = {parts.y_train.size:,}): notebook float64 {nb * 1e3:.1f} ms, "
          f"ours float32 {us * 1e3:.1f} ms -> {nb / us:.2f}x faster")

    epoch, overhead = minibatch_epoch(parts)
    figures.update(minibatch_epoch_s=epoch, python_overhead_share=overhead)
    print(f"mini-batch epoch (batch 128, plain): {epoch:.2f} s, of which {overhead:.0%} is not the math")

    for name, target, budget, every in (("fast-10", 0.935, 15, 250), ("fast-128", 0.98, 40, 1000)):
        seconds, iterations, acc = time_to_accuracy(parts, test, name, target, budget, every)
        figures[f"time_to_{target}_{name}_s"] = seconds
        reached = f"{seconds:.1f} s ({iterations} iterations)" if seconds else f"not reached in {budget} s"
        print(f"time to {target:.1%} test accuracy, preset {name}: {reached}; test accuracy then {acc:.2%}")

    rss = peak_rss(args.mnist)
    figures["peak_rss_mb"] = rss
    print(f"peak RSS, `digit-lab train` on full MNIST: {rss:.0f} MB")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
