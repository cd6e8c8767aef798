"""The reference apps the dashboard bench measures against run and do what the bench expects.

`tests.bench_app` compares the dashboard with a bare 4-line Plotly app (first chart), with
FLOOR_APP, the barest live Streamlit + Plotly view of the same training (the UI floor for
iterations per second), and with the headless Trainer next to a bare page redrawing two curves (the
bound). A reference that failed, or stopped training or drawing, would make those figures
meaningless, so each is run here (the apps under AppTest, the page in Chromium); the figures
themselves are the bench's.
"""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.bench_app import BARE_APP, curves_bound, floor_app_source, shares
from tests.dashboard.conftest import CHROMIUM, CHROMIUM_ARGS, browser_missing, chart_keys, decode, figure, require


def floor(query: dict | None = None) -> AppTest:
    at = AppTest.from_string(floor_app_source(), default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


def iteration(at: AppTest) -> int:
    return int(next(m.value for m in at.metric if m.label == "Iteration").replace(",", ""))


def test_floor_app_trains_and_draws_the_two_curves_each_tick():
    """The floor app starts, trains on every tick, draws loss and accuracy curves, and Pause holds."""
    at = floor()
    assert not at.exception
    assert iteration(at) == 0 and chart_keys(at) == ["loss", "acc"]
    at.button[0].click().run()  # Start: this run's tick draws, then trains for 0.2 s
    at.run()
    first = iteration(at)
    assert first > 0 and at.session_state["running"]
    at.run()
    now = iteration(at)
    assert now > first  # every tick trains on
    loss = figure(at, "loss")  # drawn with the metric, before this tick trained
    assert [t["name"] for t in loss["data"]] == ["train", "dev"]
    assert len(decode(loss["data"][0]["x"])) == now // 10 + 1  # an evaluation every 10 iterations, and the start
    at.button[1].click().run()  # Pause
    paused = iteration(at)
    at.run()
    assert iteration(at) == paused and not at.exception


def test_floor_app_takes_the_mini_batch_run_from_the_url():
    """The floor app reads full_batch and batch_size from the URL, as the bench's batch-128 run needs."""
    at = floor({"full_batch": "false", "batch_size": "128"})
    assert at.session_state["trainer"].config.batch_size == 128
    assert floor().session_state["trainer"].config.batch_size is None


def test_bare_app_draws_one_chart():
    """The bare Plotly app the first-chart figure compares with draws its one chart without error."""
    at = AppTest.from_string(BARE_APP, default_timeout=60).run()
    assert not at.exception and len(at.get("plotly_chart")) == 1


def test_the_bound_page_redraws_its_curves_while_the_trainer_trains():
    """The bound's bare page (CURVES_PAGE) keeps redrawing both curves while the headless Trainer runs."""
    require(browser_missing())
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            bound = curves_bound(browser, 1.5, 128)
        finally:
            browser.close()
    assert bound["rate"] > 0 and bound["redraws_per_s"] >= 2, bound  # a Plotly error stops the count


def test_each_rounds_share_is_over_the_headless_windows_beside_it():
    """The machine drifts, so a round's app rate is divided by the headless rates just before and after it,
    the floor's by those around the floor, the bound's by the one just before it; never by another round's."""
    head = lambda *rates: [dict(rate=r) for r in rates]  # noqa: E731
    figures = dict(headless=[head(100, 300, 200), head(1000, 1000, 1000)],
                   app=[dict(rate=180), dict(rate=900)], floor=[dict(rate=125), dict(rate=500)])
    got = shares(figures, [dict(rate=150), dict(rate=950)])
    assert got == dict(app=[180 / 200, 0.9], floor=[125 / 250, 0.5], bound=[150 / 200, 0.95])


def test_every_script_the_readme_names_imports():
    """Each `python -m tests...` script the README tells a reader to run imports (a test file that moved had
    left `tests.dashboard.bench_livechart` failing on its first line)."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    modules = sorted(set(re.findall(r"python -m (tests[\w.]*)", (root / "README.md").read_text())))
    assert "tests.bench_app" in modules and "tests.dashboard.bench_livechart" in modules
    code = "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)"
    done = subprocess.run([sys.executable, "-c", code, *modules], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
