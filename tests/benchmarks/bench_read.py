"""Time ``read_workbook`` per file over the samples and every layout the reader knows (not collected by pytest).

    python tests/benchmarks/bench_read.py [repeats] [--xls-ods]

Files: the shipped samples and blank templates, and one unit in each layout the tests build
(our template, the pasted official layout on one sheet, sheets 表二/表三/表四 with a 备注
column and notes in cells, a pasted web page with its text, a workbook with last year's
table 三 on an extra sheet); with ``--xls-ods`` also those re-saved by LibreOffice. Prints
the minimum and the median CPU time of each file (CPU time: the machine is shared, wall time
is not a measure), and their sums.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))

from gkreport.reader import read_workbook  # noqa: E402
from gkreport.spec import consistent_values, load_form, load_forms  # noqa: E402
from gkreport.template import write_template  # noqa: E402
from official_layout import (  # noqa: E402
    put_t3,
    report_title,
    soffice_convert_all,
    write_official_2021,
    write_separate_sheets_2021,
    write_web_page_2021,
)

NARRATIVE = {
    "overview": "2025年，本机关深入贯彻落实条例。\n（一）主动公开。全年主动公开政府信息236条。",
    "problems": "一是政策解读形式单一。\n二是业务水平有待提高。",
    "other": "本年度未收取信息处理费。",
}


def values(seed: int) -> dict:
    form = load_form("2021")
    v = {k: int(x) for k, x in consistent_values(form, seed, high=30).items() if not form.cells[k].optional}
    v["t2.fees.fee_amount"] = Decimal("12.34")
    return v


def layouts(folder: Path) -> list[Path]:
    from openpyxl import load_workbook

    name, title = "某某县人民政府", report_title("某某县人民政府", 2025, "unit_first")
    template = write_template(
        load_form("2021"),
        folder / "模板.xlsx",
        values=values(1),
        meta={"unit": name, "year": 2025},
        narrative=NARRATIVE,
    )
    one = write_official_2021(folder / "一个工作表.xlsx", values(2), name, 2025)
    separate, _ = write_separate_sheets_2021(
        folder / "表二表三表四.xlsx",
        values(3),
        title,
        filler="某某县人民政府办公室",
        notes={"t2.normative.made": "（其中修订6件）", "t3.new.natural": "件(含转办1件)"},
    )
    web = write_web_page_2021(
        folder / "网页.xlsx", values(4), title, NARRATIVE, signer=name, date_written="2026年1月20日"
    )
    last = folder / "含上年表三.xlsx"
    wb = load_workbook(template)
    ws = wb.create_sheet("上年表三（2024年）", 2)
    put_t3(ws, 1, values(5), lambda r, c, v: setattr(ws.cell(r, c), "value", v))
    wb.save(last)
    return [template, one, separate, web, last]


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    repeats = int(args[0]) if args else 50
    folder = Path(tempfile.mkdtemp(prefix="bench_read_"))
    files = sorted((ROOT / "input_templates" / "samples").glob("*.xlsx"))
    files += sorted((ROOT / "input_templates").glob("*.xlsx"))
    made = layouts(folder)
    files += made
    if "--xls-ods" in sys.argv:
        for fmt in ("xls", "ods"):
            files += soffice_convert_all(made[1:4], fmt, folder / fmt)
    forms = load_forms()
    for f in files:
        read_workbook(f, forms)  # warm: forms indexed, caches filled
    mins, meds = [], []
    for f in files:
        times = []
        for _ in range(repeats):
            t = time.process_time()
            read_workbook(f, forms)
            times.append(time.process_time() - t)
        mins.append(min(times))
        meds.append(statistics.median(times))
        print(
            f"{mins[-1] * 1000:7.2f} ms min {meds[-1] * 1000:7.2f} ms median  {f.relative_to(f.parents[1]) if f.parent != folder else f.name}"
        )
    print(f"{sum(mins) * 1000:7.1f} ms min {sum(meds) * 1000:7.1f} ms median  all {len(files)} files")


if __name__ == "__main__":
    random.seed(0)
    main()
