"""The Train view's charts follow a run through the live feed, in Chromium: one stream, the same chart
nodes, a hidden page that stops drawing and catches up when shown, and the feed (and the page's early
load of plotly.js) under a base URL path.

Needs Debian's /usr/bin/chromium and the playwright package; skipped without them (failed when CI=true).
"""

from __future__ import annotations

import subprocess
import sys
import time

from dashboard.charts.livechart import plotlyjs
from tests.dashboard.conftest import (APP, BACKGROUND_TAB, ROOT, browser_missing, delivered, free_port, main_area,
                                      open_app, require, stop_server, wait_healthy, wait_until)
from tests.dashboard.test_reload_browser import iteration

FEED = "/api/digit-lab/feed/"
# The loss chart as Plotly holds it: [points of its first trace, whether it is the node marked earlier].
LOSS = """() => {
  for (const gd of document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot')) {
    if (gd.layout && gd.layout.title && String(gd.layout.title.text || '').startsWith('Loss'))
      return [gd.data[0].x.length, gd.__marked === true];
  }
  return null;
}"""
MARK = """() => { for (const gd of document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot')) gd.__marked = true; }"""
# Keeps the page's EventSources, to read the URLs of those still open (`open_streams`).
COUNT_STREAMS = """() => {
  const Native = window.EventSource;
  window.__streams = [];
  window.EventSource = class extends Native {
    constructor(url) { super(url); window.__streams.push(this); }
  };
}"""


def open_streams(page) -> list[str]:
    """The URLs of the page's feed streams that are open or reconnecting (COUNT_STREAMS installed first)."""
    return page.evaluate("window.__streams.filter(s => s.readyState !== EventSource.CLOSED).map(s => s.url)")


def points(page) -> int:
    return page.evaluate(LOSS)[0]


def test_charts_follow_the_run_through_one_feed(page):
    """Start: the curves grow several times a second on the same chart nodes, through one stream that also
    carries the feeds of the status row and of the confusion matrix with the gallery."""
    page.evaluate(COUNT_STREAMS)
    main_area(page).get_by_role("button", name="Start", exact=True).click()
    wait_until(lambda: points(page) > 2, timeout=20, message="the first points")
    page.evaluate(MARK)
    seen = set()
    for _ in range(12):
        seen.add(points(page))
        time.sleep(0.25)
    assert len(seen) >= 6, f"the loss curve changed only {len(seen) - 1} times in 3 s"
    assert page.evaluate(LOSS)[1], "the loss chart was mounted anew"
    # One stream for the page: the status row's, the charts' and the gallery's feeds, their tokens joined.
    (url,) = wait_until(lambda: open_streams(page), message="the page's stream")
    assert url.split(FEED)[1].count(",") == 2, url
    main_area(page).get_by_role("button", name="Pause", exact=True).click()
    main_area(page).get_by_role("button", name="Start", exact=True).wait_for(timeout=10_000)


def test_the_status_row_follows_the_run_with_no_rerun_and_its_end_redraws_the_page(browser, server):
    """While training, the status figures move on through the feed while the server sends the page nothing
    over Streamlit's websocket (no script run); when the run reaches its stop-at, the feed's end makes the
    page draw the run stopped."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        frames, finished = [], []  # arrival times of every message, and of each script run's end
        page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: (
            frames.append(time.monotonic()),
            isinstance(frame, bytes) and ForwardMsg.FromString(frame).WhichOneof("type") == "script_finished"
            and finished.append(time.monotonic()))))
        open_app(page, f"{server}/?stop_at=900")
        clicked = time.monotonic()
        main_area(page).get_by_role("button", name="Start", exact=True).click()
        pause = main_area(page).get_by_role("button", name="Pause", exact=True)
        wait_until(lambda: pause.is_enabled() and iteration(page) > 20, timeout=20, message="the first figures")
        # The click's own full run draws Pause enabled, then the gallery: its end starts the window.
        wait_until(lambda: [t for t in delivered(page, finished) if t > clicked], timeout=20,
                   message="the click's run to end")
        page.wait_for_timeout(100)  # the session-status message that follows the end (and handed to us)
        # A frame's time is when Playwright handed it over, during one of the calls below (at most 0.1 s late).
        start, seen = time.monotonic(), set()
        while time.monotonic() - start < 2.5 and iteration(page) < 800:
            seen.add(iteration(page))
            page.wait_for_timeout(100)
        end = time.monotonic()
        assert len(seen) >= 2, seen
        assert not [t for t in delivered(page, frames) if start <= t <= end], "the server ran the script while training"
        main_area(page).get_by_text("Reached the stop-at iteration 900").wait_for(timeout=30_000)
        assert iteration(page) == 900
    finally:
        context.close()


def test_a_hidden_page_stops_drawing_and_catches_up_when_shown(page):
    """Hidden, the page closes its feed (nothing drawn, the run trains on); shown, it draws the run as it is now."""
    main_area(page).get_by_role("button", name="Start", exact=True).click()
    wait_until(lambda: points(page) > 2, timeout=20, message="the first points")
    page.evaluate(BACKGROUND_TAB)  # defines window.__away (timers made from now on are held too)
    page.evaluate("window.__away(true)")
    time.sleep(0.5)  # an event already on its way may still land
    hidden_at, iteration_at = points(page), iteration(page)
    time.sleep(2)  # the stimulus: two seconds hidden
    assert points(page) == hidden_at, "a hidden page kept drawing"
    page.evaluate("window.__away(false)")
    wait_until(lambda: points(page) > hidden_at + 10, timeout=20, message="the curves to catch up")
    assert iteration(page) > iteration_at, "the run did not train while the page was hidden"
    main_area(page).get_by_role("button", name="Pause", exact=True).click()


def test_the_feed_works_under_a_base_url_path(browser, tmp_path):
    """With server.baseUrlPath set, the feed's route and URL carry it and the curves follow the run."""
    require(browser_missing())
    port = free_port()
    url = f"http://127.0.0.1:{port}/lab/app"
    with open(tmp_path / "streamlit.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
                                    "--server.address", "127.0.0.1", "--server.headless", "true",
                                    "--server.baseUrlPath", "lab/app"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   env={**__import__("os").environ, "DIGIT_LAB_RUNS": str(tmp_path / "runs"),
                                        "OPENBLAS_NUM_THREADS": "1", plotlyjs.REGISTRY_ENV: ""})
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        wait_healthy(process, url, "the server under /lab/app")
        page = context.new_page()
        feeds, assets = [], []
        page.on("response", lambda response: FEED in response.url and feeds.append((response.url, response.status)))
        page.on("response", lambda response: ("/bidi-components/" in response.url or "/plotly-" in response.url)
                and assets.append((response.url, response.status)))
        open_app(page, f"{url}/")
        # The page's head loads plotly.js (the app's own route) and livechart.js (livechart.Preload) from under
        # the base path.
        [livechart, (plotly, status)] = sorted(set(assets))
        assert plotly.startswith(f"{url}/api/digit-lab/plotly-") and plotly.endswith(".min.js") and status == 200
        assert livechart == (f"{url}/_stcore/bidi-components/digit-lab.livechart/livechart.js", 200)
        main_area(page).get_by_role("button", name="Start", exact=True).click()
        wait_until(lambda: points(page) > 20, timeout=30, message="the curves to follow the run")
        assert feeds and all(u.startswith(f"{url}{FEED}") and status == 200 for u, status in feeds), feeds
    finally:
        context.close()
        stop_server(process)


def test_a_refused_feed_asks_for_a_new_one_a_few_times_only(page):
    """Feeds answered 404 (a server that lost them): the page asks for new feeds at most twice in a row,
    not in a loop of reruns; the figures go on, and the next Start's feed draws again."""
    asked = []

    def refuse(route):
        asked.append(route.request.url)
        route.fulfill(status=404, body="no such feed")

    page.route(f"**{FEED}**", refuse)
    main_area(page).get_by_role("button", name="Start", exact=True).click()
    wait_until(lambda: page.evaluate("1") and asked, timeout=20, message="the page to ask for a feed")
    started = iteration(page)
    page.wait_for_timeout(4000)  # the stimulus: four seconds of refusals
    assert len(set(asked)) >= 3, asked  # the first three feeds (status, charts, gallery)
    so_far = len(set(asked))
    page.wait_for_timeout(2000)
    assert len(set(asked)) == so_far, asked  # two asks for new feeds in a row, then no more: no loop
    assert iteration(page) > started, "the status figures stopped"
    page.unroute(f"**{FEED}**")
    main_area(page).get_by_role("button", name="Pause", exact=True).click()
    main_area(page).get_by_role("button", name="Start", exact=True).click()
    at = points(page)
    wait_until(lambda: points(page) > at + 5, timeout=20, message="the next feed to draw")
    main_area(page).get_by_role("button", name="Pause", exact=True).click()


def nb_iterations(page) -> list[int]:
    """Both notebook-pair status rows' iterations (notebook, corrected); [] before they show."""
    values = main_area(page).locator('.livestatus .cell[data-label="iteration"] .value').all_inner_texts()
    return [int(value.replace(",", "")) for value in values]


def test_the_notebook_pairs_status_rows_follow_it_with_no_rerun_and_its_end_redraws_the_page(browser, server):
    """The notebook pair's two status rows move on through one feed while the server sends the page nothing
    over Streamlit's websocket; when the pair reaches its 1,000 iterations the page draws it paused."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        frames = []
        page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: frames.append(time.monotonic())))
        page.goto(f"{server}/notebook")
        main_area(page).get_by_role("button", name="Start", exact=True).click()
        pause = main_area(page).get_by_role("button", name="Pause", exact=True)
        wait_until(lambda: pause.is_enabled() and min(nb_iterations(page) or [0]) > 20, timeout=30,
                   message="the first figures")
        page.wait_for_timeout(1000)  # the click's full run is over (its frames handed to the handler meanwhile)
        # A frame's time is when Playwright handed it over, during one of the calls below (at most 0.1 s late).
        start, seen = time.monotonic(), set()
        while time.monotonic() - start < 2.5 and max(nb_iterations(page)) < 900:
            seen.add(tuple(nb_iterations(page)))
            page.wait_for_timeout(100)
        end = time.monotonic()
        assert len(seen) >= 2 and all(len(set(pair)) == 1 for pair in seen), seen  # in lockstep
        assert not [t for t in delivered(page, frames) if start <= t <= end], "the server ran the script while training"
        main_area(page).get_by_text("paused at iteration 1,000").wait_for(timeout=60_000)
        assert nb_iterations(page) == [1000, 1000]
    finally:
        context.close()


def test_two_visible_training_views_leave_connections_for_a_third_tab(browser, server):
    """A browser keeps at most six connections to a server over HTTP/1.1 and a feed stream holds one: with a
    stream per feed, two visible Train views training (three each) left a third tab of the same browser
    unable to load the page. One stream per page leaves room."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # one browser profile, three tabs
    try:
        for _ in range(2):
            page = context.new_page()
            open_app(page, server)
            main_area(page).get_by_role("button", name="Start", exact=True).click()
            wait_until(lambda: points(page) > 2, timeout=30, message="the curves to follow the run")  # streams open
        third = context.new_page()
        third.goto(server, timeout=30_000)
        main_area(third).get_by_role("button", name="Start", exact=True).wait_for(timeout=30_000)
    finally:
        context.close()
