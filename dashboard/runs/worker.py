"""Server-side training: a worker owns each live run; pages send commands and read snapshots.

The page is not the clock of training. A `Worker` wraps one engine (a `core.Trainer`, a sweep, the
notebook-vs-corrected `Lockstep`: anything with `step(n, deadline)`, `iteration`, `seconds` and
`done`) and is its only writer. A few driver threads, one per core the compute pool has, take the
workers that have something to do in turn and give each a SLICE of training (round robin: many
runs share the cores fairly). After each slice the worker publishes an immutable `Snapshot`,
replacing the previous one in one assignment; pages read `worker.snapshot` without a lock and draw
it. Commands are small frozen values put on the worker's queue; the worker applies them at the next
step boundary, and a worker with a command jumps the drivers' queue, so a click waits for the slice
in progress, not for every other run's turn. No Streamlit here, and nothing here is
ever called from a page's drawing code except `send`, `snapshot` and `seen`.

The states a run can be in, and the commands each accepts:

| state    | what it does                          | commands                                    |
|----------|---------------------------------------|---------------------------------------------|
| paused   | nothing                               | Start, Step(n), SetLR, StopAt, Close        |
| running  | trains slice after slice              | Pause, Step(n) (= pause, then n), SetLR, StopAt, Close |
| stepping | trains n more iterations, then pauses | Pause, Start, Step(n) (n more), SetLR, StopAt, Close |
| finished | nothing: failed, done, or at its stop | SetLR, StopAt (a later stop makes it paused), Close |
| closed   | gone for good                         | none                                        |

A running worker also pauses by itself, saying why in `Snapshot.note`: when no page has asked
about it (`seen`) for `idle_after` seconds, and `grace` seconds after its last page went away
(`detach`; a reload attaches the new page before that).
"""

from __future__ import annotations

import itertools
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from queue import Empty, SimpleQueue
from typing import Any

from core import pool

PAUSED, RUNNING, STEPPING, FINISHED, CLOSED = "paused", "running", "stepping", "finished", "closed"
SLICE = 0.1  # seconds of training a worker gets per turn: bounds a click's wait and the snapshot rate
YIELD = 0.001  # seconds a driver sleeps between slices, so the server's own threads get the GIL
RATE_WINDOW = 3.0  # seconds the iterations/second figure averages over
IDLE_ENV = "DIGIT_LAB_IDLE_MINUTES"  # minutes without a page asking before a running worker pauses (default 10)
GRACE = 20.0  # seconds a worker with no page left keeps running (a reload comes back well within it)


# ----- commands -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Start:
    """Train until told otherwise (or done, failed, at the stop)."""


@dataclass(frozen=True)
class Pause:
    """Stop training at the next step boundary."""


@dataclass(frozen=True)
class Step:
    """Pause, then train exactly n iterations (fewer if the run finishes first), then pause."""

    n: int


@dataclass(frozen=True)
class SetLR:
    """Change α from the next step on (run i of a stack)."""

    lr: float
    i: int = 0


@dataclass(frozen=True)
class StopAt:
    """Pause by itself at this iteration (None: no stop)."""

    iteration: int | None


@dataclass(frozen=True)
class Close:
    """Stop for good; the worker leaves the drivers."""


# ----- what pages read ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Snapshot:
    """One published moment of a run: its state, progress and the engine's view (`publish(engine)`)."""

    status: str
    iteration: int
    seconds: float  # training time
    view: Any  # what the pages draw, built by the worker's `publish` from the engine
    version: int = 0  # grows with every publication
    rate: float | None = None  # iterations per second lately, while running
    stop_at: int | None = None
    note: str | None = None  # why the worker paused by itself
    steps_left: int = 0
    at: float = 0.0  # wall clock (time.time()) of the publication

    @property
    def active(self) -> bool:
        """Training now (running, or stepping through a Step)."""
        return self.status in (RUNNING, STEPPING)


@dataclass(frozen=True)
class _Sent:
    """A command with the event set once it is applied (or finished, for Step)."""

    command: Any
    done: threading.Event = field(default_factory=threading.Event)


class Worker:
    """Owns one engine on the drivers: commands in, snapshots out."""

    def __init__(self, engine: Any, publish: Callable[[Any], Any], stop_at: int | None = None,
                 time_limit: float | None = None, idle_after: float | None = None, grace: float = GRACE,
                 start: bool = False):
        self.engine, self._publish = engine, publish
        self.stop_at, self.time_limit = stop_at, time_limit
        self.idle_after, self.grace = idle_seconds() if idle_after is None else idle_after, grace
        self._commands: SimpleQueue[_Sent] = SimpleQueue()
        self._status, self._steps_left, self._note = RUNNING if start and not self.finished() else PAUSED, 0, None
        self._step_time = 0.0  # seconds one step took lately (to place a slice's deadline)
        self._rate_marks: deque = deque(maxlen=64)
        self._waiting: list[_Sent] = []  # Step commands still going
        self._versions = itertools.count(1)
        self._watchers: set[int] = set()
        self._last_seen = time.monotonic()
        self._alone_since: float | None = None
        self.snapshot = self._snapshot()  # replaced in one assignment after each slice
        if start:
            _drivers().wake(self)

    # ----- the pages' side ----------------------------------------------------------------------
    def send(self, command: Any, wait: float = 0.0) -> bool:
        """Queue a command for the next step boundary; wait up to `wait` s for it to apply.

        Returns True when it was applied within the wait (a Step: when its steps are done).
        """
        sent = _Sent(command)
        self._commands.put(sent)
        _drivers().hurry(self)
        return sent.done.wait(wait) if wait > 0 else False

    def seen(self) -> None:
        """A page asked about this run (resets the idle clock)."""
        self._last_seen = time.monotonic()

    def attach(self, watcher: int) -> None:
        """A page session watches this run (see `detach`)."""
        self._watchers.add(watcher)
        self._alone_since = None
        self.seen()

    def detach(self, watcher: int) -> None:
        """A page session went away; with none left the run pauses after `grace` seconds."""
        self._watchers.discard(watcher)
        if not self._watchers:
            self._alone_since = time.monotonic()
            _drivers().wake(self)

    # ----- the drivers' side --------------------------------------------------------------------
    def has_commands(self) -> bool:
        """A command waits for this worker's next turn."""
        return not self._commands.empty()

    def has_work(self) -> bool:
        """Commands are waiting or it trains: it wants a turn."""
        return self.has_commands() or self._status in (RUNNING, STEPPING)

    def turn(self, length: float = SLICE) -> None:
        """One turn on a driver: apply the commands, train for up to `length` seconds, publish.

        A command's sender is told it applied once a snapshot showing it is published (a Step's
        sender once its steps are done).
        """
        trained = self._status in (RUNNING, STEPPING)  # before this turn's commands (a Pause among them)
        applied = self._apply_commands()
        active = self._status in (RUNNING, STEPPING)
        if active:
            self._check_alone()
        if self._status in (RUNNING, STEPPING):
            self._train(length)
        if applied or active:
            self._settle(trained or active)
            self.snapshot = self._snapshot()
        self._waiting += applied
        for sent in self._waiting:
            if not (isinstance(sent.command, Step) and self._status == STEPPING):
                sent.done.set()
        self._waiting = [sent for sent in self._waiting if not sent.done.is_set()]

    def _apply_commands(self) -> list[_Sent]:
        applied = []
        while True:
            try:
                sent = self._commands.get_nowait()
            except Empty:
                return applied
            self._apply(sent.command)
            applied.append(sent)

    def _apply(self, command: Any) -> None:
        if self._status == CLOSED:
            return
        if isinstance(command, Close):
            self._status = CLOSED
        elif isinstance(command, Start):
            self._note, self._status = None, RUNNING if not self.finished() else FINISHED
            self._rate_marks.clear()
            self.seen()
        elif isinstance(command, Pause):
            self._status = PAUSED if not self.finished() else FINISHED
        elif isinstance(command, Step):  # clicks made while stepping add up
            self._steps_left = max(0, int(command.n)) + (self._steps_left if self._status == STEPPING else 0)
            self._status = STEPPING if self._steps_left and not self.finished() else self._resting()
        elif isinstance(command, SetLR):
            self.engine.set_lr(command.lr, command.i)
        elif isinstance(command, StopAt):
            self.stop_at = command.iteration
            if self._status not in (RUNNING, STEPPING):
                self._status = self._resting()
        else:
            raise TypeError(f"not a command: {command!r}")

    def _train(self, length: float) -> None:
        engine, start = self.engine, time.perf_counter()
        n = self._remaining()
        if self._status == STEPPING:
            n = self._steps_left if n is None else min(n, self._steps_left)
        deadline = start + max(length - self._step_time, 0.0)
        if self.time_limit is not None:
            deadline = min(deadline, start + max(self.time_limit - engine.seconds - self._step_time, 0.0))
        made = engine.step(n, deadline=deadline) if n != 0 else 0
        if made == 0 and n != 0 and not self.finished():
            made = engine.step(1)  # always make progress, however slow one step is
        if made:
            self._step_time = (time.perf_counter() - start) / made
        if self._status == STEPPING:
            self._steps_left -= made
        self._rate_marks.append((time.monotonic(), engine.iteration))

    def _settle(self, trained: bool) -> None:
        """After a turn: paused at a stop, done or failed; a Step's end. A run that was training and now rests
        (a Pause, by a click or by the server, a Step's end, its stop) gets to evaluate where it stopped, if
        its engine has `settle` (`Trainer.settle`), so that its figures and curves show that moment."""
        if self._status == CLOSED:
            return
        stops = self.finished() or self._status == PAUSED or (self._status == STEPPING and self._steps_left <= 0)
        if trained and stops and hasattr(self.engine, "settle"):
            self.engine.settle()  # first: what it finds (a collapse) decides the state too
        if self.finished():
            self._status, self._steps_left = FINISHED, 0
        elif self._status == STEPPING and self._steps_left <= 0:
            self._status = PAUSED

    def _check_alone(self) -> None:
        now = time.monotonic()
        if self._alone_since is not None and now - self._alone_since >= self.grace:
            self._pause_by_itself("its page was closed")
        elif now - self._last_seen >= self.idle_after:
            self._pause_by_itself(f"no page asked about it for {self.idle_after / 60:g} minutes")

    def _pause_by_itself(self, why: str) -> None:
        self._status, self._steps_left, self._note = PAUSED, 0, f"Paused by the server: {why}."

    def break_down(self, error: Exception) -> None:
        """The engine raised: close the run and say so (the driver goes on with the others)."""
        self._status, self._note = CLOSED, f"Stopped by an error on the server: {error}."
        self.snapshot = self._snapshot()
        for sent in self._waiting:
            sent.done.set()

    # ----- where the run stands -----------------------------------------------------------------
    def finished(self) -> bool:
        """Nothing more to train: done, failed, at its stop or out of training time."""
        engine = self.engine
        return (bool(engine.done) or (self.stop_at is not None and engine.iteration >= self.stop_at)
                or (self.time_limit is not None and engine.seconds >= self.time_limit))

    def _resting(self) -> str:
        return FINISHED if self.finished() else PAUSED

    def _remaining(self) -> int | None:
        return None if self.stop_at is None else max(0, self.stop_at - self.engine.iteration)

    def _rate(self) -> float | None:
        if self._status not in (RUNNING, STEPPING) or len(self._rate_marks) < 2:
            return None
        newest = self._rate_marks[-1][0]
        marks = [m for m in self._rate_marks if m[0] >= newest - RATE_WINDOW]
        if len(marks) < 2 or marks[-1][0] <= marks[0][0]:
            return None
        return (marks[-1][1] - marks[0][1]) / (marks[-1][0] - marks[0][0])

    def _snapshot(self) -> Snapshot:
        engine = self.engine
        return Snapshot(self._status, engine.iteration, engine.seconds, self._publish(engine), next(self._versions),
                        self._rate(), self.stop_at, self._note, self._steps_left, time.time())


def idle_seconds(environ=os.environ) -> float:
    """$DIGIT_LAB_IDLE_MINUTES in seconds (10 minutes when unset, empty or not a positive number)."""
    try:
        minutes = float(environ.get(IDLE_ENV, "") or 10)
    except ValueError:
        minutes = 10.0
    return minutes * 60 if math.isfinite(minutes) and minutes > 0 else 600.0


# ----- the drivers ------------------------------------------------------------------------------------
class Drivers:
    """Threads that give the workers with work their turns, round robin; a worker is never on two at once."""

    def __init__(self, count: int):
        self._ready: deque[Worker] = deque()
        self._queued: set[int] = set()  # ids of the workers in _ready
        self._busy: set[int] = set()  # ids of the workers in a turn
        self._cond = threading.Condition()
        self.threads = [threading.Thread(target=self._loop, name=f"digit-lab driver {i}", daemon=True)
                        for i in range(count)]
        for thread in self.threads:
            thread.start()

    def wake(self, worker: Worker) -> None:
        """Give `worker` a turn soon (a worker in a turn is looked at again when its turn ends)."""
        with self._cond:
            self._enqueue(worker)

    def hurry(self, worker: Worker) -> None:
        """Give `worker` the next turn: a click waits for at most the slice in progress, not for every
        other run's turn (ten runs on one driver would make a Pause wait ten slices, a second)."""
        with self._cond:
            if id(worker) in self._queued:
                self._ready.remove(worker)
                self._queued.discard(id(worker))
            self._enqueue(worker, first=True)

    def _enqueue(self, worker: Worker, first: bool = False) -> None:
        key = id(worker)
        if key not in self._queued and key not in self._busy:
            self._queued.add(key)
            if first:
                self._ready.appendleft(worker)
            else:
                self._ready.append(worker)
            self._cond.notify()

    def _take(self) -> Worker:
        with self._cond:
            while not self._ready:
                self._cond.wait()
            worker = self._ready.popleft()
            self._queued.discard(id(worker))
            self._busy.add(id(worker))
            return worker

    def _done(self, worker: Worker) -> None:
        with self._cond:
            self._busy.discard(id(worker))
            if worker.has_work():  # checked under the lock: a command sent during the turn is not missed
                self._enqueue(worker, first=worker.has_commands())

    def _loop(self) -> None:
        while True:
            worker = self._take()
            try:
                worker.turn()
            except Exception as error:  # noqa: BLE001 - a broken run must not take the driver with it
                worker.break_down(error)
            self._done(worker)
            time.sleep(YIELD)


_drivers_lock = threading.Lock()
_the_drivers: Drivers | None = None


def _drivers() -> Drivers:
    """The process's drivers, started on first use: one per thread of the compute pool."""
    global _the_drivers
    with _drivers_lock:
        if _the_drivers is None:
            _the_drivers = Drivers(pool.workers())
        return _the_drivers
