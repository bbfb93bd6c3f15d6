"""The official drawing of a table as a grid of (possibly merged) cells.

One layout serves every writer — blank template, checked .xlsx, summary,
Word report — so they all draw the same official table. Three layouts:

* ``tree`` (2021 tables 三/四): row labels in one column per tree level, a
  parent label merged down over its rows; column headers stacked by level,
  a parent header merged across its columns, leaf headers merged down.
* ``blocks`` (table 二): each top-level row group is a caption row across the
  table, then its own header row (信息内容 | its columns), then its rows.
* ``list`` (the old 统计表): 统计指标 | 单位 | 统计数, one line per row, indented by level.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import Node, Table


@dataclass(frozen=True)
class GridCell:
    row: int
    col: int
    kind: str  # corner / header / caption / label / unit / value
    text: str = ""
    rowspan: int = 1
    colspan: int = 1
    cell_id: str | None = None  # value cells: the form's cell id
    node: str | None = None  # row node (label/unit/value/caption) or column node (header)
    level: int = 0  # tree level of the row or column node

    @property
    def merged(self) -> bool:
        return self.rowspan > 1 or self.colspan > 1


@dataclass
class Grid:
    table: Table
    n_rows: int
    n_cols: int
    header_rows: int  # rows at the top that repeat on every page
    label_cols: int
    cells: list[GridCell] = field(default_factory=list)

    @property
    def value_pos(self) -> dict[str, tuple[int, int]]:
        return {c.cell_id: (c.row, c.col) for c in self.cells if c.cell_id}

    def rows(self) -> list[list[GridCell]]:
        """Cells grouped by their top row (merged cells appear once, at their origin)."""
        out: list[list[GridCell]] = [[] for _ in range(self.n_rows)]
        for c in self.cells:
            out[c.row].append(c)
        for r in out:
            r.sort(key=lambda c: c.col)
        return out

    def covered(self) -> set[tuple[int, int]]:
        """Grid positions hidden under a merged cell (not the origin)."""
        hidden = set()
        for c in self.cells:
            for r in range(c.row, c.row + c.rowspan):
                for k in range(c.col, c.col + c.colspan):
                    if (r, k) != (c.row, c.col):
                        hidden.add((r, k))
        return hidden


def _column_headers(table: Table, cells: list[GridCell], first_col: int) -> tuple[int, list[Node]]:
    depth = table.header_depth()
    leaves = table.value_columns()
    index = {c.id: first_col + i for i, c in enumerate(leaves)}

    def place(node: Node, d: int) -> None:
        under = table.leaves("column", node.id)
        col = index[under[0]]
        rowspan = 1 if node.children else depth - d
        cells.append(GridCell(d, col, "header", node.label, rowspan=rowspan, colspan=len(under), node=node.id, level=d))
        for k in node.children:
            place(table.columns[k], d + 1)

    for root in (n for n in table.columns.values() if n.parent is None):
        place(root, 0)
    return depth, leaves


def _tree(table: Table) -> Grid:
    has_labels = any(n.label for n in table.rows.values())
    label_cols = table.row_depth() if has_labels else 0
    cells: list[GridCell] = []
    depth, leaves = _column_headers(table, cells, label_cols)
    if label_cols:
        cells.append(
            GridCell(0, 0, "corner", table.corner or table.label_header or "", rowspan=depth, colspan=label_cols)
        )
    # a row gets a line of its own when it is a leaf or carries a value besides its items
    own_line = [n for n in table.rows.values() if not n.children or not n.heading]
    line_of = {n.id: depth + i for i, n in enumerate(own_line)}

    def lines_in(node: Node) -> list[int]:
        out = [line_of[node.id]] if node.id in line_of else []
        for k in node.children:
            out += lines_in(table.rows[k])
        return out

    col_of = {c.id: label_cols + i for i, c in enumerate(leaves)}
    for node in table.rows.values():
        lines = lines_in(node)
        r = lines[0]
        if label_cols:
            if node.id not in line_of:
                cells.append(
                    GridCell(r, node.level, "label", node.label, rowspan=len(lines), node=node.id, level=node.level)
                )
            else:
                cells.append(
                    GridCell(
                        r,
                        node.level,
                        "label",
                        node.label,
                        colspan=label_cols - node.level,
                        node=node.id,
                        level=node.level,
                    )
                )
        if node.id in line_of and node.has_value:
            for cid in table.row_columns(node.id):
                cells.append(
                    GridCell(
                        r, col_of[cid], "value", cell_id=f"{table.id}.{node.id}.{cid}", node=node.id, level=node.level
                    )
                )
    return Grid(table, depth + len(own_line), label_cols + len(leaves), depth, label_cols, cells)


def _blocks(table: Table) -> Grid:
    groups = [n for n in table.rows.values() if n.parent is None]
    width = max(len(table.row_columns(g.children[0] if g.children else g.id)) for g in groups)
    n_cols = 1 + width
    cells: list[GridCell] = []
    r = 0
    for g in groups:
        cells.append(GridCell(r, 0, "caption", g.label, colspan=n_cols, node=g.id))
        r += 1
        members = [table.rows[k] for k in g.children] or [g]
        cols = table.row_columns(members[0].id)
        spans = [1] * len(cols)
        spans[-1] = width - len(cols) + 1
        cells.append(GridCell(r, 0, "header", table.label_header or "", node=None))
        k = 1
        for cid, span in zip(cols, spans):
            cells.append(GridCell(r, k, "header", table.columns[cid].label, colspan=span, node=cid))
            k += span
        r += 1
        for m in members:
            cells.append(GridCell(r, 0, "label", m.label, node=m.id, level=m.level))
            k = 1
            for cid, span in zip(table.row_columns(m.id), spans):
                cells.append(
                    GridCell(r, k, "value", colspan=span, cell_id=f"{table.id}.{m.id}.{cid}", node=m.id, level=m.level)
                )
                k += span
            r += 1
    return Grid(table, r, n_cols, 0, 1, cells)


def _list(table: Table) -> Grid:
    leaves = table.value_columns()
    cells = [GridCell(0, 0, "header", table.label_header or "", node=None)]
    first = 1
    if table.unit_header:
        cells.append(GridCell(0, 1, "header", table.unit_header, node=None))
        first = 2
    for i, c in enumerate(leaves):
        cells.append(GridCell(0, first + i, "header", c.label, node=c.id))
    for r, node in enumerate(table.rows.values(), start=1):
        cells.append(GridCell(r, 0, "label", node.label, node=node.id, level=node.level))
        if node.has_value:
            if table.unit_header:
                cells.append(GridCell(r, 1, "unit", node.unit or table.unit, node=node.id, level=node.level))
            for i, cid in enumerate(table.row_columns(node.id)):
                cells.append(
                    GridCell(
                        r, first + i, "value", cell_id=f"{table.id}.{node.id}.{cid}", node=node.id, level=node.level
                    )
                )
    return Grid(table, 1 + len(table.rows), first + len(leaves), 1, first, cells)


_BUILDERS = {"tree": _tree, "blocks": _blocks, "list": _list}


def build_grid(table: Table) -> Grid:
    """The official grid of a table (computed each call: use ``compiled(form).grid(table_id)``,
    which keeps it with the form)."""
    return _BUILDERS[table.layout](table)
