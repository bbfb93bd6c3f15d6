"""Hostile and broken input: a corpus of named bad files, each with its Chinese message.

Every file is made here by code (nothing binary is checked in for this corpus): files that are
not workbooks, broken and cut-off zips, encrypted workbooks, zip bombs, sheets of a million rows
or ten thousand columns, XML with entity declarations, locked and still-changing files. Each must
be refused with a ``ReadError`` naming the file and saying why in Chinese — quickly, and within a
memory ceiling (measured in a subprocess). The batch over all of them plus one good workbook
writes the good unit's outputs, lists every bad file with its reason and exits with 2.

The output side is here too: hostile unit names never leave the output folder, workbook text
never becomes a formula in an output workbook, and the Word report escapes whatever it holds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import gkreport
from conftest import SAMPLES
from gkreport import reader
from gkreport.errors import ReadError
from gkreport.reader import read_workbook

GOOD = SAMPLES / "示例市东城区教育局2025年统计表.xlsx"
SRC = str(Path(gkreport.__file__).resolve().parents[1])  # run subprocesses on the code under test
MB = 2**20
CEILING_MB = 500


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return env


# --------------------------------------------------------------------------- makers of raw containers


@dataclass
class Part:
    """One zip member; ``declared``/``crc``/``flags``/``raw`` let a test lie in the headers."""

    name: str
    data: bytes = b""
    method: int = zipfile.ZIP_DEFLATED
    raw: bytes | None = None  # already compressed bytes (data is then ignored)
    declared: int | None = None  # uncompressed size written in the headers
    crc: int | None = None
    flags: int = 0


def zip_bytes(parts: list[Part]) -> bytes:
    """A zip written by hand, so that sizes, checksums and flags can be anything."""
    out = bytearray()
    central = bytearray()
    for p in parts:
        if p.raw is not None:
            comp = p.raw
        elif p.method == zipfile.ZIP_DEFLATED:
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            comp = c.compress(p.data) + c.flush()
        else:
            comp = p.data
        size = len(p.data) if p.declared is None else p.declared
        crc = zlib.crc32(p.data) if p.crc is None else p.crc
        name = p.name.encode("utf-8")
        offset = len(out)
        out += (
            struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, p.flags, p.method, 0, 0x21, crc, len(comp), size, len(name), 0)
            + name
            + comp
        )
        central += (
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                p.flags,
                p.method,
                0,
                0x21,
                crc,
                len(comp),
                size,
                len(name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + name
        )
    cd_offset = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(parts), len(parts), len(central), cd_offset, 0)
    return bytes(out)


def sample_parts(src: Path = GOOD) -> list[Part]:
    with zipfile.ZipFile(src) as z:
        return [Part(i.filename, z.read(i.filename)) for i in z.infolist()]


def replace_part(parts: list[Part], name: str, data: bytes) -> list[Part]:
    return [Part(p.name, data) if p.name == name else p for p in parts]


CT = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/></Types>'
)
RELS = (
    b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
    b'2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)


def workbook_parts(sheets: list[bytes], names: list[str] | None = None) -> list[Part]:
    """A minimal .xlsx around the given worksheet XML parts."""
    names = names or [f"表{i + 1}" for i in range(len(sheets))]
    wb = (
        '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
        '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
        + "".join(f'<sheet name="{n}" sheetId="{i + 1}" r:id="rId{i + 1}"/>' for i, n in enumerate(names))
        + "</sheets></workbook>"
    ).encode()
    rels = (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        '2006/relationships">'
        + "".join(
            f'<Relationship Id="rId{i + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            f'relationships/worksheet" Target="worksheets/sheet{i + 1}.xml"/>'
            for i in range(len(sheets))
        )
        + "</Relationships>"
    ).encode()
    parts = [
        Part("[Content_Types].xml", CT),
        Part("_rels/.rels", RELS),
        Part("xl/workbook.xml", wb),
        Part("xl/_rels/workbook.xml.rels", rels),
    ]
    parts += [Part(f"xl/worksheets/sheet{i + 1}.xml", s) for i, s in enumerate(sheets)]
    return parts


def sheet_xml(body: bytes | str, dimension: str | None = None, prolog: bytes = b"", tail: bytes = b"") -> bytes:
    body = body.encode() if isinstance(body, str) else body
    dim = f'<dimension ref="{dimension}"/>'.encode() if dimension else b""
    return (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        + prolog
        + b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        + dim
        + b"<sheetData>"
        + body
        + b"</sheetData>"
        + tail
        + b"</worksheet>"
    )


def inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def deflate_repeat(prefix: bytes, filler: bytes, chunk_mb: int, repeats: int, suffix: bytes) -> tuple[bytes, int]:
    """A raw deflate stream of prefix + filler × (chunk × repeats) + suffix, made without inflating it all:
    one fully flushed chunk is compressed once and repeated (it references nothing before it)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    chunk = filler * (chunk_mb * MB // len(filler))
    body = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    end = c.compress(suffix) + c.flush(zlib.Z_FINISH)
    return head + body * repeats + end, len(prefix) + len(chunk) * repeats + len(suffix)


# Compound File Binary (the container of .xls and of password-protected .xlsx)


def cfb_bytes(streams: dict[str, bytes]) -> bytes:
    """A version-3 compound file with the given streams (each padded to ≥ 4096 bytes: no mini stream)."""
    ss = 512
    streams = {k: v + b"\0" * max(0, 4096 - len(v)) for k, v in streams.items()}
    n_dir = -(-(len(streams) + 1) // 4)
    data_secs = {k: -(-len(v) // ss) for k, v in streams.items()}
    n_other = n_dir + sum(data_secs.values())
    n_fat = 1
    while n_fat * (ss // 4) < n_fat + n_other:
        n_fat += 1
    fat = [0xFFFFFFFD] * n_fat
    dir_start = len(fat)
    fat += [dir_start + i + 1 for i in range(n_dir - 1)] + [0xFFFFFFFE]
    starts = {}
    for k, n in data_secs.items():
        starts[k] = len(fat)
        fat += [starts[k] + i + 1 for i in range(n - 1)] + [0xFFFFFFFE]
    fat += [0xFFFFFFFF] * (n_fat * (ss // 4) - len(fat))

    def entry(name: str, kind: int, start: int, size: int, child: int = 0xFFFFFFFF, right: int = 0xFFFFFFFF) -> bytes:
        raw = name.encode("utf-16-le") + b"\0\0"
        return (
            raw.ljust(64, b"\0")
            + struct.pack("<HBB", len(raw), kind, 1)
            + struct.pack("<III", 0xFFFFFFFF, right, child)
            + b"\0" * 16
            + b"\0" * 4
            + b"\0" * 16
            + struct.pack("<III", start, size, 0)
        )

    names = list(streams)
    dirs = entry("Root Entry", 5, 0xFFFFFFFE, 0, child=1 if names else 0xFFFFFFFF)
    for i, k in enumerate(names):
        dirs += entry(k, 2, starts[k], len(streams[k]), right=i + 2 if i + 1 < len(names) else 0xFFFFFFFF)
    dirs = dirs.ljust(n_dir * ss, b"\0")
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\0" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\0" * 6
        + struct.pack("<IIIIIIIII", 0, n_fat, dir_start, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
        + struct.pack("<109I", *(list(range(n_fat)) + [0xFFFFFFFF] * (109 - n_fat)))
    )
    body = b"".join(struct.pack(f"<{ss // 4}I", *fat[i * (ss // 4) : (i + 1) * (ss // 4)]) for i in range(n_fat))
    body += dirs + b"".join(v.ljust(data_secs[k] * ss, b"\0") for k, v in streams.items())
    return header + body


def biff(*records: tuple[int, bytes]) -> bytes:
    return b"".join(struct.pack("<HH", t, len(d)) + d for t, d in records)


BOF_GLOBALS = (0x0809, struct.pack("<HHHHII", 0x0600, 0x0005, 0x1F2A, 0x07CD, 0, 0x0406))
BOF_SHEET = (0x0809, struct.pack("<HHHHII", 0x0600, 0x0010, 0x1F2A, 0x07CD, 0, 0x0406))
EOF = (0x000A, b"")


def xls_stream(globals_: list[tuple[int, bytes]], sheet: list[tuple[int, bytes]]) -> bytes:
    """A BIFF8 Workbook stream: globals with one BoundSheet record pointing at the sheet's BOF."""
    name = "统计表".encode("utf-16-le")
    head_len = len(biff(BOF_GLOBALS, *globals_, EOF)) + 4 + 8 + len(name)
    bound = (0x0085, struct.pack("<IBBBB", head_len, 0, 0, 3, 1) + name)
    return biff(BOF_GLOBALS, *globals_, bound, EOF) + biff(BOF_SHEET, *sheet, EOF)


# --------------------------------------------------------------------------- the corpus


def _write(data: bytes) -> Callable[[Path], None]:
    return lambda p: p.write_bytes(data)


def _good_bytes() -> bytes:
    return GOOD.read_bytes()


def _truncated_half(p: Path) -> None:
    d = _good_bytes()
    p.write_bytes(d[: len(d) // 2])


def _truncated_tail(p: Path) -> None:
    p.write_bytes(_good_bytes()[:-10])


def _zeros(p: Path) -> None:
    p.write_bytes(b"\0" * len(_good_bytes()))  # what an interrupted copy to a USB stick can leave


def _corrupt_member(p: Path) -> None:
    parts = sample_parts()
    out = []
    for part in parts:
        if part.name == "xl/worksheets/sheet4.xml":
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            comp = bytearray(c.compress(part.data) + c.flush())
            for i in range(len(comp) // 3, len(comp) // 3 + 40):
                comp[i] ^= 0x5A
            part = Part(part.name, part.data, raw=bytes(comp))
        out.append(part)
    p.write_bytes(zip_bytes(out))


def _bad_crc(p: Path) -> None:
    p.write_bytes(
        zip_bytes(
            [Part(x.name, x.data, crc=0x12345678 if x.name.endswith("sheet3.xml") else None) for x in sample_parts()]
        )
    )


def _without_workbook_part(p: Path) -> None:
    p.write_bytes(zip_bytes([x for x in sample_parts() if x.name != "xl/workbook.xml"]))


def _docx(p: Path) -> None:
    p.write_bytes(zip_bytes([Part("[Content_Types].xml", CT), Part("word/document.xml", b"<w:document/>")]))


def _pptx(p: Path) -> None:
    p.write_bytes(zip_bytes([Part("[Content_Types].xml", CT), Part("ppt/presentation.xml", b"<p:presentation/>")]))


def _plain_zip(p: Path) -> None:
    p.write_bytes(
        zip_bytes(
            [
                Part("各单位统计表/教育局.xlsx", _good_bytes(), method=zipfile.ZIP_STORED),
                Part("说明.txt", "请查收".encode()),
            ]
        )
    )


def _xlsb(p: Path) -> None:
    p.write_bytes(zip_bytes([Part("[Content_Types].xml", CT), Part("xl/workbook.bin", b"\x83\x01\x00")]))


def _zip_password(p: Path) -> None:
    p.write_bytes(zip_bytes([Part(x.name, x.data, flags=0x1) for x in sample_parts()]))


def _encrypted_ooxml(p: Path) -> None:
    p.write_bytes(
        cfb_bytes(
            {
                "EncryptionInfo": b"\x04\x00\x04\x00\x40\x00\x00\x00" + os.urandom(200),
                "EncryptedPackage": struct.pack("<Q", 9000) + os.urandom(9000),
            }
        )
    )


def _encrypted_xls(p: Path) -> None:
    p.write_bytes(cfb_bytes({"Workbook": xls_stream([(0x002F, b"\x01\x00" + os.urandom(52))], [])}))


def _xls_hidden_sheet_offset(p: Path) -> None:
    """A sheet the BoundSheet offset points into the middle of another record: found all the same."""
    number = struct.pack("<HHHd", 65535, 255, 15, 1.0)
    hidden = biff(BOF_SHEET, (0x0203, number), EOF)
    name = "统计表".encode("utf-16-le")
    globals_len = len(biff(BOF_GLOBALS)) + 4 + 8 + len(name) + len(biff(EOF))
    cover = (0x0809 + 0x100, b"\0" * 4 + hidden)  # an unknown record whose body holds the sheet
    bound = (0x0085, struct.pack("<IBBBB", globals_len + 4 + 4, 0, 0, 3, 1) + name)
    p.write_bytes(cfb_bytes({"Workbook": biff(BOF_GLOBALS, bound, EOF, cover)}))


def _word97(p: Path) -> None:
    p.write_bytes(cfb_bytes({"WordDocument": os.urandom(5000), "1Table": os.urandom(4096)}))


def _xls_far_cell(p: Path) -> None:
    number = struct.pack("<HHHd", 65535, 255, 15, 1.0)
    p.write_bytes(cfb_bytes({"Workbook": xls_stream([], [(0x0203, number)])}))


def _xls_forged_dimensions(p: Path) -> None:
    """A DIMENSIONS record claiming 392 million rows: the parser would size its buffer by it (~235 GB)."""
    dims = struct.pack("<IIHHH", 0, 0x17672CFF, 0, 15, 0)
    p.write_bytes(cfb_bytes({"Workbook": xls_stream([], [(0x0200, dims)])}))


def _xls_forged_sst(p: Path) -> None:
    """A shared-string table declaring 2^31 − 1 strings in a few bytes (parsers reserve memory by this count)."""
    sst = struct.pack("<ii", 1, 0x7FFFFFFF) + b"\x01\x00\x00A"
    p.write_bytes(cfb_bytes({"Workbook": xls_stream([(0x00FC, sst)], [])}))


def _cfb_forged_header(p: Path) -> None:
    """A compound file whose header counts 16 million FAT sectors in a 10 KB file."""
    data = bytearray(cfb_bytes({"Workbook": biff(BOF_GLOBALS, EOF)}))
    data[0x2C:0x30] = struct.pack("<I", 0x00FFFFFF)
    p.write_bytes(bytes(data))


def _cfb_forged_stream_size(p: Path) -> None:
    data = bytearray(cfb_bytes({"Workbook": biff(BOF_GLOBALS, EOF)}))
    entry = 512 + 512 + 128  # header, one FAT sector, then the second directory entry
    data[entry + 120 : entry + 124] = struct.pack("<I", 0xFFFFFFF0)
    p.write_bytes(bytes(data))


def _zip_bomb(p: Path) -> None:
    prefix = sheet_xml(b"").split(b"<sheetData>")[0] + b"<sheetData>"
    raw, size = deflate_repeat(prefix, b" ", 64, 32, b"</sheetData></worksheet>")  # ~2 GB of spaces
    parts = workbook_parts([sheet_xml(inline("A1", "x"))])
    p.write_bytes(
        zip_bytes(
            [x if x.name != "xl/worksheets/sheet1.xml" else Part(x.name, raw=raw, declared=size, crc=0) for x in parts]
        )
    )


def _zip_bomb_lying(p: Path) -> None:
    """The header says 1 KB; the stream inflates to 256 MB."""
    prefix = sheet_xml(b"").split(b"<sheetData>")[0] + b"<sheetData>"
    raw, _ = deflate_repeat(prefix, b"<row/>", 64, 4, b"</sheetData></worksheet>")
    parts = workbook_parts([sheet_xml(inline("A1", "x"))])
    p.write_bytes(
        zip_bytes(
            [x if x.name != "xl/worksheets/sheet1.xml" else Part(x.name, raw=raw, declared=1024, crc=0) for x in parts]
        )
    )


def _ratio_bomb(p: Path) -> None:
    """Within every size limit, but a shared-strings part packed 1000:1."""
    raw, size = deflate_repeat(b"<sst>", b"\0", 32, 1, b"</sst>")
    p.write_bytes(
        zip_bytes(
            workbook_parts([sheet_xml(inline("A1", "x"))])
            + [Part("xl/sharedStrings.xml", raw=raw, declared=size, crc=0)]
        )
    )


def _many_members(p: Path) -> None:
    p.write_bytes(
        zip_bytes(
            workbook_parts([sheet_xml(inline("A1", "x"))]) + [Part(f"xl/media/image{i}.png", b"") for i in range(3000)]
        )
    )


def _million_rows(dimension: bool) -> Callable[[Path], None]:
    def make(p: Path) -> None:
        body = "".join(f'<row r="{i}"><c r="A{i}"><v>{i}</v></c></row>' for i in range(1, 1_000_001))
        xml = sheet_xml(body, "A1:A1000000" if dimension else None)
        p.write_bytes(zip_bytes(workbook_parts([xml])))

    return make


def _wide_row(p: Path) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(p))
    ws = wb.add_worksheet("统计表")
    ws.write_row(0, 0, list(range(10_000)))
    wb.close()


def _far_cell(p: Path) -> None:
    """Two cells: the readers would allocate all 17 billion in between."""
    p.write_bytes(zip_bytes(workbook_parts([sheet_xml(inline("A1", "单位名称") + '<c r="XFD1048576"><v>1</v></c>')])))


def _huge_reference(p: Path) -> None:
    """A reference beyond Excel's grid (this one used to abort the process in the parser)."""
    p.write_bytes(
        zip_bytes(
            workbook_parts([sheet_xml('<row r="1"><c r="A1"><v>1</v></c><c r="A99999999999"><v>1</v></c></row>')])
        )
    )


def _cells_without_reference(p: Path) -> None:
    """12,000 cells in a row with no ``r``: placed one after another, 12,000 columns wide."""
    p.write_bytes(zip_bytes(workbook_parts([sheet_xml("<row>" + "<c><v>1</v></c>" * 12_000 + "</row>")])))


def _prefixed_far_rows(p: Path) -> None:
    xml = (
        b'<?xml version="1.0"?><x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<x:sheetData><x:row r="1"><x:c r="A1"><x:v>1</x:v></x:c></x:row><x:row r="900000">'
        b'<x:c r="C900000"><x:v>2</x:v></x:c></x:row></x:sheetData></x:worksheet>'
    )
    p.write_bytes(zip_bytes(workbook_parts([xml])))


def _windows_separators(p: Path) -> None:
    """Member names with backslashes (some zip tools): still recognised as a sheet and scanned."""
    parts = workbook_parts([sheet_xml(inline("A1", "单位名称") + '<c r="ZZ900000"><v>1</v></c>')])
    p.write_bytes(
        zip_bytes([Part(x.name.replace("/", "\\") if "worksheets" in x.name else x.name, x.data) for x in parts])
    )


def _billion_laughs(p: Path) -> None:
    dtd = (
        b'<!DOCTYPE worksheet [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    )
    p.write_bytes(zip_bytes(workbook_parts([sheet_xml(inline("A1", "&lol3;"), prolog=dtd)])))


def _external_entity(p: Path) -> None:
    """XXE in the shared strings of a real workbook: the entity would read a local file."""
    parts = sample_parts()
    sst = next(x.data for x in parts if x.name == "xl/sharedStrings.xml")
    head, rest = sst.split(b"?>", 1)
    evil = (
        head
        + b'?><!DOCTYPE sst [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        + rest.replace("示例市东城区教育局".encode(), b"&xxe;", 1)
    )
    p.write_bytes(zip_bytes(replace_part(parts, "xl/sharedStrings.xml", evil)))


LAUGHS = (
    b'<!DOCTYPE sst [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
)
SST_NS = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'


def _small_shared_strings_laughs(p: Path) -> None:
    """A billion-laughs DTD in a shared-strings part of a few hundred bytes (small parts were not inflated);
    declared only, so the parser itself would read the part without complaint."""
    parts = workbook_parts([sheet_xml('<row r="1"><c r="A1" t="s"><v>0</v></c></row>')])
    sst = b'<?xml version="1.0" encoding="UTF-8"?>' + LAUGHS + SST_NS + "<si><t>单位名称</t></si></sst>".encode()
    rel = (
        b'<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        b'sharedStrings" Target="sharedStrings.xml"/></Relationships>'
    )
    parts = [
        Part(x.name, x.data.replace(b"</Relationships>", rel)) if x.name == "xl/_rels/workbook.xml.rels" else x
        for x in parts
    ]
    p.write_bytes(zip_bytes([*parts, Part("xl/sharedStrings.xml", sst)]))


def _dtd_in_part(name: str, where: bytes = b"?>", encoding: str = "utf-8") -> Callable[[Path], None]:
    """A real workbook with an entity declaration put into one of its small non-sheet parts."""

    def make(p: Path) -> None:
        parts = sample_parts()
        data = next(x.data for x in parts if x.name == name)
        head, rest = data.split(where, 1)
        evil = head + where + b'<!DOCTYPE x [<!ENTITY e "entity">]>' + rest
        if encoding != "utf-8":
            evil = evil.replace(b'encoding="UTF-8"', f'encoding="{encoding.upper()}"'.encode())
            evil = b"\xff\xfe" + evil.decode("utf-8").encode("utf-16-le")
        p.write_bytes(zip_bytes(replace_part(parts, name, evil)))

    return make


def _dtd_in_ods_styles(p: Path) -> None:
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body>'
        '<office:spreadsheet><table:table table:name="表三"><table:table-row>'
        "<table:table-cell><text:p>单位名称</text:p></table:table-cell></table:table-row></table:table>"
        "</office:spreadsheet></office:body></office:document-content>"
    ).encode()
    styles = (
        b'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE office:document-styles [<!ENTITY e "x">]>'
        b'<office:document-styles xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"/>'
    )
    p.write_bytes(
        zip_bytes(
            [
                Part("mimetype", b"application/vnd.oasis.opendocument.spreadsheet", method=zipfile.ZIP_STORED),
                Part("content.xml", content),
                Part("styles.xml", styles),
            ]
        )
    )


def _garbage_workbook_xml(p: Path) -> None:
    p.write_bytes(zip_bytes(replace_part(sample_parts(), "xl/workbook.xml", b"\x00\x01 not xml <<<")))


def _too_many_sheets(p: Path) -> None:
    n = reader.MAX_SHEETS + 1
    p.write_bytes(zip_bytes(workbook_parts([sheet_xml(inline("A1", "x"))] * n)))


def _too_many_merged(p: Path) -> None:
    merge = b'<mergeCells count="1"><mergeCell ref="A1:ALL1000"/></mergeCells>'
    p.write_bytes(
        zip_bytes(workbook_parts([sheet_xml(inline("A1", "单位名称") + '<c r="ALL1000"><v>1</v></c>', tail=merge)]))
    )


def _ods_repeat_bomb(p: Path) -> None:
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body>'
        '<office:spreadsheet><table:table table:name="统计表"><table:table-row table:number-rows-repeated="20000">'
        '<table:table-cell office:value-type="float" office:value="1" table:number-columns-repeated="1000">'
        "<text:p>1</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet>"
        "</office:body></office:document-content>"
    ).encode()
    p.write_bytes(
        zip_bytes(
            [
                Part("mimetype", b"application/vnd.oasis.opendocument.spreadsheet", method=zipfile.ZIP_STORED),
                Part("content.xml", content),
            ]
        )
    )


def _oversized(p: Path) -> None:
    with open(p, "wb") as fh:  # sparse: no disk is used for the hole
        fh.write(_good_bytes()[:4])
        fh.truncate(reader.MAX_FILE_BYTES + MB)


def _fifo(p: Path) -> None:
    os.mkfifo(p)  # a pipe named like a workbook: reading it would block forever


def _device_link(p: Path) -> None:
    p.symlink_to("/dev/zero")


def _dangling_link(p: Path) -> None:
    p.symlink_to(p.parent / "已删除的原文件.xlsx")


POSIX_ONLY = {_fifo, _device_link, _dangling_link}  # pipes, devices and symlinks as a POSIX test machine has them


def _no_labels(p: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["姓名", "年龄", "电话"])
    wb.active.append(["张三", 30, "123"])
    wb.save(p)


HTML = """<html xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:x="urn:schemas-microsoft-com:office:excel">
<head><meta charset="utf-8"><title>政府信息公开统计表</title></head><body><table border="1">
<tr><td>指标</td><td>数量</td></tr><tr><td>本年新收政府信息公开申请数量</td><td>12</td></tr></table></body></html>"""
XML2003 = """<?xml version="1.0"?><?mso-application progid="Excel.Sheet"?>
<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet">
<Worksheet ss:Name="Sheet1"><Table><Row><Cell><Data ss:Type="String">单位名称</Data></Cell></Row></Table>
</Worksheet></Workbook>"""
CSV = "统计指标,单位,统计数\n本年新收政府信息公开申请数量,件,12\n上年结转政府信息公开申请数量,件,0\n"


@dataclass
class Bad:
    name: str
    make: Callable[[Path], None]
    fragment: str  # part of the expected Chinese message
    in_batch: bool = True  # files that need a monkeypatch cannot go into the subprocess batch


CORPUS = [
    Bad("空文件.xlsx", _write(b""), "空文件（0 字节）"),
    Bad("全是空字节.xlsx", _zeros, "全是空字节"),
    Bad("网页另存.xls", _write(HTML.encode("utf-8")), "网页（HTML）"),
    Bad("网页改名.xlsx", _write(("\ufeff" + HTML).encode("utf-8")), "网页（HTML）"),
    Bad("业务系统导出.xls", _write(XML2003.encode("utf-8")), "Excel 2003 XML"),
    Bad("逗号分隔.xlsx", _write(CSV.encode("utf-8")), "文本文件（CSV"),
    Bad("国标编码文本.xls", _write(CSV.replace(",", "\t").encode("gbk")), "文本文件（CSV"),
    Bad("Unicode文本.xls", _write(b"\xff\xfe" + CSV.replace(",", "\t").encode("utf-16-le")), "文本文件（CSV"),
    Bad("PDF改名.xlsx", _write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n"), "PDF 文件"),
    Bad("图片改名.xlsx", _write(b"\x89PNG\r\n\x1a\n" + os.urandom(200)), "是图片"),
    Bad("压缩包改名.xlsx", _write(b"Rar!\x1a\x07\x01\x00" + os.urandom(100)), "压缩包（RAR/7z/gzip）"),
    Bad("普通压缩包.xlsx", _plain_zip, "普通的 ZIP 压缩包"),
    Bad("Word文档.xlsx", _docx, "是 Word 文档"),
    Bad("Word97文档.xls", _word97, "是 Word 文档（.doc）"),
    Bad("演示文稿.xlsx", _pptx, "PowerPoint 演示文稿"),
    Bad("二进制工作簿.xlsx", _xlsb, "二进制工作簿（.xlsb）"),
    Bad("复制一半.xlsx", _truncated_half, "不完整（可能没有复制完"),
    Bad("少了结尾.xlsx", _truncated_tail, "不完整（可能没有复制完"),
    Bad("数据损坏.xlsx", _corrupt_member, "已损坏"),
    Bad("校验和错误.xlsx", _bad_crc, "已损坏"),
    Bad("缺少工作簿主体.xlsx", _without_workbook_part, "缺少工作簿主体"),
    Bad("主体不是XML.xlsx", _garbage_workbook_xml, "无法读取"),
    Bad("设置了打开密码.xlsx", _encrypted_ooxml, "设置了打开密码（已加密）"),
    Bad("加密后改名.xls", _encrypted_ooxml, "设置了打开密码（已加密）"),
    Bad("旧版加密.xls", _encrypted_xls, "设置了打开密码（已加密）"),
    Bad("压缩包加密.xlsx", _zip_password, "压缩包设置了密码"),
    Bad("压缩炸弹.xlsx", _zip_bomb, "可能是压缩炸弹"),
    Bad("压缩炸弹谎报大小.xlsx", _zip_bomb_lying, "解压后比声明的大小更大"),
    Bad("压缩比异常.xlsx", _ratio_bomb, "压缩比异常"),
    Bad("部件过多.xlsx", _many_members, "包含的部件过多"),
    Bad("一百万行.xlsx", _million_rows(True), "1000000 行 × 1 列"),
    Bad("一百万行无声明.xlsx", _million_rows(False), "至少 100001 行 × 1 列"),
    Bad("一万列.xlsx", _wide_row, "1 行 × 10000 列"),
    Bad("两个单元格相隔很远.xlsx", _far_cell, "最远到 XFD1048576 单元格"),
    Bad("超出网格的引用.xlsx", _huge_reference, "到 A99999999999 单元格"),
    Bad("单元格无引用.xlsx", _cells_without_reference, "至少 1 行 × 1001 列"),
    Bad("命名空间前缀.xlsx", _prefixed_far_rows, "900000 行"),
    Bad("反斜杠路径.xlsx", _windows_separators, "最远到 ZZ900000 单元格"),
    Bad("旧版格式远处单元格.xls", _xls_far_cell, "65536 行 × 256 列"),
    Bad("旧版格式声明范围过大.xls", _xls_forged_dimensions, "392637695 行 × 15 列"),
    Bad("旧版格式藏起来的工作表.xls", _xls_hidden_sheet_offset, "65536 行 × 256 列"),
    Bad("共享字符串数量伪造.xls", _xls_forged_sst, "已损坏"),
    Bad("复合文档头部伪造.xls", _cfb_forged_header, "已损坏"),
    Bad("复合文档流大小伪造.xls", _cfb_forged_stream_size, "已损坏"),
    Bad("重复展开.ods", _ods_repeat_bomb, "20000 行 × 1000 列"),
    Bad("实体膨胀.xlsx", _billion_laughs, "DTD/实体声明"),
    Bad("外部实体.xlsx", _external_entity, "DTD/实体声明"),
    Bad("小共享字符串实体膨胀.xlsx", _small_shared_strings_laughs, "DTD/实体声明"),
    Bad("共享字符串中的实体.xlsx", _dtd_in_part("xl/sharedStrings.xml"), "DTD/实体声明"),
    Bad("样式中的实体.xlsx", _dtd_in_part("xl/styles.xml"), "DTD/实体声明"),
    Bad("内容类型中的实体.xlsx", _dtd_in_part("[Content_Types].xml"), "DTD/实体声明"),
    Bad("关系中的实体.xlsx", _dtd_in_part("xl/_rels/workbook.xml.rels"), "DTD/实体声明"),
    Bad("文档属性中的实体.xlsx", _dtd_in_part("docProps/core.xml"), "DTD/实体声明"),
    Bad("工作簿中的实体.xlsx", _dtd_in_part("xl/workbook.xml"), "DTD/实体声明"),
    Bad("UTF16共享字符串实体.xlsx", _dtd_in_part("xl/sharedStrings.xml", encoding="utf-16"), "DTD/实体声明"),
    Bad("ODS样式中的实体.ods", _dtd_in_ods_styles, "DTD/实体声明"),
    Bad("工作表过多.xlsx", _too_many_sheets, f"{reader.MAX_SHEETS + 1} 个工作表"),
    Bad("合并单元格过多.xlsx", _too_many_merged, "合并单元格过多"),
    Bad("超大文件.xlsx", _oversized, f"超过上限 {reader.MAX_FILE_BYTES // MB} MB"),
    Bad("管道.xlsx", _fifo, "不是普通文件"),
    Bad("设备链接.xlsx", _device_link, "不是普通文件"),
    Bad("失效链接.xlsx", _dangling_link, "失效的快捷方式"),
    Bad("没有统计表.xlsx", _no_labels, "未找到政府信息公开统计表"),
]


def make(bad: Bad, folder: Path) -> Path | None:
    if bad.make in POSIX_ONLY and os.name != "posix":
        return None
    p = folder / bad.name
    bad.make(p)
    return p


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("corpus")
    for bad in CORPUS:
        make(bad, d)
    return d


def test_the_corpus_covers_every_case():
    assert len(CORPUS) >= 30
    assert len({b.name for b in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("bad", CORPUS, ids=[b.name for b in CORPUS])
def test_bad_file_gets_its_chinese_message(corpus_dir, bad):
    if not os.path.lexists(corpus_dir / bad.name):
        pytest.skip("此类文件只在 POSIX 系统上构造")
    with pytest.raises(ReadError) as exc:
        read_workbook(corpus_dir / bad.name)
    assert bad.fragment in exc.value.message, exc.value.message
    assert bad.name in exc.value.message
    assert not exc.value.message.isascii()


def test_sniffing_names_what_the_bytes_are(corpus_dir):
    kinds = {
        n: reader.file_kind(corpus_dir / n)
        for n in (
            "网页另存.xls",
            "逗号分隔.xlsx",
            "Word文档.xlsx",
            "设置了打开密码.xlsx",
            "旧版格式远处单元格.xls",
            "复制一半.xlsx",
            "二进制工作簿.xlsx",
        )
    }
    assert kinds == {
        "网页另存.xls": "html",
        "逗号分隔.xlsx": "text",
        "Word文档.xlsx": "docx",
        "设置了打开密码.xlsx": "encrypted",
        "旧版格式远处单元格.xls": "xls",
        "复制一半.xlsx": "broken",
        "二进制工作簿.xlsx": "xlsb",
    }
    assert reader.file_kind(GOOD) == "xlsx"


def test_small_xls_streams_are_read_from_the_mini_stream():
    """A tiny .xls keeps its Workbook stream in the compound file's mini stream (< 4096 bytes)."""
    p = Path(__file__).with_name("corpus") / "files" / "一个单元格.xls"
    cfb = reader._Cfb(p.read_bytes())
    assert cfb.entries["Workbook"][1] < cfb.cutoff
    assert cfb.stream("Workbook")[:2] == b"\x09\x08"  # BOF
    [sheet] = reader.load_sheets(p)
    assert sheet.rows[0][0] == "单位名称"


def test_a_huge_merge_is_clipped_and_the_workbook_still_reads(tmp_path):
    """A merge over the whole grid on the guide sheet: read as before, nothing allocated for it."""
    parts = sample_parts()
    merged = []
    for x in parts:
        if x.name == "xl/worksheets/sheet1.xml":  # 填表说明
            x = Part(
                x.name,
                x.data.replace(
                    b"</sheetData>",
                    b'</sheetData><mergeCells count="1"><mergeCell ref="A1:XFD1048576"/></mergeCells>',
                    1,
                ),
            )
        merged.append(x)
    p = tmp_path / "整表合并.xlsx"
    p.write_bytes(zip_bytes(merged))
    good, unit = read_workbook(GOOD), read_workbook(p)
    assert unit.values == good.values and unit.unit == good.unit


def test_a_declared_entity_is_never_expanded(tmp_path):
    """Beyond the refusal: the parser itself does not expand entities (checked without our pre-scan)."""
    import python_calamine as pc

    p = tmp_path / "e.xlsx"
    _billion_laughs(p)
    with pytest.raises(Exception) as exc:
        pc.CalamineWorkbook.from_path(str(p)).get_sheet_by_name("表1").to_python()
    assert "entity" in str(exc.value)


# --------------------------------------------------------------------------- locked, changing, slow


def test_locked_file(tmp_path, monkeypatch):
    """Excel on Windows holds the file: opening it fails with a sharing violation (PermissionError)."""
    p = tmp_path / "正在编辑.xlsx"
    shutil.copy(GOOD, p)
    real_open = os.open

    def locked(path, *a, **k):
        if Path(path) == p:
            raise PermissionError(13, "The process cannot access the file because it is being used by another process")
        return real_open(path, *a, **k)

    monkeypatch.setattr(reader.os, "open", locked)
    with pytest.raises(ReadError) as exc:
        read_workbook(p)
    assert "正被其他程序（如 Excel、WPS）占用" in exc.value.message and p.name in exc.value.message


def test_unreadable_medium(tmp_path, monkeypatch):
    p = tmp_path / "U盘.xlsx"
    shutil.copy(GOOD, p)
    real_fdopen = os.fdopen

    class Failing:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.fh.close()

        def fileno(self):
            return self.fh.fileno()

        def read(self, n):
            raise OSError(5, "Input/output error")

    monkeypatch.setattr(reader.os, "fdopen", lambda fd, mode: Failing(real_fdopen(fd, mode)))
    with pytest.raises(ReadError) as exc:
        read_workbook(p)
    assert "U 盘已拔出" in exc.value.message


def test_file_still_being_copied(tmp_path, monkeypatch):
    """The size grows between the stat and the read: reported, not half-read."""
    p = tmp_path / "复制中.xlsx"
    data = _good_bytes()
    p.write_bytes(data[:1000])
    real_fdopen = os.fdopen

    def growing(fd, mode):
        p.write_bytes(data)  # the copy goes on while we open it
        return real_fdopen(fd, mode)

    monkeypatch.setattr(reader.os, "fdopen", growing)
    with pytest.raises(ReadError) as exc:
        read_workbook(p)
    assert "正在被写入或复制" in exc.value.message


def test_folder_named_like_a_workbook(tmp_path):
    (tmp_path / "文件夹.xlsx").mkdir()
    with pytest.raises(ReadError) as exc:
        read_workbook(tmp_path / "文件夹.xlsx")
    assert "是文件夹" in exc.value.message


needs_timer = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="需要 SIGALRM 定时器")


@needs_timer
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the timer may land in a __del__
def test_read_time_limit(tmp_path, monkeypatch):
    """A slow file (here: within every limit, but 1.5 million cells to walk) stops at the time limit."""
    from gkreport.spec import load_form

    p = tmp_path / "很慢.xlsx"
    titles = [t.title_for(None) for t in load_form("2021").tables.values()][:3]
    body = "".join(f'<row r="{i + 1}">{inline(f"A{i + 1}", t)}</row>' for i, t in enumerate(titles))
    body += '<row r="60000"><c r="Z60000"><v>1</v></c></row>'
    p.write_bytes(zip_bytes(workbook_parts([sheet_xml(body)])))
    monkeypatch.setattr(reader, "READ_TIME_LIMIT", 0.05)
    # the timer repeats until the exception lands where Python can raise it; one landing in a __del__
    # (swallowed) or in pytest's own hook for such exceptions would otherwise fail this test at random
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: None)
    with pytest.raises(ReadError) as exc:
        read_workbook(p)
    assert "读取超时" in exc.value.message and isinstance(exc.value, reader.ReadTimeout)
    monkeypatch.setattr(sys, "unraisablehook", sys.__unraisablehook__)
    # the timer is gone afterwards, and a normal file reads as before
    monkeypatch.setattr(reader, "READ_TIME_LIMIT", 60.0)
    assert read_workbook(GOOD).unit == "示例市东城区教育局"
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


@needs_timer
def test_time_limit_gives_an_outer_timer_back(monkeypatch):
    fired = []
    old = signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 5.0)
        read_workbook(GOOD)
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 3.0 < left <= 5.0
        assert signal.getsignal(signal.SIGALRM) is not None and not fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# --------------------------------------------------------------------------- memory and time, measured in a child

_CHILD = r"""
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))  # a safety net for the machine running the test


def peak_kb():
    # VmHWM: this process's own high-water mark (ru_maxrss would include the forking parent's)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


from gkreport.errors import ReadError
from gkreport.reader import read_workbook
base = peak_kb()
t = time.perf_counter()
try:
    read_workbook(sys.argv[1])
    msg = None
except ReadError as exc:
    msg = exc.message
print(json.dumps({"message": msg, "seconds": time.perf_counter() - t, "base_kb": base, "peak_kb": peak_kb()}))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="按 Linux 的 /proc 与 RLIMIT_AS 测量内存")
@pytest.mark.parametrize(
    "name",
    [
        "压缩炸弹.xlsx",
        "压缩炸弹谎报大小.xlsx",
        "一百万行.xlsx",
        "一百万行无声明.xlsx",
        "两个单元格相隔很远.xlsx",
        "超出网格的引用.xlsx",
        "旧版格式远处单元格.xls",
        "旧版格式声明范围过大.xls",
        "共享字符串数量伪造.xls",
        "复合文档头部伪造.xls",
        "复合文档流大小伪造.xls",
        "重复展开.ods",
    ],
)
def test_refusal_stays_under_the_memory_ceiling(corpus_dir, name):
    bad = next(b for b in CORPUS if b.name == name)
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(corpus_dir / name)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["message"] and bad.fragment in r["message"]
    peak_mb = r["peak_kb"] / 1024
    print(
        f"{name}: refused in {r['seconds']:.2f} s, peak RSS {peak_mb:.0f} MB "
        f"(after imports {r['base_kb'] / 1024:.0f} MB)"
    )
    assert peak_mb < CEILING_MB
    assert r["seconds"] < 10


# --------------------------------------------------------------------------- the batch over the whole corpus


@pytest.mark.slow
def test_batch_over_the_corpus(tmp_path):
    inp = tmp_path / "in"
    inp.mkdir()
    for bad in CORPUS:
        make(bad, inp)
    shutil.copy(GOOD, inp / GOOD.name)
    (inp / "说明.txt").write_text("不是工作簿：列出，说明该怎么办，不读取")
    before = {p.name: (p.lstat().st_size, p.lstat().st_mtime_ns) for p in inp.iterdir()}
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "gkreport", "batch", str(inp), "-o", str(out), "--jobs", "2"],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=300,
    )
    assert run.returncode == 2, run.stdout[-3000:] + run.stderr[-3000:]
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout
    report = json.loads((out / "审核报告.json").read_text(encoding="utf-8"))
    rows = {r["input"]: r for r in report["units"]}
    batch_bad = [b for b in CORPUS if b.in_batch and os.path.lexists(inp / b.name)]
    for bad in batch_bad:
        row = rows[bad.name]
        assert row["status"] == "无法读取", (bad.name, row)
        assert bad.fragment in row["reason"] and bad.name in row["reason"], (bad.name, row["reason"])
    good = rows[GOOD.name]
    assert good["status"] in ("通过", "有提示", "有错误")
    for kind in ("docx", "xlsx"):
        assert (out / good["outputs"][kind]).resolve().is_file()
    assert set(rows) == {b.name for b in batch_bad} | {GOOD.name, "说明.txt"}
    assert rows["说明.txt"]["status"] == "无法读取" and "这是纯文本文件" in rows["说明.txt"]["reason"]
    # inputs untouched
    assert {p.name: (p.lstat().st_size, p.lstat().st_mtime_ns) for p in inp.iterdir()} == before


def test_batch_reports_a_locked_file_and_goes_on(tmp_path, monkeypatch):
    from gkreport.batch import BatchOptions, run_batch

    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copy(GOOD, inp / GOOD.name)
    locked = inp / "被占用.xlsx"
    shutil.copy(SAMPLES / "示例市东城区市场监督管理局2025年统计表.xlsx", locked)
    real_open = os.open

    def fake_open(path, *a, **k):
        if Path(path).name == locked.name:
            raise PermissionError(13, "sharing violation")
        return real_open(path, *a, **k)

    monkeypatch.setattr(reader.os, "open", fake_open)
    result = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=1))
    rows = {r.input: r for r in result.records}
    assert rows[locked.name].status == "无法读取" and "正被其他程序" in rows[locked.name].reason
    assert rows[GOOD.name].status != "无法读取" and rows[GOOD.name].outputs["docx"]
    assert result.exit_code == 2


def test_batch_reports_a_file_changed_while_processing(tmp_path):
    """The worker's bytes differ from those the batch hashed: reported, never half-processed."""
    from gkreport.batch import BatchOptions, _process_chunk

    p = tmp_path / "in" / GOOD.name
    p.parent.mkdir()
    shutil.copy(GOOD, p)
    opts = BatchOptions(input_dir=p.parent, output_dir=tmp_path / "out", jobs=1)
    [rec] = _process_chunk([(str(p), p.name, "0" * 64)], opts)
    assert rec.status == "无法读取" and "在处理过程中被修改" in rec.reason and not rec.outputs
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("*.docx"))


def test_a_new_file_changed_while_its_worker_reads_it_is_reported(tmp_path, monkeypatch):
    """A new file is hashed by its worker as it is read (not first by the batch): a change while it is
    read is still reported, and the next run processes what it has become."""
    from gkreport import reader
    from gkreport.batch import BatchOptions, run_batch

    p = tmp_path / "in" / GOOD.name
    p.parent.mkdir()
    shutil.copy(GOOD, p)
    real = reader.read_workbook

    def read_then_saved_again(path, *a, **k):
        unit = real(path, *a, **k)
        Path(path).write_bytes(Path(path).read_bytes())  # saved again while being read
        return unit

    monkeypatch.setattr(reader, "read_workbook", read_then_saved_again)
    opts = BatchOptions(input_dir=p.parent, output_dir=tmp_path / "out", jobs=1)
    [rec] = run_batch(opts).records
    assert rec.status == "无法读取" and "在处理过程中被修改" in rec.reason and not rec.outputs
    monkeypatch.setattr(reader, "read_workbook", real)
    [rec] = run_batch(opts).records
    assert rec.status != "无法读取" and rec.outputs["docx"]
    assert rec.hash == hashlib.sha256(p.read_bytes()).hexdigest()


def test_batch_survives_a_check_engine_failure(tmp_path, monkeypatch):
    """Should the check engine fail on one unit, that unit is reported and the others are written."""
    from gkreport import pipeline
    from gkreport.batch import BatchOptions, run_batch

    inp = tmp_path / "in"
    inp.mkdir()
    for src in sorted(SAMPLES.glob("示例*.xlsx"))[:3]:
        shutil.copy(src, inp / src.name)
    real = pipeline.run_checks

    def flaky(units, previous=None):
        if any(u.unit == "示例市东城区教育局" for u in units):
            raise OverflowError("cannot convert float infinity to integer")
        return real(units, previous)

    monkeypatch.setattr(pipeline, "run_checks", flaky)
    result = run_batch(BatchOptions(input_dir=inp, output_dir=tmp_path / "out", jobs=1))
    by_unit = {r.unit: r for r in result.records}
    assert by_unit["示例市东城区教育局"].status == "无法读取"
    assert "审核时出错" in by_unit["示例市东城区教育局"].reason
    others = [r for u, r in by_unit.items() if u != "示例市东城区教育局"]
    assert len(others) == 2 and all(r.outputs.get("docx") and r.findings is not None for r in others)


def test_fast_extent_scan_agrees_with_the_tag_walk():
    """The one-pass scan used for normal files gives what the careful walk gives."""
    for src in sorted(SAMPLES.glob("*.xlsx")):
        with zipfile.ZipFile(src) as z:
            for n in z.namelist():
                if n.startswith("xl/worksheets/"):
                    xml = z.read(n)
                    fast, walk = reader._sheet_extent(xml), reader._sheet_extent_walk(xml)
                    assert fast[:2] == walk[:2] and fast[0] > 0, (src.name, n, fast, walk)


# --------------------------------------------------------------------------- output safety

HOSTILE_NAMES = [
    "../../etc",
    "..",
    "...",
    ". .",
    "CON",
    "con.txt",
    "nul",
    "LPT9",
    "a/b\\c",
    "C:\\Windows\\x",
    "单位\x00名称\x07\x1b[31m",
    "\u202e局育教",
    "很" * 300,
    "A" * 300,
    '=HYPERLINK("http://x","y")',
    "/etc/passwd",
    "~root",
    '单位:*?"<>|名称',
    " 前后有空格 ",
    "\t\n",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_output_names_stay_inside_the_output_folder(tmp_path, name):
    from gkreport.batch import folder_names
    from gkreport.docx_out import report_docx_name
    from gkreport.model import Unit
    from gkreport.spec import load_form
    from gkreport.xlsx_out import unit_xlsx_name

    reserved = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
    unit = Unit(file=Path("x.xlsx"), form=load_form("2021"), unit=name, year=2025)
    out = tmp_path / "out"
    folders = folder_names(name)  # the unit's folder, and the tagged one it takes when another unit has that
    for part in (*folders, report_docx_name(unit), unit_xlsx_name(unit)):
        assert part and part not in (".", "..")
        assert not any(ch in part for ch in '/\\:*?"<>|') and not any(ord(ch) < 32 for ch in part)
        assert part.split(".")[0].strip().upper() not in reserved
        assert len(part.encode("utf-8")) <= 240 and part == part.strip() and not part.endswith(".")
    for folder in folders:
        for target in (out / "2025" / folder / report_docx_name(unit), out / "2025" / folder / unit_xlsx_name(unit)):
            assert target.resolve().is_relative_to(out.resolve())


def test_two_long_names_do_not_share_outputs():
    from gkreport.formatting import safe_filename

    a, b = "很" * 200 + "甲", "很" * 200 + "乙"
    assert safe_filename(a, limit=80) != safe_filename(b, limit=80)


FORMULAS = [
    '=HYPERLINK("http://evil.example/","点击")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1,2)",
    "=1+1",
    "\t=1+1",
    '=DDE("cmd";"/C calc";"x")',
]
XML_TEXT = "尖括号<w:p>与&amp;、]]>结尾，控制符\x01\x02\x0b\x1f在此，引号\"'结束"


@pytest.fixture(scope="module")
def hostile_batch(tmp_path_factory):
    """Units whose names and texts are formulas, paths and XML; one run of the batch over them."""
    from gkreport.batch import BatchOptions, run_batch
    from gkreport.samples import SAMPLES_2021
    from gkreport.spec import load_form
    from gkreport.template import write_template

    root = tmp_path_factory.mktemp("hostile")
    inp, out = root / "in", root / "out"
    inp.mkdir()
    form = load_form("2021")
    s = SAMPLES_2021[0]
    names = [
        '=HYPERLINK("http://evil.example/","点击")',
        "../../越界单位",
        "CON",
        "@SUM(1,2)局",
        "-2+3局",
        "+cmd|' /C calc'!A0",
        "很" * 150,
    ]
    for i, name in enumerate(names):
        meta = dict(
            s["meta"], unit=name, signer=FORMULAS[i % len(FORMULAS)], contact="=1+1", phone="+86 0533", email="@example"
        )
        narrative = {
            "overview": FORMULAS[i % len(FORMULAS)] + "\n" + XML_TEXT,
            "problems": "=SUM(A1:A9)\n" + XML_TEXT,
            "other": "@" + XML_TEXT,
        }
        write_template(form, inp / f"单位{i}.xlsx", values=s["values"], meta=meta, narrative=narrative)
    before = {p: p.read_bytes() for p in inp.iterdir()}
    result = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1))
    assert {p: p.read_bytes() for p in inp.iterdir()} == before
    return root, out, result, names


def test_hostile_units_land_inside_the_output_folder(hostile_batch):
    root, out, result, names = hostile_batch
    assert sorted(p.name for p in root.iterdir()) == ["in", "out"]  # nothing written beside the folders
    files = [p for p in out.rglob("*") if p.is_file()]
    assert all(p.resolve().is_relative_to(out.resolve()) for p in files)
    assert {r.unit for r in result.records} == set(names)
    for r in result.records:
        assert r.status != "无法读取", (r.unit, r.reason)
        for rel in (r.outputs["docx"], r.outputs["xlsx"]):
            assert (out / rel).resolve().is_relative_to(out.resolve()) and (out / rel).is_file()


def test_no_workbook_text_becomes_a_formula(hostile_batch):
    import re

    _, out, _, names = hostile_batch
    workbooks = list(out.rglob("*.xlsx"))
    assert len(workbooks) >= len(names) + 2  # units, the summary, the batch reports
    strings = ""
    for wb in workbooks:
        with zipfile.ZipFile(wb) as z:
            for n in z.namelist():
                assert not n.startswith("xl/externalLinks/"), (wb, n)
                if n.startswith("xl/worksheets/") and n.endswith(".xml"):
                    xml = z.read(n).decode("utf-8")
                    assert not re.search(r"<f[ >]", xml), (wb.name, n)
                    assert "<ddeLink" not in xml
                    strings += "".join(
                        re.findall(r'<c [^>]*t="inlineStr"[^>]*><is>(.*?)</is></c>', xml)
                    )  # text in line
            if "xl/sharedStrings.xml" in z.namelist():
                strings += z.read("xl/sharedStrings.xml").decode("utf-8")
    for text in names[:6] + ["=SUM(A1:A9)", "=1+1"]:  # written, as text
        assert _xml_escape(text) in strings, text


def _xml_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_unit_name_and_texts_are_string_cells(hostile_batch):
    from openpyxl import load_workbook

    _, out, result, _ = hostile_batch
    rec = next(r for r in result.records if r.unit.startswith("=HYPERLINK"))
    wb = load_workbook(out / rec.outputs["xlsx"])
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    hits = [c for c in cells if c.value.startswith(("=HYPERLINK", "@SUM", "=SUM", "+cmd", "-2+3", "=1+1"))]
    assert hits and all(c.data_type == "s" for c in hits)


def test_word_report_escapes_the_narrative(hostile_batch):
    import docx
    from lxml import etree

    _, out, result, _ = hostile_batch
    for rec in result.records:
        path = out / rec.outputs["docx"]
        doc = docx.Document(str(path))  # a valid package python-docx can open
        text = "\n".join(p.text for p in doc.paragraphs)
        visible = "尖括号<w:p>与&amp;、]]>结尾，控制符在此，引号\"'结束"
        assert visible in text, rec.unit
        assert not any(ord(ch) < 32 and ch not in "\t\n" for ch in text)
        with zipfile.ZipFile(path) as z:
            root = etree.fromstring(z.read("word/document.xml"))
        ns = {"w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main"}
        assert not root.xpath(
            "//w:fldSimple|//w:instrText[contains(., 'DDE') or contains(., 'HYPERLINK')]", namespaces=ns
        )
