"""How many people one replica serves: K sessions training at once on one replica pinned to one core.

Run: `python -m tests.bench_classroom [--max 16] [--repeats 3] [--budget 300]`. Prints figures;
asserts nothing. Needs /usr/bin/chromium, playwright and `taskset` (util-linux), and 2 cores.

One replica (`streamlit run dashboard/app.py`, DIGIT_LAB_WORKERS=1, OPENBLAS_NUM_THREADS=1) runs
under `taskset -c 0`; this process and the Chromium it launches are pinned to core 1, as a class's
browsers are on machines of their own. For K = 1, 2, 4, 8, ... (up to --max, while the --budget
in seconds lasts) it opens pages until K sessions train (bundled sample, default settings: Start
in each). All pages but the first are held like background tabs: an init script wraps
setInterval so their timer callbacks do nothing (Streamlit's run_every is a setInterval; see
tests/dashboard/test_server_trains_browser.py), so they ask the server nothing while their runs
train on it. On the one visible page it measures Pause --repeats times (click to the Start
button enabled again, others still training; Start again after each), the server's part of it
(click to the end of the full run it started, from the websocket messages), the replica's RSS
with K sessions training, and the cores the replica used meanwhile (below 1 when other
processes on the machine take part of its core: then the Pause figures are pessimistic). It stops after the first K whose median Pause exceeds GIVE_UP.
Reported: the largest K with median Pause <= 1 s, and MB per session ((RSS at K - RSS with one
session) / (K - 1) at the largest K measured).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench_app import (FIRST_CHART, PAUSE, SERVER_MESSAGES, VIEWPORT, click, cores, cpu_seconds,
                             full_run_finished_after, median, rss_mb, server_messages, wait_ready)
from tests.dashboard.conftest import (APP, BACKGROUND_TAB, CHROMIUM, CHROMIUM_ARGS, ROOT, browser_missing, free_port,
                                      stop_server, wait_healthy)

SERVER_CORE, BROWSER_CORE = 0, 1
GIVE_UP = 5.0  # seconds: no larger K is tried once the median Pause is this slow


def start_replica(scratch: Path) -> tuple[subprocess.Popen, str]:
    """One replica pinned to SERVER_CORE with one compute worker; (process, URL) once healthy."""
    port = free_port()
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "DIGIT_LAB_WORKERS": "1", "DIGIT_LAB_NPM_REGISTRY": "",
           "DIGIT_LAB_DATA": str(scratch / "data"), "DIGIT_LAB_RUNS": str(scratch / "runs")}
    command = ["taskset", "-c", str(SERVER_CORE), sys.executable, "-m", "streamlit", "run", str(APP),
               "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true"]
    with open(scratch / "replica.log", "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return process, wait_healthy(process, f"http://127.0.0.1:{port}", f"the replica (see {scratch / 'replica.log'})")


def open_session(browser, url: str, visible: bool):
    """A new browser context (its own session) with the run started; held like a background tab unless visible."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(FIRST_CHART)
    context.add_init_script(BACKGROUND_TAB)
    page = context.new_page()
    SERVER_MESSAGES[page] = server_messages(page)
    page.goto(url)
    wait_ready(page)
    start(page)
    if not visible:
        page.evaluate("window.__away(true)")
    return context, page


def measure_pause(page, repeats: int) -> tuple[list, list]:
    """Seconds from a click on Pause to the Start button enabled again, and to the end of the full run the
    click started (the server's part, from the websocket messages), `repeats` times (Start after each)."""
    answers, served = [], []
    for _ in range(repeats):
        answer, clicked = page.evaluate(PAUSE)
        answers.append(None if answer is None else answer / 1000)
        start(page)
        page.wait_for_timeout(1000)  # also lets Playwright deliver the websocket frames logged meanwhile
        served.append(None if clicked is None else full_run_finished_after(page, clicked / 1000))
    return answers, served


def start(page) -> None:
    """Click Start and wait until the page shows the run training (Pause enabled)."""
    click(page, "Start")
    page.wait_for_function("(() => { const b = window.__button('Pause'); return b !== null && !b.disabled; })()",
                           timeout=60_000, polling=50)


def run(browser, scratch: Path, largest: int, repeats: int, budget: float) -> dict:
    """Sessions doubled until Pause exceeds 1 s, --max or the time budget: {K: (pauses, RSS MB)} and idle RSS."""
    process, url = start_replica(scratch)
    started, out, sessions = time.monotonic(), {"stages": {}}, []
    try:
        time.sleep(2)
        out["rss_idle"] = rss_mb(process.pid)
        k = 1
        while k <= largest and time.monotonic() - started < budget:
            while len(sessions) < k:
                sessions.append(open_session(browser, url, visible=not sessions))
            time.sleep(5)  # the new runs settle into the driver's rotation
            rss, cpu0 = rss_mb(process.pid), cpu_seconds(process.pid)
            pauses, served = measure_pause(sessions[0][1], repeats)
            share = cores(cpu0, cpu_seconds(process.pid))["server"]  # < 1 when other processes use its core
            out["stages"][k] = (pauses, rss, served, share)
            print(f"   (K = {k}: Pause {seconds(pauses)} s, server's part {seconds(served)} s, RSS {rss:.0f} MB, "
                  f"replica used {share:.2f} of its core, load {os.getloadavg()[0]:.1f}, "
                  f"{time.monotonic() - started:.0f} s in)", file=sys.stderr, flush=True)
            if middle(pauses) > GIVE_UP:
                break
            k *= 2
        out["alive"] = process.poll() is None
    finally:
        for context, _ in sessions:
            context.close()
        stop_server(process)
    return out


def seconds(values: list) -> str:
    """Figures in seconds, "none" for no answer."""
    return ", ".join("none" if v is None else f"{v:.2f}" for v in values)


def middle(values: list) -> float:
    """The median, a missing answer counting as infinitely late."""
    return median([v if v is not None else float("inf") for v in values])


def report(out: dict) -> None:
    """Print the table, the largest K within 1 s and MB per session."""
    stages = out["stages"]
    print(f"\nreplica on core {SERVER_CORE} (1 compute worker), Chromium on core {BROWSER_CORE}; "
          f"idle RSS {out['rss_idle']:.0f} MB; replica up at the end: {'yes' if out['alive'] else 'NO'}")
    print(" K | Pause median (s) | server's part median (s) | replica RSS (MB) | cores the replica used")
    for k, (pauses, rss, served, share) in stages.items():
        print(f"{k:>2} | {middle(pauses):16.2f} | {middle(served):24.2f} | {rss:16.0f} | {share:.2f}")
    within = [k for k, (pauses, _, _, _) in stages.items() if middle(pauses) <= 1.0]
    print(f"largest K with median Pause <= 1 s: {max(within) if within else 'none'}"
          + ("" if not stages or max(stages) not in within else " (not reached the limit: raise --max)"))
    ks = sorted(stages)
    if len(ks) > 1 and 1 in stages:
        top = ks[-1]
        per = (stages[top][1] - stages[1][1]) / (top - 1)
        print(f"memory per session: {per:.1f} MB ((RSS at K = {top} - RSS at K = 1) / {top - 1}); "
              f"one session with the replica: {stages[1][1]:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=16, help="largest K tried")
    parser.add_argument("--repeats", type=int, default=3, help="Pause measurements per K (median)")
    parser.add_argument("--budget", type=float, default=300, help="seconds after which no larger K is tried")
    args = parser.parse_args()
    reason = browser_missing()
    if reason:
        sys.exit(f"bench_classroom: {reason}")
    if len(os.sched_getaffinity(0)) < 2 or BROWSER_CORE not in os.sched_getaffinity(0):
        sys.exit("bench_classroom: needs cores 0 and 1")
    from playwright.sync_api import sync_playwright

    print(f"digit-lab classroom bench, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    os.sched_setaffinity(0, {BROWSER_CORE})  # this process and the Chromium it starts
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            report(run(browser, Path(folder), args.max, args.repeats, args.budget))
        finally:
            browser.close()
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
