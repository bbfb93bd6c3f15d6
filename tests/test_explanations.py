"""审核说明: a department answers a 提示 in the checked workbook and sends that workbook back.

The loop is run on real files: a submission written from the template, the checked workbook
the tool writes, an explanation typed into it with openpyxl (as a clerk types in Excel), the
resubmitted workbook read and checked again.
"""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl

from conftest import T2_CLEAN, t3_values, t4_values, unit_2021
from gkreport import check_units, read_workbook, write_unit_xlsx
from gkreport.batch import BatchOptions, run_batch
from gkreport.enums import Status
from gkreport.explanations import ERROR_MESSAGE, apply_explanations, figures
from gkreport.mail import review_values
from gkreport.model import ERROR, Explanation
from gkreport.template import write_template

NARRATIVE = {
    "overview": "本机关认真做好政府信息公开工作，依法办理政府信息公开申请。",
    "problems": "一是公开内容的及时性还需提高。下一步将建立公开台账。",
    "other": "本年度未收取信息处理费。",
}
ANSWER = "本年度有 3 件申请人逾期不补正，已依法终止处理，情况属实。"
BASE = {
    ("disclosed", "natural"): 6,
    ("partial", "natural"): 2,
    ("withheld_4", "natural"): 1,
    ("unable_1", "natural"): 1,
    ("disclosed", "business"): 2,
}


def _values(other: int) -> dict:
    """Tables that pass every hard rule, with ``other`` 其他处理 (more than a tenth: a 提示, A7)."""
    leaves = {**BASE, ("other_1", "natural"): other}
    return {**T2_CLEAN, **t3_values(leaves, {"natural": 1}, {"natural": 1}, False), **t4_values([1] + [0] * 11)}


def _submission(tmp_path: Path, other: int = 3) -> Path:
    unit = unit_2021(_values(other), narrative=NARRATIVE)
    return write_template(unit.form, tmp_path / "某市生态环境局.xlsx", unit.values, unit.meta, unit.narrative)


def _checked(path: Path, out: Path):
    unit = read_workbook(path)
    check_units([unit])
    return unit, write_unit_xlsx(unit, out)


def _answer(checked: Path, out: Path, rule: str, text: str) -> Path:
    """Type ``text`` in the 审核说明 column of the finding of ``rule`` (its 编号), as a clerk does."""
    wb = openpyxl.load_workbook(checked)
    ws = wb["审核结果"]
    head = [c.value for c in ws[2]]
    rows = [r for r in ws.iter_rows(min_row=3) if rule in str(r[head.index("编号")].value).split("、")]
    assert rows, rule
    rows[0][head.index("审核说明")].value = text
    wb.save(out)
    return out


def _findings_rows(path: Path) -> list[dict]:
    ws = openpyxl.load_workbook(path)["审核结果"]
    head = [c.value for c in ws[2]]
    return [dict(zip(head, (c.value for c in r))) for r in ws.iter_rows(min_row=3) if r[0].value is not None]


def test_an_explained_warning_stands_across_reruns_and_lapses_when_its_figure_changes(tmp_path):
    first, checked = _checked(_submission(tmp_path), tmp_path / "审核后.xlsx")
    assert first.status == Status.WARNINGS and [f.rule for f in first.findings] == ["A7"]
    resubmitted = _answer(checked, tmp_path / "重新报送.xlsx", "A7", ANSWER)

    # the resubmitted checked workbook: the 提示 is 已说明, not open, and the unit passes with its explanation
    unit, checked2 = _checked(resubmitted, tmp_path / "审核后2.xlsx")
    assert [e.text for e in unit.explanations] == [ANSWER]
    (a7,) = unit.findings
    assert a7.explained and a7.explanation == ANSWER and not a7.explanation_lapsed
    assert unit.open_warnings == [] and unit.status == Status.EXPLAINED == "通过（有说明）"
    (row,) = _findings_rows(checked2)
    assert (row["级别"], row["问题"], row["审核说明"], row["编号"]) == ("已说明", "其他处理偏多", ANSWER, "A7")
    wb = openpyxl.load_workbook(checked2)
    assert "审核结论" in [c.value for c in wb["基本信息"]["A"]]
    conclusion = next(r[1].value for r in wb["基本信息"].iter_rows() if r[0].value == "审核结论")
    assert conclusion == "通过（有说明）（错误 0 条，提示 0 条，已说明 1 条）"
    t3 = wb["三、收到和处理政府信息公开申请情况"]
    noted = [c for row in t3.iter_rows() for c in row if c.comment is not None]
    assert noted and all(f"审核说明：{ANSWER}" in c.comment.text for c in noted)

    # rerun on the same workbook (its checked copy written again): the explanation stays
    again, checked3 = _checked(checked2, tmp_path / "审核后3.xlsx")
    assert again.status == Status.EXPLAINED and again.findings[0].explanation == ANSWER

    # the department changes the figure the 提示 is about: the explanation lapses, with a message
    changed = tmp_path / "改了数字.xlsx"
    wb = openpyxl.load_workbook(checked3)
    new = _values(4)
    for cid, (sheet, ref) in again.locations.items():
        wb[sheet][ref].value = new[cid]
    wb.save(changed)
    lapsed, checked4 = _checked(changed, tmp_path / "审核后4.xlsx")
    (a7,) = lapsed.findings
    assert a7.rule == "A7" and not a7.explained and a7.explanation == ANSWER
    assert "已失效" in a7.explanation_lapsed and "3 → 4" in a7.explanation_lapsed
    assert lapsed.status == Status.WARNINGS
    (row,) = _findings_rows(checked4)
    assert row["级别"] == "提示" and not row["审核说明"]  # nothing stands where the unit types
    assert "已失效" in row["备注"] and ANSWER in row["备注"]


def test_an_error_cannot_be_explained_away(tmp_path):
    values = _values(0)
    values["t3.new.total"] += 1  # a wrong total: 错误
    unit = unit_2021(values, narrative=NARRATIVE)
    sub = write_template(unit.form, tmp_path / "x.xlsx", unit.values, unit.meta, unit.narrative)
    first, checked = _checked(sub, tmp_path / "审核后.xlsx")
    rule = next(f.rule for f in first.findings if f.severity == ERROR)
    again, checked2 = _checked(_answer(checked, tmp_path / "说明了错误.xlsx", rule, "数字没错"), tmp_path / "y.xlsx")
    err = next(f for f in again.findings if f.rule == rule)
    assert err.explanation == "数字没错" and err.explanation_lapsed == ERROR_MESSAGE and not err.explained
    assert again.status == Status.ERRORS
    row = next(r for r in _findings_rows(checked2) if rule in str(r["编号"]).split("、"))
    assert row["级别"] == "错误" and not row["审核说明"] and ERROR_MESSAGE in row["备注"]


def test_explanations_are_kept_on_the_rule_and_the_figures():
    unit = unit_2021(_values(3), narrative=NARRATIVE)
    check_units([unit])
    (a7,) = unit.findings
    figs = figures(unit, a7)
    assert "t3.other_1.total=3" in figs and "t3.total.total=15" in figs
    unit.explanations = [Explanation("A7", figs, ANSWER)]
    apply_explanations(unit)
    assert a7.explained
    unit.explanations = [Explanation("A8.received", figs, ANSWER)]  # another rule's answer does not count
    apply_explanations(unit)
    assert not a7.explanation and unit.status == Status.WARNINGS


def test_the_batch_shows_explanations_in_the_report_and_the_summary(tmp_path):
    _, checked = _checked(_submission(tmp_path), tmp_path / "审核后.xlsx")
    inbox = tmp_path / "input"
    inbox.mkdir()
    _answer(checked, inbox / "某市生态环境局2022年统计表（审核后）.xlsx", "A7", ANSWER)
    out = tmp_path / "output"
    result = run_batch(BatchOptions(input_dir=inbox, output_dir=out, jobs=1))
    (rec,) = result.records
    assert rec.status == Status.EXPLAINED and (rec.errors, rec.warnings, rec.explained) == (0, 0, 1)
    assert result.exit_code == 0 and result.counts() == {"通过（有说明）": 1}
    report = json.loads((out / "审核报告.json").read_text(encoding="utf-8"))
    assert report["units"][0]["status"] == "通过（有说明）"
    ws = openpyxl.load_workbook(out / "审核报告.xlsx")["审核结果"]
    head = [c.value for c in ws[1]]
    row = dict(zip(head, (c.value for c in ws[2])))
    assert (row["级别"], row["问题"], row["审核说明"], row["编号"]) == ("已说明", "其他处理偏多", ANSWER, "A7")
    (summary,) = (out / "2022" / "汇总").glob("*.xlsx")
    wb = openpyxl.load_workbook(summary)
    # the sum is checked like a unit (its own 提示 is the district's); the department's row is 已说明
    (row,) = [r for r in _findings_rows(summary) if r["单位"] != "汇总"]
    assert (row["级别"], row["审核说明"]) == ("已说明", ANSWER) and "核对码" not in row
    status = [r for r in wb["报送情况"].iter_rows(min_row=3, values_only=True) if r[0] is not None]
    assert status[0][5] == "通过（有说明）" and status[0][7] == 0  # 提示数 counts open ones
    unit_book = out / rec.outputs["xlsx"]
    assert _findings_rows(unit_book)[0]["审核说明"] == ANSWER  # the next checked workbook keeps the answer


def test_the_review_mail_lists_only_what_is_open():
    only = review_values(0, 0, [], xlsx_attached=True, explained=2)
    assert only["result"] == "未发现错误，2 个提示均已写审核说明。"
    some = review_values(1, 0, [{"severity": "error", "message": "x"}], xlsx_attached=True, explained=1)
    assert some["result"] == "发现 1 个错误（另有 1 个提示已写审核说明，不再列出），清单如下："


def test_check_in_the_terminal_counts_and_shows_explanations_as_the_workbook_does(tmp_path):
    """``gkreport check`` on a resubmitted checked workbook: a 提示 answered by its 审核说明 is counted as
    已说明 (not as an open 提示) and shows the answer; after the figure changes it is an open 提示 again
    and says why the answer no longer stands; an answer written after an error says it cannot stand."""
    from typer.testing import CliRunner

    from gkreport.cli import app

    runner = CliRunner()
    _, checked = _checked(_submission(tmp_path), tmp_path / "审核后.xlsx")
    answered = _answer(checked, tmp_path / "重新报送.xlsx", "A7", ANSWER)
    res = runner.invoke(app, ["check", str(answered)], env={"COLUMNS": "400"})
    assert res.exit_code == 0, res.output
    assert "错误 0 处，提示 0 处，已说明 1 处" in res.output
    assert f"审核说明：{ANSWER}" in res.output

    unit = read_workbook(answered)
    wb = openpyxl.load_workbook(answered)
    for cid, v in _values(4).items():
        sheet, ref = unit.locations[cid]
        wb[sheet][ref].value = v
    changed = tmp_path / "改了数字.xlsx"
    wb.save(changed)
    res = runner.invoke(app, ["check", str(changed)], env={"COLUMNS": "400"})
    assert "错误 0 处，提示 1 处" in res.output and "已说明" not in res.output
    assert "已失效" in res.output and f"原审核说明：{ANSWER}" in res.output

    values = _values(0)
    values["t3.new.total"] += 1
    bad = unit_2021(values, narrative=NARRATIVE)
    sub = write_template(bad.form, tmp_path / "x.xlsx", bad.values, bad.meta, bad.narrative)
    first, checked = _checked(sub, tmp_path / "审核后e.xlsx")
    rule = next(f.rule for f in first.findings if f.severity == ERROR)
    res = runner.invoke(
        app, ["check", str(_answer(checked, tmp_path / "说明了错误.xlsx", rule, "数字没错"))], env={"COLUMNS": "400"}
    )
    assert res.exit_code == 1 and ERROR_MESSAGE in res.output and "原审核说明：数字没错" in res.output
