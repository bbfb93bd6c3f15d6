"""Checking units: every rule of a form evaluated across a batch of units at once.

``check_units(units, previous)`` groups the units by form and builds one wide
matrix per form, the values of :func:`frame` (rows = units, columns = cell ids, float,
NaN for blank). Linear rules are evaluated together as one matrix product over it, the others
as column expressions; only the few units with something to report are looked
at one by one. For those, the cells most likely wrong are searched by the
Fellegi–Holt principle: the fewest cells whose change makes every 错误 rule hold,
preferring cells that take part in fewer passing rules; a unique answer is
named with its corrected value, a typing slip (digits swapped, doubled, dropped,
an extra 0) is pointed out, and equally likely cells are listed. The search uses this
year's rules only (last year's report never changes it); the cross-year rules are judged
against its outcome. The findings of one suspect cell are folded into one: one wrong
cell, one error.

Report-level checks follow per unit: metadata (unit name, year, dates), the
numbers quoted by the narrative, required sections, the template's years, and
— with last year's report — carry-over, 现行有效件数 and repeated text.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np

from .explanations import apply_explanations
from .formatting import format_date, format_number, parse_date
from .model import ERROR, WARNING, Finding, Unit
from .spec import Form, Rule, RuleSet, TextRule, compiled, load_forms
from .spec.expr import TOL, Cmp, Expr, Num, Ref, satisfied
from .spec.names import cell_name, column_name, joined, row_name, table_name

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["check_unit", "check_units", "frame", "slip_note"]

_MAX_PAIR_CELLS = 40  # pair search over at most this many cells
_MAX_COVER_CELLS = 20  # cover search over at most this many singly repairable cells
_MAX_COVER_SIZE = 4  # and at most this many wrong cells at once
# a blank cell whose content the reader could not take as a number (a dash, an error value, …) and
# has said so in its own finding: not 未填写, which would say that problem a second time, untruly
_NO_NUMBER = "没有读到数字（已另行说明）"

# --------------------------------------------------------------------------- public


def frame(units: list[Unit], form: Form | None = None) -> pd.DataFrame:
    """One row per unit, one float column per cell id of the form (NaN = blank)."""
    import pandas as pd  # here only: the check engine works on the frame's matrix, and the batch's
    # workers, which only check, then start without loading pandas (a tenth of a second, 30 MB)

    form = form or units[0].form
    return pd.DataFrame(_matrix(units, form), columns=list(form.cells))


def _matrix(units: list[Unit], form: Form) -> np.ndarray:
    """The values of :func:`frame`, as the float matrix the check engine evaluates."""
    cols = list(form.cells)
    rows = [[u.values.get(c) for c in cols] for u in units]
    try:
        return np.array(rows, dtype=float).reshape(len(units), len(cols))
    except (TypeError, ValueError):  # a stray text value: treat it as blank
        return np.array([[_to_float(v) for v in r] for r in rows], dtype=float).reshape(len(units), len(cols))


def check_units(units: list[Unit], previous: dict | None = None) -> None:
    """Check units and append their findings to ``unit.findings``.

    ``previous`` holds reports of earlier years: a dict whose keys are a unit
    name or a ``(unit name, year)`` pair and whose values are Units (names are
    compared without spaces). A unit of year Y is compared with the report of
    the same name for year Y − 1 (or, where years are unknown, the only report of
    that name): 上年结转, 现行有效件数, 复议后起诉 and repeated 五 are then checked.
    Units of different forms may be mixed. Checking a unit twice adds no duplicates.
    """
    prev_index = _previous_index(previous)
    groups: dict[str, list[Unit]] = {}
    for u in units:
        groups.setdefault(u.form.spec_hash, []).append(u)
    for batch in groups.values():
        prevs = [_last_year(u, prev_index) for u in batch]
        compiled(batch[0].form).derive(_Engine).run(batch, prevs)
    for u in units:  # the unit's 审核说明 answer the findings as they now are
        apply_explanations(u)


def check_unit(unit: Unit, previous: Unit | None = None) -> None:
    """Check one unit (optionally against its report of the previous year)."""
    check_units([unit], {_unit_name(unit) or "": previous} if previous is not None else None)


def _previous_index(previous: dict | None) -> dict[str, list[tuple[int | None, Unit]]]:
    """Earlier years' reports by normalised unit name: (year, Unit) pairs (see :func:`check_units`)."""
    index: dict[str, list[tuple[int | None, Unit]]] = {}
    for key, pu in (previous or {}).items():
        name, year = (key[0], key[1]) if isinstance(key, tuple) else (key, None)
        year = year if isinstance(year, int) else _unit_year(pu)
        index.setdefault(_norm_name(name or _unit_name(pu)), []).append((year, pu))
    return index


def without_last_year(units: list[Unit], previous: dict | None) -> list[Unit]:
    """The units that :func:`check_units` finds no earlier report for in ``previous`` (so that their
    cross-year checks are not made): the caller can say so rather than let a clean result imply them."""
    index = _previous_index(previous)
    return [u for u in units if _last_year_of(_unit_name(u), _unit_year(u), index) is None]


def names_without_last_year(units: list[tuple[str, int]], previous: dict | None) -> list[tuple[str, int]]:
    """:func:`without_last_year` for (unit name, year) pairs, as a batch's records give them."""
    index = _previous_index(previous)
    return [(n, y) for n, y in units if _last_year_of(_norm_name(n) or None, y, index) is None]


def _last_year(unit: Unit, index: dict[str, list[tuple[int | None, Unit]]]) -> Unit | None:
    return _last_year_of(_unit_name(unit), _unit_year(unit), index)


def _last_year_of(name: str | None, year: int | None, index: dict[str, list[tuple[int | None, Unit]]]) -> Unit | None:
    found = index.get(name or "")
    if not found:
        return None
    exact = [p for y, p in found if year is not None and y == year - 1]
    if exact:
        return exact[0]
    unknown = [p for y, p in found if y is None or year is None]
    return unknown[0] if len(found) == 1 and unknown else None


# --------------------------------------------------------------------------- helpers


def _to_float(v: Any) -> float:
    if v is None:
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _fmt(x: float | None) -> str:
    return format_number(x, blank="空白")


def _out(x: float | None, cell_type: str | None = None) -> Any:
    """A float as the value type of the finding: int for counts, Decimal for amounts."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    if abs(x - round(x)) < 1e-9 and cell_type != "decimal":
        return round(x)
    return Decimal(_fmt(x))


def _norm_name(name: Any) -> str:
    return re.sub(r"\s+", "", str(name or ""))


def _unit_name(unit: Unit) -> str | None:
    name = unit.unit or unit.meta.get("unit")
    name = _norm_name(name)
    return name or None


def _unit_year(unit: Unit) -> int | None:
    for y in (unit.year, unit.meta.get("year")):
        try:
            if y is not None and str(y).strip():
                return int(str(y).strip().rstrip("年"))
        except ValueError:
            continue
    return None


def slip_note(written: float, correct: float) -> str | None:
    """The typing slip that turns ``correct`` into ``written``, in words, or None."""
    if written is None or correct is None or written < 0 or correct < 0:
        return None
    if abs(written - round(written)) > 1e-9 or abs(correct - round(correct)) > 1e-9:
        return None
    w, c = str(round(written)), str(round(correct))
    if w == c:
        return None
    if len(w) == len(c) + 1:
        for i in range(len(w)):
            if w[:i] + w[i + 1 :] == c:
                if w[i] == "0":
                    return f"疑似多输了一个 0：{w} → {c}"
                if (i > 0 and w[i - 1] == w[i]) or (i + 1 < len(w) and w[i + 1] == w[i]):
                    return f"疑似数字重复输入：{w} → {c}"
        return None
    if len(c) == len(w) + 1:
        for i in range(len(c)):
            if c[:i] + c[i + 1 :] == w:
                if c[i] == "0":
                    return f"疑似漏输了一个 0：{w} → {c}"
                if (i > 0 and c[i - 1] == c[i]) or (i + 1 < len(c) and c[i + 1] == c[i]):
                    return f"疑似漏输了一位重复的数字：{w} → {c}"
        return None
    if len(w) == len(c):
        diff = [i for i in range(len(w)) if w[i] != c[i]]
        if len(diff) == 2 and diff[1] == diff[0] + 1 and w[diff[0]] == c[diff[1]] and w[diff[1]] == c[diff[0]]:
            return f"疑似数字颠倒：{w} → {c}"
    return None


_REL = {"==": "应等于", "!=": "不应等于", "<": "应小于", "<=": "不应大于", ">": "应大于", ">=": "不应小于"}


# --------------------------------------------------------------------------- suspects


@dataclass
class _Con:
    rule: int
    coef: dict[str, float]
    const: float
    op: str


@dataclass
class _Fix:
    """What the suspect search concluded for one group of failing rules."""

    values: dict[str, float] = field(default_factory=dict)  # named cells → corrected value
    exact: bool = True  # False: the value is only the nearest that satisfies inequalities
    notes: dict[str, str] = field(default_factory=dict)  # cell → typing-slip note
    candidates: list[tuple[str, float | None]] = field(default_factory=list)  # equally likely cells
    tied: list[_Solution] = field(default_factory=list)  # the equally likely corrections behind them


_Solution = tuple[tuple[str, ...], tuple[float, ...], bool]  # cells, their corrected values, exact

TANGLED_NOTE = "与其他几处不符互相牵连，至少有两格填错，无法确定是哪几格"
TANGLED_EXPECTED = "；这里的“应为”是按其他各格现有的数算出的，不一定是正确的数，请逐格核对后再改"


class _Search:
    """Fellegi–Holt error localisation for one unit.

    The search runs on this year's rules only, so that last year's report (which may itself be
    wrong) never changes what this year's tables say: the diagnosis is the same with or without
    it. The cross-year rules (``prev_cells``) are judged afterwards against that diagnosis: they
    hold once the named cells are corrected, or one more cell explains them, or they are left
    as a disagreement between the two reports; among equally likely cells they prefer the one
    whose correction also agrees with last year's report.
    """

    def __init__(
        self, engine: _Engine, vals: dict[str, float], prev: dict[str, float], judged: list[int], bad_types: list[str]
    ):
        self.e = engine
        self.vals = vals
        self.prev = prev
        # this year's rules (shared by the units judged by the same rules: never changed here)
        this = engine.this_year(tuple(judged))
        self.cons, self.black, self.cons_of, self.black_of, cross = this
        self.xcons: list[_Con] = []  # cross-year linear rules, with last year's values put in
        self.xblack: list[int] = []  # cross-year other rules
        for j in cross:
            if engine.rules[j].linear:
                for coef, pcoef, const, op in engine.linear_parts[j]:
                    self.xcons.append(_Con(j, coef, const + sum(c * prev[v] for v, c in pcoef.items()), op))
            else:
                self.xblack.append(j)
        self.bad_types = bad_types

    def cross_failing(self, over: dict[str, float] | None = None) -> set[int]:
        """The cross-year rules that fail (with the values in ``over`` put in)."""
        bad = {con.rule for con in self.xcons if not satisfied(self.residual(con, over), con.op)}
        return bad | {j for j in self.xblack if not self.black_ok(j, over)}

    def residual(self, con: _Con, over: dict[str, float] | None = None) -> float:
        vals = self.vals
        if over:
            return sum(c * over.get(v, vals[v]) for v, c in con.coef.items()) + con.const
        return sum(c * vals[v] for v, c in con.coef.items()) + con.const

    def black_ok(self, j: int, over: dict[str, float] | None = None) -> bool:
        vals = {**self.vals, **over} if over else self.vals
        return self.e.rs.holds(self.e.rules[j], vals, self.prev)

    def fit(self, cell: str, x: float) -> float | None:
        typ = self.e.types[cell]
        if typ in ("int", "signed_int"):
            if abs(x - round(x)) > 1e-6:
                return None
            x = float(round(x))
        if typ != "signed_int" and x < -TOL:
            return None
        return x

    def ok_with(self, over: dict[str, float]) -> bool:
        seen: set[int] = set()
        for cell in over:
            for con in self.cons_of.get(cell, ()):
                if id(con) in seen:
                    continue
                seen.add(id(con))
                if not satisfied(self.residual(con, over), con.op):
                    return False
        return all(self.black_ok(j, over) for j in {j for cell in over for j in self.black_of.get(cell, ())})

    def solve1(self, cell: str) -> tuple[float, bool] | None:
        cur = self.vals[cell]
        cons = self.cons_of.get(cell, [])
        eqs = [c for c in cons if c.op == "=="]
        if eqs:
            # each equality implies a value; with several wrong cells only some of them are right
            tried: list[float] = []
            for con in eqs:
                a = con.coef[cell]
                x = self.fit(cell, -(self.residual(con) - a * cur) / a)
                if x is None or abs(x - cur) <= TOL or any(abs(x - t) <= TOL for t in tried):
                    continue
                tried.append(x)
                if self.ok_with({cell: x}):
                    return x, True
            return None
        else:
            typ = self.e.types[cell]
            lo = -math.inf if typ == "signed_int" else 0.0
            hi = math.inf
            step = 1.0 if typ != "decimal" else 1e-6
            for con in cons:
                a = con.coef[cell]
                bound = -(self.residual(con) - a * cur) / a
                if con.op == "<":
                    bound = bound - step if a > 0 else bound + step
                if a > 0:
                    hi = min(hi, bound)
                else:
                    lo = max(lo, bound)
            if typ != "decimal":
                lo = math.ceil(lo - TOL) if math.isfinite(lo) else lo
                hi = math.floor(hi + TOL) if math.isfinite(hi) else hi
            if lo > hi + TOL:
                return None
            x = min(max(cur, lo), hi)
            exact = False
        x = self.fit(cell, x)
        if x is None or abs(x - cur) <= TOL or not self.ok_with({cell: x}):
            return None
        return x, exact

    def solve2(self, a: str, b: str) -> tuple[float, float] | None:
        rows = []
        for con in {id(c): c for c in self.cons_of.get(a, []) + self.cons_of.get(b, [])}.values():
            if con.op != "==":
                continue
            ca, cb = con.coef.get(a, 0.0), con.coef.get(b, 0.0)
            rest = self.residual(con) - ca * self.vals[a] - cb * self.vals[b]
            rows.append((ca, cb, -rest))
        sol = None
        for (a1, b1, r1), (a2, b2, r2) in combinations(rows, 2):
            det = a1 * b2 - a2 * b1
            if abs(det) > 1e-12:
                sol = ((r1 * b2 - r2 * b1) / det, (a1 * r2 - a2 * r1) / det)
                break
        if sol is None:
            return None
        xa, xb = self.fit(a, sol[0]), self.fit(b, sol[1])
        if xa is None or xb is None:
            return None
        if abs(xa - self.vals[a]) <= TOL or abs(xb - self.vals[b]) <= TOL:
            return None  # one cell would do: not a minimal pair
        if not self.ok_with({a: xa, b: xb}):
            return None
        return xa, xb

    def passing(self, cell: str) -> int:
        n = sum(1 for c in self.cons_of.get(cell, ()) if satisfied(self.residual(c), c.op))
        return n + sum(1 for j in self.black_of.get(cell, ()) if self.black_ok(j))

    def run(self) -> tuple[dict[int, _Fix], dict[str, _Fix]]:
        """Fixes per failing rule index, and per cell with a wrong value type."""
        items: list[tuple[set[str], int | None, str | None]] = []  # (cells, rule, type cell)
        for con in self.cons:
            if not satisfied(self.residual(con), con.op):
                items.append((set(con.coef), con.rule, None))
        for j in self.black:
            if not self.black_ok(j):
                items.append((set(self.e.rules[j].cells), j, None))
        for cell in self.bad_types:
            items.append(({cell}, None, cell))
        if not items:
            return (self.cross_year([]) if self.xcons or self.xblack else {}), {}
        parent = list(range(len(items)))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        owner: dict[Any, int] = {}
        for i, (cells, rule, _) in enumerate(items):
            keys: list[tuple[str, Any]] = [("c", c) for c in cells] + ([("r", rule)] if rule is not None else [])
            for key in keys:
                if key in owner:
                    parent[find(i)] = find(owner[key])
                else:
                    owner[key] = i
        comps: dict[int, list[int]] = {}
        for i in range(len(items)):
            comps.setdefault(find(i), []).append(i)
        groups = list(comps.values())
        fixes = [self.localise([items[i][0] for i in members]) for members in groups]
        stuck = [k for k, fx in enumerate(fixes) if not fx.values and not fx.candidates]
        if len(stuck) > 1:  # cells wrong in several places at once may repair failures that share no cell
            joint = self.localise([items[i][0] for k in stuck for i in groups[k]])
            for k in stuck:
                fixes[k] = joint
        if self.xcons or self.xblack:
            fixes = [self.agree_with_last_year(fx) for fx in fixes]
        by_rule: dict[int, _Fix] = {}
        by_cell: dict[str, _Fix] = {}
        for members, fix in zip(groups, fixes):
            for i in members:
                _, rule_index, type_cell = items[i]
                if rule_index is not None:
                    by_rule[rule_index] = fix
                if type_cell is not None:
                    by_cell[type_cell] = fix
        if self.xcons or self.xblack:
            by_rule.update(self.cross_year(fixes))
        return by_rule, by_cell

    def agree_with_last_year(self, fix: _Fix) -> _Fix:
        """Of equally likely corrections, those that agree best with last year's report."""
        if len(fix.tied) < 2:
            return fix
        failing = [len(self.cross_failing(dict(zip(cells, xs)))) for cells, xs, _ in fix.tied]
        kept = [sol for sol, n in zip(fix.tied, failing) if n == min(failing)]
        return fix if len(kept) == len(fix.tied) else self.decide(kept, {})

    def cross_year(self, fixes: list[_Fix]) -> dict[int, _Fix]:
        """Fixes for the failing cross-year rules, given this year's diagnosis."""
        base: dict[str, float] = {}
        fix_of: dict[str, _Fix] = {}
        for fx in fixes:
            base.update(fx.values)
            fix_of.update(dict.fromkeys(fx.values, fx))
        out: dict[int, _Fix] = {}
        still = self.cross_failing(base)
        for j in sorted(self.cross_failing()):
            cells = self.e.rules[j].cells
            if j not in still:  # this year's corrections settle it
                named = [c for c in cells if c in fix_of]
                if named:
                    out[j] = fix_of[named[0]]
                continue
            sols: list[tuple[tuple[str, ...], tuple[float, ...], bool]] = []
            for cell in cells:
                if cell in base:
                    continue
                for x in self.cross_values(j, cell, base):
                    over = {**base, cell: x}
                    if j not in self.cross_failing(over) and self.ok_with(over):
                        sols.append(((cell,), (x,), True))
                        break
            if sols:
                out[j] = self.choose(sols)
        return out

    def cross_values(self, j: int, cell: str, base: dict[str, float]) -> list[float]:
        """Values of ``cell`` that the equalities of cross-year rule ``j`` imply."""
        out = []
        for con in self.xcons:
            if con.rule != j or con.op != "==" or cell not in con.coef:
                continue
            a = con.coef[cell]
            cur = base.get(cell, self.vals[cell])
            x = self.fit(cell, -(self.residual(con, base) - a * cur) / a)
            if x is not None and abs(x - self.vals[cell]) > TOL:
                out.append(x)
        return out

    def localise(self, cell_sets: list[set[str]]) -> _Fix:
        order = self.e.order
        common = set.intersection(*cell_sets)
        singles = []
        for cell in sorted(common, key=order.__getitem__):
            got = self.solve1(cell)
            if got is not None:
                singles.append((cell, got[0], got[1]))
        if singles:
            return self.choose([((c,), (x,), ex) for c, x, ex in singles])
        universe = sorted(set().union(*cell_sets), key=order.__getitem__)
        if len(universe) <= _MAX_PAIR_CELLS:
            pairs: list[tuple[tuple[str, ...], tuple[float, ...], bool]] = []
            for a, b in combinations(universe, 2):
                if not all(a in s or b in s for s in cell_sets):
                    continue
                both = self.solve2(a, b)
                if both is not None:
                    pairs.append(((a, b), both, True))
            if pairs:
                return self.choose(pairs)
        return self.cover(cell_sets, universe)

    def cover(self, cell_sets: list[set[str]], universe: list[str]) -> _Fix:
        """Several wrong cells: the fewest cells, each repairable on its own, that cover every failure."""
        clean: dict[str, tuple[float, bool]] = {}
        for cell in universe:
            got = self.solve1(cell)
            if got is not None and got[1]:
                clean[cell] = got
        if not clean or len(clean) > _MAX_COVER_CELLS:
            return _Fix()
        reach = {c: {i for i, s in enumerate(cell_sets) if c in s} for c in clean}
        everything = set(range(len(cell_sets)))
        for k in range(2, min(_MAX_COVER_SIZE, len(clean)) + 1):
            found = []
            for combo in combinations(clean, k):
                if set().union(*(reach[c] for c in combo)) != everything:
                    continue
                xs = tuple(clean[c][0] for c in combo)
                if self.ok_with(dict(zip(combo, xs))):
                    found.append((combo, xs, True))
            if found:
                return self.choose(found)
        return _Fix()

    def choose(self, sols: list[tuple[tuple[str, ...], tuple[float, ...], bool]]) -> _Fix:
        score = {}
        for cells, _, _ in sols:
            for c in cells:
                if c not in score:
                    score[c] = self.passing(c)
        ranked = [(sum(score[c] for c in cells), cells, xs, ex) for cells, xs, ex in sols]
        best = min(r[0] for r in ranked)
        tied = [r for r in ranked if r[0] == best]
        notes = {}
        if len(tied) > 1:
            slipped = []
            for r in tied:
                found = {c: slip_note(self.vals[c], x) for c, x in zip(r[1], r[2]) if r[3]}
                if found and all(found.values()):
                    slipped.append((r, {c: n for c, n in found.items() if n}))
            if len(slipped) == 1:
                tied, notes = [slipped[0][0]], slipped[0][1]
        return self.decide([(cells, xs, exact) for _, cells, xs, exact in tied], notes)

    def decide(self, tied: list[_Solution], notes: dict[str, str]) -> _Fix:
        """One correction named (with its typing slips), or the cells of equally likely ones."""
        if len(tied) == 1:
            cells, xs, exact = tied[0]
            if not notes and exact:
                notes = {c: n for c, x in zip(cells, xs) if (n := slip_note(self.vals[c], x))}
            return _Fix(values=dict(zip(cells, xs)), exact=exact, notes=notes)
        cands: list[tuple[str, float | None]] = []
        for cells, xs, _exact in tied:
            for c, x in zip(cells, xs):
                if c not in [k for k, _ in cands]:
                    cands.append((c, x if len(cells) == 1 else None))
        return _Fix(candidates=cands, tied=tied)


# --------------------------------------------------------------------------- engine


class _Engine:
    """A form's rules compiled for batch evaluation (built once per loaded form and kept in
    its compiled form: ``compiled(form).derive(_Engine)``)."""

    def __init__(self, form: Form):
        rs: RuleSet = compiled(form).rules
        self.form, self.rs = form, rs
        cells = form.cells
        self.cols = list(cells)
        self.order = {c: i for i, c in enumerate(self.cols)}
        self.types = {c: cells[c].type for c in self.cols}
        nc = len(self.cols)
        self.rules: list[Rule] = [r for r in rs.rules if r.kind != "type"]
        self.type_rules = {r.table: r for r in rs.rules if r.kind == "type"}
        nr = len(self.rules)
        self.prev_cols = sorted({c for r in self.rules for c in r.prev_cells} & set(cells))
        pindex = {c: i for i, c in enumerate(self.prev_cols)}
        npv = len(self.prev_cols)
        self.inc_req = np.zeros((nc, nr), np.float32)
        self.inc_opt = np.zeros((nc, nr), np.float32)
        self.inc_prev = np.zeros((npv, nr), np.float32)
        self.tables = list(form.tables)
        tindex = {t: i for i, t in enumerate(self.tables)}
        self.rule_tab = np.zeros((len(self.tables), nr), np.float32)
        for j, r in enumerate(self.rules):
            for c in r.cells:
                (self.inc_opt if cells[c].optional else self.inc_req)[self.order[c], j] = 1
                self.rule_tab[tindex[cells[c].table], j] = 1
            for c in r.prev_cells:
                self.inc_prev[pindex[c], j] = 1
        # linear rules: one coefficient matrix over [cells | last year's cells]
        a_rows, consts, ops, owner = [], [], [], []
        self.linear_parts: dict[int, list[tuple[dict, dict, float, str]]] = {}
        for j, r in enumerate(self.rules):
            if not r.linear:
                continue
            parts = []
            for con in r.constraints or ():
                vec = np.zeros(nc + npv)
                coef: dict[str, float] = {}
                pcoef: dict[str, float] = {}
                for v, x in con.coef:
                    if v.startswith("prev:"):
                        vec[nc + pindex[v[5:]]] += x
                        pcoef[v[5:]] = x
                    else:
                        vec[self.order[v]] += x
                        coef[v] = x
                a_rows.append(vec)
                consts.append(con.const)
                ops.append(con.op)
                owner.append(j)
                parts.append((coef, pcoef, con.const, con.op))
            self.linear_parts[j] = parts
        self.A = np.array(a_rows).T if a_rows else np.zeros((nc + npv, 0))
        self.b = np.array(consts)
        self.op_eq = np.array([o == "==" for o in ops])
        self.op_le = np.array([o == "<=" for o in ops])
        self.c2r = np.zeros((len(ops), nr), np.float32)
        self.c2r[np.arange(len(ops)), owner] = 1
        # other rules: numpy expressions over the columns
        self.nonlinear = []
        for j, r in enumerate(self.rules):
            if r.linear:
                continue
            fn = r.compile(vector=True)
            self.nonlinear.append((j, fn, [self.order[c] for c in r.cells], [pindex[c] for c in r.prev_cells]))
        self.unit_conds = [
            (
                j,
                re.compile(r.unit_matches) if r.unit_matches else None,
                re.compile(r.unit_excludes) if r.unit_excludes else None,
            )
            for j, r in enumerate(self.rules)
            if r.unit_matches or r.unit_excludes
        ]
        self.is_error = np.array([r.is_error for r in self.rules], bool)
        # sum rules that can derive a blank target
        self.proposers = []
        for j, r in enumerate(self.rules):
            if (
                r.is_error
                and r.target
                and r.linear
                and not r.prev_cells
                and not cells[r.target].optional
                and r.constraints is not None
                and len(r.constraints) == 1
                and r.constraints[0].op == "=="
            ):
                terms = dict(r.constraints[0].coef)
                tc = terms.pop(r.target)
                idx = [self.order[v] for v in terms]
                self.proposers.append(
                    (
                        j,
                        self.order[r.target],
                        np.array(idx, int),
                        np.array([terms[v] for v in terms]),
                        r.constraints[0].const,
                        tc,
                    )
                )
        self.table_req = {
            t: np.array([self.order[c] for c, cell in form.tables[t].cells.items() if not cell.optional], int)
            for t in self.tables
        }
        types = np.array([self.types[c] for c in self.cols])
        self.t_int, self.t_signed, self.t_dec = types == "int", types == "signed_int", types == "decimal"
        self.optional = np.array([cells[c].optional for c in self.cols], bool)
        self._this_year: dict[tuple[int, ...], _Engine._ThisYear] = {}
        self._labels: dict[tuple[str, str, bool], str] = {}  # (rule, cell, of last year) → its name in messages
        self.subtotal_of: dict[str, str] = {}  # item cell → its optional subtotal cell
        self.items_of: dict[str, list[str]] = {}  # optional subtotal cell → its item cells
        for cid, cell in cells.items():
            if cell.optional:
                table = form.tables[cell.table]
                kids = [f"{table.id}.{k}.{cell.column}" for k in table.rows[cell.row].children]
                self.items_of[cid] = [k for k in kids if k in cells]
                for k in self.items_of[cid]:
                    self.subtotal_of[k] = cid

    _ThisYear = tuple[list[_Con], list[int], dict[str, list[_Con]], dict[str, list[int]], list[int]]

    def this_year(self, judged: tuple[int, ...]) -> _ThisYear:
        """The constraints of the judged 错误 rules of this year (by cell), and the judged
        cross-year rules; made once for each set of judged rules (most units share one)."""
        got = self._this_year.get(judged)
        if got is not None:
            return got
        cons: list[_Con] = []
        black: list[int] = []
        cross: list[int] = []
        for j in judged:
            rule = self.rules[j]
            if rule.prev_cells:
                cross.append(j)
            elif rule.linear:
                cons.extend(_Con(j, coef, const, op) for coef, _, const, op in self.linear_parts[j])
            else:
                black.append(j)
        cons_of: dict[str, list[_Con]] = {}
        for con in cons:
            for v in con.coef:
                cons_of.setdefault(v, []).append(con)
        black_of: dict[str, list[int]] = {}
        for j in black:
            for c in self.rules[j].cells:
                black_of.setdefault(c, []).append(j)
        if len(self._this_year) >= 256:  # odd units judged by odd sets of rules: keep it bounded
            self._this_year.clear()
        got = self._this_year[judged] = (cons, black, cons_of, black_of, cross)
        return got

    # ------------------------------------------------------------------ batch

    def run(self, units: list[Unit], prevs: list[Unit | None]) -> None:
        n = len(units)
        M = _matrix(units, self.form)
        blank = np.isnan(M)
        P = np.full((n, len(self.prev_cols)), np.nan)
        for i, p in enumerate(prevs):
            if p is not None:
                P[i] = [_to_float(p.values.get(c)) for c in self.prev_cols]
        tblank = np.column_stack([blank[:, self.table_req[t]].all(1) for t in self.tables])
        F, proposed, source = self._propose(M, blank, tblank)
        nanF = np.isnan(F)
        nanP = np.isnan(P)
        X = np.hstack([np.where(nanF, 0.0, F), np.where(nanP, 0.0, P)])
        R = X @ self.A + self.b
        ok_c = np.where(self.op_eq, np.abs(R) <= TOL, np.where(self.op_le, R <= TOL, R < -TOL))
        ok = ((~ok_c).astype(np.float32) @ self.c2r) == 0
        with np.errstate(invalid="ignore", divide="ignore"):
            for j, fn, idx, pidx in self.nonlinear:
                res = fn([F[:, i] for i in idx], [P[:, i] for i in pidx])
                ok[:, j] = np.broadcast_to(np.asarray(res, bool), (n,))
        nf = nanF.astype(np.float32)
        missing = (nf @ self.inc_req) > 0
        applicable = ((nf @ self.inc_opt) == 0) & ((nanP.astype(np.float32) @ self.inc_prev) == 0)
        applicable &= (tblank.astype(np.float32) @ self.rule_tab) == 0
        if self.unit_conds:
            names = [_unit_name(u) or "" for u in units]
            for j, inc, exc in self.unit_conds:
                mask = np.array(
                    [(inc is None or bool(inc.search(s))) and (exc is None or not exc.search(s)) for s in names], bool
                )
                applicable[:, j] &= mask
        judged = applicable & ~missing
        fail = judged & ~ok
        cannot = applicable & missing & self.is_error
        with np.errstate(invalid="ignore"):
            whole = np.floor(M) == M
            typebad = ~blank & ((self.t_int & ((M < 0) | ~whole)) | (self.t_signed & ~whole) | (self.t_dec & (M < 0)))
        look = (
            fail.any(1)
            | cannot.any(1)
            | proposed.any(1)
            | typebad.any(1)
            | tblank.any(1)
            | (blank & ~self.optional).any(1)
        )
        for i in np.nonzero(look)[0].tolist():
            new = self._cell_findings(
                units[i],
                F[i],
                blank[i],
                P[i],
                proposed[i],
                source[i],
                judged[i],
                fail[i],
                cannot[i],
                typebad[i],
                tblank[i],
            )
            _add(units[i], new)
        text = _TextChecks(self, units, F, nanF, prevs)
        narrative = {r.id for r in self.rs.text_rules if r.kind == "narrative"}
        for i, u in enumerate(units):
            _add(u, _doubted(u, text.findings(i), narrative) + _report_findings(u))

    def _propose(self, M: np.ndarray, blank: np.ndarray, tblank: np.ndarray):
        """Fill blank targets of sum rules whose parts are all filled (the proposals)."""
        F = M.copy()
        proposed = np.zeros(M.shape, bool)
        source = np.full(M.shape, -1, np.int32)
        rows = np.nonzero((blank & ~self.optional).any(1) & ~tblank.all(1))[0]
        if not len(rows) or not self.proposers:
            return F, proposed, source
        sub = F[rows]
        for _ in range(8):
            changed = False
            nan = np.isnan(sub)
            for j, t, idx, coef, const, tc in self.proposers:
                mask = nan[:, t] & ~nan[:, idx].any(1)
                if mask.any():
                    sub[mask, t] = -(sub[np.ix_(mask, idx)] @ coef + const) / tc
                    nan[mask, t] = False
                    r = rows[mask]
                    proposed[r, t] = True
                    source[r, t] = j
                    changed = True
            if not changed:
                break
        F[rows] = sub
        return F, proposed, source

    # ------------------------------------------------------------------ one unit

    def _cell_findings(
        self,
        unit: Unit,
        f: np.ndarray,
        blank: np.ndarray,
        p: np.ndarray,
        proposed: np.ndarray,
        source: np.ndarray,
        judged: np.ndarray,
        fail: np.ndarray,
        cannot: np.ndarray,
        typebad: np.ndarray,
        tblank: np.ndarray,
    ) -> list[Finding]:
        form = self.form
        vals = dict(zip(self.cols, f.tolist()))
        prev = dict(zip(self.prev_cols, p.tolist()))
        read_cells, read_tables = self._read_reported(unit)
        out: list[Finding] = []
        for t, flag in zip(self.tables, tblank):
            if flag and t not in read_tables:
                tname = table_name(form.tables[t])
                said = [c for c in form.tables[t].cells if c in read_cells and math.isnan(vals[c])]
                if not said:
                    message = f"{tname}未填写（没有发生的事项请填 0）"
                elif all(c in read_cells for c in form.tables[t].cells if not form.cells[c].optional):
                    message = f"{tname}没有读到任何数字（各单元格的问题已另行说明；没有发生的事项请填 0）"
                else:
                    message = (
                        f"{tname}未填写（没有发生的事项请填 0）；其中 {len(said)} 个单元格没有读到数字，已另行说明"
                    )
                out.append(Finding(rule=f"{t}.blank", severity=WARNING, table=t, message=message))
        bad_types = [self.cols[k] for k in np.nonzero(typebad)[0].tolist() if self.cols[k] not in read_cells]
        failing = [j for j in np.nonzero(fail)[0].tolist() if self.is_error[j]]
        fix_rule: dict[int, _Fix] = {}
        fix_cell: dict[str, _Fix] = {}
        if failing or bad_types:
            search = _Search(
                self, vals, prev, [j for j in np.nonzero(judged)[0].tolist() if self.is_error[j]], bad_types
            )
            fix_rule, fix_cell = search.run()
        made: list[tuple[Finding, str]] = []  # with each message as it was before the diagnosis was added
        for k in np.nonzero(proposed)[0].tolist():
            proposal = self._proposal(unit, self.rules[source[k]], self.cols[k], vals, self.cols[k] in read_cells)
            made.append((proposal, proposal.message))
        for j in np.nonzero(fail)[0].tolist():
            made.append(self._failure(unit, self.rules[j], vals, prev, fix_rule.get(j)))
        for cell in bad_types:
            made.append(self._type_failure(unit, cell, vals[cell], fix_cell.get(cell)))
        out.extend(self._grouped(unit, made, vals, read_cells))
        covered = set()
        for j in np.nonzero(cannot)[0].tolist():
            rule = self.rules[j]
            blanks = [c for c in rule.cells if math.isnan(vals[c]) and not form.cells[c].optional]
            covered.update(blanks)
            parts = self._through_subtotals(rule, vals)
            if parts is not None and rule.target is not None:  # items blank under a filled subtotal: judge by it
                exp = sum(vals[c] for c in parts)
                if abs(exp - vals[rule.target]) > TOL:
                    out.append(
                        Finding(
                            rule=rule.id,
                            severity=ERROR,
                            table=rule.table,
                            message=f"{cell_name(form, rule.target)}应为 {_fmt(exp)}（{rule.parts_text}，"
                            f"按小计计算），实为 {_fmt(vals[rule.target])}",
                            cells=tuple(unit.ref(c) for c in (rule.target, *parts)),
                            cell_ids=(rule.target, *parts),
                            expected=_out(exp),
                            actual=_out(vals[rule.target]),
                        )
                    )
                continue
            # a cell the reader has already explained (a dash, an error value, …) is said there, not here
            said = [c for c in blanks if c in read_cells]
            blanks = [c for c in blanks if c not in read_cells]
            if not blanks:
                continue
            names = "、".join(cell_name(form, c) for c in blanks[:6]) + ("等" if len(blanks) > 6 else "")
            also = ""
            if said:
                also = "；" + "、".join(cell_name(form, c) for c in said[:3]) + ("等" if len(said) > 3 else "")
                also += "没有读到数字，已另行说明"
            out.append(
                Finding(
                    rule=rule.id,
                    severity=WARNING,
                    table=rule.table,
                    message=f"无法判断“{rule.description}”：{names}未填写（空白不等于 0，没有发生请填 0）{also}",
                    cells=tuple(unit.ref(c) for c in blanks),
                    cell_ids=tuple(blanks),
                )
            )
        for t, flag in zip(self.tables, tblank):
            if flag:
                continue
            left = [
                c
                for c in form.tables[t].cells
                if math.isnan(vals[c]) and not form.cells[c].optional and c not in covered and c not in read_cells
            ]
            if left:
                names = "、".join(cell_name(form, c, with_table=False) for c in left[:6])
                more = f"等 {len(left)} 个单元格" if len(left) > 6 else ""
                out.append(
                    Finding(
                        rule=f"{t}.blank_cells",
                        severity=WARNING,
                        table=t,
                        message=f"{table_name(form.tables[t])}{names}{more}未填写（空白不等于 0，没有发生请填 0）",
                        cells=tuple(unit.ref(c) for c in left),
                        cell_ids=tuple(left),
                    )
                )
        return out

    def _read_reported(self, unit: Unit) -> tuple[set[str], set[str]]:
        """Cells and tables whose blanks the reader has already explained (READ.* findings)."""
        cells: set[str] = set()
        tables: set[str] = set()
        for fd in unit.findings:
            if not fd.rule.startswith("READ."):
                continue
            cells.update(fd.cell_ids)
            if fd.rule == "READ.hybrid":
                for c in fd.cell_ids:
                    cells.update(self.items_of.get(c, ()))
            if (
                fd.rule in ("READ.missing_table", "READ.missing_column", "READ.ambiguous_table")
                and fd.table in self.form.tables
            ):
                tables.add(fd.table)
                cells.update(self.form.tables[fd.table].cells)
        return cells, tables

    def _through_subtotals(self, rule: Rule, vals: dict[str, float]) -> list[str] | None:
        """The parts of a sum rule with blank items replaced by their filled subtotal, if that fills every gap."""
        if rule.kind != "sum" or rule.target is None or math.isnan(vals[rule.target]):
            return None
        parts: list[str] = []
        for c in rule.parts:
            if not math.isnan(vals[c]):
                parts.append(c)
                continue
            sub = self.subtotal_of.get(c)
            if sub is None or math.isnan(vals[sub]) or sub == rule.target:
                return None
            if not all(k in rule.parts and math.isnan(vals[k]) for k in self.items_of[sub]):
                return None
            if sub not in parts:
                parts.append(sub)
        return parts

    def _proposal(self, unit: Unit, rule: Rule, cell: str, vals: dict[str, float], said: bool) -> Finding:
        """The value a blank cell should have; ``said``: the reader has explained why it is blank."""
        x = vals[cell]
        how = rule.parts_text or f"“{rule.description}”"
        return Finding(
            rule=rule.id,
            severity=ERROR,
            table=rule.table,
            message=f"{cell_name(self.form, cell)}{_NO_NUMBER if said else '未填写'}，按{how}应为 {_fmt(x)}",
            cells=tuple(unit.ref(c) for c in rule.cells),
            cell_ids=rule.cells,
            expected=_out(x, self.types[cell]),
            actual=None,
            suspect=cell,
            suggestion=_out(x, self.types[cell]),
            proposal=True,
        )

    def _type_failure(self, unit: Unit, cell: str, x: float, fix: _Fix | None) -> tuple[Finding, str]:
        typ = self.types[cell]
        want = {"int": "非负整数", "signed_int": "整数", "decimal": "非负数"}[typ]
        rule = self.type_rules[self.form.cells[cell].table]
        f = Finding(
            rule=rule.id,
            severity=ERROR,
            table=rule.table,
            message=f"{cell_name(self.form, cell)}应为{want}，实为 {_fmt(x)}",
            cells=(unit.ref(cell),),
            cell_ids=(cell,),
            actual=_out(x, typ),
            suspect=cell,
        )
        base = f.message
        if fix is not None and cell in fix.values:
            f.suggestion = _out(fix.values[cell], typ)
            f.message += f"；按其他各项推算应为 {_fmt(fix.values[cell])}"
        return f, base

    def _failure(
        self, unit: Unit, rule: Rule, vals: dict[str, float], prev: dict[str, float], fix: _Fix | None
    ) -> tuple[Finding, str]:
        form = self.form
        cells = list(rule.cells)
        expected = actual = None
        about = None  # the cell the message is about
        if rule.kind == "sum" and rule.target is not None:
            exp = sum(vals[c] for c in rule.parts)
            expected, actual, about = exp, vals[rule.target], rule.target
            msg = f"{cell_name(form, rule.target)}应为 {_fmt(exp)}（{rule.parts_text}），实为 {_fmt(actual)}"
        elif rule.kind == "subset":
            parent = cells[0]
            over = [c for c in rule.parts if vals[c] > vals[parent] + TOL]
            msg = "；".join(
                f"{cell_name(form, c)}为 {_fmt(vals[c])}，大于"
                f"{cell_name(form, parent, with_table=False)}（{_fmt(vals[parent])}）"
                for c in over
            )
            msg += "；“其中”项不应大于总数"
            expected, actual, about = vals[parent], vals[over[0]], over[0]
        elif rule.kind == "dedup":
            total = cells[0]
            t = vals[total]
            over = [c for c in rule.parts if vals[c] > t + TOL]
            s = sum(vals[c] for c in rule.parts)
            bits = [
                f"{cell_name(form, c)}为 {_fmt(vals[c])}，大于{cell_name(form, total, with_table=False)}（{_fmt(t)}）"
                for c in over
            ]
            if over:
                bits.append("后者按不同方式去重计数，应不小于其中任何一项")
                expected, actual = max(vals[c] for c in over), t
            if t > s + TOL:
                bits.append(
                    f"{cell_name(form, total)}为 {_fmt(t)}，大于各项之和 {_fmt(s)}；去重计数的总数不应大于各项之和"
                )
                expected, actual = s, t
            msg = "；".join(bits)
            about = total
        else:
            msg, expected, actual = self._expr_message(rule, vals, prev)
        f = Finding(
            rule=rule.id,
            severity=rule.severity,
            message=msg,
            table=rule.table,
            cells=tuple(unit.ref(c) for c in cells),
            cell_ids=tuple(cells),
            expected=_out(expected) if expected is not None else None,
            actual=_out(actual) if actual is not None else None,
        )
        if rule.is_error and fix is not None:
            self._attach(f, rule, fix, vals, about)
        return f, msg

    def _grouped(
        self, unit: Unit, made: list[tuple[Finding, str]], vals: dict[str, float], said: set[str]
    ) -> list[Finding]:
        """The findings with those of one suspect cell (and one suggested value) folded into one:
        one wrong cell is one error, however many rules it breaks. The folded finding leads with
        the cell and its correction, then states every broken rule; ``grouped`` keeps each finding."""
        by_cell: dict[tuple[str, Any], list[int]] = {}
        for k, (f, _) in enumerate(made):
            if f.suspect and f.severity == ERROR:
                by_cell.setdefault((f.suspect, f.suggestion), []).append(k)
        if all(len(ks) < 2 for ks in by_cell.values()):
            return [f for f, _ in made]
        first = {ks[0]: ks for ks in by_cell.values() if len(ks) > 1}
        folded = {k for ks in first.values() for k in ks}
        out: list[Finding] = []
        for k, (f, _) in enumerate(made):
            if k in first:
                out.append(self._fold(unit, [made[i] for i in first[k]], vals, said))
            elif k not in folded:
                out.append(f)
        return out

    def _fold(self, unit: Unit, members: list[tuple[Finding, str]], vals: dict[str, float], said: set[str]) -> Finding:
        form = self.form
        head = members[0][0]
        cell = head.suspect
        assert cell is not None
        typ = self.types[cell]
        name = cell_name(form, cell)
        note = next((f.note for f, _ in members if f.note), None)
        if head.proposal:
            lead = f"{name}{_NO_NUMBER if cell in said else '未填写'}，应为 {format_number(head.suggestion)}"
        elif head.suggestion is None or (note and not note.startswith("疑似")):  # no value, or only the nearest
            lead = f"最可能填错的是{name}（实为 {_fmt(vals[cell])}）"
        else:
            lead = f"{name}应为 {format_number(head.suggestion)}（实为 {_fmt(vals[cell])}）"
        if note:
            lead += f"，{note}"
        rules = "；".join(f"（{i}）{base}" for i, (_, base) in enumerate(members, 1))
        ids = tuple(dict.fromkeys([cell, *(c for f, _ in members for c in f.cell_ids)]))
        return Finding(
            rule=head.rule,
            severity=ERROR,
            message=f"{lead}。这一格使 {len(members)} 条规则不成立：{rules}",
            table=form.cells[cell].table,
            cells=tuple(unit.ref(c) for c in ids),
            cell_ids=ids,
            expected=head.suggestion,
            actual=None if head.proposal else _out(vals[cell], typ),
            suspect=cell,
            suggestion=head.suggestion,
            note=note,
            proposal=head.proposal,
            grouped=tuple(f for f, _ in members),
        )

    def _attach(self, f: Finding, rule: Rule, fix: _Fix, vals: dict[str, float], about: str | None) -> None:
        form = self.form
        named = [c for c in rule.cells if c in fix.values]
        if named:
            c = named[0]
            x = fix.values[c]
            f.suspect, f.suggestion = c, _out(x, self.types[c])
            f.note = fix.notes.get(c)
            if not fix.exact:
                f.note = f"能使各项错误级规则成立的最接近的值为 {_fmt(x)}"
            if named != [about]:
                more = "；".join(
                    f"{cell_name(form, k)}应为 {_fmt(fix.values[k])}（实为 {_fmt(vals[k])}）"
                    + (f"，{fix.notes[k]}" if k in fix.notes else "")
                    for k in named
                )
                f.message += f"。最可能填错的是：{more}"
            elif f.note:
                f.message += f"（{f.note}）"
            return
        cands = [(c, x) for c, x in fix.candidates if c in rule.cells]
        if cands:
            f.candidates = tuple(c for c, _ in cands)
            f.note = "无法确定是哪一格填错，可能是：" + "、".join(
                cell_name(form, c) + (f"（应为 {_fmt(x)}）" if x is not None else "") for c, x in cands
            )
        elif not fix.values and not fix.candidates:
            # no one cell repairs the failures this one is tied to: its 应为 is no correction to copy
            f.note = TANGLED_NOTE + (TANGLED_EXPECTED if "应为" in f.message else "；请逐格核对后再改")

    def _expr_message(self, rule: Rule, vals: dict[str, float], prev: dict[str, float]):
        form = self.form
        tname = table_name(form.tables[rule.table]) if rule.table else ""
        node = rule.expr
        assert node is not None

        def label(n: Ref) -> str:
            key = (rule.id, n.cell, n.prev)
            name = self._labels.get(key)
            if name is None:
                name = self._labels[key] = make_label(n)
            return name

        def make_label(n: Ref) -> str:
            cell = form.cell(n.cell)
            table = form.tables[cell.table]
            if rule.where and rule.where.endswith("列") and cell.table == rule.table:
                name = f"“{row_name(table, cell.row)}”"
            elif rule.where and cell.table == rule.table and len(table.value_columns()) > 1:
                name = f"“{column_name(table, cell.column)}”"
            else:
                name = cell_name(form, n.cell, with_table=cell.table != rule.table)
            return f"上年报告的{name}" if n.prev else name

        def side(n: Expr) -> str:
            terms = n.sum_terms()
            if terms is not None and len(terms) > 1:
                return joined([label(t) for t in terms])
            return n.render(label)

        where = rule.where or ""
        head = f"{tname}{where}：" if where else (f"{tname}：" if tname else "")
        cond = ""
        if rule.when is not None:
            wcells, wprev = rule.when.refs()
            shown = [f"{label(Ref(c))}为 {_fmt(vals[c])}" for c in wcells]
            shown += [f"{label(Ref(c, prev=True))}为 {_fmt(prev.get(c))}" for c in wprev]
            cond = f"（{'，'.join(shown)}）"
        if isinstance(node, Cmp) and node.a.affine() is not None and node.b.affine() is not None:
            lv, rv = node.a.value(vals, prev), node.b.value(vals, prev)
            if rule.message:
                text = rule.message.format(where=where, lhs=_fmt(lv), rhs=_fmt(rv), diff=_fmt(lv - rv))
                return text + cond, rv, lv
            right = f"{side(node.b)}（{_fmt(rv)}）" if not isinstance(node.b, Num) else f" {_fmt(rv)}"
            return f"{head}{side(node.a)}为 {_fmt(lv)}，{_REL[node.op]}{right}{cond}", rv, lv
        if isinstance(node, Cmp):
            lv, rv = node.a.value(vals, prev), node.b.value(vals, prev)
            if rule.message:
                return rule.message.format(where=where, lhs=_fmt(lv), rhs=_fmt(rv), diff=_fmt(lv - rv)), None, None
        values_shown = "，".join(f"{label(Ref(c))}为 {_fmt(vals[c])}" for c in rule.cells)
        values_shown += "".join(f"，{label(Ref(c, prev=True))}为 {_fmt(prev.get(c))}" for c in rule.prev_cells)
        text = (
            rule.message.format(where=where, lhs="", rhs="", diff="")
            if rule.message
            else f"{head}不符合“{rule.description}”"
        )
        return f"{text}（{values_shown}）", None, None


def _add(unit: Unit, findings: list[Finding]) -> None:
    seen = {(f.rule, f.cell_ids, f.message) for f in unit.findings}
    for f in findings:
        key = (f.rule, f.cell_ids, f.message)
        if key not in seen:
            _locate(unit, f)
            unit.findings.append(f)
            seen.add(key)


def _locate(unit: Unit, f: Finding) -> None:
    """The suspect's and the candidates' sheet + A1 references, beside their cell ids."""
    if f.suspect:
        f.suspect_cell = unit.ref(f.suspect)
    if f.candidates:
        f.candidate_cells = tuple(unit.ref(c) for c in f.candidates)
    for g in f.grouped:
        _locate(unit, g)


# --------------------------------------------------------------------------- narrative

_WS = re.compile(r"\s+")
_STOPS = "。；！？"
_HAN = re.compile(r"[\u4e00-\u9fff]")


def _flat(text: str | None) -> str:
    return _WS.sub("", text or "")


def _sentence(text: str, start: int, end: int) -> str:
    a = max(text.rfind(ch, 0, start) for ch in _STOPS) + 1
    ends = [i for i in (text.find(ch, end) for ch in _STOPS) if i >= 0]
    b = min(ends) + 1 if ends else len(text)
    s = text[a:b]
    if len(s) > 80:
        lo = max(start - a - 30, 0)
        s = ("…" if lo else "") + s[lo : lo + 80] + "…"
    return s


def _paragraphs(text: str) -> list[str]:
    """The paragraphs of a section's text: its non-blank lines (as the Word report and the
    checked workbook's 基本信息 show them)."""
    return [p for p in text.split("\n") if p.strip()] or [""]


def _paragraph_at(text: str, pos: int) -> tuple[int, int]:
    """Which paragraph of ``text`` holds position ``pos`` of its ``_flat`` form, and how many there are."""
    paragraphs = _paragraphs(text)
    end = 0
    for k, p in enumerate(paragraphs):
        end += len(_flat(p))
        if pos < end:
            return k, len(paragraphs)
    return len(paragraphs) - 1, len(paragraphs)


def _paragraph_loc(unit: Unit, section: str, k: int) -> tuple[str, ...]:
    """The sheet!A1 reference of a section's paragraph (its own cell on a pasted web page; the
    section's cell when the whole text is in one)."""
    locs = unit.paragraph_locations.get(section)
    if locs and len(locs) == len(_paragraphs(unit.narrative.get(section) or "")) and 0 <= k < len(locs):
        return (f"{locs[k][0]}!{locs[k][1]}",)
    return _section_loc(unit, section)


def _doubted(unit: Unit, found: list[Finding], narrative: set[str]) -> list[Finding]:
    """Text findings that hold the text against a table figure an error of the same unit doubts:
    they say so, so that nobody changes the text to a number the table has wrong."""
    wrong: dict[str, Any] = {}  # cell → the value that would make the error rules hold (or None)
    for f in unit.findings:
        if f.severity == ERROR:
            if f.suspect:
                wrong[f.suspect] = f.suggestion if not f.proposal else None
            else:
                for c in f.cell_ids:
                    wrong.setdefault(c, None)
    if not wrong:
        return found
    out = []
    for f in found:
        doubted = [c for c in f.cell_ids if c in wrong] if f.rule in narrative else []
        if doubted:
            fix = wrong[doubted[0]]
            how = f"（最可能应为 {_fmt(fix)}）" if fix is not None else ""
            f = replace(
                f,
                message=f"{f.message}；但表中的这个数字本身有错误{how}，见本表的错误：请先改正表格，再按改正后的数字核对文字，"
                "不要照表中现在的数字修改文字",
            )
        out.append(f)
    return out


class _TextChecks:
    """Narrative and text rules for a batch (table values computed once, vectorised)."""

    def __init__(self, engine: _Engine, units: list[Unit], F: np.ndarray, nanF: np.ndarray, prevs: list[Unit | None]):
        self.e = engine
        self.units = units
        self.prevs = prevs
        self.values: dict[tuple[str, int], np.ndarray] = {}
        self.when: dict[str, np.ndarray] = {}
        n = len(units)
        has_text = np.array([any(t and t.strip() for t in u.narrative.values()) for u in units], bool)
        self.has_text = has_text
        order = engine.order
        for rule in engine.rs.text_rules:
            if rule.kind == "narrative" and has_text.any():
                for k, tree in enumerate(rule.equals):
                    aff = tree.affine()
                    assert aff is not None  # equals are linear (checked when the form is loaded)
                    const = aff.pop("", 0.0)
                    idx = [order[c] for c in aff]
                    coef = np.array([aff[c] for c in aff])
                    vals = F[:, idx] @ coef + const if idx else np.full(n, const)
                    if idx:
                        vals[nanF[:, idx].any(1)] = np.nan
                    self.values[(rule.id, k)] = vals
            if rule.kind == "mention" and rule.when is not None:
                fn = rule.when.compile({(False, c): i for i, c in enumerate(rule.when_cells)}, vector=True)
                with np.errstate(invalid="ignore"):
                    res = np.broadcast_to(np.asarray(fn([F[:, order[c]] for c in rule.when_cells], []), bool), (n,))
                res = res & ~nanF[:, [order[c] for c in rule.when_cells]].any(1)
                self.when[rule.id] = res

    def _flat(self, unit: Unit, section: str) -> str:
        key = (id(unit), section)
        text = self._flat_cache.get(key)
        if text is None:
            text = self._flat_cache[key] = _flat(unit.narrative.get(section))
        return text

    def findings(self, i: int) -> list[Finding]:
        unit = self.units[i]
        self._flat_cache: dict[tuple[int, str], str] = {}
        out: list[Finding] = []
        for rule in self.e.rs.text_rules:
            if rule.kind == "narrative":
                if self.has_text[i]:
                    out.extend(self._narrative(rule, i, unit))
            elif rule.kind == "mention":
                out.extend(self._mention(rule, i, unit))
            elif rule.kind == "length":
                out.extend(self._length(rule, unit))
            elif rule.kind == "repeat":
                last = self.prevs[i]
                if last is not None:
                    out.extend(self._repeat(rule, unit, last))
        return out

    def _sections(self, rule: TextRule, unit: Unit) -> list[str]:
        ids = rule.sections or [s.id for s in self.e.form.sections if s.kind == "text"]
        return [s for s in ids if unit.narrative.get(s)]

    def _heading(self, section: str) -> str:
        return _heading_of(self.e.form, section)

    def _narrative(self, rule: TextRule, i: int, unit: Unit) -> list[Finding]:
        form = self.e.form
        out: list[Finding] = []
        expected = [self.values[(rule.id, k)][i] for k in range(len(rule.equals))]
        if any(math.isnan(x) for x in expected):
            return out
        first = rule.equals_cells[0]
        pat = re.compile(rule.pattern or "")
        zero = re.compile(rule.zero) if rule.zero else None
        for section in self._sections(rule, unit):
            text = self._flat(unit, section)
            hits = [(m, float((m.group(1) or "").replace(",", ""))) for m in pat.finditer(text)]
            if zero is not None:
                hits += [(m, 0.0) for m in zero.finditer(text)]
            for m, n in hits:
                if any(abs(n - x) <= TOL for x in expected):
                    continue
                terms = rule.equals[0].sum_terms()
                if terms is not None:
                    what = joined([cell_name(form, t.cell, with_table=k == 0) for k, t in enumerate(terms)])
                else:
                    what = rule.description
                sentence = _sentence(text, m.start(), m.end())
                cells = tuple(c for cs in rule.equals_cells for c in cs)
                at = m.start(1) if m.lastindex and m.start(1) >= 0 else m.start()  # the number, else the phrase
                k, count = _paragraph_at(unit.narrative.get(section) or "", at)
                which = f"第 {k + 1} 段" if count > 1 else ""
                out.append(
                    Finding(
                        rule=rule.id,
                        severity=rule.severity,
                        table=form.cell(first[0]).table,
                        message=f"“{self._heading(section)}”{which}中“{sentence}”所说的 {_fmt(n)} 与表中不一致："
                        f"{what}为 {_fmt(expected[0])}",
                        cells=_paragraph_loc(unit, section, k) + tuple(unit.ref(c) for c in cells),
                        cell_ids=cells,
                        expected=_out(expected[0]),
                        actual=_out(n),
                        note=sentence,
                        paragraph=(section, k),
                    )
                )
        return out

    def _mention(self, rule: TextRule, i: int, unit: Unit) -> list[Finding]:
        if rule.when is not None and not self.when[rule.id][i]:
            return []
        filled = unit.meta.get(rule.unless_field) if rule.unless_field else None
        if filled is not None and str(filled).strip():
            return []
        text = "".join(self._flat(unit, s) for s in rule.sections)
        if any(m in text for m in rule.mentions):
            return []
        loc = _section_loc(unit, rule.sections[0])
        return [
            Finding(
                rule=rule.id,
                severity=rule.severity,
                message=rule.message or rule.description,
                table=rule.table,
                cells=loc,
            )
        ]

    def _length(self, rule: TextRule, unit: Unit) -> list[Finding]:
        out = []
        limit = rule.max_chars or 0
        for s in rule.sections:
            n = len(_HAN.findall(unit.narrative.get(s) or ""))
            if n > limit:
                out.append(
                    Finding(
                        rule=rule.id,
                        severity=rule.severity,
                        cells=_section_loc(unit, s),
                        message=f"“{self._heading(s)}”约 {n} 字，超过 {rule.max_chars} 字（{rule.description}）",
                        expected=rule.max_chars,
                        actual=n,
                    )
                )
        return out

    def _repeat(self, rule: TextRule, unit: Unit, prev: Unit) -> list[Finding]:
        out = []
        threshold = rule.threshold if rule.threshold is not None else 1.0
        for s in rule.sections:
            a, b = _flat(unit.narrative.get(s)), _flat(prev.narrative.get(s))
            if len(a) < 20 or len(b) < 20:
                continue
            sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
            if sm.real_quick_ratio() < threshold or sm.quick_ratio() < threshold:
                continue
            ratio = sm.ratio()
            if ratio >= threshold:
                out.append(
                    Finding(
                        rule=rule.id,
                        severity=rule.severity,
                        cells=_section_loc(unit, s),
                        message=f"“{self._heading(s)}”与上年报告的同一部分 {round(ratio * 100)}% 相同，"
                        f"应实事求是写明本年的问题和改进举措，避免年年雷同",
                        expected=None,
                        actual=round(ratio, 3),
                    )
                )
        return out


# --------------------------------------------------------------------------- report level

_GOV_RE = re.compile(r"人民政府(办公厅|办公室)?$")
_PERIOD_RE = re.compile(r"(\d{4})年1月1日[^。；]{0,6}?(\d{4})年12月31日")
_YEAR_IN_TITLE = re.compile(r"(\d{4})年")
_OPENING_YEAR = re.compile(r"((?:19|20)\d{2})\s*年度?[，,、]")
# the text says no fee was charged; or names the amount (元) it was
_NO_FEE = re.compile(
    r"(?:未|没有|无|不)(?:向申请人)?(?:收取|收)(?:过|任何)?(?:政府)?信息(?:公开)?处理费|信息处理费[^。；，\d]{0,4}(?:为)?\s*(?:0|零)\s*元"
)
_FEE_AMOUNT = re.compile(r"信息(?:公开)?处理费[^。；，\d]{0,12}?(\d[\d,]*(?:\.\d+)?)\s*元")


def _heading_of(form: Form, section: str) -> str:
    return next((s.heading for s in form.sections if s.id == section), section)


def _fee_findings(unit: Unit) -> list[Finding]:
    """The text against the 信息处理费 of 基本信息: “未收取信息处理费” with an amount charged, or
    another amount than the one given (the report prints the text, not a sentence of its own)."""
    field = next((f for f in unit.form.metadata if f.id == "processing_fee"), None)
    fee = unit.meta.get("processing_fee") if field is not None else None
    if field is None or fee is None or isinstance(fee, str):
        return []
    out = []
    for section, text in unit.narrative.items():
        flat = _flat(text)
        said = [(m, 0.0) for m in _NO_FEE.finditer(flat)]
        said += [(m, float(m.group(1).replace(",", ""))) for m in _FEE_AMOUNT.finditer(flat)]
        for m, n in said:
            if abs(n - float(fee)) <= TOL:
                continue
            k, count = _paragraph_at(unit.narrative.get(section) or "", m.start())
            out.append(
                Finding(
                    rule="A8.fee",
                    severity=WARNING,
                    cells=_paragraph_loc(unit, section, k) + _meta_loc(unit, "processing_fee"),
                    message=f"“{_heading_of(unit.form, section)}”{f'第 {k + 1} 段' if count > 1 else ''}中“{_sentence(flat, m.start(), m.end())}”"
                    f"与“基本信息”中的{re.sub(r'[（(][^）)]*[）)]$', '', field.label)}（{_fmt(float(fee))} 元）不一致；"
                    "报告照印这段文字，请核实后改正其中一处",
                    expected=_out(float(fee)),
                    actual=_out(n),
                    paragraph=(section, k),
                )
            )
    return out


def _where(locations: dict[str, tuple[str, str]], key: str) -> tuple[str, ...]:
    """The sheet!A1 reference of a metadata field or a narrative section, if known."""
    loc = locations.get(key)
    return (f"{loc[0]}!{loc[1]}",) if loc else ()


def _meta_loc(unit: Unit, field_id: str) -> tuple[str, ...]:
    return _where(unit.meta_locations, field_id)


def _section_loc(unit: Unit, section: str) -> tuple[str, ...]:
    return _where(unit.narrative_locations, section)


def _report_findings(unit: Unit) -> list[Finding]:
    form = unit.form
    out: list[Finding] = []
    read_meta = " ".join(f.message for f in unit.findings if f.rule == "READ.meta")
    name = _unit_name(unit)
    if not name and "单位名称" not in read_meta:
        out.append(Finding(rule="META.unit", severity=ERROR, message="没有填写单位名称", cells=_meta_loc(unit, "unit")))
    year = _unit_year(unit)
    if year is None:
        if "年度" not in read_meta:
            out.append(
                Finding(rule="META.year", severity=ERROR, message="没有填写报告年度", cells=_meta_loc(unit, "year"))
            )
        return out
    out.extend(_year_findings(unit, year))
    out.extend(_date_findings(unit, year, name or ""))
    out.extend(_fee_findings(unit))
    if not form.applies_to(year):
        first, last = form.years
        span = f"{first or ''}—{last or ''}年度"
        better = _form_for(year, form.id)
        advice = f"，{year}年度应使用{better}" if better else ""
        out.append(
            Finding(
                rule="B8",
                severity=WARNING,
                message=f"本报告为 {year} 年度，但使用的是{form.short_name}（适用于{span}）{advice}",
            )
        )
    missing = [s for s in form.sections if s.kind == "text" and s.required and not _flat(unit.narrative.get(s.id))]
    if missing:
        out.append(
            Finding(rule="D1", severity=WARNING, message="缺少以下部分的文字：" + "、".join(s.heading for s in missing))
        )
    out.extend(_decimal_findings(unit))
    return out


def _form_for(year: int, not_id: str) -> str | None:
    """Short name of the form that applies to a year (other than the one used)."""
    found = next((f for f in load_forms().values() if f.applies_to(year) and f.id != not_id), None)
    return found.short_name if found else None


def _year_findings(unit: Unit, year: int) -> list[Finding]:
    out = []
    meta_year = unit.meta.get("year")
    if unit.year is not None and meta_year not in (None, "") and str(meta_year).strip().rstrip("年") != str(unit.year):
        out.append(
            Finding(
                rule="D5",
                severity=WARNING,
                cells=_meta_loc(unit, "year"),
                message=f"报告年度不一致：表中填写为 {meta_year}，标题为 {unit.year} 年",
                expected=unit.year,
                actual=meta_year,
            )
        )
    title = unit.meta.get("title")
    if title:
        years = {int(y) for y in _YEAR_IN_TITLE.findall(_flat(str(title)))}
        if years and year not in years:
            out.append(
                Finding(
                    rule="D5",
                    severity=WARNING,
                    cells=_meta_loc(unit, "title"),
                    message=f"标题中的年度（{'、'.join(map(str, sorted(years)))}）与数据年度 {year} 不一致",
                    expected=year,
                    actual=min(years),
                )
            )
    # the year's work told as another year's (a paragraph of 总体情况 opening with last year: text
    # copied from last year's report; a later year opens the plans of 五, and is not looked at)
    paragraphs = _paragraphs(unit.narrative.get("overview") or "")
    for k, para in enumerate(paragraphs):
        m = _OPENING_YEAR.match(para.strip())
        if m and int(m.group(1)) < year:
            count = len(paragraphs)
            out.append(
                Finding(
                    rule="D5",
                    severity=WARNING,
                    cells=_paragraph_loc(unit, "overview", k),
                    message=f"“{_heading_of(unit.form, 'overview')}”{f'第 {k + 1} 段' if count > 1 else ''}以“{m.group(0)}”开头，"
                    f"与报告年度 {year} 不一致；可能沿用了上年报告的文字，请核实",
                    expected=year,
                    actual=int(m.group(1)),
                    paragraph=("overview", k),
                )
            )
    for section, text in unit.narrative.items():
        for m in _PERIOD_RE.finditer(_flat(text)):
            a, b = int(m.group(1)), int(m.group(2))
            if a != year or b != year:
                out.append(
                    Finding(
                        rule="D5",
                        severity=WARNING,
                        cells=_section_loc(unit, section),
                        message=f"文中统计时限“{m.group(0)}”与报告年度 {year} 不一致",
                        expected=year,
                        actual=a if a != year else b,
                    )
                )
    return out


def _date_findings(unit: Unit, year: int, name: str) -> list[Finding]:
    out = []
    form = unit.form
    end = date(year, 12, 31)
    written = parse_date(unit.meta.get("date_written"))
    filled = parse_date(unit.meta.get("date_filled"))
    if written is not None:
        if written <= end:
            f = Finding(
                rule="D7",
                severity=ERROR,
                cells=_meta_loc(unit, "date_written"),
                message=f"成文日期 {format_date(written)} 早于统计年度结束（{format_date(end)}），"
                f"年度报告只能在统计年度结束后成文",
                expected=f"晚于{format_date(end)}",
                actual=written,
            )
            try:
                fixed = written.replace(year=year + 1)
            except ValueError:  # 2月29日
                fixed = None
            if fixed is not None and written.year == year and (filled is None or abs((fixed - filled).days) <= 180):
                f.suggestion = fixed
                f.note = f"疑似年份笔误：{format_date(written)} → {format_date(fixed)}"
                f.message += f"；{f.note}"
                if filled is not None:
                    f.message += f"（填报日期为 {format_date(filled)}）"
            out.append(f)
        else:
            gov = bool(_GOV_RE.search(name))
            mmdd = "03-31" if gov else (form.deadline or "03-31")
            month, day = (int(x) for x in mmdd.split("-"))
            deadline = date(year + 1, month, day)
            if written > deadline:
                who = "本级政府年度报告" if gov else "部门年度报告"
                out.append(
                    Finding(
                        rule="D6",
                        severity=WARNING,
                        cells=_meta_loc(unit, "date_written"),
                        message=f"成文日期 {format_date(written)} 晚于{who}的公布期限 {format_date(deadline)}",
                        expected=deadline,
                        actual=written,
                    )
                )
    if filled is not None:
        problem = None
        if filled <= end:
            problem = f"早于统计年度结束（{format_date(end)}）"
        elif filled > date(year + 1, 12, 31):
            problem = "比统计年度晚了一年以上"
        elif filled > date.today():
            problem = "晚于今天"
        if problem:
            out.append(
                Finding(
                    rule="META.date_filled",
                    severity=WARNING,
                    cells=_meta_loc(unit, "date_filled"),
                    message=f"填报日期 {format_date(filled)} {problem}，请核实",
                    actual=filled,
                )
            )
    return out


def _decimal_findings(unit: Unit) -> list[Finding]:
    form = unit.form
    out = []
    for cid in compiled(form).decimal_cells:
        v = unit.values.get(cid)
        if isinstance(v, Decimal) and v.is_finite() and int(v.as_tuple().exponent) < -6:
            cell = form.cells[cid]
            out.append(
                Finding(
                    rule="B6.precision",
                    severity=WARNING,
                    table=cell.table,
                    message=f"{cell_name(form, cid)}为 {v}，小数位数过多（单位是{cell.unit}），请核实",
                    cells=(unit.ref(cid),),
                    cell_ids=(cid,),
                    actual=v,
                )
            )
    return out
