"""How many threads the front ends compute with: BLAS pinned to one, the compute pool sized.

core splits every training step into column chunks on its process-wide pool (core.pool), one
chunk per worker at a time. Each chunk's products are small enough that BLAS threads of their
own would only oversubscribe the cores, so BLAS gets one thread per calling thread, set at run
time with threadpoolctl (an OPENBLAS_NUM_THREADS left over in the environment does not matter).
The CLI and the app call `configure_threads` once, at start-up.
"""

from __future__ import annotations

import os

from threadpoolctl import threadpool_limits

from core import pool

WORKERS_ENV = "DIGIT_LAB_WORKERS"  # the app's setting: the compute pool's size

_blas_limits = None  # kept for the life of the process


def configure_threads(workers: int | str | None = None) -> int:
    """Pin BLAS to one thread and size the compute pool; returns the pool's size.

    `workers`: a count; None reads $DIGIT_LAB_WORKERS, and when that is unset or empty the
    pool uses every core the process may run on. Calling again re-sizes the pool.
    Raises: ValueError, one sentence, for a count that is not a whole number >= 1.
    """
    global _blas_limits
    source = "--workers"
    if workers is None:
        workers, source = os.environ.get(WORKERS_ENV, "").strip() or None, WORKERS_ENV
    pool.set_workers(_count(workers, source))
    _blas_limits = threadpool_limits(1, user_api="blas")
    return pool.workers()


def _count(value: int | str | None, source: str) -> int | None:
    """The number of workers from a flag or an environment variable, or None for the default."""
    if value is None:
        return None
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{source} must be a whole number of worker threads >= 1, got {value!r}")
    return int(text)
