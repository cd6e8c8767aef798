"""The session's run and the live driver: what starts a new run, budgeted training, the lock, stops."""

import pytest

import data
from core import TrainConfig, Trainer
from dashboard import live, state


@pytest.fixture(scope="module")
def parts():
    """A small split of the bundled sample."""
    return data.split(data.load_sample(), dev_size=200, train_size=1000, seed=0)


def make_lab(parts, stop_at=None, **changes) -> state.Lab:
    """A Lab around a fresh Trainer (no Streamlit session needed)."""
    config = TrainConfig(**{"iterations": None, **changes})
    trainer = Trainer(config, parts.X_train, parts.y_train, parts.X_dev, parts.y_dev)
    return state.Lab(live.Run(trainer, stop_at=stop_at), config, "sample", None, parts)


def test_run_key_ignores_live_settings():
    """α and stop-at apply to the running network; everything else (and the data) needs a new one."""
    base = TrainConfig()
    assert state.run_key("sample", base) == state.run_key("sample", base.with_(lr=3.0, iterations=50))
    assert state.run_key("sample", base) != state.run_key("sample", base.with_(hidden=11))
    assert state.run_key("sample", base) != state.run_key("mnist", base)


def test_advance_trains_and_records_the_rate_marks(parts):
    """advance() makes at least one update and measures the step time for the next deadline."""
    lab = make_lab(parts)
    done = lab.run.advance(0.05)
    assert done > 0 and lab.trainer.iteration == done and lab.run.step_time > 0 and len(lab.run.rate_marks) == 1


def test_advance_stops_at_the_stop_iteration(parts):
    """With stop-at 7, advance() never goes past iteration 7 and the run says it is there."""
    lab = make_lab(parts, stop_at=7)
    lab.run.advance(5.0)
    assert lab.trainer.iteration == 7 and lab.run.at_stop() and not lab.run.can_run()


def test_raising_the_stop_lets_the_run_go_on(parts):
    """The stop is a live setting: raised, the same Trainer trains on to the new stop."""
    lab = make_lab(parts, stop_at=3)
    lab.run.step(10)
    assert lab.trainer.iteration == 3
    lab.set_stop(lab.config.with_(iterations=5))
    assert lab.run.can_run() and lab.run.step(10) == 2 and lab.trainer.iteration == 5


def test_advance_skips_while_another_run_holds_the_lock(parts):
    """A tick that finds a step in flight (lock held) does not train at all."""
    lab = make_lab(parts)
    with lab.run.lock:
        assert lab.run.advance(0.1) == 0
    assert lab.trainer.iteration == 0


def test_time_limit_stops_a_run(parts):
    """A training-time limit (a sweep's seconds budget) counts as a stop once engine.seconds reaches it."""
    lab = make_lab(parts)
    lab.run.time_limit = 0.0
    assert lab.run.finished() and lab.run.at_stop()


def test_step_pauses_and_start_refuses_a_finished_run(parts):
    """Step pauses a running run; Start does nothing at the stop."""
    lab = make_lab(parts, stop_at=2)
    lab.run.running = True
    assert lab.run.step(5) == 2 and not lab.running
    lab.run.start()
    assert not lab.running


def test_rate_is_iterations_per_wall_second(parts):
    """The iterations/second figure is the slope of (time, iteration) marks while running."""
    lab = make_lab(parts)
    lab.run.rate_marks.extend([(10.0, 0), (11.0, 50), (12.0, 100)])
    assert lab.run.rate() is None  # paused: no speed shown
    lab.run.running = True
    assert lab.run.rate() == 50.0


def test_at_one_moment_reads_while_no_tick_trains(parts):
    """A reader (a download made at click time) runs while the run's lock is held, and gets its result."""
    lab = make_lab(parts)
    assert lab.run.at_one_moment(lambda: (lab.run.lock.locked(), lab.trainer.iteration)) == (True, 0)
    assert not lab.run.lock.locked()


def test_view_files_hold_no_loop_lock_or_clock():
    """Views only lay out and draw: the live loop, its lock and its clock live in dashboard/live.py."""
    from pathlib import Path

    views = Path(__file__).resolve().parents[2] / "dashboard" / "views"
    for path in views.glob("*.py"):
        text = path.read_text()
        for word in ("threading", ".lock", "perf_counter()", "deadline"):
            assert word not in text, f"{path.name} contains {word!r}"


@pytest.mark.parametrize("drawn, expected", [
    (0.02, live.RUN_TIME - 0.02),  # a quick draw: the tick trains for the rest of its run time
    (0.15, 0.15),  # a slow draw (a busy machine): training keeps half the tick...
    (0.60, live.RUN_TIME),  # ...but never more than one run time, however slow drawing is
])
def test_a_tick_trains_for_the_rest_of_its_run_time_and_never_much_longer(drawn, expected):
    """A click waits for the tick in flight: the budget stays within one run time of training."""
    assert live.budget(live.RUN_TIME, drawn) == pytest.approx(expected)
    assert live.budget(0.05, 0.01) == live.MIN_BUDGET  # a short run time still trains MIN_BUDGET
