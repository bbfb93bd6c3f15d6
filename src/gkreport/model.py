"""Values that flow through the pipeline: a read Unit and its Findings.

Data flows one way: workbook → Unit (values keyed by cell id) → Findings → outputs.
Findings are values, never printed strings; printing happens at the edge (CLI).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from .enums import Severity, Status
from .spec.load import form_from_path
from .spec.model import Form

__all__ = ["ERROR", "WARNING", "Finding", "Severity", "Status", "Unit", "Value", "json_value"]

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

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
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


def json_value(v: Any) -> Any:
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if isinstance(v, date):
        return v.isoformat()
    return v


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

    def ref(self, cell_id: str) -> str:
        """Human cell reference ``sheet!A1`` (or the cell id when not located)."""
        loc = self.locations.get(cell_id)
        return f"{loc[0]}!{loc[1]}" if loc else cell_id

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

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
        if self.errors:
            return Status.ERRORS
        if self.warnings:
            return Status.WARNINGS
        return Status.PASSED
