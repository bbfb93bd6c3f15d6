"""Sentences of the annual report, made from a unit's checked values, and the wording behind them.

Everything form-specific about the report's words is data, in wording files
(``templates/wording_<form>.yaml``, or ``wording/wording_<form>.yaml`` beside a
form spec; a form without one gets ``wording_base.yaml``):

* fixed texts — title, opening, contact sentence, banners, attachment lines;
* sentence groups — which report section a group belongs to, the sentences it
  writes and, for each ``{part}`` of a sentence, the cells, rows or metadata
  field that give its number and the item list it enumerates;
* section defaults and the charts of the summary workbook.

An office may give its own file that overrides any subset of keys. A template is
plain text with ``{name}`` placeholders; a list of templates means "the first
whose placeholders are all filled". Everything is checked when the file is
loaded (unknown keys, placeholders, cell references), with Chinese messages.

Pure functions, no Word code: a paragraph is a list of pieces, each a ``str`` or
a :class:`Gap` — something the workbook does not give, shown in the report as a
highlighted 【请填写：…】 and reported as a finding.
"""

from __future__ import annotations

import copy
import difflib
import math
import os
import re
import stat
import string
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .errors import WordingError
from .formatting import format_date, format_number
from .spec.names import column_name, row_name, table_name

if TYPE_CHECKING:
    from .model import Unit
    from .spec import Form, Section, Table

TEMPLATE_DIR = Path(__file__).with_name("templates")
BASE = "base"  # wording_base.yaml: the texts every form shares

COMMON_PLACEHOLDERS = ("unit", "year")


@dataclass(frozen=True)
class Gap:
    """Something the report needs but the workbook does not give."""

    text: str  # what the report shows: 【请填写：…】
    what: str  # what is missing, e.g. 总体情况 / 成文日期
    field: str  # section id, metadata field id, or the sentence part (requests.received)
    rule: str  # finding rule: D.narrative / D.meta / D.blank_figure
    cells: tuple[str, ...] = ()  # D.blank_figure: the blank cells behind it, in the form's order


Piece = str | Gap
Paragraph = list[Piece]
Template = str | tuple[str, ...]  # one template, or alternatives: the first whose placeholders are all filled

# --------------------------------------------------------------------------- key catalogue

# Fixed texts and the placeholders the code fills in (besides {unit}, {year} and the form's metadata fields).
FIXED: dict[str, tuple[str, ...]] = {
    "title": (),
    "opening": (),
    "period": (),
    "contact.sentence": ("who", "items"),
    "contact.who": (),
    "contact.items": (),
    "item": ("label", "count"),
    "placeholder": ("what",),
    "error_banner": ("count",),
    "summary_error_banner": ("count", "units"),
    "summary_banner": (),
    "summary_unit_errors": ("names",),
    "summary_item": ("number", "text"),
    "doubt_mark": ("refs",),
    "doubt_note": ("refs",),
    "public_note": (),
    "attachment.note": ("title",),
    "attachment.label": (),
    "attachment.unit_line": (),
    "attachment.signoff": (),
}
PLAIN = ("opening_section", "contact.separator")  # settings, not templates
REQUIRED = ("title", "item", "placeholder", "error_banner", "summary_error_banner")
GROUP_KEYS = ("section", "place", "none", "text", "unless_text", "merge_nothing", "same_paragraph")
PART_KEYS = ("value", "items", "field", "text", "none", "item")
PART_PLACEHOLDERS = ("count", "items", "labels")
CHART_KEYS = ("title", "unit", "items")

# --------------------------------------------------------------------------- compiled wording


@dataclass(frozen=True)
class Term:
    """One reference: a cell, a row's total or a column group's total."""

    kind: str  # cell / row / columns
    table: str
    row: str
    column: str | None = None


@dataclass(frozen=True)
class Expr:
    text: str
    terms: tuple[Term, ...]


@dataclass(frozen=True)
class Item:
    label: str
    value: Expr
    omit_if_zero: Expr | None = None  # the item is not mentioned at all while this is 0


@dataclass(frozen=True)
class Part:
    """A ``{name}`` of a sentence: a number (cells, rows or a metadata field) and/or an item list."""

    name: str
    key: str  # "requests.received": where it is in the wording file
    text: Template
    none: Template
    item: str
    value: Expr | None = None
    items: tuple[Item, ...] | None = None
    field: str | None = None


@dataclass(frozen=True)
class Sentence:
    """A sentence template split at its parts: lits[i] precedes parts[i]; tail follows the last."""

    lits: tuple[str, ...]
    parts: tuple[str, ...]
    tail: str


@dataclass(frozen=True)
class Group:
    """Sentences of one report section made from the numbers."""

    name: str
    section: str
    place: str  # before / after the office's own text
    none: Template | None  # when every number of the group is 0 (None: each part says its own none)
    sentences: tuple[Sentence, ...]
    parts: Mapping[str, Part]
    unless_text: tuple[str, ...] = ()  # left out when the office's text mentions one of these
    merge_nothing: str = ""  # the office wrote only 无。: one sentence, {text} = the group's without 。
    same_paragraph: bool = False  # continues the previous group's paragraph


@dataclass(frozen=True)
class Chart:
    """A stacked bar chart of the summary workbook: one bar per unit, one segment per item."""

    title: str
    unit: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Wording:
    texts: Mapping[str, Any]  # flattened key → template (str or tuple of alternatives) or setting
    groups: tuple[Group, ...] = ()
    charts: tuple[Chart, ...] = ()
    defaults: Mapping[str, Template] = field(default_factory=dict)
    field_types: Mapping[str, str] = field(default_factory=dict)
    sources: tuple[str, ...] = ()

    def get(self, key: str) -> str:
        v = self.texts.get(key, "")
        return v if isinstance(v, str) else (v[0] if v and isinstance(v[0], str) else "")

    @property
    def opening_section(self) -> str | None:
        return self.texts.get("opening_section") or None

    def context(self, unit: Unit) -> dict[str, str]:
        """Placeholders every template may use: {unit}, {year} and the metadata fields, as printed."""
        meta = unit.meta
        ctx = {}
        for fid, ftype in self.field_types.items():
            v = meta.get(fid)
            ctx[fid] = v.strip() if type(v) is str and ftype != "date" else _meta_text(v, ftype)
        ctx["unit"] = unit_name(unit)
        ctx["year"] = "" if unit.year is None else str(unit.year)
        return ctx

    def fmt(self, key: str, unit: Unit, **values: Any) -> str:
        """The template of ``key`` filled in; "" when the template is empty."""
        template = self.texts.get(key, "")
        if not template:
            return ""
        ctx = self.context(unit)
        ctx.update({k: ("" if v is None else str(v)) for k, v in values.items()})
        return pick(template, ctx)

    def groups_for(self, section_id: str) -> list[Group]:
        return [g for g in self.groups if g.section == section_id]

    def default(self, section_id: str, unit: Unit, ctx: Mapping[str, str] | None = None) -> str:
        t = self.defaults.get(section_id)
        return pick(t, ctx if ctx is not None else self.context(unit)) if t else ""


def _meta_text(v: Any, ftype: str) -> str:
    if v is None or v == "":
        return ""
    if ftype == "date":
        return format_date(v) or str(v)
    if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
        return format_number(v)
    return str(v).strip()


@lru_cache(maxsize=1024)
def _fields(template: str) -> tuple[str, ...]:
    return tuple(f for _, f, _, _ in string.Formatter().parse(template) if f is not None)


def pick(template: Template, ctx: Mapping[str, str]) -> str:
    """A single template filled in (blank placeholders print as nothing); of alternatives, the first
    whose placeholders are all filled ("" when none is)."""
    if isinstance(template, str):
        return template.format_map(_Blank(ctx)) if template else ""
    for alt in template:
        if all(ctx.get(f) for f in _fields(alt)):
            return alt.format_map(_Blank(ctx))
    return ""


class _Blank(dict):
    def __init__(self, ctx: Mapping[str, str]):
        super().__init__(ctx)

    def __missing__(self, key: str) -> str:
        return ""


# --------------------------------------------------------------------------- reading wording files


_CJK_GAP = re.compile(r"(?<=[\u2e80-\uffef])[ \t]+(?=[\u2e80-\uffef])")


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WordingError(f"措辞文件 {path} 无法读取：{exc}") from exc
    except yaml.YAMLError as exc:
        raise WordingError(f"措辞文件 {path} 不是有效的 YAML：{exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise WordingError(f"措辞文件 {path} 的内容应为“项: 文字”的列表。")
    return {str(k): v for k, v in data.items()}


def _flat_keys(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.extend(_flat_keys(v, key + "."))
        else:
            out.append(key)
    return out


def _unknown(key: str, known: list[str], source: str) -> WordingError:
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.5)
    hint = f"，是否想写：{'、'.join(close)}" if close else ""
    return WordingError(f"措辞文件 {source} 中没有“{key}”这一项（可能是拼写错误{hint}）。")


def _merge(base: dict[str, Any], over: Mapping[str, Any], where: dict[str, str], source: str, user: bool) -> None:
    """Lay ``over`` on ``base`` (in place). A mapping with ``section`` is a complete sentence group and
    replaces the one it names; null (or "" for a group) removes an item. ``where`` records each
    key's file. An office's file may only change keys that exist (or add defaults and whole groups)."""
    known = _flat_keys(base)

    def walk(dst: dict[str, Any], src: Mapping[str, Any], prefix: str) -> None:
        for k, v in src.items():
            k = str(k)
            key = prefix + k
            old = dst.get(k)
            if v is None or (v == "" and isinstance(old, Mapping)):
                if user and k not in dst:
                    raise _unknown(key, known, source)
                dst.pop(k, None)
                continue
            if isinstance(v, Mapping) and ("section" in v or not isinstance(old, Mapping)):
                if user and old is None and "section" not in v and not key.startswith("defaults"):
                    raise _unknown((_flat_keys(v, key + ".") or [key])[0], known, source)
                dst[k] = copy.deepcopy(dict(v))
                for sub in _flat_keys(dst[k], key + "."):
                    where[sub] = source
                where[key] = source
                continue
            if isinstance(v, Mapping):
                walk(old, v, key + ".")  # type: ignore[arg-type]
                continue
            if user and k not in dst and not key.startswith("defaults."):
                raise _unknown(key, known, source)
            dst[k] = v
            where[key] = source

    walk(base, over, "")


def _wording_file(name: str, near: Sequence[Path]) -> Path | None:
    for folder in (*near, TEMPLATE_DIR):
        p = folder / f"wording_{name}.yaml"
        if p.is_file():
            return p
    return None


def _builtin_chain(path: Path, where: dict[str, str], seen: tuple[str, ...] = ()) -> dict[str, Any]:
    raw = _read_yaml(path)
    parent = raw.pop("extends", None)
    base: dict[str, Any] = {}
    if parent is not None:
        parent_path = _wording_file(str(parent), [path.parent])
        if parent_path is None:
            raise WordingError(f"措辞文件 {path}：extends 引用的措辞文件 wording_{parent}.yaml 不存在。")
        if str(parent_path) in seen:
            raise WordingError(f"措辞文件 {path}：extends 循环引用 {parent}")
        base = _builtin_chain(parent_path, where, seen + (str(path),))
    _merge(base, raw, where, str(path), user=False)
    return base


def _section_for(raw: dict[str, Any], form_id: str) -> dict[str, Any]:
    """A user file may hold one section per form ("2021:", "2017:"); pick this form's."""
    if raw and all(re.fullmatch(r"\d{4}", str(k)) for k in raw):
        for k, v in raw.items():
            if str(k) == form_id:
                return dict(v or {})
        return {}
    return raw


def default_wording_file(form: Form) -> Path:
    """``wording/wording_<id>.yaml`` beside the form's spec, else the shipped one, else the base."""
    near = [Path(form.path).parent / "wording"] if getattr(form, "path", None) else []
    return _wording_file(form.id, near) or TEMPLATE_DIR / f"wording_{BASE}.yaml"


def wording_files_digest() -> str:
    """A digest of every shipped wording file and of those beside the form specs (``wording/``), so
    that a batch rerun redoes the reports when a wording file changes."""
    import hashlib

    from .spec.load import form_dirs

    h = hashlib.sha256()
    for folder in (TEMPLATE_DIR, *(Path(d) / "wording" for d in form_dirs())):
        for p in sorted(Path(folder).glob("wording_*.yaml")):
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


@lru_cache(maxsize=64)
def _load(form: Form, main_file: str, main_mtime: float, user: str | None, mtime: float | None) -> Wording:
    main = Path(main_file)
    where: dict[str, str] = {}
    data = _builtin_chain(main, where)
    sources = [str(main)]
    if user:
        path = Path(user)
        raw = _section_for(_read_yaml(path), form.id)
        raw.pop("extends", None)
        _merge(data, raw, where, str(path), user=True)
        sources.append(str(path))
    return _Compiler(form, where, str(main)).compile(data, tuple(sources))


def load_wording(form: Form, path: Path | str | None = None) -> Wording:
    """The wording for ``form``: the shipped defaults, overridden by an office's own file."""
    # looked up for every report: a long-running watch picks up an added or edited wording file
    main, main_mtime = _default_wording_stat(form)
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise WordingError(f"措辞文件 {p} 不存在。")
        return _load(form, main, main_mtime, str(p.resolve()), p.stat().st_mtime)
    return _load(form, main, main_mtime, None, None)


def _default_wording_stat(form: Form) -> tuple[str, float]:
    """:func:`default_wording_file` (as a string) and its modification time, one ``stat`` a candidate."""
    name = f"wording_{form.id}.yaml"
    folders = [str(TEMPLATE_DIR)]
    if getattr(form, "path", None):
        folders.insert(0, os.path.join(os.path.dirname(str(form.path)), "wording"))
    for folder in folders:
        candidate = os.path.join(folder, name)
        try:
            st = os.stat(candidate)
        except (OSError, ValueError):
            continue
        if stat.S_ISREG(st.st_mode):
            return candidate, st.st_mtime
    main = str(TEMPLATE_DIR / f"wording_{BASE}.yaml")
    try:
        return main, os.stat(main).st_mtime
    except OSError as exc:
        raise WordingError(f"措辞文件 {main} 无法读取：{exc}") from exc


# --------------------------------------------------------------------------- checking and compiling


class _Compiler:
    def __init__(self, form: Form, where: dict[str, str], main: str):
        self.form = form
        self.where = where
        self.main = main
        self.fields = tuple(f.id for f in form.metadata)
        self.sections = {s.id for s in form.sections}

    def src(self, key: str) -> str:
        while key and key not in self.where:
            key = key.rpartition(".")[0]
        return self.where.get(key, self.main)

    def fail(self, key: str, what: str) -> WordingError:
        return WordingError(f"措辞文件 {self.src(key)} 中“{key}”{what}")

    # templates -------------------------------------------------------------

    def template(self, key: str, text: Any, allowed: Sequence[str], alternatives: bool = True) -> Template:
        if text is None:
            return ""
        if isinstance(text, list) and alternatives:
            return tuple(str(self.template(key, t, allowed, False)) for t in text)
        if not isinstance(text, (str, int, float)) or isinstance(text, bool):
            raise self.fail(key, f"的内容应为一段文字，实际是 {type(text).__name__}。")
        # YAML folded blocks (>-) join lines with a space; between Chinese characters it is not wanted
        text = _CJK_GAP.sub("", str(text))
        names = {*allowed, *COMMON_PLACEHOLDERS, *self.fields}
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError:
            raise self.fail(
                key,
                f"的花括号不成对：{text}（占位符写成 {{名称}} 的形式，文字中的花括号请写两遍，如 {{{{ }}}}）。",
            ) from None
        for _literal, name, spec, conv in parsed:
            if name is None:
                continue
            if name not in names:
                usable = "、".join("{" + n + "}" for n in (*allowed, *COMMON_PLACEHOLDERS, *self.fields))
                raise self.fail(key, f"使用了未知的占位符 {{{name}}}；这一项可用的占位符：{usable}。")
            if spec or conv:
                raise self.fail(key, f"的占位符 {{{name}}} 带有格式说明，请只写 {{{name}}}。")
        return text

    def template_list(self, key: str, value: Any, allowed: Sequence[str]) -> tuple[Any, ...]:
        """A list of templates (or of lists of templates), each shown only when its placeholders are filled."""
        if value is None:
            return ()
        if not isinstance(value, list):
            value = [value]
        out: list[Any] = []
        for v in value:
            if isinstance(v, list):
                out.append(tuple(self.template(key, t, allowed, False) for t in v))
            else:
                out.append(self.template(key, v, allowed, False))
        return tuple(out)

    # references ------------------------------------------------------------

    def term(self, key: str, ref: str) -> Term:
        parts = ref.strip().split(".")
        table = self.form.tables.get(parts[0])
        if table is not None and len(parts) == 2 and parts[1] in table.rows:
            return Term("row", table.id, parts[1])
        if table is not None and len(parts) == 3 and parts[1] in table.rows and parts[2] in table.columns:
            col = table.columns[parts[2]]
            if ref.strip() in table.cells:
                return Term("cell", table.id, parts[1], parts[2])
            if col.children:
                return Term("columns", table.id, parts[1], parts[2])
        raise self.fail(
            key,
            f"引用的“{ref.strip()}”在表样 {self.form.id} 中不存在（写成 表.行 表示一行的合计，"
            "表.行.列 表示一个单元格或一组列的合计，多项用 + 相加）。",
        )

    def expr(self, key: str, text: Any) -> Expr:
        if not isinstance(text, str) or not text.strip():
            raise self.fail(key, "应写单元格或行，如 t3.new 或 t4.cases.review_total。")
        return Expr(text.strip(), tuple(self.term(key, t) for t in text.split("+")))

    def label_of(self, term: Term) -> str:
        table = self.form.tables[term.table]
        row = table.rows[term.row]
        if term.kind == "row" or (row.label and len(table.value_rows()) > 1):
            return short_label(row.label)
        return short_label(table.columns[term.column or ""].label)

    def children(self, key: str, ref: str) -> list[Item]:
        term = self.term(key, ref)
        table = self.form.tables[term.table]
        if term.kind == "row":
            kids = [table.rows[k] for k in table.rows[term.row].children]
            terms = [Term("row", table.id, k.id) for k in kids if not k.sum_of]
        elif term.kind == "columns":
            kids = [table.columns[k] for k in table.columns[term.column or ""].children]
            terms = [
                Term("cell" if f"{table.id}.{term.row}.{k.id}" in table.cells else "columns", table.id, term.row, k.id)
                for k in kids
                if not k.sum_of
            ]
        else:
            raise self.fail(key, f"的“{ref}”是一个单元格，没有下级项目可以列举。")
        if not terms:
            raise self.fail(key, f"的“{ref}”没有下级项目可以列举。")
        return [Item(self.label_of(t), Expr(_ref_text(t), (t,))) for t in terms]

    def items(self, key: str, value: Any) -> tuple[Item, ...]:
        """``items: t3.result`` (the row's or column group's children) or a list of
        ``{label, value, omit_if_zero}`` and ``{children: ref}`` entries."""
        if isinstance(value, str):
            return tuple(self.children(key, value))
        if not isinstance(value, list) or not value:
            raise self.fail(key, "应为行或列（列举其下级项目），或项目列表（每项写 label 和 value）。")
        out: list[Item] = []
        for entry in value:
            if isinstance(entry, str):
                entry = {"value": entry}
            if not isinstance(entry, Mapping):
                raise self.fail(key, f"中的“{entry}”应写成 {{label: 名称, value: 单元格}}。")
            unknown = set(entry) - {"label", "value", "omit_if_zero", "children"}
            if unknown:
                raise self.fail(
                    key,
                    f"中的项目有未知的项：{'、'.join(map(str, unknown))}（可用：label、value、omit_if_zero、children）。",
                )
            if "children" in entry:
                out.extend(self.children(key, str(entry["children"])))
                continue
            e = self.expr(key, entry.get("value"))
            if "label" in entry:
                label = str(entry["label"])
            elif len(e.terms) == 1:
                label = self.label_of(e.terms[0])
            else:
                raise self.fail(key, f"中的“{e.text}”由几项相加，请写出 label。")
            omit = self.expr(key, entry["omit_if_zero"]) if entry.get("omit_if_zero") else None
            out.append(Item(label, e, omit))
        return tuple(out)

    # groups ----------------------------------------------------------------

    def sentence(self, key: str, text: str, parts: Mapping[str, Any]) -> Sentence:
        text = str(self.template(key, text, tuple(parts), False))
        lits: list[str] = []
        names: list[str] = []
        cur = ""
        for literal, name, _spec, _conv in string.Formatter().parse(text):
            cur += literal.replace("{", "{{").replace("}", "}}")  # literals are filled in per unit
            if name is None:
                continue
            if name in parts:
                lits.append(cur)
                names.append(name)
                cur = ""
            else:  # {unit}, {year}, a metadata field: filled per unit, kept with the text around it
                cur += "{" + name + "}"
        return Sentence(tuple(lits), tuple(names), cur)

    def part(self, gkey: str, name: str, raw: Any) -> Part:
        key = f"{gkey}.{name}"
        if not isinstance(raw, Mapping):
            raise self.fail(key, "应写出这一分句的 text 和所用的数字（value、items 或 field）。")
        for k in raw:
            if k not in PART_KEYS:
                raise _unknown(f"{key}.{k}", [f"{key}.{p}" for p in PART_KEYS], self.src(key))
        value = self.expr(key + ".value", raw["value"]) if raw.get("value") is not None else None
        items = self.items(key + ".items", raw["items"]) if raw.get("items") is not None else None
        fid = raw.get("field")
        if fid is not None and str(fid) not in self.fields:
            raise self.fail(key + ".field", f"引用的字段“{fid}”不在表样 {self.form.id} 的基本信息中。")
        if value is None and items is None and fid is None:
            raise self.fail(key, "没有写所用的数字：value（单元格或行）、items（列举的项目）或 field（基本信息字段）。")
        return Part(
            name=name,
            key=key,
            text=self.template(key + ".text", raw.get("text"), PART_PLACEHOLDERS),
            none=self.template(key + ".none", raw.get("none"), PART_PLACEHOLDERS),
            item=str(self.template(key + ".item", raw["item"], ("label", "count"), False)) if raw.get("item") else "",
            value=value,
            items=items,
            field=None if fid is None else str(fid),
        )

    def group(self, name: str, raw: Mapping[str, Any], item: str) -> Group:
        section = str(raw.get("section"))
        if section not in self.sections:
            raise self.fail(
                f"{name}.section",
                f"指定的章节“{section}”不在表样 {self.form.id} 中（可用：{'、'.join(s.id for s in self.form.sections)}）。",
            )
        place = str(raw.get("place") or "before")
        if place not in ("before", "after"):
            raise self.fail(f"{name}.place", "只能是 before（单位文字之前）或 after（单位文字之后）。")
        parts = {}
        for k, v in raw.items():
            if k in GROUP_KEYS:
                continue
            if not isinstance(v, Mapping):
                raise _unknown(f"{name}.{k}", [f"{name}.{g}" for g in GROUP_KEYS], self.src(f"{name}.{k}"))
            parts[str(k)] = self.part(name, str(k), v)
        parts = {k: (p if p.item else _with_item(p, item)) for k, p in parts.items()}
        text = raw.get("text")
        sentences = text if isinstance(text, list) else [text]
        if not parts or not any(sentences):
            raise self.fail(name, "应写出 text（句子，用 {分句名} 引用下面的分句）和至少一个分句。")
        unless = raw.get("unless_text") or []
        return Group(
            name=name,
            section=section,
            place=place,
            none=None if "none" not in raw else self.template(f"{name}.none", raw["none"], ()),
            sentences=tuple(self.sentence(f"{name}.text", str(s), parts) for s in sentences if s),
            parts=types.MappingProxyType(parts),
            unless_text=tuple(str(u) for u in (unless if isinstance(unless, list) else [unless])),
            merge_nothing=str(self.template(f"{name}.merge_nothing", raw.get("merge_nothing"), ("text",), False)),
            same_paragraph=bool(raw.get("same_paragraph")),
        )

    def chart(self, key: str, raw: Any) -> Chart:
        if not isinstance(raw, Mapping) or "items" not in raw:
            raise self.fail(key, "应写出 title（标题）、unit（单位）和 items（分段的项目）。")
        for k in raw:
            if k not in CHART_KEYS:
                raise _unknown(f"{key}.{k}", [f"{key}.{c}" for c in CHART_KEYS], self.src(key))
        return Chart(
            title=str(self.template(key + ".title", raw.get("title") or "", (), False)),
            unit=str(raw.get("unit") or ""),
            items=self.items(key + ".items", raw["items"]),
        )

    def compile(self, data: dict[str, Any], sources: tuple[str, ...]) -> Wording:
        texts: dict[str, Any] = {}
        groups: list[Group] = []
        charts: list[Chart] = []
        defaults: dict[str, Template] = {}
        item = data.get("item")
        item = item if isinstance(item, str) else "{label}{count}件"
        for top, value in data.items():
            if isinstance(value, Mapping) and "section" in value:
                groups.append(self.group(top, value, item))
            elif top == "charts":
                charts.extend(self.chart(f"charts.{i + 1}", c) for i, c in enumerate(value or []))
            elif top == "defaults":
                for sid, t in (value or {}).items():
                    if str(sid) not in self.sections:
                        raise self.fail(f"defaults.{sid}", f"指定的章节“{sid}”不在表样 {self.form.id} 中。")
                    defaults[str(sid)] = self.template(f"defaults.{sid}", t, ())
            else:
                flat = _flat_keys(value, top + ".") if isinstance(value, Mapping) else [top]
                for key in flat:
                    v = value
                    for k in key.split(".")[1:]:
                        v = v[k]
                    if key in PLAIN:
                        texts[key] = "" if v is None else str(v)
                    elif key in ("contact.items", "attachment.signoff"):
                        texts[key] = self.template_list(key, v, FIXED[key])
                    elif key in FIXED:
                        texts[key] = self.template(key, v, FIXED[key])
                    else:
                        raise _unknown(key, [*FIXED, *PLAIN, "defaults", "charts"], self.src(key))
        missing = [k for k in REQUIRED if k not in texts]
        if missing:
            raise WordingError(f"措辞文件 {sources[0]} 缺少：{'、'.join(missing)}")
        opening = texts.get("opening_section")
        if opening and opening not in self.sections:
            raise self.fail("opening_section", f"指定的章节“{opening}”不在表样 {self.form.id} 中。")
        return Wording(
            texts=types.MappingProxyType(texts),
            groups=tuple(groups),
            charts=tuple(charts),
            defaults=types.MappingProxyType(defaults),
            field_types=types.MappingProxyType({f.id: f.type for f in self.form.metadata}),
            sources=sources,
        )


def _with_item(p: Part, item: str) -> Part:
    return Part(p.name, p.key, p.text, p.none, item, p.value, p.items, p.field)


def _ref_text(t: Term) -> str:
    return ".".join(x for x in (t.table, t.row, t.column) if x)


# --------------------------------------------------------------------------- formatting


def unit_name(unit: Unit) -> str:
    return str(unit.unit or unit.meta.get("unit") or "")


_NUMBERING = re.compile(r"^(?:其中[：:]|[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）|\d+[.．、]\s*)+")
_TRAILING_NOTE = re.compile(r"（[^（）]*）$")


def short_label(label: str) -> str:
    """A row label as used in a sentence: no numbering, no bracketed note, no trailing 数."""
    s = _NUMBERING.sub("", label.strip())
    s = _TRAILING_NOTE.sub("", s)
    if s.endswith("数") and len(s) > 2:
        s = s[:-1]
    return s


def section_title(heading: str) -> str:
    """A section heading without its numbering: 一、总体情况 → 总体情况."""
    return _NUMBERING.sub("", heading).strip() or heading


def visual_width(text: str) -> float:
    """Width in 字: CJK and full-width characters 1, ASCII ½."""
    return sum(0.5 if ord(ch) < 0x2E80 else 1.0 for ch in text)


def report_title(unit: Unit, w: Wording, max_chars: float = 20) -> str:
    """The report title; a long one breaks after the unit name ("\n")."""
    title = w.fmt("title", unit) or unit.form.report_title.format(unit=unit_name(unit), year=unit.year or "")
    name = unit_name(unit)
    if (
        "\n" not in title
        and visual_width(title) > max_chars
        and name
        and title.startswith(name)
        and len(title) > len(name)
    ):
        title = name + "\n" + title[len(name) :]
    return title


def gap(w: Wording, unit: Unit, what: str, field: str, rule: str) -> Gap:
    text = w.fmt("placeholder", unit, what=what) or f"【请填写：{what}】"
    return Gap(text=text, what=what, field=field, rule=rule)


def join_labels(labels: Sequence[str]) -> str:
    """规章和行政规范性文件; 行政许可、行政处罚和行政强制."""
    labels = [x for x in labels if x]
    if len(labels) <= 1:
        return "".join(labels)
    return "、".join(labels[:-1]) + "和" + labels[-1]


# --------------------------------------------------------------------------- figures


Number = int | Decimal


class Figures:
    """A unit's numbers as sentences use them: blanks count as 0; a total left blank is the sum of
    what it totals.

    ``subtotals_first``: a heading's optional subtotal, when given, is its number (a summary's:
    summed over every department, also those that give no items, such as a 2019-form unit's
    （六）); otherwise the sum of its items is.
    """

    def __init__(self, unit: Unit, subtotals_first: bool = False):
        self.unit = unit
        self.values = unit.values
        self.form = unit.form
        self.subtotals_first = subtotals_first
        self._cols, self._kids = self.form.derived(_row_layout)
        self._totals: dict[tuple[str, str], Number] = {}  # row_total by (table, row): values do not change

    def raw(self, cell_id: str) -> Number | None:
        """The cell's number; None when blank (or not a number, which the checks report)."""
        v = self.values.get(cell_id)
        if type(v) is int:  # the usual case, first
            return v
        if isinstance(v, (int, Decimal)) and not isinstance(v, bool):
            return v
        if isinstance(v, float) and math.isfinite(v):
            return Decimal(repr(v))
        return None

    def filled(self, table: Table, row_id: str) -> bool:
        """Whether any value cell of the row or of the rows under it is filled in."""
        node = table.rows[row_id]
        if node.has_value and any(
            self.raw(f"{table.id}.{row_id}.{c}") is not None for c in self._cols[table.id, row_id]
        ):
            return True
        return any(self.filled(table, k) for k in node.children)

    def row_total(self, table: Table, row_id: str) -> Number:
        """A row's number: its own total cell, else the sum over its value cells.

        A heading row whose subtotal only some layouts carry (表三（三）不予公开…) is the sum of its
        items whenever they are filled in — the official table has no subtotal of its own.
        """
        key = (table.id, row_id)
        total = self._totals.get(key)
        if total is None:
            total = self._totals[key] = self._row_total(table, row_id)
        return total

    def _row_total(self, table: Table, row_id: str) -> Number:
        node = table.rows[row_id]
        total_col = _total_column(table)
        kids = self._kids[table.id, row_id]
        items_first = not node.has_value or (node.subtotal == "optional" and not self.subtotals_first)
        if kids and items_first and any(self.filled(table, k) for k in kids):
            return sum((self.row_total(table, k) for k in kids), 0)
        if node.has_value:
            cols = self._cols[table.id, row_id]
            if total_col and total_col in cols:
                v = self.raw(f"{table.id}.{row_id}.{total_col}")
                if v is not None:
                    return v
            parts = [c for c in cols if c != total_col and not table.columns[c].sum_of]
            own = [self.raw(f"{table.id}.{row_id}.{c}") for c in parts]
            if any(v is not None for v in own) or not kids:
                return sum((v for v in own if v is not None), 0)
        return sum((self.row_total(table, k) for k in kids), 0)

    def column_total(self, table: Table, row_id: str, col_id: str) -> Number:
        """A column group's number in one row: its 总计 column, else the sum of its columns."""
        node = table.columns[col_id]
        cid = f"{table.id}.{row_id}.{col_id}"
        if not node.children:
            v = self.raw(cid)
            return 0 if v is None else v
        kids = [table.columns[k] for k in node.children]
        total = next((k for k in kids if k.sum_of), None)
        if total is not None:
            v = self.raw(f"{table.id}.{row_id}.{total.id}")
            if v is not None:
                return v
        return sum((self.column_total(table, row_id, k.id) for k in kids if not k.sum_of), 0)

    def term(self, t: Term) -> Number:
        table = self.form.tables[t.table]
        if t.kind == "cell":
            v = self.raw(f"{t.table}.{t.row}.{t.column}")
            return 0 if v is None else v
        if t.kind == "row":
            return self.row_total(table, t.row)
        return self.column_total(table, t.row, t.column or "")

    def term_filled(self, t: Term) -> bool:
        table = self.form.tables[t.table]
        if t.kind == "cell":
            return self.raw(f"{t.table}.{t.row}.{t.column}") is not None
        if t.kind == "row":
            return self.filled(table, t.row)
        return any(self.raw(f"{t.table}.{t.row}.{k}") is not None for k in table.leaves("column", t.column or ""))

    def value(self, e: Expr) -> Number:
        """The sum of the expression's terms (blanks count as 0)."""
        total: Number = 0
        for t in e.terms:
            total += self.term(t)
        return total

    def any_filled(self, e: Expr) -> bool:
        return any(self.term_filled(t) for t in e.terms)

    def items(self, items: Sequence[Item]) -> list[tuple[str, Number]]:
        """(label, number) of the items, leaving out those whose ``omit_if_zero`` is 0."""
        out = []
        for it in items:
            if it.omit_if_zero is not None and not self.value(it.omit_if_zero):
                continue
            out.append((it.label, self.value(it.value)))
        return out


_TOTAL_COLUMNS: dict[int, str | None] = {}


def _row_layout(form: Form) -> tuple[dict[tuple[str, str], tuple[str, ...]], dict[tuple[str, str], tuple[str, ...]]]:
    """Per (table, row): the value columns the row carries, and its items that are not sums of
    others; made once per loaded form (``Form.derived``)."""
    cols, kids = {}, {}
    for t in form.tables.values():
        for rid, node in t.rows.items():
            cols[t.id, rid] = tuple(t.row_columns(rid))
            kids[t.id, rid] = tuple(k for k in node.children if not t.rows[k].sum_of)
    return cols, kids


def _total_column(table: Table) -> str | None:
    """The column holding a row's total: the only value column, or the one grand total (表三 总计)."""
    key = id(table)
    if key not in _TOTAL_COLUMNS:
        cols = table.value_columns()
        if len(cols) == 1:
            found: str | None = cols[0].id
        else:
            members = {m for c in table.columns.values() for m in c.sum_of}
            tops = [c.id for c in cols if c.sum_of and c.id not in members]
            found = tops[0] if len(tops) == 1 else None
        _TOTAL_COLUMNS[key] = found
    return _TOTAL_COLUMNS[key]


def evaluate_items(items: Sequence[Item], unit: Unit) -> list[tuple[str, Number]]:
    """The (label, number) pairs of a chart's or a sentence's items for one unit."""
    return Figures(unit).items(items)


# --------------------------------------------------------------------------- sentence groups


BLANK_RULE = "D.blank_figure"  # the finding of a sentence part whose every cell is blank

# what a part's number is (see _render_part)
_NUMBER, _ZERO, _BLANK, _UNKNOWN = "number", "zero", "blank", "unknown"


def _render_part(p: Part, unit: Unit, w: Wording, fig: Figures, ctx: dict[str, str]) -> tuple[str | Gap, str]:
    """The part's text and what its number is: not 0, 0, blank (every cell behind it unfilled:
    not 0, so its ``none`` text would claim what the table does not say; a 【请填写】 instead) or
    unknown (a metadata field not given)."""
    blank = False
    if p.field is not None:
        raw = unit.meta.get(p.field)
        label = next((f.label for f in unit.form.metadata if f.id == p.field), p.field)
        if raw is None or str(raw).strip() == "":
            return gap(w, unit, label, p.field, "D.meta"), _UNKNOWN
        try:
            count: Number = (
                raw if isinstance(raw, (int, Decimal)) and not isinstance(raw, bool) else Decimal(str(raw).strip())
            )
        except (InvalidOperation, ValueError):
            return gap(w, unit, label, p.field, "D.meta"), _UNKNOWN
        items_text = labels = ""
    else:
        cells = number_cells(unit.form, p)
        blank = bool(cells) and all(fig.raw(c) is None for c in cells)
        pairs = fig.items(p.items) if p.items is not None else []
        items_text = "、".join(pick(p.item, {**ctx, "label": lab, "count": format_number(v)}) for lab, v in pairs if v)
        labels = join_labels([lab for lab, _ in pairs])
        count = sum((v for _, v in pairs), 0)
        if p.value is not None and (p.items is None or fig.any_filled(p.value)):
            count = fig.value(p.value)  # its own total; the sum of the items when that is blank
    values = {**ctx, "count": format_number(count), "items": items_text, "labels": labels}
    if blank:
        return (blank_gap(w, unit, p) if pick(p.none, values) else ""), _BLANK
    if not count:
        return pick(p.none, values), _ZERO
    return pick(p.text, values), _NUMBER


def blank_gap(w: Wording, unit: Unit, p: Part) -> Gap:
    """The 【请填写：表三“一、本年新收政府信息公开申请数量”】 of a part whose cells are all blank."""
    g = gap(w, unit, blank_what(unit.form, p), p.key, BLANK_RULE)
    return Gap(g.text, g.what, g.field, g.rule, number_cells(unit.form, p))


def _join(
    sentence: Sentence, done: Mapping[str, str | Gap], ctx: Mapping[str, str], marks: Mapping[str, Gap] | None = None
) -> Paragraph:
    """The sentence with its empty parts left out, each with the separator before it; a part
    whose figure is doubtful (``marks``) is followed by its 【待核实】 mark, said once after the
    last of consecutive parts with the same mark. A blank table's 【请填写】 (``D.blank_figure``) takes
    its part's place; any other missing figure stands alone."""
    shown: list[tuple[str, Paragraph]] = []
    for i, name in enumerate(sentence.parts):
        text = done[name]
        if isinstance(text, Gap) and text.rule != BLANK_RULE:
            return [text]  # a missing figure stands alone as 【请填写】
        if text:
            lit = (sentence.lits[0] if not shown else sentence.lits[i]).format_map(_Blank(ctx))
            shown.append((name, _concat([lit] if lit else [], [text])))
    if not shown:
        return []
    out: Paragraph = []
    marks = marks or {}
    for k, (name, pieces) in enumerate(shown):
        out = _concat(out, pieces)
        mark = marks.get(name)
        following = marks.get(shown[k + 1][0]) if k + 1 < len(shown) else None
        if mark is not None and (following is None or following.text != mark.text):
            out.append(mark)
    return _concat(out, [sentence.tail.format_map(_Blank(ctx))])


def _concat(a: Paragraph, b: Paragraph) -> Paragraph:
    out = list(a)
    for piece in b:
        if out and isinstance(piece, str) and isinstance(out[-1], str):
            out[-1] += piece
        else:
            out.append(piece)
    return out


def render_group(
    g: Group,
    unit: Unit,
    w: Wording,
    fig: Figures | None = None,
    ctx: dict[str, str] | None = None,
    doubt: Mapping[str, Sequence[int]] | None = None,
) -> Paragraph:
    """One group's sentences for a unit ([] when they say nothing).

    ``doubt``: cell id → the numbers of the 审核提示 that make the cell's figure doubtful (a
    summary's); a part that uses such a cell keeps its figure, followed by a highlighted
    ``doubt_mark`` (【待核实，见审核提示2】), so that the sentence and the table agree and
    neither passes a doubtful figure off as settled.

    Blank is not 0: a part whose cells are all blank says 【请填写：…】 (``D.blank_figure``) in its
    place instead of its ``none``, and the group's ``none`` is then not used (its blank parts
    without a ``none`` of their own are asked for too).
    """
    fig = fig or Figures(unit)
    ctx = ctx if ctx is not None else w.context(unit)
    done: dict[str, str | Gap] = {}
    refs_of: dict[str, list[int]] = {}
    states: dict[str, str] = {}
    for name, p in g.parts.items():
        text, states[name] = _render_part(p, unit, w, fig, ctx)
        done[name] = text
        if doubt and not isinstance(text, Gap):
            refs = sorted({n for c in part_cells(unit.form, p) for n in doubt.get(c, ())})
            if refs:
                refs_of[name] = refs
    nothing = all(state in (_ZERO, _BLANK) for state in states.values())
    if nothing and g.none is not None and _BLANK in states.values():
        # the group's none would speak for the blank parts too: each says what is missing instead
        asked = {c for t in done.values() if isinstance(t, Gap) for c in t.cells}
        for name, state in states.items():
            cells = number_cells(unit.form, g.parts[name])
            if state == _BLANK and not done[name] and not set(cells) <= asked:
                done[name] = blank_gap(w, unit, g.parts[name])
                asked.update(cells)
                refs_of.pop(name, None)
    elif nothing and g.none is not None:
        text = pick(g.none, ctx)
        if not text:
            return []
        if not refs_of:
            return [text]
        every = sorted({n for refs in refs_of.values() for n in refs})
        return [text, doubt_gap(w, unit, every, g.name)]
    marks = {name: doubt_gap(w, unit, refs, g.parts[name].key) for name, refs in refs_of.items()}
    out: Paragraph = []
    for sentence in g.sentences:
        out = _concat(out, _join(sentence, done, ctx, marks))
    return out


def doubt_gap(w: Wording, unit: Unit, refs: Sequence[int], where: str) -> Gap:
    """The highlighted 【待核实，见审核提示1、2】 after a doubtful figure."""
    text = w.fmt("doubt_mark", unit, refs="、".join(str(n) for n in refs)) or "【待核实】"
    return Gap(text, "待核实", where, "SUM.doubt")


def term_cells(form: Form, t: Term) -> list[str]:
    """The cells a reference covers: the cell, every cell of the row and the rows under it, or
    the row's cells in the column group."""
    table = form.tables[t.table]
    if t.kind == "cell":
        return [f"{t.table}.{t.row}.{t.column}"]
    if t.kind == "row":
        rows = _subtree(table.rows, t.row)
        return [c.id for c in table.cells.values() if c.row in rows]
    cols = _subtree(table.columns, t.column or "")
    return [c.id for c in table.cells.values() if c.row == t.row and c.column in cols]


def _subtree(nodes: Mapping[str, Any], top: str) -> set[str]:
    out = {top}
    for k in nodes[top].children:
        out |= _subtree(nodes, k)
    return out


def _number_exprs(p: Part) -> list[Expr]:
    """The expressions a part's number and items are read from (not ``omit_if_zero``)."""
    return ([p.value] if p.value is not None else []) + [it.value for it in p.items or ()]


def part_cells(form: Form, p: Part) -> set[str]:
    """Every cell a sentence part's number or items come from."""
    exprs = _number_exprs(p) + [it.omit_if_zero for it in p.items or () if it.omit_if_zero is not None]
    return {c for e in exprs for t in e.terms for c in term_cells(form, t)}


def number_cells(form: Form, p: Part) -> tuple[str, ...]:
    """The cells a part's number and items are read from, in the form's order (not those that
    only decide whether an item is mentioned, ``omit_if_zero``); () for a metadata field."""
    return form.derived(_NumberCells)[p]


class _NumberCells(dict[Part, tuple[str, ...]]):
    """:func:`number_cells` of one form's parts, made as they are asked for (kept with the form)."""

    def __init__(self, form: Form):
        super().__init__()
        self.form = form

    def __missing__(self, p: Part) -> tuple[str, ...]:
        cells = {c for e in _number_exprs(p) for t in e.terms for c in term_cells(self.form, t)}
        found = self[p] = tuple(c for c in self.form.cells if c in cells)
        return found


def blank_what(form: Form, p: Part) -> str:
    """Where a part's number is found in the tables, as people look for it: 表三“一、本年新收政府信息
    公开申请数量”, 表三“三、本年度办理结果”, 表二“规章”、“行政规范性文件”本年制发件数, 表四“行政复议”."""
    by_table: dict[str, list[Term]] = {}
    for e in _number_exprs(p):
        for t in e.terms:
            by_table.setdefault(t.table, []).append(t)
    names = []
    for tid, terms in by_table.items():
        table = form.tables[tid]
        rows = [r for r in _common(table.rows, [t.row for t in terms]) if table.rows[r].label]
        cols: list[str] = []
        if len(table.value_columns()) > 1 and not any(t.kind == "row" for t in terms):
            cols = _common(table.columns, [t.column or "" for t in terms])
        row_text = "、".join(f"“{row_name(table, r)}”" for r in rows)
        col_text = "、".join(column_name(table, c) for c in cols)
        if row_text and col_text:
            text = row_text + col_text + ("" if table.layout == "blocks" else "列")
        else:
            text = row_text or (f"“{col_text}”" if col_text else "")
        names.append(table_name(table) + text)
    return "、".join(names)


def _common(nodes: Mapping[str, Any], ids: Sequence[str]) -> list[str]:
    """The lowest node that holds every one of ``ids`` when it is one of them or they are many
    (表三“三、本年度办理结果”, not its six items); else the ids, each once (“规章”、“行政规范性文件”)."""
    ids = list(dict.fromkeys(ids))
    if len(ids) <= 1:
        return ids
    parent = {k: nid for nid, n in nodes.items() for k in n.children}

    def chain(nid: str) -> list[str]:
        out = [nid]
        while out[-1] in parent:
            out.append(parent[out[-1]])
        return out

    others = [set(chain(i)) for i in ids[1:]]
    top = next((a for a in chain(ids[0]) if all(a in o for o in others)), None)
    return [top] if top is not None and (top in ids or len(ids) > 3) else ids


_NOTHING = re.compile(
    r"(?:本(?:年度|单位|机关|部门)?)?(?:暂?无|没有)(?:其他需要报告的(?:事项|内容|情况)|其他事项|需要报告的事项)?[。.；;]?"
)


@dataclass
class SectionContent:
    """What one section of the report says, in order: sentences, the office's text, sentences."""

    before: list[Paragraph]
    own: str  # the office's text ("" when blank or merged into a sentence)
    after: list[Paragraph]
    default: str = ""  # for a blank section (wording ``defaults``)
    merged: bool = False  # the office's “无。” became part of a generated sentence


def compose(
    unit: Unit,
    section: Section,
    w: Wording,
    ctx: dict[str, str] | None = None,
    doubt: Mapping[str, Sequence[int]] | None = None,
    fig: Figures | None = None,
) -> SectionContent:
    """The generated sentences of ``section`` around the office's own text.

    A sentence the office already wrote is not repeated; a group with ``unless_text`` is left out
    when the office's text mentions it; a group with ``merge_nothing`` absorbs a bare “无。”.
    ``fig``: the unit's figures, shared by the sections of one report (made with
    ``subtotals_first=doubt is not None``).
    """
    own = unit.narrative.get(section.id) or ""
    own_sq = squash(own)
    content = SectionContent([], own, [])
    fig = fig or Figures(unit, subtotals_first=doubt is not None)
    ctx = ctx if ctx is not None else w.context(unit)
    last: Group | None = None
    for g in w.groups_for(section.id):
        par = render_group(g, unit, w, fig, ctx, doubt)
        if not par:
            continue
        if any(s in own for s in g.unless_text):
            continue
        has_gap = any(isinstance(p, Gap) for p in par)
        text = plain_text(par)
        if not has_gap and squash(text) in own_sq:
            continue  # already in the office's own text
        if g.merge_nothing and not has_gap and own_sq and _NOTHING.fullmatch(own_sq):
            par = [g.merge_nothing.format_map(_Blank({**ctx, "text": text.rstrip("。")}))]
            content.own, content.merged, own_sq = "", True, ""
        target = content.after if g.place == "after" else content.before
        if g.same_paragraph and last is not None and last.place == g.place and target:
            target[-1] = _concat(target[-1], par)
        else:
            target.append(par)
        last = g
    if not content.own and not content.merged:
        content.default = w.default(section.id, unit, ctx)
    return content


# --------------------------------------------------------------------------- common paragraphs


_OWN_BODY = re.compile(r"[省市县区州盟旗乡镇局委厅院府部署]")


def contact_sentence(unit: Unit, w: Wording) -> str:
    """如对本报告有疑问，请与…联系（…）: only the filled-in items, the office named with its unit."""
    if not w.texts.get("contact.sentence"):
        return ""
    ctx = w.context(unit)
    who = w.fmt("contact.who", unit)
    name = unit_name(unit)
    if who and name and name not in who and not _OWN_BODY.search(who):
        who = name + who  # 办公室 → 某某局办公室: say whose office
    items = [pick((t,) if isinstance(t, str) else t, ctx) for t in w.texts.get("contact.items", ())]
    sep = w.texts.get("contact.separator") or "，"
    return pick(w.texts["contact.sentence"], {**ctx, "who": who, "items": sep.join(i for i in items if i)})


def attachment_signoff(unit: Unit, w: Wording) -> list[str]:
    """The lines under an attached table (单位负责人、填报人…): filled items only."""
    ctx = w.context(unit)
    lines = []
    for line in w.texts.get("attachment.signoff", ()):
        items = [pick((t,), ctx) for t in (line if isinstance(line, tuple) else (line,))]
        text = "\u3000\u3000".join(i for i in items if i)
        if text:
            lines.append(text)
    return lines


def opening(unit: Unit, w: Wording) -> list[Paragraph]:
    """The paragraphs before 一: the office's own preamble or the wording's opening, then the
    statistics period and the contact sentence."""
    out: list[Paragraph] = []
    own = (unit.narrative.get(w.opening_section) or "").strip() if w.opening_section else ""
    if own:
        out.extend([p] for p in split_paragraphs(own))
    else:
        text = w.fmt("opening", unit)
        if text:
            out.append([text])
    tail = w.fmt("period", unit) + contact_sentence(unit, w)
    if tail:
        out.append([tail])
    return out


def split_paragraphs(text: str | None) -> list[str]:
    """Narrative text → paragraphs (one per line; blank lines and leading indents dropped)."""
    if not text:
        return []
    lines = str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [ln.strip(" \t\u3000\xa0") for ln in lines if ln.strip(" \t\u3000\xa0")]


def error_banner(w: Wording, unit: Unit, count: int, units: int | None = None) -> str:
    if units is not None:
        return w.fmt("summary_error_banner", unit, count=count, units=units)
    return w.fmt("error_banner", unit, count=count)


def plain_text(paragraph: Paragraph) -> str:
    return "".join(p.text if isinstance(p, Gap) else p for p in paragraph)


_SPACE = re.compile(r"\s+")


def squash(text: str) -> str:
    """Text without any whitespace, for “is this sentence already in the office's text”."""
    return _SPACE.sub("", text)
