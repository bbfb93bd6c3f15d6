"""The summary of one year: which units are summed, the sum checked like a unit, and what it lacks.

The district office sums its departments' tables into the summary workbook and, with a
summary unit (``--summary-unit 某某区人民政府``), into the district's own report. This module
decides what goes into that sum and finds what is wrong with it; the writers only show it.

* **Which form.** The year's summary is on the form that applies to the year (the one most
  departments are on, or map onto). A department on an older form whose spec declares
  ``maps_to`` that form (:mod:`gkreport.spec.mapping`) is converted and summed; the cells
  of the current form it has no counterpart for make the sum incomplete there (finding
  ``SUM.mapped``). A department that cannot be converted is not summed (``SUM.unsummed``).
* **The district's own workbook** (unit name = the summary unit) is not a department: it is
  never summed. Its 基本信息 and text become the summed unit's; figures typed in its tables
  are compared with the sum, and where they differ the sum is used and the difference is
  reported (``SUM.own``), never replaced or added silently. Its 信息处理费 is used where the
  departments' fees cannot be summed (one of them gave none); otherwise the sum is used and a
  different amount typed by the district is reported.
* **Checked like a unit.** The summed unit runs through the check engine (its text and
  metadata too when it is the district's report). Each finding names the departments that
  cause it: those whose own tables fail the same rule, those with part of its cells blank,
  those on an older form without those cells; or, for a 提示 no department shows on its own,
  the departments the figure mainly comes from. The engine's correction for a sum is not
  given: only a department can correct its own figures.
* **Against a roster**, the departments that have not submitted are named (``SUM.missing``).
* **Files of the batch not in the sum** are named whether or not there is a roster: a unit that
  submitted the year twice (batch status 重复报送: neither file is summed until one is kept), with
  both files (``SUM.duplicate``); a file that could not be read (``SUM.unreadable``) — one of the
  year's units, or one that gave no unit or year and so may belong to this year's report. Units
  and files the roster's ``SUM.missing`` already names (无法读取) are not named again. These, with
  ``SUM.unsummed`` and ``SUM.missing``, are :data:`COVERAGE_RULES`: what the sum leaves out.

A heading row's subtotal that some departments give and others leave blank (a 2019 unit's
（六）其他处理, or a pasted table with 不予公开 subtotals) is summed with each blank subtotal
counted as the sum of that department's items, so that the district's subtotal covers every
department.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from .aggregate import aggregate_unit, sum_matrix, sum_units, value_matrix
from .formatting import format_number, plain_name
from .model import ERROR, WARNING, Finding, Status, Unit
from .roster import NOT_SUBMITTED, UNREADABLE, RosterEntry, Submission, copied_file_advice, name_key, submissions
from .spec import Form, compiled, load_forms
from .spec.mapping import FormMap, form_map
from .spec.names import cell_name, table_name

__all__ = [
    "COVERAGE_RULES",
    "DOUBT_RULES",
    "Left",
    "Mapped",
    "YearSummary",
    "doubtful",
    "doubtful_cells",
    "is_summary_unit",
    "map_unit",
    "summarise",
    "summary_totals",
]

SUM_FILE = "（各单位之和）"  # the file a summed unit's findings are shown against when no own workbook
DOUBT_RULES = frozenset({"SUM.mapped"})  # besides errors: findings whose cells are doubtful figures
# findings of what the sum leaves out (units not summed, submitted twice, files unread, not submitted):
# a district report is not finished while any stands, so its 审核提示 lists every one
COVERAGE_RULES = frozenset({"SUM.unsummed", "SUM.duplicate", "SUM.unreadable", "SUM.missing", "SUM.unlisted"})
_NOT_SHOWN_WITHOUT_REPORT = ("D", "META", "READ", "B8")  # text and metadata rules: only for a district report
_MAX_NAMES = 6


@dataclass
class Mapped:
    """A department summed after converting its older form."""

    unit: Unit  # as converted onto the summary's form
    original: Unit
    fmap: FormMap


@dataclass
class Left:
    """A department of the year that is not in the sum, and why."""

    unit: Unit
    reason: str


@dataclass
class YearSummary:
    year: int | None
    form: Form
    units: list[Unit]  # the departments summed (converted where mapped), in input order
    mapped: list[Mapped]
    left: list[Left]
    own: Unit | None  # the summary unit's own workbook
    unit_name: str | None  # the summary unit (None: only the summary workbook)
    totals: dict[str, Any]
    summed: Unit  # the sum; its findings are the summary's (see the module docstring)
    submissions: list[Submission] | None = None
    unlisted: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # ``units``' values as summed (gkreport.aggregate.value_matrix): the workbook's 分单位明细 shows them
    matrix: tuple[Any, list[int]] | None = None
    # the year's input files as given in ``statuses``: file → (unit, batch status); 报送情况 shows them
    files: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def findings(self) -> list[Finding]:
        return self.summed.findings

    def mapping_of(self, unit: Unit) -> Mapped | None:
        return next((m for m in self.mapped if m.unit is unit), None)

    @property
    def not_submitted(self) -> list[Submission]:
        return [s for s in self.submissions or () if s.mark in (NOT_SUBMITTED, UNREADABLE)]


def is_summary_unit(name: str | None, summary_unit: str | None) -> bool:
    """Whether a workbook's unit is the summary unit itself (same name, up to width and spaces)."""
    return bool(name and summary_unit and name_key(name) == name_key(summary_unit))


# --------------------------------------------------------------------------- forms


def map_unit(unit: Unit, fmap: FormMap) -> Unit:
    """The unit on the later form: its mapped cells moved, everything else kept (findings as
    they were made on its own form)."""
    values = unit.values
    moved = {dst: values.get(src) for src, dst in fmap.cells}
    locations = {dst: unit.locations[src] for src, dst in fmap.cells if src in unit.locations}
    notes = {dst: unit.notes[src] for src, dst in fmap.cells if src in unit.notes}
    return replace(
        unit,
        form=fmap.target,
        values={c: moved.get(c) for c in fmap.target.cells},
        locations=locations,
        notes=notes,
        findings=list(unit.findings),
    )


def _home(unit: Unit, year: int | None) -> Form:
    """The form the unit's figures can be summed on for the year."""
    form = unit.form
    if year is None or form.applies_to(year):
        return form
    fmap = form_map(form)
    return fmap.target if fmap is not None and fmap.target.applies_to(year) else form


def summary_form(units: Sequence[Unit], year: int | None) -> Form:
    """The form of the year's summary: the one applying to the year that most units are on or
    map onto; else the form most units are on (ties: the first unit's)."""
    counts: dict[str, int] = {}
    forms: dict[str, Form] = {}
    for u in units:
        home = _home(u, year)
        forms[home.id] = home
        counts[home.id] = counts.get(home.id, 0) + 1
    current = [fid for fid in counts if year is None or forms[fid].applies_to(year)]
    pool = current or list(counts)
    best = max(pool, key=lambda fid: counts[fid])  # max keeps the first of equals: input order
    return forms[best]


def summary_totals(form: Form, units: Sequence[Unit], matrix: tuple[Any, list[int]] | None = None) -> dict[str, Any]:
    """The cell-wise sums (:func:`gkreport.aggregate.sum_units`), with a heading's optional
    subtotal summed over every unit: a unit that leaves it blank counts with its items' sum.
    ``matrix``: the units' :func:`gkreport.aggregate.value_matrix`, when already made."""
    if not units:
        totals = dict.fromkeys(form.cells)
    else:
        totals = sum_units(units) if matrix is None else sum_matrix(units[0].form, units, matrix)
    columns = _Columns(units, matrix) if matrix is not None else None
    for table in form.tables.values():
        for row in table.rows.values():
            if row.subtotal != "optional" or not row.children:
                continue
            for col in table.row_columns(row.id):
                cid = f"{table.id}.{row.id}.{col}"
                given = columns.column(cid) if columns is not None else None
                if given is None:
                    given = [u.values.get(cid) for u in units]
                if all(v is None for v in given) or all(v is not None for v in given):
                    continue
                total: Any = None
                for u, v in zip(units, given):
                    if v is None:
                        parts: list[Any] = [u.values.get(f"{table.id}.{k}.{col}") for k in row.children]
                        parts = [p for p in parts if _is_number(p)]
                        v = sum(parts) if parts else None
                    if _is_number(v):
                        total = v if total is None else total + v
                totals[cid] = total
    return totals


def _same(a: Form, b: Form) -> bool:
    return a is b or (a.id == b.id and a.spec_hash == b.spec_hash)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, Decimal)) and not isinstance(v, bool)


# --------------------------------------------------------------------------- the summary


def summarise(
    units: Sequence[Unit],
    unit_name: str | None = None,
    *,
    roster: Sequence[RosterEntry] | None = None,
    statuses: Sequence[tuple[str, str, str]] = (),
    unreadable: Sequence[str] = (),
    other_years: Sequence[tuple[str, int, str]] = (),
    meta: dict | None = None,
    narrative: dict | None = None,
) -> YearSummary:
    """The summary of one year's units (checked, with their findings).

    ``units``: every unit of the year that was read (any form), the summary unit's own
    workbook included; ``unit_name``: the summary unit; ``roster`` with ``statuses`` (unit,
    status word, input file of every file of the year) and ``unreadable`` (files that gave
    no unit): the roster's submissions; ``other_years`` (unit, year, input file of the files read
    as another year's) tells a roster unit that sent only such a file. ``meta`` / ``narrative``
    add to the own workbook's.
    """
    from .checks import check_units

    years = {u.year for u in units if u.year is not None}
    year = next(iter(years)) if len(years) == 1 else None
    own_units = [u for u in units if is_summary_unit(u.unit, unit_name)]
    own = own_units[0] if own_units else None
    depts = [u for u in units if u not in own_units]
    form = summary_form(depts or list(units), year) if (depts or units) else next(iter(load_forms().values()))
    summed_units: list[Unit] = []
    mapped: list[Mapped] = []
    left: list[Left] = []
    for u in depts:
        if _same(u.form, form):
            summed_units.append(u)
            continue
        fmap = form_map(u.form)
        if fmap is not None and _same(fmap.target, form):
            conv = map_unit(u, fmap)
            summed_units.append(conv)
            mapped.append(Mapped(conv, u, fmap))
        else:
            left.append(Left(u, f"使用{u.form.short_name}，不能换算为{form.short_name}，未计入汇总"))
    # the values read once, for the sums and for the workbook's 分单位明细
    matrix = value_matrix(summed_units, compiled(summed_units[0].form).cell_order.ids) if summed_units else None
    totals = summary_totals(form, summed_units, matrix)
    name = unit_name or "汇总"
    own_meta = {k: v for k, v in (own.meta if own else {}).items() if k not in ("unit", "year")}
    own_meta.update(meta or {})
    own_text = {**(own.narrative if own else {}), **(narrative or {})}
    if summed_units:
        summed = aggregate_unit(summed_units, name, meta=None, narrative=own_text, totals=totals)
    else:
        summed = Unit(file=Path(name), form=form, unit=name, year=year, values=dict(totals), meta={"unit": name})
    fee_findings = _merge_meta(summed, own_meta, own)
    summed.year = summed.year if summed.year is not None else year
    summed.meta.setdefault("year", summed.year)
    summed.file = Path(SUM_FILE if own is None else f"{SUM_FILE[:-1]}；文字取自{own.file.name}）")
    if own is not None:
        summed.meta_locations = dict(own.meta_locations)
        summed.narrative_locations = dict(own.narrative_locations)
    summed.findings = []
    check_units([summed])
    found = [
        f for f in summed.findings if unit_name or (f.cell_ids and not f.rule.startswith(_NOT_SHOWN_WITHOUT_REPORT))
    ]
    out: list[Finding] = []
    absorbed: dict[int, list[Finding]] = {}  # mapped unit → findings of the sum it alone causes
    rules = [{g.rule for g in u.findings} for u in summed_units]  # the rules each unit's own table fails
    columns = _Columns(summed_units, matrix) if matrix is not None else None
    for f in found:
        causes = _causes(f, summed_units, mapped, form, rules, columns)
        if causes and all(kind == "mapped" for _, kind, _ in causes):
            # nothing but a converted unit's missing cells: said once, in that unit's SUM.mapped
            for u, _, _ in causes:
                absorbed.setdefault(id(u), []).append(f)
            continue
        out.append(_with_causes(f, causes, summed_units, form, columns))
    out += fee_findings
    if own is not None:
        out += _own_differences(own, form, totals, unit_name or name)
    out += [_mapped_finding(m, absorbed.get(id(m.unit), [])) for m in mapped]
    out += [
        Finding(
            rule="SUM.unsummed",
            severity=WARNING,
            message=f"{_name(x.unit)}{x.reason}；请该单位改用{form.short_name}重新报送",
        )
        for x in left
    ]
    subs: list[Submission] | None = None
    unlisted: dict[str, tuple[str, ...]] = {}
    missing: list[Submission] = []
    if roster is not None:
        subs, unlisted = submissions(roster, statuses, unreadable, other_years)
        unlisted = {u: near for u, near in unlisted.items() if not is_summary_unit(u, unit_name)}
        missing = [s for s in subs if s.mark in (NOT_SUBMITTED, UNREADABLE)]
    out += _unused_files(statuses, unreadable, units, missing, unit_name)
    summed_names = {_name(u) for u in summed_units}
    if missing:
        out.append(_missing_finding(missing, summed_names))
    if any(u in summed_names for u in unlisted):
        out.append(_unlisted_finding({u: near for u, near in unlisted.items() if u in summed_names}))
    summed.findings = out
    return YearSummary(
        year=year,
        form=form,
        units=summed_units,
        mapped=mapped,
        left=left,
        own=own,
        unit_name=unit_name,
        totals=totals,
        summed=summed,
        submissions=subs,
        unlisted=unlisted,
        matrix=matrix,
        files={file: (unit, str(status)) for unit, status, file in statuses},
    )


def _name(u: Unit) -> str:
    return u.unit or plain_name(u.file.name)


def _missing_finding(missing: Sequence[Submission], summed: set[str]) -> Finding:
    """SUM.missing: the roster units with no usable workbook. A roster name near a unit that was
    summed (某某区卫健局 / 某某区卫生健康局) may be that unit under another spelling: the sum then
    holds its figures, so it is asked about, not said to be left out of the sum."""
    names = []
    unsure = False
    for s in missing:
        near = "或".join(f"“{u}”" for u in s.near if u in summed)
        unsure = unsure or bool(near)
        if near:
            names.append(f"{s.name}（是否为已计入汇总的{near}？）")
        elif s.other_years:
            names.append(
                s.name + "（收到的统计表是" + "、".join(dict.fromkeys(f"{y}年度" for _, y in s.other_years)) + "的）"
            )
        else:
            names.append(s.name + ("（文件无法读取）" if s.mark == UNREADABLE else ""))
    message = f"名单中有{len(missing)}个单位尚未报送可用的统计表：{'、'.join(names)}；汇总数不含这些单位"
    if unsure:
        message += "，名称相近而已计入汇总的单位如为同一单位，则汇总数已含其数字；请核对名单或统计表中的单位名称"
    return Finding(rule="SUM.missing", severity=WARNING, message=message)


def _unlisted_finding(unlisted: dict[str, tuple[str, ...]]) -> Finding:
    """SUM.unlisted: units summed that the roster does not name. The sum holds their figures; a
    unit outside the roster may be a department the roster spells otherwise, one that should
    not be in this sum, or a roster to complete: the office is asked, not told which."""
    names = []
    for unit, near in unlisted.items():
        names.append(unit + (f"（是否为名单中的{'或'.join(f'“{n}”' for n in near)}？）" if near else ""))
    return Finding(
        rule="SUM.unlisted",
        severity=WARNING,
        message=f"已计入汇总的{len(names)}个单位不在名单中：{'、'.join(names)}；汇总数含这些单位的数字，"
        "请核对名单，或确认这些单位应计入本汇总",
    )


def _unused_files(
    statuses: Sequence[tuple[str, str, str]],
    unreadable: Sequence[str],
    units: Sequence[Unit],
    missing: Sequence[Submission],
    unit_name: str | None,
) -> list[Finding]:
    """The files of the batch whose figures are not in the sum although they may be this year's: a
    unit's files submitted twice (``SUM.duplicate``, one per unit), a unit's file that could not be
    read, and the files that gave no unit or year (``SUM.unreadable``). Units and files the roster's
    ``missing`` names are left to its ``SUM.missing``."""
    said_units = {name_key(s.unit) for s in missing if s.unit}
    said_files = {f for s in missing for f in s.files}
    read = {name_key(u.unit) for u in units if u.unit}  # units with a file that was read
    twice: dict[str, list[str]] = {}
    unread: dict[str, list[str]] = {}
    for unit, status, file in statuses:
        if str(status) == Status.DUPLICATE:
            twice.setdefault(unit, []).append(file)
        elif str(status) == Status.UNREADABLE and name_key(unit) not in said_units and file not in said_files:
            unread.setdefault(unit, []).append(file)
    out = []
    for unit, files in twice.items():
        listed = "、".join(files)
        if is_summary_unit(unit, unit_name):
            what = "其基本信息和文字均未用于汇总年度报告"
        else:
            what = "均未计入汇总，汇总数不含该单位"
        out.append(
            Finding(
                rule="SUM.duplicate",
                severity=WARNING,
                message=f"{unit}报送了{len(files)}个文件（{listed}），无法确定以哪个为准，{what}；"
                + (copied_file_advice(unit, files).rstrip("。") or "请只保留其中一个后重新运行"),
            )
        )
    for unit, files in unread.items():
        listed = "、".join(files)
        if is_summary_unit(unit, unit_name):
            what = "其基本信息和文字未用于汇总年度报告；请重新提供"
        elif name_key(unit) in read:
            what = "未计入汇总（该单位另有文件已读取）；请核实该文件是否多余"
        else:
            what = "未计入汇总，汇总数不含该单位；请该单位重新报送"
        out.append(Finding(rule="SUM.unreadable", severity=WARNING, message=f"{unit}的文件{listed}无法读取，{what}"))
    nameless = [f for f in unreadable if f not in said_files]
    if nameless:
        out.append(
            Finding(
                rule="SUM.unreadable",
                severity=WARNING,
                message=f"有{len(nameless)}个文件无法读取，不能确定是哪个单位或哪一年度的，可能属于本年度的汇总："
                f"{'、'.join(nameless)}；汇总数不含其中的数字，请核实后重新报送（与报送无关的文件请移出输入文件夹）",
            )
        )
    return out


def _merge_meta(summed: Unit, own_meta: dict[str, Any], own: Unit | None) -> list[Finding]:
    """The own workbook's 基本信息 on the summed unit; an amount (信息处理费) stays the departments'
    sum where there is one, and a different amount typed by the district is reported."""
    out = []
    amounts = {f.id: f.label for f in summed.form.metadata if f.type == "decimal"}
    for key, value in own_meta.items():
        if value is None or str(value).strip() == "":
            continue
        if key in amounts and key in summed.meta:
            try:
                typed = Decimal(str(value).strip())
            except ArithmeticError:
                typed = None
            total = summed.meta[key]
            if typed is None or typed != total:
                out.append(
                    Finding(
                        rule="SUM.own",
                        severity=WARNING,
                        message=f"{summed.unit}填写的“{amounts[key]}”为 {value}，各单位之和为 {format_number(total)}；"
                        "报告采用各单位之和，请核实",
                        cells=_where(own, key),
                        expected=total,
                        actual=value,
                    )
                )
            continue
        summed.meta[key] = value
    if not summed.meta.get("signer"):
        summed.meta["signer"] = summed.unit
    return out


def _where(own: Unit | None, key: str) -> tuple[str, ...]:
    loc = own.meta_locations.get(key) if own is not None else None
    return (f"{loc[0]}!{loc[1]}",) if loc else ()


def _own_differences(own: Unit, form: Form, totals: dict[str, Any], name: str) -> list[Finding]:
    """One 提示 per table where figures typed in the district's own workbook differ from the sum."""
    out = []
    own_values = own.values if _same(own.form, form) else _converted(own, form)
    for tid, table in form.tables.items():
        diffs = []
        for cid in table.cells:
            typed = own_values.get(cid)
            if not _is_number(typed):
                continue
            total = totals.get(cid)
            if total is None or typed != total:
                diffs.append((cid, typed, total))
        if not diffs:
            continue
        shown = "；".join(
            f"{cell_name(form, c, with_table=False)}填写 {format_number(t)}，各单位之和 {format_number(s, '空白')}"
            for c, t, s in diffs[:5]
        )
        more = f"等{len(diffs)}处" if len(diffs) > 5 else ""
        out.append(
            Finding(
                rule="SUM.own",
                severity=WARNING,
                table=tid,
                message=f"{name}的统计表中{table_name(table)}有{len(diffs)}个数与各单位之和不同（{shown}{more}）；"
                "汇总表和报告采用各单位之和，请核实",
                cells=tuple(own.ref(c) for c, _, _ in diffs if c in own.locations),
                cell_ids=tuple(c for c, _, _ in diffs),
            )
        )
    return out


def _converted(unit: Unit, form: Form) -> dict[str, Any]:
    fmap = form_map(unit.form)
    if fmap is None or not _same(fmap.target, form):
        return {}
    return map_unit(unit, fmap).values


def _mapped_finding(m: Mapped, absorbed: Sequence[Finding]) -> Finding:
    """What a converted department leaves out of the sum; an error when the sum's tables no longer
    add up because of it (``absorbed``: the findings of the sum it alone causes)."""
    src, dst = m.original.form, m.fmap.target
    missing = set(m.fmap.missing)
    notes = [m.fmap.notes[t] for t in dst.tables if t in m.fmap.notes]
    unnoted = sorted({dst.cells[c].table for c in missing} - set(m.fmap.notes), key=list(dst.tables).index)
    for tid in unnoted:
        cells = [c for c in dst.tables[tid].cells if c in missing]
        listed = "、".join(cell_name(dst, c, with_table=False) for c in cells[:6]) + ("等" if len(cells) > 6 else "")
        notes.append(f"{table_name(dst.tables[tid])}的{listed}没有对应栏目")
    message = f"{_name(m.unit)}使用{src.short_name}，已换算为{dst.short_name}计入汇总：{'；'.join(notes)}"
    if absorbed:
        message += f"；汇总数中因此有{len(absorbed)}项核对不成立，如{absorbed[0].message}"
    return Finding(
        rule="SUM.mapped",
        severity=ERROR if any(f.severity == ERROR for f in absorbed) else WARNING,
        message=message + f"；请该单位改用{dst.short_name}重新报送",
        cell_ids=tuple(c for c in dst.cells if c in missing),
    )


# --------------------------------------------------------------------------- causes


def _causes(
    f: Finding,
    units: Sequence[Unit],
    mapped: Sequence[Mapped],
    form: Form,
    rules: Sequence[set[str]] | None = None,
    columns: _Columns | None = None,
) -> list[tuple[Unit, str, str]]:
    """The departments that cause a finding of the sum: (unit, kind, words), kind ``same`` (its own
    table fails the same rule), ``mapped`` (converted from an older form without those cells) or
    ``blank`` (part of the cells blank). ``rules``: the rules of each unit's findings, if known;
    ``columns``: the units' values by cell (:class:`_Columns`), if known."""
    cells = [c for c in f.cell_ids if c in form.cells]
    if not cells:  # the district's own text or metadata: no department causes it
        return []
    out: list[tuple[Unit, str, str]] = []
    named: set[int] = set()
    if rules is None:
        rules = [{g.rule for g in u.findings} for u in units]
    for u, failed in zip(units, rules):
        if f.rule in failed:
            out.append((u, "same", f"{_name(u)}（其统计表的同一核对不成立）"))
            named.add(id(u))
    for m in mapped:
        lacking = [c for c in cells if c in m.fmap.missing]
        if lacking and id(m.unit) not in named:
            words = f"{_name(m.unit)}（使用{m.original.form.short_name}，没有{cell_name(form, lacking[0])}等栏目）"
            out.append((m.unit, "mapped", words))
            named.add(id(m.unit))
    required = [c for c in cells if not form.cells[c].optional]
    partly = columns.partly_blank(required) if columns is not None else None
    if partly is not None:
        for u, part in zip(units, partly):
            if part and id(u) not in named:
                out.append((u, "blank", f"{_name(u)}（相关单元格部分空白）"))
                named.add(id(u))
        return out
    positions: dict[int, list[int | None]] = {}  # id(cell order) → where ``required`` are in a value row
    for u in units:
        if id(u) in named:
            continue
        blank = _blanks(u.values, required, positions)
        if any(blank) and not all(blank):
            out.append((u, "blank", f"{_name(u)}（相关单元格部分空白）"))
            named.add(id(u))
    return out


class _Columns:
    """The summed units' values by cell, from the matrix :func:`gkreport.aggregate.value_matrix` made of
    them (a unit's row holds what ``values.get`` gives, a blank as None): a finding of the sum asks
    about its cells across thousands of units."""

    def __init__(self, units: Sequence[Unit], matrix: tuple[Any, list[int]]):
        self.data = matrix[0]
        self.index = compiled(units[0].form).cell_order.index if units else {}
        self._blank: Any = None  # units × cells: blank or not (made when first asked)

    def column(self, cid: str) -> list[Any] | None:
        """Every unit's value of a cell; None when the matrix has no such column."""
        i = self.index.get(cid)
        return None if i is None else self.data[:, i].tolist()

    def partly_blank(self, cells: list[str]) -> list[bool] | None:
        """Per unit, whether some but not all of ``cells`` are blank; None when the matrix lacks one."""
        at = [self.index.get(c) for c in cells]
        if not self.index or any(i is None for i in at):
            return None
        if self._blank is None:
            import numpy as np

            # elementwise ``== None``: true only where the value is None (numbers and text never equal it)
            self._blank = np.equal(self.data, None)  # type: ignore[call-overload]
        some = self._blank[:, at]
        return (some.any(axis=1) & ~some.all(axis=1)).tolist()


def _blanks(
    values: Mapping[str, Any], cells: list[str], positions: dict[int, list[int | None]] | None = None
) -> list[bool]:
    """Which of ``cells`` are blank. A unit rebuilt from the batch's records answers from its value
    row without building the numbers (thousands of units × every finding of the sum); ``positions``
    keeps where the cells are in such rows, the same for every unit of a form."""
    order = getattr(values, "order", None)
    row = getattr(values, "row", None)
    if order is not None and row is not None and positions is not None:
        at = positions.get(id(order))
        if at is None:
            at = positions[id(order)] = [order.index.get(c) for c in cells]
        n = len(row)
        return [i is None or i >= n or row[i] is None for i in at]
    is_blank = getattr(values, "is_blank", None)
    if is_blank is not None:
        return [is_blank(c) for c in cells]
    return [values.get(c) is None for c in cells]


def _with_causes(
    f: Finding, causes: list[tuple[Unit, str, str]], units: Sequence[Unit], form: Form, columns: _Columns | None = None
) -> Finding:
    """The finding of the sum, naming the departments that cause it (no correction: only a
    department can correct its figures)."""
    cells = [c for c in f.cell_ids if c in form.cells]
    if not cells:  # the district's own text or metadata
        return f
    if causes:
        words = [w for _, _, w in causes]
        shown = "、".join(words[:_MAX_NAMES]) + (f"等{len(words)}个单位" if len(words) > _MAX_NAMES else "")
        text = f"涉及：{shown}"
    else:
        text = _contributors(f, units, form, cells, columns)
    message = f"{f.message}（汇总数；{text}）" if text else f"{f.message}（汇总数）"
    suspect, candidates = f.suspect, f.candidates
    if suspect is None:  # the sum's other problems may hide it: the cell the departments got wrong
        theirs = {
            g.suspect
            for u, kind, _ in causes
            if kind == "same"
            for g in u.findings
            if g.rule == f.rule and g.suspect in cells
        }
        if len(theirs) == 1:
            suspect, candidates = theirs.pop(), ()
        elif theirs:
            candidates = tuple(c for c in cells if c in theirs)
    # no place in an input file: the sum's cells are in the summary workbook's 汇总表
    return replace(
        f,
        message=message,
        cells=(),
        suspect=suspect,
        candidates=candidates,
        suggestion=None,
        proposal=False,
        note=None,
    )


def _contributors(
    f: Finding, units: Sequence[Unit], form: Form, cells: list[str], columns: _Columns | None = None
) -> str:
    """For a finding no department shows on its own: where the figure mainly comes from."""
    key = f.suspect if f.suspect in form.cells else (cells[0] if cells else None)
    if key is None:
        return ""
    column = columns.column(key) if columns is not None else None
    vals = list(zip(units, column)) if column is not None else [(u, u.values.get(key)) for u in units]
    big = sorted(((u, v) for u, v in vals if _is_number(v) and v), key=lambda x: -x[1])
    if not big:
        return "各单位分别核对均未发现此问题"
    unit_word = form.cells[key].unit
    shown = "、".join(f"{_name(u)}（{format_number(v)}{unit_word}）" for u, v in big[:3])
    more = f"等{len(big)}个单位" if len(big) > 3 else ""
    return f"各单位分别核对均未发现此问题，{cell_name(form, key)}主要来自{shown}{more}"


def doubtful(f: Finding) -> bool:
    """A finding whose cells are figures of the sum that cannot be stated as they are."""
    return f.severity == ERROR or f.rule in DOUBT_RULES


def doubtful_cells(f: Finding) -> tuple[str, ...]:
    """The figures a doubtful finding puts in doubt: the cell most likely wrong (or those equally
    likely) where the check engine names one, else every cell of the finding."""
    if not doubtful(f):
        return ()
    if f.rule in DOUBT_RULES:
        return f.cell_ids
    if f.suspect:
        return (f.suspect,)
    return f.candidates or f.cell_ids
