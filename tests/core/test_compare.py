"""Quirk flips for the notebook-vs-corrected view."""

import math

import numpy as np

import core.compare
from core import NOTEBOOK_QUIRKS, Quirks, TrainConfig, Trainer
from core.compare import QUIRK_NAMES, activation_gap, flip, quirk_effects
from tests.core.test_sweep import data


def test_flip_changes_exactly_one_switch():
    """Flipping a quirk changes that field only; global_m toggles between None and the table's m."""
    for name in QUIRK_NAMES:
        flipped = flip(Quirks(), name, 1234)
        changed = [n for n in QUIRK_NAMES if getattr(flipped, n) != getattr(Quirks(), n)]
        assert changed == [name]
    assert flip(Quirks(), "global_m", 1234).global_m == 1234
    assert flip(NOTEBOOK_QUIRKS, "global_m").global_m is None


def test_quirk_effects_cover_both_directions():
    """Every quirk is measured switched off in the notebook and switched on in the corrected run."""
    X, y, Xd, yd = data()
    results = quirk_effects(TrainConfig(lr=0.5), X, y, Xd, yd, iterations=5)
    assert {"notebook", "corrected"} <= set(results)
    assert "notebook without double_dZ2" in results and "notebook with unscaled_dev" in results
    assert all(f"corrected with {q}" in results for q in QUIRK_NAMES)
    assert math.isnan(results["corrected with train_accuracy_only"]["dev_acc"])
    assert results["corrected"]["iterations"] == 5
    # 5 updates, evaluated every 10: the figures are of the weights it stopped at, not of its start
    start = Trainer(TrainConfig(lr=0.5, iterations=5), X, y, Xd, yd).history.last
    assert results["corrected"]["train_loss"] < start["train_loss"]


def test_each_quirk_row_is_the_run_with_that_quirk_flipped():
    """Each row of quirk_effects equals a run trained alone with exactly that one switch flipped."""
    X, y, Xd, yd = data()
    config = TrainConfig(lr=0.5, eval_every=5)
    results = quirk_effects(config, X, y, Xd, yd, iterations=10)
    notebook = NOTEBOOK_QUIRKS.with_(global_m=config.notebook_m)

    def alone(mode, quirks):
        trainer = Trainer(config.with_(mode=mode, quirks=quirks, iterations=10), X, y, Xd, yd)
        trainer.step(10)
        return {k: trainer.history.last[k] for k in ("train_loss", "train_acc", "dev_acc")}

    expected = {"notebook": alone("notebook", notebook), "corrected": alone("corrected", Quirks())}
    for name in QUIRK_NAMES:
        label = "without" if getattr(notebook, name) else "with"
        expected[f"notebook {label} {name}"] = alone("notebook", flip(notebook, name, config.notebook_m))
        expected[f"corrected with {name}"] = alone("corrected", flip(Quirks(), name, config.notebook_m))
    got = {label: {k: row[k] for k in ("train_loss", "train_acc", "dev_acc")} for label, row in results.items()}
    np.testing.assert_equal(got, expected)  # assert_equal: NaN (dev not measured) equals NaN
    assert got["notebook without double_dZ2"] != got["notebook"]  # a flip that matters here shows


def test_activation_gap_trains_both_from_the_same_start_and_checks_linearity(monkeypatch):
    """identity vs ReLU: same data, α and initial weights; the identity network is one affine map (~1e-6)."""
    import data

    started = []

    class Recording(Trainer):
        def __init__(self, config, *arrays, **kwargs):
            super().__init__(config, *arrays, **kwargs)
            started.append((config, arrays, self.params.map(np.copy)))  # the weights at iteration 0

    monkeypatch.setattr(core.compare, "Trainer", Recording)
    parts = data.split(data.load_sample(), dev_size=500, train_size=2000, seed=0)
    config = TrainConfig(lr=0.1, hidden=16)
    given = (parts.X_train, parts.y_train, parts.X_dev, parts.y_dev)
    results = activation_gap(config, *given, 60)
    assert set(results) == {"relu", "identity"} and all(r["iterations"] == 60 for r in results.values())
    assert [c.activation for c, _, _ in started] == ["relu", "identity"]
    (relu, relu_data, relu_start), (identity, identity_data, identity_start) = started
    assert relu.with_(activation="identity") == identity and relu.lr == config.lr and relu.seed == config.seed
    assert all(a is b for a, b in zip(relu_data, given)) and all(a is b for a, b in zip(identity_data, given))
    relu_start.map(np.testing.assert_array_equal, identity_start)
    assert results["identity"]["affine_error"] < 1e-5
    assert results["relu"]["dev_accuracy"] != results["identity"]["dev_accuracy"]


def test_a_lockstep_settles_each_trainer_where_it_stopped():
    """After 3 of its 10-update cadence, a Lockstep's settle() gives both trainers a row at iteration 3."""
    X, y, X_dev, y_dev = data()
    pair = core.compare.Lockstep(*(Trainer(TrainConfig(lr=lr, iterations=None, eval_every=10), X, y, X_dev, y_dev)
                                   for lr in (0.1, 0.5)))
    pair.step(3)
    pair.settle()
    pair.settle()
    assert [[row["iteration"] for row in t.history.rows] for t in pair.trainers] == [[0, 3], [0, 3]]
