"""The server-side worker: commands apply at step boundaries, snapshots are consistent, runs share the drivers
fairly, and a run nobody watches pauses by itself."""

import time

import numpy as np
import pytest

import data
from core import TrainConfig, Trainer
from core.view import RunView
from dashboard.runs import worker as w
from tests.dashboard.conftest import wait_until


@pytest.fixture(autouse=True)
def close_workers(monkeypatch):
    """Every worker a test makes is closed after it, so no run keeps the drivers busy for the next test."""
    made = []
    init = w.Worker.__init__

    def tracked(self, *args, **kwargs):
        made.append(self)
        init(self, *args, **kwargs)

    monkeypatch.setattr(w.Worker, "__init__", tracked)
    yield
    for worker in made:
        worker.send(w.Close(), wait=5)


@pytest.fixture(scope="module")
def parts():
    """A small split of the bundled sample."""
    return data.split(data.load_sample(), dev_size=200, train_size=1000, seed=0)


def trainer(parts, **changes) -> Trainer:
    """A fresh Trainer with no stop of its own."""
    return Trainer(TrainConfig(**{"iterations": None, **changes}), parts.X_train, parts.y_train, parts.X_dev,
                   parts.y_dev)


def test_step_makes_exactly_n_updates_and_pauses(parts):
    """Step(n) on a paused run trains exactly n iterations, then the run is paused again."""
    worker = w.Worker(trainer(parts), RunView.of)
    assert worker.send(w.Step(7), wait=10)
    assert worker.snapshot.status == w.PAUSED and worker.snapshot.iteration == 7 == worker.engine.iteration


def test_start_trains_without_any_page_and_pause_stops_it(parts):
    """Started, the run advances by itself; after Pause is applied the engine makes no further step."""
    worker = w.Worker(trainer(parts), RunView.of)
    assert worker.send(w.Start(), wait=5) and worker.snapshot.active
    wait_until(lambda: worker.snapshot.iteration >= 30, message="the worker to train by itself")
    assert worker.send(w.Pause(), wait=5)
    stopped = worker.engine.iteration
    assert worker.snapshot.status == w.PAUSED and worker.snapshot.iteration == stopped
    time.sleep(0.3)
    assert worker.engine.iteration == stopped


def test_a_snapshot_is_one_moment_of_the_run(parts):
    """A published view holds the weights of exactly its iteration (a fresh run stepped as far matches it bit for bit)."""
    worker = w.Worker(trainer(parts, batch_size=50), RunView.of, stop_at=123)
    worker.send(w.Start(), wait=5)
    snapshot = wait_until(lambda: worker.snapshot if worker.snapshot.iteration > 40 else None)
    again = trainer(parts, batch_size=50)
    again.step(snapshot.view.iteration)
    np.testing.assert_array_equal(snapshot.view.params.W1, again.params.W1)
    assert snapshot.iteration == snapshot.view.iteration and snapshot.view.history.last["iteration"] <= snapshot.iteration
    assert not snapshot.view.params.W1.flags.writeable  # readers cannot change what the worker published


def test_a_run_that_stops_between_evaluations_shows_where_it_stopped(parts):
    """A Step of fewer updates than the run's evaluation cadence, and a stop off that cadence, end with an
    evaluation of the weights they stopped at (batch 128 evaluates every 100 updates)."""
    worker = w.Worker(trainer(parts, batch_size=128, eval_every=100), RunView.of, stop_at=130)
    assert worker.send(w.Step(7), wait=10)
    assert [row["iteration"] for row in worker.snapshot.view.history.rows] == [0, 7]
    worker.send(w.Start(), wait=5)
    wait_until(lambda: worker.snapshot.status == w.FINISHED, message="the stop")
    assert [row["iteration"] for row in worker.snapshot.view.history.rows] == [0, 7, 100, 130]


def test_a_pause_shows_where_the_run_paused(parts):
    """A Pause between two evaluations ends with one of the weights it paused at (here the cadence is so long
    that training alone records nothing after iteration 0); a second Pause adds nothing."""
    worker = w.Worker(trainer(parts, batch_size=128, eval_every=100_000), RunView.of)
    worker.send(w.Start(), wait=5)
    wait_until(lambda: worker.snapshot.iteration > 20, message="some training")
    assert worker.send(w.Pause(), wait=10)
    snapshot = worker.snapshot
    assert snapshot.status == w.PAUSED
    assert [row["iteration"] for row in snapshot.view.history.rows] == [0, snapshot.iteration]
    assert worker.send(w.Pause(), wait=10)
    assert [row["iteration"] for row in worker.snapshot.view.history.rows] == [0, snapshot.iteration]


def test_steps_sent_while_stepping_add_up(parts):
    """Three Step(40) sent at once (three quick clicks) make 120 updates, not 40."""
    worker = w.Worker(trainer(parts), RunView.of)
    for _ in range(3):
        worker.send(w.Step(40))
    wait_until(lambda: worker.snapshot.status == w.PAUSED and worker.snapshot.iteration > 0, message="the steps")
    wait_until(lambda: worker.snapshot.iteration == 120 and worker.snapshot.status == w.PAUSED, message="120 steps")


def test_step_while_running_pauses_then_steps(parts):
    """Step(n) sent to a running run pauses it and trains exactly n more."""
    worker = w.Worker(trainer(parts), RunView.of, start=True)
    wait_until(lambda: worker.snapshot.iteration > 5)
    assert worker.send(w.Step(3), wait=10)
    stopped = worker.snapshot.iteration
    time.sleep(0.2)
    assert worker.snapshot.status == w.PAUSED and worker.engine.iteration == stopped


def test_stop_at_finishes_and_a_later_stop_resumes(parts):
    """The run finishes at its stop (Start refused there); StopAt further makes it paused and startable again."""
    worker = w.Worker(trainer(parts), RunView.of, stop_at=12, start=True)
    wait_until(lambda: worker.snapshot.status == w.FINISHED, message="the stop")
    assert worker.snapshot.iteration == 12
    worker.send(w.Start(), wait=5)
    assert worker.snapshot.status == w.FINISHED and worker.engine.iteration == 12
    worker.send(w.StopAt(20), wait=5)
    assert worker.snapshot.status == w.PAUSED
    worker.send(w.Start(), wait=5)
    wait_until(lambda: worker.snapshot.status == w.FINISHED)
    assert worker.snapshot.iteration == 20


def test_set_lr_applies_at_the_next_step_and_is_recorded(parts):
    """SetLR changes α from the next step on and the published run records the change."""
    worker = w.Worker(trainer(parts), RunView.of)
    worker.send(w.Step(4), wait=5)
    assert worker.send(w.SetLR(0.37), wait=5)
    assert worker.snapshot.view.lr == 0.37 and worker.snapshot.view.lr_changes[-1] == (4, 0.37)


def test_a_run_whose_pages_left_pauses_after_the_grace(parts):
    """With its last page detached, a running run pauses by itself after the grace period and says why."""
    worker = w.Worker(trainer(parts), RunView.of, grace=0.3)
    worker.send(w.Start(), wait=5)
    worker.attach(1)
    worker.detach(1)
    wait_until(lambda: worker.snapshot.status == w.PAUSED, message="the grace period")
    assert "closed" in worker.snapshot.note


def test_a_reload_within_the_grace_keeps_it_running(parts):
    """A new page attaching before the grace ends keeps the run going."""
    worker = w.Worker(trainer(parts), RunView.of, grace=0.5, start=True)
    worker.attach(1)
    worker.detach(1)
    worker.attach(2)
    time.sleep(0.8)
    assert worker.snapshot.active and worker.snapshot.note is None


def test_a_run_nobody_asks_about_pauses_when_idle(parts):
    """A running run that no page asked about for idle_after seconds pauses and says why."""
    worker = w.Worker(trainer(parts), RunView.of, idle_after=0.3)
    assert worker.send(w.Start(), wait=5) and worker.snapshot.active
    wait_until(lambda: worker.snapshot.status == w.PAUSED, message="the idle timeout")
    assert "no page asked" in worker.snapshot.note


class Ticker:
    """A fake engine whose steps each take a fixed time (sleeping, as NumPy releases the GIL)."""

    def __init__(self, cost: float):
        self.cost, self.iteration, self.seconds, self.done = cost, 0, 0.0, False

    def step(self, n=None, deadline=None):
        made = 0
        while (n is None or made < n) and (deadline is None or time.perf_counter() < deadline):
            time.sleep(self.cost)
            self.iteration, self.seconds, made = self.iteration + 1, self.seconds + self.cost, made + 1
        return made


def test_runs_share_the_drivers_fairly():
    """Six runs going at once all advance, and the fastest makes at most twice the steps of the slowest."""
    workers = [w.Worker(Ticker(0.002), lambda engine: engine.iteration, start=True) for _ in range(6)]
    time.sleep(1.5)
    for worker in workers:
        worker.send(w.Pause(), wait=5)
    counts = [worker.engine.iteration for worker in workers]
    assert min(counts) > 0 and max(counts) <= 2 * min(counts), counts


def test_a_command_jumps_the_queue_of_runs():
    """With ten runs on the drivers, a Pause waits for the slices in progress, not for every other run's turn."""
    turns = []  # which run started each slice, in order

    class Logged(Ticker):
        def step(self, n=None, deadline=None):
            turns.append(self)
            return super().step(n, deadline)

    workers = [w.Worker(Logged(0.002), lambda engine: engine.iteration, start=True) for _ in range(10)]
    time.sleep(1.0)
    for target in workers[::3]:
        before = len(turns)
        assert target.send(w.Pause(), wait=5)
        others = [engine for engine in turns[before:] if engine is not target.engine]
        assert len(others) <= 1, f"{len(others)} other slices started before the Pause applied"


def test_a_broken_engine_is_closed_and_the_drivers_go_on(parts):
    """An engine that raises closes its own run with the error; other runs still train."""
    class Broken(Ticker):
        def step(self, n=None, deadline=None):
            raise RuntimeError("boom")

    broken = w.Worker(Broken(0.001), lambda engine: None, start=True)
    wait_until(lambda: broken.snapshot.status == w.CLOSED, message="the broken run to close")
    assert "boom" in broken.snapshot.note
    healthy = w.Worker(trainer(parts), RunView.of)
    assert healthy.send(w.Step(2), wait=10) and healthy.snapshot.iteration == 2


@pytest.mark.parametrize("value, seconds", [(None, 600.0), ("2", 120.0), ("0.5", 30.0), ("-1", 600.0), ("x", 600.0),
                                            ("nan", 600.0)])
def test_idle_time_comes_from_the_environment(value, seconds):
    """DIGIT_LAB_IDLE_MINUTES sets the idle pause; unset or nonsense means 10 minutes."""
    assert w.idle_seconds({} if value is None else {w.IDLE_ENV: value}) == seconds
