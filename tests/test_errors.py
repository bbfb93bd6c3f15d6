"""One error root, caught once by the command line: a Chinese line, an exit code by kind,
a traceback only with --debug; severities and statuses as str enums."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gkreport import errors
from gkreport.cli import app
from gkreport.enums import Severity, Status
from gkreport.errors import GkreportError
from gkreport.model import Finding

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "input_templates" / "samples" / "示例市东城区教育局2025年统计表.xlsx"


@pytest.mark.parametrize(
    "error, code",
    [
        (errors.SpecError("表样定义文件 x.yaml：坏了"), 2),
        (errors.ReadError("文件 x.xlsx 无法读取", "x.xlsx"), 2),
        (errors.WordingError("措辞文件 w.yaml 有误"), 2),
        (errors.StrictRefusal("某局", 3), 1),
        (errors.PdfError("无法转换"), 3),
        (errors.OutputError("无法写入输出文件夹 out：文件夹所在的磁盘是只读的"), 2),
        (errors.MailError("名单有误"), 2),
        (errors.MailError("发送记录无法写入", exit_code=1), 1),
        (errors.RosterError("名单 x.csv 缺少“邮箱”列"), 2),
    ],
)
def test_every_kind_has_the_root_a_message_and_an_exit_code(error, code):
    assert isinstance(error, GkreportError) and error.exit_code == code and error.message == str(error)


def test_the_old_bases_still_hold():
    assert issubclass(errors.WordingError, ValueError) and issubclass(errors.PdfError, RuntimeError)
    from gkreport.mail import ConfigError
    from gkreport.pdf import LibreOfficeNotFound
    from gkreport.reader import ReadTimeout

    assert issubclass(ConfigError, errors.MailError) and issubclass(LibreOfficeNotFound, errors.PdfError)
    assert issubclass(ReadTimeout, errors.ReadError)


def _failing_check(monkeypatch, exc: Exception) -> None:
    import gkreport.pipeline

    def boom(*a, **k):
        raise exc

    monkeypatch.setattr(gkreport.pipeline, "check_files", boom)


@pytest.mark.parametrize(
    "exc, code",
    [
        (errors.SpecError("表样定义文件 x.yaml：坏了"), 2),
        (errors.PdfError("LibreOffice 不在"), 3),
        (errors.StrictRefusal("某局", 2), 1),
    ],
)
def test_a_gkreport_error_is_one_line_and_its_exit_code(monkeypatch, exc, code):
    _failing_check(monkeypatch, exc)
    res = CliRunner().invoke(app, ["check", str(SAMPLE)])
    assert res.exit_code == code
    assert res.output == f"错误：{exc.message}\n"


def test_a_fault_of_the_program_is_one_line_too(monkeypatch):
    _failing_check(monkeypatch, ZeroDivisionError("division by zero"))
    res = CliRunner().invoke(app, ["check", str(SAMPLE)])
    assert res.exit_code == errors.EXIT_INTERNAL
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "程序内部错误" in lines[0] and "ZeroDivisionError" in lines[0] and "--debug" in lines[0]


def test_debug_lets_the_exception_through(monkeypatch):
    _failing_check(monkeypatch, errors.SpecError("表样定义文件 x.yaml：坏了"))
    res = CliRunner().invoke(app, ["--debug", "check", str(SAMPLE)])
    assert isinstance(res.exception, errors.SpecError)


def test_the_installed_command_prints_no_traceback(tmp_path):
    missing = tmp_path / "没有这个表样.xlsx"
    res = subprocess.run(
        [sys.executable, "-m", "gkreport", "template", "--form", "1999", "-o", str(missing)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert res.returncode == 2 and res.stderr == "错误：没有表样“1999”，可用的表样：2017、2019、2021\n"
    assert not missing.exists()


def test_severities_and_statuses_are_readable_in_json():
    f = Finding("A3", "error", "不符")
    assert f.severity is Severity.ERROR and f.severity.zh == "错误" and Severity.WARNING.zh == "提示"
    assert json.loads(json.dumps(f.to_dict()))["severity"] == "error"
    assert json.dumps([Status.UNREADABLE, Status.DUPLICATE], ensure_ascii=False) == '["无法读取", "重复报送"]'
    assert Severity.parse("错误") is Severity.ERROR and Severity.parse("fatal") is None


def test_a_word_means_one_thing():
    from gkreport import mail

    words: dict[str, str] = {}
    for enum in (Status, mail.PlanStatus, mail.Delivery):
        for member in enum:
            words.setdefault(member.value, member.name)
    assert mail.Delivery.SEND_FAILED == "发送失败" and Status.UNREADABLE == "无法读取"
    assert not hasattr(mail, "FAILED")
    # a word shared by two enums names the same thing in both
    assert mail.PlanStatus.UNCERTAIN == mail.Delivery.UNCERTAIN and mail.PlanStatus.DONE == mail.Delivery.SENT


def test_the_package_face_is_complete_and_light():
    code = (
        "import sys, gkreport; "
        "assert set(gkreport.__all__) == {'__version__', *gkreport._EXPORTS}, 'lists differ'; "
        "heavy = [m for m in ('pandas', 'numpy', 'xlsxwriter', 'docx', 'openpyxl') if m in sys.modules]; "
        "assert not heavy, heavy; "
        "[getattr(gkreport, n) for n in gkreport.__all__]; "
        "print(gkreport.write_unit_docx.__module__, gkreport.run_batch.__module__)"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": str(ROOT / "src")}
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["gkreport.docx_out", "gkreport.batch"]


@pytest.mark.parametrize(
    "args", [["check"], ["check", "--bogus", "x"], ["nosuchcommand"], ["--debug", "check", "--bogus", "x"]]
)
def test_usage_errors_stay_usage_errors(args):
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2 and "程序内部错误" not in res.output
    assert res.output.startswith("错误：") and "Usage" not in res.output  # the Chinese usage error (cli.chinese)
    assert res.exception is None or isinstance(res.exception, SystemExit)  # no traceback, --debug or not
