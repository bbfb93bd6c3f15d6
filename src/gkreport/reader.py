"""Read a filled workbook by its labels, never by fixed cell positions.

Works for our blank templates, for sheets laid out like the official Word
tables (pasted into Excel: merged label cells, stacked headers, tables on one
sheet or several), and for the old seed-style 统计表 (统计指标 | 单位 | 统计数).
Formats: .xlsx, .xlsm, .xls, .ods (python-calamine reads them all).

Walk every sheet top to bottom. A row is a table title, a header row (its
texts are column labels), a data row (its rightmost label matches a row of
the form) or a note. A band of header rows gives the column map (sheet
column → form column) until the next band. Every value is kept with its
sheet and A1 reference; every problem becomes a Finding.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

from .form import Cell, Form, Node, Table, load_forms
from .labels import core, looks_like_number, norm, similar
from .model import ERROR, WARNING, Finding, ReadError, Unit

SUPPORTED = (".xlsx", ".xlsm", ".xls", ".ods")
UNITS = ("人次", "万元", "条", "件", "次", "篇", "个", "人", "元", "项", "家")
_BLANK_MARKS = {"-", "—", "——", "/", "无", "－", "─"}
_FUZZY_MIN = 0.78
_REQUIRED_MARK = re.compile(r"\((必填|选填)\)$")


def col_letter(c: int) -> str:
    s = ""
    c += 1
    while c:
        c, rem = divmod(c - 1, 26)
        s = chr(65 + rem) + s
    return s


def a1(r: int, c: int) -> str:
    return f"{col_letter(c)}{r + 1}"


# --------------------------------------------------------------------------- workbook loading


@dataclass
class Sheet:
    name: str
    rows: list[list[Any]]
    origin: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)  # covered → merge origin
    missing_cache: set[tuple[int, int]] = field(default_factory=set)  # formula cells without cached value

    def text(self, r: int, c: int) -> str | None:
        """Label text at (r, c), seen through merged cells."""
        r0, c0 = self.origin.get((r, c), (r, c))
        v = self.rows[r0][c0] if c0 < len(self.rows[r0]) else None
        return v.strip() if isinstance(v, str) and v.strip() else None

    def raw(self, r: int, c: int) -> Any:
        if (r, c) in self.origin:
            return None  # hidden under a merged cell: the value sits at the origin
        row = self.rows[r]
        return row[c] if c < len(row) else None

    def origin_col(self, r: int, c: int) -> int:
        return self.origin.get((r, c), (r, c))[1]


def file_kind(path: Path) -> str:
    """What the bytes say the file is (not what its name says)."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                names = set(z.namelist())
        except zipfile.BadZipFile:
            return "broken"
        if "xl/workbook.xml" in names:
            return "xlsx"
        if "content.xml" in names and "mimetype" in names:
            return "ods"
        if "word/document.xml" in names:
            return "docx"
        return "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole"  # .xls, or an encrypted .xlsx
    if not head:
        return "empty"
    return "other"


def load_sheets(path: Path) -> list[Sheet]:
    import python_calamine as pc

    kind = file_kind(path)
    if kind == "empty":
        raise ReadError(f"文件 {path.name} 是空文件（0 字节），请重新保存后再试。", path)
    if kind == "docx":
        raise ReadError(f"文件 {path.name} 是 Word 文档，不是 Excel 工作簿，请放入填好的统计表。", path)
    if kind in ("other", "zip", "broken"):
        raise ReadError(f"文件 {path.name} 不是有效的 Excel/WPS 工作簿（可能已损坏或是其他类型的文件），请重新保存为 .xlsx 后再试。", path)
    try:
        wb = pc.CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types
        if kind == "ole" and path.suffix.lower() in (".xlsx", ".xlsm"):
            raise ReadError(f"文件 {path.name} 设置了打开密码（已加密），请在 Excel 中取消密码后再试。", path) from exc
        raise ReadError(f"文件 {path.name} 无法读取：{exc}。请用 Excel 或 WPS 打开后另存为 .xlsx 再试。", path) from exc
    missing = _formulas_without_cache(path) if kind == "xlsx" else {}
    sheets = []
    try:
        for name in wb.sheet_names:
            try:
                ws = wb.get_sheet_by_name(name)
                rows = ws.to_python(skip_empty_area=False)
                merges = ws.merged_cell_ranges or []
            except Exception as exc:
                raise ReadError(f"文件 {path.name} 的工作表“{name}”无法读取：{exc}", path) from exc
            origin: dict[tuple[int, int], tuple[int, int]] = {}
            for (r0, c0), (r1, c1) in merges:
                for r in range(r0, r1 + 1):
                    for c in range(c0, c1 + 1):
                        if (r, c) != (r0, c0):
                            origin[(r, c)] = (r0, c0)
            sheets.append(Sheet(name, rows, origin, missing.get(name, set())))
    finally:
        wb.close()
    return sheets


_HAS_FORMULA = re.compile(rb"<f[ >/]")
_CELL_RE = re.compile(rb"<c\b[^>]*?\br=\"([A-Z]+)(\d+)\"[^>]*?>(.*?)</c>", re.S)


def _formulas_without_cache(path: Path) -> dict[str, set[tuple[int, int]]]:
    """Formula cells whose cached value is missing (e.g. written by a script, never opened in Excel)."""
    out: dict[str, set[tuple[int, int]]] = {}
    with zipfile.ZipFile(path) as z:
        sheet_files = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet") and n.endswith(".xml")]
        if not sheet_files:
            return out
        names = _sheet_file_names(z)
        for n in sheet_files:
            data = z.read(n)
            if not _HAS_FORMULA.search(data):
                continue
            cells = set()
            for m in _CELL_RE.finditer(data):
                body = m.group(3)
                if _HAS_FORMULA.search(body) and (b"<v>" not in body or b"<v></v>" in body):
                    col = 0
                    for ch in m.group(1):
                        col = col * 26 + ch - 64
                    cells.add((int(m.group(2)) - 1, col - 1))
            if cells and n in names:
                out[names[n]] = cells
    return out


def _sheet_file_names(z: zipfile.ZipFile) -> dict[str, str]:
    from defusedxml import ElementTree as ET

    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
          "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships"}
    wb = ET.fromstring(z.read("xl/workbook.xml"))
    rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    target = {r.get("Id"): r.get("Target") for r in rels}
    out = {}
    for s in wb.iterfind("m:sheets/m:sheet", ns):
        t = target.get(s.get(f"{{{ns['r']}}}id"), "")
        t = t.lstrip("/")
        out[t if t.startswith("xl/") else "xl/" + t] = s.get("name")
    return out


# --------------------------------------------------------------------------- form index


@dataclass
class _TableIndex:
    table: Table
    order: dict[str, int]
    rows_exact: dict[str, list[str]]
    rows_core: dict[str, list[str]]
    cols_exact: dict[str, list[str]]
    cols_core: dict[str, list[str]]
    title: re.Pattern
    label_markers: set[str]  # texts over label columns (信息内容, 统计指标, corner)
    unit_markers: set[str]
    single_unlabelled: str | None  # id of the only row when it has no label (table 四)


@dataclass
class _FormIndex:
    form: Form
    tables: dict[str, _TableIndex]
    labels: set[str]  # every normalised label of the form, for detection
    meta: dict[str, str]  # normalised field label → field id
    sections: dict[str, str]  # normalised heading → section id
    hints: set[str]


def _add(index: dict[str, list[str]], key: str, value: str) -> None:
    if key and value not in index.setdefault(key, []):
        index[key].append(value)


def _title_regex(title: str) -> re.Pattern:
    parts = [re.escape(norm(p)) for p in title.split("{year}")]
    return re.compile("^" + r"(?:\d{4})?".join(parts) + "$")


@lru_cache(maxsize=32)
def _index(form: Form) -> _FormIndex:
    tables = {}
    labels: set[str] = set()
    for t in form.tables.values():
        rows_exact: dict[str, list[str]] = {}
        rows_core: dict[str, list[str]] = {}
        cols_exact: dict[str, list[str]] = {}
        cols_core: dict[str, list[str]] = {}
        for n in t.rows.values():
            for lab in (n.label,) + n.aliases:
                _add(rows_exact, norm(lab), n.id)
                _add(rows_core, core(lab), n.id)
                labels.add(norm(lab))
        for n in t.columns.values():
            for lab in (n.label,) + n.aliases:
                if "{year}" in lab:
                    continue
                _add(cols_exact, norm(lab), n.id)
                _add(cols_core, core(lab), n.id)
                labels.add(norm(lab))
        labels.add(norm(t.title_for(None)))
        markers = {norm(x) for x in (t.label_header, t.corner) if x}
        unlabelled = [n.id for n in t.rows.values() if not n.label]
        tables[t.id] = _TableIndex(
            table=t, order={rid: i for i, rid in enumerate(t.rows)},
            rows_exact=rows_exact, rows_core=rows_core, cols_exact=cols_exact, cols_core=cols_core,
            title=_title_regex(t.title), label_markers=markers,
            unit_markers={norm(t.unit_header)} if t.unit_header else set(),
            single_unlabelled=unlabelled[0] if len(t.rows) == 1 and unlabelled else None,
        )
        for alias in t.aliases:
            labels.add(norm(alias))
    labels.discard("")
    meta = {}
    for f in form.metadata:
        for lab in (f.label,) + f.aliases:
            meta[norm(lab)] = f.id
    sections = {}
    for s in form.sections:
        for lab in (s.heading,) + s.aliases:
            sections[norm(lab)] = s.id
    hints = {norm(x.hint) for x in list(form.metadata) + list(form.sections) if x.hint}
    return _FormIndex(form, tables, labels, meta, sections, hints)


def _title_table(fi: _FormIndex, text: str) -> str | None:
    n = norm(text)
    for tid, ti in fi.tables.items():
        if ti.title.match(n) or n in (norm(a) for a in ti.table.aliases):
            return tid
    return None


def detect_form(sheets: list[Sheet], forms: dict[str, Form]) -> tuple[Form, int]:
    """The form whose labels the workbook shows most; ties go to the newer form."""
    texts = set()
    for s in sheets:
        for row in s.rows:
            for v in row:
                if isinstance(v, str) and v.strip():
                    texts.add(norm(v))
    best = None
    for form in forms.values():
        fi = _index(form)
        score = len(texts & fi.labels)
        key = (score, form.years[0] or 0)
        if best is None or key > best[0]:
            best = (key, form)
    if best is None or best[0][0] < 3:
        raise ReadError("未找到政府信息公开统计表：工作簿中没有可识别的表格标签。")
    return best[1], best[0][0]


# --------------------------------------------------------------------------- values


def parse_value(raw: Any, cell: Cell) -> tuple[Any, str | None, str]:
    """(value, problem, severity). Blank stays None; anything unclear is a problem, never a guess."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, None, ""
    if isinstance(raw, bool):
        return None, f"应填写数字，实为“{raw}”", ERROR
    if isinstance(raw, (datetime, date)):
        return None, f"应填写数字，实为日期“{raw}”", ERROR
    if isinstance(raw, (int, float)):
        number = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
        text = None
    else:
        text = unicodedata.normalize("NFKC", str(raw)).strip().replace(" ", "")
        if text in _BLANK_MARKS:
            return None, f"填写了“{raw}”，按空白处理；没有发生请填 0", WARNING
        body = text
        for u in UNITS:
            if body.endswith(u):
                body = body[: -len(u)]
                break
        if re.fullmatch(r"[+\-]?\d{1,3}(,\d{3})+(\.\d+)?", body):
            body = body.replace(",", "")
        if not re.fullmatch(r"[+\-]?(\d+(\.\d*)?|\.\d+)", body):
            return None, f"应填写数字，实为“{raw}”", ERROR
        try:
            number = Decimal(body)
        except InvalidOperation:  # pragma: no cover - guarded by the regex
            return None, f"应填写数字，实为“{raw}”", ERROR
    if cell.type == "decimal":
        if number < 0:
            return None, f"金额不能为负数，实为“{raw}”", ERROR
        return number.normalize() if number == number.to_integral_value() else number, None, ""
    if number != number.to_integral_value():
        return None, f"应为整数，实为“{raw}”", ERROR
    if number < 0 and cell.type != "signed_int":
        return None, f"不能为负数，实为“{raw}”", ERROR
    return int(number), None, ""


def _parse_year(raw: Any) -> int | None:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return int(raw) if 1990 <= raw <= 2100 and float(raw).is_integer() else None
    if isinstance(raw, str):
        m = re.fullmatch(r"(\d{4})\s*年?度?", unicodedata.normalize("NFKC", raw).strip())
        if m and 1990 <= int(m.group(1)) <= 2100:
            return int(m.group(1))
    return None


_HAN_DIGITS = {"〇": 0, "零": 0, "○": 0, "O": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5,
               "六": 6, "七": 7, "八": 8, "九": 9}


def _han_number(s: str) -> int | None:
    if all(ch in _HAN_DIGITS for ch in s):
        return int("".join(str(_HAN_DIGITS[ch]) for ch in s))
    m = re.fullmatch(r"([一二三]?)十([一二三四五六七八九]?)", s)
    if m:
        return (_HAN_DIGITS.get(m.group(1), 1) if m.group(1) else 1) * 10 + (_HAN_DIGITS[m.group(2)] if m.group(2) else 0)
    return None


def parse_date(raw: Any) -> date | None:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if not isinstance(raw, str):
        return None
    s = unicodedata.normalize("NFKC", raw).strip().replace(" ", "")
    m = re.fullmatch(r"(\d{4})[年./\-](\d{1,2})[月./\-](\d{1,2})日?", s)
    if not m:
        m2 = re.fullmatch(r"([〇零○O一二三四五六七八九]{4})年([一二三四五六七八九十]{1,3})月([一二三四五六七八九十]{1,3})日", s)
        if not m2:
            return None
        parts = [_han_number(g) for g in m2.groups()]
        if None in parts:
            return None
        y, mo, d = parts  # type: ignore[misc]
    else:
        y, mo, d = (int(g) for g in m.groups())
    try:
        return date(y, mo, d)
    except ValueError:
        return None


# --------------------------------------------------------------------------- the walk


def _is_number(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float)):
        return True
    return isinstance(v, str) and looks_like_number(v)


class _Reader:
    def __init__(self, unit: Unit, fi: _FormIndex):
        self.unit = unit
        self.fi = fi
        self.form = fi.form
        self.found: dict[str, tuple[str, int]] = {}  # "table.row" → (sheet, row) of the matched row
        self.tables_seen: set[str] = set()
        self.columns_seen: dict[str, set[str]] = {}
        self.hybrid: set[str] = set()

    def add(self, rule: str, severity: str, message: str, table: str | None = None,
            cells: tuple[str, ...] = (), cell_ids: tuple[str, ...] = (), actual: Any = None) -> None:
        self.unit.findings.append(Finding(rule=rule, severity=severity, message=message, table=table,
                                          cells=cells, cell_ids=cell_ids, actual=actual))

    # -- columns ------------------------------------------------------------------------------

    def _header_hits(self, texts: list[str], ti: _TableIndex) -> int:
        hits = 0
        for t in texts:
            n = norm(t)
            if n in ti.cols_exact or n in ti.label_markers or n in ti.unit_markers:
                hits += 1
        return hits

    def _finalize_band(self, sheet: Sheet, band: list[int], ti: _TableIndex):
        colmap: dict[int, str] = {}
        label_cols: set[int] = set()
        aux_cols: set[int] = set()
        used: set[str] = set()
        width = max((len(sheet.rows[r]) for r in band), default=0)
        t = ti.table
        for c in range(width):
            path: list[str] = []
            last_origin = None
            leaf_origin_col = None
            for r in band:
                o = sheet.origin.get((r, c), (r, c))
                text = sheet.text(r, c)
                if text and o != last_origin:
                    path.append(text)
                    leaf_origin_col = o[1]
                last_origin = o if text else last_origin
            if not path:
                continue
            leaf = norm(path[-1])
            if leaf in ti.label_markers or any(norm(p) in ti.label_markers for p in path):
                label_cols.add(c)
                continue
            if leaf in ti.unit_markers:
                aux_cols.add(c)
                continue
            if leaf_origin_col != c:
                continue  # continuation of a header merged across: the value sits at its origin
            cands = ti.cols_exact.get(leaf) or []
            quality = "exact"
            if not cands:
                year_col = [cid for cid in t.columns
                            if any("{year}" in lab for lab in t.columns[cid].aliases)
                            and re.fullmatch(r"\d{4}年度?", leaf)]
                cands = year_col
            if not cands:
                cands = ti.cols_core.get(core(path[-1])) or []
                quality = "core"
            if not cands:
                best = self._fuzzy(leaf, [(n.id, lab) for n in t.columns.values() if not n.children
                                          for lab in (n.label,) + n.aliases if "{year}" not in lab])
                cands = [best] if best else []
                quality = "fuzzy"
            cands = [x for x in cands if not t.columns[x].children and not t.columns[x].heading]
            if not cands:
                continue  # 备注 or other extra column: ignored
            path_norms = {norm(p) for p in path[:-1]}
            scored = sorted(cands, key=lambda x: (-sum(norm(p) in path_norms for p in t.columns[x].path[:-1]),
                                                  x in used, list(t.columns).index(x)))
            chosen = scored[0]
            if chosen in used:
                self.add("READ.duplicate_column", WARNING,
                         f"{self._tname(t)}的栏目“{path[-1]}”重复出现（{sheet.name}!{col_letter(c)}列），只读取第一列。",
                         table=t.id, cells=(f"{sheet.name}!{a1(band[-1], c)}",))
                continue
            used.add(chosen)
            colmap[c] = chosen
            if quality != "exact":
                self._label_warning(t, "栏目", path[-1], t.columns[chosen].label, sheet.name, a1(band[-1], c))
        self.columns_seen.setdefault(t.id, set()).update(used)
        if label_cols and colmap and min(label_cols) < min(colmap):
            # every column between the label header and the first value column holds labels
            # (needed where merges are lost, e.g. .ods, or cells were unmerged by hand)
            label_cols = set(range(min(label_cols), min(colmap))) - aux_cols
        return colmap, label_cols, aux_cols

    # -- rows ---------------------------------------------------------------------------------

    def _fuzzy(self, text: str, candidates: list[tuple[str, str]]) -> str | None:
        if len(core(text)) < 3:
            return None
        scores = sorted(((similar(norm(text), norm(lab)), nid) for nid, lab in candidates), reverse=True)
        scores += [(similar(core(text), core(lab)), nid) for nid, lab in candidates if core(lab)]
        scores.sort(reverse=True)
        if not scores or scores[0][0] < _FUZZY_MIN:
            return None
        runner_up = next((s for s, nid in scores if nid != scores[0][1]), 0.0)
        return scores[0][1] if scores[0][0] - runner_up >= 0.05 else None

    def _match_row(self, ti: _TableIndex, texts: list[str], last: int) -> tuple[str, str, str] | None:
        """(row id, quality, text) for the row whose labels are ``texts`` (left to right)."""
        if not texts:
            return None
        t = ti.table
        leaf = texts[-1]
        context = {norm(x) for x in texts[:-1]}
        for quality, cands in (("exact", ti.rows_exact.get(norm(leaf))),
                               ("core", ti.rows_core.get(core(leaf)))):
            if cands:
                return self._choose(ti, cands, context, last), quality, leaf
        best = self._fuzzy(leaf, [(n.id, lab) for n in t.rows.values() for lab in (n.label,) + n.aliases if lab])
        if best:
            return best, "fuzzy", leaf
        return None

    def _choose(self, ti: _TableIndex, cands: list[str], context: set[str], last: int) -> str:
        if len(cands) == 1:
            return cands[0]
        t = ti.table

        def key(rid: str):
            ctx = sum(norm(p) in context for p in t.rows[rid].path[:-1])
            o = ti.order[rid]
            done = f"{t.id}.{rid}" in self.found
            return (-ctx, done, 0 if o > last else 1, o if o > last else -o)

        return sorted(cands, key=key)[0]

    def _label_warning(self, t: Table, what: str, text: str, official: str, sheet: str, ref: str) -> None:
        self.add("READ.label", WARNING,
                 f"{self._tname(t)}{what}“{text}”与官方表述“{official}”不一致，已按“{official}”读取（{sheet}!{ref}）。",
                 table=t.id, cells=(f"{sheet}!{ref}",), actual=text)

    def _tname(self, t: Table) -> str:
        title = t.title_for(self.unit.year)
        head = title.split("、", 1)[0]
        return f"表{head}" if len(head) <= 2 and "、" in title else "统计表"

    # -- sheet walk ---------------------------------------------------------------------------

    def walk(self, sheet: Sheet) -> None:
        fi = self.fi
        current: _TableIndex | None = None
        colmap: dict[int, str] = {}
        label_cols: set[int] = set()
        aux_cols: set[int] = set()
        band: list[int] = []
        last: dict[str, int] = {}
        for r, row in enumerate(sheet.rows):
            if not any((v is not None and v != "") for v in row) and not any(
                    (r, c) in sheet.origin for c in range(len(row))):
                continue
            # texts of this row, one per merged block, with the column the block starts in
            seen_origins = set()
            cells: list[tuple[int, str]] = []
            for c in range(len(row)):
                o = sheet.origin.get((r, c), (r, c))
                if o in seen_origins:
                    continue
                seen_origins.add(o)
                text = sheet.text(r, c)
                if text is not None:
                    cells.append((c, text))
            # a table title switches the table
            title = next((tid for _, text in cells if (tid := _title_table(fi, text))), None)
            if title and not any(norm(text) in fi.tables[title].rows_exact for _, text in cells):
                current = fi.tables[title]
                self.tables_seen.add(title)
                colmap, label_cols, aux_cols, band = {}, set(), set(), []
                continue
            label_texts = self._labels(sheet, r, cells, colmap, label_cols, aux_cols)
            has_numbers = any(_is_number(sheet.raw(r, c)) for c in range(len(row)))
            # header rows: texts that are column labels (of the current table, or the best one)
            all_texts = [text for _, text in cells]
            if not has_numbers:
                candidates = [current] if current else []
                candidates += [ti for ti in fi.tables.values() if ti is not current]
                scores = [(self._header_hits(all_texts, ti), ti) for ti in candidates]
                best_score, best_ti = max(scores, key=lambda x: x[0]) if scores else (0, None)
                cur_score = self._header_hits(all_texts, current) if current else 0
                row_hit = current is not None and self._exact_row(current, label_texts)
                if best_score and not row_hit:
                    if not band and current is not None and cur_score == 0 and best_score > 0:
                        current = best_ti
                    elif current is None:
                        current = best_ti
                    band.append(r)
                    continue
            if band and current is not None:
                colmap, label_cols, aux_cols = self._finalize_band(sheet, band, current)
                self.tables_seen.add(current.table.id)
                band = []
                label_texts = self._labels(sheet, r, cells, colmap, label_cols, aux_cols)
            if current is None:
                # no title, no header yet: try every table's rows (exact labels only)
                for ti in fi.tables.values():
                    if self._exact_row(ti, label_texts):
                        current = ti
                        break
                if current is None:
                    continue
            ti = current
            match = self._match_row(ti, label_texts, last.get(ti.table.id, -1))
            if match is None and not label_texts and ti.single_unlabelled and has_numbers:
                match = (ti.single_unlabelled, "exact", "")
            if match is None:
                if has_numbers and colmap:
                    text = label_texts[-1] if label_texts else ""
                    self.add("READ.unknown_row", WARNING,
                             f"{self._tname(ti.table)}中有一行未能识别（{sheet.name}!第{r + 1}行“{text}”），其中的数字没有读取；"
                             "请核对该行是否为官方表格中的指标。", table=ti.table.id,
                             cells=(f"{sheet.name}!{a1(r, 0)}",), actual=text)
                continue
            rid, quality, text = match
            self.tables_seen.add(ti.table.id)
            last[ti.table.id] = ti.order[rid]
            self._read_row(sheet, r, ti, rid, quality, text, colmap)

    @staticmethod
    def _labels(sheet: Sheet, r: int, cells: list[tuple[int, str]], colmap: dict[int, str],
                label_cols: set[int], aux_cols: set[int]) -> list[str]:
        """Texts of the row that can be row labels, left to right."""
        texts = [(c, text) for c, text in cells
                 if c not in colmap and c not in aux_cols and not looks_like_number(text)]
        if label_cols:
            return [t for c, t in texts if c in label_cols or sheet.origin_col(r, c) in label_cols]
        if colmap:
            # labels stand left of the numbers; texts right of them are remarks (备注),
            # unless the sheet has its labels on the right (columns swapped)
            left = [t for c, t in texts if c < min(colmap)]
            return left or [t for c, t in texts if c > max(colmap)]
        return [t for _, t in texts]

    def _exact_row(self, ti: _TableIndex, texts: list[str]) -> bool:
        return bool(texts) and norm(texts[-1]) in ti.rows_exact

    def _read_row(self, sheet: Sheet, r: int, ti: _TableIndex, rid: str, quality: str, text: str,
                  colmap: dict[int, str]) -> None:
        t = ti.table
        node = t.rows[rid]
        key = f"{t.id}.{rid}"
        label_col = min((c for c in range(len(sheet.rows[r])) if sheet.text(r, c) == text), default=0)
        if key in self.found and node.has_value:
            prev = self.found[key]
            self.add("READ.duplicate_row", WARNING,
                     f"{self._tname(t)}“{node.label}”出现了两次（{prev[0]}!第{prev[1] + 1}行和{sheet.name}!第{r + 1}行），"
                     "只读取第一次出现的数字，请删除重复的行。", table=t.id, cells=(f"{sheet.name}!{a1(r, label_col)}",))
            return
        self.found[key] = (sheet.name, r)
        if quality != "exact" and text:
            self._label_warning(t, "指标", text, node.label, sheet.name, a1(r, label_col))
        by_col = {v: k for k, v in colmap.items()}
        if not node.has_value:
            for c, col in colmap.items():
                raw = sheet.raw(r, c)
                if raw not in (None, "") and col in by_col:
                    self.add("READ.heading_value", WARNING,
                             f"{self._tname(t)}“{node.label}”是标题行，不应填写数字（{sheet.name}!{a1(r, c)}），已忽略。",
                             table=t.id, cells=(f"{sheet.name}!{a1(r, c)}",), actual=raw)
                    break
            return
        for col in t.row_columns(rid):
            cell = t.cells[f"{t.id}.{rid}.{col}"]
            c = by_col.get(col)
            if c is None:
                continue
            ref = a1(r, c)
            self.unit.locations[cell.id] = (sheet.name, ref)
            if (r, c) in sheet.missing_cache:
                self.unit.values[cell.id] = None
                self.add("READ.formula", ERROR,
                         f"{self._cell_name(t, cell)}是公式，但文件中没有保存计算结果（{sheet.name}!{ref}），"
                         "请在 Excel 中打开并保存后再试；此格按空白处理，不按 0 计算。",
                         table=t.id, cells=(f"{sheet.name}!{ref}",), cell_ids=(cell.id,))
                continue
            value, problem, severity = parse_value(sheet.raw(r, c), cell)
            if cell.optional and value is None and not problem:
                del self.unit.locations[cell.id]  # an empty optional subtotal is no subtotal
                continue
            self.unit.values[cell.id] = value
            if problem:
                self.add("READ.value", severity, f"{self._cell_name(t, cell)}{problem}（{sheet.name}!{ref}）。",
                         table=t.id, cells=(f"{sheet.name}!{ref}",), cell_ids=(cell.id,), actual=sheet.raw(r, c))

    def _cell_name(self, t: Table, cell: Cell) -> str:
        row = t.rows[cell.row].label
        col = t.columns[cell.column].label
        if t.layout == "list" or len(t.value_columns()) == 1:
            return f"{self._tname(t)}“{row}”"
        if not row:
            return f"{self._tname(t)}“{t.column_path(cell.column)}”"
        return f"{self._tname(t)}“{row}”{col}列"

    # -- after all sheets ---------------------------------------------------------------------

    def finish(self) -> None:
        form = self.form
        for t in form.tables.values():
            if t.id not in self.tables_seen:
                self.add("READ.missing_table", ERROR, f"没有找到{self._tname(t)}“{t.title_for(self.unit.year)}”。",
                         table=t.id)
                for cid, cell in t.cells.items():
                    if not cell.optional:
                        self.unit.values.setdefault(cid, None)
                continue
            # a heading with its own numbers but none of its items: the single-row (2019) layout
            for node in t.rows.values():
                key = f"{t.id}.{node.id}"
                if node.subtotal != "optional" or key not in self.found or any(
                        f"{t.id}.{k}" in self.found for k in node.children):
                    continue
                self.hybrid.add(key)
                kids = "、".join(t.rows[k].label for k in node.children)
                self.add("READ.hybrid", WARNING,
                         f"{self._tname(t)}“{node.label}”只有一行（2019年版格式的写法），现行格式应分为：{kids}。"
                         "已把该行作为小计读取，细项按空白处理，请按现行格式分项填写。", table=t.id,
                         cell_ids=tuple(f"{t.id}.{node.id}.{c}" for c in t.row_columns(node.id)))
            missing_rows = []
            for node in t.value_rows():
                key = f"{t.id}.{node.id}"
                parent_hybrid = node.parent and f"{t.id}.{node.parent}" in self.hybrid
                if key not in self.found and node.subtotal != "optional":
                    if not parent_hybrid:
                        missing_rows.append(node)
                    for col in t.row_columns(node.id):
                        self.unit.values.setdefault(f"{t.id}.{node.id}.{col}", None)
            for node in missing_rows:
                self.add("READ.missing_row", ERROR, f"{self._tname(t)}缺少“{'/'.join(node.path)}”一行。",
                         table=t.id, cell_ids=tuple(f"{t.id}.{node.id}.{c}" for c in t.row_columns(node.id)))
            seen_cols = self.columns_seen.get(t.id, set())
            found_rows = [n for n in t.value_rows() if f"{t.id}.{n.id}" in self.found]
            for col in t.value_columns():
                needed = any(col.id in t.row_columns(n.id) for n in found_rows)
                if needed and col.id not in seen_cols:
                    self.add("READ.missing_column", ERROR, f"{self._tname(t)}缺少“{t.column_path(col.id)}”栏目。",
                             table=t.id)


# --------------------------------------------------------------------------- metadata and narrative


def _next_value(sheet: Sheet, r: int, c: int, hints: set[str]) -> tuple[Any, int] | None:
    row = sheet.rows[r]
    for k in range(c + 1, len(row)):
        if sheet.origin_col(r, k) == c:
            continue  # the label's own merged cell
        v = sheet.raw(r, k)
        if v is None or (isinstance(v, str) and not v.strip()):
            continue
        if isinstance(v, str) and norm(v) in hints:
            return None
        return v, k
    return None


def _read_meta(unit: Unit, sheets: list[Sheet], fi: _FormIndex) -> None:
    for sheet in sheets:
        for r, row in enumerate(sheet.rows):
            for c, v in enumerate(row):
                if not isinstance(v, str) or not v.strip() or (r, c) in sheet.origin:
                    continue
                n = _REQUIRED_MARK.sub("", norm(v)).rstrip(":")
                fid = fi.meta.get(n)
                sid = fi.sections.get(n)
                if fid or sid:
                    got = _next_value(sheet, r, c, fi.hints)
                    if got is None:
                        continue
                    value, k = got
                    if fid and fid not in unit.meta:
                        unit.meta[fid] = value
                        unit.meta_locations[fid] = (sheet.name, a1(r, k))
                    elif sid and sid not in unit.narrative and isinstance(value, str):
                        unit.narrative[sid] = _clean_text(value)
                        unit.narrative_locations[sid] = (sheet.name, a1(r, k))
                    continue
                # inline "单位名称：某某局" (possibly several pairs in one cell)
                text = unicodedata.normalize("NFKC", v)
                for m in re.finditer(r"([^\s:：]{2,12})\s*[:：]\s*([^\s:：][^:：]*?)(?=\s+[^\s:：]{2,12}\s*[:：]|$)", text):
                    key = fi.meta.get(norm(m.group(1)))
                    if key and key not in unit.meta and m.group(2).strip():
                        unit.meta[key] = m.group(2).strip()
                        unit.meta_locations[key] = (sheet.name, a1(r, c))


def _clean_text(text: str) -> str:
    lines = [ln.strip() for ln in str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(ln for ln in lines if ln)


_REPORT_TITLE = re.compile(r"^(?P<unit>.+?)(?P<year>\d{4})\s*年(?:度)?政府信息公开(?:工作)?(?:年度)?(?:报告|情况统计表|统计表|报告表格)")
_YEAR_TITLE = re.compile(r"(?P<year>\d{4})\s*年度?政府信息公开")


def _normalise_meta(unit: Unit, sheets: list[Sheet], fi: _FormIndex, path: Path, findings: list[Finding]) -> None:
    form = fi.form
    for f in form.metadata:
        if f.id not in unit.meta:
            continue
        raw = unit.meta[f.id]
        loc = unit.meta_locations.get(f.id, ("", ""))
        where = f"{loc[0]}!{loc[1]}"
        if f.type == "year":
            y = _parse_year(raw)
            if y is None:
                findings.append(Finding("READ.meta", ERROR, f"{f.label}“{raw}”不是有效的四位年度（{where}）。",
                                        cells=(where,), actual=raw))
                del unit.meta[f.id]
            else:
                unit.meta[f.id] = y
        elif f.type == "date":
            d = parse_date(raw)
            if d is None:
                findings.append(Finding("READ.meta", WARNING,
                                        f"{f.label}“{raw}”不是可识别的日期，请写成“2026年1月20日”的形式（{where}）。",
                                        cells=(where,), actual=raw))
                unit.meta[f.id] = str(raw)
            else:
                unit.meta[f.id] = d
        elif f.type == "decimal":
            v, problem, _ = parse_value(raw, Cell("", "", "", "", "decimal", "元"))
            if problem:
                findings.append(Finding("READ.meta", ERROR, f"{f.label}{problem}（{where}）。", cells=(where,), actual=raw))
                del unit.meta[f.id]
            else:
                unit.meta[f.id] = v
        else:
            if isinstance(raw, float) and raw.is_integer():
                raw = int(raw)
            unit.meta[f.id] = _clean_text(raw) if isinstance(raw, str) else str(raw)
    # unit name and year: information sheet → titles → file name
    unit.unit = unit.meta.get("unit")
    unit.year = unit.meta.get("year")
    if unit.unit is None or unit.year is None:
        for sheet in sheets:
            for row in sheet.rows[:6]:
                for v in row:
                    if not isinstance(v, str):
                        continue
                    s = unicodedata.normalize("NFKC", v).replace(" ", "")
                    m = _REPORT_TITLE.match(s)
                    if m and unit.unit is None and not m.group("unit").endswith(("年", "度")):
                        unit.unit = m.group("unit")
                    if m and unit.year is None:
                        unit.year = int(m.group("year"))
                    m2 = _YEAR_TITLE.search(s)
                    if m2 and unit.year is None:
                        unit.year = int(m2.group("year"))
    if unit.unit is None or unit.year is None:
        stem = unicodedata.normalize("NFKC", path.stem).replace(" ", "")
        m = re.match(r"^(?P<unit>[^\d_\-]+?)(?:_|-)?(?P<year>\d{4})", stem)
        if m:
            if unit.unit is None and len(m.group("unit")) >= 2:
                unit.unit = m.group("unit")
                findings.append(Finding("READ.meta", WARNING, f"工作簿中没有填写单位名称，已按文件名取“{unit.unit}”，请在“基本信息”中填写。"))
            if unit.year is None:
                unit.year = int(m.group("year"))
                findings.append(Finding("READ.meta", WARNING, f"工作簿中没有填写年度，已按文件名取 {unit.year} 年，请在“基本信息”中填写。"))
    if unit.unit is None:
        findings.append(Finding("READ.meta", ERROR, "没有找到单位名称：请在“基本信息”表的“单位名称”中填写。"))
    if unit.year is None:
        findings.append(Finding("READ.meta", ERROR, "没有找到报告年度：请在“基本信息”表的“年度”中填写。"))
    if unit.unit is not None:
        unit.meta["unit"] = unit.unit
    if unit.year is not None:
        unit.meta["year"] = unit.year


# --------------------------------------------------------------------------- entry point


def read_workbook(path: Path | str, forms: dict[str, Form] | None = None) -> Unit:
    """Read one workbook. Raises ReadError (Chinese message naming the file) when nothing can be read."""
    path = Path(path)
    if not path.exists():
        raise ReadError(f"文件 {path} 不存在。", path)
    if not path.is_file():
        raise ReadError(f"{path} 不是文件。", path)
    if path.suffix.lower() not in SUPPORTED:
        raise ReadError(f"文件 {path.name} 不是支持的表格格式（支持 .xlsx、.xlsm、.xls、.ods）。", path)
    data = path.read_bytes()
    sheets = load_sheets(path)
    forms = forms or load_forms()
    try:
        form, _ = detect_form(sheets, forms)
    except ReadError as exc:
        raise ReadError(f"文件 {path.name}：{exc.message}", path) from None
    fi = _index(form)
    unit = Unit(file=path, form=form, file_hash=hashlib.sha256(data).hexdigest())
    _read_meta(unit, sheets, fi)
    reader = _Reader(unit, fi)
    for sheet in sheets:
        reader.walk(sheet)
    meta_findings: list[Finding] = []
    _normalise_meta(unit, sheets, fi, path, meta_findings)
    reader.finish()
    if not reader.tables_seen:
        raise ReadError(f"文件 {path.name}：没有找到任何统计表。", path)
    unit.findings[:0] = meta_findings
    # stable order of values: the form's cell order
    order = {cid: i for i, cid in enumerate(form.cells)}
    unit.values = dict(sorted(unit.values.items(), key=lambda kv: order.get(kv[0], 1 << 30)))
    return unit


def unit_values_json(unit: Unit) -> list[dict[str, Any]]:
    """The values of a unit as the ``--json`` records: table, row, column labels, value, sheet, cell."""
    from .model import json_value

    out = []
    for cid, value in unit.values.items():
        cell = unit.form.cell(cid)
        t = unit.form.tables[cell.table]
        loc = unit.locations.get(cid)
        out.append({
            "table": t.title_for(unit.year), "row": t.row_path(cell.row), "column": t.column_path(cell.column),
            "value": json_value(value), "sheet": loc[0] if loc else None, "cell": loc[1] if loc else None,
            "id": cid,
        })
    return out
