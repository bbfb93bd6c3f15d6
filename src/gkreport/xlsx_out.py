"""Styled .xlsx output: the checked workbook of one unit, and the summary of many.

Both workbooks are written from the values and findings (never by copying the
input) with XlsxWriter, which writes these workbooks about twice as fast as
openpyxl (see ``tests/benchmarks/bench_xlsx.py``). A unit's workbook is drawn by
the same code into :mod:`gkreport.xlsx_fill`, which writes it with a styles part
made once and each table's sheet drawn once per form and year (about three times
faster); XlsxWriter writes it when that writer does not take something, and is
the reference the tests compare it with. The official tables are drawn
from the form's official grids (``compiled(form).grid``), so every writer shows the same
official layout. Values written are the numbers read; there are no formulas,
and text copied from a workbook is always written as a string.
"""

from __future__ import annotations

import gc as _gc
import io
import math
import operator
import re
import threading
import unicodedata
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xlsxwriter
import xlsxwriter.workbook
from xlsxwriter.color import Color
from xlsxwriter.format import Format
from xlsxwriter.utility import xl_rowcol_to_cell

from .aggregate import sum_matrix, value_matrix
from .explanations import EXPLANATION_HEADER, FINDINGS_SHEET, KEY_HEADER
from .explanations import key as finding_key
from .fileio import atomic_path, atomic_write_bytes, digest_of
from .formatting import format_date, format_number, plain_name, safe_filename, shown_name
from .model import ERROR, WARNING, Finding, Severity, Status, Unit
from .spec import Form, Grid, Table, compiled
from .spec.expr import Cmp
from .spec.names import cell_path
from .xlsx_fill import FixedStyles, SharedStrings, Sheet, Unsupported, blank_cell, number_cell, package

if TYPE_CHECKING:
    from .summary import YearSummary

__all__ = [
    "A3",
    "A4",
    "SUMMARY_DIR",
    "collector_paused",
    "compact_refs",
    "fast_rows",
    "group_units",
    "mismatch_messages",
    "paper_for",
    "print_list_sheet",
    "release_workbook",
    "row_height",
    "summary_table_sheets",
    "summary_xlsx_name",
    "unit_xlsx_name",
    "wrapped_lines",
    "write_summaries",
    "write_summary_xlsx",
    "write_unit_xlsx",
]

SUMMARY_DIR = "汇总"

# XlsxWriter options: build the file in memory (about 2× faster than temp
# files) and never turn copied text into formulas, links or numbers.
_DEFAULT_FORMAT: dict[str, Any] = {"font_name": "Arial", "font_size": 10}
_WB_OPTIONS: dict[str, Any] = {
    "in_memory": True,
    # Column widths are counted in digits of the Normal font. Arial 10 has the same digit
    # width in Excel as the usual Calibri 11 (7 px), and LibreOffice has a metric-compatible
    # substitute (Liberation Sans) where Calibri falls back to a much wider font; so the
    # widths below look the same in Excel, WPS and LibreOffice (and its PDF export).
    "default_format_properties": _DEFAULT_FORMAT,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "nan_inf_to_errors": True,
}


class _LevelledZipFile(zipfile.ZipFile):
    """XlsxWriter's zip file, deflating at the level this thread asked for (:func:`zip_level`);
    without one, as XlsxWriter's own (zlib's default level)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        level = getattr(_zip_level, "level", None)
        if level is not None:
            kwargs.setdefault("compresslevel", level)
        super().__init__(*args, **kwargs)


_zip_level = threading.local()
xlsxwriter.workbook.ZipFile = _LevelledZipFile


@contextmanager
def zip_level(level: int) -> Iterator[None]:
    """The workbooks XlsxWriter packs in this thread meanwhile are deflated at ``level``."""
    before = getattr(_zip_level, "level", None)
    _zip_level.level = level
    try:
        yield
    finally:
        _zip_level.level = before


# The summary workbook's parts (tens of MB of XML for thousands of units) deflated at level 1: a
# third of the time of zlib's default level, the file about a third larger (2.3 MB instead of
# 1.7 MB for 2,000 units)
SUMMARY_ZIP_LEVEL = 1


def _wb_options() -> dict[str, Any]:
    # XlsxWriter edits the default format properties it is given; a fresh copy per
    # workbook keeps every output identical whatever was written before in the process.
    return {**_WB_OPTIONS, "default_format_properties": dict(_DEFAULT_FORMAT)}


# --------------------------------------------------------------------------- text helpers

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MAX_CELL_TEXT = 32000  # Excel's limit is 32767 characters per cell


def _clean(text: Any) -> str:
    """Text as a cell string: no control characters, within Excel's length limit."""
    s = _CONTROL.sub("", str(text))
    if len(s) > _MAX_CELL_TEXT:
        s = s[:_MAX_CELL_TEXT] + "…（内容过长，已截断）"
    return s


class _CharUnits(dict[str, float]):
    """Width of each character met so far (row heights measure every text)."""

    def __missing__(self, ch: str) -> float:
        w = self[ch] = 2.0 if unicodedata.east_asian_width(ch) in "WF" else 1.1
        return w


_CHAR_UNITS = _CharUnits()
_TEXT_UNITS: dict[str, float] = {}  # width of each text measured so far (labels, titles, paths repeat per unit)
_TEXT_UNITS_MAX = 20000  # texts kept; then the memo starts again (a batch of thousands of units)
_TEXT_UNITS_LONG = 400  # longer texts (paragraphs, comments) are rarely met twice: not kept
_REUSE = True  # False: compute everything per workbook, as the reference the tests compare with


def _units(text: str) -> float:
    """Width of a text in Excel column units (a CJK character ≈ 2 digits)."""
    w = _TEXT_UNITS.get(text) if _REUSE else None
    if w is not None:
        return w
    # added one by one from the left, as a loop would (not ``sum``: a float sum depends on the order)
    w = reduce(operator.add, map(_CHAR_UNITS.__getitem__, text), 0.0)
    if _REUSE and len(text) <= _TEXT_UNITS_LONG:
        if len(_TEXT_UNITS) >= _TEXT_UNITS_MAX:
            _TEXT_UNITS.clear()
        _TEXT_UNITS[text] = w
    return w


def _lines(text: str, width: float) -> int:
    """Lines a wrapped text needs in a cell of ``width`` column units.

    Text that wraps gets a 10 % margin: line breaking keeps numbers together and
    does not start a line with closing punctuation, so lines end short.
    """
    avail = max(width - 1.5, 2.0)
    n = 0
    for part in str(text).split("\n"):
        u = _units(part)
        n += 1 if u <= avail else math.ceil(u / (avail * 0.9))
    return n


def _fmt_value(v: Any) -> str:
    """A value for a message: numbers as printed everywhere, blank as 空白, dates in 成文日期 style."""
    if isinstance(v, (list, tuple)):
        return "、".join(_fmt_value(x) for x in v)
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, date):
        return format_date(v) or str(v)
    return format_number(v, blank="空白")


# --------------------------------------------------------------------------- file names

_MAX_STEM_CHARS = 100


def _title(pattern: str, unit: str | None, year: int | None) -> str:
    name = (unit or "").strip() or "未知单位"
    if year is None:
        return pattern.replace("{year}年", "").replace("{year}", "").replace("{unit}", name) + "（年度不明）"
    return pattern.replace("{unit}", name).replace("{year}", str(year))


def unit_xlsx_name(unit: Unit) -> str:
    """File name of a unit's checked workbook, from the form's ``xlsx_title``."""
    return safe_filename(_title(unit.form.xlsx_title, unit.unit, unit.year), ".xlsx", limit=_MAX_STEM_CHARS)


def summary_xlsx_name(year: int | None, form: Form | None = None) -> str:
    """``<年度>年政府信息公开工作汇总.xlsx``; with ``form``, the form's short name is added."""
    stem = f"{year}年政府信息公开工作汇总" if year is not None else "政府信息公开工作汇总（年度不明）"
    if form is not None:
        stem += f"（{form.short_name}）"
    return safe_filename(stem, ".xlsx", limit=_MAX_STEM_CHARS)


def _sheet_name(title: str, taken: set[str]) -> str:
    s = re.sub(r"[\[\]:*?/\\]", "_", _clean(title)).strip("'").strip() or "表"
    s = s[:31]
    base, n = s, 2
    while s.lower() in taken or s.lower() == "history":
        tail = f"({n})"
        s = base[: 31 - len(tail)] + tail
        n += 1
    taken.add(s.lower())
    return s


def _link(sheet: str, row: int, col: int) -> str:
    return "internal:'" + sheet.replace("'", "''") + "'!" + xl_rowcol_to_cell(row, col)


def _footer(unit: str | None, year: int | None) -> str:
    name = _clean(unit or "").replace("\n", " ")[:60].replace("&", "&&")
    yr = f"{year}年度" if year is not None else ""
    return f"&L{name}　{yr}&R第 &P 页，共 &N 页"


# --------------------------------------------------------------------------- styles

_BASE = {"font_name": "宋体", "font_size": 10.5, "valign": "vcenter", "font_charset": 134}
_GRID = {"border": 1, "text_wrap": True}

_STYLE_PROPS: dict[str, dict[str, Any]] = {
    "title": {"font_name": "黑体", "font_size": 16, "align": "center", "text_wrap": True},
    "table_title": {"font_name": "黑体", "font_size": 13, "align": "left"},
    "subtitle": {"font_size": 11, "align": "center"},
    "info": {"align": "left", "text_wrap": True},
    "info_r": {"align": "right"},
    "header": {**_GRID, "font_name": "黑体", "align": "center", "bg_color": "#F2F2F2"},
    "corner": {**_GRID, "font_size": 9.5, "align": "center"},
    "caption": {**_GRID, "font_name": "黑体", "align": "center"},
    "label_parent": {**_GRID, "align": "center"},
    "unit": {**_GRID, "align": "center"},
    "note": {"font_size": 9, "text_wrap": True, "valign": "top", "font_color": "#595959"},
    "list_header": {**_GRID, "font_name": "黑体", "align": "center", "bg_color": "#D9E1F2"},
    "text": {**_GRID, "valign": "top"},
    "text_c": {**_GRID, "valign": "top", "align": "center"},
    "text_l": {**_GRID, "valign": "top", "align": "left"},
    "text_v": {**_GRID, "valign": "vcenter"},
    "field": {**_GRID, "valign": "top", "font_name": "黑体"},
    "narrative": {**_GRID, "valign": "top", "font_name": "仿宋", "font_size": 12},
    "link": {**_GRID, "valign": "top", "font_color": "#0563C1", "underline": 1},
    "date": {**_GRID, "valign": "top", "align": "left", "num_format": 'yyyy"年"m"月"d"日"'},
    "sev_error": {**_GRID, "valign": "top", "align": "center", "bg_color": "#FFC7CE", "font_color": "#9C0006"},
    "sev_warning": {**_GRID, "valign": "top", "align": "center", "bg_color": "#FFEB9C", "font_color": "#7F6000"},
    "sev_explained": {**_GRID, "valign": "top", "align": "center", "bg_color": "#E2EFDA", "font_color": "#375623"},
    "explanation": {**_GRID, "valign": "top", "bg_color": "#F3F9EE"},
    "st_ok": {**_GRID, "valign": "top", "align": "center", "bg_color": "#C6EFCE", "font_color": "#006100"},
    "st_error": {**_GRID, "valign": "top", "align": "center", "bg_color": "#FFC7CE", "font_color": "#9C0006"},
    "st_warning": {**_GRID, "valign": "top", "align": "center", "bg_color": "#FFEB9C", "font_color": "#7F6000"},
    "st_failed": {**_GRID, "valign": "top", "align": "center", "bg_color": "#D9D9D9", "font_color": "#C00000"},
    "legend_error": {"border": 1, "bg_color": "#FFC7CE"},
    "legend_explained": {"border": 1, "bg_color": "#E2EFDA"},
    "legend_error_suspect": {"border": 2, "border_color": "#C00000", "bg_color": "#FF7C80"},
    "legend_warning": {"border": 1, "bg_color": "#FFF2CC"},
    "legend_warning_suspect": {"border": 2, "border_color": "#BF8F00", "bg_color": "#FFD966"},
    "legend_proposal": {"border": 1, "bg_color": "#DDEBF7", "font_color": "#1F4E79", "italic": True},
}

# Cell states, weakest first: the strongest involvement of a cell decides its look.
_STATES = ("explained", "warning", "warning_suspect", "error", "error_suspect")
_STATE_PROPS: dict[str | None, dict[str, Any]] = {
    None: {},
    "explained": {"bg_color": "#E2EFDA"},  # a 提示 answered by a standing 审核说明
    "warning": {"bg_color": "#FFF2CC"},
    "warning_suspect": {
        "bg_color": "#FFD966",
        "bold": True,
        "font_color": "#7F6000",
        "border": 2,
        "border_color": "#BF8F00",
    },
    "error": {"bg_color": "#FFC7CE"},
    "error_suspect": {
        "bg_color": "#FF7C80",
        "bold": True,
        "font_color": "#9C0006",
        "border": 2,
        "border_color": "#C00000",
    },
}
_PROPOSAL_PROPS = {"italic": True, "font_color": "#1F4E79"}
_PROPOSAL_FILL = "#DDEBF7"
_LIST_INDENT_UNITS = 2.2  # width of one indent level in column units


_FORMAT_TEMPLATES: dict[tuple[Any, ...], Format] = {}  # a format's properties → a Format set up from them


def _add_format(wb: xlsxwriter.Workbook, props: dict[str, Any]) -> Format:
    """``wb.add_format(props)``, copied from a Format made once for these properties.

    Setting up a Format (one setter per property) and its style key is most of the cost of a
    format, the same in every workbook. A copy of the untouched template gets the workbook's
    style indices, as ``Workbook.add_format`` gives them; the workbook assigns its own numbers
    when it is written (not public API of XlsxWriter, hence the version range in pyproject.toml;
    the tests compare with ``add_format``).
    """
    if not _REUSE:
        return wb.add_format(props)
    key = (*wb.default_format_properties.items(), None, *props.items())
    template = _FORMAT_TEMPLATES.get(key)
    if template is None:
        template = Format({**wb.default_format_properties, **props})
        template._get_format_key()
        _FORMAT_TEMPLATES[key] = template
    f = Format.__new__(Format)
    f.__dict__.update(template.__dict__)
    f.xf_format_indices = wb.xf_format_indices
    f.dxf_format_indices = wb.dxf_format_indices
    wb.formats.append(f)
    return f


class _Styles:
    """Formats of one workbook, created on first use (XlsxWriter formats belong to a workbook)."""

    def __init__(self, wb: xlsxwriter.Workbook):
        self.wb = wb
        self._cache: dict[Any, Any] = {}

    def __getattr__(self, name: str) -> Any:
        """``st.header`` etc.: the named format, created on first use and then kept as an attribute."""
        if name.startswith("_") or name not in _STYLE_PROPS:
            raise AttributeError(name)
        f = _add_format(self.wb, {**_BASE, **_STYLE_PROPS[name]})
        setattr(self, name, f)
        return f

    def label(self, level: int, indent: bool) -> Any:
        key = ("label", level if indent else 0)
        f = self._cache.get(key)
        if f is None:
            props = {**_BASE, **_GRID, "align": "left"}
            if indent and level:
                props["indent"] = level
            f = self._cache[key] = _add_format(self.wb, props)
        return f

    def flagged(self, state: str | None, narrative: bool = False) -> Any:
        """A text cell (metadata, narrative) involved in a finding."""
        key = ("flagged", state, narrative)
        f = self._cache.get(key)
        if f is None:
            base = _STYLE_PROPS["narrative" if narrative else "text_l"]
            f = self._cache[key] = _add_format(self.wb, {**_BASE, **base, **_STATE_PROPS[state]})
        return f

    def value(self, num_format: str, state: str | None = None, proposal: bool = False) -> Any:
        key = ("value", num_format, state, proposal)
        f = self._cache.get(key)
        if f is None:
            props = {**_BASE, "border": 1, "align": "center", "num_format": num_format, **_STATE_PROPS[state]}
            if proposal:
                props.update(_PROPOSAL_PROPS, shrink=True)
                props.setdefault("bg_color", _PROPOSAL_FILL)
            f = self._cache[key] = _add_format(self.wb, props)
        return f


def _num_format(cell_type: str, v: Any) -> str:
    if isinstance(v, float) and math.isfinite(v) and not v.is_integer():
        v = Decimal(repr(v))  # a fraction the cell does not take (a count of 3.5) is shown as entered
    if cell_type == "decimal" or isinstance(v, Decimal):
        places = 0
        if isinstance(v, Decimal) and v.is_finite():
            places = min(max(-int(v.as_tuple().exponent), 0), 10)
        return "0" if places == 0 else "0." + "0" * places
    if cell_type == "signed_int":
        return "0;-0;0"
    return "0"


def _write_value(ws: Any, r: int, c: int, v: Any, fmt: Any) -> None:
    if v is None:
        ws.write_blank(r, c, None, fmt)
    elif isinstance(v, bool):
        ws.write_number(r, c, int(v), fmt)
    elif isinstance(v, int):
        ws.write_number(r, c, v, fmt)
    elif isinstance(v, (Decimal, float)):
        f = float(v)
        if math.isfinite(f):
            ws.write_number(r, c, f, fmt)
        else:
            ws.write_string(r, c, _clean(v), fmt)
    else:
        ws.write_string(r, c, _clean(v), fmt)


def _write_any(ws: Any, r: int, c: int, v: Any, fmt: Any, date_fmt: Any = None) -> None:
    """Metadata or finding values: numbers as numbers, dates as dates, everything else as text."""
    if isinstance(v, (datetime, date)) and date_fmt is not None:
        ws.write_datetime(r, c, v if isinstance(v, datetime) else datetime(v.year, v.month, v.day), date_fmt)
    elif v is None or isinstance(v, (int, float, Decimal)):
        _write_value(ws, r, c, v, fmt)
    else:
        ws.write_string(r, c, _clean(_fmt_value(v)), fmt)


def _text(ws: Any, r1: int, c1: int, r2: int, c2: int, text: str, fmt: Any) -> None:
    """A (possibly merged) text cell; the text is always written as a string."""
    if r1 != r2 or c1 != c2:
        ws.merge_range(r1, c1, r2, c2, "", fmt)
    ws.write_string(r1, c1, _clean(text), fmt)


# --------------------------------------------------------------------------- table plans

LINE_PT = 14.0  # one line of 10.5 pt text
PAD_PT = 6.0
MIN_ROW_PT = 20.0
_PAGE_PX = {False: (8.27 - 1.0) * 96, True: (11.69 - 1.0) * 96}  # printable width, A4, 0.5" margins
_A3_PAGE_PX = (16.54 - 1.0) * 96  # printable width, A3 landscape
_LANDSCAPE_BELOW = 0.68  # use landscape when portrait would shrink the table below this scale


@dataclass(frozen=True)
class _Plan:
    """The drawing of one table: its grid, column widths, row heights, orientation."""

    table: Table
    grid: Grid
    widths: tuple[float, ...]
    heights: tuple[float, ...]
    col_of: dict[str, int]  # column id → grid column of its values
    landscape: bool
    empty: tuple[tuple[int, int], ...]  # grid positions without a cell (drawn as bordered blanks)
    # the grid's cells in drawing order, relative to its top row: (row, col, last row, last col,
    # value cell id or None, cell type or cleaned text, style: a _Styles name or ("label", level))
    steps: tuple[tuple[int, int, int, int, str | None, str, Any], ...] = ()


def _page_scale(widths: Sequence[float], landscape: bool) -> float:
    px = sum(w * 7 + 5 for w in widths)
    return min(1.0, _PAGE_PX[landscape] / px) if px else 1.0


def _compute_plan(form: Form, table: Table) -> _Plan:
    g = compiled(form).grid(table.id)
    tree = table.layout == "tree"
    indent = table.layout == "list"
    want = [0.0] * g.n_cols
    for gc in g.cells:
        if gc.colspan != 1:
            continue
        text = gc.text or ""
        if gc.kind == "label":
            if gc.rowspan > 1:
                cap = 5 if gc.level == 0 else 7
            else:
                cap = 16 if table.layout != "list" else 30
            n = min(_units(text), cap * 2.0)
            if indent:
                n += gc.level * _LIST_INDENT_UNITS
        elif gc.kind == "header":
            cap = 3 if tree else 6  # official tree tables wrap sub-headers: 商业/企业, 结果/维持
            n = min(_units(text), cap * 2.0)
        elif gc.kind == "unit":
            n = _units(text)
        elif gc.kind == "value":
            n = 6.0
        else:
            continue
        want[gc.col] = max(want[gc.col], n)
    widths = tuple(max(w + 1.5, 6.0) for w in want)

    heights = [MIN_ROW_PT] * g.n_rows
    spanning = []
    for gc in g.cells:
        if not gc.text:
            continue
        width = sum(widths[gc.col : gc.col + gc.colspan])
        if indent and gc.kind == "label":
            width -= gc.level * _LIST_INDENT_UNITS
        need = _lines(gc.text, width) * LINE_PT + PAD_PT
        if gc.rowspan == 1:
            heights[gc.row] = max(heights[gc.row], need)
        else:
            spanning.append((gc, need))
    for gc, need in spanning:
        have = sum(heights[gc.row : gc.row + gc.rowspan])
        if need > have:
            heights[gc.row + gc.rowspan - 1] += need - have
    col_of: dict[str, int] = {}
    for gc in g.cells:
        if gc.cell_id:
            col_of.setdefault(gc.cell_id.rsplit(".", 1)[1], gc.col)
    landscape = _page_scale(widths, False) < _LANDSCAPE_BELOW
    used = g.covered() | {(gc.row, gc.col) for gc in g.cells}
    empty = tuple((r, c) for r in range(g.n_rows) for c in range(g.n_cols) if (r, c) not in used)
    return _Plan(table, g, widths, tuple(heights), col_of, landscape, empty, _grid_steps(table, g))


def _grid_steps(table: Table, g: Grid) -> tuple[tuple[int, int, int, int, str | None, str, Any], ...]:
    """What :func:`_draw_grid` writes for each grid cell, worked out once per table."""
    indent = table.layout == "list"
    steps: list[tuple[int, int, int, int, str | None, str, Any]] = []
    for gc in g.cells:
        r, c = gc.row, gc.col
        r2, c2 = r + gc.rowspan - 1, c + gc.colspan - 1
        if gc.cell_id is not None:  # a value cell
            steps.append((r, c, r2, c2, gc.cell_id, table.cells[gc.cell_id].type, None))
            continue
        kind = gc.kind
        if kind == "label":
            style: Any = "label_parent" if gc.rowspan > 1 else ("label", gc.level if indent else 0)
        elif kind in ("header", "corner", "caption"):
            style = kind
        else:
            style = "unit"
        steps.append((r, c, r2, c2, None, _clean(gc.text), style))
    return tuple(steps)


class _FormInfo:
    """The writer's plan of a form, made once per loaded form (``compiled(form).derive(_FormInfo)``):
    each table's drawing, the cell order, the cells outside the official grids."""

    def __init__(self, form: Form):
        self.plans = {tid: _compute_plan(form, t) for tid, t in form.tables.items()}
        in_grid: set[str] = set()
        for p in self.plans.values():
            in_grid.update(p.grid.value_pos)
        self.cell_ids = compiled(form).cell_order.ids
        self.cell_set = frozenset(self.cell_ids)
        self.off_grid = frozenset(c for c in self.cell_ids if c not in in_grid)
        self.off_grid_of = {tid: tuple(c for c in t.cells if c in self.off_grid) for tid, t in form.tables.items()}
        # rules whose 应为 is a bound, not a value: rule id → its comparison (a finding's ``expected``
        # of 表三“（六）其他处理”不超过总计的一成 is the most it may be)
        self.bounds = {
            r.id: r.expr.op
            for r in compiled(form).rules.rules
            if r.kind == "expr" and isinstance(r.expr, Cmp) and r.expr.op in _BOUND_WORDS
        }


def _form_info(form: Form) -> _FormInfo:
    return compiled(form).derive(_FormInfo) if _REUSE else _FormInfo(form)


def _plan(form: Form, table: Table) -> _Plan:
    return _form_info(form).plans[table.id]


# --------------------------------------------------------------------------- findings → marks


@dataclass
class _Mark:
    """How one cell is involved in findings."""

    state: str | None = None
    proposal: Any = None
    notes: list[str] = field(default_factory=list)


def _rank(state: str | None) -> int:
    return _STATES.index(state) + 1 if state in _STATES else 0


def _severity(f: Finding) -> Severity:
    return ERROR if f.severity == ERROR else WARNING


_BOUND_WORDS = {
    "<": ("<", "应小于"),
    "<=": ("≤", "应不超过"),
    ">": (">", "应大于"),
    ">=": ("≥", "应不少于"),
    "!=": ("≠", "应不等于"),
}


def _bound(form: Form, f: Finding) -> tuple[str, str] | None:
    """(sign, words) when the finding's 应为 is a bound of its rule (≤ 2: 应不超过), else None."""
    op = _form_info(form).bounds.get(f.rule) if not f.grouped else None
    return _BOUND_WORDS[op] if op is not None else None


def _level(f: Finding) -> str:
    """错误 / 提示 / 已说明 (a 提示 answered by a standing 审核说明)."""
    return "已说明" if f.explained else _severity(f).zh


_TITLE_OF: dict[tuple[str, Severity, bool], str] = {}  # a finding's title by what decides it (Finding.title)


def _rule_title(f: Finding) -> str:
    if not _REUSE:
        return f.title
    key = (f.rule, f.severity, f.proposal)
    t = _TITLE_OF.get(key)
    if t is None:
        t = _TITLE_OF[key] = f.title
    return t


def _titles(f: Finding) -> str:
    """The Chinese titles of every rule a finding states (one wrong cell may break several)."""
    return "、".join(dict.fromkeys(_rule_title(g) for g in f.grouped)) if f.grouped else _rule_title(f)


def _finding_text(f: Finding, cid: str | None, unit: Unit) -> str:
    lines = [f"【{_level(f)}】{_titles(f)}：{f.message}"]
    bound = _bound(unit.form, f) if f.expected is not None else None
    if bound is not None:
        lines.append(f"{bound[1]}：{_fmt_value(f.expected)}；实际：{_fmt_value(f.actual)}")
    elif f.expected is not None:
        lines.append(f"应为：{_fmt_value(f.expected)}；实际：{_fmt_value(f.actual)}")
    elif f.actual is not None:  # no value it should have (约10 is no number): not 应为：空白
        lines.append(f"实际：{_fmt_value(f.actual)}")
    if f.suspect:
        if f.suggestion is not None:
            if f.proposal:
                lines.append(f"建议值：{_fmt_value(f.suggestion)}（原表空白，按勾稽关系推算，仅供参考，请核实后填写）")
            elif cid == f.suspect:
                lines.append(f"建议：将本单元格改为 {_fmt_value(f.suggestion)}")
            else:
                lines.append(f"建议：将“{cell_path(unit.form, f.suspect)}”改为 {_fmt_value(f.suggestion)}")
        if cid is not None and cid != f.suspect:
            lines.append(f"最可能出错的单元格：{cell_path(unit.form, f.suspect)}")
    else:
        if f.suggestion is not None:
            lines.append(f"建议：{_fmt_value(f.suggestion)}")
        cands = _candidates(f)
        if cands:
            lines.append("可能出错的单元格（其中之一）：" + "、".join(cell_path(unit.form, c) for c in cands))
    if f.note:
        lines.append(f"说明：{f.note}")
    if f.explanation:
        lines.append(f"审核说明：{f.explanation}")
    if f.explanation_lapsed:
        lines.append(f.explanation_lapsed)
    return "\n".join(lines)


def _candidates(f: Finding) -> tuple[str, ...]:
    """Cells equally likely wrong when a finding has no single suspect."""
    return () if f.suspect else tuple(getattr(f, "candidates", ()) or ())


def _involved(f: Finding, text_refs: dict[str, str]) -> list[str]:
    """Cell ids of a finding, plus ``meta.<field>`` / ``narrative.<section>`` keys for the
    metadata and narrative places it names by their input reference (``sheet!A1``); a finding
    about one paragraph has its ``narrative.<section>#<index>`` key instead of the section's."""
    ids = list(dict.fromkeys(f.cell_ids + _candidates(f)))
    if f.suspect and f.suspect not in ids:
        ids.append(f.suspect)
    section = f"{_SECTION_PREFIXES[0]}{f.paragraph[0]}" if f.paragraph else None
    for ref in f.cells:
        key = text_refs.get(ref)
        if key and key not in ids and key != section:
            ids.append(key)
    if f.paragraph:
        ids.append(_paragraph_key(*f.paragraph))
    return ids


def _paragraph_key(section: str, index: int) -> str:
    return f"{_SECTION_PREFIXES[0]}{section}#{index}"


def _text_refs(unit: Unit) -> dict[str, str]:
    refs = {f"{s}!{a1}": f"meta.{k}" for k, (s, a1) in unit.meta_locations.items()}
    refs.update({f"{s}!{a1}": f"narrative.{k}" for k, (s, a1) in unit.narrative_locations.items()})
    return refs


def _marks(unit: Unit) -> dict[str, _Mark]:
    """Cell id (or metadata / section key) → how the findings involve it."""
    marks: dict[str, _Mark] = {}
    refs = _text_refs(unit) if (unit.meta_locations or unit.narrative_locations) else {}
    for f in unit.findings:
        sev = _severity(f)
        strong = {f.suspect} if f.suspect else set(_candidates(f))
        for cid in _involved(f, refs):
            m = marks.setdefault(cid, _Mark())
            state = "explained" if f.explained else f"{sev}_suspect" if cid in strong else sev
            if _rank(state) > _rank(m.state):
                m.state = state
            if f.proposal and cid == f.suspect and f.suggestion is not None and unit.values.get(cid) is None:
                m.proposal = f.suggestion
            m.notes.append(_finding_text(f, cid, unit))
    return marks


_COMMENT_FILL = Color("#ffffe1")  # XlsxWriter's default fill of a comment box: one object for all (read only)


def _comment(ws: Any, r: int, c: int, notes: list[str]) -> None:
    text = _clean("\n\n".join(notes))
    n = sum(max(1, math.ceil(_units(line) / 44)) for line in text.split("\n"))
    ws.write_comment(
        r,
        c,
        text,
        {
            "author": "审核意见",
            "x_scale": 2.6,
            "y_scale": max(1.0, min(n * 15.5 / 74, 12.0)),
            "font_name": "宋体",
            "font_size": 9,
        },
    )
    # each box gets a colour object of its own (35,000 of them for 10,000 units, about 4 MB until the
    # workbook is written): all of them the same colour, only read when written out
    box = ws.comments.get(r, {}).get(c)
    if box is not None and vars(getattr(box, "color", None) or _COMMENT_FILL) == vars(_COMMENT_FILL):
        box.color = _COMMENT_FILL


def _write_cell(
    ws: Any, st: _Styles | _FixedStyleIds, r: int, c: int, r2: int, c2: int, cell_type: str, v: Any, mark: _Mark | None
) -> None:
    state = mark.state if mark else None
    proposal = mark is not None and mark.proposal is not None and v is None
    fmt = st.value(_num_format(cell_type, v), state, proposal)
    if r2 != r or c2 != c:
        ws.merge_range(r, c, r2, c2, "", fmt)
    if proposal and mark is not None:  # text, not a number: a proposal is never mistaken for a value read
        ws.write_string(r, c, f"建议 {_fmt_value(mark.proposal)}", fmt)
    else:
        _write_value(ws, r, c, v, fmt)
    if mark and mark.notes:
        _comment(ws, r, c, mark.notes)


# --------------------------------------------------------------------------- drawing tables


def _draw_grid(
    ws: Any,
    st: _Styles | _FixedStyleIds,
    form: Form,
    plan: _Plan,
    top: int,
    values: dict[str, Any],
    marks: dict[str, _Mark],
    pos: dict[str, tuple[str, int, int]],
    sheet: str,
) -> int:
    """Draw the official grid at row ``top``; return the first row below it."""
    label = st.label
    plain: dict[str, Any] = {}  # cell type → format of a whole number or blank without a finding
    for r, c, r2, c2, cid, text, style in plan.steps:
        r += top
        r2 += top
        if cid is not None:  # a value cell (``text`` is its type)
            v = values.get(cid)
            mark = marks.get(cid)
            if mark is None and r == r2 and c == c2 and (v is None or v.__class__ is int):
                fmt = plain.get(text)  # what _write_cell does for it, with less asking
                if fmt is None:
                    fmt = plain[text] = st.value(_num_format(text, v))
                if v is None:
                    ws.write_blank(r, c, None, fmt)
                else:
                    ws.write_number(r, c, v, fmt)
            else:
                _write_cell(ws, st, r, c, r2, c2, text, v, mark)
            pos[cid] = (sheet, r, c)
            continue
        fmt = getattr(st, style) if style.__class__ is str else label(style[1], True)
        if r != r2 or c != c2:
            if text:  # merged: the text goes in the first cell, blanks with the format in the others
                ws.merge_range(r, c, r2, c2, text, fmt)
                continue
            ws.merge_range(r, c, r2, c2, "", fmt)
        ws.write_string(r, c, text, fmt)
    for r, c in plan.empty:
        ws.write_blank(top + r, c, None, st.unit)
    for i, h in enumerate(plan.heights):
        ws.set_row(top + i, h)
    return top + plan.grid.n_rows


def _draw_off_grid(
    ws: Any,
    st: _Styles | _FixedStyleIds,
    form: Form,
    plan: _Plan,
    top: int,
    values: dict[str, Any],
    marks: dict[str, _Mark],
    pos: dict[str, tuple[str, int, int]],
    sheet: str,
    cell_ids: Iterable[str],
) -> int:
    """Rows that some layouts add but the official table has no place for (subtotals)."""
    table = plan.table
    rows: dict[str, list[str]] = {}
    for cid in cell_ids:
        cell = table.cells[cid]
        if cell.column in plan.col_of:
            rows.setdefault(cell.row, []).append(cid)
    if not rows:
        return top
    g = plan.grid
    r = top + 1
    _text(ws, r, 0, r, g.n_cols - 1, "附：原表填报的小计行（官方表样中没有这些行，以下数字不属于上表）", st.note)
    ws.set_row(r, LINE_PT * 2 + PAD_PT)
    label_cols = max(g.label_cols, 1)
    for row_id, cids in rows.items():
        r += 1
        node = table.rows[row_id]
        label = "／".join(node.path) + "（小计）"
        width = sum(plan.widths[:label_cols])
        _text(ws, r, 0, r, label_cols - 1, label, st.label(0, False))
        ws.set_row(r, max(MIN_ROW_PT, _lines(label, width) * LINE_PT + PAD_PT))
        for cid in cids:
            c = plan.col_of[table.cells[cid].column]
            if c < label_cols:
                continue
            _write_cell(ws, st, r, c, r, c, table.cells[cid].type, values.get(cid), marks.get(cid))
            pos[cid] = (sheet, r, c)
    return r + 1


_LEGEND = (
    "说明：浅红色为涉及错误的单元格，深红色粗框为最可能出错的单元格（无法确定时为可能出错的几个单元格）；"
    "浅黄色为涉及提示的单元格，深黄色粗框为提示中最可能有误的单元格；浅绿色为已写审核说明的提示；"
    "蓝色斜体的“建议 N”为原表空白、按勾稽关系推算的建议值（仅供参考，不是填报数）。"
    "单元格批注中有问题说明、应为值与实际值及修改建议，全部问题见“审核结果”工作表。"
)


def _legend(ws: Any, st: _Styles | _FixedStyleIds, r: int, n_cols: int, widths: Sequence[float]) -> int:
    _text(ws, r, 0, r, n_cols - 1, _LEGEND, st.note)
    ws.set_row(r, (_lines(_LEGEND, sum(widths[:n_cols]) * 1.1) + 1) * 12.5 + PAD_PT)
    return r + 1


A4, A3 = 9, 8  # XlsxWriter/Excel paper codes
_A3_BELOW = 0.7  # a landscape sheet goes on A3 when A4 would shrink it below this scale


def paper_for(widths: Sequence[float]) -> int:
    """A4, or A3 when the columns (in Excel units) would print too small on A4 landscape."""
    return A3 if _page_scale(widths, True) < _A3_BELOW else A4


def _print_setup(
    ws: Any,
    unit_name: str | None,
    year: int | None,
    landscape: bool,
    fit_width: bool | int = True,
    paper: int = A4,
) -> None:
    """Paper, orientation, margins and footer; ``fit_width``: shrink to one page wide (True)
    or to that many pages wide (an int)."""
    ws.set_paper(paper)
    if landscape:
        ws.set_landscape()
    else:
        ws.set_portrait()
    if fit_width:
        ws.fit_to_pages(1 if fit_width is True else int(fit_width), 0)
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.7)
    ws.center_horizontally()
    ws.set_footer(_footer(unit_name, year), {"margin": 0.3})


def print_list_sheet(ws: Any, widths: Sequence[float], title: str | None, year: int | None, header_row: int) -> None:
    """Print setup of a list sheet (one record a row): landscape on A4, or on A3 when the
    columns would shrink too much, fitted to the page width, ``header_row`` on every page."""
    _print_setup(ws, title, year, True, paper=paper_for(widths))
    ws.repeat_rows(header_row)


def wrapped_lines(text: str, width: float) -> int:
    """Lines a wrapped text needs in a cell of ``width`` column units (see :func:`_lines`)."""
    return _lines(text, width)


def row_height(cells: Iterable[tuple[Any, float]]) -> float:
    """Height (points) of a row whose wrapped texts are ``(text, column width)``."""
    lines = max((_lines(str(text), w) for text, w in cells), default=1)
    return min(409.0, max(MIN_ROW_PT, lines * LINE_PT + PAD_PT))


def _write_table_sheet(
    wb: Any,
    st: _Styles | _FixedStyleIds,
    form: Form,
    table: Table,
    sheet: str,
    year: int | None,
    values: dict[str, Any],
    marks: dict[str, _Mark],
    pos: dict[str, tuple[str, int, int]],
    info: str,
    footer_name: str | None,
    landscape: bool | None = None,
) -> None:
    """One official table on its own sheet: title, 单位/年度 line, grid, notes, print setup
    (``landscape``: None for the orientation the table needs)."""
    info_of_form = _form_info(form)
    plan = info_of_form.plans[table.id]
    g = plan.grid
    ws = wb.add_worksheet(sheet)
    ws.hide_gridlines(2)
    n = max(g.n_cols, 2)
    for i, w in enumerate(plan.widths):
        ws.set_column(i, i, w)
    total_w = sum(plan.widths)
    title = table.title_for(year)
    _text(ws, 0, 0, 0, n - 1, title, st.title)
    ws.set_row(0, max(30.0, _lines(title, total_w / 1.55) * 22.0 + 6))
    r = 1
    if table.subtitle:
        _text(ws, r, 0, r, n - 1, table.subtitle, st.subtitle)
        ws.set_row(r, 20)
        r += 1
    left = n - 1 if n <= 5 else n // 2  # 单位名称 on the left, 年度 on the right
    _text(ws, r, 0, r, left - 1, info, st.info)
    _text(ws, r, left, r, n - 1, f"{year}年度" if year is not None else "年度不明", st.info_r)
    ws.set_row(r, max(MIN_ROW_PT, _lines(info, sum(plan.widths[:left])) * LINE_PT + PAD_PT))
    top = r + 1
    end = _draw_grid(ws, st, form, plan, top, values, marks, pos, sheet)
    if table.footnote:
        _text(ws, end, 0, end, n - 1, table.footnote, st.note)
        end += 1
    off = [cid for cid in info_of_form.off_grid_of[table.id] if values.get(cid) is not None or cid in marks]
    end = _draw_off_grid(ws, st, form, plan, end, values, marks, pos, sheet, off)
    if any(k in table.cells for k in marks):
        end = _legend(ws, st, end + 1, n, plan.widths)
    ws.freeze_panes(top + g.header_rows, g.label_cols)
    _print_setup(ws, footer_name, year, plan.landscape if landscape is None else landscape)
    if g.header_rows:
        ws.repeat_rows(top, top + g.header_rows - 1)
    else:  # a table of blocks (表二) has a header per block: the title and 单位 line repeat instead
        ws.repeat_rows(0, top - 1)
    ws.print_area(0, 0, max(end - 1, top), n - 1)


# --------------------------------------------------------------------------- 基本信息 / 审核结果

_META_PREFIXES = ("meta.", "metadata.")
_SECTION_PREFIXES = ("narrative.", "section.")


def _write_info_sheet(
    ws: Any, st: _Styles, unit: Unit, marks: dict[str, _Mark], pos: dict[str, tuple[str, int, int]], sheet: str
) -> None:
    form = unit.form
    ws.hide_gridlines(2)
    ws.set_column(0, 0, 24)
    ws.set_column(1, 1, 92)
    _text(ws, 0, 0, 0, 1, "基本信息", st.title)
    ws.set_row(0, 30)
    ws.write_string(1, 0, "项目", st.list_header)
    ws.write_string(1, 1, "内容（按原表读取）", st.list_header)
    r = 2
    counts = f"{unit.status}（错误 {len(unit.errors)} 条，提示 {len(unit.open_warnings)} 条"
    counts += f"，已说明 {len(unit.explained)} 条）" if unit.explained else "）"
    for label, value in (("源文件", unit.file.name), ("表样", form.name), ("审核结论", counts)):
        ws.write_string(r, 0, label, st.field)
        ws.write_string(r, 1, _clean(value), st.text)
        ws.set_row(r, max(MIN_ROW_PT, _lines(value, 92) * LINE_PT + PAD_PT))
        r += 1

    def mark_for(key: str, prefixes: tuple[str, ...]) -> tuple[_Mark | None, list[str]]:
        """Findings may point at a metadata field or a section by id (optionally prefixed)."""
        keys = [p + key for p in prefixes if (p + key) in marks and (p + key) not in cell_set]
        if not keys:
            return None, []
        return _Mark(state=max((marks[k].state for k in keys), key=_rank)), keys

    cell_set = _form_info(form).cell_set
    fields = list(form.metadata)
    known = {f.id for f in fields}
    extra = [k for k in unit.meta if k not in known]
    for fid, label in [(f.id, f.label) for f in fields] + [(k, k) for k in extra]:
        v = unit.meta.get(fid)
        m, keys = mark_for(fid, _META_PREFIXES)
        ws.write_string(r, 0, _clean(label), st.field)
        if m is not None:
            fmt = st.flagged(m.state)
            ws.write_string(r, 1, _clean(_fmt_value(v)) if v is not None else "", fmt)
            _comment(ws, r, 1, [n for k in keys for n in marks[k].notes])
            for k in keys:
                pos[k] = (sheet, r, 1)
        else:
            _write_any(ws, r, 1, v, st.text_l, st.date)
        lines = max(_lines(v, 92) if isinstance(v, str) else 1, _lines(label, 24))
        ws.set_row(r, min(409.0, max(MIN_ROW_PT, lines * LINE_PT + PAD_PT)))
        r += 1

    r += 1
    _text(ws, r, 0, r, 1, "报告正文（按原文读取）", st.table_title)
    ws.set_row(r, 24)
    r += 1
    ws.write_string(r, 0, "章节", st.list_header)
    ws.write_string(r, 1, "内容", st.list_header)
    r += 1
    sections = [(s.id, s.heading) for s in form.sections if s.kind == "text"]
    known_s = {sid for sid, _ in sections}
    sections += [(k, k) for k in unit.narrative if k not in known_s]
    for sid, heading in sections:
        text = unit.narrative.get(sid) or ""
        paras = [p for p in text.split("\n") if p.strip()] or [""]
        _, keys = mark_for(sid, _SECTION_PREFIXES)
        # findings of the section mark its first paragraph; those of one paragraph (a number in
        # the text that contradicts the table) mark that paragraph
        at = [keys] + [[] for _ in paras[1:]]
        for k in marks:
            head, sep, index = k.rpartition("#")
            if sep and head == f"{_SECTION_PREFIXES[0]}{sid}" and index.isdigit():
                at[int(index) if int(index) < len(paras) else 0].append(k)
        first = r
        total = 0.0
        for i, p in enumerate(paras):
            here = at[i]
            if here:
                state = max((marks[k].state for k in here), key=_rank)
                ws.write_string(r, 1, _clean(p), st.flagged(state, narrative=True))
                _comment(ws, r, 1, [n for k in here for n in marks[k].notes])
                for k in here:
                    pos[k] = (sheet, r, 1)
            else:
                ws.write_string(r, 1, _clean(p), st.narrative)
            h = min(409.0, max(MIN_ROW_PT, _lines(p, 92 * 0.85) * 17.0 + PAD_PT))
            if i == len(paras) - 1:  # the merged heading must fit too
                h = min(409.0, max(h, _lines(heading, 24) * LINE_PT + PAD_PT - total))
            ws.set_row(r, h)
            total += h
            r += 1
        _text(ws, first, 0, r - 1, 0, heading, st.field)
    ws.freeze_panes(2, 0)
    _print_setup(ws, unit.unit, unit.year, False)
    ws.repeat_rows(1)


_FINDING_COLS: tuple[tuple[str, float], ...] = (
    ("序号", 5),
    ("级别", 6),
    ("问题", 12),
    ("表", 16),
    ("行", 24),
    ("列", 14),
    ("单元格", 11),
    ("原表位置", 18),
    ("应为", 9),
    ("实际", 9),
    ("问题说明", 40),
    ("建议", 20),
    ("备注", 16),
    (EXPLANATION_HEADER, 24),
    ("编号", 9),  # the internal rule id, for the office's reference
)
_EXPLAIN_HOW = (
    "对“提示”，核实数字无误的，可在“审核说明”列写明情况，修改后把本工作簿重新报送；“错误”必须改正，不能以说明代替。"
)


def _finding_place(form: Form, f: Finding) -> tuple[str, str, str]:
    """Table title, row path and column path of the finding's main cell; a finding about several
    rows (or columns) with no one cell to blame names them all, not just the first."""
    cell_set = _form_info(form).cell_set
    main = f.suspect or next((c for c in f.cell_ids if c in cell_set), None)
    table_id = f.table
    row = col = ""
    if main and main in cell_set:
        cell = form.cell(main)
        t = form.tables[cell.table]
        table_id = table_id or cell.table
        row, col = t.row_path(cell.row), t.column_path(cell.column)
        if not f.suspect:
            cells = [form.cell(c) for c in f.cell_ids if c in cell_set and form.cell(c).table == t.id]
            rows = list(dict.fromkeys(c.row for c in cells))
            cols = list(dict.fromkeys(c.column for c in cells))
            if len(rows) > 1:
                row = _several([t.rows[x].label for x in rows], "行")
            if len(cols) > 1:
                col = _several([t.columns[x].label for x in cols], "列")
    title = form.tables[table_id].title_for(None).strip() if table_id in form.tables else (table_id or "")
    return title, row, col


def _several(labels: list[str], what: str, shown: int = 3) -> str:
    """Several rows' or columns' labels, shortened: ``1.申请人无正当…、3.其他等 4 行``."""
    short = [x if len(x) <= 12 else x[:11] + "…" for x in labels[:shown]]
    return "、".join(short) + (f"等 {len(labels)} {what}" if len(labels) > shown else f"（{len(labels)} {what}）")


def compact_refs(refs: Sequence[str], limit: int = 12) -> str:
    """Input references grouped by sheet: ``三、…!D6、E6、F6``, each once; long lists end with 等 N 处."""
    refs = list(dict.fromkeys(refs))  # a cell a finding names twice (a rule over a cell and its sum) is one place
    groups: dict[str, list[str]] = {}
    for ref in refs:
        sheet, sep, a1 = ref.rpartition("!")
        groups.setdefault(sheet if sep else "", []).append(a1 if sep else ref)
    parts = []
    shown = 0
    for sheet, cells in groups.items():
        take = cells[: max(limit - shown, 0)]
        shown += len(take)
        if take:
            parts.append((f"{sheet}!" if sheet else "") + "、".join(take))
    text = "；".join(parts)
    return text + (f" 等 {len(refs)} 处" if len(refs) > shown else "")


def _suggestion_text(f: Finding) -> str:
    if f.suggestion is None:
        return ""
    if f.proposal:
        return f"建议值 {_fmt_value(f.suggestion)}（原表空白，推算值，仅供参考）"
    return f"改为 {_fmt_value(f.suggestion)}"


def _sorted_findings(findings: Sequence[Finding]) -> list[Finding]:
    """Errors, then open 提示, then 已说明."""
    return sorted(findings, key=lambda f: 0 if _severity(f) == ERROR else 2 if f.explained else 1)


def _write_findings_sheet(
    ws: Any,
    st: _Styles,
    rows: list[tuple[Unit, Finding, tuple[str, int, int] | None]],
    with_unit: bool,
    unit_name: str | None,
    year: int | None,
    sheet_of: dict[str, str],
) -> None:
    """One row per finding; the 单元格 column links to the cell in this workbook.

    ``sheet_of`` maps table ids to their sheets: a link into the finding's own
    table sheet shows just the cell address (the 表 column names the sheet).
    A unit's own workbook (``with_unit`` False) is the next submission: its 审核说明
    column takes the unit's explanations, and the hidden 核对码 column keeps the identity of
    each finding (rule and figures) so that an explanation is read back with what it answers.
    """
    cols = list(_FINDING_COLS)
    if with_unit:
        cols[1:1] = [("单位", 18), ("文件", 16)]
    else:
        cols.append((KEY_HEADER, 20))
    ws.hide_gridlines(2)
    for i, (_, w) in enumerate(cols):
        ws.set_column(i, i, w)
    if not with_unit:
        ws.set_column(len(cols) - 1, len(cols) - 1, 20, None, {"hidden": True})
    n_err = sum(1 for _, f, _ in rows if _severity(f) == ERROR)
    n_done = sum(1 for _, f, _ in rows if f.explained)
    n_warn = len(rows) - n_err - n_done
    head = "审核结果：未发现问题"
    if rows:
        head = f"审核结果：共 {len(rows)} 条（错误 {n_err} 条，提示 {n_warn} 条" + (
            f"，已说明 {n_done} 条）" if n_done else "）"
        )
        if not with_unit and n_err + n_warn:
            head += "。" + _EXPLAIN_HOW
    _text(ws, 0, 0, 0, len(cols) - 1, head, st.table_title)
    ws.set_row(0, 26 if len(head) < 60 else 40)
    for i, (name, _) in enumerate(cols):
        ws.write_string(1, i, name, st.list_header)
    r = 2
    for k, (unit, f, target) in enumerate(rows, start=1):
        form = unit.form
        c = 0
        ws.write_number(r, c, k, st.text_c)
        c += 1
        if with_unit:
            ws.write_string(r, c, _clean(unit.unit or "未知单位"), st.text)
            ws.write_string(r, c + 1, _clean(unit.file.name), st.text)
            c += 2
        sev = _severity(f)
        level = st.sev_explained if f.explained else st.sev_error if sev == ERROR else st.sev_warning
        ws.write_string(r, c, _level(f), level)
        ws.write_string(r, c + 1, _clean(_titles(f)), st.text)
        title, row_path, col_path = _finding_place(form, f)
        ws.write_string(r, c + 2, _clean(title), st.text)
        ws.write_string(r, c + 3, _clean(row_path), st.text)
        ws.write_string(r, c + 4, _clean(col_path), st.text)
        if target is not None:
            sheet, tr, tc = target
            a1 = xl_rowcol_to_cell(tr, tc)
            shown = a1 if sheet == sheet_of.get(f.table or "") else f"{sheet}!{a1}"
            ws.write_url(r, c + 5, _link(sheet, tr, tc), st.link, string=shown, tip="转到该单元格")
        else:
            ws.write_blank(r, c + 5, None, st.text)
        where = compact_refs(f.cells or tuple(unit.ref(x) for x in f.cell_ids if x in unit.locations))
        ws.write_string(r, c + 6, _clean(where), st.text)
        bound = _bound(form, f) if f.expected is not None else None
        if bound is not None:  # the most (or least) it may be, not what it should be
            ws.write_string(r, c + 7, f"{bound[0]} {_fmt_value(f.expected)}", st.text)
        else:
            _write_any(ws, r, c + 7, f.expected, st.text)
        _write_any(ws, r, c + 8, f.actual, st.text)
        ws.write_string(r, c + 9, _clean(f.message), st.text)
        sug = _suggestion_text(f)
        ws.write_string(r, c + 10, _clean(sug), st.text)
        remark = "；".join(x for x in (f.note, f.explanation_lapsed) if x)
        if f.explanation and not f.explained:  # a lapsed one is shown here, never as a standing answer
            remark += f"（原审核说明：{f.explanation}）"
        ws.write_string(r, c + 11, _clean(remark), st.text)
        # only a standing explanation is written where the unit types: read back, it answers this finding
        ws.write_string(r, c + 12, _clean(f.explanation if f.explained else ""), st.explanation)
        ws.write_string(r, c + 13, _clean("、".join(f.rules)), st.text)
        if not with_unit:
            ws.write_string(r, c + 14, _clean(finding_key(unit, f)), st.text)
        lines = max(
            _lines(f.message, 40),
            _lines(sug, 20),
            _lines(row_path, 24),
            _lines(remark, 16),
            _lines(f.explanation or "", 24) if f.explained else 1,
            _lines(title, 16),
            _lines(where, 18),
            _lines(col_path, 14),
            _lines(_titles(f), 12),
            _lines("、".join(f.rules), 9),
            _lines(unit.unit or "", 18) if with_unit else 1,
            _lines(unit.file.name, 16) if with_unit else 1,
        )
        ws.set_row(r, min(409.0, max(MIN_ROW_PT, lines * LINE_PT + PAD_PT)))
        r += 1
    ws.autofilter(1, 0, max(r - 1, 1), len(cols) - 1)
    ws.freeze_panes(2, 0)
    widths = [w for _, w in cols[: len(cols) - (0 if with_unit else 1)]]  # the hidden 核对码 does not print
    _print_setup(ws, unit_name, year, True, paper=paper_for(widths))
    ws.repeat_rows(1)


def _finding_target(
    f: Finding, pos: Mapping[str, tuple[str, int, int]] | _DetailPositions, refs: dict[str, str]
) -> tuple[str, int, int] | None:
    """Where the finding's link goes: its suspect cell (or first candidate), the paragraph it quotes,
    else the first place shown."""
    quoted = [_paragraph_key(*f.paragraph)] if f.paragraph else []
    for cid in ([f.suspect] if f.suspect else []) + list(_candidates(f)) + quoted + _involved(f, refs):
        if cid in pos:
            return pos[cid]
    return None


# --------------------------------------------------------------------------- per unit


def _table_sheet_names(form: Form, year: int | None, taken: set[str]) -> dict[str, str]:
    return {tid: _sheet_name(t.title_for(year), taken) for tid, t in form.tables.items()}


def _entered_texts(unit: Unit) -> dict[str, Any]:
    """Cells whose entry was more than a number, as the unit wrote them: a number with its note
    (``12（其中修订6件）``), an entry that is no number (``约10``) and a number the cell does not take
    (``-1``, a count of ``3.5``, written back as the number it was). The checked workbook is the unit's
    next submission: read again, it gives the same values, notes and findings, and never loses an entry."""
    out: dict[str, Any] = {cid: f"{_fmt_value(unit.values.get(cid))}（{note}）" for cid, note in unit.notes.items()}
    for f in unit.findings:
        if f.rule != "READ.value" or len(f.cell_ids) != 1:
            continue
        entered = f.actual
        if isinstance(entered, str):
            if not entered.strip():
                continue
        elif isinstance(entered, bool) or not isinstance(entered, (int, float, Decimal)):
            continue
        cid = f.cell_ids[0]
        if unit.values.get(cid) is None:
            out[cid] = entered
    return out


_GC_LOCK = threading.Lock()
_GC_HELD = [0, False]  # workbooks being built now; whether the collector was on before the first


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a workbook is built (other threads may build
    theirs at the same time: it is on again when the last one is done, if it was on before).

    A workbook is tens of thousands of small objects alive until it is written out: the
    collections their allocation sets off find nothing to free, and promote them all to the
    old generation, whose full collections walk every object of the process (a batch worker
    holds pandas; the batch's parent the records of every unit). Freed by reference counting
    once written (see :func:`release_workbook`), they never reach the collector. The same holds
    for a year's summary: its light units and their findings live until it is written.
    """
    with _GC_LOCK:
        if _GC_HELD[0] == 0:
            _GC_HELD[1] = _gc.isenabled()
            _gc.disable()
        _GC_HELD[0] += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_HELD[0] -= 1
            if _GC_HELD[0] == 0 and _GC_HELD[1]:
                _gc.enable()


def write_unit_xlsx(unit: Unit, path: Path | str, digest: dict[str, Any] | None = None) -> Path:
    """Write the checked workbook of one unit (atomically) and return its path; ``digest``, when
    given, receives the written file's :func:`~gkreport.fileio.file_digest` (from the bytes written).

    Sheets: one per official table (official layout, findings highlighted and
    commented), ``审核结果`` (one row per finding, linked to its cell) and
    ``基本信息`` (metadata and narrative as read).
    """
    path = Path(path)
    data = unit_xlsx_bytes(unit)
    atomic_write_bytes(path, data)
    if digest is not None:
        digest.update(digest_of(data))
    return path


_FAST = True  # False: every unit workbook is written with XlsxWriter (the reference the tests compare with)


def unit_xlsx_bytes(unit: Unit) -> bytes:
    """The checked workbook of one unit, as the bytes of its file."""
    out = io.BytesIO()
    with collector_paused():  # the workbook is freed on return, before the collector is on again
        if _FAST:
            try:
                _build_unit_workbook_fast(unit, out)
                return out.getvalue()
            except Unsupported:
                out = io.BytesIO()  # something the fast writer does not take: XlsxWriter writes it
        wb = xlsxwriter.Workbook(out, _wb_options())
        wb.set_properties(
            {
                "title": _clean(_title(unit.form.xlsx_title, unit.unit, unit.year)),
                "subject": unit.form.name,
                "comments": _UNIT_COMMENTS,
            }
        )
        _draw_unit(wb, _Styles(wb), unit)
        wb.close()
        release_workbook(wb)
    return out.getvalue()


_UNIT_COMMENTS = "政府信息公开工作年度报告统计表审核结果"


def _draw_unit(wb: Any, st: Any, unit: Unit, table_sheet: Any = None) -> None:
    """Draw every sheet of a unit's checked workbook into ``wb`` (an XlsxWriter workbook or a
    :class:`_Book`); ``table_sheet``: what draws a table's sheet (:func:`_write_table_sheet`)."""
    table_sheet = table_sheet or _write_table_sheet
    form = unit.form
    marks = _marks(unit)
    values = {**unit.values, **_entered_texts(unit)}
    taken = {"审核结果", "基本信息"}
    names = _table_sheet_names(form, unit.year, taken)
    pos: dict[str, tuple[str, int, int]] = {}
    for tid, table in form.tables.items():
        table_sheet(
            wb,
            st,
            form,
            table,
            names[tid],
            unit.year,
            values,
            marks,
            pos,
            f"单位名称：{unit.unit or ''}",
            unit.unit,
        )
    ws_find = wb.add_worksheet(FINDINGS_SHEET)
    ws_info = wb.add_worksheet("基本信息")
    _write_info_sheet(ws_info, st, unit, marks, pos, "基本信息")
    refs = _text_refs(unit)
    rows = [(unit, f, _finding_target(f, pos, refs)) for f in _sorted_findings(unit.findings)]
    _write_findings_sheet(ws_find, st, rows, False, unit.unit, unit.year, names)


# --------------------------------------------------------------------------- fast path of the unit workbook

_MAX_LABEL_LEVEL = 12  # list indentation levels given a style up front (the forms use up to 3)
_VALUE_NUM_FORMATS = ("0", "0;-0;0", *("0." + "0" * p for p in range(1, 11)))  # every _num_format result


def _register_unit_styles(wb: Any) -> dict[Any, Any]:
    """Every format a unit workbook can use, by the key :class:`_FixedStyleIds` asks for."""
    st = _Styles(wb)
    out: dict[Any, Any] = {name: getattr(st, name) for name in _STYLE_PROPS}
    for level in range(_MAX_LABEL_LEVEL + 1):
        out[("label", level)] = st.label(level, True)
    for state in (None, *_STATES):
        for narrative in (False, True):
            out[("flagged", state, narrative)] = st.flagged(state, narrative)
        for num_format in _VALUE_NUM_FORMATS:
            for proposal in (False, True):
                out[("value", num_format, state, proposal)] = st.value(num_format, state, proposal)
    return out


class _FixedStyleIds:
    """The :class:`_Styles` interface over one styles part made for every unit workbook:
    formats are style ids, the same in every workbook."""

    def __init__(self, ids: dict[Any, int]):
        self._ids = ids

    def __getattr__(self, name: str) -> int:
        if name.startswith("_") or name not in _STYLE_PROPS:
            raise AttributeError(name)
        xf = self._ids[name]
        setattr(self, name, xf)
        return xf

    def _get(self, key: Any) -> int:
        xf = self._ids.get(key)
        if xf is None:
            raise Unsupported(f"no style registered for {key!r}")
        return xf

    def label(self, level: int, indent: bool) -> int:
        return self._get(("label", level if indent else 0))

    def flagged(self, state: str | None, narrative: bool = False) -> int:
        return self._get(("flagged", state, narrative))

    def value(self, num_format: str, state: str | None = None, proposal: bool = False) -> int:
        return self._get(("value", num_format, state, proposal))


_UNIT_STYLES: list[tuple[FixedStyles, _FixedStyleIds]] = []
_UNIT_STYLES_LOCK = threading.Lock()


def _unit_styles() -> tuple[FixedStyles, _FixedStyleIds]:
    """The styles part of every unit workbook, made once per process."""
    if not _UNIT_STYLES:
        with _UNIT_STYLES_LOCK:
            if not _UNIT_STYLES:
                fixed = FixedStyles(_wb_options(), _register_unit_styles)
                _UNIT_STYLES.append((fixed, _FixedStyleIds(fixed.ids)))
    return _UNIT_STYLES[0]


class _Book:
    """What :func:`_draw_unit` asks of a workbook, for the fast writer: its sheets in order."""

    def __init__(self) -> None:
        self.sheets: list[Sheet] = []
        self.shared = SharedStrings()

    def add_worksheet(self, name: str) -> Sheet:
        sheet = Sheet(name)
        sheet.shared = self.shared
        self.sheets.append(sheet)
        return sheet


def _build_unit_workbook_fast(unit: Unit, tmp: Any) -> None:
    """The unit workbook drawn by the same code, written by :mod:`gkreport.xlsx_fill`: the same
    cells, styles, comments and print setup as XlsxWriter writes (the tests compare the two)."""
    fixed, st = _unit_styles()
    book = _Book()
    _draw_unit(book, st, unit, _fill_table_sheet)
    package(
        tmp,
        book.sheets,
        fixed,
        book.shared,
        _clean(_title(unit.form.xlsx_title, unit.unit, unit.year)),
        unit.form.name,
        _UNIT_COMMENTS,
    )


class _SheetFrames(dict):
    """A form's table sheets drawn without a unit (``compiled(form).derive(_SheetFrames)``), by
    (table id, year, sheet name): what every unit's sheet of that table shares, with the places
    of its value cells. Only the fast writer uses them: each unit copies the frame and fills it."""

    def __init__(self, form: Form):
        super().__init__()


@dataclass(frozen=True)
class _Frame:
    sheet: Sheet
    pos: dict[str, tuple[str, int, int]]
    info_row: int  # the 单位名称 line
    info_width: float  # its width in column units (its height follows the name)
    top: int  # the grid's first row
    end: int  # the first row below the grid and its footnote
    values: tuple[tuple[int, int, int, int, str, str], ...]  # (row, col, last row, last col, cell id, type)


def _frame(form: Form, table: Table, sheet: str, year: int | None) -> _Frame:
    frames = compiled(form).derive(_SheetFrames) if _REUSE else {}  # not _REUSE: drawn again per workbook
    key = (table.id, year, sheet)
    frame = frames.get(key)
    if frame is None:
        _, st = _unit_styles()
        book = _Book()
        pos: dict[str, tuple[str, int, int]] = {}
        _write_table_sheet(book, st, form, table, sheet, year, {}, {}, pos, "", None)
        if book.shared.strings:  # a label the form spells with escapes: each workbook would need them
            raise Unsupported("form text with escapes")
        book.sheets[0].shared = None
        plan = _plan(form, table)
        n = max(plan.grid.n_cols, 2)
        top = 2 if table.subtitle else 1
        left = n - 1 if n <= 5 else n // 2
        end = top + 1 + plan.grid.n_rows + (1 if table.footnote else 0)
        cells = tuple(
            (r + top + 1, c, r2 + top + 1, c2, cid, kind)
            for r, c, r2, c2, cid, kind, _ in plan.steps
            if cid is not None
        )
        frame = frames[key] = _Frame(book.sheets[0], pos, top, sum(plan.widths[:left]), top + 1, end, cells)
    return frame


def _fill_table_sheet(
    wb: _Book,
    st: _FixedStyleIds,
    form: Form,
    table: Table,
    sheet: str,
    year: int | None,
    values: dict[str, Any],
    marks: dict[str, _Mark],
    pos: dict[str, tuple[str, int, int]],
    info: str,
    footer_name: str | None,
) -> None:
    """What :func:`_write_table_sheet` draws, from the table's frame: only the unit's name,
    values, findings and what follows the grid are drawn per unit."""
    frame = _frame(form, table, sheet, year)
    plan = _plan(form, table)
    n = max(plan.grid.n_cols, 2)
    ws = frame.sheet.copy()
    ws.shared = wb.shared
    wb.sheets.append(ws)
    r = frame.info_row
    ws.write_string(r, 0, _clean(info), st.info)
    ws.set_row(r, max(MIN_ROW_PT, _lines(info, frame.info_width) * LINE_PT + PAD_PT))
    plain: dict[str, int] = {}
    get_mark = marks.get
    for r, c, r2, c2, cid, kind in frame.values:
        v = values.get(cid)
        mark = get_mark(cid)
        if mark is None and r == r2 and c == c2 and (v is None or v.__class__ is int):
            xf = plain.get(kind)  # what _write_cell does for it, with less asking
            if xf is None:
                xf = plain[kind] = st.value(_num_format(kind, v))
            ws.put(r, c, blank_cell(r, c, xf) if v is None else number_cell(r, c, v, xf))
        else:
            _write_cell(ws, st, r, c, r2, c2, kind, v, mark)
    pos.update(frame.pos)
    end = frame.end
    off = [cid for cid in _form_info(form).off_grid_of[table.id] if values.get(cid) is not None or cid in marks]
    end = _draw_off_grid(ws, st, form, plan, end, values, marks, pos, sheet, off)
    if any(k in table.cells for k in marks):
        end = _legend(ws, st, end + 1, n, plan.widths)
    ws.set_footer(_footer(footer_name, year), {"margin": 0.3})
    ws.print_area(0, 0, max(end - 1, frame.top), n - 1)


def release_workbook(wb: xlsxwriter.Workbook) -> None:
    """Break the reference cycle of a written workbook: each sheet keeps the workbook's
    ``add_format`` (not public API of XlsxWriter; a version without it only leaves the cycle).
    Reference counting then frees its objects at once, without the cyclic collector."""
    for ws in wb.worksheets():
        ws.workbook_add_format = None


# --------------------------------------------------------------------------- grouping


def group_units(units: Iterable[Unit]) -> dict[tuple[str, int | None], list[Unit]]:
    """Units by (form id, year), largest group first; only a group is summed together."""
    groups: dict[tuple[str, int | None], list[Unit]] = {}
    for u in units:
        groups.setdefault((u.form.id, u.year), []).append(u)
    return dict(sorted(groups.items(), key=lambda kv: -len(kv[1])))


def _group_words(form: Form, year: int | None) -> str:
    return f"{form.short_name}、{year}年度" if year is not None else f"{form.short_name}、年度不明"


def mismatch_messages(groups: dict[tuple[str, int | None], list[Unit]]) -> list[str]:
    """Chinese lines telling which units use another form or year than the main group."""
    if len(groups) < 2:
        return []
    items = list(groups.values())
    main = items[0][0]
    out = [f"报送的单位使用了 {len(groups)} 种不同的表样或年度，不能合并汇总，已按表样和年度分别汇总。"]
    for us in items[1:]:
        names = "、".join((u.unit or plain_name(u.file.name)) for u in us[:20]) + ("等" if len(us) > 20 else "")
        out.append(
            f"{len(us)} 个单位使用{_group_words(us[0].form, us[0].year)}，"
            f"与多数单位（{_group_words(main.form, main.year)}）不同，已单独汇总：{names}"
        )
    return out


# --------------------------------------------------------------------------- summary workbook


def _unit_headers(units: Sequence[Unit]) -> list[str]:
    names = [(u.unit or "").strip() or Path(plain_name(u.file.name)).stem for u in units]
    seen: dict[str, int] = {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
    return [f"{n}（{u.file.name}）" if seen[n] > 1 else n for n, u in zip(names, units)]


def summary_table_sheets(form: Form) -> dict[str, str]:
    """Sheet names of the summed official tables: ``汇总表`` for a one-table form, else
    ``汇总表（二）``, ``汇总表（三）`` … after each table's number (one table per sheet,
    so that each prints on its own pages at a readable scale)."""
    if len(form.tables) == 1:
        return {next(iter(form.tables)): "汇总表"}
    taken: set[str] = set()
    out = {}
    for i, (tid, t) in enumerate(form.tables.items(), start=1):
        head, sep, _ = t.title_for(None).partition("、")
        out[tid] = _sheet_name(f"汇总表（{head}）" if sep and 0 < len(head) <= 3 else f"汇总表{i}", taken)
    return out


def _write_summary_tables(
    wb: Any,
    st: _Styles,
    form: Form,
    year: int | None,
    totals: dict[str, Any],
    units: Sequence[Unit],
    marks: dict[str, _Mark] | None = None,
    pos: dict[str, tuple[str, int, int]] | None = None,
    summary: YearSummary | None = None,
) -> None:
    """The summed official tables, one per sheet; ``marks`` (the sum's findings) colour and
    comment their cells as in a unit's workbook, ``pos`` collects where each cell is."""
    names = "、".join((u.unit or Path(plain_name(u.file.name)).stem) for u in units[:6]) + (
        "等" if len(units) > 6 else ""
    )
    info = f"汇总单位：{len(units)} 个（{names}），表中数字为各单位填报数之和"
    if summary is not None and summary.mapped:
        info += f"（其中 {len(summary.mapped)} 个按旧表样换算，见“审核结果”）"
    for tid, sheet in summary_table_sheets(form).items():
        _write_table_sheet(
            wb,
            st,
            form,
            form.tables[tid],
            sheet,
            year,
            totals,
            marks or {},
            pos if pos is not None else {},
            info,
            f"汇总（{len(units)} 个单位）",
            True,
        )


_DETAIL_SHEET = "分单位明细"
_DETAIL_HEAD = 3  # header rows of 分单位明细: table, row label, column label
_DETAIL_NAME_W = 34.0  # width of the unit name column: names of up to 17 characters on one line
_DETAIL_VALUE_W = 6.0  # width of a value column of a table with several value columns
_DETAIL_SINGLE_W = 11.0  # width of a value column of a table with one value column (2017 form)
_DETAIL_SCALE = 0.83  # 分单位明细 prints several pages wide at this scale: four rows of 表三 a page


class _DetailPositions:
    """Where each cell of one unit is shown in 分单位明细 (cell id → (sheet, row, column)):
    computed on demand instead of a dict per unit (one entry per indicator and unit)."""

    __slots__ = ("cols", "row")

    def __init__(self, cols: dict[str, int], row: int):
        self.cols = cols
        self.row = row

    def __contains__(self, cid: object) -> bool:
        return cid in self.cols

    def __getitem__(self, cid: str) -> tuple[str, int, int]:
        return (_DETAIL_SHEET, self.row, self.cols[cid])


class _PendingRow(dict):
    """A streamed row as XlsxWriter's row loop first sees it: its cells written through the
    worksheet only (perhaps none: it still has cells, so it is never taken for an empty row)."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return True


class _StreamedRows(defaultdict):
    """The cell table of 分单位明细 (``Worksheet.table``: row → column → cell; not public API of
    XlsxWriter, hence the version range in pyproject.toml), whose plain unit
    cells are made when XlsxWriter writes the sheet out, one row at a time.

    The sheet has one row per unit and one column per indicator; keeping all its cells until
    the workbook is closed would take about 150 bytes per cell (hundreds of MB for thousands
    of units). The cells written through the worksheet (names, totals, cells with findings)
    are stored as usual. After :meth:`stream`, a row of ``rows`` is taken out of the table;
    when XlsxWriter next reads it, it is put back with its plain value cells added by
    ``fill`` (as ``_write_value`` would have stored them), and the row made before it is
    taken out again. The file written is the same as without streaming.

    With a ``writer`` (:func:`_detail_writer`), the plain cells are not made as cells at all: the
    row is given back as a :class:`_PendingRow` and the writer, called as XlsxWriter opens the row,
    writes its cells' XML itself (the same XML, several times faster). While XlsxWriter works out
    which columns each block of rows uses, a streamed row is its full width (``_full``): every row
    has its name and a cell (a number or a blank) in each indicator column.
    """

    def __init__(self) -> None:
        super().__init__(dict)
        self._fill: Any = None
        self._held: dict[int, dict[int, Any]] = {}  # streamed rows: the cells written through the worksheet
        self._made: int | None = None
        self.writer: Any = None
        self._full: range = range(0)

    def stream(self, rows: Iterable[int], fill: Any, width: int = 0, writer: Any = None) -> None:
        """Complete ``rows`` with ``fill(row, cells)`` whenever they are read from now on (``width``:
        the columns each such row has; ``writer``: see the class)."""
        for r in rows:
            self._held[r] = dict.pop(self, r, {})
        self._fill = fill
        self._full = range(width)
        self.writer = writer

    def __contains__(self, row: object) -> bool:
        return dict.__contains__(self, row) or row in self._held

    def __missing__(self, row: int) -> Any:
        held = self._held.get(row)
        if held is None:
            return super().__missing__(row)
        if self._made is not None:
            dict.pop(self, self._made, None)
        if self.writer is not None:
            cells: dict[int, Any] = _PendingRow(held)
        else:
            cells = dict(held)
            self._fill(row, cells)
        self[row] = cells
        self._made = row
        return cells


def _cell_types(ws: Any, fmt: Any) -> tuple[type, type]:
    """The classes XlsxWriter stores number and blank cells as, learnt by writing one of each
    into a scratch table through the public API."""
    table = ws.table
    ws.table = defaultdict(dict)
    try:
        ws.write_number(0, 0, 0, fmt)
        ws.write_blank(0, 1, None, fmt)
        return type(ws.table[0][0]), type(ws.table[0][1])
    finally:
        ws.table = table


_PLAIN_TYPES = frozenset({int, type(None)})


def _plain_value(v: Any) -> Any:
    """What ``_write_value`` stores as a number (or None for a blank) for a value without a
    finding; ``_NOT_PLAIN`` when it writes something else (text, a non-finite number)."""
    if v is None:
        return None
    t = type(v)
    if t is int:
        return v
    if t is bool:
        return int(v)
    if t is Decimal or t is float:
        f = float(v)
        return f if math.isfinite(f) else _NOT_PLAIN
    return _NOT_PLAIN  # anything else (also subclasses) is written by _write_cell itself


_NOT_PLAIN = object()


@dataclass(frozen=True)
class _DetailColumn:
    """One indicator column of 分单位明细 and its two header labels."""

    cid: str
    index: int  # position in the form's cell order (the column of the values matrix)
    table: str
    upper: str  # row label (or the column's group when the table has one row)
    lower: str  # column label; empty when the table has one value column


def _detail_columns(form: Form, cids: Sequence[str], order: dict[str, int]) -> list[_DetailColumn]:
    """The indicator columns, grouped by table and by row, in the official order."""
    cells = form.cells
    tables = list(form.tables)
    row_order = {tid: {rid: k for k, rid in enumerate(t.rows)} for tid, t in form.tables.items()}
    unique = {
        tid for tid, t in form.tables.items() if len({c.label for c in t.value_columns()}) == len(t.value_columns())
    }
    out = []
    for cid in sorted(
        cids, key=lambda c: (tables.index(cells[c].table), row_order[cells[c].table].get(cells[c].row, 0))
    ):
        cell = cells[cid]
        t = form.tables[cell.table]
        row, col = t.row_path(cell.row), t.column_path(cell.column)
        if len(t.value_columns()) <= 1:  # the section above, the rest of the row's path below
            upper, _, lower = (row or col).partition("/")
        elif row:  # the column's own label when it names it alone (商业企业, not 法人或其他组织/商业企业)
            upper, lower = row, t.columns[cell.column].label if cell.table in unique else col
        else:  # a one-row table (表四): the column's groups above, its own label below
            head, _, tail = col.rpartition("/")
            upper, lower = head, tail
        out.append(_DetailColumn(cid, order[cid], cell.table, upper.replace("/", "／"), lower.replace("/", "／")))
    return out


def _runs(items: Sequence[Any]) -> list[tuple[int, int, Any]]:
    """(first, last, item) of each run of equal consecutive items."""
    out: list[tuple[int, int, Any]] = []
    for k, item in enumerate(items):
        if out and out[-1][2] == item:
            out[-1] = (out[-1][0], k, item)
        else:
            out.append((k, k, item))
    return out


def _detail_pages(columns: list[_DetailColumn], widths: list[float]) -> list[int]:
    """The first column (index into ``columns``) of each printed page of 分单位明细: as many
    indicators as fit beside the unit names on A3 landscape at :data:`_DETAIL_SCALE`, a row's
    columns kept on one page when they fit on one."""
    # 10 % to spare: LibreOffice draws these columns up to 8 % wider than Excel's digit width says
    room = _A3_PAGE_PX * 0.9 / _DETAIL_SCALE - (widths[0] * 7 + 5)
    starts: list[int] = []
    used = room + 1.0  # the first column opens a page
    for a, b, _ in _runs([(c.table, c.upper) for c in columns]):
        px = [widths[1 + k] * 7 + 5 for k in range(a, b + 1)]
        if used + sum(px) > room and sum(px) <= room:
            starts.append(a)
            used = 0.0
        for k, w in zip(range(a, b + 1), px):
            if used + w > room:
                starts.append(k)
                used = 0.0
            used += w
    return starts


def _write_detail_head(
    ws: Any,
    st: _Styles,
    form: Form,
    year: int | None,
    columns: list[_DetailColumn],
    widths: list[float],
    pages: list[int],
) -> None:
    """Three header rows: the table (merged over its columns), the row label (merged over the
    row's columns), the column label; ``单位`` on the left spans all three. Merges stop at the
    page breaks, and a table or row carried onto the next page is named again there (续)."""
    _text(ws, 0, 0, _DETAIL_HEAD - 1, 0, "单位", st.list_header)
    first = 1
    page_of = [0] * len(columns)
    for n, start in enumerate(pages):
        for k in range(start, len(columns)):
            page_of[k] = n
    heights = [MIN_ROW_PT, MIN_ROW_PT, MIN_ROW_PT]
    seen: set[Any] = set()
    for a, b, (_, tid) in _runs([(page_of[k], c.table) for k, c in enumerate(columns)]):
        title = form.tables[tid].title_for(year) + ("（续）" if tid in seen else "")
        seen.add(tid)
        _text(ws, 0, first + a, 0, first + b, title, st.list_header)
        heights[0] = max(heights[0], _lines(title, sum(widths[first + a : first + b + 1])) * LINE_PT + PAD_PT)
    for a, b, (_, tid, upper) in _runs([(page_of[k], c.table, c.upper) for k, c in enumerate(columns)]):
        width = sum(widths[first + a : first + b + 1])
        if all(not columns[k].lower for k in range(a, b + 1)):  # no column label: the row label fills both rows
            for k in range(a, b + 1):
                _text(ws, 1, first + k, 2, first + k, columns[k].upper, st.header)
                need = _lines(columns[k].upper, widths[first + k]) * LINE_PT + PAD_PT
                heights[1] = max(heights[1], need - heights[2])
            continue
        label = upper + ("（续）" if (tid, upper) in seen else "")
        seen.add((tid, upper))
        _text(ws, 1, first + a, 1, first + b, label, st.header)
        heights[1] = max(heights[1], _lines(label, width) * LINE_PT + PAD_PT)
        for k in range(a, b + 1):  # a section's own figure among its items is its 总数
            ws.write_string(2, first + k, _clean(columns[k].lower or "总数"), st.header)
            heights[2] = max(heights[2], _lines(columns[k].lower, widths[first + k]) * LINE_PT + PAD_PT)
    for r, h in enumerate(heights):
        ws.set_row(r, min(409.0, h))


def _write_detail(
    wb: Any,
    st: _Styles,
    form: Form,
    year: int | None,
    units: Sequence[Unit],
    totals: dict[str, Any],
    unit_marks: list[dict[str, _Mark]],
    values: Any,
    stream: bool = True,
) -> tuple[Any, dict[str, int], list[int]]:
    """分单位明细: one row per unit, one column per indicator (grouped by table under a merged
    header), the total in the last row. Returns the sheet, the column of each indicator and
    the row of each unit.

    ``values``: units × cells in the form's cell order (see :func:`gkreport.aggregate.value_matrix`). With ``stream``
    the plain unit cells (a number or a blank, no finding) are not stored when written but
    made again, row by row, when the workbook is written out (see :class:`_StreamedRows`);
    the workbook is the same either way.
    """
    ws = wb.add_worksheet(_DETAIL_SHEET)
    table = _StreamedRows() if stream else None
    if table is not None:
        ws.table = table
    heads = _unit_headers(units)
    info = _form_info(form)
    order = {c: k for k, c in enumerate(info.cell_ids)}
    marked_cells = {cid for m in unit_marks for cid in m}
    shown = [
        c
        for c in info.cell_ids
        if c not in info.off_grid or c in marked_cells or any(v is not None for v in values[:, order[c]].tolist())
    ]
    columns = _detail_columns(form, shown, order)
    col_of = {c.cid: 1 + k for k, c in enumerate(columns)}
    single = {tid for tid, t in form.tables.items() if len(t.value_columns()) <= 1}
    cells = form.cells
    types = [cells[c.cid].type for c in columns]
    widths = [_DETAIL_NAME_W] + [
        _DETAIL_SINGLE_W if c.table in single or t == "decimal" else _DETAIL_VALUE_W for c, t in zip(columns, types)
    ]
    for k, w in enumerate(widths):
        ws.set_column(k, k, w)
    pages = _detail_pages(columns, widths) if columns else []
    _write_detail_head(ws, st, form, year, columns, widths, pages)

    top = _DETAIL_HEAD
    unit_rows = list(range(top, top + len(units)))
    at = [c.index for c in columns]
    column_of = {c.cid: k for k, c in enumerate(columns)}
    # the columns with a value that is neither an int nor blank (a Decimal, text): looked at in every row
    odd = [k for k, i in enumerate(at) if not set(map(type, values[:, i].tolist())) <= _PLAIN_TYPES]
    for j, (r, name) in enumerate(zip(unit_rows, heads)):
        ws.write_string(r, 0, _clean(name), st.text_v)
        lines = _lines(name, _DETAIL_NAME_W)
        if lines > 1:  # lines set close: 30 units with long names still fit an A3 page
            ws.set_row(r, min(409.0, lines * 13.0 + 3.0))
        marks = unit_marks[j]
        row = values[j].tolist()
        if table is None:
            for k, c in enumerate(columns):
                _write_cell(ws, st, r, 1 + k, r, 1 + k, types[k], row[c.index], marks.get(c.cid))
            continue
        # the cells that are not streamed, in column order: findings, values that are not numbers
        ks = {column_of[cid] for cid, m in marks.items() if m is not None and cid in column_of}
        for k in odd:
            v = row[at[k]]
            if type(v) not in _PLAIN_TYPES and _plain_value(v) is _NOT_PLAIN:
                ks.add(k)
        for k in sorted(ks):
            _write_cell(ws, st, r, 1 + k, r, 1 + k, types[k], row[at[k]], marks.get(columns[k].cid))
    total_row = top + len(units)
    ws.write_string(total_row, 0, "合计", st.field)
    for k, c in enumerate(columns):
        v = totals.get(c.cid)
        _write_value(ws, total_row, 1 + k, v, st.value(_num_format(types[k], v)))
    ws.freeze_panes(top, 1)
    ws.autofilter(_DETAIL_HEAD - 1, 0, max(total_row - 1, _DETAIL_HEAD), len(columns))
    _detail_print(ws, year, pages)
    if table is not None and units:
        fill = _detail_filler(ws, st, columns, types, values, top)
        writer = _detail_writer(ws, table, st, columns, types, values, top) if _FAST_DETAIL else None
        table.stream(unit_rows, fill, 1 + len(columns), writer)
    return ws, col_of, unit_rows


def _detail_print(ws: Any, year: int | None, pages: list[int]) -> None:
    """A3 landscape at :data:`_DETAIL_SCALE`, a page break before each page's first indicator
    (see :func:`_detail_pages`), the header rows and the unit names on every page."""
    _print_setup(ws, _DETAIL_SHEET, year, True, fit_width=False, paper=A3)
    ws.set_print_scale(round(_DETAIL_SCALE * 100))
    ws.set_v_pagebreaks([1 + k for k in pages[1:]])
    ws.repeat_rows(0, _DETAIL_HEAD - 1)
    ws.repeat_columns(0)
    ws.print_across()  # the indicators of a page of units, then the next units


def _detail_filler(ws: Any, st: _Styles, columns: list[_DetailColumn], types: list[str], values: Any, top: int) -> Any:
    """``fill(row, cells)`` for :class:`_StreamedRows`: adds the row's plain unit cells as
    ``_write_cell`` → ``_write_value`` store them (a number, or a blank with the format)."""
    number_t, blank_t = _cell_types(ws, st.list_header)
    formats = st._cache
    defaults = []
    for k, c in enumerate(columns):  # formats must exist before the workbook is written out
        column = values[:, c.index].tolist()
        defaults.append(st.value(_num_format(types[k], None)))
        if types[k] == "decimal" or Decimal in set(map(type, column)):
            for v in column:
                st.value(_num_format(types[k], v))
            defaults[-1] = None  # the format follows the value
    plan = [(1 + k, c.index, defaults[k], types[k]) for k, c in enumerate(columns)]

    def fill(row: int, out: dict[int, Any]) -> None:
        data = values[row - top].tolist()
        for col, index, default, cell_type in plan:
            if col in out:  # written through the worksheet
                continue
            v = data[index]
            fmt = default if default is not None else formats[("value", _num_format(cell_type, v), None, False)]
            if v is None:
                out[col] = blank_t(fmt)
            else:
                out[col] = number_t(v if type(v) is int else _plain_value(v), fmt)

    return fill


# --------------------------------------------------------------------------- comments, written fast

# The summary workbook carries a comment box on each unit's cell a finding involves (35,000 for
# 10,000 units): XlsxWriter writes each box's VML shape and its comment through a dozen calls of
# its XML writer, a third of the whole workbook's time. These two write the same bytes in one
# string each (the parts that vary escaped as XlsxWriter escapes them); installed on its classes
# by :func:`fast_comments` (internals of XlsxWriter, kept to the versions of pyproject.toml and
# checked byte for byte against its own writing by tests/test_xlsx_out.py).


def _comment_shape(self: Any, shape_id: int, z_index: int, comment: Any) -> None:
    """``Vml._write_comment_shape``: the ``<v:shape>`` of one comment box."""
    v = comment.vertices
    visible = bool(comment.is_visible)
    style = (
        f"position:absolute;margin-left:{v[8] * 0.75:.15g}pt;margin-top:{v[9] * 0.75:.15g}pt;"
        f"width:{v[10] * 0.75:.15g}pt;height:{v[11] * 0.75:.15g}pt;z-index:{z_index};"
        f"visibility:{'visible' if visible else 'hidden'}"
    )
    attr = self._escape_attributes
    data = self._escape_data
    control = self._escape_control_characters
    anchor = f"{v[0]}, {v[2]}, {v[1]}, {v[3]}, {v[4]}, {v[6]}, {v[5]}, {v[7]}"
    self.fh.write(
        f'<v:shape id="_x0000_s{shape_id}" type="#_x0000_t202" style="{attr(style)}" '
        f'fillcolor="{attr(comment.color._vml_rgb_hex_value())}" o:insetmode="auto">'
        '<v:fill color2="#ffffe1"/><v:shadow on="t" color="black" obscured="t"/><v:path o:connecttype="none"/>'
        '<v:textbox style="mso-direction-alt:auto"><div style="text-align:left"></div></v:textbox>'
        '<x:ClientData ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/>'
        f"<x:Anchor>{control(data(anchor))}</x:Anchor><x:AutoFill>False</x:AutoFill>"
        f"<x:Row>{control(data(comment.row))}</x:Row><x:Column>{control(data(comment.col))}</x:Column>"
        f"{'<x:Visible/>' if visible else ''}</x:ClientData></v:shape>"
    )


def _comment_entry(self: Any, comment: Any, author_id: int) -> None:
    """``Comments._write_comment``: the ``<comment>`` of one comment box."""
    from xlsxwriter.utility import _preserve_whitespace, xl_rowcol_to_cell

    attr = self._escape_attributes
    text = comment.text
    author = f' authorId="{attr(f"{author_id}")}"' if author_id != -1 else ""
    space = ' xml:space="preserve"' if _preserve_whitespace(text) else ""
    self.fh.write(
        f'<comment ref="{attr(xl_rowcol_to_cell(comment.row, comment.col))}"{author}><text><r><rPr>'
        f'<sz val="{attr(comment.font_size)}"/><color indexed="81"/><rFont val="{attr(comment.font_name)}"/>'
        f'<family val="{attr(comment.font_family)}"/></rPr>'
        f"<t{space}>{self._escape_control_characters(self._escape_data(text))}</t></r></text></comment>"
    )


def _prepare_vml_objects(self: Any, *args: Any) -> Any:
    """``Worksheet._prepare_vml_objects`` with each column's offset summed once: XlsxWriter places
    each box by summing the column widths left of it, from the first column again at every row
    (its running sum goes only rightwards). The widths cannot change while the boxes are placed."""
    self._gk_col_offsets = [0]
    try:
        return _STOCK_COMMENTS["prepare"](self, *args)
    finally:
        del self._gk_col_offsets


def _col_offset(self: Any, col: int) -> Any:
    """``Worksheet._col_offset``: the same sum, left to right from the first column (so the same
    number), kept while the boxes are placed (see :func:`_prepare_vml_objects`)."""
    offsets = getattr(self, "_gk_col_offsets", None)
    if offsets is None:
        return _STOCK_COMMENTS["offset"](self, col)
    while len(offsets) <= col:
        offsets.append(offsets[-1] + self._size_col(len(offsets) - 1))
    self.prev_col_offset = (col, offsets[col])
    return offsets[col]


_STOCK_COMMENTS: dict[str, Any] = {}  # XlsxWriter's own writers, the reference of the fast ones


def fast_comments(on: bool = True) -> None:
    """Install (or, ``on`` False, take back) the fast comment writers and the placing of the boxes
    on XlsxWriter's classes; only where its classes are those they were written for (XlsxWriter
    3.3: comments as objects)."""
    from xlsxwriter import comments, vml, worksheet

    sheet = worksheet.Worksheet
    if not hasattr(comments, "CommentType") or not hasattr(sheet, "_col_offset"):
        return
    if not _STOCK_COMMENTS:
        _STOCK_COMMENTS["shape"] = vml.Vml._write_comment_shape
        _STOCK_COMMENTS["entry"] = comments.Comments._write_comment
        _STOCK_COMMENTS["prepare"] = sheet._prepare_vml_objects
        _STOCK_COMMENTS["offset"] = sheet._col_offset
    vml.Vml._write_comment_shape = _comment_shape if on else _STOCK_COMMENTS["shape"]
    comments.Comments._write_comment = _comment_entry if on else _STOCK_COMMENTS["entry"]
    sheet._prepare_vml_objects = _prepare_vml_objects if on else _STOCK_COMMENTS["prepare"]
    sheet._col_offset = _col_offset if on else _STOCK_COMMENTS["offset"]


fast_comments()


_FAST_ROWS = True  # False: XlsxWriter writes every cell of the list sheets itself (the reference of fast_rows)


class _WrittenRow(dict):
    """A row whose cells :func:`fast_rows` has written: XlsxWriter's column loop then finds none of
    them (``in`` is False), while its hyperlinks pass still reads them."""

    __slots__ = ()

    def __contains__(self, col: object) -> bool:
        return False


def fast_rows(ws: Any) -> None:
    """When XlsxWriter writes the sheet out, write each row's strings, numbers and blanks that have
    a format as XML straight into the sheet's file, as its ``_write_cell`` does
    (``<c r="B4" s="12" t="s"><v>7</v></c>``, ``<c r="B4" s="12"><v>3</v></c>``,
    ``<c r="B4" s="12"/>``) but without its per-cell attribute lists and escaping (these
    attributes never need it); any other cell goes through ``_write_cell``. The list sheets have
    tens of thousands of cells. Installs itself on ``ws`` (a per-instance method; internals of
    XlsxWriter, kept to the versions of pyproject.toml and checked byte for byte against
    XlsxWriter's own writing by tests/test_xlsx_out.py)."""
    from xlsxwriter.utility import xl_col_to_name
    from xlsxwriter.worksheet import CellBlankTuple, CellNumberTuple, CellStringTuple

    if not _FAST_ROWS or ws.constant_memory:
        return
    write_row = ws._write_row
    write_cell = ws._write_cell
    table = ws.table
    letters: dict[int, str] = {}
    xf: dict[int, str] = {}  # id(format) → its index as text (every format has one when the sheet is written)

    def row_start(row: int, *args: Any, **kwargs: Any) -> None:
        write_row(row, *args, **kwargs)
        cells = dict.get(table, row)
        if not cells or kwargs.get("empty_row"):
            return
        n = str(row + 1)
        out: list[str] = []
        fh = ws.fh
        for col in sorted(cells):
            cell = cells[col]
            fmt = cell.format
            kind = type(cell)
            if fmt is None or (
                kind is not CellStringTuple and kind is not CellNumberTuple and kind is not CellBlankTuple
            ):
                if out:
                    fh.write("".join(out))
                    out.clear()
                write_cell(row, col, cell)
                continue
            ref = letters.get(col)
            if ref is None:
                ref = letters[col] = xl_col_to_name(col)
            s = xf.get(id(fmt))
            if s is None:
                s = xf[id(fmt)] = str(fmt._get_xf_index())
            if kind is CellStringTuple:
                out.append(f'<c r="{ref}{n}" s="{s}" t="s"><v>{cell.string}</v></c>')
            elif kind is CellNumberTuple:
                out.append(f'<c r="{ref}{n}" s="{s}"><v>{cell.number:.16G}</v></c>')
            else:
                out.append(f'<c r="{ref}{n}" s="{s}"/>')
        if out:
            fh.write("".join(out))
        dict.__setitem__(table, row, _WrittenRow(cells))

    ws._write_row = row_start


_FAST_DETAIL = True  # False: streamed rows are made as XlsxWriter cells (the reference of the fast writer)


def _detail_writer(
    ws: Any, table: _StreamedRows, st: _Styles, columns: list[_DetailColumn], types: list[str], values: Any, top: int
) -> Any:
    """Write 分单位明细's streamed rows' cells as XML straight into the sheet's file, as XlsxWriter
    writes the same cells (``<c r="B4" s="12"><v>3</v></c>``, a blank as ``<c r="B4" s="12"/>``),
    without making a cell object per value: XlsxWriter opens each row (``_write_row``, its
    attributes its own), the cells written through the worksheet (the name, findings) go through
    its ``_write_cell``, and its column loop then finds the row empty. Installs itself on ``ws``
    (per-instance methods; internals of XlsxWriter, kept to the versions of pyproject.toml and
    checked against the cell objects by tests/test_xlsx_out.py)."""
    from xlsxwriter.utility import xl_col_to_name

    formats = st._cache
    defaults: list[Any] = []
    for k, c in enumerate(columns):  # formats exist before the workbook is written out (_detail_filler)
        column = values[:, c.index].tolist()
        if types[k] == "decimal" or Decimal in set(map(type, column)):
            defaults.append(None)  # the format follows the value
        else:
            defaults.append(st.value(_num_format(types[k], None)))
    letters = [xl_col_to_name(c) for c in range(1 + len(columns))]
    at = [c.index for c in columns]
    # per column: the cell's opening (``<c r="B``), and after the row number its rest for a number
    # (``" s="12"><v>``) and for a blank (``" s="12"/>``), both None when the format follows the
    # value; then the cell type. The formats' indices are known once the workbook is being written out.
    plan: list[tuple[str, str | None, str | None, str]] = []

    def xf_of(fmt: Any) -> str:
        return str(fmt._get_xf_index())

    def by_value(head: str, n: str, v: Any, cell_type: str) -> str:
        """A cell whose format follows its value (a decimal column)."""
        s = xf_of(formats[("value", _num_format(cell_type, v), None, False)])
        if v is None:
            return f'{head}{n}" s="{s}"/>'
        return f'{head}{n}" s="{s}"><v>{v if type(v) is int else _plain_value(v):.16G}</v></c>'

    def cells(part: list[tuple[str, str | None, str | None, str]], vals: list[Any], n: str) -> str:
        """The XML of consecutive streamed cells of row ``n`` (as text) holding ``vals``."""
        return "".join(
            [
                by_value(head, n, v, cell_type)
                if number is None
                else f"{head}{n}{blank}"
                if v is None
                else f"{head}{n}{number}{v:.16G}</v></c>"
                if type(v) is int
                else f"{head}{n}{number}{_plain_value(v):.16G}</v></c>"
                for (head, number, blank, cell_type), v in zip(part, vals)
            ]
        )

    write_row = ws._write_row
    write_cell = ws._write_cell
    width = 1 + len(columns)

    def spans() -> None:
        """XlsxWriter's ``_calculate_spans`` (the first and last column of each block of 16 rows),
        a streamed row being its full width, without a loop over every cell."""
        spans: dict[int, str] = {}
        lo = hi = None
        for row in range(ws.dim_rowmin, ws.dim_rowmax + 1):
            cells = dict.get(table, row)
            if cells is None and row in table._held:
                cols: Any = (0, width - 1)
            else:
                cols = [c for c in (cells or ()) if ws.dim_colmin <= c <= ws.dim_colmax]
            cols = list(cols) + [c for c in ws.comments.get(row, ()) if ws.dim_colmin <= c <= ws.dim_colmax]
            if cols:
                lo = min(cols) if lo is None else min(lo, *cols)
                hi = max(cols) if hi is None else max(hi, *cols)
            if ((row + 1) % 16 == 0 or row == ws.dim_rowmax) and lo is not None and hi is not None:
                spans[row // 16] = f"{lo + 1}:{hi + 1}"
                lo = hi = None
        ws.row_spans = spans

    def row_start(row: int, *args: Any, **kwargs: Any) -> None:
        write_row(row, *args, **kwargs)
        pending = dict.get(table, row)
        if type(pending) is not _PendingRow:
            return
        if not plan:
            plan.extend(
                (
                    f'<c r="{letters[1 + k]}',
                    None if fmt is None else f'" s="{xf_of(fmt)}"><v>',
                    None if fmt is None else f'" s="{xf_of(fmt)}"/>',
                    types[k],
                )
                for k, fmt in enumerate(defaults)
            )
        data = values[row - top].tolist()
        vals = [data[i] for i in at]
        n = str(row + 1)
        fh = ws.fh
        if 0 in pending:
            write_cell(row, 0, pending[0])
        k = 0  # the next column to write, as an index into ``plan`` (column k + 1)
        for col in sorted(c for c in pending if 0 < c <= len(plan)):
            # written through the worksheet: a finding, a value that is not a number
            if k < col - 1:
                fh.write(cells(plan[k : col - 1], vals[k : col - 1], n))
            write_cell(row, col, pending[col])
            k = col
        if k < len(plan):
            fh.write(cells(plan[k:] if k else plan, vals[k:] if k else vals, n))
        dict.__setitem__(table, row, {})  # written: XlsxWriter's column loop finds nothing more

    ws._calculate_spans = spans
    ws._write_row = row_start
    return row_start


CHART_UNITS = 30  # bars in one chart; the table under it lists every unit
_CHART_COLORS = ("#2F5597", "#5B9BD5", "#A9D18E", "#FFC000", "#ED7D31", "#C00000", "#7F7F7F", "#BF9000", "#70AD47")


def _write_charts(wb: Any, st: _Styles, form: Form, year: int | None, units: Sequence[Unit]) -> None:
    """分单位图表: per chart of the form's wording, one bar per unit stacked by the chart's items
    (e.g. applications by outcome), largest first, with its figures in a table under the chart."""
    from .sentences import evaluate_items, load_wording, pick

    charts = load_wording(form).charts
    if not charts or not units:
        return
    ws = wb.add_worksheet("分单位图表")
    ws.hide_gridlines(2)
    ws.set_column(0, 0, 30)
    r = 0
    for spec in charts:
        rows = []
        for u in units:
            pairs = evaluate_items(spec.items, u)
            rows.append((_clean(u.unit or plain_name(u.file.name)), [v for _, v in pairs], sum(v for _, v in pairs)))
        labels = [label for label, _ in evaluate_items(spec.items, units[0])]
        rows.sort(key=lambda row: -row[2])  # largest first (stable: ties keep the units' order)
        n = len(labels)
        ws.set_column(1, n + 1, 11)
        shown = min(len(rows), CHART_UNITS)
        more = (
            f"图中为合计最多的{shown}个单位（共{len(rows)}个），全部单位见下表"
            if shown < len(rows)
            else "按合计从多到少排列"
        )
        if not any(total for _, _, total in rows):
            shown, more = 0, "各单位均为0，未绘制图形"
        title = pick(spec.title, {"year": "" if year is None else str(year), "unit": ""})
        unit_word = f"单位：{spec.unit}；" if spec.unit else ""
        _text(ws, r, 0, r, n + 1, f"{title}（{unit_word}{more}）", st.note)
        height = max(300, 110 + shown * 24)
        chart_row = r + 1
        table_row = chart_row + (math.ceil(height / 20) + 1 if shown else 1)
        _write_chart_table(ws, st, table_row, labels, rows)
        r = table_row + len(rows) + 3
        if shown:
            _insert_chart(wb, ws, spec.unit, title, labels, chart_row, table_row, shown, height)
    _print_setup(ws, "分单位图表", year, False)


def _write_chart_table(ws: Any, st: _Styles, top: int, labels: list[str], rows: list[tuple[str, list, Any]]) -> None:
    n = len(labels)
    ws.write_string(top, 0, "单位", st.list_header)
    for k, label in enumerate(labels):
        ws.write_string(top, 1 + k, label, st.list_header)
    ws.write_string(top, n + 1, "合计", st.list_header)
    ws.set_row(top, max(MIN_ROW_PT, max(_lines(x, 11) for x in labels) * LINE_PT + PAD_PT))
    for j, (name, values, total) in enumerate(rows):
        ws.write_string(top + 1 + j, 0, name, st.text_v)
        for k, v in enumerate([*values, total]):
            fmt = st.value(_num_format("decimal" if isinstance(v, Decimal) else "int", v))
            _write_value(ws, top + 1 + j, 1 + k, v, fmt)


def _insert_chart(
    wb: Any, ws: Any, unit: str, title: str, labels: list[str], at: int, top: int, shown: int, height: int
) -> None:
    """A stacked bar chart of the first ``shown`` rows of the table at ``top`` (units as categories)."""
    chart = wb.add_chart({"type": "bar", "subtype": "stacked"})
    first, last = top + 1, top + shown
    for k in range(len(labels)):
        chart.add_series(
            {
                "name": ["分单位图表", top, 1 + k],
                "categories": ["分单位图表", first, 0, last, 0],
                "values": ["分单位图表", first, 1 + k, last, 1 + k],
                "fill": {"color": _CHART_COLORS[k % len(_CHART_COLORS)]},
                "border": {"color": "#FFFFFF", "width": 0.5},
                "gap": 50,
            }
        )
    font = {"name": "宋体", "size": 9}
    chart.set_title({"name": title, "name_font": {"name": "黑体", "size": 13, "bold": False}})
    chart.set_x_axis(
        {
            "name": unit,
            "name_font": {"name": "宋体", "size": 9, "bold": False},
            "num_font": font,
            "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}},
            "min": 0,
        }
    )
    chart.set_y_axis({"num_font": font, "reverse": True, "crossing": "max"})  # largest at the top
    chart.set_legend({"position": "bottom", "font": font})
    chart.set_size({"width": 860, "height": height})
    ws.insert_chart(at, 0, chart, {"x_offset": 4, "y_offset": 4})


def _write_status(
    ws: Any,
    st: _Styles,
    units: Sequence[Unit],
    others: Sequence[Unit],
    failures: Sequence[tuple[str, str]],
    main: Unit | None,
    positions: dict[int, tuple[str, int, int]],
    summary: YearSummary | None = None,
) -> None:
    """报送情况: one row per input file (summed, summed after converting its older form, not
    summed, the summary unit's own workbook, unreadable, submitted twice), and with a roster a
    名单核对 column and one row per roster unit that has not submitted. A failure that is one of the
    summary's year's files shows its unit and its batch status (重复报送 is not 无法读取)."""
    from .roster import NOT_LISTED, NOT_SUBMITTED, ask
    from .summary import is_summary_unit

    subs = summary.submissions if summary is not None else None
    cols = [
        ("序号", 5),
        ("文件", 28),
        ("单位", 24),
        ("表样", 24),
        ("年度", 7),
        ("状态", 9),
        ("错误数", 7),
        ("提示数", 7),
        ("计入汇总", 9),
    ]
    if subs is not None:
        cols.append(("名单核对", 10))
    cols.append(("说明", 48))
    n_cols = len(cols)
    ws.hide_gridlines(2)
    for i, (name, w) in enumerate(cols):
        ws.set_column(i, i, w)
        ws.write_string(1, i, name, st.list_header)
    left = {id(x.unit): x.reason for x in summary.left} if summary is not None else {}
    own = summary.own if summary is not None else None
    rows: list[tuple[Unit, str, str]] = []  # unit, 计入汇总, 说明
    for u in units:
        m = summary.mapping_of(u) if summary is not None else None
        if m is not None:
            notes = "；".join(m.fmap.notes[t] for t in m.fmap.target.tables if t in m.fmap.notes)
            why = f"使用{m.original.form.short_name}，已换算为{m.fmap.target.short_name}计入汇总" + (
                f"：{notes}" if notes else ""
            )
            rows.append((m.original, "换算后计入", why + "；请该单位改用现行表样重新报送"))
        else:
            rows.append((u, "是", ""))
    for u in others:
        if summary is not None:
            why = left.get(id(u), "")
        elif main is not None:
            why = f"使用{_group_words(u.form, u.year)}，与本汇总（{_group_words(main.form, main.year)}）不同，未计入本汇总，另行汇总"
        else:
            why = "未计入本汇总"
        rows.append((u, "否", why))
    if own is not None and summary is not None:
        rows.append(
            (
                own,
                "否",
                f"汇总单位“{summary.unit_name}”本身的统计表：基本信息和文字用于汇总年度报告，表中的数字不计入汇总"
                "（与各单位之和不同之处见“审核结果”）",
            )
        )
    mark_of: dict[str, str] = {}
    if subs is not None:
        for sub in subs:
            if sub.unit is not None:
                mark_of[sub.unit] = f"{sub.mark}（名单{sub.where}）"
    missing = [x for x in subs or () if x.mark == NOT_SUBMITTED]
    year_files = summary.files if summary is not None else {}
    failed: list[tuple[str, str, str | None, str]] = []  # file, reason, unit, status
    for name, reason in failures:
        unit_of, status_of = year_files.get(name, (None, Status.UNREADABLE))
        failed.append((name, reason, unit_of, status_of or Status.UNREADABLE))
    failed_counts: dict[str, int] = {Status.UNREADABLE: 0}
    for *_, status_of in failed:
        failed_counts[status_of] = failed_counts.get(status_of, 0) + 1
    total = len(rows) + len(failures)
    head = f"报送情况：共 {total} 个文件，计入汇总 {sum(1 for _, inc, _ in rows if inc != '否')} 个"
    if summary is not None and summary.mapped:
        head += f"（其中换算后计入 {len(summary.mapped)} 个）"
    head += f"，未计入汇总 {sum(1 for _, inc, _ in rows if inc == '否')} 个，"
    head += "，".join(f"{k} {v} 个" for k, v in failed_counts.items() if v or k == Status.UNREADABLE)
    if subs is not None:
        counts: dict[str, int] = {}
        for sub in subs:
            counts[sub.mark] = counts.get(sub.mark, 0) + 1
        head += f"；名单 {len(subs)} 个单位：" + "，".join(f"{k} {v} 个" for k, v in counts.items())
    _text(ws, 0, 0, 0, n_cols - 1, head, st.table_title)
    ws.set_row(0, max(26.0, _lines(head, sum(w for _, w in cols) / 1.3) * 20.0))
    style = {
        Status.PASSED: st.st_ok,
        Status.EXPLAINED: st.st_ok,
        Status.ERRORS: st.st_error,
        Status.WARNINGS: st.st_warning,
    }
    r = 2
    k = 1
    note_col = n_cols - 1

    def finish(r: int, *texts: tuple[str, float]) -> None:
        lines = max(_lines(t, w) for t, w in texts)
        ws.set_row(r, min(409.0, max(MIN_ROW_PT, lines * LINE_PT + PAD_PT)))

    for u, included, why in rows:
        ws.write_number(r, 0, k, st.text_c)
        ws.write_string(r, 1, _clean(shown_name(u.file.name)), st.text)
        ws.write_string(r, 2, _clean(u.unit or ""), st.text)
        ws.write_string(r, 3, u.form.short_name, st.text)
        _write_value(ws, r, 4, u.year, st.text_c)
        ws.write_string(r, 5, u.status, style.get(u.status, st.st_failed))
        ws.write_number(r, 6, len(u.errors), st.text_c)
        ws.write_number(r, 7, len(u.open_warnings), st.text_c)
        ws.write_string(r, 8, included, st.text_c)
        mark = ""
        if subs is not None:
            mark = mark_of.get(u.unit or "", "")
            if not mark and u is not own:
                mark = NOT_LISTED + ask(list(summary.unlisted.get(u.unit or "", ()))) if summary is not None else ""
            ws.write_string(r, 9, _clean(mark), st.text)
        target = positions.get(id(u))
        if not why and target is not None and u.findings:
            ws.write_url(
                r, note_col, _link(*target), st.link, string=f"查看问题（{len(u.findings)} 条）", tip="转到审核结果"
            )
        else:
            ws.write_string(r, note_col, _clean(why), st.text)
        finish(r, (why, 48), (shown_name(u.file.name), 28), (u.unit or "", 24), (mark, 10))
        r += 1
        k += 1
    for name, reason, unit_of, status_of in failed:
        ws.write_number(r, 0, k, st.text_c)
        ws.write_string(r, 1, _clean(shown_name(name)), st.text)
        for c in (3, 6, 7):
            ws.write_blank(r, c, None, st.text)
        if unit_of:  # one of the year's files (a unit that submitted twice, or whose file could not be read)
            ws.write_string(r, 2, _clean(unit_of), st.text)
            _write_value(ws, r, 4, summary.year if summary is not None else None, st.text_c)
        else:
            ws.write_blank(r, 2, None, st.text)
            ws.write_blank(r, 4, None, st.text)
        ws.write_string(r, 5, status_of, st.st_failed)
        ws.write_string(r, 8, "否", st.text_c)
        if subs is not None:
            named = next((f"{x.mark}（名单{x.where}“{x.name}”）" for x in subs if name in x.files), "")
            if not named and unit_of:
                named = mark_of.get(unit_of, "")
                if not named and summary is not None and not is_summary_unit(unit_of, summary.unit_name):
                    named = NOT_LISTED + ask(list(summary.unlisted.get(unit_of, ())))
            ws.write_string(r, 9, _clean(named), st.text)
        ws.write_string(r, note_col, _clean(reason), st.text)
        finish(r, (reason, 48), (shown_name(name), 28))
        r += 1
        k += 1
    for sub in missing:
        ws.write_number(r, 0, k, st.text_c)
        for c in (1, 3, 4, 6, 7):
            ws.write_blank(r, c, None, st.text)
        ws.write_string(r, 2, _clean(sub.name), st.text)
        ws.write_string(r, 5, NOT_SUBMITTED, st.st_failed)
        ws.write_string(r, 8, "否", st.text_c)
        ws.write_string(r, 9, f"名单{sub.where}", st.text)
        why = "名单中的单位，本年度没有收到其统计表" + (f"；{sub.question}" if sub.question else "")
        ws.write_string(r, note_col, _clean(why), st.text)
        finish(r, (why, 48), (sub.name, 24))
        r += 1
        k += 1
    ws.autofilter(1, 0, max(r - 1, 1), n_cols - 1)
    ws.freeze_panes(2, 0)
    _print_setup(ws, "报送情况", main.year if main is not None else None, True, paper=paper_for([w for _, w in cols]))
    ws.repeat_rows(1)


_STREAM_DETAIL = True  # False: keep every 分单位明细 cell until the workbook closes (the reference)


def write_summary_xlsx(
    units: Sequence[Unit],
    path: Path | str,
    failures: Sequence[tuple[str, str]] = (),
    *,
    others: Sequence[Unit] = (),
    summary: YearSummary | None = None,
) -> Path:
    """Write the summary workbook of units that share one form and year (atomically).

    ``failures`` are (input file name, Chinese reason) for files that could not
    be read; ``others`` are units of other forms or years (see
    :func:`group_units`), listed in 报送情况 as not summed here. Raises
    ``ValueError`` when ``units`` mix forms or years.

    With ``summary`` (:func:`gkreport.summary.summarise`; ``units`` are then its ``units``,
    converted where mapped), the summed tables are its totals, its findings — the sum checked
    like a unit, naming the departments that cause each — mark the cells of the 汇总表 sheets
    and head the 审核结果, and 报送情况 tells which departments were converted, left out, the
    summary unit's own workbook and the roster's submissions.
    """
    path = Path(path)
    units = list(units)
    groups = group_units(units)
    if len(groups) > 1:
        raise ValueError(
            "汇总的单位必须使用同一表样、同一年度，现有："
            + "；".join(f"{_group_words(us[0].form, us[0].year)} {len(us)} 个" for us in groups.values())
            + "。请先用 group_units() 分组，每组单独汇总。"
        )
    main = units[0] if units else (summary.summed if summary is not None else None)
    with atomic_path(path) as tmp, collector_paused():
        # temp files, not memory: 分单位明细 has a cell per indicator and unit
        wb = xlsxwriter.Workbook(str(tmp), {**_wb_options(), "in_memory": False})
        st = _Styles(wb)
        positions: list[_DetailPositions] = []
        first_pos: dict[int, tuple[str, int, int]] = {}
        sum_pos: dict[str, tuple[str, int, int]] = {}
        if main is not None:
            form, year = main.form, main.year
            wb.set_properties({"title": summary_xlsx_name(year)[:-5], "subject": form.name})
            cell_ids = _form_info(form).cell_ids
            known = summary.matrix if summary is not None else None
            if (
                summary is not None
                and known is not None
                and len(summary.units) == len(units)
                and all(map(operator.is_, units, summary.units))
            ):
                values, odd = known  # as summed by summarise
            else:
                values, odd = value_matrix(units, cell_ids)  # read once, for the sums and for 分单位明细
            totals = summary.totals if summary is not None else sum_matrix(form, units, (values, odd))
            unit_marks = [_marks(u) for u in units]
            sum_marks = _marks(summary.summed) if summary is not None else {}
            _write_summary_tables(wb, st, form, year, totals, units, sum_marks, sum_pos, summary)
            _, col_of, unit_rows = _write_detail(
                wb, st, form, year, units, totals, unit_marks, values, stream=_STREAM_DETAIL
            )
            positions = [_DetailPositions(col_of, r) for r in unit_rows]
            del unit_marks
            _write_charts(wb, st, form, year, units)
        ws_find = wb.add_worksheet(FINDINGS_SHEET)
        ws_status = wb.add_worksheet("报送情况")
        rows: list[tuple[Unit, Finding, tuple[str, int, int] | None]] = []
        if summary is not None:
            for f in _sorted_findings(summary.findings):
                rows.append((summary.summed, f, _finding_target(f, sum_pos, {})))
        for u, p in zip(units, positions):
            m = summary.mapping_of(u) if summary is not None else None
            shown = m.original if m is not None else u
            for f in _sorted_findings(u.findings):
                # findings without a cell (metadata, narrative) link to the unit's row
                target = _finding_target(f, p, {}) or (_DETAIL_SHEET, p.row, 0)
                first_pos.setdefault(id(shown), ("审核结果", 2 + len(rows), 0))
                rows.append((u, f, target))
        _write_findings_sheet(ws_find, st, rows, True, "汇总审核结果", main.year if main is not None else None, {})
        _write_status(ws_status, st, units, list(others), list(failures), main, first_pos, summary)
        for ws in wb.worksheets():  # every summary sheet prints landscape (the chart sheet too)
            ws.set_landscape()
            if ws.name != _DETAIL_SHEET:  # 分单位明细 has a writer of its own (_detail_writer)
                fast_rows(ws)
        with zip_level(SUMMARY_ZIP_LEVEL):
            wb.close()
        release_workbook(wb)  # freed on return, before the collector is on again
    return path


def write_summaries(units: Sequence[Unit], out_dir: Path | str, failures: Sequence[tuple[str, str]] = ()) -> list[Path]:
    """Group units by form and year and write one summary per group into ``out_dir/汇总``.

    Every summary lists all input files in 报送情况 (units of other groups as
    not summed there). With no readable unit, a workbook with only 报送情况 and
    审核结果 is written so that the reasons are not lost.
    """
    folder = Path(out_dir) / SUMMARY_DIR
    groups = group_units(units)
    if not groups:
        return [write_summary_xlsx([], folder / safe_filename("政府信息公开工作报送情况", ".xlsx"), failures)]
    years: dict[int | None, int] = {}
    for _, year in groups:
        years[year] = years.get(year, 0) + 1
    out = []
    for (_, year), us in groups.items():
        form = us[0].form
        qualify = years[year] > 1 and not (year is not None and form.applies_to(year))
        name = summary_xlsx_name(year, form if qualify else None)
        others = [u for key, g in groups.items() if key != (form.id, year) for u in g]
        out.append(write_summary_xlsx(us, folder / name, failures, others=others))
    return out
