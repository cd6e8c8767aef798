"""configure_threads: BLAS pinned to one thread at run time, the compute pool at the asked size."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
from threadpoolctl import threadpool_info
from core import pool
from dashboard.threads import configure_threads

def blas():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

before = blas()
arg = json.loads(sys.argv[1])
size = configure_threads(arg)
print(json.dumps({"before": before, "after": blas(), "size": size, "pool": pool.workers()}))
"""


def probe(workers, blas_env: str, workers_env: str | None = None) -> dict:
    """Run configure_threads(workers) in a fresh interpreter with OPENBLAS_NUM_THREADS=blas_env."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": blas_env, "PYTHONPATH": str(ROOT)}
    env.pop("DIGIT_LAB_WORKERS", None)
    if workers_env is not None:
        env["DIGIT_LAB_WORKERS"] = workers_env
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(workers)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize("blas_env", ["", "2"])
def test_blas_ends_at_one_thread_and_the_pool_at_the_asked_size(blas_env):
    """Whatever OPENBLAS_NUM_THREADS says ("" = all cores, "2"), BLAS ends at 1 thread, the pool at 3."""
    result = probe(3, blas_env)
    if blas_env == "2":
        assert result["before"] and all(n == 2 for n in result["before"])  # the setting was really in force
    assert result["after"] and all(n == 1 for n in result["after"])
    assert result["size"] == result["pool"] == 3


@pytest.mark.parametrize("blas_env", ["", "2"])
def test_the_app_setting_sizes_the_pool(blas_env):
    """With no count given, DIGIT_LAB_WORKERS sizes the pool; unset or empty, every allowed core."""
    assert probe(None, blas_env, workers_env="2")["pool"] == 2
    result = probe(None, blas_env, workers_env="")
    assert result["pool"] == len(os.sched_getaffinity(0)) and all(n == 1 for n in result["after"])


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_setting_is_one_sentence(value, monkeypatch):
    """A worker count that is not a whole number >= 1 is refused, naming where it came from."""
    from core import pool
    from dashboard.threads import configure_threads

    monkeypatch.setenv("DIGIT_LAB_WORKERS", value)
    try:
        with pytest.raises(ValueError, match=r"^DIGIT_LAB_WORKERS must be a whole number of worker threads >= 1"):
            configure_threads()
        with pytest.raises(ValueError, match=r"^--workers must be a whole number"):
            configure_threads(value)
    finally:
        pool.set_workers(None)
