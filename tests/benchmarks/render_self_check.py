"""Render the 自查 area of a filled 2021 template to PNG (the README's pictures).

The sample with mistakes (示例市东城区自然资源局) is typed into the blank template by a script,
so that its formulas have no results; LibreOffice computes them while it makes the PDF, as Excel
or WPS would while a clerk types. Usage::

    python tests/benchmarks/render_self_check.py docs
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import openpyxl

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from gkreport import read_workbook  # noqa: E402
from gkreport.livecheck import SHEET  # noqa: E402
from gkreport.pdf import soffice_env  # noqa: E402
from gkreport.spec import load_form  # noqa: E402
from gkreport.template import write_template  # noqa: E402

SAMPLE = ROOT / "input_templates" / "samples" / "示例市东城区自然资源局2025年统计表（有错误）.xlsx"


def filled_by_script(out: Path) -> Path:
    unit = read_workbook(SAMPLE)
    blank = write_template(load_form("2021"), out.with_name("blank.xlsx"))
    wb = openpyxl.load_workbook(blank)
    filled = openpyxl.load_workbook(SAMPLE)
    for sheet, ref in unit.locations.values():
        wb[sheet][ref].value = filled[sheet][ref].value
    wb.save(out)
    return out


def main(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        xlsx = filled_by_script(tmpdir / "filled.xlsx")
        subprocess.run(
            [
                "soffice",
                f"-env:UserInstallation=file://{tmpdir}/profile",
                "--headless",
                "--convert-to",
                "pdf",
                "--outdir",
                str(tmpdir),
                str(xlsx),
            ],
            check=True,
            capture_output=True,
            env=soffice_env(),
            timeout=180,
        )
        pdf = tmpdir / "filled.pdf"
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True)
        pages = text.stdout.split("\f")
        check_page = next(i for i, p in enumerate(pages, 1) if p.strip().startswith(SHEET))
        table_page = next(i for i, p in enumerate(pages, 1) if re.search(r"三、收到和处理政府信息公开申请情况", p))
        for page, name, height in ((check_page, "self_check_2021", 330), (table_page, "self_check_table_2021", 380)):
            subprocess.run(
                ["pdftoppm", "-png", "-r", "80", "-f", str(page), "-l", str(page), "-singlefile"]
                + ["-x", "0", "-y", "0", "-W", "940", "-H", str(height), str(pdf), str(folder / name)],
                check=True,
            )
            print(folder / f"{name}.png")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs"))
