"""The benchmark script must not rot: run it at its smoke size (no timing is asserted)."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_benchmark_script_runs_in_quick_mode():
    res = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "run.py"), "--quick"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "Summary" in res.stdout or "summary" in res.stdout.lower()


def test_gpu_script_without_a_gpu_exits_cleanly_and_runs_on_the_cpu():
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")  # its "no GPU" mode, whatever the machine
    script = os.path.join(ROOT, "benchmarks", "gpu.py")
    res = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "no CUDA device" in res.stdout
    # the measuring code itself, on the CPU at smoke size
    res = subprocess.run([sys.executable, script, "--device", "cpu", "--quick", "--repeats", "1"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.count("x |") == 4, res.stdout


def test_sublevel_widths_benchmark_runs_in_quick_mode():
    res = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "sublevel_widths.py"), "--quick",
                          "--workers", "1"], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "direct D - w^2" in res.stdout and "measured / direct" in res.stdout


def test_scale_benchmark_runs_in_quick_mode():
    script = os.path.join(ROOT, "benchmarks", "scale.py")
    res = subprocess.run([sys.executable, script, "--quick", "--parts", "haar,fwht"], capture_output=True,
                         text=True, timeout=300, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "Exact (Haar) maps" in res.stdout and "FWHT" in res.stdout


def test_learning_coefficient_benchmark_runs_in_quick_mode():
    res = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "learning_coefficient.py"), "--quick"],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "coverage (t)" in res.stdout and "exact (localised)" in res.stdout
