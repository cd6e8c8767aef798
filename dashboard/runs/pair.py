"""The session's notebook-vs-corrected pair: the notebook's network and the corrected one, in lockstep.

`PairSettings` decides both runs; `build` makes them on the first rows of the session's split and
hands them to a server-side worker (dashboard/runs/worker.py) that steps both by the same iterations
(`core.compare.Lockstep`) and publishes both as `RunView`s; views/notebook.py draws them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import streamlit as st

from core import NOTEBOOK_QUIRKS, Quirks, TrainConfig, Trainer, effective_lr, preset
from core.compare import Lockstep
from core.view import RunView
from dashboard.runs.worker import FINISHED, Close, Start, Worker
from data import Split

PAIR_KEY = "notebook_pair"
NOTEBOOK = preset("notebook")  # h = 10, α = 1, 1,000 iterations, 3,000 rows, full batch
KAGGLE_ROWS = 42_000


@dataclass(frozen=True)
class PairSettings:
    """Everything that decides the two runs."""

    lr: float = NOTEBOOK.lr
    iterations: int = NOTEBOOK.iterations
    rows: int = NOTEBOOK.train_size
    quirks: Quirks = NOTEBOOK_QUIRKS
    same_init: bool = False  # the corrected run starts from the notebook's initial weights
    match_lr: bool = False  # the corrected run gets the notebook's effective α
    hidden: int = NOTEBOOK.hidden
    seed: int = 0

    @property
    def notebook_lr(self) -> float:
        """The step size the notebook's quirks really take on this many rows (full batch)."""
        return effective_lr(self.lr, self.rows, self.quirks)

    @property
    def corrected_lr(self) -> float:
        """α for the corrected run: the same α, or the notebook's effective one."""
        return self.notebook_lr if self.match_lr else self.lr

    def to_dict(self) -> dict:
        """Plain JSON-ready values (a saved session keeps the pair's settings)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> PairSettings:
        """Inverse of `to_dict`. Raises: TypeError or ValueError for what it did not write."""
        return cls(**{**values, "quirks": Quirks(**values["quirks"])})

    def configs(self) -> tuple[TrainConfig, TrainConfig]:
        """The notebook side's and the corrected side's TrainConfig."""
        common = dict(hidden=self.hidden, iterations=self.iterations, seed=self.seed, eval_every=NOTEBOOK.eval_every)
        notebook = TrainConfig(lr=self.lr, mode="notebook", notebook_m=self.quirks.global_m or KAGGLE_ROWS,
                               quirks=self.quirks, **common)
        return notebook, TrainConfig(lr=self.corrected_lr, mode="corrected", **common)


@dataclass(eq=False)
class Comparison:
    """The two runs, owned by a worker, and what they were built from."""

    worker: Worker  # its engine is the Lockstep; it publishes (notebook, corrected) RunViews
    settings: PairSettings
    split: Split

    @property
    def trainers(self) -> tuple[RunView, RunView]:
        """Both runs as the worker last published them (the notebook's first)."""
        return self.worker.snapshot.view

    @property
    def notebook(self) -> RunView:
        return self.trainers[0]

    @property
    def corrected(self) -> RunView:
        return self.trainers[1]

    @property
    def running(self) -> bool:
        return self.worker.snapshot.active

    @property
    def done(self) -> bool:
        return self.worker.snapshot.status == FINISHED


def views(lockstep: Lockstep) -> tuple[RunView, ...]:
    """What the pair's worker publishes: each run as a RunView."""
    return tuple(RunView.of(trainer) for trainer in lockstep.trainers)


def build(settings: PairSettings, split: Split, trainers: tuple[Trainer, Trainer] | None = None) -> Comparison:
    """Two fresh runs on the first `settings.rows` training rows and the whole dev set (or `trainers`)."""
    if trainers is None:
        nb_config, co_config = settings.configs()
        X, y = split.X_train[:, :settings.rows], split.y_train[:settings.rows]
        notebook = Trainer(nb_config, X, y, split.X_dev, split.y_dev)
        corrected = Trainer(co_config, X, y, split.X_dev, split.y_dev,
                            params=notebook.params if settings.same_init else None)
        trainers = (notebook, corrected)
    return Comparison(Worker(Lockstep(*trainers), views, stop_at=settings.iterations), settings, split)


def get() -> Comparison | None:
    """This session's pair of runs, or None before the view was drawn."""
    return st.session_state.get(PAIR_KEY)


def sync(settings: PairSettings, split: Split) -> Comparison:
    """The pair for these settings and data: kept when nothing changed, else built anew (still running if it was)."""
    pair = get()
    if pair is None or pair.settings != settings or pair.split is not split:
        running = pair is not None and pair.running
        if pair is not None:
            pair.worker.send(Close())
        pair = build(settings, split)
        if running:
            pair.worker.send(Start())
        st.session_state[PAIR_KEY] = pair  # one assignment
    return pair


def reset() -> Comparison:
    """Both runs back to iteration 0."""
    pair = get()
    pair.worker.send(Close())
    st.session_state[PAIR_KEY] = new = build(pair.settings, pair.split)
    return new
