"""What the dashboard hands out and takes back: runs (.npz), metrics (.csv), uploaded runs or weights.

No Streamlit here: the download buttons call these at click time, and the tests call them directly.
"""

from __future__ import annotations

import csv
import io

import data
from core import Params, Trainer
from core.run import HISTORY_FIELDS, RunState, read


def weights_npz(trainer: Trainer, data_name: str) -> bytes:
    """The whole run (weights, optimizer state, batch position, history) as an .npz that
    `data.load_weights` + `core.run.read` turn back into its `RunState`; W1..b2 are plain arrays in it."""
    return state_npz(trainer.state(), data_name)


def state_npz(state: RunState, data_name: str) -> bytes:
    """A run state as a run file (.npz), as `weights_npz` gives it."""
    arrays, meta = state.to_arrays()
    return data.weights_bytes(arrays, {**meta, "data": data_name, "saved_by": "digit-lab dashboard"})


def metrics_csv(trainer: Trainer) -> bytes:
    """The recorded history (one row per evaluation) as CSV with a header."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(list(trainer.history.rows))  # list(): a tick may append meanwhile
    return buffer.getvalue().encode("utf-8")


def read_weights(content: bytes, name: str) -> tuple[RunState | Params, dict]:
    """Parse an uploaded run (or, from older files, weights only) and its meta.

    Raises: ValueError naming the file and what is wrong (format, names, shapes or values).
    """
    arrays, meta = data.load_weights(content, name=name)
    try:
        return read(arrays, meta), meta
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
