"""Speed and memory of the training step on full MNIST, measured side by side in one run.

Run: `python -m tests.bench [--mnist DIR] [--quick] [--json FILE]`. Prints figures; asserts nothing.
Needs the MNIST IDX files (default: ../shared/data/mnist beside the repo); skips with a message
when they are absent.

Every variant is timed in the same process, interleaved (one call of each in turn, repeated),
and reported as the median with the range over the rounds, with its speed-up over the
notebook's code (full batch) or over the training loop as it was before issue 10 (mini-batch)
taken round by round, and the cores the process really had during the call (another program on
the machine takes cores from the two workers; that, not our code, is when they scale 1.1x):

- the notebook's float64 code as written, with BLAS at its default thread count (how a user
  runs it);
- ours (the Trainer, as the CLI and the app run it: BLAS at one thread, set at run time) on a
  compute pool of 1 worker and of every core, with X as raw uint8 pixels (the CLI's split) and
  as float32 (the app's);
- PyTorch on the CPU, the same math written by hand in float32, at its default thread count,
  when `torch` happens to be importable (it is never a dependency).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import data
from core import PRESETS, TrainConfig, Trainer, pool
from core.model import CHUNK, BatchResult, Params, Quirks, backward, cross_entropy, forward, gradients, one_hot
from core.model import evaluate
from core.optim import init_optimizer, update
from core.train import initial_params

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


# ---- the notebook's code, as written (float64, global m, unshifted softmax) ---------------------
def nb_init_params(rng, hidden=10):
    W1 = rng.random((hidden, 784)) * 0.01
    b1 = rng.random((hidden, 1))
    W2 = rng.random((10, hidden)) * 0.01
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


# ---- the training step as it was before issue 10 (core/model.py and core/train.py at 6239f8c) -----
def today_gradients(params: Params, X: np.ndarray, y: np.ndarray, quirks: Quirks = Quirks(),
                    chunk: int = 1024) -> BatchResult:
    """The old `gradients`: forward, one-hot, backward and a float64 loss per chunk, one thread."""
    m = X.shape[1]
    divisor = quirks.global_m or m
    total, loss_sum, hits = None, 0.0, 0
    active = np.zeros(params.b1.shape[:-1], dtype=bool)
    for s in range(0, m, chunk):
        Xc, yc = X[:, s:s + chunk].astype(params.dtype, copy=False), y[s:s + chunk]
        cache = forward(params, Xc, shift=not quirks.unshifted_softmax)
        g = backward(params, Xc, cache, one_hot(yc, dtype=params.dtype), divisor, 2.0 if quirks.double_dZ2 else 1.0)
        total = g if total is None else total.map(np.add, g)
        loss_sum += cross_entropy(cache.Z2, yc) * yc.size
        hits = hits + (cache.Z2.argmax(axis=-2) == yc).sum(axis=-1)
        active |= (cache.A1 > 0).any(axis=-1)
    return BatchResult(total, loss_sum / m, hits, active)


class TodayLoop:
    """The old Trainer's step: gather the batch, gradients, the checks, the update, the checks."""

    def __init__(self, config: TrainConfig, X: np.ndarray, y: np.ndarray):
        self.config, self.X, self.y = config, X, y
        self.params = initial_params(config)
        self.opt_state = init_optimizer(config.optimizer, self.params)
        self.rng = np.random.default_rng(config.seed).spawn(2)[1]
        self.perm, self.cursor, self.iteration, self.start_loss = np.arange(0), 0, 0, None

    def step(self) -> None:
        batch = min(self.config.batch_size or self.y.size, self.y.size)
        if batch >= self.y.size:
            X, y = self.X, self.y
        else:
            if self.cursor >= self.perm.size:
                self.perm, self.cursor = self.rng.permutation(self.y.size), 0
            idx = self.perm[self.cursor:self.cursor + batch]
            self.cursor += idx.size
            X, y = self.X.T[idx].T, self.y[idx]
        lr = self.config.lr / (1 + self.config.lr_decay * self.iteration)
        with np.errstate(over="ignore", invalid="ignore"):
            result = today_gradients(self.params, X, y)
        self.start_loss = result.loss if self.start_loss is None else self.start_loss
        finite = all(np.isfinite(g).all() for g in result.grads.to_arrays().values())
        self.healthy = (finite and math.isfinite(result.loss) and result.active.any()  # the old diagnose()
                        and result.loss <= 4 * max(self.start_loss, math.log(10)))
        with np.errstate(over="ignore", invalid="ignore"):
            params, state = update(self.params, result.grads, self.opt_state, lr, beta1=self.config.momentum)
        self.healthy = self.healthy and all(np.isfinite(a).all() for a in params.to_arrays().values())
        self.params, self.opt_state = params, state
        self.iteration += 1


# ---- PyTorch, the same math by hand (float32, no autograd) ----------------------------------------
def torch_module():
    """torch if it is importable, else None (it is never a dependency)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def torch_params(torch, hidden, seed=0):
    rng = np.random.default_rng(seed)
    W1 = rng.standard_normal((hidden, 784)) * math.sqrt(2 / 784)
    W2 = rng.standard_normal((10, hidden)) * math.sqrt(2 / hidden)
    return [torch.from_numpy(a.astype(np.float32)) for a in (W1, np.zeros((hidden, 1)), W2, np.zeros((10, 1)))]


def torch_threads(torch, n, fn):
    """fn run with PyTorch at n threads, then back to its default."""
    def run():
        default = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            return fn()
        finally:
            torch.set_num_threads(default)
    return run


def torch_step(torch, P, X, Y, lr=0.1):
    """One step of the corrected network on X (784, m), one-hot Y (10, m), updating P in place."""
    W1, b1, W2, b2 = P
    m = X.shape[1]
    Z1 = torch.addmm(b1, W1, X)
    A1 = Z1.clamp_min(0)
    A2 = torch.softmax(torch.addmm(b2, W2, A1), dim=0)
    dZ2 = A2.sub_(Y)
    dW2, db2 = dZ2 @ A1.T / m, dZ2.sum(1, keepdim=True) / m
    dZ1 = (W2.T @ dZ2).mul_(Z1 > 0)
    dW1, db1 = dZ1 @ X.T / m, dZ1.sum(1, keepdim=True) / m
    for p, g in zip(P, (dW1, db1, dW2, db2)):
        p.sub_(lr * g)


# ---- measurements ---------------------------------------------------------------------------------
class Timings(dict):
    """Per variant: the wall seconds of each timed call, and the cores the process used during it."""

    def __init__(self, names):
        super().__init__({name: [] for name in names})
        self.cores = {name: [] for name in names}

    def median(self, name: str) -> float:
        return statistics.median(self[name])

    def ratios(self, reference: str, name: str) -> list[float]:
        """reference / name per round: each pair was measured back to back, so load drifts cancel out."""
        return [r / v for r, v in zip(self[reference], self[name])]


def interleaved(variants: dict, repeat: int) -> Timings:
    """Seconds per call of each variant in its steady state, the variants taking turns, `repeat` rounds.

    Each turn makes one untimed call first: a training loop calls its step back to back, so the
    step before it was its own, with its data in cache and no other code's BLAS threads still
    spinning (right after the notebook's 2-thread float64 step, which reads 370 MB, our next
    step measured 1.6-2.8x slower than in a loop of its own). Beside the wall time, the
    process's CPU time over the call gives the cores it really had: two workers that find one
    core taken by another program get about 1 core, and scale about 1.1x instead of 1.9x.
    """
    times = Timings(variants)
    names = list(variants)
    for r in range(repeat):
        for name in names[r % len(names):] + names[:r % len(names)]:  # rotate who goes first
            variants[name]()  # warm: caches, buffers, the pool's threads
            cpu, start = time.process_time(), time.perf_counter()
            variants[name]()
            wall = time.perf_counter() - start
            times[name].append(wall)
            times.cores[name].append((time.process_time() - cpu) / wall)
    return times


def spread(values: list[float], fmt: str = ".2f") -> str:
    """median [min-max] of a few measurements."""
    return f"{statistics.median(values):{fmt}} [{min(values):{fmt}}-{max(values):{fmt}}]"


class Threads:
    """Switch between BLAS at its default thread count (the notebook, PyTorch) and ours: 1 BLAS thread."""

    def __init__(self):
        self.default = max(lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas")

    def blas(self, n: int, fn):
        def run():
            with threadpool_limits(n, user_api="blas"):
                return fn()
        return run

    def ours(self, workers: int, fn):
        def run():
            pool.set_workers(workers)
            with threadpool_limits(1, user_api="blas"):
                return fn()
        return run


def full_batch(raw, scaled, hidden, repeat, threads, torch) -> Timings:
    """Seconds per full-batch iteration (forward, backward, plain update) of every variant."""
    X64 = np.asfortranarray(scaled.X_train, dtype=np.float64)  # the notebook's X_train / 255.: float64
    y = scaled.y_train
    nb = [nb_init_params(np.random.default_rng(0), hidden)]
    config = TrainConfig(hidden=hidden, lr=0.1, eval_every=10**9, iterations=None)
    ours_raw = Trainer(config, raw.X_train, y)
    ours_float = Trainer(config, scaled.X_train, y)
    cores = pool.default_workers()
    variants = {
        f"notebook float64, BLAS {threads.default} threads": threads.blas(threads.default, lambda: nb_step(nb[0], X64, y)),
        "notebook float64, BLAS 1 thread": threads.blas(1, lambda: nb_step(nb[0], X64, y)),
        "ours, 1 worker (uint8 X, CLI)": threads.ours(1, lambda: ours_raw.step(1)),
        f"ours, {cores} workers (uint8 X, CLI)": threads.ours(cores, lambda: ours_raw.step(1)),
        f"ours, {cores} workers (float32 X, app)": threads.ours(cores, lambda: ours_float.step(1)),
    }
    if torch is not None:
        P, Xt, Yt = torch_params(torch, hidden), torch.from_numpy(scaled.X_train), torch.from_numpy(one_hot(y))
        variants[f"PyTorch by hand, {torch.get_num_threads()} threads"] = threads.blas(
            threads.default, lambda: torch_step(torch, P, Xt, Yt))
        variants["PyTorch by hand, 1 thread"] = torch_threads(torch, 1, lambda: torch_step(torch, P, Xt, Yt))
    try:
        return interleaved(variants, repeat)
    finally:
        pool.set_workers(None)
        del X64


def minibatch(raw, scaled, repeat, threads, torch, batch=128) -> dict:
    """Seconds per epoch (m // batch steps) of batch-128 plain SGD, and per step at batch 1."""
    m = scaled.y_train.size
    steps = m // batch
    config = TrainConfig(lr=0.1, batch_size=batch, eval_every=10**9, iterations=None)
    today = TodayLoop(config, scaled.X_train, scaled.y_train)
    now_raw = Trainer(config, raw.X_train, raw.y_train)
    now_float = Trainer(config, scaled.X_train, scaled.y_train)
    lean = [initial_params(config), np.random.default_rng(1).permutation(m)]

    def lean_epoch():  # the batch, gradients and the update: nothing else
        X, y, params, perm = raw.X_train, raw.y_train, lean[0], lean[1]
        for s in range(0, steps * batch, batch):
            idx = perm[s:s + batch]
            grads = gradients(params, X.T[idx].T, y[idx]).grads
            params = params.map(lambda p, g: p - 0.1 * g, grads)
        lean[0] = params

    def today_epoch():
        for _ in range(steps):
            today.step()

    variants = {
        "the Trainer before issue 10 (reference)": threads.blas(1, today_epoch),
        "Trainer now (uint8 X, CLI)": threads.ours(pool.default_workers(), lambda: now_raw.step(steps)),
        "Trainer now (float32 X, app)": threads.ours(pool.default_workers(), lambda: now_float.step(steps)),
        "lean loop: gather, gradients, update": threads.ours(pool.default_workers(), lean_epoch),
    }
    if torch is not None:
        P, Xt = torch_params(torch, 10), torch.from_numpy(scaled.X_train.T)  # (m, 784) rows
        Yt, perm = torch.from_numpy(one_hot(scaled.y_train).T.copy()), torch.from_numpy(lean[1])

        def torch_epoch():
            for s in range(0, steps * batch, batch):
                idx = perm[s:s + batch]
                torch_step(torch, P, Xt[idx].T, Yt[idx].T)

        variants[f"PyTorch by hand, {torch.get_num_threads()} threads"] = threads.blas(threads.default, torch_epoch)
    epochs = interleaved(variants, repeat)

    # A step at batch 1 is the cost that does not depend on the batch. On one image, repeated, so
    # that no single-example batch looks like a failure (a batch where every unit is dead, say).
    one, same = config.with_(batch_size=1), np.zeros(1000, dtype=np.int64)
    first_raw, first = (np.ascontiguousarray(np.repeat(p.X_train.T[:1], same.size, axis=0)).T for p in (raw, scaled))
    today_1, now_1 = TodayLoop(one, first, same + scaled.y_train[0]), Trainer(one, first_raw, same + raw.y_train[0])
    per_step = interleaved({"today": threads.blas(1, lambda: [today_1.step() for _ in range(200)]),
                            "now": threads.ours(pool.default_workers(), lambda: now_1.step(200))}, repeat)
    pool.set_workers(None)
    reference, now = "the Trainer before issue 10 (reference)", "Trainer now (uint8 X, CLI)"
    # the batch-1 steps were timed in their own rounds: each round's share against the median epoch
    share = {key: [s / 200 / (epochs.median(name) / steps) for s in per_step[key]]
             for key, name in (("today", reference), ("now", now))}
    return {"epochs": epochs, "steps": steps, "fixed_share_today": share["today"], "fixed_share_now": share["now"],
            "step_at_1_today_us": [s / 200 * 1e6 for s in per_step["today"]],
            "step_at_1_now_us": [s / 200 * 1e6 for s in per_step["now"]]}


def time_to_accuracy(parts, test, name, target, budget, every):
    """Training seconds (evaluation excluded) until test accuracy reaches `target`."""
    config = PRESETS[name].with_(eval_every=10**9, iterations=None)
    t = Trainer(config, parts.X_train, parts.y_train, parts.X_dev, parts.y_dev)
    X_test = data.to_columns(test.images)
    acc = 0.0
    while t.seconds < budget:
        t.step(every)
        acc = evaluate(t.params, X_test, test.labels)[1]
        if acc >= target:
            return t.seconds, t.iteration, acc
    return None, t.iteration, acc


def peak_rss(mnist: Path, *flags: str) -> float:
    """Peak RSS in MB of `digit-lab train` on full MNIST (load, split, train, final metrics)."""
    args = ["train", "--data", str(mnist), *flags]
    return peak_rss_of(f"from dashboard.cli import main; rc = main({args!r})")


def peak_rss_split(mnist: Path, raw: bool) -> float:
    """Peak RSS in MB of loading full MNIST and splitting it (float32 pixels, or uint8 with raw=True)."""
    return peak_rss_of(f"from data import load_idx_dir, split; s = split(load_idx_dir({str(mnist)!r}), raw={raw}); "
                       "assert s.X_train.shape == (784, 59000)")


def peak_rss_of(statement: str) -> float:
    """Peak RSS in MB of a fresh Python running `statement`."""
    code = f"{statement}; print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1]) / 1024  # VmHWM is in kB; unlike ru_maxrss it starts afresh at exec


def table(title: str, times: Timings, unit: float, label: str, reference: str) -> dict:
    """Print one block: each variant's median [min-max], its speed-up over `reference` (median [min-max]
    of the per-round ratios) and the cores the process used; return the figures."""
    print(title)
    width = max(map(len, times))
    figures = {}
    for name in times:
        ratios = times.ratios(reference, name)
        figures[name] = {label: [t * unit for t in times[name]], "speedup": ratios, "cores": times.cores[name]}
        print(f"  {name:<{width}}  {spread([t * unit for t in times[name]], '7.1f')} {label}  "
              f"{spread(ratios)}x  cores {spread(times.cores[name], '.1f')}")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, default=SHARED_MNIST, help="folder with the MNIST IDX files")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, no time-to-accuracy runs")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if not (args.mnist / "train-images-idx3-ubyte.gz").exists():
        print(f"skipped: no MNIST IDX files in {args.mnist} (pass --mnist DIR)")
        return 0
    train = data.load_idx_dir(args.mnist, "train")
    test = data.load_idx_dir(args.mnist, "test")
    scaled, raw = data.split(train, dev_size=1000, seed=0), data.split(train, dev_size=1000, seed=0, raw=True)
    del train
    threads, torch = Threads(), torch_module()
    figures = {"numpy": np.__version__, "cores": pool.default_workers(), "blas_default_threads": threads.default,
               "chunk": CHUNK, "torch": torch.__version__ if torch else None, "load_before": os.getloadavg()[0]}
    print(f"MNIST: {scaled.y_train.size:,} training rows; NumPy {np.__version__}, BLAS default {threads.default} "
          f"threads, {pool.default_workers()} cores; "
          + (f"PyTorch {torch.__version__}" if torch else "PyTorch: not importable, skipped"))
    repeat = 5 if args.quick else 15

    print("each figure: median [min-max] over the rounds; speed-ups are per round (the variants of a round "
          "ran back to back); cores: the process's CPU time over wall time during the call")
    for hidden in (10, 128):
        seconds = full_batch(raw, scaled, hidden, repeat if hidden == 10 else max(repeat // 2, 3), threads, torch)
        figures[f"full_batch_h{hidden}"] = table(
            f"full batch, m = {scaled.y_train.size:,}, 784-{hidden}-10, one iteration (ms, speed-up over the "
            f"notebook):", seconds, 1e3, "ms", next(iter(seconds)))

    mb = minibatch(raw, scaled, 5 if args.quick else 9, threads, torch)
    figures["minibatch_128"] = table(f"mini-batch 128, one epoch ({mb['steps']} steps; ms, speed-up over the old "
                                     f"Trainer):", mb["epochs"], 1e3, "ms", next(iter(mb["epochs"])))
    figures["minibatch_128"].update({k: v for k, v in mb.items() if k != "epochs"})
    print(f"  per-step cost that does not depend on the batch (a step at batch 1): before "
          f"{spread(mb['step_at_1_today_us'], '.0f')} µs = {spread(mb['fixed_share_today'], '.0%')} of a batch-128 "
          f"step, now {spread(mb['step_at_1_now_us'], '.0f')} µs = {spread(mb['fixed_share_now'], '.0%')}")

    if not args.quick:
        for name, target, budget, every in (("fast-10", 0.935, 15, 250), ("fast-128", 0.98, 40, 1000)):
            seconds, iterations, acc = time_to_accuracy(raw, test, name, target, budget, every)
            figures[f"time_to_{target}_{name}_s"] = seconds
            reached = f"{seconds:.1f} s ({iterations} iterations)" if seconds else f"not reached in {budget} s"
            print(f"time to {target:.1%} test accuracy, preset {name}: {reached}; test accuracy then {acc:.2%}")

    rss = {"fast-10, 200 iterations": peak_rss(args.mnist, "--preset", "fast-10", "--iterations", "200"),
           "full batch, 20 iterations": peak_rss(args.mnist, "--batch-size", "full", "--iterations", "20")}
    figures["peak_rss_mb"] = rss
    print("peak RSS of `digit-lab train` on full MNIST: "
          + ", ".join(f"{name}: {mb_:.0f} MB" for name, mb_ in rss.items()) + " (target ≤ 200 MB)")
    split_rss = {"float32": peak_rss_split(args.mnist, raw=False),
                 "uint8 (raw=True)": peak_rss_split(args.mnist, raw=True)}
    figures["peak_rss_split_mb"] = split_rss
    print(f"peak RSS of loading and splitting full MNIST (the data alone is ~235 MB as float32): float32 "
          f"{split_rss['float32']:.0f} MB (target < 300 MB), uint8 {split_rss['uint8 (raw=True)']:.0f} MB "
          f"(target < 200 MB)")
    figures["load_after"] = os.getloadavg()[0]
    print(f"load average (1 min) before {figures['load_before']:.1f}, after {figures['load_after']:.1f} "
          f"on {os.cpu_count()} cores: figures taken on a busy machine are slower and noisier")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
