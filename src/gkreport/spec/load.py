"""Forms as data: load a spec file (YAML) into a :class:`~gkreport.spec.model.Form`.

A spec file describes one official form. Nothing in the code knows a particular
form: the reader, checks and writers work from the model, so a new form needs only
a new spec file (in ``gkreport/forms/`` or a folder named in ``GKREPORT_FORMS``).

Every mapping of a spec file is checked against :mod:`gkreport.spec.schema` (an unknown
key is refused, never ignored). An item of ``tables``, ``metadata``, ``sections`` or
``rules`` may be a copy of another form's item, ``same_as: "<form>/<id>"``, with the keys
it changes written beside it (a table may also ``replace_rows``); a whole list may be
``{same_as: "<form>"}``. The form's rules are built and linted when it is loaded.
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import json
import os
import re
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import yaml

from ..errors import SpecError
from . import schema
from .compiled import compiled
from .model import LAYOUTS, NODE_KINDS, VALUE_TYPES, Cell, Field, Form, Node, Section, Table

try:  # the C loader is ~10× faster; fall back where libyaml is missing
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

BUILTIN_DIR = Path(__file__).parent.parent / "forms"

FIELD_TYPES = ("text", "year", "date", "decimal")
SECTION_KINDS = ("text", "table")
_LISTS = {"tables": "表", "metadata": "单位信息字段", "sections": "章节", "rules": "规则"}


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    return (str(value),)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
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
    return {fid: p for fid, (p, _) in _spec_files(extra).items()}


def _spec_files(extra: list[Path] | None = None) -> dict[str, tuple[Path, float]]:
    """Form id → (spec file, its modification time). The folders are listed as ``Path.glob("*.y*ml")``
    lists them (a missing or unreadable folder holds nothing), with fewer steps: the reader asks for
    every workbook."""
    found: dict[str, tuple[Path, float]] = {}
    for d in form_dirs(extra):
        try:
            with os.scandir(d) as entries:
                paths = [e.path for e in entries if fnmatch.fnmatch(e.name, "*.y*ml")]
        except OSError:
            continue
        for path in sorted(paths, key=os.path.normcase):  # in one folder: the order of sorted Paths
            mtime = os.stat(path).st_mtime
            found[_spec_id(path, mtime)] = (_path(path), mtime)
    return found


@lru_cache(maxsize=256)
def _path(path: str) -> Path:
    return Path(path)


# A top-level ``id: 2021`` line: every process reads each spec's id before loading any, so a plain
# scan spares a full YAML parse; anything unusual (escapes, flow style, no such line) takes the parser.
_ID_LINE = re.compile(
    rb"^id:[ \t]*(?:([1-9][0-9]*|[A-Za-z][0-9A-Za-z_-]*)|\"([0-9A-Za-z_.-]+)\"|'([0-9A-Za-z_.-]+)')[ \t]*(?:#.*)?$",
    re.MULTILINE,
)
_YAML_WORDS = {b"y", b"n", b"yes", b"no", b"true", b"false", b"on", b"off", b"null"}


@lru_cache(maxsize=256)
def _spec_id(path: str, mtime: float) -> str:
    try:
        found = _ID_LINE.findall(Path(path).read_bytes())
    except OSError:
        found = []
    if len(found) == 1:
        plain, double, single = found[0]
        if plain and plain.lower() not in _YAML_WORDS:
            return plain.decode("ascii")
        if double or single:  # a quoted plain token is that very text
            return (double or single).decode("ascii")
    return str(_read_yaml(Path(path))["id"])


def _digest(raw: dict[str, Any]) -> str:
    """A digest of the resolved spec: any change to what the form says changes it."""
    try:
        text = json.dumps(raw, ensure_ascii=False, sort_keys=True, default=str)
    except TypeError:  # keys of mixed types cannot be sorted by json
        text = yaml.safe_dump(raw, allow_unicode=True, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


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
                if n.kind is not None and n.kind not in NODE_KINDS:
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
            for col in value_cols:
                if r.columns is not None and col.id not in r.columns:
                    continue
                cid = f"{self.table_id}.{r.id}.{col.id}"
                cells[cid] = Cell(
                    id=cid,
                    table=self.table_id,
                    row=r.id,
                    column=col.id,
                    type=col.type or r.type or "int",
                    unit=col.unit or r.unit or unit,
                    optional=r.subtotal == "optional",
                )
        layout = raw.get("layout", "tree")
        if layout not in LAYOUTS:
            raise self.fail(f"layout “{layout}” 不是 tree、blocks、list 之一")
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
            layout=layout,
        )


# --------------------------------------------------------------------------- same_as


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
    """Fill in the ``same_as`` copies of other forms' items and lists."""
    raw = copy.deepcopy(raw)
    resolved: dict[str, dict[str, Any]] = {}

    def other(form_id: str) -> dict[str, Any]:
        if form_id in seen:
            raise SpecError(f"表样定义文件 {path.name}：same_as 循环引用 {form_id}")
        if form_id not in files:
            raise SpecError(f"表样定义文件 {path.name}：same_as 引用了不存在的表样 {form_id}")
        if form_id not in resolved:
            src = _read_yaml(files[form_id])
            schema.check_spec(src, files[form_id].name)
            resolved[form_id] = _resolve(src, files[form_id], files, seen + (form_id,))
        return resolved[form_id]

    def copy_of(key: str, item: dict[str, Any]) -> dict[str, Any]:
        ref = str(item["same_as"])
        form_id, slash, item_id = ref.partition("/")
        if not slash or not item_id:
            raise SpecError(
                f"表样定义文件 {path.name}：{key} 中的 same_as “{ref}” 应写成“表样/编号”，如“2021/{key[:1]}1”"
            )
        src = next((x for x in other(form_id).get(key) or () if str(x.get("id")) == item_id), None)
        if src is None:
            raise SpecError(f"表样定义文件 {path.name}：same_as 引用了不存在的{_LISTS[key]} {ref}")
        src = copy.deepcopy(src)
        if item.get("replace_rows"):
            src["rows"] = _replace_rows(src["rows"], {r["id"]: r for r in item["replace_rows"]})
        return {**src, **{k: v for k, v in item.items() if k not in ("same_as", "replace_rows")}}

    for key in _LISTS:
        value = raw.get(key)
        if isinstance(value, dict) and "same_as" in value:
            raw[key] = copy.deepcopy(other(str(value["same_as"])).get(key) or [])
        elif isinstance(value, list):
            raw[key] = [copy_of(key, item) if "same_as" in item else item for item in value]
    return raw


# --------------------------------------------------------------------------- loading


def load_form_file(path: Path, files: dict[str, Path] | None = None) -> Form:
    """Load, check and lint one spec file (``files``: the other forms ``same_as`` may name)."""
    path = Path(path)
    raw = _read_yaml(path)
    schema.check_spec(raw, path.name)
    files = dict(files or spec_files())
    files.setdefault(str(raw["id"]), path)
    raw = _resolve(raw, path, files, (str(raw["id"]),))
    digest = _digest(raw)
    tables: dict[str, Table] = {}
    for t in raw.get("tables") or []:
        if "id" not in t or "title" not in t:
            raise SpecError(f"表样定义文件 {path.name}：表缺少 id 或 title")
        if t["id"] in tables:
            raise SpecError(f"表样定义文件 {path.name}：表 id “{t['id']}” 重复")
        tables[str(t["id"])] = _Builder(path, str(t["id"])).table(t)
    if not tables:
        raise SpecError(f"表样定义文件 {path.name}：没有定义任何表")
    metadata = tuple(_field(path, f) for f in raw.get("metadata") or [])
    if not any(f.id == "unit" for f in metadata) or not any(f.id == "year" for f in metadata):
        raise SpecError(f"表样定义文件 {path.name}：metadata 必须包含 unit 和 year")
    sections = tuple(_section(path, s) for s in raw.get("sections") or [])
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
    compiled(form)  # builds and lints the rules: a broken spec is refused here
    return form


def _field(path: Path, f: dict[str, Any]) -> Field:
    if "id" not in f or "label" not in f:
        raise SpecError(f"表样定义文件 {path.name}：metadata 中有一项缺少 id 或 label：{f!r}")
    typ = f.get("type", "text")
    if typ not in FIELD_TYPES:
        raise SpecError(f"表样定义文件 {path.name}：字段“{f['id']}”的 type “{typ}” 不是 {'、'.join(FIELD_TYPES)} 之一")
    return Field(
        id=str(f["id"]),
        label=str(f["label"]),
        type=typ,
        required=bool(f.get("required", False)),
        aliases=_as_tuple(f.get("aliases")),
        hint=f.get("hint"),
    )


def _section(path: Path, s: dict[str, Any]) -> Section:
    if "id" not in s or "heading" not in s:
        raise SpecError(f"表样定义文件 {path.name}：sections 中有一项缺少 id 或 heading：{s!r}")
    kind = s.get("kind", "text")
    if kind not in SECTION_KINDS:
        raise SpecError(f"表样定义文件 {path.name}：章节“{s['id']}”的 kind “{kind}” 应为 text 或 table")
    return Section(
        id=str(s["id"]),
        heading=str(s["heading"]),
        kind=kind,
        table=s.get("table"),
        required=bool(s.get("required", False)),
        aliases=_as_tuple(s.get("aliases")),
        hint=s.get("hint"),
    )


@cache
def _load_cached(path: str, mtime: float, dirs: tuple[str, ...]) -> Form:
    return load_form_file(Path(path), spec_files([Path(d) for d in dirs]))


def load_form(form_id: str, extra_dirs: list[Path] | None = None) -> Form:
    """The form of that id (loaded once per spec file and modification time)."""
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
    """Every form of the built-in folder, ``GKREPORT_FORMS`` and ``extra_dirs`` by id.

    The folders are listed once for all forms (each is still loaded by its file and modification
    time): the reader calls this for every workbook."""
    files = _spec_files(extra_dirs)
    dirs = tuple(str(d) for d in extra_dirs or ())
    return {fid: _load_cached(str(p), mtime, dirs) for fid, (p, mtime) in files.items()}
