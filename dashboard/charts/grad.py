"""Plotly figures of the backward pass: what the next step pushes, and how big the steps are.

NumPy in, `go.Figure` out, no Streamlit (like charts.py, whose mosaic and markers they reuse).
- `layer_figure`: per hidden neuron a 28x28 tile of W1, of the batch's dW1 or of the last ΔW1,
  on one zero-centred colour scale for the whole tensor; the output layer beside it is `output_figure`.
- `health_figure`: each layer's gradient norm and update-to-weight ratio over iterations,
  with the α changes marked and the healthy ~1e-3 band shaded.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from dashboard.charts import figures as charts

# What the tiles can show: (title, the symbol in the hover text)
TENSORS = {"W1": ("Weights W1", "w"), "dW1": ("Gradient dW1 (this batch)", "dw"),
           "ΔW1": ("Last step ΔW1", "Δw")}  # short: the tiles are 300 px wide; the widget's help says the rest
OUTPUT = {"W1": ("W2", "w"), "dW1": ("dW2", "dw"), "ΔW1": ("ΔW2", "Δw")}
HEALTHY_UPDATE = 1e-3  # ‖ΔW‖/‖W‖ per step: the one rule of thumb every view quotes (RULE_OF_THUMB)
HEALTHY = (HEALTHY_UPDATE / 10, HEALTHY_UPDATE * 10)  # the shaded band around it
RULE_OF_THUMB = (f"Rule of thumb: one step should change a layer by about ‖ΔW‖/‖W‖ ≈ {HEALTHY_UPDATE:g} (0.1%), "
                 f"as Stanford's CS231n notes put it (Karpathy, \"Neural Networks Part 3\": the ratio of updates "
                 f"to weights \"should be somewhere around 1e-3\"); much larger comes before blow-ups, much "
                 f"smaller means learning crawls.")
LAYER_COLORS = {"W1": "#1f77b4", "W2": "#2ca02c"}
NO_STEP_YET = "No step yet: the curves start with the first update."  # the health chart of a new run


def symmetric_limit(values: np.ndarray) -> float:
    """max |value| (finite, > 0), the half-range of a zero-centred colour scale."""
    finite = np.abs(values[np.isfinite(values)]) if values.size else np.zeros(0)
    limit = float(finite.max()) if finite.size else 0.0
    return limit if limit > 0 else 1.0


def layer_figure(tensor: np.ndarray, kind: str, dead: np.ndarray, first: int = 0, cols: int | None = None,
                 width: int = 300) -> go.Figure:
    """Tiles of W1, dW1 or ΔW1 (`kind`, a TENSORS key), one per neuron, dead ones crossed out.

    Shapes: tensor (k, 784), dead (k,) bool.
    """
    return go.Figure(layer_spec(tensor, kind, dead, first, cols, width))


def layer_spec(tensor: np.ndarray, kind: str, dead: np.ndarray, first: int = 0, cols: int | None = None,
               width: int = 300) -> dict:
    """`layer_figure` as a plain figure dict, what the Train view's live tiles send (see `charts.weights_spec`)."""
    figure = charts.weights_spec(tensor, dead, first, cols, width)
    title, symbol = TENSORS[kind]
    limit = symmetric_limit(tensor)
    heatmap = figure["data"][0]  # the tiles (the second trace is their labels)
    heatmap.update(zmin=-limit, zmax=limit, hovertemplate=f"{symbol} = %{{z:.3g}}<extra></extra>",
                   colorbar=dict(thickness=10, len=0.8, title=dict(text=symbol, side="right")))
    figure["layout"].update(title=dict(text=title, font=dict(size=13)), uirevision=f"layer {kind}")
    return figure


def output_figure(tensor: np.ndarray, kind: str, width: int = 300) -> go.Figure:
    """The output layer's W2, dW2 or ΔW2 as a 10 x h heatmap, zero-centred: row = digit, column = hidden unit.

    Shapes: tensor (10, h).
    """
    return go.Figure(output_spec(tensor, kind, width))


def output_spec(tensor: np.ndarray, kind: str, width: int = 300) -> dict:
    """`output_figure` as a plain figure dict, what the Train view's live W2 map sends."""
    name, symbol = OUTPUT[kind]
    limit = symmetric_limit(tensor)
    h = tensor.shape[1]
    heatmap = dict(type="heatmap", z=tensor, zmid=0, zmin=-limit, zmax=limit, colorscale=charts.WEIGHT_COLORS,
                   x=np.arange(h), y=np.arange(10), colorbar=dict(thickness=10, len=0.9),
                   hovertemplate=f"digit %{{y}} ← unit %{{x}}: {symbol} = %{{z:.3g}}<extra></extra>")
    layout = dict(title=dict(text=f"{name} (10 × {h})", font=dict(size=13)), width=width,
                  height=120 + 12 * 10, margin=dict(l=10, r=10, t=40, b=10), font=charts.FONT,
                  xaxis=dict(title=dict(text="hidden unit"), dtick=1 if h <= 16 else None, constrain="domain"),
                  yaxis=dict(title=dict(text="digit"), dtick=1, autorange="reversed"), uirevision=f"output {kind}")
    return dict(data=[heatmap], layout=layout)


def health_figure(iteration: np.ndarray, grads: dict[str, np.ndarray], updates: dict[str, np.ndarray],
                  lr_changes: list[tuple[int, float]], width: int = 600) -> go.Figure:
    """Gradient norm ‖dW‖ (left axis) and update ratio ‖ΔW‖/‖W‖ (right axis) per layer, log scales.

    `grads` and `updates` map "W1"/"W2" to (n,) arrays (NaN where not measured yet).
    """
    traces = []
    for layer, color in LAYER_COLORS.items():
        for values, axis, dash, label in ((grads[layer], "y", "solid", f"‖d{layer}‖"),
                                          (updates[layer], "y2", "dot", f"‖Δ{layer}‖/‖{layer}‖")):
            x, y = charts.downsample(iteration, np.where(values > 0, values, np.nan))
            traces.append(dict(type="scatter", x=x, y=y, mode="lines" if len(x) > 1 else "markers", name=label,
                               yaxis=axis, line=dict(color=color, width=2, dash=dash)))
    shapes, notes = charts.lr_markers(lr_changes)
    if not charts.positive(*grads.values()).size:  # iteration 0: no gradient measured yet, nothing to draw
        notes.append(dict(text=NO_STEP_YET, xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False))
    shown = _band_range(updates)
    shapes.append(dict(type="rect", xref="paper", x0=0, x1=1, yref="y2", y0=HEALTHY[0], y1=HEALTHY[1],
                       fillcolor="rgba(44,160,44,0.08)", line=dict(width=0), layer="below"))
    layout = dict(
        title=dict(text="Gradient norms and update size per step (shaded: healthy ≈ 1e-3)", font=dict(size=13)),
        width=width, height=300, margin=dict(l=10, r=24, t=60, b=10), font=charts.FONT, shapes=shapes,  # as the curves
        annotations=notes, hovermode="x unified", uirevision="health",
        legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom"),
        xaxis=dict(title=dict(text="iteration"), rangemode="tozero"),
        yaxis=dict(charts.log_axis(*grads.values()), title=dict(text="gradient norm")),
        yaxis2=dict(charts.log_axis(np.array(shown)), title=dict(text="update / weight"), overlaying="y",
                    side="right", showgrid=False, range=[math.log10(v) for v in shown]),
    )
    return go.Figure(dict(data=traces, layout=layout))


def _band_range(updates: dict[str, np.ndarray]) -> tuple[float, float]:
    """The update axis's extent: the ratios and the healthy band, with room above and below the band, so
    that the band reads as a band (left to Plotly, the axis fits the band alone and all of it is shaded)."""
    values = charts.positive(*updates.values())
    lo = min(HEALTHY[0], values.min(initial=HEALTHY[0])) / 4
    hi = max(HEALTHY[1], values.max(initial=HEALTHY[1])) * 4
    return lo, hi


def health_note(updates: dict[str, np.ndarray]) -> str | None:
    """A warning when the newest update ratio is far outside the healthy band, else None."""
    worst = {layer: float(v[-1]) for layer, v in updates.items() if len(v) and math.isfinite(v[-1])}
    high = [layer for layer, r in worst.items() if r > 10 * HEALTHY[1]]
    if high:
        return (f"{', '.join(high)} moved by {max(worst[l] for l in high):.0%} of its size in one step: steps this "
                f"large usually come just before the loss blows up. Try a smaller α.")
    low = [layer for layer, r in worst.items() if r < HEALTHY[0] / 10]
    if low and len(low) == len(worst):
        return "Every layer moves by less than 0.001% per step: training has all but stopped (α too small?)."
    return None
