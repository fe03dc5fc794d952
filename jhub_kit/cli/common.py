"""Options and helpers shared by the ``jhub-kit`` commands."""

from __future__ import annotations

import os
from typing import Any

import click

from ..hubapi import HubAPI, HubAPIError, read_token

CONFIG_HELP = "The hub's config file (its quotas, homes, userlist)."


def config_option(mode: str = "default") -> Any:
    """``-f/--config-file``: ``"required"``, ``"default"`` (./jupyterhub_config.py) or
    ``"optional"`` (no default)."""
    modes: dict[str, dict[str, Any]] = {
        "required": {"required": True},
        "default": {"default": "jupyterhub_config.py", "show_default": True},
        "optional": {},
    }
    kwargs = modes[mode]
    return click.option(
        "-f",
        "--config-file",
        type=click.Path(exists=True, dir_okay=False),
        help=CONFIG_HELP,
        **kwargs,
    )


def load_config(config_file: str) -> Any:
    """Load a jupyterhub_config.py as the hub would (it is Python: it runs)."""
    from traitlets.config.loader import PyFileConfigLoader

    path = os.path.abspath(config_file)
    return PyFileConfigLoader(os.path.basename(path), os.path.dirname(path)).load_config()


def hub_options(f: Any) -> Any:
    """``--hub-url`` and ``--token-file`` (the token itself never goes on the command line)."""
    f = click.option(
        "--token-file",
        type=click.Path(dir_okay=False),
        help="A file holding an API token (default: $JUPYTERHUB_API_TOKEN).",
    )(f)
    return click.option(
        "--hub-url",
        envvar="JUPYTERHUB_URL",
        default="http://127.0.0.1:8000",
        show_default=True,
        help="The hub's public URL. [env: JUPYTERHUB_URL]",
    )(f)


def connect(hub_url: str, token_file: str | None, *scopes: str) -> HubAPI:
    """A client for the hub, after checking the token has ``scopes`` (before any change)."""
    try:
        api = HubAPI(hub_url, read_token(token_file))
        api.require(*scopes)
    except HubAPIError as e:
        raise click.ClickException(str(e)) from None
    return api
