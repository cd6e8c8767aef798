"""Learning-rate sweeps and the range test."""

import numpy as np
import pytest

from core import TrainConfig, Trainer
from core.sweep import Sweep, log_spaced, lr_range_test, suggest_lr
from tests.core.test_train import blobs


def data(m=300, dev=100):
    """Synthetic train and dev sets."""
    X, y = blobs(m + dev)
    return X[:, dev:], y[dev:], X[:, :dev], y[:dev]


@pytest.mark.parametrize("settings", [dict(), dict(optimizer="adam", batch_size=64), dict(optimizer="momentum")])
def test_stacked_runs_equal_separate_runs(settings):
    """Each run of a sweep matches a Trainer with that α: same init, same data order, same math."""
    config = TrainConfig(eval_every=5, **settings)
    sweep = Sweep(config, [0.01, 0.3], *data())
    sweep.step(20)
    for i, lr in enumerate(sweep.lrs):
        alone = Trainer(config.with_(lr=lr), *data())
        alone.step(20)
        np.testing.assert_allclose(sweep.state(i).params.W1, alone.params.W1, rtol=1e-4, atol=1e-6)
        assert sweep.histories[i].last["train_acc"] == pytest.approx(alone.history.last["train_acc"], abs=0.01)


def test_sweep_is_deterministic():
    """The same seed gives the same curves."""
    runs = []
    for _ in range(2):
        sweep = Sweep(TrainConfig(batch_size=50, eval_every=5, seed=3), [0.05, 0.5], *data())
        sweep.step(15)
        runs.append([h.column("train_loss") for h in sweep.histories])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_diverging_run_stops_early_others_go_on():
    """A run with a huge α is marked with a reason and frozen; the sane run keeps training."""
    sweep = Sweep(TrainConfig(eval_every=5), [0.5, 5000.0], *data())
    sweep.step(30)
    assert sweep.failures[0] is None and sweep.failures[1].kind in ("exploded", "diverged", "dead")
    assert sweep.failures[1].lr == 5000.0 and sweep.failures[1].suggested_lr == 2000
    assert sweep.histories[0].last["iteration"] == 30
    assert sweep.histories[1].last["iteration"] < 30
    assert np.isfinite(sweep.state(1).params.W1).all()
    assert sweep.best("dev_acc") == 0 and sweep.best("dev_loss") == 0


def test_a_stopped_run_is_measured_once_not_on_every_later_step(monkeypatch):
    """Once a run of a stack has stopped, the others' steps do not re-measure train and dev (only evaluations do)."""
    t = Trainer(TrainConfig(eval_every=10**6, iterations=None), *data()[:2], lrs=[0.5, 5000.0])
    t.step(30)
    assert t.failures[0] is None and t.failures[1] is not None
    measured, measure = [], t._measure
    monkeypatch.setattr(t, "_measure", lambda: measured.append(1) or measure())
    assert t.step(20) == 20 and measured == []


def test_best_run_continues_as_a_trainer():
    """The best run becomes a Trainer with its weights, history and α, and trains on."""
    sweep = Sweep(TrainConfig(eval_every=5, optimizer="momentum"), [0.01, 0.2], *data())
    sweep.step(10)
    best = sweep.best()
    t = sweep.to_trainer(best)
    np.testing.assert_array_equal(t.params.W1, sweep.state(best).params.W1)
    assert t.iteration == 10 and t.lr == sweep.lrs[best] and len(t.history) == 3
    t.step(5)
    assert t.iteration == 15


def test_log_spaced_default():
    """Default sweep: 7 log-spaced rates from 0.01 to 3."""
    lrs = log_spaced()
    assert len(lrs) == 7 and lrs[0] == 0.01 and lrs[-1] == 3.0 and lrs == sorted(lrs)


def test_bad_rates_refused():
    """Zero, negative or NaN rates raise ValueError."""
    with pytest.raises(ValueError):
        Sweep(TrainConfig(), [0.1, -1], *data())


def test_suggestion_on_a_synthetic_curve():
    """On a loss that falls fastest at α = 0.01 and blows up past 1, the suggestion is ≈ 0.01."""
    lrs = np.geomspace(1e-4, 10, 100)
    x = np.log10(lrs)
    losses = 2.3 - 2.0 / (1 + np.exp(-3 * (x + 2))) + np.where(x > 0, 5 * x**2, 0)
    s = suggest_lr(lrs, losses, beta=0.0)
    assert s.lr == pytest.approx(0.01, rel=0.15)
    assert s.low < s.lr < s.high < 1


def test_suggestion_needs_a_descent():
    """A flat or rising curve gives no suggestion instead of a made-up one."""
    lrs = np.geomspace(1e-4, 1, 20)
    assert suggest_lr(lrs, np.linspace(1, 3, 20)) is None
    assert suggest_lr(lrs[:3], np.ones(3)) is None


def test_range_test_runs_until_blow_up():
    """The range test raises α each step and stops once the loss blows up; the suggestion is on the way down."""
    X, y, _, _ = data()
    y = np.random.default_rng(0).permutation(y)  # unlearnable labels: large steps must overshoot
    lrs, losses = lr_range_test(TrainConfig(), X, y, lr_min=1e-3, lr_max=1e4, steps=60)
    assert len(lrs) == len(losses) and 5 < len(lrs) < 60
    assert np.all(np.diff(lrs) > 0) and np.isfinite(losses).all()
    suggestion = suggest_lr(lrs, losses)
    at = list(lrs).index(suggestion.lr)
    assert suggestion.low <= suggestion.lr <= suggestion.high <= lrs[np.argmin(losses)]  # before the lowest loss
    assert losses[at] < losses[0]


def test_failed_run_records_the_iteration():
    """A run that stops records the iteration it stopped at, and its state ends there; live runs go on."""
    sweep = Sweep(TrainConfig(eval_every=5), [0.5, 5000.0], *data())
    sweep.step(30)
    stopped = sweep.failures[1].iteration
    assert 0 <= stopped < 30 and sweep.state(1).iteration == stopped and sweep.state(0).iteration == 30
    metrics = sweep.run_metrics()
    assert metrics[1]["iterations"] == stopped and metrics[0]["iterations"] == 30


def test_sweep_measures_dev_like_the_trainer():
    """The dev quirks (unscaled dev, train-only accuracy) apply in a sweep as in a single run."""
    from core import Quirks

    for quirks in (Quirks(unscaled_dev=True), Quirks(train_accuracy_only=True)):
        config = TrainConfig(quirks=quirks, eval_every=5)
        sweep, alone = Sweep(config, [0.3], *data()), Trainer(config.with_(lr=0.3), *data())
        sweep.step(10), alone.step(10)
        assert sweep.histories[0].last["dev_loss"] == pytest.approx(alone.history.last["dev_loss"], rel=1e-4,
                                                                     nan_ok=True)


def test_one_hot_quirk_stops_the_sweep_with_a_reason():
    """A batch without 9s under the one-hot quirk stops every run with the reason, no exception."""
    from core import Quirks

    X, y, Xd, yd = data()
    y = np.where(y == 9, 8, y)
    sweep = Sweep(TrainConfig(quirks=Quirks(one_hot_from_max=True)), [0.1, 0.2], X, y, Xd, yd)
    assert sweep.step(3) == 0
    assert all(f.kind == "bad_batch" and f.detail == "9" and f.iteration == 0 for f in sweep.failures)


def test_a_continued_sweep_run_rewinds_to_where_it_was_continued():
    """A sweep run continued on its own, then blown up by a raised α, rewinds to the moment it was continued."""
    X, y, Xd, yd = data()
    sweep = Sweep(TrainConfig(), [0.05, 0.1], X, y, Xd, yd)
    sweep.step(20)
    continued = Trainer.from_state(sweep.state(1), X, y, Xd, yd)
    continued.set_lr(500.0)
    continued.step(200)
    assert continued.failure is not None and continued.history.rows[-1]["iteration"] == continued.failure.iteration
    point = continued.rewind_point
    assert point.iteration == 20 and point.lr == 0.1
    assert np.array_equal(point.params.W1, sweep.state(1).params.W1)
