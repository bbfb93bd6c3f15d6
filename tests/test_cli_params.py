"""The command line's values checked without pydantic give what typer's own checks give."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer.main
from typer import _coercion

from gkreport.cli import app
from gkreport.cli import params as fast

VALUES = [
    "4",
    "0",
    "-3",
    "0.5",
    "0.1",
    "1e3",
    " 7",
    "7 ",
    "1_000",
    "abc",
    "",
    "报告",
    "input",
    "~/x",
    True,
    False,
    2,
    0.25,
]


def _params():
    command = typer.main.get_command(app)
    for name, sub in command.commands.items():
        for param in sub.params:
            if getattr(param, "type_descriptor", None) is not None:
                yield name, param


def _outcome(runtime, value, param, ctx):
    try:
        got = runtime.coerce(value, param=param, ctx=ctx)
    except Exception as exc:  # what is refused, and how
        return ("refused", type(exc).__name__)
    return ("taken", type(got).__name__, got)


def test_every_option_takes_and_refuses_what_typer_takes_and_refuses(tmp_path, monkeypatch):
    assert fast.install()  # installed when gkreport.cli was imported: the same builder again
    (tmp_path / "a.xlsx").write_bytes(b"")
    (tmp_path / "folder").mkdir()
    monkeypatch.chdir(tmp_path)
    command = typer.main.get_command(app)
    checked = 0
    plain = 0
    for name, param in _params():
        ctx = command.commands[name].make_context(name, [], resilient_parsing=True)
        ours = typer.core.build_runtime_param(param.type_descriptor)
        stock = _coercion.build_runtime_param(param.type_descriptor)
        multi = param.multiple or param.nargs == -1
        values = [("a.xlsx", "folder"), ("报告.xlsx",), ("",), (), "a.xlsx"] if multi else [*VALUES, "a.xlsx", "folder"]
        for value in values:
            assert _outcome(ours, value, param, ctx) == _outcome(stock, value, param, ctx), (name, param.name, value)
            checked += 1
        plain += type(ours).__name__ == "FastParam"
    assert checked > 300 and plain > 20  # every command's options, nearly all of them checked here


def test_a_command_runs_without_importing_pydantic(tmp_path):
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('pydantic' in sys.modules))\n"
        f"sys.argv = ['gkreport', 'batch', {str(tmp_path / 'in')!r}, '-o', {str(tmp_path / 'out')!r}, '-j', '2', '--json']\n"
        "from gkreport.cli import main\n"
        "main()\n"
    )
    (tmp_path / "in").mkdir()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip().splitlines()[-1] == "False", done.stderr


@pytest.mark.parametrize(("args", "message"), [(["-j", "0"], "选项 --jobs/-j 的值“0”应为整数（不小于 1）。")])
def test_a_value_out_of_range_is_still_refused_by_typer_in_chinese(tmp_path, args, message):
    done = subprocess.run(
        [sys.executable, "-m", "gkreport", "batch", str(tmp_path), *args], capture_output=True, text=True
    )
    assert done.returncode == 2 and message in done.stderr
