"""The settings of an output folder: what ``batch`` and ``watch`` were last told to make there.

A run records its settings (summary unit, PDF, strict, wording file, previous year's folder,
roster) in ``.gkreport/settings.json`` of the output folder. A later ``batch`` or ``watch`` on
that folder given no option takes them again; an option given changes that one setting (and
is recorded); ``--no-pdf``, ``--no-summary-unit`` … drop one. The output folder is then always
what the current inputs and these settings make (see :mod:`gkreport.batch`).

Paths are recorded absolute, so that a run started from another folder finds the same files.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .fileio import atomic_write_text
from .formatting import readable_name

SETTINGS = Path(".gkreport") / "settings.json"
SETTINGS_FORMAT = 1


@dataclass(frozen=True)
class Settings:
    """What a run makes besides each unit's own outputs (the options recorded per output folder)."""

    summary_unit: str | None = None
    pdf: bool = False
    strict: bool = False
    wording: Path | None = None
    previous: Path | None = None
    roster: Path | None = None


NAMES = tuple(f.name for f in fields(Settings))
PATHS = ("wording", "previous", "roster")
# how each setting is named to the user, and its option
OPTION = {
    "summary_unit": "--summary-unit",
    "pdf": "--pdf",
    "strict": "--strict",
    "wording": "--wording",
    "previous": "--previous",
    "roster": "--roster",
}
WHAT = {"wording": "措辞文件", "previous": "上一年度文件夹", "roster": "名单"}


def describe(name: str, value: Any) -> str:
    """One setting as a phrase: ``汇总单位 某某区人民政府``, ``生成 PDF``, ``不生成 PDF`` …"""
    if name == "summary_unit":
        return f"汇总单位 {value}" if value else "不生成汇总年度报告"
    if name == "pdf":
        return "生成 PDF" if value else "不生成 PDF"
    if name == "strict":
        return "有错误的单位不生成年度报告" if value else "有错误的单位也生成年度报告"
    return f"{WHAT[name]} {readable_name(value)}" if value else f"不使用{WHAT[name]}"


def _change(name: str, before: Any, after: Any) -> str:
    if name == "summary_unit":
        if not after:
            return "不再生成汇总年度报告"
        return f"汇总单位改为 {after}" if before else f"汇总单位 {after}"
    if name in ("pdf", "strict") and not after:
        return "不再生成 PDF" if name == "pdf" else "有错误的单位也生成年度报告"
    if name in PATHS:
        if not after:
            return f"不再使用{WHAT[name]}"
        return f"{WHAT[name]}改为 {readable_name(after)}" if before else describe(name, after)
    return describe(name, after)


def load_settings(output_dir: Path) -> Settings | None:
    """The settings recorded in ``output_dir``; None when none are (or the file cannot be read)."""
    try:
        data = json.loads((Path(output_dir) / SETTINGS).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != SETTINGS_FORMAT:
            return None
        values: dict[str, Any] = {}
        for name in NAMES:
            v = data.get(name)
            if name in PATHS:
                values[name] = Path(v) if isinstance(v, str) and v else None
            elif name == "summary_unit":
                values[name] = v if isinstance(v, str) and v else None
            else:
                values[name] = bool(v)
        return Settings(**values)
    except (OSError, ValueError, TypeError):
        return None


def save_settings(output_dir: Path, settings: Settings) -> None:
    """Record ``settings`` in ``output_dir`` (atomically; not rewritten when they are already so)."""
    if load_settings(output_dir) == settings:
        return
    data: dict[str, Any] = {"format": SETTINGS_FORMAT}
    for name in NAMES:
        v = getattr(settings, name)
        data[name] = os.path.abspath(v) if isinstance(v, Path) else v
    atomic_write_text(Path(output_dir) / SETTINGS, json.dumps(data, ensure_ascii=False, indent=1) + "\n")


def absolute(settings: Settings) -> Settings:
    """The same settings with absolute paths (as they are recorded)."""
    paths: dict[str, Any] = {n: Path(os.path.abspath(v)) for n in PATHS if (v := getattr(settings, n)) is not None}
    return replace(settings, **paths)


@dataclass
class Settled:
    """The settings of this run and what to tell about them."""

    settings: Settings
    reused: list[str]  # settings taken from the last run (only those that make something: 汇总单位, PDF …)
    changed: list[str]  # settings this run's options changed
    missing: list[tuple[str, Path]]  # recorded paths no longer there (setting name, path), not given now
    first: list[str] = field(default_factory=list)  # the first run's settings (recorded for the next runs)

    def notes(self) -> list[str]:
        out = []
        if self.first:
            out.append("已记录本次的设置，以后在这个输出文件夹运行 batch 或 watch 时沿用：" + "、".join(self.first))
        if self.reused:
            out.append("沿用上次的设置：" + "、".join(self.reused))
        if self.changed:
            out.append("设置已改变：" + "、".join(self.changed))
        return out


def settle(output_dir: Path, given: dict[str, Any]) -> Settled:
    """This run's settings: those recorded in ``output_dir``, changed by the options ``given``
    (setting name → value; None or "" drops a path or the summary unit, False a flag)."""
    before = load_settings(output_dir)
    base = before or Settings()
    now = {}
    for name in NAMES:
        if name in given:
            v = given[name]
            if name in PATHS:
                v = Path(os.path.abspath(v)) if v not in (None, "") else None
            elif name == "summary_unit":
                v = (v or "").strip() or None
            else:
                v = bool(v)
            now[name] = v
        else:
            now[name] = getattr(base, name)
    settings = Settings(**now)
    reused: list[str] = []
    changed: list[str] = []
    missing: list[tuple[str, Path]] = []
    first = [describe(n, getattr(settings, n)) for n in NAMES if before is None and getattr(settings, n)]
    for name in NAMES:
        old, new = getattr(base, name), getattr(settings, name)
        if name not in given:
            if before is not None and new:  # a setting that makes (or withholds) something
                reused.append(describe(name, new))
                if name in PATHS and not Path(new).exists():
                    missing.append((name, Path(new)))
        elif before is not None and _same(old, new) is False:
            changed.append(_change(name, old, new))
    return Settled(settings, reused, changed, missing, first)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Path) and isinstance(b, Path):
        return os.path.abspath(a) == os.path.abspath(b)
    return a == b


def missing_hint(name: str, path: Path) -> str:
    """Why a recorded path stops the run, and what to do."""
    return (
        f"上次设置的{WHAT[name]} {readable_name(path)} 已不存在。请用 {OPTION[name]} 指定新的位置，"
        f"或用 --no-{OPTION[name][2:]} 不再使用。"
    )
