"""The str-valued enums: a finding's severity and what became of an input file.

Their values are what people read and what JSON, the manifest and 审核报告 keep, so the
files stay readable; the names are what the code compares. Nothing here imports the
rest of gkreport, so that any module (the command line included) may use them cheaply.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """How serious a rule (and a finding of it) is."""

    ERROR = "error"  # must hold
    WARNING = "warning"  # plausibility

    @property
    def zh(self) -> str:
        return "错误" if self is Severity.ERROR else "提示"

    @classmethod
    def parse(cls, text: Any) -> Severity | None:
        """``error`` / ``warning`` or 错误 / 提示; None for anything else."""
        return _SEVERITY_WORDS.get(str(text))


_SEVERITY_WORDS = {
    "error": Severity.ERROR,
    "错误": Severity.ERROR,
    "warning": Severity.WARNING,
    "提示": Severity.WARNING,
}


class Status(StrEnum):
    """What became of one input file (the word shown to people)."""

    PASSED = "通过"
    EXPLAINED = "通过（有说明）"  # no error; every 提示 answered by a standing 审核说明
    WARNINGS = "有提示"
    ERRORS = "有错误"
    UNREADABLE = "无法读取"  # the file could not be read (or checked) at all
    DUPLICATE = "重复报送"  # two files for the same unit and year: neither is used
    UNWRITABLE = "无法写出"  # read and checked, but its outputs could not be written (disk full, read-only …)
