"""Unit tests of the figure builders in dashboard/charts/figures.py (NumPy in, Plotly figure out)."""

import numpy as np
import pytest

from dashboard.charts import figures as charts, maths


def test_mosaic_puts_each_neuron_at_its_tile():
    """Tile k of the weight mosaic holds exactly neuron k's 784 weights, reshaped row by row."""
    W1 = np.arange(11 * 784, dtype=np.float32).reshape(11, 784)
    _, cols = charts.grid_shape(11)
    Z = charts.mosaic(W1, cols, gap=2, label_gap=7)
    for k in range(11):
        r, c = charts.tile_origin(k, cols, gap=2, label_gap=7)
        np.testing.assert_array_equal(Z[r:r + 28, c:c + 28], W1[k].reshape(28, 28))
    assert np.isnan(Z).sum() == Z.size - 11 * 784  # everything else is background


def test_weights_figure_is_centred_on_zero_and_diverging():
    """The weight heatmap uses a diverging scale with zmid = 0 and symmetric limits."""
    W1 = np.random.default_rng(0).normal(0.1, 1, (10, 784)).astype(np.float32)
    heatmap = charts.weights_figure(W1, np.zeros(10, bool)).data[0]
    assert heatmap.zmid == 0
    assert heatmap.zmin == -heatmap.zmax == pytest.approx(-np.abs(W1).max())
    colors = [c for _, c in heatmap.colorscale]
    assert colors[0] != colors[-1]  # two different ends
    assert colors[len(colors) // 2] in ("rgb(247,247,247)", "#f7f7f7")  # white-ish middle: zero


def test_weights_figure_crosses_out_dead_neurons_only():
    """Dead neurons get a frame and two diagonals over their tile; live ones get no shapes."""
    dead = np.zeros(10, bool)
    dead[[2, 7]] = True
    fig = charts.weights_figure(np.ones((10, 784)), dead)
    _, cols = charts.grid_shape(10)
    frames = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(fig.layout.shapes) == 6 and len(frames) == 2
    for shape, k in zip(frames, (2, 7)):
        r, c = charts.tile_origin(k, cols, label_gap=7)
        assert (shape.x0, shape.y0) == (c - 0.5, r - 0.5)
    labels = tile_labels(fig)
    assert [t for t in labels.text if "dead" in t] == ["n2 dead", "n7 dead"]
    assert [c for c, t in zip(labels.textfont.color, labels.text) if "dead" in t] == [charts.DEAD_COLOR] * 2
    assert not fig.layout.annotations  # Plotly would measure each on every redraw


def tile_labels(fig):
    """The text trace that labels a weight map's tiles, each label just above its tile."""
    [labels] = [trace for trace in fig.data if trace.type == "scatter" and trace.mode == "text"]
    assert labels.hoverinfo == "skip" and labels.textposition == "top center"
    return labels


def test_weights_figure_numbers_tiles_from_the_page_start():
    """A second page of 64 labels its tiles from neuron 64 on, each over its tile's centre."""
    fig = charts.weights_figure(np.ones((64, 784)), np.zeros(64, bool), first=64)
    labels = tile_labels(fig)
    assert labels.text[0] == "64" and labels.text[-1] == "127"
    _, cols = charts.grid_shape(64)
    r, c = charts.tile_origin(63, cols, label_gap=7)
    assert (labels.x[-1], labels.y[-1]) == (c + charts.SIDE / 2 - 0.5, r - 1)


def test_downsample_keeps_ends_and_bounds_the_count():
    """Downsampling keeps the first and last points, stays under the cap and keeps a spike."""
    x = np.arange(50_000, dtype=float)
    y = np.sin(x / 500)
    y[31_337] = 40.0  # a loss spike a plain stride would likely skip
    xs, ys = charts.downsample(x, y, 2000)
    assert len(xs) <= 2000
    assert xs[0] == 0 and xs[-1] == 49_999 and ys[-1] == y[-1]
    assert 40.0 in ys
    assert np.all(np.diff(xs) > 0)


def test_downsample_leaves_short_series_alone():
    """Series under the cap are returned unchanged."""
    x, y = np.arange(10.0), np.arange(10.0) ** 2
    xs, ys = charts.downsample(x, y, 2000)
    np.testing.assert_array_equal(xs, x)
    np.testing.assert_array_equal(ys, y)


def test_downsample_survives_nan_buckets():
    """All-NaN stretches (no dev set) do not break downsampling."""
    x = np.arange(10_000, dtype=float)
    y = np.full(10_000, np.nan)
    xs, _ = charts.downsample(x, y, 500)
    assert xs[0] == 0 and xs[-1] == 9_999 and len(xs) <= 500


def test_ema_matches_the_recursive_definition():
    """The convolution EMA equals the bias-corrected recursive EMA, skipping nothing when there is no NaN."""
    y = np.random.default_rng(1).random(500)
    expected, average, norm = [], 0.0, 0.0
    for value in y:
        average, norm = 0.9 * average + 0.1 * value, 0.9 * norm + 0.1
        expected.append(average / norm)
    np.testing.assert_allclose(charts.ema(y, 0.9), expected, rtol=1e-9)


def test_ema_of_no_point_is_no_point():
    """A curve with nothing in it yet (a range test drawn before its first step) smooths to nothing."""
    assert charts.ema(np.array([]), 0.8).shape == (0,)


def test_curves_mark_lr_changes_at_their_iterations():
    """Each learning-rate change after the start becomes a vertical line at its iteration with its value."""
    x = np.arange(0, 300, 10.0)
    fig = charts.curves_figure(x, np.ones(30), np.ones(30), [(0, 0.1), (120, 0.5), (250, 0.02)])
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert [(s.x0, s.x1) for s in lines] == [(120, 120), (250, 250)]
    assert [a.text for a in fig.layout.annotations] == ["α=0.5", "α=0.02"]


def test_curves_smoothing_adds_faint_raw_traces():
    """With smoothing, raw train and dev curves stay visible, faint, under the smoothed ones."""
    x = np.arange(100.0)
    fig = charts.curves_figure(x, np.random.rand(100), np.random.rand(100), [(0, 0.1)], "accuracy", smooth=0.9)
    assert [t.name for t in fig.data] == ["train (raw)", "train", "dev (raw)", "dev"]
    assert fig.data[0].opacity < 1 and fig.layout.yaxis.tickformat == ".0%"


@pytest.mark.parametrize("train, dev, within", [
    ([2.28, 2.22], [2.23, 2.16], [2.16, 2.18, 2.2, 2.22, 2.24, 2.26, 2.28]),  # Step 1 and a few more
    ([2.28, 1.82], [2.2, 1.9], [1.9, 2.0, 2.1, 2.2]),  # Step 10: only "2" of the 1-2-5 ticks in range
    ([2.3, 0.5], [2.3, 0.6], [0.5, 1, 2]),  # a run under way: the 1-2-5 ticks alone
    ([2.3, 0.234], [2.3, 0.29], [0.3, 0.5, 1, 2]),  # ended just above 0.2: a 3 labels the low end
    ([4.2, 0.6], [4.1, 0.7], [1, 2, 3]),  # started between a 3 and a 5: a 3 labels the high end
])
def test_the_loss_axis_always_labels_at_least_two_values_of_the_curves(train, dev, within):
    """The log loss axis ticks at 1-2-5 steps, and at the 3 between a 2 and a 5 where the curves end there;
    where fewer than two of those fall within the curves (the first updates of a run), round values between
    them are ticks too, labelled as they are."""
    axis = charts.curves_figure(np.arange(len(train)) * 10.0, np.array(train), np.array(dev), [(0, 0.1)]).layout.yaxis
    lo, hi = min(train + dev), max(train + dev)
    shown = [t for t in axis.tickvals if lo - 1e-9 <= t <= hi + 1e-9]
    assert shown == pytest.approx(within)
    assert axis.type == "log" and list(axis.ticktext) == [charts.tick_text(t) for t in axis.tickvals]
    assert set(charts.LOSS_TICKS) <= set(axis.tickvals)


@pytest.mark.parametrize("lo, hi, within", [
    (0.05, 0.6, ["0.05", "0.1", "0.2", "0.5"]),  # gradient norms over one decade: 1-2-5 steps
    (1e-6, 0.1, ["1e-6", "1e-5", "1e-4", "0.001", "0.01", "0.1"]),  # five decades: powers of ten only
    (2.1e-4, 2.9e-4, ["2.2e-4", "2.4e-4", "2.6e-4", "2.8e-4"]),  # within one 1-2-5 step: round values
])
def test_a_log_axis_labels_what_its_curves_span_in_plain_numbers(lo, hi, within):
    """A log axis (the health chart's norms and update sizes) is labelled with numbers a reader reads, never
    Plotly's lone digits: 1-2-5 steps, powers of ten over many decades, round values over a short range."""
    axis = charts.log_axis(np.array([lo, np.nan, hi]), np.array([0.0, -1.0]))  # NaN, 0 and below: not data
    shown = [text for t, text in zip(axis["tickvals"], axis["ticktext"]) if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]
    assert axis["type"] == "log" and shown == within


def test_hovering_a_curve_reads_rounded_values():
    """The hover label of a curve reads 0.3095 and 92.2%, not float32 noise like 0.3094995 (the loss, health
    and notebook-pair axes alike)."""
    x, y = np.arange(3.0), np.array([2.3, 0.5, 0.3094995])
    assert charts.curves_figure(x, y, y, []).layout.yaxis.hoverformat == ".4g"
    assert charts.curves_figure(x, y / 3, y / 3, [], "accuracy").layout.yaxis.hoverformat == ".1%"
    assert charts.log_axis(y)["hoverformat"] == ".4g"
    pair = {"notebook": (x, y, y)}
    assert maths.pair_curves_figure(pair, "loss").layout.yaxis.hoverformat == ".4g"
    assert maths.pair_curves_figure(pair, "accuracy").layout.yaxis.hoverformat == ".1%"


def test_curves_are_downsampled_for_the_browser():
    """20,000 evaluations reach the browser as at most ~2,000 points per curve."""
    x = np.arange(20_000.0)
    fig = charts.curves_figure(x, np.random.rand(20_000), np.random.rand(20_000), [(0, 0.1)])
    assert all(len(trace.x) <= charts.MAX_POINTS for trace in fig.data)


def test_gallery_labels_true_predicted_and_confidence():
    """Each gallery tile is labelled "true→predicted confidence" and shows the image's pixels."""
    images = np.random.default_rng(2).integers(0, 256, (3, 784), dtype=np.uint8)
    fig = charts.gallery_figure(images, np.array([3, 5, 8]), np.array([5, 3, 0]), np.array([0.91, 0.5, 0.123]))
    assert [a.text for a in fig.layout.annotations] == ["3→5 91%", "5→3 50%", "8→0 12%"]
    r, c = charts.tile_origin(1, 3, label_gap=8)
    np.testing.assert_array_equal(fig.data[0].z[r:r + 28, c:c + 28], images[1].reshape(28, 28))


def test_gallery_title_sits_above_the_tiles_and_no_images_give_a_note():
    """A titled gallery makes room for its line above the tiles; an empty one says so instead of tiles."""
    images = np.zeros((9, 784), np.uint8)
    plain = charts.gallery_figure(images, np.zeros(9, int), np.ones(9, int), np.ones(9))
    titled = charts.gallery_figure(images, np.zeros(9, int), np.ones(9, int), np.ones(9), title="9 of 10 wrong")
    assert titled.layout.title.text == "9 of 10 wrong" and plain.layout.title.text is None
    assert titled.layout.margin.t - plain.layout.margin.t == titled.layout.height - plain.layout.height > 0
    empty = charts.gallery_figure(np.zeros((0, 784), np.uint8), np.zeros(0, int), np.zeros(0, int), np.zeros(0),
                                  title="0 of 10 wrong")
    assert len(empty.data) == 0 and empty.layout.title.text == "0 of 10 wrong"
    assert [a.text for a in empty.layout.annotations] == ["No misclassified dev images match the filter."]


def test_confusion_figure_has_a_clickable_point_per_cell():
    """The confusion matrix shows counts and carries one selectable point per (predicted, true) cell."""
    C = np.arange(100).reshape(10, 10)
    fig = charts.confusion_figure(C, selected=(3, None))
    heatmap, points = fig.data
    np.testing.assert_array_equal(heatmap.z, C)
    assert len(points.x) == 100 and (points.x[37], points.y[37], points.customdata[37]) == (7, 3, 37)
    frame = fig.layout.shapes[0]  # the selected row (true = 3) is outlined
    assert (frame.y0, frame.y1, frame.x0, frame.x1) == (2.5, 3.5, -0.5, 9.5)


def test_every_figure_carries_a_width_hint():
    """Each builder sets layout.width (Streamlit hides a new chart until it knows a width)."""
    x, y = np.arange(3.0), np.ones(3)
    figures = [charts.curves_figure(x, y, y, [(0, 0.1)], width=333),
               charts.weights_figure(np.ones((4, 784)), np.zeros(4, bool), width=333),
               charts.gallery_figure(np.zeros((2, 784), np.uint8), np.zeros(2, int), np.ones(2, int), np.ones(2),
                                     width=333),
               charts.confusion_figure(np.ones((10, 10), int), width=333)]
    assert [f.layout.width for f in figures] == [333] * 4


def test_loss_axis_is_log_with_plain_labels():
    """The loss axis is logarithmic with 1-2-5 ticks labelled as plain numbers."""
    yaxis = charts.curves_figure(np.arange(3.0), np.ones(3), np.ones(3), [(0, 0.1)]).layout.yaxis
    assert yaxis.type == "log" and "0.5" in yaxis.ticktext and "2" in yaxis.ticktext


def test_grid_shape_is_roughly_square_and_capped():
    """Grids are near-square and never wider than the cap."""
    assert charts.grid_shape(10) == (3, 4)
    assert charts.grid_shape(64) == (8, 8)
    assert charts.grid_shape(1) == (1, 1)
    assert charts.grid_shape(100, max_cols=8) == (13, 8)


def test_a_failed_run_curves_mark_the_failing_step():
    """A failure adds a red ✕ per curve at its step (a NaN at the last finite value) with the reason on hover."""
    x = np.array([0, 10, 20, 23])
    train, dev = np.array([2.3, 1.0, 0.8, 30.0]), np.array([2.3, 1.1, 0.9, np.nan])
    fig = charts.curves_figure(x, train, dev, [(0, 0.1), (20, 1.0)], failure=(23, "the loss exploded to 30"))
    marks = {t.name: t for t in fig.data if t.name.endswith("failed")}
    assert marks["train: failed"].y == (30.0,) and marks["dev: failed"].y == (0.9,)
    assert "NaN" in marks["dev: failed"].hovertemplate and "exploded" in marks["train: failed"].hovertemplate
    assert any(s.x0 == 23 and s.line.dash == "dash" for s in fig.layout.shapes)
    assert not [t for t in charts.curves_figure(x, train, dev, [(0, 0.1)]).data if t.name.endswith("failed")]
