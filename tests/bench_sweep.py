"""What a learning-rate sweep costs: N rates stacked in one network (`core.sweep.Sweep`) against N separate runs.

Run: `python -m tests.bench_sweep [--iterations 200] [--repeat 3] [--budget 1]`. Prints figures; asserts nothing.
Both sides train the same config on the bundled sample (9,000 train rows, 1,000 dev), evaluating
every `eval_every` iterations as the dashboard does, full-batch and with mini-batches of 128.
BLAS runs single-threaded, as in the app (see the README); the best of `--repeat` timings counts.
Then the LR lab's seconds budget in AppTest (2,000 train rows, as tests/dashboard/test_lab_views.py
runs it): how much training time a sweep given `--budget` seconds takes before it stops (target:
at least the budget, less than the budget + 1 s).
"""

from __future__ import annotations

import argparse
import os
import tempfile
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


def budget_overshoot(budget: float) -> tuple[float, int, float]:
    """The LR lab's sweep of α = 0.1, 0.3 with `budget` seconds: training seconds, iterations, wall seconds."""
    from streamlit.testing.v1 import AppTest

    from tests.dashboard.conftest import APP, open_view

    with tempfile.TemporaryDirectory() as runs:
        os.environ["DIGIT_LAB_RUNS"] = runs  # saved runs go to a temporary folder, never the user's cache
        at = AppTest.from_file(str(APP), default_timeout=60)
        at.query_params.update(train_size="2000", dev_size="500")
        open_view(at.run(), "lab")
        at.segmented_control(key="sweep_budget_kind").set_value("seconds").run()
        at.number_input(key="sweep_seconds").set_value(budget).run()
        at.text_input(key="sweep_rates").set_value("0.1, 0.3").run()
        start = time.perf_counter()
        at.button(key="sweep_run").click().run()
        while at.session_state["sweep"].running:
            at.run()  # one tick of the sweep's fragment
        sweep = at.session_state["sweep"].sweep
        return sweep.seconds, sweep.iteration, time.perf_counter() - start


def main() -> None:
    """Time both ways for full-batch and mini-batch training and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=1, help="timings per case; the best counts")
    parser.add_argument("--budget", type=float, default=1.0, help="the LR lab sweep's seconds budget")
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
    trained, iterations, wall = budget_overshoot(args.budget)
    print(f"LR lab, seconds budget {args.budget:g} s: stopped after {trained:.2f} s of training ({iterations:,} "
          f"iterations, {wall:.2f} s wall clock); target [{args.budget:g}, {args.budget + 1:g}) s of training")


if __name__ == "__main__":
    main()
