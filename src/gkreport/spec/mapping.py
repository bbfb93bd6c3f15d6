"""How the cells of an older form carry over onto a later form (the spec's ``maps_to``).

A department may still report a year on a form that has been superseded (the 2019 form for
2025). Its figures can be summed with the other departments' only where the older form has
a cell meaning the same as a cell of the later one. The spec says which, as data::

    maps_to:
      form: "2021"            # the later form
      same: [t3, t4]          # tables whose cells have the same ids in both forms
      cells:                  # other cells: cell of this form → cell of the later form
        t2.licensing.decisions: t2.licensing.decisions
      notes:                  # what a summary says about a unit summed this way, per table
        t3: 2019年版表三的“（六）其他处理”只有一行……

Cells of the later form that nothing maps onto are the unit's ``missing`` cells: a sum that
includes the unit is incomplete there, and says so. Cells of the older form that are not
mapped have no counterpart and are not carried over. The mapping is resolved (both forms'
cells checked) on first use; a broken one is a :class:`~gkreport.errors.SpecError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SpecError
from .load import load_form
from .model import Form

__all__ = ["FormMap", "form_map"]


@dataclass(frozen=True, eq=False)
class FormMap:
    source: Form
    target: Form
    cells: tuple[tuple[str, str], ...]  # (cell of the source form, cell of the target form)
    missing: tuple[str, ...]  # target cells (not optional subtotals) that no source cell maps onto
    notes: dict[str, str]  # target table id → what a summary says about the mapped units


def form_map(form: Form) -> FormMap | None:
    """The form's ``maps_to`` resolved against both forms (None when the form declares none)."""
    return form.derived(_build)


def _fail(form: Form, what: str) -> SpecError:
    return SpecError(f"表样定义文件 {form.path.name}，maps_to：{what}")


def _build(form: Form) -> FormMap | None:
    raw = form.raw.get("maps_to")
    if not raw:
        return None
    target_id = str(raw["form"])
    if target_id == form.id:
        raise _fail(form, "不能换算为表样自身")
    try:
        target = load_form(target_id)
    except SpecError as exc:
        raise _fail(form, f"换算的表样“{target_id}”无法使用（{exc.message}）") from None
    if target.raw.get("maps_to"):
        # one step only: a chain of mappings would hide what each step leaves out
        raise _fail(form, f"表样“{target_id}”本身也声明了 maps_to，只能换算为不再换算的表样")
    pairs: dict[str, str] = {}
    same = raw.get("same") or []
    for tid in [same] if isinstance(same, str) else same:
        tid = str(tid)
        if tid not in form.tables or tid not in target.tables:
            raise _fail(form, f"same 中的表“{tid}”不在两个表样中")
        for cid in form.tables[tid].cells:
            if cid not in target.cells:
                raise _fail(
                    form,
                    f"表“{tid}”的单元格 {cid} 在表样“{target_id}”中没有；请在 cells 中写明它对应哪一格，"
                    "或不要把这张表写在 same 中",
                )
            pairs[cid] = cid
    for src, dst in (raw.get("cells") or {}).items():
        src, dst = str(src), str(dst)
        if src not in form.cells:
            raise _fail(form, f"cells 中的 {src} 不是本表样的单元格")
        if dst not in target.cells:
            raise _fail(form, f"cells 中的 {dst} 不是表样“{target_id}”的单元格")
        pairs[src] = dst
    seen: dict[str, str] = {}
    for src, dst in pairs.items():
        if dst in seen:
            raise _fail(form, f"{seen[dst]} 和 {src} 都换算到 {dst}")
        seen[dst] = src
    notes = {str(k): str(v) for k, v in (raw.get("notes") or {}).items()}
    for tid in notes:
        if tid not in target.tables:
            raise _fail(form, f"notes 中的表“{tid}”不是表样“{target_id}”的表")
    missing = tuple(c for c, cell in target.cells.items() if c not in seen and not cell.optional)
    return FormMap(form, target, tuple(pairs.items()), missing, notes)
