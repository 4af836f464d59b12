"""landscape.experiments._executors: the executor choice of the parallel loops and their clean-up."""
import concurrent.futures as cf
import threading

import pytest

from landscape.experiments._executors import SerialExecutor, check_executor, executor_guard, start_executor
from landscape.experiments.sweeps import SerialExecutor as SweepsSerialExecutor


class Bar:
    closed = False

    def close(self):
        self.closed = True


class Pool(cf.ThreadPoolExecutor):
    def __init__(self):
        super().__init__(1)
        self.shutdowns = []

    def shutdown(self, wait=True, *, cancel_futures=False):
        self.shutdowns.append(cancel_futures)
        super().shutdown(wait=wait, cancel_futures=cancel_futures)


def test_choice_of_executor():
    ex, own, ship = start_executor("serial", None, 3, None, ())
    assert isinstance(ex, SerialExecutor) and not own and ship
    given = SerialExecutor()
    assert start_executor(given, None, 3, None, ()) == (given, False, True)
    pool, own, ship = start_executor(None, 2, 1, None, ())
    try:
        assert isinstance(pool, cf.ProcessPoolExecutor) and own and not ship
        assert pool._max_workers == 1  # never more workers than tasks
    finally:
        pool.shutdown()
    assert SweepsSerialExecutor is SerialExecutor


@pytest.mark.parametrize("bad", ["threads", 3, object()])
def test_bad_executor_is_named(bad):
    with pytest.raises(TypeError, match="executor must be"):
        check_executor(bad)


def test_serial_executor_hands_errors_to_the_future():
    fut = SerialExecutor().submit(lambda: 1 / 0)
    assert isinstance(fut.exception(), ZeroDivisionError)


@pytest.mark.parametrize("own", [True, False])
def test_guard_cancels_and_shuts_down_on_error(own):
    pool, bar = Pool(), Bar()
    gate = threading.Event()
    futures = {}
    with pytest.raises(KeyboardInterrupt):
        with executor_guard(pool, own, futures, bar):
            futures[pool.submit(gate.wait, 0.5)] = 0  # occupies the one worker for 0.5 s
            pending = pool.submit(lambda: 1)
            futures[pending] = 1
            raise KeyboardInterrupt
    assert pending.cancelled() and bar.closed
    assert pool.shutdowns == ([True] if own else [])
    gate.set()
    pool.shutdown()


@pytest.mark.parametrize("own", [True, False])
def test_guard_shuts_an_owned_pool_down_on_success(own):
    pool, bar = Pool(), Bar()
    futures = {}
    with executor_guard(pool, own, futures, bar):
        futures[pool.submit(lambda: 2)] = 0
    assert [f.result() for f in futures] == [2] and bar.closed
    assert pool.shutdowns == ([False] if own else [])
    pool.shutdown()
