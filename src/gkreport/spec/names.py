"""How tables, rows, columns and cells are named in findings and rule descriptions.

The one place that turns ids into the words people read: 表三, “（七）总计”自然人列,
表二“规章”本年制发件数, 表四“行政复议—总计”, 统计表“…”.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .model import Form, Node, Table

_ENUM_RE = re.compile(r"^(（[一二三四五六七八九十]+）|[一二三四五六七八九十]+、|\d+[.．]\s?)")
_TRAILING_NOTE_RE = re.compile(r"^(.{3,}?)（[^（）]*）$")
_CN_NUM_RE = re.compile(r"^([一二三四五六七八九十]+)、")


def brief(label: str) -> str:
    """A label without its trailing parenthetical remark (（不同渠道…计1条）)."""
    m = _TRAILING_NOTE_RE.match(label)
    if m and not _ENUM_RE.fullmatch(m.group(1)):
        return m.group(1)
    return label


def without_number(label: str) -> str:
    """A label without its leading number: 三、本年度办理结果 → 本年度办理结果."""
    return _ENUM_RE.sub("", label)


def table_name(table: Table) -> str:
    """表二 / 表三 / 表四, or 统计表 for a table whose title has no number."""
    m = _CN_NUM_RE.match(table.title)
    if m:
        return f"表{m.group(1)}"
    title = table.title.replace("{year}", "")
    return "统计表" if title.endswith("统计表") else title


def _unique_path(nodes: dict[str, Node], node_id: str, among: Iterable[str]) -> str:
    """Shortest tail of the node's label path that no other node of ``among`` shares."""

    def tail(nid: str, k: int) -> tuple[str, ...]:
        return tuple(brief(x) for x in nodes[nid].path[-k:])

    path = nodes[node_id].path or (nodes[node_id].label,)
    others = [n for n in among if n != node_id]
    for k in range(1, len(path) + 1):
        mine = tail(node_id, k)
        if all(tail(o, k) != mine for o in others):
            return "—".join(mine)
    return "—".join(brief(x) for x in path)


def row_name(table: Table, row_id: str) -> str:
    return _unique_path(table.rows, row_id, [n.id for n in table.value_rows()])


def column_name(table: Table, col_id: str) -> str:
    return _unique_path(table.columns, col_id, [c.id for c in table.value_columns()])


class _CellNames(dict[tuple[str, bool], str]):
    """The cell names of one form, made as they are asked for (kept with the form)."""

    def __init__(self, form: Form):
        super().__init__()
        self.form = form

    def __missing__(self, key: tuple[str, bool]) -> str:
        name = self[key] = _cell_name(self.form, *key)
        return name


def cell_name(form: Form, cell_id: str, *, with_table: bool = True) -> str:
    """表三“（七）总计”自然人列 / 表二“规章”本年制发件数 / 表四“行政复议—总计” / 统计表“…”."""
    return form.derived(_CellNames)[(cell_id, with_table)]


def _cell_name(form: Form, cell_id: str, with_table: bool) -> str:
    cell = form.cell(cell_id)
    table = form.tables[cell.table]
    prefix = table_name(table) if with_table else ""
    single_col = len(table.value_columns()) == 1
    row_label = table.rows[cell.row].label
    if single_col:
        return f"{prefix}“{row_name(table, cell.row)}”"
    if not row_label:
        return f"{prefix}“{column_name(table, cell.column)}”"
    col = column_name(table, cell.column)
    if table.layout == "blocks":
        return f"{prefix}“{row_name(table, cell.row)}”{col}"
    return f"{prefix}“{row_name(table, cell.row)}”{col}列"


def cell_path(form: Form, cell_id: str) -> str:
    """A cell by its full label paths: 三、本年度办理结果/（一）予以公开／自然人 (the id when unknown)."""
    try:
        cell = form.cell(cell_id)
    except KeyError:
        return cell_id
    t = form.tables[cell.table]
    parts = [p for p in (t.row_path(cell.row), t.column_path(cell.column)) if p]
    return "／".join(parts) or cell_id


def parts_phrase(labels: list[str]) -> str:
    """（一）至（六）各项之和 / 第1至8项之和 / “A”与“B”之和."""
    enums = [_ENUM_RE.match(x) for x in labels]
    if len(labels) >= 3 and all(enums):
        first, last = enums[0].group(1).strip(), enums[-1].group(1).strip()  # type: ignore[union-attr]
        if first[0] == "（" or first[0] in "一二三四五六七八九十":
            return f"{first.rstrip('、')}至{last.rstrip('、')}各项之和"
        return f"第{first.rstrip('.．')}至{last.rstrip('.．')}项之和"
    quoted = [f"“{x}”" for x in labels]
    if len(quoted) == 1:
        return quoted[0]
    return "、".join(quoted[:-1]) + "与" + quoted[-1] + "之和"


def joined(names: list[str]) -> str:
    """“A” / “A”与“B”之和 / “A”、“B”与“C”之和 (names already quoted)."""
    return names[0] if len(names) == 1 else "、".join(names[:-1]) + "与" + names[-1] + "之和"
