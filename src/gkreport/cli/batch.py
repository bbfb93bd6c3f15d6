"""``gkreport batch`` and ``gkreport watch``: a folder of workbooks in, everything out."""

from __future__ import annotations

import functools
import inspect
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import typer

from ..enums import Status
from ..formatting import readable_name, recovered_name, shown_name
from .app import app
from .common import console, print_json

# how each status is shown (rich styles), in the order of the summary table
_STYLES = {
    Status.PASSED: "green",
    Status.EXPLAINED: "green",
    Status.WARNINGS: "yellow",
    Status.ERRORS: "red",
    Status.UNREADABLE: "bold red",
    Status.DUPLICATE: "bold red",
    Status.UNWRITABLE: "bold red",
}
_FAILED = (Status.DUPLICATE, Status.UNWRITABLE)
_RARE = (*_FAILED, Status.EXPLAINED)  # shown in the summary table only when they occur

INTERRUPTED = "已中断。已完成的单位已保存，重新运行同一命令会从中断处继续。"
TERMINATED = "已停止（收到结束信号）。已完成的单位已保存，重新运行同一命令会从中断处继续。"


def _stopped(exc: KeyboardInterrupt) -> typer.Exit:
    """Ctrl-C: exit 130; SIGTERM/SIGHUP: 128 + the signal's number (143 for SIGTERM), as shells do."""
    from ..batch import Terminated

    if isinstance(exc, Terminated):
        console(stderr=True).print(TERMINATED)
        return typer.Exit(128 + exc.signum)
    console(stderr=True).print(INTERRUPTED)
    return typer.Exit(130)


TEMPLATES_HINT = (
    "空白统计表模板用 gkreport template --form 2021 -o 统计表模板.xlsx 生成（程序目录的 input_templates 文件夹中也有），"
    "发给各单位填写。"
)
INPUT_HINT = (
    "已创建文件夹 {path}：请把各单位填好的统计表（.xlsx/.xls/.ods/.et）放进去（可以放在子文件夹中），"
    "然后重新运行本命令。" + TEMPLATES_HINT
)
NO_INPUT = (
    "找不到输入文件夹 {path}。请检查文件夹的名称和位置（输入文件夹不会自动创建，只有不写输入文件夹时默认的 input 会）。"
)
EMPTY_INPUT = (
    "输入文件夹 {path} 中没有要处理的文件{ignored}。请把各单位填好的统计表（.xlsx/.xls/.ods/.et）放进去（可以放在子文件夹中），"
    "然后重新运行本命令。" + TEMPLATES_HINT
)
EMPTY_WATCH = "输入文件夹 {path} 中还没有要处理的文件{ignored}；各单位的统计表放进来后会自动处理。" + TEMPLATES_HINT
IGNORED_ONLY = "（只有 Office 锁文件、隐藏文件或系统文件，这些不处理）"


def _options(
    input_dir: Path,
    output: Path,
    jobs: int | None,
    previous: Path | None,
    summary_unit: str | None,
    pdf: bool,
    strict: bool,
    force: bool,
    wording: Path | None,
    roster: Path | None = None,
):
    from ..batch import BatchOptions

    return BatchOptions(
        input_dir=input_dir,
        output_dir=output,
        jobs=jobs,
        previous_dir=previous,
        summary_unit=summary_unit,
        pdf=pdf,
        strict=strict,
        force=force,
        wording=wording,
        roster=roster,
    )


# The options ``batch`` and ``watch`` share, declared once here: (parameter, type, option). The
# settings among them (汇总单位, PDF …) are recorded in the output folder and reused by later runs
# (gkreport.settings); ``--no-…`` drops one.
SHARED_OPTIONS: list[tuple[str, Any, Any]] = [
    ("output", Path, typer.Option(Path("output"), "--output", "-o", metavar="文件夹", help="输出文件夹")),
    (
        "jobs",
        Optional[int],  # noqa: UP045 - typer reads the annotation at run time
        typer.Option(None, "--jobs", "-j", metavar="个数", help="并行进程数，默认等于 CPU 核数", min=1),
    ),
    (
        "summary_unit",
        Optional[str],  # noqa: UP045
        typer.Option(
            None,
            "--summary-unit",
            metavar="单位名称",
            help="同时生成汇总年度报告，此为汇总报告的单位名称（如“某某区人民政府”）",
        ),
    ),
    (
        "no_summary_unit",
        bool,
        typer.Option(False, "--no-summary-unit", help="不再生成汇总年度报告（取消上次设置的 --summary-unit）"),
    ),
    (
        "pdf",
        Optional[bool],  # noqa: UP045
        typer.Option(None, "--pdf/--no-pdf", help="同时生成 PDF（需要安装 LibreOffice）；--no-pdf 不再生成"),
    ),
    (
        "strict",
        Optional[bool],  # noqa: UP045
        typer.Option(None, "--strict/--no-strict", help="有错误的单位不生成年度报告；--no-strict 取消"),
    ),
    (
        "wording",
        Optional[Path],  # noqa: UP045
        typer.Option(
            None, "--wording", metavar="文件", help="本单位的报告用语文件（YAML），覆盖默认的开头、结尾和句式"
        ),
    ),
    ("no_wording", bool, typer.Option(False, "--no-wording", help="不再使用措辞文件")),
    (
        "previous",
        Optional[Path],  # noqa: UP045
        typer.Option(None, "--previous", metavar="文件夹", help="上一年度统计表所在文件夹，用于跨年度核对"),
    ),
    ("no_previous", bool, typer.Option(False, "--no-previous", help="不再与上一年度核对")),
    (
        "roster",
        Optional[Path],  # noqa: UP045
        typer.Option(
            None,
            "--roster",
            metavar="名单",
            help="应报送单位的名单（.xlsx 或 .csv，与 mail 用的名单相同），核对哪些单位已报送、未报送",
        ),
    ),
    ("no_roster", bool, typer.Option(False, "--no-roster", help="不再核对名单")),
    (
        "force",
        bool,
        typer.Option(
            False,
            "--force",
            help="全部重新生成（默认只处理有变化的文件）；输出文件夹中原是另一个输入文件夹的结果时，以本次的为准",
        ),
    ),
]
SHARED_NAMES = tuple(name for name, _, _ in SHARED_OPTIONS)


def shared_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give ``command`` the shared options (after its own); it receives them as ``shared`` (a dict)."""
    sig = inspect.signature(command, eval_str=True)
    own = [p for p in sig.parameters.values() if p.name != "shared"]
    added = [
        inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=o, annotation=t) for n, t, o in SHARED_OPTIONS
    ]
    params = own + added

    @functools.wraps(command)
    def run(**kwargs: Any) -> Any:
        shared = {n: kwargs.pop(n) for n in SHARED_NAMES}
        return command(**kwargs, shared=shared)

    run.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in params} | {"return": sig.return_annotation}
    del run.__wrapped__  # typer reads the signature above, not the command's own
    return run


def _given(shared: dict[str, Any]) -> dict[str, Any]:
    """The settings the options name (setting → value; None drops it); refuses an option given with its --no-."""
    given: dict[str, Any] = {}
    for name in ("summary_unit", "wording", "previous", "roster"):
        value, drop = shared[name], shared[f"no_{name}"]
        if value is not None and drop:
            flag = "--" + name.replace("_", "-")
            console(stderr=True).print(f"[red]{flag} 和 --no-{flag[2:]} 不能同时使用。[/]")
            raise typer.Exit(2)
        if drop:
            given[name] = None
        elif value is not None:
            given[name] = value
    for name in ("pdf", "strict"):
        if shared[name] is not None:
            given[name] = shared[name]
    return given


def _prepare(input_dir: Path, shared: dict[str, Any]):
    """This run's options: the output folder's settings changed by the options given; stops (exit 2,
    a Chinese line) on a recorded file that is gone and on inputs that cannot be used."""
    from rich.markup import escape

    from ..settings import missing_hint, settle

    output: Path = shared["output"]
    settled = settle(output, _given(shared))
    if settled.missing:
        con = console(stderr=True)
        for name, path in settled.missing:
            con.print(f"[red]{escape(missing_hint(name, path))}[/]")
        raise typer.Exit(2)
    s = settled.settings
    _check_input(input_dir, output, previous=s.previous, wording=s.wording, roster=s.roster)
    opts = _options(
        input_dir,
        output,
        shared["jobs"],
        s.previous,
        s.summary_unit,
        s.pdf,
        s.strict,
        shared["force"],
        s.wording,
        s.roster,
    )
    return opts, settled


def _check_input(
    input_dir: Path,
    output: Path,
    previous: Path | None = None,
    wording: Path | None = None,
    roster: Path | None = None,
) -> None:
    """Refuse (exit 2, a Chinese line) folders and files that are not there, before any work."""
    from rich.markup import escape

    from ..batch import input_files

    con = console(stderr=True)
    if roster is not None:  # read now: a roster that cannot be used stops the run before any work
        from ..errors import RosterError
        from ..roster import read_roster

        try:
            read_roster(roster, need_addresses=False)
        except RosterError as exc:
            con.print(f"[red]{escape(exc.message)}（--roster）[/]")
            raise typer.Exit(2) from None
    if previous is not None and not previous.is_dir():
        con.print(f"[red]找不到上一年度的文件夹 {escape(str(previous))}（--previous）。[/]")
        raise typer.Exit(2)
    if wording is not None and not wording.is_file():
        con.print(f"[red]找不到措辞文件 {escape(str(wording))}（--wording）。[/]")
        raise typer.Exit(2)
    path = escape(readable_name(input_dir))
    if not os.path.lexists(input_dir):
        given = _param_given("input_dir")
        if given or (given is None and input_dir != Path("input")):  # a mistyped name must not become a folder
            con.print(f"[red]{NO_INPUT.format(path=path)}[/]")
            raise typer.Exit(2)
        input_dir.mkdir(parents=True)
        con.print(INPUT_HINT.format(path=path))
        raise typer.Exit(2)
    if not input_dir.is_dir():
        con.print(f"[red]{path} 不是文件夹。[/]")
        raise typer.Exit(2)
    if output.resolve() == input_dir.resolve():
        con.print("[red]输出文件夹不能和输入文件夹相同（输入文件不会被改动，输出需要单独存放）。[/]")
        raise typer.Exit(2)
    own = {p.resolve() for p in (roster, wording) if p}  # the roster kept beside the workbooks is none of them
    if not [p for p in input_files(input_dir, exclude=output) if not own or p.resolve() not in own]:
        out = output.resolve()
        hidden = any(
            p.is_file() and out not in p.resolve().parents and p.resolve() not in own for p in input_dir.rglob("*")
        )
        ignored = IGNORED_ONLY if hidden else ""
        if _command() == "watch":  # files are yet to come: that is what watching is for
            con.print(EMPTY_WATCH.format(path=path, ignored=ignored))
            return
        con.print(f"[red]{EMPTY_INPUT.format(path=path, ignored=ignored)}[/]")
        raise typer.Exit(2)


def _context():
    """The running command's context and click's ParameterSource, from the click that typer uses
    (typer ≥ 0.20 ships its own copy, found from typer.BadParameter, which typer exports either way)."""
    import importlib

    package = typer.BadParameter.__module__.rsplit(".", 1)[0]
    ctx = importlib.import_module(package + ".globals").get_current_context(silent=True)
    return ctx, importlib.import_module(package + ".core").ParameterSource


def _param_given(param: str) -> bool | None:
    """Whether ``param`` was given (on the command line, or by a setting) rather than left at its
    default; None when that is not known (outside a command)."""
    ctx, source_kind = _context()
    source = ctx.get_parameter_source(param) if ctx is not None else None
    return None if source is None else source != source_kind.DEFAULT


def _command() -> str | None:
    ctx = _context()[0]
    return ctx.command.name if ctx is not None else None


def _settings_json(settled) -> dict[str, Any]:
    s = settled.settings
    return {
        "summary_unit": s.summary_unit,
        "pdf": s.pdf,
        "strict": s.strict,
        "wording": str(s.wording) if s.wording else None,
        "previous": str(s.previous) if s.previous else None,
        "roster": str(s.roster) if s.roster else None,
        "notes": settled.notes(),
    }


def _summary_table(result):
    from rich.table import Table

    counts = result.counts()
    t = Table(title="处理结果", title_justify="left")
    t.add_column("项目")
    t.add_column("数量", justify="right")
    t.add_row("文件总数", str(len(result.records)))
    t.add_row("本次处理", str(result.processed))
    t.add_row("未变化跳过", str(result.skipped))
    for status, style in _STYLES.items():
        if status not in _RARE or counts.get(status):
            t.add_row(f"[{style}]{status}[/]", str(counts.get(status, 0)))
    if result.hand_edited:
        t.add_row("[yellow]手工修改（已另存）[/]", str(len(result.hand_edited)))
    if result.retired:
        t.add_row("[yellow]不在输入文件夹中[/]", str(len(result.retired)))
    for y in _roster_years(result):
        label = "名单中未报送" if len(result.years) == 1 else f"{y.year}年名单中未报送"
        t.add_row(f"[bold red]{label}[/]", str(len(y.not_submitted)))
    t.add_row("用时", f"{result.elapsed:.1f} 秒")
    return t


HAND_EDIT_HINT = (
    "生成的文件在生成后被修改过，修改后的文件已另存（不会被覆盖或删除），原文件按当前的输入重新生成。"
    "要在重新生成后保留的文字，请写在统计表的“基本信息”表中（汇总年度报告：汇总单位自己的统计表）。"
)


def _hand_edit_lines(entries) -> list[str]:
    """手工修改: each file kept aside, and where text belongs so that it survives regeneration."""
    from rich.markup import escape

    if not entries:
        return []
    lines = [f"[yellow]手工修改 {len(entries)} 个：[/]{HAND_EDIT_HINT}"]
    for e in entries:
        who = f"（{e['unit']}）" if e.get("unit") else ""
        lines.append(
            f"  {escape(readable_name(e['file']))}{escape(who)} → 另存为 {escape(readable_name(e['kept_as']))}"
        )
    return lines


def _retired_lines(entries) -> list[str]:
    """Inputs of the last run no longer in the input folder: said, with what became of their outputs,
    so that a file moved out by mistake is noticed rather than silently missing from the summaries."""
    from rich.markup import escape

    if not entries:
        return []
    lines = [
        f"[yellow]不在输入文件夹中 {len(entries)} 个：[/]上次处理过的这些文件已不在输入文件夹中，汇总中不再计入它们。"
    ]
    for e in entries:
        who = f"（{e['unit']}，{e['year']}年）" if e.get("unit") and e.get("year") else ""
        if e.get("replaced_by"):  # the unit's corrected file took its place: nothing to put back
            what = f"：该单位现在的文件是 {shown_name(e['replaced_by'])}，已按它处理"
        elif e.get("removed"):
            what = "：它生成的统计表和年度报告已删除；如是误删或误移，请放回后重新运行"
        else:
            what = "：如是误删或误移，请放回后重新运行"
        lines.append(f"  {escape(shown_name(e['input']))}{escape(who)}{escape(what)}")
    return lines


def _roster_years(result):
    """The years whose roster marks are shown: those where some roster unit submitted, else the latest."""
    with_roster = [y for y in result.years if y.submissions is not None]
    shown = [y for y in with_roster if any(s.unit for s in y.submissions)]
    return shown or with_roster[-1:]


def _roster_lines(result) -> list[str]:
    """名单核对: per year shown, the count and names of 未报送, and the names to check (是否为…？)."""
    from rich.markup import escape

    lines = []
    for y in _roster_years(result):
        subs = y.submissions
        counts: dict[str, int] = {}
        for sub in subs:
            counts[sub.mark] = counts.get(sub.mark, 0) + 1
        lines.append(
            f"名单核对（{y.year}年）：名单 {len(subs)} 个单位，" + "，".join(f"{k} {v} 个" for k, v in counts.items())
        )
        missing = y.not_submitted
        if missing:
            names = "、".join(escape(s.name) + ("（文件无法读取）" if s.files else "") for s in missing)
            lines.append(f"[bold red]未报送 {len(missing)} 个：[/]{names}")
        for sub in missing:
            if sub.question:
                lines.append(f"  名单{sub.where}“{escape(sub.name)}”：{escape(sub.question)}")
        for unit, near in y.unlisted.items():
            ask = "是否为名单中的" + "或".join(f"“{n}”" for n in near) + "？" if near else "请核对名单。"
            lines.append(f"  “{escape(unit)}”已报送，但不在名单中；{escape(ask)}")
    return lines


def _problems_table(result):
    from rich.markup import escape
    from rich.table import Table

    attention = getattr(result, "attention", {})
    rows = [
        r for r in result.records if r.status in (*_FAILED, Status.UNREADABLE, Status.ERRORS) or r.input in attention
    ]
    if not rows:
        return None
    t = Table(title="需要处理的文件", title_justify="left", expand=True)
    t.add_column("文件", ratio=2, overflow="fold")
    t.add_column("状态", no_wrap=True)
    t.add_column("说明", ratio=3, overflow="fold")
    for r in rows:
        style = _STYLES.get(r.status, "bold red")
        why = r.reason or f"错误 {r.errors} 处、提示 {r.warnings} 处，详见统计表的“审核结果”表"
        if r.input in attention:
            why = attention[r.input] + ("；" + why if r.status == Status.ERRORS or r.reason else "")
        t.add_row(escape(shown_name(r.input)), f"[{style}]{r.status}[/]", escape(why))
    return t


def _result_json(result, opts) -> dict:
    from ..batch import peak_rss_mb

    return {
        "input_dir": str(opts.input_dir),
        "output_dir": str(opts.output_dir),
        "exit_code": result.exit_code,
        "processed": result.processed,
        "skipped": result.skipped,
        "elapsed": round(result.elapsed, 3),
        # CPU seconds of each stage summed over the workers, the summaries' wall time; memory in MB
        "stage_seconds": {k: round(v, 3) for k, v in result.stage_seconds.items()},
        "peak_mb": {"batch": round(peak_rss_mb()), "largest_worker": round(result.worker_peak_mb)},
        "counts": result.counts(),
        "summaries": [str(p) for p in result.summaries],
        "reports": [str(p) for p in result.reports],
        "messages": result.messages,
        "years": [
            {
                "year": y.year,
                "form": y.form,
                "workbook": str(y.workbook) if y.workbook else None,
                "report": str(y.report) if y.report else None,
                "summed": y.summed,
                "mapped": y.mapped,
                "unsummed": [{"unit": u, "reason": why} for u, why in y.unsummed],
                "errors": y.errors,
                "warnings": y.warnings,
                "roster": None
                if y.submissions is None
                else [
                    {
                        "name": s.name,
                        "where": s.where,
                        "status": s.mark,
                        "unit": s.unit,
                        "files": list(s.files),
                        "question": s.question,
                    }
                    for s in y.submissions
                ],
                "not_submitted": [s.name for s in y.not_submitted],
            }
            for y in result.years
        ],
        "attention": result.attention,
        "problems": result.problems,
        "hand_edited": result.hand_edited,
        "retired": result.retired,
        "files": [
            {
                "input": r.input,
                "input_readable": recovered_name(r.input),  # a name garbled by an unzip tool: what it should be
                "unit": r.unit,
                "year": r.year,
                "form": r.form,
                "status": r.status,
                "errors": r.errors,
                "warnings": r.warnings,
                "outputs": r.outputs,
                "reason": r.reason,
            }
            for r in result.records
        ],
    }


@app.command()
@shared_options
def batch(
    input_dir: Path = typer.Argument(
        Path("input"), metavar="输入文件夹", help="存放各单位统计表的文件夹（含子文件夹）"
    ),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出处理结果"),
    *,
    shared: dict[str, Any],
) -> None:
    """批量处理：审核文件夹中的全部统计表，生成每个单位的统计表和年度报告、汇总表和审核报告。

    汇总单位、PDF、措辞文件、上一年度文件夹、名单等设置记录在输出文件夹中，以后不带这些选项运行
    batch 或 watch 时沿用；给出选项即改变设置，用 --no-pdf、--no-summary-unit 等取消。

    示例：
    gkreport batch input -o output
    gkreport batch input -o output --summary-unit 某某区人民政府 --pdf
    gkreport batch input -o output --previous 2024年统计表
    gkreport batch input -o output --roster 名单.xlsx --summary-unit 某某区人民政府
    gkreport batch input -o output --no-pdf
    """
    opts, settled = _prepare(input_dir, shared)
    output = opts.output_dir
    from rich.markup import escape

    from ..batch import NOT_DONE, run_batch

    if as_json:
        try:
            result = run_batch(opts)
        except KeyboardInterrupt as exc:
            raise _stopped(exc) from None
        print_json(_result_json(result, opts) | {"settings": _settings_json(settled)})
        raise typer.Exit(result.exit_code)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    con = console()
    for note in settled.notes():
        con.print(escape(note))
    errors = 0
    with Progress(
        TextColumn("[bold]处理中"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[errs]}"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[current]}"),
        console=con,
        transient=True,
    ) as bar:
        task = bar.add_task("batch", total=None, errs="", current="")

        def progress(kind, rec, done, total):
            nonlocal errors
            if rec is not None and (rec.errors or rec.status in NOT_DONE):
                errors += 1
            bar.update(
                task,
                total=total,
                completed=done,
                current=escape(rec.input) if rec else "",
                errs=f"[red]有问题 {errors}[/]" if errors else "",
            )

        try:
            result = run_batch(opts, progress)
        except KeyboardInterrupt as exc:
            bar.stop()
            raise _stopped(exc) from None
    con.print(_summary_table(result))
    problems = _problems_table(result)
    if problems is not None:
        con.print(problems)
    for line in _roster_lines(result):
        con.print(line)
    for line in _hand_edit_lines(result.hand_edited):
        con.print(line)
    for line in _retired_lines(result.retired):
        con.print(line)
    for m in result.messages:
        con.print(f"[yellow]注意：[/]{escape(m)}")
    for m in result.problems:
        con.print(f"[bold red]未能写出：[/]{escape(m)}")
    con.print(f"输出文件夹：{escape(readable_name(output))}")
    for p in result.summaries:
        con.print(f"  汇总：{escape(readable_name(p))}")
    for p in result.reports:
        if p.suffix == ".xlsx":
            con.print(f"  审核报告：{escape(readable_name(p))}")
    raise typer.Exit(result.exit_code)


@app.command()
@shared_options
def watch(
    input_dir: Path = typer.Argument(Path("input"), metavar="输入文件夹", help="要监视的文件夹"),
    interval: float = typer.Option(2.0, "--interval", metavar="秒数", help="检查间隔（秒）", min=0.2),
    rounds: int = typer.Option(
        0, "--rounds", metavar="轮数", help="检查多少轮后退出（0 表示一直运行，按 Ctrl+C 停止）", min=0
    ),
    *,
    shared: dict[str, Any],
) -> None:
    """监视文件夹：有新的或修改过的统计表放进来（且已写完）时自动处理，并更新汇总。

    选项与 batch 相同；汇总单位、PDF 等设置沿用输出文件夹中记录的（见 batch）。

    示例：
    gkreport watch input -o output
    gkreport watch input -o output --interval 10 --pdf
    """
    from rich.markup import escape

    from ..batch import watch_folder

    opts, settled = _prepare(input_dir, shared)
    con = console()
    for note in settled.notes():
        con.print(escape(note))
    con.print(f"正在监视 {input_dir}（每 {interval:g} 秒检查一次），按 Ctrl+C 停止。", markup=False)

    def line(rec) -> None:
        stamp = time.strftime("%H:%M:%S")
        colour = _STYLES.get(rec.status, "bold red")
        detail = rec.reason or f"错误 {rec.errors}，提示 {rec.warnings}"
        what = f"{shown_name(rec.input)}（{rec.unit or '单位不明'}）：{detail}"
        con.print(f"{stamp} [{colour}]{rec.status}[/] {escape(what)}")

    told: set[str] = set()

    def hand_edits(result) -> None:
        new = [e for e in result.hand_edited if e["kept_as"] not in told]
        told.update(e["kept_as"] for e in new)
        for text in _hand_edit_lines(new) + _retired_lines(result.retired):
            con.print(f"{time.strftime('%H:%M:%S')} {text}")
        # the run's 注意 (a file open in Excel, names to fix …), each said once while the watch runs
        for m in result.messages:
            if m not in told:
                told.add(m)
                con.print(f"{time.strftime('%H:%M:%S')} [yellow]注意：[/]{escape(m)}")
        for m in result.problems:  # outputs not written: said each round it happens
            con.print(f"{time.strftime('%H:%M:%S')} [bold red]未能写出：[/]{escape(m)}")

    try:
        watch_folder(opts, interval=interval, on_record=line, rounds=rounds or None, on_result=hand_edits)
    except KeyboardInterrupt as exc:
        from ..batch import Terminated

        if getattr(exc, "mid_round", False):  # as batch: finished units kept, the summaries not yet made
            raise _stopped(exc) from None
        con.print("已停止监视。已处理的文件和汇总都已保存。")
        raise typer.Exit(128 + exc.signum if isinstance(exc, Terminated) else 0) from None
