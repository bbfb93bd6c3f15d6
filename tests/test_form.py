"""The form specs: official labels, structure and the spec loader."""

from __future__ import annotations

import pytest

from gkreport.errors import SpecError
from gkreport.spec import load_form, load_form_file
from gkreport.spec.layout import build_grid as grid


def test_2021_tables_match_the_official_format():
    form = load_form("2021")
    t2, t3, t4 = (form.tables[t] for t in ("t2", "t3", "t4"))
    assert [t.title for t in (t2, t3, t4)] == [
        "二、主动公开政府信息情况",
        "三、收到和处理政府信息公开申请情况",
        "四、政府信息公开行政复议、行政诉讼情况",
    ]
    # table 三: 25 data rows × 7 columns, labels character-exact
    lines = [n for n in t3.rows.values() if not n.children]
    assert len(lines) == 25
    assert [c.label for c in t3.value_columns()] == [
        "自然人",
        "商业企业",
        "科研机构",
        "社会公益组织",
        "法律服务机构",
        "其他",
        "总计",
    ]
    assert t3.row_path("withheld_3") == "三、本年度办理结果/（三）不予公开/3.危及“三安全一稳定”"
    assert t3.rows["other_1"].label == "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请"
    assert t3.rows["partial"].label == "（二）部分公开（区分处理的，只计这一情形，不计其他情形）"
    assert t3.column_path("business") == "法人或其他组织/商业企业"
    assert len([c for c in t3.cells.values() if not c.optional]) == 175
    # table 四: one unlabelled row, 15 columns
    assert len(t4.value_columns()) == 15 and t4.row_path("cases") == ""
    assert t4.column_path("after_total") == "行政诉讼/复议后起诉/总计"
    assert t4.column_path("review_pending") == "行政复议/尚未审结"
    # table 二: 8 integer cells and one 万元 amount
    types = sorted(c.type for c in t2.cells.values())
    assert types.count("int") == 9 and types.count("decimal") == 1
    fee = t2.cells["t2.fees.fee_amount"]
    assert fee.unit == "万元" and t2.columns["fee_amount"].label == "本年收费金额（单位：万元）"


def test_2021_sections_and_metadata():
    form = load_form("2021")
    texts = [s.heading for s in form.sections if s.kind == "text"]
    assert texts == ["一、总体情况", "五、存在的主要问题及改进情况", "六、其他需要报告的事项"]
    labels = {f.label for f in form.metadata}
    assert {
        "单位名称",
        "年度",
        "成文日期",
        "填报日期",
        "联系人",
        "联系电话",
        "电子邮箱",
        "单位负责人",
        "审核人",
        "填报人",
    } <= labels


def test_2017_table_is_the_seed_table():
    form = load_form("2017")
    t = form.tables["stats"]
    assert len(t.rows) == 71
    headings = [n.label for n in t.rows.values() if not n.has_value]
    assert headings == [
        "一、主动公开情况",
        "（二）通过不同渠道和方式公开政府信息的情况",
        "二、回应解读情况",
        "（二）通过不同渠道和方式回应解读的情况",
        "三、依申请公开情况",
        "八、机构建设和保障经费情况",
        "九、政府信息公开会议和培训情况",
    ]
    units = {n.unit for n in t.rows.values() if n.has_value}
    assert units == {"条", "件", "次", "篇", "个", "人", "人次", "万元"}
    assert t.cells["stats.org_funds.value"].type == "decimal"
    assert t.rows["org_staff"].kind == "partition" and t.rows["org_staff"].children == ("staff_full", "staff_part")
    assert t.rows["publish_total"].kind == "subset"
    assert t.rows["resp_total"].dedup_of == ("press", "interview", "resp_weibo", "resp_other")
    texts = [s.heading for s in form.sections if s.kind == "text" and s.id != "preamble"]
    assert len(texts) == 8 and texts[0] == "一、概述" and texts[-1] == "八、其他需要报告的事项"


def test_2019_differs_where_the_format_differs():
    f19, f21 = load_form("2019"), load_form("2021")
    assert f19.tables["t3"].rows["other"].children == () and not f19.tables["t3"].rows["other"].heading
    assert len([n for n in f19.tables["t3"].rows.values() if not n.children]) == 23
    assert f19.tables["t2"].columns["change"].type == "signed_int"
    assert "第二十条第（九）项" in [n.label for n in f19.tables["t2"].rows.values()]
    assert [c.label for c in f19.tables["t4"].value_columns()] == [c.label for c in f21.tables["t4"].value_columns()]
    assert f19.superseded_by == "2021"


@pytest.mark.parametrize("form_id", ["2017", "2019", "2021"])
def test_layout_places_every_cell_once(form_id):
    form = load_form(form_id)
    for t in form.tables.values():
        g = grid(t)
        assert set(g.value_pos) == {cid for cid, c in t.cells.items() if not c.optional}
        taken = set()
        for c in g.cells:
            for r in range(c.row, c.row + c.rowspan):
                for k in range(c.col, c.col + c.colspan):
                    assert (r, k) not in taken
                    taken.add((r, k))


def test_table_3_official_header_merges():
    g = grid(load_form("2021").tables["t3"])
    merged = {(c.text, c.row, c.col, c.rowspan, c.colspan) for c in g.cells if c.merged}
    assert ("申请人情况", 0, 3, 1, 7) in merged
    assert ("自然人", 1, 3, 2, 1) in merged and ("总计", 1, 9, 2, 1) in merged
    assert ("法人或其他组织", 1, 4, 1, 5) in merged
    assert ("三、本年度办理结果", 5, 0, 22, 1) in merged
    assert ("（三）不予公开", 7, 1, 8, 1) in merged


@pytest.mark.parametrize(
    "broken,fragment",
    [
        (
            "tables:\n  - {id: t1, title: 表, columns: [{id: a, label: A}], rows: [{id: r, label: R, sum_of: [x]}]}",
            "不存在的行“x”",
        ),
        (
            "tables:\n  - {id: t1, title: 表, columns: [{id: a, label: A}], rows: [{id: r, label: R}, {id: r, label: S}]}",
            "重复",
        ),
        ("tables: []", "没有定义任何表"),
    ],
)
def test_broken_spec_names_the_file(tmp_path, broken, fragment):
    p = tmp_path / "bad.yaml"
    p.write_text(
        "id: bad\nmetadata:\n  - {id: unit, label: 单位名称}\n  - {id: year, label: 年度}\n" + broken, encoding="utf-8"
    )
    with pytest.raises(SpecError) as exc:
        load_form_file(p)
    assert "bad.yaml" in str(exc.value) and fragment in str(exc.value)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("id: 2099", "2099"),
        ("id: x2099  # a comment", "x2099"),
        ('id: "2099"', "2099"),
        ('id: "20.99"  # 引号中的文字照原样', "20.99"),
        ('id: "20\\u0039"', "209"),
        ("id: '0123'", "0123"),
        ("id: 0123", "83"),  # YAML 1.1 octal: the parser decides, not the scan
        ("id: yes", "True"),
        ("id: 1_000", "1000"),
    ],
)
def test_a_specs_id_is_what_yaml_reads(tmp_path, line, expected):
    from gkreport.spec.load import _spec_id

    path = tmp_path / "x.yaml"
    path.write_text(f"# form\n{line}\nname: 测试\ntables:\n  - id: t1\n    title: 表\n", encoding="utf-8")
    assert _spec_id(str(path), path.stat().st_mtime) == expected


def test_the_spec_digest_follows_what_the_form_says(tmp_path):
    from gkreport.spec.load import BUILTIN_DIR

    text = (BUILTIN_DIR / "2021.yaml").read_text(encoding="utf-8")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "c").mkdir()
    (tmp_path / "a" / "2021.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "b" / "2021.yaml").write_text("# 注释\n" + text, encoding="utf-8")
    changed = text.replace("name: ", "name: 改", 1)
    assert changed != text
    (tmp_path / "c" / "2021.yaml").write_text(changed, encoding="utf-8")
    a, b, c = (load_form_file(tmp_path / d / "2021.yaml").spec_hash for d in "abc")
    assert a == b == load_form("2021").spec_hash
    assert c != a
