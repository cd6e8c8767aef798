"""Everything one browser session keeps between reruns, in one object: `st.session_state["lab"]`.

A `Lab` holds the current run (a `core.Trainer`), the data it trains on, the UI flags (running,
messages) and a lock. The lock matters because a click during a fragment tick starts a new
script run while the old one may still be inside `trainer.step`: the tick only trains when it
gets the lock at once, and buttons wait for it.

The data arrays are shared, read-only objects from `st.cache_resource`; a Lab only refers to them.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np
import streamlit as st

from core import TrainConfig, Trainer
from dashboard import runs
from data import Dataset, Split

LAB_KEY = "lab"
RATE_WINDOW = 3.0  # seconds of ticks the iterations/second figure averages over


@dataclass(eq=False)  # compared by identity: fields hold arrays and a lock
class Lab:
    """One session's run, its data and UI flags."""

    trainer: Trainer
    config: TrainConfig  # as built from the settings (the trainer's lr may have moved since)
    data_key: str  # "sample", "mnist", "fashion-mnist" or "upload:<file id>"
    dataset: Dataset
    split: Split
    running: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    notice: str | None = None  # one-off message shown on the next full run
    settings_error: str | None = None  # why the latest settings could not be applied
    weights_error: str | None = None  # why the latest weights upload was refused
    bad_uploads: dict[str, str] = field(default_factory=dict)  # file id -> parse error, so it is not re-read
    rate_marks: deque = field(default_factory=lambda: deque(maxlen=64))  # (wall time, iteration)
    dead_cache: tuple[int, float, np.ndarray] | None = None  # (iteration, wall time, dead units)
    step_time: float = 0.0  # seconds one training step took lately (to place the tick's deadline)
    weights_figure: tuple | None = None  # (layout, wall time, go.Figure) last drawn, reused between redraws

    @property
    def run_key(self) -> tuple:
        """What decides the network: the data and every setting except those applied live."""
        return run_key(self.data_key, self.config)

    def stop_at(self) -> int | None:
        """The iteration at which Start stops, or None."""
        return self.config.iterations if self.config.iterations < NO_STOP else None

    def at_stop(self) -> bool:
        """True when the run reached its stop-at iteration."""
        stop = self.stop_at()
        return stop is not None and self.trainer.iteration >= stop

    def can_run(self) -> bool:
        """Start makes sense: no failure and not at the stop iteration."""
        return self.trainer.failure is None and not self.at_stop()

    def mark_rate(self) -> None:
        """Remember (now, iteration) for the iterations/second figure."""
        self.rate_marks.append((time.perf_counter(), self.trainer.iteration))

    def rate(self) -> float | None:
        """Iterations per wall-clock second over the last RATE_WINDOW seconds of running."""
        marks = [m for m in self.rate_marks if m[0] >= self.rate_marks[-1][0] - RATE_WINDOW] if self.rate_marks else []
        if len(marks) < 2 or marks[-1][0] <= marks[0][0]:
            return None
        return (marks[-1][1] - marks[0][1]) / (marks[-1][0] - marks[0][0])


NO_STOP = 1_000_000_000  # TrainConfig.iterations when no stop is set: training runs until paused


def run_key(data_key: str, config: TrainConfig) -> tuple:
    """(data, settings) with the live settings (lr, stop-at) normalised away."""
    return data_key, replace(config, lr=1.0, iterations=0)


def get() -> Lab | None:
    """This session's Lab, or None before the first run built one."""
    return st.session_state.get(LAB_KEY)


def install(config: TrainConfig, data_key: str, dataset: Dataset, split: Split, params=None) -> Lab:
    """Start a new run (a fresh Trainer) and store it as this session's Lab, keeping its messages.

    Raises: ValueError from the Trainer (for example weights that do not fit the settings).
    """
    trainer = Trainer(config, split.X_train, split.y_train, split.X_dev, split.y_dev, params=params)
    old = get()
    lab = Lab(trainer, config, data_key, dataset, split)
    if old is not None:
        lab.lock, lab.bad_uploads, lab.notice = old.lock, old.bad_uploads, old.notice
        lab.settings_error, lab.weights_error = old.settings_error, old.weights_error
        runs.record_replaced(old)  # the replaced run joins the session's run history (LR lab tab)
    st.session_state[LAB_KEY] = lab  # one assignment: a tick in flight keeps drawing the old run
    return lab


def reset(lab: Lab, lr: float) -> Lab:
    """A fresh run with the same data and settings, starting at learning rate `lr`."""
    return install(lab.config.with_(lr=lr), lab.data_key, lab.dataset, lab.split)


def step(lab: Lab, n: int) -> int:
    """Run n iterations now (waiting for a tick in flight to finish); returns how many were made."""
    with lab.lock:
        done = lab.trainer.step(n)
    lab.mark_rate()
    return done


def advance(lab: Lab, budget: float) -> int:
    """Train for about `budget` seconds unless another run holds the lock; stop at the stop-at iteration.

    The deadline is moved forward by one step's expected duration, so that a slow step (full
    MNIST in one batch) ends near the budget instead of overrunning it by a whole step.
    """
    if not lab.lock.acquire(blocking=False):
        return 0
    try:
        stop = lab.stop_at()
        n = NO_STOP if stop is None else max(0, stop - lab.trainer.iteration)
        start = time.perf_counter()
        done = lab.trainer.step(n, deadline=start + max(budget - lab.step_time, 0.0))
        if done == 0 and n > 0 and lab.trainer.failure is None:
            done = lab.trainer.step(1)  # always make progress, however slow one step is
        if done:
            lab.step_time = (time.perf_counter() - start) / done
    finally:
        lab.lock.release()
    lab.mark_rate()
    return done


def dead_units(lab: Lab, max_age: float = 1.0) -> np.ndarray:
    """(h,) bool dead hidden units, recomputed at most every `max_age` seconds (it is a pass over the data).

    While running, an evaluation that found no dead unit is taken as the answer (no pass at all);
    paused or failed, the answer is for the current weights.
    """
    trainer = lab.trainer
    last = trainer.history.last
    if lab.running and last is not None and last["dead_fraction"] == 0:
        return np.zeros(trainer.params.hidden, dtype=bool)
    cached = lab.dead_cache
    now = time.perf_counter()
    if (cached is None or len(cached[2]) != trainer.params.hidden
            or (cached[0] != trainer.iteration and (now - cached[1] > max_age or not lab.running))):
        lab.dead_cache = cached = (trainer.iteration, now, trainer.dead_units())
    return cached[2]
