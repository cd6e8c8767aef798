"""A tiny live app for the live-chart tests and benchmark: 2 curves gain a point and a heatmap changes
on every fragment tick (0.2 s), the title every 5 ticks. `?chart=plotly` draws the same figure with
st.plotly_chart, `?chart=none` draws none (the bare fragment); `?heatmap_every=N` changes the heatmap
every N ticks (default 1); `?spacer=N` puts N pixels of empty space above the chart; `?charts=N` draws N
live charts of that figure (keys chart, chart1, ...); `?static=1` draws them `static` (each changed figure
sent whole); `?stop_after=N`: the figure stops changing after tick N. A button makes
a full rerun; a checkbox hides the chart (it is not drawn at all) and shows it again."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from dashboard.charts.livechart import live_chart

# A trace name a user could have typed: must show as text, never run as HTML.
HOSTILE = '<img src=x onerror="window.__xss=1">dev'


def figure(n: int, map_step: int, title: str) -> go.Figure:
    """Two curves of n points and a 16x16 map that depends on map_step."""
    t = np.arange(n)
    fig = go.Figure()
    fig.add_scatter(x=t, y=np.exp(-t / 50) + 0.05 * np.sin(t), name="train", xaxis="x", yaxis="y")
    fig.add_scatter(x=t, y=np.exp(-t / 60) + 0.05 * np.cos(t), name=HOSTILE, xaxis="x", yaxis="y")
    z = np.sin(np.add.outer(np.arange(16), np.arange(16)) / 3 + map_step / 5)  # (16, 16)
    fig.add_heatmap(z=z, colorscale="RdBu", zmid=0, xaxis="x2", yaxis="y2", showscale=False)
    fig.update_layout(height=360, margin=dict(l=40, r=10, t=30, b=30), title=title,
                      xaxis=dict(domain=[0, 0.6]), xaxis2=dict(domain=[0.7, 1]), yaxis2=dict(anchor="x2"),
                      hovermode="x")
    return fig


st.session_state.setdefault("tick", 0)
st.session_state.setdefault("full_runs", 0)
st.session_state.full_runs += 1
mode = st.query_params.get("chart", "live")
heatmap_every = int(st.query_params.get("heatmap_every", "1"))
st.button("Rerun", key="rerun")
if spacer := int(st.query_params.get("spacer", "0")):
    st.container(height=spacer, border=False)
st.caption(f"full runs: {st.session_state.full_runs}")
show = st.checkbox("Show chart", value=True, key="show")


@st.fragment(run_every=0.2)
def tick():
    st.session_state.tick += 1
    st.caption(f"tick {st.session_state.tick}")
    t = min(st.session_state.tick, int(st.query_params.get("stop_after", "1000000")))
    fig = figure(20 + t, t // heatmap_every, f"loss, part {t // 5}")
    if show and mode == "plotly":
        st.plotly_chart(fig, key="chart")
    elif show and mode == "live":
        for i in range(int(st.query_params.get("charts", "1"))):
            live_chart(fig, key=f"chart{i or ''}", static=st.query_params.get("static") == "1")


tick()
