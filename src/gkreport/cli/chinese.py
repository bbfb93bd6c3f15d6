"""The command line in one language: help and usage errors written in Chinese.

Typer (and click under it) write their help and their usage errors in English ("Usage:",
"Options", "Show this message and exit.", "No such option: --pfd"). The command classes
here render the help themselves from each parameter's metavar, help text and default, with
the 示例 of every command, wrapped to the terminal width (nothing cut off), and turn every
usage error into one Chinese message (exit 2), naming the option and what it expects:
click's English text is never shown.

The classes use click's public attributes only (``params``, ``opts``, ``help``, ``default``,
``required``, ``metavar``, ``nargs``, exceptions' ``option_name``/``possibilities``/``param``),
which typer's own copy of click keeps too.
"""

from __future__ import annotations

import difflib
import inspect
import io
import re
import shutil
import sys
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

__all__ = ["EXAMPLES_HEADING", "USAGE_ERRORS", "ChineseCommand", "ChineseGroup", "usage_error_message"]

EXAMPLES_HEADING = "示例："  # a help paragraph starting with this is shown as the 示例 section

# The exception classes of the click that typer uses (typer ≥ 0.20 ships its own copy):
# found from typer.BadParameter, which typer exports either way.
_EXC = sys.modules[typer.BadParameter.__module__]
ClickException = _EXC.ClickException
UsageError = _EXC.UsageError
NoSuchOption = _EXC.NoSuchOption
BadOptionUsage = _EXC.BadOptionUsage
BadParameter = _EXC.BadParameter
MissingParameter = _EXC.MissingParameter
NoArgsIsHelpError = getattr(_EXC, "NoArgsIsHelpError", None)
Abort = getattr(_EXC, "Abort", typer.Abort)
USAGE_ERRORS: tuple[type[BaseException], ...] = (ClickException,)  # what a command group must let through

_WIDTH = (40, 120)  # help is wrapped to the terminal width within these bounds


# --------------------------------------------------------------------------- parameters


def _annotation(param: Any) -> Any:
    """The Python type of a parameter's values (typer's type descriptor, or click's type)."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None:
        ann = getattr(descriptor, "annotation", None)
        args = typing.get_args(ann)
        return args[0] if typing.get_origin(ann) in (list, tuple) and args else ann  # list[Path]: a Path each
    name = getattr(getattr(param, "type", None), "name", "")
    return {"integer": int, "float": float, "path": Path, "boolean": bool}.get(name, str)


def _is_flag(param: Any) -> bool:
    return bool(getattr(param, "is_flag", False)) or _annotation(param) is bool


def value_name(param: Any) -> str:
    """The Chinese name of what a parameter takes (its metavar, else by its type)."""
    if param.metavar:
        return str(param.metavar)
    ann = _annotation(param)
    if ann is int:
        return "整数"
    if ann is float:
        return "数字"
    if isinstance(ann, type) and issubclass(ann, Path):
        return "路径"
    return "文字"


def _is_argument(param: Any) -> bool:
    return getattr(param, "param_type_name", "") == "argument"


def _takes_many(param: Any) -> bool:
    return param.nargs == -1 or bool(getattr(param, "multiple", False))


def _names(param: Any) -> str:
    """``-o, --output 文件夹`` for an option, ``文件...`` for an argument."""
    if _is_argument(param):
        return value_name(param) + ("..." if _takes_many(param) else "")
    opts = sorted(param.opts, key=lambda o: (o.startswith("--"), o))
    text = ", ".join(opts)
    if param.secondary_opts:
        text += " / " + ", ".join(param.secondary_opts)
    if not _is_flag(param):
        text += " " + value_name(param)
    return text


def _is_help_option(param: Any) -> bool:
    return "--help" in getattr(param, "opts", ())


def _default_text(param: Any) -> str | None:
    show = getattr(param, "show_default", True)
    if isinstance(show, str):
        return show
    if show is False or _is_flag(param):
        return None
    default = param.default
    if callable(default) or default is None or default == () or default == []:
        return None
    if isinstance(default, (list, tuple)):
        return "、".join(str(d) for d in default)
    return str(default)


def _limits(param: Any) -> str:
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if low is None and high is None:
        limits = getattr(param, "type", None)
        low, high = getattr(limits, "min", None), getattr(limits, "max", None)
    if low is not None and high is not None:
        return f"（{low:g} 至 {high:g}）"
    if low is not None:
        return f"（不小于 {low:g}）"
    if high is not None:
        return f"（不大于 {high:g}）"
    return ""


def _param_help(param: Any) -> str:
    if _is_help_option(param):
        return "显示本帮助并退出"
    text = " ".join(inspect.cleandoc(param.help or "").split())
    text += _limits(param)
    if _takes_many(param) and not _is_argument(param):
        text += "（可以写多次）"
    default = _default_text(param)
    if default is not None:
        text += f" [默认：{default}]"
    if param.required:
        text += " [必填]"
    return text.strip()


# --------------------------------------------------------------------------- help


def _command_path(ctx: Any) -> str:
    """``gkreport check``: the program is always called gkreport (also under ``python -m``)."""
    names = []
    while ctx.parent is not None:
        names.append(ctx.info_name)
        ctx = ctx.parent
    return " ".join(["gkreport", *reversed(names)])


def usage_line(ctx: Any) -> str:
    command = ctx.command
    pieces = [_command_path(ctx)]
    params = [p for p in command.get_params(ctx) if not getattr(p, "hidden", False)]
    if any(not _is_argument(p) for p in params):
        pieces.append("[选项]")
    for p in params:
        if _is_argument(p):
            name = _names(p)
            pieces.append(name if p.required else f"[{name}]")
    if isinstance(command, TyperGroup):
        pieces.append("命令 [参数]...")
    return "用法：" + " ".join(pieces)


def _split_help(text: str) -> tuple[list[str], list[str]]:
    """The description paragraphs and the example lines of a command's help text."""
    paragraphs = [p.strip() for p in inspect.cleandoc(text or "").partition("\f")[0].split("\n\n") if p.strip()]
    body, examples = [], []
    for p in paragraphs:
        if p.startswith(EXAMPLES_HEADING):
            lines = [ln.strip() for ln in p[len(EXAMPLES_HEADING) :].splitlines()]
            examples += [ln for ln in lines if ln]
        else:
            body.append(" ".join(p.split()) if "\n" in p and not p.startswith("\b") else p.strip("\b\n"))
    return body, examples


_TOKEN = re.compile(r"\s+|[\x21-\x7e]+|.")  # spaces, a run of ASCII (an option, a file name), one character
_NO_LINE_START = set("，。、；：？！）》」』”’…%")
_NO_LINE_END = set("（《「『“‘")


def wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` terminal cells: Chinese may break between any two characters
    but no line starts with closing punctuation or ends with an opening one, and options,
    numbers and file names are not split unless longer than a line."""
    from rich.cells import cell_len

    lines: list[str] = []
    for para in text.split("\n"):
        line: list[str] = []
        used = 0
        for tok in _TOKEN.findall(para):
            w = cell_len(tok)
            if used + w <= width:
                line.append(tok)
                used += w
                continue
            if tok.isspace():
                lines.append("".join(line).rstrip())
                line, used = [], 0
                continue
            carry: list[str] = []
            if tok[0] in _NO_LINE_START and line:  # take the last character along
                carry = [line.pop()]
            while line and line[-1] and line[-1][-1] in _NO_LINE_END:
                carry.insert(0, line.pop())
            lines.append("".join(line).rstrip())
            line = [*carry, tok]
            used = sum(cell_len(t) for t in line)
            while used > width:  # a token longer than a line: cut it
                head = "".join(line)
                cut = width
                while cell_len(head[:cut]) > width:
                    cut -= 1
                lines.append(head[:cut])
                line = [head[cut:]]
                used = cell_len(line[0])
        lines.append("".join(line).rstrip())
    return lines


def _width() -> int:
    cols = shutil.get_terminal_size((80, 24)).columns
    return max(_WIDTH[0], min(cols, _WIDTH[1]))


def render_help(ctx: Any) -> str:
    """The whole help of a command or of the command group, as text of the terminal's width."""
    from rich import box
    from rich.console import Console, Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    command = ctx.command
    tty = sys.stdout.isatty()
    buf = io.StringIO()
    console = Console(
        file=buf, width=_width(), force_terminal=tty, color_system="auto" if tty else None, highlight=False
    )

    width = console.width

    def box_of(title: str, rows: Sequence[tuple[str, str]]) -> Panel:
        """A panel of two columns: names, and their text wrapped to what is left of the width."""
        from rich.cells import cell_len

        name_w = max((cell_len(n) for n, _ in rows), default=0)
        inner = width - 4  # the panel's borders and padding
        table = Table.grid(padding=(0, 2))
        if not name_w:
            table.add_column(width=inner)
            for _, text in rows:
                table.add_row(Text("\n".join(wrap(text, inner))))
        else:
            text_w = max(inner - name_w - 2, 16)
            table.add_column(style="bold cyan", no_wrap=True, width=name_w)
            table.add_column(width=text_w, overflow="fold")
            for name, text in rows:
                table.add_row(Text(name), Text("\n".join(wrap(text, text_w))))
        return Panel(table, title=title, title_align="left", border_style="dim", box=box.ROUNDED, width=width)

    body, examples = _split_help(command.help or "")
    console.print(Text("\n".join(wrap(usage_line(ctx), width))), style="bold")
    console.print()
    for p in body:
        console.print(Text("\n".join(wrap(p, width))))
        console.print()
    params = [p for p in command.get_params(ctx) if not getattr(p, "hidden", False)]
    arguments = [(_names(p), _param_help(p)) for p in params if _is_argument(p)]
    options = [(_names(p), _param_help(p)) for p in params if not _is_argument(p)]
    parts = []
    if arguments:
        parts.append(box_of("参数", arguments))
    if options:
        parts.append(box_of("选项", options))
    if isinstance(command, TyperGroup):
        rows = []
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                first = _split_help(sub.help or "")[0]
                rows.append((name, first[0] if first else ""))
        parts.append(box_of("命令", rows))
    if examples:
        parts.append(box_of("示例", [("", line) for line in examples]))
    console.print(Group(*parts))
    if isinstance(command, TyperGroup):
        console.print(Text(f"每个命令的用法：{_command_path(ctx)} 命令 --help"))
    return buf.getvalue()


# --------------------------------------------------------------------------- usage errors


def _option_value(args: Sequence[str], param: Any) -> str | None:
    """The value given on the command line for an option (``--jobs x``, ``--jobs=x``, ``-jx``)."""
    names = list(param.opts) + list(param.secondary_opts)
    for k, a in enumerate(args):
        for name in names:
            if a == name and k + 1 < len(args):
                return args[k + 1]
            if name.startswith("--") and a.startswith(name + "="):
                return a[len(name) + 1 :]
            if not name.startswith("--") and a.startswith(name) and len(a) > len(name):
                return a[len(name) :]
    return None


def _param_words(param: Any) -> str:
    if param is None:
        return "参数"
    if _is_argument(param):
        return f"参数“{value_name(param)}”"
    return "选项 " + "/".join(sorted(param.opts, key=lambda o: (not o.startswith("--"), o)))


def _expects(param: Any) -> str:
    ann = _annotation(param)
    limits = _limits(param)
    if ann is int:
        return f"应为整数{limits}"
    if ann is float:
        return f"应为数字{limits}"
    return "不符合要求"


def usage_error_message(exc: BaseException, args: Sequence[str] = ()) -> str:
    """One Chinese sentence (or two) for a usage error; never click's English text."""
    if isinstance(exc, NoSuchOption):
        text = f"没有 {exc.option_name} 这个选项。"
        possible = list(getattr(exc, "possibilities", None) or ())
        if possible:
            text += f"您是不是要用 {'、'.join(possible)}？"
        return text
    if isinstance(exc, BadOptionUsage):
        name = exc.option_name
        message = str(getattr(exc, "message", ""))
        if "does not take" in message:
            return f"选项 {name} 后面不能带值。"
        if "requires" in message:
            return f"选项 {name} 后面要写一个值。"
        return f"选项 {name} 的写法不对。"
    if isinstance(exc, MissingParameter):
        param = exc.param
        if param is None:
            return "缺少参数。"
        name = value_name(param) if _is_argument(param) else f"选项 {'/'.join(param.opts)}"
        what = f"\n{name}：{' '.join(param.help.split())}" if param.help else ""
        return f"缺少{name}。{what}"
    if isinstance(exc, BadParameter):
        param = exc.param
        value = _option_value(args, param) if param is not None and not _is_argument(param) else None
        shown = f"“{value}”" if value is not None else ""
        return f"{_param_words(param)} 的值{shown}{_expects(param) if param is not None else '不符合要求'}。"
    message = str(getattr(exc, "message", ""))
    extra = re.match(r"Got unexpected extra argument(?:s|\(s\))? \((.*)\)", message)
    if extra:
        return f"多余的参数：{extra[1]}。请检查是否少写了选项名，或文件名中有空格时用引号括起来。"
    if message.startswith("Missing command"):
        return "缺少命令。"
    unknown = re.match(r"No such command '(.*?)'", message)
    if unknown:
        return f"没有 {unknown[1]} 这个命令。"
    return "命令行的写法不对。"


def _suggest_command(group: Any, ctx: Any, name: str) -> str:
    matches = difflib.get_close_matches(name, group.list_commands(ctx), n=2)
    return f"您是不是要用 {'、'.join(matches)}？" if matches else ""


def _show_usage_error(exc: BaseException, args: Sequence[str]) -> None:
    from rich.console import Console
    from rich.text import Text

    width = _width()
    err = Console(stderr=True, width=width, highlight=False)
    text = usage_error_message(exc, args)
    ctx = getattr(exc, "ctx", None)
    unknown = re.match(r"No such command '(.*?)'", str(getattr(exc, "message", "")))
    if unknown and ctx is not None:
        text += _suggest_command(ctx.command, ctx, unknown[1])
    err.print(Text("\n".join(wrap("错误：" + text, width))), style="red")
    if ctx is not None:
        err.print(Text("\n".join(wrap(usage_line(ctx), width))))
        err.print(Text(f"查看帮助：{_command_path(ctx)} --help"))


# --------------------------------------------------------------------------- command classes


class ChineseCommand(TyperCommand):
    """A command whose help is written in Chinese (see :func:`render_help`)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        formatter.write(render_help(ctx))


class ChineseGroup(TyperGroup):
    """The command group: Chinese help, and usage errors of any command as one Chinese message."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        formatter.write(render_help(ctx))

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        run = {
            "args": argv,
            "prog_name": prog_name,
            "complete_var": complete_var,
            "standalone_mode": False,
            "windows_expand_args": windows_expand_args,
            **extra,
        }
        if not standalone_mode:
            return super().main(**run)
        try:
            code = super().main(**run)
        except Abort:
            sys.stderr.write("已取消。\n")
            sys.exit(1)
        except ClickException as exc:
            if NoArgsIsHelpError is not None and isinstance(exc, NoArgsIsHelpError):
                sys.stdout.write(render_help(exc.ctx))
                sys.exit(0)
            if isinstance(exc, UsageError):
                _show_usage_error(exc, argv)
            else:
                sys.stderr.write(f"错误：{getattr(exc, 'message', '')}\n")
            sys.exit(getattr(exc, "exit_code", 2))
        sys.exit(code if isinstance(code, int) else 0)
