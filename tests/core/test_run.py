"""A run as data: exact resume, sweep hand-over, failures as values, checked restore, lockstep."""

import math

import numpy as np
import pytest

from core import Params, Quirks, TrainConfig, Trainer
from core.compare import Lockstep
from core.run import FAILURE_KINDS, Failure, RunState, read
from core.sweep import Sweep
from tests.core.test_train import blobs


def data(m=300, dev=100):
    X, y = blobs(m + dev)
    return X[:, dev:], y[dev:], X[:, :dev], y[:dev]


def assert_same_run(a: Trainer, b: Trainer) -> None:
    """Two trainers are in the same place: weights, optimizer, α log, history, snapshots, order."""
    sa, sb = a.state(), b.state()
    for name, x in sa.params.to_arrays().items():
        np.testing.assert_array_equal(x, sb.params.to_arrays()[name], err_msg=name)
    for slot in ("velocity", "second"):
        ma, mb = getattr(sa.opt_state, slot), getattr(sb.opt_state, slot)
        assert (ma is None) == (mb is None)
        if ma is not None:
            np.testing.assert_array_equal(ma.W1, mb.W1)
    assert (sa.iteration, sa.lr, sa.lr_changes, sa.order, sa.opt_state.step) == \
           (sb.iteration, sb.lr, sb.lr_changes, sb.order, sb.opt_state.step)
    assert (sa.start_loss, sa.last_loss, sa.next_snapshot, sa.failure) == \
           (sb.start_loss, sb.last_loss, sb.next_snapshot, sb.failure)
    strip = [[{k: v for k, v in r.items() if k != "seconds"} for r in s.history] for s in (sa, sb)]
    np.testing.assert_equal(strip[0], strip[1])
    assert [i for i, _ in sa.snapshots] == [i for i, _ in sb.snapshots]
    for (_, W1a), (_, W1b) in zip(sa.snapshots, sb.snapshots):
        np.testing.assert_array_equal(W1a, W1b)


SETTINGS = [dict(optimizer=o, batch_size=b, mode=mode)
            for o in ("plain", "momentum", "adam") for b in (None, 64) for mode in ("corrected", "notebook")]


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: f"{s['optimizer']}-{s['batch_size']}-{s['mode']}")
def test_restored_run_continues_bit_for_bit(settings):
    """N steps, save (to arrays and back), restore, N more equals 2N uninterrupted, with an α change and decay."""
    lr = 0.01 if settings["optimizer"] == "adam" else 1.0 if settings["mode"] == "notebook" else 0.05
    config = TrainConfig(lr=lr, lr_decay=0.01, eval_every=4, iterations=None, notebook_m=600, **settings)
    straight = Trainer(config, *data())
    straight.step(13)
    straight.set_lr(lr / 2)
    straight.step(13)

    first = Trainer(config, *data())
    first.step(13)
    arrays, meta = first.state().to_arrays()
    restored = Trainer.from_state(RunState.from_arrays(arrays, meta), *data())
    restored.set_lr(lr / 2)
    restored.step(13)
    assert straight.failure is None and restored.iteration == 26
    assert_same_run(straight, restored)


def test_restore_across_an_epoch_boundary_mid_epoch():
    """The batch position survives a save: a cursor mid-epoch and the epoch's shuffle are restored."""
    config = TrainConfig(batch_size=100, lr=0.1, iterations=None)
    straight, first = Trainer(config, *data()), Trainer(config, *data())
    straight.step(10)
    first.step(4)  # 300 rows, batches of 100: iteration 4 is one batch into the second epoch
    assert first.state().order.cursor == 100
    restored = Trainer.from_state(first.state(), *data())
    restored.step(6)
    assert_same_run(straight, restored)


def test_sweep_hands_over_exactly_the_run_it_had():
    """"Continue the best" gets that run's slice: weights, snapshots, history, batch position, start loss."""
    config = TrainConfig(batch_size=100, eval_every=5, iterations=None)
    sweep = Sweep(config, [0.01, 0.1, 0.3], *data())
    sweep.step(23)
    best = sweep.best()
    alone = sweep.to_trainer(best)
    state = sweep.state(best)
    assert alone.iteration == 23 and alone.state().order.cursor == 200 and alone.state().order == state.order
    assert alone.state().start_loss == pytest.approx(float(sweep.start_loss[best]))
    assert [i for i, _ in alone.snapshots] == [i for i, _ in state.snapshots] == [i for i, _ in sweep.snapshots]
    np.testing.assert_array_equal(alone.snapshots[-1][1], sweep._snapshots[-1][1][best])
    assert len(alone.history) == len(sweep.histories[best]) and alone.lr == sweep.lrs[best]
    sweep.step(1)
    alone.step(1)
    # The same batch and math. A stack of 3 and a single run sum in another order (float32): a Z1
    # within ~1e-5 of 0 can fall on the other side of the ReLU kink, which moves that unit's
    # gradient by one example's share (here up to ~1e-4 · α).
    np.testing.assert_allclose(alone.params.W1, sweep.state(best).params.W1, rtol=1e-5, atol=1e-4)
    sweep.step(6)
    alone.step(6)
    assert alone.history.last["iteration"] == sweep.histories[best].last["iteration"] == 30
    assert alone.history.last["train_acc"] == pytest.approx(sweep.histories[best].last["train_acc"], abs=0.01)


def test_a_sweep_of_one_is_a_run():
    """A sweep with one α trains exactly like a Trainer with that α."""
    config = TrainConfig(lr=0.2, batch_size=50, iterations=None)
    sweep, alone = Sweep(config, [0.2], *data()), Trainer(config, *data())
    sweep.step(12)
    alone.step(12)
    assert_same_run(sweep, alone)


# ----- failures as data --------------------------------------------------------------------------
def test_each_failure_kind_is_a_value():
    """diverged, exploded, dead, collapsed and bad batch each stop a run with the facts behind them."""
    X, y, Xd, yd = data()
    found = {}
    t = Trainer(TrainConfig(lr=1e6, quirks=Quirks(unshifted_softmax=True)), X, y, Xd, yd)
    t.step(50)
    found[t.failure.kind] = t.failure
    base = Trainer(TrainConfig(lr=1.0), X, y).params
    t = Trainer(TrainConfig(lr=1.0), X, y, params=Params(base.W1, np.full((10, 1), -100, np.float32), base.W2, base.b2))
    t.step(5)
    found[t.failure.kind] = t.failure
    t = Trainer(TrainConfig(lr=50.0, batch_size=10), X, y)
    t.step(200)
    found[t.failure.kind] = t.failure
    b1 = np.array([[-100]] * 9 + [[0]], np.float32)
    noise = np.random.default_rng(1).permutation(y)  # unlearnable labels keep accuracy at chance
    t = Trainer(TrainConfig(lr=0.01, eval_every=10), X, noise, params=Params(base.W1, b1, base.W2, base.b2))
    t.step(300)
    found[t.failure.kind] = t.failure
    t = Trainer(TrainConfig(quirks=Quirks(one_hot_from_max=True)), X, np.where(y == 9, 8, y))
    t.step(1)
    found[t.failure.kind] = t.failure
    assert set(found) == set(FAILURE_KINDS)
    assert found["diverged"].detail == "softmax" and found["diverged"].suggested_lr == 5e5
    assert found["dead"].dead == found["dead"].hidden == 10
    assert found["exploded"].loss > 4 * max(found["exploded"].start_loss, math.log(10))
    assert found["collapsed"].dead == 9 and found["collapsed"].iteration >= 100
    assert found["bad_batch"].detail == "9" and found["bad_batch"].iteration == 0
    for failure in found.values():
        assert Failure.from_dict(failure.to_dict()) == failure


def test_failure_survives_a_save():
    """A failed run's failure is part of its state and comes back on restore; it does not go on."""
    t = Trainer(TrainConfig(lr=1e6, quirks=Quirks(unshifted_softmax=True)), *data())
    t.step(50)
    restored = Trainer.from_state(RunState.from_arrays(*t.state().to_arrays()), *data())
    assert restored.failure == t.failure and restored.step(5) == 0


def test_dead_units_come_from_the_kept_mask():
    """dead_units() is the mask the last evaluation computed: no pass of its own."""
    X, y, _, _ = data()
    base = Trainer(TrainConfig(hidden=4), X, y).params
    b1 = np.array([[-100], [-100], [0], [0]], np.float32)
    t = Trainer(TrainConfig(hidden=4, lr=0.1), X, y, params=Params(base.W1, b1, base.W2, base.b2))
    assert t.dead_units().tolist() == [True, True, False, False]
    t.X_train = None  # a pass over the data would fail now
    assert t.dead_units().tolist() == [True, True, False, False]


# ----- unbounded runs and lockstep -------------------------------------------------------------------
def test_no_stop_means_no_sentinel():
    """iterations=None trains as long as asked; step() with neither a count nor a deadline refuses."""
    t = Trainer(TrainConfig(iterations=None, eval_every=5), *data())
    assert t.step(12) == 12 and not t.done
    with pytest.raises(ValueError, match="no stop"):
        t.step()
    t.set_stop(15)
    assert t.step() == 3 and t.done and t.iteration == 15


def test_lockstep_steps_both_runs_alike():
    """Lockstep moves the notebook's and the corrected run by the same count, to the end."""
    X, y, Xd, yd = data()
    pair = Lockstep(Trainer(TrainConfig(mode="notebook", lr=1.0, iterations=10, notebook_m=600), X, y, Xd, yd),
                    Trainer(TrainConfig(lr=0.1, iterations=10), X, y, Xd, yd))
    assert pair.step(7) == 7 and [t.iteration for t in pair.trainers] == [7, 7]
    assert pair.step() == 3 and pair.done and pair.iteration == 10
    assert pair.step(5) == 0


# ----- checked restore ---------------------------------------------------------------------------------
def saved(**settings):
    t = Trainer(TrainConfig(batch_size=64, optimizer="adam", lr=0.01, **settings), *data())
    t.step(7)
    return t.state().to_arrays()


DAMAGE = {
    "not a run": (lambda a, m: m.pop("format"), "not a digit-lab run"),
    "other version": (lambda a, m: m.update(version=99), "version 99"),
    "NaN weights": (lambda a, m: a["W1"].__setitem__((0, 0), np.nan), "W1"),
    "wrong hidden": (lambda a, m: m["config"].update(hidden=32), "hidden units"),
    "cursor past the data": (lambda a, m: m["order"].update(cursor=10_000), "past its"),
    "α log": (lambda a, m: m.update(lr=0.5), "α changes"),
    "optimizer": (lambda a, m: m["optimizer"].update(kind="plain"), "optimizer"),
    "moments": (lambda a, m: a.pop("opt.second.W1"), "damaged"),
    "rng": (lambda a, m: m["order"].update(epoch_rng={"bit_generator": "nope"}), ""),
    "history": (lambda a, m: a.update(history=a["history"][:, :3]), "history"),
    "snapshots": (lambda a, m: m.update(snapshot_iterations=[0]), "snapshots"),
    "iteration": (lambda a, m: m.update(iteration=-1), "iteration"),
    "missing key": (lambda a, m: m.pop("order"), "damaged"),
    "settings": (lambda a, m: m["config"].update(lr=-1), "learning rate"),
    "setting's type": (lambda a, m: m["config"].update(batch_size=64.5), "batch_size must be a whole number"),
    "quirk's type": (lambda a, m: m["config"].update(quirks={"global_m": "all"}), "quirks.global_m"),
    "seconds": (lambda a, m: m.update(seconds=-1), "seconds"),
    "absurd iteration": (lambda a, m: m.update(iteration=10**9), "past its history"),
    "failure's type": (lambda a, m: m.update(failure={"kind": "dead", "iteration": "3", "lr": 0.1}), "iteration"),
    "shuffle missing": (lambda a, m: m["order"].update(epoch_rng=None), "before any batch"),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=str)
def test_damaged_state_is_refused_in_one_sentence(damage):
    """Each kind of damage raises ValueError (never another exception) naming what is wrong."""
    arrays, meta = saved()
    arrays = {k: np.array(v) for k, v in arrays.items()}
    change, words = DAMAGE[damage]
    change(arrays, meta)
    with pytest.raises(ValueError) as error:
        RunState.from_arrays(arrays, meta)
    assert words in str(error.value) and "\n" not in str(error.value)


def test_foreign_data_is_refused():
    """A run restored on other data (other labels or row count) is refused with a sentence."""
    state = RunState.from_arrays(*saved())
    X, y, Xd, yd = data()
    with pytest.raises(ValueError, match="other data"):
        Trainer.from_state(state, X, np.roll(y, 1), Xd, yd)
    with pytest.raises(ValueError, match="300 rows"):
        Trainer.from_state(state, X[:, :200], y[:200], Xd, yd)


def test_read_tells_runs_from_weight_only_files():
    """read() gives a RunState for a run file and Params for an old weights-only file."""
    arrays, meta = saved()
    assert isinstance(read(arrays, meta), RunState)
    old = {k: arrays[k] for k in ("W1", "b1", "W2", "b2")}
    assert isinstance(read(old, {"config": meta["config"], "iteration": 7}), Params)
    dashboard_v1 = {**meta["config"], "lr": 0.01, "iteration": 7, "data": "sample", "saved_by": "digit-lab dashboard"}
    assert isinstance(read(old, dashboard_v1), Params)  # the dashboard's older files: settings at the top level


def test_read_refuses_run_metadata_without_its_format_mark():
    """A file with run metadata but no format mark is a damaged run, never weights only (no iteration-0 restart)."""
    arrays, meta = saved()
    del meta["format"], meta["version"]
    with pytest.raises(ValueError, match="without the run format mark"):
        read(arrays, meta)
    weights = {k: arrays[k] for k in ("W1", "b1", "W2", "b2")}
    with pytest.raises(ValueError, match="lr_changes"):
        read(weights, {"config": meta["config"], "iteration": 7, "lr_changes": [[0, 0.1]]})


@pytest.mark.parametrize("optimizer", ["plain", "momentum", "adam"])
def test_each_run_of_a_stack_steps_like_a_single_run(optimizer):
    """Given the same gradients, the stacked update of run i equals a single run's update with its α, exactly."""
    from core.optim import init_optimizer, update

    rng = np.random.default_rng(0)
    params = Trainer(TrainConfig(), *data()).params
    grads = params.map(lambda a: rng.standard_normal(a.shape).astype(a.dtype))
    lrs = np.array([0.003, 0.1, 0.7])
    stack, gstack = (p.map(lambda a: np.repeat(a[None], 3, axis=0)) for p in (params, grads))
    state_s, state_1 = init_optimizer(optimizer, stack), init_optimizer(optimizer, params)
    for _ in range(3):
        stack, state_s = update(stack, gstack, state_s, lrs.reshape(-1, 1, 1))
    for i, lr in enumerate(lrs):
        single, state = params, state_1
        for _ in range(3):
            single, state = update(single, grads, state, float(lr))
        np.testing.assert_array_equal(stack.W1[i], single.W1)
