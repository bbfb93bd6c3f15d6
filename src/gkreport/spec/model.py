"""The form model: Form → Table → row tree × column tree → Cell (no I/O).

A cell of a form is addressed as ``<table>.<row>.<column>``. Every object here is
frozen; what is derived from a form (its rules, grids, names, the check engine,
writer plans) is kept with it by :meth:`Form.derived` (see :mod:`gkreport.spec.compiled`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from ..enums import Severity

__all__ = ["Cell", "Field", "Form", "Node", "Section", "Severity", "Table"]

T = TypeVar("T")

VALUE_TYPES = ("int", "signed_int", "decimal")
LAYOUTS = ("tree", "blocks", "list")
NODE_KINDS = ("partition", "subset", "dedup")


@dataclass(frozen=True)
class Node:
    """A row or a column of a table, with its place in the tree."""

    id: str
    label: str
    aliases: tuple[str, ...] = ()
    parent: str | None = None
    children: tuple[str, ...] = ()
    level: int = 0
    heading: bool = False  # carries no value of its own
    subtotal: str | None = None  # "optional": a heading some layouts give a value row
    caption: bool = False  # spans the header but is not part of the label path
    kind: str | None = None  # relation to children: partition / subset / dedup
    sum_of: tuple[str, ...] = ()  # this node = sum of those nodes
    dedup_of: tuple[str, ...] = ()  # max(those) ≤ this ≤ sum(those)
    unit: str | None = None
    type: str | None = None
    columns: tuple[str, ...] | None = None  # rows only: columns that carry values
    path: tuple[str, ...] = ()  # official labels from the top-level node down

    @property
    def has_value(self) -> bool:
        return not self.heading or self.subtotal is not None


@dataclass(frozen=True)
class Cell:
    """One number of the form, addressed as ``<table>.<row>.<column>``."""

    id: str
    table: str
    row: str
    column: str
    type: str  # int / signed_int / decimal
    unit: str
    optional: bool = False  # only present in some layouts (subtotal rows)


@dataclass(frozen=True, eq=False)  # identity hash: what is derived from a table is kept per loaded table
class Table:
    id: str
    title: str
    rows: dict[str, Node]
    columns: dict[str, Node]
    cells: dict[str, Cell]
    aliases: tuple[str, ...] = ()
    unit: str = "件"
    label_header: str | None = None  # header over the row labels (信息内容 / 统计指标)
    unit_header: str | None = None  # header of a per-row unit column (单位)
    corner: str | None = None  # text of the top-left header block
    subtitle: str | None = None
    footnote: str | None = None
    layout: str = "tree"  # tree / blocks / list: how the official table is drawn (see spec.layout)

    def title_for(self, year: int | None = None) -> str:
        return self.title.replace("{year}", str(year) if year else "")

    def row_path(self, row_id: str) -> str:
        return "/".join(self.rows[row_id].path)

    def column_path(self, col_id: str) -> str:
        return "/".join(self.columns[col_id].path)

    def value_rows(self) -> list[Node]:
        return [n for n in self.rows.values() if n.has_value]

    def value_columns(self) -> list[Node]:
        return [n for n in self.columns.values() if not n.children and not n.heading]

    def row_columns(self, row_id: str) -> list[str]:
        """The value columns that the row carries, in table order."""
        allowed = self.rows[row_id].columns
        return [c.id for c in self.value_columns() if allowed is None or c.id in allowed]

    def leaves(self, axis: str, node_id: str) -> list[str]:
        """Value-carrying nodes under (or equal to) node_id, for sums over a heading."""
        nodes = self.rows if axis == "row" else self.columns
        node = nodes[node_id]
        if not node.children:
            return [node_id]
        out: list[str] = []
        for child in node.children:
            out.extend(self.leaves(axis, child))
        return out

    def header_depth(self) -> int:
        """Number of header rows needed to show the column tree."""

        def depth(n: Node) -> int:
            return 1 + max((depth(self.columns[c]) for c in n.children), default=0)

        return max((depth(n) for n in self.columns.values() if n.parent is None), default=1)

    def row_depth(self) -> int:
        """Number of label columns needed to show the row tree (official merged layout)."""
        return max((n.level for n in self.rows.values()), default=0) + 1


@dataclass(frozen=True)
class Field:
    id: str
    label: str
    type: str = "text"  # text / year / date / decimal
    required: bool = False
    aliases: tuple[str, ...] = ()
    hint: str | None = None


@dataclass(frozen=True)
class Section:
    id: str
    heading: str
    kind: str  # text / table
    table: str | None = None
    required: bool = False
    aliases: tuple[str, ...] = ()
    hint: str | None = None


@dataclass(frozen=True, eq=False)  # identity hash: a loaded form keeps what is derived from it
class Form:
    id: str
    name: str
    short_name: str
    years: tuple[int | None, int | None]
    tables: dict[str, Table]
    metadata: tuple[Field, ...]
    sections: tuple[Section, ...]
    report_title: str
    xlsx_title: str
    deadline: str | None
    superseded_by: str | None
    foreign_labels: tuple[str, ...]
    rules: tuple[dict[str, Any], ...]  # explicit rules as written (same_as resolved), built by spec.rules
    path: Path
    spec_hash: str
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)
    _derived: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @cached_property
    def cells(self) -> dict[str, Cell]:
        return {cid: c for t in self.tables.values() for cid, c in t.cells.items()}

    def cell(self, cell_id: str) -> Cell:
        table = self.tables[cell_id.split(".", 1)[0]]
        return table.cells[cell_id]

    def field(self, field_id: str) -> Field:
        for f in self.metadata:
            if f.id == field_id:
                return f
        raise KeyError(field_id)

    def applies_to(self, year: int) -> bool:
        first, last = self.years
        return (first is None or year >= first) and (last is None or year <= last)

    def derived(self, build: Callable[[Form], T]) -> T:
        """``build(self)``, made on first use and kept with this loaded form.

        This is where the compiled form (:func:`gkreport.spec.compiled.compiled`) lives, so
        that everything derived from a spec is computed once per spec and per process.
        """
        memo = self._derived
        try:
            return memo[build]
        except KeyError:
            value = memo[build] = build(self)
            return value
