"""README.md documents what the tool offers: every command and option, every finding code,
and its library example runs as written."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from gkreport.catalogue import codes
from gkreport.cli import app
from gkreport.spec import load_forms, rule_set

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SRC = ROOT / "src" / "gkreport"

COMMANDS = typer.main.get_command(app).commands  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_is_documented(name):
    assert f"gkreport {name}" in README


@pytest.mark.parametrize(
    "name, option",
    sorted({(n, o) for n, c in COMMANDS.items() for p in c.params for o in p.opts if o.startswith("--")}),
)
def test_every_option_is_documented(name, option):
    assert re.search(rf"{re.escape(option)}(?![\w-])", README), f"gkreport {name} {option}"


def _spec_codes() -> set[str]:
    codes = set()
    for form in load_forms().values():
        rs = rule_set(form)
        codes.update(r.spec_id for r in rs.rules if r.source == "spec")
        codes.update(t.id for t in rs.text_rules)
    return codes


def _tree_families() -> set[str]:
    return {
        r.id.split(".")[1] if r.kind != "type" else "type"
        for form in load_forms().values()
        for r in rule_set(form).rules
        if r.source == "tree"
    }


def _source_codes() -> set[str]:
    """Codes written in the source: ``rule="…"`` arguments, and READ.* / META.* / D.* strings."""
    codes: set[str] = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg == "rule":
                if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                    codes.add(node.value.value)
                elif isinstance(node.value, ast.JoinedStr):  # f"{t}.blank": a family written 表.blank
                    tail = "".join(v.value for v in node.value.values if isinstance(v, ast.Constant))
                    codes.add("表" + tail)
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and re.fullmatch(r"(READ|META|D)\.[a-z_]+", node.value)
            ):
                codes.add(node.value)
    return codes


def test_the_code_lists_are_found():
    assert {"A3", "E17.publish", "D4"} <= _spec_codes()
    assert {"rsum", "csum", "rsub", "rdedup", "type"} <= _tree_families()
    assert {"READ.meta", "META.unit", "D7", "D.narrative", "表.blank_cells"} <= _source_codes()


@pytest.mark.parametrize("code", sorted(_spec_codes() | _source_codes()))
def test_every_finding_code_is_documented(code):
    assert f"`{code}`" in README or re.search(rf"`{re.escape(code)}[`.]", README), code


@pytest.mark.parametrize("code", sorted(codes()))
def test_every_catalogue_code_is_documented(code):
    """The codes of findings (templates/findings.yaml) and their titles, as people read them."""
    assert re.search(rf"\| `{code}` \| {re.escape(codes()[code].title)} \|", README), code


@pytest.mark.parametrize("family", sorted(_tree_families()))
def test_every_generated_rule_family_is_documented(family):
    assert f"`表.{family}" in README


def test_the_library_example_runs(tmp_path):
    block = re.search(r"## 在程序中使用.*?```python\n(.*?)```", README, re.S)
    assert block, "README 缺少“在程序中使用”的示例"
    shutil.copytree(ROOT / "input_templates" / "samples", tmp_path / "input")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    res = subprocess.run(
        [sys.executable, "-c", block.group(1)], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300
    )
    assert res.returncode == 0, res.stderr
    assert "D7" in res.stdout  # the seed sample's 成文日期 error is printed
    assert res.stdout.strip().splitlines()[-1].startswith("1 ")  # the batch: units with errors → 1
    assert len(list((tmp_path / "output").rglob("*审核后.xlsx"))) == 5
    assert len(list((tmp_path / "output").glob("*/*.docx"))) == 5
    assert (tmp_path / "output" / "批量" / "审核报告.json").exists()


def test_the_project_structure_names_every_module():
    listed = README[README.index("## 项目结构") :]
    for path in sorted(SRC.glob("*.py")):
        if path.stem not in ("__init__", "__main__"):
            assert f"{path.name}" in listed, path.name
    assert "spec/" in listed and "cli/" in listed
