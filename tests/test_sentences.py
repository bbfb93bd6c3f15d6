"""Generated sentences: the right numbers, and correct Chinese for zero, one and many."""

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


def section(form, sid):
    return next(s for s in form.sections if s.id == sid)


def gen(unit, sid, wording=None) -> str:
    w = wording or S.load_wording(unit.form)
    return "".join(S.plain_text(p) for p in S.generated(unit, section(unit.form, sid), w))


def t3_row(row, n, col="natural"):
    """Row ``row`` of table 三 with ``n`` in one applicant column and the total."""
    return {f"t3.{row}.{col}": n, f"t3.{row}.total": n}


# --------------------------------------------------------------------------- wording files


@pytest.mark.parametrize("form", [F2017, F2019, F2021], ids=lambda f: f.id)
def test_default_wording_is_complete(form):
    w = S.load_wording(form)
    assert set(S.KEYS[w.family]) <= set(w.texts)
    assert w.family == (S.OLD if form.id == "2017" else S.NATIONAL)


def test_folded_yaml_lines_leave_no_space_between_chinese_characters():
    w = S.load_wording(F2021)
    assert " " not in w.get("opening")
    assert "要求编制，由总体情况" in w.get("opening")


def test_2019_extends_2021_without_fee_sentence():
    w = S.load_wording(F2019)
    assert "〔2019〕60号" in w.get("opening")
    assert w.get("fee") == "" and w.get("fee_none") == ""
    assert w.get("requests.none") == S.load_wording(F2021).get("requests.none")
    u = make_unit(F2019, meta={"processing_fee": Decimal(0)})
    assert S.fee_paragraph(u, w) is None


def test_user_wording_overrides_a_subset(tmp_path):
    f = tmp_path / "措辞.yaml"
    f.write_text('requests:\n  none: "{year}年度本机关未收到政府信息公开申请。"\n', encoding="utf-8")
    w = S.load_wording(F2021, f)
    u = make_unit(F2021)
    assert gen(u, "t3", w) == "2025年度本机关未收到政府信息公开申请。"
    assert w.get("review.none") == S.load_wording(F2021).get("review.none")
    assert str(f.resolve()) in w.sources


def test_user_wording_with_per_form_sections(tmp_path):
    f = tmp_path / "措辞.yaml"
    f.write_text(
        "2021:\n  review:\n    none: 全年没有行政复议和行政诉讼。\n2017:\n  other_default: 无其他事项。\n",
        encoding="utf-8",
    )
    assert gen(make_unit(F2021), "t4", S.load_wording(F2021, f)) == "全年没有行政复议和行政诉讼。"
    assert S.load_wording(F2017, f).get("other_default") == "无其他事项。"


@pytest.mark.parametrize(
    "text, needle",
    [
        ('requests:\n  received: "本年度收到申请{number}件"\n', ["requests.received", "{number}", "{count}"]),
        ('fee: "收取{amount:.2f}元"\n', ["fee", "格式说明"]),
        ('opening: "本报告{"\n', ["opening", "花括号"]),
        ("reqests:\n  none: 无\n", ["reqests.none", "requests.none"]),
        ("title: [1, 2]\n", ["title", "一段文字"]),
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


def test_2017_keys_are_not_accepted_for_a_2021_report(tmp_path):
    f = tmp_path / "w.yaml"
    f.write_text("other_default: 无。\n", encoding="utf-8")
    with pytest.raises(S.WordingError, match="other_default"):
        S.load_wording(F2021, f)


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


def test_long_title_breaks_after_the_unit_name():
    w = S.load_wording(F2021)
    assert S.report_title(make_unit(F2021, name="某局"), w) == "某局2025年政府信息公开工作年度报告"
    long = make_unit(F2021, name="示例市东城区住房和城乡建设局")
    assert S.report_title(long, w) == "示例市东城区住房和城乡建设局\n2025年政府信息公开工作年度报告"


# --------------------------------------------------------------------------- 2021: 三 (applications)


def test_t3_zero():
    assert gen(make_unit(F2021), "t3") == "本年度没有收到政府信息公开申请。"


def test_t3_blank_table_counts_as_no_applications():
    u = make_unit(F2021, dict.fromkeys(F2021.tables["t3"].cells))
    assert gen(u, "t3") == "本年度没有收到政府信息公开申请。"


def test_t3_one():
    u = make_unit(F2021, {**t3_row("new", 1), **t3_row("disclosed", 1), **t3_row("total", 1)})
    assert gen(u, "t3") == "本年度共收到政府信息公开申请1件，其中予以公开1件。"


def test_t3_many_with_carry_over():
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
        "本年度共收到政府信息公开申请12件，上年结转1件，其中予以公开7件、部分公开2件、不予公开1件、"
        "无法提供1件、其他处理1件，结转下年度继续办理1件。"
    )


def test_t3_only_carry_over():
    v = {**t3_row("carry", 2), **t3_row("disclosed", 2), **t3_row("total", 2)}
    assert gen(make_unit(F2021, v), "t3") == "本年度没有新收政府信息公开申请，上年结转2件，其中予以公开2件。"


def test_t3_blank_total_column_uses_the_applicant_columns():
    v = {
        "t3.new.natural": 3,
        "t3.new.business": 2,
        "t3.new.total": None,
        "t3.disclosed.natural": 3,
        "t3.disclosed.business": 2,
        "t3.disclosed.total": None,
    }
    assert gen(make_unit(F2021, v), "t3") == "本年度共收到政府信息公开申请5件，其中予以公开5件。"


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["disclosed", "partial", "withheld_1", "withheld_8", "unable_2", "not_handled_5", "other_1"]),
        st.integers(min_value=0, max_value=500),
    ),
    st.integers(min_value=0, max_value=50),
    st.integers(min_value=0, max_value=50),
)
def test_t3_numbers_come_from_the_table(leaves, carry, nxt):
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
    if new:
        assert f"共收到政府信息公开申请{new}件" in text
    if carry:
        assert f"上年结转{carry}件" in text
    if nxt:
        assert f"结转下年度继续办理{nxt}件" in text
    if not (new or carry or nxt or total):
        assert text == "本年度没有收到政府信息公开申请。"


# --------------------------------------------------------------------------- 2021: 四 and 二


def test_t4_zero():
    assert gen(make_unit(F2021), "t4") == "本年度未发生因政府信息公开引起的行政复议、行政诉讼。"


def test_t4_review_only():
    v = {"t4.cases.review_upheld": 1, "t4.cases.review_pending": 1, "t4.cases.review_total": 2}
    assert gen(make_unit(F2021, v), "t4") == (
        "本年度因政府信息公开被申请行政复议2件，其中结果维持1件、尚未审结1件；未发生因政府信息公开引起的行政诉讼。"
    )


def test_t4_both():
    v = {
        "t4.cases.review_corrected": 1,
        "t4.cases.review_total": 1,
        "t4.cases.direct_upheld": 3,
        "t4.cases.direct_total": 3,
        "t4.cases.after_other": 1,
        "t4.cases.after_total": 1,
    }
    assert gen(make_unit(F2021, v), "t4") == (
        "本年度因政府信息公开被申请行政复议1件，其中结果纠正1件；被提起行政诉讼4件，其中未经复议直接起诉3件、复议后起诉1件。"
    )


def test_t2_zero():
    v = {"t2.fees.fee_amount": Decimal(0)}
    assert gen(make_unit(F2021, v), "t2") == (
        "本年度未制发规章和行政规范性文件，未废止规章和行政规范性文件；"
        "截至2025年12月31日，没有现行有效的规章和行政规范性文件。"
        "本年度未作出行政许可、行政处罚和行政强制决定，未收取行政事业性收费。"
    )


def test_t2_numbers():
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


def test_2019_table_two_has_no_generated_sentence_but_three_and_four_do():
    u = make_unit(F2019)
    assert gen(u, "t2") == ""
    assert gen(u, "t3") == "本年度没有收到政府信息公开申请。"
    v = {"t3.new.natural": 2, "t3.new.total": 2, "t3.other.natural": 2, "t3.other.total": 2, "t3.total.total": 2}
    assert gen(make_unit(F2019, v), "t3") == "本年度共收到政府信息公开申请2件，其中其他处理2件。"


# --------------------------------------------------------------------------- 2021: 六 (信息处理费)


def test_fee_sentence():
    w = S.load_wording(F2021)
    assert S.fee_paragraph(make_unit(F2021, meta={"processing_fee": Decimal(0)}), w) == [
        "本年度未收取政府信息公开信息处理费。"
    ]
    assert S.fee_paragraph(make_unit(F2021, meta={"processing_fee": Decimal("35.50")}), w) == [
        "依据《政府信息公开信息处理费管理办法》，本年度共收取信息处理费35.50元。"
    ]
    missing = S.fee_paragraph(make_unit(F2021), w)
    assert isinstance(missing[0], S.Gap) and missing[0].rule == "D.meta"
    assert missing[0].text == "【请填写：本年收取信息处理费（元）】"


# --------------------------------------------------------------------------- 2017 (old 统计表)


def stats(**kw):
    return {f"stats.{k}.value": v for k, v in kw.items()}


def test_seed_sentences():
    u = seed_unit()
    assert (
        gen(u, "proactive") == "本年度通过网络、公告栏、新媒体等方式主动公开政府信息50条，其中主动公开规范性文件2条。"
    )
    assert gen(u, "requests") == "2017年度，张店区科学技术局没有收到政府信息公开申请；不存在不予公开政府信息的情况。"
    assert gen(u, "review") == "2017年度，张店区科学技术局没有发生因政府信息公开申请行政复议、提起行政诉讼的情况。"


def test_2017_proactive_zero_and_without_normative():
    assert (
        gen(make_unit(F2017, stats(publish_total=1)), "proactive")
        == "本年度通过网络、公告栏、新媒体等方式主动公开政府信息1条。"
    )
    assert gen(make_unit(F2017), "proactive") == "本年度没有主动公开政府信息。"


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


def test_2017_review_and_complaints():
    v = stats(review=1, review_upheld=1, complaints=2, compl_other=2)
    assert gen(make_unit(F2017, v), "review") == (
        "2025年度，因政府信息公开申请行政复议1件，其中维持具体行政行为1件；没有发生因政府信息公开提起行政诉讼的情况。"
        "因政府信息公开被举报投诉2件，其中其他情形2件。"
    )


def test_2017_defaults_for_blank_optional_sections():
    w = S.load_wording(F2017)
    u = seed_unit()
    assert (
        S.default_text(u, section(F2017, "fees"), w)
        == "2017年度，张店区科学技术局政府信息公开中没有发生相关收费和减免情况。"
    )
    assert S.default_text(u, section(F2017, "other"), w) == "本单位不存在其他需要报告的内容。"
    assert S.default_text(u, section(F2017, "overview"), w) == ""


def test_2017_opening_with_and_without_basis():
    w = S.load_wording(F2017)
    u = seed_unit()
    first, second = (S.plain_text(p) for p in S.opening(u, w))
    assert first.startswith(
        "根据《中华人民共和国政府信息公开条例》、《山东省政府信息公开办法》和《2017年张店区政务公开工作要点》"
    )
    assert "现公布张店区科学技术局2017年度政府信息公开工作报告" in first
    assert second == (
        "报告中所列数据的统计时限自2017年1月1日起至2017年12月31日止。如对本报告有任何疑问，请联系："
        "张店区科学技术局办公室，地址：张店区新村西路226号张店区政务中心，邮编：255000，"
        "电子邮箱：kjj2869907@163.com，联系电话：0533-2869907。"
    )
    bare = make_unit(F2017)
    paras = [S.plain_text(p) for p in S.opening(bare, w)]
    assert paras[0].startswith("根据《中华人民共和国政府信息公开条例》的有关规定，现公布某某区某某局2025年度")
    assert paras[1] == "报告中所列数据的统计时限自2025年1月1日起至2025年12月31日止。"  # no contact given: no sentence
