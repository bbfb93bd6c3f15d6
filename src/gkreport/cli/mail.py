"""``gkreport mail``: send each unit's reports by email, exactly once."""

from __future__ import annotations

from pathlib import Path

import typer

from .app import app


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{max(1, round(n / 1024))} KB"


@app.command("mail")
def mail_command(
    output_dir: Path = typer.Argument(..., help="输出文件夹（含 2025/ 等年度文件夹）", show_default=False),
    to: str | None = typer.Option(None, "--to", help="所有单位的文件都发给这个邮箱（向上级报送）"),
    roster: Path | None = typer.Option(
        None, "--roster", help="把审核结果发回各单位：名单 .xlsx 或 .csv（单位名称 | 邮箱 | 抄送）"
    ),
    attach: str | None = typer.Option(None, "--attach", help="附件类型，逗号分隔：docx,xlsx,pdf（默认 docx）"),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="只把邮件写成 .eml 文件放到 输出文件夹/outbox/，不发送（可以不填发件人）"
    ),
    year: int | None = typer.Option(None, "--year", help="年度；不写时用最新的年度"),
    allow_errors: bool = typer.Option(
        False, "--allow-errors", help="用 --to 报送时，报告仍有错误的单位也报送（--roster 发审核结果时照常发送）"
    ),
    resend_changed: bool = typer.Option(False, "--resend-changed", help="发送后又改过的文件重新发送"),
    resend_uncertain: bool = typer.Option(
        False, "--resend-uncertain", help="上次发送结果不确定（服务器可能已收到）的邮件重新发送"
    ),
    smtp_host: str | None = typer.Option(None, "--smtp-host", help="SMTP 服务器地址"),
    smtp_port: int | None = typer.Option(None, "--smtp-port", help="SMTP 端口（默认 ssl 465、starttls 587、none 25）"),
    security: str | None = typer.Option(None, "--security", help="加密方式：ssl、starttls（默认）或 none"),
    smtp_user: str | None = typer.Option(
        None, "--smtp-user", help="登录用户名；密码用环境变量 GKREPORT_SMTP_PASSWORD 或运行时输入"
    ),
    from_addr: str | None = typer.Option(None, "--from", help='发件人，如 "某某区政务公开办 <gk@example.gov.cn>"'),
    sender_unit: str | None = typer.Option(None, "--sender-unit", help="发件单位名称（正文落款）"),
    cafile: Path | None = typer.Option(None, "--cafile", help="信任这个 CA 证书文件（服务器使用内部证书时）"),
    config: Path | None = typer.Option(None, "--config", help="配置文件（默认：当前文件夹的 gkreport.toml）"),
    interval: float | None = typer.Option(None, "--interval", help="两封邮件之间等待的秒数（默认 2）"),
    retries: int | None = typer.Option(None, "--retries", help="临时错误（4xx、断线、超时）的重试次数（默认 3）"),
    retry_wait: float | None = typer.Option(
        None, "--retry-wait", help="第一次重试前等待的秒数，之后每次加倍（默认 5）"
    ),
    timeout: float | None = typer.Option(None, "--timeout", help="每条命令等待服务器完整回复的最长秒数（默认 60）"),
) -> None:
    """把各单位的报告通过邮件发送（每封只发一次，可断点续发）。

    --to：向上级报送，每个单位一封。--roster：把审核结果发回各单位，正文列出该单位的错误和提示。

    示例：
    gkreport mail output --roster 名单.xlsx --dry-run
    gkreport mail output --roster 名单.xlsx --attach docx,xlsx
    gkreport mail output --to shangji@example.gov.cn
    """
    import sys

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from .. import mail as m

    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False)

    def fail(exc: m.MailError) -> None:
        err.print(f"[bold red]错误：[/]{escape(exc.message)}")
        raise typer.Exit(exc.exit_code)

    overrides = {
        "smtp_host": smtp_host,
        "smtp_port": smtp_port,
        "security": security,
        "smtp_user": smtp_user,
        "from": from_addr,
        "sender_unit": sender_unit,
        "cafile": str(cafile) if cafile else None,
        "attach": attach,
        "interval": interval,
        "retries": retries,
        "retry_wait": retry_wait,
        "timeout": timeout,
    }
    try:
        settings = m.load_settings(config, overrides=overrides)
        plan = m.plan_messages(
            output_dir,
            settings,
            to=to,
            roster=roster,
            year=year,
            allow_errors=allow_errors,
            resend_changed=resend_changed,
            resend_uncertain=resend_uncertain,
            dry_run=dry_run,
        )
    except m.MailError as exc:
        fail(exc)
        return

    if plan.year_note:
        out.print(f"[yellow]{escape(plan.year_note)}[/]")
    if plan.unchecked:
        out.print(f"[yellow]{escape(plan.unchecked)}[/]")
    if plan.journal_damaged:
        out.print(
            f"[yellow]发送记录中有 {plan.journal_damaged} 行不完整（上次运行被中断或磁盘已满时未写完），已忽略。[/]"
        )

    outbox = None
    if dry_run:  # written before the plan is shown, so that the plan shows what was written
        try:
            outbox = m.write_outbox(plan, settings)
        except m.MailError as exc:
            fail(exc)
            return
        plan.problems.extend(outbox.failed)

    if plan.problems:
        t = Table(title=f"发送前发现的问题（{len(plan.problems)} 项）", title_style="bold red", show_lines=False)
        t.add_column("单位", overflow="fold")
        t.add_column("问题", overflow="fold")
        for p in plan.problems:
            t.add_row(escape(p.unit), escape(p.message))
        out.print(t)

    what = m.DIRECTION_ZH[plan.direction]
    t = Table(
        title=f"{plan.year} 年邮件发送计划（{what}）" + ("（试运行，不发送）" if dry_run else ""), title_style="bold"
    )
    t.add_column("单位", overflow="fold")
    t.add_column("收件人", overflow="fold")
    t.add_column("抄送", overflow="fold")
    t.add_column("附件", overflow="fold")
    t.add_column("状态", overflow="fold")
    colours = {m.SEND: "green", m.DONE: "dim", m.CHANGED: "yellow", m.UNCERTAIN: "yellow", m.BLOCKED: "red"}
    for pm in plan.messages:
        status = "将发送" if (dry_run and pm.status == m.SEND) else pm.status
        if pm.status == m.BLOCKED:
            status += "（原因见上表）"
        elif pm.note:
            status += f"：{pm.note}"
        t.add_row(
            escape(pm.shown_unit),
            escape("\n".join(str(a) for a in pm.to)) or "—",
            escape("\n".join(str(a) for a in pm.cc)) or "—",
            "\n".join(f"{f.kind} {_size(f.size)}" for f in pm.files) or "—",
            f"[{colours[m.PlanStatus(pm.status)]}]{escape(status)}[/]",
        )
    out.print(t)

    if outbox is not None:
        out.print(
            f"试运行：{len(outbox.written)} 封邮件已写入 {escape(str(outbox.folder))}，没有发送任何邮件。"
            + (f"另有 {len(outbox.failed)} 封无法生成，见上表。" if outbox.failed else "")
        )
        if plan.needs:
            out.print(
                "[yellow]正式发送还需要："
                + escape("；".join(plan.needs))
                + escape(
                    "。试运行的邮件中以【发件人】【发件单位】占位；这些设置也可以写在 gkreport.toml 的 [mail] 中。"
                )
                + "[/]"
            )
        raise typer.Exit(0 if plan.complete and not outbox.failed else 1)

    todo = plan.to_send
    if not todo:
        out.print("没有需要发送的邮件。" if plan.complete else "没有可以发送的邮件，请先处理上面列出的问题。")
        raise typer.Exit(0 if plan.complete else 1)

    try:
        settings.check_for_sending()
        prompt = (lambda text: typer.prompt(text, hide_input=True)) if sys.stdin.isatty() else None
        password = m.smtp_password(settings, prompt=prompt)
    except m.MailError as exc:
        fail(exc)
        return

    out.print(
        f"连接 {escape(settings.smtp_host or '')}:{settings.port}（{settings.security}），"
        f"发送 {len(todo)} 封邮件，记录写在 {escape(str(plan.journal_path))}"
    )

    def progress(i: int, n: int, pm: m.PlannedMessage, o: m.Outcome) -> None:
        colour = "green" if o.result == m.SENT_OK else "red"
        detail = "；".join(x for x in (o.reply or o.detail, o.note) if x)
        out.print(f"[{i}/{n}] {escape(pm.shown_unit)}：[{colour}]{o.result}[/] {escape(detail)}")

    try:
        result = m.send_plan(plan, settings, password, progress=progress)
    except m.MailError as exc:
        fail(exc)
        return
    except OSError as exc:  # anything the journal's own messages do not cover
        fail(m.MailError(f"发送时无法读写 {plan.year_dir}（{m.os_reason(exc)}）。", exit_code=1))
        return

    # The counts say what this run did; what a run started meanwhile did is said apart.
    mine = [o for o in result.outcomes if not o.other_run]
    others = [o for o in result.outcomes if o.other_run]
    sent = sum(1 for o in mine if o.result == m.SENT_OK)
    partly = sum(1 for o in mine if o.result == m.SENT_OK and o.refused)
    uncertain = sum(1 for o in mine if o.result == m.Delivery.UNCERTAIN)
    t = Table(title="发送结果", title_style="bold")
    t.add_column("单位", overflow="fold")
    t.add_column("结果")
    t.add_column("说明", overflow="fold")
    for o in result.outcomes:
        colour = "green" if o.result == m.SENT_OK else ("dim" if o.result == m.NOT_TRIED else "red")
        t.add_row(
            escape(o.unit), f"[{colour}]{o.result}[/]", escape("；".join(x for x in (o.detail or o.reply, o.note) if x))
        )
    out.print(t)
    if result.stopped:
        err.print(f"[bold red]已停止发送：[/]{escape(result.stopped)}")
    held = len(plan.messages) - len(todo) - sum(1 for pm in plan.messages if pm.status == m.DONE)
    meanwhile = ""
    if n := sum(1 for o in others if o.result == m.SENT_OK):
        meanwhile += f"另有 {n} 封已由同时运行的另一次发送发出，这次没有重复发送（见上表）。"
    if n := sum(1 for o in others if o.result == m.Delivery.UNCERTAIN):
        meanwhile += (
            f"另有 {n} 封在同时运行的另一次发送中结果不确定（服务器可能已收到），这次没有发送；"
            "请先向对方确认，确需重发时加 --resend-uncertain（见上表）。"
        )
    if n := sum(1 for o in others if o.result not in (m.SENT_OK, m.Delivery.UNCERTAIN)):
        meanwhile += f"另有 {n} 封的收件人已由同时运行的另一次发送收到另一版本的文件，这次没有发送（见上表）。"
    out.print(
        f"本次发送 {sent} 封"
        + (f"（其中 {partly} 封有收件人被拒收，见上表）" if partly else "")
        + (
            f"，结果不确定 {uncertain} 封（服务器可能已收到，重新运行不会自动重发；"
            "请先向对方确认，确需重发时加 --resend-uncertain）"
            if uncertain
            else ""
        )
        + f"，未发出 {len(mine) - sent - uncertain} 封"
        + (f"，另有 {held} 个单位因上述问题未发送" if held else "")
        + "。"
        + meanwhile
        + "重新运行只会发送尚未发出的邮件。"
    )
    if result.signal:
        raise typer.Exit(130 if result.signal == "SIGINT" else 143)
    raise typer.Exit(0 if (plan.complete and result.all_sent) else 1)
