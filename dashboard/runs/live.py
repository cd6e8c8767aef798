"""The dashboard's one way of watching a run: every view that shows a run while it trains goes through here.

Runs train on the server (`dashboard.runs.worker`): a page never steps an engine. A view's charts
follow a running run through a live feed (`feed`, dashboard/runs/feed.py; each drawn with `chart`): the
server pushes their changes to the browser, with no rerun per redraw, and so do the views' status rows (`row`,
`livechart.live_status`), whose feed's end asks for a full rerun that draws the run paused. A part of
a view is a fragment (`charts`, `fragment`) so that its own widgets and its charts' word back rerun
only that part; it ticks on a timer (every `every` seconds while the run is active, each tick
drawing the worker's latest snapshot) only on a server that serves no feeds, as under AppTest.
Passing `run_every=None` on a full rerun stops the ticks (every full rerun clears the timers), so a
paused run costs the browser nothing. When the worker stops by itself (done, failed, at its stop,
paused by the server), a tick asks for a full rerun, which redraws the buttons.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dashboard.charts.livechart import live_chart
from dashboard.runs import feed as feeds
from dashboard.runs.feed import Chart
from dashboard.runs.worker import Worker

TICK = feeds.TICK  # seconds between redraws while a run is active (4 a second), by a fragment or a feed
STATUS_EVERY = 1.0  # seconds between redraws of a view's status figures while its charts have a feed
# Drag zooms and a double click resets, so the mode bar keeps only what those do not: save, zoom, pan, reset.
# Seven buttons covered the title of a 300-pixel curve whenever the pointer was over it.
CHART_CONFIG = {"displaylogo": False,
                "modeBarButtonsToRemove": ["lasso2d", "select2d", "zoomIn2d", "zoomOut2d", "autoScale2d"]}


# ----- the fragment -----------------------------------------------------------------------------
def fragment(get: Callable[[], Worker | None], draw: Callable[[], None], key: str, every: float | None = TICK) -> None:
    """Draw `draw` as the live fragment `key`, redrawn every `every` seconds (None: never) while `get()`'s
    worker is active.

    Each tick tells the worker a page is watching (`seen`). When the run is no longer what the full
    run drew (another worker, or active where it was not, or the reverse) the tick reruns the whole
    page instead, which redraws the buttons and starts or stops the ticks. That covers a run that
    stopped by itself, and a click that never got its full run: Streamlit 1.67's page folds a click
    made while a fragment's rerun is pending (a live chart confirming its first figure) into that
    fragment's rerun, so Start's callback runs but only the fragment is redrawn.
    """
    worker = get()
    active = worker is not None and worker.snapshot.active
    if worker is not None:
        worker.seen()

    def tick() -> None:
        current = get()
        if current is not worker or (current is not None and current.snapshot.active != active):
            st.rerun()
        draw()
        if current is not None:
            current.seen()

    st.fragment(tick, run_every=every if active and every else None, key=key)()


def row(get: Callable[[], Worker | None], draw: Callable[[], None], key: str, every: float = STATUS_EVERY) -> None:
    """Draw a view's status row (`draw` calls `feed` and `livechart.live_status`).

    With feeds served it is drawn in the page's own flow, not in a fragment: the row's word back (its
    feed ended because the run stopped, or was refused by a server that no longer knows it, as after a
    replica died) then reruns the whole page. A rerun asked for by a fragment reaches a new server
    session as an unknown fragment, which Streamlit skips. Without feeds, a fragment `key` ticking
    every `every` seconds while the run is active.
    """
    if feeds.served():
        worker = get()
        if worker is not None:
            worker.seen()
        draw()
    else:
        fragment(get, draw, key, every)


# ----- the feed: charts pushed while the run trains ------------------------------------------------
def charts(get: Callable[[], Worker | None], draw: Callable[[], None], key: str, every: float = TICK) -> None:
    """Draw a view's charts (`draw` calls `feed` and draws each `live_chart(..., feed=url)`) as fragment `key`.

    With a feed the fragment has no timer: the charts follow the run by themselves, and a chart's word
    back to Python (or a widget of this part) reruns only this part. A server that serves no feeds
    (`feeds.served()`, e.g. a script not started through the app's `st.App`) gets a fragment ticking
    every `every` seconds instead.
    """
    fragment(get, draw, key, every=None if feeds.served() else every)


def chart(figure: Any, *, key: str, feed: str | None, config: Mapping | None = None,
          on_click: Callable[[float, float], None] | None = None) -> None:
    """A view's run chart: `livechart.live_chart`, following `feed` (the URL from `feed()`, None when the
    run is not active).

    With feeds served a chart changes either through its feed or, the run paused, by a rerun: it never
    needs the browser's confirmation of a whole figure (a rerun of its part, which could also swallow a
    click made meanwhile), so it is drawn `static`. Only the ticking fragment of a server without feeds
    sends new points on top of a confirmed figure.
    """
    live_chart(figure, key=key, config=dict(config) if config else None, on_click=on_click, feed=feed,
               static=feeds.served())


def feed(view: str, get: Callable[[], Worker | None], charts: Mapping[str, Chart]) -> str | None:
    """The URL of a new live feed of `charts` (by key) for `view`, or None when the run is not active
    or the server serves no feeds.

    Drawn with `live_chart(..., feed=url)`, each chart then follows the run without any rerun
    (dashboard/runs/feed.py). The session's previous feed of this view ends.
    """
    worker = get()
    if worker is None or not worker.snapshot.active or not feeds.served():
        return None
    session = _session()
    if session is None:
        return None
    registered = feeds.register(worker, charts, session, view)
    return feeds.url(registered, st.get_option("server.baseUrlPath") or "")


@st.cache_resource(scope="session", on_release=feeds.release, show_spinner=False)
def _session_feeds(session: str) -> str:
    """This browser session's id, cached so that its end drops its feeds (`on_release`)."""
    return session


def _session() -> str | None:
    ctx = get_script_run_ctx()
    return None if ctx is None else _session_feeds(ctx.session_id)
