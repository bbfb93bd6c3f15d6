"""Strict specs: every level of a spec file refuses keys it does not know, naming the file,
the place and the nearest known key; ``same_as`` copies tables, fields, sections and rules."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gkreport.errors import SpecError
from gkreport.spec import BUILTIN_DIR, load_form, load_form_file, rule_set

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "input_templates" / "samples" / "示例市东城区教育局2025年统计表.xlsx"


def raw_2021() -> dict:
    return yaml.safe_load((BUILTIN_DIR / "2021.yaml").read_text(encoding="utf-8"))


def write(tmp_path: Path, raw: dict, name: str = "case") -> Path:
    raw = copy.deepcopy(raw)
    raw["id"] = name
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def refused(tmp_path: Path, raw: dict) -> str:
    with pytest.raises(SpecError) as exc:
        load_form_file(write(tmp_path, raw))
    return exc.value.message


def _table(raw: dict, tid: str) -> dict:
    return next(t for t in raw["tables"] if t["id"] == tid)


def _node(nodes: list, nid: str) -> dict:
    for n in nodes:
        if n["id"] == nid:
            return n
        found = _node(n.get("children") or [], nid) if n.get("children") else None
        if found:
            return found
    return {}


def test_a_misspelt_sum_of_is_refused_with_the_right_key(tmp_path):
    raw = raw_2021()
    total = _node(_table(raw, "t3")["columns"], "total")
    total["sumof"] = total.pop("sum_of")
    msg = refused(tmp_path, raw)
    assert "case.yaml" in msg and "tables[t3]" in msg and "columns[applicants]" in msg and "children[total]" in msg
    assert "“sumof”" in msg and "是否应为“sum_of”" in msg


LEVELS = [
    ("form", lambda raw: raw.__setitem__("short_nme", "x"), ("short_nme", "short_name", "表样")),
    ("table", lambda raw: _table(raw, "t2").__setitem__("lable_header", "x"), ("tables[t2]", "label_header")),
    (
        "row",
        lambda raw: _node(_table(raw, "t3")["rows"], "withheld").__setitem__("knd", "partition"),
        ("rows[result]", "children[withheld]", "kind"),
    ),
    (
        "column",
        lambda raw: _node(_table(raw, "t2")["columns"], "fee_amount").__setitem__("typ", "decimal"),
        ("columns[fee_amount]", "type"),
    ),
    ("field", lambda raw: raw["metadata"][0].__setitem__("requird", True), ("metadata[unit]", "required")),
    ("section", lambda raw: raw["sections"][0].__setitem__("heding", "x"), ("sections[overview]", "heading")),
    ("rule", lambda raw: raw["rules"][0].__setitem__("exp", "new == 0"), ("rules[A3]", "expr")),
    (
        "text rule",
        lambda raw: next(r for r in raw["rules"] if r["id"] == "D3").__setitem__("max_char", 9),
        ("rules[D3]", "max_chars"),
    ),
]


@pytest.mark.parametrize("level, change, words", LEVELS, ids=[x[0] for x in LEVELS])
def test_unknown_keys_are_refused_at_every_level(tmp_path, level, change, words):
    raw = raw_2021()
    change(raw)
    msg = refused(tmp_path, raw)
    assert msg.startswith("表样定义文件 case.yaml") and "未知的键" in msg
    for w in words:
        assert w in msg, (w, msg)


def test_a_key_nothing_resembles_lists_the_keys_allowed(tmp_path):
    raw = raw_2021()
    raw["metadata"][1]["颜色"] = "红"
    msg = refused(tmp_path, raw)
    assert "“颜色”" in msg and "可用的键" in msg and "label" in msg


@pytest.mark.parametrize(
    "change, needle",
    [
        (lambda raw: raw["metadata"][0].__setitem__("required", "是"), "true 或 false"),
        (lambda raw: raw.__setitem__("years", 2021), "起始年度"),
        (lambda raw: _table(raw, "t3").__setitem__("rows", "new"), "一组项目"),
        (
            lambda raw: raw["rules"].append({"id": "Z", "kind": "colour", "severity": "warning", "description": "x"}),
            "kind",
        ),
        (lambda raw: raw["metadata"].append({"id": "x", "label": "甲", "type": "money"}), "type"),
        (lambda raw: raw["sections"].append({"id": "x", "heading": "甲", "kind": "picture"}), "kind"),
    ],
)
def test_values_of_the_wrong_kind_are_refused(tmp_path, change, needle):
    raw = raw_2021()
    change(raw)
    assert needle in refused(tmp_path, raw)


def test_a_broken_spec_stops_the_command_with_one_line_and_exit_2(tmp_path):
    raw = raw_2021()
    _node(_table(raw, "t3")["columns"], "total")["sumof"] = ["natural", "legal"]
    folder = tmp_path / "forms"
    folder.mkdir()
    write(folder, raw, "broken")
    env = {**os.environ, "GKREPORT_FORMS": str(folder), "PYTHONPATH": str(ROOT / "src")}
    res = subprocess.run(
        [sys.executable, "-m", "gkreport", "check", str(SAMPLE)], capture_output=True, text=True, env=env, timeout=120
    )
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "broken.yaml" in lines[0] and "“sumof”" in lines[0] and "sum_of" in lines[0]
    debug = subprocess.run(
        [sys.executable, "-m", "gkreport", "--debug", "check", str(SAMPLE)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "SpecError" in debug.stderr


# --------------------------------------------------------------------------- same_as


def test_2019_copies_the_2021_rules_and_sections_it_shares():
    f19, f21 = load_form("2019"), load_form("2021")
    r19, r21 = rule_set(f19).by_id, rule_set(f21).by_id
    for rid in ("A3.natural", "A6.total", "A9", "C3"):
        assert r19[rid].text == r21[rid].text and r19[rid].description == r21[rid].description
    t19 = {t.id: t for t in rule_set(f19).text_rules}
    t21 = {t.id: t for t in rule_set(f21).text_rules}
    assert t19["D4"] == t21["D4"] and t19["A8.received"].pattern == t21["A8.received"].pattern
    assert r19["A7"].text == "t3.other.total ≤ 0.1 × t3.total.total"  # changed in the copy
    assert r19["A7"].message == r21["A7"].message  # the rest copied
    assert "B5" not in r19 and "B3.licensing" in r19
    s19 = {s.id: s for s in f19.sections}
    s21 = {s.id: s for s in f21.sections}
    assert s19["t3"] == s21["t3"]
    assert s19["other"].required is False and s21["other"].required is True
    assert s19["other"].heading == s21["other"].heading


def test_copies_of_sections_and_rules_with_changes(tmp_path):
    raw = {
        "id": "copy",
        "name": "复制的表样",
        "metadata": {"same_as": "2021"},
        "sections": [{"same_as": "2021/overview", "required": False}, {"same_as": "2021/t3"}],
        "tables": [{"same_as": "2021/t3"}],
        "rules": [{"same_as": "2021/A3"}, {"same_as": "2021/A9", "severity": "error"}],
    }
    path = tmp_path / "copy.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    form = load_form_file(path)
    assert [s.id for s in form.sections] == ["overview", "t3"] and not form.sections[0].required
    rs = rule_set(form).by_id
    assert "A3.natural" in rs and rs["A9"].is_error


@pytest.mark.parametrize(
    "rules, needle",
    [
        ([{"same_as": "2021/NOPE"}], "不存在的规则 2021/NOPE"),
        ([{"same_as": "2021"}], "表样/编号"),
        ([{"same_as": "1999/A3"}], "不存在的表样 1999"),
        ([{"same_as": "2021/A3", "exprr": "new == 0"}], "是否应为“expr”"),
    ],
)
def test_broken_copies_are_refused(tmp_path, rules, needle):
    raw = raw_2021()
    raw["rules"] = rules
    assert needle in refused(tmp_path, raw)
