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
from .params import install as _fast_params

_fast_params()  # the options' values checked without importing pydantic (see .params)

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
        leave(130)
    except SystemExit as exc:
        code = exc.code
        if code is None or isinstance(code, int):
            leave(code or 0)
        raise


def leave(code: int) -> None:
    """End the program with ``code`` as an ordinary exit does (the threads that are not daemons are
    waited for, the exit handlers run, the output is flushed) but without taking the interpreter
    apart object by object: after a batch that is about 0.3 s of freeing the modules and records,
    which the operating system frees at once. Where Python's own steps are not there to call, the
    ordinary exit is taken."""
    import atexit
    import os
    import threading

    shutdown = getattr(threading, "_shutdown", None)  # what Python runs first when it exits
    run_handlers = getattr(atexit, "_run_exitfuncs", None)
    if shutdown is None or run_handlers is None:
        sys.exit(code)
    shutdown()
    run_handlers()
    failed = False
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (``| head``): Python would exit with 120
            failed = True
    os._exit(120 if failed and code == 0 else code)
