"""The aggregate of units: their values summed cell by cell.

One sum serves the summary workbook (:mod:`gkreport.xlsx_out`) and the aggregate report
of a district (:func:`gkreport.docx_out.write_summary_docx`). A cell is blank where no
unit has a value, otherwise the sum of the values given (a blank counts as nothing);
integers stay exact however large, amounts are summed as Decimals (keeping the most
decimals entered). Values that are not numbers count as blank. An amount of the metadata
(本年收取信息处理费) is summed only when every unit gives it: a partial sum would be false.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from .model import Unit
from .spec import Form, compiled

__all__ = ["aggregate_unit", "sum_matrix", "sum_units", "value_matrix"]

_NA = object()


def _number(v: Any) -> int | Decimal | None:
    """A value that can be summed: ints and Decimals as read; anything else counts as blank."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, Decimal)):
        return v
    if isinstance(v, float) and math.isfinite(v):
        return int(v) if v.is_integer() else Decimal(repr(v))
    return None


def _aligned(values: Any, cell_ids: Sequence[str]) -> list[Any] | None:
    """The values as a list in ``cell_ids`` order, when the mapping can give one directly
    (see :class:`gkreport.batch.RowValues`); None for a plain dict."""
    aligned = getattr(values, "aligned", None)
    return aligned(cell_ids) if aligned is not None else None


def value_matrix(units: Sequence[Unit], cell_ids: Sequence[str]) -> tuple[Any, list[int]]:
    """The values as read, units × cells (numpy, object dtype), and the units that have a
    value that is not an int, a Decimal or blank."""
    import numpy as np

    plain = frozenset((int, Decimal, type(None)))
    data = np.empty((len(units), len(cell_ids)), dtype=object)
    odd = []
    for i, u in enumerate(units):
        row = _aligned(u.values, cell_ids)
        if row is None:
            row = [u.values.get(c) for c in cell_ids]
        data[i, :] = row
        if not set(map(type, row)) <= plain:  # a value of another type (exactly: not a subclass)
            odd.append(i)
    return data, odd


def _value_frame(units: Sequence[Unit], cell_ids: Sequence[str], matrix: tuple[Any, list[int]]) -> Any:
    """One frame units × cells, object dtype: large integers and Decimals stay exact; values
    that cannot be summed count as blank."""
    import pandas as pd

    data, odd = matrix
    if odd:
        data = data.copy()
        for i in odd:
            data[i, :] = [_number(v) for v in data[i]]
    return pd.DataFrame(data, columns=list(cell_ids), index=range(len(units)), dtype=object)


def sum_matrix(form: Form, units: Sequence[Unit], matrix: tuple[Any, list[int]]) -> dict[str, Any]:
    """The cell-wise sums of what :func:`value_matrix` gave for ``units`` (in the form's cell order).

    Integer cells are summed as nullable Int64 columns, decimal cells as exact Decimals.
    """
    cell_ids = compiled(form).cell_order.ids
    frame = _value_frame(units, cell_ids, matrix)
    cells = form.cells
    ints = [c for c in cell_ids if cells[c].type != "decimal"]
    decs = [c for c in cell_ids if cells[c].type == "decimal"]
    try:
        int_totals = frame[ints].astype("Int64").sum(min_count=1)
    except (TypeError, ValueError):  # a Decimal in an integer cell: sum those columns exactly as objects
        decs, ints = decs + ints, []
        int_totals = None
    out: dict[str, Any] = {}
    if ints and int_totals is not None:
        out.update(
            (cid, None if v is _NA else int(v))
            for cid, v in zip(ints, int_totals.astype(object).where(int_totals.notna(), _NA))
        )
    if decs:
        dec_totals = frame[decs].sum(min_count=1)
        for cid in decs:
            v = dec_totals[cid]
            out[cid] = None if v is None or (isinstance(v, float) and math.isnan(v)) else v
    return {cid: out[cid] for cid in cell_ids}


def sum_units(units: Sequence[Unit]) -> dict[str, Any]:
    """Cell-wise sum over units of one form: blank where no unit has a value."""
    if not units:
        return {}
    form = units[0].form
    return sum_matrix(form, units, value_matrix(units, compiled(form).cell_order.ids))


def _amount(v: Any) -> Decimal | None:
    """A metadata amount as a Decimal; None when blank or not a number."""
    if v is None or isinstance(v, bool) or str(v).strip() == "":
        return None
    try:
        return Decimal(str(v).strip())
    except ArithmeticError:
        return None


def aggregate_unit(
    units: Sequence[Unit],
    unit_name: str,
    *,
    meta: dict | None = None,
    narrative: dict | None = None,
    totals: dict[str, Any] | None = None,
) -> Unit:
    """The aggregate unit (e.g. the district's own report): values summed cell by cell; an amount
    of the metadata (信息处理费) summed when every unit gives it, otherwise left blank so that the
    report asks for it instead of stating a partial sum. ``meta`` / ``narrative`` are the
    aggregate's own. ``totals``: the sums, when already at hand. Raises ``ValueError`` (Chinese)
    for no units, mixed forms or years."""
    if not units:
        raise ValueError("没有可汇总的单位。")
    form = units[0].form
    others = {u.form.id for u in units} - {form.id}
    if others:
        raise ValueError(f"汇总的单位使用了不同的表样（{form.id}、{'、'.join(sorted(others))}），不能合并汇总。")
    years = {u.year for u in units if u.year is not None}
    if len(years) > 1:
        raise ValueError(f"汇总的单位属于不同年度（{'、'.join(str(y) for y in sorted(years))}），不能合并汇总。")
    year = next(iter(years)) if years else None
    agg_meta: dict[str, Any] = {"unit": unit_name, "year": year, "signer": unit_name}
    for f in form.metadata:  # amounts (信息处理费): the sum, when every unit gives one
        if f.type == "decimal":
            amounts = [_amount(u.meta.get(f.id)) for u in units]
            given = [a for a in amounts if a is not None]
            if len(given) == len(amounts):
                agg_meta[f.id] = sum(given, Decimal(0))
    agg_meta.update(meta or {})
    return Unit(
        file=Path(f"{unit_name}.xlsx"),
        form=form,
        unit=unit_name,
        year=year,
        values=dict(totals if totals is not None else sum_units(units)),
        meta=agg_meta,
        narrative=dict(narrative or {}),
    )
