"""A batch worker that dies on files whose name contains "崩溃", as a parser abort would."""

import os

from gkreport.batch import _pool_chunk


def chunk(items, opts):
    if any("崩溃" in rel for _, rel, _ in items):
        os._exit(3)
    return _pool_chunk(items, opts)


def always(items, opts):
    """A worker process that is ended whatever it is given (security software, the memory killer)."""
    os._exit(3)
