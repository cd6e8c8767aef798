"""Live charts pushed to the page: one HTTP stream per page instead of a Streamlit rerun per redraw (issue 16).

A fragment rerun is Streamlit's way to redraw a page, and each one costs the browser about 0.05
cores of React work whatever it draws (0.2 at four a second, measured), plus a script run on the
server. So the charts of a running run do not redraw through reruns: the full run registers them
here (`register`: a chart name -> how to build its figure from a snapshot) and hands each chart
the feed's URL; the charts' JS (livechart.js) opens one Server-Sent Events stream for all the feeds
the page draws (their tokens joined in one URL) and applies what comes. This module's route
(`routes`, served by the app's `st.App`) reads each feed's worker's latest snapshot every TICK
seconds and, when it changed, builds the figures (each at its own pace) and sends what changed since
the last event, in livechart's payload format. A feed's first payloads are whole figures, so a
reconnect starts clean. When a feed's run stops, it sends an `end` event; the page's status row then
asks for a rerun, which draws the run paused. An open stream counts as a page watching the run
(`Worker.seen`).

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

PATH = "/api/digit-lab/feed/{token}"  # under the server's base URL path (`routes`); tokens joined by ","
MAX_FEEDS = 16  # feeds one stream follows at most (a page draws three at a time)
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


def event(payloads, name: str | None = None) -> str:
    """One Server-Sent Event carrying `payloads` as JSON (NaN and inf already null)."""
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {json.dumps(payloads, separators=(',', ':'), allow_nan=False)}\n\n"


async def events(feeds: list[Feed], tick: float = TICK) -> AsyncIterator[str]:
    """One page's stream of its feeds: each message carries {feed token: {chart: payload}} for the feeds
    whose run changed. A feed whose run stopped sends its last payloads, then `end` (its token as data),
    and leaves the stream; a feed that was dropped (its page registered a new one, or closed) sends
    `gone`, which asks for nothing, and leaves it. The stream ends with its last feed.

    A page opens one stream for all the feeds it draws (livechart.js): a browser holds at most six
    connections to one server over HTTP/1.1, so a stream per feed left two visible Train views without
    a connection for a third tab's page. Figures are built on a worker thread (anyio's pool, one build
    at a time for all streams), so the server's event loop never waits on them.
    """
    streams = {f.token: Stream(f) for f in feeds}
    last: dict[str, Snapshot] = {}
    quiet = due = time.monotonic()  # looks on a fixed beat: building the figures does not slow it down
    while streams:
        out, ended, gone = {}, [], []
        for token, stream in list(streams.items()):
            if _feeds.get(token) is not stream.feed:  # dropped: its page drew the view again, or closed
                gone.append(token)
                continue
            snapshot = stream.feed.worker.snapshot
            if snapshot is last.get(token):
                continue
            last[token] = snapshot
            stream.feed.worker.seen()  # an open stream is a page watching the run (its idle clock starts again)
            payloads = await anyio.to_thread.run_sync(stream.payloads, snapshot, not snapshot.active,
                                                      limiter=_builder())
            if payloads:
                out[token] = payloads
            if not snapshot.active:
                ended.append(token)  # the run stopped: the page asks for a rerun that draws it paused
        for token in gone + ended:
            del streams[token]
        if out:
            yield event(out)
        for token in gone:
            yield event(token, "gone")
        for token in ended:
            yield event(token, "end")
        if out or gone or ended:
            quiet = time.monotonic()
        elif time.monotonic() - quiet > HEARTBEAT:
            quiet = time.monotonic()
            yield ": still here\n\n"
        if streams:
            due = max(due + tick, time.monotonic())
            await asyncio.sleep(due - time.monotonic())


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
        tokens = list(dict.fromkeys(request.path_params["token"].split(",")))[:MAX_FEEDS]
        found = [f for f in map(find, tokens) if f is not None]
        if not found:
            return Response("No such feed (the page was reloaded or the server restarted).", status_code=404)
        if not any(f.worker.snapshot.active for f in found):
            return Response(status_code=204)  # nothing will come: EventSource then stops reconnecting
        # A token the server no longer knows beside known ones was dropped by its page's own rerun, whose
        # new feed is on its way: it is simply not followed.
        return StreamingResponse(events(found), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    made = [Route(livechart.base_path(base_url_path) + PATH, serve, methods=["GET"])]
    _routes[:] = made
    return made
