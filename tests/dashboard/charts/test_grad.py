"""Backward-pass figures: one zero-centred scale per tensor, the output layer map, health curves."""

import numpy as np

from dashboard.charts import figures as charts, grad as grad_charts
from core import TrainConfig, Trainer
from tests.core.test_train import blobs


def trained(steps=6):
    X, y = blobs(300)
    t = Trainer(TrainConfig(lr=0.5, eval_every=2), X, y)
    t.step(steps)
    return t


def health(t):
    """The gradient-health figure of a trainer's history."""
    h = t.history
    return grad_charts.health_figure(h.column("iteration"), {k: h.column(f"grad_{k}") for k in ("W1", "W2")},
                                     {k: h.column(f"update_{k}") for k in ("W1", "W2")}, t.lr_changes)


def test_tiles_of_each_tensor_share_one_zero_centred_scale():
    """dW1 tiles use ±max|dW1| (not W1's scale), with their own title and hover symbol."""
    t = trained()
    dW1 = t.last_grads.W1
    figure = grad_charts.layer_figure(dW1, "dW1", t.dead_units())
    heatmap = figure.data[0]
    limit = float(np.abs(dW1).max())
    assert heatmap.zmin == -limit and heatmap.zmax == limit and heatmap.zmid == 0
    assert "dW1" in figure.layout.title.text and "dw =" in heatmap.hovertemplate
    assert [t.type for t in figure.data] == ["heatmap", "scatter"]  # the labels' trace took none of it


def test_last_update_is_minus_alpha_times_the_gradient_for_plain_gd():
    """ΔW1 shown by the view is the last step: −α·dW1 for plain gradient descent."""
    t = trained()
    np.testing.assert_allclose(t.last_update.W1, -t.lr * t.last_grads.W1, rtol=1e-5, atol=1e-7)
    figure = grad_charts.layer_figure(t.last_update.W1, "ΔW1", t.dead_units())
    assert figure.data[0].zmax == float(np.abs(t.last_update.W1).max())


def test_output_map_is_ten_by_h():
    """W2 / dW2 is drawn as a 10 x h heatmap with its name and a symmetric scale."""
    t = trained()
    figure = grad_charts.output_figure(t.last_grads.W2, "dW1")
    assert np.asarray(figure.data[0].z).shape == (10, 10) and figure.data[0].zmin == -figure.data[0].zmax
    assert figure.layout.title.text.startswith("dW2")


def test_health_curves_come_from_the_history_with_alpha_marks():
    """Four curves (norms and ratios of both layers); unmeasured points are gaps; α changes are marked."""
    t = trained(4)
    t.set_lr(0.2)
    t.step(4)
    figure = health(t)
    assert len(figure.data) == 4 and np.isnan(figure.data[0].y[0])  # iteration 0: no gradient yet
    assert np.all(np.asarray(figure.data[0].y[1:]) > 0)
    assert any(a.text == "α=0.2" for a in figure.layout.annotations)
    norms = np.concatenate([np.asarray(figure.data[i].y, float) for i in (0, 2)])
    axis = figure.layout.yaxis
    assert axis.type == "log" and len([t for t in axis.tickvals if np.nanmin(norms) <= t <= np.nanmax(norms)]) >= 2
    ratios = np.concatenate([np.asarray(figure.data[i].y, float) for i in (1, 3)])
    axis, (band,) = figure.layout.yaxis2, [s for s in figure.layout.shapes if s.yref == "y2"]
    low, high = 10.0 ** np.array(axis.range)
    assert low < min(band.y0, np.nanmin(ratios)) and high > max(band.y1, np.nanmax(ratios))  # room around the band
    assert axis.type == "log" and len([t for t in axis.tickvals if low <= t <= high]) >= 2
    for axis in (figure.layout.yaxis, figure.layout.yaxis2):  # labelled in numbers
        assert list(axis.ticktext) == [charts.tick_text(t) for t in axis.tickvals]


def test_health_note_warns_about_huge_and_tiny_steps():
    """Steps far above the healthy band get a warning; all layers far below get a note; healthy gets none."""
    assert "smaller α" in grad_charts.health_note({"W1": np.array([0.5]), "W2": np.array([1e-3])})
    assert "stopped" in grad_charts.health_note({"W1": np.array([1e-7]), "W2": np.array([1e-8])})
    assert grad_charts.health_note({"W1": np.array([1e-3]), "W2": np.array([2e-3])}) is None


def test_health_chart_of_a_new_run_says_why_it_is_empty():
    """Before the first step nothing is measured: the chart says so, and its norm axis spans a few labelled
    decades (Plotly's own range, 0.1 to 10,000 in 1-2-5 steps, was 15 crowded labels)."""
    t = trained(0)
    figure = health(t)
    assert grad_charts.NO_STEP_YET in [a.text for a in figure.layout.annotations]
    axis = figure.layout.yaxis
    assert axis.range == (-3, 0) and [charts.tick_text(v) for v in axis.tickvals if 1e-3 <= v <= 1] == [
        "0.001", "0.01", "0.1", "1"]
    t.step(2)  # measured after two steps (eval_every=2): the note goes
    figure = health(t)
    assert grad_charts.NO_STEP_YET not in [a.text for a in figure.layout.annotations]
    assert figure.layout.yaxis.range is None
