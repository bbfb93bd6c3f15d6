"""A small .xlsx writer for workbooks whose every cell style is known in advance.

:mod:`gkreport.xlsx_out` draws a unit's checked workbook through the worksheet methods of
XlsxWriter (``write_string``, ``merge_range``, ``set_row``, ``write_comment``, print setup…).
:class:`Sheet` takes the same calls and keeps each cell as the XML text XlsxWriter would write
for it, and :func:`package` zips the sheets with a styles part made once: the styles of every
cell a workbook can take are registered up front (:class:`FixedStyles`), so a cell's style id
is known when it is written and nothing is worked out again per workbook. XlsxWriter's own
code still makes the styles part and the comments and their boxes (VML), so they are its
output; strings are written in line (``t="inlineStr"``, as XlsxWriter's constant-memory mode
writes them) rather than in a shared-strings part.

Only the calls the unit workbook makes are supported: anything else raises AttributeError
(and the few options it does not take raise :class:`Unsupported`: the caller then writes the
workbook with XlsxWriter).
"""

from __future__ import annotations

import functools
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import xlsxwriter
from xlsxwriter.comments import Comments, CommentType
from xlsxwriter.utility import _datetime_to_excel_datetime, quote_sheetname, xl_col_to_name, xl_range
from xlsxwriter.vml import Vml
from xlsxwriter.worksheet import Worksheet

from . import zipparts

__all__ = ["FixedStyles", "SharedStrings", "Sheet", "Unsupported", "package"]


class Unsupported(Exception):
    """A call this writer does not make like XlsxWriter: the workbook is written with XlsxWriter."""


_COLS = [xl_col_to_name(c) for c in range(64)]  # the unit workbook has at most a few dozen columns
_ESCAPE = re.compile('[&<>"\n]')
_NEEDS_CONTROL = re.compile(r"_x[0-9a-fA-F]{4}_|[\x00-\x08\x0b-\x1f]|[\ufffe\uffff]")
_CONTROL_1 = re.compile("(_x[0-9a-fA-F]{4}_)")
_CONTROL_2 = re.compile(r"([\x00-\x08\x0b-\x1f])")
_EDGE_SPACE = re.compile(r"^\s|\s$")
_MAX_DIGIT_PX = 7  # XlsxWriter's column width units (Calibri 11 digits) and cell padding
_CELL_PAD_PX = 5
_DEFAULT_ROW_PX = 20


_MAX_TEXT = 32767  # Excel's limit of a cell's text and of a comment, in UTF-16 code units


def _utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def _col(c: int) -> str:
    return _COLS[c] if c < 64 else xl_col_to_name(c)


def _data(s: str) -> str:
    """Text as XlsxWriter writes a cell string: control characters as ``_xHHHH_``, XML escaped."""
    if _NEEDS_CONTROL.search(s):
        s = _CONTROL_1.sub(r"_x005F\1", s)
        s = _CONTROL_2.sub(lambda m: f"_x{ord(m.group(1)):04X}_", s)
        s = s.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    if "&" in s or "<" in s or ">" in s:
        s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return s


def _attr(s: str) -> str:
    if _ESCAPE.search(s):
        s = s.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
        s = s.replace("\n", "&#xA;")
    return s


def string_cell(r: int, c: int, s: str, xf: int | None) -> str:
    """The XML of a string cell (``xf``: its style id), the text in line.

    Text with control characters or ``_xHHHH_`` sequences goes to the shared strings instead
    (:meth:`Sheet.write_string`): openpyxl reads their escapes in shared strings only."""
    style = f' s="{xf}"' if xf else ""
    space = ' xml:space="preserve"' if _EDGE_SPACE.search(s) else ""
    return f'<c r="{_col(c)}{r + 1}"{style} t="inlineStr"><is><t{space}>{_data(s)}</t></is></c>'


def number_cell(r: int, c: int, v: float, xf: int | None) -> str:
    style = f' s="{xf}"' if xf else ""
    return f'<c r="{_col(c)}{r + 1}"{style}><v>{v:.16G}</v></c>'


def blank_cell(r: int, c: int, xf: int | None) -> str:
    style = f' s="{xf}"' if xf else ""
    return f'<c r="{_col(c)}{r + 1}"{style}/>'


@functools.lru_cache(maxsize=8192)  # the merges of a form's sheets repeat in every workbook
def _merge_cell(m: tuple[int, int, int, int]) -> str:
    return f'<mergeCell ref="{xl_range(*m)}"/>'


# --------------------------------------------------------------------------- styles


class FixedStyles:
    """Every style a workbook may use, made once: ``ids[key]`` is the style id (``xf``) of the
    format registered under ``key``; ``xml`` is the styles part and ``theme`` the theme part.

    ``register(wb)`` adds the formats to an XlsxWriter workbook and returns ``{key: Format}``;
    each is written once, so XlsxWriter numbers them, in order, and writes its styles part.
    """

    def __init__(self, options: dict[str, Any], register: Callable[[Any], dict[Any, Any]]):
        buf = io.BytesIO()
        wb = xlsxwriter.Workbook(buf, options)
        formats = register(wb)
        ws = wb.add_worksheet()
        for i, f in enumerate(formats.values()):
            ws.write_blank(i, 0, None, f)
        wb.close()
        self.ids: dict[Any, int] = {k: f._get_xf_index() for k, f in formats.items()}
        with zipfile.ZipFile(buf) as z:
            self.xml = z.read("xl/styles.xml")
            self.theme = z.read("xl/theme/theme1.xml")
        # the parts every workbook shares, compressed once
        self.members = {
            name: zipparts.deflate(data, 9)
            for name, data in (
                ("xl/styles.xml", self.xml),
                ("xl/theme/theme1.xml", self.theme),
                ("_rels/.rels", _ROOT_RELS),
            )
        }


# --------------------------------------------------------------------------- worksheet


class _Geometry:
    """Row heights and column widths in pixels, for XlsxWriter's placement of comment boxes."""

    _position_object_pixels = Worksheet._position_object_pixels
    _size_col = Worksheet._size_col
    _size_row = Worksheet._size_row
    _col_offset = Worksheet._col_offset
    _row_offset = Worksheet._row_offset
    _comment_vertices = Worksheet._comment_vertices

    def __init__(self, cols: dict[int, tuple[int, bool]], heights: dict[int, int]):
        from xlsxwriter.worksheet import ColumnInfo

        self.col_info = {c: ColumnInfo(width=w, hidden=h) for c, (w, h) in cols.items()}
        self.row_sizes = {r: [h, False] for r, h in heights.items()}
        self.col_size_changed = bool(cols)
        self.default_col_width = 64
        self.default_row_height = _DEFAULT_ROW_PX
        self.prev_col_offset = (0, 0)
        self.prev_row_offset = (0, 0)


class SharedStrings:
    """The shared strings of a workbook: only texts whose escapes must be read back as such."""

    def __init__(self) -> None:
        self.strings: dict[str, int] = {}
        self.count = 0

    def index(self, s: str) -> int:
        self.count += 1
        i = self.strings.get(s)
        if i is None:
            i = self.strings[s] = len(self.strings)
        return i

    def xml(self) -> str:
        preserve = ' xml:space="preserve"'
        items = "".join(f"<si><t{preserve if _EDGE_SPACE.search(s) else ''}>{_data(s)}</t></si>" for s in self.strings)
        return (
            _XML_HEAD + '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            f'count="{self.count}" uniqueCount="{len(self.strings)}">{items}</sst>'
        )


class Sheet:
    """A worksheet recorded as XML text, with the XlsxWriter calls the unit workbook makes."""

    def __init__(self, name: str):
        self.name = name
        self.shared: SharedStrings | None = None  # the workbook's shared strings
        self.rows: dict[int, dict[int, str]] = {}
        self.heights: dict[int, int] = {}  # row → height in pixels
        self.cols: dict[int, tuple[int, bool]] = {}  # column → (width in pixels, hidden)
        self.merges: list[tuple[int, int, int, int]] = []
        self.merged: set[tuple[int, int, int, int]] = set()
        self.comments: dict[tuple[int, int], CommentType] = {}
        self.links: dict[tuple[int, int], tuple[str, str | None, str]] = {}
        self.gridlines = True
        self.freeze: tuple[int, int] | None = None
        self.paper = 0
        self.landscape = False
        self.fit: tuple[int, int] | None = None
        self.margins = ""
        self.hcenter = False
        self.footer: str | None = None
        self.footer_margin = 0.3
        self.repeat = ""
        self.area = ""
        self.filter: tuple[str, str] | None = None

    def copy(self) -> Sheet:
        """A sheet to go on drawing from this one (which stays as it is)."""
        new = Sheet.__new__(Sheet)
        new.__dict__.update(self.__dict__)
        new.rows = {r: dict(cells) for r, cells in self.rows.items()}
        new.heights = dict(self.heights)
        new.cols = dict(self.cols)
        new.merges = list(self.merges)
        new.merged = set(self.merged)
        new.comments = dict(self.comments)
        new.links = dict(self.links)
        return new

    # cells ------------------------------------------------------------------------------

    def _row(self, r: int) -> dict[int, str]:
        row = self.rows.get(r)
        if row is None:
            row = self.rows[r] = {}
        return row

    def put(self, r: int, c: int, xml: str) -> None:
        """A cell's XML made by the caller (``string_cell`` etc.)."""
        self._row(r)[c] = xml

    def write_string(self, r: int, c: int, s: str, fmt: int | None = None) -> None:
        if len(s) > _MAX_TEXT // 2 and _utf16_len(s) > _MAX_TEXT:
            raise Unsupported("text over Excel's limit")  # XlsxWriter cuts it at a character boundary
        if _NEEDS_CONTROL.search(s):
            if self.shared is None:
                raise Unsupported("escaped text outside a workbook")
            style = f' s="{fmt}"' if fmt else ""
            self._row(r)[c] = f'<c r="{_col(c)}{r + 1}"{style} t="s"><v>{self.shared.index(s)}</v></c>'
        else:
            self._row(r)[c] = string_cell(r, c, s, fmt)

    def write_number(self, r: int, c: int, v: float, fmt: int | None = None) -> None:
        self._row(r)[c] = number_cell(r, c, v, fmt)

    def write_blank(self, r: int, c: int, _: Any, fmt: int | None = None) -> None:
        if fmt is not None:  # XlsxWriter writes no blank without a format
            self._row(r)[c] = blank_cell(r, c, fmt)

    def write_datetime(self, r: int, c: int, v: datetime, fmt: int | None = None) -> None:
        self._row(r)[c] = number_cell(r, c, _datetime_to_excel_datetime(v, False, False), fmt)

    def write_url(
        self, r: int, c: int, url: str, fmt: int | None = None, string: str | None = None, tip: str | None = None
    ) -> None:
        if not url.startswith("internal:"):
            raise Unsupported("external links are not supported")
        text = url[len("internal:") :] if string is None else string
        self.write_string(r, c, text, fmt)
        self.links[(r, c)] = (url[len("internal:") :], tip, text)

    def merge_range(self, r1: int, c1: int, r2: int, c2: int, data: Any, fmt: int | None = None) -> None:
        if not isinstance(data, str):
            raise Unsupported("only text is merged")
        if (r1, c1, r2, c2) not in self.merged:  # drawn again over a frame: merged once
            self.merges.append((r1, c1, r2, c2))
            self.merged.add((r1, c1, r2, c2))
        if data:
            self.write_string(r1, c1, data, fmt)
        else:
            self.write_blank(r1, c1, None, fmt)
        for r in range(r1, r2 + 1):
            row = self._row(r)
            for c in range(c1, c2 + 1):
                if (r, c) != (r1, c1) and fmt is not None:
                    row[c] = blank_cell(r, c, fmt)

    def write_comment(self, r: int, c: int, text: str, options: dict[str, Any] | None = None) -> None:
        if len(text) > _MAX_TEXT // 2 and _utf16_len(text) > _MAX_TEXT:
            raise Unsupported("comment over Excel's limit")  # XlsxWriter leaves it out
        self.comments[(r, c)] = CommentType(r, c, text, options)

    # rows, columns, view -------------------------------------------------------------------

    def set_row(self, r: int, height: float) -> None:
        self.heights[r] = int(height * 4.0 / 3.0 + 0.5)

    def set_column(
        self, c1: int, c2: int, width: float, fmt: Any = None, options: dict[str, Any] | None = None
    ) -> None:
        if fmt is not None or width < 1.0:
            raise Unsupported("column formats and narrow columns are not supported")
        px = int(width * _MAX_DIGIT_PX + 0.5) + _CELL_PAD_PX
        hidden = bool((options or {}).get("hidden"))
        for c in range(c1, c2 + 1):
            self.cols[c] = (px, hidden)

    def hide_gridlines(self, option: int = 1) -> None:
        self.gridlines = option == 0

    def freeze_panes(self, r: int, c: int) -> None:
        self.freeze = (r, c)

    def autofilter(self, r1: int, c1: int, r2: int, c2: int) -> None:
        self.filter = (self._area(r1, c1, r2, c2), xl_range(r1, c1, r2, c2))

    # print setup -----------------------------------------------------------------------------

    def set_paper(self, paper: int) -> None:
        self.paper = paper

    def set_landscape(self) -> None:
        self.landscape = True

    def set_portrait(self) -> None:
        self.landscape = False

    def fit_to_pages(self, width: int, height: int) -> None:
        self.fit = (width, height)

    def set_margins(self, left: float = 0.7, right: float = 0.7, top: float = 0.75, bottom: float = 0.75) -> None:
        self.margins = f'left="{left}" right="{right}" top="{top}" bottom="{bottom}"'

    def center_horizontally(self) -> None:
        self.hcenter = True

    def set_footer(self, footer: str, options: dict[str, Any] | None = None) -> None:
        if "&[" in footer or "&G" in footer or len(footer) > 255:
            raise Unsupported("footer pictures and long footers are not supported")
        self.footer = footer
        self.footer_margin = (options or {}).get("margin", 0.3)

    def repeat_rows(self, first: int, last: int | None = None) -> None:
        last = first if last is None else last
        self.repeat = f"{quote_sheetname(self.name)}!${first + 1}:${last + 1}"

    def print_area(self, r1: int, c1: int, r2: int, c2: int) -> None:
        self.area = self._area(r1, c1, r2, c2)

    def _area(self, r1: int, c1: int, r2: int, c2: int) -> str:
        a, b = f"${_col(c1)}${r1 + 1}", f"${_col(c2)}${r2 + 1}"
        return f"{quote_sheetname(self.name)}!" + (a if a == b else f"{a}:{b}")

    # XML --------------------------------------------------------------------------------------

    def xml(self, selected: bool, legacy: bool) -> str:
        rows, heights = self.rows, self.heights
        used = [r for r, cells in rows.items() if cells]
        all_rows = sorted(set(used) | set(heights) | {r for r, _ in self.comments})
        cols_used = [c for r in used for c in rows[r]]
        out = [
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        ]
        if self.fit:
            out.append('<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>')
        if all_rows:
            c_min = min(cols_used + [c for _, c in self.comments], default=0)
            c_max = max(cols_used + [c for _, c in self.comments], default=0)
            first, last = f"{_col(c_min)}{all_rows[0] + 1}", f"{_col(c_max)}{all_rows[-1] + 1}"
            out.append(f'<dimension ref="{first if first == last else first + ":" + last}"/>')
        else:
            out.append('<dimension ref="A1"/>')
        out.append(self._view(selected))
        out.append('<sheetFormatPr defaultRowHeight="15"/>')
        out.append(self._cols_xml())
        out.append(self._sheet_data(all_rows))
        if self.filter:
            out.append(f'<autoFilter ref="{self.filter[1]}"/>')
        if self.merges:
            out.append(f'<mergeCells count="{len(self.merges)}">')
            out.extend([_merge_cell(m) for m in self.merges])
            out.append("</mergeCells>")
        if self.links:
            out.append("<hyperlinks>")
            for (r, c), (loc, tip, text) in sorted(self.links.items()):
                tip_attr = f' tooltip="{_attr(tip)}"' if tip else ""
                out.append(
                    f'<hyperlink ref="{_col(c)}{r + 1}" location="{_attr(loc)}"{tip_attr} display="{_attr(text)}"/>'
                )
            out.append("</hyperlinks>")
        if self.hcenter:
            out.append('<printOptions horizontalCentered="1"/>')
        margins = self.margins or 'left="0.7" right="0.7" top="0.75" bottom="0.75"'
        out.append(f'<pageMargins {margins} header="0.3" footer="{self.footer_margin}"/>')
        setup = []
        if self.paper:
            setup.append(f'paperSize="{self.paper}"')
        if self.fit and self.fit[0] != 1:
            setup.append(f'fitToWidth="{self.fit[0]}"')
        if self.fit and self.fit[1] != 1:
            setup.append(f'fitToHeight="{self.fit[1]}"')
        setup.append(f'orientation="{"landscape" if self.landscape else "portrait"}"')
        out.append(f"<pageSetup {' '.join(setup)}/>")
        if self.footer:
            out.append(f"<headerFooter><oddFooter>{_data(self.footer)}</oddFooter></headerFooter>")
        if legacy:
            out.append('<legacyDrawing r:id="rId1"/>')
        out.append("</worksheet>")
        return "".join(out)

    def _view(self, selected: bool) -> str:
        attrs = ('showGridLines="0" ' if not self.gridlines else "") + ('tabSelected="1" ' if selected else "")
        if not self.freeze or self.freeze == (0, 0):
            return f'<sheetViews><sheetView {attrs}workbookViewId="0"/></sheetViews>'
        r, c = self.freeze
        top_left = f"{_col(c)}{r + 1}"
        split = (f'xSplit="{c}" ' if c else "") + (f'ySplit="{r}" ' if r else "")
        if r and c:
            pane = "bottomRight"
            sel = (
                f'<selection pane="topRight" activeCell="{_col(c)}1" sqref="{_col(c)}1"/>'
                f'<selection pane="bottomLeft" activeCell="A{r + 1}" sqref="A{r + 1}"/>'
                '<selection pane="bottomRight"/>'
            )
        else:
            pane = "topRight" if c else "bottomLeft"
            sel = f'<selection pane="{pane}"/>'
        return (
            f'<sheetViews><sheetView {attrs}workbookViewId="0"><pane {split}topLeftCell="{top_left}" '
            f'activePane="{pane}" state="frozen"/>{sel}</sheetView></sheetViews>'
        )

    def _cols_xml(self) -> str:
        if not self.cols:
            return ""
        out = ["<cols>"]
        items = sorted(self.cols.items())
        start, prev = items[0]
        end = start
        for c, info in items[1:] + [(-2, None)]:
            if c == end + 1 and info == prev:
                end = c
                continue
            px, hidden = prev
            width = f"{(px * 256 // _MAX_DIGIT_PX) / 256.0:.16g}"
            hide = ' hidden="1"' if hidden else ""
            out.append(f'<col min="{start + 1}" max="{end + 1}" width="{width}"{hide} customWidth="1"/>')
            start, end, prev = c, c, info  # type: ignore[assignment]
        out.append("</cols>")
        return "".join(out)

    def _sheet_data(self, all_rows: list[int]) -> str:
        if not all_rows:
            return "<sheetData/>"
        rows, heights = self.rows, self.heights
        noted: dict[int, list[int]] = {}
        for r, c in self.comments:
            noted.setdefault(r, []).append(c)
        spans: dict[int, tuple[int, int]] = {}  # XlsxWriter's spans: the columns used in each block of 16 rows
        for r in all_rows:
            cells = rows.get(r)
            cs = [*cells, *noted.get(r, ())] if cells else noted.get(r)
            if not cs:
                continue
            block = r >> 4
            lo, hi = min(cs), max(cs)
            old = spans.get(block)
            if old is not None:
                lo, hi = min(lo, old[0]), max(hi, old[1])
            spans[block] = (lo, hi)
        span_text = {k: f' spans="{lo + 1}:{hi + 1}"' for k, (lo, hi) in spans.items()}
        out = ["<sheetData>"]
        add = out.append
        for r in all_rows:
            attr = f'<row r="{r + 1}"{span_text.get(r >> 4, "")}'
            h = heights.get(r)
            if h is not None and h != _DEFAULT_ROW_PX:
                attr += f' ht="{h * 0.75:.16g}" customHeight="1"'
            cells = rows.get(r)
            if cells:
                add(attr + ">")
                add("".join([cells[c] for c in sorted(cells)]))
                add("</row>")
            else:
                add(attr + "/>")
        add("</sheetData>")
        return "".join(out)


# --------------------------------------------------------------------------- package

_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CT_SHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_ROOT_RELS = (
    _XML_HEAD + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_R}/officeDocument" Target="xl/workbook.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
    f'<Relationship Id="rId3" Type="{_R}/extended-properties" Target="docProps/app.xml"/></Relationships>'
).encode()


def _core(title: str, subject: str, comments: str, now: datetime) -> str:
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        _XML_HEAD
        + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{_data(title)}</dc:title><dc:subject>{_data(subject)}</dc:subject><dc:creator></dc:creator>"
        f"<dc:description>{_data(comments)}</dc:description><cp:lastModifiedBy></cp:lastModifiedBy>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified></cp:coreProperties>'
    )


def _app(sheets: Sequence[Sheet], named: list[str]) -> str:
    parts = "".join(f"<vt:lpstr>{_data(s.name)}</vt:lpstr>" for s in sheets)
    parts += "".join(f"<vt:lpstr>{_data(n)}</vt:lpstr>" for n in named)
    pairs = (
        f"<vt:variant><vt:lpstr>Worksheets</vt:lpstr></vt:variant><vt:variant><vt:i4>{len(sheets)}</vt:i4></vt:variant>"
    )
    n_pairs = 2
    if named:
        pairs += f"<vt:variant><vt:lpstr>Named Ranges</vt:lpstr></vt:variant><vt:variant><vt:i4>{len(named)}</vt:i4></vt:variant>"
        n_pairs = 4
    return (
        _XML_HEAD + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" '
        'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"><Application>Microsoft Excel</Application>'
        f'<DocSecurity>0</DocSecurity><ScaleCrop>false</ScaleCrop><HeadingPairs><vt:vector size="{n_pairs}" baseType="variant">'
        f'{pairs}</vt:vector></HeadingPairs><TitlesOfParts><vt:vector size="{len(sheets) + len(named)}" baseType="lpstr">'
        f"{parts}</vt:vector></TitlesOfParts><Company></Company><LinksUpToDate>false</LinksUpToDate>"
        "<SharedDoc>false</SharedDoc><HyperlinksChanged>false</HyperlinksChanged><AppVersion>12.0000</AppVersion></Properties>"
    )


def _defined_names(sheets: Sequence[Sheet]) -> list[tuple[str, int, str, bool]]:
    names: list[tuple[str, int, str, bool]] = []
    for i, s in enumerate(sheets):
        if s.filter:
            names.append(("_xlnm._FilterDatabase", i, s.filter[0], True))
        if s.area:
            names.append(("_xlnm.Print_Area", i, s.area, False))
        if s.repeat:
            names.append(("_xlnm.Print_Titles", i, s.repeat, False))
    # XlsxWriter's order: by name, then by sheet name
    return sorted(
        names, key=lambda n: n[0].replace("_xlnm.", "").lower() + "::" + n[2].split("!")[0].lstrip("'").lower()
    )


def _comment_parts(sheet: Sheet, index: int, shape_id: int) -> tuple[str, str]:
    """comments<index>.xml and vmlDrawing<index>.vml of a sheet, as XlsxWriter writes them."""
    geometry = _Geometry(sheet.cols, sheet.heights)
    comments = []
    for key in sorted(sheet.comments):
        comment = sheet.comments[key]
        comment.vertices = geometry._comment_vertices(comment)
        if comment.is_visible is None:
            comment.is_visible = False
        comments.append(comment)
    c_fh, v_fh = io.StringIO(), io.StringIO()
    writer = Comments()
    writer._set_filehandle(c_fh)
    writer._assemble_xml_file(comments)
    vml = Vml()
    vml._set_filehandle(v_fh)
    data_id = str(index)
    for i in range(len(comments) // 1024):
        data_id += f",{index + i + 1}"
    vml._assemble_xml_file(data_id, shape_id, comments, [])
    return c_fh.getvalue(), v_fh.getvalue()


# the parts of each workbook: fastest (files ~7 % larger than at the default level 6); zipparts.join
# dates them 1980-01-01, as XlsxWriter does
_LEVEL = 1


_SMALL_PART = 4096  # parts this small are mostly the same from one workbook to the next (rels, names)
_SMALL_MEMO: dict[bytes, zipparts.Member] = {}
_SMALL_MEMO_MAX = 1024


def _deflate_part(data: str | bytes) -> zipparts.Member:
    """A part compressed, or taken from the small parts compressed before: setting up a
    compressor costs more than compressing one of them."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > _SMALL_PART:
        return zipparts.deflate(raw, _LEVEL)
    member = _SMALL_MEMO.get(raw)
    if member is None:
        if len(_SMALL_MEMO) >= _SMALL_MEMO_MAX:
            _SMALL_MEMO.clear()
        member = _SMALL_MEMO[raw] = zipparts.deflate(raw, _LEVEL)
    return member


def package(
    path: Any,
    sheets: Sequence[Sheet],
    styles: FixedStyles,
    shared: SharedStrings | None,
    title: str,
    subject: str,
    comments: str,
) -> None:
    """Write the workbook of ``sheets`` (in order; the first one selected) to ``path``."""
    parts: list[tuple[str, bytes | str]] = []
    names = _defined_names(sheets)
    ct = [
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
    ]
    if any(s.comments for s in sheets):
        ct.append('<Default Extension="vml" ContentType="application/vnd.openxmlformats-officedocument.vmlDrawing"/>')
    ct.append(
        '<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
        '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '<Override PartName="/xl/theme/theme1.xml" ContentType="application/vnd.openxmlformats-officedocument.theme+xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    )
    ct.extend(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_CT_SHEET}"/>'
        for i in range(1, len(sheets) + 1)
    )
    n_comments = 0
    shape_id = 1024
    sheet_parts: list[tuple[str, bytes | str]] = []
    for i, s in enumerate(sheets, start=1):
        legacy = bool(s.comments)
        if legacy:
            n_comments += 1
            c_xml, v_xml = _comment_parts(s, n_comments, shape_id)
            shape_id += 1024 * ((1024 + len(s.comments)) // 1024)
            ct.append(
                f'<Override PartName="/xl/comments{n_comments}.xml" '
                'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml"/>'
            )
            sheet_parts.append((f"xl/comments{n_comments}.xml", c_xml))
            sheet_parts.append((f"xl/drawings/vmlDrawing{n_comments}.vml", v_xml))
            sheet_parts.append(
                (
                    f"xl/worksheets/_rels/sheet{i}.xml.rels",
                    _XML_HEAD + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                    f'<Relationship Id="rId1" Type="{_R}/vmlDrawing" Target="../drawings/vmlDrawing{n_comments}.vml"/>'
                    f'<Relationship Id="rId2" Type="{_R}/comments" Target="../comments{n_comments}.xml"/></Relationships>',
                )
            )
        sheet_parts.append((f"xl/worksheets/sheet{i}.xml", s.xml(i == 1, legacy)))
    if shared is not None and shared.strings:
        ct.append(
            '<Override PartName="/xl/sharedStrings.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
        )
        sheet_parts.append(("xl/sharedStrings.xml", shared.xml()))
    ct.append("</Types>")
    parts.append(("[Content_Types].xml", _XML_HEAD + "".join(ct)))
    parts.append(("_rels/.rels", _ROOT_RELS))
    named = [f"{n[2].split('!')[0]}!{n[0].replace('_xlnm.', '')}" for n in names if not n[3]]
    parts.append(("docProps/app.xml", _app(sheets, named)))
    parts.append(("docProps/core.xml", _core(title, subject, comments, datetime.now(UTC))))
    rels = [
        f'<Relationship Id="rId{i}" Type="{_R}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(sheets) + 1)
    ]
    n = len(sheets)
    rels.append(f'<Relationship Id="rId{n + 1}" Type="{_R}/theme" Target="theme/theme1.xml"/>')
    rels.append(f'<Relationship Id="rId{n + 2}" Type="{_R}/styles" Target="styles.xml"/>')
    if shared is not None and shared.strings:
        rels.append(f'<Relationship Id="rId{n + 3}" Type="{_R}/sharedStrings" Target="sharedStrings.xml"/>')
    parts.append(
        (
            "xl/_rels/workbook.xml.rels",
            _XML_HEAD
            + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            + "".join(rels)
            + "</Relationships>",
        )
    )
    book = [
        _XML_HEAD + f'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="{_R}">'
        '<fileVersion appName="xl" lastEdited="4" lowestEdited="4" rupBuild="4505"/>'
        '<workbookPr defaultThemeVersion="124226"/><bookViews>'
        '<workbookView xWindow="240" yWindow="15" windowWidth="16095" windowHeight="9660"/></bookViews><sheets>'
    ]
    book.extend(f'<sheet name="{_attr(s.name)}" sheetId="{i}" r:id="rId{i}"/>' for i, s in enumerate(sheets, start=1))
    book.append("</sheets>")
    if names:
        book.append("<definedNames>")
        for name, index, ref, hidden in names:
            hide = ' hidden="1"' if hidden else ""
            book.append(f'<definedName name="{name}" localSheetId="{index}"{hide}>{_data(ref)}</definedName>')
        book.append("</definedNames>")
    book.append('<calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>')
    parts.append(("xl/workbook.xml", "".join(book)))
    members: list[tuple[str, zipparts.Member]] = []
    for name, data in parts:
        if name == "_rels/.rels":
            members.append((name, styles.members[name]))
        else:
            members.append((name, _deflate_part(data)))
    members.append(("xl/theme/theme1.xml", styles.members["xl/theme/theme1.xml"]))
    members.append(("xl/styles.xml", styles.members["xl/styles.xml"]))
    members.extend((name, _deflate_part(data)) for name, data in sheet_parts)
    data = zipparts.join(members)
    if isinstance(path, io.BytesIO):
        path.write(data)
    else:
        with open(path, "wb") as fh:
            fh.write(data)
