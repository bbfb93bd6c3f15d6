"""The batch: every workbook of a folder → checked .xlsx and .docx per unit, summaries, records.

Output layout (``OUTPUT_DIR``)::

    <年度>/<单位>/<单位><年度>年政府信息公开工作年度报告.docx   (.pdf with --pdf)
    <年度>/<单位>/<单位><年度>年政府信息公开工作年度报告表格.xlsx (2017 form: …工作情况统计表.xlsx)
    <年度>/汇总/<年度>年政府信息公开工作汇总.xlsx             (one per year, older forms converted: gkreport.summary)
    <年度>/汇总/<年度>年政府信息公开工作汇总（<表样>）.xlsx     (units whose form cannot be converted)
    <年度>/汇总/<汇总单位><年度>年政府信息公开工作年度报告.docx  (with --summary-unit; .pdf with --pdf)
    <年度>/审核报告.json, 审核报告.xlsx                       (what happened to each file of that year)
    审核报告.json, 审核报告.xlsx                              (the whole batch, unreadable files included)

Every file of the input folder is accounted for: workbooks (reader.SUPPORTED, WPS's .et among
them) are processed; any other file (.docx, .pdf, .zip, .csv, images …) is 无法读取 with a hint
of what to do (reader.not_a_workbook), by its name alone: it is never read, and a rerun that finds
it as before keeps its record (未变化跳过). Lock, hidden and system files are left out silently.
    .gkreport/manifest.json                                   (per input: hash, versions, outputs, results)
    .gkreport/settings.json                                   (the options later runs reuse: gkreport.settings)
    .gkreport/pending.json                                    (while a run rewrites recorded files)
    .gkreport/lock                                            (held while a run works on the folder)
    .gkreport/claims/<年度>/…                                 (which unit each unit folder belongs to)

Work is done in chunks by worker processes: each reads its files, checks them
together (the check engine is vectorised across the chunk) and writes their
outputs; the parent keeps compact records, writes the summaries and the
manifest. A rerun skips every input whose bytes, gkreport version, form spec
and options are unchanged; ``force`` redoes everything. Outputs are written
atomically; the manifest is saved as chunks finish, so an interrupted run
continues where it stopped.

The output folder is what the current inputs and settings make: outputs they no
longer make (a removed input's, PDFs after ``--no-pdf``, the district report
after ``--no-summary-unit``) are deleted, but only files the manifest records as
written by gkreport. A recorded .docx/.xlsx that differs from its recorded digest
was changed by hand: it is never overwritten or deleted but kept aside as
``…（手工修改）`` (:func:`keep_hand_edits`) and listed (``BatchResult.hand_edited``,
审核报告). The summaries and 审核报告 are written again whenever anything they
depend on changed (:func:`_summary_key`: settings, roster, every record); when
nothing did and they are still the files written, they are not rewritten and
the run gives the results the manifest kept (:func:`_restore_summaries`).

Nothing fails silently: an output that cannot be written (disk full, read-only
folder, no permission, a file held open or standing where the unit's folder
should be) makes its unit 无法写出, which is never recorded as done; a rerun
skips an input only when its recorded outputs are still there with the size and
SHA-256 written (``Record.written``): read again, or known unchanged by a stat stamp taken
when no change could be missed (``Record.stamps``, ``Record.input_stamp``; see "stat
stamps" in :mod:`gkreport.fileio`: any write, replacement or restored modification time
gives the file a new ctime). One run at a time works on an output
folder (:func:`gkreport.fileio.folder_lock`), and an output folder keeps the
results of one input folder (another is refused unless ``force``). Units whose
names differ only in what a file name cannot hold (``碰撞局/一`` and ``碰撞局_一``,
upper and lower case, full-width letters) never share a folder: a worker claims
its folder before writing (``.gkreport/claims``), and once all are written every
unit gets the folder the rule gives it (:func:`_settle_folders`), whatever the
order of writing. SIGTERM, SIGHUP and Ctrl-C stop the worker processes too.

Memory stays flat in the number of units where it can: a record keeps its values
as a row in the form's cell order (``compiled(form).cell_order``, cell ids shared), not as a
dict by cell id; the manifest (format 2) writes each form's cell order once and
one input per line, straight into its temp file; summaries rebuild light units
one group at a time, reading values from the rows (:class:`RowValues`), and the
summary's 分单位明细 (a cell per indicator and unit) is made row by row as the
workbook is written out. The parent peaks around 300 MB for 10,000 units
(``tests/benchmarks/bench_batch.py``).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import stat
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from .errors import OutputError, ReadError, SpecError, StrictRefusal
from .fileio import (
    FolderBusy,
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    clean_temp_files,
    clock_after,
    command_line,
    deferred,
    describe_holder,
    file_digest,
    folder_lock,
    fs_clock,
    os_reason,
    quiet_unraisable_os_errors,
    same_digest,
    settled_stamp,
    stamp_of,
    sync_files,
    unchanged_by_stamp,
)
from .formatting import filename_key, plain_name, readable_name, recovered_name, safe_filename, shown_name
from .model import ERROR, Finding, Severity, Status, Unit
from .roster import copied_file_advice, name_key
from .settings import SETTINGS, Settings, absolute, save_settings
from .spec import CellOrder, compiled, load_form, spec_files
from .version import __version__

MANIFEST = Path(".gkreport") / "manifest.json"
LOCK = Path(".gkreport") / "lock"
CLAIMS = Path(".gkreport") / "claims"
LOCK_WAIT = 10.0  # seconds a run waits for another run on the same output folder before it refuses
RECORDS = "审核报告"
SUMMARY_DIR = "汇总"
UNIT_FOLDER_CHARS = 80  # a unit's folder name is cut beyond this (with a tag of the whole name)
NOT_USED = (Status.UNREADABLE, Status.DUPLICATE)  # records that give no unit to summarise or send
NOT_DONE = (*NOT_USED, Status.UNWRITABLE)  # records a rerun does again
_RESERVED_FOLDERS = frozenset({filename_key(SUMMARY_DIR)})  # a unit named 汇总 gets a tagged folder
OWN_WORKBOOK = "汇总单位本身的统计表：基本信息和文字用于汇总年度报告，表中的数字不计入汇总，不单独生成报告"
_STATUSES = {s.value: s for s in Status}  # a status word as saved → the Status


# --------------------------------------------------------------------------- options and results


@dataclass
class BatchOptions:
    input_dir: Path = Path("input")
    output_dir: Path = Path("output")
    jobs: int | None = None  # None: one per CPU
    previous_dir: Path | None = None
    summary_unit: str | None = None
    pdf: bool = False
    strict: bool = False
    force: bool = False
    wording: Path | None = None
    chunk_size: int | None = None
    roster: Path | None = None  # 名单: the units expected to report (the same file mail uses)
    lock_wait: float = LOCK_WAIT  # seconds to wait for another run on the output folder

    def settings(self) -> Settings:
        """The options recorded in the output folder (reused by later runs given none)."""
        return absolute(
            Settings(
                summary_unit=self.summary_unit or None,
                pdf=self.pdf,
                strict=self.strict,
                wording=self.wording,
                previous=self.previous_dir,
                roster=self.roster,
            )
        )

    def key(self) -> str:
        """What, besides the input itself, changes the per-unit outputs (computed once per run)."""
        cached = self.__dict__.get("_key")
        if cached is None:
            from .sentences import wording_files_digest

            parts = [
                __version__,
                self.summary_unit or "",  # its own workbook gets no unit outputs (see _write_outputs)
                str(self.pdf),
                str(self.strict),
                _file_digest(self.wording),
                _folder_digest(self.previous_dir),
                wording_files_digest(),  # the reports' sentences and charts are data in these files
            ]
            cached = self.__dict__["_key"] = hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
        return cached


@dataclass(slots=True)
class Record:
    """What happened to one input file (compact, JSON-able, kept in the manifest).

    ``values`` are the cell values in the form's cell order (``compiled(form).cell_order``), JSON-ready
    (Decimals as strings); :func:`record_unit` gives them back by cell id.
    """

    input: str  # path relative to the input folder
    hash: str
    status: Status | str  # a Status ("" while the file is being processed)
    unit: str | None = None
    year: int | None = None
    form: str | None = None
    spec_hash: str | None = None
    options: str | None = None
    errors: int = 0
    warnings: int = 0  # open 提示 (not answered by a standing 审核说明)
    explained: int = 0  # 提示 answered by a standing 审核说明 (已说明)
    outputs: dict[str, str | None] = field(default_factory=dict)  # kind → path relative to output dir
    # every file written for this input (path relative to output dir → {"size", "sha256"} as written);
    # a rerun skips the input only when its outputs are still these files
    written: dict[str, dict[str, Any]] = field(default_factory=dict)
    # stat stamps (fileio.stamp_of) of outputs found as ``written`` with their bytes read after the stamp
    # was settled: a rerun that finds the same stamp does not read the file again (fileio: stat stamps)
    stamps: dict[str, list[int]] = field(default_factory=dict)
    input_stamp: list[int] | None = None  # the same for the input file whose bytes gave ``hash``
    reason: str | None = None
    values: Sequence[Any] = ()  # a tuple as made; a PackedRow once in the batch process
    meta: dict[str, Any] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    # only the summary unit's own workbook: its text and where its 基本信息 and text are (for the summary report)
    text: dict[str, Any] = field(default_factory=dict)
    # outputs of this input changed by hand after they were written, kept aside: kept as → the output's
    # path (relative to the output dir; one output may have several copies); listed while they are there
    hand_edited: dict[str, str] = field(default_factory=dict)


@dataclass
class YearResult:
    """One year's summary: what it sums, what it leaves out, what its check found, the roster."""

    year: int
    form: str  # the summary's form
    workbook: Path | None
    report: Path | None  # the summary unit's report (with --summary-unit)
    summed: list[str]  # units summed
    mapped: list[str]  # of which converted from an older form
    unsummed: list[tuple[str, str]]  # (unit, why) not summed
    errors: int  # findings of the sum
    warnings: int
    submissions: list[Any] | None = None  # roster.Submission per roster unit (with --roster)
    unlisted: dict[str, tuple[str, ...]] = field(default_factory=dict)  # units the roster lacks → near names

    @property
    def not_submitted(self) -> list[Any]:
        from .roster import NOT_SUBMITTED, UNREADABLE

        return [s for s in self.submissions or () if s.mark in (NOT_SUBMITTED, UNREADABLE)]


@dataclass
class BatchResult:
    records: list[Record]
    processed: int
    skipped: int
    removed: int
    summaries: list[Path]
    reports: list[Path]
    elapsed: float
    stage_seconds: dict[str, float]
    messages: list[str] = field(default_factory=list)
    worker_peak_mb: float = 0.0  # largest peak RSS a worker process reported (0: no worker processes)
    years: list[YearResult] = field(default_factory=list)  # what each year's summary holds
    attention: dict[str, str] = field(default_factory=dict)  # input → why a file that passed needs attention
    problems: list[str] = field(default_factory=list)  # outputs of the run (summaries, records) not written
    # outputs changed by hand since they were written, kept aside (never overwritten or deleted):
    # {"file", "kept_as" (relative to the output folder), "unit", "year"}
    hand_edited: list[dict[str, Any]] = field(default_factory=list)
    # inputs of the last run no longer in the input folder: {"input", "unit", "year", "removed" (it had
    # outputs, all now deleted), "replaced_by" (the input that gives its unit and year now, or None)};
    # the summaries no longer count them
    retired: list[dict[str, Any]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.problems or any(r.status in NOT_DONE for r in self.records):
            return 2
        if any(r.errors for r in self.records):
            return 1
        return 0

    def counts(self) -> dict[str, int]:
        c: dict[str, int] = defaultdict(int)
        for r in self.records:
            c[str(r.status)] += 1  # the words themselves: 通过 / 有错误 …
        return dict(c)


# --------------------------------------------------------------------------- helpers


def _file_digest(path: Path | None) -> str:
    if not path:
        return ""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except OSError:
        return "missing"


def _folder_digest(folder: Path | None) -> str:
    if not folder:
        return ""
    from .reader import read_file_bytes

    h = hashlib.sha256()
    for p in discover(Path(folder)):
        h.update(os.fsencode(p.relative_to(folder)))  # the same folder named another way is the same
        try:  # a pipe, a dangling or looping link, a locked file: not read, counted as such
            h.update(read_file_bytes(p))
        except ReadError as exc:
            h.update(exc.message.encode("utf-8", "replace"))
    return h.hexdigest()[:16]


# files the system or a file manager leaves in a folder: nobody's submission
SYSTEM_FILES = frozenset({"thumbs.db", "ehthumbs.db", "desktop.ini", ".ds_store"})


def ignored_file(name: str) -> bool:
    """Office/WPS lock files (``~$…``), hidden files (``.…``, macOS's ``._…`` among them) and system files."""
    return name.startswith(("~$", ".")) or name.lower() in SYSTEM_FILES


def input_files(folder: Path, exclude: Path | None = None, locks: list[Path] | None = None) -> list[Path]:
    """Every file under ``folder`` (recursive) that someone put there: workbooks and anything else.
    Lock, hidden and system files, hidden folders (our ``.gkreport``) and ``exclude`` are left out;
    ``locks`` (when given) receives the lock files that Excel, WPS or LibreOffice keep beside a file
    they have open (see :func:`open_elsewhere`)."""
    out = []
    exclude = exclude.resolve() if exclude else None
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and not (exclude and Path(root, d).resolve() == exclude)
        )
        for name in sorted(files):
            if not ignored_file(name):
                out.append(Path(root) / name)
            elif locks is not None and name.startswith(("~$", ".~lock.")):
                locks.append(Path(root) / name)
    return out


def open_elsewhere(files: Sequence[Path], locks: Sequence[Path]) -> list[Path]:
    """The files a lock file beside them says are open in Excel or WPS (``~$name``) or LibreOffice
    (``.~lock.name#``): what is read is the file as last saved, and the changes being made to it may
    not be saved yet. A lock file also stays behind when the program was closed abruptly; it then
    names a file that is not open (the note says both)."""
    present = {(lock.parent, lock.name) for lock in locks}
    return [p for p in files if any((p.parent, n) in present for n in lock_names(p.name))] if present else []


def lock_names(name: str) -> tuple[str, str]:
    """The names of the lock files Excel or WPS, and LibreOffice, keep beside a file ``name`` they have open."""
    return f"~${name}", f".~lock.{name}#"


def has_lock_beside(path: Path) -> bool:
    """Whether Excel, WPS or LibreOffice keeps a lock file beside ``path`` (see :func:`open_elsewhere`)."""
    return any(os.path.lexists(path.parent / n) for n in lock_names(path.name))


def open_elsewhere_note(names: Sequence[str]) -> str:
    """注意 for the files that may be open in Excel, WPS or LibreOffice (:func:`open_elsewhere`)."""
    shown = "、".join(names[:10]) + (f"等 {len(names)} 个文件" if len(names) > 10 else "")
    return (
        f"{shown}旁边有 Excel、WPS 或 LibreOffice 打开文件时生成的锁定文件（~$ 或 .~lock. 开头），"
        "可能正在编辑中：读取的是最后一次保存的内容，尚未保存的修改不在其中；请保存并关闭后重新运行"
        "（如文件并未打开，是程序异常退出留下的锁定文件，可以删除它）。"
    )


def is_workbook(path: Path) -> bool:
    from .reader import SUPPORTED

    return path.suffix.lower() in SUPPORTED


def discover(folder: Path, exclude: Path | None = None) -> list[Path]:
    """Workbooks under ``folder`` (recursive), without Office lock files and hidden files."""
    return [p for p in input_files(folder, exclude) if is_workbook(p)]


def _json_value(v: Any) -> Any:
    if v is None or type(v) is int:  # nearly every value: answered first
        return v
    if isinstance(v, Decimal):
        return str(v)  # kept exact; restored by cell type
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


_GAP = -(2**15)  # in a PackedRow's numbers: the value is None or held aside


class PackedRow(Sequence):
    """A record's value row as the batch process holds it for every input: the numbers that fit in
    16 bits in an ``array('h')`` (2 bytes each instead of an 8-byte reference, and no int object for
    those above 256), anything else (a larger number, a decimal's text) held aside by position. A
    tuple of the same values otherwise: equal to one, indexed, iterated, JSON-written as a list.
    10,000 records hold about 14 MB less."""

    __slots__ = ("_aside", "_numbers")

    _NONE_ASIDE: dict[int, Any] = {}  # shared: nearly every row has nothing aside

    def __init__(self, row: Iterable[Any]):
        from array import array

        numbers = array("h")
        aside: dict[int, Any] | None = None
        for i, v in enumerate(row):
            if type(v) is int and _GAP < v < 2**15:
                numbers.append(v)
                continue
            numbers.append(_GAP)
            if v is not None:
                if aside is None:
                    aside = {}
                aside[i] = v
        self._numbers = numbers
        self._aside = aside if aside is not None else self._NONE_ASIDE

    def __len__(self) -> int:
        return len(self._numbers)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return list(self)[i]
        v = self._numbers[i]
        if v == _GAP:
            return self._aside.get(i if i >= 0 else len(self._numbers) + i)
        return v

    def __iter__(self) -> Iterator[Any]:
        aside = self._aside
        return (aside.get(i) if v == _GAP else v for i, v in enumerate(self._numbers))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PackedRow):
            return self._numbers == other._numbers and self._aside == other._aside
        if isinstance(other, (tuple, list)):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return PackedRow, (list(self),)

    def __repr__(self) -> str:
        return f"PackedRow({list(self)!r})"


def _json_default(o: Any) -> Any:
    """What ``json.dumps`` writes for a record's fields it does not know: a value row as a list."""
    return list(o) if isinstance(o, PackedRow) else str(o)


class RowValues(Mapping):
    """Cell id → value of a record, read from its value row without copying it.

    Gives what a dict rebuilt from the record would: decimal cells as Decimals, other
    values as stored; a blank (or absent) cell is None.
    """

    __slots__ = ("order", "row")

    def __init__(self, order: CellOrder, row: Sequence[Any]):
        self.order = order
        self.row = row

    def _at(self, i: int) -> Any:
        row = self.row
        v = row[i] if i < len(row) else None
        if v is not None and i in self.order.decimal:
            return Decimal(str(v))
        return v

    def __getitem__(self, cid: str) -> Any:
        return self._at(self.order.index[cid])

    def get(self, cid: str, default: Any = None) -> Any:
        i = self.order.index.get(cid)
        return default if i is None else self._at(i)

    def is_blank(self, cid: str) -> bool:
        """``get(cid) is None``, without converting the value (summaries ask it of every unit)."""
        i = self.order.index.get(cid)
        return i is None or i >= len(self.row) or self.row[i] is None

    def __contains__(self, cid: object) -> bool:
        return cid in self.order.index

    def __iter__(self):
        return iter(self.order.ids)

    def __len__(self) -> int:
        return len(self.order.ids)

    def aligned(self, cell_ids: Iterable[str]) -> list[Any] | None:
        """All values in ``cell_ids`` order (used to build the summary's value matrix)."""
        ids = self.order.ids
        if cell_ids is not ids and cell_ids != ids:
            return None
        row = list(self.row)
        row.extend([None] * (len(ids) - len(row)))
        for i in self.order.decimal:
            if row[i] is not None:
                row[i] = Decimal(str(row[i]))
        return row


def _value_row(order: CellOrder, values: dict[str, Any]) -> tuple[Any, ...]:
    return tuple([_json_value(values.get(c)) for c in order.ids])


def record_unit(rec: Record, forms: dict[str, Any] | None = None) -> Unit | None:
    """A light Unit (values, meta, findings) rebuilt from a record, for summaries.

    Its ``values`` is a read-only view of the record's value row (:class:`RowValues`). ``forms``:
    the forms loaded so far by id (kept for the next records: loading looks at the spec files).
    """
    if rec.status in NOT_USED or rec.form is None:
        return None
    from datetime import date

    form = forms.get(rec.form) if forms is not None else None
    if form is None:
        form = load_form(rec.form)
        if forms is not None:
            forms[rec.form] = form
    meta = dict(rec.meta)
    for k in ("date_written", "date_filled"):
        if isinstance(meta.get(k), str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", meta[k]):
            meta[k] = date.fromisoformat(meta[k])
    return Unit(
        file=Path(rec.input),
        form=form,
        unit=rec.unit,
        year=rec.year,
        values=RowValues(compiled(form).cell_order, rec.values),  # type: ignore[arg-type]  # read-only: summaries
        meta=meta,
        findings=[Finding.from_dict(f) for f in rec.findings],
        file_hash=rec.hash,
        narrative=dict(rec.text.get("narrative") or {}),
        meta_locations={k: (v[0], v[1]) for k, v in (rec.text.get("meta_locations") or {}).items()},
        narrative_locations={k: (v[0], v[1]) for k, v in (rec.text.get("narrative_locations") or {}).items()},
    )


# --------------------------------------------------------------------------- worker side


_PREVIOUS: dict | None = None


def _init_worker(previous: dict | None) -> None:
    global _PREVIOUS
    _PREVIOUS = previous
    quiet_unraisable_os_errors()  # a writer's file closed on a full disk: already reported for its unit
    try:  # a worker must not die on Ctrl-C before the parent has saved the manifest
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except (ValueError, OSError):  # pragma: no cover
        pass


def _process_chunk(
    items: list[tuple[str, str, str]], opts: BatchOptions, on_record: Callable[[Record], None] | None = None
) -> list[Record]:
    """Read, check and write a chunk of files. ``items``: (absolute path, relative path, hash; "" when
    the batch did not hash the file: it is then hashed here as it is read).

    ``on_record`` (in-process runs) hears of each file as soon as its outputs are written,
    so that an interrupted run keeps everything finished so far. Each record's ``seconds``: the CPU
    time of each stage (CPU, not wall time: the writer threads overlap, and others share the cores).
    """
    from concurrent.futures import ThreadPoolExecutor

    from .reader import read_workbook
    from .spec import load_forms

    t0 = time.thread_time()
    records: list[Record] = []
    units: list[tuple[Unit, Record]] = []
    try:  # once a chunk: the reader would list the forms' folders for every file
        forms: dict[str, Any] | None = load_forms()
    except Exception:  # a broken spec file: each file's read reports it
        forms = None
    for path, rel, digest in items:
        before = None if digest else _stat_key(path)  # no hash from the batch: the file's state before it is read
        try:
            unit = read_workbook(Path(path), forms)
            shown = readable_name(path)
            if shown != path:  # a name that is not UTF-8: shown (and written into the outputs) readable
                unit.file = Path(shown)
        except ReadError as exc:
            digest = digest or _hash_of(path)
            records.append(
                Record(input=rel, hash=digest, status=Status.UNREADABLE, reason=exc.message, options=opts.key())
            )
            if on_record:
                on_record(records[-1])
            continue
        except Exception as exc:  # an unexpected reader failure must not stop the batch
            records.append(
                Record(
                    input=rel,
                    hash=digest or _hash_of(path),
                    status=Status.UNREADABLE,
                    options=opts.key(),
                    reason=f"文件 {Path(path).name} 读取时出错：{type(exc).__name__}: {exc}",
                )
            )
            if on_record:
                on_record(records[-1])
            continue
        if digest:
            changed = unit.file_hash != digest  # since the batch hashed it
        else:  # hashed here as read; changed while it was read?
            digest = unit.file_hash or ""
            changed = not digest or before is None or _stat_key(path) != before
        if changed:  # still being copied or saved
            records.append(
                Record(
                    input=rel,
                    hash=digest,
                    status=Status.UNREADABLE,
                    options=opts.key(),
                    reason=f"文件 {Path(path).name} 在处理过程中被修改（可能正在复制或保存），本次未处理；"
                    "请在复制或保存完成后重新运行。",
                )
            )
            if on_record:
                on_record(records[-1])
            continue
        rec = Record(
            input=rel,
            hash=digest,
            status="",
            unit=unit.unit,
            year=unit.year,
            form=unit.form.id,
            spec_hash=unit.form.spec_hash,
            options=opts.key(),
        )
        units.append((unit, rec))
        records.append(rec)
    t_read = time.thread_time()
    checked = _checked(units, list((_PREVIOUS or {}).values()))
    if on_record and len(checked) < len(units):
        kept = {id(rec) for _, rec in checked}
        for _, rec in units:
            if id(rec) not in kept:
                on_record(rec)
    units = checked
    t_check = time.thread_time()
    t_xlsx = t_docx = 0.0
    # A pool's chunk is returned whole: its outputs are synced together and then renamed (see
    # fileio.deferred). A run in this process reports each file as soon as it is written instead.
    pending: dict[int, list[tuple[Path, Path]]] | None = None if on_record else {id(rec): [] for _, rec in units}
    # Two writer threads: while one waits for the disk (outside the GIL: a file's writing, and in a
    # run in this process its fsync), the other builds the next unit's files. Records are still
    # filled and reported in order.
    writers = ThreadPoolExecutor(2, thread_name_prefix="gkreport-write")
    try:
        writing = {
            # a failure: 无法写出; the batch goes on
            id(rec): writers.submit(_write_outputs, unit, rec, opts, None if pending is None else pending[id(rec)])
            for unit, rec in units
            if unit.unusable is None
        }
        for unit, rec in units:
            if unit.unusable is not None:  # no unit name or year: nothing to file its outputs under
                rec.reason = unit.unusable
            else:
                a, b = writing[id(rec)].result()
                t_xlsx += a
                t_docx += b
            _fill_record(rec, unit)
            if on_record:
                on_record(rec)
    finally:  # interrupted (Ctrl-C, SIGTERM in a one-process run): the units not begun are not begun
        writers.shutdown(wait=True, cancel_futures=True)
    t_publish = time.thread_time()
    if pending is not None:
        _publish([(rec, pending[id(rec)]) for _, rec in units], opts.output_dir)
    t_publish = time.thread_time() - t_publish
    _stamp_outputs(records, opts.output_dir)
    n = max(len(items), 1)
    seconds = {  # one dict for the chunk's records (read-only): thousands of records are held at once
        "read": (t_read - t0) / n,
        "check": (t_check - t_read) / n,
        "xlsx": t_xlsx / n,
        "docx": t_docx / n,
        "publish": t_publish / n,
    }
    for rec in records:
        rec.seconds = seconds
    return records


def _hash_of(path: str) -> str:
    """SHA-256 of a file the reader refused, as the batch hashes its inputs ("" when it cannot be read)."""
    from .reader import read_file_bytes

    try:
        return hashlib.sha256(read_file_bytes(Path(path))).hexdigest()
    except ReadError:
        return ""


def _chunks(todo: list[Any], jobs: int, size: int | None = None) -> list[list[Any]]:
    """The files in chunks for the workers: each at most a quarter of an even share of what is left
    and at most 100 (a slow file holds up one chunk only; the check engine works across a chunk),
    so that they shrink towards the end and the workers finish together rather than one waiting
    for the other's last big chunk. ``size``: every chunk that size."""
    if size:
        return [todo[i : i + size] for i in range(0, len(todo), size)]
    chunks, i = [], 0
    floor = min(10, max(1, -(-len(todo) // (jobs * 4))))
    while i < len(todo):
        n = max(floor, min(100, -(-(len(todo) - i) // (jobs * 4))))
        chunks.append(todo[i : i + n])
        i += n
    return chunks


def _stat_key(path: str) -> list[int] | None:
    """The file's stat stamp (fileio.stamp_of: changes when it is written, replaced or copied over);
    None when it cannot be stat'ed."""
    try:
        return stamp_of(os.stat(path))
    except OSError:
        return None


def _checked(units: list[tuple[Unit, Record]], previous: list[Unit]) -> list[tuple[Unit, Record]]:
    """Run the check engine over the chunk; a unit it cannot take is reported (as ``check`` does),
    so that one strange workbook never stops the batch."""
    from .pipeline import run_checks_isolated

    failed = {id(u): reason for u, reason in run_checks_isolated([u for u, _ in units], previous)}
    ok = []
    for unit, rec in units:
        if id(unit) in failed:
            rec.status = Status.UNREADABLE
            rec.reason = failed[id(unit)]
            _fill_record(rec, unit)
        else:
            ok.append((unit, rec))
    return ok


def _fill_record(rec: Record, unit: Unit) -> None:
    rec.errors = len(unit.errors)
    rec.warnings = len(unit.open_warnings)
    rec.explained = len(unit.explained)
    if rec.status not in (Status.UNREADABLE, Status.UNWRITABLE):
        rec.status = unit.status
    rec.values = _value_row(compiled(unit.form).cell_order, unit.values)
    rec.meta = {k: _json_value(v) for k, v in unit.meta.items()}
    rec.findings = [f.to_dict() | {"suggestion": _json_value(f.suggestion)} for f in unit.findings]


class _FolderTaken(Exception):
    """Both folders a unit may take belong to other units (names whose tags meet: practically never)."""


def folder_names(name: str) -> tuple[str, str]:
    """A unit's folder name, and the one it takes when another unit's name gives the same folder
    (the name with a short tag of the exact unit name: ``碰撞局_一_3fa2c1``)."""
    plain = safe_filename(name, limit=UNIT_FOLDER_CHARS)
    tag = hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:6]
    return plain, safe_filename(name, limit=UNIT_FOLDER_CHARS - len(tag) - 1) + "_" + tag


def _plain_first(name: str) -> tuple[bool, str]:
    """Which of the units sharing a folder name keeps it: a name that is a file name as it stands,
    then the first in code-point order; the others take their tagged folders."""
    return folder_names(name)[0] != name, name


def _claim_key(folder: str) -> str:
    """The claim file's name of a unit folder: the same for every name of that folder (``filename_key``)."""
    return hashlib.sha1(filename_key(folder).encode("utf-8", "surrogatepass")).hexdigest()[:24]


def _claim_path(output_dir: Path, year: int, folder: str) -> Path:
    return output_dir / CLAIMS / str(year) / _claim_key(folder)


def _claim(output_dir: Path, year: int, folder: str, name: str) -> str:
    """Claim ``folder`` of ``year`` for unit ``name`` (atomically: two workers never both get it);
    returns the unit that holds it, ``name`` when it is ours, "" when another is claiming it now."""
    path = _claim_path(output_dir, year, folder)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        try:
            fd = os.open(path, flags, 0o666)
        except FileNotFoundError:  # the year's first claim: its folder is made then
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, flags, 0o666)
    except FileExistsError:
        for _ in range(25):  # another worker may be writing its name right now
            try:
                held = path.read_bytes()
            except FileNotFoundError:
                return ""
            if held:
                return held.decode("utf-8", "surrogatepass")
            time.sleep(0.02)
        return ""
    try:
        os.write(fd, name.encode("utf-8", "surrogatepass"))
    finally:
        os.close(fd)
    return name


def _claim_folder(output_dir: Path, year: int, name: str) -> Path:
    """The unit's folder (relative to the output folder), claimed for it: the plain one when no other
    unit of the run holds it, else the tagged one. Which unit keeps the plain folder in the end is
    settled once all are written (:func:`_settle_folders`)."""
    plain, tagged = folder_names(name)
    choices = [tagged] if filename_key(plain) in _RESERVED_FOLDERS else [plain, tagged]
    for folder in choices:
        if _claim(output_dir, year, folder, name) == name:
            return Path(str(year)) / folder
    raise _FolderTaken(f"单位“{name}”的文件夹 {plain} 和 {tagged} 都已属于其他单位")


def _write_error(exc: BaseException) -> str:
    """Why an output could not be written, in Chinese (the OS error inside a library's own error too)."""
    os_error = _os_error(exc)
    if os_error is not None:
        return os_reason(os_error)
    if isinstance(exc, _FolderTaken):
        return str(exc)
    return f"程序出错（{type(exc).__name__}：{exc}）"


def _os_error(exc: BaseException) -> OSError | None:
    """The OS error behind ``exc`` (itself, or inside a library's own error), if any."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, OSError):
            return seen
        inner = next((a for a in getattr(seen, "args", ()) if isinstance(a, OSError)), None)
        seen = inner or seen.__cause__ or seen.__context__
    return None


HAND_EDITED = "手工修改"
EDITABLE = frozenset({".docx", ".xlsx"})  # outputs people open and type into


def hand_edited_name(path: Path) -> Path:
    """Where an output changed by hand is kept, beside it: ``X（手工修改）.docx``; when that is taken
    (an earlier copy, never overwritten), ``X（手工修改2）.docx`` and so on."""
    n = 1
    while True:
        tag = HAND_EDITED if n == 1 else f"{HAND_EDITED}{n}"
        kept = path.with_name(f"{path.stem}（{tag}）{path.suffix}")
        if not os.path.lexists(kept):
            return kept
        n += 1


def _changed_since_written(path: Path, want: Mapping[str, Any]) -> bool | None:
    """Whether an output differs from what was written (size, then SHA-256); None when it is gone
    (also when a folder or another non-file now stands in its place: that is no edit of the output)."""
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            return None
        if st.st_size != want.get("size"):
            return True
        return not same_digest(file_digest(path), want)
    except (FileNotFoundError, NotADirectoryError):
        return None


def keep_hand_edits(
    output_dir: Path,
    written: Mapping[str, Mapping[str, Any]],
    intact: set[str] | None = None,
    also: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """Move each .docx/.xlsx of ``written`` (path → size and SHA-256 as written) that was changed
    since aside to ``…（手工修改）`` (:func:`hand_edited_name`), so that nothing overwrites or deletes
    it. Returns (path → kept as) and (path → why it could not be moved); adds the files found as
    written to ``intact``. ``also``: path → other digests that are this run's own writing of the
    same file (two files of one unit both wrote it): a file as one of them wrote it is no hand edit."""
    kept: dict[str, str] = {}
    left: dict[str, str] = {}
    for rel, want in written.items():
        if not want or Path(rel).suffix.lower() not in EDITABLE:
            continue
        path = output_dir / rel
        try:
            changed = _changed_since_written(path, want)
            if changed and any(_changed_since_written(path, other) is False for other in (also or {}).get(rel, ())):
                changed = False
            if changed is False and intact is not None:
                intact.add(rel)
            if not changed:
                continue
            target = hand_edited_name(path)
            os.rename(path, target)
        except OSError as exc:
            left[rel] = os_reason(exc)
            continue
        kept[rel] = os.path.relpath(target, output_dir)
    return kept, left


def _remove_written(output_dir: Path, paths: Iterable[str]) -> dict[str, str]:
    """Delete these outputs (and their folder once empty); returns path → why, for those that stay."""
    left: dict[str, str] = {}
    folders = set()
    for p in paths:
        try:
            (output_dir / p).unlink()
        except (FileNotFoundError, NotADirectoryError):  # gone, or its folder is now a file: not there
            pass
        except OSError as exc:
            left[p] = os_reason(exc)
        folders.add(Path(p).parent)
    for folder in folders:
        if folder.parts and len(folder.parts) > 1:  # a unit folder, never a year folder or the output folder
            with contextlib.suppress(OSError):
                (output_dir / folder).rmdir()  # only when empty
    return left


def _write_outputs(
    unit: Unit, rec: Record, opts: BatchOptions, pending: list[tuple[Path, Path]] | None = None
) -> tuple[float, float]:
    """Write the unit's .docx and .xlsx; on any failure the unit is 无法写出, what it wrote is removed
    (no unit is left half-done) and the record says which file and why. Returns the CPU seconds of
    the xlsx and of the docx (two writer threads overlap: their wall time would count each other).
    With ``pending``, the files are left as temp files listed there, for :func:`_publish`."""
    from .docx_out import merge_report_findings, report_docx_name, write_unit_docx
    from .explanations import apply_explanations
    from .xlsx_out import unit_xlsx_name, write_unit_xlsx

    if opts.summary_unit and name_key(unit.unit or "") == name_key(opts.summary_unit):
        # the summary unit's own workbook: its text fills the summary report (汇总/), its tables are
        # the departments' sum; a report of its own (blank tables) would state false figures
        rec.outputs = {}
        rec.reason = OWN_WORKBOOK
        # its tables may be left blank (the report's are the departments' sum): 表二未填写（没有发生
        # 的事项请填 0） would tell the office to type figures it is not asked for
        unit.findings = [f for f in unit.findings if not (f.table and f.rule == f"{f.table}.blank")]
        rec.text = {
            "narrative": dict(unit.narrative),
            "meta_locations": {k: list(v) for k, v in unit.meta_locations.items()},
            "narrative_locations": {k: list(v) for k, v in unit.narrative_locations.items()},
        }
        return 0.0, 0.0
    out = opts.output_dir
    t0 = t1 = time.thread_time()
    written: list[str] = []
    target: Path = Path(str(unit.year)) / safe_filename(unit.unit or "未知单位", limit=UNIT_FOLDER_CHARS)
    what = "单位的文件夹"
    docx_rel: str | None = None
    try:
        target = folder = _claim_folder(out, int(unit.year or 0), unit.unit or "未知单位")
        (out / folder).mkdir(parents=True, exist_ok=True)
        target, what = folder / report_docx_name(unit), "年度报告"
        digests: dict[str, dict[str, Any]] = {}  # of the bytes written (a file is not read back)
        try:
            with deferred(pending) if pending is not None else contextlib.nullcontext():
                report = write_unit_docx(unit, out / target, strict=opts.strict, wording=opts.wording)
            docx_rel = str(target)
            written.append(docx_rel)
            digests[docx_rel] = report.digest or file_digest(out / target)
            # the report's findings (e.g. a missing required paragraph) go into the xlsx and the record too
            unit.findings = merge_report_findings(unit.findings, report.findings)
            apply_explanations(unit)  # a report's 提示 may have been explained too
        except StrictRefusal as exc:
            rec.reason = str(exc)
        t1 = time.thread_time()
        target, what = folder / unit_xlsx_name(unit), "统计表"
        digest: dict[str, Any] = {}
        with deferred(pending) if pending is not None else contextlib.nullcontext():
            write_unit_xlsx(unit, out / target, digest)
        xlsx_rel = str(target)  # one string for the record's outputs, written and stamps
        written.append(xlsx_rel)
        digests[xlsx_rel] = digest
        rec.written = {p: digests[p] for p in written}
    except Exception as exc:  # disk full, read-only, held open, a file in the folder's place …
        _unwritable(rec, out, written, pending, what, out / target, exc)
        return 0.0, time.thread_time() - t0
    rec.outputs = {"xlsx": xlsx_rel, "docx": docx_rel, "pdf": None}
    return time.thread_time() - t1, t1 - t0


def _unwritable(
    rec: Record,
    out: Path,
    written: Iterable[str],
    pending: list[tuple[Path, Path]] | None,
    what: str,
    target: Path,
    exc: BaseException,
) -> None:
    """The unit could not be written: what it wrote is removed (as its temp files not yet renamed),
    and its record says which file and why."""
    for tmp, _ in pending or ():
        with contextlib.suppress(OSError):
            tmp.unlink()
    if pending:
        pending.clear()
    _remove_written(out, written)
    rec.status = Status.UNWRITABLE
    rec.outputs, rec.written = {}, {}
    rec.reason = f"{what}无法写出（{target}）：{_write_error(exc)}。处理后重新运行本命令即可。"


def _publish(units: list[tuple[Record, list[tuple[Path, Path]]]], out: Path) -> None:
    """Put a chunk's written outputs (temp files, see :func:`_write_outputs`) under their names:
    all are made durable first (together, see fileio.sync_files), then each unit's are renamed.
    A unit whose file cannot be synced or renamed is 无法写出, as when its writing fails."""
    unsynced = sync_files([tmp for _, files in units for tmp, _ in files])
    for rec, files in units:
        renamed: list[str] = []
        for k, (tmp, target) in enumerate(files):
            try:
                if tmp in unsynced:
                    raise unsynced[tmp]
                os.replace(tmp, target)
            except OSError as exc:
                what = "年度报告" if target.suffix.lower() == ".docx" else "统计表"
                _unwritable(rec, out, renamed, files[k:], what, target, exc)
                break
            renamed.append(os.path.relpath(target, out))


# --------------------------------------------------------------------------- parent side


MANIFEST_FORMAT = 2  # 2: values as rows in each form's cell order (the order is written once per form)


def _load_manifest(opts: BatchOptions) -> dict[str, Record]:
    """The records of the last run; none for a missing, unreadable or older-format manifest
    (everything is then done again)."""
    return _read_manifest(opts)[1]


def _read_manifest(opts: BatchOptions) -> tuple[dict[str, Any], dict[str, Record]]:
    """The manifest's head (input folder, forms …) and its records by input."""
    path = opts.output_dir / MANIFEST
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            return {}, {}
        rows = {fid: _row_mapper(fid, info) for fid, info in (data.get("forms") or {}).items()}
        known = Record.__dataclass_fields__
        shared: dict[str, str] = {}
        out: dict[str, Record] = {}
        for key, entry in data.get("inputs", {}).items():
            rec = Record(**{a: b for a, b in entry.items() if a in known})
            for a in ("status", "form", "spec_hash", "options"):  # the same few strings in every record
                v = getattr(rec, a)
                if isinstance(v, str):
                    setattr(rec, a, shared.setdefault(v, v))
            rec.values = PackedRow(rows.get(rec.form, _no_values)(rec.values)) if isinstance(rec.values, list) else ()
            rec.status = _STATUSES.get(rec.status, rec.status)
            if not isinstance(rec.written, dict):
                rec.written = {}
            if not isinstance(rec.stamps, dict):
                rec.stamps = {}
            if not isinstance(rec.hand_edited, dict):
                rec.hand_edited = {}
            out[key] = rec
        head = {k: v for k, v in data.items() if k != "inputs"}
        return head, out
    except (OSError, ValueError, TypeError, AttributeError):
        return {}, {}


def _no_values(row: Any) -> tuple[Any, ...]:
    return ()


def _row_mapper(form_id: str, info: dict[str, Any]) -> Callable[[Any], tuple[Any, ...]]:
    """Value row as saved (in the saved cell order) → value row in the form's current cell order."""
    try:
        order = compiled(load_form(form_id)).cell_order
    except (SpecError, OSError):  # the form is no longer available: its values cannot be placed
        return _no_values
    saved = tuple(info.get("cells") or ())
    if saved == order.ids:
        return tuple
    at = {c: i for i, c in enumerate(saved)}
    take = [at.get(c) for c in order.ids]
    return lambda row: tuple(row[i] if i is not None and i < len(row) else None for i in take)


def _save_manifest(
    opts: BatchOptions,
    records: dict[str, Record],
    outputs: dict[str, dict[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Write the manifest atomically, one input per line, without building it in memory first.

    ``outputs``: the files of the run as a whole (summaries, 审核报告), path relative to the output
    folder → size and SHA-256 as written; a later run deletes those it no longer writes. ``extra``:
    more of the head (what the summaries say, the run's outputs kept as 手工修改)."""
    forms: dict[str, dict[str, Any]] = {}
    for rec in records.values():
        if rec.form and rec.values and rec.form not in forms:
            try:
                form = load_form(rec.form)
            except (SpecError, OSError):  # the form is no longer available: its rows are dropped on loading
                continue
            forms[rec.form] = {"spec_hash": form.spec_hash, "cells": list(compiled(form).cell_order.ids)}
    head = {
        "format": MANIFEST_FORMAT,
        "gkreport": __version__,
        "input_dir": readable_name(opts.input_dir),
        "input_path": readable_name(os.path.abspath(opts.input_dir)),  # which input folder these results are of
        "saved": datetime.now().isoformat(timespec="seconds"),
        "forms": forms,
        "outputs": outputs or {},
        **(extra or {}),
    }
    names = Record.__dataclass_fields__
    # the file is closed (inner context) before atomic_path syncs and renames it
    with atomic_path(opts.output_dir / MANIFEST) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(head, ensure_ascii=False)[:-1] + ',\n"inputs": {')
        sep = "\n"
        for key in sorted(records):
            rec = records[key]
            entry = {a: getattr(rec, a) for a in names}
            fh.write(
                f"{sep}{json.dumps(key, ensure_ascii=False)}: "
                f"{json.dumps(entry, ensure_ascii=False, default=_json_default)}"
            )
            sep = ",\n"
        fh.write("\n}}\n")


class _SpecHashes:
    """Form id → spec hash of the forms available now, each form loaded when first asked for
    (an unchanged rerun of one form's units does not load the others)."""

    def __init__(self) -> None:
        self._files = spec_files()
        self._hashes: dict[str, str | None] = {}

    def get(self, form_id: str | None) -> str | None:
        if form_id not in self._files:
            return None
        if form_id not in self._hashes:
            try:
                self._hashes[form_id] = load_form(form_id).spec_hash
            except (SpecError, OSError):
                self._hashes[form_id] = None
        return self._hashes[form_id]


def _unchanged(
    rec: Record | None,
    digest: str,
    opts: BatchOptions,
    spec_hashes: _SpecHashes,
    clock: tuple[int, int] | None = None,
) -> bool:
    """The input, gkreport, its form and the options are as last time, the unit was done, and its
    outputs are still the files written then: the same stat stamp (see gkreport.fileio), else the
    same size and SHA-256 (the stamp is then renewed when it can be: ``clock``, fileio.fs_clock
    taken before the files were stat'ed)."""
    if rec is None or opts.force or rec.hash != digest or rec.options != opts.key() or rec.status in NOT_DONE:
        return False
    spec_hash = spec_hashes.get(rec.form)
    if spec_hash is None or spec_hash != rec.spec_hash:
        return False
    if opts.pdf and rec.outputs.get("docx") and not rec.outputs.get("pdf"):
        return False  # the PDF was not made last time (LibreOffice missing): make it now
    out = str(opts.output_dir)
    for p in rec.outputs.values():
        if not p:
            continue
        want = rec.written.get(p)
        if not want:
            return False
        path = os.path.join(out, p)
        if unchanged_by_stamp(path, rec.stamps.get(p)):
            continue
        rec.stamps.pop(p, None)
        try:
            st = os.stat(path)
            if st.st_size != want.get("size") or not same_digest(file_digest(path), want):
                return False
        except OSError:
            return False
        stamp = settled_stamp(st, clock)  # stat'ed after the clock, read after the stat
        if stamp is not None:
            rec.stamps[p] = stamp
    return True


def _stamp_outputs(records: Iterable[Record], output_dir: Path) -> None:
    """Record the stat stamp of each output written (see gkreport.fileio: stat stamps): the file's
    last change must be older than a clock marker made now, and its bytes, read after it is stat'ed,
    still the digest recorded when it was written. The files renamed just now (a pool's chunk, see
    _publish) are as new as the marker: they are stamped against a marker made once the clock has
    passed them (a few milliseconds). A file too recent even then gets none (a rerun hashes it)."""
    folder = output_dir / ".gkreport"
    clock = fs_clock(folder)
    if clock is None:
        return
    out = str(output_dir)
    recent: list[tuple[Record, str, dict[str, Any], str]] = []
    newest = 0
    for rec in records:
        for p, want in rec.written.items():
            if not want:
                continue
            path = os.path.join(out, p)
            try:
                st = os.stat(path)
                stamp = settled_stamp(st, clock)
                if stamp is None:
                    if st.st_dev == clock[0]:
                        recent.append((rec, p, want, path))
                        newest = max(newest, st.st_ctime_ns)
                elif same_digest(file_digest(path), want):
                    rec.stamps[p] = stamp
            except OSError:
                continue
    later = clock_after(folder, newest) if recent else None
    for rec, p, want, path in recent if later is not None else ():
        try:  # stat'ed after the later marker, read after the stat
            stamp = settled_stamp(os.stat(path), later)
            if stamp is not None and same_digest(file_digest(path), want):
                rec.stamps[p] = stamp
        except OSError:
            continue


def _read_previous(folder: Path | None) -> tuple[dict, list[str]]:
    """Last year's units by (unit, year), and a line for the files of that folder that cannot be read
    (a pipe, a dangling or looping link … gets the same guards as the input folder)."""
    if not folder:
        return {}, []
    from .pipeline import Failure, read_files

    units: list[Unit] = []
    failures: list[Failure] = []
    for p in discover(folder):
        try:  # one file at a time: whatever one of them does, the others are read
            checked = read_files([p])
        except Exception as exc:  # as for the input folder: an unexpected reader failure stops nothing
            failures.append(Failure(p, f"文件 {readable_name(p.name)} 读取时出错（{type(exc).__name__}）。"))
            continue
        units += checked.units
        failures += checked.failures
    prev = {(u.unit, u.year): u for u in units if u.unit and u.year}
    messages = []
    if failures:
        names = "、".join(readable_name(f.file.name) for f in failures[:10])
        more = f"等 {len(failures)} 个" if len(failures) > 10 else ""
        messages.append(
            f"上一年度文件夹 {readable_name(folder)} 中的 {names}{more}文件无法读取，跨年度核对没有包括它们"
            f"（如：{failures[0].reason}）。"
        )
    return prev, messages


def _without_last_year(opts: BatchOptions, previous: dict, records: Mapping[str, Record]) -> list[str]:
    """A line naming the units checked with no report of their year before in the ``--previous``
    folder: their cross-year checks (上年结转 …) were not made, which a clean result must not imply."""
    if not opts.previous_dir:
        return []
    from .checks import names_without_last_year

    checked = {Status.PASSED, Status.EXPLAINED, Status.WARNINGS, Status.ERRORS, Status.UNWRITABLE}
    units = sorted({(r.unit, r.year) for r in records.values() if r.unit and r.year and r.status in checked})
    missing = names_without_last_year(units, previous)
    if not missing:
        return []
    shown = "、".join(f"{n}（{y}年）" for n, y in missing[:10]) + (
        f"等 {len(missing)} 个单位" if len(missing) > 10 else ""
    )
    return [
        f"上一年度文件夹 {readable_name(opts.previous_dir)} 中没有{shown}上一年度的统计表（按单位名称和年度对应），"
        "这些单位没有做跨年度核对（上年结转、现行有效件数等）；新设立的单位可以不管，其他单位请核对名称或补上文件。"
    ]


def _remove_outputs(
    opts: BatchOptions, rec: Record, also: Mapping[str, Sequence[Mapping[str, Any]]] | None = None
) -> dict[str, str]:
    """Delete what this record wrote, except the files changed by hand since: those are kept aside
    (:func:`keep_hand_edits`, added to ``rec.hand_edited``). Returns the files that could not be
    deleted (or moved aside), with why. ``also``: see :func:`keep_hand_edits`."""
    kept, left = keep_hand_edits(opts.output_dir, rec.written, also=also)
    rec.hand_edited.update({k: p for p, k in kept.items()})
    paths = [p for p in dict.fromkeys([*(p for p in rec.outputs.values() if p), *rec.written]) if p not in kept]
    left.update(_remove_written(opts.output_dir, [p for p in paths if p not in left]))
    return left


ProgressFn = Callable[[str, Record | None, int, int], None]


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (a service manager, ``kill PID``, a closed terminal): the run stops as on
    Ctrl-C — worker processes ended, finished units kept in the manifest."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


_asked: list[int] = []  # the signal that asked the running batch to stop, until the batch has ended
_held: list[bool] = []  # stop_on_signals is in force (a watch runs its batches inside its own block)


def _stop_for(signum: int) -> KeyboardInterrupt:
    import signal

    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


def stop_if_asked() -> None:
    """Carry out a stop that a signal asked for and that has not stopped the run yet.

    Python raises a signal's exception wherever the main thread happens to be, which may be a
    finalizer (a weak reference's callback, a file closed as it is collected); there the exception
    is swallowed and the run would go on as if Ctrl-C had never been pressed. The batch calls this
    between units and between stages, so that a stop once asked for always stops the run."""
    if _asked:
        raise _stop_for(_asked[0])


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """While the block runs (main thread only): Ctrl-C (SIGINT) raises KeyboardInterrupt and SIGTERM
    or SIGHUP raise :class:`Terminated`, so that a stop by signal ends the workers and saves what is
    done; the stop is also remembered until the block ends (see :func:`stop_if_asked`)."""
    import signal

    if _held or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if not _asked:
            _asked.append(signum)
        raise _stop_for(signum)

    unraisable = sys.unraisablehook

    def quiet_swallowed_stop(info: Any) -> None:
        # the stop swallowed by a finalizer is carried out by stop_if_asked: no traceback for it
        if not (_asked and isinstance(info.exc_value, KeyboardInterrupt)):
            unraisable(info)

    wanted = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {}
    for s in wanted:
        with contextlib.suppress(OSError, ValueError):
            if s != signal.SIGINT or signal.getsignal(s) is signal.default_int_handler:  # Ctrl-C not ignored
                previous[s] = signal.signal(s, handler)
    sys.unraisablehook = quiet_swallowed_stop
    _held.append(True)
    try:
        yield
    finally:
        _held.clear()
        for s, h in previous.items():
            signal.signal(s, h)
        sys.unraisablehook = unraisable
        _asked.clear()


@contextlib.contextmanager
def output_folder(opts: BatchOptions) -> Iterator[dict[str, Any]]:
    """Hold the output folder for this run: created if need be, locked against a second run
    (waiting ``opts.lock_wait`` seconds for it to finish). Raises :class:`OutputError` naming the
    folder when it cannot be written or another run keeps it."""
    out = opts.output_dir
    with contextlib.ExitStack() as stack:
        try:
            out.mkdir(parents=True, exist_ok=True)
            lock = stack.enter_context(folder_lock(out / LOCK, opts.lock_wait, command_line(), reentrant=True))
        except FolderBusy as exc:
            raise OutputError(
                f"输出文件夹 {readable_name(out)} 正被另一个 gkreport 使用（{describe_holder(exc.holder)}），"
                f"已等待 {opts.lock_wait:g} 秒仍未结束，本次没有处理。请等它结束后再运行。"
            ) from None
        except OSError as exc:
            raise OutputError(
                f"无法写入输出文件夹 {readable_name(out)}：{os_reason(exc)}。本次没有处理任何文件；处理后重新运行即可。"
            ) from None
        yield lock


def _same_input(opts: BatchOptions, head: dict[str, Any], manifest: dict[str, Record]) -> None:
    """Refuse to let another input folder's run delete this output folder's results (``force`` replaces them)."""
    before = head.get("input_path")
    if opts.force or not before or not any(r.outputs or r.written for r in manifest.values()):
        return
    now = os.path.abspath(opts.input_dir)
    if readable_name(now) == before:
        return
    with contextlib.suppress(OSError, ValueError):
        if os.path.samefile(before, now):
            return
    n = sum(1 for r in manifest.values() if r.outputs or r.written)
    raise OutputError(
        f"输出文件夹 {readable_name(opts.output_dir)} 中是输入文件夹 {before} 的处理结果（{n} 个文件的报告），"
        f"本次的输入文件夹是 {readable_name(now)}。为了不删除原来的报告，本次没有处理。"
        "请为本次的输入文件夹另选一个输出文件夹（-o）；如果确实要以本次输入文件夹的结果取代原来的结果，"
        "请加 --force（原来的报告将被删除）。"
    )


def _input_names(files: list[Path], input_dir: Path) -> tuple[list[tuple[Path, str, str]], list[str], list[str]]:
    """(path, name as the OS gives it, name as shown and recorded) per file, the shown names of
    those whose name is not UTF-8 (decoded as GBK), and the names that are GBK garbled by an unzip
    tool (``recovered_name``: recorded as they are, the files' real names). Two files never get the
    same shown name."""
    out = []
    odd = []
    garbled = []
    seen: set[str] = set()
    for p in files:
        raw = str(p.relative_to(input_dir))
        shown = readable_name(raw)
        if shown != raw:
            odd.append(shown)
            if shown in seen or os.path.lexists(input_dir / shown):  # a UTF-8 file of the same name
                shown += "（文件名非 UTF-8 编码）"
        elif recovered_name(raw) is not None:
            garbled.append(raw)
        seen.add(shown)
        out.append((p, raw, shown))
    return out, odd, garbled


def garbled_names_note(files: Sequence[tuple[str, Path]]) -> list[str]:
    """注意 for file names garbled by an unzip tool (``recovered_name``), given as (name as listed,
    the file): the name each should have, and that it may be renamed to it; when a file of that name
    is there too, that the two may be one workbook unpacked twice. Nothing is renamed."""
    free: list[str] = []
    out: list[str] = []
    for name, path in files:
        fixed = recovered_name(name)
        if fixed is None:
            continue
        if os.path.lexists(path.with_name(Path(fixed).name)) and path.with_name(Path(fixed).name) != path:
            out.append(
                f"{shown_name(name)}：同一文件夹中已有名为“{Path(fixed).name}”的文件，"
                "两者可能是同一份统计表解压了两次，请核对后只保留一个。"
            )
        else:
            free.append(name)
    if free:
        shown = "、".join(shown_name(n) for n in free[:10]) + (f"等 {len(free)} 个文件" if len(free) > 10 else "")
        out.insert(
            0,
            f"{shown}：多见于在中文 Windows 上制作、解压时文件名没有按 GBK 编码识别的 zip 压缩包，"
            "“应为”后是按 GBK 编码识别出的原名；"
            f"建议改为{'各自“应为”后的' if len(free) > 1 else '这个'}名称，再重新运行（gkreport 不会改动输入文件）。",
        )
    return out


def _not_a_workbook(rel: str, opts: BatchOptions) -> Record:
    """A file of the input folder that is no workbook (.docx, .pdf, .zip …): 无法读取, with the hint."""
    from .reader import not_a_workbook

    return Record(input=rel, hash="", status=Status.UNREADABLE, reason=not_a_workbook(rel), options=opts.key())


def run_batch(opts: BatchOptions, progress: ProgressFn | None = None, hold: Set[str] = frozenset()) -> BatchResult:
    """Process every workbook of ``opts.input_dir``; see the module docstring for the layout. Every
    other file there (.docx, .pdf, .zip …; not lock, hidden or system files) is listed as 无法读取
    with what to do about it.

    ``hold``: input paths (relative, as the OS gives them) still being written; they keep their
    last result this time. Raises :class:`OutputError` when the output folder cannot be used at all.
    """
    with stop_on_signals(), output_folder(opts) as lock:
        return _run(opts, progress, hold, stopped=bool(lock.get("left_by")))


def _run(opts: BatchOptions, progress: ProgressFn | None, hold: Set[str], stopped: bool = True) -> BatchResult:
    """``stopped``: the last run on the output folder may have ended without cleaning up (its lock
    was not released): the whole output folder is searched for temp files it left."""
    from .reader import read_file_bytes

    start = time.perf_counter()
    head, manifest = _read_manifest(opts)
    _same_input(opts, head, manifest)
    stopped = stopped or (opts.output_dir / PENDING).exists()  # a run stopped while it was writing
    _apply_journal(opts, head, manifest)
    problems: list[str] = []
    try:
        save_settings(opts.output_dir, opts.settings())
    except OSError as exc:
        problems.append(
            f"设置（{readable_name(opts.output_dir / SETTINGS)}）未能保存：{os_reason(exc)}。"
            "下次不带选项运行时不会沿用本次的设置。"
        )
    _clean_temp_files(opts, everywhere=stopped)
    locks: list[Path] = []
    listed = input_files(opts.input_dir, exclude=opts.output_dir, locks=locks)
    own = {Path(p).resolve() for p in (opts.roster, opts.wording) if p}  # kept beside the workbooks: not submissions
    files, odd_names, garbled = _input_names([p for p in listed if not own or p.resolve() not in own], opts.input_dir)
    _warm_workers(opts, len(files), any(rel not in manifest for _, _, rel in files))
    spec_hashes = _SpecHashes()
    clock = fs_clock(opts.output_dir / ".gkreport")  # before any file is stat'ed (see fileio: stat stamps)
    input_stamps: dict[str, tuple[str, list[int]]] = {}  # input processed now → (its hash, its stamp)
    records: dict[str, Record] = {}
    todo: list[tuple[str, str, str]] = []
    unreadable: list[Record] = []
    stale: dict[str, dict[str, str]] = {}  # input → outputs of its last run that could not be deleted
    # input → its last record's unit, year and outputs changed by hand, kept aside (listed on)
    carried: dict[str, tuple[str | None, int | None, dict[str, str]]] = {}
    # the run's own outputs changed by hand, kept aside, and those of inputs that are gone
    hand_edited = [e for e in head.get("hand_edited") or () if _still_there(opts, e)]

    def retire(rel: str, old: Record) -> dict[str, str]:
        """Remove an input's last outputs (its hand-edited ones kept aside, listed on)."""
        left = _remove_outputs(opts, old)
        carried[rel] = (old.unit, old.year, old.hand_edited)
        return left

    for p, raw, rel in files:
        # taken out of the last run's records as each input is seen: a record replaced by new work is
        # then freed (all of them with --force or a changed form: as much memory as the new records)
        if raw in hold:
            if rel in manifest:
                records[rel] = manifest.pop(rel)
            continue
        old = manifest.pop(rel, None)
        if not is_workbook(p):  # listed as 无法读取 with what to do; never read, so a rerun costs nothing
            other = _not_a_workbook(rel, opts)
            if old is not None and (old.status, old.reason, old.outputs) == (other.status, other.reason, {}):
                records[rel] = old  # as last time: 未变化跳过, not new work
            else:
                if old is not None:
                    stale[rel] = retire(rel, old)
                unreadable.append(other)
            continue
        try:
            st: os.stat_result | None = os.stat(p)
        except OSError:
            st = None
        stamp = None
        if old is not None and old.hash and st is not None and unchanged_by_stamp(p, old.input_stamp):
            digest = old.hash  # the same file, not changed since its bytes were hashed (fileio: stat stamps)
            stamp = old.input_stamp
        elif (old is None or opts.force) and st is not None and stat.S_ISREG(st.st_mode):
            # processed whatever its bytes are: the worker hashes them as it reads them (read once, not
            # twice, and the workers start sooner); it also tells a file that changes meanwhile
            digest = ""
            stamp = settled_stamp(st, clock)  # stat'ed after the clock; the worker reads after the stat
        else:
            try:  # a locked, vanished, oversized or non-regular file (a pipe would block) is reported, not read
                digest = hashlib.sha256(read_file_bytes(p)).hexdigest()
            except ReadError as exc:
                if old is not None:
                    stale[rel] = retire(rel, old)
                unreadable.append(
                    Record(input=rel, hash="", status=Status.UNREADABLE, reason=exc.message, options=opts.key())
                )
                continue
            if st is not None:
                stamp = settled_stamp(st, clock)  # stat'ed after the clock, read after the stat
        if _unchanged(old, digest, opts, spec_hashes, clock):
            old.input_stamp = stamp  # type: ignore[union-attr]
            records[rel] = old  # type: ignore[assignment]
        else:
            if old is not None:
                stale[rel] = retire(rel, old)
            if stamp is not None:
                input_stamps[rel] = (digest, stamp)
            todo.append((str(p.resolve()), rel, digest))
    retired: list[dict[str, Any]] = []  # inputs of the last run that are gone, their outputs removed
    present = {rel for _, _, rel in files}
    for rel, old in manifest.items():
        if rel not in present:
            left = _remove_outputs(opts, old)  # the input is gone: its derived outputs would mislead
            hand_edited += [
                {"file": p, "kept_as": k, "unit": old.unit, "year": old.year} for k, p in old.hand_edited.items()
            ]
            retired.append(
                {"input": rel, "unit": old.unit, "year": old.year, "removed": bool(old.outputs) and not left}
            )
            if left:
                problems.append(_not_deleted(opts, left, f"输入文件 {rel} 已不在输入文件夹中，它"))
    manifest.clear()
    old = None  # the loops' last record, freed too
    total, skipped = len(files), len(records)
    if progress:
        for rec in records.values():
            progress("skip", rec, len(records), total)
    for rec in unreadable:
        _keep_stale(opts, rec, stale, carried, hand_edited)
        records[rec.input] = rec
        if progress:
            progress("done", rec, len(records), total)
    previous, messages = _read_previous(opts.previous_dir)
    if odd_names:
        shown = "、".join(odd_names[:10]) + (f"等 {len(odd_names)} 个文件" if len(odd_names) > 10 else "")
        messages.append(
            f"{shown}的文件名不是 UTF-8 编码（多见于在 Windows 上制作、在其他系统上解压的压缩包），"
            "已按 GBK 编码识别显示；建议把这些文件改名后重新运行。"
        )
    messages += garbled_names_note([(rel, opts.input_dir / rel) for rel in garbled])
    held = open_elsewhere([p for p, _, _ in files], locks)
    if held:
        by_path = {p: rel for p, _, rel in files}
        messages.append(open_elsewhere_note([shown_name(by_path[p]) for p in held]))
    run_outputs: dict[str, dict[str, Any]] = dict(head.get("outputs") or {})  # the last run's, until replaced
    stage: defaultdict[str, float] = defaultdict(float)
    last_save = time.monotonic()
    save_every = 2.0
    worker_peak = 0.0

    def done(batch: list[Record]) -> None:
        nonlocal last_save, save_every
        stop_if_asked()  # a Ctrl-C swallowed on the way stops the run here, these units not yet taken
        for rec in batch:
            if type(rec.values) is tuple and rec.values:
                rec.values = PackedRow(rec.values)  # held for every input until the run ends
            hashed, stamp = input_stamps.get(rec.input, ("", None))
            if rec.hash and (rec.hash == hashed or (rec.input in input_stamps and not hashed)):
                rec.input_stamp = stamp  # of the bytes hashed here, or by the worker after the stat
            _keep_stale(opts, rec, stale, carried, hand_edited)
            records[rec.input] = rec
            if progress:
                progress("done", rec, len(records), total)
        if time.monotonic() - last_save > save_every:
            t = time.monotonic()
            with contextlib.suppress(OSError):  # a full disk: tried again later, and reported at the end
                _save_manifest(opts, records, run_outputs, {"summary": None, "hand_edited": hand_edited})
            last_save = time.monotonic()
            save_every = max(2.0, 20 * (last_save - t))  # saving takes at most ~5 % of the parent's time

    def timed(batch: list[Record]) -> None:
        for rec in batch:
            for k, v in rec.seconds.items():
                stage[k] += v

    jobs = max(1, opts.jobs or os.cpu_count() or 1)
    summaries: list[Path] = []
    reports: list[Path] = []
    years: list[YearResult] = []
    attention: dict[str, str] = {}
    summary_state: dict[str, Any] | None = None  # what the summaries written say (see _summary_state)
    beside: _Beside | None = None  # the 审核报告 being written by a child process
    reports_begun = False  # the 审核报告 are being rewritten and not yet recorded as written
    try:
        if todo:
            _journal(opts, inputs=[rel for _, rel, _ in todo])
            _sync_claims(opts, records)  # the folders of the units kept; the others are claimed anew
            # even two or three big files go to the pool, which the fork server has usually made ready meanwhile
            chunks = _chunks(todo, jobs, opts.chunk_size)
            if jobs == 1 or len(chunks) == 1:
                _init_previous_in_process(previous)
                for chunk in chunks:
                    timed(_process_chunk(chunk, opts, on_record=lambda rec: done([rec])))
            else:
                warm = threading.Thread(target=_load_summary_modules, name="gkreport-warm", daemon=True)
                # the pool takes the chunks in order: once no more than the last ones are left, the
                # workers are on them, and a worker that has none left leaves its core idle; the
                # loading (~0.3 s of one core) starts a little earlier, to be done when they are
                tail = max(sum(len(c) for c in chunks[-jobs:]), _WARM_LEAD * jobs)
                outstanding = [len(todo)]  # files whose records are yet to come

                def finished(batch: list[Record]) -> None:
                    done(batch)
                    timed(batch)
                    outstanding[0] -= len(batch)
                    if warm.ident is None and len(todo) <= _WARM_AT_TAIL_UP_TO and outstanding[0] <= tail:
                        # a bigger batch: what the summaries need loads while the last chunks are done
                        # (not sooner: it is about 50 MB more while the workers run)
                        warm.start()

                if len(todo) <= _WARM_SUMMARY_UP_TO:
                    # a small batch waits mostly for fixed costs: what the summaries need loads in a
                    # thread while the fork server starts and the workers work
                    warm.start()
                worker_peak = _run_pool(chunks, opts, jobs, previous, finished, notices=messages)
                if warm.ident is not None:
                    warm.join()
                if len(todo) >= _FREE_FORK_SERVER_FROM:
                    _stop_fork_server()
        stop_if_asked()
        _mark_duplicates(opts, records)
        messages += _settle_folders(opts, records)
        messages += _without_last_year(opts, previous, records)
        t = time.perf_counter()
        summaries_done = False
        # the summaries changed by hand since written are kept aside before anything overwrites them
        intact: set[str] = set()
        summary_files = {p: i for p, i in run_outputs.items() if Path(p).parent.name == SUMMARY_DIR}
        moved, unmovable = keep_hand_edits(opts.output_dir, summary_files, intact)
        for rel, kept in moved.items():
            run_outputs.pop(rel)
            hand_edited.append({"file": rel, "kept_as": kept, "unit": None, "year": _year_of(rel)})
        _list_hand_edits(opts, records)
        key = _summary_key(opts, records, hand_edited)
        last = head.get("summary") or {}
        reuse = not opts.force and not unmovable and last.get("key") == key and _intact(opts, last, run_outputs, intact)
        if not reuse and not opts.pdf and jobs > 1:
            # the 审核报告 are written on the other core while the summaries are written here: they are
            # written anew anyway, and the summaries change nothing they list (a PDF run adds the PDFs)
            edited_now = hand_edited_entries(records.values(), hand_edited)
            reports_begun = _begin_reports(opts, run_outputs)
            beside = _Beside(lambda: _write_reports(opts, records, edited_now), len(records))
        try:
            if unmovable:
                raise OSError(errno.EACCES, next(iter(unmovable.values())))
            restored = _restore_summaries(opts, last) if reuse else None
            if restored is not None:  # nothing they sum or show changed, and they are as written
                summaries, summary_messages, years, attention = restored
                unchanged_summaries = {p: run_outputs[p] for p in last["files"]}
            else:
                reuse = False
                _journal(opts, outputs=summary_files)
                summaries, summary_messages, years, attention = _write_summaries(opts, records)
                unchanged_summaries = {}
            messages += summary_messages
            summaries_done = True
        except Exception as exc:
            if _os_error(exc) is None:
                raise
            unchanged_summaries = {}
            what = f"汇总表和{opts.summary_unit}的汇总年度报告" if opts.summary_unit else "汇总表"
            problems.append(
                f"{what}未能写出（{_write_error(exc)}，{readable_name(opts.output_dir)}）：各年度“{SUMMARY_DIR}”文件夹中"
                f"的{what}可能仍是上一次生成的，不反映本次的输入，请勿使用。处理后重新运行本命令即可。"
            )
        stage["summary"] += time.perf_counter() - t
        summary_pdf_made = True
        if opts.pdf:  # the units' new reports and the summary reports: one LibreOffice run
            district = [] if reuse else [p for p in summaries if p.suffix == ".docx"]
            pdf_seconds, made, why = _make_pdfs(opts, records, {r for _, r, _ in todo}, district)
            stage["pdf"] += pdf_seconds
            summaries += made
            if why:
                summary_pdf_made = False
                problems.append(f"汇总年度报告的 PDF 未能生成：{why}")
        if reuse and _intact(opts, {"files": last.get("reports")}, run_outputs, set()):
            # 审核报告 say what the records say: as written last time (their time is of the last change)
            reports = [opts.output_dir / p for p in last["reports"]]
            unchanged_summaries.update({p: run_outputs[p] for p in last["reports"]})
        else:
            if beside is not None:
                reports, report_problems = beside.result()
            else:
                reports_begun = _begin_reports(opts, run_outputs)
                reports, report_problems = _write_reports(
                    opts, records, hand_edited_entries(records.values(), hand_edited)
                )
            problems += report_problems
        run_outputs, notes = _replace_run_outputs(
            opts,
            run_outputs,
            [p for p in summaries + reports if os.path.relpath(p, opts.output_dir) not in unchanged_summaries],
            summaries_done,
            unchanged_summaries,
        )
        reports_begun = False  # recorded as written
        messages += notes
        if summaries_done and summary_pdf_made and not problems:
            # the key of the records as they are now (a PDF made or not changes them; what the summaries
            # were written from differs only in that, which they do not show)
            key = _summary_key(opts, records, hand_edited)
            summary_state = _summary_state(opts, key, summaries, reports, summary_messages, years, attention)
    finally:
        if beside is not None:
            beside.stop()  # interrupted before its result was taken: the child ends with this run
        if reports_begun:  # stopped while the 审核报告 were (or may have been) rewritten: no longer as recorded
            run_outputs = {p: {} if _is_report(p) else info for p, info in run_outputs.items()}
        try:
            _save_manifest(opts, records, run_outputs, {"summary": summary_state, "hand_edited": hand_edited})
            _journal(opts, None)
        except OSError as exc:
            problems.append(
                f"处理记录（{readable_name(opts.output_dir / MANIFEST)}）未能保存：{os_reason(exc)}。"
                "下次运行会重新处理本次处理过的文件。"
            )
        if todo:  # the folders the workers claimed, as settled; a run without new work leaves them as they are
            with contextlib.suppress(OSError):  # (a run with new work makes them say so before it starts)
                _sync_claims(opts, records)
        with contextlib.suppress(OSError):
            # a worker stopped or crashed may have left temp files in the units' folders; the writes of
            # this process remove their own (fileio.atomic_path)
            _clean_temp_files(opts, everywhere=bool(todo))
    ordered = [records[k] for k in sorted(records)]
    if retired:  # a gone file whose unit and year another file gives now was replaced, not lost
        now = {(r.unit, r.year): r.input for r in ordered if r.unit and r.year and r.status not in NOT_USED}
        for e in retired:
            e["replaced_by"] = now.get((e["unit"], e["year"])) if e["unit"] else None
    return BatchResult(
        ordered,
        processed=len(todo) + len(unreadable),
        skipped=skipped,
        removed=len(retired),
        retired=retired,
        summaries=summaries,
        reports=reports,
        elapsed=time.perf_counter() - start,
        stage_seconds=dict(stage),
        messages=messages,
        worker_peak_mb=worker_peak,
        years=years,
        attention=attention,
        problems=problems,
        hand_edited=hand_edited_entries(ordered, hand_edited),
    )


PENDING = Path(".gkreport") / "pending.json"


def _journal(opts: BatchOptions, inputs: Iterable[str] | None = (), outputs: Iterable[str] = ()) -> None:
    """Note the inputs being redone and the run's files being rewritten before they are (None: the
    manifest now says all). A run stopped hard (power cut, kill -9) before saving the manifest
    leaves this note: the next run then does not take files it wrote itself for hand edits
    (:func:`_apply_journal`)."""
    path = opts.output_dir / PENDING
    if inputs is None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    now = _read_journal(opts)
    more_inputs = set(inputs) - set(now["inputs"])
    more_outputs = set(outputs) - set(now["outputs"])
    if not more_inputs and not more_outputs:
        return
    data = {"inputs": sorted({*now["inputs"], *more_inputs}), "outputs": sorted({*now["outputs"], *more_outputs})}
    atomic_write_text(path, json.dumps(data, ensure_ascii=False))


def _is_report(rel: str) -> bool:
    return Path(rel).stem == RECORDS


def _begin_reports(opts: BatchOptions, run_outputs: Mapping[str, Any]) -> bool:
    """Note the last 审核报告 as being rewritten (see :func:`_journal`): a run stopped before it records
    the new ones must not take them for hand edits. Returns True: the reports are begun."""
    with contextlib.suppress(OSError):  # a full disk: the manifest still says so unless killed hard
        _journal(opts, outputs=[p for p in run_outputs if _is_report(p)])
    return True


def _read_journal(opts: BatchOptions) -> dict[str, list[str]]:
    try:
        data = json.loads((opts.output_dir / PENDING).read_text(encoding="utf-8"))
        return {k: [str(x) for x in data.get(k) or ()] for k in ("inputs", "outputs")}
    except (OSError, ValueError, TypeError, AttributeError):
        return {"inputs": [], "outputs": []}


def _apply_journal(opts: BatchOptions, head: dict[str, Any], manifest: dict[str, Record]) -> None:
    """Files a stopped run may have rewritten are no longer known as written (they are redone, and
    never taken for hand edits)."""
    pending = _read_journal(opts)
    for rel in pending["inputs"]:
        rec = manifest.get(rel)
        if rec is not None:
            rec.written = {p: {} for p in rec.written}
            rec.stamps = {}
    outputs = head.get("outputs") or {}
    for rel in pending["outputs"]:
        if rel in outputs:
            outputs[rel] = {}


def _still_there(opts: BatchOptions, entry: Any) -> bool:
    return (
        isinstance(entry, dict) and bool(entry.get("kept_as")) and os.path.lexists(opts.output_dir / entry["kept_as"])
    )


def _year_of(rel: str) -> int | None:
    first = Path(rel).parts[0] if Path(rel).parts else ""
    return int(first) if first.isdigit() else None


def _list_hand_edits(opts: BatchOptions, records: dict[str, Record]) -> None:
    """Forget the hand-edited copies that are no longer there (moved or deleted by their owner)."""
    for rec in records.values():
        if rec.hand_edited:
            rec.hand_edited = {k: p for k, p in rec.hand_edited.items() if os.path.lexists(opts.output_dir / k)}


def hand_edited_entries(records: Iterable[Record], run_level: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every output kept as 手工修改: {"file", "kept_as", "unit", "year"}, the units' first."""
    out = [
        {"file": p, "kept_as": k, "unit": r.unit, "year": r.year}
        for r in sorted(records, key=lambda r: r.input)
        for k, p in r.hand_edited.items()
    ]
    return out + [dict(e) for e in run_level]


def _summary_key(opts: BatchOptions, records: dict[str, Record], hand_edited: list[dict[str, Any]]) -> str:
    """What the summaries and 审核报告 depend on: the settings, the roster, the input folder's name,
    the files kept as 手工修改, and each record as it stands (an input's hash, form spec and options
    give its values and findings; its status and reason say how it is summed or listed)."""
    h = hashlib.sha256()
    head = [opts.key(), _file_digest(opts.roster), opts.summary_unit, readable_name(opts.input_dir), hand_edited]
    h.update(json.dumps(head, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass"))
    for key in sorted(records):
        r = records[key]
        h.update(
            json.dumps(
                [
                    key,
                    r.hash,
                    str(r.status),
                    r.unit,
                    r.year,
                    r.form,
                    r.spec_hash,
                    r.options,
                    r.reason,
                    r.outputs,
                    r.hand_edited,
                ],
                ensure_ascii=False,
                default=str,
            ).encode("utf-8", "surrogatepass")
        )
    return h.hexdigest()


def _intact(opts: BatchOptions, last: Mapping[str, Any], run_outputs: Mapping[str, Any], checked: set[str]) -> bool:
    """The summaries recorded in ``last`` are all there as written (``checked``: found so already)."""
    files = last.get("files")
    if not isinstance(files, list):
        return False
    for rel in files:
        want = run_outputs.get(rel)
        if not want:
            return False
        if rel not in checked and _changed_since_written(opts.output_dir / rel, want) is not False:
            return False
    return True


def _summary_state(
    opts: BatchOptions,
    key: str,
    summaries: list[Path],
    reports: list[Path],
    messages: list[str],
    years: list[YearResult],
    attention: dict[str, str],
) -> dict[str, Any]:
    """What the summaries written say, kept in the manifest: a run with the same key finds them
    as written and gives the same results without writing them again."""
    out = opts.output_dir

    def rel(p: Path | None) -> str | None:
        return None if p is None else os.path.relpath(p, out)

    return {
        "key": key,
        "files": [rel(p) for p in summaries],
        "reports": [rel(p) for p in reports],
        "messages": messages,
        "attention": attention,
        "years": [
            {
                "year": y.year,
                "form": y.form,
                "workbook": rel(y.workbook),
                "report": rel(y.report),
                "summed": y.summed,
                "mapped": y.mapped,
                "unsummed": [list(u) for u in y.unsummed],
                "errors": y.errors,
                "warnings": y.warnings,
                # read back as Submission(**…) by _restore_summaries
                "submissions": None if y.submissions is None else [asdict(s) for s in y.submissions],
                "unlisted": {k: list(v) for k, v in y.unlisted.items()},
            }
            for y in years
        ],
    }


def _restore_summaries(
    opts: BatchOptions, state: Mapping[str, Any]
) -> tuple[list[Path], list[str], list[YearResult], dict[str, str]] | None:
    """The results of :func:`_write_summaries` as the last run wrote them (see :func:`_summary_state`);
    None when the manifest does not hold them whole."""
    try:
        return _restored(opts, state)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _restored(
    opts: BatchOptions, state: Mapping[str, Any]
) -> tuple[list[Path], list[str], list[YearResult], dict[str, str]]:
    from .roster import Submission

    out = opts.output_dir

    def path(p: str | None) -> Path | None:
        return None if p is None else out / p

    years = [
        YearResult(
            year=y["year"],
            form=y["form"],
            workbook=path(y["workbook"]),
            report=path(y["report"]),
            summed=list(y["summed"]),
            mapped=list(y["mapped"]),
            unsummed=[(u, why) for u, why in y["unsummed"]],
            errors=y["errors"],
            warnings=y["warnings"],
            submissions=None
            if y["submissions"] is None
            else [
                Submission(
                    **{
                        **s,
                        "files": tuple(s["files"]),
                        "near": tuple(s.get("near", ())),
                        "other_years": tuple((f, yr) for f, yr in s.get("other_years", ())),
                    }
                )
                for s in y["submissions"]
            ],
            unlisted={k: tuple(v) for k, v in y["unlisted"].items()},
        )
        for y in state["years"]
    ]
    return [out / p for p in state["files"]], list(state["messages"]), years, dict(state["attention"])


def _replace_run_outputs(
    opts: BatchOptions,
    before: dict[str, dict[str, Any]],
    written: list[Path],
    summaries_done: bool,
    unchanged: Mapping[str, dict[str, Any]] | None = None,
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The run's files as written now; those of the last run not written again (a year no unit is of
    any more, a form no longer used) are deleted — unless changed by hand since, which is said. When
    the summaries could not be written, the last ones stay recorded (the problem is reported)."""
    out = opts.output_dir
    now: dict[str, dict[str, Any]] = dict(unchanged or {})  # found as written, not written again
    for p in written:
        with contextlib.suppress(OSError):
            now[os.path.relpath(p, out)] = file_digest(p)
    messages = []
    for rel, info in before.items():
        if rel in now:
            continue
        path = out / rel
        if not summaries_done and Path(rel).parent.name == SUMMARY_DIR:
            # the writing stopped part way: still ours, but perhaps no longer as recorded (those changed
            # by hand were kept aside before), so not taken for hand edits and never reused as they are
            now[rel] = {}
            continue
        try:
            if info and file_digest(path) != info:  # {}: written by a run that stopped part way
                messages.append(
                    f"{readable_name(path)} 已不反映当前的输入，但它在生成后被修改过，没有删除；请核对后手工处理。"
                )
                continue
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            now[rel] = info  # tried again next time
            messages.append(f"{readable_name(path)} 已不反映当前的输入，但无法删除（{os_reason(exc)}）。")
            continue
        for parent in Path(rel).parents:  # 2017/汇总, 2017 — once empty
            if parent != Path("."):
                with contextlib.suppress(OSError):
                    (out / parent).rmdir()
    return now, messages


def _not_deleted(opts: BatchOptions, left: dict[str, str], what: str) -> str:
    files = "、".join(readable_name(opts.output_dir / p) for p in list(left)[:5]) + ("等" if len(left) > 5 else "")
    return (
        f"{what}生成的 {files} 无法删除（{next(iter(left.values()))}），这些文件不反映当前的输入；"
        "处理后重新运行本命令即可删除。"
    )


def _keep_stale(
    opts: BatchOptions,
    rec: Record,
    stale: dict[str, dict[str, str]],
    carried: dict[str, tuple[str | None, int | None, dict[str, str]]],
    run_level: list[dict[str, Any]],
) -> None:
    """Outputs of the input's last run that could not be deleted stay the record's (so that a later
    run deletes them) unless this run wrote the same file anew; the unit is then not done. Its
    outputs changed by hand and kept aside stay listed: with the record when the input is still the
    same unit's report of the same year, else with the run (under the unit whose report they are)."""
    unit, year, kept = carried.pop(rec.input, (None, None, {}))
    if kept and (unit, year) == (rec.unit, rec.year):
        rec.hand_edited = {**kept, **rec.hand_edited}
    elif kept:
        run_level += [{"file": p, "kept_as": k, "unit": unit, "year": year} for k, p in kept.items()]
    left = {p: why for p, why in stale.pop(rec.input, {}).items() if p not in rec.written}
    if not left:
        return
    for p in left:
        rec.written[p] = {}
    rec.status = Status.UNWRITABLE
    note = _not_deleted(opts, left, "上一次运行")
    rec.reason = f"{rec.reason}；{note}" if rec.reason else note


_WARM_SUMMARY_UP_TO = 1000  # files to process
# files to process: beyond, the parent holds so many records that loading the summaries' modules
# while the workers still run would raise the run's peak memory (which comes with the summaries)
_WARM_AT_TAIL_UP_TO = 5000
_WARM_LEAD = 100  # files per worker: what is left when the summaries' modules start loading in a bigger batch


_BESIDE_UP_TO = 5000  # records: beyond, the child's copy of what it reads costs more memory than its time is worth


class _Beside:
    """``work`` (file writing that only reads this process's data) started in a forked child, so that
    it runs on another core while this process goes on; :meth:`result` waits for it.

    Where a child cannot be forked (not Linux, a batch too big to copy cheaply, the system refuses)
    or the child fails in any way (an exception, killed, a result that cannot be read), ``work``
    is simply done here when its result is asked for: what it writes is the same either way, so a
    failure there costs only time, and anything ``work`` reports or raises is reported or raised
    here as without a child. :meth:`stop` (on an interruption) ends a child still running."""

    def __init__(self, work: Callable[[], Any], records: int):
        self.work = work
        self.pid = 0
        self.rfd = -1
        self.parent = os.getpid()
        if not sys.platform.startswith("linux") or records > _BESIDE_UP_TO:
            return
        import warnings

        try:
            rfd, wfd = os.pipe()
        except OSError:
            return
        import gc

        # the objects made so far are left out of the child's garbage collections: they would write to
        # every one of them and so copy the memory it shares with this process
        gc.freeze()
        try:
            with warnings.catch_warnings():  # Python 3.12+ warns of fork in a process with threads: the
                warnings.simplefilter("ignore", DeprecationWarning)  # child only writes files, takes no lock
                pid = os.fork()
        except OSError:
            os.close(rfd)
            os.close(wfd)
            return
        finally:
            if os.getpid() == self.parent:
                gc.unfreeze()
        if pid == 0:
            self._child(rfd, wfd)
        os.close(wfd)
        self.pid, self.rfd = pid, rfd

    def _child(self, rfd: int, wfd: int) -> None:
        """In the child: do the work, send its result, and exit without returning to the caller."""
        import pickle
        import signal

        code = 1
        try:
            os.close(rfd)
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; it stops this child
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            data = pickle.dumps(self.work(), protocol=pickle.HIGHEST_PROTOCOL)
            with open(wfd, "wb") as fh:
                fh.write(data)
            code = 0
        finally:
            os._exit(code)

    def result(self) -> Any:
        if not self.pid:
            return self.work()
        import pickle

        data, status = b"", 1
        try:
            fd, self.rfd = self.rfd, -1
            with open(fd, "rb") as fh:
                data = fh.read()
            _, status = os.waitpid(self.pid, 0)
            self.pid = 0
        finally:
            self.stop()
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            with contextlib.suppress(Exception):
                return pickle.loads(data)
        return self.work()

    def stop(self) -> None:
        if self.rfd >= 0:
            fd, self.rfd = self.rfd, -1
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.pid:
            import signal

            pid, self.pid = self.pid, 0
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.waitpid(pid, 0)


def _load_summary_modules() -> None:
    """Import and load what the summaries and 审核报告 use: the modules (pandas among them), the
    forms' compiled rules, the finding catalogue and the default wording. Anything that fails
    here is simply done again where it is used, and reported there."""
    import importlib

    with contextlib.suppress(Exception):
        importlib.import_module("pandas")  # the sums are grouped with it (aggregate imports it when used)
        for name in ("checks", "summary", "aggregate", "sentences", "xlsx_out", "catalogue"):
            importlib.import_module(f"{__package__}.{name}")
        from .catalogue import codes
        from .sentences import load_wording
        from .spec import compiled, load_forms

        codes()
        for form in load_forms().values():
            compiled(form)
            load_wording(form)


def _init_previous_in_process(previous: dict) -> None:
    global _PREVIOUS
    _PREVIOUS = previous


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (0 where the platform does not tell)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KB elsewhere


def _pool_chunk(items: list[tuple[str, str, str]], opts: BatchOptions) -> tuple[list[Record], float]:
    """A chunk in a worker process: its records and the worker's peak memory so far (a
    worker is a child of the fork server, so the parent cannot see its resource usage)."""
    records = _process_chunk(items, opts)
    return records, peak_rss_mb()


def _worker_context() -> Any:
    """Workers forked from a fork server that has imported what they need (gkreport.worker_preload)."""
    import multiprocessing as mp

    if _STOPPING is not None:  # a new fork server and tracker only once the last ones are stopped
        _STOPPING.join()
    if not hasattr(os, "fork"):  # pragma: no cover - Windows
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["__main__", "gkreport.worker_preload"])
    return ctx


def _warm_workers(opts: BatchOptions, n_files: int, new_files: bool) -> None:
    """Start the fork server now, so that it loads the workers' modules while this process lists
    and hashes the files. Only when there is likely work for a pool: new files or ``--force``
    (a rerun with nothing changed must not pay for it)."""
    jobs = max(1, opts.jobs or os.cpu_count() or 1)
    if jobs == 1 or n_files < 2 or not (new_files or opts.force):
        return
    ctx = _worker_context()
    if ctx.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        with contextlib.suppress(Exception):  # the pool starts it later anyway, and reports what fails
            forkserver.ensure_running()


WORKERS_FAILED = (
    "处理程序的工作进程无法正常运行（可能被安全软件拦截，或内存不足），其余 {n} 个文件改在主进程中逐个处理；"
    "结果不受影响，只是较慢。"
)
NO_WORKERS = "无法创建处理程序的工作进程（{why}），{n} 个文件改在主进程中逐个处理；结果不受影响，只是较慢。"


def _run_pool(
    chunks, opts: BatchOptions, jobs: int, previous: dict, done, worker=None, notices: list[str] | None = None
) -> float:
    """Run the chunks on ``jobs`` worker processes; returns the largest peak RSS (MB) a worker reported.

    A file whose worker dies is tried again alone; when it kills that worker too, it is reported as
    one that crashed the reader, but only once a fresh worker has shown that workers can work at all:
    when they cannot (security software ending them, no memory), every file would be called damaged,
    which would be false. The files left are then done in this process, and ``notices`` says so."""
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    ctx = _worker_context()

    def new_pool(n: int):
        return ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init_worker, initargs=(previous,))

    worker = worker or _pool_chunk
    peak = 0.0

    def in_this_process(items: list[tuple[str, str, str]], why: str | None = None) -> float:
        if notices is not None:
            said = WORKERS_FAILED if why is None else NO_WORKERS
            notices.append(said.format(n=len(items), why=why))
        _init_previous_in_process(previous)
        _process_chunk(items, opts, on_record=lambda rec: done([rec]))
        return peak

    futures = {}
    pool = None
    try:
        pool = new_pool(jobs)
        futures[pool.submit(worker, chunks[0], opts)] = chunks[0]
    except (OSError, NotImplementedError) as exc:  # no worker processes here at all (no semaphores, no fork server)
        if pool is not None:  # a first worker may have started before the next one could not
            _stop_pool(pool)
        why = os_reason(exc) if isinstance(exc, OSError) else "此系统不支持"
        return in_this_process([item for c in chunks for item in c], why)
    unfinished: list[tuple[str, str, str]] = []
    for c in chunks[1:]:
        try:
            futures[pool.submit(worker, c, opts)] = c
        except BrokenProcessPool:  # a worker died already (a file crashed it): the rest go one by one below
            unfinished.extend(c)
    try:
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                try:
                    records, worker_peak = f.result()
                except BrokenProcessPool:
                    unfinished.extend(futures[f])
                    continue
                peak = max(peak, worker_peak)
                done(records)
    except BaseException:  # Ctrl-C, SIGTERM: the workers stop now, not after their chunks
        _stop_pool(pool)
        raise
    if not unfinished:
        pool.shutdown(wait=True)
        return peak
    # A worker died (a file crashed the parser): the broken pool's other workers are ended (waiting
    # for them to be shut down can hang: the pool's manager may wait on a worker that is gone), and
    # the unfinished files are redone one at a time in a single worker, so that the file that kills
    # it again is found, reported, and the rest go on.
    _stop_pool(pool)
    pool = new_pool(1)
    try:
        for k, item in enumerate(unfinished):
            try:
                records, worker_peak = pool.submit(worker, [item], opts).result()
            except BaseException as exc:
                if not isinstance(exc, BrokenProcessPool):
                    _stop_pool(pool)
                    raise
                pool.shutdown(wait=False)
                pool = new_pool(1)
                if not _workers_work(pool, worker, opts):
                    _stop_pool(pool)
                    return in_this_process(unfinished[k:])
                _path, rel, digest = item
                records, worker_peak = (
                    [
                        Record(
                            input=rel,
                            hash=digest,
                            status=Status.UNREADABLE,
                            options=opts.key(),
                            reason=f"文件 {Path(rel).name} 读取时导致处理程序异常退出（文件可能已损坏），"
                            "请用 Excel 或 WPS 打开后另存为 .xlsx 再试。",
                        )
                    ],
                    0.0,
                )
            peak = max(peak, worker_peak)
            done(records)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return peak


def _workers_work(pool: Any, worker: Callable[..., Any], opts: BatchOptions) -> bool:
    """Whether a worker of ``pool`` can start and do an empty chunk (loading the forms as any chunk does)."""
    try:
        pool.submit(worker, [], opts).result(timeout=120)
    except Exception:
        return False
    return True


_FREE_FORK_SERVER_FROM = 1000  # files processed: from here the summaries' memory matters more than a warm start


def _stop_fork_server() -> None:
    """Stop the fork server once a big batch's workers are done: it holds the workers' modules
    (about 60 MB) while the summaries, which need the most memory of the run, are written. The
    next pool (watch) starts it again. Only the standard library's own stop is used; where it is
    missing, the server simply stays until the program ends. The stop (which tells the server to
    end at once, then waits for it to exit) runs in a thread: the summaries need not wait."""
    from multiprocessing import forkserver

    stop = getattr(getattr(forkserver, "_forkserver", None), "_stop", None)

    def stop_both() -> None:
        if callable(stop):
            with contextlib.suppress(Exception):
                stop()
        _stop_resource_tracker()

    global _STOPPING
    _STOPPING = threading.Thread(target=stop_both, name="gkreport-stop-workers", daemon=True)
    _STOPPING.start()


_STOPPING: threading.Thread | None = None  # the last fork server's stop (a new pool waits for it)


def _stop_resource_tracker() -> None:
    """Stop multiprocessing's resource tracker once the pool is gone: a process of its own (about
    10 MB) that would otherwise stay until the program ends, through the summaries. The pool's
    semaphores were released with it (a tracker stopped with some still registered would remove
    them and warn); a later pool starts the tracker again."""
    from multiprocessing import resource_tracker

    tracker = getattr(resource_tracker, "_resource_tracker", None)
    stop = getattr(tracker, "_stop", None)
    if callable(stop):
        with contextlib.suppress(Exception):
            stop()


def _stop_pool(pool: Any) -> None:
    """End a process pool's workers at once (they ignore Ctrl-C and would finish their chunks;
    a worker left running would keep the command's output open and its memory in use)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    answers = getattr(pool, "_result_queue", None)  # shutdown() forgets these two
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        with contextlib.suppress(Exception):
            p.terminate()
    deadline = time.monotonic() + 5
    for p in processes:
        with contextlib.suppress(Exception):
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join(1)
    # A worker ended while it was sending its records leaves half a message in the pipe the workers
    # answer on; the pool's manager thread would wait for the rest forever, and Python waits for that
    # thread before the program can exit (Ctrl-C would print 已中断 and then hang). Once every worker
    # is gone, closing this process's end of that pipe (only the workers write to it) ends the wait.
    if not any(_is_alive(p) for p in processes):
        with contextlib.suppress(Exception):
            answers._writer.close()  # type: ignore[union-attr]
    if manager is not None and manager is not threading.current_thread():
        manager.join(5)


def _is_alive(process: Any) -> bool:
    try:
        return bool(process.is_alive())
    except Exception:  # a process object already closed: it is gone
        return False


def _mark_duplicates(opts: BatchOptions, records: dict[str, Record]) -> None:
    """Two files for the same unit and year: both are reported, neither wins."""
    groups: dict[tuple[str, int], list[Record]] = defaultdict(list)
    for rec in records.values():
        if rec.status != Status.UNREADABLE and rec.unit and rec.year:
            groups[(rec.unit, rec.year)].append(rec)
    for (unit, year), recs in groups.items():
        if len(recs) < 2:
            if recs[0].status == Status.DUPLICATE:  # the other file was removed: process it again next time
                recs[0].hash = ""
            continue
        files = "、".join(r.input for r in recs)
        # the files write the same outputs (one unit, one folder): what one wrote and the other
        # then finds is the run's own writing, not a hand edit
        ours: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for rec in recs:
            for path, want in rec.written.items():
                if want:
                    ours[path].append(want)
        advice = copied_file_advice(unit, [r.input for r in recs]) or "请只保留一个后重新运行。"
        for rec in recs:
            left = _remove_outputs(opts, rec, also=ours)
            rec.status = Status.DUPLICATE
            rec.outputs = {}
            rec.written = {p: {} for p in left}  # still there: deleted by a later run
            rec.stamps = {}
            rec.reason = f"“{unit}”{year}年有多个文件（{files}），无法确定以哪个为准，均未生成报告；{advice}"


def _make_pdfs(
    opts: BatchOptions, records: dict[str, Record], fresh: set[str], extra: Sequence[Path] = ()
) -> tuple[float, list[Path], str | None]:
    """PDFs of the reports written in this run and of ``extra`` (the summary reports), in one
    LibreOffice call. They are made in a folder of this run and moved beside each .docx; a unit whose
    PDF cannot be made or moved is 无法写出 (its .docx and .xlsx stay), so that the next run makes it —
    also once LibreOffice is installed. Returns the seconds taken, the PDFs of ``extra`` that were
    made, and why those of ``extra`` could not be made (None when all were)."""
    import shutil

    from .pdf import PdfUnavailable, convert_to_pdf

    t = time.perf_counter()
    todo = [
        r
        for k, r in records.items()
        if k in fresh and r.outputs.get("docx") and r.status not in NOT_DONE and not r.outputs.get("pdf")
    ]
    if not todo and not extra:
        return 0.0, [], None
    out = opts.output_dir
    staging = out / ".gkreport" / f"pdf-{os.getpid()}"
    made_extra: list[Path] = []
    why_extra: str | None = None

    def failed(r: Record, why: str) -> None:
        r.status = Status.UNWRITABLE
        note = f"PDF 未能生成：{why}"
        r.reason = f"{r.reason}；{note}" if r.reason else note

    try:
        docx = [out / str(r.outputs["docx"]) for r in todo] + list(extra)
        slot = {str(p): staging / str(i) for i, p in enumerate(docx)}  # two units' reports may share a name
        try:
            pdfs = convert_to_pdf(docx, lambda p: slot[str(p)])
        except PdfUnavailable as exc:
            why = exc.message.rstrip("。") + "。安装或修复后重新运行本命令即可生成 PDF。"
            for r in todo:
                failed(r, why)
            return time.perf_counter() - t, [], why if extra else None
        except OSError as exc:
            why = f"{os_reason(exc)}（{readable_name(out)}）。处理后重新运行本命令即可。"
            for r in todo:
                failed(r, why)
            return time.perf_counter() - t, [], why if extra else None
        for r, made in zip(todo, pdfs):
            rel = str(Path(str(r.outputs["docx"])).with_suffix(".pdf"))
            if made is None:
                failed(r, "LibreOffice 未能转换这份年度报告。请用 Word 或 WPS 打开检查后重新运行本命令。")
                continue
            try:
                os.replace(made, out / rel)
                r.written[rel] = file_digest(out / rel)
            except OSError as exc:
                failed(r, f"{os_reason(exc)}（{readable_name(out / rel)}）。处理后重新运行本命令即可。")
                continue
            r.outputs["pdf"] = rel
        for source, made in zip(extra, pdfs[len(todo) :]):
            target = source.with_suffix(".pdf")
            if made is None:
                why_extra = f"LibreOffice 未能转换 {readable_name(source.name)}。"
                continue
            try:
                os.replace(made, target)
                made_extra.append(target)
            except OSError as exc:
                why_extra = f"{os_reason(exc)}（{readable_name(target)}）。处理后重新运行本命令即可。"
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return time.perf_counter() - t, made_extra, why_extra


def _settle_folders(opts: BatchOptions, records: dict[str, Record]) -> list[str]:
    """Give each unit the folder the rule gives it, whatever order the workers claimed in: of the
    units of a year whose folder names may be the same folder somewhere (``filename_key``), one keeps
    the plain name (:func:`_plain_first`) and the others take their tagged names; a unit alone keeps
    the plain name. Returns a line for each such group (the names and their folders)."""
    groups: dict[tuple[int, str], dict[str, list[Record]]] = defaultdict(lambda: defaultdict(list))
    names_of: dict[str, tuple[str, str]] = {}  # unit → its folder names (computed once a unit)
    for rec in records.values():
        if rec.unit and rec.year and any(rec.outputs.values()):
            if rec.unit not in names_of:
                names_of[rec.unit] = folder_names(rec.unit)
            groups[(rec.year, filename_key(names_of[rec.unit][0]))][rec.unit].append(rec)
    leaving: list[tuple[Record, Path]] = []
    arriving: list[tuple[Record, Path]] = []
    messages = []
    for (year, key), units in sorted(groups.items()):
        # which keeps the plain folder: a name that is a file name as it stands, then code-point order
        names = sorted(units, key=_plain_first) if len(units) > 1 else list(units)
        chosen = {}
        for i, name in enumerate(names):
            plain, tagged = names_of[name]
            keep = i == 0 and key not in _RESERVED_FOLDERS
            chosen[name] = Path(str(year)) / (plain if keep else tagged)
            where = str(chosen[name])
            for rec in units[name]:
                if _folder_name_of(rec) != where:
                    (arriving if keep else leaving).append((rec, chosen[name]))
        if key in _RESERVED_FOLDERS:
            messages.append(
                f"单位名称{'、'.join(f'“{n}”' for n in names)}与存放汇总表的文件夹同名，"
                f"输出放在 {'、'.join(str(chosen[n]) for n in names)} 中。"
            )
        elif len(names) > 1:
            where = "，".join(f"“{n}”在 {chosen[n]}" for n in names)
            messages.append(
                f"{year}年有 {len(names)} 个单位的名称只差文件名中不能使用的字符、大小写或全角/半角"
                f"（{'、'.join(f'“{n}”' for n in names)}），为免输出文件重名，各放在自己的文件夹中：{where}。"
            )
    for rec, folder in leaving + arriving:  # the plain folder is emptied before its unit moves in
        _move_outputs(opts, rec, folder)
    return messages


def _folder_of(rec: Record) -> Path | None:
    return next((Path(p).parent for p in rec.outputs.values() if p), None)


def _folder_name_of(rec: Record) -> str | None:
    """:func:`_folder_of` as a string (``2024/某某局``, the separator of the system), without Path objects."""
    return next((os.path.dirname(p) for p in rec.outputs.values() if p), None)


def _move_outputs(opts: BatchOptions, rec: Record, folder: Path) -> None:
    """Move a unit's outputs into ``folder``; the record follows each file moved. A file of another
    unit already there is never replaced: the unit is then 无法写出."""
    out = opts.output_dir
    old = _folder_of(rec)
    try:
        (out / folder).mkdir(parents=True, exist_ok=True)
        for kind, p in list(rec.outputs.items()):
            if not p:
                continue
            q = str(folder / Path(p).name)
            if os.path.lexists(out / q):
                raise FileExistsError(errno.EEXIST, "另一个单位的文件已在该位置", str(out / q))
            os.replace(out / p, out / q)
            rec.outputs[kind] = q
            rec.stamps.pop(p, None)  # a file renamed has a new ctime: found by its digest next time
            if p in rec.written:
                rec.written[q] = rec.written.pop(p)
    except OSError as exc:
        rec.status = Status.UNWRITABLE
        note = f"输出文件未能移入文件夹 {readable_name(out / folder)}（{os_reason(exc)}）。处理后重新运行本命令即可。"
        rec.reason = f"{rec.reason}；{note}" if rec.reason else note
    if old is not None:
        with contextlib.suppress(OSError):
            (out / old).rmdir()  # only when empty


def _sync_claims(opts: BatchOptions, records: dict[str, Record]) -> None:
    """Make ``.gkreport/claims`` say exactly which unit holds which folder, from the records: the
    workers of the next run then never write into a folder of another unit."""
    root = str(opts.output_dir / CLAIMS)
    want: dict[str, str] = {}  # claim file (path as os.path.join makes it) → unit
    for rec in records.values():
        folder = _folder_name_of(rec)
        if rec.unit and rec.year and folder is not None:
            want[os.path.join(root, str(rec.year), _claim_key(os.path.basename(folder)))] = rec.unit
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = os.path.join(dirpath, name)
            if p not in want:
                with contextlib.suppress(OSError):
                    os.unlink(p)
    for p, name in want.items():
        data = name.encode("utf-8", "surrogatepass")
        try:
            with open(p, "rb") as fh:
                if fh.read() == data:
                    continue
        except OSError:
            pass
        atomic_write_bytes(p, data, durable=False)  # rebuilt from the records by every run


def _clean_temp_files(opts: BatchOptions, everywhere: bool) -> None:
    """Remove temp files that ended processes left in the output folder (fileio.clean_temp_files). The
    units' folders are written only by the batch's workers: they are searched when a run may have
    stopped while they wrote (``everywhere``); otherwise only the folders other commands write in
    (the output folder itself, .gkreport, the years' folders, 汇总, mail's outbox)."""
    out = opts.output_dir
    if everywhere:
        clean_temp_files(out)
        return
    folders = [out, out / ".gkreport", out / "outbox"]
    with contextlib.suppress(OSError):
        for entry in os.scandir(out):
            if entry.name.isdigit() and entry.is_dir(follow_symlinks=False):
                folders += [Path(entry.path), Path(entry.path) / SUMMARY_DIR, out / CLAIMS / entry.name]
    for folder in folders:
        clean_temp_files(folder, recursive=False)


def _write_summaries(
    opts: BatchOptions, records: dict[str, Record]
) -> tuple[list[Path], list[str], list[YearResult], dict[str, str]]:
    """Each year's summary workbook(s) and, with a summary unit, its report (see
    :mod:`gkreport.summary`): the departments on the year's form and those whose older form
    converts onto it are summed into one workbook and one report; a department that cannot be
    converted is named as not summed and its form's group gets a workbook of its own (its name
    says the form). Returns the files written, messages, the years' results, and the files
    that passed but need attention (an outdated form)."""
    from .summary import summarise
    from .xlsx_out import collector_paused, summary_xlsx_name, write_summary_xlsx

    roster = None
    if opts.roster is not None:
        from .roster import read_roster

        roster = read_roster(opts.roster, need_addresses=False)
    by_year: dict[int, list[Record]] = defaultdict(list)
    for _, rec in sorted(records.items()):  # input order, whatever order the workers finished in
        if rec.year:
            by_year[rec.year].append(rec)
    # files not used, by year (a file that gave no year belongs to every year's list: it may be of any)
    failed = [r for _, r in sorted(records.items()) if r.status in NOT_USED]
    # files no year's summary holds: no unit, or a unit but no year (each year's summary names them)
    nameless = [r.input for _, r in sorted(records.items()) if not r.unit or not r.year]
    out: list[Path] = []
    messages: list[str] = []
    years: list[YearResult] = []
    attention: dict[str, str] = {}
    # a year's units, findings and workbook are many small objects alive until it is written: the
    # collector would walk them again and again and find nothing to free (see collector_paused)
    with collector_paused():
        for year, recs in sorted(by_year.items()):
            used = [r for r in recs if r.status not in NOT_USED and r.form is not None]
            # light units (see record_unit) exist only while this year is written
            forms: dict[str, Any] = {}
            units = [u for u in (record_unit(r, forms) for r in used) if u is not None]
            if not units and roster is None:
                continue
            summ = summarise(
                units,
                opts.summary_unit,
                roster=roster,
                statuses=[(r.unit, str(r.status), r.input) for r in recs if r.unit],
                unreadable=nameless,
                other_years=[
                    (r.unit, y, r.input) for y, rs in sorted(by_year.items()) if y != year for r in rs if r.unit
                ],
            )
            folder = opts.output_dir / str(year) / SUMMARY_DIR
            failures = [(r.input, r.reason or r.status) for r in failed if not r.year or r.year == year]
            report = workbook = None
            if summ.units and opts.summary_unit:
                from .docx_out import merge_report_findings, report_docx_name, write_district_docx

                written = write_district_docx(summ, folder / report_docx_name(summ.summed), wording=opts.wording)
                summ.summed.findings = merge_report_findings(summ.summed.findings, written.findings)
                report = written.path
            elif opts.summary_unit:
                messages.append(f"{year}年没有可汇总的单位，未生成{opts.summary_unit}的汇总年度报告。")
            if summ.units:
                workbook = folder / summary_xlsx_name(year)
                write_summary_xlsx(summ.units, workbook, failures, others=[x.unit for x in summ.left], summary=summ)
                out.append(workbook)
            if report is not None:
                out.append(report)
            left_groups: dict[str, list[Unit]] = defaultdict(list)
            for x in summ.left:
                left_groups[x.unit.form.id].append(x.unit)
            for group in left_groups.values():
                path = folder / summary_xlsx_name(year, group[0].form)
                rest = [u for u in units if u not in group and u is not summ.own]
                write_summary_xlsx(group, path, failures, others=rest)
                out.append(path)
                names = "、".join(u.unit or plain_name(u.file.name) for u in group)
                messages.append(
                    f"{year}年：{names}使用{group[0].form.short_name}，不能换算为{summ.form.short_name}，未汇总"
                    f"（已单独汇总到 {path.name}）；请这些单位改用{summ.form.short_name}重新报送。"
                )
            if summ.mapped:
                names = "、".join(m.original.unit or plain_name(m.original.file.name) for m in summ.mapped)
                messages.append(
                    f"{year}年：{names}使用{summ.mapped[0].original.form.short_name}，已换算为{summ.form.short_name}计入汇总，"
                    "部分栏目没有对应（见汇总表的“审核结果”）；请这些单位改用现行表样重新报送。"
                )
            for rec, u in zip(used, units):
                if u.year is not None and not u.form.applies_to(u.year) and u is not summ.own:
                    how = "已换算后计入汇总" if any(m.original is u for m in summ.mapped) else "未计入汇总"
                    attention[rec.input] = (
                        f"使用{u.form.short_name}，不适用于{u.year}年度（{how}）；请改用{summ.form.short_name}重新填报"
                    )
            findings = summ.findings
            years.append(
                YearResult(
                    year=year,
                    form=summ.form.id,
                    workbook=workbook,
                    report=report,
                    summed=[u.unit or plain_name(u.file.name) for u in summ.units],
                    mapped=[m.original.unit or plain_name(m.original.file.name) for m in summ.mapped],
                    unsummed=[(x.unit.unit or plain_name(x.unit.file.name), x.reason) for x in summ.left],
                    errors=sum(1 for f in findings if f.severity == ERROR),
                    warnings=sum(1 for f in findings if f.severity != ERROR),
                    submissions=summ.submissions,
                    unlisted=summ.unlisted,
                )
            )
    return out, messages, years, attention


def _report_rows(recs: Iterable[Record], base: Path, opts: BatchOptions) -> list[dict[str, Any]]:
    where = os.path.relpath(base, opts.output_dir)  # "." or the year's folder
    inside = "" if where == "." else where + os.sep

    def rel(p: str) -> str:
        """``os.path.relpath(output_dir / p, base)``, by cutting the prefix off where it is one."""
        q = os.path.normpath(p)
        if not os.path.isabs(q) and not q.startswith(os.pardir) and q.startswith(inside):
            return q[len(inside) :]
        return os.path.relpath(opts.output_dir / p, base)

    rows = []
    for r in recs:
        outputs = {}
        for k in ("docx", "xlsx", "pdf"):
            p = r.outputs.get(k)
            outputs[k] = rel(p) if p else None
        rows.append(
            {
                "unit": r.unit,
                "year": r.year,
                "form": r.form,
                "input": r.input,
                "input_readable": recovered_name(r.input),  # a name garbled by an unzip tool: what it should be
                "status": r.status,
                "errors": r.errors,
                "warnings": r.warnings,
                "explained": r.explained,
                "outputs": outputs,
                "reason": r.reason,
                "hand_edited": [
                    {"file": _rel_to(opts, p, base), "kept_as": _rel_to(opts, k, base)}
                    for k, p in r.hand_edited.items()
                ],
            }
        )
    return rows


def _rel_to(opts: BatchOptions, rel: str, base: Path) -> str:
    """A path relative to the output folder, as seen from ``base`` (a year's folder or the output folder)."""
    return os.path.relpath(opts.output_dir / rel, base)


HAND_EDITED_NOTE = (
    "生成后被修改过，修改后的文件已另存为“{kept}”，原文件已按当前的输入重新生成（或已不再生成）。"
    "要在重新生成后保留的文字，请写在统计表的“基本信息”表中。"
)


def _write_reports(
    opts: BatchOptions, records: dict[str, Record], hand_edited: Sequence[Mapping[str, Any]] = ()
) -> tuple[list[Path], list[str]]:
    """审核报告.json/.xlsx of each year and of the whole run; returns the files written and a line per
    file that could not be (the previous one is then deleted: mail and people read these files, and
    a stale one would speak of other inputs)."""
    from .xlsx_out import collector_paused

    with collector_paused():  # thousands of rows of small objects, alive until written (see collector_paused)
        now = datetime.now().isoformat(timespec="seconds")
        by_year: dict[int, list[Record]] = defaultdict(list)
        failed = [r for r in records.values() if not r.year]
        for r in records.values():
            if r.year:
                by_year[r.year].append(r)
        out: list[Path] = []
        problems: list[str] = []
        memo: dict[int, Any] = {}  # 审核结果 rows by finding, for the second file that lists them

        def write(path: Path, make: Callable[[], Path]) -> None:
            try:
                out.append(make())
            except Exception as exc:
                if _os_error(exc) is None:
                    raise
                try:
                    path.unlink(missing_ok=True)
                    after = "，原来的文件已删除（它说的是上一次的输入）"
                except OSError:
                    after = "，原来的文件无法删除，它说的是上一次的输入"
                problems.append(
                    f"{readable_name(path)} 未能写出（{_write_error(exc)}）{after}。处理后重新运行本命令即可。"
                )

        def both(base: Path, head: dict[str, Any], recs: list[Record], edited: Sequence[Mapping[str, Any]]) -> None:
            recs = sorted(recs, key=lambda r: r.input)
            rows = _report_rows(recs, base, opts)
            kept = [
                {
                    "status": HAND_EDITED,
                    "unit": e.get("unit"),
                    "file": _rel_to(opts, e["file"], base),
                    "kept_as": _rel_to(opts, e["kept_as"], base),
                }
                for e in edited
            ]
            text = json.dumps({**head, "hand_edited": kept, "units": rows}, ensure_ascii=False, indent=1)
            write(base / f"{RECORDS}.json", lambda: atomic_write_text(base / f"{RECORDS}.json", text))
            write(
                base / f"{RECORDS}.xlsx", lambda: write_records_xlsx(rows, recs, base / f"{RECORDS}.xlsx", kept, memo)
            )

        for year, recs in sorted(by_year.items()):
            edited = [e for e in hand_edited if e.get("year") == year or _year_of(e["file"]) == year]
            both(opts.output_dir / str(year), {"year": year, "generated": now}, recs + failed, edited)
        both(
            opts.output_dir,
            {"generated": now, "input_dir": readable_name(opts.input_dir)},
            list(records.values()),
            hand_edited,
        )
    return out, problems


def write_records_xlsx(
    rows: list[dict[str, Any]],
    recs: list[Record],
    path: Path,
    hand_edited: Sequence[Mapping[str, Any]] = (),
    memo: dict[int, Any] | None = None,
) -> Path:
    """审核报告.xlsx: one row per input file (报送情况) and one row per finding (审核结果), and when
    outputs were changed by hand, one row per file kept aside (手工修改); the sheets print
    landscape, fitted to the page width, with the header row on every page. ``memo``: the 审核结果
    rows made for these records' findings by an earlier call (the year's and the whole run's file
    list the same findings)."""
    import xlsxwriter

    from .catalogue import title_for
    from .xlsx_out import collector_paused, compact_refs, fast_rows, print_list_sheet, release_workbook, row_height

    with atomic_path(path) as tmp, collector_paused():
        wb = xlsxwriter.Workbook(
            str(tmp), {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
        )
        base = {"font_name": "宋体", "font_size": 10.5, "border": 1, "text_wrap": True, "valign": "top"}
        head = wb.add_format(
            {**base, "font_name": "黑体", "bg_color": "#E8EEF7", "align": "center", "valign": "vcenter"}
        )
        cell = wb.add_format(base)
        status_fmt = {
            Status.PASSED: wb.add_format({**base, "font_color": "#1E7B34"}),
            Status.EXPLAINED: wb.add_format({**base, "font_color": "#1E7B34"}),
            Status.ERRORS: wb.add_format({**base, "bg_color": "#F8CBAD"}),
            Status.WARNINGS: wb.add_format({**base, "bg_color": "#FFF2CC"}),
        }
        bad = wb.add_format({**base, "bg_color": "#D9D9D9", "bold": True})
        years = {row["year"] for row in rows if row["year"]}
        year = next(iter(years)) if len(years) == 1 else None  # for the footer
        ws = wb.add_worksheet("报送情况")
        cols = [
            ("输入文件", 24),
            ("单位", 18),
            ("年度", 6),
            ("表样", 7),
            ("状态", 8),
            ("错误", 5),
            ("提示", 5),
            ("年度报告", 30),
            ("统计表", 30),
            ("PDF", 16),
            ("说明", 36),
        ]
        for c, (name, width) in enumerate(cols):
            ws.write_string(0, c, name, head)
            ws.set_column(c, c, width)
        for r, row in enumerate(rows, start=1):
            vals = [
                shown_name(row["input"]),
                row["unit"] or "",
                row["year"] or "",
                row["form"] or "",
                row["status"],
                row["errors"],
                row["warnings"],
                row["outputs"]["docx"] or "",
                row["outputs"]["xlsx"] or "",
                row["outputs"]["pdf"] or "",
                "；".join(
                    [row["reason"] or ""][: 1 if row["reason"] else 0]
                    + [
                        f"{HAND_EDITED}：{e['file']} " + HAND_EDITED_NOTE.format(kept=e["kept_as"])
                        for e in row["hand_edited"]
                    ]
                ),
            ]
            for c, v in enumerate(vals):
                fmt = status_fmt.get(row["status"], bad) if c == 4 else cell
                if isinstance(v, int):
                    ws.write_number(r, c, v, fmt)
                else:
                    ws.write_string(r, c, str(v), fmt)
            ws.set_row(r, row_height((v, w) for v, (_, w) in zip(vals, cols) if isinstance(v, str)))
        ws.autofilter(0, 0, max(len(rows), 1), len(cols) - 1)
        ws.freeze_panes(1, 0)
        print_list_sheet(ws, [w for _, w in cols], "审核报告　报送情况", year, 0)
        ws2 = wb.add_worksheet("审核结果")
        cols2 = [
            ("单位", 18),
            ("输入文件", 20),
            ("级别", 6),
            ("问题", 12),
            ("位置", 24),
            ("说明", 50),
            ("应为", 8),
            ("实为", 8),
            ("建议", 20),
            ("审核说明", 24),
            ("编号", 9),
        ]
        for c, (name, width) in enumerate(cols2):
            ws2.write_string(0, c, name, head)
            ws2.set_column(c, c, width)
        r = 1
        for rec in recs:
            shown = shown_name(rec.input)
            for f in rec.findings:
                known = memo.get(id(f)) if memo is not None else None
                if known is not None:  # the same finding in the year's 审核报告 and the whole run's
                    for c, v in enumerate(known[0]):
                        ws2.write_string(r, c, v, cell)
                    ws2.set_row(r, known[1])
                    r += 1
                    continue
                where = compact_refs(f.get("cells") or [])
                hint = f.get("note") or ""
                if f.get("suggestion") is not None:
                    hint = f"建议改为 {f['suggestion']}" + (f"（{hint}）" if hint else "")
                lapsed = f.get("explanation_lapsed")
                explained = bool(f.get("explanation")) and not lapsed and f["severity"] == Severity.WARNING
                answer = f.get("explanation") or ""
                if answer and not explained:
                    answer = f"（已失效）{answer}：{lapsed}"
                vals = [
                    rec.unit or "",
                    shown,
                    "已说明" if explained else Severity(f["severity"]).zh,
                    f.get("title") or title_for(f["rule"], Severity(f["severity"]), bool(f.get("proposal"))),
                    where,
                    f["message"],
                    "" if f.get("expected") is None else str(f["expected"]),
                    "" if f.get("actual") is None else str(f["actual"]),
                    hint,
                    answer,
                    f["rule"],
                ]
                texts = [str(v) for v in vals]
                height = row_height((v, w) for v, (_, w) in zip(vals, cols2))
                if memo is not None:
                    memo[id(f)] = (texts, height)
                for c, v in enumerate(texts):
                    ws2.write_string(r, c, v, cell)
                ws2.set_row(r, height)
                r += 1
        ws2.autofilter(0, 0, max(r - 1, 1), len(cols2) - 1)
        ws2.freeze_panes(1, 0)
        print_list_sheet(ws2, [w for _, w in cols2], "审核报告　审核结果", year, 0)
        if hand_edited:
            ws3 = wb.add_worksheet(HAND_EDITED)
            cols3 = [("状态", 9), ("单位", 18), ("生成的文件", 40), ("修改后的文件另存为", 40), ("说明", 40)]
            for c, (name, width) in enumerate(cols3):
                ws3.write_string(0, c, name, head)
                ws3.set_column(c, c, width)
            for r, e in enumerate(hand_edited, start=1):
                vals = [
                    HAND_EDITED,
                    e.get("unit") or "",
                    e["file"],
                    e["kept_as"],
                    HAND_EDITED_NOTE.format(kept=Path(e["kept_as"]).name),
                ]
                for c, v in enumerate(vals):
                    ws3.write_string(r, c, str(v), status_fmt[Status.WARNINGS] if c == 0 else cell)
                ws3.set_row(r, row_height((v, w) for v, (_, w) in zip(vals, cols3)))
            ws3.freeze_panes(1, 0)
            print_list_sheet(ws3, [w for _, w in cols3], "审核报告　手工修改", year, 0)
        for sheet in wb.worksheets():
            fast_rows(sheet)
        wb.close()
        release_workbook(wb)  # freed on return, before the collector is on again
    return path


def watch_folder(
    opts: BatchOptions,
    interval: float = 2.0,
    on_record: Callable[[Record], None] | None = None,
    rounds: int | None = None,
    stop: Callable[[], bool] | None = None,
    on_result: Callable[[BatchResult], None] | None = None,
) -> None:
    """Process files as they are dropped in; a file is taken once it has stopped changing.

    Each round compares every file's size and modification time with the previous round;
    changed files are held back until they are stable, then an incremental batch runs
    (which also rebuilds the summaries). ``on_record`` gets one call per processed file (a unit
    that could not be written is tried again each round, and told again only when its result changes).
    The output folder is held for the whole watch: a batch or another watch on it waits, then
    refuses (:class:`OutputError`). Stopped (Ctrl-C, a signal) while a round is being processed, the
    ``KeyboardInterrupt`` raised has ``mid_round = True``: that round's summaries are not up to date.
    """
    with stop_on_signals(), output_folder(opts):
        _watch(opts, interval, on_record, rounds, stop, on_result)


def _watch(
    opts: BatchOptions,
    interval: float,
    on_record: Callable[[Record], None] | None,
    rounds: int | None,
    stop: Callable[[], bool] | None,
    on_result: Callable[[BatchResult], None] | None = None,
) -> None:
    last: dict[str, tuple[int, int]] = {}
    handled: dict[str, tuple[int, int]] = {}
    reported: dict[str, tuple[str, str | None]] = {}  # input → (status, reason) last told
    n = 0
    while True:
        stop_if_asked()
        current: dict[str, tuple[int, int]] = {}
        for p in input_files(opts.input_dir, exclude=opts.output_dir):  # a dropped .pdf is told too
            try:
                st = p.stat()
            except OSError:
                continue
            current[str(p.relative_to(opts.input_dir))] = (st.st_size, st.st_mtime_ns)
        changing = {rel for rel, sig in current.items() if last.get(rel) != sig}
        ready = {rel for rel, sig in current.items() if rel not in changing and handled.get(rel) != sig}
        gone = set(handled) - set(current)
        if ready or gone:

            def progress(kind: str, rec: Record | None, done: int, total: int) -> None:
                if kind == "done" and rec is not None and on_record:
                    said = (str(rec.status), rec.reason)
                    if reported.get(rec.input) != said:  # a unit tried again and failing alike: said once
                        reported[rec.input] = said
                        on_record(rec)

            try:
                result = run_batch(opts, progress, hold=changing)
            except KeyboardInterrupt as exc:  # stopped in the middle of a round: its summaries are not written
                exc.mid_round = True  # type: ignore[attr-defined]
                raise
            if opts.force:  # --force: everything once, then as usual
                opts = replace(opts, force=False)
            if on_result:
                on_result(result)
            retry = {r.input for r in result.records if r.status == Status.UNWRITABLE}
            for rel in ready:
                # a unit that could not be written is tried again next round (the disk may have room now)
                if readable_name(rel) not in retry:
                    handled[rel] = current[rel]
            for rel in gone:
                handled.pop(rel, None)
        last = current
        n += 1
        if (rounds is not None and n >= rounds) or (stop and stop()):
            return
        time.sleep(interval)
