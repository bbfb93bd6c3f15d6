"""Generated sentences: the right numbers, and correct Chinese for zero, one and many, for every form.

The sentences are data (``templates/wording_<form>.yaml``): each test here runs a group of the
shipped wording on a unit's numbers and reads the text it gives.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import make_unit, seed_unit
from gkreport import sentences as S
from gkreport.spec import load_form

F2021 = load_form("2021")
F2019 = load_form("2019")
F2017 = load_form("2017")
FORMS_EXTRA = Path(__file__).with_name("forms_extra")


def section(form, sid):
    return next(s for s in form.sections if s.id == sid)


def gen(unit, sid, wording=None) -> str:
    """Everything the wording generates for a section (before and after the office's text)."""
    w = wording or S.load_wording(unit.form)
    c = S.compose(unit, section(unit.form, sid), w)
    return "".join(S.plain_text(p) for p in c.before + c.after)


def t3_row(row, n, col="natural"):
    """Row ``row`` of table 三 with ``n`` in one applicant column and the total."""
    return {f"t3.{row}.{col}": n, f"t3.{row}.total": n}


def stats(**kw):
    return {f"stats.{k}.value": v for k, v in kw.items()}


# --------------------------------------------------------------------------- wording files


@pytest.mark.parametrize("form", [F2017, F2019, F2021], ids=lambda f: f.id)
def test_default_wording_loads_with_its_groups(form):
    w = S.load_wording(form)
    for key in S.REQUIRED:
        assert w.get(key), key
    sections = {s.id for s in form.sections}
    assert w.groups and all(g.section in sections for g in w.groups)
    assert w.sources[0].endswith(f"wording_{form.id}.yaml")
    # every referenced cell, row and column group exists in this form
    for g in w.groups:
        for p in g.parts.values():
            terms = [t for e in ([p.value] if p.value else []) for t in e.terms]
            terms += [t for it in p.items or () for t in it.value.terms]
            for t in terms:
                assert t.table in form.tables and t.row in form.tables[t.table].rows


def test_folded_yaml_lines_leave_no_space_between_chinese_characters():
    w = S.load_wording(F2021)
    assert " " not in w.get("opening")
    assert "要求编制，由总体情况" in w.get("opening")


def test_2019_extends_2021_with_its_own_table_two_and_without_the_fee_sentence():
    w19, w21 = S.load_wording(F2019), S.load_wording(F2021)
    assert "〔2019〕60号" in w19.get("opening")
    assert [g.name for g in w19.groups] == ["proactive", "requests", "review"]
    assert "fee" in [g.name for g in w21.groups]
    assert w19.groups_for("t3")[0].none == w21.groups_for("t3")[0].none
    assert {
        t.column for p in w19.groups_for("t2")[0].parts.values() for it in p.items or () for t in it.value.terms
    } >= {
        "produced",
        "published",
        "public_total",
    }
    u = make_unit(F2019, narrative={"other": "无。"}, meta={"processing_fee": Decimal(0)})
    assert gen(u, "other") == ""


def test_user_wording_overrides_a_subset(tmp_path):
    f = tmp_path / "措辞.yaml"
    f.write_text('requests:\n  none: "{year}年度本机关未收到政府信息公开申请。"\n', encoding="utf-8")
    w = S.load_wording(F2021, f)
    u = make_unit(F2021)
    assert gen(u, "t3", w) == "2025年度本机关未收到政府信息公开申请。"
    assert gen(u, "t4", w) == gen(u, "t4")
    assert str(f.resolve()) in w.sources


def test_user_wording_with_per_form_sections(tmp_path):
    f = tmp_path / "措辞.yaml"
    f.write_text(
        "2021:\n  review:\n    none: 全年没有行政复议和行政诉讼。\n2017:\n  defaults:\n    other: 无其他事项。\n",
        encoding="utf-8",
    )
    assert gen(make_unit(F2021), "t4", S.load_wording(F2021, f)) == "全年没有行政复议和行政诉讼。"
    assert S.load_wording(F2017, f).default("other", make_unit(F2017)) == "无其他事项。"


def test_user_wording_can_drop_a_sentence_group(tmp_path):
    f = tmp_path / "w.yaml"
    f.write_text('fee: ""\nproactive:\n  fees:\n    none: ""\n', encoding="utf-8")
    w = S.load_wording(F2021, f)
    u = make_unit(F2021, meta={"processing_fee": Decimal(0)})
    assert gen(u, "other", w) == ""
    assert gen(u, "t2", w).endswith("本年度未作出行政许可、行政处罚和行政强制决定。")


@pytest.mark.parametrize(
    "text, needle",
    [
        (
            'requests:\n  received:\n    text: "本年度收到申请{number}件"\n',
            ["requests.received.text", "{number}", "{count}"],
        ),
        ('fee:\n  fee:\n    text: "收取{count:.2f}元"\n', ["fee.fee.text", "格式说明"]),
        ('opening: "本报告{"\n', ["opening", "花括号"]),
        ("reqests:\n  none: 无\n", ["reqests.none", "requests.none"]),
        ("public_note: true\n", ["public_note", "一段文字"]),
        ("requests:\n  received:\n    value: t3.neww\n", ["requests.received.value", "t3.neww", "不存在"]),
        ("requests:\n  results:\n    items: t3.new.total\n", ["requests.results.items", "没有下级项目"]),
        ("fee:\n  fee:\n    field: fee_yuan\n", ["fee.fee.field", "fee_yuan"]),
        ("mine:\n  section: t9\n  text: '{a}'\n  a: {value: t3.new}\n", ["mine.section", "t9"]),
        ("mine:\n  section: t3\n  text: '{a}'\n  a: {vaule: t3.new}\n", ["mine.a.vaule", "mine.a.value"]),
    ],
)
def test_broken_user_wording_is_refused_with_a_chinese_message(tmp_path, text, needle):
    f = tmp_path / "bad.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(S.WordingError) as exc:
        S.load_wording(F2021, f)
    for n in needle:
        assert n in str(exc.value)
    assert str(f.resolve()) in str(exc.value)


def test_missing_wording_file():
    with pytest.raises(S.WordingError, match="不存在"):
        S.load_wording(F2021, Path("/nonexistent/措辞.yaml"))


def test_another_forms_keys_are_not_accepted(tmp_path):
    f = tmp_path / "w.yaml"
    f.write_text("complaints:\n  text: 无。\n", encoding="utf-8")
    with pytest.raises(S.WordingError, match="complaints"):
        S.load_wording(F2021, f)
    f.write_text("opening_section: preamble\n", encoding="utf-8")
    with pytest.raises(S.WordingError, match="opening_section"):
        S.load_wording(F2021, f)


def test_a_new_forms_sentences_come_from_its_wording_file_only():
    form = load_form("demo", [FORMS_EXTRA])
    w = S.load_wording(form)
    assert w.sources[0] == str(FORMS_EXTRA / "wording" / "wording_demo.yaml")
    zero = make_unit(form)
    assert gen(zero, "t1") == "本年度未办理事项。"
    one = make_unit(form, {"t1.permits.all": 1, "t1.permits.online": 1})
    assert gen(one, "t1") == "本年度共办理事项1件，其中许可类事项1件；网上办理1件。"
    many = make_unit(form, {"t1.permits.all": 5, "t1.services.all": 7, "t1.services.offline": 7})
    assert gen(many, "t1") == "本年度共办理事项12件，其中许可类事项5件、服务类事项7件。"
    (chart,) = w.charts
    assert S.evaluate_items(chart.items, many) == [("许可类事项", 5), ("服务类事项", 7)]


# --------------------------------------------------------------------------- formatting helpers


@pytest.mark.parametrize(
    "label, short",
    [
        ("（一）予以公开", "予以公开"),
        ("（二）部分公开（区分处理的，只计这一情形，不计其他情形）", "部分公开"),
        ("1. 当面申请数", "当面申请"),
        ("5. 其他形式", "其他形式"),
        ("其中：涉及国家秘密", "涉及国家秘密"),
        ("3.危及“三安全一稳定”", "危及“三安全一稳定”"),
        ("四、行政复议数量", "行政复议数量"),
    ],
)
def test_short_label(label, short):
    assert S.short_label(label) == short


def test_join_labels():
    assert S.join_labels([]) == "" and S.join_labels(["规章"]) == "规章"
    assert S.join_labels(["规章", "行政规范性文件"]) == "规章和行政规范性文件"
    assert S.join_labels(["行政许可", "行政处罚", "行政强制"]) == "行政许可、行政处罚和行政强制"


def test_alternatives_take_the_first_with_every_placeholder_filled():
    alts = ("请与{who}联系（{items}）。", "请与{who}联系。")
    assert S.pick(alts, {"who": "办公室", "items": "电话：1"}) == "请与办公室联系（电话：1）。"
    assert S.pick(alts, {"who": "办公室", "items": ""}) == "请与办公室联系。"
    assert S.pick(alts, {"who": "", "items": ""}) == ""
    assert S.pick("共{count}件", {}) == "共件"


def test_long_title_breaks_after_the_unit_name():
    w = S.load_wording(F2021)
    assert S.report_title(make_unit(F2021, name="某局"), w) == "某局2025年政府信息公开工作年度报告"
    long = make_unit(F2021, name="示例市东城区住房和城乡建设局")
    assert S.report_title(long, w) == "示例市东城区住房和城乡建设局\n2025年政府信息公开工作年度报告"


# --------------------------------------------------------------------------- contact sentence


CONTACT = {
    "contact_dept": "区住建局办公室",
    "contact": "周强",
    "phone": "0533-3456789",
    "email": "gk@example.gov.cn",
    "address": "建设路1号",
    "postcode": "255000",
}


@pytest.mark.parametrize(
    "meta, sentence",
    [
        (
            CONTACT,
            "如对本报告有疑问，请与区住建局办公室联系（联系人：周强；地址：建设路1号；邮编：255000；"
            "联系电话：0533-3456789；电子邮箱：gk@example.gov.cn）。",
        ),
        ({"contact_dept": "区住建局办公室"}, "如对本报告有疑问，请与区住建局办公室联系。"),
        (
            {"contact_dept": "办公室", "phone": "1234"},
            "如对本报告有疑问，请与某某区某某局办公室联系（联系电话：1234）。",
        ),
        ({"contact": "周强"}, "如对本报告有疑问，请与某某区某某局联系（联系人：周强）。"),
        ({"phone": "1234"}, "如对本报告有疑问，请与某某区某某局联系（联系电话：1234）。"),
        ({}, ""),
    ],
    ids=["all", "dept", "bare-office", "person", "phone", "none"],
)
def test_contact_sentence_2021_reads_well_with_any_fields(meta, sentence):
    u = make_unit(F2021, meta=meta)
    assert S.contact_sentence(u, S.load_wording(F2021)) == sentence
    assert "请联系：" not in sentence and "联系人：联系" not in sentence


def test_contact_sentence_2017_keeps_the_seeds_words():
    w = S.load_wording(F2017)
    assert S.contact_sentence(seed_unit(), w) == (
        "如对本报告有任何疑问，请联系：张店区科学技术局办公室，地址：张店区新村西路226号张店区政务中心，邮编：255000，"
        "电子邮箱：kjj2869907@163.com，联系电话：0533-2869907。"
    )
    u = make_unit(F2017, meta={"contact": "王磊", "phone": "1234"})
    assert S.contact_sentence(u, w) == "如对本报告有任何疑问，请联系：某某区某某局，联系人：王磊，联系电话：1234。"


# --------------------------------------------------------------------------- 2021: 二 (主动公开)


def test_2021_t2_zero_never_mentions_regulations():
    v = {"t2.fees.fee_amount": Decimal(0)}
    assert gen(make_unit(F2021, v), "t2") == (
        "本年度未制发行政规范性文件，未废止行政规范性文件；截至2025年12月31日，无现行有效的行政规范性文件。"
        "本年度未作出行政许可、行政处罚和行政强制决定，未收取行政事业性收费。"
    )


def test_2021_t2_one():
    v = {"t2.normative.made": 1, "t2.normative.valid": 1, "t2.licensing.decisions": 1, "t2.fees.fee_amount": 1}
    assert gen(make_unit(F2021, v), "t2") == (
        "本年度制发行政规范性文件1件，未废止行政规范性文件；截至2025年12月31日，现行有效行政规范性文件1件。"
        "本年度作出行政许可决定1件，收取行政事业性收费1万元。"
    )


def test_2021_t2_many():
    v = {
        "t2.normative.made": 3,
        "t2.normative.repealed": 1,
        "t2.regulations.valid": 1,
        "t2.normative.valid": 27,
        "t2.licensing.decisions": 46,
        "t2.penalty.decisions": 2,
        "t2.fees.fee_amount": Decimal("12.35"),
    }
    assert gen(make_unit(F2021, v), "t2") == (
        "本年度制发行政规范性文件3件，废止行政规范性文件1件；截至2025年12月31日，现行有效规章1件、行政规范性文件27件。"
        "本年度作出行政许可决定46件、行政处罚决定2件，收取行政事业性收费12.35万元。"
    )


def test_2021_t2_names_regulations_only_when_the_row_has_numbers():
    v = {"t2.regulations.valid": 2, "t2.normative.valid": 5}
    text = gen(make_unit(F2021, v), "t2")
    assert text.startswith("本年度未制发规章和行政规范性文件，未废止规章和行政规范性文件；")
    assert "现行有效规章2件、行政规范性文件5件" in text
    assert "规章" not in gen(make_unit(F2021, {"t2.normative.valid": 5}), "t2")


# --------------------------------------------------------------------------- 2021: 三 (applications)


def test_2021_t3_zero_says_未收到():
    assert gen(make_unit(F2021), "t3") == "本年度未收到政府信息公开申请。"


T3_ASKED = (
    "【请填写：表三“一、本年新收政府信息公开申请数量”】，【请填写：表三“二、上年结转政府信息公开申请数量”】。"
    "【请填写：表三“三、本年度办理结果”】；【请填写：表三“四、结转下年度继续办理”】。"
)


def blank(form, *prefixes):
    """Every cell of the rows (``t3.new``) or tables (``t2``) named, blank."""
    return {c: None for c in form.cells if c.startswith(tuple(p + "." for p in prefixes))}


def test_2021_t3_blank_table_is_asked_for_not_reported_as_no_applications():
    """Blank is not 0: a table nobody filled in never says 未收到; each figure is asked for, in its place."""
    u = make_unit(F2021, blank(F2021, "t3"))
    (par,) = S.compose(u, section(F2021, "t3"), S.load_wording(F2021)).before
    assert S.plain_text(par) == T3_ASKED
    gaps = [p for p in par if isinstance(p, S.Gap)]
    assert {g.rule for g in gaps} == {"D.blank_figure"} and len(gaps) == 4
    assert gaps[0].what == "表三“一、本年新收政府信息公开申请数量”" and gaps[0].field == "requests.received"
    assert gaps[0].cells and all(c.startswith("t3.new.") for c in gaps[0].cells)
    assert "t3.total.total" in gaps[2].cells and "t3.disclosed.natural" in gaps[2].cells


def test_2021_t3_a_blank_row_is_asked_for_in_its_place_and_the_rest_is_said():
    v = {**blank(F2021, "t3.new"), **t3_row("carry", 2), **t3_row("disclosed", 2), **t3_row("total", 2)}
    assert gen(make_unit(F2021, v), "t3") == (
        "【请填写：表三“一、本年新收政府信息公开申请数量”】，上年结转2件。办结2件，其中予以公开2件。"
    )


def test_2021_t3_one_row_of_zeros_and_the_rest_blank_never_says_未收到():
    """The group's “未收到” would speak for the blank rows too: they are asked for instead."""
    u = make_unit(F2021, {**blank(F2021, "t3"), **t3_row("new", 0)})
    assert gen(u, "t3") == (
        "本年度未新收政府信息公开申请，【请填写：表三“二、上年结转政府信息公开申请数量”】。"
        "【请填写：表三“三、本年度办理结果”】；【请填写：表三“四、结转下年度继续办理”】。"
    )


def test_2021_t3_a_partly_blank_row_still_counts_its_blanks_as_0():
    """Only a figure with every cell blank is asked for; the checks warn of the other blanks."""
    u = make_unit(F2021, {"t3.new.natural": None, "t3.carry.total": None})
    assert gen(u, "t3") == "本年度未收到政府信息公开申请。"


def test_2021_blank_tables_two_and_four_claim_nothing():
    u = make_unit(F2021, fill=None)
    t2 = gen(u, "t2")
    assert "未制发" not in t2 and "未收取" not in t2 and "未作出" not in t2 and "无现行有效" not in t2
    assert t2 == (
        "【请填写：表二“规章”、“行政规范性文件”本年制发件数】，【请填写：表二“规章”、“行政规范性文件”本年废止件数】；"
        "【请填写：表二“规章”、“行政规范性文件”现行有效件数】。"
        "【请填写：表二“行政许可”、“行政处罚”、“行政强制”本年处理决定数量】，【请填写：表二“行政事业性收费”本年收费金额】。"
    )
    assert gen(u, "t4") == "【请填写：表四“行政复议”】；【请填写：表四“行政诉讼”】。"
    u = make_unit(F2021, blank(F2021, "t4"))  # 表四 blank, the rest 0
    assert gen(u, "t4") == "【请填写：表四“行政复议”】；【请填写：表四“行政诉讼”】。"


def test_2021_t4_blank_litigation_is_asked_for_beside_a_stated_review():
    v = {c: None for c in F2021.cells if c.startswith(("t4.cases.direct_", "t4.cases.after_"))}
    assert gen(make_unit(F2021, v), "t4") == "本年度未发生因政府信息公开引起的行政复议；【请填写：表四“行政诉讼”】。"


def test_2019_and_2017_blank_tables_claim_nothing():
    assert gen(make_unit(F2019, fill=None), "t3") == T3_ASKED
    assert gen(make_unit(F2019, fill=None), "t4") == "【请填写：表四“行政复议”】；【请填写：表四“行政诉讼”】。"
    u = make_unit(F2017, fill=None)
    for sid in ("proactive", "requests", "review"):
        text = gen(u, sid)
        assert "【请填写：统计表“" in text and "没有" not in text and "不存在" not in text, (sid, text)


@pytest.mark.parametrize("form", [F2021, F2019], ids=lambda f: f.id)
def test_t3_办结_is_the_tables_总计_even_when_its_items_add_up_to_less(form):
    """An inconsistent 表三 (an error of the checks): the sentence states the figure the table shows."""
    v = {**t3_row("new", 20), **t3_row("disclosed", 7), **t3_row("partial", 4), **t3_row("total", 20)}
    assert gen(make_unit(form, v), "t3") == (
        "本年度共收到政府信息公开申请20件。办结20件，其中予以公开7件、部分公开4件。"
    )
    v = {**t3_row("new", 3), **t3_row("total", 3)}
    assert gen(make_unit(form, v), "t3") == "本年度共收到政府信息公开申请3件。办结3件。"  # no dangling 其中
    v = {**t3_row("new", 2), **t3_row("disclosed", 2), **blank(form, "t3.total")}
    assert gen(make_unit(form, v), "t3") == "本年度共收到政府信息公开申请2件。办结2件，其中予以公开2件。"


def test_a_doubtful_总计_marks_the_办结_figure():
    v = {**t3_row("new", 20), **t3_row("disclosed", 7), **t3_row("partial", 4), **t3_row("total", 20)}
    u = make_unit(F2021, v)
    w = S.load_wording(F2021)
    (g,) = w.groups_for("t3")
    text = S.plain_text(S.render_group(g, u, w, doubt={"t3.total.total": [2]}))
    assert "办结20件，其中予以公开7件、部分公开4件【待核实，见审核提示2】" in text


def test_2021_t3_one():
    u = make_unit(F2021, {**t3_row("new", 1), **t3_row("disclosed", 1), **t3_row("total", 1)})
    assert gen(u, "t3") == "本年度共收到政府信息公开申请1件。办结1件，其中予以公开1件。"


def test_2021_t3_many_with_carry_over_says_what_其中_divides():
    v = {
        **t3_row("new", 12),
        **t3_row("carry", 1),
        **t3_row("disclosed", 7),
        **t3_row("partial", 2),
        **t3_row("withheld_4", 1),
        **t3_row("unable_1", 1),
        **t3_row("other_3", 1),
        **t3_row("total", 12),
        **t3_row("next", 1),
    }
    assert gen(make_unit(F2021, v), "t3") == (
        "本年度共收到政府信息公开申请12件，上年结转1件。办结12件，其中予以公开7件、部分公开2件、不予公开1件、"
        "无法提供1件、其他处理1件；结转下年度继续办理1件。"
    )


def test_2021_t3_only_carry_over():
    v = {**t3_row("carry", 2), **t3_row("disclosed", 2), **t3_row("total", 2)}
    assert gen(make_unit(F2021, v), "t3") == "本年度未新收政府信息公开申请，上年结转2件。办结2件，其中予以公开2件。"


def test_2021_t3_blank_total_column_uses_the_applicant_columns():
    v = {
        "t3.new.natural": 3,
        "t3.new.business": 2,
        "t3.new.total": None,
        "t3.disclosed.natural": 3,
        "t3.disclosed.business": 2,
        "t3.disclosed.total": None,
        "t3.total.natural": 3,
        "t3.total.business": 2,
        "t3.total.total": None,
    }
    assert gen(make_unit(F2021, v), "t3") == "本年度共收到政府信息公开申请5件。办结5件，其中予以公开5件。"


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["disclosed", "partial", "withheld_1", "withheld_8", "unable_2", "not_handled_5", "other_1"]),
        st.integers(min_value=0, max_value=500),
    ),
    st.integers(min_value=0, max_value=50),
    st.integers(min_value=0, max_value=50),
)
def test_2021_t3_numbers_come_from_the_table(leaves, carry, nxt):
    total = sum(leaves.values())
    new = max(total + nxt - carry, 0)
    v = {**t3_row("new", new), **t3_row("carry", carry), **t3_row("next", nxt), **t3_row("total", total)}
    for leaf, n in leaves.items():
        v.update(t3_row(leaf, n))
    text = gen(make_unit(F2021, v), "t3")
    groups = {
        "disclosed": "予以公开",
        "partial": "部分公开",
        "withheld": "不予公开",
        "unable": "无法提供",
        "not_handled": "不予处理",
        "other": "其他处理",
    }
    for key, label in groups.items():
        n = sum(x for k, x in leaves.items() if k == key or k.startswith(key + "_"))
        if n:
            assert f"{label}{n}件" in text
        else:
            assert label not in text
    assert "0件" not in re.sub(r"\d+0件", "", text)  # zeros are never enumerated
    assert "没有" not in text
    if total:
        assert f"办结{total}件，其中" in text  # 其中 always follows the number it divides
    if new:
        assert f"共收到政府信息公开申请{new}件" in text
    if carry:
        assert f"上年结转{carry}件" in text
    if nxt:
        assert f"结转下年度继续办理{nxt}件" in text
    if not (new or carry or nxt or total):
        assert text == "本年度未收到政府信息公开申请。"


# --------------------------------------------------------------------------- 2021: 四 (复议、诉讼)


def test_2021_t4_zero():
    assert gen(make_unit(F2021), "t4") == "本年度未发生因政府信息公开引起的行政复议、行政诉讼。"


def test_2021_t4_one_litigation_states_its_result():
    v = {"t4.cases.direct_corrected": 1, "t4.cases.direct_total": 1}
    assert gen(make_unit(F2021, v), "t4") == (
        "本年度未发生因政府信息公开引起的行政复议；被提起行政诉讼1件（未经复议直接起诉1件），其中结果纠正1件。"
    )


def test_2021_t4_one_review():
    v = {"t4.cases.review_upheld": 1, "t4.cases.review_total": 1}
    assert gen(make_unit(F2021, v), "t4") == (
        "本年度因政府信息公开被申请行政复议1件，其中结果维持1件；未发生因政府信息公开引起的行政诉讼。"
    )


def test_2021_t4_many():
    v = {
        "t4.cases.review_upheld": 1,
        "t4.cases.review_pending": 1,
        "t4.cases.review_total": 2,
        "t4.cases.direct_upheld": 2,
        "t4.cases.direct_corrected": 1,
        "t4.cases.direct_total": 3,
        "t4.cases.after_pending": 1,
        "t4.cases.after_total": 1,
    }
    assert gen(make_unit(F2021, v), "t4") == (
        "本年度因政府信息公开被申请行政复议2件，其中结果维持1件、尚未审结1件；"
        "被提起行政诉讼4件（未经复议直接起诉3件、复议后起诉1件），其中结果维持2件、结果纠正1件、尚未审结1件。"
    )


def test_2021_t4_blank_totals_are_the_sum_of_the_results():
    v = {"t4.cases.direct_upheld": 2, "t4.cases.direct_total": None, "t4.cases.review_total": None}
    assert gen(make_unit(F2021, v), "t4") == (
        "本年度未发生因政府信息公开引起的行政复议；被提起行政诉讼2件（未经复议直接起诉2件），其中结果维持2件。"
    )


# --------------------------------------------------------------------------- 2021: 六 (信息处理费)


@pytest.mark.parametrize(
    "fee, sentence",
    [
        (Decimal(0), "本年度未收取信息处理费。"),
        (Decimal(1), "依据《政府信息公开信息处理费管理办法》，本年度共收取信息处理费1元。"),
        (Decimal("35.50"), "依据《政府信息公开信息处理费管理办法》，本年度共收取信息处理费35.50元。"),
        ("20", "依据《政府信息公开信息处理费管理办法》，本年度共收取信息处理费20元。"),
    ],
    ids=["0", "1", "many", "text"],
)
def test_2021_fee_sentence(fee, sentence):
    u = make_unit(F2021, meta={"processing_fee": fee}, narrative={"other": "本单位做了某项工作。"})
    c = S.compose(u, section(F2021, "other"), S.load_wording(F2021))
    assert c.before == [] and c.after == [[sentence]] and c.own == "本单位做了某项工作。"


@pytest.mark.parametrize("fee", [None, "", "约20元"])
def test_2021_fee_not_given_is_a_gap(fee):
    u = make_unit(F2021, meta={"processing_fee": fee})
    (par,) = S.compose(u, section(F2021, "other"), S.load_wording(F2021)).after
    (g,) = par
    assert isinstance(g, S.Gap) and g.rule == "D.meta" and g.field == "processing_fee"
    assert g.text == "【请填写：本年收取信息处理费（元）】"


@pytest.mark.parametrize("own", ["无。", "无", "无其他需要报告的事项。", "本单位无其他需要报告的事项。", "没有。"])
def test_2021_fee_merges_with_a_bare_无(own):
    u = make_unit(F2021, meta={"processing_fee": Decimal(0)}, narrative={"other": own})
    c = S.compose(u, section(F2021, "other"), S.load_wording(F2021))
    assert c.after == [["本年度未收取信息处理费，无其他需要报告的事项。"]]
    assert c.own == "" and c.merged


def test_2021_fee_stated_by_the_office_is_not_repeated():
    u = make_unit(F2021, meta={"processing_fee": None}, narrative={"other": "本年度未收取信息处理费。"})
    c = S.compose(u, section(F2021, "other"), S.load_wording(F2021))
    assert c.after == [] and c.own == "本年度未收取信息处理费。"


# --------------------------------------------------------------------------- 2019


def test_2019_t2_zero():
    assert gen(make_unit(F2019), "t2") == (
        "本年度未新制作规范性文件，未新公开规范性文件；无对外公开的规范性文件。"
        "本年度未作出行政许可、行政处罚、行政强制等处理决定。"
    )


def test_2019_t2_one():
    v = {
        "t2.normative.produced": 1,
        "t2.normative.published": 1,
        "t2.normative.public_total": 1,
        "t2.licensing.decisions": 1,
        "t2.procurement.purchases": 1,
    }
    assert gen(make_unit(F2019, v), "t2") == (
        "本年度新制作规范性文件1件，新公开规范性文件1件；现对外公开规范性文件1件。"
        "本年度作出行政许可处理决定1件。本年度政府集中采购项目1个。"
    )


def test_2019_t2_many():
    v = {
        "t2.regulations.public_total": 2,
        "t2.normative.produced": 4,
        "t2.normative.published": 3,
        "t2.normative.public_total": 30,
        "t2.licensing.decisions": 716,
        "t2.other_services.decisions": 5,
        "t2.penalty.decisions": 9,
        "t2.enforcement.decisions": 1,
        "t2.procurement.purchases": 6,
        "t2.procurement.purchase_amount": Decimal("251000"),
    }
    text = gen(make_unit(F2019, v), "t2")
    assert text == (
        "本年度新制作规范性文件4件，新公开规范性文件3件；现对外公开规章2件、规范性文件30件。"
        "本年度作出行政许可处理决定716件、其他对外管理服务事项处理决定5件、行政处罚处理决定9件、行政强制处理决定1件。"
        "本年度政府集中采购项目6个。"
    )
    assert "251000" not in text  # the official table gives no unit for 采购总金额


def test_2019_t3_zero_one_many():
    assert gen(make_unit(F2019), "t3") == "本年度未收到政府信息公开申请。"
    one = {**t3_row("new", 1), **t3_row("other", 1), **t3_row("total", 1)}
    assert gen(make_unit(F2019, one), "t3") == "本年度共收到政府信息公开申请1件。办结1件，其中其他处理1件。"
    many = {
        **t3_row("new", 9),
        **t3_row("disclosed", 5),
        **t3_row("withheld_2", 2),
        **t3_row("other", 2),
        **t3_row("total", 9),
    }
    assert gen(make_unit(F2019, many), "t3") == (
        "本年度共收到政府信息公开申请9件。办结9件，其中予以公开5件、不予公开2件、其他处理2件。"
    )


def test_2019_t4_zero_one_many():
    assert gen(make_unit(F2019), "t4") == "本年度未发生因政府信息公开引起的行政复议、行政诉讼。"
    one = {"t4.cases.after_other": 1, "t4.cases.after_total": 1}
    assert gen(make_unit(F2019, one), "t4") == (
        "本年度未发生因政府信息公开引起的行政复议；被提起行政诉讼1件（复议后起诉1件），其中其他结果1件。"
    )
    many = {"t4.cases.review_corrected": 3, "t4.cases.review_total": 3}
    assert gen(make_unit(F2019, many), "t4") == (
        "本年度因政府信息公开被申请行政复议3件，其中结果纠正3件；未发生因政府信息公开引起的行政诉讼。"
    )


# --------------------------------------------------------------------------- 2017 (old 统计表)


def test_seed_sentences():
    u = seed_unit()
    assert gen(u, "proactive") == ""  # the seed's own text already says it
    u.narrative.pop("proactive")
    assert (
        gen(u, "proactive") == "本年度通过网络、公告栏、新媒体等方式主动公开政府信息50条，其中主动公开规范性文件2条。"
    )
    assert gen(u, "requests") == "2017年度，张店区科学技术局没有收到政府信息公开申请；不存在不予公开政府信息的情况。"
    assert gen(u, "review") == "2017年度，张店区科学技术局没有发生因政府信息公开申请行政复议、提起行政诉讼的情况。"


def test_2017_proactive_zero_one_many():
    assert gen(make_unit(F2017), "proactive") == "本年度没有主动公开政府信息。"
    assert (
        gen(make_unit(F2017, stats(publish_total=1)), "proactive")
        == "本年度通过网络、公告栏、新媒体等方式主动公开政府信息1条。"
    )
    assert gen(make_unit(F2017, stats(publish_total=35, publish_normative=3)), "proactive") == (
        "本年度通过网络、公告栏、新媒体等方式主动公开政府信息35条，其中主动公开规范性文件3条。"
    )


def test_2017_requests_one():
    v = stats(req_received=1, req_online=1, req_closed=1, req_on_time=1, req_answered=1, ans_disclosed=1)
    assert gen(make_unit(F2017, v), "requests") == (
        "2025年度，某某区某某局共收到政府信息公开申请1件，其中网络申请1件。办结1件，其中按时办结1件。"
        "答复1件，其中同意公开答复1件。不存在不予公开政府信息的情况。"
    )


def test_2017_requests_many():
    v = stats(
        req_received=5,
        req_online=3,
        req_letter=2,
        req_closed=5,
        req_on_time=5,
        req_answered=5,
        ans_disclosed=3,
        ans_refused=2,
        refused_privacy=2,
    )
    assert gen(make_unit(F2017, v, year=2016), "requests") == (
        "2016年度，某某区某某局共收到政府信息公开申请5件，其中网络申请3件、信函申请2件。"
        "办结5件，其中按时办结5件。答复5件，其中同意公开答复3件、不同意公开答复2件。"
        "不同意公开2件，其中涉及个人隐私2件。"
    )


def test_2017_review_one_and_complaints_in_one_paragraph():
    v = stats(review=1, review_upheld=1, complaints=2, compl_other=2)
    c = S.compose(make_unit(F2017, v), section(F2017, "review"), S.load_wording(F2017))
    assert c.before == [
        [
            "2025年度，因政府信息公开申请行政复议1件，其中维持具体行政行为1件；没有发生因政府信息公开提起行政诉讼的情况。"
            "因政府信息公开被举报投诉2件，其中其他情形2件。"
        ]
    ]


def test_2017_review_many():
    v = stats(review=3, review_upheld=2, review_corrected=1, litigation=2, lit_upheld=1, lit_other=1)
    assert gen(make_unit(F2017, v), "review") == (
        "2025年度，因政府信息公开申请行政复议3件，其中维持具体行政行为2件、被依法纠错1件；"
        "提起行政诉讼2件，其中维持具体行政行为或者驳回原告诉讼请求1件、其他情形1件。"
    )


def test_2017_defaults_for_blank_optional_sections():
    w = S.load_wording(F2017)
    u = seed_unit()
    assert w.default("fees", u) == "2017年度，张店区科学技术局政府信息公开中没有发生相关收费和减免情况。"
    assert w.default("other", u) == "本单位不存在其他需要报告的内容。"
    assert w.default("overview", u) == ""
    u.narrative.pop("other", None)
    assert S.compose(u, section(F2017, "other"), w).default == "本单位不存在其他需要报告的内容。"


def test_2017_opening_with_and_without_basis():
    w = S.load_wording(F2017)
    u = seed_unit()
    u.narrative.pop("preamble", None)
    first, second = (S.plain_text(p) for p in S.opening(u, w))
    assert first.startswith(
        "根据《中华人民共和国政府信息公开条例》、《山东省政府信息公开办法》和《2017年张店区政务公开工作要点》"
    )
    assert "现公布张店区科学技术局2017年度政府信息公开工作报告" in first
    assert second.startswith("报告中所列数据的统计时限自2017年1月1日起至2017年12月31日止。如对本报告有任何疑问")
    bare = make_unit(F2017)
    paras = [S.plain_text(p) for p in S.opening(bare, w)]
    assert paras[0].startswith("根据《中华人民共和国政府信息公开条例》的有关规定，现公布某某区某某局2025年度")
    assert paras[1] == "报告中所列数据的统计时限自2025年1月1日起至2025年12月31日止。"  # no contact given: no sentence
    own = make_unit(F2017, narrative={"preamble": "本单位自己写的前言。"})
    assert S.plain_text(S.opening(own, w)[0]) == "本单位自己写的前言。"


def test_2017_attachment_signoff_lines_show_filled_items_only():
    w = S.load_wording(F2017)
    assert S.attachment_signoff(seed_unit(), w) == [
        "单位负责人：王磊\u3000\u3000联系电话：0533-2869907",
        "审核人：张晓鹏\u3000\u3000填报人：郑连敏\u3000\u3000填报日期：2018年1月23日",
    ]
    assert S.attachment_signoff(make_unit(F2017, meta={"filler": "李四"}), w) == ["填报人：李四"]


# --------------------------------------------------------------------------- wording points across forms


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(F2021.cells)), st.integers(min_value=0, max_value=30), max_size=40))
def test_2021_generated_text_never_says_没有(values):
    u = make_unit(F2021, values, meta={"processing_fee": Decimal(0)})
    text = "".join(gen(u, s.id) for s in F2021.sections)
    assert "没有" not in text and "0件" not in re.sub(r"\d+0件", "", text)


def test_wording_files_digest_follows_the_files_beside_the_form_specs(tmp_path, monkeypatch):
    """A batch rerun redoes the reports when a form's wording file changes (the digest is in its options key)."""
    (tmp_path / "wording").mkdir()
    monkeypatch.setenv("GKREPORT_FORMS", str(tmp_path))
    before = S.wording_files_digest()
    f = tmp_path / "wording" / "wording_x.yaml"
    f.write_text('extends: "2021"\n', encoding="utf-8")
    after = S.wording_files_digest()
    f.write_text('extends: "2021"\nopening: ""\n', encoding="utf-8")
    assert len({before, after, S.wording_files_digest()}) == 3


def test_an_edited_form_wording_file_is_read_again(tmp_path):
    import os

    spec = (FORMS_EXTRA / "demo.yaml").read_text(encoding="utf-8").replace('id: "demo"', 'id: "demo3"')
    (tmp_path / "demo3.yaml").write_text(spec, encoding="utf-8")
    (tmp_path / "wording").mkdir()
    f = tmp_path / "wording" / "wording_demo3.yaml"
    text = (FORMS_EXTRA / "wording" / "wording_demo.yaml").read_text(encoding="utf-8")
    f.write_text(text, encoding="utf-8")
    form = load_form("demo3", [tmp_path])
    u = make_unit(form)
    assert gen(u, "t1") == "本年度未办理事项。"
    f.write_text(text.replace("本年度未办理事项。", "全年没有办理事项。"), encoding="utf-8")
    os.utime(f, (f.stat().st_atime, f.stat().st_mtime + 5))
    assert gen(u, "t1") == "全年没有办理事项。"
