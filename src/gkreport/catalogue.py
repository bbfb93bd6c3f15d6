"""The catalogue of finding codes: rule id → code → the Chinese title people read.

A finding's ``rule`` is an internal id (``t3.csum.new.total``, ``A3.total``, ``READ.value``):
exact, stable, kept in the JSON and in a narrow 编号 column. What a clerk reads is the
title of the finding's code (行合计不符, 结转不衔接, 文字与表格不一致 …). The catalogue is
data (``templates/findings.yaml``): each code has a title, its meaning (the README's table),
the rule ids it covers (patterns, first match wins) and, for the rules the blank templates
check as the clerk types, how the 自查 sheet words them (``live``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path

from .enums import Severity

CATALOGUE = Path(__file__).with_name("templates") / "findings.yaml"
FALLBACK = "rule"  # the code of a rule no entry names (a custom form's own rules)
_KEYS = {"title", "meaning", "rules", "live", "severity", "proposal"}


@dataclass(frozen=True)
class Code:
    id: str
    title: str
    meaning: str
    rules: tuple[str, ...]  # rule id patterns (``*`` = any characters)
    live: dict[str, str] = field(default_factory=dict, compare=False)  # 自查 wording: message / blank
    severity: Severity | None = None  # only findings of this severity (None: any)
    proposal: bool | None = None  # True: only findings that propose a value for a blank total

    def covers(self, rule: str, severity: Severity | None, proposal: bool) -> bool:
        if self.severity is not None and severity != self.severity:
            return False
        if self.proposal is not None and proposal != self.proposal:
            return False
        return any(fnmatchcase(rule, p) for p in self.rules)


@cache
def codes() -> dict[str, Code]:
    """The catalogue, in its file's order."""
    import yaml

    raw = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))
    out: dict[str, Code] = {}
    for cid, entry in (raw or {}).get("codes", {}).items():
        unknown = set(entry) - _KEYS
        severity = Severity.parse(entry["severity"]) if "severity" in entry else None
        if unknown or not entry.get("title") or not entry.get("meaning") or ("severity" in entry and not severity):
            raise ValueError(
                f"{CATALOGUE.name}：代码 {cid} 缺少 title/meaning，或 severity 有误，或有未知的键 {sorted(unknown)}"
            )
        out[str(cid)] = Code(
            str(cid),
            str(entry["title"]),
            str(entry["meaning"]),
            tuple(str(p) for p in entry.get("rules") or ()),
            {str(k): str(v) for k, v in (entry.get("live") or {}).items()},
            severity,
            bool(entry["proposal"]) if "proposal" in entry else None,
        )
    if FALLBACK not in out:
        raise ValueError(f"{CATALOGUE.name}：缺少代码 {FALLBACK}")
    return out


@cache
def code_for(rule: str, severity: Severity | None = None, proposal: bool = False) -> Code:
    """The code of a finding of rule id ``rule`` (with its severity and whether it proposes a value
    for a blank total); the fallback ``rule`` when no entry names it."""
    table = codes()
    for code in table.values():
        if code.covers(rule, severity, proposal):
            return code
    return table[FALLBACK]


def title_for(rule: str, severity: Severity | None = None, proposal: bool = False) -> str:
    """The Chinese title of a finding's code: what a clerk reads instead of the rule id."""
    return code_for(rule, severity, proposal).title
