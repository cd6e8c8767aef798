"""What a learning-rate sweep costs: N rates stacked in one network (`core.sweep.Sweep`) against N separate runs.

Run: `python -m tests.bench_sweep [--iterations 200] [--repeat 3]`. Prints figures; asserts nothing.
Both sides train the same config on the bundled sample (9,000 train rows, 1,000 dev), evaluating
every `eval_every` iterations as the dashboard does, full-batch and with mini-batches of 128.
BLAS runs single-threaded, as in the app (see the README); the best of `--repeat` timings counts.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads, as the app's server gets it

import data  # noqa: E402
from core import TrainConfig, Trainer  # noqa: E402
from core.sweep import Sweep, log_spaced  # noqa: E402


def time_sweep(config: TrainConfig, lrs: list[float], split, iterations: int) -> tuple[float, Sweep]:
    """Seconds for one stacked sweep of `iterations` updates, and the sweep."""
    start = time.perf_counter()
    sweep = Sweep(config, lrs, split.X_train, split.y_train, split.X_dev, split.y_dev)
    sweep.step(iterations)
    return time.perf_counter() - start, sweep


def time_separate(config: TrainConfig, lrs: list[float], split, iterations: int) -> tuple[float, list[Trainer]]:
    """Seconds for the same runs one after another as ordinary Trainers, and the trainers."""
    start = time.perf_counter()
    trainers = []
    for lr in lrs:
        trainer = Trainer(config.with_(lr=lr), split.X_train, split.y_train, split.X_dev, split.y_dev)
        trainer.step(iterations)
        trainers.append(trainer)
    return time.perf_counter() - start, trainers


def main() -> None:
    """Time both ways for full-batch and mini-batch training and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=1, help="timings per case; the best counts")
    args = parser.parse_args()
    split = data.split(data.load_sample(), dev_size=1000, seed=0)
    lrs = log_spaced(0.01, 3.0, 7)
    print(f"{len(lrs)} rates {lrs}, {args.iterations} iterations, {split.y_train.size:,} train rows, "
          f"{split.y_dev.size:,} dev rows, OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")
    print(f"{'batch':>8} {'stacked s':>10} {'separate s':>11} {'separate/stacked':>17}  "
          f"{'ms/iteration stacked':>21}  {'separate':>8}  dev acc (stacked | separate), failures")
    for batch in (None, 128):
        config = TrainConfig(batch_size=batch, iterations=args.iterations)
        stacked = min((time_sweep(config, lrs, split, args.iterations) for _ in range(args.repeat)),
                      key=lambda pair: pair[0])
        separate = min((time_separate(config, lrs, split, args.iterations) for _ in range(args.repeat)),
                       key=lambda pair: pair[0])
        (t_stacked, sweep), (t_separate, trainers) = stacked, separate
        accs = " ".join(f"{h.last['dev_acc']:.3f}|{t.history.last['dev_acc']:.3f}"
                        for h, t in zip(sweep.histories, trainers))
        failed = sum(f is not None for f in sweep.failures)
        print(f"{batch or 'full':>8} {t_stacked:>10.2f} {t_separate:>11.2f} {t_separate / t_stacked:>16.2f}x  "
              f"{1000 * t_stacked / args.iterations:>21.1f}  {1000 * t_separate / args.iterations:>8.1f}  "
              f"{accs}, {failed} stopped early")
    print("A failed run stops early either way, but the stack still computes its gradients each step (its "
          "weights stay frozen) while a stopped Trainer costs nothing: failures favour the separate runs.")


if __name__ == "__main__":
    main()
