"""Live checks in the blank templates: the form's hard rules as formulas a spreadsheet computes.

The templates are filled by a script (openpyxl: formulas without cached results) and opened in
LibreOffice headless, which recalculates every formula as Excel and WPS would; the values it
saves are read back. Then the same files are read by gkreport.
"""

from __future__ import annotations

import re
import zipfile
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from conftest import needs_soffice
from gkreport import check_units, read_workbook
from gkreport.livecheck import PASSED, SHEET, TABLE_LINE, LiveCheck, live_checks
from gkreport.spec import compiled, load_form, rule_set
from gkreport.spec.layout import build_grid
from gkreport.template import sheet_name, write_template
from official_layout import soffice_convert_all

FORMS = ("2017", "2019", "2021")
ALLOWED = {"SUM", "COUNT", "ABS", "IF", "AND", "OR", "INDEX", "MATCH"}


def _grid_cells(form) -> set[str]:
    return {cid for t in form.tables.values() for cid in build_grid(t).value_pos}


def _values(fid: str, seed: int = 5) -> dict:
    """Consistent numbers for every value cell of the template (every hard rule holds)."""
    form = load_form(fid)
    cells = _grid_cells(form)
    return {c: v for c, v in compiled(form).consistent_values(seed).items() if c in cells}


def _meta(fid: str) -> dict:
    year = 2017 if fid == "2017" else 2025
    return {"unit": "某某区某某局", "year": year, "date_written": date(year + 1, 1, 20)}


def _fill(blank: Path, out: Path, fid: str, values: dict) -> Path:
    """Type the values into the blank template as a script does (openpyxl keeps the formulas and
    drops their results: the file has formulas without cached values)."""
    form = load_form(fid)
    wb = openpyxl.load_workbook(blank)
    for t in form.tables.values():
        g = build_grid(t)
        top = 2 + (1 if t.subtitle else 0)  # title, (subtitle,) the status line
        ws = wb[sheet_name(t)]
        for cid, (r, c) in g.value_pos.items():
            if cid in values:
                ws.cell(top + r + 1, c + 1).value = None if values[cid] is None else float(values[cid])
    info = wb["基本信息"]
    labels = {f.label + ("（必填）" if f.required else ""): f.id for f in form.metadata}
    for row in info.iter_rows(min_row=3):
        fid_ = labels.get(row[0].value)
        if fid_ in _meta(fid):
            row[1].value = _meta(fid)[fid_]
    wb.save(out)
    return out


def _failing(fid: str, values: dict) -> list[str]:
    form = load_form(fid)
    out = []
    for check in live_checks(form, _grid_cells(form)):
        said = check.evaluate(values)
        if said is not None:
            out.append(said)
    return out


def _shown(path: Path, fid: str) -> tuple[str, list[str], dict[str, tuple[int, int]]]:
    """What the recalculated workbook shows: the 自查 status and its list; and per table the
    failures and blank cells that colour the line above it (hidden columns N–P of 自查)."""
    wb = openpyxl.load_workbook(path, data_only=True)
    ws = wb[SHEET]
    listed = [r[1] for r in ws.iter_rows(min_row=6, max_col=2, values_only=True) if r[1]]
    counts = {}
    for k, t in enumerate(load_form(fid).tables.values()):
        fails, filled, cells = (ws.cell(6 + k, 14 + j).value for j in range(3))
        counts[t.id] = (int(fails), int(cells) - int(filled))
    return ws["A3"].value, listed, counts


# --------------------------------------------------------------------------- what is checked


def test_the_checks_are_the_forms_hard_rules():
    """Generated from the rule set: every 错误 rule a workbook can check alone, nothing else."""
    for fid in FORMS:
        form = load_form(fid)
        cells = _grid_cells(form)
        expected = {
            r.id
            for r in rule_set(form).rules
            if r.is_error
            and r.kind in ("sum", "subset", "expr")
            and r.linear
            and not r.prev_cells
            and set(r.cells) <= cells
        }
        got = {c.rule.id for c in live_checks(form, cells)}
        assert got == expected and got
    ids = {c.rule.id for c in live_checks(load_form("2021"), _grid_cells(load_form("2021")))}
    assert {"t3.csum.new.total", "t3.rsum.total.natural", "A3.total", "t4.csum.review_total"} <= ids
    assert not any(i.startswith(("A6", "A7", "B")) for i in ids)  # last year's report; 提示
    ids17 = {c.rule.id for c in live_checks(load_form("2017"), _grid_cells(load_form("2017")))}
    assert {"stats.rsum.req_received", "stats.rsub.publish_total"} <= ids17  # the 2017 sub-items


def test_messages_name_the_total_and_the_expected_sum():
    form = load_form("2021")
    check = next(c for c in live_checks(form, _grid_cells(form)) if c.rule.id == "t3.csum.new.total")
    values = dict.fromkeys(check.cells, 0) | {"t3.new.natural": 12, "t3.new.total": 13}
    assert check.evaluate(values) == (
        "表三“一、本年新收政府信息公开申请数量”总计列应为 12，现为 13（“自然人”与“法人或其他组织”之和）"
    )
    values["t3.new.total"] = None  # a blank total with its parts filled is no pass
    assert check.evaluate(values) == (
        "表三“一、本年新收政府信息公开申请数量”总计列未填写，应为 12（“自然人”与“法人或其他组织”之和）"
    )
    values["t3.new.business"] = None  # a blank part: not judged (blank is not 0)
    assert check.evaluate(values) is None


def test_formulas_use_only_plain_functions_and_sit_outside_the_value_cells(tmp_path):
    for fid in FORMS:
        form = load_form(fid)
        path = write_template(form, tmp_path / f"{fid}.xlsx")
        with zipfile.ZipFile(path) as z:
            xml = "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/sheet"))
        assert "_xlfn" not in xml and 't="array"' not in xml  # no new functions, no array formulas
        wb = openpyxl.load_workbook(path)
        formulas = []
        for ws in wb.worksheets:
            assert ws.protection.sheet
            for row in ws.iter_rows():
                for c in row:
                    if isinstance(c.value, str) and c.value.startswith("="):
                        formulas.append(c.value)
                        assert c.protection.locked, (ws.title, c.coordinate)
            for cf in ws.conditional_formatting:
                formulas += [f"={f}" for rule in cf.rules for f in rule.formula]
        used = {m for f in formulas for m in re.findall(r"([A-Z][A-Z0-9.]*)\(", re.sub(r'"[^"]*"', "", f))}
        assert used <= ALLOWED, used - ALLOWED
        for t in form.tables.values():  # the value cells stay plain and unlocked, no formula on the sheet
            ws = wb[sheet_name(t)]
            assert not any(isinstance(c.value, str) and c.value.startswith("=") for row in ws.iter_rows() for c in row)
            assert TABLE_LINE in [c.value for row in ws.iter_rows(max_row=4) for c in row]
            top = 2 + (1 if t.subtitle else 0)
            for r, c in build_grid(t).value_pos.values():
                cell = ws.cell(top + r + 1, c + 1)
                assert cell.value is None and cell.protection.locked is False


def test_each_total_turns_red_when_it_disagrees(tmp_path):
    """Conditional formatting on every total a sum rule defines (on its own sheet)."""
    form = load_form("2021")
    wb = openpyxl.load_workbook(write_template(form, tmp_path / "t.xlsx"))
    targets = [c for c in live_checks(form, _grid_cells(form)) if c.kind == "sum"]
    assert targets
    for check in targets:
        cell = form.cells[check.target]
        t = form.tables[cell.table]
        r, c = build_grid(t).value_pos[check.target]
        coord = openpyxl.utils.get_column_letter(c + 1) + str(2 + (1 if t.subtitle else 0) + r + 1)
        ws = wb[sheet_name(t)]
        rules = [rule for cf in ws.conditional_formatting if coord in str(cf.sqref) for rule in cf.rules]
        assert any(rule.type == "expression" and "SUM(" in rule.formula[0] for rule in rules), check.rule.id
        assert any(rule.dxf.fill is not None for rule in rules)
    for t in form.tables.values():  # the line above each table: red while failing, green once all passes
        ws = wb[sheet_name(t)]
        row = 2 + (1 if t.subtitle else 0)
        rules = [rule for cf in ws.conditional_formatting if f"A{row}" in str(cf.sqref) for rule in cf.rules]
        assert len(rules) == 2 and all(f"'{SHEET}'!" in rule.formula[0] for rule in rules)


def test_written_results_are_what_the_formulas_give(tmp_path):
    """A template filled by gkreport (samples) carries the results for its values, so a viewer that
    does not recalculate still shows the truth; the blank template says 尚未填写."""
    form = load_form("2021")
    blank = openpyxl.load_workbook(write_template(form, tmp_path / "b.xlsx"), data_only=True)
    assert blank[SHEET]["A3"].value == "尚未填写。"
    values = _values("2021")
    values["t3.new.total"] += 2
    wb = openpyxl.load_workbook(write_template(form, tmp_path / "f.xlsx", values), data_only=True)
    ws = wb[SHEET]
    listed = [r[1] for r in ws.iter_rows(min_row=6, max_col=2, values_only=True) if r[1]]
    assert listed == _failing("2021", values) and len(listed) == 2
    assert ws["A3"].value.startswith(f"发现 {len(listed)} 处不符")


# --------------------------------------------------------------------------- in LibreOffice


@needs_soffice
@pytest.mark.parametrize("fid", FORMS)
def test_libreoffice_shows_the_failing_rule_and_all_clear(tmp_path, fid):
    form = load_form(fid)
    blank = write_template(form, tmp_path / "blank.xlsx")
    good = _values(fid)
    check = next(c for c in live_checks(form, _grid_cells(form)) if c.kind == "sum")
    total, parts = check.target, check.parts
    assert total is not None
    wrong = dict(good)
    wrong[total] = good[total] + 1  # one wrong total
    missing = dict(good)
    missing[total] = None  # a blank total, its parts filled
    partial = dict(good)
    partial[next(c for c in good if c not in check.cells)] = None  # one cell left blank elsewhere
    files = {
        name: _fill(blank, tmp_path / f"{name}.xlsx", fid, vals)
        for name, vals in (("good", good), ("wrong", wrong), ("missing", missing), ("partial", partial))
    }
    out = soffice_convert_all(list(files.values()), "xlsx", tmp_path / "lo")
    shown = {name: _shown(path, fid) for name, path in zip(files, out)}

    status, listed, counts = shown["good"]
    assert status == PASSED and listed == []
    assert set(counts.values()) == {(0, 0)}  # every line above a table turns green

    status, listed, counts = shown["wrong"]
    expected = sum(good[p] for p in parts)
    assert any(f"应为 {expected:.0f}，现为 {good[total] + 1:.0f}" in m for m in listed), listed
    assert listed == _failing(fid, wrong)  # LibreOffice says what gkreport says, in the same order
    assert status == f"发现 {len(listed)} 处不符，请按下面的提示修改（改好后这里显示“{PASSED}”）："
    table = form.cells[total].table
    assert counts[table] == (len(listed), 0)  # the line above that table turns red
    assert all(n == 0 for t, (n, _) in counts.items() if t != table)

    status, listed, _ = shown["missing"]
    assert any(f"未填写，应为 {expected:.0f}" in m for m in listed) and status != PASSED

    status, listed, _ = shown["partial"]
    assert listed == [] and status.startswith("已填写的数字未发现不符；还有 1 个单元格未填写")

    # every version reads back cleanly: the script-filled one (formulas without results) too
    for name, vals in (("good", good), ("wrong", wrong)):
        for path in (files[name], out[list(files).index(name)]):
            unit = read_workbook(path)
            assert [f for f in unit.findings if f.rule.startswith("READ.")] == [], (name, path)
            assert {c: unit.values.get(c) for c in vals} == {c: vals[c] for c in vals}
            check_units([unit])
            errors = {r for f in unit.errors for r in f.rules}  # one wrong cell groups the rules it breaks
            if name == "good":
                assert not errors
            else:  # the engine's hard findings on these cells are the live checks that fail
                live = {c.rule.id for c in live_checks(form, _grid_cells(form)) if c.evaluate(vals)}
                assert live and live <= errors


def test_a_check_says_its_sides_for_rules_that_are_not_sums():
    form = load_form("2021")
    a3: LiveCheck = next(c for c in live_checks(form, _grid_cells(form)) if c.rule.id == "A3.natural")
    values = dict.fromkeys(a3.cells, 0) | {"t3.new.natural": 5, "t3.total.natural": 4}
    assert a3.evaluate(values) == (
        "表三自然人列：“一、本年新收政府信息公开申请数量”与“二、上年结转政府信息公开申请数量”之和为 5，"
        "应等于“（七）总计”与“四、结转下年度继续办理”之和（4）"
    )
