"""What the dashboard hands out and takes back: weights (.npz), metrics (.csv), uploaded weights.

No Streamlit here: the download buttons call these at click time, and the tests call them directly.
"""

from __future__ import annotations

import csv
import io

import data
from core import Params, Trainer
from core.train import HISTORY_FIELDS


def weights_meta(trainer: Trainer, data_name: str) -> dict:
    """The settings, mode and progress stored next to the weights."""
    return {**trainer.config.to_dict(), "mode": trainer.config.mode, "lr": trainer.lr,
            "iteration": trainer.iteration, "data": data_name, "saved_by": "digit-lab dashboard"}


def weights_npz(trainer: Trainer, data_name: str) -> bytes:
    """The current weights as an .npz readable by `data.load_weights` and `Params.from_arrays`."""
    params = trainer.params  # read once: a tick may assign new params meanwhile
    return data.weights_bytes(params.to_arrays(), weights_meta(trainer, data_name))


def metrics_csv(trainer: Trainer) -> bytes:
    """The recorded history (one row per evaluation) as CSV with a header."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(list(trainer.history.rows))  # list(): a tick may append meanwhile
    return buffer.getvalue().encode("utf-8")


def read_weights(content: bytes, name: str) -> tuple[Params, dict]:
    """Parse uploaded weights into checked `Params` and their meta.

    Raises: ValueError naming the file and what is wrong (format, names, shapes or values).
    """
    arrays, meta = data.load_weights(content, name=name)
    try:
        return Params.from_arrays(arrays), meta
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
