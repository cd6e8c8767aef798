"""The server trains, the page watches (issue 15): training speed and answers with the page away, measured
side by side with the headless Trainer in one run, in real headless Chromium.

Run: `python -m tests.bench_server [--seconds 10] [--repeats 3] [--sessions 10] [--only a b c d e]`.
Prints figures; asserts nothing. All on the bundled sample (h = 10, plain, α = 0.1), each server with
its own temporary data and run folders.

a. Page away: iterations per wall second of the Train run while the page is a background tab (an init
   script holds every setInterval callback and marks the page hidden) and while the Math view is open, against
   the headless Trainer driven as the app drives it, on the training set as the app holds it (raw
   uint8 pixels), full batch and batch 128, interleaved. The run's progress is read from two of its
   saves over --seconds (the iteration inside each and the file's time), not from the page, which is
   away. The window starts SETTLE seconds after the page went away, or after the Math view's text
   appeared (drawing the view is a one-off cost of the switch; its seconds are printed). The cores the
   server and Chromium use in the window are printed too.
b. Answers: Pause (click to the Start button enabled again) and Step 10 (click to the iteration
   shown 10 further), one session, medians of --repeats.
c. Ten visitors: --sessions pages on one server, the server pinned to core 0 and Chromium to core 1
   (`taskset`), one page visible and the others' timers held; every run's iterations/s read from two
   of its saves in the run store (each session saves once a second: the iteration inside and the file's
   time), their total against one core's headless rate (measured before and after, averaged: this
   machine's speed drifts by a quarter between minutes), the fastest against the slowest, Pause on the
   visible page, the server's RSS per extra session. The bench's own process and Playwright's driver
   run on core 1 too.
d. Saving: the seconds one save of a session takes (sample, h = 10 and h = 128, and a batch-128 run
   with 300,000 rows of history), as a share of the second between saves.
e. A crash: kill -9 the server while training, start it again on the same run folder, open the
   owner's link: the seconds of training lost (the iteration shown as it was killed, just redrawn,
   minus the one in the run's last save, which the restart restores, at the run's speed; the page
   reads more as it reconnects, the run training on).
Needs /usr/bin/chromium and playwright.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the server gets it

from tests.bench_app import (PAUSE, VIEWS, Server, click, cores, cpu_seconds, fresh_iteration, headless_speed,  # noqa: E402
                             iteration, median, new_page, rss_mb, view_switch, wait_first_chart, wait_ready)
from tests.dashboard.conftest import (BACKGROUND_TAB, CHROMIUM, CHROMIUM_ARGS, browser_missing, start_server,  # noqa: E402
                                      stop_server)

SPEED_RUNS = (("full batch", "", None), ("batch 128", "full_batch=false&batch_size=128", 128))
MATH_MARKER = dict(VIEWS)["Math"]
SETTLE = 2.0  # seconds after the page went away (or the Math view's text appeared) before measuring


def held_page(browser, url: str, query: str = "", held: bool = False):
    """A page of the app that can be sent to the background (`window.__away`), ready to train."""
    context, page = new_page(browser)
    context.add_init_script(BACKGROUND_TAB)
    page.goto(f"{url}/?{query}" if query else url)
    wait_first_chart(page)
    wait_ready(page)
    if held:
        page.evaluate("window.__away(true)")
    return context, page


def saved_progress(runs: Path, run_id: str) -> tuple[int, float]:
    """(the Train run's iteration, the wall time it was saved) from the session's latest save."""
    from dashboard.runs.store import RunStore

    path = RunStore(runs).path(run_id)
    while True:  # a save landing between reading the time and the run would pair one save's time with the next's run
        mtime = path.stat().st_mtime
        iteration = store_iterations(runs, [run_id])[0]
        if path.stat().st_mtime == mtime:
            return iteration, mtime


def save_after(runs: Path, run_id: str, moment: float, timeout: float = 5.0) -> tuple[int, float]:
    """`saved_progress` of the first save made after `moment` (wall clock): a session is saved once a second,
    so the latest save at any moment can be up to a second older."""
    deadline = time.monotonic() + timeout
    while True:
        iteration, saved = saved_progress(runs, run_id)
        if saved > moment or time.monotonic() > deadline:
            return iteration, saved
        time.sleep(0.05)


def away_speed(browser, url: str, runs: Path, query: str, seconds: float, how: str, server_pid: int) -> dict:
    """Iterations per wall second while the page is away (`how`: "held" timers or "math" view open), from
    two of the session's saves (iteration and file time: the server's own account), and the cores the
    server and Chromium used meanwhile. The Math view is measured once it has drawn and settled: its
    drawing is a one-off cost of the switch, reported as the seconds to its text."""
    context, page = held_page(browser, url, query)
    click(page, "Start")
    page.wait_for_timeout(2000)
    run_id = page.url.split("run=")[1][:32]
    switch = None
    if how == "held":
        page.evaluate("window.__away(true)")
    else:
        switch = view_switch(page, "Math", MATH_MARKER)["marker"] / 1000
    page.wait_for_timeout(SETTLE * 1000)
    it0, t0 = save_after(runs, run_id, time.time())  # the window starts after the settling, not up to 1 s before
    cpu0 = cpu_seconds(server_pid)
    page.wait_for_timeout(seconds * 1000)
    used = cores(cpu0, cpu_seconds(server_pid))
    it1, t1 = saved_progress(runs, run_id)
    if how == "held":
        page.evaluate("window.__away(false)")
    else:
        page.get_by_role("link", name="Train").click()
        wait_ready(page)
    click(page, "Pause")
    context.close()
    return dict(rate=(it1 - it0) / max(t1 - t0, 1e-9), switch=switch, **used)


def page_away(browser, server, seconds: float, repeats: int) -> dict:
    """a: headless, held and other-view figures per SPEED_RUNS entry, interleaved."""
    runs = server.scratch / "runs"
    out = {label: {"headless": [], "held": [], "math": []} for label, _, _ in SPEED_RUNS}
    for _ in range(repeats):
        for label, query, batch in SPEED_RUNS:
            out[label]["headless"].append(headless_speed(seconds / 2, batch, raw=True)["rate"])
            for how in ("held", "math"):
                out[label][how].append(away_speed(browser, server.url, runs, query, seconds, how, server.process.pid))
    return out


def report_away(out: dict) -> None:
    print("\na. page away: iterations per wall second (medians, [min-max]); cores used by the server and Chromium")
    for label, runs in out.items():
        head = runs["headless"]
        print(f"   {label}: headless {median(head):.0f} [{min(head):.0f}-{max(head):.0f}]")
        for side, words in (("held", "hidden tab"), ("math", "Math view open")):
            rates = [m["rate"] for m in runs[side]]
            switch = [m["switch"] for m in runs[side] if m["switch"] is not None]
            print(f"     {words:<26} {median(rates):7.0f} [{min(rates):.0f}-{max(rates):.0f}]"
                  f"  = {median(rates) / median(head):.0%} of headless;"
                  f" server {median([m['server'] for m in runs[side]]):.2f}, Chromium "
                  f"{median([m['browser'] for m in runs[side]]):.2f} cores"
                  + (f"; its text {median(switch):.2f} s after the click" if switch else ""))
    print(f"   target: >= 95% of headless (the Math view from {SETTLE:g} s after its text appeared)")


def answers(browser, url: str, repeats: int) -> dict:
    """b: Pause and Step 10 latency, one session."""
    pauses, steps = [], []
    for _ in range(repeats):
        context, page = held_page(browser, url)
        click(page, "Start")
        page.wait_for_timeout(1500)
        answer, _ = page.evaluate(PAUSE)
        pauses.append(answer / 1000 if answer is not None else float("nan"))
        page.wait_for_timeout(300)
        before = iteration(page)
        t0 = time.perf_counter()
        click(page, "Step 10")
        page.wait_for_function(f"parseInt(window.__metric('Iteration').replace(/,/g, '')) >= {before + 10}",
                               timeout=30_000, polling=10)
        steps.append(time.perf_counter() - t0)
        context.close()
    return dict(pause=pauses, step=steps)


def report_answers(out: dict) -> None:
    print("\nb. answers with one session (s): "
          f"Pause median {median(out['pause']):.2f} [{min(out['pause']):.2f}-{max(out['pause']):.2f}], "
          f"Step 10 median {median(out['step']):.2f} [{min(out['step']):.2f}-{max(out['step']):.2f}]; "
          "target <= 0.3 s")


def store_iterations(runs: Path, ids: list[str]) -> list[int]:
    """The Train run's iteration in each session's latest save."""
    from dashboard.runs.session import load
    from dashboard.runs.store import RunStore

    store = RunStore(runs)
    return [load(store, run_id).run.iteration for run_id in ids]


def one_core_headless(seconds: float) -> float:
    """The headless Trainer's rate on one core (pool of one, this process pinned to core 0)."""
    from core import pool

    affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    pool.set_workers(1)
    try:
        return headless_speed(seconds, None, raw=True)["rate"]
    finally:
        pool.set_workers(None)
        os.sched_setaffinity(0, affinity)


def pin(pid: int, cpus: set[int]) -> None:
    """Pin every thread of process `pid` to `cpus` (affinity is per thread: those already started too)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.sched_setaffinity(int(task.name), cpus)


def harness() -> list[int]:
    """This process and its children (Playwright's driver): the bench's own work, to keep off the server's core."""
    children = [int(c) for task in Path(f"/proc/{os.getpid()}/task").iterdir()
                for c in (task / "children").read_text().split()]
    return [os.getpid(), *children]


def visitors(playwright, scratch: Path, sessions: int, seconds: float) -> dict:
    """c: `sessions` pages on a server pinned to core 0, Chromium pinned to core 1, one page visible. The
    bench itself (this process, Playwright's driver) runs on core 1 too, so that all of core 0 is the server's."""
    from tests.bench_app import PAUSE as pause_js

    before = one_core_headless(seconds / 2)  # and again after: this machine's speed drifts between minutes
    everything = os.sched_getaffinity(0)
    ours = harness()
    for pid in ours:
        pin(pid, {1})
    wrapper = scratch / "chromium-core1"
    wrapper.write_text(f"#!/bin/sh\nexec taskset -c 1 {CHROMIUM} \"$@\"\n")
    wrapper.chmod(0o755)
    browser = playwright.chromium.launch(executable_path=str(wrapper), args=CHROMIUM_ARGS)
    env = {"DIGIT_LAB_DATA": str(scratch / "data"), "DIGIT_LAB_RUNS": str(scratch / "runs")}
    process, url = start_server(env, log=scratch / "visitors.log")
    pin(process.pid, {0})
    out, pages = {"rss_idle": rss_mb(process.pid)}, []
    try:
        for n in range(sessions):
            print(f"   (c: opening session {n + 1} of {sessions})", file=sys.stderr, flush=True)
            context, page = held_page(browser, url)
            click(page, "Start")
            pages.append((context, page))
            if n == 0:
                page.wait_for_timeout(3000)
                out["rss_1"] = rss_mb(process.pid)
            if n < sessions - 1:
                page.evaluate("window.__away(true)")  # a background tab; the last one stays visible
        ids = [page.url.split("run=")[1][:32] for _, page in pages]
        time.sleep(3)
        # Each run's rate between two of its own saves (iteration and file time): a save is up to a second old
        # when read, so timing them all by this process's clock was off by up to a second's training per run.
        first = [saved_progress(scratch / "runs", run_id) for run_id in ids]
        time.sleep(seconds)
        last = [saved_progress(scratch / "runs", run_id) for run_id in ids]
        out["rates"] = [(i1 - i0) / max(t1 - t0, 1e-9) for (i0, t0), (i1, t1) in zip(first, last)]
        out["rss_n"] = rss_mb(process.pid)
        visible = pages[-1][1]
        out["pause"] = []
        for _ in range(3):
            answer, _ = visible.evaluate(pause_js)
            out["pause"].append(answer / 1000 if answer is not None else float("nan"))
            click(visible, "Start")
            visible.wait_for_timeout(1000)
    finally:
        for context, _ in pages:
            context.close()
        stop_server(process)
        browser.close()
        for pid in ours:
            pin(pid, everything)
    out["headless_1core"] = (before, one_core_headless(seconds / 2))
    out["sessions"] = sessions
    return out


def report_visitors(out: dict) -> None:
    n, rates = out["sessions"], out["rates"]
    (before, after), total = out["headless_1core"], sum(rates)
    head = (before + after) / 2
    print(f"\nc. {n} visitors: server on core 0, Chromium on core 1, one page visible, {n - 1} with timers held")
    print(f"   iterations/s each: {', '.join(f'{r:.0f}' for r in rates)}")
    print(f"   every run advanced: {'yes' if min(rates) > 0 else 'NO'}; total {total:.0f} = {total / head:.0%} of one "
          f"core's headless {head:.0f} (measured before and after: {before:.0f}, {after:.0f}); "
          f"fastest / slowest {max(rates) / max(min(rates), 1e-9):.2f}")
    print(f"   Pause on the visible page (s): {', '.join(f'{p:.2f}' for p in out['pause'])}")
    per = (out["rss_n"] - out["rss_1"]) / (n - 1)
    print(f"   server RSS: idle {out['rss_idle']:.0f} MB, 1 training {out['rss_1']:.0f} MB, {n} training "
          f"{out['rss_n']:.0f} MB -> {per:.1f} MB per extra session")
    print("   targets: all advance, total >= 80% of one core's headless, fastest <= 1.5x slowest, Pause <= 1 s, "
          "<= 10 MB per extra session")


def saving(repeats: int = 20, long_rows: int = 300_000) -> dict:
    """d: seconds per save of a session (bytes, the parts not stored yet and the atomic write), sample, h = 10
    and h = 128 after 200 iterations, and h = 10 at batch 128 with `long_rows` rows of history (about 25
    minutes), each save after a second's rows more (200); the first save of each writes all its parts."""
    from core import TrainConfig, Trainer
    from dashboard import settings
    from dashboard.runs import history as run_history, state
    from dashboard.runs.session import Kept
    from dashboard.runs.store import RunStore, new_id
    from dashboard.runs.worker import Step
    import data

    parts = data.split(data.load_sample(), dev_size=1000, seed=0, raw=True)
    out = {}
    with tempfile.TemporaryDirectory() as folder:
        store = RunStore(folder)
        for label, hidden, batch, rows in (("h = 10", 10, None, 0), ("h = 128", 128, None, 0),
                                           (f"h = 10, batch 128, {long_rows:,} rows", 10, 128, long_rows)):
            trainer = Trainer(TrainConfig(hidden=hidden, batch_size=batch, iterations=None), parts.X_train,
                              parts.y_train, parts.X_dev, parts.y_dev)
            worker = state.train_worker(trainer, None)
            worker.send(Step(200), wait=60)
            history = trainer.histories[0].rows
            last = history[-1]
            history.extend({**last, "iteration": last["iteration"] + 10 * k} for k in range(1, rows + 1))
            lab = state.Lab(worker, trainer.config, "sample", data.load_sample(), parts)
            kept = Kept(new_id(), None, lab, run_history.RunHistory(), dict(settings.DEFAULTS))
            times = []
            for _ in range(repeats if not rows else 6):
                if rows:  # a second of training more: 200 rows, as the Trainer appends them
                    last = history[-1]
                    history.extend({**last, "iteration": last["iteration"] + 10 * k} for k in range(1, 201))
                    worker.snapshot = worker._snapshot()
                kept.saved = None
                t0 = time.perf_counter()
                kept.save(store)
                times.append(time.perf_counter() - t0)
            out[label] = times
    return out


def report_saving(out: dict) -> None:
    print("\nd. saving once a second (sample, 200 iterations of history unless said):")
    for label, (first, *times) in out.items():
        print(f"   {label}: {median(times) * 1000:.1f} ms per save [{min(times) * 1000:.1f}-"
              f"{max(times) * 1000:.1f}] = {median(times):.1%} of the second between saves; the first "
              f"(every part written): {first * 1000:.0f} ms")
    print("   target: <= 2% of training time (the saver paces a session over 4 MB to that share)")


def crash(playwright, scratch: Path) -> dict:
    """e: kill -9 while training, restart on the same runs, open the owner's link: seconds of training lost."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    env = {"DIGIT_LAB_DATA": str(scratch / "data"), "DIGIT_LAB_RUNS": str(scratch / "crash-runs")}
    process, url = start_server(env, log=scratch / "crash.log")
    try:
        context, page = held_page(browser, url)
        click(page, "Start")
        page.wait_for_timeout(4000)
        rate = float(page.evaluate("window.__metric('Iterations/s')").replace(",", ""))
        link = page.url
        shown, _ = fresh_iteration(page)  # just redrawn (once a second): the run's iteration at the kill, near enough
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        saved, _ = saved_progress(scratch / "crash-runs", link.split("run=")[1][:32])  # what a restart restores
        process, url = start_server(env, log=scratch / "crash2.log")
        page.goto(f"{url}/?{link.split('?', 1)[1]}")
        page.wait_for_function("window.__metric('Iteration') !== null", timeout=60_000)
        back = iteration(page)
        context.close()
    finally:
        stop_server(process)
        browser.close()
    return dict(shown=shown, saved=saved, back=back, rate=rate, lost=max(0, shown - saved) / rate)


def report_crash(out: dict) -> None:
    print(f"\ne. kill -9 while training: shown {out['shown']:,} as it was killed, {out['saved']:,} in its last save "
          f"(what the restart restored; the page read {out['back']:,} as it reconnected, the run training on) at "
          f"{out['rate']:.0f} it/s -> {out['lost']:.2f} s of training lost; target <= 1 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--only", nargs="+", choices=list("abcde"), default=list("abcde"))
    args = parser.parse_args()
    reason = browser_missing() or (None if shutil.which("taskset") else "taskset not found")
    if reason:
        sys.exit(f"bench_server: {reason}")
    from playwright.sync_api import sync_playwright

    print(f"digit-lab server-trains bench, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if "d" in args.only:
        report_saving(saving())
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        scratch = Path(folder)
        if "a" in args.only or "b" in args.only:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                with Server(scratch) as server:
                    if "b" in args.only:
                        report_answers(answers(browser, server.url, args.repeats))
                    if "a" in args.only:
                        report_away(page_away(browser, server, args.seconds, args.repeats))
            finally:
                browser.close()
        if "c" in args.only:
            report_visitors(visitors(playwright, scratch, args.sessions, args.seconds))
        if "e" in args.only:
            report_crash(crash(playwright, scratch))
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
