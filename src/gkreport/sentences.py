"""Sentences of the annual report, made from a unit's checked values, and the wording behind them.

The fixed wording (title, opening, closing, the sentence patterns) lives in YAML
files: ``templates/wording_<form>.yaml`` ships the defaults, and an office may
give its own file that overrides any subset of keys. A template is plain text
with ``{name}`` placeholders; each key accepts a fixed set of names (plus
``{unit}`` and ``{year}`` everywhere), checked when the file is loaded. An empty
template leaves its sentence or clause out.

Pure functions, no Word code: a paragraph is a list of pieces, each a ``str`` or
a :class:`Gap` — something the workbook does not give, shown in the report as a
highlighted 【请填写：…】 and reported as a finding.
"""

from __future__ import annotations

import difflib
import re
import string
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .errors import WordingError
from .formatting import format_number

if TYPE_CHECKING:
    from .model import Unit
    from .spec import Form, Section, Table

TEMPLATE_DIR = Path(__file__).with_name("templates")

OLD = "old"  # pre-2019 政府信息公开工作情况统计表 (one list table "stats")
NATIONAL = "national"  # 国办 formats of 2019 and 2021 (tables t2/t3/t4)
GENERIC = "generic"  # any other form spec: sections and tables only, no generated sentences

COMMON_PLACEHOLDERS = ("unit", "year")


@dataclass(frozen=True)
class Gap:
    """Something the report needs but the workbook does not give."""

    text: str  # what the report shows: 【请填写：…】
    what: str  # what is missing, e.g. 总体情况 / 成文日期
    field: str  # section id or metadata field id
    rule: str  # finding rule: D.narrative / D.meta


Piece = str | Gap
Paragraph = list[Piece]

# --------------------------------------------------------------------------- key catalogue

_COMMON_KEYS: dict[str, tuple[str, ...]] = {
    "title": (),
    "contact.sentence": ("items",),
    "contact.dept": ("contact_dept",),
    "contact.person": ("contact",),
    "contact.address": ("address",),
    "contact.postcode": ("postcode",),
    "contact.phone": ("phone",),
    "contact.email": ("email",),
    "item": ("label", "count"),
    "placeholder": ("what",),
    "error_banner": ("count",),
    "summary_error_banner": ("count", "units"),
    "public_note": (),
}

_NATIONAL_KEYS: dict[str, tuple[str, ...]] = {
    **_COMMON_KEYS,
    "opening": (),
    "proactive.made": ("items",),
    "proactive.made_none": (),
    "proactive.repealed": ("items",),
    "proactive.repealed_none": (),
    "proactive.valid": ("items",),
    "proactive.valid_none": (),
    "proactive.decisions": ("items",),
    "proactive.decisions_none": (),
    "proactive.decision_item": ("label", "count"),
    "proactive.fees": ("amount",),
    "proactive.fees_none": (),
    "requests.none": (),
    "requests.received": ("count",),
    "requests.received_none": (),
    "requests.carried": ("count",),
    "requests.results": ("items",),
    "requests.next": ("count",),
    "review.none": (),
    "review.review": ("count", "details"),
    "review.review_none": (),
    "review.litigation": ("count", "details"),
    "review.litigation_none": (),
    "review.details": ("items",),
    "fee": ("amount",),
    "fee_none": (),
}

_OLD_KEYS: dict[str, tuple[str, ...]] = {
    **_COMMON_KEYS,
    "preamble": (),
    "preamble_basis": ("basis",),
    "period": (),
    "proactive.sentence": ("count", "normative"),
    "proactive.no_normative": ("count",),
    "proactive.none": (),
    "requests.none": (),
    "requests.received": ("count", "details"),
    "requests.closed": ("count", "details"),
    "requests.answered": ("count", "details"),
    "requests.refused": ("count", "details"),
    "requests.refused_none": (),
    "requests.details": ("items",),
    "fees_default": (),
    "review.none": (),
    "review.review": ("count", "details"),
    "review.review_none": (),
    "review.litigation": ("count", "details"),
    "review.litigation_none": (),
    "review.complaints": ("count", "details"),
    "review.details": ("items",),
    "other_default": (),
    "attachment.note": ("title",),
    "attachment.label": (),
    "attachment.unit_line": (),
    "attachment.head": ("head",),
    "attachment.phone": ("phone",),
    "attachment.reviewer": ("reviewer",),
    "attachment.filler": ("filler",),
    "attachment.date_filled": ("date",),
}

KEYS: dict[str, dict[str, tuple[str, ...]]] = {
    OLD: _OLD_KEYS,
    NATIONAL: _NATIONAL_KEYS,
    GENERIC: _NATIONAL_KEYS,
}
_DEFAULT_FILE = {OLD: "wording_2017.yaml", NATIONAL: "wording_2021.yaml", GENERIC: "wording_2021.yaml"}


def family(form: Form) -> str:
    """Which report recipe a form gets: the old 统计表, the national format, or generic."""
    if "stats" in form.tables and form.tables["stats"].layout == "list":
        return OLD
    if {"t2", "t3", "t4"} <= set(form.tables):
        return NATIONAL
    return GENERIC


# --------------------------------------------------------------------------- wording files


@dataclass(frozen=True)
class Wording:
    family: str
    texts: Mapping[str, str]
    sources: tuple[str, ...] = ()

    def get(self, key: str) -> str:
        return self.texts.get(key, "")

    def fmt(self, key: str, unit: Unit, **values: Any) -> str:
        """The template of ``key`` filled in; "" when the template is empty."""
        template = self.texts.get(key, "")
        if not template:
            return ""
        ctx = {"unit": unit_name(unit), "year": "" if unit.year is None else str(unit.year)}
        ctx.update({k: ("" if v is None else str(v)) for k, v in values.items()})
        return template.format_map(ctx)


def _flatten(data: Mapping[str, Any], source: str, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, source, key + "."))
        else:
            out[key] = v
    return out


_CJK_GAP = re.compile(r"(?<=[\u2e80-\uffef])[ \t]+(?=[\u2e80-\uffef])")


def _check_template(key: str, text: Any, allowed: tuple[str, ...], source: str) -> str:
    if text is None:
        return ""
    if not isinstance(text, (str, int, float)):
        raise WordingError(f"措辞文件 {source} 中“{key}”的内容应为一段文字，实际是 {type(text).__name__}。")
    # YAML folded blocks (>-) join lines with a space; between Chinese characters it is not wanted
    text = _CJK_GAP.sub("", str(text))
    names = set(allowed) | set(COMMON_PLACEHOLDERS)
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        raise WordingError(
            f"措辞文件 {source} 中“{key}”的花括号不成对：{text}"
            "（占位符写成 {{名称}} 的形式，文字中的花括号请写两遍，如 {{{{ }}}}）。"
        ) from None
    for _literal, field, spec, conv in parsed:
        if field is None:
            continue
        if field not in names:
            usable = "、".join("{" + n + "}" for n in (*allowed, *COMMON_PLACEHOLDERS))
            raise WordingError(
                f"措辞文件 {source} 中“{key}”使用了未知的占位符 {{{field}}}；这一项可用的占位符：{usable}。"
            )
        if spec or conv:
            raise WordingError(f"措辞文件 {source} 中“{key}”的占位符 {{{field}}} 带有格式说明，请只写 {{{field}}}。")
    return text


def _validate(raw: Mapping[str, Any], fam: str, source: str) -> dict[str, str]:
    catalogue = KEYS[fam]
    out: dict[str, str] = {}
    for key, text in _flatten(raw, source).items():
        if key not in catalogue:
            close = difflib.get_close_matches(key, list(catalogue), n=3, cutoff=0.5)
            hint = f"，是否想写：{'、'.join(close)}" if close else ""
            raise WordingError(f"措辞文件 {source} 中没有“{key}”这一项（可能是拼写错误{hint}）。")
        out[key] = _check_template(key, text, catalogue[key], source)
    return out


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
    return data


def _builtin(name: str, fam: str, seen: tuple[str, ...] = ()) -> dict[str, str]:
    path = TEMPLATE_DIR / name
    raw = _read_yaml(path)
    parent = raw.pop("extends", None)
    base: dict[str, str] = {}
    if parent:
        parent_file = f"wording_{parent}.yaml"
        if parent_file in seen:
            raise WordingError(f"措辞文件 {path}：extends 循环引用 {parent}")
        base = _builtin(parent_file, fam, seen + (name,))
    return {**base, **_validate(raw, fam, str(path))}


def _section_for(raw: dict[str, Any], form_id: str) -> dict[str, Any]:
    """A user file may hold one section per form ("2021:", "2017:"); pick this form's."""
    if raw and all(re.fullmatch(r"\d{4}", str(k)) for k in raw):
        for k, v in raw.items():
            if str(k) == form_id:
                return dict(v or {})
        return {}
    return raw


@lru_cache(maxsize=64)
def _load(form_id: str, fam: str, user: str | None, mtime: float | None) -> Wording:
    name = f"wording_{form_id}.yaml"
    if not (TEMPLATE_DIR / name).exists():
        name = _DEFAULT_FILE[fam]
    texts = _builtin(name, fam)
    sources = [str(TEMPLATE_DIR / name)]
    if user:
        path = Path(user)
        raw = _section_for(_read_yaml(path), form_id)
        raw.pop("extends", None)
        texts.update(_validate(raw, fam, str(path)))
        sources.append(str(path))
    missing = [k for k in KEYS[fam] if k not in texts]
    if missing:
        raise WordingError(f"默认措辞文件 {sources[0]} 缺少：{'、'.join(missing)}")
    return Wording(fam, types.MappingProxyType(texts), tuple(sources))


def load_wording(form: Form, path: Path | str | None = None) -> Wording:
    """The wording for ``form``: the shipped defaults, overridden by an office's own file."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise WordingError(f"措辞文件 {p} 不存在。")
        return _load(form.id, family(form), str(p.resolve()), p.stat().st_mtime)
    return _load(form.id, family(form), None, None)


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


# --------------------------------------------------------------------------- figures


class Figures:
    """Read access to a unit's values: blanks count as 0 in sentences."""

    def __init__(self, unit: Unit):
        self.unit = unit
        self.values = unit.values
        self.cells = unit.form.cells

    def has(self, cell_id: str) -> bool:
        return cell_id in self.cells

    def raw(self, cell_id: str) -> Any:
        return self.values.get(cell_id)

    def n(self, cell_id: str) -> int | Decimal:
        v = self.values.get(cell_id)
        return 0 if v is None else v

    def filled(self, table: Table, row_id: str) -> bool:
        """Whether any value cell of the row or of the rows under it is filled in."""
        node = table.rows[row_id]
        if node.has_value and any(self.raw(f"{table.id}.{row_id}.{c}") is not None for c in table.row_columns(row_id)):
            return True
        return any(self.filled(table, k) for k in node.children)

    def row_total(self, table: Table, row_id: str, total_col: str | None = None) -> int | Decimal:
        """A row's number: its own total cell, else the sum over its value cells.

        A heading row whose subtotal only some layouts carry (表三（三）不予公开…) is the sum of its
        items whenever they are filled in — the official table has no subtotal of its own.
        """
        node = table.rows[row_id]
        items_first = not node.has_value or node.subtotal == "optional"
        if node.children and items_first and any(self.filled(table, k) for k in node.children):
            return sum((self.row_total(table, k, total_col) for k in node.children), 0)
        if node.has_value:
            cols = table.row_columns(row_id)
            if total_col and total_col in cols:
                v = self.raw(f"{table.id}.{row_id}.{total_col}")
                if v is not None:
                    return v
                cols = [c for c in cols if c != total_col and not table.columns[c].sum_of]
            own = [self.raw(f"{table.id}.{row_id}.{c}") for c in cols]
            if any(v is not None for v in own) or not node.children:
                return sum((v for v in own if v is not None), 0)
        return sum((self.row_total(table, k, total_col) for k in node.children), 0)


def _items(w: Wording, unit: Unit, pairs: Sequence[tuple[str, Any]], key: str = "item") -> str:
    """Non-zero pairs joined with 、 (zeros are left out: “其中予以公开7件、部分公开1件”)."""
    return "、".join(w.fmt(key, unit, label=label, count=format_number(v)) for label, v in pairs if v)


def _clause(w: Wording, unit: Unit, key: str, pairs: Sequence[tuple[str, Any]], item_key: str = "item") -> str:
    items = _items(w, unit, pairs, item_key)
    return w.fmt(key, unit, items=items) if items else w.fmt(key + "_none", unit)


def _details(w: Wording, unit: Unit, pairs: Sequence[tuple[str, Any]], key: str) -> str:
    items = _items(w, unit, pairs)
    return w.fmt(key, unit, items=items) if items else ""


def _sentence(*clauses: str, sep: str = "，") -> str:
    body = sep.join(c for c in clauses if c)
    return body + "。" if body else ""


# --------------------------------------------------------------------------- common paragraphs


def contact_sentence(unit: Unit, w: Wording) -> str:
    meta = unit.meta
    parts = [
        w.fmt(f"contact.{key}", unit, **{field: meta.get(field)})
        for key, field in (
            ("dept", "contact_dept"),
            ("person", "contact"),
            ("address", "address"),
            ("postcode", "postcode"),
            ("email", "email"),
            ("phone", "phone"),
        )
        if meta.get(field) not in (None, "")
    ]
    parts = [p for p in parts if p]
    return w.fmt("contact.sentence", unit, items="，".join(parts)) if parts else ""


def opening(unit: Unit, w: Wording) -> list[Paragraph]:
    """The paragraphs before 一: the national opening, or the old preamble with period and contact."""
    out: list[Paragraph] = []
    contact = contact_sentence(unit, w)
    if w.family == OLD:
        own = (unit.narrative.get("preamble") or "").strip()
        if own:
            out.extend([p] for p in split_paragraphs(own))
        else:
            basis = unit.meta.get("basis")
            text = w.fmt("preamble_basis", unit, basis=basis) if basis else w.fmt("preamble", unit)
            if text:
                out.append([text])
        tail = w.fmt("period", unit) + contact
        if tail:
            out.append([tail])
    else:
        text = w.fmt("opening", unit)
        if text:
            out.append([text])
        if contact:
            out.append([contact])
    return out


def split_paragraphs(text: str | None) -> list[str]:
    """Narrative text → paragraphs (one per line; blank lines and leading indents dropped)."""
    if not text:
        return []
    lines = str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [ln.strip(" \t\u3000\xa0") for ln in lines if ln.strip(" \t\u3000\xa0")]


# --------------------------------------------------------------------------- national format (2019/2021)


def _national_t2(unit: Unit, w: Wording) -> list[Paragraph]:
    form = unit.form
    t2 = form.tables["t2"]
    f = Figures(unit)
    needed = ("t2.regulations.made", "t2.normative.made", "t2.licensing.decisions", "t2.fees.fee_amount")
    if not all(f.has(c) for c in needed):  # the 2019 table 二 has other columns: table only
        return []
    docs = [r for r in ("regulations", "normative") if r in t2.rows]
    label = {r: t2.rows[r].label for r in t2.rows}

    def pairs(col: str) -> list[tuple[str, Any]]:
        return [(label[r], f.n(f"t2.{r}.{col}")) for r in docs]

    first = _sentence(
        _clause(w, unit, "proactive.made", pairs("made")), _clause(w, unit, "proactive.repealed", pairs("repealed"))
    )
    valid = _clause(w, unit, "proactive.valid", pairs("valid"))
    if valid:
        first = (first[:-1] + "；" + valid + "。") if first else _sentence(valid)
    decisions = [
        (label[r], f.n(f"t2.{r}.decisions"))
        for r in ("licensing", "penalty", "enforcement")
        if f.has(f"t2.{r}.decisions")
    ]
    fee = f.n("t2.fees.fee_amount")
    fee_text = w.fmt("proactive.fees", unit, amount=format_number(fee)) if fee else w.fmt("proactive.fees_none", unit)
    second = _sentence(_clause(w, unit, "proactive.decisions", decisions, "proactive.decision_item"), fee_text)
    text = first + second
    return [[text]] if text else []


def _national_t3(unit: Unit, w: Wording) -> list[Paragraph]:
    t3 = unit.form.tables["t3"]
    f = Figures(unit)
    total = "total" if "total" in t3.columns else None
    new = f.row_total(t3, "new", total)
    carry = f.row_total(t3, "carry", total)
    nxt = f.row_total(t3, "next", total)
    results = [
        (short_label(t3.rows[k].label), f.row_total(t3, k, total))
        for k in t3.rows["result"].children
        if not t3.rows[k].sum_of
    ]
    if not new and not carry and not nxt and not any(v for _, v in results):
        text = w.fmt("requests.none", unit)
        return [[text]] if text else []
    received = (
        w.fmt("requests.received", unit, count=format_number(new)) if new else w.fmt("requests.received_none", unit)
    )
    carried = w.fmt("requests.carried", unit, count=format_number(carry)) if carry else ""
    items = _items(w, unit, results)
    res = w.fmt("requests.results", unit, items=items) if items else ""
    nxt_text = w.fmt("requests.next", unit, count=format_number(nxt)) if nxt else ""
    text = _sentence(received, carried, res, nxt_text)
    return [[text]] if text else []


def _national_t4(unit: Unit, w: Wording) -> list[Paragraph]:
    t4 = unit.form.tables["t4"]
    f = Figures(unit)
    row = next(iter(t4.rows))

    def group(col_id: str) -> tuple[Any, list[tuple[str, Any]]]:
        node = t4.columns[col_id]
        parts, tot = [], None
        for k in node.children:
            c = t4.columns[k]
            v = f.raw(f"t4.{row}.{k}")
            if c.sum_of:
                tot = v
            else:
                parts.append((c.label, 0 if v is None else v))
        return (tot if tot is not None else sum(v for _, v in parts)), parts

    review, review_parts = group("review")
    lit_groups = [(t4.columns[k].label, group(k)[0]) for k in t4.columns["litigation"].children]
    litigation = sum(v for _, v in lit_groups)
    text = _review_text(unit, w, review, review_parts, litigation, lit_groups)
    return [[text]] if text else []


def _review_text(unit: Unit, w: Wording, review, review_parts, litigation, lit_parts) -> str:
    """The 复议/诉讼 sentence shared by every form: none at all, or each with its details."""
    if not review and not litigation:
        return w.fmt("review.none", unit)
    first = (
        w.fmt(
            "review.review",
            unit,
            count=format_number(review),
            details=_details(w, unit, review_parts, "review.details"),
        )
        if review
        else w.fmt("review.review_none", unit)
    )
    second = (
        w.fmt(
            "review.litigation",
            unit,
            count=format_number(litigation),
            details=_details(w, unit, lit_parts, "review.details"),
        )
        if litigation
        else w.fmt("review.litigation_none", unit)
    )
    return _sentence(first, second, sep="；")


def fee_paragraph(unit: Unit, w: Wording) -> Paragraph | None:
    """The 信息处理费 sentence of 六 (2021 format); a Gap when the amount is not given."""
    if not w.get("fee") and not w.get("fee_none"):
        return None
    fee = unit.meta.get("processing_fee")
    if fee is None or fee == "":
        label = "本年收取信息处理费（元）"
        try:
            label = unit.form.field("processing_fee").label
        except KeyError:
            pass
        return [gap(w, unit, label, "processing_fee", "D.meta")]
    try:
        amount = Decimal(str(fee))
    except ArithmeticError:
        return [gap(w, unit, "本年收取信息处理费（元）", "processing_fee", "D.meta")]
    text = w.fmt("fee", unit, amount=format_number(fee)) if amount else w.fmt("fee_none", unit)
    return [text] if text else None


# --------------------------------------------------------------------------- old 统计表 (2017)


def _old_proactive(unit: Unit, w: Wording) -> list[Paragraph]:
    f = Figures(unit)
    total = f.n("stats.publish_total.value")
    normative = f.n("stats.publish_normative.value")
    if not total:
        text = w.fmt("proactive.none", unit)
    elif normative:
        text = w.fmt("proactive.sentence", unit, count=format_number(total), normative=format_number(normative))
    else:
        text = w.fmt("proactive.no_normative", unit, count=format_number(total))
    return [[text]] if text else []


def _old_parts(unit: Unit, table: Table, row_id: str) -> tuple[Any, list[tuple[str, Any]]]:
    f = Figures(unit)
    node = table.rows[row_id]
    parts = [(short_label(table.rows[k].label), f.row_total(table, k, "value")) for k in node.children]
    total = f.raw(f"stats.{row_id}.value")
    if total is None:
        total = sum(v for _, v in parts)
    return total, parts


def _old_requests(unit: Unit, w: Wording) -> list[Paragraph]:
    t = unit.form.tables["stats"]
    received, channels = _old_parts(unit, t, "req_received")
    closed, closed_parts = _old_parts(unit, t, "req_closed")
    answered, answers = _old_parts(unit, t, "req_answered")
    refused, reasons = _old_parts(unit, t, "ans_refused")
    if not any((received, closed, answered, refused)):
        text = w.fmt("requests.none", unit)
        return [[text]] if text else []
    out = []
    if received:
        out.append(
            w.fmt(
                "requests.received",
                unit,
                count=format_number(received),
                details=_details(w, unit, channels, "requests.details"),
            )
        )
    if closed:
        out.append(
            w.fmt(
                "requests.closed",
                unit,
                count=format_number(closed),
                details=_details(w, unit, closed_parts, "requests.details"),
            )
        )
    if answered:
        out.append(
            w.fmt(
                "requests.answered",
                unit,
                count=format_number(answered),
                details=_details(w, unit, answers, "requests.details"),
            )
        )
    if refused:
        out.append(
            w.fmt(
                "requests.refused",
                unit,
                count=format_number(refused),
                details=_details(w, unit, reasons, "requests.details"),
            )
        )
    else:
        out.append(w.fmt("requests.refused_none", unit))
    text = "".join(out)
    return [[text]] if text else []


def _old_review(unit: Unit, w: Wording) -> list[Paragraph]:
    t = unit.form.tables["stats"]
    review, review_parts = _old_parts(unit, t, "review")
    litigation, lit_parts = _old_parts(unit, t, "litigation")
    complaints, compl_parts = _old_parts(unit, t, "complaints") if "complaints" in t.rows else (0, [])
    text = _review_text(unit, w, review, review_parts, litigation, lit_parts)
    if complaints:
        text += w.fmt(
            "review.complaints",
            unit,
            count=format_number(complaints),
            details=_details(w, unit, compl_parts, "review.details"),
        )
    return [[text]] if text else []


# --------------------------------------------------------------------------- per section


def generated(unit: Unit, section: Section, w: Wording) -> list[Paragraph]:
    """The sentences made from the numbers for one section (before its own text)."""
    fam = w.family
    if fam == NATIONAL:
        fn = {"t2": _national_t2, "t3": _national_t3, "t4": _national_t4}.get(section.id)
        if fn is not None and section.id in unit.form.tables:
            return fn(unit, w)
    elif fam == OLD:
        fn = {"proactive": _old_proactive, "requests": _old_requests, "review": _old_review}.get(section.id)
        if fn is not None and "stats" in unit.form.tables:
            return fn(unit, w)
    return []


def closing(unit: Unit, section: Section, w: Wording) -> list[Paragraph]:
    """Sentences that follow a section's own text (the 信息处理费 statement of 六)."""
    if w.family == NATIONAL and section.id == "other":
        p = fee_paragraph(unit, w)
        return [p] if p else []
    return []


def default_text(unit: Unit, section: Section, w: Wording) -> str:
    """What an optional section says when the office left it blank ("" = nothing)."""
    if w.family == OLD:
        return (
            w.fmt({"fees": "fees_default", "other": "other_default"}.get(section.id, ""), unit)
            if section.id in ("fees", "other")
            else ""
        )
    return ""


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
