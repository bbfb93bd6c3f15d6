"""Reading workbooks by their labels: our templates, pasted official layouts, seed-style sheets."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from conftest import needs_soffice
from gkreport.errors import ReadError
from gkreport.reader import parse_value, read_workbook
from gkreport.samples import SEED_VALUES_2017
from gkreport.spec import load_form, load_forms
from gkreport.spec.layout import build_grid as grid
from gkreport.template import sheet_name, write_template
from official_layout import random_2021_values, soffice_convert, write_official_2021

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


@pytest.mark.parametrize(
    "name,content,fragment",
    [
        ("empty.xlsx", b"", "空文件"),
        ("text.xlsx", "这不是表格".encode(), "不是有效的"),
        ("notes.txt", b"abc", "不是支持的表格格式"),
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
