"""``jhub-kit config check``."""

from __future__ import annotations

import os
import sys

import click


@click.group("config")
def config_group() -> None:
    """Check hub configuration."""


@config_group.command("check")
@click.option(
    "-f",
    "--config-file",
    default="jupyterhub_config.py",
    show_default=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The hub's config file.",
)
def check_cmd(config_file: str) -> None:
    """Load CONFIG_FILE as the hub would, report problems, print the kit's settings.

    Exits 1 when there are errors (unknown options, conflicts, bad quotas).
    """
    from traitlets.config.loader import PyFileConfigLoader

    from ..config_check import check_config

    path = os.path.abspath(config_file)
    try:
        cfg = PyFileConfigLoader(os.path.basename(path), os.path.dirname(path)).load_config()
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
