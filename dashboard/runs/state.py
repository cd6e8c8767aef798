"""Everything one browser session keeps between reruns about its run: `st.session_state["lab"]`.

A `Lab` holds the current run (a `core.Trainer` owned by a server-side `dashboard.runs.worker.Worker`),
the data it trains on and the messages of the latest full run. Pages never touch the Trainer:
they read `lab.now`, the run as the worker last published it, and send commands. The data arrays
are shared, read-only objects from `st.cache_resource`; a Lab only refers to them. A new run is
always a new Lab (and a new worker), stored in one assignment.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import streamlit as st

from core import TrainConfig, Trainer
from core.view import RunView
from dashboard.runs import history as runs
from dashboard.runs.worker import Close, Snapshot, StopAt, Worker
from data import Dataset, Split

LAB_KEY = "lab"


@dataclass(eq=False)  # compared by identity: holds a worker
class Lab:
    """One session's run, its data and messages."""

    worker: Worker  # its engine is the Trainer; it publishes RunViews
    config: TrainConfig  # as built from the settings (α may have moved since: the run's lr_changes)
    data_key: str  # "sample", "mnist", "fashion-mnist" or "upload:<file id>"
    dataset: Dataset
    split: Split
    notice: str | None = None  # one-off message shown on the next full run
    settings_error: str | None = None  # why the latest settings could not be applied
    weights_error: str | None = None  # why the latest weights upload was refused
    bad_uploads: dict[str, str] = field(default_factory=dict)  # file id -> parse error, so it is not re-read
    replaced: runs.RunRecord | None = None  # the run this one replaced, as the run history keeps it

    @property
    def snapshot(self) -> Snapshot:
        """The worker's latest publication: status, progress and the run's view."""
        return self.worker.snapshot

    @property
    def now(self) -> RunView:
        """The run as the worker last published it."""
        return self.worker.snapshot.view

    @property
    def running(self) -> bool:
        """Training now (Start, or the steps of a Step)."""
        return self.worker.snapshot.active

    @property
    def run_key(self) -> tuple:
        """What decides the network: the data and every setting except those applied live."""
        return run_key(self.data_key, self.config)

    def stop_at(self) -> int | None:
        """The iteration at which Start stops, or None."""
        return self.config.iterations

    def set_stop(self, config: TrainConfig) -> None:
        """Take the live settings (stop-at) of `config`: same run, new stop."""
        self.config = config
        self.worker.send(StopAt(config.iterations), wait=1.0)


def run_key(data_key: str, config: TrainConfig) -> tuple:
    """(data, settings) with the live settings (lr, stop-at) normalised away."""
    return data_key, replace(config, lr=1.0, iterations=None)


def get() -> Lab | None:
    """This session's Lab, or None before the first run built one."""
    return st.session_state.get(LAB_KEY)


def train_worker(trainer: Trainer, stop_at: int | None, start: bool = False) -> Worker:
    """A worker for the Train view's run: it publishes run 0 as a RunView."""
    return Worker(trainer, RunView.of, stop_at=stop_at, start=start)


def install(config: TrainConfig, data_key: str, dataset: Dataset, split: Split, params=None,
            trainer: Trainer | None = None, start: bool = False, source: str = "Train") -> Lab:
    """Make a new run (a fresh Trainer, or `trainer`) this session's Lab, keeping its messages.

    The replaced run joins the session's run history (as `source`) and its worker closes. The
    Trainer itself has no stop: the stop-at iteration is a live setting the worker applies.
    `start`: the new run trains at once.
    Raises: ValueError from the Trainer (for example weights that do not fit the settings).
    """
    if trainer is None:
        trainer = Trainer(config.with_(iterations=None), split.X_train, split.y_train, split.X_dev, split.y_dev,
                          params=params)
    else:
        trainer.set_stop(None)
    old = get()
    lab = Lab(train_worker(trainer, config.iterations, start), config, data_key, dataset, split)
    if old is not None:
        old.worker.send(Close(), wait=1.0)  # a slice in flight finishes first
        lab.bad_uploads, lab.notice = old.bad_uploads, old.notice
        lab.settings_error, lab.weights_error = old.settings_error, old.weights_error
        lab.replaced = runs.record_replaced(old, source)  # the replaced run joins the session's run history
    st.session_state[LAB_KEY] = lab  # one assignment
    return lab


def reset(lab: Lab, lr: float) -> Lab:
    """A fresh run with the same data and settings, starting at learning rate `lr`."""
    return install(lab.config.with_(lr=lr), lab.data_key, lab.dataset, lab.split)


def rewind(lab: Lab, lr: float) -> Lab:
    """After a failure: the run as it was at its rewind point (core.Trainer.rewind_point), trained
    on at `lr` at once; the failed branch joins the run history.

    The page builds a new Trainer from the published state and hands it to a new worker: the
    failed run's own engine is never touched.
    Raises: ValueError when the run has no rewind point (it has not failed).
    """
    point = lab.now.rewind_point
    if point is None:
        raise ValueError("only a failed run can be rewound")
    split = lab.split
    trainer = Trainer.from_state(point, split.X_train, split.y_train, split.X_dev, split.y_dev)
    trainer.set_lr(lr)  # not yet any worker's: set before one owns it
    return install(lab.config, lab.data_key, lab.dataset, lab.split, trainer=trainer, start=True,
                   source="Train (failed branch)")
