"""Live charts pushed to the page: one HTTP stream per page instead of a Streamlit rerun per redraw (issue 16).

A fragment rerun is Streamlit's way to redraw a page, and each one costs the browser about 0.05
cores of React work whatever it draws (0.2 at four a second, measured), plus a script run on the
server. So the charts of a running run do not redraw through reruns: the full run registers them
here (`register`: a chart name -> how to build its figure from a snapshot) and hands each chart
the feed's URL; the charts' JS (livechart.js) opens one Server-Sent Events stream for the page
and applies what comes. This module's route (`routes`, served by the app's `st.App`) reads the
worker's latest snapshot every TICK seconds and, when it changed, builds the figures (each at
its own pace) and sends what changed since the last event, in livechart's payload format. The
first event of a stream carries whole figures, so a reconnect starts clean. When the run stops,
the stream ends with an `end` event; the page's status row then asks for a rerun, which draws the run
paused. An open stream counts as a page watching the run (`Worker.seen`).

A feed's URL holds a random token that is not in the page's link; it grants reading that run's
charts, no more. Tokens are dropped when their session registers the view again or ends. Nothing
here imports Streamlit's script API: the route runs outside any session.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio

from dashboard.charts import livechart
from dashboard.runs.worker import Snapshot, Worker

PATH = "/api/digit-lab/feed/{token}"  # under the server's base URL path (`routes`)
TICK = 0.25  # seconds between looks at the snapshot (at most four events a second)
HEARTBEAT = 15.0  # seconds between comment lines on a quiet stream (proxies close idle connections)


@dataclass(frozen=True)
class Chart:
    """One chart of a feed: its figure from a snapshot, as `live_chart` would draw it."""

    build: Callable[[Snapshot], Any]  # snapshot -> plotly figure (go.Figure or dict), or a status row
    every: float = 0.0  # seconds between rebuilds while running: 0 at every look (weight maps: slower)
    config: Mapping | None = None  # Plotly's config, as given to `live_chart`


@dataclass(eq=False)
class Feed:
    """What one page's view watches: a worker and its charts, by name (the charts' keys)."""

    worker: Worker
    charts: Mapping[str, Chart]
    session: str
    view: str
    token: str = field(default_factory=lambda: secrets.token_urlsafe(16))


_feeds: dict[str, Feed] = {}  # token -> feed (dict operations are atomic: script threads add, the loop reads)
_builders: list = []  # [anyio.CapacityLimiter(1)], made in the event loop: one figure build at a time
_routes: list = []  # the routes made for this process's server (empty: none serves feeds, as under AppTest)


def register(worker: Worker, charts: Mapping[str, Chart], session: str, view: str) -> Feed:
    """A new feed for `view` of `session`; the session's previous feed of that view is dropped."""
    for old in [f for f in list(_feeds.values()) if (f.session, f.view) == (session, view)]:
        _feeds.pop(old.token, None)
    feed = Feed(worker, dict(charts), session, view)
    _feeds[feed.token] = feed
    return feed


def release(session: str) -> None:
    """The session ended: its feeds go (an open stream ends at its next look)."""
    for feed in [f for f in list(_feeds.values()) if f.session == session]:
        _feeds.pop(feed.token, None)


def find(token: str) -> Feed | None:
    return _feeds.get(token)


def served() -> bool:
    """Whether this process's server serves feeds (the app's `st.App` took `routes()`)."""
    return bool(_routes)


def url(feed: Feed, base_url_path: str = "") -> str:
    """The feed's address on this server (absolute path, under Streamlit's `server.baseUrlPath`)."""
    return livechart.base_path(base_url_path) + PATH.format(token=feed.token)


# ----- one stream ------------------------------------------------------------------------------------
@dataclass
class Stream:
    """What one open stream has sent: per chart, livechart's `Sent` and when it was built."""

    feed: Feed
    sent: dict[str, Any] = field(default_factory=dict)  # livechart.Sent per chart (a status row: its payload)
    built: dict[str, float] = field(default_factory=dict)

    def payloads(self, snapshot: Snapshot, final: bool = False) -> dict[str, dict]:
        """Each chart's payload for `snapshot`: those due (all when `final`) and changed since the last."""
        now, out = time.monotonic(), {}
        for name, chart in self.feed.charts.items():
            if not final and name in self.built and now - self.built[name] < chart.every - TICK / 2:
                continue
            self.built[name] = now
            built = chart.build(snapshot)
            if isinstance(built, dict) and "status" in built:  # a status row (livechart.status_payload): text, whole
                if built != self.sent.get(name):
                    self.sent[name] = out[name] = built
                continue
            previous = self.sent.get(name)
            sent = livechart.next_sent(previous, built, config=chart.config)
            # A stream is ordered and lossless: what was sent is drawn (no confirmation round trip).
            self.sent[name] = livechart.confirmed(sent)
            if sent is not previous:
                out[name] = sent.payload
        return out


def event(payloads: dict, name: str | None = None) -> str:
    """One Server-Sent Event carrying `payloads` as JSON (NaN and inf already null)."""
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {json.dumps(payloads, separators=(',', ':'), allow_nan=False)}\n\n"


async def events(feed: Feed, tick: float = TICK) -> AsyncIterator[str]:
    """The stream of a feed: changed payloads while its run is active, then its last ones and `end`; or
    `gone` once the feed was dropped (its page registered a new one, or closed), which asks for nothing.

    Figures are built on a worker thread (anyio's pool, one build at a time for all streams), so the
    server's event loop never waits on them.
    """
    stream, last, quiet = Stream(feed), None, time.monotonic()
    due = time.monotonic()  # looks on a fixed beat: building the figures does not slow it down
    while _feeds.get(feed.token) is feed:
        snapshot = feed.worker.snapshot
        if snapshot is not last:
            last = snapshot
            feed.worker.seen()  # an open stream is a page watching the run (its idle clock starts again)
            payloads = await anyio.to_thread.run_sync(stream.payloads, snapshot, not snapshot.active,
                                                      limiter=_builder())
            if payloads:
                quiet = time.monotonic()
                yield event(payloads)
            if not snapshot.active:
                break
        elif time.monotonic() - quiet > HEARTBEAT:
            quiet = time.monotonic()
            yield ": still here\n\n"
        due = max(due + tick, time.monotonic())
        await asyncio.sleep(due - time.monotonic())
    else:  # dropped: its page drew the view again (a feed of its own now) or closed
        yield event({}, "gone")
        return
    yield event({}, "end")  # the run stopped: the page asks for a rerun that draws it paused


def _builder() -> anyio.CapacityLimiter:
    """The one lane all streams build figures in: a build takes a few ms, and streams that take turns
    leave the cores to training and need one thread (one malloc arena) rather than one each."""
    if not _builders:
        _builders.append(anyio.CapacityLimiter(1))
    return _builders[0]


# ----- the route ------------------------------------------------------------------------------------
def routes(base_url_path: str = "") -> list:
    """The feed's Starlette route, for `st.App(routes=...)` (dashboard/app.py)."""
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    async def serve(request) -> Response:
        feed = find(request.path_params["token"])
        if feed is None:
            return Response("No such feed (the page was reloaded or the server restarted).", status_code=404)
        if not feed.worker.snapshot.active:
            return Response(status_code=204)  # nothing will come: EventSource then stops reconnecting
        return StreamingResponse(events(feed), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    made = [Route(livechart.base_path(base_url_path) + PATH, serve, methods=["GET"])]
    _routes[:] = made
    return made
