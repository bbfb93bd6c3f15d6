"""Mail the generated reports: plan, build, send exactly once, keep a journal.

Flow: ``load_settings`` (defaults ← ``gkreport.toml`` ← command line) →
``plan_messages`` (reads ``<year>/审核报告.json``, the roster and the journal;
finds every problem before any connection) → ``write_outbox`` (dry run) or
``send_plan`` (SMTP).

Exactly once
------------
The journal ``<year>/邮件发送记录.jsonl`` is append-only; every line is one
JSON event and is fsynced before the next SMTP step. For each try of a message:

1. ``attempt``  – written before ``MAIL FROM``;
2. ``data-end`` – written after the whole message body has been transmitted and
   immediately *before* the terminating ``<CRLF>.<CRLF>``;
3. ``sent``     – written after the server answered 250 to the end of data,
   or ``failed`` (the server refused; nothing was delivered), or ``unknown``
   (the connection broke while waiting for that answer).

Until the terminating dot is written the server cannot have accepted the
message, so a try without ``data-end`` is safely resent. A ``sent`` line is
only written after the 250 reply, so it is never claimed falsely. What
remains is the window RFC 1047 describes: between writing the final dot and
fsyncing ``sent`` (one round trip plus one fsync) the server may have accepted
the message without the journal knowing. Such a try ends as ``data-end``
without outcome (or ``unknown``); the next run does not resend it but reports
it as 结果不确定, and ``--resend-uncertain`` sends it again after the user has
checked with the recipient. The resent message carries the same
``Message-ID``, so mail systems that deduplicate can drop the copy.

State is kept per (unit, recipient address) and remembers the hashes of the
files sent, so a new recipient added to the roster gets the message alone,
and a changed file is only sent again with ``resend_changed``.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import io
import json
import os
import re
import smtplib
import socket
import ssl
import string
import time
import tomllib
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from email import policy as email_policy
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime, parseaddr
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .enums import Status
from .errors import MailError
from .fileio import atomic_write_bytes
from .formatting import format_date, safe_filename

AUDIT_NAME = "审核报告.json"
JOURNAL_NAME = "邮件发送记录.jsonl"
LOCK_NAME = ".邮件发送记录.lock"
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
SENDABLE_STATUSES = (Status.PASSED, Status.WARNINGS, Status.ERRORS)
DUPLICATE_STATUS = Status.DUPLICATE
SECURITY_MODES = ("ssl", "starttls", "none")
DEFAULT_PORTS = {"ssl": 465, "starttls": 587, "none": 25}
PLACEHOLDERS = {
    "unit": "单位名称",
    "year": "年度",
    "sender_unit": "发件单位",
    "files": "附件清单",
    "file_count": "附件个数",
    "date": "发送日期",
}


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


# --------------------------------------------------------------------------- text helpers


def normalize_unit(name: str) -> str:
    """Key for matching unit names: full/half width folded (NFKC), whitespace removed."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(name)))


_SEPARATORS = ";；,，、"
_ADDR_TOKEN = re.compile(rf"[^{_SEPARATORS}<>\s]*\s*<[^<>]*>|[^{_SEPARATORS}<>\s]+")
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDR_SPEC = re.compile(rf"^{_LOCAL}@{_LABEL}(?:\.{_LABEL})*\.(?:[A-Za-z]{{2,63}}|xn--[A-Za-z0-9-]{{1,59}})$")


def split_addresses(text: str | None) -> list[str]:
    """Split a cell such as ``a@x.cn；b@y.cn、张三<c@z.cn>`` into address strings."""
    if not text:
        return []
    return [t.strip() for t in _ADDR_TOKEN.findall(str(text)) if t.strip()]


def parse_address(text: str) -> Address:
    """Parse one address (optionally ``名称 <addr>``); full-width characters are folded.

    Raises ValueError with a Chinese message when it is not a usable address.
    """
    raw = unicodedata.normalize("NFKC", str(text)).strip()
    name, addr = parseaddr(raw)
    if not addr or not _ADDR_SPEC.match(addr) or len(addr) > 254:
        raise ValueError(f"“{text}”不是有效的邮箱地址")
    try:
        return Address(display_name=name, addr_spec=addr)
    except (ValueError, IndexError, TypeError) as exc:  # header parser edge cases
        raise ValueError(f"“{text}”不是有效的邮箱地址") from exc


def _one_line(value: Any) -> str:
    return re.sub(r"[\r\n]+", " ", str(value))


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


# --------------------------------------------------------------------------- settings


def _default_templates() -> dict[str, str]:
    text = resources.files("gkreport").joinpath("templates", "mail.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return {"subject": data["subject"], "body": data["body"]}


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
    "subject": "邮件主题模板",
    "body": "邮件正文模板",
    "attach": "附件类型",
    "interval": "两封邮件之间的间隔秒数",
    "retries": "临时错误的重试次数",
    "retry_wait": "第一次重试前等待的秒数",
    "timeout": "网络超时秒数",
}


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
    subject: str = ""
    body: str = ""
    attach: tuple[str, ...] = ("docx",)
    interval: float = 2.0
    retries: int = 3
    retry_wait: float = 5.0
    timeout: float = 60.0
    config_file: Path | None = None

    @property
    def port(self) -> int:
        return self.smtp_port or DEFAULT_PORTS[self.security]

    @property
    def sender(self) -> Address:
        if not self.from_addr:
            raise ConfigError("请用 --from 或 gkreport.toml 的 [mail] from 指定发件人邮箱。")
        try:
            addr = parse_address(self.from_addr)
        except ValueError as exc:
            raise ConfigError(f"发件人{exc}。") from None
        name = addr.display_name or (self.sender_unit or "")
        return Address(display_name=name, addr_spec=addr.addr_spec)

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
    """Defaults ← config file ``[mail]`` ← ``overrides`` (command line; None = not given)."""
    table, used = load_config(config, cwd)
    merged: dict[str, Any] = dict(_default_templates())
    merged.update(table)
    for k, v in (overrides or {}).items():
        if v is not None:
            merged[k] = v
    s = MailSettings(config_file=used)
    for key, value in merged.items():
        attr = "from_addr" if key == "from" else key
        if key not in CONFIG_KEYS:
            raise ConfigError(f"未知的设置：{key}")
        setattr(s, attr, _typed(key, value))
    check_template(s.subject, "主题")
    check_template(s.body, "正文")
    if "\n" in s.subject.strip() or "\r" in s.subject.strip():
        raise ConfigError("邮件主题模板只能有一行。")
    s.subject = s.subject.strip()
    if s.from_addr:
        sender = s.sender
        if not s.sender_unit and sender.display_name:
            s.sender_unit = sender.display_name
    if not s.sender_unit and "sender_unit" in (_template_fields(s.subject) | _template_fields(s.body)):
        raise ConfigError(
            "邮件模板用到了 {sender_unit}（发件单位），请用 --sender-unit 或 gkreport.toml 的 "
            '[mail] sender_unit 设置，或在 --from 中写上名称，如 "某某区政务公开办 <gk@example.gov.cn>"。'
        )
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
    except FileNotFoundError:
        raise MailError(f"找不到 {path}，请先生成报告。") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise MailError(f"无法读取 {path}：文件内容不完整或格式不对（{exc.__class__.__name__}）。") from None
    return records


@dataclass
class RosterEntry:
    unit: str
    to: list[str]
    cc: list[str]
    where: str  # e.g. "第 3 行"


_UNIT_HEADERS = {"单位名称", "单位", "单位全称"}
_TO_HEADERS = {"邮箱", "电子邮箱", "邮箱地址", "电子邮件", "收件人", "收件邮箱", "收件人邮箱"}
_CC_HEADERS = {"抄送", "抄送邮箱", "抄送人"}


def _cell_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


def _column(cells: list[str], i: int | None) -> str:
    return cells[i] if i is not None and i < len(cells) else ""


def _roster_from_rows(rows: Iterable[list[Any]], source: Path) -> list[RosterEntry]:
    header_at = None
    cols: dict[str, int] = {}
    entries: list[RosterEntry] = []
    for rowno, row in enumerate(rows, start=1):
        cells = [_cell_text(c) for c in row]
        if header_at is None:
            names = [normalize_unit(c) for c in cells]
            if any(n in _UNIT_HEADERS for n in names):
                for i, n in enumerate(names):
                    if n in _UNIT_HEADERS and "unit" not in cols:
                        cols["unit"] = i
                    elif n in _TO_HEADERS and "to" not in cols:
                        cols["to"] = i
                    elif n in _CC_HEADERS and "cc" not in cols:
                        cols["cc"] = i
                if "to" not in cols:
                    raise MailError(f"名单 {source} 的表头缺少“邮箱”列（表头应为：单位名称 | 邮箱 | 抄送）。")
                header_at = rowno
            elif rowno >= 10:
                break
            continue

        unit, to, cc = (_column(cells, cols.get(key)) for key in ("unit", "to", "cc"))
        if not (unit or to or cc):
            continue
        entries.append(RosterEntry(unit=unit, to=split_addresses(to), cc=split_addresses(cc), where=f"第 {rowno} 行"))
    if header_at is None:
        raise MailError(f"名单 {source} 中找不到表头行（应为：单位名称 | 邮箱 | 抄送）。")
    return entries


def _decode_csv(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")  # superset of GBK, as saved by Excel on Chinese Windows
    except UnicodeDecodeError:
        raise MailError("名单 CSV 文件的编码无法识别，请在 Excel 中另存为“CSV UTF-8”。") from None


def read_roster(path: Path | str) -> list[RosterEntry]:
    """Read a roster (.xlsx first sheet, or .csv in UTF-8/UTF-8 BOM/GBK/UTF-16)."""
    p = Path(path)
    if not p.is_file():
        raise MailError(f"找不到名单文件：{p}")
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        import openpyxl  # heavy; only when needed

        try:
            wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for damaged files
            raise MailError(f"无法读取名单 {p}：{exc.__class__.__name__}，请确认是 .xlsx 文件且未加密。") from None
        try:
            ws = wb.worksheets[0]
            rows = [list(r) for r in ws.iter_rows(values_only=True)]
        finally:
            wb.close()
        return _roster_from_rows(rows, p)
    if suffix in (".csv", ".txt"):
        text = _decode_csv(p.read_bytes())
        first = text.split("\n", 1)[0]
        delimiter = "\t" if "\t" in first and "," not in first else ","
        return _roster_from_rows(list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)), p)
    raise MailError(f"名单文件应是 .xlsx 或 .csv：{p}")


# --------------------------------------------------------------------------- journal


class Journal:
    """Append-only JSON-lines journal; every line is fsynced before returning."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._fh: Any = None
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
                self.damaged_lines += 1  # a line cut short by a crash: it was never fsynced
                continue
            if isinstance(ev, dict) and "event" in ev:
                events.append(ev)
        return events

    def append(self, event: dict[str, Any]) -> None:
        if self._fh is None:
            try:
                self._open()
            except OSError as exc:
                raise MailError(f"无法打开发送记录 {self.path}（{exc.strerror or exc}）。", exit_code=1) from None
        self._write(event)

    def _open(self) -> None:
        if self._fh is None:
            created = not self.path.exists()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "ab")  # noqa: SIM115 - held open for the whole send
            if not created and self.path.stat().st_size:
                with open(self.path, "rb") as fh:
                    fh.seek(-1, os.SEEK_END)
                    if fh.read(1) != b"\n":
                        self._fh.write(b"\n")  # end a line cut short by an earlier crash
            if created:
                _fsync_dir(self.path.parent)

    def _write(self, event: dict[str, Any]) -> None:
        record = {"v": JOURNAL_VERSION, "event": event.get("event"), "time": _now(), **event}
        line = json.dumps(record, ensure_ascii=False)
        try:
            self._fh.write(line.encode("utf-8") + b"\n")
            self._fh.flush()
            os.fsync(self._fh.fileno())
        except OSError as exc:
            raise MailError(
                f"无法写入发送记录 {self.path}（{exc.strerror or exc}），已停止发送。"
                "请检查磁盘空间和文件夹权限后重新运行。",
                exit_code=1,
            ) from None

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


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
    path = Path(year_dir) / LOCK_NAME
    try:
        fh = open(path, "a+b")  # noqa: SIM115 - the lock lives as long as the context
    except OSError as exc:
        raise MailError(f"无法在 {year_dir} 中写文件（{exc.strerror or exc}），请检查文件夹权限。") from None
    try:
        try:
            if os.name == "nt":
                import msvcrt

                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]  # Windows only
            else:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise MailError(f"另一个 gkreport mail 正在发送 {year_dir} 的邮件，请等它结束后再运行。") from None
        yield
    finally:
        if os.name == "nt":
            with contextlib.suppress(OSError):
                import msvcrt

                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]  # Windows only
        fh.close()


@dataclass
class RecipientState:
    state: str  # "sent" / "uncertain"
    fingerprint: list[list[str]]
    time: str


def _fingerprint(files: Iterable[dict[str, Any]]) -> list[list[str]]:
    return sorted([str(f.get("name")), str(f.get("sha256"))] for f in files)


def journal_state(events: list[dict[str, Any]]) -> dict[tuple[str, str], RecipientState]:
    """(normalised unit, lower-case address) → what was last delivered or may have been."""
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
        unit = normalize_unit(base.get("unit", ""))
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
    name: str
    path: Path
    sha256: str
    size: int
    data: bytes = field(repr=False, default=b"")

    def record(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "sha256": self.sha256, "size": self.size}


@dataclass
class Problem:
    unit: str
    message: str


@dataclass
class PlannedMessage:
    unit: str
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
    held: bool = False  # some recipients are owed this message but it is held back (changed/uncertain)

    @property
    def unit_key(self) -> str:
        return normalize_unit(self.unit)


@dataclass
class Plan:
    output_dir: Path
    year: int
    year_dir: Path
    year_note: str | None
    messages: list[PlannedMessage]
    problems: list[Problem]
    journal_damaged: int = 0

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


def _render(template: str, values: dict[str, Any]) -> str:
    return template.format_map(values)


def _message_id(
    year: int, unit: str, to: list[Address], cc: list[Address], files: list[Attachment], domain: str
) -> str:
    h = hashlib.sha256()
    h.update(f"{year}\0{normalize_unit(unit)}\0".encode())
    for a in sorted(x.addr_spec.lower() for x in to + cc):
        h.update(a.encode() + b"\0")
    for f in sorted(files, key=lambda f: f.name):
        h.update(f.name.encode() + b"\0" + f.sha256.encode() + b"\0")
    return f"<gkreport.{year}.{h.hexdigest()[:32]}@{domain}>"


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
) -> Plan:
    """Work out every message and every problem; reads files, connects to nothing."""
    if bool(to) == bool(roster):
        raise ConfigError("请用 --to（所有单位发给同一个邮箱）或 --roster（按名单分别发送）中的一个指定收件人。")
    sender = settings.sender
    output_dir = Path(output_dir)
    year, year_dir, note = choose_year(output_dir, year)
    records = read_audit(year_dir)
    problems: list[Problem] = []

    # Recipients per unit key.
    recipients: dict[str, tuple[list[str], list[str]]] = {}
    unit_keys = {normalize_unit(r.unit) for r in records if r.unit}
    if to:
        fixed = split_addresses(to)
        if not fixed:
            raise ConfigError("--to 中没有邮箱地址。")
        for a in fixed:
            try:
                parse_address(a)
            except ValueError as exc:
                raise ConfigError(f"--to 中{exc}。") from None
        for k in unit_keys:
            recipients[k] = (fixed, [])
    else:
        for entry in read_roster(roster):  # type: ignore[arg-type]
            if not entry.unit:
                problems.append(Problem("（名单）", f"名单{entry.where}没有单位名称。"))
                continue
            k = normalize_unit(entry.unit)
            if k not in unit_keys:
                problems.append(Problem(entry.unit, f"名单{entry.where}的单位不在 {year} 年的输出中，请核对单位名称。"))
                continue
            old_to, old_cc = recipients.get(k, ([], []))
            recipients[k] = (old_to + entry.to, old_cc + entry.cc)

    journal = Journal(year_dir / JOURNAL_NAME)
    state = journal_state(journal.read())
    today = today or date.today()
    domain = sender.domain
    messages: list[PlannedMessage] = []
    seen: set[str] = set()

    for rec in records:
        if not rec.unit:  # unreadable file: no unit to send to
            problems.append(
                Problem(f"（{rec.input or '未知文件'}）", f"{rec.status or '无法读取'}：{rec.reason or '原因未记录'}")
            )
            continue
        key = normalize_unit(rec.unit)
        if key in seen:
            if rec.status != DUPLICATE_STATUS:  # the batch already explains duplicates on each record
                problems.append(Problem(rec.unit, f"{AUDIT_NAME} 中该单位出现了不止一次，只处理第一条。"))
            continue
        seen.add(key)
        pm = PlannedMessage(unit=rec.unit, year=year, to=[], cc=[], files=[], status=BLOCKED)
        messages.append(pm)
        reasons: list[str] = []

        # Recipients.
        raw_to, raw_cc = recipients.get(key, ([], []))
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
            reasons.append("名单中没有该单位的邮箱" if roster else "没有收件人")

        # Files.
        if rec.status == "无法读取":
            reasons.append(f"统计表无法读取：{rec.reason or '原因未记录'}")
        elif rec.status not in SENDABLE_STATUSES:
            reasons.append(f"未生成报告（{rec.status or '状态未记录'}）：{rec.reason or '原因未记录'}")
        else:
            if (rec.errors > 0 or rec.status == "有错误") and not allow_errors:
                count = f" {rec.errors} 个" if rec.errors > 0 else ""
                reasons.append(f"报告仍有{count}错误，未发送（确需发送请加 --allow-errors）")
            for kind in settings.attach:
                rel = rec.outputs.get(kind)
                if not rel:
                    why = f"：{rec.reason}" if rec.reason else ""
                    reasons.append(f"没有生成 {KIND_ZH[kind]}（.{kind}）{why}")
                    continue
                path = _safe_relative(year_dir, rel)
                if path is None:
                    reasons.append(f"{AUDIT_NAME} 中的文件路径不在输出文件夹内：{rel}")
                    continue
                try:
                    data = path.read_bytes()
                except OSError:
                    reasons.append(f"找不到文件：{rel}")
                    continue
                pm.files.append(Attachment(kind, path.name, path, hashlib.sha256(data).hexdigest(), len(data), data))

        if reasons:
            pm.note = "；".join(reasons)
            problems.append(Problem(rec.unit, pm.note))
            continue

        values = {
            "unit": _one_line(rec.unit),
            "year": year,
            "sender_unit": settings.sender_unit or "",
            "files": "\n".join(f"{i}. {f.name}" for i, f in enumerate(pm.files, 1)),
            "file_count": len(pm.files),
            "date": format_date(today),
        }
        pm.subject = _one_line(_render(settings.subject, values))
        pm.body = _render(settings.body, values)
        pm.message_id = _message_id(year, rec.unit, pm.to, pm.cc, pm.files, domain)

        # Journal: who still needs this message.
        fp = _fingerprint(f.record() for f in pm.files)
        need, changed, uncertain, done = [], [], [], []
        for address in pm.to + pm.cc:
            st = state.get((key, address.addr_spec.lower()))
            if st is None:
                need.append(address.addr_spec)
            elif st.state == "uncertain":
                uncertain.append(address.addr_spec)
            elif st.fingerprint == fp:
                done.append(address.addr_spec)
            else:
                changed.append(address.addr_spec)
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

    # A unit with no address at all is already reported per unit above.
    return Plan(output_dir, year, year_dir, note, messages, problems, journal.damaged_lines)


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


def build_message(pm: PlannedMessage, settings: MailSettings, *, when: datetime | None = None) -> EmailMessage:
    """The message as sent: Chinese subject/body, attachments with their Chinese names."""
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = settings.sender
    msg["To"] = pm.to
    if pm.cc:
        msg["Cc"] = pm.cc
    msg["Subject"] = pm.subject
    msg["Date"] = format_datetime(when or datetime.now().astimezone())
    msg["Message-ID"] = pm.message_id
    msg["X-Mailer"] = "gkreport"
    msg.set_content(pm.body, charset="utf-8", cte="base64")
    msg.make_mixed()
    for att in pm.files:
        msg.attach(_attachment_part(att))  # type: ignore[arg-type]  # a MIMEPart is what attach() takes
    return msg


def write_outbox(plan: Plan, settings: MailSettings) -> list[Path]:
    """Dry run: one ``.eml`` per message to send, in ``OUTPUT_DIR/outbox/``."""
    outbox = plan.output_dir / OUTBOX_NAME
    if outbox.is_dir():  # files of an earlier dry run for this year would mislead
        for old in outbox.glob(f"{plan.year}-*.eml"):
            old.unlink()
    paths = []
    for pm in plan.to_send:
        path = outbox / f"{pm.year}-{safe_filename(pm.unit, default='单位')}.eml"
        atomic_write_bytes(path, build_message(pm, settings).as_bytes())
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- sending


@dataclass
class Outcome:
    unit: str
    result: Delivery
    detail: str = ""
    reply: str = ""
    accepted: list[str] = field(default_factory=list)


class Delivery(StrEnum):
    """What became of one message when sending (shown to the user as it is)."""

    SENT = "已发送"
    REFUSED = "被拒收"
    SEND_FAILED = "发送失败"
    UNCERTAIN = "结果不确定"
    NOT_TRIED = "未尝试"


SENT_OK, REFUSED, SEND_FAILED, NOT_TRIED = Delivery.SENT, Delivery.REFUSED, Delivery.SEND_FAILED, Delivery.NOT_TRIED


@dataclass
class SendResult:
    outcomes: list[Outcome]
    stopped: str | None = None  # why the batch stopped early

    @property
    def all_sent(self) -> bool:
        return self.stopped is None and all(o.result == SENT_OK for o in self.outcomes)


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


def _reply(code: int, resp: bytes | str) -> str:
    text = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)
    return f"{code} {' '.join(text.split())}".strip()


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


class _Connection:
    def __init__(self, settings: MailSettings, password: str | None):
        self.settings = settings
        self._password = password
        self.smtp: smtplib.SMTP | None = None

    def __repr__(self) -> str:  # never show the password
        return f"<SMTP {self.settings.smtp_host}:{self.settings.port}>"

    def open(self) -> smtplib.SMTP:
        if self.smtp is not None:
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
        host = s.smtp_host or ""  # checked by settings.require_connection()
        try:
            if s.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, s.port, timeout=s.timeout, context=ctx)
            else:
                smtp = smtplib.SMTP(host, s.port, timeout=s.timeout)
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
            self.close()
            raise _Permanent(
                f"无法验证服务器 {where} 的证书（{exc.verify_message or exc.reason}）。"
                "如果服务器使用单位内部签发的证书，请用 --cafile 指定该证书（或其 CA 证书）文件。"
            ) from None
        except ssl.SSLError as exc:
            self.close()
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
        except smtplib.SMTPConnectError as exc:
            self.close()
            _check(exc.smtp_code, exc.smtp_error, f"连接 {where}")
            raise _Temporary(f"连接 {where} 失败", reconnect=True) from None
        except smtplib.SMTPResponseException as exc:
            self.close()
            _check(exc.smtp_code, exc.smtp_error, f"连接 {where}")
            raise _Temporary(f"连接 {where} 失败", reconnect=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise _Temporary(f"无法连接服务器 {where}（{_net_reason(exc)}）", reconnect=True) from None
        except _Permanent:
            self.close()
            raise
        return smtp

    def close(self, polite: bool = True) -> None:
        """QUIT and close; ``polite=False`` (after Ctrl-C) closes without waiting for the server."""
        if self.smtp is not None:
            if polite:
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


def _net_reason(exc: BaseException) -> str:
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "超时"
    if isinstance(exc, ConnectionRefusedError):
        return "连接被拒绝"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "服务器断开了连接"
    if isinstance(exc, socket.gaierror):
        return "找不到服务器地址"
    return exc.__class__.__name__


def _send_one(
    smtp: smtplib.SMTP, pm: PlannedMessage, msg_bytes: bytes, journal: Journal, base: dict[str, Any], sender: str
) -> tuple[list[str], dict[str, str], str]:
    """One SMTP transaction. Returns (accepted, refused, reply). Raises _Temporary/_Permanent/_Uncertain."""
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
    except smtplib.SMTPServerDisconnected as exc:
        raise _Temporary(f"服务器断开了连接（{exc}）", reconnect=True) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise _Temporary(f"网络错误（{_net_reason(exc)}）", reconnect=True) from None

    # From here on the server may accept the message: record that before the final dot.
    journal.append({**base, "event": "data-end", "rcpt": accepted})
    try:
        smtp.send(b".\r\n")
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
    sleep: Callable[[float], None] = time.sleep,
) -> SendResult:
    """Send every message with status 待发送, journaling each step. Holds the folder lock."""
    settings.check_for_sending()
    todo = plan.to_send
    outcomes = [Outcome(pm.unit, NOT_TRIED) for pm in todo]
    result = SendResult(outcomes)
    if not todo:
        return result
    sender = settings.sender
    with journal_lock(plan.year_dir):
        # Another run may have sent some of these since the plan was made: skip those.
        fresh = journal_state(Journal(plan.journal_path).read())
        journal = Journal(plan.journal_path)
        conn = _Connection(settings, password)
        try:
            for i, pm in enumerate(todo):
                outcome = outcomes[i]
                already = [
                    r
                    for r in pm.rcpt
                    if (st := fresh.get((pm.unit_key, r.lower())))
                    and st.state == "sent"
                    and st.fingerprint == _fingerprint(f.record() for f in pm.files)
                ]
                if already:
                    pm.rcpt = [r for r in pm.rcpt if r not in already]
                    if not pm.rcpt:
                        outcome.result, outcome.detail = SENT_OK, "另一次运行已发送"
                        continue
                if i and settings.interval:
                    sleep(settings.interval)
                stop = _send_with_retries(conn, pm, settings, journal, sender, outcome, sleep)
                if progress:
                    progress(i + 1, len(todo), pm, outcome)
                if stop:
                    result.stopped = stop
                    break
        except BaseException:
            conn.close(polite=False)
            raise
        else:
            conn.close()
        finally:
            journal.close()
    return result


def _send_with_retries(
    conn: _Connection,
    pm: PlannedMessage,
    settings: MailSettings,
    journal: Journal,
    sender: Address,
    outcome: Outcome,
    sleep: Callable[[float], None],
) -> str | None:
    """Returns the reason to stop the batch, or None to go on."""
    msg_bytes = build_message(pm, settings).as_bytes()
    tries = settings.retries + 1
    for n in range(tries):
        if n:
            sleep(min(settings.retry_wait * (2 ** (n - 1)), 600.0))
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
            journal.append({**base, "event": "attempt"})
            journaled = True
            accepted, refused, reply = _send_one(smtp, pm, msg_bytes, journal, base, sender.addr_spec)
        except _Temporary as exc:
            if journaled:
                journal.append({**base, "event": "failed", "permanent": False, "reply": exc.text})
            if exc.reconnect:
                conn.close(polite=False)
            outcome.result, outcome.detail = SEND_FAILED, exc.text
            continue
        except _Permanent as exc:
            if journaled:
                journal.append({**base, "event": "failed", "permanent": True, "reply": exc.text})
            outcome.result = REFUSED if not exc.stop else SEND_FAILED
            outcome.detail = exc.text
            return exc.text if exc.stop else None
        except _Uncertain as exc:
            journal.append({**base, "event": "unknown", "rcpt": exc.accepted, "reply": str(exc)})
            conn.close(polite=False)
            outcome.result, outcome.detail = Delivery.UNCERTAIN, f"{exc}；服务器可能已收到，未自动重发"
            return None
        journal.append({**base, "event": "sent", "accepted": accepted, "refused": refused, "reply": reply})
        outcome.result, outcome.reply, outcome.accepted = SENT_OK, reply, accepted
        if refused:
            outcome.detail = "部分收件人被拒收：" + "；".join(f"{a} {t}" for a, t in refused.items())
        return None
    return f"{outcome.detail}（已重试 {settings.retries} 次）。稍后重新运行即可继续发送未发出的邮件。"


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
