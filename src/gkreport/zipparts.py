"""Zip archives of already deflated parts, written as Python's ``zipfile`` writes them.

The unit workbook (:mod:`gkreport.xlsx_fill`) and the Word report (:mod:`gkreport.docx_out`) are
packages whose parts are mostly the same for every unit: those parts are deflated once
(:func:`deflate`) and each unit's archive is joined from them here, with no ``zipfile`` object
per unit. The bytes are what ``zipfile`` writes for a deflated member with a fixed date and no
extra fields; the Word report also appends its own parts to an archive made once (``base``).
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Sequence

Member = tuple[int, int, bytes]  # CRC-32 and size of the part, its deflated bytes

_CREATE_SYSTEM = zipfile.ZipInfo("x").create_system  # what zipfile writes on this system
_FILE_ATTR = 0o600 << 16  # a regular file, as zipfile marks one written from bytes
_UTF8_NAME = 0x800


def deflate(data: bytes, level: int) -> Member:
    """A part deflated (raw, as a zip member holds it) at ``level``."""
    return zlib.crc32(data), len(data), zlib.compress(data, level, -15)


def dos_stamp(when: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    """(date, time) of the zip headers for ``when`` (year, month, day, hour, minute, second)."""
    y, mo, d, h, mi, s = when
    return ((y - 1980) << 9) | (mo << 5) | d, (h << 11) | (mi << 5) | (s // 2)


def split(archive: bytes) -> tuple[bytes, bytes, int]:
    """An archive (without a comment) as (its members, its central directory, the number of members):
    the ``base`` of :func:`join`."""
    count, size, offset = struct.unpack_from("<HII", archive, len(archive) - 22 + 10)
    return archive[:offset], archive[offset : offset + size], count


def join(
    members: Sequence[tuple[str, Member]],
    when: tuple[int, int, int, int, int, int] = (1980, 1, 1, 0, 0, 0),
    base: tuple[bytes, bytes, int] = (b"", b"", 0),
) -> bytes:
    """The archive of ``base`` (see :func:`split`) followed by ``members`` (name, deflated part),
    each dated ``when``."""
    date, time = dos_stamp(when)
    out = [base[0]]
    central = [base[1]]
    offset = len(base[0])
    for name, (crc, size, data) in members:
        raw_name = name.encode("utf-8")
        flags = 0 if raw_name.isascii() else _UTF8_NAME
        fields = (8, time, date, crc, len(data), size, len(raw_name))
        head = struct.pack("<4s2H", b"PK\x03\x04", 20, flags) + struct.pack("<3H3LH", *fields) + b"\0\0"
        central.append(
            struct.pack("<4s2B2H", b"PK\x01\x02", 20, _CREATE_SYSTEM, 20, flags)
            + struct.pack("<3H3LH", *fields)
            + struct.pack("<4HLL", 0, 0, 0, 0, _FILE_ATTR, offset)
            + raw_name
        )
        out += (head, raw_name, data)
        offset += len(head) + len(raw_name) + len(data)
    directory = b"".join(central)
    count = base[2] + len(members)
    out += (directory, struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(directory), offset, 0))
    return b"".join(out)
