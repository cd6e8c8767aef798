"""The session's learning-rate sweep: N runs that differ only in α, raced live (`core.sweep.Sweep`).

A `SweepRun` is the sweep, what it trains on and its budget; a server-side worker trains it and
applies the budget (iterations as the stop-at iteration, seconds as the training-time limit), so
it goes on whatever the page does. When it has finished, its runs join the session's run history
once (`record`, on the next full run of any view); the best can become the Train view's run.
Streamlit is touched only through `st.session_state` (`get`, `start`); everything else is plain Python.
"""

from __future__ import annotations

import math
import re
import time

import numpy as np
from dataclasses import dataclass, field

import streamlit as st

from core import TrainConfig, Trainer
from core.sweep import RangeResult, RangeSuggestion, RangeTest, Sweep, log_spaced, suggest_lr
from core.view import StackView
from dashboard.runs import alpha, history as runs, state
from dashboard.runs.state import Lab
from dashboard.runs.worker import CLOSED, FINISHED, Close, Pause, StopAt, Worker
from dashboard.urlstate import LR_HIGH, LR_LOW, shown
from data import Split

SWEEP_KEY = "sweep"
MAX_RATES = 12
DEFAULT_RATES = log_spaced(0.01, 3.0, 7)
BUDGETS = {"iterations": (1, 100_000, 200, 50), "seconds": (1, 600, 20, 5)}  # min, max, default, step


@dataclass(eq=False)
class SweepRun:
    """A sweep, what it trains on and its budget; kept in st.session_state["sweep"]."""

    worker: Worker  # its engine is the Sweep; it publishes a StackView
    number: int  # 1, 2, ... within the session
    data_key: str
    data_name: str
    config: TrainConfig  # the Train view's settings when it started (α aside)
    budget_kind: str  # "iterations" or "seconds" (of training)
    budget: float
    started: float = field(default_factory=time.time)  # wall clock (for "elapsed")
    recorded: bool = False

    @property
    def sweep(self) -> StackView:
        """Every run of the sweep as the worker last published it."""
        return self.worker.snapshot.view

    @property
    def running(self) -> bool:
        return self.worker.snapshot.active

    def finished(self) -> bool:
        """Every run failed, the budget is spent, or it was stopped."""
        return self.worker.snapshot.status in (FINISHED, CLOSED)

    def elapsed(self) -> float:
        """Wall-clock seconds from its start to its last publication (or now, while it runs)."""
        end = time.time() if self.running else self.worker.snapshot.at
        return max(0.0, end - self.started)

    def best(self, metric: str) -> int | None:
        """The best run by a metric (dev_acc, dev_loss), or None."""
        return self.sweep.best(metric)


def make(config: TrainConfig, rates: list[float], split: Split, number: int, data_key: str, data_name: str,
         budget_kind: str, budget: float, sweep: Sweep | None = None, start: bool = True) -> SweepRun:
    """A sweep of `rates` on the split (or `sweep`, restored), going unless `start` is False."""
    if sweep is None:
        sweep = Sweep(config.with_(iterations=None), rates, split.X_train, split.y_train, split.X_dev, split.y_dev)
    iterations = budget_kind == "iterations"
    worker = Worker(sweep, StackView.of, stop_at=int(budget) if iterations else None,
                    time_limit=None if iterations else budget, start=start)
    return SweepRun(worker, number, data_key, data_name, config, budget_kind, budget)


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
    """Stop a sweep where it is (its runs join the history on the next `record`)."""
    worker = sweep_run.worker
    worker.send(Pause(), wait=1.0)
    worker.send(StopAt(worker.snapshot.iteration), wait=1.0)  # stopped for good: Start finds it finished


def record(sweep_run: SweepRun | None) -> None:
    """Put a finished sweep's runs in the session's run history, once."""
    if sweep_run is None or sweep_run.recorded or sweep_run.running or not sweep_run.finished():
        return
    sweep_run.recorded = True
    if sweep_run.sweep.iteration > 0:
        for record_ in runs.from_sweep(sweep_run.sweep, sweep_run.data_name, f"sweep {sweep_run.number}"):
            runs.session_history().add(record_)


def get() -> SweepRun | None:
    """This session's latest sweep, or None."""
    return st.session_state.get(SWEEP_KEY)


def start(rates: list[float], budget_kind: str, budget: float) -> SweepRun:
    """A new sweep on the Train view's data and settings; the Train run pauses (it would share the CPU)."""
    lab = state.get()
    lab.worker.send(Pause(), wait=1.0)
    old = get()
    if old is not None:
        finish(old)
        record(old)
        old.worker.send(Close())
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
    record(sweep_run)
    trainer = Trainer.from_state(sweep_run.sweep.state(best), split.X_train, split.y_train, split.X_dev, split.y_dev)
    new = state.install(lab.config.with_(lr=trainer.lr), lab.data_key, lab.dataset, lab.split, trainer=trainer)
    alpha.set_lr(trainer.lr)
    return new


@dataclass(eq=False)
class RangeRun:
    """A range test: trained by a worker, or only its result (restored from a save)."""

    setup: str  # the data and settings it ran on, in words
    worker: Worker | None = None  # publishes a core.sweep.RangeResult
    saved: RangeResult | None = None

    @property
    def result(self) -> RangeResult:
        return self.worker.snapshot.view if self.worker is not None else self.saved

    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.snapshot.active

    def suggestion(self) -> RangeSuggestion | None:
        """Where the loss falls fastest, once the test has stopped."""
        result = self.result
        return None if self.running else suggest_lr(np.array(result.lrs), np.array(result.losses))


def range_test(lab: Lab, low: float, high: float, steps: int) -> RangeRun:
    """A range test on the Train view's data and settings, started on the server."""
    test = RangeTest(lab.config, lab.split.X_train, lab.split.y_train, low, high, steps)
    return RangeRun(f"{lab.dataset.name} ({lab.split.y_train.size:,} train rows), {describe(lab.config)}",
                    Worker(test, RangeTest.result, start=True))


def describe(config: TrainConfig) -> str:
    """The settings that shape a run, briefly."""
    batch = "full batch" if config.batch_size is None else f"batch {config.batch_size}"
    return f"h = {config.hidden}, {config.mode}, {batch}, {config.optimizer}, seed {config.seed}"
