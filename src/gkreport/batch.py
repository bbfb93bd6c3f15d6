"""The batch: every workbook of a folder → checked .xlsx and .docx per unit, summaries, records.

Output layout (``OUTPUT_DIR``)::

    <年度>/<单位>/<单位><年度>年政府信息公开工作年度报告.docx   (.pdf with --pdf)
    <年度>/<单位>/<单位><年度>年政府信息公开工作年度报告表格.xlsx (2017 form: …工作情况统计表.xlsx)
    <年度>/汇总/<年度>年政府信息公开工作汇总.xlsx             (one per form and year)
    <年度>/汇总/<汇总单位><年度>年政府信息公开工作年度报告.docx  (with --summary-unit)
    <年度>/审核报告.json, 审核报告.xlsx                       (what happened to each file of that year)
    审核报告.json, 审核报告.xlsx                              (the whole batch, unreadable files included)
    .gkreport/manifest.json                                   (per input: hash, versions, outputs, results)

Work is done in chunks by worker processes: each reads its files, checks them
together (the check engine is vectorised across the chunk) and writes their
outputs; the parent keeps compact records, writes the summaries and the
manifest. A rerun skips every input whose bytes, gkreport version, form spec
and options are unchanged; ``force`` redoes everything. Outputs are written
atomically; the manifest is saved as chunks finish, so an interrupted run
continues where it stopped.

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

import hashlib
import json
import os
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from .errors import ReadError, SpecError, StrictRefusal
from .fileio import atomic_path, atomic_write_text, clean_temp_files
from .formatting import safe_filename
from .model import ERROR, Finding, Severity, Status, Unit
from .spec import CellOrder, compiled, load_form, load_forms
from .version import __version__

MANIFEST = Path(".gkreport") / "manifest.json"
RECORDS = "审核报告"
SUMMARY_DIR = "汇总"
UNIT_FOLDER_CHARS = 80  # a unit's folder name is cut beyond this (with a tag of the whole name)
NOT_USED = (Status.UNREADABLE, Status.DUPLICATE)  # records that give no unit to summarise or send
_STATUSES = frozenset(s.value for s in Status)


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

    def key(self) -> str:
        """What, besides the input itself, changes the per-unit outputs (computed once per run)."""
        cached = self.__dict__.get("_key")
        if cached is None:
            from .sentences import wording_files_digest

            parts = [
                __version__,
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
    reason: str | None = None
    values: tuple[Any, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


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

    @property
    def exit_code(self) -> int:
        if any(r.status in NOT_USED for r in self.records):
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
    h = hashlib.sha256()
    for p in discover(Path(folder)):
        h.update(str(p).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def discover(folder: Path, exclude: Path | None = None) -> list[Path]:
    """Workbooks under ``folder`` (recursive), without Office lock files and hidden files."""
    from .reader import SUPPORTED

    out = []
    exclude = exclude.resolve() if exclude else None
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and not (exclude and Path(root, d).resolve() == exclude)
        )
        for name in sorted(files):
            if name.startswith(("~$", ".")) or Path(name).suffix.lower() not in SUPPORTED:
                continue
            out.append(Path(root) / name)
    return out


def _json_value(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)  # kept exact; restored by cell type
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def _finding_from_dict(d: dict[str, Any]) -> Finding:
    d = dict(d)
    d["cells"] = tuple(d.get("cells") or ())
    d["cell_ids"] = tuple(d.get("cell_ids") or ())
    known = Finding.__dataclass_fields__
    return Finding(**{k: v for k, v in d.items() if k in known})


class RowValues(Mapping):
    """Cell id → value of a record, read from its value row without copying it.

    Gives what a dict rebuilt from the record would: decimal cells as Decimals, other
    values as stored; a blank (or absent) cell is None.
    """

    __slots__ = ("order", "row")

    def __init__(self, order: CellOrder, row: tuple[Any, ...]):
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


def record_unit(rec: Record) -> Unit | None:
    """A light Unit (values, meta, findings) rebuilt from a record, for summaries.

    Its ``values`` is a read-only view of the record's value row (:class:`RowValues`).
    """
    if rec.status in NOT_USED or rec.form is None:
        return None
    from datetime import date

    form = load_form(rec.form)
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
        findings=[_finding_from_dict(f) for f in rec.findings],
        file_hash=rec.hash,
    )


# --------------------------------------------------------------------------- worker side


_PREVIOUS: dict | None = None


def _init_worker(previous: dict | None) -> None:
    global _PREVIOUS
    _PREVIOUS = previous
    try:  # a worker must not die on Ctrl-C before the parent has saved the manifest
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except (ValueError, OSError):  # pragma: no cover
        pass


def _process_chunk(
    items: list[tuple[str, str, str]], opts: BatchOptions, on_record: Callable[[Record], None] | None = None
) -> list[Record]:
    """Read, check and write a chunk of files. ``items``: (absolute path, relative path, hash).

    ``on_record`` (in-process runs) hears of each file as soon as its outputs are written,
    so that an interrupted run keeps everything finished so far.
    """
    from .reader import read_workbook

    t0 = time.perf_counter()
    records: list[Record] = []
    units: list[tuple[Unit, Record]] = []
    for path, rel, digest in items:
        try:
            unit = read_workbook(Path(path))
        except ReadError as exc:
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
                    hash=digest,
                    status=Status.UNREADABLE,
                    options=opts.key(),
                    reason=f"文件 {Path(path).name} 读取时出错：{type(exc).__name__}: {exc}",
                )
            )
            if on_record:
                on_record(records[-1])
            continue
        if unit.file_hash != digest:  # changed since the batch hashed it: still being copied or saved
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
    t_read = time.perf_counter()
    checked = _checked(units, list((_PREVIOUS or {}).values()))
    if on_record and len(checked) < len(units):
        kept = {id(rec) for _, rec in checked}
        for _, rec in units:
            if id(rec) not in kept:
                on_record(rec)
    units = checked
    t_check = time.perf_counter()
    t_xlsx = t_docx = 0.0
    for unit, rec in units:
        if not unit.unit or not unit.year:
            rec.status = Status.UNREADABLE
            rec.reason = "；".join(f.message for f in unit.findings if f.rule == "READ.meta" and f.severity == ERROR)
            _fill_record(rec, unit)
            continue
        try:
            a, b = _write_outputs(unit, rec, opts)
            t_xlsx += a
            t_docx += b
        except Exception as exc:  # a writer failure is reported for this unit; the batch goes on
            rec.reason = f"生成输出时出错：{type(exc).__name__}: {exc}"
        _fill_record(rec, unit)
        if on_record:
            on_record(rec)
    n = max(len(items), 1)
    for rec in records:
        rec.seconds = {
            "read": (t_read - t0) / n,
            "check": (t_check - t_read) / n,
            "xlsx": t_xlsx / n,
            "docx": t_docx / n,
        }
    return records


def _checked(units: list[tuple[Unit, Record]], previous: list[Unit]) -> list[tuple[Unit, Record]]:
    """Run the check engine over the chunk; should it fail, check unit by unit and report the one it
    cannot take, so that one strange workbook never stops the batch."""
    from .pipeline import run_checks

    saved = [list(u.findings) for u, _ in units]
    try:
        run_checks([u for u, _ in units], previous)
        return units
    except Exception:
        pass
    ok = []
    for (unit, rec), findings in zip(units, saved):
        unit.findings[:] = findings
        try:
            run_checks([unit], previous)
            ok.append((unit, rec))
        except Exception as exc:
            unit.findings[:] = findings
            rec.status = Status.UNREADABLE
            rec.reason = f"文件 {Path(unit.file).name} 审核时出错（{type(exc).__name__}），未生成报告；请检查表中是否有异常数值。"
            _fill_record(rec, unit)
    return ok


def _fill_record(rec: Record, unit: Unit) -> None:
    rec.errors = len(unit.errors)
    rec.warnings = len(unit.open_warnings)
    rec.explained = len(unit.explained)
    if rec.status != Status.UNREADABLE:
        rec.status = unit.status
    rec.values = _value_row(compiled(unit.form).cell_order, unit.values)
    rec.meta = {k: _json_value(v) for k, v in unit.meta.items()}
    rec.findings = [f.to_dict() | {"suggestion": _json_value(f.suggestion)} for f in unit.findings]


def unit_folder(opts: BatchOptions, unit: Unit) -> Path:
    return Path(str(unit.year)) / safe_filename(unit.unit or "未知单位", limit=UNIT_FOLDER_CHARS)


def _write_outputs(unit: Unit, rec: Record, opts: BatchOptions) -> tuple[float, float]:
    from .docx_out import merge_report_findings, report_docx_name, write_unit_docx
    from .explanations import apply_explanations
    from .xlsx_out import unit_xlsx_name, write_unit_xlsx

    folder = unit_folder(opts, unit)
    out = opts.output_dir / folder
    t0 = time.perf_counter()
    docx_path = folder / report_docx_name(unit)
    docx_rel: str | None = str(docx_path)
    try:
        written = write_unit_docx(unit, opts.output_dir / docx_path, strict=opts.strict, wording=opts.wording)
        # the report's findings (e.g. a missing required paragraph) go into the xlsx and the record too
        unit.findings = merge_report_findings(unit.findings, written.findings)
        apply_explanations(unit)  # a report's 提示 may have been explained too
    except StrictRefusal as exc:
        docx_rel = None
        rec.reason = str(exc)
    t1 = time.perf_counter()
    xlsx_rel = str(folder / unit_xlsx_name(unit))
    write_unit_xlsx(unit, opts.output_dir / xlsx_rel)
    t2 = time.perf_counter()
    rec.outputs = {"xlsx": xlsx_rel, "docx": docx_rel, "pdf": None}
    out.mkdir(parents=True, exist_ok=True)
    return t2 - t1, t1 - t0


# --------------------------------------------------------------------------- parent side


MANIFEST_FORMAT = 2  # 2: values as rows in each form's cell order (the order is written once per form)


def _load_manifest(opts: BatchOptions) -> dict[str, Record]:
    """The records of the last run; none for a missing, unreadable or older-format manifest
    (everything is then done again)."""
    path = opts.output_dir / MANIFEST
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            return {}
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
            rec.values = rows.get(rec.form, _no_values)(rec.values) if isinstance(rec.values, list) else ()
            if rec.status in _STATUSES:
                rec.status = Status(rec.status)
            out[key] = rec
        return out
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


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


def _save_manifest(opts: BatchOptions, records: dict[str, Record]) -> None:
    """Write the manifest atomically, one input per line, without building it in memory first."""
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
        "input_dir": str(opts.input_dir),
        "saved": datetime.now().isoformat(timespec="seconds"),
        "forms": forms,
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
                f"{sep}{json.dumps(key, ensure_ascii=False)}: {json.dumps(entry, ensure_ascii=False, default=str)}"
            )
            sep = ",\n"
        fh.write("\n}}\n")


def _unchanged(rec: Record | None, digest: str, opts: BatchOptions, spec_hashes: dict[str, str]) -> bool:
    if rec is None or rec.hash != digest or rec.options != opts.key() or rec.status in NOT_USED:
        return False
    if rec.form not in spec_hashes or spec_hashes[rec.form] != rec.spec_hash:
        return False
    return all((opts.output_dir / p).exists() for p in rec.outputs.values() if p)


def _read_previous(folder: Path | None) -> dict:
    if not folder:
        return {}
    from .pipeline import read_files

    prev = read_files(discover(folder)).units
    return {(u.unit, u.year): u for u in prev if u.unit and u.year}


def _remove_outputs(opts: BatchOptions, rec: Record) -> None:
    for p in rec.outputs.values():
        if p:
            try:
                (opts.output_dir / p).unlink()
            except OSError:
                pass


ProgressFn = Callable[[str, Record | None, int, int], None]


def run_batch(opts: BatchOptions, progress: ProgressFn | None = None, hold: Set[str] = frozenset()) -> BatchResult:
    """Process every workbook of ``opts.input_dir``; see the module docstring for the layout.

    ``hold``: input paths (relative) still being written; they keep their last result this time.
    """
    from .reader import read_file_bytes

    start = time.perf_counter()
    opts.output_dir.mkdir(parents=True, exist_ok=True)
    clean_temp_files(opts.output_dir)
    files = discover(opts.input_dir, exclude=opts.output_dir)
    manifest = {} if opts.force else _load_manifest(opts)
    spec_hashes = {fid: f.spec_hash for fid, f in load_forms().items()}
    records: dict[str, Record] = {}
    todo: list[tuple[str, str, str]] = []
    unreadable: list[Record] = []
    for p in files:
        rel = str(p.relative_to(opts.input_dir))
        if rel in hold:
            if rel in manifest:
                records[rel] = manifest[rel]
            continue
        old = manifest.get(rel)
        try:  # a locked, vanished, oversized or non-regular file (a pipe would block) is reported, not read
            digest = hashlib.sha256(read_file_bytes(p)).hexdigest()
        except ReadError as exc:
            if old is not None:
                _remove_outputs(opts, old)
            unreadable.append(
                Record(input=rel, hash="", status=Status.UNREADABLE, reason=exc.message, options=opts.key())
            )
            continue
        if _unchanged(old, digest, opts, spec_hashes):
            records[rel] = old  # type: ignore[assignment]
        else:
            if old is not None:
                _remove_outputs(opts, old)
            todo.append((str(p.resolve()), rel, digest))
    removed = 0
    present = {str(p.relative_to(opts.input_dir)) for p in files}
    for rel, old in manifest.items():
        if rel not in present:
            _remove_outputs(opts, old)  # the input is gone: its derived outputs would mislead
            removed += 1
    total, skipped = len(files), len(records)
    if progress:
        for rec in records.values():
            progress("skip", rec, len(records), total)
    for rec in unreadable:
        records[rec.input] = rec
        if progress:
            progress("done", rec, len(records), total)
    previous = _read_previous(opts.previous_dir)
    stage: defaultdict[str, float] = defaultdict(float)
    last_save = time.monotonic()
    save_every = 2.0
    worker_peak = 0.0

    def done(batch: list[Record]) -> None:
        nonlocal last_save, save_every
        for rec in batch:
            records[rec.input] = rec
            if progress:
                progress("done", rec, len(records), total)
        if time.monotonic() - last_save > save_every:
            t = time.monotonic()
            _save_manifest(opts, records)
            last_save = time.monotonic()
            save_every = max(2.0, 20 * (last_save - t))  # saving takes at most ~5 % of the parent's time

    def timed(batch: list[Record]) -> None:
        for rec in batch:
            for k, v in rec.seconds.items():
                stage[k] += v

    jobs = max(1, opts.jobs or os.cpu_count() or 1)
    try:
        if todo:
            size = opts.chunk_size or max(4, min(100, -(-len(todo) // (jobs * 4))))
            chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
            if jobs == 1 or len(chunks) == 1:
                _init_previous_in_process(previous)
                for chunk in chunks:
                    timed(_process_chunk(chunk, opts, on_record=lambda rec: done([rec])))
            else:

                def finished(batch: list[Record]) -> None:
                    done(batch)
                    timed(batch)

                worker_peak = _run_pool(chunks, opts, jobs, previous, finished)
        _mark_duplicates(opts, records)
        pdf_seconds = _make_pdfs(opts, records, {r for _, r, _ in todo}) if opts.pdf else 0.0
        stage["pdf"] += pdf_seconds
        t = time.perf_counter()
        summaries, messages = _write_summaries(opts, records)
        stage["summary"] += time.perf_counter() - t
        reports = _write_reports(opts, records)
    finally:
        _save_manifest(opts, records)
        clean_temp_files(opts.output_dir)
    ordered = [records[k] for k in sorted(records)]
    return BatchResult(
        ordered,
        processed=len(todo) + len(unreadable),
        skipped=skipped,
        removed=removed,
        summaries=summaries,
        reports=reports,
        elapsed=time.perf_counter() - start,
        stage_seconds=dict(stage),
        messages=messages,
        worker_peak_mb=worker_peak,
    )


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


def _run_pool(chunks, opts: BatchOptions, jobs: int, previous: dict, done, worker=None) -> float:
    """Run the chunks on ``jobs`` worker processes; returns the largest peak RSS (MB) a worker reported."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    ctx = mp.get_context("forkserver") if hasattr(os, "fork") else mp.get_context("spawn")

    def new_pool(n: int):
        return ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init_worker, initargs=(previous,))

    worker = worker or _pool_chunk
    peak = 0.0
    pool = new_pool(jobs)
    futures = {pool.submit(worker, c, opts): c for c in chunks}
    unfinished: list[tuple[str, str, str]] = []
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
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    # A worker died (a file crashed the parser): redo the unfinished files one at a time in a
    # single worker, so that the file that kills it again is found, reported, and the rest go on.
    if not unfinished:
        return peak
    pool = new_pool(1)
    try:
        for item in unfinished:
            try:
                records, worker_peak = pool.submit(worker, [item], opts).result()
            except BrokenProcessPool:
                pool.shutdown(wait=False)
                pool = new_pool(1)
                path, rel, digest = item
                records, worker_peak = (
                    [
                        Record(
                            input=rel,
                            hash=digest,
                            status=Status.UNREADABLE,
                            options=opts.key(),
                            reason=f"文件 {Path(path).name} 读取时导致处理程序异常退出（文件可能已损坏），"
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
        for rec in recs:
            _remove_outputs(opts, rec)
            rec.status = Status.DUPLICATE
            rec.outputs = {}
            rec.reason = (
                f"“{unit}”{year}年有多个文件（{files}），无法确定以哪个为准，均未生成报告；请只保留一个后重新运行。"
            )


def _make_pdfs(opts: BatchOptions, records: dict[str, Record], fresh: set[str]) -> float:
    from .pdf import PdfUnavailable, convert_to_pdf

    t = time.perf_counter()
    todo = [r for k, r in records.items() if k in fresh and r.outputs.get("docx")]
    if not todo:
        return 0.0
    try:
        pdfs = convert_to_pdf([opts.output_dir / str(r.outputs["docx"]) for r in todo])
    except PdfUnavailable as exc:
        for r in todo:
            r.reason = (r.reason + "；" if r.reason else "") + str(exc)
        return time.perf_counter() - t
    for r, p in zip(todo, pdfs):
        r.outputs["pdf"] = str(Path(p).relative_to(opts.output_dir)) if p else None
    return time.perf_counter() - t


def _write_summaries(opts: BatchOptions, records: dict[str, Record]) -> tuple[list[Path], list[str]]:
    from .xlsx_out import summary_xlsx_name, write_summary_xlsx

    # records, not units, per group: a group's light units (see record_unit) exist only while it is written
    groups: dict[tuple[str, int], list[Record]] = defaultdict(list)
    for _, rec in sorted(records.items()):  # input order, whatever order the workers finished in
        if rec.status not in NOT_USED and rec.form is not None and rec.year:
            groups[(rec.form, rec.year)].append(rec)
    failures = [(r.input, r.reason or r.status) for _, r in sorted(records.items()) if r.status in NOT_USED]
    years: dict[int, list[str]] = defaultdict(list)
    for fid, year in groups:
        years[year].append(fid)
    out: list[Path] = []
    messages: list[str] = []
    for (_form_id, year), recs in sorted(groups.items()):
        units = [u for u in map(record_unit, recs) if u is not None]
        form = units[0].form
        name = summary_xlsx_name(year, form if len(years[year]) > 1 else None)
        path = opts.output_dir / str(year) / SUMMARY_DIR / name
        write_summary_xlsx(units, path, failures=failures)
        out.append(path)
        if len(years[year]) > 1:
            messages.append(
                f"{year}年的文件使用了不同的表样（{'、'.join(sorted(years[year]))}），已按表样分别汇总，未合并相加。"
            )
        if opts.summary_unit:
            from .docx_out import report_docx_name, write_summary_docx

            agg = Unit(file=Path(SUMMARY_DIR), form=form, unit=opts.summary_unit, year=year)
            out.append(
                write_summary_docx(
                    units,
                    opts.summary_unit,
                    opts.output_dir / str(year) / SUMMARY_DIR / report_docx_name(agg),
                    wording=opts.wording,
                )
            )
    return out, messages


def _report_rows(recs: Iterable[Record], base: Path, opts: BatchOptions) -> list[dict[str, Any]]:
    rows = []
    for r in recs:
        outputs = {}
        for k in ("docx", "xlsx", "pdf"):
            p = r.outputs.get(k)
            outputs[k] = os.path.relpath(opts.output_dir / p, base) if p else None
        rows.append(
            {
                "unit": r.unit,
                "year": r.year,
                "form": r.form,
                "input": r.input,
                "status": r.status,
                "errors": r.errors,
                "warnings": r.warnings,
                "explained": r.explained,
                "outputs": outputs,
                "reason": r.reason,
            }
        )
    return rows


def _write_reports(opts: BatchOptions, records: dict[str, Record]) -> list[Path]:
    now = datetime.now().isoformat(timespec="seconds")
    by_year: dict[int, list[Record]] = defaultdict(list)
    failed = [r for r in records.values() if not r.year]
    for r in records.values():
        if r.year:
            by_year[r.year].append(r)
    out = []
    for year, recs in sorted(by_year.items()):
        base = opts.output_dir / str(year)
        rows = _report_rows(sorted(recs + failed, key=lambda r: r.input), base, opts)
        out.append(
            atomic_write_text(
                base / f"{RECORDS}.json",
                json.dumps({"year": year, "generated": now, "units": rows}, ensure_ascii=False, indent=1),
            )
        )
        out.append(write_records_xlsx(rows, sorted(recs + failed, key=lambda r: r.input), base / f"{RECORDS}.xlsx"))
    rows = _report_rows(sorted(records.values(), key=lambda r: r.input), opts.output_dir, opts)
    out.append(
        atomic_write_text(
            opts.output_dir / f"{RECORDS}.json",
            json.dumps(
                {"generated": now, "input_dir": str(opts.input_dir), "units": rows}, ensure_ascii=False, indent=1
            ),
        )
    )
    out.append(
        write_records_xlsx(rows, sorted(records.values(), key=lambda r: r.input), opts.output_dir / f"{RECORDS}.xlsx")
    )
    return out


def write_records_xlsx(rows: list[dict[str, Any]], recs: list[Record], path: Path) -> Path:
    """审核报告.xlsx: one row per input file (报送情况) and one row per finding (审核结果); both
    sheets print landscape, fitted to the page width, with the header row on every page."""
    import xlsxwriter

    from .catalogue import title_for
    from .xlsx_out import compact_refs, print_list_sheet, row_height

    with atomic_path(path) as tmp:
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
                row["input"],
                row["unit"] or "",
                row["year"] or "",
                row["form"] or "",
                row["status"],
                row["errors"],
                row["warnings"],
                row["outputs"]["docx"] or "",
                row["outputs"]["xlsx"] or "",
                row["outputs"]["pdf"] or "",
                row["reason"] or "",
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
            for f in rec.findings:
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
                    rec.input,
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
                for c, v in enumerate(vals):
                    ws2.write_string(r, c, str(v), cell)
                ws2.set_row(r, row_height((v, w) for v, (_, w) in zip(vals, cols2)))
                r += 1
        ws2.autofilter(0, 0, max(r - 1, 1), len(cols2) - 1)
        ws2.freeze_panes(1, 0)
        print_list_sheet(ws2, [w for _, w in cols2], "审核报告　审核结果", year, 0)
        wb.close()
    return path


def watch_folder(
    opts: BatchOptions,
    interval: float = 2.0,
    on_record: Callable[[Record], None] | None = None,
    rounds: int | None = None,
    stop: Callable[[], bool] | None = None,
) -> None:
    """Process files as they are dropped in; a file is taken once it has stopped changing.

    Each round compares every file's size and modification time with the previous round;
    changed files are held back until they are stable, then an incremental batch runs
    (which also rebuilds the summaries). ``on_record`` gets one call per processed file.
    """
    last: dict[str, tuple[int, int]] = {}
    handled: dict[str, tuple[int, int]] = {}
    n = 0
    while True:
        current: dict[str, tuple[int, int]] = {}
        for p in discover(opts.input_dir, exclude=opts.output_dir):
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
                    on_record(rec)

            run_batch(opts, progress, hold=changing)
            for rel in ready:
                handled[rel] = current[rel]
            for rel in gone:
                handled.pop(rel, None)
        last = current
        n += 1
        if (rounds is not None and n >= rounds) or (stop and stop()):
            return
        time.sleep(interval)
