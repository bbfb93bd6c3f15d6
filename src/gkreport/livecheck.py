"""Live checks in the blank template: the form's hard rules as Excel formulas.

While a clerk types in Excel or WPS, each 错误 rule that a workbook can check on its own
is computed at once: a total that disagrees with its parts turns red (conditional
formatting), a line of text above each table turns red while the table has a failing rule and
green once it is filled and passes, and the 自查 sheet lists every failing rule in Chinese with the number expected
(``表三“一、本年新收政府信息公开申请数量”总计列应为 12，现为 13（…之和）``), or shows
``全部通过`` when every cell is filled and no rule fails.

The checks are generated from the form's rule set (:mod:`gkreport.spec.rules`), never
written per form: every 错误 rule that is linear, reads only this year's cells of the
template (no subtotal rows some layouts add, no last year's report) and applies to every
unit. Sum rules (``kind: sum``) colour their total, ``subset`` rules their 其中 item;
other linear rules (一 + 二 = 三（七）+ 四) are listed. Their wording is the ``live``
templates of the finding catalogue (``templates/findings.yaml``).

Blank cells: a rule is judged once all its cells are filled (blank is not 0). A blank
total whose parts are all filled fails (the sum it should hold is shown). The status says
全部通过 only when every value cell is filled and nothing fails; while cells are blank it
says how many, and that what is filled agrees.

Only SUM, COUNT, ABS, IF, AND, OR, INDEX, MATCH and ``&`` are used — all computed alike by
Excel 2010 and later, WPS and LibreOffice; no array formulas, no dynamic arrays, no macros.
Every formula cell is on the 自查 sheet, locked; the reader skips that sheet. The table
sheets carry no formula cell at all (a formula's text result saved as .xls reads back as 0,
which would look like an entry): only conditional formats, which are not cells. Each formula is written with the result it has for
the values written (:meth:`LiveCheck.evaluate`), so a viewer that does not recalculate still
shows the truth about the file as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .catalogue import code_for
from .enums import Severity
from .spec import Form, Rule, compiled
from .spec.expr import TOL, Cmp, Expr
from .spec.names import cell_name, column_name, joined, row_name, table_name

SHEET = "自查"
PASSED = "全部通过"
# the line above each table: plain text (see template._self_check), coloured by conditional formatting
TABLE_LINE = (
    "自查：填写时，与分项不符的总计显示为红色；本行变红表示本表有不符之处（逐条见“自查”表），"
    "变绿表示本表已全部填写且全部通过。"
)
_TOL = "0.000001"  # the engine's tolerance (spec.expr.TOL), as Excel reads it
assert float(_TOL) == TOL
_RELATION = {"==": "应等于", "<=": "应不大于", ">=": "应不小于", "<": "应小于", ">": "应大于"}
_FLIP = {"<=": ">=", ">=": "<=", "<": ">", ">": "<", "==": "=="}

Ref = Callable[[Sequence[str]], str]  # cell ids → their references in a formula (comma-separated, ranges merged)
Values = Mapping[str, Any]  # cell id → number (None: blank)


def number(x: Any) -> float | None:
    """A value as COUNT and SUM see it: a number, or None (blank, and text such as “约10”)."""
    if isinstance(x, (int, float, Decimal)) and not isinstance(x, bool):
        return float(x)
    return None


def number_text(x: float) -> str:
    """A number as Excel's ``&`` writes it (the General format): 12, 0.3."""
    if x == int(x):
        return str(int(x))
    return f"{x:.15g}"


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


@dataclass(frozen=True)
class LiveCheck:
    """One hard rule as the workbook checks it.

    ``kind`` is ``sum`` (``target`` = Σ ``parts``), ``subset`` (``target`` ≤ ``parts[0]``) or
    ``linear`` (Σ ``left`` ``op`` Σ ``right``, with coefficients)."""

    rule: Rule
    kind: str
    table: str
    cells: tuple[str, ...]  # every cell the rule reads (all filled: the rule is judged)
    target: str | None  # the cell that turns red
    parts: tuple[str, ...] = ()
    left: tuple[tuple[str, float], ...] = ()
    right: tuple[tuple[str, float], ...] = ()
    const: float = 0.0  # linear: left + const op right
    op: str = "=="
    words: tuple[tuple[str, str], ...] = ()  # placeholder → words of the message template
    message: str = ""
    blank: str = ""  # sum: the message when the total is blank

    # ------------------------------------------------------------------ Excel

    def helpers(self, ref: Ref) -> dict[str, str]:
        """Formulas (without ``=``) of the check's helper cells, each reading the table once:
        ``judged`` (1 when every cell the rule reads is filled), ``expected`` and ``actual`` (the two
        numbers compared: the sum of the parts and the total, the total and the 其中 item, the
        right and the left side) and ``blank`` (1 when a sum rule's total is blank)."""
        if self.kind == "sum":
            parts, total = ref(self.parts), ref([self.target or ""])
            return {
                "judged": f"IF(COUNT({parts})={len(self.parts)},1,0)",
                "expected": f"SUM({parts})",
                "actual": f"SUM({total})",
                "blank": f"IF(COUNT({total})=0,1,0)",
            }
        judged = f"IF(COUNT({ref(self.cells)})={len(self.cells)},1,0)"
        if self.kind == "subset":
            return {
                "judged": judged,
                "expected": f"SUM({ref(self.parts[:1])})",
                "actual": f"SUM({ref([self.target or ''])})",
                "blank": "0",
            }
        return {
            "judged": judged,
            "expected": self._side(self.right, ref, 0.0),
            "actual": self._side(self.left, ref, self.const),
            "blank": "0",
        }

    def flag(self, h: Mapping[str, str]) -> str:
        """A formula (without ``=``) TRUE when the rule fails, over the helpers (cells or formulas)."""
        judged, expected, actual = f"{h['judged']}=1", h["expected"], h["actual"]
        if self.kind == "sum":
            return f"AND({judged},OR({h['blank']}=1,ABS({actual}-{expected})>{_TOL}))"
        op = "<=" if self.kind == "subset" else self.op
        if op == "==":
            broken = f"ABS({actual}-{expected})>{_TOL}"
        elif op in ("<=", "<"):
            broken = f"{actual}{'>' if op == '<=' else '>='}{expected}{'+' if op == '<=' else '-'}{_TOL}"
        else:
            broken = f"{actual}{'<' if op == '>=' else '<='}{expected}{'-' if op == '>=' else '+'}{_TOL}"
        return f"AND({judged},{broken})"

    def fails(self, ref: Ref) -> str:
        """:meth:`flag` written out over the cells themselves (for a conditional format)."""
        return self.flag({k: f"({v})" for k, v in self.helpers(ref).items()})

    def text(self, h: Mapping[str, str]) -> str:
        """A formula (without ``=``) giving the message, over the helper cells."""
        numbers = {"expected": h["expected"], "actual": h["actual"]}
        full = self._fill(self.message, numbers)
        if self.kind == "sum":
            return f"IF({h['blank']}=1,{self._fill(self.blank, numbers)},{full})"
        return full

    @staticmethod
    def _side(terms: tuple[tuple[str, float], ...], ref: Ref, const: float) -> str:
        plus = [c for c, k in terms if k == 1]
        minus = [c for c, k in terms if k == -1]
        other = [f"{number_text(k)}*SUM({ref([c])})" for c, k in terms if k not in (1, -1)]
        bits = ([f"SUM({ref(plus)})"] if plus else []) + other
        text = "+".join(bits) or "0"
        if minus:
            text += f"-SUM({ref(minus)})"
        if const:
            text += f"{'+' if const > 0 else '-'}{number_text(abs(const))}"
        return text

    def _fill(self, template: str, numbers: dict[str, str]) -> str:
        """The template as a string formula: words as literals, numbers as expressions."""
        words = dict(self.words)
        out: list[tuple[bool, str]] = []  # (literal?, text)
        for piece in re.split(r"(\{\w+\})", template):
            name = piece[1:-1] if piece.startswith("{") and piece.endswith("}") else None
            if name in numbers:
                out.append((False, numbers[name]))
                continue
            text = words[name] if name is not None else piece
            if out and out[-1][0]:
                out[-1] = (True, out[-1][1] + text)
            elif text:
                out.append((True, text))
        return "&".join(_quote(t) if literal else t for literal, t in out) or '""'

    # ------------------------------------------------------------------ Python

    def numbers(self, values: Values) -> dict[str, float]:
        """The helper cells' results for these values (what :meth:`helpers` give: SUM and COUNT
        take numbers only, a blank or a text such as “约10” is neither counted nor added)."""

        def total(cells: Sequence[str]) -> float:
            return sum(x for x in (number(values.get(c)) for c in cells) if x is not None)

        def filled(cells: Sequence[str]) -> float:
            return float(all(number(values.get(c)) is not None for c in cells))

        if self.kind == "sum":
            target = [self.target or ""]
            blank = float(number(values.get(target[0])) is None)
            return {
                "judged": filled(self.parts),
                "expected": total(self.parts),
                "actual": total(target),
                "blank": blank,
            }
        if self.kind == "subset":
            return {
                "judged": filled(self.cells),
                "expected": total(self.parts[:1]),
                "actual": total([self.target or ""]),
                "blank": 0.0,
            }
        return {
            "judged": filled(self.cells),
            "expected": sum(k * total([c]) for c, k in self.right),
            "actual": sum(k * total([c]) for c, k in self.left) + self.const,
            "blank": 0.0,
        }

    def evaluate(self, values: Values) -> str | None:
        """The message when the rule fails for these values, None when it holds or is not judged
        (what the formulas give: written as their results)."""
        n = self.numbers(values)
        if not n["judged"]:
            return None
        expected, actual = n["expected"], n["actual"]
        if self.kind == "sum":
            if n["blank"]:
                return self._say(self.blank, {"expected": expected})
            broken = abs(actual - expected) > TOL
        else:
            op = "<=" if self.kind == "subset" else self.op
            broken = {
                "==": abs(actual - expected) > TOL,
                "<=": actual > expected + TOL,
                "<": actual >= expected - TOL,
                ">=": actual < expected - TOL,
                ">": actual <= expected + TOL,
            }[op]
        return self._say(self.message, {"expected": expected, "actual": actual}) if broken else None

    def evaluate_with(self, numbers: dict[str, float], template: str) -> str:
        """A template of this check said with given numbers (to size the rows that show it)."""
        return self._say(template, numbers)

    def _say(self, template: str, numbers: dict[str, float]) -> str:
        words = {**dict(self.words), **{k: number_text(x) for k, x in numbers.items()}}
        return template.format(**words)


# --------------------------------------------------------------------------- from the rules


def _template(rule: Rule, key: str) -> str:
    live = code_for(rule.id, Severity.ERROR).live
    return live.get(key) or code_for("", None).live.get(key, "")


def _where(form: Form, rule: Rule) -> str:
    tname = table_name(form.tables[rule.table]) if rule.table else ""
    return f"{tname}{rule.where or ''}"


def _terms(e: Expr) -> tuple[tuple[tuple[str, float], ...], float] | None:
    a = e.affine()
    if a is None or any(v.startswith("prev:") for v in a if v):
        return None
    return tuple((v, k) for v, k in a.items() if v and abs(k) > 1e-12), a.get("", 0.0)


def _side_words(form: Form, rule: Rule, e: Expr) -> str:
    def label(cid: str) -> str:
        cell = form.cells[cid]
        table = form.tables[cell.table]
        if rule.where and rule.where.endswith("列") and cell.table == rule.table:
            return f"“{row_name(table, cell.row)}”"
        if rule.where and cell.table == rule.table and len(table.value_columns()) > 1:
            return f"“{column_name(table, cell.column)}”"
        return cell_name(form, cid, with_table=cell.table != rule.table)

    terms = e.sum_terms()
    if terms is not None:
        return joined([label(t.cell) for t in terms])
    return e.render(lambda r: label(r.cell))


def live_checks(form: Form, cells: set[str]) -> list[LiveCheck]:
    """The form's hard rules that a workbook with these value cells can check on its own, as
    live checks, in the order of the rule set (tables in form order)."""
    out: list[LiveCheck] = []
    for rule in compiled(form).rules.rules:
        if not rule.is_error or rule.kind == "type" or not rule.linear or rule.prev_cells:
            continue
        if rule.unit_matches or rule.unit_excludes or not set(rule.cells) <= cells:
            continue
        table = rule.table or form.cells[rule.cells[0]].table
        if rule.kind == "sum" and rule.target is not None:
            out.append(
                LiveCheck(
                    rule,
                    "sum",
                    table,
                    rule.cells,
                    rule.target,
                    parts=rule.parts,
                    words=(("cell", cell_name(form, rule.target)), ("parts", rule.parts_text or "")),
                    message=_template(rule, "message"),
                    blank=_template(rule, "blank"),
                )
            )
        elif rule.kind == "subset":
            total = rule.cells[0]
            for part in rule.parts:
                out.append(
                    LiveCheck(
                        rule,
                        "subset",
                        table,
                        (part, total),
                        part,
                        parts=(total,),
                        words=(("cell", cell_name(form, part)), ("total", cell_name(form, total, with_table=False))),
                        message=_template(rule, "message"),
                    )
                )
        elif rule.kind == "expr" and isinstance(rule.expr, Cmp) and not rule.expr.a.boolean:
            left, right = _terms(rule.expr.a), _terms(rule.expr.b)
            if left is None or right is None:
                continue
            out.append(
                LiveCheck(
                    rule,
                    "linear",
                    table,
                    rule.cells,
                    rule.target,
                    left=left[0],
                    right=right[0],
                    const=left[1] - right[1],
                    op=rule.expr.op,
                    words=(
                        ("where", _where(form, rule)),
                        ("left", _side_words(form, rule, rule.expr.a)),
                        ("right", _side_words(form, rule, rule.expr.b)),
                        ("relation", _RELATION[rule.expr.op]),
                        ("description", rule.description),
                    ),
                    message=_template(rule, "message"),
                )
            )
    order = {t: i for i, t in enumerate(form.tables)}
    return sorted(out, key=lambda c: order.get(c.table, len(order)))  # a table's checks together


# --------------------------------------------------------------------------- the status


def status(n_fail: int, n_blank: int, n_cells: int) -> str:
    """The 自查 status line (what its formula gives)."""
    if n_fail:
        return f"发现 {n_fail} 处不符，请按下面的提示修改（改好后这里显示“{PASSED}”）："
    if n_blank == n_cells:
        return "尚未填写。"
    if n_blank:
        return f"已填写的数字未发现不符；还有 {n_blank} 个单元格未填写（没有发生的请填 0），填完后才能全部核对。"
    return PASSED


def status_formula(n_fail: str, n_blank: str, n_cells: int) -> str:
    """:func:`status` as a formula over the cells that count failures and blanks."""
    return (
        f'IF({n_fail}>0,"发现 "&{n_fail}&" 处不符，请按下面的提示修改（改好后这里显示“{PASSED}”）：",'
        f'IF({n_blank}={n_cells},"尚未填写。",'
        f'IF({n_blank}>0,"已填写的数字未发现不符；还有 "&{n_blank}&" 个单元格未填写（没有发生的请填 0），填完后才能全部核对。",'
        f'"{PASSED}")))'
    )
