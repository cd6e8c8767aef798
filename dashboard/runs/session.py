"""One person's runs, kept on the server and on disk: they train on, survive reloads, crashes and links.

Everything a browser session has made (the Train run, the latest learning-rate sweep, the
notebook-vs-corrected pair, the range test, the run history and the sidebar's settings) is held
by a `Kept` in this server's registry under an unguessable run id (`dashboard.runs.store`), which the
URL carries as `?run=`. The runs themselves are trained by their workers (dashboard/runs/worker.py);
a saver thread writes every kept session that changed to the run store once every SAVE_EVERY
seconds, atomically, from the workers' immutable snapshots (never from a page's drawing path). What
of a session stops changing (full blocks of a long history, W1 snapshots) is saved once, as parts of
its run (`Parts`), so a save writes about what changed in the last second, however long the run.

Who may continue a run: the browser that made it. Each browser gets a random owner token in a
cookie (OWNER_COOKIE, set by a tiny script component the first time; never in the link), and the
saved session records only its SHA-256. A reload, a reconnect or the link reopened in the owner's
browser reattaches to the same run id: the live run if this server still holds it (it kept
training meanwhile), else the saved one, which carries on (a run that was training when the
server died trains again). Anyone else who opens the link gets a copy under a new id of their
own, and the original never changes.

Several replicas behind a balancer share one store (README, "Serving a class"): a session whose
replica died comes back on another from its last save, as after a crash. A replica that cannot
write the store keeps its sessions training in memory and every page says so
(`Registry.store_problem`), until a save succeeds again.

`resume` also serves the weights upload: a run file resumes at its saved iteration with its history.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from queue import Queue
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

import data
from core import TrainConfig, Trainer
from core.model import N_PIXELS
from core.run import HISTORY_FIELDS, Failure, RunState, history_table
from core.sweep import RangeResult, Sweep
from dashboard import datasets, export, settings
from dashboard.runs import alpha, history as runs, pair as pairs, state, sweeps
from dashboard.runs.store import RunStore, new_id, valid_id
from dashboard.runs.worker import Start

FORMAT, VERSION = "digit-lab session", 4
READS = (3, 4)  # version 3 held every array inline (no parts)
PART_ROWS = 8192  # history rows per part (about 850 KB)
PART_MIN_BYTES = 2**16  # a finished run's weights this big are a part (h = 10's W1 is 61 KB and stays inline)
SAVE_EVERY = 1.0  # seconds between saves of a session whose runs changed
SAVE_SHARE = 0.02  # the saver's saves of big sessions take at most this share of the time (see Kept.save)
PACE_BYTES = 4 * 2**20  # sessions up to this size are saved every SAVE_EVERY whatever the load
FORGET_AFTER = 600.0  # seconds an unwatched, resting session stays in memory (it is on disk)
TOUCH_EVERY = 60.0  # seconds between marking watched sessions' files as in use (store.MIN_AGE_SECONDS is 300)
OWNER_COOKIE = "digit_lab_owner"
ID_KEY, RESTORED_KEY, TOKEN_KEY = "run_id", "run_restored", "owner_token"
RANGE_KEY = "range_test"  # the LR lab's range test result
DATA_KEYS = ("sample", *datasets.DOWNLOADABLE)  # an upload is not kept: its runs cannot come back
_LOG = logging.getLogger(__name__)


@dataclass
class Saved:
    """What a session's bytes hold."""

    run: RunState
    data_key: str
    values: dict  # the sidebar's settings (settings.DEFAULTS keys), α included
    history: runs.RunHistory
    owner: str | None = None  # SHA-256 of the owner's token
    training: bool = False  # the Train run was training when it was saved
    sweep: dict | None = None  # meta + "states" of the latest sweep
    pair: dict | None = None  # settings + "states" of the notebook pair
    range_test: sweeps.RangeRun | None = None
    rewind: RunState | None = None  # the failed Train run's rewind point (core.Trainer.rewind_point)


# ----- what the server keeps -------------------------------------------------------------------------
@dataclass(eq=False)
class Kept:
    """One person's session on the server: its runs, history and settings, and when they were last saved.

    The page replaces these fields at the end of each full run (`keep`); the saver thread only
    reads them, and the workers' snapshots it saves from never change.
    """

    run_id: str
    owner: str | None
    lab: state.Lab
    history: runs.RunHistory
    values: dict
    sweep: sweeps.SweepRun | None = None
    pair: pairs.Comparison | None = None
    range_test: sweeps.RangeRun | None = None
    saved: tuple | None = None  # what the last save was made from (see `marks`)
    save_error: str | None = None  # why the last save failed (None once one succeeds)
    watchers: set = field(default_factory=set)
    left_at: float = field(default_factory=time.monotonic)  # when the last page went away
    saved_at: float = 0.0  # time.monotonic() of the last save
    spent: float = 0.0  # seconds the last save took
    size: int = 0  # bytes the last save wrote
    known: dict = field(default_factory=dict)  # the parts of the last save (`Parts.known`)
    lock: threading.Lock = field(default_factory=threading.Lock)  # one save at a time

    def workers(self) -> list:
        """The workers of this session's runs."""
        return [x.worker for x in (self.lab, self.sweep, self.pair, self.range_test)
                if x is not None and x.worker is not None]

    def marks(self) -> tuple:
        """What a save depends on, cheaply: when it differs from `saved`, the saved bytes are stale."""
        return (tuple((id(w), w.snapshot.version) for w in self.workers()), self.history.next_id, len(self.history),
                tuple(sorted(self.values.items())), id(self.range_test))  # a restored range test has no worker

    def save(self, store: RunStore | None = None, paced: bool = False) -> bool:
        """Save when anything changed since the last save; False when the disk refused.

        `paced` (the saver's saves while runs train): a session whose bytes are over PACE_BYTES (its parts
        not counted: a sweep of ten h = 128 runs, whose weights alone are 8 MB) not before the last save's
        duration makes at most SAVE_SHARE of the time since it, so saving it never takes more than that
        share from training; a smaller one is saved every SAVE_EVERY, loaded machine or not (a crash loses
        at most about a second), however long its history and however many its snapshots (`Parts`).
        """
        with self.lock:
            marks = self.marks()
            if marks == self.saved:
                return True
            if paced and self.size > PACE_BYTES and time.monotonic() - self.saved_at < self.spent / SAVE_SHARE:
                return True
            run_store = store or RunStore()
            started = time.monotonic()
            parts = Parts(self.known)
            try:
                payload = session_bytes(self, parts)
                self.known = parts.used
                run_store.save(self.run_id, payload, parts.makers)
            except OSError as error:  # a full, read-only or unreachable store must not stop training
                problem = f"{run_store.folder} cannot be written ({error.strerror or error})"
                if problem != self.save_error:  # logged once, not every second
                    _LOG.warning("could not save run %s: %s", self.run_id, problem)
                self.save_error = problem
                return False
            self.saved, self.save_error = marks, None
            self.saved_at = time.monotonic()
            self.spent, self.size = self.saved_at - started, len(payload)
            return True

    def resting(self) -> bool:
        """No page watches and nothing trains."""
        return not self.watchers and not any(w.snapshot.active for w in self.workers())


class Registry:
    """The kept sessions of this server by run id, and the saver thread that writes them.

    `store_problem` says why the run store cannot be written right now (None while saves succeed):
    sessions keep training in memory meanwhile, and every page shows it (`show_store_problem`).
    """

    def __init__(self, every: float = SAVE_EVERY, forget_after: float = FORGET_AFTER):
        self.kept: dict[str, Kept] = {}
        self.every, self.forget_after = every, forget_after
        self.store_problem: str | None = None
        self._touched = time.monotonic()
        self._soon: Queue[tuple[Kept, RunStore | None]] = Queue()  # asked for by pages (save_soon)
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="digit-lab saver", daemon=True)
        self._thread.start()

    def save_soon(self, kept: Kept, store: RunStore | None = None) -> None:
        """Have the saver thread save `kept` now if it changed (a page's full run changed it): the page's own
        thread never waits for the disk (a save and its fsync took 5-27 ms of a Step's answer)."""
        self._soon.put((kept, store))
        self._wake.set()

    def flush(self) -> None:
        """Wait until the saves pages asked for are written (or failed)."""
        self._soon.join()

    def save(self, kept: Kept, store: RunStore | None = None, paced: bool = False) -> bool:
        """Save one kept session if it changed (`paced`: see Kept.save), and note whether the store took it."""
        before = kept.saved
        saved = kept.save(store, paced)
        if not saved:
            self.store_problem = kept.save_error
        elif kept.saved is not before:  # written just now (an unchanged session proves nothing)
            self.store_problem = None
        return saved

    def save_all(self) -> None:
        """Save every kept session that changed; forget those resting (and saved) for long. Every TOUCH_EVERY
        seconds, mark the files of watched sessions as in use (eviction spares them; one that is gone is saved
        again)."""
        now = time.monotonic()
        touch = now - self._touched >= TOUCH_EVERY
        if touch:
            self._touched = now
        for run_id, kept in list(self.kept.items()):
            if touch and kept.watchers and kept.saved is not None and not store().touch(run_id):
                with kept.lock:
                    kept.saved, kept.saved_at = None, 0.0  # evicted meanwhile (or the store is unreachable): write it again now
            saved = self.save(kept, paced=True)
            if saved and kept.resting() and now - kept.left_at > self.forget_after:
                self.kept.pop(run_id, None)

    def _loop(self) -> None:
        due = time.monotonic() + self.every
        while True:
            self._wake.wait(max(0.0, due - time.monotonic()))
            self._wake.clear()
            try:
                while not self._soon.empty():
                    try:
                        self.save(*self._soon.get())
                    finally:
                        self._soon.task_done()
                if time.monotonic() >= due:
                    due = time.monotonic() + self.every
                    self.save_all()
            except Exception:  # noqa: BLE001 - the saver must outlive one bad session
                _LOG.exception("saving the sessions failed")


@st.cache_resource(show_spinner=False)
def registry() -> Registry:
    """This server's registry (one per process)."""
    return Registry()


# ----- bytes --------------------------------------------------------------------------------------
class Parts:
    """The big pieces of a session that stop changing, each saved once as a part of its run (RunStore parts).

    A run's history only grows at its end and its W1 snapshots come one at a time, so writing a whole
    session every second rewrote what had not changed: 134 ms a save after 25 minutes at batch 128
    (300,000 rows of history), 32 ms at h = 128 (16 MB of snapshots), and the saver had to save such
    sessions less often than once a second. Here each full block of PART_ROWS history rows, each W1
    snapshot and each big weight of a finished run is a part, named by the digest of its numbers; the
    session's bytes list the parts of each array ("parts" in the meta) and hold the rest inline (the
    rows after the last full block). Such an array reads back as its parts, then its inline rows.

    A piece is known by the objects it is made from, which never change (the same row dicts, the same
    snapshot array), so its digest is computed once and its bytes only when the store lacks the part.
    `known` carries that from one save to the next (the last save's pieces only, so a reset run's old
    rows are let go); the same for the rows after the last block while they do not change.
    """

    def __init__(self, known: dict | None = None):
        self.known = known or {}
        self.used: dict = {}  # what this save made or reused: the next save's `known`
        self.makers: dict[str, Callable[[], bytes]] = {}  # part name -> a function making its bytes
        self.lists: dict[str, list[str]] = {}  # array key -> the names of its parts, in order

    def rows(self, arrays: dict, key: str, rows: Sequence[dict],
             table: Callable[[Sequence[dict]], np.ndarray] = history_table) -> None:
        """A history's rows as `arrays[key]` (`table` makes a float table of rows): full blocks as parts."""
        full = len(rows) // PART_ROWS * PART_ROWS
        for start in range(0, full, PART_ROWS):
            block = functools.partial(_rows_table, table, rows, start, start + PART_ROWS)  # sliced only when needed
            self._piece(key, start, (rows[start], rows[start + PART_ROWS - 1]), None, block)
        tail = rows[full:]
        anchors = (tail[0], tail[-1]) if tail else ()
        known = self._known((key, "tail"), anchors, len(tail))
        arrays[key] = table(tail) if known is None else known
        self.used[(key, "tail")] = (anchors, len(tail), arrays[key])

    def snapshots(self, arrays: dict, key: str, snapshots: Sequence[tuple[int, np.ndarray]], hidden: int,
                  dtype) -> None:
        """A run's W1 snapshots as `arrays[key]` (stacked), each a part."""
        for iteration, W1 in snapshots:
            base = W1 if W1.base is None else W1.base  # a snapshot is a view of the Trainer's stack
            address = (iteration, W1.__array_interface__["data"][0], W1.shape)
            self._piece(key, iteration, (base,), address, functools.partial(np.expand_dims, W1, 0))
        arrays[key] = np.zeros((0, hidden, N_PIXELS), dtype)

    def whole(self, arrays: dict, key: str, array: np.ndarray) -> None:
        """An array that never changes as `arrays[key]`: a part when it is big."""
        if array.nbytes < PART_MIN_BYTES:
            arrays[key] = array
            return
        self._piece(key, 0, (array,), None, lambda: array)
        arrays[key] = array[:0]

    def _known(self, slot: tuple, anchors: tuple, detail) -> object:
        """What `known` holds for `slot` when it was made from the same objects (and `detail`), else None."""
        entry = self.known.get(slot)
        if entry is None or entry[1] != detail or len(entry[0]) != len(anchors) \
                or any(a is not b for a, b in zip(entry[0], anchors)):
            return None
        return entry[2]

    def _piece(self, key: str, index: object, anchors: tuple, detail, block: Callable[[], np.ndarray]) -> None:
        name = self._known((key, index), anchors, detail)
        if name is None:
            name = _digest(block())
        self.used[(key, index)] = (anchors, detail, name)
        self.lists.setdefault(key, []).append(name)
        field_name = key.rsplit(".", 1)[-1]  # "history" may hold NaN (data.weights' check)
        self.makers[name] = lambda: data.weights_bytes({field_name: np.ascontiguousarray(block())}, {"part": key})


def _rows_table(table: Callable[[Sequence[dict]], np.ndarray], rows: Sequence[dict], start: int, stop: int):
    return table(rows[start:stop])


def _digest(array: np.ndarray) -> str:
    """A 128-bit digest of an array's numbers, shape and type: the name of its part."""
    digest = hashlib.blake2b(f"{array.dtype.str}{array.shape}".encode(), digest_size=16)
    digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()


def _record_rows(rows: Sequence[dict]) -> np.ndarray:
    """Finished runs' rows as a float table (a field a row lacks is NaN)."""
    return np.array([[row.get(f, np.nan) for f in HISTORY_FIELDS] for row in rows],
                    dtype=np.float64).reshape(len(rows), len(HISTORY_FIELDS))


def put_state(arrays: dict, metas: dict, name: str, run_state: RunState, parts: Parts | None = None) -> None:
    """Add a run state's arrays to the session's arrays under `name.` and its meta to `metas[name]`
    (in place, not a run file inside the file: a save copies each array once); its history and
    snapshots through `parts` when given."""
    run_arrays, run_meta = run_state.to_arrays(bulk=parts is None)
    arrays.update({f"{name}.{key}": array for key, array in run_arrays.items()})
    metas[name] = run_meta
    if parts is not None:
        parts.rows(arrays, f"{name}.history", run_state.history)
        parts.snapshots(arrays, f"{name}.snapshots", run_state.snapshots, run_state.params.hidden,
                        run_state.params.dtype)


def take_state(arrays: dict, metas: dict, name: str) -> RunState:
    """The run state `put_state` stored under `name`. Raises: ValueError (RunState's checks) or KeyError."""
    prefix = f"{name}."
    return RunState.from_arrays({k[len(prefix):]: a for k, a in arrays.items() if k.startswith(prefix)}, metas[name])


def session_bytes(kept: Kept, parts: Parts | None = None) -> bytes:
    """The session's runs, run history and settings as one .npz (no pickles, meta as JSON); with `parts`, the
    pieces that stop changing go there instead (see Parts) and the bytes name them.

    Inside: "run.<name>" the Train run's arrays (its meta in meta["states"]["run"]: together what
    a run file holds), "rewind.<name>" likewise its rewind point after a failure, "history" every
    record's evaluations one after the other (rows per record in the meta), "rec<id>.W1" ... the
    weights the records kept, "sweep<i>.<name>" and "pair<i>.<name>" the sweep's and the pair's
    runs, "range.lrs" / "range.losses" the range test.
    """
    lab, history = kept.lab, kept.history
    snapshot = lab.snapshot
    arrays, states = {}, {}
    put_state(arrays, states, "run", snapshot.view.state(), parts)
    if snapshot.view.rewind_point is not None:  # a failed run: where its Rewind button goes back to
        put_state(arrays, states, "rewind", snapshot.view.rewind_point, parts)
    records, rows = [], []
    for r in history.runs:
        rows += r.rows
        for k, a in (r.weights or {}).items():
            if parts is None:
                arrays[f"rec{r.id}.{k}"] = a
            else:
                parts.whole(arrays, f"rec{r.id}.{k}", a)
        records.append(dict(id=r.id, source=r.source, data=r.data, config=r.config, final=r.final, rows=len(r.rows),
                            iterations=r.iterations, seconds=r.seconds, lr_changes=[list(c) for c in r.lr_changes],
                            failure=r.failure.to_dict() if r.failure else None, weights=r.weights is not None))
    if parts is None:
        arrays["history"] = _record_rows(rows)
    else:
        parts.rows(arrays, "history", rows, _record_rows)
    meta = dict(format=FORMAT, version=VERSION, data_key=lab.data_key, values=kept.values, records=records,
                next_id=history.next_id, fields=list(HISTORY_FIELDS), owner=kept.owner,
                training=snapshot.active, sweep=None, pair=None, range_test=None, states=states)
    if kept.sweep is not None:
        meta["sweep"] = _sweep_meta(kept.sweep, arrays, states, parts)
    if kept.pair is not None:
        meta["pair"] = _pair_meta(kept.pair, arrays, states, parts)
    if kept.range_test is not None:
        result = kept.range_test.result
        arrays["range.lrs"], arrays["range.losses"] = np.array(result.lrs), np.array(result.losses)
        meta["range_test"] = dict(seconds=result.seconds, setup=kept.range_test.setup)
    meta["parts"] = parts.lists if parts is not None else {}
    return data.weights_bytes(arrays, meta)


def _sweep_meta(run: sweeps.SweepRun, arrays: dict, states: dict, parts: Parts | None) -> dict:
    snapshot = run.worker.snapshot
    for i, view in enumerate(snapshot.view.runs):
        put_state(arrays, states, f"sweep{i}", view.state(), parts)
    return dict(number=run.number, data_key=run.data_key, data_name=run.data_name, config=run.config.to_dict(),
                budget_kind=run.budget_kind, budget=run.budget, runs=snapshot.view.size, training=snapshot.active,
                finished=run.finished(), recorded=run.recorded, elapsed=run.elapsed())


def _pair_meta(pair: pairs.Comparison, arrays: dict, states: dict, parts: Parts | None) -> dict:
    snapshot = pair.worker.snapshot
    for i, view in enumerate(snapshot.view):
        put_state(arrays, states, f"pair{i}", view.state(), parts)
    return dict(settings=pair.settings.to_dict(), training=snapshot.active)


def parse(payload: bytes, part: Callable[[str], bytes | None] | None = None) -> Saved:
    """Read what `session_bytes` wrote; `part(name)` gives the bytes of a part it names (`RunStore.part`).

    Raises: ValueError with one sentence for anything else (a part missing or damaged included).
    """
    arrays, meta = data.load_weights(payload, name="the saved run")
    if meta.get("format") != FORMAT or meta.get("version") not in READS:
        raise ValueError("it is not a digit-lab session of this version")
    try:
        for key, names in (meta.get("parts") or {}).items():
            arrays[key] = np.concatenate([_part(part, name, key) for name in names] + [arrays[key]])
        states = meta["states"]
        run = take_state(arrays, states, "run")
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
        sweep = pair = range_test = None
        if meta.get("sweep"):
            sweep = {**meta["sweep"], "states": [take_state(arrays, states, f"sweep{i}")
                                                 for i in range(int(meta["sweep"]["runs"]))]}
        if meta.get("pair"):
            pair = {**meta["pair"], "states": [take_state(arrays, states, f"pair{i}") for i in range(2)]}
        if meta.get("range_test"):
            result = RangeResult(tuple(map(float, arrays["range.lrs"])), tuple(map(float, arrays["range.losses"])),
                                 float(meta["range_test"]["seconds"]))
            range_test = sweeps.RangeRun(str(meta["range_test"]["setup"]), saved=result)
        rewind = take_state(arrays, states, "rewind") if "rewind" in states else None
        saved = Saved(run, str(meta["data_key"]), values, history, meta.get("owner"), bool(meta.get("training")),
                      sweep, pair, range_test, rewind)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        raise ValueError(f"its contents are damaged ({type(error).__name__}: {error})") from None
    return saved


def load(run_store: RunStore, run_id: object) -> Saved:
    """The session saved under `run_id`, with its parts.

    Raises: ValueError with one sentence when it is not there (a bad id included) or cannot be read.
    """
    payload = run_store.load(run_id) if valid_id(run_id) else None
    if payload is None:
        raise ValueError("it is not kept here (a damaged link, or a run removed to make room)")
    return parse(payload, functools.partial(run_store.part, run_id))


def _part(part: Callable[[str], bytes | None] | None, name: str, key: str) -> np.ndarray:
    """The array of one part of `key`. Raises: ValueError when it is missing or damaged."""
    content = part(name) if part is not None else None
    if content is None:
        raise ValueError(f"a part of its {key!r} is missing")
    arrays, _ = data.load_weights(content, name=f"a part of the saved run's {key!r}")
    return arrays[key.rsplit(".", 1)[-1]]


# ----- a run back into the session ------------------------------------------------------------------
def resume(run: RunState, data_key: str, dataset: data.Dataset, values: dict,
           rewind: RunState | None = None) -> state.Lab:
    """Make `run` the session's run on this data, the sidebar's settings following it; α follows too.
    `rewind`: a failed run's rewind point, kept with it.

    Raises: ValueError with one sentence when the run does not fit (other data, settings out of range).
    """
    config = settings.config_from_settings({**values, **settings_of(run)})
    split = datasets.load_split(data_key, config.dev_size, config.train_size, config.seed, _dataset=dataset)
    trainer = Trainer.from_state(run, split.X_train, split.y_train, split.X_dev, split.y_dev, rewind_point=rewind)
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
    """Once per session, before the sidebar: bring back the run the URL's `?run=` names, or say why not.

    The owner's browser gets its own run back under the same id (the live one when this server
    holds it); anyone else gets a copy.
    """
    if st.session_state.get(RESTORED_KEY):
        return
    st.session_state[RESTORED_KEY] = True
    run_id = st.query_params.get("run")
    if run_id is None:
        return
    owner = owner_hash()
    live = registry().kept.get(run_id) if valid_id(run_id) else None
    if live is not None and live.owner == owner and live.lab.data_key in DATA_KEYS:
        reattach(live)
        return
    try:
        saved = load(store(), run_id)
        if saved.data_key not in DATA_KEYS:
            raise ValueError("it was trained on an uploaded file, which is not kept")
        try:
            dataset = datasets.load_named(saved.data_key)
        except FileNotFoundError:
            raise ValueError(f"its data ({saved.data_key}) is not downloaded on this server") from None
        st.session_state["data_source"] = saved.data_key
        lab = resume(saved.run, saved.data_key, dataset, saved.values, saved.rewind)
        restore_others(saved, lab)
    except ValueError as error:
        del st.query_params["run"]
        st.session_state["restore_notice"] = f"The run in this link could not be restored: {error}. A fresh run starts."
        return
    st.session_state[runs.HISTORY_KEY] = saved.history
    mine = saved.owner is not None and saved.owner == owner
    if mine:  # the owner's own run carries on under its id (a run the server lost while training trains on)
        st.session_state[ID_KEY] = run_id
        if saved.training:
            lab.worker.send(Start())
    lab.notice = (f"Restored {'your' if mine else 'a copy of the'} run at iteration {lab.now.iteration:,}"
                  + ("" if mine else ": changes go to a link of your own") + ".")


def restore_others(saved: Saved, lab: state.Lab) -> None:
    """The saved sweep, notebook pair and range test back into the session (trained on as they were)."""
    split = lab.split
    if saved.sweep is not None:
        meta = saved.sweep
        sweep = Sweep.from_states(meta["states"], split.X_train, split.y_train, split.X_dev, split.y_dev)
        config = TrainConfig.from_dict(meta["config"])
        run = sweeps.make(config, sweep.lrs, split, int(meta["number"]), meta["data_key"], meta["data_name"],
                          meta["budget_kind"], float(meta["budget"]), sweep=sweep, start=bool(meta["training"]))
        run.recorded, run.started = bool(meta["recorded"]), time.time() - float(meta["elapsed"])
        if meta["finished"] and not run.worker.finished():
            sweeps.finish(run)  # it was stopped by hand
        st.session_state[sweeps.SWEEP_KEY] = run
    if saved.pair is not None:
        meta = saved.pair
        pair_settings = pairs.PairSettings.from_dict(meta["settings"])
        X, y = split.X_train[:, :pair_settings.rows], split.y_train[:pair_settings.rows]
        trainers = tuple(Trainer.from_state(s, X, y, split.X_dev, split.y_dev) for s in meta["states"])
        pair = pairs.build(pair_settings, split, trainers)
        if meta["training"]:
            pair.worker.send(Start())
        st.session_state[pairs.PAIR_KEY] = pair
    if saved.range_test is not None:
        st.session_state[RANGE_KEY] = saved.range_test


def reattach(kept: Kept) -> None:
    """This session takes over the live runs of `kept` (the owner's reload): same id, nothing lost."""
    st.session_state[ID_KEY] = kept.run_id
    st.session_state[state.LAB_KEY] = kept.lab
    st.session_state[runs.HISTORY_KEY] = kept.history
    st.session_state["data_source"] = kept.lab.data_key
    for key, value in kept.values.items():
        if key != "lr":
            st.session_state[key] = value  # the widgets show the run's settings (set before they are drawn)
    alpha.init(kept.values.get("lr"))
    if kept.sweep is not None:
        st.session_state[sweeps.SWEEP_KEY] = kept.sweep
    if kept.pair is not None:
        st.session_state[pairs.PAIR_KEY] = kept.pair
    if kept.range_test is not None:
        st.session_state[RANGE_KEY] = kept.range_test
    lab = kept.lab
    lab.notice = (f"Back to your run at iteration {lab.now.iteration:,}"
                  + (", still training." if lab.running else "."))


def show_store_problem() -> None:
    """Say so when this server cannot save runs (its sessions train on in memory meanwhile)."""
    problem = registry().store_problem
    if problem:
        st.warning(f"Runs are not being saved right now: the run store {problem}. Your run keeps training on "
                   "this server, and a reload here finds it; if this server stops before saving works again, "
                   "what changed since the last save is lost.", icon=":material/cloud_off:")


def show_notice() -> None:
    """Why the link's run could not come back, once."""
    notice = st.session_state.pop("restore_notice", None)
    if notice:
        st.warning(notice, icon=":material/history:")


# ----- the owner ----------------------------------------------------------------------------------
def owner_token() -> str:
    """This browser's owner token: its cookie's, else a new one (`owner_cookie` sets the cookie)."""
    cookie = st.context.cookies.get(OWNER_COOKIE)
    if valid_id(cookie):
        return cookie
    return st.session_state.setdefault(TOKEN_KEY, new_id())


def owner_hash() -> str:
    """What a saved session records of its owner: the SHA-256 of the token, never the token."""
    return hashlib.sha256(owner_token().encode()).hexdigest()


_COOKIE_JS = """
// Sets the owner cookie once (the token comes from the server); no other effect, nothing drawn.
export default function ({ data }) {
  const token = data && data.token;
  if (typeof token !== "string" || !/^[0-9a-f]{32}$/.test(token)) return;
  if (document.cookie.split("; ").some((c) => c.startsWith("NAME="))) return;
  document.cookie = `NAME=${token}; path=/; max-age=31536000; SameSite=Lax`;
}
""".replace("NAME", OWNER_COOKIE)


def owner_cookie() -> None:
    """Give this browser its owner cookie if it has none (a reload then proves it made its runs)."""
    if valid_id(st.context.cookies.get(OWNER_COOKIE)):
        return
    _cookie_setter()(key="owner_cookie", data={"token": owner_token()}, height=0)


@st.cache_resource(show_spinner=False)
def _cookie_setter():
    return st.components.v2.component("digit_lab_owner_cookie", js=_COOKIE_JS)


# ----- keeping ------------------------------------------------------------------------------------
def store() -> RunStore:
    """The run store (folder and size bound from the environment: $DIGIT_LAB_RUNS, $DIGIT_LAB_RUNS_MAX_MB)."""
    return RunStore()


class Watcher:
    """One browser session watching kept sessions; released by Streamlit when the session ends."""

    def __init__(self):
        self.kept: list[Kept] = []


def _released(watcher: Watcher) -> None:
    """The browser session ended (tab closed, or a reload's old session): its runs lose a watcher."""
    for kept in watcher.kept:
        kept.watchers.discard(id(watcher))
        kept.left_at = time.monotonic()
        for worker in kept.workers():
            worker.detach(id(watcher))


@st.cache_resource(scope="session", on_release=_released, show_spinner=False)
def watcher() -> Watcher:
    """This browser session's watcher."""
    return Watcher()


def kept_now() -> Kept:
    """This session's entry in the registry, made on first use (under the link's id, or a new one)."""
    run_id = st.session_state.get(ID_KEY)
    if run_id is None:
        run_id = st.session_state[ID_KEY] = new_id()
    kept = registry().kept.get(run_id)
    if kept is None:
        kept = registry().kept[run_id] = Kept(run_id, owner_hash(), state.get(), runs.session_history(),
                                              settings.current_values())
    return kept


def keep(lab: state.Lab) -> None:
    """End of a full run: the registry holds what the session has now, its pages watch it, the saver saves it
    at once when anything changed (and once a second while it trains), and the URL carries its id."""
    sweeps.record(sweeps.get())
    kept = kept_now()
    kept.lab, kept.history, kept.values = lab, runs.session_history(), settings.current_values()
    kept.sweep, kept.pair, kept.range_test = sweeps.get(), pairs.get(), st.session_state.get(RANGE_KEY)
    me = watcher()
    if kept not in me.kept:
        me.kept.append(kept)
    kept.watchers.add(id(me))
    for worker in kept.workers():
        worker.attach(id(me))
    registry().save_soon(kept, store())
    if st.query_params.get("run") != kept.run_id:
        st.query_params["run"] = kept.run_id
