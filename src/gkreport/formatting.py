"""One way to write a number, to read and write a date, to make a file name and to show one.

Every module that shows a count or an amount, reads a date from a workbook or prints
one (成文日期 style), names a file or folder after a unit (``safe_filename``; ``filename_key``
says which names may be one file somewhere), or shows the name of a file it was given
(``readable_name``: GBK bytes from a Windows-made zip included; ``recovered_name``, ``shown_name``
and ``plain_name``: a Windows-made zip's GBK names that an unzip tool decoded as CP437) calls these.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal
from typing import Any

# --------------------------------------------------------------------------- numbers


def format_number(v: Any, blank: str = "") -> str:
    """A count or an amount as printed: 12, 7730.28 (a Decimal keeps the decimals entered;
    a float is rounded to 6 decimals, as the check engine computes in floats). ``blank``
    stands for None and NaN."""
    if type(v) is float:  # the check engine's numbers: the common case first
        if not math.isfinite(v):
            return blank if math.isnan(v) else str(v)
        if abs(v - round(v)) < 1e-9:
            return str(round(v))
        return f"{v:.6f}".rstrip("0").rstrip(".")
    if v is None:
        return blank
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, float):
        return format_number(float(v), blank)
    return str(v)


# --------------------------------------------------------------------------- dates

_DATE = re.compile(r"(\d{4})[年./\-](\d{1,2})[月./\-](\d{1,2})日?")
_HAN_DATE = re.compile(
    r"([〇零○O一二三四五六七八九]{4})年([一二三四五六七八九十]{1,3})月([一二三四五六七八九十]{1,3})日"
)
_HAN_DIGITS = {"〇": 0, "零": 0, "○": 0, "O": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5}
_HAN_DIGITS.update({"六": 6, "七": 7, "八": 8, "九": 9})
_WS = re.compile(r"\s+")


def _han_number(s: str) -> int | None:
    if all(ch in _HAN_DIGITS for ch in s):
        return int("".join(str(_HAN_DIGITS[ch]) for ch in s))
    m = re.fullmatch(r"([一二三]?)十([一二三四五六七八九]?)", s)
    if m:
        return (_HAN_DIGITS.get(m.group(1), 1) if m.group(1) else 1) * 10 + (
            _HAN_DIGITS[m.group(2)] if m.group(2) else 0
        )
    return None


def parse_date(raw: Any) -> date | None:
    """A date from a cell: a date or datetime, or text such as 2018年3月12日, 2018-03-12,
    2018.3.12, 二〇一八年三月十二日, 2019年元月8日 (full-width digits and spaces allowed); None otherwise."""
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if not isinstance(raw, str):
        return None
    s = _WS.sub("", unicodedata.normalize("NFKC", raw))
    m = _DATE.fullmatch(s.replace("年元月", "年1月"))  # 元月: January, as dates of documents often say
    if m:
        y, mo, d = (int(g) for g in m.groups())
    else:
        m2 = _HAN_DATE.fullmatch(s.replace("年元月", "年一月"))
        if not m2:
            return None
        parts = [_han_number(g) for g in m2.groups()]
        if parts[0] is None or parts[1] is None or parts[2] is None:
            return None
        y, mo, d = parts[0], parts[1], parts[2]
    try:
        return date(y, mo, d)
    except ValueError:
        return None


def format_date(v: Any) -> str | None:
    """成文日期 style: 2018年3月12日 (Arabic numerals, no leading zeros); None when not a date."""
    d = parse_date(v)
    return f"{d.year}年{d.month}月{d.day}日" if d else None


# --------------------------------------------------------------------------- file names

_ILLEGAL = re.compile(r'[\\/:*?"<>|]+')
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
MAX_NAME_BYTES = 200  # file systems allow 255 bytes per name; a CJK character takes 3 in UTF-8
_TAIL = 20  # characters kept from the end of a name that has to be cut (year and title)


def safe_filename(stem: Any, suffix: str = "", *, limit: int = 100, default: str = "未命名") -> str:
    """A file or folder name from workbook text, valid on Windows, macOS and Linux.

    Line breaks (a name wrapped in its cell) are dropped, other control characters too;
    a run of ``\\ / : * ? " < > |`` becomes one ``_``; runs of spaces become one; leading and trailing
    spaces and dots go (no hidden files, no ``..``); Windows' reserved names get a ``_``.
    A name longer than ``limit`` characters (or 200 bytes with ``suffix``) is cut, keeping
    its start and end with a tag of the whole name between, so two long names never meet.
    """
    s = unicodedata.normalize("NFC", str(stem))
    s = s.replace("\r", "").replace("\n", "")
    s = _CONTROL.sub("", s)
    s = _ILLEGAL.sub("_", s)
    s = _WS.sub(" ", s)
    s = re.sub(r"\.{2,}", ".", s)
    s = s.strip(" .\u3000")
    if not s:
        s = default
    if s.split(".")[0].strip().upper() in _RESERVED:
        s = "_" + s
    room = MAX_NAME_BYTES - len(suffix.encode("utf-8"))
    if len(s) > limit or len(s.encode("utf-8")) > room:
        tag = "_" + hashlib.sha1(s.encode("utf-8")).hexdigest()[:8]
        tail = s[-_TAIL:] if limit > 2 * _TAIL + len(tag) else ""
        head = s[: limit - len(tag) - len(tail)]
        while head and len((head + tag + tail).encode("utf-8")) > room:
            head = head[:-1]
        s = head.rstrip(" .") + tag + tail
    return s + suffix


def filename_key(name: str) -> str:
    """The form under which two file names may be the same file somewhere: Windows and macOS
    ignore upper/lower case, and full-width and half-width letters look alike (NFKC).
    Names with equal keys never name two different units' outputs."""
    return unicodedata.normalize("NFKC", name).casefold()


def _readable_part(part: str) -> str:
    try:
        part.encode("utf-8")
        return part
    except UnicodeEncodeError:  # bytes that are not UTF-8, kept by the OS layer as surrogates
        pass
    raw = os.fsencode(part)
    for enc in ("utf-8", "gb18030"):  # a zip made on Chinese Windows stores GBK names
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", "replace")


def readable_name(path: Any) -> str:
    """A path or file name as people read it: a name whose bytes are not UTF-8 (a Windows-made
    zip unpacked on Linux leaves GBK bytes) is decoded as GBK (GB18030), each part of the path
    on its own; the result is always valid text (it can be printed, put in JSON and workbooks)."""
    s = os.fspath(path) if not isinstance(path, str) else path
    if isinstance(s, bytes):
        s = os.fsdecode(s)
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        pass
    seps = {os.sep, "/"} | ({os.altsep} if os.altsep else set())
    out: list[str] = []
    part: list[str] = []
    for ch in s:
        if ch in seps:
            out.append(_readable_part("".join(part)) + ch)
            part = []
        else:
            part.append(ch)
    out.append(_readable_part("".join(part)))
    return "".join(out)


# A zip made on Chinese Windows stores its names in GBK without saying so; tools that follow the zip
# format's default (Python's zipfile among them) decode them as CP437 and write them as valid UTF-8,
# garbled: 示例局.xlsx becomes ╩╛└²╛╓.xlsx. The bytes are all still there.
_CP437_HIGH = frozenset(bytes(range(0x80, 0x100)).decode("cp437"))


def _common_han(ch: str) -> bool:
    """A CJK ideograph of GB2312 (the 6,763 characters in everyday use)."""
    if not "\u4e00" <= ch <= "\u9fff":
        return False
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _from_cp437(part: str) -> str | None:
    """``part`` (a file or folder name) as it was before its GBK bytes were decoded as CP437, or None.

    Only when the evidence is strong: the name (without its suffix) has non-ASCII characters, each of
    them CP437's character for a byte from 0x80 up; those bytes are GBK throughout; and what that
    gives is Chinese: at least two ideographs in everyday use (GB2312), and at least 60% of its
    non-ASCII characters. A readable Chinese name has characters CP437 lacks and is never taken;
    accented Latin letters (Résumé, Straße, Détails) decode to at most stray rare characters."""
    s = unicodedata.normalize("NFC", part)  # macOS may store é as e + a combining accent
    if os.path.splitext(s)[0].isascii():
        return None
    if any(not ch.isascii() and ch not in _CP437_HIGH for ch in s):
        return None
    try:
        fixed = s.encode("cp437").decode("gbk")
    except UnicodeError:
        return None
    wide = [ch for ch in fixed if not ch.isascii()]
    han = sum(map(_common_han, wide))
    return fixed if han >= 2 and han >= 0.6 * len(wide) else None


_SEPARATORS = re.compile(r"([/\\])" if os.sep == "\\" else "(/)")  # a \ is a name's own on POSIX


def _recovered_parts(name: Any) -> tuple[str, str, list[bool]]:
    """(``readable_name(name)``, that with each garbled part recovered, whether each part was)."""
    s = readable_name(name)
    if s.isascii():
        return s, s, []
    pieces = _SEPARATORS.split(s)  # names and separators in turn
    found = []
    for i in range(0, len(pieces), 2):
        got = _from_cp437(pieces[i]) if pieces[i] else None
        found.append(got is not None)
        pieces[i] = got or pieces[i]
    return s, "".join(pieces), found


def recovered_name(name: Any) -> str | None:
    """The name a file had in a Windows-made zip whose GBK names were decoded as CP437 on unpacking
    (``╩╛└²╛╓.xlsx`` → ``示例局.xlsx``; each part of a path on its own), or None for any other name.
    For display only: the file on disk keeps its garbled name."""
    _, fixed, found = _recovered_parts(name)
    return fixed if any(found) else None


def plain_name(name: Any) -> str:
    """A file name put where a unit's name would stand: the recovered name of a garbled one
    (``recovered_name``), else ``readable_name``."""
    return recovered_name(name) or readable_name(name)


def shown_name(name: Any) -> str:
    """A file name as listed for people: ``readable_name``, and for a garbled name
    (``recovered_name``) the name it should have beside it:
    ``╩╛└²╛╓.xlsx（文件名是乱码，应为“示例局.xlsx”）``."""
    s, fixed, found = _recovered_parts(name)
    if not any(found):
        return s
    what = "文件名" if found[-1] else "文件夹名"
    if found[-1] and any(found[:-1]):
        what = "文件名和文件夹名"
    return f"{s}（{what}是乱码，应为“{fixed}”）"
