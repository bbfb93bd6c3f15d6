"""The check engine: the seed, the suspect search, and every computable rule of formats.md §4."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from conftest import (
    GROUPS,
    NARRATIVE_2021,
    T2_CLEAN,
    T3_COLS,
    T3_LEAVES,
    seed_document_unit,
    seed_unit,
    t3_values,
    t4_values,
    unit_2021,
)
from gkreport.checks import check_unit, check_units, frame, slip_note
from gkreport.model import ERROR, WARNING, Finding, Unit

# --------------------------------------------------------------------------- the seed


def test_seed_is_read_completely():
    u = seed_document_unit()
    assert u.values["stats.org_staff.value"] is None
    assert u.values["stats.publish_total.value"] == 50
    assert set(u.narrative) == {
        "preamble",
        "overview",
        "organisation",
        "proactive",
        "requests",
        "fees",
        "review",
        "problems",
        "other",
    }
    assert "50 条" in u.narrative["proactive"]
    assert seed_unit().values == u.values  # the sample workbook the reader reads holds the same figures


def test_seed_gives_exactly_the_known_findings():
    u = seed_document_unit()
    check_unit(u)
    by_rule = {f.rule: f for f in u.findings}
    assert len(u.findings) == 3, [f.message for f in u.findings]
    staff = by_rule["stats.rsum.org_staff"]
    assert staff.severity == ERROR and staff.proposal
    assert staff.suspect == "stats.org_staff.value" and staff.suggestion == 4 and staff.expected == 4
    assert staff.message == "统计表“（四）从事政府信息公开工作人员数”未填写，按其下各项之和应为 4"
    written = by_rule["D7"]
    assert written.severity == ERROR and "2017年3月12日" in written.message
    assert written.suggestion == date(2018, 3, 12)  # the year slip, next to 填报日期 2018年1月23日
    resp = by_rule["stats.rdedup.resp_total"]
    assert resp.severity == WARNING
    assert "“5. 其他方式回应事件数”为 2" in resp.message and "（1）" in resp.message
    assert set(resp.cell_ids) >= {"stats.resp_total.value", "stats.resp_other.value"}
    assert [f.rule for f in u.errors] == ["stats.rsum.org_staff", "D7"]


def test_seed_narrative_numbers_agree():
    u = seed_document_unit()
    check_unit(u)
    assert not [f for f in u.findings if f.rule.startswith("E17")]
    u = seed_document_unit()
    u.narrative["proactive"] = re.sub(r"50\s*条", "48条", u.narrative["proactive"])  # the seed text may space it
    check_unit(u)
    f = next(f for f in u.findings if f.rule == "E17.publish")
    assert f.severity == WARNING and f.actual == 48 and f.expected == 50
    assert "主动公开政府信息48条" in f.message and "三、行政机关主动公开政府信息的情况" in f.message


# --------------------------------------------------------------------------- 2021 units


def test_clean_2021_unit_has_no_findings():
    u = unit_2021()
    check_unit(u)
    assert u.findings == []


@st.composite
def tables_2021(draw) -> Unit:
    leaves = draw(st.lists(st.integers(0, 40), min_size=len(T3_LEAVES) * 6, max_size=len(T3_LEAVES) * 6))
    carry = draw(st.lists(st.integers(0, 6), min_size=6, max_size=6))
    nxt = draw(st.lists(st.integers(0, 6), min_size=6, max_size=6))
    t4 = draw(st.lists(st.integers(0, 12), min_size=12, max_size=12))
    subtotals = draw(st.booleans())
    grid = {(r, c): leaves[i * 6 + j] for i, r in enumerate(T3_LEAVES) for j, c in enumerate(T3_COLS)}
    values = {
        **T2_CLEAN,
        **t3_values(grid, dict(zip(T3_COLS, carry)), dict(zip(T3_COLS, nxt)), subtotals),
        **t4_values(t4),
    }
    return unit_2021(values)


def test_single_changed_cell_of_table_three_is_found():
    """Random consistent tables pass; one changed cell is named with its original value."""
    outcomes: list[bool] = []

    @settings(
        max_examples=300,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.data())
    def run(data):
        unit = data.draw(tables_2021())
        check_unit(unit)
        assert not unit.errors, [f.message for f in unit.errors]
        cells = sorted(c for c in unit.form.tables["t3"].cells if unit.values.get(c) is not None)
        cell = data.draw(st.sampled_from(cells))
        old = unit.values[cell]
        new = data.draw(st.integers(0, 999).filter(lambda x: x != old))
        changed = unit_2021({**unit.values, cell: new})
        check_unit(changed)
        assert changed.errors, f"{cell}: {old} → {new} went unnoticed"
        outcomes.append(any(f.suspect == cell and f.suggestion == old for f in changed.errors))

    run()
    rate = sum(outcomes) / len(outcomes)
    print(f"\n表三单格改动：{len(outcomes)} 例中 {sum(outcomes)} 例准确指出该格并给出原值（{rate:.1%}）")
    assert len(outcomes) >= 200
    assert rate >= 0.95


def _t4_unit(items: list[int], changes: dict[str, int]) -> Unit:
    values = {**T2_CLEAN, **t3_values({("disclosed", "natural"): 1}, {}, {}, False), **t4_values(items)}
    values.update(changes)
    return unit_2021(values, narrative={})


def test_table_four_lists_the_candidates():
    u = _t4_unit([5, 2, 1, 3] + [0] * 8, {"t4.cases.review_upheld": 7})
    check_unit(u)
    (f,) = list(u.errors)
    assert f.rule == "t4.csum.review_total" and f.suspect is None
    # 其他结果 (1) cannot absorb the difference of 2 without going negative
    assert set(f.candidates) == {
        "t4.cases.review_upheld",
        "t4.cases.review_corrected",
        "t4.cases.review_pending",
        "t4.cases.review_total",
    }
    assert "无法确定" in f.note and "结果维持" in f.note and "（应为 5）" in f.note


def test_table_four_names_a_typing_slip():
    u = _t4_unit([31, 4, 1, 3] + [0] * 8, {"t4.cases.review_upheld": 13})
    check_unit(u)
    (f,) = u.errors
    assert f.suspect == "t4.cases.review_upheld" and f.suggestion == 31
    assert f.note == "疑似数字颠倒：13 → 31"
    u = _t4_unit([0] * 4 + [4, 1, 0, 2] + [0] * 4, {"t4.cases.direct_total": 70})
    check_unit(u)
    (f,) = u.errors
    assert f.suspect == "t4.cases.direct_total" and f.suggestion == 7 and f.note == "疑似多输了一个 0：70 → 7"
    assert f.message.startswith("表四“未经复议直接起诉—总计”应为 7")


def test_two_cells_equally_likely_slips_are_listed():
    # 13 typed for 31 in 结果维持 while 尚未审结 really is 13: both fit the same slip
    u = _t4_unit([31, 2, 1, 13] + [0] * 8, {"t4.cases.review_upheld": 13})
    check_unit(u)
    (f,) = u.errors
    assert f.suspect is None and {"t4.cases.review_upheld", "t4.cases.review_pending"} <= set(f.candidates)


def test_message_names_table_row_column_and_suspect():
    u = unit_2021()
    u.values["t3.unable_1.natural"] = 10  # was 1
    check_unit(u)
    (cell,) = u.errors  # one wrong cell: one error, stating both rules it breaks
    assert cell.message.startswith(
        "表三“1.本机关不掌握相关政府信息”自然人列应为 1（实为 10），疑似多输了一个 0：10 → 1。这一格使 2 条规则不成立："
        "（1）表三“（七）总计”自然人列应为 19（“本年度办理结果”各项之和），实为 10；"
        "（2）表三“1.本机关不掌握相关政府信息”总计列应为 10"
    )
    assert cell.suspect == "t3.unable_1.natural" and cell.suggestion == 1 and cell.actual == 10
    total = next(f for f in cell.grouped if f.rule == "t3.rsum.total.natural")
    assert total.message.startswith("表三“（七）总计”自然人列应为 19（“本年度办理结果”各项之和），实为 10")
    assert "最可能填错的是：表三“1.本机关不掌握相关政府信息”自然人列应为 1（实为 10）" in total.message
    assert total.suspect == "t3.unable_1.natural" and total.suggestion == 1


def test_two_wrong_cells_in_different_places_are_each_found():
    u = unit_2021()
    u.values["t3.partial.natural"] = 5  # was 2
    u.values["t4.cases.review_total"] = 2  # was 1; ambiguous within its group
    check_unit(u)
    t3 = [f for f in u.errors if f.table == "t3"]
    assert t3 and all(f.suspect == "t3.partial.natural" and f.suggestion == 2 for f in t3)
    t4 = [f for f in u.errors if f.table == "t4"]
    assert len(t4) == 1 and len(t4[0].candidates) == 5


def test_pair_of_cells_when_no_single_cell_explains():
    # 一 and 四 of the natural column both changed: no single cell repairs A1 (two rows) and A3
    u = unit_2021()
    u.values["t3.new.natural"] = 14  # was 10
    u.values["t3.next.natural"] = 3  # was 1
    check_unit(u)
    named = {(f.suspect, f.suggestion) for f in u.errors if f.suspect}
    assert named == {("t3.new.natural", 10), ("t3.next.natural", 1)}


@pytest.mark.parametrize(
    "written, correct, note",
    [
        (31, 13, "疑似数字颠倒：31 → 13"),
        (150, 15, "疑似多输了一个 0：150 → 15"),
        (155, 15, "疑似数字重复输入：155 → 15"),
        (15, 150, "疑似漏输了一个 0：15 → 150"),
        (15, 155, "疑似漏输了一位重复的数字：15 → 155"),
        (1, 19, None),
        (12, 15, None),
        (135, 15, None),
        (1234, 1243, "疑似数字颠倒：1234 → 1243"),
        (1234, 4231, None),
        (7, 7, None),
    ],
)
def test_slip_note(written, correct, note):
    assert slip_note(written, correct) == note


# --------------------------------------------------------------------------- every rule of §4


def _bump_t3(v: dict, row: str, col: str, k: int) -> None:
    """Add k requests to a result row of table 三 and keep every identity (一 grows too)."""
    group = next((g for g in GROUPS if row.startswith(g + "_")), None)
    for r in {row, "total", "new"} | ({group} if group and f"t3.{group}.{col}" in v else set()):
        for c in (col, "total"):
            v[f"t3.{r}.{c}"] = v.get(f"t3.{r}.{c}", 0) + k


def _clean_2017() -> Unit:
    u = seed_document_unit()
    u.values["stats.org_staff.value"] = 4
    u.values["stats.resp_total.value"] = 2
    u.meta["date_written"] = date(2018, 3, 12)
    return u


def _set(**kv) -> Callable[[Unit], None]:
    def apply(u: Unit) -> None:
        for k, x in kv.items():
            cid = k.replace("__", ".") if "__" in k else f"stats.{k}.value"
            u.values[cid] = x

    return apply


def _prev(**changes) -> Callable[[Unit], Unit]:
    def make(u: Unit) -> Unit:
        p = copy.deepcopy(u)
        p.year = u.year - 1
        p.meta["year"] = p.year
        p.findings = []
        for k, x in changes.items():
            if k == "narrative":
                p.narrative.update(x)
            else:
                p.values[k.replace("__", ".")] = x
        return p

    return make


def _both(*fns):
    def apply(u: Unit) -> None:
        for fn in fns:
            fn(u)

    return apply


def _text(section: str, text: str):
    def apply(u: Unit) -> None:
        u.narrative[section] = text

    return apply


def _meta(**kv):
    def apply(u: Unit) -> None:
        u.meta.update(kv)
        if "unit" in kv:
            u.unit = kv["unit"]

    return apply


def _bump(row: str, col: str, k: int):
    return lambda u: _bump_t3(u.values, row, col, k)


def _subtotals(u: Unit) -> None:
    for g, n in GROUPS.items():
        for c in (*T3_COLS, "total"):
            u.values[f"t3.{g}.{c}"] = sum(u.values[f"t3.{g}_{i}.{c}"] for i in range(1, n + 1))


@dataclass(frozen=True)
class Case:
    id: str
    base: Callable[[], Unit]  # a unit that passes the rule
    change: Callable[[Unit], None] | None  # what breaks it
    rule: str
    severity: str
    prev: Callable[[Unit], Unit] | None = None  # last year's report for the failing case
    prev_ok: Callable[[Unit], Unit] | None = None  # last year's report for the passing case
    change_ok: Callable[[Unit], None] | None = None  # change applied in the passing case too


def _noop(u: Unit) -> None:
    return None


_C3_CASES = _set(t4__cases__after_upheld=2, t4__cases__after_total=2)

CASES = [
    Case("A1", unit_2021, _set(t3__new__total=13), "t3.csum.new.total", ERROR),
    Case("A2", unit_2021, _set(t3__total__natural=11), "t3.rsum.total.natural", ERROR),
    Case("A3", unit_2021, _set(t3__new__natural=11, t3__new__total=13), "A3.natural", ERROR),
    Case(
        "A4", lambda: _with(unit_2021(), _subtotals), _set(t3__withheld__natural=2), "t3.rsum.withheld.natural", ERROR
    ),
    Case("A5", unit_2021, _set(t3__partial__business=-1), "t3.type", ERROR),
    Case("A5.fraction", unit_2021, _set(t3__partial__natural=Decimal("2.5")), "t3.type", ERROR),
    Case(
        "A6", unit_2021, _noop, "A6.natural", ERROR, prev=_prev(t3__next__natural=3, t3__next__total=3), prev_ok=_prev()
    ),
    Case("A7", unit_2021, _bump("other_1", "natural", 3), "A7", WARNING),
    Case("A7.text", unit_2021, _bump("other_3", "business", 1), "A7.text", WARNING),
    Case("A8", unit_2021, _text("overview", "全年共收到政府信息公开申请15件。"), "A8.received", WARNING),
    Case("A8.next", unit_2021, _text("overview", "结转下年度继续办理4件。"), "A8.next", WARNING),
    Case("A9", unit_2021, _bump("next", "natural", 5), "A9", WARNING),
    Case("B1", unit_2021, _set(t2__licensing__decisions=-3), "t2.type", ERROR),
    Case("B2", unit_2021, _set(t2__fees__fee_amount=Decimal("-0.5")), "t2.type", ERROR),
    Case(
        "B3",
        unit_2021,
        _noop,
        "B3.normative",
        WARNING,
        prev=_prev(t2__normative__valid=10),
        prev_ok=_prev(t2__normative__valid=18),
    ),
    Case("B4", unit_2021, _set(t2__normative__valid=2), "B4.normative", WARNING),
    Case(
        "B5",
        unit_2021,
        _both(_meta(unit="某县教育局"), _set(t2__regulations__made=1, t2__regulations__valid=1)),
        "B5",
        WARNING,
    ),
    Case("B6", unit_2021, _set(t2__fees__fee_amount=Decimal("250000")), "B6", WARNING),
    Case("B6.precision", unit_2021, _set(t2__fees__fee_amount=Decimal("1.2345678")), "B6.precision", WARNING),
    Case("B7", unit_2021, _text("overview", "全年制发行政规范性文件5件。"), "B7", WARNING),
    Case("C1", unit_2021, _set(t4__cases__after_total=1), "t4.csum.after_total", ERROR),
    Case("C2", unit_2021, _set(t4__cases__direct_pending=-1, t4__cases__direct_total=-1), "t4.type", ERROR),
    Case(
        "C3",
        unit_2021,
        _C3_CASES,
        "C3",
        WARNING,
        prev=_prev(t4__cases__review_total=0, t4__cases__review_upheld=0),
        prev_ok=_prev(),
        change_ok=_C3_CASES,
    ),
    Case("C4", unit_2021, _text("overview", "本年度被申请行政复议3件。"), "C4.review", WARNING),
    Case("C4.litigation", unit_2021, _text("overview", "被提起行政诉讼2件。"), "C4.litigation", WARNING),
    Case("D1", unit_2021, _text("problems", ""), "D1", WARNING),
    Case("D2", unit_2021, _text("other", "本单位无其他需要报告的事项。"), "D2", WARNING),
    Case("D3", unit_2021, _text("overview", "政府信息公开工作稳步推进。" * 100), "D3", WARNING),
    Case(
        "D4",
        unit_2021,
        _noop,
        "D4",
        WARNING,
        prev=_prev(),
        prev_ok=_prev(narrative={"problems": "主动公开的栏目设置不够清晰，群众查找不便；今后将优化栏目并加强培训。"}),
    ),
    Case("D5", unit_2021, _meta(title="2021年政府信息公开工作年度报告"), "D5", WARNING),
    Case("D5.period", unit_2021, _text("overview", "统计时限自2021年1月1日起至2021年12月31日止。"), "D5", WARNING),
    Case("D6", unit_2021, _meta(date_written=date(2023, 2, 20)), "D6", WARNING),
    Case("D7", unit_2021, _meta(date_written=date(2022, 12, 20)), "D7", ERROR),
    Case("D8", unit_2021, _set(t2__penalty__decisions=None), "t2.blank_cells", WARNING),
    Case(
        "D8.table",
        unit_2021,
        lambda u: [u.values.pop(c) for c in list(u.values) if c.startswith("t4.")],
        "t4.blank",
        WARNING,
    ),
    Case("META.date_filled", unit_2021, _meta(date_filled=date(2022, 6, 1)), "META.date_filled", WARNING),
    Case("META.unit", unit_2021, _meta(unit=None), "META.unit", ERROR),
    Case("E1", _clean_2017, _set(req_received=1), "stats.rsum.req_received", ERROR),
    Case("E2", _clean_2017, _set(req_on_time=1), "stats.rsum.req_closed", ERROR),
    Case("E3", _clean_2017, _set(ans_disclosed=1), "stats.rsum.req_answered", ERROR),
    Case("E4", _clean_2017, _set(refused_privacy=1), "stats.rsum.ans_refused", ERROR),
    Case("E5.review", _clean_2017, _set(review_upheld=1), "stats.rsum.review", ERROR),
    Case("E5.litigation", _clean_2017, _set(litigation=2), "stats.rsum.litigation", ERROR),
    Case("E5.complaints", _clean_2017, _set(compl_other=1), "stats.rsum.complaints", ERROR),
    Case("E6", _clean_2017, _set(archive_paper=3), "stats.rsum.archive", ERROR),
    Case("E7", _clean_2017, _set(org_staff=5), "stats.rsum.org_staff", ERROR),
    Case("E8.upper", _clean_2017, _set(publish_total=60), "stats.rdedup.publish_total", WARNING),
    Case("E8.lower", _clean_2017, _set(publish_total=30), "stats.rdedup.publish_total", WARNING),
    Case("E9", _clean_2017, _set(resp_total=1), "stats.rdedup.resp_total", WARNING),
    Case("E10", _clean_2017, _set(publish_normative=51, normative_issued=51), "stats.rsub.publish_total", ERROR),
    Case("E11", _clean_2017, _set(normative_issued=1), "E11", WARNING),
    Case("E12", _clean_2017, _set(interview_head=1), "stats.rsub.interview", ERROR),
    Case("E13", _clean_2017, _set(req_closed=2, req_on_time=2), "E13.closed", WARNING),
    Case(
        "E13.answered",
        _clean_2017,
        _set(req_received=2, req_online=2, req_closed=2, req_on_time=2),
        "E13.answered",
        WARNING,
    ),
    Case("E14", _clean_2017, _set(org_reading_points=0), "E14", WARNING),
    Case("E15", _clean_2017, _set(courses=0), "E15", WARNING),
    Case("E16", _clean_2017, _set(org_funds=Decimal("-2")), "stats.type", ERROR),
    Case("E17", _clean_2017, _text("requests", "2017年度，共收到政府信息公开申请3件。"), "E17.received", WARNING),
]


def _with(u: Unit, fn) -> Unit:
    fn(u)
    return u


def _run(base, change=None, prev=None) -> Unit:
    u = base()
    p = prev(u) if prev else None
    if change:
        change(u)
    check_unit(u, p)
    return u


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule_passes_then_fails(case: Case):
    passing = _run(case.base, case.change_ok, case.prev_ok)
    assert not [f for f in passing.findings if case.rule in f.rules], [f.message for f in passing.findings]
    failing = _run(case.base, case.change, case.prev)
    # a rule broken by a cell that breaks others too is stated in the finding of that cell
    hits = [g for f in failing.findings for g in (f.grouped or (f,)) if g.rule == case.rule]
    assert hits, [f"{f.rule}: {f.message}" for f in failing.findings]
    assert all(f.severity == case.severity and f.message for f in hits)


def test_clean_2017_has_no_findings():
    u = _clean_2017()
    check_unit(u)
    assert u.findings == []


def test_b5_only_for_units_without_rulemaking_power():
    for name, expected in (
        ("某县教育局", True),
        ("某市某区人民政府", True),
        ("某某镇人民政府", True),
        ("某市人民政府", False),
        ("某自治区人民政府", False),
        ("镇江市人民政府", False),
    ):
        u = _run(lambda name=name: unit_2021(name=name), _set(t2__regulations__made=1, t2__regulations__valid=1))
        assert any(f.rule == "B5" for f in u.findings) is expected, name


def test_d2_is_covered_by_the_processing_fee_field():
    u = _run(lambda: unit_2021(processing_fee=Decimal(0)), _text("other", "无。"))
    assert not [f for f in u.findings if f.rule == "D2"]


def test_d6_government_reports_have_until_march():
    u = _run(lambda: unit_2021(name="某市人民政府"), _meta(date_written=date(2023, 2, 20)))
    assert not [f for f in u.findings if f.rule == "D6"]


def test_a8_accepts_new_plus_carry():
    u = _run(unit_2021, _text("overview", "全年共收到政府信息公开申请13件（含上年结转1件）。"))
    assert not [f for f in u.findings if f.rule.startswith("A8")]


def test_b8_outdated_template():
    u = unit_2021(form_id="2019", values={}, narrative={})
    check_unit(u)
    f = next(f for f in u.findings if f.rule == "B8")
    assert f.severity == WARNING and "2022" in f.message and "2021年版年度报告格式" in f.message
    ok = unit_2021(form_id="2019", year=2020, values={}, narrative={})
    check_unit(ok)
    assert not [f for f in ok.findings if f.rule == "B8"]


# --------------------------------------------------------------------------- blanks


def test_blank_child_cannot_be_judged():
    u = _run(_clean_2017, _set(staff_full=None))
    (f,) = u.findings
    assert f.rule == "stats.rsum.org_staff" and f.severity == WARNING
    assert f.cell_ids == ("stats.staff_full.value",) and "无法判断" in f.message


def test_blank_total_gets_a_proposal_and_the_other_rules_use_it():
    u = _run(unit_2021, _set(t3__total__natural=None))
    (f,) = u.findings
    assert f.proposal and f.rule == "t3.rsum.total.natural" and f.suggestion == 10 and f.severity == ERROR


def test_wholly_blank_table_gives_one_finding():
    u = unit_2021()
    for c in list(u.values):
        if c.startswith("t3."):
            u.values[c] = None
    check_unit(u)
    t3 = [f for f in u.findings if f.table == "t3" or f.rule.startswith(("A", "t3"))]
    assert [(f.rule, f.message) for f in t3] == [("t3.blank", "表三未填写（没有发生的事项请填 0）")]


def test_optional_subtotals_are_checked_only_when_present():
    u = _run(unit_2021)
    assert not [f for f in u.findings if ".rsum.withheld." in f.rule]
    u = _run(lambda: _with(unit_2021(), _subtotals), _set(t3__unable__total=5))
    (f,) = u.errors  # one wrong cell, two broken rules: one error
    assert f.rules == ("t3.rsum.unable.total", "t3.csum.unable.total")
    assert f.suspect == "t3.unable.total" and f.suggestion == 1
    assert all(g.suspect == "t3.unable.total" and g.suggestion == 1 for g in f.grouped)


def test_reading_findings_are_not_repeated():
    u = unit_2021()
    u.values["t2.penalty.decisions"] = None
    u.findings.append(
        Finding(
            rule="READ.value", severity=ERROR, message="表二“行政处罚”不是数字。", cell_ids=("t2.penalty.decisions",)
        )
    )
    check_unit(u)
    assert [f.rule for f in u.findings] == ["READ.value"]


# --------------------------------------------------------------------------- batches


def test_batch_equals_one_by_one_and_mixes_forms():
    def variants():
        return [
            seed_document_unit(),
            unit_2021(),
            _run_noop(unit_2021, _set(t3__unable_1__natural=10)),
            _run_noop(unit_2021, _set(t2__penalty__decisions=None)),
            _clean_2017(),
            unit_2021(form_id="2019", values={}, narrative={}),
        ]

    batch = variants()
    check_units(batch)
    for u, v in zip(batch, variants()):
        check_unit(v)
        assert [f.to_dict() for f in u.findings] == [f.to_dict() for f in v.findings]
    assert batch[0].errors and batch[2].errors and not batch[1].findings


def _run_noop(base, change) -> Unit:
    u = base()
    change(u)
    return u


def test_checking_twice_adds_nothing():
    u = seed_document_unit()
    check_unit(u)
    n = len(u.findings)
    check_unit(u)
    assert len(u.findings) == n


def test_previous_keyed_by_name_and_year():
    u = unit_2021()
    last = _prev(t3__next__natural=3, t3__next__total=3)(u)
    check_units([u], {("某市生态环境局", 2021): last, ("某市生态环境局", 2020): unit_2021(year=2020)})
    assert any(f.rule == "A6.natural" for f in u.errors)
    v = unit_2021()
    older = _prev(t3__next__natural=3, t3__next__total=3)(v)
    check_units([v], {("某市生态环境局", 2020): older})  # not last year's report
    assert not v.findings


def test_frame_has_one_row_per_unit():
    units = [unit_2021(), unit_2021()]
    df = frame(units)
    assert df.shape == (2, len(units[0].form.cells))
    assert df["t3.total.natural"].tolist() == [10.0, 10.0]


def test_two_thousand_clean_units_checked_together_have_no_findings():
    # speed is measured in tests/benchmarks/bench_checks.py, not here
    units = [unit_2021() for _ in range(2000)]
    check_units(units)
    assert all(not u.findings for u in units)


def test_several_wrong_cells_linked_through_one_column_are_each_named():
    # the three mistakes of the "有错误" sample: all meet in the 总计 column of 表三
    u = unit_2021(narrative={})
    _bump_t3(u.values, "disclosed", "natural", 9)  # 一 总计 becomes 21, （一）总计 17
    check_unit(u)
    assert not u.errors and u.values["t3.new.total"] == 21 and u.values["t3.disclosed.total"] == 17
    u.values.update({"t3.new.total": 12, "t3.disclosed.total": 71, "t3.carry.natural": 3})
    check_unit(u)
    named = {(f.suspect, f.suggestion, f.note) for f in u.errors}
    assert named == {
        ("t3.new.total", 21, "疑似数字颠倒：12 → 21"),
        ("t3.disclosed.total", 17, "疑似数字颠倒：71 → 17"),
        ("t3.carry.natural", 1, None),
    }


def test_items_left_blank_under_a_filled_subtotal_are_judged_through_it():
    # a 2019-style single （六）其他处理 row read into the 2021 form: the items are blank
    u = unit_2021(narrative={})
    _bump_t3(u.values, "other_1", "natural", 2)
    for c in (*T3_COLS, "total"):
        u.values[f"t3.other.{c}"] = sum(u.values[f"t3.other_{i}.{c}"] for i in (1, 2, 3))
        for i in (1, 2, 3):
            u.values[f"t3.other_{i}.{c}"] = None
    u.findings.append(
        Finding(
            rule="READ.hybrid",
            severity=WARNING,
            message="（六）其他处理只有一行",
            table="t3",
            cell_ids=tuple(f"t3.other.{c}" for c in (*T3_COLS, "total")),
        )
    )
    check_unit(u)
    assert [f.rule for f in u.findings if f.severity == ERROR] == []
    assert not [f for f in u.findings if f.rule.startswith(("t3.", "A1", "A2", "A3", "A4"))]
    u.findings = [f for f in u.findings if f.rule == "READ.hybrid"]
    u.values["t3.total.natural"] += 1
    u.values["t3.total.total"] += 1
    u.values["t3.new.natural"] += 1
    u.values["t3.new.total"] += 1
    check_unit(u)
    f = next(f for f in u.errors if f.rule == "t3.rsum.total.natural")
    assert "按小计计算" in f.message and f.expected == 12 and f.actual == 13


def test_missing_table_reported_by_the_reader_is_not_repeated():
    u = unit_2021()
    for c in list(u.values):
        if c.startswith("t4."):
            u.values[c] = None
    u.findings.append(Finding(rule="READ.missing_table", severity=ERROR, message="没有找到表四", table="t4"))
    check_unit(u)
    assert [f.rule for f in u.findings] == ["READ.missing_table"]


# --------------------------------------------------------------------------- last year's report, one error per cell


def _last_year_disagreeing(u: Unit, col: str = "natural", by: int = 2) -> Unit:
    """Last year's report, consistent in itself, whose 结转下年度 is ``by`` more than this year's 上年结转."""
    p = _prev()(u)
    for c in (col, "total"):
        p.values[f"t3.next.{c}"] += by
        p.values[f"t3.new.{c}"] += by
    return p


def test_previous_keeps_the_diagnosis_of_a_typing_slip():
    """A typing slip is named with its correction whether or not last year's report is given, also
    when last year's report disagrees with this year's 上年结转 (a separate, unexplained finding)."""
    alone = unit_2021()
    alone.values["t3.new.natural"] = 1  # was 10: a dropped 0
    check_unit(alone)
    with_last = unit_2021()
    with_last.values["t3.new.natural"] = 1
    last = _last_year_disagreeing(unit_2021())
    check_unit(last)
    assert not last.errors
    check_unit(with_last, last)
    (slip,) = alone.errors
    assert slip.suspect == "t3.new.natural" and slip.suggestion == 10 and slip.note == "疑似漏输了一个 0：1 → 10"
    assert slip.rules == ("t3.csum.new.total", "A3.natural")
    kept = [f for f in with_last.errors if f.suspect]
    assert [(f.rules, f.message, f.suggestion, f.note) for f in kept] == [
        (slip.rules, slip.message, slip.suggestion, slip.note)
    ]
    a6 = [f for f in with_last.errors if f.rule.startswith("A6")]
    assert [f.rule for f in a6] == ["A6.natural", "A6.total"]
    assert all(not f.suspect and not f.candidates and "上年报告" in f.message for f in a6)


def test_a_slip_in_last_years_carry_is_one_error_with_its_cross_year_rule():
    u = unit_2021()
    u.values["t3.carry.natural"] = 10  # was 1; last year carried 1 over
    check_unit(u, _prev()(unit_2021()))
    (f,) = u.errors
    assert f.suspect == "t3.carry.natural" and f.suggestion == 1 and f.note == "疑似多输了一个 0：10 → 1"
    assert f.rules == ("t3.csum.carry.total", "A3.natural", "A6.natural")
    assert "这一格使 3 条规则不成立" in f.message and "上年报告的“四、结转下年度继续办理”（1）" in f.message


def test_last_years_report_decides_between_equally_likely_corrections():
    """上年结转 changed in a column and its total (each row still adds up): from this year alone 一, 二
    or 四 may be wrong; last year's 结转下年度 says it is 二."""
    alone = unit_2021()
    alone.values.update({"t3.carry.natural": 3, "t3.carry.total": 3})  # were 1
    check_unit(alone)
    assert [f.rule for f in alone.errors] == ["A3.natural", "A3.total"]
    assert all(not f.suspect and len(f.candidates) == 3 for f in alone.errors)
    u = unit_2021()
    u.values.update({"t3.carry.natural": 3, "t3.carry.total": 3})
    check_unit(u, _prev()(unit_2021()))
    assert [(f.rules, f.suspect, f.suggestion) for f in u.errors] == [
        (("A3.natural", "A6.natural"), "t3.carry.natural", 1),
        (("A3.total", "A6.total"), "t3.carry.total", 1),
    ]


def test_diagnosis_is_the_same_with_or_without_last_years_report():
    """For random tables with one changed cell and a report of the year before (agreeing, or
    disagreeing in one column), every finding of this year's rules is what it is without last
    year's report; the changed cell is named with its value as often."""
    from gkreport.spec import compiled

    cross = {r.id for r in compiled(unit_2021().form).rules.rules if r.prev_cells}
    found = {"alone": 0, "with": 0}

    def this_year(u: Unit) -> list[tuple]:
        members = [g for f in u.findings for g in (f.grouped or (f,))]
        return [(g.rule, g.message, g.suspect, g.suggestion, g.candidates) for g in members if g.rule not in cross]

    @settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.data())
    def run(data):
        unit = data.draw(tables_2021())
        cells = sorted(c for c in unit.form.tables["t3"].cells if unit.values.get(c) is not None)
        cell = data.draw(st.sampled_from(cells))
        old = unit.values[cell]
        new = data.draw(st.integers(0, 999).filter(lambda x: x != old))
        last = _prev()(unit)
        if data.draw(st.booleans()):
            col = data.draw(st.sampled_from(T3_COLS))
            last = _last_year_disagreeing(unit, col, data.draw(st.integers(1, 3)))
        changed = {**unit.values, cell: new}
        alone, with_last = unit_2021(changed, narrative={}), unit_2021(changed, narrative={})  # no D4
        check_unit(alone)
        check_unit(with_last, last)
        assert this_year(with_last) == this_year(alone)
        for key, u in (("alone", alone), ("with", with_last)):
            found[key] += any(f.suspect == cell and f.suggestion == old for f in u.errors)

    run()
    assert found["with"] >= found["alone"] >= 140


def test_one_wrong_cell_is_one_error_keeping_every_broken_rule():
    u = unit_2021()
    u.values["t3.disclosed.natural"] = 60  # was 6: breaks its row total and its column total
    check_unit(u)
    (f,) = u.errors
    assert f.suspect == "t3.disclosed.natural" and f.suggestion == 6 and (f.expected, f.actual) == (6, 60)
    assert f.message.startswith("表三“（一）予以公开”自然人列应为 6（实为 60），疑似多输了一个 0：60 → 6。")
    assert [g.rule for g in f.grouped] == ["t3.rsum.total.natural", "t3.csum.disclosed.total"] == list(f.rules)
    for k, g in enumerate(f.grouped, 1):  # each broken rule whole: its statement, cells and values
        assert g.suspect == f.suspect and g.suggestion == 6 and g.severity == ERROR
        assert set(g.cell_ids) <= set(f.cell_ids) and "t3.disclosed.natural" in g.cell_ids
        assert g.message.split("。")[0] in f.message and f"（{k}）" in f.message
    assert f.grouped[0].expected == 64 and f.grouped[0].actual == 10
    assert f.grouped[1].expected == 62 and f.grouped[1].actual == 8
    back = Finding.from_dict(f.to_dict())  # as JSON keeps it (batch manifest, 审核报告)
    assert back == f and back.grouped[1].cell_ids == f.grouped[1].cell_ids
    check_unit(u)
    assert len(u.errors) == 1  # checking twice adds nothing


def test_several_wrong_cells_count_as_that_many_errors():
    u = unit_2021(narrative={})
    _bump_t3(u.values, "disclosed", "natural", 9)
    u.values.update({"t3.new.total": 12, "t3.disclosed.total": 71, "t3.carry.natural": 3})
    check_unit(u)
    assert len(u.errors) == 3 and sum(len(f.grouped) for f in u.errors) == 6
    assert sorted(f.suspect for f in u.errors) == ["t3.carry.natural", "t3.disclosed.total", "t3.new.total"]


def test_suspect_and_candidates_carry_their_sheet_and_cell():
    u = unit_2021()
    u.locations = {c: ("年报表格", f"{chr(65 + k % 20)}{10 + k // 20}") for k, c in enumerate(u.form.cells)}
    u.values["t3.disclosed.natural"] = 60
    check_unit(u)
    (f,) = u.errors
    assert f.suspect_cell == u.ref("t3.disclosed.natural") and f.suspect_cell.startswith("年报表格!")
    assert all(g.suspect_cell == f.suspect_cell for g in f.grouped)
    v = _t4_unit([5, 2, 1, 3] + [0] * 8, {"t4.cases.review_upheld": 7})
    v.locations = dict(u.locations)
    check_unit(v)
    (g,) = v.errors
    assert len(g.candidates) == 4 and g.candidate_cells == tuple(v.ref(c) for c in g.candidates)


def test_a_number_in_the_text_marks_its_paragraph():
    """The text-vs-table finding names the paragraph that holds the number (its own cell when
    each paragraph was read from one, e.g. a pasted web page)."""
    text = "本机关深入推进政务公开。\n全年共收到政府信息公开申请15件，上年结转1件，结转下年度继续办理1件。\n下一步将继续努力。"
    u = unit_2021(narrative={**NARRATIVE_2021, "overview": text})
    u.narrative_locations = {"overview": ("基本信息", "B20")}
    check_unit(u)
    (f,) = [f for f in u.findings if f.rule == "A8.received"]
    assert f.paragraph == ("overview", 1) and f.cells[0] == "基本信息!B20"
    assert f.message.startswith("“一、总体情况”第 2 段中“全年共收到政府信息公开申请15件")
    w = unit_2021(narrative={**NARRATIVE_2021, "overview": text})
    w.narrative_locations = {"overview": ("Sheet1", "A4")}
    w.paragraph_locations = {"overview": [("Sheet1", "A4"), ("Sheet1", "A5"), ("Sheet1", "A6")]}
    check_unit(w)
    (g,) = [f for f in w.findings if f.rule == "A8.received"]
    assert g.paragraph == ("overview", 1) and g.cells[0] == "Sheet1!A5"
    one = unit_2021(narrative={**NARRATIVE_2021, "overview": "全年共收到政府信息公开申请15件。"})
    check_unit(one)
    (h,) = [f for f in one.findings if f.rule == "A8.received"]
    assert h.paragraph == ("overview", 0) and h.message.startswith("“一、总体情况”中“")


def test_a_finding_as_a_dict_is_every_field_as_asdict_gives_it_plus_code_and_title():
    """The batch stores each finding as ``to_dict`` gives it (the manifest, mail's bodies and 审核报告
    read it back): every field in order, tuples as lists, numbers as JSON numbers, grouped
    findings as dicts of their own."""
    import dataclasses

    from gkreport.model import json_value
    from gkreport.pipeline import run_checks_isolated
    from gkreport.reader import read_workbook

    def reference(f) -> dict:
        d = dataclasses.asdict(f) | {"code": f.code, "title": f.title}
        for k in ("cells", "cell_ids", "candidates", "candidate_cells"):
            d[k] = list(getattr(f, k))
        for k in ("expected", "actual", "suggestion"):
            d[k] = json_value(d[k])
        d["grouped"] = [reference(g) for g in f.grouped]
        d["paragraph"] = list(f.paragraph) if f.paragraph is not None else None
        return d

    from conftest import SAMPLES

    units = [read_workbook(p) for p in sorted(SAMPLES.glob("*.xlsx"))]
    run_checks_isolated(units, [])
    findings = [f for u in units for f in u.findings]
    assert any(f.grouped for f in findings) and any(f.suggestion is not None for f in findings)
    for f in findings:
        got, want = f.to_dict(), reference(f)
        assert list(got) == list(want) and got == want
        assert all(type(got[k]) is type(want[k]) for k in want)


def test_a_text_hint_about_a_figure_the_table_has_wrong_says_so():
    """The text says 20, the table's 一、本年新收 总计 says 12, and an error of the same unit says the
    12 is most likely 21 (swapped digits): the hint must not read as 'change the text to 12'."""
    clean = unit_2021(narrative={"overview": "全年收到政府信息公开申请20件，已全部办结。"})
    total = clean.values["t3.new.total"]
    check_unit(clean)
    (plain,) = [f for f in clean.findings if f.rule == "A8.received"]
    assert "本身有错误" not in plain.message  # the table is right: the hint is about the text
    swapped = int(str(total)[::-1]) if total >= 10 else total + 10
    u = unit_2021(
        {**clean.values, "t3.new.total": swapped}, narrative={"overview": "全年收到政府信息公开申请20件，已全部办结。"}
    )
    check_unit(u)
    assert any(f.severity == ERROR and "t3.new.total" in (f.suspect or "") for f in u.findings)
    (hint,) = [f for f in u.findings if f.rule == "A8.received"]
    assert f"最可能应为 {total}" in hint.message and "不要照表中现在的数字修改文字" in hint.message


@pytest.mark.parametrize(
    "text,fee,said",
    [
        ("本年度未收取信息处理费。", 1200, "“本年度未收取信息处理费。”"),
        ("本年度共收取信息处理费300元。", 1200, "“本年度共收取信息处理费300元。”"),
        ("本年度共收取信息处理费1,200元。", 1200, None),
        ("本年度未收取信息处理费。", 0, None),
    ],
)
def test_the_text_against_the_information_processing_fee(text, fee, said):
    """The report prints the unit's text about the fee instead of its own sentence: a text that
    contradicts the amount in 基本信息 is pointed out."""
    u = unit_2021(narrative={"other": text}, processing_fee=Decimal(fee))
    check_unit(u)
    found = [f for f in u.findings if f.rule == "A8.fee"]
    if said is None:
        assert found == []
    else:
        (f,) = found
        assert said in f.message and f"本年收取信息处理费（{fee} 元）不一致" in f.message and f.expected == fee


def test_an_overview_opening_with_last_year():
    u = unit_2021(narrative={"overview": "2021年，我局认真贯彻落实条例。\n2023年，我局将继续做好公开工作。"}, year=2022)
    check_unit(u)
    (f,) = [f for f in u.findings if f.rule == "D5"]
    assert "第 1 段以“2021年，”开头，与报告年度 2022 不一致" in f.message and f.paragraph == ("overview", 0)
    assert f.title == "年度不一致"
