"""The rule model: rules generated from the trees, spec expressions, and the lint."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gkreport.errors import SpecError
from gkreport.model import ERROR, WARNING
from gkreport.spec import BUILTIN_DIR, consistent_values, load_form, load_form_file, rule_set

FORMS = ("2017", "2019", "2021")


@pytest.mark.parametrize("form_id", FORMS)
def test_rule_ids_are_unique(form_id):
    rs = rule_set(load_form(form_id))
    ids = [r.id for r in rs.rules] + [t.id for t in rs.text_rules]
    assert len(ids) == len(set(ids))


def test_tree_rules_of_2021():
    rs = rule_set(load_form("2021"))
    by = rs.by_id
    # A2: （七）总计 = sum of the leaves of 三、本年度办理结果, per column
    a2 = by["t3.rsum.total.natural"]
    assert a2.severity == ERROR and a2.target == "t3.total.natural"
    assert len(a2.parts) == 2 + 8 + 3 + 5 + 3
    assert "t3.withheld.natural" not in a2.parts  # optional subtotals are not parts of the total
    assert a2.description == "表三“（七）总计”自然人列等于“本年度办理结果”各项之和"
    # A1: 总计 = 自然人 + the five 法人或其他组织 columns, per row
    a1 = by["t3.csum.new.total"]
    assert a1.parts == tuple(
        f"t3.new.{c}" for c in ("natural", "business", "research", "social", "legal_service", "org_other")
    )
    # A4: optional subtotal rows
    a4 = by["t3.rsum.withheld.total"]
    assert a4.optional == ("t3.withheld.total",)
    # C1: the three groups of table 四
    for group in ("review", "direct", "after"):
        c1 = by[f"t4.csum.{group}_total"]
        assert len(c1.parts) == 4 and c1.severity == ERROR
    # explicit rules instantiated per column
    assert [r.id for r in rs.rules if r.spec_id == "A3"] == [
        f"A3.{c}" for c in ("natural", "business", "research", "social", "legal_service", "org_other", "total")
    ]
    assert by["A3.natural"].text == "t3.new.natural + t3.carry.natural = t3.total.natural + t3.next.natural"
    assert by["A6.total"].prev_cells == ("t3.next.total",)
    # B4 applies only to rows that carry both columns
    assert {r.id for r in rs.rules if r.spec_id == "B4"} == {"B4.regulations", "B4.normative"}


def test_tree_rules_of_2017():
    rs = rule_set(load_form("2017"))
    by = rs.by_id
    assert by["stats.rsum.org_staff"].parts == ("stats.staff_full.value", "stats.staff_part.value")
    assert by["stats.rsub.press"].severity == ERROR
    dedup = by["stats.rdedup.resp_total"]
    assert dedup.severity == WARNING
    assert "stats.interpretation.value" not in dedup.parts  # 篇, not a response event
    # 一（一） is both a subset parent (其中) and a de-duplicated total
    assert by["stats.rsub.publish_total"].parts == ("stats.publish_normative.value",)
    assert len(by["stats.rdedup.publish_total"].parts) == 4
    # E4: refused reasons partition 4. 不同意公开答复数, which is itself part of E3
    assert "stats.ans_refused.value" in by["stats.rsum.req_answered"].parts
    assert len(by["stats.rsum.ans_refused"].parts) == 6


def test_2019_table_three_other_is_a_single_row():
    rs = rule_set(load_form("2019"))
    assert "t3.rsum.other.natural" not in rs.by_id
    assert "t3.other.natural" in rs.by_id["t3.rsum.total.natural"].parts
    assert rs.by_id["A7"].text == "t3.other.total ≤ 0.1 × t3.total.total"


@pytest.mark.parametrize("form_id", FORMS)
@pytest.mark.parametrize("seed", range(5))
def test_consistent_tables_satisfy_every_error_rule(form_id, seed):
    form = load_form(form_id)
    rs = rule_set(form)
    values = consistent_values(form, seed)
    assert any(v != 0 for v in values.values())
    for rule in rs.error_rules():
        if not rule.prev_cells:
            assert rs.holds(rule, values), rule.id


def test_holds_on_linear_and_other_rules():
    form = load_form("2017")
    rs = rule_set(form)
    values = dict.fromkeys(form.cells, 0.0)
    e15 = rs.by_id["E15"]
    assert e15.constraints is None  # (a > 0) == (b > 0) is not linear
    assert rs.holds(e15, values)
    values["stats.trainees.value"] = 3.0
    assert not rs.holds(e15, values)
    values["stats.courses.value"] = 1.0
    assert rs.holds(e15, values)
    e14 = rs.by_id["E14"]  # when: org_visitors > 0
    values["stats.org_reading_points.value"] = 0.0
    assert rs.holds(e14, values)
    values["stats.org_visitors.value"] = 5.0
    assert not rs.holds(e14, values)


# --------------------------------------------------------------------------- lint of broken specs


def _spec(tmp_path: Path, rules: list[dict], name: str = "lint-case") -> Path:
    raw = yaml.safe_load((BUILTIN_DIR / "2021.yaml").read_text(encoding="utf-8"))
    raw["id"] = name
    raw["rules"] = rules
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _rule(rid: str, expr: str, **kw) -> dict:
    return {
        "id": rid,
        "severity": kw.pop("severity", "error"),
        "description": "测试规则",
        "table": "t3",
        "expr": expr,
        **kw,
    }


def _lint_error(path: Path) -> str:
    with pytest.raises(SpecError) as exc:
        load_form_file(path)
    return str(exc.value)


def test_a_valid_spec_copy_loads(tmp_path):
    path = _spec(tmp_path, [_rule("X1", "new + carry == total + next", each="column")])
    form = load_form_file(path)
    assert "X1.natural" in rule_set(form).by_id


def test_lint_missing_cell(tmp_path):
    msg = _lint_error(_spec(tmp_path, [_rule("X1", "t3.nope.total == t3.new.total")]))
    assert "lint-case.yaml" in msg and "X1" in msg and "t3.nope.total" in msg


def test_lint_missing_row_in_each_column(tmp_path):
    msg = _lint_error(_spec(tmp_path, [_rule("X2", "new + nex == total", each="column")]))
    assert "lint-case.yaml" in msg and "X2" in msg and "nex" in msg


def test_lint_heading_without_value_needs_sum(tmp_path):
    msg = _lint_error(_spec(tmp_path, [_rule("X3", "result == total", each="column")]))
    assert "X3" in msg and "sum(result)" in msg


def test_lint_duplicate_rule_id(tmp_path):
    msg = _lint_error(
        _spec(
            tmp_path,
            [
                _rule("X4", "new >= 0", each="column", severity="warning"),
                _rule("X4", "carry >= 0", each="column", severity="warning"),
            ],
        )
    )
    assert "lint-case.yaml" in msg and "X4" in msg and "重复" in msg


def test_lint_duplicate_rule_content(tmp_path):
    msg = _lint_error(
        _spec(
            tmp_path,
            [
                _rule("A3", "new + carry == total + next", each="column"),
                _rule("X5", "total + next == carry + new", each="column"),
            ],
        )
    )
    assert "lint-case.yaml" in msg and "X5" in msg and "A3" in msg and "重复" in msg


def test_lint_rule_repeating_a_tree_rule(tmp_path):
    expr = (
        "t3.new.total == t3.new.natural + t3.new.business + t3.new.research + t3.new.social"
        " + t3.new.legal_service + t3.new.org_other"
    )
    msg = _lint_error(_spec(tmp_path, [_rule("X6", expr)]))
    assert "X6" in msg and "t3.csum.new.total" in msg


def test_lint_contradiction_on_the_zero_table(tmp_path):
    msg = _lint_error(
        _spec(
            tmp_path,
            [_rule("A3", "new + carry == total + next", each="column"), _rule("X7", "new == carry + 1", each="column")],
        )
    )
    assert "lint-case.yaml" in msg and "X7" in msg and "矛盾" in msg


def test_lint_contradiction_on_a_consistent_table(tmp_path):
    # holds for the all-zero table, but with non-negative counts it forces every
    # result of the column to 0, which the table structure contradicts
    msg = _lint_error(
        _spec(
            tmp_path,
            [_rule("A3", "new + carry == total + next", each="column"), _rule("X8", "new + carry == 0", each="column")],
        )
    )
    assert "lint-case.yaml" in msg and "X8" in msg and "矛盾" in msg


def test_lint_contradicting_inequalities(tmp_path):
    msg = _lint_error(
        _spec(tmp_path, [_rule("X9", "new.total < carry.total"), _rule("X10", "carry.total < new.total")])
    )
    assert "lint-case.yaml" in msg and ("X9" in msg or "X10" in msg)


def test_warnings_may_fail_on_consistent_tables(tmp_path):
    # a plausibility rule is not part of the contradiction check
    form = load_form_file(_spec(tmp_path, [_rule("W1", "new.total >= 1", severity="warning")]))
    assert rule_set(form).by_id["W1"].severity == WARNING


@pytest.mark.parametrize(
    "bad, needle",
    [
        ({"severity": "fatal"}, "severity"),
        ({"each": "diagonal"}, "each"),
        ({"expr": "new +* carry"}, "语法"),
        ({"expr": "new ** 2 == carry"}, "不支持"),
        ({"colour": "red"}, "未知的键"),
        ({"table": "t9"}, "t9"),
        ({"description": ""}, "description"),
        ({"unit_matches": "(县"}, "unit_matches"),
    ],
)
def test_lint_malformed_rules(tmp_path, bad, needle):
    rule = {**_rule("X11", "new >= 0", each="column"), **bad}
    msg = _lint_error(_spec(tmp_path, [rule]))
    assert "lint-case.yaml" in msg and "X11" in msg and needle in msg


def test_lint_text_rules(tmp_path):
    base = {"id": "N1", "kind": "narrative", "severity": "warning", "description": "测试"}
    msg = _lint_error(_spec(tmp_path, [{**base, "pattern": "收到(申请)(\\d+)件", "equals": ["t3.new.total"]}]))
    assert "N1" in msg and "一个分组" in msg
    msg = _lint_error(_spec(tmp_path, [{**base, "pattern": "收到申请(\\d+)件", "equals": ["t3.old.total"]}]))
    assert "N1" in msg and "t3.old.total" in msg
    msg = _lint_error(
        _spec(
            tmp_path,
            [
                {
                    "id": "M1",
                    "kind": "mention",
                    "severity": "warning",
                    "description": "测试",
                    "sections": ["nowhere"],
                    "mentions": ["费"],
                }
            ],
        )
    )
    assert "M1" in msg and "nowhere" in msg
