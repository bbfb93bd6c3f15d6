"""The roster: reading .xlsx/.csv in the encodings offices save, splitting addresses, matching names."""

from __future__ import annotations

import csv

import openpyxl
import pytest

from gkreport.roster import (
    RosterError,
    ask,
    clean_line,
    match_names,
    name_key,
    near_units,
    nearness,
    read_roster,
    split_addresses,
)

ROWS = [
    ["单位名称", "邮箱", "抄送"],
    ["某某区教育局", "a@example.cn；b@example.cn", ""],
    ["某某区卫健局", '"Li, Si" <li@example.gov.cn>', "张老师<zhang@example.cn>, x@example.cn"],
    ["", "", ""],  # an empty row is skipped
    ["某某区\n住房和城乡建设局", "zj@example.cn", None],  # a line break typed with Alt+Enter
]


def write_xlsx(path, rows, sheet_first=None):
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in sheet_first or []:
        ws.append(r)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def expected_entries(entries):
    return [(e.unit, e.to, e.cc, e.where) for e in entries]


WANT = [
    ("某某区教育局", ["a@example.cn", "b@example.cn"], [], "第 2 行"),
    ("某某区卫健局", ['"Li, Si" <li@example.gov.cn>'], ["张老师 <zhang@example.cn>", "x@example.cn"], "第 3 行"),
    ("某某区 住房和城乡建设局", ["zj@example.cn"], [], "第 5 行"),
]


def test_read_xlsx(tmp_path):
    got = read_roster(write_xlsx(tmp_path / "名单.xlsx", ROWS))
    assert expected_entries(got) == WANT


def test_header_found_below_a_title(tmp_path):
    path = write_xlsx(tmp_path / "名单.xlsx", ROWS, sheet_first=[["某某区2025年政府信息公开年报报送名单"], []])
    got = read_roster(path)
    assert [e.where for e in got] == ["第 4 行", "第 5 行", "第 7 行"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "utf-16"])
def test_read_csv_in_the_encodings_offices_save(tmp_path, encoding):
    path = tmp_path / f"名单-{encoding}.csv"
    with open(path, "w", encoding=encoding, newline="") as fh:
        csv.writer(fh, delimiter="\t" if encoding == "utf-16" else ",").writerows(
            [[c if c is not None else "" for c in r] for r in ROWS]
        )
    assert expected_entries(read_roster(path)) == WANT


def test_names_only_roster_for_the_batch(tmp_path):
    path = write_xlsx(tmp_path / "名单.xlsx", [["序号", "单位名称"], [1, "某某区教育局"], [2, "某某区民政局"]])
    with pytest.raises(RosterError, match="缺少“邮箱”列"):
        read_roster(path)
    assert [e.unit for e in read_roster(path, need_addresses=False)] == ["某某区教育局", "某某区民政局"]


def test_unusable_rosters_say_why(tmp_path):
    with pytest.raises(RosterError, match="找不到名单文件"):
        read_roster(tmp_path / "无.xlsx")
    (tmp_path / "名单.doc").write_bytes(b"x")
    with pytest.raises(RosterError, match=r"应是 \.xlsx 或 \.csv"):
        read_roster(tmp_path / "名单.doc")
    (tmp_path / "坏.xlsx").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(RosterError, match="无法读取名单"):
        read_roster(tmp_path / "坏.xlsx")
    path = write_xlsx(tmp_path / "无表头.xlsx", [["某某区教育局", "a@example.cn"]] * 12)
    with pytest.raises(RosterError, match="找不到表头行"):
        read_roster(path)
    (tmp_path / "乱码.csv").write_bytes(b"\xff\x00\x81\xfe" * 10)
    with pytest.raises(RosterError, match="编码无法识别"):
        read_roster(tmp_path / "乱码.csv")


@pytest.mark.parametrize(
    ("cell", "want"),
    [
        ("a@x.cn；b@y.cn、c@z.cn d@w.cn", ["a@x.cn", "b@y.cn", "c@z.cn", "d@w.cn"]),
        ("a@x.cn,b@y.cn，c@z.cn;d@w.cn", ["a@x.cn", "b@y.cn", "c@z.cn", "d@w.cn"]),
        ('"Li, Si" <li@example.gov.cn>', ['"Li, Si" <li@example.gov.cn>']),
        ('"Li, Si" <li@example.gov.cn>；王五<w@x.cn>', ['"Li, Si" <li@example.gov.cn>', "王五 <w@x.cn>"]),
        ("Zhang San <z@x.cn>", ["Zhang San <z@x.cn>"]),
        ("a@x.cn 张三<c@z.cn>", ["a@x.cn", "张三 <c@z.cn>"]),
        ("张三 z@x.cn", ["张三", "z@x.cn"]),  # a name without brackets is left for the address check to refuse
        ("ｚｒ＠example.cn", ["ｚｒ＠example.cn"]),
        ("", []),
        (None, []),
    ],
)
def test_split_addresses(cell, want):
    assert split_addresses(cell) == want


def test_control_characters_never_survive_cleaning():
    for ch in ["\u2028", "\u2029", "\u0085", "\x0c", "\x0b", "\x1c", "\x1d", "\x1e", "\r\n", "\n", "\r", "\u200b"]:
        text = clean_line(f"某某区{ch}教育局")
        assert text in ("某某区 教育局", "某某区教育局"), repr(ch)
        assert text.splitlines() == [text]
        assert name_key(f"某某区{ch}教育局") == "某某区教育局"
    assert clean_line("某某区\udcb2\udce2局") == "某某区测局"  # GBK bytes left undecoded by a file system


def test_exact_and_normalised_matches():
    units = ["某某区教育局", "某某区(自然资源局)", "AB局", "ＡＢ局", "某某区 卫生健康委员会"]
    got = match_names(["某某区教育局", "某某区（自然资源局）", "某某区卫生健康委员会　", "AB局", "Ａ Ｂ局"], units)
    assert [(x.unit, x.ambiguous) for x in got.names] == [
        ("某某区教育局", ()),
        ("某某区(自然资源局)", ()),  # full/half width
        ("某某区 卫生健康委员会", ()),  # spaces
        ("AB局", ()),  # exact wins although ＡＢ局 folds to the same
        (None, ("AB局", "ＡＢ局")),  # folds to two units: neither is taken
    ]
    assert got.unlisted == {"ＡＢ局": ()}


def test_near_names_are_questions_not_matches():
    units = ["某某区卫生健康局", "某某区市场监督管理局", "某某区住房和城乡建设局", "某某区教育局", "某某县教育局"]
    got = match_names(["某某区卫健局", "某某区市场监管局", "住建局", "某某区体育局"], units)
    assert [x.unit for x in got.names] == [None] * 4
    assert [x.near for x in got.names] == [
        ("某某区卫生健康局",),
        ("某某区市场监督管理局",),
        ("某某区住房和城乡建设局",),
        (),
    ]
    assert got.names[0].question == "是否为“某某区卫生健康局”？"
    assert got.unlisted["某某区卫生健康局"] == ("某某区卫健局",)
    assert got.unlisted["某某区教育局"] == ()


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("某某区卫健局", "某某区卫生健康局", 3),
        ("某某区市场监管局", "某某区市场监督管理局", 3),
        ("某某区住建局", "某某区住房和城乡建设局", 3),
        ("某某区卫健委", "某某区卫生健康委员会", 3),
        ("张店区科技局", "张店区科学技术局", 3),
        ("某某区人社局", "某某区人力资源和社会保障局", 3),
        ("某某区政府办", "某某区人民政府办公室", 3),
        ("教育局", "某某区教育局", 2),  # the place left out
        ("某某区卫健委", "某某区卫生健康局", 2),  # 委 for 局
        ("某某区自然资原局", "某某区自然资源局", 1),  # a slip in a longer name
        ("某某区教育局", "某某区体育局", 0),
        ("某某区教育局", "某某县教育局", 0),  # another place is another unit
        ("示例市东城区市场监管局", "示例市西城区市场监督管理局", 0),
        ("某某区财政局", "某某区审计局", 0),
        ("某某区民政局", "某某区人社局", 0),
        ("某某区教育局", "某某区教育局办公室", 0),
    ],
)
def test_nearness(a, b, level):
    assert nearness(a, b) == level
    assert nearness(b, a) == level


def test_near_units_prefers_the_surest_and_asks_plainly():
    units = ["某某区卫生健康局", "某某区卫生健康委员会", "某某区教育局"]
    assert near_units("某某区卫健局", units) == ["某某区卫生健康局"]
    assert near_units("卫健局", ["某某区卫生健康局", "某某县卫生健康局"]) == ["某某区卫生健康局", "某某县卫生健康局"]
    assert ask(["甲", "乙"]) == "是否为“甲”或“乙”？" and ask([]) == ""


# --------------------------------------------------------------------------- submissions against a roster


def test_submissions_mark_each_roster_unit(tmp_path):
    from gkreport.roster import submissions

    path = write_xlsx(
        tmp_path / "名单.xlsx",
        [
            ["单位名称", "邮箱"],
            ["某某区教育局", ""],
            ["某某区卫健局", ""],
            ["某某区审计局", ""],
            ["某某区民政局", ""],
            ["某某区财政局", ""],
            ["某某区司法局", ""],
            ["某某区水利局", ""],
            ["某某区商务局", ""],
        ],
    )
    entries = read_roster(path, need_addresses=False)
    units = [
        ("某某区教育局", "通过", "教育局.xlsx"),
        ("某某区水利局", "无法读取", "水利局（草稿）.xlsx"),  # an extra file that cannot be read …
        ("某某区水利局", "有提示", "水利局.xlsx"),  # … beside the one read: it has submitted
        ("某某区商务局", "无法读取", "商务局.xlsx"),  # its only file: not read
        ("某某区卫生健康局", "有错误", "卫健.xlsx"),  # the roster writes the short name
        ("某某区民政局", "有提示", "民政.xlsx"),
        ("某某区财政局", "重复报送", "财政1.xlsx"),
        ("某某区财政局", "重复报送", "财政2.xlsx"),
        ("某某区统计局", "通过", "统计.xlsx"),  # not on the roster
    ]
    subs, unlisted = submissions(entries, units, unreadable=["某某区司法局2025年统计表.xlsx", "别的.xlsx"])
    got = {s.name: (s.mark, s.unit, s.files, s.question) for s in subs}
    assert got == {
        "某某区教育局": ("已报送", "某某区教育局", ("教育局.xlsx",), ""),
        # near but not the same name: never taken as a match, asked about (the matching mail uses)
        "某某区卫健局": ("未报送", None, (), "是否为“某某区卫生健康局”？"),
        "某某区审计局": ("未报送", None, (), ""),
        "某某区民政局": ("有提示", "某某区民政局", ("民政.xlsx",), ""),
        "某某区财政局": ("重复报送", "某某区财政局", ("财政1.xlsx", "财政2.xlsx"), ""),
        "某某区司法局": ("无法读取", None, ("某某区司法局2025年统计表.xlsx",), ""),  # its file is named after it
        "某某区水利局": ("有提示", "某某区水利局", ("水利局（草稿）.xlsx", "水利局.xlsx"), ""),
        "某某区商务局": ("无法读取", "某某区商务局", ("商务局.xlsx",), ""),
    }
    assert [s.where for s in subs] == [f"第 {i} 行" for i in range(2, 10)]
    assert unlisted == {"某某区卫生健康局": ("某某区卫健局",), "某某区统计局": ()}
