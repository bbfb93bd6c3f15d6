"""Label normalisation and matching.

Offices retype, paste and reformat the official labels: full/half width,
spaces and line breaks inside labels, （）vs (), ：vs :, “其中：” prefixes,
"1." vs "1、" numbering, typos. ``norm`` removes the differences that carry
no meaning; ``core`` also drops numbering and trailing explanations in
brackets; ``similar`` scores what is left for typo tolerance.
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher
from functools import lru_cache

_QUOTES = str.maketrans(
    {
        "“": '"',
        "”": '"',
        "„": '"',
        "‘": "'",
        "’": "'",
        "「": '"',
        "」": '"',
        "『": '"',
        "』": '"',
        "〔": "[",
        "〕": "]",
        "【": "[",
        "】": "]",
        "—": "-",
        "－": "-",
        "–": "-",
        "﹙": "(",
        "﹚": ")",
    }
)
_INVISIBLE = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff\xad]+")
_ARABIC_NUM = re.compile(r"^(\d{1,2})[、.,，:]")
_HAN_NUM = re.compile(r"^([一二三四五六七八九十]{1,3})[.,，、]")
_QIZHONG = re.compile(r"^其中[:]?")
_LEADING_NUMBERING = re.compile(
    r"^(?:[一二三四五六七八九十]{1,3}、|\([一二三四五六七八九十]{1,3}\)|\d{1,2}\.|\(\d{1,2}\))"
)
_TRAILING_NOTE = re.compile(r"\([^()]*\)$")


@lru_cache(maxsize=65536)
def norm(text: object) -> str:
    """Normalised label: NFKC width folding, no whitespace, unified quotes and numbering."""
    if text is None:
        return ""
    s = unicodedata.normalize("NFKC", str(text)).translate(_QUOTES)
    s = _INVISIBLE.sub("", s)
    s = _ARABIC_NUM.sub(r"\1.", s)
    s = _HAN_NUM.sub(r"\1、", s)
    s = _QIZHONG.sub("", s)
    return s


@lru_cache(maxsize=65536)
def core(text: object) -> str:
    """The label without its numbering and without trailing bracketed explanations."""
    s = norm(text)
    s = _LEADING_NUMBERING.sub("", s)
    while True:
        t = _TRAILING_NOTE.sub("", s)
        if t == s or not t:
            break
        s = t
    return s


def similar(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


_NUMBERISH = re.compile(r"[约近超逾大概]{0,2}[+\-−]?[\d,.]+(人次|万元|条|件|次|篇|个|人|元|项|家|余|多)?")
_NOTE = re.compile(r"(?P<body>[^()]*\d[^()]*?)\((?P<note>[^()]*[^()\s][^()]*)\)")


@lru_cache(maxsize=65536)
def split_note(text: str) -> tuple[str, str] | None:
    """(number, note) of a number followed by a bracketed note: ``12（其中修订6件）`` → ("12", "其中修订6件").

    None when the text is not of that shape. Whether the number part is a valid value is left to
    the caller; ``note`` is as written (trimmed).
    """
    s = unicodedata.normalize("NFKC", text).strip()
    if "(" not in s:
        return None
    m = _NOTE.fullmatch(s)
    if not m:
        return None
    return m.group("body").strip(), m.group("note").strip()


@lru_cache(maxsize=65536)
def looks_like_number(text: str) -> bool:
    """True for cell text that is meant as a value (``35条``, ``１２``, ``1,234``, ``-3``, ``约10``,
    ``12（其中修订6件）``)."""
    s = unicodedata.normalize("NFKC", text).strip()
    if not s:
        return False
    if _NUMBERISH.fullmatch(s.replace(" ", "")):
        return True
    noted = split_note(s)
    if noted and _NUMBERISH.fullmatch(noted[0].replace(" ", "")):
        return True
    return s in ("-", "—", "/", "无", "－", "——", "/")
