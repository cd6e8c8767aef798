"""The Train view: the gallery's choice of mistakes, the α slider's nearest stop, the W1 / dW1 / ΔW1 tiles."""

import numpy as np
import pytest

from dashboard.views import train


def test_mistakes_are_filtered_and_most_confident_first():
    """Only wrong predictions matching the filters, sorted by the confidence of the wrong answer."""
    y = np.array([3, 3, 5, 3, 7, 3])
    preds = np.array([5, 3, 3, 5, 1, 8])
    probs = np.full((10, 6), 0.01)
    probs[preds, np.arange(6)] = [0.6, 0.9, 0.7, 0.95, 0.5, 0.8]
    picked, matching = train.mistakes(y, preds, probs)
    assert picked.tolist() == [3, 5, 2, 0, 4] and matching == 5
    picked, matching = train.mistakes(y, preds, probs, true=3)
    assert picked.tolist() == [3, 5, 0] and matching == 3
    picked, matching = train.mistakes(y, preds, probs, true=3, pred=5, limit=1)
    assert picked.tolist() == [3] and matching == 2


def test_nearest_step_is_measured_on_a_log_scale():
    """A typed α is shown on the slider at the closest stop in log(α)."""
    assert train.nearest_step(0.1) == 0.1
    assert train.nearest_step(0.001098) == 0.0012  # nearer 0.001 in plain distance, nearer 0.0012 in log(α)
    assert train.nearest_step(0.00001) == 0.001 and train.nearest_step(1000) == 10.0


def test_tiles_show_the_gradient_and_the_last_step(make_app):
    """After a step, the tiles switch to this batch's dW1 and to the last ΔW1 on their own scales; W2 follows."""
    from tests.dashboard.conftest import figure

    at = make_app()
    at.button(key="step1").click().run()
    trainer = at.session_state["lab"].now
    for kind, source in (("dW1", trainer.last_grads), ("ΔW1", trainer.last_update)):
        at.segmented_control(key="tiles_tensor").set_value(kind).run()
        assert not at.exception
        tiles, output = figure(at, "weights_chart"), figure(at, "output_chart")
        assert tiles["data"][0]["zmax"] == pytest.approx(float(np.abs(source.W1).max()), rel=1e-6)
        np.testing.assert_allclose(output["data"][0]["z"], source.W2, rtol=1e-6)
        assert kind[:-1] in tiles["layout"]["title"]["text"]


def test_before_the_first_step_the_tiles_explain_why_they_show_W1(make_app):
    """dW1 asked for at iteration 0: the view says a step is needed and shows W1 instead of failing."""
    at = make_app()
    at.segmented_control(key="tiles_tensor").set_value("dW1").run()
    assert not at.exception and any("No step yet" in c.value for c in at.caption)
