"""Plotly figure builders for the "understand the math" views: NumPy in, `go.Figure` out, no Streamlit.

Notebook vs corrected curves, one tensor of a gradient-descent step, one digit's way through the
network (input, hidden activations, contributions, probabilities). Pure functions, so the tests
can check what a chart holds without a browser; mosaics reuse `dashboard.charts.figures`.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from dashboard.charts.figures import FONT, SIDE, WEIGHT_COLORS, downsample, mosaic

RUN_COLORS = {"notebook": "#d62728", "corrected": "#1f77b4"}  # red: as written, blue: corrected
DASH = {"train": "solid", "dev": "dot"}
MAX_TILES = 64  # 28x28 tiles drawn for one tensor
CHART_HEIGHT = 260


def _layout(title: str, height: int = CHART_HEIGHT, **extra) -> dict:
    """A compact layout with a small title."""
    return dict(title=dict(text=title, font=dict(size=13)), height=height, font=FONT,
                margin=dict(l=10, r=10, t=40, b=10), **extra)


def _two_places(z: float) -> str:
    """z to two decimals, without the "-0.00" of a tiny negative value."""
    text = f"{z:.2f}"
    return "0.00" if text == "-0.00" else text


# ----- notebook vs corrected ----------------------------------------------------------------------
def pair_curves_figure(runs: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], metric: str = "accuracy",
                       labels: dict[str, str] | None = None) -> go.Figure:
    """Train (solid) and dev (dotted) curves of several runs on one chart, one colour per run.

    `runs` maps a run name ("notebook", "corrected") to (iteration, train, dev); NaN dev values
    (not measured) leave no line. Shapes: each array (n,).
    """
    traces = []
    for name, (iteration, train, dev) in runs.items():
        color = RUN_COLORS.get(name, "#7f7f7f")
        label = (labels or {}).get(name, name)
        for split, values in (("train", train), ("dev", dev)):
            if np.isnan(values).all():
                continue
            x, y = downsample(iteration, values)
            traces.append(dict(type="scatter", x=x, y=y, mode="lines", name=f"{label} · {split}",
                               line=dict(color=color, width=2, dash=DASH[split])))
    accuracy = metric == "accuracy"
    layout = _layout("Accuracy" if accuracy else "Loss (cross-entropy)", height=330,
                     legend=dict(orientation="h", x=0, y=-0.3, yanchor="top"), hovermode="x unified",
                     uirevision=metric, xaxis=dict(title=dict(text="iteration"), rangemode="tozero"),
                     yaxis=dict(range=[0, 1.02], tickformat=".0%", hoverformat=".1%") if accuracy else
                     dict(rangemode="tozero", hoverformat=".4g"))
    return go.Figure(dict(data=traces, layout=layout))


# ----- one tensor ---------------------------------------------------------------------------------
def tensor_kind(T: np.ndarray) -> str:
    """How a tensor is best drawn: "tiles" (a 784 axis: 28x28 images), "bars" (a vector) or "heatmap"."""
    if T.ndim == 2 and SIDE * SIDE in T.shape:
        return "tiles"
    if T.ndim == 1 or 1 in T.shape:
        return "bars"
    return "heatmap"


def _colors(T: np.ndarray) -> dict:
    """Diverging colours centred on zero when a tensor has negative values, else a light-to-dark blue."""
    finite = T[np.isfinite(T)]
    low = float(finite.min()) if finite.size else 0.0
    if low < 0:
        limit = float(np.abs(finite).max()) or 1.0
        return dict(colorscale=WEIGHT_COLORS, zmid=0, zmin=-limit, zmax=limit)
    high = float(finite.max()) if finite.size else 1.0
    return dict(colorscale="Blues", zmin=0, zmax=high if high > 0 else 1.0)


def tensor_figure(T: np.ndarray, title: str, row_label: str = "row", col_label: str = "example") -> go.Figure:
    """One tensor of a step, drawn by `tensor_kind`: tiles, bars or a heatmap (rows x columns).

    Tiles: X (784, m) shows each column as an image, dW1 (h, 784) each row; at most MAX_TILES.
    Shapes: T (r, c) or (n,).
    """
    kind = tensor_kind(T)
    if kind == "tiles":
        tiles = T.T if T.shape[0] == SIDE * SIDE else T  # (k, 784)
        return tiles_figure(tiles[:MAX_TILES], title + (f" (first {MAX_TILES})" if len(tiles) > MAX_TILES else ""))
    if kind == "bars":
        values = T.reshape(-1)
        return bars_figure(values, [str(i) for i in range(values.size)], title, x_title=row_label)
    rows, cols = T.shape
    heatmap = dict(type="heatmap", z=T, x=np.arange(cols), y=np.arange(rows), **_colors(T),
                   colorbar=dict(thickness=10), hovertemplate=f"{row_label} %{{y}}, {col_label} %{{x}}: "
                                                               "%{z:.4g}<extra></extra>")
    layout = _layout(title, xaxis=dict(title=dict(text=col_label), showgrid=False),
                     yaxis=dict(title=dict(text=row_label), autorange="reversed", showgrid=False,
                                dtick=1 if rows <= 16 else None))
    return go.Figure(dict(data=[heatmap], layout=layout))


def tiles_figure(tiles: np.ndarray, title: str, cols: int | None = None, height: int | None = None) -> go.Figure:
    """28x28 tiles in one heatmap mosaic with colours from `_colors`. Shapes: tiles (k, 784)."""
    k = len(tiles)
    cols = cols or max(1, min(k, 16))
    rows = math.ceil(k / cols) if k else 1
    Z = mosaic(tiles, cols)
    heatmap = dict(type="heatmap", z=Z, **_colors(tiles), hoverongaps=False, colorbar=dict(thickness=10),
                   hovertemplate="%{z:.4g}<extra></extra>")
    tile_px = min(90, 900 // cols)  # expected on-screen size of one tile
    layout = _layout(title, height=height or min(50 + rows * tile_px, 520),
                     xaxis=dict(visible=False, range=[-0.5, Z.shape[1] - 0.5], constrain="domain"),
                     yaxis=dict(visible=False, range=[Z.shape[0] - 0.5, -0.5], scaleanchor="x", constrain="domain"),
                     plot_bgcolor="rgba(0,0,0,0)")
    return go.Figure(dict(data=[heatmap], layout=layout))


def saliency_figure(grid: np.ndarray, x: np.ndarray, title: str, height: int = 470) -> go.Figure:
    """∂score/∂x as a 28x28 map on a colour scale symmetric around 0, the input digit's strokes outlined over it.

    Shapes: grid (784,), x (784,) pixels in 0..1 (the outline is where x crosses 0.5).
    """
    finite = np.abs(grid[np.isfinite(grid)])
    limit = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    heatmap = dict(type="heatmap", z=grid.reshape(SIDE, SIDE), colorscale=WEIGHT_COLORS, zmid=0, zmin=-limit,
                   zmax=limit, colorbar=dict(thickness=10), name="∂score/∂x",
                   hovertemplate="row %{y}, column %{x}: %{z:.3g}<extra></extra>")
    outline = dict(type="contour", z=x.reshape(SIDE, SIDE), contours=dict(start=0.5, end=0.5, size=1, coloring="none"),
                   line=dict(color="#111", width=2), showscale=False, hoverinfo="skip", name="the digit's strokes")
    layout = _layout(title, height=height, xaxis=dict(visible=False, range=[-0.5, SIDE - 0.5], constrain="domain"),
                     yaxis=dict(visible=False, range=[SIDE - 0.5, -0.5], scaleanchor="x", constrain="domain"),
                     plot_bgcolor="rgba(0,0,0,0)")
    return go.Figure(dict(data=[heatmap, outline], layout=layout))


def bars_figure(values: np.ndarray, names: list[str], title: str, x_title: str = "",
                highlight: int | None = None, percent: bool = False, height: int = CHART_HEIGHT) -> go.Figure:
    """A bar per value (positive red, negative blue), bar `highlight` outlined. Shapes: values (n,)."""
    values = np.asarray(values, dtype=float)
    colors = np.where(values >= 0, "#d6604d", "#4393c3").astype(object)
    width = np.zeros(values.size)
    if highlight is not None:
        width[highlight] = 3
    bar = dict(type="bar", x=names, y=values, marker=dict(color=colors, line=dict(color="#111", width=width)),
               hovertemplate="%{x}: %{y:" + (".2%" if percent else ".4g") + "}<extra></extra>")
    if percent:
        bar.update(text=[f"{v:.0%}" if v >= 0.005 else "" for v in values], textposition="outside")
    yaxis = dict(range=[0, 1.12], tickformat=".0%") if percent else dict(zeroline=True)
    layout = _layout(title, height=height, xaxis=dict(title=dict(text=x_title), type="category"), yaxis=yaxis,
                     bargap=0.15)
    return go.Figure(dict(data=[bar], layout=layout))


# ----- one digit ----------------------------------------------------------------------------------
def image_figure(image: np.ndarray, title: str, height: int = 260) -> go.Figure:
    """A 28x28 image in grey, ink dark on white, square pixels. Shapes: image (784,) or (28, 28)."""
    Z = np.asarray(image, dtype=float).reshape(SIDE, SIDE)
    heatmap = dict(type="heatmap", z=Z, colorscale="Greys", zmin=0, zmax=max(float(Z.max()), 1e-9),
                   showscale=False, hovertemplate="row %{y}, col %{x}: %{z:.3g}<extra></extra>")
    layout = _layout(title, height=height, xaxis=dict(visible=False, constrain="domain"),
                     yaxis=dict(visible=False, autorange="reversed", scaleanchor="x", constrain="domain"))
    return go.Figure(dict(data=[heatmap], layout=layout))


def contributions_figure(contributions: np.ndarray, b2: np.ndarray, Z2: np.ndarray,
                         highlight: int | None = None) -> go.Figure:
    """What each hidden neuron adds to each digit's logit (W2 * A1), with the bias and the total Z2.

    Row k: contributions[k, j] for each neuron j, then b2[k]; the row's sum is the logit Z2[k],
    written at its end. Shapes: contributions (10, h), b2 (10,), Z2 (10,).
    """
    h = contributions.shape[1]
    Z = np.column_stack([contributions, b2])  # (10, h+1)
    x = [f"n{j}" for j in range(h)] + ["b2"]
    limit = float(np.abs(Z).max()) or 1.0
    heatmap = dict(type="heatmap", z=Z, x=x, y=[str(k) for k in range(len(Z))], colorscale=WEIGHT_COLORS, zmid=0,
                   zmin=-limit, zmax=limit, showscale=False, xgap=1, ygap=1,
                   hovertemplate="digit %{y} ← %{x}: %{z:.3f}<extra></extra>")
    notes = [dict(x=1.0, xref="paper", xanchor="left", y=str(k), showarrow=False,
                  text=f"  Z2 = {_two_places(z)}" if k != highlight else f"  <b>Z2 = {_two_places(z)}</b>",
                  font=dict(size=10, color="#111" if k == highlight else "#555")) for k, z in enumerate(Z2)]
    layout = _layout("Contributions W2[k, j] · A1[j] to each logit (+ bias b2)", height=330, annotations=notes,
                     xaxis=dict(title=dict(text="hidden neuron j"), type="category", showgrid=False,
                                tickmode="auto" if h > 32 else "linear"),
                     yaxis=dict(title=dict(text="digit k"), type="category", autorange="reversed", showgrid=False))
    layout["margin"] = dict(l=10, r=70, t=40, b=10)
    return go.Figure(dict(data=[heatmap], layout=layout))
