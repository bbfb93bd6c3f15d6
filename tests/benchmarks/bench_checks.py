"""Time the check engine on N random 2021-form units (not collected by pytest).

    python tests/benchmarks/bench_checks.py [N] [share of units with one changed cell] [--previous]

Units are random tables that satisfy every 错误 rule; the given share gets one
table 三 cell changed, so that the suspect search runs for them too. First prints how
long building and linting each form's rule set takes (done once per form when it loads).
With ``--previous`` each unit is checked against a report of the year before whose
结转下年度 is this year's 上年结转, except for the same share, whose last year's report
disagrees in one column (the cross-year rules then fail beside the changed cell).
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

from gkreport.checks import check_units
from gkreport.model import Unit
from gkreport.spec import consistent_values, load_form
from gkreport.spec.lint import lint
from gkreport.spec.rules import build_rules

CHANGED: dict[str, tuple[str, int]] = {}  # unit name → (changed cell, its value before the change)


def units(n: int, broken: float, seed: int = 0) -> list[Unit]:
    form = load_form("2021")
    rng = random.Random(seed)
    t3 = [c for c in form.tables["t3"].cells if not form.cells[c].optional]
    out = []
    for i in range(n):
        values = {
            c: int(x) if form.cells[c].type != "decimal" else x
            for c, x in consistent_values(form, seed * 100_000 + i).items()
        }
        if rng.random() < broken:
            cell = rng.choice(t3)
            CHANGED[f"测试单位{i:05d}"] = (cell, values[cell])
            values[cell] += rng.randint(1, 9)
        name = f"测试单位{i:05d}"
        out.append(
            Unit(
                file=Path(f"{name}.xlsx"),
                form=form,
                unit=name,
                year=2024,
                values=values,
                meta={"unit": name, "year": 2024},
            )
        )
    return out


def last_year(batch: list[Unit], broken: float, seed: int = 0) -> dict[tuple[str, int], Unit]:
    """Reports of the year before, each consistent in itself: their 结转下年度 is this year's
    上年结转 as it was before any change (for the ``broken`` share one column and the total
    disagree by 1–3)."""
    rng = random.Random(seed + 7)
    cols = [c.split(".")[-1] for c in batch[0].form.tables["t3"].cells if c.startswith("t3.carry.")]
    out = {}
    for u, last in zip(batch, units(len(batch), 0.0, seed=seed + 1)):
        values = dict(last.values)
        carry = {col: u.values[f"t3.carry.{col}"] for col in cols}
        cell, before = CHANGED.get(u.unit or "", ("", 0))
        if cell.startswith("t3.carry."):  # last year's report has the value before this year's change
            carry[cell.split(".")[-1]] = before
        if rng.random() < broken:
            delta = rng.randint(1, 3)
            carry[rng.choice(cols[:-1])] += delta
            carry[cols[-1]] += delta
        for col in cols:  # 结转下年度 = this year's 上年结转; 本年新收 absorbs the difference
            values[f"t3.new.{col}"] += carry[col] - values[f"t3.next.{col}"]
            values[f"t3.next.{col}"] = carry[col]
        name = u.unit or ""
        out[(name, 2023)] = Unit(
            file=Path(f"{name}2023.xlsx"),
            form=u.form,
            unit=name,
            year=2023,
            values=values,
            meta={"unit": name, "year": 2023},
        )
    return out


def lint_times() -> None:
    for form_id in ("2017", "2019", "2021"):
        form = load_form(form_id)
        best = float("inf")
        for _ in range(5):
            t = time.perf_counter()
            lint(form, build_rules(form))
            best = min(best, time.perf_counter() - t)
        print(f"rules of form {form_id}: built and linted in {best * 1000:.1f} ms")


def main() -> None:
    lint_times()
    args = [a for a in sys.argv[1:] if a != "--previous"]
    with_previous = "--previous" in sys.argv[1:]
    n = int(args[0]) if args else 2000
    broken = float(args[1]) if len(args) > 1 else 0.05
    CHANGED.clear()
    batch = units(n, broken)
    changed = dict(CHANGED)
    previous = last_year(batch, broken) if with_previous else None
    check_units(units(5, 0.0, seed=1))  # build the rule set and the compiled engine once
    t, cpu = time.perf_counter(), time.process_time()
    check_units(batch, previous)
    dt, cpu = time.perf_counter() - t, time.process_time() - cpu
    errors = sum(1 for u in batch if u.errors)
    findings = sum(len(u.errors) for u in batch)
    print(
        f"checked {n} units of the 2021 form{' with last year’s reports' if with_previous else ''} in {dt:.3f} s "
        f"({dt / n * 1e6:.0f} µs per unit, CPU {cpu:.3f} s); {errors} with errors, {findings} errors in all "
        f"({broken:.0%} had one changed cell)"
    )
    found = sum(
        any(f.suspect == changed[u.unit][0] and f.suggestion == changed[u.unit][1] for f in u.errors)
        for u in batch
        if u.unit in changed
    )
    print(f"changed cells named with their value before the change: {found} of {len(changed)}")


if __name__ == "__main__":
    main()
