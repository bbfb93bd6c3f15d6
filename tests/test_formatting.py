"""The one number formatter, date parser/formatter, file-name function and readable file names."""

from __future__ import annotations

import datetime
import math
import os
from decimal import Decimal

import pytest

from gkreport.formatting import (
    filename_key,
    format_date,
    format_number,
    parse_date,
    plain_name,
    readable_name,
    recovered_name,
    safe_filename,
    shown_name,
)


def test_numbers_as_printed():
    assert format_number(Decimal("12.35")) == "12.35"
    assert format_number(Decimal("7730.280")) == "7730.280"  # as entered, not rounded
    assert format_number(Decimal("1E+2")) == "100"
    assert format_number(7) == "7" and format_number(True) == "1"
    assert format_number(None) == "" and format_number(None, blank="空白") == "空白"
    assert format_number(math.nan, blank="空白") == "空白"
    # floats come from the check engine: integral ones without a point, others to 6 decimals
    assert format_number(21.0) == "21" and format_number(0.1 + 0.2) == "0.3"
    assert format_number(2.0000000001) == "2" and format_number(-3.5) == "-3.5"
    assert format_number(1 / 3) == "0.333333"


@pytest.mark.parametrize(
    "raw, want",
    [
        (datetime.date(2018, 3, 12), datetime.date(2018, 3, 12)),
        (datetime.datetime(2026, 1, 5, 9, 30), datetime.date(2026, 1, 5)),
        ("2018年3月12日", datetime.date(2018, 3, 12)),
        ("2018-03-05", datetime.date(2018, 3, 5)),
        ("2018.1.23", datetime.date(2018, 1, 23)),
        ("2018 年 3 月 12 日", datetime.date(2018, 3, 12)),  # spaces of a PDF copy
        ("２０１８年３月１２日", datetime.date(2018, 3, 12)),  # full-width digits
        ("二〇一八年三月十二日", datetime.date(2018, 3, 12)),
        ("二〇一八年十二月三十一日", datetime.date(2018, 12, 31)),
        ("2019年元月8日", datetime.date(2019, 1, 8)),  # 元月: January
        ("二〇一九年元月八日", datetime.date(2019, 1, 8)),
        ("元月8日", None),  # no year
        ("2018年2月30日", None),  # no such day
        ("三月", None),
        ("", None),
        (None, None),
        (20180312, None),
    ],
)
def test_dates_are_read_from_cells(raw, want):
    assert parse_date(raw) == want


def test_dates_in_the_official_style():
    assert format_date(datetime.date(2018, 3, 12)) == "2018年3月12日"
    assert format_date(datetime.datetime(2026, 1, 5, 9, 30)) == "2026年1月5日"
    assert format_date("2018-03-05") == "2018年3月5日"
    assert format_date("三月") is None and format_date(None) is None


@pytest.mark.parametrize("hostile", ["../../etc", "a/b\\c", "CON", "nul.txt", "\x00\x1f名", "." * 5, "x" * 300, "  "])
def test_file_names_are_safe_on_every_system(hostile):
    name = safe_filename(hostile, limit=80)
    assert name and "/" not in name and "\\" not in name and ".." not in name and len(name) <= 80
    assert name.split(".")[0].upper() not in {"CON", "NUL"}
    assert not any(ord(ch) < 32 for ch in name)
    assert not name.startswith(".")


def test_file_names_keep_the_text_people_wrote():
    assert safe_filename('某区/某局:"办公室"', ".docx") == "某区_某局_办公室_.docx"
    assert safe_filename("某某区\n教育局") == "某某区教育局"  # a name wrapped in its cell
    assert safe_filename("某某区  教育局\u3000") == "某某区 教育局"
    assert safe_filename("", default="单位") == "单位"


def test_long_names_are_cut_apart_and_within_the_byte_limit():
    a = "某" * 150 + "甲局"
    b = "某" * 150 + "乙局"
    na, nb = safe_filename(a, ".docx", limit=120), safe_filename(b, ".docx", limit=120)
    assert na != nb and na.endswith("甲局.docx") and nb.endswith("乙局.docx")
    assert len(na) <= 120 + len(".docx") and len(na.encode("utf-8")) <= 200
    assert safe_filename(a, limit=80) != safe_filename(b, limit=80)


def test_names_that_one_file_system_or_another_takes_for_the_same_file_share_a_key():
    assert filename_key("ABC局") == filename_key("abc局") == filename_key("ＡＢＣ局")  # case, full width
    assert filename_key(safe_filename("碰撞局/一")) == filename_key(safe_filename("碰撞局_一"))
    assert filename_key(safe_filename("冒号局:甲")) == filename_key(safe_filename("冒号局?甲"))
    assert filename_key(safe_filename("尾点局.")) == filename_key(safe_filename("尾点局"))
    assert filename_key("某某局") != filename_key("某某厅")


@pytest.mark.skipif(os.name != "posix", reason="POSIX 文件名是字节")
def test_file_names_in_gbk_bytes_are_read_as_gbk():
    """A zip made on Chinese Windows, unpacked on Linux, leaves GBK bytes; Python keeps them as
    surrogates, which cannot be printed or written to JSON. Each part of the path is decoded alone."""
    raw = os.fsencode("输入/") + "示例局2025年统计表.xlsx".encode("gbk")
    as_os_gives = os.fsdecode(raw)
    assert as_os_gives != "输入/示例局2025年统计表.xlsx"
    assert readable_name(as_os_gives) == "输入/示例局2025年统计表.xlsx"
    assert readable_name(raw) == "输入/示例局2025年统计表.xlsx"
    assert readable_name("正常的名称.xlsx") == "正常的名称.xlsx"
    garbage = readable_name(os.fsdecode(b"\xff\xfe\x81.xlsx"))
    garbage.encode("utf-8")  # never fails, whatever the bytes
    assert garbage.endswith(".xlsx")


def test_names_garbled_by_an_unzip_tool_are_recovered():
    """A zip made on Chinese Windows stores GBK names; a tool that reads them as CP437 writes valid
    UTF-8 that is garbled. The name it should have is shown beside it; the file keeps its name."""
    name = "示例市东城区教育局2025年统计表.xlsx"
    odd = name.encode("gbk").decode("cp437")
    assert odd == "╩╛└²╩╨╢½│╟╟°╜╠╙²╛╓2025─Ω═│╝╞▒φ.xlsx"
    assert recovered_name(odd) == plain_name(odd) == name
    assert shown_name(odd) == f"{odd}（文件名是乱码，应为“{name}”）"
    folder = "东城区".encode("gbk").decode("cp437")
    assert recovered_name(f"{folder}/{odd}") == f"东城区/{name}"
    assert shown_name(f"{folder}/a.xlsx") == f"{folder}/a.xlsx（文件夹名是乱码，应为“东城区/a.xlsx”）"
    assert shown_name(f"{folder}/{odd}").endswith(f"（文件名和文件夹名是乱码，应为“东城区/{name}”）")
    assert recovered_name(f"/home/x/{odd}") == f"/home/x/{name}"
    for other in ("某某区人民政府办公室（2024）.xlsx", "附件1：年度报告.docx", "汇总"):
        assert recovered_name(other.encode("gbk").decode("cp437")) == other


@pytest.mark.parametrize(
    "name",
    [
        "示例市东城区教育局2025年统计表.xlsx",  # readable Chinese
        "示例局/统计表.xlsx",
        "report-2025.xlsx",  # ASCII
        "Résumé.xlsx",  # Latin letters with accents (CP437 has them)
        "Re\u0301sume\u0301.xlsx",  # the same as macOS may store it
        "Détails.xlsx",  # GBK would make D倀ails.xlsx of it: one rare character is no evidence
        "Straße.xlsx",
        "Café crème.xlsx",
        "Müller Ärger.xlsx",
        "año señal 2025.xlsx",
        "½ année.xlsx",
        "╛╓.xlsx",  # 局.xlsx garbled: one character is not enough to be sure
        "ʾ���ж������г��ල������2025��ͳ�Ʊ�.xlsx",  # GBK read as UTF-8: the bytes are lost
    ],
)
def test_names_that_are_not_garbled_are_left_as_they_are(name):
    assert recovered_name(name) is None
    assert shown_name(name) == plain_name(name) == name
