"""Batch benchmark: N synthetic 2021-form units through ``gkreport batch``, and a plain pipeline.

    python tests/benchmarks/bench_batch.py 2000 [--jobs 2] [--plain 200] [--keep DIR]

Generates N units (random consistent values written into our template, about 5 % with a
changed cell, unit names of realistic length), runs the batch (read, check, xlsx, docx,
summary) and prints units per second, per-stage time and peak memory (of the parent, and
of the largest worker as the workers report it), then a rerun with nothing changed in a
fresh process (its own peak memory: records from the manifest, summaries). Then runs the same
kind of units through a deliberately plain reference pipeline kept below (pandas+openpyxl
read, per-file pandas checks, openpyxl styled write, python-docx built with ``row.cells``),
with the same number of processes, and prints the speed-up measured in this run.
Not collected by pytest.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Self

DISTRICTS = ["东城区", "西城区", "高新技术产业开发区", "经济开发区", "南湖新区", "北山县", "临河县", "清水镇"]
BODIES = [
    "教育和体育局",
    "卫生健康委员会",
    "市场监督管理局",
    "住房和城乡建设局",
    "自然资源和规划局",
    "人力资源和社会保障局",
    "生态环境分局",
    "交通运输局",
    "农业农村局",
    "民政局",
    "司法局",
    "财政局",
    "应急管理局",
    "文化和旅游局",
    "退役军人事务局",
    "行政审批服务局",
    "医疗保障局",
    "统计局",
    "水利局",
    "商务局",
]


def unit_name(i: int) -> str:
    return f"示例市{DISTRICTS[i % len(DISTRICTS)]}{BODIES[(i // len(DISTRICTS)) % len(BODIES)]}{i:05d}"


def make_unit(i: int) -> tuple[str, dict, dict, dict]:
    from gkreport.samples import consistent_2021

    rng = random.Random(i)

    def six(p: float) -> list[int]:
        return [rng.randint(0, 9) if rng.random() < p else 0 for _ in range(6)]

    leaves = {
        leaf: six(0.3)
        for leaf in (
            "disclosed",
            "partial",
            "withheld_4",
            "withheld_6",
            "unable_1",
            "unable_2",
            "not_handled_2",
            "other_1",
        )
    }
    t2 = {
        "regulations.made": 0,
        "regulations.repealed": 0,
        "regulations.valid": 0,
        "normative.made": rng.randint(0, 5),
        "normative.repealed": rng.randint(0, 2),
        "normative.valid": rng.randint(5, 60),
        "licensing.decisions": rng.randint(0, 3000),
        "penalty.decisions": rng.randint(0, 300),
        "enforcement.decisions": rng.randint(0, 40),
        "fees.fee_amount": round(rng.uniform(0, 50), 2),
    }
    from decimal import Decimal

    t2["fees.fee_amount"] = Decimal(str(t2["fees.fee_amount"]))
    carry = six(0.1)
    values = consistent_2021(
        t2,
        leaves,
        {"carry": carry},
        {"next": [c + rng.randint(0, 1) for c in carry]},
        {"review": [rng.randint(0, 2), 0, 0, rng.randint(0, 1)]},
    )
    if rng.random() < 0.05:  # a typing slip somewhere in table 三
        cid = rng.choice([k for k in values if k.startswith("t3.")])
        values[cid] = int(values[cid]) + rng.randint(1, 9)
    name = unit_name(i)
    meta = {
        "unit": name,
        "year": 2025,
        "date_written": "2026年1月20日",
        "contact": "张三",
        "phone": "0533-1234567",
        "processing_fee": Decimal("0"),
    }
    narrative = {
        "overview": f"2025年，{name}认真贯彻落实《中华人民共和国政府信息公开条例》，持续推进政务公开。" * 3,
        "problems": "一是公开内容不够全面；二是解读形式较为单一。下一步将加强培训、完善机制。",
        "other": "本年度未收取信息处理费。",
    }
    return name, values, meta, narrative


def _write_one(args: tuple[int, str]) -> None:
    from gkreport.spec import load_form
    from gkreport.template import write_template

    i, folder = args
    name, values, meta, narrative = make_unit(i)
    write_template(load_form("2021"), Path(folder) / f"{name}.xlsx", values=values, meta=meta, narrative=narrative)


def generate(n: int, folder: Path, jobs: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(jobs) as pool:
        list(pool.map(_write_one, [(i, str(folder)) for i in range(n)], chunksize=20))


# --------------------------------------------------------------------------- the plain reference pipeline


def plain_one(path: str, out: str) -> None:
    """Conventional code: pandas+openpyxl read, per-file pandas check, openpyxl write, python-docx row.cells."""
    import pandas as pd
    from docx import Document
    from docx.shared import Pt
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    from gkreport.spec import load_form
    from gkreport.spec.layout import build_grid as grid
    from gkreport.template import sheet_name

    form = load_form("2021")
    sheets = pd.read_excel(path, sheet_name=None, header=None, engine="openpyxl")
    values = {}
    for t in form.tables.values():
        df = sheets[sheet_name(t)]
        for cid, (r, c) in grid(t).value_pos.items():
            v = df.iat[2 + r, c]
            values[cid] = None if pd.isna(v) else v
    # per-file pandas check: row sums of table 三
    t3 = form.tables["t3"]
    frame = pd.DataFrame(
        [[values.get(f"t3.{r.id}.{c.id}") for c in t3.value_columns()] for r in t3.value_rows() if not r.subtotal],
        columns=[c.id for c in t3.value_columns()],
    ).fillna(0)
    bad = frame[frame.iloc[:, :6].sum(axis=1) != frame["total"]]
    # openpyxl styled write
    wb = Workbook()
    wb.remove(wb.active)
    thin = Side(style="thin")
    for t in form.tables.values():
        ws = wb.create_sheet(sheet_name(t))
        for gc in grid(t).cells:
            cell = ws.cell(gc.row + 1, gc.col + 1)
            cell.value = values.get(gc.cell_id) if gc.cell_id else gc.text
            cell.font = Font(name="宋体", size=11, bold=gc.kind == "header")
            cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
            cell.alignment = Alignment(wrap_text=True, vertical="center")
            if gc.cell_id and len(bad):
                cell.fill = PatternFill("solid", fgColor="FFF2CC")
            if gc.merged:
                ws.merge_cells(
                    start_row=gc.row + 1,
                    start_column=gc.col + 1,
                    end_row=gc.row + gc.rowspan,
                    end_column=gc.col + gc.colspan,
                )
    wb.save(Path(out) / (Path(path).stem + "_表格.xlsx"))
    # python-docx, rows filled with row.cells
    doc = Document()
    doc.add_heading(Path(path).stem + "政府信息公开工作年度报告", 0)
    for t in form.tables.values():
        doc.add_paragraph(t.title)
        g = grid(t)
        table = doc.add_table(rows=g.n_rows, cols=g.n_cols)
        table.style = "Table Grid"
        rows = g.rows()
        for r, row in enumerate(table.rows):
            cells = row.cells
            for gc in rows[r]:
                text = str(values.get(gc.cell_id, "")) if gc.cell_id else gc.text
                cells[gc.col].text = text
                for p in cells[gc.col].paragraphs:
                    for run in p.runs:
                        run.font.size = Pt(10)
    doc.save(Path(out) / (Path(path).stem + "_报告.docx"))


def _plain_chunk(args: tuple[list[str], str]) -> None:
    paths, out = args
    for p in paths:
        plain_one(p, out)


def children_peak_mb() -> float:
    """Largest peak RSS among this process's *reaped* children (MB). The batch workers are
    children of the fork server, not of this process, so this never covers them: the workers
    report their own peak with their results (``BatchResult.worker_peak_mb``)."""
    kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return kb / (1024 * 1024) if sys.platform == "darwin" else kb / 1024


# The rerun runs in a fresh process, so that its own peak (manifest loaded, summaries and
# records rebuilt from it) is measured apart from the first run's.
RERUN = """
import json, sys, time
from pathlib import Path
from gkreport.batch import BatchOptions, peak_rss_mb, run_batch
t = time.perf_counter()
r = run_batch(BatchOptions(input_dir=Path(sys.argv[1]), output_dir=Path(sys.argv[2]), jobs=int(sys.argv[3])))
print(json.dumps({"seconds": time.perf_counter() - t, "skipped": r.skipped, "processed": r.processed,
                  "summary": r.stage_seconds.get("summary", 0.0), "peak": peak_rss_mb()}))
"""


class HwmSampler:
    """Largest peak RSS (VmHWM, kept by the kernel per process) among this process's
    descendants, sampled from /proc while the batch runs (Linux only): a cross-check of
    what the workers report themselves."""

    def __init__(self, interval: float = 0.1):
        import threading

        self.interval = interval
        self.peaks: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Self:
        if Path("/proc/self/status").exists():
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _descendants(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(d.name))
        out, todo = [], [os.getpid()]
        while todo:
            for c in children.get(todo.pop(), []):
                out.append(c)
                todo.append(c)
        return out

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in self._descendants():
                try:
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            mb = int(line.split()[1]) / 1024
                            self.peaks[pid] = max(self.peaks.get(pid, 0.0), mb)
                            break
                except (OSError, ValueError):
                    pass
            self._stop.wait(self.interval)

    @property
    def largest(self) -> float:
        return max(self.peaks.values(), default=0.0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--plain", type=int, default=200, help="units through the plain pipeline (0: skip)")
    ap.add_argument("--keep", type=Path, help="keep inputs/outputs in this folder")
    args = ap.parse_args()
    from gkreport.batch import BatchOptions, peak_rss_mb, run_batch

    base = args.keep or Path(tempfile.mkdtemp(prefix="gkbench-"))
    inp, out = base / "input", base / "output"
    if not inp.exists() or len(list(inp.glob("*.xlsx"))) != args.n:
        shutil.rmtree(inp, ignore_errors=True)
        t = time.perf_counter()
        generate(args.n, inp, args.jobs)
        print(f"generated {args.n} workbooks in {time.perf_counter() - t:.1f} s")
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    with HwmSampler() as sampler:
        result = run_batch(BatchOptions(input_dir=inp, output_dir=out, jobs=args.jobs, force=True))
    elapsed = time.perf_counter() - t
    rate = args.n / elapsed
    parent_mb = peak_rss_mb()
    counts = result.counts()
    print(f"gkreport batch: N={args.n} jobs={args.jobs}: {elapsed:.2f} s, {rate:.1f} units/s; statuses {counts}")
    per_unit = {k: v / args.n * 1000 for k, v in result.stage_seconds.items()}
    print("  per-unit stage time (ms, summed over workers): " + ", ".join(f"{k} {v:.2f}" for k, v in per_unit.items()))
    print(f"  summary stage: {result.stage_seconds.get('summary', 0):.2f} s")
    print(
        f"  peak RSS: parent {parent_mb:.0f} MB (RUSAGE_SELF), largest worker {result.worker_peak_mb:.0f} MB "
        f"(each worker's own RUSAGE_SELF, sent back with its results)"
    )
    if sampler.peaks:
        print(
            f"    cross-check from /proc (VmHWM of {len(sampler.peaks)} descendant processes: fork server, "
            f"workers, resource tracker): largest {sampler.largest:.0f} MB; "
            f"RUSAGE_CHILDREN (reaped children only): {children_peak_mb():.0f} MB"
        )
    proc = subprocess.run(
        [sys.executable, "-c", RERUN, str(inp), str(out), str(args.jobs)], capture_output=True, text=True, check=True
    )
    rerun = json.loads(proc.stdout.strip().splitlines()[-1])
    print(
        f"  rerun (nothing changed, fresh process): {rerun['seconds']:.2f} s, skipped {rerun['skipped']}, "
        f"summary {rerun['summary']:.2f} s, peak RSS {rerun['peak']:.0f} MB"
    )
    if args.plain:
        k = min(args.plain, args.n)
        paths = sorted(str(p) for p in inp.glob("*.xlsx"))[:k]
        plain_out = base / "plain"
        shutil.rmtree(plain_out, ignore_errors=True)
        plain_out.mkdir()
        chunks = [(paths[i :: args.jobs], str(plain_out)) for i in range(args.jobs)]
        t = time.perf_counter()
        with ProcessPoolExecutor(args.jobs) as pool:
            list(pool.map(_plain_chunk, chunks))
        plain_elapsed = time.perf_counter() - t
        plain_rate = k / plain_elapsed
        print(f"plain pipeline: {k} units, jobs={args.jobs}: {plain_elapsed:.2f} s, {plain_rate:.1f} units/s")
        print(f"speed-up: {rate / plain_rate:.1f}x")
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
