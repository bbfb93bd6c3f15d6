"""Mail the generated reports: plan, build, send exactly once, keep a journal.

Flow: ``load_settings`` (defaults ← ``gkreport.toml`` ← command line) →
``plan_messages`` (reads ``<year>/审核报告.json``, the batch's manifest for the
findings, the roster and the journal; finds every problem before any
connection) → ``write_outbox`` (dry run) or ``send_plan`` (SMTP).

Direction
---------
``--to`` sends every unit's report upward (报送). ``--roster`` returns to each
department its own report with the review result (审核结果): the body lists
the department's open errors and warnings as the batch recorded them and says
what to do (核对、修改、按时公开). Each direction has its own default wording
(``templates/mail.toml``). A dry run needs no sender: it writes placeholders
and says what a real send will need.

Which report goes to whom
-------------------------
A message belongs to the unit the batch recorded for an input (unit, year and
outputs in ``审核报告.json``), never to a name folded from a folder. Roster
names are matched to those units by :func:`gkreport.roster.match_names`
(exact, or exact after normalisation when no other unit shares the normalised
name; a near name only yields a ``是否为…？`` question). Two units whose
recorded outputs are the same file (names that differ only in characters a
file name cannot hold) get nothing: which unit the file belongs to cannot be
known. A unit whose workbook changed or left the input folder since the batch
(the SHA-256 the manifest recorded) gets nothing either: its report and review
are no longer its workbook's. Unit names reach headers, file names and bodies
only through :func:`gkreport.roster.clean_line`, so control characters (U+2028, U+0085,
\\x0c, \\x1c–\\x1e, CR/LF) cannot break them; a message that still cannot be
built is reported and the others go on.

A file the batch wrote and someone changed since (its SHA-256 is not the one
the manifest recorded: a report edited in Word) is the staff's version and is
sent, but the plan, the dry run and the results say so and the journal marks
it ``hand_edited``; a copy changed by hand that a later batch kept aside
(``…（手工修改）.docx``) is named, with what is sent instead. A .docx or .xlsx
that cannot be opened as one (cut short, damaged, an old or protected format,
Word's ``~$`` owner file) is never sent: the unit gets nothing and the file is named.

Exactly once
------------
The journal ``<year>/邮件发送记录.jsonl`` is append-only; every line is one
JSON event and is fsynced before the next SMTP step. For each try of a message:

1. ``attempt``  – written before ``MAIL FROM``;
2. ``data-end`` – written after the whole message body has been transmitted and
   immediately *before* the terminating ``<CRLF>.<CRLF>``;
3. ``sent``     – written after the server answered 250 to the end of data,
   or ``failed`` (the server refused, or the try ended before the final dot:
   nothing was delivered), or ``unknown`` (no answer to the final dot).

Until the terminating dot is written the server cannot have accepted the
message, so a try without ``data-end`` is safely resent, and so is one that
the server closed or answered before the dot. A ``sent`` line is only written
after the 250 reply, so it is never claimed falsely. What remains is the
window RFC 1047 describes: between writing the final dot and receiving the
answer the connection may break. Such a try ends as ``unknown`` (or
``data-end`` without outcome when the process was killed); the next run does
not resend it but reports it as 结果不确定, and ``--resend-uncertain`` sends it
again after the user has checked with the recipient. The resent message
carries the same ``Message-ID``, so mail systems that deduplicate can drop the
copy.

A full disk cannot make the journal lie: before connecting, a small reserve
file is written beside the journal (no room: nothing is sent). When a journal
line cannot be written, the reserve is released so that the transaction in
progress can still be recorded, and sending stops after it.

State is kept per (unit, recipient address) and remembers the hashes of the
files sent, so a new recipient added to the roster gets the message alone,
and a changed file is only sent again with ``resend_changed``.

Deadlines and stopping
----------------------
``timeout`` bounds each command and each reply as a whole, not the silence
between two packets: a server trickling one byte a second, or sending endless
``250-`` lines, is cut off; a reply is at most 64 KB. The message content has
``timeout`` plus one second per 8 KB. SIGINT or SIGTERM while sending lets the
transaction in progress end properly: before the final dot it is aborted (not
sent), after it the answer is awaited (sent or refused); then sending stops.
A second signal stops at once.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import posixpath
import re
import select
import signal
import smtplib
import socket
import ssl
import string
import threading
import time
import tomllib
import unicodedata
import uuid
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from email import policy as email_policy
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime, parseaddr
from enum import StrEnum
from importlib import resources
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import quote

from .enums import Severity, Status
from .errors import MailError
from .fileio import FolderBusy, atomic_write_bytes, command_line, folder_lock, os_reason, unchanged_by_stamp
from .formatting import format_date, safe_filename, shown_name
from .roster import RosterError, clean_line, match_names, name_key, read_roster, split_addresses

AUDIT_NAME = "审核报告.json"
MANIFEST_PATH = Path(".gkreport") / "manifest.json"
JOURNAL_NAME = "邮件发送记录.jsonl"
LOCK_NAME = ".邮件发送记录.lock"
RESERVE_NAME = ".邮件发送记录.reserve"
RESERVE_BYTES = 32 * 1024  # room to finish one transaction's journal lines when the disk fills up
OUTBOX_NAME = "outbox"
CONFIG_NAME = "gkreport.toml"
PASSWORD_ENV = "GKREPORT_SMTP_PASSWORD"
JOURNAL_VERSION = 1

KINDS = ("docx", "xlsx", "pdf")
KIND_ZH = {"docx": "Word 报告", "xlsx": "Excel 表格", "pdf": "PDF 文件"}
MIME_TYPES = {
    "docx": ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "pdf": ("application", "pdf"),
}
SENDABLE_STATUSES = (Status.PASSED, Status.EXPLAINED, Status.WARNINGS, Status.ERRORS)
DUPLICATE_STATUS = Status.DUPLICATE
SECURITY_MODES = ("ssl", "starttls", "none")
DEFAULT_PORTS = {"ssl": 465, "starttls": 587, "none": 25}

# Directions: --to sends upward (报送), --roster returns each department its review result (审核结果).
REPORT = "report"
REVIEW = "review"
DIRECTION_ZH = {REPORT: "报送", REVIEW: "审核结果"}

PLACEHOLDERS = {
    "unit": "单位名称",
    "year": "年度",
    "sender_unit": "发件单位",
    "files": "附件清单",
    "file_count": "附件个数",
    "date": "发送日期",
    "result": "审核结论",
    "findings": "错误和提示清单",
    "advice": "请单位做什么",
}
_REVIEW_FIELDS = {"result", "findings", "advice"}

# What a dry run writes where the sender is not set yet.
PLACEHOLDER_SENDER = Address(display_name="【发件人】", addr_spec="sender@example.invalid")
PLACEHOLDER_SENDER_UNIT = "【发件单位】"


class PlanStatus(StrEnum):
    """What the plan does with a message (shown to the user as it is)."""

    SEND = "待发送"
    DONE = "已发送"
    CHANGED = "文件已变更"
    UNCERTAIN = "结果不确定"
    BLOCKED = "不发送"


SEND, DONE, CHANGED, UNCERTAIN, BLOCKED = PlanStatus

# Header values written by this module are emitted verbatim (see _attachment_part).
_POLICY = email_policy.SMTP.clone(refold_source="none")


class ConfigError(MailError):
    pass


class JournalError(MailError):
    """The journal (or its reserve) cannot be written; sending stops."""

    def __init__(self, message: str):
        super().__init__(message, exit_code=1)


# --------------------------------------------------------------------------- text helpers


_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDR_SPEC = re.compile(rf"^{_LOCAL}@{_LABEL}(?:\.{_LABEL})*\.(?:[A-Za-z]{{2,63}}|xn--[A-Za-z0-9-]{{1,59}})$")


def parse_address(text: str) -> Address:
    """Parse one address (optionally ``名称 <addr>`` or ``"Li, Si" <addr>``); full-width characters are folded.

    Raises ValueError with a Chinese message when it is not a usable address.
    """
    raw = unicodedata.normalize("NFKC", clean_line(text))
    name, addr = parseaddr(raw)
    if not addr or not _ADDR_SPEC.match(addr) or len(addr) > 254:
        raise ValueError(f"“{clean_line(text)}”不是有效的邮箱地址")
    try:
        return Address(display_name=name, addr_spec=addr)
    except (ValueError, IndexError, TypeError) as exc:  # header parser edge cases
        raise ValueError(f"“{clean_line(text)}”不是有效的邮箱地址") from exc


def _body_text(text: str) -> str:
    """A message body: each line cleaned of control characters, at most one blank line in a row."""
    lines = [clean_line(line) for line in re.split(r"\r\n|\r|\n", text)]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip("\n")


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


# --------------------------------------------------------------------------- settings


def _default_templates() -> dict[str, str]:
    text = resources.files("gkreport").joinpath("templates", "mail.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return {
        f"{direction}_{part}": data[direction][part] for direction in (REPORT, REVIEW) for part in ("subject", "body")
    }


def check_template(template: str, what: str) -> None:
    """Reject unknown placeholders and malformed braces with a Chinese message."""
    allowed = "、".join(f"{{{k}}}（{v}）" for k, v in PLACEHOLDERS.items())
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        raise ConfigError(
            f"邮件{what}模板的花括号不成对。占位符写成 {{unit}} 这样的形式；花括号本身请写成 {{{{ 或 }}}}。"
        ) from None
    for _literal, name, spec, _conv in parsed:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            shown = f"{{{name}}}" if name else "{}"
            raise ConfigError(f"邮件{what}模板中的占位符 {shown} 无法识别。可用的占位符：{allowed}。")
        if spec and ("{" in spec):
            raise ConfigError(f"邮件{what}模板中的占位符 {{{name}}} 写法不对。可用的占位符：{allowed}。")


def _template_fields(template: str) -> set[str]:
    return {name for _l, name, _s, _c in string.Formatter().parse(template) if name}


_PASSWORD_KEYS = re.compile(r"password|passwd|^(smtp_)?(pass|pwd)$|密码|口令", re.IGNORECASE)


def _find_password_keys(data: Any, prefix: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(data, dict):
        for k, v in data.items():
            path = f"{prefix}.{k}" if prefix else str(k)
            if _PASSWORD_KEYS.search(str(k)):
                found.append(path)
            found.extend(_find_password_keys(v, path))
    elif isinstance(data, list):
        for v in data:
            found.extend(_find_password_keys(v, prefix))
    return found


CONFIG_KEYS = {
    "smtp_host": "SMTP 服务器地址",
    "smtp_port": "SMTP 端口",
    "security": "加密方式 ssl / starttls / none",
    "smtp_user": "登录用户名",
    "from": "发件人邮箱",
    "sender_unit": "发件单位名称",
    "cafile": "信任的 CA 证书文件",
    "subject": "邮件主题模板（两个方向都用）",
    "body": "邮件正文模板（两个方向都用）",
    "report_subject": "--to（报送）的邮件主题模板",
    "report_body": "--to（报送）的邮件正文模板",
    "review_subject": "--roster（审核结果）的邮件主题模板",
    "review_body": "--roster（审核结果）的邮件正文模板",
    "attach": "附件类型",
    "interval": "两封邮件之间的间隔秒数",
    "retries": "临时错误的重试次数",
    "retry_wait": "第一次重试前等待的秒数",
    "timeout": "每条命令等待服务器回复的最长秒数",
}
_TEMPLATE_KEYS = ("report_subject", "report_body", "review_subject", "review_body")


def load_config(path: Path | str | None = None, cwd: Path | str | None = None) -> tuple[dict[str, Any], Path | None]:
    """Read the ``[mail]`` table of ``gkreport.toml``.

    ``path`` given: it must exist. Otherwise ``cwd/gkreport.toml`` is used when
    present. Returns (table, file used). Other tables belong to other commands
    and are ignored, except that a password key anywhere is refused.
    """
    if path is not None:
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"找不到配置文件：{file}")
    else:
        file = Path(cwd or Path.cwd()) / CONFIG_NAME
        if not file.is_file():
            return {}, None
    try:
        data = tomllib.loads(file.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError(f"配置文件 {file} 不是 UTF-8 编码，请另存为 UTF-8。") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"配置文件 {file} 格式有误：{exc}") from None
    except OSError as exc:
        raise ConfigError(f"无法读取配置文件 {file}（{exc.strerror or exc.__class__.__name__}）。") from None
    bad = _find_password_keys(data)
    if bad:
        raise ConfigError(
            f"配置文件 {file} 中不能保存密码（{'、'.join(bad)}）。"
            f"请删除这一项，改用环境变量 {PASSWORD_ENV}，或在运行时按提示输入密码。"
        )
    table = data.get("mail", {})
    if not isinstance(table, dict):
        raise ConfigError(f"配置文件 {file} 中的 mail 应是一个表：[mail]")
    unknown = sorted(set(table) - set(CONFIG_KEYS))
    if unknown:
        known = "、".join(CONFIG_KEYS)
        raise ConfigError(f"配置文件 {file} 的 [mail] 中有无法识别的项：{'、'.join(unknown)}。可用的项：{known}。")
    table = dict(table)
    if "cafile" in table and isinstance(table["cafile"], str):
        table["cafile"] = str((file.parent / table["cafile"]).resolve())
    return table, file


def parse_kinds(value: str | Iterable[str]) -> tuple[str, ...]:
    items = re.split(r"[,，、;；\s]+", value) if isinstance(value, str) else list(value)
    kinds = []
    for item in items:
        k = str(item).strip().lower().lstrip(".")
        if not k:
            continue
        if k not in KINDS:
            raise ConfigError(f"附件类型“{item}”无法识别，可选：docx、xlsx、pdf（用逗号分隔）。")
        if k not in kinds:
            kinds.append(k)
    if not kinds:
        raise ConfigError("请至少选择一种附件类型：docx、xlsx、pdf。")
    return tuple(kinds)


@dataclass
class MailSettings:
    """Everything the command needs except the password (which is never stored)."""

    smtp_host: str | None = None
    smtp_port: int | None = None
    security: str = "starttls"
    smtp_user: str | None = None
    from_addr: str | None = None
    sender_unit: str | None = None
    cafile: Path | None = None
    report_subject: str = ""
    report_body: str = ""
    review_subject: str = ""
    review_body: str = ""
    attach: tuple[str, ...] = ("docx",)
    interval: float = 2.0
    retries: int = 3
    retry_wait: float = 5.0
    timeout: float = 60.0
    config_file: Path | None = None

    @property
    def port(self) -> int:
        return self.smtp_port or DEFAULT_PORTS[self.security]

    def templates(self, direction: str) -> tuple[str, str]:
        """(subject, body) templates for ``REPORT`` (--to) or ``REVIEW`` (--roster)."""
        return getattr(self, f"{direction}_subject"), getattr(self, f"{direction}_body")

    @property
    def sender(self) -> Address:
        if not self.from_addr:
            raise ConfigError("请用 --from 或 gkreport.toml 的 [mail] from 指定发件人邮箱。")
        try:
            addr = parse_address(self.from_addr)
        except ValueError as exc:
            raise ConfigError(f"发件人{exc}。") from None
        name = addr.display_name or (self.sender_unit or "")
        return Address(display_name=clean_line(name), addr_spec=addr.addr_spec)

    def missing_for_sending(self, direction: str, *, connection: bool = True) -> list[str]:
        """What a real send still needs (a dry run writes placeholders instead); ``connection``:
        the server too, not only what the messages need."""
        missing = []
        if not self.from_addr:
            missing.append("--from（发件人邮箱）")
        if not self.sender_unit and "sender_unit" in set().union(*map(_template_fields, self.templates(direction))):
            missing.append(
                '--sender-unit（发件单位，正文落款；也可写在 --from 中，如 "某某区政务公开办 <gk@example.gov.cn>"）'
            )
        if connection and not self.smtp_host:
            missing.append("--smtp-host（SMTP 服务器）")
        return missing

    def check_for_sending(self) -> None:
        """Settings needed to connect (a dry run does not need them)."""
        if not self.smtp_host:
            raise ConfigError("请用 --smtp-host 或 gkreport.toml 的 [mail] smtp_host 指定 SMTP 服务器。")
        if self.smtp_user and self.security == "none":
            raise ConfigError(
                "未加密的连接（--security none）不能登录，否则密码会以明文传输。"
                "请改用 --security ssl 或 --security starttls。"
            )
        self.sender  # noqa: B018 - validates


def _typed(key: str, value: Any) -> Any:
    """Convert and check one setting; raises ConfigError in Chinese."""
    what = CONFIG_KEYS.get(key, key)
    try:
        if key == "smtp_port":
            v = int(value)
            if not 0 < v < 65536:
                raise ValueError
            return v
        if key in ("interval", "retry_wait", "timeout"):
            seconds = float(value)
            if seconds < 0 or seconds != seconds or seconds > 86400 or (key == "timeout" and seconds == 0):
                raise ValueError
            return seconds
        if key == "retries":
            v = int(value)
            if not 0 <= v <= 20:
                raise ValueError
            return v
    except (TypeError, ValueError):
        raise ConfigError(f"{what}的值“{value}”不正确。") from None
    if key == "security":
        mode = str(value).strip().lower()
        if mode not in SECURITY_MODES:
            raise ConfigError(f"加密方式“{value}”无法识别，可选：ssl、starttls、none。")
        return mode
    if key == "attach":
        return parse_kinds(value)
    if key == "cafile":
        p = Path(value)
        if not p.is_file():
            raise ConfigError(f"找不到证书文件：{p}")
        return p
    if not isinstance(value, str):
        raise ConfigError(f"{what}应是文字，现在是“{value}”。")
    return value


def load_settings(
    config: Path | str | None = None,
    *,
    cwd: Path | str | None = None,
    overrides: dict[str, Any] | None = None,
) -> MailSettings:
    """Defaults ← config file ``[mail]`` ← ``overrides`` (command line; None = not given).

    ``subject``/``body`` set the wording of both directions; ``report_*``/``review_*``
    one direction (a later layer wins; within a layer the direction's own key wins).
    """
    table, used = load_config(config, cwd)
    s = MailSettings(config_file=used)
    for layer in (_default_templates(), table, overrides or {}):
        items = [(k, v) for k, v in layer.items() if v is not None]
        items.sort(key=lambda kv: kv[0] not in ("subject", "body"))  # the shared keys first
        for key, value in items:
            if key not in CONFIG_KEYS:
                raise ConfigError(f"未知的设置：{key}")
            typed = _typed(key, value)
            if key in ("subject", "body"):
                for direction in (REPORT, REVIEW):
                    setattr(s, f"{direction}_{key}", typed)
            else:
                setattr(s, "from_addr" if key == "from" else key, typed)
    for direction in (REPORT, REVIEW):
        subject, body = s.templates(direction)
        what = f"（{DIRECTION_ZH[direction]}）"
        check_template(subject, "主题" + what)
        check_template(body, "正文" + what)
        if "\n" in subject.strip() or "\r" in subject.strip():
            raise ConfigError(f"邮件主题模板{what}只能有一行。")
        setattr(s, f"{direction}_subject", subject.strip())
    if s.from_addr:
        sender = s.sender
        if not s.sender_unit and sender.display_name:
            s.sender_unit = sender.display_name
    return s


# --------------------------------------------------------------------------- inputs


@dataclass
class UnitRecord:
    """One entry of ``审核报告.json``; ``unit`` is "" for a file whose unit could not be read."""

    unit: str
    year: int
    status: str
    errors: int = 0
    warnings: int = 0
    outputs: dict[str, str | None] = field(default_factory=dict)
    reason: str | None = None
    input: str = ""
    # outputs changed by hand after the batch wrote them, which a later batch kept aside before writing
    # them anew: {"file", "kept_as"}, relative to the year folder
    kept_aside: list[dict[str, str]] = field(default_factory=list)


def choose_year(output_dir: Path | str, year: int | None = None) -> tuple[int, Path, str | None]:
    """Return (year, year folder, note for the user or None)."""
    out = Path(output_dir)
    if not out.is_dir():
        raise MailError(f"找不到输出文件夹：{out}")
    if year is not None:
        ydir = out / str(year)
        if not (ydir / AUDIT_NAME).is_file():
            raise MailError(f"在 {out} 中没有 {year} 年的输出（缺少 {year}/{AUDIT_NAME}），请先生成报告。")
        return year, ydir, None
    years = sorted(
        int(p.name)
        for p in out.iterdir()
        if p.is_dir() and re.fullmatch(r"\d{4}", p.name) and (p / AUDIT_NAME).is_file()
    )
    if not years:
        raise MailError(f"在 {out} 中找不到任何年度的输出（形如 2025/{AUDIT_NAME}），请先生成报告。")
    note = None
    if len(years) > 1:
        note = f"输出文件夹中有多个年度（{'、'.join(map(str, years))}），使用最新的 {years[-1]} 年；如需其他年度请用 --year。"
    return years[-1], out / str(years[-1]), note


def read_audit(year_dir: Path) -> list[UnitRecord]:
    path = Path(year_dir) / AUDIT_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        units = data["units"]
        year = int(data["year"])
        records = []
        aside: dict[str, list[dict[str, str]]] = defaultdict(list)  # the run's list: by unit
        for e in data.get("hand_edited") or ():
            if isinstance(e, dict) and e.get("unit"):
                aside[str(e["unit"]).strip()].append(e)
        for u in units:
            records.append(
                UnitRecord(
                    unit=str(u.get("unit") or "").strip(),
                    year=int(u.get("year") or year),
                    status=str(u.get("status") or ""),
                    errors=int(u.get("errors") or 0),
                    warnings=int(u.get("warnings") or 0),
                    outputs=dict(u.get("outputs") or {}),
                    reason=u.get("reason"),
                    input=str(u.get("input") or ""),
                )
            )
            rec = records[-1]
            rec.kept_aside = [
                {"file": str(e["file"]), "kept_as": str(e["kept_as"])}
                for e in [*(u.get("hand_edited") or ()), *aside.get(rec.unit, ())]
                if isinstance(e, dict) and e.get("file") and e.get("kept_as")
            ]
    except FileNotFoundError:
        raise MailError(f"找不到 {path}，请先生成报告。") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MailError(f"无法读取 {path}：文件内容不完整或格式不对（{exc.__class__.__name__}）。") from None
    return records


def read_manifest(output_dir: Path) -> tuple[dict[str, dict[str, Any]] | None, str | None]:
    """(the batch's record of each input (unit, year, status, hash, findings) by input path, the input
    folder the batch read); None for what cannot be read."""
    path = Path(output_dir) / MANIFEST_PATH
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        inputs = data["inputs"]
        folder = data.get("input_path")
        folder = folder if isinstance(folder, str) and folder else None
        if not isinstance(inputs, dict):
            return None, folder
        return {k: v for k, v in inputs.items() if isinstance(v, dict)}, folder
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
        return None, None


def _input_changed(input_dir: Path, rec: UnitRecord, entry: dict[str, Any] | None) -> str | None:
    """Why this unit's outputs may no longer be its workbook's (changed or gone since the batch), or None."""
    path = _safe_relative(input_dir, rec.input) if rec.input else None
    if entry is None or not entry.get("hash") or path is None:
        return None
    shown = clean_line(shown_name(rec.input))
    if unchanged_by_stamp(path, entry.get("input_stamp")):
        return None
    try:
        with open(path, "rb") as fh:
            if hashlib.file_digest(fh, "sha256").hexdigest() == entry["hash"]:
                return None
    except FileNotFoundError:
        return (
            f"统计表 {shown} 已不在输入文件夹 {clean_line(str(input_dir))} 中（生成报告之后被移走或删除），"
            "报告可能已不是该单位现在的材料；请重新运行 batch 后再发送"
        )
    except OSError as exc:
        return (
            f"无法读取统计表 {shown}（{os_reason(exc)}），无法核对报告是否按现在的统计表生成；"
            "请处理后重新运行 batch 再发送"
        )
    return f"统计表 {shown} 在生成报告之后又修改过，报告和审核结果不是按现在的统计表生成的；请重新运行 batch 后再发送"


_TABLE_SHEET = re.compile(r"^([一二三四五六七八九十]+)、")
FINDINGS_LISTED = 100  # at most this many in a body; the rest are counted


def _finding_place(f: dict[str, Any]) -> str:
    """Where a finding is, as a clerk finds it: ``表三 J29`` (the suspect cell when known)."""
    cells = [str(c) for c in f.get("cells") or []]
    ids = list(f.get("cell_ids") or [])
    ref = None
    if f.get("suspect") and f["suspect"] in ids and len(ids) == len(cells):
        ref = cells[ids.index(f["suspect"])]
    elif cells:
        ref = cells[0] + ("等" if len(cells) > 1 else "")
    if not ref:
        return ""
    sheet, _, a1 = ref.rpartition("!")
    m = _TABLE_SHEET.match(sheet)
    return f"{'表' + m.group(1) if m else sheet} {a1}".strip()


def findings_text(findings: list[dict[str, Any]], *, xlsx_attached: bool) -> str:
    """The numbered list of a unit's findings, errors first, as the body's ``{findings}``."""
    ordered = sorted(findings, key=lambda f: f.get("severity") != "error")
    lines = []
    for i, f in enumerate(ordered[:FINDINGS_LISTED], 1):
        text = clean_line(f.get("message") or "")
        if f.get("title"):
            text = f"{clean_line(f['title'])}：{text}"
        note = clean_line(f.get("note") or "")
        if note and note not in text:
            text += f"（{note}）"
        place = _finding_place(f)
        severity = (Severity.parse(f.get("severity")) or Severity.WARNING).zh
        lines.append(f"{i}. 【{severity}】{text}" + (f"（位置：{clean_line(place)}）" if place else ""))
    rest = len(ordered) - FINDINGS_LISTED
    if rest > 0:
        where = "，详见附件统计表的“审核结果”工作表" if xlsx_attached else ""
        lines.append(f"另有 {rest} 项未列出{where}。")
    return "\n".join(lines)


def review_values(
    errors: int, warnings: int, findings: list[dict[str, Any]], *, xlsx_attached: bool, explained: int = 0
) -> dict[str, str]:
    """``{result}``, ``{findings}`` and ``{advice}`` for one unit (``findings``: the open ones;
    ``explained``: how many 提示 the unit has answered with a 审核说明 that stands)."""
    answered = f"另有 {explained} 个提示已写审核说明，不再列出" if explained else ""
    if errors:
        result = f"发现 {errors} 个错误" + (f"、{warnings} 个提示" if warnings else "")
        result += f"（{answered}）" if answered else ""
        result += "，清单如下："
        advice = "请逐项核对，修改统计表和年度报告后重新报送，并按时公开。"
    elif warnings:
        result = f"未发现错误，有 {warnings} 个提示" + (f"（{answered}）" if answered else "") + "，清单如下："
        advice = "请逐项核对提示的内容，需要修改的请修改后重新报送；核对无误的，请按时公开。"
    elif explained:
        result = f"未发现错误，{explained} 个提示均已写审核说明。"
        advice = "请核对附件中的年度报告，确认无误后按时公开。"
    else:
        result = "未发现错误和提示。"
        advice = "请核对附件中的年度报告，确认无误后按时公开。"
    return {"result": result, "findings": findings_text(findings, xlsx_attached=xlsx_attached), "advice": advice}


# --------------------------------------------------------------------------- journal


_LINE_BREAKS = {ord(c): f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"}


class Journal:
    """Append-only JSON-lines journal; every line is fsynced before ``append`` returns.

    ``open(reserve=True)`` sets aside room for the lines of one transaction; when a line cannot be
    written the reserve is released and the line written again, ``low_space`` tells the
    sender to stop after the transaction in progress.
    """

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.reserve_path = self.path.with_name(RESERVE_NAME)
        self._fd: int | None = None
        self._torn = False  # the last write stopped inside a line
        self._reserved = False
        self.low_space = False
        self.damaged_lines = 0

    def read(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        self.damaged_lines = 0
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return events
        except OSError as exc:
            raise MailError(f"无法读取发送记录 {self.path}（{exc.strerror or exc}）。") from None
        for line in raw.split(b"\n"):
            if not line.strip():
                continue
            try:
                ev = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                self.damaged_lines += 1  # a line cut short by a crash or a full disk: it never counted
                continue
            if isinstance(ev, dict) and "event" in ev:
                events.append(ev)
        return events

    def _failure(self, exc: OSError, what: str) -> JournalError:
        return JournalError(f"无法{what}发送记录 {self.path}（{os_reason(exc)}）。")

    def open(self, reserve: bool = False) -> None:
        """Open for appending (and set the reserve aside); raises JournalError before anything is sent."""
        if self._fd is not None:
            return
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            created = not self.path.exists()
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
            size = os.fstat(self._fd).st_size
            if size:
                with open(self.path, "rb") as fh:
                    fh.seek(-1, os.SEEK_END)
                    self._torn = fh.read(1) != b"\n"  # a line cut short earlier: end it first
            if created:
                _fsync_dir(folder)
        except OSError as exc:
            self.close()
            raise self._failure(exc, "打开") from None
        if reserve:
            try:
                fd = os.open(self.reserve_path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600)
                try:
                    if hasattr(os, "posix_fallocate"):
                        os.posix_fallocate(fd, 0, RESERVE_BYTES)
                    else:  # pragma: no cover - Windows
                        os.write(fd, b"\0" * RESERVE_BYTES)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                self._reserved = True
            except OSError as exc:
                with contextlib.suppress(OSError):
                    self.reserve_path.unlink()
                self.close()
                raise JournalError(
                    f"无法在 {folder} 中为发送记录预留空间（{os_reason(exc)}）。没有发送任何邮件；处理后重新运行即可。"
                ) from None

    def append(self, event: dict[str, Any]) -> None:
        if self._fd is None:
            self.open()
        record = {"v": JOURNAL_VERSION, "event": event.get("event"), "time": _now(), **event}
        # Line separators other than \n stay escaped, so that any line-splitting tool reads one event per line.
        text = json.dumps(record, ensure_ascii=False).translate(_LINE_BREAKS)
        line = text.encode("utf-8", "surrogateescape") + b"\n"
        try:
            self._write(line)
            return
        except OSError as exc:
            first = exc
        if self._release_reserve():
            self.low_space = True
            try:
                self._write(line)
                return
            except OSError as exc:
                first = exc
        raise self._failure(first, "写入")

    def _write(self, line: bytes) -> None:
        assert self._fd is not None
        data = memoryview((b"\n" if self._torn else b"") + line)
        self._torn = True  # until the whole line is on disk
        while data:
            n = os.write(self._fd, data)
            data = data[n:]
        os.fsync(self._fd)
        self._torn = False

    def _release_reserve(self) -> bool:
        if not self._reserved:
            return False
        self._reserved = False
        try:
            self.reserve_path.unlink()
            return True
        except OSError:
            return False

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        if self._reserved:
            self._reserved = False
            with contextlib.suppress(OSError):
                self.reserve_path.unlink()


def _fsync_dir(folder: Path) -> None:
    if os.name == "nt":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def journal_lock(year_dir: Path) -> Iterator[None]:
    """Only one sender per year folder; the OS drops the lock when the process dies."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(folder_lock(Path(year_dir) / LOCK_NAME, what=command_line()))
        except FolderBusy:
            raise MailError(f"另一个 gkreport mail 正在发送 {year_dir} 的邮件，请等它结束后再运行。") from None
        except OSError as exc:
            raise MailError(f"无法在 {year_dir} 中写文件（{os_reason(exc)}）。", exit_code=1) from None
        yield


@dataclass
class RecipientState:
    state: str  # "sent" / "uncertain"
    fingerprint: list[list[str]]
    time: str


def _fingerprint(files: Iterable[dict[str, Any]]) -> list[list[str]]:
    return sorted([str(f.get("name")), str(f.get("sha256"))] for f in files)


def journal_state(events: list[dict[str, Any]]) -> dict[tuple[str, str], RecipientState]:
    """(unit as recorded, lower-case address) → what was last delivered or may have been."""
    tries: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for ev in events:
        aid = ev.get("attempt")
        if not aid:
            continue
        if aid not in tries:
            tries[aid] = {"base": ev, "data_end": False, "outcome": None}
            order.append(aid)
        t = tries[aid]
        kind = ev.get("event")
        if kind == "data-end":
            t["data_end"] = True
            t["base"] = ev
        elif kind in ("sent", "failed", "unknown"):
            t["outcome"] = ev
    state: dict[tuple[str, str], RecipientState] = {}
    for aid in order:
        t = tries[aid]
        out = t["outcome"]
        base = out or t["base"]
        unit = str(base.get("unit", ""))
        fp = _fingerprint(base.get("files", []))
        when = base.get("time", "")
        if out is not None and out.get("event") == "sent":
            for addr in out.get("accepted", []):
                state[(unit, addr.lower())] = RecipientState("sent", fp, when)
        elif (out is not None and out.get("event") == "unknown") or (out is None and t["data_end"]):
            for addr in base.get("rcpt", []):
                state[(unit, addr.lower())] = RecipientState("uncertain", fp, when)
        # "failed", or a try that never reached the end of data: nothing was delivered.
    return state


# --------------------------------------------------------------------------- planning


@dataclass
class Attachment:
    kind: str
    name: str  # as the recipient sees it (cleaned of control characters)
    path: Path
    sha256: str
    size: int
    data: bytes = field(repr=False, default=b"")
    # not the file the batch wrote (changed by hand since); None: the batch's record of it is missing
    hand_edited: bool | None = False

    def record(self) -> dict[str, Any]:
        rec = {"kind": self.kind, "name": self.name, "sha256": self.sha256, "size": self.size}
        return {**rec, "hand_edited": True} if self.hand_edited else rec


@dataclass
class Problem:
    unit: str
    message: str


@dataclass
class PlannedMessage:
    unit: str  # exactly as the batch recorded it: the message's identity in the journal
    year: int
    to: list[Address]
    cc: list[Address]
    files: list[Attachment]
    status: str
    rcpt: list[str] = field(default_factory=list)  # envelope recipients still to send to
    subject: str = ""
    body: str = ""
    note: str = ""
    message_id: str = ""
    sender: Address | None = None
    held: bool = False  # some recipients are owed this message but it is held back (changed/uncertain)
    # what the sender should know of the files: changed by hand after the batch wrote them, or a hand-changed
    # copy kept aside while the batch's file is sent; said when the message is sent
    file_notes: list[str] = field(default_factory=list)
    known: dict[str, RecipientState] = field(default_factory=dict)  # journal state of ``rcpt`` when planned

    @property
    def unit_key(self) -> str:
        return self.unit

    @property
    def shown_unit(self) -> str:
        return clean_line(self.unit)


@dataclass
class Plan:
    output_dir: Path
    year: int
    year_dir: Path
    year_note: str | None
    messages: list[PlannedMessage]
    problems: list[Problem]
    journal_damaged: int = 0
    direction: str = REPORT
    needs: list[str] = field(default_factory=list)  # what a real send still needs (dry run: placeholders)
    unchecked: str | None = None  # why the workbooks could not be checked against the reports

    @property
    def to_send(self) -> list[PlannedMessage]:
        return [m for m in self.messages if m.status == SEND]

    @property
    def journal_path(self) -> Path:
        return self.year_dir / JOURNAL_NAME

    @property
    def complete(self) -> bool:
        """True when nothing is held back: every unit is either to send or already sent."""
        return not self.problems and all(m.status in (SEND, DONE) and not m.held for m in self.messages)


def _safe_relative(year_dir: Path, rel: str) -> Path | None:
    p = Path(rel.replace("\\", "/"))
    if p.is_absolute() or p.drive or p.root or ".." in p.parts:
        return None
    return year_dir / p


def _message_id(
    year: int, unit: str, to: list[Address], cc: list[Address], files: list[Attachment], domain: str
) -> str:
    h = hashlib.sha256()
    h.update(f"{year}\0{unit}\0".encode("utf-8", "surrogateescape"))
    for a in sorted(x.addr_spec.lower() for x in to + cc):
        h.update(a.encode() + b"\0")
    for f in sorted(files, key=lambda f: f.name):
        h.update(f.name.encode("utf-8", "surrogateescape") + b"\0" + f.sha256.encode() + b"\0")
    return f"<gkreport.{year}.{h.hexdigest()[:32]}@{domain}>"


def _attachment_name(path: Path) -> str:
    return safe_filename(clean_line(path.name), limit=240)


def _shared_outputs(year_dir: Path, records: list[UnitRecord]) -> dict[str, tuple[list[str], str]]:
    """Units whose recorded outputs are the same file as another unit's: unit → (other units, file)."""
    owners: dict[tuple[int, int], list[tuple[str, str]]] = defaultdict(list)
    for rec in records:
        if not rec.unit:
            continue
        for rel in rec.outputs.values():
            path = _safe_relative(year_dir, rel) if rel else None
            if path is None or rel is None:
                continue
            try:
                st = path.stat()
            except OSError:
                continue
            owners[(st.st_dev, st.st_ino)].append((rec.unit, rel))  # the same file, however it is spelt
    shared: dict[str, tuple[list[str], str]] = {}
    for entries in owners.values():
        units = list(dict.fromkeys(u for u, _ in entries))
        if len(units) > 1:
            for u, rel in entries:
                if u not in shared:
                    shared[u] = ([x for x in units if x != u], rel)
    return shared


def _fixed_recipients(to: str, unit_names: list[str]) -> dict[str, tuple[list[str], list[str]]]:
    fixed = split_addresses(to)
    if not fixed:
        raise ConfigError("--to 中没有邮箱地址。")
    for a in fixed:
        try:
            parse_address(a)
        except ValueError as exc:
            raise ConfigError(f"--to 中{exc}。") from None
    return {u: (fixed, []) for u in unit_names}


def _roster_recipients(
    roster: Path | str,
    unit_names: list[str],
    year: int,
    problems: list[Problem],
    other_years: dict[str, list[int]] | None = None,
) -> tuple[dict[str, tuple[list[str], list[str]]], dict[str, tuple[str, ...]]]:
    """(unit → (to, cc) as written in the roster, unit → roster names that may mean it).
    ``other_years``: the units of the output's other years (:func:`_units_of_other_years`)."""
    other_years = other_years or {}
    try:
        entries = read_roster(roster)
    except RosterError as exc:
        raise ConfigError(exc.message) from None
    match = match_names([e.unit for e in entries], unit_names)
    recipients: dict[str, tuple[list[str], list[str]]] = {}
    for entry, found in zip(entries, match.names):
        if not entry.unit:
            problems.append(Problem("（名单）", f"名单{entry.where}没有单位名称。"))
        elif found.unit is not None:
            old_to, old_cc = recipients.get(found.unit, ([], []))
            recipients[found.unit] = (old_to + entry.to, old_cc + entry.cc)
        elif found.ambiguous:
            both = "、".join(f"“{clean_line(u)}”" for u in found.ambiguous)
            problems.append(
                Problem(
                    entry.unit,
                    f"名单{entry.where}的单位名称与 {year} 年输出中的多个单位都相符（{both}），无法确定是哪一个，"
                    "这一行不用；请在名单中写出与统计表完全相同的单位名称。",
                )
            )
        elif other_years.get(name_key(entry.unit)):
            ys = other_years[name_key(entry.unit)]
            problems.append(
                Problem(
                    entry.unit,
                    f"名单{entry.where}的单位不在 {year} 年的输出中：它的统计表中的年度为 {'、'.join(map(str, ys))} 年，"
                    f"在该年度的输出中；请核实年度。要发送该年度的审核结果，请加 --year {ys[-1]}。",
                )
            )
        else:
            problems.append(
                Problem(
                    entry.unit,
                    f"名单{entry.where}的单位不在 {year} 年的输出中，请核对单位名称。{clean_line(found.question)}",
                )
            )
    return recipients, match.unlisted


def _units_of_other_years(output_dir: Path, year: int) -> dict[str, list[int]]:
    """The units of the output folder's other years (by :func:`name_key`) → those years: a roster
    unit missing from this year may have sent a file of another year (a 年度 left from last year)."""
    out: dict[str, list[int]] = defaultdict(list)
    with contextlib.suppress(OSError):
        for p in sorted(output_dir.iterdir()):
            if not (p.is_dir() and re.fullmatch(r"\d{4}", p.name) and int(p.name) != year):
                continue
            try:
                records = read_audit(p)
            except MailError:
                continue
            for rec in records:
                key = name_key(rec.unit) if rec.unit else ""
                if key and int(p.name) not in out[key]:
                    out[key].append(int(p.name))
    return out


def _review_of(rec: UnitRecord, batch_records: dict[str, dict[str, Any]] | None, xlsx_attached: bool) -> dict | None:
    """``{result}``/``{findings}``/``{advice}`` from the batch's record of this input; None when it is
    missing or does not agree with 审核报告.json (the body must not list findings it cannot vouch for)."""
    entry = (batch_records or {}).get(rec.input)
    findings = entry.get("findings") if entry else None
    if not isinstance(findings, list) or entry.get("unit") != rec.unit or entry.get("year") != rec.year:  # type: ignore[union-attr]
        return None
    findings = [f for f in findings if isinstance(f, dict)]
    explained = [f for f in findings if _explained(f)]
    findings = [f for f in findings if not _explained(f)]  # the body lists what is still open
    errors = sum(1 for f in findings if f.get("severity") == "error")
    warnings = sum(1 for f in findings if f.get("severity") == "warning")
    if (errors, warnings) != (rec.errors, rec.warnings):
        return None
    return review_values(errors, warnings, findings, xlsx_attached=xlsx_attached, explained=len(explained))


def _explained(f: dict[str, Any]) -> bool:
    """A 提示 the unit answered with a 审核说明 that stands (see gkreport.explanations)."""
    return f.get("severity") == "warning" and bool(f.get("explanation")) and not f.get("explanation_lapsed")


def _recorded_digests(
    rec: UnitRecord, entry: dict[str, Any] | None, output_dir: Path, year_dir: Path
) -> dict[str, dict[str, Any]] | None:
    """Kind → size and SHA-256 of the output as the batch wrote it (from its record of this input);
    None when there is no record of this unit's input that agrees with 审核报告.json."""
    if not entry or entry.get("unit") != rec.unit or entry.get("year") != rec.year:
        return None
    outputs, written = entry.get("outputs"), entry.get("written")
    if not isinstance(outputs, dict) or not isinstance(written, dict):
        return None
    found: dict[str, dict[str, Any]] = {}
    for kind, rel in rec.outputs.items():
        theirs = outputs.get(kind)
        if not isinstance(theirs, str) or not rel:
            continue
        digest = written.get(theirs)
        same_file = os.path.normpath(output_dir / theirs) == os.path.normpath(year_dir / rel)
        if isinstance(digest, dict) and digest.get("sha256") and same_file:
            found[kind] = digest
    return found


_WORD_OWNER_FILE = 162  # size of the ~$ file Word keeps beside a document it has open
_MAIN_TYPES = {"docx": ("wordprocessingml", "ms-word"), "xlsx": ("spreadsheetml", "ms-excel")}


def _unopenable(kind: str, data: bytes) -> str | None:
    """Why ``data`` cannot be opened as a .docx/.xlsx (cut short, damaged, or another kind of file), or None."""
    if kind not in _MAIN_TYPES:
        return None
    from defusedxml import ElementTree as ET

    from .reader import sniff_kind

    if not data:
        return "文件是空的"
    if sniff_kind(data) == "ole":  # the compound file of .doc/.xls and of password-protected files
        return f"是旧版格式（.doc、.xls）或设置了打开密码的文件，不是 .{kind} 文件"
    part = ""  # the part being parsed
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            damaged = z.testzip()
            if damaged is not None:
                return f"文件已损坏（其中的 {clean_line(damaged)} 无法读出）"
            part = "_rels/.rels"
            rels = ET.fromstring(z.read(part))
            targets = [r.get("Target") or "" for r in rels if (r.get("Type") or "").endswith("/officeDocument")]
            main = posixpath.normpath(targets[0].lstrip("/")) if targets and targets[0] else ""
            part = "[Content_Types].xml"
            types = ET.fromstring(z.read(part))
            by_part = {(t.get("PartName") or "").lstrip("/"): t.get("ContentType") or "" for t in types}
            by_ext = {(t.get("Extension") or "").lower(): t.get("ContentType") or "" for t in types}
            content_type = by_part.get(main) or by_ext.get(posixpath.splitext(main)[1].lstrip(".").lower(), "")
            if not main or not any(word in content_type for word in _MAIN_TYPES[kind]):
                what = "Word 文档" if kind == "docx" else "Excel 工作簿"
                return f"不是 .{kind} 文件（其中没有 {what} 的正文）"
            part = main
            ET.fromstring(z.read(part))
            return None
    except KeyError:
        return f"不是 .{kind} 文件（缺少必需的部分）"
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError):
        pass
    except (SyntaxError, ValueError):  # XML that does not parse, or that defusedxml refuses
        if part:
            return f"文件已损坏（其中的 {clean_line(part)} 不是有效的 XML）"
    if len(data) == _WORD_OWNER_FILE and kind == "docx":
        return "文件不完整或已损坏（大小与 Word 打开文档时生成的 ~$ 临时文件相同，可能就是这样的文件）"
    return "文件不完整或已损坏"


def _read_attachments(
    rec: UnitRecord,
    year_dir: Path,
    kinds: tuple[str, ...],
    reasons: list[str],
    written: dict[str, dict[str, Any]] | None = None,
) -> list[Attachment]:
    """The unit's files to attach; what stops one from being sent goes to ``reasons``. ``written``: kind →
    the file as the batch wrote it (None: no record), to tell a file changed by hand since."""
    files = []
    for kind in kinds:
        rel = rec.outputs.get(kind)
        if not rel:
            why = f"：{clean_line(rec.reason)}" if rec.reason else ""
            reasons.append(f"没有生成 {KIND_ZH[kind]}（.{kind}）{why}")
            continue
        path = _safe_relative(year_dir, rel)
        if path is None:
            reasons.append(f"{AUDIT_NAME} 中的文件路径不在输出文件夹内：{clean_line(rel)}")
            continue
        try:
            data = path.read_bytes()
        except OSError:
            reasons.append(f"找不到文件：{clean_line(rel)}")
            continue
        unopenable = _unopenable(kind, data)
        if unopenable:
            reasons.append(
                f"{KIND_ZH[kind]} {clean_line(rel)} 无法打开：{unopenable}，不能发送。"
                f"请用 {'Word' if kind == 'docx' else 'Excel'} 打开检查并重新保存，或重新运行 batch 生成后再发送"
            )
            continue
        att = Attachment(kind, _attachment_name(path), path, hashlib.sha256(data).hexdigest(), len(data), data)
        if written is None or kind not in written:
            att.hand_edited = None
        else:
            att.hand_edited = att.sha256 != written[kind].get("sha256") or att.size != written[kind].get("size")
        files.append(att)
    return files


def _file_notes(rec: UnitRecord, files: list[Attachment], year_dir: Path, checked: bool) -> list[str]:
    """What the sender should know of the files about to be sent: changed by hand after the batch wrote
    them (sent as changed), or a copy changed by hand kept aside (the batch's file is sent, not the copy).
    ``checked``: the batch's record of the files was there to compare with."""
    notes = []
    for f in files:
        rel = rec.outputs.get(f.kind) or ""
        shown = clean_line(rel)
        if f.hand_edited:
            notes.append(
                f"{KIND_ZH[f.kind]} {f.name} 在生成后被手工修改过（与 batch 生成的文件不同），发送的是修改后的文件"
            )
        elif f.hand_edited is None and checked:
            notes.append(f"batch 的记录中没有 {shown} 生成时的校验值，无法核对它在生成后是否被手工修改过")
        aside = sorted(
            {
                clean_line(PurePath(e["kept_as"].replace("\\", "/")).name)
                for e in rec.kept_aside
                if os.path.normpath(e["file"]) == os.path.normpath(rel)
                and (p := _safe_relative(year_dir, e["kept_as"])) is not None
                and p.is_file()
            }
        )
        if aside and f.hand_edited is False:
            notes.append(
                f"{KIND_ZH[f.kind]}曾在生成后被手工修改，修改后的文件已另存为 {'、'.join(aside)}，这次不发送它；"
                "发送的是 batch 重新生成的文件，不含那些修改"
            )
        elif aside:
            notes.append(f"{KIND_ZH[f.kind]}另有手工修改过的版本另存为 {'、'.join(aside)}，这次不发送它")
    return notes


def _journal_status(
    pm: PlannedMessage, state: dict[tuple[str, str], RecipientState], resend_changed: bool, resend_uncertain: bool
) -> None:
    """Who still needs this message, from the journal: sets ``rcpt``, ``status``, ``note`` and ``held``."""
    fp = _fingerprint(f.record() for f in pm.files)
    need, changed, uncertain, done = [], [], [], []
    for a in pm.to + pm.cc:
        st = state.get((pm.unit, a.addr_spec.lower()))
        if st is None:
            need.append(a.addr_spec)
        elif st.state == "uncertain":
            uncertain.append(a.addr_spec)
        elif st.fingerprint == fp:
            done.append(a.addr_spec)
        else:
            changed.append(a.addr_spec)
    rcpt = need + (changed if resend_changed else []) + (uncertain if resend_uncertain else [])
    notes = []
    if done and rcpt:
        notes.append(f"{'、'.join(done)} 此前已收到，这次不再发")
    if changed:
        notes.append(
            f"{'、'.join(changed)} 收到的是旧版本文件，"
            + ("这次重新发送" if resend_changed else "未重发（如需重发请加 --resend-changed）")
        )
    if uncertain:
        notes.append(
            f"发给 {'、'.join(uncertain)} 的上一次发送结果不确定（服务器可能已收到），"
            + ("这次重新发送" if resend_uncertain else "未重发：请先向对方确认，确需重发请加 --resend-uncertain")
        )
    pm.rcpt = rcpt
    pm.known = {a.lower(): st for a in rcpt if (st := state.get((pm.unit, a.lower()))) is not None}
    pm.note = "；".join(notes)
    pm.held = bool((changed and not resend_changed) or (uncertain and not resend_uncertain))
    if rcpt:
        pm.status = SEND
    elif uncertain:
        pm.status = UNCERTAIN
    elif changed:
        pm.status = CHANGED
    else:
        pm.status = DONE
        pm.note = pm.note or "此前已发送，文件未变"


def plan_messages(
    output_dir: Path | str,
    settings: MailSettings,
    *,
    to: str | None = None,
    roster: Path | str | None = None,
    year: int | None = None,
    allow_errors: bool = False,
    resend_changed: bool = False,
    resend_uncertain: bool = False,
    today: date | None = None,
    dry_run: bool = False,
) -> Plan:
    """Work out every message and every problem; reads files, connects to nothing.

    ``dry_run``: a missing sender or sender unit becomes a placeholder (``Plan.needs``
    says what a real send will need); otherwise it is an error here.
    """
    if bool(to) == bool(roster):
        raise ConfigError("请用 --to（所有单位发给同一个邮箱）或 --roster（按名单分别发送）中的一个指定收件人。")
    direction = REPORT if to else REVIEW
    subject_template, body_template = settings.templates(direction)
    review_wanted = bool((_template_fields(subject_template) | _template_fields(body_template)) & _REVIEW_FIELDS)
    missing = settings.missing_for_sending(direction, connection=False)
    if missing and not dry_run:
        raise ConfigError(
            f"发送邮件需要：{'；'.join(missing)}。可以写在命令行或 gkreport.toml 的 [mail] 中；"
            "只想先看看邮件内容时加 --dry-run。"
        )
    sender = settings.sender if settings.from_addr else PLACEHOLDER_SENDER
    sender_unit = settings.sender_unit or PLACEHOLDER_SENDER_UNIT
    output_dir = Path(output_dir)
    year, year_dir, note = choose_year(output_dir, year)
    records = read_audit(year_dir)
    problems: list[Problem] = []
    unit_names = list(dict.fromkeys(r.unit for r in records if r.unit))
    unlisted: dict[str, tuple[str, ...]] = {}
    if to:
        recipients = _fixed_recipients(to, unit_names)
    else:
        recipients, unlisted = _roster_recipients(
            roster,  # type: ignore[arg-type]
            unit_names,
            year,
            problems,
            _units_of_other_years(output_dir, year),
        )
    shared = _shared_outputs(year_dir, records)
    batch_records, input_path = read_manifest(output_dir)
    input_dir = Path(input_path) if input_path else None
    unchecked = None
    if input_dir is None or not input_dir.is_dir():
        if input_path:
            where = f"生成报告时的输入文件夹 {clean_line(input_path)}"
        else:
            where = f"batch 的记录 {MANIFEST_PATH.as_posix()}"
        also = "，也无法核对要发送的报告在生成之后是否被手工修改过" if batch_records is None else ""
        unchecked = (
            f"找不到{where}，无法核对各单位的统计表在生成报告之后是否修改过{also}；"
            "如果有单位重新报送了统计表，请先重新运行 batch 再发送。"
        )
        input_dir = None
    elif batch_records is None:
        unchecked = (
            f"无法读取 batch 的记录 {MANIFEST_PATH.as_posix()}，无法核对要发送的报告在生成之后是否被手工修改过。"
        )
    journal = Journal(year_dir / JOURNAL_NAME)
    state = journal_state(journal.read())
    today = today or date.today()
    messages: list[PlannedMessage] = []
    seen: set[str] = set()

    for rec in records:
        if not rec.unit:  # unreadable file: no unit to send to
            problems.append(
                Problem(
                    f"（{clean_line(shown_name(rec.input)) or '未知文件'}）",
                    f"{rec.status or '无法读取'}：{clean_line(rec.reason or '原因未记录')}",
                )
            )
            continue
        if rec.unit in seen:
            if rec.status != DUPLICATE_STATUS:  # the batch already explains duplicates on each record
                problems.append(Problem(clean_line(rec.unit), f"{AUDIT_NAME} 中该单位出现了不止一次，只处理第一条。"))
            continue
        seen.add(rec.unit)
        pm = PlannedMessage(unit=rec.unit, year=year, to=[], cc=[], files=[], status=BLOCKED, sender=sender)
        messages.append(pm)
        reasons: list[str] = []

        # Recipients.
        raw_to, raw_cc = recipients.get(rec.unit, ([], []))
        bad: list[str] = []
        for raw, target in ((raw_to, pm.to), (raw_cc, pm.cc)):
            for a in raw:
                try:
                    addr = parse_address(a)
                except ValueError as exc:
                    bad.append(str(exc))
                    continue
                if all(addr.addr_spec.lower() != x.addr_spec.lower() for x in pm.to + pm.cc):
                    target.append(addr)
        if bad:
            reasons.append("；".join(bad))
        if not pm.to and not bad:
            near = unlisted.get(rec.unit, ())
            hint = f"；名单中的{'、'.join(f'“{n}”' for n in near)}是否为该单位？" if near else ""
            reasons.append(("名单中没有该单位的邮箱" if roster else "没有收件人") + hint)

        # Files: only the unit's own, as recorded.
        if rec.unit in shared:
            others, rel = shared[rec.unit]
            names = "、".join(f"“{clean_line(u)}”" for u in others)
            reasons.append(
                f"与{names}的报告是同一个文件（{clean_line(rel)}）：单位名称只差文件名中不能使用的字符，"
                "无法确定这份报告属于哪个单位，均未发送。请把其中一个统计表中的单位名称改得能够区分，重新运行 batch 后再发送"
            )
        elif rec.status == Status.UNREADABLE:
            reasons.append(f"统计表无法读取：{clean_line(rec.reason or '原因未记录')}")
        elif rec.status not in SENDABLE_STATUSES:
            reasons.append(f"未生成报告（{rec.status or '状态未记录'}）：{clean_line(rec.reason or '原因未记录')}")
        else:
            if (rec.errors > 0 or rec.status == Status.ERRORS) and direction == REPORT and not allow_errors:
                count = f" {rec.errors} 个" if rec.errors > 0 else ""
                reasons.append(f"报告仍有{count}错误，未报送（确需报送请加 --allow-errors）")
            entry = (batch_records or {}).get(rec.input)
            changed = _input_changed(input_dir, rec, entry) if input_dir else None
            if changed:
                reasons.append(changed)
            else:
                written = _recorded_digests(rec, entry, output_dir, year_dir)
                pm.files = _read_attachments(rec, year_dir, settings.attach, reasons, written)
                pm.file_notes = _file_notes(rec, pm.files, year_dir, batch_records is not None)

        review = _review_of(rec, batch_records, "xlsx" in settings.attach) if review_wanted else {}
        if review is None:
            reasons.append(
                f"找不到该单位的审核意见（输出文件夹中的 {MANIFEST_PATH.as_posix()} 缺失，或与 {AUDIT_NAME} 不一致），"
                "邮件无法列出错误和提示；请重新运行 batch 后再发送"
            )
        if reasons:
            pm.note = "；".join(reasons)
            problems.append(Problem(pm.shown_unit, pm.note))
            continue

        values = {
            "unit": pm.shown_unit,
            "year": year,
            "sender_unit": clean_line(sender_unit),
            "files": "\n".join(f"{i}. {f.name}" for i, f in enumerate(pm.files, 1)),
            "file_count": len(pm.files),
            "date": format_date(today),
            **(review or {}),
        }
        pm.subject = clean_line(subject_template.format_map(values))
        pm.body = _body_text(body_template.format_map(values))
        pm.message_id = _message_id(year, rec.unit, pm.to, pm.cc, pm.files, sender.domain)
        _journal_status(pm, state, resend_changed, resend_uncertain)
        if pm.status == SEND and pm.file_notes:
            pm.note = "；".join([*pm.file_notes, *([pm.note] if pm.note else [])])

    needs = settings.missing_for_sending(direction)
    return Plan(
        output_dir, year, year_dir, note, messages, problems, journal.damaged_lines, direction, needs, unchecked
    )


# --------------------------------------------------------------------------- messages


def _encoded_word(text: str) -> str:
    """RFC 2047 encoded words (each ≤ 75 characters) for clients that read ``name=``."""
    words, chunk = [], ""
    for ch in text:
        trial = chunk + ch
        if len(base64.b64encode(trial.encode("utf-8"))) > 75 - len("=?UTF-8?B??="):
            words.append(chunk)
            chunk = ch
        else:
            chunk = trial
    if chunk:
        words.append(chunk)
    return " ".join(f"=?UTF-8?B?{base64.b64encode(w.encode('utf-8')).decode('ascii')}?=" for w in words)


def _attachment_part(att: Attachment) -> MIMEPart:
    maintype, subtype = MIME_TYPES[att.kind]
    part = MIMEPart(policy=_POLICY)
    part.set_content(att.data, maintype, subtype, cte="base64")
    # File names: RFC 2231 ``filename*=`` on one line (no continuations, which some
    # clients mishandle) plus RFC 2047 ``name=`` that older Outlook/Foxmail read.
    if att.name.isascii() and '"' not in att.name and "\\" not in att.name:
        ctype = f'{maintype}/{subtype}; name="{att.name}"'
        disp = f'attachment; filename="{att.name}"'
    else:
        ctype = f'{maintype}/{subtype}; name="{_encoded_word(att.name)}"'
        disp = f"attachment; filename*=UTF-8''{quote(att.name, safe='')}"
    if max(len(ctype), len(disp)) > 900:  # RFC 5322 line limit is 998: let the library fold
        part.set_param("name", att.name, header="Content-Type")
        part.replace_header("Content-Disposition", "attachment")
        part.set_param("filename", att.name, header="Content-Disposition")
        return part
    del part["Content-Type"]
    del part["Content-Disposition"]
    part.set_raw("Content-Type", ctype)
    part.set_raw("Content-Disposition", disp)
    return part


def build_message(
    pm: PlannedMessage, settings: MailSettings | None = None, *, when: datetime | None = None
) -> EmailMessage:
    """The message as sent: Chinese subject/body, attachments with their Chinese names."""
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = pm.sender or (settings.sender if settings else PLACEHOLDER_SENDER)
    msg["To"] = pm.to
    if pm.cc:
        msg["Cc"] = pm.cc
    msg["Subject"] = clean_line(pm.subject)
    msg["Date"] = format_datetime(when or datetime.now().astimezone())
    msg["Message-ID"] = pm.message_id
    msg["X-Mailer"] = "gkreport"
    msg.set_content(_body_text(pm.body), charset="utf-8", cte="base64")
    msg.make_mixed()
    for att in pm.files:
        msg.attach(_attachment_part(att))  # type: ignore[arg-type]  # a MIMEPart is what attach() takes
    return msg


def _build_bytes(pm: PlannedMessage, settings: MailSettings) -> bytes:
    """The message's bytes; raises MailError (Chinese) when this one message cannot be built."""
    try:
        return build_message(pm, settings).as_bytes()
    except Exception as exc:  # one message must never stop the others: report it and go on
        raise MailError(f"邮件无法生成（{exc.__class__.__name__}：{clean_line(exc)}），未发送", exit_code=1) from None


def eml_names(messages: Iterable[PlannedMessage]) -> dict[int, str]:
    """``id(message)`` → outbox file name: ``<年度>-<单位>.eml``, shortened like the other outputs, never shared."""
    names: dict[int, str] = {}
    taken: set[str] = set()
    for pm in messages:
        stem = f"{pm.year}-{safe_filename(clean_line(pm.unit), limit=60)}"  # ≤ 249 bytes even in 4-byte characters
        if stem.casefold() in taken:  # names that differ only in what a file name cannot hold (or in case)
            tag = hashlib.sha1(pm.unit.encode("utf-8", "surrogateescape")).hexdigest()[:8]
            stem = f"{stem}_{tag}"
        taken.add(stem.casefold())
        names[id(pm)] = stem + ".eml"
    return names


@dataclass
class Outbox:
    folder: Path
    written: list[Path]
    failed: list[Problem]  # messages that could not be built (the others were written)


def write_outbox(plan: Plan, settings: MailSettings) -> Outbox:
    """Dry run: one ``.eml`` per message to send, in ``OUTPUT_DIR/outbox/``.

    A message that cannot be built is reported and the others are written. When the
    folder cannot be written, this year's .eml files are removed (a half-written outbox
    would mislead) and MailError says why.
    """
    outbox = plan.output_dir / OUTBOX_NAME
    names = eml_names(plan.to_send)
    written: list[Path] = []
    failed: list[Problem] = []
    try:
        for pm in plan.to_send:
            try:
                data = _build_bytes(pm, settings)
            except MailError as exc:
                failed.append(Problem(pm.shown_unit, exc.message))
                pm.status, pm.note = BLOCKED, exc.message
                continue
            written.append(atomic_write_bytes(outbox / names[id(pm)], data))
        keep = {p.name for p in written}
        for old in outbox.glob(f"{plan.year}-*.eml"):  # an earlier dry run's files for this year would mislead
            if old.name not in keep:
                old.unlink()
    except OSError as exc:
        for old in list(outbox.glob(f"{plan.year}-*.eml")) if outbox.is_dir() else []:
            with contextlib.suppress(OSError):
                old.unlink()
        raise MailError(
            f"无法在 {outbox} 中写入试运行的邮件（{os_reason(exc)}）。"
            f"已删除这个文件夹中 {plan.year} 年的 .eml 文件，以免留下不完整的结果；处理后重新运行即可。",
            exit_code=1,
        ) from None
    return Outbox(outbox, written, failed)


# --------------------------------------------------------------------------- sending


@dataclass
class Outcome:
    unit: str
    result: Delivery
    detail: str = ""
    reply: str = ""
    accepted: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # recipients the server refused (the others got it)
    # what ``result`` says is another run's doing (it sent the message, or left it uncertain, since
    # this run's plan was made): this run did not send it
    other_run: bool = False
    note: str = ""  # more that the user should know of this message (shown beside ``detail``)


class Delivery(StrEnum):
    """What became of one message when sending (shown to the user as it is)."""

    SENT = "已发送"
    REFUSED = "被拒收"
    SEND_FAILED = "发送失败"
    UNCERTAIN = "结果不确定"
    NOT_TRIED = "未尝试"
    NOT_BUILT = "无法生成"
    STOPPED = "已中止"


SENT_OK, REFUSED, SEND_FAILED, NOT_TRIED = Delivery.SENT, Delivery.REFUSED, Delivery.SEND_FAILED, Delivery.NOT_TRIED
NOT_BUILT, STOPPED = Delivery.NOT_BUILT, Delivery.STOPPED


@dataclass
class SendResult:
    outcomes: list[Outcome]
    stopped: str | None = None  # why the batch stopped early
    signal: str | None = None  # "SIGINT" / "SIGTERM" when a signal stopped it

    @property
    def all_sent(self) -> bool:
        """Every message went to every recipient it was for."""
        return self.stopped is None and all(o.result == SENT_OK and not o.refused for o in self.outcomes)


class StopRequest:
    """SIGINT/SIGTERM while sending: the transaction in progress ends properly, then sending stops.

    The first signal only sets ``signal``; the SMTP client aborts what can be aborted
    (anything before the final dot) and waits for the answer to a final dot already
    written. A second signal stops at once (KeyboardInterrupt).
    """

    def __init__(self) -> None:
        self.signal: str | None = None

    @property
    def requested(self) -> bool:
        return self.signal is not None

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopRequest]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return

        def handler(signum: int, frame: Any) -> None:
            if self.signal is not None:
                raise KeyboardInterrupt
            self.signal = signal.Signals(signum).name

        previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for s, h in previous.items():
                signal.signal(s, h)

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.requested and (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 0.1))


class _Temporary(Exception):
    def __init__(self, text: str, reconnect: bool = False):
        super().__init__(text)
        self.text = text
        self.reconnect = reconnect


class _Permanent(Exception):
    def __init__(self, text: str, stop: bool = True):
        super().__init__(text)
        self.text = text
        self.stop = stop


class _Uncertain(Exception):
    def __init__(self, text: str, accepted: list[str]):
        super().__init__(text)
        self.accepted = accepted


class _Stopped(Exception):
    """A stop was requested while the transaction could still be aborted (before the final dot)."""


class _JournalStop(Exception):
    """The journal could not record a step; ``sent`` says whether the message went out."""

    def __init__(self, text: str, sent: bool):
        super().__init__(text)
        self.text = text
        self.sent = sent


class DeadlineExceeded(smtplib.SMTPException):
    """A command or reply did not complete within the deadline."""


class ReplyTooLong(smtplib.SMTPException):
    """The server's reply exceeded the size bound."""


REPLY_LIMIT = 64 * 1024
MIN_RATE = 8 * 1024  # bytes a second a server must at least take of the message content
_SLICE = 0.2  # seconds between looks at a stop request while waiting
_MAX_LINE: int = getattr(smtplib, "_MAXLINE", 8192)  # smtplib's own bound on one reply line


class _DeadlineMixin:
    """smtplib with deadlines: every reply must arrive whole, and every write complete, within
    ``timeout`` seconds (plus one second per ``MIN_RATE`` bytes written); replies are bounded.

    ``stop`` and ``abortable``: while ``abortable``, a requested stop closes the connection and
    raises ``_Stopped``.
    """

    sock: Any
    timeout: float

    def __init__(self, *args: Any, stop: StopRequest | None = None, **kwargs: Any) -> None:
        self._rbuf = bytearray()
        self.stop = stop
        self.abortable = True
        super().__init__(*args, **kwargs)

    def _check_stop(self) -> None:
        if self.abortable and self.stop is not None and self.stop.requested:
            self.close()
            raise _Stopped

    def _left(self, deadline: float, message: str) -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            self.close()
            raise DeadlineExceeded(message)
        return min(left, _SLICE)

    def _settle(self) -> None:
        """Back to the whole timeout on the socket, for what smtplib does with it itself (the TLS handshake)."""
        if self.sock:
            self.sock.settimeout(self.timeout)

    def getreply(self) -> tuple[int, bytes]:
        if not self.sock:
            raise smtplib.SMTPServerDisconnected("please run connect() first")
        deadline = time.monotonic() + self.timeout
        late = f"超时：{self.timeout:g} 秒内没有收到服务器的完整回复"
        lines: list[bytes] = []
        total = 0
        while True:
            while (i := self._rbuf.find(b"\n")) < 0:
                if len(self._rbuf) > _MAX_LINE or total + len(self._rbuf) > REPLY_LIMIT:
                    self.close()
                    raise ReplyTooLong(f"服务器的回复超过 {REPLY_LIMIT // 1024} KB，已断开")
                self._check_stop()
                self.sock.settimeout(self._left(deadline, late))
                try:
                    chunk = self.sock.recv(4096)
                except (TimeoutError, ssl.SSLWantReadError):
                    continue
                except OSError as exc:
                    self.close()
                    raise smtplib.SMTPServerDisconnected(f"连接中断（{exc.__class__.__name__}）") from None
                if not chunk:
                    self.close()
                    raise smtplib.SMTPServerDisconnected("服务器断开了连接")
                self._rbuf += chunk
            line = bytes(self._rbuf[: i + 1])
            del self._rbuf[: i + 1]
            total += len(line)
            if len(line) > _MAX_LINE or total > REPLY_LIMIT:
                self.close()
                raise ReplyTooLong(f"服务器的回复超过 {REPLY_LIMIT // 1024} KB，已断开")
            lines.append(line[4:].strip(b" \t\r\n"))
            try:
                code = int(line[:3])
            except ValueError:
                code = -1
            if code == -1 or line[3:4] != b"-":
                self._settle()
                return code, b"\n".join(lines)

    def send(self, s: Any) -> None:  # bytes or str, as smtplib.SMTP.send takes
        if isinstance(s, str):
            s = s.encode(self.command_encoding)  # type: ignore[attr-defined]
        if not self.sock:
            raise smtplib.SMTPServerDisconnected("please run connect() first")
        allowed = self.timeout + len(s) / MIN_RATE
        deadline = time.monotonic() + allowed
        late = f"超时：{allowed:.3g} 秒内没能把数据发送给服务器"
        view = memoryview(s)
        while view:
            self._check_stop()
            self.sock.settimeout(self._left(deadline, late))
            try:
                n = self.sock.send(view[:65536])
            except (TimeoutError, ssl.SSLWantWriteError):
                continue
            except OSError as exc:
                self.close()
                raise smtplib.SMTPServerDisconnected(f"连接中断（{exc.__class__.__name__}）") from None
            view = view[n:]
        self._settle()

    def starttls(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        reply = super().starttls(*args, **kwargs)  # type: ignore[misc]
        if self._rbuf:  # bytes sent before TLS began must not be read as if they came encrypted
            self.close()
            raise smtplib.SMTPResponseException(-1, "服务器在 STARTTLS 之前多发了数据".encode())
        return reply

    def close(self) -> None:
        self._rbuf.clear()
        super().close()  # type: ignore[misc]

    def early_reply(self) -> str | None:
        """What the server said before the final dot: its words, "" for a closed connection, None for silence."""
        if not self.sock:
            return ""
        if self._rbuf:
            return self._rbuf.decode("utf-8", "replace")
        pending = isinstance(self.sock, ssl.SSLSocket) and self.sock.pending()
        if not pending:
            try:
                readable, _, _ = select.select([self.sock], [], [], 0)
            except (OSError, ValueError):
                return ""
            if not readable:
                return None
        self.sock.settimeout(_SLICE)
        try:
            chunk = self.sock.recv(4096)
        except (TimeoutError, ssl.SSLWantReadError):
            return None
        except OSError:
            return ""
        finally:
            self._settle()
        return chunk.decode("utf-8", "replace")


class _SMTP(_DeadlineMixin, smtplib.SMTP):
    pass


class _SMTP_SSL(_DeadlineMixin, smtplib.SMTP_SSL):
    pass


def _reply(code: int, resp: bytes | str) -> str:
    text = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)
    return clean_line(f"{code} {' '.join(text.split())}")


def _check(code: int, resp: bytes | str, stage: str, ok: Iterable[int] = (250,)) -> None:
    if code in ok:
        return
    text = f"{stage}：服务器回复 {_reply(code, resp)}"
    if 400 <= code < 500:
        raise _Temporary(text, reconnect=code == 421)
    raise _Permanent(text)


def _smtp_data(msg_bytes: bytes) -> bytes:
    data = re.sub(rb"\r\n|\n|\r", b"\r\n", msg_bytes)
    data = re.sub(rb"(?m)^\.", b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data


def _ssl_context(settings: MailSettings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(settings.cafile) if settings.cafile else None)


def _net_reason(exc: BaseException) -> str:
    if isinstance(exc, (DeadlineExceeded, ReplyTooLong)):
        return str(exc)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "超时"
    if isinstance(exc, ConnectionRefusedError):
        return "连接被拒绝"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "服务器断开了连接"
    if isinstance(exc, socket.gaierror):
        return "找不到服务器地址"
    return exc.__class__.__name__


class _Connection:
    def __init__(self, settings: MailSettings, password: str | None, stop: StopRequest | None = None):
        self.settings = settings
        self._password = password
        self.stop = stop
        self.smtp: _SMTP | _SMTP_SSL | None = None

    def __repr__(self) -> str:  # never show the password
        return f"<SMTP {self.settings.smtp_host}:{self.settings.port}>"

    def open(self) -> _SMTP | _SMTP_SSL:
        if self.smtp is not None:
            self.smtp.abortable = True
            try:
                code, _ = self.smtp.noop()
                if code == 250:
                    return self.smtp
            except (smtplib.SMTPException, OSError):
                pass
            self.close()
        s = self.settings
        where = f"{s.smtp_host}:{s.port}"
        ctx = _ssl_context(s)
        try:
            if s.security == "ssl":
                smtp: _SMTP | _SMTP_SSL = _SMTP_SSL(s.smtp_host, s.port, timeout=s.timeout, context=ctx, stop=self.stop)
            else:
                smtp = _SMTP(s.smtp_host, s.port, timeout=s.timeout, stop=self.stop)
            self.smtp = smtp
            smtp.ehlo()
            if s.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise _Permanent(f"服务器 {where} 不支持 STARTTLS 加密。为保护密码和文件，不会改用未加密连接。")
                smtp.starttls(context=ctx)
                smtp.ehlo()
            if s.smtp_user:
                _login(smtp, s.smtp_user, self._password or "")
        except ssl.SSLCertVerificationError as exc:
            self.close(polite=False)
            raise _Permanent(
                f"无法验证服务器 {where} 的证书（{exc.verify_message or exc.reason}）。"
                "如果服务器使用单位内部签发的证书，请用 --cafile 指定该证书（或其 CA 证书）文件。"
            ) from None
        except ssl.SSLError as exc:
            self.close(polite=False)
            raise _Permanent(
                f"与服务器 {where} 建立加密连接失败（{exc.reason or exc}）。请检查 --security 和端口。"
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            self.close()
            raise _Permanent(
                f"登录失败：服务器回复 {_reply(exc.smtp_code, exc.smtp_error)}。请检查用户名和密码。"
            ) from None
        except smtplib.SMTPNotSupportedError:
            self.close()
            raise _Permanent(f"服务器 {where} 不支持登录（AUTH），请检查端口和加密方式。") from None
        except (smtplib.SMTPConnectError, smtplib.SMTPResponseException) as exc:
            self.close(polite=False)
            _check(exc.smtp_code, exc.smtp_error, f"连接 {where}")
            raise _Temporary(f"连接 {where} 失败", reconnect=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close(polite=False)
            raise _Temporary(f"无法连接服务器 {where}（{_net_reason(exc)}）", reconnect=True) from None
        except (_Permanent, _Stopped):
            self.close(polite=False)
            raise
        return smtp

    def close(self, polite: bool = True) -> None:
        """QUIT and close; ``polite=False`` closes without waiting for the server."""
        if self.smtp is not None:
            if polite and self.smtp.sock:
                self.smtp.abortable = False
                self.smtp.timeout = min(self.smtp.timeout, 5.0)
                with contextlib.suppress(Exception):
                    self.smtp.quit()
            with contextlib.suppress(Exception):
                self.smtp.close()
        self.smtp = None


def _login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """Log in; smtplib only handles ASCII credentials, so UTF-8 ones use PLAIN/LOGIN here."""
    if user.isascii() and password.isascii():
        smtp.login(user, password)
        return
    if not smtp.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("AUTH")
    mechanisms = smtp.esmtp_features["auth"].upper().split()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    if "PLAIN" in mechanisms:
        code, resp = smtp.docmd("AUTH", "PLAIN " + b64(b"\0" + user.encode() + b"\0" + password.encode()))
    elif "LOGIN" in mechanisms:
        code, resp = smtp.docmd("AUTH", "LOGIN " + b64(user.encode()))
        if code == 334:
            code, resp = smtp.docmd(b64(password.encode()))
    else:
        raise smtplib.SMTPAuthenticationError(504, "含中文等非 ASCII 字符的密码只能用 PLAIN 或 LOGIN 方式登录".encode())
    if code not in (235, 503):
        raise smtplib.SMTPAuthenticationError(code, resp)


def _send_one(
    smtp: _SMTP | _SMTP_SSL,
    pm: PlannedMessage,
    msg_bytes: bytes,
    journal: Journal,
    base: dict[str, Any],
    sender: str,
    stop: StopRequest | None,
) -> tuple[list[str], dict[str, str], str]:
    """One SMTP transaction. Returns (accepted, refused, reply).

    Raises _Temporary/_Permanent (nothing delivered), _Stopped (aborted before the final
    dot), _Uncertain (no answer to the final dot) or _JournalStop.
    """
    smtp.abortable = True
    try:
        code, resp = smtp.mail(sender)
        _check(code, resp, "发件人（MAIL FROM）")
        accepted: list[str] = []
        refused: dict[str, str] = {}
        for r in pm.rcpt:
            code, resp = smtp.rcpt(r)
            if code in (250, 251):
                accepted.append(r)
            elif 400 <= code < 500:
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    smtp.rset()
                raise _Temporary(f"收件人 {r}：服务器回复 {_reply(code, resp)}", reconnect=code == 421)
            else:
                refused[r] = _reply(code, resp)
        if not accepted:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.rset()
            raise _Permanent("所有收件人都被拒收：" + "；".join(f"{a} {t}" for a, t in refused.items()), stop=False)
        smtp.putcmd("data")
        code, resp = smtp.getreply()
        _check(code, resp, "开始发送内容（DATA）", ok=(354,))
        smtp.send(_smtp_data(msg_bytes))
    except (smtplib.SMTPException, OSError) as exc:
        raise _Temporary(f"邮件未发出：{_net_reason(exc)}", reconnect=True) from None

    # From here on the server may accept the message: record that before the final dot.
    smtp.abortable = False
    try:
        journal.append({**base, "event": "data-end", "rcpt": accepted})
    except JournalError as exc:
        smtp.close()  # without the final dot nothing is delivered
        raise _JournalStop(f"{exc.message}邮件未发出（在结束符之前中止）", sent=False) from None
    early = smtp.early_reply()
    if early is not None:  # the server closed or answered before the final dot: it cannot have accepted
        smtp.close()
        said = f"回复 {clean_line(early)}" if early else "断开了连接"
        raise _Temporary(f"服务器在收到结束符之前{said}，邮件未发出", reconnect=True)
    if stop is not None and stop.requested:
        smtp.close()
        raise _Stopped
    try:
        smtp.send(b".\r\n")
    except (smtplib.SMTPException, OSError) as exc:  # the dot did not leave: nothing was accepted
        raise _Temporary(f"邮件未发出：发送结束符时{_net_reason(exc)}", reconnect=True) from None
    try:
        code, resp = smtp.getreply()
    except (smtplib.SMTPException, OSError) as exc:
        raise _Uncertain(f"发送完内容后没有收到服务器的确认（{_net_reason(exc)}）", accepted) from None
    if code == 250:
        return accepted, refused, _reply(code, resp)
    _check(code, resp, "发送内容（DATA）")
    raise _Permanent(f"发送内容（DATA）：服务器回复 {_reply(code, resp)}")  # pragma: no cover - _check raised


def send_plan(
    plan: Plan,
    settings: MailSettings,
    password: str | None = None,
    *,
    progress: Callable[[int, int, PlannedMessage, Outcome], None] | None = None,
    sleep: Callable[[float], None] | None = None,
    stop: StopRequest | None = None,
) -> SendResult:
    """Send every message with status 待发送, journaling each step. Holds the folder lock.

    SIGINT/SIGTERM are caught while sending (see :class:`StopRequest`); ``stop`` may be
    given to request a stop from elsewhere.
    """
    settings.check_for_sending()
    todo = plan.to_send
    outcomes = [Outcome(pm.shown_unit, NOT_TRIED) for pm in todo]
    result = SendResult(outcomes)
    if not todo:
        return result
    sender = settings.sender
    stop = stop or StopRequest()
    wait = sleep or stop.sleep
    with journal_lock(plan.year_dir), stop.installed():
        # Another run may have sent some of these since the plan was made: skip those.
        fresh = journal_state(Journal(plan.journal_path).read())
        journal = Journal(plan.journal_path)
        journal.open(reserve=True)
        conn = _Connection(settings, password, stop)
        try:
            for i, pm in enumerate(todo):
                outcome = outcomes[i]
                if stop.requested:
                    break
                fp = _fingerprint(f.record() for f in pm.files)
                already = [
                    r
                    for r in pm.rcpt
                    if (st := fresh.get((pm.unit, r.lower()))) and st.state == "sent" and st.fingerprint == fp
                ]
                if already:
                    pm.rcpt = [r for r in pm.rcpt if r not in already]
                    if not pm.rcpt:
                        outcome.result, outcome.detail = SENT_OK, "同时运行的另一次发送已发出，这次未重复发送"
                        outcome.other_run = True
                        continue
                    outcome.note = f"同时运行的另一次发送已发给 {'、'.join(already)}，这次只发给其余收件人"
                # Left uncertain, or sent another version, by another run since the plan was made: not resent.
                moved = [
                    (r, st)
                    for r in pm.rcpt
                    if (st := fresh.get((pm.unit, r.lower()))) is not None and st != pm.known.get(r.lower())
                ]
                if moved:
                    unsure = [r for r, st in moved if st.state == "uncertain"]
                    others = [r for r, st in moved if st.state != "uncertain"]
                    said = []
                    if unsure:
                        said.append(
                            f"同时运行的另一次发送发给 {'、'.join(unsure)} 的结果不确定（服务器可能已收到），"
                            "请先向对方确认，确需重发请加 --resend-uncertain 重新运行"
                        )
                    if others:
                        said.append(f"同时运行的另一次发送已发给 {'、'.join(others)} 另一版本的文件")
                    rest = "，重新运行会发给其余收件人" if len(moved) < len(pm.rcpt) else ""
                    outcome.result = Delivery.UNCERTAIN if unsure else NOT_TRIED
                    outcome.detail = "；".join(said) + f"；这一封这次未发送{rest}"
                    outcome.other_run = True
                    continue
                if i and settings.interval:
                    wait(settings.interval)
                    if stop.requested:
                        break
                outcome.note = "；".join([*pm.file_notes, *([outcome.note] if outcome.note else [])])
                reason = _send_with_retries(conn, pm, settings, journal, sender, outcome, wait, stop)
                if progress:
                    progress(i + 1, len(todo), pm, outcome)
                if reason is None and journal.low_space:
                    reason = (
                        f"发送记录所在的文件夹 {plan.year_dir} 磁盘空间不足，已在发完当前邮件后停止。"
                        "请清理磁盘空间后重新运行，会继续发送未发出的邮件。"
                    )
                if reason:
                    result.stopped = reason
                    break
        except BaseException:
            conn.close(polite=False)
            raise
        else:
            conn.close(polite=not stop.requested)
        finally:
            journal.close()
    if stop.requested:
        result.signal = stop.signal
        result.stopped = (
            f"收到停止信号（{stop.signal}），已停止发送：正在发送的邮件已按服务器的答复记录，"
            "其余未发送。重新运行会继续发送未发出的邮件。"
        )
    return result


def _send_with_retries(
    conn: _Connection,
    pm: PlannedMessage,
    settings: MailSettings,
    journal: Journal,
    sender: Address,
    outcome: Outcome,
    sleep: Callable[[float], None],
    stop: StopRequest,
) -> str | None:
    """Returns the reason to stop the batch, or None to go on."""
    try:
        msg_bytes = _build_bytes(pm, settings)
    except MailError as exc:  # this message only: the others go on
        outcome.result, outcome.detail = NOT_BUILT, exc.message
        return None
    tries = settings.retries + 1
    for n in range(tries):
        if n:
            sleep(min(settings.retry_wait * (2 ** (n - 1)), 600.0))
        if stop.requested:
            if n == 0:
                outcome.result = NOT_TRIED
            return None
        attempt_id = uuid.uuid4().hex
        base = {
            "attempt": attempt_id,
            "try": n + 1,
            "year": pm.year,
            "unit": pm.unit,
            "to": [a.addr_spec for a in pm.to],
            "cc": [a.addr_spec for a in pm.cc],
            "rcpt": list(pm.rcpt),
            "files": [f.record() for f in pm.files],
            "message_id": pm.message_id,
            "subject": pm.subject,
            "server": f"{settings.smtp_host}:{settings.port}",
        }
        journaled = False
        try:
            smtp = conn.open()
            try:
                journal.append({**base, "event": "attempt"})
            except JournalError as exc:
                outcome.result, outcome.detail = SEND_FAILED, f"{exc.message}未发送"
                return f"{exc.message}已停止发送；处理后重新运行，会继续发送未发出的邮件。"
            journaled = True
            accepted, refused, reply = _send_one(smtp, pm, msg_bytes, journal, base, sender.addr_spec, stop)
        except _Temporary as exc:
            if journaled and not _record(journal, {**base, "event": "failed", "permanent": False, "reply": exc.text}):
                outcome.result, outcome.detail = SEND_FAILED, exc.text
                return f"无法写入发送记录 {journal.path}，已停止发送；处理后重新运行即可。"
            if exc.reconnect:
                conn.close(polite=False)
            outcome.result, outcome.detail = SEND_FAILED, exc.text
            continue
        except _Permanent as exc:
            if journaled:
                _record(journal, {**base, "event": "failed", "permanent": True, "reply": exc.text})
            outcome.result = REFUSED if not exc.stop else SEND_FAILED
            outcome.detail = exc.text
            return exc.text if exc.stop else None
        except _Stopped:
            text = f"收到停止信号（{stop.signal}），在发送结束符之前中止：邮件未发出"
            if journaled:
                _record(journal, {**base, "event": "failed", "permanent": False, "reply": text})
            conn.close(polite=False)
            outcome.result, outcome.detail = (STOPPED, text) if journaled else (NOT_TRIED, "")
            return None
        except _Uncertain as exc:
            conn.close(polite=False)
            detail = f"{exc}；服务器可能已收到，未自动重发"
            outcome.result, outcome.detail = Delivery.UNCERTAIN, detail
            if not _record(journal, {**base, "event": "unknown", "rcpt": exc.accepted, "reply": str(exc)}):
                return f"无法写入发送记录 {journal.path}，已停止发送。"
            return None
        except _JournalStop as exc:
            conn.close(polite=False)
            _record(journal, {**base, "event": "failed", "permanent": False, "reply": exc.text})
            outcome.result, outcome.detail = SEND_FAILED, exc.text
            return f"{exc.text}。已停止发送；处理后重新运行，会继续发送未发出的邮件。"
        outcome.result, outcome.reply, outcome.accepted, outcome.refused = SENT_OK, reply, accepted, refused
        if refused:
            outcome.detail = "部分收件人被拒收：" + "；".join(f"{a} {t}" for a, t in refused.items())
        if not _record(journal, {**base, "event": "sent", "accepted": accepted, "refused": refused, "reply": reply}):
            outcome.detail = (
                f"已发出（服务器回复 {reply}），但无法写入发送记录：下次运行会显示为“结果不确定”，请不要重发这一封"
            )
            return f"无法写入发送记录 {journal.path}，已停止发送。"
        return None
    return f"{outcome.detail}（已重试 {settings.retries} 次）。稍后重新运行即可继续发送未发出的邮件。"


def _record(journal: Journal, event: dict[str, Any]) -> bool:
    """Append an outcome line; False when even the reserve could not make room for it."""
    try:
        journal.append(event)
        return True
    except JournalError:
        return False


def smtp_password(settings: MailSettings, prompt: Callable[[str], str] | None = None) -> str | None:
    """The password from ``GKREPORT_SMTP_PASSWORD`` or a prompt; None when no login is needed."""
    if not settings.smtp_user:
        return None
    pw = os.environ.get(PASSWORD_ENV)
    if pw:
        return pw
    if prompt is None:
        raise ConfigError(f"需要 SMTP 密码：请设置环境变量 {PASSWORD_ENV}，或在终端中运行以便输入密码。")
    return prompt(f"SMTP 密码（{settings.smtp_user}）")
