"""The session's run history: every training run kept for comparison, export and sharing.

A run is the Train view's run from its start until it is replaced (Reset, a settings change,
loaded weights, a sweep run continued), or one run of a learning-rate sweep. Each `RunRecord`
holds its settings, its evaluations, its final metrics and, while the memory budget allows, its
weights. `RunHistory` keeps at most MAX_RUNS of them. Everything here is plain Python and NumPy
except `session_history` and `record_replaced`, the two doors to `st.session_state`.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core import Trainer
from core.run import HISTORY_FIELDS, Failure, json_ready
from core.sweep import Sweep
from dashboard import words

MAX_RUNS = 50
MAX_ROWS = 2000  # evaluations kept per run (thinned evenly beyond that, first and last kept)
MAX_WEIGHT_BYTES = 32 * 2**20  # weights kept over all runs; the oldest runs lose theirs first
HISTORY_KEY = "run_history"
LIVE_ID = 0  # the id of the Train view's current run, shown live and never stored
FINAL_FIELDS = ("train_loss", "train_acc", "dev_loss", "dev_acc")
# The settings a legend may name, in order, with their short names.
SETTING_NAMES = {"lr": "α", "hidden": "h", "activation": "g", "batch_size": "batch", "optimizer": "opt", "mode": "mode",
                 "data": "data", "lr_decay": "decay", "momentum": "β", "notebook_m": "m", "seed": "seed",
                 "train_size": "train rows", "dev_size": "dev rows", "quirks": "quirks"}


@dataclass(eq=False)
class RunRecord:
    """One finished (or current) run: settings, evaluations, final metrics, maybe weights."""

    source: str  # "Train" or "sweep 2"
    data: str  # the dataset's name
    config: dict  # TrainConfig.to_dict() as the run started (α may have changed since: lr_changes)
    rows: list[dict]  # evaluations, HISTORY_FIELDS each
    final: dict  # train_loss, train_acc, dev_loss, dev_acc at the end
    iterations: int
    seconds: float
    lr_changes: list[tuple[int, float]]
    failure: Failure | None = None
    weights: dict[str, np.ndarray] | None = None  # W1, b1, W2, b2
    id: int = LIVE_ID

    @property
    def weight_bytes(self) -> int:
        """Bytes held by the kept weights."""
        return sum(a.nbytes for a in self.weights.values()) if self.weights else 0

    def column(self, name: str) -> np.ndarray:
        """One evaluation field over the run as floats."""
        return np.array([row[name] for row in self.rows], dtype=float)

    def settings(self) -> dict:
        """The settings a legend or table shows, with values made comparable and readable."""
        c = self.config
        notebook = c["mode"] == "notebook"
        return {"data": self.data, "mode": c["mode"], "hidden": c["hidden"], "activation": c.get("activation", "relu"),
                "batch_size": "full" if c["batch_size"] is None else c["batch_size"], "optimizer": c["optimizer"],
                "lr": alpha_text(self.lr_changes), "lr_decay": c["lr_decay"],
                "momentum": c["momentum"] if c["optimizer"] != "plain" else None,
                "notebook_m": c["notebook_m"] if notebook else None, "seed": c["seed"],
                "train_size": c["train_size"] or "all", "dev_size": c["dev_size"],
                "quirks": "custom" if c.get("quirks") else None}


def alpha_text(lr_changes: Sequence[tuple[int, float]]) -> str:
    """α over a run: "0.1", or its changes "0.1→0.5" (first…last when there are more than three)."""
    rates = [lr for _, lr in lr_changes]
    if len(rates) > 3:
        rates = [rates[0], "…", rates[-1]]
    return "→".join(r if isinstance(r, str) else f"{r:g}" for r in rates)


def thin(rows: list[dict], limit: int = MAX_ROWS) -> list[dict]:
    """At most `limit` rows, evenly spaced, keeping the first and the last."""
    if len(rows) <= limit:
        return list(rows)
    keep = np.unique(np.linspace(0, len(rows) - 1, limit).round().astype(int))
    return [rows[i] for i in keep]


def from_trainer(trainer: Trainer, data: str, source: str = "Train", live: bool = False,
                 keep_weights: bool = True) -> RunRecord:
    """A record of a Trainer's run. `live`: final metrics from the last evaluation (no extra pass)."""
    rows = list(trainer.history.rows)
    params = trainer.params
    if trainer.failure is not None and rows:  # the state it failed in, as its last row (the failing step) has it
        final = {k: rows[-1][k] for k in FINAL_FIELDS}
    elif live or not rows:
        last = rows[-1] if rows else {}
        final = {k: last.get(k, math.nan) for k in FINAL_FIELDS}
    else:
        m = trainer.final_metrics()
        final = dict(train_loss=m["train_loss"], train_acc=m["train_accuracy"], dev_loss=m["dev_loss"],
                     dev_acc=m["dev_accuracy"])
    config = trainer.config.with_(lr=trainer.lr_changes[0][1]).to_dict()
    return RunRecord(source, data, config, thin(rows), final, trainer.iteration, trainer.seconds,
                     list(trainer.lr_changes), trainer.failure,
                     params.to_arrays() if keep_weights and not live else None)


def from_sweep(sweep: Sweep, data: str, source: str) -> list[RunRecord]:
    """One record per run of a sweep, final metrics measured on the whole train and dev sets."""
    records = []
    for i, metrics in enumerate(sweep.run_metrics()):
        run = sweep.state(i)
        final = dict(train_loss=metrics["train_loss"], train_acc=metrics["train_accuracy"],
                     dev_loss=metrics["dev_loss"], dev_acc=metrics["dev_accuracy"])
        weights = {name: np.array(a) for name, a in run.params.to_arrays().items()}  # copies, not views
        records.append(RunRecord(source, data, run.config.to_dict(), thin(list(run.history)), final,
                                 metrics["iterations"], sweep.seconds, list(run.lr_changes), run.failure, weights))
    return records


class RunHistory:
    """The session's runs, oldest first: at most MAX_RUNS, weights within MAX_WEIGHT_BYTES."""

    def __init__(self, max_runs: int = MAX_RUNS, max_weight_bytes: int = MAX_WEIGHT_BYTES):
        self.runs: list[RunRecord] = []
        self.max_runs, self.max_weight_bytes = max_runs, max_weight_bytes
        self.next_id = 1

    def __len__(self) -> int:
        return len(self.runs)

    def add(self, record: RunRecord) -> RunRecord:
        """Store a run under the next id; drop the oldest runs (and then weights) beyond the limits."""
        record.id, self.next_id = self.next_id, self.next_id + 1
        runs = [*self.runs, record][-self.max_runs:]
        budget = self.max_weight_bytes
        for run in reversed(runs):  # the newest keep their weights
            if run.weights is not None and run.weight_bytes > budget:
                run.weights = None
            budget -= run.weight_bytes
        self.runs = runs  # one assignment: a reader sees the old or the new list
        return record

    def clear(self) -> None:
        """Forget every run (ids go on counting, so an old id never names a new run)."""
        self.runs = []

    def get(self, ids: Sequence[int]) -> list[RunRecord]:
        """The stored runs with these ids, in the order asked."""
        by_id = {run.id: run for run in self.runs}
        return [by_id[i] for i in ids if i in by_id]


# ----- comparing and exporting -------------------------------------------------------------------
def differing(records: Sequence[RunRecord]) -> list[str]:
    """The settings (SETTING_NAMES keys) whose values are not the same in all the records.

    A setting that does not apply to a run (None: β of plain GD, m outside notebook mode) does not
    count as a difference: the setting that switched it off (optimizer, mode) already shows.
    """
    if len(records) < 2:
        return []
    all_settings = [r.settings() for r in records]
    return [k for k in SETTING_NAMES if len({repr(s[k]) for s in all_settings if s[k] is not None}) > 1]


def legend_labels(records: Sequence[RunRecord]) -> list[str]:
    """One label per run naming only what differs among them, e.g. "α=0.3, h=32".

    Runs whose settings are all alike (or alone) are told apart by their id.
    """
    keys = differing(records)
    labels = [", ".join(f"{SETTING_NAMES[k]}={_value(s[k])}" for k in keys if s[k] is not None)
              for s in (r.settings() for r in records)]
    repeated = {label for label in labels if labels.count(label) > 1}
    return [run_name(r) if not label else f"{label} ({run_name(r)})" if label in repeated else label
            for r, label in zip(records, labels)]


def run_name(record: RunRecord) -> str:
    """"#3", or "current" for the live run."""
    return "current" if record.id == LIVE_ID else f"#{record.id}"


def status(record: RunRecord) -> str:
    """"ok", or the kind of failure in a word or two."""
    return words.failure_short(record.failure) if record.failure else "ok"


def percent(fraction: float | None) -> float | None:
    """An accuracy as the table shows it: in percent (the view prints one decimal: 85.0%, 87.8%)."""
    return None if fraction is None else 100 * fraction


def table_rows(records: Sequence[RunRecord]) -> list[dict]:
    """One row per run for the runs table (accuracies in percent; the exports keep fractions)."""
    rows = []
    for r in records:
        s = r.settings()
        rows.append({"run": run_name(r), "source": r.source, "α": s["lr"], "h": s["hidden"], "g": s["activation"],
                     "batch": str(s["batch_size"]), "optimizer": s["optimizer"], "mode": s["mode"],
                     "status": status(r), "iterations": r.iterations, "dev acc": percent(r.final["dev_acc"]),
                     "dev loss": r.final["dev_loss"], "train acc": percent(r.final["train_acc"]),
                     "train loss": r.final["train_loss"], "seed": s["seed"], "data": r.data})
    return rows


# Settings columns of the CSV (the run's α is "alpha": "lr" is the history's α at each evaluation).
CSV_SETTINGS = {"data": "data", "mode": "mode", "hidden": "hidden", "activation": "activation",
                "batch_size": "batch_size",
                "optimizer": "optimizer", "lr": "alpha", "seed": "seed", "train_size": "train_size",
                "dev_size": "dev_size"}


def metrics_csv(records: Sequence[RunRecord]) -> bytes:
    """The runs' evaluations in long form: run, label, settings, then one line per evaluation."""
    labels = legend_labels(records)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["run", "label", "source", *CSV_SETTINGS.values(), *HISTORY_FIELDS])
    for record, label in zip(records, labels):
        s = record.settings()
        head = [run_name(record), label, record.source, *(s[k] for k in CSV_SETTINGS)]
        for row in record.rows:
            writer.writerow([*head, *(row[f] for f in HISTORY_FIELDS)])
    return buffer.getvalue().encode("utf-8")


def metrics_json(records: Sequence[RunRecord]) -> bytes:
    """The runs as JSON: settings, α changes, failure, final metrics and evaluations (NaN as null)."""
    labels = legend_labels(records)
    runs = [{"run": run_name(r), "label": label, "source": r.source, "data": r.data, "config": r.config,
             "lr_changes": [list(change) for change in r.lr_changes],
             "failure": words.failure_text(r.failure) if r.failure else None,
             "iterations": r.iterations, "seconds": r.seconds, "final": r.final,
             "history": [{f: row[f] for f in HISTORY_FIELDS} for row in r.rows]}
            for r, label in zip(records, labels)]
    return json.dumps(json_ready(runs), indent=1, allow_nan=False).encode("utf-8")


def _value(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# ----- the session's history (Streamlit) ---------------------------------------------------------
def session_history() -> RunHistory:
    """This session's RunHistory (created on first use)."""
    import streamlit as st

    return st.session_state.setdefault(HISTORY_KEY, RunHistory())


def record_replaced(lab, source: str = "Train") -> RunRecord | None:
    """Store the Train view's run as it is replaced (called by dashboard/runs/state.py) and return its record;
    empty runs are skipped (None)."""
    run = lab.now
    if run.iteration > 0:
        return session_history().add(from_trainer(run, lab.dataset.name, source))
    return None
