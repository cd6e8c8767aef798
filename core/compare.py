"""Notebook vs corrected: two runs side by side in lockstep, and each quirk measured alone.

`Lockstep` steps several trainers by the same number of iterations (the notebook's run and the
corrected one, which differ in float type and quirks and so cannot be stacked). Each quirk is
flipped on its own in both directions: switched off in the notebook's run ("what if the notebook
had got this one right?") and switched on in the corrected run ("what does this one mistake do to
a correct network?").
"""

from __future__ import annotations

import time
from dataclasses import fields, replace

import numpy as np

from core.config import TrainConfig
from core.model import Quirks
from core.model import forward
from core.train import Trainer

QUIRK_NAMES = tuple(f.name for f in fields(Quirks))


def flip(quirks: Quirks, name: str, notebook_m: int = 42_000) -> Quirks:
    """`quirks` with one switch turned the other way (global_m: None <-> notebook_m)."""
    if name == "global_m":
        return replace(quirks, global_m=None if quirks.global_m else notebook_m)
    return replace(quirks, **{name: not getattr(quirks, name)})


class Lockstep:
    """Trainers advanced together, the same number of iterations each, until every one is done."""

    CHUNK = 4  # iterations per trainer between deadline checks

    def __init__(self, *trainers: Trainer):
        self.trainers = trainers

    def live(self) -> list[Trainer]:
        """The trainers still training (they are always at the same iteration)."""
        return [t for t in self.trainers if not t.done]

    @property
    def done(self) -> bool:
        """Every trainer finished or failed."""
        return not self.live()

    @property
    def iteration(self) -> int:
        """The iteration the furthest trainer reached."""
        return max(t.iteration for t in self.trainers)

    @property
    def seconds(self) -> float:
        """Training time of all the trainers together."""
        return sum(t.seconds for t in self.trainers)

    def settle(self) -> None:
        """Each trainer evaluates the weights it stopped at, unless it just did (`Trainer.settle`)."""
        for trainer in self.trainers:
            trainer.settle()

    def step(self, n: int | None = None, deadline: float | None = None) -> int:
        """Step every live trainer by the same count, up to `n` (None: no limit) or `deadline`; returns the count."""
        made = 0
        while (n is None or made < n) and (deadline is None or time.perf_counter() < deadline):
            live = self.live()
            if not live:
                break
            k = self.CHUNK if n is None else min(self.CHUNK, n - made)
            k = min([k] + [t.config.iterations - t.iteration for t in live if t.config.iterations is not None])
            for trainer in live:
                trainer.step(k)
            made += k
        return made


def run(config: TrainConfig, quirks: Quirks, X: np.ndarray, y: np.ndarray, X_dev: np.ndarray,
        y_dev: np.ndarray, iterations: int) -> dict:
    """Train `iterations` steps with these quirks; final metrics (dev as the quirks measure it) and failure."""
    trainer = Trainer(config.with_(quirks=quirks, iterations=iterations), X, y, X_dev, y_dev)
    trainer.step(iterations)
    trainer.settle()  # stopped between evaluations: measure the weights it ended with
    last = trainer.history.last
    return dict(train_loss=last["train_loss"], train_acc=last["train_acc"], dev_acc=last["dev_acc"],
                iterations=trainer.iteration, failure=trainer.failure)


def quirk_effects(config: TrainConfig, X: np.ndarray, y: np.ndarray, X_dev: np.ndarray, y_dev: np.ndarray,
                  iterations: int) -> dict[str, dict]:
    """Both baselines and every single-quirk flip, each trained `iterations` steps from `config`.

    Returns {"notebook": ..., "corrected": ..., "notebook without <q>": ..., "corrected with <q>": ...}.
    """
    notebook = config.with_(mode="notebook").effective_quirks.with_(global_m=config.notebook_m)
    results = {"notebook": run(config.with_(mode="notebook"), notebook, X, y, X_dev, y_dev, iterations),
               "corrected": run(config.with_(mode="corrected"), Quirks(), X, y, X_dev, y_dev, iterations)}
    for name in QUIRK_NAMES:
        nb_flip, fixed_flip = flip(notebook, name, config.notebook_m), flip(Quirks(), name, config.notebook_m)
        label = "without" if getattr(notebook, name) else "with"
        results[f"notebook {label} {name}"] = run(config.with_(mode="notebook"), nb_flip, X, y, X_dev, y_dev,
                                                  iterations)
        results[f"corrected with {name}"] = run(config.with_(mode="corrected"), fixed_flip, X, y, X_dev, y_dev,
                                                iterations)
    return results


def activation_gap(config: TrainConfig, X: np.ndarray, y: np.ndarray, X_dev: np.ndarray, y_dev: np.ndarray,
                   iterations: int, activations: tuple[str, ...] = ("relu", "identity")) -> dict[str, dict]:
    """The notebook's "without the activation function it is just a linear equation", measured.

    Trains the same corrected run (same data, α, seed and so the same initial weights) once per
    activation. Returns {activation: final metrics and failure}; the identity run also gets
    `affine_error`: how far its logits are from the one affine map (W2·W1)·x + (W2·b1 + b2).
    """
    results = {}
    for name in activations:
        trainer = Trainer(config.with_(activation=name, mode="corrected", quirks=None, iterations=iterations),
                          X, y, X_dev, y_dev)
        trainer.step(iterations)
        results[name] = dict(trainer.final_metrics(), failure=trainer.failure)
        if name == "identity":
            p = trainer.params
            W, b = p.W2 @ p.W1, p.W2 @ p.b1 + p.b2  # (10, 784), (10, 1): the network as one layer
            Xd = X_dev[:, :500]
            logits = forward(p, Xd, activation="identity").Z2
            results[name]["affine_error"] = float(np.abs(logits - (W @ Xd + b)).max() / max(np.abs(logits).max(), 1e-12))
    return results
