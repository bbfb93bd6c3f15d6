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
