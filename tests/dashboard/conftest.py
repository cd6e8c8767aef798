"""Fixtures for the dashboard tests: AppTest runs, Plotly JSON decoding, and a real server + Chromium."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from dashboard.charts.livechart import plotlyjs

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dashboard" / "app.py"
CHROMIUM = "/usr/bin/chromium"
# A chart on the page: an st.plotly_chart element, or a live chart (dashboard.charts.livechart: a component
# whose Plotly div its JS made; the owner-cookie component has none).
CHART = '[data-testid="stPlotlyChart"], .stBidiComponent:has(.js-plotly-plot)'
DRAWN_CHART = '[data-testid="stPlotlyChart"] .main-svg, .stBidiComponent .main-svg'
# Text of the main area and the sidebar shown cut with an ellipsis ("St…" for a Step button in a narrow column).
CUT_TEXT = """() => [...document.querySelectorAll('[data-testid="stMain"] *, [data-testid="stSidebar"] *')]
  .filter(e => getComputedStyle(e).textOverflow === 'ellipsis' && e.scrollWidth > e.clientWidth + 1
               && e.innerText.trim())
  .map(e => e.innerText.trim())"""
# Titles of the main area's charts that reach past their chart's edges.
TITLES_CUT = """() => [...document.querySelectorAll('[data-testid="stMain"] .main-svg')].flatMap(svg => {
  const chart = svg.getBoundingClientRect();
  return [...svg.querySelectorAll('.gtitle')].filter(t => {
    const r = t.getBoundingClientRect(); return r.left < chart.left - 1 || r.right > chart.right + 1; })
    .map(t => t.textContent);
})"""
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# An init script: `window.__away(true)` makes the page a background tab as far as the app can tell:
# every setInterval callback is held (browsers throttle a hidden tab's timers, and Streamlit's
# run_every is a setInterval) and document.hidden turns true with a visibilitychange event (the
# live charts close their feed). `window.__away(false)` brings it back.
BACKGROUND_TAB = """(() => { const original = window.setInterval; window.__held = false;
  window.setInterval = (fn, ms, ...args) => original(function (...a) { if (!window.__held) fn(...a); }, ms, ...args);
  window.__away = (away) => {
    window.__held = away;
    Object.defineProperty(document, 'hidden', {configurable: true, get: () => away});
    Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => away ? 'hidden' : 'visible'});
    document.dispatchEvent(new Event('visibilitychange'));
  };
})();"""
DTYPES = {"f8": np.float64, "f4": np.float32, "i1": np.int8, "u1": np.uint8, "i2": np.int16, "u2": np.uint16,
          "i4": np.int32, "u4": np.uint32, "i8": np.int64, "u8": np.uint64}


# ----- Plotly JSON ------------------------------------------------------------------------------
def decode(value):
    """Plotly >= 6 JSON with typed arrays ({"dtype", "bdata", "shape"}) turned back into NumPy arrays."""
    if isinstance(value, dict):
        if "bdata" in value and "dtype" in value:
            array = np.frombuffer(base64.b64decode(value["bdata"]), DTYPES[value["dtype"]])
            if "shape" in value:
                array = array.reshape([int(n) for n in str(value["shape"]).split(",")])
            return array
        return {key: decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode(item) for item in value]
    return value


def charts(at) -> list[tuple[str, object]]:
    """(user key, element) of each chart in the main area of the last AppTest run, in page order: Plotly
    charts (`st.plotly_chart`) and live charts (`dashboard.charts.livechart`, UnknownElements)."""
    return [(key, node) for key, node, status in _live_elements(at) if not status]


def status_payloads(at) -> dict[str, dict]:
    """The data of each status row (`livechart.live_status`) in the last AppTest run, by key."""
    return {key: json.loads(node.proto.json) for key, node, status in _live_elements(at) if status}


def status_payload(at) -> dict:
    """The data of the view's one status row in the last AppTest run."""
    rows = list(status_payloads(at).values())
    assert len(rows) == 1, f"{len(rows)} status rows"
    return rows[0]


def status_row(at) -> dict[str, str]:
    """The status row of the last AppTest run: label -> value shown."""
    return {label: value for label, value, *_ in status_payload(at)["status"]}


def _live_elements(at) -> list[tuple[str, object, bool]]:
    """(user key, element, is a status row) of every Plotly chart and livechart element in the main area."""
    from dashboard.charts import livechart

    found = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if getattr(node, "type", None) == "plotly_chart":
            found.append((proto.id.rsplit("-", 1)[-1], node, False))
        elif proto is not None and getattr(proto, "component_name", None) == livechart.NAME:
            found.append((proto.id.rsplit("-", 1)[-1], node, "status" in json.loads(proto.json)))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at.main)
    return found


@pytest.fixture
def feeds_served(monkeypatch):
    """This process serves live feeds, as the app's `st.App` does (an AppTest has no server)."""
    from dashboard.runs import feed

    monkeypatch.setattr(feed, "_routes", [])  # restored afterwards: routes() fills this list
    feed.routes()


def feed_of(at, keys: list[str], status: bool = False):
    """The live feed (dashboard/runs/feed.py) that the charts `keys` (and with `status`, the status row) of
    the last AppTest run follow: they must name one and the same URL and come whole; the feed must build
    exactly those."""
    from dashboard.runs import feed

    payloads = {key: json.loads(element.proto.json) for key, element, _ in _live_elements(at)}
    keys = [*keys, *(["status"] if status else [])]
    urls = {payloads[key].get("feed") for key in keys}
    assert len(urls) == 1 and None not in urls, urls
    assert all("data" in payloads[key] or "status" in payloads[key] for key in keys)
    registered = feed.find(urls.pop().rsplit("/", 1)[-1])
    assert registered is not None and sorted(registered.charts) == sorted(keys)
    return registered


def figure(at, key: str) -> dict:
    """The decoded Plotly figure of the chart created with `key=key` in an AppTest run.

    A live chart's payload after the first is a change; its whole figure is asked for as the browser
    does after a gap (its sent record marked stale, one more run).
    """
    from dashboard.charts import livechart

    element = dict(charts(at)).get(key)
    if element is None:
        raise AssertionError(f"no plotly chart with key {key!r}")
    if getattr(element, "type", None) == "plotly_chart":
        return decode(json.loads(element.proto.spec))
    payload = json.loads(element.proto.json)
    if "data" not in payload:
        store = at.session_state[livechart.STORE]
        store[key] = livechart.stale(store[key])
        at.run()
        payload = json.loads(dict(charts(at))[key].proto.json)
    return decode({"data": payload["data"], "layout": payload["layout"]})


def chart_keys(at) -> list[str]:
    """User keys of the charts in the last AppTest run, in page order."""
    return [key for key, _ in charts(at)]


# ----- AppTest ----------------------------------------------------------------------------------
VIEW_FILES = {"train": "train.py", "notebook": "notebook.py", "math": "math_view.py", "digit": "digit.py",
              "lab": "sweep.py", "runs": "history.py"}  # URL path -> page file under dashboard/views/


def open_view(at, path: str):
    """Switch an AppTest session to the view at this URL path (e.g. "notebook") and run it."""
    at.switch_page(f"views/{VIEW_FILES[path]}").run()
    assert not at.exception, at.exception
    return at


def metric(at, name: str) -> str:
    """The value of the metric called `name` in the main area of the last run."""
    return next(m.value for m in at.main.metric if m.label == name)


@pytest.fixture
def make_app():
    """Build and run the app in AppTest with small data (URL settings), one session per call; `view`
    opens that view (by URL path) after the first run."""
    from streamlit.testing.v1 import AppTest

    def make(view: str | None = None, **query):
        at = AppTest.from_file(str(APP), default_timeout=60)
        for key, value in {"train_size": "2000", "dev_size": "500", **query}.items():
            at.query_params[key] = str(value)
        at.run()
        assert not at.exception, at.exception
        return open_view(at, view) if view else at

    return make


@pytest.fixture(autouse=True)
def _run_store(tmp_path_factory, monkeypatch):
    """Saved runs go to a temporary folder, never the user's cache."""
    monkeypatch.setenv("DIGIT_LAB_RUNS", str(tmp_path_factory.mktemp("runs")))


@pytest.fixture(autouse=True)
def _no_run_outlives_its_test(monkeypatch):
    """Every run a test started stops with it. Under AppTest no page ever leaves, so a run left training
    went on for the idle timeout (10 minutes) on this process's drivers: 108 later tests shared the cores
    with it, and a 4.6 s training test took 10.7 s."""
    from dashboard.runs import worker as workers

    made, init = [], workers.Worker.__init__

    def recorded(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(workers.Worker, "__init__", recorded)
    yield
    for worker in made:
        worker.send(workers.Close(), wait=5.0)
    drivers = workers._the_drivers  # and no run made elsewhere (a module's fixture) trains on either
    if drivers is not None:
        wait_until(lambda: not drivers._ready and not drivers._busy, timeout=5, message="the drivers to rest")


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Tests that fake datasets must not leak them into other tests through st.cache_resource."""
    yield
    from dashboard import datasets

    datasets.load_named.clear()
    datasets.load_upload.clear()
    datasets.load_split.clear()


# ----- a real server and browser ----------------------------------------------------------------
def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright; never `playwright install`)"
    return None


def require(reason: str | None, what: str = "browser tests") -> None:
    """Skip the test for `reason` (a missing browser or tool), or fail it when CI=true: CI must run everything."""
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{what} cannot run: {reason}")
        pytest.skip(reason)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env_extra: dict | None = None, log: Path | None = None,
                 app: Path | None = None) -> tuple[subprocess.Popen, str]:
    """Start `streamlit run dashboard/app.py` (or `app`) on a free loopback port; return (process, base URL)
    once healthy."""
    port = free_port()
    # No fetch of plotly.js's cartesian bundle (it would write to the user's cache); one already there serves.
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", plotlyjs.REGISTRY_ENV: "", **(env_extra or {})}
    command = [sys.executable, "-m", "streamlit", "run", str(app or APP), "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true"]
    if log:
        with open(log, "w") as out:  # the child keeps its own handle
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    else:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    return process, wait_healthy(process, f"http://127.0.0.1:{port}", "streamlit")


def wait_healthy(process: subprocess.Popen, url: str, what: str, timeout: float = 60) -> str:
    """Poll `url`'s /_stcore/health until it answers ok and return `url`; stop `process` and raise
    RuntimeError naming `what` if it exits or stays unhealthy for `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return url
        except OSError:
            time.sleep(0.1)
    stop_server(process)
    raise RuntimeError(f"{what} did not become healthy within {timeout:g} s")


def stop_server(process: subprocess.Popen) -> None:
    """Stop exactly this server process."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A dashboard server for the module's browser tests; skipped (or failed when CI=true) without Chromium."""
    require(browser_missing())
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    process, url = start_server({"DIGIT_LAB_DATA": str(tmp_path_factory.mktemp("data")),
                                 "DIGIT_LAB_RUNS": str(tmp_path_factory.mktemp("runs"))}, log)
    yield url
    stop_server(process)


def chromium():
    """Headless Debian Chromium driven by Playwright, for a fixture to `yield from` (closed after it)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def browser(server):
    """Headless Debian Chromium driven by Playwright."""
    yield from chromium()


@pytest.fixture
def page(browser, server):
    """A fresh browser context (its own Streamlit session) with the app loaded."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    open_app(page, server)
    yield page
    exceptions = page.locator('[data-testid="stException"]').count()
    context.close()
    assert exceptions == 0, "the app showed an exception"


def wait_until(condition, timeout: float = 20, message: str = "condition"):
    """Poll `condition` until it returns something true, and return that; fail after `timeout` seconds.

    Read a chart through this: each live tick (and each full rerun) mounts charts anew, and a
    chart shows nothing until Plotly has drawn it (see test_live_charts_do_not_blank_between_ticks).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {message}")


def delivered(page, seen):
    """`seen` (a list or set that Playwright event handlers fill, e.g. websocket frames) once the events
    that reached the page so far have been handed to those handlers. Playwright's sync API runs handlers
    only while the test is inside one of its calls, so a wait on `seen` alone (or a `time.sleep`) sees
    nothing new: a wait for the Start click's `script_finished` timed out that way about 1 run in 7."""
    page.wait_for_timeout(1)
    return seen


def settled(read, every: float = 0.5, timeout: float = 20):
    """`read()` once two reads `every` seconds apart agree; fail after `timeout` seconds."""
    deadline, last = time.monotonic() + timeout, read()
    while time.monotonic() < deadline:
        time.sleep(every)
        now = read()
        if now == last:
            return now
        last = now
    raise AssertionError(f"still changing after {timeout} s: {last!r}")


def main_area(page):
    """The page's main area (the open view; the sidebar and the navigation bar are outside it)."""
    return page.locator('[data-testid="stMain"]')


def status_value(page, label: str) -> str:
    """A figure of the Train view's status row (`livechart.live_status`) as the page shows it."""
    return main_area(page).locator(f'.livestatus .cell[data-label="{label}"] .value').first.inner_text()


def open_app(page, url: str) -> None:
    """Load the app and wait until its first charts are drawn."""
    page.goto(url)
    page.get_by_role("button", name="Start", exact=True).wait_for(timeout=60_000)
    page.wait_for_selector(DRAWN_CHART, timeout=60_000)
