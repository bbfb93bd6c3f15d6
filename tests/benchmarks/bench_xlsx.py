"""Time the per-unit checked workbook: XlsxWriter (the library) vs openpyxl (same sheets).

    python tests/benchmarks/bench_xlsx.py [N]

The openpyxl writer below draws the same official table sheets (grid, merges,
fonts, borders, fills, number formats, comments, freeze panes, print setup)
and the same 审核结果 sheet from the same plan, so that the two timings compare
the writers, not the content. Both include the atomic rename and fsync.
Not collected by pytest (``collect_ignore`` in tests/conftest.py).
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from synthetic import random_values

from gkreport import xlsx_out as xo
from gkreport.fileio import atomic_path
from gkreport.model import ERROR, WARNING, Finding, Unit
from gkreport.spec import load_form


def make_unit(i: int, form_id: str = "2021") -> Unit:
    rnd = random.Random(i)
    form = load_form(form_id)
    values = random_values(form, rnd)
    ids = [c for c in form.cells if not form.cells[c].optional]
    a, b, c = rnd.sample(ids, 3)
    findings = [
        Finding(
            rule="A1",
            severity=ERROR,
            message="总计不等于各项之和：应为 21，实际 12",
            table=form.cells[a].table,
            cell_ids=(a, b),
            expected=21,
            actual=12,
            suspect=a,
            suggestion=21,
        ),
        Finding(rule="W1", severity=WARNING, message="数值异常", table=form.cells[c].table, cell_ids=(c,), suspect=c),
    ]
    return Unit(
        file=Path(f"单位{i}.xlsx"),
        form=form,
        unit=f"某某区第{i}局",
        year=2025,
        values=values,
        meta={"unit": f"某某区第{i}局", "year": 2025, "contact": "张三"},
        narrative={"overview": "总体情况。" * 40, "problems": "问题。"},
        findings=findings,
    )


# --------------------------------------------------------------------------- openpyxl equivalent

_THIN = Side(style="thin")
_MEDIUM_RED = Side(style="medium", color="C00000")


class _OpxStyles:
    def __init__(self):
        self.cache = {}

    def get(self, key, make):
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]


def _opx_table_sheet(wb, styles, unit, table, marks, pos):
    plan = xo._plan(unit.form, table)
    g = plan.grid
    ws = wb.create_sheet(table.title_for(unit.year)[:31])
    ws.sheet_view.showGridLines = False
    n = max(g.n_cols, 2)
    for i, w in enumerate(plan.widths):
        ws.column_dimensions[get_column_letter(i + 1)].width = w
    border = styles.get("border", lambda: Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN))
    song = styles.get("song", lambda: Font(name="宋体", size=10.5))
    hei = styles.get("hei", lambda: Font(name="黑体", size=10.5))
    wrap = styles.get("wrap", lambda: Alignment(wrap_text=True, vertical="center"))
    center = styles.get("center", lambda: Alignment(wrap_text=True, vertical="center", horizontal="center"))
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=n)
    t = ws.cell(1, 1, table.title_for(unit.year))
    t.font = styles.get("title", lambda: Font(name="黑体", size=16))
    t.alignment = center
    ws.cell(2, 1, f"单位名称：{unit.unit}").font = song
    top = 3
    for gc in g.cells:
        r, c = top + gc.row, gc.col + 1
        if gc.merged:
            ws.merge_cells(start_row=r, start_column=c, end_row=r + gc.rowspan - 1, end_column=c + gc.colspan - 1)
            for rr in range(r, r + gc.rowspan):
                for cc in range(c, c + gc.colspan):
                    ws.cell(rr, cc).border = border
        cell = ws.cell(r, c)
        cell.border = border
        if gc.kind == "value":
            v = unit.values.get(gc.cell_id)
            m = marks.get(gc.cell_id)
            if v is not None:
                cell.value = float(v) if isinstance(v, Decimal) else v
            cell.number_format = xo._num_format(table.cells[gc.cell_id].type, v)
            cell.font = song
            cell.alignment = center
            if m is not None:
                color = xo._STATE_PROPS[m.state]["bg_color"].lstrip("#")
                cell.fill = styles.get(("fill", color), lambda c=color: PatternFill("solid", fgColor=c))
                if m.state and m.state.endswith("suspect"):
                    cell.font = styles.get("bold", lambda: Font(name="宋体", size=10.5, bold=True, color="9C0006"))
                    cell.border = styles.get(
                        "sb", lambda: Border(left=_MEDIUM_RED, right=_MEDIUM_RED, top=_MEDIUM_RED, bottom=_MEDIUM_RED)
                    )
                cell.comment = Comment("\n\n".join(m.notes), "审核意见", width=330, height=150)
            pos[gc.cell_id] = (ws.title, r, c)
        else:
            cell.value = gc.text
            cell.font = hei if gc.kind == "header" else song
            cell.alignment = center if gc.kind != "label" or gc.rowspan > 1 else wrap
    for i, h in enumerate(plan.heights):
        ws.row_dimensions[top + i].height = h
    ws.freeze_panes = f"{get_column_letter(g.label_cols + 1)}{top + g.header_rows}"
    ws.page_setup.paperSize = 9
    ws.page_setup.orientation = "landscape" if plan.landscape else "portrait"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    if g.header_rows:
        ws.print_title_rows = f"{top}:{top + g.header_rows - 1}"
    ws.oddFooter.left.text = f"{unit.unit} {unit.year}年度"
    ws.oddFooter.right.text = "第 &P 页，共 &N 页"


def write_unit_openpyxl(unit: Unit, path: Path) -> Path:
    marks = xo._marks(unit)
    with atomic_path(path) as tmp:
        wb = Workbook()
        wb.remove(wb.active)
        styles = _OpxStyles()
        pos = {}
        for table in unit.form.tables.values():
            _opx_table_sheet(wb, styles, unit, table, marks, pos)
        ws = wb.create_sheet("审核结果")
        ws.append(["序号", "级别", "规则", "表", "行", "列", "单元格", "应为", "实际", "问题说明", "建议"])
        for k, f in enumerate(unit.findings, start=1):
            ws.append(
                [
                    k,
                    "错误" if f.severity == ERROR else "提示",
                    f.rule,
                    f.table,
                    "",
                    "",
                    "",
                    f.expected,
                    f.actual,
                    f.message,
                    xo._suggestion_text(f),
                ]
            )
            if f.suspect in pos:
                sheet, r, c = pos[f.suspect]
                ws.cell(k + 1, 7).hyperlink = f"#'{sheet}'!{get_column_letter(c)}{r}"
        ws.auto_filter.ref = f"A1:K{len(unit.findings) + 1}"
        info = wb.create_sheet("基本信息")
        for fld in unit.form.metadata:
            info.append([fld.label, str(unit.meta.get(fld.id) or "")])
        for sid, text in unit.narrative.items():
            for p in text.split("\n"):
                info.append([sid, p])
        wb.save(tmp)
    return path


# --------------------------------------------------------------------------- run


def bench(fn, units, folder: Path, rounds: int = 3) -> float:
    """Best CPU time per workbook (ms) of ``rounds`` rounds (CPU time: the machine may be shared)."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        for i, u in enumerate(units):
            fn(u, folder / f"{i}.xlsx")
        best = min(best, (time.process_time() - t0) / len(units) * 1000)
    return best


def write_unit_xlsxwriter(unit: Unit, path: Path) -> Path:
    """The unit workbook written by XlsxWriter (the fast path's reference and fallback)."""
    xo._FAST = False
    try:
        return xo.write_unit_xlsx(unit, path)
    finally:
        xo._FAST = True


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    print(f"{n} units per round, best of 3 rounds, CPU ms per unit workbook (2 findings each)")
    for form_id in ("2021", "2017"):
        units = [make_unit(i, form_id) for i in range(n)]
        with tempfile.TemporaryDirectory() as d:
            xo.write_unit_xlsx(units[0], Path(d) / "warm.xlsx")  # plans, styles and frames are made once
            write_unit_xlsxwriter(units[0], Path(d) / "warm1.xlsx")
            write_unit_openpyxl(units[0], Path(d) / "warm2.xlsx")
            f = bench(xo.write_unit_xlsx, units, Path(d))
            a = bench(write_unit_xlsxwriter, units, Path(d))
            b = bench(write_unit_openpyxl, units, Path(d))
        print(
            f"  form {form_id}: fast {f:6.2f} ms   xlsxwriter {a:6.2f} ms   openpyxl {b:6.2f} ms"
            f"   xlsxwriter/fast {a / f:4.1f}×   openpyxl/xlsxwriter {b / a:4.1f}×"
        )
    units = [make_unit(i) for i in range(n)]
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        xo.write_summary_xlsx(units, Path(d) / "sum.xlsx", [("坏.xlsx", "无法读取")])
        print(f"  summary of {n} units: {(time.perf_counter() - t0) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
