"""Time the check engine on N random 2021-form units (not collected by pytest).

    python tests/benchmarks/bench_checks.py [N] [share of units with one changed cell]

Units are random tables that satisfy every 错误 rule; the given share gets one
table 三 cell changed, so that the suspect search runs for them too. First prints how
long building and linting each form's rule set takes (done once per form when it loads).
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
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    broken = float(sys.argv[2]) if len(sys.argv) > 2 else 0.05
    batch = units(n, broken)
    check_units(units(5, 0.0, seed=1))  # build the rule set and the compiled engine once
    t = time.perf_counter()
    check_units(batch)
    dt = time.perf_counter() - t
    errors = sum(1 for u in batch if u.errors)
    print(
        f"checked {n} units of the 2021 form in {dt:.3f} s ({dt / n * 1e6:.0f} µs per unit); "
        f"{errors} with errors ({broken:.0%} had one changed cell)"
    )


if __name__ == "__main__":
    main()
