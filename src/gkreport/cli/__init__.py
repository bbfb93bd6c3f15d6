"""Command line: a thin layer over the library.

Each command lives in its own module and imports heavy libraries (pandas,
writers) inside the command body, so ``gkreport --help`` starts fast. Errors are
turned into one Chinese line and an exit code in one place: :mod:`gkreport.cli.app`.
"""

from __future__ import annotations

import sys

from . import batch as _batch  # noqa: F401  (each command module registers its command)
from . import check as _check  # noqa: F401
from . import mail as _mail  # noqa: F401
from . import template as _template  # noqa: F401
from .app import app

__all__ = ["app", "main"]


def main() -> None:
    try:
        app(prog_name="gkreport")
    except KeyboardInterrupt:
        sys.stderr.write("\n已中断。已完成的文件已保存，重新运行会从中断处继续。\n")
        sys.exit(130)
