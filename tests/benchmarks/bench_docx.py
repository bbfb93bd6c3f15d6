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


def render_pngs(folder: Path) -> list[Path]:
    """The README pictures: page 1 of a 2021 and of the seed's 2017 report, and the 2021 table page."""
    import shutil
    import subprocess

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from conftest import seed_unit
    from gkreport.pdf import convert_to_pdf
    from gkreport.samples import SAMPLES_2021

    s = next(x for x in SAMPLES_2021 if "住房和城乡建设局" in x["file"])
    form = load_form("2021")
    u2021 = Unit(
        file=Path(s["file"]),
        form=form,
        unit=s["meta"]["unit"],
        year=s["meta"]["year"],
        values=dict(s["values"]),
        meta=dict(s["meta"]),
        narrative=dict(s["narrative"]),
    )
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        docs = [
            D.write_unit_docx(u2021, Path(tmp) / "r2021.docx"),
            D.write_unit_docx(seed_unit(), Path(tmp) / "r2017.docx"),
        ]
        pdf2021, pdf2017 = convert_to_pdf(docs)
        text = subprocess.run(["pdftotext", str(pdf2021), "-"], capture_output=True, text=True, check=True).stdout
        table_page = next(i for i, page in enumerate(text.split("\f"), start=1) if "申请人情况" in page)
        out = []
        for pdf, page, name in (
            (pdf2021, 1, "report_2021_p1"),
            (pdf2021, table_page, "report_2021_tables"),
            (pdf2017, 1, "report_2017_p1"),
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
