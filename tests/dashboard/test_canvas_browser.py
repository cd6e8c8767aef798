"""The drawing pad in real headless Chromium: strokes drawn with the mouse reach Python and get a prediction.

Needs Debian's /usr/bin/chromium and the playwright package; skipped without them (failed when CI=true),
through the `page` fixture of conftest.py.
"""

from __future__ import annotations

from tests.dashboard.conftest import wait_until

PAD = "canvas[aria-label='drawing pad']"


def visible_metric(page, label: str) -> str | None:
    """The value of the visible metric (or figure of the Train view's status row) with this label, or None
    while none is shown (a rerun redraws them)."""
    cell = page.locator(f'.livestatus .cell[data-label="{label}"] .value')
    if cell.count() and cell.first.is_visible():
        return cell.first.inner_text().strip()
    for metric in page.locator('[data-testid="stMetric"]').all():
        if metric.is_visible() and metric.locator('[data-testid="stMetricLabel"]').inner_text().strip() == label:
            return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return None


def stroke(page, points: list[tuple[float, float]]) -> None:
    """One pen stroke through `points` (pad pixels, 0..280), with the mouse held down."""
    box = page.locator(PAD).bounding_box()
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=4)
    page.mouse.up()


def test_drawing_a_one_gets_a_prediction(page):
    """After some training, a "1" drawn on the pad is processed MNIST-style and predicted; Clear empties the pad."""
    for _ in range(3):  # train the Train view's network a little first (300 iterations)
        page.get_by_role("button", name="Step 100", exact=True).click()
        page.wait_for_timeout(300)
    wait_until(lambda: visible_metric(page, "Iteration") == "300", timeout=60, message="300 training iterations")
    page.get_by_role("link", name="Inside a digit").click()  # the navigation bar keeps the session
    page.get_by_role("radio", name="Draw", exact=True).click()  # a segmented control option
    page.locator(PAD).wait_for(timeout=20_000)
    page.get_by_text("Draw a digit on the black pad").wait_for(timeout=20_000)

    stroke(page, [(140, 45 + 19 * i) for i in range(11)])  # a vertical bar: a "1"
    page.get_by_text("What the network sees (28x28)").wait_for(timeout=20_000)
    wait_until(lambda: visible_metric(page, "Prediction") == "1", timeout=20, message="the prediction 1")
    assert (visible_metric(page, "Confidence") or "").endswith("%")

    page.locator(".pad button.clear").click()
    page.get_by_text("Draw a digit on the black pad").wait_for(timeout=20_000)
