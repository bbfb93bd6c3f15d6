"""PDF through LibreOffice: one soffice run per batch, the font aliases, where the pages put things."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import needs_soffice, seed_unit
from gkreport import docx_out as D
from gkreport import pdf as P
from test_docx_out import report_unit

MM = 72 / 25.4


# --------------------------------------------------------------------------- without LibreOffice


def test_missing_libreoffice_gives_a_clear_chinese_message(tmp_path, monkeypatch):
    docx = D.write_unit_docx(seed_unit(), tmp_path).path
    monkeypatch.setattr(P, "find_soffice", lambda: None)
    with pytest.raises(P.LibreOfficeNotFound) as exc:
        P.convert_to_pdf([docx])
    assert isinstance(exc.value, P.PdfUnavailable)
    assert "没有找到 LibreOffice" in str(exc.value) and "安装" in str(exc.value)
    assert not list(tmp_path.glob("*.pdf"))


def test_missing_input_file(tmp_path):
    with pytest.raises(P.PdfError, match="不存在"):
        P.convert_to_pdf([tmp_path / "无.docx"])
    assert P.convert_to_pdf([]) == []


FAKE = """#!{python}
# stands in for soffice: records its arguments and environment, "converts" some files
import json, os, sys
args = sys.argv[1:]
out = args[args.index("--outdir") + 1]
files = [a for a in args if a.endswith(".docx")]
with open({log!r}, "a", encoding="utf-8") as fh:
    fh.write(json.dumps({{"args": args, "fc": os.environ.get("FONTCONFIG_FILE"),
                         "fcpath": os.environ.get("FONTCONFIG_PATH")}}) + "\\n")
for f in files[:{convert}]:
    with open(os.path.join(out, os.path.basename(f)[:-5] + ".pdf"), "wb") as fh:
        fh.write(b"%PDF-1.4 " + open(f, "rb").read()[:4])
"""


def _fake(tmp_path, monkeypatch, convert: int) -> Path:
    log = tmp_path / "calls.jsonl"
    exe = tmp_path / "soffice"
    exe.write_text(FAKE.format(python=sys.executable, log=str(log), convert=convert), encoding="utf-8")
    exe.chmod(0o755)
    monkeypatch.setenv("GKREPORT_SOFFICE", str(exe))
    return log


def test_one_soffice_call_for_the_whole_batch_and_results_in_order(tmp_path, monkeypatch):
    import json

    log = _fake(tmp_path, monkeypatch, convert=2)
    a = D.write_unit_docx(seed_unit(), tmp_path / "甲").path
    b = D.write_unit_docx(report_unit(), tmp_path / "乙").path
    c = D.write_unit_docx(report_unit(), tmp_path / "丙").path  # same file name as b, other folder
    assert b.name == c.name
    got = P.convert_to_pdf([a, b, c])
    assert got == [a.with_suffix(".pdf"), b.with_suffix(".pdf"), None]  # the third was not converted
    calls = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert len(calls) == 1
    args = calls[0]["args"]
    assert args[0].startswith("-env:UserInstallation=file://") and "--headless" in args
    assert sum(x.endswith(".docx") for x in args) == 3
    if sys.platform.startswith("linux") and Path("/etc/fonts/fonts.conf").is_file():
        assert calls[0]["fc"] == "fonts.conf"
        assert Path(calls[0]["fcpath"], "65-gongwen-cjk-aliases.conf").is_file()
    assert a.with_suffix(".pdf").read_bytes().startswith(b"%PDF")
    assert not list(tmp_path.rglob(".gkreport-tmp-*"))


def test_pdfs_into_another_folder(tmp_path, monkeypatch):
    _fake(tmp_path, monkeypatch, convert=5)
    a = D.write_unit_docx(seed_unit(), tmp_path / "docx").path
    assert P.convert_to_pdf([a], tmp_path / "pdf") == [tmp_path / "pdf" / (a.stem + ".pdf")]
    assert P.convert_to_pdf([a], lambda p: p.parent.parent / "按函数") == [tmp_path / "按函数" / (a.stem + ".pdf")]


def test_nothing_converted_is_reported(tmp_path, monkeypatch):
    _fake(tmp_path, monkeypatch, convert=0)
    a = D.write_unit_docx(seed_unit(), tmp_path).path
    with pytest.raises(P.PdfUnavailable, match="没有生成任何 PDF"):
        P.convert_to_pdf([a])


# --------------------------------------------------------------------------- with LibreOffice


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The seed report and a 2021 report converted in one LibreOffice run."""
    if P.find_soffice() is None:
        pytest.skip("LibreOffice（soffice）未安装，跳过 PDF 转换测试")
    folder = tmp_path_factory.mktemp("pdf")
    docs = [D.write_unit_docx(seed_unit(), folder).path, D.write_unit_docx(report_unit(), folder).path]
    return P.convert_to_pdf(docs)


def _bbox(pdf: Path) -> list[dict]:
    """Pages → lines (x0, x1, y0, text) from pdftotext -bbox-layout, in points."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext（poppler-utils）未安装")
    xml = subprocess.run(
        ["pdftotext", "-bbox-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    pages = []
    for page in re.findall(r"<page .*?</page>", xml, re.DOTALL):
        lines = []
        for m in re.finditer(
            r'<line xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</line>', page, re.DOTALL
        ):
            words = re.findall(r">([^<]*)</word>", m.group(5))
            lines.append(
                {"x0": float(m.group(1)), "y0": float(m.group(2)), "x1": float(m.group(3)), "text": "".join(words)}
            )
        pages.append(lines)
    return pages


@needs_soffice
def test_pdfs_are_written_next_to_the_reports(rendered):
    for pdf in rendered:
        assert pdf is not None and pdf.suffix == ".pdf" and pdf.with_suffix(".docx").exists()
        assert pdf.read_bytes()[:5] == b"%PDF-"


@needs_soffice
def test_rendered_pages_follow_the_gongwen_grid(rendered):
    pages = _bbox(rendered[0])  # the seed report
    assert len(pages) >= 5
    top, bottom = 37 * MM, (297 - 35) * MM
    left, right = 28 * MM, (210 - 26) * MM
    text = "".join(line["text"] for page in pages for line in page)
    # the seed's sentence sits inside the office's paragraph: it may wrap anywhere, and the
    # PDF text shows LibreOffice's automatic spacing between Chinese and digits
    assert "张店区科学技术局" in text and re.search(r"主动公开政府信息\s*50\s*条", text)
    first_table_page = next(n for n, page in enumerate(pages, start=1) if page and page[0]["text"] == "附件")
    assert first_table_page > 2
    for n, page in enumerate(pages, start=1):
        body = [ln for ln in page if top - 3 <= ln["y0"] < bottom]
        footer = [ln for ln in page if ln["y0"] >= bottom]
        if n < first_table_page:  # text pages: at most 22 lines in the 版心
            assert len({round(ln["y0"]) for ln in body}) <= 22, n
        (number,) = [ln for ln in footer if re.fullmatch(r"—\d+—", ln["text"])]
        assert number["text"] == f"—{n}—"
        if n % 2:  # odd: right, one 字 (14 pt) in from the 版心 edge; even: left
            assert number["x1"] == pytest.approx(right - 14, abs=3)
        else:
            assert number["x0"] == pytest.approx(left + 14, abs=3)
        assert number["y0"] - bottom < 12 * MM
    # page 2 is running text: full lines fill the 版心 (28 字 of 15.75 pt)
    page2 = [ln for ln in pages[1] if top - 3 <= ln["y0"] < bottom]
    assert len({round(ln["y0"]) for ln in page2}) == 22  # 22 lines of 28.95 pt fill the 版心
    widest = max(ln["x1"] - ln["x0"] for ln in page2)
    assert widest == pytest.approx(right - left, abs=8)
    assert min(ln["x0"] for ln in page2) == pytest.approx(left, abs=2)


@needs_soffice
def test_gongwen_fonts_are_mapped_to_distinct_faces(rendered):
    if shutil.which("pdffonts") is None:
        pytest.skip("pdffonts（poppler-utils）未安装")
    fonts = subprocess.run(["pdffonts", str(rendered[0])], capture_output=True, text=True, check=True).stdout
    if "NotoSerifCJK" not in fonts:
        pytest.skip("没有安装 fonts-noto-cjk，无法检查字体映射")
    assert "Bold" in fonts  # 方正小标宋简体 → Noto Serif CJK SC Bold
    assert "NotoSansCJK" in fonts  # 黑体
