"""Archives joined from deflated parts are what zipfile writes, and open as zips."""

from __future__ import annotations

import io
import zipfile

from gkreport import zipparts

WHEN = (2000, 1, 1, 0, 0, 0)
PARTS = [("word/document.xml", "<w:t>年度报告</w:t>" * 40), ("docProps/core.xml", "<c/>"), ("名称.xml", "<x/>")]


def _zipfile_bytes(parts, level: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in parts:
            info = zipfile.ZipInfo(name, WHEN)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, text.encode("utf-8"), compresslevel=level)
    return buf.getvalue()


def test_joined_parts_are_the_bytes_zipfile_writes():
    joined = zipparts.join([(n, zipparts.deflate(t.encode("utf-8"), 6)) for n, t in PARTS], when=WHEN)
    assert joined == _zipfile_bytes(PARTS, 6)


def test_parts_joined_to_a_base_archive_open_with_all_members():
    base = zipparts.split(_zipfile_bytes(PARTS[:1], 6))
    joined = zipparts.join([(n, zipparts.deflate(t.encode("utf-8"), 1)) for n, t in PARTS[1:]], when=WHEN, base=base)
    with zipfile.ZipFile(io.BytesIO(joined)) as zf:
        assert zf.testzip() is None
        assert zf.namelist() == [n for n, _ in PARTS]
        assert [zf.read(n).decode("utf-8") for n, _ in PARTS] == [t for _, t in PARTS]
        assert zf.getinfo("名称.xml").date_time == WHEN
