"""The session's run kept safe: its current run and run history as bytes, saved under the link's run id.

Every session saves its current run (the whole `core.run.RunState`) and its run history, with the
sidebar's settings and α, in one .npz (`session_bytes`), under an unguessable id
(`dashboard.store`) that the URL carries as `?run=`. A reload, a reconnect or a reopened link
calls `restore` once and gets the run back where it was. Opening a run id copies it: the session
saves under a fresh id of its own from its first save on, so the original never changes. Saving
happens at the end of any full run that changed something (pause, step, settings, α, history)
and every SAVE_EVERY seconds while running (inside the live tick, under the run's lock).

`resume` also serves the weights upload: a run file resumes at its saved iteration with its history.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import streamlit as st

import data
from core import Trainer
from core.run import HISTORY_FIELDS, Failure, RunState
from dashboard import alpha, datasets, export, runs, settings, state
from dashboard.store import RunStore, new_id, valid_id

FORMAT, VERSION = "digit-lab session", 1
SAVE_EVERY = 5.0  # seconds between saves while a run is going
ID_KEY, ORIGIN_KEY, RESTORED_KEY, SAVED_KEY = "run_id", "run_origin", "run_restored", "run_saved"
DATA_KEYS = ("sample", *datasets.DOWNLOADABLE)  # an upload is not kept: its runs cannot come back
_LOG = logging.getLogger(__name__)


@dataclass
class Saved:
    """What a session's bytes hold."""

    run: RunState
    data_key: str
    values: dict  # the sidebar's settings (settings.DEFAULTS keys), α included
    history: runs.RunHistory


# ----- bytes --------------------------------------------------------------------------------------
def session_bytes(lab: state.Lab, history: runs.RunHistory, values: dict) -> bytes:
    """The current run, the run history and the settings as one .npz (no pickles, meta as JSON).

    Inside: "run" holds the run file's own bytes (what the Weights download gives, `export.weights_npz`),
    "history" every record's evaluations one after the other (rows per record in the meta), and
    "rec<id>.W1" ... the weights the records kept.
    """
    arrays = {"run": np.frombuffer(export.weights_npz(lab.trainer, lab.dataset.name), np.uint8)}
    records, rows = [], []
    for r in history.runs:
        rows += [[row.get(f, np.nan) for f in HISTORY_FIELDS] for row in r.rows]
        if r.weights is not None:
            arrays.update({f"rec{r.id}.{k}": a for k, a in r.weights.items()})
        records.append(dict(id=r.id, source=r.source, data=r.data, config=r.config, final=r.final, rows=len(r.rows),
                            iterations=r.iterations, seconds=r.seconds, lr_changes=[list(c) for c in r.lr_changes],
                            failure=r.failure.to_dict() if r.failure else None, weights=r.weights is not None))
    arrays["history"] = np.array(rows, dtype=np.float64).reshape(len(rows), len(HISTORY_FIELDS))
    meta = dict(format=FORMAT, version=VERSION, data_key=lab.data_key, values=values, records=records,
                next_id=history.next_id, fields=list(HISTORY_FIELDS))
    return data.weights_bytes(arrays, meta)


def parse(payload: bytes) -> Saved:
    """Read what `session_bytes` wrote. Raises: ValueError with one sentence for anything else."""
    arrays, meta = data.load_weights(payload, name="the saved run")
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise ValueError("it is not a digit-lab session of this version")
    try:
        run_arrays, run_meta = data.load_weights(arrays["run"].astype(np.uint8).tobytes(), name="its run")
        run = RunState.from_arrays(run_arrays, run_meta)
        fields, table, start = meta["fields"], arrays["history"], 0
        history = runs.RunHistory()
        for rec in meta["records"]:
            block, start = table[start:start + rec["rows"]], start + rec["rows"]
            rows = [{**dict(zip(fields, map(float, row))), "iteration": int(row[0])} for row in block]
            prefix = f"rec{rec['id']}."
            weights = {k: arrays[prefix + k] for k in ("W1", "b1", "W2", "b2")} if rec["weights"] else None
            failure = Failure.from_dict(rec["failure"]) if rec["failure"] else None
            history.runs.append(runs.RunRecord(rec["source"], rec["data"], rec["config"], rows, rec["final"],
                                               rec["iterations"], rec["seconds"], [tuple(c) for c in rec["lr_changes"]],
                                               failure, weights, id=int(rec["id"])))
        history.next_id = int(meta["next_id"])
        values = {k: meta["values"][k] for k in settings.DEFAULTS}
        data_key = str(meta["data_key"])
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise ValueError(f"its contents are damaged ({type(error).__name__}: {error})") from None
    return Saved(run, data_key, values, history)


# ----- a run back into the session ------------------------------------------------------------------
def resume(run: RunState, data_key: str, dataset: data.Dataset, values: dict) -> state.Lab:
    """Make `run` the session's run on this data, the sidebar's settings following it; α follows too.

    Raises: ValueError with one sentence when the run does not fit (other data, settings out of range).
    """
    config = settings.config_from_settings({**values, **settings_of(run)})
    split = datasets.load_split(data_key, config.dev_size, config.train_size, config.seed, _dataset=dataset)
    trainer = Trainer.from_state(run, split.X_train, split.y_train, split.X_dev, split.y_dev)
    lab = state.install(config, data_key, dataset, split, trainer=trainer)
    for key, value in {**values, **settings_of(run)}.items():
        if key != "lr":
            st.session_state[key] = value  # the widgets show the run's settings (set before they are drawn)
    alpha.set_lr(run.lr)
    return lab


def settings_of(run: RunState) -> dict:
    """The sidebar settings that decide this run's network (the rest of the sidebar stays as it is)."""
    c = run.config
    out = dict(hidden=c.hidden, mode=c.mode, full_batch=c.batch_size is None, optimizer=c.optimizer, seed=c.seed,
               dev_size=c.dev_size, train_size=c.train_size or 0)
    if c.batch_size is not None:
        out["batch_size"] = c.batch_size
    if c.mode == "notebook":
        out["notebook_m"] = c.notebook_m
    return out


def restore() -> None:
    """Once per session, before the sidebar: bring back the run the URL's `?run=` names, or say why not."""
    if st.session_state.get(RESTORED_KEY):
        return
    st.session_state[RESTORED_KEY] = True
    run_id = st.query_params.get("run")
    if run_id is None:
        return
    payload = store().load(run_id) if valid_id(run_id) else None
    try:
        if payload is None:
            raise ValueError("it is not kept here (a damaged link, or a run removed to make room)")
        saved = parse(payload)
        if saved.data_key not in DATA_KEYS:
            raise ValueError("it was trained on an uploaded file, which is not kept")
        try:
            dataset = datasets.load_named(saved.data_key)
        except FileNotFoundError:
            raise ValueError(f"its data ({saved.data_key}) is not downloaded on this server") from None
        st.session_state["data_source"] = saved.data_key
        lab = resume(saved.run, saved.data_key, dataset, saved.values)
    except ValueError as error:
        del st.query_params["run"]
        st.session_state["restore_notice"] = f"The run in this link could not be restored: {error}. A fresh run starts."
        return
    st.session_state[runs.HISTORY_KEY] = saved.history
    st.session_state[ORIGIN_KEY] = run_id  # a copy: the first save goes to an id of this session's own
    lab.notice = f"Restored the run at iteration {lab.trainer.iteration:,}."


def show_notice() -> None:
    """Why the link's run could not come back, once."""
    notice = st.session_state.pop("restore_notice", None)
    if notice:
        st.warning(notice, icon=":material/history:")


# ----- saving --------------------------------------------------------------------------------------
def store() -> RunStore:
    """The run store (folder and size bound from the environment: $DIGIT_LAB_RUNS, $DIGIT_LAB_RUNS_MAX_MB)."""
    return RunStore()


def save(lab: state.Lab) -> str | None:
    """Save the session's run and history now; returns its run id (None when the disk refused)."""
    run_id = st.session_state.get(ID_KEY)
    if run_id is None:
        run_id = st.session_state[ID_KEY] = new_id()
    try:
        store().save(run_id, session_bytes(lab, runs.session_history(), settings.current_values()))
    except OSError as error:  # a full or read-only disk must not stop training
        _LOG.warning("could not save run %s: %s", run_id, error)
        return None
    st.session_state[SAVED_KEY] = fingerprint(lab)
    return run_id


def fingerprint(lab: state.Lab) -> tuple:
    """What a save depends on, cheaply: a different fingerprint means the saved bytes are stale."""
    history = runs.session_history()
    trainer = lab.trainer
    return (id(trainer), trainer.iteration, tuple(trainer.lr_changes[-1]), history.next_id, len(history),
            tuple(sorted(settings.current_values().items())))


def keep(lab: state.Lab) -> None:
    """End of a full run: save when something changed, put the id in the URL, save while running."""
    lab.run.autosave, lab.run.save_every = (lambda: save(lab)), SAVE_EVERY
    if st.session_state.get(SAVED_KEY) != fingerprint(lab) or ID_KEY not in st.session_state:
        save(lab)
    run_id = st.session_state.get(ID_KEY)
    if run_id and st.query_params.get("run") != run_id:
        st.query_params["run"] = run_id
