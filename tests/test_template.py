"""Blank templates and sample workbooks: committed copies are what the code generates."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from conftest import SAMPLES, TEMPLATES
from gkreport.samples import write_samples
from gkreport.spec import load_form
from gkreport.spec.layout import build_grid as grid
from gkreport.template import sheet_name, write_template


def content(path: Path) -> dict:
    """What a user sees in a workbook: sheets, values, merges, validations, protection, locks."""
    wb = load_workbook(path)
    out = {}
    for ws in wb.worksheets:
        out[ws.title] = {
            "values": {c.coordinate: c.value for row in ws.iter_rows() for c in row if c.value is not None},
            "merged": sorted(str(m) for m in ws.merged_cells.ranges),
            "validations": sorted(
                (str(dv.sqref), dv.type, dv.operator, dv.formula1) for dv in ws.data_validations.dataValidation
            ),
            "protected": ws.protection.sheet,
            "unlocked": sorted(c.coordinate for row in ws.iter_rows() for c in row if c.protection.locked is False),
        }
    return out


@pytest.mark.parametrize("form_id", ["2017", "2019", "2021"])
def test_committed_template_is_what_the_command_writes(tmp_path, form_id):
    fresh = write_template(load_form(form_id), tmp_path / "t.xlsx")
    assert content(TEMPLATES / f"{form_id}年版统计表模板.xlsx") == content(fresh)


def test_committed_samples_are_what_the_code_writes(tmp_path):
    fresh = {p.name: p for p in write_samples(tmp_path)}
    committed = {p.name: p for p in SAMPLES.glob("*.xlsx")}
    assert set(fresh) == set(committed)
    for name in fresh:
        assert content(committed[name]) == content(fresh[name]), name


def test_template_locks_labels_and_unlocks_inputs(tmp_path):
    form = load_form("2021")
    wb = load_workbook(write_template(form, tmp_path / "t.xlsx"))
    assert [ws.title for ws in wb.worksheets] == [
        "填表说明",
        "基本信息",
        "二、主动公开政府信息情况",
        "三、收到和处理政府信息公开申请情况",
        "四、政府信息公开行政复议、行政诉讼情况",
    ]
    for t in form.tables.values():
        ws = wb[sheet_name(t)]
        assert ws.protection.sheet and not ws.protection.password
        g = grid(t)
        for cid, (r, c) in g.value_pos.items():
            cell = ws.cell(3 + r, c + 1)
            assert cell.protection.locked is False, cid
        for gc in g.cells:
            if gc.kind in ("label", "header", "corner"):
                cell = ws.cell(3 + gc.row, gc.col + 1)
                assert cell.value == (gc.text or None) and cell.protection.locked is not False
        rules = {dv.type: dv for dv in ws.data_validations.dataValidation}
        assert rules["whole"].operator == "greaterThanOrEqual" and rules["whole"].formula1 == "0"
        if t.id == "t2":
            assert rules["decimal"].formula1 == "0"  # 万元 with decimals
    t3 = wb["三、收到和处理政府信息公开申请情况"]
    merged = {str(m) for m in t3.merged_cells.ranges}
    assert {"A3:C5", "D3:J3", "D4:D5", "E4:I4", "J4:J5", "A8:A29"} <= merged
    info = wb["基本信息"]
    labels = [info.cell(r, 1).value for r in range(1, info.max_row + 1)]
    assert "单位名称（必填）" in labels and "一、总体情况（必填）" in labels


def test_template_command_does_not_overwrite(tmp_path):
    from typer.testing import CliRunner

    from gkreport.cli import app

    out = tmp_path / "t.xlsx"
    runner = CliRunner()
    first = runner.invoke(app, ["template", "--form", "2017", "-o", str(out)])
    assert first.exit_code == 0 and out.exists()
    before = out.read_bytes()
    second = runner.invoke(app, ["template", "--form", "2017", "-o", str(out)])
    assert second.exit_code == 2 and "已存在" in second.output
    assert out.read_bytes() == before
    bad = runner.invoke(app, ["template", "--form", "1999", "-o", str(tmp_path / "x.xlsx")])
    assert bad.exit_code == 2 and "没有表样" in bad.output
