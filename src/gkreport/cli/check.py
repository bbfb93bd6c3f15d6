"""``gkreport check``: read and check workbooks, print the findings."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from ..enums import Status
from .app import app
from .common import EXIT_ERRORS, EXIT_OK, EXIT_OUTPUT, EXIT_UNUSABLE, cannot_write, console, findings_table, print_json


def expand_folders(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """Files as given, and for a folder every workbook in it (recursively, as ``batch`` finds
    them); also the folders in which no workbook was found."""
    from ..batch import discover

    files: list[Path] = []
    empty: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = discover(p)
            files += found
            if not found:
                empty.append(p)
        else:
            files.append(p)
    return files, empty


@app.command()
def check(
    paths: list[Path] = typer.Argument(
        ...,
        metavar="文件或文件夹",
        help="要审核的统计表（.xlsx/.xlsm/.xls/.ods），可以有多个；写文件夹时审核其中（含子文件夹）的全部统计表",
        show_default=False,
    ),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出读取的数值和审核结果"),
    previous: list[Path] = typer.Option(
        None,
        "--previous",
        metavar="文件或文件夹",
        help="上一年度的统计表（或其所在文件夹），用于跨年度核对（上年结转等）",
    ),
    xlsx: Path = typer.Option(
        None, "--xlsx", metavar="文件", help="把审核后的统计表写入此 .xlsx 文件（只审核一个文件时可用）"
    ),
    force: bool = typer.Option(False, "--force", help="--xlsx 的文件已存在时覆盖它"),
) -> None:
    """读取并审核统计表，列出所有问题及最可能出错的单元格。

    示例：
    gkreport check 某某局2025年统计表.xlsx
    gkreport check 收到的统计表/
    gkreport check 某某局2025年统计表.xlsx --previous 某某局2024年统计表.xlsx
    gkreport check 某某局2025年统计表.xlsx --xlsx 审核后.xlsx
    gkreport check 某某局2025年统计表.xlsx --xlsx 审核后.xlsx --force
    """
    from ..batch import garbled_names_note, has_lock_beside, open_elsewhere_note
    from ..formatting import recovered_name
    from ..pipeline import check_files
    from ..reader import unit_values_json

    files, empty = expand_folders(list(paths))
    if empty:
        from rich.markup import escape

        for folder in empty:
            console(stderr=True).print(f"[red]文件夹 {escape(str(folder))} 中没有统计表（.xlsx/.xlsm/.xls/.ods）。[/]")
        raise typer.Exit(EXIT_UNUSABLE)
    gone = [p for p in previous or [] if not p.exists()]  # a mistyped name: the cross-year check cannot be made
    if gone:
        from rich.markup import escape

        for p in gone:
            console(stderr=True).print(f"[red]找不到上一年度的文件或文件夹 {escape(str(p))}（--previous）。[/]")
        raise typer.Exit(EXIT_UNUSABLE)
    previous, empty = expand_folders(list(previous or []))
    if empty:
        from rich.markup import escape

        for folder in empty:
            console(stderr=True).print(
                f"[red]文件夹 {escape(str(folder))} 中没有统计表（.xlsx/.xlsm/.xls/.ods）（--previous）。[/]"
            )
        raise typer.Exit(EXIT_UNUSABLE)
    if xlsx is not None and len(files) != 1:
        console(stderr=True).print("[red]--xlsx 只能和一个文件一起使用。[/]")
        raise typer.Exit(EXIT_UNUSABLE)
    if xlsx is not None and xlsx.resolve() in {p.resolve() for p in (*files, *previous)}:  # last year's too
        console(stderr=True).print("[red]输出文件不能覆盖输入文件，请换一个文件名。[/]")
        raise typer.Exit(EXIT_UNUSABLE)
    if xlsx is not None and not force and os.path.lexists(xlsx) and not xlsx.is_dir():
        # it may be last time's 审核后 file with notes typed into it since: never replaced unasked
        from rich.markup import escape

        console(stderr=True).print(
            f"[red]{escape(str(xlsx))} 已存在，未覆盖（其中可能有您改过或写过的内容）。如需覆盖请加 --force，"
            "或换一个文件名。[/]"
        )
        raise typer.Exit(EXIT_UNUSABLE)
    result = check_files(files, previous)
    unwritten: str | None = None
    if result.previous_failures:  # said on stderr: the --json output stays the list of the files checked
        from rich.markup import escape

        for f in result.previous_failures:
            console(stderr=True).print(
                f"[yellow]注意：[/]上一年度的文件 {escape(str(f.file))} 无法读取，跨年度核对没有包括它（{escape(f.reason)}）"
            )
    if result.without_previous:
        from rich.markup import escape

        for u in result.without_previous:
            who = f"“{u.unit}”{u.year - 1}年度" if u.unit and u.year else f"文件 {u.file.name} 的单位"
            console(stderr=True).print(
                f"[yellow]注意：[/]--previous 给出的文件中没有{escape(who)}的统计表（按单位名称和年度对应），"
                f"{escape(u.file.name)} 没有做跨年度核对（上年结转、现行有效件数等）"
            )
    if xlsx is not None and result.units:
        from ..xlsx_out import write_unit_xlsx

        try:
            write_unit_xlsx(result.units[0], xlsx)
        except OSError as exc:  # the place cannot take the file: said after the findings, exit 3
            unwritten = cannot_write("审核后的统计表", xlsx, exc)
    if as_json:
        out = [
            {
                "file": str(u.file),
                "file_readable": recovered_name(u.file),  # a name garbled by an unzip tool: what it should be
                "form": u.form.id,
                "unit": u.unit,
                "year": u.year,
                "status": u.status,
                **({"error": u.unusable} if u.unusable is not None else {}),
                "values": unit_values_json(u),
                "findings": [f.to_dict() for f in u.findings],
            }
            for u in result.units
        ]
        out += [
            {
                "file": str(f.file),
                "file_readable": recovered_name(f.file),
                "form": None,
                "unit": None,
                "year": None,
                "status": Status.UNREADABLE,
                "error": f.reason,
                "values": [],
                "findings": [],
            }
            for f in result.failures
        ]
        print_json(out)
    else:
        from rich.markup import escape

        from ..formatting import shown_name

        con = console()
        for u in result.units:
            head = f"{shown_name(u.file.name)}：{u.unit or '（单位不明）'} {f'{u.year}年' if u.year else '（年度不明）'}，{u.form.short_name}"
            if u.unusable is not None:  # its numbers were read: the findings help to put it right
                con.print(f"[bold red]✗ {Status.UNREADABLE}[/] {escape(u.unusable)}")
            if not u.findings:
                con.print(f"[green]✓[/] {escape(head)}：未发现问题。")
                continue
            counts = f"错误 {len(u.errors)} 处，提示 {len(u.open_warnings)} 处"
            if u.explained:  # 提示 answered by a standing 审核说明 are not open 提示
                counts += f"，已说明 {len(u.explained)} 处"
            con.print(findings_table(u, title=f"{head}：{counts}"))
        for f in result.failures:
            con.print(f"[bold red]✗ {Status.UNREADABLE}[/] {escape(f.reason)}")
        if xlsx is not None and result.units and unwritten is None:
            con.print(f"已写入审核后的统计表：{xlsx}", markup=False)
    # names garbled by an unzip tool: the name each should have, and a rename suggested (on stderr with
    # --json, which stays the list of the files checked)
    for note in garbled_names_note(
        [(p.name, p) for p in [*(u.file for u in result.units), *(f.file for f in result.failures)]]
    ):
        from rich.markup import escape

        console(stderr=as_json).print(f"[yellow]注意：[/]{escape(note)}")
    # a workbook open in Excel as it is checked: what was read is the file as last saved
    held = [p for p in files if has_lock_beside(p)]
    if held:
        from rich.markup import escape

        from ..formatting import shown_name

        note = open_elsewhere_note([shown_name(p.name) for p in held])
        console(stderr=as_json).print(f"[yellow]注意：[/]{escape(note)}")
    if unwritten is not None:
        from rich.markup import escape

        console(stderr=True).print(f"[bold red]{escape(unwritten)}[/]")
        raise typer.Exit(EXIT_OUTPUT)
    if result.failures or any(u.unusable is not None for u in result.units):
        raise typer.Exit(EXIT_UNUSABLE)
    raise typer.Exit(EXIT_ERRORS if any(u.errors for u in result.units) else EXIT_OK)
