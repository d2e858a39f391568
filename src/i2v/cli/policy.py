"""`i2v policy`: the content policy's audit, for the operator."""

from __future__ import annotations

import json
from typing import Annotated

import typer

policy_app = typer.Typer(help="The content policy.", no_args_is_help=True)


@policy_app.command("audit")
def audit(
    limit: Annotated[int, typer.Option(help="Entries to show, newest first (1-200).")] = 50,
    refused: Annotated[bool, typer.Option("--refused", help="Only refusals.")] = False,
    job: Annotated[str | None, typer.Option(metavar="JOB_ID", help="Only this job's.")] = None,
    cursor: Annotated[
        str | None, typer.Option(metavar="ID", help="Continue after this entry.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List the content policy's decisions, newest first.

    Each with its job, rating, rules hit (never the words), classifier scores, decision and
    policy version."""
    from i2v.cli.admin import _app
    from i2v.services.policy import list_audit

    with _app() as app:
        page = list_audit(
            app.db,
            limit=limit,
            cursor=cursor,
            decision="refuse" if refused else None,
            job_id=job,
        )
    for entry in page.entries:
        scores = [f"{s.nsfw:.3f}" for s in entry.scores]
        if as_json:
            row = entry.public_json()
            typer.echo(json.dumps(row))
            continue
        typer.echo(
            f"{entry.created_at:%Y-%m-%d %H:%M:%S}  {entry.id}  {entry.job_id or '-':<24} "
            f"{entry.stage:<10} {entry.decision:<6} {entry.rating:<5} (asked {entry.requested})"
            f"  {entry.category or ''}  rules={','.join(entry.rules) or '-'}"
            f"  nsfw={','.join(scores) or '-'}  v{entry.policy_version}"
        )
    if page.next_cursor is not None:
        typer.echo(f"more: --cursor {page.next_cursor}", err=True)
