"""Read and check a set of workbooks: the shared first half of ``check`` and ``batch``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import ReadError
from .model import Unit


@dataclass
class Failure:
    """A file that could not be read at all."""

    file: Path
    reason: str  # Chinese, names the file


@dataclass
class Checked:
    units: list[Unit] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    previous_failures: list[Failure] = field(default_factory=list)  # last year's files that could not be read
    # with last year's files given: the units none of them is the report of the year before for
    without_previous: list[Unit] = field(default_factory=list)


def read_files(paths: list[Path]) -> Checked:
    from .reader import read_workbook
    from .spec import load_forms

    forms = load_forms()
    out = Checked()
    for p in paths:
        try:
            out.units.append(read_workbook(p, forms))
        except ReadError as exc:
            out.failures.append(Failure(Path(p), exc.message))
    return out


def check_files(paths: list[Path], previous: list[Path] | None = None) -> Checked:
    """Read every file, then run the check engine across all of them at once (a file the
    engine cannot take is a failure, as in ``batch``; ``Unit.status`` is the verdict on the rest)."""
    result = read_files(paths)
    prev = read_files(previous or []) if previous else Checked()
    result.previous_failures = prev.failures
    failed = run_checks_isolated(result.units, prev.units)
    if previous:
        from .checks import without_last_year

        result.without_previous = without_last_year(result.units, _previous_map(prev.units))
    if failed:
        bad = {id(u) for u, _ in failed}
        result.units = [u for u in result.units if id(u) not in bad]
        result.failures += [Failure(Path(u.file), reason) for u, reason in failed]
    return result


def run_checks(units: list[Unit], previous: list[Unit] | None = None) -> None:
    """Apply the check engine (vectorised across all units) and the cross-year checks."""
    from .checks import check_units

    check_units(units, _previous_map(previous) or None)


def _previous_map(previous: list[Unit] | None) -> dict[tuple[str, int], Unit]:
    return {(u.unit, u.year): u for u in previous or [] if u.unit and u.year}


def run_checks_isolated(units: list[Unit], previous: list[Unit] | None = None) -> list[tuple[Unit, str]]:
    """``run_checks``, so that one strange workbook never stops the others: should the engine
    fail on the set, the units are checked one by one. Returns the units it could not check
    (their findings as read, untouched) with the reason (Chinese, names the file)."""
    saved = [list(u.findings) for u in units]
    try:
        run_checks(units, previous)
        return []
    except Exception:
        pass
    failed = []
    for unit, findings in zip(units, saved):
        unit.findings[:] = findings
        try:
            run_checks([unit], previous)
        except Exception as exc:
            unit.findings[:] = findings
            failed.append(
                (
                    unit,
                    f"文件 {Path(unit.file).name} 审核时出错（{type(exc).__name__}），无法审核；"
                    "请检查表中是否有异常数值。",
                )
            )
    return failed
