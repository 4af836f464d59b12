"""landscape.experiments.sweeps: executors, incremental store, kill-and-resume, acceptance trends on digits."""
import functools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from landscape.experiments.result_store import ResultStore
from landscape.experiments.run_table import RunTable
from landscape.experiments.sweeps import SerialExecutor, sweep
from landscape.models import MLP
from landscape.models.datasets import teacher_student
from landscape.thresholds import success_probability, threshold_dimension

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = dict(ds=[1, 3, 8], seeds=2, steps=20, lr=0.05, batch_size=16, progress=False)


class CountingExecutor(SerialExecutor):
    """A serial executor that counts the runs it executes."""

    def __init__(self):
        self.n = 0

    def submit(self, fn, /, *args, **kwargs):
        self.n += 1
        return super().submit(fn, *args, **kwargs)


class FailingMLP(MLP):
    """An MLP whose gradient raises after a number of calls (a crashing run)."""

    def __init__(self, sizes, after):
        super().__init__(sizes)
        self.calls, self.after = 0, after

    def _loss_and_grad(self, theta, X, y):
        self.calls += 1
        if self.calls > self.after:
            raise FloatingPointError("simulated crash")
        return super()._loss_and_grad(theta, X, y)


@pytest.fixture(scope="module")
def problem():
    data = teacher_student(64, 32, n_features=4, n_classes=3, hidden=8, seed=1000)
    return MLP([4, 6, 3]), data


def test_serial_process_pool_and_thread_pool_give_identical_tables(problem):
    model, data = problem
    kw = dict(SMALL, kinds=("random", "lottery"), burn_in=(0, 3))
    serial = sweep(model, data, executor="serial", **kw)
    assert len(serial) == 2 + 2 * 2 * 3 * 2
    assert serial.unique("kind") == ["full", "lottery", "random"] and serial.unique("t") == [0, 3]
    pool = sweep(model, data, max_workers=2, **kw)  # default: spawn process pool
    with ThreadPoolExecutor(2) as ex:
        threads = sweep(model, data, executor=ex, **kw)
    assert serial.equals(pool) and serial.equals(threads)
    # a real comparison: distinct, trained runs with the protocol next to each result
    loss = serial["train_loss"]
    assert np.unique(loss).size == len(serial) and np.all(loss < serial["initial_train_loss"])
    for col in ("optimizer", "lr", "steps", "batch_size", "seed", "D", "d", "kind", "t", "basis", "model",
                "dataset"):
        assert col in serial
    assert set(serial["D"]) == {model.n_params} and set(serial["batch_size"]) == {16}


def test_data_as_a_callable_and_seeds_as_a_list(problem):
    model, data = problem
    factory = functools.partial(teacher_student, 64, 32, n_features=4, n_classes=3, hidden=8, seed=1000)
    a = sweep(model, factory, executor="serial", **dict(SMALL, seeds=[0, 1]))
    b = sweep(model, data, executor="serial", **SMALL)
    assert a.equals(b)


def test_store_resume_runs_only_the_missing_runs(problem, tmp_path):
    model, data = problem
    ex = CountingExecutor()
    first = sweep(model, data, store=tmp_path / "s", executor=ex, **dict(SMALL, ds=[1, 3]))
    assert ex.n == len(first) == 2 + 2 * 2
    ex2 = CountingExecutor()
    full = sweep(model, data, store=tmp_path / "s", executor=ex2, **SMALL)
    assert ex2.n == 2 and len(full) == 2 + 3 * 2  # only d = 8 ran
    ex3 = CountingExecutor()
    again = sweep(model, data, store=tmp_path / "s", executor=ex3, **SMALL)
    assert ex3.n == 0 and again.equals(full)
    assert full.equals(sweep(model, data, executor="serial", **SMALL))
    # the store's protocol and records are plain JSON
    proto = json.load(open(tmp_path / "s" / "protocol.json"))
    assert proto["steps"] == 20 and proto["D"] == model.n_params and proto["optimizer"]["name"] == "adam"
    assert len(open(tmp_path / "s" / "runs.jsonl").readlines()) == 8


def test_a_failing_run_keeps_the_completed_ones(problem, tmp_path):
    _, data = problem
    bad = FailingMLP([4, 6, 3], after=20 * 3 + 5)  # three full runs, then a crash
    with pytest.raises(RuntimeError, match="simulated crash"):
        sweep(bad, data, store=tmp_path / "s", executor="serial", **SMALL)
    stored = ResultStore(tmp_path / "s").table()
    assert 1 <= len(stored) < 8
    # a re-run with a working model (same spec, so same protocol) completes the sweep
    ex = CountingExecutor()
    done = sweep(MLP([4, 6, 3]), data, store=tmp_path / "s", executor=ex, **SMALL)
    assert ex.n == 8 - len(stored) and done.equals(sweep(MLP([4, 6, 3]), data, executor="serial", **SMALL))


KILL_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from landscape.models.datasets import teacher_student
    from landscape.models import MLP
    from landscape.experiments.sweeps import sweep
    data = teacher_student(200, 0, n_features=6, n_classes=3, hidden=8, seed=1000)
    sweep(MLP([6, 12, 3]), data, ds=[1, 2, 4, 8, 16, 32], seeds=4, steps=150, lr=0.05,
          store={store!r}, executor="serial", progress=False)
""")


def test_kill_and_resume(tmp_path):
    """SIGKILL a sweep mid-way, damage its last record, re-run: only the missing runs
    execute and the final table equals an uninterrupted sweep's."""
    store = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT.format(root=ROOT, store=str(store))])
    runs = store / "runs.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline:
        if runs.exists() and len(runs.read_bytes().splitlines()) >= 6:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    n_done = len(runs.read_bytes().splitlines())
    print("runs stored before the kill:", n_done)
    assert 6 <= n_done < 28, n_done  # interrupted mid-way
    with open(runs, "ab") as fh:  # a record cut short by the kill
        fh.write(b'{"kind": "random", "t": 0, "basis": "orth')
    data = teacher_student(200, 0, n_features=6, n_classes=3, hidden=8, seed=1000)
    kw = dict(ds=[1, 2, 4, 8, 16, 32], seeds=4, steps=150, lr=0.05, progress=False)
    ex = CountingExecutor()
    with pytest.warns(RuntimeWarning, match="truncated"):
        resumed = sweep(MLP([6, 12, 3]), data, store=store, executor=ex, **kw)
    assert ex.n == 28 - n_done
    assert len(resumed) == 28
    assert resumed.equals(sweep(MLP([6, 12, 3]), data, executor="serial", **kw))
    assert any(p.startswith("runs.jsonl.partial-") for p in os.listdir(store))


def test_diverged_runs_are_recorded_as_failures():
    data = teacher_student(50, 10, n_features=4, n_classes=3, hidden=0, seed=1001)
    table = sweep(MLP([4, 16, 3], "relu"), data, executor="serial", optimizer="sgd",
                  **dict(SMALL, lr=1e6, steps=50))
    assert set(table["status"]) == {"diverged"} and np.all(np.isnan(table["train_loss"]))
    curve = success_probability(table, "train_loss", 10.0, kind="random")
    assert curve.successes.sum() == 0 and curve.n_trials.sum() == 6


def test_progress_bar_and_history(problem, tmp_path, capsys):
    model, data = problem
    sweep(model, data, executor="serial", store=tmp_path / "s", save_history=True,
          **dict(SMALL, progress=True, ds=[2], eval_every=5))
    err = capsys.readouterr().err
    assert "sweep" in err and "4/4" in err                  # tqdm's bar, forced on
    store = ResultStore(tmp_path / "s")
    hist = store.load_arrays("random-t0-orthonormal-d2-s1")
    np.testing.assert_array_equal(hist["step"], [5, 10, 15, 20])
    sweep(model, data, executor="serial", **dict(SMALL, ds=[2]))
    assert capsys.readouterr().err == ""


def test_bad_input_changes_nothing_stored(problem, tmp_path):
    model, data = problem
    sweep(model, data, store=tmp_path / "s", executor="serial", **dict(SMALL, ds=[1]))
    before = {p: (tmp_path / "s" / p).read_bytes() for p in ("runs.jsonl", "protocol.json")}
    D = model.n_params
    cases = [
        (dict(ds=[]), ValueError, "ds must not be empty"),
        (dict(seeds=[]), ValueError, "seeds must not be empty"),
        (dict(seeds=0), ValueError, "seeds must be >= 1"),
        (dict(kinds=()), ValueError, "kinds must not be empty"),
        (dict(kinds=("burn-in",)), ValueError, "kinds must be among"),
        (dict(burn_in=[]), ValueError, "burn_in must not be empty"),
        (dict(burn_in=[-1]), ValueError, "burn_in entries must be >= 0"),
        (dict(ds=[1, D + 1]), ValueError, f"ds must be <= D = {D}"),
        (dict(ds=[0]), ValueError, "ds entries must be >= 1"),
        (dict(basis="qr"), ValueError, "basis"),
        (dict(lr=0.0), ValueError, "lr must be > 0"),
        (dict(steps=0), ValueError, "steps must be >= 1"),
        (dict(executor=42), TypeError, "executor"),
        (dict(batch_size=0), ValueError, "batch_size must be >= 1"),
        (dict(full_lr=-1.0), ValueError, "full_lr must be > 0"),
        (dict(max_workers=0), ValueError, "max_workers must be >= 1"),
        (dict(lr=0.1), ValueError, "another protocol"),
    ]
    for change, exc, match in cases:
        kw = dict(SMALL, store=tmp_path / "s", executor="serial")
        kw.update(change)
        with pytest.raises(exc, match=match):
            sweep(model, data, **kw)
    assert {p: (tmp_path / "s" / p).read_bytes() for p in before} == before
    with pytest.raises(ValueError, match="save_history"):
        sweep(model, data, save_history=True, **SMALL)
    with pytest.raises(TypeError, match="data must be"):
        sweep(model, [1, 2], **SMALL)
    # nothing is written to a new store when the arguments are bad
    with pytest.raises(TypeError, match="executor"):
        sweep(model, data, store=tmp_path / "new", executor="dask", **SMALL)
    assert not (tmp_path / "new").exists()


def test_acceptance_trends_on_digits():
    """CI-sized version of the digits experiment (the full one: landscape.digits.digits_experiment).

    D = 1210; random subspaces go from P_s = 0 to 1 over the range of d; burn-in (16
    full-space steps) moves the transition to smaller d; lottery subspaces succeed at d
    at least 16 times smaller than random ones.
    """
    pytest.importorskip("sklearn")
    from landscape.models.datasets import load_digits
    data = load_digits(seed=0)
    model = MLP([64, 16, 10])
    kw = dict(seeds=3, steps=150, batch_size=128, optimizer="momentum", lr=0.3, progress=False, max_workers=2)
    table = RunTable.concat([
        sweep(model, data, [8, 32, 128, 512], kinds=("random",), burn_in=(0, 16), **kw),
        sweep(model, data, [1, 2, 4, 8], kinds=("lottery",), include_full=False, **kw),
    ])
    level = 0.95
    assert np.all(table.select(kind="full")["train_acc"] >= 0.99)
    rnd = success_probability(table, "train_acc", level, kind="random", t=0)
    assert rnd.probability[0] == 0 and rnd.probability[-1] == 1
    thr = {name: threshold_dimension(table, "train_acc", level, seed=0, **where)
           for name, where in (("random", dict(kind="random", t=0)), ("burn-in", dict(kind="random", t=16)),
                               ("lottery", dict(kind="lottery")))}
    assert thr["burn-in"].value < thr["random"].value
    assert thr["burn-in"].bracket[1] <= thr["random"].bracket[0]
    assert thr["lottery"].bracket[1] * 16 <= thr["random"].bracket[0]
