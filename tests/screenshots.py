"""Refresh the README's screenshots (docs/*.png) on purpose, from the running app in headless Chromium.

Run: `python -m tests.screenshots [--only lab.png] [--out DIR]`. Tests never write to docs/: this
script is the one thing that does. Each row of SHOTS is one image the README shows: the link it
opens (the view's URL path, as in dashboard/app.py's PAGES, and a query), what to do there, and
the viewport. Add a row when the README gets an image. Views are switched inside a session by
their navigation link (`open_view`, by page title), as a user does.

The server runs on the bundled sample with its own temporary data and run folders, so nothing
outside the checkout's docs/ is touched. Needs /usr/bin/chromium and playwright.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from tests.dashboard.conftest import CHROMIUM, CHROMIUM_ARGS, ROOT, browser_missing, start_server, stop_server

DOCS = ROOT / "docs"
PAD = "canvas[aria-label='drawing pad']"
PNG = b"\x89PNG\r\n\x1a\n"
# Charts of the open view (st.plotly_chart or live charts) that are laid out and have drawn their traces.
DRAWN_CHARTS = """() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stPlotlyChart"], '
    + '[data-testid="stMain"] .stBidiComponent')]
  .filter(e => e.getBoundingClientRect().width > 0 && e.querySelector('.cartesianlayer .trace, .cartesianlayer .hm'))
  .length"""


# ----- finding things on the page (work with tabs on main and with st.navigation pages) ---------
def visible(locator):
    """Only the matches that are shown (a hidden tab keeps its widgets in the page)."""
    return locator.filter(visible=True)


def button(page, name: str):
    """The visible button with exactly this name."""
    return visible(page.get_by_role("button", name=name, exact=True)).first


def metric(page, label: str) -> str:
    """The value of the visible metric (or figure of the Train view's status row) with this label."""
    cell = page.locator(f'.livestatus .cell[data-label="{label}"] .value')
    if cell.count() and cell.first.is_visible():
        return cell.first.inner_text().strip()
    for box in page.locator('[data-testid="stMetric"]').all():
        if box.is_visible() and box.locator('[data-testid="stMetricLabel"]').inner_text().strip() == label:
            return box.locator('[data-testid="stMetricValue"]').inner_text().strip()
    raise LookupError(f"no visible metric {label!r}")


def iteration(page) -> int:
    """The Train view's iteration counter."""
    return int(metric(page, "Iteration").split("/")[0].replace(",", ""))


def app_error(page) -> str | None:
    """The first line of an exception the app shows, or None."""
    shown = page.locator('[data-testid="stException"]')
    return shown.first.inner_text().strip().splitlines()[0] if shown.count() else None


def wait_until(condition: Callable[[], bool], timeout: float = 60, message: str = "condition", page=None) -> None:
    """Poll `condition` (errors count as not yet) until true; fail after `timeout` seconds, or at once
    when `page` shows an exception."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (LookupError, ValueError):
            pass
        if page is not None and app_error(page):
            raise RuntimeError(f"the app showed an exception while waiting for {message}: {app_error(page)}")
        time.sleep(0.2)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {message}")


def wait_text(page, text: str, timeout: float = 60) -> None:
    """Wait until `text` is shown in the page (fails at once on an app exception)."""
    wait_until(lambda: visible(page.get_by_text(text)).count() > 0, timeout, repr(text), page)


def view_link(page, label: str):
    """What a user clicks to open a view: its tab (main today) or its navigation link (st.navigation pages)."""
    tab = page.get_by_role("tab", name=label, exact=True)
    if tab.count():
        return tab.first
    # A navigation link's name may start with its icon's ligature text ("monitoring Train").
    return visible(page.get_by_role("link", name=re.compile(rf"(^|\W){re.escape(label)}$"))).first


def open_view(page, label: str) -> None:
    """Switch to a view the way a user does, keeping the session."""
    view_link(page, label).click()
    page.wait_for_timeout(500)


def commit(page, role: str, name: str, value: str) -> None:
    """Type into a visible text or number input and press Enter (what sends it to the app)."""
    box = visible(page.get_by_role(role, name=name, exact=True)).first
    box.fill(value)
    box.press("Enter")
    page.wait_for_timeout(500)


def stroke(page, points: list[tuple[float, float]]) -> None:
    """One pen stroke through `points` (pad pixels, 0..280) on the drawing pad."""
    box = visible(page.locator(PAD)).first.bounding_box()
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=8)
    page.mouse.up()


def all_charts_drawn(page, count: int) -> bytes:
    """A screenshot taken when `count` charts are drawn (a live tick remounts charts: retry a few frames)."""
    size = page.viewport_size
    page.mouse.move(size["width"] - 5, size["height"] - 5)  # no hover highlight on the last button clicked
    for _ in range(20):
        wait_until(lambda: page.evaluate(DRAWN_CHARTS) >= count, message=f"{count} drawn charts", page=page)
        shot = page.screenshot()
        if page.evaluate(DRAWN_CHARTS) >= count:
            return shot
    raise TimeoutError(f"no frame with {count} drawn charts")


# ----- what each image shows ------------------------------------------------------------------
def train_while_running(page) -> bytes:
    """Train view mid-run: curves, weight maps, gallery, and a mid-run α change marked on the curves."""
    button(page, "Start").click()
    wait_until(lambda: iteration(page) > 150, timeout=120, message="150 iterations", page=page)
    commit(page, "spinbutton", "exact α", "0.3")  # steer it: a bigger step size, marked on the curves
    wait_until(lambda: iteration(page) > 250, timeout=120, message="250 iterations", page=page)
    page.wait_for_timeout(3500)  # one more gallery refresh, so it matches the curves
    shot = all_charts_drawn(page, 5)
    button(page, "Pause").click()
    return shot


def notebook_to_the_end(page) -> bytes:
    """Notebook vs corrected after its 1,000 lockstep iterations."""
    button(page, "Start").click()
    wait_text(page, "paused at iteration 1,000 ·", timeout=240)
    page.wait_for_timeout(2500)  # the charts' last drawing, margins measured for the final tick labels
    return all_charts_drawn(page, 2)


def draw_a_seven(page) -> bytes:
    """Inside a digit: a 7 drawn on the pad, read by the Train view's network after 300 iterations."""
    for _ in range(3):
        button(page, "Step 100").click()
        page.wait_for_timeout(300)
    wait_until(lambda: iteration(page) == 300, message="300 iterations", page=page)
    open_view(page, "Inside a digit")
    visible(page.get_by_role("radio", name="Draw", exact=True)).first.click()
    visible(page.locator(PAD)).first.wait_for(timeout=20_000)
    stroke(page, [(55 + 20 * i, 45) for i in range(10)] + [(235 - 11 * i, 45 + 21 * i) for i in range(1, 11)])
    wait_text(page, "What the network sees (28x28)")
    wait_until(lambda: metric(page, "Prediction") != "", message="a prediction", page=page)
    page.wait_for_timeout(1000)
    return all_charts_drawn(page, 3)


def sweep_seven_rates(page) -> bytes:
    """LR lab after the default sweep (7 rates, 200 iterations) with h = 16: best marked, failures crossed."""
    button(page, "Run sweep").click()
    wait_text(page, "Best by dev accuracy", timeout=300)
    page.wait_for_timeout(1000)
    return all_charts_drawn(page, 2)


class Shot(NamedTuple):
    """One README image: the file, the link it opens (view URL path and query), what to do, the viewport height."""

    file: str
    link: str  # URL path of the view (st.Page url_path, "" for the default Train view) and its ?query
    actions: Callable[[object], bytes]
    height: int = 1000


SHOTS = (
    Shot("screenshot.png", "", train_while_running),
    Shot("notebook.png", "notebook", notebook_to_the_end),
    Shot("digit.png", "", draw_a_seven),  # trains in Train first, then opens Inside a digit from the menu
    Shot("lab.png", "lab?hidden=16", sweep_seven_rates, height=1080),
)


def take(browser, url: str, shot: Shot) -> bytes:
    """Open the shot's link in a fresh session, act, and return the PNG bytes."""
    context = browser.new_context(viewport={"width": 1400, "height": shot.height})
    try:
        page = context.new_page()
        page.goto(f"{url}/{shot.link}")
        page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg, .stBidiComponent .main-svg, '
                               '[data-testid="stButton"]', timeout=120_000)
        page.wait_for_timeout(1000)
        image = shot.actions(page)
        if app_error(page):
            raise RuntimeError(f"the app showed an exception: {app_error(page)}")
    finally:
        context.close()
    if not image.startswith(PNG) or len(image) < 50_000:
        raise RuntimeError(f"{shot.file}: the screenshot looks empty ({len(image):,} bytes)")
    return image


def main(argv: list[str] | None = None) -> int:
    """Take every shot (or --only some), write them to docs/ (or --out), print what was written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=[s.file for s in SHOTS], help="refresh only these images")
    parser.add_argument("--out", type=Path, default=DOCS, help="folder to write to (default: docs/)")
    args = parser.parse_args(argv)
    reason = browser_missing()
    if reason:
        print(f"screenshots: {reason}", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    shots = [s for s in SHOTS if not args.only or s.file in args.only]
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as playwright:
        env = {"DIGIT_LAB_DATA": f"{scratch}/data", "DIGIT_LAB_RUNS": f"{scratch}/runs"}
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        process, url = start_server(env, log=Path(scratch) / "streamlit.log")
        try:
            for shot in shots:
                start = time.perf_counter()
                try:
                    image = take(browser, url, shot)
                except Exception as error:  # noqa: BLE001 - one bad shot must not stop the others
                    print(f"{shot.file}: FAILED: {error}", file=sys.stderr)
                    log = (Path(scratch) / "streamlit.log").read_text(errors="replace").splitlines()
                    print("   server log, last lines:", *log[-6:], sep="\n   ", file=sys.stderr)
                    failed += 1
                    continue
                target = args.out / shot.file
                temp = target.with_suffix(".png.partial")
                temp.write_bytes(image)
                temp.replace(target)
                print(f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}: "
                      f"{len(image) / 1024:.0f} KB, {time.perf_counter() - start:.1f} s")
        finally:
            stop_server(process)
            browser.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
