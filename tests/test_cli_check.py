"""``gkreport check``: JSON of every cell, findings, exit codes, --xlsx and --previous."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

from openpyxl import load_workbook
from typer.testing import CliRunner

from conftest import SAMPLES
from gkreport.cli import app
from gkreport.spec import consistent_values, load_form
from gkreport.spec.layout import build_grid as grid
from gkreport.spec.names import cell_name
from gkreport.template import sheet_name
from official_layout import write_separate_sheets_2021

runner = CliRunner()


def test_template_fill_check_json_returns_every_cell(tmp_path):
    path = tmp_path / "t.xlsx"
    assert runner.invoke(app, ["template", "--form", "2021", "-o", str(path)]).exit_code == 0
    form = load_form("2021")
    wb = load_workbook(path)
    rng = random.Random(1)
    expected = {}
    for t in form.tables.values():
        ws = wb[sheet_name(t)]
        for cid, (r, c) in grid(t).value_pos.items():
            v = rng.randint(0, 50)
            ws.cell(3 + r, c + 1).value = v
            expected[cid] = (v, sheet_name(t), ws.cell(3 + r, c + 1).coordinate)
    for row in wb["基本信息"].iter_rows():
        if str(row[0].value).startswith("单位名称"):
            row[1].value = "某某区教育局"
        if str(row[0].value).startswith("年度"):
            row[1].value = 2025
    wb.save(path)
    res = runner.invoke(app, ["check", str(path), "--json"])
    data = json.loads(res.stdout)
    assert len(data) == 1 and res.exit_code in (0, 1)
    got = data[0]
    assert (got["form"], got["unit"], got["year"]) == ("2021", "某某区教育局", 2025)
    assert len(got["values"]) == 200
    by_id = {v["id"]: v for v in got["values"]}
    assert {cid: (v["value"], v["sheet"], v["cell"]) for cid, v in by_id.items()} == expected
    v = by_id["t3.withheld_1.business"]
    assert v["table"] == "三、收到和处理政府信息公开申请情况"
    assert v["row"] == "三、本年度办理结果/（三）不予公开/1.属于国家秘密"
    assert v["column"] == "法人或其他组织/商业企业"
    t4 = by_id["t4.cases.after_total"]
    assert t4["row"] == "" and t4["column"] == "行政诉讼/复议后起诉/总计"
    # random numbers do not add up: errors with a suspect cell
    assert res.exit_code == 1
    assert any(f["severity"] == "error" and f["suspect"] for f in got["findings"])


def test_exit_codes_and_messages(tmp_path):
    clean = SAMPLES / "示例市东城区教育局2025年统计表.xlsx"
    wrong = SAMPLES / "示例市东城区自然资源局2025年统计表（有错误）.xlsx"
    ok = runner.invoke(app, ["check", str(clean)])
    assert ok.exit_code == 0
    bad = runner.invoke(app, ["check", str(wrong)])
    assert bad.exit_code == 1 and "错误" in bad.output and "疑似数字颠倒" in bad.output
    broken = tmp_path / "坏.xlsx"
    broken.write_bytes(b"garbage")
    res = runner.invoke(app, ["check", str(clean), str(broken)])
    assert res.exit_code == 2 and "坏.xlsx" in res.output and "无法读取" in res.output


def test_seed_sample_gives_exactly_the_known_findings():
    res = runner.invoke(
        app, ["check", str(SAMPLES / "张店区科学技术局2017年政府信息公开工作情况统计表.xlsx"), "--json"]
    )
    findings = json.loads(res.stdout)[0]["findings"]
    errors = [f for f in findings if f["severity"] == "error"]
    assert len(errors) == 2 and res.exit_code == 1
    staff = next(f for f in errors if "从事政府信息公开工作人员数" in f["message"])
    assert staff["suggestion"] == 4 and staff["proposal"] is True
    assert any("成文日期" in f["message"] and "2017年3月12日" in f["message"] for f in errors)
    warnings = [f for f in findings if f["severity"] == "warning"]
    assert len(warnings) == 1 and "5. 其他方式回应事件数" in warnings[0]["message"]


def test_xlsx_output_never_overwrites_the_input(tmp_path):
    src = SAMPLES / "示例市东城区自然资源局2025年统计表（有错误）.xlsx"
    out = tmp_path / "审核后.xlsx"
    res = runner.invoke(app, ["check", str(src), "--xlsx", str(out)])
    assert res.exit_code == 1 and out.exists()
    wb = load_workbook(out)
    assert "审核结果" in wb.sheetnames and wb["审核结果"].max_row > 5
    before = src.read_bytes()
    same = runner.invoke(app, ["check", str(src), "--xlsx", str(src)])
    assert same.exit_code == 2 and src.read_bytes() == before


def test_previous_year_carry_over(tmp_path):
    from gkreport.samples import SAMPLES_2021
    from gkreport.template import write_template

    s = SAMPLES_2021[2]  # carries 2 + … requests over to the next year
    this_year = dict(s["values"])
    last = write_template(
        load_form("2021"),
        tmp_path / "2024.xlsx",
        values={**this_year, "t3.next.natural": 1, "t3.next.total": 1, "t3.next.business": 0},
        meta={**s["meta"], "year": 2024, "date_written": "2025年1月20日"},
        narrative=s["narrative"],
    )
    now = tmp_path / "2025.xlsx"
    write_template(load_form("2021"), now, values=this_year, meta=s["meta"], narrative=s["narrative"])
    res = runner.invoke(app, ["check", str(now), "--previous", str(last), "--json"])
    findings = json.loads(res.stdout)[0]["findings"]
    a6 = [f for f in findings if f["rule"].startswith("A6")]
    assert a6 and any("上年" in f["message"] for f in a6)


def test_help_does_not_import_pandas_or_writers():
    code = (
        "import sys; from gkreport.cli import app; "
        "import typer.main; "
        "bad = [m for m in ('pandas', 'numpy', 'openpyxl', 'xlsxwriter', 'docx', 'python_calamine', 'yaml') "
        "if m in sys.modules]; print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    res = subprocess.run([sys.executable, "-m", "gkreport", "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "batch" in res.stdout


def test_numpy_loaded_by_gkreport_runs_no_blas_threads():
    """The check engine's matrices are small: OpenBLAS's threads would only spin on the cores the
    batch's workers need. A value the user set stays."""
    code = (
        "import os, gkreport, numpy as np; from gkreport import checks; "
        "np.ones((400, 400)) @ np.ones((400, 400)); "
        "print(os.environ['OPENBLAS_NUM_THREADS'], len(os.listdir('/proc/self/task')))"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["1", "1"]
    env["OPENBLAS_NUM_THREADS"] = "2"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split()[0] == "2"


def test_check_a_folder_checks_every_workbook_in_it(tmp_path):
    """``gkreport check FOLDER``: every workbook in the folder and its subfolders, found as
    ``batch`` finds them (no Office lock files, no hidden files, no other files)."""
    import shutil

    from gkreport.batch import discover

    folder = tmp_path / "收到的统计表"
    (folder / "第二批").mkdir(parents=True)
    samples = sorted(SAMPLES.glob("*.xlsx"))
    for k, p in enumerate(samples):
        shutil.copy(p, (folder / "第二批" if k % 2 else folder) / p.name)
    (folder / "~$锁文件.xlsx").write_bytes(b"lock")
    (folder / "说明.txt").write_text("不是统计表", encoding="utf-8")
    res = runner.invoke(app, ["check", str(folder), "--json"])
    data = json.loads(res.stdout)
    assert sorted(d["file"] for d in data) == sorted(str(p) for p in discover(folder))
    assert len(data) == len(samples) and all(d["status"] != "无法读取" for d in data)
    assert res.exit_code == 1  # one sample has errors
    text = runner.invoke(app, ["check", str(folder)]).output
    for p in samples:
        assert p.name in text


def test_check_a_folder_that_is_not_there_is_an_error(tmp_path):
    missing = tmp_path / "收到的统计表"
    res = runner.invoke(app, ["check", str(missing)])
    assert res.exit_code == 2
    assert f"文件或文件夹{missing}不存在" in "".join(res.output.split())  # whatever the console's width
    assert not missing.exists()


# --------------------------------------------------------------------------- issue 13: places, --previous, text


def _check(*args: str) -> tuple[int, list[dict], str]:
    """``check --json`` and the printed table of the same files: exit code, data, text."""
    res = runner.invoke(app, ["check", *args, "--json"])
    text = runner.invoke(app, ["check", *args])
    assert text.exit_code == res.exit_code
    return res.exit_code, json.loads(res.stdout), text.output


def _row_of(text: str, needle: str) -> str:
    """The printed row of the findings table whose 说明 starts with ``needle``."""
    return next(line for line in text.splitlines() if needle in line)


def _official_values(**changes: int) -> dict:
    from conftest import T2_CLEAN, t3_values, t4_values

    leaves = {("disclosed", "natural"): 6, ("partial", "natural"): 2, ("unable_1", "natural"): 2}
    values = {
        **T2_CLEAN,
        **t3_values(leaves, {"natural": 1}, {"natural": 1}, False),
        **t4_values([31, 4, 1, 3] + [0] * 8),
    }
    values.update({k.replace("__", "."): v for k, v in changes.items()})
    return values


def test_one_sheet_layout_names_the_table_each_cell_belongs_to(tmp_path):
    """All tables on one sheet (pasted from the Word document): a 表四 cell is 表四 E… and a 表三 cell
    表三 …, not the first table of the sheet; the JSON gives the suspect's and the candidates' sheet!cell."""
    from official_layout import write_official_2021

    where: dict[str, tuple[str, str]] = {}
    values = _official_values(t4__cases__review_upheld=13, t3__disclosed__natural=60)  # 31 and 6
    path = write_official_2021(tmp_path / "年报.xlsx", values, "某某区司法局", 2025, where=where)
    code, (data,), text = _check(str(path))
    assert code == 1 and data["status"] == "有错误"
    errors = {f["suspect"]: f for f in data["findings"] if f["severity"] == "error"}
    assert set(errors) == {"t4.cases.review_upheld", "t3.disclosed.natural"}
    for cid, table in (("t4.cases.review_upheld", "表四"), ("t3.disclosed.natural", "表三")):
        sheet, a1 = where[cid]
        assert errors[cid]["suspect_cell"] == f"{sheet}!{a1}"
        row = _row_of(text, errors[cid]["message"][:12])
        assert f"{table} {a1}" in row and "表二" not in row
    # equally likely cells: each named by its cell id and by its place
    values = _official_values(t4__cases__review_upheld=7)
    values.update(
        {f"t4.cases.review_{k}": v for k, v in zip(("corrected", "other", "pending", "total"), (2, 1, 3, 11))}
    )
    values["t4.cases.review_upheld"] = 7  # 5 + 2 + 1 + 3 = 11: one of five cells is wrong
    path = write_official_2021(tmp_path / "年报2.xlsx", values, "某某区司法局", 2025, where=where)
    _, (data,), _ = _check(str(path))
    (f,) = [f for f in data["findings"] if f["severity"] == "error"]
    assert f["suspect"] is None and len(f["candidates"]) >= 2
    assert f["candidate_cells"] == ["!".join(where[c]) for c in f["candidates"]]


def test_previous_keeps_the_typing_slip_and_its_correction(tmp_path):
    """With last year's report (which disagrees with this year's 上年结转), the slip in 一 is still
    one error at its own cell with its correction; the disagreement is reported on its own."""
    from official_layout import write_official_2021

    where: dict[str, tuple[str, str]] = {}
    now = write_official_2021(
        tmp_path / "2025.xlsx", _official_values(t3__new__natural=1), "某某区司法局", 2025, where=where
    )  # 一 自然人 is 10
    last_values = _official_values()
    for c in ("natural", "total"):  # last year carried 3 over, not 1 (and took in 2 more)
        last_values[f"t3.next.{c}"] += 2
        last_values[f"t3.new.{c}"] += 2
    last = write_official_2021(tmp_path / "2024.xlsx", last_values, "某某区司法局", 2024)
    _, (alone,), _ = _check(str(now))
    code, (data,), text = _check(str(now), "--previous", str(last))
    assert code == 1
    slips = [f for f in data["findings"] if f["suspect"]]
    assert [f["message"] for f in slips] == [f["message"] for f in alone["findings"] if f["suspect"]]
    (slip,) = slips
    assert (slip["suspect"], slip["suggestion"], slip["note"]) == ("t3.new.natural", 10, "疑似漏输了一个 0：1 → 10")
    assert [g["rule"] for g in slip["grouped"]] == ["t3.csum.new.total", "A3.natural"]
    row = _row_of(text, slip["message"][:12])
    assert f"表三 {where['t3.new.natural'][1]}" in row and "等" not in row.split("│")[2]
    a6 = [f for f in data["findings"] if f["rule"].startswith("A6")]
    assert len(a6) == 2 and all(f["suspect"] is None for f in a6)
    assert sum(f["severity"] == "error" for f in data["findings"]) == 3  # the slip and the two disagreements


def test_a_number_in_the_text_is_located_at_its_paragraph(tmp_path):
    from conftest import NARRATIVE_2021
    from official_layout import write_web_page_2021

    narrative = {**NARRATIVE_2021, "overview": "本机关深入推进政务公开。\n全年共收到政府信息公开申请999件。"}
    path = write_web_page_2021(
        tmp_path / "网页.xlsx", _official_values(), "某某区司法局2025年政府信息公开工作年度报告", narrative
    )
    ws = load_workbook(path).active
    second = next(c.coordinate for row in ws.iter_rows() for c in row if str(c.value).endswith("999件。"))
    _, (data,), text = _check(str(path))
    (f,) = [f for f in data["findings"] if f["rule"] == "A8.received"]
    assert f["paragraph"] == ["overview", 1] and f["cells"][0] == f"Sheet1!{second}"
    assert f"Sheet1 {second}" in _row_of(text, "“一、总体情况”第 2 段")


def test_the_command_ends_as_an_ordinary_exit_does_without_taking_python_apart(tmp_path):
    """``gkreport`` leaves with its exit code after waiting for the threads that are not daemons,
    running the exit handlers and flushing what it printed; a reader that closed the pipe early
    makes it exit with 120, as Python does."""
    script = tmp_path / "leave.py"
    script.write_text(
        "import atexit, sys, threading, time\n"
        "from pathlib import Path\n"
        "from gkreport.cli import leave\n"
        "out = Path(sys.argv[1])\n"
        "atexit.register(lambda: (out / 'handler').write_text('ran'))\n"
        "def late():\n"
        "    time.sleep(0.3)\n"
        "    (out / 'thread').write_text('done')\n"
        "threading.Thread(target=late).start()\n"
        "sys.stdout.write('已完成' * int(sys.argv[3]))\n"
        "leave(int(sys.argv[2]))\n",
        encoding="utf-8",
    )
    env_run = [sys.executable, str(script), str(tmp_path)]
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # output kept until flushed
    done = subprocess.run([*env_run, "3", "3000"], capture_output=True, env=buffered)
    assert done.returncode == 3 and done.stdout.decode("utf-8") == "已完成" * 3000
    assert (tmp_path / "handler").read_text() == "ran" and (tmp_path / "thread").read_text() == "done"
    proc = subprocess.Popen([*env_run, "0", "10"], stdout=subprocess.PIPE, env=buffered)
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone before the last output is flushed
    assert proc.wait(timeout=60) == 120


def test_batch_through_the_command_exits_with_its_code_and_prints_everything(tmp_path):
    inp = tmp_path / "input"
    inp.mkdir()
    for p in SAMPLES.glob("*.xlsx"):
        (inp / p.name).write_bytes(p.read_bytes())
    done = subprocess.run(
        [sys.executable, "-m", "gkreport", "batch", str(inp), "-o", str(tmp_path / "out"), "--json"],
        capture_output=True,
    )
    assert done.returncode == 1, done.stderr.decode("utf-8", "replace")  # the samples include one with errors
    result = json.loads(done.stdout.decode("utf-8"))
    assert result["exit_code"] == 1 and len(result["files"]) == len(list(inp.glob("*.xlsx")))
    assert all((tmp_path / "out" / f["outputs"]["docx"]).is_file() for f in result["files"])


def test_previous_that_is_not_there_or_cannot_be_read_is_said(tmp_path):
    """A mistyped ``--previous`` is refused before any work (the cross-year check asked for cannot be
    made); a previous file that cannot be read is named, not passed over as if there were none."""
    now = SAMPLES / "示例市东城区教育局2025年统计表.xlsx"
    missing = tmp_path / "某某局2024年统计表.xlsx"
    for args in ([], ["--json"]):
        res = runner.invoke(app, ["check", str(now), "--previous", str(missing), *args])
        assert res.exit_code == 2 and "未发现问题" not in res.output
        assert "找不到上一年度的文件或文件夹" in res.output and missing.name in res.output
    empty = tmp_path / "2024年"
    empty.mkdir()
    res = runner.invoke(app, ["check", str(now), "--previous", str(empty)])
    assert res.exit_code == 2 and "没有统计表" in res.output and "未发现问题" not in res.output
    broken = tmp_path / "某某局2024年统计表（坏）.xlsx"
    broken.write_bytes(b"garbage")
    alone = runner.invoke(app, ["check", str(now)])
    res = runner.invoke(app, ["check", str(now), "--previous", str(broken)])
    assert res.exit_code == alone.exit_code == 0
    said = "".join(res.output.split())
    assert "上一年度的文件" in said and broken.name in said and "跨年度核对没有包括" in said
    data = runner.invoke(app, ["check", str(now), "--previous", str(broken), "--json"])
    assert len(json.loads(data.stdout)) == 1 and broken.name in data.stderr


def test_xlsx_output_never_overwrites_last_years_workbook(tmp_path):
    """``--xlsx`` naming the ``--previous`` file (or a file in the ``--previous`` folder) is refused:
    last year's workbook is an input too."""
    import shutil

    now = SAMPLES / "示例市东城区教育局2025年统计表.xlsx"
    last = tmp_path / "2024年" / "某某局2024年统计表.xlsx"
    last.parent.mkdir()
    shutil.copy(SAMPLES / "示例市东城区市场监督管理局2025年统计表.xlsx", last)
    before = last.read_bytes()
    for previous in (last, last.parent):
        res = runner.invoke(app, ["check", str(now), "--previous", str(previous), "--xlsx", str(last)])
        assert res.exit_code == 2 and "不能覆盖输入文件" in res.output and "已写入" not in res.output
        assert last.read_bytes() == before


def test_xlsx_output_that_cannot_be_written_is_said_in_chinese(tmp_path):
    """An ``--xlsx`` place that cannot take a file (a folder of that name, a file where its folder
    should be) is one Chinese line naming the file and exit 3, after the findings; not a program fault."""
    src = SAMPLES / "示例市东城区自然资源局2025年统计表（有错误）.xlsx"
    folder = tmp_path / "审核后.xlsx"
    folder.mkdir()
    blocker = tmp_path / "审核结果"
    blocker.write_text("不是文件夹", encoding="utf-8")
    for target, why in ((folder, "同名的文件夹"), (blocker / "审核后.xlsx", "同名的文件（不是文件夹）")):
        for args in ([], ["--json"]):
            res = runner.invoke(app, ["check", str(src), "--xlsx", str(target), *args])
            said = "".join(res.output.split())
            assert res.exit_code == 3 and "程序内部错误" not in said and "已写入" not in said
            assert f"无法写出审核后的统计表{target}" in said and why in said
            if args:
                assert json.loads(res.stdout)[0]["status"] == "有错误"
            else:
                assert "示例市东城区自然资源局" in said and "疑似数字颠倒" in said
    assert folder.is_dir() and not any(folder.iterdir()) and blocker.read_text(encoding="utf-8") == "不是文件夹"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["审核后.xlsx", "审核结果"]  # no temp file left


def test_xlsx_output_already_there_is_replaced_only_with_force(tmp_path):
    """An existing ``--xlsx`` file (last time's 审核后 file, perhaps with notes typed into it since) is
    left as it is without ``--force``, said in Chinese with what to do; with ``--force`` it is the new one."""
    src = SAMPLES / "示例市东城区自然资源局2025年统计表（有错误）.xlsx"
    target = tmp_path / "审核后.xlsx"
    target.write_bytes(b"notes typed into last time's file")
    res = runner.invoke(app, ["check", str(src), "--xlsx", str(target)])
    said = "".join(res.output.split())
    assert res.exit_code == 2 and "已存在，未覆盖" in said and "--force" in said and "已写入" not in said
    assert target.read_bytes() == b"notes typed into last time's file"
    res = runner.invoke(app, ["check", str(src), "--xlsx", str(target), "--force"])
    assert res.exit_code == 1 and "已写入审核后的统计表" in "".join(res.output.split())
    wb = load_workbook(target)
    assert "审核结果" in wb.sheetnames


def test_previous_with_no_report_of_the_year_before_for_the_unit_is_said(tmp_path):
    """``--previous`` holding no report of the checked unit for the year before (another unit's file,
    or two years back) says that the cross-year checks were not made, instead of a bare 未发现问题."""
    from gkreport.samples import SAMPLES_2021
    from gkreport.template import write_template

    s = SAMPLES_2021[0]
    now = write_template(load_form("2021"), tmp_path / "2025.xlsx", values=s["values"], meta=s["meta"])
    unit = s["meta"]["unit"]
    matching = write_template(
        load_form("2021"), tmp_path / "2024.xlsx", values=s["values"], meta={**s["meta"], "year": 2024}
    )
    two_back = write_template(
        load_form("2021"), tmp_path / "2023.xlsx", values=s["values"], meta={**s["meta"], "year": 2023}
    )
    other = SAMPLES / "示例市东城区市场监督管理局2025年统计表.xlsx"
    res = runner.invoke(app, ["check", str(now), "--previous", str(matching)])
    assert "没有做跨年度核对" not in "".join(res.output.split())
    for previous in (other, two_back):
        res = runner.invoke(app, ["check", str(now), "--previous", str(previous)])
        said = "".join(res.output.split())
        assert f"没有“{unit}”2024年度的统计表" in said and "2025.xlsx没有做跨年度核对" in said, res.output
        data = runner.invoke(app, ["check", str(now), "--previous", str(previous), "--json"])
        json.loads(data.stdout)  # the note goes to stderr: the JSON stays whole


def test_names_with_square_brackets_are_shown_as_they_are(tmp_path):
    """A file named 教育局[b]定稿.xlsx (or [final]) is printed with its brackets, not taken for markup."""
    import shutil

    folder = tmp_path / "收到的统计表"
    folder.mkdir()
    shutil.copy(SAMPLES / "示例市东城区教育局2025年统计表.xlsx", folder / "教育局[b]定稿.xlsx")
    shutil.copy(SAMPLES / "示例市东城区自然资源局2025年统计表（有错误）.xlsx", folder / "自然资源局[final].xlsx")
    res = runner.invoke(app, ["check", str(folder)])
    said = "".join(res.output.split())
    assert "✓教育局[b]定稿.xlsx：" in said and "自然资源局[final].xlsx：示例市东城区自然资源局" in said, res.output
    out = tmp_path / "审核[final].xlsx"
    res = runner.invoke(app, ["check", str(folder / "教育局[b]定稿.xlsx"), "--xlsx", str(out)])
    assert f"已写入审核后的统计表：{out}" in "".join(res.output.split())


def test_cells_the_reader_explained_are_not_listed_as_blank_again(tmp_path):
    """A dash, error values and a truly blank cell in pasted tables: `check` says 未填写 of the blank
    cell only; the others are each said once, by the reader's own finding, and referred to."""
    form = load_form("2021")
    values = {k: int(v) for k, v in consistent_values(form, 12).items() if not form.cells[k].optional}
    path, where = write_separate_sheets_2021(
        tmp_path / "某某区统计局.xlsx", values, "某某区统计局2025年政府信息公开工作年度报告"
    )
    contents = {
        "t3.new.natural": "—",  # with the blank t3.carry.natural, A3 (自然人列) cannot be judged
        "t3.new.business": "#DIV/0!",
        "t3.carry.natural": None,
        "t3.total.total": "—",  # its parts are filled: what it should be is proposed
        **{c: "—" for c in form.tables["t4"].cells if c in where},  # a whole table of dashes
    }
    wb = load_workbook(path)
    for cid, content in contents.items():
        sheet, ref = where[cid]
        wb[sheet][ref] = content
    wb.save(path)
    explained = {c for c, v in contents.items() if v is not None}

    res = runner.invoke(app, ["check", str(path), "--json"])
    findings = json.loads(res.stdout)[0]["findings"]
    read = {c for f in findings if f["rule"] == "READ.value" for c in f["cell_ids"]}
    assert read == explained  # each said once by the reader
    blank_said = [f for f in findings if "未填写" in f["message"]]
    for f in blank_said:
        assert not set(f["cell_ids"]) & explained, f["message"]
        called_blank = f["message"].split("；")[0]  # what a message calls 未填写 comes before any “；”
        for c in explained:
            assert cell_name(form, c) not in called_blank, f["message"]
    [a3] = [f for f in findings if f["rule"] == "A3.natural"]
    assert a3["cell_ids"] == ["t3.carry.natural"]
    assert f"{cell_name(form, 't3.carry.natural')}未填写" in a3["message"]
    assert f"{cell_name(form, 't3.new.natural')}没有读到数字，已另行说明" in a3["message"]
    [total] = [f for f in findings if f["suspect"] == "t3.total.total"]
    assert f"{cell_name(form, 't3.total.total')}没有读到数字（已另行说明），按" in total["message"]
    [t4] = [f for f in findings if f["rule"] == "t4.blank"]
    assert t4["message"].startswith("表四没有读到任何数字")


def test_check_shows_a_garbled_file_name_with_the_name_it_should_have(tmp_path):
    """A zip made on Chinese Windows, unpacked by a tool that reads its names as CP437: the name is
    shown with the one it should have, and a rename suggested; other names are left as they are."""
    name = "示例市东城区教育局2025年统计表.xlsx"
    odd = name.encode("gbk").decode("cp437")  # ╩╛└²…
    shutil.copy(SAMPLES / name, tmp_path / odd)
    others = {
        "示例市东城区住房和城乡建设局2025年统计表.xlsx": "示例市东城区住房和城乡建设局2025年统计表.xlsx",
        "market-2025.xlsx": "示例市东城区市场监督管理局2025年统计表.xlsx",
        "Résumé.xlsx": "示例市东城区自然资源局2025年统计表（有错误）.xlsx",
    }
    for target, sample in others.items():
        shutil.copy(SAMPLES / sample, tmp_path / target)
    listed = sorted(os.listdir(tmp_path))
    shown = f"{odd}（文件名是乱码，应为“{name}”）"

    res = runner.invoke(app, ["check", str(tmp_path)])
    assert res.exit_code == 1, res.output  # the workbook with errors
    assert f"✓ {shown}：示例市东城区教育局 2025年" in res.stdout
    notes = [line for line in res.stdout.splitlines() if line.startswith("注意：")]
    assert len(notes) == 1 and notes[0].startswith(f"注意：{shown}：") and "建议改为这个名称" in notes[0], notes
    for target in others:
        assert f"{target}：" in res.stdout and f"{target}（" not in res.stdout
        assert target not in notes[0]

    res = runner.invoke(app, ["check", str(tmp_path), "--json"])
    got = {os.path.basename(u["file"]): u["file_readable"] for u in json.loads(res.stdout)}
    assert got == {odd: str(tmp_path / name), **dict.fromkeys(others)}
    assert [line for line in res.stderr.splitlines() if line.startswith("注意：")] == notes
    assert sorted(os.listdir(tmp_path)) == listed  # nothing renamed


def test_check_says_a_workbook_open_in_excel_is_read_as_last_saved(tmp_path):
    name = "示例市东城区教育局2025年统计表.xlsx"
    shutil.copy(SAMPLES / name, tmp_path / name)
    res = runner.invoke(app, ["check", str(tmp_path / name)])
    assert "锁定文件" not in res.output
    (tmp_path / f"~${name}").write_bytes(b"\x05clerk" + b" " * 156)
    res = runner.invoke(app, ["check", str(tmp_path / name)])
    flat = "".join(res.output.split())
    assert f"注意：{name}旁边有Excel、WPS或LibreOffice打开文件时生成的锁定文件" in flat
    assert "读取的是最后一次保存的内容" in flat
    res = runner.invoke(app, ["check", str(tmp_path), "--json"])  # the lock file is no workbook to check
    assert [Path(f["file"]).name for f in json.loads(res.stdout)] == [name]
    assert "锁定文件" in res.stderr


def test_tangled_errors_say_the_total_shown_is_no_correction(tmp_path):
    """Two mistakes in table 三 that share the 总计 column (a total with its digits swapped, and a
    number typed one row too low): no one cell explains them. Each finding says so, and that its
    应为 is worked out from the other cells as they stand (the column total's 应为 32 is not the
    number to type: the right total is the 23 already there). With one mistake the cell is named."""
    from conftest import unit_2021
    from gkreport import read_workbook
    from gkreport.template import write_template

    clean = unit_2021()
    path = write_template(clean.form, tmp_path / "报送.xlsx", clean.values, clean.meta, clean.narrative)
    at = read_workbook(path).locations
    wb = load_workbook(path)

    def put(cid, v):
        sheet, ref = at[cid]
        wb[sheet][ref] = v

    tangled_note = "至少有两格填错，无法确定是哪几格"
    put("t3.disclosed.total", 80)  # 8, typed with an extra 0
    wb.save(tmp_path / "一处.xlsx")
    put("t3.unable_1.natural", 0)  # the 1 typed in the row below
    put("t3.unable_2.natural", 1)
    wb.save(tmp_path / "两处.xlsx")

    def findings(name):
        res = runner.invoke(app, ["check", str(tmp_path / name), "--json"])
        assert res.exit_code == 1, res.output
        return [f for f in json.loads(res.stdout)[0]["findings"] if f["severity"] == "error"]

    (one,) = findings("一处.xlsx")
    assert one["suspect"] == "t3.disclosed.total" and one["suggestion"] == 8
    assert tangled_note not in (one["note"] or "")

    tangled = findings("两处.xlsx")
    assert {f["rule"] for f in tangled} == {
        "t3.rsum.total.total",
        "t3.csum.disclosed.total",
        "t3.csum.unable_1.total",
        "t3.csum.unable_2.total",
    }
    for f in tangled:
        assert not f["suspect"] and not f["candidates"]
        assert tangled_note in (f["note"] or "") and "不一定是正确的数" in f["note"]
    column = next(f for f in tangled if f["rule"] == "t3.rsum.total.total")
    assert column["expected"] != column["actual"] == clean.values["t3.total.total"]
    # the terminal and the checked workbook say it too
    res = runner.invoke(app, ["check", str(tmp_path / "两处.xlsx"), "--xlsx", str(tmp_path / "审核后.xlsx")])
    assert "至少有两格填错" in res.output.replace("\n", "").replace("│", "").replace(" ", "")
    ws = load_workbook(tmp_path / "审核后.xlsx")["审核结果"]
    head = [c.value for c in ws[2]]
    remarks = [r[head.index("备注")].value for r in ws.iter_rows(min_row=3) if r[0].value is not None]
    assert sum(tangled_note in (x or "") for x in remarks) == 4
