"""The session's run: what starts a new run, what a Lab reads of its worker, live stops; views hold no clocks."""

import pytest

import data
from core import TrainConfig, Trainer
from dashboard.runs import state
from dashboard.runs.worker import FINISHED, PAUSED, Step


@pytest.fixture(scope="module")
def parts():
    """A small split of the bundled sample."""
    return data.split(data.load_sample(), dev_size=200, train_size=1000, seed=0)


def make_lab(parts, stop_at=None, **changes) -> state.Lab:
    """A Lab around a fresh Trainer and its worker (no Streamlit session needed)."""
    config = TrainConfig(**{"iterations": stop_at, **changes})
    trainer = Trainer(config.with_(iterations=None), parts.X_train, parts.y_train, parts.X_dev, parts.y_dev)
    return state.Lab(state.train_worker(trainer, stop_at), config, "sample", None, parts)


def test_run_key_ignores_live_settings():
    """α and stop-at apply to the running network; everything else (and the data) needs a new one."""
    base = TrainConfig()
    assert state.run_key("sample", base) == state.run_key("sample", base.with_(lr=3.0, iterations=50))
    assert state.run_key("sample", base) != state.run_key("sample", base.with_(hidden=11))
    assert state.run_key("sample", base) != state.run_key("mnist", base)


def test_lab_reads_the_latest_snapshot(parts):
    """lab.now is the run as its worker last published it; lab.running follows the worker."""
    lab = make_lab(parts)
    assert lab.now.iteration == 0 and not lab.running
    assert lab.worker.send(Step(5), wait=10)
    assert lab.now.iteration == 5 and lab.now.history.last["iteration"] == 5 and not lab.running  # a Step's end evaluates


def test_raising_the_stop_lets_the_run_go_on(parts):
    """The stop is a live setting: raised, the same run trains on to the new stop."""
    lab = make_lab(parts, stop_at=3)
    lab.worker.send(Step(10), wait=10)
    assert lab.now.iteration == 3 and lab.snapshot.status == FINISHED
    lab.set_stop(lab.config.with_(iterations=5))
    assert lab.stop_at() == 5 and lab.snapshot.status == PAUSED
    lab.worker.send(Step(10), wait=10)
    assert lab.now.iteration == 5


def test_view_files_hold_no_loop_lock_or_clock():
    """Views only lay out and draw: training, its locks and its clocks live in dashboard/runs/worker.py."""
    from pathlib import Path

    views = Path(__file__).resolve().parents[3] / "dashboard" / "views"
    for path in views.glob("*.py"):
        text = path.read_text()
        for word in ("threading", ".lock", "perf_counter()", "deadline", ".step(", ".advance("):
            assert word not in text, f"{path.name} contains {word!r}"
