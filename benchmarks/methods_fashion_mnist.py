"""Random, burn-in and lottery subspaces and lottery tickets: Conv-2 on Fashion-MNIST.

The method comparison of Larsen et al. (2022) at the paper's protocol: the Conv-2 network
of the reference code (two 3x3 convolutions with 16 and 32 channels, each followed by ReLU
and 2x2 average pooling, then a dense layer to 10 classes; D = 20490), trained for 3
epochs with batch 128; Adam with lr 5e-2 on the subspace coordinates (random subspaces
through theta_0 and through burn-in points theta_t, and lottery subspaces), lottery tickets
at the reference protocol (``TicketProtocol(prunable="all")``: 2 epochs of pre-training,
global magnitude pruning of every parameter, rewind to theta_0, momentum SGD with the
0.1 / 0.03 / 0.01 / 0.003 schedule); d = 2^0, ..., 2^12 trainable degrees of freedom,
2 seeds. Full-space runs (burn-in, the lottery trajectory, the baseline) use Adam with
lr 1e-3. Random maps are Fastfood maps (a dense D x 4096 orthonormal frame would take
0.7 GB and minutes of QR per run).

Every run goes to a result store (``--store``, default ``benchmarks/_runs_methods_fmnist``),
so the benchmark can be stopped at any moment and run again: it resumes with the missing
runs. It is long on 2 cores (about a minute per run, ~130 runs), so it runs in parts:

    python benchmarks/methods_fashion_mnist.py --budget-minutes 60   # stop submitting after an hour
    python benchmarks/methods_fashion_mnist.py --part 2/4            # the second quarter of the grid
    python benchmarks/methods_fashion_mnist.py --report-only         # figure and report from the store
    python benchmarks/methods_fashion_mnist.py --quick               # smoke size (~1 minute)

Each invocation writes the figure (``methods_fashion_mnist.png``) and the report
(``methods_fashion_mnist.md``: what ran, thresholds, wall time of this invocation, mean time
per run of each method and the projected wall time of the whole grid), and with
``--results`` replaces its section of ``benchmarks/RESULTS.md``.
"""
from __future__ import annotations

import argparse
import functools
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
import multiprocessing

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for _p in (ROOT, HERE):
    if _p not in sys.path:
        sys.path.insert(0, _p)

# this script's section of RESULTS.md (benchmarks/run.py keeps it: harness.kept_sections)
MARK = "methods_fashion_mnist"
BEGIN, END = f"<!-- begin: {MARK} -->", f"<!-- end: {MARK} -->"


import torch  # noqa: E402


class Conv2(torch.nn.Module):
    """The reference code's Conv-2 ("TinyCNN", channels [16, 32], 'SAME' padding)."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(16, 32, 3, padding=1)
        self.fc = torch.nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        f = torch.nn.functional
        x = f.avg_pool2d(f.relu(self.conv1(x)), 2)
        x = f.avg_pool2d(f.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


def make_model():
    """Conv-2 as a TorchModel (float32), built the same way every time (its spec is part of the
    store's protocol)."""
    from landscape.torch import TorchModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = Conv2()
    return TorchModel(net, input_shape=(1, 28, 28), eval_batch_size=2000)


def _worker_init():
    torch.set_num_threads(1)


def cells(ds, burn_in):
    """The grid, one cell (kind, t, d) per sweep call, ordered coarse to fine in d so that a
    partial run already covers every method's whole range."""
    order, seen = [], set()
    levels = [ds[0], ds[-1]]
    queue = [(0, len(ds) - 1)]
    while queue:  # bisection order of the indices
        lo, hi = queue.pop(0)
        if hi - lo > 1:
            mid = (lo + hi) // 2
            levels.append(ds[mid])
            queue += [(lo, mid), (mid, hi)]
    for d in levels:
        if d in seen:
            continue
        seen.add(d)
        order.append(d)
    out = []
    for d in order + [d for d in ds if d not in seen]:
        out += [("random", 0, d)] + [("random", t, d) for t in burn_in] + [("lottery", 0, d), ("ticket", 0, d)]
    return out


def run_cell(cell, model, data, args, common, executor, first):
    from landscape.experiments.sweeps import sweep

    kind, t, d = cell
    kw = dict(common, kinds=(kind,), include_full=first, executor=executor, progress=False)
    if kind == "ticket":
        kw["rewind"] = (t,)
    else:
        kw["burn_in"] = (t,)
    return sweep(model, data, [d], args.seeds, **kw)


def _invocations(store):
    """The records of earlier invocations (wall time, CPU time of the workers, runs executed)."""
    import json

    path = os.path.join(store, "invocations.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _log_invocation(store, wall, executed):
    """Append this invocation's wall time, its workers' CPU time (getrusage of the reaped
    children) and the number of runs it executed to ``<store>/invocations.jsonl``."""
    import json
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    rec = {"date": time.strftime("%Y-%m-%d %H:%M"), "wall_s": round(wall, 1),
           "worker_cpu_s": round(ru.ru_utime + ru.ru_stime, 1), "executed": int(executed),
           "load_avg": round(os.getloadavg()[0], 1)}
    with open(os.path.join(store, "invocations.jsonl"), "a") as fh:
        fh.write(json.dumps(rec) + "\n")


def report(table, args, wall, n_cells_done, grid, D, executed, steps):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from landscape.plots import plot_methods
    from landscape.thresholds.methods import method_thresholds

    lines = [BEGIN, "## Method comparison: Conv-2 on Fashion-MNIST (`benchmarks/methods_fashion_mnist.py`)", ""]
    n_total = sum(args.seeds for _ in grid) + args.seeds
    lines += [f"Conv-2 (D = {D}), {args.n_train or 60000} training images, {steps} steps of batch 128 "
              f"(3 epochs), Adam 5e-2 on the subspace coordinates, full-space runs Adam 1e-3, tickets at the "
              f"reference protocol (prunable: all parameters); d = 2^0..2^{args.max_log2_d}, {args.seeds} seeds; "
              f"burn-in t = {list(args.burn_in)}.", ""]
    lines.append(f"Runs in the store: {len(table)} of {n_total}" + (" (report only)." if args.report_only else
                 f" ({executed} executed by this invocation, in {wall / 60:.1f} min with {args.workers} worker "
                 "processes)."))
    if len(table):
        per = {}
        for kind in ("full", "random", "lottery", "ticket"):
            sub = table.select(kind=kind)
            if len(sub):
                per[kind] = float(np.nanmean(sub["wall_time"]))
        done = {(r["kind"], r["t"], r["d"], r["seed"]) for r in table.to_records()}
        remaining = 0.0
        for kind, t, d in grid:
            for s in range(args.seeds):
                if (kind, t, d, s) not in done:
                    remaining += per.get(kind, max(per.values()))
        for s in range(args.seeds):
            if ("full", 0, D, s) not in done:
                remaining += per.get("full", max(per.values()))
        total = float(np.nansum(table["wall_time"])) + remaining
        lines += ["", "| kind | runs stored | mean wall time per run (1 core) |", "|---|---|---|"]
        for kind, v in per.items():
            lines.append(f"| {kind} | {len(table.select(kind=kind))} | {v:.1f} s |")
        lines += ["", f"Projected wall time of the whole grid: {total / 3600:.2f} core-hours, about "
                      f"{total / 3600 / args.workers:.2f} h on {args.workers} cores (sum of the stored runs' "
                      f"wall times plus the missing runs at their method's mean); still to run: "
                      f"{remaining / 3600 / args.workers:.2f} h. Wall times count the waits of a shared "
                      "machine: see the CPU time below.", ""]
        notes = os.path.join(args.store, "NOTES.md")  # what a person observed about past invocations
        if os.path.exists(notes):
            lines += [open(notes).read().strip(), ""]
        inv = _invocations(args.store)
        cpu, runs = sum(r["worker_cpu_s"] for r in inv), sum(r["executed"] for r in inv)
        if runs:
            lines += [f"CPU time of the worker processes: {cpu / 60:.1f} min for {runs} runs in {len(inv)} "
                      f"invocation(s), {cpu / runs / 60:.1f} min per run (load averages at the end: "
                      f"{', '.join(str(r['load_avg']) for r in inv)}); at that cost the whole grid of {n_total} runs "
                      f"takes {cpu / runs * n_total / 3600:.2f} CPU-hours, about "
                      f"{cpu / runs * n_total / 3600 / args.workers:.2f} h on {args.workers} idle cores.", ""]
        methods = table.select(kind=["random", "lottery", "ticket"])
        if len(methods):
            lines += [f"Thresholds d* at {args.metric} >= {args.level} (interpolation, with the 95% interval of "
                      "`threshold_dimension`; bracket = tested d around the crossing):", "",
                      "| method | d* [95% interval] | bracket |", "|---|---|---|"]
            for label, est in method_thresholds(table, args.metric, args.level, seed=0).items():
                lines.append(f"| {label} | {est.summary()} | {est.bracket} |")
            fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 4.8))
            plot_methods(table, args.level, ax=a1, metric=args.metric, y="metric")
            plot_methods(table, args.level, ax=a2, metric=args.metric)
            fig.suptitle(f"Conv-2 on Fashion-MNIST, D = {D}: four ways of cutting the degrees of freedom "
                         f"({args.seeds} seeds)", fontsize="medium")
            fig.tight_layout()
            fig.savefig(args.figure, dpi=100)
            plt.close(fig)
            rel = os.path.relpath(args.figure, HERE)
            lines += ["", f"![methods]({rel})", ""]
    lines.append(END)
    text = "\n".join(lines) + "\n"
    with open(args.report, "w") as fh:
        fh.write(text)
    if args.results:
        from harness import write_marked_section

        write_marked_section(os.path.join(HERE, "RESULTS.md"), MARK, text[len(BEGIN):-len(END) - 1])
    return text


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", default=os.path.join(HERE, "_runs_methods_fmnist"))
    ap.add_argument("--part", default=None, help="k/n: run the k-th of n interleaved parts of the grid")
    ap.add_argument("--budget-minutes", type=float, default=None,
                    help="stop submitting new cells after this many minutes (runs in flight finish)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--max-log2-d", type=int, default=12)
    ap.add_argument("--burn-in", type=int, nargs="*", default=[16, 128])
    ap.add_argument("--n-train", type=int, default=None, help="a random subset of the training images")
    ap.add_argument("--metric", default="test_acc")
    ap.add_argument("--level", type=float, default=0.8)
    ap.add_argument("--figure", default=os.path.join(HERE, "methods_fashion_mnist.png"))
    ap.add_argument("--report", default=os.path.join(HERE, "methods_fashion_mnist.md"))
    ap.add_argument("--results", action="store_true", help="also replace this benchmark's section of RESULTS.md")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--quick", action="store_true",
                    help="smoke size: 2000 images, d up to 2^6, one burn-in t, one seed, a temporary store")
    args = ap.parse_args(argv)

    from landscape.experiments.lottery_tickets import TicketProtocol
    from landscape.experiments.result_store import ResultStore
    from landscape.models.datasets import load_fashion_mnist

    if args.quick:
        import tempfile

        args.n_train, args.max_log2_d, args.burn_in, args.seeds = 2000, 6, [8], 1
        tmp = tempfile.mkdtemp()
        args.store = os.path.join(tmp, "runs")
        if args.figure == os.path.join(HERE, "methods_fashion_mnist.png"):
            args.figure = os.path.join(tmp, "methods.png")
        if args.report == os.path.join(HERE, "methods_fashion_mnist.md"):
            args.report = os.path.join(tmp, "methods.md")
    data_fn = functools.partial(load_fashion_mnist, n_train=args.n_train, n_test=None if not args.quick else 1000)
    data = data_fn()
    model = make_model()
    D = model.n_params
    steps = 3 * math.ceil(data.n_train / 128)
    common = dict(optimizer="adam", lr=5e-2, full_lr=1e-3, steps=steps, batch_size=128, basis="fastfood",
                  ticket=None, store=args.store)
    ds = [2 ** k for k in range(args.max_log2_d + 1)]
    grid = cells(ds, args.burn_in)
    if args.part:
        k, n = (int(x) for x in args.part.split("/"))
        if not 1 <= k <= n:
            raise SystemExit(f"--part must be k/n with 1 <= k <= n, got {args.part}")
        mine = grid[k - 1::n]
    else:
        mine = grid
    ticket = TicketProtocol(prunable="all")
    t0 = time.perf_counter()
    executed = 0
    before = len(ResultStore(args.store)) if os.path.isdir(args.store) else 0
    if not args.report_only:
        torch.set_num_threads(1)
        with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_worker_init) as ex:
            for i, cell in enumerate(mine):
                if args.budget_minutes is not None and time.perf_counter() - t0 > 60 * args.budget_minutes:
                    print(f"budget of {args.budget_minutes} min reached after {i} of {len(mine)} cells", flush=True)
                    break
                c0 = time.perf_counter()
                kw = dict(common, ticket=ticket if cell[0] == "ticket" else None)
                run_cell(cell, model, data_fn, args, kw, ex, first=(i == 0))
                print(f"[{(time.perf_counter() - t0) / 60:6.1f} min] cell {i + 1}/{len(mine)} {cell}: "
                      f"{time.perf_counter() - c0:.0f} s", flush=True)
    store = ResultStore(args.store)
    table = store.table()
    executed = len(table) - before
    if not args.report_only:
        _log_invocation(args.store, time.perf_counter() - t0, executed)
    text = report(table, args, time.perf_counter() - t0, None, grid, D, executed, steps)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
