"""``pipeline review`` and ``pipeline export-corrections``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from pipeline.review.db import NoResults

TOKEN_ENV = "PIPELINE_REVIEW_TOKEN"


@click.command("review")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="address to bind; beyond loopback needs --token")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--token", envvar=TOKEN_ENV, default=None, help=f"access token (or ${TOKEN_ENV}); at least 16 characters")
@click.option("--lease-minutes", type=click.FloatRange(min=0.1), default=5.0, show_default=True,
              help="how long a field stays with a reviewer who is not on the page any more")  # fmt: skip
@click.option("--scans", "scans", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="where the scans are now, if moved since the run (for the whole-page view)")  # fmt: skip
@click.option("--export-delay", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="seconds of quiet before results.jsonl/csv are rewritten with the decisions")  # fmt: skip
def review_command(out_dir: Path, host: str, port: int, token: str | None, lease_minutes: float,
                   scans: tuple[Path, ...], export_delay: float) -> None:  # fmt: skip
    """Serve the review page for the rejected fields in OUT (results.db); runs until stopped."""
    import uvicorn

    from pipeline.review.app import ReviewSettings, create_app
    from pipeline.review.security import TokenRequired

    settings = ReviewSettings(out_dir, host, token, lease_minutes * 60, export_delay, list(scans))
    try:
        app = create_app(settings)
    except (TokenRequired, NoResults) as exc:
        raise click.ClickException(str(exc)) from None
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"review page for {out_dir}: http://{shown}:{port}/  (Ctrl-C stops)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)


@click.command("export-corrections")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--to", "to_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="folder for the digit images and labels.csv (made if missing)")  # fmt: skip
@click.option("--scans", "scans", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="where the scans are now, if moved since the run")  # fmt: skip
def export_corrections_command(out_dir: Path, to_dir: Path, scans: tuple[Path, ...]) -> None:
    """Write the digits of reviewed fields as labelled images (for `pipeline train --finetune`)."""
    from pipeline.review.export import export_corrections

    try:
        summary = export_corrections(out_dir, to_dir, list(scans))
    except NoResults as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(summary.as_dict(), indent=2))
