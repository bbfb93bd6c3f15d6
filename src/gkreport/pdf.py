"""PDF copies of the Word reports, made by LibreOffice: one ``soffice`` run for a whole batch.

LibreOffice starts in 1–2 s and then converts a report in a fraction of that, so
all files go to one call. Each call uses its own LibreOffice profile (parallel
runs do not collide) and the 公文 font aliases shipped in ``gkreport/fontconfig``
(仿宋_GB2312, 方正小标宋简体, 黑体, 楷体_GB2312, 宋体 → free fonts where the Windows fonts are
absent). Outputs are written atomically next to each .docx unless told otherwise.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import PdfError
from .fileio import atomic_write_bytes

FONTCONFIG_DIR = Path(__file__).with_name("fontconfig")

_INSTALL_HINT = (
    "请先安装 LibreOffice（Debian/Ubuntu：apt-get install libreoffice-writer-nogui；"
    "Windows/macOS：从 https://www.libreoffice.org 下载安装），"
    "或用环境变量 GKREPORT_SOFFICE 指明 soffice 程序的位置；也可以不生成 PDF，只生成 Word 文档。"
)


class PdfUnavailable(PdfError):
    """No PDF at all can be made: LibreOffice is missing, does not start, hangs or produces nothing."""


class LibreOfficeNotFound(PdfUnavailable):
    """LibreOffice (``soffice``) is not installed or not on PATH."""

    def __init__(self) -> None:
        super().__init__("没有找到 LibreOffice（soffice 程序），无法把年度报告转换为 PDF。" + _INSTALL_HINT)


def find_soffice() -> str | None:
    """Path of the ``soffice`` program, or None."""
    env = os.environ.get("GKREPORT_SOFFICE")
    if env:
        return env if Path(env).is_file() else shutil.which(env)
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    candidates = [Path("/Applications/LibreOffice.app/Contents/MacOS/soffice")]
    for base in (os.environ.get("PROGRAMFILES"), os.environ.get("PROGRAMFILES(X86)")):
        if base:
            candidates.append(Path(base) / "LibreOffice" / "program" / "soffice.exe")
    candidates += sorted(Path("/opt").glob("libreoffice*/program/soffice"))
    return next((str(c) for c in candidates if c.is_file()), None)


def soffice_env() -> dict[str, str]:
    """The environment for LibreOffice: our font aliases on top of the system fontconfig."""
    env = dict(os.environ)
    if sys.platform.startswith("linux") and Path("/etc/fonts/fonts.conf").is_file():
        env["FONTCONFIG_PATH"] = str(FONTCONFIG_DIR)
        env["FONTCONFIG_FILE"] = "fonts.conf"
    return env


def _outdir(p: Path, where: Callable[[Path], Path] | Path | str | None) -> Path:
    if where is None:
        return p.parent
    if callable(where):
        return Path(where(p))
    return Path(where)


def convert_to_pdf(
    docx_paths: Sequence[Path | str],
    outdir_for_each: Callable[[Path], Path] | Path | str | None = None,
    *,
    timeout: float | None = None,
) -> list[Path | None]:
    """Convert .docx files to PDF in one LibreOffice run; returns the PDF paths in input order.

    ``outdir_for_each`` says where each PDF goes: None (default) next to its .docx, a folder
    for all of them, or a function from the .docx path to its folder. A file LibreOffice
    could not convert gets ``None`` (the others are written). Raises :class:`PdfUnavailable`
    (:class:`LibreOfficeNotFound` when it is not installed) when no PDF can be made at all.
    """
    paths = [Path(p) for p in docx_paths]
    if not paths:
        return []
    for p in paths:
        if not p.is_file():
            raise PdfError(f"要转换为 PDF 的文件 {p} 不存在。")
    exe = find_soffice()
    if not exe:
        raise LibreOfficeNotFound()
    targets = [_outdir(p, outdir_for_each) / (p.stem + ".pdf") for p in paths]
    limit = timeout if timeout is not None else 90 + 10 * len(paths)
    results: list[Path | None] = []
    with tempfile.TemporaryDirectory(prefix="gkreport-pdf-") as tmp:
        tmpdir = Path(tmp)
        indir, outdir, profile = tmpdir / "in", tmpdir / "out", tmpdir / "profile"
        indir.mkdir()
        outdir.mkdir()
        # short private names: no quoting problems, no clash between same-named files of different folders
        inputs = []
        for i, p in enumerate(paths):
            q = indir / f"{i:05d}.docx"
            shutil.copyfile(p, q)
            inputs.append(str(q))
        cmd = [
            exe,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--invisible",
            "--nologo",
            "--norestore",
            "--nodefault",
            "--nolockcheck",
            "--convert-to",
            "pdf:writer_pdf_Export",
            "--outdir",
            str(outdir),
            *inputs,
        ]
        stderr = _run(cmd, limit, len(paths))
        for i, target in enumerate(targets):
            produced = outdir / f"{i:05d}.pdf"
            if produced.is_file() and produced.stat().st_size > 0:
                atomic_write_bytes(target, produced.read_bytes())
                results.append(target)
            else:
                results.append(None)
    if not any(results):
        detail = f"（LibreOffice 输出：{stderr.strip()[-500:]}）" if stderr.strip() else ""
        raise PdfUnavailable(f"LibreOffice 没有生成任何 PDF（共 {len(paths)} 个文件）{detail}")
    return results


def _run(cmd: list[str], limit: float, n: int) -> str:
    popen_kw: dict = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "env": soffice_env()}
    if os.name == "posix":
        popen_kw["start_new_session"] = True  # so that a timeout ends soffice.bin as well
    try:
        proc = subprocess.Popen(cmd, **popen_kw)
    except OSError as exc:
        raise PdfUnavailable(f"无法启动 LibreOffice（{cmd[0]}）：{exc}") from exc
    try:
        _out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        _kill(proc)
        raise PdfUnavailable(
            f"LibreOffice 在 {limit:.0f} 秒内没有完成 {n} 个文件的 PDF 转换，已停止。"
            "请检查是否有 LibreOffice 窗口在等待操作，或分批转换。"
        ) from None
    except BaseException:  # Ctrl-C or SIGTERM while converting: LibreOffice (its own session) ends too
        _kill(proc)
        raise
    return err.decode("utf-8", "replace")


def _kill(proc: subprocess.Popen) -> None:
    """End soffice and the soffice.bin it started (they share the session started for them)."""
    if os.name == "posix":
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    else:
        proc.kill()
    proc.communicate()
