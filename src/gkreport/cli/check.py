"""``gkreport check``: read and check workbooks, print the findings."""

from __future__ import annotations

from pathlib import Path

import typer

from ..enums import Status
from .app import app
from .common import EXIT_ERRORS, EXIT_OK, EXIT_UNUSABLE, console, findings_table, print_json


@app.command()
def check(
    files: list[Path] = typer.Argument(
        ..., help="要审核的统计表文件（.xlsx/.xlsm/.xls/.ods），可以有多个", show_default=False
    ),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出读取的数值和审核结果"),
    previous: list[Path] = typer.Option(None, "--previous", help="上一年度的统计表，用于跨年度核对（上年结转等）"),
    xlsx: Path = typer.Option(None, "--xlsx", help="把审核后的统计表写入此 .xlsx 文件（只审核一个文件时可用）"),
) -> None:
    """读取并审核统计表，列出所有问题及最可能出错的单元格。

    示例：gkreport check 某某局2025年报表.xlsx --previous 某某局2024年报表.xlsx
    """
    from ..pipeline import check_files
    from ..reader import unit_values_json

    if xlsx is not None and len(files) != 1:
        console(stderr=True).print("[red]--xlsx 只能和一个文件一起使用。[/]")
        raise typer.Exit(EXIT_UNUSABLE)
    result = check_files(list(files), list(previous or []))
    if xlsx is not None and result.units:
        from ..xlsx_out import write_unit_xlsx

        if xlsx.resolve() == files[0].resolve():
            console(stderr=True).print("[red]输出文件不能覆盖输入文件，请换一个文件名。[/]")
            raise typer.Exit(EXIT_UNUSABLE)
        write_unit_xlsx(result.units[0], xlsx)
    if as_json:
        out = [
            {
                "file": str(u.file),
                "form": u.form.id,
                "unit": u.unit,
                "year": u.year,
                "status": u.status,
                "values": unit_values_json(u),
                "findings": [f.to_dict() for f in u.findings],
            }
            for u in result.units
        ]
        out += [
            {
                "file": str(f.file),
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
        con = console()
        for u in result.units:
            head = f"{u.file.name}：{u.unit or '（单位不明）'} {u.year or ''}年，{u.form.short_name}"
            if not u.findings:
                con.print(f"[green]✓[/] {head}：未发现问题。")
                continue
            con.print(findings_table(u, title=f"{head}：错误 {len(u.errors)} 处，提示 {len(u.warnings)} 处"))
        for f in result.failures:
            con.print(f"[bold red]✗ 无法读取[/] {f.reason}")
        if xlsx is not None and result.units:
            con.print(f"已写入审核后的统计表：{xlsx}")
    if result.failures:
        raise typer.Exit(EXIT_UNUSABLE)
    raise typer.Exit(EXIT_ERRORS if any(u.errors for u in result.units) else EXIT_OK)
