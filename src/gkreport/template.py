"""Blank, fillable workbooks in the official table layout (one per form).

Labels are locked, input cells unlocked (sheet protection without password),
input cells carry data validation, and a 基本信息 sheet takes the unit
information and the narrative paragraphs. The reader reads these workbooks by
their labels, exactly like a sheet pasted from the official Word tables.

Every template checks itself as the clerk types: the form's hard rules as formulas
(:mod:`gkreport.livecheck`) colour a disagreeing total red, a line above each table turns red
or green, and the 自查 sheet lists what fails. The reader skips the 自查 sheet.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from .fileio import atomic_path
from .spec import Form, Table, compiled

INFO_SHEET = "基本信息"
GUIDE_SHEET = "填表说明"
SELF_CHECK_SHEET = "自查"  # the sheet that lists the failing rules as the clerk types (see gkreport.livecheck)
INFO_HEADER = ("项目", "内容", "填写说明")
TEXT_HEADER = ("报告章节", "内容（可分多段，段与段之间换行）", "填写说明")

_BAD_SHEET_CHARS = str.maketrans(dict.fromkeys("[]:*?/\\", ""))


def sheet_name(table: Table) -> str:
    """Sheet name for a table: its title without year placeholder, ≤ 31 characters."""
    name = table.title_for(None).translate(_BAD_SHEET_CHARS).strip()
    return name[:31]


def guide_lines(form: Form) -> list[str]:
    """The 填表说明 sheet: what the clerk of a department fills in and how it is checked."""
    lines = [
        f"本工作簿适用于：{form.name}。",
        "1. 请先在“基本信息”表填写单位名称、年度、成文日期、联系人等信息，并在下方填写报告的文字部分"
        "（每个章节填在一个格子里，段与段之间按 Alt+回车 换行）。",
        "2. 各统计表只能在白色单元格中填写，表头和指标名称已锁定（工作表保护未设密码，"
        "如需调整可在“审阅—撤销工作表保护”中解除）。",
        "3. 数字请填写阿拉伯数字；没有发生的请填 0，不要留空——空白表示“未填写”，审核时会提示。",
        "4. 件数、条数等只能填写不小于 0 的整数；金额（万元）按实际数填写，可带小数，不要四舍五入。",
        "5. 请勿增删、合并或改写指标行和栏目，也不要改动工作表名称；如确需备注，可在表格右侧或下方另起一列、一行书写。",
        "6. 填写时，各表上方的“自查”一行和“自查”表随时核对表内的合计关系：不符的总计显示为红色，“自查”表逐条写明"
        "应为多少、现为多少。请改到“自查”表显示“全部通过”后再报送；本年的“上年结转”还应与上一年度报告的"
        "“结转下年度继续办理”一致。",
        "7. 填好后保存为 Excel 文件（.xlsx），按通知要求报送。汇总单位审核后会退回一份审核后的统计表，其中“审核结果”表"
        "列明每个问题的位置和应填的数：“错误”必须改正；“提示”核实无误的，可在同一行的“审核说明”列写明情况。"
        "请直接在这份审核后的统计表中修改、说明，再把它重新报送。",
    ]
    if form.superseded_by:
        lines.insert(1, f"注意：本表样已被 {form.superseded_by} 年版表样取代，仅用于核对旧年度的报表。")
    return lines


def write_template(
    form: Form, path: Path | str, values: dict | None = None, meta: dict | None = None, narrative: dict | None = None
) -> Path:
    """Write the template of ``form`` to ``path`` (atomically).

    Blank by default; ``values`` (cell id → number), ``meta`` (field id → value) and
    ``narrative`` (section id → text) fill it, as an office would (samples, tests, benchmarks).
    """
    import xlsxwriter

    path = Path(path)
    with atomic_path(path) as tmp:
        wb = xlsxwriter.Workbook(
            str(tmp),
            {
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
                # column widths count digits of the Normal font: Arial 10 has Calibri 11's digit width in
                # Excel and a metric twin in LibreOffice, so the widths print the same everywhere
                "default_format_properties": {"font_name": "Arial", "font_size": 10},
            },
        )
        wb.set_properties(
            {"title": form.name, "subject": "政府信息公开工作年度报告", "comments": f"gkreport form {form.id}"}
        )
        f = _formats(wb)
        _guide_sheet(wb, form, f)
        _info_sheet(wb, form, f, meta or {}, narrative or {})
        placed = [_table_sheet(wb, form, table, f, values or {}) for table in form.tables.values()]
        _self_check(wb, form, f, placed, values or {})
        wb.close()
    return path


def _formats(wb) -> dict:
    base = {"font_name": "宋体", "font_size": 11, "valign": "vcenter"}
    border = {"border": 1}
    return {
        "title": wb.add_format({**base, "font_name": "黑体", "font_size": 16, "align": "center", "locked": True}),
        "subtitle": wb.add_format({**base, "align": "center", "locked": True}),
        "header": wb.add_format(
            {
                **base,
                **border,
                "font_name": "黑体",
                "align": "center",
                "text_wrap": True,
                "bg_color": "#E8EEF7",
                "locked": True,
            }
        ),
        "caption": wb.add_format(
            {**base, **border, "font_name": "黑体", "align": "left", "locked": True, "bg_color": "#F3F3F3"}
        ),
        "label": {
            lvl: wb.add_format({**base, **border, "text_wrap": True, "indent": lvl, "locked": True}) for lvl in range(4)
        },
        "label_center": wb.add_format({**base, **border, "text_wrap": True, "align": "center", "locked": True}),
        "unit": wb.add_format({**base, **border, "align": "center", "locked": True}),
        "int": wb.add_format({**base, **border, "num_format": "0", "locked": False, "align": "right"}),
        "decimal": wb.add_format({**base, **border, "num_format": "General", "locked": False, "align": "right"}),
        "note": wb.add_format({**base, "italic": True, "font_color": "#555555", "text_wrap": True}),
        "guide": wb.add_format({**base, "text_wrap": True, "valign": "top"}),
        "key": wb.add_format(
            {**base, **border, "bold": True, "text_wrap": True, "locked": True, "bg_color": "#F3F3F3"}
        ),
        "input": wb.add_format({**base, **border, "locked": False, "text_wrap": True, "valign": "top"}),
        "hint": wb.add_format(
            {**base, **border, "font_color": "#666666", "text_wrap": True, "valign": "top", "locked": True}
        ),
        "status": wb.add_format({**base, "font_size": 10, "font_color": "#404040", "text_wrap": True, "locked": True}),
    }


_GUIDE_WIDTH = 90.0  # columns of text of 填表说明: fits the A4 portrait page at 100 %


def _one_page(ws) -> None:
    """A4 portrait, the whole sheet on one page."""
    ws.set_paper(9)
    ws.set_portrait()
    ws.set_margins(left=0.6, right=0.6, top=0.7, bottom=0.7)
    ws.fit_to_pages(1, 1)


def _guide_sheet(wb, form: Form, f: dict) -> None:
    from .xlsx_out import wrapped_lines  # a writer: not imported with the reader, which imports this module

    ws = wb.add_worksheet(GUIDE_SHEET)
    ws.set_column(0, 0, _GUIDE_WIDTH)
    ws.write_string(0, 0, GUIDE_SHEET, f["title"])
    ws.set_row(0, 28)
    lines = guide_lines(form)
    for i, line in enumerate(lines, start=2):
        ws.write_string(i, 0, line, f["guide"])
        ws.set_row(i, wrapped_lines(line, _GUIDE_WIDTH) * 15 + 6)
    ws.print_area(0, 0, 1 + len(lines), 0)
    _one_page(ws)
    ws.protect("", {"format_columns": True, "format_rows": True})


def _info_sheet(wb, form: Form, f: dict, meta: dict, narrative: dict) -> None:
    from .xlsx_out import wrapped_lines

    ws = wb.add_worksheet(INFO_SHEET)
    widths = (24, 60, 34)
    for c, w in enumerate(widths):
        ws.set_column(c, c, w)
    ws.write_string(0, 0, "基本信息", f["title"])
    ws.set_row(0, 28)
    for c, text in enumerate(INFO_HEADER):
        ws.write_string(1, c, text, f["header"])
    r = 2
    for field in form.metadata:
        label = field.label + ("（必填）" if field.required else "")
        ws.write_string(r, 0, label, f["key"])
        _write_input(ws, r, 1, meta.get(field.id), f["input"])
        ws.write_string(r, 2, field.hint or "", f["hint"])
        ws.set_row(r, max(wrapped_lines(label, widths[0]), wrapped_lines(field.hint or "", widths[2])) * 15 + 6)
        if field.type == "year":
            ws.data_validation(
                r,
                1,
                r,
                1,
                {
                    "validate": "integer",
                    "criteria": "between",
                    "minimum": 2000,
                    "maximum": 2100,
                    "error_title": "年度",
                    "error_message": "请填写四位数年度，例如 2025",
                },
            )
        elif field.type == "decimal":
            ws.data_validation(
                r,
                1,
                r,
                1,
                {"validate": "decimal", "criteria": ">=", "value": 0, "error_message": "请填写不小于 0 的数字"},
            )
        r += 1
    r += 1
    for c, text in enumerate(TEXT_HEADER):
        ws.write_string(r, c, text, f["header"])
    r += 1
    texts = [s for s in form.sections if s.kind == "text"]
    room = max(60.0, min(120.0, 480.0 / max(len(texts), 1)))  # room to type, while the sheet prints on one page
    for section in texts:
        ws.write_string(r, 0, section.heading + ("（必填）" if section.required else ""), f["key"])
        _write_input(ws, r, 1, narrative.get(section.id), f["input"])
        ws.write_string(r, 2, section.hint or "", f["hint"])
        ws.set_row(r, max(room, wrapped_lines(section.hint or "", widths[2]) * 15 + 6))
        r += 1
    ws.freeze_panes(2, 0)
    ws.print_area(0, 0, r - 1, len(widths) - 1)
    _one_page(ws)
    ws.protect("", {"format_columns": True, "format_rows": True})


def _write_input(ws, r: int, c: int, value, fmt) -> None:
    if value is None or value == "":
        ws.write_blank(r, c, None, fmt)
    elif isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        ws.write_number(r, c, float(value), fmt)
    else:
        ws.write_string(r, c, str(value), fmt)


@dataclass
class _Placed:
    """A table sheet as written: where its value cells and the 自查 line above the table are."""

    table: Table
    ws: Any
    sheet: str
    cells: dict[str, tuple[int, int]]  # cell id → (row, col)
    status: tuple[int, int, int]  # row, first and last column of the line above the table
    width: float  # of the table (column units)


def _table_sheet(wb, form: Form, table: Table, f: dict, values: dict) -> _Placed:
    g = compiled(form).grid(table.id)
    name = sheet_name(table)
    ws = wb.add_worksheet(name)
    top = 1
    ws.merge_range(0, 0, 0, max(g.n_cols - 1, 1), table.title_for(None), f["title"])
    if table.subtitle:
        ws.merge_range(1, 0, 1, max(g.n_cols - 1, 1), table.subtitle, f["subtitle"])
        top = 2
    top += 1  # a spacer row between title and table
    widths = _column_widths(g)
    for c, w in enumerate(widths):
        ws.set_column(c, c, w)
    for cell in g.cells:
        r, c = top + cell.row, cell.col
        if cell.cell_id is not None:  # a value cell
            spec = table.cells[cell.cell_id]
            fmt = f["decimal"] if spec.type == "decimal" else f["int"]
            if cell.merged:
                ws.merge_range(r, c, r + cell.rowspan - 1, c + cell.colspan - 1, None, fmt)
            _write_input(ws, r, c, values.get(cell.cell_id), fmt)
            ws.data_validation(r, c, r, c, _validation(spec.type))
            continue
        fmt = {
            "header": f["header"],
            "corner": f["header"],
            "caption": f["caption"],
            "unit": f["unit"],
        }.get(cell.kind) or (
            f["label"][min(cell.level, 3)]
            if table.layout == "list"
            else f["label_center"]
            if cell.rowspan > 1
            else f["label"][0]
        )
        if cell.merged:
            ws.merge_range(r, c, r + cell.rowspan - 1, c + cell.colspan - 1, cell.text, fmt)
        else:
            ws.write_string(r, c, cell.text, fmt)
    for r in range(g.n_rows):
        ws.set_row(top + r, 30 if table.layout != "list" else 22)
    if table.footnote:
        ws.merge_range(top + g.n_rows + 1, 0, top + g.n_rows + 1, g.n_cols - 1, table.footnote, f["note"])
    if g.header_rows:
        ws.freeze_panes(top + g.header_rows, g.label_cols)
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    if g.n_cols > 8:
        ws.set_landscape()
    ws.protect("", {"format_columns": True, "format_rows": True})
    cells = {cid: (top + r, c) for cid, (r, c) in g.value_pos.items()}
    return _Placed(table, ws, name, cells, (top - 1, 0, max(g.n_cols - 1, 1)), sum(widths))


def _validation(cell_type: str) -> dict:
    if cell_type == "decimal":
        return {
            "validate": "decimal",
            "criteria": ">=",
            "value": 0,
            "error_title": "金额",
            "error_message": "请填写不小于 0 的数字（单位：万元，可带小数）",
        }
    if cell_type == "signed_int":
        return {
            "validate": "integer",
            "criteria": "between",
            "minimum": -(10**9),
            "maximum": 10**9,
            "error_title": "数量",
            "error_message": "请填写整数（可为负数）",
        }
    return {
        "validate": "integer",
        "criteria": ">=",
        "value": 0,
        "error_title": "数量",
        "error_message": "请填写不小于 0 的整数",
    }


def _text_width(text: str) -> float:
    return sum(2.0 if ord(ch) > 0x2E80 else 1.1 for ch in text)


def _column_widths(g) -> list[float]:
    """Widths that fit Chinese labels: wide label columns, narrow value columns."""
    widths = [9.0] * g.n_cols
    for cell in g.cells:
        if cell.kind in ("label", "caption", "corner") and cell.colspan == 1:
            widths[cell.col] = max(widths[cell.col], min(_text_width(cell.text) * 0.9, 60))
        elif cell.kind == "header" and cell.colspan == 1:
            widths[cell.col] = max(widths[cell.col], min(_text_width(cell.text) * 0.6 + 2, 14))
    if g.table.layout == "tree" and g.label_cols == 3:
        widths[0], widths[1] = 12, 16
        widths[2] = max(widths[2], 30)
    return widths


# --------------------------------------------------------------------------- 自查: live checks

_CHECK_NOTE = (
    "本表由公式自动计算，不用填写，随填随查。只核对表内必须成立的关系：各行、各列的总计等于分项之和，"
    "“其中”项不大于总数，表三“一、本年新收＋二、上年结转＝三（七）总计＋四、结转下年度继续办理”等；"
    "不符的总计在表中显示为红色。与上年报告的衔接、报告文字与表格是否一致等，由汇总单位审核时核对。"
)
_LIST_WIDTH = 110.0  # the column of messages on the 自查 sheet
_HELPER_COL = 3  # hidden helper columns start here (D): fail flag, running count, message, rule id, then
# what the flag and the message read (H–K): judged, expected, actual, blank total (LiveCheck.helpers)
_TABLE_COL = 13  # per table (N): failures, filled cells, value cells


def _a1(r: int, c: int, sheet: str | None = None) -> str:
    from xlsxwriter.utility import xl_rowcol_to_cell

    ref = xl_rowcol_to_cell(r, c, row_abs=True, col_abs=True)
    return f"'{sheet.replace(chr(39), chr(39) * 2)}'!{ref}" if sheet else ref


def _ranges(cells: list[tuple[str, tuple[int, int]]], here: str) -> str:
    """Cells (sheet, (row, col)) as formula arguments seen from sheet ``here``: cells that follow
    one another along a row, or else down a column, as one range (``'表三'!$D$8:$D$28``); a
    range stands for exactly the cells listed."""
    listed = set(cells)
    out: list[str] = []
    done: set[tuple[str, tuple[int, int]]] = set()
    for sheet, (r, c) in cells:
        if (sheet, (r, c)) in done:
            continue
        end = (r, c)
        for dr, dc in ((0, 1), (1, 0)):
            k = 1
            while (sheet, (r + dr * k, c + dc * k)) in listed and (sheet, (r + dr * k, c + dc * k)) not in done:
                k += 1
            if k > 1:
                end = (r + dr * (k - 1), c + dc * (k - 1))
                break
        for rr in range(r, end[0] + 1):
            for cc in range(c, end[1] + 1):
                done.add((sheet, (rr, cc)))
        first = _a1(r, c, None if sheet == here else sheet)
        out.append(first if end == (r, c) else f"{first}:{_a1(*end)}")
    return ",".join(out)


def _self_check(wb, form: Form, f: dict, placed: list[_Placed], values: dict) -> None:
    """The 自查 sheet, the coloured line above each table and the red totals (see gkreport.livecheck)."""
    from xlsxwriter.utility import xl_col_to_name

    from .livecheck import SHEET, TABLE_LINE, live_checks, number, status, status_formula
    from .xlsx_out import wrapped_lines

    where = {cid: (p.sheet, rc) for p in placed for cid, rc in p.cells.items()}
    checks = live_checks(form, set(where))
    ws = wb.add_worksheet(SHEET)
    ws.set_column(0, 0, 6)
    ws.set_column(1, 1, _LIST_WIDTH)
    ws.set_column(2, 2, 2)
    ws.set_column(_HELPER_COL, _TABLE_COL + 2, 12, None, {"hidden": True})
    title = wb.add_format({"font_name": "黑体", "font_size": 16, "locked": True})
    note = wb.add_format(
        {"font_name": "宋体", "font_size": 10, "text_wrap": True, "valign": "top", "font_color": "#555555"}
    )
    state = wb.add_format({"font_name": "黑体", "font_size": 13, "text_wrap": True, "font_color": "#C00000"})
    line = wb.add_format({"font_name": "宋体", "font_size": 11, "text_wrap": True, "valign": "top"})
    num = wb.add_format({"font_name": "宋体", "font_size": 11, "valign": "top", "align": "center"})
    good = wb.add_format({"font_color": "#006100", "bg_color": "#C6EFCE"})
    red = wb.add_format({"font_color": "#9C0006", "bg_color": "#FFC7CE", "bold": True})
    ws.write_string(0, 0, f"{SHEET}（随填随查）", title)
    ws.merge_range(1, 0, 1, 1, _CHECK_NOTE, note)
    ws.set_row(1, 48)
    first = 5  # first row of the list and of the helpers
    last = first + max(len(checks), 1) - 1
    fail_col, count_col, text_col = (xl_col_to_name(_HELPER_COL + k) for k in range(3))
    fails_range = f"${fail_col}${first + 1}:${fail_col}${last + 1}"
    count_range = f"${count_col}${first + 1}:${count_col}${last + 1}"
    text_range = f"${text_col}${first + 1}:${text_col}${last + 1}"

    def ref_in(sheet: str) -> Any:
        """References to cells as seen from ``sheet`` (others qualified), adjacent ones as ranges."""

        def ref(cids: Any) -> str:
            return _ranges([where[c] for c in cids], sheet)

        return ref

    cross = ref_in("")
    shown: list[str] = []  # failing messages, in order (the cached results)
    per_table: dict[str, int] = {}
    for i, check in enumerate(checks):
        r = first + i
        message = check.evaluate(values)
        failing = message is not None
        per_table[check.table] = per_table.get(check.table, 0) + int(failing)
        if failing:
            shown.append(message or "")
        # the helpers read the tables once; flag and message read the helpers
        numbers = check.numbers(values)
        helper = {}
        for k, (name, formula) in enumerate(check.helpers(cross).items()):
            c = _HELPER_COL + 4 + k
            ws.write_formula(r, c, "=" + formula, None, numbers[name])
            helper[name] = f"{xl_col_to_name(c)}{r + 1}"
        ws.write_formula(r, _HELPER_COL, f"=IF({check.flag(helper)},1,0)", None, int(failing))
        prev = f"{count_col}{r}+" if i else ""
        ws.write_formula(r, _HELPER_COL + 1, f"={prev}{fail_col}{r + 1}", None, len(shown))
        ws.write_formula(r, _HELPER_COL + 2, f'=IF({fail_col}{r + 1}=1,{check.text(helper)},"")', None, message or "")
        ws.write_string(r, _HELPER_COL + 3, check.rule.id)
        if check.target is not None:  # the total (or 其中 item) turns red on its own sheet
            sheet, (tr, tc) = where[check.target]
            p = next(p for p in placed if p.sheet == sheet)
            p.ws.conditional_format(
                tr, tc, tr, tc, {"type": "formula", "criteria": "=" + check.fails(ref_in(sheet)), "format": red}
            )
    n_fail = f"SUM({fails_range})"
    # every slot is as high as the longest message any check can give (rows do not grow with formulas)
    big = {"expected": 999999.0, "actual": 999999.0}
    longest = max(
        (wrapped_lines(c.evaluate_with(big, t), _LIST_WIDTH) for c in checks for t in (c.message, c.blank) if t),
        default=1,
    )
    for j in range(max(len(checks), 1)):  # the list: the j-th failing rule's message
        r = first + j
        ws.set_row(r, longest * 15 + 3)
        k = j + 1
        ws.write_formula(r, 0, f'=IF({k}<={n_fail},{k},"")', num, k if k <= len(shown) else "")
        ws.write_formula(
            r,
            1,
            f'=IF({k}<={n_fail},INDEX({text_range},MATCH({k},{count_range},0)),"")',
            line,
            shown[j] if j < len(shown) else "",
        )
    # per table: failures, filled cells and value cells; the line above each table
    blank_total = 0
    n_cells = 0
    parts = []
    for t, p in enumerate(placed):
        r = first + t
        rows = [r0 for r0 in range(first, first + len(checks)) if checks[r0 - first].table == p.table.id]
        fails = f"SUM({fail_col}{rows[0] + 1}:{fail_col}{rows[-1] + 1})" if rows else "0"
        ranges = _ranges([(p.sheet, rc) for rc in p.cells.values()], "")
        filled = sum(1 for cid in p.cells if number(values.get(cid)) is not None)
        fail_here = per_table.get(p.table.id, 0)
        total = len(p.cells)
        ws.write_formula(r, _TABLE_COL, f"={fails}", None, fail_here)
        ws.write_formula(r, _TABLE_COL + 1, f"=COUNT({ranges})", None, filled)
        ws.write_number(r, _TABLE_COL + 2, total)
        fc, bc = _a1(r, _TABLE_COL, SHEET), f"({_a1(r, _TABLE_COL + 2, SHEET)}-{_a1(r, _TABLE_COL + 1, SHEET)})"
        # a line of plain text above the table (no formula on a table sheet: some formats and readers
        # keep a formula's text result as 0, which would look like an entry); it turns red or green
        sr, c0, c1 = p.status
        p.ws.merge_range(sr, c0, sr, c1, TABLE_LINE, f["status"])
        p.ws.set_row(sr, max(20, wrapped_lines(TABLE_LINE, p.width) * 14 + 6))
        red_when, green_when = f"{fc}>0", f"AND({fc}=0,{bc}=0)"
        p.ws.conditional_format(sr, c0, sr, c1, {"type": "formula", "criteria": "=" + red_when, "format": red})
        p.ws.conditional_format(sr, c0, sr, c1, {"type": "formula", "criteria": "=" + green_when, "format": good})
        blank_total += total - filled
        n_cells += total
        parts.append(f"({_a1(r, _TABLE_COL + 2)}-{_a1(r, _TABLE_COL + 1)})")
    ws.merge_range(2, 0, 2, 1, "", state)
    ws.write_formula(
        2,
        0,
        "=" + status_formula(n_fail, "(" + "+".join(parts) + ")", n_cells),
        state,
        status(len(shown), blank_total, n_cells),
    )
    ws.conditional_format(
        2, 0, 2, 1, {"type": "formula", "criteria": f'=$A$3="{status(0, 0, n_cells)}"', "format": good}
    )
    ws.set_row(2, 36)
    ws.write_string(
        4, 0, "序号", wb.add_format({"font_name": "黑体", "border": 1, "align": "center", "bg_color": "#E8EEF7"})
    )
    ws.write_string(
        4, 1, "不符之处（按表的顺序）", wb.add_format({"font_name": "黑体", "border": 1, "bg_color": "#E8EEF7"})
    )
    ws.print_area(0, 0, last, 1)
    ws.set_paper(9)
    ws.set_portrait()
    ws.fit_to_pages(1, 0)
    ws.protect("", {"format_columns": False, "format_rows": True})
