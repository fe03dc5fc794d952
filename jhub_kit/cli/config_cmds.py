"""``jhub-kit config check``."""

from __future__ import annotations

import sys

import click

from .common import config_option, load_config


@click.group("config")
def config_group() -> None:
    """Check hub configuration."""


@config_group.command("check")
@config_option()
def check_cmd(config_file: str) -> None:
    """Load CONFIG_FILE as the hub would, report problems, print the kit's settings.

    Exits 1 when there are errors (unknown options, conflicts, bad quotas).
    """
    from ..config_check import check_config

    try:
        cfg = load_config(config_file)
    except Exception as e:
        click.echo(f"error: {config_file} does not load: {e}", err=True)
        sys.exit(1)
    report = check_config(cfg)
    for key, value in report.settings.items():
        click.echo(f"{key + ':':<18} {value}")
    for w in report.warnings:
        click.echo(f"warning: {w}", err=True)
    for err in report.errors:
        click.echo(f"error: {err}", err=True)
    if report.errors:
        sys.exit(1)
    click.echo("ok")
