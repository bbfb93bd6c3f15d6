"""Check rules of a form: generated from its row and column trees, and read
from the ``rules:`` list of its spec file.

A cell rule is a conjunction of comparisons over cells. The trees give:

* ``sum`` — a node with ``sum_of`` or ``kind: partition``: parent = sum of the parts (错误);
* ``subset`` — ``kind: subset`` (其中): every child ≤ parent (错误);
* ``dedup`` — ``dedup_of`` or ``kind: dedup``: max(parts) ≤ total ≤ sum(parts) (提示);
* ``type`` — every cell of a table has its value type (non-negative integer, signed
  integer, non-negative amount) (错误).

Row relations are checked in every value column, column relations in every value
row. Spec rules are readable expressions (restricted Python, see :mod:`gkreport.spec.expr`)::

    rules:
      - id: A3
        severity: error            # error / warning (or 错误 / 提示)
        description: 一、本年新收与二、上年结转之和等于三（七）总计与四、结转下年度继续办理之和
        table: t3
        each: column               # a bare name is a row, taken in every value column
        expr: "new + carry == total + next"

Names: with ``each: column`` a bare name is a row of the table (with ``each: row`` a
column); ``row.column`` is a cell of the rule's table and ``table.row.column`` any cell;
in a table with one value column (row) a bare name is a row (column); ``sum(name)`` of a
heading adds the value nodes under it; ``prev.<name>`` is that cell in the unit's report
of the previous year (the rule is then only checked when that report is available).
Optional keys: ``when`` (condition under which the rule applies), ``target`` (the cell
the rule defines: a blank target gets a proposed value), ``unit_matches`` /
``unit_excludes`` (regular expressions on the unit name), ``message`` (a text with
``{where} {lhs} {rhs} {diff}``).

Text rules (``kind``) check the narrative:

* ``narrative`` — ``pattern`` (regex, one group = the number quoted) and optional
  ``zero`` (regex for "none" wording); the number must equal one of ``equals``;
* ``mention`` — one of ``mentions`` must occur in ``sections`` (unless the
  metadata field ``unless_field`` is filled; only where ``when`` holds);
* ``length`` — ``sections`` have at most ``max_chars`` Chinese characters;
* ``repeat`` — ``sections`` differ from last year's (similarity < ``threshold``).

:func:`build_rules` makes a form's :class:`RuleSet`; :mod:`gkreport.spec.lint` checks it.
This module is pure Python so that loading a form stays fast.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import SpecError
from . import schema
from .expr import (
    And,
    Cmp,
    Compiled,
    Constraint,
    Expr,
    ExprError,
    NotHere,
    Ref,
    Scope,
    compile_rule,
    constraints,
    parse,
    sum_of,
)
from .model import Form, Node, Severity, Table
from .names import brief, cell_name, column_name, parts_phrase, row_name, table_name, without_number

TEXT_KINDS = ("narrative", "mention", "length", "repeat")


@dataclass(frozen=True)
class Rule:
    """One instance of a cell rule (a spec rule with ``each`` has one per column/row)."""

    id: str
    severity: Severity
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
    expr: Expr | None = field(default=None, repr=False)  # the expression (None: type rules)
    when: Expr | None = field(default=None, repr=False)
    constraints: tuple[Constraint, ...] | None = None  # linear form (None: not linear)
    optional: tuple[str, ...] = ()  # optional cells among ``cells``
    unit_matches: str | None = None
    unit_excludes: str | None = None
    message: str | None = None
    text: str = ""  # readable expression with full cell ids

    @property
    def is_error(self) -> bool:
        return self.severity == Severity.ERROR

    @property
    def linear(self) -> bool:
        return self.constraints is not None and self.when is None

    def compile(self, vector: bool) -> Compiled:
        """``fn(values of cells, values of prev_cells)``: whether the rule holds (``when`` included)."""
        assert self.expr is not None, self.id
        return compile_rule(self.expr, self.when, self.cells, self.prev_cells, vector)


@dataclass(frozen=True)
class TextRule:
    """A check of the narrative against the tables or the metadata."""

    id: str
    severity: Severity
    description: str
    kind: str  # narrative / mention / length / repeat
    sections: tuple[str, ...]
    table: str | None = None
    pattern: str | None = None
    zero: str | None = None
    equals: tuple[Expr, ...] = field(default=(), repr=False)
    equals_cells: tuple[tuple[str, ...], ...] = ()
    mentions: tuple[str, ...] = ()
    unless_field: str | None = None
    when: Expr | None = field(default=None, repr=False)
    when_cells: tuple[str, ...] = ()
    max_chars: int | None = None
    threshold: float | None = None
    message: str | None = None


@dataclass
class RuleSet:
    """All rules of one form (kept with the form by :mod:`gkreport.spec.compiled`)."""

    form_id: str
    path: str
    rules: tuple[Rule, ...]
    text_rules: tuple[TextRule, ...]
    _scalar: dict[str, Compiled] = field(default_factory=dict, repr=False)

    @property
    def by_id(self) -> dict[str, Rule]:
        return {r.id: r for r in self.rules}

    def error_rules(self) -> list[Rule]:
        return [r for r in self.rules if r.is_error and r.kind != "type"]

    def holds(self, rule: Rule, values: Mapping[str, float], prev: Mapping[str, float] | None = None) -> bool:
        """Whether the rule holds for one unit's values (``prev``: last year's)."""
        if rule.linear:
            assert rule.constraints is not None
            vals = values
            if rule.prev_cells:
                vals = {**values, **{f"prev:{c}": (prev or {})[c] for c in rule.prev_cells}}
            return all(c.holds(vals) for c in rule.constraints)
        fn = self._scalar.get(rule.id)
        if fn is None:
            fn = self._scalar[rule.id] = rule.compile(vector=False)
        return bool(fn([values[c] for c in rule.cells], [(prev or {})[c] for c in rule.prev_cells]))


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
        return f"“{brief(without_number(parent.label))}”各项之和"
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
                    where: str | None
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
    tcell = Ref(target)
    prefs = [Ref(p) for p in parts]
    psum = sum_of(prefs)
    own = cell_name(form, target, with_table=False)
    node: Expr
    if kind == "sum":
        node = Cmp("==", tcell, psum)
        desc = f"{own}等于{words}"
        severity = Severity.ERROR
    elif kind == "subset":
        node = _all([Cmp("<=", p, tcell) for p in prefs])
        desc = f"其中项{words}不大于{own}"
        severity = Severity.ERROR
    else:
        node = _all([*(Cmp("<=", p, tcell) for p in prefs), Cmp("<=", tcell, psum)])
        desc = f"{own}（去重计数）不小于{words}中的最大值，且不大于其和"
        severity = Severity.WARNING
    cons = constraints(node)
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
        expr=node,
        constraints=tuple(cons) if cons is not None else None,
        optional=optional,
        text=node.text(),
    )


def _all(cmps: list[Expr]) -> Expr:
    return cmps[0] if len(cmps) == 1 else And(tuple(cmps))


def _type_rule(table: Table) -> Rule:
    types = {c.type for c in table.cells.values()}
    extra = [x for t, x in (("signed_int", "增减数可为负"), ("decimal", "金额可有小数")) if t in types]
    return Rule(
        id=f"{table.id}.type",
        severity=Severity.ERROR,
        table=table.id,
        kind="type",
        source="tree",
        spec_id="type",
        cells=tuple(table.cells),
        description=f"{table_name(table)}各项为非负整数" + (f"（{'，'.join(extra)}）" if extra else ""),
    )


# --------------------------------------------------------------------------- spec rules


class _SpecRules:
    """The ``rules:`` entries of a spec, parsed into Rules and TextRules (refusing broken ones)."""

    def __init__(self, form: Form):
        self.form = form
        self.file = form.path.name

    def fail(self, rule_id: Any, what: str) -> SpecError:
        return SpecError(f"表样定义文件 {self.file}，规则 {rule_id}：{what}")

    def build(self) -> tuple[list[Rule], list[TextRule]]:
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
            if kind != "expr" and kind not in TEXT_KINDS:
                raise self.fail(rid, f"kind “{kind}” 不是 expr、{'、'.join(TEXT_KINDS)} 之一")
            level = schema.rule_level(kind)
            unknown = [k for k in raw if k not in level.keys]
            if unknown:
                raise self.fail(rid, f"未知的键“{unknown[0]}”{schema.suggest(str(unknown[0]), list(level.keys))}")
            severity = Severity.parse(raw.get("severity", ""))
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
            except ExprError as exc:
                raise self.fail(rid, str(exc)) from None
        return rules, texts

    def _expr_rule(self, rid: str, raw: dict, severity: Severity, table: Table | None) -> list[Rule]:
        if not raw.get("expr"):
            raise ExprError("缺少 expr")
        each = raw.get("each")
        if each not in (None, "column", "row"):
            raise ExprError(f"each “{each}” 应为 column 或 row")
        for key in ("unit_matches", "unit_excludes"):
            if raw.get(key):
                try:
                    re.compile(str(raw[key]))
                except re.error as exc:
                    raise ExprError(f"{key} 不是有效的正则表达式：{exc}") from None
        spots: list[tuple[str | None, str | None]]
        if each is None:
            spots = [(None, None)]
        elif table is None:
            raise ExprError("使用 each 时必须指定 table")
        elif each == "column":
            spots = [(c.id, f"{column_name(table, c.id)}列") for c in table.value_columns()]
        else:
            spots = [(r.id, f"“{row_name(table, r.id)}”") for r in table.value_rows()]
        out: list[Rule] = []
        for at, where in spots:
            scope = Scope(self.form, table, each, at)
            try:
                node = parse(raw["expr"], scope)
                when = parse(raw["when"], scope) if raw.get("when") else None
                target = None
                if raw.get("target"):
                    t = parse(raw["target"], scope)
                    if not isinstance(t, Ref) or t.prev:
                        raise ExprError("target 必须是一个单元格")
                    target = t.cell
            except NotHere:
                continue
            cells, prev = node.refs()
            if when is not None:
                wcells, wprev = when.refs()
                cells += [c for c in wcells if c not in cells]
                prev += [c for c in wprev if c not in prev]
            if target is not None and target not in cells:
                raise ExprError("target 不在表达式中")
            cons = constraints(node)
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
                    expr=node,
                    when=when,
                    constraints=tuple(cons) if cons is not None else None,
                    optional=tuple(c for c in cells if self.form.cell(c).optional),
                    unit_matches=raw.get("unit_matches"),
                    unit_excludes=raw.get("unit_excludes"),
                    message=raw.get("message"),
                    text=node.text(),
                )
            )
        if not out:
            raise ExprError("表达式在该表的任何列（行）中都不适用")
        return out

    def _text_rule(self, rid: str, raw: dict, severity: Severity, kind: str, table: Table | None) -> TextRule:
        raw_sections = raw.get("sections") or ()
        sections = tuple(str(s) for s in ([raw_sections] if isinstance(raw_sections, str) else raw_sections))
        known = {s.id for s in self.form.sections}
        for s in sections:
            if s not in known:
                raise ExprError(f"引用了不存在的章节“{s}”")
        if kind in ("mention", "length", "repeat") and not sections:
            raise ExprError("缺少 sections")
        scope = Scope(self.form, table, None, None)
        common: dict[str, Any] = {
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
                        raise ExprError(f"{key} 不是有效的正则表达式：{exc}") from None
            if "pattern" not in pats or pats["pattern"].groups != 1:
                raise ExprError("pattern 必须是含一个分组（所引用的数字）的正则表达式")
            equals = raw.get("equals") or []
            if isinstance(equals, str):
                equals = [equals]
            if not equals:
                raise ExprError("缺少 equals")
            trees = tuple(parse(e, scope) for e in equals)
            for t in trees:
                if t.affine() is None or t.refs()[1]:
                    raise ExprError("equals 必须是本年单元格的线性表达式")
            return TextRule(
                **common,
                pattern=str(raw["pattern"]),
                zero=raw.get("zero"),
                equals=trees,
                equals_cells=tuple(tuple(t.refs()[0]) for t in trees),
            )
        if kind == "mention":
            raw_mentions = raw.get("mentions") or ()
            mentions = tuple(str(m) for m in ([raw_mentions] if isinstance(raw_mentions, str) else raw_mentions))
            if not mentions:
                raise ExprError("缺少 mentions")
            field_id = raw.get("unless_field")
            if field_id is not None and field_id not in {f.id for f in self.form.metadata}:
                raise ExprError(f"unless_field 引用了不存在的字段“{field_id}”")
            when = parse(raw["when"], scope) if raw.get("when") else None
            if when is not None and when.refs()[1]:
                raise ExprError("when 不能引用上年数据")
            return TextRule(
                **common,
                mentions=mentions,
                unless_field=field_id,
                when=when,
                when_cells=tuple(when.refs()[0]) if when is not None else (),
            )
        if kind == "length":
            if not isinstance(raw.get("max_chars"), int) or raw["max_chars"] <= 0:
                raise ExprError("max_chars 必须是正整数")
            return TextRule(**common, max_chars=int(raw["max_chars"]))
        threshold = raw.get("threshold")
        if not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
            raise ExprError("threshold 必须是 0 到 1 之间的数")
        return TextRule(**common, threshold=float(threshold))


def build_rules(form: Form) -> RuleSet:
    """Generate the tree rules and parse the spec rules of a form (not linted: see spec.lint)."""
    generated: list[Rule] = []
    for table in form.tables.values():
        generated.extend(_tree_rules(form, table))
        generated.append(_type_rule(table))
    spec, texts = _SpecRules(form).build()
    return RuleSet(form_id=form.id, path=str(form.path), rules=tuple(generated + spec), text_rules=tuple(texts))
