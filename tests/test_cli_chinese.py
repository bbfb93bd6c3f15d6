"""The command line in one language: every help screen and every usage error in Chinese.

Help is read as a user sees it at 80 columns (``COLUMNS=80``): no English from click or
typer, no value names like ``<bool>`` or ``PATH``, an 示例 section, every line within 80
cells, and every option's help text shown whole (nothing cut off with …).
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from rich.cells import cell_len
from typer.main import get_command
from typer.testing import CliRunner

from gkreport.cli import app
from gkreport.cli.chinese import wrap

runner = CliRunner()
COMMANDS = ["batch", "watch", "check", "mail", "template", "samples"]
ENV = {"COLUMNS": "80", "LINES": "50", "TERMINAL_WIDTH": "80"}

# what click and typer print in English, and their value names
ENGLISH = re.compile(
    r"Usage|Options|Arguments|Commands|Show this message|\[default|\[required|Error|Try |"
    r"\bTEXT\b|\bINTEGER\b|\bFLOAT\b|\bPATH\b|\bFILE\b|<(?:bool|str|int|float|path|list|text)\b|No such|Missing|Invalid|Got unexpected|"
    r"requires|Did you mean|Possible options|Aborted"
)
BOX = "╭╮╰╯│─"


def plain(text: str) -> str:
    """The words of a help screen: borders and all white space taken out."""
    return re.sub(r"\s+", "", text.translate(str.maketrans("", "", BOX)))


def help_of(args: list[str]) -> str:
    res = runner.invoke(app, [*args, "--help"], env=ENV)
    assert res.exit_code == 0, res.output
    return res.stdout


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_is_chinese_whole_and_fits_80_columns(command):
    args = [command] if command else []
    text = help_of(args)
    assert not ENGLISH.search(text), ENGLISH.search(text)
    assert text.startswith("用法：gkreport" + (f" {command}" if command else ""))
    assert "╭─ 选项" in text and "╭─ 示例" in text and "显示本帮助并退出" in text
    assert "…" not in text
    for line in text.splitlines():
        assert cell_len(line) <= 80, line
    words = plain(text)
    group = get_command(app)
    cmd = group if command is None else group.commands[command]
    for param in cmd.params:  # every help text whole, with its default
        if param.help:
            assert plain(param.help) in words, param.help
        for opt in param.opts:
            if opt.startswith("--"):
                assert opt in text
    examples = text.split("╭─ 示例", 1)[1]
    assert examples.count("gkreport ") >= (2 if command != "check" else 4)
    if command is None:
        for name in COMMANDS:
            assert re.search(rf"│ {name}\s", text), name


def test_value_names_are_chinese():
    text = help_of(["batch"])
    assert "-o, --output 文件夹" in text and "-j, --jobs 个数" in text and "--wording 文件" in text
    assert "[默认：output]" in text and "（不小于 1）" in text
    assert "文件或文件夹..." in help_of(["check"]) and "[必填]" in help_of(["check"])
    mail = help_of(["mail"])  # options without a metavar get the Chinese name of their type
    assert "--smtp-port 整数" in mail and "--interval 数字" in mail and "--dry-run " in mail


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["batch", "--pfd"], "没有 --pfd 这个选项。您是不是要用 --pdf、--no-pdf？"),
        (["check"], "缺少文件或文件夹。"),
        (["mail"], "缺少路径。"),
        (["batch", "input", "--jobs", "x"], "选项 --jobs/-j 的值“x”应为整数（不小于 1）。"),
        (["batch", "input", "-j", "0"], "选项 --jobs/-j 的值“0”应为整数（不小于 1）。"),
        (["watch", "--interval=abc"], "选项 --interval 的值“abc”应为数字（不小于 0.2）。"),
        (["check", "a.xlsx", "--xlsx"], "选项 --xlsx 后面要写一个值。"),
        (["check", "--json=1", "a.xlsx"], "选项 --json 后面不能带值。"),
        (["template", "多余"], "多余的参数：多余。"),
        (["chek"], "没有 chek 这个命令。您是不是要用 check？"),
        (["--bogus"], "没有 --bogus 这个选项。"),
    ],
)
def test_usage_errors_are_one_chinese_message(args, message):
    res = runner.invoke(app, args, env=ENV)
    assert res.exit_code == 2, res.output
    assert res.stdout == ""
    err = res.stderr
    assert plain(message) in plain(err), err
    assert err.startswith("错误：")
    assert not ENGLISH.search(err), err


def test_missing_paths_are_refused_before_any_work(tmp_path):
    (tmp_path / "input").mkdir()
    res = runner.invoke(app, ["batch", str(tmp_path / "input"), "--previous", str(tmp_path / "无此文件夹")], env=ENV)
    assert res.exit_code == 2 and "找不到上一年度的文件夹" in res.stderr and "无此文件夹" in res.stderr
    res = runner.invoke(app, ["batch", str(tmp_path / "input"), "--wording", str(tmp_path / "无.yaml")], env=ENV)
    assert res.exit_code == 2 and "找不到措辞文件" in res.stderr
    assert not (tmp_path / "output").exists()
    res = runner.invoke(app, ["check", str(tmp_path / "无此文件.xlsx")], env=ENV)
    assert res.exit_code == 2 and "无此文件.xlsx" in res.output and "不存在" in res.output
    res = runner.invoke(app, ["check", str(tmp_path / "input")], env=ENV)
    assert res.exit_code == 2 and "中没有统计表" in res.stderr


def test_no_arguments_show_the_help():
    res = runner.invoke(app, [], env=ENV)
    assert res.exit_code == 0 and res.stdout.startswith("用法：gkreport") and "╭─ 命令" in res.stdout


def test_the_real_program_prints_chinese_under_python_m():
    """Through ``python -m gkreport`` (not the test runner): usage says gkreport, errors in Chinese."""
    res = subprocess.run(
        [sys.executable, "-m", "gkreport", "batch", "--pfd"],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, **ENV},
    )
    assert res.returncode == 2
    assert "没有 --pfd 这个选项" in res.stderr and "用法：gkreport batch" in res.stderr
    assert not ENGLISH.search(res.stderr)


def test_wrap_keeps_punctuation_and_words():
    lines = wrap("政府信息公开工作年度报告：读取统计表、审核勾稽关系、生成表格和公文格式报告、汇总、发送邮件。", 40)
    assert all(cell_len(x) <= 40 for x in lines)
    assert not any(x[0] in "，。、；：）" for x in lines[1:])
    assert (
        "".join(lines) == "政府信息公开工作年度报告：读取统计表、审核勾稽关系、生成表格和公文格式报告、汇总、发送邮件。"
    )
    lines = wrap("上一年度的统计表（或其所在文件夹）可以写 --previous-folder 选项", 20)
    assert any("--previous-folder" in x for x in lines) and all(cell_len(x) <= 20 for x in lines)
    assert not any(x.endswith("（") for x in lines)
