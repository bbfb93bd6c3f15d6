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
    explanation: str | None = None  # the unit's 审核说明 for this finding (see gkreport.explanations)
    explanation_lapsed: str | None = None  # why that 审核说明 does not stand (an error; changed figures)

    @property
    def explained(self) -> bool:
        """A 提示 the unit has answered with a 审核说明 that stands: 已说明, not open."""
        return self.severity == WARNING and bool(self.explanation) and not self.explanation_lapsed

    def __post_init__(self) -> None:
        if type(self.severity) is not Severity:  # "error" / "warning" as read back from JSON
            self.severity = Severity(self.severity)

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
        d = asdict(self)
        d["code"] = self.code
        d["title"] = self.title
        d["cells"] = list(self.cells)
        d["cell_ids"] = list(self.cell_ids)
        d["candidates"] = list(self.candidates)
        for k in ("expected", "actual", "suggestion"):
            d[k] = json_value(d[k])
        return d


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
    notes: dict[str, str] = field(default_factory=dict)  # cell id → note written after its number, 12（其中修订6件）
    findings: list[Finding] = field(default_factory=list)
    file_hash: str | None = None
    explanations: list[Explanation] = field(default_factory=list)  # 审核说明 read from a checked workbook

    def ref(self, cell_id: str) -> str:
        """Human cell reference ``sheet!A1`` (or the cell id when not located)."""
        loc = self.locations.get(cell_id)
        return f"{loc[0]}!{loc[1]}" if loc else cell_id

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
        if self.errors:
            return Status.ERRORS
        if self.open_warnings:
            return Status.WARNINGS
        if self.explained:
            return Status.EXPLAINED
        return Status.PASSED
