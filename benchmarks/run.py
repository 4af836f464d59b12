"""Performance benchmark of the toolkit: each case against its baseline, measured side by side.

Usage::

    python benchmarks/run.py            # full run (about 5 minutes on 2 cores), writes benchmarks/RESULTS.md
    python benchmarks/run.py --quick    # smoke run on small sizes (< 30 s), prints only
    python benchmarks/run.py --cases 1,4 --output /tmp/r.md

Cases (benchmarks/cases_geometry.py, benchmarks/cases_landscape.py):

1. Gaussian width of a point cloud against the naive ``(G @ X.T).max(1)`` and the bare
   product; the Gram-matrix route for D >> n.
2. Statistical dimension of an ellipsoidal cone (projection onto the polar cone): passes per
   sample, against one pass and one Gaussian draw, and against cvxpy (Clarabel).
3. Grouped spectra: time independent of D, same numbers as the ungrouped kernel.
4. Fastfood map: the FWHT against FFHT (when importable) and the textbook traffic bound,
   memory O(D), a training step at D ~ 1e6.
5. Subspace training, numpy MLP against the same network in PyTorch (when installed).

Plus the scaling exponents of cases 1, 2 and 4 and the numba compile times (cold cache,
warm cache, steady state), measured in fresh interpreters.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import harness  # noqa: E402
from harness import fmt_seconds, table  # noqa: E402

CASES = ("1", "2", "3", "4", "5", "compile")

_COMPILE_SNIPPET = r"""
import json, time
import numpy as np
import numba  # imported first: its own import time is not compile time
res = {}
def twice(name, f):
    t0 = time.perf_counter(); f(); t1 = time.perf_counter(); f(); t2 = time.perf_counter()
    res[name] = [t1 - t0, t2 - t1]
from geometry import Ellipsoid, EllipsoidalCone
K = EllipsoidalCone([0.5, 1.0, 2.0], [3.0, 1.0, 0.5])
draws = K._draw(4, np.random.default_rng(0))
twice("geometry._kernels.polar_batch (projection, sphere support)", lambda: K._batch(*draws, want_support=True))
E = Ellipsoid([1.0, 2.0])
twice("geometry._kernels.ellipsoid_support", lambda: E.support(np.ones((3, 2))))
from landscape.subspaces import random_subspace
from landscape.subspaces._fwht import fwht_rows
A = random_subspace(2 ** 17, 10, kind="fastfood", seed=0)
phi, v, X = np.ones(10), np.ones(2 ** 17), np.ones((2, 2 ** 16))
twice("landscape.subspaces._fwht (FWHT kernels, permutation kernels)",
      lambda: (A.matvec(phi), A.rmatvec(v), fwht_rows(X), fwht_rows(X[:1, :8].copy())))
print(json.dumps(res))
"""

_IMPORT_SNIPPET = r"""
import time
t0 = time.perf_counter()
import geometry, landscape
print(time.perf_counter() - t0)
"""


def compile_section():
    """Compile / cache-load / steady-state times of the numba kernels, in fresh interpreters."""
    sec_lines = []
    with tempfile.TemporaryDirectory() as cache:
        cold = json.loads(harness.run_python(_COMPILE_SNIPPET, env={"NUMBA_CACHE_DIR": cache}).splitlines()[-1])
    harness.run_python(_COMPILE_SNIPPET)  # make sure the on-disk cache is filled
    warm = json.loads(harness.run_python(_COMPILE_SNIPPET).splitlines()[-1])
    rows = [[name, fmt_seconds(cold[name][0]), fmt_seconds(warm[name][0]), fmt_seconds(warm[name][1])]
            for name in cold]
    t_import = float(harness.run_python(_IMPORT_SNIPPET).splitlines()[-1])
    sec_lines.append("## Compile time (numba, reported apart from steady-state times)")
    sec_lines.append("First call of each group of kernels in a fresh interpreter, on tiny inputs: with an empty "
                     "numba cache (compilation), with the on-disk cache filled (`cache=True`: loading), and "
                     "the second call (steady state at that size). Every other time in this report is "
                     "steady state, after a warm-up call.")
    sec_lines.append(table(["kernels", "first call, cold cache", "first call, cached", "second call"], rows))
    sec_lines.append(f"`import geometry, landscape` takes {fmt_seconds(t_import)} (numba is imported only "
                     f"when a kernel is first used).")
    return "\n\n".join(sec_lines) + "\n"


def _discussion():
    """What the targets mean, which bound each case hits, and why (the numbers are in the sections)."""
    return "\n".join([
        "## Reading the targets",
        "",
        "* **Case 1.** The support of a point cloud is a matrix product followed by a maximum; the "
        "kernel passes the points to BLAS transposed (no copy) and keeps one block of inner products, "
        "so it runs at the speed of the bare product, with extra memory capped at one block whatever "
        "the number of samples. End to end, the direct estimator also draws m x D Gaussians with "
        "numpy's single-threaded generator, an extra cost of about a quarter of the product that no "
        "support kernel can remove. The Gram route removes it, and D from the per-sample cost, when "
        "D >> n; `method='auto'` takes it when a flop model says it is faster.",
        "* **Case 2.** The projection is a scalar root-find per sample, and every evaluation of the "
        "secular function is a pass over the sample. Each pass now gathers the value and two "
        "derivatives of the function's sums at once, the first pass also gives the function's ends "
        "(the starting point is the root of a hyperbola through them), and the steps are Halley "
        "steps on F = sigma B - sqrt(Q), a form of the cone equation that is nearly linear; so "
        "about five passes per sample in all, where Brent's method needed about sixteen "
        "evaluations of two passes each. Its passes carry more arithmetic than a bare read, and "
        "numpy's one-thread Gaussian draw costs as much as a few passes: end to end, the estimate "
        "runs within about twice one draw plus one pass. The numbers are those of the earlier "
        "kernel to about 1e-13 (tests/test_kernels.py compares them on stored instances). Against "
        "cvxpy the kernel is two to three orders of magnitude faster per sample and agrees to "
        "rounding once the reference is polished.",
        "* **Case 3.** The grouped representation costs O(number of groups) per sample; D only enters "
        "through the degrees of freedom of the chi-square draws, whose cost does not depend on them.",
        "* **Case 4.** The FWHT is depth-first, as FFHT's: blocks of 4096 entries (32 KB) are "
        "transformed in cache (three stages in registers, then radix-8 passes over contiguous "
        "vectors), and groups of 8 (4, 2) finished sub-transforms are joined by one radix-8 (4, 2) "
        "pass while they are still in cache, so the array is streamed about log8(L/4096) + 1 "
        "times. Every entry sees the textbook additions in the textbook order (the result is "
        "bitwise the textbook's, and FFHT's). In cache the first three stages run on scalars "
        "(FFHT shuffles AVX registers there), which is most of what separates the two at small L. "
        "The Fastfood map adds a random permutation (a gather over the whole vector), and uses "
        "O(L) memory.",
        "* **Case 5.** Per step both do the same work (A phi, the network's forward and backward "
        "pass, A^T g) and follow the same trajectory; the table of parts shows where the time goes "
        "(the two products with the dense D x d matrix are memory-bound).",
        "",
    ])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke test (< 30 s); prints only")
    parser.add_argument("--cases", default=",".join(CASES),
                        help="comma-separated subset of " + ",".join(CASES))
    parser.add_argument("--output", default=None,
                        help="Markdown report path (default: benchmarks/RESULTS.md for a full run, none for --quick)")
    parser.add_argument("--update", action="store_true",
                        help="re-measure only --cases and merge them into the existing report (their sections, "
                             "summary rows and exponents replaced; the rest kept)")
    args = parser.parse_args(argv)
    wanted = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = sorted(set(wanted) - set(CASES))
    if unknown:
        parser.error(f"unknown cases {unknown}; choose from {','.join(CASES)}")
    preset = "quick" if args.quick else "full"
    output = args.output or (None if args.quick else os.path.join(HERE, "RESULTS.md"))

    import cases_geometry
    import cases_landscape

    t_start = time.perf_counter()
    print(f"benchmark ({preset}): measuring the machine's streaming rates ...", flush=True)
    rates = harness.streaming_rates(2 ** 24 if args.quick else 2 ** 28, 2 if args.quick else 5)
    runners = {
        "1": (cases_geometry.case_point_cloud, cases_geometry.SIZES),
        "2": (cases_geometry.case_ellipsoidal, cases_geometry.SIZES),
        "3": (cases_geometry.case_grouped, cases_geometry.SIZES),
        "4": (cases_landscape.case_fastfood, cases_landscape.SIZES),
        "5": (cases_landscape.case_training, cases_landscape.SIZES),
    }
    sections, summary, exponents, timings = [], [], {}, {}
    for key in [c for c in CASES if c in wanted and c != "compile"]:
        fn, sizes = runners[key]
        t0 = time.perf_counter()
        print(f"case {key} ...", flush=True)
        sec, exps = fn(sizes[preset], rates)
        timings[key] = time.perf_counter() - t0
        sections.append(sec.markdown())
        summary.extend(sec.summary)
        exponents.update(exps)
        print(sec.markdown(), flush=True)
    compile_md = ""
    if "compile" in wanted and not args.quick:
        print("compile times (fresh interpreters) ...", flush=True)
        compile_md = compile_section()
        print(compile_md, flush=True)
    total = time.perf_counter() - t_start

    machine = harness.machine_description()
    parts = [
        "# Benchmark results",
        "",
        f"Generated by `python benchmarks/run.py{' --quick' if args.quick else ''}` on "
        f"{datetime.date.today().isoformat()}; the whole run took {fmt_seconds(total)} "
        f"({', '.join(f'case {k}: {fmt_seconds(v)}' for k, v in timings.items())}). Times are the best of "
        "several runs, after a warm-up call; every baseline was computed in the same process on the same "
        "data. The machine is a shared virtual machine: absolute times of repeated full runs differed by "
        "up to a factor 2 (the textbook FWHT of length 2^20 took 11 to 22 ms on different runs, with no "
        "other process in the VM), while the ratios of a case to its same-run baseline moved much less; "
        "read the ratios first.",
        "",
        "## Machine",
        "",
        table(["", ""], [[k, v] for k, v in machine.items()] + [
            ["numpy streaming read (1 thread)", f"{rates['read'] / 1e9:.1f} GB/s"],
            ["numpy streaming copy (read + write)", f"{rates['copy'] / 1e9:.1f} GB/s"],
            ["numba streaming read (2 threads)", f"{rates['read_2threads'] / 1e9:.1f} GB/s"],
        ]),
        "",
        "## Summary",
        "",
        table(["case", "what", "measured", "ratio", "target", "verdict"], summary),
        "",
    ]
    if exponents:
        parts += ["## Scaling exponents (time ~ size^k, least squares over 4 sizes)", "",
                  table(["quantity", "k"], [[k, f"{v:.2f}"] for k, v in exponents.items()]), ""]
    parts += sections
    if compile_md:
        parts.append(compile_md)
    if not args.quick:
        parts.append(_discussion())
    report = "\n".join(parts)
    if output and args.update and os.path.exists(output):
        with open(output) as fh:
            old = fh.read()
        report = harness.merge_cases(old, {k: s_ for k, s_ in zip([c for c in CASES if c in wanted and c != "compile"],
                                                                 sections)},
                                     summary, exponents, _discussion() if not args.quick else None,
                                     f"Cases {', '.join(timings)} re-measured on {datetime.date.today().isoformat()} "
                                     f"by `python benchmarks/run.py --update --cases {','.join(timings)}` "
                                     f"({', '.join(f'case {k}: {fmt_seconds(v)}' for k, v in timings.items())}); "
                                     "the other sections are from the run described above.")
        with open(output, "w") as fh:
            fh.write(report)
        print(f"updated {output} ({fmt_seconds(total)})")
        return 0
    if output:
        report = report.rstrip() + "\n" + harness.kept_sections(output)
        with open(output, "w") as fh:
            fh.write(report)
        print(f"wrote {output} ({fmt_seconds(total)})")
    else:
        print(report)
        print(f"done in {fmt_seconds(total)} (no report written)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
