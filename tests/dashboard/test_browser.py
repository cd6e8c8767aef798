"""The dashboard in real headless Chromium: what AppTest cannot see (timers, drawn charts, downloads).

Needs Debian's /usr/bin/chromium and the playwright package; skipped without them (failed when CI=true).
"""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image

import data
from core import Params
from tests.dashboard.conftest import (CHART, CUT_TEXT, DRAWN_CHART, TITLES_CUT, main_area, open_app, settled, status_value,
                                      wait_until)


def train_tab(page):
    """The main area, where the Train view is drawn (the sidebar holds the settings)."""
    return main_area(page)


def charts(page):
    """The Plotly charts of the Train view, in page order: loss, accuracy, weights, confusion, gallery."""
    return train_tab(page).locator(CHART)


def iteration(page) -> int:
    """The iteration counter shown in the status row."""
    return int(status_value(page, "Iteration").replace(",", ""))


def loss_path(page) -> str:
    """The SVG path of the train loss curve ("" while it is a single point)."""
    lines = charts(page).first.locator("path.js-line")
    return lines.first.get_attribute("d") if lines.count() else ""


def click(page, name: str) -> None:
    """Click a button of the Train tab by its exact name."""
    train_tab(page).get_by_role("button", name=name, exact=True).click()


def test_live_training_controls(page):
    """Start advances the counter and curves, a mid-run α change is marked, Pause holds, Step and Reset work."""
    assert iteration(page) == 0
    before = loss_path(page)
    click(page, "Start")
    wait_until(lambda: iteration(page) > 20, message="training to advance")
    first = iteration(page)
    wait_until(lambda: iteration(page) > first, message="the counter to keep moving")
    wait_until(lambda: loss_path(page) != before, message="the loss curve to change")

    slider = train_tab(page).locator('[data-testid="stSlider"]').get_by_role("slider")
    slider.focus()
    slider.press("ArrowRight")  # 0.1 -> 0.12 on the log scale
    markers = charts(page).first.locator(".annotation-text")
    wait_until(lambda: "α=0.12" in markers.all_text_contents(), message="the α=0.12 marker")
    exact = train_tab(page).get_by_role("spinbutton", name="exact α")
    # The exact entry follows the slider (the full run that redraws it can land after the feed drew the marker).
    wait_until(lambda: float(exact.input_value()) == 0.12, message="the exact entry to follow the slider")
    exact.fill("0.05")
    exact.press("Enter")
    wait_until(lambda: markers.all_text_contents()[-1:] == ["α=0.05"], message="the α=0.05 marker")
    wait_until(lambda: slider.get_attribute("aria-valuetext") == "0.05", message="the slider to follow the exact entry")
    for _ in range(3):  # the two widgets must not flip each other back and forth while ticks go on
        seen = iteration(page)
        wait_until(lambda: iteration(page) > seen, message="another tick")
    assert wait_until(markers.all_text_contents, message="the loss chart drawn") == ["α=0.12", "α=0.05"]
    assert slider.get_attribute("aria-valuetext") == "0.05" and float(exact.input_value()) == 0.05

    click(page, "Pause")
    wait_until(lambda: train_tab(page).get_by_role("button", name="Start", exact=True).is_enabled(),
               message="Start to come back")
    paused = settled(lambda: iteration(page))  # the buttons are drawn before the status row of the same run

    click(page, "Step 10")
    wait_until(lambda: iteration(page) == paused + 10, message="Step 10")
    assert settled(lambda: iteration(page), every=1.0) == paused + 10  # paused: only the 10 steps asked for
    click(page, "Reset")
    wait_until(lambda: iteration(page) == 0, message="Reset")


def test_download_weights_loads_back(page, tmp_path):
    """The weights download is an .npz that np.load (no pickles) and Params.from_arrays accept."""
    click(page, "Step 10")
    wait_until(lambda: iteration(page) == 10, message="Step 10")
    with page.expect_download() as download:
        page.locator('[data-testid="stDownloadButton"]').filter(has_text="Run .npz").get_by_role("button").click()
    path = tmp_path / "weights.npz"
    download.value.save_as(path)
    with np.load(path, allow_pickle=False) as npz:
        assert npz["W1"].shape == (10, 784) and npz["b2"].shape == (10, 1)
    arrays, meta = data.load_weights(path)
    assert Params.from_arrays(arrays).hidden == 10 and meta["iteration"] == 10


def test_bad_csv_upload_shows_the_problem(page):
    """Uploading a CSV with a bad pixel shows the row, column and value, and the sample stays loaded."""
    page.get_by_text("Upload CSV", exact=True).click()
    header = "label," + ",".join(f"pixel{i}" for i in range(784))
    row = "3," + ",".join(["0"] * 17 + ["999"] + ["0"] * 766)
    uploader = (page.locator('[data-testid="stFileUploader"]').filter(has_text="Kaggle-style train.csv")
                .locator('[data-testid="stFileUploaderDropzoneInput"]'))  # not the weights uploader
    uploader.set_input_files(files=[{"name": "bad.csv", "mimeType": "text/csv",
                                     "buffer": f"{header}\n{row}\n".encode()}])
    alert = page.locator('[data-testid="stAlert"]', has_text="Could not use bad.csv")
    alert.wait_for(timeout=20_000)
    assert "pixel17" in alert.inner_text() and "999" in alert.inner_text()
    assert page.get_by_text("MNIST sample (10,000)").count() >= 1


# The confusion chart's largest off-diagonal cell and its position on screen, from Plotly's own axes.
BIGGEST_MISTAKE = """() => {
  const gd = [...document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot')]  // the one titled "predicted"
    .find(g => g.data && g.data[0].type === 'heatmap' && g.layout.xaxis && g.layout.xaxis.title
               && g.layout.xaxis.title.text === 'predicted');
  if (!gd || !gd._fullData || !gd._fullData[0]) return null;  // not drawn yet
  const z = gd._fullData[0].z;  // decoded from the typed-array JSON
  let best = [0, 1, -1];
  for (let t = 0; t < 10; t++) for (let p = 0; p < 10; p++) {
    const count = Number(z[t][p]);
    if (t !== p && count > best[2]) best = [t, p, count];
  }
  const [t, p, count] = best, xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  const box = gd.getBoundingClientRect();
  return {true: t, pred: p, count, x: box.left + xa._offset + xa.l2p(p), y: box.top + ya._offset + ya.l2p(t)};
}"""


def test_confusion_cell_click_filters_the_gallery(page):
    """Clicking a confusion-matrix cell sets both digit filters and the gallery shows exactly that cell."""
    click(page, "Step 10")
    wait_until(lambda: iteration(page) == 10, message="Step 10")
    page.get_by_text("Dev confusion matrix").evaluate("e => e.scrollIntoView({block: 'center'})")  # clear of the
    time.sleep(0.3)  # fixed navigation bar at the top
    cell = wait_until(lambda: page.evaluate(BIGGEST_MISTAKE), message="the confusion matrix drawn")
    page.mouse.move(cell["x"], cell["y"])
    page.mouse.click(cell["x"], cell["y"])
    page.get_by_text(f"{cell['count']:,} match the filter").wait_for(timeout=20_000)
    wanted = f"{cell['true']}→{cell['pred']} "

    def gallery():  # the live gallery updates in place: wait for the filtered figure to be drawn
        labels = charts(page).last.locator(".annotation-text").all_text_contents()
        return labels if labels and all(label.startswith(wanted) for label in labels) else None

    labels = wait_until(gallery, message="the filtered gallery drawn")
    assert len(labels) == min(cell["count"], 16)


def test_two_sessions_train_independently(browser, server, page):
    """Training in one browser context does not move the counter of another one."""
    other_context = browser.new_context(viewport={"width": 1400, "height": 1000})
    other = other_context.new_page()
    try:
        open_app(other, server)
        click(page, "Start")
        wait_until(lambda: iteration(page) > 20, message="the first session to train")
        seen = iteration(page)
        wait_until(lambda: iteration(page) > seen, message="another tick of the first session")
        assert iteration(other) == 0  # across two of the first session's ticks
        click(page, "Pause")
    finally:
        other_context.close()


# Visible-size charts of the Train tab with no Plotly div yet or a hidden one (Streamlit hides a new
# st.plotly_chart until it knows its width; a live chart has no div until its JS drew it).
HIDDEN_CHARTS = """() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stPlotlyChart"], '
    + '[data-testid="stMain"] .stBidiComponent:not(:has(.livestatus))')]
  .filter(e => e.getBoundingClientRect().width > 0 && e.getBoundingClientRect().height > 0)
  .filter(e => { const d = e.querySelector('.js-plotly-plot');
                 return !d || getComputedStyle(d).visibility === 'hidden'; })
  .length"""


def test_live_charts_do_not_blank_between_ticks(page):
    """While training, the charts updated every tick stay drawn: 200 sampled frames, none with a blank chart."""
    click(page, "Start")
    wait_until(lambda: iteration(page) > 20, message="training to advance")
    wait_until(lambda: page.evaluate(HIDDEN_CHARTS) == 0, message="every chart drawn once")
    hidden = []
    for _ in range(200):
        hidden.append(page.evaluate(HIDDEN_CHARTS))
        time.sleep(0.03)
    click(page, "Pause")
    assert sum(n > 0 for n in hidden) == 0, hidden


def test_a_reload_takes_plotly_from_the_browser_cache(page):
    """The page loads plotly.js once, from the app's own versioned address; a reload takes it from the
    browser's cache instead of fetching 4.8 MB again (and the server compressing it again).

    Either of Chromium's caches counts: its HTTP cache (`fromDiskCache`, also in an incognito context)
    or the renderer's memory cache, which reports the hit as `requestServedFromCache` and then a
    response carrying the first load's headers (`fromDiskCache` false: that failed CI once)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    loads = []  # (request id, url, status, from the disk cache) of each plotly.js response
    from_memory = set()  # request ids the memory cache answered
    cdp.on("Network.requestServedFromCache", lambda event: from_memory.add(event["requestId"]))
    cdp.on("Network.responseReceived", lambda event: "plotly" in event["response"]["url"] and loads.append(
        (event["requestId"], event["response"]["url"], event["response"]["status"],
         event["response"].get("fromDiskCache"))))
    page.reload()
    page.wait_for_selector(DRAWN_CHART, timeout=60_000)
    [(request, url, status, from_disk)] = loads
    assert "/api/digit-lab/plotly-" in url and status == 200
    assert from_disk or request in from_memory, "plotly.js was fetched again"


# Charts of the Train tab that are on screen and drawn. Streamlit keeps replaced charts for a
# moment, hidden (0 x 0), and a new chart is blank until Plotly has drawn it.
DRAWN = """() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stPlotlyChart"], '
    + '[data-testid="stMain"] .stBidiComponent')]
  .filter(e => e.getBoundingClientRect().width > 0 && e.querySelector('.cartesianlayer .trace, .cartesianlayer .hm'))
  .map(e => { const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; })"""


def test_screenshot_shows_every_chart_drawn(page, tmp_path):
    """A screenshot of a run paused mid-training shows all six Train charts drawn, none blank, in a temp folder."""
    page.set_viewport_size({"width": 1400, "height": 1400})  # tall enough for the confusion matrix and gallery
    click(page, "Start")
    wait_until(lambda: iteration(page) > 150, timeout=120, message="some training")
    exact = train_tab(page).get_by_role("spinbutton", name="exact α")
    exact.fill("0.3")  # steer it: a bigger step size, marked on the curves
    exact.press("Enter")
    wait_until(lambda: iteration(page) > 250, timeout=120, message="more training")
    click(page, "Pause")  # a tick mounting a chart during the capture could leave it blank (see above)
    wait_until(train_tab(page).get_by_role("button", name="Start", exact=True).is_enabled, message="Start back")
    boxes = wait_until(lambda: len(drawn := page.evaluate(DRAWN)) == 6 and drawn, message="six drawn charts")
    image = page.screenshot()
    (tmp_path / "screenshot.png").write_bytes(image)
    assert "α=0.3" in charts(page).first.locator(".annotation-text").all_text_contents()
    pixels = np.asarray(Image.open(io.BytesIO(image)).convert("RGB"))
    for x, y, width, height in boxes:  # each chart's own rectangle holds more than the white page
        chart = pixels[round(y):round(y + height), round(x):round(x + width)]
        assert chart.size and (chart != 255).any(axis=-1).mean() > 0.02, (x, y, width, height)


# Each live chart of the main area: its element's width and the width Plotly drew at.
CHART_WIDTHS = """() => [...document.querySelectorAll('[data-testid="stMain"] .stBidiComponent')]
  .filter(e => e.querySelector('.main-svg'))
  .map(e => [e.getBoundingClientRect().width, e.querySelector('.main-svg').getBoundingClientRect().width])"""
# Pairs of a live chart's text labels (a text trace's points: the weight tiles' "n3"; annotations: the
# gallery's "4→8 27%") that overlap.
LABEL_OVERLAPS = """() => [...document.querySelectorAll('[data-testid="stMain"] .stBidiComponent')].flatMap(chart => {
  const boxes = [...chart.querySelectorAll('.textpoint text, .annotation-text')]
    .map(t => [t.textContent, t.getBoundingClientRect()]);
  return boxes.flatMap(([a, p], i) => boxes.slice(i + 1).filter(([, q]) =>
    Math.min(p.right, q.right) - Math.max(p.left, q.left) > 1 &&
    Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top) > 1)
    .map(([b]) => a + ' / ' + b));
})"""
# Live charts whose title and a legend entry's text overlap (a curve chart 170 px wide: "train" over "Loss (...").
TITLE_ON_LEGEND = """() => [...document.querySelectorAll('[data-testid="stMain"] .stBidiComponent')].filter(chart => {
  const title = chart.querySelector('.gtitle');
  if (!title) return false;
  const p = title.getBoundingClientRect();
  return [...chart.querySelectorAll('.legend .legendtext')].some(item => { const q = item.getBoundingClientRect();
    return Math.min(p.right, q.right) - Math.max(p.left, q.left) > 2
      && Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top) > 2; });
}).map(chart => chart.querySelector('.gtitle').textContent)"""


def test_a_narrow_window_cuts_no_chart_button_or_figure(page):
    """At 1,100 px the Train view's columns are narrower than the widths its figures were built for; every
    chart still fits its column while it trains (drawn at the layout's width, the accuracy chart, the tiles,
    the gradient-health chart's right axis and the gallery were cut at the right edge), and no button label
    or status figure is cut ("St…", "100…" in equal columns; "Notebook .i…" in the sidebar): the buttons and the
    status cells wrap; the weight tiles' and the gallery's labels do not run into each other, nor the gallery's
    title past its chart. At 900 px (half a screen, the sidebar open) the weights go below the curves and the
    gallery below the confusion matrix instead of shrinking: the curves' legends ran over their titles, the
    tiles' labels into each other and the gallery's too. Both widths in one run, the window narrowed while
    it trains."""
    train_tab(page).get_by_text("Gradient health", exact=False).first.click()
    health = train_tab(page).locator(CHART).filter(has_text="update / weight")
    health.first.wait_for(timeout=20_000)
    click(page, "Start")
    wait_until(lambda: iteration(page) > 50, message="training to advance")
    seen = {}
    for width in (1100, 900):
        page.set_viewport_size({"width": width, "height": 1000})
        start = iteration(page)
        wait_until(lambda: iteration(page) > start + 20, message="a few more redraws")
        seen[width] = dict(cut=page.evaluate(CUT_TEXT), on_legend=page.evaluate(TITLE_ON_LEGEND),
                           overlaps=page.evaluate(LABEL_OVERLAPS), titles_cut=page.evaluate(TITLES_CUT),
                           widths=page.evaluate(CHART_WIDTHS), box=health.first.bounding_box(),
                           title=health.first.locator("text.y2title").bounding_box())
    click(page, "Pause")
    for width, s in seen.items():
        assert s["cut"] == [], (width, s["cut"])
        assert s["on_legend"] == [], (width, s["on_legend"])
        assert s["overlaps"] == [], (width, s["overlaps"])  # "neuron 0" over 52-pixel tiles ran into "neuron 1"
        assert s["titles_cut"] == [], (width, s["titles_cut"])  # the gallery's "… misclassified (87.3%); …"
        assert len(s["widths"]) >= 6 and all(drawn <= element + 1 for element, drawn in s["widths"]), (width, s)
        box, title = s["box"], s["title"]  # the right axis's title in view
        assert title["x"] + title["width"] <= box["x"] + box["width"] + 1, (width, title, box)
