"""The keys a spec file may use, declared once per level, and the check that refuses any other.

A misspelt key must never load silently (``sumof`` instead of ``sum_of`` would drop a
rule), so every mapping of a spec file is checked against its level here, and an unknown
key is refused with the file, the place in the file and the nearest known key::

    表样定义文件 2021.yaml，tables[t3] → columns[applicants] → children[total]：
    未知的键“sumof”（是否应为“sum_of”？）

To add a key to the spec format, add it to its level below (with the kind of value it
takes) and read it where the form is built (:mod:`gkreport.spec.load`) or, for a key
only a writer uses, from ``Form.raw``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import SpecError

# Kinds of values (checked loosely: YAML gives numbers for unquoted ids and years).
TEXT = "text"  # a string (or a number written without quotes)
TEXTS = "texts"  # a list of texts, or one text
BOOL = "bool"
INT = "int"
NUMBER = "number"
YEARS = "years"  # [first, last], either may be null
ITEMS = "items"  # a list of mappings, each checked against a level
MAPPING = "mapping"
ANY = "any"


@dataclass(frozen=True)
class Level:
    """One kind of mapping in a spec file: the keys it may have and what each takes."""

    name: str  # how messages call it
    keys: Mapping[str, str]  # key → kind of value
    required: tuple[str, ...] = ()

    def with_keys(self, **more: str) -> Level:
        return Level(self.name, {**self.keys, **more}, self.required)


FORM = Level(
    "表样",
    {
        "id": TEXT,
        "name": TEXT,
        "short_name": TEXT,
        "years": YEARS,
        "report_title": TEXT,
        "xlsx_title": TEXT,
        "deadline": TEXT,
        "superseded_by": TEXT,
        "foreign_labels": TEXTS,
        "metadata": ANY,  # a list of fields, or {same_as: form}
        "sections": ANY,  # a list of sections, or {same_as: form}
        "tables": ITEMS,
        "rules": ANY,  # a list of rules, or {same_as: form}
        "maps_to": MAPPING,  # how a unit of this form is summed with units of a later form (see MAPS_TO)
    },
    required=("id",),
)

# ``maps_to``: the cells of this (older) form that carry over onto a later form's cells, so that
# a unit still reporting on this form can be summed with the units on the later one.
MAPS_TO = Level(
    "换算",
    {
        "form": TEXT,  # the later form
        "same": TEXTS,  # tables whose cells have the same ids in both forms
        "cells": MAPPING,  # cell of this form: cell of the later form
        "notes": MAPPING,  # table id: what a summary says about the units summed this way
    },
    required=("form",),
)

TABLE = Level(
    "表",
    {
        "id": TEXT,
        "title": TEXT,
        "layout": TEXT,
        "aliases": TEXTS,
        "unit": TEXT,
        "label_header": TEXT,
        "unit_header": TEXT,
        "corner": TEXT,
        "subtitle": TEXT,
        "footnote": TEXT,
        "rows": ITEMS,
        "columns": ITEMS,
    },
)

NODE = Level(
    "行/列",
    {
        "id": TEXT,
        "label": TEXT,
        "aliases": TEXTS,
        "heading": BOOL,
        "subtotal": TEXT,
        "caption": BOOL,
        "kind": TEXT,
        "sum_of": TEXTS,
        "dedup_of": TEXTS,
        "unit": TEXT,
        "type": TEXT,
        "columns": TEXTS,
        "children": ITEMS,
    },
)

FIELD = Level(
    "单位信息字段",
    {"id": TEXT, "label": TEXT, "type": TEXT, "required": BOOL, "aliases": TEXTS, "hint": TEXT},
)

SECTION = Level(
    "章节",
    {
        "id": TEXT,
        "heading": TEXT,
        "kind": TEXT,
        "table": TEXT,
        "required": BOOL,
        "aliases": TEXTS,
        "hint": TEXT,
    },
)

RULE = Level("规则", {"id": TEXT, "severity": TEXT, "description": TEXT, "kind": TEXT, "message": TEXT})

# Keys of each kind of rule besides those of RULE.
RULE_KINDS: dict[str, Mapping[str, str]] = {
    "expr": {
        "table": TEXT,
        "each": TEXT,
        "expr": TEXT,
        "when": TEXT,
        "target": TEXT,
        "unit_matches": TEXT,
        "unit_excludes": TEXT,
    },
    "narrative": {"pattern": TEXT, "zero": TEXT, "equals": TEXTS, "sections": TEXTS, "table": TEXT},
    "mention": {"mentions": TEXTS, "sections": TEXTS, "unless_field": TEXT, "when": TEXT, "table": TEXT},
    "length": {"sections": TEXTS, "max_chars": INT},
    "repeat": {"sections": TEXTS, "threshold": NUMBER},
}

# An item written as a copy of another form's item: ``same_as: "2021/t3"`` plus the keys it changes.
SAME_AS = {"same_as": TEXT}
REPLACE_ROWS = {"replace_rows": ITEMS}  # tables only: rows of the copied table replaced by id


def rule_level(kind: str) -> Level:
    """The keys a rule of ``kind`` may have."""
    return RULE.with_keys(**RULE_KINDS.get(kind, {}))


def any_rule_level() -> Level:
    """Every key some kind of rule may have (for a copied rule, whose kind may be inherited)."""
    keys: dict[str, str] = dict(RULE.keys)
    for more in RULE_KINDS.values():
        keys.update(more)
    return Level(RULE.name, keys)


# --------------------------------------------------------------------------- the check


def where(path: tuple[str, ...]) -> str:
    return " → ".join(path)


def fail(file: str, path: tuple[str, ...], what: str) -> SpecError:
    place = f"，{where(path)}" if path else ""
    return SpecError(f"表样定义文件 {file}{place}：{what}")


def suggest(key: str, known: list[str]) -> str:
    """``（是否应为“sum_of”？）`` for a near miss, else the list of known keys."""
    near = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if near:
        return f"（是否应为“{near[0]}”？）"
    return f"（可用的键：{'、'.join(known)}）"


def check_keys(item: Mapping[str, Any], level: Level, file: str, path: tuple[str, ...]) -> None:
    """Refuse keys the level does not declare, required keys that are missing, and values of the wrong kind."""
    known = list(level.keys)
    for key in item:
        if key not in level.keys:
            raise fail(file, path, f"{level.name}中有未知的键“{key}”{suggest(str(key), known)}")
    for key in level.required:
        if key not in item:
            raise fail(file, path, f"{level.name}缺少“{key}”")
    for key, value in item.items():
        problem = _kind_problem(level.keys[key], value)
        if problem:
            raise fail(file, path, f"“{key}”{problem}")


def _is_text(v: Any) -> bool:
    return isinstance(v, (str, int, float)) and not isinstance(v, bool)


def _kind_problem(kind: str, v: Any) -> str | None:
    if v is None or kind == ANY:
        return None
    if kind == TEXT and not _is_text(v):
        return "应为一段文字"
    if kind == TEXTS and not (_is_text(v) or (isinstance(v, list) and all(_is_text(x) for x in v))):
        return "应为文字或文字的列表"
    if kind == BOOL and not isinstance(v, bool):
        return "应为 true 或 false"
    if kind == INT and (isinstance(v, bool) or not isinstance(v, int)):
        return "应为整数"
    if kind == NUMBER and (isinstance(v, bool) or not isinstance(v, (int, float))):
        return "应为数"
    if kind == YEARS and not (
        isinstance(v, list)
        and len(v) == 2
        and all(x is None or (isinstance(x, int) and not isinstance(x, bool)) for x in v)
    ):
        return "应为 [起始年度, 截止年度]（不限时写 null）"
    if kind == ITEMS and not (isinstance(v, list) and all(isinstance(x, dict) for x in v)):
        return "应为一组项目（每项是“键: 值”的映射）"
    if kind == MAPPING and not isinstance(v, dict):
        return "应为“键: 值”的映射"
    return None


def _label(item: Mapping[str, Any], index: int) -> str:
    ident = item.get("id", item.get("same_as"))
    return str(ident) if ident is not None else f"第{index + 1}项"


def _nodes(items: list[Any], file: str, path: tuple[str, ...], key: str) -> None:
    for i, item in enumerate(items or ()):
        here = path + (f"{key}[{_label(item, i)}]",)
        check_keys(item, NODE, file, here)
        _nodes(item.get("children") or [], file, here, "children")


def _item_list(value: Any, level: Level, file: str, key: str, extra: Mapping[str, str] = SAME_AS) -> None:
    """A list of items of ``level`` (each may be a copy: ``same_as`` + changed keys), or ``{same_as: form}``."""
    if isinstance(value, dict):
        check_keys(value, Level(level.name + "列表", SAME_AS, ("same_as",)), file, (key,))
        return
    if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
        raise fail(file, (key,), f"“{key}”应为一组项目，或 {{same_as: 表样}}")
    for i, item in enumerate(value):
        check_keys(item, level.with_keys(**extra) if "same_as" in item else level, file, (f"{key}[{_label(item, i)}]",))


def check_spec(raw: Mapping[str, Any], file: str) -> None:
    """Check every mapping of one spec file as written (before ``same_as`` copies are filled in)."""
    check_keys(raw, FORM, file, ())
    if isinstance(raw.get("maps_to"), dict):
        check_keys(raw["maps_to"], MAPS_TO, file, ("maps_to",))
        for key in ("cells", "notes"):
            for k, v in (raw["maps_to"].get(key) or {}).items():
                if not _is_text(k) or not _is_text(v):
                    raise fail(file, ("maps_to", key), f"“{k}: {v}”应为“编号: 文字”")
    for key, level in (("metadata", FIELD), ("sections", SECTION)):
        if raw.get(key) is not None:
            _item_list(raw[key], level, file, key)
    for i, t in enumerate(raw.get("tables") or ()):
        here = (f"tables[{_label(t, i)}]",)
        level = TABLE.with_keys(**SAME_AS, **REPLACE_ROWS) if "same_as" in t else TABLE
        check_keys(t, level, file, here)
        for axis in ("rows", "columns", "replace_rows"):
            _nodes(t.get(axis) or [], file, here, axis)
    rules = raw.get("rules")
    if isinstance(rules, list):
        for i, r in enumerate(rules):
            if not isinstance(r, dict):
                raise fail(file, (f"rules[第{i + 1}项]",), f"规则应为“键: 值”的映射：{r!r}")
            here = (f"rules[{_label(r, i)}]",)
            if "same_as" in r:
                check_keys(r, any_rule_level().with_keys(**SAME_AS), file, here)
            else:
                kind = str(r.get("kind", "expr"))
                if kind not in RULE_KINDS:
                    raise fail(file, here, f"kind “{kind}” 不是 {'、'.join(RULE_KINDS)} 之一")
                check_keys(r, rule_level(kind), file, here)
    elif rules is not None:
        _item_list(rules, RULE, file, "rules")
