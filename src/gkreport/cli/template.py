"""``gkreport template``: write a blank, fillable workbook of a form."""

from __future__ import annotations

from pathlib import Path

import typer

from .app import app
from .common import EXIT_OUTPUT, cannot_write, console


@app.command()
def template(
    form: str = typer.Option(
        "2021", "--form", "-f", metavar="表样", help="表样：2021（现行格式）、2019（试行格式）、2017（旧统计表）"
    ),
    output: Path = typer.Option(
        None, "--output", "-o", metavar="文件", help="输出文件，默认为“<表样>年版统计表模板.xlsx”"
    ),
    force: bool = typer.Option(False, "--force", help="输出文件已存在时覆盖"),
) -> None:
    """生成空白的统计表模板，发给各单位填写。

    示例：
    gkreport template --form 2021 -o 2025年统计表模板.xlsx
    gkreport template --form 2017
    """
    from ..spec import load_form
    from ..template import write_template

    spec = load_form(form)  # an unknown or broken form: one line and exit 2 (see cli.main)
    output = output or Path(f"{form}年版统计表模板.xlsx")
    if output.suffix.lower() != ".xlsx":
        console(stderr=True).print("[red]模板只能保存为 .xlsx 文件。[/]")
        raise typer.Exit(2)
    if output.exists() and not force:
        console(stderr=True).print(f"{output} 已存在，未覆盖。如需覆盖请加 --force。", style="red", markup=False)
        raise typer.Exit(2)
    try:
        write_template(spec, output)
    except OSError as exc:  # the place cannot take the file (a folder of that name, a read-only folder …)
        from rich.markup import escape

        console(stderr=True).print(f"[red]{escape(cannot_write('模板', output, exc))}[/]")
        raise typer.Exit(EXIT_OUTPUT) from None
    console().print(f"已生成 {spec.short_name} 空白模板：{output}", markup=False)


@app.command()
def samples(
    output: Path = typer.Option(Path("input"), "--output", "-o", metavar="文件夹", help="示例文件的存放文件夹"),
) -> None:
    """生成示例统计表（张店区科学技术局 2017 年和几个 2021 年版单位），用来试用审核和批量生成。

    示例：
    gkreport samples -o input
    gkreport batch input -o output
    """
    from ..samples import write_samples

    kept: list[Path] = []
    try:
        paths = write_samples(output, kept)
    except OSError as exc:  # a file where the folder should be, a read-only folder …: the file it stopped at
        from rich.markup import escape

        place = exc.filename2 if isinstance(exc.filename2, str) else output
        console(stderr=True).print(f"[red]{escape(cannot_write('示例', place, exc))}[/]")
        raise typer.Exit(EXIT_OUTPUT) from None
    con = console()
    for p in paths:
        con.print(f"已生成示例：{p}", markup=False)
    for p in kept:
        con.print(f"已存在，未覆盖：{p}", markup=False)
    if kept:
        con.print("（同名的文件可能是您的文件或改过的示例，所以保留原样；如需重新生成这些示例，请先删除或移走它们）")
