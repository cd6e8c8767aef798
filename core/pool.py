"""The one process-wide compute pool that every training step splits its column chunks into.

A step hands its chunks to `map`; a fixed set of worker threads (by default one per core the
process may use, `os.sched_getaffinity`) computes them. Alone, a run uses every core; ten app
sessions training at once queue their chunks on the same workers and share the cores instead
of each starting threads of its own. NumPy releases the GIL inside BLAS and large array loops,
so threads are enough; BLAS itself should run one thread per worker (the front ends pin it,
see dashboard/threads.py): a BLAS call that starts threads of its own inside each worker
oversubscribes the cores.

Results never depend on the pool's size: `map` returns results in the order of its items,
and callers sum them in that order.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_lock = threading.Lock()
_size: int | None = None  # None: default_workers()
_executor: ThreadPoolExecutor | None = None
_local = threading.local()  # .in_worker is True on the pool's own threads


def default_workers() -> int:
    """The number of cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):  # no sched_getaffinity outside Linux
        return max(os.cpu_count() or 1, 1)


def workers() -> int:
    """The pool's size: the number set with `set_workers`, or `default_workers()`."""
    return _size or default_workers()


def set_workers(n: int | None) -> None:
    """Size the pool to `n` threads (None: back to the default); takes effect for the next `map`.

    Chunks already queued finish on the old threads. Raises: ValueError unless n is None or >= 1.
    """
    global _size, _executor
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"the number of workers must be a whole number >= 1, got {n!r}")
    with _lock:
        if (n or default_workers()) == workers() and _executor is not None:
            _size = n
            return  # the same size: keep the threads (and their scratch arrays, see core.model)
        old, _size, _executor = _executor, n, None
    if old is not None:
        old.shutdown(wait=False)


def map(fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:  # noqa: A001 (the pool's own map)
    """fn(item) for each item, on the pool's threads; yields the results in the order of `items`.

    Runs in the calling thread instead when the pool has one worker, when there is only one
    item, or when called from a pool thread (a chunk that splits itself must not wait for
    a worker that is waiting for it).
    """
    items = list(items)
    if len(items) <= 1 or getattr(_local, "in_worker", False) or workers() == 1:
        return (fn(item) for item in items)
    futures = [_get_executor().submit(fn, item) for item in items]
    return (future.result() for future in futures)


def _get_executor() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(workers(), thread_name_prefix="digit-lab-compute",
                                           initializer=_mark_worker)
        return _executor


def _mark_worker() -> None:
    _local.in_worker = True


def _forget_after_fork() -> None:
    """A forked child has none of the parent's threads: it starts a pool of its own when needed."""
    global _executor, _lock
    _executor, _lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
