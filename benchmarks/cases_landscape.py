"""Benchmark cases 4-5: the Fastfood subspace map, and subspace training in numpy vs PyTorch.

Same conventions as :mod:`cases_geometry`: each case returns a Section and the fitted
scaling exponents; every baseline runs in the same process on the same data.
"""
from __future__ import annotations

import numpy as np
from cases_geometry import Section, _verdict
from harness import (
    fit_exponent,
    fmt_bytes,
    fmt_ratio,
    fmt_seconds,
    measure,
    peak_memory,
    table,
)

SIZES = {
    "full": dict(
        ff_logL=20, ff_d=10 ** 4, ff_repeats=7,
        ff_step_layers=(784, 1024, 256, 10), ff_step_batch=128, ff_step_d=10 ** 4,
        ff_scale_logL=(18, 20, 22, 24), ff_scale_d=1000,
        tr_layers=(784, 64, 10), tr_d=200, tr_n=512, tr_steps=(10, 60),
    ),
    "quick": dict(
        ff_logL=14, ff_d=500, ff_repeats=3,
        ff_step_layers=(64, 64, 10), ff_step_batch=32, ff_step_d=200,
        ff_scale_logL=(10, 12, 14, 16), ff_scale_d=100,
        tr_layers=(32, 16, 4), tr_d=20, tr_n=64, tr_steps=(2, 6),
    ),
}


# ============================================================================ case 4

def _textbook_fastfood_matvec(A, phi):
    """The Fastfood product before optimisation: numpy fancy indexing and the textbook FWHT."""
    from landscape.subspaces._fwht import _fwht_inplace
    y = np.zeros(A.L)
    y[: A.d] = phi * A.signs[: A.d]
    _fwht_inplace(y)
    y = y[A.permutation] * A.gaussian
    _fwht_inplace(y)
    return y[: A.D] * A.scale


def case_fastfood(sz, rates):
    """FWHT against memory-traffic bounds; Fastfood matvec memory; a D ~ 1e6 training step."""
    from landscape.models import MLP
    from landscape.subspaces import random_subspace
    from landscape.subspaces._fwht import _fwht_inplace, _fwht_rows_serial, fwht_rows

    sec = Section("4. Fastfood subspace map and the fast Walsh-Hadamard transform")
    L, d, rep = 2 ** sz["ff_logL"], sz["ff_d"], sz["ff_repeats"]
    x0 = np.random.default_rng(1030).standard_normal((1, L))
    x = x0.copy()
    _fwht_inplace(x[0]), _fwht_rows_serial(x), fwht_rows(x)
    t_text = measure(lambda: _fwht_inplace(x[0]), rep).best
    t_serial = measure(lambda: _fwht_rows_serial(x), rep).best
    t_par = measure(lambda: fwht_rows(x), rep).best
    a, b = x0[0].copy(), x0.copy()
    _fwht_inplace(a)
    fwht_rows(b)
    identical = bool(np.array_equal(a, b[0]))
    # same-size copy (the array and its copy stay in cache when they fit)
    src, dst = np.ones(L), np.empty(L)
    t_copy = measure(lambda: np.copyto(dst, src), rep, warmup=1).best
    m = int(np.log2(L))
    bound_textbook = m * 16 * L / rates["copy"]
    try:
        import ffht
    except ImportError:
        ffht = None
    t_ffht = measure(lambda: ffht.fht_(x[0]), rep, warmup=1).best if ffht is not None else None
    ref = "FFHT" if ffht is not None else "FFHT (not importable: -)"
    sec.add(f"One transform of length L = 2^{m} ({fmt_bytes(8 * L)}). The textbook loop reads and writes the "
            f"array once per stage (log2 L = {m} passes, {fmt_bytes(16 * m * L)}: {fmt_seconds(bound_textbook)} "
            f"at numpy's streaming copy rate of {rates['copy'] / 1e9:.1f} GB/s). The transform here is "
            f"depth-first like FFHT: blocks of 4096 entries in cache, joined by radix-8 passes, each "
            f"sub-transform done while it is in cache. A same-size copy takes {fmt_seconds(t_copy)}.")
    rows_f = [["textbook loop (one pass per stage)", fmt_seconds(t_text), fmt_ratio(t_text / bound_textbook),
               fmt_ratio(t_text / t_ffht) if t_ffht else "-"],
              ["depth-first, one thread", fmt_seconds(t_serial), fmt_ratio(t_serial / bound_textbook),
               fmt_ratio(t_serial / t_ffht) if t_ffht else "-"],
              ["depth-first, both threads (fwht_rows)", fmt_seconds(t_par), fmt_ratio(t_par / bound_textbook),
               fmt_ratio(t_par / t_ffht) if t_ffht else "-"]]
    if t_ffht:
        rows_f.append(["FFHT (ffht-unofficial, one thread)", fmt_seconds(t_ffht), fmt_ratio(t_ffht / bound_textbook),
                       "1.00x"])
    sec.add(table(["FWHT", "time (best)", "vs textbook-traffic bound", f"vs {ref}"], rows_f))
    sec.add(f"Depth-first and textbook results are bitwise identical: {identical} (same additions in the "
            f"same order; only the schedule changes). Side-by-side repeats against FFHT at several L are "
            f"in the network-scale section below.")
    if t_ffht:
        sec.summary.append(["4", f"FWHT one thread vs FFHT, L = 2^{m}", fmt_seconds(t_serial),
                            fmt_ratio(t_serial / t_ffht), "<= 1.3x", _verdict(t_serial <= 1.3 * t_ffht)])
    else:
        sec.summary.append(["4", f"FWHT, L = 2^{m}", fmt_seconds(t_par),
                            fmt_ratio(t_par / bound_textbook) + " of L log L traffic bound",
                            "near the traffic bound", _verdict(t_par <= 1.5 * bound_textbook)])

    # the map itself: time against the numpy/textbook version, and memory O(D)
    A = random_subspace(L, d, kind="fastfood", seed=0)
    phi = np.random.default_rng(1031).standard_normal(d)
    v = np.random.default_rng(1032).standard_normal(L)
    A.matvec(phi), A.rmatvec(v)
    t_mv = measure(lambda: A.matvec(phi), rep).best
    t_rmv = measure(lambda: A.rmatvec(v), rep).best
    t_old = measure(lambda: _textbook_fastfood_matvec(A, phi), max(1, rep // 2)).best
    same = bool(np.array_equal(A.matvec(phi), _textbook_fastfood_matvec(A, phi)))
    p_mv, p_rmv = peak_memory(lambda: A.matvec(phi)), peak_memory(lambda: A.rmatvec(v))
    stored = sum(a.nbytes for a in vars(A).values() if isinstance(a, np.ndarray))
    sec.add(f"Fastfood map D = L = 2^{m}, d = {d}: stores {fmt_bytes(stored)} (three length-L vectors); "
            f"a dense D x d matrix would take {fmt_bytes(8 * L * d)}.")
    sec.add(table(["", "time", "peak extra memory"], [
        ["matvec (numpy indexing + textbook FWHT)", fmt_seconds(t_old), "-"],
        ["matvec (A phi)", fmt_seconds(t_mv), f"{fmt_bytes(p_mv)} ({p_mv / (8 * L):.1f} x 8L)"],
        ["rmatvec (A^T v)", fmt_seconds(t_rmv), f"{fmt_bytes(p_rmv)} ({p_rmv / (8 * L):.1f} x 8L)"],
    ]))
    sec.add(f"The optimised matvec equals the textbook version bitwise: {same}; speed-up "
            f"{fmt_ratio(t_old / t_mv)}.")

    # one subspace training step of a model with about a million parameters
    model = MLP(list(sz["ff_step_layers"]))
    Dm, dm, nb = model.n_params, sz["ff_step_d"], sz["ff_step_batch"]
    Am = random_subspace(Dm, dm, kind="fastfood", seed=1)
    rng = np.random.default_rng(1033)
    Xb = rng.standard_normal((nb, model.n_inputs))
    yb = rng.integers(0, model.n_classes, nb)
    theta0 = model.init_params(seed=0)
    state = {"phi": np.zeros(dm)}

    def step():
        theta = theta0 + Am.matvec(state["phi"])
        loss, g = model._loss_and_grad(theta, Xb, yb)
        state["phi"] -= 0.01 * Am.rmatvec(g)
        return loss

    step()
    t_step = measure(step, max(2, rep // 2))
    p_step = peak_memory(step)
    t_grad = measure(lambda: model._loss_and_grad(theta0, Xb, yb), max(2, rep // 2)).best
    sec.add(f"One SGD step in a d = {dm} Fastfood subspace of an MLP {'-'.join(map(str, sz['ff_step_layers']))} "
            f"(D = {Dm}, L = 2^{Am.L.bit_length() - 1}), minibatch {nb}: {fmt_seconds(t_step.best)} "
            f"(median {fmt_seconds(t_step.median)}), of which the model's loss and gradient take "
            f"{fmt_seconds(t_grad)}; peak extra memory {fmt_bytes(p_step)}. The dense map would need "
            f"{fmt_bytes(8 * Dm * dm)}.")
    sec.summary.append(["4", f"Fastfood step, D = {Dm}, d = {dm}", fmt_seconds(t_step.best),
                        f"{fmt_bytes(p_step)} peak", "feasible, memory O(D)", _verdict(np.isfinite(t_step.best))])

    # scaling in L
    rows, t_f, t_m = [], [], []
    for lg in sz["ff_scale_logL"]:
        Ls = 2 ** lg
        xs = np.random.default_rng(1034).standard_normal((1, Ls))
        fwht_rows(xs)
        t_f.append(measure(lambda: fwht_rows(xs), 7).best)
        As = random_subspace(Ls, sz["ff_scale_d"], kind="fastfood", seed=2)
        ps = np.random.default_rng(1035).standard_normal(sz["ff_scale_d"])
        As.matvec(ps)
        t_m.append(measure(lambda: As.matvec(ps), 7).best)
        rows.append([f"2^{lg}", fmt_seconds(t_f[-1]), fmt_seconds(t_m[-1]),
                     fmt_ratio(t_f[-1] / (lg * 16 * Ls / rates["copy"]))])
    sizes = [2 ** lg for lg in sz["ff_scale_logL"]]
    e_f, e_m = fit_exponent(sizes, t_f), fit_exponent(sizes, t_m)
    sec.add(f"Scaling in L (d = {sz['ff_scale_d']} for the map): FWHT ~ L^{e_f:.2f}, matvec ~ L^{e_m:.2f} "
            f"(L log L gives about 1.05-1.1 over this range; beyond the L3 cache the transform "
            f"becomes memory bound).")
    sec.add(table(["L", "FWHT", "matvec", "FWHT vs L log L traffic bound"], rows))
    return sec, {"fwht_vs_L": e_f, "fastfood_matvec_vs_L": e_m}


# ============================================================================ case 5

def _torch_layout(layer_sizes):
    """Index array P with theta_torch = theta_numpy[P] (torch Linear stores W as (out, in))."""
    idx, offset = [], 0
    for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        W = np.arange(offset, offset + n_in * n_out).reshape(n_in, n_out)
        idx.append(W.T.ravel())
        offset += n_in * n_out
        idx.append(np.arange(offset, offset + n_out))
        offset += n_out
    return np.concatenate(idx)


def case_training(sz, rates):
    """Subspace training steps per second: numpy MLP vs the same network in PyTorch (CPU)."""
    sec = Section("5. Subspace training: numpy MLP vs PyTorch (CPU)")
    try:
        import torch

        from landscape.torch import TorchModel, TorchSubspaceModel
    except ImportError:
        sec.add("PyTorch is not installed (the `torch` extra): case skipped.")
        return sec, {}
    from landscape.models import MLP
    from landscape.subspaces import haar_frame

    layers, d, n = sz["tr_layers"], sz["tr_d"], sz["tr_n"]
    model = MLP(list(layers))
    D = model.n_params
    rng = np.random.default_rng(1040)
    X = rng.standard_normal((n, layers[0]))
    y = rng.integers(0, layers[-1], n)
    theta0 = model.init_params(seed=0)
    A = haar_frame(D, d, seed=1)
    P = _torch_layout(layers)
    mods = []
    for i, (n_in, n_out) in enumerate(zip(layers[:-1], layers[1:])):
        mods.append(torch.nn.Linear(n_in, n_out))
        if i < len(layers) - 2:
            mods.append(torch.nn.Tanh())
    net = torch.nn.Sequential(*mods).double()
    tmodel = TorchModel(net, input_shape=(layers[0],))
    sub = TorchSubspaceModel(tmodel, A[P], theta0=theta0[P])
    lr = 0.1

    def numpy_run(steps):
        phi = np.zeros(d)
        losses = []
        for _ in range(steps):
            loss, g = model._loss_and_grad(theta0 + A @ phi, X, y)
            phi -= lr * (A.T @ g)
            losses.append(loss)
        return np.array(losses)

    def torch_run(steps):
        return sub.train(X, y, optimizer="sgd", lr=lr, steps=steps, seed=0).loss_history

    s1, s2 = sz["tr_steps"]
    numpy_run(2), torch_run(2)
    t_np = (measure(lambda: numpy_run(s2), 2).best - measure(lambda: numpy_run(s1), 2).best) / (s2 - s1)
    t_th = (measure(lambda: torch_run(s2), 2).best - measure(lambda: torch_run(s1), 2).best) / (s2 - s1)
    diff = float(np.max(np.abs(numpy_run(s2) - torch_run(s2))))
    # the parts of a step: the two products with A, and the network's forward/backward pass
    At, phi_t = torch.from_numpy(A[P]), torch.ones(d, dtype=torch.float64)
    g_t, phi, g = torch.ones(D, dtype=torch.float64), np.ones(d), np.ones(D)
    t_np_A = measure(lambda: (A @ phi, A.T @ g), 5, warmup=1).best
    t_th_A = measure(lambda: (At @ phi_t, At.T @ g_t), 5, warmup=1).best
    t_np_net = measure(lambda: model._loss_and_grad(theta0, X, y), 5, warmup=1).best
    Xt, yt, th0 = torch.from_numpy(X), torch.from_numpy(y), torch.from_numpy(theta0[P]).requires_grad_(True)

    def torch_net():
        th0.grad = None
        tmodel.torch_loss(th0, Xt, yt).backward()

    t_th_net = measure(torch_net, 5, warmup=1).best
    threads = torch.get_num_threads()
    sec.add(f"MLP {'-'.join(map(str, layers))} (tanh, D = {D}), orthonormal subspace d = {d} (dense D x d, "
            f"the same matrix for both, rows permuted to torch's parameter layout), full batch of {n} "
            f"examples, plain SGD. Time per step from the difference between runs of {s2} and {s1} "
            f"steps (fixed costs cancel); float64 in both; torch uses {threads} threads.")
    sec.add(table(["", "time per step", "steps per second", "vs numpy"], [
        ["numpy MLP (matvec, loss_and_grad, rmatvec)", fmt_seconds(t_np), f"{1 / t_np:.0f}", "1.00x"],
        ["PyTorch (TorchSubspaceModel.train, autograd)", fmt_seconds(t_th), f"{1 / t_th:.0f}",
         fmt_ratio(t_th / t_np)],
    ]))
    sec.add(f"Both follow the same trajectory: the loss curves of the {s2}-step runs differ by at most "
            f"{diff:.1e}.")
    sec.add(table(["part of a step", "numpy", "PyTorch"], [
        [f"A phi and A^T g (D x d = {fmt_bytes(8 * D * d)} read twice)", fmt_seconds(t_np_A), fmt_seconds(t_th_A)],
        ["network: loss and gradient (forward + backward)", fmt_seconds(t_np_net), fmt_seconds(t_th_net)],
    ]))
    sec.summary.append(["5", "subspace SGD step, numpy vs torch", f"{fmt_seconds(t_np)} / {fmt_seconds(t_th)}",
                        f"torch {fmt_ratio(t_th / t_np)} the numpy time", "measured", "measured"])
    return sec, {}
