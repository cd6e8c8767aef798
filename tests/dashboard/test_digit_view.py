"""The "Inside a digit" tab: one dev image's way through the network, the drawing pad's Python side, the replay.

AppTest cannot run the drawing pad (a custom component), so what it sends is decoded and
predicted here directly, the way the tab does it.
"""

from __future__ import annotations

import numpy as np
import pytest

import data
from core import TrainConfig, Trainer
from core.inspect import explain
from dashboard.charts import figures as charts, maths as math_charts
from dashboard.views import canvas
from dashboard.views import digit
from tests.dashboard.conftest import figure, metric, open_view


@pytest.fixture(scope="module")
def trained():
    """A corrected network trained 150 steps on 2,000 sample rows (about 95% train accuracy)."""
    split = data.split(data.load_sample(), dev_size=200, train_size=2000, seed=0)
    trainer = Trainer(TrainConfig(lr=0.5, iterations=150), split.X_train, split.y_train, split.X_dev, split.y_dev)
    trainer.step(150)
    return trainer


# ----- AppTest ----------------------------------------------------------------------------------
def test_picked_dev_image_matches_the_trainers_predictions(make_app):
    """Dev image i shows probabilities that sum to 1 and equal trainer.dev_predictions() for i, and its argmax."""
    at = make_app()
    at.button(key="step10").click().run()
    open_view(at, "digit")
    at.number_input(key="digit_index").set_value(42).run()
    trainer = at.session_state["lab"].now
    preds, probs = trainer.dev_predictions()
    shown = np.asarray(figure(at, "digit_probs")["data"][0]["y"])
    assert shown.sum() == pytest.approx(1, abs=1e-5)
    np.testing.assert_allclose(shown, probs[:, 42], rtol=1e-5)
    assert metric(at, "Prediction") == str(preds[42]) and metric(at, "True label") == str(trainer.y_dev[42])
    image = figure(at, "digit_input")["data"][0]["z"]
    np.testing.assert_allclose(image.ravel(), trainer.X_dev[:, 42], rtol=1e-6)


def test_hidden_activations_and_contributions_explain_the_logits(make_app):
    """The A1 bars hold the h activations; each contributions row (plus its bias) sums to that digit's logit Z2."""
    at = make_app("digit", hidden=12)
    trainer = at.session_state["lab"].now
    e = explain(trainer.params, trainer.X_dev[:, 0])
    np.testing.assert_allclose(figure(at, "digit_hidden")["data"][0]["y"], e.A1, rtol=1e-5, atol=1e-7)
    heatmap = figure(at, "digit_contributions")["data"][0]
    assert heatmap["z"].shape == (10, 12 + 1)  # h neurons and the bias
    np.testing.assert_allclose(heatmap["z"].sum(axis=1), e.Z2, rtol=1e-4, atol=1e-5)


def test_mistake_from_the_train_views_gallery_is_shown(make_app):
    """Choosing one of the Train view's gallery mistakes shows that dev image."""
    at = make_app()
    at.button(key="step10").click().run()
    open_view(at, "digit")
    picker = at.selectbox(key="digit_mistake")
    chosen = picker.options[0]
    picker.set_value(int(chosen.split(":")[0].lstrip("#"))).run()
    index = at.session_state["digit_index"]
    assert chosen.startswith(f"#{index}:") and metric(at, "True label") in chosen
    assert metric(at, "True label") != metric(at, "Prediction")


def test_replay_slider_changes_the_weight_maps(make_app):
    """The replay scrubber runs over the kept snapshots to the current weights and draws W1 as it was then."""
    at = make_app()
    at.button(key="step100").click().run()
    open_view(at, "digit")
    trainer = at.session_state["lab"].now
    slider = at.select_slider(key="digit_replay")
    assert slider.value == trainer.iteration == 100  # the current weights end the replay
    assert slider.options[:-1] == [f"{it:,}" for it, _ in trainer.snapshots]
    last = figure(at, "digit_replay_chart")["data"][0]["z"]
    slider.set_value(0).run()
    first = figure(at, "digit_replay_chart")["data"][0]["z"]
    assert not np.allclose(np.nan_to_num(first), np.nan_to_num(last))
    expected = charts.mosaic(trainer.snapshots[0][1], 8, label_gap=7)
    np.testing.assert_allclose(first, expected, equal_nan=True)


# ----- the drawing pad's Python side ------------------------------------------------------------
def test_decode_reads_what_the_pad_sends():
    """{"size", "pixels": base64} becomes the (size, size) uint8 image; no value or a blank pad is None."""
    image = np.arange(112 * 112, dtype=np.uint32).astype(np.uint8).reshape(112, 112)
    np.testing.assert_array_equal(canvas.decode(canvas.encode(image)), image)
    assert canvas.decode(None) is None
    assert canvas.decode(canvas.encode(np.zeros((112, 112), np.uint8))) is None


@pytest.mark.parametrize("value, message", [
    ({"size": 4}, "expected"),
    ({"size": 4, "pixels": "not base64!"}, "base64"),
    ({"size": 4, "pixels": "AAAA"}, "3 pixels, expected 4 x 4"),
    ({"size": "4", "pixels": "AAAA"}, "size"),
    ([1, 2, 3], "expected"),
])
def test_decode_refuses_malformed_values(value, message):
    """Anything but a square image of base64 bytes is a ValueError that says what is wrong."""
    with pytest.raises(ValueError, match=message):
        canvas.decode(value)


def test_drawn_strokes_are_read_as_digits(trained):
    """A vertical stroke on the pad is read as a 1 and a bar with a diagonal as a 7, after MNIST-style processing."""
    one = np.zeros((canvas.RESOLUTION,) * 2, np.uint8)
    one[20:95, 52:61] = 255
    seven = np.zeros_like(one)
    seven[25:33, 30:85] = 255
    for k in range(60):
        seven[33 + k, 80 - k // 2:88 - k // 2] = 255
    for image, label in ((one, 1), (seven, 7)):
        x = digit.drawing_input(canvas.decode(canvas.encode(image)))
        assert x.shape == (784,) and x.max() == pytest.approx(1.0)
        assert explain(trained.params, x).prediction == label


def test_mnist_digits_redrawn_on_the_pad_keep_their_prediction(trained):
    """A dev digit scaled up to the pad's 112x112 and processed back is mostly read as the original is."""
    preds, _ = trained.dev_predictions()
    same = 0
    for i in range(40):
        image = np.rint(trained.X_dev[:, i] * 255).astype(np.uint8).reshape(28, 28)
        pad = np.kron(image, np.ones((4, 4), np.uint8))  # (112, 112)
        same += explain(trained.params, digit.drawing_input(pad)).prediction == preds[i]
    assert same >= 30  # re-centring by mass moves some digits by a pixel


def test_contributions_figure_rows_end_in_the_logits():
    """The contributions heatmap has the bias as its last column and writes each row's Z2 at its end."""
    contributions = np.arange(20.0).reshape(10, 2)
    b2, Z2 = np.ones(10), contributions.sum(axis=1) + 1
    fig = math_charts.contributions_figure(contributions, b2, Z2, highlight=3)
    assert list(fig.data[0].x) == ["n0", "n1", "b2"]
    assert fig.layout.annotations[3].text == f"  <b>Z2 = {Z2[3]:.2f}</b>"
    Z2[9] = -0.001  # rounds to zero: written "0.00", not "-0.00"
    assert math_charts.contributions_figure(contributions, b2, Z2).layout.annotations[9].text == "  Z2 = 0.00"
