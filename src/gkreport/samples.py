"""Sample units, filled into our templates: the seed unit (2017) and 2021-format units.

``gkreport samples -o FOLDER`` writes them so that a new user can try the batch
at once; the copies in ``input_templates/samples/`` are made by the same code.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

from .spec import Form, load_form

# --------------------------------------------------------------------------- the seed (2017)

SEED_VALUES_2017 = {
    "publish_total": 50,
    "publish_normative": 2,
    "normative_issued": 2,
    "ch_web": 35,
    "ch_weibo": 0,
    "ch_wechat": 0,
    "ch_other": 15,
    "resp_total": 1,
    "press": 0,
    "press_head": 0,
    "interview": 0,
    "interview_head": 0,
    "interpretation": 1,
    "resp_weibo": 0,
    "resp_other": 2,
    "req_received": 0,
    "req_in_person": 0,
    "req_fax": 0,
    "req_online": 0,
    "req_letter": 0,
    "req_other": 0,
    "req_closed": 0,
    "req_on_time": 0,
    "req_extended": 0,
    "req_answered": 0,
    "ans_already_public": 0,
    "ans_disclosed": 0,
    "ans_partial": 0,
    "ans_refused": 0,
    "refused_secret": 0,
    "refused_commercial": 0,
    "refused_privacy": 0,
    "refused_security": 0,
    "refused_not_gov_info": 0,
    "refused_other": 0,
    "ans_not_ours": 0,
    "ans_not_exist": 0,
    "ans_amend": 0,
    "ans_other_channel": 0,
    "review": 0,
    "review_upheld": 0,
    "review_corrected": 0,
    "review_other": 0,
    "litigation": 0,
    "lit_upheld": 0,
    "lit_corrected": 0,
    "lit_other": 0,
    "complaints": 0,
    "compl_upheld": 0,
    "compl_corrected": 0,
    "compl_other": 0,
    "archive": 0,
    "archive_paper": 0,
    "archive_electronic": 0,
    "org_bodies": 1,
    "org_reading_points": 1,
    "org_visitors": 50,
    "org_staff": None,  # blank in the seed although 专职 0 + 兼职 4
    "staff_full": 0,
    "staff_part": 4,
    "org_funds": 0,
    "meetings": 4,
    "courses": 1,
    "trainees": 4,
}

SEED_META_2017 = {
    "unit": "张店区科学技术局",
    "year": 2017,
    "signer": "淄博市张店区科学技术局",
    "date_written": "2017年3月12日",  # as printed in the seed (the year is a slip: it precedes 2017's end)
    "date_filled": "2018.1.23",
    "contact_dept": "张店区科学技术局办公室",
    "phone": "0533-2869907",
    "email": "kjj2869907@163.com",
    "address": "张店区新村西路226号张店区政务中心",
    "postcode": "255000",
    "head": "王磊",
    "reviewer": "张晓鹏",
    "filler": "郑连敏",
    "basis": "《山东省政府信息公开办法》和《2017年张店区政务公开工作要点》",
}

# The seed's paragraphs (the spaces around numbers in the stored text come from PDF
# extraction and are left out, as in the printed report).
SEED_NARRATIVE_2017 = {
    "overview": (
        "张店区科技局认真贯彻落实《2017年张店区政务公开工作要点》，紧紧围绕区委、区政府重大决策部署和人民群众关切，"
        "坚持改革创新和需求导向，建立健全政务公开制度体系，全面落实“五公开”工作机制。截至2017年底，全局政府信息公开工作运行正常，"
        "全年无重大信息安全责任事故，圆满完成了2017年政府信息公开工作。"
    ),
    "organisation": (
        "（一）强化了工作机制。每季度召开专题会议对信息公开工作进行研究部署，不断强化政府信息公开工作的组织领导、分工分化和责任落实，"
        "完善政府信息公开工作领导小组工作机制。根据《2017年张店区政务公开工作要点》，结合我局工作实际，制定了《张店区科技局2017年政务公开工作要点》，"
        "把“五公开”纳入办文办会程序，建立公开内容动态扩展和定期审查机制，进一步完善了主动公开基本目录，有序拓展了公开范围。\n"
        "（二）完善了各项制度。拟定了年度政府信息公开工作实施方案和业务培训计划；根据工作开展情况，进一步修改完善了《张店区科技局政府信息公开制度》、"
        "《张店区科技局信息公开工作考核制度》、《张店区科技局政府信息公开工作责任追究制度》等相关工作制度。"
    ),
    "proactive": (
        "2017年度，区科技局把张店区人民政府网站作为第一公开平台，优化了栏目设置，对部门业务工作及时公开，将区内申报英才计划、科学技术奖等情况予以公示。"
        "推进重点领域信息公开，公布新旧动能转换工作信息，及时在网站公开重要科技创新、加快产业转型升级等方面的相关政策及执行情况。"
        "本年度通过网络、公告栏、新媒体等方式主动公开政府信息50条，其中主动公开规范性文件2条。"
        "主要负责人切实履行“第一解读人和责任人”职责，对《张店区英才计划实施办法》进行了解读，主动回应重大舆论关切。"
        "另外，还更新了《信息公开指南》，公示了申请公开办法和投诉电话。"
    ),
    "problems": (
        "2017年，区科技局信息公开工作运行状况良好，但也存在部分问题和不足，主要是信息公开形式还需要进一步丰富，"
        "还需要提供面向社会更为方便快捷的信息公开方式。针对这些问题，在今后的工作中，我们将进一步强化组织领导，健全工作机制，"
        "全力推进政府信息公开工作。加大宣传力度，举办政府信息公开培训班和交流活动，提高做好政府信息公开的能力和水平。"
    ),
    "other": "本单位不存在其他需要报告的内容。",
}

# --------------------------------------------------------------------------- 2021-format units

_T3_COLS = ("natural", "business", "research", "social", "legal_service", "org_other")
_T3_LEAVES = (
    "disclosed",
    "partial",
    *(f"withheld_{i}" for i in range(1, 9)),
    *(f"unable_{i}" for i in range(1, 4)),
    *(f"not_handled_{i}" for i in range(1, 6)),
    *(f"other_{i}" for i in range(1, 4)),
)
_T4_GROUPS = ("review", "direct", "after")


def consistent_2021(t2: dict, t3_leaves: dict, carry: dict, next_year: dict, t4: dict) -> dict:
    """All values of a 2021 unit from the independent figures, totals derived so every rule holds.

    ``t3_leaves``/``carry``/``next_year`` map a row id to a list of 6 applicant-column numbers;
    rows not given are 0. ``new`` is derived from the balance identity 一 + 二 = 三（七）+ 四.
    ``t4`` maps a group (review/direct/after) to [维持, 纠正, 其他, 尚未审结].
    """
    v: dict = {}
    for key, val in t2.items():
        v[f"t2.{key}"] = val
    zero = [0] * 6
    total = [0] * 6
    for leaf in _T3_LEAVES:
        nums = t3_leaves.get(leaf, zero)
        total = [a + b for a, b in zip(total, nums)]
        _row(v, leaf, nums)
    _row(v, "total", total)
    c = carry or {}
    n = next_year or {}
    carry_nums = c.get("carry", zero)
    next_nums = n.get("next", zero)
    new = [t + x - k for t, x, k in zip(total, next_nums, carry_nums)]
    if any(x < 0 for x in new):
        raise ValueError("carry-over exceeds handled requests")
    _row(v, "new", new)
    _row(v, "carry", carry_nums)
    _row(v, "next", next_nums)
    prefix = {"review": "review", "direct": "direct", "after": "after"}
    for g in _T4_GROUPS:
        nums = t4.get(g, [0, 0, 0, 0])
        p = prefix[g]
        for name, x in zip(("upheld", "corrected", "other", "pending"), nums):
            v[f"t4.cases.{p}_{name}"] = x
        v[f"t4.cases.{p}_total"] = sum(nums)
    return v


def _row(v: dict, row: str, nums: list[int]) -> None:
    for col, x in zip(_T3_COLS, nums):
        v[f"t3.{row}.{col}"] = x
    v[f"t3.{row}.total"] = sum(nums)


def _t2(made=(0, 0), repealed=(0, 0), valid=(0, 0), licensing=0, penalty=0, enforcement=0, fee="0"):
    return {
        "regulations.made": made[0],
        "regulations.repealed": repealed[0],
        "regulations.valid": valid[0],
        "normative.made": made[1],
        "normative.repealed": repealed[1],
        "normative.valid": valid[1],
        "licensing.decisions": licensing,
        "penalty.decisions": penalty,
        "enforcement.decisions": enforcement,
        "fees.fee_amount": Decimal(fee),
    }


def _meta(unit: str, written: str, contact: str, phone: str, fee="0") -> dict:
    return {
        "unit": unit,
        "year": 2025,
        "signer": unit,
        "date_written": written,
        "date_filled": written,
        "contact_dept": f"{unit}办公室",
        "contact": contact,
        "phone": phone,
        "email": "gongkai@example.gov.cn",
        "head": "李明",
        "reviewer": "王芳",
        "filler": contact,
        "processing_fee": Decimal(fee),
    }


SAMPLES_2021: list[dict[str, Any]] = [
    {
        "file": "示例市东城区教育局2025年统计表.xlsx",
        "values": consistent_2021(
            _t2(made=(0, 3), repealed=(0, 1), valid=(0, 27), licensing=46, penalty=2, enforcement=0),
            {
                "disclosed": [9, 1, 0, 0, 0, 0],
                "partial": [2, 0, 0, 0, 0, 0],
                "withheld_4": [1, 0, 0, 0, 0, 0],
                "unable_1": [3, 0, 0, 0, 0, 1],
                "not_handled_2": [1, 0, 0, 0, 0, 0],
            },
            {},
            {},
            {"review": [1, 0, 0, 0]},
        ),
        "meta": _meta("示例市东城区教育局", "2026年1月20日", "赵静", "0533-1234567"),
        "narrative": {
            "overview": "2025年，区教育局坚持以公开为常态、不公开为例外，围绕教育改革发展重点工作，"
            "持续做好招生入学、学校收费、教育资助等领域信息公开，不断完善政府信息公开工作机制。"
            "全年主动公开政府信息 312 条，其中行政规范性文件 3 件；收到政府信息公开申请 18 件，均在法定期限内答复。\n"
            "加强政府信息管理，严格落实公开前保密审查；依托区政府门户网站和“东城教育”微信公众号，"
            "及时发布中小学招生政策解读、入学报名等信息，提升公开实效。",
            "problems": "一是部分栏目更新不够及时，信息发布的时效性有待提升；二是政策解读形式较为单一。"
            "下一步，将建立栏目更新台账，明确责任人和更新时限，丰富图解、视频等解读形式。",
            "other": "本年度未收取信息处理费。区教育局无其他需要报告的事项。",
        },
    },
    {
        "file": "示例市东城区市场监督管理局2025年统计表.xlsx",
        "values": consistent_2021(
            _t2(made=(0, 0), repealed=(0, 0), valid=(0, 5), licensing=3521, penalty=210, enforcement=35, fee="12.35"),
            {},
            {},
            {},
            {},
        ),
        "meta": _meta("示例市东城区市场监督管理局", "2026年1月23日", "孙伟", "0533-2345678"),
        "narrative": {
            "overview": "2025年，区市场监管局认真贯彻《中华人民共和国政府信息公开条例》，重点做好行政许可、"
            "行政处罚、“双随机、一公开”抽查结果等信息公开工作。全年作出行政许可决定 3521 件，"
            "行政处罚决定 210 件，行政强制决定 35 件，均按规定公开。本年度没有收到政府信息公开申请。",
            "problems": "一是行政处罚信息公示的规范性有待加强；二是基层所信息公开工作力量较为薄弱。"
            "下一步，将开展行政处罚信息公示专项检查，加强业务培训。",
            "other": "本年度未收取信息处理费。",
        },
    },
    {
        "file": "示例市东城区住房和城乡建设局2025年统计表.xlsx",
        "values": consistent_2021(
            _t2(made=(0, 2), repealed=(0, 2), valid=(0, 14), licensing=268, penalty=17, enforcement=3),
            {
                "disclosed": [14, 3, 0, 0, 1, 0],
                "partial": [4, 1, 0, 0, 0, 0],
                "withheld_6": [2, 0, 0, 0, 0, 0],
                "withheld_8": [1, 0, 0, 0, 0, 0],
                "unable_1": [6, 1, 0, 0, 0, 0],
                "unable_2": [1, 0, 0, 0, 0, 0],
                "not_handled_1": [2, 0, 0, 0, 0, 0],
                "other_1": [1, 0, 0, 0, 0, 0],
            },
            {"carry": [2, 0, 0, 0, 0, 0]},
            {"next": [3, 1, 0, 0, 0, 0]},
            {"review": [1, 0, 0, 1], "direct": [1, 0, 0, 0]},
        ),
        "meta": _meta("示例市东城区住房和城乡建设局", "2026年1月26日", "周强", "0533-3456789"),
        "narrative": {
            "overview": "2025年，区住建局围绕保障性住房、城镇老旧小区改造、建筑市场监管等重点领域，"
            "深入推进决策、执行、管理、服务、结果公开。全年收到政府信息公开申请 39 件，上年结转 2 件，"
            "结转下年度继续办理 4 件。",
            "problems": "一是依申请公开答复文书的规范性仍需提高；二是老旧小区改造项目信息公开不够集中。"
            "下一步，将制定答复文书范本，开设老旧小区改造专题栏目。",
            "other": "本年度未收取信息处理费。",
        },
    },
    {
        # Deliberate mistakes (formats.md §4): a row total with swapped digits, a broken balance,
        # a 表四 total that leaves out 尚未审结, a blank cell, 规章 counted by a district department,
        # a late 成文日期, a narrative number that contradicts the table, no 信息处理费 statement.
        "file": "示例市东城区自然资源局2025年统计表（有错误）.xlsx",
        "values": {
            **consistent_2021(
                _t2(made=(1, 4), repealed=(0, 1), valid=(1, 20), licensing=133, penalty=12, enforcement=1),
                {
                    "disclosed": [8, 2, 0, 0, 0, 0],
                    "partial": [3, 0, 0, 0, 0, 0],
                    "withheld_7": [1, 0, 0, 0, 0, 0],
                    "unable_1": [2, 0, 0, 0, 0, 0],
                    "not_handled_2": [1, 0, 0, 0, 0, 0],
                    "other_3": [3, 0, 0, 0, 0, 0],
                },
                {},
                {"next": [1, 0, 0, 0, 0, 0]},
                {"review": [1, 0, 0, 1], "after": [1, 0, 0, 0]},
            ),
            "t3.disclosed.total": 1,  # should be 10: digits written as 01 → 1? (a dropped digit)
            "t3.new.total": 12,  # should be 21: two digits swapped
            "t3.carry.natural": 2,  # breaks 一 + 二 = 三（七）+ 四
            "t4.cases.review_total": 1,  # 维持 1 + 尚未审结 1 = 2
            "t3.unable_3.research": None,  # left blank
        },
        "meta": {**_meta("示例市东城区自然资源局", "2026年2月10日", "吴军", "0533-4567890"), "processing_fee": None},
        "narrative": {
            "overview": "2025年，区自然资源局深入推进国土空间规划、土地征收、不动产登记等领域信息公开。"
            "全年收到政府信息公开申请 20 件，已全部办结。",
            "problems": "信息公开工作还存在一些不足，下一步将继续加强。",
            "other": "无其他需要报告的事项。",
        },
    },
]


def write_samples(folder: Path | str, kept: list[Path] | None = None) -> list[Path]:
    """Write the sample workbooks (the seed unit and the 2021 units) into ``folder``; returns those written.

    A file already there under a sample's name is never replaced (it may be the user's, or a sample
    they have changed to try things out): it is left as it is and added to ``kept``."""
    from .template import write_template

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    form = load_form("2021")
    wanted = [
        (
            load_form("2017"),
            "张店区科学技术局2017年政府信息公开工作情况统计表.xlsx",
            seed_values(),
            SEED_META_2017,
            SEED_NARRATIVE_2017,
        )
    ] + [(form, s["file"], s["values"], s["meta"], s["narrative"]) for s in SAMPLES_2021]
    out = []
    for spec, name, values, meta, narrative in wanted:
        path = folder / name
        if os.path.lexists(path):
            if kept is not None:
                kept.append(path)
            continue
        out.append(write_template(spec, path, values=values, meta=meta, narrative=narrative))
    return out


def seed_values(form: Form | None = None) -> dict:
    """The seed's 统计表 as cell ids of the 2017 form."""
    form = form or load_form("2017")
    table = form.tables["stats"]
    return {f"stats.{rid}.value": v for rid, v in SEED_VALUES_2017.items() if rid in table.rows}
