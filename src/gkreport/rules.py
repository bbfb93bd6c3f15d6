"""Check rules of a form: generated from its row and column trees, and read
from the ``rules:`` list of its spec file.

A cell rule is a conjunction of comparisons over cells. The trees give:

* ``sum`` — a node with ``sum_of`` or ``kind: partition``: parent = sum of the parts (错误);
* ``subset`` — ``kind: subset`` (其中): every child ≤ parent (错误);
* ``dedup`` — ``dedup_of`` or ``kind: dedup``: max(parts) ≤ total ≤ sum(parts) (提示);
* ``type`` — every cell of a table has its value type (non-negative integer, signed
  integer, non-negative amount) (错误).

Row relations are checked in every value column, column relations in every value
row. Spec rules are readable expressions (restricted Python)::

    rules:
      - id: A3
        severity: error            # error / warning (or 错误 / 提示)
        description: 一、本年新收与二、上年结转之和等于三（七）总计与四、结转下年度继续办理之和
        table: t3
        each: column               # a bare name is a row, taken in every value column
        expr: "new + carry == total + next"

Syntax: numbers, ``+ - * /``, comparisons (chains allowed), ``and or not``,
``max() min() abs() sum()``. Names: with ``each: column`` a bare name is a row of
the table (with ``each: row`` a column); ``row.column`` is a cell of the rule's
table and ``table.row.column`` any cell; in a table with one value column (row)
a bare name is a row (column); ``sum(name)`` of a heading adds the value nodes
under it; ``prev.<name>`` is that cell in the unit's report of the previous year
(the rule is then only checked when that report is available). Optional keys:
``when`` (condition under which the rule applies), ``target`` (the cell the rule
defines: a blank target gets a proposed value), ``unit_matches`` /
``unit_excludes`` (regular expressions on the unit name), ``message`` (a text
with ``{where} {lhs} {rhs} {diff}``).

Text rules (``kind``) check the narrative:

* ``narrative`` — ``pattern`` (regex, one group = the number quoted) and optional
  ``zero`` (regex for "none" wording); the number must equal one of ``equals``;
* ``mention`` — one of ``mentions`` must occur in ``sections`` (unless the
  metadata field ``unless_field`` is filled; only where ``when`` holds);
* ``length`` — ``sections`` have at most ``max_chars`` Chinese characters;
* ``repeat`` — ``sections`` differ from last year's (similarity < ``threshold``).

Building a form's rule set lints it (every referenced cell exists, ids are
unique, no rule repeats another, the all-zero table and a random consistent
table satisfy every 错误 rule); a broken spec raises ``SpecError`` naming the
spec file and the rule. This module is pure Python so that loading a form stays fast.
"""

from __future__ import annotations

import ast
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .form import Form, Node, SpecError, Table
from .model import ERROR, WARNING

TOL = 1e-6

SEVERITIES = {"error": ERROR, "错误": ERROR, "warning": WARNING, "提示": WARNING}
TEXT_KINDS = ("narrative", "mention", "length", "repeat")

# --------------------------------------------------------------------------- labels

_ENUM_RE = re.compile(r"^(（[一二三四五六七八九十]+）|[一二三四五六七八九十]+、|\d+[.．]\s?)")
_TRAILING_NOTE_RE = re.compile(r"^(.{3,}?)（[^（）]*）$")
_CN_NUM_RE = re.compile(r"^([一二三四五六七八九十]+)、")


def brief(label: str) -> str:
    """A label without its trailing parenthetical remark (（不同渠道…计1条）)."""
    m = _TRAILING_NOTE_RE.match(label)
    if m and not _ENUM_RE.fullmatch(m.group(1)):
        return m.group(1)
    return label


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


_NAMES: dict[tuple[str, str, bool], str] = {}


def cell_name(form: Form, cell_id: str, *, with_table: bool = True) -> str:
    """表三“（七）总计”自然人列 / 表二“规章”本年制发件数 / 表四“行政复议—总计” / 统计表“…”."""
    key = (form.spec_hash, cell_id, with_table)
    name = _NAMES.get(key)
    if name is None:
        name = _NAMES[key] = _cell_name(form, cell_id, with_table)
    return name


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


def parts_phrase(labels: list[str]) -> str:
    """（一）至（六）各项之和 / 第1至8项之和 / “A”与“B”之和."""
    enums = [_ENUM_RE.match(x) for x in labels]
    if len(labels) >= 3 and all(enums):
        first, last = enums[0].group(1).strip(), enums[-1].group(1).strip()
        if first[0] == "（" or first[0] in "一二三四五六七八九十":
            return f"{first.rstrip('、')}至{last.rstrip('、')}各项之和"
        return f"第{first.rstrip('.．')}至{last.rstrip('.．')}项之和"
    quoted = [f"“{x}”" for x in labels]
    if len(quoted) == 1:
        return quoted[0]
    return "、".join(quoted[:-1]) + "与" + quoted[-1] + "之和"


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Constraint:
    """``Σ coef·x + const  op  0`` with op in ``==``, ``<=``, ``<``.

    Variables are cell ids; ``prev:<cell id>`` is that cell in last year's report.
    """

    coef: tuple[tuple[str, float], ...]
    const: float
    op: str

    def residual(self, values: dict[str, float]) -> float:
        return sum(c * values[v] for v, c in self.coef) + self.const

    def holds(self, values: dict[str, float]) -> bool:
        return satisfied(self.residual(values), self.op)

    def key(self) -> tuple:
        coef = sorted((v, round(c, 9)) for v, c in self.coef)
        const = round(self.const, 9)
        if self.op == "==" and coef and coef[0][1] < 0:
            coef = [(v, -c) for v, c in coef]
            const = -const
        return (tuple(coef), const, self.op)


def satisfied(r: float, op: str) -> bool:
    """Whether a residual satisfies ``op 0`` (within ``TOL``)."""
    if op == "==":
        return abs(r) <= TOL
    if op == "<=":
        return r <= TOL
    return r < -TOL  # "<"


@dataclass(frozen=True)
class Rule:
    """One instance of a cell rule (a spec rule with ``each`` has one per column/row)."""

    id: str
    severity: str  # ERROR / WARNING
    description: str  # Chinese, with its column/row
    table: str | None
    kind: str  # sum / subset / dedup / expr / type
    source: str  # "tree" or "spec"
    spec_id: str  # the spec entry's id (shared by instances) or the generated family
    cells: tuple[str, ...]  # cells of this year (expression and condition)
    prev_cells: tuple[str, ...] = ()  # cells of last year's report
    where: str | None = None  # 自然人列 / “规章”: the column or row an instance is about
    target: str | None = None  # the defined cell (sum rules): blank target → proposal
    parts: tuple[str, ...] = ()  # sum / subset / dedup: the child cells
    parts_text: str | None = None  # the parts in words: 其下各项之和 / “自然人”与“法人或其他组织”之和
    node: tuple | None = field(default=None, repr=False)  # expression tree
    when: tuple | None = field(default=None, repr=False)
    constraints: tuple[Constraint, ...] | None = None  # linear form (None: not linear)
    optional: tuple[str, ...] = ()  # optional cells among ``cells``
    unit_matches: str | None = None
    unit_excludes: str | None = None
    message: str | None = None
    expr: str = ""  # readable expression with full cell ids

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    @property
    def linear(self) -> bool:
        return self.constraints is not None and self.when is None


@dataclass(frozen=True)
class TextRule:
    """A check of the narrative against the tables or the metadata."""

    id: str
    severity: str
    description: str
    kind: str  # narrative / mention / length / repeat
    sections: tuple[str, ...]
    table: str | None = None
    pattern: str | None = None
    zero: str | None = None
    equals: tuple[tuple, ...] = field(default=(), repr=False)  # expression trees
    equals_cells: tuple[tuple[str, ...], ...] = ()
    mentions: tuple[str, ...] = ()
    unless_field: str | None = None
    when: tuple | None = field(default=None, repr=False)
    when_cells: tuple[str, ...] = ()
    max_chars: int | None = None
    threshold: float | None = None
    message: str | None = None


@dataclass
class RuleSet:
    """All rules of one form; built once per spec (cached by its hash)."""

    form_id: str
    spec_hash: str
    path: str
    rules: tuple[Rule, ...]
    text_rules: tuple[TextRule, ...]
    _py: dict[str, Callable] = field(default_factory=dict, repr=False)

    @property
    def by_id(self) -> dict[str, Rule]:
        return {r.id: r for r in self.rules}

    def error_rules(self) -> list[Rule]:
        return [r for r in self.rules if r.is_error and r.kind != "type"]

    def py_fn(self, rule: Rule) -> Callable[[list, list], bool]:
        """Scalar evaluator ``fn(cell values, prev values) -> bool`` (``when`` included)."""
        fn = self._py.get(rule.id)
        if fn is None:
            names = arg_names(rule.cells, rule.prev_cells)
            src = code(rule.node, names, "py")[0]
            if rule.when is not None:
                src = f"(not ({code(rule.when, names, 'py')[0]})) or ({src})"
            fn = eval(f"lambda c, p: {src}", {"abs": abs, "max": max, "min": min})
            self._py[rule.id] = fn
        return fn

    def holds(self, rule: Rule, values: dict[str, float], prev: dict[str, float] | None = None) -> bool:
        """Whether the rule holds for one unit's values (``prev``: last year's)."""
        if rule.linear:
            vals = (
                values if not rule.prev_cells else {**values, **{f"prev:{c}": (prev or {})[c] for c in rule.prev_cells}}
            )
            return all(c.holds(vals) for c in rule.constraints)
        fn = self.py_fn(rule)
        return bool(fn([values[c] for c in rule.cells], [(prev or {})[c] for c in rule.prev_cells]))


def arg_names(cells: tuple[str, ...], prev: tuple[str, ...]) -> dict[tuple[str, str], str]:
    """Names of a rule's values in generated code: ``c[i]`` this year, ``p[i]`` last year."""
    names = {("cell", c): f"c[{i}]" for i, c in enumerate(cells)}
    names.update({("prev", c): f"p[{i}]" for i, c in enumerate(prev)})
    return names


# --------------------------------------------------------------------------- expressions
# Expression trees are tuples:
#   ("num", x) ("cell", id) ("prev", id) ("neg", a) ("bin", op, a, b)
#   ("call", "max"|"min"|"abs", (args…)) ("cmp", op, a, b)
#   ("and", (args…)) ("or", (args…)) ("not", a)

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_CMPOPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}


class _NotHere(Exception):
    """A name exists but not in the column/row being instantiated (skip the instance)."""


class _Bad(Exception):
    """The expression is broken (bad syntax or a missing cell)."""


@dataclass
class _Ctx:
    form: Form
    table: Table | None
    each: str | None  # "column" / "row" / None
    at: str | None  # the column (each: column) or row (each: row) of this instance


def _dotted(node: ast.AST) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return None


def _resolve(ctx: _Ctx, parts: list[str], in_sum: bool) -> list[tuple[str, str]]:
    """Cells a name stands for: ``[("cell"|"prev", cell id), …]``."""
    kind = "cell"
    if parts[0] == "prev" and len(parts) > 1:
        kind, parts = "prev", parts[1:]
    form, table = ctx.form, ctx.table
    cells = form.cells
    name = ".".join(parts)
    if len(parts) == 3:
        if name not in cells:
            raise _Bad(f"引用了不存在的单元格“{name}”")
        return [(kind, name)]
    if table is None:
        raise _Bad(f"“{name}”不是完整的单元格编号（表.行.列），且规则没有指定 table")
    if len(parts) == 2:
        row, col = parts
        if in_sum and row in table.rows and col in table.columns:
            out = [f"{table.id}.{r}.{col}" for r in table.leaves("row", row)]
            if all(c in cells for c in out):
                return [(kind, c) for c in out]
        cid = f"{table.id}.{name}"
        if cid not in cells:
            raise _Bad(f"引用了不存在的单元格“{cid}”")
        return [(kind, cid)]
    if len(parts) != 1:
        raise _Bad(f"无法识别的名称“{name}”")
    each, at = ctx.each, ctx.at
    vcols = [c.id for c in table.value_columns()]
    vrows = [r.id for r in table.value_rows()]
    if each is None:
        if len(vcols) == 1:
            each, at = "column", vcols[0]
        elif len(vrows) == 1:
            each, at = "row", vrows[0]
        else:
            raise _Bad(f"“{name}”不是完整的单元格编号；请写成 行.列 或指定 each")
    if each == "column":
        if name not in table.rows:
            raise _Bad(f"表 {table.id} 没有行“{name}”")
        node = table.rows[name]
        has_value = node.has_value
        ids = table.leaves("row", name) if in_sum else [name]
        out = [f"{table.id}.{r}.{at}" for r in ids]
    else:
        if name not in table.columns:
            raise _Bad(f"表 {table.id} 没有列“{name}”")
        node = table.columns[name]
        has_value = not node.children and not node.heading
        ids = table.leaves("column", name) if in_sum else [name]
        out = [f"{table.id}.{at}.{c}" for c in ids]
    if not all(c in cells for c in out):
        if in_sum or has_value:
            raise _NotHere(name)
        raise _Bad(f"“{name}”是标题行/列，没有数值；求其下各项之和请写 sum({name})")
    return [(kind, c) for c in out]


def _convert(node: ast.AST, ctx: _Ctx) -> tuple:
    if isinstance(node, ast.Expression):
        return _convert(node.body, ctx)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return ("num", float(node.value))
    if isinstance(node, (ast.Name, ast.Attribute)):
        parts = _dotted(node)
        if parts is None:
            raise _Bad(f"无法识别的名称：{ast.unparse(node)}")
        found = _resolve(ctx, parts, in_sum=False)
        return found[0]
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.USub):
            return ("neg", _convert(node.operand, ctx))
        if isinstance(node.op, ast.UAdd):
            return _convert(node.operand, ctx)
        if isinstance(node.op, ast.Not):
            return ("not", _convert(node.operand, ctx))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return ("bin", _BINOPS[type(node.op)], _convert(node.left, ctx), _convert(node.right, ctx))
    if isinstance(node, ast.BoolOp):
        op = "and" if isinstance(node.op, ast.And) else "or"
        return (op, tuple(_convert(v, ctx) for v in node.values))
    if isinstance(node, ast.Compare):
        items = [node.left, *node.comparators]
        parts = []
        for op, a, b in zip(node.ops, items, items[1:]):
            if type(op) not in _CMPOPS:
                raise _Bad(f"不支持的比较：{ast.unparse(node)}")
            parts.append(("cmp", _CMPOPS[type(op)], _convert(a, ctx), _convert(b, ctx)))
        return parts[0] if len(parts) == 1 else ("and", tuple(parts))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        fname = node.func.id
        if fname == "sum":
            terms: list[tuple] = []
            for a in node.args:
                parts = _dotted(a)
                if parts is not None:
                    terms.extend(_resolve(ctx, parts, in_sum=True))
                else:
                    terms.append(_convert(a, ctx))
            if not terms:
                raise _Bad("sum() 没有参数")
            out = terms[0]
            for t in terms[1:]:
                out = ("bin", "+", out, t)
            return out
        if fname in ("max", "min") and node.args:
            return ("call", fname, tuple(_convert(a, ctx) for a in node.args))
        if fname == "abs" and len(node.args) == 1:
            return ("call", "abs", (_convert(node.args[0], ctx),))
    raise _Bad(f"不支持的表达式：{ast.unparse(node)}")


def parse(text: str, ctx: _Ctx) -> tuple:
    try:
        tree = ast.parse(str(text).strip(), mode="eval")
    except SyntaxError as exc:
        raise _Bad(f"表达式有语法错误：{text}（{exc.msg}）") from None
    return _convert(tree, ctx)


def refs(node: tuple | None) -> tuple[list[str], list[str]]:
    """Cells and previous-year cells that an expression tree uses, in order."""
    cells: list[str] = []
    prev: list[str] = []

    def walk(n: tuple) -> None:
        k = n[0]
        if k == "cell":
            if n[1] not in cells:
                cells.append(n[1])
        elif k == "prev":
            if n[1] not in prev:
                prev.append(n[1])
        elif k == "neg" or k == "not":
            walk(n[1])
        elif k in ("bin", "cmp"):
            walk(n[2])
            walk(n[3])
        elif k == "call":
            for a in n[2]:
                walk(a)
        elif k in ("and", "or"):
            for a in n[1]:
                walk(a)

    if node is not None:
        walk(node)
    return cells, prev


def _var(n: tuple) -> str:
    return n[1] if n[0] == "cell" else f"prev:{n[1]}"


def affine(n: tuple) -> dict[str, float] | None:
    """The expression as ``{var: coef, "": const}``, or None when it is not linear."""
    k = n[0]
    if k == "num":
        return {"": n[1]}
    if k in ("cell", "prev"):
        return {_var(n): 1.0}
    if k == "neg":
        a = affine(n[1])
        return None if a is None else {v: -c for v, c in a.items()}
    if k == "bin":
        a, b = affine(n[2]), affine(n[3])
        if a is None or b is None:
            return None
        op = n[1]
        if op in "+-":
            s = 1.0 if op == "+" else -1.0
            out = dict(a)
            for v, c in b.items():
                out[v] = out.get(v, 0.0) + s * c
            return out
        if op == "*":
            if set(a) <= {""}:
                a, b = b, a
            if set(b) <= {""}:
                f = b.get("", 0.0)
                return {v: c * f for v, c in a.items()}
            return None
        if op == "/" and set(b) <= {""} and b.get("", 0.0) != 0:
            f = b[""]
            return {v: c / f for v, c in a.items()}
    return None


def _constraints(n: tuple) -> list[Constraint] | None:
    k = n[0]
    if k == "and":
        out: list[Constraint] = []
        for a in n[1]:
            sub = _constraints(a)
            if sub is None:
                return None
            out.extend(sub)
        return out
    if k != "cmp":
        return None
    op, a, b = n[1], n[2], n[3]
    if op in (">", ">="):
        op, a, b = {">": "<", ">=": "<="}[op], b, a
    if op == "!=":
        return None
    if op in ("<", "<="):  # max(...) ≤ b  ⇔  every argument ≤ b; a ≤ min(...) likewise
        if a[0] == "call" and a[1] == "max":
            return _constraints(("and", tuple(("cmp", op, x, b) for x in a[2])))
        if b[0] == "call" and b[1] == "min":
            return _constraints(("and", tuple(("cmp", op, a, x) for x in b[2])))
    la, lb = affine(a), affine(b)
    if la is None or lb is None:
        return None
    diff = dict(la)
    for v, c in lb.items():
        diff[v] = diff.get(v, 0.0) - c
    const = diff.pop("", 0.0)
    coef = tuple((v, c) for v, c in diff.items() if abs(c) > 1e-12)
    return [Constraint(coef, const, op)]


def code(n: tuple, names: dict[tuple[str, str], str], mode: str) -> tuple[str, bool]:
    """Source text of the expression (``mode`` "py" for scalars, "np" for numpy arrays).

    Returns (source, is_boolean). Equality and order comparisons allow ``TOL``.
    """
    k = n[0]
    npm = mode == "np"
    if k == "num":
        return repr(n[1]), False
    if k in ("cell", "prev"):
        return names[(k, n[1])], False
    if k == "neg":
        return f"(-{code(n[1], names, mode)[0]})", False
    if k == "bin":
        return f"({code(n[2], names, mode)[0]} {n[1]} {code(n[3], names, mode)[0]})", False
    if k == "call":
        args = [code(a, names, mode)[0] for a in n[2]]
        if n[1] == "abs":
            return (f"np.abs({args[0]})" if npm else f"abs({args[0]})"), False
        if npm:
            fn = "np.maximum" if n[1] == "max" else "np.minimum"
            out = args[0]
            for a in args[1:]:
                out = f"{fn}({out}, {a})"
            return out, False
        return f"{n[1]}({', '.join(args)})", False
    if k == "cmp":
        (a, abool), (b, bbool) = code(n[2], names, mode), code(n[3], names, mode)
        op = n[1]
        if abool or bbool:
            return f"({a} {op} {b})", True
        absf = "np.abs" if npm else "abs"
        tol = repr(TOL)
        return {
            "==": f"({absf}({a} - {b}) <= {tol})",
            "!=": f"({absf}({a} - {b}) > {tol})",
            "<=": f"({a} <= {b} + {tol})",
            "<": f"({a} < {b} - {tol})",
            ">=": f"({a} >= {b} - {tol})",
            ">": f"({a} > {b} + {tol})",
        }[op], True
    if k in ("and", "or"):
        parts = [code(a, names, mode)[0] for a in n[1]]
        if npm:
            return "(" + (" & " if k == "and" else " | ").join(f"({p})" for p in parts) + ")", True
        return "(" + f" {k} ".join(parts) + ")", True
    if k == "not":
        inner = code(n[1], names, mode)[0]
        return (f"(~{inner})" if npm else f"(not {inner})"), True
    raise ValueError(n)


def render(n: tuple, label: Callable[[tuple], str]) -> str:
    """The expression written with labels (for messages)."""
    k = n[0]
    if k == "num":
        x = n[1]
        return str(int(x)) if x == int(x) else repr(x)
    if k in ("cell", "prev"):
        return label(n)
    if k == "neg":
        return f"−{render(n[1], label)}"
    if k == "bin":
        sym = {"+": " + ", "-": " − ", "*": " × ", "/": " ÷ "}[n[1]]
        left, right = render(n[2], label), render(n[3], label)
        if n[1] in "*/" and n[2][0] == "bin" and n[2][1] in "+-":
            left = f"（{left}）"
        if (n[1] in "*/-" and n[3][0] == "bin" and n[3][1] in "+-") or (n[1] == "/" and n[3][0] == "bin"):
            right = f"（{right}）"
        return f"{left}{sym}{right}"
    if k == "call":
        inner = "、".join(render(a, label) for a in n[2])
        return {"max": f"{inner}中的最大值", "min": f"{inner}中的最小值", "abs": f"|{inner}|"}[n[1]]
    if k == "cmp":
        sym = {"==": " = ", "!=": " ≠ ", "<": " < ", "<=": " ≤ ", ">": " > ", ">=": " ≥ "}[n[1]]
        return f"{render(n[2], label)}{sym}{render(n[3], label)}"
    if k in ("and", "or"):
        return ("，且" if k == "and" else "，或").join(render(a, label) for a in n[1])
    if k == "not":
        return f"并非（{render(n[1], label)}）"
    return "?"


def expr_text(n: tuple) -> str:
    """The expression with full cell ids (``prev.`` for last year's)."""
    return render(n, lambda x: x[1] if x[0] == "cell" else f"prev.{x[1]}")


def sum_terms(n: tuple) -> list[tuple] | None:
    """The leaves of a pure sum of cells (a + b + c), or None."""
    if n[0] in ("cell", "prev"):
        return [n]
    if n[0] == "bin" and n[1] == "+":
        a, b = sum_terms(n[2]), sum_terms(n[3])
        if a is not None and b is not None:
            return a + b
    return None


# --------------------------------------------------------------------------- tree rules

_TREE_PREFIX = {"sum": "sum", "subset": "sub", "dedup": "dedup"}


def _value_nodes(table: Table, axis: str, node_ids: Iterable[str]) -> list[str]:
    """Nodes standing for the given ones in a sum: themselves if they carry a value, else their leaves."""
    nodes = table.rows if axis == "row" else table.columns
    out: list[str] = []
    for nid in node_ids:
        node = nodes[nid]
        if (axis == "row" and node.has_value and node.subtotal is None) or (
            axis == "column" and not node.children and not node.heading
        ):
            out.append(nid)
        else:
            out.extend(table.leaves(axis, nid))
    return out


def _relations(table: Table, axis: str, node: Node) -> list[tuple[str, list[str], str]]:
    """(kind, part nodes, the parts in words) for one node of the row or column tree."""
    nodes = table.rows if axis == "row" else table.columns
    out = []
    if node.sum_of:
        out.append(("sum", _value_nodes(table, axis, node.sum_of), _sum_words(nodes, node, node.sum_of)))
    if node.kind == "partition":
        out.append(("sum", _value_nodes(table, axis, node.children), "其下各项之和"))
    if node.kind == "subset":
        kids = _value_nodes(table, axis, node.children)
        out.append(("subset", kids, "、".join(f"“{brief(nodes[k].label)}”" for k in kids)))
    if node.dedup_of or node.kind == "dedup":
        items = node.dedup_of or node.children
        out.append(("dedup", _value_nodes(table, axis, items), "、".join(f"“{brief(nodes[k].label)}”" for k in items)))
    return out


def _sum_words(nodes: dict[str, Node], node: Node, items: tuple[str, ...]) -> str:
    labels = [brief(nodes[k].label) for k in items]
    if len(labels) <= 4:
        return parts_phrase(labels)
    parent = nodes.get(node.parent) if node.parent else None
    if parent is not None and not parent.caption and set(parent.children) - {node.id} == set(items):
        return f"“{brief(_ENUM_RE.sub('', parent.label))}”各项之和"
    return parts_phrase(labels)


def _tree_rules(form: Form, table: Table) -> list[Rule]:
    out: list[Rule] = []
    cells = table.cells
    vcols = [c.id for c in table.value_columns()]
    vrows = [r.id for r in table.value_rows()]
    tname = table_name(table)
    for axis, nodes, across in (("row", table.rows, vcols), ("column", table.columns, vrows)):
        for node in nodes.values():
            for kind, parts, words in _relations(table, axis, node):
                for at in across:
                    if axis == "row":
                        row, col, where = node.id, at, f"{column_name(table, at)}列"
                        part_cells = [f"{table.id}.{p}.{at}" for p in parts]
                        rid = f"{table.id}.r{_TREE_PREFIX[kind]}.{node.id}" + (f".{at}" if len(vcols) > 1 else "")
                    else:
                        row, col = at, node.id
                        where = f"“{row_name(table, at)}”行" if table.rows[at].label else None
                        part_cells = [f"{table.id}.{at}.{p}" for p in parts]
                        rid = f"{table.id}.c{_TREE_PREFIX[kind]}" + (f".{at}" if len(vrows) > 1 else "") + f".{node.id}"
                    target = f"{table.id}.{row}.{col}"
                    if target not in cells or not all(p in cells for p in part_cells) or not part_cells:
                        continue
                    out.append(_tree_rule(form, table, rid, kind, target, part_cells, words, where, tname))
    return out


def _tree_rule(
    form: Form,
    table: Table,
    rid: str,
    kind: str,
    target: str,
    parts: list[str],
    words: str,
    where: str | None,
    tname: str,
) -> Rule:
    tcell = ("cell", target)
    pnodes = [("cell", p) for p in parts]
    psum = pnodes[0]
    for p in pnodes[1:]:
        psum = ("bin", "+", psum, p)
    own = cell_name(form, target, with_table=False)
    if kind == "sum":
        node = ("cmp", "==", tcell, psum)
        desc = f"{own}等于{words}"
        severity = ERROR
    elif kind == "subset":
        node = (
            ("and", tuple(("cmp", "<=", p, tcell) for p in pnodes))
            if len(pnodes) > 1
            else ("cmp", "<=", pnodes[0], tcell)
        )
        desc = f"其中项{words}不大于{own}"
        severity = ERROR
    else:
        node = ("and", tuple(("cmp", "<=", p, tcell) for p in pnodes) + (("cmp", "<=", tcell, psum),))
        desc = f"{own}（去重计数）不小于{words}中的最大值，且不大于其和"
        severity = WARNING
    cons = _constraints(node)
    optional = tuple(c for c in [target, *parts] if form.cell(c).optional)
    return Rule(
        id=rid,
        severity=severity,
        description=f"{tname}{desc}",
        table=table.id,
        kind=kind,
        source="tree",
        spec_id=rid.split(".")[1],
        cells=(target, *parts),
        where=where,
        target=target if kind == "sum" else None,
        parts=tuple(parts),
        parts_text=words,
        node=node,
        constraints=tuple(cons) if cons is not None else None,
        optional=optional,
        expr=expr_text(node),
    )


def _type_rule(table: Table) -> Rule:
    types = {c.type for c in table.cells.values()}
    extra = [x for t, x in (("signed_int", "增减数可为负"), ("decimal", "金额可有小数")) if t in types]
    return Rule(
        id=f"{table.id}.type",
        severity=ERROR,
        table=table.id,
        kind="type",
        source="tree",
        spec_id="type",
        cells=tuple(table.cells),
        description=f"{table_name(table)}各项为非负整数" + (f"（{'，'.join(extra)}）" if extra else ""),
    )


# --------------------------------------------------------------------------- spec rules

_EXPR_KEYS = {
    "id",
    "severity",
    "description",
    "table",
    "each",
    "expr",
    "when",
    "target",
    "message",
    "unit_matches",
    "unit_excludes",
}
_TEXT_KEYS = {
    "narrative": {"pattern", "zero", "equals", "sections", "table"},
    "mention": {"mentions", "sections", "unless_field", "when", "table"},
    "length": {"sections", "max_chars"},
    "repeat": {"sections", "threshold"},
}
_COMMON_KEYS = {"id", "severity", "description", "kind", "message"}


class _Linter:
    def __init__(self, form: Form):
        self.form = form
        self.file = form.path.name

    def fail(self, rule_id: Any, what: str) -> SpecError:
        return SpecError(f"表样定义文件 {self.file}，规则 {rule_id}：{what}")

    def spec_rules(self) -> tuple[list[Rule], list[TextRule]]:
        rules: list[Rule] = []
        texts: list[TextRule] = []
        seen: set[str] = set()
        for raw in self.form.rules:
            if not isinstance(raw, dict) or "id" not in raw:
                raise SpecError(f"表样定义文件 {self.file}：rules 中有一项缺少 id：{raw!r}")
            rid = str(raw["id"])
            if rid in seen:
                raise self.fail(rid, "规则编号重复")
            seen.add(rid)
            kind = raw.get("kind", "expr")
            allowed = _COMMON_KEYS | (_EXPR_KEYS if kind == "expr" else _TEXT_KEYS.get(kind, set()))
            if kind != "expr" and kind not in TEXT_KINDS:
                raise self.fail(rid, f"kind “{kind}” 不是 expr、{'、'.join(TEXT_KINDS)} 之一")
            unknown = sorted(set(raw) - allowed)
            if unknown:
                raise self.fail(rid, f"未知的键：{'、'.join(unknown)}")
            severity = SEVERITIES.get(str(raw.get("severity", "")))
            if severity is None:
                raise self.fail(rid, f"severity “{raw.get('severity')}” 应为 error/warning（错误/提示）")
            if not raw.get("description"):
                raise self.fail(rid, "缺少 description（中文说明）")
            table = None
            if raw.get("table") is not None:
                table = self.form.tables.get(str(raw["table"]))
                if table is None:
                    raise self.fail(rid, f"引用了不存在的表“{raw['table']}”")
            try:
                if kind == "expr":
                    rules.extend(self._expr_rule(rid, raw, severity, table))
                else:
                    texts.append(self._text_rule(rid, raw, severity, kind, table))
            except _Bad as exc:
                raise self.fail(rid, str(exc)) from None
        return rules, texts

    def _expr_rule(self, rid: str, raw: dict, severity: str, table: Table | None) -> list[Rule]:
        if not raw.get("expr"):
            raise _Bad("缺少 expr")
        each = raw.get("each")
        if each not in (None, "column", "row"):
            raise _Bad(f"each “{each}” 应为 column 或 row")
        if each and table is None:
            raise _Bad("使用 each 时必须指定 table")
        for key in ("unit_matches", "unit_excludes"):
            if raw.get(key):
                try:
                    re.compile(str(raw[key]))
                except re.error as exc:
                    raise _Bad(f"{key} 不是有效的正则表达式：{exc}") from None
        if each == "column":
            spots = [(c.id, f"{column_name(table, c.id)}列") for c in table.value_columns()]
        elif each == "row":
            spots = [(r.id, f"“{row_name(table, r.id)}”") for r in table.value_rows()]
        else:
            spots = [(None, None)]
        out: list[Rule] = []
        for at, where in spots:
            ctx = _Ctx(self.form, table, each, at)
            try:
                node = parse(raw["expr"], ctx)
                when = parse(raw["when"], ctx) if raw.get("when") else None
                target = None
                if raw.get("target"):
                    t = parse(raw["target"], ctx)
                    if t[0] != "cell":
                        raise _Bad("target 必须是一个单元格")
                    target = t[1]
            except _NotHere:
                continue
            cells, prev = refs(node)
            wcells, wprev = refs(when)
            cells += [c for c in wcells if c not in cells]
            prev += [c for c in wprev if c not in prev]
            if target is not None and target not in cells:
                raise _Bad("target 不在表达式中")
            cons = _constraints(node)
            n_spots = len(spots)
            out.append(
                Rule(
                    id=f"{rid}.{at}" if n_spots > 1 else rid,
                    severity=severity,
                    description=str(raw["description"]) + (f"（{where}）" if where and n_spots > 1 else ""),
                    table=table.id if table else None,
                    kind="expr",
                    source="spec",
                    spec_id=rid,
                    cells=tuple(cells),
                    prev_cells=tuple(prev),
                    where=where if n_spots > 1 else None,
                    target=target,
                    node=node,
                    when=when,
                    constraints=tuple(cons) if cons is not None else None,
                    optional=tuple(c for c in cells if self.form.cell(c).optional),
                    unit_matches=raw.get("unit_matches"),
                    unit_excludes=raw.get("unit_excludes"),
                    message=raw.get("message"),
                    expr=expr_text(node),
                )
            )
        if not out:
            raise _Bad("表达式在该表的任何列（行）中都不适用")
        return out

    def _text_rule(self, rid: str, raw: dict, severity: str, kind: str, table: Table | None) -> TextRule:
        sections = tuple(str(s) for s in (raw.get("sections") or ()))
        known = {s.id for s in self.form.sections}
        for s in sections:
            if s not in known:
                raise _Bad(f"引用了不存在的章节“{s}”")
        if kind in ("mention", "length", "repeat") and not sections:
            raise _Bad("缺少 sections")
        ctx = _Ctx(self.form, table, None, None)
        common = {
            "id": rid,
            "severity": severity,
            "description": str(raw["description"]),
            "kind": kind,
            "sections": sections,
            "table": table.id if table else None,
            "message": raw.get("message"),
        }
        if kind == "narrative":
            pats = {}
            for key in ("pattern", "zero"):
                if raw.get(key):
                    try:
                        pats[key] = re.compile(str(raw[key]))
                    except re.error as exc:
                        raise _Bad(f"{key} 不是有效的正则表达式：{exc}") from None
            if "pattern" not in pats or pats["pattern"].groups != 1:
                raise _Bad("pattern 必须是含一个分组（所引用的数字）的正则表达式")
            equals = raw.get("equals") or []
            if isinstance(equals, str):
                equals = [equals]
            if not equals:
                raise _Bad("缺少 equals")
            trees = tuple(parse(e, ctx) for e in equals)
            for t in trees:
                if affine(t) is None or refs(t)[1]:
                    raise _Bad("equals 必须是本年单元格的线性表达式")
            return TextRule(
                **common,
                pattern=str(raw["pattern"]),
                zero=raw.get("zero"),
                equals=trees,
                equals_cells=tuple(tuple(refs(t)[0]) for t in trees),
            )
        if kind == "mention":
            mentions = tuple(str(m) for m in (raw.get("mentions") or ()))
            if not mentions:
                raise _Bad("缺少 mentions")
            field_id = raw.get("unless_field")
            if field_id is not None and field_id not in {f.id for f in self.form.metadata}:
                raise _Bad(f"unless_field 引用了不存在的字段“{field_id}”")
            when = parse(raw["when"], ctx) if raw.get("when") else None
            if when is not None and refs(when)[1]:
                raise _Bad("when 不能引用上年数据")
            return TextRule(
                **common, mentions=mentions, unless_field=field_id, when=when, when_cells=tuple(refs(when)[0])
            )
        if kind == "length":
            if not isinstance(raw.get("max_chars"), int) or raw["max_chars"] <= 0:
                raise _Bad("max_chars 必须是正整数")
            return TextRule(**common, max_chars=int(raw["max_chars"]))
        threshold = raw.get("threshold")
        if not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
            raise _Bad("threshold 必须是 0 到 1 之间的数")
        return TextRule(**common, threshold=float(threshold))

    # ----------------------------------------------------------------- consistency

    def check_duplicates(self, rules: list[Rule], texts: list[TextRule]) -> None:
        ids: dict[str, Rule] = {}
        for r in rules:
            if r.id in ids:
                raise self.fail(r.id, "规则编号重复（与按表样结构生成的规则或其他规则实例冲突）")
            ids[r.id] = r
        for t in texts:
            if t.id in ids:
                raise self.fail(t.id, "规则编号重复")
        seen: dict[tuple, Rule] = {}
        for r in rules:
            if not r.constraints or r.when is not None or r.unit_matches or r.unit_excludes:
                continue
            key = (r.severity, frozenset(c.key() for c in r.constraints))
            if key in seen:
                raise self.fail(r.id, f"与规则 {seen[key].id} 重复")
            seen[key] = r

    def check_consistency(self, rs: RuleSet) -> None:
        """The all-zero table and random consistent tables satisfy every 错误 rule."""
        cells = self.form.cells
        zero = dict.fromkeys(cells, 0.0)
        for r in rs.error_rules():
            prev = dict.fromkeys(r.prev_cells, 0.0)
            if not rs.holds(r, zero, prev):
                raise self.fail(r.id, f"全部为 0 的表不满足该规则（{r.expr}），与其他规则矛盾")
        values, culprit = solve_consistent(self.form, rs, seed=0)
        if values is None:
            raise self.fail(culprit, "无法构造满足全部错误级规则的非零表，该规则与其他规则矛盾")


# --------------------------------------------------------------------------- consistent tables


def _linear_error_rules(rs: RuleSet) -> list[Rule]:
    return [r for r in rs.error_rules() if r.linear and not r.prev_cells and not r.unit_matches and not r.unit_excludes]


def solve_consistent(
    form: Form, rs: RuleSet, seed: int = 0, *, high: int = 20, tries: int = 12
) -> tuple[dict[str, float] | None, str | None]:
    """A random table satisfying every 错误 rule (rules using last year's data excepted).

    Cells are solved from the linear rules by elimination (the parent of a sum is
    derived from its parts, an inequality gets a non-negative slack); free cells
    are random integers in [0, high]. Returns (values, None), or (None, id of the
    rule that kept failing).
    """
    rows: list[tuple[Rule, dict[str, float], float]] = []
    for r in _linear_error_rules(rs):
        for k, con in enumerate(r.constraints):
            coef = dict(con.coef)
            const = con.const
            if con.op != "==":
                coef[f"~{r.id}~{k}"] = 1.0
                if con.op == "<":
                    const += 1.0
            rows.append((r, coef, const))
    pivots: dict[str, tuple[dict[str, float], float, Rule]] = {}
    order: list[str] = []
    for rule, coef, const in rows:
        coef, const = _substitute(coef, const, pivots)
        if not coef:
            if abs(const) > TOL:
                return None, rule.id
            continue
        p = _pick_pivot(coef, rule.target)
        cp = coef.pop(p)
        pivots[p] = ({v: -c / cp for v, c in coef.items()}, -const / cp, rule)
        order.append(p)
    cells = form.cells
    blame: dict[str, int] = {}
    rng = random.Random(seed)
    for _ in range(tries):
        values: dict[str, float] = {}
        for cid, cell in cells.items():
            if cid not in pivots:
                lo = -high if cell.type == "signed_int" else 0
                values[cid] = float(rng.randint(lo, high))
        for expr, _, _ in pivots.values():
            for v in expr:
                if v.startswith("~") and v not in values and v not in pivots:
                    values[v] = float(rng.randint(0, 3))
        bad = None
        for p in reversed(order):
            expr, const, rule = pivots[p]
            x = sum(c * values[v] for v, c in expr.items()) + const
            values[p] = x
            signed = not p.startswith("~") and cells[p].type == "signed_int"
            if bad is None and not signed and x < -TOL:
                bad = rule.id  # the first pivot to go negative: closest to the cause
        if bad is None:
            for r in rs.error_rules():
                if r.prev_cells or r.unit_matches or r.unit_excludes:
                    continue
                if not rs.holds(r, values):
                    bad = r.id
                    break
        if bad is None:
            return {c: values[c] for c in cells}, None
        blame[bad] = blame.get(bad, 0) + 1
    return None, max(blame, key=blame.get)


def _substitute(
    coef: dict[str, float], const: float, pivots: dict[str, tuple[dict[str, float], float, Rule]]
) -> tuple[dict[str, float], float]:
    coef = dict(coef)
    while True:
        hit = [v for v in coef if v in pivots]
        if not hit:
            break
        for v in hit:
            c = coef.pop(v)
            expr, k, _ = pivots[v]
            for w, d in expr.items():
                coef[w] = coef.get(w, 0.0) + c * d
            const += c * k
    return {v: c for v, c in coef.items() if abs(c) > 1e-12}, const


def _pick_pivot(coef: dict[str, float], target: str | None) -> str:
    if target is not None and target in coef:
        return target
    pos = [v for v, c in coef.items() if c > 0]
    neg = [v for v, c in coef.items() if c < 0]
    few = pos if pos and (len(pos) <= len(neg) or not neg) else neg
    cells = [v for v in few if not v.startswith("~")]
    return (cells or few)[0]


def consistent_values(form: Form, seed: int = 0, *, high: int = 20) -> dict[str, float]:
    """A random table of the form that satisfies every 错误 rule (for tests and benchmarks)."""
    values, culprit = solve_consistent(form, rule_set(form), seed, high=high)
    if values is None:
        raise SpecError(f"表样定义文件 {form.path.name}，规则 {culprit}：无法构造一致的表")
    return values


# --------------------------------------------------------------------------- entry points

_CACHE: dict[str, RuleSet] = {}


def build_rule_set(form: Form) -> RuleSet:
    """Generate, parse and lint the rules of a form (no caching)."""
    linter = _Linter(form)
    generated: list[Rule] = []
    for table in form.tables.values():
        generated.extend(_tree_rules(form, table))
        generated.append(_type_rule(table))
    spec, texts = linter.spec_rules()
    rules = generated + spec
    linter.check_duplicates(rules, texts)
    rs = RuleSet(
        form_id=form.id, spec_hash=form.spec_hash, path=str(form.path), rules=tuple(rules), text_rules=tuple(texts)
    )
    linter.check_consistency(rs)
    return rs


def rule_set(form: Form) -> RuleSet:
    """The form's rules, built and linted once per spec content (``spec_hash``)."""
    rs = _CACHE.get(form.spec_hash)
    if rs is None:
        rs = build_rule_set(form)
        _CACHE[form.spec_hash] = rs
    return rs


def lint_form(form: Form) -> RuleSet:
    """Check a form's rules; raises ``SpecError`` naming the spec file and the rule."""
    return rule_set(form)
