"""The process-wide compute pool: its size, its order, and that it never deadlocks on itself."""

import os
import threading

import pytest

from core import pool


@pytest.fixture(autouse=True)
def default_size():
    """Every test starts and ends with the pool at its default size."""
    pool.set_workers(None)
    yield
    pool.set_workers(None)


def test_default_size_is_the_cores_this_process_may_use():
    """Without a setting the pool has one worker per core in the process's CPU affinity."""
    assert pool.default_workers() == len(os.sched_getaffinity(0)) >= 1
    assert pool.workers() == pool.default_workers()


def test_set_workers_resizes_and_none_restores_the_default():
    """set_workers(n) is the size from then on; None goes back to the default."""
    pool.set_workers(3)
    assert pool.workers() == 3
    assert len({name for name in pool.map(lambda _: threading.current_thread().name, range(40))}) <= 3
    pool.set_workers(None)
    assert pool.workers() == pool.default_workers()


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_set_workers_refuses_what_is_not_a_count(bad):
    """Zero, negatives, fractions, strings and booleans are refused in one sentence."""
    with pytest.raises(ValueError, match="whole number >= 1"):
        pool.set_workers(bad)


def test_results_come_back_in_the_order_of_the_items():
    """map yields fn(item) in item order even when later items finish first."""
    pool.set_workers(2)
    release = threading.Event()

    def slow_first(i):
        if i == 0:
            release.wait(5)  # item 0 finishes after item 1 has been computed
        else:
            release.set()
        return i * i

    assert list(pool.map(slow_first, range(2))) == [0, 1]
    assert list(pool.map(lambda i: -i, range(50))) == [-i for i in range(50)]


def test_work_runs_on_pool_threads_with_two_workers_and_inline_with_one():
    """Two workers: the items run on the pool's threads; one worker: in the caller, no hand-over."""
    caller = threading.current_thread().name
    pool.set_workers(2)
    names = set(pool.map(lambda _: threading.current_thread().name, range(8)))
    assert caller not in names and all(n.startswith("digit-lab-compute") for n in names)
    pool.set_workers(1)
    assert set(pool.map(lambda _: threading.current_thread().name, range(8))) == {caller}


def test_a_single_item_runs_in_the_caller():
    """One item (a mini-batch) is computed right away in the calling thread."""
    pool.set_workers(2)
    assert list(pool.map(lambda _: threading.current_thread().name, [0])) == [threading.current_thread().name]


def test_nested_map_from_a_worker_does_not_deadlock():
    """A task that maps again runs its inner items inline instead of waiting for busy workers."""
    pool.set_workers(2)
    result = list(pool.map(lambda i: sum(pool.map(lambda j: i * j, range(4))), range(6)))
    assert result == [i * 6 for i in range(6)]


def test_an_error_in_a_task_reaches_the_caller():
    """An exception raised on a worker is raised again where the results are read."""
    pool.set_workers(2)

    def fail_on_three(i):
        if i == 3:
            raise ValueError("three")
        return i

    with pytest.raises(ValueError, match="three"):
        list(pool.map(fail_on_three, range(6)))


def test_setting_the_same_size_again_keeps_the_threads():
    """set_workers(n) with the pool already at n keeps its threads (their scratch arrays stay warm);
    a new size starts new ones."""
    def threads(n: int) -> set[threading.Thread]:
        """The Thread objects (idents are reused) of n tasks that wait for each other: all n workers run one."""
        together = threading.Barrier(n, timeout=5)
        return set(pool.map(lambda _: (together.wait(), threading.current_thread())[1], range(n)))

    pool.set_workers(2)
    first = threads(2)
    pool.set_workers(2)
    assert threads(2) <= first
    pool.set_workers(3)
    assert not threads(3) & first
