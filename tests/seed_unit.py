"""The seed unit: 张店区科学技术局's 2017 report, read from our sample workbook.

The sample (``input_templates/samples/张店区科学技术局…统计表.xlsx``) holds every figure
of the seed's 统计表 (八（四） is blank there), its metadata and its paragraphs; it is
written by ``gkreport.samples`` from the seed (``../shared/seed/000_850f3db0ffdca737.txt``).
"""

from __future__ import annotations

from pathlib import Path

from gkreport.model import Unit
from gkreport.reader import read_workbook
from gkreport.samples import SEED_NARRATIVE_2017 as NARRATIVE  # noqa: F401  (re-exported for tests)

ROOT = Path(__file__).resolve().parents[1]
SEED_FILE = ROOT / "tests" / "data" / "seed_2017.txt"
SAMPLE = ROOT / "input_templates" / "samples" / "张店区科学技术局2017年政府信息公开工作情况统计表.xlsx"


def seed_unit() -> Unit:
    """A fresh Unit of the seed sample, as the reader reads it (no check findings yet)."""
    return read_workbook(SAMPLE)
