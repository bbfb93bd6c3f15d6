"""Crash safety: the batch killed (SIGKILL, the whole process group) at random moments, then rerun.

A power cut or "end task" on the office PC must never leave a half-written report under its
final name, a manifest that claims outputs that were never finished, temp files, or a changed
input. After ≥ 20 kills at random moments (some during ``--force`` runs that rewrite
everything) and one last uninterrupted run, every output must have the same content as an
uninterrupted reference run in another folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import gkreport
from conftest import output_contents
from gkreport.fileio import TMP_PREFIX

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not hasattr(os, "killpg"), reason="需要 POSIX 进程组")]

SRC = str(Path(gkreport.__file__).resolve().parents[1])
# SIGKILLs at random points of forced and plain runs; GKREPORT_CRASH_KILLS=50 for a longer soak
KILLS = int(os.environ.get("GKREPORT_CRASH_KILLS", "12"))


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _inputs(folder: Path) -> None:
    """Eleven units: the four 2021 samples under new names, the 2017 seed unit, and a broken file."""
    from gkreport.samples import (
        SAMPLES_2021,
        SEED_META_2017,
        SEED_NARRATIVE_2017,
        seed_values,
    )
    from gkreport.spec import load_form
    from gkreport.template import write_template

    folder.mkdir()
    form = load_form("2021")
    for i in range(9):
        s = SAMPLES_2021[i % len(SAMPLES_2021)]
        unit = s["meta"]["unit"].replace("东城区", ["东城区", "西城区", "南城区"][i // len(SAMPLES_2021)])
        meta = dict(s["meta"], unit=unit, signer=unit)
        sub = folder / ["", "甲组", "乙组"][i % 3]  # subfolders too
        sub.mkdir(exist_ok=True)
        write_template(form, sub / f"{unit}2025年统计表.xlsx", values=s["values"], meta=meta, narrative=s["narrative"])
    write_template(
        load_form("2017"),
        folder / "张店区科学技术局2017年统计表.xlsx",
        values=seed_values(),
        meta=SEED_META_2017,
        narrative=SEED_NARRATIVE_2017,
    )
    (folder / "损坏的表.xlsx").write_bytes(b"PK\x03\x04 cut off")


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _command(inp: Path, out: Path, force: bool = False) -> list[str]:
    cmd = [sys.executable, "-m", "gkreport", "batch", str(inp), "-o", str(out), "--jobs", "2", "--json"]
    return cmd + (["--force"] if force else [])


def _run(inp: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(_command(inp, out), capture_output=True, text=True, env=_env(), timeout=300)


def _outputs(folder: Path) -> dict[str, object]:
    return output_contents(folder)


def test_killed_batch_reruns_to_the_same_outputs(tmp_path, capsys):
    inp, ref, out = tmp_path / "in", tmp_path / "reference", tmp_path / "out"
    _inputs(inp)
    before = _hashes(inp)

    t = time.perf_counter()
    first = _run(inp, ref)
    duration = time.perf_counter() - t
    assert first.returncode == 2, first.stderr[-2000:]  # the broken file is reported
    t = time.perf_counter()
    _run(inp, ref)  # nothing changed: everything is skipped
    rerun = time.perf_counter() - t
    reference = _outputs(ref)
    assert sum(1 for k in reference if k.endswith(".docx")) == 10

    rng = random.Random(20250601)
    kills = runs = mid_write = 0
    t = time.perf_counter()
    while kills < KILLS and runs < 3 * KILLS:
        runs += 1
        force = rng.random() < 0.5  # a forced run rewrites every output: kills land mid-write
        delay = rng.uniform(0.3, 0.97) * (duration if force or runs == 1 else rerun)
        proc = subprocess.Popen(
            _command(inp, out, force),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=_env(),
            start_new_session=True,
        )
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the whole group: the parent, the forkserver, the workers
            kills += 1
        proc.wait()
        _wait_for_group(proc.pid)
        mid_write += bool(list(out.rglob(TMP_PREFIX + "*")))  # killed while an output was being written
    kill_seconds = time.perf_counter() - t

    last = _run(inp, out)
    assert last.returncode == 2, last.stderr[-2000:]
    assert "Traceback" not in last.stderr
    result = json.loads(last.stdout)
    assert {f["status"] for f in result["files"]} <= {"通过", "有提示", "有错误", "无法读取"}

    with capsys.disabled():
        print(
            f"\ncrash: {kills} SIGKILL interruptions in {runs} runs ({mid_write} left a temp file behind) "
            f"in {kill_seconds:.0f} s; an uninterrupted run takes {duration:.1f} s, a rerun {rerun:.1f} s"
        )
    assert kills >= KILLS
    assert not list(out.rglob(TMP_PREFIX + "*"))
    got = _outputs(out)
    manifest = got.pop(".gkreport/manifest.json")
    ref_manifest = dict(reference).pop(".gkreport/manifest.json")
    expected = {k: v for k, v in reference.items() if k != ".gkreport/manifest.json"}
    assert sorted(got) == sorted(expected)
    for name in expected:
        assert got[name] == expected[name], name
    # the manifest claims exactly what the reference claims, and every claimed output exists
    assert manifest["inputs"].keys() == ref_manifest["inputs"].keys()
    for rel, rec in manifest["inputs"].items():
        assert rec["outputs"] == ref_manifest["inputs"][rel]["outputs"]
        assert rec["hash"] == ref_manifest["inputs"][rel]["hash"]
        assert all((out / p).is_file() for p in rec["outputs"].values() if p)
    assert _hashes(inp) == before  # inputs untouched


def _wait_for_group(pgid: int) -> None:
    """Until every process of the killed group is gone (a zombie of the group would still own files)."""
    for _ in range(200):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)
