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
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from gkreport.batch import BatchOptions, discover, run_batch, safe_name, watch_folder
from gkreport.cli import app

from conftest import SAMPLES, needs_soffice

SAMPLE_UNITS = {
    "张店区科学技术局": 2017, "示例市东城区教育局": 2025, "示例市东城区市场监督管理局": 2025,
    "示例市东城区住房和城乡建设局": 2025, "示例市东城区自然资源局": 2025,
}


def copy_samples(dest: Path) -> Path:
    shutil.copytree(SAMPLES, dest)
    return dest


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def xml_parts(path: Path) -> dict[str, bytes]:
    """The content of an Office file, without the volatile document properties."""
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if not n.startswith("docProps/")}


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("batch")
    inp = copy_samples(base / "input")
    before = digest(inp)
    result = run_batch(BatchOptions(input_dir=inp, output_dir=base / "output", jobs=2, summary_unit="示例市东城区人民政府"))
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
        (tmp_path / "output" / "2025" / "示例市东城区教育局").glob("*.docx"))
    assert result.exit_code == 2
    # removing one of them resolves it on the next run
    (inp / "a" / "教育局.xlsx").unlink()
    again = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "output", jobs=1))
    edu = [r for r in again.records if r.unit == "示例市东城区教育局"]
    assert len(edu) == 1 and edu[0].status != "重复报送" and (tmp_path / "output" / edu[0].outputs["docx"]).exists()


def test_parallel_outputs_equal_single_process(tmp_path):
    inp = copy_samples(tmp_path / "input")
    one = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "one", jobs=1))
    two = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "two", jobs=2, chunk_size=1))
    files_one = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.*x") if ".gkreport" not in str(p))
    files_two = sorted(p.relative_to(tmp_path / "two") for p in (tmp_path / "two").rglob("*.*x") if ".gkreport" not in str(p))
    assert files_one == files_two and len(files_one) >= 2 * len(SAMPLE_UNITS)
    for rel in files_one:
        assert xml_parts(tmp_path / "one" / rel) == xml_parts(tmp_path / "two" / rel), rel
    assert [(r.input, r.status, r.errors, r.warnings) for r in one.records] == \
           [(r.input, r.status, r.errors, r.warnings) for r in two.records]


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


def test_safe_name():
    for hostile in ("../../etc", "a/b\\c", "CON", "nul.txt", "\x00\x1f名", "." * 5, "x" * 300, "  "):
        name = safe_name(hostile)
        assert name and "/" not in name and "\\" not in name and ".." not in name and len(name) <= 80
        assert name.split(".")[0].upper() not in {"CON", "NUL"}
        assert not any(ord(ch) < 32 for ch in name)


def test_discover_skips_lock_and_hidden_files(tmp_path):
    for rel in ("a.xlsx", "sub/b.xls", "sub/c.ods", "~$a.xlsx", ".x.xlsx", ".hidden/d.xlsx", "e.docx", "f.csv"):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    assert [str(p.relative_to(tmp_path)) for p in discover(tmp_path)] == ["a.xlsx", "sub/b.xls", "sub/c.ods"]


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


def test_cli_creates_missing_input_folder_with_a_hint(tmp_path):
    res = CliRunner().invoke(app, ["batch", str(tmp_path / "input"), "-o", str(tmp_path / "out")])
    assert res.exit_code == 2 and (tmp_path / "input").is_dir()
    assert "请把各单位填好的统计表" in res.output


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
    proc = subprocess.Popen([sys.executable, "-m", "gkreport", "batch", str(inp), "-o", str(tmp_path / "out"),
                             "--jobs", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "COLUMNS": "120"})
    deadline = time.time() + 60
    manifest = tmp_path / "out" / ".gkreport" / "manifest.json"
    while time.time() < deadline and len(list((tmp_path / "out").rglob("*.docx"))) < 3:  # two units done
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
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
