"""Read a filled workbook by its labels, never by fixed cell positions.

Works for our blank templates, for sheets laid out like the official Word
tables (pasted into Excel: merged label cells, stacked headers, tables on one
sheet or several), and for the old seed-style 统计表 (统计指标 | 单位 | 统计数).
Formats: .xlsx, .xlsm, .xls, .ods (python-calamine reads them all), and WPS's .et/.ett, which
WPS saves in the binary .xls format: what the bytes are decides how a file is read, not its name.

Walk every sheet top to bottom. A row is a table title, a header row (its
texts are column labels), a data row (its rightmost label matches a row of
the form) or a note. A band of header rows gives the column map (sheet
column → form column) until the next band. The walk only records where each
copy of a table is; when a workbook holds a table twice (last year's kept on
an extra sheet), the copy marked with the unit's year is read, never a guess.
Every value is kept with its sheet and A1 reference; every problem becomes a
Finding. Metadata and the report's text are read beside their labels (our
template) or below their headings (a published report pasted from a web page).
"""

from __future__ import annotations

import contextlib
import copy
import errno
import functools
import hashlib
import io
import operator
import os
import posixpath
import re
import signal
import stat
import struct
import threading
import time
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from .errors import ReadError
from .explanations import FINDINGS_SHEET, read_explanations
from .formatting import parse_date, plain_name, readable_name, recovered_name
from .labels import core, looks_like_number, norm, similar, split_note
from .model import ERROR, WARNING, Explanation, Finding, Severity, Unit
from .roster import looks_like_unit, may_be_one_unit, other_unit_in_file_name
from .spec import Cell, Form, Table, load_forms
from .template import INFO_SHEET, SELF_CHECK_SHEET

SUPPORTED = (".xlsx", ".xlsm", ".xls", ".ods", ".et", ".ett")
WPS_SHEET = (".et", ".ett")  # WPS 表格 (workbook, template): binary .xls inside
UNITS = ("人次", "万元", "条", "件", "次", "篇", "个", "人", "元", "项", "家")
_SEAL_MARK = r"\s*[（(]\s*(?:盖章|公章|签章|代章|章)\s*[）)]"  # 单位名称（盖章）: where the seal goes, not a name
_MONEY_UNITS = {"元": Decimal(1), "千元": Decimal(1000), "万元": Decimal(10000), "亿元": Decimal(10**8)}
# the money unit a column header states (normalised text): 本年收费金额（单位：元）, 收费金额(元), 金额 单位：千元
_HEADER_MONEY = re.compile(r"\((?:单位:)?(?:人民币)?(亿元|千元|万元|元)\)|单位:(?:人民币)?(亿元|千元|万元|元)$")
_BLANK_MARKS = {"-", "—", "——", "/", "无", "－", "─"}
_FUZZY_MIN = 0.78
_REQUIRED_MARK = re.compile(r"\((必填|选填)\)$")


def col_letter(c: int) -> str:
    s = ""
    c += 1
    while c:
        c, rem = divmod(c - 1, 26)
        s = chr(65 + rem) + s
    return s


@lru_cache(maxsize=1 << 14)
def a1(r: int, c: int) -> str:
    return f"{col_letter(c)}{r + 1}"


# --------------------------------------------------------------------------- workbook loading


@dataclass
class Sheet:
    name: str
    rows: list[list[Any]]
    origin: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)  # covered → merge origin
    missing_cache: set[tuple[int, int]] = field(default_factory=set)  # formula cells without cached value
    merges: tuple | None = None  # the merged ranges ``origin`` was made of, as the parser gave them
    hidden: bool = False  # hidden in the workbook (a draft or last year's copy the office put away)
    errors: dict[tuple[int, int], str] = field(default_factory=dict)  # cells holding an error value (#DIV/0!)

    def text(self, r: int, c: int) -> str | None:
        """Label text at (r, c), seen through merged cells."""
        r0, c0 = self.origin.get((r, c), (r, c))
        v = self.rows[r0][c0] if c0 < len(self.rows[r0]) else None
        return v.strip() if isinstance(v, str) and v.strip() else None

    def raw(self, r: int, c: int) -> Any:
        if (r, c) in self.origin or r >= len(self.rows):
            return None  # hidden under a merged cell (the value sits at the origin), or below the data
        row = self.rows[r]
        return row[c] if c < len(row) else None

    def origin_col(self, r: int, c: int) -> int:
        return self.origin.get((r, c), (r, c))[1]

    @functools.cached_property
    def strings(self) -> list[tuple[int, int, str]]:
        """(row, column, text) of every cell holding a text that is not blank, row by row; the rows
        are not changed once read."""
        return [
            (r, c, v)
            for r, row in enumerate(self.rows)
            for c, v in enumerate(row)
            if v and isinstance(v, str) and v.strip()
        ]


# --------------------------------------------------------------------------- limits on hostile input
#
# Workbooks arrive by e-mail and USB stick from dozens of offices; some are broken, some are not
# workbooks at all, a few may be made to hurt. Every limit below is far above any real report
# workbook (10–100 KB, a few hundred cells) and far below what would exhaust an office PC; a file
# beyond one is refused with a Chinese message before the parsers allocate anything for it.

MAX_FILE_BYTES = 50 * 2**20  # the file itself: real workbooks are 10 KB–2 MB, 10 MB with pictures
MAX_ZIP_MEMBERS = 2_000  # parts of an .xlsx/.ods; real ones have 10–100
MAX_UNZIPPED_BYTES = 256 * 2**20  # all parts together, uncompressed: zip bombs declare gigabytes
MAX_PART_BYTES = 64 * 2**20  # one part uncompressed: it is held in memory while it is checked
MAX_RATIO = 200  # compression ratio of a part over RATIO_FLOOR: XML packs 5–50×, bombs ~1000×
RATIO_FLOOR = 2**20
MAX_SHEETS = 200  # sheets of one workbook; a report has 1–10
MAX_ROWS = 100_000  # used rows of one sheet; a report needs < 200
MAX_COLS = 1_000  # used columns of one sheet; a report needs < 30 (Excel allows 16,384)
MAX_CELLS = 2_000_000  # rows × columns of one sheet: the readers allocate the whole rectangle
MAX_MERGED_CELLS = 200_000  # cells covered by merged ranges, within the used area
READ_TIME_LIMIT = 60.0  # seconds for one file (a normal one takes ~3 ms); 0 turns it off
MAX_VALUE = 10**12  # a count or amount past a trillion is a slip or a hostile file (1e308
# overflows the check engine's floating-point arithmetic)

_MB = 2**20
_INF = float("inf")


def _refuse(path: Path, text: str) -> ReadError:
    return ReadError(f"文件 {readable_name(path.name)} {text}", path)


class ReadTimeout(ReadError):
    """Reading one file took longer than READ_TIME_LIMIT."""


@contextlib.contextmanager
def _time_limit(path: Path, seconds: float | None = None) -> Iterator[None]:
    """Raise ReadTimeout in this thread after ``seconds`` (main thread of a Unix process only).

    The batch reads in worker processes, the CLI in its main thread: both get the limit. The
    timer is an interval timer (SIGALRM); an earlier timer and handler are restored afterwards.
    """
    seconds = READ_TIME_LIMIT if seconds is None else seconds
    if not seconds or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    armed = [True]

    def expired(signum: int, frame: Any) -> None:
        if armed[0]:
            raise ReadTimeout(
                f"文件 {readable_name(path.name)} 读取超时（超过 {seconds:g} 秒），可能是异常文件，已停止读取。"
                "请用 Excel 或 WPS 打开检查后另存为 .xlsx 再试。",
                path,
            )

    start = time.monotonic()
    previous = signal.signal(signal.SIGALRM, expired)
    # repeating: an exception raised where Python must swallow it (a __del__) is raised again soon
    outer, _ = signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)
    try:
        yield
    finally:
        while True:  # disarm; a signal landing in here is caught, never left armed behind us
            try:
                armed[0] = False
                signal.setitimer(signal.ITIMER_REAL, 0)
                break
            except ReadTimeout:
                continue
        if previous is not None:  # None: set outside Python; our disarmed handler stays, harmless
            signal.signal(signal.SIGALRM, previous)
        if outer:  # an outer timer was running: give it back what is left of it
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - start), 1e-3))


# --------------------------------------------------------------------------- reading the bytes


def _os_message(path: Path, exc: OSError) -> str:
    """A Chinese message for a file that cannot be opened or read."""
    winerror = getattr(exc, "winerror", None)
    if isinstance(exc, PermissionError) or winerror in (5, 32, 33) or exc.errno in (errno.EACCES, errno.EPERM):
        return (
            f"文件 {readable_name(path.name)} 无法打开：没有读取权限，或正被其他程序（如 Excel、WPS）占用。"
            "请关闭打开该文件的程序后重新运行。"
        )
    if isinstance(exc, FileNotFoundError):
        return f"文件 {readable_name(path.name)} 在读取前被移走或删除了，请确认文件仍在文件夹中后重新运行。"
    if exc.errno in (errno.EIO, errno.ENXIO, errno.ENODEV) or winerror in (21, 23, 1117):
        return (
            f"文件 {readable_name(path.name)} 读取失败（磁盘读写错误，错误号 {exc.errno or winerror}）："
            "可能是 U 盘已拔出或介质损坏，请把文件复制到本机后重新运行。"
        )
    return f"文件 {readable_name(path.name)} 读取失败（系统错误号 {exc.errno or winerror}），请把文件复制到本机后重新运行。"


def read_file_bytes(path: Path) -> bytes:
    """The file's bytes, read once; refused when it is not a regular file, too large, locked, or changing.

    Size and modification time are compared before and after the read: a file still being
    copied (or saved) is reported instead of half-read.
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) and os.path.islink(path):
            raise _refuse(path, "是失效的快捷方式（链接指向的文件不存在），已跳过。") from None
        raise ReadError(_os_message(path, exc), path) from None
    if stat.S_ISDIR(st.st_mode):
        raise ReadError(f"{readable_name(path)} 是文件夹，不是文件。", path)
    if not stat.S_ISREG(st.st_mode):
        raise _refuse(path, "不是普通文件（可能是设备、管道或失效的快捷方式），已跳过。")
    if st.st_size > MAX_FILE_BYTES:
        raise _refuse(
            path,
            f"大小为 {st.st_size / _MB:.0f} MB，超过上限 {MAX_FILE_BYTES // _MB} MB"
            "（统计表通常不足 1 MB），可能不是统计表或含有大量图片，已拒绝读取。",
        )
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ReadError(_os_message(path, exc), path) from None
    try:
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):  # swapped for a pipe since the stat
                raise _refuse(path, "不是普通文件（可能是设备、管道或失效的快捷方式），已跳过。")
            data = fh.read(MAX_FILE_BYTES + 1)
            after = os.fstat(fh.fileno())
    except ReadError:
        raise
    except OSError as exc:
        raise ReadError(_os_message(path, exc), path) from None
    if len(data) > MAX_FILE_BYTES:
        raise _refuse(path, f"大小超过上限 {MAX_FILE_BYTES // _MB} MB，已拒绝读取。")
    if len(data) != st.st_size or after.st_size != st.st_size or after.st_mtime_ns != st.st_mtime_ns:
        raise _refuse(
            path, "正在被写入或复制（读取时文件大小或修改时间发生了变化），本次未读取；请等复制或保存完成后重新运行。"
        )
    return data


# --------------------------------------------------------------------------- what the bytes are

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_TEXT_SNIFF = 4096


def _sniff_text(head: bytes) -> str | None:
    """'html', 'xml2003', 'text' or None for bytes that look like text."""
    for bom, enc in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            text = head[len(bom) :].decode(enc, "ignore")
            break
    else:
        if b"\x00" in head:
            return None
        for enc in ("utf-8", "gb18030"):
            try:
                text = head.decode(enc)
                break
            except UnicodeDecodeError as exc:  # a cut multi-byte character at the end is fine
                if exc.start >= len(head) - 4:
                    text = head[: exc.start].decode(enc, "ignore")
                    break
        else:
            return None
    low = text.lstrip().lower()
    if "urn:schemas-microsoft-com:office:spreadsheet" in low:
        return "xml2003"
    if (
        low.startswith(("<!doctype html", "<html", "<table", "<meta", "<head", "<body"))
        or (low.startswith(("<?xml", "<!--", "<!doctype")) and "<html" in low)
        or "<html" in low[:512]
    ):
        return "html"
    printable = sum(1 for ch in text if ch.isprintable() or ch in "\r\n\t")
    if text and printable >= 0.95 * len(text):
        return "text"
    return None


def sniff_kind(data: bytes) -> str:
    """What the bytes say the file is (not what its name says)."""
    if not data:
        return "empty"
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if data.startswith(_OLE_MAGIC):
        return "ole"
    if data.startswith(b"%PDF"):
        return "pdf"
    if data.startswith((b"Rar!\x1a\x07", b"7z\xbc\xaf\x27\x1c", b"\x1f\x8b")):
        return "archive"
    if data.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        return "image"
    if not data.strip(b"\x00"):
        return "zeros"
    return _sniff_text(data[:_TEXT_SNIFF]) or "other"


def file_kind(path: Path) -> str:
    """What the bytes of ``path`` say it is: xlsx, ods, xls, encrypted, docx, html, text, … ."""
    try:
        data = read_file_bytes(Path(path))
    except ReadError:
        return "unreadable"
    kind = sniff_kind(data)
    if kind == "zip":
        try:
            names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
        except (zipfile.BadZipFile, ValueError, OSError, EOFError):
            return "broken"
        return _zip_kind(names)
    if kind == "ole":
        try:
            return _ole_kind(_Cfb(data))
        except (ValueError, struct.error):
            return "broken"
    return kind


def _zip_kind(names: set[str] | frozenset[str]) -> str:
    if "xl/workbook.xml" in names:
        return "xlsx"
    if "xl/workbook.bin" in names:
        return "xlsb"
    if "content.xml" in names and "mimetype" in names:
        return "ods"
    if "word/document.xml" in names:
        return "docx"
    if "ppt/presentation.xml" in names:
        return "pptx"
    if "content.xml" in names:
        return "odf"
    if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
        return "xlsx_broken"  # an .xlsx that lost its main part
    return "zip"


_NOT_WORKBOOK = {
    "empty": "是空文件（0 字节），可能没有保存成功或没有复制完，请重新保存后再试。",
    "zeros": "内容全是空字节（0x00），可能没有复制完或文件已损坏，请重新复制后再试。",
    "truncated": "不完整（可能没有复制完或下载中断），请重新复制或下载后再试。",
    "pdf": "是 PDF 文件，不是 Excel 工作簿，请放入填好的统计表（.xlsx）。",
    "image": "是图片，不是 Excel 工作簿，请放入填好的统计表（.xlsx）。",
    "archive": "是压缩包（RAR/7z/gzip），不是 Excel 工作簿，请解压后放入其中的统计表。",
    "zip": "是普通的 ZIP 压缩包，不是 Excel 工作簿，请解压后放入其中的统计表。",
    "docx": "是 Word 文档，不是 Excel 工作簿，请放入填好的统计表。",
    "doc": "是 Word 文档（.doc），不是 Excel 工作簿，请放入填好的统计表。",
    "pptx": "是 PowerPoint 演示文稿，不是 Excel 工作簿，请放入填好的统计表。",
    "ppt": "是 PowerPoint 演示文稿（.ppt），不是 Excel 工作簿，请放入填好的统计表。",
    "odf": "是 OpenDocument 文字或演示文档，不是电子表格，请放入填好的统计表。",
    "xlsb": "是 Excel 二进制工作簿（.xlsb）格式，本工具不读取该格式，请在 Excel 中另存为 .xlsx 后再试。",
    "html": "实际是网页（HTML）格式，不是 Excel 工作簿（常见于从网站或业务系统导出的“.xls”表格），"
    "请用 Excel 或 WPS 打开后“另存为” .xlsx 再试。",
    "xml2003": "是 Excel 2003 XML 表格格式，本工具不读取该格式，请用 Excel 或 WPS 打开后“另存为” .xlsx 再试。",
    "text": "不是有效的 Excel 工作簿，实际是文本文件（CSV 或制表符分隔的文本），请用 Excel 或 WPS 打开后“另存为” .xlsx 再试。",
    "ole_other": "是 Office 复合文档，但不是 Excel 工作簿，请放入填好的统计表。",
    "encrypted": "设置了打开密码（已加密），无法读取。请在 Excel 或 WPS 中取消密码（文件—信息—保护工作簿—用密码进行加密，"
    "清空密码）并保存后再试。",
    "xlsx_broken": "已损坏：缺少工作簿主体（xl/workbook.xml），无法读取。请用 Excel 或 WPS 打开修复后另存为 .xlsx 再试；"
    "打不开的请向报送单位重新索要。",
    "broken": "已损坏，无法读取（文件结构错误）。请用 Excel 或 WPS 打开后另存为 .xlsx 再试；打不开的请向报送单位重新索要。",
    "wps": "是 WPS 表格文件，但不是本工具能读取的格式（WPS 通常按 .xls 格式保存 .et，这一份不是）。"
    "请在 WPS 中另存为 .xlsx 后重新放入。",
    "other": "不是有效的 Excel/WPS 工作簿（可能已损坏或是其他类型的文件），请重新保存为 .xlsx 后再试。",
}


# What to do with a file that is not a workbook, by its name's ending: such a file is listed, never
# read (a 100 MB archive costs nothing), so its name is all there is to go by.
_OTHER_FILES = (
    (
        (".doc", ".docx", ".docm", ".dot", ".dotx", ".wps", ".wpt", ".odt", ".rtf"),
        "这是文字文档，请报送统计表（.xlsx）。年度报告由本工具根据统计表生成，报告的文字部分填在统计表的“基本信息”表中。",
    ),
    ((".pdf",), "这是 PDF，无法读取数字，请报送统计表原件（.xlsx）。"),
    ((".ofd",), "这是 OFD 版式文件，无法读取数字，请报送统计表原件（.xlsx）。"),
    (
        (".zip", ".rar", ".7z", ".tar", ".gz", ".tgz", ".bz2", ".xz"),
        "这是压缩包，请解压后放入（其中的统计表放在输入文件夹或其子文件夹中即可，压缩包本身请移出）。",
    ),
    (
        (".csv", ".tsv", ".txt"),
        "这是纯文本文件，只有文字和数字，没有统计表的表名、行名和栏目名；本工具按这些标签读取，"
        "无法判断每个数字是哪一项。请报送统计表（.xlsx），或把内容填入模板（gkreport template）后保存为 .xlsx。",
    ),
    (
        (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".heic"),
        "这是图片（照片或扫描件），无法读取数字，请报送统计表原件（.xlsx）。",
    ),
    ((".xlsb",), "这是 Excel 二进制工作簿（.xlsb），本工具不读取该格式，请在 Excel 中另存为 .xlsx 后重新放入。"),
    ((".xlt", ".xltx", ".xltm"), "这是 Excel 模板文件，请填好后在 Excel 或 WPS 中另存为 .xlsx 后重新放入。"),
    ((".ppt", ".pptx", ".pps", ".ppsx", ".dps", ".odp"), "这是演示文稿，请报送统计表（.xlsx）。"),
    ((".htm", ".html", ".mht", ".mhtml"), "这是网页文件，请用 Excel 或 WPS 打开后另存为 .xlsx 后重新放入。"),
    ((".eml", ".msg"), "这是邮件，请把邮件附件中的统计表保存到输入文件夹，邮件本身请移出。"),
    ((".lnk", ".url"), "这是快捷方式，请把统计表文件本身放入输入文件夹。"),
)
_OTHER_HINTS = {suffix: hint for suffixes, hint in _OTHER_FILES for suffix in suffixes}
OTHER_FILE_HINT = (
    "这不是统计表（本工具读取 .xlsx、.xlsm、.xls、.ods 和 WPS 的 .et），无法读取。"
    "请报送统计表（.xlsx）；与报送无关的文件请移出输入文件夹。"
)


def not_a_workbook(path: Path | str) -> str:
    """Why a file whose name is not a workbook's is not read, and what to do (Chinese, naming the file)."""
    name = Path(path).name
    return f"文件 {readable_name(name)}：{_OTHER_HINTS.get(Path(name).suffix.lower(), OTHER_FILE_HINT)}"


# --------------------------------------------------------------------------- compound files (.xls, encrypted .xlsx)

_FREESECT = 0xFFFFFFFA  # sector numbers at or above this are markers (end of chain, free, FAT, DIFAT)


class _Cfb:
    """A minimal reader of Microsoft Compound File Binary containers: stream names and contents.

    Every sector number is bounds-checked and every chain is cut at the number of sectors in the
    file, so a crafted container cannot loop or read outside the bytes.
    """

    def __init__(self, data: bytes):
        if len(data) < 512 or not data.startswith(_OLE_MAGIC):
            raise ValueError("not a compound file")
        self.data = data
        shift, mini_shift = struct.unpack_from("<HH", data, 0x1E)
        if shift not in (9, 12) or mini_shift != 6:
            raise ValueError("bad sector size")
        self.ss = 1 << shift
        self.nsect = max((len(data) - self.ss) // self.ss, 0)
        n_dir, n_fat, dir_start, _, _, minifat_start, n_minifat, difat_start, n_difat = struct.unpack_from(
            "<IIIIIIIII", data, 0x28
        )
        self.cutoff = 4096  # fixed by the format (and by the parser, whatever the header says)
        # a header describing more than the file holds is corrupt (parsers reserve memory by these counts)
        if max(n_dir, n_fat, n_minifat, n_difat) * self.ss > len(data):
            raise ValueError("header counts beyond the file")
        difat = list(struct.unpack_from("<109I", data, 0x4C))
        s, guard = difat_start, 0
        while s < _FREESECT and guard < min(n_difat, self.nsect) + 1:
            vals = struct.unpack(f"<{self.ss // 4}I", self._sector(s))
            difat.extend(vals[:-1])
            s, guard = vals[-1], guard + 1
        fat_sectors = [x for x in difat if x < _FREESECT][: min(n_fat, self.nsect)]
        self.fat = [v for s in fat_sectors for v in struct.unpack(f"<{self.ss // 4}I", self._sector(s))]
        raw = self._chain(dir_start)
        self.entries: dict[str, tuple[int, int]] = {}
        root = None
        for i in range(0, len(raw) - 127, 128):
            name_len = min(struct.unpack_from("<H", raw, i + 64)[0], 64)
            kind = raw[i + 66]
            start, size, size_high = struct.unpack_from("<III", raw, i + 116)
            name = raw[i : i + max(name_len - 2, 0)].decode("utf-16-le", "replace").split("\0", 1)[0]
            if self.ss == 4096 and size_high:
                size = 1 << 40  # a 64-bit size: nothing real is that large
            if (kind == 5 or name) and size > len(data):
                raise ValueError("stream larger than the file")  # the parser would reserve that much
            if kind == 5 and root is None:
                root = (start, size)
            elif kind != 5 and name and name not in self.entries:
                self.entries[name] = (start, size)  # the first entry of a name, as the parser finds it
        if root is None:
            raise ValueError("no root entry")
        self.root = root
        self.minifat_start = minifat_start

    def _sector(self, s: int) -> bytes:
        off = (s + 1) * self.ss
        if s >= self.nsect or off + self.ss > len(self.data):
            raise ValueError("sector out of range")
        return self.data[off : off + self.ss]

    def _chain(self, start: int, fat: list[int] | None = None, read=None, limit: int | None = None) -> bytes:
        fat = self.fat if fat is None else fat
        read = read or self._sector
        out, s, n = [], start, 0
        cap = len(fat) + 1
        while s < _FREESECT:
            if s >= len(fat) or n > cap:
                raise ValueError("broken chain")
            out.append(read(s))
            n += 1
            if limit is not None and n * len(out[0]) >= limit:
                break
            s = fat[s]
        return b"".join(out)

    def names(self) -> set[str]:
        return set(self.entries)

    def stream(self, name: str) -> bytes:
        start, size = self.entries[name]
        if size >= self.cutoff:
            return self._chain(start, limit=size)[:size]
        minifat_raw = self._chain(self.minifat_start) if self.minifat_start < _FREESECT else b""
        minifat = list(struct.unpack(f"<{len(minifat_raw) // 4}I", minifat_raw[: len(minifat_raw) // 4 * 4]))
        ministream = self._chain(self.root[0], limit=self.root[1])

        def mini(s: int) -> bytes:
            off = s * 64
            if off + 64 > len(ministream):
                raise ValueError("mini sector out of range")
            return ministream[off : off + 64]

        return self._chain(start, minifat, mini, limit=size)[:size]


def _ole_kind(cfb: _Cfb) -> str:
    names = {n.lower() for n in cfb.names()}
    if "encryptedpackage" in names or "encryptioninfo" in names:
        return "encrypted"  # an .xlsx saved with a password (or under rights management)
    if "workbook" in names or "book" in names:
        return "xls"
    if "worddocument" in names:
        return "doc"
    if "powerpoint document" in names:
        return "ppt"
    return "ole_other"


_BIFF_CELL = {0x0203, 0x00FD, 0x027E, 0x0204, 0x0205, 0x0006, 0x00D6, 0x0003, 0x0004, 0x0002, 0x0005}  # row, col first
_BIFF_MULRK = 0x00BD
_BIFF_FILEPASS = 0x002F
_BIFF_DIMENSIONS = 0x0200
_BIFF_SST = 0x00FC
_BIFF_BOUNDSHEET = 0x0085
_BIFF_EOF = 0x000A
_BIFF_FORMULA = 0x0006
_BIFF_BOOLERR = 0x0205
# the error values of BIFF cells (a formula's result, or a value pasted as such), as Excel shows them
_BIFF_ERRORS = {
    0x00: "#NULL!",
    0x07: "#DIV/0!",
    0x0F: "#VALUE!",
    0x17: "#REF!",
    0x1D: "#NAME?",
    0x24: "#NUM!",
    0x2A: "#N/A",
}


def _biff_records(biff: bytes, pos: int) -> Iterator[tuple[int, int, int]]:
    """(type, body offset, body length) of the BIFF records from ``pos`` on."""
    end = len(biff)
    while pos + 4 <= end:
        typ, length = struct.unpack_from("<HH", biff, pos)
        body = pos + 4
        pos = body + length
        yield typ, body, min(length, end - body)


def _boundsheet_name(biff: bytes, body: int, length: int) -> str | None:
    """A BIFF8 BoundSheet record's sheet name (None when it does not fit the record)."""
    if length < 8:
        return None
    cch, wide = biff[body + 6], biff[body + 7] & 1
    raw = biff[body + 8 : body + 8 + cch * (2 if wide else 1)]
    if len(raw) != cch * (2 if wide else 1):
        return None
    return raw.decode("utf-16-le" if wide else "latin-1", "replace")


def _check_xls(path: Path, cfb: _Cfb) -> dict[str, dict[tuple[int, int], str]]:
    """Walk the BIFF records as the parser will: the workbook globals up to their end record, then
    each sheet from the offset its BoundSheet record gives. Refuse encryption, corrupt tables, and
    cells or declared dimensions outside the limits (before rows × columns are allocated for them).
    Returns the cells holding an error value (#DIV/0!) by sheet name: the parser gives them as blank."""
    name = next((n for n in cfb.names() if n.lower() in ("workbook", "book")), None)
    try:
        biff = cfb.stream(name) if name else b""
    except ValueError:
        raise _refuse(path, _NOT_WORKBOOK["broken"]) from None
    unpack = struct.unpack_from
    sheets: list[int] = []
    sheet_names: dict[int, str] = {}
    errors: dict[str, dict[tuple[int, int], str]] = {}
    for typ, body, length in _biff_records(biff, 0):
        if typ == _BIFF_FILEPASS:
            raise _refuse(path, _NOT_WORKBOOK["encrypted"])
        if typ == _BIFF_SST and length >= 8:
            # a table declaring more strings than its bytes can hold (each takes ≥ 3) is corrupt;
            # parsers reserve memory by this count
            unique = unpack("<i", biff, body + 4)[0]
            if unique < 0 or unique > (len(biff) - body) // 3:
                raise _refuse(path, _NOT_WORKBOOK["broken"])
        elif typ == _BIFF_BOUNDSHEET and length >= 4:
            sheets.append(unpack("<I", biff, body)[0])
            if (sheet_name := _boundsheet_name(biff, body, length)) is not None:
                sheet_names.setdefault(sheets[-1], sheet_name)
        elif typ == _BIFF_EOF:
            break
    if len(sheets) > MAX_SHEETS:
        raise _refuse(path, f"有 {len(sheets)} 个工作表，超过上限 {MAX_SHEETS} 个，可能是异常文件，已拒绝读取。")
    for start in dict.fromkeys(sheets):
        rows = cols = 0
        for typ, body, length in _biff_records(biff, start):
            if typ in _BIFF_CELL and length >= 4:
                r, c = unpack("<HH", biff, body)
                rows, cols = max(rows, r + 1), max(cols, c + 1)
                code = None
                if typ == _BIFF_FORMULA and length >= 14 and biff[body + 12 : body + 14] == b"\xff\xff":
                    code = biff[body + 8] if biff[body + 6] == 2 else None  # the cached result is an error
                elif typ == _BIFF_BOOLERR and length >= 8 and biff[body + 7] == 1:
                    code = biff[body + 6]
                if code is not None and start in sheet_names:
                    errors.setdefault(sheet_names[start], {})[(r, c)] = _BIFF_ERRORS.get(code, "#错误")
            elif typ == _BIFF_MULRK and length >= 6:
                r, c = unpack("<HH", biff, body)
                last = unpack("<H", biff, body + length - 2)[0]
                rows, cols = max(rows, r + 1), max(cols, c + 1, last + 1)
            elif typ == _BIFF_DIMENSIONS and length >= 8:
                # the parser sizes its cell buffer by this record: a forged one asks for gigabytes
                fmt = "<IIHH" if length >= 14 else "<HHHH"
                first_row, last_row, first_col, last_col = unpack(fmt, biff, body)
                if first_row > last_row or first_col > last_col:  # the parser's subtraction would wrap
                    raise _refuse(path, _NOT_WORKBOOK["broken"])
                _check_extent(path, "", last_row, last_col)
            elif typ == _BIFF_EOF:
                break
        _check_extent(path, "", rows, cols)
    return errors


def _check_extent(
    path: Path, sheet: str | Callable[[], str], rows: int, cols: int, where: str = "", at_least: bool = False
) -> None:
    """Refuse a sheet whose used area (rows × columns, as the readers allocate it) is beyond the limits."""
    if rows <= MAX_ROWS and cols <= MAX_COLS and rows * cols <= MAX_CELLS:
        return
    label = sheet() if callable(sheet) else sheet
    name = f"工作表“{label}”" if label else "工作表"
    far = f"（{'至少' if at_least else '最远'}到 {where} 单元格）" if where else ""
    size = f"{'至少 ' if at_least else ''}{rows} 行 × {cols} 列"
    raise _refuse(
        path,
        f"的{name}数据范围过大{far}：{size}，超过本工具的上限"
        f"（{MAX_ROWS} 行、{MAX_COLS} 列、共 {MAX_CELLS} 个单元格）。"
        "请删除表格以外多余的行、列和内容后另存再试。",
    )


# --------------------------------------------------------------------------- zip containers (.xlsx, .ods)


def _zip_open(path: Path, data: bytes) -> zipfile.ZipFile:
    """Open the zip after checking its end record: a cut-off file and an entry flood are refused here."""
    tail = data[-(65535 + 22) :]
    i = tail.rfind(b"PK\x05\x06")
    if i < 0 or len(tail) - i < 22:
        raise _refuse(path, _NOT_WORKBOOK["truncated"])
    entries, cd_size, cd_offset = struct.unpack_from("<HII", tail, i + 10)
    if entries > MAX_ZIP_MEMBERS:
        raise _refuse(path, f"包含的部件过多（{entries} 个，上限 {MAX_ZIP_MEMBERS} 个），可能是异常文件，已拒绝读取。")
    start = len(data) - len(tail) + i
    if cd_offset != 0xFFFFFFFF and cd_offset + cd_size > start:
        raise _refuse(path, _NOT_WORKBOOK["truncated"])
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        infos = z.infolist()
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        ValueError,
        OSError,
        EOFError,
        struct.error,
        UnicodeDecodeError,
        NotImplementedError,
    ):
        raise _refuse(path, _NOT_WORKBOOK["broken"]) from None
    if len(infos) > MAX_ZIP_MEMBERS:
        raise _refuse(
            path, f"包含的部件过多（{len(infos)} 个，上限 {MAX_ZIP_MEMBERS} 个），可能是异常文件，已拒绝读取。"
        )
    return z


def _zip_limits(path: Path, z: zipfile.ZipFile) -> None:
    """Declared sizes, ratios, encryption and methods of every part, from the central directory."""
    total = 0
    names = set()
    for info in z.infolist():
        if info.filename in names:
            raise _refuse(path, "含有重名的部件，结构异常（可能是损坏或恶意构造的文件），已拒绝读取。")
        names.add(info.filename)
        if info.flag_bits & 0x1:
            raise _refuse(path, "的压缩包设置了密码（已加密），无法读取。请放入未加密的统计表。")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _refuse(
                path, "使用了 Excel 不会使用的压缩方式，可能是异常文件，请用 Excel 或 WPS 另存为 .xlsx 后再试。"
            )
        total += info.file_size
        if info.file_size > MAX_PART_BYTES:
            raise _bomb(path, info.file_size, MAX_PART_BYTES, f"其中部件 {info.filename[:60]}")
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise _refuse(
                path,
                f"的压缩比异常（部件 {info.filename[:60]} 压缩了 {info.file_size // max(info.compress_size, 1)} 倍，"
                f"正常文件不超过 {MAX_RATIO} 倍），可能是压缩炸弹，已拒绝读取。",
            )
    if total > MAX_UNZIPPED_BYTES:
        raise _bomb(path, total, MAX_UNZIPPED_BYTES)


def _bomb(path: Path, size: int, limit: int, part: str = "") -> ReadError:
    return _refuse(
        path,
        f"解压后超过 {limit // _MB} MB（{part + ' ' if part else ''}约 {size / _MB:,.0f} MB），"
        "可能是压缩炸弹或异常文件，已拒绝读取。",
    )


def _member(path: Path, z: zipfile.ZipFile, data: bytes, info: zipfile.ZipInfo, head: int = 0) -> bytes:
    """A part's true bytes, inflated here with a cap: a header that understates the size is caught."""
    off = info.header_offset
    if off + 30 > len(data) or data[off : off + 4] != b"PK\x03\x04":
        raise _refuse(path, _NOT_WORKBOOK["broken"])
    n, e = struct.unpack_from("<HH", data, off + 26)
    start = off + 30 + n + e
    raw = data[start : start + info.compress_size]
    if len(raw) < info.compress_size:
        raise _refuse(path, _NOT_WORKBOOK["truncated"])
    if info.compress_type == zipfile.ZIP_STORED:
        out = raw[:head] if head else raw
        if not head and len(out) != info.file_size:
            raise _refuse(path, _NOT_WORKBOOK["broken"])
    else:
        d = zlib.decompressobj(-15)
        try:
            if head:
                return d.decompress(raw, head)
            out = d.decompress(raw, info.file_size + 1)
        except zlib.error:
            raise _refuse(path, _NOT_WORKBOOK["broken"]) from None
        if len(out) > info.file_size or not d.eof:
            if len(out) > info.file_size:
                raise _refuse(
                    path,
                    f"的部件 {info.filename[:60]} 解压后比声明的大小更大，可能是压缩炸弹或被篡改的文件，已拒绝读取。",
                )
            raise _refuse(path, _NOT_WORKBOOK["broken"])
        if len(out) != info.file_size:
            raise _refuse(path, _NOT_WORKBOOK["broken"])
    if not head and zlib.crc32(out) != info.CRC:
        raise _refuse(path, _NOT_WORKBOOK["broken"])
    return out


_DTD_DECL = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.I)
_HEAD = 4096  # bytes of a large sheet inflated first, to see its declared <dimension>
_HEAD_ABOVE = 2**20  # sheets larger than this get the <dimension> look before the full inflate
_FAST_SCAN = 4 * 2**20  # sheets up to this size are scanned in one regex pass; larger ones tag by tag
_VERIFY_ABOVE = 8 * 2**10  # other parts compressed beyond this are inflated to check their true size
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"([A-Za-z]{1,4})?(\d{0,8}):?([A-Za-z]{1,4})?(\d{0,8})\"")
_CELL_TAG = re.compile(rb'<c(?=[\s/>])(?: r="([A-Z]{1,3})([0-9]{1,7})")?')
# a cell tag without a plain reference of at most two letters and three digits: without one, ZZ999
# bounds the used area (702 columns × 999 rows), within the limits (see _small_area_fits)
_ODD_CELL = re.compile(rb'<c(?=[\s/>])(?! r="[A-Z]{1,2}[0-9]{1,3}")')


def _small_area_fits() -> bool:
    """Whether a sheet within ZZ999 is within the limits (they are read when used: tests lower them)."""
    return MAX_COLS >= 702 and MAX_ROWS >= 999 and MAX_CELLS >= 702 * 999


_NO_REF = (b"", b"")
_ANY_ROW_OR_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(row|c)(?=[\s/>])([^>]*)>")
_ATTR_R = re.compile(rb"""(?:^|\s)r\s*=\s*["']([^"']*)["']""")
_REF = re.compile(rb"\$?([A-Za-z]+)\$?([0-9]+)")
_RELATIONSHIP = re.compile(rb"<(?:\w+:)?Relationship\b([^>]*)>")
_ATTR = re.compile(rb"""(\w+)\s*=\s*["']([^"']*)["']""")


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


def _sheet_extent(xml: bytes) -> tuple[int, int, str, bool]:
    """(rows, columns, farthest cell) of a worksheet part, as calamine will place its cells.

    Fast path for what Excel, WPS, LibreOffice and the Python writers produce (every cell has
    a plain ``r`` as its first attribute): one regex pass. Anything else (cells without a
    reference, namespace prefixes, odd references) takes a tag-by-tag walk that follows the
    parser's own numbering, and stops as soon as a limit is passed.
    """
    if b"<sheetData" not in xml:
        return _sheet_extent_walk(xml)
    refs = _CELL_TAG.findall(xml)
    if not refs:
        return 0, 0, "", False
    if _NO_REF in refs:
        return _sheet_extent_walk(xml)
    cols = set(map(operator.itemgetter(0), refs))
    rows = set(map(operator.itemgetter(1), refs))
    lw = max(map(len, cols))
    dw = max(map(len, rows))
    col = max(c for c in cols if len(c) == lw)
    row = max(r for r in rows if len(r) == dw)
    return int(row), _col_number(col), (col + row).decode(), False


def _sheet_extent_walk(xml: bytes) -> tuple[int, int, str, bool]:
    """(rows, columns, farthest cell, stopped early) by following every row and cell tag."""
    rows = cols = 0
    r = c = -1  # current row and column index (0-based)
    n_rows = n_cells = 0
    far = ""
    for m in _ANY_ROW_OR_CELL.finditer(xml):
        ref = _ATTR_R.search(m.group(2))
        if m.group(1) == b"row":
            n_rows += 1
            explicit = _number(ref.group(1)) - 1 if ref and ref.group(1).strip().isdigit() else -1
            r = max(explicit, r + 1, n_rows - 1)
            c, n_cells = -1, 0
            continue
        n_cells += 1
        rr, cc = max(r, 0), max(c + 1, n_cells - 1)
        mm = _REF.fullmatch(ref.group(1).strip()) if ref else None
        if mm:  # the parser places a referenced cell by its reference, whatever came before
            rr, cc = _number(mm.group(2)) - 1, _col_number(mm.group(1)[:12]) - 1
        c = cc
        if rr + 1 > rows or cc + 1 > cols:
            rows, cols = max(rows, rr + 1), max(cols, cc + 1)
            far = mm.group(0).decode("ascii", "replace")[:24] if mm else f"{col_letter(cc)}{rr + 1}"
        if rows > MAX_ROWS or cols > MAX_COLS or rows * cols > MAX_CELLS:
            return rows, cols, far, True
    return rows, cols, far, False


def _number(digits: bytes) -> int:
    """A row number from its digits; absurdly long ones count as huge (and int() stays cheap)."""
    digits = digits.strip()
    return int(digits) if len(digits) <= 12 else 10**12


_ODS_TAG = re.compile(rb"<(/?)table:(table|table-row|table-cell|covered-table-cell)(?=[\s/>])([^>]*?)(/?)>")
_ODS_REPEAT = re.compile(rb"table:number-(rows|columns)-repeated\s*=\s*[\"'](\d{1,12})[\"']")
_ODS_NAME = re.compile(rb"table:name\s*=\s*[\"']([^\"']{0,80})[\"']")


_ODS_ERROR = re.compile(rb"calcext:value-type\s*=\s*[\"']error[\"']")
_ODS_TEXT = re.compile(rb"\s*<text:p>([^<]{1,40})</text:p>")
_MAX_ERROR_CELLS = 10_000  # error cells kept of one file: a report's tables have < 1,000 cells


def _ods_extents(path: Path, xml: bytes) -> dict[str, dict[tuple[int, int], str]]:
    """Walk content.xml's tables with their repeat counts (a tiny file can ask for millions of cells).
    Returns the cells holding an error value (#DIV/0!) by sheet name: the parser gives them as blank."""
    errors: dict[str, dict[tuple[int, int], str]] = {}
    name = ""
    rows = cols = row_i = col_i = row_max_col = 0
    row_rep = 1
    for m in _ODS_TAG.finditer(xml):
        closing, tag, attrs, empty = m.groups()
        if tag == b"table":
            if not closing:
                nm = _ODS_NAME.search(attrs)
                name = nm.group(1).decode("utf-8", "replace") if nm else ""
                rows = cols = row_i = 0
        elif tag == b"table-row":
            if closing:
                if row_max_col:
                    rows, cols = max(rows, row_i + row_rep), max(cols, row_max_col)
                row_i += row_rep
            else:
                rep = _ODS_REPEAT.search(attrs)
                row_rep = int(rep.group(2)) if rep and rep.group(1) == b"rows" else 1
                col_i = row_max_col = 0
                if empty:
                    row_i += row_rep
        elif not closing:
            rep = _ODS_REPEAT.search(attrs)
            n = int(rep.group(2)) if rep and rep.group(1) == b"columns" else 1
            if not empty or b"value-type" in attrs:  # a cell that holds something (empty ones are skipped)
                row_max_col = col_i + n
                _check_extent(path, name, max(rows, row_i + row_rep), max(cols, row_max_col))
                if _ODS_ERROR.search(attrs) and (kept := sum(map(len, errors.values()))) < _MAX_ERROR_CELLS:
                    shown = _ODS_TEXT.match(xml, m.end())
                    text = shown.group(1).decode("utf-8", "replace") if shown else "#错误"
                    at = errors.setdefault(name, {})
                    for r in range(row_i, row_i + min(row_rep, (_MAX_ERROR_CELLS - kept) // n + 1)):
                        at.update({(r, c): text for c in range(col_i, col_i + min(n, _MAX_ERROR_CELLS))})
            col_i += n
    return errors


@dataclass
class _ZipScan:
    kind: str
    formulas: dict[str, set[tuple[int, int]]]
    errors: dict[str, dict[tuple[int, int], str]] = field(default_factory=dict)  # cells holding an error value
    ours: set[str] = field(default_factory=set)  # our template's 自查 sheet: checked, not parsed (see _self_check)


# A1 of a sheet, as XlsxWriter and Excel write it: a shared string, or an inline one
_A1_SHARED = re.compile(rb'<c r="A1"(?: s="\d+")? t="s"(?: s="\d+")?><v>(\d+)</v></c>')
_A1_INLINE = re.compile(rb'<c r="A1"(?: s="\d+")? t="inlineStr"(?: s="\d+")?><is><t>([^<&]*)</t></is></c>')
_ITEM_BODY = re.compile(rb"(.*?)</si>", re.S)
_PLAIN_TEXT = re.compile(rb"<t(?: xml:space=\"preserve\")?>([^<&]*)</t>")


_WORKBOOK_RELS = "xl/_rels/workbook.xml.rels"


def _self_check(part: bytes, shared_strings: Callable[[], bytes | None]) -> bool:
    """Whether a sheet named 自查 is the one our template writes (A1 starts with 自查): the reader
    leaves that sheet out (:func:`_own_sheets`), so calamine need not parse its ~400 formulas.
    Only a plain A1 text is recognised here; anything else is parsed, and judged, as before."""
    m = _A1_SHARED.search(part, 0, 4096)
    if m:
        sst = shared_strings()
        if sst is None:
            return False
        i = int(m.group(1))
        # the i-th item; only where every item tag is a plain <si> is counting them certain
        items = sst.count(b"<si>")
        if sst.count(b"<si") != items or b":si" in sst or i >= items:
            return False
        item = _ITEM_BODY.match(sst.split(b"<si>", i + 1)[i + 1])
        if item is None:
            return False
        runs = _PLAIN_TEXT.fullmatch(item.group(1))  # one plain run only: what calamine gives is certain
        text = runs.group(1) if runs else None
    else:
        m = _A1_INLINE.search(part, 0, 4096)
        text = m.group(1) if m else None
    return text is not None and text.decode("utf-8", "replace").strip().startswith(SELF_CHECK_SHEET)


@lru_cache(maxsize=64)
def _sheet_parts(names: frozenset[str], rels: bytes | None) -> frozenset[str]:
    """Parts the parser will read as sheets: xl/worksheets/* and every sheet target of the workbook
    (``rels``: the inflated xl/_rels/workbook.xml.rels, None when there is none). Kept by the part
    names and the relationships: files from one template share them."""
    unified = {n.replace("\\", "/"): n for n in names}  # some zip tools write Windows separators
    out = {
        n
        for u, n in unified.items()
        if u.lower().startswith(("xl/worksheets/", "xl/chartsheets/", "xl/dialogsheets/", "xl/macrosheets/"))
    }
    if rels is None:
        return frozenset(out)
    for m in _RELATIONSHIP.finditer(rels):
        attrs = {k.lower(): v for k, v in _ATTR.findall(m.group(1))}
        if b"sheet" not in attrs.get(b"type", b"").lower():
            continue
        target = attrs.get(b"target", b"").decode("utf-8", "replace").replace("\\", "/")
        for cand in (target.lstrip("/"), "xl/" + target, posixpath.normpath("xl/" + target)):
            if cand in unified:
                out.add(unified[cand])
    return frozenset(out)


def _scan_zip(path: Path, data: bytes) -> _ZipScan:
    """Every check of an .xlsx/.ods before calamine sees it; also finds formulas without cached values.

    Each part is inflated once (:func:`_member`, which checks its true size and CRC) and kept for
    the other checks that look at it (the workbook's sheet names, the shared strings).
    """
    z = _zip_open(path, data)
    names = frozenset(z.namelist())
    kind = _zip_kind(names)
    if kind not in ("xlsx", "ods"):
        raise _refuse(path, _NOT_WORKBOOK.get(kind, _NOT_WORKBOOK["other"]))
    _zip_limits(path, z)
    inflated: dict[str, bytes] = {}

    def inflate(info: zipfile.ZipInfo) -> bytes:
        part = inflated.get(info.filename)
        if part is None:
            part = inflated[info.filename] = _member(path, z, data, info)
        return part

    def quietly(name: str) -> bytes | None:
        """A part looked at before its turn: None when it is missing or broken (its turn refuses it)."""
        try:
            return inflate(z.getinfo(name))
        except ReadTimeout:
            raise
        except (KeyError, ReadError):
            return None

    sheets = frozenset({"content.xml"})
    if kind == "xlsx":
        rels = inflate(z.getinfo(_WORKBOOK_RELS)) if _WORKBOOK_RELS in names else None
        sheets = _sheet_parts(names, rels)
    formulas: dict[str, set[tuple[int, int]]] = {}
    errors: dict[str, dict[tuple[int, int], str]] = {}
    ours: set[str] = set()
    names_cache: list[dict[str, str]] = []
    check_cache: list[bool] = []

    def sheet_names() -> dict[str, str]:
        if not names_cache:
            names_cache.append(_sheet_file_names(quietly("xl/workbook.xml"), quietly(_WORKBOOK_RELS)))
        return names_cache[0]

    def may_have_self_check() -> bool:  # the workbook's part names its sheets: no 自查, nothing to look for
        if not check_cache:
            check_cache.append(SELF_CHECK_SHEET.encode() in (quietly("xl/workbook.xml") or b""))
        return check_cache[0]

    for info in z.infolist():
        if info.filename.endswith("/") or not info.file_size:
            continue
        sheet = info.filename in sheets
        if not sheet and info.compress_size <= _VERIFY_ABOVE:
            # small: even a lying header cannot make it large; but any XML part may carry a DTD
            _check_dtd(path, inflate(info))
            continue
        label = functools.partial(lambda n: sheet_names().get(n) or n.rsplit("/", 1)[-1], info.filename)
        if sheet and kind == "xlsx" and info.file_size > _HEAD_ABOVE:
            m = _DIMENSION.search(_member(path, z, data, info, head=_HEAD))
            if m and m.group(3) and m.group(4):  # the declared used range, checked before inflating the rest
                _check_extent(
                    path, label, int(m.group(4)), _col_number(m.group(3)), m.group(3).decode() + m.group(4).decode()
                )
        part = inflate(info)
        if not sheet:
            _check_dtd(path, part)
            continue
        if part.startswith((b"\xff\xfe", b"\xfe\xff")):
            part = part.decode("utf-16", "replace").encode("utf-8")
        _check_dtd(path, part)
        if kind == "ods":
            errors.update(_ods_extents(path, part))
            continue
        if (
            may_have_self_check()
            and sheet_names().get(info.filename) == SELF_CHECK_SHEET
            and _self_check(part, functools.partial(quietly, "xl/sharedStrings.xml"))
        ):
            ours.add(SELF_CHECK_SHEET)  # never parsed: its extent does not matter
            continue
        # the parser takes cells from the sheetData element only: between the first and the last
        # mention of that name is every cell it can place
        lo, hi = part.find(b"sheetData"), part.rfind(b"sheetData")
        if (
            len(part) > _FAST_SCAN
            or b"<sheetData" not in part
            or not _small_area_fits()
            or _ODD_CELL.search(part, lo, hi)
        ):
            # (else every cell has a plain reference within ZZ999: the used area is within the limits)
            rows, cols, far, partial = _sheet_extent(part) if len(part) <= _FAST_SCAN else _sheet_extent_walk(part)
            _check_extent(path, label, rows, cols, far, partial)
        if _HAS_FORMULA.search(part, max(lo, 0), hi if hi >= 0 else len(part)):
            cells = _formula_cells(part)
            if cells and info.filename in sheet_names():
                formulas[sheet_names()[info.filename]] = cells
        if b't="e"' in part and info.filename in sheet_names():
            errors[sheet_names()[info.filename]] = _error_cells(part)
    return _ZipScan(kind, formulas, errors, ours)


# the first element's start: a document type declaration (and the entity declarations inside it)
# may only stand before it, in the prolog
_PROLOG_END = re.compile(rb"<[^?!]")


def _check_dtd(path: Path, part: bytes) -> None:
    """Refuse a part declaring a DTD or entities, whatever its name and encoding (UTF-8, UTF-16 with or
    without a byte-order mark): the parser must never see one.

    A declaration after the first element is not XML (a parser fails on it, never expands it), so only
    the prolog needs a look: the bytes before the first ``<`` that opens neither a declaration nor an
    instruction. A prolog of the XML declaration alone (every part Excel, WPS or LibreOffice writes) is
    searched; any other (a comment, a declaration, a second instruction, whose text could hold a
    ``<`` before more of the prolog) has the whole part searched, as before."""
    if part.startswith((b"\xff\xfe", b"\xfe\xff")):
        part = part.decode("utf-16", "replace").encode("utf-8")
    elif part[:2] in (b"<\x00", b"\x00<"):
        part = part.decode("utf-16-le" if part[0] == 0x3C else "utf-16-be", "replace").encode("utf-8")
    m = _PROLOG_END.search(part)
    if m is not None:
        head = part[: m.start()]
        if b"<!" not in head and head.count(b"<?") <= 1:
            part = head
    if b"<!" in part and _DTD_DECL.search(part):
        raise _refuse(
            path,
            "含有 XML 文档类型定义（DTD/实体声明）。正常的 Excel/WPS 文件不会有，可能是恶意构造的文件，已拒绝读取。",
        )


def _scan_all_dtd(path: Path, data: bytes) -> None:
    """After the parser failed: was it a DTD in a part that was not inflated before? Name it."""
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        for info in z.infolist():
            if info.file_size and not info.filename.endswith("/"):
                _check_dtd(path, _member(path, z, data, info))
    except ReadError as exc:
        if "DTD" in exc.message:
            raise
    except Exception:  # the parser's own message stands
        pass


def load_sheets(path: Path, data: bytes | None = None) -> list[Sheet]:
    """Every sheet of a workbook as rows of values, with merged ranges; hostile files are refused first."""
    import python_calamine as pc

    path = Path(path)
    if data is None:
        data = read_file_bytes(path)
    kind = sniff_kind(data)
    formulas: dict[str, set[tuple[int, int]]] = {}
    errors: dict[str, dict[tuple[int, int], str]] = {}
    ours: set[str] = set()
    if kind == "zip":
        scan = _scan_zip(path, data)
        formulas, errors, ours = scan.formulas, scan.errors, scan.ours
    elif kind == "ole":
        try:
            cfb = _Cfb(data)
            ole = _ole_kind(cfb)
        except (ValueError, struct.error):
            raise _refuse(path, _NOT_WORKBOOK["broken"]) from None
        if ole != "xls":
            raise _refuse(path, _NOT_WORKBOOK[ole])
        errors = _check_xls(path, cfb)
    elif path.suffix.lower() in WPS_SHEET and kind not in ("empty", "zeros"):  # WPS's own format: WPS converts it
        raise _refuse(path, _NOT_WORKBOOK["wps"])
    else:
        raise _refuse(path, _NOT_WORKBOOK.get(kind, _NOT_WORKBOOK["other"]))
    try:
        wb = pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except ReadError:
        raise
    except BaseException as exc:  # calamine raises its own error types
        if not _parser_failure(exc):
            raise
        _raise_timeout(exc)
        if isinstance(exc, getattr(pc, "PasswordError", ())):
            raise _refuse(path, _NOT_WORKBOOK["encrypted"]) from exc
        if kind == "zip":
            _scan_all_dtd(path, data)
        raise _refuse(
            path, f"无法读取（{_calamine_reason(exc)}）。请用 Excel 或 WPS 打开后另存为 .xlsx 再试。"
        ) from exc
    sheets = []
    try:
        names = wb.sheet_names
        if len(names) > MAX_SHEETS:
            raise _refuse(path, f"有 {len(names)} 个工作表，超过上限 {MAX_SHEETS} 个，可能是异常文件，已拒绝读取。")
        merged_total = 0
        try:
            hidden = {m.name for m in wb.sheets_metadata if str(m.visible).rsplit(".", 1)[-1] != "Visible"}
        except Exception:  # an older parser without sheet metadata: every sheet counts as shown
            hidden = set()
        for name in names:
            if name in ours:  # our template's 自查 sheet, which the reader leaves out anyway
                continue
            try:
                ws = wb.get_sheet_by_name(name)
                _check_extent(path, name, ws.height, ws.width)
                rows = ws.to_python(skip_empty_area=False)
                merges = ws.merged_cell_ranges or []
            except ReadError:
                raise
            except BaseException as exc:
                if not _parser_failure(exc):
                    raise
                _raise_timeout(exc)
                if kind == "zip":
                    _scan_all_dtd(path, data)
                raise _refuse(
                    path,
                    f"的工作表“{name}”无法读取（{_calamine_reason(exc)}）。请用 Excel 或 WPS 打开后另存为 .xlsx 再试。",
                ) from exc
            height = len(rows)
            width = max((len(r) for r in rows), default=0)
            origin: dict[tuple[int, int], tuple[int, int]] = {}
            for (r0, c0), (r1, c1) in merges:
                # clip to the used area: a merge over the whole sheet covers nothing that holds data
                r0, c0 = max(r0, 0), max(c0, 0)
                r1, c1 = min(r1, height - 1), min(c1, width - 1)
                if r0 > r1 or c0 > c1:
                    continue
                merged_total += (r1 - r0 + 1) * (c1 - c0 + 1)
                if merged_total > MAX_MERGED_CELLS:
                    raise _refuse(
                        path,
                        f"的合并单元格过多（超过 {MAX_MERGED_CELLS} 个单元格），可能是异常文件，"
                        "请取消不必要的合并后另存再试。",
                    )
                for r in range(r0, r1 + 1):
                    for c in range(c0, c1 + 1):
                        if (r, c) != (r0, c0):
                            origin.setdefault((r, c), (r0, c0))
            sheets.append(
                Sheet(
                    name, rows, origin, formulas.get(name, set()), tuple(merges), name in hidden, errors.get(name, {})
                )
            )
    finally:
        wb.close()
    return sheets


def _raise_timeout(exc: BaseException) -> None:
    """The parser's error when our time limit interrupted it (it wraps the exception in its own): the timeout."""
    seen = 0
    cause: BaseException | None = exc
    while cause is not None and seen < 20:
        if isinstance(cause, ReadTimeout):
            raise cause from None
        cause, seen = cause.__cause__ or cause.__context__, seen + 1


def _parser_failure(exc: BaseException) -> bool:
    """An error of the parser, including a Rust panic (pyo3's PanicException derives from BaseException)."""
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


def _calamine_reason(exc: BaseException) -> str:
    """calamine's error text, shortened (it is English; the Chinese advice follows it)."""
    text = " ".join(str(exc).split())
    return (text[:120] + "…") if len(text) > 120 else (text or type(exc).__name__)


_HAS_FORMULA = re.compile(rb"<f[ >/]")
# a formula cell (its formula is the cell's first element) not followed by a cached value <v>…</v>;
# formula text cannot hold a raw "<" (XML escapes it), so [^<]* spans it
_UNCACHED = re.compile(rb'<c\b[^>]*?\br="([A-Z]+)(\d+)"[^>]*>(?:<f\b[^>]*/>|<f\b[^>]*>[^<]*</f>)(?!<v>[^<])')


def _formula_cells(data: bytes) -> set[tuple[int, int]]:
    """Formula cells whose cached value is missing (e.g. written by a script, never opened in Excel)."""
    cells = set()
    for m in _UNCACHED.finditer(data):
        col = 0
        for ch in m.group(1):
            col = col * 26 + ch - 64
        cells.add((int(m.group(2)) - 1, col - 1))
    return cells


# a cell holding an error value (t="e"): a formula's cached result, or an error pasted as a value
_ERROR_CELL = re.compile(
    rb'<c\b(?=[^>]*\bt="e")[^>]*?\br="([A-Z]+)(\d+)"[^>]*>(?:<f\b[^>]*/>|<f\b[^>]*>[^<]*</f>)?<v>([^<]*)</v>'
)


def _error_cells(data: bytes) -> dict[tuple[int, int], str]:
    """Cells of a worksheet part holding an error value (#DIV/0!, #N/A), with the value as shown."""
    return {
        (int(m.group(2)) - 1, _col_number(m.group(1)) - 1): m.group(3).decode("utf-8", "replace")
        for m in _ERROR_CELL.finditer(data)
    }


@lru_cache(maxsize=64)
def _sheet_file_names(workbook: bytes | None, rels: bytes | None) -> dict[str, str]:
    """Sheet part → sheet name, from the inflated xl/workbook.xml and its relationships (None: missing
    or broken). Kept by their bytes: files from one template share them. Callers must not change it."""
    from defusedxml import ElementTree as ET

    ns = {
        "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
        "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    }
    if workbook is None or rels is None:
        return {}
    try:
        wb = ET.fromstring(workbook)
        rel_tree = ET.fromstring(rels)
    except Exception:  # parts were size-checked already; a malformed one just names no sheets
        return {}
    target = {r.get("Id"): r.get("Target") for r in rel_tree}
    out = {}
    for s in wb.iterfind("m:sheets/m:sheet", ns):
        t = target.get(s.get(f"{{{ns['r']}}}id")) or ""
        t = t.lstrip("/")
        out[t if t.startswith("xl/") else "xl/" + t] = s.get("name")
    return out


# --------------------------------------------------------------------------- form index


@dataclass
class _TableIndex:
    table: Table
    order: dict[str, int]
    rows_exact: dict[str, list[str]]
    rows_core: dict[str, list[str]]
    cols_exact: dict[str, list[str]]
    cols_core: dict[str, list[str]]
    title: re.Pattern
    aliases: set[str]  # normalised other titles
    label_markers: set[str]  # texts over label columns (信息内容, 统计指标, corner)
    unit_markers: set[str]
    single_unlabelled: str | None  # id of the only row when it has no label (table 四)
    # what is looked up for every unit, made once: the cells each row carries (row_columns order),
    # the rows carrying each value column, the value rows
    row_cells: dict[str, tuple[tuple[str, Cell], ...]] = field(default_factory=dict)
    column_rows: dict[str, frozenset[str]] = field(default_factory=dict)
    value_rows: tuple[Any, ...] = ()


@dataclass
class _FormIndex:
    form: Form
    tables: dict[str, _TableIndex]
    labels: set[str]  # every normalised label of the form, for detection
    meta: dict[str, str]  # normalised field label → field id
    sections: dict[str, str]  # normalised heading → section id
    hints: set[str]
    text_sections: set[str] = field(default_factory=set)  # ids of the sections that hold text
    numbered: dict[str, str] = field(default_factory=dict)  # "五、" → id of the text section so numbered
    title_cache: dict[str, tuple[str, int | str | None] | None] = field(default_factory=dict)
    cell_order: dict[str, int] = field(default_factory=dict)  # the form's cell order, for unit.values
    walk_labels: frozenset[str] = frozenset()  # exact labels the sheet walk looks up, of every table
    walk_texts: dict[str, bool] = field(default_factory=dict)  # _walk_text
    meta_labels: dict[str, tuple[str | None, str | None, bool, str]] = field(default_factory=dict)  # _meta_label


def _add(index: dict[str, list[str]], key: str, value: str) -> None:
    if key and value not in index.setdefault(key, []):
        index[key].append(value)


def _title_regex(title: str) -> re.Pattern:
    parts = [re.escape(norm(p)) for p in title.split("{year}")]
    return re.compile("^" + r"(\d{4})?".join(parts) + "$")


@lru_cache(maxsize=32)
def _index(form: Form) -> _FormIndex:
    tables = {}
    labels: set[str] = set()
    for t in form.tables.values():
        rows_exact: dict[str, list[str]] = {}
        rows_core: dict[str, list[str]] = {}
        cols_exact: dict[str, list[str]] = {}
        cols_core: dict[str, list[str]] = {}
        for n in t.rows.values():
            for lab in (n.label,) + n.aliases:
                _add(rows_exact, norm(lab), n.id)
                _add(rows_core, core(lab), n.id)
                labels.add(norm(lab))
        for n in t.columns.values():
            for lab in (n.label,) + n.aliases:
                if "{year}" in lab:
                    continue
                _add(cols_exact, norm(lab), n.id)
                _add(cols_core, core(lab), n.id)
                labels.add(norm(lab))
        labels.add(norm(t.title_for(None)))
        markers = {norm(x) for x in (t.label_header, t.corner) if x}
        unlabelled = [n.id for n in t.rows.values() if not n.label]
        tables[t.id] = _TableIndex(
            table=t,
            order={rid: i for i, rid in enumerate(t.rows)},
            rows_exact=rows_exact,
            rows_core=rows_core,
            cols_exact=cols_exact,
            cols_core=cols_core,
            title=_title_regex(t.title),
            aliases={norm(a) for a in t.aliases},
            label_markers=markers,
            unit_markers={norm(t.unit_header)} if t.unit_header else set(),
            single_unlabelled=unlabelled[0] if len(t.rows) == 1 and unlabelled else None,
            row_cells={
                rid: tuple((col, t.cells[f"{t.id}.{rid}.{col}"]) for col in t.row_columns(rid))
                for rid, n in t.rows.items()
                if n.has_value
            },
            column_rows={
                c.id: frozenset(n.id for n in t.value_rows() if c.id in t.row_columns(n.id)) for c in t.value_columns()
            },
            value_rows=tuple(t.value_rows()),
        )
        for alias in t.aliases:
            labels.add(norm(alias))
    labels.discard("")
    meta = {}
    for f in form.metadata:
        for lab in (f.label,) + f.aliases:
            meta[norm(lab)] = f.id
    sections = {}
    for s in form.sections:
        for lab in (s.heading,) + s.aliases:
            sections[norm(lab)] = s.id
    hints = {norm(x.hint) for x in list(form.metadata) + list(form.sections) if x.hint}
    text_sections = {s.id for s in form.sections if s.kind == "text"}
    numbered = {}
    for s in form.sections:
        m = re.match(r"^[一二三四五六七八九十]{1,2}、", norm(s.heading))
        if m and s.kind == "text":
            numbered[m.group(0)] = s.id
    order = {cid: i for i, cid in enumerate(form.cells)}
    walk_labels = frozenset(
        n for ti in tables.values() for n in (*ti.cols_exact, *ti.label_markers, *ti.unit_markers, *ti.rows_exact)
    )
    return _FormIndex(
        form, tables, labels, meta, sections, hints, text_sections, numbered, cell_order=order, walk_labels=walk_labels
    )


_YEAR_MARK = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
_PREV_MARK = re.compile(r"上一?年|去年|前一年")
_THIS_MARK = re.compile(r"本年|今年|当年")
_TITLE_YEAR = re.compile(r"[(\[]?((?:19|20)\d{2})年度?[)\]]?")
_TITLE_PREFIX = re.compile(r"^(?:上一?年度?|去年|本年度?|今年)的?")


def _year_tag(text: str) -> int | str | None:
    """The year a sheet name or a title marks: 2024, "prev" (上年/去年), "this" (本年/今年) or None."""
    s = unicodedata.normalize("NFKC", text)
    m = _YEAR_MARK.search(s)
    if m:
        return int(m.group(1))
    if _PREV_MARK.search(s):
        return "prev"
    if _THIS_MARK.search(s):
        return "this"
    return None


def _title_lookup(fi: _FormIndex, n: str) -> tuple[str, int | str | None] | None:
    for tid, ti in fi.tables.items():
        m = ti.title.match(n)
        if m:
            return tid, int(m.group(1)) if m.groups() and m.group(1) else None
        if n in ti.aliases:
            return tid, None
    return None


def _title_table(fi: _FormIndex, text: str) -> tuple[str, int | str | None] | None:
    """(table id, year mark) when ``text`` is a table's title, also with a year added
    (``三、收到和处理政府信息公开申请情况（2024年）``, ``上年表三``-style prefixes)."""
    n = norm(text)
    if n in fi.title_cache:
        return fi.title_cache[n]
    hit = _title_lookup(fi, n)
    if hit is None and (_TITLE_PREFIX.match(n) or _TITLE_YEAR.search(n)):
        tag: int | str | None = None
        p = _TITLE_PREFIX.match(n)
        if p:
            tag = "prev" if _PREV_MARK.search(p.group(0)) else "this"
            n2 = n[p.end() :]
        else:
            n2 = n
        y = _TITLE_YEAR.search(n2)
        if y:
            tag = int(y.group(1))
            n2 = n2[: y.start()] + n2[y.end() :]
        found = _title_lookup(fi, n2)
        hit = (found[0], tag) if found else None
    if len(fi.title_cache) < 4096:
        fi.title_cache[n] = hit
    return hit


def detect_form(sheets: list[Sheet], forms: dict[str, Form]) -> tuple[Form, int]:
    """The form whose labels the workbook shows most; ties go to the newer form."""
    texts = {norm(v) for v in {v for s in sheets for _, _, v in s.strings}}
    best = None
    for form in forms.values():
        fi = _index(form)
        score = len(texts & fi.labels)
        key = (score, form.years[0] or 0)
        if best is None or key > best[0]:
            best = (key, form)
    if best is None or best[0][0] < 3:
        raise ReadError("未找到政府信息公开统计表：工作簿中没有可识别的表格标签。")
    return best[1], best[0][0]


# --------------------------------------------------------------------------- values


_SPACE_AROUND = re.compile(r"(?<![\d.])\s+|\s+(?![\d.])")  # spaces that are not between two digits
_SPACE_GROUPS = re.compile(r"[+\-]?\d{1,3}(?: \d{3})+(?:\.\d+)?\D*")


def _float_decimal(x: float) -> Decimal:
    """A number a cell holds as a float, as the decimal it shows: at most 15 significant digits, all
    that Excel keeps of a number typed and all it shows of one computed. Past them is the noise of
    binary floats: =0.1+0.2 is saved as 0.30000000000000004 and shown, and read, as 0.3; 12.5 and
    1234567.89 stay as they are."""
    return Decimal(f"{x:.15g}")


def parse_value(raw: Any, cell: Cell) -> tuple[Any, str | None, str]:
    """(value, problem, severity). Blank stays None; anything unclear is a problem, never a guess."""
    kind = type(raw)
    if (kind is float or kind is int) and 0 <= raw <= MAX_VALUE and cell.type != "decimal" and raw == int(raw):
        return int(raw), None, ""  # a whole count, as most are: what the general path below gives
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, None, ""
    if isinstance(raw, bool):
        return None, f"应填写数字，实为“{raw}”", ERROR
    if isinstance(raw, (datetime, date)):
        return None, f"应填写数字，实为日期“{raw}”", ERROR
    if isinstance(raw, (int, float)):
        if raw != raw or raw in (_INF, -_INF):  # "nan"/"inf" or 1e999 in the sheet XML
            return None, f"应填写数字，实为“{raw}”", ERROR
        if not -MAX_VALUE <= raw <= MAX_VALUE:
            return None, f"数值过大，实为“{raw}”（超过 1 万亿），请核对", ERROR
        number = _float_decimal(raw) if isinstance(raw, float) else Decimal(raw)
        text = None
        raw = _shown_raw(raw)  # as the cell shows it, in what is said below
    else:
        text = _SPACE_AROUND.sub("", unicodedata.normalize("NFKC", str(raw)).strip())
        if " " in text:  # a space between digits: 1 234 groups thousands; 46 2 is no number
            if not _SPACE_GROUPS.fullmatch(text):
                return None, f"数字中间有空格，实为“{raw}”，无法确定是哪个数，请改正", ERROR
            text = text.replace(" ", "")
        if text in _BLANK_MARKS:
            return None, f"填写了“{raw}”，按空白处理；没有发生请填 0", WARNING
        body = text
        suffix = ""
        for u in UNITS:
            if body.endswith(u):
                body, suffix = body[: -len(u)], u
                break
        if re.fullmatch(r"[+\-]?\d{1,3}(,\d{3})+(\.\d+)?", body):
            body = body.replace(",", "")
        if not re.fullmatch(r"[+\-]?(\d+(\.\d*)?|\.\d+)", body):
            return None, f"应填写数字，实为“{raw}”", ERROR
        try:
            number = Decimal(body)
        except InvalidOperation:  # pragma: no cover - guarded by the regex
            return None, f"应填写数字，实为“{raw}”", ERROR
        if abs(number) > MAX_VALUE:
            return None, f"数值过大，实为“{raw}”（超过 1 万亿），请核对", ERROR
    if cell.type == "decimal":
        if number < 0:
            return None, f"金额不能为负数，实为“{raw}”", ERROR
        said = ""
        if text is not None and suffix == "元" and cell.unit == "万元":  # 3000元 in a 万元 column is 0.3 万元
            number = number / 10000
            said = f"填写的是“{raw}”（元），该栏以万元为单位，已换算为 {_shown(number.normalize())} 万元读取；请核实，并改为按万元填写"
        value = number.normalize() if number == number.to_integral_value() else number
        return value, said or None, WARNING if said else ""
    if number != number.to_integral_value():
        return None, f"应为整数，实为“{raw}”", ERROR
    if number < 0 and cell.type != "signed_int":
        return None, f"不能为负数，实为“{raw}”", ERROR
    return int(number), None, ""


# a value the checked workbook proposes for a blank cell (建议 12): not entered data, the cell is blank
_PROPOSAL = re.compile(r"建议\s*[+\-]?\d+(\.\d+)?")

# a note that makes the number before it uncertain: 12（约）, 30（左右）
_HEDGE = re.compile(r"约|大约|左右|上下|估计|估算|预计|以上|以下|余|多|不少于|至少|不足|不到|待核实|待定|暂定|\?|？")


def _says_money_unit(raw: Any) -> bool:
    """Whether a cell's text names its own money unit (3万元, 3000元)."""
    return isinstance(raw, str) and norm(raw).endswith("元")


def _shown_raw(v: Any) -> str:
    """A cell's content as people typed it (1286, not 1286.0; 0.3, not 0.30000000000000004)."""
    if isinstance(v, float) and v == v and v not in (_INF, -_INF):
        d = _float_decimal(v)
        return str(int(d)) if d == d.to_integral_value() else format(d, "f")
    return v.strip() if isinstance(v, str) else str(v)


def _shown(value: Any) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)


_CN_DIGITS = str.maketrans("〇○零一二三四五六七八九", "00012345678" + "9")
_CN_YEAR = re.compile(r"(?<![〇○零一二三四五六七八九十百千])([〇○零一二三四五六七八九]{4})(?=\s*年)")


def _digit_years(text: str) -> str:
    """Years written in Chinese numerals (二〇二五年) as digits (2025年)."""
    if "年" not in text:
        return text
    return _CN_YEAR.sub(lambda m: m.group(1).translate(_CN_DIGITS), text)


def _parse_year(raw: Any) -> int | None:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return int(raw) if 1990 <= raw <= 2100 and float(raw).is_integer() else None
    if isinstance(raw, str):
        text = unicodedata.normalize("NFKC", raw).strip()
        if re.fullmatch(r"[〇○零一二三四五六七八九]{4}\s*年?度?", text):  # 二〇二五
            text = text.translate(_CN_DIGITS)
        m = re.fullmatch(r"(\d{4})\s*年?度?", text)
        if m and 1990 <= int(m.group(1)) <= 2100:
            return int(m.group(1))
    return None


# --------------------------------------------------------------------------- the walk


def _is_number(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float)):
        return True
    return isinstance(v, str) and looks_like_number(v)


class _ColumnMap(dict[int, str]):
    """A header band's value columns: sheet column → column id. A band's rows share its map, and a
    cached walk keeps it with them.

    ``stated``: for an amount column whose header states another money unit than the form's
    (本年收费金额（单位：元） over a 万元 column), sheet column → (that unit, the header's A1, its text).
    """

    def __init__(self) -> None:
        super().__init__()
        self.stated: dict[int, tuple[str, str, str]] = {}


def _header_money_unit(text: str) -> str | None:
    """The money unit a column header states: 元 for 本年收费金额（单位：元）; None when it states none."""
    m = _HEADER_MONEY.search(norm(text))
    return (m.group(1) or m.group(2)) if m else None


@dataclass(eq=False)
class _Instance:
    """One copy of a table as the walk met it: a title or header on one sheet and the rows below.

    Rows are only recorded during the walk; their values are read once every sheet is walked
    and it is known which copy belongs to the unit's year (a workbook may also hold last year's).
    """

    table: str
    sheet: Sheet
    tag: int | str | None = None  # year its own title gives: 2024, "prev" (上年), "this" (本年)
    title_ref: str | None = None  # A1 of that title
    # row, row id, match quality, label text, column map, label column
    rows: list[tuple[int, str, str, str, _ColumnMap, int]] = field(default_factory=list)
    matched: set[str] = field(default_factory=set)
    columns: set[str] = field(default_factory=set)
    findings: list[Finding] = field(default_factory=list)
    blank_row: tuple[int, _ColumnMap] | None = None  # where an unlabelled single row sits when left blank

    def place(self) -> str:
        return f"{'隐藏的' if self.sheet.hidden else ''}工作表“{self.sheet.name}”"

    def ref(self) -> str:
        """sheet!A1 of the copy's title, else of its first row."""
        if self.title_ref:
            return f"{self.sheet.name}!{self.title_ref}"
        r = self.rows[0][0] if self.rows else self.blank_row[0] if self.blank_row else 0
        return f"{self.sheet.name}!{a1(r, 0)}"


def _cell_class(v: Any) -> Any:
    """What the sheet walk can tell of a cell: its text, or only that it is empty, a number or else."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return 1
    return 2


_KEPT_TEXT = 120  # texts longer than this (a unit's own paragraphs, never a label) are not kept per form


def _walk_text(fi: _FormIndex, v: str) -> bool:
    """Whether a cell's text can make the sheet walk do anything from its start: a table's title, or a
    label it looks up exactly (a column header or header marker, a row label). Until one such text is
    met the walk has no table and no header band, where every row does nothing (fuzzy matching only
    follows a table). Kept per form index."""
    hit = fi.walk_texts.get(v)
    if hit is None:
        text = v.strip()
        hit = bool(text) and (norm(text) in fi.walk_labels or _title_table(fi, text) is not None)
        if len(v) <= _KEPT_TEXT and len(fi.walk_texts) < 16384:
            fi.walk_texts[v] = hit
    return hit


def _has_table_text(fi: _FormIndex, sheet: Sheet) -> bool:
    texts = fi.walk_texts
    return any(texts.get(v) or (v not in texts and _walk_text(fi, v)) for _, _, v in sheet.strings)


# _cell_class by the type of what the parser gives (a text or None is its own class, as any type not
# listed, which keeps layouts apart more finely, never less)
_CLASS_BY_TYPE = {int: 1, float: 1, bool: 2, datetime: 2, date: 2, dt_time: 2, timedelta: 2}


@dataclass(frozen=True)
class _WalkedCopy:
    """One table copy as a sheet walk left it, to be given to a sheet laid out the same way."""

    table: str
    tag: int | str | None
    title_ref: str | None
    rows: tuple[tuple[int, str, str, str, _ColumnMap, int], ...]
    matched: frozenset[str]
    columns: frozenset[str]
    findings: tuple[Finding, ...]
    blank_row: tuple[int, _ColumnMap] | None

    @classmethod
    def of(cls, inst: _Instance) -> _WalkedCopy:
        return cls(
            inst.table,
            inst.tag,
            inst.title_ref,
            tuple(inst.rows),
            frozenset(inst.matched),
            frozenset(inst.columns),
            tuple(copy.copy(f) for f in inst.findings),
            inst.blank_row,
        )

    def instance(self, sheet: Sheet) -> _Instance:
        return _Instance(
            self.table,
            sheet,
            self.tag,
            self.title_ref,
            list(self.rows),
            set(self.matched),
            set(self.columns),
            [copy.copy(f) for f in self.findings],
            self.blank_row,
        )


class _Key:
    """A layout cache key: a large tuple whose hash is computed once (a lookup hashes it up to three times)."""

    __slots__ = ("hash", "parts")

    def __init__(self, parts: tuple) -> None:
        self.parts = parts
        self.hash = hash(parts)

    def __hash__(self) -> int:
        return self.hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Key) and self.hash == other.hash and self.parts == other.parts


class _LayoutCache:
    """Sheet walks by layout: the walk (which rows are which table's, column maps, label findings)
    sees only the texts of a sheet, where its numbers and blanks are, its merges and its name; a
    sheet equal in all of these to one walked before gets that walk's table copies, and only its
    values are read. Leading rows the walk passed over (a report title naming the unit) are left
    out of the layout once the new sheet's own walk shows they do nothing there either.

    Per process and bounded: batch workers are long-lived, and a district's files share a template.
    """

    MAX_SKIPS = 4  # leading-row counts remembered per sheet name

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: dict[_Key, tuple[_FormIndex, tuple[_WalkedCopy, ...]]] = {}
        self.skips: dict[str, list[int]] = {}
        self.hits = 0  # sheets given a cached walk (for tests and benchmarks)

    def clear(self) -> None:
        self.entries.clear()
        self.skips.clear()
        self.hits = 0

    @staticmethod
    def _head(reader: _Reader, sheet: Sheet, rowsigs: list[tuple]) -> tuple:
        # the merges with the row lengths (in rowsigs) make the same ``origin``: cheaper to compare
        merged = (
            ("merges", sheet.merges) if sheet.merges is not None else ("origin", tuple(sorted(sheet.origin.items())))
        )
        return (id(reader.fi), reader.unit.year, sheet.name, len(rowsigs), merged)

    def keys(self, reader: _Reader, sheet: Sheet, rowsigs: list[tuple]) -> Iterator[tuple[_Key, int]]:
        skips = self.skips.get(sheet.name)
        if not skips:
            return
        head = self._head(reader, sheet, rowsigs)
        for k in list(skips):
            if k <= len(rowsigs):
                yield _Key((head, k, tuple(rowsigs[k:]))), k

    def get(self, key: _Key, fi: _FormIndex) -> tuple[_WalkedCopy, ...] | None:
        entry = self.entries.get(key)
        if entry is None or entry[0] is not fi:
            return None
        self.entries[key] = self.entries.pop(key)  # most recently used last
        return entry[1]

    def store(self, reader: _Reader, sheet: Sheet, rowsigs: list[tuple], k: int, made: list[_Instance]) -> None:
        if not made or any(r >= k > r0 for (r, _), (r0, _) in sheet.origin.items()):
            # a sheet without tables (its rows all did nothing: checking them again is its whole walk),
            # or a merge reaching from the skipped rows into a table (its text is part of the layout)
            k = 0
        key = _Key((self._head(reader, sheet, rowsigs), k, tuple(rowsigs[k:])))
        self.entries[key] = (reader.fi, tuple(_WalkedCopy.of(inst) for inst in made))
        while len(self.entries) > self.size:
            del self.entries[next(iter(self.entries))]
        skips = self.skips.setdefault(sheet.name, [])
        if k in skips:
            skips.remove(k)
        skips.insert(0, k)
        del skips[self.MAX_SKIPS :]
        if len(self.skips) > self.size:
            del self.skips[next(iter(self.skips))]


LAYOUT_CACHE_SIZE = 128  # sheet layouts kept per process (a few KB each)
_layout_cache = _LayoutCache(LAYOUT_CACHE_SIZE)


def set_layout_cache_size(size: int) -> None:
    """Empty the cache of sheet layouts and keep at most ``size`` from now on (0 turns it off)."""
    _layout_cache.clear()
    _layout_cache.size = size


class _Reader:
    def __init__(self, unit: Unit, fi: _FormIndex, sheet_tags: dict[str, int | str | None] | None = None):
        self.unit = unit
        self.fi = fi
        self.form = fi.form
        self.sheet_tags = sheet_tags or {}
        self.found: dict[str, tuple[str, int]] = {}  # "table.row" → (sheet, row) of the matched row
        self.tables_seen: set[str] = set()
        self.columns_seen: dict[str, set[str]] = {}
        self.hybrid: set[str] = set()
        self.instances: list[_Instance] = []
        self.inst: _Instance | None = None
        self.sink: list[Finding] = unit.findings  # findings of the walk wait in their table copy
        self._by_col: dict[int, dict[str, int]] = {}  # id of a column map → its inverse

    def add(
        self,
        rule: str,
        severity: Severity | str,
        message: str,
        table: str | None = None,
        cells: tuple[str, ...] = (),
        cell_ids: tuple[str, ...] = (),
        actual: Any = None,
    ) -> None:
        self.sink.append(
            Finding(
                rule=rule,
                severity=Severity(severity),
                message=message,
                table=table,
                cells=cells,
                cell_ids=cell_ids,
                actual=actual,
            )
        )

    # -- columns ------------------------------------------------------------------------------

    def _header_hits(self, texts: list[str], ti: _TableIndex) -> int:
        hits = 0
        for t in texts:
            n = norm(t)
            if n in ti.cols_exact or n in ti.label_markers or n in ti.unit_markers:
                hits += 1
        return hits

    def _finalize_band(self, sheet: Sheet, band: list[int], ti: _TableIndex):
        colmap = _ColumnMap()
        label_cols: set[int] = set()
        aux_cols: set[int] = set()
        used: set[str] = set()
        width = max((len(sheet.rows[r]) for r in band), default=0)
        t = ti.table
        for c in range(width):
            path: list[str] = []
            origins: list[tuple[int, int]] = []  # where each text of the path stands
            last_origin = None
            leaf_origin_col = None
            for r in band:
                o = sheet.origin.get((r, c), (r, c))
                text = sheet.text(r, c)
                if text and o != last_origin:
                    path.append(text)
                    origins.append(o)
                    leaf_origin_col = o[1]
                last_origin = o if text else last_origin
            if not path:
                continue
            leaf = norm(path[-1])
            if leaf in ti.label_markers or any(norm(p) in ti.label_markers for p in path):
                label_cols.add(c)
                continue
            if leaf in ti.unit_markers:
                aux_cols.add(c)
                continue
            if leaf_origin_col != c:
                continue  # continuation of a header merged across: the value sits at its origin
            cands = ti.cols_exact.get(leaf) or []
            quality = "exact"
            if not cands:
                year_col = [
                    cid
                    for cid in t.columns
                    if any("{year}" in lab for lab in t.columns[cid].aliases) and re.fullmatch(r"\d{4}年度?", leaf)
                ]
                cands = year_col
            if not cands:
                cands = ti.cols_core.get(core(path[-1])) or []
                quality = "core"
            if not cands:
                best = self._fuzzy(
                    leaf,
                    [
                        (n.id, lab)
                        for n in t.columns.values()
                        if not n.children
                        for lab in (n.label,) + n.aliases
                        if "{year}" not in lab
                    ],
                )
                cands = [best] if best else []
                quality = "fuzzy"
            cands = [x for x in cands if not t.columns[x].children and not t.columns[x].heading]
            if not cands:
                continue  # 备注 or other extra column: ignored
            path_norms = {norm(p) for p in path[:-1]}
            scored = sorted(
                cands,
                key=lambda x: (
                    -sum(norm(p) in path_norms for p in t.columns[x].path[:-1]),
                    x in used,
                    list(t.columns).index(x),
                ),
            )
            chosen = scored[0]
            if chosen in used:
                self.add(
                    "READ.duplicate_column",
                    WARNING,
                    f"{self._tname(t)}的栏目“{path[-1]}”重复出现（{sheet.name}!{col_letter(c)}列），只读取第一列。",
                    table=t.id,
                    cells=(f"{sheet.name}!{a1(band[-1], c)}",),
                )
                continue
            used.add(chosen)
            colmap[c] = chosen
            unit = t.columns[chosen].unit
            stated = None
            if unit in _MONEY_UNITS:  # an amount column: its header may say in what unit it was filled
                stated = next(
                    (
                        (u, a1(*o), text)
                        for text, o in zip(path[::-1], origins[::-1])
                        if (u := _header_money_unit(text))
                    ),
                    None,
                )
            note = ""
            if stated and stated[0] != unit:
                colmap.stated[c] = stated
                note = f"，该栏的金额按表头所写的{stated[0]}换算为{unit}"
            if quality != "exact":
                self._label_warning(t, "栏目", path[-1], t.columns[chosen].label, sheet.name, a1(band[-1], c), note)
        if label_cols and colmap and min(label_cols) < min(colmap):
            # every column between the label header and the first value column holds labels
            # (needed where merges are lost, e.g. .ods, or cells were unmerged by hand)
            label_cols = set(range(min(label_cols), min(colmap))) - aux_cols
        return colmap, label_cols, aux_cols

    # -- rows ---------------------------------------------------------------------------------

    def _fuzzy(self, text: str, candidates: list[tuple[str, str]]) -> str | None:
        if len(core(text)) < 3:
            return None
        whole, kernel = norm(text), core(text)
        # a label whose length alone keeps it below FUZZY_MIN − 0.05 can neither match nor, as the
        # runner-up, stop a match: skip it (a long note line is not compared with every label)
        floor = _FUZZY_MIN - 0.05

        def within(a: str, b: str) -> bool:
            return 2 * min(len(a), len(b)) >= floor * (len(a) + len(b))

        scores = sorted(
            ((similar(whole, norm(lab)), nid) for nid, lab in candidates if within(whole, norm(lab))), reverse=True
        )
        scores += [
            (similar(kernel, core(lab)), nid) for nid, lab in candidates if core(lab) and within(kernel, core(lab))
        ]
        scores.sort(reverse=True)
        if not scores or scores[0][0] < _FUZZY_MIN:
            return None
        runner_up = next((s for s, nid in scores if nid != scores[0][1]), 0.0)
        return scores[0][1] if scores[0][0] - runner_up >= 0.05 else None

    def _match_row(self, ti: _TableIndex, texts: list[str], last: int) -> tuple[str, str, str] | None:
        """(row id, quality, text) for the row whose labels are ``texts`` (left to right)."""
        if not texts:
            return None
        t = ti.table
        leaf = texts[-1]
        context = {norm(x) for x in texts[:-1]}
        for quality, cands in (("exact", ti.rows_exact.get(norm(leaf))), ("core", ti.rows_core.get(core(leaf)))):
            if cands:
                return self._choose(ti, cands, context, last), quality, leaf
        best = self._fuzzy(leaf, [(n.id, lab) for n in t.rows.values() for lab in (n.label,) + n.aliases if lab])
        if best:
            return best, "fuzzy", leaf
        return None

    def _choose(self, ti: _TableIndex, cands: list[str], context: set[str], last: int) -> str:
        if len(cands) == 1:
            return cands[0]
        t = ti.table

        def key(rid: str):
            ctx = sum(norm(p) in context for p in t.rows[rid].path[:-1])
            o = ti.order[rid]
            done = self.inst is not None and rid in self.inst.matched
            return (-ctx, done, 0 if o > last else 1, o if o > last else -o)

        return sorted(cands, key=key)[0]

    def _label_warning(
        self, t: Table, what: str, text: str, official: str, sheet: str, ref: str, note: str = ""
    ) -> None:
        self.add(
            "READ.label",
            WARNING,
            f"{self._tname(t)}{what}“{text}”与官方表述“{official}”不一致，已按“{official}”读取{note}（{sheet}!{ref}）。",
            table=t.id,
            cells=(f"{sheet}!{ref}",),
            actual=text,
        )

    def _tname(self, t: Table) -> str:
        title = t.title_for(self.unit.year)
        head = title.split("、", 1)[0]
        return f"表{head}" if len(head) <= 2 and "、" in title else "统计表"

    # -- sheet walk ---------------------------------------------------------------------------

    def _enter(self, sheet: Sheet, ti: _TableIndex, open_: dict[str, _Instance], title: tuple | None = None):
        """Make the copy of ``ti`` on this sheet the current one; a title after rows starts a new copy."""
        tid = ti.table.id
        inst = open_.get(tid)
        if inst is None or (title is not None and (inst.rows or inst.columns)):
            inst = _Instance(tid, sheet)
            self.instances.append(inst)
            open_[tid] = inst
        if title is not None and inst.tag is None and inst.title_ref is None:
            inst.tag, inst.title_ref = title
        self.inst = inst
        self.sink = inst.findings
        return inst

    def _close_band(self, sheet: Sheet, band: list[int], ti: _TableIndex, open_: dict[str, _Instance]):
        inst = self._enter(sheet, ti, open_)
        colmap, label_cols, aux_cols = self._finalize_band(sheet, band, ti)
        inst.columns.update(colmap.values())
        if ti.single_unlabelled and colmap and inst.blank_row is None:
            inst.blank_row = (band[-1] + 1, colmap)  # table 四's one row, even when left blank
        return colmap, label_cols, aux_cols

    def walk(self, sheet: Sheet) -> None:
        """Walk one sheet; a sheet laid out like one walked before reuses that walk (see _LayoutCache)."""
        if not _has_table_text(self.fi, sheet):
            return  # every row of it does nothing (see _walk_text): its walk makes nothing
        cache = _layout_cache
        if cache.size <= 0:
            self._walk(sheet)
            return
        sig = _CLASS_BY_TYPE.get
        rowsigs = [tuple(map(sig, map(type, row), row)) for row in sheet.rows]
        for key, k in cache.keys(self, sheet, rowsigs):
            entry = cache.get(key, self.fi)
            if entry is None:
                continue
            before = len(self.instances)
            # the rows above must do nothing here either, as they did in the walked sheet
            if k and (self._walk(sheet, stop=k) != k or len(self.instances) != before):
                del self.instances[before:]
                self.inst, self.sink = None, self.unit.findings
                continue
            self.instances.extend(snap.instance(sheet) for snap in entry)
            cache.hits += 1
            return
        before = len(self.instances)
        k = self._walk(sheet)
        cache.store(self, sheet, rowsigs, k, self.instances[before:])

    def _walk(self, sheet: Sheet, stop: int | None = None) -> int:
        """Walk the rows above ``stop`` (all by default); the number of leading rows that did nothing.

        Those rows left the walk as it starts (no table, no header band), so what the walk makes
        of the rows below depends only on them.
        """
        fi = self.fi
        current: _TableIndex | None = None
        open_: dict[str, _Instance] = {}
        colmap = _ColumnMap()
        label_cols: set[int] = set()
        aux_cols: set[int] = set()
        band: list[int] = []
        last: dict[str, int] = {}
        rows = sheet.rows if stop is None else sheet.rows[:stop]
        inert = 0
        for r, row in enumerate(rows):
            if current is None and not band:  # once left, the walk never comes back to its start
                inert = r
            if not any((v is not None and v != "") for v in row) and not any(
                (r, c) in sheet.origin for c in range(len(row))
            ):
                continue
            # texts of this row, one per merged block, with the column the block starts in
            seen_origins = set()
            cells: list[tuple[int, str]] = []
            for c in range(len(row)):
                o = sheet.origin.get((r, c), (r, c))
                if o in seen_origins:
                    continue
                seen_origins.add(o)
                text = sheet.text(r, c)
                if text is not None:
                    cells.append((c, text))
            # a table title switches the table
            title = next(((c, hit) for c, text in cells if (hit := _title_table(fi, text))), None)
            if title and not any(norm(text) in fi.tables[title[1][0]].rows_exact for _, text in cells):
                (c, (tid, tag)) = title
                if band and current is not None:
                    self._close_band(sheet, band, current, open_)
                current = fi.tables[tid]
                before = open_.get(tid)
                if self._enter(sheet, current, open_, (tag, a1(r, c))) is not before:
                    last.pop(tid, None)
                colmap, label_cols, aux_cols, band = _ColumnMap(), set(), set(), []
                continue
            label_texts = self._labels(sheet, r, cells, colmap, label_cols, aux_cols)
            has_numbers = any(_is_number(sheet.raw(r, c)) for c in range(len(row)))
            # header rows: texts that are column labels (of the current table, or the best one)
            all_texts = [text for _, text in cells]
            if not has_numbers:
                candidates = [current] if current else []
                candidates += [ti for ti in fi.tables.values() if ti is not current]
                scores = [(self._header_hits(all_texts, ti), ti) for ti in candidates]
                best_score, best_ti = max(scores, key=lambda x: x[0]) if scores else (0, None)
                cur_score = self._header_hits(all_texts, current) if current else 0
                row_hit = current is not None and self._exact_row(current, label_texts)
                if best_score and not row_hit:
                    if (not band and current is not None and cur_score == 0 and best_score > 0) or current is None:
                        current = best_ti
                    band.append(r)
                    continue
            if band and current is not None:
                colmap, label_cols, aux_cols = self._close_band(sheet, band, current, open_)
                band = []
                label_texts = self._labels(sheet, r, cells, colmap, label_cols, aux_cols)
            if current is None:
                # no title, no header yet: try every table's rows (exact labels only)
                for ti in fi.tables.values():
                    if self._exact_row(ti, label_texts):
                        current = ti
                        break
                if current is None:
                    continue
            ti = current
            inst = self._enter(sheet, ti, open_)
            match = self._match_row(ti, label_texts, last.get(ti.table.id, -1))
            if match is None and not label_texts and ti.single_unlabelled and has_numbers:
                match = (ti.single_unlabelled, "exact", "")
            if match is None:
                if has_numbers and colmap:
                    text = label_texts[-1] if label_texts else ""
                    quoted = f"“{text}”" if text else ""
                    self.add(
                        "READ.unknown_row",
                        WARNING,
                        f"{self._tname(ti.table)}中有一行未能识别（{sheet.name}!第{r + 1}行{quoted}），其中的数字没有读取；"
                        "请核对该行是否为官方表格中的指标。",
                        table=ti.table.id,
                        cells=(f"{sheet.name}!{a1(r, 0)}",),
                        actual=text,
                    )
                continue
            rid, quality, text = match
            last[ti.table.id] = ti.order[rid]
            label_col = next((c for c, t in cells if t == text), 0) if text else 0
            inst.rows.append((r, rid, quality, text, colmap, label_col))
            inst.matched.add(rid)
        if current is None and not band:
            inert = len(rows)
        if band and current is not None:  # a header at the end of the sheet: its table was left blank
            self._close_band(sheet, band, current, open_)
        self.inst = None
        self.sink = self.unit.findings
        return inert

    @staticmethod
    def _labels(
        sheet: Sheet,
        r: int,
        cells: list[tuple[int, str]],
        colmap: dict[int, str],
        label_cols: set[int],
        aux_cols: set[int],
    ) -> list[str]:
        """Texts of the row that can be row labels, left to right."""
        texts = [
            (c, text) for c, text in cells if c not in colmap and c not in aux_cols and not looks_like_number(text)
        ]
        if label_cols:
            return [t for c, t in texts if c in label_cols or sheet.origin_col(r, c) in label_cols]
        if colmap:
            # labels stand left of the numbers; texts right of them are remarks (备注),
            # unless the sheet has its labels on the right (columns swapped)
            left = [t for c, t in texts if c < min(colmap)]
            return left or [t for c, t in texts if c > max(colmap)]
        return [t for _, t in texts]

    def _exact_row(self, ti: _TableIndex, texts: list[str]) -> bool:
        return bool(texts) and norm(texts[-1]) in ti.rows_exact

    def _read_row(
        self,
        sheet: Sheet,
        r: int,
        ti: _TableIndex,
        rid: str,
        quality: str,
        text: str,
        colmap: _ColumnMap,
        label_col: int,
    ) -> None:
        t = ti.table
        node = t.rows[rid]
        key = f"{t.id}.{rid}"
        if key in self.found and node.has_value:
            prev = self.found[key]
            self.add(
                "READ.duplicate_row",
                WARNING,
                f"{self._tname(t)}{self._row_name(t, rid)}出现了两次（{prev[0]}!第{prev[1] + 1}行和{sheet.name}!第{r + 1}行），"
                "只读取第一次出现的数字，请删除重复的行。",
                table=t.id,
                cells=(f"{sheet.name}!{a1(r, label_col)}",),
            )
            return
        self.found[key] = (sheet.name, r)
        if quality != "exact" and text:
            self._label_warning(t, "指标", text, node.label, sheet.name, a1(r, label_col))
        by_col = self._by_col.get(id(colmap))
        if by_col is None:  # a band's column map serves all its rows
            by_col = self._by_col[id(colmap)] = {v: k for k, v in colmap.items()}
        if not node.has_value:
            for c, col in colmap.items():
                raw = sheet.raw(r, c)
                if raw not in (None, "") and col in by_col:
                    self.add(
                        "READ.heading_value",
                        WARNING,
                        f"{self._tname(t)}“{node.label}”是标题行，不应填写数字（{sheet.name}!{a1(r, c)}），已忽略。",
                        table=t.id,
                        cells=(f"{sheet.name}!{a1(r, c)}",),
                        actual=raw,
                    )
                    break
            return
        locations, values = self.unit.locations, self.unit.values
        row = sheet.rows[r] if r < len(sheet.rows) else []
        origin, width = sheet.origin, len(row)
        blanks: list[Cell] = []  # value cells left blank (only these rows are looked at again below)
        stated = self._stated_money_unit(sheet, r, ti.row_cells[rid], colmap, label_col)
        for col, cell in ti.row_cells[rid]:
            at = by_col.get(col)
            if at is None:
                continue
            c = at
            ref = a1(r, c)
            locations[cell.id] = (sheet.name, ref)
            if sheet.missing_cache and (r, c) in sheet.missing_cache:
                self.unit.values[cell.id] = None
                self.add(
                    "READ.formula",
                    ERROR,
                    f"{self._cell_name(t, cell)}是公式，但文件中没有保存计算结果（{sheet.name}!{ref}），"
                    "请在 Excel 中打开并保存后再试；此格按空白处理，不按 0 计算。",
                    table=t.id,
                    cells=(f"{sheet.name}!{ref}",),
                    cell_ids=(cell.id,),
                )
                continue
            if sheet.errors and (r, c) in sheet.errors:
                shown = sheet.errors[(r, c)]
                self.unit.values[cell.id] = None
                self.add(
                    "READ.value",
                    ERROR,
                    f"{self._cell_name(t, cell)}显示的是错误值“{shown}”（公式出错或引用失效），不是数字"
                    f"（{sheet.name}!{ref}）；请改正公式或直接填写数字。此格按空白处理，不按 0 计算。",
                    table=t.id,
                    cells=(f"{sheet.name}!{ref}",),
                    cell_ids=(cell.id,),
                    actual=shown,
                )
                continue
            raw = None if c >= width or (r, c) in origin else row[c]  # sheet.raw(r, c)
            kind = type(raw)
            if kind is float or kind is int:
                n = cast(float, raw)
                if 0 <= n <= MAX_VALUE and cell.type != "decimal" and n == int(n):
                    values[cell.id] = int(n)  # a whole count, as most are: what parse_value gives, no note
                    continue
            if isinstance(raw, str) and _PROPOSAL.fullmatch(raw.strip()):
                raw = None  # 建议 N: written by gkreport beside a blank cell, never read as the unit's number
            noted = split_note(raw) if isinstance(raw, str) else None
            value, problem, severity = parse_value(noted[0] if noted else raw, cell)
            if noted and problem:  # what is wrong with the number, shown with its note
                value, problem, severity = None, problem.replace(f"“{noted[0]}”", f"“{raw}”"), ERROR
            elif noted and _HEDGE.fullmatch(noted[1]):  # 12（左右）: the note leaves no exact number
                value, problem, severity = None, f"应填写确切的数字，实为“{raw}”", ERROR
            where: tuple[str, ...] = (f"{sheet.name}!{ref}",)
            if (
                value
                and not problem
                and cell.unit in _MONEY_UNITS
                and (source := self._stated_unit(sheet, r, c, colmap, stated))
                and source[0] != cell.unit
                and not _says_money_unit(noted[0] if noted else raw)  # 3万元 says its own unit
            ):
                # the row's 单位 cell, else the column's header, says in what the amount is: 3000 in a
                # row marked 元, or under 本年收费金额（单位：元）, is 0.3 万元
                given, said, unit_ref = source
                number = value * _MONEY_UNITS[given] / _MONEY_UNITS[cell.unit]
                value = number.normalize() if number == number.to_integral_value() else number
                problem, severity, where = (
                    f"填写的是“{_shown_raw(raw)}”，{said}以{cell.unit}为单位，"
                    f"已换算为 {_shown(value)} {cell.unit}读取；请核实，并改为按{cell.unit}填写",
                    WARNING,
                    (*where, unit_ref),
                )
                if abs(number) > MAX_VALUE:
                    value, severity = None, ERROR
                    problem = (
                        f"填写的是“{_shown_raw(raw)}”，{said}以{cell.unit}为单位，"
                        f"换算为{cell.unit}后数值过大（超过 1 万亿），请核对"
                    )
            if cell.optional and value is None and not problem:
                del self.unit.locations[cell.id]  # an empty optional subtotal is no subtotal
                continue
            self.unit.values[cell.id] = value
            if value is None and not problem:
                blanks.append(cell)
            if noted and not problem:
                self.unit.notes[cell.id] = noted[1]
                self.add(
                    "READ.note",
                    WARNING,
                    f"{self._cell_name(t, cell)}填写了“{raw}”（{sheet.name}!{ref}），已读取数字 {_shown(value)}，"
                    f"括号中的说明“{noted[1]}”另行保留；数字单元格请只填数字，说明可写在备注栏。",
                    table=t.id,
                    cells=(f"{sheet.name}!{ref}",),
                    cell_ids=(cell.id,),
                    actual=raw,
                )
            if problem:
                self.add(
                    "READ.value",
                    severity,
                    f"{self._cell_name(t, cell)}{problem}（{sheet.name}!{ref}）。",
                    table=t.id,
                    cells=where,
                    cell_ids=(cell.id,),
                    actual=sheet.raw(r, c),
                )
        if blanks:
            self._misplaced(sheet, r, t, rid, colmap, label_col, blanks)

    @staticmethod
    def _stated_unit(
        sheet: Sheet, r: int, c: int, colmap: _ColumnMap, stated: tuple[int, str] | None
    ) -> tuple[str, str, str] | None:
        """(unit, how the sheet says it, A1 where) of the money unit the sheet gives the amount in column
        ``c`` of row ``r``: the row's own 单位 cell, else the column's header; None when neither does."""
        if stated:
            ref = f"{sheet.name}!{a1(r, stated[0])}"
            return stated[1], f"所在行的单位写的是“{stated[1]}”（{ref}），该栏", ref
        head = colmap.stated.get(c)
        if head:
            ref = f"{sheet.name}!{head[1]}"
            return head[0], f"所在栏的表头写的是“{head[2]}”（{ref}），官方表格该栏", ref
        return None

    @staticmethod
    def _stated_money_unit(
        sheet: Sheet, r: int, cells: tuple[tuple[str, Cell], ...], colmap: dict[int, str], label_col: int
    ) -> tuple[int, str] | None:
        """(column, unit) of the row's own 单位 cell (元, 万元 …) when the row holds an amount."""
        if not any(cell.unit in _MONEY_UNITS for _, cell in cells):
            return None
        row = sheet.rows[r] if r < len(sheet.rows) else []
        for c, v in enumerate(row):
            if c != label_col and c not in colmap and isinstance(v, str) and norm(v) in _MONEY_UNITS:
                return c, norm(v)
        return None

    def _misplaced(
        self, sheet: Sheet, r: int, t: Table, rid: str, colmap: dict[int, str], label_col: int, blanks: list[Cell]
    ) -> None:
        """A row whose value cells are blank while a number stands in it under no column (a header
        that slid off its column, as a table copied from a PDF has it): the number is not read, and
        the cells are not 未填写 either — said, so that neither a wrong reading nor a false blank stands."""
        row = sheet.rows[r] if r < len(sheet.rows) else []
        last = max(colmap, default=label_col)
        found = [
            (c, v)
            for c in range(label_col + 1, min(last + 1, len(row)))
            if c not in colmap
            and (r, c) not in sheet.origin
            and (v := row[c]) is not None
            and _is_number(v)
            and not (isinstance(v, str) and v.strip() in _BLANK_MARKS)
        ]
        if not found:
            return
        where = "、".join(f"{sheet.name}!{a1(r, c)}（{_shown_raw(v)}）" for c, v in found)
        heads = "、".join(
            f"{self._cell_name(t, cell)}（{sheet.name}!{a1(r, self._col_of(colmap, cell))}）" for cell in blanks
        )
        self.add(
            "READ.misplaced",
            ERROR,
            f"{self._tname(t)}{self._row_name(t, rid)}一行中的数字 {where} 不在任何栏目之下，没有读取；"
            f"{heads}是空白。表头可能错位（如从 PDF 复制的表格），请把数字填在对应栏目下。",
            table=t.id,
            cells=tuple(f"{sheet.name}!{a1(r, c)}" for c, _ in found),
            cell_ids=tuple(cell.id for cell in blanks),
        )

    @staticmethod
    def _col_of(colmap: dict[int, str], cell: Cell) -> int:
        return next((c for c, col in colmap.items() if col == cell.column), 0)

    def _row_name(self, t: Table, rid: str) -> str:
        """A row as messages name it: its label in quotes, or what it is when it has none (table 四)."""
        node = t.rows[rid]
        return f"“{node.label}”" if node.label else "填写数字的一行"

    def _cell_name(self, t: Table, cell: Cell) -> str:
        row = t.rows[cell.row].label
        col = t.columns[cell.column].label
        if t.layout == "list" or len(t.value_columns()) == 1:
            return f"{self._tname(t)}“{row}”"
        if not row:
            return f"{self._tname(t)}“{t.column_path(cell.column)}”"
        return f"{self._tname(t)}“{row}”{col}列"

    # -- after all sheets ---------------------------------------------------------------------

    def finish(self) -> None:
        """Choose each table's copy (this year's), read its rows, then report what is missing."""
        form = self.form
        copies: dict[str, list[_Instance]] = {}
        for inst in self.instances:
            copies.setdefault(inst.table, []).append(inst)
        ambiguous: set[str] = set()
        for t in form.tables.values():
            insts = copies.get(t.id)
            if not insts:
                continue
            self.tables_seen.add(t.id)
            chosen = self._choose_copies(t, insts)
            if chosen is None:
                ambiguous.add(t.id)
                continue
            ti = self.fi.tables[t.id]
            for inst in chosen:
                self.unit.findings.extend(inst.findings)
                self.columns_seen.setdefault(t.id, set()).update(inst.columns)
                for r, rid, quality, text, colmap, label_col in inst.rows:
                    self._read_row(inst.sheet, r, ti, rid, quality, text, colmap, label_col)
            lone = ti.single_unlabelled
            if lone and f"{t.id}.{lone}" not in self.found:
                blank = next((i for i in chosen if i.blank_row), None)
                if blank is not None and blank.blank_row is not None and self._blank_at(blank.sheet, *blank.blank_row):
                    self._read_row(blank.sheet, blank.blank_row[0], ti, lone, "exact", "", blank.blank_row[1], 0)
        for t in form.tables.values():
            if t.id in ambiguous:
                for cid, cell in t.cells.items():
                    if not cell.optional:
                        self.unit.values.setdefault(cid, None)
                continue
            if t.id not in self.tables_seen or not any(k.startswith(f"{t.id}.") for k in self.found):
                name = f"{self._tname(t)}“{t.title_for(self.unit.year)}”"
                if t.id in self.tables_seen:
                    ref = copies[t.id][0].ref()
                    message = f"{name}只有标题或表头（{ref}），没有找到表中的任何一行。"
                else:
                    ref, message = None, f"没有找到{name}。"
                self.add("READ.missing_table", ERROR, message, table=t.id, cells=(ref,) if ref else ())
                for cid, cell in t.cells.items():
                    if not cell.optional:
                        self.unit.values.setdefault(cid, None)
                continue
            # a heading with its own numbers but none of its items: the single-row (2019) layout
            for node in t.rows.values():
                key = f"{t.id}.{node.id}"
                if (
                    node.subtotal != "optional"
                    or key not in self.found
                    or any(f"{t.id}.{k}" in self.found for k in node.children)
                ):
                    continue
                self.hybrid.add(key)
                kids = "、".join(t.rows[k].label for k in node.children)
                self.add(
                    "READ.hybrid",
                    WARNING,
                    f"{self._tname(t)}“{node.label}”只有一行（2019年版格式的写法），现行格式应分为：{kids}。"
                    "已把该行作为小计读取，细项按空白处理，请按现行格式分项填写。",
                    table=t.id,
                    cell_ids=tuple(f"{t.id}.{node.id}.{c}" for c in t.row_columns(node.id)),
                )
            missing_rows = []
            ti = self.fi.tables[t.id]
            for node in ti.value_rows:
                key = f"{t.id}.{node.id}"
                parent_hybrid = node.parent and f"{t.id}.{node.parent}" in self.hybrid
                if key not in self.found and node.subtotal != "optional":
                    if not parent_hybrid:
                        missing_rows.append(node)
                    for _, cell in ti.row_cells[node.id]:
                        self.unit.values.setdefault(cell.id, None)
            for missing in missing_rows:
                self.add(
                    "READ.missing_row",
                    ERROR,
                    f"{self._tname(t)}缺少{'“' + '/'.join(missing.path) + '”一行' if missing.label else '表头下方填写数字的一行'}。",
                    table=t.id,
                    cell_ids=tuple(f"{t.id}.{missing.id}.{c}" for c in t.row_columns(missing.id)),
                )
            seen_cols = self.columns_seen.get(t.id, set())
            found_rows = {n.id for n in ti.value_rows if f"{t.id}.{n.id}" in self.found}
            for column in t.value_columns():
                needed = not found_rows.isdisjoint(ti.column_rows[column.id])
                if needed and column.id not in seen_cols:
                    self.add(
                        "READ.missing_column",
                        ERROR,
                        f"{self._tname(t)}缺少“{t.column_path(column.id)}”栏目。",
                        table=t.id,
                    )

    @staticmethod
    def _blank_at(sheet: Sheet, r: int, colmap: dict[int, str]) -> bool:
        """The row under a header holds nothing in the value columns (a table left blank)."""
        if r >= len(sheet.rows):
            return True
        return all(sheet.raw(r, c) in (None, "") or (r, c) in sheet.origin for c in colmap)

    # -- which copy of a table is this year's -------------------------------------------------

    def _tag(self, inst: _Instance) -> int | str | None:
        """The year a copy of a table is marked with: its title, else its sheet's name or title."""
        tag = inst.tag if inst.tag is not None else self.sheet_tags.get(inst.sheet.name)
        year = self.unit.year
        if tag == "this":
            return year if year is not None else "this"
        if tag == "prev":
            return year - 1 if year is not None else "prev"
        return tag

    def _copy_values(self, inst: _Instance) -> dict[str, Any]:
        t = self.form.tables[inst.table]
        out: dict[str, Any] = {}
        for r, rid, _, _, colmap, _ in inst.rows:
            for c, col in colmap.items():
                cell = t.cells.get(f"{t.id}.{rid}.{col}")
                if cell is not None:
                    out.setdefault(cell.id, parse_value(inst.sheet.raw(r, c), cell)[0])
        return out

    def _choose_copies(self, t: Table, insts: list[_Instance]) -> list[_Instance] | None:
        """The copies of a table to read: all of them when they hold different rows (a table split over
        sheets), else the one marked with the unit's year. None (after an error) when that is unclear."""
        filled = [i for i in insts if i.rows or i.blank_row]
        if len(filled) <= 1:
            return filled or insts
        lone = self.fi.tables[t.id].single_unlabelled
        rows: list[set[str | None]] = [{*i.matched, *([lone] if i.blank_row else [])} for i in filled]
        if all(not (a & b) for k, a in enumerate(rows) for b in rows[k + 1 :]):
            return filled
        values = [self._copy_values(i) for i in filled]
        numbers = [k for k, v in enumerate(values) if any(x is not None for x in v.values())]
        if len(numbers) <= 1:  # only one copy holds numbers: the others were left blank
            return [filled[numbers[0] if numbers else 0]]
        filled = [filled[k] for k in numbers]
        values = [values[k] for k in numbers]
        year = self.unit.year
        tags = [self._tag(i) for i in filled]
        target = year if year is not None else "this"
        mine = [i for i, g in zip(filled, tags) if g == target]
        if not mine:
            untagged = [i for i, g in zip(filled, tags) if g is None]
            if len(untagged) == 1:
                mine = untagged
        if len(mine) != 1:
            pool = mine or [i for i, g in zip(filled, tags) if g is None]
            shown = [i for i in pool if not i.sheet.hidden]
            if len(pool) > 1 and len(shown) == 1:
                mine = shown  # the others are on sheets the office hid (a draft, last year's): said below
        tname = self._tname(t)
        if len(mine) == 1:
            chosen = mine[0]
            this = f"本年度（{year}年）" if year is not None else "本年度"
            for inst, tag in zip(filled, tags):
                if inst is chosen:
                    continue
                raw = inst.tag if inst.tag is not None else self.sheet_tags.get(inst.sheet.name)
                if tag is None:
                    what, advice = "没有注明年度", "请核实，并删除多余的表。"
                elif raw in ("prev", "this"):
                    what, advice = f"注明为{'上年' if raw == 'prev' else '本年'}（{tag}年）", ""
                else:
                    what, advice = f"注明为{tag}年", ""
                source = f"注明了{year}年的" if year is not None and tags[filled.index(chosen)] == year else ""
                self.add(
                    "READ.other_year",
                    WARNING,
                    f"{inst.place()}中另有一份{tname}（{what}），不作为{this}的数字读取；"
                    f"本年度的{tname}取自{source}{chosen.place()}。{advice}",
                    table=t.id,
                    cells=(inst.ref(),),
                )
            return [chosen]
        places = "、".join(i.place() for i in filled)
        if all(v == values[0] for v in values[1:]):
            self.add(
                "READ.duplicate_table",
                WARNING,
                f"{tname}出现了 {len(filled)} 份（{places}），数字完全相同，已读取第一份；请删除重复的表。",
                table=t.id,
                cells=tuple(i.ref() for i in filled),
            )
            return [filled[0]]
        if year is None:
            why, advice = "没有找到报告年度", "请填写报告年度，并删除不属于本年度的表。"
        else:
            marked = sum(g == year for g in tags)
            if marked > 1 and all(i.tag is None for i in filled) and len({i.sheet.name for i in filled}) == 1:
                # the year is the sheet's (its name or its title), not marked on any copy
                why = f"它们在同一张工作表上，各自都没有注明年度（只有所在工作表的名称或标题注明了{year}年）"
            else:
                why = f"有 {marked} 份都注明为{year}年" if marked > 1 else f"没有一份注明为{year}年"
            advice = f"请删除不属于本年度的表，或在工作表名称或表格标题中注明年度（如“{year}年”）。"
        self.add(
            "READ.ambiguous_table",
            ERROR,
            f"{tname}有 {len(filled)} 份，数字不同（{places}），{why}，无法确定哪一份是本年度的，"
            f"没有读取其中的数字。{advice}",
            table=t.id,
            cells=tuple(i.ref() for i in filled),
            cell_ids=tuple(c for c, cell in t.cells.items() if not cell.optional),
        )
        return None


# --------------------------------------------------------------------------- metadata and narrative


def _next_value(sheet: Sheet, r: int, c: int, hints: set[str]) -> tuple[Any, int] | None:
    row = sheet.rows[r]
    for k in range(c + 1, len(row)):
        if sheet.origin_col(r, k) == c:
            continue  # the label's own merged cell
        v = sheet.raw(r, k)
        if v is None or (isinstance(v, str) and not v.strip()):
            continue
        if isinstance(v, str) and norm(v) in hints:
            return None
        return v, k
    return None


@dataclass
class _Found:
    """One value of a metadata field as met in the workbook."""

    value: Any
    sheet: str
    ref: str
    label: str  # the label as written
    info: bool  # under the field's own label on our template's 基本信息 sheet (authoritative)


def _read_meta(unit: Unit, sheets: list[Sheet], fi: _FormIndex) -> dict[str, list[_Found]]:
    """Metadata beside its label (``单位名称 | 某某局`` or ``单位名称：某某局``) and the report's text:
    beside its heading (our template) or in the paragraphs below it (a pasted web page).

    Every value of every field is returned (the first one is also put in ``unit.meta``): the unit
    name is then chosen between 基本信息, the title and a 填报单位 line.
    """
    found: dict[str, list[_Found]] = {}

    def keep(fid: str, value: Any, sheet: Sheet, ref: str, label: str, info: bool = False) -> None:
        found.setdefault(fid, []).append(_Found(value, sheet.name, ref, label, info))
        if fid not in unit.meta:
            unit.meta[fid] = value
            unit.meta_locations[fid] = (sheet.name, ref)

    primary = {norm(f.label): f.id for f in fi.form.metadata}
    for sheet in sheets:
        for r, c, v in sheet.strings:
            if (r, c) in sheet.origin:
                continue
            if "章" in v:  # 填报单位（盖章）: the seal's place is no part of the label
                v = _SEAL_LABEL.sub("", v)
            label = fi.meta_labels.get(v) or _meta_label(fi, v)
            if label is _INERT:
                continue
            fid, sid, fuzzy, n = label
            if fid or sid:
                got = _next_value(sheet, r, c, fi.hints)
                if got is None:
                    if sid in fi.text_sections and sid not in unit.narrative:
                        _read_paragraphs(unit, sheet, r + 1, sid, fi)
                    continue
                if fuzzy:  # a heading written differently counts only alone in its row
                    continue
                value, k = got
                if fid:
                    keep(fid, value, sheet, a1(r, k), v.strip(), sheet.name == INFO_SHEET and primary.get(n) == fid)
                elif sid in fi.text_sections and sid not in unit.narrative and isinstance(value, str):
                    unit.narrative[sid] = "\n".join([value, *_merged_paragraphs(sheet, r, c, k)])
                    unit.narrative_locations[sid] = (sheet.name, a1(r, k))
                continue
            # a heading and its text in one cell (pasted from a web page)
            head, sep, rest = v.strip().partition("\n")
            if sep and rest.strip():
                sid = fi.sections.get(_REQUIRED_MARK.sub("", norm(head)).rstrip(":"))
                if sid in fi.text_sections:
                    if sid not in unit.narrative:
                        _read_paragraphs(unit, sheet, r + 1, sid, fi, (rest, a1(r, c)))
                    continue
            # inline "单位名称：某某局" (possibly several pairs in one cell)
            if ":" not in v and "：" not in v:
                continue
            text = unicodedata.normalize("NFKC", v)
            # the value as written (full-width brackets of a name stay), where folding kept every place
            written = v if len(v) == len(text) else text
            for m in re.finditer(r"([^\s:：]{2,12})\s*[:：]\s*([^\s:：][^:：]*?)(?=\s+[^\s:：]{2,12}\s*[:：]|$)", text):
                key = fi.meta.get(norm(m.group(1)))
                value = written[m.start(2) : m.end(2)].strip()
                if key and value:
                    keep(key, value, sheet, a1(r, c), m.group(1))
    return found


_INERT = (None, None, False, "")  # a text that _read_meta passes over
_SEAL_LABEL = re.compile(_SEAL_MARK)


def _meta_label(fi: _FormIndex, v: str) -> tuple[str | None, str | None, bool, str]:
    """(field id, section id, section heading written differently, normalised text) of a cell's text,
    or _INERT for one that _read_meta passes over whatever its place (blank, no label, no heading
    with its text, no ``名称：值``); kept per form index: the same texts come back in every workbook."""
    hit = fi.meta_labels.get(v)
    if hit is not None:
        return hit
    if not v.strip():
        hit = _INERT
    else:
        n = _REQUIRED_MARK.sub("", norm(v)).rstrip(":")
        fid = fi.meta.get(n)
        sid = fi.sections.get(n)
        fuzzy = False
        if not fid and not sid:
            sid = _heading_like(fi, n)
            fuzzy = sid is not None
        hit = (fid, sid, fuzzy, n)
        if not fid and not sid and ":" not in v and "：" not in v:
            head, sep, rest = v.strip().partition("\n")
            if not (sep and rest.strip()) or fi.sections.get(_REQUIRED_MARK.sub("", norm(head)).rstrip(":")) is None:
                hit = _INERT
    if len(v) <= _KEPT_TEXT and len(fi.meta_labels) < 16384:
        fi.meta_labels[v] = hit
    return hit


def _merged_paragraphs(sheet: Sheet, r: int, c: int, k: int) -> list[str]:
    """Further paragraphs of a section whose heading (r, c) is merged down over several rows, one
    paragraph a row in column k beside it (a checked workbook's 基本信息)."""
    out = []
    rr = r + 1
    while sheet.origin.get((rr, c)) == (r, c):
        v = sheet.raw(rr, k)
        if isinstance(v, str) and v.strip():
            out.append(v)
        rr += 1
    return out


_MAIN_HEADING = re.compile(r"^[一二三四五六七八九十]{1,2}、")
_SENTENCE_MARKS = re.compile(r"[。，；：！？,;:!?]")


def _heading_like(fi: _FormIndex, n: str) -> str | None:
    """A text section whose heading is written a little differently (五、存在的主要问题和改进情况)."""
    m = _MAIN_HEADING.match(n)
    if not m or len(n) > 40 or "。" in n:
        return None
    sid = fi.numbered.get(m.group(0))
    if sid is None:
        return None
    section = next(s for s in fi.form.sections if s.id == sid)
    best = max(similar(core(n), core(h)) for h in (section.heading, *section.aliases))
    return sid if best >= _FUZZY_MIN else None


def _ends_text(v: str, fi: _FormIndex) -> bool:
    """A paragraph row that is really the next heading, a table or a metadata label."""
    first = v.strip().split("\n", 1)[0]
    n = _REQUIRED_MARK.sub("", norm(first)).rstrip(":")
    if n in fi.sections or n in fi.meta or n in fi.labels or _title_table(fi, first):
        return True
    return bool(_MAIN_HEADING.match(n)) and len(n) <= 40 and "。" not in n


def _read_paragraphs(
    unit: Unit, sheet: Sheet, start: int, sid: str, fi: _FormIndex, first: tuple[str, str] | None = None
) -> None:
    """The paragraphs below a section heading, one per row, up to the next heading or table.

    A date alone at the end (and the unit's name above it) is the report's signature, not
    text of the section: it becomes the 成文日期 (and 落款单位) unless those are filled in.
    """
    paras: list[tuple[Any, str]] = [first] if first else []
    blank = 0
    for r in range(start, len(sheet.rows)):
        row = sheet.rows[r]
        blocks: list[tuple[int, Any]] = []
        covered = False
        for c, v in enumerate(row):
            o = sheet.origin.get((r, c))
            if o is not None:
                covered = covered or o[0] != r
                continue
            if v is None or (isinstance(v, str) and not v.strip()):
                continue
            blocks.append((c, v))
        if not blocks:
            blank += 0 if covered else 1
            if blank > 3:
                break
            continue
        blank = 0
        if len(blocks) != 1:
            break
        c, v = blocks[0]
        if isinstance(v, (datetime, date)):
            paras.append((v, a1(r, c)))
            continue
        if not isinstance(v, str) or _ends_text(v, fi) or (paras and not isinstance(paras[-1][0], str)):
            break
        paras.append((v, a1(r, c)))
    # the signature: a date, and a short line above it
    if paras and (isinstance(paras[-1][0], (datetime, date)) or parse_date(paras[-1][0]) is not None):
        value, ref = paras.pop()
        if "date_written" not in unit.meta and any(f.id == "date_written" for f in fi.form.metadata):
            unit.meta["date_written"] = value
            unit.meta_locations["date_written"] = (sheet.name, ref)
        if paras and isinstance(paras[-1][0], str) and len(paras[-1][0].strip()) <= 40:
            line = paras[-1][0].strip()
            if not _SENTENCE_MARKS.search(line):
                _, ref = paras.pop()
                if "signer" not in unit.meta and any(f.id == "signer" for f in fi.form.metadata):
                    unit.meta["signer"] = line
                    unit.meta_locations["signer"] = (sheet.name, ref)
    texts = [str(p) for p, _ in paras if isinstance(p, str)]
    if texts:
        unit.narrative[sid] = "\n".join(texts)
        unit.narrative_locations[sid] = (sheet.name, paras[0][1])
        # each line of the cleaned text (see _clean_narrative) keeps the cell it came from
        unit.paragraph_locations[sid] = [
            (sheet.name, ref) for p, ref in paras if isinstance(p, str) for _ in _lines(p)[0]
        ]


# --------------------------------------------------------------------------- text clean-up

# characters that end a line of text: LF (Excel), CR (Windows), NEL and the Unicode line and
# paragraph separators; in a one-line field (a name) the other separators (VT, FF, the
# file/group/record/unit separators some exports use) part words too
_BREAKS = frozenset("\r\n\x85\u2028\u2029")
_SEPARATORS = _BREAKS | frozenset("\x0b\x0c\x1c\x1d\x1e\x1f")
_ORDINARY = frozenset("\r\n\t")
_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\U00020000-\U0003ffff]")


def _odd(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs") or ch in "\ufffe\uffff"


def _char_names(chars: list[str]) -> str:
    names = {"\n": "换行", "\r": "回车", "\t": "制表符"}
    seen = list(dict.fromkeys(chars))
    return "、".join(names.get(ch, f"U+{ord(ch):04X}") for ch in seen[:6]) + ("等" if len(seen) > 6 else "")


def _lines(text: str, breaks: frozenset[str] = _BREAKS) -> tuple[list[str], list[str]]:
    """The lines of a text with control characters removed; and the characters that were not ordinary."""
    if text.isprintable():
        return [text.strip()], []
    odd: list[str] = []
    lines: list[str] = []
    cur: list[str] = []
    for ch in text:
        if ch in breaks:
            lines.append("".join(cur).strip())
            cur = []
        elif ch == "\t":
            cur.append(" ")
        elif _odd(ch):
            pass
        else:
            cur.append(ch)
            continue
        if ch not in _ORDINARY:
            odd.append(ch)
    lines.append("".join(cur).strip())
    return [ln for ln in lines if ln], odd


def _clean_line(text: str) -> tuple[str, list[str]]:
    """One line (a unit name, a phone number): line breaks joined, control characters removed.

    Returns the text and every character that was not plain text (line breaks included)."""
    lines, odd = _lines(text, _SEPARATORS)
    if len(lines) > 1 and not odd:
        odd = [ch for ch in text if ch in _BREAKS or ch == "\t"]
    out = lines[0] if lines else ""
    for ln in lines[1:]:
        joint = "" if _CJK.match(out[-1:]) or _CJK.match(ln[:1]) else " "
        out += joint + ln
    return out, odd


def _clean_text(text: str) -> str:
    return "\n".join(_lines(str(text))[0])


# --------------------------------------------------------------------------- report title, unit and year

_TITLE_KIND = r"(?:政府信息公开|政务公开)(?:工作)?(?:年度)?(?:报告|情况统计表|统计表|报告表格|工作情况|情况)"
_ATTACHMENT = re.compile(r"^附件[0-9一二三四五六七八九十]*[:：.、]?")  # 附件1：某某局2025年…报告
_TITLE_UNIT_FIRST = re.compile(r"^(?P<unit>.+?)(?P<year>(?:19|20)\d{2})年度?的?" + _TITLE_KIND)
_TITLE_YEAR_FIRST = re.compile(r"^(?P<year>(?:19|20)\d{2})年度?(?P<unit>.*?)" + _TITLE_KIND)
_SENTENCE = re.compile(r"[，。；！？,;!?]")
_BAD_UNIT = re.compile(r"[，。；：,;:、“”\"!?！？]|^[一二三四五六七八九十\d]{1,3}[、.]")


@dataclass
class _Title:
    unit: str | None
    year: int | None
    text: str
    sheet: str
    ref: str
    odd: list[str]
    above: str | None = None  # sheet!A1 of the line above the title the unit's name was taken from


def _parse_title(text: str) -> tuple[str | None, int | None, list[str]] | None:
    """(unit, year, control characters) of a report title such as ``某某局2025年政府信息公开工作年度报告``
    or ``2025年某某市人民政府办公厅政府信息公开工作年度报告``; None when the text is no such title."""
    if ("政府信息公开" not in text and "政务公开" not in text) or len(text) > 200:
        return None
    lines, odd = _lines(unicodedata.normalize("NFKC", text), _SEPARATORS)
    s = _ATTACHMENT.sub("", _digit_years(re.sub(r"\s+", "", "".join(lines))))
    if len(s) > 80 or _SENTENCE.search(s):  # a paragraph that speaks of the year's work, not a title
        return None
    for pattern in (_TITLE_UNIT_FIRST, _TITLE_YEAR_FIRST):
        m = pattern.match(s)
        if not m:
            continue
        unit = _title_unit(m.group("unit"))
        if not 2 <= len(unit) <= 40 or unit.endswith(("年", "度")) or _BAD_UNIT.search(unit):
            return None, int(m.group("year")), odd
        return unit, int(m.group("year")), odd
    return None


# what a title carries around the unit's name: a notice's 关于印发…的通知, book-title marks, a span
# of years (某某局2024—2025年…), which are not part of the name
_TITLE_AROUND = re.compile(r"^(?:关于)?(?:印发|转发|公布|发布)?[《“\"「『]*|[》”\"」』]+$|的$|关于$")
_YEAR_SPAN_END = re.compile(r"(?:19|20)\d{2}年?度?[-—–~～至到]+$")


def _title_unit(text: str) -> str:
    """The unit's name as a title gives it (NFKC text), without what surrounds it in the title;
    brackets as a name writes them (full width: NFKC made them half width)."""
    unit = _YEAR_SPAN_END.sub("", _TITLE_AROUND.sub("", text))
    return unit.replace("(", "（").replace(")", "）")


def _sheet_tag(sheet: Sheet) -> int | str | None:
    """The year a sheet's name gives the tables on it (``上年表三（2024年）`` → 2024), else its title's."""
    tag = _year_tag(sheet.name)
    if tag is not None:
        return tag
    for row in sheet.rows[:3]:
        for v in row:
            if isinstance(v, str) and "政府信息公开" in v:
                t = _parse_title(v)
                if t and t[1]:
                    return t[1]
    return None


def _titles(sheets: list[Sheet], tags: dict[str, Any]) -> list[_Title]:
    """Report titles in the first rows of each sheet (not of a sheet marked as last year's)."""
    out = []
    for sheet in sheets:
        if tags.get(sheet.name) == "prev" or _PREV_MARK.search(sheet.name):
            continue
        for r, row in enumerate(sheet.rows[:6]):
            for c, v in enumerate(row):
                if isinstance(v, str) and (t := _parse_title(v)):
                    unit, above = t[0], None
                    if unit is None and t[1] is not None:  # a title of two lines: the unit's name above
                        unit, above = _unit_above(sheet, r, c)
                    out.append(_Title(unit, t[1], v, sheet.name, a1(r, c), t[2], above))
    return out


_NOT_A_NAME = re.compile(r"^(?:附件|附表|表[一二三四五六七八九十]+|统计表|年度报告|政府信息公开)")


def _unit_above(sheet: Sheet, r: int, c: int) -> tuple[str | None, str | None]:
    """The unit's name on the line above a title that starts with the year (某某局 / 2025年政府信息
    公开工作年度报告 set as two lines) and its sheet!A1: only a short name with nothing but the name in it."""
    for k in (r - 1, r - 2):
        if k < 0:
            return None, None
        v = sheet.text(k, c)
        if v is None:
            continue
        name = _title_unit(unicodedata.normalize("NFKC", re.sub(r"\s+", "", v)))
        if (
            2 <= len(name) <= 40
            and not re.search(r"\d", name)
            and not _BAD_UNIT.search(name)
            and not _NOT_A_NAME.match(name)
            and _CJK.match(name[-1:])
        ):
            return name, f"{sheet.name}!{a1(k, c)}"
        return None, None
    return None, None


# written beside a name on a form, not part of it: the seal's place, the report's year
_SEAL = re.compile(_SEAL_MARK + r"\s*$|\s*(?:盖章|公章)\s*$")
_NAME_YEAR = re.compile(r"\s*(?:19|20)\d{2}\s*年度?\s*$")
_SPACE_IN_NAME = re.compile(
    r"(?<=[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef])[ \u3000\u00a0]+(?=[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef])"
)


def _plain_unit_name(name: str) -> str:
    """A unit's name as written in a name field, without a trailing （盖章） or year and without
    spaces between Chinese characters (spacing out a name is layout, not part of it)."""
    out = _SPACE_IN_NAME.sub("", name)
    for _ in range(2):  # 某某局2025年（盖章）
        out = _NAME_YEAR.sub("", _SEAL.sub("", out))
    return out.strip()


def _dropped(name: str, plain: str) -> str:
    """What :func:`_plain_unit_name` took out of ``name``, for the message."""
    parts, at = [], 0
    for ch in plain:  # plain is name with pieces taken out: its characters come in name's order
        i = name.find(ch, at)
        if i < 0:
            break
        parts.append(name[at:i])
        at = i + 1
    parts.append(name[at:])
    shown = [p.strip() for p in parts if p.strip()]
    return "”“".join(shown) if shown else "空格"


def _same_name(a: str, b: str) -> bool:
    return norm(a) == norm(b)


def _normalise_meta(
    unit: Unit,
    sheets: list[Sheet],
    fi: _FormIndex,
    path: Path,
    findings: list[Finding],
    found: dict[str, list[_Found]] | None = None,
    tags: dict[str, Any] | None = None,
) -> None:
    form = fi.form
    found = found or {}
    for f in form.metadata:
        if f.id not in unit.meta:
            continue
        raw = unit.meta[f.id]
        loc = unit.meta_locations.get(f.id, ("", ""))
        where = f"{loc[0]}!{loc[1]}"
        if f.type == "year":
            y = _parse_year(raw)
            if y is None:
                findings.append(
                    Finding(
                        "READ.meta",
                        ERROR,
                        f"{f.label}“{raw}”不是有效的四位年度（{where}）。",
                        cells=(where,),
                        actual=raw,
                    )
                )
                del unit.meta[f.id]
            else:
                unit.meta[f.id] = y
        elif f.type == "date":
            d = parse_date(raw)
            if d is None:
                text = _clean_line(str(raw))[0]
                findings.append(
                    Finding(
                        "READ.meta",
                        WARNING,
                        f"{f.label}“{text}”不是可识别的日期，请写成“2026年1月20日”的形式（{where}）。",
                        cells=(where,),
                        actual=text,
                    )
                )
                unit.meta[f.id] = text
            else:
                unit.meta[f.id] = d
        elif f.type == "decimal":
            v, problem, _ = parse_value(raw, Cell("", "", "", "", "decimal", "元"))
            if problem:
                findings.append(
                    Finding("READ.meta", ERROR, f"{f.label}{problem}（{where}）。", cells=(where,), actual=raw)
                )
                del unit.meta[f.id]
            else:
                unit.meta[f.id] = v
        elif f.id != "unit":
            if isinstance(raw, float) and raw.is_integer():
                raw = int(raw)
            text, odd = _clean_line(raw) if isinstance(raw, str) else (str(raw), [])
            odd = [ch for ch in odd if ch not in _ORDINARY]
            if odd:
                findings.append(_control_finding(f.label, text, odd, where))
            unit.meta[f.id] = text
    titles = _titles(sheets, tags or {})
    read_from = _resolve_unit(unit, found.get("unit", []), titles, findings)
    if read_from is not None:
        _other_unit_named(unit, path, read_from, bool(found.get("signer")), findings)
    _resolve_year(unit, titles, findings)
    if unit.unit is None or unit.year is None:
        write = _where_to_write(form, sheets)  # the advice, for a name or year the workbook lacks
        # a name garbled by an unzip tool (GBK read as CP437) is taken as it was: 示例局2025…, not ╩╛└²╛╓2025…
        name = plain_name(path.name)
        garbled = "（乱码，按 GBK 编码识别出原名）" if recovered_name(path.name) else ""
        stem, odd = _clean_line(unicodedata.normalize("NFKC", Path(name).stem))
        m = re.match(r"^(?P<unit>[^\d_\-]+?)(?:_|-)?(?P<year>\d{4})", stem.replace(" ", ""))
        if m:
            if unit.unit is None and len(m.group("unit")) >= 2:
                unit.unit = m.group("unit")
                findings.append(
                    Finding(
                        "READ.meta",
                        WARNING,
                        f"工作簿中没有填写单位名称，已按文件名{garbled}取“{unit.unit}”，"
                        f"{write('unit', unit.unit, unit.year or int(m.group('year')))}。",
                    )
                )
                if odd:
                    findings.append(_control_finding("文件名中的单位名称", unit.unit, odd, name))
            if unit.year is None:
                unit.year = int(m.group("year"))
                findings.append(
                    Finding(
                        "READ.meta",
                        WARNING,
                        f"工作簿中没有填写年度，已按文件名{garbled}取 {unit.year} 年，"
                        f"{write('year', unit.unit, unit.year)}。",
                    )
                )
    if unit.unit is None:
        findings.append(Finding("READ.meta", ERROR, f"没有找到单位名称：{write('unit', None, unit.year)}。"))
        unit.meta.pop("unit", None)
    if unit.year is None:
        findings.append(Finding("READ.meta", ERROR, f"没有找到报告年度：{write('year', unit.unit, None)}。"))
    if unit.unit is not None:
        unit.meta["unit"] = unit.unit
    if unit.year is not None:
        unit.meta["year"] = unit.year


def _where_to_write(form: Form, sheets: list[Sheet]) -> Callable[[str, str | None, int | None], str]:
    """Where to write the unit's name or the year so that it is read: in the 基本信息 sheet when
    the workbook has one (our template), else where the reader finds them in a pasted layout: a
    title above the tables (the first rows of a sheet, see :func:`_titles`) or a 单位名称：… / 年度：…
    line. ``advice(field id, unit's name, year)``; the name and year fill the example when known."""
    labels = {f.id: f.label for f in form.metadata}
    has_info = any(sheet.name == INFO_SHEET for sheet in sheets)

    def advice(fid: str, name: str | None, year: int | None) -> str:
        label = labels.get(fid, "单位名称" if fid == "unit" else "年度")
        if has_info:
            return f"请在“{INFO_SHEET}”表的“{label}”中填写"
        name = name or "某某局"
        year = year or (form.years[1] or date.today().year - 1)
        what = "单位名称" if fid == "unit" else "年度"
        line = f"{label}：{name if fid == 'unit' else year}"
        return (
            f"请在表格上方（工作表的前几行）写上带{what}的标题，如“{name}{year}年政府信息公开工作年度报告”，"
            f"或写一行“{line}”"
        )

    return advice


def _clean_narrative(unit: Unit, findings: list[Finding]) -> None:
    """Section text as lines; control characters that would break the Word report are removed, said so."""
    headings = {s.id: s.heading for s in unit.form.sections}
    for sid, text in list(unit.narrative.items()):
        lines, odd = _lines(str(text))
        unit.narrative[sid] = "\n".join(lines)
        odd = [ch for ch in odd if ch not in _BREAKS]  # other line breaks are paragraph breaks, as meant
        if odd:
            loc = unit.narrative_locations.get(sid)
            where = f"{loc[0]}!{loc[1]}" if loc else ""
            findings.append(
                Finding(
                    "READ.text",
                    WARNING,
                    f"“{headings.get(sid, sid)}”的文字中含有不可见的控制字符（{_char_names(odd)}），已去除"
                    + (f"（{where}）。" if where else "。"),
                    cells=(where,) if where else (),
                )
            )


def _control_finding(label: str, text: str, odd: list[str], where: str) -> Finding:
    return Finding(
        "READ.text",
        WARNING,
        f"{label}中含有换行或不可见的控制字符（{_char_names(odd)}），已去除，按“{text}”读取（{where}）。",
        cells=(where,) if "!" in where else (),
        actual=text,
    )


def _resolve_unit(unit: Unit, values: list[_Found], titles: list[_Title], findings: list[Finding]) -> str | None:
    """The unit whose report this is: 基本信息 of our template, else the report's title, else a
    单位名称/填报单位 line. A different name elsewhere is never dropped silently: a 提示 names both.
    Returns how the place the name was taken from is called (None when no name was found)."""
    named: list[tuple[str, str, str, list[str], bool]] = []  # name, how it is called, where, controls, 基本信息
    for f in values:
        if isinstance(f.value, (int, float)) and not isinstance(f.value, bool):
            f = _Found(
                str(int(f.value)) if float(f.value).is_integer() else str(f.value), f.sheet, f.ref, f.label, f.info
            )
        if not isinstance(f.value, str):
            continue
        name, odd = _clean_line(f.value)
        label = "“基本信息”中的单位名称" if f.info else f"“{_clean_line(f.label)[0].rstrip(':：')}”"
        plain = _plain_unit_name(name)
        if plain != name and plain:
            findings.append(
                Finding(
                    "READ.unit",
                    WARNING,
                    f"{label}写作“{name}”（{f.sheet}!{f.ref}），"
                    + (
                        "其中的空格已去除，"
                        if _dropped(name, plain) == "空格"
                        else f"其中“{_dropped(name, plain)}”不是单位名称的一部分，已去除，"
                    )
                    + f"按“{plain}”读取，请核实。",
                    cells=(f"{f.sheet}!{f.ref}",),
                    expected=plain,
                    actual=name,
                )
            )
            name = plain
        if not name:
            continue
        named.append((name, label, f"{f.sheet}!{f.ref}", odd, f.info))
    title = next((t for t in titles if t.unit), None)
    info = [n for n in named if n[4]]
    if info:
        chosen = info[0]
    elif title is not None:
        chosen = (title.unit or "", "标题中的单位", f"{title.sheet}!{title.ref}", title.odd, False)
    elif named:
        chosen = named[0]
    else:
        return None
    name, label, where, odd, _ = chosen
    if odd:
        findings.append(_control_finding("单位名称", name, odd, where))
    if title is not None and chosen[2] == f"{title.sheet}!{title.ref}" and title.above:
        findings.append(  # taken from the layout, not written as a name: said, to be checked
            Finding(
                "READ.unit",
                WARNING,
                f"标题“{_clean_line(title.text)[0]}”（{where}）中没有单位名称，已按标题上一行的“{name}”"
                f"（{title.above}）读取单位名称，请核实。",
                cells=(title.above, where),
                actual=name,
            )
        )
    unit.unit = name
    unit.meta["unit"] = name
    sheet, _, ref = where.partition("!")
    unit.meta_locations["unit"] = (sheet, ref)
    others = list(named)
    if title is not None:
        others.append((title.unit or "", "标题中的单位", f"{title.sheet}!{title.ref}", title.odd, False))
    told: set[str] = set()
    for other, olabel, owhere, _, _ in others:
        if _same_name(other, name) or norm(other) in told:
            continue
        told.add(norm(other))
        if label == "标题中的单位":
            why = "年度报告是标题所写单位的报告"
        elif label.startswith("“基本信息”"):
            why = "本工具模板以“基本信息”为准"
        else:
            why = "以先出现的为准"
        findings.append(
            Finding(
                "READ.unit",
                WARNING,
                f"{label}为“{name}”（{where}），{olabel}为“{other}”（{owhere}），两者不一致；{why}，"
                f"已按“{name}”处理，请核实。",
                cells=(where, owhere),
                expected=name,
                actual=other,
            )
        )
    return label


def _other_unit_named(unit: Unit, path: Path, read_from: str, signer_field: bool, findings: list[Finding]) -> None:
    """A 提示 when the file's name or the report's 落款 names another unit than the one read from the
    workbook: a copied file whose name or content, or a copied text whose signature, was not changed
    would otherwise put one office's figures or report out under another's name, with nothing said."""
    name = unit.unit
    loc = unit.meta_locations.get("unit")
    if name is None or loc is None:
        return
    where = f"{loc[0]}!{loc[1]}"
    file_name = plain_name(path.name)  # a name garbled by an unzip tool: the name it should have
    other = other_unit_in_file_name(file_name, name)
    if other is not None:
        findings.append(
            Finding(
                "READ.unit",
                WARNING,
                f"文件名“{file_name}”写的是“{other}”，而{read_from}为“{name}”（{where}），两者不一致；"
                f"已按工作簿中的“{name}”处理，请核实：是否沿用了其他单位的文件而没有改单位名称，或文件名写错了。",
                cells=(where,),
                expected=name,
                actual=other,
            )
        )
    signer, at = unit.meta.get("signer"), unit.meta_locations.get("signer")
    if not isinstance(signer, str) or at is None:
        return
    plain = _plain_unit_name(signer)
    if looks_like_unit(plain) and not may_be_one_unit(plain, name):
        swhere = f"{at[0]}!{at[1]}"
        what = "“落款单位”" if signer_field else "报告文字末尾的落款"
        findings.append(
            Finding(
                "READ.unit",
                WARNING,
                f"{what}为“{signer}”（{swhere}），{read_from}为“{name}”（{where}），两者不一致；"
                f"年度报告的落款为“{signer}”，单位名称为“{name}”，请核实：是否沿用了其他单位的报告文字或文件而没有改过来。",
                cells=(swhere, where),
                expected=name,
                actual=signer,
            )
        )


def _resolve_year(unit: Unit, titles: list[_Title], findings: list[Finding]) -> None:
    """The report year: a 年度 field, else the report titles (the latest when they differ, said so)."""
    unit.year = unit.meta.get("year")
    with_year = [t for t in titles if t.year]
    if with_year:
        years = sorted({t.year for t in with_year if t.year})
        title = next(t for t in with_year if t.year == (unit.year if unit.year in years else years[-1]))
        unit.meta["title"] = _clean_line(title.text)[0]
        unit.meta_locations["title"] = (title.sheet, title.ref)
        if unit.year is None:
            unit.year = years[-1]
            if len(years) > 1:
                places = "、".join(f"{t.sheet}!{t.ref} 为 {t.year} 年" for t in with_year[:4])
                findings.append(
                    Finding(
                        "READ.meta",
                        WARNING,
                        f"工作簿中标题的年度不一致（{places}），已按最近的 {unit.year} 年读取，请核实。",
                        cells=tuple(f"{t.sheet}!{t.ref}" for t in with_year[:4]),
                    )
                )


_NAME_YEAR_MARK = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年")
_PERIOD_YEAR = re.compile(r"统计(?:期限|时限|期间|时段)[^\d。；]{0,8}((?:19|20)\d{2})\s*年")


def _year_conflicts(
    unit: Unit, sheets: list[Sheet], path: Path, tags: dict[str, Any], year_field: bool, findings: list[Finding]
) -> None:
    """An error when the file says another year than the one read, in its name, its 统计期限 line or
    the names of the sheets its tables were read from: a title (or 年度) copied from last year's
    report would otherwise file this year's report under last year, with nothing said."""
    year = unit.year
    if year_field:
        source = "“基本信息”中的年度"
    elif unit.meta.get("title"):
        source = "标题"
    else:
        source = "文件名"
    signs: list[str] = []
    cells: list[str] = []
    if source != "文件名":
        name = plain_name(path.name)  # a name garbled by an unzip tool: as it was (…2024年…, not …2024─Ω…)
        named = {int(y) for y in _NAME_YEAR_MARK.findall(unicodedata.normalize("NFKC", Path(name).stem))}
        if len(named) == 1 and year not in named:
            garbled = "（乱码，按 GBK 编码识别出原名）" if recovered_name(path.name) else ""
            signs.append(f"文件名“{name}”{garbled}写的是 {named.pop()} 年")
    for sheet in sheets:
        for r, c, v in sheet.strings:  # the texts, listed once for the metadata already
            if r >= 80:  # the report's opening lines, above or beside the tables
                break
            m = _PERIOD_YEAR.search(unicodedata.normalize("NFKC", v)) if "统计" in v else None
            if m and int(m.group(1)) != year and len(signs) < 4:
                signs.append(f"统计期限写的是 {m.group(1)} 年（{sheet.name}!{a1(r, c)}）")
                cells.append(f"{sheet.name}!{a1(r, c)}")
    by_year: dict[int, list[str]] = {}
    odd = [s for s in sheets if isinstance(tags.get(s.name), int) and tags.get(s.name) != year]
    used = {loc[0] for loc in unit.locations.values()} if odd else set()
    for sheet in odd:
        tag = tags[sheet.name]
        if sheet.name in used and _year_tag(sheet.name) == tag:
            by_year.setdefault(tag, []).append(f"“{sheet.name}”")
    for tag, names in by_year.items():
        signs.append(f"读取的表所在的工作表{''.join(names)}写的是 {tag} 年")
    if not signs:
        return
    where = unit.meta_locations.get("year") if year_field else unit.meta_locations.get("title")
    if where:
        cells.insert(0, f"{where[0]}!{where[1]}")
    findings.append(
        Finding(
            "READ.year",
            ERROR,
            f"报告年度按{source}读作 {year} 年，但" + "，".join(signs) + "。可能沿用了上年的标题、年度或文件；"
            f"已按 {year} 年处理（归入 {year} 年度），请核实是哪一年的报告，改正不对的一处后重新报送。",
            cells=tuple(cells),
            actual=year,
        )
    )


# --------------------------------------------------------------------------- entry point


def read_workbook(path: Path | str, forms: dict[str, Form] | None = None) -> Unit:
    """Read one workbook. Raises ReadError (Chinese message naming the file) when nothing can be read.

    The file is read once (``read_file_bytes``); its hash and everything read come from those
    bytes. Hostile files are refused before parsing (see the limits above), and the whole read
    runs under READ_TIME_LIMIT.
    """
    path = Path(path)
    if not os.path.lexists(path):
        what = "文件" if path.suffix else "文件或文件夹"  # ``check 收到的统计表`` names a folder
        raise ReadError(f"{what} {readable_name(path)} 不存在。", path)
    if path.suffix.lower() not in SUPPORTED:
        raise ReadError(not_a_workbook(path), path)
    with _time_limit(path):
        try:
            return _read(path, forms)
        except ReadError:
            raise
        except BaseException as exc:
            _raise_timeout(exc)  # the limit struck inside the parser, outside its guarded calls
            raise


def _own_sheets(sheets: list[Sheet]) -> tuple[list[Sheet], list[Explanation]]:
    """The sheets to read, without those gkreport writes beside the data: a template's 自查 sheet
    (formulas over the tables) and a checked workbook's 审核结果 (its 审核说明 are returned)."""
    keep: list[Sheet] = []
    explanations: list[Explanation] = []
    for sheet in sheets:
        first = sheet.text(0, 0) if sheet.rows else None
        if sheet.name == SELF_CHECK_SHEET and first and first.startswith(SELF_CHECK_SHEET):
            continue
        if sheet.name == FINDINGS_SHEET:
            found = read_explanations(sheet.name, sheet.rows, a1)
            head = [sheet.text(1, c) for c in range(2)] if len(sheet.rows) > 1 else []
            if found is not None or head == ["序号", "级别"]:  # also a checked workbook of an earlier version
                explanations += found or []
                continue
        keep.append(sheet)
    return keep, explanations


def _read(path: Path, forms: dict[str, Form] | None) -> Unit:
    data = read_file_bytes(path)
    sheets, explanations = _own_sheets(load_sheets(path, data))
    forms = forms or load_forms()
    try:
        form, _ = detect_form(sheets, forms)
    except ReadTimeout:
        raise
    except ReadError as exc:
        raise ReadError(f"文件 {readable_name(path.name)}：{exc.message}", path) from None
    fi = _index(form)
    unit = Unit(file=path, form=form, file_hash=hashlib.sha256(data).hexdigest(), explanations=explanations)
    found = _read_meta(unit, sheets, fi)
    tags = {sheet.name: _sheet_tag(sheet) for sheet in sheets}
    reader = _Reader(unit, fi, tags)
    for sheet in sheets:
        reader.walk(sheet)
    meta_findings: list[Finding] = []
    year_field = unit.meta.get("year") is not None
    _normalise_meta(unit, sheets, fi, path, meta_findings, found, tags)
    _clean_narrative(unit, meta_findings)
    reader.finish()
    if not reader.tables_seen:
        raise ReadError(f"文件 {readable_name(path.name)}：没有找到任何统计表。", path)
    if unit.year is not None:
        _year_conflicts(unit, sheets, path, tags, year_field, meta_findings)
    unit.findings[:0] = meta_findings
    # stable order of values: the form's cell order
    order = fi.cell_order
    unit.values = dict(sorted(unit.values.items(), key=lambda kv: order.get(kv[0], 1 << 30)))
    return unit


def unit_values_json(unit: Unit) -> list[dict[str, Any]]:
    """The values of a unit as the ``--json`` records: table, row, column labels, value, sheet, cell."""
    from .model import json_value

    out = []
    for cid, value in unit.values.items():
        cell = unit.form.cell(cid)
        t = unit.form.tables[cell.table]
        loc = unit.locations.get(cid)
        out.append(
            {
                "table": t.title_for(unit.year),
                "row": t.row_path(cell.row),
                "column": t.column_path(cell.column),
                "value": json_value(value),
                "sheet": loc[0] if loc else None,
                "cell": loc[1] if loc else None,
                "id": cid,
            }
        )
    return out
