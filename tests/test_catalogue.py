"""The catalogue of finding codes: every rule id of every form, and every code the source
writes, has a code with a Chinese title; people read titles, the ids stay in the JSON."""

from __future__ import annotations

import re
import string
import sys
from pathlib import Path

import pytest

from gkreport.catalogue import FALLBACK, code_for, codes, title_for
from gkreport.model import ERROR, WARNING, Finding
from gkreport.spec import load_forms, rule_set

sys.path.insert(0, str(Path(__file__).parent))
from test_readme import _source_codes


def _rule_ids() -> list[tuple[str, object]]:
    """Every rule id of the bundled forms (instances of spec rules too), with its severity."""
    out = []
    for form in load_forms().values():
        rs = rule_set(form)
        out += [(r.id, r.severity) for r in rs.rules]
        out += [(t.id, t.severity) for t in rs.text_rules]
    return sorted(set(out))


def _written_ids() -> list[str]:
    """Rule ids the source writes itself (READ.*, META.*, D5 …), with 表 standing for a table id."""
    return sorted(c.replace("表.", "t3.") for c in _source_codes())


@pytest.mark.parametrize("rule, severity", _rule_ids())
def test_every_rule_of_every_form_has_a_code(rule, severity):
    code = code_for(rule, severity)
    assert code.id != FALLBACK, rule


@pytest.mark.parametrize("rule", _written_ids())
def test_every_code_the_source_writes_has_a_code(rule):
    assert code_for(rule).id != FALLBACK, rule


def test_titles_are_short_chinese_and_distinct():
    titles = [c.title for c in codes().values()]
    assert len(set(titles)) == len(titles)
    for t in titles:
        assert len(t) <= 10 and not re.search(r"[A-Za-z_.]", t), t


def test_the_title_depends_on_what_the_finding_says():
    """A sum rule's id names three kinds of finding: the sum is off, the total is blank (a value is
    proposed), or a blank part leaves it undecided; each is titled for what it says."""
    assert title_for("t3.csum.new.total", ERROR) == "行合计不符"
    assert title_for("t3.rsum.total.natural", ERROR) == "列合计不符"
    assert title_for("stats.rsum.org_staff", ERROR) == "分项合计不符"
    assert title_for("t3.rsum.total.natural", ERROR, proposal=True) == "合计未填写"
    assert title_for("t3.rsum.total.natural", WARNING) == "有空白无法核对"
    assert title_for("A6.natural", ERROR) == "结转不衔接"
    assert title_for("A8.received", WARNING) == "文字与表格不一致"
    assert title_for("demo.rule.of.a.custom.form", ERROR) == codes()[FALLBACK].title


def test_finding_json_keeps_the_id_and_adds_code_and_title():
    f = Finding("A3.total", ERROR, "表三总计列：……")
    d = f.to_dict()
    assert (d["rule"], d["code"], d["title"]) == ("A3.total", "balance", "申请数量不平衡")


def test_live_templates_use_known_placeholders():
    allowed = {"cell", "expected", "actual", "parts", "total", "left", "right", "relation", "where", "description"}
    for code in codes().values():
        for key, template in code.live.items():
            assert key in ("message", "blank"), (code.id, key)
            names = {n for _, n, _, _ in string.Formatter().parse(template) if n}
            assert names <= allowed and {"expected"} <= names | {"actual"}, (code.id, template)
