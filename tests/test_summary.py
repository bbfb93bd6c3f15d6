"""A year's summary: departments on an older form converted, the district's own workbook, the sum
checked like a unit with the departments that cause each finding, the roster."""

from __future__ import annotations

from decimal import Decimal

from conftest import (
    DISTRICT,
    DISTRICT_META,
    DISTRICT_TEXT,
    district_departments,
    district_units,
    make_unit,
    seed_unit,
    unit_2021,
)
from gkreport.checks import check_units
from gkreport.model import ERROR, WARNING
from gkreport.roster import RosterEntry
from gkreport.spec import load_form
from gkreport.summary import doubtful_cells, is_summary_unit, summarise, summary_form, summary_totals

F2021 = load_form("2021")
SAME_IN_2019 = ("t3.", "t4.", "t2.licensing.decisions", "t2.penalty.decisions", "t2.enforcement.decisions")


def expected_sums() -> dict[str, object]:
    """Every cell of the 2021 form summed over the five departments, worked out here from their
    tables: the 2019 department counts in 表三/表四 and the 处理决定数量 only, its （六） (one row)
    in the （六） subtotal; where some department gives a subtotal, another's blank one counts as
    the sum of its items."""
    out: dict[str, object] = {}
    depts = district_departments()
    for cid in F2021.cells:
        total = None
        given = any(values.get(cid) is not None for _, values in depts.values())
        for fid, values in depts.values():
            if fid == "2019" and not cid.startswith(SAME_IN_2019):
                continue
            v = values.get(cid)
            if v is None and F2021.cells[cid].optional and given:
                table, row, col = cid.split(".")
                kids = [values.get(f"{table}.{k}.{col}") for k in F2021.tables[table].rows[row].children]
                kids = [k for k in kids if k is not None]
                v = sum(kids) if kids else None
            if v is not None:
                total = v if total is None else total + v
        out[cid] = total
    return out


def checked_units():
    units = district_units()
    check_units(units)  # each department's own findings, as the batch has them
    return units


def test_a_department_on_the_2019_form_is_summed_on_the_2021_form():
    s = summarise(checked_units(), DISTRICT)
    assert s.form.id == "2021" and s.year == 2025
    assert [u.unit for u in s.units] == list(district_departments())
    assert [(m.original.unit, m.original.form.id, m.unit.form.id) for m in s.mapped] == [
        ("某某区民政局", "2019", "2021")
    ]
    assert s.left == [] and s.own is None
    want = expected_sums()
    assert s.totals == want
    assert s.summed.values == want
    # the 2019 unit's （六） is in the （六） subtotal and in （七）总计, not in its items
    assert want["t3.other.total"] == 1 + 2 + 3 and s.totals["t3.other_1.total"] == 1


def test_the_sum_is_checked_and_each_finding_names_the_departments_causing_it():
    s = summarise(checked_units(), DISTRICT)
    by_rule = {f.rule: f for f in s.findings}
    wrong = by_rule["t3.csum.new.total"]  # 卫生健康局's 13 instead of 22 flows into the sum
    assert wrong.severity == ERROR and wrong.actual == s.totals["t3.new.total"]
    assert "某某区卫生健康局（其统计表的同一核对不成立）" in wrong.message
    assert "某某区教育局" not in wrong.message
    assert wrong.suggestion is None and wrong.cells == ()  # only the department corrects its figures
    assert doubtful_cells(wrong) == ("t3.new.total",)
    mapped = by_rule["SUM.mapped"]
    assert "某某区民政局" in mapped.message and "2019年版" in mapped.message
    # the sum's （六） items cannot add up to its （六）: said once, as the 2019 department's, an error
    assert mapped.severity == ERROR and "核对不成立" in mapped.message
    assert not any(f.rule.startswith("t3.rsum.other") for f in s.findings)
    assert {"t3.other_1.natural", "t2.normative.made", "t2.fees.fee_amount"} <= set(mapped.cell_ids)
    # the district's report has no text yet: the text findings are there too
    assert "D1" in by_rule


def test_the_districts_own_workbook_gives_the_text_and_its_figures_are_compared():
    own = make_unit(
        "2021",
        {"t3.new.total": 99, "t4.cases.review_total": 4, "t3.carry.total": None},
        fill=None,
        name=DISTRICT,
        meta={**DISTRICT_META, "processing_fee": Decimal(5)},
        narrative=DISTRICT_TEXT,
        file="区政府.xlsx",
        locations={"t3.new.total": ("三、收到…", "J6")},
    )
    s = summarise([*checked_units(), own], DISTRICT)
    assert s.own is own and own not in s.units and len(s.units) == 5
    assert s.summed.narrative == DISTRICT_TEXT
    assert s.summed.meta["signer"] == "某某区人民政府办公室" and s.summed.meta["contact"] == "李四"
    assert s.summed.values["t3.new.total"] == expected_sums()["t3.new.total"]  # the sum, not the 99 typed
    own_findings = [f for f in s.findings if f.rule == "SUM.own"]
    table3 = next(f for f in own_findings if f.table == "t3")
    assert table3.cell_ids == ("t3.new.total",) and "填写 99" in table3.message and table3.cells == ("三、收到…!J6",)
    assert not any(f.table == "t4" for f in own_findings)  # 4 is the departments' sum
    # the fee: every department gave one (0), so their sum is used and the 5 typed is reported
    fee = next(f for f in own_findings if "信息处理费" in f.message)
    assert fee.actual == Decimal(5) and s.summed.meta["processing_fee"] == Decimal(0)
    assert not any(f.rule == "D1" for f in s.findings)


def test_the_districts_fee_is_used_where_the_departments_fees_cannot_be_summed():
    units = checked_units()
    units[0].meta["processing_fee"] = None
    own = make_unit("2021", {}, fill=None, name=DISTRICT, meta={"processing_fee": Decimal("7.5")})
    s = summarise([*units, own], DISTRICT)
    assert s.summed.meta["processing_fee"] == Decimal("7.5")
    assert not any("信息处理费" in f.message for f in s.findings if f.rule == "SUM.own")


def test_a_department_whose_form_cannot_be_converted_is_left_out_and_named():
    old = seed_unit()
    old.year = 2025
    s = summarise([*checked_units(), old], DISTRICT)
    assert [x.unit for x in s.left] == [old] and old not in s.units
    left = next(f for f in s.findings if f.rule == "SUM.unsummed")
    assert "张店区科学技术局" in left.message and "未计入汇总" in left.message
    assert s.totals == expected_sums()


def test_the_roster_names_who_has_not_submitted():
    roster = [RosterEntry(n, where=f"第 {i} 行") for i, n in enumerate([*district_departments(), "某某区审计局"], 2)]
    units = checked_units()
    statuses = [(u.unit, str(u.status), u.file.name) for u in units]
    s = summarise(units, DISTRICT, roster=roster, statuses=statuses)
    assert [x.name for x in s.not_submitted] == ["某某区审计局"]
    missing = next(f for f in s.findings if f.rule == "SUM.missing")
    assert "某某区审计局" in missing.message
    marks = {x.name: x.mark for x in s.submissions or ()}
    assert marks["某某区卫生健康局"] == "有错误" and marks["某某区教育局"] in ("已报送", "有提示")


def test_a_summed_unit_the_roster_does_not_name_is_said_to_be_in_the_sum():
    """A department that submitted but is not on the roster is summed; the summary says so (its
    figures are in the sum) and asks about a roster name close to it, in the district report's
    审核提示 too, whatever else it lists."""
    from gkreport.docx_out import summary_banner

    departments = list(district_departments())
    assert {"某某区教育局", "某某区卫生健康局"} <= set(departments)
    listed = [n for n in departments if n not in ("某某区教育局", "某某区卫生健康局")] + ["某某区卫健局"]
    roster = [RosterEntry(n, where=f"第 {i} 行") for i, n in enumerate(listed, 2)]
    units = checked_units()
    statuses = [(u.unit, str(u.status), u.file.name) for u in units]
    s = summarise(units, DISTRICT, roster=roster, statuses=statuses)
    (f,) = [f for f in s.findings if f.rule == "SUM.unlisted"]
    assert f.severity == WARNING and "已计入汇总的2个单位不在名单中" in f.message
    assert "某某区教育局" in f.message and "汇总数含这些单位的数字" in f.message
    assert "某某区卫生健康局（是否为名单中的“某某区卫健局”？）" in f.message
    assert s.totals == expected_sums()  # still summed
    assert f in summary_banner(s)[0]
    # every summed unit on the roster: nothing to say
    full = [RosterEntry(n, where=f"第 {i} 行") for i, n in enumerate(departments, 2)]
    s = summarise(units, DISTRICT, roster=full, statuses=statuses)
    assert not [f for f in s.findings if f.rule == "SUM.unlisted"]


def test_without_a_summary_unit_only_the_tables_are_checked():
    s = summarise(checked_units())
    assert s.summed.unit == "汇总"
    assert all(f.cell_ids or f.rule.startswith("SUM.") for f in s.findings)
    assert any(f.rule == "t3.csum.new.total" for f in s.findings)


def test_a_blank_subtotal_counts_as_its_items():
    a = unit_2021(name="甲", year=2025)
    b = unit_2021(name="乙", year=2025)
    a.values["t3.withheld.natural"] = 1  # a pasted table that gives the 不予公开 subtotal
    totals = summary_totals(F2021, [a, b])
    assert totals["t3.withheld.natural"] == 1 + b.values["t3.withheld_4.natural"]
    assert totals["t3.unable.natural"] is None  # nobody gives it: blank, as summed cell by cell


def test_the_summary_form_is_the_one_of_the_year():
    units = checked_units()
    assert summary_form(units, 2025).id == "2021"
    old = [u for u in units if u.form.id == "2019"]
    assert summary_form(old, 2025).id == "2021"  # it maps onto the form of the year
    assert summary_form(old, 2020).id == "2019"
    assert is_summary_unit("某某区人民政府 ", DISTRICT) and not is_summary_unit("某某区人民政府办公室", DISTRICT)
