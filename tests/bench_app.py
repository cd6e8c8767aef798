"""Speed and memory of the dashboard in real headless Chromium, side by side with references (issue 9).

Run: `python -m tests.bench_app [--repeats 3] [--seconds 10] [--sessions 10] [--only a c]`.
Prints figures; asserts nothing. All on the bundled sample; the server gets temporary data and
run folders. The machine is shared: the load average is printed at the start and the end.

a. First chart: seconds from opening the page (the browser's navigation start) to the first
   drawn Plotly trace, for our app and for a bare 4-line Plotly app, measured the same way in
   the same run, servers interleaved; "cold" is the first session after a server start (imports,
   data loading), "warm" a second session on the same server. Medians of --repeats.
b. Switching views: from a click on a view's navigation link (or tab) to its marker text, its
   first chart and all its charts drawn (counted once the view has settled); medians.
c. Training speed: iterations/s in the app (Start, then --seconds) against a headless `Trainer`
   with the same settings in this process and against the UI floor (FLOOR_APP: the barest live
   Streamlit + Plotly app training the same Trainer), full batch and batch 128, interleaved;
   redraws/s of the iteration text and of the loss curve (a MutationObserver in the page); CPU
   cores used by the server and by Chromium while measuring. And the bound the app's share faces on
   this machine: the headless Trainer while a bare HTML page (plotly.js, no Streamlit) redraws two
   curves with Plotly.react 4 times a second, the least a page drawing curves live can cost.
   Each round pairs its windows with headless ones beside them (the machine drifts); the shares to
   read are the rounds' medians ("paired by round").
d. --sessions browser sessions on one server, all training: the server stays up, each session's
   iterations/s, each session's Pause latency (click to the Start button enabled again, with the
   others still training) and the server's part of it (click to the end of the full run it
   started, from the websocket messages as they arrive), the cores server and Chromium use,
   server RSS with 1 vs N sessions training -> MB per extra session.
e. Plotly JSON encoding of the Train view's live figures (`plotly.io.to_json(fig, validate=False)`,
   what st.plotly_chart calls), with the "json" engine and with orjson.
f. Long runs: milliseconds per build of the Train view's loss curve by the live feed, and per snapshot
   the worker publishes, for a batch-128 run whose history holds 3,000 and 300,000 rows (about 15
   seconds and 25 minutes of training); each build sees the rows of a 0.1 s slice more.
Needs /usr/bin/chromium and playwright. Views are listed in VIEWS: update it when views change.
Each browser context is a fresh session with its own run (?run= id) in the temporary run folder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the server gets it

import data  # noqa: E402
from core import TrainConfig, Trainer  # noqa: E402
from core.config import eval_every_for  # noqa: E402
from tests.dashboard.conftest import CHROMIUM, CHROMIUM_ARGS, browser_missing, start_server, stop_server  # noqa: E402
from tests.screenshots import view_link  # noqa: E402

VIEWPORT = {"width": 1400, "height": 1000}
BARE_APP = """import streamlit as st
import plotly.express as px

st.plotly_chart(px.line(y=[1, 3, 2]))
"""
# The UI floor for c: the least a live Streamlit + Plotly view of this training can do. Each tick
# shows two metrics and two bare curves (loss, accuracy), then trains the same Trainer for 0.2 s.
# No sidebar, settings, weights or saving. `{root}` is the project folder (for `import core`).
FLOOR_APP = """import sys, time
sys.path.insert(0, {root!r})
import plotly.graph_objects as go
import streamlit as st
import data
from core import TrainConfig, Trainer
from core.config import eval_every_for

st.set_page_config(layout="wide")
if "trainer" not in st.session_state:
    parts = data.split(data.load_sample(), dev_size=1000, seed=0, raw=True)
    batch = 128 if st.query_params.get("full_batch") == "false" else None
    config = TrainConfig(batch_size=batch, iterations=None, eval_every=eval_every_for(batch))
    st.session_state.trainer = Trainer(config, parts.X_train, parts.y_train, parts.X_dev, parts.y_dev)
    st.session_state.running = False
running = st.session_state.running
st.button("Start", on_click=lambda: st.session_state.update(running=True), disabled=running)
st.button("Pause", on_click=lambda: st.session_state.update(running=False), disabled=not running)

def live():
    trainer = st.session_state.trainer
    history = trainer.history
    st.metric("Iteration", f"{{trainer.iteration:,}}")
    st.metric("Train time", f"{{trainer.seconds:.1f}} s")
    for column, (title, field) in zip(st.columns(3), (("Loss", "loss"), ("Accuracy", "acc"))):
        lines = [go.Scatter(x=history.column("iteration"), y=history.column(f"{{split}}_{{field}}"), name=split)
                 for split in ("train", "dev")]
        column.plotly_chart(go.Figure(lines, layout=dict(title=title, height=320, width=300)), key=field,
                            config={{"staticPlot": True}})
    if st.session_state.running:  # after drawing: training first leaves a stale chart copy per tick
        trainer.step(None, deadline=time.perf_counter() + 0.2)

st.fragment(live, run_every=0.2 if running else None, key="live")()
"""
# (view: its page title in the navigation bar, as in dashboard/app.py's PAGES; text that only that
# view shows). The first is the view the app opens on.
VIEWS = (
    ("Train", "Dead neurons"),
    ("Notebook vs corrected", "The notebook's quirks"),
    ("Math", "The network's equations as the notebook writes them"),
    ("Inside a digit", "Follow one image through the network"),
    ("LR lab", "Tune α as an experiment"),
    ("Runs", "Compare this session's runs"),
)
SPEED_RUNS = (("full batch", ""), ("batch 128", "full_batch=false&batch_size=128"))

# Shared page-side helpers: a drawn chart is a laid-out, non-stale chart (st.plotly_chart or a live chart) with a trace.
JS_HELPERS = """
window.__shown = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
window.__charts = () => [...document.querySelectorAll('[data-testid="stPlotlyChart"], .stBidiComponent')].filter(e =>
  window.__shown(e) && e.closest('[data-stale="true"]') === null &&
  e.querySelector('.cartesianlayer .trace, .cartesianlayer .hm')).length;
window.__metric = label => {
  for (const cell of document.querySelectorAll('.livestatus .cell')) {  // the Train view's status row
    if (window.__shown(cell) && cell.dataset.label === label) return cell.querySelector('.value').innerText;
  }
  for (const m of document.querySelectorAll('[data-testid="stMetric"]')) {
    const l = m.querySelector('[data-testid="stMetricLabel"]');
    if (window.__shown(m) && l && l.innerText.trim() === label)
      return m.querySelector('[data-testid="stMetricValue"]').innerText;
  }
  return null;
};
window.__button = name => [...document.querySelectorAll('button')].find(b =>
  window.__shown(b) && b.innerText.trim() === name) || null;
"""
# Installed before any page script: the time of the first drawn trace, from navigation start.
FIRST_CHART = JS_HELPERS + """
window.__firstChart = null;
new MutationObserver(() => {
  if (window.__firstChart === null &&
      document.querySelector('[data-testid="stPlotlyChart"] .cartesianlayer .trace, .stBidiComponent .cartesianlayer .trace')) {
    window.__firstChart = performance.now();
  }
}).observe(document, {subtree: true, childList: true});
"""
# Click an element, then poll every animation frame for the view's marker text and charts.
SWITCH = """async ([element, marker, want]) => {
  const main = document.querySelector('[data-testid="stMain"]') || document.body;
  const hasMarker = () => {
    const walk = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode())
      if (n.nodeValue.includes(marker) && window.__shown(n.parentElement) &&
          n.parentElement.closest('[data-stale="true"]') === null) return true;
    return false;
  };
  const t0 = performance.now();
  element.click();
  let markerAt = null, firstAt = null;
  while (performance.now() - t0 < 30000) {
    await new Promise(r => requestAnimationFrame(r));
    const now = performance.now() - t0;
    if (markerAt === null && hasMarker()) markerAt = now;
    if (markerAt === null) continue;
    const count = window.__charts();
    if (firstAt === null && (count >= 1 || want === 0)) firstAt = now;
    if (count >= want) return {marker: markerAt, first: firstAt, all: now};
  }
  return {marker: markerAt, first: firstAt, all: null};
}"""
# Click Pause, then poll until the Start button is enabled again (the app has answered): returns
# [milliseconds to the answer or null, the click's wall-clock time in ms since the epoch].
PAUSE = """async () => {
  // A Start clicked just before may not be drawn yet: clicking a still-disabled Pause would measure nothing.
  const shown = performance.now();
  while ((window.__button('Pause') === null || window.__button('Pause').disabled) && performance.now() - shown < 30000) {
    await new Promise(r => setTimeout(r, 10));
  }
  const pause = window.__button('Pause');
  if (pause === null || pause.disabled) return [null, null];
  const t0 = performance.now(), clicked = performance.timeOrigin + t0;
  pause.click();
  while (performance.now() - t0 < 30000) {
    await new Promise(r => setTimeout(r, 10));
    const start = window.__button('Start');
    if (start && !start.disabled) return [performance.now() - t0, clicked];
  }
  return [null, clicked];
}"""
# Counts changes of the iteration metric's text and redraws of the loss curve (the visible chart
# titled "Loss"): its line drawn with new data (a new path or the same one). Plotly also redraws a
# freshly mounted chart once more with the same data (a second layout pass): counted apart as "extra".
# The observer only marks the page changed; the counting runs at most every 40 ms, so that the
# instrument's own work (queries, layout reads) stays small next to what it measures.
OBSERVE = """() => {
  window.__counts = {text: 0, chart: 0, extra: 0};
  const lossPath = () => {
    for (const c of document.querySelectorAll('[data-testid="stPlotlyChart"], .stBidiComponent')) {
      const title = c.querySelector('.gtitle');
      if (window.__shown(c) && title && title.textContent.startsWith('Loss')) return c.querySelector('path.js-line');
    }
    return null;
  };
  let last = window.__metric('Iteration'), lastPath = lossPath();
  let lastD = lastPath && lastPath.getAttribute('d'), changed = false;
  new MutationObserver(() => { changed = true; }).observe(document.body, {subtree: true, childList: true,
    characterData: true, attributes: true, attributeFilter: ['d']});
  setInterval(() => {
    if (!changed) return;
    changed = false;
    const now = window.__metric('Iteration');
    if (now !== last) { last = now; window.__counts.text += 1; }
    const path = lossPath(), d = path && path.getAttribute('d');
    if (!d || (path === lastPath && d === lastD)) return;
    if (d !== lastD) { window.__counts.chart += 1; } else { window.__counts.extra += 1; }
    lastPath = path; lastD = d;
  }, 40);
}"""


def median(values: list[float]) -> float:
    """The median, NaN for no values."""
    return statistics.median(values) if values else float("nan")


def seconds_of(text: str) -> float:
    """Parse the "Train time" metric ("12.3 s" or "2 min 05 s")."""
    parts = text.replace(" s", "").split(" min ")
    return float(parts[0]) * 60 + float(parts[1]) if len(parts) == 2 else float(parts[0])


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def healthy(url: str) -> bool:
    """True if the server answers its health check."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as response:
            return response.read() == b"ok"
    except OSError:
        return False


class Server:
    """A streamlit server for one measurement, with its own temporary data and run folders."""

    def __init__(self, scratch: Path, app: Path | None = None):
        self.scratch, self.app = scratch, app

    def __enter__(self):
        env = {"DIGIT_LAB_DATA": str(self.scratch / "data"), "DIGIT_LAB_RUNS": str(self.scratch / "runs")}
        self.process, self.url = start_server(env, log=self.scratch / "streamlit.log", app=self.app)
        return self

    def __exit__(self, *exc):
        stop_server(self.process)


def new_page(browser, url: str | None = None, query: str = ""):
    """A fresh browser context (its own Streamlit session) with the page helpers installed, opened at url;
    the server's messages to it are logged in SERVER_MESSAGES[page] (see `server_messages`)."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(FIRST_CHART)
    page = context.new_page()
    SERVER_MESSAGES[page] = server_messages(page)
    if url:
        page.goto(f"{url}/?{query}" if query else url)
    return context, page


SERVER_MESSAGES: dict = {}  # page -> [(time.time(), kind)] of what the server sent it


def server_messages(page) -> list:
    """Log (arrival time, kind) of every message the server sends this page over its websocket.

    Playwright reports frames from the browser's network stack, so the times do not wait for the
    page's busy main thread; they are wall-clock times, comparable with the page's own
    (`performance.timeOrigin + performance.now()`) on the same machine. `kind` is the ForwardMsg
    type, or for script_finished its status (FINISHED_SUCCESSFULLY ends a full run,
    FINISHED_FRAGMENT_RUN_SUCCESSFULLY a tick).
    """
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    log = []

    def kind(payload) -> str | None:
        if isinstance(payload, str):
            return None
        message = ForwardMsg.FromString(payload)
        name = message.WhichOneof("type")
        return ForwardMsg.ScriptFinishedStatus.Name(message.script_finished) if name == "script_finished" else name

    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: log.append((time.time(), kind(payload)))))
    return log


def full_run_finished_after(page, t0: float) -> float | None:
    """Seconds from t0 to the end of the first full run the server sent this page after t0 (None: none yet)."""
    return next((t - t0 for t, kind in SERVER_MESSAGES[page] if t > t0 and kind == "FINISHED_SUCCESSFULLY"), None)


def wait_first_chart(page) -> float:
    """Seconds from navigation start to the first drawn trace."""
    page.wait_for_function("window.__firstChart !== null", timeout=180_000, polling=50)
    return page.evaluate("window.__firstChart") / 1000


def wait_ready(page) -> None:
    """Wait until the Train view can be driven (Start shown, iteration metric shown)."""
    page.wait_for_function("window.__button('Start') !== null && window.__metric('Iteration') !== null",
                           timeout=180_000, polling=100)


def iteration(page) -> int:
    """The Train view's iteration counter."""
    return int(page.evaluate("window.__metric('Iteration')").split("/")[0].replace(",", ""))


def fresh_iteration(page, timeout: float = 10.0) -> tuple[int, float]:
    """(iteration, perf_counter()) just after the iteration text changed: the metric is redrawn only
    every so often (once a second in the Train view), so a reading taken at any moment is up to that
    old; taken at a change, the readings at both ends of a window are equally fresh."""
    before, deadline = iteration(page), time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        page.wait_for_timeout(20)
        now = iteration(page)
        if now != before:
            return now, time.perf_counter()
    return before, time.perf_counter()


def click(page, name: str) -> None:
    """Click the visible button with exactly this text, once it is shown (a rerun may be redrawing it)."""
    page.wait_for_function("name => window.__button(name) !== null", arg=name, timeout=60_000, polling=50)
    page.evaluate("name => window.__button(name).click()", name)


def view_switch(page, label: str, marker: str, want: int = 0) -> dict:
    """Click a view's tab or link; milliseconds to its marker text, first chart and `want` charts drawn."""
    return page.evaluate(SWITCH, [view_link(page, label).element_handle(), marker, want])


# ----- a. first chart ---------------------------------------------------------------------------
FIRST_KINDS = ("cold", "warm", "reload")  # a fresh server; the same server again; that page reloaded
SETTLE_BEFORE_RELOAD = 1.5  # seconds between the warm page's first chart and its reload


def first_chart(browser, scratch: Path, repeats: int) -> dict:
    """Seconds to the first chart, ours and the bare app's, interleaved, `repeats` times: cold (the server's
    first page), warm (a second browser profile on that server: nothing cached in the browser) and reload
    (that page reloaded once it has settled, SETTLE_BEFORE_RELOAD seconds after its first chart: the browser's
    cache holds what it may keep; reloading the moment the first chart shows would time the old page's
    last charts, which draw one per frame, too)."""
    bare = scratch / "bare" / "bare_app.py"
    bare.parent.mkdir()
    bare.write_text(BARE_APP)
    figures = {(app, kind): [] for app in ("ours", "bare") for kind in FIRST_KINDS}
    for _ in range(repeats):
        for name, app in (("ours", None), ("bare", bare)):
            with Server(scratch, app) as server:
                for kind in ("cold", "warm"):
                    context, page = new_page(browser, server.url)
                    figures[name, kind].append(wait_first_chart(page))
                    if kind == "warm":
                        page.wait_for_timeout(SETTLE_BEFORE_RELOAD * 1000)
                        page.reload()
                        figures[name, "reload"].append(wait_first_chart(page))
                    context.close()
    return figures


def report_first_chart(figures: dict) -> None:
    """Print the medians and the difference to the bare app."""
    from dashboard.charts.livechart import plotlyjs

    print("\na. first chart: seconds from opening the page to the first drawn Plotly trace (median, all runs)")
    print(f"   our pages load plotly.js's {plotlyjs.bundle()[0]} bundle"
          + ("" if plotlyjs.cached() else " (the cartesian one is not cached: `digit-lab download plotly-js`)"))
    for kind in FIRST_KINDS:
        ours, bare = figures["ours", kind], figures["bare", kind]
        print(f"   {kind:<5} ours {median(ours):5.2f} s   bare 4-line app {median(bare):5.2f} s   "
              f"difference {median(ours) - median(bare):+5.2f} s   "
              f"(ours {', '.join(f'{v:.2f}' for v in ours)}; bare {', '.join(f'{v:.2f}' for v in bare)})")
    print("   target: ours within 0.5 s of the bare app's")


# ----- b. switching views -----------------------------------------------------------------------
def switch_views(browser, url: str, repeats: int) -> dict:
    """For each view: seconds from its click to its marker, first chart, all charts; `repeats` rounds."""
    context, page = new_page(browser, url)
    wait_first_chart(page)
    wait_ready(page)
    page.wait_for_timeout(1000)
    counts = {}
    for label, marker in VIEWS[1:] + VIEWS[:1]:  # settle once in each view: how many charts it draws
        view_switch(page, label, marker)
        page.wait_for_timeout(3000)
        counts[label] = page.evaluate("window.__charts()")
    figures = {label: [] for label, _ in VIEWS}
    for _ in range(repeats):
        for label, marker in VIEWS[1:] + VIEWS[:1]:
            figures[label].append((view_switch(page, label, marker, counts[label]), counts[label]))
            page.wait_for_timeout(1500)
    context.close()
    return figures


def report_switch(figures: dict) -> None:
    """Print the medians per view."""
    print("\nb. switching views: seconds from the click to the view's text / first chart / all its charts (median)")
    for label, runs in figures.items():
        parts = [[r[key] / 1000 for r, _ in runs if r[key] is not None] for key in ("marker", "first", "all")]
        count = runs[0][1] if runs else 0
        print(f"   {label:<24} text {median(parts[0]):5.2f}   first chart {median(parts[1]):5.2f}   "
              f"all {count} charts {median(parts[2]):5.2f}   ({len(parts[2])}/{len(runs)} completed)")
    print("   target: <= 1.0 s to the content")


# ----- c. training speed ------------------------------------------------------------------------
def headless_speed(seconds: float, batch_size: int | None, raw: bool = False) -> dict:
    """A bare Trainer with the app's default settings (no stop) on the bundled sample, driven as the app does.

    rate: iterations per wall second; step_rate: iterations per second inside the updates
    (`trainer.seconds`, evaluations excluded); duty: share of wall time inside the updates.
    """
    parts = data.split(data.load_sample(), dev_size=1000, seed=0, raw=raw)  # raw: uint8 pixels, as the app holds them
    config = TrainConfig(batch_size=batch_size, iterations=None, eval_every=eval_every_for(batch_size))  # as the app's
    trainer = Trainer(config, parts.X_train, parts.y_train, parts.X_dev, parts.y_dev)
    trainer.step(10)
    it0, train0, start = trainer.iteration, trainer.seconds, time.perf_counter()
    while time.perf_counter() - start < seconds:
        trainer.step(None, deadline=time.perf_counter() + 0.2)
    wall, done, busy = time.perf_counter() - start, trainer.iteration - it0, trainer.seconds - train0
    return dict(rate=done / wall, step_rate=done / busy, duty=busy / wall)


def app_speed(browser, url: str, query: str, seconds: float, server_pid: int) -> dict:
    """Train in the app for `seconds` after a 2 s warm-up; count iterations, redraws and CPU (cores) used
    by the server and by Chromium."""
    context, page = new_page(browser, url, query)
    wait_first_chart(page)
    wait_ready(page)
    click(page, "Start")
    page.wait_for_timeout(2000)
    page.evaluate(OBSERVE)
    train_time = "window.__metric('Train time')"
    it0, t0 = fresh_iteration(page)
    train0 = seconds_of(page.evaluate(train_time))
    cpu0 = cpu_seconds(server_pid)
    page.wait_for_timeout(seconds * 1000)
    used = cores(cpu0, cpu_seconds(server_pid))
    it1, t1 = fresh_iteration(page)
    train1 = seconds_of(page.evaluate(train_time))
    counts = page.evaluate("window.__counts")
    click(page, "Pause")
    context.close()
    wall = t1 - t0
    return dict(rate=(it1 - it0) / wall, text_per_s=counts["text"] / wall, chart_per_s=counts["chart"] / wall,
                extra_per_s=counts["extra"] / wall,
                duty=(train1 - train0) / wall, step_rate=(it1 - it0) / max(train1 - train0, 1e-9),
                **{f"{k}_cores": v for k, v in used.items()})


def cpu_seconds(server_pid: int) -> dict:
    """CPU seconds used so far by the server process and by all Chromium processes (Linux /proc),
    and the wall clock ("wall") when read."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {"server": 0.0, "browser": 0.0, "wall": time.perf_counter()}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # a process that ended meanwhile
            continue
        used = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        if int(entry.name) == server_pid:
            out["server"] += used
        elif b"chromium" in command:
            out["browser"] += used
    return out


def cores(before: dict, after: dict) -> dict:
    """Cores used between two `cpu_seconds` readings: {"server": ..., "browser": ...}."""
    wall = after["wall"] - before["wall"]
    return {k: (after[k] - before[k]) / wall for k in ("server", "browser")}


def floor_app_source() -> str:
    """FLOOR_APP with this checkout's folder filled in."""
    return FLOOR_APP.format(root=str(Path(__file__).resolve().parents[1]))


def training_speed(browser, scratch: Path, url: str, server_pid: int, seconds: float, repeats: int) -> dict:
    """Headless, in-app and UI-floor figures for each SPEED_RUNS entry, interleaved, `repeats` times.

    The machine's own speed drifts by 10-20% within a minute, so each round pairs its windows:
    headless, app, headless, floor, headless, bound. A round's app share is its app rate over the
    mean of the headless windows just before and after it (the floor's likewise); the bound's is over
    the headless window just before it (`shares`)."""
    floor_app = scratch / "floor" / "floor_app.py"
    floor_app.parent.mkdir(exist_ok=True)
    floor_app.write_text(floor_app_source())
    figures = {label: {"headless": [], "app": [], "floor": []} for label, _ in SPEED_RUNS}
    bounds = {label: [] for label, _ in SPEED_RUNS}
    with Server(scratch, floor_app) as floor:
        for _ in range(repeats):
            for label, query in SPEED_RUNS:
                batch = None if not query else 128
                heads = [headless_speed(seconds / 2, batch, raw=True)]  # uint8 pixels, as the app holds them
                figures[label]["app"].append(app_speed(browser, url, query, seconds, server_pid))
                heads.append(headless_speed(seconds / 2, batch, raw=True))
                figures[label]["floor"].append(app_speed(browser, floor.url, query, seconds, floor.process.pid))
                heads.append(headless_speed(seconds / 2, batch, raw=True))
                bounds[label].append(curves_bound(browser, seconds / 2, batch))
                figures[label]["headless"].append(heads)
    return {"speed": figures, "bound": bounds}


def shares(figures: dict, bound: list[dict]) -> dict:
    """Per round, the app's, the floor's and the bound's iterations/s over the headless rate measured
    beside each (see `training_speed`): {"app": [...], "floor": [...], "bound": [...]}."""
    out = {"app": [], "floor": [], "bound": []}
    for heads, app, floor, drawn in zip(figures["headless"], figures["app"], figures["floor"], bound):
        rate = [h["rate"] for h in heads]
        out["app"].append(app["rate"] / ((rate[0] + rate[1]) / 2))
        out["floor"].append(floor["rate"] / ((rate[1] + rate[2]) / 2))
        out["bound"].append(drawn["rate"] / rate[2])
    return out


# Two curves of a growing run (4 points a redraw) redrawn with Plotly.react every 1/hz s, nothing else.
CURVES_PAGE = """(hz) => {
  const x = [], train = [], dev = [];
  const layout = (title) => ({title: {text: title}, width: 470, height: 320, hovermode: 'x unified',
                              xaxis: {title: {text: 'iteration'}}, legend: {orientation: 'h'}});
  for (const id of ['loss', 'accuracy']) {
    const div = document.createElement('div'); div.id = id; document.body.appendChild(div);
    Plotly.newPlot(id, [], layout(id));
  }
  window.__redraws = 0;
  window.__timer = setInterval(() => {
    for (let k = 0; k < 4; k++) {
      const i = 10 * (x.length + 1);
      x.push(i); train.push(Math.exp(-i / 3000)); dev.push(1.1 * Math.exp(-i / 3000));
    }
    for (const id of ['loss', 'accuracy']) {
      Plotly.react(id, [{type: 'scatter', mode: 'lines', x: x.slice(), y: train.slice(), name: 'train'},
                        {type: 'scatter', mode: 'lines', x: x.slice(), y: dev.slice(), name: 'dev'}],
                   {...layout(id), datarevision: x.length});
    }
    window.__redraws += 1;
  }, 1000 / hz);
}"""


def curves_bound(browser, seconds: float, batch_size: int | None, hz: float = 4) -> dict:
    """The headless Trainer's iterations/s while a bare page (plotly.js from the plotly package, no
    Streamlit) redraws two curves `hz` times a second, with the cores Chromium used meanwhile and the
    redraws/s: the least that drawing curves live costs training on this machine."""
    import plotly

    page = browser.new_page(viewport=VIEWPORT)
    try:
        page.set_content("<html><body></body></html>")
        page.add_script_tag(path=str(Path(plotly.__file__).parent / "package_data" / "plotly.min.js"))
        page.evaluate(CURVES_PAGE, hz)
        page.wait_for_timeout(1000)
        before, redraws = cpu_seconds(0), page.evaluate("window.__redraws")
        rate = headless_speed(seconds, batch_size, raw=True)["rate"]  # the page draws on in its own process
        used = cores(before, cpu_seconds(0))
        redraws = (page.evaluate("window.__redraws") - redraws) / (cpu_seconds(0)["wall"] - before["wall"])
        return dict(rate=rate, browser_cores=used["browser"], redraws_per_s=redraws)
    finally:
        page.close()


def report_speed(measured: dict) -> None:
    """Print the app's and the UI floor's training speed next to the headless Trainer's (medians), and
    the bound: the headless Trainer next to a bare page drawing two curves."""
    figures = measured["speed"]
    print("\nc. training speed (bundled sample, h=10, plain, α=0.1; medians)")
    print("   floor: a bare live Streamlit + Plotly app (FLOOR_APP: train 0.2 s, then two metrics and two curves)")
    print("                                     headless      app    floor   app/headless  floor/headless")
    for label, runs in figures.items():
        heads = [h for round_ in runs["headless"] for h in round_]
        med = {side: {key: median([r[key] for r in rows]) for key in rows[0]}
               for side, rows in (("headless", heads), ("app", runs["app"]), ("floor", runs["floor"]))}
        print(f"   {label}")
        for name, key in (("iterations per wall second", "rate"), ("  iterations/s inside updates", "step_rate"),
                          ("  share of wall time in updates", "duty")):
            a, b, c = med["headless"][key], med["app"][key], med["floor"][key]
            shown = f"{a:8.0%} {b:8.0%} {c:8.0%}" if key == "duty" else f"{a:8.1f} {b:8.1f} {c:8.1f}"
            print(f"     {name:<31} {shown}   {b / a:10.0%}   {c / a:12.0%}")
        paired = shares(runs, measured["bound"][label])
        print("     paired by round (each over the headless rate beside it): "
              + ", ".join(f"{side} median {median(v):.0%} [{min(v):.0%}-{max(v):.0%}]" for side, v in paired.items()))
        for side in ("app", "floor"):
            m = med[side]
            print(f"     {side:<5} redraws/s: iteration text {m['text_per_s']:.1f}, loss curve {m['chart_per_s']:.1f} "
                  f"(+ {m['extra_per_s']:.1f} extra draws of the same data); cores used: server "
                  f"{m['server_cores']:.2f}, Chromium {m['browser_cores']:.2f}")
    print("   bound: the headless Trainer while a bare page redraws two Plotly curves (Plotly.react, no Streamlit)")
    for label, runs in measured["bound"].items():
        head = median([h["rate"] for round_ in figures[label]["headless"] for h in round_])
        rate, used = median([r["rate"] for r in runs]), median([r["browser_cores"] for r in runs])
        print(f"     {label:<11} {rate:8.1f} iterations/s = {rate / head:.0%} of headless alone; Chromium {used:.2f} "
              f"cores, {median([r['redraws_per_s'] for r in runs]):.1f} redraws/s of both curves")
    print("   targets (issue 16): app/headless >= 85% (iterations per wall second), >= 4 curve redraws/s, "
          "Chromium <= 0.4 cores")


# ----- d. many sessions -------------------------------------------------------------------------
def many_sessions(browser, scratch: Path, sessions: int, seconds: float) -> dict:
    """N sessions training at once on one server: progress, Pause latency each, RSS 1 vs N."""
    from playwright.sync_api import Error as PlaywrightError

    out = {}
    with Server(scratch) as server:
        out["rss_idle"] = rss_mb(server.process.pid)
        pages = []
        try:
            for n in range(sessions):
                print(f"   (d: opening session {n + 1} of {sessions})", file=sys.stderr, flush=True)
                context, page = new_page(browser, server.url)
                wait_first_chart(page)
                wait_ready(page)
                click(page, "Start")
                pages.append((context, page))
                if n == 0:
                    page.wait_for_timeout(3000)
                    out["rss_1"] = rss_mb(server.process.pid)
            page.wait_for_timeout(3000)
            before, cpu0 = [(iteration(p), time.perf_counter()) for _, p in pages], cpu_seconds(server.process.pid)
            page.wait_for_timeout(seconds * 1000)
            out["cores"] = cores(cpu0, cpu_seconds(server.process.pid))
            after = [(iteration(p), time.perf_counter()) for _, p in pages]
            out["rates"] = [(i1 - i0) / (t1 - t0) for (i0, t0), (i1, t1) in zip(before, after)]
            out["rss_n"] = rss_mb(server.process.pid)
            out["pause"], out["pause_server"] = [], []
            print(f"   (d: iterations/s {[round(r, 1) for r in out['rates']]}, RSS 1: {out['rss_1']:.0f} MB, "
                  f"{sessions}: {out['rss_n']:.0f} MB)", file=sys.stderr, flush=True)
            for _, p in pages:  # each with the others still training
                answer = clicked = None
                try:
                    answer, clicked = p.evaluate(PAUSE)
                    click(p, "Start")
                    p.wait_for_timeout(300)
                except PlaywrightError as error:  # a session that never shows its button again counts as no answer
                    print(f"   (d: a session did not answer: {str(error).splitlines()[0]})", file=sys.stderr)
                out["pause"].append(None if answer is None else answer / 1000)  # one figure per session
                out["pause_server"].append(None if clicked is None else full_run_finished_after(p, clicked / 1000))
            for _, p in pages:
                try:
                    click(p, "Pause")
                except PlaywrightError:
                    pass
            page.wait_for_timeout(2000)
            out["rss_n_paused"] = rss_mb(server.process.pid)
            out["alive"] = server.process.poll() is None and healthy(server.url)
            out["exceptions"] = sum(p.locator('[data-testid="stException"]').count() for _, p in pages)
        finally:
            for context, _ in pages:
                context.close()
    out["sessions"] = sessions
    return out


def report_sessions(out: dict) -> None:
    """Print the many-session figures."""
    n, rates, pauses = out["sessions"], out["rates"], out["pause"]
    print(f"\nd. {n} browser sessions on one server, all training (bundled sample, full batch; the {n} pages share "
          "the server's cores)")
    print(f"   cores used while all train: server {out['cores']['server']:.2f}, Chromium {out['cores']['browser']:.2f}")
    print(f"   server up at the end: {'yes' if out['alive'] else 'NO'}; exceptions shown: {out['exceptions']}")
    print(f"   sessions that advanced: {sum(r > 0 for r in rates)} of {n}; iterations/s each: min {min(rates):.1f}, "
          f"median {median(rates):.1f}, max {max(rates):.1f}, total {sum(rates):.1f}")
    answered = [p for p in pauses if p is not None]
    print(f"   Pause answered (s) each: {', '.join('none' if p is None else f'{p:.2f}' for p in pauses)}")
    print(f"   Pause: max {max(answered, default=float('nan')):.2f} s, within 1 s in {sum(p <= 1 for p in answered)}"
          f" of {n} sessions")
    served = [p for p in out["pause_server"] if p is not None]
    print("   of which the server's part (from the click in the page to the end of the full run it started) (s): "
          + ", ".join("none" if p is None else f"{p:.2f}" for p in out["pause_server"]))
    print(f"   server's part: max {max(served, default=float('nan')):.2f} s, within 1 s in "
          f"{sum(p <= 1 for p in served)} of {n} sessions; the rest is the page drawing it")
    per = (out["rss_n"] - out["rss_1"]) / (n - 1) if n > 1 else float("nan")
    print(f"   server RSS: idle {out['rss_idle']:.0f} MB, 1 session training {out['rss_1']:.0f} MB, {n} training "
          f"{out['rss_n']:.0f} MB, {n} paused {out['rss_n_paused']:.0f} MB -> {per:.1f} MB per extra session")
    print("   targets: every session advances, Pause within 1 s in each, <= 10 MB per extra session")


# ----- e. Plotly JSON encoding ------------------------------------------------------------------
def live_figures() -> dict:
    """The Train view's figures as a tick builds them, after 300 iterations on the sample."""
    import numpy as np

    from core import confusion_matrix
    from dashboard.charts import figures as charts

    parts = data.split(data.load_sample(), dev_size=1000, seed=0)
    trainer = Trainer(TrainConfig(), parts.X_train, parts.y_train, parts.X_dev, parts.y_dev)
    trainer.step(300)
    history, changes = trainer.history, list(trainer.lr_changes)
    x = history.column("iteration")
    preds, probs = trainer.dev_predictions()
    picked = np.flatnonzero(preds != parts.y_dev)[:16]
    images = np.rint(parts.X_dev[:, picked].T * 255).astype(np.uint8)
    dead = np.zeros(len(trainer.params.W1), bool)
    return {
        "loss curves": charts.curves_figure(x, history.column("train_loss"), history.column("dev_loss"), changes,
                                            "loss", None, width=300),
        "accuracy curves": charts.curves_figure(x, history.column("train_acc"), history.column("dev_acc"), changes,
                                                "accuracy", None, width=300),
        "weight maps": charts.weights_figure(trainer.params.W1, dead, 0, None, width=300),
        "confusion": charts.confusion_figure(confusion_matrix(parts.y_dev, preds), (None, None)),
        "gallery": charts.gallery_figure(images, parts.y_dev[picked], preds[picked], probs[preds[picked], picked]),
    }


# ----- f. long runs -------------------------------------------------------------------------------
def long_runs(sizes: tuple[int, ...] = (3_000, 300_000), builds: int = 20) -> dict:
    """Median ms per loss-curve build (as the feed builds it) and per worker snapshot, by history rows."""
    from dashboard.runs.state import train_worker
    from dashboard.views.train import curve_figure

    parts = data.split(data.load_sample(), dev_size=1000, seed=0, raw=True)
    out = {}
    for size in sizes:
        trainer = Trainer(TrainConfig(batch_size=128, iterations=None), parts.X_train, parts.y_train, parts.X_dev,
                          parts.y_dev)
        trainer.step(10)
        rows, last = trainer.histories[0].rows, trainer.histories[0].rows[-1]
        rows.extend({**last, "iteration": last["iteration"] + 10 * k} for k in range(1, size - len(rows) + 1))
        worker = train_worker(trainer, None)
        build, snap = [], []
        for _ in range(builds):
            extra = rows[-1]
            rows.extend({**extra, "iteration": extra["iteration"] + 10 * k} for k in range(1, 21))  # one slice's rows
            t0 = time.perf_counter()
            snapshot = worker._snapshot()
            t1 = time.perf_counter()
            curve_figure("loss", snapshot, None, 300, 500)
            snap.append(t1 - t0)
            build.append(time.perf_counter() - t1)
        out[size] = dict(build=median(build) * 1000, snapshot=median(snap) * 1000)
    return out


def report_long_runs(out: dict) -> None:
    print("\nf. long runs (batch 128): ms per loss-curve build by the feed (4 a second while visible) and per "
          "snapshot (10 a second, on the training thread)")
    for size, figures in out.items():
        print(f"   {size:>7,} history rows: build {figures['build']:6.1f} ms, snapshot {figures['snapshot']:5.2f} ms")


def json_encoding(repeats: int = 30) -> dict:
    """Median milliseconds of plotly.io.to_json(fig, validate=False) per figure and engine, and output sizes."""
    import plotly.io as pio

    figures, out = live_figures(), {}
    saved = pio.json.config.default_engine
    try:
        for name, figure in figures.items():
            for engine in ("json", "orjson"):
                pio.json.config.default_engine = engine
                pio.to_json(figure, validate=False)  # warm-up
                times = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    text = pio.to_json(figure, validate=False)
                    times.append(time.perf_counter() - start)
                out[name, engine] = (median(times) * 1000, len(text))
    finally:
        pio.json.config.default_engine = saved
    out["default"] = saved
    return out


def report_json(out: dict) -> None:
    """Print the encoding times."""
    print("\ne. Plotly JSON encoding of the Train view's figures "
          f"(median ms; plotly's default engine: {out['default']!r})")
    print("                          json   orjson   ratio   size")
    totals = {"json": 0.0, "orjson": 0.0}
    for name in [k[0] for k in out if isinstance(k, tuple) and k[1] == "json"]:
        a, size = out[name, "json"]
        b, _ = out[name, "orjson"]
        totals["json"] += a
        totals["orjson"] += b
        print(f"   {name:<18} {a:8.2f} {b:8.2f}  {a / b:5.1f}x  {size / 1024:5.0f} KB")
    print(f"   {'all five':<18} {totals['json']:8.2f} {totals['orjson']:8.2f}  "
          f"{totals['json'] / totals['orjson']:5.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="repeats of a, b and c (medians)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring window for c and d")
    parser.add_argument("--sessions", type=int, default=10, help="browser sessions for d")
    parser.add_argument("--only", nargs="+", choices=list("abcdef"), default=list("abcdef"), help="parts to run")
    args = parser.parse_args()
    reason = browser_missing()
    if reason:
        sys.exit(f"bench_app: {reason}")
    from playwright.sync_api import sync_playwright

    print(f"digit-lab dashboard bench, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if "e" in args.only:
        report_json(json_encoding())
    if "f" in args.only:
        report_long_runs(long_runs())
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        scratch = Path(folder)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            if "a" in args.only:
                report_first_chart(first_chart(browser, scratch, args.repeats))
            if "b" in args.only or "c" in args.only:
                with Server(scratch) as server:
                    if "b" in args.only:
                        report_switch(switch_views(browser, server.url, args.repeats))
                    if "c" in args.only:
                        report_speed(training_speed(browser, scratch, server.url, server.process.pid, args.seconds,
                                                     args.repeats))
            if "d" in args.only:
                report_sessions(many_sessions(browser, scratch, args.sessions, args.seconds))
        finally:
            browser.close()
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
