"""The dashboard's one live loop: every view that trains while you watch goes through here.

A live view is a fragment that the browser reruns every TICK seconds while its run is going;
passing `run_every=None` on a full rerun is what pauses it (every full rerun clears the timers).
Each tick draws first, then trains for the rest of the run's `run_time`: the fragment's elements
look "stale" (faded) only while it draws, and the browser renders this tick's charts while the
server trains. With TICK shorter than the run time a request is always waiting, so ticks run back
to back and the run time alone sets the redraw rate (~4/s); requests never pile up.

A `Run` wraps what trains (a `core.Trainer`, a sweep, the notebook-vs-corrected lockstep: anything
with `step(n, deadline)`, `iteration`, `seconds` and `done`) with the running flag, a lock, the
stop conditions and the iterations/second figure. The lock matters because a click during a tick
starts a new script run while the old one may still be inside `step`: ticks train only when they
get the lock at once, clicks wait for it. Views call `fragment`, `Run.start/pause/step`,
`throttled` and `chart_config`; none of them holds a loop, a lock or a clock of its own.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

TICK = 0.2  # seconds between the browser's tick requests (shorter than a tick: they run back to back)
RUN_TIME = 0.22  # seconds per tick, drawing included; with each run's own overhead, 4.1-4.4 redraws/s (tests.bench_app c)
MIN_BUDGET = 0.1  # seconds of training per tick at least, however slow the drawing
RATE_WINDOW = 3.0  # seconds of ticks the iterations/second figure averages over
CHART_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
# Streamlit remounts a Plotly chart whenever its figure changes (the element id hashes the spec),
# so while running every tick draws new charts: static ones (no hover, no event layers) are much
# cheaper for the browser, and hover or zoom would not survive the next tick anyway.
LIVE_CONFIG = {"staticPlot": True}
CACHE_KEY = "live_figures"


@dataclass(eq=False)  # compared by identity: holds a lock
class Run:
    """Something that trains, driven live: running flag, lock, stop conditions, speed."""

    engine: Any  # step(n | None, deadline) -> updates made; iteration, done (and seconds for a time limit)
    stop_at: int | None = None  # iteration at which the run pauses by itself
    time_limit: float | None = None  # seconds of training (engine.seconds) after which it stops
    run_time: float = RUN_TIME
    running: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    step_time: float = 0.0  # seconds one step took lately (to place the tick's deadline)
    rate_marks: deque = field(default_factory=lambda: deque(maxlen=64))  # (wall time, iteration)
    started: float = field(default_factory=time.perf_counter)  # wall clock at creation (a sweep's "elapsed")
    ended: float | None = None
    autosave: Callable[[], Any] | None = None  # saves the run somewhere safe (dashboard/session.py)
    save_every: float = 5.0  # seconds between autosaves while running
    saved_at: float = field(default_factory=time.perf_counter)

    # ----- where the run stands ----------------------------------------------------------------
    def at_stop(self) -> bool:
        """The run reached its stop-at iteration or its training-time limit."""
        engine = self.engine
        return ((self.stop_at is not None and engine.iteration >= self.stop_at)
                or (self.time_limit is not None and engine.seconds >= self.time_limit))

    def finished(self) -> bool:
        """Nothing more to train: failed (every run of it), done, or at a stop."""
        return bool(self.engine.done) or self.at_stop()

    def can_run(self) -> bool:
        """Start makes sense."""
        return not self.finished()

    def remaining(self) -> int | None:
        """Iterations left before the stop-at iteration (None: no stop)."""
        return None if self.stop_at is None else max(0, self.stop_at - self.engine.iteration)

    def elapsed(self) -> float:
        """Wall-clock seconds from creation to the end (or now), drawing included."""
        return (self.ended or time.perf_counter()) - self.started

    # ----- driving -------------------------------------------------------------------------------
    def advance(self, budget: float) -> int:
        """Train for about `budget` seconds unless a click holds the lock; returns the updates made.

        The deadline is moved forward by one step's expected duration, so that a slow step (full
        MNIST in one batch) ends near the budget instead of overrunning it by a whole step.
        """
        if not self.lock.acquire(blocking=False):
            return 0
        try:
            engine, n = self.engine, self.remaining()
            start = time.perf_counter()
            deadline = start + max(budget - self.step_time, 0.0)
            if self.time_limit is not None:
                deadline = min(deadline, start + max(self.time_limit - engine.seconds - self.step_time, 0.0))
            done = engine.step(n, deadline=deadline)
            if done == 0 and n != 0 and not self.finished():
                done = engine.step(1)  # always make progress, however slow one step is
            if done:
                self.step_time = (time.perf_counter() - start) / done
            if self.autosave is not None and time.perf_counter() - self.saved_at >= self.save_every:
                self.saved_at = time.perf_counter()
                self.autosave()  # under the lock: the saved state is one consistent moment of the run
        finally:
            self.lock.release()
        self.mark_rate()
        return done

    def step(self, n: int) -> int:
        """Pause and run n iterations now (waiting for a tick in flight); returns how many were made."""
        with self.lock:
            self.running = False
            left = self.remaining()
            done = self.engine.step(n if left is None else min(n, left))
        self.mark_rate()
        return done

    def start(self) -> None:
        """Set the run going (when it can run); the speed figure starts afresh."""
        self.running = self.can_run()
        self.rate_marks.clear()
        self.mark_rate()

    def pause(self) -> None:
        """Stop the ticks, waiting for one in flight so that the next full run draws where it stopped."""
        with self.lock:
            self.running = False

    def at_one_moment(self, read: Callable[[], Any]) -> Any:
        """`read()` while no tick or click trains (waiting for one in flight): one consistent moment of the run."""
        with self.lock:
            return read()

    def end(self) -> None:
        """Stop for good (a sweep that finished or was stopped)."""
        with self.lock:
            self.running = False
            self.ended = self.ended or time.perf_counter()

    # ----- speed ---------------------------------------------------------------------------------
    def mark_rate(self) -> None:
        """Remember (now, iteration) for the iterations/second figure."""
        self.rate_marks.append((time.perf_counter(), self.engine.iteration))

    def rate(self) -> float | None:
        """Iterations per wall-clock second over the last RATE_WINDOW seconds of running, or None."""
        if not self.running or not self.rate_marks:
            return None
        newest = self.rate_marks[-1][0]
        marks = [m for m in self.rate_marks if m[0] >= newest - RATE_WINDOW]
        if len(marks) < 2 or marks[-1][0] <= marks[0][0]:
            return None
        return (marks[-1][1] - marks[0][1]) / (marks[-1][0] - marks[0][0])


# ----- the fragment -----------------------------------------------------------------------------
def fragment(get: Callable[[], Run | None], draw: Callable[[], None], key: str,
             on_finish: Callable[[Run], None] | None = None) -> None:
    """Draw `draw` as the live fragment `key`, rerun every TICK seconds while `get()`'s run is going.

    Each tick draws, then trains `get()`'s run (looked up again: a tick after a click sees the
    current run) for the rest of its run time; once the run is finished, `on_finish` is called and
    a full rerun clears the timer and updates the buttons.
    """
    run = get()

    def tick() -> None:
        started = time.perf_counter()
        draw()
        current = get()
        if current is None or not current.running:
            return
        current.advance(budget(current.run_time, time.perf_counter() - started))
        if current.finished():
            current.pause()
            if on_finish is not None:
                on_finish(current)
            st.rerun()

    st.fragment(tick, run_every=TICK if run is not None and run.running else None, key=key)()


def budget(run_time: float, drawn: float) -> float:
    """Seconds a tick trains after drawing for `drawn` seconds: the rest of its run time; when drawing
    is slow (a busy machine), as long as the drawing took, up to the run time, so that training keeps
    half the tick; at least MIN_BUDGET.

    Not more: a click waits for the tick in flight, and this keeps that wait to the drawing plus at
    most one run time of training (it was four times the drawing, ~1 s with ten sessions on two cores).
    """
    return max(MIN_BUDGET, run_time - drawn, min(drawn, run_time))


def chart_config(running: bool) -> dict:
    """Plotly config for charts redrawn every tick: static while running, interactive when paused."""
    return LIVE_CONFIG if running else CHART_CONFIG


def memo(name: str, key: tuple, build: Callable[[], Any]) -> Any:
    """`build()`'s result, rebuilt only when `key` changed: a tick that brought nothing new to a chart
    sends the same figure again (same element id: the browser keeps what it drew)."""
    cache = st.session_state.setdefault(CACHE_KEY, {})
    hit = cache.get(name)
    if hit is None or hit[0] != key:
        hit = cache[name] = (key, time.perf_counter(), build())
    return hit[2]


def throttled(name: str, every: float, running: bool, layout: tuple, build: Callable[[], Any]) -> Any:
    """`build()`'s result, rebuilt when `layout` changed, when paused, or every `every` seconds while running.

    Sending the same figure again keeps its element id, so the browser does not draw it anew:
    slow-changing charts (the weight maps) are redrawn less often than the curves.
    """
    cache = st.session_state.setdefault(CACHE_KEY, {})
    now = time.perf_counter()
    hit = cache.get(name)
    if hit is None or hit[0] != layout or not running or now - hit[1] >= every:
        hit = cache[name] = (layout, now, build())
    return hit[2]
