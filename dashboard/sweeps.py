"""The session's learning-rate sweep: N runs that differ only in α, raced live (`core.sweep.Sweep`).

A `SweepRun` is the sweep, what it trains on and its budget; its `live.Run` applies the budget
(iterations as the stop-at iteration, seconds as the training-time limit). When it finishes its
runs join the session's run history once; the best can become the Train view's run. Streamlit
is touched only through `st.session_state` (`get`, `start`); everything else is plain Python.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

import streamlit as st

from core import TrainConfig, Trainer
from core.sweep import Sweep, log_spaced, lr_range_test, suggest_lr
from dashboard import alpha, live, runs, state
from dashboard.urlstate import LR_HIGH, LR_LOW, shown
from dashboard.state import Lab
from data import Split

SWEEP_KEY = "sweep"
RUN_TIME = 0.4  # longer than the Train view's: N runs per step, and two charts of N curves to draw
MAX_RATES = 12
DEFAULT_RATES = log_spaced(0.01, 3.0, 7)
BUDGETS = {"iterations": (1, 100_000, 200, 50), "seconds": (1, 600, 20, 5)}  # min, max, default, step


@dataclass(eq=False)
class SweepRun:
    """A sweep, what it trains on and its budget; kept in st.session_state["sweep"]."""

    run: live.Run  # its engine is the Sweep
    number: int  # 1, 2, ... within the session
    data_key: str
    data_name: str
    config: TrainConfig  # the Train view's settings when it started (α aside)
    budget_kind: str  # "iterations" or "seconds" (of training)
    budget: float
    recorded: bool = False

    @property
    def sweep(self) -> Sweep:
        return self.run.engine

    @property
    def running(self) -> bool:
        return self.run.running

    def finished(self) -> bool:
        """Every run failed or the budget is spent."""
        return self.run.finished()

    def best(self, metric: str) -> int | None:
        """The best run by a metric (dev_acc, dev_loss), or None."""
        return self.sweep.best(metric)


def make(config: TrainConfig, rates: list[float], split: Split, number: int, data_key: str, data_name: str,
         budget_kind: str, budget: float) -> SweepRun:
    """A new sweep of `rates` on the split, going (its first tick trains)."""
    sweep = Sweep(config.with_(iterations=None), rates, split.X_train, split.y_train, split.X_dev,
                  split.y_dev)
    iterations = budget_kind == "iterations"
    run = live.Run(sweep, stop_at=int(budget) if iterations else None, time_limit=None if iterations else budget,
                   run_time=RUN_TIME)
    run.start()
    return SweepRun(run, number, data_key, data_name, config, budget_kind, budget)


def parse_rates(text: str) -> list[float]:
    """Learning rates from text such as "0.01, 0.1, 1", sorted, without repeats.

    Raises: ValueError saying what is wrong (not a number, out of range, none, too many).
    """
    rates = set()
    for part in (p for p in re.split(r"[,;\s]+", text.strip()) if p):
        try:
            lr = float(part)
        except ValueError:
            raise ValueError(f"{shown(part, 20)!r} is not a number") from None
        if not (math.isfinite(lr) and LR_LOW <= lr <= LR_HIGH):
            raise ValueError(f"α = {shown(part, 20)} is outside {LR_LOW:g}..{LR_HIGH:g}")
        rates.add(lr)
    if not rates:
        raise ValueError("enter at least one learning rate")
    if len(rates) > MAX_RATES:
        raise ValueError(f"at most {MAX_RATES} learning rates, got {len(rates)}")
    return sorted(rates)


def finish(sweep_run: SweepRun) -> None:
    """Stop a sweep for good and put its runs in the run history (once)."""
    sweep_run.run.end()
    with sweep_run.run.lock:
        if not sweep_run.recorded and sweep_run.sweep.iteration > 0:
            for record in runs.from_sweep(sweep_run.sweep, sweep_run.data_name, f"sweep {sweep_run.number}"):
                runs.session_history().add(record)
        sweep_run.recorded = True


def get() -> SweepRun | None:
    """This session's latest sweep, or None."""
    return st.session_state.get(SWEEP_KEY)


def start(rates: list[float], budget_kind: str, budget: float) -> SweepRun:
    """A new sweep on the Train view's data and settings; the Train run pauses (it would share the CPU)."""
    lab = state.get()
    lab.run.pause()
    old = get()
    if old is not None:
        finish(old)
    new = make(lab.config, rates, lab.split, (old.number if old else 0) + 1, lab.data_key, lab.dataset.name,
               budget_kind, budget)
    st.session_state[SWEEP_KEY] = new
    return new


def can_continue(sweep_run: SweepRun | None, lab: Lab) -> bool:
    """The sweep exists, has a best run, and was made with the Train view's current data and settings."""
    return (sweep_run is not None and sweep_run.best("dev_acc") is not None
            and state.run_key(sweep_run.data_key, sweep_run.config) == lab.run_key)


def continue_best(sweep_run: SweepRun, lab: Lab) -> Lab:
    """The sweep's best run (dev accuracy) becomes the Train view's run, exactly where the sweep has it; α follows."""
    best, split = sweep_run.best("dev_acc"), lab.split
    finish(sweep_run)
    with sweep_run.run.lock:
        trainer = Trainer.from_state(sweep_run.sweep.state(best), split.X_train, split.y_train, split.X_dev,
                                     split.y_dev)
    new = state.install(lab.config.with_(lr=trainer.lr), lab.data_key, lab.dataset, lab.split, trainer=trainer)
    alpha.set_lr(trainer.lr)
    return new


def range_test(lab: Lab, low: float, high: float, steps: int) -> dict:
    """The range test on the Train view's data and settings: α, losses, the suggestion, seconds, setup."""
    start = time.perf_counter()
    lrs, losses = lr_range_test(lab.config, lab.split.X_train, lab.split.y_train, low, high, steps)
    return dict(lrs=lrs, losses=losses, suggestion=suggest_lr(lrs, losses), seconds=time.perf_counter() - start,
                setup=f"{lab.dataset.name} ({lab.split.y_train.size:,} train rows), {describe(lab.config)}")


def describe(config: TrainConfig) -> str:
    """The settings that shape a run, briefly."""
    batch = "full batch" if config.batch_size is None else f"batch {config.batch_size}"
    return f"h = {config.hidden}, {config.mode}, {batch}, {config.optimizer}, seed {config.seed}"
