"""A property-based fuzz of every public callable (issue 9, section 6).

The callables are discovered, not listed: every callable name in ``__all__`` of
:mod:`geometry`, :mod:`landscape` and their public submodules (and :mod:`landscape.torch`
when torch is installed). Each is first called with small valid arguments
(:mod:`fuzz_catalogue`); then hypothesis picks one parameter at a time and a bad value for
it (NaN, infinities, negative or huge numbers, wrong types, complex or empty arrays, ...).

Every call must end in one of:

* a ValueError or TypeError whose message names the parameter (for a path, an OSError
  naming it or the path);
* a result without a NaN that the valid call did not have.

Never a crash, another exception type, a hang (5 s per call) or an allocation beyond
1 GB: each callable is fuzzed in a forked child under an address-space cap and a time
limit, so a failure of one cannot take the test process down.

Result records (dataclasses without ``__post_init__``: Estimate, TrainingResult, ...) are
built by the toolkit, not by users, and are not fuzzed; other exclusions are listed with
their reasons in :data:`fuzz_catalogue.EXCLUDED`.
"""
from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import json
import os
import pkgutil
import select
import signal
import sys
import time

import numpy as np
import pytest

import fuzz_catalogue as cat

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
#: values tried on every parameter before hypothesis picks at random
CRITICAL = ("10**12", "nan", "-1", "'abc'", "complex array")
#: CPU seconds of calls per callable (later calls are skipped: slow callables get fewer examples)
CPU_BUDGET = float(os.environ.get("FUZZ_CPU_BUDGET", "4"))
PER_CALL_SECONDS = 5
PER_CALLABLE_SECONDS = 120
MEMORY_CAP = 1 << 30
PATH_PARAMS = {"path", "out", "store", "directory", "state_dict"}


# --------------------------------------------------------------------------- discovery
def _public_modules():
    names = []
    for pkg_name in ("geometry", "landscape"):
        pkg = importlib.import_module(pkg_name)
        names.append(pkg_name)
        for info in pkgutil.iter_modules(pkg.__path__):
            if info.name.startswith("_") or info.name == "__main__":
                continue
            if info.name == "torch":
                try:
                    import torch  # noqa: F401
                except ImportError:
                    continue
            names.append(f"{pkg_name}.{info.name}")
    return names


def _discover():
    """``{qualified name: callable}``, first name wins for objects exported twice."""
    seen, out = set(), {}
    for mod_name in _public_modules():
        mod = importlib.import_module(mod_name)
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            if not callable(obj) or id(obj) in seen:
                continue
            seen.add(id(obj))
            out[f"{mod_name}.{name}"] = obj
    return out


CALLABLES = _discover()


def _is_result_record(qualname, obj):
    if qualname in cat.RESULT_RECORDS:
        return True
    if isinstance(obj, type) and issubclass(obj, tuple) and hasattr(obj, "_fields"):
        return True  # a NamedTuple
    return isinstance(obj, type) and dataclasses.is_dataclass(obj) and not hasattr(obj, "__post_init__")


# --------------------------------------------------------------------------- calling
def _plan(qualname, func):
    """(positional-only names, {name: factory} of the baseline, fuzzable names, missing names)."""
    sig = inspect.signature(func)
    overrides = cat.OVERRIDES.get(qualname, {})
    skip = cat.SKIP_PARAMS.get(qualname, set())
    positional, base, fuzzable, missing = [], {}, [], []
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name.startswith("_"):
            continue
        if p.kind == p.POSITIONAL_ONLY:
            positional.append(p.name)
        if p.name in overrides:
            base[p.name] = overrides[p.name]
        elif p.default is inspect.Parameter.empty:
            if p.name in cat.VALID:
                base[p.name] = cat.VALID[p.name]
            else:
                missing.append(p.name)
        elif p.name in cat.CHEAP:
            base[p.name] = (lambda v=cat.CHEAP[p.name]: v)
        if p.name not in skip:
            fuzzable.append(p.name)
    return positional, base, fuzzable, missing


def _call(func, positional, values):
    args = [values.pop(n) for n in positional if n in values]
    return func(*args, **values)


def _nan_paths(x, depth=0):
    """Where a result holds NaN: the value itself, items of short sequences and dicts, and
    the fields of dataclasses (two levels)."""
    if depth > 2:
        return set()
    if isinstance(x, (float, np.floating)):
        return {""} if np.isnan(x) else set()
    if isinstance(x, np.ndarray):
        return {""} if x.dtype.kind in "fc" and np.isnan(x).any() else set()
    out = set()
    if isinstance(x, (list, tuple)) and len(x) <= 50:
        for i, v in enumerate(x):
            out |= {f"[{i}]{p}" for p in _nan_paths(v, depth + 1)}
    elif isinstance(x, dict) and len(x) <= 50:
        for k, v in x.items():
            out |= {f"[{k!r}]{p}" for p in _nan_paths(v, depth + 1)}
    elif dataclasses.is_dataclass(x) and not isinstance(x, type):
        for f in dataclasses.fields(x):
            if f.name == "value" and getattr(x, "censored", None):
                continue  # documented: a censored estimate has no value (its bracket says where)
            out |= {f".{f.name}{p}" for p in _nan_paths(getattr(x, f.name, None), depth + 1)}
    return out


class _Timeout(BaseException):
    pass


def _alarm(*_):
    raise _Timeout()


def _judge(qualname, param, label, value, outcome, base_nans):
    """None when the outcome is acceptable, else a one-line failure."""
    kind, payload = outcome
    where = f"{qualname}({param}={label})"
    if kind == "ok":
        new = _nan_paths(payload) - base_nans
        return f"{where}: silent NaN in the result at {sorted(new)[:3]}" if new else None
    exc = payload
    msg = " ".join(str(exc).split())
    if isinstance(exc, _Timeout):
        return f"{where}: still running after {PER_CALL_SECONDS} s"
    if isinstance(exc, MemoryError):
        return f"{where}: MemoryError (allocation not checked before the call)"
    named = param in msg or (param in PATH_PARAMS and isinstance(value, (str, bytes)) and str(value) in msg)
    if isinstance(exc, (ValueError, TypeError)) or (param in PATH_PARAMS and isinstance(exc, OSError)) \
            or type(exc).__name__ in cat.DOCUMENTED_ERRORS:
        return None if named else f"{where}: {type(exc).__name__} does not name {param!r}: {msg[:160]}"
    return f"{where}: {type(exc).__name__}: {msg[:160]}"


def _fuzz(qualname, func, report):
    """Runs in the child: baseline, then hypothesis; one JSON line per finding on ``report``."""
    import warnings

    warnings.simplefilter("ignore")
    signal.signal(signal.SIGALRM, _alarm)
    positional, base, fuzzable, missing = _plan(qualname, func)
    if missing:
        report({"fail": f"{qualname}: no valid example for required parameter(s) {missing}; "
                        "add them to fuzz_catalogue.VALID or OVERRIDES"})
        return
    try:
        signal.setitimer(signal.ITIMER_REAL, PER_CALL_SECONDS * 4)
        made = {k: f() for k, f in base.items()}  # built once, copied for every call
        baseline = _call(func, positional, copy.deepcopy(made))
    except BaseException as exc:  # noqa: BLE001 - reported
        report({"fail": f"{qualname}: the valid example fails: {type(exc).__name__}: {str(exc)[:200]}"})
        return
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    base_nans = _nan_paths(baseline)
    if not fuzzable:
        return
    found = set()
    stop_at = time.process_time() + CPU_BUDGET

    time_only = cat.TIME_ONLY.get(qualname, set())

    def attempt(param, label, make):
        if time.process_time() > stop_at or (param in time_only and label in cat.HUGE):
            return
        values = copy.deepcopy(made)
        value = values[param] = make()
        report({"start": f"{param}={label}"})
        signal.setitimer(signal.ITIMER_REAL, PER_CALL_SECONDS)
        try:
            outcome = ("ok", _call(func, positional, values))
        except BaseException as exc:  # noqa: BLE001 - judged below
            outcome = ("error", exc)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        failure = _judge(qualname, param, label, value, outcome, base_nans)
        if failure and (param, failure.split(":")[1]) not in found:
            found.add((param, failure.split(":")[1]))
            report({"fail": failure})
        import matplotlib.pyplot as plt

        plt.close("all")

    # every parameter gets the values that find most trouble (hangs, huge allocations, NaN)
    bad = dict(cat.BAD)
    for label in CRITICAL:
        for param in fuzzable:
            attempt(param, label, bad[label])

    # then hypothesis explores the rest of the bad values
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data):
        param = data.draw(st.sampled_from(fuzzable), label="param")
        label, make = data.draw(st.sampled_from(cat.BAD), label="value")
        attempt(param, label, make)

    run()


def _fuzz_in_child(qualname, func):
    """Fork; fuzz in the child under the caps; return the failures (strings)."""
    import resource

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        status = 0
        try:
            os.close(read_fd)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            with open("/proc/self/status") as fh:
                vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
            resource.setrlimit(resource.RLIMIT_AS, (vm + MEMORY_CAP, hard))
            out = os.fdopen(write_fd, "w", buffering=1)
            _fuzz(qualname, func, lambda rec: out.write(json.dumps(rec) + "\n"))
            out.flush()
        except BaseException:  # noqa: BLE001
            status = 3
        finally:
            os._exit(status)
    os.close(write_fd)
    buf, failures, last = b"", [], None
    deadline = time.monotonic() + PER_CALLABLE_SECONDS
    with os.fdopen(read_fd, "rb") as fh:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                failures.append(f"{qualname}: hangs (over {PER_CALLABLE_SECONDS} s; last call {last})")
                break
            ready, _, _ = select.select([fh], [], [], left)
            if not ready:
                continue
            chunk = os.read(fh.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                rec = json.loads(line)
                if "start" in rec:
                    last = rec["start"]
                else:
                    failures.append(rec["fail"])
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) != signal.SIGKILL:
        failures.append(f"{qualname}: crashed (signal {os.WTERMSIG(status)}) at {last}")
    elif os.WIFEXITED(status) and os.WEXITSTATUS(status) not in (0,):
        failures.append(f"{qualname}: the fuzzing child failed (status {os.WEXITSTATUS(status)}) at {last}")
    return failures


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # functions given a path write here


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forks a child per callable")
@pytest.mark.parametrize("qualname", sorted(CALLABLES))
def test_public_callable(qualname, in_tmp):
    func = CALLABLES[qualname]
    if qualname in cat.EXCLUDED:
        pytest.skip(cat.EXCLUDED[qualname])
    if _is_result_record(qualname, func):
        pytest.skip("a result record (built by the toolkit, not validated input)")
    if isinstance(func, type) and issubclass(func, BaseException):
        pytest.skip("an exception or warning class")
    failures = _fuzz_in_child(qualname, func)
    assert not failures, "\n".join(failures)


def test_discovery_finds_the_public_api():
    assert len(CALLABLES) > 100
    for name in ("geometry.gaussian_width", "landscape.sweep", "landscape.subspaces.FastfoodSubspace",
                 "geometry.validation.as_float_array", "landscape.plots.plot_success_curve"):
        assert name in CALLABLES
    assert set(cat.EXCLUDED) >= {"landscape.cli.main"}
