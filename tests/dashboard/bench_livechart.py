"""live_chart vs st.plotly_chart on the tiny live app, side by side in one run (not a test).

Run: `python -m tests.dashboard.bench_livechart [--seconds 20] [--heatmap-every 1]`. For each way of
drawing the same figure (2 curves gaining a point and a 16x16 heatmap changing every 0.2 s tick;
`none` is the bare fragment without a chart) it opens the app in a fresh Chromium page, waits for the
chart, then for `--seconds` counts: the cores all Chromium processes use (/proc), chart nodes
mounted (Plotly chart nodes that appeared), curve redraws per second (animation batches that changed
a curve's path), the websocket KB the page received per tick, whole figures live_chart sent (after a
missed payload), and ticks per second. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path

from tests.dashboard.conftest import CHROMIUM, CHROMIUM_ARGS, start_server, stop_server, wait_until
from tests.dashboard.charts.test_livechart_browser import PROBE

APP = Path(__file__).resolve().parent / "apps" / "livechart_app.py"

# Counts, from now on, the DOM updates that redrew a curve (one observer callback = one batch of
# changes made in one task), in the page's main area.
COUNT_REDRAWS = """() => {
  window.__redraws = 0;
  const curve = (node) => node.nodeType === 1 && (node.matches("path.js-line") || node.querySelector("path.js-line"));
  new MutationObserver((records) => {
    if (records.some((r) => (r.type === "attributes" && curve(r.target)) || [...r.addedNodes].some(curve))) window.__redraws++;
  }).observe(document.querySelector('[data-testid="stMain"]'),
             {subtree: true, childList: true, attributes: true, attributeFilter: ["d"]});
}"""


def cpu_seconds(server_pid: int) -> dict:
    """CPU seconds used so far by the server and by the Chromium processes this script started (its
    descendants: other Chromium processes on the machine are not ours), and the wall clock."""
    tick_hz, stats = os.sysconf("SC_CLK_TCK"), {}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit():
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick_hz,
                                          b"chromium" in (entry / "cmdline").read_bytes())
        except OSError:  # a process that ended meanwhile
            continue
    ours, grew = {os.getpid()}, True
    while grew:
        new = {pid for pid, (parent, _, _) in stats.items() if parent in ours} - ours
        ours, grew = ours | new, bool(new)
    browser = sum(used for pid, (_, used, chromium) in stats.items() if pid in ours and chromium)
    return {"server": stats.get(server_pid, (0, 0.0, False))[1], "browser": browser, "wall": time.perf_counter()}


def cores(before: dict, after: dict) -> dict:
    """Cores used between two `cpu_seconds` readings: {"server": ..., "browser": ...}."""
    wall = after["wall"] - before["wall"]
    return {k: (after[k] - before[k]) / wall for k in ("server", "browser")}


def whole_figure(frame) -> bool:
    """Whether a websocket frame from the server carries a live_chart payload with the whole figure."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    if isinstance(frame, str):
        return False
    message = ForwardMsg.FromString(frame)
    if message.WhichOneof("type") != "delta" or message.delta.WhichOneof("type") != "new_element":
        return False
    element = message.delta.new_element
    return element.WhichOneof("type") == "bidi_component" and "data" in json.loads(element.bidi_component.json)


def tick(page) -> int:
    """The fragment tick the page shows."""
    return int(page.get_by_text(re.compile(r"^tick \d+$")).inner_text().split()[1])


def measure(browser, url: str, mode: str, seconds: float, heatmap_every: int, server_pid: int) -> dict:
    """Figures for one way of drawing, in a fresh page: cores, mounts, redraws/s, KB/tick, ticks/s."""
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    context.add_init_script(PROBE)
    page = context.new_page()
    received, wholes = [], []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: (received.append(len(frame)),
                                                                           wholes.append(whole_figure(frame)))))
    page.goto(f"{url}/?chart={mode}&heatmap_every={heatmap_every}")
    page.get_by_text(re.compile(r"^tick \d+$")).wait_for(timeout=60_000)
    if mode != "none":
        wait_until(lambda: page.locator(".js-plotly-plot .main-svg").count(), timeout=60, message="a chart")
    time.sleep(3)  # past the first mount and the first whole figure
    page.evaluate(COUNT_REDRAWS)
    mounts0, tick0, bytes0, wholes0 = page.evaluate("window.__plots.size"), tick(page), sum(received), sum(wholes)
    cpu0 = cpu_seconds(server_pid)
    time.sleep(seconds)
    cpu1 = cpu_seconds(server_pid)
    ticks = tick(page) - tick0
    out = dict(mode=mode, ticks_per_s=ticks / seconds, mounts=page.evaluate("window.__plots.size") - mounts0,
               redraws_per_s=page.evaluate("window.__redraws") / seconds,
               kb_per_tick=(sum(received) - bytes0) / 1024 / max(ticks, 1), wholes=sum(wholes) - wholes0,
               **{f"{k}_cores": v for k, v in cores(cpu0, cpu1).items()})
    context.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--heatmap-every", type=int, default=1, help="ticks between heatmap changes")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    process, url = start_server(app=APP)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            rows = [measure(browser, url, mode, args.seconds, args.heatmap_every, process.pid)
                    for mode in ("live", "plotly", "none")]
            browser.close()
    finally:
        stop_server(process)
    print(f"tiny live app: 2 curves + a 16x16 heatmap (changing every {args.heatmap_every} tick(s)), "
          f"{args.seconds:.0f} s each, Chromium on this machine")
    print(f"{'drawn with':<22}{'browser cores':>14}{'server cores':>14}{'mounts':>8}{'redraws/s':>11}"
          f"{'KB/tick':>9}{'whole figures':>15}{'ticks/s':>9}")
    names = {"live": "live_chart", "plotly": "st.plotly_chart", "none": "no chart (fragment)"}
    for row in rows:
        print(f"{names[row['mode']]:<22}{row['browser_cores']:>14.2f}{row['server_cores']:>14.2f}{row['mounts']:>8}"
              f"{row['redraws_per_s']:>11.1f}{row['kb_per_tick']:>9.1f}{row['wholes']:>15}{row['ticks_per_s']:>9.1f}")


if __name__ == "__main__":
    main()
