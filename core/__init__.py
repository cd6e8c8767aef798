"""The network, its training loop and its metrics.

Pure NumPy. No Streamlit, no file I/O, no globals: the dashboard, the CLI and the tests
all drive the same `Trainer`, built from a `TrainConfig`.
"""

from core.config import PRESETS, TrainConfig, preset
from core.metrics import confusion_matrix, dead_fraction
from core.model import (
    NOTEBOOK_QUIRKS,
    Cache,
    Params,
    Quirks,
    backward,
    cross_entropy,
    forward,
    gradients,
    init_params,
    one_hot,
    predict_proba,
    relu,
    softmax,
)
from core.optim import OptimizerState, init_optimizer, update
from core.run import Failure, RunState
from core.train import History, Trainer, effective_lr

__all__ = [
    "PRESETS", "TrainConfig", "preset", "confusion_matrix", "dead_fraction", "NOTEBOOK_QUIRKS",
    "Cache", "Params", "Quirks", "backward", "cross_entropy", "forward", "gradients",
    "init_params", "one_hot", "predict_proba", "relu", "softmax", "OptimizerState",
    "init_optimizer", "update", "History", "Trainer", "effective_lr", "Failure", "RunState",
]
