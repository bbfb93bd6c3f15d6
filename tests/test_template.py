"""Blank templates and sample workbooks: committed copies are what the code generates."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook

from conftest import SAMPLES, TEMPLATES, needs_soffice
from gkreport.samples import write_samples
from gkreport.spec import load_form
from gkreport.spec.layout import build_grid as grid
from gkreport.template import guide_lines, sheet_name, write_template


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
            "print": print_settings(ws),
        }
    return out


def print_settings(ws) -> dict:
    ps = ws.page_setup
    return {
        "paper": ps.paperSize,
        "orientation": ps.orientation,
        "fit": bool(ws.sheet_properties.pageSetUpPr and ws.sheet_properties.pageSetUpPr.fitToPage),
        "fit_width": ps.fitToWidth,
        "fit_height": ps.fitToHeight,
        "area": ws.print_area,
        "columns": {k: d.width for k, d in ws.column_dimensions.items() if d.width},
        "rows": {k: d.height for k, d in ws.row_dimensions.items() if d.height},
    }


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
        "自查",
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


def test_template_and_samples_that_cannot_be_written_are_said_in_chinese(tmp_path):
    """A place that cannot take the file (a folder of the template's name, a file where the folder
    should be) is one Chinese line naming it and exit 3, not a program fault; nothing is left behind."""
    from typer.testing import CliRunner

    from gkreport.cli import app

    runner = CliRunner()
    folder = tmp_path / "模板.xlsx"
    folder.mkdir()
    blocker = tmp_path / "发给各单位"
    blocker.write_text("不是文件夹", encoding="utf-8")
    for args, place, why in (
        (["template", "-o", str(folder), "--force"], folder, "同名的文件夹"),
        (["template", "-o", str(blocker / "模板.xlsx")], blocker / "模板.xlsx", "同名的文件（不是文件夹）"),
        (["samples", "-o", str(blocker)], blocker, "同名的文件（不是文件夹）"),
    ):
        res = runner.invoke(app, args)
        said = "".join(res.output.split())
        assert res.exit_code == 3 and "程序内部错误" not in said and "已生成" not in said
        assert "无法写出" in said and str(place) in said and why in said
    assert folder.is_dir() and not any(folder.iterdir()) and blocker.read_text(encoding="utf-8") == "不是文件夹"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["发给各单位", "模板.xlsx"]


def test_samples_never_replace_a_file_already_there(tmp_path):
    """``samples -o`` into a folder that already holds a file under a sample's name (the user's own,
    or a sample changed to try things out) leaves it as it is and says so; the others are written."""
    from typer.testing import CliRunner

    from gkreport.cli import app

    folder = tmp_path / "input"
    folder.mkdir()
    theirs = folder / "示例市东城区教育局2025年统计表.xlsx"
    theirs.write_bytes(b"the office's own workbook")
    other = folder / "某某局2025年统计表.xlsx"
    other.write_bytes(b"another file")
    res = CliRunner().invoke(app, ["samples", "-o", str(folder)])
    said = "".join(res.output.split())
    assert res.exit_code == 0, res.output
    assert theirs.read_bytes() == b"the office's own workbook" and other.read_bytes() == b"another file"
    assert f"已存在，未覆盖：{theirs}" in said and f"已生成示例：{theirs}" not in said
    written = {p.name for p in folder.glob("*.xlsx")} - {theirs.name, other.name}
    assert len(written) == len(list(SAMPLES.glob("*.xlsx"))) - 1
    for name in written:
        assert f"已生成示例：{folder / name}" in said
        assert content(folder / name) == content(SAMPLES / name)
    again = CliRunner().invoke(app, ["samples", "-o", str(folder)])  # a second run writes nothing
    assert again.exit_code == 0 and "已生成示例" not in again.output
    assert theirs.read_bytes() == b"the office's own workbook"


@pytest.mark.parametrize("form_id", ["2017", "2019", "2021"])
def test_guide_and_info_sheets_print_on_one_page(tmp_path, form_id):
    """填表说明 and 基本信息: A4 portrait, the whole sheet fitted on one page."""
    wb = load_workbook(write_template(load_form(form_id), tmp_path / "t.xlsx"))
    for name in ("填表说明", "基本信息"):
        ws = wb[name]
        ps = ws.page_setup
        assert (ps.paperSize, ps.orientation) == (9, "portrait"), name
        assert ws.sheet_properties.pageSetUpPr.fitToPage, name
        assert ps.fitToWidth in (None, 1) and ps.fitToHeight in (None, 1), name  # absent means 1
        assert ws.print_area, name


def test_guide_speaks_to_the_department_clerk():
    for form_id in ("2017", "2019", "2021"):
        text = "\n".join(guide_lines(load_form(form_id)))
        assert "gkreport" not in text and "运行" not in text  # no commands: the clerk does not run the tool
        assert "报送" in text and "基本信息" in text and "填 0" in text


@pytest.mark.slow
@needs_soffice
def test_guide_and_info_render_whole_on_their_pages(tmp_path):
    """Rendered by LibreOffice: 填表说明 is page 1 with every line whole (nothing cut at the
    page edge), 基本信息 is page 2 with every label, and page 3 is the first table."""
    from gkreport.pdf import convert_to_pdf

    form = load_form("2017")  # the form with the most report sections
    pdf = convert_to_pdf([write_template(form, tmp_path / "t.xlsx")], tmp_path / "pdf")[0]

    def page(i: int) -> str:
        out = subprocess.run(["pdftotext", "-f", str(i), "-l", str(i), str(pdf), "-"], capture_output=True, text=True)
        return re.sub(r"\s+", "", out.stdout)

    first, second, third = page(1), page(2), page(3)
    for line in guide_lines(form):
        assert re.sub(r"\s+", "", line) in first, line
    for field in form.metadata:
        assert field.label in second, field.label
    for section in form.sections:
        if section.kind == "text":
            assert re.sub(r"\s+", "", section.heading) in second, section.heading
    assert "基本信息" not in third and sheet_name(next(iter(form.tables.values()))) in third
