"""Command line: a thin layer over the library.

Each command lives in its own module and imports heavy libraries (pandas,
writers) inside the command body, so ``gkreport --help`` starts fast.
"""

from __future__ import annotations

import sys

import typer
from typer.core import TyperCommand

from .. import __version__
from .chinese import ChineseCommand, ChineseGroup

app = typer.Typer(
    name="gkreport",
    cls=ChineseGroup,
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
) -> None:
    """政府信息公开工作年度报告工具。"""


# Register commands (each module adds its own; imports there are light).
from . import batch as _batch  # noqa: E402,F401
from . import check as _check  # noqa: E402,F401
from . import mail as _mail  # noqa: E402,F401
from . import template as _template  # noqa: E402,F401

for _info in app.registered_commands:  # every command's help in Chinese
    if _info.cls in (None, TyperCommand):
        _info.cls = ChineseCommand


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("\n已中断。已完成的文件已保存，重新运行会从中断处继续。\n")
        sys.exit(130)
