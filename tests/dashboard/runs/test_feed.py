"""The live feed (dashboard/runs/feed.py): registration, the payloads of one stream, its events and its route."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import numpy as np
import pytest
from starlette.requests import Request

from dashboard.charts import livechart
from dashboard.runs import feed
from dashboard.runs.worker import PAUSED, RUNNING, Snapshot


def snapshot(n: int, status: str = RUNNING) -> Snapshot:
    """A published moment whose view is the first `n` points of a curve."""
    return Snapshot(status, n, 0.0, np.arange(n, dtype=float) ** 0.5)


def curve(snap: Snapshot) -> dict:
    y = snap.view
    return {"data": [{"type": "scatter", "x": np.arange(len(y)), "y": y}], "layout": {"title": {"text": "loss"}}}


class Counting:
    """A chart builder that counts its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, snap: Snapshot) -> dict:
        self.calls += 1
        return {"data": [{"type": "heatmap", "z": np.full((2, 2), float(snap.iteration))}], "layout": {}}


@pytest.fixture(autouse=True)
def no_feeds(monkeypatch):
    """Each test starts with no feeds and no route (restored afterwards: `routes()` fills the list)."""
    monkeypatch.setattr(feed, "_feeds", {})
    monkeypatch.setattr(feed, "_routes", [])


def test_a_server_serves_feeds_once_it_made_the_route():
    assert not feed.served()
    feed.routes()
    assert feed.served()


def worker(*snaps: Snapshot) -> SimpleNamespace:
    """A stand-in for a Worker: its snapshot, and how often a page was seen watching it."""
    run = SimpleNamespace(snapshot=snaps[0], looks=0)
    run.seen = lambda: setattr(run, "looks", run.looks + 1)
    return run


# ----- registration -------------------------------------------------------------------------------
def test_a_view_registered_again_drops_its_old_feed_only():
    first = feed.register(worker(snapshot(1)), {}, "s1", "train")
    other_view = feed.register(worker(snapshot(1)), {}, "s1", "lab")
    other_session = feed.register(worker(snapshot(1)), {}, "s2", "train")
    again = feed.register(worker(snapshot(1)), {}, "s1", "train")
    assert feed.find(first.token) is None
    assert feed.find(again.token) is again and again.token != first.token
    assert feed.find(other_view.token) is other_view and feed.find(other_session.token) is other_session


def test_a_session_that_ends_loses_its_feeds():
    mine = [feed.register(worker(snapshot(1)), {}, "s1", view) for view in ("train", "lab")]
    theirs = feed.register(worker(snapshot(1)), {}, "s2", "train")
    feed.release("s1")
    assert [feed.find(f.token) for f in mine] == [None, None]
    assert feed.find(theirs.token) is theirs


def test_the_url_sits_under_the_base_url_path():
    registered = feed.register(worker(snapshot(1)), {}, "s1", "train")
    assert feed.url(registered) == f"/api/digit-lab/feed/{registered.token}"
    assert feed.url(registered, "/lab/app/") == f"/lab/app/api/digit-lab/feed/{registered.token}"
    assert [r.path for r in feed.routes("lab/app")] == ["/lab/app/api/digit-lab/feed/{token}"]


# ----- one stream's payloads ------------------------------------------------------------------------
def test_a_stream_sends_whole_figures_first_then_new_points():
    stream = feed.Stream(feed.Feed(worker(snapshot(3)), {"loss": feed.Chart(curve)}, "s1", "train"))
    first = stream.payloads(snapshot(3))["loss"]
    assert "data" in first and len(first["data"][0]["x"]) == 3
    assert stream.payloads(snapshot(3)) == {}  # nothing new, nothing sent
    change = stream.payloads(snapshot(5))["loss"]
    assert "data" not in change and change["base"] == first["seq"]
    assert change["extend"] == [[0, 3, [3, 4], [pytest.approx(3 ** 0.5), 2.0]]]


def test_a_slow_chart_is_built_at_its_own_pace_and_once_more_at_the_end():
    maps = Counting()
    stream = feed.Stream(feed.Feed(worker(snapshot(1)), {"loss": feed.Chart(curve), "maps": feed.Chart(maps, every=60)},
                                   "s1", "train"))
    assert set(stream.payloads(snapshot(1))) == {"loss", "maps"}
    assert set(stream.payloads(snapshot(2))) == {"loss"} and maps.calls == 1
    assert set(stream.payloads(snapshot(3, PAUSED), final=True)) == {"loss", "maps"} and maps.calls == 2


def test_a_status_row_is_sent_whole_when_its_text_changed():
    def status(snap):
        return livechart.status_payload([("Iteration", f"{snap.iteration // 10 * 10:,}", None, None)])

    stream = feed.Stream(feed.Feed(worker(snapshot(1)), {"status": feed.Chart(status)}, "s1", "train"))
    assert stream.payloads(snapshot(1)) == {"status": {"status": [["Iteration", "0", None, None]], "note": None}}
    assert stream.payloads(snapshot(5)) == {}  # the same text: nothing sent
    assert stream.payloads(snapshot(1234))["status"]["status"] == [["Iteration", "1,230", None, None]]


def test_payloads_carry_no_nan():
    def broken(snap):
        return {"data": [{"type": "scatter", "x": [0, 1], "y": [1.0, float("nan")]}], "layout": {}}

    stream = feed.Stream(feed.Feed(worker(snapshot(1)), {"loss": feed.Chart(broken)}, "s1", "train"))
    text = feed.event(stream.payloads(snapshot(1)))
    assert json.loads(text.removeprefix("data: "))["loss"]["data"][0]["y"] == [1.0, None]


# ----- the stream of events ---------------------------------------------------------------------------
def collect(source, limit: int = 50) -> list[str]:
    async def run():
        out = []
        async for item in source:
            out.append(item)
            if len(out) >= limit:
                break
        return out

    return asyncio.run(run())


def parsed(events: list[str]) -> list[tuple[str, dict]]:
    out = []
    for text in events:
        if text.startswith(":"):
            continue
        name = text.split("\n")[0].removeprefix("event: ") if text.startswith("event:") else "message"
        out.append((name, json.loads(text.split("data: ", 1)[1])))
    return out


def test_events_follow_the_run_and_end_when_it_stops(monkeypatch):
    monkeypatch.setattr(feed, "HEARTBEAT", 0.05)  # the repeated snapshot sends nothing until a heartbeat
    run = worker(snapshot(2))
    registered = feed.register(run, {"loss": feed.Chart(curve)}, "s1", "train")
    moments = iter([snapshot(4), snapshot(4), snapshot(6, PAUSED)])

    async def run_it():
        out = []
        async for item in feed.events([registered], tick=0.01):
            out.append(item)
            run.snapshot = next(moments, run.snapshot)
        return out

    events = parsed(asyncio.run(run_it()))
    assert [name for name, _ in events] == ["message", "message", "message", "end"]
    assert events[-1][1] == registered.token  # which feed's run stopped
    assert run.looks == 4  # each of the 4 snapshots the stream took counts as a page watching (the idle clock)
    bodies = [body[registered.token]["loss"] for _, body in events[:3]]
    lengths = [len(b["data"][0]["x"]) if "data" in b else b["extend"][0][1] + len(b["extend"][0][2]) for b in bodies]
    assert lengths == [2, 4, 6]


def test_a_stream_whose_view_registered_a_new_feed_says_gone_not_end():
    """`end` makes the page ask for a rerun (the run stopped); a feed replaced by the page's own full run says
    `gone`, which asks for nothing (else every full run while training would ask for another)."""
    run = worker(snapshot(2))
    registered = feed.register(run, {"loss": feed.Chart(curve)}, "s1", "train")

    async def run_it():
        out = []
        async for item in feed.events([registered], tick=0.01):
            out.append(item)
            feed.register(run, {"loss": feed.Chart(curve)}, "s1", "train")  # a full run of the view
        return out

    assert parsed(asyncio.run(run_it())) == [("message", {registered.token: ANY_PAYLOADS}), ("gone", registered.token)]


def test_one_stream_follows_all_the_feeds_of_a_page_each_to_its_own_end():
    """A page's one stream carries each feed's payloads under its token; a feed whose run stopped sends `end`
    and leaves while the others go on; the stream ends with its last feed."""
    train, lab = worker(snapshot(2)), worker(snapshot(3))
    status = feed.register(train, {"loss": feed.Chart(curve)}, "s1", "status")
    charts = feed.register(train, {"loss": feed.Chart(curve)}, "s1", "train")
    sweep = feed.register(lab, {"loss": feed.Chart(curve)}, "s1", "sweep")
    moments = iter([(snapshot(4), snapshot(5, PAUSED)), (snapshot(6), None), (snapshot(7, PAUSED), None)])

    async def run_it():
        out = []
        async for item in feed.events([status, charts, sweep], tick=0.01):
            out.append(item)
            if not item.startswith("event:"):
                train.snapshot, stopped = next(moments, (train.snapshot, None))
                lab.snapshot = stopped or lab.snapshot
        return out

    events = parsed(asyncio.run(run_it()))
    assert sorted(events[0][1]) == sorted([status.token, charts.token, sweep.token])  # all three, whole
    assert all("data" in payloads["loss"] for payloads in events[0][1].values())
    assert sorted(events[1][1]) == sorted([status.token, charts.token, sweep.token])  # sweep's last payloads
    assert events[2] == ("end", sweep.token)
    assert sorted(events[3][1]) == sorted([status.token, charts.token])  # the sweep left the stream
    assert events[-2:] == [("end", status.token), ("end", charts.token)]


class _Any:
    def __eq__(self, other):
        return isinstance(other, dict) and "loss" in other


ANY_PAYLOADS = _Any()


# ----- the route -------------------------------------------------------------------------------------
def answer(token: str):
    (route,) = feed.routes()
    request = Request({"type": "http", "method": "GET", "path": feed.PATH.format(token=token), "headers": [],
                       "query_string": b"", "path_params": {"token": token}})
    return asyncio.run(route.endpoint(request))


def test_the_route_streams_an_active_run_and_refuses_the_rest():
    active = feed.register(worker(snapshot(2)), {"loss": feed.Chart(curve)}, "s1", "train")
    stopped = feed.register(worker(snapshot(2, PAUSED)), {"loss": feed.Chart(curve)}, "s1", "lab")
    response = answer(active.token)
    assert response.status_code == 200 and response.media_type == "text/event-stream"
    assert response.headers["cache-control"] == "no-store"
    assert answer(stopped.token).status_code == 204  # EventSource does not reconnect after a 204
    assert answer("not-a-token").status_code == 404


def test_the_route_takes_a_pages_feeds_in_one_url():
    """Tokens joined by commas: one stream when any of the known feeds is active (a token dropped by the page's
    own rerun beside them is left out), 204 when none is, 404 when the server knows none."""
    active = feed.register(worker(snapshot(2)), {"loss": feed.Chart(curve)}, "s1", "train")
    stopped = feed.register(worker(snapshot(2, PAUSED)), {"loss": feed.Chart(curve)}, "s1", "lab")
    both = answer(f"{stopped.token},{active.token},dropped-token")
    assert both.status_code == 200 and both.media_type == "text/event-stream"
    assert answer(f"{stopped.token},dropped-token").status_code == 204
    assert answer("dropped-token,another").status_code == 404


def test_a_chart_drawn_with_a_feed_is_sent_whole_and_names_it():
    previous = livechart.next_sent(None, curve(snapshot(3)))
    previous = livechart.next_sent(livechart.confirmed(previous), curve(snapshot(4)))
    assert "data" not in previous.payload  # without a feed: a change
    again = livechart.next_sent(livechart.stale(previous), curve(snapshot(5)))
    assert "data" in again.payload  # what live_chart(feed=...) sends: the feed's events build on a whole figure
