"""The trainer: stepping, history, learning-rate changes, failure detection, snapshots."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from core import NOTEBOOK_QUIRKS, Params, Quirks, TrainConfig, Trainer, effective_lr
from core.config import EVAL_EXAMPLES, eval_every_for
from core.model import pack as _pack
from core.train import MAX_SNAPSHOTS, _finite_rows, diagnose, healthy, loss_limit


def blobs(m=300, seed=0):
    """Ten separable synthetic 'digits': each class lights up its own block of pixels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, m)
    X = rng.random((m, 784)).astype(np.float32) * 0.2
    for k in range(10):
        X[y == k, k * 78:(k + 1) * 78] += 0.8
    return np.ascontiguousarray(X).T, y  # (784, m), examples contiguous as data.split gives


def make(m=300, dev=100, **settings):
    X, y = blobs(m + dev)
    return Trainer(TrainConfig(**settings), X[:, dev:], y[dev:], X[:, :dev], y[:dev])


def test_overfits_32_examples():
    """Adam drives the training loss on 32 examples close to 0."""
    t = make(m=32, dev=10, hidden=32, optimizer="adam", lr=0.01, iterations=400, eval_every=50)
    t.step(400)
    assert t.failure is None
    assert t.final_metrics()["train_loss"] < 0.01


def test_same_seed_same_run():
    """Two runs with one seed give identical parameters and history; another seed differs."""
    runs = [make(seed=s, batch_size=64, optimizer="momentum", lr=0.05) for s in (7, 7, 8)]
    for t in runs:
        t.step(30)
    np.testing.assert_array_equal(runs[0].params.W1, runs[1].params.W1)
    strip = [[{k: v for k, v in r.items() if k != "seconds"} for r in t.history.rows] for t in runs]
    np.testing.assert_equal(strip[0], strip[1])  # assert_equal: NaN (not measured yet) equals NaN
    assert not np.array_equal(runs[0].params.W1, runs[2].params.W1)


def test_step_counts_iterations_and_records_every_k():
    """step(n) makes n updates and records a history row every eval_every iterations."""
    t = make(eval_every=5, lr=0.5)
    assert t.step(12) == 12 and t.iteration == 12
    assert [r["iteration"] for r in t.history.rows] == [0, 5, 10]
    assert set(t.history.last) >= {"iteration", "epoch", "lr", "train_loss", "train_acc", "dev_loss",
                                   "dev_acc", "seconds", "dead_fraction"}


def test_learns_blobs_full_batch():
    """Plain full-batch gradient descent learns the separable blobs on train and dev."""
    t = make(lr=0.5, iterations=200)
    t.step(200)
    assert t.history.last["train_acc"] > 0.95 and t.history.last["dev_acc"] > 0.95


def test_minibatch_epochs_and_reshuffle():
    """Mini-batches of 100 over 300 rows: 3 iterations per epoch, each row once per epoch."""
    t = make(batch_size=100, lr=0.1)
    seen = []
    for _ in range(3):
        seen.append(t._order.next(t.X_train, t.y_train)[1])
    assert t.epoch == 0  # drawing batches alone does not update
    t.step(6)
    assert t.epoch == pytest.approx(2.0)
    assert sorted(np.concatenate(seen).tolist()) == sorted(t.y_train.tolist())


def test_lr_change_applies_next_step_and_is_recorded():
    """set_lr changes the next update's step size and is kept in lr_changes."""
    t = make(lr=0.1)
    t.step(3)
    t.set_lr(0.5)
    t.step(2)
    assert t.lr_changes == [(0, 0.1), (3, 0.5)]
    assert t.current_lr() == 0.5
    with pytest.raises(ValueError):
        t.set_lr(float("nan"))
    with pytest.raises(ValueError):
        t.set_lr(-1)


def test_lr_decay():
    """Inverse-time decay: lr / (1 + decay * t)."""
    t = make(lr=1.0, lr_decay=0.5)
    t.step(2)
    assert t.current_lr() == pytest.approx(0.5)


def test_nan_is_caught_with_a_reason():
    """A huge α with the unshifted softmax stops training with a NaN explanation, not NaN weights."""
    t = make(lr=1e6, quirks=Quirks(unshifted_softmax=True))
    t.step(50)
    assert t.failure.kind == "diverged" and t.failure.detail == "softmax" and t.failure.lr == 1e6
    assert all(np.isfinite(a).all() for a in t.params.to_arrays().values())
    assert t.step(5) == 0  # a failed run does not go on
    assert t.iteration < 50


def test_finiteness_check_tells_huge_weights_from_nan():
    """Finite weights whose float32 sum overflows are finite (the float64 recheck); one NaN or inf
    anywhere in a run marks that run only."""
    huge = np.float32(3e38)
    flat = _pack(Params(np.full((2, 10, 784), huge), np.zeros((2, 10, 1), np.float32),
                        np.full((2, 10, 10), huge), np.zeros((2, 10, 1), np.float32)))  # (N, P) as the Trainer keeps them
    with np.errstate(over="ignore"):  # as in Trainer._update
        assert np.isinf(flat[0].sum())  # in float32 the sum overflows
        assert _finite_rows(flat).tolist() == [True, True]
        flat[1, 7850 + 34] = np.nan  # W2[3, 4] of run 1
        assert _finite_rows(flat).tolist() == [True, False]
        flat[0, 7840] = np.inf  # b1[0] of run 0
        assert _finite_rows(flat).tolist() == [False, False]


def test_the_every_step_check_fails_exactly_the_runs_diagnose_explains():
    """healthy() (every step, whole stack) is False for a run iff diagnose() names a failure."""
    start = np.array([2.3, 2.3, 2.3, 2.3, 2.3, 2.3, 30.0])
    losses = np.array([2.0, np.nan, np.inf, 9.3, 2.0, 2.0, 100.0])  # 9.3 > 4·ln 10; 100 < 4·30
    active = np.ones((7, 3), bool)
    active[4] = False  # every unit of run 4 is dead
    new = np.zeros((7, 5), np.float32)
    new[5, 2] = np.inf  # run 5's update overflowed
    ok = healthy(losses, loss_limit(start), new, active)
    kinds = [diagnose(float(losses[i]), bool(np.isfinite(new[i]).all()), active[i], 0.1, 3, float(start[i]),
                      Quirks()) for i in range(7)]
    assert ok.tolist() == [k is None for k in kinds]
    assert [k.kind if k else None for k in kinds] == [None, "diverged", "diverged", "exploded", "dead", "diverged", None]


def test_weights_that_overflow_while_the_loss_is_finite_stop_the_run_at_that_step():
    """α = 3e38 on summed gradients (global_m = 1) makes the first step's weights inf: it stops there, unchanged."""
    X, y = blobs(1000)
    config = TrainConfig(batch_size=128, lr=3e38, quirks=Quirks(global_m=1), eval_every=10**6, iterations=None)
    t = Trainer(config, X, y)
    start = t.params
    assert t.step(10) == 0
    assert (t.failure.kind, t.failure.iteration, t.failure.detail) == ("diverged", 0, "weights")
    assert math.isfinite(t.last_loss)  # the loss alone would not have told
    assert all(np.array_equal(a, b) for a, b in zip(t.params.to_arrays().values(), start.to_arrays().values()))


def test_huge_finite_weights_whose_float32_sum_overflows_train_on():
    """The every-step check's float32 sum can overflow on finite weights: the float64 recheck lets the run go on."""
    X, y = blobs(1000)
    X = X.copy()
    X[0] = 0  # pixel 0 is blank in every image: its weights change nothing and get no gradient
    base = Trainer(TrainConfig(), X, y).params
    W1 = base.W1.copy()
    W1[:, 0] = 3e38  # ten of them sum to inf in float32
    t = Trainer(TrainConfig(batch_size=128, eval_every=10**6, iterations=None), X, y,
                params=Params(W1, base.b1, base.W2, base.b2))
    assert t.step(20) == 20 and t.failure is None
    assert (t.params.W1[:, 0] == np.float32(3e38)).all()


def test_labels_outside_0_to_9_are_refused_once_with_the_data():
    """The Trainer checks the labels when it gets the data (its batches skip the check)."""
    X, y = blobs(50)
    for bad in (10, -1):
        y_bad = y.copy()
        y_bad[7] = bad
        with pytest.raises(ValueError, match="labels must be in 0..9"):
            Trainer(TrainConfig(), X, y_bad)


def test_exploding_loss_is_caught():
    """A loss that grows far above its start stops training with 'exploded'."""
    t = make(lr=200.0, optimizer="plain")
    t.step(50)
    assert t.failure.kind in ("exploded", "dead", "diverged")
    if t.failure.kind == "exploded":
        assert t.failure.loss > 4 * max(t.failure.start_loss, math.log(10))


def batch_rows(iteration: int, m: int, batch: int, seed: int) -> np.ndarray:
    """The training rows of a mini-batch run's batch at `iteration` (the Trainer's own batch order)."""
    from core.train import BatchOrder

    order, rows = BatchOrder(m, batch, seed), np.arange(m)
    for _ in range(iteration):
        order.next(rows[None], rows)
    return order.next(rows[None], rows)[1]


@pytest.mark.parametrize("optimizer", ["plain", "adam"])
def test_batch_128_stops_at_the_step_a_nan_appears(optimizer):
    """One NaN pixel: a batch-128 run stops at the very iteration whose batch holds it, its weights the last good ones."""
    X, y = blobs(1000)
    row = batch_rows(5, 1000, 128, seed=0)[17]  # an epoch draws each row once: first seen at iteration 5
    X = X.copy()
    X[300, row] = np.nan
    t = Trainer(TrainConfig(batch_size=128, optimizer=optimizer, lr=0.01, eval_every=10**6, iterations=None), X, y)
    t.step(100)
    assert (t.failure.kind, t.failure.iteration, t.iteration) == ("diverged", 5, 5)
    assert all(np.isfinite(a).all() for a in t.params.to_arrays().values())


def test_batch_128_catches_an_exploding_loss_at_its_step():
    """A batch-128 run whose loss grows past the limit stops with "exploded" at the first batch over it."""
    X, y = blobs(1000)
    t = Trainer(TrainConfig(batch_size=128, activation="identity", lr=3.0, eval_every=10**6, iterations=None), X, y)
    losses = []
    while t.step(1):
        losses.append(t.last_loss)
    f = t.failure
    limit = 4 * max(f.start_loss, math.log(10))
    assert f.kind == "exploded" and f.loss > limit and f.iteration == t.iteration == len(losses)
    assert max(losses) <= limit  # no earlier batch was over it


def test_all_dead_neurons_are_caught():
    """A network whose every ReLU is off stops at once, naming the count, iteration and α."""
    X, y = blobs(200)
    config = TrainConfig(hidden=10, lr=1.0)
    base = Trainer(config, X, y).params
    dead = Params(base.W1, np.full((10, 1), -100, np.float32), base.W2, base.b2)
    t = Trainer(config, X, y, params=dead)
    assert t.step(5) == 0  # the refused update is not counted
    f = t.failure
    assert (f.kind, f.iteration, f.lr, f.suggested_lr, f.dead, f.hidden) == ("dead", 0, 1.0, 0.5, 10, 10)
    assert t.history.last["dead_fraction"] == 1.0


def test_dead_fraction_reported():
    """The share of hidden units never active on the training rows is recorded."""
    X, y = blobs(200)
    config = TrainConfig(hidden=4, lr=0.1)
    base = Trainer(config, X, y).params
    b1 = np.array([[-100], [-100], [0], [0]], np.float32)
    t = Trainer(config, X, y, params=Params(base.W1, b1, base.W2, base.b2))
    assert t.history.last["dead_fraction"] == pytest.approx(0.5)
    assert t.dead_units().tolist() == [True, True, False, False]


def test_snapshots_are_log_spaced_and_bounded():
    """W1 snapshots thin out over time and never exceed MAX_SNAPSHOTS."""
    t = make(lr=0.01, eval_every=1000, batch_size=50)
    t.step(3000)
    its = [i for i, _ in t.snapshots]
    assert its[:4] == [0, 1, 2, 3] and its[-1] <= 3000
    assert len(its) <= MAX_SNAPSHOTS and its == sorted(its)
    assert its[-1] - its[-2] > 1  # spacing grows


def test_dev_predictions_and_confusion():
    """Dev predictions, misclassified indices and the confusion matrix agree with each other."""
    t = make(lr=0.5)
    t.step(20)
    preds, probs = t.dev_predictions()
    np.testing.assert_allclose(probs.sum(axis=0), 1, rtol=1e-5)
    C = t.confusion()
    assert C.sum() == t.y_dev.size and np.trace(C) == t.y_dev.size - t.misclassified().size


def test_effective_lr_formula():
    """Notebook α = 1 on 3,000 rows acts like 2·3000/42000 ≈ 0.143."""
    assert effective_lr(1.0, 3000, NOTEBOOK_QUIRKS) == pytest.approx(2 * 3000 / 42000)
    assert effective_lr(0.3, 3000, Quirks()) == 0.3


def test_notebook_mode_is_float64_with_notebook_quirks():
    """Notebook mode trains in float64 with the four training quirks and the settable m."""
    t = make(mode="notebook", notebook_m=1000, lr=1.0)
    assert t.params.dtype == np.float64 and t.quirks.global_m == 1000 and t.quirks.double_dZ2
    assert 0 <= t.params.b1.min() and t.params.W1.max() < 0.01


def test_quirk_unscaled_dev_breaks_dev_accuracy_only():
    """Leaving dev pixels at 0..255 changes dev metrics, not training."""
    a, b = make(lr=0.5), make(lr=0.5, quirks=Quirks(unscaled_dev=True))
    a.step(30), b.step(30)
    np.testing.assert_array_equal(a.params.W1, b.params.W1)
    assert a.history.last["train_acc"] == b.history.last["train_acc"]
    assert b.X_dev.max() > 200 and a.X_dev.max() <= 1  # the trainer saw raw 0..255 pixels
    assert b.history.last["dev_loss"] != pytest.approx(a.history.last["dev_loss"], rel=0.01)


def test_quirk_train_accuracy_only_hides_dev():
    """With the train-only quirk the history has no dev numbers."""
    t = make(quirks=Quirks(train_accuracy_only=True))
    assert math.isnan(t.history.last["dev_acc"]) and not math.isnan(t.history.last["train_acc"])


def test_loaded_params_must_match_hidden_size():
    """Continuing from weights with another hidden size is refused with both sizes named."""
    X, y = blobs(50)
    other = Trainer(TrainConfig(hidden=5), X, y).params
    with pytest.raises(ValueError, match="5 hidden units.*10"):
        Trainer(TrainConfig(hidden=10), X, y, params=other)


@pytest.mark.parametrize("bad", [dict(hidden=0), dict(hidden=513), dict(lr=0), dict(lr=float("nan")),
                                 dict(optimizer="sgdx"), dict(mode="x"), dict(batch_size=0), dict(momentum=1.0)])
def test_config_rejects_bad_values(bad):
    """Out-of-range settings raise ValueError naming the setting."""
    with pytest.raises(ValueError):
        TrainConfig(**bad)


def test_config_round_trips_through_dict():
    """to_dict/from_dict keep every setting, quirks included."""
    c = TrainConfig(hidden=20, quirks=Quirks(double_dZ2=True), batch_size=64)
    assert TrainConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ValueError, match="unknown setting"):
        TrainConfig.from_dict({"hiden": 3})


@pytest.mark.parametrize("batch, every", [(None, 10), (1_000, 10), (500, 20), (256, 50), (128, 100), (100, 100),
                                          (64, 200), (32, 500), (3, 5_000), (1, 10_000)])
def test_mini_batch_runs_evaluate_about_once_per_ten_thousand_examples(batch, every):
    """Full batch evaluates every 10 updates (the notebook's); a mini-batch run about once per EVAL_EXAMPLES
    examples, at a round number of updates (1, 2 or 5 x 10^k), never more often than every 10."""
    assert eval_every_for(batch) == every
    if batch is not None:
        assert every * batch >= EVAL_EXAMPLES or every == 10
        assert every * batch < 2.5 * max(EVAL_EXAMPLES, 10 * batch)  # the next round number, not a larger one


def test_settle_evaluates_the_weights_a_run_stopped_at_once():
    """Between two evaluations, settle() records one of the current weights (as `record` would); at an
    evaluated iteration, or called again, it records nothing."""
    t = make(eval_every=10)
    t.step(10)
    t.settle()
    assert [row["iteration"] for row in t.history.rows] == [0, 10]
    t.step(3)
    t.settle()
    t.settle()
    again = make(eval_every=10)
    again.step(13)
    again.record()
    timeless = [[{k: v for k, v in row.items() if k != "seconds"} for row in run.history.rows] for run in (t, again)]
    np.testing.assert_equal(*timeless)  # NaN (no gradient yet at iteration 0) equals NaN here
    assert [row["iteration"] for row in t.history.rows] == [0, 10, 13]


def test_core_imports_no_ui_or_io_library():
    """core stays pure NumPy: importing every module of core loads no third-party library but NumPy."""
    code = ("import importlib, json, pkgutil, sys; before = set(sys.modules); import core\n"
            "names = [m.name for m in pkgutil.walk_packages(core.__path__, 'core.')]\n"
            "for name in names: importlib.import_module(name)\n"
            "new = {m.split('.')[0] for m in set(sys.modules) - before} - set(sys.stdlib_module_names)\n"
            "print(json.dumps([names, sorted(new - {'core', 'numpy'})]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    names, loaded = json.loads(out)
    assert {"core.compare", "core.inspect", "core.sweep", "core.train"} <= set(names)
    assert loaded == []


# ----- failures drawn, and rewinding to before them (issue 20) ---------------------------------------
def blow_up(optimizer="plain", healthy=30, lr=0.1, huge=500.0, **settings):
    """A run trained `healthy` steps at `lr`, then at `huge` until it fails."""
    t = make(lr=lr, optimizer=optimizer, eval_every=7, **settings)
    t.step(healthy)
    t.set_lr(huge)
    t.step(200)
    assert t.failure is not None
    return t


def test_a_failing_run_history_ends_with_its_failing_step():
    """The history's last row is the failure's iteration, measured on the weights that failed (a spike or NaN)."""
    t = blow_up()
    last, before = t.history.rows[-1], t.history.rows[-2]
    assert last["iteration"] == t.failure.iteration == t.state().iteration
    assert math.isnan(last["train_loss"]) or last["train_loss"] > 2 * before["train_loss"]
    assert t.final_metrics()["train_accuracy"] == pytest.approx(last["train_acc"], abs=0.02)


def test_a_failure_row_round_trips_through_a_run_file():
    """A failed run with its failing row is a valid run file (the row is at the run's iteration)."""
    from core.run import RunState

    state = blow_up().state()
    arrays, meta = state.to_arrays()
    back = RunState.from_arrays(arrays, json.loads(json.dumps(meta)))
    assert back.history[-1]["iteration"] == back.failure.iteration


@pytest.mark.parametrize("optimizer", ["plain", "momentum", "adam"])
def test_rewind_point_is_the_state_before_the_alpha_change_bit_for_bit(optimizer):
    """After a blow-up at a raised α, the rewind point equals a run that trained only the healthy steps."""
    t = blow_up(optimizer, batch_size=50)
    healthy = make(lr=0.1, optimizer=optimizer, eval_every=7, batch_size=50)
    healthy.step(30)
    point, expected = t.rewind_point, healthy.state()
    assert point.iteration == 30 and point.lr == 0.1 and point.failure is None
    for got, want in ((point.params, expected.params), (point.opt_state.velocity, expected.opt_state.velocity),
                      (point.opt_state.second, expected.opt_state.second)):
        if want is not None:
            assert all(np.array_equal(a, b) for a, b in zip(got.to_arrays().values(), want.to_arrays().values()))
    assert point.order == expected.order and point.lr_changes == expected.lr_changes
    assert [r["train_loss"] for r in point.history] == [r["train_loss"] for r in expected.history]


def test_a_failed_run_restored_with_its_rewind_point_can_still_go_back():
    """from_state(rewind_point=...) gives the restored failed run the rewind point it was saved with; a point
    that is not an earlier moment of that failed run is refused in one sentence."""
    t = blow_up(batch_size=50)
    X, y = blobs(400)
    data = (X[:, 100:], y[100:], X[:, :100], y[:100])
    assert Trainer.from_state(t.state(), *data).rewind_point is None  # without it: nothing to go back to
    restored = Trainer.from_state(t.state(), *data, rewind_point=t.rewind_point)
    assert restored.rewind_point is t.rewind_point and restored.failure == t.failure
    healthy = make(lr=0.1, batch_size=50)
    healthy.step(10)
    for bad, base in ((t.rewind_point, healthy.state()), (make(hidden=12).state(), t.state())):
        with pytest.raises(ValueError, match="not an earlier moment of this failed run"):
            Trainer.from_state(base, *data, rewind_point=bad)


def test_training_on_from_the_rewind_point_equals_a_fresh_run_restored_there():
    """Rewind, set a smaller α, train: bit for bit what a run restored from that state does with that α."""
    t = blow_up("momentum", batch_size=50)
    X, y = blobs(400)
    rewound = Trainer.from_state(t.rewind_point, X[:, 100:], y[100:], X[:, :100], y[:100])
    rewound.set_lr(0.05)
    rewound.step(40)
    healthy = make(lr=0.1, optimizer="momentum", eval_every=7, batch_size=50)
    healthy.step(30)
    healthy.set_lr(0.05)
    healthy.step(40)
    assert rewound.failure is None and rewound.iteration == healthy.iteration == 70
    assert np.array_equal(_pack(rewound.params), _pack(healthy.params))
    assert rewound.lr_changes == healthy.lr_changes == [(0, 0.1), (30, 0.05)]


def test_a_run_failing_at_its_starting_alpha_rewinds_to_its_newest_checkpoint(monkeypatch):
    """No α change: the rewind point is the newest state kept before the failure."""
    monkeypatch.setattr("core.train.CHECKPOINT_EVERY", 2)
    X, y = blobs(1000)
    t = Trainer(TrainConfig(batch_size=128, activation="identity", lr=2.0, eval_every=10**6, iterations=None), X, y)
    t.step(100)
    assert t.failure.iteration == 5 and [c.iteration for c in t.checkpoints] == [0, 2, 4]
    assert t.rewind_point.iteration == 4


def test_checkpoints_are_bounded_and_keep_the_start():
    """Many α changes keep at most MAX_CHECKPOINTS states, the first (iteration 0) among them; a stack keeps none."""
    from core.train import MAX_CHECKPOINTS

    t = make(lr=0.1)
    for k in range(40):
        t.step(1)
        t.set_lr(0.1 + 0.001 * (k % 2 + 1))
    kept = t.checkpoints
    assert len(kept) == MAX_CHECKPOINTS and kept[0].iteration == 0 and kept[-1].iteration == 40
    X, y = blobs(300)
    assert Trainer(TrainConfig(), X, y, lrs=[0.1, 0.2]).checkpoints == []


def test_suggested_alpha_fits_the_optimizer():
    """After a failure, Adam is told a rate near its usual 0.001, not half of a plain-GD rate."""
    from core.run import suggested_lr

    assert suggested_lr(0.17, "plain") == 0.08
    assert suggested_lr(0.17, "adam") == 0.01 and suggested_lr(0.004, "adam") == 0.002
    t = make(lr=0.17, optimizer="adam", eval_every=7)
    t.set_lr(50.0)
    t.step(100)
    assert t.failure.suggested_lr <= 0.01


# ----- History.column: a growing history costs only its new rows ------------------------------------
def rows_of(n, start=0):
    return [dict(iteration=i * 10, train_loss=1.0 / (i + 1)) for i in range(start, start + n)]


def test_a_column_of_a_grown_history_matches_one_built_from_scratch():
    """Snapshots of one run share their rows: the column of the longer one equals a fresh conversion."""
    from core.train import History

    rows = rows_of(50)
    first = History.of(tuple(rows)).column("train_loss")
    rows += rows_of(7, start=50)
    grown = History.of(tuple(rows)).column("train_loss")
    np.testing.assert_array_equal(grown, [r["train_loss"] for r in rows])
    np.testing.assert_array_equal(grown[:50], first)
    assert grown.dtype == float and History.of(tuple(rows)).column("iteration")[-1] == 560.0
    assert History.of(tuple(rows)).column("train_loss") is History.of(tuple(rows)).column("train_loss")  # kept


def test_a_replaced_last_row_or_a_rewound_history_is_read_again():
    """A failure replaces the last row with a new dict, a rewind goes on from an earlier row: neither keeps
    the values of rows no longer there."""
    from core.train import History

    rows = rows_of(20)
    History.of(tuple(rows)).column("train_loss")
    rows[-1] = dict(iteration=190, train_loss=float("nan"))
    assert np.isnan(History.of(tuple(rows)).column("train_loss")[-1])
    rewound = rows[:5] + rows_of(30, start=100)
    np.testing.assert_array_equal(History.of(tuple(rewound)).column("train_loss"), [r["train_loss"] for r in rewound])


def test_a_column_is_read_only_and_a_trainers_own_history_still_grows():
    """The shared array refuses writes (a caller must copy it); History.of does not copy the rows."""
    from core.train import History

    rows = tuple(rows_of(3))
    column = History.of(rows).column("train_loss")
    with pytest.raises(ValueError, match="read-only"):
        column[0] = 5.0
    assert History.of(rows).rows is rows
    history = History(rows)
    history.append(dict(iteration=30, train_loss=0.1))
    assert len(history) == 4 and len(History.of(rows)) == 3
    assert History().column("train_loss").size == 0


def test_the_saved_history_table_of_a_grown_run_matches_its_rows():
    """RunState.to_arrays builds the history table from the remembered columns: after more training (and a
    replaced last row) it still equals the rows read one by one."""
    from core.run import HISTORY_FIELDS

    t = make(batch_size=50, eval_every=5)
    t.step(30)
    t.state().to_arrays()
    t.history.rows[-1] = {**t.history.rows[-1], "train_loss": 9.0}  # a row already in the saved table
    t.step(20)
    arrays, _ = t.state().to_arrays()
    expected = np.array([[row[f] for f in HISTORY_FIELDS] for row in t.history.rows])
    np.testing.assert_array_equal(arrays["history"], expected)
    assert arrays["history"][6, HISTORY_FIELDS.index("train_loss")] == 9.0


def test_collapse_is_judged_on_the_last_window_and_reads_only_it():
    """`collapsed` runs on every evaluation: it decides on the last COLLAPSE_WINDOW iterations (an older
    good row does not count, a recent one does) and reads no row older than that, however long the run."""
    from core.train import CHANCE_ACCURACY, COLLAPSE_WINDOW, collapsed

    reads = []

    class Row(dict):
        def __getitem__(self, key):
            reads.append(key)
            return super().__getitem__(key)

    good = [Row(iteration=i * 10, train_acc=0.9, dead_fraction=0.0, train_loss=0.3) for i in range(10_000)]
    start = good[-1]["iteration"] + 10
    dead = [Row(iteration=start + i * 10, train_acc=CHANCE_ACCURACY / 2, dead_fraction=0.9, train_loss=2.3)
            for i in range(COLLAPSE_WINDOW // 10 + 2)]
    reads.clear()
    failure = collapsed(good + dead, hidden=10, lr=5.0)
    assert failure is not None and failure.kind == "collapsed" and failure.dead == 9
    assert len(reads) < 10 * len(dead)  # the window's rows, not the 10,000 before them
    dead[-3]["train_acc"] = 0.5  # a recent row above chance: not collapsed
    assert collapsed(good + dead, hidden=10, lr=5.0) is None
