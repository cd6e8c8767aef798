"""Speed and memory of the dashboard in real headless Chromium, printed side by side with the engine alone.

Run: `python -m tests.bench_app [--seconds 10] [--mnist DIR]`. Prints figures; asserts nothing.

1. Training speed: iterations/second in the app (Start, then ~10 s) against a headless `Trainer`
   with the same settings in this process, and redraws per second (changes of the iteration text
   and of the loss curve's SVG, counted in the page by a MutationObserver).
2. First render: seconds from the server answering /_stcore/health to the first chart drawn.
3. Memory: RSS of the server process with full MNIST loaded in 1, 2 and 3 browser sessions
   (MNIST from --mnist, default ../shared/data/mnist, linked into a temporary DIGIT_LAB_DATA).
Needs /usr/bin/chromium and playwright.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the server gets it

import data  # noqa: E402
from core import TrainConfig, Trainer  # noqa: E402
from tests.dashboard.conftest import CHROMIUM, CHROMIUM_ARGS, browser_missing, start_server, stop_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"
VIEWPORT = {"width": 1400, "height": 1000}

# Counts changes of the iteration metric's text and of the loss curve's path in the page.
OBSERVE = """() => {
  window.__counts = {text: 0, chart: 0};
  const metric = document.querySelector('[data-testid="stMetricValue"]');
  let last = metric.innerText;
  new MutationObserver(() => {
    const now = document.querySelector('[data-testid="stMetricValue"]').innerText;
    if (now !== last) { last = now; window.__counts.text += 1; }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
  let lastPath = null;
  new MutationObserver(() => {
    const path = document.querySelector('[data-testid="stPlotlyChart"] path.js-line');
    const d = path && path.getAttribute('d');
    if (d && d !== lastPath) { lastPath = d; window.__counts.chart += 1; }
  }).observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['d']});
}"""


def headless_speed(seconds: float) -> dict:
    """A bare Trainer with the app's default settings on the bundled sample, driven as the app does.

    rate: iterations per wall second; step_rate: iterations per second inside the updates
    (`trainer.seconds`, evaluations excluded); duty: share of wall time inside the updates.
    """
    parts = data.split(data.load_sample(), dev_size=1000, seed=0)
    trainer = Trainer(TrainConfig(), parts.X_train, parts.y_train, parts.X_dev, parts.y_dev)
    trainer.step(10)
    it0, train0, start = trainer.iteration, trainer.seconds, time.perf_counter()
    while time.perf_counter() - start < seconds:
        trainer.step(10**9, deadline=time.perf_counter() + 0.2)
    wall, done, busy = time.perf_counter() - start, trainer.iteration - it0, trainer.seconds - train0
    return dict(rate=done / wall, step_rate=done / busy, duty=busy / wall)


def metric(page, label: str) -> str:
    """The text of one status metric, by its label."""
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def iteration(page) -> int:
    """The iteration counter."""
    return int(metric(page, "Iteration").replace(",", ""))


def seconds_of(text: str) -> float:
    """Parse the "Train time" metric ("12.3 s" or "2 min 05 s")."""
    parts = text.replace(" s", "").split(" min ")
    return float(parts[0]) * 60 + float(parts[1]) if len(parts) == 2 else float(parts[0])


def open_app(page, url: str) -> None:
    """Load the app and wait for its first chart."""
    page.goto(url)
    page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=120_000)
    page.get_by_role("button", name="Start", exact=True).wait_for(timeout=120_000)


def app_speed(browser, url: str, seconds: float) -> dict:
    """Train in the app for `seconds` after a 2 s warm-up; count iterations and redraws."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    open_app(page, url)
    page.get_by_role("button", name="Start", exact=True).click()
    page.wait_for_timeout(2000)
    page.evaluate(OBSERVE)
    it0, train0, t0 = iteration(page), seconds_of(metric(page, "Train time")), time.perf_counter()
    page.wait_for_timeout(seconds * 1000)
    it1, train1, t1 = iteration(page), seconds_of(metric(page, "Train time")), time.perf_counter()
    counts = page.evaluate("window.__counts")
    page.get_by_role("button", name="Pause", exact=True).click()
    context.close()
    wall = t1 - t0
    return dict(rate=(it1 - it0) / wall, text_per_s=counts["text"] / wall, chart_per_s=counts["chart"] / wall,
                duty=(train1 - train0) / wall, step_rate=(it1 - it0) / max(train1 - train0, 1e-9))


MINIMAL_APP = """import plotly.graph_objects as go
import streamlit as st
st.button("Start")
st.plotly_chart(go.Figure(go.Scatter(y=[1, 3, 2])))
"""


def first_render(browser, app: Path | None = None) -> list[tuple[float, float]]:
    """Seconds to the Start button and to the first chart: a first session right after the server
    is healthy (cold: imports, data loading), then a second session on the same server (warm)."""
    process, url = start_server(app=app)
    start = time.perf_counter()
    figures = []
    try:
        for _ in range(2):
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(url)
            page.get_by_role("button", name="Start", exact=True).wait_for(timeout=120_000)
            button = time.perf_counter() - start
            page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=120_000)
            figures.append((button, time.perf_counter() - start))
            page.close()
            start = time.perf_counter()
    finally:
        stop_server(process)
    return figures


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def memory(browser, mnist: Path) -> list[tuple[str, float]]:
    """Server RSS with 0..3 sessions on full MNIST (each session with its own network)."""
    with tempfile.TemporaryDirectory() as cache:
        (Path(cache) / "mnist").mkdir()
        for spec in data.DATASETS["mnist"]["files"]:
            (Path(cache) / "mnist" / spec).symlink_to(mnist / spec)
        process, url = start_server({"DIGIT_LAB_DATA": cache})
        contexts, figures = [], []
        try:
            figures.append(("server idle", rss_mb(process.pid)))
            for n in (1, 2, 3):
                context = browser.new_context(viewport=VIEWPORT)
                page = context.new_page()
                open_app(page, f"{url}/?data_source=MNIST")
                page.get_by_text("MNIST train").first.wait_for(timeout=120_000)
                page.get_by_role("button", name="Step 10", exact=True).click()
                page.wait_for_function("document.querySelector('[data-testid=\"stMetricValue\"]').innerText === '10'",
                                       timeout=120_000)
                page.wait_for_timeout(1500)  # let the gallery fragment and the reruns settle
                contexts.append(context)
                figures.append((f"{n} session{'s' if n > 1 else ''} on MNIST", rss_mb(process.pid)))
        finally:
            for context in contexts:
                context.close()
            stop_server(process)
    return figures


def report_speed(headless: dict, app: dict) -> None:
    """Print the app's training speed next to the headless Trainer's, and why they differ."""
    print("\n1. training speed (bundled sample, h=10, full batch, plain, α=0.1)")
    print("                                  headless      app   app/headless")
    for label, key, unit in (("iterations per wall second", "rate", ""),
                             ("  iterations/s inside updates", "step_rate", "  (CPU shared with Chromium)"),
                             ("  share of wall time in updates", "duty", "  (drawing, evaluation)")):
        a, b = headless[key], app[key]
        shown = (f"{a:8.0%} {b:8.0%}" if key == "duty" else f"{a:8.1f} {b:8.1f}")
        print(f"   {label:<30} {shown}   {b / a:6.0%}{unit}")
    print("   target: app/headless >= 80% for iterations per wall second")
    print(f"   redraws/s: iteration text {app['text_per_s']:.1f}, loss curve {app['chart_per_s']:.1f} (target >= 4)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring window in the browser")
    parser.add_argument("--mnist", type=Path, default=SHARED_MNIST, help="folder with the four MNIST .gz files")
    args = parser.parse_args()
    reason = browser_missing()
    if reason:
        sys.exit(f"bench_app: {reason}")
    from playwright.sync_api import sync_playwright

    print("digit-lab dashboard bench (2 figures per line: app vs reference, where it applies)")
    headless = headless_speed(5.0)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        process, url = start_server()
        try:
            speed = app_speed(browser, url, args.seconds)
        finally:
            stop_server(process)
        report_speed(headless, speed)

        (button, chart), (button2, chart2) = first_render(browser)
        with tempfile.TemporaryDirectory() as folder:
            minimal = Path(folder) / "minimal.py"
            minimal.write_text(MINIMAL_APP)
            (base_button, base_chart), _ = first_render(browser, minimal)
        print("\n2. first render after /_stcore/health is ok (bundled sample)")
        print(f"   first session   Start button {button:.2f} s, first chart {chart:.2f} s (target <= 3 s)")
        print(f"   second session  Start button {button2:.2f} s, first chart {chart2:.2f} s")
        print(f"   for scale, a 4-line app (a button, one Plotly chart): {base_button:.2f} s, {base_chart:.2f} s")

        print("\n3. server memory (RSS) with full MNIST")
        if not (args.mnist / "train-images-idx3-ubyte.gz").exists():
            print(f"   skipped: no MNIST files in {args.mnist} (use --mnist DIR)")
        else:
            figures = memory(browser, args.mnist)
            previous = None
            for label, mb in figures:
                extra = f"   (+{mb - previous:.1f} MB)" if previous is not None else ""
                print(f"   {label:<24} {mb:8.1f} MB{extra}")
                previous = mb
            print("   target: each extra session <= 10 MB")
        browser.close()


if __name__ == "__main__":
    main()
