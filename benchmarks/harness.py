"""Measuring tools of the benchmark: timers, memory peaks, bandwidth probes, machine description.

Everything here is plain Python / numpy; the cases live in ``cases_*.py`` and the driver in
``run.py``. Times are wall-clock seconds of ``time.perf_counter``; each measurement is
repeated and summarised by its minimum (the least disturbed run on a shared machine) and
its median.
"""
from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass

import numpy as np

# ----------------------------------------------------------------------------- timing

@dataclass
class Timing:
    """Repeated wall-clock measurement of one callable."""

    best: float
    median: float
    repeats: int

    def __str__(self):
        return f"{fmt_seconds(self.best)} (median {fmt_seconds(self.median)}, {self.repeats} runs)"


def measure(fn, repeats=3, warmup=0):
    """Time ``fn()`` ``repeats`` times after ``warmup`` untimed calls; return a :class:`Timing`."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return Timing(min(times), statistics.median(times), len(times))


def once(fn):
    """(seconds, result) of a single call."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def peak_memory(fn):
    """Peak of the memory allocated while ``fn()`` runs, above what was allocated before (bytes).

    tracemalloc sees numpy's array buffers (numpy reports them to it), which is what the
    algorithms allocate; BLAS and numba workspaces are not included.
    """
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return max(0, peak - base)


def fit_exponent(sizes, times):
    """Least-squares slope of log(time) against log(size): time ~ size^slope."""
    x = np.log(np.asarray(sizes, dtype=float))
    y = np.log(np.asarray(times, dtype=float))
    slope, _ = np.polyfit(x, y, 1)
    return float(slope)


# ----------------------------------------------------------------------------- formatting

def fmt_seconds(t):
    if t is None or not np.isfinite(t):
        return "-"
    if t >= 1.0:
        return f"{t:.2f} s"
    if t >= 1e-3:
        return f"{t * 1e3:.1f} ms"
    return f"{t * 1e6:.0f} us"


def fmt_bytes(b):
    if b >= 2 ** 30:
        return f"{b / 2 ** 30:.2f} GiB"
    if b >= 2 ** 20:
        return f"{b / 2 ** 20:.1f} MiB"
    if b >= 2 ** 10:
        return f"{b / 2 ** 10:.0f} KiB"
    return f"{b} B"


def fmt_ratio(r):
    if r is None or not np.isfinite(r):
        return "-"
    if r >= 100:
        return f"{r:.0f}x"
    if r >= 10:
        return f"{r:.1f}x"
    return f"{r:.2f}x"


def table(header, rows):
    """A Markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


# ----------------------------------------------------------------------------- the machine

def _lscpu():
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    info = {}
    for line in text.splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            info[key.strip()] = value.strip()
    return info


def machine_description():
    """Dict of what the numbers depend on: CPU, cores, caches, memory, library versions, threads."""
    import numba
    import scipy

    cpu = _lscpu()
    desc = {
        "cpu": cpu.get("Model name", platform.processor() or "unknown"),
        "nproc": os.cpu_count(),
        "caches": ", ".join(f"{k.split()[0]} {cpu[k]}" for k in ("L1d cache", "L2 cache", "L3 cache") if k in cpu),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": f"{numba.__version__} ({numba.get_num_threads()} threads)",
    }
    try:
        desc["numba"] += f", threading layer {numba.threading_layer()}"
    except ValueError:  # no parallel kernel has run yet
        pass
    try:
        with open("/proc/meminfo") as fh:
            total_kb = int(fh.readline().split()[1])
        desc["memory"] = fmt_bytes(total_kb * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        from threadpoolctl import threadpool_info

        blas = [f"{p.get('internal_api')} {p.get('version')} ({p.get('num_threads')} threads, "
                f"{p.get('architecture', '?')})" for p in threadpool_info() if p.get("user_api") == "blas"]
        desc["blas"] = "; ".join(blas) or "unknown"
    except ImportError:
        desc["blas"] = "threadpoolctl not installed"
    try:
        import torch

        desc["torch"] = f"{torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError:
        desc["torch"] = "not installed"
    try:
        with open("/proc/loadavg") as fh:
            desc["load average at start"] = " ".join(fh.read().split()[:3])
    except OSError:
        pass
    return desc


# ----------------------------------------------------------------------------- bandwidth

def streaming_rates(n_bytes=2 ** 28, repeats=5):
    """numpy's streaming rates (bytes/s) on an array much larger than the caches.

    ``read``: ``a.sum()`` (one read stream, one thread); ``copy``: ``np.copyto`` counted as
    read plus write; ``read_2threads``: a numba ``prange`` sum over two halves, for the
    kernels that run on both cores.
    """
    a = np.ones(n_bytes // 8)
    b = np.empty_like(a)
    read = measure(a.sum, repeats, warmup=1).best
    copy = measure(lambda: np.copyto(b, a), repeats, warmup=1).best
    from _probes import parallel_sum

    parallel_sum(a[:1024])
    par = measure(lambda: parallel_sum(a), repeats, warmup=1).best
    return {"read": a.nbytes / read, "copy": 2 * a.nbytes / copy, "read_2threads": a.nbytes / par}


def run_python(code, env=None, timeout=600):
    """Run ``code`` in a fresh interpreter (same venv), return its stdout (raises on failure)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    here = os.path.dirname(os.path.abspath(__file__))
    full_env["PYTHONPATH"] = here + os.pathsep + full_env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env,
                          timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"subprocess failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout


# ----------------------------------------------------------------------------- other scripts' sections

def kept_sections(path):
    """The sections other benchmark scripts wrote into ``path`` between ``<!-- begin: NAME -->`` and
    ``<!-- end: NAME -->`` (e.g. benchmarks/sublevel_widths.py), to carry over when run.py rewrites it."""
    import re

    if not os.path.exists(path):
        return ""
    with open(path) as fh:
        text = fh.read()
    found = re.finditer(r"<!-- begin: ([\w.-]+) -->.*?<!-- end: \1 -->", text, re.S)
    return "".join("\n" + m.group(0) + "\n" for m in found)


def write_marked_section(path, mark, text):
    """Replace (or append) the section of ``path`` between ``<!-- begin: mark -->`` and
    ``<!-- end: mark -->`` (kept by run.py when it rewrites the file)."""
    import re

    block = f"<!-- begin: {mark} -->\n{text.rstrip()}\n<!-- end: {mark} -->\n"
    old = open(path).read() if os.path.exists(path) else ""
    pattern = re.compile(rf"<!-- begin: {re.escape(mark)} -->.*?<!-- end: {re.escape(mark)} -->\n?", re.S)
    new = pattern.sub(lambda m: block, old) if pattern.search(old) else old.rstrip() + "\n\n" + block
    with open(path, "w") as fh:
        fh.write(new)


def interleaved(fns, repeats, warmup=1):
    """Time each of ``fns`` (name -> callable) ``repeats`` times, interleaved round by round,
    after ``warmup`` calls each; returns name -> list of seconds."""
    for _ in range(warmup):
        for f in fns.values():
            f()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return times


def ratio_stats(num, den):
    """Median of the round-by-round ratios num[i] / den[i], with their 25-75% spread."""
    r = np.asarray(num) / np.asarray(den)
    return float(np.median(r)), float(np.percentile(r, 25)), float(np.percentile(r, 75))


def fmt_ratio_spread(stats):
    med, lo, hi = stats
    return f"{fmt_ratio(med)} ({lo:.2f}-{hi:.2f})"


def merge_cases(old, sections, summary, exponents, discussion, note):
    """An existing report with some cases re-measured: their '## N. ' sections replaced, their
    summary rows and scaling exponents replaced, the discussion replaced (when given) and
    ``note`` added after the first paragraph; everything else kept as it was."""
    import re

    cut = old.find("<!-- begin: ")  # other scripts' sections are kept verbatim
    text, kept = (old, "") if cut < 0 else (old[:cut], old[cut:])
    for key, sec in sections.items():
        pat = re.compile(rf"^## {re.escape(key)}\. .*?(?=^## |^<!-- begin: |\Z)", re.S | re.M)
        text = pat.sub(lambda m: sec.rstrip() + "\n\n", text, count=1) if pat.search(text) else text
    lines = text.split("\n")
    # summary rows: "| case | ..." rows of the re-measured cases out, new rows in, ordered by case
    try:
        i0 = lines.index("## Summary")
    except ValueError:
        i0 = None
    if i0 is not None:
        start = next(i for i in range(i0 + 1, len(lines)) if lines[i].startswith("|"))
        end = start
        while end < len(lines) and lines[end].startswith("|"):
            end += 1
        head, rows = lines[start:start + 2], lines[start + 2:end]
        keep = [r for r in rows if r.split("|")[1].strip() not in sections]
        new = ["| " + " | ".join(str(c) for c in row) + " |" for row in summary]
        merged = sorted(keep + new, key=lambda r: (r.split("|")[1].strip(),))
        lines[start:end] = head + merged
    text = "\n".join(lines)
    if exponents:
        for k, v in exponents.items():
            pat = re.compile(rf"^\| {re.escape(k)} \| [^|]* \|$", re.M)
            row = f"| {k} | {v:.2f} |"
            if pat.search(text):
                text = pat.sub(row, text)
            else:
                text = re.sub(r"(^\| quantity \| k \|\n\|---\|---\|\n(?:\|.*\|\n)*)", lambda m: m.group(1) + row + "\n",
                              text, count=1, flags=re.M)
    if discussion is not None:
        pat = re.compile(r"^## Reading the targets.*?(?=\Z)", re.S | re.M)
        text = pat.sub(lambda m: discussion.rstrip() + "\n\n", text, count=1)
    # earlier notes of re-measured cases: drop the cases measured again now, and empty notes
    def _prune(m):
        left = [c for c in m.group(1).split(", ") if c not in sections]
        return "" if not left else f"Cases {', '.join(left)} re-measured on {m.group(2)}.\n\n"

    text = re.sub(r"^Cases ([\d, ]+) re-measured on (\S+?)[ .].*?\n\n", _prune, text, flags=re.M)
    first = text.find("\n\n", text.find("Generated by"))
    if first > 0:
        text = text[:first] + "\n\n" + note + text[first:]
    return text.rstrip() + "\n\n" + kept if kept else text
