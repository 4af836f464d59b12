"""Hostile and broken files (issue 9): every file of :mod:`hostile_corpus`, loaded through
its API and through the command line's ``main``, in a subprocess whose address space a load
may grow by at most 256 MB and which may spend at most 5 CPU seconds per load.

Expected: no crash of the process, no payload run (no marker file), a ValueError /
TypeError / UnpicklingError / FileNotFoundError whose message names the file and stays short,
and from the command line exit status 2 with one line ``error: ...`` and no traceback.
"""
import json
import os
import subprocess
import sys

import pytest

import hostile_corpus

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
#: files that are valid for the API (an empty table) but give no threshold on the command line
API_MAY_LOAD = {"csv_header_only.csv"}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    directory = tmp_path_factory.mktemp("hostile")
    files, marker = hostile_corpus.write_corpus(str(directory))
    jobs = directory / "jobs.json"
    jobs.write_text(json.dumps(files))
    out = directory / "outcomes.jsonl"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, HERE, os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, os.path.join(HERE, "hostile_corpus.py"), str(jobs), str(out)],
                          capture_output=True, text=True, timeout=900, env=env, cwd=str(directory))
    lines = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    last = lines[-1] if lines else None
    assert proc.returncode == 0, (f"the loader process died (status {proc.returncode}) while loading "
                                  f"{last}: {proc.stderr[-3000:]}")
    return {(r["path"], r["mode"]): r for r in lines if "status" in r}, files, marker


def test_every_file_was_tried(outcomes):
    results, files, marker = outcomes
    assert len(files) > 150
    for path, loader in files:
        assert (path, "api") in results, path
        if loader in hostile_corpus.CLI_ARGS:
            assert (path, "cli") in results, path


def test_no_payload_ran(outcomes):
    _, _, marker = outcomes
    assert not os.path.exists(marker)


def test_api_gives_a_clear_error(outcomes):
    results, files, _ = outcomes
    bad = []
    for path, loader in files:
        r = results[(path, "api")]
        name = os.path.basename(path)
        ok = (r["status"] == "error" and name in r["msg"] and len(r["msg"]) < 600) or \
            (name in API_MAY_LOAD and r["status"] == "ok")
        if not ok:
            bad.append(f"{name}: {r['status']} {r['kind']}: {str(r['msg'])[:300]}")
    assert not bad, "\n".join(bad)


def test_cli_exits_2_with_one_line(outcomes):
    results, files, _ = outcomes
    bad = []
    for path, loader in files:
        if loader not in hostile_corpus.CLI_ARGS:
            continue
        r = results[(path, "cli")]
        lines = r["stderr"].strip().splitlines()
        ok = (r["status"] == "ok" and r["kind"] == 2 and len(lines) == 1 and lines[0].startswith("error: ")
              and "Traceback" not in r["stderr"] and len(lines[0]) < 700)
        if not ok:
            bad.append(f"{os.path.basename(path)}: {r['status']} {r['kind']} {r['msg']!r:.200} "
                       f"stderr={r['stderr'][-400:]!r}")
    assert not bad, "\n".join(bad)


def test_the_command_line_process_on_hostile_files(outcomes):
    """The same contract from a real ``python -m landscape`` process (one pickle that
    crashed the loader before, one zip bomb)."""
    _, files, marker = outcomes
    paths = {os.path.basename(p): p for p, _ in files}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    for name, loader in (("object_field_flags0_reconstruct.pkl", "runs"), ("zip_bomb_64MB.npz", "spectrum")):
        res = subprocess.run([sys.executable, "-m", "landscape", *hostile_corpus.CLI_ARGS[loader](paths[name])],
                             capture_output=True, text=True, timeout=600, env=env)
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2, res.stderr[-2000:]
        assert len(lines) == 1 and lines[0].startswith("error: ") and name in lines[0], res.stderr
    assert not os.path.exists(marker)


def test_the_messages_the_issue_named_are_clear(outcomes):
    """The confusing messages of issue 9 section 3, now saying what is wrong."""
    results, files, _ = outcomes
    paths = {os.path.basename(p): p for p, _ in files}

    def cli(name):
        return results[(paths[name], "cli")]["stderr"]

    assert "single .npy array" in cli("npy_file_not_npz.npz")
    assert "not an .npz archive" in cli("csv_text.npz") and "allow_pickle" not in cli("csv_text.npz")
    assert "holds no runs" in cli("csv_header_only.csv")
    assert "column 'd'" in cli("json_d_1e300.json")
    assert "is not an .npy array" in cli("npz_member_not_npy.npz")
    assert "refusing" in cli("p2_os_system.pkl")
    assert "not UTF-8" in cli("store_non_utf8") and "line 2" in cli("store_non_utf8")
