"""Forms as data: load a spec file into Form → Table → row tree × column tree → cells.

A spec file (YAML) describes one official form. Nothing in the code knows a
particular form: the reader, checks and writers work from this model, so a new
form needs only a new spec file (in ``gkreport/forms/`` or a folder named in
``GKREPORT_FORMS``).
"""

from __future__ import annotations

import copy
import hashlib
import os
from dataclasses import dataclass, field
from functools import cache, cached_property, lru_cache
from pathlib import Path
from typing import Any

import yaml

try:  # the C loader is ~10× faster; fall back where libyaml is missing
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

BUILTIN_DIR = Path(__file__).with_name("forms")

VALUE_TYPES = ("int", "signed_int", "decimal")


class SpecError(Exception):
    """A form spec file is broken; the message names the file and the item."""


@dataclass(frozen=True)
class Node:
    """A row or a column of a table, with its place in the tree."""

    id: str
    label: str
    aliases: tuple[str, ...] = ()
    parent: str | None = None
    children: tuple[str, ...] = ()
    level: int = 0
    heading: bool = False  # carries no value of its own
    subtotal: str | None = None  # "optional": a heading some layouts give a value row
    caption: bool = False  # spans the header but is not part of the label path
    kind: str | None = None  # relation to children: partition / subset / dedup
    sum_of: tuple[str, ...] = ()  # this node = sum of those nodes
    dedup_of: tuple[str, ...] = ()  # max(those) ≤ this ≤ sum(those)
    unit: str | None = None
    type: str | None = None
    columns: tuple[str, ...] | None = None  # rows only: columns that carry values
    path: tuple[str, ...] = ()  # official labels from the top-level node down

    @property
    def has_value(self) -> bool:
        return not self.heading or self.subtotal is not None


@dataclass(frozen=True)
class Cell:
    """One number of the form, addressed as ``<table>.<row>.<column>``."""

    id: str
    table: str
    row: str
    column: str
    type: str  # int / signed_int / decimal
    unit: str
    optional: bool = False  # only present in some layouts (subtotal rows)


@dataclass(frozen=True, eq=False)  # identity hash: a loaded table is a cache key
class Table:
    id: str
    title: str
    rows: dict[str, Node]
    columns: dict[str, Node]
    cells: dict[str, Cell]
    aliases: tuple[str, ...] = ()
    unit: str = "件"
    label_header: str | None = None  # header over the row labels (信息内容 / 统计指标)
    unit_header: str | None = None  # header of a per-row unit column (单位)
    corner: str | None = None  # text of the top-left header block
    subtitle: str | None = None
    footnote: str | None = None
    layout: str = "tree"  # tree / blocks / list: how the official table is drawn (see layout.py)

    def title_for(self, year: int | None = None) -> str:
        return self.title.replace("{year}", str(year) if year else "")

    def row_path(self, row_id: str) -> str:
        return "/".join(self.rows[row_id].path)

    def column_path(self, col_id: str) -> str:
        return "/".join(self.columns[col_id].path)

    def value_rows(self) -> list[Node]:
        return [n for n in self.rows.values() if n.has_value]

    def value_columns(self) -> list[Node]:
        return [n for n in self.columns.values() if not n.children and not n.heading]

    def row_columns(self, row_id: str) -> list[str]:
        """The value columns that the row carries, in table order."""
        allowed = self.rows[row_id].columns
        return [c.id for c in self.value_columns() if allowed is None or c.id in allowed]

    def leaves(self, axis: str, node_id: str) -> list[str]:
        """Value-carrying nodes under (or equal to) node_id, for sums over a heading."""
        nodes = self.rows if axis == "row" else self.columns
        node = nodes[node_id]
        if not node.children:
            return [node_id]
        out: list[str] = []
        for child in node.children:
            out.extend(self.leaves(axis, child))
        return out

    def header_depth(self) -> int:
        """Number of header rows needed to show the column tree."""

        def depth(n: Node) -> int:
            return 1 + max((depth(self.columns[c]) for c in n.children), default=0)

        return max((depth(n) for n in self.columns.values() if n.parent is None), default=1)

    def row_depth(self) -> int:
        """Number of label columns needed to show the row tree (official merged layout)."""
        return max((n.level for n in self.rows.values()), default=0) + 1


@dataclass(frozen=True)
class Field:
    id: str
    label: str
    type: str = "text"  # text / year / date / decimal
    required: bool = False
    aliases: tuple[str, ...] = ()
    hint: str | None = None


@dataclass(frozen=True)
class Section:
    id: str
    heading: str
    kind: str  # text / table
    table: str | None = None
    required: bool = False
    aliases: tuple[str, ...] = ()
    hint: str | None = None


@dataclass(frozen=True, eq=False)  # identity hash: a loaded form is a cache key
class Form:
    id: str
    name: str
    short_name: str
    years: tuple[int | None, int | None]
    tables: dict[str, Table]
    metadata: tuple[Field, ...]
    sections: tuple[Section, ...]
    report_title: str
    xlsx_title: str
    deadline: str | None
    superseded_by: str | None
    foreign_labels: tuple[str, ...]
    rules: tuple[dict[str, Any], ...]  # explicit rules, parsed by the check engine
    path: Path
    spec_hash: str
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @cached_property
    def cells(self) -> dict[str, Cell]:
        return {cid: c for t in self.tables.values() for cid, c in t.cells.items()}

    def cell(self, cell_id: str) -> Cell:
        table = self.tables[cell_id.split(".", 1)[0]]
        return table.cells[cell_id]

    def field(self, field_id: str) -> Field:
        for f in self.metadata:
            if f.id == field_id:
                return f
        raise KeyError(field_id)

    def applies_to(self, year: int) -> bool:
        first, last = self.years
        return (first is None or year >= first) and (last is None or year <= last)


# --------------------------------------------------------------------------- loading


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    return (str(value),)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(f"表样定义文件 {path} 无法读取：{exc}") from exc
    if not isinstance(data, dict) or "id" not in data:
        raise SpecError(f"表样定义文件 {path} 缺少 id")
    return data


def form_dirs(extra: list[Path] | None = None) -> list[Path]:
    dirs = [BUILTIN_DIR]
    env = os.environ.get("GKREPORT_FORMS")
    if env:
        dirs += [Path(p) for p in env.split(os.pathsep) if p]
    dirs += list(extra or [])
    return dirs


def spec_files(extra: list[Path] | None = None) -> dict[str, Path]:
    """Form id → spec file; later folders override earlier ones."""
    found: dict[str, Path] = {}
    for d in form_dirs(extra):
        for p in sorted(Path(d).glob("*.y*ml")):
            found[_spec_id(str(p), p.stat().st_mtime)] = p
    return found


@lru_cache(maxsize=256)
def _spec_id(path: str, mtime: float) -> str:
    return str(_read_yaml(Path(path))["id"])


class _Builder:
    """Flattens one table's nested row/column lists into Nodes."""

    def __init__(self, path: Path, table_id: str):
        self.path = path
        self.table_id = table_id

    def fail(self, what: str) -> SpecError:
        return SpecError(f"表样定义文件 {self.path.name}，表 {self.table_id}：{what}")

    def nodes(self, items: list[dict[str, Any]], axis: str, unit: str | None = None) -> dict[str, Node]:
        out: dict[str, Node] = {}

        def walk(
            item: dict[str, Any],
            parent: Node | None,
            level: int,
            path: tuple[str, ...],
            columns: tuple[str, ...] | None,
        ) -> None:
            if not isinstance(item, dict) or "id" not in item or "label" not in item:
                raise self.fail(f"{axis} 项缺少 id 或 label：{item!r}")
            nid = str(item["id"])
            if nid in out:
                raise self.fail(f"{axis} id “{nid}” 重复")
            label = str(item["label"])
            caption = bool(item.get("caption", False))
            own_path = path if caption or not label else path + (label,)
            cols = _as_tuple(item["columns"]) if "columns" in item else columns
            kids = item.get("children") or []
            typ = item.get("type")
            if typ is not None and typ not in VALUE_TYPES:
                raise self.fail(f"“{nid}” 的 type “{typ}” 不是 {VALUE_TYPES} 之一")
            node = Node(
                id=nid,
                label=label,
                aliases=_as_tuple(item.get("aliases")),
                parent=parent.id if parent else None,
                children=tuple(str(k["id"]) for k in kids if isinstance(k, dict) and "id" in k),
                level=level,
                heading=bool(item.get("heading", False)),
                subtotal=item.get("subtotal"),
                caption=caption,
                kind=item.get("kind"),
                sum_of=_as_tuple(item.get("sum_of")),
                dedup_of=_as_tuple(item.get("dedup_of")),
                unit=item.get("unit") or (parent.unit if parent else unit),
                type=typ,
                columns=cols,
                path=own_path,
            )
            out[nid] = node
            for kid in kids:
                walk(kid, node, level + (0 if caption else 1), own_path, cols)

        for item in items:
            walk(item, None, 0, (), None)
        return out

    def table(self, raw: dict[str, Any]) -> Table:
        unit = str(raw.get("unit", "件"))
        rows = self.nodes(raw.get("rows") or [], "行", unit)
        columns = self.nodes(raw.get("columns") or [], "列")
        if not rows or not columns:
            raise self.fail("没有行或没有列")
        for axis, nodes in (("行", rows), ("列", columns)):
            for n in nodes.values():
                for ref in n.sum_of + n.dedup_of:
                    if ref not in nodes:
                        raise self.fail(f"{axis}“{n.id}”引用了不存在的{axis}“{ref}”")
                if n.kind not in (None, "partition", "subset", "dedup"):
                    raise self.fail(f"{axis}“{n.id}”的 kind “{n.kind}” 无效")
                if n.kind and not n.children:
                    raise self.fail(f"{axis}“{n.id}”声明了 kind 但没有下级")
        value_cols = [c for c in columns.values() if not c.children and not c.heading]
        for r in rows.values():
            for c in r.columns or ():
                if c not in columns:
                    raise self.fail(f"行“{r.id}”引用了不存在的列“{c}”")
        cells: dict[str, Cell] = {}
        for r in rows.values():
            if not r.has_value:
                continue
            for c in value_cols:
                if r.columns is not None and c.id not in r.columns:
                    continue
                cid = f"{self.table_id}.{r.id}.{c.id}"
                cells[cid] = Cell(
                    id=cid,
                    table=self.table_id,
                    row=r.id,
                    column=c.id,
                    type=c.type or r.type or "int",
                    unit=c.unit or r.unit or unit,
                    optional=r.subtotal == "optional",
                )
        return Table(
            id=self.table_id,
            title=str(raw["title"]),
            rows=rows,
            columns=columns,
            cells=cells,
            aliases=_as_tuple(raw.get("aliases")),
            unit=unit,
            label_header=raw.get("label_header"),
            unit_header=raw.get("unit_header"),
            corner=raw.get("corner"),
            subtitle=raw.get("subtitle"),
            footnote=raw.get("footnote"),
            layout=self._layout(raw.get("layout", "tree")),
        )

    def _layout(self, layout: str) -> str:
        if layout not in ("tree", "blocks", "list"):
            raise self.fail(f"layout “{layout}” 不是 tree、blocks、list 之一")
        return layout


def _replace_rows(items: list[dict[str, Any]], replacements: dict[str, dict[str, Any]]) -> list:
    out = []
    for item in items:
        if item.get("id") in replacements:
            out.append(replacements[item["id"]])
            continue
        item = dict(item)
        if item.get("children"):
            item["children"] = _replace_rows(item["children"], replacements)
        out.append(item)
    return out


def _resolve(raw: dict[str, Any], path: Path, files: dict[str, Path], seen: tuple[str, ...]) -> dict:
    """Expand ``same_as`` references to other forms' tables and metadata."""
    raw = copy.deepcopy(raw)

    def other(form_id: str) -> dict[str, Any]:
        if form_id in seen:
            raise SpecError(f"表样定义文件 {path.name}：same_as 循环引用 {form_id}")
        if form_id not in files:
            raise SpecError(f"表样定义文件 {path.name}：same_as 引用了不存在的表样 {form_id}")
        return _resolve(_read_yaml(files[form_id]), files[form_id], files, seen + (form_id,))

    meta = raw.get("metadata")
    if isinstance(meta, dict) and "same_as" in meta:
        raw["metadata"] = other(str(meta["same_as"]))["metadata"]
    tables = []
    for t in raw.get("tables") or []:
        if "same_as" in t:
            form_id, _, table_id = str(t["same_as"]).partition("/")
            src = next((x for x in other(form_id)["tables"] if x.get("id") == table_id), None)
            if src is None:
                raise SpecError(f"表样定义文件 {path.name}：same_as 引用了不存在的表 {t['same_as']}")
            src = copy.deepcopy(src)
            if t.get("replace_rows"):
                src["rows"] = _replace_rows(src["rows"], {r["id"]: r for r in t["replace_rows"]})
            t = {**src, **{k: v for k, v in t.items() if k not in ("same_as", "replace_rows")}}
        tables.append(t)
    raw["tables"] = tables
    return raw


def load_form_file(path: Path, files: dict[str, Path] | None = None) -> Form:
    path = Path(path)
    raw = _read_yaml(path)
    files = dict(files or spec_files())
    files.setdefault(str(raw["id"]), path)
    raw = _resolve(raw, path, files, (str(raw["id"]),))
    digest = hashlib.sha256(yaml.safe_dump(raw, allow_unicode=True, sort_keys=True).encode()).hexdigest()
    tables: dict[str, Table] = {}
    for t in raw.get("tables") or []:
        if "id" not in t or "title" not in t:
            raise SpecError(f"表样定义文件 {path.name}：表缺少 id 或 title")
        if t["id"] in tables:
            raise SpecError(f"表样定义文件 {path.name}：表 id “{t['id']}” 重复")
        tables[str(t["id"])] = _Builder(path, str(t["id"])).table(t)
    if not tables:
        raise SpecError(f"表样定义文件 {path.name}：没有定义任何表")
    metadata = tuple(
        Field(
            id=str(f["id"]),
            label=str(f["label"]),
            type=f.get("type", "text"),
            required=bool(f.get("required", False)),
            aliases=_as_tuple(f.get("aliases")),
            hint=f.get("hint"),
        )
        for f in raw.get("metadata") or []
    )
    if not any(f.id == "unit" for f in metadata) or not any(f.id == "year" for f in metadata):
        raise SpecError(f"表样定义文件 {path.name}：metadata 必须包含 unit 和 year")
    sections = tuple(
        Section(
            id=str(s["id"]),
            heading=str(s["heading"]),
            kind=s.get("kind", "text"),
            table=s.get("table"),
            required=bool(s.get("required", False)),
            aliases=_as_tuple(s.get("aliases")),
            hint=s.get("hint"),
        )
        for s in raw.get("sections") or []
    )
    for s in sections:
        if s.kind == "table" and s.table not in tables:
            raise SpecError(f"表样定义文件 {path.name}：章节“{s.id}”引用了不存在的表“{s.table}”")
    years = raw.get("years") or [None, None]
    form = Form(
        id=str(raw["id"]),
        name=str(raw.get("name", raw["id"])),
        short_name=str(raw.get("short_name", raw.get("name", raw["id"]))),
        years=(years[0], years[1]),
        tables=tables,
        metadata=metadata,
        sections=sections,
        report_title=str(raw.get("report_title", "{unit}{year}年政府信息公开工作年度报告")),
        xlsx_title=str(raw.get("xlsx_title", "{unit}{year}年政府信息公开工作情况统计表")),
        deadline=raw.get("deadline"),
        superseded_by=raw.get("superseded_by"),
        foreign_labels=_as_tuple(raw.get("foreign_labels")),
        rules=tuple(raw.get("rules") or ()),
        path=path,
        spec_hash=digest,
        raw=raw,
    )
    from .rules import lint_form  # lazy: rules imports this module

    lint_form(form)
    return form


@cache
def _load_cached(path: str, mtime: float, dirs: tuple[str, ...]) -> Form:
    return load_form_file(Path(path), spec_files([Path(d) for d in dirs]))


def load_form(form_id: str, extra_dirs: list[Path] | None = None) -> Form:
    files = spec_files(extra_dirs)
    if form_id not in files:
        raise SpecError(f"没有表样“{form_id}”，可用的表样：{'、'.join(sorted(files))}")
    p = files[form_id]
    return _load_cached(str(p), p.stat().st_mtime, tuple(str(d) for d in extra_dirs or ()))


def form_from_path(form_id: str, path: str) -> Form:
    """The loaded form of a spec file (cached), e.g. for a Unit arriving from another process."""
    folder = Path(path).parent
    if folder == BUILTIN_DIR:
        return load_form(form_id)
    for form in load_forms([folder]).values():
        if form.id == form_id:
            return form
    return load_form_file(Path(path))


def load_forms(extra_dirs: list[Path] | None = None) -> dict[str, Form]:
    return {fid: load_form(fid, extra_dirs) for fid in spec_files(extra_dirs)}
