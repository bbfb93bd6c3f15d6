"""Styled .xlsx output: per-unit workbook and summary workbook.

The tables are read back by their labels (row labels, stacked column headers,
block captions, list indentation), never by the positions the writer used, so
a value in the wrong place fails even if the writer is self-consistent.
"""

from __future__ import annotations

import gc
import itertools
import os
import random
import re
import shutil
import subprocess
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import make_unit, needs_soffice
from gkreport.model import ERROR, WARNING, Finding, Unit
from gkreport.pdf import FONTCONFIG_DIR
from gkreport.spec import Table, load_form
from gkreport.spec.layout import build_grid as grid
from gkreport.xlsx_out import (
    group_units,
    mismatch_messages,
    summary_table_sheets,
    summary_xlsx_name,
    unit_xlsx_name,
    write_summaries,
    write_summary_xlsx,
    write_unit_xlsx,
)

FORMS = ("2017", "2019", "2021")
# CJK font aliases for the render (宋体/黑体 → Noto CJK), as the package ships them
FONTCONFIG = FONTCONFIG_DIR

ERROR_FILLS = {"FFFFC7CE", "FFFF7C80"}
WARNING_FILLS = {"FFFFF2CC", "FFFFD966"}
SUSPECT_FILLS = {"FFFF7C80", "FFFFD966"}

# --------------------------------------------------------------------------- building units


def random_unit(
    form_id: str = "2021",
    name: str = "某某区某某局",
    year: int = 2025,
    seed: int = 1,
    blank: float = 0.1,
    findings: bool = True,
) -> Unit:
    rnd = random.Random(seed)
    form = load_form(form_id)
    values: dict[str, object] = {}
    for cid, c in form.cells.items():
        if c.optional:
            continue
        roll = rnd.random()
        if roll < blank:
            values[cid] = None
        elif roll < blank + 0.1:
            values[cid] = Decimal(0) if c.type == "decimal" else 0
        elif c.type == "decimal":
            values[cid] = Decimal(rnd.randint(0, 10**7)).scaleb(-rnd.randint(0, 6))
        elif c.type == "signed_int":
            values[cid] = rnd.randint(-60, 60)
        else:
            values[cid] = rnd.randint(0, 400)
    locations = {
        cid: (form.tables[c.table].title_for(year), f"D{i + 5}") for i, (cid, c) in enumerate(form.cells.items())
    }
    unit = make_unit(
        form,
        values,
        fill=None,
        name=name,
        year=year,
        file=f"{name}.xlsx",
        meta={"contact": "张三", "phone": "0533-1234567", "date_filled": date(2026, 1, 20)},
        narrative={
            "overview": "第一段：总体情况。\n第二段：" + "主动公开工作有序推进。" * 20,
            "problems": "存在的问题。",
        },
        locations=locations,
        meta_locations={"phone": ("基本信息", "B8"), "contact": ("基本信息", "B7")},
    )
    if findings:
        ids = [c for c in form.cells if not form.cells[c].optional]
        a, b, c = ids[0], ids[1], ids[5]
        unit.findings = [
            Finding(
                rule="A1",
                severity=ERROR,
                message=f"{a} 与 {b} 不符：应为 21，实际 12",
                table=form.cells[a].table,
                cells=(unit.ref(a), unit.ref(b)),
                cell_ids=(a, b),
                expected=21,
                actual=12,
                suspect=a,
                suggestion=21,
                note="疑似数字颠倒：12 → 21",
            ),
            Finding(
                rule="W3",
                severity=WARNING,
                message=f"{c} 数值异常偏大",
                table=form.cells[c].table,
                cell_ids=(c,),
                suspect=c,
                actual=values.get(c),
            ),
            Finding(
                rule="A2",
                severity=ERROR,
                message=f"{b} 还与另一项不符",
                table=form.cells[b].table,
                cell_ids=(b,),
                expected=3,
                actual=values.get(b),
            ),
            Finding(
                rule="READ.meta",
                severity=WARNING,
                message="联系电话格式不正确",
                cells=("基本信息!B8",),
                actual="0533-1234567",
            ),
            Finding(rule="X9", severity=WARNING, message="报告正文缺少收费情况", table=None),
        ]
    return unit


def random_units(form_id: str, n: int, seed: int, blank: float = 0.2) -> list[Unit]:
    return [
        random_unit(form_id, f"单位{seed}-{i}", seed=seed * 100 + i, blank=blank, findings=(i % 2 == 0))
        for i in range(n)
    ]


# --------------------------------------------------------------------------- reading tables back by label


def _merged(ws) -> dict[tuple[int, int], tuple[int, int]]:
    out = {}
    for rng in ws.merged_cells.ranges:
        for r in range(rng.min_row, rng.max_row + 1):
            for c in range(rng.min_col, rng.max_col + 1):
                out[(r, c)] = (rng.min_row, rng.min_col)
    return out


def _text(ws, mm, r: int, c: int):
    return ws.cell(*mm.get((r, c), (r, c))).value


def _chain(texts) -> tuple[str, ...]:
    out: list[str] = []
    for t in texts:
        if t not in (None, "") and (not out or out[-1] != t):
            out.append(t)
    return tuple(out)


def _node_chain(nodes, nid) -> tuple[str, ...]:
    labels = []
    while nid:
        labels.append(nodes[nid].label)
        nid = nodes[nid].parent
    return tuple(x for x in reversed(labels) if x)


def _find_row(ws, text: str, start: int = 1) -> int:
    for r in range(start, ws.max_row + 1):
        if ws.cell(r, 1).value == text:
            return r
    raise AssertionError(f"“{text}” not found in column A of {ws.title}")


def grid_top(ws, table: Table, start: int = 1) -> int:
    """Row (1-based) where the table's official grid starts: found by its first text."""
    g = grid(table)
    first = next(c for c in g.cells if c.row == 0 and c.col == 0)
    return _find_row(ws, first.text, start)


def read_table(ws, table: Table, top: int) -> dict[str, tuple[int, int]]:
    """Cell id → (row, col) found by the official labels around each value cell."""
    mm = _merged(ws)
    by_chain = {
        (_node_chain(table.rows, c.row), _node_chain(table.columns, c.column)): cid for cid, c in table.cells.items()
    }
    found: dict[str, tuple[int, int]] = {}
    n_values = len(table.value_columns())

    def take(r: int, c: int, rchain, cchain) -> None:
        if mm.get((r, c), (r, c)) != (r, c):
            return  # hidden under a merged value cell
        cid = by_chain.get((rchain, cchain))
        assert cid is not None, f"{ws.title}!{r},{c}: no cell for {rchain} × {cchain}"
        assert cid not in found, f"{cid} appears twice"
        found[cid] = (r, c)

    if table.layout == "tree":
        depth = table.header_depth()
        label_cols = table.row_depth() if any(n.label for n in table.rows.values()) else 0
        lines = sum(1 for n in table.rows.values() if not n.children)
        for r in range(top + depth, top + depth + lines):
            rchain = _chain(_text(ws, mm, r, c) for c in range(1, label_cols + 1))
            for c in range(label_cols + 1, label_cols + n_values + 1):
                take(r, c, rchain, _chain(_text(ws, mm, h, c) for h in range(top, top + depth)))
    elif table.layout == "blocks":
        r = top
        for g in (n for n in table.rows.values() if n.parent is None):
            assert ws.cell(r, 1).value == g.label
            header = r + 1
            assert ws.cell(header, 1).value == table.label_header
            members = [table.rows[k] for k in g.children] or [g]
            for i in range(len(members)):
                row = header + 1 + i
                width = max(len(table.row_columns(m.id)) for m in members)
                for c in range(2, 2 + width):
                    if ws.cell(row, c).value is None and mm.get((row, c), (row, c)) != (row, c):
                        continue
                    take(row, c, (g.label, ws.cell(row, 1).value), _chain([_text(ws, mm, header, c)]))
            r = header + 1 + len(members)
    else:  # list: 统计指标 | 单位 | 统计数, the row tree shown by indentation
        heads = {c: ws.cell(top, c).value for c in range(1, 2 + n_values + 1)}
        value_cols = [c for c, h in heads.items() if h in {n.label for n in table.value_columns()}]
        stack: list[str] = []
        for r in range(top + 1, top + 1 + len(table.rows)):
            label = ws.cell(r, 1).value
            level = int(ws.cell(r, 1).alignment.indent or 0)
            stack = stack[:level] + [label]
            node = next(n for n in table.rows.values() if _node_chain(table.rows, n.id) == tuple(stack))
            if not node.has_value:
                assert all(ws.cell(r, c).value is None for c in value_cols)
                continue
            for c in value_cols:
                take(r, c, tuple(stack), (heads[c],))
    return found


def same_number(cell_value, expected) -> bool:
    if expected is None:
        return cell_value is None
    if isinstance(expected, Decimal):
        return isinstance(cell_value, (int, float)) and Decimal(repr(float(cell_value))) == expected
    return cell_value == expected and isinstance(cell_value, (int, float))


def table_sheets(wb, unit: Unit) -> dict[str, object]:
    return {tid: wb[t.title_for(unit.year)[:31]] for tid, t in unit.form.tables.items()}


# --------------------------------------------------------------------------- per-unit workbook


@pytest.fixture(scope="module")
def unit_books(tmp_path_factory) -> dict[str, tuple[Unit, Path]]:
    out = {}
    folder = tmp_path_factory.mktemp("units")
    for fid in FORMS:
        u = random_unit(fid, seed=int(fid))
        out[fid] = (u, write_unit_xlsx(u, folder / fid / unit_xlsx_name(u)))
    return out


@pytest.mark.parametrize("fid", FORMS)
def test_values_by_official_label(unit_books, fid):
    unit, path = unit_books[fid]
    wb = openpyxl.load_workbook(path)
    for tid, ws in table_sheets(wb, unit).items():
        table = unit.form.tables[tid]
        found = read_table(ws, table, grid_top(ws, table))
        assert set(found) == set(grid(table).value_pos), "every official cell is shown once"
        for cid, (r, c) in found.items():
            cell = ws.cell(r, c)
            assert same_number(cell.value, unit.values.get(cid)), (cid, cell.value, unit.values.get(cid))
            v = unit.values.get(cid)
            if isinstance(v, Decimal):  # 万元 with the decimals entered
                places = max(0, -v.as_tuple().exponent)
                assert cell.number_format == ("0" if places == 0 else "0." + "0" * places)
            elif v is not None:
                assert cell.number_format in ("0", "0;-0;0")


@pytest.mark.parametrize("fid", FORMS)
def test_merged_headers_match_official_layout(unit_books, fid):
    unit, path = unit_books[fid]
    wb = openpyxl.load_workbook(path)
    for tid, ws in table_sheets(wb, unit).items():
        table = unit.form.tables[tid]
        g = grid(table)
        top = grid_top(ws, table)
        want = {(top + c.row, c.col + 1, top + c.row + c.rowspan - 1, c.col + c.colspan) for c in g.cells if c.merged}
        have = {
            (m.min_row, m.min_col, m.max_row, m.max_col)
            for m in ws.merged_cells.ranges
            if top <= m.min_row < top + g.n_rows
        }
        assert have == want
        for c in g.cells:  # header texts and fonts
            cell = ws.cell(top + c.row, c.col + 1)
            if c.kind in ("header", "corner", "caption", "label"):
                assert cell.value == (c.text or None)
            if c.kind == "header":
                assert cell.font.name == "黑体"
            if c.kind in ("label", "value"):
                assert cell.font.name == "宋体"
                assert cell.border.left.style is not None


@pytest.mark.parametrize("fid", FORMS)
def test_page_setup_and_freeze(unit_books, fid):
    unit, path = unit_books[fid]
    wb = openpyxl.load_workbook(path)
    for tid, ws in table_sheets(wb, unit).items():
        table = unit.form.tables[tid]
        g = grid(table)
        top = grid_top(ws, table)
        assert ws.freeze_panes == ws.cell(top + g.header_rows, g.label_cols + 1).coordinate
        assert ws.page_setup.paperSize == 9
        # fit all columns on the page width (fitToWidth defaults to 1 when absent), any number of pages down
        assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth in (None, 1)
        assert ws.page_setup.fitToHeight == 0
        if g.header_rows:
            assert ws.print_title_rows == f"${top}:${top + g.header_rows - 1}"
        footer = ws.oddFooter.left.text + ws.oddFooter.right.text
        assert unit.unit in footer and str(unit.year) in footer and "&P" in footer


@pytest.mark.parametrize("fid", FORMS)
def test_findings_highlighted_and_commented(unit_books, fid):
    unit, path = unit_books[fid]
    wb = openpyxl.load_workbook(path)
    where = {}
    for tid, ws in table_sheets(wb, unit).items():
        for cid, rc in read_table(ws, unit.form.tables[tid], grid_top(ws, unit.form.tables[tid])).items():
            where[cid] = (ws, rc)
    involved = set()
    for f in unit.findings:
        for cid in set(f.cell_ids) | ({f.suspect} - {None}):
            ws, (r, c) = where[cid]
            cell = ws.cell(r, c)
            fill = cell.fill.fgColor.rgb
            if f.severity == ERROR:
                assert fill in ERROR_FILLS, (cid, fill)
            else:
                assert fill in ERROR_FILLS | WARNING_FILLS
            if cid == f.suspect:
                assert fill in SUSPECT_FILLS and cell.font.b and cell.border.left.style == "medium"
            assert cell.comment is not None and f.message in cell.comment.text
            if f.expected is not None:
                assert f"应为：{f.expected}" in cell.comment.text
            if f.suggestion is not None:
                assert str(f.suggestion) in cell.comment.text
            involved.add(cid)
    for cid, (ws, (r, c)) in where.items():  # and nothing else is marked
        if cid not in involved:
            cell = ws.cell(r, c)
            assert cell.comment is None and cell.fill.fgColor.rgb not in ERROR_FILLS | WARNING_FILLS
    # a cell in two findings carries both messages
    b = unit.findings[0].cell_ids[1]
    ws, (r, c) = where[b]
    assert unit.findings[0].message in ws.cell(r, c).comment.text
    assert unit.findings[2].message in ws.cell(r, c).comment.text
    assert ws.cell(r, c).fill.fgColor.rgb == "FFFFC7CE"


def _link_target(wb, cell):
    loc = cell.hyperlink.location
    sheet, _, ref = loc.rpartition("!")
    return wb[sheet.strip("'").replace("''", "'")][ref]


@pytest.mark.parametrize("fid", FORMS)
def test_findings_sheet(unit_books, fid):
    unit, path = unit_books[fid]
    wb = openpyxl.load_workbook(path)
    ws = wb["审核结果"]
    head = [c.value for c in ws[2]]
    assert head[:7] == ["序号", "级别", "问题", "表", "行", "列", "单元格"]
    assert {"应为", "实际", "问题说明", "建议", "审核说明", "编号", "核对码"} <= set(head)
    assert ws.column_dimensions[openpyxl.utils.get_column_letter(head.index("核对码") + 1)].hidden
    rows = [r for r in ws.iter_rows(min_row=3) if r[0].value is not None]
    assert len(rows) == len(unit.findings)
    assert ws.auto_filter.ref == f"A2:{openpyxl.utils.get_column_letter(len(head))}{len(rows) + 2}"
    col = {h: i for i, h in enumerate(head)}
    by_message = {f.message: f for f in unit.findings}
    assert [r[col["级别"]].value for r in rows] == sorted(
        (r[col["级别"]].value for r in rows), key=lambda s: s != "错误"
    )
    for r in rows:
        f = by_message[r[col["问题说明"]].value]
        # the catalogue's titles, not the internal ids; a wrong cell breaking two rules names both
        assert f.title in r[col["问题"]].value.split("、") and f.title != f.rule
        assert r[col["编号"]].value == "、".join(f.rules)
        assert r[col["级别"]].value == ("错误" if f.severity == ERROR else "提示")
        link = r[col["单元格"]]
        if f.cell_ids or f.cells:
            target = _link_target(wb, link)  # the link works: it lands on the marked cell
            assert target.comment is not None and f.message in target.comment.text
        else:
            assert link.hyperlink is None
        if f.expected is not None:
            assert r[col["应为"]].value == f.expected
        if f.suggestion is not None:
            assert str(f.suggestion) in r[col["建议"]].value
        if f.suspect:
            cell = unit.form.cell(f.suspect)
            t = unit.form.tables[cell.table]
            assert r[col["行"]].value == t.row_path(cell.row)
            assert r[col["列"]].value == t.column_path(cell.column)


def test_info_sheet(unit_books):
    unit, path = unit_books["2021"]
    wb = openpyxl.load_workbook(path)
    ws = wb["基本信息"]
    rows = {r[0].value: r[1] for r in ws.iter_rows(min_row=3) if r[0].value}
    assert rows["单位名称"].value == unit.unit
    assert rows["联系人"].value == "张三"
    assert rows["填报日期"].value.date() == date(2026, 1, 20)
    phone = rows["联系电话"]  # named by its input reference in a finding
    assert phone.value == "0533-1234567" and phone.comment and "联系电话格式不正确" in phone.comment.text
    assert phone.fill.fgColor.rgb in WARNING_FILLS
    texts = [c.value for c in ws["B"] if c.value]
    for para in unit.narrative["overview"].split("\n") + [unit.narrative["problems"]]:
        assert para in texts


def test_proposal_for_blank_total(tmp_path):
    unit = random_unit("2021", findings=False)
    cid = "t3.new.total"
    unit.values[cid] = None
    unit.findings = [
        Finding(
            rule="A1",
            severity=WARNING,
            message="总计空白，按各项之和应为 37",
            table="t3",
            cell_ids=(cid, "t3.new.natural"),
            suspect=cid,
            suggestion=37,
            proposal=True,
        )
    ]
    wb = openpyxl.load_workbook(write_unit_xlsx(unit, tmp_path / "p.xlsx"))
    ws = wb["三、收到和处理政府信息公开申请情况"]
    (r, c) = read_table(ws, unit.form.tables["t3"], grid_top(ws, unit.form.tables["t3"]))[cid]
    cell = ws.cell(r, c)
    assert cell.value == "建议 37"  # text, so that it is never taken for a number read
    assert cell.font.i and cell.font.color.rgb == "FF1F4E79"
    assert "建议值：37" in cell.comment.text and "仅供参考" in cell.comment.text
    assert "建议值 37" in [x.value for x in wb["审核结果"][3]][11]


def test_candidates_marked_when_no_single_suspect(tmp_path):
    unit = random_unit("2021", findings=False)
    cands = ("t4.cases.review_upheld", "t4.cases.review_total")
    f = Finding(
        rule="t4.csum",
        severity=ERROR,
        message="行政复议总计与各项之和不符",
        table="t4",
        cell_ids=("t4.cases.review_total", "t4.cases.review_upheld", "t4.cases.review_corrected"),
    )
    f.candidates = cands  # field of newer models; set as attribute so older ones work too
    unit.findings = [f]
    wb = openpyxl.load_workbook(write_unit_xlsx(unit, tmp_path / "c.xlsx"))
    ws = wb["四、政府信息公开行政复议、行政诉讼情况"]
    found = read_table(ws, unit.form.tables["t4"], grid_top(ws, unit.form.tables["t4"]))
    for cid in cands:
        cell = ws.cell(*found[cid])
        assert cell.fill.fgColor.rgb == "FFFF7C80" and cell.border.left.style == "medium"
        assert "可能出错的单元格（其中之一）" in cell.comment.text
    assert ws.cell(*found["t4.cases.review_corrected"]).fill.fgColor.rgb == "FFFFC7CE"
    link = next(wb["审核结果"].iter_rows(min_row=3))[6]
    assert _link_target(wb, link).coordinate == ws.cell(*found[cands[0]]).coordinate


def test_one_wrong_cell_breaking_two_rules_is_one_row_and_comments_every_cell(tmp_path):
    """After grouping: the suspect's comment leads with its correction and states both broken
    rules; every cell of either rule is marked and commented; 审核结果 has one row naming both rules."""
    from conftest import unit_2021
    from gkreport.checks import check_unit

    unit = unit_2021(narrative={})
    unit.values["t3.disclosed.natural"] = 60  # was 6
    check_unit(unit)
    (f,) = unit.errors
    wb = openpyxl.load_workbook(write_unit_xlsx(unit, tmp_path / "g.xlsx"))
    ws = wb["三、收到和处理政府信息公开申请情况"]
    found = read_table(ws, unit.form.tables["t3"], grid_top(ws, unit.form.tables["t3"]))
    suspect = ws.cell(*found["t3.disclosed.natural"])
    assert suspect.fill.fgColor.rgb == "FFFF7C80" and suspect.font.b
    assert "【错误】列合计不符、行合计不符：" in suspect.comment.text  # the titles of both rules
    assert "这一格使 2 条规则不成立" in suspect.comment.text and "建议：将本单元格改为 6" in suspect.comment.text
    assert suspect.comment.text.count("【错误】") == 1  # one error, not one per rule
    for g in f.grouped:
        for cid in g.cell_ids:
            cell = ws.cell(*found[cid])
            assert cell.fill.fgColor.rgb in ERROR_FILLS and g.message.split("。")[0] in cell.comment.text
    rows = [r for r in wb["审核结果"].iter_rows(min_row=3) if r[0].value is not None]
    errors = [r for r in rows if r[1].value == "错误"]
    head = [c.value for c in wb["审核结果"][2]]
    assert len(errors) == 1 and errors[0][2].value == "列合计不符、行合计不符"
    assert errors[0][head.index("编号")].value == "t3.rsum.total.natural、t3.csum.disclosed.total"
    assert "审核结论" in [c.value for c in wb["基本信息"]["A"]]
    assert any("错误 1 条" in str(c.value) for c in wb["基本信息"]["B"])


def test_a_number_in_the_text_marks_its_paragraph_in_the_info_sheet(tmp_path):
    from conftest import NARRATIVE_2021, unit_2021
    from gkreport.checks import check_unit

    text = "本机关深入推进政务公开。\n全年共收到政府信息公开申请15件，上年结转1件。\n下一步将继续努力。"
    unit = unit_2021(narrative={**NARRATIVE_2021, "overview": text})
    unit.narrative_locations = {"overview": ("基本信息", "B20")}
    check_unit(unit)
    (f,) = [f for f in unit.findings if f.rule == "A8.received"]
    wb = openpyxl.load_workbook(write_unit_xlsx(unit, tmp_path / "n.xlsx"))
    ws = wb["基本信息"]
    rows = {c.value: c for c in ws["B"] if c.value in text.split("\n")}
    first, second, third = (rows[p] for p in text.split("\n"))
    assert second.fill.fgColor.rgb in WARNING_FILLS and f.message in second.comment.text
    for other in (first, third):
        assert other.comment is None and other.fill.fgColor.rgb not in WARNING_FILLS | ERROR_FILLS
    link = next(r for r in wb["审核结果"].iter_rows(min_row=3) if r[10].value == f.message)[6]
    assert _link_target(wb, link).coordinate == second.coordinate


def test_blank_is_not_zero_and_off_grid_subtotal(tmp_path):
    unit = random_unit("2021", findings=False, blank=0.0)
    unit.values["t3.new.natural"] = 0
    unit.values["t3.new.business"] = None
    unit.values["t3.withheld.total"] = 9  # a subtotal row some local layouts add
    unit.findings = [
        Finding(
            rule="S1",
            severity=ERROR,
            message="不予公开小计与各项之和不符",
            table="t3",
            cell_ids=("t3.withheld.total",),
            suspect="t3.withheld.total",
        )
    ]
    wb = openpyxl.load_workbook(write_unit_xlsx(unit, tmp_path / "z.xlsx"))
    ws = wb["三、收到和处理政府信息公开申请情况"]
    found = read_table(ws, unit.form.tables["t3"], grid_top(ws, unit.form.tables["t3"]))
    assert ws.cell(*found["t3.new.natural"]).value == 0
    assert ws.cell(*found["t3.new.business"]).value is None
    row = _find_row(ws, "三、本年度办理结果／（三）不予公开（小计）")
    col = found["t3.new.total"][1]
    assert ws.cell(row, col).value == 9 and "不予公开小计" in ws.cell(row, col).comment.text
    link = next(wb["审核结果"].iter_rows(min_row=3))[6]
    assert _link_target(wb, link).coordinate == ws.cell(row, col).coordinate


def test_text_is_never_a_formula(tmp_path):
    unit = random_unit("2021", name='=HYPERLINK("http://evil","x")', findings=False)
    unit.meta["contact"] = "=1+1"
    unit.meta["email"] = "http://example.com"
    unit.narrative["overview"] = "=SUM(A1:A9)\n@cmd|' /C calc'!A0\n含控制字符\x07的段落"
    unit.findings = [Finding(rule="X", severity=ERROR, message="=2+2", cell_ids=("t3.new.total",))]
    path = write_unit_xlsx(unit, tmp_path / "f.xlsx")
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/sheet"):
                xml = z.read(name).decode()
                assert "<f>" not in xml and "<f " not in xml
        rels = "".join(z.read(n).decode() for n in z.namelist() if n.endswith(".rels"))
        assert "http://example.com" not in rels and "evil" not in rels
    wb = openpyxl.load_workbook(path)
    info = {r[0].value: r[1].value for r in wb["基本信息"].iter_rows(min_row=3) if r[0].value}
    assert info["联系人"] == "=1+1" and info["单位名称"] == unit.unit
    texts = [c.value for c in wb["基本信息"]["B"] if c.value]
    assert "=SUM(A1:A9)" in texts and "含控制字符的段落" in texts
    assert wb["审核结果"]["K3"].value == "=2+2"


def test_unit_xlsx_name():
    u = random_unit("2021", name='某某区/某某局:*?"<>|\x01', findings=False)
    name = unit_xlsx_name(u)
    assert name.endswith("2025年政府信息公开工作年度报告表格.xlsx")
    assert not re.search(r'[/\\:*?"<>|\x00-\x1f]', name)
    u = random_unit("2017", name="...某局", year=2017, findings=False)
    assert unit_xlsx_name(u) == "某局2017年政府信息公开工作情况统计表.xlsx"
    u = random_unit("2021", name="很长的单位名称" * 40, findings=False)
    long = unit_xlsx_name(u)
    assert len(long.encode()) <= 200 and long.endswith(".xlsx")
    u2 = random_unit("2021", name="很长的单位名称" * 40 + "甲", findings=False)
    assert unit_xlsx_name(u2) != long  # truncated names stay distinct
    u.unit, u.year = None, None
    assert unit_xlsx_name(u) == "未知单位政府信息公开工作年度报告表格（年度不明）.xlsx"


def test_write_is_atomic_and_leaves_no_temp(tmp_path):
    unit = random_unit("2019", findings=True)
    path = tmp_path / "out" / unit_xlsx_name(unit)
    write_unit_xlsx(unit, path)
    write_unit_xlsx(unit, path)  # overwrite in place
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_sample_workbooks_round_trip(tmp_path):
    """The shipped samples, read and checked by the pipeline, written and read back by label."""
    from gkreport.pipeline import check_files

    samples = sorted((Path(__file__).resolve().parents[1] / "input_templates" / "samples").glob("*.xlsx"))
    result = check_files(samples)
    assert result.units and not result.failures
    for unit in result.units:
        wb = openpyxl.load_workbook(write_unit_xlsx(unit, tmp_path / unit_xlsx_name(unit)))
        for tid, ws in table_sheets(wb, unit).items():
            table = unit.form.tables[tid]
            for cid, (r, c) in read_table(ws, table, grid_top(ws, table)).items():
                cell = ws.cell(r, c)
                if isinstance(cell.value, str):  # a proposal for a blank cell
                    assert unit.values.get(cid) is None and cell.value.startswith("建议 ")
                else:
                    assert same_number(cell.value, unit.values.get(cid)), (unit.file.name, cid)
        findings = [r for r in wb["审核结果"].iter_rows(min_row=3) if r[0].value is not None]
        assert len(findings) == len(unit.findings)


# --------------------------------------------------------------------------- sums


def read_summary_tables(wb, form, year) -> dict[str, object]:
    out = {}
    for tid, sheet in summary_table_sheets(form).items():
        ws = wb[sheet]
        t = form.tables[tid]
        assert ws["A1"].value == t.title_for(year)
        for cid, (r, c) in read_table(ws, t, grid_top(ws, t)).items():
            out[cid] = ws.cell(r, c).value
    return out


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fid=st.sampled_from(FORMS), n=st.integers(1, 4), seed=st.integers(0, 10**6), blank=st.floats(0, 0.6))
def test_summary_table_is_sum_of_units(tmp_path, fid, n, seed, blank):
    units = random_units(fid, n, seed, blank)
    path = write_summary_xlsx(units, tmp_path / f"s{fid}-{seed}.xlsx")
    wb = openpyxl.load_workbook(path)
    shown = read_summary_tables(wb, units[0].form, 2025)
    for cid, v in shown.items():
        present = [u.values[cid] for u in units if u.values.get(cid) is not None]
        assert same_number(v, sum(present) if present else None), (cid, v, present)
    # 分单位明细: one row per unit, one column per indicator, the total in the last row
    ws = wb["分单位明细"]
    form = units[0].form
    columns = detail_columns(ws, form, 2025)
    grid_ids = [cid for t in form.tables.values() for cid in grid(t).value_pos]
    assert sorted(columns.values()) == sorted(grid_ids)  # every official cell once, no blank off-grid cell
    names = [ws.cell(r, 1).value for r in range(4, ws.max_row + 1)]
    assert names == [u.unit for u in units] + ["合计"]
    for c, cid in columns.items():
        for j, u in enumerate(units):
            assert same_number(ws.cell(4 + j, c).value, u.values.get(cid)), (cid, u.unit)
        present = [u.values[cid] for u in units if u.values.get(cid) is not None]
        assert same_number(ws.cell(ws.max_row, c).value, sum(present) if present else None)


def detail_columns(ws, form, year) -> dict[int, str]:
    """Column (1-based) of 分单位明细 → cell id, found from the three header rows: the table
    title, the row label and the column label (merged cells read at their top left)."""
    mm = _merged(ws)
    assert _text(ws, mm, 1, 1) == _text(ws, mm, 3, 1) == "单位"
    want = {}
    for cid, cell in form.cells.items():
        t = form.tables[cell.table]
        row, col = t.row_path(cell.row).replace("/", "／"), t.column_path(cell.column).replace("/", "／")
        if len(t.value_columns()) <= 1:
            upper, _, lower = row.partition("／")
            keys = [(upper, lower)] if lower else [(upper, "总数"), (upper, upper)]  # a section's own figure
        elif row:
            leaves = [c.label for c in t.value_columns()]
            own = t.columns[cell.column].label.replace("/", "／")
            keys = [(row, own if len(set(leaves)) == len(leaves) else col)]
        else:
            head, _, tail = col.rpartition("／")
            keys = [(head, tail)]
        for key in keys:
            want[(t.title_for(year), *key)] = cid
    out = {}
    for c in range(2, ws.max_column + 1):
        title, upper, lower = (str(_text(ws, mm, r, c)).removesuffix("（续）") for r in (1, 2, 3))
        out[c] = want[(title, upper, lower)]
    return out


@pytest.fixture(scope="module")
def summary_book(tmp_path_factory):
    units = random_units("2021", 4, 7)
    bad = [("坏文件.xlsx", "坏文件.xlsx 不是有效的 Excel 文件（文件已损坏或不是工作簿），无法读取。")]
    path = write_summary_xlsx(units, tmp_path_factory.mktemp("sum") / summary_xlsx_name(2025), bad)
    return units, bad, path


def test_summary_findings_and_status(summary_book):
    units, bad, path = summary_book
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == [
        "汇总表（二）",
        "汇总表（三）",
        "汇总表（四）",
        "分单位明细",
        "分单位图表",
        "审核结果",
        "报送情况",
    ]
    ws = wb["审核结果"]
    head = [c.value for c in ws[2]]
    col = {h: i for i, h in enumerate(head)}
    rows = [r for r in ws.iter_rows(min_row=3) if r[0].value is not None]
    assert len(rows) == sum(len(u.findings) for u in units)
    assert ws.auto_filter.ref.startswith("A2:")
    detail = wb["分单位明细"]
    for r in rows:
        link = r[col["单元格"]]
        assert link.hyperlink is not None
        target = _link_target(wb, link)
        assert target.parent.title == "分单位明细"
        u = next(u for u in units if u.unit == r[col["单位"]].value)
        f = next(f for f in u.findings if f.message == r[col["问题说明"]].value)
        if f.cell_ids:
            assert f.message in target.comment.text
            assert detail.cell(target.row, 1).value == u.unit  # the unit's own row
    status = wb["报送情况"]
    head = [c.value for c in status[2]]
    assert head[:9] == ["序号", "文件", "单位", "表样", "年度", "状态", "错误数", "提示数", "计入汇总"]
    srows = [[c.value for c in r] for r in status.iter_rows(min_row=3) if r[0].value is not None]
    assert len(srows) == len(units) + 1
    for u, row in zip(units, srows):
        assert row[1:6] == [u.file.name, u.unit, u.form.short_name, 2025, u.status]
        assert row[6:9] == [len(u.errors), len(u.warnings), "是"]
    assert srows[-1][1] == "坏文件.xlsx" and srows[-1][5] == "无法读取" and srows[-1][9] == bad[0][1]
    for u, r in zip(units, status.iter_rows(min_row=3)):  # 查看问题 links to the unit's first finding
        if u.findings:
            target = _link_target(wb, r[9])
            assert target.parent.title == "审核结果"
            assert ws.cell(target.row, col["单位"] + 1).value == u.unit
            assert ws.cell(target.row - 1, col["单位"] + 1).value != u.unit
        else:
            assert r[9].hyperlink is None
    assert status.auto_filter.ref is not None


def test_summary_chart_is_native(summary_book):
    """分单位图表: applications per unit stacked by outcome, largest first, from a table on the same sheet."""
    units, _, path = summary_book
    with zipfile.ZipFile(path) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
        assert len(charts) == 1, "one native chart part"
        xml = z.read(charts[0]).decode()
        assert not [n for n in z.namelist() if n.startswith("xl/media/")], "no images"
    assert "<c:barChart>" in xml and '<c:grouping val="stacked"/>' in xml and '<c:barDir val="bar"/>' in xml
    assert "分单位明细" not in xml and xml.count("<c:ser>") == 7  # six outcomes and 结转下年度继续办理
    ws = openpyxl.load_workbook(path)["分单位图表"]
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    head = next(i for i, r in enumerate(rows) if r[0] == "单位")
    labels = rows[head][1:8]
    assert labels == ["予以公开", "部分公开", "不予公开", "无法提供", "不予处理", "其他处理", "结转下年度继续办理"]
    assert rows[head][8] == "合计"
    table = [r for r in rows[head + 1 :] if r[0]]
    assert sorted(r[0] for r in table) == sorted(u.unit for u in units)
    totals = [r[8] for r in table]
    assert totals == sorted(totals, reverse=True)  # largest first
    for r in table:
        u = next(u for u in units if u.unit == r[0])
        assert r[8] == sum(r[1:8])
        total = u.values["t3.next.total"]
        applicants = ("natural", "business", "research", "social", "legal_service", "org_other")
        if total is None:  # a blank 总计 counts as the sum of the applicant columns
            total = sum(u.values[f"t3.next.{c}"] or 0 for c in applicants)
        assert r[7] == total
    assert f"分单位图表!$A${head + 2}:$A${head + 1 + len(table)}" in xml  # categories: the sorted unit names
    assert "各单位收到和处理政府信息公开申请情况" in xml


def test_mixed_forms_and_years(tmp_path):
    a = random_units("2021", 3, 1)
    b = [random_unit("2019", "旧表样单位", year=2025, seed=5)]
    c = [random_unit("2021", "上年单位", year=2024, seed=6)]
    with pytest.raises(ValueError, match="同一表样、同一年度"):
        write_summary_xlsx(a + b, tmp_path / "x.xlsx")
    groups = group_units(a + b + c)
    assert list(groups) == [("2021", 2025), ("2019", 2025), ("2021", 2024)]
    msgs = mismatch_messages(groups)
    assert len(msgs) == 3 and "旧表样单位" in msgs[1] and "上年单位" in msgs[2]
    paths = write_summaries(a + b + c, tmp_path, [("坏.xls", "无法读取：文件已加密")])
    names = sorted(p.name for p in paths)
    assert names == sorted([summary_xlsx_name(2025), summary_xlsx_name(2025, b[0].form), summary_xlsx_name(2024)])
    assert all(p.parent == tmp_path / "汇总" for p in paths)
    wb = openpyxl.load_workbook(paths[0])
    srows = [[c.value for c in r] for r in wb["报送情况"].iter_rows(min_row=3) if r[0].value is not None]
    assert [r[8] for r in srows] == ["是"] * 3 + ["否"] * 2 + ["否"]
    assert "另行汇总" in srows[3][9] and srows[-1][5] == "无法读取"
    shown = read_summary_tables(wb, a[0].form, 2025)
    assert shown["t3.new.total"] == sum(u.values["t3.new.total"] or 0 for u in a)
    only_failures = write_summaries([], tmp_path / "none", [("坏.xls", "无法读取")])
    assert openpyxl.load_workbook(only_failures[0]).sheetnames == ["审核结果", "报送情况"]


# --------------------------------------------------------------------------- LibreOffice render


@needs_soffice
def test_libreoffice_converts_both_workbooks(tmp_path, unit_books, summary_book):
    unit, unit_path = unit_books["2021"]
    _, _, sum_path = summary_book
    env = {**os.environ, "HOME": str(tmp_path)}
    if FONTCONFIG.is_dir():
        env.update(FONTCONFIG_PATH=str(FONTCONFIG), FONTCONFIG_FILE="fonts.conf")
    src = [shutil.copy(unit_path, tmp_path / "unit.xlsx"), shutil.copy(sum_path, tmp_path / "summary.xlsx")]
    proc = subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{tmp_path}/lo_profile",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path / "pdf"),
            *map(str, src),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    pdfs = {p.stem: p for p in (tmp_path / "pdf").glob("*.pdf")}
    assert set(pdfs) == {"unit", "summary"}
    if shutil.which("pdftotext") and shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(pdfs["unit"])], capture_output=True, text=True, check=True).stdout
        assert "(A4)" in info
        n_pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
        pages = [
            subprocess.run(
                ["pdftotext", "-f", str(i), "-l", str(i), "-layout", str(pdfs["unit"]), "-"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            for i in range(1, n_pages + 1)
        ]
        t3 = [p for p in pages if "一、本年新收政府信息公开申请数量" in p]
        assert len(t3) == 1, "table 三 on one page"
        # fit to page width: each row's label and all its numbers, up to the last column, on one line
        for rid in ("new", "next"):
            row = unit.form.tables["t3"].rows[rid]
            line = next(ln for ln in t3[0].splitlines() if row.label in ln)
            numbers = [
                str(unit.values[f"t3.{rid}.{c}"])
                for c in unit.form.tables["t3"].row_columns(rid)
                if unit.values[f"t3.{rid}.{c}"] is not None
            ]
            assert line.split(row.label, 1)[1].split() == numbers
        assert unit.unit in t3[0] and "第 " in t3[0]  # footer with unit and page number
        t4 = [p for p in pages if "复议后起诉" in p]
        assert len(t4) == 1 and "未经复议直接起诉" in t4[0] and "行政复议" in t4[0]


# --------------------------------------------------------------------------- printing


def _column_widths(ws) -> dict[int, float]:
    out = {}
    for dim in ws.column_dimensions.values():
        if dim.width and dim.min:
            for c in range(dim.min, (dim.max or dim.min) + 1):
                out[c] = dim.width
    return out


def test_summary_sheets_print_landscape_fitted(summary_book):
    units, _, path = summary_book
    wb = openpyxl.load_workbook(path)
    form = units[0].form
    for ws in wb.worksheets:
        ps = ws.page_setup
        assert ps.orientation == "landscape", ws.title
        assert ps.paperSize in (8, 9), ws.title  # A3 or A4
        if ws.title == "分单位明细":
            continue  # pages of indicators: see below
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ps.fitToWidth in (None, 1) and ps.fitToHeight == 0, ws.title  # one page wide, any number down
    for tid, sheet in summary_table_sheets(form).items():
        ws = wb[sheet]
        top = grid_top(ws, form.tables[tid])
        rows = grid(form.tables[tid]).header_rows
        assert ws.print_title_rows == (f"${top}:${top + rows - 1}" if rows else f"$1:${top - 1}")
    assert wb["审核结果"].print_title_rows == "$2:$2" and wb["报送情况"].print_title_rows == "$2:$2"
    # the findings list has two more columns than a unit's: it goes on A3 rather than shrink below 70 %
    assert wb["审核结果"].page_setup.paperSize == 8


@pytest.mark.parametrize("fid", FORMS)
def test_detail_sheet_prints_pages_of_indicators(tmp_path, fid):
    """分单位明细 on A3 landscape at 85 %: a page break before each page's first indicator so
    that each page (with the unit names repeated) fits the width; merged headers stop at the
    breaks and a table or row carried over is named again with （续）."""
    units = random_units(fid, 30, 11)
    ws = openpyxl.load_workbook(write_summary_xlsx(units, tmp_path / "s.xlsx"))["分单位明细"]
    ps = ws.page_setup
    assert (ps.orientation, ps.paperSize, ps.scale) == ("landscape", 8, 83)
    assert not ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_rows == "$1:$3" and ws.print_title_cols == "$A:$A"
    widths = _column_widths(ws)
    starts = [2] + sorted(b.id + 1 for b in ws.col_breaks.brk) + [ws.max_column + 1]
    assert len(starts) > 2  # more than one page wide
    for a, b in itertools.pairwise(starts):
        px = sum(widths[c] * 7 for c in [1, *range(a, b)])  # stored widths include the 5 px padding
        assert px * 0.83 <= (16.54 - 1.0) * 96, (a, b)
        assert ws.cell(1, a).value, "the table is named at the top of every page"
    for rng in ws.merged_cells.ranges:
        assert not any(rng.min_col < s <= rng.max_col for s in starts[1:-1]), f"{rng} crosses a page break"
    assert any(str(ws.cell(1, s).value).endswith("（续）") for s in starts[1:-1])


@pytest.mark.slow
@needs_soffice
def test_detail_sheet_of_30_units_prints_on_a_few_pages(tmp_path):
    """Rendered by LibreOffice: 分单位明细 of 30 units (2021 form, names of real length) takes 8 A3
    pages (it took 194 when each unit was a column); each page has every unit name and the total."""
    from gkreport.pdf import convert_to_pdf

    units = random_units("2021", 30, 5)
    places = ["东城区", "高新技术产业开发区", "经济开发区", "南湖新区", "北山县"]
    bodies = ["教育和体育局", "卫生健康委员会", "市场监督管理局", "住房和城乡建设局", "人力资源和社会保障局", "民政局"]
    for k, u in enumerate(units):
        u.unit = f"示例市{places[k % 5]}{bodies[k // 5]}"
    path = write_summary_xlsx(units, tmp_path / "summary.xlsx")
    pdf = convert_to_pdf([path], tmp_path / "pdf")[0]
    assert pdf is not None
    n = int(
        re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout)[1]
    )
    texts = [
        subprocess.run(
            ["pdftotext", "-f", str(i), "-l", str(i), "-layout", str(pdf), "-"], capture_output=True, text=True
        ).stdout
        for i in range(1, n + 1)
    ]
    detail = [t for t in texts if "分单位明细" in [ln for ln in t.splitlines() if ln.strip()][-1]]  # the footer
    assert 1 < len(detail) <= 9, len(detail)
    for t in detail:
        assert units[0].unit in t and units[-1].unit in t and "合计" in t


# --------------------------------------------------------------------------- the checked workbook is the next submission


def _submission(form_id: str, path: Path) -> tuple[Path, str]:
    """A filled template of the form, with what a real submission has besides clean numbers: a
    total left blank (the checked workbook proposes 建议 N there), a number with a note, an entry
    that is no number, paragraphs. Returns the file and the blank total's cell id."""
    from gkreport.livecheck import live_checks
    from gkreport.spec import compiled
    from gkreport.template import write_template

    form = load_form(form_id)
    grid_cells = {cid for t in form.tables.values() for cid in grid(t).value_pos}
    values: dict = {c: v for c, v in compiled(form).consistent_values(7).items() if c in grid_cells}
    checks = [c for c in live_checks(form, grid_cells) if c.kind == "sum"]
    blank = checks[0].target
    assert blank is not None
    values[blank] = None
    involved = {c for chk in checks[:1] for c in chk.cells}
    free = [c for c in values if c not in involved and form.cells[c].type == "int"]
    values[free[0]] = f"{values[free[0]]:.0f}（其中修订6件）"
    values[free[1]] = "约10"
    year = 2017 if form_id == "2017" else 2025
    meta = {"unit": "某某区某某局", "year": year, "date_written": date(year + 1, 1, 20), "contact_dept": "办公室"}
    narrative = {
        s.id: f"{s.heading}的第一段。\n第二段写明情况，共 3 项。"
        for s in form.sections
        if s.kind == "text" and s.required
    }
    return write_template(form, path, values, meta, narrative), blank


def _facts(unit: Unit) -> tuple:
    """What a unit submitted and what the checks say of it (positions aside: the layouts differ)."""
    fields = [f.id for f in unit.form.metadata]
    findings = sorted(
        (f.rule, f.severity, f.cell_ids, str(f.expected), str(f.actual), f.suspect, str(f.suggestion), f.proposal)
        for f in unit.findings
    )
    return (
        unit.unit,
        unit.year,
        dict(unit.values),
        dict(unit.notes),
        {k: unit.meta.get(k) for k in fields},
        dict(unit.narrative),
        findings,
    )


@pytest.mark.parametrize("fid", FORMS)
def test_checked_workbook_is_the_next_submission(tmp_path, fid):
    """submission → checked workbook → read again: the same values, notes, metadata, text and findings."""
    from gkreport import check_units, read_workbook

    sub, blank = _submission(fid, tmp_path / "报送.xlsx")
    first = read_workbook(sub)
    check_units([first])
    assert first.values[blank] is None and any(f.proposal and f.suspect == blank for f in first.findings)
    assert first.notes and any(f.rule == "READ.value" for f in first.findings)
    checked = write_unit_xlsx(first, tmp_path / "审核后.xlsx")
    again = read_workbook(checked)
    check_units([again])
    assert _facts(again) == _facts(first)
    # the proposal is there for the clerk to see, as text, and is not read as data
    sheet, ref = again.locations[blank]
    shown = openpyxl.load_workbook(checked)[sheet][ref].value
    assert isinstance(shown, str) and shown.startswith("建议 ") and again.values[blank] is None
    # and the next round gives the same again
    third = read_workbook(write_unit_xlsx(again, tmp_path / "审核后2.xlsx"))
    check_units([third])
    assert _facts(third) == _facts(first)


def test_checked_workbook_keeps_a_negative_or_fractional_count_typed_as_a_number(tmp_path):
    """A clerk types -1 and 3.5 (as numbers) into count cells: both are errors, and the checked
    workbook sent back keeps them as typed, so that checking it again gives the same errors
    (not a blank cell and a mere 未填写 prompt)."""
    from conftest import unit_2021
    from gkreport import check_units, read_workbook
    from gkreport.template import write_template

    clean = unit_2021()
    path = write_template(clean.form, tmp_path / "报送.xlsx", clean.values, clean.meta, clean.narrative)
    located = read_workbook(path).locations
    wb = openpyxl.load_workbook(path)
    typed = {"t4.cases.review_pending": -1, "t3.partial.natural": 3.5}
    for cid, v in typed.items():
        sheet, ref = located[cid]
        wb[sheet][ref] = v
    wb.save(path)

    first = read_workbook(path)
    check_units([first])
    unreadable = {f.cell_ids[0]: f for f in first.findings if f.rule == "READ.value"}
    assert set(unreadable) == set(typed) and all(f.severity == ERROR for f in unreadable.values())

    checked = write_unit_xlsx(first, tmp_path / "审核后.xlsx")
    shown = openpyxl.load_workbook(checked)
    again = read_workbook(checked)
    check_units([again])
    for cid, v in typed.items():
        sheet, ref = again.locations[cid]
        cell = shown[sheet][ref]
        assert cell.value == v, (cid, cell.value)
        assert cell.number_format != "0" or float(v).is_integer()  # 3.5 is not shown as 4
    assert {f.cell_ids[0] for f in again.findings if f.rule == "READ.value"} == set(typed)
    assert _facts(again) == _facts(first)


def test_comment_on_an_entry_that_is_no_number_does_not_say_it_should_be_blank(tmp_path):
    """约10 in a count cell: the checked workbook's comment says what was entered, never 应为：空白
    (the cell should hold a number, not be left blank)."""
    from conftest import unit_2021
    from gkreport import check_units, read_workbook
    from gkreport.template import write_template

    clean = unit_2021()
    path = write_template(clean.form, tmp_path / "报送.xlsx", clean.values, clean.meta, clean.narrative)
    sheet, ref = read_workbook(path).locations["t2.normative.made"]
    wb = openpyxl.load_workbook(path)
    wb[sheet][ref] = "约10"
    wb.save(path)
    unit = read_workbook(path)
    check_units([unit])
    assert any(f.rule == "READ.value" and list(f.cell_ids) == ["t2.normative.made"] for f in unit.findings)
    comment = openpyxl.load_workbook(write_unit_xlsx(unit, tmp_path / "审核后.xlsx"))[sheet][ref].comment
    assert comment is not None and "约10" in comment.text
    assert "应为：空白" not in comment.text and "实际：约10" in comment.text


@pytest.mark.parametrize(
    "sample", sorted(p.name for p in (Path(__file__).parents[1] / "input_templates" / "samples").glob("*.xlsx"))
)
def test_checked_workbooks_of_the_samples_read_back_the_same(tmp_path, sample):
    from gkreport import check_units, read_workbook

    first = read_workbook(Path(__file__).parents[1] / "input_templates" / "samples" / sample)
    check_units([first])
    again = read_workbook(write_unit_xlsx(first, tmp_path / "审核后.xlsx"))
    check_units([again])
    assert _facts(again) == _facts(first)


# --------------------------------------------------------------------------- what is reused across workbooks


def _book_facts(path: Path) -> dict:
    """Everything a reader sees in a workbook, read back with openpyxl (and the comment boxes'
    sizes from their drawing): per sheet every cell's value, type and style, comments, links,
    merges, column widths, row heights, validations, panes, filters and print settings."""
    wb = openpyxl.load_workbook(path)
    out: dict = {
        "sheets": wb.sheetnames,
        "names": sorted((n, repr(d.attr_text)) for n, d in wb.defined_names.items()),
        "props": (wb.properties.title, wb.properties.subject, wb.properties.description),
    }
    styles: dict[int, tuple] = {}  # a cell style's parts, by its id in the workbook
    for ws in wb.worksheets:
        cells = {}
        for row in ws.iter_rows():
            for cell in row:
                if not cell.has_style and cell.value is None and cell.comment is None:
                    continue
                style = styles.get(cell.style_id)
                if style is None:
                    style = styles[cell.style_id] = tuple(
                        repr(x)
                        for x in (
                            cell.number_format,
                            cell.font,
                            cell.fill,
                            cell.border,
                            cell.alignment,
                            cell.protection,
                        )
                    )
                cells[cell.coordinate] = (
                    cell.value,
                    cell.data_type,
                    style,
                    (cell.comment.text, cell.comment.author) if cell.comment else None,
                    repr(cell.hyperlink) if cell.hyperlink else None,
                )
        out[ws.title] = {
            "cells": cells,
            "merged": sorted(str(r) for r in ws.merged_cells.ranges),
            "columns": sorted((k, d.width, d.hidden, d.min, d.max) for k, d in ws.column_dimensions.items()),
            "rows": sorted((k, d.height, d.hidden) for k, d in ws.row_dimensions.items()),
            "validations": [repr(v) for v in ws.data_validations.dataValidation],
            "view": (ws.freeze_panes, ws.sheet_view.showGridLines, ws.auto_filter.ref),
            "print": (
                ws.print_title_rows,
                ws.print_title_cols,
                repr(ws.print_area),
                repr(ws.page_setup),
                repr(ws.page_margins),
                repr(ws.print_options),
                repr(ws.sheet_properties),
                [
                    (part.text, part.font, part.size, part.color)
                    for item in (
                        ws.oddHeader,
                        ws.oddFooter,
                        ws.evenHeader,
                        ws.evenFooter,
                        ws.firstHeader,
                        ws.firstFooter,
                    )
                    for part in (item.left, item.center, item.right)
                ],
                repr(ws.col_breaks),
                repr(ws.row_breaks),
            ),
        }
    with zipfile.ZipFile(path) as z:  # comment boxes: cell and size of each
        for name in sorted(n for n in z.namelist() if n.endswith(".vml")):
            xml = z.read(name).decode("utf-8")
            out[name] = re.findall(r'<v:shape id="[^"]*" type="#_x0000_t202" style="([^"]*)"', xml) + re.findall(
                r"<x:Row>(\d+)</x:Row>\s*<x:Column>(\d+)</x:Column>", xml
            )
    return out


def _varied_units(tmp_path: Path) -> list[Unit]:
    """Units of every form as the batch writes them: checked submissions (a blank total with a
    proposal, a number with a note, an entry that is no number, grouped findings), the samples,
    clean units without findings, explained and lapsed 提示, candidates, a paragraph finding,
    an off-grid subtotal, long and over-long texts."""
    from conftest import NARRATIVE_2021, SAMPLES, unit_2021
    from gkreport import check_units, read_workbook

    units: list[Unit] = []
    for fid in FORMS:
        sub, _ = _submission(fid, tmp_path / f"报送{fid}.xlsx")
        units.append(read_workbook(sub))
        checked = random_unit(fid, f"{fid}随机单位", seed=4)
        checked.findings = []
        units.append(checked)  # random figures: many findings once checked
        units.append(random_unit(fid, f"{fid}手工问题单位" * 8, seed=5))  # a long name
    units += [read_workbook(p) for p in sorted(SAMPLES.glob("*.xlsx"))]
    long_text = "本机关深入推进政务公开，" * 60
    grouped = unit_2021(narrative={**NARRATIVE_2021, "overview": "全年共收到政府信息公开申请15件。\n" + long_text})
    grouped.values["t3.disclosed.natural"] = 60
    grouped.narrative_locations = {"overview": ("基本信息", "B20")}
    grouped.narrative["other"] = "超长。" * 12000  # truncated at Excel's limit
    units.append(grouped)
    check_units(units)
    units += [random_unit(fid, f"{fid}无问题单位", seed=3, findings=False) for fid in FORMS]  # not checked
    special = random_unit("2021", "特殊情况单位", seed=6, findings=False)
    special.values["t3.new.total"] = None
    special.values["t3.withheld.total"] = 9  # a subtotal row outside the official grid
    cands = Finding(
        rule="t4.csum",
        severity=ERROR,
        message="行政复议总计与各项之和不符",
        table="t4",
        cell_ids=("t4.cases.review_total", "t4.cases.review_upheld"),
    )
    cands.candidates = ("t4.cases.review_upheld", "t4.cases.review_total")
    special.findings = [
        Finding(
            rule="A1",
            severity=WARNING,
            message="总计空白，按各项之和应为 37",
            table="t3",
            cell_ids=("t3.new.total", "t3.new.natural"),
            suspect="t3.new.total",
            suggestion=37,
            proposal=True,
        ),
        Finding(
            rule="W3",
            severity=WARNING,
            message="数值异常偏大" + "，请核实" * 120,
            table="t2",
            cell_ids=("t2.licensing.decisions",),
            suspect="t2.licensing.decisions",
            explanation="本年度集中办理了一批许可，数字无误。",
        ),
        Finding(
            rule="W4",
            severity=WARNING,
            message="数值异常偏小",
            table="t2",
            cell_ids=("t2.penalty.decisions",),
            explanation="上年的说明",
            explanation_lapsed="数字已变，原审核说明不再适用",
        ),
        Finding(rule="S1", severity=ERROR, message="不予公开小计不符", table="t3", cell_ids=("t3.withheld.total",)),
        cands,
    ]
    units.append(special)
    assert any(f.grouped for u in units for f in u.findings) and any(f.proposal for u in units for f in u.findings)
    assert any(u.notes for u in units) and any(f.paragraph for u in units for f in u.findings)
    assert any(not u.findings for u in units) and {u.form.id for u in units} == set(FORMS)
    return units


@pytest.mark.slow
def test_reused_form_work_writes_the_same_workbooks(tmp_path, monkeypatch):
    """What the writer works out once per form or per text (grid steps, text widths, finding titles,
    formats) and the collector paused while building: every unit and summary workbook reads back
    the same as one written with everything worked out again per workbook (``_REUSE`` off)."""
    from gkreport import xlsx_out as xo

    units = _varied_units(tmp_path)
    same_form = [u for u in units if u.form.id == "2021" and u.year == 2025]
    for d in ("reuse", "again", "fresh"):
        (tmp_path / d).mkdir()
    # reused, with what earlier units (of other forms too) left behind, and in the other order
    for i, u in enumerate(units):
        write_unit_xlsx(u, tmp_path / "reuse" / f"{i}.xlsx")
    write_summary_xlsx(same_form, tmp_path / "reuse" / "sum.xlsx", [("坏.xlsx", "无法读取")])
    for i, u in reversed(list(enumerate(units))):
        write_unit_xlsx(u, tmp_path / "again" / f"{i}.xlsx")
    assert xo._FORMAT_TEMPLATES and xo._TEXT_UNITS and xo._TITLE_OF  # the reused path was taken
    assert gc.isenabled()  # on again after the builds
    for memo in (xo._FORMAT_TEMPLATES, xo._TEXT_UNITS, xo._TITLE_OF):
        memo.clear()
    monkeypatch.setattr(xo, "_REUSE", False)
    for i, u in enumerate(units):
        write_unit_xlsx(u, tmp_path / "fresh" / f"{i}.xlsx")
    write_summary_xlsx(same_form, tmp_path / "fresh" / "sum.xlsx", [("坏.xlsx", "无法读取")])
    assert not (xo._FORMAT_TEMPLATES or xo._TEXT_UNITS or xo._TITLE_OF)  # nothing was reused
    for i, u in enumerate(units):
        fresh = _book_facts(tmp_path / "fresh" / f"{i}.xlsx")
        assert fresh["sheets"][-1] == "基本信息" and fresh["sheets"][-2] == "审核结果"
        assert _book_facts(tmp_path / "reuse" / f"{i}.xlsx") == fresh, (u.unit, u.form.id)
        assert _book_facts(tmp_path / "again" / f"{i}.xlsx") == fresh, (u.unit, u.form.id)
    assert _book_facts(tmp_path / "reuse" / "sum.xlsx") == _book_facts(tmp_path / "fresh" / "sum.xlsx")


def _office_parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if not n.startswith("docProps/")}


def test_fast_comment_writers_write_the_bytes_xlsxwriter_writes(tmp_path, monkeypatch):
    """The comment boxes' VML shapes and comment entries written by gkreport's writers are byte for
    byte XlsxWriter's own: hidden and shown boxes, authors and none, scaled boxes near the sheet's
    edge and beyond wide columns and tall rows, text to escape (markup, control characters, a literal
    ``_x0000_``, leading and trailing spaces); and so is a summary workbook with its findings' boxes."""
    import xlsxwriter

    from gkreport import xlsx_out

    texts = ["第一条\n\n第二条", ' <&> "引号" ', "控制\x01字符 _x0000_", "\t前后空白\n", "数字 3>2 & 1<2", "很长" * 300]

    def book(path: Path) -> Path:
        wb = xlsxwriter.Workbook(str(path), {"in_memory": True})
        for n in range(2):
            ws = wb.add_worksheet(f"表{n + 1}")
            ws.set_column(2, 4, 31.5)
            ws.set_column(7, 7, 2, None, {"hidden": True})
            ws.set_row(5, 60)
            ws.set_comments_author("作者")
            if n:
                ws.show_comments()
            rng = random.Random(n)
            for k in range(60):
                options: dict = {"x_scale": rng.choice([1, 2.6, 0.5]), "y_scale": rng.uniform(1, 12)}
                if k % 3 == 0:
                    options.update(author="审核意见", font_name="宋体", font_size=rng.choice([9, 9.5, 11]))
                if k % 4 == 0:
                    options["visible"] = bool(k % 8)
                if k % 5 == 0:
                    options.update(x_offset=rng.randint(-40, 200), y_offset=rng.randint(-40, 200))
                ws.write_comment(rng.randint(0, 1200), rng.randint(0, 40), texts[k % len(texts)] + str(k), options)
        wb.close()
        return path

    fast = book(tmp_path / "fast.xlsx")
    unit = make_unit("2021")
    ids = sorted(unit.values)
    unit.findings = [
        Finding(rule="R.1", severity=ERROR, message="错误 <甲> & “乙”", cell_ids=(ids[0], ids[5]), suspect=ids[5]),
        Finding(rule="R.2", severity=WARNING, message=" 提示\x02 ", cell_ids=(ids[9],)),
    ]
    summary_fast = xlsx_out.write_summary_xlsx([unit] * 3, tmp_path / "summary_fast.xlsx", [])
    assert any(n.startswith("xl/comments") for n in _office_parts(summary_fast))
    xlsx_out.fast_comments(False)
    try:
        stock = book(tmp_path / "stock.xlsx")
        summary_stock = xlsx_out.write_summary_xlsx([unit] * 3, tmp_path / "summary_stock.xlsx", [])
    finally:
        xlsx_out.fast_comments()
    assert _office_parts(fast) == _office_parts(stock)
    assert _office_parts(summary_fast) == _office_parts(summary_stock)
    parts = _office_parts(fast)
    assert parts["xl/drawings/vmlDrawing2.vml"].count(b"<x:Visible/>") > 30  # shown boxes were written


def test_a_finding_over_several_rows_names_them_all_and_a_bound_is_no_expected_value(tmp_path):
    """表三“（六）其他处理”超过总计的一成 (A7): the finding is about four rows and no one cell; its
    应为 is the most the rows may hold (≤ 2), not a value any cell should have."""
    from gkreport.pipeline import run_checks
    from gkreport.reader import read_workbook

    src = (
        Path(__file__).parents[1] / "input_templates" / "samples" / "示例市东城区自然资源局2025年统计表（有错误）.xlsx"
    )
    unit = read_workbook(src)
    run_checks([unit])
    (a7,) = [f for f in unit.findings if f.rule == "A7"]
    wb = openpyxl.load_workbook(write_unit_xlsx(unit, tmp_path / "x.xlsx"))
    ws = wb["审核结果"]
    head = [c.value for c in ws[2]]
    rows = [dict(zip(head, r)) for r in ws.iter_rows(min_row=3, values_only=True)]
    (row,) = [r for r in rows if r["编号"] == "A7"]
    assert row["应为"] == f"≤ {a7.expected}" and row["实际"] == a7.actual
    assert row["行"].startswith("1.申请人无正当理由逾…、2.申请人逾期未按收费…、3.其他") and row["行"].endswith(
        "等 4 行"
    )
    comments = [c.comment.text for r in wb["三、收到和处理政府信息公开申请情况"].iter_rows() for c in r if c.comment]
    notes = [t for t in comments if "其他处理偏多" in t]
    assert notes and all(f"应不超过：{a7.expected}；实际：{a7.actual}" in t for t in notes)
    assert not any(f"应为：{a7.expected}；实际：{a7.actual}" in t.split("其他处理偏多")[1] for t in notes)


def test_a_place_named_twice_is_listed_once():
    from gkreport.xlsx_out import compact_refs

    assert compact_refs(["三、…!J6", "三、…!J6", "三、…!J7", "四!B2"]) == "三、…!J6、J7；四!B2"
    assert compact_refs([f"表!A{i}" for i in range(1, 20)] * 2, limit=3) == "表!A1、A2、A3 等 19 处"


def test_comment_boxes_share_one_fill_colour_and_keep_it(tmp_path):
    """Tens of thousands of comment boxes in a big summary: one colour object serves them all, and
    every box is still written with the pale yellow fill, its text readable."""
    import xlsxwriter

    from gkreport.xlsx_out import _comment

    path = tmp_path / "批注.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("表")
    for r in range(5):
        ws.write_number(r, 1, r)
        _comment(ws, r, 1, [f"第{r + 1}行：应为{r + 10}。", "另一条意见。"])
    assert len({id(ws.comments[r][1].color) for r in range(5)}) == 1
    wb.close()
    with zipfile.ZipFile(path) as z:
        vml = next(z.read(n).decode() for n in z.namelist() if n.endswith(".vml"))
    assert vml.count('fillcolor="#ffffe1"') == 5
    sheet = openpyxl.load_workbook(path)["表"]
    assert [sheet.cell(r + 1, 2).comment.text for r in range(5)] == [
        f"第{r + 1}行：应为{r + 10}。\n\n另一条意见。" for r in range(5)
    ]


def _deflated_at(data: bytes, level: int) -> int:
    """The size of ``data`` deflated as zipfile deflates a member at ``level``."""
    import zlib

    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return len(c.compress(data) + c.flush())


def test_the_summary_workbook_is_deflated_fast_and_other_workbooks_as_xlsxwriter_does(tmp_path):
    from gkreport.xlsx_out import SUMMARY_ZIP_LEVEL

    units = random_units("2021", 3, 40)
    path = write_summary_xlsx(units, tmp_path / summary_xlsx_name(2025))
    with zipfile.ZipFile(path) as z:
        big = [i for i in z.infolist() if i.file_size > 20_000]
        assert big  # 分单位明细 among them
        for info in big:
            data = z.read(info)
            assert info.compress_size == _deflated_at(data, SUMMARY_ZIP_LEVEL) != _deflated_at(data, 6)
    # afterwards (and in any other workbook) XlsxWriter's own level, zlib's default
    import xlsxwriter

    other = tmp_path / "other.xlsx"
    wb = xlsxwriter.Workbook(str(other))
    ws = wb.add_worksheet()
    for r in range(3000):
        ws.write_row(r, 0, [r, f"第{r}行", r * 3])
    wb.close()
    with zipfile.ZipFile(other) as z:
        info = max(z.infolist(), key=lambda i: i.file_size)
        assert info.compress_size == _deflated_at(z.read(info), 6) != _deflated_at(z.read(info), 1)
    assert openpyxl.load_workbook(path, read_only=True)["分单位明细"].max_row >= len(units)
