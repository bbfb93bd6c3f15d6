"""Reading and checking files, the shared first half of ``check`` and ``batch``: one verdict per file.

The same odd files go through ``gkreport check --json`` and through ``run_batch``; every file gets
the same status (and the same reason and number of errors) from both.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from conftest import SAMPLES
from gkreport.batch import BatchOptions, run_batch
from gkreport.cli import app
from gkreport.enums import Status
from gkreport.samples import SAMPLES_2021
from gkreport.spec import load_form
from gkreport.template import write_template
from official_layout import write_official_2021

runner = CliRunner()


def _odd_files(folder: Path) -> dict[str, Status]:
    """Workbooks as offices send them, some odd; file name → the status both commands must give."""
    folder.mkdir(parents=True, exist_ok=True)
    form = load_form("2021")
    sample = SAMPLES_2021[0]
    meta = {k: v for k, v in sample["meta"].items() if k not in ("unit", "year")}
    for name in ("示例市东城区教育局2025年统计表.xlsx", "示例市东城区自然资源局2025年统计表（有错误）.xlsx"):
        shutil.copy(SAMPLES / name, folder / name)
    write_template(form, folder / "没有单位名称.xlsx", sample["values"], {**meta, "year": 2025}, sample["narrative"])
    write_template(
        form, folder / "没有年度.xlsx", sample["values"], {**meta, "unit": "某某区民政局"}, sample["narrative"]
    )
    # unit and year only in the file name: read from it, with a 提示
    write_template(form, folder / "某某区统计局2025年统计表.xlsx", sample["values"], meta, sample["narrative"])
    # the tables pasted under a title that names neither the unit nor the year
    write_official_2021(folder / "年报表格.xlsx", sample["values"], "", 2025, title="政府信息公开工作年度报告")
    (folder / "不是工作簿.xlsx").write_text("这不是工作簿", encoding="utf-8")
    return {
        "示例市东城区教育局2025年统计表.xlsx": Status.PASSED,
        "示例市东城区自然资源局2025年统计表（有错误）.xlsx": Status.ERRORS,
        "没有单位名称.xlsx": Status.UNREADABLE,
        "没有年度.xlsx": Status.UNREADABLE,
        "某某区统计局2025年统计表.xlsx": Status.WARNINGS,
        "年报表格.xlsx": Status.UNREADABLE,
        "不是工作簿.xlsx": Status.UNREADABLE,
    }


def test_check_and_batch_give_every_file_the_same_status(tmp_path):
    expected = _odd_files(tmp_path / "收到的统计表")
    res = runner.invoke(app, ["check", str(tmp_path / "收到的统计表"), "--json"])
    checked = {Path(d["file"]).name: d for d in json.loads(res.stdout)}
    result = run_batch(BatchOptions(input_dir=tmp_path / "收到的统计表", output_dir=tmp_path / "out", jobs=1))
    batched = {Path(r.input).name: r for r in result.records}
    assert set(checked) == set(batched) == set(expected)
    assert {n: d["status"] for n, d in checked.items()} == {n: r.status for n, r in batched.items()} == expected
    for name, d in checked.items():
        r = batched[name]
        if d["status"] == Status.UNREADABLE:
            assert d["error"] == r.reason and name in d["error"], name
        if d["findings"]:  # the Word report adds 提示 only: the errors are the same
            assert sum(f["severity"] == "error" for f in d["findings"]) == r.errors, name
    assert res.exit_code == result.exit_code == 2
    # a file without its unit or year: its numbers are still read and its problems listed
    nameless = checked["没有单位名称.xlsx"]
    assert "没有找到单位名称" in nameless["error"] and nameless["values"] and nameless["findings"]
    assert checked["年报表格.xlsx"]["error"].startswith("文件 年报表格.xlsx 无法确定是哪个单位哪一年的报告：")
    # one error per wrong cell in both: the sample's four mistakes break seven rules
    assert batched["示例市东城区自然资源局2025年统计表（有错误）.xlsx"].errors == 4
    audit = json.loads((tmp_path / "out" / "审核报告.json").read_text(encoding="utf-8"))
    rows = {Path(u["input"]).name: u for u in audit["units"]}
    assert rows["示例市东城区自然资源局2025年统计表（有错误）.xlsx"]["errors"] == 4
    assert {n: u["status"] for n, u in rows.items()} == expected


def test_a_file_the_check_engine_cannot_take_is_unreadable_in_both(tmp_path, monkeypatch):
    from gkreport import pipeline

    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("示例市东城区教育局2025年统计表.xlsx", "示例市东城区市场监督管理局2025年统计表.xlsx"):
        shutil.copy(SAMPLES / name, folder / name)
    real = pipeline.run_checks

    def flaky(units, previous=None):
        if any(u.unit == "示例市东城区教育局" for u in units):
            raise OverflowError("cannot convert float infinity to integer")
        return real(units, previous)

    monkeypatch.setattr(pipeline, "run_checks", flaky)
    checked = pipeline.check_files(sorted(folder.iterdir()))
    assert [u.unit for u in checked.units] == ["示例市东城区市场监督管理局"]
    (failure,) = checked.failures
    result = run_batch(BatchOptions(input_dir=folder, output_dir=tmp_path / "out", jobs=1))
    by_name = {Path(r.input).name: r for r in result.records}
    bad = by_name["示例市东城区教育局2025年统计表.xlsx"]
    assert failure.file.name == "示例市东城区教育局2025年统计表.xlsx"
    assert bad.status == Status.UNREADABLE and bad.reason == failure.reason and "审核时出错" in failure.reason
    assert by_name["示例市东城区市场监督管理局2025年统计表.xlsx"].status == checked.units[0].status
    res = runner.invoke(app, ["check", str(folder), "--json"])
    statuses = {Path(d["file"]).name: d["status"] for d in json.loads(res.stdout)}
    assert statuses == {n: r.status for n, r in by_name.items()} and res.exit_code == 2


def test_a_fee_column_headed_in_yuan_reaches_the_report_in_wan_yuan(tmp_path):
    """A pasted 表二 whose fee column says 本年收费金额（单位：元）: the unit's workbook and the report's
    sentence on 收费 give the amount converted to 万元, and the workbook says it was converted."""
    from docx import Document
    from openpyxl import load_workbook

    inp = tmp_path / "收到的统计表"
    inp.mkdir()
    values = {**SAMPLES_2021[0]["values"], "t2.fees.fee_amount": 123456}
    path = write_official_2021(inp / "某某区司法局.xlsx", values, "某某区司法局", 2025)
    wb = load_workbook(path)
    [head] = [c for row in wb.active.iter_rows() for c in row if c.value == "本年收费金额（单位：万元）"]
    head.value = "本年收费金额（单位：元）"
    wb.save(path)
    result = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=1))
    [rec] = result.records
    text = "\n".join(p.text for p in Document(str(tmp_path / "out" / rec.outputs["docx"])).paragraphs)
    assert "收取行政事业性收费12.3456万元" in text and "123456万元" not in text
    book = load_workbook(tmp_path / "out" / rec.outputs["xlsx"])
    [fee] = [row[1].value for row in book["二、主动公开政府信息情况"].iter_rows() if row[0].value == "行政事业性收费"]
    assert fee == 12.3456
    said = [c.value for ws in book.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert any("“123456”" in s and f"“本年收费金额（单位：元）”（年报表格!{head.coordinate}）" in s for s in said)
    assert any("已换算为 12.3456 万元读取" in s for s in said)
