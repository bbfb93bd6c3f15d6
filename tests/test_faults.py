"""The batch against the faults of a real office (issue 11): every one ends in a Chinese message,
nothing lost, nothing misdirected, nothing left running — and a rerun ends where a clean run ends.

Real faults throughout: a tmpfs too small for the outputs, a read-only bind mount, ``chattr +i``,
a file where a unit's folder should be, two gkreport processes on one folder, SIGTERM and SIGINT
to the gkreport process alone, file names in GBK bytes, a GBK console with output redirected to a
file, a FIFO and looping links in the ``--previous`` folder. Each test compares the final outputs
with a clean run of the same inputs into another folder (``output_contents``: every file, Office
packages part by part without their creation time, JSON without its timestamps).
"""

from __future__ import annotations

import contextlib
import email
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from email import policy
from pathlib import Path

import pytest

import gkreport
from conftest import SAMPLES, needs_soffice, output_contents, write_unit_workbooks
from gkreport.batch import MANIFEST, BatchOptions, folder_names, run_batch, watch_folder
from gkreport.errors import OutputError
from gkreport.fileio import TMP_PREFIX, read_lock_info
from gkreport.formatting import filename_key

SRC = str(Path(gkreport.__file__).resolve().parents[1])
posix_only = pytest.mark.skipif(os.name != "posix", reason="需要 POSIX 的进程、信号和挂载")
NO_TRACE = "Traceback"


def env(**extra: str) -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = SRC + os.pathsep + e.get("PYTHONPATH", "")
    e["COLUMNS"] = "200"
    e.setdefault("PYTHONIOENCODING", "utf-8")
    e.update(extra)
    return e


def gk(*args: str | Path, timeout: float = 300, **extra: str) -> subprocess.CompletedProcess:
    """``python -m gkreport …`` in a process of its own; output as text (UTF-8 unless told)."""
    e = env(**extra)
    return subprocess.run(
        [sys.executable, "-m", "gkreport", *map(str, args)],
        capture_output=True,
        env=e,
        timeout=timeout,
        text=True,
        encoding=e["PYTHONIOENCODING"],
        errors="strict",
    )


def schools(folder: Path, n: int = 8) -> list[Path]:
    """``n`` units 示例市第NN中学; every fourth (03, 07 …) has the errors of the faulty sample."""
    return write_unit_workbooks(folder, [f"示例市第{i:02d}中学" for i in range(n)])


def clean_run(inp: Path, where: Path, **opts) -> dict:
    """The outputs of an uninterrupted batch of ``inp`` into a fresh folder (the reference)."""
    run_batch(BatchOptions(input_dir=inp, output_dir=where, jobs=1, **opts))
    return output_contents(where, skip=(".gkreport",))


def assert_same(out: Path, reference: dict) -> None:
    got = output_contents(out, skip=(".gkreport",))
    assert sorted(got) == sorted(reference)
    for name in reference:
        assert got[name] == reference[name], name
    assert not list(out.rglob(TMP_PREFIX + "*"))


def manifest(out: Path) -> dict:
    return json.loads((out / MANIFEST).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- mounts


@contextlib.contextmanager
def mounted(*args: str, target: Path):
    """``mount args… target`` for the block (skips the test where mounting is not allowed)."""
    target.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"不能挂载文件系统（{r.stderr.strip() or '需要 root 权限'}）")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


def remount(target: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(target)], check=True, capture_output=True)


# --------------------------------------------------------------------------- 1. a failed write is a failure


def test_a_file_where_the_unit_folder_should_be_makes_the_unit_unwritable_until_it_is_moved(tmp_path):
    inp = tmp_path / "in"
    schools(inp, 4)
    reference = clean_run(inp, tmp_path / "clean")
    out = tmp_path / "out"
    blocker = out / "2025" / "示例市第01中学"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("不是文件夹", encoding="utf-8")

    r = gk("batch", inp, "-o", out, "--jobs", "1", "--json")
    assert r.returncode == 2 and NO_TRACE not in r.stderr, r.stderr
    data = json.loads(r.stdout)
    bad = next(f for f in data["files"] if f["unit"] == "示例市第01中学")
    assert bad["status"] == "无法写出" and data["counts"]["无法写出"] == 1
    assert str(blocker) in bad["reason"] and "同名的文件" in bad["reason"]
    assert bad["outputs"] == {} and not any(f["status"] == "无法写出" for f in data["files"] if f is not bad)
    assert manifest(out)["inputs"][bad["input"]]["status"] == "无法写出"  # not recorded as done
    year = json.loads((out / "2025" / "审核报告.json").read_text(encoding="utf-8"))
    assert next(u for u in year["units"] if u["unit"] == "示例市第01中学")["status"] == "无法写出"

    r = gk("batch", inp, "-o", out, "--jobs", "1")  # the terminal table says it too, and again
    assert r.returncode == 2 and "无法写出" in r.stdout and "同名的文件" in r.stdout and NO_TRACE not in r.stderr

    blocker.unlink()
    again = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1))
    assert (again.processed, again.skipped) == (1, 3) and again.exit_code == 1  # 第03中学 has errors
    assert_same(out, reference)


def test_a_folder_where_a_unit_report_should_be_makes_the_unit_unwritable_not_a_report_inside_it(tmp_path):
    inp = tmp_path / "in"
    schools(inp, 2)
    clean = tmp_path / "clean"
    clean_run(inp, clean)
    report = next((clean / "2025" / "示例市第01中学").glob("*.docx"))
    out = tmp_path / "out"
    blocker = out / report.relative_to(clean)
    blocker.mkdir(parents=True)  # e.g. a folder made by hand and given the report's name

    r = gk("batch", inp, "-o", out, "--jobs", "1", "--json")
    assert r.returncode == 2 and NO_TRACE not in r.stderr, r.stderr
    bad = next(f for f in json.loads(r.stdout)["files"] if f["unit"] == "示例市第01中学")
    assert bad["status"] == "无法写出" and "年度报告无法写出" in bad["reason"] and str(blocker) in bad["reason"]
    assert list(blocker.iterdir()) == []  # no report hidden inside the folder, recorded under the folder's name


def test_watch_tries_a_unit_that_could_not_be_written_again(tmp_path):
    inp = tmp_path / "in"
    schools(inp, 2)
    out = tmp_path / "out"
    blocker = out / "2025" / "示例市第00中学"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("x", encoding="utf-8")
    seen: list[tuple[str, str]] = []
    rounds = {"n": 0}

    def stop() -> bool:
        rounds["n"] += 1
        if rounds["n"] == 4:
            blocker.unlink()  # the obstacle is moved away while the watch runs
        return rounds["n"] >= 6

    opts = BatchOptions(input_dir=inp, output_dir=out, jobs=1)
    watch_folder(opts, interval=0.05, on_record=lambda r: seen.append((r.unit, str(r.status))), stop=stop)
    assert seen == [("示例市第00中学", "无法写出"), ("示例市第01中学", "通过"), ("示例市第00中学", "通过")]
    assert_same(out, clean_run(inp, tmp_path / "clean"))


def test_a_rerun_skips_a_unit_only_while_its_outputs_are_the_files_written(tmp_path):
    inp = tmp_path / "in"
    schools(inp, 4)
    reference = clean_run(inp, tmp_path / "clean")
    out = tmp_path / "out"
    first = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1))
    recs = {r.unit: r for r in first.records}
    for r in first.records:  # size and digest of every output are recorded
        assert set(r.written) == {p for p in r.outputs.values() if p}
        assert all(set(info) == {"size", "sha256"} for info in r.written.values())
    docx = out / recs["示例市第00中学"].outputs["docx"]
    data = bytearray(docx.read_bytes())
    data[len(data) // 2] ^= 0xFF  # the same size, other bytes (a hand edit, a damaged copy)
    docx.write_bytes(bytes(data))
    (out / recs["示例市第01中学"].outputs["xlsx"]).unlink()
    (out / recs["示例市第02中学"].outputs["xlsx"]).write_bytes(b"shorter")
    again = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1))
    assert (again.processed, again.skipped) == (3, 1)
    # the files changed since written are kept aside as 手工修改 (never overwritten), the deleted one is not
    changed = {e["file"]: out / e["kept_as"] for e in again.hand_edited}
    assert sorted(changed) == sorted([recs["示例市第00中学"].outputs["docx"], recs["示例市第02中学"].outputs["xlsx"]])
    assert changed[recs["示例市第00中学"].outputs["docx"]].read_bytes() == bytes(data)
    assert changed[recs["示例市第02中学"].outputs["xlsx"]].read_bytes() == b"shorter"
    for kept in changed.values():
        kept.unlink()  # the user has looked at them
    third = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1))
    assert (third.processed, third.skipped) == (0, 4) and third.hand_edited == []
    assert_same(out, reference)


@pytest.mark.slow
@posix_only
def test_immutable_unit_folder_permission_denied(tmp_path):
    """``chattr +i``: not even root may create a file in the folder (EPERM)."""
    inp = tmp_path / "in"
    schools(inp, 3)
    reference = clean_run(inp, tmp_path / "clean")
    out = tmp_path / "out"
    folder = out / "2025" / "示例市第02中学"
    folder.mkdir(parents=True)
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i 不可用（需要 root 权限和支持它的文件系统）")
    try:
        r = gk("batch", inp, "-o", out, "--jobs", "2", "--json")
        assert r.returncode == 2 and NO_TRACE not in r.stderr, r.stderr
        files = {f["unit"]: f for f in json.loads(r.stdout)["files"]}
        assert files["示例市第02中学"]["status"] == "无法写出"
        assert "没有写入权限" in files["示例市第02中学"]["reason"] and str(folder) in files["示例市第02中学"]["reason"]
        assert all(f["status"] != "无法写出" for u, f in files.items() if u != "示例市第02中学")
        assert not list(out.rglob(TMP_PREFIX + "*"))
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    r = gk("batch", inp, "-o", out, "--jobs", "2", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["processed"] == 1, r.stderr
    assert_same(out, reference)


@needs_soffice
def test_pdfs_missing_for_want_of_libreoffice_are_made_once_it_is_there(tmp_path, monkeypatch):
    inp = tmp_path / "in"
    inp.mkdir()
    for name in ("示例市东城区教育局2025年统计表.xlsx", "示例市东城区市场监督管理局2025年统计表.xlsx"):
        shutil.copy(SAMPLES / name, inp)
    out = tmp_path / "out"
    r = gk("batch", inp, "-o", out, "--pdf", "--json", GKREPORT_SOFFICE=str(tmp_path / "没有这个程序"))
    assert r.returncode == 2 and NO_TRACE not in r.stderr, r.stderr
    files = json.loads(r.stdout)["files"]
    assert {f["status"] for f in files} == {"无法写出"}
    assert all("LibreOffice" in f["reason"] and "PDF" in f["reason"] for f in files)
    assert all((out / f["outputs"]["docx"]).exists() and f["outputs"]["pdf"] is None for f in files)
    assert not list(out.rglob("*.pdf"))

    monkeypatch.delenv("GKREPORT_SOFFICE", raising=False)
    again = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1, pdf=True))
    assert again.processed == 2 and again.exit_code == 0
    for rec in again.records:
        pdf = out / rec.outputs["pdf"]
        assert pdf.read_bytes().startswith(b"%PDF") and rec.written[rec.outputs["pdf"]]["size"] == pdf.stat().st_size
    clean = tmp_path / "clean"
    run_batch(BatchOptions(input_dir=inp, output_dir=clean, jobs=1, pdf=True))
    got = output_contents(out, skip=(".gkreport",))
    want = output_contents(clean, skip=(".gkreport",))
    assert sorted(got) == sorted(want)
    assert {k: v for k, v in got.items() if not k.endswith(".pdf")} == {
        k: v for k, v in want.items() if not k.endswith(".pdf")
    }  # a PDF carries its own creation time
    assert run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1, pdf=True)).skipped == 2


# --------------------------------------------------------------------------- 9. full, read-only


@pytest.mark.slow
@posix_only
def test_a_full_disk_is_named_leaves_nothing_half_written_and_the_rerun_completes(tmp_path):
    inp = tmp_path / "in"
    schools(inp, 12)
    reference = clean_run(inp, tmp_path / "clean")
    needed = sum(p.stat().st_size for p in (tmp_path / "clean").rglob("*") if p.is_file())
    with mounted("-t", "tmpfs", "-o", f"size={needed // 2 // 1024}k", "tmpfs", target=tmp_path / "out") as out:
        r = gk("batch", inp, "-o", out, "--jobs", "2", "--json")
        assert r.returncode == 2, r.stderr
        assert NO_TRACE not in r.stderr and "Exception ignored" not in r.stderr, r.stderr
        data = json.loads(r.stdout)
        failed = [f for f in data["files"] if f["status"] == "无法写出"]
        assert failed and all("磁盘空间不足" in f["reason"] and str(out) in f["reason"] for f in failed)
        assert all(f["outputs"] == {} for f in failed)
        # nothing half-written: every Office file under its final name is a complete package
        output_contents(out)
        assert not list(out.rglob(TMP_PREFIX + "*"))
        for f in data["files"]:
            if f["status"] != "无法写出":
                assert all((out / p).is_file() for p in f["outputs"].values() if p)
        if data["problems"]:  # the summary or the records did not fit either: said, not left stale
            assert all("磁盘空间不足" in p for p in data["problems"])

        remount(out, "size=64m")  # space made
        r = gk("batch", inp, "-o", out, "--jobs", "2", "--json")
        assert r.returncode == 1 and NO_TRACE not in r.stderr, r.stderr  # 第03、07、11中学 have errors
        assert_same(out, reference)


@pytest.mark.slow
@posix_only
def test_a_read_only_output_folder_is_refused_with_its_name(tmp_path):
    inp = tmp_path / "in"
    paths = schools(inp, 3)
    rw = tmp_path / "out"
    run_batch(BatchOptions(input_dir=inp, output_dir=rw, jobs=1))
    before = output_contents(rw)
    shutil.copy(SAMPLES / "示例市东城区自然资源局2025年统计表（有错误）.xlsx", paths[0])  # a changed input
    with mounted("--bind", str(rw), target=tmp_path / "ro") as ro:
        remount(ro, "bind,ro")
        r = gk("batch", inp, "-o", ro, "--jobs", "1")
        assert r.returncode == 2 and NO_TRACE not in r.stderr, r.stderr
        assert "只读" in r.stderr and str(ro) in r.stderr and "错误：" in r.stderr
        r = gk("watch", inp, "-o", ro, "--rounds", "1")
        assert r.returncode == 2 and "只读" in r.stderr and NO_TRACE not in r.stderr
    assert output_contents(rw) == before  # nothing touched
    reference = clean_run(inp, tmp_path / "clean")
    r = gk("batch", inp, "-o", rw, "--jobs", "1", "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["processed"] == 1, r.stderr
    assert_same(rw, reference)


# --------------------------------------------------------------------------- 2. one run per output folder


def _wait_for(predicate, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        time.sleep(0.05)


@pytest.mark.slow
@posix_only
def test_a_second_run_on_the_same_output_folder_waits_then_refuses_naming_the_first(tmp_path):
    inp = tmp_path / "in"
    schools(inp, 3)
    out = tmp_path / "out"
    watch = subprocess.Popen(
        [sys.executable, "-m", "gkreport", "watch", str(inp), "-o", str(out), "--interval", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env(),
    )
    try:
        _wait_for(lambda: read_lock_info(out / ".gkreport" / "lock").get("pid") == watch.pid)
        with pytest.raises(OutputError) as busy:
            run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1, lock_wait=1.0))
        assert f"进程 {watch.pid}" in busy.value.message and "watch" in busy.value.message
        assert busy.value.exit_code == 2
        t = time.monotonic()
        r = gk("batch", inp, "-o", out, "--jobs", "1")  # the command waits its ten seconds, then refuses
        assert time.monotonic() - t >= 9
        assert r.returncode == 2 and NO_TRACE not in r.stderr, r.stderr
        assert f"进程 {watch.pid}" in r.stderr and "正被另一个 gkreport 使用" in r.stderr
    finally:
        watch.send_signal(signal.SIGTERM)
        _, err = watch.communicate(timeout=60)
    assert watch.returncode == 143 and NO_TRACE not in err.decode()
    reference = clean_run(inp, tmp_path / "clean")
    assert run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1)).skipped == 3  # the watch did them
    assert_same(out, reference)


@pytest.mark.slow
@posix_only
def test_two_batches_started_together_run_one_after_the_other(tmp_path):
    """The second waits for the first (which takes a few seconds) instead of deleting its temp files."""
    inp = tmp_path / "in"
    schools(inp, 10)
    reference = clean_run(inp, tmp_path / "clean")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "gkreport", "batch", str(inp), "-o", str(out), "--jobs", "2", "--json"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env()) for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    outcomes = []
    for p, (o, e) in zip(procs, results):
        assert NO_TRACE not in e.decode(), e.decode()
        if p.returncode == 2:  # the first took longer than the wait (a loaded machine): refused, nothing done
            assert "正被另一个 gkreport 使用" in e.decode() and not o
            outcomes.append("refused")
        else:
            assert p.returncode == 1, e.decode()  # 第03、07中学 have errors
            outcomes.append(json.loads(o)["processed"])
    assert sorted(outcomes, key=str) in ([0, 10], [10, "refused"])  # one did everything; never both at once
    assert_same(out, reference)


@pytest.mark.slow
@posix_only
def test_the_lock_of_a_killed_run_is_taken_over(tmp_path):
    inp = tmp_path / "in"
    schools(inp, 40)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gkreport", "batch", str(inp), "-o", str(out), "--jobs", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env(),
        start_new_session=True,
    )
    _wait_for(lambda: read_lock_info(out / ".gkreport" / "lock").get("pid") == proc.pid)
    os.killpg(proc.pid, signal.SIGKILL)  # a power cut: no cleanup at all
    proc.wait()
    assert read_lock_info(out / ".gkreport" / "lock").get("pid") == proc.pid  # the dead run's name is left
    t = time.monotonic()
    result = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=2, lock_wait=30))
    assert time.monotonic() - t < 30 and result.exit_code == 1
    assert_same(out, clean_run(inp, tmp_path / "clean"))


# --------------------------------------------------------------------------- 10. stopping


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="需要 /proc 查看子进程")
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_to_gkreport_alone_stops_its_workers_too(tmp_path, sig, code):
    inp = tmp_path / "in"
    schools(inp, 120)  # long enough that the signal comes in the middle, even on a fast machine
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gkreport", "batch", str(inp), "-o", str(out), "--jobs", "2", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env(),
    )
    # chunks of 15: with 45 reports written, at least one chunk has come back to gkreport
    _wait_for(lambda: len(list(out.rglob("*.docx"))) >= 45)
    below = _descendants(proc.pid)
    assert len(below) >= 2  # the fork server and the workers
    proc.send_signal(sig)  # to gkreport alone, not its process group
    _out, err = proc.communicate(timeout=60)  # a reader of its output is not left hanging
    assert proc.returncode == code, err.decode()
    assert NO_TRACE not in err.decode() and ("已停止" in err.decode() or "已中断" in err.decode())
    _wait_for(lambda: not any(_alive(p) for p in below), timeout=10)
    assert not list(out.rglob(TMP_PREFIX + "*"))
    kept = manifest(out)["inputs"]
    assert kept and all(r["status"] in ("通过", "有错误") for r in kept.values())
    if sig != signal.SIGTERM:
        return  # the rerun after a stop is the same for either signal: compared once, after SIGTERM
    again = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=2))
    assert again.skipped == len(kept) and again.processed == 120 - len(kept)
    assert_same(out, clean_run(inp, tmp_path / "clean"))


# --------------------------------------------------------------------------- 3. names that meet in a file name

MEETING = [
    "碰撞局/一",
    "碰撞局_一",
    "冒号局:甲",
    "冒号局?甲",
    "尾点局.",
    "尾点局",
    "ABC局",
    "abc局",
    "ＸＹＺ科",
    "XYZ科",
    "汇总",
]


def test_units_whose_names_meet_in_a_file_name_never_share_a_file(tmp_path):
    inp = tmp_path / "in"
    write_unit_workbooks(inp, MEETING)
    out = tmp_path / "out"
    result = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=2, chunk_size=1))
    assert result.exit_code in (0, 1) and {r.unit for r in result.records} == set(MEETING)
    folders = {r.unit: Path(r.outputs["docx"]).parent for r in result.records}
    keys = [filename_key(f.name) for f in folders.values()]
    assert len(set(keys)) == len(MEETING)  # distinct even where case and width do not count
    assert filename_key(folders["汇总"].name) != filename_key("汇总")  # not the summary folder
    for name, folder in folders.items():
        plain, tagged = folder_names(name)
        assert folder.name in (plain, tagged)
    assert folders["碰撞局_一"].name == "碰撞局_一" and folders["碰撞局/一"].name != "碰撞局_一"
    assert len(result.messages) == 6 and any("“碰撞局/一”" in m and "“碰撞局_一”" in m for m in result.messages)
    assert any("“汇总”" in m and str(folders["汇总"]) in m for m in result.messages)
    # each unit's report is its own: the title names the exact unit
    from docx import Document

    for rec in result.records:
        text = "\n".join(p.text for p in Document(str(out / rec.outputs["docx"])).paragraphs)
        assert f"{rec.unit}2025年" in text.replace("\n", ""), rec.unit
    year = json.loads((out / "2025" / "审核报告.json").read_text(encoding="utf-8"))
    assert {u["unit"] for u in year["units"]} == set(MEETING)  # the exact names, for mail

    # the same folders whether the units came in one run or one after the other, in any order
    reference = clean_run(inp, tmp_path / "clean")
    step = tmp_path / "step_in"
    step.mkdir()
    order = sorted(inp.iterdir(), reverse=True)
    for p in order:
        shutil.copy(p, step / p.name)
        if p.name.endswith(("1.xlsx", "5.xlsx", "9.xlsx")):
            run_batch(BatchOptions(input_dir=step, output_dir=tmp_path / "step_out", jobs=1))
    run_batch(BatchOptions(input_dir=step, output_dir=tmp_path / "step_out", jobs=1))
    got = output_contents(tmp_path / "step_out", skip=(".gkreport",))
    assert sorted(got) == sorted(reference)
    assert {k: v for k, v in got.items() if not k.endswith(".json")} == {
        k: v for k, v in reference.items() if not k.endswith(".json")
    }
    # a unit left alone takes its plain folder back
    (step / "单位01.xlsx").unlink()  # 碰撞局_一
    alone = run_batch(BatchOptions(input_dir=step, output_dir=tmp_path / "step_out", jobs=1))
    moved = next(r for r in alone.records if r.unit == "碰撞局/一")
    assert (
        Path(moved.outputs["docx"]).parent.name == "碰撞局_一"
        and (tmp_path / "step_out" / moved.outputs["docx"]).exists()
    )
    assert run_batch(BatchOptions(input_dir=step, output_dir=tmp_path / "step_out", jobs=1)).processed == 0


@pytest.mark.slow
def test_mail_dry_run_sends_each_unit_its_own_report(tmp_path):
    inp = tmp_path / "in"
    names = ["碰撞局/一", "碰撞局_一", "ABC局", "abc局"]
    write_unit_workbooks(inp, names)
    out = tmp_path / "out"
    result = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1))
    own = {r.unit: (out / r.outputs["docx"]).read_bytes() for r in result.records}
    r = gk("mail", out, "--to", "shangji@example.gov.cn", "--dry-run", "--allow-errors")
    assert r.returncode == 0, r.stdout + r.stderr
    emls = sorted((out / "outbox").glob("*.eml"))
    assert len(emls) == len(names)
    seen = set()
    for p in emls:
        msg = email.message_from_bytes(p.read_bytes(), policy=policy.default)
        unit = next(n for n in names if f"《{n}2025年" in str(msg["Subject"]))
        docx = [a.get_content() for a in msg.iter_attachments() if a.get_filename().endswith(".docx")]
        assert docx == [own[unit]], unit
        seen.add(unit)
    assert seen == set(names)


# --------------------------------------------------------------------------- 4. another input folder


def test_another_input_folder_into_the_same_output_folder_is_refused_unless_forced(tmp_path):
    a, b = tmp_path / "A", tmp_path / "B"
    a.mkdir()
    shutil.copy(SAMPLES / "张店区科学技术局2017年政府信息公开工作情况统计表.xlsx", a)
    shutil.copy(SAMPLES / "示例市东城区教育局2025年统计表.xlsx", a)
    b.mkdir()
    shutil.copy(SAMPLES / "示例市东城区市场监督管理局2025年统计表.xlsx", b)
    out = tmp_path / "out"
    run_batch(BatchOptions(input_dir=a, output_dir=out, jobs=1))
    before = output_contents(out, skip=(".gkreport",))
    r = gk("batch", b, "-o", out, "--jobs", "1")
    assert r.returncode == 2 and NO_TRACE not in r.stderr, r.stderr
    assert str(a) in r.stderr and str(b) in r.stderr and "--force" in r.stderr
    assert output_contents(out, skip=(".gkreport",)) == before  # nothing deleted, nothing added
    with pytest.raises(OutputError):
        run_batch(BatchOptions(input_dir=b, output_dir=out, jobs=1))
    # the same folder by another spelling is the same folder
    assert run_batch(BatchOptions(input_dir=tmp_path / "B" / ".." / "A", output_dir=out, jobs=1)).skipped == 2
    # --force: B's results replace A's, and no record speaks of A any more
    r = gk("batch", b, "-o", out, "--jobs", "1", "--force", "--json")
    assert r.returncode == 0, r.stderr
    assert not (out / "2017").exists() or not list((out / "2017").rglob("*.docx"))
    assert_same(out, clean_run(b, tmp_path / "clean"))
    # …and B may now be run again without --force
    assert run_batch(BatchOptions(input_dir=b, output_dir=out, jobs=1)).skipped == 1


# --------------------------------------------------------------------------- 5. names that are not UTF-8


@posix_only
def test_file_names_in_gbk_bytes_are_read_shown_and_recorded_readably(tmp_path):
    name = "示例市东城区教育局2025年统计表.xlsx"
    gbk_in = tmp_path / "gbk"
    gbk_in.mkdir()
    raw = os.path.join(os.fsencode(gbk_in), name.encode("gbk"))  # as unzip leaves a Windows-made zip
    with open(raw, "wb") as fh:
        fh.write((SAMPLES / name).read_bytes())
    assert os.listdir(gbk_in) != [name]
    utf_in = tmp_path / "utf8"
    utf_in.mkdir()
    shutil.copy(SAMPLES / name, utf_in / name)

    out = tmp_path / "out"
    r = gk("batch", gbk_in, "-o", out, "--jobs", "1", "--json")
    assert r.returncode == 0 and NO_TRACE not in r.stderr, r.stderr
    data = json.loads(r.stdout)
    assert [f["input"] for f in data["files"]] == [name] and data["files"][0]["status"] == "通过"
    assert any("UTF-8" in m and name in m for m in data["messages"])
    assert list(manifest(out)["inputs"]) == [name]
    assert [u["input"] for u in json.loads((out / "审核报告.json").read_text(encoding="utf-8"))["units"]] == [name]
    r = gk("batch", gbk_in, "-o", out, "--jobs", "1")
    assert r.returncode == 0 and name in r.stdout and NO_TRACE not in r.stderr  # skipped, shown readably
    # the same outputs as the same file under a UTF-8 name (the records name the input folder)
    got = output_contents(out, skip=(".gkreport",))
    want = clean_run(utf_in, tmp_path / "clean")
    for k in ("审核报告.json",):
        got[k]["input_dir"] = want[k]["input_dir"] = ""
    assert got == want
    r = gk("check", os.fsdecode(raw), "--json")
    assert r.returncode == 0 and NO_TRACE not in r.stderr, r.stderr
    assert json.loads(r.stdout)[0]["file"] == str(gbk_in / name)
    r = gk("check", gbk_in)
    assert r.returncode == 0 and f"{name}：示例市东城区教育局" in r.stdout, r.stdout + r.stderr


# --------------------------------------------------------------------------- 6. consoles


@pytest.mark.slow
@posix_only
def test_a_gbk_console_with_output_in_a_file_never_stops_a_command(tmp_path):
    """Chinese Windows: the console and a redirected stdout are GBK; 䢺 and 𡐓 are not in GBK."""
    unit = "䢺𡐓镇人民政府"
    inp = tmp_path / "in"
    (path,) = write_unit_workbooks(inp, [unit])
    out = tmp_path / "out"
    gbk = {"PYTHONIOENCODING": "gbk"}

    def run(*args: str | Path) -> tuple[int, str, str]:
        with open(tmp_path / "stdout.txt", "wb") as so, open(tmp_path / "stderr.txt", "wb") as se:
            code = subprocess.run(
                [sys.executable, "-m", "gkreport", *map(str, args)], stdout=so, stderr=se, env=env(**gbk), timeout=300
            ).returncode
        return (
            code,
            (tmp_path / "stdout.txt").read_bytes().decode("gbk"),
            (tmp_path / "stderr.txt").read_bytes().decode("gbk"),
        )

    code, so, se = run("batch", inp, "-o", out, "--jobs", "1", "--json")
    assert code == 0 and NO_TRACE not in se, se
    assert json.loads(so)["files"][0]["unit"] == unit  # exact, as \u escapes
    code, so, se = run("batch", inp, "-o", out, "--jobs", "1")
    assert code == 0 and NO_TRACE not in se and "处理结果" in so, se
    code, so, se = run("check", path)
    assert code in (0, 1) and NO_TRACE not in se and "镇人民政府" in so, se
    code, so, se = run("check", path, "--json")
    assert code in (0, 1) and NO_TRACE not in se, se
    assert unit in so or unit in json.dumps(json.loads(so), ensure_ascii=False)
    code, so, se = run("mail", out, "--to", "shangji@example.gov.cn", "--dry-run")
    assert code == 0 and NO_TRACE not in se, so + se
    assert len(list((out / "outbox").glob("*.eml"))) == 1
    code, so, se = run("template", "--form", "2021", "-o", tmp_path / f"{unit}模板.xlsx")
    assert code == 0 and NO_TRACE not in se and (tmp_path / f"{unit}模板.xlsx").exists(), se


# --------------------------------------------------------------------------- 8. the --previous folder


@pytest.mark.slow
@posix_only
def test_the_previous_folder_gets_the_input_folders_guards(tmp_path):
    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copy(SAMPLES / "示例市东城区教育局2025年统计表.xlsx", inp)
    prev = tmp_path / "prev"
    prev.mkdir()
    shutil.copy(SAMPLES / "示例市东城区市场监督管理局2025年统计表.xlsx", prev / "上年.xlsx")
    os.mkfifo(prev / "管道.xlsx")  # reading it would wait for a writer for ever
    os.symlink(prev / "不存在.xlsx", prev / "失效.xlsx")
    os.symlink(prev / "循环.xlsx", prev / "循环.xlsx")
    os.symlink(prev, prev / "子文件夹")  # a link back to the folder itself
    out = tmp_path / "out"
    r = gk("batch", inp, "-o", out, "--jobs", "1", "--previous", prev, "--json", timeout=120)
    assert r.returncode == 0 and NO_TRACE not in r.stderr, r.stderr
    data = json.loads(r.stdout)
    note = next(m for m in data["messages"] if "上一年度" in m)
    assert "管道.xlsx" in note and "失效.xlsx" in note and "循环.xlsx" in note
    clean_prev = tmp_path / "clean_prev"
    clean_prev.mkdir()
    shutil.copy(prev / "上年.xlsx", clean_prev)
    assert_same(out, clean_run(inp, tmp_path / "clean", previous_dir=clean_prev))
