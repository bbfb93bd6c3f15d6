"""The roster (名单): the units expected to report, with the addresses their mail goes to.

A roster is the first sheet of an .xlsx or a .csv (UTF-8, UTF-8 with BOM, GBK as
Excel saves it on Chinese Windows, or UTF-16 "Unicode text") whose header row
reads 单位名称 | 邮箱 | 抄送 (the address columns are optional when only names
are needed).

Names are matched to the units recorded by the batch in one place,
:func:`match_names`: a roster name denotes a unit when the two are equal, or
equal after normalisation (full/half width, spaces, line breaks and other
invisible characters) and no other unit shares that normalised name. Anything
less is never taken as a match; it only yields a question for the user
(``是否为“某某区卫生健康局”？``) from :func:`near_units`: the same name with the
usual abbreviations (卫生健康/卫健, 市场监督管理/市场监管, 住房和城乡建设/住建 …),
the same department without the place in front, or a one-character slip in a
longer name.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import RosterError
from .formatting import plain_name, shown_name
from .labels import norm, similar

# --------------------------------------------------------------------------- text


# Control, format and line/paragraph separator characters (U+2028, U+0085, \x0c, \x1c–\x1e, CR/LF …):
# never part of a name, and each of them can break a header, a file name or a line.
_CONTROL = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]"
)


def _repair(text: str) -> str:
    """Lone surrogates (bytes a file system could not decode, e.g. GBK from a Windows zip) become
    the characters they stand for in GB18030, or U+FFFD."""

    def decode(m: re.Match) -> str:
        raw = m.group(0).encode("utf-8", "surrogateescape")
        try:
            return raw.decode("gb18030")
        except UnicodeDecodeError:
            return "\ufffd"

    return _SURROGATES.sub(decode, text)


_SURROGATES = re.compile(r"[\udc80-\udcff]+")
_LONE = re.compile(r"[\ud800-\udfff]")


def clean_line(value: Any) -> str:
    """One line of plain text: control and invisible characters become spaces, runs of spaces one."""
    s = _CONTROL.sub(" ", _LONE.sub("\ufffd", _repair(str(value))))
    return re.sub(r"\s+", " ", s).strip()


def name_key(name: Any) -> str:
    """The key two spellings of one name share: width folded, no spaces or invisible characters."""
    return _CONTROL.sub("", norm(_LONE.sub("\ufffd", _repair(str(name)))))


# --------------------------------------------------------------------------- reading


@dataclass
class RosterEntry:
    unit: str  # cleaned (:func:`clean_line`)
    to: list[str] = field(default_factory=list)  # address strings as written, one per address
    cc: list[str] = field(default_factory=list)
    where: str = ""  # e.g. "第 3 行"


_UNIT_HEADERS = {"单位名称", "单位", "单位全称", "部门", "部门名称", "单位(部门)名称", "单位(部门)"}
_TO_HEADERS = {"邮箱", "电子邮箱", "邮箱地址", "电子邮件", "收件人", "收件邮箱", "收件人邮箱"}
_CC_HEADERS = {"抄送", "抄送邮箱", "抄送人"}
_SEPARATORS = ";；,，、"


def split_addresses(text: Any) -> list[str]:
    """Split a cell such as ``a@x.cn；b@y.cn、张三<c@z.cn> "Li, Si" <d@z.cn>`` into address strings.

    Separators (; ； , ， 、 and spaces) inside quotes or angle brackets belong to the address;
    words before ``<…>`` are its display name.
    """
    if text is None:
        return []
    s = str(text)
    # Pieces at the hard separators, outside quotes and angle brackets.
    pieces: list[str] = []
    buf: list[str] = []
    quoted = angled = False
    for ch in s:
        if ch == '"' and not angled:
            quoted = not quoted
        elif ch == "<" and not quoted:
            angled = True
        elif ch == ">" and not quoted:
            angled = False
        if ch in _SEPARATORS and not quoted and not angled:
            pieces.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    pieces.append("".join(buf))
    out: list[str] = []
    for piece in pieces:
        # Within a piece: a bare address stands alone; other words gather into the name before <…>.
        tokens = re.findall(r'"(?:[^"\\]|\\.)*"?|<[^<>]*>?|[^\s"<]+', piece)
        name: list[str] = []
        for tok in tokens:
            if tok.startswith("<"):
                out.append((" ".join(name) + " " + tok).strip())
                name = []
            elif "@" in tok and not tok.startswith('"'):
                if name:  # words without an address of their own: reported as they are
                    out.append(" ".join(name))
                    name = []
                out.append(tok)
            else:
                name.append(tok)
        if name:
            out.append(" ".join(name))
    return [a.strip() for a in out if a.strip()]


def _cell_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


def _column(cells: list[str], i: int | None) -> str:
    return cells[i] if i is not None and i < len(cells) else ""


def _entries(rows: Iterable[list[Any]], source: Path, need_addresses: bool) -> list[RosterEntry]:
    header_at = None
    cols: dict[str, int] = {}
    entries: list[RosterEntry] = []
    expected = "单位名称 | 邮箱 | 抄送" if need_addresses else "单位名称"
    for rowno, row in enumerate(rows, start=1):
        cells = [_cell_text(c) for c in row]
        if header_at is None:
            names = [name_key(c) for c in cells]
            if any(n in _UNIT_HEADERS for n in names):
                for i, n in enumerate(names):
                    if n in _UNIT_HEADERS and "unit" not in cols:
                        cols["unit"] = i
                    elif n in _TO_HEADERS and "to" not in cols:
                        cols["to"] = i
                    elif n in _CC_HEADERS and "cc" not in cols:
                        cols["cc"] = i
                if need_addresses and "to" not in cols:
                    raise RosterError(f"名单 {source} 的表头缺少“邮箱”列（表头应为：{expected}）。")
                header_at = rowno
            elif rowno >= 10:
                break
            continue
        unit, to, cc = (_column(cells, cols.get(key)) for key in ("unit", "to", "cc"))
        if not (unit or to or cc):
            continue
        entries.append(
            RosterEntry(unit=clean_line(unit), to=split_addresses(to), cc=split_addresses(cc), where=f"第 {rowno} 行")
        )
    if header_at is None:
        raise RosterError(f"名单 {source} 的前 10 行中找不到表头行（应为：{expected}）。")
    return entries


def _decode_csv(data: bytes, source: Path) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")  # superset of GBK, as saved by Excel on Chinese Windows
    except UnicodeDecodeError:
        raise RosterError(f"名单 {source} 的编码无法识别，请在 Excel 中另存为“CSV UTF-8”。") from None


def read_roster(path: Path | str, *, need_addresses: bool = True) -> list[RosterEntry]:
    """Read a roster (.xlsx first sheet, or .csv/.txt); ``need_addresses``: the 邮箱 column is required."""
    p = Path(path)
    if not p.is_file():
        raise RosterError(f"找不到名单文件：{p}")
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        import openpyxl  # heavy; only when needed

        try:
            wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for damaged files
            raise RosterError(f"无法读取名单 {p}（{exc.__class__.__name__}），请确认是 .xlsx 文件且未加密。") from None
        try:
            rows = [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
        finally:
            wb.close()
        return _entries(rows, p, need_addresses)
    if suffix in (".csv", ".txt"):
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise RosterError(f"无法读取名单 {p}（{exc.strerror or exc.__class__.__name__}）。") from None
        text = _decode_csv(data, p)
        first = text.split("\n", 1)[0]
        delimiter = "\t" if "\t" in first and "," not in first else ","
        return _entries(list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)), p, need_addresses)
    raise RosterError(f"名单文件应是 .xlsx 或 .csv：{p}")


# --------------------------------------------------------------------------- matching

# Long forms and the short forms offices write for them; folded to the short form before comparing.
# Longest first, so that 人民政府办公室 is folded before 人民政府 and 办公室.
_ABBREVIATIONS = sorted(
    {
        "人力资源和社会保障": "人社",
        "人力资源社会保障": "人社",
        "住房和城乡建设": "住建",
        "住房城乡建设": "住建",
        "市场监督管理": "市场监管",
        "卫生健康": "卫健",
        "卫生和计划生育": "卫计",
        "发展和改革": "发改",
        "发展改革": "发改",
        "工业和信息化": "工信",
        "文化广电和旅游": "文广旅",
        "文化广电旅游": "文广旅",
        "文化和旅游": "文旅",
        "交通运输": "交通",
        "退役军人事务": "退役军人",
        "应急管理": "应急",
        "医疗保障": "医保",
        "科学技术": "科技",
        "城市管理": "城管",
        "综合行政执法": "综合执法",
        "行政审批服务": "行政审批",
        "政务服务管理": "政务服务",
        "机关事务管理": "机关事务",
        "民族宗教事务": "民宗",
        "教育和体育": "教体",
        "农业农村": "农业",
        "生态环境": "环境",
        "人民政府办公室": "政府办",
        "人民政府": "政府",
        "委员会": "委",
        "办公室": "办",
    }.items(),
    key=lambda kv: -len(kv[0]),
)
_REGION = re.compile(r"^(?:.{1,8}?(?:特别行政区|自治区|自治州|自治县|自治旗|省|市|区|县|旗|盟|镇|乡|街道))+")
_ORG_SUFFIX = re.compile(r"(?:分局|委|局|办|中心|院|所|厅|处|大队|支队|队|站|馆|会|署|部|社|室)$")


def _folded(name: str) -> str:
    s = name_key(name)
    for long, short in _ABBREVIATIONS:
        s = s.replace(long, short)
    return s


def _parts(folded: str) -> tuple[str, str, str]:
    """(place, department, kind): 某某区 | 卫健 | 局."""
    region = ""
    m = _REGION.match(folded)
    if m and len(folded) - m.end() >= 2:
        region = m.group(0)
    rest = folded[len(region) :]
    s = _ORG_SUFFIX.search(rest)
    suffix = s.group(0) if s and s.start() >= 1 else ""
    return region, rest[: len(rest) - len(suffix)], suffix


def nearness(a: str, b: str) -> int:
    """How surely ``a`` and ``b`` name one unit although they differ: 3 the same after abbreviating,
    2 the same department (one without its place, or 局/委 differing), 1 a one-character slip
    in a longer name, 0 not near. Different places (某某区/某某县) are never near."""
    fa, fb = _folded(a), _folded(b)
    if not fa or not fb:
        return 0
    if fa == fb:
        return 3
    (ra, da, sa), (rb, db, sb) = _parts(fa), _parts(fb)
    if ra and rb and ra != rb:
        return 0
    if len(da) >= 2 and da == db:
        return 2
    if sa == sb and min(len(da), len(db)) >= 3 and similar(da, db) >= 0.75:
        return 1
    return 0


def near_units(name: str, units: Iterable[str], limit: int = 3) -> list[str]:
    """Units that ``name`` may have meant, surest first (for a ``是否为…？`` question)."""
    scored = [(nearness(name, u), u) for u in units]
    scored = [(s, u) for s, u in scored if s > 0]
    if not scored:
        return []
    best = max(s for s, _ in scored)
    return [u for s, u in sorted(scored, key=lambda x: (-x[0], x[1])) if s == best][:limit]


def ask(names: Sequence[str]) -> str:
    """``是否为“甲”？`` / ``是否为“甲”或“乙”？`` ("" for none)."""
    if not names:
        return ""
    return "是否为" + "或".join(f"“{n}”" for n in names) + "？"


# --------------------------------------------------------------------------- a unit named by a file name

# how the names of units end (某某区财政局, 某某县人民政府办公室, 某某街道办事处, 某某镇): a word of a file
# name that ends otherwise (附件2, 统计表, 2025年度报告, 张店区) names no unit for certain
_UNIT_END = re.compile(r"(?:局|委|办|厅|院|署|中心|政府|委员会|办公室|办事处|街道|镇|乡|馆)$")
# what a file name writes around a unit's name: the report's words, drafts and copies
_FILE_TAIL = re.compile(
    r"(?:的|之)?(?:政府信息公开|政务公开|信息公开|工作|年度|年报|报告|统计表|统计|报表|数据|附表|表格|填报|上报|报送"
    r"|情况|终稿|定稿|初稿|最终版|修改稿|修改版|修订版|更正版|新版|版|副本|表[一二三四]?)+$"
)
_FILE_HEAD = re.compile(r"^(?:附件|附表|关于|报送|上报)+")
# (a unit followed by 模板 or 汇总 is the office that sent the template or sums the reports, not the
# file's unit: 统计表（区政府办公室模板）.xlsx)
_FILE_YEAR = re.compile(r"(?:19|20)\d{2}\s*年?度?")
_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def looks_like_unit(name: str) -> bool:
    """A name that ends as the names of units do (局, 委, 办, 中心, 政府, 街道, 镇 …)."""
    return len(name) >= 3 and bool(_UNIT_END.search(name_key(name)))


def units_in_file_name(file_name: str) -> list[str]:
    """The units' names a file name holds: 某某区财政局2025年统计表.xlsx → 某某区财政局; none for a
    name without one (附件2.xlsx, 统计表(1).xlsx, 2025年度报告.xlsx, 张店区2025.xlsx). Years, digits,
    brackets and punctuation part the name's words; the report's words around a name are left out."""
    stem = name_key(Path(file_name).stem)
    out = []
    for word in _HAN_RUN.findall(_FILE_YEAR.sub(" ", stem)):
        before = None
        while before != word:
            before = word
            word = _FILE_TAIL.sub("", _FILE_HEAD.sub("", word))
        if looks_like_unit(word):
            out.append(word)
    return out


def _in_order(short: str, long: str) -> bool:
    """Every character of ``short`` in ``long``, in its order (教育局 in 某某区教育和体育局)."""
    rest = iter(long)
    return all(ch in rest for ch in short)


def may_be_one_unit(a: str, b: str) -> bool:
    """Whether two names may well denote one unit: one is the other shortened (教育局 / 某某区教育局,
    区府办 / 某某区人民政府办公室, 教育局 / 某某区教育和体育局), also once the usual abbreviations are
    folded (卫健委 / 某某区卫生健康委员会), or :func:`nearness` finds them near."""
    for x, y in ((name_key(a), name_key(b)), (_folded(a), _folded(b))):
        if x and y and (_in_order(x, y) or _in_order(y, x)):
            return True
    return nearness(a, b) > 0


def other_unit_in_file_name(file_name: str, unit: str) -> str | None:
    """The unit a file name names when that is clearly not ``unit`` (a copied file whose name or
    content was not changed); None when the name names no unit or one that may be ``unit``."""
    named = units_in_file_name(file_name)
    if not named or any(may_be_one_unit(n, unit) for n in named) or _names_unit_within(file_name, unit):
        return None
    return named[0]


def _names_unit_within(file_name: str, unit: str) -> bool:
    """Whether some part of a file name's words that ends as a unit's name does may be ``unit``: the
    unit named beside the office it reports to or comes through (教育局报区政府办公室.xlsx,
    区政务服务中心转教育局.xlsx) is the file's own unit, named."""
    key, folded = name_key(unit), _folded(unit)
    for word in _HAN_RUN.findall(_FILE_YEAR.sub(" ", name_key(Path(file_name).stem))):
        for end in range(3, len(word) + 1):
            head = word[:end]
            if not _UNIT_END.search(head):
                continue
            for start in range(end - 2):
                part = head[start:]
                if _in_order(part, key) or (folded and _in_order(_folded(part), folded)):
                    return True
    return False


def copied_file_advice(unit: str, files: Sequence[str]) -> str:
    """For the files whose content names one unit (重复报送): when some file's name names another
    unit, that the file may be the other unit's, copied with the name left unchanged, and what to
    do; "" when every file's name may be ``unit``'s (or names none)."""
    other = [(f, n) for f in files if (n := other_unit_in_file_name(Path(f).name, unit))]
    if not other:
        return ""
    named = "、".join(f"{f} 的文件名写的是“{n}”" for f, n in other)
    return (
        f"其中{named}，可能是文件名所写的单位沿用了“{unit}”的文件而没有改单位名称。请核实各文件是哪个单位的："
        "改正单位名称后重新运行；确是同一单位的，只保留一个。"
    )


@dataclass
class NameMatch:
    name: str  # as written in the roster
    unit: str | None = None  # the unit it denotes
    ambiguous: tuple[str, ...] = ()  # several units share its normalised spelling: none is taken
    near: tuple[str, ...] = ()  # units it may have meant (only when nothing matched)

    @property
    def question(self) -> str:
        return ask(self.near)


@dataclass
class RosterMatch:
    names: list[NameMatch]  # one per roster name, in order
    unlisted: dict[str, tuple[str, ...]]  # unit no roster name denotes → roster names that may mean it


def match_names(names: Sequence[str], units: Sequence[str]) -> RosterMatch:
    """Match roster names to the units recorded by the batch (see the module docstring).

    A name denotes a unit when they are equal, or have the same :func:`name_key` and no other
    unit has that key. Names that match nothing get the units they may have meant, among the
    units no roster name denotes; those units get the roster names that may mean them.
    """
    exact = {u: u for u in units}
    by_key: dict[str, list[str]] = defaultdict(list)
    for u in dict.fromkeys(units):
        by_key[name_key(u)].append(u)
    matches: list[NameMatch] = []
    for name in names:
        if name in exact:
            matches.append(NameMatch(name, unit=name))
            continue
        same = by_key.get(name_key(name), [])
        if len(same) == 1:
            matches.append(NameMatch(name, unit=same[0]))
        elif len(same) > 1:
            matches.append(NameMatch(name, ambiguous=tuple(same)))
        else:
            matches.append(NameMatch(name))
    denoted = {m.unit for m in matches if m.unit}
    free_units = [u for u in dict.fromkeys(units) if u not in denoted]
    free_names = [m.name for m in matches if not m.unit and not m.ambiguous and m.name]
    for m in matches:
        if not m.unit and not m.ambiguous and m.name:
            m.near = tuple(near_units(m.name, free_units))
    unlisted = {u: tuple(near_units(u, free_names)) for u in free_units}
    return RosterMatch(matches, unlisted)


# --------------------------------------------------------------------------- submissions

NOT_SUBMITTED = "未报送"
SUBMITTED = "已报送"
UNREADABLE = "无法读取"
NOT_LISTED = "不在名单中"
# what a roster unit's submission is called, by the status of its file; any other status
# (有错误, 有提示, 重复报送 …) is shown as it is
_MARKS = {"通过": SUBMITTED}


@dataclass
class Submission:
    """One unit of the roster and what it has submitted."""

    name: str  # as written in the roster
    where: str  # 第 3 行
    mark: str  # 已报送 / 未报送 / 有错误 / 有提示 / 无法读取 (or another status word)
    unit: str | None = None  # the unit it denotes
    files: tuple[str, ...] = ()  # its input files
    question: str = ""  # 是否为“…”？ for a name that matches nothing
    near: tuple[str, ...] = ()  # the submitted units that name may mean (the question's)
    # its files read as another year's (a last year's file, or a 年度 left from last year): (file, year)
    other_years: tuple[tuple[str, int], ...] = ()


def submissions(
    entries: Sequence[RosterEntry],
    units: Sequence[tuple[str, str, str]],
    unreadable: Sequence[str] = (),
    other_years: Sequence[tuple[str, int, str]] = (),
) -> tuple[list[Submission], dict[str, tuple[str, ...]]]:
    """Each roster unit's submission, and the submitted units the roster does not list.

    ``units``: (unit name, status word, input file) of the files read; ``unreadable``: input
    files that gave no unit. Names are matched by :func:`match_names` (the same as mail). A
    roster unit that matches nothing is 无法读取 when an unreadable file is named after it
    (its name is in the file name; a name garbled by an unzip tool as it was, ``recovered_name``),
    else 未报送, with ``是否为…？`` for a near unit. ``other_years``: (unit, year, input file) of the
    files read as another year's; a 未报送 unit with such a file is told so (it did send a file, but
    not one of this year). The second result maps each unlisted unit to the roster names that may
    mean it.
    """
    by_unit: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for name, status, file in units:
        by_unit[name].append((str(status), file))
    match = match_names([e.unit for e in entries], list(by_unit))
    out = []
    for entry, m in zip(entries, match.names):
        if m.unit is not None:
            got = by_unit[m.unit]
            statuses = [s for s, _ in got]
            # a unit with a file that was read has submitted, whatever else it sent (an extra file that
            # cannot be read is named on its own): it is 无法读取 only when no file of it was read
            read = [s for s in statuses if s != "无法读取"]
            worst = next((s for s in ("重复报送", "有错误", "有提示") if s in read), read[0] if read else "无法读取")
            out.append(Submission(entry.unit, entry.where, _MARKS.get(worst, worst), m.unit, tuple(f for _, f in got)))
            continue
        key = name_key(entry.unit)
        # a file name garbled by an unzip tool (GBK read as CP437) is matched as it was
        files = tuple(f for f in unreadable if key and key in name_key(Path(plain_name(f)).stem))
        if files:
            out.append(Submission(entry.unit, entry.where, UNREADABLE, None, files))
            continue
        question = m.question
        if m.ambiguous:
            question = "名单中的名称对应多个单位：" + "、".join(f"“{u}”" for u in m.ambiguous) + "，请写全称。"
        elsewhere = tuple((f, y) for u, y, f in other_years if key and name_key(u) == key)
        if elsewhere:
            listed = "、".join(f"“{shown_name(f)}”是{y}年度的，已归入{y}年度" for f, y in elsewhere)
            question = f"收到的统计表{listed}。" + question
        out.append(Submission(entry.unit, entry.where, NOT_SUBMITTED, None, (), question, m.near, elsewhere))
    return out, match.unlisted
