"""Time the per-unit Word report: the fast path (prepared XML) vs a plain python-docx build.

    python tests/benchmarks/bench_docx.py [N]
    python tests/benchmarks/bench_docx.py --pngs docs     # redraw docs/report_*.png (LibreOffice, pdftoppm)

Both renderers draw the same blocks (``docx_out.build_report``): the fast path joins
the prepared XML of the form's tables and appends ``document.xml`` to the zip of the
shared parts; the plain path adds every paragraph, run, table, merge and cell through
python-docx (``row.cells`` once per row). Both include building the blocks (wording,
sentences, gaps) and writing the file; the fast path writes atomically with fsync.
Not collected by pytest (``collect_ignore`` in tests/conftest.py).
"""

from __future__ import annotations

import datetime
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from synthetic import random_values

from gkreport import docx_out as D
from gkreport.model import ERROR, Finding, Unit
from gkreport.spec import load_form


def make_unit(i: int, form_id: str = "2021") -> Unit:
    rnd = random.Random(i)
    form = load_form(form_id)
    values = random_values(form, rnd)
    name = f"某某区第{i}局"
    findings = [Finding(rule="A1", severity=ERROR, message="总计不等于各项之和")] if i % 5 == 0 else []
    return Unit(
        file=Path(f"单位{i}.xlsx"),
        form=form,
        unit=name,
        year=2025 if form_id != "2017" else 2017,
        values=values,
        meta={
            "unit": name,
            "year": 2025,
            "date_written": datetime.date(2026, 1, 20),
            "processing_fee": Decimal(0),
            "contact_dept": f"{name}办公室",
            "phone": "0533-1234567",
            "email": "gongkai@example.gov.cn",
        },
        narrative={
            "overview": ("总体情况。" * 60 + "\n") * 3,
            "organisation": "（一）强化了工作机制。" * 10,
            "proactive": "主动公开。" * 30,
            "problems": "问题。" * 40,
            "other": "无。",
        },
        findings=findings,
    )


def bench(form_id: str, n: int) -> tuple[float, float]:
    units = [make_unit(i, form_id) for i in range(n)]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        D.write_unit_docx(units[0], out / "warm.docx")  # prepared parts and tables, once per process
        t = time.perf_counter()
        for i, u in enumerate(units):
            D.write_unit_docx(u, out / f"fast{i}.docx")
        fast = (time.perf_counter() - t) / n * 1000
        m = max(3, n // 10)
        t = time.perf_counter()
        for i, u in enumerate(units[:m]):
            D.build_plain(D.build_report(u)).save(str(out / f"plain{i}.docx"))
        plain = (time.perf_counter() - t) / m * 1000
    return fast, plain


def _sample_units() -> tuple[Unit, Unit, list[Unit]]:
    """The 2021 sample of 住房和城乡建设局, the same office on the 2019 form (year 2020, an illustrative
    table 二 of that form), and the four 2021 samples."""
    from gkreport.samples import SAMPLES_2021

    f2021, f2019 = load_form("2021"), load_form("2019")

    def unit(s: dict, form=f2021, year: int | None = None, extra: dict | None = None) -> Unit:
        values = {k: v for k, v in s["values"].items() if k in form.cells}
        values.update(extra or {})
        return Unit(
            file=Path(s["file"]),
            form=form,
            unit=s["meta"]["unit"],
            year=year or s["meta"]["year"],
            values=values,
            meta=dict(s["meta"]),
            narrative=dict(s["narrative"]),
        )

    s = next(x for x in SAMPLES_2021 if "住房和城乡建设局" in x["file"])
    t2_2019 = {
        **{f"t2.regulations.{c}": 0 for c in ("produced", "published", "public_total")},
        "t2.normative.produced": 3,
        "t2.normative.published": 3,
        "t2.normative.public_total": 14,
        **{f"t2.licensing.{c}": v for c, v in (("prev_items", 56), ("change", -4), ("decisions", 268))},
        **{f"t2.other_services.{c}": v for c, v in (("prev_items", 12), ("change", 1), ("decisions", 40))},
        **{f"t2.penalty.{c}": v for c, v in (("prev_items", 30), ("change", 0), ("decisions", 17))},
        **{f"t2.enforcement.{c}": v for c, v in (("prev_items", 5), ("change", 0), ("decisions", 3))},
        "t2.fees.prev_items": 2,
        "t2.fees.change": 0,
        "t2.procurement.purchases": 4,
        "t2.procurement.purchase_amount": Decimal("126.5"),
    }
    u2019 = unit(s, f2019, 2020, t2_2019)
    u2019.meta["date_written"] = datetime.date(2021, 1, 20)
    return unit(s), u2019, [unit(x) for x in SAMPLES_2021]


def render_pngs(folder: Path) -> list[Path]:
    """The README pictures: page 1 of a 2021 and of the seed's 2017 report, the 2021 table page,
    the 表二 page of a 2019 report and the chart sheet of the summary workbook."""
    import shutil
    import subprocess

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from conftest import seed_unit
    from gkreport.pdf import convert_to_pdf
    from gkreport.xlsx_out import write_summary_xlsx

    u2021, u2019, units = _sample_units()
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        files = [
            D.write_unit_docx(u2021, Path(tmp) / "r2021.docx").path,
            D.write_unit_docx(seed_unit(), Path(tmp) / "r2017.docx").path,
            D.write_unit_docx(u2019, Path(tmp) / "r2019.docx").path,
            write_summary_xlsx(units, Path(tmp) / "summary.xlsx"),
        ]
        pdf2021, pdf2017, pdf2019, pdf_sum = convert_to_pdf(files)

        def page_with(pdf: Path, needle: str) -> int:
            text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
            return next(i for i, page in enumerate(text.split("\f"), start=1) if needle in page)

        out = []
        for pdf, page, name in (
            (pdf2021, 1, "report_2021_p1"),
            (pdf2021, page_with(pdf2021, "申请人情况"), "report_2021_tables"),
            (pdf2017, 1, "report_2017_p1"),
            (pdf2019, page_with(pdf2019, "第二十条第（九）项"), "report_2019_table2"),
            (pdf_sum, page_with(pdf_sum, "各单位收到和处理政府信息公开申请情况"), "summary_chart_2025"),
        ):
            stem = Path(tmp) / name
            subprocess.run(
                ["pdftoppm", "-png", "-r", "75", "-f", str(page), "-l", str(page), "-singlefile", str(pdf), str(stem)],
                check=True,
            )
            out.append(Path(shutil.copy(stem.with_suffix(".png"), folder / f"{name}.png")))
    return out


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--pngs":
        for p in render_pngs(Path(sys.argv[2])):
            print(p)
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print(f"{'表样':<8}{'快速路径 ms/份':>16}{'python-docx ms/份':>20}{'倍数':>8}")
    for form_id in ("2021", "2017", "2019"):
        fast, plain = bench(form_id, n)
        print(f"{form_id:<8}{fast:>16.2f}{plain:>20.2f}{plain / fast:>8.1f}")


if __name__ == "__main__":
    main()
