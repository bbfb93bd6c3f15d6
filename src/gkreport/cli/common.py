"""Shared pieces of the commands: console, printing findings, exit codes."""

from __future__ import annotations

import json
import sys
from typing import Any

from ..errors import EXIT_ERRORS, EXIT_OK, EXIT_OUTPUT, EXIT_UNUSABLE

__all__ = [
    "EXIT_ERRORS",
    "EXIT_OK",
    "EXIT_OUTPUT",
    "EXIT_UNUSABLE",
    "cannot_write",
    "console",
    "findings_table",
    "print_json",
    "short_ref",
]


def console(stderr: bool = False):
    import shutil

    from rich.console import Console

    width = None if sys.stdout.isatty() else max(120, shutil.get_terminal_size((120, 40)).columns)
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)


def cannot_write(what: str, path: Any, exc: OSError) -> str:
    """One Chinese line: the file a command could not write, and why (with what to do)."""
    from ..fileio import os_reason

    return f"无法写出{what} {path}：{os_reason(exc)}。"


def print_json(data: Any) -> None:
    """JSON on stdout: readable Chinese where the console can show it; where it cannot (a GBK console
    and a name outside GBK), every non-ASCII character as a \\u escape, so that nothing is lost."""
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a file name that is not UTF-8 (kept by Python as surrogates): as GBK
        text = json.dumps(_readable(data), ensure_ascii=False, indent=2, default=str)
    try:
        text.encode(getattr(sys.stdout, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        text = json.dumps(json.loads(text), ensure_ascii=True, indent=2)
    sys.stdout.write(text + "\n")


def _readable(data: Any) -> Any:
    from ..formatting import readable_name

    if isinstance(data, str):
        return readable_name(data)
    if isinstance(data, dict):
        return {_readable(k): _readable(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_readable(v) for v in data]
    return data if data is None or isinstance(data, bool | int | float) else readable_name(str(data))


def short_ref(unit, ref: str) -> str:
    """``三、收到和处理政府信息公开申请情况!D6`` → ``表三 D6`` (sheet names of tables are long; on a
    sheet that holds several tables, the table the cell belongs to)."""
    return unit.place(ref)


def findings_table(unit, title: str | None = None):
    """A rich table of a unit's findings, errors first."""
    from rich.table import Table
    from rich.text import Text

    from ..model import ERROR

    # names and messages are shown as they are: a file called 局[final].xlsx is not rich markup
    t = Table(title=Text(title) if title else None, show_lines=False, expand=True, title_justify="left")
    t.add_column("级别", no_wrap=True)
    t.add_column("位置", no_wrap=True)
    t.add_column("说明", ratio=1, overflow="fold")
    for f in sorted(unit.findings, key=lambda f: f.severity != ERROR):
        style = "bold red" if f.severity == ERROR else "yellow"
        refs = [f.suspect_cell or unit.ref(f.suspect)] if f.suspect else list(f.cells[:1])
        where = "、".join(short_ref(unit, r) for r in refs) + ("等" if not f.suspect and len(f.cells) > 1 else "")
        text = f.message
        if f.note and f.note not in text:
            text += f"（{f.note}）"
        if f.explained:  # the unit's answer, as the checked workbook shows it
            text += f"（审核说明：{f.explanation}）"
        elif f.explanation:  # written after an error, or for numbers changed since: it does not stand
            text += f"（{f.explanation_lapsed or ''}原审核说明：{f.explanation}）"
        level = "已说明" if f.explained else f.severity.zh  # a 提示 answered by a standing 审核说明
        t.add_row(Text(level, style=style), Text(where), Text(text))
    return t
