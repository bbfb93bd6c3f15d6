"""The compiled form: what is derived from a form spec, made once and kept with the loaded form.

``compiled(form)`` holds the form's rule set (built and linted when the form is loaded),
the official grid of each table, the order of its cells in batch records, and — through
:meth:`CompiledForm.derive` — what the later stages build from it: the check engine
(:mod:`gkreport.checks`) and the writers' table plans (:mod:`gkreport.xlsx_out`). Nothing
is cached at module level: a form loaded again (a changed spec file) starts afresh.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..errors import SpecError
from .layout import Grid, build_grid
from .lint import lint, solve_consistent
from .model import Form
from .rules import RuleSet, build_rules

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class CellOrder:
    """A form's cells in order: batch records keep their values as a row in this order."""

    ids: tuple[str, ...]
    index: dict[str, int]  # cell id → position
    decimal: frozenset[int]  # positions of decimal cells (kept as strings in records)


class CompiledForm:
    """Everything derived from one loaded form (see the module docstring)."""

    def __init__(self, form: Form):
        self.form = form
        self.rules: RuleSet = build_rules(form)
        lint(form, self.rules)
        self._grids: dict[str, Grid] = {}
        self._derived: dict[Any, Any] = {}
        ids = tuple(sys.intern(c) for c in form.cells)
        self.cell_order = CellOrder(
            ids,
            {c: i for i, c in enumerate(ids)},
            frozenset(i for i, c in enumerate(ids) if form.cells[c].type == "decimal"),
        )
        self.decimal_cells = tuple(c for c, cell in form.cells.items() if cell.type == "decimal")

    def grid(self, table_id: str) -> Grid:
        """The official drawing of a table (see :mod:`gkreport.spec.layout`)."""
        g = self._grids.get(table_id)
        if g is None:
            g = self._grids[table_id] = build_grid(self.form.tables[table_id])
        return g

    def derive(self, build: Callable[[Form], T]) -> T:
        """``build(form)`` made once for this form: the check engine, the writers' plans."""
        try:
            return self._derived[build]
        except KeyError:
            value = self._derived[build] = build(self.form)
            return value

    def consistent_values(self, seed: int = 0, *, high: int = 20) -> dict[str, float]:
        """A random table of the form that satisfies every 错误 rule (for tests and benchmarks)."""
        values, culprit = solve_consistent(self.form, self.rules, seed, high=high)
        if values is None:
            raise SpecError(f"表样定义文件 {self.form.path.name}，规则 {culprit}：无法构造一致的表")
        return values


def compiled(form: Form) -> CompiledForm:
    """The compiled form of a loaded form (built on first use; the loader builds it to lint the rules)."""
    return form.derived(CompiledForm)


def rule_set(form: Form) -> RuleSet:
    """The form's rules, built and linted once per loaded form."""
    return compiled(form).rules


def consistent_values(form: Form, seed: int = 0, *, high: int = 20) -> dict[str, float]:
    """A random table of the form that satisfies every 错误 rule (for tests and benchmarks)."""
    return compiled(form).consistent_values(seed, high=high)
