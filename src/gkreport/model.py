"""Values that flow through the pipeline: a read Unit and its Findings.

Data flows one way: workbook → Unit (values keyed by cell id) → Findings → outputs.
Findings are values, never printed strings; printing happens at the edge (CLI).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from .enums import Severity, Status
from .spec.load import form_from_path
from .spec.model import Form
from .spec.names import table_name

__all__ = ["ERROR", "WARNING", "Explanation", "Finding", "Severity", "Status", "Unit", "Value", "json_value"]

Value = int | Decimal | None

ERROR = Severity.ERROR
WARNING = Severity.WARNING


@dataclass
class Finding:
    """One problem found in a workbook.

    ``cells`` are sheet + A1 references (``"三、收到…!D12"``) for people;
    ``cell_ids`` are the form's cell ids (``"t3.total.natural"``) for code.
    """

    rule: str
    severity: Severity
    message: str  # Chinese, names table/row/column, expected and actual
    table: str | None = None  # table id
    cells: tuple[str, ...] = ()
    cell_ids: tuple[str, ...] = ()
    expected: Any = None
    actual: Any = None
    suspect: str | None = None  # cell id most likely wrong
    suggestion: Any = None  # value of the suspect that makes all error rules hold
    note: str | None = None  # extra explanation, e.g. 疑似数字颠倒：31 → 13
    proposal: bool = False  # suggestion is a derived value for a blank cell
    candidates: tuple[str, ...] = ()  # cell ids equally likely wrong (when no single suspect)
    suspect_cell: str | None = None  # the suspect's sheet + A1 reference
    candidate_cells: tuple[str, ...] = ()  # the candidates' sheet + A1 references, in their order
    # the findings of one suspect cell folded into this one, each complete (the first gives ``rule``):
    # one wrong cell is one error, however many rules it breaks
    grouped: tuple[Finding, ...] = ()
    paragraph: tuple[str, int] | None = None  # (section id, paragraph index) of the text a finding quotes
    explanation: str | None = None  # the unit's 审核说明 for this finding (see gkreport.explanations)
    explanation_lapsed: str | None = None  # why that 审核说明 does not stand (an error; changed figures)

    @property
    def explained(self) -> bool:
        """A 提示 the unit has answered with a 审核说明 that stands: 已说明, not open."""
        return self.severity == WARNING and bool(self.explanation) and not self.explanation_lapsed

    def __post_init__(self) -> None:
        if type(self.severity) is not Severity:  # "error" / "warning" as read back from JSON
            self.severity = Severity(self.severity)
        # as read back from JSON: lists and dicts
        if self.grouped and not all(isinstance(g, Finding) for g in self.grouped):
            self.grouped = tuple(g if isinstance(g, Finding) else Finding.from_dict(g) for g in self.grouped)
        if self.paragraph is not None and not isinstance(self.paragraph, tuple):
            self.paragraph = (str(self.paragraph[0]), int(self.paragraph[1]))

    @property
    def rules(self) -> tuple[str, ...]:
        """Every rule the finding states: its own, or those of the findings grouped into it."""
        return tuple(g.rule for g in self.grouped) if self.grouped else (self.rule,)

    @property
    def code(self) -> str:
        """The finding's code in the catalogue (``row_total`` …; see :mod:`gkreport.catalogue`)."""
        from .catalogue import code_for

        return code_for(self.rule, self.severity, self.proposal).id

    @property
    def title(self) -> str:
        """The Chinese title people read (行合计不符 …); ``rule`` stays the internal id."""
        from .catalogue import title_for

        return title_for(self.rule, self.severity, self.proposal)

    def to_dict(self) -> dict[str, Any]:
        # the fields as asdict gives them (its deep copy is not needed: every value is immutable or
        # converted below), without its cost: a batch turns every finding of every unit into a dict
        d = {name: getattr(self, name) for name in self.__dataclass_fields__}
        d["code"] = self.code
        d["title"] = self.title
        for k in ("cells", "cell_ids", "candidates", "candidate_cells"):
            d[k] = list(getattr(self, k))
        for k in ("expected", "actual", "suggestion"):
            d[k] = json_value(d[k])
        d["grouped"] = [g.to_dict() for g in self.grouped]
        d["paragraph"] = list(self.paragraph) if self.paragraph is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        """A finding as ``to_dict`` wrote it (keys it does not know are left out)."""
        known = cls.__dataclass_fields__
        kw = {k: v for k, v in d.items() if k in known}
        for k in ("cells", "cell_ids", "candidates", "candidate_cells", "grouped"):
            if k in kw:
                kw[k] = tuple(kw[k] or ())
        return cls(**kw)


def _row_of(a1: str) -> int:
    """The row number of an A1 reference (0 when it has none)."""
    digits = a1.lstrip("$ABCDEFGHIJKLMNOPQRSTUVWXYZ").lstrip("$")
    return int(digits) if digits.isdigit() else 0


def json_value(v: Any) -> Any:
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if isinstance(v, date):
        return v.isoformat()
    return v


@dataclass(frozen=True)
class Explanation:
    """A 审核说明 typed next to a finding in the checked workbook, as read back.

    ``rule`` and ``figures`` identify the finding it answers (see :func:`gkreport.explanations.figures`):
    it stands while a finding of that rule has the same figures."""

    rule: str
    figures: str
    text: str
    where: str = ""  # sheet!A1 of the typed text


@dataclass
class Unit:
    """One reporting unit's workbook as read: values by cell id, with locations."""

    file: Path
    form: Form
    unit: str | None = None
    year: int | None = None
    values: dict[str, Value] = field(default_factory=dict)  # cell id → value (None = blank)
    locations: dict[str, tuple[str, str]] = field(default_factory=dict)  # cell id → (sheet, A1)
    meta: dict[str, Any] = field(default_factory=dict)  # metadata field id → str/int/date/Decimal
    meta_locations: dict[str, tuple[str, str]] = field(default_factory=dict)
    narrative: dict[str, str] = field(default_factory=dict)  # section id → text ("\n" between paragraphs)
    narrative_locations: dict[str, tuple[str, str]] = field(default_factory=dict)
    # section id → where each of its paragraphs ("\n"-separated in ``narrative``) was read
    paragraph_locations: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # cell id → note written after its number, 12（其中修订6件）
    findings: list[Finding] = field(default_factory=list)
    file_hash: str | None = None
    explanations: list[Explanation] = field(default_factory=list)  # 审核说明 read from a checked workbook

    def ref(self, cell_id: str) -> str:
        """Human cell reference ``sheet!A1`` (or the cell id when not located)."""
        loc = self.locations.get(cell_id)
        return f"{loc[0]}!{loc[1]}" if loc else cell_id

    def place(self, ref: str) -> str:
        """Where a ``sheet!A1`` reference is, as people look for it: ``表四 E51`` on a sheet of
        tables (naming the table the cell belongs to, also where all tables share one sheet),
        else ``sheet A1`` (基本信息, the text of a pasted web page)."""
        sheet, _, a1 = ref.rpartition("!")
        if not sheet:
            return ref
        table = self._table_at(sheet, a1)
        return f"{table_name(self.form.tables[table])} {a1}" if table else f"{sheet} {a1}"

    def _table_at(self, sheet: str, a1: str) -> str | None:
        """The table a cell of ``sheet`` belongs to: the table of the value read there; else the
        only table on that sheet, or the one whose rows of values span the cell's row."""
        spans: dict[str, list[int]] = {}
        for cid, (s, ref) in self.locations.items():
            if s != sheet:
                continue
            table = cid.split(".", 1)[0]
            if ref == a1:
                return table if table in self.form.tables else None
            row = _row_of(ref)
            span = spans.setdefault(table, [row, row])
            span[0], span[1] = min(span[0], row), max(span[1], row)
        tables = [t for t in spans if t in self.form.tables]
        if len(tables) == 1:
            return tables[0]
        row = _row_of(a1)
        inside = [t for t in tables if spans[t][0] <= row <= spans[t][1]]
        return inside[0] if len(inside) == 1 else None

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        """Every 提示, explained or not."""
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def open_warnings(self) -> list[Finding]:
        """The 提示 not answered by a standing 审核说明."""
        return [f for f in self.findings if f.severity == WARNING and not f.explained]

    @property
    def explained(self) -> list[Finding]:
        """The 提示 answered by a standing 审核说明 (已说明)."""
        return [f for f in self.findings if f.explained]

    # Units travel between processes in a batch: send the form by its spec file, not by value.
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        form = state.pop("form")
        state["_form"] = (form.id, str(form.path))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        form_id, path = state.pop("_form")
        self.__dict__.update(state)
        self.form = form_from_path(form_id, path)

    @property
    def status(self) -> Status:
        """What became of the file once read and checked: the one verdict ``check`` and ``batch`` give."""
        if self.unusable is not None:
            return Status.UNREADABLE
        if self.errors:
            return Status.ERRORS
        if self.open_warnings:
            return Status.WARNINGS
        if self.explained:
            return Status.EXPLAINED
        return Status.PASSED

    @property
    def unusable(self) -> str | None:
        """Why the file cannot be taken as a unit's report, or None. Without the unit's name or the
        year nothing can be filed, summed or sent under it: the file is 无法读取 (its numbers are
        still read and checked, and its findings listed, so that it can be put right)."""
        if self.unit and self.year:
            return None
        why = [
            f.message.rstrip("。")
            for f in self.findings
            if f.severity == ERROR and f.rule in ("READ.meta", "META.unit", "META.year") and f.message
        ]
        missing = "、".join(w for w, ok in (("单位名称", self.unit), ("年度", self.year)) if not ok)
        return f"文件 {self.file.name} 无法确定是哪个单位哪一年的报告：{'；'.join(why) or f'没有找到{missing}'}。"
