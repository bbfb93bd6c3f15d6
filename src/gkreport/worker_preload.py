"""Imported once by the batch's fork server, before it forks the workers.

The workers then start with the reader, the check engine (numpy: pandas is left to the
summaries), the writers, the built-in forms and the finding catalogue already loaded, shared
with the fork server instead of each worker loading them again. Nothing here may fail the fork
server: a missing piece is simply loaded by the worker when it needs it.

A Ctrl-C while this loads (the fork server shares the terminal, and protects itself from Ctrl-C
only once its modules are loaded) ends the fork server quietly: the batch itself stops and says
so; a traceback of the fork server's imports would only alarm.
"""

from __future__ import annotations

import contextlib
import os
import signal


def _quiet_exit(*_: object) -> None:
    os._exit(130)


try:
    _before = signal.signal(signal.SIGINT, _quiet_exit)
except ValueError:  # not the main thread (never so in the fork server): signals are the main thread's
    _before = None
try:
    from . import batch, catalogue, checks, docx_out, pipeline, reader, xlsx_out  # noqa: F401
    from .spec import compiled, load_forms

    with contextlib.suppress(Exception):  # a broken spec file is reported by the run itself
        for _form in load_forms().values():
            compiled(_form)
            reader._index(_form)
        catalogue.codes()
        xlsx_out._unit_styles()  # the styles part of every checked workbook
finally:
    if _before is not None:
        signal.signal(signal.SIGINT, _before)  # what the fork server saves and gives its workers
