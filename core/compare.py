"""Notebook vs corrected: what each of the notebook's quirks does, measured one at a time.

Each quirk is flipped on its own in both directions: switched off in the notebook's run
("what if the notebook had got this one right?") and switched on in the corrected run
("what does this one mistake do to a correct network?").
"""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np

from core.config import TrainConfig
from core.model import Quirks
from core.train import Trainer

QUIRK_NAMES = tuple(f.name for f in fields(Quirks))


def flip(quirks: Quirks, name: str, notebook_m: int = 42_000) -> Quirks:
    """`quirks` with one switch turned the other way (global_m: None <-> notebook_m)."""
    if name == "global_m":
        return replace(quirks, global_m=None if quirks.global_m else notebook_m)
    return replace(quirks, **{name: not getattr(quirks, name)})


def run(config: TrainConfig, quirks: Quirks, X: np.ndarray, y: np.ndarray, X_dev: np.ndarray,
        y_dev: np.ndarray, iterations: int) -> dict:
    """Train `iterations` steps with these quirks; final metrics (dev as the quirks measure it) and failure."""
    trainer = Trainer(config.with_(quirks=quirks, iterations=iterations), X, y, X_dev, y_dev)
    trainer.step(iterations)
    last = trainer.history.last if trainer.history.last["iteration"] == trainer.iteration else trainer.record()
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
