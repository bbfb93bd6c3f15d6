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

import dataclasses
import os
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


# --------------------------------------------------------------------------- the reader's layout cache


def unit_facts(unit: Unit) -> dict[str, Any]:
    """Every field of a unit as read, dicts as ordered item lists (their order is part of the result)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(unit):
        v = getattr(unit, f.name)
        if f.name == "form":
            v = v.id
        elif isinstance(v, dict):
            v = list(v.items())
        elif f.name == "findings":
            v = [dataclasses.asdict(x) for x in v]
        out[f.name] = v
    return out


def read_cold_and_warm(read: Any, path: Any, *args: Any) -> Any:
    """Read ``path`` without the layout cache, then twice with it (after whatever the cache holds, then
    after itself); assert the three results are equal in every field (or fail with the same message)."""
    from gkreport import reader
    from gkreport.errors import ReadError

    def once(size: int) -> Any:
        kept = reader._layout_cache.size
        reader._layout_cache.size = size  # 0: off, without emptying it
        try:
            return read(path, *args)
        except ReadError as exc:
            return exc
        finally:
            reader._layout_cache.size = kept

    size = reader._layout_cache.size or reader.LAYOUT_CACHE_SIZE
    results = [once(0), once(size), once(size)]
    facts = [(type(r), r.message) if isinstance(r, ReadError) else unit_facts(r) for r in results]
    assert facts[1] == facts[0], f"layout cache changed what {path} reads as (warm from other files)"
    assert facts[2] == facts[0], f"layout cache changed what {path} reads as (warm from itself)"
    if isinstance(results[2], ReadError):
        raise results[2]
    return results[2]


# the reader's and the hostile-file tests read every workbook cold and warm through the reader's
# layout cache and compare the results field by field; GKREPORT_CHECK_LAYOUT_CACHE=1 does it everywhere
CHECKED_FOR_LAYOUT_CACHE = {"test_reader", "test_hostile"}


@pytest.fixture(autouse=True, scope="module")
def _check_layout_cache(request: pytest.FixtureRequest) -> Any:
    """Every workbook the module's tests read in this process is read cold and warm and compared."""
    wanted = os.environ.get("GKREPORT_CHECK_LAYOUT_CACHE") or request.module.__name__ in CHECKED_FOR_LAYOUT_CACHE
    if not wanted:
        yield
        return
    from gkreport import reader

    plain = reader._read

    def checked_read(path: Any, forms: Any) -> Any:
        return read_cold_and_warm(plain, path, forms)

    reader._read = checked_read  # type: ignore[assignment]
    try:
        yield
    finally:
        reader._read = plain  # type: ignore[assignment]


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


# --------------------------------------------------------------------------- a district


def _district_t2(made, repealed, valid, lic, pen, enf, fee="0") -> dict:
    return {
        "regulations.made": 0,
        "regulations.repealed": 0,
        "regulations.valid": 0,
        "normative.made": made,
        "normative.repealed": repealed,
        "normative.valid": valid,
        "licensing.decisions": lic,
        "penalty.decisions": pen,
        "enforcement.decisions": enf,
        "fees.fee_amount": Decimal(fee),
    }


def values_2019_from(v21: dict) -> dict:
    """A 2019-form table with the 2021 table's 表三/表四 (（六） one row: the sum of its items) and
    a 表二 of the 2019 columns (处理决定数量 as in the 2021 表二)."""
    v = {k: x for k, x in v21.items() if k.startswith(("t3.", "t4.")) and not k.startswith("t3.other_")}
    for col in (*T3_COLS, "total"):
        v[f"t3.other.{col}"] = sum(v21[f"t3.other_{i}.{col}"] for i in (1, 2, 3))
    for row in ("regulations", "normative"):
        for col, x in (("produced", 2), ("published", 2), ("public_total", 15)):
            v[f"t2.{row}.{col}"] = 0 if row == "regulations" else x
    for row in ("licensing", "other_services", "penalty", "enforcement"):
        v[f"t2.{row}.prev_items"] = 5
        v[f"t2.{row}.change"] = 0
        v[f"t2.{row}.decisions"] = v21.get(f"t2.{row}.decisions", 0)
    v.update({"t2.fees.prev_items": 0, "t2.fees.change": 0, "t2.procurement.purchases": 2})
    v["t2.procurement.purchase_amount"] = Decimal("35.5")
    return v


DISTRICT = "某某区人民政府"
DISTRICT_TEXT = {
    "overview": "2025年，某某区深入贯彻落实《中华人民共和国政府信息公开条例》，全面推进政务公开。",
    "problems": "一是基层公开标准化规范化水平有待提升；二是政策解读质量不高。下一步将加强培训考核。",
    "other": "本年度全区各部门均未收取信息处理费。",
}
DISTRICT_META = {
    "unit": DISTRICT,
    "year": 2025,
    "signer": "某某区人民政府办公室",
    "date_written": date(2026, 3, 20),
    "contact_dept": "区政府办公室",
    "contact": "李四",
    "phone": "0533-7654321",
}


def district_departments() -> dict[str, tuple[str, dict]]:
    """Five departments of a district for 2025: unit → (form id, values). One is on the 2019 form
    (民政局), one has a wrong total (卫生健康局: 一、本年新收 总计 13 where its columns add up to 22)."""
    from gkreport.samples import consistent_2021

    t2 = _district_t2
    out = {
        "某某区教育局": consistent_2021(
            t2(3, 1, 27, 46, 2, 0),
            {"disclosed": [9, 1, 0, 0, 0, 0], "partial": [2, 0, 0, 0, 0, 0], "unable_1": [3, 0, 0, 0, 0, 1]},
            {},
            {},
            {"review": [1, 0, 0, 0]},
        ),
        "某某区住房和城乡建设局": consistent_2021(
            t2(2, 2, 14, 268, 17, 3, "2.5"),
            {"disclosed": [14, 3, 0, 0, 1, 0], "partial": [4, 1, 0, 0, 0, 0], "other_1": [1, 0, 0, 0, 0, 0]},
            {"carry": [2, 0, 0, 0, 0, 0]},
            {"next": [3, 1, 0, 0, 0, 0]},
            {"review": [1, 0, 0, 1], "direct": [1, 0, 0, 0]},
        ),
        "某某区市场监督管理局": consistent_2021(t2(0, 0, 5, 3521, 210, 35, "12.35"), {}, {}, {}, {}),
    }
    bad = consistent_2021(
        t2(1, 0, 8, 30, 5, 0),
        {
            "disclosed": [8, 2, 0, 0, 0, 0],
            "partial": [3, 0, 0, 0, 0, 0],
            "unable_1": [4, 0, 0, 0, 0, 0],
            "other_3": [2, 0, 0, 0, 0, 0],
            "not_handled_2": [1, 1, 0, 0, 1, 0],
        },
        {},
        {},
        {},
    )
    assert bad["t3.new.total"] == 22
    bad["t3.new.total"] = 13
    out["某某区卫生健康局"] = bad
    v21 = consistent_2021(
        t2(0, 0, 0, 7, 4, 1),
        {"disclosed": [5, 0, 0, 0, 0, 0], "other_2": [2, 0, 0, 0, 0, 0], "other_3": [1, 0, 0, 0, 0, 0]},
        {},
        {"next": [1, 0, 0, 0, 0, 0]},
        {"review": [0, 1, 0, 0]},
    )
    return {**{k: ("2021", v) for k, v in out.items()}, "某某区民政局": ("2019", values_2019_from(v21))}


def department_meta(name: str) -> dict[str, Any]:
    return {
        "unit": name,
        "year": 2025,
        "signer": name,
        "date_written": date(2026, 1, 20),
        "date_filled": date(2026, 1, 18),
        "contact_dept": "办公室",
        "contact": "张三",
        "phone": "0533-1234567",
        "processing_fee": Decimal(0),
    }


DEPARTMENT_TEXT = {
    "overview": "2025年，本单位认真贯彻政府信息公开条例，做好主动公开和依申请公开工作。",
    "problems": "一是公开时效有待提高。下一步将加强培训。",
    "other": "本年度未收取信息处理费。",
}


def district_units() -> list[Unit]:
    """The five departments as read units (not checked yet)."""
    return [
        make_unit(
            fid,
            values,
            fill=None,
            name=name,
            year=2025,
            meta=department_meta(name),
            narrative=DEPARTMENT_TEXT,
            file=f"{name}2025年统计表.xlsx",
        )
        for name, (fid, values) in district_departments().items()
    ]


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
