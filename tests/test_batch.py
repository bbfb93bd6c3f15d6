"""The batch: outputs per unit, summaries, records, incremental reruns, failures, duplicates, watch."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from conftest import SAMPLES, needs_soffice, write_unit_workbooks
from gkreport.batch import BatchOptions, discover, input_files, run_batch, watch_folder
from gkreport.cli import app

SAMPLE_UNITS = {
    "张店区科学技术局": 2017,
    "示例市东城区教育局": 2025,
    "示例市东城区市场监督管理局": 2025,
    "示例市东城区住房和城乡建设局": 2025,
    "示例市东城区自然资源局": 2025,
}


def copy_samples(dest: Path) -> Path:
    shutil.copytree(SAMPLES, dest)
    return dest


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def xml_parts(path: Path) -> dict[str, bytes]:
    """The content of an Office file, without the volatile document properties."""
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if not n.startswith("docProps/")}


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("batch")
    inp = copy_samples(base / "input")
    before = digest(inp)
    result = run_batch(
        BatchOptions(input_dir=inp, output_dir=base / "output", jobs=2, summary_unit="示例市东城区人民政府")
    )
    return base, inp, result, before


def test_every_sample_gets_its_outputs(sample_run):
    base, inp, result, before = sample_run
    out = base / "output"
    assert {r.unit: r.year for r in result.records} == SAMPLE_UNITS
    for r in result.records:
        folder = out / str(r.year) / r.unit
        docx = folder / f"{r.unit}{r.year}年政府信息公开工作年度报告.docx"
        xlsx_name = "政府信息公开工作情况统计表" if r.year == 2017 else "政府信息公开工作年度报告表格"
        xlsx = folder / f"{r.unit}{r.year}年{xlsx_name}.xlsx"
        assert docx.exists() and xlsx.exists(), r.unit
        assert r.outputs == {"xlsx": str(xlsx.relative_to(out)), "docx": str(docx.relative_to(out)), "pdf": None}
    assert (out / "2025" / "汇总" / "2025年政府信息公开工作汇总.xlsx").exists()
    assert (out / "2017" / "汇总" / "2017年政府信息公开工作汇总.xlsx").exists()
    assert (out / "2025" / "汇总" / "示例市东城区人民政府2025年政府信息公开工作年度报告.docx").exists()
    assert digest(inp) == before  # inputs untouched
    assert not list(out.rglob(".gkreport-tmp-*"))


def test_records_say_what_happened(sample_run):
    base, _, result, _ = sample_run
    out = base / "output"
    rec = json.loads((out / "2025" / "审核报告.json").read_text(encoding="utf-8"))
    assert rec["year"] == 2025
    units = {u["unit"]: u for u in rec["units"] if u["unit"]}
    assert set(units) == {k for k, y in SAMPLE_UNITS.items() if y == 2025}
    bad = units["示例市东城区自然资源局"]
    assert bad["status"] == "有错误" and bad["errors"] > 0
    assert (out / "2025" / bad["outputs"]["docx"]).exists()  # relative to the year folder
    assert units["示例市东城区教育局"]["status"] in ("通过", "有提示")
    wb = load_workbook(out / "审核报告.xlsx")
    assert wb["报送情况"].max_row == 1 + len(SAMPLE_UNITS)
    assert result.exit_code == 1  # some units have errors


def test_records_workbooks_print_landscape_fitted(sample_run):
    """审核报告.xlsx (the whole run's and each year's): both sheets landscape on A4 or A3, one page
    wide, the header row on every page, rows tall enough for their wrapped text."""
    base, _, _, _ = sample_run
    out = base / "output"
    for path in (out / "审核报告.xlsx", out / "2025" / "审核报告.xlsx", out / "2017" / "审核报告.xlsx"):
        wb = load_workbook(path)
        assert wb.sheetnames == ["报送情况", "审核结果"]
        for ws in wb.worksheets:
            ps = ws.page_setup
            assert ps.orientation == "landscape" and ps.paperSize in (8, 9), (path, ws.title)
            assert ws.sheet_properties.pageSetUpPr.fitToPage and ps.fitToWidth in (None, 1) and ps.fitToHeight == 0
            assert ws.print_title_rows == "$1:$1"
            assert "&P" in ws.oddFooter.right.text
        findings = wb["审核结果"]
        long_row = max(range(2, findings.max_row + 1), key=lambda r: len(findings.cell(r, 6).value or ""))
        assert findings.row_dimensions[long_row].height > 20  # the longest message wraps onto more lines


def test_second_run_skips_and_touching_one_file_redoes_only_it(tmp_path):
    inp = copy_samples(tmp_path / "input")
    opts = BatchOptions(input_dir=inp, output_dir=tmp_path / "output", jobs=1)
    first = run_batch(opts)
    assert first.processed == len(SAMPLE_UNITS)
    docx = {r.unit: tmp_path / "output" / r.outputs["docx"] for r in first.records}
    stamps = {u: p.stat().st_mtime_ns for u, p in docx.items()}
    again = run_batch(opts)
    assert (again.processed, again.skipped) == (0, len(SAMPLE_UNITS))
    assert {u: p.stat().st_mtime_ns for u, p in docx.items()} == stamps
    assert (tmp_path / "output" / "2025" / "汇总" / "2025年政府信息公开工作汇总.xlsx").exists()
    # change one workbook: only that unit is redone
    target = inp / "示例市东城区教育局2025年统计表.xlsx"
    wb = load_workbook(target)
    ws = wb["三、收到和处理政府信息公开申请情况"]
    ws["D6"] = ws["D6"].value + 1  # 一、本年新收 自然人 (now inconsistent)
    wb.save(target)
    third = run_batch(opts)
    assert (third.processed, third.skipped) == (1, len(SAMPLE_UNITS) - 1)
    changed = [u for u, p in docx.items() if p.stat().st_mtime_ns != stamps[u]]
    assert changed == ["示例市东城区教育局"]
    assert next(r for r in third.records if r.unit == "示例市东城区教育局").status == "有错误"
    forced = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "output", jobs=1, force=True))
    assert forced.processed == len(SAMPLE_UNITS)


def test_unreadable_file_does_not_stop_the_batch(tmp_path):
    inp = tmp_path / "input"
    inp.mkdir()
    shutil.copy(SAMPLES / "示例市东城区教育局2025年统计表.xlsx", inp)
    (inp / "坏文件.xlsx").write_bytes(b"not a workbook at all")
    (inp / "~$示例市东城区教育局2025年统计表.xlsx").write_bytes(b"lock")  # Office lock file: skipped
    (inp / ".hidden.xlsx").write_bytes(b"x")
    result = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "output", jobs=1))
    assert [r.input for r in result.records] == ["坏文件.xlsx", "示例市东城区教育局2025年统计表.xlsx"]
    bad = result.records[0]
    assert bad.status == "无法读取" and "坏文件.xlsx" in bad.reason
    assert result.exit_code == 2
    good = result.records[1]
    assert (tmp_path / "output" / good.outputs["docx"]).exists()
    report = json.loads((tmp_path / "output" / "2025" / "审核报告.json").read_text(encoding="utf-8"))
    assert any(u["input"] == "坏文件.xlsx" and u["status"] == "无法读取" and u["reason"] for u in report["units"])
    summary = load_workbook(tmp_path / "output" / "2025" / "汇总" / "2025年政府信息公开工作汇总.xlsx")
    cells = [str(c.value) for row in summary["报送情况"].iter_rows() for c in row if c.value]
    assert any("坏文件.xlsx" in c for c in cells)


def test_duplicate_units_are_both_reported(tmp_path):
    inp = tmp_path / "input"
    (inp / "a").mkdir(parents=True)
    (inp / "b").mkdir()
    src = SAMPLES / "示例市东城区教育局2025年统计表.xlsx"
    shutil.copy(src, inp / "a" / "教育局.xlsx")
    shutil.copy(src, inp / "b" / "教育局（修改后）.xlsx")
    shutil.copy(SAMPLES / "示例市东城区市场监督管理局2025年统计表.xlsx", inp)
    result = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "output", jobs=1))
    dup = [r for r in result.records if r.status == "重复报送"]
    assert len(dup) == 2 and all("教育局.xlsx" in r.reason and "教育局（修改后）.xlsx" in r.reason for r in dup)
    assert not (tmp_path / "output" / "2025" / "示例市东城区教育局").exists() or not list(
        (tmp_path / "output" / "2025" / "示例市东城区教育局").glob("*.docx")
    )
    assert result.exit_code == 2
    # removing one of them resolves it on the next run
    (inp / "a" / "教育局.xlsx").unlink()
    again = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "output", jobs=1))
    edu = [r for r in again.records if r.unit == "示例市东城区教育局"]
    assert len(edu) == 1 and edu[0].status != "重复报送" and (tmp_path / "output" / edu[0].outputs["docx"]).exists()


def test_a_copied_file_named_for_another_unit_is_said_among_the_duplicates(tmp_path):
    """Two files whose content names the same unit, one of them named for another unit (copied and
    not changed): the duplicate's reason says which file names which unit, not just to keep one."""
    inp = tmp_path / "input"
    inp.mkdir()
    src = SAMPLES / "示例市东城区教育局2025年统计表.xlsx"
    shutil.copy(src, inp / "示例市东城区教育局2025年统计表.xlsx")
    shutil.copy(src, inp / "示例市东城区财政局2025年统计表.xlsx")
    shutil.copy(SAMPLES / "示例市东城区市场监督管理局2025年统计表.xlsx", inp)
    out = tmp_path / "output"
    result = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1, summary_unit="示例市东城区人民政府"))
    dup = {r.input: r for r in result.records if r.unit == "示例市东城区教育局"}
    assert {k: str(r.status) for k, r in dup.items()} == {
        "示例市东城区教育局2025年统计表.xlsx": "重复报送",
        "示例市东城区财政局2025年统计表.xlsx": "重复报送",
    }
    for r in dup.values():
        assert "无法确定以哪个为准" in r.reason
        assert "示例市东城区财政局2025年统计表.xlsx 的文件名写的是“示例市东城区财政局”" in r.reason
        assert "改正单位名称" in r.reason and "请只保留一个后重新运行" not in r.reason
    copied = dup["示例市东城区财政局2025年统计表.xlsx"]
    assert [f["message"] for f in copied.findings if f["rule"] == "READ.unit" and "文件名" in f["message"]]
    # the district summary's 审核结果 says the same of the department left out
    ws = load_workbook(out / "2025" / "汇总" / "2025年政府信息公开工作汇总.xlsx")["审核结果"]
    assert any(c.value == "SUM.duplicate" for row in ws.iter_rows() for c in row)
    text = " ".join(str(c.value) for row in ws.iter_rows() for c in row if c.value)
    assert "示例市东城区财政局2025年统计表.xlsx 的文件名写的是“示例市东城区财政局”" in text
    assert "请只保留其中一个后重新运行" not in text


@pytest.mark.parametrize("at_tail", [True, False])
def test_a_bigger_batch_loads_what_the_summaries_need_while_its_last_chunks_are_done(tmp_path, monkeypatch, at_tail):
    """A batch too big to load the summaries' modules beside the whole pool loads them once only the
    last files are left (a little before the pool's tail, so as to be done when it is); a batch
    bigger still, not before the pool has ended. The summaries are the same either way."""
    from gkreport import batch

    inp = copy_samples(tmp_path / "input")
    monkeypatch.setattr(batch, "_WARM_SUMMARY_UP_TO", 0)  # every batch is "bigger" here
    monkeypatch.setattr(batch, "_WARM_LEAD", 2)  # files per worker
    if not at_tail:
        monkeypatch.setattr(batch, "_WARM_AT_TAIL_UP_TO", 0)
    done: list[str] = []
    loaded: list[int] = []
    real = batch._load_summary_modules

    def load() -> None:
        loaded.append(len(done))
        real()

    monkeypatch.setattr(batch, "_load_summary_modules", load)
    result = run_batch(
        BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=2, chunk_size=1),
        progress=lambda kind, rec, n, total: done.append(rec.input) if kind == "done" else None,
    )
    assert len(done) == len(SAMPLE_UNITS)
    if at_tail:
        # chunks of one file on two workers: loaded once 2 × 2 files at most were left
        assert len(SAMPLE_UNITS) > 4 and len(loaded) == 1 and len(done) - 4 <= loaded[0] <= len(done) - 3
    else:
        assert loaded == []
    assert sorted(p.name for p in result.summaries if p.suffix == ".xlsx") == sorted(
        p.name for p in (tmp_path / "out").glob("*/汇总/*.xlsx")
    )
    assert result.summaries


def test_parallel_outputs_equal_single_process(tmp_path):
    inp = copy_samples(tmp_path / "input")
    one = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "one", jobs=1))
    two = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "two", jobs=2, chunk_size=1))
    files_one = sorted(
        p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.*x") if ".gkreport" not in str(p)
    )
    files_two = sorted(
        p.relative_to(tmp_path / "two") for p in (tmp_path / "two").rglob("*.*x") if ".gkreport" not in str(p)
    )
    assert files_one == files_two and len(files_one) >= 2 * len(SAMPLE_UNITS)
    for rel in files_one:
        assert xml_parts(tmp_path / "one" / rel) == xml_parts(tmp_path / "two" / rel), rel
    assert [(r.input, r.status, r.errors, r.warnings) for r in one.records] == [
        (r.input, r.status, r.errors, r.warnings) for r in two.records
    ]


def xlsx_read_back(path: Path) -> dict:
    """What a reader of a workbook sees: per sheet its merges, and per cell value, number format,
    comment, fill and font."""
    wb = load_workbook(path)
    out: dict = {}
    for ws in wb.worksheets:
        cells = {}
        for row in ws.iter_rows():
            for c in row:
                cells[c.coordinate] = (
                    c.value,
                    c.number_format,
                    c.comment.text if c.comment else None,
                    (c.fill.fill_type, c.fill.fgColor.rgb),
                    (c.font.name, c.font.sz, c.font.b, c.font.color.rgb if c.font.color else None),
                )
        out[ws.title] = (sorted(str(m) for m in ws.merged_cells.ranges), cells)
    return out


def docx_read_back(path: Path) -> list:
    """What a reader of a report sees: paragraphs with their runs' text and fonts, and tables' cells."""
    from docx import Document

    doc = Document(str(path))
    paragraphs = [
        (p.style.name, [(r.text, r.font.name, r.font.size, r.font.bold, r.font.highlight_color) for r in p.runs])
        for p in doc.paragraphs
    ]
    tables = [[[c.text for c in row.cells] for row in t.rows] for t in doc.tables]
    return [paragraphs, tables]


def test_batch_outputs_read_back_as_the_writers_called_one_by_one(tmp_path):
    """The batch's fast paths (fork server, writer threads, pool for a few files) change the time only:
    each sample's workbook and report read back the same as those the writers give called in turn."""
    from gkreport.docx_out import merge_report_findings, write_unit_docx
    from gkreport.explanations import apply_explanations
    from gkreport.pipeline import run_checks_isolated
    from gkreport.reader import read_workbook
    from gkreport.xlsx_out import write_unit_xlsx

    inp = copy_samples(tmp_path / "input")
    result = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "batch", jobs=2, chunk_size=2))
    units = [read_workbook(p) for p in discover(inp)]
    assert not run_checks_isolated(units, [])
    by_unit = {r.unit: r for r in result.records}
    assert set(by_unit) == set(SAMPLE_UNITS)
    marked = []  # the comparison sees what matters: some sample has a commented, filled cell
    for unit in units:
        rec = by_unit[unit.unit]
        report = write_unit_docx(unit, tmp_path / "plain" / f"{unit.unit}.docx")
        unit.findings = merge_report_findings(unit.findings, report.findings)
        apply_explanations(unit)
        plain_xlsx = write_unit_xlsx(unit, tmp_path / "plain" / f"{unit.unit}.xlsx")
        fast_xlsx, fast_docx = tmp_path / "batch" / rec.outputs["xlsx"], tmp_path / "batch" / rec.outputs["docx"]
        seen = xlsx_read_back(fast_xlsx)
        assert seen == xlsx_read_back(plain_xlsx), unit.unit
        marked += [c for _, cells in seen.values() for c in cells.values() if c[2] and c[3][0] == "solid"]
        assert docx_read_back(fast_docx) == docx_read_back(report.path), unit.unit
        assert (rec.errors, rec.warnings) == (len(unit.errors), len(unit.open_warnings))
    assert marked


def test_removed_input_takes_its_outputs_along(tmp_path):
    inp = copy_samples(tmp_path / "input")
    opts = BatchOptions(input_dir=inp, output_dir=tmp_path / "output", jobs=1)
    first = run_batch(opts)
    rec = next(r for r in first.records if r.unit == "示例市东城区市场监督管理局")
    (inp / rec.input).unlink()
    second = run_batch(opts)
    assert second.removed == 1 and not (tmp_path / "output" / rec.outputs["docx"]).exists()
    assert "示例市东城区市场监督管理局" not in {r.unit for r in second.records}


@needs_soffice
def test_pdf_for_every_report_in_one_go(tmp_path):
    inp = tmp_path / "input"
    inp.mkdir()
    for name in ("示例市东城区教育局2025年统计表.xlsx", "示例市东城区市场监督管理局2025年统计表.xlsx"):
        shutil.copy(SAMPLES / name, inp)
    result = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "output", jobs=1, pdf=True))
    for r in result.records:
        pdf = tmp_path / "output" / r.outputs["pdf"]
        assert pdf.suffix == ".pdf" and pdf.read_bytes().startswith(b"%PDF")


def test_discover_skips_lock_and_hidden_files(tmp_path):
    for rel in ("a.xlsx", "sub/b.xls", "sub/c.ods", "~$a.xlsx", ".x.xlsx", ".hidden/d.xlsx", "e.docx", "f.csv"):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    assert [str(p.relative_to(tmp_path)) for p in discover(tmp_path)] == ["a.xlsx", "sub/b.xls", "sub/c.ods"]
    for rel in ("Thumbs.db", "sub/desktop.ini", ".DS_Store", "g.et"):
        (tmp_path / rel).write_bytes(b"x")
    assert [str(p.relative_to(tmp_path)) for p in input_files(tmp_path)] == [
        "a.xlsx",
        "e.docx",
        "f.csv",
        "g.et",
        "sub/b.xls",
        "sub/c.ods",
    ]


# --------------------------------------------------------------------------- command line


def test_cli_batch_json_and_exit_codes(tmp_path):
    inp = copy_samples(tmp_path / "input")
    runner = CliRunner()
    res = runner.invoke(app, ["batch", str(inp), "-o", str(tmp_path / "out"), "--json", "--jobs", "1"])
    data = json.loads(res.stdout)
    assert res.exit_code == 1 == data["exit_code"]  # the sample with mistakes
    assert data["counts"]["有错误"] >= 1 and len(data["files"]) == len(SAMPLE_UNITS)
    (inp / "示例市东城区自然资源局2025年统计表（有错误）.xlsx").unlink()
    (inp / "张店区科学技术局2017年政府信息公开工作情况统计表.xlsx").unlink()  # the seed has errors too
    res = runner.invoke(app, ["batch", str(inp), "-o", str(tmp_path / "out"), "--jobs", "1"])
    assert res.exit_code == 0, res.output
    assert "处理结果" in res.output and "汇总" in res.output


def test_cli_creates_the_default_input_folder_with_a_hint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["batch"])
    assert res.exit_code == 2 and (tmp_path / "input").is_dir()
    assert "已创建文件夹 input" in res.output and "请把各单位填好的统计表" in res.output
    assert "gkreport template" in res.output and "input_templates" in res.output
    assert not (tmp_path / "output").exists()


@pytest.mark.parametrize("command", ["batch", "watch"])
def test_cli_an_input_folder_that_is_not_there_is_an_error(tmp_path, command):
    """A mistyped folder name is said, not made into a new empty folder (only the default input/ is)."""
    missing = tmp_path / "2025年统计表（错字）"
    rounds = ["--rounds", "1"] if command == "watch" else []
    res = CliRunner().invoke(app, [command, str(missing), "-o", str(tmp_path / "out"), *rounds])
    assert res.exit_code == 2, res.output
    assert f"找不到输入文件夹 {missing}" in res.output
    assert not missing.exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("ignored", [(), ("~$单位00.xlsx", ".DS_Store", "Thumbs.db", "desktop.ini", ".hidden/a.xlsx")])
def test_cli_an_empty_input_folder_says_where_the_workbooks_go(tmp_path, ignored):
    inp = tmp_path / "input"
    inp.mkdir()
    for rel in ignored:
        (inp / rel).parent.mkdir(parents=True, exist_ok=True)
        (inp / rel).write_bytes(b"x")
    res = CliRunner().invoke(app, ["batch", str(inp), "-o", str(tmp_path / "out")])
    assert res.exit_code == 2, res.output
    text = "".join(res.output.split())  # as one line, whatever the console's width
    assert f"输入文件夹{inp}中没有要处理的文件" in text and "请把各单位填好的统计表" in text
    assert "gkreporttemplate" in text and "input_templates" in text
    assert ("锁文件、隐藏文件或系统文件" in text) == bool(ignored)
    assert not (tmp_path / "out").exists()  # no empty reports


def test_cli_an_input_folder_holding_only_the_roster_is_empty(tmp_path):
    import openpyxl

    inp = tmp_path / "input"
    inp.mkdir()
    wb = openpyxl.Workbook()
    wb.active.append(["单位名称"])
    wb.active.append(["某某区教育局"])
    wb.save(inp / "名单.xlsx")
    res = CliRunner().invoke(app, ["batch", str(inp), "-o", str(tmp_path / "out"), "--roster", str(inp / "名单.xlsx")])
    text = "".join(res.output.split())
    assert res.exit_code == 2 and "中没有要处理的文件。" in text and "锁文件" not in text
    assert not (tmp_path / "out").exists()


def test_watch_waits_on_an_empty_input_folder(tmp_path):
    inp = tmp_path / "input"
    inp.mkdir()
    res = CliRunner().invoke(
        app, ["watch", str(inp), "-o", str(tmp_path / "out"), "--rounds", "1", "--interval", "0.2"]
    )
    assert res.exit_code == 0, res.output
    assert "中还没有要处理的文件" in res.output and "正在监视" in res.output


def test_ctrl_c_stops_cleanly_and_a_rerun_continues(tmp_path):
    inp = tmp_path / "input"
    inp.mkdir()
    for i in range(12):
        for src in SAMPLES.glob("示例市东城区教育局*.xlsx"):
            wb = load_workbook(src)
            info = wb["基本信息"]
            for row in info.iter_rows():
                if str(row[0].value).startswith("单位名称"):
                    row[1].value = f"示例市第{i:02d}中学"
            wb.save(inp / f"单位{i:02d}.xlsx")
    before = digest(inp)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gkreport", "batch", str(inp), "-o", str(tmp_path / "out"), "--jobs", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "120"},
    )
    deadline = time.time() + 60
    manifest = tmp_path / "out" / ".gkreport" / "manifest.json"
    while time.time() < deadline and len(list((tmp_path / "out").rglob("*.docx"))) < 3:  # two units done
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    text = err.decode()
    assert proc.returncode in (130, 0, 1), text
    assert "Traceback" not in text, text
    if proc.returncode == 130:
        assert "已中断" in text
    assert not list((tmp_path / "out").rglob(".gkreport-tmp-*"))
    assert manifest.exists()
    result = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=1))
    assert result.skipped >= 1 and result.processed + result.skipped == 12
    assert all((tmp_path / "out" / r.outputs["docx"]).exists() for r in result.records)
    assert digest(inp) == before


@pytest.mark.skipif(not hasattr(signal, "raise_signal"), reason="needs signal.raise_signal")
def test_a_ctrl_c_that_lands_in_a_finalizer_still_stops_the_run(tmp_path, capsys):
    """Python raises KeyboardInterrupt wherever the main thread is; inside a finalizer it is swallowed
    (and printed with a traceback). The run must stop all the same, at the next unit, without the traceback."""
    import gc

    inp = tmp_path / "input"
    write_unit_workbooks(inp, [f"示例市第{i:02d}中学" for i in range(6)])
    out = tmp_path / "out"
    told: list[str] = []

    class PressesCtrlC:
        def __del__(self) -> None:
            signal.raise_signal(signal.SIGINT)
            told.append("pressed")  # the handler runs by here, inside this finalizer

    def progress(kind, rec, done, total):
        if kind == "done" and done == 2:
            PressesCtrlC()  # collected at once: the signal arrives inside __del__
            gc.collect()

    with pytest.raises(KeyboardInterrupt):
        run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1), progress)
    assert told == []  # the interrupt did land inside the finalizer (and was swallowed there)
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    kept = _manifest(out)["inputs"]
    assert 2 <= len(kept) < 6  # stopped at the next unit, not after all of them
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # given back
    again = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1))
    assert again.skipped == len(kept) and again.processed == 6 - len(kept)


@pytest.mark.skipif(sys.platform == "win32", reason="the pipe is written as on POSIX")
def test_stopping_the_pool_when_a_worker_died_halfway_through_its_answer_does_not_hang(tmp_path):
    """A worker ended by Ctrl-C while sending its records leaves half a message in the result pipe.
    The pool's manager thread then waits for the rest; Python waits for that thread at exit, so
    gkreport printed 已中断 and never ended. Stopping the pool must end that thread."""
    import multiprocessing as mp
    import struct
    from concurrent.futures import ProcessPoolExecutor

    from gkreport.batch import _stop_pool

    pool = ProcessPoolExecutor(max_workers=2, mp_context=mp.get_context("spawn"))
    running = pool.submit(time.sleep, 30)  # a worker busy with a chunk
    time.sleep(0.5)
    manager, answers = pool._executor_manager_thread, pool._result_queue
    assert manager is not None and manager.is_alive()
    # half an answer: a header promising 1000 bytes, then 10 of them
    answers._writer._send(struct.pack("!i", 1000) + b"x" * 10)
    time.sleep(0.3)  # the manager thread is now reading it, and waits for the rest
    try:
        _stop_pool(pool)
        manager.join(10)
        assert not manager.is_alive(), "the pool's manager thread still waits: the program could not exit"
        assert running.done()
    finally:
        if manager.is_alive():  # leave no thread behind for pytest to wait on
            answers._writer.close()
            manager.join(10)


# --------------------------------------------------------------------------- watch


def test_watch_takes_files_once_they_stop_changing(tmp_path):
    inp = tmp_path / "input"
    inp.mkdir()
    shutil.copy(SAMPLES / "示例市东城区教育局2025年统计表.xlsx", inp / "a.xlsx")
    seen: list[str] = []
    rounds = {"n": 0}
    growing = inp / "b.xlsx"
    data = (SAMPLES / "示例市东城区市场监督管理局2025年统计表.xlsx").read_bytes()

    def stop() -> bool:
        rounds["n"] += 1
        if rounds["n"] == 1:
            growing.write_bytes(data[: len(data) // 2])  # being copied …
        elif rounds["n"] == 2:
            assert seen == ["a.xlsx"]  # a is stable after one round; b is still changing
            growing.write_bytes(data)  # … copy finished
        elif rounds["n"] == 3:
            assert seen == ["a.xlsx"]  # b changed again: held back once more
        return rounds["n"] >= 4

    opts = BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=1)
    watch_folder(opts, interval=0.05, on_record=lambda r: seen.append(r.input), stop=stop)
    assert seen == ["a.xlsx", "b.xlsx"]  # b was never read half-written
    summary = tmp_path / "out" / "2025" / "汇总" / "2025年政府信息公开工作汇总.xlsx"
    wb = load_workbook(summary)
    names = [str(c.value) for row in wb["报送情况"].iter_rows() for c in row if c.value]
    assert any("示例市东城区市场监督管理局" in n for n in names)


# --------------------------------------------------------------------------- manifest and memory


def _manifest(out: Path) -> dict:
    return json.loads((out / ".gkreport" / "manifest.json").read_text(encoding="utf-8"))


def test_manifest_keeps_values_as_rows_in_the_forms_cell_order(sample_run):
    from decimal import Decimal

    from gkreport.batch import MANIFEST_FORMAT, RowValues, _load_manifest, record_unit
    from gkreport.pipeline import check_files
    from gkreport.spec import load_form

    base, inp, result, _ = sample_run
    out = base / "output"
    data = _manifest(out)
    assert data["format"] == MANIFEST_FORMAT
    assert set(data["forms"]) == {"2017", "2021"}
    for fid, info in data["forms"].items():
        assert info["cells"] == list(load_form(fid).cells) and info["spec_hash"] == load_form(fid).spec_hash
    lines = (out / ".gkreport" / "manifest.json").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 + len(SAMPLE_UNITS) + 1  # header, forms, one line per input, end
    for rel, entry in data["inputs"].items():
        assert entry["input"] == rel and len(entry["values"]) == len(data["forms"][entry["form"]]["cells"])
    # a record gives back the values read, by cell id (decimals exact)
    records = _load_manifest(BatchOptions(input_dir=inp, output_dir=out))
    read = {u.file.name: u for u in check_files(sorted(inp.glob("*.xlsx"))).units}
    for rel, rec in records.items():
        unit = record_unit(rec)
        assert isinstance(unit.values, RowValues)
        want = read[rel].values
        for cid in unit.form.cells:
            got = unit.values.get(cid)
            assert got == want.get(cid) and type(got) is type(want.get(cid)), (rel, cid)
            assert unit.values.is_blank(cid) == (got is None), (rel, cid)  # the summary's quick question
            if isinstance(got, Decimal):
                assert got.as_tuple() == want[cid].as_tuple()
        assert unit.values.is_blank("no.such.cell") and unit.values.get("no.such.cell") is None
        assert rec == next(r for r in result.records if r.input == rel)


def test_older_manifest_format_is_taken_as_absent(tmp_path):
    inp = tmp_path / "input"
    inp.mkdir()
    for name in ("示例市东城区教育局2025年统计表.xlsx", "示例市东城区市场监督管理局2025年统计表.xlsx"):
        shutil.copy(SAMPLES / name, inp)
    out = tmp_path / "output"
    opts = BatchOptions(input_dir=inp, output_dir=out, jobs=1)
    first = run_batch(opts)
    summary = out / "2025" / "汇总" / "2025年政府信息公开工作汇总.xlsx"
    before = xml_parts(summary)
    # the format before version 2: values by cell id, no "format", no "forms"
    old = _manifest(out)
    for entry in old["inputs"].values():
        cells = old["forms"][entry["form"]]["cells"]
        entry["values"] = dict(zip(cells, entry["values"]))
    del old["format"], old["forms"]
    (out / ".gkreport" / "manifest.json").write_text(json.dumps(old, ensure_ascii=False), encoding="utf-8")
    again = run_batch(opts)
    assert (again.processed, again.skipped) == (len(first.records), 0)  # done again, nothing lost
    assert all((out / r.outputs["docx"]).exists() for r in again.records)
    assert _manifest(out)["format"] == 2
    assert xml_parts(summary) == before
    third = run_batch(opts)
    assert (third.processed, third.skipped) == (0, len(first.records))
    assert xml_parts(summary) == before  # the summary from the records kept in the manifest


def test_manifest_saved_in_another_cell_order_is_read_by_cell_id(tmp_path):
    from gkreport.batch import _load_manifest

    inp = tmp_path / "input"
    inp.mkdir()
    shutil.copy(SAMPLES / "示例市东城区教育局2025年统计表.xlsx", inp)
    out = tmp_path / "output"
    first = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1))
    data = _manifest(out)
    cells = data["forms"]["2021"]["cells"]
    order = list(reversed(cells))[:-1] + ["t9.no_such.cell"]  # another order, a cell dropped, an unknown cell
    for entry in data["inputs"].values():
        by_id = dict(zip(cells, entry["values"]))
        entry["values"] = [by_id.get(c) for c in order]
    data["forms"]["2021"]["cells"] = order
    (out / ".gkreport" / "manifest.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    rec = _load_manifest(BatchOptions(input_dir=inp, output_dir=out))["示例市东城区教育局2025年统计表.xlsx"]
    want = first.records[0].values
    assert len(rec.values) == len(want)
    assert list(rec.values) == [None if c == cells[0] else v for c, v in zip(cells, want)]


def test_manifest_is_written_atomically_entry_by_entry(tmp_path, monkeypatch):
    from gkreport import batch

    inp = copy_samples(tmp_path / "input")
    out = tmp_path / "output"
    opts = BatchOptions(input_dir=inp, output_dir=out, jobs=1)
    run_batch(opts)
    path = out / ".gkreport" / "manifest.json"
    saved = path.read_bytes()
    records = batch._load_manifest(opts)
    calls = []
    real_dumps = json.dumps

    def failing_dumps(obj, *args, **kwargs):
        calls.append(obj)
        if len(calls) == 4:  # the header, two entries … then the disk is full
            raise OSError(28, "No space left on device")
        return real_dumps(obj, *args, **kwargs)

    monkeypatch.setattr(batch.json, "dumps", failing_dumps)
    with pytest.raises(OSError):
        batch._save_manifest(opts, records)
    monkeypatch.undo()
    assert path.read_bytes() == saved  # the last complete manifest stays
    assert not list(out.rglob(".gkreport-tmp-*"))
    # each entry is serialised on its own: nothing the size of the whole manifest is built
    assert all(not isinstance(c, dict) or "inputs" not in c for c in calls)
    batch._save_manifest(opts, records)
    assert batch._load_manifest(opts) == records


def test_streamed_detail_sheet_is_the_same_workbook(sample_run, tmp_path, monkeypatch):
    """分单位明细 keeps only the cells with findings until it is written out; the file is the
    same as when every cell is kept."""
    from gkreport import xlsx_out
    from gkreport.batch import _load_manifest, record_unit

    base, inp, _, _ = sample_run
    records = _load_manifest(BatchOptions(input_dir=inp, output_dir=base / "output"))
    units = [u for u in map(record_unit, records.values()) if u is not None and u.year == 2025]
    assert len(units) >= 4 and any(u.findings for u in units)
    units = units * 3  # more columns, the same unit names (told apart by file name)
    streamed = xlsx_out.write_summary_xlsx(units, tmp_path / "streamed.xlsx", [("坏.xlsx", "无法读取")])
    monkeypatch.setattr(xlsx_out, "_STREAM_DETAIL", False)
    kept = xlsx_out.write_summary_xlsx(units, tmp_path / "kept.xlsx", [("坏.xlsx", "无法读取")])
    assert xml_parts(streamed) == xml_parts(kept)
    wb = load_workbook(streamed)
    ws = wb["分单位明细"]
    assert ws.max_row == 3 + len(units) + 1 and ws.cell(ws.max_row, 1).value == "合计"


def test_workers_report_their_peak_memory(tmp_path):
    inp = copy_samples(tmp_path / "input")
    pool = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "two", jobs=2, chunk_size=2))
    single = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "one", jobs=1))
    assert single.worker_peak_mb == 0.0
    if sys.platform != "win32":
        assert 20 < pool.worker_peak_mb < 2000


def test_two_files_use_the_pool_started_while_hashing(tmp_path, monkeypatch):
    """Even two files go to the worker processes (big files are read side by side), and the fork
    server is started early only when there is work: new files, not a rerun with nothing changed."""
    from multiprocessing import forkserver

    inp = tmp_path / "input"
    inp.mkdir()
    for name in ("示例市东城区教育局2025年统计表.xlsx", "示例市东城区市场监督管理局2025年统计表.xlsx"):
        shutil.copy(SAMPLES / name, inp)
    opts = BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=2)
    first = run_batch(opts)
    assert first.processed == 2 and first.worker_peak_mb > 0  # reported by a worker process
    assert {r.status for r in first.records} <= {"通过", "有提示", "有错误"}
    started: list[bool] = []
    monkeypatch.setattr(forkserver, "ensure_running", lambda: started.append(True))
    again = run_batch(opts)
    assert (again.skipped, started) == (2, [])
    (inp / "示例市东城区教育局2025年统计表.xlsx").rename(inp / "教育局.xlsx")  # a new name: work ahead
    run_batch(opts)
    assert started


@pytest.mark.slow
def test_a_worker_that_dies_costs_only_its_file(tmp_path):
    """A file that kills its worker process is reported; every other file is still processed."""
    import crashing_worker
    from gkreport.batch import _run_pool
    from gkreport.enums import Status

    inp = copy_samples(tmp_path / "input")
    shutil.copy(inp / "示例市东城区教育局2025年统计表.xlsx", inp / "崩溃.xlsx")
    opts = BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=2)
    items = _pool_items(inp)
    got: dict = {}
    _run_pool(
        [items[i : i + 2] for i in range(0, len(items), 2)],
        opts,
        2,
        {},
        lambda recs: got.update({r.input: r for r in recs}),
        worker=crashing_worker.chunk,
    )
    assert set(got) == {rel for _, rel, _ in items}
    assert got["崩溃.xlsx"].status == Status.UNREADABLE and "异常退出" in got["崩溃.xlsx"].reason
    assert all(r.status != Status.UNREADABLE for rel, r in got.items() if rel != "崩溃.xlsx")


def _pool_items(inp: Path) -> list[tuple[str, str, str]]:
    return [(str(p), str(p.relative_to(inp)), hashlib.sha256(p.read_bytes()).hexdigest()) for p in discover(inp)]


@pytest.mark.slow
def test_when_no_worker_process_can_work_the_files_are_not_called_damaged(tmp_path):
    """Worker processes that die whatever they do (ended by security software, say) must not make
    every file 无法读取 “可能已损坏”: the files are done in the main process, and the run says why."""
    import crashing_worker
    from gkreport.batch import WORKERS_FAILED, _run_pool
    from gkreport.enums import Status

    inp = copy_samples(tmp_path / "input")
    opts = BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=2)
    items = _pool_items(inp)
    got: dict = {}
    notices: list[str] = []
    _run_pool(
        [items[i : i + 2] for i in range(0, len(items), 2)],
        opts,
        2,
        {},
        lambda recs: got.update({r.input: r for r in recs}),
        worker=crashing_worker.always,
        notices=notices,
    )
    assert set(got) == {rel for _, rel, _ in items}
    assert all(r.status in (Status.PASSED, Status.WARNINGS, Status.ERRORS) for r in got.values()), got
    assert all((opts.output_dir / r.outputs["docx"]).exists() for r in got.values())
    assert notices == [WORKERS_FAILED.format(n=len(items))]


def test_when_worker_processes_cannot_be_made_the_batch_runs_in_one_process(tmp_path, monkeypatch):
    import concurrent.futures

    from gkreport.fileio import os_reason

    def refused(*args, **kwargs):
        raise OSError(38, "Function not implemented")  # no semaphores (some containers, some NAS systems)

    inp = copy_samples(tmp_path / "input")
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", refused)
    result = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=2, chunk_size=1))
    n = len(discover(inp))
    assert result.processed == n and all(r.status in ("通过", "有提示", "有错误") for r in result.records)
    assert [m for m in result.messages if "工作进程" in m] == [
        f"无法创建处理程序的工作进程（{os_reason(OSError(38, 'Function not implemented'))}），{n} 个文件改在主进程中逐个处理；结果不受影响，只是较慢。"
    ]


# --------------------------------------------------------------------------- a district's year


def write_district(folder: Path, roster_names: list[str] | None = None) -> tuple[Path, Path]:
    """The five departments' workbooks (one on the 2019 form, one with an error), the district's own
    workbook (its tables left blank) and a roster with one unit that never submitted."""
    import openpyxl

    from conftest import DEPARTMENT_TEXT, DISTRICT_META, DISTRICT_TEXT, department_meta, district_departments
    from gkreport.spec import load_form
    from gkreport.template import write_template

    inp = folder / "input"
    inp.mkdir(parents=True)
    for name, (fid, values) in district_departments().items():
        write_template(load_form(fid), inp / f"{name}2025年统计表.xlsx", values, department_meta(name), DEPARTMENT_TEXT)
    write_template(load_form("2021"), inp / "某某区人民政府2025年基本信息.xlsx", None, DISTRICT_META, DISTRICT_TEXT)
    wb = openpyxl.Workbook()
    wb.active.append(["单位名称", "邮箱"])
    for name in roster_names or [*district_departments(), "某某区审计局"]:
        wb.active.append([name, "gk@example.gov.cn"])
    roster = folder / "名单.xlsx"
    wb.save(roster)
    return inp, roster


@pytest.fixture(scope="module")
def district_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("district")
    inp, roster = write_district(base)
    opts = BatchOptions(input_dir=inp, output_dir=base / "output", jobs=2, summary_unit="某某区人民政府", roster=roster)
    return base, opts, run_batch(opts)


def test_district_year_has_one_summary_and_one_report(district_run):
    _, opts, result = district_run
    out = opts.output_dir / "2025" / "汇总"
    assert sorted(p.name for p in out.iterdir()) == [
        "2025年政府信息公开工作汇总.xlsx",
        "某某区人民政府2025年政府信息公开工作年度报告.docx",
    ]
    (year,) = result.years
    assert year.form == "2021" and year.mapped == ["某某区民政局"] and year.unsummed == []
    assert sorted(year.summed) == sorted(
        ["某某区教育局", "某某区住房和城乡建设局", "某某区市场监督管理局", "某某区卫生健康局", "某某区民政局"]
    )
    assert [s.name for s in year.not_submitted] == ["某某区审计局"]
    # the district's own workbook is not a department: no report of its own (its tables are blank)
    own = next(r for r in result.records if r.unit == "某某区人民政府")
    assert own.outputs == {} and "汇总单位本身" in (own.reason or "")
    assert not (opts.output_dir / "2025" / "某某区人民政府").exists()
    # the 2019 department passed its own checks but is listed among the files that need attention
    assert "2019年版" in result.attention["某某区民政局2025年统计表.xlsx"]
    assert any("某某区民政局" in m and "已换算" in m for m in result.messages)


def test_district_report_and_summary_figures_are_the_departments_sums(district_run):
    """Read the district .docx and .xlsx back and compare every figure with the sum of the departments."""
    from gkreport.spec import load_form
    from test_docx_out import Docx, _value_positions, table_grid
    from test_summary import expected_sums
    from test_xlsx_out import read_summary_tables, same_number

    _, opts, _ = district_run
    form = load_form("2021")
    want = expected_sums()
    folder = opts.output_dir / "2025" / "汇总"
    shown = read_summary_tables(load_workbook(folder / "2025年政府信息公开工作汇总.xlsx"), form, 2025)
    assert shown and all(same_number(v, want[cid]) for cid, v in shown.items()), [
        (c, v, want[c]) for c, v in shown.items() if not same_number(v, want[c])
    ]
    d = Docx(folder / "某某区人民政府2025年政府信息公开工作年度报告.docx")
    tables = d.tables()
    checked = 0
    for i, tid in enumerate(("t2", "t3", "t4")):
        grid = table_grid(tables[i])
        found = _blocks_positions(form, grid) if tid == "t2" else _value_positions(form, tid, grid)
        for cid, (r, c) in found.items():
            w = want[cid]
            assert grid[r][c] == ("" if w is None else str(w)), cid
            checked += 1
    assert checked == len([c for t in ("t2", "t3", "t4") for c in form.tables[t].cells if not form.cells[c].optional])
    text = "".join(d.texts())
    # the sentences state the same sums (each doubtful one marked)
    assert f"本年度共收到政府信息公开申请{want['t3.new.total']}件【待核实" in text
    assert f"上年结转{want['t3.carry.total']}件" in text
    assert f"办结{want['t3.total.total']}件" in text
    assert f"作出行政许可决定{want['t2.licensing.decisions']}件" in text
    assert "请填写" not in text


def _blocks_positions(form, grid) -> dict[str, tuple[int, int]]:
    """表二 (blocks of 第二十条…): cell id → (row, col), found by the row label and the block's header."""
    t = form.tables["t2"]
    by_label = {n.label: n for n in t.rows.values() if not n.children}
    by_column = {c.label: c.id for c in t.value_columns()}
    out: dict[str, tuple[int, int]] = {}
    header: list[str] = []
    for r, row in enumerate(grid):
        if row[0] == t.label_header:
            header = row
        elif row[0] in by_label:
            for c, col in enumerate(header[1:], start=1):
                cid = f"t2.{by_label[row[0]].id}.{by_column[col]}"
                out.setdefault(cid, (r, c))  # a value spread over merged columns: its first position
    return out


def test_district_summary_workbook_marks_the_sum_and_names_the_departments(district_run):
    _, opts, _ = district_run
    wb = load_workbook(opts.output_dir / "2025" / "汇总" / "2025年政府信息公开工作汇总.xlsx")
    head = [c.value for c in wb["审核结果"][2]]
    rule, level, note = head.index("编号"), head.index("级别"), head.index("问题说明")
    findings = list(wb["审核结果"].iter_rows(min_row=3, values_only=True))
    sums = [row for row in findings if row[1] == "某某区人民政府"]
    assert sums and findings[: len(sums)] == sums  # the sum's findings come first
    wrong = next(row for row in sums if "t3.csum.new.total" in str(row[rule]).split("、"))
    assert "某某区卫生健康局" in wrong[note] and wrong[level] == "错误"
    assert any(row[rule] == "SUM.mapped" and "某某区民政局" in row[note] for row in sums)
    assert any(row[rule] == "SUM.missing" and "某某区审计局" in row[note] for row in sums)
    ws = wb["汇总表（三）"]
    marked = [c for row in ws.iter_rows() for c in row if c.comment and "行合计不符" in c.comment.text]
    assert marked and all(c.fill.fgColor.rgb not in (None, "00000000") for c in marked)
    assert any("某某区卫生健康局" in c.comment.text for c in marked)
    status = {row[2]: row for row in wb["报送情况"].iter_rows(min_row=3, values_only=True)}
    assert status["某某区民政局"][8] == "换算后计入" and "2019年版" in status["某某区民政局"][10]
    assert status["某某区人民政府"][8] == "否" and "汇总单位" in status["某某区人民政府"][10]
    assert status["某某区审计局"][5] == "未报送" and status["某某区审计局"][1] is None
    assert status["某某区卫生健康局"][9].startswith("有错误") and status["某某区教育局"][9].startswith("已报送")
    assert "未报送 1 个" in wb["报送情况"]["A1"].value


def test_district_rerun_skips_and_keeps_the_districts_text(district_run):
    from test_docx_out import Docx

    _, opts, first = district_run
    again = run_batch(opts)
    assert (again.processed, again.skipped) == (0, len(first.records))
    texts = Docx(opts.output_dir / "2025" / "汇总" / "某某区人民政府2025年政府信息公开工作年度报告.docx").texts()
    assert "本年度全区各部门均未收取信息处理费。" in texts and not any("请填写" in t for t in texts)
    assert [s.name for s in again.years[0].not_submitted] == ["某某区审计局"]


def test_batch_roster_in_the_terminal(tmp_path):
    """The count and names of 未报送, and 是否为…？ for a roster name near a submitted unit."""
    names = [
        "某某区教育局",
        "某某区住房和城乡建设局",
        "某某区市场监督管理局",
        "某某区卫健局",
        "某某区民政局",
        "某某区审计局",
    ]
    inp, roster = write_district(tmp_path, names)
    res = CliRunner().invoke(
        app,
        [
            "batch",
            str(inp),
            "-o",
            str(tmp_path / "out"),
            "--roster",
            str(roster),
            "--summary-unit",
            "某某区人民政府",
            "-j",
            "1",
        ],
        env={"COLUMNS": "200"},
    )
    assert res.exit_code == 1, res.output
    assert "未报送 2 个：某某区卫健局、某某区审计局" in res.output
    assert "名单第 5 行“某某区卫健局”：是否为“某某区卫生健康局”？" in res.output
    assert "“某某区卫生健康局”已报送，但不在名单中；是否为名单中的“某某区卫健局”？" in res.output
    assert "某某区民政局2025年统计表.xlsx" in res.output  # 需要处理的文件: an outdated form
    res = CliRunner().invoke(
        app, ["batch", str(inp), "-o", str(tmp_path / "o2"), "--roster", str(tmp_path / "无.xlsx")]
    )
    assert res.exit_code == 2 and "找不到名单文件" in res.output


def test_district_report_asks_about_a_roster_name_near_a_summed_unit(tmp_path):
    """The roster writes 某某区卫健局, the department's workbook 某某区卫生健康局: its figures are in the
    sum, so the report does not say flatly that the sum leaves 某某区卫健局 out; it asks, as the
    terminal and 报送情况 do, and still says that 某某区审计局 (no near unit) is left out."""
    from conftest import district_departments
    from test_docx_out import Docx

    names = [*district_departments(), "某某区审计局"]
    names[names.index("某某区卫生健康局")] = "某某区卫健局"
    inp, roster = write_district(tmp_path, names)
    opts = BatchOptions(
        input_dir=inp, output_dir=tmp_path / "out", jobs=1, summary_unit="某某区人民政府", roster=roster
    )
    result = run_batch(opts)
    assert "某某区卫生健康局" in result.years[0].summed
    folder = opts.output_dir / "2025" / "汇总"
    texts = Docx(folder / "某某区人民政府2025年政府信息公开工作年度报告.docx").texts()
    (said,) = [t for t in texts if "名单中有" in t]
    assert "某某区卫健局（是否为已计入汇总的“某某区卫生健康局”？）、某某区审计局；汇总数不含这些单位" in said
    assert "如为同一单位，则汇总数已含其数字" in said
    ws = load_workbook(folder / "2025年政府信息公开工作汇总.xlsx")["审核结果"]
    head = [c.value for c in ws[2]]
    rows = list(ws.iter_rows(min_row=3, values_only=True))
    (row,) = [r for r in rows if r[head.index("编号")] == "SUM.missing"]
    assert "是否为已计入汇总的“某某区卫生健康局”？" in row[head.index("问题说明")]


def test_the_districts_own_blank_tables_are_not_a_提示(tmp_path):
    """The district's own workbook leaves its tables blank, as it may (the report's tables are the
    departments' sum): no 表二未填写（没有发生的事项请填 0） telling the office to type figures, and
    the file is 通过 in the terminal's counts, 审核报告 and 报送情况."""
    inp, roster = write_district(tmp_path)
    out = tmp_path / "out"
    opts = BatchOptions(input_dir=inp, output_dir=out, jobs=1, summary_unit="某某区人民政府", roster=roster)
    result = run_batch(opts)
    own = next(r for r in result.records if r.unit == "某某区人民政府")
    assert (own.status, own.warnings) == ("通过", 0)
    audit = json.loads((out / "2025" / "审核报告.json").read_text(encoding="utf-8"))
    entry = next(u for u in audit["units"] if u["unit"] == "某某区人民政府")
    assert (entry["status"], entry["warnings"]) == ("通过", 0)
    ws = load_workbook(out / "2025" / "审核报告.xlsx")["审核结果"]
    assert not [r for r in ws.iter_rows(values_only=True) if r[0] == "某某区人民政府"]
    status = load_workbook(out / "2025" / "汇总" / "2025年政府信息公开工作汇总.xlsx")["报送情况"]
    row = next(r for r in status.iter_rows(min_row=3, values_only=True) if r[2] == "某某区人民政府")
    assert (row[5], row[7]) == ("通过", 0)
    res = CliRunner().invoke(app, ["batch", str(inp), "-o", str(out), "--force", "-j", "1"], env={"COLUMNS": "200"})
    assert "│ 通过         │      4 │" in res.output and "│ 有提示       │      1 │" in res.output


def test_a_roster_unit_whose_workbook_reads_as_last_year_is_told_so(tmp_path):
    """某某区审计局 sends 某某区审计局2025年统计表.xlsx with 年度 2024 left in 基本信息: the file goes to
    2024. The 2025 roster check, 报送情况, the district report and the mail plan say that its file was
    read as 2024's, rather than only 未报送 or 请核对单位名称 (its name is right)."""
    from conftest import DEPARTMENT_TEXT, department_meta, district_departments
    from gkreport import mail
    from gkreport.spec import load_form
    from gkreport.template import write_template
    from test_docx_out import Docx

    inp, roster = write_district(tmp_path)
    _, values = district_departments()["某某区教育局"]
    meta = dict(department_meta("某某区审计局"), year=2024)
    write_template(load_form("2021"), inp / "某某区审计局2025年统计表.xlsx", values, meta, DEPARTMENT_TEXT)
    out = tmp_path / "out"
    opts = BatchOptions(input_dir=inp, output_dir=out, jobs=1, summary_unit="某某区人民政府", roster=roster)
    result = run_batch(opts)
    year = next(y for y in result.years if y.year == 2025)
    (sub,) = year.not_submitted
    said = "收到的统计表“某某区审计局2025年统计表.xlsx”是2024年度的，已归入2024年度。"
    assert sub.name == "某某区审计局" and sub.question == said
    res = CliRunner().invoke(app, ["batch", str(inp), "-o", str(out), "--force", "-j", "1"], env={"COLUMNS": "250"})
    assert f"名单第 7 行“某某区审计局”：{said}" in res.output
    status = load_workbook(out / "2025" / "汇总" / "2025年政府信息公开工作汇总.xlsx")["报送情况"]
    row = next(r for r in status.iter_rows(min_row=3, values_only=True) if r[2] == "某某区审计局")
    assert row[5] == "未报送" and said in row[10]
    texts = Docx(out / "2025" / "汇总" / "某某区人民政府2025年政府信息公开工作年度报告.docx").texts()
    assert any("某某区审计局（收到的统计表是2024年度的）" in t for t in texts)
    plan = mail.plan_messages(out, mail.load_settings(cwd=tmp_path), roster=roster, dry_run=True)
    (problem,) = [p for p in plan.problems if p.unit == "某某区审计局"]
    assert "统计表中的年度为 2024 年" in problem.message and "--year 2024" in problem.message
    assert "请核对单位名称" not in problem.message


@needs_soffice
def test_district_report_gets_its_pdf(tmp_path):
    inp, _ = write_district(tmp_path)
    opts = BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=1, summary_unit="某某区人民政府", pdf=True)
    result = run_batch(opts)
    pdf = tmp_path / "out" / "2025" / "汇总" / "某某区人民政府2025年政府信息公开工作年度报告.pdf"
    assert pdf in result.summaries and pdf.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "某某区人民政府" in text and "请填写" not in text


def test_watch_makes_the_district_report_as_files_arrive(tmp_path):
    from test_docx_out import Docx

    inp, roster = write_district(tmp_path)
    own = inp / "某某区人民政府2025年基本信息.xlsx"
    held = own.rename(tmp_path / own.name)  # the district's own workbook comes last
    opts = BatchOptions(
        input_dir=inp, output_dir=tmp_path / "out", jobs=1, summary_unit="某某区人民政府", roster=roster
    )
    watch_folder(opts, interval=0.05, rounds=2)
    report = tmp_path / "out" / "2025" / "汇总" / "某某区人民政府2025年政府信息公开工作年度报告.docx"
    assert any("【请填写：总体情况】" in t for t in Docx(report).texts())
    held.rename(own)
    watch_folder(opts, interval=0.05, rounds=2)
    texts = Docx(report).texts()
    assert not any("请填写" in t for t in texts) and "本年度全区各部门均未收取信息处理费。" in texts


# --------------------------------------------------------------------------- every file of the input folder


def minimal_pdf(text: str = "report") -> bytes:
    """A valid one-page PDF (objects, cross-reference table and trailer with their real offsets)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def minimal_png() -> bytes:
    """A 1×1 white PNG."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\xff\xff"))
        + chunk(b"IEND", b"")
    )


# file name → what its hint says (and that it is the hint of its kind)
OTHER_FILES = {
    "某某区卫生健康局2025年年度报告.docx": "这是文字文档，请报送统计表（.xlsx）",
    "某某区民政局2025年年度报告.pdf": "这是 PDF，无法读取数字，请报送统计表原件（.xlsx）",
    "第二批/统计表.zip": "这是压缩包，请解压后放入",
    "某某区审计局数据.csv": "这是纯文本文件",
    "扫描件.png": "这是图片",
    "某某区司法局.et": "是 WPS 表格文件，但不是本工具能读取的格式",
    "备注.foo": "这不是统计表",
}
IGNORED_FILES = (
    "~$示例市东城区教育局2025年统计表.xlsx",
    ".DS_Store",
    "Thumbs.db",
    "desktop.ini",
    ".gkreport/x.json",
    "._统计表.xlsx",
)


def drop_other_files(inp: Path) -> None:
    """Real files of each kind an office drops into the folder beside the workbooks, and the system's own."""
    import docx

    for rel in [*OTHER_FILES, *IGNORED_FILES]:
        (inp / rel).parent.mkdir(parents=True, exist_ok=True)
    d = docx.Document()
    d.add_paragraph("某某区卫生健康局2025年政府信息公开工作年度报告")
    d.save(inp / "某某区卫生健康局2025年年度报告.docx")
    (inp / "某某区民政局2025年年度报告.pdf").write_bytes(minimal_pdf())
    with zipfile.ZipFile(inp / "第二批/统计表.zip", "w") as z:
        z.write(SAMPLES / "示例市东城区教育局2025年统计表.xlsx", "教育局.xlsx")
    (inp / "某某区审计局数据.csv").write_text("项目,数量\n本年新收政府信息公开申请数量,3\n", encoding="utf-8")
    (inp / "扫描件.png").write_bytes(minimal_png())
    (inp / "某某区司法局.et").write_bytes(b"\x07\x00\x01ET-FORMAT" + bytes(range(200)))  # not the .xls WPS writes
    (inp / "备注.foo").write_bytes(b"x")
    for rel in IGNORED_FILES:
        (inp / rel).write_bytes(b"x")


def test_every_file_of_the_input_folder_is_accounted_for(tmp_path):
    """Workbooks are processed; a .docx, .pdf, .zip, .csv, image, an .et WPS cannot have meant as .xls and
    an unknown file are each 无法读取 with what to do, in the terminal, the JSON, 审核报告 and the summary's
    报送情况; lock, hidden and system files are not mentioned; the exit code is that of an unreadable file."""
    import openpyxl

    inp = tmp_path / "input"
    inp.mkdir()
    shutil.copy(SAMPLES / "示例市东城区教育局2025年统计表.xlsx", inp)
    drop_other_files(inp)
    roster = inp / "名单.xlsx"  # kept with the workbooks: the roster is no submission
    wb = openpyxl.Workbook()
    for row in (["单位名称"], ["示例市东城区教育局"], ["某某区卫生健康局"], ["某某区水务局"]):
        wb.active.append(row)
    wb.save(roster)
    out = tmp_path / "out"
    args = ["batch", str(inp), "-o", str(out), "-j", "1", "--roster", str(roster)]
    res = CliRunner().invoke(app, [*args, "--json"])
    data = json.loads(res.stdout)
    assert res.exit_code == 2 == data["exit_code"]  # as for an unreadable workbook
    files = {f["input"]: f for f in data["files"]}
    assert set(files) == {"示例市东城区教育局2025年统计表.xlsx", *OTHER_FILES}  # the ignored ones are not there
    assert files["示例市东城区教育局2025年统计表.xlsx"]["status"] == "通过"
    for rel, hint in OTHER_FILES.items():
        assert files[rel]["status"] == "无法读取" and hint in files[rel]["reason"], rel
        assert Path(rel).name in files[rel]["reason"]
    assert "请在 WPS 中另存为 .xlsx 后重新放入" in files["某某区司法局.et"]["reason"]
    assert data["processed"] == len(files) and data["skipped"] == 0
    (roster_year,) = data["years"]
    marks = {r["name"]: (r["status"], r["files"]) for r in roster_year["roster"]}
    assert marks["某某区卫生健康局"] == (
        "无法读取",
        ["某某区卫生健康局2025年年度报告.docx"],
    )  # matched by its file name
    assert marks["某某区水务局"] == ("未报送", [])

    report = json.loads((out / "审核报告.json").read_text(encoding="utf-8"))
    assert {u["input"]: u["status"] for u in report["units"] if u["status"] == "无法读取"} == dict.fromkeys(
        OTHER_FILES, "无法读取"
    )
    sheet = load_workbook(out / "审核报告.xlsx")["报送情况"]
    rows = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    for rel, hint in OTHER_FILES.items():
        assert rows[rel][4] == "无法读取" and hint in rows[rel][10], rel
    summary = load_workbook(out / "2025" / "汇总" / "2025年政府信息公开工作汇总.xlsx")["报送情况"]
    cells = [str(c) for row in summary.iter_rows(values_only=True) for c in row if c]
    for rel, hint in OTHER_FILES.items():
        assert any(rel in c for c in cells) and any(hint in c for c in cells), rel
    assert not any(name in c for c in cells for name in ("Thumbs", "desktop.ini", "DS_Store", "~$"))

    # the rerun: the same files are listed again, as they are still there, but as unchanged, not new work
    res = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert res.exit_code == 2, res.output
    text = "".join(res.output.split())
    assert "需要处理的文件" in text
    for rel, hint in OTHER_FILES.items():
        assert rel in text and "".join(hint.split()) in text, rel
    # only the broken .et is read again, as any workbook that could not be read is (it may be readable now)
    assert "本次处理│1" in text and f"未变化跳过│{len(files) - 1}" in text
    assert "未报送2个：某某区卫生健康局（文件无法读取）、某某区水务局" in text
    assert not any(name in text for name in ("Thumbs", "desktop.ini", "DS_Store", "~$示例"))
    # the Office lock file is no submission, but it says its workbook may be open in Excel
    assert "示例市东城区教育局2025年统计表.xlsx旁边有Excel、WPS或LibreOffice打开文件时生成的锁定文件" in text

    # a file taken out of the folder leaves the records; once only workbooks remain, the exit code is theirs
    for rel in OTHER_FILES:
        (inp / rel).unlink()
    again = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1, roster=roster))
    assert [r.input for r in again.records] == ["示例市东城区教育局2025年统计表.xlsx"] and again.exit_code == 0


def test_watch_tells_a_dropped_file_once(tmp_path):
    inp = tmp_path / "input"
    inp.mkdir()
    shutil.copy(SAMPLES / "示例市东城区教育局2025年统计表.xlsx", inp)
    opts = BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=1)
    told: list = []
    rounds = iter(range(100))

    def stop() -> bool:
        n = next(rounds)
        if n == 0:  # after the first round a department drops its report as a PDF
            (inp / "某某区民政局2025年年度报告.pdf").write_bytes(minimal_pdf())
        return n >= 4

    watch_folder(opts, interval=0.05, on_record=told.append, stop=stop)
    assert [(r.input, str(r.status)) for r in told] == [
        ("示例市东城区教育局2025年统计表.xlsx", "通过"),
        ("某某区民政局2025年年度报告.pdf", "无法读取"),
    ]
    assert "这是 PDF" in told[1].reason
    told.clear()
    watch_folder(opts, interval=0.05, on_record=told.append, rounds=2)  # a new watch: nothing is new
    assert told == []


@pytest.mark.skipif(os.name != "posix", reason="umask")
def test_outputs_get_the_users_ordinary_permissions(tmp_path):
    """With umask 002 (a shared folder's group) every file the run writes is 0664, not a temp file's 0600."""
    inp = tmp_path / "input"
    inp.mkdir()
    shutil.copy(SAMPLES / "示例市东城区教育局2025年统计表.xlsx", inp)
    before = os.umask(0o002)
    try:
        run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=1, summary_unit="示例市东城区人民政府"))
    finally:
        os.umask(before)
    out = tmp_path / "out"
    written = [p for p in out.rglob("*") if p.is_file()]
    names = {p.name for p in written}
    assert {"审核报告.json", "审核报告.xlsx", "manifest.json", "2025年政府信息公开工作汇总.xlsx"} <= names
    assert {".docx", ".xlsx"} <= {p.suffix for p in written if "教育局" in p.name}
    assert "示例市东城区人民政府2025年政府信息公开工作年度报告.docx" in names
    assert {str(p.relative_to(out)): oct(p.stat().st_mode & 0o777) for p in written} == {
        str(p.relative_to(out)): "0o664" for p in written
    }


@needs_soffice
def test_wps_et_saved_as_xls_is_read_as_a_workbook(tmp_path):
    """WPS saves .et in the binary .xls format: such a file is read like the .xls it is (made here by
    LibreOffice and named .et); a PDF LibreOffice makes of a Word document is 无法读取 with its hint."""
    import docx

    from gkreport.pdf import convert_to_pdf
    from official_layout import soffice_convert_all

    made = tmp_path / "made"
    made.mkdir()
    shutil.copy(SAMPLES / "示例市东城区住房和城乡建设局2025年统计表.xlsx", made / "住建局.xlsx")
    d = docx.Document()
    d.add_paragraph("某某区民政局2025年政府信息公开工作年度报告")
    d.save(made / "民政局.docx")
    (xls,) = soffice_convert_all([made / "住建局.xlsx"], "xls", made / "xls")
    (pdf,) = convert_to_pdf([made / "民政局.docx"])
    assert pdf is not None and pdf.read_bytes().startswith(b"%PDF")
    inp = tmp_path / "input"
    inp.mkdir()
    shutil.copy(xls, inp / "某某区住房和城乡建设局.et")
    shutil.copy(pdf, inp / "民政局.pdf")
    result = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=1))
    recs = {r.input: r for r in result.records}
    et = recs["某某区住房和城乡建设局.et"]
    assert et.unit == "示例市东城区住房和城乡建设局" and et.year == 2025 and str(et.status) in ("通过", "有提示")
    assert (tmp_path / "out" / et.outputs["docx"]).is_file() and (tmp_path / "out" / et.outputs["xlsx"]).is_file()
    assert str(recs["民政局.pdf"].status) == "无法读取" and "这是 PDF" in recs["民政局.pdf"].reason


def test_fast_detail_rows_are_the_cells_xlsxwriter_writes(sample_run, tmp_path, monkeypatch):
    """分单位明细's streamed rows written as XML by gkreport are byte for byte the cells XlsxWriter
    writes from cell objects: numbers, blanks, decimals, cells with findings and their comments."""
    from gkreport import xlsx_out
    from gkreport.batch import _load_manifest, record_unit

    base, inp, _, _ = sample_run
    records = _load_manifest(BatchOptions(input_dir=inp, output_dir=base / "output"))
    units = [u for u in map(record_unit, records.values()) if u is not None and u.year == 2025]
    assert any(u.findings for u in units)
    assert any(isinstance(v, Decimal) for u in units for v in u.values.values())  # the format follows the value
    units = units * 7  # more than 16 rows: several blocks of row spans
    fast = xlsx_out.write_summary_xlsx(units, tmp_path / "fast.xlsx", [("坏.xlsx", "无法读取")])
    monkeypatch.setattr(xlsx_out, "_FAST_DETAIL", False)
    cells = xlsx_out.write_summary_xlsx(units, tmp_path / "cells.xlsx", [("坏.xlsx", "无法读取")])
    assert xml_parts(fast) == xml_parts(cells)
    ws = load_workbook(fast)["分单位明细"]
    assert ws.max_row == 3 + len(units) + 1 and ws.cell(4, 1).value


def test_fast_list_rows_are_the_cells_xlsxwriter_writes(district_run, tmp_path, monkeypatch):
    """The summary's list sheets (审核结果 with its links, 报送情况, the chart tables) and both
    审核报告 workbooks, written row by row as XML by gkreport (``fast_rows``), are byte for byte
    what XlsxWriter writes from its cell objects."""
    from gkreport import xlsx_out
    from gkreport.batch import _load_manifest, _write_reports, _write_summaries

    _, opts, _ = district_run

    def written(name: str) -> dict[str, dict[str, bytes]]:
        out = tmp_path / name
        shutil.copytree(opts.output_dir, out)
        here = BatchOptions(
            input_dir=opts.input_dir, output_dir=out, summary_unit=opts.summary_unit, roster=opts.roster
        )
        records = _load_manifest(here)
        files = _write_summaries(here, records)[0] + _write_reports(here, records)[0]
        return {str(p.relative_to(out)): xml_parts(p) for p in files if p.suffix == ".xlsx"}

    fast = written("fast")
    monkeypatch.setattr(xlsx_out, "_FAST_ROWS", False)
    cells = written("cells")
    assert sorted(fast) == ["2025/审核报告.xlsx", "2025/汇总/2025年政府信息公开工作汇总.xlsx", "审核报告.xlsx"]
    assert fast == cells
    links = fast["2025/汇总/2025年政府信息公开工作汇总.xlsx"]
    assert any(b"<hyperlink " in v for k, v in links.items() if k.startswith("xl/worksheets/sheet"))


@pytest.mark.skipif(os.name != "posix", reason="stat stamps are used where ctime is the change time")
def test_a_rerun_trusts_a_settled_stamp_yet_finds_a_same_size_rewrite_with_its_time_put_back(tmp_path):
    """An output or input rewritten with the same size and its modification time put back (a copy
    kept with ``cp -p``, ``touch -r``) has a new ctime: the rerun reads it again and finds it changed."""
    inp = copy_samples(tmp_path / "input")
    out = tmp_path / "out"
    run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1))
    time.sleep(0.05)  # the file system's clock moves on: the next run can settle every stamp
    second = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1))
    assert second.processed == 0
    done = [r for r in second.records if r.written]
    assert done and all(set(r.stamps) == set(r.written) and r.input_stamp for r in done)
    manifest = json.loads((out / ".gkreport" / "manifest.json").read_text(encoding="utf-8"))
    assert all(manifest["inputs"][r.input]["stamps"] == r.stamps for r in done)  # kept for the next run

    def same_size_rewrite(path: Path) -> None:
        st = path.stat()
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns

    by_output, by_input = done[0], done[1]
    xlsx = out / by_output.outputs["xlsx"]
    same_size_rewrite(xlsx)
    same_size_rewrite(inp / by_input.input)
    third = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1))
    assert third.processed == 2 and third.skipped == len(second.records) - 2
    assert [e["file"] for e in third.hand_edited] == [by_output.outputs["xlsx"]]  # kept aside, not overwritten
    again = {r.input: r for r in third.records}
    assert again[by_input.input].hash != by_input.hash


def test_temp_files_left_in_unit_folders_by_a_stopped_run_are_removed(tmp_path):
    """The units' folders are searched for temp files when the last run ended without releasing the
    output folder (its lock still names it); a temp file of a live process is kept."""
    from gkreport.fileio import HOST_TAG, TMP_PREFIX

    inp = copy_samples(tmp_path / "input")
    out = tmp_path / "out"
    first = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1))
    folder = out / Path(next(r.outputs["xlsx"] for r in first.records if r.outputs.get("xlsx"))).parent
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = folder / f"{TMP_PREFIX}{HOST_TAG}-{dead.pid}-abc.docx"
    left.write_bytes(b"half")
    live = folder / f"{TMP_PREFIX}{HOST_TAG}-{os.getpid()}-abc.docx"
    live.write_bytes(b"being written")
    lock = out / ".gkreport" / "lock"
    lock.write_text(json.dumps({"pid": dead.pid, "host": "x", "command": "gkreport batch"}), encoding="utf-8")
    again = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1))
    assert again.processed == 0
    assert not left.exists() and live.exists()
    assert lock.read_text(encoding="utf-8") == ""  # released: the next run need not search again


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the side process is forked on Linux only")
def test_work_beside_runs_in_another_process_and_falls_back_here_on_any_failure(tmp_path):
    from gkreport import batch

    here = os.getpid()
    assert batch._Beside(lambda: ("pid", os.getpid()), 10).result()[1] != here  # done by a child

    def fails_in_a_child() -> int:
        if os.getpid() != here:
            raise RuntimeError("only in the child")
        return 7

    def killed_in_a_child() -> int:
        if os.getpid() != here:
            os.kill(os.getpid(), signal.SIGKILL)
        return 8

    def unpicklable_in_a_child() -> object:
        return (lambda: 0) if os.getpid() != here else 9

    assert batch._Beside(fails_in_a_child, 10).result() == 7  # done again here
    assert batch._Beside(killed_in_a_child, 10).result() == 8
    assert batch._Beside(unpicklable_in_a_child, 10).result() == 9
    with pytest.raises(ValueError):  # an error of the work itself is raised here, as without a child
        batch._Beside(lambda: int("x"), 10).result()
    assert batch._Beside(lambda: os.getpid(), batch._BESIDE_UP_TO + 1).result() == here  # too big to copy

    marker = tmp_path / "late"
    side = batch._Beside(lambda: (time.sleep(5), marker.write_text("x")), 10)
    side.stop()  # an interrupted run: the child ends with it, its work not done
    time.sleep(0.2)
    assert not marker.exists() and not side.pid


def test_audit_reports_written_beside_the_summaries_are_those_written_alone(tmp_path, monkeypatch):
    """A pool run writes the 审核报告 in a side process while it writes the summaries; they say
    exactly what a one-process run's say, and no temp file or child process is left."""
    from gkreport import batch

    inp = copy_samples(tmp_path / "input")
    started: list[int] = []
    real = batch._Beside.__init__

    def spy(self, work, records):
        real(self, work, records)
        started.append(self.pid)

    monkeypatch.setattr(batch._Beside, "__init__", spy)
    two = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "two", jobs=2))
    one = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "one", jobs=1))
    assert len(started) == 1 and (started[0] > 0) == sys.platform.startswith("linux")
    for rel in ("审核报告.json", "2025/审核报告.json"):
        a, b = (json.loads((tmp_path / d / rel).read_text(encoding="utf-8")) for d in ("one", "two"))
        a.pop("generated"), b.pop("generated")
        assert a == b and a["units"]
    assert len(json.loads((tmp_path / "two" / "审核报告.json").read_text(encoding="utf-8"))["units"]) == len(
        SAMPLE_UNITS
    )
    for rel in ("审核报告.xlsx", "2025/审核报告.xlsx"):
        assert xml_parts(tmp_path / "one" / rel) == xml_parts(tmp_path / "two" / rel), rel
    assert two.reports == [tmp_path / "two" / p.relative_to(tmp_path / "one") for p in one.reports]
    assert not list((tmp_path / "two").rglob(".gkreport-tmp-*"))
    if started[0] > 0:
        with pytest.raises(ChildProcessError):
            os.waitpid(started[0], os.WNOHANG)  # reaped


def test_records_replaced_by_new_work_are_freed_before_the_summaries(tmp_path, monkeypatch):
    """With --force (or a changed form) every record of the last run is replaced: the old ones are
    not kept alive beside the new ones while the summaries, the run's fullest moment, are written."""
    import gc
    import weakref

    from gkreport import batch

    inp = copy_samples(tmp_path / "input")
    opts = BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=1)
    run_batch(opts)
    old: list[weakref.ref] = []
    real_read, real_write = batch._read_manifest, batch._write_summaries

    class Traced(batch.Record):  # a record that can be watched (Record has slots, no weak references)
        __slots__ = ("__weakref__",)

    def reading(o):
        head, manifest = real_read(o)
        for key, rec in manifest.items():
            traced = manifest[key] = Traced.__new__(Traced)
            for name in batch.Record.__dataclass_fields__:
                setattr(traced, name, getattr(rec, name))
            old.append(weakref.ref(traced))
        return head, manifest

    alive: list[int] = []

    def writing(o, records):
        gc.collect()
        alive.append(sum(r() is not None for r in old))
        return real_write(o, records)

    monkeypatch.setattr(batch, "_read_manifest", reading)
    monkeypatch.setattr(batch, "_write_summaries", writing)
    result = run_batch(replace_opts(opts, force=True))
    assert len(old) == len(SAMPLE_UNITS) and alive == [0] and result.processed == len(SAMPLE_UNITS)


def replace_opts(opts: BatchOptions, **changes) -> BatchOptions:
    from dataclasses import replace

    return replace(opts, **changes)


def test_a_big_batch_stops_the_fork_server_before_its_summaries(tmp_path, monkeypatch):
    from multiprocessing import forkserver

    from gkreport import batch

    inp = copy_samples(tmp_path / "input")
    running: list[bool] = []
    real = batch._write_summaries

    def writing(o, records):
        # the server kept, or told to end (its exit waited for in the background)
        stopping = batch._STOPPING is not None and batch._STOPPING.is_alive()
        running.append(forkserver._forkserver._forkserver_pid is not None and not stopping)
        return real(o, records)

    monkeypatch.setattr(batch, "_write_summaries", writing)
    monkeypatch.setattr(batch, "_FREE_FORK_SERVER_FROM", 2)
    first = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=2))
    assert first.worker_peak_mb > 0 and running == [False]
    assert batch._STOPPING is not None
    batch._STOPPING.join(30)
    assert forkserver._forkserver._forkserver_pid is None
    monkeypatch.setattr(batch, "_FREE_FORK_SERVER_FROM", 1000)
    again = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=2, force=True))
    assert again.worker_peak_mb > 0 and running == [False, True]  # started again; a small batch keeps it
    assert [(r.input, r.status) for r in again.records] == [(r.input, r.status) for r in first.records]


def test_new_and_forced_files_are_read_once_and_carry_their_hash(tmp_path, monkeypatch):
    """A file that is processed whatever its bytes are (new, or --force) is read once, by the worker,
    which hashes it; its record's hash and stamp are as if the batch had hashed it, so that a rerun
    skips it; an unreadable one carries its hash too."""
    from gkreport import reader

    inp = copy_samples(tmp_path / "input")
    (inp / "坏.xlsx").write_bytes(b"PK\x03\x04 not a workbook")
    reads: list[str] = []
    real = reader.read_file_bytes

    def counted(path, *a, **k):
        reads.append(Path(path).name)
        return real(path, *a, **k)

    monkeypatch.setattr(reader, "read_file_bytes", counted)
    opts = BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=1)
    for force in (False, True):
        reads.clear()
        result = run_batch(replace_opts(opts, force=force))
        assert result.processed == len(SAMPLE_UNITS) + 1
        good = [r for r in result.records if r.input != "坏.xlsx"]
        assert sorted(r for r in reads if r != "坏.xlsx") == sorted(Path(r.input).name for r in good)
        for r in result.records:
            assert r.hash == hashlib.sha256((inp / r.input).read_bytes()).hexdigest()
        assert all(r.input_stamp for r in good)
    reads.clear()
    again = run_batch(opts)
    assert again.skipped == len(SAMPLE_UNITS) and set(reads) == {"坏.xlsx"}  # only the refused file again


def test_chunks_shrink_towards_the_end_so_that_the_workers_finish_together():
    from gkreport.batch import _chunks

    for n, jobs in [(1, 2), (2, 2), (7, 2), (40, 2), (200, 2), (2000, 2), (10000, 4)]:
        chunks = _chunks(list(range(n)), jobs)
        assert [i for c in chunks for i in c] == list(range(n))  # every file once, in order
        sizes = [len(c) for c in chunks]
        assert max(sizes) <= 100 and sizes == sorted(sizes, reverse=True)  # they never grow
        if n >= 200:
            assert sizes[-2] <= 10 < sizes[0]  # the last are small: a worker waits little for the other
    assert [len(c) for c in _chunks(list(range(7)), 2, size=3)] == [3, 3, 1]  # a fixed size when asked


@pytest.mark.parametrize("jobs", [1, 2])
def test_audit_reports_rewritten_by_a_run_that_failed_are_not_taken_for_hand_edits(tmp_path, monkeypatch, jobs):
    """A run that fails after its 审核报告 were rewritten (beside the summaries, or before a failure
    later on) leaves them recorded as unknown, not as the last run's: the next run does not say
    they were changed by hand."""
    from gkreport import batch

    inp = copy_samples(tmp_path / "input")
    opts = BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=jobs)
    run_batch(opts)
    seed = inp / "张店区科学技术局2017年政府信息公开工作情况统计表.xlsx"
    shutil.copy(SAMPLES / "示例市东城区教育局2025年统计表.xlsx", inp / "新单位.xlsx")  # new work
    real_summaries, real_reports = batch._write_summaries, batch._write_reports

    def reports_then_fail(o, records, *a):
        written = real_reports(o, records, *a)
        if jobs == 1:
            raise RuntimeError("after the reports")
        return written

    def summaries_failing(o, records):
        if jobs == 2:  # the side process has rewritten the reports meanwhile
            time.sleep(3)
            raise RuntimeError("in the summaries")
        return real_summaries(o, records)

    monkeypatch.setattr(batch, "_write_reports", reports_then_fail)
    monkeypatch.setattr(batch, "_write_summaries", summaries_failing)
    with pytest.raises(RuntimeError):
        run_batch(opts)
    head = json.loads((tmp_path / "out" / ".gkreport" / "manifest.json").read_text(encoding="utf-8"))
    assert {p: i for p, i in head["outputs"].items() if Path(p).stem == "审核报告"} == {
        p: {}
        for p in (
            "2017/审核报告.json",
            "2017/审核报告.xlsx",
            "审核报告.json",
            "审核报告.xlsx",
            "2025/审核报告.json",
            "2025/审核报告.xlsx",
        )
    }
    monkeypatch.setattr(batch, "_write_reports", real_reports)
    monkeypatch.setattr(batch, "_write_summaries", real_summaries)
    seed.unlink()  # its year's 审核报告 are no longer written: they are deleted, not kept as edited
    result = run_batch(opts)
    assert not any("修改过" in m for m in result.messages + result.problems), result.messages + result.problems
    assert not (tmp_path / "out" / "2017" / "审核报告.xlsx").exists()


def test_a_ctrl_c_while_the_fork_server_loads_ends_it_without_a_traceback(tmp_path):
    """The fork server shares the terminal: a Ctrl-C during its imports ends it quietly (the batch
    says 已中断 itself), and once they are loaded the handler it gives its workers is the usual one."""
    script = (
        "import os, signal, sys\n"
        "class Hit:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'gkreport.pipeline':\n"
        "            os.kill(os.getpid(), signal.SIGINT)\n"
        "        return None\n"
        "sys.meta_path.insert(0, Hit())\n"
        "import gkreport.worker_preload\n"
        "print('not reached')\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 130 and "Traceback" not in proc.stderr and "not reached" not in proc.stdout
    after = subprocess.run(
        [sys.executable, "-c", "import signal, gkreport.worker_preload; print(signal.getsignal(signal.SIGINT))"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert after.returncode == 0 and "default_int_handler" in after.stdout


def test_units_with_no_report_of_the_year_before_in_the_previous_folder_are_named(tmp_path):
    """With ``--previous``, the units that folder holds no report of the year before for are named
    (their cross-year checks were not made); a unit that has one is not, nor is a rerun silent on it."""
    write_unit_workbooks(tmp_path / "in", ["甲局", "乙局", "丙局"])
    write_unit_workbooks(tmp_path / "prev", ["甲局", "乙 局"], year=2024)  # spaces do not count in names
    write_unit_workbooks(tmp_path / "old", ["丙局"], year=2023)  # two years back: no 2024 report
    shutil.copy(tmp_path / "old" / "单位00.xlsx", tmp_path / "prev" / "丙局2023.xlsx")
    opts = BatchOptions(input_dir=tmp_path / "in", output_dir=tmp_path / "out", previous_dir=tmp_path / "prev")
    for _ in range(2):  # the second run processes nothing and says the same
        said = [m for m in run_batch(opts).messages if "跨年度核对" in m]
        assert len(said) == 1 and "丙局（2025年）" in said[0], said
        assert "甲局" not in said[0] and "乙局" not in said[0]
    write_unit_workbooks(tmp_path / "prev2", ["甲局", "乙局", "丙局"], year=2024)
    full = BatchOptions(input_dir=tmp_path / "in", output_dir=tmp_path / "out2", previous_dir=tmp_path / "prev2")
    assert not [m for m in run_batch(full).messages if "跨年度核对" in m]
    assert not [m for m in run_batch(BatchOptions(tmp_path / "in", tmp_path / "out3")).messages if "跨年度" in m]


# --------------------------------------------------------------------------- names garbled by an unzip tool


def garbled(name: str) -> str:
    """A name from a zip made on Chinese Windows (GBK, no UTF-8 flag) as an unzip tool that reads
    names as CP437 writes it: valid UTF-8, but 示例… becomes ╩╛…"""
    return name.encode("gbk").decode("cp437")


EDUCATION = "示例市东城区教育局2025年统计表.xlsx"
GARBLED_NOTE = "（文件名是乱码，应为“{}”）"


def garbled_input(folder: Path) -> Path:
    """A garbled name (a workbook that passes, and a file that is no workbook) beside names that are
    not garbled: readable Chinese, ASCII, and Latin letters with accents."""
    folder.mkdir()
    shutil.copy(SAMPLES / EDUCATION, folder / garbled(EDUCATION))
    (folder / garbled("坏文件统计表.xlsx")).write_bytes(b"not a workbook at all")
    shutil.copy(SAMPLES / "示例市东城区住房和城乡建设局2025年统计表.xlsx", folder)
    shutil.copy(SAMPLES / "示例市东城区市场监督管理局2025年统计表.xlsx", folder / "market-2025.xlsx")
    shutil.copy(SAMPLES / "示例市东城区自然资源局2025年统计表（有错误）.xlsx", folder / "Résumé.xlsx")
    return folder


NOT_GARBLED = ("示例市东城区住房和城乡建设局2025年统计表.xlsx", "market-2025.xlsx", "Résumé.xlsx")


def test_a_file_name_garbled_by_an_unzip_tool_is_shown_with_the_name_it_should_have(tmp_path):
    inp = garbled_input(tmp_path / "input")
    before = digest(inp)
    result = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=1))
    by_input = {r.input: r for r in result.records}
    assert set(by_input) == {garbled(EDUCATION), garbled("坏文件统计表.xlsx"), *NOT_GARBLED}  # the real names
    assert by_input[garbled(EDUCATION)].status == "通过"
    assert by_input[garbled(EDUCATION)].unit == "示例市东城区教育局"  # from the workbook: outputs named right
    assert (tmp_path / "out" / "2025" / "示例市东城区教育局").is_dir()
    notes = [m for m in result.messages if "乱码" in m]
    assert len(notes) == 1, result.messages
    assert garbled(EDUCATION) + GARBLED_NOTE.format(EDUCATION) in notes[0]
    assert garbled("坏文件统计表.xlsx") + GARBLED_NOTE.format("坏文件统计表.xlsx") in notes[0]
    assert "建议改为各自“应为”后的名称" in notes[0] and "不会改动输入文件" in notes[0]
    assert not any(n in m for n in NOT_GARBLED for m in result.messages)
    assert digest(inp) == before  # nothing renamed or changed

    units = json.loads((tmp_path / "out" / "审核报告.json").read_text(encoding="utf-8"))["units"]
    readable = {u["input"]: u["input_readable"] for u in units}
    assert readable == {
        garbled(EDUCATION): EDUCATION,
        garbled("坏文件统计表.xlsx"): "坏文件统计表.xlsx",
        **dict.fromkeys(NOT_GARBLED),
    }
    year = json.loads((tmp_path / "out" / "2025" / "审核报告.json").read_text(encoding="utf-8"))["units"]
    assert {u["input"]: u["input_readable"] for u in year} == readable
    sheet = load_workbook(tmp_path / "out" / "审核报告.xlsx")["报送情况"]
    files = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert garbled(EDUCATION) + GARBLED_NOTE.format(EDUCATION) in files and set(NOT_GARBLED) <= files


def test_cli_batch_shows_a_garbled_file_name_with_the_name_it_should_have(tmp_path):
    inp = garbled_input(tmp_path / "input")
    before = digest(inp)
    out = tmp_path / "out"
    runner = CliRunner()
    res = runner.invoke(app, ["batch", str(inp), "-o", str(out), "--jobs", "1", "--json"])
    data = json.loads(res.stdout)
    assert {f["input"]: f["input_readable"] for f in data["files"]} == {
        garbled(EDUCATION): EDUCATION,
        garbled("坏文件统计表.xlsx"): "坏文件统计表.xlsx",
        **dict.fromkeys(NOT_GARBLED),
    }
    notes = [m for m in data["messages"] if "乱码" in m]
    assert len(notes) == 1 and garbled(EDUCATION) + GARBLED_NOTE.format(EDUCATION) in notes[0]
    assert not any(n in m for n in NOT_GARBLED for m in data["messages"])
    for args in ([], ["--force"]):  # skipped as unchanged, and processed again: said alike
        res = runner.invoke(app, ["batch", str(inp), "-o", str(out), "--jobs", "1", *args])
        lines = [line for line in res.stdout.splitlines() if line.startswith("注意：") and "乱码" in line]
        assert len(lines) == 1, res.stdout
        assert garbled(EDUCATION) + GARBLED_NOTE.format(EDUCATION) in lines[0]
        assert garbled("坏文件统计表.xlsx") + GARBLED_NOTE.format("坏文件统计表.xlsx") in lines[0]
        assert not any(n in line for n in NOT_GARBLED for line in res.stdout.splitlines() if "注意" in line)
        table = "".join(res.stdout.split())  # the 需要处理的文件 table wraps its cells
        assert garbled("坏文件统计表.xlsx") + GARBLED_NOTE.format("坏文件统计表.xlsx") in table
        assert "Résumé.xlsx│无法读取" not in table and "乱码，应为“Résumé" not in table
    assert digest(inp) == before


def test_a_garbled_name_that_is_readable_already_is_said_to_be_a_likely_copy(tmp_path):
    """Unpacked twice (once by a tool that reads GBK): a rename would meet the other file."""
    inp = tmp_path / "input"
    inp.mkdir()
    shutil.copy(SAMPLES / EDUCATION, inp / garbled(EDUCATION))
    shutil.copy(SAMPLES / EDUCATION, inp / EDUCATION)
    result = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=1))
    notes = [m for m in result.messages if "乱码" in m]
    assert len(notes) == 1 and notes[0].startswith(garbled(EDUCATION) + GARBLED_NOTE.format(EDUCATION))
    assert f"已有名为“{EDUCATION}”的文件" in notes[0] and "建议改为" not in notes[0]


def test_a_unit_named_after_a_garbled_file_name_gets_the_readable_name(tmp_path):
    """A workbook without the unit's name and year: both are taken from the file name, as it should be."""
    from gkreport.samples import SAMPLES_2021
    from gkreport.spec import load_form
    from gkreport.template import write_template

    inp = tmp_path / "input"
    inp.mkdir()
    s = SAMPLES_2021[0]
    meta = {k: v for k, v in s["meta"].items() if k not in ("unit", "year", "signer")}
    write_template(load_form("2021"), inp / garbled(EDUCATION), s["values"], meta, s["narrative"])
    result = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=1))
    (rec,) = result.records
    assert (rec.input, rec.unit, rec.year) == (garbled(EDUCATION), "示例市东城区教育局", 2025)
    assert (tmp_path / "out" / "2025" / "示例市东城区教育局").is_dir()
    said = [f["message"] for f in rec.findings if f["rule"] == "READ.meta"]
    assert "工作簿中没有填写单位名称，已按文件名（乱码，按 GBK 编码识别出原名）取“示例市东城区教育局”" in said[0]


def test_a_roster_unit_whose_file_has_a_garbled_name_is_unreadable_not_missing(tmp_path):
    import openpyxl

    inp = tmp_path / "input"
    inp.mkdir()
    shutil.copy(SAMPLES / EDUCATION, inp)
    (inp / garbled("示例市东城区审计局2025年统计表.xlsx")).write_bytes(b"not a workbook at all")
    wb = openpyxl.Workbook()
    wb.active.append(["单位名称", "邮箱"])
    for name in ("示例市东城区教育局", "示例市东城区审计局", "示例市东城区财政局"):
        wb.active.append([name, "gk@example.gov.cn"])
    wb.save(tmp_path / "名单.xlsx")
    opts = BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=1, roster=tmp_path / "名单.xlsx")
    (year,) = run_batch(opts).years
    marks = {s.name: (s.mark, s.files) for s in year.submissions}
    assert marks["示例市东城区审计局"] == ("无法读取", (garbled("示例市东城区审计局2025年统计表.xlsx"),))
    assert marks["示例市东城区财政局"] == ("未报送", ())


def test_a_workbook_open_in_excel_wps_or_libreoffice_is_said_to_be_read_as_last_saved(tmp_path):
    """A clerk correcting a workbook in Excel and running the batch before saving: the lock file beside
    it (~$name from Excel and WPS, .~lock.name# from LibreOffice) makes the run say that what was read
    is the file as last saved; a lock file without its workbook says nothing."""
    inp = copy_samples(tmp_path / "input")
    excel = "示例市东城区教育局2025年统计表.xlsx"
    calc = "示例市东城区市场监督管理局2025年统计表.xlsx"
    (inp / f"~${excel}").write_bytes(b"\x05clerk" + b" " * 156)
    (inp / f".~lock.{calc}#").write_text("clerk,host,/home/clerk,05.12.2026 09:00;", encoding="utf-8")
    (inp / "~$已删除的文件.xlsx").write_bytes(b"x")  # its workbook is gone
    result = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "output", jobs=1))
    [note] = [m for m in result.messages if "锁定文件" in m]
    assert note.startswith((f"{excel}、{calc}旁边有", f"{calc}、{excel}旁边有"))
    assert "读取的是最后一次保存的内容" in note and "已删除的文件" not in note
    assert all(not r.input.startswith(("~$", ".~lock.")) for r in result.records)  # never read as submissions
    # saved and closed: the lock files go, and so does the note
    (inp / f"~${excel}").unlink()
    (inp / f".~lock.{calc}#").unlink()
    again = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "output", jobs=1))
    assert not [m for m in again.messages if "锁定文件" in m]


def test_workers_read_check_and_write_without_pandas(tmp_path):
    """The fork server loads what the workers need, and pandas is not part of it: the check engine
    works on the value matrix (a tenth of a second less before the first file, about 30 MB less per
    worker). The summaries, in the batch process, still use it."""
    code = (
        "import sys; from pathlib import Path\n"
        "import gkreport.worker_preload\n"
        "from gkreport.batch import BatchOptions, _init_previous_in_process, _process_chunk\n"
        "_init_previous_in_process({})\n"
        f"files = sorted(Path({str(SAMPLES)!r}).glob('*2025年*.xlsx'))\n"
        f"opts = BatchOptions(input_dir=Path({str(SAMPLES)!r}), output_dir=Path({str(tmp_path / 'out')!r}))\n"
        "recs = _process_chunk([(str(p), p.name, '') for p in files], opts)\n"
        "print(len(recs), sorted({bool(r.outputs) for r in recs}), 'pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, written, pandas = out.stdout.split(maxsplit=1)[0], *out.stdout.rstrip().rsplit(maxsplit=1)
    assert int(count) >= 4 and written.endswith("[True]")  # every sample read, checked and written
    assert pandas == "False"
    assert len(list((tmp_path / "out").rglob("*.docx"))) == int(count)


def test_a_packed_value_row_gives_back_every_value_as_it_was():
    """The batch process holds each record's values compactly; what it gives back, writes to the
    manifest and sends on is the row as made, whatever the values."""
    import pickle

    from gkreport.batch import PackedRow, RowValues, _json_default

    row = (0, 1, None, 256, 257, 32767, 32768, -32767, -32768, -1, 10**20, "12.50", None, True, 0.5)
    packed = PackedRow(row)
    assert len(packed) == len(row) and list(packed) == list(row) and tuple(packed) == row
    assert [packed[i] for i in range(len(row))] == list(row) and packed[-1] == 0.5 and packed[2:4] == [None, 256]
    assert [type(v) for v in packed] == [type(v) for v in row]  # True stays a bool, 0.5 a float
    assert packed == row and packed == list(row) and packed != row[:-1] and packed == PackedRow(list(row))
    assert pickle.loads(pickle.dumps(packed)) == packed
    assert json.loads(json.dumps({"values": packed}, default=_json_default))["values"] == json.loads(json.dumps(row))
    assert not PackedRow(()) and PackedRow([None])[0] is None
    # smaller than the tuple it stands for (a form's ~230 values, nearly all small counts)
    big = tuple([None] * 30 + list(range(200)) + [40000])
    assert sys.getsizeof(PackedRow(big)._numbers) < sys.getsizeof(big) / 3
    # read by cell id as the summaries read it
    from gkreport.spec import compiled, load_form

    order = compiled(load_form("2021")).cell_order
    values = tuple(range(len(order.ids)))
    view = RowValues(order, PackedRow(values))
    assert [view.get(c) for c in order.ids] == [RowValues(order, values).get(c) for c in order.ids]


def test_records_in_the_batch_process_hold_packed_values(tmp_path):
    """Records coming back from the workers, and those read from the manifest, hold their values
    packed; the manifest has them as lists, and the summaries read them back unchanged."""
    from gkreport.batch import PackedRow

    inp = tmp_path / "in"
    write_unit_workbooks(inp, ["甲局", "乙局", "丙局", "丁局"])
    opts = BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=2)
    first = run_batch(opts)
    assert all(isinstance(r.values, PackedRow) and len(r.values) > 100 for r in first.records)
    entry = next(
        iter(json.loads((tmp_path / "out" / ".gkreport" / "manifest.json").read_text("utf-8"))["inputs"].values())
    )
    assert isinstance(entry["values"], list) and entry["values"] == list(first.records[0].values)
    again = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=2))
    assert again.skipped == 4 and [r.values for r in again.records] == [r.values for r in first.records]
    assert all(isinstance(r.values, PackedRow) for r in again.records)


def _written_files(folder: Path) -> list[Path]:
    """The reports and workbooks under their names (no temp files, no bookkeeping)."""
    from gkreport.fileio import TMP_PREFIX

    return sorted(
        p
        for p in folder.rglob("*")
        if p.suffix in (".docx", ".xlsx") and p.is_file() and not p.name.startswith(TMP_PREFIX)
    )


def test_a_pool_chunk_syncs_its_outputs_together_before_any_appears_under_its_name(tmp_path, monkeypatch):
    from gkreport import batch
    from gkreport.fileio import TMP_PREFIX, file_digest, same_digest

    files = write_unit_workbooks(tmp_path / "in", ["甲局", "乙局", "丙局"])
    out = tmp_path / "out"
    opts = BatchOptions(input_dir=tmp_path / "in", output_dir=out)
    seen = []
    real = batch.sync_files

    def watched(paths):
        seen.append((list(paths), _written_files(out)))
        return real(paths)

    monkeypatch.setattr(batch, "sync_files", watched)
    records = batch._process_chunk([(str(p), p.name, "") for p in files], opts)  # as a pool's worker does
    [(synced, visible)] = seen  # one sync for the chunk
    assert visible == []  # nothing under its name before it is on disk
    assert len(synced) == 6 and all(p.name.startswith(TMP_PREFIX) for p in synced)
    assert len(_written_files(out)) == 6 and not list(out.rglob(TMP_PREFIX + "*"))
    for rec in records:
        assert rec.status != "无法写出" and set(rec.written) == {rec.outputs["docx"], rec.outputs["xlsx"]}
        assert all(same_digest(file_digest(out / p), want) for p, want in rec.written.items())
        # stamped, though renamed just before: a rerun need not read them again
        assert rec.stamps.keys() == rec.written.keys()


def test_a_unit_of_a_pool_chunk_whose_file_cannot_be_synced_or_renamed_is_unwritable_and_leaves_nothing(
    tmp_path, monkeypatch
):
    import errno

    from gkreport import batch
    from gkreport.fileio import TMP_PREFIX

    files = write_unit_workbooks(tmp_path / "in", ["甲局", "乙局", "丙局"])
    items = [(str(p), p.name, "") for p in files]
    clean = {
        r.unit: r
        for r in batch._process_chunk(items, BatchOptions(input_dir=tmp_path / "in", output_dir=tmp_path / "clean"))
    }
    out = tmp_path / "out"
    blocker = out / clean["甲局"].outputs["docx"]
    blocker.mkdir(parents=True)  # a folder made by hand under the report's name
    real = batch.sync_files

    def failing(paths):  # the disk fails 乙局's workbook
        failed = real(paths)
        failed.update(
            {p: OSError(errno.EIO, "I/O error") for p in paths if p.parent.name == "乙局" and p.suffix == ".xlsx"}
        )
        return failed

    monkeypatch.setattr(batch, "sync_files", failing)
    records = {r.unit: r for r in batch._process_chunk(items, BatchOptions(input_dir=tmp_path / "in", output_dir=out))}
    jia, yi, bing = records["甲局"], records["乙局"], records["丙局"]
    assert jia.status == "无法写出" and "年度报告无法写出" in jia.reason and str(blocker) in jia.reason
    assert yi.status == "无法写出" and "统计表无法写出" in yi.reason and clean["乙局"].outputs["xlsx"] in yi.reason
    assert jia.outputs == yi.outputs == {} and jia.written == yi.written == {}
    # the report of 乙局 was put under its name before its workbook failed: removed again, no unit half-done
    assert _written_files(out) == sorted(out / p for p in bing.written) and list(blocker.iterdir()) == []
    assert bing.status != "无法写出" and not list(out.rglob(TMP_PREFIX + "*"))
