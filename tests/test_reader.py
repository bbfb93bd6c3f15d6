"""Reading workbooks by their labels: our templates, pasted official layouts, seed-style sheets."""

from __future__ import annotations

import random
import re
import shutil
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from conftest import ROOT, SAMPLES, TEMPLATES, needs_soffice, read_cold_and_warm, unit_facts
from gkreport.errors import ReadError
from gkreport.labels import split_note
from gkreport.pipeline import run_checks
from gkreport.reader import parse_value, read_workbook
from gkreport.samples import SEED_VALUES_2017
from gkreport.spec import consistent_values, load_form, load_forms
from gkreport.spec.layout import build_grid as grid
from gkreport.template import sheet_name, write_template
from official_layout import (
    T3_COLS,
    T3_ROWS,
    put_t3,
    random_2021_values,
    report_title,
    soffice_convert,
    soffice_convert_all,
    write_official_2021,
    write_separate_sheets_2021,
    write_web_page_2021,
)

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def fill_template(path: Path, form_id: str, values: dict, unit="某某区教育局", year=2025, fmt=None) -> Path:
    """Fill our template with openpyxl, as an office would; ``fmt(value) -> cell content``."""
    form = load_form(form_id)
    write_template(form, path)
    wb = load_workbook(path)
    for t in form.tables.values():
        ws = wb[sheet_name(t)]
        top = 3 if t.subtitle else 2
        for cid, (r, c) in grid(t).value_pos.items():
            if cid in values:
                ws.cell(top + r + 1, c + 1).value = fmt(values[cid]) if fmt else values[cid]
    info = wb["基本信息"]
    for row in info.iter_rows():
        label = str(row[0].value or "")
        if label.startswith("单位名称"):
            row[1].value = unit
        elif label.startswith("年度"):
            row[1].value = year
    wb.save(path)
    return path


def as_expected(v):
    return Decimal(str(v)) if isinstance(v, float) else v


def test_template_round_trip_every_2021_cell(tmp_path):
    form = load_form("2021")
    rng = random.Random(7)
    values = {cid: rng.randint(0, 999) for cid, c in form.cells.items() if not c.optional}
    values["t2.fees.fee_amount"] = 24252.311082
    unit = read_workbook(fill_template(tmp_path / "t.xlsx", "2021", values))
    assert unit.form.id == "2021" and unit.unit == "某某区教育局" and unit.year == 2025
    assert len(values) == 200
    assert {k: unit.values[k] for k in values} == {k: as_expected(v) for k, v in values.items()}
    assert unit.values["t2.fees.fee_amount"] == Decimal("24252.311082")
    assert unit.locations["t3.new.natural"] == ("三、收到和处理政府信息公开申请情况", "D6")
    assert unit.locations["t4.cases.after_total"] == ("四、政府信息公开行政复议、行政诉讼情况", "O6")
    assert unit.findings == []


def test_seed_sample_reads_every_figure(samples_dir):
    unit = read_workbook(samples_dir / "张店区科学技术局2017年政府信息公开工作情况统计表.xlsx")
    assert (unit.form.id, unit.unit, unit.year) == ("2017", "张店区科学技术局", 2017)
    table = unit.form.tables["stats"]
    assert len(table.rows) == 71
    read = {cid.split(".")[1]: v for cid, v in unit.values.items()}
    assert read == SEED_VALUES_2017
    assert read["org_staff"] is None  # blank stays blank
    assert unit.meta["date_written"].isoformat() == "2017-03-12"
    assert unit.meta["date_filled"].isoformat() == "2018-01-23"
    assert "主动公开政府信息50条" in unit.narrative["proactive"]
    assert unit.findings == []


@pytest.mark.parametrize("form_id", ["2017", "2019", "2021"])
def test_form_is_detected_from_labels(tmp_path, form_id):
    form = load_form(form_id)
    values = {cid: 1 for cid, c in form.cells.items() if not c.optional}
    unit = read_workbook(fill_template(tmp_path / "x.xlsx", form_id, values))
    assert unit.form.id == form_id
    assert all(unit.values[k] == 1 for k in values)


@pytest.fixture(scope="module")
def official_files(tmp_path_factory):
    """One pasted-official workbook, re-saved by LibreOffice as .xlsx, .xls and .ods."""
    d = tmp_path_factory.mktemp("official")
    values = random_2021_values(random.Random(3))
    src = write_official_2021(d / "报表.xlsx", values, "某某区司法局", 2024)
    return values, src, {fmt: soffice_convert(src, fmt, d / fmt) for fmt in ("xlsx", "xls", "ods")}


@needs_soffice
@pytest.mark.parametrize("fmt", ["xlsx", "xls", "ods"])
def test_official_layout_saved_by_libreoffice(official_files, fmt):
    values, _, files = official_files
    unit = read_workbook(files[fmt])
    assert (unit.form.id, unit.unit, unit.year) == ("2021", "某某区司法局", 2024)
    assert {k: unit.values.get(k) for k in values} == {k: as_expected(v) for k, v in values.items()}
    assert [f for f in unit.findings if f.severity == "error"] == []


def test_official_layout_values_as_text(tmp_path):
    values = random_2021_values(random.Random(11))
    unit = read_workbook(write_official_2021(tmp_path / "a.xlsx", values, "某某区民政局", 2023, as_text=True))
    assert {k: unit.values.get(k) for k in values} == {k: as_expected(v) for k, v in values.items()}


def test_columns_in_another_order_with_notes(tmp_path):
    """Table 三 with 总计 first and 自然人 last, a 备注 column, a note row and a spacer row."""
    wb = Workbook()
    ws = wb.active
    ws.append(["某某县某某局2025年政府信息公开工作年度报告"])
    ws.append(["三、收到和处理政府信息公开申请情况"])
    ws.append(["", "", "总计", "其他", "法律服务机构", "社会公益组织", "科研机构", "商业企业", "自然人", "备注"])
    rows = [("一、本年新收政府信息公开申请数量", "new"), ("二、上年结转政府信息公开申请数量", "carry")]
    expected = {}
    for i, (label, rid) in enumerate(rows):
        nums = [i + k for k in range(7)]
        ws.append([label, ""] + nums + ["说明文字"])
        for col, v in zip(["total", "org_other", "legal_service", "social", "research", "business", "natural"], nums):
            expected[f"t3.{rid}.{col}"] = v
        ws.append([])
        ws.append(["（注：本行为说明）"])
    ws.append(["三、本年度办理结果", "（一）予以公开", 1, 2, 3, 4, 5, 6, 7])
    wb.save(tmp_path / "x.xlsx")
    unit = read_workbook(tmp_path / "x.xlsx")
    assert unit.unit == "某某县某某局" and unit.year == 2025
    assert {k: unit.values[k] for k in expected} == expected
    assert unit.values["t3.disclosed.natural"] == 7 and unit.values["t3.disclosed.total"] == 1
    missing = [f for f in unit.findings if f.rule == "READ.missing_row"]
    assert missing and all(f.severity == "error" for f in missing)  # the rest of table 三 is reported
    assert any(f.rule == "READ.missing_table" and f.table == "t4" for f in unit.findings)


def _seed_style_sheet(path: Path, messy: bool) -> Path:
    """The seed's 统计表 as a plain sheet: 统计指标 | 单位 | 统计数 (messy: swapped, full width …)."""
    form = load_form("2017")
    table = form.tables["stats"]
    wb = Workbook()
    ws = wb.active
    ws.append(["2017年度政府信息公开工作情况统计表"])
    ws.append(["（区政府各部门、各有关单位）"])
    ws.append(["单位名称：张店区科学技术局"])
    ws.append(["统计数", "统计指标", "单位"] if messy else ["统计指标", "单位", "统计数"])
    for i, node in enumerate(table.rows.values()):
        label = node.label
        value = SEED_VALUES_2017.get(node.id) if node.has_value else None
        unit = (node.unit or table.unit) if node.has_value else ""
        if messy:
            label = label.replace("（", "(").replace("）", ")").replace("1. ", "1、")
            if isinstance(value, int):
                value = [str(value).translate(FULL_WIDTH), f"{value}{unit}", str(value), value][i % 4]
            ws.append([value, label, unit])
            if i == 10:
                ws.append([])  # spacer row
            if i == 30:
                ws.append(["", "（说明：以下为依申请公开情况）", ""])  # note row
        else:
            ws.append([label, unit, value])
    ws.append(["（注：各子栏目数总数要等于总栏目数量）"])
    ws.append(["单位负责人：王磊", "", "联系电话：2869907"])
    ws.append(["填报人：郑连敏", "", "填报日期：2018.1.23"])
    wb.save(path)
    return path


@pytest.mark.parametrize("messy", [False, True])
def test_seed_style_sheet(tmp_path, messy):
    unit = read_workbook(_seed_style_sheet(tmp_path / "seed.xlsx", messy))
    assert (unit.form.id, unit.unit, unit.year) == ("2017", "张店区科学技术局", 2017)
    assert {cid.split(".")[1]: v for cid, v in unit.values.items()} == SEED_VALUES_2017
    assert unit.meta["head"] == "王磊" and unit.meta["date_filled"].isoformat() == "2018-01-23"
    assert [f.message for f in unit.findings if f.severity == "error"] == []


@pytest.mark.parametrize("stated,amount,expected", [("元", 3000, Decimal("0.3")), ("万元", 3000, 3000)])
def test_amount_in_a_row_whose_unit_cell_says_yuan_is_converted_and_said(tmp_path, stated, amount, expected):
    """The 统计表's 单位 column is where an office says in what unit it filled a row: 3000 in a row
    marked 元 is 0.3 万元, never 3000 万元."""
    path = _seed_style_sheet(tmp_path / "seed.xlsx", False)
    wb = load_workbook(path)
    ws = wb.active
    [row] = [row for row in ws.iter_rows() if "专项经费" in str(row[0].value)]
    row[1].value, row[2].value = stated, amount
    wb.save(path)
    unit = read_workbook(path)
    assert unit.values["stats.org_funds.value"] == expected
    told = [f for f in unit.findings if "stats.org_funds.value" in f.cell_ids]
    if stated == "万元":
        assert told == []
        return
    [f] = told
    assert f.rule == "READ.value" and f.severity == "warning"
    assert f.cells == (f"Sheet!C{row[2].row}", f"Sheet!B{row[1].row}")
    assert "“元”" in f.message and "0.3 万元" in f.message and f"Sheet!B{row[1].row}" in f.message


def _fee_header_saying(path: Path, header: str, amount: object) -> tuple[Path, str, str]:
    """A pasted 2021 workbook whose 收费金额 header says ``header`` over ``amount``: (path, header A1, amount A1)."""
    values = consistent_2021(9)
    values["t2.fees.fee_amount"] = amount
    where: dict[str, tuple[str, str]] = {}
    write_official_2021(path, values, "某某区司法局", 2024, where=where)
    wb = load_workbook(path)
    ws = wb.active
    [head] = [c for row in ws.iter_rows() for c in row if c.value == "本年收费金额（单位：万元）"]
    head.value = header
    wb.save(path)
    return path, head.coordinate, where["t2.fees.fee_amount"][1]


@pytest.mark.parametrize(
    "header,amount,expected,written",
    [
        ("本年收费金额（单位：元）", 123456, Decimal("12.3456"), "123456"),
        ("本年收费金额(元)", 30000, Decimal(3), "30000"),
        ("收费金额（元）", "5000", Decimal("0.5"), "5000"),
        ("本年收费金额（单位：千元）", 25, Decimal("2.5"), "25"),
        ("本年收费金额（单位：亿元）", 1.5, Decimal(15000), "1.5"),
    ],
)
def test_amount_under_a_header_that_says_yuan_is_converted_and_said(
    tmp_path, layout_cache, header, amount, expected, written
):
    """A pasted 表二 whose fee column is headed 本年收费金额（单位：元） holds 元: 123456 there is
    12.3456 万元, never 123456 万元; the header's unit is kept with a cached layout too."""
    path, head, at = _fee_header_saying(tmp_path / "a.xlsx", header, amount)
    unit = read_cold_and_warm(read_workbook, path)
    assert unit.values["t2.fees.fee_amount"] == expected
    [f] = [f for f in unit.findings if "t2.fees.fee_amount" in f.cell_ids]
    assert f.rule == "READ.value" and f.severity == "warning"
    assert f.cells == (f"年报表格!{at}", f"年报表格!{head}")
    unit_name = next(u for u in ("亿元", "千元", "元") if u in header)
    assert f"“{written}”" in f.message and f"“{header}”（年报表格!{head}）" in f.message
    assert f"已换算为 {format(expected, 'f')} 万元读取" in f.message and f"（年报表格!{at}）" in f.message
    [label] = [f for f in unit.findings if f.rule == "READ.label"]
    assert f"按表头所写的{unit_name}换算为万元" in label.message
    # another file laid out alike, read with the first one's walk, converts its own amount
    other, _, _ = _fee_header_saying(tmp_path / "b.xlsx", header, 2 * amount if not isinstance(amount, str) else "800")
    hits = layout_cache.hits
    again = read_workbook(other)
    assert layout_cache.hits > hits
    assert again.values["t2.fees.fee_amount"] == (2 * expected if not isinstance(amount, str) else Decimal("0.08"))
    assert [f.rule for f in again.findings if "t2.fees.fee_amount" in f.cell_ids] == ["READ.value"]


@pytest.mark.parametrize(
    "header,amount,expected",
    [
        ("本年收费金额（万元）", 30000, 30000),  # the form's own unit: read as written
        ("本年收费金额（单位：万元）", 30000, 30000),
        ("本年收费金额", Decimal("12.5"), Decimal("12.5")),
        ("本年收费金额（单位：元）", "3万元", 3),  # the cell says its own unit
        ("本年收费金额（单位：元）", 0, 0),
    ],
)
def test_amount_under_a_header_in_wan_yuan_or_saying_its_own_unit_is_not_converted(tmp_path, header, amount, expected):
    path, _, _ = _fee_header_saying(tmp_path / "a.xlsx", header, amount)
    unit = read_workbook(path)
    assert unit.values["t2.fees.fee_amount"] == expected
    assert [f for f in unit.findings if "t2.fees.fee_amount" in f.cell_ids] == []


@needs_soffice
def test_messy_seed_sheet_saved_by_libreoffice_as_xls(tmp_path):
    src = _seed_style_sheet(tmp_path / "seed.xlsx", True)
    unit = read_workbook(soffice_convert(src, "xls", tmp_path / "xls"))
    assert {cid.split(".")[1]: v for cid, v in unit.values.items()} == SEED_VALUES_2017


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    "raw,expected",
    [
        (35, 35),
        (35.0, 35),
        ("35", 35),
        ("３５", 35),
        ("35条", 35),
        ("35 件", 35),
        ("1,234", 1234),
        ("１，２３４", 1234),
        ("1 234", 1234),  # thousands grouped by spaces (a thin space, after NFKC), as web pages do
        ("1\u2009234 件", 1234),
        ("\u3000１２\u3000", 12),
        ("", None),
        (None, None),
        ("  ", None),
    ],
)
def test_parse_value_accepts(raw, expected):
    cell = load_form("2021").cell("t3.new.natural")
    value, problem, _ = parse_value(raw, cell)
    assert (value, problem) == (expected, None)


@pytest.mark.parametrize(
    "raw,fragment",
    [
        ("约10", "应填写数字"),
        ("-3", "不能为负数"),
        (-3, "不能为负数"),
        ("3.5", "应为整数"),
        (3.5, "应为整数"),
        ("十二", "应填写数字"),
        (True, "应填写数字"),
        ("46 2", "数字中间有空格"),  # 462? 46? two cells pasted into one: never guessed
        ("1 2345", "数字中间有空格"),
        ("2\u30003", "数字中间有空格"),
        ("12\u00a034 件", "数字中间有空格"),
    ],
)
def test_parse_value_rejects(raw, fragment):
    cell = load_form("2021").cell("t3.new.natural")
    value, problem, severity = parse_value(raw, cell)
    assert value is None and fragment in problem and severity == "error"


def test_parse_value_decimal_keeps_precision():
    cell = load_form("2021").cell("t2.fees.fee_amount")
    assert parse_value("7730.28", cell)[0] == Decimal("7730.28")
    assert parse_value(24252.311082, cell)[0] == Decimal("24252.311082")
    assert parse_value("12.5万元", cell)[0] == Decimal("12.5")


@pytest.mark.parametrize(
    "cell_id,raw,expected",
    [
        ("t2.fees.fee_amount", 0.1 + 0.2, Decimal("0.3")),  # saved as 0.30000000000000004
        ("t2.fees.fee_amount", 100000.1 * 3, Decimal("300000.3")),  # 300000.30000000005
        ("t2.fees.fee_amount", 1234567.1 + 0.2, Decimal("1234567.3")),
        ("t2.fees.fee_amount", 12.5, Decimal("12.5")),
        ("t2.fees.fee_amount", 1234567.89, Decimal("1234567.89")),
        ("t2.fees.fee_amount", 24252.311082, Decimal("24252.311082")),
        ("t2.fees.fee_amount", 999999999.123456, Decimal("999999999.123456")),
        ("t2.fees.fee_amount", 0.000001, Decimal("0.000001")),
        ("t3.new.natural", 0.1 * 3 * 10, 3),  # 3.0000000000000004: the cell shows 3
    ],
)
def test_parse_value_reads_a_float_as_the_number_its_cell_shows(cell_id, raw, expected):
    value, problem, _ = parse_value(raw, load_form("2021").cell(cell_id))
    assert (value, problem) == (expected, None)
    assert str(value) == str(expected)


@pytest.mark.parametrize(
    "cell_id,raw,shown", [("t2.fees.fee_amount", -0.1 - 0.2, "-0.3"), ("t3.new.natural", 0.1 * 3, "0.3")]
)
def test_a_float_is_said_as_its_cell_shows_it(cell_id, raw, shown):
    value, problem, severity = parse_value(raw, load_form("2021").cell(cell_id))
    assert value is None and severity == "error" and f"实为“{shown}”" in problem


def _noisy_formulas(path: Path) -> Path:
    """Our template with formulas whose results binary floats cannot hold: =0.1+0.2 is 0.30000000000000004."""
    values = {**consistent_2021(9), "t2.fees.fee_amount": "=0.1+0.2", "t2.normative.made": "=0.1*3*10"}
    values["t2.regulations.made"] = "=-0.1-0.2"
    return fill_template(path, "2021", values)


def _read_as_shown(unit, tmp_path: Path) -> None:
    """The values of _noisy_formulas read as their cells show them, and so said in the outputs."""
    from docx import Document

    from gkreport.docx_out import write_unit_docx
    from gkreport.xlsx_out import write_unit_xlsx

    fee = unit.values["t2.fees.fee_amount"]
    assert fee == Decimal("0.3") and str(fee) == "0.3"
    assert unit.values["t2.normative.made"] == 3
    assert not [f for f in unit.findings if {"t2.fees.fee_amount", "t2.normative.made"} & set(f.cell_ids)]
    [neg] = [f for f in unit.findings if "t2.regulations.made" in f.cell_ids]
    assert "实为“-0.3”" in neg.message
    run_checks([unit])
    report = write_unit_docx(unit, tmp_path / "out" / "report.docx")
    text = "\n".join(p.text for p in Document(str(report.path)).paragraphs)
    assert "收取行政事业性收费0.3万元" in text and "0000000" not in text
    book = load_workbook(write_unit_xlsx(unit, tmp_path / "out" / "unit.xlsx"))
    said = [str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert not [s for s in said if "0000000" in s]
    assert any("“-0.3”" in s for s in said)


def test_a_formula_result_saved_with_float_noise_reads_as_its_cell_shows_it(tmp_path):
    """Excel saves =0.1+0.2 as <v>0.30000000000000004</v> (all 17 digits of the float); the cell
    shows 0.3, and 0.3 is what is read, said and reported."""
    path = _noisy_formulas(tmp_path / "f.xlsx")
    for formula, result in (
        ("0.1+0.2", "0.30000000000000004"),
        ("0.1*3*10", "3.0000000000000004"),
        ("-0.1-0.2", "-0.30000000000000004"),
    ):
        _replace_in_zip(path, f"<f>{formula}</f><v></v>".encode(), f"<f>{formula}</f><v>{result}</v>".encode())
    _read_as_shown(read_workbook(path), tmp_path)


@needs_soffice
def test_a_formula_result_in_an_xls_reads_as_its_cell_shows_it(tmp_path):
    """An .xls keeps a formula's result as the binary float (0.30000000000000004 for =0.1+0.2)."""
    path = soffice_convert(_noisy_formulas(tmp_path / "f.xlsx"), "xls", tmp_path / "xls")
    _read_as_shown(read_workbook(path), tmp_path)


def test_bad_values_are_reported_with_their_cell(tmp_path):
    values = {"t3.new.natural": "约10", "t3.carry.natural": -3, "t3.new.business": "3.5", "t3.new.research": "—"}
    unit = read_workbook(fill_template(tmp_path / "bad.xlsx", "2021", values))
    by_cell = {f.cells[0]: f for f in unit.findings if f.rule == "READ.value"}
    sheet = "三、收到和处理政府信息公开申请情况"
    assert set(by_cell) == {f"{sheet}!D6", f"{sheet}!D7", f"{sheet}!E6", f"{sheet}!F6"}
    assert "约10" in by_cell[f"{sheet}!D6"].message and by_cell[f"{sheet}!D6"].severity == "error"
    assert "不能为负数" in by_cell[f"{sheet}!D7"].message
    assert by_cell[f"{sheet}!F6"].severity == "warning"  # a dash means blank, said so
    assert all(unit.values[k] is None for k in values)


def test_formula_without_cached_value_is_not_zero(tmp_path):
    path = fill_template(tmp_path / "f.xlsx", "2021", {"t3.new.natural": 4, "t3.new.business": 5})
    wb = load_workbook(path)
    wb["三、收到和处理政府信息公开申请情况"]["J6"] = "=SUM(D6:I6)"  # openpyxl stores no result
    wb.save(path)
    unit = read_workbook(path)
    assert unit.values["t3.new.total"] is None
    f = next(f for f in unit.findings if f.rule == "READ.formula")
    assert f.severity == "error" and f.cells == ("三、收到和处理政府信息公开申请情况!J6",)


@needs_soffice
def test_formula_with_cached_value_is_read(tmp_path):
    path = fill_template(tmp_path / "f.xlsx", "2021", {"t3.new.natural": 4, "t3.new.business": 5})
    wb = load_workbook(path)
    wb["三、收到和处理政府信息公开申请情况"]["J6"] = "=SUM(D6:I6)"
    wb.save(path)
    unit = read_workbook(soffice_convert(path, "xlsx", tmp_path / "lo"))  # LibreOffice computes and caches
    assert unit.values["t3.new.total"] == 9
    assert not [f for f in unit.findings if f.rule == "READ.formula"]


def _error_values_workbook(path: Path, contents: dict[str, str]) -> tuple[Path, dict[str, tuple[str, str]]]:
    values = consistent_2021(12)
    path, where = write_separate_sheets_2021(path, values, report_title("某某区统计局", 2025, "unit_first"))
    wb = load_workbook(path)
    for cid, content in contents.items():
        sheet, ref = where[cid]
        wb[sheet][ref] = content  # "#N/A" is stored as an error value, "=1/0" as a formula
    wb.save(path)
    return path, where


def _assert_error_values_said(unit, where: dict, shown: dict[str, str]) -> None:
    told = {f.cell_ids[0]: f for f in unit.findings if f.rule == "READ.value" and f.cell_ids}
    for cid, text in shown.items():
        sheet, ref = where[cid]
        assert unit.values[cid] is None
        f = told[cid]
        assert f.severity == "error" and f.cells == (f"{sheet}!{ref}",)
        assert text in f.message and f"{sheet}!{ref}" in f.message and "未填写" not in f.message
    run_checks([unit])
    for f in unit.findings:  # never called 未填写: the cell holds an error value
        if set(f.cell_ids) & set(shown):
            assert "未填写" not in f.message, f.message


def test_error_value_in_a_cell_is_reported_not_read_as_blank(tmp_path):
    contents = {"t3.new.natural": "#DIV/0!", "t2.licensing.decisions": "#N/A", "t4.cases.review_upheld": "#REF!"}
    path, where = _error_values_workbook(tmp_path / "错误值.xlsx", contents)
    _assert_error_values_said(read_workbook(path), where, contents)


@needs_soffice
@pytest.mark.parametrize("fmt", ["xlsx", "xls", "ods"])
def test_formula_whose_result_is_an_error_is_reported_in_every_format(tmp_path, fmt):
    contents = {"t3.new.natural": "=1/0", "t2.licensing.decisions": "=NA()", "t4.cases.review_upheld": "=1+A1"}
    path, where = _error_values_workbook(tmp_path / "公式.xlsx", contents)
    unit = read_workbook(soffice_convert(path, fmt, tmp_path / fmt))  # LibreOffice computes the errors
    _assert_error_values_said(
        unit,
        where,
        {"t3.new.natural": "#DIV/0!", "t2.licensing.decisions": "#N/A", "t4.cases.review_upheld": "#VALUE!"},
    )


# --------------------------------------------------------------------------- labels


def test_typo_label_still_matches_and_is_reported(tmp_path):
    values = random_2021_values(random.Random(5))
    path = write_official_2021(tmp_path / "o.xlsx", values, "某某区", 2024, remarks=False)
    wb = load_workbook(path)
    ws = wb.active
    for row in ws.iter_rows():
        for c in row:
            if c.value == "2.其他法律行政法规禁止公开":
                c.value = "2.其他法律行政止公开"
    wb.save(path)
    unit = read_workbook(path)
    assert unit.values["t3.withheld_2.natural"] == values["t3.withheld_2.natural"]
    warn = [f for f in unit.findings if f.rule == "READ.label"]
    assert len(warn) == 1 and "其他法律行政止公开" in warn[0].message and warn[0].severity == "warning"


def test_hybrid_single_row_other_processing(tmp_path):
    """A 2021 table 三 whose （六）其他处理 is one row (the 2019 way) is read and flagged."""
    wb = Workbook()
    ws = wb.active
    ws.append(["三、收到和处理政府信息公开申请情况"])
    ws.append(["", "", "", "自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"])
    ws.append(["二、主动公开政府信息情况"])
    ws.append(["第二十条第（一）项"])
    ws.append(["信息内容", "本年制发件数", "本年废止件数", "现行有效件数"])
    ws.append(["行政规范性文件", 1, 0, 5])
    ws.append(["三、收到和处理政府信息公开申请情况"])
    ws.append(["", "", "", "自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"])
    ws.append(["三、本年度办理结果", "（六）其他处理", "", 2, 0, 0, 0, 0, 0, 2])
    wb.save(tmp_path / "h.xlsx")
    unit = read_workbook(tmp_path / "h.xlsx")
    assert unit.form.id == "2021"
    assert unit.values["t3.other.natural"] == 2 and unit.values["t3.other.total"] == 2
    hybrid = [f for f in unit.findings if f.rule == "READ.hybrid"]
    assert len(hybrid) == 1 and "（六）其他处理" in hybrid[0].message
    assert not any(f.rule == "READ.missing_row" and "（六）其他处理/" in f.message for f in unit.findings)


def test_unknown_row_with_numbers_is_reported(tmp_path):
    path = fill_template(tmp_path / "u.xlsx", "2021", {"t3.new.natural": 1})
    wb = load_workbook(path)
    ws = wb["三、收到和处理政府信息公开申请情况"]
    ws["A31"] = "五、其他统计"
    ws["D31"] = 3
    wb.save(path)
    unit = read_workbook(path)
    f = [f for f in unit.findings if f.rule == "READ.unknown_row"]
    assert len(f) == 1 and "五、其他统计" in f[0].message


# --------------------------------------------------------------------------- unit and year, unreadable


def test_unit_and_year_from_title_and_file_name(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["二、主动公开政府信息情况"])
    ws.append(["第二十条第（一）项"])
    ws.append(["信息内容", "本年制发件数", "本年废止件数", "现行有效件数"])
    ws.append(["规章", 0, 0, 0])
    ws.append(["行政规范性文件", 1, 0, 5])
    wb.save(tmp_path / "某某县水利局2024年报表.xlsx")
    unit = read_workbook(tmp_path / "某某县水利局2024年报表.xlsx")
    assert (unit.unit, unit.year) == ("某某县水利局", 2024)
    assert any(f.rule == "READ.meta" and "文件名" in f.message for f in unit.findings)
    wb.save(tmp_path / "报表.xlsx")
    unit = read_workbook(tmp_path / "报表.xlsx")
    assert unit.unit is None and unit.year is None  # reported, not guessed
    errors = [f.message for f in unit.findings if f.rule == "READ.meta" and f.severity == "error"]
    assert any("单位名称" in m for m in errors) and any("年度" in m for m in errors)


def _pasted_without_title(path: Path, layout: str, title: str | None = None, line: str | None = None) -> Path:
    """Tables pasted from the official Word document (no 基本信息 sheet), with ``title`` in A1 and
    ``line`` in G1 of the first sheet (none by default)."""
    values = consistent_2021(3)
    if layout == "separate_sheets":
        write_separate_sheets_2021(path, values, title)
    else:
        write_official_2021(path, values, "某某局", 2025)
    wb = load_workbook(path)
    ws = wb.worksheets[0]
    if layout == "one_sheet":
        ws["A1"] = title
    ws["G1"] = line
    wb.save(path)
    return path


@pytest.mark.parametrize("layout", ["separate_sheets", "one_sheet"])
@pytest.mark.parametrize("follow", ["title", "lines"])
def test_pasted_tables_without_name_or_year_are_told_what_is_read(tmp_path, layout, follow):
    """No 基本信息 sheet to fill in: the message says what the reader looks for, and doing as it says
    makes the workbook readable."""
    path = _pasted_without_title(tmp_path / "附件2.xlsx", layout)
    unit = read_workbook(path)
    assert unit.unit is None and unit.year is None and unit.unusable
    told = [f.message for f in unit.findings if f.rule == "READ.meta" and f.severity == "error"]
    assert len(told) == 2 and not any("基本信息" in m for m in told) and "基本信息" not in unit.unusable
    name_said, year_said = told
    assert name_said.startswith("没有找到单位名称：") and year_said.startswith("没有找到报告年度：")
    assert "标题" in name_said and "“单位名称：某某局”" in name_said and "标题" in year_said
    title = re.search(r"如“([^”]+)”", name_said).group(1)
    assert "政府信息公开工作年度报告" in title
    if follow == "title":
        path = _pasted_without_title(tmp_path / "附件2.xlsx", layout, title=title)
    else:
        name_line = re.search(r"“(单位名称：[^”]+)”", name_said).group(1)
        year_line = re.search(r"“(年度：[^”]+)”", year_said).group(1)
        path = _pasted_without_title(tmp_path / "附件2.xlsx", layout, title=name_line, line=year_line)
    unit = read_workbook(path)
    assert unit.unit == "某某局" and unit.year == int(re.search(r"\d{4}", year_said).group(0))
    assert not [f for f in unit.findings if f.rule == "READ.meta"]


def test_name_and_year_taken_from_the_file_name_say_where_to_write_them(tmp_path):
    pasted = read_workbook(_pasted_without_title(tmp_path / "某某县水利局2024年报表.xlsx", "separate_sheets"))
    assert (pasted.unit, pasted.year) == ("某某县水利局", 2024)
    told = [f.message for f in pasted.findings if f.rule == "READ.meta"]
    assert len(told) == 2 and all("文件名" in m and "基本信息" not in m for m in told)
    assert "“单位名称：某某县水利局”" in told[0] and "“年度：2024”" in told[1]
    assert "某某县水利局2024年政府信息公开工作年度报告" in told[0]
    # our template has a 基本信息 sheet: that is where to write them
    template = write_template(load_form("2021"), tmp_path / "某某县水利局2024年报表.xlsx", values=consistent_2021(3))
    told = [f.message for f in read_workbook(template).findings if f.rule == "READ.meta"]
    assert len(told) == 2 and all("请在“基本信息”表的" in m for m in told)


@pytest.mark.parametrize(
    "name,content,fragment",
    [
        ("empty.xlsx", b"", "空文件"),
        ("text.xlsx", "这不是表格".encode(), "不是有效的"),
        ("notes.txt", b"abc", "这是纯文本文件"),
        ("报告.docx", b"abc", "这是文字文档，请报送统计表（.xlsx）"),
        ("x.weird", b"abc", "这不是统计表"),
    ],
)
def test_unreadable_files_get_a_chinese_reason(tmp_path, name, content, fragment):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(ReadError) as exc:
        read_workbook(p)
    assert fragment in exc.value.message and name in exc.value.message


def test_workbook_without_any_form_labels(tmp_path):
    wb = Workbook()
    wb.active.append(["姓名", "年龄"])
    wb.save(tmp_path / "other.xlsx")
    with pytest.raises(ReadError) as exc:
        read_workbook(tmp_path / "other.xlsx")
    assert "other.xlsx" in exc.value.message and "统计表" in exc.value.message


# --------------------------------------------------------------------------- property


_cells_2021 = [cid for cid, c in load_form("2021").cells.items() if not c.optional and c.type == "int"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_values_in_random_formats_read_back(tmp_path_factory, data):
    values = {cid: data.draw(st.one_of(st.none(), st.integers(0, 10**6))) for cid in _cells_2021}
    formats = data.draw(
        st.lists(
            st.sampled_from(["number", "text", "fullwidth", "unit", "float"]),
            min_size=len(_cells_2021),
            max_size=len(_cells_2021),
        )
    )
    style = dict(zip(_cells_2021, formats))

    def fmt_for(cid):
        def fmt(v):
            if v is None:
                return None
            return {
                "number": v,
                "text": str(v),
                "fullwidth": str(v).translate(FULL_WIDTH),
                "unit": f"{v}件",
                "float": float(v),
            }[style[cid]]

        return fmt

    path = tmp_path_factory.mktemp("prop") / "p.xlsx"
    form = load_form("2021")
    write_template(form, path)
    wb = load_workbook(path)
    for t in form.tables.values():
        ws = wb[sheet_name(t)]
        for cid, (r, c) in grid(t).value_pos.items():
            if cid in values:
                ws.cell(2 + r + 1, c + 1).value = fmt_for(cid)(values[cid])
    wb.save(path)
    unit = read_workbook(path)
    assert {k: unit.values[k] for k in values} == values
    assert not [f for f in unit.findings if f.rule == "READ.value"]


# --------------------------------------------------------------------------- a new form is only a spec


def test_extra_form_from_a_spec_folder(tmp_path):
    extra = Path(__file__).with_name("forms_extra")
    forms = load_forms([extra])
    demo = forms["demo"]
    assert set(forms) >= {"2017", "2019", "2021", "demo"}
    values = {
        "t1.permits.online": 5,
        "t1.permits.offline": 2,
        "t1.permits.all": 7,
        "t1.services.online": 3,
        "t1.services_social.offline": 4,
    }
    path = tmp_path / "demo.xlsx"
    write_template(
        demo,
        path,
        values=values,
        meta={"unit": "某某区政务服务中心", "year": 2031},
        narrative={"summary": "全年网上办理事项稳步增长。"},
    )
    unit = read_workbook(path, forms)
    assert unit.form.id == "demo" and unit.unit == "某某区政务服务中心" and unit.year == 2031
    assert {k: v for k, v in unit.values.items() if v is not None} == values
    assert unit.narrative == {"summary": "全年网上办理事项稳步增长。"}


# --------------------------------------------------------------------------- reports as offices keep them
#
# Real published reports were laid out the way offices keep them: a title with the year first,
# a 填报单位 row beside it, tables on sheets named 表二/表三/表四 with a 备注 column, notes typed
# into number cells, a whole web page pasted into one sheet, last year's table kept on an extra
# sheet. The workbooks below are built in those layouts (tests/official_layout.py).

NARRATIVE_2021 = {
    "overview": (
        "2025年，本机关深入贯彻落实《中华人民共和国政府信息公开条例》，围绕中心工作推进政务公开。\n"
        "（一）主动公开。全年通过政府网站主动公开政府信息236条，及时发布政策文件和解读材料。\n"
        "（二）依申请公开。严格按照法定时限答复，答复内容规范。"
    ),
    "problems": "一是政策解读形式还比较单一。\n二是基层公开工作人员业务水平有待提高。下一步将加强培训。",
    "other": "本年度未收取信息处理费。本机关没有其他需要报告的事项。",
}


def consistent_2021(seed: int, high: int = 30) -> dict:
    """A random 2021 table that satisfies every 错误 rule: counts as int, the fee with two decimals."""
    form = load_form("2021")
    values = {k: int(v) for k, v in consistent_values(form, seed, high=high).items() if not form.cells[k].optional}
    values["t2.fees.fee_amount"] = Decimal(random.Random(seed).randint(0, 99999)) / 100
    return values


def errors_after_checks(unit) -> list[str]:
    run_checks([unit])
    return [f"{f.rule}: {f.message}" for f in unit.findings if f.severity == "error"]


# -- point 1: titles that start with the year


@pytest.mark.parametrize(
    "title,unit_name,year",
    [
        ("2024年某某市某某委员会政府信息公开工作年度报告相关指标统计表", "某某市某某委员会", 2024),
        ("2025年某某市人民政府办公厅政府信息公开工作年度报告", "某某市人民政府办公厅", 2025),
        ("2023年度某某省某某厅政府信息公开工作年度报告", "某某省某某厅", 2023),
        ("某某县人民政府2025年政府信息公开工作年度报告", "某某县人民政府", 2025),
        ("某某市某某局\n2024年度政府信息公开工作年度报告", "某某市某某局", 2024),
    ],
)
def test_unit_and_year_from_a_title_with_the_year_first(tmp_path, title, unit_name, year):
    values = consistent_2021(year)
    path = write_official_2021(tmp_path / "报表.xlsx", values, "", year, title=title)
    unit = read_workbook(path)
    assert (unit.unit, unit.year) == (unit_name, year)
    assert unit.meta["title"] == title.replace("\n", "")
    assert not [f for f in unit.findings if f.rule == "READ.meta"]
    assert {k: unit.values[k] for k in values} == values
    assert errors_after_checks(unit) == []


def test_title_with_the_year_first_on_the_separate_sheets_layout(tmp_path):
    values = consistent_2021(1)
    title = "2024年某某市某某委员会政府信息公开工作年度报告相关指标统计表"
    path, _ = write_separate_sheets_2021(tmp_path / "相关指标.xlsx", values, title, table_titles=False)
    unit = read_workbook(path)
    assert (unit.unit, unit.year) == ("某某市某某委员会", 2024)
    assert {k: unit.values[k] for k in values} == values
    assert errors_after_checks(unit) == []


# -- point 2: a number followed by a bracketed note


def test_number_with_a_bracketed_note_is_read_and_the_note_kept(tmp_path):
    values = consistent_2021(2)
    notes = {
        "t2.normative.made": "（其中修订6件）",
        "t2.normative.repealed": "（含自然失效9件）",
        "t3.new.natural": "件(含转办1件)",
        "t2.fees.fee_amount": "（含上年结转）",
    }
    path, where = write_separate_sheets_2021(
        tmp_path / "备注.xlsx", values, report_title("某某区司法局", 2025, "unit_first"), notes=notes
    )
    unit = read_workbook(path)
    assert {k: unit.values[k] for k in values} == values  # the leading numbers
    assert unit.notes == {
        "t2.normative.made": "其中修订6件",
        "t2.normative.repealed": "含自然失效9件",
        "t3.new.natural": "含转办1件",
        "t2.fees.fee_amount": "含上年结转",
    }
    told = {f.cell_ids[0]: f for f in unit.findings if f.rule == "READ.note"}
    assert set(told) == set(notes)
    for cid, f in told.items():
        sheet, ref = where[cid]
        assert f.severity == "warning" and f.cells == (f"{sheet}!{ref}",)
        assert f"{sheet}!{ref}" in f.message and unit.notes[cid] in f.message and str(values[cid]) in f.message
    assert "表三“一、本年新收政府信息公开申请数量”自然人列" in told["t3.new.natural"].message
    assert errors_after_checks(unit) == []


@pytest.mark.parametrize(
    "raw,fragment",
    [
        ("约10", "应填写数字"),
        ("-3", "不能为负数"),
        ("3.5", "应为整数"),
        ("约10（含转办1件）", "应填写数字"),
        ("12（左右）", "应填写确切的数字"),
        ("3.5（其中修订1件）", "应为整数"),
        ("（其中修订6件）", "应填写数字"),
        ("12（其中修订6件）（含废止2件）", "应填写数字"),
    ],
)
def test_what_is_not_a_plain_number_stays_an_error(tmp_path, raw, fragment):
    path = fill_template(tmp_path / "x.xlsx", "2021", {"t3.new.natural": raw, "t3.new.business": 4})
    unit = read_workbook(path)
    [f] = [f for f in unit.findings if "t3.new.natural" in f.cell_ids]
    assert f.rule == "READ.value" and f.severity == "error" and fragment in f.message
    assert f.cells == ("三、收到和处理政府信息公开申请情况!D6",) and raw in f.message
    assert unit.values["t3.new.natural"] is None and "t3.new.natural" not in unit.notes
    assert unit.values["t3.new.business"] == 4


@pytest.mark.parametrize(
    "text,expected",
    [
        ("12（其中修订6件）", ("12", "其中修订6件")),
        ("35（含自然失效9件）", ("35", "含自然失效9件")),
        ("3件(含转办1件)", ("3件", "含转办1件")),
        ("１２ （其中修订６件）", ("12", "其中修订6件")),
        ("12", None),
        ("（其中修订6件）", None),
        ("12（）", None),
        ("1.属于国家秘密", None),
    ],
)
def test_split_note(text, expected):
    assert split_note(text) == expected


# -- point 3: the title's unit and a 填报单位 that differ


@pytest.mark.parametrize("beside", [False, True])
def test_title_unit_wins_over_the_filler_and_both_are_named(tmp_path, beside):
    values = consistent_2021(3)
    title = "某某县人民政府2025年政府信息公开工作年度报告"
    path, _ = write_separate_sheets_2021(
        tmp_path / "县政府.xlsx", values, title, filler="某某县人民政府办公室", filler_beside=beside
    )
    unit = read_workbook(path)
    assert (unit.unit, unit.year) == ("某某县人民政府", 2025)
    assert unit.meta["unit"] == "某某县人民政府" and unit.meta_locations["unit"] == ("表二", "A1")
    [f] = [f for f in unit.findings if f.rule == "READ.unit"]
    assert f.severity == "warning" and f.cells == ("表二!A1", "表二!G1" if beside else "表二!A2")
    assert "“某某县人民政府”" in f.message and "“某某县人民政府办公室”" in f.message and "填报单位" in f.message
    assert errors_after_checks(unit) == []


def test_same_unit_in_title_and_filler_gives_no_prompt(tmp_path):
    values = consistent_2021(4)
    title = report_title("某某县人民政府", 2025, "year_first")
    path, _ = write_separate_sheets_2021(tmp_path / "x.xlsx", values, title, filler="某某县人民政府")
    unit = read_workbook(path)
    assert unit.unit == "某某县人民政府"
    assert not [f for f in unit.findings if f.rule == "READ.unit"]


def test_filler_alone_names_the_unit(tmp_path):
    values = consistent_2021(5)
    path, _ = write_separate_sheets_2021(
        tmp_path / "x.xlsx", values, "2025年度政府信息公开工作年度报告", filler="某某县人民政府办公室"
    )
    unit = read_workbook(path)
    assert (unit.unit, unit.year) == ("某某县人民政府办公室", 2025)
    assert not [f for f in unit.findings if f.rule in ("READ.unit", "READ.meta")]


@pytest.mark.parametrize(
    "name", ["某某区教育局（某某区体育局）", "某某区教育局(某某区体育局)", "某某市某某区〔某某〕办公室"]
)
def test_filler_line_gives_the_units_name_as_written(tmp_path, name):
    """“填报单位：…” in one cell: the name exactly as the office wrote it, brackets and all."""
    values = consistent_2021(5)
    path, _ = write_separate_sheets_2021(tmp_path / "x.xlsx", values, "2025年度政府信息公开工作年度报告", filler=name)
    unit = read_workbook(path)
    assert (unit.unit, unit.year) == (name, 2025)
    assert unit.meta["unit"] == name
    assert not [f for f in unit.findings if f.rule in ("READ.unit", "READ.meta")]


def test_our_templates_information_sheet_is_authoritative(tmp_path):
    """A cover sheet with another unit's title does not change the unit of our template; a 提示 names both."""
    path = write_template(
        load_form("2021"),
        tmp_path / "t.xlsx",
        values=consistent_2021(6),
        meta={"unit": "某某区教育局", "year": 2025},
        narrative=NARRATIVE_2021,
    )
    wb = load_workbook(path)
    wb.create_sheet("封面", 0)["A1"] = "某某区人民政府2025年政府信息公开工作年度报告"
    wb.save(path)
    unit = read_workbook(path)
    assert (unit.unit, unit.year) == ("某某区教育局", 2025)
    assert unit.meta_locations["unit"] == ("基本信息", "B3")
    [f] = [f for f in unit.findings if f.rule == "READ.unit"]
    assert "“基本信息”中的单位名称为“某某区教育局”" in f.message and "“某某区人民政府”" in f.message
    assert f.cells == ("基本信息!B3", "封面!A1")


# -- the unit a file's name or the report's 落款 names


def test_file_named_for_another_unit_is_said_with_the_name_used(tmp_path):
    """A copied file: its name says 财政局, its 填报单位 (not changed) 教育局."""
    path, _ = write_separate_sheets_2021(
        tmp_path / "某某区财政局2025年统计表.xlsx",
        consistent_2021(3),
        "2025年度政府信息公开工作年度报告",
        filler="某某区教育局",
    )
    unit = read_workbook(path)
    assert (unit.unit, unit.year) == ("某某区教育局", 2025)
    [f] = [f for f in unit.findings if f.rule == "READ.unit"]
    assert f.severity == "warning" and f.cells == ("表二!A2",)
    assert "文件名“某某区财政局2025年统计表.xlsx”写的是“某某区财政局”" in f.message
    assert "“填报单位”为“某某区教育局”（表二!A2）" in f.message and "已按工作簿中的“某某区教育局”处理" in f.message
    assert (f.expected, f.actual) == ("某某区教育局", "某某区财政局")


@pytest.mark.parametrize(
    "name",
    [
        "附件2.xlsx",
        "统计表(1).xlsx",
        "2025年度报告.xlsx",
        "张店区2025.xlsx",
        "教育局.xlsx",
        "03-某某区教育局2025年报表.xlsx",
        "附件3：某某区教育局2025年政府信息公开工作年度报告（修改后）.xlsx",
        "区教育局 - 副本.xlsx",
        "某某区教育和体育局.xlsx",
        "某某市某某区教育局.xlsx",
        # another office named beside the unit itself, or as the template's or the sender's
        "教育局报区政府办公室.xlsx",
        "区政务服务中心转教育局.xlsx",
        "2025年度统计表（区政府办公室模板）.xlsx",
        "区政府办汇总表-教育局.xlsx",
    ],
)
def test_file_name_without_another_units_name_gives_no_prompt(tmp_path, name):
    path, _ = write_separate_sheets_2021(
        tmp_path / name, consistent_2021(3), "2025年度政府信息公开工作年度报告", filler="某某区教育局"
    )
    unit = read_workbook(path)
    assert unit.unit == "某某区教育局"
    assert not [f for f in unit.findings if f.rule in ("READ.unit", "READ.meta")]


@pytest.mark.parametrize(
    "signer, said", [("某某县财政局", True), ("某某县水利局", False), ("某某县水利局办公室", False)]
)
def test_report_signed_by_another_unit_is_said(tmp_path, signer, said):
    """A pasted web page whose text (and 落款) was copied from another office's report."""
    path = write_web_page_2021(
        tmp_path / "网页.xlsx",
        consistent_2021(7),
        "某某县水利局2025年政府信息公开工作年度报告",
        NARRATIVE_2021,
        signer=signer,
        date_written="2026年1月20日",
    )
    unit = read_workbook(path)
    assert unit.unit == "某某县水利局" and unit.meta["signer"] == signer
    found = [f for f in unit.findings if f.rule == "READ.unit"]
    if not said:
        assert found == []
        return
    [f] = found
    sheet, ref = unit.meta_locations["signer"]
    assert f.severity == "warning" and f.cells == (f"{sheet}!{ref}", "Sheet1!A1")
    assert f"报告文字末尾的落款为“某某县财政局”（{sheet}!{ref}）" in f.message
    assert "标题中的单位为“某某县水利局”（Sheet1!A1）" in f.message and "两者不一致" in f.message


def test_signer_field_naming_another_unit_is_said(tmp_path):
    path = write_template(
        load_form("2021"),
        tmp_path / "某某区教育局.xlsx",
        values=consistent_2021(6),
        meta={"unit": "某某区教育局", "year": 2025, "signer": "某某区卫生健康局"},
        narrative=NARRATIVE_2021,
    )
    unit = read_workbook(path)
    [f] = [f for f in unit.findings if f.rule == "READ.unit"]
    assert "“落款单位”为“某某区卫生健康局”" in f.message and "“基本信息”中的单位名称为“某某区教育局”" in f.message


# -- point 4: a pasted web page: the report's text in the data sheet


@pytest.mark.parametrize("heading_in_cell", [False, True])
def test_pasted_web_page_is_read_as_the_reports_sections(tmp_path, heading_in_cell):
    values = consistent_2021(7)
    title = report_title("某某县人民政府", 2025, "unit_first")
    path = write_web_page_2021(
        tmp_path / "网页.xlsx",
        values,
        title,
        NARRATIVE_2021,
        signer="某某县人民政府",
        date_written="2026年1月20日",
        heading_in_cell=heading_in_cell,
    )
    unit = read_workbook(path)
    assert (unit.unit, unit.year) == ("某某县人民政府", 2025)
    assert {k: unit.values[k] for k in values} == values
    assert unit.narrative == NARRATIVE_2021  # no preface, no table, no signature in the sections
    assert unit.meta["date_written"] == date(2026, 1, 20) and unit.meta["signer"] == "某某县人民政府"
    assert unit.narrative_locations["problems"][0] == "Sheet1"
    assert errors_after_checks(unit) == []
    assert not [f for f in unit.findings if f.rule in ("D1", "D2", "D.narrative")]

    import docx

    from gkreport.docx_out import write_unit_docx

    out = write_unit_docx(unit, tmp_path / "out").path
    text = "\n".join(p.text for p in docx.Document(str(out)).paragraphs)
    for section in NARRATIVE_2021.values():
        for paragraph in section.split("\n"):
            assert paragraph in text
    assert "请填写" not in text
    assert not [f for f in unit.findings if f.rule in ("D1", "D2", "D.narrative")]


def test_a_signature_dated_yuanyue_is_read_as_january(tmp_path):
    """元月 is January in the dates of documents (2026年元月20日): read as that date, not called an
    unrecognisable date, and the report's 落款 gives it in the standard form."""
    values = consistent_2021(7)
    path = write_web_page_2021(
        tmp_path / "网页.xlsx",
        values,
        report_title("某某县人民政府", 2025, "unit_first"),
        NARRATIVE_2021,
        signer="某某县人民政府",
        date_written="2026年元月20日",
    )
    unit = read_workbook(path)
    assert unit.meta["date_written"] == date(2026, 1, 20)
    assert not [f for f in unit.findings if f.rule == "READ.meta"]
    run_checks([unit])
    assert not [f for f in unit.findings if f.rule.startswith("D") and "成文日期" in f.message]

    import docx

    from gkreport.docx_out import write_unit_docx

    out = write_unit_docx(unit, tmp_path / "out").path
    assert "2026年1月20日" in [p.text.strip() for p in docx.Document(str(out)).paragraphs]


@pytest.mark.parametrize("heading_in_cell", [False, True])
def test_each_paragraph_keeps_the_cell_it_was_read_from(tmp_path, heading_in_cell):
    """A pasted web page: every paragraph of a section has its own row (or, heading and text in one
    cell, that cell); a text-vs-table finding then points at the paragraph holding the number."""
    values = consistent_2021(7)
    narrative = {
        **NARRATIVE_2021,
        "overview": "本机关深入推进政务公开。\n全年共收到政府信息公开申请999件。\n下一步将继续努力。",
    }
    path = write_web_page_2021(
        tmp_path / "网页.xlsx",
        values,
        "某某县水利局2025年政府信息公开工作年度报告",
        narrative,
        heading_in_cell=heading_in_cell,
    )
    ws = load_workbook(path).active
    rows = {str(c.value).strip("　"): c.coordinate for row in ws.iter_rows() for c in row if c.value}
    unit = read_workbook(path)
    paragraphs = narrative["overview"].split("\n")
    assert unit.narrative["overview"] == narrative["overview"]
    if heading_in_cell:
        cell = rows["一、总体情况\n" + narrative["overview"]]
        expected = [("Sheet1", cell)] * 3
    else:
        expected = [("Sheet1", rows[p]) for p in paragraphs]
    assert unit.paragraph_locations["overview"] == expected
    assert unit.narrative_locations["overview"] == expected[0]
    run_checks([unit])
    (f,) = [f for f in unit.findings if f.rule == "A8.received"]
    assert f.paragraph == ("overview", 1) and f.cells[0] == "Sheet1!" + expected[1][1]
    assert unit.place(f.cells[0]) == f"Sheet1 {expected[1][1]}"  # the text of the page, not 表二


def test_web_page_heading_written_a_little_differently(tmp_path):
    values = consistent_2021(8)
    path = write_web_page_2021(
        tmp_path / "网页.xlsx", values, "某某县水利局2025年政府信息公开工作年度报告", NARRATIVE_2021
    )
    wb = load_workbook(path)
    ws = wb.active
    for row in ws.iter_rows():
        for c in row:
            if c.value == "五、存在的主要问题及改进情况":
                c.value = "五、政府信息公开工作存在的主要问题和改进情况"
    wb.save(path)
    unit = read_workbook(path)
    assert unit.narrative["problems"] == NARRATIVE_2021["problems"]
    assert unit.narrative["overview"] == NARRATIVE_2021["overview"]


def test_web_page_without_text_sections_still_reports_them_missing(tmp_path):
    values = consistent_2021(9)
    empty = {"overview": "", "problems": "", "other": ""}
    path = write_web_page_2021(tmp_path / "网页.xlsx", values, "某某县水利局2025年政府信息公开工作年度报告", empty)
    unit = read_workbook(path)
    assert unit.narrative == {}
    run_checks([unit])
    [d1] = [f for f in unit.findings if f.rule == "D1"]
    assert "一、总体情况" in d1.message and "六、其他需要报告的事项" in d1.message


# -- point 7: our own blank templates


@pytest.mark.parametrize("form_id", ["2021", "2019"])
def test_blank_table_four_in_our_template_is_unfilled_not_a_missing_row(tmp_path, form_id):
    form = load_form(form_id)
    values = {cid: 1 for cid, c in form.cells.items() if not c.optional and not cid.startswith("t4.")}
    path = write_template(form, tmp_path / "t.xlsx", values=values, meta={"unit": "某某区民政局", "year": 2021})
    unit = read_workbook(path)
    assert not [f for f in unit.findings if f.rule.startswith("READ.missing")]
    assert all(unit.values[c] is None for c in form.tables["t4"].cells)
    assert unit.locations["t4.cases.review_upheld"] == ("四、政府信息公开行政复议、行政诉讼情况", "A6")
    run_checks([unit])
    assert [f.message for f in unit.findings if f.table == "t4"] == ["表四未填写（没有发生的事项请填 0）"]
    assert all("“”" not in f.message for f in unit.findings)


@pytest.mark.parametrize("form_id", ["2021", "2019", "2017"])
def test_every_message_on_a_blank_template_names_a_real_label(form_id):
    unit = read_workbook(TEMPLATES / f"{form_id}年版统计表模板.xlsx")
    run_checks([unit])
    assert not [f for f in unit.findings if f.rule.startswith("READ.missing")]
    assert all("“”" not in f.message for f in unit.findings), [f.message for f in unit.findings]
    blank = sorted(f.message for f in unit.findings if f.rule.endswith(".blank"))
    assert blank and all(m.endswith("未填写（没有发生的事项请填 0）") for m in blank)


def test_table_with_only_its_title_is_one_error_naming_the_table(tmp_path):
    values = consistent_2021(10)
    path = write_official_2021(tmp_path / "x.xlsx", values, "某某区司法局", 2025)
    wb = load_workbook(path)
    ws = wb.active
    last = max(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "四、政府信息公开行政复议、行政诉讼情况")
    ws.delete_rows(last + 1, 10)
    wb.save(path)
    unit = read_workbook(path)
    [f] = [f for f in unit.findings if f.table == "t4"]
    assert f.rule == "READ.missing_table" and f.severity == "error"
    assert "表四“四、政府信息公开行政复议、行政诉讼情况”只有标题或表头" in f.message and f"A{last}" in f.message


# -- issue 11, point 12: last year's table kept on an extra sheet


def _with_last_years_sheet(path: Path, name: str, last: dict, position: int) -> Path:
    wb = load_workbook(path)
    ws = wb.create_sheet(name, position)
    put_t3(ws, 1, last, lambda r, c, v: setattr(ws.cell(r, c), "value", v))
    wb.save(path)
    return path


@pytest.mark.parametrize("name", ["上年表三（2024年）", "2024年表三", "上年度表三", "去年"])
def test_last_years_table_on_an_extra_sheet_is_never_read_as_this_years(tmp_path, name):
    this, last = consistent_2021(11), consistent_2021(12)
    path = write_template(
        load_form("2021"), tmp_path / "t.xlsx", values=this, meta={"unit": "某某区教育局", "year": 2025}
    )
    _with_last_years_sheet(path, name, last, 2)  # before this year's table 三
    unit = read_workbook(path)
    assert {k: unit.values[k] for k in this} == this
    assert unit.locations["t3.new.natural"][0] == "三、收到和处理政府信息公开申请情况"
    [f] = [f for f in unit.findings if f.rule == "READ.other_year"]
    assert f.severity == "warning" and f"工作表“{name}”" in f.message and "2024年" in f.message
    assert errors_after_checks(unit) == []


def test_year_in_the_tables_title_picks_this_years_copy(tmp_path):
    this, last = consistent_2021(13), consistent_2021(14)
    path, _ = write_separate_sheets_2021(tmp_path / "x.xlsx", this, "某某县水利局2025年政府信息公开工作年度报告")
    wb = load_workbook(path)
    ws = wb.create_sheet("Sheet2", 1)
    put_t3(ws, 2, last, lambda r, c, v: setattr(ws.cell(r, c), "value", v), title=False)
    ws["A1"] = "三、收到和处理政府信息公开申请情况（2024年）"
    wb["表三"]["A1"] = "三、收到和处理政府信息公开申请情况（2025年）"
    wb.save(path)
    unit = read_workbook(path)
    assert {k: unit.values[k] for k in this} == this
    [f] = [f for f in unit.findings if f.rule == "READ.other_year"]
    assert "工作表“Sheet2”" in f.message and "注明为2024年" in f.message and "注明了2025年的工作表“表三”" in f.message


def test_two_different_copies_without_a_year_are_an_error_not_a_guess(tmp_path):
    this, other = consistent_2021(15), consistent_2021(16)
    path, _ = write_separate_sheets_2021(
        tmp_path / "x.xlsx", this, "某某县水利局2025年政府信息公开工作年度报告", extra_sheets=[("表三 (2)", other, 1)]
    )
    unit = read_workbook(path)
    [f] = [f for f in unit.findings if f.rule == "READ.ambiguous_table"]
    assert f.severity == "error" and "工作表“表三 (2)”" in f.message and "工作表“表三”" in f.message
    assert "2025年" in f.message
    assert all(unit.values[c] is None for c in load_form("2021").tables["t3"].cells if c in unit.values)
    assert {k: unit.values[k] for k in this if not k.startswith("t3.")} == {
        k: v for k, v in this.items() if not k.startswith("t3.")
    }
    run_checks([unit])
    t3 = [f for f in unit.findings if f.table == "t3"]
    assert [f.rule for f in t3] == ["READ.ambiguous_table"]  # not also “表三未填写”


def test_identical_copies_are_read_once_with_a_prompt(tmp_path):
    this = consistent_2021(17)
    path, _ = write_separate_sheets_2021(
        tmp_path / "x.xlsx", this, "某某县水利局2025年政府信息公开工作年度报告", extra_sheets=[("表三 (2)", this, 3)]
    )
    unit = read_workbook(path)
    assert {k: unit.values[k] for k in this} == this
    [f] = [f for f in unit.findings if f.rule == "READ.duplicate_table"]
    assert f.severity == "warning" and "工作表“表三 (2)”" in f.message


def test_a_table_split_over_two_sheets_is_read_whole(tmp_path):
    """Copies holding different rows are the parts of one table, not competing copies."""
    this = consistent_2021(18)
    wb = Workbook()
    wb.remove(wb.active)
    header = ["", "", "", "自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"]
    for name, rows in (("表三", T3_ROWS[:10]), ("表三（续）", T3_ROWS[10:])):
        ws = wb.create_sheet(name)
        ws.append(["三、收到和处理政府信息公开申请情况"] if name == "表三" else ["（续表）"])
        ws.append(header)
        for l1, l2, l3, rid in rows:
            ws.append([l1, l2, l3] + [this[f"t3.{rid}.{col}"] for col in T3_COLS])
    wb.save(tmp_path / "x.xlsx")
    unit = read_workbook(tmp_path / "x.xlsx")
    t3 = {k: v for k, v in this.items() if k.startswith("t3.")}
    assert {k: unit.values[k] for k in t3} == t3
    assert not [f for f in unit.findings if f.table == "t3"]


# -- issue 11, point 7: control characters in names and texts


def _replace_in_zip(path: Path, old: bytes, new: bytes) -> Path:
    """Rewrite every part of an .xlsx with ``old`` replaced (openpyxl refuses control characters)."""
    with zipfile.ZipFile(path) as z:
        parts = [(i, z.read(i.filename)) for i in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in parts:
            z.writestr(info, data.replace(old, new))
    return path


@pytest.mark.parametrize("ch", ["\u2028", "\u0085", "\x0c", "\x1c", "\x1d", "\x1e", "\r\n", "\n", "\u200b", "\u202e"])
def test_control_characters_in_unit_names_are_normalised(tmp_path, ch):
    meta = {"unit": f"某某县{ch}人民政府", "year": 2025, "contact": f"张{ch}三", "phone": f"0533{ch}1234567"}
    narrative = dict(NARRATIVE_2021, problems=f"一是解读形式单一。{ch}二是培训不足。")
    path = write_template(
        load_form("2021"), tmp_path / "t.xlsx", values=consistent_2021(20), meta=meta, narrative=narrative
    )
    unit = read_workbook(path)
    assert unit.unit == unit.meta["unit"] == "某某县人民政府"
    assert unit.meta["contact"] == "张三"
    assert unit.meta["phone"] == ("05331234567" if ch in ("\u200b", "\u202e") else "0533 1234567")
    told = [f for f in unit.findings if f.rule == "READ.text"]
    [name] = [f for f in told if f.message.startswith("单位名称")]
    assert name.severity == "warning" and name.cells == ("基本信息!B3",) and "“某某县人民政府”" in name.message
    ordinary = ch in ("\r\n", "\n")
    assert bool([f for f in told if f.message.startswith("联系人")]) is not ordinary  # a line break is no news there
    problems = unit.narrative["problems"]
    if ch in ("\u2028", "\u0085", "\r\n", "\n"):  # line breaks in a text are its paragraphs
        assert problems == "一是解读形式单一。\n二是培训不足。"
    else:
        assert problems == "一是解读形式单一。二是培训不足。"
        assert [f for f in told if "“五、存在的主要问题及改进情况”" in f.message]
    assert all(c.isprintable() or c == "\n" for v in (*unit.meta.values(), *unit.narrative.values()) for c in str(v))

    import docx

    from gkreport.docx_out import write_unit_docx

    out = write_unit_docx(unit, tmp_path / "out").path
    assert "某某县人民政府" in out.name
    assert "某某县人民政府" in "\n".join(p.text for p in docx.Document(str(out)).paragraphs)


def test_control_character_in_a_title_is_removed_with_a_prompt(tmp_path):
    path = write_official_2021(
        tmp_path / "x.xlsx", consistent_2021(21), "", 2025, title="某某县MARK人民政府2025年政府信息公开工作年度报告"
    )
    _replace_in_zip(path, b"MARK", b"_x001E_")
    unit = read_workbook(path)
    assert (unit.unit, unit.year) == ("某某县人民政府", 2025)
    [f] = [f for f in unit.findings if f.rule == "READ.text"]
    assert "U+001E" in f.message and f.cells == ("年报表格!A1",)


# --------------------------------------------------------------------------- property: every layout reads back

UNIT_NAMES = ["某某县人民政府", "某某市某某委员会", "某某区教育局", "某某市人民政府办公厅", "某某自治县民族宗教事务局"]
TITLE_STYLES = ["unit_first", "year_first", "indicators", "unit_first_wrapped"]
CELL_NOTES = ["（其中修订6件）", "（含自然失效9件）", "件(含转办1件)", "（含上年结转）"]


def write_layout(folder: Path, layout: str, seed: int, name: str, year: int, style: str, rnd: random.Random):
    """Random consistent values of a unit written in ``layout``; returns (path, expected values, narrative)."""
    form_id = {"template_2019": "2019", "template_2017": "2017"}.get(layout, "2021")
    form = load_form(form_id)
    if form_id == "2021":
        values = consistent_2021(seed, high=rnd.choice([3, 30, 900]))
    else:
        values = {k: int(v) for k, v in consistent_values(form, seed).items() if not form.cells[k].optional}
    narrative = {s.id: f"{s.heading}的文字，第{seed}号。" for s in form.sections if s.kind == "text"}
    if form_id == "2021":
        narrative = dict(NARRATIVE_2021)
    path = folder / f"{layout}_{seed}.xlsx"
    title = report_title(name, year, style)
    if layout.startswith("template"):
        write_template(form, path, values=values, meta={"unit": name, "year": year}, narrative=narrative)
    elif layout == "one_sheet":
        write_official_2021(path, values, name, year, remarks=rnd.random() < 0.5, title=title)
    elif layout == "separate_sheets":
        cells = rnd.sample(sorted(values), 3)
        notes = {c: rnd.choice(CELL_NOTES) for c in cells if values[c] is not None}
        filler = rnd.choice([None, name])
        write_separate_sheets_2021(
            path,
            values,
            title,
            filler=filler,
            filler_beside=rnd.random() < 0.5,
            notes=notes,
            table_titles=rnd.random() < 0.5,
        )
    elif layout == "web_page":
        write_web_page_2021(
            path,
            values,
            title,
            narrative,
            signer=name,
            date_written=f"{year + 1}年1月20日",
            heading_in_cell=rnd.random() < 0.3,
        )
    return path, values, narrative


def assert_read_back(path: Path, layout: str, values: dict, narrative: dict, name: str, year: int) -> None:
    unit = read_workbook(path)
    assert (unit.unit, unit.year) == (name, year)
    assert {k: unit.values.get(k) for k in values} == values
    assert errors_after_checks(unit) == []
    assert not [f for f in unit.findings if f.rule.startswith("READ.") and f.rule not in ("READ.note",)]
    if layout in ("web_page",) or layout.startswith("template"):
        assert unit.narrative == narrative
        assert not [f for f in unit.findings if f.rule in ("D1", "D2")]


LAYOUTS = ["template_2021", "template_2019", "template_2017", "one_sheet", "separate_sheets", "web_page"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    layout=st.sampled_from(LAYOUTS),
    seed=st.integers(0, 10**6),
    name=st.sampled_from(UNIT_NAMES),
    year=st.integers(2021, 2025),
    style=st.sampled_from(TITLE_STYLES),
)
def test_consistent_tables_in_every_layout_read_back(tmp_path_factory, layout, seed, name, year, style):
    year = {"template_2019": 2020, "template_2017": 2017}.get(layout, year)
    path, values, narrative = write_layout(
        tmp_path_factory.mktemp("layout"), layout, seed, name, year, style, random.Random(seed)
    )
    assert_read_back(path, layout, values, narrative, name, year)


@pytest.fixture(scope="module")
def saved_by_libreoffice(tmp_path_factory):
    """One unit per layout, re-saved by LibreOffice as .xls and as .ods (one LibreOffice call each)."""
    d = tmp_path_factory.mktemp("lo")
    made = {}
    for k, layout in enumerate(["template_2021", "one_sheet", "separate_sheets", "web_page"]):
        name, year, style = UNIT_NAMES[k], 2021 + k, TITLE_STYLES[k]
        path, values, narrative = write_layout(d, layout, 100 + k, name, year, style, random.Random(k))
        made[layout] = (path, values, narrative, name, year)
    converted = {fmt: soffice_convert_all([m[0] for m in made.values()], fmt, d / fmt) for fmt in ("xls", "ods")}
    return made, {fmt: dict(zip(made, paths)) for fmt, paths in converted.items()}


@pytest.mark.slow
@needs_soffice
@pytest.mark.parametrize("fmt", ["xls", "ods"])
@pytest.mark.parametrize("layout", ["template_2021", "one_sheet", "separate_sheets", "web_page"])
def test_consistent_tables_saved_by_libreoffice_read_back(saved_by_libreoffice, layout, fmt):
    made, converted = saved_by_libreoffice
    _, values, narrative, name, year = made[layout]
    assert_read_back(converted[fmt][layout], layout, values, narrative, name, year)
    read_cold_and_warm(read_workbook, converted[fmt][layout])


# --------------------------------------------------------------------------- our 自查 sheet, left unparsed


def _read_facts(path: Path) -> tuple:
    u = read_workbook(path)
    return (
        u.unit,
        u.year,
        u.values,
        [f.to_dict() for f in u.findings],
        u.meta,
        u.narrative,
        u.locations,
        u.meta_locations,
        u.narrative_locations,
        u.notes,
        u.explanations,
    )


def test_self_check_sheet_left_unparsed_reads_the_same(tmp_path, monkeypatch):
    """The template's 自查 sheet is recognised from the zip (A1 starts with 自查) and not parsed;
    every sample, blank template and filled template reads exactly as when it is parsed and then
    left out."""
    from gkreport import reader
    from gkreport.template import SELF_CHECK_SHEET

    form = load_form("2021")
    filled = write_template(
        form,
        tmp_path / "填好的模板.xlsx",
        values={k: v for k, v in consistent_values(form, 3, high=30).items() if not form.cells[k].optional},
        meta={"unit": "某某县人民政府", "year": 2025},
        narrative={"overview": "2025年，本机关深入贯彻落实条例。"},
    )
    files = sorted(SAMPLES.glob("*.xlsx")) + sorted(TEMPLATES.glob("*.xlsx")) + [filled]
    skipped = [f for f in files if reader._scan_zip(f, f.read_bytes()).ours == {SELF_CHECK_SHEET}]
    assert filled in skipped and len(skipped) >= len(files) - 1
    assert all(s.name != SELF_CHECK_SHEET for s in reader.load_sheets(filled))
    fast = [_read_facts(f) for f in files]
    monkeypatch.setattr(reader, "_self_check", lambda *args: False)  # parse it, as before
    assert SELF_CHECK_SHEET in [s.name for s in reader.load_sheets(filled)]
    assert [_read_facts(f) for f in files] == fast


@pytest.mark.parametrize("a1", ["本单位自查情况", 17, None])
def test_a_sheet_of_the_office_named_self_check_is_still_read(tmp_path, a1):
    """A sheet the office named 自查 itself (its A1 not our heading) is parsed as any other sheet."""
    from gkreport import reader
    from gkreport.template import SELF_CHECK_SHEET

    wb = Workbook()
    ws = wb.active
    ws.title = SELF_CHECK_SHEET
    ws["A1"] = a1
    ws["B3"] = "自查发现的问题：无"
    wb.create_sheet("其他")["A1"] = "自查"
    wb.save(tmp_path / "x.xlsx")
    sheets = {s.name: s for s in reader.load_sheets(tmp_path / "x.xlsx")}
    assert reader._scan_zip(tmp_path / "x.xlsx", (tmp_path / "x.xlsx").read_bytes()).ours == set()
    assert sheets[SELF_CHECK_SHEET].text(2, 1) == "自查发现的问题：无" and "其他" in sheets


# --------------------------------------------------------------------------- shortcuts of the zip scan and the walk


@pytest.mark.parametrize(
    "prolog",
    [
        b'<!DOCTYPE x [<!ENTITY e "entity">]>',
        b'<!-- a comment with <b> in it --><!DOCTYPE x [<!ENTITY e "entity">]>',
        b'<?note <b> in an instruction?><!DOCTYPE x [<!ENTITY e "entity">]>',
        b'<!--\n--><!doctype x SYSTEM "file:///etc/passwd">',
    ],
    ids=["plain", "behind-a-comment", "behind-an-instruction", "lower-case-external"],
)
def test_a_dtd_in_the_prolog_of_any_part_is_refused(tmp_path, prolog):
    """Only the prolog is searched for a DTD (it can stand nowhere else), but a comment or an
    instruction before it, whose text could hold a '<', does not hide it."""
    from test_hostile import replace_part, sample_parts, zip_bytes

    parts = sample_parts()
    for name in ("xl/styles.xml", "docProps/app.xml", "xl/worksheets/sheet2.xml"):
        data = next(x.data for x in parts if x.name == name)
        head, rest = data.split(b"?>", 1)
        path = tmp_path / f"{name.replace('/', '_')}.xlsx"
        path.write_bytes(zip_bytes(replace_part(parts, name, head + b"?>" + prolog + rest)))
        with pytest.raises(ReadError, match="DTD/实体声明"):
            read_workbook(path)


@pytest.mark.parametrize("index", ["1", "99999999999999999999999"])
def test_a_self_check_sheet_naming_a_shared_string_past_the_table_is_not_ours(tmp_path, index):
    """A1 of a sheet named 自查 pointing past the shared strings (or far past any size) is not taken
    for our heading: the sheet is left to the parser, whatever it makes of it."""
    from gkreport import reader
    from gkreport.template import SELF_CHECK_SHEET
    from test_hostile import Part, sheet_xml, workbook_parts, zip_bytes

    sst = '<?xml version="1.0" encoding="UTF-8"?><sst><si><t>自查（本表自动计算）</t></si></sst>'.encode()
    sheet = sheet_xml(f'<row r="1"><c r="A1" t="s"><v>{index}</v></c></row>')
    path = tmp_path / "x.xlsx"
    path.write_bytes(zip_bytes([*workbook_parts([sheet], [SELF_CHECK_SHEET]), Part("xl/sharedStrings.xml", sst)]))
    assert reader._scan_zip(path, path.read_bytes()).ours == set()
    ok = sheet_xml('<row r="1"><c r="A1" t="s"><v>0</v></c></row>')
    path.write_bytes(zip_bytes([*workbook_parts([ok], [SELF_CHECK_SHEET]), Part("xl/sharedStrings.xml", sst)]))
    assert reader._scan_zip(path, path.read_bytes()).ours == {SELF_CHECK_SHEET}


def test_the_small_sheet_shortcut_of_the_extent_check_follows_the_limits(tmp_path, monkeypatch):
    """Cells within ZZ999 skip the exact extent count only while that area is within the limits."""
    from gkreport import reader
    from test_hostile import inline, sheet_xml, workbook_parts, zip_bytes

    path = tmp_path / "x.xlsx"
    path.write_bytes(zip_bytes(workbook_parts([sheet_xml(inline("A1", "单位名称") + '<c r="B600"><v>1</v></c>')])))
    assert len(reader.load_sheets(path)[0].rows) == 600
    monkeypatch.setattr(reader, "MAX_ROWS", 500)
    with pytest.raises(ReadError, match=r"数据范围过大.*B600"):
        reader.load_sheets(path)


def test_sheets_without_any_table_text_read_as_when_walked(tmp_path, monkeypatch):
    """A sheet with no title, header or row label of any table (基本信息, 填表说明) is not walked:
    each layout reads exactly as when every sheet is walked."""
    from gkreport import reader

    form = load_form("2021")
    values = {k: v for k, v in consistent_values(form, 4, high=30).items() if not form.cells[k].optional}
    files = [
        write_template(form, tmp_path / "模板.xlsx", values=values, meta={"unit": "某某县人民政府", "year": 2025}),
        write_web_page_2021(
            tmp_path / "网页.xlsx",
            random_2021_values(random.Random(3)),
            report_title("某某县人民政府", 2025, "unit_first"),
            {"overview": "2025年，本机关深入贯彻落实条例。", "problems": "一是政策解读形式单一。", "other": "无。"},
            signer="某某县人民政府",
            date_written="2026年1月20日",
        ),
        *sorted(SAMPLES.glob("*.xlsx")),
    ]
    walked: list[str] = []
    plain_walk = reader._Reader._walk
    monkeypatch.setattr(
        reader._Reader,
        "_walk",
        lambda self, sheet, stop=None: walked.append(sheet.name) or plain_walk(self, sheet, stop),
    )
    reader.set_layout_cache_size(0)
    try:
        fast = [unit_facts(read_workbook(f)) for f in files]
        assert "基本信息" not in walked and walked  # passed over, the tables walked
        monkeypatch.setattr(reader, "_has_table_text", lambda fi, sheet: True)
        assert [unit_facts(read_workbook(f)) for f in files] == fast
        assert "基本信息" in walked
    finally:
        reader.set_layout_cache_size(reader.LAYOUT_CACHE_SIZE)


# --------------------------------------------------------------------------- the layout cache


@pytest.fixture
def layout_cache():
    """The reader's layout cache, empty at the start and the end of the test."""
    from gkreport import reader

    reader.set_layout_cache_size(reader.LAYOUT_CACHE_SIZE)
    yield reader._layout_cache
    reader.set_layout_cache_size(reader.LAYOUT_CACHE_SIZE)


def _pairs_of_one_layout(folder: Path) -> dict[str, tuple[Path, Path]]:
    """Per layout, two workbooks laid out alike with different units, years and figures."""
    pairs = {}
    for layout in LAYOUTS:
        made = []
        for k, (seed, name, year) in enumerate([(31, UNIT_NAMES[0], 2024), (32, UNIT_NAMES[3], 2025)]):
            year = {"template_2019": 2020, "template_2017": 2017}.get(layout, year)
            sub = folder / f"{layout}_{k}"
            sub.mkdir()
            made.append(write_layout(sub, layout, seed, name, year, "unit_first", random.Random(7))[0])
        pairs[layout] = (made[0], made[1])
    # last year's table 三 on an extra sheet; table notes and other copies
    for k, seed in enumerate((41, 42)):
        path = write_template(
            load_form("2021"),
            folder / f"上年_{k}.xlsx",
            values=consistent_2021(seed),
            meta={"unit": UNIT_NAMES[k], "year": 2025},
        )
        _with_last_years_sheet(path, "上年表三（2024年）", consistent_2021(seed + 10), 2)
    pairs["last_year"] = (folder / "上年_0.xlsx", folder / "上年_1.xlsx")
    return pairs


def test_layout_cache_reads_every_layout_as_without_it(tmp_path, layout_cache):
    """Each layout the reader tests build, read without the cache, after another workbook of the same
    layout, and after itself: the same unit in every field (values, locations, findings, meta, text)."""
    pairs = _pairs_of_one_layout(tmp_path)
    for layout, (first, second) in pairs.items():
        layout_cache.clear()
        read_cold_and_warm(read_workbook, first)
        hits = layout_cache.hits
        unit = read_cold_and_warm(read_workbook, second)
        assert unit.values and unit.unit
        if layout != "web_page":  # the signer's name under the text differs: its sheet is walked anew
            assert layout_cache.hits > hits, f"{layout}: the second workbook never used the first one's walk"
    # the shipped samples and templates, the seed files saved as .xls/.ods, the odd corpus files
    corpus = ROOT / "tests" / "corpus"
    files = [*SAMPLES.glob("*.xlsx"), *TEMPLATES.glob("*.xlsx"), *corpus.glob("*/*.xls*"), *corpus.glob("*/*.ods")]
    assert len(files) > 10
    for path in sorted(files):
        try:
            read_cold_and_warm(read_workbook, path)
        except ReadError:
            pass  # refused alike with and without the cache (read_cold_and_warm compared the messages)


def _edit_cells(path: Path, out: Path, edit) -> Path:
    wb = load_workbook(path)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                edit(ws, c)
    wb.save(out)
    return out


def test_layout_cache_is_not_used_for_a_label_changed_in_one_cell(tmp_path, layout_cache):
    """A typo in one label, in a workbook otherwise laid out as one read before, is found and reported."""
    values = random_2021_values(random.Random(5))
    first = write_official_2021(tmp_path / "a.xlsx", values, "某某区", 2024, remarks=False)
    other = write_official_2021(tmp_path / "b.xlsx", values, "某某县", 2024, remarks=False)

    def typo(ws, c):
        if c.value == "2.其他法律行政法规禁止公开":
            c.value = "2.其他法律行政止公开"

    changed = _edit_cells(other, tmp_path / "c.xlsx", typo)
    clean = read_workbook(first)
    unit = read_cold_and_warm(read_workbook, changed)
    warn = [f for f in unit.findings if f.rule == "READ.label"]
    assert len(warn) == 1 and "其他法律行政止公开" in warn[0].message
    assert not [f for f in clean.findings if f.rule == "READ.label"]
    assert unit_facts(read_workbook(first)) == unit_facts(clean)  # and the first layout still reads as before


def test_layout_cache_is_not_used_for_a_moved_row(tmp_path, layout_cache):
    """Two rows of table 三 swapped (labels and figures): each figure is read from its new place."""
    values = random_2021_values(random.Random(8))
    values["t3.new.natural"], values["t3.carry.natural"] = 7, 3
    first = write_official_2021(tmp_path / "a.xlsx", values, "某某区", 2024, remarks=False)
    wb = load_workbook(first)
    ws = wb.active
    rows = {
        c.value: c.row
        for row in ws.iter_rows()
        for c in row
        if c.value in ("一、本年新收政府信息公开申请数量", "二、上年结转政府信息公开申请数量")
    }
    a, b = rows.values()
    for col in range(1, ws.max_column + 1):
        x, y = ws.cell(a, col), ws.cell(b, col)
        if type(x).__name__ == "MergedCell" or type(y).__name__ == "MergedCell":
            continue
        x.value, y.value = y.value, x.value
    wb.save(tmp_path / "moved.xlsx")
    clean = read_workbook(first)
    unit = read_cold_and_warm(read_workbook, tmp_path / "moved.xlsx")
    assert (unit.values["t3.new.natural"], unit.values["t3.carry.natural"]) == (7, 3)
    assert unit.locations["t3.new.natural"] == clean.locations["t3.carry.natural"]
    assert unit.locations["t3.carry.natural"] == clean.locations["t3.new.natural"]


def test_the_reader_tests_read_through_the_layout_cache_check():
    """conftest makes every read of this module (and of test_hostile) go cold and warm through the
    layout cache, compared field by field: a difference fails the test that read the file."""
    from gkreport import reader

    assert reader._read.__name__ == "checked_read"


# -- a year left over from last year, names taken from titles


def test_a_title_copied_from_last_year_is_an_error_naming_every_other_sign(tmp_path):
    """The title says 2024; the file name, the 统计期限 line and the sheets the tables are on say 2025.
    The year read is kept (nothing is guessed) and an error names each sign, so that the report is
    not filed under last year with nothing said."""
    values = consistent_2021(3)
    title = "某某市某某区教育局2024年政府信息公开工作年度报告"
    path, _ = write_separate_sheets_2021(
        tmp_path / "某某市某某区教育局2025年政府信息公开工作年度报告.xlsx", values, title
    )
    wb = load_workbook(path)
    for ws in wb.worksheets:
        ws.title = f"{ws.title}（2025年）"
    wb["表二（2025年）"].cell(1, 7).value = "本报告所列数据的统计期限自2025年1月1日起至2025年12月31日止。"
    wb.save(path)
    unit = read_workbook(path)
    assert unit.year == 2024
    (f,) = [f for f in unit.findings if f.rule == "READ.year"]
    assert f.severity == "error" and f.title == "年度前后不一"
    assert "按标题读作 2024 年" in f.message
    assert "文件名“某某市某某区教育局2025年政府信息公开工作年度报告.xlsx”写的是 2025 年" in f.message
    assert "统计期限写的是 2025 年（表二（2025年）!G1）" in f.message
    assert "“表二（2025年）”“表三（2025年）”“表四（2025年）”写的是 2025 年" in f.message
    assert f.cells[:2] == ("表二（2025年）!A1", "表二（2025年）!G1")
    # the same file with this year's title: no sign disagrees
    wb = load_workbook(path)
    wb["表二（2025年）"].cell(1, 1).value = title.replace("2024", "2025")
    wb.save(path)
    unit = read_workbook(path)
    assert unit.year == 2025 and not [f for f in unit.findings if f.rule == "READ.year"]


def test_a_year_field_from_last_year_in_our_template_against_the_file_name(tmp_path):
    path = fill_template(tmp_path / "某某区教育局2025年统计表.xlsx", "2021", consistent_2021(4), year=2024)
    unit = read_workbook(path)
    (f,) = [f for f in unit.findings if f.rule == "READ.year"]
    assert "按“基本信息”中的年度读作 2024 年" in f.message and f.cells[0].startswith("基本信息!")
    # a file name with two years (or none) says nothing either way
    for name in ("某某区教育局2024年报表（2025年3月修改）.xlsx", "某某区教育局统计表.xlsx"):
        other = path.rename(tmp_path / name)
        assert not [f for f in read_workbook(other).findings if f.rule == "READ.year"]
        path = other


@pytest.mark.parametrize(
    "title,unit_name",
    [
        ("关于印发某某市某某区教育局2025年政府信息公开工作年度报告的通知", "某某市某某区教育局"),
        ("《某某市某某区教育局2025年政府信息公开工作年度报告》", "某某市某某区教育局"),
        ("某某市某某区教育局2024—2025年政府信息公开工作年度报告", "某某市某某区教育局"),
        (
            "中共某某区委宣传部（某某区新闻出版局）2025年政府信息公开工作年度报告",
            "中共某某区委宣传部（某某区新闻出版局）",
        ),
        ("某某市某某区教育局二〇二五年政府信息公开工作年度报告", "某某市某某区教育局"),
        ("某某市2026年全运会筹备委员会办公室2025年政府信息公开工作年度报告", "某某市2026年全运会筹备委员会办公室"),
        ("附件1：某某市某某区教育局2025年政府信息公开工作年度报告", "某某市某某区教育局"),
        ("某某市某某区教育局2025年政务公开工作年度报告", "某某市某某区教育局"),
    ],
)
def test_the_unit_name_in_a_title_without_what_surrounds_it(tmp_path, title, unit_name):
    values = consistent_2021(5)
    unit = read_workbook(write_official_2021(tmp_path / "报表.xlsx", values, "", 2025, title=title))
    assert (unit.unit, unit.year) == (unit_name, 2025)
    assert {k: unit.values[k] for k in values} == values


@pytest.mark.parametrize(
    "written,said",
    [
        ("某某区教育局（盖章）", "其中“（盖章）”不是单位名称的一部分"),
        ("某某区教育局（代章）", "其中“（代章）”不是单位名称的一部分"),
        ("某某区教育局2025年", "其中“2025年”不是单位名称的一部分"),
        ("某某区 教育局", "其中的空格已去除"),
    ],
)
def test_a_unit_name_field_with_a_seal_mark_a_year_or_spaces(tmp_path, written, said):
    unit = read_workbook(fill_template(tmp_path / "x.xlsx", "2021", consistent_2021(6), unit=written))
    assert unit.unit == "某某区教育局" and unit.meta["unit"] == "某某区教育局"
    (f,) = [f for f in unit.findings if f.rule == "READ.unit"]
    assert said in f.message and f.severity == "warning" and f.actual == written


def test_a_year_field_in_chinese_numerals(tmp_path):
    unit = read_workbook(fill_template(tmp_path / "x.xlsx", "2021", consistent_2021(7), year="二〇二五"))
    assert unit.year == 2025 and not [f for f in unit.findings if f.rule.startswith("READ.")]


@pytest.mark.parametrize("written,read", [("3000元", "0.3"), ("３００元", "0.03"), ("125000 元", "12.5")])
def test_a_fee_written_in_yuan_in_the_wan_yuan_column_is_converted_and_said(tmp_path, written, read):
    """本年收费金额 is in 万元: “3000元” is 0.3 万元, never 3000 万元; the conversion is said."""
    values = consistent_2021(8)
    path = fill_template(tmp_path / "x.xlsx", "2021", values, fmt=lambda v: v)
    wb = load_workbook(path)
    ws = wb[sheet_name(load_form("2021").tables["t2"])]
    (r, c) = grid(load_form("2021").tables["t2"]).value_pos["t2.fees.fee_amount"]
    top = 3 if load_form("2021").tables["t2"].subtitle else 2
    ws.cell(top + r + 1, c + 1).value = written
    wb.save(path)
    unit = read_workbook(path)
    assert unit.values["t2.fees.fee_amount"] == Decimal(read)
    (f,) = [f for f in unit.findings if f.rule == "READ.value"]
    assert (
        f.severity == "warning" and f"已换算为 {read} 万元读取" in f.message and f.cell_ids == ("t2.fees.fee_amount",)
    )


def test_two_unmarked_copies_on_one_sheet_are_not_said_to_be_marked(tmp_path):
    """Only the sheet's title gives a year: the copies are not each “注明为2025年”."""
    values = consistent_2021(9)
    path = write_official_2021(tmp_path / "x.xlsx", values, "某某区教育局", 2025)
    wb = load_workbook(path)
    ws = wb.active
    last = {k: (v + 1 if isinstance(v, int) else v) for k, v in values.items()}
    from official_layout import _putter

    put_t3(ws, ws.max_row + 3, last, _putter(ws), title=True, remarks=True)
    wb.save(path)
    unit = read_workbook(path)
    (f,) = [f for f in unit.findings if f.rule == "READ.ambiguous_table"]
    assert "各自都没有注明年度（只有所在工作表的名称或标题注明了2025年）" in f.message and "都注明为" not in f.message


def test_合计_read_as_总计(tmp_path):
    """Offices write 合计 for 总计 (the column of table 三, （七）总计, table 四's totals)."""
    values = consistent_2021(10)
    path = write_official_2021(tmp_path / "x.xlsx", values, "某某区教育局", 2025)
    wb = load_workbook(path)
    for row in wb.active.iter_rows():
        for c in row:
            if isinstance(c.value, str) and "总计" in c.value and len(c.value) <= 6:
                c.value = c.value.replace("总计", "合计")
    wb.save(path)
    unit = read_workbook(path)
    assert {k: unit.values[k] for k in values} == values
    assert not [f for f in unit.findings if f.rule.startswith("READ.")]
    assert errors_after_checks(unit) == []


def test_numbers_under_no_column_are_said_not_read_and_the_cells_are_not_called_blank(tmp_path):
    """Table 二 copied from a PDF: 本年处理决定数量 slid to column C, the numbers stayed in B. The
    numbers are not read (which column they belong to is a guess), and the cells are not said to be
    未填写 (they are not): an error names both."""
    values = consistent_2021(11)
    where: dict = {}
    path = write_official_2021(tmp_path / "x.xlsx", values, "某某区教育局", 2025, where=where)
    wb = load_workbook(path)
    ws = wb.active
    for m in list(ws.merged_cells.ranges):
        ws.unmerge_cells(str(m))
    moved = []
    for row in ws.iter_rows():
        for c in row:
            if c.value == "本年处理决定数量" and c.column == 2:
                ws.cell(c.row, 3).value, c.value = c.value, None
                moved.append(c.row)
    wb.save(path)
    unit = read_workbook(path)
    cells = ("t2.licensing.decisions", "t2.penalty.decisions", "t2.enforcement.decisions")
    assert moved and all(unit.values[c] is None for c in cells)
    found = [f for f in unit.findings if f.rule == "READ.misplaced"]
    assert {c for f in found for c in f.cell_ids} == set(cells)
    lic = next(f for f in found if "行政许可" in f.message)
    sheet, ref = where["t2.licensing.decisions"]
    assert f"{sheet}!{ref}（{values['t2.licensing.decisions']}）" in lic.message and lic.severity == "error"
    run_checks([unit])
    assert not [f for f in unit.findings if f.rule.endswith("blank_cells") and set(cells) & set(f.cell_ids)]


@pytest.mark.parametrize("fmt", [None, "xls", "ods"])
def test_a_copy_on_a_hidden_sheet_is_set_aside_for_the_visible_one(tmp_path, fmt):
    """A draft of table 三 the office hid (表三（初稿）) and the visible 表三, neither marked with a year:
    the visible one is read and the hidden copy named; two visible copies stay undecided."""
    if fmt is not None and not shutil.which("soffice"):
        pytest.skip("LibreOffice is not installed")
    values = consistent_2021(12)
    draft = {k: (v + 2 if isinstance(v, int) else v) for k, v in values.items()}
    path, _ = write_separate_sheets_2021(
        tmp_path / "某某区教育局2025年统计表.xlsx",
        values,
        "某某区教育局2025年政府信息公开工作年度报告",
        extra_sheets=[("表三（初稿）", draft, 3)],
    )
    wb = load_workbook(path)
    wb["表三（初稿）"].sheet_state = "hidden"
    wb.save(path)
    if fmt is not None:
        path = soffice_convert(path, fmt, tmp_path / fmt)
    unit = read_workbook(path)
    assert {k: unit.values[k] for k in values if k.startswith("t3.")} == {
        k: v for k, v in values.items() if k.startswith("t3.")
    }
    (f,) = [f for f in unit.findings if f.rule == "READ.other_year"]
    assert "隐藏的工作表“表三（初稿）”中另有一份表三" in f.message and "取自工作表“表三”" in f.message
    assert not [f for f in unit.findings if f.rule == "READ.ambiguous_table"]
    if fmt is None:  # shown again: nothing tells the two apart
        wb = load_workbook(path)
        wb["表三（初稿）"].sheet_state = "visible"
        wb.save(path)
        assert [f.rule for f in read_workbook(path).findings if f.rule == "READ.ambiguous_table"] == [
            "READ.ambiguous_table"
        ]


@pytest.mark.parametrize(
    "above,unit_name", [("某某市某某区教育局", "某某市某某区教育局"), ("附件2", None), ("附件", None)]
)
def test_a_title_set_as_two_lines_takes_the_unit_from_the_line_above(tmp_path, above, unit_name):
    values = consistent_2021(13)
    path = write_official_2021(tmp_path / "报表.xlsx", values, "", 2025, title="2025年政府信息公开工作年度报告")
    wb = load_workbook(path)
    ws = wb.active
    ws.cell(2, 1).value, ws.cell(1, 1).value = ws.cell(1, 1).value, above  # row 2 is blank above the tables
    wb.save(path)
    unit = read_workbook(path)
    assert (unit.unit, unit.year) == (unit_name, 2025)
    assert {k: unit.values[k] for k in values} == values
    # taken from the layout, not written as the name: said
    said = [f for f in unit.findings if f.rule == "READ.unit" and "标题上一行" in f.message]
    assert [(f.actual, f.cells[0]) for f in said] == ([(unit_name, "年报表格!A1")] if unit_name else [])


def test_a_filler_line_with_the_seals_place(tmp_path):
    values = consistent_2021(14)
    path = write_official_2021(tmp_path / "报表.xlsx", values, "", 2025, title="2025年政府信息公开工作年度报告统计表")
    wb = load_workbook(path)
    wb.active.cell(2, 1).value = "填报单位（盖章）：某某区教育局"
    wb.save(path)
    unit = read_workbook(path)
    assert (unit.unit, unit.year) == ("某某区教育局", 2025)
    assert {k: unit.values[k] for k in values} == values
