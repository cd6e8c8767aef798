"""The sidebar settings' one conversion into a TrainConfig, and the α slider's stops."""

import itertools
import math

import pytest

from dashboard import settings


def test_defaults_make_the_default_run():
    """No values at all give h = 10, corrected mode, full batch, plain GD, α = 0.1, no stop."""
    config = settings.config_from_settings({})
    assert (config.hidden, config.mode, config.batch_size) == (10, "corrected", None)
    assert (config.optimizer, config.lr) == ("plain", 0.1)
    assert config.train_size is None and config.iterations is None


def test_widget_values_map_onto_the_config():
    """Batch size applies only without full batch; 0 train rows means all; stop-at sets iterations."""
    values = dict(hidden=32, mode="notebook", notebook_m=5000, full_batch=False, batch_size=64, optimizer="adam",
                  seed=7, dev_size=500, train_size=0, stop_at=300, lr=0.02)
    config = settings.config_from_settings(values)
    assert (config.hidden, config.mode, config.notebook_m) == (32, "notebook", 5000)
    assert (config.batch_size, config.optimizer) == (64, "adam")
    assert (config.seed, config.dev_size, config.train_size, config.iterations, config.lr) == (7, 500, None, 300, 0.02)
    assert config.effective_quirks.global_m == 5000
    assert settings.config_from_settings({**values, "full_batch": True}).batch_size is None


@pytest.mark.parametrize("batch, every", [(None, 10), (128, 100), (32, 500)])
def test_the_run_evaluates_as_often_as_its_batch_calls_for(batch, every):
    """Full batch evaluates every 10 updates; batch 128 every 100 (about 10,000 examples, core.config.eval_every_for)."""
    config = settings.config_from_settings(dict(full_batch=batch is None, batch_size=batch))
    assert (config.batch_size, config.eval_every) == (batch, every)


def test_out_of_range_values_raise_value_error():
    """A value core refuses (hidden 0) raises ValueError, which the sidebar shows as a message."""
    with pytest.raises(ValueError, match="hidden"):
        settings.config_from_settings({"hidden": 0})


def test_lr_slider_stops_are_log_spaced_round_numbers():
    """The slider runs 0.001..10 with round stops, each step at most ~1.3x the previous one."""
    steps = settings.LR_STEPS
    assert steps[0] == settings.LR_MIN and steps[-1] == settings.LR_MAX and 0.1 in steps
    ratios = [b / a for a, b in itertools.pairwise(steps)]
    assert all(1 < r <= 1.34 for r in ratios)
    assert all(math.isclose(s, float(f"{s:.2g}")) for s in steps)
