"""Shared pieces of the commands: console, printing findings, exit codes."""

from __future__ import annotations

import json
import sys
from typing import Any

EXIT_OK, EXIT_ERRORS, EXIT_UNREADABLE = 0, 1, 2


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def findings_table(unit, title: str | None = None):
    """A rich table of a unit's findings, most severe first."""
    from rich.table import Table

    from ..model import SEVERITY_ZH

    t = Table(title=title, show_lines=False, expand=True, title_justify="left")
    t.add_column("级别", no_wrap=True)
    t.add_column("位置", no_wrap=True)
    t.add_column("说明", ratio=3)
    t.add_column("建议", ratio=1)
    for f in sorted(unit.findings, key=lambda f: (f.severity != "error", f.rule)):
        style = "bold red" if f.severity == "error" else "yellow"
        where = "、".join(f.cells[:3]) + ("等" if len(f.cells) > 3 else "")
        hint = ""
        if f.suggestion is not None and f.suspect:
            hint = f"{unit.ref(f.suspect)} 改为 {f.suggestion}" if not f.proposal else f"建议填写 {f.suggestion}"
        if f.note:
            hint = f"{hint}（{f.note}）" if hint else f.note
        t.add_row(f"[{style}]{SEVERITY_ZH.get(f.severity, f.severity)}[/]", where, f.message, hint)
    return t
