"""The Word report: read the .docx back and check page, type, structure, numbers and sentences.

Properties are resolved the way Word does (run → character style → paragraph style chain →
document defaults), so a test passes only if the effective formatting is right, wherever
it is set.
"""

from __future__ import annotations

import datetime
import io
import random
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from docx import Document
from lxml import etree

from conftest import SEED_NARRATIVE, SEED_TEXT, make_unit, seed_unit
from gkreport import docx_out as D
from gkreport import sentences as S
from gkreport.aggregate import aggregate_unit
from gkreport.formatting import format_number
from gkreport.model import Finding, Unit
from gkreport.spec import load_form

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
F2021 = load_form("2021")
F2017 = load_form("2017")
F2019 = load_form("2019")
FORMS_EXTRA = Path(__file__).with_name("forms_extra")

HEADINGS_2021 = [
    "一、总体情况",
    "二、主动公开政府信息情况",
    "三、收到和处理政府信息公开申请情况",
    "四、政府信息公开行政复议、行政诉讼情况",
    "五、存在的主要问题及改进情况",
    "六、其他需要报告的事项",
]
HEADINGS_2017 = [
    "一、概述",
    "二、政府信息公开的组织领导和制度建设情况",
    "三、行政机关主动公开政府信息的情况",
    "四、行政机关依申请公开政府信息和不予公开政府信息的情况",
    "五、政府信息公开的收费及减免情况",
    "六、因政府信息公开申请行政复议、提起行政诉讼的情况",
    "七、政府信息公开工作存在的主要问题及改进情况",
    "八、其他需要报告的事项",
]


# --------------------------------------------------------------------------- reading a .docx back


class Docx:
    """A written .docx with Word's property inheritance."""

    def __init__(self, path: Path | bytes):
        data = path if isinstance(path, bytes) else Path(path).read_bytes()
        self.zip = zipfile.ZipFile(io.BytesIO(data))
        self.doc = self.xml("word/document.xml")
        self.styles_xml = self.xml("word/styles.xml")
        self.styles = {s.get(W + "styleId"): s for s in self.styles_xml.iter(W + "style")}
        self.default_p = next(
            k for k, s in self.styles.items() if s.get(W + "type") == "paragraph" and s.get(W + "default") == "1"
        )
        self.body = self.doc.find(W + "body")

    def xml(self, name: str):
        return etree.fromstring(self.zip.read(name))

    def _chain(self, sid):
        while sid and sid in self.styles:
            s = self.styles[sid]
            yield s
            b = s.find(W + "basedOn")
            sid = b.get(W + "val") if b is not None else None

    def pstyle(self, p) -> str:
        ps = p.find(f"{W}pPr/{W}pStyle")
        return ps.get(W + "val") if ps is not None else self.default_p

    def ppr(self, p, tag: str, attr: str):
        own = p.find(f"{W}pPr/{W}{tag}")
        if own is not None and own.get(W + attr) is not None:
            return own.get(W + attr)
        for s in self._chain(self.pstyle(p)):
            el = s.find(f"{W}pPr/{W}{tag}")
            if el is not None and el.get(W + attr) is not None:
                return el.get(W + attr)
        el = self.styles_xml.find(f"{W}docDefaults/{W}pPrDefault/{W}pPr/{W}{tag}")
        return el.get(W + attr) if el is not None else None

    def rpr(self, p, r, tag: str, attr: str = "val"):
        levels = [r.find(W + "rPr")]
        rs = r.find(f"{W}rPr/{W}rStyle")
        if rs is not None:
            levels += [s.find(W + "rPr") for s in self._chain(rs.get(W + "val"))]
        levels += [s.find(W + "rPr") for s in self._chain(self.pstyle(p))]
        levels.append(self.styles_xml.find(f"{W}docDefaults/{W}rPrDefault/{W}rPr"))
        for rpr in levels:
            if rpr is None:
                continue
            el = rpr.find(W + tag)
            if el is not None and (el.get(W + attr) is not None or attr == "present"):
                return el.get(W + attr) if attr != "present" else el
        return None

    def font(self, p, r) -> str | None:
        return self.rpr(p, r, "rFonts", "eastAsia")

    def size(self, p, r) -> int | None:
        v = self.rpr(p, r, "sz")
        return int(v) if v else None

    def paragraphs(self):
        """Body paragraphs (not in tables), in order."""
        return [el for el in self.body if el.tag == W + "p"]

    def tables(self):
        return [el for el in self.body if el.tag == W + "tbl"]

    @staticmethod
    def text(el) -> str:
        return "".join(t.text or "" for t in el.iter(W + "t"))

    @staticmethod
    def runs(p):
        return [r for r in p.findall(W + "r") if r.find(W + "t") is not None]

    def texts(self) -> list[str]:
        return [self.text(p) for p in self.paragraphs()]

    def find(self, text: str):
        return next(p for p in self.paragraphs() if self.text(p) == text)


def table_grid(tbl) -> list[list[str]]:
    """Text by grid position; merged cells repeat their text over the positions they cover."""
    rows: list[list[tuple[str, str | None]]] = []
    for tr in tbl.findall(W + "tr"):
        row = []
        for tc in tr.findall(W + "tc"):
            span_el = tc.find(f"{W}tcPr/{W}gridSpan")
            span = int(span_el.get(W + "val")) if span_el is not None else 1
            vm = tc.find(f"{W}tcPr/{W}vMerge")
            vmerge = None if vm is None else (vm.get(W + "val") or "continue")
            row += [(Docx.text(tc), vmerge)] * span
        rows.append(row)
    out = []
    for r, row in enumerate(rows):
        out.append([out[r - 1][c] if vm == "continue" else text for c, (text, vm) in enumerate(row)])
    return out


def dedupe(seq):
    out = []
    for x in seq:
        if x and (not out or out[-1] != x):
            out.append(x)
    return out


# --------------------------------------------------------------------------- units


def report_unit(
    form=F2021, values=None, meta=None, narrative=None, name="示例市东城区住房和城乡建设局", year=2025, errors=0
) -> Unit:
    """A unit of ``form`` with every cell 0 (unless given), full contact details and short paragraphs;
    ``errors``: that many 错误 findings."""
    m = {
        "signer": name,
        "date_written": datetime.date(2026, 1, 26),
        "processing_fee": Decimal(0),
        "contact_dept": "区住建局办公室",
        "phone": "0533-3456789",
        "email": "gongkai@example.gov.cn",
        "address": "示例市东城区建设路1号",
        "postcode": "255000",
    }
    m.update(meta or {})
    n = {
        "overview": "2025年，区住建局深入推进决策、执行、管理、服务、结果公开。\n"
        "（一）主动公开情况。全年通过区政府门户网站主动公开政府信息312条。\n"
        "（二）依申请公开情况。严格按照法定时限答复。",
        "problems": "一是依申请公开答复文书的规范性仍需提高。下一步，将制定答复文书范本。",
        "other": "无其他需要报告的事项。",
    }
    if narrative is not None:
        n = narrative
    u = make_unit(form, values, name=name, year=year, meta=m, narrative=n)
    for i in range(errors):
        u.findings.append(Finding("T.sum", "error", f"第{i + 1}处错误"))
    return u


def distinct_values(form, seed=7) -> dict:
    """A different number in every cell, so that a number in the wrong place shows."""
    rnd = random.Random(seed)
    nums = rnd.sample(range(100, 100000), len(form.cells))
    return {cid: (Decimal(n) / 100 if c.type == "decimal" else n) for (cid, c), n in zip(form.cells.items(), nums)}


def write(u: Unit, path: Path, **kw) -> Path:
    """Write the report; the findings it returns are checked where they matter."""
    return D.write_unit_docx(u, path, **kw).path


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("docx")


@pytest.fixture(scope="module")
def seed_doc(out) -> tuple[Unit, Docx, Path]:
    u = seed_unit()
    path = write(u, out)
    return u, Docx(path), path


@pytest.fixture(scope="module")
def doc_2021(out) -> tuple[Unit, Docx, Path]:
    u = report_unit(values=distinct_values(F2021))
    path = write(u, out / "2021.docx")
    return u, Docx(path), path


@pytest.fixture(params=["2017", "2021"])
def any_doc(request, seed_doc, doc_2021):
    return seed_doc if request.param == "2017" else doc_2021


# --------------------------------------------------------------------------- page and type


def test_page_size_margins_and_line_grid(any_doc):
    _, d, _ = any_doc
    sect = d.body.find(W + "sectPr")
    pg = sect.find(W + "pgSz")
    assert (pg.get(W + "w"), pg.get(W + "h")) == ("11906", "16838")
    assert pg.get(W + "orient") in (None, "portrait")
    mar = sect.find(W + "pgMar")
    assert {k: int(mar.get(W + k)) for k in ("top", "bottom", "left", "right")} == {
        "top": 2098,
        "bottom": 1984,
        "left": 1587,
        "right": 1474,
    }  # 37/35/28/26 mm
    grid = sect.find(W + "docGrid")
    assert grid.get(W + "type") is None and grid.get(W + "linePitch") == "579"
    assert sect.find(W + "titlePg") is None
    assert d.xml("word/settings.xml").find(W + "evenAndOddHeaders") is not None


def test_title_font_size_and_centring(any_doc):
    u, d, _ = any_doc
    title = next(p for p in d.paragraphs() if d.pstyle(p) == "Title")
    assert d.text(title) == S.report_title(u, S.load_wording(u.form)).replace("\n", "")
    assert title.find(f".//{W}br") is not None  # long title: unit name on its own line
    for r in d.runs(title):
        assert d.font(title, r) == "方正小标宋简体"
        assert d.size(title, r) == 44  # 2号
        assert d.rpr(title, r, "b") in (None, "0")
    assert d.ppr(title, "jc", "val") == "center"


def test_fonts_define_a_fallback_chain(any_doc):
    _, d, _ = any_doc
    fonts = {f.get(W + "name"): f for f in d.xml("word/fontTable.xml").iter(W + "font")}
    assert fonts["方正小标宋简体"].find(W + "altName").get(W + "val") == "华文中宋"
    assert fonts["华文中宋"].find(W + "altName").get(W + "val") == "宋体"
    assert fonts["仿宋_GB2312"].find(W + "altName").get(W + "val") == "仿宋"
    assert fonts["楷体_GB2312"].find(W + "altName").get(W + "val") == "楷体"


HEADING_FONTS = [
    (re.compile(r"^[一二三四五六七八九十]+、"), "黑体"),
    (re.compile(r"^（[一二三四五六七八九十]+）"), "楷体_GB2312"),
    (re.compile(r"^\d+[.．]"), "仿宋_GB2312"),
]


def test_headings_body_fonts_sizes_spacing_and_indent(any_doc):
    _, d, _ = any_doc
    checked = {"h1": 0, "h2": 0, "body": 0}
    for p in d.paragraphs():
        style, text = d.pstyle(p), d.text(p)
        if style in ("Title", "GwAlert") or not text:
            continue
        runs = d.runs(p)
        # exact 28.95 pt line pitch on all text lines of the body
        if style not in ("GwAttach",) and not style.startswith("GwTbl"):
            assert (d.ppr(p, "spacing", "lineRule"), d.ppr(p, "spacing", "line")) == ("exact", "579"), text
        for pattern, font in HEADING_FONTS:
            if pattern.match(text) and style not in ("GwSign",):
                assert d.font(p, runs[0]) == font, text
                assert d.size(p, runs[0]) == 32, text
                checked["h1" if font == "黑体" else "h2" if font == "楷体_GB2312" else "body"] += 1
                break
        else:
            if style == "GwBody":
                for r in runs:
                    assert d.font(p, r) == "仿宋_GB2312", text
                    assert d.size(p, r) == 32, text
                assert d.ppr(p, "ind", "firstLineChars") == "200"
                assert d.ppr(p, "ind", "firstLine") == "640"
                checked["body"] += 1
    assert checked["h1"] >= 6 and checked["h2"] >= 2 and checked["body"] >= 5
    heading = next(p for p in d.paragraphs() if d.pstyle(p) == "Heading1")
    assert d.ppr(heading, "ind", "firstLine") == "640" and d.ppr(heading, "keepNext", "val") is None
    assert d.styles["Heading1"].find(f"{W}pPr/{W}keepNext") is not None


def test_body_is_condensed_to_28_characters_per_line(any_doc):
    _, d, _ = any_doc
    normal = d.styles["Normal"]
    assert normal.find(f"{W}rPr/{W}spacing").get(W + "val") == "-5"  # 28 × 15.75 pt ≤ 442 pt
    assert normal.find(f"{W}rPr/{W}sz").get(W + "val") == "32"


def test_every_run_has_an_east_asian_font_and_no_theme_fonts(any_doc):
    _, d, _ = any_doc
    for name in ("word/document.xml", "word/styles.xml", "word/footer1.xml", "word/footer2.xml"):
        raw = d.zip.read(name).decode()
        assert "Theme" not in raw and "theme" not in raw.lower(), name
    for p in d.doc.iter(W + "p"):
        for r in d.runs(p):
            assert d.font(p, r), d.text(p)
    assert "word/theme/theme1.xml" not in d.zip.namelist()


def test_page_numbers_in_odd_and_even_footers(any_doc):
    _, d, _ = any_doc
    rels = d.xml("word/_rels/document.xml.rels")
    target = {r.get("Id"): r.get("Target") for r in rels}
    refs = {
        f.get(W + "type"): target[f.get("{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id")]
        for f in d.body.find(W + "sectPr").findall(W + "footerReference")
    }
    assert set(refs) == {"default", "even"}
    for kind, name in refs.items():
        ftr = d.xml(f"word/{name}")
        p = ftr.find(W + "p")
        instr = "".join(t.text for t in p.iter(W + "instrText"))
        assert instr.strip() == "PAGE"
        assert re.fullmatch(r"— ?\d+ ?—", d.text(p))  # “— 1 —” with U+2014
        styles_doc = d  # footer paragraphs use the document's styles
        for r in p.findall(W + "r"):
            if r.find(W + "t") is not None:
                assert styles_doc.font(p, r) == "宋体" and styles_doc.size(p, r) == 28  # 4号宋体
                assert styles_doc.rpr(p, r, "rFonts", "ascii") == "宋体"
        odd = kind == "default"
        assert d.ppr(p, "jc", "val") == ("right" if odd else "left")
        side = "right" if odd else "left"
        assert (d.ppr(p, "ind", side + "Chars"), d.ppr(p, "ind", side)) == ("100", "280")  # 空一字


# --------------------------------------------------------------------------- structure and tables


def test_2021_sections_in_order_with_tables_in_two_three_four(doc_2021):
    _, d, _ = doc_2021
    order = []
    for el in d.body:
        if el.tag == W + "p" and d.pstyle(el) == "Heading1":
            order.append(d.text(el))
        elif el.tag == W + "tbl":
            order.append("<table>")
    assert order == [
        HEADINGS_2021[0],
        HEADINGS_2021[1],
        "<table>",
        HEADINGS_2021[2],
        "<table>",
        HEADINGS_2021[3],
        "<table>",
        HEADINGS_2021[4],
        HEADINGS_2021[5],
    ]


def test_2021_tables_are_the_official_grids(doc_2021):
    _, d, _ = doc_2021
    t2, t3, t4 = d.tables()
    for tbl in (t2, t3, t4):
        widths = [int(g.get(W + "w")) for g in tbl.find(W + "tblGrid")]
        assert sum(widths) == 8845  # the 版心 width
        assert tbl.find(f"{W}tblPr/{W}tblBorders/{W}insideH") is not None
        assert tbl.find(f"{W}tblPr/{W}tblLayout").get(W + "type") == "fixed"
        for tr in tbl.findall(W + "tr"):
            assert tr.find(f"{W}trPr/{W}cantSplit") is not None  # rows never split across pages
    g3 = table_grid(t3)
    assert len(g3[0]) == 10 and len(g3) == 3 + 25
    assert g3[0][:3] == [F2021.tables["t3"].corner] * 3 and g3[2][0] == F2021.tables["t3"].corner
    assert dedupe(g3[0][3:]) == ["申请人情况"]
    assert g3[1][3:] == ["自然人"] + ["法人或其他组织"] * 5 + ["总计"]
    assert g3[2][3:] == ["自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"]
    assert list(g3[5][:3]) == ["三、本年度办理结果", "（一）予以公开", "（一）予以公开"]
    header = [tr.find(f"{W}trPr/{W}tblHeader") is not None for tr in t3.findall(W + "tr")]
    assert header[:3] == [True] * 3 and not any(header[3:])  # header rows repeat on every page
    g4 = table_grid(t4)
    assert len(g4) == 4 and len(g4[0]) == 15
    assert dedupe(g4[0]) == ["行政复议", "行政诉讼"]
    assert g4[1][5:] == ["未经复议直接起诉"] * 5 + ["复议后起诉"] * 5
    assert g4[2] == ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"] * 3
    g2 = table_grid(t2)
    assert g2[0] == ["第二十条第（一）项"] * 4 and g2[1] == ["信息内容", "本年制发件数", "本年废止件数", "现行有效件数"]
    assert g2[-1][0] == "行政事业性收费"


def _keeps(d: Docx, p) -> bool:
    """keepNext on the paragraph or in its style chain (``w:val`` absent means on)."""
    own = p.find(f"{W}pPr/{W}keepNext")
    if own is not None:
        return own.get(W + "val") in (None, "1", "true", "on")
    for st in d._chain(d.pstyle(p)):
        el = st.find(f"{W}pPr/{W}keepNext")
        if el is not None:
            return el.get(W + "val") in (None, "1", "true", "on")
    return False


def _row_keeps(tr) -> bool:
    """Every cell paragraph of the row keeps with the next row."""
    return all(p.find(f"{W}pPr/{W}keepNext") is not None for tc in tr.findall(W + "tc") for p in tc.findall(W + "p"))


def _report(kind: str, tmp: Path) -> Docx:
    if kind == "2017":
        return Docx(write(seed_unit(), tmp / "r2017.docx"))
    if kind == "2019":
        u = report_unit(form=F2019, year=2020, values=distinct_values(F2019, 3))
        return Docx(write(u, tmp / "r2019.docx"))
    if kind == "demo":
        form = load_form("demo", [FORMS_EXTRA])
        u = Unit(file=Path("d.xlsx"), form=form, unit="某中心", year=2030, values=dict.fromkeys(form.cells, 2))
        return Docx(write(u, tmp / "rdemo.docx"))
    return Docx(write(report_unit(values=distinct_values(F2021)), tmp / "r2021.docx"))


@pytest.mark.parametrize("kind", ["2017", "2019", "2021", "demo"])
def test_every_table_repeats_its_header_keeps_its_rows_and_its_caption(tmp_path, kind):
    d = _report(kind, tmp_path)
    body = list(d.body)
    assert d.tables()
    for tbl in d.tables():
        rows = tbl.findall(W + "tr")
        header = [tr.find(f"{W}trPr/{W}tblHeader") is not None for tr in rows]
        n_head = header.index(False)
        assert n_head >= 1 and not any(header[n_head:])  # the header rows, at the top only
        assert all(tr.find(f"{W}trPr/{W}cantSplit") is not None for tr in rows)  # no row splits across pages
        assert all(_row_keeps(tr) for tr in rows[:n_head])  # the header keeps with the first row
        assert _row_keeps(rows[-2]) and _row_keeps(rows[-1])  # the last row never stands alone
        before = body[body.index(tbl) - 1]
        assert before.tag == W + "p" and _keeps(d, before), d.text(before)  # caption or sentence keeps with it
        if len(rows) <= 12:  # a short table (表二, 表四) stays whole
            assert all(_row_keeps(tr) for tr in rows)
        after = body[body.index(tbl) + 1]
        assert after.tag == W + "p"  # what the last row keeps with: a blank line, a note


def test_statistics_table_heading_rows_keep_with_their_first_item(seed_doc):
    """统计表: a heading row (三、依申请公开情况) never ends a page without its first line."""
    _, d, _ = seed_doc
    rows = d.tables()[0].findall(W + "tr")[1:]
    nodes = list(F2017.tables["stats"].rows.values())
    assert len(rows) == len(nodes)
    headings = [tr for tr, node in zip(rows, nodes) if not node.has_value]
    assert len(headings) >= 5 and all(_row_keeps(tr) for tr in headings)
    middle = [tr for tr, node in zip(rows[:-2], nodes) if node.has_value]
    assert not all(_row_keeps(tr) for tr in middle)  # a long table may break between its items


def test_table_two_repeats_its_first_caption_and_header(doc_2021):
    _, d, _ = doc_2021
    t2 = d.tables()[0]
    rows = t2.findall(W + "tr")
    header = [tr.find(f"{W}trPr/{W}tblHeader") is not None for tr in rows]
    assert header[:3] == [True, True, False]
    assert [Docx.text(tc) for tc in rows[0].findall(W + "tc")] == ["第二十条第（一）项"]
    assert Docx.text(rows[1].find(W + "tc")) == "信息内容"


@pytest.mark.parametrize("kind", ["2017", "2019", "2021"])
def test_the_last_paragraph_keeps_with_the_signature(tmp_path, kind):
    d = _report(kind, tmp_path)
    paras = d.paragraphs()
    date = next(i for i, p in enumerate(paras) if d.pstyle(p) == "GwSign" and re.search(r"\d+年\d+月\d+日", d.text(p)))
    last_heading = max(i for i, p in enumerate(paras[:date]) if d.pstyle(p) == "Heading1")
    last_text = max(i for i, p in enumerate(paras[:date]) if d.pstyle(p) == "GwBody" and d.text(p) and i > last_heading)
    assert _keeps(d, paras[last_heading])  # the last heading keeps with its text
    assert all(_keeps(d, p) for p in paras[last_text:date])  # last paragraph, 附件说明, 署名 → 成文日期


# --------------------------------------------------------------------------- wording read back from the .docx


def _body(d: Docx) -> str:
    return "\n".join(d.texts())


def test_2021_report_says_未收到_and_the_2017_report_keeps_the_seeds_words(tmp_path):
    d = Docx(write(report_unit(), tmp_path / "zero.docx"))
    assert "本年度未收到政府信息公开申请。" in d.texts() and "没有收到" not in _body(d)
    assert "没有" not in "".join(t for t in d.texts() if t.startswith("本年度"))
    seed = Docx(write(seed_unit(), tmp_path / "seed.docx"))
    assert "2017年度，张店区科学技术局没有收到政府信息公开申请；不存在不予公开政府信息的情况。" in seed.texts()


def test_2021_report_names_规章_only_when_the_unit_has_some(tmp_path):
    d = Docx(write(report_unit(values={"t2.normative.made": 2, "t2.normative.valid": 9}), tmp_path / "a.docx"))
    assert "规章" not in _body(d).split("二、主动公开政府信息情况")[1].split("三、")[0]
    d = Docx(write(report_unit(values={"t2.regulations.valid": 1}), tmp_path / "b.docx"))
    assert "现行有效规章1件" in _body(d)


def test_2021_report_merges_the_fee_with_a_bare_无(tmp_path):
    u = report_unit(narrative={"overview": "概述。", "problems": "问题。", "other": "无。"})
    texts = Docx(write(u, tmp_path / "r.docx")).texts()
    i = texts.index("六、其他需要报告的事项")
    assert texts[i + 1] == "本年度未收取信息处理费，无其他需要报告的事项。"
    assert "无。" not in texts


def test_2021_report_states_review_and_litigation_results(tmp_path):
    v = {"t4.cases.direct_corrected": 1, "t4.cases.direct_total": 1}
    texts = Docx(write(report_unit(values=v), tmp_path / "r.docx")).texts()
    assert (
        "本年度未发生因政府信息公开引起的行政复议；被提起行政诉讼1件（未经复议直接起诉1件），其中结果纠正1件。" in texts
    )


def test_2021_report_其中_follows_the_number_it_divides(tmp_path):
    v = {
        "t3.new.natural": 21,
        "t3.new.total": 21,
        "t3.carry.natural": 2,
        "t3.carry.total": 2,
        "t3.disclosed.natural": 11,
        "t3.disclosed.total": 11,
        "t3.partial.natural": 10,
        "t3.partial.total": 10,
        "t3.total.natural": 21,
        "t3.total.total": 21,
        "t3.next.natural": 2,
        "t3.next.total": 2,
    }
    texts = Docx(write(report_unit(values=v), tmp_path / "r.docx")).texts()
    assert (
        "本年度共收到政府信息公开申请21件，上年结转2件。办结21件，其中予以公开11件、部分公开10件；"
        "结转下年度继续办理2件。"
    ) in texts
    assert not any(re.search(r"上年结转\d+件，其中", t) for t in texts)


@pytest.mark.parametrize(
    "meta, sentence",
    [
        (
            {},
            "如对本报告有疑问，请与区住建局办公室联系（地址：示例市东城区建设路1号；邮编：255000；联系电话：0533-3456789；电子邮箱：gongkai@example.gov.cn）。",
        ),
        (
            {"contact_dept": "办公室", "contact": "周强", "address": None, "postcode": None, "email": None},
            "如对本报告有疑问，请与示例市东城区住房和城乡建设局办公室联系（联系人：周强；联系电话：0533-3456789）。",
        ),
        (
            {"contact_dept": None, "address": None, "postcode": None, "email": None},
            "如对本报告有疑问，请与示例市东城区住房和城乡建设局联系（联系电话：0533-3456789）。",
        ),
    ],
    ids=["all", "office-and-person", "phone-only"],
)
def test_2021_report_contact_sentence(tmp_path, meta, sentence):
    texts = Docx(write(report_unit(meta=meta), tmp_path / "r.docx")).texts()
    assert sentence in texts
    assert not any("请联系：" in t for t in texts)


def test_2019_report_has_a_table_two_sentence(tmp_path):
    v = {"t2.normative.produced": 2, "t2.normative.published": 2, "t2.normative.public_total": 12}
    u = report_unit(form=F2019, year=2020, values=v)
    texts = Docx(write(u, tmp_path / "r.docx")).texts()
    i = texts.index("二、主动公开政府信息情况")
    assert texts[i + 1] == (
        "本年度新制作规范性文件2件，新公开规范性文件2件；现对外公开规范性文件12件。"
        "本年度未作出行政许可、行政处罚、行政强制等处理决定。"
    )


def test_table_type_is_readable(doc_2021):
    _, d, _ = doc_2021
    for tbl in d.tables():
        for tc in tbl.iter(W + "tc"):
            for p in tc.findall(W + "p"):
                for r in d.runs(p):
                    assert d.font(p, r) in ("黑体", "仿宋_GB2312")
                    assert d.size(p, r) in (21, 24)  # 五号 for the 10- and 15-column tables, 小四 otherwise
                assert d.ppr(p, "ind", "firstLine") == "0"
    t4 = d.tables()[2]
    p = t4.find(f".//{W}p")
    assert d.size(p, d.runs(p)[0]) == 21


def _value_positions(form, table_id, grid):
    """Cell id → (row, col) found through the official labels of rows and columns."""
    t = form.tables[table_id]
    n_values = len(t.value_columns())
    n_labels = len(grid[0]) - n_values
    header_rows = t.header_depth()
    found = {}
    for rid, node in t.rows.items():
        if node.children or not node.has_value:
            continue

        def matches(r, node=node):
            labels = tuple(dedupe(grid[r][:n_labels]))  # a parent label drawn beside its rows, or not
            return node.path[-len(labels) :] == labels if labels else (not node.path and n_labels == 0)

        rows = [r for r in range(header_rows, len(grid)) if matches(r)]
        assert len(rows) == 1, (rid, rows)
        for cid in t.row_columns(rid):
            col_path = t.columns[cid].path
            cols = [
                c
                for c in range(n_labels, len(grid[0]))
                if tuple(dedupe([grid[h][c] for h in range(header_rows)]))[-len(col_path) :] == col_path
            ]
            assert len(cols) == 1, (cid, cols)
            found[f"{table_id}.{rid}.{cid}"] = (rows[0], cols[0])
    return found


def test_every_number_is_the_input_value_at_its_official_label(doc_2021):
    u, d, _ = doc_2021
    t2, t3, t4 = d.tables()
    checked = 0
    for table_id, tbl in (("t3", t3), ("t4", t4)):
        grid = table_grid(tbl)
        for cid, (r, c) in _value_positions(F2021, table_id, grid).items():
            assert grid[r][c] == format_number(u.values[cid]), cid
            checked += 1
    # table 二: caption row, its header row, then its rows
    grid = table_grid(t2)
    t = F2021.tables["t2"]
    for _gid, g in ((k, n) for k, n in t.rows.items() if n.parent is None):
        r0 = next(r for r, row in enumerate(grid) if row[0] == g.label)
        header = grid[r0 + 1]
        for k, member in enumerate(g.children):
            row = grid[r0 + 2 + k]
            assert row[0] == t.rows[member].label
            for cid in t.row_columns(member):
                col = header.index(t.columns[cid].label)
                assert row[col] == format_number(u.values[f"t2.{member}.{cid}"])
                checked += 1
    assert checked == len(F2021.cells) - sum(1 for c in F2021.cells.values() if c.optional)


def test_2017_table_rows_in_order_with_units_and_values(seed_doc):
    u, d, _ = seed_doc
    (tbl,) = d.tables()
    grid = table_grid(tbl)
    assert grid[0] == ["统计指标", "单位", "统计数"]
    t = F2017.tables["stats"]
    assert len(grid) == 1 + len(t.rows)
    for row, node in zip(grid[1:], t.rows.values()):
        assert row[0] == node.label
        if node.has_value:
            assert row[1] == node.unit
            assert row[2] == format_number(u.values[f"stats.{node.id}.value"])
        else:
            assert row[1:] == ["", ""]
    assert grid[1 + list(t.rows).index("org_staff")][2] == ""  # 八（四） blank stays blank, not 0


# --------------------------------------------------------------------------- the seed


def _seed_text() -> str:
    return SEED_TEXT.read_text(encoding="utf-8")


def squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def test_seed_report_has_the_seed_structure(seed_doc):
    _, d, _ = seed_doc
    texts = d.texts()
    assert texts[0] == "张店区科学技术局2017年政府信息公开工作年度报告"
    title = d.paragraphs()[0]
    assert [t.text for t in title.iter(W + "t")] == ["张店区科学技术局", "2017年政府信息公开工作年度报告"]
    heads = [d.text(p) for p in d.paragraphs() if d.pstyle(p) == "Heading1"]
    assert heads == HEADINGS_2017
    i_last = texts.index("本单位不存在其他需要报告的内容。")
    tail = [t for t in texts[i_last + 1 :] if t]
    assert tail[:5] == [
        "附件：2017年度政府信息公开工作情况统计表",
        "淄博市张店区科学技术局",
        "2017年3月12日",
        "（此件主动公开）",
        "附件",
    ]
    label = d.find("附件")
    assert d.pstyle(label) == "GwAttach" and label.find(f"{W}pPr/{W}pageBreakBefore") is not None
    assert d.font(label, d.runs(label)[0]) == "黑体"
    after = [t for t in texts[texts.index("附件") + 1 :] if t]
    assert after[:3] == [
        "2017年度政府信息公开工作情况统计表",
        "（区政府各部门、各有关单位）",
        "单位名称：张店区科学技术局",
    ]
    assert "（注：各子栏目数总数要等于总栏目数量）" in texts
    assert "单位负责人：王磊\u3000\u3000联系电话：0533-2869907" in texts
    notes = [p for p in d.paragraphs() if d.pstyle(p) == "GwTblNote"]  # note and 填报 lines under the table
    assert [_keeps(d, p) for p in notes] == [True] * (len(notes) - 1) + [False] and len(notes) == 3
    assert "审核人：张晓鹏\u3000\u3000填报人：郑连敏\u3000\u3000填报日期：2018年1月23日" in texts
    # body → 附件说明 → 署名 → 日期 are one block that never leaves the signature alone on a page
    chain = d.paragraphs()[i_last : texts.index("2017年3月12日")]
    assert all(d.ppr(p, "keepNext", "val") is not None or p.find(f"{W}pPr/{W}keepNext") is not None for p in chain)


def test_seed_report_says_what_the_seed_says(seed_doc):
    seed = squash(_seed_text())
    _, d, _ = seed_doc
    body = [t for t in d.texts() if t]
    # the office's paragraphs, word for word (the seed's extraction spaces aside)
    for key, text in SEED_NARRATIVE.items():
        for para in S.split_paragraphs(text):
            assert para in body, key
            assert squash(para) in seed or key == "proactive", key
    # the generated sentences: the seed's own sentences, with the unit's full name for its short one
    generated = [
        "本年度通过网络、公告栏、新媒体等方式主动公开政府信息50条，其中主动公开规范性文件2条。",
        "2017年度，张店区科学技术局政府信息公开中没有发生相关收费和减免情况。",
        "本单位不存在其他需要报告的内容。",
        "报告中所列数据的统计时限自2017年1月1日起至2017年12月31日止。",
    ]
    for sentence in generated:
        assert any(sentence in t for t in body), sentence
        assert squash(sentence).replace("张店区科学技术局政府", "区科技局政府") in seed, sentence
    assert "2017年度，张店区科学技术局没有收到政府信息公开申请；不存在不予公开政府信息的情况。" in body
    assert "没有收到申请政府信息公开的受理件；不存在不予公开政府信息的情况" in seed  # the seed's wording
    assert "2017年度，张店区科学技术局没有发生因政府信息公开申请行政复议、提起行政诉讼的情况。" in body
    for part in (
        "张店区科学技术局办公室",
        "地址：张店区新村西路226号张店区政务中心",
        "邮编：255000",
        "kjj2869907@163.com",
        "联系电话：0533-2869907",
    ):
        assert any(part in t for t in body), part
        assert squash(part).split("：")[-1] in seed
    proactive = SEED_NARRATIVE["proactive"]
    assert squash(proactive.split("主要负责人")[0]) in seed


def test_seed_attachment_table_matches_the_seed_table(seed_doc):
    lines = _seed_text().splitlines()
    start = lines.index("统计指标\t单位\t统计数")
    seed_rows = [ln.split("\t") for ln in lines[start:] if "\t" in ln]
    _, d, _ = seed_doc
    grid = table_grid(d.tables()[0])
    assert len(grid) == len(seed_rows)
    for mine, theirs in zip(grid, seed_rows):
        theirs = (theirs + ["", ""])[:3]
        assert [squash(x) for x in mine] == [squash(x) for x in theirs]


# --------------------------------------------------------------------------- signature, gaps, errors


def test_signature_block_without_seal(doc_2021):
    _, d, _ = doc_2021
    sign = d.find("示例市东城区住房和城乡建设局")
    date = d.find("2026年1月26日")
    assert d.ppr(sign, "jc", "val") == "right" and d.ppr(date, "jc", "val") == "right"
    assert d.ppr(sign, "ind", "right") == "640" and d.ppr(sign, "ind", "rightChars") == "200"  # 右空二字
    # the date starts two 字 right of the signer: right indent = 2 + width(signer) − 2 − width(date)
    date_right = int(d.ppr(date, "ind", "rightChars")) / 100
    signer_w, date_w = D._line_width("示例市东城区住房和城乡建设局"), D._line_width("2026年1月26日")
    assert (2 + signer_w) - (date_right + date_w) == pytest.approx(2)
    paras = d.paragraphs()
    assert paras.index(date) == paras.index(sign) + 1


def test_missing_text_gives_a_highlighted_placeholder_and_a_warning(out):
    u = report_unit(narrative={"problems": "下一步将加强培训。"}, meta={"date_written": None, "processing_fee": None})
    written = D.write_unit_docx(u, out / "gaps.docx")
    d = Docx(written.path)
    texts = d.texts()
    for what in ("总体情况", "其他需要报告的事项", "本年收取信息处理费（元）", "成文日期"):
        p = d.find(f"【请填写：{what}】")
        r = d.runs(p)[0]
        assert r.find(f"{W}rPr/{W}highlight").get(W + "val") == "yellow"
    assert texts.index("【请填写：总体情况】") == texts.index("一、总体情况") + 1
    rules = sorted((f.rule, f.severity) for f in written.findings)
    assert rules == [("D.meta", "warning")] * 2 + [("D.narrative", "warning")] * 2
    assert any("总体情况" in f.message for f in written.findings)
    assert u.findings == []  # returned for the caller to merge, the unit is not changed
    merged = D.merge_report_findings(u.findings, written.findings)
    again = D.write_unit_docx(u, out / "gaps.docx")  # a second run gives the same findings
    assert D.merge_report_findings(merged, again.findings) == merged and len(merged) == 4


def test_writer_order_does_not_matter_for_findings(tmp_path):
    """The report returns its findings; writing it before or after anything else changes no unit."""
    a = report_unit(narrative={}, meta={"date_written": None})
    b = report_unit(narrative={}, meta={"date_written": None})
    first = D.write_unit_docx(a, tmp_path / "a.docx")
    second = D.write_unit_docx(b, tmp_path / "b.docx")
    assert a.findings == b.findings == []
    assert [(f.rule, f.message) for f in first.findings] == [(f.rule, f.message) for f in second.findings]


def test_optional_sections_use_defaults_not_placeholders(seed_doc, out):
    u = seed_unit()
    u.narrative = {k: v for k, v in u.narrative.items() if k != "other"}
    d = Docx(write(u, out / "seed_no_other.docx"))
    assert "本单位不存在其他需要报告的内容。" in d.texts()
    assert not any("请填写" in t for t in d.texts()) and not u.findings


def test_narrative_repeating_a_generated_sentence_is_not_doubled(out):
    u = seed_unit()
    u.narrative["proactive"] = (
        "2017 年度，区科技局把张店区人民政府网站作为第一公开平台。"
        "本年度通过网络、公告栏、新媒体等方式主动公开政府信息 50 条，其中主动公开规范性文件 2 条。"
    )
    d = Docx(write(u, out / "seed_dup.docx"))
    assert sum("主动公开政府信息50条" in squash(t) for t in d.texts()) == 1


def test_fee_stated_by_the_office_is_not_repeated(out):
    u = report_unit(narrative={"overview": "概述。", "problems": "问题。", "other": "本年度未收取信息处理费。"})
    d = Docx(write(u, out / "fee.docx"))
    assert sum("信息处理费" in t for t in d.texts()) == 1


def test_errors_put_a_red_note_above_the_title(out):
    u = report_unit(errors=3)
    path = write(u, out)
    assert path.name == "示例市东城区住房和城乡建设局2025年政府信息公开工作年度报告.docx"  # same name
    d = Docx(path)
    first, second = d.paragraphs()[:2]
    assert d.text(first) == "【审核提示：本报告对应的统计表仍有3处错误，请更正后再印发】"
    r = d.runs(first)[0]
    assert d.rpr(first, r, "color") == "FF0000"
    assert r.find(f"{W}rPr/{W}highlight").get(W + "val") == "yellow"
    assert d.font(first, r) == "黑体"
    assert d.pstyle(second) == "Title"
    clean = Docx(write(report_unit(), out / "clean.docx"))
    assert not any("审核提示" in t for t in clean.texts())


def test_the_red_note_counts_cells_to_fix_not_broken_rules(out):
    """Two wrong cells that break four rules between them: 仍有2处错误."""
    from conftest import unit_2021
    from gkreport.checks import check_unit

    u = unit_2021()
    u.values["t3.disclosed.natural"] = 60  # was 6: its row and its column
    u.values["t3.carry.natural"] = 10  # was 1: its column total and 一 + 二 = 三 + 四
    check_unit(u)
    assert len(u.errors) == 2 and sum(len(f.grouped) for f in u.errors) == 4
    d = Docx(write(u, out / "two_cells.docx"))
    assert d.texts()[0] == "【审核提示：本报告对应的统计表仍有2处错误，请更正后再印发】"


def test_strict_refuses_a_unit_with_errors(tmp_path):
    u = report_unit(errors=2)
    with pytest.raises(D.StrictRefusal) as exc:
        D.write_unit_docx(u, tmp_path, strict=True)
    assert "2处错误" in str(exc.value) and exc.value.count == 2
    assert list(tmp_path.iterdir()) == []
    assert write(report_unit(), tmp_path, strict=True).exists()


def test_report_file_name_is_safe():
    u = report_unit(name='某区/某局:"办公室"')
    assert D.report_docx_name(u) == "某区_某局_办公室_2025年政府信息公开工作年度报告.docx"
    assert D.report_docx_name(seed_unit()) == "张店区科学技术局2017年政府信息公开工作年度报告.docx"


def test_user_wording_changes_the_report(tmp_path):
    f = tmp_path / "本局措辞.yaml"
    f.write_text(
        'opening: "本报告由{unit}编制，统计期限为{year}年全年。"\npublic_note: "（此件主动公开）"\n', encoding="utf-8"
    )
    d = Docx(write(report_unit(), tmp_path / "r.docx", wording=f))
    texts = d.texts()
    assert "本报告由示例市东城区住房和城乡建设局编制，统计期限为2025年全年。" in texts
    assert texts[-1] == "（此件主动公开）"


# --------------------------------------------------------------------------- other forms, summary


def test_2019_form_produces_a_report(tmp_path):
    u = report_unit(
        form=F2019, year=2020, values=distinct_values(F2019, 3), meta={"date_written": datetime.date(2021, 1, 20)}
    )
    d = Docx(write(u, tmp_path))
    assert len(d.tables()) == 3
    assert "〔2019〕60号" in "".join(d.texts())
    assert not any("信息处理费" in t for t in d.texts())
    grid = table_grid(d.tables()[1])
    assert dedupe(grid[-3][:3])[-1] == "（六）其他处理"  # a single row in the 2019 table 三
    for cid, (r, c) in _value_positions(F2019, "t3", grid).items():
        assert grid[r][c] == format_number(u.values[cid])


def test_a_form_known_only_from_its_spec_file_gets_a_report(tmp_path):
    """The demo form: spec and wording files only (tests/forms_extra/), no code of its own."""
    form = load_form("demo", [FORMS_EXTRA])
    values = {cid: i + 11 for i, cid in enumerate(form.cells)}
    u = Unit(
        file=Path("demo.xlsx"),
        form=form,
        unit="某某中心",
        year=2030,
        values=values,
        meta={"unit": "某某中心", "year": 2030, "date_written": datetime.date(2031, 1, 5)},
    )
    written = D.write_unit_docx(u, tmp_path)
    d = Docx(written.path)
    texts = d.texts()
    assert [d.text(p) for p in d.paragraphs() if d.pstyle(p) == "Heading1"] == ["一、工作概况", "二、办理情况"]
    assert "【请填写：工作概况】" in texts and texts[-1] == "2031年1月5日"
    grid = table_grid(d.tables()[0])
    for cid, (r, c) in _value_positions(form, "t1", grid).items():
        assert grid[r][c] == str(values[cid])
    # the sentence of its wording file, from the table's numbers
    t1 = {k: values[f"t1.{k}"] for k in ("permits.online", "services.online", "services.all", "permits.all")}
    assert (
        f"本年度共办理事项{t1['permits.all'] + t1['services.all']}件，"
        f"其中许可类事项{t1['permits.all']}件、服务类事项{t1['services.all']}件；"
        f"网上办理{t1['permits.online'] + t1['services.online']}件。"
    ) in texts
    assert [f.rule for f in written.findings] == ["D.narrative"] and u.findings == []


def test_a_copy_of_a_form_under_another_id_gets_the_same_sentences(tmp_path):
    """A new form made from the 2021 spec, with a wording file that only says ``extends: "2021"``."""
    import yaml

    spec = yaml.safe_load((Path(D.__file__).with_name("forms") / "2021.yaml").read_text(encoding="utf-8"))
    spec.update(id="2099", name="测试表样", years=[2099, None])
    (tmp_path / "2099.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    (tmp_path / "wording").mkdir()
    (tmp_path / "wording" / "wording_2099.yaml").write_text('extends: "2021"\n', encoding="utf-8")
    form = load_form("2099", [tmp_path])
    values = distinct_values(F2021)
    a = report_unit(values=values)
    b = report_unit(form=form, values=values)
    for sid in ("t2", "t3", "t4", "other"):
        section = next(s for s in form.sections if s.id == sid)
        wa, wb = S.load_wording(F2021), S.load_wording(form)
        ca, cb = S.compose(a, section, wa), S.compose(b, section, wb)
        assert (ca.before, ca.after) == (cb.before, cb.after) and (ca.before or ca.after), sid
    texts = Docx(write(b, tmp_path / "r.docx")).texts()
    assert any(t.startswith("本年度共收到政府信息公开申请") for t in texts)


def test_a_form_without_a_wording_file_gets_the_base_wording(tmp_path):
    spec = (FORMS_EXTRA / "demo.yaml").read_text(encoding="utf-8").replace('id: "demo"', 'id: "demo2"')
    (tmp_path / "demo2.yaml").write_text(spec, encoding="utf-8")
    form = load_form("demo2", [tmp_path])
    w = S.load_wording(form)
    assert w.sources == (str(S.TEMPLATE_DIR / "wording_base.yaml"),) and w.groups == ()
    u = Unit(file=Path("d.xlsx"), form=form, unit="某中心", year=2030, values=dict.fromkeys(form.cells, 1))
    texts = Docx(write(u, tmp_path / "r.docx")).texts()
    assert "某中心2030年政府信息公开工作年度报告" in texts
    assert not any("国办公开办函" in t for t in texts)  # no other form's opening


def test_summary_sums_the_units(tmp_path):
    a = report_unit(
        name="甲局",
        values={
            "t3.new.natural": 2,
            "t3.new.total": 2,
            "t3.disclosed.natural": 2,
            "t3.disclosed.total": 2,
            "t3.total.natural": 2,
            "t3.total.total": 2,
            "t2.fees.fee_amount": Decimal("1.25"),
            "t4.cases.review_upheld": None,
        },
        meta={"processing_fee": Decimal(10)},
    )
    b = report_unit(
        name="乙局",
        values={
            "t3.new.natural": 1,
            "t3.new.total": 1,
            "t3.disclosed.natural": 1,
            "t3.disclosed.total": 1,
            "t3.total.natural": 1,
            "t3.total.total": 1,
            "t2.fees.fee_amount": Decimal("0.5"),
            "t4.cases.review_upheld": None,
            "t4.cases.review_other": None,
        },
        meta={"processing_fee": None},
    )
    agg = aggregate_unit([a, b], "某某区人民政府")
    assert agg.values["t3.new.total"] == 3 and agg.values["t2.fees.fee_amount"] == Decimal("1.75")
    assert agg.values["t4.cases.review_upheld"] is None  # blank + blank = blank
    assert agg.values["t4.cases.review_other"] == 0  # blank + 0 = 0
    assert "processing_fee" not in agg.meta  # 乙局 gave none: the sum is not known
    b.meta["processing_fee"] = "2.5"
    assert aggregate_unit([a, b], "某某区人民政府").meta["processing_fee"] == Decimal("12.5")
    b.meta["processing_fee"] = None
    path = D.write_summary_docx([a, b], "某某区人民政府", tmp_path)
    assert path.name == "某某区人民政府2025年政府信息公开工作年度报告.docx"
    d = Docx(path)
    texts = d.texts()
    assert "本年度共收到政府信息公开申请3件。办结3件，其中予以公开3件。" in texts
    assert "【请填写：本年收取信息处理费（元）】" in texts and not any("信息处理费10元" in t for t in texts)
    assert "【请填写：总体情况】" in texts and "某某区人民政府" in texts
    grid = table_grid(d.tables()[1])
    pos = _value_positions(F2021, "t3", grid)
    assert grid[pos["t3.new.total"][0]][pos["t3.new.total"][1]] == "3"
    review_upheld = _value_positions(F2021, "t4", table_grid(d.tables()[2]))["t4.cases.review_upheld"]
    assert table_grid(d.tables()[2])[review_upheld[0]][review_upheld[1]] == ""
    # units with errors: the summary carries the note too
    b.findings.append(Finding("T.sum", "error", "错"))
    d = Docx(
        D.write_summary_docx(
            [a, b], "某某区人民政府", tmp_path / "s.docx", meta={"date_written": datetime.date(2026, 3, 1)}
        )
    )
    assert d.texts()[0] == "【审核提示：汇总所用的统计表中有1个单位仍有1处错误，请更正后再印发】"
    assert "2026年3月1日" in d.texts()
    with pytest.raises(D.StrictRefusal):
        D.write_summary_docx([a, b], "某某区人民政府", tmp_path / "t.docx", strict=True)


# --------------------------------------------------------------------------- fast path = python-docx path


def _content(data: bytes):
    d = Docx(data)
    out = []
    for el in d.body:
        if el.tag == W + "p":
            runs = [
                (
                    Docx.text(r),
                    (r.find(f"{W}rPr/{W}rStyle") is not None and r.find(f"{W}rPr/{W}rStyle").get(W + "val")),
                    r.find(f"{W}rPr/{W}highlight") is not None,
                )
                for r in Docx.runs(el)
            ]
            out.append(
                (
                    "p",
                    d.pstyle(el),
                    tuple(runs),
                    el.find(f"{W}pPr/{W}pageBreakBefore") is not None,
                    el.find(f"{W}pPr/{W}keepNext") is not None,
                    d.ppr(el, "ind", "rightChars"),
                    d.ppr(el, "jc", "val"),
                )
            )
        elif el.tag == W + "tbl":
            rows = []
            for tr in el.findall(W + "tr"):
                cells = []
                for tc in tr.findall(W + "tc"):
                    span = tc.find(f"{W}tcPr/{W}gridSpan")
                    vm = tc.find(f"{W}tcPr/{W}vMerge")
                    p = tc.find(W + "p")
                    origin = vm is None or vm.get(W + "val") == "restart"
                    cells.append(
                        (
                            Docx.text(tc),
                            span.get(W + "val") if span is not None else "1",
                            None if vm is None else (vm.get(W + "val") or "continue"),
                            d.pstyle(p) if origin else None,
                            d.ppr(p, "ind", "leftChars") if origin else None,
                            p.find(f"{W}pPr/{W}keepNext") is not None,
                            any(r.find(f"{W}rPr/{W}highlight") is not None for r in tc.iter(W + "r")),
                        )
                    )
                trpr = tr.find(W + "trPr")
                rows.append((tuple(cells), tuple(sorted(c.tag for c in trpr))))
            widths = tuple(g.get(W + "w") for g in el.find(W + "tblGrid"))
            out.append(("tbl", widths, etree.tostring(el.find(W + "tblPr"), method="c14n"), tuple(rows)))
    return out


@pytest.mark.parametrize(
    "make",
    [
        seed_unit,
        lambda: report_unit(values=distinct_values(F2021), errors=1),
        lambda: report_unit(narrative={}, meta={"date_written": None}),
    ],
    ids=["seed", "2021", "2021-gaps"],
)
def test_fast_path_and_python_docx_path_give_the_same_document(make):
    u = make()
    report = D.build_report(u)
    fast = D.render_docx(report, u.form)
    buf = io.BytesIO()
    D.build_plain(report).save(buf)
    plain = buf.getvalue()
    assert _content(fast) == _content(plain)
    for name in ("word/styles.xml", "word/footer1.xml", "word/footer2.xml", "word/settings.xml"):
        a, b = (
            etree.tostring(etree.fromstring(zipfile.ZipFile(io.BytesIO(x)).read(name)), method="c14n")
            for x in (fast, plain)
        )
        assert a == b, name


def test_fast_path_and_python_docx_path_give_the_same_district_report():
    from conftest import DISTRICT, district_units
    from gkreport.summary import summarise

    s = summarise(district_units(), DISTRICT)
    report = D.build_district_report(s)
    assert any(isinstance(b, D.TableBlock) and b.marks for b in report.blocks)  # highlighted figures
    fast = D.render_docx(report, s.form)
    buf = io.BytesIO()
    D.build_plain(report).save(buf)
    assert _content(fast) == _content(buf.getvalue())


def test_the_fast_package_is_an_intact_zip_of_the_parts_of_the_plain_one():
    """The fast path appends its two parts to the shared zip by hand: every member's sizes and CRC
    hold, the directory lists each part once, and the parts are the python-docx package's."""
    u = report_unit(values=distinct_values(F2021), errors=1)
    report = D.build_report(u)
    fast = zipfile.ZipFile(io.BytesIO(D.render_docx(report, u.form)))
    buf = io.BytesIO()
    D.build_plain(report).save(buf)
    plain = zipfile.ZipFile(buf)
    assert fast.testzip() is None  # reads every member back against its CRC
    names = fast.namelist()
    assert len(names) == len(set(names)) and set(names) == set(plain.namelist())
    for info in fast.infolist():
        assert len(fast.read(info)) == info.file_size and info.compress_type == zipfile.ZIP_DEFLATED
    title = etree.fromstring(fast.read("docProps/core.xml")).findtext("{http://purl.org/dc/elements/1.1/}title")
    assert title == report.title


def test_the_written_file_opens_in_python_docx(doc_2021):
    import docx

    _, _, path = doc_2021
    doc = docx.Document(str(path))
    assert doc.paragraphs[0].style.name == "Title"
    assert doc.core_properties.title == "示例市东城区住房和城乡建设局2025年政府信息公开工作年度报告"
    assert doc.sections[0].page_width == 11906 * 635 and doc.settings.odd_and_even_pages_header_footer
    assert len(doc.tables) == 3 and doc.styles["Heading 1"].font.name == "黑体"


# ECMA-376 child order of the property elements we write (Word refuses files that break it)
ORDER = {
    "pPr": [
        "pStyle",
        "keepNext",
        "keepLines",
        "pageBreakBefore",
        "framePr",
        "widowControl",
        "numPr",
        "suppressLineNumbers",
        "pBdr",
        "shd",
        "tabs",
        "suppressAutoHyphens",
        "kinsoku",
        "wordWrap",
        "overflowPunct",
        "topLinePunct",
        "autoSpaceDE",
        "autoSpaceDN",
        "bidi",
        "adjustRightInd",
        "snapToGrid",
        "spacing",
        "ind",
        "contextualSpacing",
        "mirrorIndents",
        "suppressOverlap",
        "jc",
        "textDirection",
        "textAlignment",
        "textboxTightWrap",
        "outlineLvl",
        "divId",
        "cnfStyle",
        "rPr",
        "sectPr",
        "pPrChange",
    ],
    "rPr": [
        "rStyle",
        "rFonts",
        "b",
        "bCs",
        "i",
        "iCs",
        "caps",
        "smallCaps",
        "strike",
        "dstrike",
        "outline",
        "shadow",
        "emboss",
        "imprint",
        "noProof",
        "snapToGrid",
        "vanish",
        "webHidden",
        "color",
        "spacing",
        "w",
        "kern",
        "position",
        "sz",
        "szCs",
        "highlight",
        "u",
        "effect",
        "bdr",
        "shd",
        "fitText",
        "vertAlign",
        "rtl",
        "cs",
        "em",
        "lang",
        "eastAsianLayout",
        "specVanish",
        "oMath",
    ],
    "tblPr": [
        "tblStyle",
        "tblpPr",
        "tblOverlap",
        "bidiVisual",
        "tblStyleRowBandSize",
        "tblStyleColBandSize",
        "tblW",
        "jc",
        "tblCellSpacing",
        "tblInd",
        "tblBorders",
        "shd",
        "tblLayout",
        "tblCellMar",
        "tblLook",
    ],
    "tcPr": [
        "cnfStyle",
        "tcW",
        "gridSpan",
        "hMerge",
        "vMerge",
        "tcBorders",
        "shd",
        "noWrap",
        "tcMar",
        "textDirection",
        "tcFitText",
        "vAlign",
        "hideMark",
    ],
    "sectPr": [
        "headerReference",
        "footerReference",
        "footnotePr",
        "endnotePr",
        "type",
        "pgSz",
        "pgMar",
        "paperSrc",
        "pgBorders",
        "lnNumType",
        "pgNumType",
        "cols",
        "formProt",
        "vAlign",
        "noEndnote",
        "titlePg",
        "textDirection",
        "bidi",
        "rtlGutter",
        "docGrid",
        "printerSettings",
        "sectPrChange",
    ],
    "style": [
        "name",
        "aliases",
        "basedOn",
        "next",
        "link",
        "autoRedefine",
        "hidden",
        "uiPriority",
        "semiHidden",
        "unhideWhenUsed",
        "qFormat",
        "locked",
        "personal",
        "personalCompose",
        "personalReply",
        "rsid",
        "pPr",
        "rPr",
        "tblPr",
        "trPr",
        "tcPr",
        "tblStylePr",
    ],
}


def test_property_elements_are_in_schema_order(any_doc):
    _, d, _ = any_doc
    for name in ("word/document.xml", "word/styles.xml", "word/footer1.xml", "word/footer2.xml"):
        root = d.xml(name)
        for tag, order in ORDER.items():
            for el in root.iter(W + tag):
                names = [etree.QName(c).localname for c in el]
                idx = [order.index(n) for n in names]
                assert idx == sorted(idx), (name, tag, names)


def test_missing_section_is_reported_once_after_the_checks(tmp_path):
    """The check engine names missing sections (D1); the report adds where it marks them, not a second warning."""
    from gkreport.pipeline import run_checks
    from gkreport.samples import SAMPLES_2021

    s = SAMPLES_2021[0]
    unit = Unit(
        file=Path("x.xlsx"),
        form=load_form("2021"),
        unit=s["meta"]["unit"],
        year=2025,
        values=dict(s["values"]),
        meta=dict(s["meta"]),
        narrative={"overview": s["narrative"]["overview"]},
    )
    run_checks([unit])
    written = D.write_unit_docx(unit, tmp_path / "r.docx")
    d1 = next(f for f in unit.findings if f.rule == "D1")
    message = d1.message
    unit.findings = D.merge_report_findings(unit.findings, written.findings)
    assert d1.message == message  # the check engine's finding itself is not changed
    about_problems = [f for f in unit.findings if "存在的主要问题及改进情况" in f.message]
    assert len(about_problems) == 1 and about_problems[0].rule == "D1"
    assert "【请填写】" in about_problems[0].message
    body = "".join(p.text for p in Document(str(tmp_path / "r.docx")).paragraphs)
    assert "【请填写：存在的主要问题及改进情况】" in body


# --------------------------------------------------------------------------- the district's report


def _highlighted_values(tbl) -> set[str]:
    return {
        Docx.text(tc)
        for tc in tbl.iter(W + "tc")
        if any(r.find(f"{W}rPr/{W}highlight") is not None for r in tc.iter(W + "r"))
    }


def test_the_district_report_never_states_a_doubtful_figure_unmarked(tmp_path):
    """A department's wrong total (卫生健康局: 一、本年新收 总计 13, its columns add up to 22) flows into
    the sum: the sentence keeps the table's figure but marks it 【待核实】 with the banner line that
    names the department; the table highlights it and says why under the table."""
    from conftest import DISTRICT, DISTRICT_META, DISTRICT_TEXT, district_units, make_unit
    from gkreport.checks import check_units
    from gkreport.summary import summarise

    units = district_units()
    check_units(units)
    own = make_unit("2021", {}, fill=None, name=DISTRICT, meta=DISTRICT_META, narrative=DISTRICT_TEXT)
    s = summarise([*units, own], DISTRICT)
    written = D.write_district_docx(s, tmp_path)
    assert written.path.name == "某某区人民政府2025年政府信息公开工作年度报告.docx"
    d = Docx(written.path)
    texts = d.texts()
    new_total = s.totals["t3.new.total"]
    columns = sum(
        s.totals[f"t3.new.{c}"] for c in ("natural", "business", "research", "social", "legal_service", "org_other")
    )
    assert new_total == 64 and columns == 73  # the table adds up to 73 while its total says 64
    assert texts[0] == "【审核提示：汇总所用的统计表中有1个单位仍有1处错误，请更正后再印发】"
    assert texts[1] == "统计表仍有错误的单位：某某区卫生健康局（1处）。"
    banner = {int(t.split(".", 1)[0]): t for t in texts[2:12] if re.match(r"\d+\. ", t)}
    wrong = next(n for n, t in banner.items() if "一、本年新收政府信息公开申请数量”总计列应为 73" in t)
    assert "某某区卫生健康局" in banner[wrong]
    mapped = next(n for n, t in banner.items() if "某某区民政局使用2019年版" in t)
    received = next(t for t in texts if t.startswith("本年度共收到政府信息公开申请"))
    assert received.startswith(f"本年度共收到政府信息公开申请{new_total}件【待核实，见审核提示{wrong}")
    assert f"收到政府信息公开申请{new_total}件，" not in received  # never unmarked
    body = d.body
    marks = [
        Docx.text(r) for p in body.iter(W + "p") for r in Docx.runs(p) if r.find(f"{W}rPr/{W}highlight") is not None
    ]
    assert any(m.startswith("【待核实") for m in marks)
    tables = d.tables()
    assert str(new_total) in _highlighted_values(tables[1])  # 表三: the doubtful total
    assert "73" not in _highlighted_values(tables[1])
    notes = [t for t in texts if t.startswith("注：黄色突出显示的数字待核实")]
    assert any(str(wrong) in n for n in notes) and any(str(mapped) in n for n in notes)
    # 表二: the 2019 department has no 本年制发件数: the sum's figure is highlighted and marked
    assert f"本年度制发行政规范性文件{s.totals['t2.normative.made']}件" in "".join(texts)
    assert any(f"见审核提示{mapped}" in t for t in texts if t.startswith("本年度制发"))
    # the district's own text and 基本信息: no 【请填写】 left
    assert not any("请填写" in t for t in texts)
    assert DISTRICT_TEXT["problems"] in texts and "2026年3月20日" in texts and "某某区人民政府办公室" in texts
    assert written.findings == []


def test_a_district_report_without_problems_has_no_banner(tmp_path):
    from conftest import DISTRICT, DISTRICT_META, DISTRICT_TEXT, make_unit, unit_2021
    from gkreport.summary import summarise

    units = [unit_2021(name=f"某某区{n}局", year=2025) for n in ("甲", "乙")]
    own = make_unit("2021", {}, fill=None, name=DISTRICT, meta=DISTRICT_META, narrative=DISTRICT_TEXT)
    s = summarise([*units, own], DISTRICT)
    assert s.findings == []
    d = Docx(D.write_district_docx(s, tmp_path).path)
    texts = d.texts()
    assert texts[0].startswith("某某区人民政府") and not any("审核提示" in t or "待核实" in t for t in texts)
    assert not any(_highlighted_values(t) for t in d.tables())


# --------------------------------------------------------------------------- figures read back from a real workbook


def _workbook_report(tmp_path: Path, form_id: str = "2021", values: dict | None = None, blank=()):
    """The 2021 sample (on the 2019 form: its tables converted) written as a real workbook with
    ``values`` over its figures and every cell of the tables or rows in ``blank`` left blank, read,
    checked and reported: (unit, report findings, the report)."""
    from conftest import values_2019_from
    from gkreport.pipeline import run_checks
    from gkreport.reader import read_workbook
    from gkreport.samples import SAMPLES_2021
    from gkreport.template import write_template

    s = SAMPLES_2021[0]
    form = load_form(form_id)
    v = dict(s["values"]) if form_id == "2021" else values_2019_from(s["values"])
    v.update(values or {})
    v = {c: x for c, x in v.items() if not c.startswith(tuple(b + "." for b in blank))}
    year = 2025 if form_id == "2021" else 2020
    meta = {k: x for k, x in s["meta"].items() if any(f.id == k for f in form.metadata)}
    meta["year"] = year
    path = write_template(form, tmp_path / f"{form_id}.xlsx", values=v, meta=meta, narrative=s["narrative"])
    unit = read_workbook(path)
    run_checks([unit])
    written = D.write_unit_docx(unit, tmp_path)
    return unit, written.findings, Docx(written.path)


def _highlighted_runs(d: Docx) -> list[str]:
    return [Docx.text(r) for p in d.paragraphs() for r in Docx.runs(p) if r.find(f"{W}rPr/{W}highlight") is not None]


@pytest.mark.parametrize("form_id", ["2021", "2019"])
def test_the_办结_sentence_states_the_tables_总计_even_when_it_disagrees_with_its_items(tmp_path, form_id):
    """（七）总计 25 while the results add up to 18 (an error of the checks): the sentence says 25, as the table does."""
    unit, _, d = _workbook_report(tmp_path, form_id, {"t3.total.total": 25})
    assert unit.values["t3.total.total"] == 25
    assert any(f.rule.startswith("t3.rsum.total") and f.severity == "error" for f in unit.findings)
    texts = d.texts()
    (sentence,) = [t for t in texts if "办结" in t]
    assert "办结25件，其中予以公开10件" in sentence and "办结18件" not in sentence
    grid = table_grid(d.tables()[1])
    (total_row,) = [row for row in grid if row[1].startswith("（七）总计")]
    assert total_row[-1] == "25"


def test_a_blank_table_is_asked_for_in_the_report_not_stated_as_zero(tmp_path):
    """表二 and 表三 left blank in the workbook: no 未收到 / 未制发 / 未收取; highlighted 【请填写】 in their
    place, each a 提示 pointing at a cell of its row."""
    unit, findings, d = _workbook_report(tmp_path, blank=("t2", "t3"))
    assert {"t2.blank", "t3.blank"} <= {f.rule for f in unit.findings}
    body = _body(d)
    for claim in ("未收到", "未新收", "未制发", "未废止", "无现行有效", "未作出", "未收取行政事业性收费"):
        assert claim not in body, claim
    texts = d.texts()
    i = texts.index("三、收到和处理政府信息公开申请情况")
    assert texts[i + 1] == (
        "【请填写：表三“一、本年新收政府信息公开申请数量”】，【请填写：表三“二、上年结转政府信息公开申请数量”】。"
        "【请填写：表三“三、本年度办理结果”】；【请填写：表三“四、结转下年度继续办理”】。"
    )
    assert "【请填写：表二“行政事业性收费”本年收费金额】" in texts[texts.index("二、主动公开政府信息情况") + 1]
    assert "【请填写：表三“一、本年新收政府信息公开申请数量”】" in _highlighted_runs(d)
    # 表四 is filled: its sentence is unchanged
    assert "本年度因政府信息公开被申请行政复议1件，其中结果维持1件；未发生因政府信息公开引起的行政诉讼。" in texts
    blank = [f for f in findings if f.rule == "D.blank_figure"]
    assert len(blank) == 9 and all(f.severity == "warning" for f in blank)
    new = next(f for f in blank if "一、本年新收政府信息公开申请数量" in f.message)
    assert new.cell_ids and new.cell_ids[0].startswith("t3.new.") and new.table == "t3"
    sheet, a1 = unit.locations[new.cell_ids[0]]
    assert new.cells == (f"{sheet}!{a1}",)
    assert "空白不等于 0" in new.message and "【请填写】" in new.message
    from gkreport.catalogue import code_for

    assert code_for("D.blank_figure").id == "placeholder"
    # merged into the unit's findings: the checks' 表二/表三未填写 say the report marks them, with no
    # more warning per sentence; merging again changes nothing
    merged = D.merge_report_findings(unit.findings, findings)
    assert not [f for f in merged if f.rule == "D.blank_figure"]
    whole = [f for f in merged if f.rule in ("t2.blank", "t3.blank")]
    assert len(whole) == 2 and all(f.message.endswith("年度报告中已用黄色突出显示的【请填写】标出") for f in whole)
    assert D.merge_report_findings(merged, findings) == merged
    # a row left blank in a table otherwise filled keeps its own finding
    (tmp_path / "row").mkdir()
    row_unit, row_findings, _ = _workbook_report(tmp_path / "row", blank=("t3.new",))
    kept = [f for f in D.merge_report_findings(row_unit.findings, row_findings) if f.rule == "D.blank_figure"]
    assert [f.message.split("”")[0] for f in kept] == ["年度报告需要的表三“一、本年新收政府信息公开申请数量"]


def test_a_table_filled_with_zeros_still_says_未收到(tmp_path):
    zeros = dict.fromkeys(load_form("2021").tables["t3"].cells, 0)
    _, findings, d = _workbook_report(tmp_path, values=zeros)
    assert "本年度未收到政府信息公开申请。" in d.texts()
    assert not [f for f in findings if f.rule == "D.blank_figure"]


def test_the_district_report_asks_for_a_table_no_department_filled_in(tmp_path):
    """Every department left 表四 blank: the sum is blank, not 0, and the district's report says so."""
    from conftest import DISTRICT, DISTRICT_META, DISTRICT_TEXT, make_unit, unit_2021
    from gkreport.summary import summarise

    units = [unit_2021(name=f"某某区{n}局", year=2025) for n in ("甲", "乙")]
    for u in units:
        u.values.update(dict.fromkeys(u.form.tables["t4"].cells))
    own = make_unit("2021", {}, fill=None, name=DISTRICT, meta=DISTRICT_META, narrative=DISTRICT_TEXT)
    s = summarise([*units, own], DISTRICT)
    assert all(s.summed.values[c] is None for c in s.summed.form.tables["t4"].cells)
    written = D.write_district_docx(s, tmp_path)
    texts = Docx(written.path).texts()
    i = texts.index("四、政府信息公开行政复议、行政诉讼情况")
    assert texts[i + 1] == "【请填写：表四“行政复议”】；【请填写：表四“行政诉讼”】。"
    assert not any("未发生因政府信息公开引起的行政复议" in t for t in texts)
    assert [f.rule for f in written.findings] == ["D.blank_figure", "D.blank_figure"]
