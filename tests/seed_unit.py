"""The seed unit: 张店区科学技术局's 2017 report (``../shared/seed/000_850f3db0ffdca737.txt``) as a Unit.

Figures are every number of the seed's 统计表 (八（四） is blank there, so ``None``); meta
and text are the seed's, keyed by the 2017 form's section ids. The number sentences
of the seed (主动公开…50条…, 没有收到申请…, 没有发生…复议…) are not in the text: the
report makes them from the figures.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from gkreport.form import load_form
from gkreport.model import Unit

SEED_FILE = Path(__file__).resolve().parents[2] / "shared" / "seed" / "000_850f3db0ffdca737.txt"

FIGURES = {
    "publish_total": 50, "publish_normative": 2, "normative_issued": 2,
    "ch_web": 35, "ch_weibo": 0, "ch_wechat": 0, "ch_other": 15,
    "resp_total": 1, "press": 0, "press_head": 0, "interview": 0, "interview_head": 0,
    "interpretation": 1, "resp_weibo": 0, "resp_other": 2,
    "req_received": 0, "req_in_person": 0, "req_fax": 0, "req_online": 0, "req_letter": 0, "req_other": 0,
    "req_closed": 0, "req_on_time": 0, "req_extended": 0,
    "req_answered": 0, "ans_already_public": 0, "ans_disclosed": 0, "ans_partial": 0, "ans_refused": 0,
    "refused_secret": 0, "refused_commercial": 0, "refused_privacy": 0, "refused_security": 0,
    "refused_not_gov_info": 0, "refused_other": 0,
    "ans_not_ours": 0, "ans_not_exist": 0, "ans_amend": 0, "ans_other_channel": 0,
    "review": 0, "review_upheld": 0, "review_corrected": 0, "review_other": 0,
    "litigation": 0, "lit_upheld": 0, "lit_corrected": 0, "lit_other": 0,
    "complaints": 0, "compl_upheld": 0, "compl_corrected": 0, "compl_other": 0,
    "archive": 0, "archive_paper": 0, "archive_electronic": 0,
    "org_bodies": 1, "org_reading_points": 1, "org_visitors": 50,
    "org_staff": None, "staff_full": 0, "staff_part": 4, "org_funds": 0,
    "meetings": 4, "courses": 1, "trainees": 4,
}

META = {
    "unit": "张店区科学技术局",
    "year": 2017,
    "signer": "淄博市张店区科学技术局",
    "date_written": datetime.date(2017, 3, 12),  # as printed in the seed (a slip: before the year's end)
    "date_filled": datetime.date(2018, 1, 23),
    "contact_dept": "张店区科学技术局办公室",
    "address": "张店区新村西路226号张店区政务中心",
    "postcode": "255000",
    "email": "kjj2869907@163.com",
    "phone": "0533-2869907",
    "head": "王磊",
    "reviewer": "张晓鹏",
    "filler": "郑连敏",
    "basis": "《山东省政府信息公开办法》和《2017年张店区政务公开工作要点》",
}

NARRATIVE = {
    "overview": (
        "张店区科技局认真贯彻落实《2017年张店区政务公开工作要点》，紧紧围绕区委、区政府重大决策部署和人民群众关切，"
        "坚持改革创新和需求导向，建立健全政务公开制度体系，全面落实“五公开”工作机制。截至2017年底，"
        "全局政府信息公开工作运行正常，全年无重大信息安全责任事故，圆满完成了2017年政府信息公开工作。"
    ),
    "organisation": (
        "（一）强化了工作机制。每季度召开专题会议对信息公开工作进行研究部署，不断强化政府信息公开工作的组织领导、"
        "分工分化和责任落实，完善政府信息公开工作领导小组工作机制。根据《2017年张店区政务公开工作要点》，"
        "结合我局工作实际，制定了《张店区科技局2017年政务公开工作要点》，把“五公开”纳入办文办会程序，"
        "建立公开内容动态扩展和定期审查机制，进一步完善了主动公开基本目录，有序拓展了公开范围。\n"
        "（二）完善了各项制度。拟定了年度政府信息公开工作实施方案和业务培训计划；根据工作开展情况，"
        "进一步修改完善了《张店区科技局政府信息公开制度》、《张店区科技局信息公开工作考核制度》、"
        "《张店区科技局政府信息公开工作责任追究制度》等相关工作制度。"
    ),
    "proactive": (
        "2017年度，区科技局把张店区人民政府网站作为第一公开平台，优化了栏目设置，对部门业务工作及时公开，"
        "将区内申报英才计划、科学技术奖等情况予以公示。推进重点领域信息公开，公布新旧动能转换工作信息，"
        "及时在网站公开重要科技创新、加快产业转型升级等方面的相关政策及执行情况。"
        "主要负责人切实履行“第一解读人和责任人”职责，对《张店区英才计划实施办法》进行了解读，主动回应重大舆论关切。"
        "另外，还更新了《信息公开指南》，公示了申请公开办法和投诉电话。"
    ),
    "problems": (
        "2017年，区科技局信息公开工作运行状况良好，但也存在部分问题和不足，主要是信息公开形式还需要进一步丰富，"
        "还需要提供面向社会更为方便快捷的信息公开方式。针对这些问题，在今后的工作中，我们将进一步强化组织领导，"
        "健全工作机制，全力推进政府信息公开工作。加大宣传力度，举办政府信息公开培训班和交流活动，"
        "提高做好政府信息公开的能力和水平。"
    ),
    "other": "本单位不存在其他需要报告的内容。",
}


def seed_unit() -> Unit:
    form = load_form("2017")
    values = {f"stats.{row}.value": v for row, v in FIGURES.items()}
    assert set(values) == set(form.tables["stats"].cells), "the seed figures must cover the 2017 table"
    return Unit(file=Path("张店区科学技术局2017年政府信息公开工作情况统计表.xlsx"), form=form,
                unit=META["unit"], year=META["year"], values=values, meta=dict(META),
                narrative=dict(NARRATIVE))
