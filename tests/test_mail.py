"""``gkreport mail``: real SMTP servers on 127.0.0.1 (aiosmtpd), real files, real subprocesses."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import email
import hashlib
import io
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

import docx
import openpyxl
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from gkreport import mail as m
from gkreport.batch import BatchOptions, run_batch
from gkreport.roster import clean_line
from gkreport.samples import SAMPLES_2021
from gkreport.spec import load_form
from gkreport.template import write_template
from smtp_fault_server import FaultServer

YEAR = 2025
SENDER = "某某区政务公开办 <gk@example.gov.cn>"
PASSWORD = "Pw-测试-9f3Kq!zX"  # distinctive, so a leak is easy to find
WRONG_PASSWORD = "wrong-Zq8-ascii-only"
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WAIT = 30  # upper bound, seconds, for anything a test waits on


# --------------------------------------------------------------------------- output folder (real batch runs)

FORM = load_form("2021")
PASSING = SAMPLES_2021[0]  # the sample 教育局: no findings
WITH_ERRORS = SAMPLES_2021[3]  # the sample 自然资源局: errors and warnings


def docx_name(unit: str, year: int = YEAR) -> str:
    return f"{unit}{year}年政府信息公开工作年度报告.docx"


def xlsx_name(unit: str, year: int = YEAR) -> str:
    return f"{unit}{year}年政府信息公开工作年度报告表格.xlsx"


def write_docx(path: Path, text: str) -> None:
    d = docx.Document()
    d.add_paragraph(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    d.save(path)


def docx_text(data: bytes) -> str:
    return "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)


def write_workbook(path: Path, unit: str, *, errors: bool = False, year: int = YEAR) -> Path:
    """A filled-in 2021 workbook for ``unit``, as a department sends it."""
    sample = WITH_ERRORS if errors else PASSING
    meta = {**sample["meta"], "unit": unit, "signer": unit, "year": year}
    return write_template(FORM, path, values=sample["values"], meta=meta, narrative=sample["narrative"])


def make_output(
    root: Path,
    units: list[str] | list[tuple[str, int]],
    *,
    year: int = YEAR,
    status: dict[str, str] | None = None,
    broken: tuple[str, ...] = (),
    duplicates: tuple[str, ...] = (),
) -> Path:
    """Workbooks for ``units`` run through the batch into ``root`` (the output folder).

    ``units``: names (of ``year``) or (name, year); ``status`` "有错误" writes the sample with
    errors; ``broken``: file names of inputs that are no workbook; ``duplicates``: units sent twice.
    """
    status = status or {}
    inp = root.with_name(root.name + "-input")
    inp.mkdir(parents=True, exist_ok=True)
    for i, item in enumerate(units):
        unit, y = item if isinstance(item, tuple) else (item, year)
        write_workbook(inp / f"{i:02d}.xlsx", unit, errors=status.get(unit) == "有错误", year=y)
    for name in broken:
        (inp / name).write_bytes(b"PK\x03\x04 this is not a workbook")
    for unit in duplicates:
        for x in "ab":
            write_workbook(inp / f"{unit}-{x}.xlsx", unit, year=year)
    run_batch(BatchOptions(input_dir=inp, output_dir=root, jobs=1))
    return root


def audit_units(out: Path, year: int = YEAR) -> list[dict]:
    return json.loads((out / str(year) / m.AUDIT_NAME).read_text(encoding="utf-8"))["units"]


def addr_of(unit: str) -> str:
    return f"u{hashlib.sha256(unit.encode()).hexdigest()[:8]}@units.example.cn"


def write_roster_xlsx(path: Path, rows: list[tuple]) -> Path:
    wb = openpyxl.Workbook()
    wb.active.append(["单位名称", "邮箱", "抄送"])
    for r in rows:
        wb.active.append(list(r))
    wb.save(path)
    return path


# --------------------------------------------------------------------------- SMTP server


@dataclass
class Received:
    mail_from: str
    rcpt: list[str]
    data: bytes

    @property
    def msg(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=policy.default)

    @property
    def unit(self) -> str:
        return str(self.msg["Subject"]).split("《")[1].split(str(YEAR))[0]


class Box:
    """Handler that stores accepted messages and misbehaves on request."""

    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.mail_commands = 0
        self.drop_after: int | None = None  # once this many are stored, drop every MAIL
        self.block_mail_at: int | None = None  # block MAIL when this many are stored
        self.block_data_at: int | None = None  # block at end of data when this many are stored
        self.data_replies: list[str] = []  # scripted replies to the end of data (message not stored)
        self.blocked = threading.Event()
        self.release = threading.Event()

    async def _hold(self) -> None:
        self.blocked.set()
        for _ in range(WAIT * 20):  # bounded
            if self.release.is_set():
                return
            await asyncio.sleep(0.05)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.mail_commands += 1
        n = len(self.messages)
        if self.drop_after is not None and n >= self.drop_after:
            server.transport.abort()
            return "421 4.3.2 going away"
        if self.block_mail_at is not None and n == self.block_mail_at:
            self.block_mail_at = None
            await self._hold()
            return "421 4.3.2 going away"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_replies:
            return self.data_replies.pop(0)
        if self.block_data_at is not None and len(self.messages) == self.block_data_at:
            self.block_data_at = None
            await self._hold()
            return "451 4.3.0 not accepted"
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return f"250 2.0.0 OK queued as Q{len(self.messages)}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def smtp_server(box: Box, **kwargs):
    port = free_port()
    c = Controller(box, hostname="127.0.0.1", port=port, ready_timeout=WAIT, **kwargs)
    c.start()
    try:
        yield port
    finally:
        box.release.set()
        c.stop()


def settings_for(port: int | None, tmp_path: Path, **extra) -> m.MailSettings:
    overrides = {"from": SENDER, "interval": 0, "retries": 2, "retry_wait": 0.01, "timeout": 10, "security": "none"}
    if port:
        overrides.update(smtp_host="127.0.0.1", smtp_port=port)
    overrides.update(extra)
    return m.load_settings(cwd=tmp_path, overrides=overrides)


def run_cli(args: list[str], *, cwd: Path, password: str | None = None, wait: bool = True):
    env = {k: v for k, v in os.environ.items() if k != m.PASSWORD_ENV}
    env["COLUMNS"] = "250"
    env["PYTHONIOENCODING"] = "utf-8"
    if password is not None:
        env[m.PASSWORD_ENV] = password
    cmd = [sys.executable, "-m", "gkreport", "mail", *args]
    if not wait:
        return subprocess.Popen(
            cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    return subprocess.run(
        cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, encoding="utf-8", timeout=WAIT
    )


def smtp_args(port: int, *more: str) -> list[str]:
    return [
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        str(port),
        "--security",
        "none",
        "--from",
        SENDER,
        "--interval",
        "0",
        "--retry-wait",
        "0.02",
        "--timeout",
        "10",
        *more,
    ]


def journal_events(out: Path, year: int = YEAR) -> list[dict]:
    p = out / str(year) / m.JOURNAL_NAME
    lines = p.read_text(encoding="utf-8").splitlines()  # as any tool splits lines
    return [json.loads(line) for line in lines if line.strip()]


def assert_exactly_once(messages: list[Received], units: list[str]) -> None:
    got = sorted(r.unit for r in messages)
    assert got == sorted(units), got


# --------------------------------------------------------------------------- sending


def test_batch_round_trip_with_roster(tmp_path):
    units = ["某某区教育局", "某某区卫生健康委员会", "某某区自然资源局"]
    out = make_output(tmp_path / "out", units)
    roster = write_roster_xlsx(
        tmp_path / "名单.xlsx",
        [
            (units[0], f"{addr_of(units[0])}；张老师<zhang@edu.example.cn>", "office@example.gov.cn"),
            (units[1], addr_of(units[1]), None),
            (units[2], addr_of(units[2]), ""),
        ],
    )
    box = Box()
    with smtp_server(box) as port:
        s = settings_for(port, tmp_path, attach="docx,xlsx")
        plan = m.plan_messages(out, s, roster=roster, today=datetime(2026, 1, 20).date())
        assert plan.problems == [] and [pm.status for pm in plan.messages] == [m.SEND] * 3
        result = m.send_plan(plan, s)
        assert result.all_sent, result

        assert len(box.messages) == 3
        for rec in box.messages:
            msg = rec.msg
            unit = rec.unit
            ydir = out / str(YEAR) / unit
            assert msg["Subject"] == f"《{unit}{YEAR}年政府信息公开工作年度报告》审核结果"
            assert msg["From"].addresses[0].addr_spec == "gk@example.gov.cn"
            assert msg["From"].addresses[0].display_name == "某某区政务公开办"
            body = msg.get_body(("plain",)).get_content()
            assert body.startswith(f"{unit}：") and "未发现错误和提示" in body and "按时公开" in body
            assert docx_name(unit) in body and xlsx_name(unit) in body
            assert "某某区政务公开办" in body and "2026年1月20日" in body
            atts = {a.get_filename(): a for a in msg.iter_attachments()}
            assert set(atts) == {docx_name(unit), xlsx_name(unit)}
            assert atts[docx_name(unit)].get_content_type() == DOCX_MIME
            assert atts[xlsx_name(unit)].get_content_type() == XLSX_MIME
            assert atts[docx_name(unit)].get_content() == (ydir / docx_name(unit)).read_bytes()
            assert atts[xlsx_name(unit)].get_content() == (ydir / xlsx_name(unit)).read_bytes()
            # RFC 2231 on one line (no continuations) and RFC 2047 name= for older clients.
            assert b"filename*=UTF-8''%E6%9F%90%E6%9F%90" in rec.data
            assert b'name="=?UTF-8?B?' in rec.data
            assert b"filename*0" not in rec.data
            if unit == units[0]:
                assert sorted(rec.rcpt) == sorted([addr_of(unit), "zhang@edu.example.cn", "office@example.gov.cn"])
                assert [a.addr_spec for a in msg["To"].addresses] == [addr_of(unit), "zhang@edu.example.cn"]
                assert msg["To"].addresses[1].display_name == "张老师"
                assert [a.addr_spec for a in msg["Cc"].addresses] == ["office@example.gov.cn"]
            else:
                assert rec.rcpt == [addr_of(unit)] and msg["Cc"] is None

        # The journal holds one "sent" per unit, with the hashes of the files sent.
        sent = [e for e in journal_events(out) if e["event"] == "sent"]
        assert sorted(e["unit"] for e in sent) == sorted(units)
        for e in sent:
            assert e["reply"].startswith("250 2.0.0 OK queued as Q")
            for f in e["files"]:
                data = (out / str(YEAR) / e["unit"] / f["name"]).read_bytes()
                assert f["sha256"] == hashlib.sha256(data).hexdigest() and f["size"] == len(data)

        # A second run finds nothing to send and sends nothing.
        again = m.plan_messages(out, s, roster=roster)
        assert [pm.status for pm in again.messages] == [m.DONE] * 3 and again.complete
        assert m.send_plan(again, s).outcomes == []
        assert len(box.messages) == 3


def test_cli_to_one_address_sends_one_message_per_unit(tmp_path):
    units = ["某某区教育局", "某某区司法局"]
    out = make_output(tmp_path / "out", units)
    box = Box()
    with smtp_server(box) as port:
        r = run_cli([str(out), "--to", "shangji@example.gov.cn", *smtp_args(port)], cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert "本次发送 2 封" in r.stdout
    assert_exactly_once(box.messages, units)
    assert all(x.rcpt == ["shangji@example.gov.cn"] for x in box.messages)
    # Default attachment is the Word report only.
    for x in box.messages:
        assert [a.get_filename() for a in x.msg.iter_attachments()] == [docx_name(x.unit)]


def test_problems_are_reported_before_anything_is_sent(tmp_path):
    units = ["某某区教育局", "某某区财政局", "某某区民政局", "某某区审计局"]
    out = make_output(
        tmp_path / "out",
        units,
        status={"某某区审计局": "有错误"},
        broken=("坏文件.xlsx",),
        duplicates=("某某区商务局",),
    )
    roster = write_roster_xlsx(
        tmp_path / "名单.xlsx",
        [
            ("某某区教育局", "edu@example.cn", None),
            ("某某区财政局", "not-an-address", None),  # invalid address
            ("某某区审计局", "audit@example.cn", None),
            ("某某区水务局", "water@example.cn", None),  # unit not in the output
            ("某某区商务局", "trade@example.cn", None),
            # 某某区民政局: no row, so no address
        ],
    )
    box = Box()
    with smtp_server(box) as port:
        # Upward (--to): a report with errors is held back unless --allow-errors.
        r = run_cli([str(out), "--to", "up@example.gov.cn", *smtp_args(port)], cwd=tmp_path)
        assert r.returncode == 1, r.stdout + r.stderr
        o = r.stdout
        assert "发送前发现的问题" in o and o.index("发送前发现的问题") < o.index("[1/3]")  # before sending
        assert "报告仍有 4 个错误" in o  # 4 wrong cells (7 broken rules) and "--allow-errors" in o
        assert "坏文件.xlsx" in o and "无法读取" in o
        assert "未生成报告（重复报送）" in o and o.count("无法确定以哪个为准") == 1
        assert "出现了不止一次" not in o
        assert sorted(x.unit for x in box.messages) == ["某某区教育局", "某某区民政局", "某某区财政局"]

        # To each department (--roster): the review result goes to the unit with errors too.
        r = run_cli([str(out), "--roster", str(roster), *smtp_args(port)], cwd=tmp_path)
        assert r.returncode == 1, r.stdout + r.stderr
        o = r.stdout
        assert "“not-an-address”不是有效的邮箱地址" in o
        assert "名单中没有该单位的邮箱" in o
        assert "某某区水务局" in o and "不在 2025 年的输出中" in o
        assert "--allow-errors" not in o
        assert "Traceback" not in r.stderr
        review = [x for x in box.messages if "审核结果" in str(x.msg["Subject"])]
        assert sorted(x.unit for x in review) == ["某某区审计局", "某某区教育局"]
        assert {x.unit: x.rcpt for x in review} == {
            "某某区审计局": ["audit@example.cn"],
            "某某区教育局": ["edu@example.cn"],
        }


def test_dry_run_writes_eml_and_sends_nothing(tmp_path):
    units = ["某某区教育局", "某某区（自然资源局）"]
    out = make_output(tmp_path / "out", units)
    stale = out / "outbox" / f"{YEAR}-某某区已撤销局.eml"  # from an earlier dry run
    stale.parent.mkdir()
    stale.write_bytes(b"old")
    r = run_cli(
        [str(out), "--to", "shangji@example.gov.cn", "--from", SENDER, "--attach", "docx,xlsx", "--dry-run"],
        cwd=tmp_path,
        password=PASSWORD,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "将发送" in r.stdout and "没有发送任何邮件" in r.stdout
    assert not (out / str(YEAR) / m.JOURNAL_NAME).exists()
    emls = sorted((out / "outbox").glob("*.eml"))
    assert [p.name for p in emls] == sorted(f"{YEAR}-{u}.eml" for u in units)
    for p in emls:
        raw = p.read_bytes()
        assert PASSWORD.encode() not in raw
        msg = email.message_from_bytes(raw, policy=policy.default)
        unit = p.stem.split("-", 1)[1]
        assert msg["Subject"] == f"报送《{unit}{YEAR}年政府信息公开工作年度报告》"
        assert "函" not in msg["Subject"] and "现报送" in msg.get_body(("plain",)).get_content()
        atts = {a.get_filename(): a.get_content() for a in msg.iter_attachments()}
        assert atts[docx_name(unit)] == (out / str(YEAR) / unit / docx_name(unit)).read_bytes()
        assert atts[xlsx_name(unit)] == (out / str(YEAR) / unit / xlsx_name(unit)).read_bytes()


# --------------------------------------------------------------------------- exactly once


def test_connection_dropped_mid_batch_then_rerun_sends_the_rest(tmp_path):
    units = [f"某某区第{i}局" for i in range(1, 6)]
    out = make_output(tmp_path / "out", units)
    box = Box()
    box.drop_after = 2
    with smtp_server(box) as port:
        r = run_cli([str(out), "--to", "up@example.gov.cn", "--retries", "1", *smtp_args(port)], cwd=tmp_path)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "已停止发送" in r.stderr and "Traceback" not in r.stderr
        assert len(box.messages) == 2
        box.drop_after = None  # the server recovers
        r = run_cli([str(out), "--to", "up@example.gov.cn", *smtp_args(port)], cwd=tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "本次发送 3 封" in r.stdout
    assert_exactly_once(box.messages, units)
    ev = journal_events(out)
    assert sum(e["event"] == "sent" for e in ev) == 5
    assert any(e["event"] == "failed" and e["permanent"] is False for e in ev)


def test_sender_killed_mid_batch_then_rerun_sends_each_unit_once(tmp_path):
    units = [f"某某区第{i}局" for i in range(1, 6)]
    out = make_output(tmp_path / "out", units)
    box = Box()
    box.block_mail_at = 2  # the third message hangs at MAIL FROM; the sender is killed there
    with smtp_server(box) as port:
        proc = run_cli([str(out), "--to", "up@example.gov.cn", *smtp_args(port)], cwd=tmp_path, wait=False)
        try:
            assert box.blocked.wait(WAIT), "sender never reached the third message"
        finally:
            proc.kill()
            proc.communicate(timeout=WAIT)
        box.release.set()
        assert len(box.messages) == 2
        last = journal_events(out)[-1]
        assert last["event"] == "attempt"  # killed before the end of data: safe to resend
        r = run_cli([str(out), "--to", "up@example.gov.cn", *smtp_args(port)], cwd=tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
    assert_exactly_once(box.messages, units)


def test_kill_while_waiting_for_data_reply_is_uncertain_not_resent(tmp_path):
    units = ["某某区甲局", "某某区乙局", "某某区丙局"]
    out = make_output(tmp_path / "out", units)
    box = Box()
    box.block_data_at = 1  # second message: data received, reply withheld, sender killed
    with smtp_server(box) as port:
        proc = run_cli([str(out), "--to", "up@example.gov.cn", *smtp_args(port)], cwd=tmp_path, wait=False)
        try:
            assert box.blocked.wait(WAIT)
        finally:
            proc.kill()
            proc.communicate(timeout=WAIT)
        box.release.set()
        ev = journal_events(out)
        assert ev[-1]["event"] == "data-end"
        window_unit = ev[-1]["unit"]

        r = run_cli([str(out), "--to", "up@example.gov.cn", *smtp_args(port)], cwd=tmp_path)
        assert r.returncode == 1
        assert "结果不确定" in r.stdout and "--resend-uncertain" in r.stdout
        assert window_unit not in [x.unit for x in box.messages]
        assert len(box.messages) == 2  # the other two units

        r = run_cli([str(out), "--to", "up@example.gov.cn", "--resend-uncertain", *smtp_args(port)], cwd=tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
        resent = box.messages[-1]
        assert resent.unit == window_unit
        assert resent.msg["Message-ID"] == ev[-1]["message_id"]  # same id: duplicates can be dropped
    assert_exactly_once(box.messages, units)


def test_changed_file_is_resent_only_with_flag(tmp_path):
    unit = "某某区教育局"
    out = make_output(tmp_path / "out", [unit])
    box = Box()
    with smtp_server(box) as port:
        s = settings_for(port, tmp_path)
        assert m.send_plan(m.plan_messages(out, s, to="up@example.gov.cn"), s).all_sent
        write_docx(out / str(YEAR) / unit / docx_name(unit), "修改后的报告")
        plan = m.plan_messages(out, s, to="up@example.gov.cn")
        assert plan.messages[0].status == m.CHANGED and not plan.complete
        assert "--resend-changed" in plan.messages[0].note
        m.send_plan(plan, s)
        assert len(box.messages) == 1
        plan = m.plan_messages(out, s, to="up@example.gov.cn", resend_changed=True)
        assert plan.messages[0].status == m.SEND
        assert m.send_plan(plan, s).all_sent
        assert len(box.messages) == 2
        new = (out / str(YEAR) / unit / docx_name(unit)).read_bytes()
        assert next(box.messages[1].msg.iter_attachments()).get_content() == new
        assert m.plan_messages(out, s, to="up@example.gov.cn").messages[0].status == m.DONE


def test_new_recipient_gets_the_message_alone(tmp_path):
    unit = "某某区教育局"
    out = make_output(tmp_path / "out", [unit])
    box = Box()
    with smtp_server(box) as port:
        s = settings_for(port, tmp_path)
        roster = write_roster_xlsx(tmp_path / "r.xlsx", [(unit, "a@example.cn", None)])
        assert m.send_plan(m.plan_messages(out, s, roster=roster), s).all_sent
        roster = write_roster_xlsx(tmp_path / "r.xlsx", [(unit, "a@example.cn", "b@example.cn")])
        plan = m.plan_messages(out, s, roster=roster)
        assert plan.messages[0].rcpt == ["b@example.cn"]
        assert m.send_plan(plan, s).all_sent
    assert [x.rcpt for x in box.messages] == [["a@example.cn"], ["b@example.cn"]]


def test_temporary_error_is_retried(tmp_path):
    out = make_output(tmp_path / "out", ["某某区教育局"])
    box = Box()
    box.data_replies = ["451 4.3.0 try again later"]
    waits: list[float] = []
    with smtp_server(box) as port:
        s = settings_for(port, tmp_path, retry_wait=0.5)
        result = m.send_plan(m.plan_messages(out, s, to="up@example.gov.cn"), s, sleep=waits.append)
    assert result.all_sent and len(box.messages) == 1
    assert waits == [0.5]
    ev = [e["event"] for e in journal_events(out)]
    assert ev == ["attempt", "data-end", "failed", "attempt", "data-end", "sent"]


def test_permanent_error_stops_the_batch(tmp_path):
    out = make_output(tmp_path / "out", ["某某区甲局", "某某区乙局"])
    box = Box()
    box.data_replies = ["554 5.7.1 rejected by policy"]
    with smtp_server(box) as port:
        s = settings_for(port, tmp_path)
        result = m.send_plan(m.plan_messages(out, s, to="up@example.gov.cn"), s, sleep=lambda _s: None)
    assert result.stopped and "554 5.7.1" in result.stopped
    assert [o.result for o in result.outcomes] == [m.SEND_FAILED, m.NOT_TRIED]
    assert box.mail_commands == 1 and box.messages == []
    failed = [e for e in journal_events(out) if e["event"] == "failed"]
    assert len(failed) == 1 and failed[0]["permanent"] is True


def test_partly_refused_recipients(tmp_path):
    out = make_output(tmp_path / "out", ["某某区教育局"])

    class Picky(Box):
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address.startswith("nobody"):
                return "550 5.1.1 no such user"
            envelope.rcpt_tos.append(address)
            return "250 OK"

    box = Picky()
    with smtp_server(box) as port:
        s = settings_for(port, tmp_path)
        result = m.send_plan(m.plan_messages(out, s, to="ok@example.cn;nobody@example.cn"), s)
        assert result.outcomes[0].result == m.SENT_OK and "nobody@example.cn" in result.outcomes[0].detail
        assert box.messages[0].rcpt == ["ok@example.cn"]
        # The refused address is still owed the message; the accepted one is done.
        plan = m.plan_messages(out, s, to="ok@example.cn;nobody@example.cn")
        assert plan.messages[0].rcpt == ["nobody@example.cn"]


def test_cli_a_refused_recipient_is_not_reported_as_complete(tmp_path):
    out = make_output(tmp_path / "out", ["某某区教育局"])

    class Picky(Box):
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address.startswith("nobody"):
                return "550 5.1.1 no such user"
            envelope.rcpt_tos.append(address)
            return "250 OK"

    box = Picky()
    with smtp_server(box) as port:
        r = run_cli([str(out), "--to", "ok@example.cn;nobody@example.cn", *smtp_args(port)], cwd=tmp_path)
    assert "Traceback" not in r.stderr
    assert [x.rcpt for x in box.messages] == [["ok@example.cn"]]
    # nobody@example.cn did not get the report: not "完成" (exit 0), and the summary says so.
    assert r.returncode == 1, r.stdout + r.stderr
    summary = r.stdout[r.stdout.index("本次发送") :]
    assert "1 封有收件人被拒收" in summary and "nobody@example.cn" in r.stdout


# --------------------------------------------------------------------------- TLS and password


def make_self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "server.pem", folder / "server.key"
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        if not shutil.which("openssl"):
            pytest.skip("needs the cryptography package or the openssl command")
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-days",
                "1",
                "-subj",
                "/CN=gkreport-test",
                "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:localhost",
            ],
            check=True,
            capture_output=True,
            timeout=WAIT,
        )
        return cert, key
    k = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gkreport-test")])
    now = datetime.now(UTC)
    c = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(k.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(k.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(k.public_key()), critical=False)
        .sign(k, hashes.SHA256())
    )
    cert.write_bytes(c.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert, key


def test_starttls_self_signed_refused_by_default_accepted_with_cafile(tmp_path):
    import ssl

    cert, key = make_self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        ok = auth_data.login == b"gk" and auth_data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)

    units = ["某某区教育局", "某某区司法局"]
    out = make_output(tmp_path / "out", units)
    box = Box()
    with smtp_server(
        box, tls_context=ctx, require_starttls=True, authenticator=authenticator, auth_required=True
    ) as port:
        common = [
            str(out),
            "--to",
            "up@example.gov.cn",
            "--smtp-host",
            "127.0.0.1",
            "--smtp-port",
            str(port),
            "--security",
            "starttls",
            "--smtp-user",
            "gk",
            "--from",
            SENDER,
            "--interval",
            "0",
            "--retry-wait",
            "0.02",
            "--timeout",
            "10",
        ]
        refused = run_cli(common, cwd=tmp_path, password=PASSWORD)
        assert refused.returncode == 1
        assert "无法验证服务器 127.0.0.1" in refused.stderr and "--cafile" in refused.stderr
        assert box.messages == [] and logins == []

        # An ASCII password goes through smtplib's login; the right one (not ASCII) through UTF-8 AUTH PLAIN.
        wrong = run_cli([*common, "--cafile", str(cert)], cwd=tmp_path, password=WRONG_PASSWORD)
        assert wrong.returncode == 1 and "登录失败" in wrong.stderr and box.messages == []

        ok = run_cli([*common, "--cafile", str(cert)], cwd=tmp_path, password=PASSWORD)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert_exactly_once(box.messages, units)
        assert (b"gk", PASSWORD.encode()) in logins

        dry = run_cli([*common, "--cafile", str(cert), "--dry-run"], cwd=tmp_path, password=PASSWORD)
        assert dry.returncode == 0

    secret = PASSWORD.encode("utf-8")
    for r in (refused, wrong, ok, dry):
        assert PASSWORD not in r.stdout + r.stderr and WRONG_PASSWORD not in r.stdout + r.stderr
        assert "Traceback" not in r.stderr
    for p in (tmp_path / "out").rglob("*"):
        if p.is_file():
            assert secret not in p.read_bytes(), p
            assert WRONG_PASSWORD.encode() not in p.read_bytes(), p


def test_implicit_tls_verifies_the_certificate(tmp_path):
    import ssl

    cert, key = make_self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    out = make_output(tmp_path / "out", ["某某区教育局"])
    box = Box()
    with smtp_server(box, ssl_context=ctx) as port:
        s = settings_for(port, tmp_path, security="ssl")
        result = m.send_plan(m.plan_messages(out, s, to="up@example.gov.cn"), s)
        assert result.stopped and "无法验证服务器" in result.stopped and box.messages == []
        s = settings_for(port, tmp_path, security="ssl", cafile=str(cert))
        assert m.send_plan(m.plan_messages(out, s, to="up@example.gov.cn"), s).all_sent
    assert_exactly_once(box.messages, ["某某区教育局"])


def test_password_in_config_file_is_refused(tmp_path):
    (tmp_path / "gkreport.toml").write_text('[mail]\nsmtp_host = "smtp.example.cn"\npassword = "x"\n', encoding="utf-8")
    with pytest.raises(m.ConfigError) as e:
        m.load_settings(cwd=tmp_path)
    assert m.PASSWORD_ENV in e.value.message and "不能保存密码" in e.value.message
    for other in ('[smtp]\nSMTP_Password = "x"\n', '[mail]\npwd = "x"\n', '[mail]\n"密码" = "x"\n'):
        (tmp_path / "gkreport.toml").write_text(other, encoding="utf-8")
        with pytest.raises(m.ConfigError, match=m.PASSWORD_ENV):
            m.load_settings(cwd=tmp_path)
    (tmp_path / "gkreport.toml").write_text('[mail]\nsmtp_host = "smtp.example.cn"\npassword = "x"\n', encoding="utf-8")
    out = make_output(tmp_path / "out", ["某某区教育局"])
    r = run_cli([str(out), "--to", "a@example.cn", "--dry-run"], cwd=tmp_path)
    assert r.returncode == 2 and m.PASSWORD_ENV in r.stderr and "Traceback" not in r.stderr


def test_config_file_templates_and_validation(tmp_path):
    cfg = tmp_path / "gkreport.toml"
    cfg.write_text(
        '[other]\nbypass_proxy = true\n[mail]\nfrom = "gk@example.gov.cn"\nsender_unit = "某某区人民政府办公室"\n'
        'subject = "{year}年度报告报送：{unit}"\nbody = "请查收{file_count}个附件：\\n{files}\\n{sender_unit}"\n'
        'security = "ssl"\n',
        encoding="utf-8",
    )
    s = m.load_settings(cwd=tmp_path)
    assert s.security == "ssl" and s.port == 465 and s.sender_unit == "某某区人民政府办公室"
    out = make_output(tmp_path / "out", ["某某区教育局"])
    pm = m.plan_messages(out, s, to="a@example.cn").messages[0]
    assert pm.subject == "2025年度报告报送：某某区教育局"
    assert pm.body == f"请查收1个附件：\n1. {docx_name('某某区教育局')}\n某某区人民政府办公室"
    # Command line wins over the file.
    assert m.load_settings(cwd=tmp_path, overrides={"security": "starttls"}).port == 587

    for subject, words in [
        ("{单位}的报告", "{单位} 无法识别"),
        ("{unit.__class__}", "无法识别"),
        ("报告{", "花括号不成对"),
        ("{}", "{} 无法识别"),
    ]:
        cfg.write_text(f'[mail]\nfrom = "gk@example.gov.cn"\nsubject = "{subject}"\n', encoding="utf-8")
        with pytest.raises(m.ConfigError) as e:
            m.load_settings(cwd=tmp_path)
        assert words in e.value.message and ("{unit}" in e.value.message or "花括号" in e.value.message)
    cfg.write_text('[mail]\nsmtp_hots = "x"\n', encoding="utf-8")
    with pytest.raises(m.ConfigError, match="smtp_hots"):
        m.load_settings(cwd=tmp_path)
    with pytest.raises(m.ConfigError, match="找不到配置文件"):
        m.load_settings(tmp_path / "none.toml")


def test_cannot_start_exit_code_2(tmp_path):
    r = run_cli([str(tmp_path / "missing"), "--to", "a@example.cn", "--from", SENDER, "--dry-run"], cwd=tmp_path)
    assert r.returncode == 2 and "找不到输出文件夹" in r.stderr and "Traceback" not in r.stderr
    out = make_output(tmp_path / "out", ["某某区教育局"])
    r = run_cli([str(out), "--from", SENDER, "--dry-run"], cwd=tmp_path)
    assert r.returncode == 2 and "--roster" in r.stderr
    r = run_cli([str(out), "--to", "up@example", "--from", SENDER, "--dry-run"], cwd=tmp_path)
    assert r.returncode == 2 and "--to 中“up@example”不是有效的邮箱地址" in r.stderr
    r = run_cli([str(out), "--to", "a@example.cn", "--from", SENDER, "--security", "tls"], cwd=tmp_path)
    assert r.returncode == 2 and "加密方式" in r.stderr
    # A login over an unencrypted connection is refused before connecting.
    r = run_cli(
        [
            str(out),
            "--to",
            "a@example.cn",
            "--from",
            SENDER,
            "--smtp-host",
            "127.0.0.1",
            "--security",
            "none",
            "--smtp-user",
            "gk",
        ],
        cwd=tmp_path,
        password=PASSWORD,
    )
    assert r.returncode == 2 and "明文" in r.stderr
    # No password available and no terminal to ask on.
    r = run_cli(
        [str(out), "--to", "a@example.cn", "--from", SENDER, "--smtp-host", "127.0.0.1", "--smtp-user", "gk"],
        cwd=tmp_path,
    )
    assert r.returncode == 2 and m.PASSWORD_ENV in r.stderr


# --------------------------------------------------------------------------- roster, years, journal


def test_roster_csv_encodings_separators_and_width(tmp_path):
    units = ["某某区教育局", "某某区(自然资源局)", "某某区 卫生健康委员会"]
    out = make_output(tmp_path / "out", units)
    rows = [
        ["单位名称", "邮箱", "抄送"],
        ["某某区教育局", "a@example.cn；b@example.cn、c@example.cn d@example.cn", ""],
        ["某某区（自然资源局）", "ｚｒ＠example.cn", "x@example.cn,y@example.cn"],  # full width
        ["某某区卫生健康委员会　", "wj@example.cn", ""],  # ideographic space
    ]
    s = settings_for(None, tmp_path)
    for encoding in ("gbk", "utf-8-sig", "utf-8"):
        path = tmp_path / f"名单-{encoding}.csv"
        with open(path, "w", encoding=encoding, newline="") as fh:
            csv.writer(fh).writerows(rows)
        plan = m.plan_messages(out, s, roster=path)
        assert plan.problems == [], plan.problems
        got = {pm.unit: ([a.addr_spec for a in pm.to], [a.addr_spec for a in pm.cc]) for pm in plan.messages}
        assert got == {
            "某某区教育局": (["a@example.cn", "b@example.cn", "c@example.cn", "d@example.cn"], []),
            "某某区(自然资源局)": (["zr@example.cn"], ["x@example.cn", "y@example.cn"]),
            "某某区卫生健康委员会": (["wj@example.cn"], []),  # spacing out a name is layout (the reader drops it)
        }, encoding


def test_address_validation():
    for good in ["a@example.cn", "张三 <zhang.san@mail.example.gov.cn>", "x+y@sub.example.com"]:
        m.parse_address(good)
    for bad in [
        "not-an-address",
        "a@b",
        "a@@example.cn",
        "a b@example.cn",
        "a@example..cn",
        "@example.cn",
        "a@-example.cn",
        "a.@example.cn",
    ]:
        with pytest.raises(ValueError, match="不是有效的邮箱地址"):
            m.parse_address(bad)


def test_latest_year_is_used_and_said(tmp_path):
    out = tmp_path / "out"
    make_output(out, [("某某区教育局", 2024), ("某某区教育局", 2025), ("某某区司法局", 2025)])
    s = settings_for(None, tmp_path)
    plan = m.plan_messages(out, s, to="a@example.cn")
    assert plan.year == 2025 and "使用最新的 2025 年" in plan.year_note and "--year" in plan.year_note
    assert len(plan.messages) == 2
    plan = m.plan_messages(out, s, to="a@example.cn", year=2024)
    assert plan.year == 2024 and plan.year_note is None and len(plan.messages) == 1
    with pytest.raises(m.MailError, match="2023"):
        m.plan_messages(out, s, to="a@example.cn", year=2023)


def test_journal_survives_a_torn_last_line_and_lock_is_exclusive(tmp_path):
    path = tmp_path / m.JOURNAL_NAME
    j = m.Journal(path)
    base = {
        "attempt": "a1",
        "unit": "某某区教育局",
        "rcpt": ["a@example.cn"],
        "files": [{"name": "x.docx", "sha256": "00"}],
    }
    j.append({**base, "event": "attempt"})
    j.append({**base, "event": "sent", "accepted": ["a@example.cn"]})
    j.close()
    with open(path, "ab") as fh:
        fh.write('{"event": "sent", "unit": "某某'.encode())  # a crash in the middle of a line
    j = m.Journal(path)
    events = j.read()
    assert [e["event"] for e in events] == ["attempt", "sent"] and j.damaged_lines == 1
    state = m.journal_state(events)
    assert state[("某某区教育局", "a@example.cn")].state == "sent"
    j.append({**base, "attempt": "a2", "event": "attempt"})
    j.close()
    assert [e["attempt"] for e in m.Journal(path).read()] == ["a1", "a1", "a2"]

    with m.journal_lock(tmp_path), pytest.raises(m.MailError, match="另一个 gkreport mail"), m.journal_lock(tmp_path):
        pass
    with m.journal_lock(tmp_path):  # released
        pass


# --------------------------------------------------------------------------- which report goes to whom


def eml_messages(out: Path) -> dict[str, email.message.EmailMessage]:
    return {
        p.name: email.message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted((out / "outbox").glob("*.eml"))
    }


def own_docx(out: Path, unit: str, year: int = YEAR) -> bytes:
    """The Word report the batch recorded for ``unit``."""
    rec = next(u for u in audit_units(out, year) if u["unit"] == unit)
    return (out / str(year) / rec["outputs"]["docx"]).read_bytes()


def as_older_batch(out: Path, unit: str, other: str, year: int = YEAR) -> None:
    """Make ``unit``'s record point at ``other``'s files, as a batch before tagged folders left two units
    whose names meet in a file name (碰撞局/一, 碰撞局_一): one folder, the report of whichever came last."""
    path = out / str(year) / m.AUDIT_NAME
    data = json.loads(path.read_text(encoding="utf-8"))
    theirs = next(u for u in data["units"] if u["unit"] == other)["outputs"]
    mine = next(u for u in data["units"] if u["unit"] == unit)
    shutil.rmtree(out / str(year) / Path(mine["outputs"]["docx"]).parent)
    mine["outputs"] = dict(theirs)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def test_units_whose_file_names_collide_never_get_each_others_reports(tmp_path):
    # An older batch wrote 碰撞局/一 and 碰撞局_一 into one output folder (a file name cannot hold "/");
    # ＡＢ局 and AB局 fold to one name but have their own folders.
    units = ["碰撞局/一", "碰撞局_一", "ＡＢ局", "AB局", "某某区教育局"]
    out = make_output(tmp_path / "out", units)
    as_older_batch(out, "碰撞局/一", "碰撞局_一")
    addr = {u: f"unit{i}@example.cn" for i, u in enumerate(units)}
    roster = write_roster_xlsx(tmp_path / "名单.xlsx", [(u, addr[u], None) for u in units])
    box = Box()
    with smtp_server(box) as port:
        s = settings_for(port, tmp_path)
        plan = m.plan_messages(out, s, roster=roster)
        problems = {p.unit: p.message for p in plan.problems}
        assert set(problems) == {"碰撞局/一", "碰撞局_一"}
        assert "与“碰撞局_一”的报告是同一个文件" in problems["碰撞局/一"]
        assert "与“碰撞局/一”的报告是同一个文件" in problems["碰撞局_一"]
        result = m.send_plan(plan, s)
    assert [o.unit for o in result.outcomes if o.result == m.SENT_OK] == ["ＡＢ局", "AB局", "某某区教育局"]
    assert len(box.messages) == 3
    for r in box.messages:
        unit = next(u for u in units if r.rcpt == [addr[u]])
        assert r.unit == unit  # the subject names the unit the address belongs to
        (att,) = r.msg.iter_attachments()
        assert att.get_content() == own_docx(out, unit)
        title = docx_text(att.get_content()).splitlines()[0]
        assert title.startswith(unit) and not any(title.startswith(u) for u in units if u != unit)
    assert {e["unit"] for e in journal_events(out)} == {"ＡＢ局", "AB局", "某某区教育局"}


def test_dry_run_writes_one_eml_per_message_it_counts(tmp_path):
    long_a = "某某省某某市某某区" + "很长的单位名称" * 11 + "甲局"  # 88 characters
    long_b = "某某省某某市某某区" + "很长的单位名称" * 11 + "乙局"
    units = ["碰撞局/一", "碰撞局_一", "AB局", "ab局", long_a, long_b, "某某区第一局\u2028分局", "某某区教育局"]
    out = make_output(tmp_path / "out", units)
    as_older_batch(out, "碰撞局/一", "碰撞局_一")
    recorded = [u["unit"] for u in audit_units(out)]
    addr = {u: f"unit{i}@example.cn" for i, u in enumerate(recorded)}
    roster = write_roster_xlsx(tmp_path / "名单.xlsx", [(u, addr[u], None) for u in recorded])
    r = run_cli(
        [str(out), "--roster", str(roster), "--from", SENDER, "--attach", "docx,xlsx", "--dry-run"], cwd=tmp_path
    )
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == 1, r.stdout + r.stderr  # the colliding pair is withheld
    emls = eml_messages(out)
    assert len(emls) == 6 == r.stdout.count("将发送")
    assert f"试运行：6 封邮件已写入 {out / 'outbox'}" in r.stdout.replace("\n", "")
    assert all(len(name.encode()) <= 255 for name in emls)
    assert len({name.casefold() for name in emls}) == 6  # never shared, not even by case
    by_addr = {msg["To"].addresses[0].addr_spec: msg for msg in emls.values()}
    assert set(by_addr) == {addr[u] for u in recorded if not u.startswith("碰撞局")}
    for unit in recorded:
        if unit.startswith("碰撞局"):
            continue
        msg = by_addr[addr[unit]]
        docx_att = next(a for a in msg.iter_attachments() if a.get_filename().endswith(".docx"))
        assert docx_att.get_content() == own_docx(out, unit)


def test_control_characters_in_unit_names_break_nothing(tmp_path, monkeypatch):
    # The reader cleans such names; records written without that cleaning (an older batch,
    # a hand-edited 审核报告.json) must still never break a header, a file name or a body.
    import gkreport.reader as reader

    monkeypatch.setattr(reader, "_clean_line", lambda text: (text, []))
    marks = ["\u2028", "\u0085", "\x0c", "\x1c", "\x1d", "\x1e", "\r\n", "\u2029"]
    units = [f"某某区第{i}局{c}分局" for i, c in enumerate(marks)]
    out = make_output(tmp_path / "out", units)
    monkeypatch.undo()
    recorded = [u["unit"] for u in audit_units(out)]
    assert any(ch in "".join(recorded) for ch in "\u2028\x0c\x1c\n")  # the names reach mail as they are
    # Such a batch wrote \x0c and \x1c–\x1e into the Word reports' XML, which cannot hold them: those reports
    # are damaged and are not sent. The names reach the messages with the workbooks.
    plan = m.plan_messages(out, settings_for(None, tmp_path), to="up@example.gov.cn", dry_run=True)
    unopenable = {clean_line(u) for u in recorded if any(c in u for c in "\x0c\x1c\x1d\x1e")}
    assert {p.unit for p in plan.problems} == unopenable and len(unopenable) == 4
    assert all("无法打开：文件已损坏（其中的 word/document.xml 不是有效的 XML" in p.message for p in plan.problems)
    dry = run_cli(
        [str(out), "--to", "up@example.gov.cn", "--attach", "xlsx", "--from", SENDER, "--dry-run"], cwd=tmp_path
    )
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert len(eml_messages(out)) == len(units)
    box = Box()
    with smtp_server(box) as port:
        r = run_cli([str(out), "--to", "up@example.gov.cn", "--attach", "xlsx", *smtp_args(port)], cwd=tmp_path)
        again = run_cli([str(out), "--to", "up@example.gov.cn", "--attach", "xlsx", *smtp_args(port)], cwd=tmp_path)
    for x in (dry, r, again):
        assert "Traceback" not in x.stderr, x.stderr
    assert r.returncode == 0, r.stdout + r.stderr
    assert again.returncode == 0 and "没有需要发送的邮件" in again.stdout
    assert len(box.messages) == len(units)
    for x in box.messages:
        raw_headers = x.data.split(b"\r\n\r\n", 1)[0]
        for line in raw_headers.split(b"\r\n"):
            assert not line or line[:1] in b" \t" or b":" in line, line  # every header line well formed
        subject = str(x.msg["Subject"])
        assert subject.splitlines() == [subject] and not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in subject)
        for att in x.msg.iter_attachments():
            name = att.get_filename()
            assert not any(ord(c) < 32 or c in "\u2028\u2029\x85" for c in name), name
        body = x.msg.get_body(("plain",)).get_content().replace("\r\n", "\n")  # CRLF is the line end on the wire
        assert not any(c in body for c in "\x0c\x1c\x1d\x1e\u2028\u2029\x85\r")
    sent = {e["unit"] for e in journal_events(out) if e["event"] == "sent"}
    assert sent == set(recorded)  # the journal keeps each unit as the batch recorded it


def test_a_message_that_cannot_be_built_is_reported_and_the_others_go(tmp_path, monkeypatch):
    units = ["某某区甲局", "某某区乙局", "某某区丙局"]
    out = make_output(tmp_path / "out", units)
    real = m._attachment_part

    def failing(att):
        if att.name.startswith("某某区乙局"):
            raise ValueError("simulated")
        return real(att)

    monkeypatch.setattr(m, "_attachment_part", failing)
    box = Box()
    with smtp_server(box) as port:
        s = settings_for(port, tmp_path)
        outbox = m.write_outbox(m.plan_messages(out, s, to="up@example.gov.cn", dry_run=True), s)
        assert [p.unit for p in outbox.failed] == ["某某区乙局"] and "邮件无法生成" in outbox.failed[0].message
        assert len(outbox.written) == 2 == len(list((out / "outbox").glob("*.eml")))

        result = m.send_plan(m.plan_messages(out, s, to="up@example.gov.cn"), s)
        assert [(o.unit, o.result) for o in result.outcomes] == [
            ("某某区甲局", m.SENT_OK),
            ("某某区乙局", m.NOT_BUILT),
            ("某某区丙局", m.SENT_OK),
        ]
        assert result.stopped is None and not result.all_sent
        assert sorted(x.unit for x in box.messages) == ["某某区丙局", "某某区甲局"]
        assert "某某区乙局" not in {e["unit"] for e in journal_events(out)}  # nothing happened to it

        monkeypatch.setattr(m, "_attachment_part", real)  # fixed: the next run sends it
        assert m.send_plan(m.plan_messages(out, s, to="up@example.gov.cn"), s).all_sent
    assert_exactly_once(box.messages, units)


def test_a_workbook_changed_after_the_batch_is_not_mailed_with_its_old_report(tmp_path):
    units = ["某某区甲局", "某某区乙局", "某某区丙局"]
    out = make_output(tmp_path / "out", units, status={"某某区乙局": "有错误"})
    inp = tmp_path / "out-input"
    # After the batch: 甲局 sends a workbook with errors, 乙局 its corrected one, 丙局's is taken out.
    write_workbook(inp / "00.xlsx", "某某区甲局", errors=True)
    write_workbook(inp / "01.xlsx", "某某区乙局")
    (inp / "02.xlsx").unlink()
    roster = write_roster_xlsx(tmp_path / "名单.xlsx", [(u, addr_of(u), None) for u in units])
    box = Box()
    with smtp_server(box) as port:
        s = settings_for(port, tmp_path)
        for kw in ({"to": "up@example.gov.cn", "allow_errors": True}, {"roster": roster}):
            plan = m.plan_messages(out, s, **kw)
            assert [pm.status for pm in plan.messages] == [m.BLOCKED] * 3, kw
            said = {p.unit: p.message for p in plan.problems}
            assert "00.xlsx" in said["某某区甲局"] and "修改过" in said["某某区甲局"]
            assert "01.xlsx" in said["某某区乙局"] and "修改过" in said["某某区乙局"]
            assert "02.xlsx" in said["某某区丙局"] and "不在输入文件夹" in said["某某区丙局"]
            assert all("重新运行 batch" in x for x in said.values())
            assert m.send_plan(plan, s).outcomes == []
        assert box.messages == []

        # Once the batch has run again, the reports are the workbooks' and go out.
        run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=1))
        plan = m.plan_messages(out, s, roster=roster)
        assert [pm.unit for pm in plan.to_send] == ["某某区甲局", "某某区乙局"] == [pm.unit for pm in plan.messages]
        assert [p.unit for p in plan.problems] == ["某某区丙局"]  # in the roster, no longer in the output
        assert m.send_plan(plan, s).all_sent
    assert_exactly_once(box.messages, ["某某区甲局", "某某区乙局"])
    bodies = {x.unit: x.msg.get_body(("plain",)).get_content() for x in box.messages}
    assert "发现 4 个错误" in bodies["某某区甲局"] and "未发现错误" in bodies["某某区乙局"]


def test_mail_says_when_it_cannot_find_the_input_folder_to_check(tmp_path):
    out = make_output(tmp_path / "out", ["某某区甲局"])
    shutil.rmtree(tmp_path / "out-input")
    s = settings_for(None, tmp_path)
    plan = m.plan_messages(out, s, to="up@example.gov.cn", dry_run=True)
    assert [pm.status for pm in plan.messages] == [m.SEND]
    assert plan.unchecked and str(tmp_path / "out-input") in plan.unchecked and "无法核对" in plan.unchecked
    r = run_cli([str(out), "--to", "up@example.gov.cn", "--dry-run"], cwd=tmp_path)
    assert r.returncode == 0 and "无法核对" in r.stdout, r.stdout + r.stderr


def report_path(out: Path, unit: str, year: int = YEAR) -> Path:
    """The Word report the batch recorded for ``unit``."""
    rec = next(u for u in audit_units(out, year) if u["unit"] == unit)
    return out / str(year) / rec["outputs"]["docx"]


def edit_by_hand(path: Path, text: str) -> None:
    """What staff do in Word: open the report, add a paragraph, save."""
    d = docx.Document(path)
    d.add_paragraph(text)
    d.save(path)


def flat(text: str) -> str:
    """Console output without table borders and line breaks: a table cell's text is whole again."""
    return re.sub(r"[\s│┃┆]+", "", text)


def test_a_report_edited_by_hand_is_sent_and_said_to_be(tmp_path):
    units = ["某某区甲局", "某某区乙局"]
    out = make_output(tmp_path / "out", units)
    edited = report_path(out, "某某区甲局")
    edit_by_hand(edited, "手工补充：本单位另设了网上依申请公开平台。")
    said = "在生成后被手工修改过（与batch生成的文件不同），发送的是修改后的文件"

    dry = run_cli([str(out), "--to", "up@example.gov.cn", "--from", SENDER, "--dry-run"], cwd=tmp_path)
    assert dry.returncode == 0, dry.stdout + dry.stderr  # sent all the same: it is the staff's version
    assert flat(f"Word报告{edited.name}{said}") in flat(dry.stdout), dry.stdout
    assert flat(dry.stdout).count("手工修改") == 1  # only 甲局's
    (att,) = eml_messages(out)[f"{YEAR}-某某区甲局.eml"].iter_attachments()
    assert att.get_content() == edited.read_bytes()

    box = Box()
    with smtp_server(box) as port:
        r = run_cli([str(out), "--to", "up@example.gov.cn", *smtp_args(port)], cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    plan_part, run_part = r.stdout.split("连接 127.0.0.1", 1)
    assert flat(said) in flat(plan_part) and flat(said) in flat(run_part), r.stdout
    results = flat(run_part[run_part.index("发送结果") :])
    assert flat("某某区甲局已发送250") in results and flat(said) in results
    assert "本次发送 2 封" in r.stdout
    assert_exactly_once(box.messages, units)
    got = {x.unit: next(x.msg.iter_attachments()).get_content() for x in box.messages}
    assert got["某某区甲局"] == edited.read_bytes() and "手工补充" in docx_text(got["某某区甲局"])
    sent = {e["unit"]: e["files"] for e in journal_events(out) if e["event"] == "sent"}
    assert [f.get("hand_edited") for f in sent["某某区甲局"]] == [True]  # recorded with the file
    assert [f.get("hand_edited") for f in sent["某某区乙局"]] == [None]


def test_a_hand_edit_kept_aside_by_a_later_batch_is_said_not_to_be_sent(tmp_path):
    units = ["某某区甲局", "某某区乙局"]
    out = make_output(tmp_path / "out", units)
    edit_by_hand(report_path(out, "某某区甲局"), "手工补充的一段。")
    run_batch(BatchOptions(input_dir=tmp_path / "out-input", output_dir=out, jobs=1))  # keeps the edit aside
    kept = report_path(out, "某某区甲局").with_name(f"某某区甲局{YEAR}年政府信息公开工作年度报告（手工修改）.docx")
    assert kept.is_file() and "手工补充" not in docx_text(report_path(out, "某某区甲局").read_bytes())

    dry = run_cli([str(out), "--to", "up@example.gov.cn", "--from", SENDER, "--dry-run"], cwd=tmp_path)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert flat(f"修改后的文件已另存为{kept.name}，这次不发送它；发送的是batch重新生成的文件，不含那些修改") in flat(
        dry.stdout
    ), dry.stdout
    (att,) = eml_messages(out)[f"{YEAR}-某某区甲局.eml"].iter_attachments()
    assert att.get_content() == report_path(out, "某某区甲局").read_bytes()

    # Without the batch's record of what it wrote, mail cannot tell whether the report is as generated: it says so.
    (out / m.MANIFEST_PATH).unlink()
    plan = m.plan_messages(out, settings_for(None, tmp_path), to="up@example.gov.cn", dry_run=True)
    assert plan.unchecked and "无法核对要发送的报告在生成之后是否被手工修改过" in plan.unchecked
    first = plan.messages[0]
    assert first.note == f"Word 报告另有手工修改过的版本另存为 {kept.name}，这次不发送它"
    assert plan.messages[1].note == ""


def word_owner_file(user: str) -> bytes:
    """The ~$ file Word keeps beside a document it has open: 162 bytes naming who has it open."""
    ansi = user.encode("gbk")
    wide = user.encode("utf-16-le")
    data = bytes([len(ansi)]) + ansi.ljust(53, b" ") + bytes([len(user), 0]) + wide
    return data.ljust(162, b"\0")


def test_a_report_that_cannot_be_opened_is_not_sent(tmp_path):
    units = ["某某区甲局", "某某区乙局", "某某区丙局"]
    out = make_output(tmp_path / "out", units)
    cut = report_path(out, "某某区甲局")  # cut short: a copy that stopped halfway
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    owner = report_path(out, "某某区乙局")  # Word's ~$ file copied over the report by mistake
    (owner.parent / ("~$" + owner.name[2:])).write_bytes(word_owner_file("张三"))
    owner.write_bytes(word_owner_file("张三"))
    good = report_path(out, "某某区丙局")  # open in Word: its ~$ file stands beside it
    (good.parent / ("~$" + good.name[2:])).write_bytes(word_owner_file("李四"))

    dry = run_cli([str(out), "--to", "up@example.gov.cn", "--from", SENDER, "--dry-run"], cwd=tmp_path)
    assert dry.returncode == 1 and "Traceback" not in dry.stderr, dry.stdout + dry.stderr
    assert list(eml_messages(out)) == [f"{YEAR}-某某区丙局.eml"]
    box = Box()
    with smtp_server(box) as port:
        s = settings_for(port, tmp_path)
        plan = m.plan_messages(out, s, to="up@example.gov.cn")
        said = {p.unit: p.message for p in plan.problems}
        assert set(said) == {"某某区甲局", "某某区乙局"}
        assert f"Word 报告 某某区甲局/{cut.name} 无法打开：文件不完整或已损坏，不能发送" in said["某某区甲局"]
        assert f"Word 报告 某某区乙局/{owner.name} 无法打开：文件不完整或已损坏" in said["某某区乙局"]
        assert "~$ 临时文件" in said["某某区乙局"]
        r = run_cli([str(out), "--to", "up@example.gov.cn", *smtp_args(port)], cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stdout + r.stderr
    assert flat(f"{cut.name}无法打开：文件不完整或已损坏，不能发送") in flat(r.stdout), r.stdout
    assert flat(f"{owner.name}无法打开") in flat(r.stdout)
    assert "本次发送 1 封" in r.stdout
    assert_exactly_once(box.messages, ["某某区丙局"])
    (att,) = box.messages[0].msg.iter_attachments()
    assert att.get_content() == good.read_bytes()
    assert {e["unit"] for e in journal_events(out)} == {"某某区丙局"}


# --------------------------------------------------------------------------- wording


def test_review_result_to_each_department_lists_its_findings(tmp_path):
    units = ["某某区教育局", "某某区自然资源局"]
    out = make_output(tmp_path / "out", units, status={"某某区自然资源局": "有错误"})
    roster = write_roster_xlsx(
        tmp_path / "名单.xlsx", [("某某区教育局", "edu@example.cn", None), ("某某区自然资源局", "zr@example.cn", None)]
    )
    r = run_cli(
        [str(out), "--roster", str(roster), "--from", SENDER, "--attach", "docx,xlsx", "--dry-run"], cwd=tmp_path
    )
    assert r.returncode == 0, r.stdout + r.stderr
    msgs = {str(x["To"].addresses[0].addr_spec): x for x in eml_messages(out).values()}
    manifest = json.loads((out / ".gkreport" / "manifest.json").read_text(encoding="utf-8"))["inputs"]
    findings = next(v["findings"] for v in manifest.values() if v["unit"] == "某某区自然资源局")
    errors = [f for f in findings if f["severity"] == "error"]
    warnings = [f for f in findings if f["severity"] == "warning"]
    assert errors and warnings

    zr = msgs["zr@example.cn"]
    assert zr["Subject"] == f"《某某区自然资源局{YEAR}年政府信息公开工作年度报告》审核结果"
    body = zr.get_body(("plain",)).get_content()
    assert body.startswith("某某区自然资源局：")
    assert f"发现 {len(errors)} 个错误、{len(warnings)} 个提示" in body
    listed = [line for line in body.splitlines() if re.match(r"\d+\. 【(错误|提示)】", line)]
    assert len(listed) == len(findings)
    assert all("【错误】" in line for line in listed[: len(errors)])  # errors first
    for f, line in zip(errors + warnings, listed):
        assert f["message"].split("（")[0] in line
    assert "（位置：表三 J6）" in body  # the cell to correct, as the clerk finds it
    assert "核对" in body and "修改" in body and "按时公开" in body
    assert "某某区政务公开办" in body

    edu = msgs["edu@example.cn"]
    assert edu["Subject"] == f"《某某区教育局{YEAR}年政府信息公开工作年度报告》审核结果"
    body = edu.get_body(("plain",)).get_content()
    assert "未发现错误和提示" in body and "【错误】" not in body and "按时公开" in body
    for x in msgs.values():
        assert "函" not in x["Subject"] and "函" not in x.get_body(("plain",)).get_content()


def test_review_needs_the_batch_records_of_the_findings(tmp_path):
    out = make_output(tmp_path / "out", ["某某区教育局"])
    roster = write_roster_xlsx(tmp_path / "名单.xlsx", [("某某区教育局", "edu@example.cn", None)])
    (out / ".gkreport" / "manifest.json").unlink()  # e.g. an output folder copied without its hidden folder
    s = settings_for(None, tmp_path)
    plan = m.plan_messages(out, s, roster=roster)
    assert plan.to_send == [] and "找不到该单位的审核意见" in plan.problems[0].message
    assert m.plan_messages(out, s, to="up@example.gov.cn").to_send  # the upward report does not list findings


def test_readme_dry_run_needs_no_sender(tmp_path):
    out = make_output(tmp_path / "out", ["某某区教育局"])
    roster = write_roster_xlsx(tmp_path / "名单.xlsx", [("某某区教育局", "edu@example.cn", None)])
    r = run_cli([str(out), "--roster", str(roster), "--dry-run"], cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    text = r.stdout.replace("\n", "")
    assert "正式发送还需要" in text and "--from" in text and "--sender-unit" in text and "--smtp-host" in text
    (msg,) = eml_messages(out).values()
    assert msg["From"].addresses[0].addr_spec == "sender@example.invalid"
    assert m.PLACEHOLDER_SENDER_UNIT in msg.get_body(("plain",)).get_content()
    # A real send says what it needs, before anything else.
    r = run_cli([str(out), "--roster", str(roster), "--smtp-host", "127.0.0.1"], cwd=tmp_path)
    assert r.returncode == 2 and "发送邮件需要" in r.stderr and "--from" in r.stderr and "Traceback" not in r.stderr


# --------------------------------------------------------------------------- deadlines and faults


def fault_args(port: int, *more: str, timeout: str = "1.5") -> list[str]:
    return [
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        str(port),
        "--security",
        "none",
        "--from",
        SENDER,
        "--interval",
        "0",
        "--retry-wait",
        "0.02",
        "--timeout",
        timeout,
        *more,
    ]


def subjects_received(server: FaultServer) -> list[str]:
    out = []
    for data in server.messages:
        msg = email.message_from_bytes(data, policy=policy.default)
        out.append(str(msg["Subject"]).split("《")[1].split(str(YEAR))[0])
    return out


def test_trickling_greeting_is_cut_off_at_the_deadline(tmp_path):
    out = make_output(tmp_path / "out", ["某某区教育局"])
    with FaultServer("trickle-greeting", faulty=5, pace=0.3) as server:
        r = run_cli([str(out), "--to", "up@example.gov.cn", *fault_args(server.port, "--retries", "0")], cwd=tmp_path)
        assert server.reached.wait(WAIT)
        sent_before_cut = server.bytes_sent
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "超时：1.5 秒内没有收到服务器的完整回复" in r.stdout + r.stderr
    assert sent_before_cut < len(b"220 slow.example ESMTP")  # cut off long before the greeting could end
    assert server.messages == [] and not (out / str(YEAR) / m.JOURNAL_NAME).read_bytes()


def test_endless_continuation_lines_are_cut_off(tmp_path):
    units = ["某某区教育局", "某某区司法局"]
    out = make_output(tmp_path / "out", units)
    with FaultServer("endless-ehlo", faulty=1) as server:
        r = run_cli([str(out), "--to", "up@example.gov.cn", *fault_args(server.port)], cwd=tmp_path)
    assert "Traceback" not in r.stderr
    assert r.returncode == 0, r.stdout + r.stderr  # the retry found the server sane again
    assert "服务器的回复超过 64 KB" in r.stdout
    assert server.bytes_sent < 64 * 1024 * 1024  # the client stopped reading, the server gave up
    assert sorted(subjects_received(server)) == sorted(units)


def test_connection_closed_before_the_final_dot_is_not_sent_and_is_retried(tmp_path):
    units = ["某某区教育局", "某某区司法局"]
    out = make_output(tmp_path / "out", units)
    with FaultServer("close-mid-data", at=0) as server:
        r = run_cli(
            [str(out), "--to", "up@example.gov.cn", "--attach", "docx,xlsx", *fault_args(server.port, timeout="10")],
            cwd=tmp_path,
        )
        assert server.reached.wait(WAIT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "结果不确定" not in r.stdout and "Traceback" not in r.stderr
    assert sorted(subjects_received(server)) == sorted(units)  # each exactly once
    assert server.final_dots == 2
    events = journal_events(out)
    first = [e for e in events if e["unit"] == units[0]]
    assert [e["event"] for e in first if e["event"] in ("failed", "sent", "unknown")] == ["failed", "sent"]
    assert "邮件未发出" in next(e for e in first if e["event"] == "failed")["reply"]


def test_no_answer_to_the_final_dot_is_uncertain_and_reported_as_a_timeout(tmp_path):
    units = ["某某区教育局", "某某区司法局"]
    out = make_output(tmp_path / "out", units)
    with FaultServer("no-final-reply", at=0) as server:
        r = run_cli([str(out), "--to", "up@example.gov.cn", *fault_args(server.port)], cwd=tmp_path)
        again = run_cli([str(out), "--to", "up@example.gov.cn", *fault_args(server.port)], cwd=tmp_path)
    assert "Traceback" not in r.stderr + again.stderr
    assert r.returncode == 1
    assert "结果不确定" in r.stdout and "超时：1.5 秒内没有收到服务器的完整回复" in r.stdout
    assert server.final_dots == 2  # the rerun does not send the uncertain one again
    assert again.returncode == 1 and "--resend-uncertain" in again.stdout
    assert [e["event"] for e in journal_events(out) if e["unit"] == units[0]] == ["attempt", "data-end", "unknown"]


def test_summary_does_not_count_an_uncertain_message_as_not_sent(tmp_path):
    units = ["某某区教育局", "某某区司法局"]
    out = make_output(tmp_path / "out", units)
    with FaultServer("no-final-reply", at=0) as server:
        r = run_cli([str(out), "--to", "up@example.gov.cn", *fault_args(server.port)], cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert server.final_dots == 2 and len(server.messages) == 2  # the server did get the first one
    summary = r.stdout[r.stdout.index("本次发送") :]
    assert "本次发送 1 封" in summary and "结果不确定 1 封" in summary and "未发出 0 封" in summary, summary
    assert "--resend-uncertain" in summary


def test_a_plan_made_before_another_run_left_a_message_uncertain_does_not_resend_it(tmp_path):
    units = ["某某区教育局", "某某区司法局"]
    out = make_output(tmp_path / "out", units)
    box = Box()
    with smtp_server(box) as port:
        s = settings_for(port, tmp_path)
        plan = m.plan_messages(out, s, to="up@example.gov.cn")  # e.g. a second window, planned first
        assert [pm.status for pm in plan.messages] == [m.SEND, m.SEND]
        with FaultServer("no-final-reply", at=0) as server:  # meanwhile another run sends
            r = run_cli([str(out), "--to", "up@example.gov.cn", *fault_args(server.port)], cwd=tmp_path)
        assert r.returncode == 1 and "结果不确定" in r.stdout
        assert subjects_received(server) == units  # the server did get the uncertain one
        result = m.send_plan(plan, s)
    assert box.messages == []  # neither is sent a second time
    assert [o.result for o in result.outcomes] == [m.Delivery.UNCERTAIN, m.SENT_OK]
    assert "同时运行的另一次发送" in result.outcomes[0].detail and "--resend-uncertain" in result.outcomes[0].detail
    assert all(o.other_run for o in result.outcomes)  # neither is this run's doing
    assert not result.all_sent


def tls_server_args(box: Box, tmp_path: Path) -> tuple[dict, list[str]]:
    """A STARTTLS server that wants a login (gk / PASSWORD), and the sender's options for it."""
    import ssl

    cert, key = make_self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"gk" and auth_data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)

    server = {"tls_context": ctx, "require_starttls": True, "authenticator": authenticator, "auth_required": True}
    return server, ["--security", "starttls", "--smtp-user", "gk", "--cafile", str(cert)]


def test_closing_counts_are_this_runs_own_when_another_run_sends_meanwhile(tmp_path):
    # One window asks for the password (its plan made) while a colleague's run sends two of the
    # three units; the closing counts of the first say what it sent itself, and the rest apart.
    pty = pytest.importorskip("pty")
    units = ["某某区甲局", "某某区乙局", "某某区丙局"]
    out = make_output(tmp_path / "out", units)
    everyone = write_roster_xlsx(tmp_path / "名单.xlsx", [(u, addr_of(u), None) for u in units])
    two = write_roster_xlsx(tmp_path / "名单2.xlsx", [(u, addr_of(u), None) for u in units[:2]])
    box = Box()
    tls, login = tls_server_args(box, tmp_path)
    with smtp_server(box, **tls) as port:
        common = [*smtp_args(port), *login]
        env = {k: v for k, v in os.environ.items() if k != m.PASSWORD_ENV}
        env.update(COLUMNS="250", PYTHONIOENCODING="utf-8")
        master, slave = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-m", "gkreport", "mail", str(out), "--roster", str(everyone), *common],
            cwd=tmp_path,
            env=env,
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # no terminal of its own: the password is read from stdin, the pty
        )
        os.close(slave)
        seen = bytearray()
        asked = threading.Event()

        def read() -> None:
            while chunk := proc.stdout.read1(4096):
                seen.extend(chunk)
                if "SMTP 密码".encode() in seen:
                    asked.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            if not asked.wait(WAIT):
                proc.kill()
                pytest.fail(f"the sender never asked for the password:\n{seen.decode()}")
            other = run_cli([str(out), "--roster", str(two), *common], cwd=tmp_path, password=PASSWORD)
            assert other.returncode == 1, other.stdout + other.stderr  # 丙局 is not in its roster
            assert "本次发送 2 封" in other.stdout
            os.write(master, PASSWORD.encode() + b"\n")
            proc.wait(WAIT)
            reader.join(WAIT)
            stderr = proc.stderr.read().decode()
        finally:
            if proc.poll() is None:
                proc.kill()
            os.close(master)
    stdout = seen.decode()
    assert proc.returncode == 0, stdout + stderr
    assert "Traceback" not in stderr
    assert_exactly_once(box.messages, units)
    summary = stdout[stdout.index("本次发送") :]
    assert "本次发送 1 封" in summary and "未发出 0 封" in summary, summary
    assert "另有 2 封已由同时运行的另一次发送发出，这次没有重复发送" in summary, summary
    table = stdout[stdout.index("发送结果") : stdout.index("本次发送")]
    assert table.count("同时运行的另一次发送已发出") == 2
    assert PASSWORD not in stdout + stderr


def test_display_name_with_a_comma_is_accepted(tmp_path):
    out = make_output(tmp_path / "out", ["某某区教育局"])
    roster = write_roster_xlsx(
        tmp_path / "名单.xlsx", [("某某区教育局", '"Li, Si" <li@example.gov.cn>；王五 <w@example.cn>', None)]
    )
    box = Box()
    with smtp_server(box) as port:
        r = run_cli([str(out), "--roster", str(roster), *smtp_args(port)], cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    (x,) = box.messages
    assert x.rcpt == ["li@example.gov.cn", "w@example.cn"]
    assert [(a.display_name, a.addr_spec) for a in x.msg["To"].addresses] == [
        ("Li, Si", "li@example.gov.cn"),
        ("王五", "w@example.cn"),
    ]


# --------------------------------------------------------------------------- stopping


def wait_for(proc: subprocess.Popen, event: threading.Event) -> None:
    if not event.wait(WAIT):
        proc.kill()
        out, err = proc.communicate(timeout=WAIT)
        pytest.fail(f"the sender never reached the fault:\n{out.decode()}\n{err.decode()}")


def test_sigterm_waits_for_the_answer_to_the_final_dot(tmp_path):
    units = ["某某区甲局", "某某区乙局", "某某区丙局"]
    out = make_output(tmp_path / "out", units)
    with FaultServer("hold-final-reply", at=1) as server:
        proc = run_cli(
            [str(out), "--to", "up@example.gov.cn", *fault_args(server.port, timeout="20")], cwd=tmp_path, wait=False
        )
        wait_for(proc, server.reached)  # the second message is on the server, its answer held back
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        still_waiting = proc.poll() is None
        server.release.set()  # now the server answers 250
        stdout, stderr = (b.decode() for b in proc.communicate(timeout=WAIT))
        assert still_waiting
        assert proc.returncode == 143, stdout + stderr
        assert "Traceback" not in stderr and "收到停止信号（SIGTERM）" in stderr
        events = journal_events(out)
        assert [e["unit"] for e in events if e["event"] == "sent"] == units[:2]
        assert not any(e["event"] == "unknown" for e in events)
        assert subjects_received(server) == units[:2]
        r = run_cli([str(out), "--to", "up@example.gov.cn", *fault_args(server.port)], cwd=tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
    assert subjects_received(server) == units  # each exactly once


def test_sigint_aborts_the_transaction_before_the_final_dot(tmp_path):
    units = ["某某区甲局", "某某区乙局", "某某区丙局"]
    out = make_output(tmp_path / "out", units)
    with FaultServer("hold-354", at=1) as server:
        proc = run_cli(
            [str(out), "--to", "up@example.gov.cn", *fault_args(server.port, timeout="20")], cwd=tmp_path, wait=False
        )
        wait_for(proc, server.reached)  # the second message waits for the answer to DATA
        proc.send_signal(signal.SIGINT)
        stdout, stderr = (b.decode() for b in proc.communicate(timeout=WAIT))
        server.release.set()
        assert proc.returncode == 130, stdout + stderr
        assert "Traceback" not in stderr and "收到停止信号（SIGINT）" in stderr
        events = journal_events(out)
        second = [e["event"] for e in events if e["unit"] == units[1]]
        assert second == ["attempt", "failed"]  # not sent, and said so
        assert "在发送结束符之前中止" in events[-1]["reply"]
        assert subjects_received(server) == units[:1] and server.final_dots == 1
        r = run_cli([str(out), "--to", "up@example.gov.cn", *fault_args(server.port)], cwd=tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
    assert subjects_received(server) == units


# --------------------------------------------------------------------------- full disk


@pytest.fixture
def tmpfs(tmp_path):
    folder = tmp_path / "tmpfs"
    folder.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)], capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"mounting a small tmpfs is not allowed here: {r.stderr.strip() or r.returncode}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill(folder: Path) -> list[Path]:
    """Fill the file system with 4 KB files (one page each) until it is full."""
    pieces = []
    for i in range(100000):
        p = folder / f"填充{i:05d}"
        try:
            p.write_bytes(b"\0" * 4096)
        except OSError:
            p.unlink(missing_ok=True)
            return pieces
        pieces.append(p)
    raise AssertionError("the file system never filled up")


def test_journal_on_a_full_disk_tells_the_truth_and_the_rerun_completes(tmp_path, tmpfs):
    units = [f"某某区第{i}局" for i in range(1, 6)]
    out = make_output(tmpfs / "out", units)
    filler = fill(tmpfs / "out")
    box = Box()
    with smtp_server(box) as port:
        # Full: nothing can be recorded, so nothing is sent.
        r = run_cli([str(out), "--to", "up@example.gov.cn", *smtp_args(port)], cwd=tmp_path)
        assert r.returncode == 1 and "Traceback" not in r.stderr
        assert "磁盘空间不足" in r.stderr and str(out / str(YEAR)) in r.stderr
        assert box.messages == [] and box.mail_commands == 0

        dry = run_cli([str(out), "--to", "up@example.gov.cn", "--from", SENDER, "--dry-run"], cwd=tmp_path)
        assert dry.returncode == 1 and "磁盘空间不足" in dry.stderr and "Traceback" not in dry.stderr
        assert not list((out / "outbox").glob("*.eml"))  # no half-written outbox

        # Room for the reserve and one page of journal: the disk fills up while sending.
        for p in filler[: m.RESERVE_BYTES // 4096 + 1]:
            p.unlink()
        r = run_cli([str(out), "--to", "up@example.gov.cn", *smtp_args(port)], cwd=tmp_path)
        assert r.returncode == 1 and "Traceback" not in r.stderr
        assert "磁盘空间不足" in r.stderr and "已在发完当前邮件后停止" in r.stderr
        got = sorted(x.unit for x in box.messages)
        assert 0 < len(got) < len(units)
        events = m.Journal(out / str(YEAR) / m.JOURNAL_NAME).read()
        assert sorted(e["unit"] for e in events if e["event"] == "sent") == got  # exactly what the server got
        assert not any(e["event"] in ("unknown",) for e in events)
        state = m.journal_state(events)
        assert all(st.state == "sent" for st in state.values())

        # Space freed: the rerun sends the rest, each unit once.
        for p in filler:
            p.unlink(missing_ok=True)
        r = run_cli([str(out), "--to", "up@example.gov.cn", *smtp_args(port)], cwd=tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
    assert_exactly_once(box.messages, units)
    assert not (out / str(YEAR) / m.RESERVE_NAME).exists()


def test_read_only_output_folder_is_said_plainly(tmp_path, tmpfs):
    out = make_output(tmpfs / "out", ["某某区教育局"])
    r = subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"remounting read-only is not allowed here: {r.stderr.strip()}")
    box = Box()
    with smtp_server(box) as port:
        sent = run_cli([str(out), "--to", "up@example.gov.cn", *smtp_args(port)], cwd=tmp_path)
    dry = run_cli([str(out), "--to", "up@example.gov.cn", "--dry-run"], cwd=tmp_path)
    for x in (sent, dry):
        assert x.returncode == 1 and "Traceback" not in x.stderr, x.stdout + x.stderr
        assert "只读" in x.stderr
    assert str(out / str(YEAR)) in sent.stderr and str(out / "outbox") in dry.stderr
    assert box.mail_commands == 0
