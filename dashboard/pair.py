"""The session's notebook-vs-corrected pair: the notebook's network and the corrected one, in lockstep.

`PairSettings` decides both runs; `build` makes them on the first rows of the session's split and
wraps them in a `live.Run` (views/notebook.py draws them). `Lockstep` steps both by the same
iterations (`core.compare.Lockstep`).
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from core import NOTEBOOK_QUIRKS, Quirks, TrainConfig, Trainer, effective_lr, preset
from core.compare import Lockstep
from dashboard import live
from data import Split

PAIR_KEY = "notebook_pair"
NOTEBOOK = preset("notebook")  # h = 10, α = 1, 1,000 iterations, 3,000 rows, full batch
KAGGLE_ROWS = 42_000
RUN_TIME = 0.3  # seconds per tick, drawing included


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

    def configs(self) -> tuple[TrainConfig, TrainConfig]:
        """The notebook side's and the corrected side's TrainConfig."""
        common = dict(hidden=self.hidden, iterations=self.iterations, seed=self.seed, eval_every=NOTEBOOK.eval_every)
        notebook = TrainConfig(lr=self.lr, mode="notebook", notebook_m=self.quirks.global_m or KAGGLE_ROWS,
                               quirks=self.quirks, **common)
        return notebook, TrainConfig(lr=self.corrected_lr, mode="corrected", **common)


@dataclass(eq=False)
class Comparison:
    """The two runs driven live, and what they were built from."""

    run: live.Run  # its engine is the Lockstep
    settings: PairSettings
    split: Split

    @property
    def notebook(self) -> Trainer:
        return self.run.engine.trainers[0]

    @property
    def corrected(self) -> Trainer:
        return self.run.engine.trainers[1]

    @property
    def trainers(self) -> tuple[Trainer, Trainer]:
        return self.run.engine.trainers

    @property
    def running(self) -> bool:
        return self.run.running

    @property
    def done(self) -> bool:
        return self.run.finished()


def build(settings: PairSettings, split: Split) -> Comparison:
    """Two fresh runs on the first `settings.rows` training rows and the whole dev set."""
    nb_config, co_config = settings.configs()
    X, y = split.X_train[:, :settings.rows], split.y_train[:settings.rows]
    notebook = Trainer(nb_config, X, y, split.X_dev, split.y_dev)
    corrected = Trainer(co_config, X, y, split.X_dev, split.y_dev,
                        params=notebook.params if settings.same_init else None)
    return Comparison(live.Run(Lockstep(notebook, corrected), stop_at=settings.iterations, run_time=RUN_TIME),
                settings, split)


def get() -> Comparison | None:
    """This session's pair of runs, or None before the view was drawn."""
    return st.session_state.get(PAIR_KEY)


def sync(settings: PairSettings, split: Split) -> Comparison:
    """The pair for these settings and data: kept when nothing changed, else built anew (still running if it was)."""
    pair = get()
    if pair is None or pair.settings != settings or pair.split is not split:
        running = pair is not None and pair.running
        if pair is not None:
            pair.run.pause()
        pair = build(settings, split)
        if running:
            pair.run.start()
        st.session_state[PAIR_KEY] = pair  # one assignment: a tick in flight finishes on the old pair
    return pair


def reset() -> Comparison:
    """Both runs back to iteration 0."""
    pair = get()
    pair.run.pause()
    st.session_state[PAIR_KEY] = new = build(pair.settings, pair.split)
    return new
