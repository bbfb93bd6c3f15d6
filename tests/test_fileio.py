"""Safe writing: atomic files whose temp names say who writes them, cleanup that spares live
processes, why a write failed, and the lock that lets one process at a time work on a folder."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import gkreport
from gkreport import fileio
from gkreport.fileio import (
    HOST_TAG,
    TMP_PREFIX,
    FolderBusy,
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    clean_temp_files,
    digest_of,
    file_digest,
    folder_lock,
    fs_clock,
    os_reason,
    pid_alive,
    read_lock_info,
    settled_stamp,
    unchanged_by_stamp,
)

SRC = str(Path(gkreport.__file__).resolve().parents[1])

posix_only = pytest.mark.skipif(os.name != "posix", reason="需要 POSIX 进程和信号")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temp_file_names_its_host_and_process(tmp_path):
    seen = []
    with atomic_path(tmp_path / "a.xlsx") as tmp:
        seen.append(tmp.name)
        tmp.write_bytes(b"x")
    assert seen[0].startswith(f"{TMP_PREFIX}{HOST_TAG}-{os.getpid()}-") and seen[0].endswith(".xlsx")
    assert [p.name for p in tmp_path.iterdir()] == ["a.xlsx"]


def test_cleanup_spares_the_files_of_live_processes(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = _dead_pid()
        live_file = tmp_path / f"{TMP_PREFIX}{HOST_TAG}-{sleeper.pid}-abc.docx"
        mine = tmp_path / "sub" / f"{TMP_PREFIX}{HOST_TAG}-{os.getpid()}-abc.xlsx"
        dead_file = tmp_path / "sub" / f"{TMP_PREFIX}{HOST_TAG}-{dead}-abc.xlsx"
        older_version = tmp_path / f"{TMP_PREFIX}k2j3h4.xlsx"  # names written before owners were recorded
        foreign_young = tmp_path / f"{TMP_PREFIX}0badc0de-123-abc.xlsx"  # another computer, writing now
        foreign_old = tmp_path / f"{TMP_PREFIX}0badc0de-124-abc.xlsx"
        for p in (live_file, mine, dead_file, older_version, foreign_young, foreign_old):
            p.parent.mkdir(exist_ok=True)
            p.write_bytes(b"x")
        day_ago = time.time() - fileio.FOREIGN_TEMP_AGE - 60
        os.utime(foreign_old, (day_ago, day_ago))
        assert pid_alive(sleeper.pid) and not pid_alive(dead)
        assert clean_temp_files(tmp_path) == 3
        assert live_file.exists() and mine.exists() and foreign_young.exists()
        assert not dead_file.exists() and not older_version.exists() and not foreign_old.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.parametrize(
    "code, words",
    [
        (errno.ENOSPC, "磁盘空间不足"),
        (errno.EROFS, "只读"),
        (errno.EACCES, "没有写入权限"),
        (errno.EPERM, "没有写入权限"),
        (errno.ENOTDIR, "同名的文件"),
        (errno.EEXIST, "同名的文件"),
    ],
)
def test_os_reason_says_why_in_chinese(code, words):
    exc = OSError(code, os.strerror(code))
    if code in (errno.EACCES, errno.EPERM):
        exc = PermissionError(code, os.strerror(code))
    assert words in os_reason(exc)


def test_a_real_full_disk_is_named(tmp_path):
    """/dev/full answers every write with ENOSPC."""
    if not Path("/dev/full").exists():
        pytest.skip("没有 /dev/full")
    with pytest.raises(OSError) as info, open("/dev/full", "wb") as fh:
        fh.write(b"x" * 10000)
        fh.flush()
    assert "磁盘空间不足" in os_reason(info.value)


def test_file_digest_is_size_and_sha256(tmp_path):
    p = atomic_write_text(tmp_path / "x.json", "一二三")
    assert file_digest(p) == {"size": 9, "sha256": __import__("hashlib").sha256("一二三".encode()).hexdigest()}


def test_atomic_writes_make_a_missing_folder_and_leave_nothing_behind_when_they_fail(tmp_path, monkeypatch):
    data = "年度报告".encode() * 5000
    target = tmp_path / "2025" / "某某局" / "年度报告.docx"
    assert atomic_write_bytes(target, data) == target and target.read_bytes() == data
    assert digest_of(data) == file_digest(target)  # what the batch records without reading the file back
    with atomic_path(tmp_path / "new" / "表.xlsx") as tmp:
        tmp.write_bytes(b"x")
    assert (tmp_path / "new" / "表.xlsx").read_bytes() == b"x"
    # a writer that fails, a sync that fails: the file stays as it was and no temp file is left
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("stopped")

    def no_sync(fd: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "fsync", no_sync)
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == data
    assert [p.name for p in target.parent.iterdir()] == ["年度报告.docx"]
    monkeypatch.undo()
    (tmp_path / "blocked").write_bytes(b"")  # a file where the folder should be
    with pytest.raises(OSError):
        atomic_write_bytes(tmp_path / "blocked" / "x.docx", b"x")
    assert (tmp_path / "blocked").read_bytes() == b""


def _holder(lock: Path, *, wait: bool = True) -> subprocess.Popen:
    code = (
        "import sys, time\n"
        "from gkreport.fileio import folder_lock\n"
        f"with folder_lock({str(lock)!r}, what='gkreport batch in -o out'):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n"
    )
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


@posix_only
def test_lock_is_exclusive_names_its_holder_and_is_taken_over_when_it_dies(tmp_path):
    lock = tmp_path / ".gkreport" / "lock"
    proc = _holder(lock)
    try:
        info = read_lock_info(lock)
        assert info["pid"] == proc.pid and info["command"] == "gkreport batch in -o out" and info["host"]
        t = time.monotonic()
        with pytest.raises(FolderBusy) as busy, folder_lock(lock, wait=0.5):
            pass
        assert time.monotonic() - t >= 0.5  # it waited before refusing
        assert busy.value.holder["pid"] == proc.pid
        assert "进程" in fileio.describe_holder(busy.value.holder)
    finally:
        proc.send_signal(signal.SIGKILL)  # dies holding it: the lock file still names it
        proc.wait()
    assert read_lock_info(lock)["pid"] == proc.pid
    with folder_lock(lock, wait=0) as mine:  # a dead holder's lock is taken over at once
        assert mine["pid"] == os.getpid() and read_lock_info(lock)["pid"] == os.getpid()
    assert read_lock_info(lock) == {}  # released: no stale name left


def test_lock_nests_only_when_asked(tmp_path):
    lock = tmp_path / "lock"
    with folder_lock(lock, reentrant=True), folder_lock(lock, reentrant=True):
        assert json.loads(lock.read_text(encoding="utf-8"))["pid"] == os.getpid()
    with folder_lock(lock), pytest.raises(FolderBusy), folder_lock(lock):
        pass


def test_lock_in_a_folder_that_cannot_be_created_is_an_os_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError), folder_lock(tmp_path / "file" / "lock"):
        pass


@pytest.fixture
def umask():
    """Set the process's umask for a test; the previous one is restored after it."""
    before = os.umask(0o022)
    os.umask(before)
    yield os.umask
    os.umask(before)


@posix_only
@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_get_the_users_ordinary_permissions(tmp_path, umask, mask, mode):
    umask(mask)
    assert fileio.new_file_mode() == mode
    text = atomic_write_text(tmp_path / "审核报告.json", "{}")
    assert text.stat().st_mode & 0o777 == mode
    with atomic_path(tmp_path / "a.bin") as tmp:
        assert tmp.stat().st_mode & 0o777 == mode  # already while it is written: a writer reopening it keeps it
        tmp.write_bytes(b"x")
    assert (tmp_path / "a.bin").stat().st_mode & 0o777 == mode
    (tmp_path / "plain").write_bytes(b"")  # what open() gives: the same
    assert (tmp_path / "plain").stat().st_mode & 0o777 == mode


@posix_only
def test_umask_is_read_without_the_proc_file(tmp_path, umask, monkeypatch):
    umask(0o002)
    real_open = open

    def no_proc(path, *args, **kwargs):
        if str(path).startswith("/proc/"):
            raise FileNotFoundError(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", no_proc)
    assert fileio.current_umask() == 0o002
    assert os.umask(0o002) == 0o002  # left as it was


@posix_only
def test_a_stamp_settles_only_before_the_clock_and_any_change_after_it_breaks_it(tmp_path):
    p = tmp_path / "a.xlsx"
    p.write_bytes(b"x" * 100)
    clock = fs_clock(tmp_path)
    assert clock is not None and not list(tmp_path.glob(TMP_PREFIX + "*"))  # the marker is gone
    p.write_bytes(b"y" * 100)  # changed after the clock: never settled
    assert settled_stamp(os.stat(p), clock) is None
    assert settled_stamp(os.stat(p), (clock[0] + 1, 1 << 62)) is None  # another file system's clock
    while (later := fs_clock(tmp_path)) is not None and later[1] <= os.stat(p).st_ctime_ns:
        time.sleep(0.005)
    stamp = settled_stamp(os.stat(p), later)
    assert stamp is not None and unchanged_by_stamp(p, stamp)
    st = os.stat(p)
    p.write_bytes(b"z" * 100)  # the same size, its modification time put back
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert not unchanged_by_stamp(p, stamp)
    p.write_bytes(b"y" * 100)
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))  # even the same bytes again: not taken on trust
    assert not unchanged_by_stamp(p, stamp)
    q = tmp_path / "b.xlsx"
    q.write_bytes(b"y" * 100)
    os.utime(q, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(q, p)  # another file put in its place
    assert not unchanged_by_stamp(p, stamp)
    assert not unchanged_by_stamp(tmp_path / "gone.xlsx", stamp) and not unchanged_by_stamp(p, None)


@posix_only
def test_a_lock_tells_of_a_holder_that_died_holding_it(tmp_path):
    lock = tmp_path / ".gkreport" / "lock"
    proc = _holder(lock)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with folder_lock(lock, wait=0) as mine:
        assert mine["left_by"]["pid"] == proc.pid
    with folder_lock(lock, wait=0, reentrant=True) as mine:  # released: nobody left it
        assert "left_by" not in mine
        with folder_lock(lock, reentrant=True) as nested:
            assert "left_by" not in nested


def test_temp_files_of_one_folder_only(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    top = tmp_path / f"{TMP_PREFIX}{HOST_TAG}-{dead.pid}-a.xlsx"
    deep = tmp_path / "sub" / f"{TMP_PREFIX}{HOST_TAG}-{dead.pid}-b.xlsx"
    deep.parent.mkdir()
    top.write_bytes(b"1")
    deep.write_bytes(b"2")
    assert clean_temp_files(tmp_path, recursive=False) == 1 and deep.exists() and not top.exists()
    assert clean_temp_files(tmp_path / "missing", recursive=False) == 0
    assert clean_temp_files(tmp_path) == 1 and not deep.exists()


def test_writes_within_deferred_stay_temp_files_until_synced_and_renamed(tmp_path, monkeypatch):
    pending: list = []
    with fileio.deferred(pending):
        first = fileio.atomic_write_bytes(tmp_path / "a" / "报告.docx", b"one")
        second = fileio.atomic_write_bytes(tmp_path / "b.xlsx", b"two")
        # a write that need not be durable is not deferred
        fileio.atomic_write_bytes(tmp_path / "records.json", b"{}", durable=False)
    fileio.atomic_write_bytes(tmp_path / "after.txt", b"x")  # the deferral ended with the block
    assert (tmp_path / "records.json").read_bytes() == b"{}" and (tmp_path / "after.txt").is_file()
    assert [target for _, target in pending] == [first, second]
    assert not first.exists() and not second.exists()  # nothing under its name yet
    temps = [tmp for tmp, _ in pending]
    assert [t.read_bytes() for t in temps] == [b"one", b"two"] and all(t.name.startswith(TMP_PREFIX) for t in temps)

    calls: list[int] = []
    real = fileio._syncfs()
    assert real is not None  # Linux: one syncfs per file system

    def counted(fd: int) -> int:
        calls.append(fd)
        return real(fd)

    monkeypatch.setattr(fileio, "_SYNCFS", [counted])
    gone = tmp_path / "gone.docx"
    assert fileio.sync_files([*temps, gone]).keys() == {gone}  # a file not there is named, with why
    assert len(calls) == 1  # both temp files are on one file system

    # where syncfs fails (or there is none), each file is synced on its own and its error named
    monkeypatch.setattr(fileio, "_SYNCFS", [lambda fd: -1])
    failed = fileio.sync_files([*temps, gone])
    assert set(failed) == {gone} and isinstance(failed[gone], FileNotFoundError)
