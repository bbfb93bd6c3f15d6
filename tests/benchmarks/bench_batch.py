"""Batch benchmark: N synthetic 2021-form units through the batch, and a plain pipeline, in one run.

    python tests/benchmarks/bench_batch.py 2000 [--jobs 2] [--layout template|pasted] [--plain 200] [--keep DIR]

Generates N units (random consistent values, about 5 % with a changed cell, unit names of
realistic length) either written into our template (``template``) or as the official tables
pasted on one sheet (``pasted``, the layout of tests/official_layout.py), runs the batch command
(``gkreport batch … --json``: read, check, xlsx, docx, summary) in a fresh Python process and prints
units per second (whole process: interpreter start, imports, workers, summaries, exit), per-stage time and peak
memory of the whole process tree (each process's own peak, sampled from /proc, summed: an upper
bound of what the tree held at once), then a rerun with nothing changed in another fresh process.
Then runs the same kind of units (in our template: the plain code reads fixed positions) through a
deliberately plain reference pipeline kept below (pandas+openpyxl read, per-file pandas checks,
openpyxl styled write, python-docx built with ``row.cells``), with the same number of processes,
and prints the speed-up measured in this run. Not collected by pytest.

Each run writes into output folders of its own; those of earlier runs are deleted at the end, after
the measurements. On ext4 without a journal (as on the benchmark machine), creating a file costs
much more for a few minutes after many files were deleted: deleting the last run's 6,000 outputs
just before the run made 2,000 units take a fifth longer. Leave about five minutes between runs
that share a folder given with ``--keep``, or after generating new inputs over old ones.
"""

from __future__ import annotations

import argparse
import json
import os
import random
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


def _write_one(args: tuple[int, str, str]) -> None:
    from gkreport.spec import load_form
    from gkreport.template import write_template

    i, folder, layout = args
    name, values, meta, narrative = make_unit(i)
    if layout == "pasted":  # the official tables pasted on one sheet, titled with unit and year
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from official_layout import write_official_2021

        write_official_2021(Path(folder) / f"{name}.xlsx", values, name, 2025)
    else:
        write_template(load_form("2021"), Path(folder) / f"{name}.xlsx", values=values, meta=meta, narrative=narrative)


def generate(n: int, folder: Path, jobs: int, layout: str = "template") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(jobs) as pool:
        list(pool.map(_write_one, [(i, str(folder), layout) for i in range(n)], chunksize=20))


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


# Each run is the command itself, ``gkreport batch … --json``, in a fresh process: its time includes
# the interpreter's start, the imports, the command line's own work and the process's exit, and
# its memory is measured apart from the generator's (the rerun: manifest loaded, records and
# summaries rebuilt from it).


def run_fresh(inp: Path, out: Path, jobs: int, force: bool) -> tuple[float, dict, HwmSampler]:
    """The batch command in a fresh process: wall time from before the interpreter starts, its own
    figures (its ``--json`` result), memory."""
    command = [sys.executable, "-m", "gkreport", "batch", str(inp), "-o", str(out), "--jobs", str(jobs), "--json"]
    t = time.perf_counter()
    with HwmSampler() as sampler:
        proc = subprocess.run(command + (["--force"] if force else []), capture_output=True)
    elapsed = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        sys.exit(f"batch failed ({proc.returncode}):\n{proc.stderr.decode('utf-8', 'replace')}")
    result = json.loads(proc.stdout.decode("utf-8"))
    peak = result.get("peak_mb") or {"batch": 0, "largest_worker": 0}  # (a version without them: 0)
    return (
        elapsed,
        {
            "skipped": result["skipped"],
            "processed": result["processed"],
            "stages": result.get("stage_seconds", {}),
            "counts": result["counts"],
            "peak": peak["batch"],
            "worker_peak": peak["largest_worker"],
        },
        sampler,
    )


class HwmSampler:
    """Largest peak RSS (VmHWM, kept by the kernel per process) among this process's
    descendants, sampled from /proc while the batch runs (Linux only): a cross-check of
    what the workers report themselves."""

    def __init__(self, interval: float = 0.1):
        import threading

        self.interval = interval
        self.peaks: dict[int, float] = {}
        self.tree_pss = 0.0  # largest sum, at one sample, of the processes' proportional set sizes
        self.cpu: dict[int, float] = {}  # CPU seconds of each process at its last sample
        self._tick = os.sysconf("SC_CLK_TCK")
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
            pss = 0.0
            for pid in self._descendants():
                try:
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            mb = int(line.split()[1]) / 1024
                            self.peaks[pid] = max(self.peaks.get(pid, 0.0), mb)
                            break
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    self.cpu[pid] = (int(fields[11]) + int(fields[12])) / self._tick  # utime + stime
                    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                        if line.startswith("Pss:"):
                            pss += int(line.split()[1]) / 1024
                            break
                except (OSError, ValueError):
                    pass
            self.tree_pss = max(self.tree_pss, pss)
            self._stop.wait(self.interval)

    @property
    def largest(self) -> float:
        return max(self.peaks.values(), default=0.0)

    @property
    def cpu_seconds(self) -> float:
        """CPU time of the whole tree (a process's last 0.1 s before it ends is missed): unlike the
        wall time, hardly changed by other work on the machine."""
        return sum(self.cpu.values())

    @property
    def total(self) -> float:
        """Sum of each process's own peak: at least what the whole tree held at its fullest."""
        return sum(self.peaks.values())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--layout", choices=("template", "pasted"), default="template")
    ap.add_argument("--plain", type=int, default=200, help="units through the plain pipeline (0: skip)")
    ap.add_argument("--keep", type=Path, help="keep inputs/outputs in this folder")
    args = ap.parse_args()

    base = args.keep or Path(tempfile.mkdtemp(prefix="gkbench-"))
    inp = base / f"input-{args.layout}"
    if not inp.exists() or len(list(inp.glob("*.xlsx"))) != args.n:
        shutil.rmtree(inp, ignore_errors=True)
        t = time.perf_counter()
        generate(args.n, inp, args.jobs, args.layout)
        print(f"generated {args.n} workbooks ({args.layout}) in {time.perf_counter() - t:.1f} s")
    print(f"load before the run: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    # the outputs of earlier runs (and the single folders older versions of this script used)
    earlier = [
        p for p in base.iterdir() if p.name in ("output", "plain") or p.name.startswith(("output-", "plain-out-"))
    ]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = base / f"output-{stamp}"
    elapsed, first, sampler = run_fresh(inp, out, args.jobs, force=True)
    rate = args.n / elapsed
    print(
        f"gkreport batch: N={args.n} ({args.layout}) jobs={args.jobs}: {elapsed:.2f} s, {rate:.1f} units/s "
        f"(whole process); statuses {first['counts']}"
    )
    cpu = sampler.cpu_seconds
    print(
        f"  CPU time of the process tree: {cpu:.1f} s, {cpu / args.n * 1000:.1f} ms a unit; on {args.jobs} otherwise "
        f"idle cores at best {args.n / max(cpu / args.jobs, 1e-9):.0f} units/s"
    )
    stages = first["stages"]
    per_unit = {k: v / args.n * 1000 for k, v in stages.items() if k != "summary"}
    print("  per-unit stage time (ms, summed over workers): " + ", ".join(f"{k} {v:.2f}" for k, v in per_unit.items()))
    print(f"  summary stage: {stages.get('summary', 0):.2f} s")
    print(
        f"  memory of the whole process tree: {sampler.tree_pss:.0f} MB at its fullest (sum of the processes' "
        f"PSS, shared pages counted once, sampled every {sampler.interval} s); at most {sampler.total:.0f} MB "
        f"(sum of the {len(sampler.peaks)} processes' own peak RSS); largest process {sampler.largest:.0f} MB, "
        f"batch process {first['peak']:.0f} MB, largest worker {first['worker_peak']:.0f} MB (as reported)"
    )
    elapsed2, rerun, sampler2 = run_fresh(inp, out, args.jobs, force=False)
    print(
        f"  rerun (nothing changed, fresh process): {elapsed2:.2f} s, skipped {rerun['skipped']}, "
        f"summary {rerun['stages'].get('summary', 0.0):.2f} s, CPU {sampler2.cpu_seconds:.2f} s, "
        f"memory {sampler2.tree_pss:.0f} MB (PSS)"
    )
    if args.plain:
        k = min(args.plain, args.n)
        plain_in = base / "input-template"
        if args.layout == "template":
            paths = sorted(str(p) for p in inp.glob("*.xlsx"))[:k]
        else:  # the plain code reads our template's fixed positions: the same units in it
            plain_in = base / "plain-input"
            if not plain_in.exists() or len(list(plain_in.glob("*.xlsx"))) != k:
                shutil.rmtree(plain_in, ignore_errors=True)
                generate(k, plain_in, args.jobs)
            paths = sorted(str(p) for p in plain_in.glob("*.xlsx"))
        plain_out = base / f"plain-out-{stamp}"
        plain_out.mkdir()
        chunks = [(paths[i :: args.jobs], str(plain_out)) for i in range(args.jobs)]
        t = time.perf_counter()
        with ProcessPoolExecutor(args.jobs) as pool:
            list(pool.map(_plain_chunk, chunks))
        plain_elapsed = time.perf_counter() - t
        plain_rate = k / plain_elapsed
        print(f"plain pipeline: {k} units, jobs={args.jobs}: {plain_elapsed:.2f} s, {plain_rate:.1f} units/s")
        print(
            f"side by side: gkreport {rate:.1f} units/s, plain {plain_rate:.1f} units/s, speed-up {rate / plain_rate:.1f}x"
        )
    print(f"load after the run: {os.getloadavg()[0]:.2f} (1 min)")
    for p in earlier:
        shutil.rmtree(p, ignore_errors=True)
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
