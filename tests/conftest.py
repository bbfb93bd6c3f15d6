"""What the tests share: paths, the LibreOffice marker, and the units they build.

The unit builders are plain functions (tests import them: ``from conftest import make_unit``)
so that they can be called with arguments, also from helpers and hypothesis tests:

* :func:`make_unit` — a unit of any form, every cell 0 unless given (or ``fill=None``: blank);
* :func:`unit_2021` — a clean 2021 unit whose tables satisfy every rule (some requests,
  one 复议), with a matching narrative;
* :func:`seed_unit` — the seed sample (张店区科学技术局 2017) as the reader reads it;
* :func:`seed_document_unit` — the seed report itself (``data/seed_2017.txt``), parsed here
  without the reader.
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gkreport.model import Unit
from gkreport.samples import SEED_NARRATIVE_2017 as SEED_NARRATIVE  # noqa: F401  (for the tests)
from gkreport.spec import Form, load_form

collect_ignore = ["benchmarks"]

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
SAMPLES = ROOT / "input_templates" / "samples"
TEMPLATES = ROOT / "input_templates"
SEED_SAMPLE = SAMPLES / "张店区科学技术局2017年政府信息公开工作情况统计表.xlsx"
SEED_TEXT = DATA / "seed_2017.txt"  # the seed report as published (text of the PDF, tables tab-separated)

_NO_SOFFICE = pytest.mark.skipif(
    not (shutil.which("soffice") or shutil.which("libreoffice")), reason="LibreOffice (soffice) 未安装"
)


def needs_soffice(test: Any) -> Any:
    """A test that runs LibreOffice: marked ``slow``, skipped where LibreOffice is not installed."""
    return pytest.mark.slow(_NO_SOFFICE(test))


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return SAMPLES


# --------------------------------------------------------------------------- any form


def make_unit(
    form: Form | str,
    values: dict[str, Any] | None = None,
    *,
    fill: int | None = 0,
    name: str = "某某区某某局",
    year: int = 2025,
    meta: dict[str, Any] | None = None,
    narrative: dict[str, str] | None = None,
    file: str | Path = "x.xlsx",
    **fields: Any,
) -> Unit:
    """A unit of ``form``: every cell ``fill`` (a Decimal in amount cells; ``None``: no values) and
    then ``values``; ``meta`` has the unit and year; ``fields`` are other Unit fields (locations …)."""
    form = load_form(form) if isinstance(form, str) else form
    vals: dict[str, Any] = {}
    if fill is not None:
        vals = {cid: Decimal(fill) if c.type == "decimal" else fill for cid, c in form.cells.items()}
    vals.update(values or {})
    return Unit(
        file=Path(file),
        form=form,
        unit=name,
        year=year,
        values=vals,
        meta={"unit": name, "year": year, **(meta or {})},
        narrative=dict(narrative or {}),
        **fields,
    )


# --------------------------------------------------------------------------- a clean 2021 unit

T3_COLS = ("natural", "business", "research", "social", "legal_service", "org_other")
GROUPS = {"withheld": 8, "unable": 3, "not_handled": 5, "other": 3}
T3_LEAVES = ("disclosed", "partial", *(f"{g}_{i}" for g, n in GROUPS.items() for i in range(1, n + 1)))
T4_GROUPS = ("review", "direct", "after")
T4_ITEMS = ("upheld", "corrected", "other", "pending")


def t3_values(
    leaves: dict[tuple[str, str], int], carry: dict[str, int], nxt: dict[str, int], subtotals: bool
) -> dict[str, int]:
    """Table 三 built from its leaves: totals are sums, 一 = （七） + 四 − 二 (the printed identity)."""
    v: dict[tuple[str, str], int] = {}
    for c in T3_COLS:
        for r in T3_LEAVES:
            v[r, c] = leaves.get((r, c), 0)
        v["total", c] = sum(v[r, c] for r in T3_LEAVES)
        v["next", c] = nxt.get(c, 0)
        v["carry", c] = min(carry.get(c, 0), v["total", c] + v["next", c])
        v["new", c] = v["total", c] + v["next", c] - v["carry", c]
        if subtotals:
            for g, n in GROUPS.items():
                v[g, c] = sum(v[f"{g}_{i}", c] for i in range(1, n + 1))
    rows = {r for r, _ in v}
    for r in rows:
        v[r, "total"] = sum(v[r, c] for c in T3_COLS)
    return {f"t3.{r}.{c}": x for (r, c), x in v.items()}


def t4_values(items: list[int]) -> dict[str, int]:
    out = {}
    for g, group in enumerate(T4_GROUPS):
        prefix = "after" if group == "after" else group
        for k, item in enumerate(T4_ITEMS):
            out[f"t4.cases.{prefix}_{item}"] = items[g * 4 + k]
        out[f"t4.cases.{prefix}_total"] = sum(items[g * 4 : (g + 1) * 4])
    return out


T2_CLEAN = {
    "t2.regulations.made": 0,
    "t2.regulations.repealed": 0,
    "t2.regulations.valid": 0,
    "t2.normative.made": 3,
    "t2.normative.repealed": 1,
    "t2.normative.valid": 20,
    "t2.licensing.decisions": 120,
    "t2.penalty.decisions": 15,
    "t2.enforcement.decisions": 2,
    "t2.fees.fee_amount": Decimal("1.25"),
}

NARRATIVE_2021 = {
    "overview": "本机关全年共收到政府信息公开申请12件，上年结转1件，结转下年度继续办理1件。"
    "全年制发行政规范性文件3件。本年度被申请行政复议1件，未发生行政诉讼。",
    "problems": "一是公开内容的及时性还需提高；二是解读形式较为单一。下一步将建立公开台账，丰富解读形式。",
    "other": "本年度未收取信息处理费。",
}


def unit_2021(
    values: dict | None = None,
    *,
    name: str = "某市生态环境局",
    year: int = 2022,
    form_id: str = "2021",
    narrative: dict | None = None,
    **meta: Any,
) -> Unit:
    """A clean 2021 unit (every rule holds, no finding) of ``year``; ``values`` replace its tables."""
    if values is None:
        leaves = {
            ("disclosed", "natural"): 6,
            ("partial", "natural"): 2,
            ("withheld_4", "natural"): 1,
            ("unable_1", "natural"): 1,
            ("disclosed", "business"): 2,
        }
        values = {**T2_CLEAN, **t3_values(leaves, {"natural": 1}, {"natural": 1}, False), **t4_values([1] + [0] * 11)}
    return make_unit(
        form_id,
        values,
        fill=None,
        name=name,
        year=year,
        meta={"date_written": date(year + 1, 1, 20), "date_filled": date(year + 1, 1, 15), **meta},
        narrative=NARRATIVE_2021 if narrative is None else narrative,
        file=f"{name}.xlsx",
    )


# --------------------------------------------------------------------------- the seed


def seed_unit() -> Unit:
    """A fresh Unit of the seed sample, as the reader reads it (no check findings yet).

    The sample holds every figure of the seed's 统计表 (八（四） is blank there), its metadata
    and its paragraphs; it is written by ``gkreport.samples`` from the seed report.
    """
    from gkreport.reader import read_workbook

    return read_workbook(SEED_SAMPLE)


def _norm(s: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s))


def seed_document_unit() -> Unit:
    """The seed report itself: every figure of its 统计表 and its text by section, parsed from
    ``data/seed_2017.txt`` without the reader (the text keeps the PDF's spaces: “50 条”)."""
    form = load_form("2017")
    table = form.tables["stats"]
    text = SEED_TEXT.read_text(encoding="utf-8")
    report, _, sheet = text.partition("统计指标\t单位\t统计数")
    nodes = list(table.rows.values())  # the seed lists the rows in table order; labels repeat (四/五/六)
    at = 0
    values: dict = {}
    for line in sheet.splitlines():
        cols = line.split("\t")
        if len(cols) != 3:
            continue
        at = next(
            i
            for i in range(at, len(nodes))
            if _norm(cols[0]) in {_norm(x) for x in (nodes[i].label, *nodes[i].aliases)}
        )
        node = nodes[at]
        raw = cols[2].strip()
        if not node.has_value:
            assert not raw
            continue
        cell = table.cells[f"stats.{node.id}.value"]
        values[cell.id] = None if not raw else Decimal(raw) if cell.type == "decimal" else int(raw)
    assert set(values) == set(table.cells)
    heads = {h: s.id for s in form.sections if s.kind == "text" for h in (s.heading, *s.aliases)}
    sections: dict[str, list[str]] = {}
    current = None
    for ln in (x.strip() for x in report.splitlines()):
        if not ln:
            continue
        if ln in heads:
            current = heads[ln]
            sections[current] = []
        elif ln.startswith("附件"):
            current = None
        elif current is None and "年政府信息公开工作年度报告" in ln and not sections:
            current = "preamble"
            sections[current] = []
        elif current:
            sections[current].append(ln)
    meta = {
        "signer": "淄博市张店区科学技术局",
        "date_written": date(2017, 3, 12),
        "date_filled": date(2018, 1, 23),
        "head": "王磊",
        "reviewer": "张晓鹏",
        "filler": "郑连敏",
        "phone": "2869907",
    }
    return make_unit(
        form,
        values,
        fill=None,
        name="张店区科学技术局",
        year=2017,
        meta=meta,
        narrative={k: "\n".join(v) for k, v in sections.items()},
        file="seed.xlsx",
    )


# --------------------------------------------------------------------------- batch inputs and outputs

VOLATILE_PARTS = {"docProps/core.xml"}  # creation time of an Office package
VOLATILE_KEYS = {"generated", "saved", "seconds"}  # times in the JSON records


def write_unit_workbooks(folder: Path, names: list[str], year: int = 2025) -> list[Path]:
    """One filled 2021 workbook per unit name (the values and text of the samples in turn),
    named ``单位NN.xlsx`` (a unit name need not be a valid file name)."""
    from gkreport.samples import SAMPLES_2021
    from gkreport.template import write_template

    folder.mkdir(parents=True, exist_ok=True)
    form = load_form("2021")
    out = []
    for i, name in enumerate(names):
        s = SAMPLES_2021[i % len(SAMPLES_2021)]
        meta = dict(s["meta"], unit=name, signer=name, year=year, contact_dept=f"{name}办公室")
        path = folder / f"单位{i:02d}.xlsx"
        write_template(form, path, values=s["values"], meta=meta, narrative=s["narrative"])
        out.append(path)
    return out


def _strip_volatile(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip_volatile(v) for k, v in obj.items() if k not in VOLATILE_KEYS}
    if isinstance(obj, list):
        return [_strip_volatile(v) for v in obj]
    return obj


def file_content(path: Path) -> Any:
    """What a file says, without what changes from run to run (package creation time, timestamps);
    an Office file must be a complete package."""
    import json
    import zipfile

    if path.suffix in (".xlsx", ".docx"):
        with zipfile.ZipFile(path) as z:
            assert z.testzip() is None, path
            return {n: z.read(n) for n in z.namelist() if n not in VOLATILE_PARTS}
    if path.suffix == ".json":
        return _strip_volatile(json.loads(path.read_text(encoding="utf-8")))
    return path.read_bytes()


def output_contents(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every file under ``folder`` (path relative to it → :func:`file_content`), except those under
    the folders in ``skip`` (e.g. ``.gkreport``)."""
    return {
        str(p.relative_to(folder)): file_content(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not any(p.relative_to(folder).parts[0] == s for s in skip)
    }
