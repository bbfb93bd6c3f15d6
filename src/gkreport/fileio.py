"""Writing files safely: atomic output, temp files that name their owner, why a write failed,
and one run at a time per output folder.

* :func:`atomic_path` writes to a temp file in the same folder, then renames: a crash or
  Ctrl-C never leaves a half-written file under the final name. The temp file's name carries
  the host and process id of its writer, so that :func:`clean_temp_files` removes only the
  leftovers of processes that are gone, never a live run's files. The file gets the ordinary
  permissions of a new file (the user's umask), not the owner-only 0600 of a temp file: colleagues
  on a shared folder open the reports.
* :func:`deferred` and :func:`sync_files` let a batch worker make a chunk's outputs durable
  together before it renames them (one flush of the disk instead of one per file).
* :func:`os_reason` says in Chinese why a file could not be written (disk full, read-only,
  no permission or held open by another program, a file where a folder should be).
* :func:`folder_lock` lets one process at a time work on a folder; the lock file says who
  (pid, host, start, command) so that the next one can name it, and a lock left by a dead
  process is taken over (the operating system releases it when the process ends).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

TMP_PREFIX = ".gkreport-tmp-"
FOREIGN_TEMP_AGE = 24 * 3600.0  # a temp file of another computer is removed once it is this old (seconds)


def _host_tag() -> str:
    return hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


HOST_TAG = _host_tag()


_TEMP_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


def _new_temp(folder: Path, suffix: str) -> tuple[int, Path]:
    """Create a temp file in ``folder`` (made when missing) and open it: (descriptor, path). It is
    created with mode 0666 less the umask, as ``open()`` creates a file, so that it has the user's
    ordinary permissions without a chmod (see the module's docstring)."""
    prefix = f"{TMP_PREFIX}{HOST_TAG}-{os.getpid()}-"
    made = False
    for _ in range(100):
        path = folder / f"{prefix}{os.urandom(5).hex()}{suffix}"
        try:
            return os.open(path, _TEMP_FLAGS, 0o666), path
        except FileExistsError:
            continue
        except FileNotFoundError:
            if made:
                raise
            folder.mkdir(parents=True, exist_ok=True)  # only when missing: most folders exist already
            made = True
    raise FileExistsError(errno.EEXIST, "无法创建临时文件", str(folder))


@contextlib.contextmanager
def atomic_path(target: Path | str, *, durable: bool = True) -> Iterator[Path]:
    """Yield a temp path beside ``target``; on success it replaces ``target`` (synced to disk first
    unless not ``durable``: bookkeeping that is rebuilt anyway need not wait for the disk)."""
    target = Path(target)
    fd, tmp_path = _new_temp(target.parent, target.suffix)
    os.close(fd)
    try:
        yield tmp_path
        if durable:
            with open(tmp_path, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(OSError):  # the folder may not be writable at all
            tmp_path.unlink()
        raise


def current_umask() -> int:
    """The process's umask, read without changing it where the system tells it (Linux), since
    setting it, even briefly, would apply to files that other threads create meanwhile."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The permissions a file created by ``open()`` gets: 0666 less the umask (0644 with umask 022)."""
    return 0o666 & ~current_umask()


def atomic_write_bytes(target: Path | str, data: bytes, *, durable: bool = True) -> Path:
    """:func:`atomic_path` for bytes at hand: written, synced and renamed through one descriptor.
    Within :func:`deferred`, a durable write stops at its temp file (see there)."""
    target = Path(target)
    pending = getattr(_deferral, "pending", None) if durable else None
    fd, tmp_path = _new_temp(target.parent, target.suffix)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable and pending is None:
                os.fsync(fd)
        finally:
            os.close(fd)
        if pending is not None:
            pending.append((tmp_path, target))
            return target
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise
    return target


# --------------------------------------------------------------------------- deferred publication
#
# Syncing each output as it is written costs a flush of the disk per file: a tenth of a big
# batch's time. A batch worker instead writes a chunk's outputs to temp files, makes them durable
# together (one ``syncfs`` per file system on Linux) and only then renames each to its name: a
# file still appears under its name complete and on disk, or not at all.

_deferral = threading.local()


@contextlib.contextmanager
def deferred(pending: list[tuple[Path, Path]]) -> Iterator[None]:
    """Within (in this thread), a durable :func:`atomic_write_bytes` writes its temp file, neither
    synced nor renamed, and appends (temp file, target) to ``pending``: :func:`sync_files` then
    makes a batch of them durable at once, and the caller renames each (or removes it)."""
    before = getattr(_deferral, "pending", None)
    _deferral.pending = pending
    try:
        yield
    finally:
        _deferral.pending = before


_SYNCFS: list[Any] = []  # libc's syncfs once looked up (None where there is none)


def _syncfs() -> Any:
    if not _SYNCFS:
        fn = None
        if sys.platform.startswith("linux"):
            with contextlib.suppress(Exception):
                import ctypes

                fn = ctypes.CDLL(None, use_errno=True).syncfs
                fn.argtypes = [ctypes.c_int]
        _SYNCFS.append(fn)
    return _SYNCFS[0]


def sync_files(paths: Sequence[Path]) -> dict[Path, OSError]:
    """Make these written (and closed) files durable; returns those that could not be, with why.
    On Linux one ``syncfs`` per file system they are on (a batch's outputs are nearly always on
    one); elsewhere, or where that fails, each file is synced on its own."""
    failed: dict[Path, OSError] = {}
    left = list(paths)
    syncfs = _syncfs() if len(left) > 1 else None
    if syncfs is not None:
        by_device: dict[int, list[Path]] = {}
        for p in left:
            try:
                by_device.setdefault(os.stat(p).st_dev, []).append(p)
            except OSError as exc:
                failed[p] = exc
        left = []
        for files in by_device.values():
            try:
                fd = os.open(files[0].parent, os.O_RDONLY)
            except OSError:
                left += files
                continue
            try:
                if syncfs(fd) != 0:
                    left += files  # an error of the file system: each file says whether it is its own
            finally:
                os.close(fd)
    for p in left:
        try:
            with open(p, "rb+") as fh:
                os.fsync(fh.fileno())
        except OSError as exc:
            failed[p] = exc
    return failed


def digest_of(data: bytes) -> dict[str, Any]:
    """:func:`file_digest` of a file holding ``data``, without reading it back."""
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def atomic_write_text(target: Path | str, text: str) -> Path:
    return atomic_write_bytes(target, text.encode("utf-8"))


def file_digest(path: Path | str) -> dict[str, Any]:
    """Size and SHA-256 of a file as written: what a later run compares to know the file is still ours."""
    with open(path, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
        size = os.fstat(fh.fileno()).st_size
    return {"size": size, "sha256": digest}


def same_digest(found: Mapping[str, Any] | None, want: Mapping[str, Any] | None) -> bool:
    """Whether two :func:`file_digest` results are of the same bytes (a recorded one may hold more keys)."""
    if not found or not want:
        return False
    return bool(found["size"] == want.get("size") and found["sha256"] == want.get("sha256"))


# --------------------------------------------------------------------------- stat stamps
#
# Hashing every output and input again on each rerun costs more than the rest of an unchanged
# rerun. A stamp is a file's (size, mtime_ns, ctime_ns, inode, device), recorded together with its
# digest; a later run that finds the same stamp takes the digest as still true without reading
# the file. That holds because every change of a file's bytes (a write in place, a file renamed
# over it, ``touch`` or ``os.utime`` putting the old modification time back) sets its ctime to the
# file system's clock, which no program sets back (short of turning the system clock back). The
# one gap is a change within the same clock tick as the stamp's ctime: so a stamp is recorded only
# when the file's ctime is older than a marker file created before the file was stat'ed and read
# (:func:`fs_clock`), as Git does for its index ("racily clean" entries are hashed). Where ctime is
# not the change time (Windows, where it is the creation time) no stamp is ever recorded: files
# are always hashed there.

STAMPS = os.name == "posix"


def stamp_of(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


def fs_clock(folder: Path | str) -> tuple[int, int] | None:
    """(device, ctime_ns) of a marker file created in ``folder`` now: the file system's clock, which a
    file's ctime must be older than for its stamp to be recorded; None where stamps are not used or
    the folder cannot be written."""
    if not STAMPS:
        return None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{HOST_TAG}-{os.getpid()}-", suffix=".clock", dir=folder)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        return st.st_dev, st.st_ctime_ns
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def clock_after(folder: Path | str, ctime_ns: int, wait: float = 0.05) -> tuple[int, int] | None:
    """:func:`fs_clock` once the file system's clock has passed ``ctime_ns`` (files changed just now
    are as new as a marker made at once), waiting at most ``wait`` seconds; None when it has not."""
    deadline = time.monotonic() + wait
    while True:
        clock = fs_clock(folder)
        if clock is None or clock[1] > ctime_ns:
            return clock
        if time.monotonic() > deadline:
            return None
        time.sleep(0.001)


def settled_stamp(st: os.stat_result, clock: tuple[int, int] | None) -> list[int] | None:
    """The stamp to record for a file stat'ed (``st``) after ``clock`` was taken and read after that:
    only when the file is on the marker's file system and its last change is older than the marker."""
    if clock is None or st.st_dev != clock[0] or st.st_ctime_ns >= clock[1]:
        return None
    return stamp_of(st)


def unchanged_by_stamp(path: Path | str, stamp: Any) -> bool:
    """Whether ``path`` still has the recorded ``stamp`` (False when there is none, or on any error)."""
    if not STAMPS or not stamp:
        return False
    try:
        return stamp_of(os.stat(path)) == list(stamp)
    except (OSError, TypeError, ValueError):
        return False


# --------------------------------------------------------------------------- processes


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this computer is running (a pid we may not signal counts as running)."""
    if pid <= 0:
        return False
    if os.name == "nt":  # pragma: no cover - Windows: os.kill would terminate the process
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]  # Windows only
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return kernel32.GetLastError() == 5  # access denied: it exists
        code = ctypes.c_ulong()
        try:
            kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
            return code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _temp_owner(name: str) -> tuple[str, int] | None:
    """(host tag, pid) of a temp file's writer, from its name; None for a name of an older version."""
    parts = name[len(TMP_PREFIX) :].split("-", 2)
    if len(parts) < 3 or len(parts[0]) != 8 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def _temp_files(folder: Path | str, recursive: bool) -> Iterator[Path]:
    if not recursive:
        try:
            with os.scandir(folder) as entries:
                names = [e.name for e in entries if e.name.startswith(TMP_PREFIX)]
        except OSError:  # not there (yet), or not a folder
            return
        yield from (Path(folder, n) for n in names)
        return
    for root, dirs, files in os.walk(folder):  # symbolic links to folders are not followed
        yield from (Path(root, n) for n in files + dirs if n.startswith(TMP_PREFIX))


def clean_temp_files(folder: Path | str, *, recursive: bool = True) -> int:
    """Remove temp files left by processes that have ended; returns how many were removed
    (in ``folder`` and, when ``recursive``, its subfolders).

    A temp file of a process still running on this computer is kept (another gkreport, e.g. a
    mail dry run writing its outbox, may be writing it); one of another computer is removed only
    once it is a day old.
    """
    n = 0
    now = time.time()
    for p in _temp_files(folder, recursive):
        owner = _temp_owner(p.name)
        if owner is not None:
            host, pid = owner
            if host == HOST_TAG and (pid == os.getpid() or pid_alive(pid)):
                continue
            if host != HOST_TAG:
                try:
                    if now - p.stat().st_mtime < FOREIGN_TEMP_AGE:
                        continue
                except OSError:
                    continue
        with contextlib.suppress(OSError):
            p.unlink()
            n += 1
    return n


def quiet_unraisable_os_errors() -> None:
    """Do not print an ``OSError`` raised while a file object is collected: a library's half-written
    file (a zip left open when the disk filled up) fails again as it is closed, after the write
    failure itself was reported. Python would print that second failure with a traceback."""
    if getattr(sys.unraisablehook, "_gkreport", False):
        return
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, OSError):
            return
        previous(unraisable)

    hook._gkreport = True  # type: ignore[attr-defined]
    sys.unraisablehook = hook


# --------------------------------------------------------------------------- why a write failed


def os_reason(exc: OSError) -> str:
    """Why a file could not be written, in Chinese, with what to do."""
    code = exc.errno
    winerror = getattr(exc, "winerror", None)
    if code == errno.ENOSPC or winerror in (39, 112):
        return "磁盘空间不足，请清理磁盘空间"
    if code == getattr(errno, "EDQUOT", -1):
        return "超出磁盘配额，请清理空间或请管理员增加配额"
    if code == errno.EROFS:
        return "文件夹所在的磁盘是只读的，请换一个可以写入的文件夹"
    if winerror in (32, 33):
        return "文件正被其他程序（如 Word、WPS、Excel）打开，请关闭后重新运行"
    if code in (errno.ENOTDIR, errno.EEXIST):
        return "该位置有一个同名的文件（不是文件夹），请把它移走或改名"
    if code == errno.EISDIR:
        return "该位置有一个同名的文件夹，请把它移走或改名"
    if isinstance(exc, PermissionError) or code in (errno.EACCES, errno.EPERM):
        return "没有写入权限，或文件正被其他程序占用，请检查文件夹权限"
    if code == errno.ENAMETOOLONG:
        return "文件名太长"
    if code == errno.EIO:
        return "磁盘读写错误，请检查磁盘"
    return f"系统错误：{exc.strerror or exc.__class__.__name__}"


# --------------------------------------------------------------------------- one run per folder


class FolderBusy(Exception):
    """Another process holds the folder's lock; ``holder`` is what its lock file says (may be empty)."""

    def __init__(self, holder: dict[str, Any]):
        super().__init__(str(holder))
        self.holder = holder


_HELD: dict[str, list[Any]] = {}  # lock path → [open file, depth, earlier holder left]: a process may nest its lock
_LOCK_OFFSET = 1 << 20  # Windows locks a byte range: lock one far past the information, which stays readable


def _try_lock(fh: BinaryIO) -> bool:
    try:
        if os.name == "nt":  # pragma: no cover - Windows
            import msvcrt

            fh.seek(_LOCK_OFFSET)
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]  # Windows only
        else:
            import fcntl

            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _unlock(fh: BinaryIO) -> None:
    with contextlib.suppress(OSError):
        if os.name == "nt":  # pragma: no cover - Windows
            import msvcrt

            fh.seek(_LOCK_OFFSET)
            msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]  # Windows only
        else:
            import fcntl

            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def read_lock_info(path: Path | str) -> dict[str, Any]:
    """What a lock file says about its holder (empty when it says nothing readable)."""
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read(65536).decode("utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


@contextlib.contextmanager
def folder_lock(
    path: Path | str, wait: float = 0.0, what: str = "", *, reentrant: bool = False
) -> Iterator[dict[str, Any]]:
    """Hold the lock file ``path`` (created if need be) for the duration of the context.

    Waits up to ``wait`` seconds for another holder to finish, then raises :class:`FolderBusy`.
    The lock is the operating system's (flock / LockFileEx): it goes with its process, so a lock
    file left by a process that died is simply taken over. The file holds this process's pid,
    host, start time and ``what`` (the command), for the message of whoever waits. With
    ``reentrant`` a process may take it again while holding it (watch → batch); otherwise a
    second taking, even in the same process, waits and is refused. ``OSError`` when the file
    cannot be created (read-only disk, no permission).
    """
    path = Path(path)
    key = str(path.resolve())
    held = _HELD.get(key) if reentrant else None
    if held is not None:
        held[1] += 1
        left_by, held[2] = held[2], {}  # told to the first nested holder (a watch's first batch)
        try:
            info = read_lock_info(path)
            yield {**info, "left_by": left_by} if left_by else info
        finally:
            held[1] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+b")  # noqa: SIM115 - the lock lives as long as the context
    try:
        deadline = time.monotonic() + wait
        while not _try_lock(fh):
            if time.monotonic() >= deadline:
                raise FolderBusy(read_lock_info(path))
            time.sleep(min(0.2, max(0.01, deadline - time.monotonic())))
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now().isoformat(timespec="seconds"),
            "command": what,
        }
        # what the file still says of an earlier holder: it ended without releasing the lock (killed,
        # power cut), so whatever it was doing may be half done
        left_by = read_lock_info(path)
        with contextlib.suppress(OSError):  # a full disk: the lock holds all the same
            fh.seek(0)
            fh.truncate()
            fh.write(json.dumps(info, ensure_ascii=False).encode("utf-8"))
            fh.flush()
        _HELD[key] = [fh, 1, left_by]
        try:
            yield {**info, "left_by": left_by} if left_by else info
        finally:
            _HELD.pop(key, None)
            with contextlib.suppress(OSError):  # the next holder finds an empty file, not a stale name
                fh.seek(0)
                fh.truncate()
            _unlock(fh)
    finally:
        fh.close()


def describe_holder(info: dict[str, Any]) -> str:
    """“进程 1234，计算机 pc-01，2025-03-01T09:30:00 开始，命令 gkreport batch …” (what is known)."""
    parts = []
    if info.get("pid"):
        parts.append(f"进程 {info['pid']}")
    if info.get("host"):
        parts.append(f"计算机 {info['host']}")
    if info.get("started"):
        parts.append(f"{str(info['started']).replace('T', ' ')} 开始")
    if info.get("command"):
        parts.append(f"命令 {info['command']}")
    return "，".join(parts) if parts else "进程信息不明"


def command_line() -> str:
    """This process's command line as the user typed it (for a lock's holder information)."""
    args = list(sys.argv)
    if args and args[0].endswith(("__main__.py", "gkreport")):
        args[0] = "gkreport"
    return " ".join(args)[:300]
