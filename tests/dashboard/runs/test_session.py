"""The session's run kept under its run id: bytes round trip, restore on reload, copies, bad links."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.run import HISTORY_FIELDS
from dashboard import settings
from dashboard.runs import history as runs, session, store
from dashboard.runs.store import RunStore, new_id, valid_id
from tests.dashboard.conftest import APP, wait_until


def lab(at):
    return at.session_state["lab"]


def saved() -> None:
    """Wait until the saves the page runs so far asked for are written (the saver thread writes them)."""
    session.registry().flush()


def reopen(query: dict) -> AppTest:
    """A new session (a reload, another tab or browser) opening the app with this query string, once the
    sessions' changes so far are saved."""
    saved()
    at = AppTest.from_file(str(APP), default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_reload_restores_the_run_and_its_history(make_app):
    """Step 100, reset (history), step 30: a new session with the same URL is at iteration 30 with both runs."""
    at = make_app(full_batch="false", batch_size="50")
    at.button(key="step100").click().run()
    at.button(key="reset").click().run()
    at.button(key="step10").click().run()
    run_id = at.query_params["run"]
    assert valid_id(run_id)
    again = reopen(dict(at.query_params))
    trainer, before = lab(again).now, lab(at).now
    assert trainer.iteration == 10 and trainer.config.batch_size == 50
    assert [r["train_loss"] for r in trainer.history.rows] == [r["train_loss"] for r in before.history.rows]
    (record,) = again.session_state[runs.HISTORY_KEY].runs
    assert record.iterations == 100 and record.weights is not None
    np.testing.assert_array_equal(record.column("dev_acc"), at.session_state[runs.HISTORY_KEY].runs[0].column("dev_acc"))
    assert any("Restored a copy of the run at iteration 10" in t.value for t in again.toast)  # not its owner
    again.button(key="step10").click().run()
    at.button(key="step10").click().run()
    np.testing.assert_array_equal(lab(again).now.params.W1, lab(at).now.params.W1)  # it goes on exactly


def test_a_pages_run_never_writes_the_store_itself(make_app, monkeypatch):
    """Saves happen on the saver thread, never on the page's: a Step's answer does not wait for the disk."""
    import threading

    threads = []
    real = session.Kept.save
    monkeypatch.setattr(session.Kept, "save", lambda self, *a, **k: threads.append(threading.current_thread().name)
                        or real(self, *a, **k))
    at = make_app()
    at.button(key="step10").click().run()
    saved()
    assert threads and set(threads) == {"digit-lab saver"}
    assert session.load(RunStore(), at.query_params["run"]).run.iteration == 10


def test_opening_someone_elses_run_copies_it(make_app):
    """The second session saves under an id of its own: stepping there leaves the original's bytes unchanged."""
    at = make_app()
    at.button(key="step10").click().run()
    original = at.query_params["run"]
    saved()
    stored = RunStore().load(original)
    other = reopen(dict(at.query_params))
    assert lab(other).now.iteration == 10
    other.button(key="step100").click().run()
    assert other.query_params["run"] != original and lab(other).now.iteration == 110
    saved()
    assert RunStore().load(original) == stored
    third = reopen(dict(at.query_params))
    assert lab(third).now.iteration == 10


@pytest.mark.parametrize("run_id", ["nope", "../../etc/passwd", new_id(), "0" * 32])
def test_a_missing_or_bad_run_id_gives_a_notice_and_a_fresh_run(make_app, run_id):
    """A run id that is malformed or not stored opens a fresh run with one notice, never an exception."""
    at = make_app(run=run_id)
    assert lab(at).now.iteration == 0
    assert any("could not be restored" in w.value for w in at.warning)
    assert at.query_params["run"] != run_id  # the session has its own id now


def test_a_damaged_or_foreign_payload_gives_a_notice(make_app):
    """Bytes under a valid id that are not a saved session (or are cut short) are refused in one sentence."""
    store = RunStore()
    good = new_id()
    at = make_app()
    at.button(key="step10").click().run()
    payload = store.load(at.query_params["run"])
    for content in (b"not an npz", payload[: len(payload) // 2]):
        store.save(good, content)
        opened = make_app(run=good)
        assert lab(opened).now.iteration == 0 and any("could not be restored" in w.value for w in opened.warning)


def test_session_bytes_round_trip(make_app):
    """parse(session_bytes(...)) gives back the run state, the history records and the settings."""
    at = make_app(hidden="12")
    at.button(key="step10").click().run()
    at.button(key="reset").click().run()
    history = at.session_state[runs.HISTORY_KEY]
    values = {**settings.DEFAULTS, "hidden": 12, "train_size": 2000, "dev_size": 500}
    kept = session.Kept("0" * 32, "owner", lab(at), history, values)
    saved = session.parse(session.session_bytes(kept))
    assert saved.values == values and saved.data_key == "sample"
    assert saved.run.iteration == 0 and saved.run.config.hidden == 12
    (record,) = saved.history.runs
    original = history.runs[0]
    assert (record.id, record.iterations, record.lr_changes) == (original.id, 10, original.lr_changes)
    assert [r["iteration"] for r in record.rows] == [r["iteration"] for r in original.rows]
    assert set(record.rows[0]) == set(HISTORY_FIELDS)
    np.testing.assert_array_equal(record.weights["W1"], original.weights["W1"])
    assert saved.history.next_id == history.next_id


@pytest.fixture
def short_parts(monkeypatch):
    """Parts of 2 history rows (a row every 10 steps), so that a run of a few dozen steps has several."""
    monkeypatch.setattr(session, "PART_ROWS", 2)


def long_kept(steps: int = 50):
    """A kept session whose Train run (h = 16, full batch) has trained `steps` steps, and its worker."""
    import data
    from core import TrainConfig, Trainer
    from dashboard.runs import state
    from dashboard.runs.worker import Step

    parts = data.split(data.load_sample(), dev_size=500, seed=0, raw=True)
    trainer = Trainer(TrainConfig(hidden=16, iterations=None), parts.X_train[:, :2000], parts.y_train[:2000],
                      parts.X_dev, parts.y_dev)
    worker = state.train_worker(trainer, None)
    worker.send(Step(steps), wait=60)
    lab = state.Lab(worker, trainer.config, "sample", data.load_sample(), parts)
    return session.Kept(new_id(), "owner", lab, runs.RunHistory(), dict(settings.DEFAULTS)), worker


def test_a_long_run_is_saved_in_parts_and_a_save_writes_what_changed(tmp_path, short_parts, monkeypatch):
    """Full blocks of history and each W1 snapshot are parts: the next save, a few steps on, writes no block
    again (nor even digests one), and a small file; the session reads back whole, the same as when saved in
    one piece."""
    from dashboard.runs.worker import Step

    digested = []
    monkeypatch.setattr(session, "_digest", lambda array, digest=session._digest: digested.append(1) or digest(array))
    kept, worker = long_kept()
    run_store = RunStore(tmp_path)
    assert kept.save(run_store)
    first = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.part")}
    before = worker.snapshot.view.state()
    assert len(first) == len(before.history) // 2 + len(before.snapshots) >= 10  # full blocks, one per snapshot
    head = run_store.path(kept.run_id).stat().st_size
    assert head * 10 < sum(p.stat().st_size for p in tmp_path.glob("*.part"))
    worker.send(Step(25), wait=60)
    digested.clear()
    assert kept.save(run_store)
    again = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.part")}
    assert {k: again[k] for k in first} == first  # none written again
    state = worker.snapshot.view.state()
    assert len(again) - len(first) == 1 + len(state.snapshots) - len(before.snapshots) >= 2  # a block of rows 60, 70
    assert len(digested) == len(again) - len(first)
    assert run_store.path(kept.run_id).stat().st_size < 2 * head
    saved, whole = session.load(run_store, kept.run_id), session.parse(session.session_bytes(kept))
    for back in (saved, whole):
        assert back.run.iteration == state.iteration == 75 and len(back.run.history) == len(state.history) == 9  # 0..70, 75
        assert [r["train_loss"] for r in back.run.history] == [r["train_loss"] for r in state.history]
        assert [i for i, _ in back.run.snapshots] == [i for i, _ in state.snapshots]
        for (_, W1), (_, original) in zip(back.run.snapshots, state.snapshots):
            np.testing.assert_array_equal(W1, original)


def test_a_saved_session_with_a_part_missing_or_damaged_says_so(tmp_path, short_parts):
    """A part gone or damaged makes the session unreadable with one sentence (restore turns it into a notice)."""
    kept, worker = long_kept(steps=10)  # rows at 0 and 10: one block
    run_store = RunStore(tmp_path)
    kept.save(run_store)
    block, *_ = sorted(tmp_path.glob("*.part"), key=lambda p: p.stat().st_size)  # a block of history (W1 is bigger)
    content = block.read_bytes()
    block.write_bytes(content[:-10])
    with pytest.raises(ValueError, match="its contents are damaged .*part of its 'run.history' is missing"):
        session.load(run_store, kept.run_id)
    block.unlink()
    with pytest.raises(ValueError, match="part of its 'run.history' is missing"):
        session.load(run_store, kept.run_id)
    with pytest.raises(ValueError, match="not kept here"):
        session.load(run_store, "not an id")


def test_a_session_saved_before_parts_still_reads():
    """Version 3 sessions (every array inline) read as they did: a saved run outlives the upgrade."""
    import data

    kept, worker = long_kept()
    arrays, meta = data.load_weights(session.session_bytes(kept))
    del meta["parts"]
    saved = session.parse(data.weights_bytes(arrays, {**meta, "version": 3}))
    assert saved.run.iteration == 50 and len(saved.run.history) == len(kept.lab.snapshot.view.state().history)


def test_parse_refuses_other_files():
    """A run file or plain weights are not a saved session."""
    import data

    with pytest.raises(ValueError, match="not a digit-lab session"):
        session.parse(data.weights_bytes({"W1": np.zeros((2, 784))}, {"hidden": 2}))


def test_a_training_run_is_saved_every_second_by_the_saver(make_app, tmp_path, monkeypatch):
    """While the Train run trains with no page run at all, the saver writes it again and again: each save is
    further on, so a crash loses at most about SAVE_EVERY seconds."""
    monkeypatch.setenv("DIGIT_LAB_RUNS", str(tmp_path))
    at = make_app()
    at.button(key="start").click().run()
    kept = session.Kept(new_id(), "owner", lab(at), at.session_state[runs.HISTORY_KEY], dict(settings.DEFAULTS))
    registry = session.Registry(every=0.3)
    registry.kept[kept.run_id] = kept
    saved = lambda: RunStore(tmp_path).load(kept.run_id) and session.load(RunStore(tmp_path), kept.run_id).run.iteration  # noqa: E731
    first = wait_until(saved, timeout=30, message="a first save")
    wait_until(lambda: saved() > first, timeout=30, message="a later save, further on")
    assert session.load(RunStore(tmp_path), kept.run_id).training  # saved as training: a restart trains on
    at.button(key="pause").click().run()


def test_the_owner_reattaches_and_others_get_a_copy(make_app, monkeypatch):
    """With the owner's token the link brings back the same live run under the same id; without it, a copy."""
    monkeypatch.setattr(session, "owner_token", lambda: "a" * 32)
    at = make_app()
    at.button(key="step10").click().run()
    run_id = at.query_params["run"]
    again = reopen({"run": run_id})  # the owner's reload: same token
    assert again.query_params["run"] == run_id and lab(again).worker is lab(at).worker
    monkeypatch.setattr(session, "owner_token", lambda: "b" * 32)
    other = reopen({"run": run_id})
    assert other.query_params["run"] != run_id and lab(other).worker is not lab(at).worker
    assert lab(other).now.iteration == 10


def test_a_sweep_the_notebook_pair_and_the_range_test_come_back_from_the_saved_run(make_app):
    """Every kind of run is saved: a link opened elsewhere gets the sweep, the pair and the range test where they were."""
    from tests.dashboard.conftest import open_view

    at = make_app("lab")
    at.text_input(key="sweep_rates").set_value("0.1, 0.5").run()
    at.number_input(key="sweep_iterations").set_value(20).run()
    at.button(key="sweep_run").click().run()
    at.number_input(key="range_steps").set_value(30).run()
    at.button(key="range_run").click().run()
    sweep, test = at.session_state["sweep"], at.session_state["range_test"]
    wait_until(lambda: not sweep.running and not test.running, timeout=60, message="the sweep and the range test")
    open_view(at, "notebook").button(key="nb_step10").click().run()
    at.run()
    copy = reopen({"run": at.query_params["run"]})
    restored = copy.session_state["sweep"]
    assert restored.sweep.iteration == 20 and restored.sweep.lrs == sweep.sweep.lrs
    np.testing.assert_array_equal(restored.sweep.state(1).params.W1, sweep.sweep.state(1).params.W1)
    assert copy.session_state["notebook_pair"].notebook.iteration == 10
    assert copy.session_state["range_test"].result.lrs == test.result.lrs and not copy.session_state["range_test"].running


def test_a_replica_that_cannot_reach_the_store_trains_on_and_says_so(make_app, tmp_path, monkeypatch):
    """With the run store unwritable the run steps and trains, the page warns, and the warning goes when it is back."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"")
    monkeypatch.setenv("DIGIT_LAB_RUNS", str(blocker / "runs"))  # below a file: no save can succeed
    at = make_app()
    at.button(key="step10").click().run()
    assert not at.exception
    assert lab(at).now.iteration == 10
    saved()  # the saver's save failed: the page's next run says so
    at.run()
    assert any("not being saved" in w.value for w in at.warning)
    at.button(key="start").click().run()
    wait_until(lambda: lab(at).now.iteration > 10, timeout=30, message="training without a store")
    at.button(key="pause").click().run()
    monkeypatch.setenv("DIGIT_LAB_RUNS", str(tmp_path / "runs"))
    at.button(key="step10").click().run()
    saved()
    at.run()
    assert not any("not being saved" in w.value for w in at.warning)
    assert session.load(RunStore(tmp_path / "runs"), at.query_params["run"]).run.iteration >= 20


def test_the_saver_notes_an_unreachable_store_and_its_return(make_app, tmp_path, monkeypatch):
    """The saver flags a store it cannot write (the session stays kept) and clears the flag with the next good save."""
    at = make_app()
    at.button(key="step10").click().run()
    kept = session.Kept(new_id(), "owner", lab(at), at.session_state[runs.HISTORY_KEY], dict(settings.DEFAULTS))
    registry = session.Registry(every=3600)  # saved by hand below, not by its thread
    registry.kept[kept.run_id] = kept
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    monkeypatch.setenv("DIGIT_LAB_RUNS", str(blocker / "runs"))
    registry.save_all()
    assert registry.store_problem and str(blocker / "runs") in registry.store_problem
    assert kept.run_id in registry.kept and kept.saved is None
    registry.save_all()  # still failing: still flagged
    assert registry.store_problem
    monkeypatch.setenv("DIGIT_LAB_RUNS", str(tmp_path / "runs"))
    registry.save_all()
    assert registry.store_problem is None
    assert RunStore(tmp_path / "runs").load(kept.run_id) is not None


def test_the_saver_keeps_watched_runs_young_and_rewrites_an_evicted_one(make_app, tmp_path, monkeypatch):
    """The saver keeps a watched session's file young (eviction spares it) and writes it again if it was evicted."""
    monkeypatch.setenv("DIGIT_LAB_RUNS", str(tmp_path))
    monkeypatch.setattr(session, "TOUCH_EVERY", 0.0)
    at = make_app()
    at.button(key="step10").click().run()
    kept = session.Kept(new_id(), "owner", lab(at), at.session_state[runs.HISTORY_KEY], dict(settings.DEFAULTS))
    kept.watchers.add(1)
    registry = session.Registry(every=3600)  # saved by hand below, not by its thread
    registry.kept[kept.run_id] = kept
    registry.save_all()
    path = RunStore(tmp_path).path(kept.run_id)
    old = time.time() - 2 * store.MIN_AGE_SECONDS
    os.utime(path, (old, old))
    registry.save_all()
    assert path.stat().st_mtime > old + store.MIN_AGE_SECONDS  # young again: eviction spares it
    path.unlink()  # as an eviction would
    registry.save_all()
    assert session.load(RunStore(tmp_path), kept.run_id).run.iteration == 10


def test_a_slow_save_waits_so_saving_keeps_its_share(make_app, tmp_path):
    """A paced save right after a big one that took 0.1 s waits (at most SAVE_SHARE of the time goes to saving)."""
    at = make_app()
    at.button(key="step10").click().run()
    kept = session.Kept(new_id(), "owner", lab(at), at.session_state[runs.HISTORY_KEY], dict(settings.DEFAULTS))
    store = RunStore(tmp_path)
    assert kept.save(store) and store.load(kept.run_id)
    first = kept.saved
    kept.spent, kept.size = 0.1, 16 * 2**20  # as if a big save had taken 0.1 s: the next paced one waits 5 s
    at.button(key="step10").click().run()
    assert kept.save(store, paced=True) and kept.saved == first  # changed, but not written yet
    assert kept.save(store) and kept.saved != first  # an unpaced save (a click's full run) writes at once


@pytest.mark.parametrize("data_key, env, said", [
    ("upload:0123abcd", {}, "trained on an uploaded file, which is not kept"),
    ("mnist", {"DIGIT_LAB_DATA": "EMPTY"}, "its data (mnist) is not downloaded on this server"),
])
def test_a_saved_run_whose_data_is_not_here_opens_a_fresh_run_and_says_why(make_app, tmp_path, monkeypatch,
                                                                        data_key, env, said):
    """A link to a run trained on an upload, or on MNIST this server has not downloaded, gives one notice and a
    fresh run on the sample (no error)."""
    for key, value in env.items():
        monkeypatch.setenv(key, str(tmp_path / value) if value == "EMPTY" else value)
    at = make_app()
    at.button(key="step10").click().run()
    the_lab = lab(at)
    the_lab.data_key = data_key  # as if it had been trained on that data
    run_id = new_id()
    RunStore().save(run_id, session.session_bytes(session.Kept(run_id, None, the_lab, runs.RunHistory(),
                                                               dict(settings.DEFAULTS))))
    opened = reopen({"run": run_id})
    assert any(said in w.value for w in opened.warning), [w.value for w in opened.warning]
    assert lab(opened).now.iteration == 0 and lab(opened).data_key == "sample"
    assert dict(opened.query_params).get("run") != run_id  # the fresh run has its own id
