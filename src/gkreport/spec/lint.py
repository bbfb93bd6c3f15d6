"""The lint of a form's rule set, run when the form is loaded.

Every id is unique, no rule repeats another, and the rules do not contradict each
other: the all-zero table and a random consistent table (solved from the linear 错误
rules) satisfy every 错误 rule. A broken spec raises ``SpecError`` naming the spec file
and the rule.
"""

from __future__ import annotations

import random

from ..errors import SpecError
from .expr import TOL
from .model import Form
from .rules import Rule, RuleSet, TextRule


def _fail(form: Form, rule_id: str | None, what: str) -> SpecError:
    return SpecError(f"表样定义文件 {form.path.name}，规则 {rule_id}：{what}")


def lint(form: Form, rs: RuleSet) -> None:
    """Refuse duplicate and contradicting rules (``SpecError``)."""
    check_duplicates(form, list(rs.rules), list(rs.text_rules))
    check_consistency(form, rs)


def check_duplicates(form: Form, rules: list[Rule], texts: list[TextRule]) -> None:
    ids: dict[str, Rule] = {}
    for r in rules:
        if r.id in ids:
            raise _fail(form, r.id, "规则编号重复（与按表样结构生成的规则或其他规则实例冲突）")
        ids[r.id] = r
    for t in texts:
        if t.id in ids:
            raise _fail(form, t.id, "规则编号重复")
    seen: dict[tuple, Rule] = {}
    for r in rules:
        if not r.constraints or r.when is not None or r.unit_matches or r.unit_excludes:
            continue
        key = (r.severity, frozenset(c.key() for c in r.constraints))
        if key in seen:
            raise _fail(form, r.id, f"与规则 {seen[key].id} 重复")
        seen[key] = r


def check_consistency(form: Form, rs: RuleSet) -> None:
    """The all-zero table and random consistent tables satisfy every 错误 rule."""
    zero = dict.fromkeys(form.cells, 0.0)
    for r in rs.error_rules():
        prev = dict.fromkeys(r.prev_cells, 0.0)
        if not rs.holds(r, zero, prev):
            raise _fail(form, r.id, f"全部为 0 的表不满足该规则（{r.text}），与其他规则矛盾")
    values, culprit = solve_consistent(form, rs, seed=0)
    if values is None:
        raise _fail(form, culprit, "无法构造满足全部错误级规则的非零表，该规则与其他规则矛盾")


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
        for k, con in enumerate(r.constraints or ()):
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
    return None, max(blame, key=blame.__getitem__)


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
