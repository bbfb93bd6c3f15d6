"""Rule expressions as typed nodes: parsed from a spec's text, then read, shown and evaluated.

An expression is restricted Python (numbers, ``+ - * /``, comparisons, ``and or not``,
``max() min() abs() sum()``) whose names are cells of the form (see
:mod:`gkreport.spec.rules` for how names resolve). :func:`parse` gives a tree of the node
classes below; each node knows

* ``refs`` — the cells it reads, this year's and last year's (``prev.``);
* ``affine`` — its linear form ``{cell: coefficient, "": constant}``, if it has one;
* ``render`` — the expression in words, with cells named by a callback;
* ``value`` — its number for one unit's values (blank last-year cells are NaN);
* ``compile`` — a function ``fn(cells, prev)`` over the values at given positions:
  Python numbers (``vector=False``) or numpy columns of a whole batch (``vector=True``).

Comparisons allow ``TOL``: ``a == b`` holds when ``|a − b| ≤ TOL``.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any

from .model import Form, Table

TOL = 1e-6

Values = Sequence[Any]  # this year's (or last year's) values in ``refs`` order
Compiled = Callable[[Values, Values], Any]
Index = Mapping[tuple[bool, str], int]  # (last year?, cell id) → position in ``cells`` / ``prev``
Label = Callable[["Ref"], str]


class ExprError(Exception):
    """The expression is broken (bad syntax, a name that is not a cell); the message is Chinese."""


class NotHere(Exception):
    """A name exists but not in the column (row) being instantiated: skip that instance."""


def satisfied(r: float, op: str) -> bool:
    """Whether a residual satisfies ``op 0`` (within ``TOL``)."""
    if op == "==":
        return abs(r) <= TOL
    if op == "<=":
        return r <= TOL
    return r < -TOL  # "<"


def _divide(a: float, b: float) -> float:
    """``a / b`` as numpy divides floats: ±inf for x/0, NaN for 0/0 (never an exception)."""
    if b:
        return a / b
    if a == 0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _vdivide(a: Any, b: Any) -> Any:
    return a / b


# --------------------------------------------------------------------------- nodes


class Expr:
    """A node of an expression tree."""

    boolean = False  # a comparison or a logical combination (compared without tolerance)

    def children(self) -> tuple[Expr, ...]:
        return ()

    def refs(self) -> tuple[list[str], list[str]]:
        """Cells and last year's cells the expression reads, each once, in order."""
        cells: list[str] = []
        prev: list[str] = []
        for ref in self.walk():
            if isinstance(ref, Ref):
                out = prev if ref.prev else cells
                if ref.cell not in out:
                    out.append(ref.cell)
        return cells, prev

    def walk(self) -> list[Expr]:
        out: list[Expr] = [self]
        for c in self.children():
            out.extend(c.walk())
        return out

    def affine(self) -> dict[str, float] | None:
        """The expression as ``{variable: coefficient, "": constant}``, or None when it is not linear.
        Variables are cell ids; ``prev:<cell id>`` is the cell in last year's report."""
        return None

    def render(self, label: Label) -> str:
        raise NotImplementedError

    def value(self, vals: Mapping[str, float], prev: Mapping[str, float]) -> float:
        """The number for one unit (NaN where it has none)."""
        return math.nan

    def compile(self, index: Index, vector: bool) -> Compiled:
        raise NotImplementedError

    def text(self) -> str:
        """The expression with full cell ids (``prev.`` for last year's)."""
        return self.render(lambda r: f"prev.{r.cell}" if r.prev else r.cell)

    def sum_terms(self) -> list[Ref] | None:
        """The cells of a pure sum of cells (a + b + c), or None."""
        return None


@dataclass(frozen=True)
class Num(Expr):
    x: float

    def affine(self) -> dict[str, float]:
        return {"": self.x}

    def render(self, label: Label) -> str:
        return str(int(self.x)) if self.x == int(self.x) else repr(self.x)

    def value(self, vals: Mapping[str, float], prev: Mapping[str, float]) -> float:
        return self.x

    def compile(self, index: Index, vector: bool) -> Compiled:
        x = self.x
        return lambda c, p: x


@dataclass(frozen=True)
class Ref(Expr):
    """A cell of this year's report, or of last year's (``prev``)."""

    cell: str
    prev: bool = False

    @property
    def var(self) -> str:
        return f"prev:{self.cell}" if self.prev else self.cell

    def affine(self) -> dict[str, float]:
        return {self.var: 1.0}

    def render(self, label: Label) -> str:
        return label(self)

    def value(self, vals: Mapping[str, float], prev: Mapping[str, float]) -> float:
        return prev.get(self.cell, math.nan) if self.prev else vals[self.cell]

    def compile(self, index: Index, vector: bool) -> Compiled:
        i = index[(self.prev, self.cell)]
        if self.prev:
            return lambda c, p: p[i]
        return lambda c, p: c[i]

    def sum_terms(self) -> list[Ref]:
        return [self]


@dataclass(frozen=True)
class Neg(Expr):
    a: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.a,)

    def affine(self) -> dict[str, float] | None:
        a = self.a.affine()
        return None if a is None else {v: -c for v, c in a.items()}

    def render(self, label: Label) -> str:
        return f"−{self.a.render(label)}"

    def value(self, vals: Mapping[str, float], prev: Mapping[str, float]) -> float:
        return -self.a.value(vals, prev)

    def compile(self, index: Index, vector: bool) -> Compiled:
        a = self.a.compile(index, vector)
        return lambda c, p: -a(c, p)


_ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul}
_ARITH_WORDS = {"+": " + ", "-": " − ", "*": " × ", "/": " ÷ "}


@dataclass(frozen=True)
class Bin(Expr):
    op: str  # + - * /
    a: Expr
    b: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.a, self.b)

    def affine(self) -> dict[str, float] | None:
        a, b = self.a.affine(), self.b.affine()
        if a is None or b is None:
            return None
        op = self.op
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

    def render(self, label: Label) -> str:
        op, a, b = self.op, self.a, self.b
        left, right = a.render(label), b.render(label)
        if op in "*/" and isinstance(a, Bin) and a.op in "+-":
            left = f"（{left}）"
        if (op in "*/-" and isinstance(b, Bin) and b.op in "+-") or (op == "/" and isinstance(b, Bin)):
            right = f"（{right}）"
        return f"{left}{_ARITH_WORDS[op]}{right}"

    def value(self, vals: Mapping[str, float], prev: Mapping[str, float]) -> float:
        a, b = self.a.value(vals, prev), self.b.value(vals, prev)
        if self.op == "/":
            return a / b if b else math.nan
        return _ARITH[self.op](a, b)

    def compile(self, index: Index, vector: bool) -> Compiled:
        a, b = self.a.compile(index, vector), self.b.compile(index, vector)
        fn = _ARITH.get(self.op) or (_vdivide if vector else _divide)
        return lambda c, p: fn(a(c, p), b(c, p))

    def sum_terms(self) -> list[Ref] | None:
        if self.op != "+":
            return None
        a, b = self.a.sum_terms(), self.b.sum_terms()
        return a + b if a is not None and b is not None else None


def _maximum(*xs: Any) -> Any:
    import numpy as np

    return reduce(np.maximum, xs)


def _minimum(*xs: Any) -> Any:
    import numpy as np

    return reduce(np.minimum, xs)


def _vabs(x: Any) -> Any:
    import numpy as np

    return np.abs(x)


_CALLS: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {  # name → (scalar, vector)
    "max": (max, _maximum),
    "min": (min, _minimum),
    "abs": (abs, _vabs),
}


@dataclass(frozen=True)
class Call(Expr):
    fn: str  # max / min / abs
    args: tuple[Expr, ...]

    def children(self) -> tuple[Expr, ...]:
        return self.args

    def render(self, label: Label) -> str:
        inner = "、".join(a.render(label) for a in self.args)
        return {"max": f"{inner}中的最大值", "min": f"{inner}中的最小值", "abs": f"|{inner}|"}[self.fn]

    def value(self, vals: Mapping[str, float], prev: Mapping[str, float]) -> float:
        xs = [a.value(vals, prev) for a in self.args]
        return _CALLS[self.fn][0](*xs)

    def compile(self, index: Index, vector: bool) -> Compiled:
        args = [a.compile(index, vector) for a in self.args]
        fn = _CALLS[self.fn][1 if vector else 0]
        return lambda c, p: fn(*[a(c, p) for a in args])


_CMP_WORDS = {"==": " = ", "!=": " ≠ ", "<": " < ", "<=": " ≤ ", ">": " > ", ">=": " ≥ "}
_PLAIN_CMP = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class Cmp(Expr):
    op: str  # == != < <= > >=
    a: Expr
    b: Expr

    boolean = True

    def children(self) -> tuple[Expr, ...]:
        return (self.a, self.b)

    def render(self, label: Label) -> str:
        return f"{self.a.render(label)}{_CMP_WORDS[self.op]}{self.b.render(label)}"

    def compile(self, index: Index, vector: bool) -> Compiled:
        a, b = self.a.compile(index, vector), self.b.compile(index, vector)
        if self.a.boolean or self.b.boolean:
            plain = _PLAIN_CMP[self.op]
            return lambda c, p: plain(a(c, p), b(c, p))
        absf = _vabs if vector else abs
        tol = TOL
        op = self.op
        if op == "==":
            return lambda c, p: absf(a(c, p) - b(c, p)) <= tol
        if op == "!=":
            return lambda c, p: absf(a(c, p) - b(c, p)) > tol
        if op == "<=":
            return lambda c, p: a(c, p) <= b(c, p) + tol
        if op == "<":
            return lambda c, p: a(c, p) < b(c, p) - tol
        if op == ">=":
            return lambda c, p: a(c, p) >= b(c, p) - tol
        return lambda c, p: a(c, p) > b(c, p) + tol

    def constraints(self) -> list[Constraint] | None:
        op, a, b = self.op, self.a, self.b
        if op in (">", ">="):
            op, a, b = {">": "<", ">=": "<="}[op], b, a
        if op == "!=":
            return None
        if op in ("<", "<="):  # max(...) ≤ b  ⇔  every argument ≤ b; a ≤ min(...) likewise
            if isinstance(a, Call) and a.fn == "max":
                return And(tuple(Cmp(op, x, b) for x in a.args)).constraints()
            if isinstance(b, Call) and b.fn == "min":
                return And(tuple(Cmp(op, a, x) for x in b.args)).constraints()
        la, lb = a.affine(), b.affine()
        if la is None or lb is None:
            return None
        diff = dict(la)
        for v, c in lb.items():
            diff[v] = diff.get(v, 0.0) - c
        const = diff.pop("", 0.0)
        coef = tuple((v, c) for v, c in diff.items() if abs(c) > 1e-12)
        return [Constraint(coef, const, op)]


@dataclass(frozen=True)
class And(Expr):
    args: tuple[Expr, ...]

    boolean = True

    def children(self) -> tuple[Expr, ...]:
        return self.args

    def render(self, label: Label) -> str:
        return "，且".join(a.render(label) for a in self.args)

    def compile(self, index: Index, vector: bool) -> Compiled:
        args = [a.compile(index, vector) for a in self.args]
        if vector:
            return lambda c, p: reduce(operator.and_, [a(c, p) for a in args])
        return lambda c, p: all(a(c, p) for a in args)

    def constraints(self) -> list[Constraint] | None:
        out: list[Constraint] = []
        for a in self.args:
            sub = constraints(a)
            if sub is None:
                return None
            out.extend(sub)
        return out


@dataclass(frozen=True)
class Or(Expr):
    args: tuple[Expr, ...]

    boolean = True

    def children(self) -> tuple[Expr, ...]:
        return self.args

    def render(self, label: Label) -> str:
        return "，或".join(a.render(label) for a in self.args)

    def compile(self, index: Index, vector: bool) -> Compiled:
        args = [a.compile(index, vector) for a in self.args]
        if vector:
            return lambda c, p: reduce(operator.or_, [a(c, p) for a in args])
        return lambda c, p: any(a(c, p) for a in args)


@dataclass(frozen=True)
class Not(Expr):
    a: Expr

    boolean = True

    def children(self) -> tuple[Expr, ...]:
        return (self.a,)

    def render(self, label: Label) -> str:
        return f"并非（{self.a.render(label)}）"

    def compile(self, index: Index, vector: bool) -> Compiled:
        a = self.a.compile(index, vector)
        if vector:
            return lambda c, p: ~a(c, p)
        return lambda c, p: not a(c, p)


def sum_of(terms: Sequence[Expr]) -> Expr:
    """``terms[0] + terms[1] + …`` (left to right)."""
    out = terms[0]
    for t in terms[1:]:
        out = Bin("+", out, t)
    return out


# --------------------------------------------------------------------------- linear form


@dataclass(frozen=True)
class Constraint:
    """``Σ coef·x + const  op  0`` with op in ``==``, ``<=``, ``<``.

    Variables are cell ids; ``prev:<cell id>`` is that cell in last year's report.
    """

    coef: tuple[tuple[str, float], ...]
    const: float
    op: str

    def residual(self, values: Mapping[str, float]) -> float:
        return sum(c * values[v] for v, c in self.coef) + self.const

    def holds(self, values: Mapping[str, float]) -> bool:
        return satisfied(self.residual(values), self.op)

    def key(self) -> tuple:
        coef = sorted((v, round(c, 9)) for v, c in self.coef)
        const = round(self.const, 9)
        if self.op == "==" and coef and coef[0][1] < 0:
            coef = [(v, -c) for v, c in coef]
            const = -const
        return (tuple(coef), const, self.op)


def constraints(e: Expr) -> list[Constraint] | None:
    """The comparison(s) as linear constraints, or None when the expression is not a conjunction
    of linear comparisons."""
    if isinstance(e, (Cmp, And)):
        return e.constraints()
    return None


def compile_rule(e: Expr, when: Expr | None, cells: Sequence[str], prev: Sequence[str], vector: bool) -> Compiled:
    """``fn(cell values, last year's values)``: whether ``e`` holds (or ``when`` does not), the values
    given in the order of ``cells`` and ``prev``."""
    index = {(False, c): i for i, c in enumerate(cells)}
    index.update({(True, c): i for i, c in enumerate(prev)})
    fn = e.compile(index, vector)
    if when is None:
        return fn
    cond = when.compile(index, vector)
    if vector:
        return lambda c, p: (~cond(c, p)) | fn(c, p)
    return lambda c, p: (not cond(c, p)) or fn(c, p)


# --------------------------------------------------------------------------- parsing

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_CMPOPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}


@dataclass
class Scope:
    """Where a rule's names are resolved: its form, its table, and for a rule taken in every
    column (``each: column``) or row, the column or row of this instance."""

    form: Form
    table: Table | None
    each: str | None  # "column" / "row" / None
    at: str | None


def _dotted(node: ast.AST) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return None


def _resolve(scope: Scope, parts: list[str], in_sum: bool) -> list[Ref]:
    """The cells a name stands for."""
    prev = False
    if parts[0] == "prev" and len(parts) > 1:
        prev, parts = True, parts[1:]
    form, table = scope.form, scope.table
    cells = form.cells
    name = ".".join(parts)
    if len(parts) == 3:
        if name not in cells:
            raise ExprError(f"引用了不存在的单元格“{name}”")
        return [Ref(name, prev)]
    if table is None:
        raise ExprError(f"“{name}”不是完整的单元格编号（表.行.列），且规则没有指定 table")
    if len(parts) == 2:
        row, col = parts
        if in_sum and row in table.rows and col in table.columns:
            out = [f"{table.id}.{r}.{col}" for r in table.leaves("row", row)]
            if all(c in cells for c in out):
                return [Ref(c, prev) for c in out]
        cid = f"{table.id}.{name}"
        if cid not in cells:
            raise ExprError(f"引用了不存在的单元格“{cid}”")
        return [Ref(cid, prev)]
    if len(parts) != 1:
        raise ExprError(f"无法识别的名称“{name}”")
    each, at = scope.each, scope.at
    vcols = [c.id for c in table.value_columns()]
    vrows = [r.id for r in table.value_rows()]
    if each is None:
        if len(vcols) == 1:
            each, at = "column", vcols[0]
        elif len(vrows) == 1:
            each, at = "row", vrows[0]
        else:
            raise ExprError(f"“{name}”不是完整的单元格编号；请写成 行.列 或指定 each")
    if each == "column":
        if name not in table.rows:
            raise ExprError(f"表 {table.id} 没有行“{name}”")
        node = table.rows[name]
        has_value = node.has_value
        ids = table.leaves("row", name) if in_sum else [name]
        out = [f"{table.id}.{r}.{at}" for r in ids]
    else:
        if name not in table.columns:
            raise ExprError(f"表 {table.id} 没有列“{name}”")
        node = table.columns[name]
        has_value = not node.children and not node.heading
        ids = table.leaves("column", name) if in_sum else [name]
        out = [f"{table.id}.{at}.{c}" for c in ids]
    if not all(c in cells for c in out):
        if in_sum or has_value:
            raise NotHere(name)
        raise ExprError(f"“{name}”是标题行/列，没有数值；求其下各项之和请写 sum({name})")
    return [Ref(c, prev) for c in out]


def _convert(node: ast.AST, scope: Scope) -> Expr:
    if isinstance(node, ast.Expression):
        return _convert(node.body, scope)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return Num(float(node.value))
    if isinstance(node, (ast.Name, ast.Attribute)):
        parts = _dotted(node)
        if parts is None:
            raise ExprError(f"无法识别的名称：{ast.unparse(node)}")
        return _resolve(scope, parts, in_sum=False)[0]
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.USub):
            return Neg(_convert(node.operand, scope))
        if isinstance(node.op, ast.UAdd):
            return _convert(node.operand, scope)
        if isinstance(node.op, ast.Not):
            return Not(_convert(node.operand, scope))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return Bin(_BINOPS[type(node.op)], _convert(node.left, scope), _convert(node.right, scope))
    if isinstance(node, ast.BoolOp):
        args = tuple(_convert(v, scope) for v in node.values)
        return And(args) if isinstance(node.op, ast.And) else Or(args)
    if isinstance(node, ast.Compare):
        items = [node.left, *node.comparators]
        cmps: list[Expr] = []
        for op, a, b in zip(node.ops, items, items[1:]):
            if type(op) not in _CMPOPS:
                raise ExprError(f"不支持的比较：{ast.unparse(node)}")
            cmps.append(Cmp(_CMPOPS[type(op)], _convert(a, scope), _convert(b, scope)))
        return cmps[0] if len(cmps) == 1 else And(tuple(cmps))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        fname = node.func.id
        if fname == "sum":
            terms: list[Expr] = []
            for a in node.args:
                dotted = _dotted(a)
                if dotted is not None:
                    terms.extend(_resolve(scope, dotted, in_sum=True))
                else:
                    terms.append(_convert(a, scope))
            if not terms:
                raise ExprError("sum() 没有参数")
            return sum_of(terms)
        if fname in ("max", "min") and node.args:
            return Call(fname, tuple(_convert(a, scope) for a in node.args))
        if fname == "abs" and len(node.args) == 1:
            return Call("abs", (_convert(node.args[0], scope),))
    raise ExprError(f"不支持的表达式：{ast.unparse(node)}")


def parse(text: str, scope: Scope) -> Expr:
    """The expression tree of a rule's text; raises :class:`ExprError` or :class:`NotHere`."""
    try:
        tree = ast.parse(str(text).strip(), mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"表达式有语法错误：{text}（{exc.msg}）") from None
    return _convert(tree, scope)
