"""The annual report as a Word document in the official document format (GB/T 9704-2012).

One report is built in two steps:

1. :func:`build_report` turns a unit into a list of blocks — paragraphs with a
   style and runs, and tables — in the order of the form's sections. This is
   where the wording, the generated sentences, the office's own text, the
   【请填写】 gaps and their findings come together. No Word code.
2. A renderer writes the blocks. The fast renderer (used by
   :func:`write_unit_docx`) joins prepared XML: the package parts that never
   change (styles, settings, fonts, footers) are zipped once per process, each
   table of a form is drawn once from its grid (``compiled(form).grid``) into XML chunks with a slot
   per value, and per unit only ``document.xml`` is assembled and appended to
   a copy of the prepared zip. :func:`build_plain` renders the same blocks
   through python-docx (``add_paragraph``, ``add_table``, ``row.cells`` once per
   row); tests check that both give the same document.

Page: A4, margins 37/35/28/26 mm, exact line pitch 28.95 pt (22 lines), body
3号仿宋_GB2312 condensed by 0.25 pt (28 字 per line), title 2号方正小标宋简体,
headings 黑体 / 楷体 / 仿宋, page numbers “— N —” in 4号宋体 at the right of odd
and the left of even pages. Every style names its East Asian font; there are
no theme fonts.
"""

from __future__ import annotations

import io
import itertools
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from xml.sax.saxutils import escape

from . import sentences as S
from . import zipparts
from .errors import StrictRefusal
from .fileio import atomic_write_bytes, digest_of
from .formatting import format_date, format_number, plain_name, safe_filename
from .model import WARNING, Finding, Unit
from .spec import Grid, GridCell, compiled

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument

    from .spec import Form, Section, Table
    from .summary import YearSummary

__all__ = [
    "StrictRefusal",
    "WrittenReport",
    "build_district_report",
    "build_plain",
    "build_report",
    "merge_report_findings",
    "render_docx",
    "report_docx_name",
    "summary_banner",
    "write_district_docx",
    "write_summary_docx",
    "write_unit_docx",
]

# --------------------------------------------------------------------------- page and type

PAGE_W, PAGE_H = 11906, 16838  # A4 in twips
MARGIN_TOP, MARGIN_BOTTOM, MARGIN_LEFT, MARGIN_RIGHT = 2098, 1984, 1587, 1474  # 37/35/28/26 mm
FOOTER_DIST, HEADER_DIST = 1417, 851  # 25 mm: page number centre ≈ 7 mm below the 版心
TEXT_W = PAGE_W - MARGIN_LEFT - MARGIN_RIGHT  # 版心 width, 8845 tw = 156 mm
LINE = 579  # exact line pitch in twips: 22 lines fill the 225 mm 版心
CHAR = 320  # one 字 of 3号 (16 pt) in twips

FANGSONG = "仿宋_GB2312"
HEITI = "黑体"
KAITI = "楷体_GB2312"
XIAOBIAOSONG = "方正小标宋简体"
SONGTI = "宋体"
LATIN = "Times New Roman"

# fontTable entries: where a font is missing, Word falls back to altName, then to charset/family.
FONT_FALLBACKS = {
    XIAOBIAOSONG: ("华文中宋", "roman"),
    "华文中宋": (SONGTI, "roman"),
    FANGSONG: ("仿宋", "modern"),
    "仿宋": ("FangSong", "modern"),
    KAITI: ("楷体", "script"),
    "楷体": ("KaiTi", "script"),
    HEITI: ("SimHei", "modern"),
    SONGTI: ("SimSun", "auto"),
}

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

# --------------------------------------------------------------------------- content model


@dataclass(slots=True)
class Run:
    text: str
    style: str | None = None  # character style id (GwKaiChar / GwHeiChar)
    mark: bool = False  # highlighted (a 【请填写】 gap or the 审核提示)


@dataclass(slots=True)
class Par:
    style: str  # paragraph style id
    runs: tuple[Run, ...] = ()
    page_break: bool = False
    keep_next: bool = False
    right: tuple[int, int] | None = None  # right indent: (1/100 字, twips)
    align: str | None = None  # "left" where justifying would stretch a line (long e-mail or web address)

    @property
    def text(self) -> str:
        return "".join(r.text for r in self.runs)


@dataclass(slots=True)
class TableBlock:
    spec: TableSpec
    values: dict[str, str]  # cell id → printed value ("" = blank)
    marks: frozenset[str] = frozenset()  # cells whose value is highlighted (a summary's doubtful figures)


Block = Par | TableBlock

# style id → name (python-docx looks styles up by name)
STYLE_NAMES = {"Heading1": "Heading 1", "Heading2": "Heading 2", "Heading3": "Heading 3"}


def _clean(text: str) -> str:
    """Drop characters XML cannot carry (control characters pasted from other programs)."""
    return _BAD_XML.sub("", text)


_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

# --------------------------------------------------------------------------- tables


@dataclass(frozen=True, slots=True)
class TCell:
    col: int
    span: int  # grid columns covered
    width: int  # twips
    vmerge: str | None  # "restart" / "continue" / None
    style: str
    text: str = ""
    cell_id: str | None = None
    indent: int = 0  # left indent in 1/100 字 (list layout: by tree level)
    indent_tw: int = 0
    hole: bool = False  # a grid position no official cell covers (list layout: unit/value of a heading)


@dataclass(frozen=True)
class TableSpec:
    """One official table drawn once: widths, styles and merges of every cell."""

    table_id: str
    grid: Grid
    widths: tuple[int, ...]
    rows: tuple[tuple[TCell, ...], ...]
    header_rows: int  # rows at the top that repeat on every page (w:tblHeader)
    small: bool
    cell_margin: int
    row_height: int
    keep_rows: frozenset[int] = frozenset()  # rows kept on the page of the next row (w:keepNext)

    @property
    def size(self) -> str:
        return "S" if self.small else "M"

    def tbl_pr(self) -> str:
        border = '<w:{0} w:val="single" w:sz="{1}" w:space="0" w:color="000000"/>'
        borders = "".join(
            border.format(side, 8 if side in ("top", "left", "bottom", "right") else 4)
            for side in ("top", "left", "bottom", "right", "insideH", "insideV")
        )
        m = self.cell_margin
        return (
            f'<w:tblPr xmlns:w="{W_NS}"><w:tblW w:w="{sum(self.widths)}" w:type="dxa"/><w:jc w:val="center"/>'
            f'<w:tblBorders>{borders}</w:tblBorders><w:tblLayout w:type="fixed"/>'
            f'<w:tblCellMar><w:top w:w="28" w:type="dxa"/><w:left w:w="{m}" w:type="dxa"/>'
            f'<w:bottom w:w="28" w:type="dxa"/><w:right w:w="{m}" w:type="dxa"/></w:tblCellMar>'
            '<w:tblLook w:val="04A0" w:firstRow="1" w:lastRow="0" w:firstColumn="1" w:lastColumn="0" '
            'w:noHBand="0" w:noVBand="1"/></w:tblPr>'
        )


def _widths(g: Grid, small: bool) -> list[int]:
    t = g.table
    n, labels = g.n_cols, g.label_cols
    if t.layout == "list":
        unit_w = 1000 if t.unit_header else 0
        value_w = 1300
        nv = n - (2 if t.unit_header else 1)
        widths = [TEXT_W - unit_w - value_w * nv] + ([unit_w] if t.unit_header else []) + [value_w] * nv
    elif t.layout == "blocks":
        first = round(TEXT_W * 0.28)
        rest = (TEXT_W - first) // (n - 1)
        widths = [first] + [rest] * (n - 1)
    elif labels == 0:
        widths = [TEXT_W // n] * n
    else:
        nv = n - labels
        char = 210 if small else 240
        v = max(2 * char + 150, min(3 * char + 150, round(TEXT_W * 0.45 / nv)))
        fixed = [3 * char + 130] + [7 * char + 130] * (labels - 2) if labels > 1 else []
        widths = fixed + [TEXT_W - sum(fixed) - v * nv] + [v] * nv
    widths[-1] += TEXT_W - sum(widths)
    return widths


def _cell_style(c: GridCell, table: Table, size: str) -> tuple[str, int]:
    """Paragraph style of a grid cell and its left indent in 1/100 字."""
    if c.kind in ("header", "caption"):
        return f"GwTblHead{size}", 0
    if c.kind == "label":
        if table.layout == "list":
            return (f"GwTblLabelHead{size}", 0) if c.level == 0 else (f"GwTblLabel{size}", 100 * c.level)
        if table.layout == "blocks" or c.rowspan > 1:
            return f"GwTblText{size}", 0
        return f"GwTblLabel{size}", 0
    return f"GwTblText{size}", 0


_SPECS: dict[tuple[str, str], TableSpec] = {}
_CHUNKS: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...]]] = {}
_CELL_IDS: dict[tuple[str, str], tuple[str, ...]] = {}  # the value cells of a table's grid, in grid order


def table_spec(form: Form, table_id: str) -> TableSpec:
    """The drawn table, cached per form spec (forms are data; their hash names the version)."""
    key = (form.spec_hash, table_id)
    spec = _SPECS.get(key)
    if spec is None:
        spec = _SPECS[key] = _make_spec(form, table_id)
    return spec


def _make_spec(form: Form, table_id: str) -> TableSpec:
    table = form.tables[table_id]
    g = compiled(form).grid(table_id)
    small = g.n_cols > 6
    size = "S" if small else "M"
    char_tw = 210 if small else 240
    widths = _widths(g, small)
    by_row = g.rows()
    # vertical merges: grid position → origin cell covering it from above
    below: dict[tuple[int, int], GridCell] = {}
    for c in g.cells:
        for r in range(c.row + 1, c.row + c.rowspan):
            below[(r, c.col)] = c
    rows = []
    for r in range(g.n_rows):
        origins = {c.col: c for c in by_row[r]}
        out = []
        col = 0
        while col < g.n_cols:
            if col in origins:
                c = origins[col]
                style, indent = _cell_style(c, table, size)
                text = "" if c.kind == "value" else c.text
                out.append(
                    TCell(
                        col,
                        c.colspan,
                        sum(widths[col : col + c.colspan]),
                        "restart" if c.rowspan > 1 else None,
                        style,
                        _clean(text),
                        c.cell_id,
                        indent,
                        indent * char_tw // 100,
                    )
                )
                col += c.colspan
            elif (r, col) in below:
                o = below[(r, col)]
                style, _ = _cell_style(o, table, size)
                out.append(TCell(col, o.colspan, sum(widths[col : col + o.colspan]), "continue", style))
                col += o.colspan
            else:  # a hole in the grid: keep the row rectangular
                out.append(TCell(col, 1, widths[col], None, f"GwTblText{size}", hole=True))
                col += 1
        rows.append(tuple(out))
    header_rows = max(g.header_rows, _lead_rows(g))
    row_height = 340 if small else 400
    return TableSpec(
        table_id,
        g,
        tuple(widths),
        tuple(rows),
        header_rows,
        small,
        57 if small else 85,
        row_height,
        _keep_rows(g, header_rows, row_height),
    )


def _lead_rows(g: Grid) -> int:
    """Rows at the top made only of headers and captions (表二: 第二十条第（一）项 and its header)."""
    n = 0
    for row in g.rows():
        if not row or any(c.kind not in ("corner", "header", "caption") for c in row):
            break
        n += 1
    return n


BODY_H = PAGE_H - MARGIN_TOP - MARGIN_BOTTOM


def _keep_rows(g: Grid, header_rows: int, row_height: int) -> frozenset[int]:
    """Rows that keep with the next one. A table of up to half a page stays whole; a longer one keeps
    its header rows, each caption, header and heading row inside it and its last two rows together,
    so that no header and no single row stands alone at the foot or head of a page. The last row
    keeps with the paragraph after the table (a note, the 填报 lines), which never stands alone."""
    n = g.n_rows
    if n * row_height <= BODY_H // 2:
        return frozenset(range(n))
    keep = set(range(header_rows))
    # captions and headers inside the table (表二's 第二十条 blocks), rows without a value (统计表's 三、依申请公开情况)
    keep.update(r for r, row in enumerate(g.rows()) if row and not any(c.cell_id for c in row))
    keep.update((n - 2, n - 1))  # the last row keeps with the one before it and with what follows the table
    return frozenset(k for k in keep if 0 <= k < n)


def _printed(v: Any) -> str:
    return "" if v is None else format_number(v)


# --------------------------------------------------------------------------- building the report


_H1 = re.compile(r"^[一二三四五六七八九十]{1,3}、")
_H2 = re.compile(r"^（[一二三四五六七八九十]{1,3}）")
_H3 = re.compile(r"^\d{1,2}[.．](?!\d)")
_RUN_STYLE = {1: "GwHeiChar", 2: "GwKaiChar", 3: None}


def narrative_pars(text: str, skip: Iterable[str] = ()) -> list[Par]:
    """An office's text as paragraphs; lines numbered 一、/（一）/1. become headings.

    A numbered line that goes on after its first sentence (“（一）强化了工作机制。每季度…”) keeps
    the heading font for that sentence only, as 公文 do.
    """
    skip_set = {S.squash(s) for s in skip}
    out: list[Par] = []
    for i, para in enumerate(S.split_paragraphs(text)):
        para = _clean(para)
        if i == 0 and S.squash(para).rstrip("：:") in skip_set:
            continue  # the office repeated the section heading
        level = 1 if _H1.match(para) else 2 if _H2.match(para) else 3 if _H3.match(para) else 0
        if not level:
            out.append(_body((Run(para),)))
            continue
        cut = para.find("。")
        if (cut == -1 or cut == len(para) - 1) and len(para) <= 40:
            out.append(Par(f"Heading{level}", (Run(para),)))
        elif 0 < cut < 60 and cut < len(para) - 1:
            out.append(_body((Run(para[: cut + 1], _RUN_STYLE[level]), Run(para[cut + 1 :]))))
        else:
            out.append(_body((Run(para),)))
    return out


_LONG_LATIN = re.compile(r"[!-~]{16,}")


def _body(runs: tuple[Run, ...], style: str = "GwBody") -> Par:
    """A body paragraph; left-aligned when it holds an unbreakable Latin string (e-mail, web address)
    that would otherwise leave the line before it stretched with wide gaps."""
    text = "".join(r.text for r in runs)
    return Par(style, runs, align="left" if _LONG_LATIN.search(text) else None)


def _pieces_par(paragraph: S.Paragraph, gaps: list[S.Gap], style: str = "GwBody") -> Par:
    runs = []
    for piece in paragraph:
        if isinstance(piece, S.Gap):
            gaps.append(piece)
            runs.append(Run(piece.text, mark=True))
        elif piece:
            runs.append(Run(_clean(piece)))
    return _body(tuple(runs), style)


def _right_indent(chars: float) -> tuple[int, int]:
    return round(chars * 100), round(chars * CHAR)


def _line_width(text: str) -> float:
    """Printed width in 字: Chinese 1, digits and Latin ½, plus the ~0.2 字 that Word and LibreOffice
    put between Chinese and digits (“2018年3月12日” is 6.5 字 of glyphs and about 7.5 字 printed)."""
    width = S.visual_width(text)
    wide = [ord(ch) >= 0x2E80 for ch in text]
    return width + 0.2 * sum(1 for a, b in itertools.pairwise(wide) if a != b)


def _signature(signer: str, date_text: str) -> tuple[Par, Par]:
    """署名 and 成文日期 without a seal (GB/T 9704 7.3.5.2): the signer 右空二字, the date one line
    below with its first character two 字 right of the signer's first character."""
    ws, wd = _line_width(signer), _line_width(date_text)
    rs = 2.0
    rd = rs + ws - 2 - wd
    if rd < 2:  # a short signer: keep the date 右空二字 and move the signer left
        rd = 2.0
        rs = rd - ws + 2 + wd
    sign = Par("GwSign", (Run(signer),), keep_next=True, right=_right_indent(rs))
    return sign, Par("GwSign", (Run(date_text),), right=_right_indent(rd))


@dataclass
class Report:
    """A report ready to render: its blocks, title and the gaps it left."""

    blocks: list[Block]
    title: str
    author: str
    gaps: list[S.Gap] = field(default_factory=list)


def build_report(
    unit: Unit,
    wording: S.Wording | Path | str | None = None,
    *,
    error_count: int | None = None,
    error_units: int | None = None,
    banner: Sequence[str] = (),
    doubt: Mapping[str, Sequence[int]] | None = None,
) -> Report:
    """The blocks of one unit's report (no findings are added here; see ``gap_findings``).

    A summary's report (``error_units`` given) may add ``banner`` lines under its 审核提示 and
    ``doubt``: cell id → numbers of the banner lines that make its figure doubtful; such a
    figure is highlighted in the tables (with a note under the table) and marked in the
    sentences that state it.
    """
    w = wording if isinstance(wording, S.Wording) else S.load_wording(unit.form, wording)
    form = unit.form
    gaps: list[S.Gap] = []
    blocks: list[Block] = []
    errors = len(unit.errors) if error_count is None else error_count
    head = S.error_banner(w, unit, errors, error_units) if errors else ""
    if not head and banner:
        head = w.fmt("summary_banner", unit)
    if head:
        blocks.append(Par("GwAlert", (Run(head, mark=True),)))
    for line in banner:
        blocks.append(Par("GwAlertItem", (Run(_clean(line)),)))
    title = S.report_title(unit, w)
    blocks.append(Par("Title", (Run(_clean(title)),)))
    blocks.append(Par("Normal"))
    for p in S.opening(unit, w):
        blocks.append(_pieces_par(p, gaps))

    attachments: list[Section] = []
    ctx = w.context(unit)
    fig = S.Figures(unit, subtotals_first=doubt is not None)  # one for the report: row totals once
    for section in form.sections:
        if section.id == w.opening_section:
            continue  # its text opens the report (see sentences.opening)
        if section.kind == "table" and section.heading.startswith("附件"):
            attachments.append(section)
            continue
        blocks.append(Par("Heading1", (Run(section.heading),)))
        content = S.compose(unit, section, w, ctx, doubt, fig)
        for p in content.before:
            blocks.append(_pieces_par(p, gaps))
        own_pars = narrative_pars(content.own, (section.heading, S.section_title(section.heading), *section.aliases))
        if own_pars:
            blocks.extend(own_pars)
        elif section.kind == "text" and not content.merged:
            if content.default:
                blocks.append(Par("GwBody", (Run(_clean(content.default)),)))
            elif section.required:
                g = S.gap(w, unit, S.section_title(section.heading), section.id, "D.narrative")
                blocks.append(_pieces_par([g], gaps))
        for p in content.after:
            blocks.append(_pieces_par(p, gaps))
        if section.kind == "table" and section.table in form.tables:
            if isinstance(blocks[-1], Par):
                blocks[-1].keep_next = True  # the heading or sentence stays with the table's first rows
            block = _table_block(unit, section.table, doubt)
            blocks.append(block)
            if block.marks and doubt:
                refs = sorted({n for c in block.marks for n in doubt.get(c, ())})
                note = w.fmt("doubt_note", unit, refs="、".join(map(str, refs)))
                if note:
                    blocks.append(Par("GwTblNote", (Run(note),)))
            blocks.append(Par("Normal"))

    # 附件说明, 署名, 成文日期, 附注 — kept with the last paragraph of the text, so that they never
    # stand alone on a page (GB/T 9704 7.3.5.5)
    if isinstance(blocks[-1], Par):
        blocks[-1].keep_next = True
    titles = [form.tables[s.table].title_for(unit.year) for s in attachments if s.table in form.tables]
    if titles:
        blocks.append(Par("Normal", keep_next=True))
        for i, title_text in enumerate(titles):
            name = f"{i + 1}.{title_text}" if len(titles) > 1 else title_text
            blocks.append(
                Par("GwBody", (Run(w.fmt("attachment.note", unit, title=name) or f"附件：{name}"),), keep_next=True)
            )
    blocks.append(Par("Normal", keep_next=True))
    signer = str(unit.meta.get("signer") or S.unit_name(unit))
    date_text = format_date(unit.meta.get("date_written"))
    if date_text is None:
        label = "成文日期"
        try:
            label = form.field("date_written").label
        except KeyError:
            pass
        g = S.gap(w, unit, label, "date_written", "D.meta")
        gaps.append(g)
        sign, date_par = _signature(signer, g.text)
        date_par = Par("GwSign", (Run(g.text, mark=True),), right=date_par.right)
    else:
        sign, date_par = _signature(signer, date_text)
    blocks += [sign, date_par]
    note = w.fmt("public_note", unit)
    if note:
        date_par.keep_next = True
        blocks.append(Par("GwBody", (Run(note),)))

    for i, section in enumerate(attachments):
        t = form.tables[section.table or ""]
        label = w.fmt("attachment.label", unit) or "附件"
        if len(attachments) > 1:
            label += str(i + 1)
        blocks.append(Par("GwAttach", (Run(label),), page_break=True))
        blocks.append(Par("Normal"))
        blocks.append(Par("Title", (Run(t.title_for(unit.year)),)))
        if t.subtitle:
            blocks.append(Par("GwCenter", (Run(t.subtitle),), keep_next=True))
        unit_line = w.fmt("attachment.unit_line", unit) or f"单位名称：{S.unit_name(unit)}"
        blocks.append(Par("GwPlain", (Run(_clean(unit_line)),), keep_next=True))
        blocks.append(_table_block(unit, t.id))
        notes = [t.footnote] if t.footnote else []
        notes += S.attachment_signoff(unit, w)
        for k, line in enumerate(notes):  # the note and the 填报 lines stay together, under the table
            blocks.append(Par("GwTblNote", (Run(_clean(line)),), keep_next=k < len(notes) - 1))
    if isinstance(blocks[-1], TableBlock):
        blocks.append(Par("Normal"))  # Word wants the body to end with a paragraph
    return Report(blocks, title.replace("\n", ""), S.unit_name(unit), gaps)


def _table_block(unit: Unit, table_id: str, doubt: Mapping[str, Sequence[int]] | None = None) -> TableBlock:
    spec = table_spec(unit.form, table_id)
    key = (unit.form.spec_hash, table_id)
    ids = _CELL_IDS.get(key)
    if ids is None:
        ids = _CELL_IDS[key] = tuple(c.cell_id for c in spec.grid.cells if c.cell_id)
    values = unit.values
    shown = {}
    for cid in ids:
        v = values.get(cid)
        shown[cid] = str(v) if type(v) is int else _printed(v)  # a count, as most are: what format_number gives
    marks = frozenset(c for c in shown if doubt and doubt.get(c)) if doubt else frozenset()
    return TableBlock(spec, shown, marks)


def gap_findings(unit: Unit, gaps: Sequence[S.Gap]) -> list[Finding]:
    out = []
    for g in gaps:
        if g.rule == "SUM.doubt":  # a summary's doubtful figure: its finding is the summary's own
            continue
        if g.rule == S.BLANK_RULE:  # a table's figures left blank: where to fill them in
            msg = (
                f"年度报告需要的{g.what}未填写（空白不等于 0，没有发生的事项请填 0），"
                "报告中没有把它当作 0，已用黄色突出显示的【请填写】标出，请补填后再印发。"
            )
            cell = next((c for c in g.cells if c in unit.locations), None)
            out.append(
                Finding(
                    rule=g.rule,
                    severity=WARNING,
                    message=msg,
                    table=unit.form.cell(cell).table if cell else None,
                    cells=(unit.ref(cell),) if cell else (),
                    cell_ids=(cell,) if cell else (),
                )
            )
            continue
        if g.rule == "D.narrative":
            msg = (
                f"年度报告“{g.what}”部分没有填写文字内容，报告中已用黄色突出显示的【请填写】标出，"
                "请在统计表的文字部分补写，或在报告中补写后再印发。"
            )
        else:
            msg = f"年度报告需要的“{g.what}”没有填写，报告中已用黄色突出显示的【请填写】标出，请补填后再印发。"
        loc = unit.narrative_locations.get(g.field) or unit.meta_locations.get(g.field)
        out.append(Finding(rule=g.rule, severity=WARNING, message=msg, cells=(f"{loc[0]}!{loc[1]}",) if loc else ()))
    return out


_MARKED = "；年度报告中已用黄色突出显示的【请填写】标出"


def merge_report_findings(findings: Sequence[Finding], report: Iterable[Finding]) -> list[Finding]:
    """The unit's findings with those of its report added, each once.

    Where the check engine already named the missing sections (D1), that finding says where the
    report marks them (a new Finding; the given ones are not changed) instead of a second warning.
    Merging the same report findings again changes nothing.
    """
    out = list(findings)
    report = list(report)
    d1 = next((i for i, f in enumerate(out) if f.rule == "D1"), None)
    if d1 is not None and any(f.rule == "D.narrative" for f in report):
        if _MARKED not in out[d1].message:
            out[d1] = replace(out[d1], message=out[d1].message + _MARKED)
        report = [f for f in report if f.rule != "D.narrative"]
    # a table the checks already call 未填写 as a whole ({table}.blank): that finding says the report
    # marks it, instead of one more warning for each of its sentences
    for i, f in enumerate(out):
        if f.table and f.rule == f"{f.table}.blank":
            mine = [g for g in report if g.rule == S.BLANK_RULE and g.table == f.table]
            if mine:
                if _MARKED not in f.message:
                    out[i] = replace(f, message=f.message + _MARKED)
                report = [g for g in report if g not in mine]
    seen = {(f.rule, f.message) for f in out}
    for f in report:
        if (f.rule, f.message) not in seen:
            out.append(f)
            seen.add((f.rule, f.message))
    return out


# --------------------------------------------------------------------------- package parts


def _fonts(east: str, latin: str | None = None, hint: bool = False) -> str:
    latin = latin or east
    h = ' w:hint="eastAsia"' if hint else ""
    return f'<w:rFonts w:ascii="{latin}" w:hAnsi="{latin}" w:eastAsia="{east}" w:cs="{latin}"{h}/>'


def _style(
    kind: str,
    sid: str,
    name: str,
    *,
    based: str | None = "Normal",
    next_: str | None = None,
    ppr: str = "",
    rpr: str = "",
    custom: bool = True,
    default: bool = False,
    outline: int | None = None,
    ui: int | None = None,
) -> str:
    attrs = f' w:type="{kind}"' + (' w:default="1"' if default else "") + (' w:customStyle="1"' if custom else "")
    parts = [f'<w:style{attrs} w:styleId="{sid}"><w:name w:val="{name}"/>']
    if based:
        parts.append(f'<w:basedOn w:val="{based}"/>')
    if next_:
        parts.append(f'<w:next w:val="{next_}"/>')
    if ui is not None:
        parts.append(f'<w:uiPriority w:val="{ui}"/>')
    parts.append("<w:qFormat/>")
    if outline is not None:
        ppr += f'<w:outlineLvl w:val="{outline}"/>'
    if ppr:
        parts.append(f"<w:pPr>{ppr}</w:pPr>")
    if rpr:
        parts.append(f"<w:rPr>{rpr}</w:rPr>")
    parts.append("</w:style>")
    return "".join(parts)


def _spacing(line: int, rule: str = "exact") -> str:
    return f'<w:spacing w:before="0" w:after="0" w:line="{line}" w:lineRule="{rule}"/>'


_IND_BODY = '<w:ind w:firstLineChars="200" w:firstLine="640"/>'
_IND_NONE = '<w:ind w:firstLineChars="0" w:firstLine="0"/>'


def _styles_xml() -> str:
    def sz(hp):
        return f'<w:sz w:val="{hp}"/><w:szCs w:val="{hp}"/>'

    body_fonts = _fonts(FANGSONG, LATIN)
    styles = [
        _style(
            "paragraph",
            "Normal",
            "Normal",
            based=None,
            custom=False,
            default=True,
            ppr=f'<w:widowControl w:val="0"/>{_spacing(LINE)}<w:jc w:val="both"/>',
            rpr=f'{body_fonts}<w:spacing w:val="-5"/>{sz(32)}',
        ),
        (
            '<w:style w:type="character" w:default="1" w:styleId="DefaultParagraphFont">'
            '<w:name w:val="Default Paragraph Font"/><w:uiPriority w:val="1"/><w:semiHidden/><w:unhideWhenUsed/>'
            "</w:style>"
        ),
        (
            '<w:style w:type="table" w:default="1" w:styleId="TableNormal"><w:name w:val="Normal Table"/>'
            '<w:uiPriority w:val="99"/><w:semiHidden/><w:unhideWhenUsed/><w:tblPr><w:tblInd w:w="0" w:type="dxa"/>'
            '<w:tblCellMar><w:top w:w="0" w:type="dxa"/><w:left w:w="108" w:type="dxa"/>'
            '<w:bottom w:w="0" w:type="dxa"/><w:right w:w="108" w:type="dxa"/></w:tblCellMar></w:tblPr></w:style>'
        ),
        (
            '<w:style w:type="numbering" w:default="1" w:styleId="NoList"><w:name w:val="No List"/>'
            '<w:uiPriority w:val="99"/><w:semiHidden/><w:unhideWhenUsed/></w:style>'
        ),
        _style("paragraph", "GwBody", "GwBody", next_="GwBody", ppr=_IND_BODY),
        _style(
            "paragraph",
            "Title",
            "Title",
            custom=False,
            next_="Normal",
            ui=10,
            ppr=f'<w:keepNext/>{_spacing(700)}{_IND_NONE}<w:jc w:val="center"/>',
            rpr=f'{_fonts(XIAOBIAOSONG)}<w:b w:val="0"/><w:bCs w:val="0"/>{sz(44)}',
        ),
        _style(
            "paragraph",
            "Heading1",
            "heading 1",
            custom=False,
            next_="GwBody",
            ui=9,
            outline=0,
            ppr=f"<w:keepNext/>{_spacing(LINE)}{_IND_BODY}",
            rpr=f'{_fonts(HEITI)}<w:b w:val="0"/><w:bCs w:val="0"/>{sz(32)}',
        ),
        _style(
            "paragraph",
            "Heading2",
            "heading 2",
            custom=False,
            next_="GwBody",
            ui=9,
            outline=1,
            ppr=f"<w:keepNext/>{_spacing(LINE)}{_IND_BODY}",
            rpr=f'{_fonts(KAITI)}<w:b w:val="0"/><w:bCs w:val="0"/>{sz(32)}',
        ),
        _style(
            "paragraph",
            "Heading3",
            "heading 3",
            custom=False,
            next_="GwBody",
            ui=9,
            outline=2,
            ppr=f"<w:keepNext/>{_spacing(LINE)}{_IND_BODY}",
            rpr=f'{_fonts(FANGSONG, LATIN)}<w:b w:val="0"/><w:bCs w:val="0"/>{sz(32)}',
        ),
        _style("paragraph", "GwPlain", "GwPlain", ppr=f'{_IND_NONE}<w:jc w:val="left"/>'),
        _style("paragraph", "GwCenter", "GwCenter", ppr=f'{_IND_NONE}<w:jc w:val="center"/>'),
        _style("paragraph", "GwSign", "GwSign", ppr=f'{_IND_NONE}<w:jc w:val="right"/>'),
        _style("paragraph", "GwAttach", "GwAttach", ppr=f'{_IND_NONE}<w:jc w:val="left"/>', rpr=_fonts(HEITI)),
        _style(
            "paragraph",
            "GwAlert",
            "GwAlert",
            ppr=f'{_IND_NONE}<w:jc w:val="center"/>',
            rpr=f'{_fonts(HEITI)}<w:b/><w:bCs/><w:color w:val="FF0000"/>{sz(28)}',
        ),
        _style(
            "paragraph",
            "GwAlertItem",
            "GwAlertItem",
            ppr=f'{_spacing(400)}<w:ind w:left="420" w:hanging="420"/><w:jc w:val="left"/>',
            rpr=f'{_fonts(FANGSONG, LATIN)}<w:color w:val="FF0000"/><w:spacing w:val="0"/>{sz(24)}',
        ),
        _style(
            "paragraph",
            "Footer",
            "footer",
            custom=False,
            ui=99,
            ppr=f"{_spacing(240, 'auto')}{_IND_NONE}",
            rpr=f'{_fonts(SONGTI)}<w:spacing w:val="0"/>{sz(28)}',
        ),
        _style("character", "GwHeiChar", "GwHeiChar", based="DefaultParagraphFont", rpr=_fonts(HEITI)),
        _style("character", "GwKaiChar", "GwKaiChar", based="DefaultParagraphFont", rpr=_fonts(KAITI)),
    ]
    for size, hp, line in (("S", 21, 280), ("M", 24, 340)):
        base = f"{_spacing(line)}{_IND_NONE}"
        styles += [
            _style(
                "paragraph",
                f"GwTblHead{size}",
                f"GwTblHead{size}",
                ppr=f'{base}<w:jc w:val="center"/>',
                rpr=f'{_fonts(HEITI)}<w:spacing w:val="0"/>{sz(hp)}',
            ),
            _style(
                "paragraph",
                f"GwTblText{size}",
                f"GwTblText{size}",
                ppr=f'{base}<w:jc w:val="center"/>',
                rpr=f'{body_fonts}<w:spacing w:val="0"/>{sz(hp)}',
            ),
            _style(
                "paragraph",
                f"GwTblLabel{size}",
                f"GwTblLabel{size}",
                ppr=f'{base}<w:jc w:val="left"/>',
                rpr=f'{body_fonts}<w:spacing w:val="0"/>{sz(hp)}',
            ),
            _style(
                "paragraph",
                f"GwTblLabelHead{size}",
                f"GwTblLabelHead{size}",
                ppr=f'{base}<w:jc w:val="left"/>',
                rpr=f'{_fonts(HEITI)}<w:spacing w:val="0"/>{sz(hp)}',
            ),
        ]
    styles.append(
        _style(
            "paragraph",
            "GwTblNote",
            "GwTblNote",
            ppr=f'{_spacing(340)}{_IND_NONE}<w:jc w:val="left"/>',
            rpr=f'{body_fonts}<w:spacing w:val="0"/>{sz(24)}',
        )
    )
    defaults = (
        f"<w:docDefaults><w:rPrDefault><w:rPr>{body_fonts}{sz(32)}"
        '<w:lang w:val="en-US" w:eastAsia="zh-CN" w:bidi="ar-SA"/></w:rPr></w:rPrDefault>'
        f"<w:pPrDefault><w:pPr>{_spacing(LINE)}</w:pPr></w:pPrDefault></w:docDefaults>"
    )
    return f'{XML_DECL}<w:styles xmlns:w="{W_NS}">{defaults}{"".join(styles)}</w:styles>'


def _settings_xml() -> str:
    return (
        f'{XML_DECL}<w:settings xmlns:w="{W_NS}"><w:zoom w:percent="100"/>'
        '<w:defaultTabStop w:val="420"/><w:evenAndOddHeaders/>'
        '<w:characterSpacingControl w:val="doNotCompress"/>'
        '<w:compat><w:compatSetting w:name="compatibilityMode" w:uri="http://schemas.microsoft.com/office/word" '
        'w:val="15"/></w:compat></w:settings>'
    )


def _font_table_xml() -> str:
    fonts = []
    for name, (alt, fam) in FONT_FALLBACKS.items():
        fonts.append(
            f'<w:font w:name="{name}"><w:altName w:val="{alt}"/><w:charset w:val="86"/>'
            f'<w:family w:val="{fam}"/><w:pitch w:val="variable"/></w:font>'
        )
    fonts.append(
        f'<w:font w:name="{LATIN}"><w:panose1 w:val="02020603050405020304"/><w:charset w:val="00"/>'
        '<w:family w:val="roman"/><w:pitch w:val="variable"/></w:font>'
    )
    return f'{XML_DECL}<w:fonts xmlns:w="{W_NS}">{"".join(fonts)}</w:fonts>'


def _footer_xml(odd: bool) -> str:
    """“— N —” in 4号宋体: odd pages at the right, even pages at the left, one 字 in from the edge."""
    ind = '<w:ind w:rightChars="100" w:right="280"/>' if odd else '<w:ind w:leftChars="100" w:left="280"/>'
    jc = "right" if odd else "left"
    dash = '<w:r><w:rPr><w:rFonts w:hint="eastAsia"/></w:rPr><w:t xml:space="preserve">{}</w:t></w:r>'
    field_runs = (
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        '<w:r><w:instrText xml:space="preserve"> PAGE </w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>1</w:t></w:r>'
        '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
    )
    return (
        f'{XML_DECL}<w:ftr xmlns:w="{W_NS}" xmlns:r="{R_NS}"><w:p><w:pPr><w:pStyle w:val="Footer"/>'
        f'{ind}<w:jc w:val="{jc}"/></w:pPr>{dash.format("— ")}{field_runs}{dash.format(" —")}</w:p></w:ftr>'
    )


SECT_PR = (
    f'<w:sectPr><w:footerReference w:type="default" r:id="rIdFooterOdd"/>'
    f'<w:footerReference w:type="even" r:id="rIdFooterEven"/>'
    f'<w:pgSz w:w="{PAGE_W}" w:h="{PAGE_H}"/>'
    f'<w:pgMar w:top="{MARGIN_TOP}" w:right="{MARGIN_RIGHT}" w:bottom="{MARGIN_BOTTOM}" '
    f'w:left="{MARGIN_LEFT}" w:header="{HEADER_DIST}" w:footer="{FOOTER_DIST}" w:gutter="0"/>'
    f'<w:cols w:space="425"/><w:docGrid w:linePitch="{LINE}"/></w:sectPr>'
)
DOC_HEAD = f'{XML_DECL}<w:document xmlns:w="{W_NS}" xmlns:r="{R_NS}"><w:body>'
DOC_TAIL = f"{SECT_PR}</w:body></w:document>"

_CT = "application/vnd.openxmlformats-officedocument.wordprocessingml."
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"


def _static_parts() -> dict[str, str]:
    overrides = [
        ("/word/document.xml", _CT + "document.main+xml"),
        ("/word/styles.xml", _CT + "styles+xml"),
        ("/word/settings.xml", _CT + "settings+xml"),
        ("/word/fontTable.xml", _CT + "fontTable+xml"),
        ("/word/footer1.xml", _CT + "footer+xml"),
        ("/word/footer2.xml", _CT + "footer+xml"),
        ("/docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml"),
        ("/docProps/app.xml", "application/vnd.openxmlformats-officedocument.extended-properties+xml"),
    ]
    types = "".join(f'<Override PartName="{p}" ContentType="{t}"/>' for p, t in overrides)
    content_types = (
        f'{XML_DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        f'<Default Extension="xml" ContentType="application/xml"/>{types}</Types>'
    )
    pkg_rels = (
        f'{XML_DECL}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{_REL}officeDocument" Target="word/document.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/'
        'metadata/core-properties" Target="docProps/core.xml"/>'
        f'<Relationship Id="rId3" Type="{_REL}extended-properties" Target="docProps/app.xml"/>'
        "</Relationships>"
    )
    doc_rels = (
        f'{XML_DECL}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rIdStyles" Type="{_REL}styles" Target="styles.xml"/>'
        f'<Relationship Id="rIdSettings" Type="{_REL}settings" Target="settings.xml"/>'
        f'<Relationship Id="rIdFonts" Type="{_REL}fontTable" Target="fontTable.xml"/>'
        f'<Relationship Id="rIdFooterOdd" Type="{_REL}footer" Target="footer1.xml"/>'
        f'<Relationship Id="rIdFooterEven" Type="{_REL}footer" Target="footer2.xml"/>'
        "</Relationships>"
    )
    app = (
        f'{XML_DECL}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
        "<Application>gkreport</Application></Properties>"
    )
    return {
        "[Content_Types].xml": content_types,
        "_rels/.rels": pkg_rels,
        "word/_rels/document.xml.rels": doc_rels,
        "word/styles.xml": _styles_xml(),
        "word/settings.xml": _settings_xml(),
        "word/fontTable.xml": _font_table_xml(),
        "word/footer1.xml": _footer_xml(True),
        "word/footer2.xml": _footer_xml(False),
        "docProps/app.xml": app,
    }


def _core_xml(title: str, author: str) -> str:
    return (
        f'{XML_DECL}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
        'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{escape(_clean(title))}</dc:title><dc:creator>{escape(_clean(author))}</dc:creator>"
        "</cp:coreProperties>"
    )


_ZIP_DATE = (2000, 1, 1, 0, 0, 0)  # fixed: the same report gives the same bytes


def _zip_add(zf: zipfile.ZipFile, name: str, data: str) -> None:
    info = zipfile.ZipInfo(name, _ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data.encode("utf-8"), compresslevel=6)


@lru_cache(maxsize=1)
def _static_zip() -> bytes:
    """The package parts every report shares, zipped once per process."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in _static_parts().items():
            _zip_add(zf, name, data)
    return buf.getvalue()


# --------------------------------------------------------------------------- fast renderer


def _run_xml(run: Run) -> str:
    rpr = ""
    if run.style or run.mark:
        rpr = (
            "<w:rPr>"
            + (f'<w:rStyle w:val="{run.style}"/>' if run.style else "")
            + ('<w:highlight w:val="yellow"/>' if run.mark else "")
            + "</w:rPr>"
        )
    text = "<w:br/>".join(f'<w:t xml:space="preserve">{escape(line)}</w:t>' for line in run.text.split("\n"))
    return f"<w:r>{rpr}{text}</w:r>"


def _par_xml(p: Par) -> str:
    ppr = f'<w:pStyle w:val="{p.style}"/>'
    if p.keep_next:
        ppr += "<w:keepNext/>"
    if p.page_break:
        ppr += "<w:pageBreakBefore/>"
    if p.right:
        ppr += f'<w:ind w:rightChars="{p.right[0]}" w:right="{p.right[1]}"/>'
    if p.align:
        ppr += f'<w:jc w:val="{p.align}"/>'
    return f"<w:p><w:pPr>{ppr}</w:pPr>{''.join(_run_xml(r) for r in p.runs)}</w:p>"


def _table_chunks(form: Form, table_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The table's XML split at its value runs: chunks[0] v0 chunks[1] v1 … chunks[n] (cached)."""
    key = (form.spec_hash, table_id)
    got = _CHUNKS.get(key)
    if got is None:
        got = _CHUNKS[key] = _make_chunks(table_spec(form, table_id))
    return got


def _make_chunks(spec: TableSpec) -> tuple[tuple[str, ...], tuple[str, ...]]:
    chunks: list[str] = []
    slots: list[str] = []
    cur = ["<w:tbl>", spec.tbl_pr().replace(f' xmlns:w="{W_NS}"', ""), "<w:tblGrid>"]
    cur += [f'<w:gridCol w:w="{w}"/>' for w in spec.widths]
    cur.append("</w:tblGrid>")
    for r, row in enumerate(spec.rows):
        head = "<w:tblHeader/>" if r < spec.header_rows else ""
        keep = "<w:keepNext/>" if r in spec.keep_rows else ""
        cur.append(f'<w:tr><w:trPr><w:cantSplit/><w:trHeight w:val="{spec.row_height}"/>{head}</w:trPr>')
        for c in row:
            tcpr = f'<w:tcW w:w="{c.width}" w:type="dxa"/>'
            if c.span > 1:
                tcpr += f'<w:gridSpan w:val="{c.span}"/>'
            if c.vmerge == "restart":
                tcpr += '<w:vMerge w:val="restart"/>'
            elif c.vmerge == "continue":
                tcpr += "<w:vMerge/>"
            tcpr += '<w:vAlign w:val="center"/>'
            ppr = f'<w:pStyle w:val="{c.style}"/>' + keep
            if c.indent:
                ppr += f'<w:ind w:leftChars="{c.indent}" w:left="{c.indent_tw}"/>'
            cur.append(f"<w:tc><w:tcPr>{tcpr}</w:tcPr><w:p><w:pPr>{ppr}</w:pPr>")
            if c.cell_id:
                chunks.append("".join(cur))
                slots.append(c.cell_id)
                cur = []
            elif c.text:
                cur.append(f'<w:r><w:t xml:space="preserve">{escape(c.text)}</w:t></w:r>')
            cur.append("</w:p></w:tc>")
        cur.append("</w:tr>")
    cur.append("</w:tbl>")
    chunks.append("".join(cur))
    return tuple(chunks), tuple(slots)


_VALUE_RUN = "<w:r><w:t>"
_MARKED_RUN = '<w:r><w:rPr><w:highlight w:val="yellow"/></w:rPr><w:t>'
_RUN_END = "</w:t></w:r>"


def _table_xml(block: TableBlock, form: Form) -> str:
    chunks, slots = _table_chunks(form, block.spec.table_id)
    out = [chunks[0]]
    append = out.append
    values = block.values
    marks = block.marks
    for cell_id, chunk in zip(slots, chunks[1:]):
        v = values.get(cell_id)
        if v:
            append(_MARKED_RUN if marks and cell_id in marks else _VALUE_RUN)
            append(escape(v) if "&" in v or "<" in v or ">" in v else v)  # a printed number needs none
            append(_RUN_END)
        append(chunk)
    return "".join(out)


def render_docx(report: Report, form: Form) -> bytes:
    """The .docx bytes of a built report (fast path)."""
    body = [DOC_HEAD]
    for b in report.blocks:
        body.append(_par_xml(b) if isinstance(b, Par) else _table_xml(b, form))
    body.append(DOC_TAIL)
    return _with_static_parts(
        (("word/document.xml", "".join(body)), ("docProps/core.xml", _core_xml(report.title, report.author)))
    )


# the document part of each report is deflated at this level: 3–4 times faster than the default 6,
# ~20 % larger (a few KB); the shared parts, zipped once, keep 6
_UNIT_LEVEL = 1


@lru_cache(maxsize=1)
def _static_split() -> tuple[bytes, bytes, int]:
    """The shared zip as the base of each report's (zipparts.split)."""
    return zipparts.split(_static_zip())


def _with_static_parts(parts: Sequence[tuple[str, str]]) -> bytes:
    """The shared zip with ``parts`` (name, XML) added, without reading its directory back per report."""
    members = [(name, zipparts.deflate(xml.encode("utf-8"), _UNIT_LEVEL)) for name, xml in parts]
    return zipparts.join(members, when=_ZIP_DATE, base=_static_split())


# --------------------------------------------------------------------------- plain python-docx renderer


def _skeleton() -> bytes:
    buf = io.BytesIO()
    buf.write(_static_zip())
    with zipfile.ZipFile(buf, "a") as zf:
        _zip_add(zf, "word/document.xml", DOC_HEAD + DOC_TAIL)
        _zip_add(zf, "docProps/core.xml", _core_xml("", ""))
    return buf.getvalue()


def build_plain(report: Report) -> DocxDocument:
    """The same report through python-docx's own API (reference path and benchmark)."""
    import docx
    from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_COLOR_INDEX
    from docx.oxml import OxmlElement, parse_xml
    from docx.oxml.ns import qn
    from docx.shared import Twips

    doc = docx.Document(io.BytesIO(_skeleton()))
    for b in report.blocks:
        if isinstance(b, Par):
            p = doc.add_paragraph(style=STYLE_NAMES.get(b.style, b.style))
            if b.keep_next:
                p.paragraph_format.keep_with_next = True
            if b.page_break:
                p.paragraph_format.page_break_before = True
            if b.right:
                ind = p._p.get_or_add_pPr().get_or_add_ind()
                ind.set(qn("w:rightChars"), str(b.right[0]))
                ind.set(qn("w:right"), str(b.right[1]))
            if b.align:
                p.alignment = WD_ALIGN_PARAGRAPH.LEFT
            for r in b.runs:
                run = p.add_run(r.text, style=r.style)
                if r.mark:
                    run.font.highlight_color = WD_COLOR_INDEX.YELLOW
            continue
        spec = b.spec
        table = doc.add_table(rows=len(spec.rows), cols=len(spec.widths))
        tbl = table._tbl
        tbl.remove(tbl.tblPr)
        tbl.insert(0, parse_xml(spec.tbl_pr()))
        for gc, w in zip(tbl.tblGrid.findall(qn("w:gridCol")), spec.widths):
            gc.set(qn("w:w"), str(w))
        grid_cells = []
        for i, row in enumerate(table.rows):
            grid_cells.append(row.cells)  # once per row
            tr_pr = row._tr.get_or_add_trPr()
            tr_pr.append(OxmlElement("w:cantSplit"))
            height = OxmlElement("w:trHeight")
            height.set(qn("w:val"), str(spec.row_height))
            tr_pr.append(height)
            if i < spec.header_rows:
                tr_pr.append(OxmlElement("w:tblHeader"))
        for gcell in spec.grid.cells:
            cell = grid_cells[gcell.row][gcell.col]
            if gcell.merged:
                cell = cell.merge(grid_cells[gcell.row + gcell.rowspan - 1][gcell.col + gcell.colspan - 1])
            cell.width = Twips(sum(spec.widths[gcell.col : gcell.col + gcell.colspan]))
            cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
            style, indent = _cell_style(gcell, spec.grid.table, spec.size)
            p = cell.paragraphs[0]
            p.style = style
            if indent:
                ind = p._p.get_or_add_pPr().get_or_add_ind()
                ind.set(qn("w:leftChars"), str(indent))
                ind.set(qn("w:left"), str(indent * (210 if spec.small else 240) // 100))
            text = b.values.get(gcell.cell_id, "") if gcell.cell_id else _clean(gcell.text)
            if text:
                run = p.add_run(text)
                if gcell.cell_id in b.marks:
                    run.font.highlight_color = WD_COLOR_INDEX.YELLOW
        for k, row in enumerate(spec.rows):
            for tcell in row:
                if tcell.hole:
                    cell = grid_cells[k][tcell.col]
                    cell.paragraphs[0].style = tcell.style
                    cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
        for k in spec.keep_rows:  # every cell of the row, merged-down ones included
            for tc in tbl.tr_lst[k].tc_lst:
                tc.p_lst[0].get_or_add_pPr().keepNext_val = True
    doc.core_properties.title = report.title
    doc.core_properties.author = report.author
    return doc


# --------------------------------------------------------------------------- public API


_MAX_NAME_CHARS = 120


def report_docx_name(unit: Unit) -> str:
    """``<单位><年度>年政府信息公开工作年度报告.docx``, safe as a file name on every system."""
    title = unit.form.report_title.format(
        unit=S.unit_name(unit) or "未命名单位", year=unit.year if unit.year is not None else ""
    )
    return safe_filename(title, ".docx", limit=_MAX_NAME_CHARS, default="年度报告")


def _target(unit: Unit, path: Path | str) -> Path:
    """``path`` itself when it names a .docx (a folder of that name in its place is an error when
    writing, not a place to put the report), else the unit's report in that folder."""
    p = Path(path)
    if p.suffix.lower() != ".docx":
        return p / report_docx_name(unit)
    return p


class WrittenReport(NamedTuple):
    """A written report: where it is, and the findings it adds (what it marks 【请填写】)."""

    path: Path
    findings: list[Finding]
    digest: dict[str, Any] | None = None  # the file's fileio.file_digest, from the bytes written


def write_unit_docx(
    unit: Unit, path: Path | str, *, strict: bool = False, wording: S.Wording | Path | str | None = None
) -> WrittenReport:
    """Write one unit's annual report; ``path`` is the .docx file or a folder for it.

    Errors are never hidden: a unit with 错误 findings gets a red 审核提示 above the title
    (``strict=True`` raises :class:`StrictRefusal` instead and writes nothing). Required
    text the workbook lacks, and figures whose cells are all blank, become a highlighted
    【请填写：…】; the ``D.narrative`` / ``D.meta`` / ``D.blank_figure`` warnings for them are returned, not added to ``unit``: merge them with
    :func:`merge_report_findings` (the batch does so before it writes the unit's workbook).
    """
    errors = len(unit.errors)
    if strict and errors:
        raise StrictRefusal(S.unit_name(unit) or plain_name(unit.file), errors)
    report = build_report(unit, wording)
    data = render_docx(report, unit.form)
    target = _target(unit, path)
    atomic_write_bytes(target, data)
    return WrittenReport(target, gap_findings(unit, report.gaps), digest_of(data))


def write_summary_docx(
    units: Sequence[Unit],
    unit_name: str,
    path: Path | str,
    *,
    wording: S.Wording | Path | str | None = None,
    strict: bool = False,
    meta: dict | None = None,
    narrative: dict | None = None,
) -> Path:
    """The aggregate report (e.g. the district government's own) of ``units``: their tables
    summed and checked (:func:`gkreport.summary.summarise`), ``meta`` / ``narrative`` its own
    成文日期, contact details and text; what is missing shows as 【请填写】. See
    :func:`write_district_docx` for the 审核提示 it carries."""
    from .summary import summarise

    summary = summarise(units, unit_name, meta=meta, narrative=narrative)
    return write_district_docx(summary, path, wording=wording, strict=strict).path


_NOT_IN_BANNER = ("D1", "D.narrative", "D.meta", S.BLANK_RULE)  # shown in the text as 【请填写】 already
BANNER_WARNINGS = 10  # 提示 of the summary listed in its banner; the rest are in the summary workbook


def summary_banner(summary: YearSummary) -> tuple[list[Finding], dict[str, list[int]], int]:
    """The findings listed under a summary report's 审核提示 (errors and the findings that make
    figures doubtful first, then up to :data:`BANNER_WARNINGS` 提示, then every finding of what the
    sum leaves out: :data:`gkreport.summary.COVERAGE_RULES`), the banner numbers of each
    doubtful cell, and how many 提示 are left out."""
    from .summary import COVERAGE_RULES, doubtful, doubtful_cells

    shown = [f for f in summary.findings if f.rule not in _NOT_IN_BANNER]
    first = [f for f in shown if doubtful(f)]
    rest = [f for f in shown if not doubtful(f) and f.rule not in COVERAGE_RULES]
    left_out = [f for f in shown if not doubtful(f) and f.rule in COVERAGE_RULES]
    items = first + rest[:BANNER_WARNINGS] + left_out
    doubt: dict[str, list[int]] = {}
    for n, f in enumerate(items, start=1):
        for c in doubtful_cells(f):
            doubt.setdefault(c, []).append(n)
    return items, doubt, len(rest) - len(rest[:BANNER_WARNINGS])


def write_district_docx(
    summary: YearSummary,
    path: Path | str,
    *,
    wording: S.Wording | Path | str | None = None,
    strict: bool = False,
) -> WrittenReport:
    """The summary unit's report (the district's own) from a checked :class:`~gkreport.summary.YearSummary`.

    Its text and 基本信息 are the summary unit's own workbook's; its tables the departments' sum.
    Above the title, a red 审核提示 says what still stands in the way of issuing it: the
    departments whose tables have errors, then one numbered line per finding of the sum (with
    the departments causing it), departments not summed or summed after converting an older
    form, figures the district typed that differ from the sum, departments of the roster that
    have not submitted. A figure of the sum that is doubtful (an error of the sum, or a sum
    without a converted department's missing cells) is highlighted in the tables with a note
    under the table, and marked 【待核实，见审核提示N】 in the sentences that state it.
    ``strict=True`` refuses (:class:`StrictRefusal`) while the departments or the sum have errors.
    """
    agg = summary.summed
    errors = sum(len(u.errors) for u in summary.units)
    if strict and (errors or agg.errors):
        raise StrictRefusal(agg.unit or "", errors + len(agg.errors))
    report = build_district_report(summary, wording)
    data = render_docx(report, agg.form)
    target = _target(agg, path)
    atomic_write_bytes(target, data)
    return WrittenReport(target, gap_findings(agg, report.gaps))


def build_district_report(summary: YearSummary, wording: S.Wording | Path | str | None = None) -> Report:
    """The blocks of a summary unit's report (see :func:`write_district_docx`)."""
    agg = summary.summed
    dept_errors = [(u, len(u.errors)) for u in summary.units if u.errors]
    w = wording if isinstance(wording, S.Wording) else S.load_wording(agg.form, wording)
    items, doubt, more = summary_banner(summary)
    lines = []
    if dept_errors:
        names = "、".join(f"{u.unit or plain_name(u.file.name)}（{n}处）" for u, n in dept_errors)
        lines.append(w.fmt("summary_unit_errors", agg, names=names))
    lines += [w.fmt("summary_item", agg, number=n, text=f.message) for n, f in enumerate(items, start=1)]
    if more:
        lines.append(f"另有{more}条提示，见汇总表的“审核结果”。")
    return build_report(
        agg,
        w,
        error_count=sum(n for _, n in dept_errors),
        error_units=len(dept_errors),
        banner=[x for x in lines if x],
        doubt=doubt,
    )
