"""Command line: a thin layer over the library.

Each command lives in its own module and imports heavy libraries (pandas,
writers) inside the command body, so ``gkreport --help`` starts fast. Errors are
turned into one Chinese line and an exit code in one place: :mod:`gkreport.cli.app`;
help and usage errors are written in Chinese by :mod:`gkreport.cli.chinese`.
"""

from __future__ import annotations

import sys

from typer.core import TyperCommand

from . import batch as _batch  # noqa: F401  (each command module registers its command)
from . import check as _check  # noqa: F401
from . import mail as _mail  # noqa: F401
from . import template as _template  # noqa: F401
from .app import app
from .chinese import ChineseCommand

__all__ = ["app", "main", "tolerant_streams"]

for _info in app.registered_commands:  # every command's help in Chinese (after all modules registered)
    if _info.cls in (None, TyperCommand):
        _info.cls = ChineseCommand


def tolerant_streams() -> None:
    """A character the console cannot show (a GBK console on Chinese Windows, output redirected to a
    file in the locale's encoding; place names such as 䢺 or 𡐓 are not in GBK) is written as “?”
    instead of stopping the command. ``--json`` output stays exact: see ``common.print_json``."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="replace")
            except (OSError, ValueError):  # pragma: no cover - a stream that cannot be changed
                pass


def main() -> None:
    from ..fileio import quiet_unraisable_os_errors

    tolerant_streams()
    quiet_unraisable_os_errors()
    try:
        app(prog_name="gkreport")
    except KeyboardInterrupt:
        sys.stderr.write("\n已中断。已完成的文件已保存，重新运行会从中断处继续。\n")
        sys.exit(130)
