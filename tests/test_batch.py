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

from conftest import SAMPLES, needs_soffice
from gkreport.batch import BatchOptions, discover, run_batch, watch_folder
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
            if isinstance(got, Decimal):
                assert got.as_tuple() == want[cid].as_tuple()
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


@pytest.mark.slow
def test_a_worker_that_dies_costs_only_its_file(tmp_path):
    """A file that kills its worker process is reported; every other file is still processed."""
    import crashing_worker
    from gkreport.batch import _run_pool
    from gkreport.enums import Status

    inp = copy_samples(tmp_path / "input")
    shutil.copy(inp / "示例市东城区教育局2025年统计表.xlsx", inp / "崩溃.xlsx")
    opts = BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=2)
    items = [(str(p), str(p.relative_to(inp)), hashlib.sha256(p.read_bytes()).hexdigest()) for p in discover(inp)]
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
