"""live_chart in real Chromium, on the tiny live app (tests/dashboard/apps/livechart_app.py): 2 curves
and a heatmap change 5 times a second. The chart must update in place: one node, hover and zoom kept,
never blank, no console errors, and a user's text never runs as HTML."""

import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.dashboard.conftest import ROOT, browser_missing, free_port, require, start_server, stop_server, wait_until

APP = Path(__file__).resolve().parents[1] / "apps" / "livechart_app.py"
CHART = ".stBidiComponent .js-plotly-plot"

# Before the page's own scripts: remember every Plotly chart node that ever appears (a mount),
# and collect uncaught errors.
PROBE = """
window.__plots = new Set();
window.__errors = [];
window.addEventListener("error", (e) => window.__errors.push(String(e.message)));
new MutationObserver(() => {
  document.querySelectorAll(".js-plotly-plot").forEach((node) => window.__plots.add(node));
}).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ["class"]});
"""

# A chart drawn: both curves have a line and the heatmap has its image.
DRAWN = f"""() => {{
  const gd = document.querySelector("{CHART}");
  if (!gd) return false;
  const lines = [...gd.querySelectorAll(".scatterlayer .trace path.js-line")].filter((p) => p.getAttribute("d"));
  return lines.length === 2 && gd.querySelector(".heatmaplayer image") !== null;
}}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server running the tiny live app; skipped (or failed when CI=true) without Chromium."""
    require(browser_missing())
    process, url = start_server(app=APP, log=tmp_path_factory.mktemp("server") / "streamlit.log")
    yield url
    stop_server(process)


# The live app with its heatmap left as it is: each tick only grows the curves (and every fifth changes the
# title), which livechart.js animates in instead of redrawing the chart with Plotly.react.
GROWING = "?heatmap_every=1000000"


@pytest.fixture
def page(request, browser, server):
    """A fresh session of the live app with the chart drawn (at the query given as the fixture's param, if
    any); fails on any console error."""
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    context.add_init_script(PROBE)
    page = context.new_page()
    console_errors = []
    page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
    page.on("pageerror", lambda error: console_errors.append(str(error)))
    page.goto(server + "/" + getattr(request, "param", ""))
    wait_until(lambda: page.evaluate(DRAWN), timeout=60, message="the live chart drawn")
    yield page
    errors = console_errors + page.evaluate("window.__errors")
    context.close()
    assert not errors, errors


# `page` once with every tick redrawn whole and once with the curves only growing.
REDRAWN_AND_GROWING = pytest.mark.parametrize("page", ["", GROWING], ids=["redrawn", "growing"], indirect=True)


def tick(page) -> int:
    """The fragment tick the page shows."""
    text = page.get_by_text(re.compile(r"^tick \d+$")).inner_text()
    return int(text.split()[1])


def wait_ticks(page, n: int) -> None:
    """Wait until the page shows n more ticks."""
    start = tick(page)
    wait_until(lambda: tick(page) >= start + n, timeout=30, message=f"{n} ticks")


def points(page) -> int:
    """Points the browser holds in the first curve."""
    return page.evaluate(f'() => document.querySelector("{CHART}").data[0].x.length')


def mark(page) -> None:
    """Tag the chart node, to tell later whether it is still the same node."""
    page.evaluate(f'() => {{ document.querySelector("{CHART}").__probe = true; }}')


def same_node(page) -> bool:
    """Whether the chart on the page is the node tagged by mark()."""
    return page.evaluate(f'() => document.querySelector("{CHART}")?.__probe === true')


def plot_box(page) -> dict:
    """The curves' plot area (the first subplot's drag rectangle) in page pixels."""
    return page.locator(f"{CHART} .nsewdrag").first.bounding_box()


def drag_zoom(page) -> tuple[float, float]:
    """Drag across the curves from 20% to 50% of their width (a zoom on x); returns the drag's middle."""
    box = plot_box(page)
    y = box["y"] + box["height"] * 0.5
    page.mouse.move(box["x"] + box["width"] * 0.2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
    page.mouse.up()
    return box["x"] + box["width"] * 0.5, y


def test_chart_node_survives_ticks(page):
    """20 ticks update the same chart node: no new mount, and every tick's points arrive."""
    mark(page)
    before, mounts = points(page), page.evaluate("window.__plots.size")
    wait_ticks(page, 20)
    # The page shows the tick's caption before the next animation frame draws its points; a busy
    # browser can also miss a payload and fetch the whole figure: give the points a moment.
    wait_until(lambda: points(page) >= before + 20, timeout=5, message="the 20 ticks' points")
    assert same_node(page)
    assert page.evaluate("window.__plots.size") == mounts == 1


def test_no_blank_frames(page):
    """200 samples while updating (about 10 s): the chart is drawn in every one."""
    blank = 0
    for _ in range(200):
        blank += not page.evaluate(DRAWN)
        time.sleep(0.05)
    assert blank == 0, f"{blank} of 200 samples showed no chart"


@REDRAWN_AND_GROWING
def test_hover_label_stays_while_updating(page):
    """A hover label appears under the mouse and is there in the samples taken over 10 ticks."""
    box = plot_box(page)
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    label = f"{CHART} .hoverlayer .hovertext"
    wait_until(lambda: page.locator(label).count() > 0, timeout=10, message="a hover label")
    start, samples, shown = tick(page), 0, 0
    while tick(page) < start + 10:
        samples += 1
        shown += page.locator(label).count() > 0
        time.sleep(0.05)
    assert shown >= 0.9 * samples, f"hover label in {shown} of {samples} samples"


@REDRAWN_AND_GROWING
def test_drag_zoom_survives_updates(page):
    """A drag-zoom on the curves keeps its x range while ticks add points and change the title."""
    drag_zoom(page)
    read = f'() => document.querySelector("{CHART}")._fullLayout.xaxis.range'
    zoomed = wait_until(lambda: (r := page.evaluate(read)) and r[1] - r[0] < points(page) * 0.6 and r,
                        timeout=5, message="the zoom applied")
    before = points(page)
    wait_ticks(page, 6)  # the title changes every 5 ticks: a new layout reaches the chart
    assert points(page) > before
    assert page.evaluate(read) == zoomed


@REDRAWN_AND_GROWING
def test_legend_click_survives_updates(page):
    """A curve hidden by a legend click stays hidden while ticks add points and change the title."""
    page.locator(f"{CHART} .legend .traces").first.click()
    read = f'() => document.querySelector("{CHART}")._fullData[0].visible'
    wait_until(lambda: page.evaluate(read) == "legendonly", timeout=5, message="the curve hidden")
    before = points(page)
    wait_ticks(page, 6)
    assert points(page) > before
    assert page.evaluate(read) == "legendonly"


# Counts the page's Plotly.react and Plotly.animate calls from now on (window.__calls).
COUNT_CALLS = """() => {
  const P = window.Plotly;
  window.__calls = {react: 0, animate: 0};
  for (const name of ["react", "animate"]) {
    const call = P[name];
    P[name] = function () { window.__calls[name] += 1; return call.apply(this, arguments); };
  }
}"""
# Whether every point of the curves lies within the axes' ranges as drawn: a curve that only grows is
# animated in without touching the axes, so a point outside would be cut off.
ALL_SHOWN = f"""() => {{
  const gd = document.querySelector("{CHART}"), x = gd._fullLayout.xaxis.range, y = gd._fullLayout.yaxis.range;
  return gd.data.slice(0, 2).every((t) => t.x.every((v) => v >= x[0] && v <= x[1]) &&
                                          t.y.every((v) => v >= y[0] && v <= y[1]));
}}"""


@pytest.mark.parametrize("page", [GROWING], indirect=True)
def test_curves_that_only_grow_are_animated_in_with_every_point_shown(page):
    """A tick that only adds points to the curves redraws them with Plotly.animate (the axes stay; the
    chart was drawn with room to grow into), a title change or a point beyond the room with Plotly.react;
    in 60 samples every point lies within the axes as drawn."""
    page.evaluate(COUNT_CALLS)
    start, samples, cut = tick(page), 0, 0
    while samples < 60:
        samples += 1
        cut += not page.evaluate(ALL_SHOWN)
        time.sleep(0.05)
    calls = page.evaluate("window.__calls")
    ticks = tick(page) - start
    assert cut == 0, f"points outside the axes in {cut} of {samples} samples"
    assert calls["animate"] >= ticks / 2, (calls, ticks)
    assert calls["react"] >= ticks / 5 - 1, (calls, ticks)  # a new title every 5 ticks


@pytest.mark.parametrize("page", [GROWING + "&stop_after=12"], indirect=True)
def test_a_grown_chart_that_stops_is_drawn_with_plotlys_own_ranges(page):
    """Once its curves stop growing (a run paused), the chart is drawn once more with Plotly's own
    ranges, the room to grow into gone: the x axis ends at the last point."""
    wait_until(lambda: tick(page) >= 12, timeout=20, message="the last change")
    read = f'() => {{ const gd = document.querySelector("{CHART}"); return [gd._fullLayout.xaxis.range[1], gd.data[0].x.at(-1)]; }}'
    wait_until(lambda: (r := page.evaluate(read))[0] == r[1], timeout=5, message="the x axis ending at the last point")


@pytest.mark.parametrize("page", [GROWING], indirect=True)
def test_double_click_after_a_zoom_shows_the_growing_curves_again(page):
    """A drag-zoom holds while the curves grow (they are animated in under it); a double-click then gives
    the view back: the axes hold every point again as more come."""
    x, y = drag_zoom(page)
    wait_until(lambda: not page.evaluate(ALL_SHOWN), timeout=5, message="the zoom applied")
    wait_ticks(page, 3)
    assert not page.evaluate(ALL_SHOWN)  # still zoomed in
    page.mouse.dblclick(x, y)
    wait_ticks(page, 3)
    for _ in range(20):
        assert page.evaluate(ALL_SHOWN)
        time.sleep(0.05)


# Each Plotly.react of the page's chart from now on: [its title, whether Plotly was left to measure the
# margins (fixed margins come with autoexpand off and every axis's automargin off), its fixed left margin,
# the x axis's tick label overflow].
RECORD_DRAWS = """() => {
  const P = window.Plotly, react = P.react;
  window.__draws = [];
  P.react = function (gd, data, layout) {
    const axes = Object.keys(layout).filter((key) => /^[xy]axis\\d*$/.test(key)).map((key) => layout[key]);
    const fixed = layout.margin && layout.margin.autoexpand === false && axes.every((a) => a.automargin === false);
    window.__draws.push([layout.title.text, !fixed, fixed ? layout.margin.l : null, layout.xaxis.ticklabeloverflow]);
    return react.apply(this, arguments);
  };
}"""


@pytest.mark.parametrize("query", ["", "?static=1"])
def test_redraws_keep_the_measured_margins_until_the_layout_changes(browser, server, query):
    """Plotly measures every label on a redraw to size the margins (automargin): a chart lets it measure
    when its layout changed (here the title, every 5 ticks) and at least every 2 s, and redraws with
    the margins it measured in between; the tick labels are never checked against the div. The same
    for a static chart, whose every change comes as a whole figure."""
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    try:
        page.goto(server + "/" + query)
        wait_until(lambda: page.evaluate(DRAWN), timeout=60, message="the live chart drawn")
        draws = recorded_draws(page)
    finally:
        context.close()
    assert len(draws) >= 12, draws
    for before, after in zip(draws, draws[1:]):
        if after[0] != before[0]:
            assert after[1], f"drawn with old margins after the title changed: {before} -> {after}"
    held = [d for d in draws if not d[1]]
    assert len(held) >= len(draws) / 2, draws  # four of the five redraws of each title
    assert all(left == held[0][2] for _, _, left, _ in held), draws
    assert all(overflow == "allow" for *_, overflow in draws), draws


def test_a_chart_that_stops_changing_is_measured_once_more(browser, server):
    """Redrawn with kept margins, a chart whose figure then stops changing (a run paused, or ended with
    its last tick label at the edge) is drawn once more about 2 s later with margins Plotly measures, so
    that what stays on the page is not cut; and nothing after that."""
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    try:
        page.goto(server + "/?stop_after=12")
        wait_until(lambda: page.evaluate(DRAWN), timeout=60, message="the live chart drawn")
        page.evaluate(RECORD_DRAWS)
        wait_until(lambda: tick(page) >= 12, timeout=20, message="the last change")
        time.sleep(3.5)
        draws = page.evaluate("window.__draws")
        time.sleep(2.5)
        later = page.evaluate("window.__draws")
    finally:
        context.close()
    assert any(not measured for _, measured, _, _ in draws[:-1]), draws  # the figure's changes kept margins
    assert draws[-1][1], f"the last drawing kept old margins: {draws}"
    assert later == draws, "drawn again with nothing new"


def recorded_draws(page) -> list:
    """The page's chart redraws over 16 ticks: [title, measured by Plotly, fixed left margin, x tick
    label overflow as drawn]."""
    page.evaluate(RECORD_DRAWS)
    wait_ticks(page, 16)
    return page.evaluate("window.__draws")


def test_full_rerun_keeps_the_chart(page):
    """A button's full rerun keeps the chart node, drawn all along, or redraws it once, cleanly.

    Streamlit sometimes remounts the element on a full rerun (3 times in 20 with two CPU hogs beside the
    browser): it leaves the page for a moment and comes back empty until the figure is drawn. That
    blank stretch must be one short one, not a chart that keeps blanking."""
    mark(page)
    page.get_by_role("button", name="Rerun", exact=True).click()
    blank = []  # when a sample saw no drawn chart
    start = time.monotonic()
    while time.monotonic() - start < 3:
        if not page.evaluate(DRAWN):
            blank.append(time.monotonic() - start)
        time.sleep(0.05)
    if not page.get_by_text("full runs: 2").count():
        # Streamlit 1.67's page folds a click made while a fragment rerun is pending (one every 0.2 s
        # here) into that rerun, and the full run never comes: click again, as a person would.
        page.get_by_role("button", name="Rerun", exact=True).click()
    wait_until(lambda: page.get_by_text("full runs: 2").count(), timeout=10, message="the full rerun")
    before = points(page)
    wait_ticks(page, 5)
    wait_until(lambda: points(page) > before, timeout=10, message="points after the full rerun")
    if same_node(page):
        assert blank == [], blank
    else:
        assert page.evaluate("window.__plots.size") == 2  # one new node, drawn once
        assert not blank or blank[-1] - blank[0] < 0.5, blank


def test_chart_shown_again_gets_the_whole_figure(page):
    """Hidden for a few ticks, then shown: the new node misses the payloads in between, asks for the
    whole figure, and draws every point."""
    page.get_by_text("Show chart").click()
    wait_until(lambda: page.locator(CHART).count() == 0, timeout=10, message="the chart hidden")
    wait_ticks(page, 3)
    page.get_by_text("Show chart").click()
    wait_until(lambda: page.evaluate(DRAWN), timeout=10, message="the chart drawn again")
    wait_until(lambda: points(page) >= 20 + tick(page) - 1, timeout=10, message="every point")


def test_chart_out_of_view_is_drawn_when_it_comes_into_view(browser, server):
    """A chart below the fold is drawn once and not again while its data changes (a redraw nobody sees
    costs the browser as much as one in view), but for a printout; scrolled into view, it draws every
    point at once."""
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    try:
        page.goto(f"{server}/?spacer=2000")
        wait_until(lambda: page.evaluate(DRAWN), timeout=60, message="the chart drawn once, out of view")
        drawn = points(page)
        wait_ticks(page, 10)
        assert points(page) == drawn
        page.evaluate("window.dispatchEvent(new Event('beforeprint'))")  # a printout shows it as it is now
        assert points(page) >= drawn + 10
        printed = points(page)
        wait_ticks(page, 5)
        assert points(page) == printed  # and it waits again
        page.locator(CHART).scroll_into_view_if_needed()
        wait_until(lambda: points(page) >= 20 + tick(page) - 2, timeout=5, message="every point, once in view")
        wait_ticks(page, 3)
        wait_until(lambda: points(page) >= 20 + tick(page) - 2, timeout=5, message="redrawn while in view")
    finally:
        context.close()


def test_charts_changed_together_draw_in_turn_so_the_page_paints_between(browser, server):
    """Four charts changed by one tick do not all redraw in one animation frame: a frame draws until its
    budget is spent (here one chart, each draw made to take 12 ms), so whatever else changed (a status
    row's text) paints without waiting for every chart; the chart highest on the page draws first. Each keeps
    drawing."""
    context = browser.new_context(viewport={"width": 1200, "height": 3000})
    page = context.new_page()
    try:
        page.goto(f"{server}/?charts=4")
        wait_until(lambda: page.evaluate("document.querySelectorAll('.js-plotly-plot').length === 4"), timeout=60,
                   message="four charts drawn")
        page.evaluate("""() => {
          window.__draws = [];
          const react = window.Plotly.react;
          window.Plotly.react = (...args) => {
            // the frame's time (the same for all its callbacks), the chart's place on the page, and which
            // tick's figure it draws (its curves hold 20 + tick points)
            window.__draws.push([document.timeline.currentTime, args[0].getBoundingClientRect().top,
                                 args[1][0].x.length]);
            const until = performance.now() + 12;
            while (performance.now() < until) {}  // a heavy chart
            return react(...args);
          };
        }""")
        wait_ticks(page, 5)
        frames = page.evaluate("window.__draws")
    finally:
        context.close()
    places = [top for _, top, _ in frames]
    assert len(set(places)) == 4 and all(places.count(top) >= 3 for top in places)  # each chart kept drawing
    times = [t for t, _, _ in frames]
    per_frame = {t: times.count(t) for t in times}
    assert max(per_frame.values()) == 1, per_frame
    # The draws of one tick's figures go down the page (a chart still waiting when the next tick comes draws
    # that one's figure: it belongs to the next group).
    ticks = {}
    for _, top, n in frames:
        ticks.setdefault(n, []).append(top)
    assert sum(len(tops) >= 3 for tops in ticks.values()) >= 3, ticks
    assert all(tops == sorted(tops) for tops in ticks.values()), ticks


def test_trace_name_is_text_not_html(page):
    """A hostile trace name shows as text in the legend: no <img> is created and its onerror never runs."""
    legend = page.locator(f"{CHART} .legendtext").nth(1).text_content()
    assert legend.startswith("<img src=x")
    assert page.locator(f"{CHART} img").count() == 0
    assert page.evaluate("window.__xss") is None


def test_drawn_under_a_base_url_path(browser, tmp_path):
    """With server.baseUrlPath set, livechart.js and plotly.js load from under it and the chart draws."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/lab/app"
    with open(tmp_path / "streamlit.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
                                    "--server.address", "127.0.0.1", "--server.headless", "true",
                                    "--server.baseUrlPath", "lab/app"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                return response.read() == b"ok"
        except OSError:
            return False

    context = browser.new_context()
    try:
        wait_until(healthy, timeout=60, message="the server under /lab/app")
        page = context.new_page()
        assets = []
        page.on("response", lambda r: "/bidi-components/" in r.url and assets.append((r.url, r.status)))
        page.goto(f"{url}/")
        wait_until(lambda: page.evaluate(DRAWN), timeout=60, message="the chart drawn under /lab/app")
        assert sorted(assets) == [(f"{url}/_stcore/bidi-components/digit-lab.livechart/livechart.js", 200),
                                  (f"{url}/_stcore/bidi-components/digit-lab.plotly/plotly.min.js", 200)]
    finally:
        context.close()
        stop_server(process)
