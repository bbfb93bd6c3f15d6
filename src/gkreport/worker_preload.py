"""Imported once by the batch's fork server, before it forks the workers.

The workers then start with the reader, the check engine (pandas), the writers, the built-in
forms and the finding catalogue already loaded, shared with the fork server instead of each
worker loading them again. Nothing here may fail the fork server: a missing piece is simply
loaded by the worker when it needs it.
"""

from __future__ import annotations

import contextlib

from . import batch, catalogue, checks, docx_out, pipeline, reader, xlsx_out  # noqa: F401
from .spec import compiled, load_forms

with contextlib.suppress(Exception):  # a broken spec file is reported by the run itself
    for _form in load_forms().values():
        compiled(_form)
        reader._index(_form)
    catalogue.codes()
    xlsx_out._unit_styles()  # the styles part of every checked workbook
