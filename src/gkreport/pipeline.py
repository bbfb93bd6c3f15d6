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
    """Read every file, then run the check engine across all of them at once."""
    result = read_files(paths)
    prev = read_files(previous or []).units if previous else []
    run_checks(result.units, prev)
    return result


def run_checks(units: list[Unit], previous: list[Unit] | None = None) -> None:
    """Apply the check engine (vectorised across all units) and the cross-year checks."""
    from .checks import check_units

    prev_map = {(u.unit, u.year): u for u in previous or [] if u.unit and u.year}
    check_units(units, prev_map or None)
