"""The fast writer of the checked workbook (gkreport.xlsx_fill, the fast path of write_unit_xlsx)
against the XlsxWriter writer it replaces: every unit written both ways reads back the same, with
openpyxl (cells, styles, comments and their boxes, merges, widths, heights, print setup, names,
views, protection) and with calamine (what the reader parses), and the reader reads both alike."""

from __future__ import annotations

import random
import zipfile
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from conftest import needs_soffice
from gkreport import check_units, read_workbook
from gkreport import xlsx_fill as xf
from gkreport import xlsx_out as xo
from gkreport.model import WARNING, Finding
from gkreport.spec import compiled, load_form
from official_layout import random_2021_values, write_official_2021, write_separate_sheets_2021
from test_xlsx_out import _book_facts, _varied_units, random_unit


def _write_both(unit, folder: Path, name: str, monkeypatch) -> tuple[Path, Path]:
    fast, ref = folder / f"{name}-fast.xlsx", folder / f"{name}-ref.xlsx"
    monkeypatch.setattr(xo, "_FAST", True)
    xo.write_unit_xlsx(unit, fast)
    monkeypatch.setattr(xo, "_FAST", False)
    xo.write_unit_xlsx(unit, ref)
    monkeypatch.setattr(xo, "_FAST", True)
    return fast, ref


def _more_facts(path: Path) -> dict:
    """What _book_facts leaves out: protection, sheet states and the selected sheet, and every
    sheet as calamine (the reader's parser) gives it."""
    wb = openpyxl.load_workbook(path)
    out = {
        "active": wb.active.title,
        "sheets": [
            (ws.title, ws.sheet_state, repr(ws.protection), ws.sheet_view.tabSelected, repr(ws.defined_names))
            for ws in wb.worksheets
        ],
        "workbook_protection": repr(wb.security),
    }
    book = CalamineWorkbook.from_path(str(path))
    out["calamine"] = {n: book.get_sheet_by_name(n).to_python() for n in book.sheet_names}
    return out


def _fast_path_taken(path: Path) -> bool:
    """The fast writer writes strings in line; XlsxWriter in a shared-strings part."""
    with zipfile.ZipFile(path) as z:
        return 't="inlineStr"' in z.read("xl/worksheets/sheet1.xml").decode()


def _pasted_units(tmp_path: Path) -> list:
    """Units read from the official tables pasted on one sheet, and on three sheets with notes."""
    rng = random.Random(11)
    units = []
    for i in range(3):
        values = random_2021_values(rng)
        p = write_official_2021(tmp_path / f"pasted{i}.xlsx", values, f"粘贴单位{i}", 2024 + i % 2)
        units.append(read_workbook(p))
    values = random_2021_values(rng)
    p, _ = write_separate_sheets_2021(
        tmp_path / "separate.xlsx",
        values,
        "某某县某某局2025年政府信息公开工作年度报告",
        notes={next(iter(values)): "（其中修订6件）"},
    )
    units.append(read_workbook(p))
    check_units(units)
    return units


@pytest.mark.slow
def test_fast_writer_writes_what_xlsxwriter_writes(tmp_path, monkeypatch):
    """Units of every form (checked submissions with a proposal, notes, an entry that is no number,
    grouped findings; the samples; errors, 提示, 已说明 and lapsed explanations, candidates, a
    paragraph finding, an off-grid subtotal, long and over-long names and texts, control characters,
    pasted layouts, no findings at all), written both ways, read back the same."""
    units = _varied_units(tmp_path) + _pasted_units(tmp_path)
    odd = random_unit("2019", '控制\x01字符_x0041_单位 <&> "引号"  ', seed=8)
    odd.meta["contact_dept"] = "办公室\x07\t（值班）"
    odd.findings.append(
        Finding(
            rule="W9",
            severity=WARNING,
            message="说明中有 _x0041_ 与 <标签> & 符号\x02",
            table="t2",
            cell_ids=(next(iter(odd.values)),),
            explanation="已核实。",
        )
    )
    units.append(odd)
    assert any(u.findings for u in units) and any(not u.findings for u in units)
    assert {u.form.id for u in units} == {"2017", "2019", "2021"} and len({u.year for u in units}) > 1
    for i, unit in enumerate(units):
        fast, ref = _write_both(unit, tmp_path, str(i), monkeypatch)
        assert _fast_path_taken(fast) and not _fast_path_taken(ref), unit.unit
        assert _book_facts(fast) == _book_facts(ref), (i, unit.unit, unit.form.id)
        assert _more_facts(fast) == _more_facts(ref), (i, unit.unit, unit.form.id)


@pytest.mark.slow
def test_fast_workbook_reads_back_as_the_reference_one(tmp_path, monkeypatch):
    """The checked workbook is the next submission: read again, the fast one gives what the
    XlsxWriter one gives (values, notes, metadata, text, explanations and findings)."""
    units = _varied_units(tmp_path)[:8] + _pasted_units(tmp_path)[:2]
    for i, unit in enumerate(units):
        fast, ref = _write_both(unit, tmp_path, f"r{i}", monkeypatch)
        a, b = read_workbook(fast), read_workbook(ref)
        check_units([a, b])
        for attr in ("unit", "year", "values", "notes", "meta", "narrative", "locations"):
            assert getattr(a, attr) == getattr(b, attr), (unit.unit, attr)
        assert [(f.rule, f.cell_ids, f.explanation, f.explained) for f in a.findings] == [
            (f.rule, f.cell_ids, f.explanation, f.explained) for f in b.findings
        ]


def test_frames_do_not_carry_one_unit_into_the_next(tmp_path, monkeypatch):
    """Sheets are drawn from a frame made once per table and year: a unit with findings, a long name
    and an off-grid subtotal leaves nothing in the frame for the next unit (of another year too)."""
    form = load_form("2021")
    frames = compiled(form).derive(xo._SheetFrames)
    frames.clear()
    busy = random_unit("2021", "很长的单位名称" * 9, year=2025, seed=3)
    busy.values["t3.withheld.total"] = 9  # outside the official grid
    plain = random_unit("2021", "某局", year=2025, seed=4, findings=False)
    other_year = random_unit("2021", "某局", year=2024, seed=4, findings=False)
    monkeypatch.setattr(xo, "_FAST", True)
    xo.write_unit_xlsx(busy, tmp_path / "busy.xlsx")
    xo.write_unit_xlsx(plain, tmp_path / "after.xlsx")
    xo.write_unit_xlsx(other_year, tmp_path / "year-after.xlsx")
    assert {k[1] for k in frames} == {2024, 2025}
    frames.clear()
    xo.write_unit_xlsx(plain, tmp_path / "alone.xlsx")
    frames.clear()
    xo.write_unit_xlsx(other_year, tmp_path / "year-alone.xlsx")
    assert _book_facts(tmp_path / "after.xlsx") == _book_facts(tmp_path / "alone.xlsx")
    assert _book_facts(tmp_path / "year-after.xlsx") == _book_facts(tmp_path / "year-alone.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "after.xlsx").worksheets[1]
    assert not any(c.comment for row in ws.iter_rows() for c in row)
    assert "很长的单位名称" not in str([c.value for row in ws.iter_rows() for c in row])


def test_what_the_fast_writer_does_not_take_is_written_by_xlsxwriter(tmp_path, monkeypatch):
    """A call the fast writer refuses (here: every footer) sends the whole workbook to XlsxWriter,
    which writes the same workbook."""
    unit = random_unit("2021", "某某局", seed=2)
    xo.write_unit_xlsx(unit, tmp_path / "fast.xlsx")

    def refuse(self, *args, **kwargs):
        raise xf.Unsupported("not here")

    monkeypatch.setattr(xf.Sheet, "set_footer", refuse)
    xo.write_unit_xlsx(unit, tmp_path / "fallback.xlsx")
    assert _fast_path_taken(tmp_path / "fast.xlsx") and not _fast_path_taken(tmp_path / "fallback.xlsx")
    assert _book_facts(tmp_path / "fallback.xlsx") == _book_facts(tmp_path / "fast.xlsx")
    assert not list(tmp_path.glob(".gkreport-tmp-*"))


def test_text_over_excels_limit_is_cut_as_xlsxwriter_cuts_it(tmp_path, monkeypatch):
    """A text within the writer's character limit but over Excel's 32,767 UTF-16 units (characters
    outside the basic plane count twice) is left to XlsxWriter, which cuts it the way it always has."""
    unit = random_unit("2021", "某某局", seed=2)
    unit.meta["contact_dept"] = "𠀀" * 20000
    fast, ref = _write_both(unit, tmp_path, "long", monkeypatch)
    assert not _fast_path_taken(fast)
    assert _book_facts(fast) == _book_facts(ref)


def test_styles_part_covers_every_style_of_a_unit_workbook():
    """Every style the drawing can ask for has an id in the one styles part, and ids are distinct
    for distinct looks (so the fast path never meets an unregistered style in the forms)."""
    fixed, st = xo._unit_styles()
    for name in xo._STYLE_PROPS:
        assert isinstance(getattr(st, name), int)
    for form_id in ("2017", "2019", "2021"):
        form = load_form(form_id)
        for table in form.tables.values():
            for step in xo._plan(form, table).steps:
                style = step[6]
                if isinstance(style, tuple):
                    st.label(style[1], True)
    for state in (None, *xo._STATES):
        assert st.value("0", state, True) != st.value("0", state, False)
    with pytest.raises(xf.Unsupported):
        st.value("0.000000000000")
    assert b"<cellXfs" in fixed.xml and len(set(fixed.ids.values())) > 100


@pytest.mark.slow
@needs_soffice
def test_libreoffice_opens_the_fast_workbook(tmp_path):
    """LibreOffice opens the fast workbook (in-line strings, the zip written here) and converts it:
    the converted copy has the sheets, values and comments of the original."""
    import shutil
    import subprocess

    from gkreport.pdf import FONTCONFIG_DIR

    unit = random_unit("2021", "某某区某某局", seed=5)
    path = xo.write_unit_xlsx(unit, tmp_path / "fast.xlsx")
    assert _fast_path_taken(path)
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    env = {"HOME": str(tmp_path), "FONTCONFIG_PATH": str(FONTCONFIG_DIR), "PATH": "/usr/bin:/bin"}
    out = tmp_path / "out"
    subprocess.run(
        [soffice, "--headless", "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(out), str(path)],
        check=True,
        capture_output=True,
        timeout=180,
        env=env,
    )
    a, b = openpyxl.load_workbook(path), openpyxl.load_workbook(out / "fast.xlsx")
    assert a.sheetnames == b.sheetnames
    for ws in a.worksheets:
        other = b[ws.title]
        for row in ws.iter_rows():
            for cell in row:
                if cell.value not in (None, ""):  # LibreOffice keeps no empty text
                    assert other[cell.coordinate].value == cell.value, (ws.title, cell.coordinate)
                if cell.comment:
                    assert other[cell.coordinate].comment is not None
