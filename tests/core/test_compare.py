"""Quirk flips for the notebook-vs-corrected view."""

import math

from core import NOTEBOOK_QUIRKS, Quirks, TrainConfig
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


def test_activation_gap_trains_both_from_the_same_start_and_checks_linearity():
    """identity vs ReLU: same data and α; the identity network is one affine map (relative error ~1e-6)."""
    import data

    parts = data.split(data.load_sample(), dev_size=500, train_size=2000, seed=0)
    results = activation_gap(TrainConfig(lr=0.1, hidden=16), parts.X_train, parts.y_train, parts.X_dev,
                             parts.y_dev, 60)
    assert set(results) == {"relu", "identity"} and all(r["iterations"] == 60 for r in results.values())
    assert results["identity"]["affine_error"] < 1e-5
    assert results["relu"]["dev_accuracy"] != results["identity"]["dev_accuracy"]
