"""Subspace training on a GPU: step times of landscape.torch against plain torch on the same device.

Usage::

    python benchmarks/gpu.py                  # on the first CUDA device; exits 0 with a message without one
    python benchmarks/gpu.py --quick          # small sizes (a smoke run)
    python benchmarks/gpu.py --device cpu --quick   # the same measurements on the CPU (checks the script)

For each case, the baseline is plain torch on the same device, in the same dtype, on the
same data: ``theta = theta0 + P z`` with a dense (D, d) tensor P, the module called through
``torch.func.functional_call``, ``torch.optim.SGD`` on z and the loss read back every step
(``loss.item()``, as any training loop that logs it). The library's step is
``TorchSubspaceModel.train`` with the map drawn in the model's dtype on the device. Time
per step is the difference between runs of n2 and n1 steps (fixed costs cancel), after
``torch.cuda.synchronize()``; the two are measured interleaved, ``--repeats`` times, and
reported as the median ratio with its spread (min-max over repeats). Every line printed is a
ratio against that same-run baseline.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for _p in (HERE, ROOT):
    if _p not in sys.path:
        sys.path.insert(0, _p)

SIZES = {
    "full": [  # (hidden layers, d, kind, dtype)
        ((1024, 1024), 1000, "gaussian", "float32"),
        ((1024, 1024), 1000, "gaussian", "float64"),
        ((1024, 1024), 1000, "orthonormal", "float32"),
        ((1024, 1024), 1000, "sparse", "float32"),
        ((1024, 1024), 10000, "fastfood", "float32"),
        ((4096, 2048), 1000, "gaussian", "float32"),
        ((4096, 2048), 10000, "fastfood", "float32"),
    ],
    "quick": [
        ((64,), 50, "gaussian", "float32"),
        ((64,), 50, "gaussian", "float64"),
        ((64,), 50, "sparse", "float32"),
        ((64,), 50, "fastfood", "float32"),
    ],
}


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _case(layers, d, kind, dtype_name, device, batch, steps, repeats):
    import numpy as np
    import torch
    from _torch_baseline import plain_subspace_sgd

    from landscape.torch import TorchModel, TorchSubspaceModel

    dtype = getattr(torch, dtype_name)
    mods, n_in = [], 784
    for h in layers:
        mods += [torch.nn.Linear(n_in, h), torch.nn.Tanh()]
        n_in = h
    mods.append(torch.nn.Linear(n_in, 10))
    net = torch.nn.Sequential(*mods).to(device=device, dtype=dtype)
    model = TorchModel(net, input_shape=(784,))
    D = model.n_params
    rng = np.random.default_rng(2000)
    X, y = rng.standard_normal((batch, 784)), rng.integers(0, 10, batch)
    theta0 = model.init_params(seed=0)
    t0 = time.perf_counter()
    sub = TorchSubspaceModel(model, d, theta0=theta0, kind=kind, subspace_seed=1, max_dense_entries=1)
    _sync(device)
    t_build = time.perf_counter() - t0
    Xt, yt = model.prepare_data(X, y)
    gen = torch.Generator(device=device).manual_seed(3)
    P = torch.randn(D, d, generator=gen, device=device, dtype=dtype).div_(D ** 0.5)
    th0 = torch.as_tensor(theta0, device=device, dtype=dtype)
    plain = plain_subspace_sgd(net, P, th0, Xt, yt)

    threads = torch.get_num_threads()  # the plain loop's count (CPU runs): equal threads on both sides

    def ours(n):
        sub.train(Xt, yt, lr=0.01, steps=n, seed=0, threads=threads)

    def per_step(f):
        n1, n2 = steps
        _sync(device)
        t = time.perf_counter()
        f(n1)
        _sync(device)
        a = time.perf_counter() - t
        t = time.perf_counter()
        f(n2)
        _sync(device)
        b = time.perf_counter() - t
        return (b - a) / (n2 - n1)

    plain(2), ours(2)  # warm-up (kernels, caches, allocator)
    ratios, t_plain, t_ours = [], [], []
    for _ in range(repeats):
        tp, to = per_step(plain), per_step(ours)
        t_plain.append(tp)
        t_ours.append(to)
        ratios.append(to / tp)
    return dict(D=D, d=d, kind=kind, dtype=dtype_name, build=t_build, plain=statistics.median(t_plain),
                ours=statistics.median(t_ours), ratio=statistics.median(ratios), lo=min(ratios), hi=max(ratios),
                operator=sub.projection.operator.kind)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", help="torch device (default cuda)")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("gpu.py: torch is not installed (extra [torch]); nothing to measure")
        return 0
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu.py: no CUDA device available (torch.cuda.is_available() is False); nothing to measure. "
              "Run it on a machine with a GPU, or with --device cpu to check the script.")
        return 0
    preset = "quick" if args.quick else "full"
    repeats = args.repeats or (3 if args.quick else 7)
    steps = (1, 2) if args.quick else (5, 25)
    batch = 32 if args.quick else 256
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device: {device} ({name}), torch {torch.__version__}; {repeats} interleaved repeats, "
          f"time per step from runs of {steps[0]} and {steps[1]} steps, batch {batch}")
    print("| D | d | kind | dtype | operator | plain torch / step | landscape / step | ratio (median) | "
          "spread | map build |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for layers, d, kind, dtype_name in SIZES[preset]:
        r = _case(layers, d, kind, dtype_name, device, batch, steps, repeats)
        print(f"| {r['D']} | {r['d']} | {r['kind']} | {r['dtype']} | {r['operator']} | {r['plain'] * 1e3:.3f} ms | "
              f"{r['ours'] * 1e3:.3f} ms | {r['ratio']:.2f}x | {r['lo']:.2f}-{r['hi']:.2f} | {r['build']:.2f} s |",
              flush=True)
        if device.type == "cuda":
            torch.cuda.empty_cache()
    print("ratio: landscape's step over plain torch's dense step (theta0 + P z) on the same device and dtype; "
          "for fastfood and sparse maps the baseline is still the dense P of the same (D, d).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
