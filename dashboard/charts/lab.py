"""Plotly figure builders for the LR lab: the sweep race, run overlays and the range test.

Pure functions, NumPy in and `go.Figure` out, like dashboard/charts/figures.py (whose downsampling and
smoothing they reuse), so the tests can read what a chart holds without a browser.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative, sample_colorscale

from dashboard.charts.figures import FONT, downsample, ema

BEST_ACC, BEST_LOSS, FAILED = "★", "◆", "✗"
RUN_COLORS = qualitative.D3
BAND_COLOR = "rgba(44, 160, 44, 0.18)"
SUGGEST_COLOR = "#2ca02c"
RAW_COLOR = "#9aa5b1"
LOSS_TICKS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100]  # labelled stops on a log loss axis


def _layout(title: str, metric: str, height: int = 330, x_title: str = "iteration") -> dict:
    """Shared layout: a title, legend on the right, log loss axis or a 0..100% accuracy axis."""
    accuracy = metric == "accuracy"
    return dict(
        title=dict(text=title, font=dict(size=14)), height=height, margin=dict(l=10, r=10, t=40, b=10),
        font=FONT, hovermode="closest", uirevision=title,
        legend=dict(font=dict(size=11), tracegroupgap=0, itemclick="toggle", itemdoubleclick="toggleothers"),
        xaxis=dict(title=dict(text=x_title), rangemode="tozero"),
        yaxis=dict(range=[0, 1.02], tickformat=".0%") if accuracy else dict(type="log", tickvals=LOSS_TICKS),
    )


def rate_colors(lrs: Sequence[float]) -> list[str]:
    """One colour per learning rate, ordered by log α (dark blue for the smallest, green-yellow for the largest)."""
    logs = np.log10(np.asarray(lrs, dtype=float))
    span = logs.max() - logs.min() if len(logs) else 0
    positions = (logs - logs.min()) / span * 0.85 if span > 0 else np.zeros(len(logs))
    return sample_colorscale("Viridis", list(positions))


def sweep_label(lr: float, failure_word: str | None, best_acc: bool, best_loss: bool) -> str:
    """A sweep run's legend entry: "α=0.18 ★◆", or "α=3 ✗ exploded"."""
    marks = (BEST_ACC if best_acc else "") + (BEST_LOSS if best_loss else "")
    if failure_word:
        return f"α={lr:g} {FAILED} {failure_word}"
    return f"α={lr:g} {marks}".rstrip()


def sweep_figure(lrs: Sequence[float], iterations: Sequence[np.ndarray], values: Sequence[np.ndarray],
                 failures: Sequence[str | None], best_acc: int | None, best_loss: int | None,
                 metric: str = "loss", split: str = "dev") -> go.Figure:
    """The runs of a sweep racing: one curve per α, the best runs thick, failed runs dotted and crossed out.

    `failures` holds each run's failure kind (or None). Shapes: iterations[i], values[i] (n_i,).
    """
    colors = rate_colors(lrs)
    traces = []
    for i, (lr, x, y, failure) in enumerate(zip(lrs, iterations, values, failures)):
        best = i in (best_acc, best_loss)
        x, y = downsample(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        width = 4 if best else 1.8
        traces.append(dict(type="scatter", x=x, y=y, mode="lines", name=sweep_label(lr, failure, i == best_acc,
                                                                                     i == best_loss),
                           line=dict(color=colors[i], width=width, dash="dot" if failure else "solid"),
                           legendgroup=f"run{i}", hovertemplate=f"α={lr:g}<br>%{{x}}: %{{y:.4g}}<extra></extra>"))
        if len(x) and (failure or best):
            traces.append(dict(type="scatter", x=x[-1:], y=y[-1:], mode="markers", showlegend=False,
                               legendgroup=f"run{i}", hoverinfo="skip",
                               marker=dict(symbol="x" if failure else "star" if i == best_acc else "diamond",
                                           size=14 if best else 12,
                                           color=colors[i], line=dict(width=1, color="#222"))))
    accuracy = metric == "accuracy"
    title = f"{split.capitalize()} {'accuracy' if accuracy else 'loss'} per α"
    return go.Figure(dict(data=traces, layout=_layout(title, metric, height=300)))


def overlay_figure(labels: Sequence[str], iterations: Sequence[np.ndarray], train: Sequence[np.ndarray],
                   dev: Sequence[np.ndarray], metric: str = "loss") -> go.Figure:
    """Selected runs on one chart, one colour each: dev solid, train dashed; the legend names each run.

    Shapes: iterations[i], train[i], dev[i] (n_i,).
    """
    traces = []
    for i, (label, x, tr, dv) in enumerate(zip(labels, iterations, train, dev)):
        color = RUN_COLORS[i % len(RUN_COLORS)]
        x = np.asarray(x, dtype=float)
        for split, values, dash in (("dev", dv, "solid"), ("train", tr, "dash")):
            xs, ys = downsample(x, np.asarray(values, dtype=float))
            traces.append(dict(type="scatter", x=xs, y=ys, mode="lines", name=label, legendgroup=label,
                               showlegend=split == "dev", line=dict(color=color, width=2.2 if split == "dev" else 1.4,
                                                                    dash=dash),
                               hovertemplate=f"{label} · {split}<br>%{{x}}: %{{y:.4g}}<extra></extra>"))
    name = "Accuracy" if metric == "accuracy" else "Loss"
    return go.Figure(dict(data=traces, layout=_layout(f"{name}: dev solid, train dashed", metric)))


def range_figure(lrs: np.ndarray, losses: np.ndarray, suggestion=None, smooth: float = 0.8) -> go.Figure:
    """The range test: batch loss against α (log axis), smoothed, with the suggested band and α marked.

    `suggestion` is a core.sweep.RangeSuggestion (lr, low, high) or None. Shapes: lrs, losses (n,).
    """
    lrs, losses = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
    traces = [dict(type="scatter", x=lrs, y=losses, mode="lines", name="batch loss",
                   line=dict(color=RAW_COLOR, width=1)),
              dict(type="scatter", x=lrs, y=ema(losses, smooth), mode="lines", name="smoothed",
                   line=dict(color="#1f77b4", width=2.5))]
    shapes, notes = [], []
    if suggestion is not None:
        # Shapes take data values on a log axis; annotations take log10 of them (Plotly's rule).
        shapes = [dict(type="rect", xref="x", yref="paper", x0=suggestion.low, x1=suggestion.high, y0=0, y1=1,
                       fillcolor=BAND_COLOR, line=dict(width=0), layer="below"),
                  dict(type="line", xref="x", yref="paper", x0=suggestion.lr, x1=suggestion.lr, y0=0, y1=1,
                       line=dict(color=SUGGEST_COLOR, width=2, dash="dash"))]
        notes = [dict(x=math.log10(suggestion.lr), xref="x", y=1, yref="paper", yanchor="bottom", showarrow=False,
                      text=f"suggested α = {suggestion.lr:.3g}", font=dict(color=SUGGEST_COLOR, size=12))]
    layout = _layout("Loss while α grows each step", "loss", height=340, x_title="α (log scale)")
    layout.update(shapes=shapes, annotations=notes, hovermode="x unified",
                  xaxis=dict(type="log", dtick=1, tickformat="~g", title=dict(text="α (log scale)")),
                  yaxis=dict(type="linear", title=dict(text="batch loss")),
                  legend=dict(orientation="h", x=0, y=-0.22))
    if len(losses):  # the blow-up at the end would squash the interesting part: cut at 1.5x the start
        layout["yaxis"]["range"] = [0, 1.05 * min(float(losses.max()), 1.5 * float(losses[0]))]
    return go.Figure(dict(data=traces, layout=layout))
