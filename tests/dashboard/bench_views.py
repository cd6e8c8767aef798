"""The app's speed as a person sees it, in real headless Chromium, printed side by side; asserts nothing.

Run: `python -m tests.dashboard.bench_views [--repeats 3] [--seconds 8]`.
1. First chart: seconds from opening the page to the first drawn chart, the app against a bare
   4-line Plotly app on its own server, measured the same way, interleaved; medians.
2. Switching views: seconds from a click in the navigation bar to the view's own content; medians.
3. Training speed: in-app iterations/s (Start, ~N s, counter and train time read from the page)
   against the same settings headless in this process (full batch and batch 128), and redraws/s.
4. Saving: milliseconds per save of the session's run and history (dashboard/runs/session.py) and
   what a save every SAVE_EVERY seconds costs in training throughput.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the server gets it (before NumPy loads)

import data  # noqa: E402
from core import TrainConfig, Trainer  # noqa: E402
from core.config import eval_every_for  # noqa: E402
from tests.dashboard.conftest import CHROMIUM, CHROMIUM_ARGS, start_server, stop_server  # noqa: E402

VIEWPORT = {"width": 1400, "height": 1000}
BARE_APP = """import plotly.graph_objects as go
import streamlit as st
st.plotly_chart(go.Figure(go.Scatter(x=[0, 1, 2], y=[2, 1, 3])))
"""
CHART = '[data-testid="stPlotlyChart"] .main-svg, .stBidiComponent .main-svg'
VIEWS = {"Notebook vs corrected": CHART, "Math": CHART, "Inside a digit": CHART,
         "LR lab": 'button:has-text("Run sweep")', "Runs": '[data-testid="stCode"]', "Train": CHART}
COUNT_REDRAWS = """() => { window.__redraws = 0; let last = null;
  new MutationObserver(() => { const p = document.querySelector('[data-testid="stMain"] path.js-line');
    const d = p && p.getAttribute('d'); if (d && d !== last) { last = d; window.__redraws += 1; } })
  .observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['d']}); }"""


def first_chart(browser, url: str) -> float:
    """Seconds from goto() to the first drawn chart, in a fresh context."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(CHART, timeout=120_000)
    seconds = time.perf_counter() - start
    context.close()
    return seconds


def switch_times(browser, url: str) -> dict[str, float]:
    """Seconds from a navigation click to the view's content, per view."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector(CHART, timeout=120_000)
    out = {}
    for name, selector in VIEWS.items():
        main = page.locator('[data-testid="stMain"]')
        start = time.perf_counter()
        page.get_by_role("link", name=name, exact=True).click()
        try:
            main.locator(selector).locator("visible=true").first.wait_for(timeout=30_000)
            out[name] = time.perf_counter() - start
        except Exception as error:  # noqa: BLE001 - a benchmark reports and goes on
            print(f"switch to {name}: no content within 30 s ({type(error).__name__})")
            out[name] = float("nan")
        time.sleep(0.3)
    context.close()
    return out


def metric(page, label: str) -> str:
    cell = page.locator(f'[data-testid="stMain"] .livestatus .cell[data-label="{label}"] .value')
    if cell.count():  # the Train view's status row
        return cell.first.inner_text()
    box = page.locator('[data-testid="stMain"] [data-testid="stMetric"]').filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def in_app_speed(browser, url: str, seconds: float) -> tuple[float, float]:
    """(iterations per wall second, redraws per second) while training in the app."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector(CHART, timeout=120_000)
    page.get_by_role("button", name="Start", exact=True).click()
    time.sleep(2.0)  # settle: the first ticks mount the charts
    page.evaluate(COUNT_REDRAWS)
    it0, t0 = int(metric(page, "Iteration").replace(",", "")), time.perf_counter()
    time.sleep(seconds)
    it1, t1 = int(metric(page, "Iteration").replace(",", "")), time.perf_counter()
    redraws = page.evaluate("window.__redraws")
    page.get_by_role("button", name="Pause", exact=True).click()
    context.close()
    return (it1 - it0) / (t1 - t0), redraws / (t1 - t0)


def headless_speed(seconds: float, batch_size: int | None) -> float:
    """A bare Trainer with the app's default settings, driven in 0.25 s chunks as the app's ticks are."""
    parts = data.split(data.load_sample(), dev_size=1000, seed=0)
    config = TrainConfig(iterations=None, batch_size=batch_size, eval_every=eval_every_for(batch_size))  # as the app's
    trainer = Trainer(config, parts.X_train, parts.y_train, parts.X_dev, parts.y_dev)
    trainer.step(10)
    it0, start = trainer.iteration, time.perf_counter()
    while time.perf_counter() - start < seconds:
        trainer.step(None, deadline=time.perf_counter() + 0.25)
    return (trainer.iteration - it0) / (time.perf_counter() - start)


def save_cost(repeats: int = 20) -> float:
    """Milliseconds per save of a default run with 5 runs of history (session_bytes + RunStore.save)."""
    from dashboard.runs import history as runs, session, state
    from dashboard.runs.state import Lab
    from dashboard.runs.store import RunStore, new_id
    from tests.dashboard.bench_tick import median_ms

    sample = data.load_sample()
    parts = data.split(sample, dev_size=1000, seed=0)
    trainer = Trainer(TrainConfig(iterations=None), parts.X_train, parts.y_train, parts.X_dev, parts.y_dev)
    trainer.step(300)
    lab = Lab(state.train_worker(trainer, None), TrainConfig(iterations=None), "sample", sample, parts)
    history = runs.RunHistory()
    for _ in range(5):
        history.add(runs.from_trainer(trainer, "sample"))
    with tempfile.TemporaryDirectory() as folder:
        store, run_id = RunStore(folder), new_id()
        return median_ms(lambda: store.save(run_id, session.session_bytes(session.Kept(new_id(), None, lab, history, {}))), repeats)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--only", choices=["first", "switch", "speed", "save"], help="one part only")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare.py"
        bare.write_text(BARE_APP)
        env = {"DIGIT_LAB_RUNS": str(Path(tmp) / "runs")}
        app, app_url = start_server(env)
        plain, plain_url = start_server(env, app=bare)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                ours, theirs = [], []
                for _ in range(args.repeats if args.only in (None, "first") else 0):  # interleaved
                    theirs.append(first_chart(browser, plain_url))
                    ours.append(first_chart(browser, app_url))
                if ours:
                    print(f"first chart: app {statistics.median(ours):.2f} s, bare Plotly app "
                          f"{statistics.median(theirs):.2f} s (medians of {args.repeats}; "
                          f"app {[round(s, 2) for s in ours]}, bare {[round(s, 2) for s in theirs]})")
                switches = [switch_times(browser, app_url)
                            for _ in range(args.repeats if args.only in (None, "switch") else 0)]
                for name in VIEWS if switches else ():
                    print(f"switch to {name:22} {statistics.median(s[name] for s in switches):.2f} s")
                speeds = ((None, ""), (128, "?full_batch=false&batch_size=128"))
                for batch, query in speeds if args.only in (None, "speed") else ():
                    rate, redraws = in_app_speed(browser, app_url + "/" + query, args.seconds)
                    alone = headless_speed(args.seconds, batch)
                    label = "full batch" if batch is None else f"batch {batch}"
                    print(f"{label:10}: app {rate:7.0f} it/s, headless {alone:7.0f} it/s "
                          f"({rate / alone:.0%}), {redraws:.1f} redraws/s")
                browser.close()
        finally:
            stop_server(app)
            stop_server(plain)
    from dashboard.runs.session import SAVE_EVERY

    if args.only not in (None, "save"):
        return

    ms = save_cost()
    print(f"save: {ms:.1f} ms per save; one every {SAVE_EVERY:g} s while running costs {ms / 10 / SAVE_EVERY:.2f}% "
          f"of training time")


if __name__ == "__main__":
    sys.exit(main())
