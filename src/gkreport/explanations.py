"""审核说明: a unit's answers to its 提示, kept with its data across reruns.

In the statistics direct-reporting systems a plausibility check (提示) may stand when the
figures are true: the unit writes an explanation and submits anyway. Here the unit types it
in the 审核说明 column of the checked workbook's 审核结果 sheet and sends that workbook back;
the reader returns what it typed as :class:`~gkreport.model.Explanation` values, each with
the identity of the finding it answers — the rule and the figures involved (``figures``).

:func:`apply_explanations` attaches them to the unit's current findings:

* a 提示 of the same rule with the same figures becomes 已说明 (``Finding.explained``);
* a 提示 of the same rule whose figures changed keeps its explanation only as a lapsed one,
  with a message (the unit must look again, and may explain again);
* a 错误 cannot be explained away: the explanation is shown with a message saying so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .formatting import format_number
from .model import ERROR, Explanation, Finding, Unit

ERROR_MESSAGE = "错误不能以审核说明代替，必须改正后重新报送。"
FINDINGS_SHEET = "审核结果"  # the checked workbook's sheet of findings
EXPLANATION_HEADER = "审核说明"  # the column a unit types its explanations in
KEY_HEADER = "核对码"  # the hidden column that keeps each finding's identity (rule|figures)
BLANK = "空白"  # a blank cell among the figures


def figures(unit: Unit, f: Finding) -> str:
    """The figures a finding is about: its cells' values, then its expected and actual values.

    ``t3.other.total=5;t3.total.total=20`` — with the rule, the identity an explanation is kept on.
    """
    parts = [f"{cid}={format_number(unit.values.get(cid), BLANK)}" for cid in f.cell_ids]
    if f.expected is not None:
        parts.append(f"应为={format_number(f.expected, BLANK)}")
    if f.actual is not None:
        parts.append(f"实为={format_number(f.actual, BLANK)}")
    return ";".join(parts)


def key(unit: Unit, f: Finding) -> str:
    """The identity of a finding as the checked workbook keeps it (column 核对码): ``rule|figures``."""
    return f"{f.rule}|{figures(unit, f)}"


def parse_key(text: str) -> tuple[str, str] | None:
    """(rule, figures) of a 核对码, or None when the text is not one."""
    rule, sep, figs = str(text).strip().partition("|")
    if not sep or not rule or any(ch.isspace() for ch in rule):
        return None
    return rule, figs


def read_explanations(sheet: str, rows: list[list[Any]], a1: Callable[[int, int], str]) -> list[Explanation] | None:
    """The 审核说明 typed in a checked workbook's 审核结果 sheet (``rows`` as read; ``a1`` names a
    cell), or None when the sheet has no 审核说明 and 核对码 columns (it is not such a sheet)."""
    head = next(
        (
            (r, texts.index(EXPLANATION_HEADER), texts.index(KEY_HEADER))
            for r, texts in enumerate([str(v).strip() if isinstance(v, str) else "" for v in row] for row in rows[:6])
            if EXPLANATION_HEADER in texts and KEY_HEADER in texts
        ),
        None,
    )
    if head is None:
        return None
    top, ecol, kcol = head
    out = []
    for i in range(top + 1, len(rows)):
        row = rows[i]
        text = row[ecol] if ecol < len(row) else None
        ident = parse_key(row[kcol]) if kcol < len(row) and isinstance(row[kcol], str) else None
        if ident is None or text is None or not str(text).strip():
            continue
        text = "\n".join(line.strip() for line in str(text).strip().splitlines() if line.strip())
        out.append(Explanation(ident[0], ident[1], text, f"{sheet}!{a1(i, ecol)}"))
    return out


def _cells(figs: str) -> dict[str, str]:
    out = {}
    for part in figs.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            out[name] = value
    return out


def _changes(old: str, new: str, unit: Unit) -> str:
    """The figures that differ, in words: 表三“（六）其他处理”总计列 5 → 7."""
    from .spec.names import cell_name

    before, after = _cells(old), _cells(new)
    bits = []
    for name in list(dict.fromkeys([*before, *after])):
        a, b = before.get(name, "无"), after.get(name, "无")
        if a == b:
            continue
        try:
            label = cell_name(unit.form, name)
        except KeyError:
            label = name
        bits.append(f"{label} {a} → {b}")
    return "；".join(bits[:6]) + ("等" if len(bits) > 6 else "")


def apply_explanations(unit: Unit) -> None:
    """Attach the unit's 审核说明 to its findings (idempotent: run again after findings change)."""
    for f in unit.findings:
        f.explanation = f.explanation_lapsed = None
    given = unit.explanations
    if not given:
        return
    findings = unit.findings
    keys = [figures(unit, f) for f in findings]
    used: set[int] = set()
    taken: set[int] = set()
    for k, e in enumerate(given):
        for i, f in enumerate(findings):
            if i not in taken and f.rule == e.rule and keys[i] == e.figures:
                f.explanation = e.text
                if f.severity == ERROR:
                    f.explanation_lapsed = ERROR_MESSAGE
                used.add(k)
                taken.add(i)
                break
    for k, e in enumerate(given):
        if k in used:
            continue
        same_cells = set(_cells(e.figures))
        for i, f in enumerate(findings):
            if i in taken or f.rule != e.rule:
                continue
            if same_cells and not same_cells & set(_cells(keys[i])):
                continue
            f.explanation = e.text
            if f.severity == ERROR:
                f.explanation_lapsed = ERROR_MESSAGE
            else:
                changed = _changes(e.figures, keys[i], unit)
                f.explanation_lapsed = (
                    f"原审核说明是按当时的数字写的，数字已改变（{changed}），说明已失效；"
                    "请重新核对，确认无误的，请重新填写审核说明。"
                )
            taken.add(i)
            break
