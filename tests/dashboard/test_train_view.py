"""Pure helpers of the Train view: the gallery's choice of mistakes and the α slider's nearest stop."""

import numpy as np

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
