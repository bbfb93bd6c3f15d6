"""Command line: a thin layer over the library.

Each command lives in its own module and imports heavy libraries (pandas,
writers) inside the command body, so ``gkreport --help`` starts fast.
"""

from __future__ import annotations

import sys

import typer

from .. import __version__

app = typer.Typer(
    name="gkreport",
    help="政府信息公开工作年度报告：读取统计表、审核勾稽关系、生成表格和公文格式报告、汇总、发送邮件。",
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
) -> None:
    """政府信息公开工作年度报告工具。"""


# Register commands (each module adds its own; imports there are light).
from . import batch as _batch  # noqa: E402,F401
from . import check as _check  # noqa: E402,F401
from . import mail as _mail  # noqa: E402,F401
from . import template as _template  # noqa: E402,F401


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("\n已中断。已完成的文件已保存，重新运行会从中断处继续。\n")
        sys.exit(130)
