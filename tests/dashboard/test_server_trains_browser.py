"""The server trains, the page watches: in Chromium, a run goes on with the page's timers held, with another
view open, through a reload (same id), and a sweep, the notebook pair and a server crash lose nothing.

Needs Debian's /usr/bin/chromium and the playwright package; skipped without them (failed when CI=true).
"""

from __future__ import annotations

import os
import signal
import time

from tests.dashboard.conftest import (BACKGROUND_TAB, main_area, open_app, start_server, status_value, stop_server,
                                      wait_until)
from tests.dashboard.test_reload_browser import RUN_ID, iteration, run_id

VIEWPORT = {"width": 1400, "height": 1000}


def press(page, name: str) -> None:
    """Click a button of the open view by its exact name."""
    main_area(page).get_by_role("button", name=name, exact=True).click()


def start_training(page, seconds: float = 3.0) -> float:
    """Start the run and return its iterations per second over `seconds` with the page visible (read from
    the counter, which is redrawn once a second)."""
    press(page, "Start")
    wait_until(lambda: iteration(page) > 0, timeout=30, message="training to start")
    start, t0 = iteration(page), time.monotonic()
    time.sleep(seconds)
    return (iteration(page) - start) / (time.monotonic() - t0)


AWAY = 6  # seconds a page spends as a background tab


def test_training_goes_on_while_the_page_is_a_background_tab(browser, server):
    """Start, then send the page to the background (timers held, hidden) for six seconds: back, the run has
    trained through them, at least 0.8 times as fast as while the page was visible (it measures 1.3-1.8)."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(BACKGROUND_TAB)
    try:
        page = context.new_page()
        open_app(page, server)
        visible_rate = start_training(page)
        page.evaluate("window.__away(true)")
        held_at = iteration(page)
        time.sleep(AWAY)  # the stimulus: seconds in which the page asks nothing
        assert iteration(page) <= held_at + visible_rate  # the page itself followed no more (its stream closed)
        page.evaluate("window.__away(false)")
        back = wait_until(lambda: iteration(page) > held_at + visible_rate and iteration(page), timeout=30,
                          message="the page to show the run again")
        # The first figure shown on coming back: the seconds away trained, not only what came after the return.
        assert back - held_at >= 0.8 * visible_rate * AWAY  # paused while away: 0.34
        press(page, "Pause")
    finally:
        context.close()


def test_training_goes_on_while_another_view_is_open(page):
    """Start, open the Math view for five seconds, come back: the run trained meanwhile (at least 0.8 times as
    fast as while the Train view was open) and is still going."""
    visible_rate = start_training(page)
    left_at, left = iteration(page), time.monotonic()
    page.get_by_role("link", name="Math").click()
    main_area(page).get_by_text("The network's equations").wait_for(timeout=20_000)
    time.sleep(5)  # the stimulus: the Train view is not open
    away = time.monotonic() - left
    page.get_by_role("link", name="Train").click()
    back = wait_until(lambda: iteration(page) > left_at and iteration(page), timeout=30,
                      message="the Train view to show the run again")
    # The first figure shown on coming back: the seconds away trained, not only what came after the return.
    assert back - left_at >= 0.8 * visible_rate * away  # measures 1.3; paused while away: 0.04
    assert main_area(page).get_by_role("button", name="Pause", exact=True).is_enabled()
    press(page, "Pause")


def test_a_reload_reattaches_to_the_same_live_run(page):
    """Start, reload: the same run id, still training, further on than before the reload."""
    press(page, "Start")
    wait_until(lambda: iteration(page) > 0, timeout=30, message="training to start")
    first = run_id(page)
    before = iteration(page)
    page.reload()
    page.get_by_role("button", name="Pause", exact=True).wait_for(timeout=60_000)
    assert run_id(page) == first
    wait_until(lambda: iteration(page) > before, timeout=30, message="the run to go on after the reload")
    press(page, "Pause")
    main_area(page).get_by_role("button", name="Start", exact=True).wait_for(timeout=20_000)


def test_a_sweep_in_flight_survives_a_reload(page):
    """A sweep reloaded mid-way is still there, further on, and still racing."""
    page.get_by_role("link", name="LR lab").click()
    main_area(page).get_by_role("button", name="Run sweep", exact=True).wait_for(timeout=20_000)
    main_area(page).get_by_label("iterations").fill("100000")
    press(page, "Run sweep")
    sweep_iteration = lambda: int(status_value(page, "Iteration").split("/")[0].replace(",", "").strip())  # noqa: E731
    wait_until(lambda: sweep_iteration() > 0, timeout=30, message="the sweep to start")
    before = sweep_iteration()
    page.reload()
    main_area(page).get_by_role("button", name="Stop sweep", exact=True).wait_for(timeout=60_000)
    wait_until(lambda: sweep_iteration() > before, timeout=30, message="the sweep to go on after the reload")
    press(page, "Stop sweep")


def test_the_notebook_pair_survives_a_reload(page):
    """The notebook pair paused at some iteration comes back at that iteration after a reload."""
    page.get_by_role("link", name="Notebook vs corrected").click()
    step = main_area(page).get_by_role("button", name="Step 10", exact=True)
    step.wait_for(timeout=20_000)
    step.click()
    captions = lambda: " ".join(main_area(page).locator('[data-testid="stCaptionContainer"]').all_inner_texts())  # noqa: E731
    wait_until(lambda: "at iteration 10 ·" in captions(), timeout=30, message="the pair at iteration 10")
    page.reload()
    main_area(page).get_by_role("button", name="Step 10", exact=True).wait_for(timeout=60_000)
    wait_until(lambda: "at iteration 10 ·" in captions(), timeout=30, message="the pair at iteration 10 after the reload")


def test_a_crash_loses_at_most_about_a_second(browser, tmp_path):
    """kill -9 the server while training, start it again on the same runs: the owner's link carries on from
    a save made after what the page showed a second before the crash."""
    env = {"DIGIT_LAB_RUNS": str(tmp_path / "runs")}
    process, url = start_server(env)
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        open_app(page, url)
        press(page, "Start")
        wait_until(lambda: iteration(page) > 50, timeout=30, message="training")
        link = page.url
        shown = iteration(page)
        time.sleep(1.2)  # the saver writes at least once a second
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        process, url = start_server(env)
        page.goto(f"{url}/?{link.split('?', 1)[1]}")
        page.get_by_role("button", name="Pause", exact=True).wait_for(timeout=60_000)  # the owner's run trains on
        assert RUN_ID.search(page.url).group(1) == RUN_ID.search(link).group(1)
        wait_until(lambda: iteration(page) >= shown, timeout=30, message="the run back from its last save")
        press(page, "Pause")
    finally:
        context.close()
        stop_server(process)
