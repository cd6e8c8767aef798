"""Each view opened by its own URL in real headless Chromium: its first chart, no exception, and no
duplicate charts once it has redrawn 20 times while training.

Needs Debian's /usr/bin/chromium and the playwright package; skipped without them (failed when CI=true).
"""

from __future__ import annotations

import pytest

from dashboard.charts.livechart import plotlyjs
from tests.dashboard.conftest import (CHART as ANY_CHART, CUT_TEXT, DRAWN_CHART, TITLES_CUT, main_area, require, settled,
                                      wait_until)

VIEWPORT = {"width": 1400, "height": 1000}
CHART = ", ".join(f'[data-testid="stMain"] {one.strip()}' for one in ANY_CHART.split(","))
# Counts redraws in the main area: 100 ms windows in which a chart's line or a text changed (the charts
# follow a live feed 4 times a second, the figures a fragment once a second).
COUNT_TICKS = """() => {
  window.__ticks = 0;
  let dirty = false;
  new MutationObserver(() => { dirty = true; }).observe(document.querySelector('[data-testid="stMain"]'),
    {subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['d']});
  setInterval(() => { if (dirty) { dirty = false; window.__ticks += 1; } }, 100);
}"""


@pytest.fixture
def context(browser):
    """A fresh browser context: its own Streamlit session."""
    context = browser.new_context(viewport=VIEWPORT)
    yield context
    context.close()


def open_view(context, server: str, path: str):
    """Open the view at this URL path in a new tab; wait for its first chart (or its main content)."""
    page = context.new_page()
    page.goto(f"{server}/{path}")
    return page


def charts(page) -> int:
    """Plotly charts in the main area, drawn or not, visible or not (stale copies included)."""
    return page.locator(CHART).count()


def titles(page) -> list[str | None]:
    """The main area's Plotly charts' titles in page order (None for a chart not drawn yet or untitled)."""
    return page.evaluate(f"() => [...document.querySelectorAll('{CHART}')].map(e => "
                         "(e.querySelector('.gtitle') || {}).textContent || null)")


def script_runs(page) -> list:
    """A list that grows by one each time the server starts a script run (full or fragment) for this page."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    runs = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: isinstance(payload, bytes) and (
        ForwardMsg.FromString(payload).WhichOneof("type") == "new_session") and runs.append(payload)))
    return runs


def tick_20_times(page, start: str, pause: str) -> None:
    """Press `start`, let the view redraw 20 times, press `pause` and wait until `start` is back."""
    page.evaluate(COUNT_TICKS)
    page.get_by_role("button", name=start, exact=True).click()
    wait_until(lambda: page.evaluate("window.__ticks") >= 20, timeout=60, message="20 live ticks")
    page.get_by_role("button", name=pause, exact=True).click()
    wait_until(page.get_by_role("button", name=start, exact=True).is_enabled, message=f"{start} enabled again")


def no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, "the view showed an exception"


@pytest.mark.parametrize("path, expected", [("", 6), ("notebook", 2)])  # Train: loss, accuracy, tiles, output map, confusion, gallery
def test_live_view_by_url_ticks_without_duplicate_charts(context, server, path, expected):
    """The Train view (the default page, at /) and the notebook view: first chart, 20 ticks, the same charts after."""
    page = open_view(context, server, path)
    page.wait_for_selector(DRAWN_CHART, timeout=60_000)
    wait_until(lambda: charts(page) == expected, message=f"{expected} charts")
    start = "Start"
    tick_20_times(page, start, "Pause")
    assert settled(lambda: charts(page)) == expected  # no copy left behind once the page stops changing
    no_exception(page)


def test_lab_view_by_url_races_without_duplicate_charts(context, server):
    """The LR lab view at /lab: a sweep's two live charts stay two through 20 ticks."""
    page = open_view(context, server, "lab")
    page.get_by_role("button", name="Run sweep", exact=True).wait_for(timeout=60_000)
    box = page.get_by_role("spinbutton", name="iterations", exact=True)
    box.fill("100000")
    box.press("Enter")
    page.wait_for_function("() => [...document.querySelectorAll('input')].some(i => i.value === '100000')")
    tick_20_times(page, "Run sweep", "Stop sweep")
    assert settled(lambda: charts(page)) == 2
    no_exception(page)


@pytest.mark.parametrize("path, expected", [
    ("math", ["X (", "Z1 (", "A1 (", "Z2 (", "A2 ("]),
    ("digit", ["Input x", "Probabilities A2", "Activations A1", "Contributions", "∂Z2[", "W1 at iteration"]),
])
def test_static_view_by_url_draws_its_charts(context, server, path, expected):
    """The Math and Inside-a-digit views open by URL and draw their charts, once each, in order, with the
    page's one plotly.js (Streamlit's own copy, 4.7 MB, is never loaded) and in one script run (the charts
    send no word back that would rerun it)."""
    page = context.new_page()
    runs = script_runs(page)
    page.goto(f"{server}/{path}")
    page.wait_for_selector(DRAWN_CHART, timeout=60_000)
    wait_until(lambda: (read := titles(page)) and None not in read, timeout=60, message="every chart drawn")
    drawn = settled(lambda: titles(page))
    assert len(drawn) == len(expected), drawn
    assert all(title.startswith(start) for title, start in zip(drawn, expected)), drawn
    page.wait_for_timeout(1000)
    assert len(runs) == 1
    assert page.evaluate("performance.getEntriesByType('resource').filter(e => e.name.includes('PlotlyChart'))"
                         ".length") == 0
    no_exception(page)


# Boxes of the main area whose content is wider than they are, so that part of it is hidden or scrolled away:
# a segmented control's options ("Forward pass | Backward pass | Upd"), an equation ("A₁ = g(Z₁) = ReLU(Z₁").
OVERFLOWING = """() => [...document.querySelectorAll('[data-testid="stMain"] *')]
  .filter(e => e instanceof HTMLElement && !e.classList.contains('katex-mathml') && e.innerText.trim()
               && e.scrollWidth > e.clientWidth + 4  // + 4: a whole KaTeX equation is 2 px wider than its box
               && ['hidden', 'auto', 'scroll', 'clip'].includes(getComputedStyle(e).overflowX))
  .map(e => e.innerText.replace(/\\s+/g, ' ').slice(0, 60))"""


MATH_PARTS = (("Forward pass", "X ("), ("Backward pass", "dZ2 ("), ("Update", "Gradient descent"),
              ("Gradient check", "Largest relative error"))


@pytest.mark.parametrize("path, marker", [("notebook", "Start"), ("digit", "Contributions"), ("math", "X (")])
def test_a_narrow_window_cuts_no_label_or_title(browser, server, path, marker):
    """At 1,100 px the notebook view's quirk checkboxes wrap their labels ("Softmax without …" was cut) and
    the Inside-a-digit view's chart titles fit their charts ("Hidden activations A1 = …" reached past both edges).
    At 900 px (half a screen, the sidebar open) the dev image goes above the digit's explanation ("Input x: dev
    image 0" was cut, "Confide…" too), the Math view's controls wrap (its Show control was cut at "Upd…") and
    its equations go above their tensors ("A₁ = g(Z₁) = ReLU(Z₁" was cut at both widths), in each of its parts
    (the update's "W₁ ← W₁ − α dW₁  b₁ ← …" was cut up to 1,280 px, the check's formula at 900).
    Opened at 1,100 px, then narrowed to 900."""
    context = browser.new_context(viewport={"width": 1100, "height": 1000})
    try:
        page = context.new_page()
        page.goto(f"{server}/{path}")
        page.wait_for_selector(DRAWN_CHART, timeout=60_000)
        main_area(page).get_by_text(marker, exact=False).first.wait_for(timeout=60_000)
        for width in (1100, 900):
            page.set_viewport_size({"width": width, "height": 1000})
            for part, shown in MATH_PARTS if path == "math" else ((None, marker),):
                if part:
                    main_area(page).get_by_text(part, exact=True).click()
                main_area(page).get_by_text(shown, exact=False).first.wait_for(timeout=30_000)
                wait_until(lambda: None not in titles(page), timeout=60, message="every chart drawn")  # (none in the check)
                assert settled(lambda: page.evaluate(CUT_TEXT)) == [], (width, part)
                assert page.evaluate(TITLES_CUT) == [], (width, part)
                assert page.evaluate(OVERFLOWING) == [], (width, part)
        no_exception(page)
    finally:
        context.close()


def test_pages_load_the_cartesian_plotly_js_once_it_is_cached(context, server):
    """A server that finds plotly.js's cartesian bundle in the cache (`digit-lab download plotly-js`, which
    .ci/run runs) has its pages load that 1.5 MB bundle, no other plotly.js, and draw their charts with it."""
    require(None if plotlyjs.cached() else "plotly.js's cartesian bundle is not in the cache "
            "(`digit-lab download plotly-js`)", what="the cartesian bundle's test")
    page = open_view(context, server, "")
    page.wait_for_selector(DRAWN_CHART, timeout=60_000)
    wait_until(lambda: charts(page) == 6, message="six charts")
    loaded = page.evaluate("performance.getEntriesByType('resource').map(e => e.name).filter(n => /plotly/i.test(n))")
    assert len(loaded) == 1 and "-cartesian-" in loaded[0], loaded
    no_exception(page)


def test_runs_view_by_url_opens(context, server):
    """The Runs view at /runs opens with its table placeholder and the share link, which opens the app (its
    Train view, where Start replays the setup), not the Runs page."""
    page = open_view(context, server, "runs")
    main_area(page).get_by_text("No finished runs yet").wait_for(timeout=60_000)
    link = main_area(page).locator('[data-testid="stCode"]')  # the share link
    link.wait_for(timeout=20_000)
    assert link.inner_text().strip().split("?")[0] == server.rstrip("/") + "/"
    no_exception(page)


def test_train_view_draws_in_one_script_run(context, server):
    """The Train view opens in one script run, and a Pause costs at most two: with feeds served its charts
    never ask to confirm a whole figure (each such word back was a rerun of their part)."""
    page = context.new_page()
    runs = script_runs(page)
    page.goto(server)
    page.wait_for_selector(DRAWN_CHART, timeout=60_000)
    main_area(page).get_by_role("button", name="Start", exact=True).wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    assert len(runs) == 1
    main_area(page).get_by_role("button", name="Start", exact=True).click()
    main_area(page).get_by_role("button", name="Pause", exact=True).wait_for(timeout=20_000)
    page.wait_for_timeout(1500)
    runs.clear()
    main_area(page).get_by_role("button", name="Pause", exact=True).click()
    main_area(page).get_by_role("button", name="Start", exact=True).wait_for(timeout=20_000)
    page.wait_for_timeout(1500)
    assert len(runs) <= 2  # the click's own, and perhaps the one the ended feed asks for
    no_exception(page)
