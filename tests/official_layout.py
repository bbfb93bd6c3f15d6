"""Workbooks laid out like the official Word tables pasted into Excel, built by hand.

Deliberately independent of ``gkreport.spec.layout``: the structure below is typed
from formats.md §1 (captions, block headers, the 3×3 corner block, stacked
headers with line breaks, merged row labels), so reading it tests the reader
against the official drawing rather than against our own template.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

T3_COLS = ["natural", "business", "research", "social", "legal_service", "org_other", "total"]
T3_ROWS = [  # (level-1 label, level-2 label, level-3 label, row id)
    ("一、本年新收政府信息公开申请数量", None, None, "new"),
    ("二、上年结转政府信息公开申请数量", None, None, "carry"),
    ("三、本年度办理结果", "（一）予以公开", None, "disclosed"),
    ("三、本年度办理结果", "（二）部分公开（区分处理的，只计这一情形，不计其他情形）", None, "partial"),
    *[
        ("三、本年度办理结果", "（三）不予公开", lab, f"withheld_{i}")
        for i, lab in enumerate(
            [
                "1.属于国家秘密",
                "2.其他法律行政法规禁止公开",
                "3.危及“三安全一稳定”",
                "4.保护第三方合法权益",
                "5.属于三类内部事务信息",
                "6.属于四类过程性信息",
                "7.属于行政执法案卷",
                "8.属于行政查询事项",
            ],
            1,
        )
    ],
    *[
        ("三、本年度办理结果", "（四）无法提供", lab, f"unable_{i}")
        for i, lab in enumerate(
            ["1.本机关不掌握相关政府信息", "2.没有现成信息需要另行制作", "3.补正后申请内容仍不明确"], 1
        )
    ],
    *[
        ("三、本年度办理结果", "（五）不予处理", lab, f"not_handled_{i}")
        for i, lab in enumerate(
            [
                "1.信访举报投诉类申请",
                "2.重复申请",
                "3.要求提供公开出版物",
                "4.无正当理由大量反复申请",
                "5.要求行政机关确认或重新出具已获取信息",
            ],
            1,
        )
    ],
    *[
        ("三、本年度办理结果", "（六）其他处理", lab, f"other_{i}")
        for i, lab in enumerate(
            [
                "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
                "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",
                "3.其他",
            ],
            1,
        )
    ],
    ("三、本年度办理结果", "（七）总计", None, "total"),
    ("四、结转下年度继续办理", None, None, "next"),
]
T4_COLS = [
    f"{g}_{k}" for g in ("review", "direct", "after") for k in ("upheld", "corrected", "other", "pending", "total")
]
T2_BLOCKS = [
    (
        "第二十条第（一）项",
        ["本年制发件数", "本年废止件数", "现行有效件数"],
        ["made", "repealed", "valid"],
        [("规章", "regulations"), ("行政规范性文件", "normative")],
    ),
    ("第二十条第（五）项", ["本年处理决定数量"], ["decisions"], [("行政许可", "licensing")]),
    ("第二十条第（六）项", ["本年处理决定数量"], ["decisions"], [("行政处罚", "penalty"), ("行政强制", "enforcement")]),
    ("第二十条第（八）项", ["本年收费金额（单位：万元）"], ["fee_amount"], [("行政事业性收费", "fees")]),
]


def random_2021_values(rng: random.Random) -> dict[str, object]:
    values: dict[str, object] = {}
    for _, _, cols, rows in T2_BLOCKS:
        for _, rid in rows:
            for col in cols:
                values[f"t2.{rid}.{col}"] = (
                    rng.randint(0, 500) if col != "fee_amount" else round(rng.uniform(0, 900), 2)
                )
    for *_, rid in T3_ROWS:
        for col in T3_COLS:
            values[f"t3.{rid}.{col}"] = rng.randint(0, 60)
    for col in T4_COLS:
        values[f"t4.cases.{col}"] = rng.randint(0, 9)
    return values


Put = Callable[[int, int, object], None]


def _putter(ws, as_text: bool = False, notes: dict[tuple[int, int], str] | None = None) -> Put:
    def put(r: int, c: int, v: object) -> None:
        if notes and (r, c) in notes and v is not None:
            v = f"{v}{notes[(r, c)]}"
        ws.cell(r, c).value = str(v) if as_text and isinstance(v, (int, float, Decimal)) else v

    return put


def _num(v: object) -> object:
    return float(v) if isinstance(v, Decimal) else v


def put_t2(
    ws, r: int, values: dict, put: Put, *, title: bool = True, remarks: bool = False, at: dict | None = None
) -> int:
    """Table 二 from row ``r`` (blocks with their captions); returns the next free row."""
    if title:
        ws.cell(r, 1).value = "二、主动公开政府信息情况"
        r += 1
    for caption, headers, cols, rows in T2_BLOCKS:
        ws.cell(r, 1).value = caption
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=4)
        r += 1
        ws.cell(r, 1).value = "信息内容"
        if len(headers) == 1:
            ws.cell(r, 2).value = headers[0]
            ws.merge_cells(start_row=r, start_column=2, end_row=r, end_column=4)
        else:
            for k, h in enumerate(headers):
                ws.cell(r, 2 + k).value = h
        if remarks:
            ws.cell(r, 5).value = "备注"
        r += 1
        for label, rid in rows:
            ws.cell(r, 1).value = label
            if len(cols) == 1:
                put(r, 2, _num(values.get(f"t2.{rid}.{cols[0]}")))
                if at is not None:
                    at[f"t2.{rid}.{cols[0]}"] = (r, 2)
                ws.merge_cells(start_row=r, start_column=2, end_row=r, end_column=4)
            else:
                for k, col in enumerate(cols):
                    put(r, 2 + k, _num(values.get(f"t2.{rid}.{col}")))
                    if at is not None:
                        at[f"t2.{rid}.{col}"] = (r, 2 + k)
            if remarks and rid == "normative":
                ws.cell(r, 5).value = "现行有效件数含部门联合发文"
            r += 1
    return r


def put_t3(
    ws, r: int, values: dict, put: Put, *, title: bool = True, remarks: bool = True, at: dict | None = None
) -> int:
    """Table 三 from row ``r``: the 3×3 corner block, three header rows, merged row labels."""
    if title:
        ws.cell(r, 1).value = "三、收到和处理政府信息公开申请情况"
        r += 1
    top = r
    ws.cell(top, 1).value = "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"
    ws.merge_cells(start_row=top, start_column=1, end_row=top + 2, end_column=3)
    ws.cell(top, 4).value = "申请人情况"
    ws.merge_cells(start_row=top, start_column=4, end_row=top, end_column=10)
    ws.cell(top + 1, 4).value = "自然人"
    ws.merge_cells(start_row=top + 1, start_column=4, end_row=top + 2, end_column=4)
    ws.cell(top + 1, 5).value = "法人或其他组织"
    ws.merge_cells(start_row=top + 1, start_column=5, end_row=top + 1, end_column=9)
    ws.cell(top + 1, 10).value = "总计"
    ws.merge_cells(start_row=top + 1, start_column=10, end_row=top + 2, end_column=10)
    for k, h in enumerate(["商业\n企业", "科研\n机构", "社会公益组织", "法律服务机构", "其他"]):
        ws.cell(top + 2, 5 + k).value = h
    if remarks:
        ws.cell(top, 11).value = "备注"
        ws.merge_cells(start_row=top, start_column=11, end_row=top + 2, end_column=11)
    r = top + 3
    first = r
    spans: dict[tuple[int, str], list[int]] = {}
    for l1, l2, l3, rid in T3_ROWS:
        if l2 is None:
            ws.cell(r, 1).value = l1
            ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=3)
        else:
            spans.setdefault((1, l1), []).append(r)
            if l3 is None:
                ws.cell(r, 2).value = l2
                ws.merge_cells(start_row=r, start_column=2, end_row=r, end_column=3)
            else:
                spans.setdefault((2, l2), []).append(r)
                ws.cell(r, 3).value = l3
        for k, col in enumerate(T3_COLS):
            put(r, 4 + k, _num(values.get(f"t3.{rid}.{col}")))
            if at is not None:
                at[f"t3.{rid}.{col}"] = (r, 4 + k)
        if remarks and rid == "other_3":
            ws.cell(r, 11).value = "含申请人撤回申请"
        r += 1
    for (level, label), rows in spans.items():
        ws.cell(rows[0], level).value = label
        ws.merge_cells(start_row=rows[0], start_column=level, end_row=rows[-1], end_column=level)
    assert r - first == 25
    return r


def put_t4(
    ws, r: int, values: dict, put: Put, *, title: bool = True, remarks: bool = False, at: dict | None = None
) -> int:
    """Table 四 from row ``r``: the 15-column header over two groups and its one row of numbers."""
    if title:
        ws.cell(r, 1).value = "四、政府信息公开行政复议、行政诉讼情况"
        r += 1
    ws.cell(r, 1).value = "行政复议"
    ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=5)
    ws.cell(r, 6).value = "行政诉讼"
    ws.merge_cells(start_row=r, start_column=6, end_row=r, end_column=15)
    for k, h in enumerate(["结果\n维持", "结果\n纠正", "其他\n结果", "尚未\n审结", "总计"]):
        ws.cell(r + 1, 1 + k).value = h
        ws.merge_cells(start_row=r + 1, start_column=1 + k, end_row=r + 2, end_column=1 + k)
    ws.cell(r + 1, 6).value = "未经复议直接起诉"
    ws.merge_cells(start_row=r + 1, start_column=6, end_row=r + 1, end_column=10)
    ws.cell(r + 1, 11).value = "复议后起诉"
    ws.merge_cells(start_row=r + 1, start_column=11, end_row=r + 1, end_column=15)
    for g in range(2):
        for k, h in enumerate(["结果\n维持", "结果\n纠正", "其他\n结果", "尚未\n审结", "总计"]):
            ws.cell(r + 2, 6 + 5 * g + k).value = h
    if remarks:
        ws.cell(r, 16).value = "备注"
        ws.merge_cells(start_row=r, start_column=16, end_row=r + 2, end_column=16)
    for k, col in enumerate(T4_COLS):
        put(r + 3, 1 + k, _num(values.get(f"t4.cases.{col}")))
        if at is not None:
            at[f"t4.cases.{col}"] = (r + 3, 1 + k)
    if remarks:
        ws.cell(r + 3, 16).value = "无"
    return r + 4


def write_official_2021(
    path: Path,
    values: dict[str, object],
    unit: str,
    year: int,
    remarks: bool = True,
    as_text: bool = False,
    title: str | None = None,
    where: dict[str, tuple[str, str]] | None = None,
) -> Path:
    """All three tables on one sheet, as pasted from the official Word document (``title`` in A1,
    by default ``{unit}{year}年政府信息公开工作年度报告``). ``where`` (if given) receives the place
    of each value written (cell id → sheet, A1)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "年报表格"
    put = _putter(ws, as_text)
    ws.cell(1, 1).value = title or f"{unit}{year}年政府信息公开工作年度报告"
    at: dict[str, tuple[int, int]] = {}
    r = put_t2(ws, 3, values, put, at=at)
    r = put_t3(ws, r + 1, values, put, remarks=remarks, at=at)
    put_t4(ws, r + 1, values, put, at=at)
    if where is not None:
        where.update({cid: (ws.title, f"{get_column_letter(c)}{r}") for cid, (r, c) in at.items()})
    wb.save(path)
    return path


def report_title(unit: str, year: int, style: str) -> str:
    """The titles offices give their reports: unit first, year first, or the 相关指标统计表 of the tables."""
    return {
        "unit_first": f"{unit}{year}年政府信息公开工作年度报告",
        "year_first": f"{year}年{unit}政府信息公开工作年度报告",
        "indicators": f"{year}年{unit}政府信息公开工作年度报告相关指标统计表",
        "unit_first_wrapped": f"{unit}\n{year}年度政府信息公开工作年度报告",
    }[style]


def write_separate_sheets_2021(
    path: Path,
    values: dict,
    title: str | None,
    *,
    filler: str | None = None,
    filler_beside: bool = False,
    notes: dict[str, str] | None = None,
    table_titles: bool = True,
    extra_sheets: list[tuple[str, dict, int]] = (),
) -> tuple[Path, dict[str, tuple[str, str]]]:
    """Tables 二/三/四 on sheets named 表二/表三/表四, each with a 备注 column; the report title and a
    填报单位 line (below the title, or beside it in the same row) on the first. ``notes`` (cell id → “（其中修订6件）”) are typed after numbers.
    ``extra_sheets`` (name, values, position) add a copy of table 三 (last year's, say).
    Returns the path and where each value was written (cell id → sheet, A1)."""
    wb = Workbook()
    wb.remove(wb.active)
    where: dict[str, tuple[str, str]] = {}
    for name, put_table in (("表二", put_t2), ("表三", put_t3), ("表四", put_t4)):
        ws = wb.create_sheet(name)
        r = 1
        if title and name == "表二":
            ws.cell(1, 1).value = title
            ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=5)
            r = 2
            if filler and filler_beside:  # in the title's row, right of it
                ws.cell(1, 7).value = f"填报单位：{filler}"
            elif filler:
                ws.cell(2, 1).value = f"填报单位：{filler}"
                ws.cell(2, 4).value = "单位：件"
                r = 3
        at: dict = {}
        cell_notes = {}
        put = _putter(ws, notes=cell_notes)
        # a dry run finds the cells, then the notes are attached to them
        put_table(ws, r, values, lambda *a: None, title=table_titles, remarks=True, at=at)
        for cid, note in (notes or {}).items():
            if cid in at:
                cell_notes[at[cid]] = note
        put_table(ws, r, values, put, title=table_titles, remarks=True)
        for cid, (rr, cc) in at.items():
            where[cid] = (name, f"{get_column_letter(cc)}{rr}")
    for name, old_values, pos in extra_sheets:
        ws = wb.create_sheet(name, pos)
        put_t3(ws, 1, old_values, _putter(ws), title=True, remarks=True)
    wb.save(path)
    return path, where


def write_web_page_2021(
    path: Path,
    values: dict,
    title: str,
    narrative: dict[str, str],
    *,
    signer: str | None = None,
    date_written: str | None = None,
    heading_in_cell: bool = False,
) -> Path:
    """A published report copied from a web page into one sheet: title, publishing line, the
    preface, 一、总体情况 and its paragraphs, the three tables under their headings, then 五、 and 六、
    with their paragraphs and the signature; paragraphs merged across the table's width."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    put = _putter(ws)

    def para(r: int, text: str) -> int:
        ws.cell(r, 1).value = text
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=10)
        return r + 1

    ws.cell(1, 1).value = title
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=10)
    r = para(2, "发布时间：2026-01-20　　来源：本机关　　浏览次数：1024")
    r = para(
        r + 1,
        "本报告根据《中华人民共和国政府信息公开条例》和《中华人民共和国政府信息公开工作年度报告格式》编制。"
        "本报告中所列数据的统计期限自1月1日起至12月31日止。",
    )
    headings = {
        "overview": "一、总体情况",
        "problems": "五、存在的主要问题及改进情况",
        "other": "六、其他需要报告的事项",
    }

    def section(r: int, sid: str) -> int:
        paragraphs = narrative[sid].split("\n")
        if heading_in_cell:
            return para(r, headings[sid] + "\n" + "\n".join(paragraphs))
        r = para(r, headings[sid])
        for text in paragraphs:
            r = para(r, "　　" + text)
        return r

    r = section(r, "overview")
    r = put_t2(ws, r, values, put)
    r = put_t3(ws, r, values, put, remarks=False)
    r = put_t4(ws, r, values, put)
    r = section(r, "problems")
    r = section(r, "other")
    r += 1
    if signer:
        ws.cell(r, 8).value = signer
        r += 1
    if date_written:
        ws.cell(r, 8).value = date_written
    wb.save(path)
    return path


def soffice_convert(src: Path, fmt: str, outdir: Path) -> Path:
    """Re-save ``src`` with LibreOffice as ``fmt`` (xlsx / xls / ods)."""
    return soffice_convert_all([src], fmt, outdir)[0]


def soffice_convert_all(srcs: list[Path], fmt: str, outdir: Path) -> list[Path]:
    """Re-save several workbooks with LibreOffice as ``fmt`` in one call (it starts slowly)."""
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    assert exe, "LibreOffice is required"
    filters = {"xlsx": "xlsx:Calc MS Excel 2007 XML", "xls": "xls:MS Excel 97", "ods": "ods"}
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                exe,
                f"-env:UserInstallation=file://{profile}",
                "--headless",
                "--convert-to",
                filters[fmt],
                "--outdir",
                str(outdir),
                *map(str, srcs),
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
    outs = [outdir / (src.stem + "." + fmt) for src in srcs]
    for out in outs:
        assert out.exists(), f"LibreOffice did not write {out}"
    return outs
