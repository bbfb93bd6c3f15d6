"""The output folder over a season of runs: settings recorded and reused by ``batch`` and ``watch``,
outputs the inputs and settings no longer make removed (only the tool's own), summaries rewritten
exactly when what they sum changes, and files edited by hand kept as 手工修改."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from pathlib import Path

import pytest
import typer
from openpyxl import load_workbook
from typer.testing import CliRunner

from conftest import DEPARTMENT_TEXT, SAMPLES, department_meta, district_departments, needs_soffice
from gkreport.batch import PENDING, BatchOptions, run_batch, watch_folder
from gkreport.cli import app
from gkreport.settings import SETTINGS, load_settings
from gkreport.spec import load_form
from gkreport.template import write_template
from test_batch import write_district
from test_docx_out import Docx

DISTRICT = "某某区人民政府"
REPORT = f"{DISTRICT}2025年政府信息公开工作年度报告"
SUMMARY = "2025年政府信息公开工作汇总.xlsx"
ENV = {"COLUMNS": "200"}


def gk(*args: object) -> tuple[int, str]:
    res = CliRunner().invoke(app, [str(a) for a in args], env=ENV)
    assert "Traceback" not in res.output, res.output
    return res.exit_code, res.output


def fingerprint(path: Path) -> tuple[int, int, str]:
    """Inode, modification time and digest: a file written again (atomically) changes all three."""
    st = path.stat()
    return st.st_ino, st.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()


def summary_files(out: Path) -> dict[str, tuple[int, int, str]]:
    names = [f"2025/汇总/{SUMMARY}", f"2025/汇总/{REPORT}.docx", "审核报告.xlsx", "审核报告.json", "2025/审核报告.xlsx"]
    return {n: fingerprint(out / n) for n in names if (out / n).exists()}


# --------------------------------------------------------------------------- one set of options


def test_batch_and_watch_take_the_same_options():
    """Declared once (cli.batch.SHARED_OPTIONS); only the loop's own (watch) and --json (batch) differ."""
    group = typer.main.get_command(app)
    options = {
        name: {o for p in group.commands[name].params for o in (*p.opts, *p.secondary_opts) if o.startswith("-")}
        for name in ("batch", "watch")
    }
    options = {k: v - {"--help"} for k, v in options.items()}
    assert options["batch"] - {"--json"} == options["watch"] - {"--interval", "--rounds"}
    assert options["batch"] - options["watch"] == {"--json"}
    assert options["watch"] - options["batch"] == {"--interval", "--rounds"}
    for flag in ("--summary-unit", "--no-summary-unit", "--pdf", "--no-pdf", "--wording", "--no-wording"):
        assert flag in options["watch"]
    for flag in ("--previous", "--no-previous", "--roster", "--no-roster", "--strict", "--no-strict", "--force"):
        assert flag in options["watch"]


# --------------------------------------------------------------------------- settings


def test_settings_are_recorded_reused_and_changed(tmp_path):
    inp, roster = write_district(tmp_path)
    out = tmp_path / "out"
    code, text = gk("batch", inp, "-o", out, "-j", "1", "--summary-unit", DISTRICT, "--roster", roster)
    assert code == 1, text  # 卫生健康局 has an error
    assert f"已记录本次的设置，以后在这个输出文件夹运行 batch 或 watch 时沿用：汇总单位 {DISTRICT}" in text
    recorded = json.loads((out / SETTINGS).read_text(encoding="utf-8"))
    assert recorded["summary_unit"] == DISTRICT and recorded["roster"] == str(roster.resolve())
    assert recorded["pdf"] is False
    report = out / "2025" / "汇总" / f"{REPORT}.docx"
    assert report.exists()

    # no options: the same settings, and nothing to redo
    code, text = gk("batch", inp, "-o", out, "-j", "1")
    assert code == 1, text
    assert f"沿用上次的设置：汇总单位 {DISTRICT}、名单 {roster.resolve()}" in text
    assert "未报送 1 个：某某区审计局" in text  # the roster is still checked
    assert report.exists() and "设置已改变" not in text

    # dropping one setting says so and keeps the others
    code, text = gk("batch", inp, "-o", out, "-j", "1", "--no-roster")
    assert "设置已改变：不再使用名单" in text and f"沿用上次的设置：汇总单位 {DISTRICT}" in text
    assert "未报送" not in text
    assert load_settings(out).roster is None and load_settings(out).summary_unit == DISTRICT

    code, text = gk("batch", inp, "-o", out, "-j", "1", "--summary-unit", "某某县人民政府")
    assert "设置已改变：汇总单位改为 某某县人民政府" in text
    assert not report.exists()  # the old summary unit's report: no longer made
    assert (out / "2025" / "汇总" / "某某县人民政府2025年政府信息公开工作年度报告.docx").exists()

    code, text = gk("batch", inp, "-o", out, "-j", "1", "--summary-unit", DISTRICT, "--no-summary-unit")
    assert code == 2 and "--summary-unit 和 --no-summary-unit 不能同时使用" in text


def test_a_recorded_file_that_is_gone_stops_the_run_with_a_hint(tmp_path):
    inp, roster = write_district(tmp_path)
    out = tmp_path / "out"
    moved = tmp_path / "名单（旧）.xlsx"
    gk("batch", inp, "-o", out, "-j", "1", "--roster", roster)
    roster.rename(moved)
    code, text = gk("batch", inp, "-o", out, "-j", "1")
    assert code == 2
    assert (
        f"上次设置的名单 {roster.resolve()} 已不存在。请用 --roster 指定新的位置，或用 --no-roster 不再使用。" in text
    )
    code, text = gk("batch", inp, "-o", out, "-j", "1", "--roster", moved)
    assert code == 1 and f"设置已改变：名单改为 {moved.resolve()}" in text


def test_watch_reuses_the_settings_of_batch(tmp_path):
    """``watch`` given no option makes what the last ``batch`` made (the district report is kept up to
    date, not dropped), and a file arriving while it runs updates the summaries."""
    inp, roster = write_district(tmp_path)
    held = inp / "某某区民政局2025年统计表.xlsx"
    later = held.rename(tmp_path / held.name)
    out = tmp_path / "out"
    gk("batch", inp, "-o", out, "-j", "1", "--summary-unit", DISTRICT, "--roster", roster)
    before = summary_files(out)
    code, text = gk("watch", inp, "-o", out, "--rounds", "2", "--interval", "0.2")
    assert code == 0, text
    assert f"沿用上次的设置：汇总单位 {DISTRICT}" in text
    assert summary_files(out) == before  # nothing changed: not written again
    later.rename(held)
    gk("watch", inp, "-o", out, "--rounds", "2", "--interval", "0.2")
    wb = load_workbook(out / "2025" / "汇总" / SUMMARY)
    assert "某某区民政局" in [row[2] for row in wb["报送情况"].iter_rows(min_row=3, values_only=True)]
    assert any("某某区民政局" in t for t in Docx(out / "2025" / "汇总" / f"{REPORT}.docx").texts())


# --------------------------------------------------------------------------- the folder follows the inputs


def test_dropping_the_summary_unit_removes_the_district_report_only(tmp_path):
    inp, roster = write_district(tmp_path)
    out = tmp_path / "out"
    opts = BatchOptions(input_dir=inp, output_dir=out, jobs=1, summary_unit=DISTRICT, roster=roster)
    run_batch(opts)
    folder = out / "2025" / "汇总"
    mine = folder / "说明（汇总单位自己写的）.txt"
    mine.write_text("这是用户自己的文件", encoding="utf-8")
    unit_note = out / "2025" / "某某区教育局" / "备注.txt"
    unit_note.write_text("部门的备注", encoding="utf-8")
    result = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1, roster=roster))
    assert not (folder / f"{REPORT}.docx").exists()
    assert (folder / SUMMARY).exists()  # the summary workbook is still made (without the summary unit)
    assert mine.read_text(encoding="utf-8") == "这是用户自己的文件"
    assert unit_note.read_text(encoding="utf-8") == "部门的备注"
    assert all(y.report is None for y in result.years)
    # the district's own workbook is now a unit like the others (its tables are blank)
    assert (out / "2025" / DISTRICT).is_dir()


def test_a_removed_input_takes_its_unit_folder_unless_it_holds_a_users_file(tmp_path):
    inp, _ = write_district(tmp_path)
    out = tmp_path / "out"
    run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1, summary_unit=DISTRICT))
    for name in ("某某区教育局", "某某区市场监督管理局"):
        assert (out / "2025" / name).is_dir()
    (out / "2025" / "某某区市场监督管理局" / "我的笔记.txt").write_text("留着", encoding="utf-8")
    (inp / "某某区教育局2025年统计表.xlsx").unlink()
    (inp / "某某区市场监督管理局2025年统计表.xlsx").unlink()
    result = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1, summary_unit=DISTRICT))
    assert result.removed == 2
    assert not (out / "2025" / "某某区教育局").exists()
    left = sorted(p.name for p in (out / "2025" / "某某区市场监督管理局").iterdir())
    assert left == ["我的笔记.txt"]
    # the summaries no longer count them
    (year,) = result.years
    assert "某某区教育局" not in year.summed and "某某区市场监督管理局" not in year.summed
    texts = "".join(Docx(out / "2025" / "汇总" / f"{REPORT}.docx").texts())
    assert "某某区教育局" not in texts


def test_inputs_gone_since_the_last_run_are_named_with_what_became_of_their_outputs(tmp_path):
    """A file moved out of the input folder by mistake must not vanish from the summaries unsaid."""
    inp, _ = write_district(tmp_path)
    out = tmp_path / "out"
    (inp / "说明.xlsx").write_bytes(b"not a workbook")  # 无法读取: it had no outputs to delete
    gk("batch", inp, "-o", out, "-j", "1", "--summary-unit", DISTRICT)
    (inp / "某某区教育局2025年统计表.xlsx").unlink()
    (inp / "说明.xlsx").unlink()
    _code, text = gk("batch", inp, "-o", out, "-j", "1")
    flat = text.replace("\n", "")
    assert "不在输入文件夹中 2 个" in flat and "汇总中不再计入" in flat
    assert "某某区教育局2025年统计表.xlsx（某某区教育局，2025年）：它生成的统计表和年度报告已删除" in flat
    assert "说明.xlsx：如是误删或误移，请放回后重新运行" in flat  # nothing of it was deleted
    assert not (out / "2025" / "某某区教育局").exists()
    # said once: the next run has nothing gone
    _code, text = gk("batch", inp, "-o", out, "-j", "1")
    assert "不在输入文件夹中" not in text
    # --json names them too
    market = (inp / "某某区市场监督管理局2025年统计表.xlsx").read_bytes()
    (inp / "某某区市场监督管理局2025年统计表.xlsx").unlink()
    res = CliRunner().invoke(app, ["batch", str(inp), "-o", str(out), "-j", "1", "--json"], env=ENV)
    assert json.loads(res.stdout)["retired"] == [
        {
            "input": "某某区市场监督管理局2025年统计表.xlsx",
            "unit": "某某区市场监督管理局",
            "year": 2025,
            "removed": True,
            "replaced_by": None,
        }
    ]
    # a corrected file in place of the old one: the unit is not lost, and nothing is to be put back
    (inp / "某某区市场监督管理局2025年统计表（更正）.xlsx").write_bytes(market)
    gk("batch", inp, "-o", out, "-j", "1")
    (inp / "某某区市场监督管理局2025年统计表（更正）.xlsx").rename(inp / "某某区市场监督管理局（定稿）.xlsx")
    _code, text = gk("batch", inp, "-o", out, "-j", "1")
    flat = text.replace("\n", "")
    assert (
        "某某区市场监督管理局2025年统计表（更正）.xlsx（某某区市场监督管理局，2025年）："
        "该单位现在的文件是 某某区市场监督管理局（定稿）.xlsx，已按它处理" in flat
    )
    assert "放回" not in flat


def test_a_watch_names_an_input_taken_out_while_it_watches(tmp_path):
    inp, _ = write_district(tmp_path)
    out = tmp_path / "out"
    gk("batch", inp, "-o", out, "-j", "1")
    (inp / "某某区教育局2025年统计表.xlsx").unlink()
    code, text = gk("watch", inp, "-o", out, "--rounds", "2", "--interval", "0.2")
    flat = text.replace("\n", "")
    assert (
        code == 0
        and "不在输入文件夹中 1 个" in flat
        and "某某区教育局2025年统计表.xlsx（某某区教育局，2025年）" in flat
    )


def test_a_changed_department_rewrites_the_summary_and_the_district_report(tmp_path, monkeypatch):
    """Read the district .docx and .xlsx back after one department's figures changed: every figure is
    the new sum of the departments."""
    import test_summary
    from gkreport.samples import consistent_2021
    from test_batch import _blocks_positions
    from test_docx_out import _value_positions, table_grid
    from test_xlsx_out import read_summary_tables, same_number

    inp, roster = write_district(tmp_path)
    out = tmp_path / "out"
    opts = BatchOptions(input_dir=inp, output_dir=out, jobs=1, summary_unit=DISTRICT, roster=roster)
    run_batch(opts)
    before = summary_files(out)
    old_new_total = test_summary.expected_sums()["t3.new.total"]

    changed = dict(district_departments())
    name = "某某区市场监督管理局"
    from conftest import _district_t2

    values = consistent_2021(
        _district_t2(0, 0, 5, 3521, 210, 35, "12.35"), {"disclosed": [4, 1, 0, 0, 0, 0]}, {}, {}, {}
    )
    changed[name] = ("2021", values)
    write_template(load_form("2021"), inp / f"{name}2025年统计表.xlsx", values, department_meta(name), DEPARTMENT_TEXT)
    monkeypatch.setattr(test_summary, "district_departments", lambda: changed)
    want = test_summary.expected_sums()
    assert want["t3.new.total"] == old_new_total + 5

    result = run_batch(opts)
    assert (result.processed, result.skipped) == (1, len(result.records) - 1)
    after = summary_files(out)
    assert all(after[n] != before[n] for n in before)  # every summary and record written again
    form = load_form("2021")
    folder = out / "2025" / "汇总"
    shown = read_summary_tables(load_workbook(folder / SUMMARY), form, 2025)
    assert shown and all(same_number(v, want[c]) for c, v in shown.items()), [
        (c, v, want[c]) for c, v in shown.items() if not same_number(v, want[c])
    ]
    d = Docx(folder / f"{REPORT}.docx")
    for i, tid in enumerate(("t2", "t3", "t4")):
        grid = table_grid(d.tables()[i])
        found = _blocks_positions(form, grid) if tid == "t2" else _value_positions(form, tid, grid)
        for cid, (r, c) in found.items():
            assert grid[r][c] == ("" if want[cid] is None else str(want[cid])), cid
    assert f"本年度共收到政府信息公开申请{want['t3.new.total']}件" in "".join(d.texts())


def test_nothing_changed_nothing_rewritten_and_the_same_results(tmp_path):
    inp, roster = write_district(tmp_path)
    out = tmp_path / "out"
    opts = BatchOptions(input_dir=inp, output_dir=out, jobs=1, summary_unit=DISTRICT, roster=roster)
    first = run_batch(opts)
    before = summary_files(out)
    assert len(before) == 5
    again = run_batch(opts)
    assert summary_files(out) == before
    assert again.years == first.years and again.messages == first.messages and again.attention == first.attention
    assert again.summaries == first.summaries and sorted(again.reports) == sorted(first.reports)
    assert again.exit_code == first.exit_code

    # a summary deleted: written again (and only what is missing is not trusted)
    (out / "2025" / "汇总" / SUMMARY).unlink()
    run_batch(opts)
    assert (out / "2025" / "汇总" / SUMMARY).exists()
    before = summary_files(out)
    # the roster changed (a setting's content): the summaries say other things, so they are written again
    wb = load_workbook(roster)
    wb.active.append(["某某区统计局", "tj@example.gov.cn"])
    wb.save(roster)
    third = run_batch(opts)
    after = summary_files(out)
    assert after[f"2025/汇总/{SUMMARY}"] != before[f"2025/汇总/{SUMMARY}"]
    assert "某某区统计局" in [s.name for s in third.years[0].not_submitted]
    # the strict setting changed: every unit and every summary again
    fourth = run_batch(
        BatchOptions(input_dir=inp, output_dir=out, jobs=1, summary_unit=DISTRICT, roster=roster, strict=True)
    )
    assert fourth.skipped == 0 and summary_files(out)[f"2025/汇总/{SUMMARY}"] != after[f"2025/汇总/{SUMMARY}"]


# --------------------------------------------------------------------------- hand edits


def _type_into_docx(path: Path, text: str) -> None:
    import docx

    d = docx.Document(str(path))
    d.add_paragraph(text)
    d.save(str(path))


def test_hand_edited_reports_and_workbooks_are_kept_and_listed(tmp_path):
    inp, roster = write_district(tmp_path)
    out = tmp_path / "out"
    opts = BatchOptions(input_dir=inp, output_dir=out, jobs=1, summary_unit=DISTRICT, roster=roster)
    first = run_batch(opts)
    recs = {r.unit: r for r in first.records}
    unit_docx = out / recs["某某区教育局"].outputs["docx"]
    unit_xlsx = out / recs["某某区住房和城乡建设局"].outputs["xlsx"]
    district = out / "2025" / "汇总" / f"{REPORT}.docx"
    _type_into_docx(unit_docx, "领导批示：此段手工加入。")
    _type_into_docx(district, "区领导修改的一段。")
    wb = load_workbook(unit_xlsx)
    wb["基本信息"]["B3"] = "手工改过的单元格"
    wb.save(unit_xlsx)
    # and a department changed, so that the district report is regenerated anyway
    (inp / "某某区教育局2025年统计表.xlsx").touch()

    _code, text = gk("batch", inp, "-o", out, "-j", "1")
    kept_docx = unit_docx.with_name(unit_docx.stem + "（手工修改）.docx")
    kept_xlsx = unit_xlsx.with_name(unit_xlsx.stem + "（手工修改）.xlsx")
    kept_district = district.with_name(district.stem + "（手工修改）.docx")
    assert "领导批示：此段手工加入。" in Docx(kept_docx).texts()
    assert "领导批示：此段手工加入。" not in Docx(unit_docx).texts()  # regenerated from the workbook
    assert "区领导修改的一段。" in Docx(kept_district).texts() and "区领导修改的一段。" not in Docx(district).texts()
    assert load_workbook(kept_xlsx)["基本信息"]["B3"].value == "手工改过的单元格"
    assert load_workbook(unit_xlsx)["基本信息"]["B3"].value != "手工改过的单元格"
    # the terminal names them
    flat = text.replace("\n", "")
    for p in (kept_docx, kept_xlsx, kept_district):
        assert p.name in flat, text
    assert "手工修改" in text and "基本信息" in text
    # 审核报告 of the year and of the whole batch list them
    for base in (out, out / "2025"):
        data = json.loads((base / "审核报告.json").read_text(encoding="utf-8"))
        listed = {Path(e["kept_as"]).name: e for e in data["hand_edited"]}
        assert set(listed) == {kept_docx.name, kept_xlsx.name, kept_district.name}
        assert all(e["status"] == "手工修改" for e in listed.values())
        assert listed[kept_docx.name]["unit"] == "某某区教育局"
        row = next(u for u in data["units"] if u["unit"] == "某某区教育局")
        assert [Path(e["kept_as"]).name for e in row["hand_edited"]] == [kept_docx.name]
        ws = load_workbook(base / "审核报告.xlsx")["手工修改"]
        rows = list(ws.iter_rows(min_row=2, values_only=True))
        assert {Path(r[3]).name for r in rows} == set(listed) and {r[0] for r in rows} == {"手工修改"}
        status = load_workbook(base / "审核报告.xlsx")["报送情况"]
        notes = [r[10] for r in status.iter_rows(min_row=2, values_only=True) if r[1] == "某某区教育局"]
        assert notes and "手工修改" in notes[0] and kept_docx.name in notes[0]

    # edited again: a second copy, the first one never overwritten
    _type_into_docx(unit_docx, "第二次手工修改。")
    again = run_batch(opts)
    second = unit_docx.with_name(unit_docx.stem + "（手工修改2）.docx")
    assert "第二次手工修改。" in Docx(second).texts() and "领导批示：此段手工加入。" in Docx(kept_docx).texts()
    assert {Path(e["kept_as"]).name for e in again.hand_edited} >= {kept_docx.name, second.name}
    # once the user has dealt with the copies they are no longer listed
    for p in (kept_docx, second, kept_xlsx, kept_district):
        p.unlink()
    assert run_batch(opts).hand_edited == []


def test_a_hand_edited_output_of_a_removed_input_is_kept(tmp_path):
    inp, _ = write_district(tmp_path)
    out = tmp_path / "out"
    first = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1))
    rec = next(r for r in first.records if r.unit == "某某区教育局")
    docx = out / rec.outputs["docx"]
    _type_into_docx(docx, "手工加入的一段。")
    (inp / rec.input).unlink()
    result = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1))
    kept = docx.with_name(docx.stem + "（手工修改）.docx")
    assert not docx.exists() and "手工加入的一段。" in Docx(kept).texts()
    assert not (out / rec.outputs["xlsx"]).exists()
    assert [e["kept_as"] for e in result.hand_edited] == [str(kept.relative_to(out))]
    assert result.hand_edited[0]["unit"] == "某某区教育局"
    # listed on while it is there
    assert run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1)).hand_edited == result.hand_edited


def test_files_a_stopped_run_was_rewriting_are_not_taken_for_hand_edits(tmp_path):
    """A run stopped hard after rewriting a report but before saving its records leaves a note
    (.gkreport/pending.json); the next run redoes those inputs without keeping a 手工修改 copy."""
    inp, _ = write_district(tmp_path)
    out = tmp_path / "out"
    first = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1))
    rec = next(r for r in first.records if r.unit == "某某区教育局")
    docx = out / rec.outputs["docx"]
    _type_into_docx(docx, "被中断的运行写出的另一份。")  # the file no longer matches the recorded digest
    (out / PENDING).write_text(json.dumps({"inputs": [rec.input], "outputs": []}), encoding="utf-8")
    result = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1))
    assert result.hand_edited == [] and not list(out.rglob("*手工修改*"))
    assert result.processed == 1 and not (out / PENDING).exists()


# --------------------------------------------------------------------------- PDF


@pytest.mark.slow
@needs_soffice
def test_dropping_pdf_removes_the_pdfs_and_keeping_it_keeps_them(tmp_path):
    inp, _ = write_district(tmp_path)
    for p in inp.iterdir():  # two departments and the district's own workbook are enough here
        if not p.name.startswith(("某某区教育局", "某某区市场监督管理局", DISTRICT)):
            p.unlink()
    out = tmp_path / "out"
    code, text = gk("batch", inp, "-o", out, "-j", "1", "--summary-unit", DISTRICT, "--pdf")
    assert code == 0, text
    pdfs = sorted(out.rglob("*.pdf"))
    assert len(pdfs) == 3 and out / "2025" / "汇总" / f"{REPORT}.pdf" in pdfs
    stamps = {p: fingerprint(p) for p in pdfs}
    code, text = gk("watch", inp, "-o", out, "--rounds", "2", "--interval", "0.2")
    assert "生成 PDF" in text and {p: fingerprint(p) for p in pdfs} == stamps  # watch keeps them as they are
    code, text = gk("batch", inp, "-o", out, "-j", "1", "--no-pdf")
    assert code == 0 and "设置已改变：不再生成 PDF" in text
    assert not list(out.rglob("*.pdf"))
    assert (out / "2025" / "汇总" / f"{REPORT}.docx").exists()
    code, text = gk("batch", inp, "-o", out, "-j", "1")
    assert "生成 PDF" not in text and not list(out.rglob("*.pdf"))


def test_library_runs_record_their_settings_too(tmp_path):
    inp, _roster = write_district(tmp_path)
    out = tmp_path / "out"
    watch_folder(BatchOptions(input_dir=inp, output_dir=out, jobs=1, summary_unit=DISTRICT), interval=0.05, rounds=2)
    assert load_settings(out).summary_unit == DISTRICT
    _code, text = gk("batch", inp, "-o", out, "-j", "1")
    assert f"沿用上次的设置：汇总单位 {DISTRICT}" in text
    shutil.rmtree(out / ".gkreport")
    assert load_settings(out) is None


def test_watch_tells_of_hand_edits_and_json_tells_the_settings(tmp_path):
    inp, _ = write_district(tmp_path)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["batch", str(inp), "-o", str(out), "-j", "1", "--json", "--summary-unit", DISTRICT])
    data = json.loads(res.stdout)
    assert data["settings"]["summary_unit"] == DISTRICT and data["settings"]["pdf"] is False
    assert data["hand_edited"] == []
    district = out / "2025" / "汇总" / f"{REPORT}.docx"
    _type_into_docx(district, "手工加入的一段。")
    (inp / "某某区教育局2025年统计表.xlsx").touch()  # a file to take: the watch runs the batch
    code, text = gk("watch", inp, "-o", out, "--rounds", "2", "--interval", "0.2")
    assert code == 0 and "手工修改 1 个" in text and f"{REPORT}（手工修改）.docx" in text.replace("\n", "")
    res = CliRunner().invoke(app, ["batch", str(inp), "-o", str(out), "-j", "1", "--json"])
    data = json.loads(res.stdout)
    assert "沿用上次的设置：汇总单位 " + DISTRICT in data["settings"]["notes"]
    assert [Path(e["kept_as"]).name for e in data["hand_edited"]] == [f"{REPORT}（手工修改）.docx"]


def test_watch_force_redoes_everything_once(tmp_path):
    inp, _ = write_district(tmp_path)
    out = tmp_path / "out"
    run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1))
    processed: list[int] = []
    rounds = {"n": 0}

    def stop() -> bool:
        rounds["n"] += 1
        if rounds["n"] == 2:
            (inp / "某某区教育局2025年统计表.xlsx").touch()  # the same bytes: nothing to redo without --force
        return rounds["n"] >= 4

    opts = BatchOptions(input_dir=inp, output_dir=out, jobs=1, force=True)
    watch_folder(opts, interval=0.05, stop=stop, on_result=lambda r: processed.append(r.processed))
    assert processed == [len(list(inp.iterdir())), 0]  # all once (forced), then the touched file: unchanged


def _other_contact(src: Path, dest: Path, name: str) -> Path:
    """A copy of a unit's workbook whose report differs (another 联系人)."""
    wb = load_workbook(src)
    ws = wb["基本信息"]
    for row in ws.iter_rows():
        if str(row[0].value or "").startswith("联系人"):
            row[1].value = name
    wb.save(dest)
    return dest


@pytest.mark.parametrize("jobs", [1, 2])
def test_two_different_files_of_one_unit_are_never_taken_for_hand_edits(tmp_path, jobs):
    """Both files are read and both write the unit's outputs before the duplicate is seen: what
    the one wrote and the other found is the run's own writing, removed, never kept as 手工修改."""
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    src = SAMPLES / "示例市东城区教育局2025年统计表.xlsx"
    shutil.copy(src, inp / "a.xlsx")
    _other_contact(src, inp / "b.xlsx", "李四")
    shutil.copy(SAMPLES / "示例市东城区市场监督管理局2025年统计表.xlsx", inp)
    folder = out / "2025" / "示例市东城区教育局"
    for _ in range(3):
        result = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=jobs))
        assert sorted(r.status for r in result.records if r.unit == "示例市东城区教育局") == ["重复报送"] * 2
        assert result.hand_edited == [] and not list(out.rglob("*手工修改*"))
        assert not folder.exists() or not list(folder.iterdir())
    # one kept: its report, and still nothing taken for a hand edit
    (inp / "b.xlsx").unlink()
    result = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=jobs))
    assert [r.status for r in result.records if r.unit == "示例市东城区教育局"] != ["重复报送"]
    assert len(list(folder.glob("*.docx"))) == 1 and result.hand_edited == []
    # a second, different file for a unit already done
    _other_contact(src, inp / "教育局更正.xlsx", "王五")
    result = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=jobs))
    assert sorted(r.status for r in result.records if r.unit == "示例市东城区教育局") == ["重复报送"] * 2
    assert result.hand_edited == [] and not list(out.rglob("*手工修改*"))


def test_a_hand_edited_report_stays_listed_under_its_own_unit(tmp_path):
    """The input that gave 教育局's report now holds 住建局's workbook: 教育局's hand-edited report is
    kept and listed as 教育局's, not as the unit the input now holds."""
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    shutil.copy(SAMPLES / "示例市东城区教育局2025年统计表.xlsx", inp / "报送1.xlsx")
    shutil.copy(SAMPLES / "示例市东城区市场监督管理局2025年统计表.xlsx", inp / "报送2.xlsx")
    first = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1))
    docx = out / next(r for r in first.records if r.input == "报送1.xlsx").outputs["docx"]
    _type_into_docx(docx, "办公室手工加的一段。")
    shutil.copy(SAMPLES / "示例市东城区住房和城乡建设局2025年统计表.xlsx", inp / "报送1.xlsx")
    result = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1))
    kept = docx.with_name(docx.stem + "（手工修改）.docx")
    assert "办公室手工加的一段。" in Docx(kept).texts()
    assert [(e["kept_as"], e["unit"], e["year"]) for e in result.hand_edited] == [
        (str(kept.relative_to(out)), "示例市东城区教育局", 2025)
    ]
    data = json.loads((out / "审核报告.json").read_text(encoding="utf-8"))
    assert [e["unit"] for e in data["hand_edited"]] == ["示例市东城区教育局"]
    # listed on while it is there
    assert run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1)).hand_edited == result.hand_edited


def test_outputs_that_are_not_there_are_not_said_to_be_undeletable(tmp_path):
    """The unit's folder was replaced by a plain file: the unit is 无法写出, and the outputs of its last
    run, which cannot be there any more, are not reported as left behind."""
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    _other_contact(SAMPLES / "示例市东城区教育局2025年统计表.xlsx", inp / "教育局.xlsx", "张三")
    first = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1))
    folder = out / Path(first.records[0].outputs["docx"]).parent
    shutil.rmtree(folder)
    folder.write_text("x")
    _other_contact(SAMPLES / "示例市东城区教育局2025年统计表.xlsx", inp / "教育局.xlsx", "李四")
    (rec,) = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1)).records
    assert rec.status == "无法写出" and "无法写出" in rec.reason
    assert "无法删除" not in rec.reason and "上一次运行" not in rec.reason
    # a folder where a report was: not taken for a hand-edited report
    folder.unlink()
    third = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1, force=True))
    docx = out / third.records[0].outputs["docx"]
    docx.unlink()
    docx.mkdir()
    _other_contact(SAMPLES / "示例市东城区教育局2025年统计表.xlsx", inp / "教育局.xlsx", "王五")
    result = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1))
    assert result.hand_edited == [] and not list(out.rglob("*手工修改*"))


def test_summaries_that_cannot_be_written_name_the_district_report_too(tmp_path, monkeypatch):
    from gkreport import batch

    inp, _ = write_district(tmp_path)
    opts = BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=1, summary_unit=DISTRICT)
    run_batch(opts)

    def full_disk(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(batch, "_write_summaries", full_disk)
    (inp / "某某区教育局2025年统计表.xlsx").touch()
    result = run_batch(
        BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=1, summary_unit=DISTRICT, force=True)
    )
    (problem,) = [p for p in result.problems if "未能写出" in p]
    assert problem.startswith(f"汇总表和{DISTRICT}的汇总年度报告未能写出") and "请勿使用" in problem
    assert result.exit_code == 2


def test_watch_stopped_during_a_round_does_not_say_the_summaries_are_saved(tmp_path, monkeypatch):
    """Ctrl-C while ``watch`` is processing a round: the round's summaries were not written, so it
    says it was interrupted (exit 130, as ``batch``), not that the summaries are saved; a rerun completes."""
    import gkreport.batch as batch_module

    inp, out = tmp_path / "input", tmp_path / "output"
    inp.mkdir()
    for p in SAMPLES.glob("*2025*.xlsx"):
        shutil.copy(p, inp / p.name)
    real = batch_module.run_batch

    def stopped_after_one_unit(opts, progress=None, **kwargs):
        def progress_then_ctrl_c(kind, rec, done, total):
            if progress is not None:
                progress(kind, rec, done, total)
            if kind == "done" and rec is not None:
                raise KeyboardInterrupt

        return real(opts, progress_then_ctrl_c, **kwargs)

    monkeypatch.setattr(batch_module, "run_batch", stopped_after_one_unit)
    code, text = gk("watch", inp, "-o", out, "--summary-unit", DISTRICT, "--interval", "0.2", "--rounds", "5")
    said = "".join(text.split())
    assert code == 130 and "汇总都已保存" not in said and "已中断" in said
    assert not (out / "2025" / "汇总" / SUMMARY).exists()
    monkeypatch.setattr(batch_module, "run_batch", real)
    code, text = gk("batch", inp, "-o", out)
    assert (
        code == 1
        and (out / "2025" / "汇总" / SUMMARY).is_file()
        and (out / "2025" / "汇总" / f"{REPORT}.docx").is_file()
    )


def test_a_watch_says_each_note_once(tmp_path):
    """The batch's 注意 (here: a workbook open in Excel) reach a watch's terminal, each once."""
    inp, _ = write_district(tmp_path)
    out = tmp_path / "out"
    (inp / "~$某某区教育局2025年统计表.xlsx").write_bytes(b"\x05clerk" + b" " * 156)
    later = inp / "某某区市场监督管理局2025年统计表.xlsx"
    held = later.read_bytes()
    later.unlink()
    # a second round of work while the watch runs: a workbook dropped in after the first
    timer = threading.Timer(1.5, later.write_bytes, (held,))
    timer.start()
    try:
        code, text = gk("watch", inp, "-o", out, "--rounds", "12", "--interval", "0.3")
    finally:
        timer.cancel()
    flat = text.replace("\n", "")
    assert code == 0 and "某某区市场监督管理局" in flat  # the second round ran
    assert flat.count("某某区教育局2025年统计表.xlsx旁边有 Excel、WPS 或 LibreOffice") == 1
