"""Plotly figure builders for the dashboard: NumPy in, `go.Figure` out, no Streamlit.

Every builder is a pure function so the tests can check what a chart holds without a browser.
Images are drawn as one `go.Heatmap` mosaic each (one trace draws much faster than subplots).
"""

from __future__ import annotations

import math

import numpy as np
import plotly.colors
import plotly.graph_objects as go

SIDE = 28  # images are 28 x 28
MAX_POINTS = 600  # points per curve sent to the browser: the min and max of 299 buckets (`downsample`),
# one per 1.5-2 pixels of a live curve's plot. Plotly redraws by every point: a bare page redrawing two
# charts of two 2,000-point curves 4 times a second takes 0.19-0.21 cores of Chromium, of 500 points 0.15
# Diverging: blue < 0 < red, white at zero (zmid=0). Spelled out: plotly.js knows "RdBu" but not the
# reversed "RdBu_r", which only a go.Figure expands (the live maps are plain dicts, see `weights_spec`).
WEIGHT_COLORS = plotly.colors.get_colorscale("RdBu_r")
TRAIN_COLOR, DEV_COLOR = "#1f77b4", "#ff7f0e"
LR_COLOR = "#7f7f7f"
FAIL_COLOR = "#d62728"
DEAD_COLOR = "#111111"
FONT = dict(size=11)
# Ticks of the log-scale loss axis: 1-2-5 steps, labelled plainly (0.2, 0.5, 1, 2).
LOSS_TICKS = [m * 10.0**e for e in range(-4, 4) for m in (1, 2, 5)]
LOG_TICKS = [m * 10.0**e for e in range(-9, 5) for m in (1, 2, 5)]  # gradient norms and update sizes too
DECADES_FOR_125 = 2.5  # a log axis over more decades than this is labelled at powers of ten only
EMPTY_LOG_RANGE = [-3, 0]  # a log axis with nothing to show yet spans 0.001 to 1 (Plotly's own: 0.1 to 10,000)
# Every builder sets layout.width to the width it expects its column to have, and mosaics take their
# height from it; the chart is then drawn at its column's width (st.plotly_chart stretches, and so does
# livechart.js), the pixels staying square.


# ----- curves -----------------------------------------------------------------------------------
def downsample(x: np.ndarray, y: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most `max_points` points of (x, y) that keep the first, the last and each bucket's extremes.

    Min/max per bucket keeps spikes visible (a plain stride can skip a loss spike entirely).
    Shapes: x, y (n,) -> (k,), (k,) with k <= max(max_points, 2).
    """
    n = len(x)
    if n <= max_points:
        return x, y
    buckets = max(1, (max_points - 2) // 2)
    width = math.ceil(n / buckets)
    padded = np.full(buckets * width, np.nan)
    padded[:n] = y
    rows = padded.reshape(buckets, width)  # (buckets, width)
    offsets = np.arange(buckets) * width
    low = np.where(np.isnan(rows), np.inf, rows).argmin(axis=1) + offsets
    high = np.where(np.isnan(rows), -np.inf, rows).argmax(axis=1) + offsets
    keep = np.unique(np.concatenate(([0, n - 1], np.minimum(low, n - 1), np.minimum(high, n - 1))))
    return x[keep], y[keep]


def ema(y: np.ndarray, weight: float = 0.9) -> np.ndarray:
    """Bias-corrected exponential moving average (as TensorBoard smooths); NaNs stay NaN and are skipped.

    Shapes: y (n,) -> (n,).
    """
    y = np.asarray(y, dtype=float)
    if not len(y):
        return y  # a curve with no point yet (a range test drawn before its first step)
    seen = ~np.isnan(y)
    # s_t = sum_j (1-w) w^(t-j) y_j, divided by the same sum over ones (the bias correction);
    # the kernel is cut where w^k < 1e-12, so one convolution replaces a Python loop.
    length = min(len(y), int(np.ceil(np.log(1e-12) / np.log(weight))) if 0 < weight < 1 else 1)
    kernel = (1 - weight) * weight ** np.arange(max(length, 1))
    total = np.convolve(np.where(seen, y, 0.0), kernel)[:len(y)]
    norm = np.convolve(seen.astype(float), kernel)[:len(y)]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(seen, total / norm, np.nan)


def lr_markers(lr_changes: list[tuple[int, float]]) -> tuple[list[dict], list[dict]]:
    """Vertical dotted lines (shapes) and labels (annotations) at each learning-rate change after the start."""
    shapes, notes = [], []
    for iteration, lr in lr_changes[1:]:  # the first entry is the starting rate, not a change
        shapes.append(dict(type="line", xref="x", x0=iteration, x1=iteration, yref="paper", y0=0, y1=1,
                           line=dict(color=LR_COLOR, width=1, dash="dot")))
        notes.append(dict(x=iteration, xref="x", y=1, yref="paper", yanchor="bottom", showarrow=False,
                          text=f"α={lr:.3g}", font=dict(size=10, color=LR_COLOR)))
    return shapes, notes


def failure_markers(iteration: np.ndarray, series: dict[str, np.ndarray], failure: tuple[int, str]) -> tuple[list, list]:
    """A red ✕ per curve at a failed run's failing step, the reason on hover, and a dashed line there.

    A NaN at that step (the curve breaks) is marked at the curve's last finite value, "NaN" on hover.
    `failure` is (iteration, reason). Returns (traces, shapes). Shapes: iteration and each series (n,).
    """
    at, reason = failure
    traces = []
    for name, values in series.items():
        hit = np.flatnonzero(iteration == at)
        finite = np.flatnonzero(np.isfinite(values))
        if not hit.size or not finite.size:
            continue
        value = values[hit[-1]]
        shown = value if np.isfinite(value) else values[finite[-1]]
        label = f"{value:.3g}" if np.isfinite(value) else "NaN"
        traces.append(dict(type="scatter", x=[at], y=[shown], mode="markers", name=f"{name}: failed",
                           showlegend=False, marker=dict(symbol="x", size=13, color=FAIL_COLOR,
                                                         line=dict(width=1, color="white")),
                           hovertemplate=f"{name} {label}<br>stopped: {_wrapped(reason)}<extra></extra>"))
    line = dict(type="line", xref="x", x0=at, x1=at, yref="paper", y0=0, y1=1,
                line=dict(color=FAIL_COLOR, width=1, dash="dash"))
    return traces, [line]


def _wrapped(text: str, width: int = 60) -> str:
    """Hover text broken into lines of about `width` characters."""
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + len(word) > width:
            lines.append(line)
            line = ""
        line = f"{line} {word}".strip()
    return "<br>".join([*lines, line])


def curves_figure(iteration: np.ndarray, train: np.ndarray, dev: np.ndarray, lr_changes: list[tuple[int, float]],
                  metric: str = "loss", smooth: float | None = None, max_points: int = MAX_POINTS,
                  width: int = 300, failure: tuple[int, str] | None = None, height: int = 320) -> go.Figure:
    """Train and dev curves of one metric ("loss" or "accuracy") against iteration, with LR-change markers.

    With `smooth` (an EMA weight) the smoothed curves are drawn over faint raw ones; `width` and
    `height` are the expected size in pixels. `failure` (iteration, reason): the run failed there
    (its last evaluation), marked with a red ✕ per curve. Shapes: iteration, train, dev (n,).
    """
    spec = curves_spec(iteration, train, dev, lr_changes, metric, smooth, max_points, width, failure, height)
    return go.Figure(spec)  # one dict, validated once: 4x faster than add_trace


def curves_spec(iteration: np.ndarray, train: np.ndarray, dev: np.ndarray, lr_changes: list[tuple[int, float]],
                metric: str = "loss", smooth: float | None = None, max_points: int = MAX_POINTS,
                width: int = 300, failure: tuple[int, str] | None = None, height: int = 320) -> dict:
    """`curves_figure` as a plain figure dict, for a live chart (livechart takes dicts as they are):
    a go.Figure checks every property and deep-copies its template on the way to JSON, so a live
    feed spent 2.3 ms on each curve it sent (4 a second per chart) against 0.19 ms for the dict."""
    traces = []
    for name, values, color in (("train", train, TRAIN_COLOR), ("dev", dev, DEV_COLOR)):
        if smooth:
            x, y = downsample(iteration, values, max_points)
            traces.append(dict(type="scatter", x=x, y=y, mode="lines", line=dict(color=color, width=1), opacity=0.3,
                               name=f"{name} (raw)", showlegend=False, hoverinfo="skip"))
            values = ema(values, smooth)
        x, y = downsample(iteration, values, max_points)
        mode = "lines" if len(x) > 1 else "markers"  # a lone first evaluation is a dot
        traces.append(dict(type="scatter", x=x, y=y, mode=mode, name=name, line=dict(color=color, width=2)))
    shapes, notes = lr_markers(lr_changes)
    if failure is not None:
        marks, line = failure_markers(np.asarray(iteration), {"train": np.asarray(train, dtype=float),
                                                              "dev": np.asarray(dev, dtype=float)}, failure)
        traces += marks
        shapes = [*shapes, *line]
    accuracy = metric == "accuracy"
    layout = dict(
        title=dict(text="Accuracy" if accuracy else "Loss (cross-entropy)", font=dict(size=14), x=0.02,
                   xanchor="left"),  # left, clear of the mode bar at the top right
        # r=24: room for half the last x tick label, which sits on the right edge whenever the run's
        # iteration passes a round number (livechart.js redraws with the margins measured up to 2 s ago).
        shapes=shapes, annotations=notes, height=height, width=width, margin=dict(l=10, r=24, t=60, b=10),
        legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom"),
        hovermode="x unified", uirevision=metric, font=FONT,
        xaxis=dict(title=dict(text="iteration"), rangemode="tozero"),
        yaxis=dict(range=[0, 1.02], tickformat=".0%", hoverformat=".1%") if accuracy else loss_axis(train, dev),
    )
    return dict(data=traces, layout=layout)


def loss_axis(*curves: np.ndarray) -> dict:
    """The log-scale loss axis: ticks at 1-2-5 steps (0.2, 0.5, 1, 2), and where fewer than two of those fall
    within the curves (a run's first updates: 2.28 to 2.21 after Step 1), round values between them too, so
    that the axis is never bare."""
    return log_axis(*curves, ticks=LOSS_TICKS)


def log_axis(*curves: np.ndarray, ticks: list[float] = LOG_TICKS) -> dict:
    """A log axis labelled in plain numbers ("0.05", "2e-4"): at `ticks` (1-2-5 steps, and a 3 where a curve
    ends between a 2 and a 5, see `_threes`), only at powers of ten when the curves span more than
    DECADES_FOR_125 decades (or hold nothing yet), and at round values between two ticks when fewer than two
    of them fall within the curves. Plotly's own labels of a short log axis are lone digits
    ("6 5 4 3 2 10⁻¹ 9 8"), which read as nothing."""
    values = positive(*curves)
    lo, hi = (values.min(), values.max()) if values.size else (None, None)
    if lo is None or (hi > lo and math.log10(hi / lo) > DECADES_FOR_125):  # nothing yet, or many decades
        ticks = [t for t in ticks if f"{t:e}".startswith("1.")]
    elif hi > lo and sum(lo <= t <= hi for t in ticks) < 2:
        ticks = sorted({*ticks, *_round_ticks(lo, hi)})
    else:
        ticks = sorted({*ticks, *_threes(lo, hi)})
    axis = dict(type="log", tickvals=ticks, ticktext=[tick_text(t) for t in ticks], hoverformat=".4g")
    if lo is None:  # nothing measured yet (gradients before the first step): a few decades, a label each
        axis["range"] = EMPTY_LOG_RANGE
    return axis


def _threes(lo: float, hi: float) -> list[float]:
    """3 x 10^k where the curves' low end lies between 2 and 3 x 10^k, or their high end between 3 and 5 x 10^k:
    1-2-5 labels alone leave such an end up to 2.5 times from the nearest label in view (a paused loss curve
    ending at 0.23, just above the 0.2 outside the axis, read against 0.5)."""
    low, high = (10.0 ** math.floor(math.log10(v) + 1e-9) for v in (lo, hi))
    ends = [3 * low] if 2 * low < lo <= 3 * low else []
    ends += [3 * high] if 3 * high <= hi < 5 * high else []
    return [float(f"{t:.12g}") for t in ends]


def positive(*curves: np.ndarray) -> np.ndarray:
    """The finite values above zero of all the curves, flat: what a log axis can show."""
    values = np.concatenate([np.asarray(c, dtype=float).ravel() for c in curves])
    return values[np.isfinite(values) & (values > 0)]


def tick_text(t: float) -> str:
    """A tick's label: plain from 0.001 up ("0.05", "2", "100"), else with a power of ten ("2e-4", "1.5e-5")."""
    if t >= 1e-3:
        return f"{t:g}"
    exponent = math.floor(math.log10(t) + 1e-9)
    return f"{t / 10.0**exponent:.3g}e{exponent}"


def _round_ticks(lo: float, hi: float, want: int = 3) -> list[float]:
    """At least `want` round values (multiples of a 1, 2 or 5 x 10^k step, the largest that gives as many)
    from lo to hi."""
    exponent = math.floor(math.log10(hi - lo))
    for step in (m * 10.0**e for e in range(exponent, exponent - 3, -1) for m in (5, 2, 1)):
        first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)  # 2.28 / 0.02 = 113.99...
        if last - first + 1 >= want:
            return [float(f"{k * step:.12g}") for k in range(first, last + 1)]
    return []


# ----- image mosaics ----------------------------------------------------------------------------
def grid_shape(n: int, max_cols: int = 8) -> tuple[int, int]:
    """(rows, cols) for n tiles in a roughly square grid at most `max_cols` wide (10 -> 3 x 4, 64 -> 8 x 8)."""
    cols = max(1, min(math.ceil(math.sqrt(n)), max_cols))
    return math.ceil(n / cols) if n else 1, cols


def tile_origin(k: int, cols: int, gap: int = 2, label_gap: int = 0) -> tuple[int, int]:
    """(row, column) in the mosaic of tile k's top-left pixel (tiles fill rows left to right)."""
    return label_gap + (k // cols) * (SIDE + gap + label_gap), (k % cols) * (SIDE + gap)


def mosaic(tiles: np.ndarray, cols: int, gap: int = 2, label_gap: int = 0, fill=np.nan,
           dtype=np.float32) -> np.ndarray:
    """Lay 28x28 tiles out in a grid with `fill` between them (NaN is drawn as background).

    Shapes: tiles (k, 784) -> (rows*(28+gap+label_gap)-gap, cols*(28+gap)-gap).
    """
    k = len(tiles)
    rows = math.ceil(k / cols) if k else 1
    Z = np.full((rows * (SIDE + gap + label_gap) - gap, cols * (SIDE + gap) - gap), fill, dtype)
    for i, tile in enumerate(tiles):
        r, c = tile_origin(i, cols, gap, label_gap)
        Z[r:r + SIDE, c:c + SIDE] = tile.reshape(SIDE, SIDE)
    return Z


def _image_layout(Z: np.ndarray, height: int, width: int, top: int = 30) -> dict:
    """Layout for a mosaic: square pixels, row 0 at the top, no axes, `top` pixels above for a title."""
    return dict(width=width,
        xaxis=dict(visible=False, range=[-0.5, Z.shape[1] - 0.5], constrain="domain"),
        yaxis=dict(visible=False, range=[Z.shape[0] - 0.5, -0.5], scaleanchor="x", constrain="domain"),
        height=height, margin=dict(l=0, r=0, t=top, b=0), font=FONT,
        plot_bgcolor="rgba(0,0,0,0)", paper_bgcolor="rgba(0,0,0,0)",
    )


def dead_marker(row: int, col: int) -> list[dict]:
    """Shapes that grey out the tile at (row, col) and cross it out: a frame and its two diagonals."""
    x0, x1, y0, y1 = col - 0.5, col + SIDE - 0.5, row - 0.5, row + SIDE - 0.5
    line = dict(color=DEAD_COLOR, width=2)
    return [dict(type="rect", x0=x0, x1=x1, y0=y0, y1=y1, line=line, fillcolor="rgba(128,128,128,0.45)"),
            dict(type="line", x0=x0, x1=x1, y0=y0, y1=y1, line=line),
            dict(type="line", x0=x0, x1=x1, y0=y1, y1=y0, line=line)]


def weights_figure(W1: np.ndarray, dead: np.ndarray, first: int = 0, cols: int | None = None,
                   width: int = 300) -> go.Figure:
    """Each hidden neuron's 784 incoming weights as a 28x28 tile, colours centred on zero; dead ones crossed out.

    `first` is the number of the first neuron shown (for paging); `cols` tiles per row (default: a
    square grid) and `width`, the expected width in pixels, set the height. Shapes: W1 (k, 784), dead (k,) bool.
    """
    return go.Figure(weights_spec(W1, dead, first, cols, width))


def weights_spec(W1: np.ndarray, dead: np.ndarray, first: int = 0, cols: int | None = None,
                 width: int = 300) -> dict:
    """`weights_figure` as a plain figure dict, for a live chart: built once a second while a run trains,
    a go.Figure's checks and copies held the GIL beside the training thread (see `curves_spec`)."""
    k = len(W1)
    cols = cols or grid_shape(k)[1]
    rows = math.ceil(k / cols) if k else 1
    label_gap = 7
    Z = mosaic(W1, cols, label_gap=label_gap)
    limit = float(np.nanmax(np.abs(W1))) if W1.size else 1.0
    limit = limit if limit > 0 and math.isfinite(limit) else 1.0
    heatmap = dict(type="heatmap", z=Z, zmid=0, zmin=-limit, zmax=limit, colorscale=WEIGHT_COLORS,
                   hoverongaps=False, colorbar=dict(thickness=10, len=0.8, title=dict(text="w", side="right")),
                   hovertemplate="w = %{z:.3f}<extra></extra>")
    # Each tile's label sits just above it, as one text trace: as annotations, Plotly measured every
    # label on every redraw (64 tiles: 56 of a redraw's 62 ms went to them; as text, 30 in all).
    x, y, text, colors, shapes = [], [], [], [], []
    for i in range(k):
        r, c = tile_origin(i, cols, label_gap=label_gap)
        x.append(c + SIDE / 2 - 0.5)
        y.append(r - 1)
        text.append(f"{first + i}" if cols > 5 else f"n{first + i}" + (" dead" if dead[i] else ""))
        colors.append(DEAD_COLOR if dead[i] else "#555")
        if dead[i]:
            shapes += dead_marker(r, c)
    labels = dict(type="scatter", x=x, y=y, text=text, mode="text", textposition="top center",
                  textfont=dict(size=9 if cols > 5 else 11, color=colors), hoverinfo="skip", showlegend=False)
    layout = dict(_image_layout(Z, height=40 + rows * (width // cols), width=width), shapes=shapes,
                  uirevision="weights", title=dict(text="Weights W1: one 28x28 tile per neuron", font=dict(size=14)))
    return dict(data=[heatmap, labels], layout=layout)


def gallery_figure(images: np.ndarray, true: np.ndarray, pred: np.ndarray, confidence: np.ndarray,
                   cols: int = 8, width: int = 560, title: str | None = None) -> go.Figure:
    """Misclassified images as one grey mosaic, each labelled "true→predicted confidence", under `title`
    (numbers and fixed words only: Plotly reads a few tags in it). No images: a note instead.

    Shapes: images (k, 784) uint8, true (k,), pred (k,), confidence (k,) in 0..1.
    """
    k = len(images)
    top = 26 if title else 0
    head = dict(title=dict(text=title, font=dict(size=13), x=0, xanchor="left", y=1, yanchor="top", pad=dict(t=4)))
    if k == 0:
        note = dict(text="No misclassified dev images match the filter.", x=0, xref="paper", y=1, yref="paper",
                    xanchor="left", yanchor="top", showarrow=False, font=dict(size=13))
        return go.Figure(dict(data=[], layout=dict(
            head if title else {}, height=top + 40, width=width, margin=dict(l=0, r=0, t=top, b=0), font=FONT,
            xaxis=dict(visible=False), yaxis=dict(visible=False), annotations=[note],
            plot_bgcolor="rgba(0,0,0,0)", paper_bgcolor="rgba(0,0,0,0)")))
    cols = max(1, min(cols, k))
    label_gap = 8
    Z = mosaic(images, cols, label_gap=label_gap, fill=0, dtype=np.uint8)  # 0 is white in "Greys": no NaN needed
    heatmap = dict(type="heatmap", z=Z, zmin=0, zmax=255, colorscale="Greys", showscale=False,
                   hovertemplate="pixel %{z}<extra></extra>")
    notes = []
    for i in range(k):
        r, c = tile_origin(i, cols, label_gap=label_gap)
        notes.append(dict(x=c + SIDE / 2 - 0.5, y=r - 1, text=f"{true[i]}→{pred[i]} {confidence[i]:.0%}",
                          showarrow=False, yanchor="bottom", font=dict(size=10)))
    rows = math.ceil(k / cols)
    layout = dict(_image_layout(Z, height=top + 10 + rows * 80, width=width, top=top), annotations=notes,
                  **(head if title else {}))
    return go.Figure(dict(data=[heatmap], layout=layout))


def confusion_figure(C: np.ndarray, selected: tuple[int | None, int | None] = (None, None),
                     width: int = 360) -> go.Figure:
    """Dev confusion matrix C[true, predicted] as a heatmap with counts, plus one clickable point per cell.

    Colours are capped at the largest off-diagonal count so mistakes stand out next to the big diagonal.
    A transparent marker sits on each cell because Plotly heatmap cells cannot be selected themselves.
    Shapes: C (10, 10).
    """
    k = len(C)
    off = C[~np.eye(k, dtype=bool)]
    cap = max(1, int(off.max()) if off.size else 1)
    digits = np.arange(k)
    heatmap = dict(type="heatmap", z=C, x=digits, y=digits, zmin=0, zmax=cap, colorscale="Blues", showscale=False,
                   text=C, texttemplate="%{text}", textfont=dict(size=10), hoverinfo="skip")
    px_, py_ = np.meshgrid(digits, digits)  # py_[i, j] = true i, px_[i, j] = predicted j
    points = dict(type="scatter", x=px_.ravel(), y=py_.ravel(), mode="markers", customdata=C.ravel(),
                  marker=dict(size=22, symbol="square", color="rgba(0,0,0,0)"), showlegend=False,
                  hovertemplate="true %{y}, predicted %{x}: %{customdata}<extra></extra>")
    shapes = []
    true, pred = selected
    if true is not None or pred is not None:
        shapes.append(dict(
            type="rect", line=dict(color="#d62728", width=2),
            x0=(pred - 0.5) if pred is not None else -0.5, x1=(pred + 0.5) if pred is not None else k - 0.5,
            y0=(true - 0.5) if true is not None else -0.5, y1=(true + 0.5) if true is not None else k - 0.5,
        ))
    axis = dict(dtick=1, fixedrange=True, constrain="domain", showgrid=False, zeroline=False)
    layout = dict(
        xaxis=dict(axis, title=dict(text="predicted"), range=[-0.5, k - 0.5], side="top"),
        yaxis=dict(axis, title=dict(text="true"), range=[k - 0.5, -0.5], scaleanchor="x"),
        height=300, width=width, margin=dict(l=10, r=10, t=40, b=10), shapes=shapes, font=FONT,
        clickmode="event+select", dragmode=False, uirevision="confusion",
    )
    return go.Figure(dict(data=[heatmap, points], layout=layout))
