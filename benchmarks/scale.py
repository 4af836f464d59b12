"""Network scale: dense maps in the model's dtype, the torch-native step, threads, the polar kernel, the FWHT.

Usage::

    python benchmarks/scale.py            # full sizes (about 10-20 minutes on 2 shared cores); writes its
                                          # section of benchmarks/RESULTS.md
    python benchmarks/scale.py --quick    # smoke sizes (about a minute), prints only
    python benchmarks/scale.py --parts dense,step   # a subset: dense, haar, step, threads, kernel, fwht

Every figure is a ratio against a baseline measured in the same run on the same data. Timed
comparisons are interleaved (one round runs every contender once) and repeated; the report
gives the median of the round-by-round ratios and their 25-75% spread, because the machine
is shared with other jobs and absolute times drift. Memory peaks are measured in fresh
interpreters from the kernel's high-water mark (``VmHWM``, which also sees torch's and
BLAS's allocations) above the resident size before the build, and in-process with
tracemalloc (numpy's buffers only). Scaling exponents are least-squares slopes of log time
against log D.

Parts (issue 15):

* ``dense``: building a dense Gaussian map of D = 2e5, d = 1000 in float32 and float64 --
  peak memory over the final matrix, and time -- against the earlier construction (a
  transposed draw, a normalised copy, a C-contiguous copy) and plain torch
  (``torch.randn(D, d)`` in float32, columns normalised in place); time ~ D^k.
* ``haar``: exact (Haar) maps at D = 20,490, d = 256 by Cholesky QR (both dtypes) against
  numpy's Householder QR with the sign fix (the earlier construction); orthonormality.
* ``step``: one SGD step of ``TorchSubspaceModel.train`` against plain torch
  (``theta = theta0 + P z``, ``functional_call``, ``torch.optim.SGD``, the loss read back each
  step) at equal dtype and thread count, for dense maps (float32, float64), Fastfood and
  sparse maps, and the earlier numpy-crossing path; time ~ D^k.
* ``threads``: steps of a small model with the automatic thread rule against two threads in
  every pool (torch, numba, BLAS).
* ``kernel``: the ellipsoidal-cone projection at D = 1e6 (lambda_i = 1/i): passes per sample,
  kernel time over one pass (a numba probe reading the same arrays), end to end over one
  Gaussian draw plus one pass; time ~ D^k.
* ``fwht``: the FWHT single-threaded against FFHT (``ffht-unofficial``, when importable) at
  L = 2^12 .. 2^24.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for _p in (HERE, ROOT):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import harness  # noqa: E402
from harness import (  # noqa: E402
    fit_exponent,
    fmt_bytes,
    fmt_ratio,
    fmt_ratio_spread,
    fmt_seconds,
    interleaved,
    ratio_stats,
    table,
)

MARK = "scale"
PARTS = ("dense", "haar", "step", "threads", "kernel", "fwht")

SIZES = {
    "full": dict(
        dense_D=200_000, dense_d=1000, dense_scale_D=(25_000, 50_000, 100_000, 200_000), dense_scale_d=200,
        haar=(20_490, 256), haar_repeats=5,
        step_hidden=256, step_d=(200, 1000), step_ff_d=2000, step_batch=256, step_steps=(2, 7), step_repeats=7,
        step_scale_hidden=(32, 64, 128, 256), step_scale_d=200,
        thr_hidden=8, thr_d=20, thr_steps=40, thr_repeats=15,
        kernel_D=10 ** 6, kernel_n=32, kernel_repeats=5, kernel_total_n=200,
        kernel_scale_D=(10 ** 5, 3 * 10 ** 5, 10 ** 6, 2 * 10 ** 6), kernel_scale_n=16,
        fwht_logL=(12, 16, 18, 20, 22, 24), fwht_repeats=25,
    ),
    "quick": dict(
        dense_D=20_000, dense_d=100, dense_scale_D=(5_000, 10_000, 20_000, 40_000), dense_scale_d=50,
        haar=(2_000, 64), haar_repeats=2,
        step_hidden=32, step_d=(20, 50), step_ff_d=200, step_batch=64, step_steps=(1, 3), step_repeats=2,
        step_scale_hidden=(8, 16, 32, 64), step_scale_d=20,
        thr_hidden=4, thr_d=5, thr_steps=5, thr_repeats=2,
        kernel_D=20_000, kernel_n=16, kernel_repeats=2, kernel_total_n=32,
        kernel_scale_D=(5_000, 10_000, 20_000, 40_000), kernel_scale_n=8,
        fwht_logL=(12, 16), fwht_repeats=3,
    ),
}


def _log(msg, t0=[time.perf_counter()]):
    print(f"[{time.perf_counter() - t0[0]:7.1f} s] {msg}", file=sys.stderr, flush=True)


# ============================================================================ dense maps

_BUILD_SNIPPET = r"""
import json, sys, time
import numpy as np
how, D, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if how.startswith("torch"):
    import torch
    torch.set_num_threads(1)
else:
    from landscape.subspaces import random_subspace
def rss(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
before = rss("VmRSS:")
t0 = time.perf_counter()
if how == "earlier":  # the construction before issue 15: transposed draw, normalised copy, C copy
    rng = np.random.default_rng(np.random.SeedSequence(1))
    G = rng.standard_normal((d, D)).T
    A = np.ascontiguousarray(G / np.linalg.norm(G, axis=0))
    del G
    nbytes = A.nbytes
elif how == "torch32":
    g = torch.Generator().manual_seed(1)
    A = torch.randn(D, d, generator=g)
    A /= torch.linalg.vector_norm(A, dim=0)
    nbytes = A.numel() * 4
else:
    m = random_subspace(D, d, kind="gaussian", seed=1, dtype=how)
    nbytes = m.matrix.nbytes
t = time.perf_counter() - t0
print(json.dumps({"time": t, "peak": rss("VmHWM:") - before, "nbytes": nbytes}))
"""


def _build(how, D, d):
    out = harness.run_python(_BUILD_SNIPPET.replace("sys.argv[1], int(sys.argv[2]), int(sys.argv[3])",
                                                     f"{how!r}, {D}, {d}"))
    return json.loads(out.splitlines()[-1])


def part_dense(sz):
    D, d = sz["dense_D"], sz["dense_d"]
    hows = ["float32", "float64", "earlier", "torch32"]
    res = {h: [] for h in hows}
    for _ in range(2):  # two interleaved rounds; each build in a fresh interpreter
        for h in hows:
            res[h].append(_build(h, D, d))
    best = {h: min(r, key=lambda x: x["time"]) for h, r in res.items()}
    peak = {h: min(x["peak"] for x in r) for h, r in res.items()}
    # in-process tracemalloc peak of the library's builds (numpy buffers only)
    from landscape.subspaces import random_subspace

    random_subspace(100, 3, kind="gaussian", seed=0)
    tm = {}
    for dt in ("float32", "float64"):
        p = harness.peak_memory(lambda: random_subspace(D, d, kind="gaussian", seed=1, dtype=dt))
        tm[dt] = p / (D * d * np.dtype(dt).itemsize)
    t_torch = statistics.median(x["time"] for x in res["torch32"])
    rows = []
    labels = {"float32": "random_subspace(gaussian, dtype=float32)", "float64": "random_subspace(gaussian, float64)",
              "earlier": "earlier construction (float64, three copies)", "torch32": "plain torch float32 (randn, normalise)"}
    for h in hows:
        nb = best[h]["nbytes"]
        rows.append([labels[h], fmt_bytes(nb), fmt_bytes(peak[h]), fmt_ratio(peak[h] / nb),
                     fmt_ratio(peak[h] / best["torch32"]["nbytes"]),
                     f"{tm[h]:.2f}x" if h in tm else "-",
                     fmt_seconds(statistics.median(x["time"] for x in res[h])),
                     fmt_ratio(statistics.median(x["time"] for x in res[h]) / t_torch)])
    # scaling of the float32 build in D (in-process, interleaved over sizes)
    Ds, ds = sz["dense_scale_D"], sz["dense_scale_d"]
    times = interleaved({Dk: (lambda Dk=Dk: random_subspace(Dk, ds, kind="gaussian", seed=2, dtype="float32"))
                         for Dk in Ds}, 3)
    e = fit_exponent(Ds, [min(times[Dk]) for Dk in Ds])
    text = [
        f"### Dense maps: memory and build time (D = {D}, d = {d})",
        "",
        "Each build in a fresh interpreter, two rounds; peak = the process's memory high-water mark "
        "(VmHWM) above its resident size before the build, so torch's and BLAS's allocations count. "
        "'tracemalloc' is the in-process peak of numpy's buffers over the matrix.",
        "",
        table(["build", "matrix", "peak memory", "peak / matrix", "peak / plain torch float32 matrix",
               "tracemalloc peak / matrix", "time (median)", "time / plain torch"], rows),
        "",
        f"The float32 build's time grows as D^{e:.2f} (d = {ds}, D = {Ds[0]} .. {Ds[-1]}): the draws "
        "(numpy's generator, one thread, in float64 so that both dtypes give the same subspace) "
        "dominate.",
    ]
    summary = [["dense map build, peak / matrix (float32)", fmt_ratio(peak["float32"] / best["float32"]["nbytes"]),
                "<= 1.2x", peak["float32"] / best["float32"]["nbytes"] <= 1.2],
               ["dense map build, peak / matrix (float64)", fmt_ratio(peak["float64"] / best["float64"]["nbytes"]),
                "<= 1.2x", peak["float64"] / best["float64"]["nbytes"] <= 1.2]]
    return "\n".join(text), summary, {"dense_build_vs_D": e}


def part_haar(sz):
    from landscape._random import haar_frame

    D, k = sz["haar"]

    def earlier():
        G = np.random.default_rng(3).standard_normal((k, D)).T
        Q, R = np.linalg.qr(G)
        return np.ascontiguousarray(Q * np.where(np.diag(R) < 0, -1.0, 1.0))

    fns = {"earlier": earlier,
           "chol64": lambda: haar_frame(D, k, 3),
           "chol32": lambda: haar_frame(D, k, 3, dtype="float32"),
           "house64": lambda: haar_frame(D, k, 3, method="householder")}
    times = interleaved(fns, sz["haar_repeats"])
    ref = earlier()
    rows = []
    for name, label in (("earlier", "numpy Householder QR + sign fix (earlier, float64)"),
                        ("chol64", "Cholesky QR, two passes (float64)"),
                        ("chol32", "Cholesky QR, two passes (float32)"),
                        ("house64", "Householder in place (LAPACK gerqf/orgrq, float64)")):
        Q = fns[name]().astype(np.float64)
        orth = float(np.abs(Q.T @ Q - np.eye(k)).max())
        dev = float(np.abs(Q - ref).max())
        rows.append([label, fmt_seconds(statistics.median(times[name])),
                     fmt_ratio_spread(ratio_stats(times[name], times["earlier"])), f"{orth:.1e}", f"{dev:.1e}"])
    text = [f"### Exact (Haar) maps (D = {D}, d = {k})", "",
            table(["construction", "time (median)", "vs earlier (median, 25-75%)", "max abs(Q^T Q - I)",
                   "max abs(Q - Q_earlier)"], rows)]
    st = ratio_stats(times["chol32"], times["earlier"])
    return "\n".join(text), [["Haar map build, float32 Cholesky QR vs earlier QR", fmt_ratio(st[0]), "faster",
                              st[0] < 1.0]], {}


# ============================================================================ torch step

def _mlp(hidden, dtype):
    import torch

    return torch.nn.Sequential(torch.nn.Linear(784, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 10)).to(dtype)


def _step_case(hidden, d, kind, dtype_name, sz, threads, earlier=False):
    """(library step times, plain torch step times) interleaved, per step."""
    import torch
    from _torch_baseline import plain_subspace_sgd

    from landscape.subspaces import random_subspace
    from landscape.torch import TorchModel, TorchSubspaceModel

    dtype = getattr(torch, dtype_name)
    net = _mlp(hidden, dtype)
    model = TorchModel(net, input_shape=(784,))
    D = model.n_params
    rng = np.random.default_rng(2000)
    X, y = rng.standard_normal((sz["step_batch"], 784)), rng.integers(0, 10, sz["step_batch"])
    theta0 = model.init_params(seed=0)
    if earlier:  # the numpy-crossing path of maps above 2^24 entries before issue 15
        A = random_subspace(D, d, kind=kind, seed=1)

        class _Plain:  # any object with shape / matvec / rmatvec: applied through numpy float64
            shape = A.shape
            kind = A.kind
            seed = A.seed
            matvec = staticmethod(A.matvec)
            rmatvec = staticmethod(A.rmatvec)

        sub = TorchSubspaceModel(model, _Plain(), theta0=theta0, max_dense_entries=1)
    else:
        sub = TorchSubspaceModel(model, d, theta0=theta0, kind=kind, subspace_seed=1, max_dense_entries=1)
    Xt, yt = model.prepare_data(X, y)
    P = (sub.projection.dense if sub.projection.dense is not None
         else torch.randn(D, d, generator=torch.Generator().manual_seed(3), dtype=dtype) / D ** 0.5)
    th0 = torch.as_tensor(theta0, dtype=dtype)
    plain = plain_subspace_sgd(net, P, th0, Xt, yt)

    def ours(n):
        sub.train(Xt, yt, lr=0.01, steps=n, seed=0, threads=threads)

    n1, n2 = sz["step_steps"]

    def per_step(f):
        t0 = time.perf_counter()
        f(n1)
        a = time.perf_counter() - t0
        t0 = time.perf_counter()
        f(n2)
        return (time.perf_counter() - t0 - a) / (n2 - n1)

    prev = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        plain(1)
        ours(1)
        t_ours, t_plain = [], []
        for _ in range(sz["step_repeats"]):
            t_plain.append(per_step(plain))
            t_ours.append(per_step(ours))
    finally:
        torch.set_num_threads(prev)
    return D, t_ours, t_plain, sub.projection.operator.kind


def part_step(sz):
    try:
        import torch  # noqa: F401
    except ImportError:
        return "### Torch step\n\ntorch is not installed: skipped.", [], {}
    import torch

    threads = torch.get_num_threads()
    h = sz["step_hidden"]
    rows, summary = [], []
    cases = []
    for d in sz["step_d"]:
        cases += [(d, "gaussian", "float32", False), (d, "gaussian", "float64", False)]
    cases += [(sz["step_d"][-1], "gaussian", "float32", True),
              (sz["step_ff_d"], "fastfood", "float32", False), (sz["step_ff_d"], "fastfood", "float64", False),
              (sz["step_ff_d"], "sparse", "float32", False)]
    for d, kind, dt, earlier in cases:
        _log(f"step: d = {d} {kind} {dt}{' (earlier path)' if earlier else ''}")
        D, t_ours, t_plain, op = _step_case(h, d, kind, dt, sz, threads, earlier=earlier)
        st = ratio_stats(t_ours, t_plain)
        label = f"{kind} ({'numpy float64 crossing, the earlier path' if earlier else op})"
        rows.append([D, d, label, dt, fmt_seconds(statistics.median(t_plain)), fmt_seconds(statistics.median(t_ours)),
                     fmt_ratio_spread(st)])
        if kind == "gaussian" and not earlier:
            summary.append([f"torch step, dense {dt}, d = {d} vs plain torch", fmt_ratio(st[0]), "<= 1.1x",
                            st[0] <= 1.1])
        if kind == "fastfood":
            summary.append([f"torch step, Fastfood {dt}, d = {d} vs plain dense torch", fmt_ratio(st[0]), "< 1 (lead kept)",
                            st[0] < 1.0])
    # scaling of the dense float32 step in D
    Ds, ts = [], []
    for hk in sz["step_scale_hidden"]:
        D, t_ours, t_plain, _ = _step_case(hk, sz["step_scale_d"], "gaussian", "float32", dict(sz, step_repeats=3),
                                           threads)
        Ds.append(D)
        ts.append(statistics.median(t_ours))
    ok = [i for i, t in enumerate(ts) if t > 0]  # a difference of two noisy runs can come out <= 0
    e = fit_exponent([Ds[i] for i in ok], [ts[i] for i in ok]) if len(ok) >= 2 else float("nan")
    text = [f"### Torch step against plain torch ({threads} threads, MLP 784-{h}-10, batch {sz['step_batch']})", "",
            "Plain torch: `theta = theta0 + P z` with a dense (D, d) tensor P in the same dtype (for sparse "
            "and Fastfood maps still the dense P of the same shape), `functional_call`, `torch.optim.SGD`, "
            "`loss.item()` each step. Library: `TorchSubspaceModel.train` with the map drawn in the "
            "model's dtype, `threads` equal to torch's. Time per step from runs of "
            f"{sz['step_steps'][0]} and {sz['step_steps'][1]} steps; {sz['step_repeats']} interleaved rounds.",
            "",
            table(["D", "d", "map (operator)", "dtype", "plain torch / step", "library / step",
                   "library / plain (median, 25-75%)"], rows),
            "",
            f"The dense float32 step grows as D^{e:.2f} (d = {sz['step_scale_d']}, D = {Ds[0]} .. {Ds[-1]})."]
    return "\n".join(text), summary, {"torch_step_dense_vs_D": e}


def part_threads(sz):
    try:
        import torch
    except ImportError:
        return "### Threads\n\ntorch is not installed: skipped.", [], {}
    import numba
    from threadpoolctl import threadpool_limits

    from landscape.torch import TorchModel, TorchSubspaceModel

    net = _mlp(sz["thr_hidden"], torch.float64)
    model = TorchModel(net, input_shape=(784,))
    rng = np.random.default_rng(2001)
    X, y = rng.standard_normal((64, 784)), rng.integers(0, 10, 64)
    sub = TorchSubspaceModel(model, sz["thr_d"], theta0=model.init_params(seed=0), kind="fastfood",
                             subspace_seed=1, max_dense_entries=1)
    Xt, yt = model.prepare_data(X, y)
    steps = sz["thr_steps"]

    def auto():
        sub.train(Xt, yt, lr=0.01, steps=steps, seed=0)

    def all_two():
        prev_t, prev_n = torch.get_num_threads(), numba.get_num_threads()
        torch.set_num_threads(2)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        try:
            with threadpool_limits(2, user_api="blas"):
                sub.train(Xt, yt, lr=0.01, steps=steps, seed=0, threads=2)
        finally:
            torch.set_num_threads(prev_t)
            numba.set_num_threads(prev_n)

    times = interleaved({"auto": auto, "two": all_two}, sz["thr_repeats"])
    st = ratio_stats(times["two"], times["auto"])
    rows = [["automatic (one thread: small step)", fmt_seconds(statistics.median(times["auto"]) / steps),
             fmt_seconds(max(times["auto"]) / steps), "1.00x"],
            ["two threads in torch, numba and BLAS", fmt_seconds(statistics.median(times["two"]) / steps),
             fmt_seconds(max(times["two"]) / steps), fmt_ratio_spread(st)]]
    text = [f"### Threads: a small model (D = {model.n_params}, Fastfood d = {sz['thr_d']}, {steps} steps per run)", "",
            table(["thread counts", "median per step", "slowest run, per step", "vs automatic (median, 25-75%)"], rows)]
    return "\n".join(text), [["small-model step, 2 threads everywhere vs automatic", fmt_ratio(st[0]),
                              ">= 1 (automatic no slower)", st[0] >= 0.95]], {}


# ============================================================================ polar kernel

def _one_over_i_cone(D):
    from geometry import EllipsoidalCone

    lam = 1.0 / np.arange(1, D + 1, dtype=np.float64)
    off = np.random.default_rng(1010).standard_normal(D)
    off /= np.linalg.norm(off)
    level = 1e-6 * (1e6 / D) * np.log(D) / np.log(1e6)
    return EllipsoidalCone(np.sqrt(2.0 * level / lam), off)


def part_kernel(sz):
    from _probes import one_pass

    from geometry import statistical_dimension

    D, n = sz["kernel_D"], sz["kernel_n"]
    K = _one_over_i_cone(D)
    statistical_dimension(K, 2, seed=99)
    draws = K._draw(n, np.random.default_rng(5))
    sec = K._secular
    out = K._batch(*draws)
    passes = out[:, 6]
    one_pass(draws[0][:2], draws[1], K._rho, K._b, sec.wp)
    fns = {"kernel": lambda: K._batch(*draws),
           "pass": lambda: one_pass(draws[0], draws[1], K._rho, K._b, sec.wp),
           "draw": lambda: K._draw(n, np.random.default_rng(5))}
    times = interleaved(fns, sz["kernel_repeats"])
    k_over_pass = ratio_stats(times["kernel"], times["pass"])
    nt = sz["kernel_total_n"]
    t_total = interleaved({"e2e": lambda: statistical_dimension(K, nt, seed=0)}, 2)["e2e"]
    per = {k: statistics.median(v) / n for k, v in times.items()}
    e2e = statistics.median(t_total) / nt
    bound = per["draw"] + per["pass"]
    est = statistical_dimension(K, nt, seed=0)
    rows = [["statistical_dimension, end to end", fmt_seconds(e2e), fmt_ratio(e2e / bound)],
            ["  projection kernel (polar_batch)", fmt_seconds(per["kernel"]), fmt_ratio(per["kernel"] / bound)],
            ["  one Gaussian draw (numpy, one thread)", fmt_seconds(per["draw"]), fmt_ratio(per["draw"] / bound)],
            ["  one pass over the sample (numba probe, same arrays and threads)", fmt_seconds(per["pass"]),
             fmt_ratio(per["pass"] / bound)],
            ["draw + one pass (the baseline)", fmt_seconds(bound), "1.00x"]]
    Ds = sz["kernel_scale_D"]
    ts = []
    for Dk in Ds:
        Kk = _one_over_i_cone(Dk)
        dr = Kk._draw(sz["kernel_scale_n"], np.random.default_rng(6))
        Kk._batch(*dr)
        ts.append(min(interleaved({"k": lambda: Kk._batch(*dr)}, 2)["k"]) / sz["kernel_scale_n"])
    e = fit_exponent(Ds, ts)
    text = [f"### The ellipsoidal-cone kernel (D = {D}, lambda_i = 1/i, delta/D = {est.value / D:.2f})", "",
            f"Passes over the sample's groups per sample (column 6 of the kernel: the first pass, one per "
            f"evaluation of the secular function, the final norms): mean {passes.mean():.2f}, median "
            f"{np.median(passes):.0f}, max {passes.max():.0f} over {n} samples. The kernel takes "
            f"{fmt_ratio_spread(k_over_pass)} the time of one pass (median of {sz['kernel_repeats']} interleaved "
            "rounds, 25-75%).",
            "",
            table(["", "per sample", "vs draw + one pass"], rows),
            "",
            f"Kernel time per sample grows as D^{e:.2f} (D = {Ds[0]} .. {Ds[-1]})."]
    summary = [["polar kernel, passes per sample (mean)", f"{passes.mean():.2f}", "<= 8", passes.mean() <= 8],
               ["polar kernel, time / one pass", fmt_ratio(k_over_pass[0]), "measured", None],
               ["statistical dimension end to end / (draw + one pass)", fmt_ratio(e2e / bound), "<= 2x",
                e2e / bound <= 2.0]]
    return "\n".join(text), summary, {"polar_kernel_vs_D": e}


# ============================================================================ FWHT

def part_fwht(sz):
    from landscape.subspaces._fwht import _fwht_rows_serial, fwht_rows

    try:
        import ffht
    except ImportError:
        ffht = None
    rows, summary = [], []
    for lg in sz["fwht_logL"]:
        L = 2 ** lg
        x = np.random.default_rng(1030).standard_normal((1, L))
        fns = {"ours1": lambda: _fwht_rows_serial(x), "ours2": lambda: fwht_rows(x)}
        if ffht is not None:
            fns["ffht"] = lambda: ffht.fht_(x[0])
        times = interleaved(fns, sz["fwht_repeats"])
        if ffht is not None:
            s1 = ratio_stats(times["ours1"], times["ffht"])
            s2 = ratio_stats(times["ours2"], times["ffht"])
            best = min(times["ours1"]) / min(times["ffht"])
            rows.append([f"2^{lg}", fmt_seconds(statistics.median(times["ffht"])),
                         fmt_seconds(statistics.median(times["ours1"])), fmt_ratio_spread(s1), fmt_ratio(best),
                         fmt_ratio_spread(s2)])
            if lg in (20, 24):
                summary.append([f"FWHT one thread vs FFHT, L = 2^{lg}", fmt_ratio(s1[0]), "<= 1.3x", s1[0] <= 1.3])
        else:
            rows.append([f"2^{lg}", "-", fmt_seconds(statistics.median(times["ours1"])), "-", "-", "-"])
    if ffht is not None:
        text = ["### FWHT against FFHT (`ffht-unofficial`, built from source; float64, in place)", "",
                table(["L", "FFHT", "ours, one thread", "one thread / FFHT (median, 25-75%)", "best / best",
                       "ours, all threads / FFHT"], rows),
                "",
                "Both give bitwise the textbook result (the same additions in the same order)."]
    else:
        text = ["### FWHT (FFHT not importable here)", "",
                "`ffht-unofficial` did not import, so there is no side-by-side figure; the issue states FFHT "
                "at 5 ms for L = 2^20 on this machine.", "",
                table(["L", "FFHT", "ours, one thread", "-", "-", "-"], rows)]
    return "\n".join(text), summary, {}


# ============================================================================ driver

def _merge_previous(path, parts, sections, summary, exps):
    """Parts not re-measured, taken from the existing section of ``path`` (their text, summary
    rows and exponents), merged with the new ones in the order of PARTS."""
    import re

    text = open(path).read()
    m = re.search(rf"<!-- begin: {MARK} -->(.*?)<!-- end: {MARK} -->", text, re.S)
    if not m:
        return sections, summary, exps
    old = m.group(1)
    old_parts = dict(re.findall(r"(<!-- part: (\w+) .*?)(?=<!-- part: |\Z)", old, re.S)[i][::-1]
                     for i in range(len(re.findall(r"<!-- part: ", old))))
    new_parts = dict(zip(parts, sections))
    merged = [new_parts.get(p, old_parts.get(p, "").rstrip()) for p in PARTS if p in new_parts or p in old_parts]
    rows = []
    for line in old.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 5 and cells[0] in PARTS and cells[0] not in parts:
            rows.append(cells)
    rows += summary
    rows.sort(key=lambda r: PARTS.index(r[0]))
    for k, v in re.findall(r"^\| (\w+_vs_D) \| ([-\d.na]+) \|$", old, re.M):
        if k not in exps:
            try:
                exps[k] = float(v)
            except ValueError:
                pass
    return merged, rows, exps


RUNNERS = {"dense": part_dense, "haar": part_haar, "step": part_step, "threads": part_threads,
           "kernel": part_kernel, "fwht": part_fwht}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke sizes; print only")
    ap.add_argument("--parts", default=",".join(PARTS), help="comma-separated subset of " + ",".join(PARTS))
    ap.add_argument("--output", default=None, help="RESULTS.md to update (default: benchmarks/RESULTS.md, "
                                                    "none with --quick)")
    ap.add_argument("--update", action="store_true",
                    help="re-measure only --parts and merge them into the existing section (the other parts kept)")
    args = ap.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    bad = sorted(set(parts) - set(PARTS))
    if bad:
        ap.error(f"unknown parts {bad}; choose from {','.join(PARTS)}")
    sz = SIZES["quick" if args.quick else "full"]
    output = args.output or (None if args.quick else os.path.join(HERE, "RESULTS.md"))
    t0 = time.perf_counter()
    sections, summary, exps, took = [], [], {}, {}
    for p in parts:
        _log(f"part {p} ...")
        t1 = time.perf_counter()
        text, summ, ex = RUNNERS[p](sz)
        took[p] = time.perf_counter() - t1
        sections.append(f"<!-- part: {p} ({datetime.date.today().isoformat()}, {fmt_seconds(took[p])}) -->\n" + text)
        summary += [[p] + row for row in summ]
        exps.update(ex)
        print(text + "\n", flush=True)
    if args.update and output and os.path.exists(output):
        sections, summary, exps = _merge_previous(output, parts, sections, summary, exps)
    load = ""
    try:
        with open("/proc/loadavg") as fh:
            load = " ".join(fh.read().split()[:3])
    except OSError:
        pass
    head = ["## Network scale (`benchmarks/scale.py`, issue 15)", "",
            f"Run on {datetime.date.today().isoformat()} in {fmt_seconds(time.perf_counter() - t0)} "
            f"({', '.join(f'{k}: {fmt_seconds(v)}' for k, v in took.items())}"
            f"{'; the other parts kept from an earlier run, dated in their marks' if args.update else ''}); "
            f"load average at the end {load} "
            "on 2 cores shared with other jobs. Every figure is a ratio against a baseline in the same run; "
            "timed comparisons are interleaved and repeated, and give the median ratio with its 25-75% "
            "spread.", "",
            table(["part", "what", "measured", "target", "verdict"],
                  [[p, w, m, t, ok if isinstance(ok, str) else ("-" if ok is None else ("met" if ok else "not met"))]
                   for p, w, m, t, ok in summary])]
    if exps:
        head += ["", table(["scaling exponent (time ~ D^k)", "k"], [[k, f"{v:.2f}"] for k, v in exps.items()])]
    report = "\n".join(head) + "\n\n" + "\n\n".join(sections) + "\n"
    if output:
        harness.write_marked_section(output, MARK, report)
        print(f"wrote the '{MARK}' section of {output}")
    else:
        print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
