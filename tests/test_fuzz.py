"""Fuzzing the reader: mutated workbooks are read and checked, or refused with our own message.

Seeds are the sample workbooks, the blank templates, and .xls/.ods copies of two samples
(``tests/corpus/seeds/``). Mutations work at several levels: raw
bytes of the file, members of the zip, XML nodes and attributes (lxml), cell values and types,
labels in the shared strings, merged ranges, and (fewer, they are slow) whole workbooks edited
with openpyxl. For every input, ``read_workbook`` followed by ``run_checks`` must either succeed
or raise ``ReadError`` with a Chinese message naming the file — never any other exception.

``GKREPORT_FUZZ_EXAMPLES`` sets the number of inputs (2,000 by default). Inputs that once broke
the reader are kept in ``tests/corpus/fuzz/`` and replayed by ``test_fuzz_corpus``.
"""

from __future__ import annotations

import io
import os
import random
import re
import time
import warnings
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from conftest import SAMPLES, TEMPLATES
from gkreport.errors import ReadError
from gkreport.pipeline import run_checks
from gkreport.reader import read_workbook
from gkreport.spec import load_forms

FUZZ_N = int(os.environ.get("GKREPORT_FUZZ_EXAMPLES", "2000"))
CORPUS = Path(__file__).with_name("corpus") / "fuzz"
# .xls and .ods copies of two samples, saved once by LibreOffice and kept in the corpus
SEEDS = (
    sorted(SAMPLES.glob("*.xlsx"))
    + sorted(TEMPLATES.glob("*.xlsx"))
    + sorted((Path(__file__).with_name("corpus") / "seeds").glob("*"))
)


def _members(path: Path) -> list[tuple[zipfile.ZipInfo, bytes]]:
    if path.suffix == ".xls":
        return []
    with zipfile.ZipFile(path) as z:
        return [(i, z.read(i.filename)) for i in z.infolist()]


SEED_BYTES = [p.read_bytes() for p in SEEDS]
SEED_PARTS = [_members(p) for p in SEEDS]
FORMS = load_forms()


def _labels() -> list[str]:
    out = set()
    for form in FORMS.values():
        for t in form.tables.values():
            out.add(t.title_for(2025))
            for n in list(t.rows.values()) + list(t.columns.values()):
                out.update(x for x in (n.label,) + n.aliases if x and "{year}" not in x)
        for f in form.metadata:
            out.add(f.label)
    return sorted(out)


LABELS = _labels()
HOSTILE_TEXT = [
    "",
    " ",
    "0",
    "-1",
    "1e308",
    "-1e308",
    "NaN",
    "inf",
    "1.5",
    "٣",
    "１２",
    "12件",
    "1,234",
    "—",
    "=1+1",
    "@SUM(A1)",
    "\x00",
    "\ufffe",
    "😀" * 20,
    "A" * 40000,
    "2025年1月32日",
    "〇〇二五年",
    "99999999999999999999",
    "0x1F",
    "TRUE",
    "#DIV/0!",
    "<b>",
    "&amp;",
    "]]>",
]
HOSTILE_ATTR = [
    "",
    "0",
    "-1",
    "A0",
    "A1",
    "XFD1048576",
    "A1048577",
    "XFE1",
    "ZZZZZ1",
    "a1",
    "$B$2",
    "B2:A1",
    "1:1",
    "A:A",
    "AAA99999",
    "9999999999",
    "s",
    "n",
    "b",
    "e",
    "str",
    "inlineStr",
    "d",
    "xyz",
    "4294967296",
    "rId999",
    "../../x.xml",
    "/xl/worksheets/sheet1.xml",
    "表名\x01",
]
RANGES = [
    "A1:B2",
    "B2:A1",
    "A1:XFD1048576",
    "C3:C3",
    "A1:A1",
    "Z100:AA200",
    "A1:D20",
    "D4:B2",
    "A0:B1",
    "ZZZZ1:A1",
    "A1:B",
    "",
    "A1:ALL1000",
]


# --------------------------------------------------------------------------- mutators


def _rezip(parts: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are one of the mutations
        with zipfile.ZipFile(buf, "w", method, compresslevel=1) as z:
            for name, data in parts:
                z.writestr(zipfile.ZipInfo(name, (2025, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 12)):
        op = rng.random()
        i = rng.randrange(len(b)) if b else 0
        if op < 0.5 and b:
            b[i] = rng.randrange(256)
        elif op < 0.7:
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op < 0.85 and b:
            del b[i : i + rng.randint(1, 64)]
        else:
            j = rng.randrange(len(b)) if b else 0
            b[i : i + 4] = b[j : j + 4]
    if rng.random() < 0.15:
        b = b[: rng.randrange(len(b) + 1)]
    return bytes(b)


def mutate_members(rng: random.Random, parts: list[tuple[str, bytes]]) -> bytes:
    parts = list(parts)
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(parts))
        name, data = parts[i]
        op = rng.randrange(8)
        if op == 0:
            del parts[i]
        elif op == 1:
            parts.append((name, data))  # duplicate name
        elif op == 2:
            j = rng.randrange(len(parts))
            parts[i], parts[j] = (name, parts[j][1]), (parts[j][0], data)
        elif op == 3:
            parts[i] = (name, bytes(rng.randrange(256) for _ in range(rng.randint(0, 300))))
        elif op == 4:
            parts[i] = (
                rng.choice(
                    ["xl/worksheets/sheet9.xml", name.upper(), name.replace("/", "\\"), "../" + name, name + "x"]
                ),
                data,
            )
        elif op == 5:
            parts[i] = (name, b"")
        elif op == 6:
            parts[i] = (name, data[: rng.randrange(len(data) + 1)])
        else:
            parts[i] = (name, mutate_bytes(rng, data))
    return _rezip(parts, rng.choice([zipfile.ZIP_DEFLATED, zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED]))


def mutate_xml(rng: random.Random, parts: list[tuple[str, bytes]]) -> bytes:
    from lxml import etree

    xml_parts = [
        i
        for i, (n, _) in enumerate(parts)
        if n.endswith((".xml", ".rels"))
        and ("worksheets" in n or "sharedStrings" in n or "workbook" in n or n == "content.xml" or rng.random() < 0.2)
    ]
    xml_parts = xml_parts or [i for i, (n, _) in enumerate(parts) if n.endswith((".xml", ".rels"))]
    parts = list(parts)
    for _ in range(rng.randint(1, 4)):
        i = rng.choice(xml_parts)
        name, data = parts[i]
        try:
            root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, huge_tree=False))
        except etree.XMLSyntaxError:
            continue
        nodes = list(root.iter())
        try:
            _edit_node(rng, rng.choice(nodes), nodes)
        except ValueError:  # lxml refuses text XML cannot hold; such a file cannot be written either
            pass
        parts[i] = (name, etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True))
    return _rezip(parts)


def _edit_node(rng: random.Random, node, nodes) -> None:
    from lxml import etree

    op = rng.randrange(6)
    parent = node.getparent()
    if op == 0 and parent is not None:
        parent.remove(node)
    elif op == 1 and parent is not None:
        parent.insert(rng.randrange(len(parent) + 1), etree.fromstring(etree.tostring(node)))
    elif op == 2:
        attr = rng.choice(list(node.attrib) or ["r", "t", "s", "ref", "count", "name", "sheetId", "Target"])
        node.set(attr, rng.choice(HOSTILE_ATTR))
    elif op == 3:
        node.text = rng.choice(HOSTILE_TEXT + LABELS)
    elif op == 4 and parent is not None:
        other = rng.choice(nodes)
        if (
            other is not node
            and other.getparent() is not None
            and node not in other.iterancestors()
            and other not in node.iterancestors()
        ):
            other.getparent().replace(other, etree.fromstring(etree.tostring(node)))
    else:
        for child in list(node)[: rng.randint(0, 3)]:
            node.remove(child)


_V = re.compile(rb"<v>([^<]*)</v>")
_T = re.compile(rb' t="[a-zA-Z]*"')


def mutate_cells(rng: random.Random, parts: list[tuple[str, bytes]]) -> bytes:
    """Values and types of cells, edited in the sheet XML (what an office's odd export produces)."""
    parts = list(parts)
    sheets = [i for i, (n, _) in enumerate(parts) if n.startswith("xl/worksheets/sheet")]
    for _ in range(rng.randint(1, 30)):
        i = rng.choice(sheets)
        name, data = parts[i]
        vs = list(_V.finditer(data))
        ts = list(_T.finditer(data))
        if vs and rng.random() < 0.6:
            m = rng.choice(vs)
            val = rng.choice(
                HOSTILE_TEXT[:16]
                + [
                    "999999",
                    "-5",
                    "3.14159",
                    "1E+20",
                    "45000",
                    "0.1",
                    "1e308",
                    "99999999999999999999",
                    "-1e300",
                    "1e-320",
                ]
            )
            val = val.replace("&", "&amp;").replace("<", "&lt;").encode("utf-8", "surrogatepass")
            data = data[: m.start(1)] + val + data[m.end(1) :]
        elif ts:
            m = rng.choice(ts)
            data = (
                data[: m.start()]
                + rng.choice(
                    [b' t="n"', b' t="b"', b' t="e"', b' t="str"', b' t="d"', b' t="s"', b' t="inlineStr"', b""]
                )
                + data[m.end() :]
            )
        parts[i] = (name, data)
    return _rezip(parts)


def mutate_labels(rng: random.Random, parts: list[tuple[str, bytes]]) -> bytes:
    """Labels in the shared strings: swapped, cut, padded, full width, or replaced by other labels."""
    parts = list(parts)
    idx = next((i for i, (n, _) in enumerate(parts) if n == "xl/sharedStrings.xml"), None)
    if idx is None:
        return _rezip(parts)
    name, data = parts[idx]
    texts = list(re.finditer(rb"<t(?: [^>]*)?>([^<]*)</t>", data))
    out = data
    for m in sorted(rng.sample(texts, min(len(texts), rng.randint(1, 12))), key=lambda m: -m.start()):
        t = m.group(1).decode("utf-8")
        op = rng.randrange(6)
        if op == 0:
            t = rng.choice(LABELS)
        elif op == 1 and t:
            k = rng.randrange(len(t))
            t = t[:k] + t[k + 1 :]
        elif op == 2:
            t = " " + t.replace("（", "(").replace("）", ")") + "　"
        elif op == 3:
            t = t.translate(str.maketrans("0123456789一二三", "０１２３４５６７８９壹贰叁"))
        elif op == 4:
            t = t[::-1]
        else:
            t = rng.choice(HOSTILE_TEXT)
        t = t.replace("&", "&amp;").replace("<", "&lt;")
        out = out[: m.start(1)] + t.encode("utf-8", "surrogatepass") + out[m.end(1) :]
    parts[idx] = (name, out)
    return _rezip(parts)


def mutate_merges(rng: random.Random, parts: list[tuple[str, bytes]]) -> bytes:
    parts = list(parts)
    sheets = [i for i, (n, _) in enumerate(parts) if n.startswith("xl/worksheets/sheet")]
    i = rng.choice(sheets)
    name, data = parts[i]
    data = re.sub(rb"<mergeCells[^>]*>.*?</mergeCells>", b"", data, flags=re.DOTALL) if rng.random() < 0.3 else data
    ranges = [rng.choice(RANGES) for _ in range(rng.randint(1, 6))]
    cells = b"".join(b'<mergeCell ref="' + r.encode() + b'"/>' for r in ranges)
    block = b'<mergeCells count="' + str(len(ranges)).encode() + b'">' + cells + b"</mergeCells>"
    if b"<mergeCells" in data:
        data = re.sub(rb"(<mergeCells[^>]*>)", lambda m: m.group(1) + cells, data, count=1)
    else:
        data = data.replace(b"</sheetData>", b"</sheetData>" + block, 1)
    parts[i] = (name, data)
    return _rezip(parts)


def mutate_openpyxl(rng: random.Random, data: bytes) -> bytes:
    """Whole-workbook edits as an office would make them: types, merges, renamed sheets, inserted rows."""
    from datetime import datetime

    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data))
    for _ in range(rng.randint(1, 20)):
        ws = rng.choice(wb.worksheets)
        r, c = rng.randint(1, max(ws.max_row, 2) + 3), rng.randint(1, max(ws.max_column, 2) + 2)
        op = rng.randrange(7)
        if op == 0:
            ws.cell(r, c).value = rng.choice(
                [
                    None,
                    True,
                    3.5,
                    -7,
                    10**15,
                    datetime(2025, 1, 2),
                    rng.choice(LABELS),
                    rng.choice(HOSTILE_TEXT[:20]).replace("\x00", ""),
                ]
            )
        elif op == 1:
            r2, c2 = r + rng.randint(0, 3), c + rng.randint(0, 3)
            try:
                ws.merge_cells(start_row=r, start_column=c, end_row=r2, end_column=c2)
            except ValueError:
                pass
        elif op == 2 and ws.merged_cells.ranges:
            ws.unmerge_cells(str(rng.choice(list(ws.merged_cells.ranges))))
        elif op == 3:
            ws.title = rng.choice(["Sheet", "表", "三、收到和处理政府信息公开申请情况", "x" * 29]) + str(
                rng.randrange(99)
            )
        elif op == 4:
            ws.insert_rows(r, rng.randint(1, 3))
        elif op == 5:
            ws.delete_cols(c, 1)
        else:
            ws.cell(r, c).value = "=SUM(A1:A3)"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


LEVELS = ["bytes", "members", "xml", "cells", "labels", "merges", "openpyxl"]
WEIGHTS = [25, 15, 20, 20, 10, 8, 2]


def make_input(rng: random.Random, seed: int, level: str) -> bytes:
    data, parts = SEED_BYTES[seed], [(i.filename, d) for i, d in SEED_PARTS[seed]]
    suffix = SEEDS[seed].suffix
    if suffix == ".xls" or (suffix == ".ods" and level not in ("members", "xml")):
        level = "bytes"  # a compound file is mutated byte by byte; an .ods also by parts and XML
    if level == "bytes":
        return mutate_bytes(rng, data)
    if level == "members":
        return mutate_members(rng, parts)
    if level == "xml":
        return mutate_xml(rng, parts)
    if level == "cells":
        return mutate_cells(rng, parts)
    if level == "labels":
        return mutate_labels(rng, parts)
    if level == "merges":
        return mutate_merges(rng, parts)
    try:
        return mutate_openpyxl(rng, data)
    except Exception:  # openpyxl refused an edit (e.g. an illegal character): that says nothing of our reader
        return data


def read_and_check(path: Path) -> str:
    """'read' or 'refused'; anything but our own ReadError propagates (and fails the test)."""
    try:
        unit = read_workbook(path, FORMS)
    except ReadError as exc:
        assert exc.message and path.name in exc.message and not exc.message.isascii(), exc.message
        return "refused"
    run_checks([unit])
    assert unit.form is not None
    return "read"


# --------------------------------------------------------------------------- the tests


@pytest.mark.slow
def test_fuzz_reader(tmp_path, capsys):
    stats: Counter[str] = Counter()

    @settings(
        max_examples=FUZZ_N,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        seed=st.integers(0, len(SEEDS) - 1),
        level=st.sampled_from([lvl for lvl, w in zip(LEVELS, WEIGHTS) for _ in range(w)]),
        salt=st.integers(0, 2**32 - 1),
    )
    def one(seed: int, level: str, salt: int) -> None:
        data = make_input(random.Random(salt), seed, level)
        path = tmp_path / f"变异{SEEDS[seed].suffix}"
        path.write_bytes(data)
        try:
            stats[read_and_check(path)] += 1
        except Exception:
            keep = tmp_path / f"failing-{level}-{salt}{SEEDS[seed].suffix}"
            keep.write_bytes(data)  # copy it into tests/corpus/fuzz/ to keep it as a regression case
            raise
        stats["inputs"] += 1
        stats[level if SEEDS[seed].suffix == ".xlsx" else SEEDS[seed].suffix] += 1

    t = time.perf_counter()
    one()
    elapsed = time.perf_counter() - t
    n = stats["inputs"]
    summary = (
        f"fuzz: {n} inputs in {elapsed:.0f} s — {stats['read']} read, "
        f"{stats['refused']} refused with a message, "
        f"0 unexpected exceptions; .xlsx by level: "
        + ", ".join(f"{lvl} {stats[lvl]}" for lvl in LEVELS)
        + f"; .xls {stats['.xls']}, .ods {stats['.ods']}"
    )
    with capsys.disabled():  # shown without -s: the count is part of the result
        print("\n" + summary)
    (tmp_path / "fuzz-count.txt").write_text(summary, encoding="utf-8")
    assert n >= FUZZ_N
    assert stats["read"] and stats["refused"]  # the mutations reach both outcomes


# what each kept input now gives: read with a finding saying so, or refused with a message
EXPECTED = {
    "无穷大数值.xlsx": ("read", "应填写数字，实为“inf”"),
    "天文数字.xlsx": ("read", "数值过大"),
    "解析器崩溃.xls": ("refused", "无法读取"),
    "声明范围过大.xls": ("refused", "392637695 行 × 15 列"),
    "范围首尾颠倒.xls": ("refused", "已损坏"),
    "部件名为空.ods": ("refused", "已损坏"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fuzz_corpus(name, tmp_path):
    """Inputs that once raised something other than ReadError (or killed the process)."""
    p = tmp_path / name
    p.write_bytes((CORPUS / name).read_bytes())
    outcome, fragment = EXPECTED[name]
    assert read_and_check(p) == outcome
    try:
        unit = read_workbook(p, FORMS)
        run_checks([unit])
        text = " ".join(f.message for f in unit.findings)
    except ReadError as exc:
        text = exc.message
    assert fragment in text


def test_fuzz_corpus_is_complete():
    assert sorted(p.name for p in CORPUS.iterdir()) == sorted(EXPECTED)
