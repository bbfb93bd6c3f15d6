"""gkreport: 政府信息公开工作年度报告的读取、审核与生成。

The library's face (see “在程序中使用” in README.md)::

    from gkreport import load_form, read_workbook, check_units, write_unit_xlsx, write_unit_docx

    unit = read_workbook("某某局2025年统计表.xlsx")
    check_units([unit])
    write_unit_xlsx(unit, "审核后.xlsx")
    write_unit_docx(unit, "报告/")

Names are imported when first used, so that ``import gkreport`` (and ``gkreport --help``)
stays light: the writers and pandas load only when asked for.
"""

from __future__ import annotations

import os
from importlib import import_module
from typing import TYPE_CHECKING, Any

from .version import __version__

# The check engine multiplies small matrices (a chunk of units by a form's rules): OpenBLAS's own
# threads would not speed that up, and between calls they spin on the cores the batch's workers
# need (about a tenth of a batch's CPU time). Set before numpy loads, here and in the workers,
# which inherit it; a value the user set stays.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

if TYPE_CHECKING:
    from .aggregate import aggregate_unit, sum_units
    from .batch import BatchOptions, BatchResult, run_batch, watch_folder
    from .checks import check_unit, check_units
    from .docx_out import (
        WrittenReport,
        merge_report_findings,
        report_docx_name,
        write_district_docx,
        write_summary_docx,
        write_unit_docx,
    )
    from .enums import Severity, Status
    from .errors import (
        GkreportError,
        MailError,
        OutputError,
        PdfError,
        ReadError,
        RosterError,
        SpecError,
        StrictRefusal,
        WordingError,
    )
    from .model import Finding, Unit
    from .pdf import convert_to_pdf
    from .pipeline import check_files, read_files
    from .reader import read_workbook
    from .spec import Form, load_form, load_forms
    from .summary import YearSummary, summarise
    from .template import write_template
    from .xlsx_out import unit_xlsx_name, write_summaries, write_summary_xlsx, write_unit_xlsx

# name → module that defines it
_EXPORTS = {
    "load_form": "spec",
    "load_forms": "spec",
    "Form": "spec",
    "read_workbook": "reader",
    "read_files": "pipeline",
    "check_files": "pipeline",
    "check_units": "checks",
    "check_unit": "checks",
    "Unit": "model",
    "Finding": "model",
    "Severity": "enums",
    "Status": "enums",
    "write_unit_xlsx": "xlsx_out",
    "write_summary_xlsx": "xlsx_out",
    "write_summaries": "xlsx_out",
    "unit_xlsx_name": "xlsx_out",
    "write_unit_docx": "docx_out",
    "write_summary_docx": "docx_out",
    "write_district_docx": "docx_out",
    "summarise": "summary",
    "YearSummary": "summary",
    "report_docx_name": "docx_out",
    "merge_report_findings": "docx_out",
    "WrittenReport": "docx_out",
    "convert_to_pdf": "pdf",
    "write_template": "template",
    "aggregate_unit": "aggregate",
    "sum_units": "aggregate",
    "run_batch": "batch",
    "watch_folder": "batch",
    "BatchOptions": "batch",
    "BatchResult": "batch",
    "GkreportError": "errors",
    "SpecError": "errors",
    "ReadError": "errors",
    "WordingError": "errors",
    "StrictRefusal": "errors",
    "PdfError": "errors",
    "MailError": "errors",
    "OutputError": "errors",
    "RosterError": "errors",
}

__all__ = [
    "BatchOptions",
    "BatchResult",
    "Finding",
    "Form",
    "GkreportError",
    "MailError",
    "OutputError",
    "PdfError",
    "ReadError",
    "RosterError",
    "Severity",
    "SpecError",
    "Status",
    "StrictRefusal",
    "Unit",
    "WordingError",
    "WrittenReport",
    "YearSummary",
    "__version__",
    "aggregate_unit",
    "check_files",
    "check_unit",
    "check_units",
    "convert_to_pdf",
    "load_form",
    "load_forms",
    "merge_report_findings",
    "read_files",
    "read_workbook",
    "report_docx_name",
    "run_batch",
    "sum_units",
    "summarise",
    "unit_xlsx_name",
    "watch_folder",
    "write_district_docx",
    "write_summaries",
    "write_summary_docx",
    "write_summary_xlsx",
    "write_template",
    "write_unit_docx",
    "write_unit_xlsx",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gkreport' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # once imported, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
