"""The Typer application the commands register with, and the one place where errors are caught.

A :class:`~gkreport.errors.GkreportError` reaching the command line becomes one Chinese
line on stderr and the exit code of its kind (``errors.EXIT_*``); anything else is a
fault of the program, reported in one line too (exit 4). ``gkreport --debug …`` lets the
exception through, traceback and all. The group is a :class:`~gkreport.cli.chinese.ChineseGroup`:
help and usage errors (exit 2) are Chinese too.
"""

from __future__ import annotations

from typing import Any

import typer

from ..errors import EXIT_INTERNAL, GkreportError
from ..version import __version__
from .chinese import USAGE_ERRORS, ChineseGroup


def _framework_exceptions() -> tuple[type[BaseException], ...]:
    """What the command-line framework raises on purpose (exits, usage errors): let through.
    Typer raises its own (it carries click inside since 0.2x); older releases raise click's."""
    out: list[type[BaseException]] = [typer.Exit, typer.Abort]
    base = getattr(typer, "TyperException", None)
    if base is not None:
        out.append(base)
    try:
        import click
    except ImportError:  # pragma: no cover - typer without a separate click
        pass
    else:
        out += [click.exceptions.Exit, click.ClickException, click.Abort]
    out += USAGE_ERRORS  # typer's own copy of click's exceptions: shown in Chinese by ChineseGroup
    return tuple(out)


_LET_THROUGH = _framework_exceptions()


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class _Commands(ChineseGroup):
    """The command group: Chinese help and usage errors (see :class:`ChineseGroup`); runs a command,
    turning gkreport's errors into a line and an exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except _LET_THROUGH:
            raise  # the commands' own exits and the framework's usage errors
        except GkreportError as exc:
            if ctx.params.get("debug"):
                raise
            typer.echo(f"错误：{_one_line(exc.message)}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except Exception as exc:  # a fault of the program: one line for the user, the details with --debug
            if ctx.params.get("debug"):
                raise
            typer.echo(
                f"程序内部错误（{type(exc).__name__}：{_one_line(str(exc))}）。"
                "请加 --debug 重新运行，并把显示的内容发给维护人员。",
                err=True,
            )
            raise typer.Exit(EXIT_INTERNAL) from None


app = typer.Typer(
    name="gkreport",
    cls=_Commands,
    help="""政府信息公开工作年度报告：读取统计表、审核勾稽关系、生成表格和公文格式报告、汇总、发送邮件。

    示例：
    gkreport template --form 2021 -o 2025年统计表模板.xlsx
    gkreport check 某某局2025年统计表.xlsx
    gkreport check 收到的统计表/
    gkreport batch input -o output --pdf
    gkreport mail output --roster 名单.xlsx --dry-run
    """,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gkreport {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="显示版本号"),
    debug: bool = typer.Option(False, "--debug", help="出错时显示程序内部的详细信息（供维护人员排查问题）"),
) -> None:
    """政府信息公开工作年度报告工具。"""
