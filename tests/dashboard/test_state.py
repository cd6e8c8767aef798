"""The session's run object: what starts a new run, time-boxed training, the lock, dead units."""

import time

import numpy as np
import pytest

import data
from core import TrainConfig, Trainer
from dashboard import state


@pytest.fixture(scope="module")
def parts():
    """A small split of the bundled sample."""
    return data.split(data.load_sample(), dev_size=200, train_size=1000, seed=0)


def make_lab(parts, **changes) -> state.Lab:
    """A Lab around a fresh Trainer (no Streamlit session needed)."""
    config = TrainConfig(**{"iterations": state.NO_STOP, **changes})
    trainer = Trainer(config, parts.X_train, parts.y_train, parts.X_dev, parts.y_dev)
    return state.Lab(trainer, config, "sample", None, parts)


def test_run_key_ignores_live_settings():
    """α and stop-at apply to the running network; everything else (and the data) needs a new one."""
    base = TrainConfig()
    assert state.run_key("sample", base) == state.run_key("sample", base.with_(lr=3.0, iterations=50))
    assert state.run_key("sample", base) != state.run_key("sample", base.with_(hidden=11))
    assert state.run_key("sample", base) != state.run_key("mnist", base)


def test_advance_is_time_boxed(parts):
    """advance() trains for about its budget and records the rate marks."""
    lab = make_lab(parts)
    start = time.perf_counter()
    done = state.advance(lab, 0.15)
    assert done > 0 and time.perf_counter() - start < 0.6
    assert lab.trainer.iteration == done and lab.step_time > 0 and len(lab.rate_marks) == 1


def test_advance_stops_at_the_stop_iteration(parts):
    """With stop-at 7, advance() never goes past iteration 7 and the run says it is there."""
    lab = make_lab(parts, iterations=7)
    state.advance(lab, 5.0)
    assert lab.trainer.iteration == 7 and lab.at_stop() and not lab.can_run()


def test_advance_skips_while_another_run_holds_the_lock(parts):
    """A tick that finds a step in flight (lock held) does not train at all."""
    lab = make_lab(parts)
    with lab.lock:
        assert state.advance(lab, 0.1) == 0
    assert lab.trainer.iteration == 0


def test_rate_is_iterations_per_wall_second(parts):
    """The iterations/second figure is the slope of (time, iteration) marks."""
    lab = make_lab(parts)
    lab.rate_marks.extend([(10.0, 0), (11.0, 50), (12.0, 100)])
    assert lab.rate() == 50.0


def test_dead_units_skips_the_pass_while_running_with_none_dead(parts):
    """Running, with no dead unit at the last evaluation: no extra pass over the data, an all-False mask."""
    lab = make_lab(parts)
    lab.running = True
    assert lab.trainer.history.last["dead_fraction"] == 0
    dead = state.dead_units(lab)
    assert dead.shape == (10,) and not dead.any() and lab.dead_cache is None


def test_dead_units_finds_a_killed_neuron(parts):
    """A neuron whose weights and bias make it negative everywhere is reported dead."""
    lab = make_lab(parts)
    p = lab.trainer.params
    W1, b1 = p.W1.copy(), p.b1.copy()
    W1[3], b1[3] = -1.0, -1.0
    lab.trainer.params = type(p)(W1, b1, p.W2, p.b2)
    assert np.flatnonzero(state.dead_units(lab)).tolist() == [3]  # paused: checked on the current weights
