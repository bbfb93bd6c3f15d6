"""What a year's summary leaves out, as the office sees it after a real batch: a department that
submitted twice (重复报送: neither file summed) and a file that could not be read are named in the
district report's 审核提示 and in the summary workbook's 审核结果, with or without a roster, and
the workbook's 报送情况 shows a duplicate as 重复报送 with its unit, not as 无法读取."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import openpyxl
from docx import Document

from conftest import DISTRICT, SAMPLES, district_units
from gkreport.batch import BatchOptions, run_batch
from gkreport.checks import check_units
from gkreport.docx_out import BANNER_WARNINGS, summary_banner
from gkreport.model import WARNING, Finding
from gkreport.roster import RosterEntry
from gkreport.summary import summarise

CITY = "示例市东城区人民政府"
EDU = "示例市东城区教育局"
HOUSING = "示例市东城区住房和城乡建设局"
MARKET = "示例市东城区市场监督管理局"
EDU_FILE = f"{EDU}2025年统计表.xlsx"
EDU_COPY = f"{EDU}2025年统计表（修改后）.xlsx"
JUNK = "某文件.xlsx"


def _inputs(folder: Path, extra_unreadable: tuple[str, ...] = ()) -> Path:
    """Three departments of 2025, one of them submitted twice, and a text file named .xlsx."""
    inp = folder / "input"
    inp.mkdir(parents=True)
    for name in (EDU, HOUSING, MARKET):
        shutil.copy(SAMPLES / f"{name}2025年统计表.xlsx", inp)
    shutil.copy(inp / EDU_FILE, inp / EDU_COPY)
    for name in (JUNK, *extra_unreadable):
        (inp / name).write_text("单位,数量\n某单位,1\n", encoding="utf-8")
    return inp


def _roster(folder: Path, names: list[str]) -> Path:
    wb = openpyxl.Workbook()
    wb.active.append(["单位名称"])
    for name in names:
        wb.active.append([name])
    path = folder / "名单.xlsx"
    wb.save(path)
    return path


def _run(folder: Path, roster: Path | None = None, extra_unreadable: tuple[str, ...] = ()):
    inp = _inputs(folder, extra_unreadable)
    out = folder / "output"
    result = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1, summary_unit=CITY, roster=roster))
    return out, result


def _banner(out: Path) -> tuple[str, list[str]]:
    """The district report's 审核提示: its head line and its items."""
    doc = Document(str(next((out / "2025" / "汇总").glob("*.docx"))))
    head = [p.text for p in doc.paragraphs if p.style.name == "GwAlert"]
    items = [p.text for p in doc.paragraphs if p.style.name == "GwAlertItem"]
    return (head[0] if head else ""), items


def _summary_workbook(out: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(out / "2025" / "汇总" / "2025年政府信息公开工作汇总.xlsx")


def _findings(wb: openpyxl.Workbook) -> list[dict[str, object]]:
    rows = list(wb["审核结果"].iter_rows(min_row=2, values_only=True))
    head = list(rows[0])
    return [dict(zip(head, r)) for r in rows[1:]]


def _status_rows(wb: openpyxl.Workbook) -> tuple[str, list[dict[str, object]]]:
    ws = wb["报送情况"]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    head = list(rows[0])
    return str(ws["A1"].value), [dict(zip(head, r)) for r in rows[1:]]


def test_a_duplicate_and_an_unreadable_file_are_in_the_district_reports_banner(tmp_path):
    out, result = _run(tmp_path)
    assert {r.input: str(r.status) for r in result.records} == {
        EDU_FILE: "重复报送",
        EDU_COPY: "重复报送",
        f"{HOUSING}2025年统计表.xlsx": "通过",
        f"{MARKET}2025年统计表.xlsx": "通过",
        JUNK: "无法读取",
    }
    head, items = _banner(out)
    assert head, "the report must not look finished while a department's data is left out"
    twice = [x for x in items if EDU in x]
    assert len(twice) == 1 and EDU_FILE in twice[0] and EDU_COPY in twice[0] and "未计入汇总" in twice[0]
    unread = [x for x in items if JUNK in x]
    assert len(unread) == 1 and "无法读取" in unread[0] and "可能属于本年度" in unread[0]
    # the workbook's 审核结果 says the same, under registered codes
    found = _findings(_summary_workbook(out))
    by_rule = {f["编号"]: f for f in found if f["单位"] == CITY}
    assert EDU_COPY in str(by_rule["SUM.duplicate"]["问题说明"]) and by_rule["SUM.duplicate"]["级别"] == "提示"
    assert by_rule["SUM.duplicate"]["问题"] == "重复报送未计入"
    assert JUNK in str(by_rule["SUM.unreadable"]["问题说明"]) and by_rule["SUM.unreadable"]["问题"] == "有文件无法读取"
    year = next(y for y in result.years if y.year == 2025)
    assert year.summed == [HOUSING, MARKET]


def test_the_status_sheet_shows_a_duplicate_as_such(tmp_path):
    out, _ = _run(tmp_path)
    title, rows = _status_rows(_summary_workbook(out))
    assert "无法读取 1 个" in title and "重复报送 2 个" in title, title
    by_file = {r["文件"]: r for r in rows}
    for name in (EDU_FILE, EDU_COPY):
        row = by_file[name]
        assert (row["单位"], row["年度"], row["状态"], row["计入汇总"]) == (EDU, 2025, "重复报送", "否")
        assert EDU_COPY in str(row["说明"])
    junk = by_file[JUNK]
    assert (junk["单位"], junk["状态"], junk["计入汇总"]) == (None, "无法读取", "否")


def test_with_a_roster_each_gap_is_named_once(tmp_path):
    """The roster's 未报送 / 无法读取 (a file named after a roster unit) are said by SUM.missing; the
    duplicate and the file named after no one are said besides, once each."""
    finance = "示例市东城区财政局"
    finance_file = f"{finance}2025年统计表.xlsx"
    audit = "示例市东城区审计局"
    roster = _roster(tmp_path, [EDU, HOUSING, MARKET, finance, audit])
    out, _ = _run(tmp_path, roster=roster, extra_unreadable=(finance_file,))
    head, items = _banner(out)
    assert head
    text = "\n".join(items)
    missing = [x for x in items if audit in x]
    assert len(missing) == 1 and f"{finance}（文件无法读取）" in missing[0]
    assert text.count(finance) == 1  # the roster line names it; the unreadable files' line does not again
    assert sum(EDU_COPY in x for x in items) == 1
    assert sum(JUNK in x for x in items) == 1
    title, rows = _status_rows(_summary_workbook(out))
    assert "重复报送 2 个" in title and "无法读取 2 个" in title
    by_file = {r["文件"]: r for r in rows}
    assert by_file[EDU_FILE]["状态"] == "重复报送" and str(by_file[EDU_FILE]["名单核对"]).startswith("重复报送")
    assert by_file[finance_file]["状态"] == "无法读取" and finance in str(by_file[finance_file]["名单核对"])


def test_a_clean_batch_has_no_banner(tmp_path):
    inp = tmp_path / "input"
    inp.mkdir()
    for name in (HOUSING, MARKET):
        shutil.copy(SAMPLES / f"{name}2025年统计表.xlsx", inp)
    out = tmp_path / "output"
    run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1, summary_unit=CITY))
    _, items = _banner(out)
    assert not any("重复" in x or "无法读取" in x for x in items)
    assert not [f for f in _findings(_summary_workbook(out)) if f["编号"] in ("SUM.duplicate", "SUM.unreadable")]


# --------------------------------------------------------------------------- summarise itself


def _checked():
    units = district_units()
    check_units(units)
    return units


def test_a_units_unreadable_file_of_the_year_is_named_unless_the_roster_says_so():
    statuses = [("某某区教育局", "有提示", "a.xlsx"), ("某某区审计局", "无法读取", "审计.xlsx")]
    s = summarise(_checked(), DISTRICT, statuses=statuses)
    unread = [f for f in s.findings if f.rule == "SUM.unreadable"]
    assert len(unread) == 1 and "某某区审计局的文件审计.xlsx无法读取" in unread[0].message
    roster = [RosterEntry("某某区审计局", "第 2 行")]
    s = summarise(_checked(), DISTRICT, roster=roster, statuses=statuses)
    assert not [f for f in s.findings if f.rule == "SUM.unreadable"]
    assert "某某区审计局（文件无法读取）" in next(f for f in s.findings if f.rule == "SUM.missing").message


def test_what_the_sum_leaves_out_is_always_in_the_banner():
    """Past the banner's 提示 limit: the departments left out are never among the 提示 not listed."""
    statuses = [("某某区审计局", "重复报送", "审计1.xlsx"), ("某某区审计局", "重复报送", "审计2.xlsx")]
    s = summarise(_checked(), DISTRICT, statuses=statuses, unreadable=["x.xlsx"])
    s.summed.findings[:0] = [
        Finding(rule=f"T{i}", severity=WARNING, message=f"提示{i}") for i in range(BANNER_WARNINGS + 3)
    ]
    items, _, more = summary_banner(s)
    rules = [f.rule for f in items]
    assert "SUM.duplicate" in rules and "SUM.unreadable" in rules
    assert rules.index("SUM.duplicate") > rules.index(f"T{BANNER_WARNINGS - 1}")
    assert more >= 3


def test_a_file_with_a_unit_but_no_year_is_named_in_every_years_banner(tmp_path):
    """Its unit is known but its year is not: no year's summary holds it, so each names it."""
    inp = tmp_path / "input"
    inp.mkdir()
    shutil.copy(SAMPLES / f"{MARKET}2025年统计表.xlsx", inp)
    wb = openpyxl.load_workbook(SAMPLES / EDU_FILE)
    for row in wb["基本信息"].iter_rows():
        if str(row[0].value or "").startswith("年度"):
            row[1].value = None
    wb.save(inp / "无年度.xlsx")
    out = tmp_path / "output"
    result = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1, summary_unit=CITY))
    assert [r.status for r in result.records if r.input == "无年度.xlsx"] == ["无法读取"]
    _, items = _banner(out)
    assert any("无年度.xlsx" in item and "可能属于本年度的汇总" in item for item in items), items


def test_another_years_duplicate_is_not_in_this_years_status_sheet(tmp_path):
    """Two files of a unit's 2024 report: the 2024 summary lists them as 重复报送; the 2025 summary
    does not call them 无法读取 (they are neither unreadable nor this year's)."""
    inp = tmp_path / "input"
    inp.mkdir()
    shutil.copy(SAMPLES / f"{MARKET}2025年统计表.xlsx", inp)
    for name, contact in (("a", "张三"), ("b", "李四")):
        wb = openpyxl.load_workbook(SAMPLES / f"{HOUSING}2025年统计表.xlsx")
        for row in wb["基本信息"].iter_rows():
            label = str(row[0].value or "")
            if label.startswith("年度"):
                row[1].value = 2024
            elif label.startswith("联系人"):
                row[1].value = contact
        wb.save(inp / f"{name}.xlsx")
    out = tmp_path / "output"
    result = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1))
    assert sorted(str(r.status) for r in result.records if r.year == 2024) == ["重复报送", "重复报送"]
    head, rows = _status_rows(_summary_workbook(out))
    assert not [r for r in rows if r.get("文件") in ("a.xlsx", "b.xlsx")] and "无法读取 0 个" in head, head
    # (2024 has no unit to sum: no summary of its own; 审核报告 lists the two as 重复报送)
    audit = json.loads((out / "2024" / "审核报告.json").read_text(encoding="utf-8"))
    assert sorted(u["status"] for u in audit["units"]) == ["重复报送", "重复报送"]
