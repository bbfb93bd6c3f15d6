"""Random values for a form's cells, shared by the writer benchmarks."""

from __future__ import annotations

import random
from decimal import Decimal

from gkreport.spec import Form


def random_values(form: Form, rnd: random.Random, blank_share: float = 0.1) -> dict:
    """Every non-optional cell: blank now and then, decimals with two places, counts up to 300."""
    values: dict = {}
    for cid, c in form.cells.items():
        if c.optional:
            continue
        if rnd.random() < blank_share:
            values[cid] = None
        elif c.type == "decimal":
            values[cid] = Decimal(rnd.randint(0, 10**6)) / 100
        else:
            values[cid] = rnd.randint(0, 300)
    return values
